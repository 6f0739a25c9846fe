//! A token bucket: how many probes may go out now.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Pacer {
    rate: Option<f64>,
    tokens: f64,
    burst: f64,
    last: Instant,
}

impl Pacer {
    pub(crate) fn new(rate: Option<f64>, burst: usize, now: Instant) -> Pacer {
        let burst = burst as f64;
        Pacer {
            rate,
            tokens: if rate.is_some() { 1.0 } else { burst },
            burst,
            last: now,
        }
    }

    /// Change the rate from `now` on (tokens earned so far are kept). A
    /// limited rate also limits the burst to about 2 ms worth of probes, so
    /// a rate limiter on the path with a small bucket sees an even flow.
    pub(crate) fn set_rate(&mut self, rate: Option<f64>, max_burst: usize, now: Instant) {
        self.allowance(now);
        self.rate = rate;
        self.burst = match rate {
            Some(r) => (r * 0.002).clamp(1.0, max_burst as f64),
            None => max_burst as f64,
        };
        self.tokens = self.tokens.min(self.burst);
    }

    /// Probes allowed now (at most the burst).
    pub(crate) fn allowance(&mut self, now: Instant) -> usize {
        let Some(rate) = self.rate else {
            return self.burst as usize;
        };
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * rate).min(self.burst.max(1.0));
        self.tokens.floor() as usize
    }

    pub(crate) fn spend(&mut self, n: usize) {
        if self.rate.is_some() {
            self.tokens -= n as f64;
        }
    }

    /// How long until one more token exists.
    pub(crate) fn wait(&self) -> Duration {
        match self.rate {
            Some(rate) if self.tokens < 1.0 => Duration::from_secs_f64((1.0 - self.tokens) / rate),
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_gives_bursts() {
        let t0 = Instant::now();
        let mut p = Pacer::new(None, 64, t0);
        assert_eq!(p.allowance(t0), 64);
        p.spend(64);
        assert_eq!(p.allowance(t0), 64);
        assert_eq!(p.wait(), Duration::ZERO);
    }

    #[test]
    fn limited_rate_accrues_tokens() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(1000.0), 64, t0);
        assert_eq!(p.allowance(t0), 1);
        p.spend(1);
        assert_eq!(p.allowance(t0), 0);
        assert_eq!(p.wait(), Duration::from_millis(1));
        assert_eq!(p.allowance(t0 + Duration::from_millis(10)), 10);
        // capped at the burst
        assert_eq!(p.allowance(t0 + Duration::from_secs(10)), 64);
    }

    #[test]
    fn rate_changes_keep_tokens_and_bound_the_burst() {
        let t0 = Instant::now();
        let mut p = Pacer::new(None, 256, t0);
        assert_eq!(p.allowance(t0), 256);
        // Down to 5000/s: the burst is 10 probes (2 ms).
        p.set_rate(Some(5000.0), 256, t0);
        assert_eq!(p.allowance(t0), 10);
        p.spend(10);
        assert_eq!(p.allowance(t0 + Duration::from_millis(1)), 5);
        assert_eq!(p.allowance(t0 + Duration::from_secs(1)), 10);
        // Up to 1e6/s: the burst is the batch again.
        p.set_rate(Some(1e6), 256, t0 + Duration::from_secs(1));
        assert_eq!(p.allowance(t0 + Duration::from_secs(2)), 256);
        // And back to unlimited.
        p.set_rate(None, 256, t0 + Duration::from_secs(2));
        p.spend(256);
        assert_eq!(p.allowance(t0 + Duration::from_secs(2)), 256);
        assert_eq!(p.wait(), Duration::ZERO);
    }
}
