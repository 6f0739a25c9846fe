//! The immutable scan plan shared by every engine thread.

use std::net::IpAddr;
use std::time::Duration;

use vigie_scan::cookie::Keys;
use vigie_scan::perm::Permutation;
use vigie_scan::ports::PortList;
use vigie_scan::targets::TargetSet;
use vigie_scan::tracker::TrackerConfig;
use vigie_scan::Technique;
use vigie_wire::tcp::TcpFlags;

use crate::EngineError;

/// Concrete timing numbers (what `-T0`..`-T5` and the rtt/retry/rate flags
/// resolve to).
#[derive(Debug, Clone)]
pub struct Timing {
    pub initial_rtt_timeout: Duration,
    pub min_rtt_timeout: Duration,
    pub max_rtt_timeout: Duration,
    pub max_retries: u8,
    /// Packets per second ceiling (`--max-rate`); `None` = as fast as the
    /// windows allow.
    pub max_rate: Option<f64>,
    /// Packets per second floor (`--min-rate`): the pacer never goes below.
    pub min_rate: Option<f64>,
    /// Connect-scan concurrency.
    pub parallelism: usize,
    /// Give up on hosts not finished after this long (`--host-timeout`).
    /// Every host of a run is scanned at once, interleaved, so this is a
    /// deadline for the whole run; hosts left unfinished are reported as
    /// timed out.
    pub host_timeout: Option<Duration>,
}

impl Timing {
    /// The `-T` template: 0 paranoid … 5 insane. 3 is the default.
    pub fn template(level: u8) -> Timing {
        let ms = Duration::from_millis;
        let (initial, min, max, retries, rate, par) = match level {
            0 => (ms(5000), ms(100), ms(10_000), 10, Some(0.2), 1),
            1 => (ms(5000), ms(100), ms(10_000), 10, Some(2.0), 1),
            2 => (ms(1000), ms(100), ms(10_000), 10, Some(50.0), 16),
            3 => (ms(1000), ms(100), ms(10_000), 3, None, 1024),
            4 => (ms(500), ms(100), ms(1250), 3, None, 2048),
            _ => (ms(250), ms(50), ms(300), 2, None, 4096),
        };
        Timing {
            initial_rtt_timeout: initial,
            min_rtt_timeout: min,
            max_rtt_timeout: max,
            max_retries: retries,
            max_rate: rate,
            min_rate: None,
            parallelism: par,
            host_timeout: None,
        }
    }

    pub fn tracker_config(&self) -> TrackerConfig {
        TrackerConfig {
            max_retries: self.max_retries,
            initial_timeout: self.initial_rtt_timeout,
            min_timeout: self.min_rtt_timeout,
            max_timeout: self.max_rtt_timeout,
            ..TrackerConfig::default()
        }
    }
}

impl Default for Timing {
    fn default() -> Self {
        Timing::template(3)
    }
}

/// Everything a scan needs, fixed before the first packet.
#[derive(Debug, Clone)]
pub struct Plan {
    /// How replies are read (and, without `scanflags`, what is sent).
    pub technique: Technique,
    /// `--scanflags`: the flags to send instead of the technique's own.
    pub scanflags: Option<TcpFlags>,
    pub targets: TargetSet,
    pub ports: PortList,
    pub seed: u64,
    pub keys: Keys,
    pub timing: Timing,
}

/// The largest scan one run handles (host × port probes).
pub const MAX_PROBES: u128 = 1 << 40;

impl Plan {
    pub fn new(
        technique: Technique,
        targets: TargetSet,
        ports: PortList,
        seed: u64,
        timing: Timing,
    ) -> Result<Plan, EngineError> {
        let total = targets.len() * u128::from(ports.len());
        if total > MAX_PROBES {
            return Err(EngineError::TooLarge(total));
        }
        let keys = Keys::new(splitmix(seed), splitmix(seed ^ 0x5eed_5eed_5eed_5eed));
        Ok(Plan {
            technique,
            scanflags: None,
            targets,
            ports,
            seed,
            keys,
            timing,
        })
    }

    /// The flags every raw TCP probe carries.
    pub fn probe_flags(&self) -> TcpFlags {
        self.scanflags
            .or(self.technique.probe_flags())
            .unwrap_or(TcpFlags::SYN)
    }

    pub fn nports(&self) -> u64 {
        u64::from(self.ports.len())
    }

    /// Number of probes (host × port) in the scan.
    pub fn total(&self) -> u64 {
        // Bounded by MAX_PROBES in `new`.
        (self.targets.len() as u64) * self.nports()
    }

    pub fn permutation(&self) -> Permutation {
        Permutation::new(self.total(), self.seed)
    }

    /// Flat probe id → (host address, port).
    pub fn probe(&self, value: u64) -> Option<(IpAddr, u16)> {
        let n = self.nports();
        let addr = self.targets.get(value / n)?;
        let port = self.ports.get((value % n) as u32)?;
        Some((addr, port))
    }

    /// (host address, port) → flat probe id, if the pair is in the plan.
    pub fn value_of(&self, addr: IpAddr, port: u16) -> Option<u64> {
        let h = self.targets.index_of(addr)?;
        let p = self.ports.index_of(port)?;
        Some(h * self.nports() + u64::from(p))
    }
}

/// SplitMix64: spreads a seed into independent-looking key words.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
