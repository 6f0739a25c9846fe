//! Raw port scans — every TCP flag technique (SYN, FIN, NULL, Xmas, ACK,
//! Window, Maimon, `--scanflags`) and UDP — as one [`Prober`] per protocol
//! over the one [driver loop](crate::driver).
//!
//! TCP probes are stamped from a template with a keyed cookie in the
//! sequence number and source port; UDP probes carry the port's payload
//! (a keyed DNS id where the protocol has one) from a keyed source port.
//! Replies are validated statelessly against the keys, classified by the
//! technique's table and stored in the dense [`Results`] table.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_netio::rx::{Receiver, RxConfig};
use vigie_netio::tx::{RawSender, TxBatch};
use vigie_netio::txring::{next_hop_v4, NextHops, PacketSender};
use vigie_netio::PacketTx;
use vigie_scan::classify::{classify, Response};
use vigie_scan::cookie::Keys;
use vigie_scan::payloads;
use vigie_scan::ports::PortList;
use vigie_scan::schedule::{Schedule, TcpSchedule};
use vigie_scan::targets::{IpRange, TargetSet};
use vigie_scan::udppace::{ReplyKind, UdpConfig, UdpScheduler};
use vigie_scan::{PortState, Proto, Reason, Technique};
use vigie_wire::ip_proto;
use vigie_wire::summary::{summarize, Body};
use vigie_wire::tcp::TcpFlags;
use vigie_wire::template::{TcpTemplate, UdpTemplate};

use crate::driver::{self, DriveConfig, Prober, Record, Threaded};
use crate::evasion::{Evasion, Shaper};
use crate::plan::{Plan, SendPath};
use crate::progress::{self, Meter};
use crate::results::{Cell, Results};
use crate::txpool::{self, TxPool};
use crate::{EngineError, Env, Outcome};

/// Probes per `sendmmsg` (TCP; UDP probes are larger and slower to answer).
const TCP_BATCH: usize = 256;
const UDP_BATCH: usize = 64;
/// What nmap's TCP probes carry: a small window and, on SYNs, an MSS option.
const PROBE_WINDOW: u16 = 1024;
const PROBE_MSS: u16 = 1460;
const PROBE_TTL: u8 = 64;

/// What the probes of a plan need to know about it, shared with the
/// receive thread.
struct Scope {
    targets: TargetSet,
    ports: PortList,
    nports: u64,
    keys: Keys,
    technique: Technique,
}

impl Scope {
    fn of(plan: &Plan) -> Scope {
        Scope {
            targets: plan.targets.clone(),
            ports: plan.ports.clone(),
            nports: plan.nports(),
            keys: plan.keys,
            technique: plan.technique,
        }
    }

    fn probe(&self, value: u64) -> Option<(IpAddr, u16)> {
        let addr = self.targets.get(value / self.nports)?;
        let port = self.ports.get((value % self.nports) as u32)?;
        Some((addr, port))
    }

    fn value_of(&self, addr: IpAddr, port: u16) -> Option<u64> {
        let h = self.targets.index_of(addr)?;
        let p = self.ports.index_of(port)?;
        Some(h * self.nports + u64::from(p))
    }
}

/// The first target of each family (the source address is the kernel's
/// choice for it).
fn first_of(targets: &TargetSet, v6: bool) -> Option<IpAddr> {
    targets.ranges().iter().find_map(|r| match (r, v6) {
        (IpRange::V4 { .. }, false) | (IpRange::V6 { .. }, true) => Some(r.first()),
        _ => None,
    })
}

/// Our source address for each family present in the targets: `-S`'s for
/// its family, else the address of `-e`'s interface, else the kernel's
/// choice for the first target.
pub(crate) fn sources(
    targets: &TargetSet,
    evasion: &Evasion,
) -> Result<[Option<IpAddr>; 2], EngineError> {
    let mut out = [None, None];
    let iface = match &evasion.iface {
        Some(name) => Some(
            vigie_netio::link::interfaces()
                .ok()
                .and_then(|all| all.into_iter().find(|i| &i.name == name))
                .ok_or_else(|| EngineError::Config(format!("-e {name}: no such interface")))?,
        ),
        None => None,
    };
    for (k, v6) in [false, true].into_iter().enumerate() {
        if let Some(dst) = first_of(targets, v6) {
            if let Some(s) = evasion.source.filter(|s| s.is_ipv6() == v6) {
                out[k] = Some(s);
                continue;
            }
            if let Some(i) = &iface {
                let own = i
                    .source_for(dst)
                    .or_else(|| i.addresses().find(|a| a.is_ipv6() == v6));
                if let Some(a) = own {
                    out[k] = Some(a);
                    continue;
                }
            }
            out[k] =
                Some(
                    vigie_netio::route::source_for(dst).map_err(|source| EngineError::Setup {
                        what: "no route to the targets",
                        source,
                    })?,
                );
        }
    }
    Ok(out)
}

/// Raw TCP probes: one template per family.
pub struct TcpProber {
    scope: Scope,
    flags: TcpFlags,
    templates: [Option<(TcpTemplate, IpAddr)>; 2],
}

impl TcpProber {
    pub fn new(plan: &Plan, src: [Option<IpAddr>; 2]) -> TcpProber {
        TcpProber::with_source_port(plan, src, None, 0)
    }

    /// Probes from one source port (`-g`) when `sport` says, carrying
    /// `data_len` payload bytes (`--data*`, added when shaped).
    pub fn with_source_port(
        plan: &Plan,
        src: [Option<IpAddr>; 2],
        sport: Option<u16>,
        data_len: usize,
    ) -> TcpProber {
        let flags = plan.probe_flags();
        let mss = flags.contains(TcpFlags::SYN).then_some(PROBE_MSS);
        let t = |s: Option<IpAddr>| {
            s.map(|s| (TcpTemplate::new(s, flags, PROBE_WINDOW, mss, PROBE_TTL), s))
        };
        let mut scope = Scope::of(plan);
        scope.keys = scope.keys.with_source_port(sport).with_data_len(data_len);
        TcpProber {
            scope,
            flags,
            templates: [t(src[0]), t(src[1])],
        }
    }
}

impl Prober for TcpProber {
    type Reply = Cell;
    type SchedReply = ();

    fn stamp(&self, value: u64, ident: u16, _: &mut Vec<u8>, batch: &mut TxBatch) -> bool {
        let Some((dst, port)) = self.scope.probe(value) else {
            return false;
        };
        let Some((template, src)) = &self.templates[usize::from(dst.is_ipv6())] else {
            return false;
        };
        let keys = &self.scope.keys;
        let seq = keys.tcp_seq(*src, dst, port);
        let sport = keys.src_port(dst, port);
        // Probes with ACK carry the cookie in the ack field too: a RST
        // answering them takes its sequence number from it.
        let ack = if self.flags.contains(TcpFlags::ACK) {
            seq
        } else {
            0
        };
        batch.push_with(dst, |buf| {
            template.stamp(buf, dst, sport, port, seq, ack, ident)
        });
        true
    }

    fn decode(&self, packet: &[u8]) -> Option<(u64, Cell)> {
        let s = summarize(packet)?;
        let keys = &self.scope.keys;
        let (value, response) = match s.body {
            Body::Tcp {
                sport,
                dport,
                seq,
                ack,
                flags,
                window,
            } => {
                if !keys.check_tcp_reply_to(self.flags, s.dst, s.src, sport, dport, flags, seq, ack)
                {
                    return None;
                }
                (
                    self.scope.value_of(s.src, sport)?,
                    Response::Tcp { flags, window },
                )
            }
            Body::IcmpError {
                v6,
                icmp_type,
                code,
                quoted,
            } => {
                if quoted.protocol != ip_proto::TCP || !keys.check_quoted_tcp(&quoted) {
                    return None;
                }
                let response = Response::icmp_error(v6, icmp_type, code);
                (self.scope.value_of(quoted.dst, quoted.dport)?, response)
            }
            _ => return None,
        };
        let (state, reason) = classify(self.scope.technique, &response)?;
        Some((value, Cell::new(state, reason, s.ttl)))
    }

    fn sched_reply(_: &Cell) {}
}

/// UDP probes: per-port payloads from a keyed source port.
pub struct UdpProber {
    scope: Scope,
    templates: [Option<UdpTemplate>; 2],
    /// Our source addresses: a datagram to any other is not a reply of
    /// ours (a decoy's, say).
    src: [Option<IpAddr>; 2],
}

impl UdpProber {
    pub fn new(plan: &Plan, src: [Option<IpAddr>; 2]) -> UdpProber {
        UdpProber::with_source_port(plan, src, None)
    }

    /// Probes from one source port (`-g`) when `sport` says.
    pub fn with_source_port(
        plan: &Plan,
        src: [Option<IpAddr>; 2],
        sport: Option<u16>,
    ) -> UdpProber {
        let t = |s: Option<IpAddr>| s.map(|s| UdpTemplate::new(s, PROBE_TTL));
        let mut scope = Scope::of(plan);
        scope.keys = scope.keys.with_source_port(sport);
        UdpProber {
            scope,
            templates: [t(src[0]), t(src[1])],
            src,
        }
    }
}

/// A UDP verdict and what it tells the scheduler.
#[derive(Debug, Clone, Copy)]
pub struct UdpVerdict {
    pub cell: Cell,
    pub kind: ReplyKind,
}

impl Prober for UdpProber {
    type Reply = UdpVerdict;
    type SchedReply = ReplyKind;

    fn stamp(&self, value: u64, ident: u16, payload: &mut Vec<u8>, batch: &mut TxBatch) -> bool {
        let Some((dst, port)) = self.scope.probe(value) else {
            return false;
        };
        let Some(template) = &self.templates[usize::from(dst.is_ipv6())] else {
            return false;
        };
        let keys = &self.scope.keys;
        payloads::payload(port, keys.dns_txid(dst, port), payload);
        let sport = keys.udp_src_port(dst, port);
        batch.push_with(dst, |buf| {
            template.stamp(buf, dst, sport, port, ident, payload)
        });
        true
    }

    fn decode(&self, packet: &[u8]) -> Option<(u64, UdpVerdict)> {
        let s = summarize(packet)?;
        let keys = &self.scope.keys;
        let (value, response, kind) = match s.body {
            // Any datagram from the probed port to the probe's keyed source
            // port is evidence the port is open (nmap: udp-response),
            // whatever its payload says.
            Body::Udp { sport, dport, .. } => {
                if self.src[usize::from(s.dst.is_ipv6())] != Some(s.dst)
                    || !keys.check_udp_reply(s.src, sport, dport)
                {
                    return None;
                }
                (
                    self.scope.value_of(s.src, sport)?,
                    Response::Udp,
                    ReplyKind::Udp,
                )
            }
            Body::IcmpError {
                v6,
                icmp_type,
                code,
                quoted,
            } => {
                if quoted.protocol != ip_proto::UDP || !keys.check_quoted_udp(&quoted) {
                    return None;
                }
                let response = Response::icmp_error(v6, icmp_type, code);
                let kind = if response.is_port_unreach() {
                    ReplyKind::PortUnreach
                } else {
                    ReplyKind::OtherIcmp
                };
                (
                    self.scope.value_of(quoted.dst, quoted.dport)?,
                    response,
                    kind,
                )
            }
            _ => return None,
        };
        let (state, reason) = classify(self.scope.technique, &response)?;
        Some((
            value,
            UdpVerdict {
                cell: Cell::new(state, reason, s.ttl),
                kind,
            },
        ))
    }

    fn sched_reply(r: &UdpVerdict) -> ReplyKind {
        r.kind
    }
}

/// The port table as the driver's [`Record`].
pub struct PortRecord {
    pub results: Results,
    silence: Cell,
}

impl PortRecord {
    pub fn new(plan: &Plan) -> PortRecord {
        // What silence after every retry means is the technique's call.
        let fallback = if plan.technique.proto() == Proto::Udp {
            PortState::OpenFiltered
        } else {
            PortState::Filtered
        };
        let (state, reason) =
            classify(plan.technique, &Response::NoReply).unwrap_or((fallback, Reason::NoResponse));
        let mut results = Results::new(plan.total(), plan.nports());
        for &(value, cell) in &plan.prior {
            results.record_reply(value, cell);
        }
        PortRecord {
            results,
            silence: Cell::new(state, reason, 0),
        }
    }
}

impl From<UdpVerdict> for Cell {
    fn from(v: UdpVerdict) -> Cell {
        v.cell
    }
}

impl<R: Into<Cell>> Record<R> for PortRecord {
    fn reply(&mut self, value: u64, reply: R) -> bool {
        let cell = reply.into();
        self.results.record_reply(value, cell) && cell.state() == Some(PortState::Open)
    }

    fn silence(&mut self, value: u64) {
        self.results.record_silence(value, self.silence);
    }
}

/// The send path a plan asks for. `-e` binds the raw socket to its
/// interface; `--spoof-mac` needs the packet socket (an Ethernet next hop
/// known for every target) and writes the frames' source address.
fn sender(plan: &Plan, evasion: &Evasion) -> Result<Box<dyn PacketTx>, EngineError> {
    let open = |ifindex: u32, hops: NextHops| match evasion.spoof_mac {
        Some(mac) => PacketSender::with_source_mac(ifindex, hops, mac),
        None => PacketSender::with_hops(ifindex, hops),
    };
    let packet = match &plan.path {
        SendPath::Ip => None,
        // `-e` names another interface than the one resolved: the kernel's
        // path, bound to it.
        SendPath::Link { ifindex, .. }
            if evasion.iface.is_some() && iface_index(evasion) != Some(*ifindex) =>
        {
            None
        }
        SendPath::Link { ifindex, hops } => Some(open(*ifindex, hops.clone()).map_err(
            |source| EngineError::Setup {
                what: "cannot open a packet socket (AF_PACKET)",
                source,
            },
        )?),
        SendPath::Auto => single_next_hop(&plan.targets)
            .filter(|(i, _)| evasion.iface.is_none() || iface_index(evasion) == Some(*i))
            .and_then(|(i, m)| open(i, NextHops::one(m)).ok()),
    };
    if let Some(p) = packet {
        return Ok(Box::new(p));
    }
    if evasion.spoof_mac.is_some() {
        return Err(EngineError::Config(
            "--spoof-mac: the probes must go out on Ethernet, and no Ethernet next hop is known \
             for every target (without --send-ip, the targets' next hop must be one neighbour)"
                .into(),
        ));
    }
    match &evasion.iface {
        Some(d) => RawSender::on_device(d),
        None => RawSender::new(),
    }
    .map(|s| Box::new(s) as Box<dyn PacketTx>)
    .map_err(|source| EngineError::Setup {
        what: "cannot open a raw socket",
        source,
    })
}

/// The index of `-e`'s interface.
fn iface_index(evasion: &Evasion) -> Option<u32> {
    let name = evasion.iface.as_deref()?;
    vigie_netio::link::interfaces()
        .ok()?
        .into_iter()
        .find(|i| i.name == name)
        .map(|i| i.index)
}

/// The one IPv4 next hop (interface, MAC) every target shares, if the
/// kernel knows it.
fn single_next_hop(targets: &TargetSet) -> Option<(u32, [u8; 6])> {
    let mut hop = None;
    for r in targets.ranges() {
        let IpRange::V4 { start, end } = r else {
            return None;
        };
        let h = next_hop_v4(
            std::net::Ipv4Addr::from(*start),
            std::net::Ipv4Addr::from(*end),
            std::time::Duration::from_millis(200),
        )?;
        if hop.is_some_and(|x| x != h) {
            return None;
        }
        hop = Some(h);
    }
    hop
}

/// The packet wire of a plan: its sender(s) and the receive ring.
fn wire<P: Prober>(
    plan: &Plan,
    env: &Env,
    prober: Arc<P>,
) -> Result<Threaded<P::Reply>, EngineError> {
    let receiver = Receiver::new(&RxConfig::default()).map_err(|source| EngineError::Setup {
        what: "cannot open the packet receive ring (AF_PACKET)",
        source,
    })?;
    let own = sender(plan, &env.evasion)?;
    // A second socket for a transmit worker when the rate calls for it
    // (not for shaped probes: the worker's batches have the plain slots).
    let second = (plan.technique != Technique::Udp
        && !env.evasion.shapes()
        && txpool::want_worker(plan.timing.max_rate, env.tx_threads > 1))
    .then(|| sender(plan, &env.evasion).ok())
    .flatten();
    let pool = match second {
        Some(second) => TxPool::with_worker(own, second, TCP_BATCH)?,
        None => TxPool::single(own),
    };
    Ok(Threaded::new(
        pool,
        Box::new(receiver),
        prober,
        env.trace.clone(),
    )?)
}

/// A block's round-trip estimate at one moment: what the reports of its
/// hosts carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    pub srtt: Option<Duration>,
    pub rttvar: Option<Duration>,
    pub timeout: Duration,
}

/// What a raw port scan tells its caller while it runs.
pub trait ScanEvents {
    /// A port found open, the moment its reply arrived.
    fn open(&mut self, addr: IpAddr, port: u16);
    /// Every probe is out and the scan waits for the last replies (and
    /// retransmits): `results` are the verdicts so far (an answered one
    /// never changes), `estimate` the round-trip estimate now. A slice of the wait (a
    /// few ms) is the caller's; `true`: more to do, call again soon.
    fn waiting(&mut self, _results: &Results, _estimate: Estimate) -> bool {
        false
    }
}

impl<F: FnMut(IpAddr, u16)> ScanEvents for F {
    fn open(&mut self, addr: IpAddr, port: u16) {
        self(addr, port);
    }
}

/// Run one raw port-scan plan (any TCP flag technique, or UDP) to
/// completion, to `--host-timeout`, or to a stop request. `events` hears
/// each port the moment it is found open, and gets the wait at the end.
pub fn run(plan: &Plan, env: &Env, on_open: &mut dyn ScanEvents) -> Result<Outcome, EngineError> {
    let src = sources(&plan.targets, &env.evasion)?;
    let sport = env.evasion.source_port;
    let range = plan.index_range();
    let _phase = progress::Phase::begin(
        &env.progress,
        progress::phase_name(plan.technique),
        range.end - range.start,
    );
    let meter = Meter::on(&env.progress);
    let record = PortRecord::new(plan);
    let cfg = DriveConfig {
        batch: if plan.technique == Technique::Udp {
            UDP_BATCH
        } else {
            TCP_BATCH
        },
        rate: plan.timing.max_rate,
        deadline: plan.timing.host_timeout.map(|t| Instant::now() + t),
        stop: env.stop.clone(),
        ident: plan.seed as u16,
        trace: env.trace.clone(),
        shaper: Shaper::of(&env.evasion).map(Arc::new),
    };
    if plan.technique == Technique::Udp {
        let prober = Arc::new(UdpProber::with_source_port(plan, src, sport));
        let mut wire = wire(plan, env, Arc::clone(&prober))?;
        let sched = udp_schedule(plan);
        scan_with(&cfg, &*prober, sched, &mut wire, record, &meter, on_open)
    } else {
        let data = env.evasion.shape.payload.as_ref().map_or(0, Vec::len);
        let prober = Arc::new(TcpProber::with_source_port(plan, src, sport, data));
        let mut wire = wire(plan, env, Arc::clone(&prober))?;
        let sched = tcp_schedule(plan, Instant::now());
        scan_with(&cfg, &*prober, sched, &mut wire, record, &meter, on_open)
    }
}

/// A prober of (host, port) probes.
pub(crate) trait PortProber: Prober {
    fn probe(&self, value: u64) -> Option<(IpAddr, u16)>;
}

impl PortProber for TcpProber {
    fn probe(&self, value: u64) -> Option<(IpAddr, u16)> {
        self.scope.probe(value)
    }
}

impl PortProber for UdpProber {
    fn probe(&self, value: u64) -> Option<(IpAddr, u16)> {
        self.scope.probe(value)
    }
}

/// Drive one port scan over `wire` and hand back its outcome.
pub(crate) fn scan_with<P, S, W>(
    cfg: &DriveConfig,
    prober: &P,
    mut sched: S,
    wire: &mut W,
    mut record: PortRecord,
    meter: &Meter,
    on_open: &mut dyn ScanEvents,
) -> Result<Outcome, EngineError>
where
    P: PortProber,
    S: Schedule<Reply = P::SchedReply>,
    W: driver::Wire<P::Reply>,
    PortRecord: Record<P::Reply>,
{
    let mut events = PortEvents {
        prober,
        events: on_open,
    };
    let driven = driver::drive(
        cfg,
        prober,
        &mut sched,
        wire,
        &mut record,
        meter,
        &mut events,
    )?;
    Ok(outcome(record, &sched, driven))
}

/// The driver's events, as a port scan's caller hears them.
struct PortEvents<'a, P> {
    prober: &'a P,
    events: &'a mut dyn ScanEvents,
}

impl<P: PortProber, S: Schedule> driver::Events<PortRecord, S> for PortEvents<'_, P> {
    fn news(&mut self, value: u64) {
        if let Some((a, p)) = self.prober.probe(value) {
            self.events.open(a, p);
        }
    }

    fn idle(&mut self, record: &PortRecord, sched: &S) -> bool {
        let (srtt, rttvar) = sched.rtt();
        let estimate = Estimate {
            srtt,
            rttvar,
            timeout: sched.timeout(),
        };
        self.events.waiting(&record.results, estimate)
    }
}

/// The raw TCP schedule of a plan: its shard (less what a resume file
/// says is final), the raw drivers' timeout floor, the adaptive rate.
pub fn tcp_schedule(plan: &Plan, now: Instant) -> TcpSchedule {
    let mut cfg = plan.timing.tracker_config();
    cfg.min_timeout = plan.timing.raw_min_rtt_timeout;
    TcpSchedule::new(
        plan.permutation(),
        plan.index_range(),
        cfg,
        plan.timing.rate_config(),
        now,
    )
}

/// The UDP schedule of a plan: its shard, the resumed verdicts skipped.
pub fn udp_schedule(plan: &Plan) -> UdpScheduler {
    let t = &plan.timing;
    let cfg = UdpConfig {
        max_retries: t.max_retries,
        initial_timeout: t.initial_rtt_timeout,
        min_timeout: t.min_rtt_timeout,
        max_timeout: t.max_rtt_timeout,
        ..UdpConfig::default()
    };
    let mut s = UdpScheduler::with_range(
        plan.targets.len() as u64,
        plan.nports(),
        plan.permutation(),
        plan.index_range(),
        cfg,
    );
    for &(value, _) in &plan.prior {
        s.mark_final(value);
    }
    s
}

fn outcome<S: Schedule>(record: PortRecord, sched: &S, driven: driver::Driven) -> Outcome {
    let mut results = record.results;
    if let Some(at) = driven.resume_at {
        results.set_resume_at(at);
    }
    let (sent, retransmitted) = sched.sent();
    let (srtt, rttvar) = sched.rtt();
    Outcome {
        results,
        srtt,
        rttvar,
        timeout: sched.timeout(),
        sent,
        retransmitted,
        rate: sched.rate_report(),
    }
}
