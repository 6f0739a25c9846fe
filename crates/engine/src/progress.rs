//! Live counters of the running scan phase, for progress displays.
//!
//! Every driver publishes what it has done into the [`Board`] the caller
//! passes in (a [`Progress`] handle): the phase name (nmap's words: "SYN Stealth Scan",
//! "Connect Scan", "UDP Scan", "Ping Scan"), the probes it covers, how many
//! are final, packets sent (retransmissions included) and open ports found.
//! Drivers publish per batch through a [`Meter`], which turns their running
//! totals into relaxed `fetch_add`s: the send loop never waits on a reader.
//! A reader (the CLI's display thread) takes a [`Snapshot`] whenever it likes.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigie_scan::Technique;

/// The phase's name as nmap prints it in its progress lines.
pub fn phase_name(t: Technique) -> &'static str {
    match t {
        Technique::Syn => "SYN Stealth Scan",
        Technique::Connect => "Connect Scan",
        Technique::Fin => "FIN Scan",
        Technique::Null => "NULL Scan",
        Technique::Xmas => "XMAS Scan",
        Technique::Ack => "ACK Scan",
        Technique::Window => "Window Scan",
        Technique::Maimon => "Maimon Scan",
        Technique::Udp => "UDP Scan",
    }
}

/// The phase name of a host-discovery sweep.
pub const PING_SCAN: &str = "Ping Scan";

/// What a reader sees of the current (or last) phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Increases by one at each [`Board::begin`]; 0 before any phase.
    pub seq: u64,
    pub phase: &'static str,
    /// Probes the phase covers.
    pub total: u64,
    /// Probes whose outcome is final (answered or given up on).
    pub done: u64,
    /// Packets sent, retransmissions included.
    pub sent: u64,
    /// Open ports (or live hosts, for a ping scan) found so far.
    pub found: u64,
    /// Since the phase began.
    pub elapsed: Duration,
    /// False once the phase's driver returned.
    pub running: bool,
}

#[derive(Debug)]
struct Head {
    seq: u64,
    phase: &'static str,
    started: Instant,
}

/// How many ended phases a board remembers (a run has a few).
const KEEP_FINISHED: usize = 16;

/// The counters of one phase at a time.
#[derive(Debug)]
pub struct Board {
    head: Mutex<Option<Head>>,
    total: AtomicU64,
    done: AtomicU64,
    sent: AtomicU64,
    found: AtomicU64,
    running: AtomicBool,
    /// The phases that ended, as they ended (the last [`KEEP_FINISHED`]).
    finished: Mutex<Vec<Snapshot>>,
}

impl Default for Board {
    fn default() -> Self {
        Board::new()
    }
}

impl Board {
    pub const fn new() -> Board {
        Board {
            head: Mutex::new(None),
            total: AtomicU64::new(0),
            done: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            found: AtomicU64::new(0),
            running: AtomicBool::new(false),
            finished: Mutex::new(Vec::new()),
        }
    }

    /// A new phase starts: counters back to zero.
    pub fn begin(&self, phase: &'static str, total: u64) {
        let mut head = self.head.lock().unwrap_or_else(|e| e.into_inner());
        let seq = head.as_ref().map_or(0, |h| h.seq) + 1;
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
        self.found.store(0, Ordering::Relaxed);
        self.running.store(true, Ordering::Relaxed);
        *head = Some(Head {
            seq,
            phase,
            started: Instant::now(),
        });
    }

    /// The phase's driver returned; the counters keep their last values,
    /// and [`Board::finished_after`] returns them.
    pub fn end(&self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(last) = self.snapshot() {
            let mut f = self.finished.lock().unwrap_or_else(|e| e.into_inner());
            if f.len() == KEEP_FINISHED {
                f.remove(0);
            }
            f.push(last);
        }
    }

    /// The phases that ended after phase `seq`, oldest first, with their
    /// final counters (a reader that polls would miss them when the next
    /// phase begins, and maybe ends, before it looks).
    pub fn finished_after(&self, seq: u64) -> Vec<Snapshot> {
        let f = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        f.iter().filter(|s| s.seq > seq).copied().collect()
    }

    /// Add to the counters (what a [`Meter`] does).
    pub fn add(&self, done: u64, sent: u64, found: u64) {
        if done > 0 {
            self.done.fetch_add(done, Ordering::Relaxed);
        }
        if sent > 0 {
            self.sent.fetch_add(sent, Ordering::Relaxed);
        }
        if found > 0 {
            self.found.fetch_add(found, Ordering::Relaxed);
        }
    }

    /// The phase so far; `None` before the first phase.
    pub fn snapshot(&self) -> Option<Snapshot> {
        let head = self.head.lock().unwrap_or_else(|e| e.into_inner());
        let h = head.as_ref()?;
        Some(Snapshot {
            seq: h.seq,
            phase: h.phase,
            total: self.total.load(Ordering::Relaxed),
            done: self.done.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            found: self.found.load(Ordering::Relaxed),
            elapsed: h.started.elapsed(),
            running: self.running.load(Ordering::Relaxed),
        })
    }
}

/// The board a scan publishes to, shared with whoever displays it.
pub type Progress = Arc<Board>;

/// A driver's view of the board: takes its running totals (as its tracker
/// counts them) and adds only the difference since the last call. Several
/// meters (the sweeps of one discovery) can feed one phase.
#[derive(Debug)]
pub struct Meter {
    board: Progress,
    done: Cell<u64>,
    sent: Cell<u64>,
    found: Cell<u64>,
}

impl Meter {
    pub fn on(board: &Progress) -> Meter {
        let board = Arc::clone(board);
        Meter {
            board,
            done: Cell::new(0),
            sent: Cell::new(0),
            found: Cell::new(0),
        }
    }

    /// The driver's totals now; counts that go backwards are ignored.
    pub fn update(&self, done: u64, sent: u64) {
        let d = done.saturating_sub(self.done.get());
        let s = sent.saturating_sub(self.sent.get());
        if d > 0 || s > 0 {
            self.done.set(self.done.get() + d);
            self.sent.set(self.sent.get() + s);
            self.board.add(d, s, 0);
        }
    }

    /// `n` more open ports (live hosts) found.
    pub fn found(&self, n: u64) {
        if n > 0 {
            self.found.set(self.found.get() + n);
            self.board.add(0, 0, n);
        }
    }

    /// The driver's count of what it found, as a running total.
    pub fn found_total(&self, n: u64) {
        self.found(n.saturating_sub(self.found.get()));
    }
}

/// A driver's phase on the board: begun when made, ended when dropped
/// (whatever way the driver returns).
#[derive(Debug)]
pub struct Phase(Progress);

impl Phase {
    pub fn begin(board: &Progress, phase: &'static str, total: u64) -> Phase {
        board.begin(phase, total);
        Phase(Arc::clone(board))
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        self.0.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leak() -> Progress {
        Arc::new(Board::new())
    }

    #[test]
    fn meters_add_differences_and_phases_reset() {
        let b = leak();
        assert_eq!(b.snapshot(), None);
        b.begin("SYN Stealth Scan", 100);
        let m = Meter::on(&b);
        m.update(10, 20);
        m.found(1);
        m.update(30, 64);
        // A second meter on the same phase adds up.
        let m2 = Meter::on(&b);
        m2.update(5, 5);
        // Running totals never go backwards.
        m.update(29, 60);
        m2.found_total(2);
        m2.found_total(1);
        let s = b.snapshot().unwrap();
        assert_eq!(
            (s.seq, s.phase, s.total, s.done, s.sent, s.found, s.running),
            (1, "SYN Stealth Scan", 100, 35, 69, 3, true)
        );
        b.end();
        let f = b.finished_after(0);
        assert!(f.len() == 1 && !f[0].running && f[0].seq == 1 && f[0].done == 35);
        b.begin("UDP Scan", 7);
        assert_eq!(b.finished_after(0).len(), 1);
        let s = b.snapshot().unwrap();
        assert_eq!(
            (s.seq, s.phase, s.total, s.done, s.sent, s.found, s.running),
            (2, "UDP Scan", 7, 0, 0, 0, true)
        );
        // Two phases ended between two looks: both are there.
        b.end();
        b.begin("Ping Scan", 1);
        b.end();
        let seqs: Vec<u64> = b.finished_after(1).iter().map(|s| s.seq).collect();
        assert_eq!(seqs, [2, 3]);
        assert!(b.finished_after(3).is_empty());
    }
}
