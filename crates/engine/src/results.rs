//! The dense result table: one 16-bit cell per probe.

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

/// The largest table one plan keeps (2 bytes per probe): host blocks are
/// never larger (see [`crate::blocks::MAX_BLOCK_PROBES`]).
pub const DENSE_LIMIT: u64 = 1 << 23;

/// Results of a scan, one [`Cell`] per probe, indexed by flat probe id.
#[derive(Debug, Clone)]
pub struct Results {
    nports: u64,
    cells: Vec<Cell>,
    resume_at: Option<u64>,
}

impl Results {
    pub fn new(total: u64, nports: u64) -> Results {
        debug_assert!(total <= DENSE_LIMIT, "plans are cut into blocks first");
        Results {
            nports: nports.max(1),
            cells: vec![Cell::EMPTY; total.min(DENSE_LIMIT) as usize],
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
    pub fn known(&self) -> impl Iterator<Item = (u64, Cell)> + '_ {
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.is_empty())
            .map(|(i, c)| (i as u64, *c))
    }

    /// Record a reply-based verdict: the first real reply wins; a reply
    /// always replaces a "no response" verdict. Returns true if stored.
    pub fn record_reply(&mut self, value: u64, cell: Cell) -> bool {
        match self.cells.get_mut(value as usize) {
            Some(c) if c.is_empty() || c.is_silence() => {
                *c = cell;
                true
            }
            _ => false,
        }
    }

    /// Record silence after all retries, unless a reply already came.
    pub fn record_silence(&mut self, value: u64, cell: Cell) {
        if let Some(c) = self.cells.get_mut(value as usize) {
            if c.is_empty() {
                *c = cell;
            }
        }
    }

    pub fn get(&self, value: u64) -> Cell {
        self.cells.get(value as usize).copied().unwrap_or_default()
    }

    /// The cells of one host, in port-list order.
    pub fn host(&self, host_index: u64) -> &[Cell] {
        let start = (host_index * self.nports) as usize;
        let end = start + self.nports as usize;
        self.cells.get(start..end).unwrap_or(&[])
    }

    pub fn hosts(&self) -> u64 {
        self.cells.len() as u64 / self.nports
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
        assert_eq!(r.host(1), &[synack, Cell::EMPTY]);
        assert_eq!(r.hosts(), 2);
    }
}
