//! The bounded table of sources (and of prefix aggregates) with eviction by
//! score.
//!
//! A source's state lives as long as it keeps its place, whatever the gaps
//! between its probes (-T0 waits 5 minutes): nothing expires on a clock.
//! When the table is full, a newcomer takes the place of the lowest-scoring
//! entry among [`SAMPLE`] picked at random (ties: the least recently seen).
//! A random-source flood fills the table with entries of score ≤ 1 (one
//! probe each, or 0 when it hit an open port), so a real scanner, whose
//! score grows with every distinct port it probes, is almost never the one
//! picked: it is evicted only if all sampled entries score higher.

use crate::fingerprint::FpStats;
use crate::Kind;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::time::Duration;

/// Entries sampled per eviction.
pub const SAMPLE: usize = 8;
/// Targets remembered per source; older ones are dropped past this (their
/// count is kept).
pub const MAX_TARGETS: usize = 24;
/// Member sources remembered per group or prefix aggregate.
pub const MAX_MEMBERS: usize = 64;

/// What became of one probed (destination, port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TState {
    /// Probed, no answer from this host (yet): a dropped or filtered port,
    /// or an open port that ignores FIN/NULL/Xmas probes.
    Pending,
    /// This host answered RST or ICMP port-unreachable: closed.
    Closed,
    /// This host answered SYN-ACK (or UDP data): open.
    Open,
    /// Open, then the prober reset it without completing the handshake
    /// (a half-open SYN scan of an open port).
    HalfOpen,
    /// The prober acknowledged this host's ISN.
    Established,
    /// Established, then closed by the prober before it sent any data
    /// (nmap -sT's immediate RST, a port check).
    Abandoned,
    /// A real session: the prober sent data, or this host closed after
    /// serving.
    Used,
}

impl TState {
    /// States that count toward a scan.
    pub fn suspicious(self) -> bool {
        matches!(
            self,
            TState::Pending | TState::Closed | TState::HalfOpen | TState::Abandoned
        )
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub dst: IpAddr,
    /// TCP/UDP port; ICMP type for ICMP probes; 0 for ARP/ND.
    pub port: u16,
    /// The prober's source port of the latest probe.
    pub sport: u16,
    pub kind: Kind,
    pub state: TState,
    /// This host sent data on the connection.
    pub srv_data: bool,
    /// Deciseconds (see `track::ds`).
    pub at: u32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct KindState {
    pub kind: Kind,
    pub first: Duration,
    pub last: Duration,
    pub probes: u32,
    /// Suspicious targets dropped from the list past MAX_TARGETS.
    pub overflow: u32,
    pub alerted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Entity {
    pub addr: IpAddr,
    pub last_seen: Duration,
    pub probes: u64,
    pub handshakes: u64,
    pub targets: Vec<Target>,
    pub kinds: Vec<KindState>,
    pub fp: FpStats,
    /// Prefix aggregates only: the sources seen and how many distinct
    /// targets each added.
    pub members: Vec<(IpAddr, u16)>,
}

impl Entity {
    fn new(addr: IpAddr, now: Duration) -> Entity {
        Entity {
            addr,
            last_seen: now,
            probes: 0,
            handshakes: 0,
            targets: Vec::new(),
            kinds: Vec::new(),
            fp: FpStats::default(),
            members: Vec::new(),
        }
    }

    pub fn kind(&self, k: Kind) -> Option<&KindState> {
        self.kinds.iter().find(|s| s.kind == k)
    }

    pub fn kind_mut(&mut self, k: Kind, now: Duration) -> &mut KindState {
        let i = match self.kinds.iter().position(|s| s.kind == k) {
            Some(i) => i,
            None => {
                self.kinds.push(KindState {
                    kind: k,
                    first: now,
                    last: now,
                    probes: 0,
                    overflow: 0,
                    alerted: false,
                });
                self.kinds.len() - 1
            }
        };
        &mut self.kinds[i]
    }

    /// How much this entry is worth keeping.
    pub fn score(&self, now: Duration, horizon: Duration) -> u64 {
        if now.saturating_sub(self.last_seen) > horizon {
            return 0;
        }
        let suspicious = self.targets.iter().filter(|t| t.state.suspicious()).count() as u64;
        let overflow: u64 = self.kinds.iter().map(|k| u64::from(k.overflow)).sum();
        let alerted = self.kinds.iter().filter(|k| k.alerted).count() as u64;
        // A known tool's fingerprint is worth a target: a scanner's first
        // probe outranks a flood's anonymous ones.
        let tool = u64::from(self.fp.tool().is_some());
        suspicious + overflow + 8 * alerted + self.handshakes.min(4) + tool
    }

    fn heap(&self) -> usize {
        self.targets.capacity() * std::mem::size_of::<Target>()
            + self.kinds.capacity() * std::mem::size_of::<KindState>()
            + self.members.capacity() * std::mem::size_of::<(IpAddr, u16)>()
    }
}

pub(crate) struct Table {
    slab: Vec<Entity>,
    index: HashMap<IpAddr, u32, RandomState>,
    cap: usize,
    rng: u64,
}

impl Table {
    pub fn new(cap: usize) -> Table {
        let cap = cap.max(1);
        let seed = RandomState::new().hash_one(0x5eed_u64) | 1;
        Table {
            slab: Vec::new(),
            index: HashMap::default(),
            cap,
            rng: seed,
        }
    }

    pub fn len(&self) -> usize {
        self.slab.len()
    }

    pub fn get(&self, a: &IpAddr) -> Option<&Entity> {
        self.index.get(a).map(|&i| &self.slab[i as usize])
    }

    pub fn get_mut(&mut self, a: &IpAddr) -> Option<&mut Entity> {
        match self.index.get(a) {
            Some(&i) => Some(&mut self.slab[i as usize]),
            None => None,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    pub fn get_or_insert(&mut self, a: IpAddr, now: Duration, horizon: Duration) -> &mut Entity {
        if let Some(&i) = self.index.get(&a) {
            return &mut self.slab[i as usize];
        }
        if self.slab.len() >= self.cap {
            self.evict(now, horizon);
        }
        self.slab.push(Entity::new(a, now));
        let i = self.slab.len() - 1;
        self.index.insert(a, i as u32);
        &mut self.slab[i]
    }

    fn evict(&mut self, now: Duration, horizon: Duration) {
        let n = self.slab.len();
        if n == 0 {
            return;
        }
        let mut victim = None::<(u64, Duration, usize)>;
        for _ in 0..SAMPLE {
            let i = (self.next() % n as u64) as usize;
            let e = &self.slab[i];
            let cand = (e.score(now, horizon), e.last_seen, i);
            if victim.is_none_or(|v| (cand.0, cand.1) < (v.0, v.1)) {
                victim = Some(cand);
            }
        }
        let Some((_, _, i)) = victim else { return };
        let gone = self.slab.swap_remove(i);
        self.index.remove(&gone.addr);
        if i < self.slab.len() {
            let moved = self.slab[i].addr;
            self.index.insert(moved, i as u32);
        }
    }

    pub fn memory(&self) -> usize {
        let slab = self.slab.capacity() * std::mem::size_of::<Entity>();
        let heap: usize = self.slab.iter().map(Entity::heap).sum();
        // hashbrown: key + value + one control byte per bucket.
        let index = self.index.capacity() * 8 / 7 * (std::mem::size_of::<(IpAddr, u32)>() + 1);
        slab + heap + index
    }
}
