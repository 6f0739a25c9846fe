//! Retry tracking with bounded memory, in the sans-IO style of quinn-proto.
//!
//! Probes are handed out in permutation order, in *windows* of consecutive
//! permutation indices. Each window in flight keeps one bit per probe
//! (answered or not). Once the last probe of a window's pass has been
//! handed out, the window waits for the current timeout; when that expires,
//! its unanswered probes are handed out again (the next attempt). When the
//! pass after the last allowed retry expires too, every probe still
//! unanswered becomes an [`Event::NoResponse`].
//!
//! Memory is `max_windows` bitmaps of `window` bits, whatever the size of
//! the scan; bitmaps are recycled through a pool, so nothing is allocated
//! per probe.
//!
//! The caller drives everything and owns the clock:
//! ```text
//! loop {
//!     deliver replies      → handle_reply(now, value)
//!     poll_timeout() <= now → handle_timeout(now)
//!     drain poll_event()
//!     if is_done() { break }
//!     while pacing allows: poll_transmit(now) → send the probe
//!     sleep until a reply, poll_timeout() or the pacer
//! }
//! ```

use std::collections::VecDeque;
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::perm::Permutation;
use crate::rtt::RttEstimator;

/// Tunables of a [`Tracker`].
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// Probes per window (at least 1).
    pub window: u32,
    /// Windows in flight at once (at least 1): bounds memory and the number
    /// of probes awaiting an answer.
    pub max_windows: usize,
    /// Resends of an unanswered probe before it is reported silent.
    pub max_retries: u8,
    /// Timeout before the first RTT sample.
    pub initial_timeout: Duration,
    pub min_timeout: Duration,
    pub max_timeout: Duration,
    /// Adapt the retries to the loss seen, as nmap does: one retry while
    /// every reply answers a first send; once a reply answers the k-th
    /// retransmission, k + 2 retries. `max_retries` stays the ceiling.
    pub adaptive_retries: bool,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            window: 4096,
            max_windows: 16,
            max_retries: 2,
            initial_timeout: Duration::from_secs(1),
            min_timeout: Duration::from_millis(50),
            max_timeout: Duration::from_secs(10),
            adaptive_retries: false,
        }
    }
}

/// One probe to send: the flat probe id and which attempt this is
/// (0 = first send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    pub value: u64,
    pub attempt: u8,
}

/// Something the caller must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Every attempt for this probe went unanswered: it is final.
    NoResponse { value: u64 },
}

/// What one retransmission pass of a window tells about loss: of the probes
/// that answer at all, how many answered pass k-1 and how many only answered
/// its retransmission (pass k). Probes that never answer (filtered ports,
/// dead hosts) appear in neither count, so they never look like loss. If
/// every pass loses a fraction L of what it sends,
/// `answered_retry / answered_before` is L (see [`crate::ratectl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossSample {
    /// Replies to pass k-1.
    pub answered_before: u32,
    /// Replies to pass k (the retransmission of what k-1 left unanswered);
    /// 0 when pass k-1 answered the whole window.
    pub answered_retry: u32,
    /// When pass k-1 began: the sample speaks for the rate in use since.
    pub since: Instant,
}

/// At most this many loss samples wait for [`Tracker::poll_loss`]; older
/// ones are dropped (drivers that do not adapt their rate never read them).
const LOSS_QUEUE: usize = 256;

/// Counters and the current timing estimate.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackerStats {
    /// Probes handed out, retransmissions included.
    pub sent: u64,
    /// Of which retransmissions.
    pub retransmitted: u64,
    /// Probes that got a (first) reply.
    pub answered: u64,
    /// Probes finalised without any reply.
    pub no_response: u64,
    /// Smoothed round-trip time, once a sample exists.
    pub srtt: Option<Duration>,
    /// Round-trip time variation, once a sample exists.
    pub rttvar: Option<Duration>,
    /// The timeout a window's pass currently gets.
    pub timeout: Duration,
    /// Probes whose outcome is final (`answered + no_response`).
    pub done: u64,
}

/// A bitmap with one send timestamp per 64 probes, reused between windows.
#[derive(Debug)]
struct Slab {
    bits: Vec<u64>,
    /// When the first probe of each 64-probe block went out in the first
    /// pass: the reference for RTT samples (see `first_send_time`).
    stamps: Vec<Instant>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// First pass: `sent` probes handed out so far, in order.
    Opening { sent: u32 },
    /// The pass is out; replies are awaited until `deadline`.
    Waiting { deadline: Instant },
    /// A retransmission pass: the next unanswered probe is at or after
    /// `cursor`.
    Resending { cursor: u32 },
    /// Final: unanswered probes at or after `cursor` still have to be
    /// reported as events.
    Reporting { cursor: u32 },
}

#[derive(Debug)]
struct Window {
    /// First permutation index covered.
    start: u64,
    len: u32,
    /// Current pass: 0 = first send, k = k-th retransmission.
    attempt: u8,
    /// Passes granted beyond the retries (see [`Tracker::backed_off`]).
    extra: u8,
    answered: u32,
    phase: Phase,
    /// When the latest probe of the current pass was handed out.
    last_sent: Instant,
    /// When the current pass began, and the answered count then.
    pass_start: Instant,
    answered_at_pass_start: u32,
    /// The previous pass: when it began and how many it answered.
    prev_pass: Option<(Instant, u32)>,
    slab: Slab,
}

impl Window {
    fn is_answered(&self, pos: u32) -> bool {
        self.slab.bits[(pos / 64) as usize] & (1u64 << (pos % 64)) != 0
    }

    /// When the first-pass send of `pos` went out, interpolated within its
    /// 64-probe block between the block's first send and the next block's
    /// (or the latest send): exact under steady pacing.
    fn first_send_time(&self, pos: u32) -> Instant {
        let block = pos / 64;
        let start = self.slab.stamps[block as usize];
        let sent = match self.phase {
            Phase::Opening { sent } => sent,
            _ => self.len,
        };
        let next = (block + 1) * 64;
        let (end, span) = if next < sent {
            (self.slab.stamps[block as usize + 1], 64)
        } else {
            (self.last_sent, sent - 1 - block * 64)
        };
        if span == 0 {
            return start;
        }
        let spread = end.saturating_duration_since(start);
        spread
            .checked_mul(pos % 64)
            .map_or(start, |d| start + d / span)
    }

    /// The first unanswered position at or after `from`.
    fn next_unanswered(&self, from: u32) -> Option<u32> {
        if from >= self.len {
            return None;
        }
        let mut word = (from / 64) as usize;
        // Bits below `from` in its word count as answered.
        let mut free = !self.slab.bits[word] & (u64::MAX << (from % 64));
        loop {
            if free != 0 {
                let pos = word as u32 * 64 + free.trailing_zeros();
                return (pos < self.len).then_some(pos);
            }
            word += 1;
            if word as u32 * 64 >= self.len {
                return None;
            }
            free = !self.slab.bits[word];
        }
    }
}

/// Tracks which probes of a range of permutation indices are answered,
/// decides what to (re)send and when a probe has gone silent for good.
#[derive(Debug)]
pub struct Tracker {
    perm: Permutation,
    /// First permutation index not yet in any window.
    next: u64,
    end: u64,
    cfg: TrackerConfig,
    /// In-flight windows, ordered by `start`.
    windows: Vec<Window>,
    pool: Vec<Slab>,
    /// Windows in the `Resending` phase.
    resending: usize,
    /// Windows in the `Reporting` phase.
    reporting: usize,
    rtt: RttEstimator,
    timeout: Duration,
    sent: u64,
    retransmitted: u64,
    answered: u64,
    no_response: u64,
    /// The highest attempt a reply has answered so far (loss evidence).
    best_attempt: u8,
    loss: VecDeque<LossSample>,
}

impl Tracker {
    /// Track the probes at permutation indices `range` (a shard, or
    /// `0..perm.len()`); the range is clipped to the permutation.
    pub fn new(perm: Permutation, range: Range<u64>, cfg: TrackerConfig) -> Tracker {
        let mut cfg = cfg;
        cfg.window = cfg.window.max(1);
        cfg.max_windows = cfg.max_windows.max(1);
        cfg.max_timeout = cfg.max_timeout.max(cfg.min_timeout);
        let end = range.end.min(perm.len());
        let start = range.start.min(end);
        let timeout = clamp(cfg.initial_timeout, &cfg);
        Tracker {
            perm,
            next: start,
            end,
            windows: Vec::with_capacity(cfg.max_windows),
            pool: Vec::new(),
            cfg,
            resending: 0,
            reporting: 0,
            rtt: RttEstimator::default(),
            timeout,
            sent: 0,
            retransmitted: 0,
            answered: 0,
            no_response: 0,
            best_attempt: 0,
            loss: VecDeque::new(),
        }
    }

    /// The first permutation index whose probe is not final yet: every
    /// index of the range below it is answered or reported silent (resume
    /// from here).
    pub fn low_watermark(&self) -> u64 {
        self.windows.first().map_or(self.next, |w| w.start)
    }

    /// Retries a window gets now (see [`TrackerConfig::adaptive_retries`]).
    pub fn retries_allowed(&self) -> u8 {
        if !self.cfg.adaptive_retries {
            return self.cfg.max_retries;
        }
        let want = if self.best_attempt == 0 {
            1
        } else {
            self.best_attempt.saturating_add(2)
        };
        want.min(self.cfg.max_retries)
    }

    /// Loss was seen by other means (the rate controller backed off on a
    /// congested path): every retry is allowed from now on, since the
    /// passes sent before the back-off lost most of their probes.
    pub fn assume_loss(&mut self) {
        self.best_attempt = self.best_attempt.max(self.cfg.max_retries);
    }

    /// The rate controller backed off: the passes sent so far went out
    /// faster than the path carries, and lost most of their probes. Every
    /// retry is allowed from now on, and each window not yet final gets one
    /// more pass (at most `max_retries` more in all), so that a probe's
    /// attempts are not all spent before the rate has come down: a scan
    /// that starts at 500,000 probes/s on a path that carries 8,000 takes
    /// several back-offs to get there, and its first windows' passes all
    /// fall before the last one.
    pub fn backed_off(&mut self) {
        self.assume_loss();
        let most = self.cfg.max_retries;
        for w in &mut self.windows {
            if !matches!(w.phase, Phase::Reporting { .. }) {
                w.extra = w.extra.saturating_add(1).min(most);
            }
        }
    }

    /// The next probe to send, if any may go now: retransmissions of
    /// expired windows first, then new probes while fewer than
    /// `max_windows` windows are in flight.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        if self.resending > 0 {
            if let Some(t) = self.next_resend(now) {
                return Some(t);
            }
        }
        let opening =
            matches!(self.windows.last(), Some(w) if matches!(w.phase, Phase::Opening { .. }));
        if !opening {
            if self.windows.len() >= self.cfg.max_windows || self.next >= self.end {
                return None;
            }
            self.open_window(now);
        }
        let timeout = self.timeout;
        let w = self.windows.last_mut()?;
        let Phase::Opening { sent } = w.phase else {
            return None;
        };
        if sent % 64 == 0 {
            w.slab.stamps[(sent / 64) as usize] = now;
        }
        w.last_sent = now;
        w.phase = if sent + 1 == w.len {
            Phase::Waiting {
                deadline: now + timeout,
            }
        } else {
            Phase::Opening { sent: sent + 1 }
        };
        let index = w.start + u64::from(sent);
        self.sent += 1;
        Some(Transmit {
            value: self.perm.get(index),
            attempt: 0,
        })
    }

    fn next_resend(&mut self, now: Instant) -> Option<Transmit> {
        let timeout = self.timeout;
        for w in &mut self.windows {
            let Phase::Resending { cursor } = w.phase else {
                continue;
            };
            let Some(pos) = w.next_unanswered(cursor) else {
                // Replies answered the rest of the pass: it ended with the
                // last probe actually handed out.
                w.phase = Phase::Waiting {
                    deadline: w.last_sent + timeout,
                };
                self.resending -= 1;
                continue;
            };
            w.last_sent = now;
            w.phase = match w.next_unanswered(pos + 1) {
                Some(next) => Phase::Resending { cursor: next },
                None => {
                    self.resending -= 1;
                    Phase::Waiting {
                        deadline: now + timeout,
                    }
                }
            };
            self.sent += 1;
            self.retransmitted += 1;
            return Some(Transmit {
                value: self.perm.get(w.start + u64::from(pos)),
                attempt: w.attempt,
            });
        }
        None
    }

    fn open_window(&mut self, now: Instant) {
        let len = (self.end - self.next).min(u64::from(self.cfg.window)) as u32;
        let words = self.cfg.window.div_ceil(64) as usize;
        let slab = self.pool.pop().unwrap_or_else(|| Slab {
            bits: vec![0; words],
            stamps: vec![now; words],
        });
        self.windows.push(Window {
            start: self.next,
            len,
            attempt: 0,
            extra: 0,
            answered: 0,
            phase: Phase::Opening { sent: 0 },
            last_sent: now,
            pass_start: now,
            answered_at_pass_start: 0,
            prev_pass: None,
            slab,
        });
        self.next += u64::from(len);
    }

    /// A validated reply for probe `value` arrived at `now`.
    ///
    /// Returns `true` if the probe was in flight and not yet answered;
    /// anything else (never sent, already answered, already reported
    /// silent, outside this tracker's range) returns `false` and changes
    /// nothing.
    pub fn handle_reply(&mut self, now: Instant, value: u64) -> bool {
        if value >= self.perm.len() {
            return false;
        }
        let index = self.perm.index_of(value);
        if index >= self.next {
            return false;
        }
        let i = self.windows.partition_point(|w| w.start <= index);
        let Some(slot) = i.checked_sub(1) else {
            return false;
        };
        let w = &mut self.windows[slot];
        let offset = index - w.start;
        if offset >= u64::from(w.len) {
            return false;
        }
        let pos = offset as u32;
        match w.phase {
            Phase::Reporting { .. } => return false,
            Phase::Opening { sent } if pos >= sent => return false,
            _ => {}
        }
        if w.is_answered(pos) {
            return false;
        }
        w.slab.bits[(pos / 64) as usize] |= 1u64 << (pos % 64);
        w.answered += 1;
        self.answered += 1;
        self.best_attempt = self.best_attempt.max(w.attempt);
        // Karn: a reply during a retransmission pass may answer any of
        // the sends, so only first-pass replies are timed.
        let sample =
            (w.attempt == 0).then(|| now.saturating_duration_since(w.first_send_time(pos)));
        if w.answered == w.len {
            let w = self.windows.remove(slot);
            if matches!(w.phase, Phase::Resending { .. }) {
                self.resending -= 1;
            }
            // The window's last pass answered everything left.
            let this = w.answered - w.answered_at_pass_start;
            match w.prev_pass {
                Some((since, before)) => self.push_loss(before, this, since),
                None => self.push_loss(this, 0, w.pass_start),
            }
            self.recycle(w.slab);
        }
        if let Some(s) = sample {
            self.rtt_sample(s);
        }
        true
    }

    fn push_loss(&mut self, answered_before: u32, answered_retry: u32, since: Instant) {
        if self.loss.len() == LOSS_QUEUE {
            self.loss.pop_front();
        }
        self.loss.push_back(LossSample {
            answered_before,
            answered_retry,
            since,
        });
    }

    /// The next loss sample (one per retransmission pass that ended, and
    /// one per window answered in full by its first pass), oldest first.
    pub fn poll_loss(&mut self) -> Option<LossSample> {
        self.loss.pop_front()
    }

    /// RFC 6298's estimator: srtt + 4·rttvar, clamped.
    fn rtt_sample(&mut self, s: Duration) {
        self.rtt.sample(s);
        self.timeout = clamp(self.rtt.rto(), &self.cfg);
    }

    fn recycle(&mut self, mut slab: Slab) {
        slab.bits.fill(0);
        self.pool.push(slab);
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// has work to do, if any window is waiting.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.windows
            .iter()
            .filter_map(|w| due(w, self.timeout))
            .min()
    }

    /// Expire every window whose deadline is at or before `now`: schedule
    /// a retransmission pass, or, after the last retry, report its
    /// unanswered probes (see [`poll_event`](Self::poll_event)).
    pub fn handle_timeout(&mut self, now: Instant) {
        let max_retries = self.retries_allowed();
        let timeout = self.timeout;
        for w in &mut self.windows {
            let Some(deadline) = due(w, timeout) else {
                continue;
            };
            if deadline > now {
                continue;
            }
            // The pass is over: what it answered is known.
            let this = w.answered - w.answered_at_pass_start;
            if let Some((since, before)) = w.prev_pass {
                if self.loss.len() == LOSS_QUEUE {
                    self.loss.pop_front();
                }
                self.loss.push_back(LossSample {
                    answered_before: before,
                    answered_retry: this,
                    since,
                });
            }
            w.prev_pass = Some((w.pass_start, this));
            w.pass_start = now;
            w.answered_at_pass_start = w.answered;
            // A fully answered window is freed at once, so one exists.
            let first = w.next_unanswered(0).unwrap_or(w.len);
            if w.attempt < max_retries.saturating_add(w.extra) {
                w.attempt += 1;
                w.phase = Phase::Resending { cursor: first };
                self.resending += 1;
            } else {
                w.phase = Phase::Reporting { cursor: first };
                self.reporting += 1;
                self.no_response += u64::from(w.len - w.answered);
            }
        }
    }

    /// The next event, if any. Draining events frees the windows of
    /// finalised probes, which lets new probes go out.
    pub fn poll_event(&mut self) -> Option<Event> {
        while self.reporting > 0 {
            let slot = self
                .windows
                .iter()
                .position(|w| matches!(w.phase, Phase::Reporting { .. }))?;
            let w = &mut self.windows[slot];
            let Phase::Reporting { cursor } = w.phase else {
                return None;
            };
            let found = w.next_unanswered(cursor);
            let rest = found.and_then(|pos| w.next_unanswered(pos + 1));
            let value = found.map(|pos| self.perm.get(w.start + u64::from(pos)));
            match rest {
                Some(next) => w.phase = Phase::Reporting { cursor: next },
                None => {
                    let w = self.windows.remove(slot);
                    self.reporting -= 1;
                    self.recycle(w.slab);
                }
            }
            if let Some(value) = value {
                return Some(Event::NoResponse { value });
            }
        }
        None
    }

    /// Everything was sent, every probe is final and every event drained.
    pub fn is_done(&self) -> bool {
        self.next >= self.end && self.windows.is_empty()
    }

    /// Every probe of the range has had its first send: what is left is
    /// waiting and retransmitting.
    pub fn all_sent(&self) -> bool {
        self.next >= self.end
            && self
                .windows
                .iter()
                .all(|w| !matches!(w.phase, Phase::Opening { .. }))
    }

    pub fn stats(&self) -> TrackerStats {
        TrackerStats {
            sent: self.sent,
            retransmitted: self.retransmitted,
            answered: self.answered,
            no_response: self.no_response,
            srtt: self.rtt.srtt(),
            rttvar: self.rtt.rttvar(),
            timeout: self.timeout,
            done: self.answered + self.no_response,
        }
    }
}

/// When a waiting window's pass is over: the deadline it was given, or
/// sooner if the timeout measured since is shorter. A pass that went out
/// before any reply was timed gets the initial (long) timeout; once replies
/// show the real round trip, waiting on for the initial guess would only
/// stall the scan (the first window's silent probes held a whole /16 sweep
/// for the 1 s initial timeout in about one run in five).
fn due(w: &Window, timeout: Duration) -> Option<Instant> {
    match w.phase {
        Phase::Waiting { deadline } => Some(deadline.min(w.last_sent + timeout)),
        _ => None,
    }
}

fn clamp(t: Duration, cfg: &TrackerConfig) -> Duration {
    t.max(cfg.min_timeout).min(cfg.max_timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashMap, HashSet};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn cfg(window: u32, max_windows: usize, max_retries: u8) -> TrackerConfig {
        TrackerConfig {
            window,
            max_windows,
            max_retries,
            initial_timeout: ms(100),
            min_timeout: ms(10),
            max_timeout: ms(1000),
            adaptive_retries: false,
        }
    }

    /// Outcome of a simulated scan.
    #[derive(Default)]
    struct Run {
        /// value → attempts sent, in order.
        sends: HashMap<u64, Vec<u8>>,
        no_response: Vec<u64>,
        /// Values whose reply `handle_reply` accepted.
        accepted: HashSet<u64>,
        max_windows_seen: usize,
        max_in_flight: usize,
        elapsed: Duration,
    }

    /// A virtual network: every probe that `drop` spares is answered
    /// `rtt` later. Up to `burst` probes leave per 1 ms tick.
    fn simulate(
        t: &mut Tracker,
        rtt: Duration,
        burst: usize,
        mut drop: impl FnMut(u64, u8) -> bool,
    ) -> Run {
        let t0 = Instant::now();
        let mut now = t0;
        let mut replies: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
        let mut run = Run::default();
        for _ in 0..1_000_000 {
            while let Some(&Reverse((at, v))) = replies.peek() {
                if at > now {
                    break;
                }
                replies.pop();
                if t.handle_reply(now, v) {
                    assert!(run.accepted.insert(v), "{v} accepted twice");
                }
            }
            if t.poll_timeout().is_some_and(|d| d <= now) {
                t.handle_timeout(now);
            }
            while let Some(Event::NoResponse { value }) = t.poll_event() {
                run.no_response.push(value);
            }
            if t.is_done() {
                run.elapsed = now - t0;
                return run;
            }
            for _ in 0..burst {
                let Some(tx) = t.poll_transmit(now) else {
                    break;
                };
                run.sends.entry(tx.value).or_default().push(tx.attempt);
                if !drop(tx.value, tx.attempt) {
                    replies.push(Reverse((now + rtt, tx.value)));
                }
            }
            run.max_windows_seen = run.max_windows_seen.max(t.windows.len());
            let in_flight: usize = t.windows.iter().map(|w| w.len as usize).sum();
            run.max_in_flight = run.max_in_flight.max(in_flight);
            now += ms(1);
        }
        panic!("simulation did not finish");
    }

    #[test]
    fn adaptive_retries_follow_the_loss_seen() {
        let n = 4000;
        let mut c = cfg(128, 3, 10);
        c.adaptive_retries = true;
        // No loss, a few silent probes: one retry only.
        let dropped: HashSet<u64> = (0..n).filter(|v| v % 100 == 7).collect();
        let mut t = Tracker::new(Permutation::new(n, 1), 0..n, c.clone());
        let run = simulate(&mut t, ms(5), 50, |v, _| dropped.contains(&v));
        assert_eq!(t.retries_allowed(), 1);
        for v in &dropped {
            assert_eq!(run.sends[v], vec![0, 1]);
        }
        // A third of the first sends are lost, a ninth of the second ones:
        // replies to attempt 1 allow 3 retries, replies to attempt 2 allow 4.
        let mut t = Tracker::new(Permutation::new(n, 1), 0..n, c);
        let run = simulate(&mut t, ms(5), 50, |v, a| {
            dropped.contains(&v) || (a == 0 && v % 3 == 0) || (a == 1 && v % 9 == 0)
        });
        assert_eq!(t.retries_allowed(), 4);
        let reported: HashSet<u64> = run.no_response.iter().copied().collect();
        assert_eq!(reported, dropped);
        t.assume_loss();
        assert_eq!(t.retries_allowed(), 10);
        assert_eq!(run.accepted.len() as u64, n - dropped.len() as u64);
    }

    #[test]
    fn a_back_off_grants_the_windows_in_flight_one_more_pass() {
        // Two retries; every send of value 5 is lost, the rest answer.
        let sends_of_5 = |back_off: bool| -> Vec<u8> {
            let n = 64;
            let mut t = Tracker::new(Permutation::new(n, 3), 0..n, cfg(64, 1, 2));
            let mut now = Instant::now();
            let (mut sent, mut timeouts) = (Vec::new(), 0);
            while !t.is_done() {
                while let Some(tx) = t.poll_transmit(now) {
                    if tx.value == 5 {
                        sent.push(tx.attempt);
                    } else {
                        t.handle_reply(now + ms(1), tx.value);
                    }
                }
                if t.poll_timeout().is_some_and(|d| d <= now) {
                    t.handle_timeout(now);
                    timeouts += 1;
                    if back_off && timeouts == 1 {
                        t.backed_off();
                    }
                }
                while t.poll_event().is_some() {}
                now += ms(10);
                assert!(timeouts < 50, "never finished: {sent:?}");
            }
            sent
        };
        assert_eq!(sends_of_5(false), [0, 1, 2]);
        assert_eq!(sends_of_5(true), [0, 1, 2, 3]);
    }

    #[test]
    fn low_watermark_marks_the_final_prefix() {
        let n = 1000;
        let mut t = Tracker::new(Permutation::new(n, 9), 100..n, cfg(64, 2, 1));
        assert_eq!(t.low_watermark(), 100);
        let t0 = Instant::now();
        let mut sent = Vec::new();
        while let Some(x) = t.poll_transmit(t0) {
            sent.push(x.value);
        }
        assert_eq!(sent.len(), 128);
        assert_eq!(t.low_watermark(), 100);
        // Answer the whole first window: it is final, the mark moves on.
        for v in &sent[..64] {
            assert!(t.handle_reply(t0, *v));
        }
        assert_eq!(t.low_watermark(), 164);
        let run = simulate(&mut t, ms(1), 100, |_, _| false);
        // The second window's first sends went unanswered; its retries and
        // the rest of the range are answered in the simulation.
        assert_eq!(run.accepted.len(), 900 - 64);
        assert_eq!(t.low_watermark(), n);
    }

    #[test]
    fn all_sent_once_every_first_send_is_out() {
        let n = 200;
        let mut t = Tracker::new(Permutation::new(n, 4), 0..n, cfg(64, 2, 1));
        let t0 = Instant::now();
        assert!(!t.all_sent());
        let mut sent = Vec::new();
        while let Some(x) = t.poll_transmit(t0) {
            sent.push(x.value);
        }
        // Two windows of 64 out: the rest of the range has not been sent.
        assert_eq!(sent.len(), 128);
        assert!(!t.all_sent());
        for v in &sent {
            assert!(t.handle_reply(t0, *v));
        }
        while let Some(x) = t.poll_transmit(t0) {
            sent.push(x.value);
        }
        assert_eq!(sent.len(), n as usize);
        // Unanswered, waiting: all sent, not done.
        assert!(t.all_sent());
        assert!(!t.is_done());
        for v in &sent[128..] {
            assert!(t.handle_reply(t0, *v));
        }
        assert!(t.is_done() && t.all_sent());
    }

    #[test]
    fn lossless_sends_each_probe_once() {
        let n = 10_000;
        let mut t = Tracker::new(Permutation::new(n, 5), 0..n, cfg(256, 4, 2));
        let run = simulate(&mut t, ms(20), 200, |_, _| false);
        assert_eq!(run.sends.len(), n as usize);
        assert!(run.sends.values().all(|a| a == &[0]));
        assert!(run.no_response.is_empty());
        assert_eq!(run.accepted.len(), n as usize);
        let s = t.stats();
        assert_eq!(
            (s.sent, s.retransmitted, s.answered, s.no_response, s.done),
            (n, 0, n, 0, n)
        );
        assert!(run.max_windows_seen <= 4);
        assert!(t.pool.len() <= 4);
        // The estimate converged on the simulated RTT (within the 1 ms tick
        // and the send spread of a 64-probe block).
        let srtt = s.srtt.unwrap();
        assert!(srtt >= ms(20) && srtt <= ms(22), "{srtt:?}");
    }

    #[test]
    fn rtt_is_measured_per_probe_under_slow_pacing() {
        // One probe per 1 ms tick: a 64-probe block spans 63 ms, yet each
        // sample is taken from that probe's own send time.
        let n = 2000;
        let mut t = Tracker::new(Permutation::new(n, 6), 0..n, cfg(256, 2, 1));
        let run = simulate(&mut t, ms(20), 1, |_, _| false);
        assert!(run.no_response.is_empty());
        let s = t.stats();
        assert_eq!(s.srtt, Some(ms(20)));
        assert_eq!(s.rttvar.map(|v| v < ms(1)), Some(true), "{:?}", s.rttvar);
        assert_eq!(s.timeout, ms(20) + s.rttvar.unwrap() * 4);
        assert_eq!(s.retransmitted, 0);
    }

    #[test]
    fn known_drops_are_reported_after_every_retry() {
        let n = 3000;
        let dropped: HashSet<u64> = (0..n).filter(|v| v % 7 == 3).collect();
        for retries in [0u8, 1, 2, 5] {
            let mut t = Tracker::new(Permutation::new(n, 11), 0..n, cfg(128, 3, retries));
            let run = simulate(&mut t, ms(5), 50, |v, _| dropped.contains(&v));
            let reported: HashSet<u64> = run.no_response.iter().copied().collect();
            assert_eq!(reported.len(), run.no_response.len(), "duplicate events");
            assert_eq!(reported, dropped);
            for (v, attempts) in &run.sends {
                if dropped.contains(v) {
                    let want: Vec<u8> = (0..=retries).collect();
                    assert_eq!(attempts, &want, "value {v}");
                } else {
                    assert_eq!(attempts, &[0], "value {v}");
                }
            }
            let s = t.stats();
            let d = dropped.len() as u64;
            assert_eq!(s.sent, n + d * u64::from(retries));
            assert_eq!(s.retransmitted, d * u64::from(retries));
            assert_eq!((s.answered, s.no_response, s.done), (n - d, d, n));
        }
    }

    #[test]
    fn random_loss_never_reports_answered_probes() {
        let n = 20_000;
        let mut rng = 0x1234_5678_9abc_def0u64;
        let mut lost = 0u64;
        let mut t = Tracker::new(Permutation::new(n, 3), 0..n, cfg(512, 8, 3));
        let run = simulate(&mut t, ms(30), 300, |_, _| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let drop = rng % 100 < 30;
            lost += u64::from(drop);
            drop
        });
        let reported: HashSet<u64> = run.no_response.iter().copied().collect();
        assert!(reported.is_disjoint(&run.accepted));
        assert_eq!(reported.len() + run.accepted.len(), n as usize);
        // 0.3^4 of 20 000 ≈ 162 probes lose all four sends.
        assert!(
            reported.len() > 60 && reported.len() < 320,
            "{}",
            reported.len()
        );
        for v in &reported {
            assert_eq!(run.sends[v], vec![0, 1, 2, 3]);
        }
        let s = t.stats();
        assert_eq!(
            s.sent,
            run.sends.values().map(|a| a.len() as u64).sum::<u64>()
        );
        assert_eq!(s.done, n);
        assert!(lost > 0);
    }

    #[test]
    fn window_bound_is_respected() {
        let n = 1000;
        let mut t = Tracker::new(Permutation::new(n, 1), 0..n, cfg(8, 2, 1));
        let t0 = Instant::now();
        let mut got = Vec::new();
        while let Some(tx) = t.poll_transmit(t0) {
            got.push(tx);
        }
        // Two windows of eight, nothing more until something is answered.
        assert_eq!(got.len(), 16);
        assert!(got.iter().all(|tx| tx.attempt == 0));
        assert_eq!(t.windows.len(), 2);
        // Answering all of the first window frees it at once.
        for tx in &got[..8] {
            assert!(t.handle_reply(t0 + ms(1), tx.value));
        }
        assert_eq!(t.windows.len(), 1);
        let mut more = 0;
        while t.poll_transmit(t0 + ms(1)).is_some() {
            more += 1;
        }
        assert_eq!(more, 8);
        // And under loss the simulation never exceeds the bound.
        let mut t = Tracker::new(Permutation::new(n, 1), 0..n, cfg(8, 2, 1));
        let run = simulate(&mut t, ms(3), 100, |v, _| v % 3 == 0);
        assert!(run.max_windows_seen <= 2);
        assert!(run.max_in_flight <= 16);
        assert!(t.pool.len() <= 2);
    }

    #[test]
    fn shards_cover_only_their_indices() {
        let n = 5000;
        let perm = Permutation::new(n, 77);
        let mut all = HashSet::new();
        for s in 0..3 {
            let range = crate::perm::shard_range(n, s, 3);
            let mut t = Tracker::new(perm.clone(), range.clone(), cfg(100, 4, 1));
            let run = simulate(&mut t, ms(2), 100, |_, _| false);
            let want: HashSet<u64> = range.clone().map(|i| perm.get(i)).collect();
            let got: HashSet<u64> = run.sends.keys().copied().collect();
            assert_eq!(got, want);
            assert!(all.is_disjoint(&got));
            all.extend(got);
            // A reply for another shard's probe is not ours.
            let other = perm.get((range.end) % n);
            assert!(!t.handle_reply(Instant::now(), other));
        }
        assert_eq!(all.len(), n as usize);
    }

    #[test]
    fn timeout_semantics() {
        let n = 4;
        let mut t = Tracker::new(Permutation::new(n, 9), 0..n, cfg(4, 1, 1));
        let t0 = Instant::now();
        assert_eq!(t.poll_timeout(), None);
        let mut values = Vec::new();
        for k in 0..4 {
            let tx = t.poll_transmit(t0 + ms(k)).unwrap();
            assert_eq!(tx.attempt, 0);
            values.push(tx.value);
            // Until the last probe of the pass is out, no deadline.
            if k < 3 {
                assert_eq!(t.poll_timeout(), None);
            }
        }
        assert_eq!(t.poll_transmit(t0 + ms(3)), None);
        // Deadline = last hand-out + the initial timeout.
        assert_eq!(t.poll_timeout(), Some(t0 + ms(3) + ms(100)));
        // Too early: nothing happens.
        t.handle_timeout(t0 + ms(102));
        assert_eq!(t.poll_transmit(t0 + ms(102)), None);
        assert_eq!(t.poll_event(), None);
        // One reply: 20 ms after its send (RFC 6298 first sample).
        assert!(t.handle_reply(t0 + ms(20), values[0]));
        assert!(!t.handle_reply(t0 + ms(21), values[0]), "duplicate");
        let s = t.stats();
        assert_eq!(s.srtt, Some(ms(20)));
        assert_eq!(s.rttvar, Some(ms(10)));
        assert_eq!(s.timeout, ms(60));
        // The pending deadline is pulled in to the shorter measured
        // timeout (last hand-out at 3 ms + 60 ms), never pushed out.
        assert_eq!(t.poll_timeout(), Some(t0 + ms(63)));
        t.handle_timeout(t0 + ms(103));
        assert_eq!(t.poll_timeout(), None);
        // The three unanswered go again, in order, as attempt 1.
        let mut resent = Vec::new();
        while let Some(tx) = t.poll_transmit(t0 + ms(110)) {
            assert_eq!(tx.attempt, 1);
            resent.push(tx.value);
        }
        assert_eq!(resent, values[1..].to_vec());
        // Now the new (measured) timeout applies.
        assert_eq!(t.poll_timeout(), Some(t0 + ms(110) + ms(60)));
        // A reply during the retry pass: answered, but not timed (Karn).
        assert!(t.handle_reply(t0 + ms(150), values[2]));
        assert_eq!(t.stats().srtt, Some(ms(20)));
        t.handle_timeout(t0 + ms(170));
        // Retries exhausted: the other two are final.
        assert_eq!(t.poll_transmit(t0 + ms(170)), None);
        assert!(!t.is_done(), "events not drained yet");
        let mut silent = Vec::new();
        while let Some(Event::NoResponse { value }) = t.poll_event() {
            silent.push(value);
        }
        assert_eq!(silent, vec![values[1], values[3]]);
        assert!(t.is_done());
        // A late reply after finalization changes nothing.
        assert!(!t.handle_reply(t0 + ms(500), values[1]));
        let s = t.stats();
        assert_eq!(
            (s.sent, s.retransmitted, s.answered, s.no_response, s.done),
            (7, 3, 2, 2, 4)
        );
    }

    #[test]
    fn late_reply_between_finalization_and_events_is_ignored() {
        let n = 2;
        let mut t = Tracker::new(Permutation::new(n, 1), 0..n, cfg(2, 1, 0));
        let t0 = Instant::now();
        let a = t.poll_transmit(t0).unwrap().value;
        let b = t.poll_transmit(t0).unwrap().value;
        t.handle_timeout(t0 + ms(100));
        assert!(!t.handle_reply(t0 + ms(101), a));
        let mut silent = Vec::new();
        while let Some(Event::NoResponse { value }) = t.poll_event() {
            silent.push(value);
        }
        assert_eq!(silent, vec![a, b]);
        assert!(t.is_done());
    }

    #[test]
    fn replies_for_unsent_or_foreign_values_are_rejected() {
        let n = 100;
        let perm = Permutation::new(n, 4);
        let mut t = Tracker::new(perm.clone(), 0..n, cfg(10, 1, 1));
        let t0 = Instant::now();
        let first = t.poll_transmit(t0).unwrap();
        assert_eq!(first.value, perm.get(0));
        // Index 1 is in the open window but not sent yet; index 50 is in no
        // window; 100 and beyond are outside the permutation.
        assert!(!t.handle_reply(t0, perm.get(1)));
        assert!(!t.handle_reply(t0, perm.get(50)));
        assert!(!t.handle_reply(t0, n));
        assert!(!t.handle_reply(t0, u64::MAX));
        assert_eq!(t.stats().answered, 0);
        assert!(t.handle_reply(t0, first.value));
        assert_eq!(t.stats().answered, 1);
    }

    #[test]
    fn resend_pass_answered_early_gets_deadline_from_last_send() {
        let n = 3;
        let mut t = Tracker::new(Permutation::new(n, 2), 0..n, cfg(3, 1, 2));
        let t0 = Instant::now();
        let v: Vec<u64> = (0..3).map(|_| t.poll_transmit(t0).unwrap().value).collect();
        t.handle_timeout(t0 + ms(100));
        let r = t.poll_transmit(t0 + ms(105)).unwrap();
        assert_eq!(
            r,
            Transmit {
                value: v[0],
                attempt: 1
            }
        );
        // The rest of the pass is answered before it is resent.
        assert!(t.handle_reply(t0 + ms(106), v[1]));
        assert!(t.handle_reply(t0 + ms(106), v[2]));
        assert_eq!(t.poll_transmit(t0 + ms(107)), None);
        assert_eq!(t.poll_timeout(), Some(t0 + ms(105) + ms(100)));
    }

    #[test]
    fn empty_and_clipped_ranges() {
        let mut t = Tracker::new(Permutation::new(0, 0), 0..0, TrackerConfig::default());
        assert!(t.is_done());
        assert_eq!(t.poll_transmit(Instant::now()), None);
        let mut t = Tracker::new(Permutation::new(5, 0), 3..99, cfg(64, 1, 0));
        let now = Instant::now();
        assert_eq!(
            t.poll_transmit(now).map(|x| x.value),
            Some(Permutation::new(5, 0).get(3))
        );
        assert_eq!(
            t.poll_transmit(now).map(|x| x.value),
            Some(Permutation::new(5, 0).get(4))
        );
        assert_eq!(t.poll_transmit(now), None);
    }

    #[test]
    fn default_config() {
        let c = TrackerConfig::default();
        assert_eq!(c.window, 4096);
        assert_eq!(c.max_windows, 16);
        assert_eq!(c.max_retries, 2);
        assert_eq!(c.initial_timeout, Duration::from_secs(1));
        assert_eq!(c.min_timeout, ms(50));
        assert_eq!(c.max_timeout, Duration::from_secs(10));
        let t = Tracker::new(Permutation::new(1, 0), 0..1, c);
        assert_eq!(t.stats().timeout, Duration::from_secs(1));
    }

    #[test]
    fn timeout_is_clamped() {
        let n = 64;
        let mut t = Tracker::new(Permutation::new(n, 8), 0..n, cfg(64, 1, 0));
        let t0 = Instant::now();
        let v = t.poll_transmit(t0).unwrap().value;
        assert!(t.handle_reply(t0 + Duration::from_secs(30), v));
        assert_eq!(t.stats().timeout, ms(1000));
        let mut t = Tracker::new(Permutation::new(n, 8), 0..n, cfg(64, 1, 0));
        let v = t.poll_transmit(t0).unwrap().value;
        assert!(t.handle_reply(t0, v));
        assert_eq!(t.stats().timeout, ms(10));
    }
}
