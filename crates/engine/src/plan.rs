//! The immutable scan plan shared by every engine thread.

use std::net::IpAddr;
use std::ops::Range;
use std::time::Duration;

use vigie_netio::txring::NextHops;
use vigie_scan::cookie::Keys;
use vigie_scan::perm::{shard_range, Permutation};
use vigie_scan::ports::PortList;
use vigie_scan::ratectl::RateConfig;
use vigie_scan::targets::TargetSet;
use vigie_scan::tracker::TrackerConfig;
use vigie_scan::Technique;
use vigie_wire::tcp::TcpFlags;

use crate::{Cell, EngineError};

/// Concrete timing numbers (what `-T0`..`-T5` and the rtt/retry/rate flags
/// resolve to).
#[derive(Debug, Clone)]
pub struct Timing {
    pub initial_rtt_timeout: Duration,
    pub min_rtt_timeout: Duration,
    pub max_rtt_timeout: Duration,
    pub max_retries: u8,
    /// The floor the raw TCP and IPv4 connect drivers use instead of `min_rtt_timeout`
    /// unless `--min-rtt-timeout` is given: its replies are read from the
    /// packet ring as they land, so on a fast path (measured RTT far below
    /// it) 50 ms is still hundreds of RTTs.
    pub raw_min_rtt_timeout: Duration,
    /// Packets per second ceiling (`--max-rate`); `None` = as fast as the
    /// windows allow.
    pub max_rate: Option<f64>,
    /// Packets per second floor (`--min-rate`): the pacer never goes below.
    /// `--rate R` sets both `min_rate` and `max_rate` to R: a fixed rate.
    pub min_rate: Option<f64>,
    /// Where the adaptive rate starts (`None` = at `max_rate`, unlimited
    /// without one) and the floor it keeps without `--min-rate`.
    pub initial_rate: Option<f64>,
    pub floor_rate: f64,
    /// Connect-scan concurrency.
    pub parallelism: usize,
    /// Retries follow the loss seen, up to `max_retries` (unless the user
    /// fixed `--max-retries`).
    pub adaptive_retries: bool,
    /// Give up on hosts not finished after this long (`--host-timeout`).
    /// Every host of a run is scanned at once, interleaved, so this is a
    /// deadline for the whole run; hosts left unfinished are reported as
    /// timed out.
    pub host_timeout: Option<Duration>,
}

impl Timing {
    /// The `-T` template: 0 paranoid … 5 insane. 3 is the default.
    /// (Documented in docs/usage.md, "Timing templates".)
    pub fn template(level: u8) -> Timing {
        let ms = Duration::from_millis;
        // rate = the ceiling (None: none; the raw TCP scan starts there and
        // adapts to the loss), floor = the lowest it backs off to.
        let (initial, min, max, retries, rate, floor, par) = match level {
            0 => (ms(5000), ms(100), ms(10_000), 10, Some(0.2), 0.05, 1),
            1 => (ms(5000), ms(100), ms(10_000), 10, Some(2.0), 0.5, 1),
            2 => (ms(1000), ms(100), ms(10_000), 10, Some(50.0), 10.0, 16),
            3 => (ms(1000), ms(100), ms(10_000), 10, None, 100.0, 1024),
            4 => (ms(500), ms(100), ms(1250), 6, None, 500.0, 2048),
            _ => (ms(250), ms(50), ms(300), 2, None, 2000.0, 4096),
        };
        Timing {
            initial_rtt_timeout: initial,
            min_rtt_timeout: min,
            raw_min_rtt_timeout: min.min(ms(50)),
            max_rtt_timeout: max,
            max_retries: retries,
            max_rate: rate,
            min_rate: None,
            initial_rate: None,
            floor_rate: floor,
            parallelism: par,
            adaptive_retries: true,
            host_timeout: None,
        }
    }

    /// The adaptive rate's limits (see [`vigie_scan::ratectl`]).
    pub fn rate_config(&self) -> RateConfig {
        let fixed = self.min_rate.is_some() && self.min_rate == self.max_rate;
        let mut floor = self.min_rate.unwrap_or(self.floor_rate);
        if let (None, Some(c)) = (self.min_rate, self.max_rate) {
            // A --max-rate below the template's floor wins.
            floor = floor.min(c);
        }
        RateConfig {
            initial: self.initial_rate,
            floor,
            ceiling: self.max_rate,
            fixed,
        }
    }

    pub fn tracker_config(&self) -> TrackerConfig {
        TrackerConfig {
            max_retries: self.max_retries,
            initial_timeout: self.initial_rtt_timeout,
            min_timeout: self.min_rtt_timeout,
            max_timeout: self.max_rtt_timeout,
            adaptive_retries: self.adaptive_retries,
            // Up to 512 Ki probes awaiting their answer: at a million
            // packets per second and a 250 ms timeout, the windows never
            // hold the sender back; ~200 KB of bitmaps and stamps.
            max_windows: 128,
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
    /// `--shard i/N`: this run covers block `i` of `N` of the permutation.
    pub shard: (u64, u64),
    /// `--resume`: permutation indices below this (within the shard) are
    /// final already; their verdicts are in `prior`.
    pub resume_from: u64,
    /// Verdicts known before the run (from a resume file): (probe id, cell).
    pub prior: Vec<(u64, Cell)>,
    /// How probes reach the targets.
    pub path: SendPath,
}

/// How a plan's probes reach their targets.
#[derive(Debug, Clone, Default)]
pub enum SendPath {
    /// `AF_PACKET` to the one next hop when every target shares an IPv4
    /// next hop whose MAC the kernel knows, else the raw IP socket.
    #[default]
    Auto,
    /// The raw IP socket: the kernel routes and resolves (`--send-ip`).
    Ip,
    /// `AF_PACKET` on one interface, to each target's resolved MAC (the
    /// session's own ARP / neighbour discovery) or the gateway's.
    Link { ifindex: u32, hops: NextHops },
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
        // The seed fixes the order only: it is printed in reports and resume
        // files, so the cookie keys come from the OS's randomness.
        let keys = random_keys()?;
        Ok(Plan {
            technique,
            scanflags: None,
            targets,
            ports,
            seed,
            keys,
            timing,
            shard: (0, 1),
            resume_from: 0,
            prior: Vec::new(),
            path: SendPath::Auto,
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

    /// The permutation indices this run is responsible for: its shard.
    pub fn shard_range(&self) -> Range<u64> {
        shard_range(self.total(), self.shard.0, self.shard.1)
    }

    /// The indices still to scan: the shard, less what a resume file says
    /// is final.
    pub fn index_range(&self) -> Range<u64> {
        let r = self.shard_range();
        r.start.max(self.resume_from).min(r.end)..r.end
    }

    /// Which probe ids belong to this run's shard.
    pub fn scope(&self) -> Scope {
        Scope {
            perm: (self.shard != (0, 1)).then(|| self.permutation()),
            range: self.shard_range(),
            total: self.total(),
        }
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

/// The probe ids of one shard (see [`Plan::scope`]).
#[derive(Debug, Clone)]
pub struct Scope {
    perm: Option<Permutation>,
    range: Range<u64>,
    total: u64,
}

impl Scope {
    /// Is probe `value` part of the shard?
    pub fn contains(&self, value: u64) -> bool {
        value < self.total
            && match &self.perm {
                None => true,
                Some(p) => self.range.contains(&p.index_of(value)),
            }
    }
}

/// Fresh cookie keys from the OS's randomness.
pub fn random_keys() -> Result<Keys, EngineError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| EngineError::Setup {
        what: "cannot read the OS's randomness for the cookie keys",
        source: std::io::Error::other(e.to_string()),
    })?;
    let k0 = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
    let k1 = u64::from_le_bytes(b[8..].try_into().unwrap_or_default());
    Ok(Keys::new(k0, k1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_other_keys_each_run() {
        use std::net::{IpAddr, Ipv4Addr};
        use vigie_scan::targets::IpRange;
        let t = TargetSet::new(
            &[IpRange::single(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)))],
            &[],
        );
        let ports = PortList::from_ports(&[80]);
        let a = Plan::new(
            Technique::Syn,
            t.clone(),
            ports.clone(),
            4242,
            Timing::default(),
        )
        .unwrap();
        let b = Plan::new(Technique::Syn, t, ports, 4242, Timing::default()).unwrap();
        let (us, them) = (
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
        );
        assert_ne!(a.keys.tcp_seq(us, them, 80), b.keys.tcp_seq(us, them, 80));
        // ... while the order is the seed's.
        assert_eq!(a.permutation().get(0), b.permutation().get(0));
    }

    #[test]
    fn rate_config_from_the_flags() {
        let mut t = Timing::template(3);
        let c = t.rate_config();
        assert_eq!(
            (c.initial, c.floor, c.ceiling, c.fixed),
            (None, 100.0, None, false)
        );
        // --max-rate below the floor lowers the floor.
        t.max_rate = Some(40.0);
        let c = t.rate_config();
        assert_eq!((c.floor, c.ceiling, c.fixed), (40.0, Some(40.0), false));
        // --min-rate replaces the template's floor.
        t.min_rate = Some(10.0);
        assert_eq!(t.rate_config().floor, 10.0);
        // --rate: both, fixed.
        t.min_rate = Some(40.0);
        let c = t.rate_config();
        assert_eq!((c.floor, c.ceiling, c.fixed), (40.0, Some(40.0), true));
        let c = Timing::template(2).rate_config();
        assert_eq!((c.floor, c.ceiling, c.fixed), (10.0, Some(50.0), false));
    }
}
