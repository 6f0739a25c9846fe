//! Host blocks ("hostgroups"): how a scan of any size runs in bounded memory.
//!
//! A plan's result table costs 2 bytes per probe ([`crate::Results`]), so a
//! `/15` × 1000 ports (131 M probes) cannot be held at once within the
//! project's 64 MB budget. Such a plan is cut into consecutive blocks of
//! whole hosts, each of at most `block_probes` probes (4 Mi by default:
//! an 8 MB table), and each block is run as a plan of its own, reported and
//! dropped before the next one starts (the CLI does the reporting).
//!
//! - Block `b` covers the target indices `b * hosts .. (b + 1) * hosts` of
//!   the plan's target set (set order, i.e. ascending addresses), so
//!   reports come out in the same host order as a one-block scan.
//! - Each block has its own keyed permutation: the plan's seed mixed with
//!   the block index, so probes are spread over the block's hosts and
//!   ports. A plan that fits in one block keeps its seed unchanged: small
//!   scans probe in exactly the order they always did.
//! - `--shard i/N` applies within each block: shard `i` takes the `i`-th
//!   slice of every block's permutation. Shards of one seed stay disjoint
//!   and their union is the whole scan.
//! - The cookie keys stay the plan's own, for every block.
//!
//! The session's configuration sets the block size (`--block-probes`, a
//! hidden flag for tests; at most [`MAX_BLOCK_PROBES`]).

use std::net::IpAddr;

use vigie_scan::targets::{IpRange, TargetSet};

use crate::plan::Plan;

/// Probes per block by default: 4 Mi, an 8 MB dense table.
pub const BLOCK_PROBES: u64 = 1 << 22;

/// The largest block: a block's table stays dense (2 bytes per probe).
pub const MAX_BLOCK_PROBES: u64 = crate::results::DENSE_LIMIT;

/// How many hosts go in one block when the largest port list of the run
/// has `max_ports` ports (every technique of a run uses the same blocks).
/// At least one host per block.
pub fn hosts_per_block(budget: u64, max_ports: u64) -> u64 {
    (budget / max_ports.max(1)).max(1)
}

/// Number of blocks of `hosts` hosts needed for `targets` addresses.
pub fn block_count(targets: u128, hosts: u64) -> u64 {
    let n = targets.div_ceil(u128::from(hosts.max(1)));
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The addresses `start .. start + count` (set order) of `set`, as a set.
pub fn slice(set: &TargetSet, start: u64, count: u64) -> TargetSet {
    let end = u128::from(start) + u128::from(count);
    let mut out = Vec::new();
    let mut offset: u128 = 0;
    for r in set.ranges() {
        let len = r.len();
        let (lo, hi) = (offset, offset.saturating_add(len));
        offset = hi;
        let s = u128::from(start).max(lo);
        let e = end.min(hi);
        if s >= e {
            if lo >= end {
                break;
            }
            continue;
        }
        let (a, b) = (s - lo, e - 1 - lo);
        out.push(match *r {
            IpRange::V4 { start, .. } => IpRange::V4 {
                start: start + a as u32,
                end: start + b as u32,
            },
            IpRange::V6 { start, .. } => IpRange::V6 {
                start: start + a,
                end: start + b,
            },
        });
    }
    TargetSet::new(&out, &[])
}

/// The addresses of `set` that `keep` accepts, among the target indices
/// `start .. start + count` (at most `count` single ranges).
pub fn slice_filtered(
    set: &TargetSet,
    start: u64,
    count: u64,
    keep: impl Fn(IpAddr) -> bool,
) -> TargetSet {
    let ranges: Vec<IpRange> = (start..start.saturating_add(count))
        .map_while(|i| set.get(i))
        .filter(|a| keep(*a))
        .map(IpRange::single)
        .collect();
    TargetSet::new(&ranges, &[])
}

/// The seed of block `index` of a run of `blocks` blocks: the run's seed
/// itself when there is one block.
pub fn block_seed(seed: u64, index: u64, blocks: u64) -> u64 {
    if blocks <= 1 {
        return seed;
    }
    let mut z = seed ^ index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Plan {
    /// The plan of block `index` (of `blocks`) whose targets are `targets`:
    /// same technique, ports, timing, shard and keys; the block's own
    /// permutation seed; no resume state.
    pub fn for_block(&self, targets: TargetSet, index: u64, blocks: u64) -> Plan {
        let mut p = self.clone();
        p.targets = targets;
        p.seed = block_seed(self.seed, index, blocks);
        p.resume_from = 0;
        p.prior = Vec::new();
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use vigie_scan::ports::PortList;
    use vigie_scan::Technique;

    fn v4(a: [u8; 4], b: [u8; 4]) -> IpRange {
        IpRange::V4 {
            start: u32::from(Ipv4Addr::from(a)),
            end: u32::from(Ipv4Addr::from(b)),
        }
    }

    #[test]
    fn slices_tile_the_set_in_order() {
        let set = TargetSet::new(
            &[
                v4([198, 18, 0, 0], [198, 18, 0, 9]),
                v4([198, 18, 1, 0], [198, 18, 1, 4]),
                IpRange::single("fd00::1".parse().unwrap()),
            ],
            &[v4([198, 18, 0, 3], [198, 18, 0, 3])],
        );
        let n = set.len() as u64;
        assert_eq!(n, 15);
        for hosts in 1..=16 {
            let blocks = block_count(set.len(), hosts);
            let mut all = Vec::new();
            for b in 0..blocks {
                let s = slice(&set, b * hosts, hosts);
                assert!(s.len() as u64 <= hosts && !s.is_empty());
                all.extend((0..s.len() as u64).map(|i| s.get(i).unwrap()));
            }
            let want: Vec<IpAddr> = (0..n).map(|i| set.get(i).unwrap()).collect();
            assert_eq!(all, want, "hosts per block {hosts}");
        }
        assert!(slice(&set, 15, 4).is_empty());
        let odd = slice_filtered(&set, 0, 8, |a| a.to_string().ends_with(['1', '5']));
        assert_eq!(odd.len(), 2);
    }

    #[test]
    fn block_sizes_and_seeds() {
        assert_eq!(hosts_per_block(BLOCK_PROBES, 1000), 4194);
        assert_eq!(hosts_per_block(10, 65535), 1);
        assert_eq!(block_count(131_072, 4194), 32);
        assert_eq!(block_count(0, 4), 0);
        assert_eq!(block_seed(7, 0, 1), 7);
        assert_ne!(block_seed(7, 0, 2), block_seed(7, 1, 2));
        let set = TargetSet::new(&[v4([198, 18, 0, 0], [198, 18, 0, 255])], &[]);
        let plan = Plan::new(
            Technique::Syn,
            set.clone(),
            PortList::from_ports(&[80, 443]),
            7,
            Default::default(),
        )
        .unwrap();
        let b = plan.for_block(slice(&set, 16, 16), 1, 16);
        assert_eq!(b.total(), 32);
        let (a, port) = b.probe(1).unwrap();
        assert_eq!(
            b.keys.tcp_seq(a, a, port),
            plan.keys.tcp_seq(a, a, port),
            "the cookie keys are the plan's"
        );
        assert_eq!(b.probe(0).unwrap().0.to_string(), "198.18.0.16");
    }
}
