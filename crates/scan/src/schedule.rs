//! What every raw scan's scheduler looks like to the engine's one driver
//! loop (quinn's shape): the loop asks what to send, feeds replies and the
//! clock in, and drains the verdicts of silence. Time is passed in.
//!
//! Implemented by [`TcpSchedule`] (the retry [`Tracker`] and the adaptive
//! rate), [`UdpScheduler`](crate::udppace::UdpScheduler) (canary rounds under
//! ICMP rate limiting) and [`SweepSchedule`] (host discovery: a host is done
//! at its first reply).

use std::ops::Range;
use std::time::{Duration, Instant};

use crate::perm::Permutation;
use crate::ratectl::{RateConfig, RateController, RateReport};
use crate::tracker::{Event, Tracker, TrackerConfig};

/// The sans-IO side of a raw scan.
pub trait Schedule {
    /// What a validated reply tells the scheduler (beyond "answered").
    type Reply: Copy;

    /// The next probe id to send now, if any.
    fn poll_transmit(&mut self, now: Instant) -> Option<u64>;

    /// A validated reply to probe `value`. True when it is the probe's
    /// first verdict (the caller records it then).
    fn handle_reply(&mut self, now: Instant, value: u64, reply: Self::Reply) -> bool;

    /// When [`handle_timeout`](Self::handle_timeout) next has work.
    fn poll_timeout(&self) -> Option<Instant>;

    fn handle_timeout(&mut self, now: Instant);

    /// A probe concluded silent (every attempt unanswered).
    fn poll_event(&mut self) -> Option<u64>;

    /// Every probe of the schedule's range is final.
    fn is_done(&self) -> bool;

    /// Every probe has had its first send (only waits and retransmissions
    /// are left); `false` when the schedule cannot tell.
    fn all_sent(&self) -> bool {
        false
    }

    /// The current probe timeout (how long replies in flight may take).
    fn timeout(&self) -> Duration;

    /// Probes final and probes sent so far (progress).
    fn progress(&self) -> (u64, u64);

    /// The permutation index a resumed run may start from: every index of
    /// the range below it is final.
    fn resume_at(&self) -> u64;

    /// Probe `value` is final already (a resumed run's verdict): do not
    /// send it. Schedules whose range already excludes it ignore this.
    fn mark_final(&mut self, _value: u64) {}

    /// `n` probes went out at `now` (rate measurement).
    fn on_sent(&mut self, _now: Instant, _n: usize) {}

    /// A new send rate, when it changed (`Some(None)` = unlimited).
    fn poll_rate(&mut self, _now: Instant) -> Option<Option<f64>> {
        None
    }

    /// The retransmission totals: (sent, retransmitted).
    fn sent(&self) -> (u64, u64);

    /// The round-trip estimate, when replies were timed.
    fn rtt(&self) -> (Option<Duration>, Option<Duration>);

    /// What the adaptive rate did, for schedules that adapt it.
    fn rate_report(&self) -> Option<RateReport> {
        None
    }
}

/// The methods every tracker-based schedule delegates to its `tracker`.
macro_rules! tracker_schedule {
    () => {
        fn poll_timeout(&self) -> Option<Instant> {
            self.tracker.poll_timeout()
        }

        fn handle_timeout(&mut self, now: Instant) {
            self.tracker.handle_timeout(now);
        }

        fn poll_event(&mut self) -> Option<u64> {
            match self.tracker.poll_event()? {
                Event::NoResponse { value } => Some(value),
            }
        }

        fn is_done(&self) -> bool {
            self.tracker.is_done()
        }

        fn all_sent(&self) -> bool {
            self.tracker.all_sent()
        }

        fn timeout(&self) -> Duration {
            self.tracker.stats().timeout
        }

        fn progress(&self) -> (u64, u64) {
            let st = self.tracker.stats();
            (st.done, st.sent)
        }

        fn resume_at(&self) -> u64 {
            self.tracker.low_watermark()
        }

        fn sent(&self) -> (u64, u64) {
            let st = self.tracker.stats();
            (st.sent, st.retransmitted)
        }

        fn rtt(&self) -> (Option<Duration>, Option<Duration>) {
            let st = self.tracker.stats();
            (st.srtt, st.rttvar)
        }
    };
}

/// Raw TCP port scans: the retry [`Tracker`] plus the adaptive rate.
#[derive(Debug)]
pub struct TcpSchedule {
    tracker: Tracker,
    ctl: RateController,
    /// A rate change waiting for [`Schedule::poll_rate`].
    changed: Option<Option<f64>>,
}

impl TcpSchedule {
    pub fn new(
        perm: Permutation,
        range: Range<u64>,
        cfg: TrackerConfig,
        rate: RateConfig,
        now: Instant,
    ) -> TcpSchedule {
        let ctl = RateController::new(rate, now);
        TcpSchedule {
            tracker: Tracker::new(perm, range, cfg),
            changed: Some(ctl.rate()),
            ctl,
        }
    }

    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }
}

impl Schedule for TcpSchedule {
    tracker_schedule!();

    type Reply = ();

    fn poll_transmit(&mut self, now: Instant) -> Option<u64> {
        self.tracker.poll_transmit(now).map(|t| t.value)
    }

    fn handle_reply(&mut self, now: Instant, value: u64, _: ()) -> bool {
        self.tracker.handle_reply(now, value)
    }

    fn on_sent(&mut self, now: Instant, n: usize) {
        self.ctl.on_sent(now, n);
    }

    /// Reads the loss samples the tracker produced (replies and ended
    /// passes) into the rate controller.
    fn poll_rate(&mut self, now: Instant) -> Option<Option<f64>> {
        while let Some(s) = self.tracker.poll_loss() {
            let backoffs = self.ctl.report().backoffs;
            if self.ctl.on_sample(now, &s) {
                self.changed = Some(self.ctl.rate());
                // (Every retry stays allowed after the first back-off:
                // the tracker's loss evidence only grows.)
                if self.ctl.report().backoffs > backoffs {
                    self.tracker.backed_off();
                }
            }
        }
        self.changed.take()
    }

    fn rate_report(&self) -> Option<RateReport> {
        Some(self.ctl.report())
    }
}

/// Host discovery: `hosts × probes` ids (`host * nprobes + probe`) walked
/// by the retry tracker; a host is done at its first reply, and its other
/// probes are not sent any more.
#[derive(Debug)]
pub struct SweepSchedule {
    tracker: Tracker,
    nprobes: u64,
    up: Vec<u64>,
    found: u64,
}

impl SweepSchedule {
    pub fn new(perm: Permutation, hosts: u64, nprobes: u64, cfg: TrackerConfig) -> SweepSchedule {
        let total = perm.len();
        SweepSchedule {
            tracker: Tracker::new(perm, 0..total, cfg),
            nprobes: nprobes.max(1),
            up: vec![0; hosts.div_ceil(64) as usize],
            found: 0,
        }
    }

    fn is_up(&self, host: u64) -> bool {
        self.up
            .get((host / 64) as usize)
            .is_some_and(|w| w & (1 << (host % 64)) != 0)
    }

    /// Hosts found up so far.
    pub fn found(&self) -> u64 {
        self.found
    }
}

impl Schedule for SweepSchedule {
    tracker_schedule!();

    type Reply = ();

    fn poll_transmit(&mut self, now: Instant) -> Option<u64> {
        loop {
            let t = self.tracker.poll_transmit(now)?;
            if !self.is_up(t.value / self.nprobes) {
                return Some(t.value);
            }
        }
    }

    fn handle_reply(&mut self, now: Instant, value: u64, _: ()) -> bool {
        self.tracker.handle_reply(now, value);
        let host = value / self.nprobes;
        let Some(w) = self.up.get_mut((host / 64) as usize) else {
            return false;
        };
        let bit = 1 << (host % 64);
        if *w & bit != 0 {
            return false;
        }
        *w |= bit;
        self.found += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_stops_probing_a_host_at_its_first_reply() {
        let t0 = Instant::now();
        let cfg = TrackerConfig {
            max_retries: 2,
            adaptive_retries: false,
            ..TrackerConfig::default()
        };
        // 4 hosts × 3 probes.
        let mut s = SweepSchedule::new(Permutation::new(12, 5), 4, 3, cfg);
        let first = s.poll_transmit(t0).unwrap();
        let host = first / 3;
        assert!(s.handle_reply(t0, first, ()));
        assert!(!s.handle_reply(t0, first, ()), "a second reply is no news");
        let mut rest = Vec::new();
        while let Some(v) = s.poll_transmit(t0) {
            rest.push(v);
        }
        assert!(rest.iter().all(|v| v / 3 != host), "{rest:?}");
        assert_eq!(s.found(), 1);
    }
}
