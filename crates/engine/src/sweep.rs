//! Host discovery over the one [driver loop](crate::driver): ping sweeps
//! over raw IP (ICMP, TCP, UDP probes) and over the link layer (ARP for
//! IPv4, neighbour solicitation for IPv6) for targets on a directly
//! attached segment.
//!
//! Both walk `host × probe` in permutation order with the retry tracker
//! ([`SweepSchedule`]); a host is up at its first valid reply and its other
//! probes are not sent any more. The link sweep is also how the session
//! resolves on-link neighbours itself (each target asked once, in bulk,
//! paced), so no probe ever waits on the kernel's neighbour queue.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_netio::link::{self, LinkSocket};
use vigie_netio::rx::{Receiver, RxConfig};
use vigie_netio::tx::{RawSender, TxBatch};
use vigie_scan::cookie::Keys;
use vigie_scan::discovery::{self, Probe};
use vigie_scan::perm::Permutation;
use vigie_scan::schedule::{Schedule, SweepSchedule};
use vigie_scan::targets::{IpRange, TargetSet};
use vigie_scan::Reason;
use vigie_wire::ethernet::MacAddr;

use crate::driver::{self, DriveConfig, Inline, Prober, RealClock, Record, Threaded};
use crate::evasion::Shaper;
use crate::plan::Timing;
use crate::portscan::sources;
use crate::progress::{self, Meter};
use crate::txpool::TxPool;
use crate::{EngineError, Env};

const BATCH: usize = 64;
const PROBE_TTL: u8 = 64;

/// What a sweep sends.
#[derive(Debug, Clone)]
pub struct PingPlan {
    pub targets: TargetSet,
    /// Network-layer probes, each sent to every host (families permitting).
    pub probes: Vec<Probe>,
    /// ARP / ND for targets on a directly attached segment, instead of
    /// `probes` (nmap's default; `-PR`). `--disable-arp-ping` clears it.
    pub link: bool,
    pub seed: u64,
    pub keys: Keys,
    pub timing: Timing,
}

/// Why a host is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostUp {
    pub reason: Reason,
    pub ttl: u8,
    pub mac: Option<[u8; 6]>,
}

/// The outcome of a sweep: the live hosts only.
#[derive(Debug, Default)]
pub struct Sweep {
    pub up: HashMap<IpAddr, HostUp>,
    /// The interface each on-link live host was found on.
    pub iface: HashMap<IpAddr, u32>,
    pub srtt: Option<Duration>,
    pub rttvar: Option<Duration>,
    pub sent: u64,
    pub retransmitted: u64,
    /// A stop request ended it early.
    pub interrupted: bool,
}

impl Sweep {
    fn absorb(&mut self, other: Sweep) {
        self.up.extend(other.up);
        self.iface.extend(other.iface);
        self.srtt = self.srtt.or(other.srtt);
        self.rttvar = self.rttvar.or(other.rttvar);
        self.sent += other.sent;
        self.retransmitted += other.retransmitted;
        self.interrupted |= other.interrupted;
    }
}

/// Targets on one directly attached segment.
#[derive(Debug, Clone)]
pub struct OnLink {
    pub iface: link::Interface,
    /// Our address on it.
    pub src: IpAddr,
    pub ranges: Vec<IpRange>,
}

/// Split targets by how they are reached: per (interface, our address)
/// the parts of the targets on that interface's subnets (a directly
/// attached segment: ARP / ND reach them), and the rest (routed, loopback,
/// and this host's own addresses, which no neighbour answers for).
pub fn split_on_link(targets: &TargetSet) -> Result<(Vec<OnLink>, Vec<IpRange>), EngineError> {
    let ifaces = link::interfaces()?;
    let own: Vec<IpAddr> = ifaces.iter().flat_map(link::Interface::addresses).collect();
    let mut on = Vec::<OnLink>::new();
    let mut rest: Vec<IpRange> = targets.ranges().to_vec();
    for iface in ifaces
        .iter()
        .filter(|i| !i.loopback && i.mac != [0; 6] && i.index != 0)
    {
        let subnets = iface
            .v4
            .iter()
            .filter(|(_, p)| *p < 32)
            .map(|(a, p)| (IpAddr::V4(*a), *p))
            .chain(
                iface
                    .v6
                    .iter()
                    // Link-local prefixes (on every interface) say nothing.
                    .filter(|(a, p)| *p < 128 && a.segments()[0] & 0xffc0 != 0xfe80)
                    .map(|(a, p)| (IpAddr::V6(*a), *p)),
            );
        for (src, prefix) in subnets {
            let Ok(net) = vigie_scan::targets::cidr(src, prefix) else {
                continue;
            };
            let mut inside = Vec::new();
            let mut outside = Vec::new();
            for r in &rest {
                match r.intersect(&net) {
                    Some(hit) => {
                        inside.push(hit);
                        outside.extend(r.minus(&net));
                    }
                    None => outside.push(*r),
                }
            }
            rest = outside;
            if inside.is_empty() {
                continue;
            }
            // This host's own addresses are reached locally, not by ARP.
            let own_here: Vec<IpRange> = own
                .iter()
                .filter(|a| inside.iter().any(|r| r.contains(**a)))
                .map(|a| IpRange::single(*a))
                .collect();
            rest.extend(own_here.iter().copied());
            let set = TargetSet::new(&inside, &own_here);
            if set.is_empty() {
                continue;
            }
            on.push(OnLink {
                iface: iface.clone(),
                src,
                ranges: set.ranges().to_vec(),
            });
        }
    }
    Ok((on, rest))
}

/// Run a sweep to completion (or to a stop request).
pub fn run(plan: &PingPlan, env: &Env) -> Result<Sweep, EngineError> {
    let (on, ip) = if plan.link {
        split_on_link(&plan.targets)?
    } else {
        (Vec::new(), plan.targets.ranges().to_vec())
    };
    let mut total = 0u64;
    for g in &on {
        total += TargetSet::new(&g.ranges, &[]).len() as u64;
    }
    if !plan.probes.is_empty() {
        let n = TargetSet::new(&ip, &[]).len() as u64;
        total += n.saturating_mul(plan.probes.len() as u64);
    }
    let _phase = progress::Phase::begin(&env.progress, progress::PING_SCAN, total);
    let mut out = Sweep::default();
    for g in &on {
        out.absorb(link_sweep(plan, g, env)?);
    }
    if !ip.is_empty() && !plan.probes.is_empty() && !env.stop.requested() {
        out.absorb(ip_sweep(plan, TargetSet::new(&ip, &[]), env)?);
    }
    Ok(out)
}

/// The live hosts as the driver's [`Record`].
struct HostRecord {
    targets: Arc<TargetSet>,
    nprobes: u64,
    up: HashMap<IpAddr, HostUp>,
}

impl Record<HostUp> for HostRecord {
    fn reply(&mut self, value: u64, up: HostUp) -> bool {
        let Some(addr) = self.targets.get(value / self.nprobes) else {
            return false;
        };
        let mut news = false;
        self.up.entry(addr).or_insert_with(|| {
            news = true;
            up
        });
        news
    }

    fn silence(&mut self, _: u64) {}
}

/// ICMP / TCP / UDP ping probes over raw IP.
struct IpPinger {
    targets: Arc<TargetSet>,
    probes: Vec<Probe>,
    keys: Keys,
    src: [Option<IpAddr>; 2],
}

impl Prober for IpPinger {
    type Reply = HostUp;
    type SchedReply = ();

    fn stamp(&self, value: u64, ident: u16, _: &mut Vec<u8>, batch: &mut TxBatch) -> bool {
        let n = self.probes.len() as u64;
        let Some(dst) = self.targets.get(value / n) else {
            return false;
        };
        let probe = self.probes[(value % n) as usize];
        let Some(src) = self.src[usize::from(dst.is_ipv6())] else {
            return false;
        };
        if !probe.applies_to(dst.is_ipv6()) {
            return false;
        }
        batch.push_with(dst, |buf| {
            discovery::write_probe(buf, &self.keys, probe, src, dst, PROBE_TTL, ident)
        });
        true
    }

    fn decode(&self, packet: &[u8]) -> Option<(u64, HostUp)> {
        let a = discovery::read_reply(&self.keys, &self.probes, packet)?;
        let h = self.targets.index_of(a.host)?;
        let up = HostUp {
            reason: a.reason,
            ttl: a.ttl,
            mac: None,
        };
        Some((h * self.probes.len() as u64 + a.probe as u64, up))
    }

    fn sched_reply(_: &HostUp) {}
}

fn drive_cfg(plan: &PingPlan, env: &Env) -> DriveConfig {
    DriveConfig {
        batch: BATCH,
        rate: plan.timing.max_rate,
        deadline: plan.timing.host_timeout.map(|t| Instant::now() + t),
        stop: env.stop.clone(),
        ident: plan.seed as u16,
        trace: env.trace.clone(),
        shaper: Shaper::of(&env.evasion).map(Arc::new),
    }
}

fn finish<S: Schedule>(sched: &S, record: HostRecord, driven: driver::Driven) -> Sweep {
    let (sent, retransmitted) = sched.sent();
    let (srtt, rttvar) = sched.rtt();
    Sweep {
        up: record.up,
        iface: HashMap::new(),
        srtt,
        rttvar,
        sent,
        retransmitted,
        interrupted: driven.interrupted,
    }
}

fn ip_sweep(plan: &PingPlan, targets: TargetSet, env: &Env) -> Result<Sweep, EngineError> {
    let nprobes = plan.probes.len() as u64;
    let hosts = targets.len() as u64;
    let total = hosts.saturating_mul(nprobes);
    let targets = Arc::new(targets);
    let prober = Arc::new(IpPinger {
        targets: Arc::clone(&targets),
        probes: plan.probes.clone(),
        keys: plan
            .keys
            .with_source_port(env.evasion.source_port)
            .with_data_len(env.evasion.shape.payload.as_ref().map_or(0, Vec::len)),
        src: sources(&targets, &env.evasion)?,
    });
    let receiver = Receiver::new(&RxConfig::default()).map_err(|source| EngineError::Setup {
        what: "cannot open the packet receive ring (AF_PACKET)",
        source,
    })?;
    let sender = match &env.evasion.iface {
        Some(d) => RawSender::on_device(d),
        None => RawSender::new(),
    }
    .map_err(|source| EngineError::Setup {
        what: "cannot open a raw socket",
        source,
    })?;
    let mut wire = Threaded::new(
        TxPool::single(Box::new(sender) as Box<dyn vigie_netio::PacketTx>),
        Box::new(receiver),
        Arc::clone(&prober),
        env.trace.clone(),
    )?;
    let sched = SweepSchedule::new(
        Permutation::new(total, plan.seed ^ 0xd15c_0e7e),
        hosts,
        nprobes,
        plan.timing.tracker_config(),
    );
    sweep_with(plan, env, &*prober, sched, &mut wire, targets, nprobes)
}

/// Drive one sweep and collect its live hosts.
fn sweep_with<P, W>(
    plan: &PingPlan,
    env: &Env,
    prober: &P,
    mut sched: SweepSchedule,
    wire: &mut W,
    targets: Arc<TargetSet>,
    nprobes: u64,
) -> Result<Sweep, EngineError>
where
    P: Prober<Reply = HostUp, SchedReply = ()>,
    W: driver::Wire<HostUp>,
{
    let mut record = HostRecord {
        targets,
        nprobes,
        up: HashMap::new(),
    };
    let meter = Meter::on(&env.progress);
    let driven = driver::drive(
        &drive_cfg(plan, env),
        prober,
        &mut sched,
        wire,
        &mut record,
        &meter,
        &mut driver::News(|_| {}),
    )?;
    Ok(finish(&sched, record, driven))
}

/// ARP requests (IPv4) or neighbour solicitations (IPv6) from one
/// interface; replies are whole frames on the same socket.
struct LinkPinger {
    targets: Arc<TargetSet>,
    mac: MacAddr,
    src: IpAddr,
}

impl Prober for LinkPinger {
    type Reply = HostUp;
    type SchedReply = ();
    const FRAMES: bool = true;

    fn stamp(&self, value: u64, _: u16, _: &mut Vec<u8>, batch: &mut TxBatch) -> bool {
        let Some(dst) = self.targets.get(value) else {
            return false;
        };
        let (src, mac) = (self.src, self.mac);
        batch.push_with(dst, |frame| match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => discovery::write_arp_request(frame, mac, s, d),
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                vigie_wire::ndisc::emit_solicit_frame(frame, mac, s, d)
            }
            _ => 0,
        });
        true
    }

    fn decode(&self, frame: &[u8]) -> Option<(u64, HostUp)> {
        let (addr, mac, reason) = if self.src.is_ipv6() {
            frame
                .get(vigie_wire::ethernet::HEADER_LEN..)
                .and_then(discovery::read_neighbor_advert)
                .map(|(a, m, _)| (IpAddr::V6(a), m, Reason::NdResponse))?
        } else {
            discovery::read_arp_reply(frame)
                .map(|(a, m)| (IpAddr::V4(a), m, Reason::ArpResponse))?
        };
        let i = self.targets.index_of(addr)?;
        Some((
            i,
            HostUp {
                reason,
                ttl: 0,
                mac: Some(mac.0),
            },
        ))
    }

    fn sched_reply(_: &HostUp) {}
}

/// Ask every target of one on-link group for its MAC (ARP / ND), paced,
/// each retried as the tracker says; the ones that answer are up.
pub fn link_sweep(plan: &PingPlan, group: &OnLink, env: &Env) -> Result<Sweep, EngineError> {
    let ethertype = if group.src.is_ipv6() {
        link::ETH_P_IPV6
    } else {
        link::ETH_P_ARP
    };
    let sock =
        LinkSocket::open(group.iface.index, ethertype).map_err(|source| EngineError::Setup {
            what: "cannot open a link-layer socket (AF_PACKET)",
            source,
        })?;
    let targets = Arc::new(TargetSet::new(&group.ranges, &[]));
    let hosts = targets.len() as u64;
    let prober = Arc::new(LinkPinger {
        targets: Arc::clone(&targets),
        mac: MacAddr(group.iface.mac),
        src: group.src,
    });
    let mut wire = Inline {
        tx: &sock,
        rx: &sock,
        clock: RealClock,
        prober: Arc::clone(&prober),
        trace: env.trace.clone(),
    };
    let sched = SweepSchedule::new(
        Permutation::new(hosts, plan.seed ^ 0xa4b0),
        hosts,
        1,
        plan.timing.tracker_config(),
    );
    let mut sweep = sweep_with(plan, env, &*prober, sched, &mut wire, targets, 1)?;
    sweep.iface = sweep.up.keys().map(|a| (*a, group.iface.index)).collect();
    Ok(sweep)
}
