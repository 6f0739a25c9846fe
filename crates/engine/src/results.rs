//! The dense result table: one 16-bit cell per probe.

use std::borrow::Cow;
use std::collections::HashMap;

use vigie_scan::{PortState, Reason};

/// state (3 bits) | reason (5 bits) | ttl (8 bits); 0 = nothing known yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cell(pub u16);

impl Cell {
    pub const EMPTY: Cell = Cell(0);

    pub fn new(state: PortState, reason: Reason, ttl: u8) -> Cell {
        debug_assert!(state.code() < 8 && reason.code() < 32);
        Cell(((u16::from(state.code()) << 5 | u16::from(reason.code())) << 8) | u16::from(ttl))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn state(self) -> Option<PortState> {
        PortState::from_code((self.0 >> 13) as u8)
    }

    pub fn reason(self) -> Option<Reason> {
        Reason::from_code(((self.0 >> 8) & 0x1f) as u8)
    }

    pub fn ttl(self) -> u8 {
        self.0 as u8
    }

    /// True when this cell holds the verdict of silence, which any real
    /// reply (even a late one) overrides.
    pub fn is_silence(self) -> bool {
        self.reason() == Some(Reason::NoResponse)
    }
}

/// Plans up to this many probes keep a dense table (2 bytes per probe);
/// larger ones a bitmap of silent probes plus a map of the replies.
pub const DENSE_LIMIT: u64 = 1 << 23;

/// Results of a scan, indexed by flat probe id.
///
/// Small plans: one [`Cell`] per probe. Large plans (more than
/// [`DENSE_LIMIT`] probes): one bit per probe ("final, silent"), the
/// technique's silence cell once, and a hash map holding only the probes
/// that got a reply: a /15 × 1000 ports costs 16 MB plus the replies.
#[derive(Debug, Clone)]
pub struct Results {
    nports: u64,
    total: u64,
    store: Store,
    resume_at: Option<u64>,
}

#[derive(Debug, Clone)]
enum Store {
    Dense(Vec<Cell>),
    Sparse {
        silent: Vec<u64>,
        silence: Cell,
        replies: HashMap<u64, Cell>,
    },
}

impl Results {
    pub fn new(total: u64, nports: u64) -> Results {
        let store = if total <= DENSE_LIMIT {
            Store::Dense(vec![Cell::EMPTY; total as usize])
        } else {
            Store::Sparse {
                silent: vec![0; total.div_ceil(64) as usize],
                silence: Cell::EMPTY,
                replies: HashMap::new(),
            }
        };
        Results {
            nports: nports.max(1),
            total,
            store,
            resume_at: None,
        }
    }

    /// The scan was interrupted: every permutation index below `index`
    /// (within the shard) is final; a resumed run starts there.
    pub fn set_resume_at(&mut self, index: u64) {
        self.resume_at = Some(index);
    }

    /// Where an interrupted scan resumes; `None` when it finished.
    pub fn resume_at(&self) -> Option<u64> {
        self.resume_at
    }

    /// Every probe id with a verdict, and that verdict.
    pub fn known(&self) -> Box<dyn Iterator<Item = (u64, Cell)> + '_> {
        match &self.store {
            Store::Dense(cells) => Box::new(
                cells
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.is_empty())
                    .map(|(i, c)| (i as u64, *c)),
            ),
            Store::Sparse { .. } => Box::new(
                (0..self.total)
                    .map(|v| (v, self.get(v)))
                    .filter(|(_, c)| !c.is_empty()),
            ),
        }
    }

    /// Record a reply-based verdict: the first real reply wins; a reply
    /// always replaces a "no response" verdict. Returns true if stored.
    pub fn record_reply(&mut self, value: u64, cell: Cell) -> bool {
        if value >= self.total {
            return false;
        }
        match &mut self.store {
            Store::Dense(cells) => match cells.get_mut(value as usize) {
                Some(c) if c.is_empty() || c.is_silence() => {
                    *c = cell;
                    true
                }
                _ => false,
            },
            Store::Sparse { .. } if cell.is_silence() => {
                if self.get(value).is_empty() {
                    self.record_silence(value, cell);
                    return true;
                }
                false
            }
            Store::Sparse { replies, .. } => match replies.entry(value) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(cell);
                    true
                }
            },
        }
    }

    /// Record silence after all retries, unless a reply already came.
    pub fn record_silence(&mut self, value: u64, cell: Cell) {
        if value >= self.total {
            return;
        }
        match &mut self.store {
            Store::Dense(cells) => {
                if let Some(c) = cells.get_mut(value as usize) {
                    if c.is_empty() {
                        *c = cell;
                    }
                }
            }
            Store::Sparse {
                silent, silence, ..
            } => {
                silent[(value / 64) as usize] |= 1 << (value % 64);
                *silence = cell;
            }
        }
    }

    pub fn get(&self, value: u64) -> Cell {
        match &self.store {
            Store::Dense(cells) => cells.get(value as usize).copied().unwrap_or_default(),
            Store::Sparse {
                silent,
                silence,
                replies,
            } => {
                if let Some(c) = replies.get(&value) {
                    return *c;
                }
                match silent.get((value / 64) as usize) {
                    Some(w) if w & (1 << (value % 64)) != 0 => *silence,
                    _ => Cell::EMPTY,
                }
            }
        }
    }

    /// The cells of one host, in port-list order.
    pub fn host(&self, host_index: u64) -> Cow<'_, [Cell]> {
        let start = host_index * self.nports;
        match &self.store {
            Store::Dense(cells) => {
                Cow::Borrowed(&cells[start as usize..(start + self.nports) as usize])
            }
            Store::Sparse { .. } => {
                Cow::Owned((start..start + self.nports).map(|v| self.get(v)).collect())
            }
        }
    }

    pub fn hosts(&self) -> u64 {
        self.total / self.nports
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_packs_every_state_reason_ttl() {
        for s in PortState::ALL {
            for r in Reason::ALL {
                for ttl in [0u8, 1, 64, 255] {
                    let c = Cell::new(s, r, ttl);
                    assert!(!c.is_empty());
                    assert_eq!((c.state(), c.reason(), c.ttl()), (Some(s), Some(r), ttl));
                }
            }
        }
    }

    #[test]
    fn replies_override_silence_but_not_each_other() {
        let mut r = Results::new(4, 2);
        let silence = Cell::new(PortState::Filtered, Reason::NoResponse, 0);
        let rst = Cell::new(PortState::Closed, Reason::Reset, 64);
        let synack = Cell::new(PortState::Open, Reason::SynAck, 64);
        r.record_silence(1, silence);
        assert!(r.record_reply(1, rst));
        assert!(!r.record_reply(1, synack));
        r.record_silence(1, silence);
        assert_eq!(r.get(1), rst);
        assert!(r.record_reply(2, synack));
        assert_eq!(&*r.host(1), &[synack, Cell::EMPTY]);
        assert_eq!(r.hosts(), 2);
    }

    #[test]
    fn sparse_store_behaves_like_the_dense_one() {
        let n = DENSE_LIMIT + 10;
        let mut r = Results::new(n, 5);
        let silence = Cell::new(PortState::Filtered, Reason::NoResponse, 0);
        let rst = Cell::new(PortState::Closed, Reason::Reset, 64);
        let synack = Cell::new(PortState::Open, Reason::SynAck, 64);
        let last = n - 1;
        r.record_silence(last, silence);
        assert!(r.record_reply(last, rst));
        assert!(!r.record_reply(last, synack));
        r.record_silence(last, silence);
        assert_eq!(r.get(last), rst);
        r.record_silence(3, silence);
        assert!(!r.record_reply(3, silence));
        assert_eq!(r.get(3), silence);
        assert!(r.record_reply(4, silence));
        assert_eq!(r.get(4), silence);
        assert_eq!(r.get(5), Cell::EMPTY);
        assert!(!r.record_reply(n, rst));
        assert_eq!(
            &*r.host(0),
            &[Cell::EMPTY, Cell::EMPTY, Cell::EMPTY, silence, silence]
        );
        assert_eq!(r.hosts(), n / 5);
        let known: Vec<(u64, Cell)> = r.known().collect();
        assert_eq!(known, vec![(3, silence), (4, silence), (last, rst)]);
    }
}
