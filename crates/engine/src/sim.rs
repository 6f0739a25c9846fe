//! A simulated network on a virtual clock, for driving the real loop
//! ([`crate::driver::drive`] through an [`Inline`] wire) without sockets:
//! one target whose ports are open, closed or dropped, loss each way,
//! replies that come back late, forged replies, and Linux-style ICMP rate
//! limiting. Replies are real packets, decoded by the real probers.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vigie_netio::tx::TxBatch;
use vigie_netio::{PacketRx, PacketTx};
use vigie_scan::ports::PortList;
use vigie_scan::targets::{IpRange, TargetSet};
use vigie_scan::{PortState, Reason, Technique};
use vigie_wire::summary::{summarize, Body};
use vigie_wire::tcp::TcpFlags;
use vigie_wire::template::TcpTemplate;
use vigie_wire::{checksum, ip_proto};

use crate::driver::{Clock, DriveConfig, Driven, Inline};
use crate::evasion::{Decoy, Evasion, Shaper};
use crate::plan::{Plan, Timing};
use crate::portscan::{
    scan_with, tcp_schedule, udp_schedule, Estimate, PortRecord, ScanEvents, TcpProber, UdpProber,
};
use crate::progress::{Board, Meter, Progress};
use crate::trace::Trace;
use crate::{Results, Stop};

const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const THEM: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Open,
    Closed,
    Dropped,
}

/// What the simulated path and target do.
#[derive(Debug, Clone)]
pub struct Net {
    pub ports: HashMap<u16, Port>,
    /// Ports not listed.
    pub default: Port,
    pub rtt: Duration,
    /// Per-mille of packets lost, each way.
    pub loss: u32,
    /// Per-mille of replies delayed by `late_by`.
    pub late: u32,
    pub late_by: Duration,
    /// Send a forged SYN-ACK (wrong cookie) for every probe to a closed port.
    pub forge: bool,
    /// ICMP errors: one per `icmp_interval` after a burst of `icmp_burst`
    /// (`None`: no limit); `icmp: false` sends none at all.
    pub icmp_interval: Option<Duration>,
    pub icmp_burst: u32,
    pub icmp: bool,
    /// Request a stop once this many probes went out.
    pub stop_after: Option<u64>,
    /// Answer every TCP probe from a source other than the scanner's (a
    /// decoy's copy) with a SYN-ACK, whatever the port: a reply the scan
    /// must not count.
    pub open_to_others: bool,
}

impl Default for Net {
    fn default() -> Self {
        Net {
            ports: HashMap::new(),
            default: Port::Closed,
            rtt: Duration::from_millis(2),
            loss: 0,
            late: 0,
            late_by: Duration::ZERO,
            forge: false,
            open_to_others: false,
            icmp_interval: None,
            icmp_burst: 6,
            icmp: true,
            stop_after: None,
        }
    }
}

struct State {
    now: Instant,
    net: Net,
    /// Arrival time → packets.
    queue: BTreeMap<Instant, Vec<Vec<u8>>>,
    rng: u64,
    tokens: f64,
    last_token: Instant,
    /// Probes that reached the target, per port.
    delivered: HashMap<u16, u32>,
    sent: u64,
    forged: u64,
    stop: Stop,
}

impl State {
    fn chance(&mut self, per_mille: u32) -> bool {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (r % 1000) < u64::from(per_mille)
    }

    fn icmp_allowed(&mut self) -> bool {
        if !self.net.icmp {
            return false;
        }
        let Some(iv) = self.net.icmp_interval else {
            return true;
        };
        let dt = self.now.saturating_duration_since(self.last_token);
        self.last_token = self.now;
        let burst = f64::from(self.net.icmp_burst);
        self.tokens = (self.tokens + dt.as_secs_f64() / iv.as_secs_f64()).min(burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn reply(&mut self, pkt: Vec<u8>) {
        if self.chance(self.net.loss) {
            return;
        }
        let mut at = self.now + self.net.rtt;
        if self.chance(self.net.late) {
            at += self.net.late_by;
        }
        self.queue.entry(at).or_default().push(pkt);
    }

    fn probe(&mut self, pkt: &[u8]) {
        self.sent += 1;
        if self.net.stop_after.is_some_and(|n| self.sent >= n) {
            self.stop.request();
        }
        if self.chance(self.net.loss) {
            return;
        }
        let Some(s) = summarize(pkt) else { return };
        match s.body {
            Body::Tcp {
                sport, dport, seq, ..
            } => {
                *self.delivered.entry(dport).or_default() += 1;
                let mut kind = *self.net.ports.get(&dport).unwrap_or(&self.net.default);
                if self.net.open_to_others && s.src != IpAddr::V4(US) {
                    kind = Port::Open;
                }
                let us = s.src;
                let reply = |flags: TcpFlags, seq: u32, ack: u32| {
                    let t = TcpTemplate::new(IpAddr::V4(THEM), flags, 65535, None, 64);
                    let mut buf = vec![0u8; 128];
                    let n = t.stamp(&mut buf, us, dport, sport, seq, ack, 7);
                    buf.truncate(n);
                    buf
                };
                match kind {
                    Port::Open => {
                        let r = reply(
                            TcpFlags::SYN | TcpFlags::ACK,
                            0x1234_5678,
                            seq.wrapping_add(1),
                        );
                        self.reply(r);
                    }
                    Port::Closed => {
                        let r = reply(TcpFlags::RST | TcpFlags::ACK, 0, seq.wrapping_add(1));
                        self.reply(r);
                        if self.net.forge {
                            self.forged += 1;
                            let f = reply(
                                TcpFlags::SYN | TcpFlags::ACK,
                                1,
                                seq.wrapping_add(1).wrapping_add(0x10000),
                            );
                            self.queue.entry(self.now).or_default().push(f);
                        }
                    }
                    Port::Dropped => {}
                }
            }
            Body::Udp { dport, .. } => {
                *self.delivered.entry(dport).or_default() += 1;
                let kind = *self.net.ports.get(&dport).unwrap_or(&self.net.default);
                match kind {
                    Port::Open => {
                        // Echo the datagram back, ports swapped.
                        let r = udp_echo(pkt);
                        self.reply(r);
                    }
                    Port::Closed => {
                        if self.icmp_allowed() {
                            let r = port_unreachable(pkt);
                            self.reply(r);
                        }
                    }
                    Port::Dropped => {}
                }
            }
            _ => {}
        }
    }
}

/// An IPv4 UDP datagram back to the probe's source, ports swapped.
fn udp_echo(probe: &[u8]) -> Vec<u8> {
    let mut p = probe.to_vec();
    p[12..16].copy_from_slice(&THEM.octets());
    p[16..20].copy_from_slice(&US.octets());
    let (a, b) = (p[20..22].to_vec(), p[22..24].to_vec());
    p[20..22].copy_from_slice(&b);
    p[22..24].copy_from_slice(&a);
    p
}

/// ICMP port unreachable quoting the probe's IP header and 8 bytes.
fn port_unreachable(probe: &[u8]) -> Vec<u8> {
    let quoted = &probe[..28.min(probe.len())];
    let len = 20 + 8 + quoted.len();
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[8] = 64;
    p[9] = ip_proto::ICMP;
    p[12..16].copy_from_slice(&THEM.octets());
    p[16..20].copy_from_slice(&US.octets());
    p[20] = 3;
    p[21] = 3;
    p[28..].copy_from_slice(quoted);
    let c = checksum::finish(checksum::sum(&p[20..], 0));
    p[22..24].copy_from_slice(&c.to_be_bytes());
    p
}

/// The simulated network's two ends and its clock share one state.
#[derive(Clone)]
pub struct Sim(Arc<Mutex<State>>);

impl Sim {
    pub fn new(net: Net, stop: Stop) -> Sim {
        let now = Instant::now();
        Sim(Arc::new(Mutex::new(State {
            now,
            net,
            queue: BTreeMap::new(),
            rng: 0x9e37_79b9_7f4a_7c15,
            tokens: 0.0,
            last_token: now,
            delivered: HashMap::new(),
            sent: 0,
            forged: 0,
            stop,
        })))
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    pub fn delivered(&self, port: u16) -> u32 {
        self.st().delivered.get(&port).copied().unwrap_or(0)
    }

    pub fn sent(&self) -> u64 {
        self.st().sent
    }

    pub fn forged(&self) -> u64 {
        self.st().forged
    }

    pub fn elapsed_since(&self, t0: Instant) -> Duration {
        self.st().now.saturating_duration_since(t0)
    }

    /// Start the ICMP bucket full.
    fn fill_bucket(&self) {
        let mut st = self.st();
        st.tokens = f64::from(st.net.icmp_burst);
    }
}

impl Clock for Sim {
    fn now(&self) -> Instant {
        self.st().now
    }
}

impl PacketTx for Sim {
    fn send_batch(&mut self, batch: &TxBatch) -> io::Result<usize> {
        let mut st = self.st();
        for (_, pkt) in batch.iter() {
            st.probe(pkt);
        }
        Ok(batch.len())
    }
}

impl PacketRx for Sim {
    /// Delivers what has arrived by now; when nothing has, moves the clock
    /// to the next arrival (or by `timeout`, whichever comes first).
    fn poll_packets(&mut self, timeout: Duration, f: &mut dyn FnMut(&[u8])) -> io::Result<usize> {
        let mut st = self.st();
        let now = st.now;
        let next = st.queue.keys().next().copied();
        match next {
            Some(t) if t <= now => {}
            Some(t) if t <= now + timeout => st.now = t,
            _ => st.now = now + timeout,
        }
        let now = st.now;
        let later = st.queue.split_off(&(now + Duration::from_nanos(1)));
        let ready = std::mem::replace(&mut st.queue, later);
        drop(st);
        let mut n = 0;
        for pkts in ready.into_values() {
            for p in pkts {
                f(&p);
                n += 1;
            }
        }
        Ok(n)
    }
}

fn plan(technique: Technique, ports: &[u16]) -> Plan {
    let t = TargetSet::new(&[IpRange::single(IpAddr::V4(THEM))], &[]);
    let timing = Timing {
        max_retries: 10,
        ..Timing::template(4)
    };
    Plan::new(technique, t, PortList::from_ports(ports), 42, timing).unwrap()
}

/// Drive `plan` through the simulated network; returns the table and how
/// the drive ended.
fn run(plan: &Plan, sim: &Sim, stop: &Stop) -> (Results, Driven) {
    run_traced(plan, sim, stop, None)
}

fn run_traced(plan: &Plan, sim: &Sim, stop: &Stop, trace: Option<Arc<Trace>>) -> (Results, Driven) {
    run_with(plan, sim, stop, trace, &Evasion::default())
}

/// [`run_traced`] with evasion options (TCP only).
fn run_with(
    plan: &Plan,
    sim: &Sim,
    stop: &Stop,
    trace: Option<Arc<Trace>>,
    evasion: &Evasion,
) -> (Results, Driven) {
    run_events(plan, sim, stop, trace, evasion, &mut |_, _| {})
}

/// [`run_with`], telling `events` what the scan tells its caller.
fn run_events(
    plan: &Plan,
    sim: &Sim,
    stop: &Stop,
    trace: Option<Arc<Trace>>,
    evasion: &Evasion,
    events: &mut dyn ScanEvents,
) -> (Results, Driven) {
    let board: Progress = Arc::new(Board::new());
    let meter = Meter::on(&board);
    let src = [Some(IpAddr::V4(US)), None];
    let cfg = DriveConfig {
        batch: 64,
        rate: None,
        deadline: None,
        stop: stop.clone(),
        ident: 1,
        trace: trace.clone(),
        shaper: Shaper::of(evasion).map(Arc::new),
    };
    let record = PortRecord::new(plan);
    let outcome = if plan.technique == Technique::Udp {
        let prober = Arc::new(UdpProber::new(plan, src));
        let mut wire = inline(sim, &prober, trace.clone());
        scan_with(
            &cfg,
            &*prober,
            udp_schedule(plan),
            &mut wire,
            record,
            &meter,
            &mut *events,
        )
    } else {
        let data = evasion.shape.payload.as_ref().map_or(0, Vec::len);
        let prober = Arc::new(TcpProber::with_source_port(
            plan,
            src,
            evasion.source_port,
            data,
        ));
        let mut wire = inline(sim, &prober, trace.clone());
        let sched = tcp_schedule(plan, sim.now());
        scan_with(
            &cfg,
            &*prober,
            sched,
            &mut wire,
            record,
            &meter,
            &mut *events,
        )
    };
    let outcome = outcome.unwrap();
    let driven = Driven {
        interrupted: outcome.results.resume_at().is_some(),
        resume_at: outcome.results.resume_at(),
    };
    (outcome.results, driven)
}

fn inline<P>(sim: &Sim, prober: &Arc<P>, trace: Option<Arc<Trace>>) -> Inline<Sim, Sim, Sim, P> {
    Inline {
        tx: sim.clone(),
        rx: sim.clone(),
        clock: sim.clone(),
        prober: Arc::clone(prober),
        trace,
    }
}

fn states(plan: &Plan, r: &Results) -> HashMap<u16, (PortState, Reason)> {
    plan.ports
        .iter()
        .zip(r.host(0))
        .filter(|(_, c)| !c.is_empty())
        .map(|(p, c)| (p, (c.state().unwrap(), c.reason().unwrap())))
        .collect()
}

fn layout(n: u16) -> (Vec<u16>, HashMap<u16, Port>) {
    let ports: Vec<u16> = (1..=n).collect();
    let mut kinds = HashMap::new();
    for &p in &ports {
        let k = match p % 10 {
            0 => Port::Open,
            3 | 7 => Port::Dropped,
            _ => Port::Closed,
        };
        kinds.insert(p, k);
    }
    (ports, kinds)
}

fn want_tcp(k: Port) -> (PortState, Reason) {
    match k {
        Port::Open => (PortState::Open, Reason::SynAck),
        Port::Closed => (PortState::Closed, Reason::Reset),
        Port::Dropped => (PortState::Filtered, Reason::NoResponse),
    }
}

fn assert_exact(
    got: &HashMap<u16, (PortState, Reason)>,
    kinds: &HashMap<u16, Port>,
    want: fn(Port) -> (PortState, Reason),
) {
    let wrong: Vec<_> = kinds
        .iter()
        .filter(|(p, k)| got.get(p) != Some(&want(**k)))
        .map(|(p, k)| (*p, *k, got.get(p).copied()))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} ports wrong: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
}

/// `ports` behind a path that loses half the replies, delays a fifth of
/// them by 700 ms and forges SYN-ACKs.
fn hostile(ports: HashMap<u16, Port>) -> Net {
    Net {
        ports,
        loss: 50,
        late: 20,
        late_by: Duration::from_millis(700),
        forge: true,
        ..Net::default()
    }
}

#[test]
fn syn_scan_is_exact_under_loss_late_and_forged_replies() {
    let (ports, kinds) = layout(2000);
    let stop = Stop::new();
    let sim = Sim::new(hostile(kinds.clone()), stop.clone());
    let plan = plan(Technique::Syn, &ports);
    let (results, driven) = run(&plan, &sim, &stop);
    assert!(!driven.interrupted);
    assert!(sim.forged() > 1000, "forged {}", sim.forged());
    assert_exact(&states(&plan, &results), &kinds, want_tcp);
}

/// What the scan's wait at the end offered, as a test sees it.
#[derive(Default)]
struct Waits {
    calls: u64,
    /// Probes sent when the first wait came.
    sent_then: Option<u64>,
    /// Each answered cell, the first time a wait showed it.
    seen: HashMap<u64, crate::Cell>,
    sim: Option<Sim>,
}

impl ScanEvents for Waits {
    fn open(&mut self, _addr: IpAddr, _port: u16) {}

    fn waiting(&mut self, results: &Results, estimate: Estimate) -> bool {
        self.calls += 1;
        if self.sent_then.is_none() {
            self.sent_then = self.sim.as_ref().map(Sim::sent);
        }
        assert!(estimate.timeout > Duration::ZERO);
        for (v, c) in results.host(0).iter().enumerate() {
            if !c.is_empty() {
                self.seen.entry(v as u64).or_insert(*c);
            }
        }
        false
    }
}

/// The scan offers its caller the wait at its end only once every probe
/// has had its first send, and a verdict shown then is final: under loss
/// and late replies, each answered cell a wait showed is the cell of the
/// finished table.
#[test]
fn the_wait_at_the_end_shows_only_final_verdicts() {
    let (ports, kinds) = layout(2000);
    let stop = Stop::new();
    let sim = Sim::new(hostile(kinds.clone()), stop.clone());
    let plan = plan(Technique::Syn, &ports);
    let mut waits = Waits {
        sim: Some(sim.clone()),
        ..Waits::default()
    };
    let (results, _) = run_events(&plan, &sim, &stop, None, &Evasion::default(), &mut waits);
    assert_exact(&states(&plan, &results), &kinds, want_tcp);
    assert!(waits.calls > 0, "no wait was offered");
    assert!(
        waits.sent_then.unwrap() >= 2000,
        "offered before the first pass ended"
    );
    // Most verdicts are in before the last waits (half the first sends were lost).
    assert!(waits.seen.len() > 500, "{} seen", waits.seen.len());
    let last = results.host(0);
    for (v, c) in &waits.seen {
        assert_eq!(
            last[*v as usize], *c,
            "probe {v} changed after a wait showed it"
        );
    }
}

/// Decoys, a payload and one source port: every probe goes out three
/// times (a decoy, us, a decoy), the simulated target answers each copy's
/// source, and only the replies to our own copy count — the table is
/// exact under loss, late and forged replies.
#[test]
fn decoys_and_payloads_keep_the_scan_exact() {
    let (ports, kinds) = layout(1000);
    let stop = Stop::new();
    let sim = Sim::new(
        Net {
            open_to_others: true,
            ..hostile(kinds.clone())
        },
        stop.clone(),
    );
    let plan = plan(Technique::Syn, &ports);
    let decoy = |n| Decoy::Addr(IpAddr::V4(Ipv4Addr::new(198, 18, 0, n)));
    let evasion = Evasion {
        source_port: Some(53),
        shape: vigie_wire::shape::Shape {
            payload: Some(vec![0x5a; 16]),
            ttl: Some(40),
            ..Default::default()
        },
        decoys: vec![decoy(50), Decoy::Me, decoy(51)],
        ..Evasion::default()
    };
    let (results, driven) = run_with(&plan, &sim, &stop, None, &evasion);
    assert!(!driven.interrupted);
    assert_exact(&states(&plan, &results), &kinds, want_tcp);
    // Three copies of every probe (and of each retransmission).
    let sent = sim.sent();
    assert!(sent >= 3 * 1000, "sent {sent}");
    assert_eq!(sent % 3, 0, "copies go out together");
}

/// With a trace, every probe the loop sends gets a SENT line and every
/// reply the prober accepts a RCVD line: the forged SYN-ACKs (wrong
/// cookie) get none, each RCVD line answers the kind of port it names.
#[test]
fn the_trace_shows_every_probe_and_only_valid_replies() {
    let (ports, kinds) = layout(300);
    let stop = Stop::new();
    let sim = Sim::new(
        Net {
            ports: kinds.clone(),
            loss: 50,
            forge: true,
            ..Net::default()
        },
        stop.clone(),
    );
    let plan = plan(Technique::Syn, &ports);
    let out = crate::trace::tests::Shared::default();
    let trace = Arc::new(Trace::new(Box::new(out.clone()), true, 2));
    let (results, _) = run_traced(&plan, &sim, &stop, Some(trace));
    assert_exact(&states(&plan, &results), &kinds, want_tcp);
    assert!(sim.forged() > 100, "forged {}", sim.forged());
    let text = out.text();
    let sent = text.lines().filter(|l| l.starts_with("SENT (")).count();
    assert_eq!(sent as u64, sim.sent(), "SENT lines");
    let mut rcvd = 0;
    for l in text.lines().filter(|l| l.starts_with("RCVD (")) {
        rcvd += 1;
        let f: Vec<&str> = l.split_whitespace().collect();
        // RCVD (t) TCP 198.18.0.2:port > 198.18.0.1:sport FLAGS ...
        assert_eq!(f[2], "TCP", "{l}");
        let port: u16 = f[3].strip_prefix("198.18.0.2:").unwrap().parse().unwrap();
        let want = match kinds[&port] {
            Port::Open => "SA",
            Port::Closed => "RA",
            Port::Dropped => panic!("a reply from dropped port {port}: {l}"),
        };
        assert_eq!(f[6], want, "{l}");
    }
    // Every port but the dropped ones answered at least once.
    let answering = kinds.values().filter(|k| **k != Port::Dropped).count();
    assert!(rcvd >= answering, "{rcvd} RCVD lines for {answering} ports");
    assert!(text.contains("driver: start"), "{text}");
    assert!(text.contains("driver: done"), "{text}");
    assert!(text.contains("retransmitting"), "{text}");
}

#[test]
fn a_stopped_scan_resumes_exactly() {
    // Every port answers, so windows finish in order and the watermark
    // moves (a silent port holds it until its last retry).
    let (ports, mut kinds) = layout(30000);
    for k in kinds.values_mut() {
        if *k == Port::Dropped {
            *k = Port::Closed;
        }
    }
    let stop = Stop::new();
    let sim = Sim::new(
        Net {
            ports: kinds.clone(),
            stop_after: Some(10000),
            ..Net::default()
        },
        stop.clone(),
    );
    let plan1 = plan(Technique::Syn, &ports);
    let (first, driven) = run(&plan1, &sim, &stop);
    assert!(driven.interrupted);
    let at = driven.resume_at.unwrap();
    assert!(at > 0 && at < 30000, "resume at {at}");
    // Nothing was sent after the stop (the batch in hand went out).
    assert!(sim.sent() <= 10000 + 64, "sent {}", sim.sent());
    // The resumed run: from the watermark, with the known verdicts.
    let stop2 = Stop::new();
    let sim2 = Sim::new(
        Net {
            ports: kinds.clone(),
            ..Net::default()
        },
        stop2.clone(),
    );
    let mut plan2 = plan1.clone();
    plan2.keys = crate::plan::random_keys().unwrap();
    plan2.resume_from = at;
    plan2.prior = first.known().collect();
    let (second, driven) = run(&plan2, &sim2, &stop2);
    assert!(!driven.interrupted);
    assert!(
        sim2.sent() <= 30000 - at + 200,
        "resumed run sent {}",
        sim2.sent()
    );
    assert_exact(&states(&plan2, &second), &kinds, want_tcp);
}

#[test]
fn shards_send_only_their_share_and_tile_the_scan() {
    let (ports, kinds) = layout(400);
    let mut union = HashMap::new();
    let mut total_sent = 0;
    for i in 0..4 {
        let stop = Stop::new();
        let sim = Sim::new(
            Net {
                ports: kinds.clone(),
                default: Port::Dropped,
                ..Net::default()
            },
            stop.clone(),
        );
        let mut p = plan(Technique::Udp, &ports);
        p.shard = (i, 4);
        let (r, _) = run(&p, &sim, &stop);
        let s = states(&p, &r);
        let scope = p.scope();
        // Only the shard's ports have verdicts, and only they were probed.
        for (k, port) in p.ports.iter().enumerate() {
            let mine = scope.contains(k as u64);
            assert_eq!(s.contains_key(&port), mine, "port {port}");
            if !mine {
                assert_eq!(sim.delivered(port), 0, "port {port} of another shard");
            }
        }
        total_sent += sim.sent();
        for (port, v) in s {
            assert!(union.insert(port, v).is_none(), "port {port} in two shards");
        }
    }
    assert_eq!(union.len(), 400);
    assert!(total_sent < 400 * 3, "sent {total_sent}");
    assert_exact(&union, &kinds, want_udp);
}

fn want_udp(k: Port) -> (PortState, Reason) {
    match k {
        Port::Open => (PortState::Open, Reason::UdpResponse),
        Port::Closed => (PortState::Closed, Reason::PortUnreach),
        Port::Dropped => (PortState::OpenFiltered, Reason::NoResponse),
    }
}

#[test]
fn udp_is_exact_under_an_icmp_rate_limit() {
    let (ports, kinds) = layout(300);
    let stop = Stop::new();
    let sim = Sim::new(
        Net {
            ports: kinds.clone(),
            icmp_interval: Some(Duration::from_millis(50)),
            icmp_burst: 6,
            ..Net::default()
        },
        stop.clone(),
    );
    sim.fill_bucket();
    let t0 = sim.now();
    let plan = plan(Technique::Udp, &ports);
    let (results, _) = run(&plan, &sim, &stop);
    assert_exact(&states(&plan, &results), &kinds, want_udp);
    // Physics: about one closed port per interval.
    let closed = kinds.values().filter(|k| **k == Port::Closed).count() as u32;
    assert!(sim.elapsed_since(t0) >= Duration::from_millis(50) * (closed - 6));
}

#[test]
fn a_host_without_icmp_gets_two_datagrams_per_port_and_zero_retries_one() {
    for (retries, per_port) in [(10u8, 2u32), (0, 1)] {
        let ports: Vec<u16> = (20000..20200).collect();
        let stop = Stop::new();
        let sim = Sim::new(
            Net {
                default: Port::Closed,
                icmp: false,
                ..Net::default()
            },
            stop.clone(),
        );
        let mut p = plan(Technique::Udp, &ports);
        p.timing.max_retries = retries;
        let (r, _) = run(&p, &sim, &stop);
        let s = states(&p, &r);
        assert!(s
            .values()
            .all(|v| *v == (PortState::OpenFiltered, Reason::NoResponse)));
        for &port in &ports {
            assert_eq!(
                sim.delivered(port),
                per_port,
                "port {port}, max-retries {retries}"
            );
        }
    }
}
