//! Adaptive send rate: start fast, back off when the loss grows with the
//! rate, recover on clean rounds. Sans-IO: time is passed in.
//!
//! The loss signal comes from the [`Tracker`](crate::tracker::Tracker)'s
//! [`LossSample`]s: for one window, the replies that answered a pass and
//! the replies that only answered its retransmission. Silent probes answer
//! neither, so a scan full of filtered ports or dead hosts shows no loss;
//! only probes that do answer (RSTs, SYN-ACKs) measure it. If each pass
//! loses a fraction L of what it sends, `retry / before` is L.
//!
//! Random loss (a lossy link) does not depend on the rate; congestion (a
//! rate limiter, a full queue) does. So a sample is congestion only when
//! its loss is clearly above the loss measured at lower rates; with no
//! lower-rate measurement yet, above [`PRIOR`] (random loss of a few
//! percent never throttles), unless slowing down already failed to lower
//! it (then the loss is random too, and the rate holds). One decision per round: after a
//! change, samples from passes that began before it are ignored.
//!
//! On congestion the rate drops to what the path delivered (the rate times
//! the measured delivery ratio, with a margin), between 1/16 and 0.7 of
//! it; on a clean round it grows by 25% while far below the last back-off,
//! 5% near it. Never below the floor, never above the ceiling; a fixed
//! rate never moves.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::tracker::LossSample;

/// Loss ratio that counts as congestion while no lower rate was measured.
pub const PRIOR: f64 = 0.25;
/// A loss ratio this high is never taken for random loss.
const RANDOM_MAX: f64 = 0.6;
/// How far above the lower-rate loss a sample must be (plus noise).
const MARGIN: f64 = 0.05;
/// Samples with fewer replies than this say nothing.
const MIN_REPLIES: u32 = 64;
/// Replies a sample needs before it may clear a loss as random.
const SURE_REPLIES: u32 = 128;
/// Samples remembered to compare rates.
const HISTORY: usize = 32;
/// Width of the buckets the peak send rate is measured over.
const BUCKET: Duration = Duration::from_millis(20);

/// The rate limits of a scan, packets per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateConfig {
    /// Where to start; `None` = the ceiling (unlimited without one).
    pub initial: Option<f64>,
    /// Never below (`--min-rate`, or the timing template's floor).
    pub floor: f64,
    /// Never above (`--max-rate`); `None` = no ceiling.
    pub ceiling: Option<f64>,
    /// `--rate`: the rate never moves.
    pub fixed: bool,
}

/// What the controller did, for the verbose report.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateReport {
    /// Highest send rate measured (over 20 ms buckets), packets/s.
    pub peak_sent: f64,
    /// The rate cap at the end; `None` = unlimited.
    pub final_rate: Option<f64>,
    /// The lowest rate cap set, if any.
    pub lowest: Option<f64>,
    pub backoffs: u32,
    pub increases: u32,
    /// Judgements made (samples pooled until they carry enough replies).
    pub samples: u32,
    /// Replies to a retransmission over replies to the pass before it,
    /// over the whole scan.
    pub loss: f64,
}

#[derive(Debug, Clone)]
pub struct RateController {
    cfg: RateConfig,
    rate: Option<f64>,
    last_change: Instant,
    /// (rate the sample was sent at, loss ratio), newest last.
    history: VecDeque<(f64, f64)>,
    /// The rate of the last back-off, and whether the scan was unlimited
    /// before it.
    last_backoff: Option<(f64, bool)>,
    bucket_start: Instant,
    bucket_sent: u64,
    peak: f64,
    before: u64,
    retry: u64,
    /// Replies of fresh samples too small to judge alone.
    pool: (u32, u32),
    report: RateReport,
}

impl RateController {
    pub fn new(cfg: RateConfig, now: Instant) -> RateController {
        let mut cfg = cfg;
        cfg.floor = cfg.floor.max(f64::MIN_POSITIVE);
        if let Some(c) = cfg.ceiling {
            cfg.ceiling = Some(c.max(cfg.floor));
        }
        let rate = match (cfg.initial, cfg.ceiling) {
            (Some(r), Some(c)) => Some(r.min(c)),
            (r, c) => r.or(c),
        }
        .map(|r| r.max(cfg.floor));
        RateController {
            cfg,
            rate,
            last_change: now,
            history: VecDeque::new(),
            last_backoff: None,
            bucket_start: now,
            bucket_sent: 0,
            peak: 0.0,
            before: 0,
            retry: 0,
            pool: (0, 0),
            report: RateReport {
                final_rate: rate,
                lowest: rate,
                ..RateReport::default()
            },
        }
    }

    /// The rate cap now, packets per second; `None` = unlimited.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// `n` probes went out at `now` (measures the peak send rate, the
    /// base of a back-off from unlimited).
    pub fn on_sent(&mut self, now: Instant, n: usize) {
        let dt = now.saturating_duration_since(self.bucket_start);
        if dt >= BUCKET {
            self.close_bucket(dt);
            self.bucket_start = now;
            self.bucket_sent = 0;
        }
        self.bucket_sent += n as u64;
    }

    fn close_bucket(&mut self, dt: Duration) {
        let r = self.bucket_sent as f64 / dt.as_secs_f64();
        self.peak = self.peak.max(r);
    }

    /// The highest send rate measured so far.
    pub fn peak(&self) -> f64 {
        self.peak
    }

    /// Feed one loss sample; returns `true` if the rate changed. Samples
    /// with few replies (a window of mostly silent probes, or heavy loss)
    /// are pooled until together they carry enough.
    pub fn on_sample(&mut self, now: Instant, s: &LossSample) -> bool {
        self.before += u64::from(s.answered_before);
        self.retry += u64::from(s.answered_retry);
        if self.cfg.fixed || s.since < self.last_change {
            return false;
        }
        self.pool.0 += s.answered_before;
        self.pool.1 += s.answered_retry;
        let (before, retry) = self.pool;
        if before + retry < MIN_REPLIES {
            return false;
        }
        self.pool = (0, 0);
        self.report.samples += 1;
        let ratio = (f64::from(retry) / f64::from(before.max(1))).min(16.0);
        // The rate the sample's passes went out at.
        let at = match self.rate {
            Some(r) => r,
            None => {
                // Count the bucket in progress too.
                let dt = now.saturating_duration_since(self.bucket_start);
                if dt >= Duration::from_millis(1) {
                    self.close_bucket(dt);
                }
                self.peak.max(1.0)
            }
        };
        let lower = self.min_loss(|r| r <= 0.8 * at);
        let higher = self.min_loss(|r| r >= 1.25 * at);
        // Three standard deviations of the ratio if the loss were `l`.
        let noise = |l: f64| 3.0 * (l.max(0.01) / f64::from(before.max(1))).sqrt();
        let mut hold = false;
        let congested = match (lower, higher) {
            (Some(f), _) => ratio > f + MARGIN + noise(f),
            // Slowing down did not lower a moderate loss: it is not the
            // rate's. Only on a well-measured sample (when in doubt, back
            // off: exact results matter more than speed); past RANDOM_MAX
            // loss is always taken as congestion.
            // The rate holds: random loss says nothing about going faster.
            (None, Some(g))
                if before >= SURE_REPLIES && ratio < RANDOM_MAX && ratio >= g - MARGIN =>
            {
                hold = true;
                false
            }
            (None, _) => ratio > PRIOR + noise(PRIOR),
        };
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((at, ratio));
        let new = if congested {
            let floor_loss = lower.unwrap_or(0.0).min(0.9);
            let delivered = (1.0 - ratio.min(0.95)) / (1.0 - floor_loss);
            let factor = (delivered * 0.9).clamp(1.0 / 16.0, 0.7);
            let was_unlimited = self.rate.is_none() || self.last_backoff.is_some_and(|b| b.1);
            self.last_backoff = Some((at, was_unlimited));
            self.report.backoffs += 1;
            Some(at * factor)
        } else {
            let Some(r) = self.rate.filter(|_| !hold) else {
                return false;
            };
            let far = self.last_backoff.is_none_or(|(b, _)| r < 0.5 * b);
            let up = r * if far { 1.25 } else { 1.05 };
            self.report.increases += 1;
            match self.cfg.ceiling {
                Some(c) => Some(up.min(c)),
                // Back to unlimited once above what it sent unlimited.
                None if self.last_backoff.is_some_and(|b| b.1) && up > self.peak => None,
                None => Some(up),
            }
        };
        let new = new.map(|r| r.max(self.cfg.floor));
        if new == self.rate {
            return false;
        }
        self.rate = new;
        self.last_change = now;
        self.pool = (0, 0);
        self.report.final_rate = new;
        if let Some(r) = new {
            self.report.lowest = Some(self.report.lowest.map_or(r, |l| l.min(r)));
        }
        true
    }

    fn min_loss(&self, keep: impl Fn(f64) -> bool) -> Option<f64> {
        self.history
            .iter()
            .filter(|(r, _)| keep(*r))
            .map(|(_, l)| *l)
            .reduce(f64::min)
    }

    pub fn report(&self) -> RateReport {
        let mut r = self.report;
        r.peak_sent = self.peak;
        r.loss = if self.before == 0 {
            0.0
        } else {
            self.retry as f64 / self.before as f64
        };
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perm::Permutation;
    use crate::tracker::{Event, Tracker, TrackerConfig};
    use std::cmp::Reverse;
    use std::collections::{BinaryHeap, HashSet};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A simulated path: a token bucket of `capacity` probes per second
    /// (burst: 2 ms worth) drops the excess; then each probe and each reply is
    /// lost with probability `loss`. Every `silent`-th probe never answers.
    struct Path {
        capacity: Option<f64>,
        burst: f64,
        tokens: f64,
        last: Instant,
        loss: f64,
        rng: u64,
    }

    impl Path {
        fn new(capacity: Option<f64>, loss: f64, t0: Instant) -> Path {
            // Two 1 ms ticks' worth, at least 20.
            let burst = capacity.map_or(20.0, |c| (c / 500.0).max(20.0));
            Path {
                capacity,
                burst,
                tokens: burst,
                last: t0,
                loss,
                rng: 0x9e37_79b9_7f4a_7c15,
            }
        }

        fn coin(&mut self) -> f64 {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            (self.rng >> 11) as f64 / (1u64 << 53) as f64
        }

        /// Does a probe sent at `now` get an answer back?
        fn passes(&mut self, now: Instant) -> bool {
            if let Some(c) = self.capacity {
                let dt = now.saturating_duration_since(self.last).as_secs_f64();
                self.last = now;
                self.tokens = (self.tokens + dt * c).min(self.burst);
                if self.tokens < 1.0 {
                    return false;
                }
                self.tokens -= 1.0;
            }
            self.coin() >= self.loss && self.coin() >= self.loss
        }
    }

    struct Run {
        ctl: RateController,
        tracker: Tracker,
        /// Probes reported silent.
        silent: HashSet<u64>,
        /// (time, rate cap) after every change.
        rates: Vec<(Duration, Option<f64>)>,
    }

    /// Scan `n` probes over `path`; up to `fast` probes leave per 1 ms tick
    /// when the rate is unlimited (the machine's speed).
    fn scan(n: u64, silent_every: u64, cfg: RateConfig, mut path: Path, fast: usize) -> Run {
        let t0 = path.last;
        let tcfg = TrackerConfig {
            window: 1024,
            max_windows: 128,
            max_retries: 10,
            initial_timeout: ms(100),
            min_timeout: ms(20),
            max_timeout: ms(1000),
            adaptive_retries: true,
        };
        let mut tracker = Tracker::new(Permutation::new(n, 3), 0..n, tcfg);
        let mut ctl = RateController::new(cfg, t0);
        let mut replies: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
        let mut silent = HashSet::new();
        let mut rates = vec![(Duration::ZERO, ctl.rate())];
        let mut now = t0;
        let mut credit = 0.0;
        for _ in 0..2_000_000 {
            while let Some(&Reverse((at, v))) = replies.peek() {
                if at > now {
                    break;
                }
                replies.pop();
                tracker.handle_reply(now, v);
            }
            if tracker.poll_timeout().is_some_and(|d| d <= now) {
                tracker.handle_timeout(now);
            }
            while let Some(Event::NoResponse { value }) = tracker.poll_event() {
                silent.insert(value);
            }
            while let Some(s) = tracker.poll_loss() {
                if std::env::var_os("RATECTL_DEBUG").is_some() {
                    eprintln!("{:?} {s:?} {:?}", now - t0, ctl.rate());
                }
                if ctl.on_sample(now, &s) {
                    rates.push((now - t0, ctl.rate()));
                }
            }
            if tracker.is_done() {
                return Run {
                    ctl,
                    tracker,
                    silent,
                    rates,
                };
            }
            let allowed = match ctl.rate() {
                None => fast,
                Some(r) => {
                    credit = (credit + r / 1000.0).min(r / 1000.0 + 1.0);
                    credit as usize
                }
            };
            let mut sent = 0;
            while sent < allowed {
                let Some(tx) = tracker.poll_transmit(now) else {
                    break;
                };
                sent += 1;
                if tx.value % silent_every != 0 && path.passes(now) {
                    replies.push(Reverse((now + ms(2), tx.value)));
                }
            }
            if ctl.rate().is_some() {
                credit -= sent as f64;
            }
            ctl.on_sent(now, sent);
            now += ms(1);
        }
        panic!("the simulated scan did not finish");
    }

    fn expected_silent(n: u64, every: u64) -> HashSet<u64> {
        (0..n).filter(|v| v % every == 0).collect()
    }

    fn adaptive(floor: f64) -> RateConfig {
        RateConfig {
            initial: None,
            floor,
            ceiling: None,
            fixed: false,
        }
    }

    #[test]
    fn converges_near_the_capacity() {
        for c in [1500.0, 5000.0, 40_000.0] {
            let t0 = Instant::now();
            let n = 60_000;
            let run = scan(n, 50, adaptive(100.0), Path::new(Some(c), 0.0, t0), 600);
            let rep = run.ctl.report();
            if std::env::var_os("RATECTL_DEBUG").is_some() {
                eprintln!("{rep:?}\n{:?}\n{:?}", run.rates, run.tracker.stats());
            }
            let want = expected_silent(n, 50);
            assert_eq!(
                run.silent.symmetric_difference(&want).count(),
                0,
                "capacity {c}: {rep:?} {:?} {:?}",
                run.rates,
                run.tracker.stats()
            );
            assert!(rep.backoffs >= 1, "{rep:?}");
            // Once settled (the second half of the scan), the cap stays
            // within a factor of two of the capacity: no wild swings.
            let end = run.rates.last().unwrap().0;
            for (t, r) in run.rates.iter().filter(|(t, _)| *t >= end / 2) {
                let r = r.expect("limited");
                assert!(
                    r >= c / 2.0 && r <= c * 2.0,
                    "{c}: {r} at {t:?} in {:?}",
                    run.rates
                );
            }
            let last = rep.final_rate.unwrap();
            assert!(last >= c * 0.6 && last <= c * 1.5, "{c}: {:?}", run.rates);
            // Most probes went through once or twice, not ten times.
            let st = run.tracker.stats();
            assert!(st.sent < 3 * n, "{c}: {st:?}");
        }
    }

    #[test]
    fn random_loss_alone_never_throttles() {
        for loss in [0.02, 0.05, 0.10] {
            let t0 = Instant::now();
            let n = 40_000;
            let run = scan(n, 20, adaptive(100.0), Path::new(None, loss, t0), 400);
            let rep = run.ctl.report();
            assert_eq!(rep.backoffs, 0, "loss {loss}: {rep:?}");
            assert_eq!(rep.final_rate, None);
            assert!(rep.samples > 10, "{rep:?}");
            // Two chances to be lost per round trip.
            let want = 1.0 - (1.0 - loss) * (1.0 - loss);
            assert!((rep.loss - want).abs() < 0.03, "loss {loss}: {rep:?}");
            assert!(run.silent == expected_silent(n, 20), "inexact");
        }
    }

    #[test]
    fn heavy_random_loss_costs_at_most_one_backoff() {
        let t0 = Instant::now();
        let n = 40_000;
        let run = scan(n, 20, adaptive(100.0), Path::new(None, 0.2, t0), 400);
        let rep = run.ctl.report();
        assert!(rep.backoffs <= 1, "{rep:?} {:?}", run.rates);
        assert!(rep.lowest.is_none_or(|l| l > 50_000.0), "{:?}", run.rates);
    }

    #[test]
    fn floor_and_ceiling_hold() {
        let t0 = Instant::now();
        let n = 20_000;
        // The floor is above the capacity: the controller wants lower and
        // may not go there.
        let run = scan(
            n,
            40,
            adaptive(8000.0),
            Path::new(Some(2000.0), 0.0, t0),
            600,
        );
        assert!(run.rates.iter().all(|(_, r)| r.is_none_or(|r| r >= 8000.0)));
        assert_eq!(run.ctl.report().lowest, Some(8000.0));
        // A ceiling below the capacity: starts there and never exceeds it.
        let cfg = RateConfig {
            initial: None,
            floor: 100.0,
            ceiling: Some(3000.0),
            fixed: false,
        };
        let run = scan(n, 40, cfg, Path::new(Some(5000.0), 0.0, t0), 600);
        assert_eq!(run.rates[0].1, Some(3000.0));
        assert!(run
            .rates
            .iter()
            .all(|(_, r)| r.is_some_and(|r| r <= 3000.0)));
        assert_eq!(run.ctl.report().backoffs, 0);
        assert!(run.silent == expected_silent(n, 40), "inexact");
    }

    #[test]
    fn fixed_rate_never_moves() {
        let t0 = Instant::now();
        let cfg = RateConfig {
            initial: Some(20_000.0),
            floor: 20_000.0,
            ceiling: Some(20_000.0),
            fixed: true,
        };
        let run = scan(20_000, 40, cfg, Path::new(Some(5000.0), 0.0, t0), 600);
        assert_eq!(run.rates, vec![(Duration::ZERO, Some(20_000.0))]);
        let rep = run.ctl.report();
        assert_eq!((rep.backoffs, rep.increases), (0, 0));
        // It saw the loss all the same.
        assert!(rep.loss > 0.5, "{rep:?}");
    }

    #[test]
    fn initial_rate_is_clamped() {
        let t0 = Instant::now();
        let c = |initial, floor, ceiling| {
            RateController::new(
                RateConfig {
                    initial,
                    floor,
                    ceiling,
                    fixed: false,
                },
                t0,
            )
            .rate()
        };
        assert_eq!(c(None, 10.0, None), None);
        assert_eq!(c(None, 10.0, Some(50.0)), Some(50.0));
        assert_eq!(c(Some(100.0), 10.0, Some(50.0)), Some(50.0));
        assert_eq!(c(Some(5.0), 10.0, Some(50.0)), Some(10.0));
        // A ceiling below the floor is raised to it.
        assert_eq!(c(None, 10.0, Some(5.0)), Some(10.0));
    }

    #[test]
    fn small_and_stale_samples_are_ignored() {
        let t0 = Instant::now();
        let mut ctl = RateController::new(
            RateConfig {
                initial: Some(10_000.0),
                floor: 1.0,
                ceiling: None,
                fixed: false,
            },
            t0,
        );
        let s = |before, retry, since| LossSample {
            answered_before: before,
            answered_retry: retry,
            since,
        };
        // Too few replies: nothing learnt yet.
        assert!(!ctl.on_sample(t0 + ms(10), &s(3, 10, t0)));
        assert_eq!(ctl.rate(), Some(10_000.0));
        // Heavy loss: back off, by 16 at most.
        assert!(ctl.on_sample(t0 + ms(20), &s(100, 400, t0)));
        let r = ctl.rate().unwrap();
        assert_eq!(r, 625.0);
        // A sample from passes that began before the change is stale.
        assert!(!ctl.on_sample(t0 + ms(30), &s(100, 400, t0 + ms(5))));
        assert_eq!(ctl.rate(), Some(r));
        // A clean one after it: far below the back-off, +25%.
        assert!(ctl.on_sample(t0 + ms(40), &s(500, 0, t0 + ms(25))));
        assert_eq!(ctl.rate(), Some(r * 1.25));
        // Near the back-off rate, +5%.
        let mut ctl2 = ctl.clone();
        ctl2.rate = Some(9000.0);
        assert!(ctl2.on_sample(t0 + ms(50), &s(500, 0, t0 + ms(45))));
        assert_eq!(ctl2.rate(), Some(9000.0 * 1.05));
        let rep = ctl.report();
        // The first two were judged together.
        assert_eq!((rep.backoffs, rep.increases, rep.samples), (1, 1, 2));
        // Every sample counts in the loss seen.
        assert!((rep.loss - 810.0 / 703.0).abs() < 1e-9, "{rep:?}");
    }

    proptest::proptest! {
        /// Whatever the samples say, the rate stays within the floor and
        /// the ceiling, and a fixed rate never moves.
        #[test]
        fn rate_stays_within_limits(
            floor in 1.0f64..5000.0,
            span in proptest::option::of(1.0f64..100.0),
            initial in proptest::option::of(1.0f64..1e6),
            fixed in proptest::bool::ANY,
            samples in proptest::collection::vec((0u32..5000, 0u32..5000, 0u64..50, 0u32..10), 0..200),
        ) {
            let t0 = Instant::now();
            let ceiling = span.map(|k| floor * k);
            let cfg = RateConfig { initial, floor, ceiling, fixed };
            let mut ctl = RateController::new(cfg, t0);
            let start = ctl.rate();
            let mut now = t0;
            for (before, retry, back, sent) in samples {
                now += ms(7);
                ctl.on_sent(now, sent as usize * 100);
                let since = now.checked_sub(ms(back)).unwrap_or(t0);
                ctl.on_sample(now, &LossSample { answered_before: before, answered_retry: retry, since });
                match ctl.rate() {
                    Some(r) => {
                        proptest::prop_assert!(r >= floor);
                        if let Some(c) = ceiling {
                            proptest::prop_assert!(r <= c * (1.0 + 1e-9));
                        }
                    }
                    None => proptest::prop_assert!(ceiling.is_none()),
                }
                if fixed {
                    proptest::prop_assert_eq!(ctl.rate(), start);
                }
            }
            let rep = ctl.report();
            proptest::prop_assert!(rep.loss >= 0.0 && rep.loss.is_finite());
        }
    }
}
