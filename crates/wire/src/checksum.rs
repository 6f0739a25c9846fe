//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! A *partial sum* is a `u32` that accumulates big-endian 16-bit words with
//! end-around carry; any number of partial sums can be added together (feed
//! one as `initial` to the next [`sum`]) and [`finish`] turns the total into
//! the value that goes into a header.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Folds carries back into the low 16 bits.
#[inline]
fn fold(mut s: u64) -> u32 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u32
}

/// One's-complement partial sum of `data` read as big-endian 16-bit words
/// (an odd trailing byte is padded with a zero byte), added to `initial`.
///
/// The result is folded to at most `0xffff`, so it can be passed on as the
/// `initial` of another call without overflow.
pub fn sum(data: &[u8], initial: u32) -> u32 {
    let mut acc: u64 = u64::from(initial);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        // Two 32-bit big-endian halves; each adds two 16-bit words at once
        // (a 32-bit quantity folds to the same one's-complement sum).
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        acc += u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
    }
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold(acc)
}

/// Folds a partial sum and complements it: the checksum field's value.
#[inline]
pub fn finish(sum: u32) -> u16 {
    !(fold(u64::from(sum)) as u16)
}

/// Partial sum of the IPv4 pseudo-header (RFC 793 / 768): source, destination,
/// zero + protocol, upper-layer length.
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u16) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    let acc = u64::from(u16::from_be_bytes([s[0], s[1]]))
        + u64::from(u16::from_be_bytes([s[2], s[3]]))
        + u64::from(u16::from_be_bytes([d[0], d[1]]))
        + u64::from(u16::from_be_bytes([d[2], d[3]]))
        + u64::from(proto)
        + u64::from(len);
    fold(acc)
}

/// Partial sum of the IPv6 pseudo-header (RFC 8200 §8.1): source,
/// destination, 32-bit upper-layer length, three zero bytes + next header.
pub fn pseudo_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, len: u32) -> u32 {
    let mut acc = u64::from(sum(&src.octets(), 0));
    acc += u64::from(sum(&dst.octets(), 0));
    acc += u64::from(len >> 16) + u64::from(len & 0xffff);
    acc += u64::from(proto);
    fold(acc)
}

/// RFC 1624 eqn. 3: the checksum after one 16-bit word covered by `csum`
/// changes from `old` to `new`: `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn adjust16(csum: u16, old: u16, new: u16) -> u16 {
    let acc = u64::from(!csum) + u64::from(!old) + u64::from(new);
    !(fold(acc) as u16)
}

/// RFC 1624 for a run of words: the checksum after the bytes `old` covered
/// by `csum` are replaced by `new`.
///
/// `old` and `new` must have the same, even length and be aligned on a
/// 16-bit boundary of the checksummed data (an odd length is treated as if
/// padded with a zero byte, which is only right at the very end of the data).
pub fn adjust(csum: u16, old: &[u8], new: &[u8]) -> u16 {
    debug_assert_eq!(old.len(), new.len(), "checksum::adjust: lengths differ");
    // ~m summed word by word equals the complement of m's sum.
    let minus_old = !(sum(old, 0) as u16);
    let acc = u64::from(!csum) + u64::from(minus_old) + u64::from(sum(new, 0));
    !(fold(acc) as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 §3 worked example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
    #[test]
    fn rfc1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(&data, 0), 0xddf2);
        assert_eq!(finish(sum(&data, 0)), 0x220d);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(sum(&[0x12, 0x34, 0x56], 0), 0x1234 + 0x5600);
        assert_eq!(sum(&[0xab], 0), 0xab00);
        assert_eq!(sum(&[], 7), 7);
    }

    #[test]
    fn carries_fold() {
        // 0xffff + 0xffff = 0x1fffe -> 0xffff
        assert_eq!(sum(&[0xff, 0xff, 0xff, 0xff], 0), 0xffff);
        assert_eq!(sum(&[0x80, 0x00, 0x80, 0x00], 0), 0x0001);
        // Long input: 100_000 words of 0xffff still folds.
        let big = vec![0xffu8; 200_000];
        assert_eq!(sum(&big, 0), 0xffff);
        assert_eq!(finish(0x1_0000), !1u16);
    }

    /// The IPv4 header from RFC 1071-style textbook examples:
    /// 45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7.
    #[test]
    fn ipv4_header_checksum() {
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(finish(sum(&h, 0)), 0xb861);
        h[10] = 0xb8;
        h[11] = 0x61;
        assert_eq!(finish(sum(&h, 0)), 0);
    }

    #[test]
    fn pseudo_headers() {
        let a = Ipv4Addr::new(198, 18, 0, 1);
        let b = Ipv4Addr::new(198, 18, 0, 2);
        // c612 + 0001 + c612 + 0002 + 6 + 20
        assert_eq!(
            pseudo_v4(a, b, 6, 20),
            fold(0xc612 + 1 + 0xc612 + 2 + 6 + 20)
        );
        let x: Ipv6Addr = "fd00::1".parse().unwrap();
        let y: Ipv6Addr = "fd00::2".parse().unwrap();
        assert_eq!(
            pseudo_v6(&x, &y, 58, 0x0001_0008),
            fold(0xfd00 + 1 + 0xfd00 + 2 + 1 + 8 + 58)
        );
    }

    #[test]
    fn adjust_matches_recompute() {
        let mut data = [
            0x45u8, 0x00, 0x00, 0x73, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        let c0 = finish(sum(&data, 0));
        // Change the ident word.
        let c1 = adjust16(c0, 0x1234, 0xbeef);
        data[4] = 0xbe;
        data[5] = 0xef;
        assert_eq!(c1, finish(sum(&data, 0)));
        // Change the destination address.
        let old = [0xc0, 0xa8, 0x00, 0xc7];
        let new = [0xc6, 0x12, 0xff, 0x01];
        let c2 = adjust(c1, &old, &new);
        data[16..20].copy_from_slice(&new);
        assert_eq!(c2, finish(sum(&data, 0)));
    }
}
