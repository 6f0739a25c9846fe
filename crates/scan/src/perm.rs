//! A keyed, bijective, random-looking permutation of `0..n`.
//!
//! The scan order must be random (so no single host or port gets a burst),
//! resumable (index `i` always maps to the same probe for a given seed) and
//! splittable (shards take disjoint blocks of indices), all without storing
//! anything proportional to `n`.
//!
//! The construction is a balanced Feistel network over the smallest even
//! number of bits `b` with `2^b >= n` (at least 2), with a keyed
//! multiply–xorshift mixer as the round function, and *cycle walking*: the network permutes `0..2^b`, and
//! any output `>= n` is fed through again until it lands below `n`. Since
//! `2^b < 4n`, a lookup costs fewer than four encryptions on average.
//! The inverse runs the rounds backwards and walks the cycle the other way.

use std::ops::Range;

/// Feistel rounds. The order only has to look random and differ per seed;
/// nothing secret rests on it (replies are authenticated by the SipHash
/// cookies, not by the order), so the round function is a fast keyed mixer
/// rather than a PRF: the permutation is on the send path of every probe,
/// where a SipHash per round cost a tenth of the sender's time.
const ROUNDS: usize = 4;

/// A bijection of `0..n` onto itself, chosen by `seed`.
#[derive(Clone, Debug)]
pub struct Permutation {
    n: u64,
    /// Bits per Feistel half.
    half: u32,
    /// `(1 << half) - 1`.
    mask: u64,
    /// One key per round.
    rounds: [u64; ROUNDS],
}

impl Permutation {
    /// The permutation of `0..n` selected by `seed`.
    pub fn new(n: u64, seed: u64) -> Permutation {
        let bits = domain_bits(n);
        let half = bits / 2;
        let mask = if half >= 64 {
            u64::MAX
        } else {
            (1u64 << half) - 1
        };
        let rounds = std::array::from_fn(|r| {
            let tweak = (r as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f);
            mix(mix(seed ^ tweak) ^ seed.rotate_left(32))
        });
        Permutation {
            n,
            half,
            mask,
            rounds,
        }
    }

    /// The number of elements permuted.
    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The element at position `i`.
    ///
    /// For `i < n` the result is `< n`, and `get` is a bijection of `0..n`.
    /// Positions outside `0..n` map to themselves, so the call never loops
    /// or panics whatever it is given.
    #[inline]
    pub fn get(&self, i: u64) -> u64 {
        if i >= self.n {
            return i;
        }
        let mut x = self.encrypt(i);
        while x >= self.n {
            x = self.encrypt(x);
        }
        x
    }

    /// The position of element `v`: `index_of(get(i)) == i`.
    ///
    /// Like [`get`](Self::get), values outside `0..n` map to themselves.
    #[inline]
    pub fn index_of(&self, v: u64) -> u64 {
        if v >= self.n {
            return v;
        }
        let mut x = self.decrypt(v);
        while x >= self.n {
            x = self.decrypt(x);
        }
        x
    }

    #[inline]
    fn round(&self, r: usize, x: u64) -> u64 {
        // A half is at most 32 bits: key it, then the SplitMix64 finaliser
        // (every input bit reaches every output bit).
        mix(x ^ self.rounds[r]) & self.mask
    }

    /// One pass of the network over `0..2^bits`.
    #[inline]
    fn encrypt(&self, x: u64) -> u64 {
        let mut left = x >> self.half;
        let mut right = x & self.mask;
        for r in 0..ROUNDS {
            let next = left ^ self.round(r, right);
            left = right;
            right = next;
        }
        (left << self.half) | right
    }

    #[inline]
    fn decrypt(&self, x: u64) -> u64 {
        let mut left = x >> self.half;
        let mut right = x & self.mask;
        for r in (0..ROUNDS).rev() {
            let prev = right ^ self.round(r, left);
            right = left;
            left = prev;
        }
        (left << self.half) | right
    }
}

/// The smallest even bit count `b >= 2` with `2^b >= n`.
fn domain_bits(n: u64) -> u32 {
    let needed = if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    };
    let even = needed + (needed & 1);
    even.max(2)
}

/// SplitMix64 finaliser: spreads one seed into independent-looking keys.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The block of permutation indices that shard `shard` of `count` covers.
///
/// The blocks are contiguous, disjoint, differ in size by at most one and
/// together cover `0..n`. `count == 0` or `shard >= count` gives an empty
/// range.
pub fn shard_range(n: u64, shard: u64, count: u64) -> Range<u64> {
    if count == 0 || shard >= count {
        return n..n;
    }
    let at = |k: u64| (u128::from(n) * u128::from(k) / u128::from(count)) as u64;
    at(shard)..at(shard + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn assert_bijection(n: u64, seed: u64) {
        let p = Permutation::new(n, seed);
        assert_eq!(p.len(), n);
        assert_eq!(p.is_empty(), n == 0);
        let mut seen = vec![false; n as usize];
        for i in 0..n {
            let v = p.get(i);
            assert!(v < n, "n={n} get({i})={v}");
            assert!(!seen[v as usize], "n={n}: {v} produced twice");
            seen[v as usize] = true;
            assert_eq!(p.index_of(v), i, "n={n} inverse of {v}");
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn exhaustive_bijection() {
        for n in [0u64, 1, 2, 3, 5, 100, 65535, 65536, 100003] {
            assert_bijection(n, 0);
            assert_bijection(n, 0xdead_beef_cafe_f00d);
        }
    }

    #[test]
    fn domain_bits_even_and_minimal() {
        assert_eq!(domain_bits(0), 2);
        assert_eq!(domain_bits(1), 2);
        assert_eq!(domain_bits(4), 2);
        assert_eq!(domain_bits(5), 4);
        assert_eq!(domain_bits(16), 4);
        assert_eq!(domain_bits(17), 6);
        assert_eq!(domain_bits(65536), 16);
        assert_eq!(domain_bits(65537), 18);
        assert_eq!(domain_bits(1 << 62), 62);
        assert_eq!(domain_bits((1 << 62) + 1), 64);
        assert_eq!(domain_bits(1 << 63), 64);
        assert_eq!(domain_bits(u64::MAX), 64);
    }

    #[test]
    fn out_of_range_is_identity() {
        let p = Permutation::new(10, 7);
        assert_eq!(p.get(10), 10);
        assert_eq!(p.get(u64::MAX), u64::MAX);
        assert_eq!(p.index_of(12), 12);
        let empty = Permutation::new(0, 7);
        assert_eq!(empty.get(0), 0);
        assert_eq!(empty.index_of(0), 0);
    }

    #[test]
    fn seeds_change_the_order() {
        let a: Vec<u64> = (0..1000)
            .map(|i| Permutation::new(1000, 1).get(i))
            .collect();
        let b: Vec<u64> = (0..1000)
            .map(|i| Permutation::new(1000, 2).get(i))
            .collect();
        let same: Vec<u64> = (0..1000)
            .map(|i| Permutation::new(1000, 1).get(i))
            .collect();
        assert_eq!(a, same);
        assert_ne!(a, b);
        let agree = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        // Two independent random orders agree in about one place.
        assert!(agree < 10, "{agree} positions agree");
        // And the order is not the identity.
        let fixed = a
            .iter()
            .enumerate()
            .filter(|&(i, &v)| i as u64 == v)
            .count();
        assert!(fixed < 10, "{fixed} fixed points");
    }

    #[test]
    fn small_domains_mix() {
        // Even n = 2 must not always be the identity across seeds.
        let swapped = (0..64)
            .filter(|&s| Permutation::new(2, s).get(0) == 1)
            .count();
        assert!(swapped > 0 && swapped < 64, "{swapped}");
    }

    #[test]
    fn huge_domain_works() {
        let n = 1u64 << 63;
        let p = Permutation::new(n, 99);
        for i in [0, 1, 2, n / 2, n - 2, n - 1] {
            let v = p.get(i);
            assert!(v < n);
            assert_eq!(p.index_of(v), i);
        }
        let p = Permutation::new(u64::MAX, 3);
        let v = p.get(u64::MAX - 1);
        assert!(v < u64::MAX);
        assert_eq!(p.index_of(v), u64::MAX - 1);
    }

    proptest! {
        #[test]
        fn inverse_for_big_n(n in 1u64..(1u64 << 63), seed: u64, frac in 0.0f64..1.0) {
            let i = ((n as f64) * frac) as u64 % n;
            let p = Permutation::new(n, seed);
            let v = p.get(i);
            prop_assert!(v < n);
            prop_assert_eq!(p.index_of(v), i);
            prop_assert_eq!(p.get(p.index_of(i)), i);
        }
    }

    #[test]
    fn shards_disjoint_and_covering() {
        for n in [0u64, 1, 7, 100, 1 << 40, u64::MAX] {
            for count in 1u64..=9 {
                let mut next = 0;
                for s in 0..count {
                    let r = shard_range(n, s, count);
                    assert_eq!(r.start, next, "n={n} count={count} shard={s}");
                    assert!(r.end >= r.start);
                    let size = r.end - r.start;
                    assert!(size == n / count || size == n / count + 1);
                    next = r.end;
                }
                assert_eq!(next, n);
            }
        }
        assert_eq!(shard_range(10, 0, 3), 0..3);
        assert_eq!(shard_range(10, 1, 3), 3..6);
        assert_eq!(shard_range(10, 2, 3), 6..10);
        assert_eq!(shard_range(10, 3, 3), 10..10);
        assert_eq!(shard_range(10, 0, 0), 10..10);
    }
}
