//! RFC 6298's round-trip estimator, shared by the raw tracker and the
//! connect driver.

use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
}

impl RttEstimator {
    /// Feed one round-trip sample.
    pub fn sample(&mut self, s: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(s);
                self.rttvar = s / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(s);
                self.rttvar = (self.rttvar.saturating_mul(3) + diff) / 4;
                self.srtt = Some((srtt.saturating_mul(7) + s) / 8);
            }
        }
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// `None` until the first sample.
    pub fn rttvar(&self) -> Option<Duration> {
        self.srtt.map(|_| self.rttvar)
    }

    /// srtt + 4·rttvar (zero before any sample).
    pub fn rto(&self) -> Duration {
        self.srtt
            .unwrap_or_default()
            .saturating_add(self.rttvar.saturating_mul(4))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_rfc6298() {
        let ms = Duration::from_millis;
        let mut e = RttEstimator::default();
        assert_eq!((e.srtt(), e.rttvar()), (None, None));
        e.sample(ms(100));
        assert_eq!(
            (e.srtt(), e.rttvar(), e.rto()),
            (Some(ms(100)), Some(ms(50)), ms(300))
        );
        e.sample(ms(20));
        // rttvar = 3/4·50 + 1/4·80 = 57.5; srtt = 7/8·100 + 1/8·20 = 90
        assert_eq!(e.srtt(), Some(ms(90)));
        assert_eq!(e.rttvar(), Some(Duration::from_micros(57_500)));
    }
}
