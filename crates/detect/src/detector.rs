//! The rules: what counts as a probe, of which kind, what this host's
//! answers say about it, when a source (or a group of sources) has probed
//! enough distinct targets to be a scan.
//!
//! Per source and kind, every distinct probed target (destination, port —
//! or ICMP type, or ARP/ND target address) has a state ([`TState`]). The
//! suspicious ones (unanswered, closed, half-open, abandoned) are counted;
//! open ports that served a session are not. A kind alerts when its count
//! reaches the kind's threshold ([`threshold`]); the count is kept for
//! [`Config::horizon`] (an hour), so slow scans add up.

use crate::alert::{Alert, GroupKind};
use crate::fingerprint::{crafted_syn, tool_of};
use crate::frag::Frags;
use crate::parse::{self, Body, Pkt};
use crate::table::{Entity, TState, Table, Target, MAX_MEMBERS, MAX_TARGETS};
use crate::track::{ds, Flows, Isns, Recent};
use crate::{Config, Dir, Family, Frame, Kind, Shape};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use vigie_wire::{ip_proto, TcpFlags};

/// Alerts waiting for [`Detector::poll_alert`]; past this, new ones are
/// dropped (and counted).
pub const MAX_QUEUED: usize = 4096;
/// Decoy groups tracked at once.
pub const MAX_GROUPS: usize = 1024;
/// ARP and ND sweeps count targets solicited within this window.
pub const SWEEP_WINDOW: Duration = Duration::from_secs(3);
/// UDP ports traceroute uses by default: probes there are not counted.
const TRACEROUTE: std::ops::RangeInclusive<u16> = 33434..=33534;
/// Source ports of services whose replies come back to an ephemeral port
/// (DNS, NTP, QUIC/HTTP3, mDNS, DHCP, SNMP...): a datagram from one of
/// these to a port ≥ 1024 is taken as a reply even when the flow it
/// answers was not seen.
const REPLY_PORTS: [u16; 8] = [53, 67, 68, 123, 161, 443, 500, 5353];

/// Distinct suspicious targets that make a scan of this kind.
///
/// `crafted`: the source's probes carry a raw tool's fingerprint. ACK and
/// FIN|ACK segments also come from OS stacks after a conntrack flush or a
/// lost flow, so without a fingerprint those two need more targets.
pub fn threshold(kind: Kind, crafted: bool) -> u32 {
    match kind {
        Kind::Fin | Kind::Null | Kind::Xmas | Kind::OtherFlags => 3,
        Kind::Maimon => {
            if crafted {
                3
            } else {
                5
            }
        }
        Kind::Ack => {
            if crafted {
                4
            } else {
                6
            }
        }
        Kind::Syn | Kind::Connect | Kind::Udp => 5,
        // In points: echo 1, timestamp and address mask 2.
        Kind::IcmpSweep => 5,
        Kind::TcpPingSweep => 3,
        Kind::ArpSweep | Kind::NdSweep => 6,
    }
}

fn weight(t: &Target) -> u32 {
    match (t.kind, t.port) {
        (Kind::IcmpSweep, 13 | 17) => 2,
        _ => 1,
    }
}

fn is_tcp_kind(k: Kind) -> bool {
    matches!(
        k,
        Kind::Syn
            | Kind::Connect
            | Kind::Fin
            | Kind::Null
            | Kind::Xmas
            | Kind::Ack
            | Kind::Maimon
            | Kind::OtherFlags
            | Kind::TcpPingSweep
    )
}

/// The /24 (IPv4) or /64 (IPv6) of an address.
fn prefix(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], 0))
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

fn prefix_name(a: IpAddr) -> String {
    match a {
        IpAddr::V4(_) => format!("{a}/24"),
        IpAddr::V6(_) => format!("{a}/64"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Closed,
    Open,
    SrvData,
    SrvFin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    Rst,
    Fin,
}

/// What a probe is, once classified.
#[derive(Debug, Clone, Copy)]
struct Probe {
    src: IpAddr,
    kind: Kind,
    dst: IpAddr,
    port: u16,
    sport: u16,
    /// Counts as a packet (false for the second view of one packet, e.g.
    /// a SYN→443 that is also a TCP ping).
    count: bool,
    decoy: Option<u64>,
    /// Raw TCP probes go into the /24 (/64) aggregate for split scans.
    aggregate: bool,
}

struct Group {
    members: Vec<IpAddr>,
    alerted: Vec<(Kind, Duration)>,
    last: Duration,
}

#[derive(Default)]
struct Groups {
    groups: HashMap<u32, Group>,
    by_member: HashMap<IpAddr, u32>,
    next: u32,
}

impl Groups {
    fn of(&self, a: &IpAddr) -> Option<u32> {
        let g = *self.by_member.get(a)?;
        (self.groups.get(&g)?.members.len() >= 2).then_some(g)
    }

    fn add(&mut self, g: u32, a: IpAddr) {
        if let Some(gr) = self.groups.get_mut(&g) {
            if gr.members.len() < MAX_MEMBERS && !gr.members.contains(&a) {
                gr.members.push(a);
                self.by_member.insert(a, g);
            }
        }
    }

    fn link(&mut self, a: IpAddr, b: IpAddr, now: Duration) {
        let ga = self.by_member.get(&a).copied();
        let gb = self.by_member.get(&b).copied();
        let g = match (ga, gb) {
            (Some(x), Some(y)) if x == y => x,
            (Some(x), Some(y)) => {
                let (keep, drop) = {
                    let lx = self.groups.get(&x).map_or(0, |g| g.members.len());
                    let ly = self.groups.get(&y).map_or(0, |g| g.members.len());
                    if lx >= ly {
                        (x, y)
                    } else {
                        (y, x)
                    }
                };
                if let Some(old) = self.groups.remove(&drop) {
                    for m in old.members {
                        self.by_member.remove(&m);
                        self.add(keep, m);
                    }
                }
                keep
            }
            (Some(x), None) => {
                self.add(x, b);
                x
            }
            (None, Some(y)) => {
                self.add(y, a);
                y
            }
            (None, None) => {
                if self.groups.len() >= MAX_GROUPS {
                    let oldest = self
                        .groups
                        .iter()
                        .min_by_key(|(_, g)| g.last)
                        .map(|(k, _)| *k);
                    if let Some(o) = oldest.and_then(|o| self.groups.remove(&o).map(|g| (o, g))) {
                        for m in o.1.members {
                            self.by_member.remove(&m);
                        }
                    }
                }
                let id = self.next;
                self.next = self.next.wrapping_add(1);
                self.groups.insert(
                    id,
                    Group {
                        members: Vec::new(),
                        alerted: Vec::new(),
                        last: now,
                    },
                );
                self.add(id, b);
                self.add(id, a);
                id
            }
        };
        if let Some(gr) = self.groups.get_mut(&g) {
            gr.last = now;
        }
    }

    fn memory(&self) -> usize {
        let per_group = std::mem::size_of::<(u32, Group)>() + 1;
        let groups: usize = self
            .groups
            .values()
            .map(|g| {
                g.members.capacity() * std::mem::size_of::<IpAddr>()
                    + g.alerted.capacity() * std::mem::size_of::<(Kind, Duration)>()
            })
            .sum();
        self.groups.capacity() * per_group
            + groups
            + self.by_member.capacity() * (std::mem::size_of::<(IpAddr, u32)>() + 1)
    }
}

/// The scan detector. See the crate docs and `docs/watch.md`.
pub struct Detector {
    cfg: Config,
    sources: Table,
    prefixes: Table,
    groups: Groups,
    flows: Flows,
    isns: Isns,
    recent: Recent,
    frags: Frags,
    alerts: VecDeque<Alert>,
    dropped: u64,
    keys: RandomState,
}

impl Detector {
    pub fn new(cfg: Config) -> Detector {
        let cap = cfg.max_sources.max(1);
        Detector {
            sources: Table::new(cap),
            prefixes: Table::new((cap / 4).max(1)),
            groups: Groups::default(),
            flows: Flows::new(),
            isns: Isns::new(),
            recent: Recent::new(),
            frags: Frags::default(),
            alerts: VecDeque::new(),
            dropped: 0,
            keys: RandomState::new(),
            cfg,
        }
    }

    /// Reads one frame captured at `now` (monotonic time since start).
    pub fn handle_frame(&mut self, now: Duration, frame: Frame<'_>) {
        let Some(p) = parse::parse(now, &frame, &mut self.frags) else {
            return;
        };
        match frame.dir {
            Dir::In => self.inbound(now, &p),
            Dir::Out => self.outbound(now, &p),
        }
    }

    /// The next alert decided on, oldest first.
    pub fn poll_alert(&mut self) -> Option<Alert> {
        self.alerts.pop_front()
    }

    /// Alerts dropped because [`MAX_QUEUED`] were waiting.
    pub fn dropped_alerts(&self) -> u64 {
        self.dropped
    }

    /// Handshakes `src` has completed so far (ACKs of this host's ISN), for
    /// a response that decides after the alert.
    pub fn handshakes(&self, src: &IpAddr) -> u64 {
        self.sources.get(src).map_or(0, |e| e.handshakes)
    }

    /// Sources tracked now.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }

    /// Bytes held by the detector (its tables, fixed and growing).
    pub fn memory_estimate(&self) -> usize {
        std::mem::size_of::<Detector>()
            + self.sources.memory()
            + self.prefixes.memory()
            + self.groups.memory()
            + self.flows.memory()
            + self.isns.memory()
            + self.recent.memory()
            + self.frags.memory()
            + self.alerts.capacity() * std::mem::size_of::<Alert>()
            + self.alerts.iter().map(alert_heap).sum::<usize>()
    }

    fn is_local(&self, a: &IpAddr) -> bool {
        self.cfg.local.is_empty() || self.cfg.local.contains(a)
    }

    fn tag(&self, remote: IpAddr, rport: u16, lport: u16, proto: u8) -> u64 {
        self.keys.hash_one((remote, rport, lport, proto))
    }

    // ---- frames this host sent -------------------------------------------

    fn outbound(&mut self, now: Duration, p: &Pkt) {
        if !self.is_local(&p.src) {
            return;
        }
        match p.body {
            Body::Tcp(t) => {
                let tag = self.tag(p.dst, t.dport, t.sport, ip_proto::TCP);
                if t.flags.contains(TcpFlags::RST) {
                    self.answer(p.dst, p.src, t.sport, true, Answer::Closed);
                    return;
                }
                self.flows.insert(tag, now);
                if t.flags.contains(TcpFlags::SYN | TcpFlags::ACK) {
                    self.isns.insert(tag, t.seq, now);
                    self.answer(p.dst, p.src, t.sport, true, Answer::Open);
                    return;
                }
                if t.payload > 0 {
                    self.answer(p.dst, p.src, t.sport, true, Answer::SrvData);
                }
                if t.flags.contains(TcpFlags::FIN) {
                    self.answer(p.dst, p.src, t.sport, true, Answer::SrvFin);
                }
            }
            Body::Udp { sport, dport } => {
                let tag = self.tag(p.dst, dport, sport, ip_proto::UDP);
                self.flows.insert(tag, now);
                self.answer(p.dst, p.src, sport, false, Answer::Open);
            }
            Body::IcmpError {
                closed: true,
                q_src,
                q_dst,
                q_proto,
                q_dport,
            } => {
                let tcp = match q_proto {
                    ip_proto::TCP => true,
                    ip_proto::UDP => false,
                    _ => return,
                };
                self.answer(q_src, q_dst, q_dport, tcp, Answer::Closed);
            }
            _ => {}
        }
    }

    /// This host's answer to `prober` about `local:lport`.
    fn answer(&mut self, prober: IpAddr, local: IpAddr, lport: u16, tcp: bool, a: Answer) {
        let apply = |e: &mut Entity| {
            for t in e.targets.iter_mut() {
                if t.dst != local || t.port != lport || is_tcp_kind(t.kind) != tcp {
                    continue;
                }
                if !tcp && t.kind != Kind::Udp {
                    continue;
                }
                t.state = match (a, t.state) {
                    (Answer::Closed, TState::Pending) => TState::Closed,
                    (Answer::Open, TState::Pending | TState::Closed) => TState::Open,
                    (Answer::SrvData, TState::Established) => {
                        t.srv_data = true;
                        TState::Established
                    }
                    (Answer::SrvFin, TState::Established) => TState::Used,
                    (_, s) => s,
                };
            }
        };
        if let Some(e) = self.sources.get_mut(&prober) {
            apply(e);
        }
        if let Some(e) = self.prefixes.get_mut(&prefix(prober)) {
            apply(e);
        }
    }

    // ---- frames this host received ---------------------------------------

    fn inbound(&mut self, now: Duration, p: &Pkt) {
        match p.body {
            Body::Arp {
                request,
                sender,
                target,
            } => {
                if !request || sender.is_unspecified() || sender == target {
                    return;
                }
                self.probe(
                    now,
                    p,
                    Probe {
                        src: IpAddr::V4(sender),
                        kind: Kind::ArpSweep,
                        dst: IpAddr::V4(target),
                        port: 0,
                        sport: 0,
                        count: true,
                        decoy: None,
                        aggregate: false,
                    },
                );
                return;
            }
            Body::NeighborSolicit { target } => {
                if p.src.is_unspecified() || IpAddr::V6(target) == p.src {
                    return;
                }
                self.probe(
                    now,
                    p,
                    Probe {
                        src: p.src,
                        kind: Kind::NdSweep,
                        dst: IpAddr::V6(target),
                        port: 0,
                        sport: 0,
                        count: true,
                        decoy: None,
                        aggregate: false,
                    },
                );
                return;
            }
            _ => {}
        }
        if !self.is_local(&p.dst) || not_unicast(&p.dst) || not_unicast(&p.src) {
            return;
        }
        match p.body {
            Body::Tcp(t) => self.inbound_tcp(now, p, &t),
            Body::Udp { sport, dport } => {
                let tag = self.tag(p.src, sport, dport, ip_proto::UDP);
                if self.flows.contains(tag, now)
                    || TRACEROUTE.contains(&dport)
                    || (REPLY_PORTS.contains(&sport) && dport >= 1024)
                {
                    return;
                }
                let decoy = self.keys.hash_one((1u8, p.dst, dport, sport, p.ip_id));
                self.probe(
                    now,
                    p,
                    Probe {
                        src: p.src,
                        kind: Kind::Udp,
                        dst: p.dst,
                        port: dport,
                        sport,
                        count: true,
                        decoy: Some(decoy),
                        aggregate: false,
                    },
                );
            }
            Body::IcmpQuery {
                ty,
                reply: false,
                ident,
                seq,
            } => {
                let decoy = self.keys.hash_one((2u8, p.dst, ty, ident, seq, p.ip_id));
                let base = Probe {
                    src: p.src,
                    kind: Kind::IcmpSweep,
                    dst: p.dst,
                    port: u16::from(ty),
                    sport: ident,
                    count: true,
                    decoy: Some(decoy),
                    aggregate: false,
                };
                self.probe(now, p, base);
                self.probe(
                    now,
                    p,
                    Probe {
                        kind: Kind::TcpPingSweep,
                        count: false,
                        decoy: None,
                        ..base
                    },
                );
            }
            _ => {}
        }
    }

    fn inbound_tcp(&mut self, now: Duration, p: &Pkt, t: &crate::parse::Tcp) {
        use TcpFlags as F;
        let f = t.flags;
        let core = f & (F::FIN | F::SYN | F::RST | F::PSH | F::ACK | F::URG);
        if core == F::SYN | F::ACK {
            return; // a reply (or backscatter), never a probe
        }
        if core.contains(F::RST) && (core & !(F::RST | F::ACK)).is_empty() {
            self.close(now, p.src, p.dst, t.dport, t.sport, Close::Rst);
            return;
        }
        let tag = self.tag(p.src, t.sport, t.dport, ip_proto::TCP);
        if core.contains(F::ACK) && !core.contains(F::SYN) {
            if self.isns.take(tag, t.ack, now) {
                self.handshake(now, p.src, p.dst, t.dport, t.sport);
                self.session(now, p, t);
                return;
            }
            if self.flows.contains(tag, now) {
                self.session(now, p, t);
                return;
            }
        }
        let crafted = tool_of(p).is_some();
        let kind = if core == F::SYN {
            if crafted_syn(p, t) {
                Kind::Syn
            } else {
                Kind::Connect
            }
        } else if core.is_empty() {
            if f.is_empty() {
                Kind::Null
            } else {
                Kind::OtherFlags
            }
        } else if core == F::FIN {
            Kind::Fin
        } else if core == F::FIN | F::PSH | F::URG {
            Kind::Xmas
        } else if core.contains(F::ACK) && !core.intersects(F::SYN | F::RST) {
            // Segments with ACK: session traffic of a flow not seen, unless
            // empty (a probe). Replies to this host's own connections come
            // from a service port to an ephemeral one.
            if t.payload > 0 || (!crafted && t.sport < 1024 && t.dport >= 1024) {
                return;
            }
            if core == F::ACK {
                Kind::Ack
            } else if core == F::FIN | F::ACK {
                Kind::Maimon
            } else if crafted {
                Kind::OtherFlags
            } else {
                return;
            }
        } else {
            Kind::OtherFlags
        };
        let decoy = self
            .keys
            .hash_one((0u8, p.dst, t.dport, t.sport, t.seq, p.ip_id, f));
        let aggregate = crafted || matches!(kind, Kind::Fin | Kind::Null | Kind::Xmas);
        let base = Probe {
            src: p.src,
            kind,
            dst: p.dst,
            port: t.dport,
            sport: t.sport,
            count: true,
            decoy: Some(decoy),
            aggregate,
        };
        self.probe(now, p, base);
        if crafted && matches!(kind, Kind::Syn | Kind::Ack) && matches!(t.dport, 80 | 443) {
            self.probe(
                now,
                p,
                Probe {
                    kind: Kind::TcpPingSweep,
                    count: false,
                    decoy: None,
                    aggregate: false,
                    ..base
                },
            );
        }
    }

    /// Session traffic on a known flow: data from the prober makes the
    /// target a real session; its FIN closes.
    fn session(&mut self, now: Duration, p: &Pkt, t: &crate::parse::Tcp) {
        if t.payload > 0 {
            let (src, dst, dport) = (p.src, p.dst, t.dport);
            if let Some(e) = self.sources.get_mut(&src) {
                for x in e.targets.iter_mut() {
                    if x.dst == dst
                        && x.port == dport
                        && is_tcp_kind(x.kind)
                        && matches!(x.state, TState::Established | TState::Open)
                    {
                        x.state = TState::Used;
                    }
                }
            }
        }
        if t.flags.contains(TcpFlags::FIN) {
            self.close(now, p.src, p.dst, t.dport, t.sport, Close::Fin);
        }
    }

    fn handshake(&mut self, now: Duration, src: IpAddr, dst: IpAddr, dport: u16, sport: u16) {
        let horizon = self.cfg.horizon;
        let e = self.sources.get_or_insert(src, now, horizon);
        e.handshakes += 1;
        e.last_seen = now;
        for t in e.targets.iter_mut() {
            if t.dst == dst && t.port == dport && t.sport == sport && is_tcp_kind(t.kind) {
                t.state = TState::Established;
            }
        }
    }

    fn close(&mut self, now: Duration, src: IpAddr, dst: IpAddr, dport: u16, sport: u16, c: Close) {
        let mut changed = Vec::new();
        let apply = |e: &mut Entity, changed: &mut Vec<Kind>| {
            for t in e.targets.iter_mut() {
                if t.dst != dst || t.port != dport || t.sport != sport || !is_tcp_kind(t.kind) {
                    continue;
                }
                let next = match (c, t.state) {
                    (Close::Rst, TState::Open) => TState::HalfOpen,
                    (Close::Rst, TState::Established) => TState::Abandoned,
                    (Close::Fin, TState::Established) if t.srv_data => TState::Used,
                    (Close::Fin, TState::Established) => TState::Abandoned,
                    (_, s) => s,
                };
                if next != t.state {
                    t.state = next;
                    if next.suspicious() && !changed.contains(&t.kind) {
                        changed.push(t.kind);
                    }
                }
            }
        };
        if let Some(e) = self.sources.get_mut(&src) {
            apply(e, &mut changed);
        }
        if let Some(e) = self.prefixes.get_mut(&prefix(src)) {
            let mut ignore = Vec::new();
            apply(e, &mut ignore);
        }
        for k in changed {
            self.evaluate(now, src, k);
        }
    }

    // ---- counting ----------------------------------------------------------

    fn probe(&mut self, now: Duration, p: &Pkt, pr: Probe) {
        if let Some(tag) = pr.decoy {
            if let Some(other) = self.recent.observe(tag, pr.src, now) {
                self.groups.link(pr.src, other, now);
            }
        }
        let (quiet, horizon) = (self.cfg.quiet, self.cfg.horizon);
        let e = self.sources.get_or_insert(pr.src, now, horizon);
        record(e, now, p, &pr, quiet, horizon);
        if pr.aggregate {
            let pe = self.prefixes.get_or_insert(prefix(pr.src), now, horizon);
            let new = record(pe, now, p, &pr, quiet, horizon);
            if let Some(m) = pe.members.iter_mut().find(|m| m.0 == pr.src) {
                m.1 = m.1.saturating_add(u16::from(new));
            } else if pe.members.len() < MAX_MEMBERS {
                pe.members.push((pr.src, u16::from(new)));
            }
        }
        self.evaluate(now, pr.src, pr.kind);
        if pr.aggregate {
            self.evaluate_prefix(now, pr.src, pr.kind);
        }
    }

    fn evaluate(&mut self, now: Duration, src: IpAddr, kind: Kind) {
        let Some(e) = self.sources.get(&src) else {
            return;
        };
        if !crosses(e, kind, now) {
            return;
        }
        let group = self.groups.of(&src);
        let pfx = prefix(src);
        let split_alerted = self
            .prefixes
            .get(&pfx)
            .and_then(|pe| pe.kind(kind))
            .is_some_and(|k| k.alerted);
        let mut alert = None;
        let mut covered = vec![src];
        match group {
            Some(g) => {
                let quiet = self.cfg.quiet;
                let gr = self.groups.groups.get_mut(&g);
                if let Some(gr) = gr {
                    let recent = gr
                        .alerted
                        .iter()
                        .any(|(k, at)| *k == kind && now.saturating_sub(*at) < quiet);
                    covered.clone_from(&gr.members);
                    if !recent {
                        gr.alerted.retain(|(k, _)| *k != kind);
                        gr.alerted.push((kind, now));
                        let members = gr.members.clone();
                        let mut a = build(e, kind, now);
                        a.evidence.push_str(&format!(
                            "; the same probes from {} sources within 1 s (decoys)",
                            members.len()
                        ));
                        a.group = members;
                        a.group_kind = Some(GroupKind::Decoys);
                        alert = Some(a);
                    }
                }
            }
            None if split_alerted => {}
            None => alert = Some(build(e, kind, now)),
        }
        for m in covered {
            if let Some(me) = self.sources.get_mut(&m) {
                if me.kind(kind).is_some() {
                    me.kind_mut(kind, now).alerted = true;
                }
            }
            if let Some(pe) = self.prefixes.get_mut(&prefix(m)) {
                if pe.kind(kind).is_some() {
                    pe.kind_mut(kind, now).alerted = true;
                }
            }
        }
        if let Some(e) = self.sources.get_mut(&src) {
            e.kind_mut(kind, now).alerted = true;
        }
        if let Some(a) = alert {
            self.push(a);
        }
    }

    fn evaluate_prefix(&mut self, now: Duration, src: IpAddr, kind: Kind) {
        let pfx = prefix(src);
        let Some(pe) = self.prefixes.get(&pfx) else {
            return;
        };
        if !crosses(pe, kind, now) {
            return;
        }
        let contributors: Vec<IpAddr> = pe
            .members
            .iter()
            .filter(|m| m.1 >= 2)
            .map(|m| m.0)
            .collect();
        if contributors.len() < 2 {
            return;
        }
        let mut a = build(pe, kind, now);
        a.src = src;
        a.family = Family::of(&src);
        a.probes = pe.kind(kind).map_or(0, |k| u64::from(k.probes));
        a.handshakes = 0;
        a.evidence.push_str(&format!(
            "; one scan split over {} sources in {}",
            pe.members.len(),
            prefix_name(pfx)
        ));
        a.group = pe.members.iter().map(|m| m.0).collect();
        a.group_kind = Some(GroupKind::Split);
        if let Some(pe) = self.prefixes.get_mut(&pfx) {
            pe.kind_mut(kind, now).alerted = true;
        }
        self.push(a);
    }

    fn push(&mut self, a: Alert) {
        if self.alerts.len() >= MAX_QUEUED {
            self.dropped += 1;
        } else {
            self.alerts.push_back(a);
        }
    }
}

fn alert_heap(a: &Alert) -> usize {
    a.ports.capacity() * 2
        + (a.dst.capacity() + a.group.capacity()) * std::mem::size_of::<IpAddr>()
        + a.evidence.capacity()
}

fn not_unicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => v.is_multicast() || v.is_broadcast() || v.is_unspecified(),
        IpAddr::V6(v) => v.is_multicast() || v.is_unspecified(),
    }
}

/// Counts one probe into an entity; returns whether its target is new.
fn record(
    e: &mut Entity,
    now: Duration,
    p: &Pkt,
    pr: &Probe,
    quiet: Duration,
    horizon: Duration,
) -> bool {
    if pr.count {
        e.probes += 1;
        e.fp.add(p);
    }
    e.last_seen = now;
    let now_ds = ds(now);
    let oldest = now_ds.saturating_sub(ds(horizon));
    e.targets.retain(|t| t.at >= oldest);
    let ks = e.kind_mut(pr.kind, now);
    if ks.alerted && now.saturating_sub(ks.last) >= quiet {
        // A new episode: quiet long enough to alert again.
        ks.alerted = false;
        ks.probes = 0;
        ks.overflow = 0;
        ks.first = now;
        let k = pr.kind;
        e.targets.retain(|t| t.kind != k);
    }
    let ks = e.kind_mut(pr.kind, now);
    if ks.probes == 0 {
        ks.first = now;
    }
    ks.last = now;
    ks.probes = ks.probes.saturating_add(1);
    if let Some(t) = e
        .targets
        .iter_mut()
        .find(|t| t.kind == pr.kind && t.dst == pr.dst && t.port == pr.port)
    {
        if t.sport != pr.sport
            && matches!(t.state, TState::Open | TState::Established | TState::Used)
        {
            // A new connection to a port that answered: start over.
            t.state = TState::Pending;
            t.srv_data = false;
        }
        t.sport = pr.sport;
        t.at = now_ds;
        return false;
    }
    if e.targets.len() >= MAX_TARGETS {
        if let Some(i) = (0..e.targets.len()).min_by_key(|&i| e.targets[i].at) {
            let old = e.targets.swap_remove(i);
            if old.state.suspicious() {
                let ks = e.kind_mut(old.kind, now);
                ks.overflow = ks.overflow.saturating_add(1);
            }
        }
    }
    e.targets.push(Target {
        dst: pr.dst,
        port: pr.port,
        sport: pr.sport,
        kind: pr.kind,
        state: TState::Pending,
        srv_data: false,
        at: now_ds,
    });
    true
}

/// The kind's suspicious count in points.
fn score(e: &Entity, kind: Kind, now: Duration) -> u32 {
    let since = match kind {
        Kind::ArpSweep | Kind::NdSweep => ds(now).saturating_sub(ds(SWEEP_WINDOW)),
        _ => 0,
    };
    let mut pts: u32 = e
        .targets
        .iter()
        .filter(|t| t.kind == kind && t.state.suspicious() && t.at >= since)
        .map(weight)
        .sum();
    if kind == Kind::TcpPingSweep
        && !e
            .targets
            .iter()
            .any(|t| t.kind == kind && matches!(t.port, 80 | 443))
    {
        return 0; // ICMP pings alone are an ICMP sweep
    }
    if !matches!(kind, Kind::ArpSweep | Kind::NdSweep) {
        pts = pts.saturating_add(e.kind(kind).map_or(0, |k| k.overflow));
    }
    pts
}

fn crosses(e: &Entity, kind: Kind, now: Duration) -> bool {
    match e.kind(kind) {
        Some(k) if !k.alerted => {}
        _ => return false,
    }
    score(e, kind, now) >= threshold(kind, e.fp.tool().is_some())
}

/// The alert for `kind` as `e` stands.
fn build(e: &Entity, kind: Kind, now: Duration) -> Alert {
    let ks = e.kind(kind).copied();
    let targets: Vec<&Target> = e.targets.iter().filter(|t| t.kind == kind).collect();
    let mut hosts: Vec<IpAddr> = Vec::new();
    for t in &targets {
        if !hosts.contains(&t.dst) {
            hosts.push(t.dst);
        }
    }
    let real_ports = !matches!(kind, Kind::IcmpSweep | Kind::ArpSweep | Kind::NdSweep);
    let mut ports: Vec<u16> = targets
        .iter()
        .filter(|t| real_ports && (kind != Kind::TcpPingSweep || matches!(t.port, 80 | 443)))
        .map(|t| t.port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports.truncate(64);
    let overflow = ks.map_or(0, |k| k.overflow as usize);
    let port_count = if real_ports {
        ports.len() + overflow
    } else {
        0
    };
    let shape = match (hosts.len() > 1, ports.len() > 1) {
        (true, true) => Shape::Block,
        (true, false) => Shape::Horizontal,
        _ => Shape::Vertical,
    };
    let shape = if matches!(kind, Kind::ArpSweep | Kind::NdSweep) {
        Shape::Horizontal
    } else {
        shape
    };
    let tool = match kind {
        Kind::Connect | Kind::ArpSweep | Kind::NdSweep => None,
        _ => e.fp.tool(),
    };
    let count = |s: TState| targets.iter().filter(|t| t.state == s).count();
    let mut evidence = String::new();
    if !matches!(kind, Kind::ArpSweep | Kind::NdSweep) {
        evidence.push_str(&e.fp.describe());
        evidence.push_str("; ");
    }
    let states = [
        (TState::Closed, "closed"),
        (TState::Pending, "unanswered"),
        (TState::HalfOpen, "half-open"),
        (TState::Abandoned, "connected and dropped"),
        (TState::Open, "open"),
        (TState::Established, "established"),
        (TState::Used, "in use"),
    ];
    let parts: Vec<String> = states
        .iter()
        .filter_map(|&(s, name)| match count(s) {
            0 => None,
            n => Some(format!("{n} {name}")),
        })
        .collect();
    evidence.push_str(&parts.join(", "));
    if kind == Kind::TcpPingSweep {
        let mut types: Vec<&str> = Vec::new();
        for t in &targets {
            let name = match t.port {
                8 | 128 => "echo",
                13 => "timestamp",
                17 => "address mask",
                80 => "TCP→80",
                443 => "TCP→443",
                _ => continue,
            };
            if !types.contains(&name) {
                types.push(name);
            }
        }
        evidence.push_str(&format!("; host discovery probes: {}", types.join(", ")));
    }
    if e.handshakes > 0 {
        evidence.push_str(&format!("; {} completed handshakes", e.handshakes));
    }
    Alert {
        at: now,
        src: e.addr,
        family: Family::of(&e.addr),
        kind,
        shape,
        tool,
        probes: ks.map_or(0, |k| u64::from(k.probes)),
        ports,
        port_count,
        hosts: hosts.len(),
        dst: hosts.into_iter().take(16).collect(),
        first_seen: ks.map_or(now, |k| k.first),
        evidence,
        group: Vec::new(),
        group_kind: None,
        handshakes: e.handshakes,
    }
}
