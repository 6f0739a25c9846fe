//! The host-discovery driver: ping sweeps over raw IP (ICMP, TCP, UDP
//! probes) and over the link layer (ARP for IPv4, neighbour solicitation
//! for IPv6) for targets on a directly attached segment.
//!
//! Both walk `host × probe` in permutation order with the same retry
//! [`Tracker`] as port scans; the tracker's RTT estimate sets how long to
//! wait before a retransmission. A host is up at its first valid reply;
//! its remaining probes are not sent any more.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_netio::link::{self, LinkSocket};
use vigie_netio::rx::{Receiver, RxConfig};
use vigie_netio::tx::{RawSender, TxBatch};
use vigie_scan::cookie::Keys;
use vigie_scan::discovery::{self, Probe};
use vigie_scan::perm::Permutation;
use vigie_scan::targets::{IpRange, TargetSet};
use vigie_scan::tracker::Tracker;
use vigie_scan::Reason;
use vigie_wire::ethernet::MacAddr;

use crate::pace::Pacer;
use crate::plan::Timing;
use crate::progress::{self, Meter};
use crate::rxloop;
use crate::EngineError;

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
    pub srtt: Option<Duration>,
    pub rttvar: Option<Duration>,
    pub sent: u64,
    pub retransmitted: u64,
}

impl Sweep {
    fn absorb(&mut self, other: Sweep) {
        self.up.extend(other.up);
        self.srtt = self.srtt.or(other.srtt);
        self.rttvar = self.rttvar.or(other.rttvar);
        self.sent += other.sent;
        self.retransmitted += other.retransmitted;
    }
}

/// Targets split by how they are reached.
struct Split {
    /// (interface, our address on it, IPv6?, ranges)
    link: Vec<(link::Interface, IpAddr, bool, Vec<IpRange>)>,
    ip: Vec<IpRange>,
}

fn split(plan: &PingPlan) -> Result<Split, EngineError> {
    let mut s = Split {
        link: Vec::new(),
        ip: Vec::new(),
    };
    for r in plan.targets.ranges() {
        let on = if plan.link {
            match (link::on_link(r.first())?, link::on_link(r.last())?) {
                (Some((a, src)), Some((b, _))) if a.index == b.index => Some((a, src)),
                _ => None,
            }
        } else {
            None
        };
        match on {
            Some((iface, src)) => {
                let v6 = src.is_ipv6();
                match s
                    .link
                    .iter_mut()
                    .find(|(i, _, f, _)| i.index == iface.index && *f == v6)
                {
                    Some(g) => g.3.push(*r),
                    None => s.link.push((iface, src, v6, vec![*r])),
                }
            }
            None => s.ip.push(*r),
        }
    }
    Ok(s)
}

/// Run a sweep to completion.
pub fn run(plan: &PingPlan) -> Result<Sweep, EngineError> {
    let parts = split(plan)?;
    let mut total = 0u64;
    for (_, _, _, ranges) in &parts.link {
        total += TargetSet::new(ranges, &[]).len() as u64;
    }
    if !plan.probes.is_empty() {
        let ip = TargetSet::new(&parts.ip, &[]).len() as u64;
        total += ip.saturating_mul(plan.probes.len() as u64);
    }
    let _phase = progress::Phase::begin(progress::PING_SCAN, total);
    let mut out = Sweep::default();
    for (iface, src, v6, ranges) in parts.link {
        let targets = TargetSet::new(&ranges, &[]);
        out.absorb(link_sweep(plan, &targets, &iface, src, v6)?);
    }
    if !parts.ip.is_empty() && !plan.probes.is_empty() {
        let targets = TargetSet::new(&parts.ip, &[]);
        out.absorb(ip_sweep(plan, targets)?);
    }
    Ok(out)
}

/// The reply-side message from the receive thread: flat probe id and why.
type Found = (u64, HostUp);

fn ip_sweep(plan: &PingPlan, targets: TargetSet) -> Result<Sweep, EngineError> {
    let nprobes = plan.probes.len() as u64;
    let total = (targets.len() as u64).saturating_mul(nprobes);
    let source = |v6: bool| -> Result<Option<IpAddr>, EngineError> {
        let Some(dst) = targets.ranges().iter().find_map(|r| match r {
            IpRange::V4 { .. } if !v6 => Some(r.first()),
            IpRange::V6 { .. } if v6 => Some(r.first()),
            _ => None,
        }) else {
            return Ok(None);
        };
        vigie_netio::route::source_for(dst)
            .map(Some)
            .map_err(|source| EngineError::Setup {
                what: "no route to the targets",
                source,
            })
    };
    let (src4, src6) = (source(false)?, source(true)?);
    let receiver = Receiver::new(&RxConfig::default()).map_err(|source| EngineError::Setup {
        what: "cannot open the packet receive ring (AF_PACKET)",
        source,
    })?;
    let mut sender = RawSender::new().map_err(|source| EngineError::Setup {
        what: "cannot open a raw socket",
        source,
    })?;

    let targets = Arc::new(targets);
    let stop = Arc::new(AtomicBool::new(false));
    let (found_tx, found_rx) = mpsc::channel::<Vec<Found>>();
    let rx_thread = {
        let targets = Arc::clone(&targets);
        let (keys, probes) = (plan.keys, plan.probes.clone());
        let decode = move |pkt: &[u8]| {
            let a = discovery::read_reply(&keys, &probes, pkt)?;
            let h = targets.index_of(a.host)?;
            let up = HostUp {
                reason: a.reason,
                ttl: a.ttl,
                mac: None,
            };
            Some((h * nprobes + a.probe as u64, up))
        };
        rxloop::spawn(
            "vigie-ping-rx",
            receiver,
            decode,
            found_tx,
            Arc::clone(&stop),
        )?
    };

    let mut tracker = Tracker::new(
        Permutation::new(total, plan.seed ^ 0xd15c_0e7e),
        0..total,
        plan.timing.tracker_config(),
    );
    let mut pacer = Pacer::new(plan.timing.max_rate, BATCH, Instant::now());
    let mut batch = TxBatch::new(BATCH);
    let mut sweep = Sweep::default();
    let mut ident = plan.seed as u16;
    let deadline = plan.timing.host_timeout.map(|t| Instant::now() + t);
    let meter = Meter::new();
    let publish = |tracker: &Tracker, sweep: &Sweep| {
        let st = tracker.stats();
        meter.update(st.done, st.sent);
        meter.found_total(sweep.up.len() as u64);
    };
    let record = |sweep: &mut Sweep, tracker: &mut Tracker, now: Instant, b: Vec<Found>| {
        for (value, up) in b {
            tracker.handle_reply(now, value);
            if let Some(addr) = targets.get(value / nprobes) {
                sweep.up.entry(addr).or_insert(up);
            }
        }
    };
    let result: Result<(), EngineError> = loop {
        let now = Instant::now();
        for b in found_rx.try_iter() {
            record(&mut sweep, &mut tracker, now, b);
        }
        if tracker.poll_timeout().is_some_and(|t| t <= now) {
            tracker.handle_timeout(now);
        }
        while tracker.poll_event().is_some() {}
        publish(&tracker, &sweep);
        if tracker.is_done() || deadline.is_some_and(|d| now >= d) || crate::stop_requested() {
            break Ok(());
        }
        let allowed = pacer.allowance(now);
        while batch.len() < allowed {
            let Some(t) = tracker.poll_transmit(now) else {
                break;
            };
            let Some(dst) = targets.get(t.value / nprobes) else {
                continue;
            };
            if sweep.up.contains_key(&dst) {
                continue;
            }
            let probe = plan.probes[(t.value % nprobes) as usize];
            let Some(src) = (if dst.is_ipv6() { src6 } else { src4 }) else {
                continue;
            };
            if !probe.applies_to(dst.is_ipv6()) {
                continue;
            }
            batch.push_with(dst, |buf| {
                discovery::write_probe(buf, &plan.keys, probe, src, dst, PROBE_TTL, ident)
            });
            ident = ident.wrapping_add(1);
        }
        if !batch.is_empty() {
            pacer.spend(batch.len());
            if let Err(e) = sender.send(&batch) {
                break Err(e.into());
            }
            batch.clear();
            continue;
        }
        let mut wait = Duration::from_millis(50);
        if let Some(t) = tracker.poll_timeout() {
            wait = wait.min(t.saturating_duration_since(now));
        }
        if allowed == 0 {
            wait = wait.min(pacer.wait());
        }
        match found_rx.recv_timeout(wait) {
            Ok(b) => record(&mut sweep, &mut tracker, Instant::now(), b),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(EngineError::Io(std::io::Error::other(
                    "the receive thread stopped",
                )))
            }
        }
    };
    stop.store(true, Ordering::Release);
    let joined = rx_thread.join();
    result?;
    if joined.is_err() {
        return Err(EngineError::Io(std::io::Error::other(
            "the receive thread panicked",
        )));
    }
    let now = Instant::now();
    for b in found_rx.try_iter() {
        record(&mut sweep, &mut tracker, now, b);
    }
    publish(&tracker, &sweep);
    let st = tracker.stats();
    sweep.srtt = st.srtt;
    sweep.rttvar = st.rttvar;
    sweep.sent = st.sent;
    sweep.retransmitted = st.retransmitted;
    Ok(sweep)
}

/// ARP (IPv4) or neighbour solicitation (IPv6) to every target on one
/// interface; one thread, the socket polled between sends.
fn link_sweep(
    plan: &PingPlan,
    targets: &TargetSet,
    iface: &link::Interface,
    src: IpAddr,
    v6: bool,
) -> Result<Sweep, EngineError> {
    let ethertype = if v6 {
        link::ETH_P_IPV6
    } else {
        link::ETH_P_ARP
    };
    let sock = LinkSocket::open(iface.index, ethertype).map_err(|source| EngineError::Setup {
        what: "cannot open a link-layer socket (AF_PACKET)",
        source,
    })?;
    let mac = MacAddr(iface.mac);
    let total = targets.len() as u64;
    let mut tracker = Tracker::new(
        Permutation::new(total, plan.seed ^ 0xa4b0),
        0..total,
        plan.timing.tracker_config(),
    );
    let mut pacer = Pacer::new(plan.timing.max_rate, BATCH, Instant::now());
    let mut sweep = Sweep::default();
    let mut frame = [0u8; 128];
    let mut rbuf = vec![0u8; 2048];
    let deadline = plan.timing.host_timeout.map(|t| Instant::now() + t);
    let meter = Meter::new();
    let publish = |tracker: &Tracker, sweep: &Sweep| {
        let st = tracker.stats();
        meter.update(st.done, st.sent);
        meter.found_total(sweep.up.len() as u64);
    };
    loop {
        // Everything already received.
        while let Some(n) = sock.recv(&mut rbuf, Duration::ZERO)? {
            absorb_link(&rbuf[..n], v6, targets, &mut tracker, &mut sweep);
        }
        let now = Instant::now();
        if tracker.poll_timeout().is_some_and(|t| t <= now) {
            tracker.handle_timeout(now);
        }
        while tracker.poll_event().is_some() {}
        publish(&tracker, &sweep);
        if tracker.is_done() || deadline.is_some_and(|d| now >= d) || crate::stop_requested() {
            break;
        }
        let allowed = pacer.allowance(now);
        let mut sent = 0;
        while sent < allowed {
            let Some(t) = tracker.poll_transmit(now) else {
                break;
            };
            let Some(dst) = targets.get(t.value) else {
                continue;
            };
            if sweep.up.contains_key(&dst) {
                continue;
            }
            let n = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    discovery::write_arp_request(&mut frame, mac, s, d)
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    vigie_wire::ndisc::emit_solicit_frame(&mut frame, mac, s, d)
                }
                _ => continue,
            };
            sock.send(&frame[..n])?;
            sent += 1;
        }
        if sent > 0 {
            pacer.spend(sent);
            continue;
        }
        let mut wait = Duration::from_millis(50);
        if let Some(t) = tracker.poll_timeout() {
            wait = wait.min(t.saturating_duration_since(now));
        }
        if allowed == 0 {
            wait = wait.min(pacer.wait());
        }
        if let Some(n) = sock.recv(&mut rbuf, wait)? {
            absorb_link(&rbuf[..n], v6, targets, &mut tracker, &mut sweep);
        }
    }
    let st = tracker.stats();
    sweep.srtt = st.srtt;
    sweep.rttvar = st.rttvar;
    sweep.sent = st.sent;
    sweep.retransmitted = st.retransmitted;
    Ok(sweep)
}

fn absorb_link(
    frame: &[u8],
    v6: bool,
    targets: &TargetSet,
    tracker: &mut Tracker,
    sweep: &mut Sweep,
) {
    let got = if v6 {
        frame
            .get(vigie_wire::ethernet::HEADER_LEN..)
            .and_then(discovery::read_neighbor_advert)
            .map(|(a, m, _)| (IpAddr::V6(a), m, Reason::NdResponse))
    } else {
        discovery::read_arp_reply(frame).map(|(a, m)| (IpAddr::V4(a), m, Reason::ArpResponse))
    };
    let Some((addr, mac, reason)) = got else {
        return;
    };
    let Some(i) = targets.index_of(addr) else {
        return;
    };
    tracker.handle_reply(Instant::now(), i);
    sweep.up.entry(addr).or_insert(HostUp {
        reason,
        ttl: 0,
        mac: Some(mac.0),
    });
}
