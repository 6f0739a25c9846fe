//! Which tool sent a probe, from the wire fingerprints scanners are known to
//! leave (`shared/notes/scan-detection.md`, from their documentation and
//! source). TTLs are read at the receiver, so a tool's initial TTL arrives
//! lowered by the hops between: the ranges below allow for up to 30 hops
//! (55 for an initial 255).
//!
//! | tool | TTL / hop limit seen | window | TCP options | IP ID (IPv4) | DF |
//! |---|---|---|---|---|---|
//! | nmap (raw probes) | ≤ 59, *varying per packet* (sent as 37–59) | 1024 (before 2011: 1024·(ttl%4+1), so 1024–4096) | MSS 1460 only or none on SYN probes; none on others | random | never |
//! | masscan | ≥ 200 (sent as 255) | 1024 | none or MSS 1460 | `dst_ip ^ dst_port ^ seq` (low 16 bits) | — |
//! | zmap ≤ 4.0 | ≥ 200 (sent as 255) | 65535 | MSS 1460 | 54321 | never |
//! | zmap ≥ 4.1 | 34–64 (sent as 64) | 65535 | MSS, SACK-permitted, window scale; no timestamps | from its validation bytes | — |
//! | nmap over IPv6 (7.93, seen in the lab) | ≥ 200 (sent as 255), flow label 0 | 1024 | as over IPv4 | — | — |
//! | vigie (its own raw probes) | 34–64, constant (sent as 64) | 1024 | MSS 1460 only on SYN probes; none on others | counting up by one per probe | never |
//!
//! Across a source's probes: nmap sends every probe of a scan phase from
//! one source port with one sequence number (IPv4 and IPv6); masscan's
//! sequence number is a cookie of each target and port; vigie's source port
//! and sequence number change with every probe (its cookies).
//!
//! Per packet, [`tool_of`] gives the tool whose every column matches.
//! Per source, [`FpStats`] keeps votes, the TTL range and whether the
//! source port and sequence number stayed put; a tool is claimed when it has
//! a strict majority of the source's fingerprinted probes, and for nmap's
//! UDP and ICMP probes (which have no window or options to go on) only when
//! the TTL also varied between packets (over IPv4) or the source port
//! stayed put at a hop limit of 255 (over IPv6). Over IPv6 a hop limit of
//! 255 with window 1024 is nmap's or masscan's: one sequence number for
//! every probe says nmap. A source whose probes carry window 1024, one TTL
//! of 64 or less, and a new source port each is vigie.
//!
//! No tool is claimed for probes an OS stack sends (connect scans, RustScan,
//! which use the system's `connect`), for ARP or for neighbour
//! solicitations, and for no tool the notes do not document (hping3 etc.).

use crate::parse::{Body, Pkt, Tcp};
use crate::Tool;
use std::net::IpAddr;

/// What one packet says about its sender.
pub(crate) fn tool_of(p: &Pkt) -> Option<Tool> {
    match &p.body {
        Body::Tcp(t) => tcp_tool(p, t),
        Body::Udp { .. } | Body::IcmpQuery { .. } => {
            // nmap's UDP and ICMP probes: random TTL 37-59, no DF (over
            // IPv6 a hop limit of 255). Only the per-source TTL spread (or
            // source port) makes this a claim (see FpStats).
            let v6_nmap = p.ip_id.is_none() && p.ttl >= 200;
            ((nmap_ttl(p.ttl) || v6_nmap) && !p.df).then_some(Tool::Nmap)
        }
        _ => None,
    }
}

fn nmap_ttl(ttl: u8) -> bool {
    (8..=59).contains(&ttl)
}

fn tcp_tool(p: &Pkt, t: &Tcp) -> Option<Tool> {
    let syn = t.flags.contains(vigie_wire::TcpFlags::SYN);
    if p.ttl >= 200 && t.window == 1024 && (t.opts.is_empty() || t.opts.mss_only() == Some(1460)) {
        let id_ok = match (p.ip_id, p.dst) {
            (Some(id), IpAddr::V4(d)) => {
                let x = u32::from(d) ^ u32::from(t.dport) ^ t.seq;
                id == (x & 0xffff) as u16
            }
            _ => true,
        };
        if id_ok && syn {
            return Some(Tool::Masscan);
        }
    }
    if t.window == 65535 && syn {
        let old = p.ttl >= 200 && p.ip_id.is_none_or(|id| id == 54321) && !p.df;
        let new = (34..=64).contains(&p.ttl)
            && t.opts.mss.is_some()
            && t.opts.sack
            && t.opts.wscale
            && !t.opts.ts
            && !t.opts.odd;
        if old || new {
            return Some(Tool::Zmap);
        }
    }
    let nmap_window = matches!(t.window, 1024 | 2048 | 3072 | 4096);
    let nmap_opts = t.opts.is_empty() || (syn && t.opts.mss_only() == Some(1460));
    // Over IPv6 nmap sends at hop limit 255 (its SYNs there look like
    // masscan's, told apart per source).
    let nmap_hops = p.ttl <= 64 || (p.ip_id.is_none() && p.ttl >= 200);
    if nmap_window && nmap_opts && nmap_hops && !p.df {
        return Some(Tool::Nmap);
    }
    None
}

/// A SYN no OS stack sends: no options at all, MSS alone, or a known
/// tool's fingerprint. Such a SYN is a raw probe (`Kind::Syn`); any other
/// is an OS stack's `connect` (`Kind::Connect`).
pub(crate) fn crafted_syn(p: &Pkt, t: &Tcp) -> bool {
    t.opts.is_empty() || t.opts.mss_only().is_some() || tcp_tool(p, t).is_some()
}

/// Per-source fingerprint statistics, a few bytes each.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FpStats {
    pub n: u16,
    pub votes: [u16; 4],
    pub ttl_min: u8,
    pub ttl_max: u8,
    /// The first two distinct TCP windows seen.
    pub windows: [Option<u16>; 2],
    /// Options of the first SYN seen.
    pub syn_opts: Option<crate::parse::Opts>,
    pub df_seen: bool,
    pub tcp_seen: bool,
    /// The first probe's source port and TCP sequence number, and how many
    /// later probes had another.
    pub sport0: Option<u16>,
    pub sport_changes: u16,
    pub seq0: Option<u32>,
    pub seq_changes: u16,
    /// IPv4 identification of the last probe, and how many probes had the
    /// one before plus one.
    pub id_prev: Option<u16>,
    pub id_steps: u16,
    pub v4_seen: bool,
}

fn slot(t: Tool) -> usize {
    match t {
        Tool::Nmap => 0,
        Tool::Masscan => 1,
        Tool::Zmap => 2,
        // Never voted for per packet: decided across probes.
        Tool::Vigie => 3,
    }
}

impl FpStats {
    pub fn add(&mut self, p: &Pkt) {
        // Only IP probes carry a fingerprint (an ARP or ND request of the
        // same source says nothing of the tool, and has no TTL).
        if !matches!(
            p.body,
            Body::Tcp(_) | Body::Udp { .. } | Body::IcmpQuery { .. }
        ) {
            return;
        }
        if self.n == 0 {
            self.ttl_min = p.ttl;
            self.ttl_max = p.ttl;
        }
        self.n = self.n.saturating_add(1);
        self.ttl_min = self.ttl_min.min(p.ttl);
        self.ttl_max = self.ttl_max.max(p.ttl);
        self.df_seen |= p.df;
        self.v4_seen |= p.ip_id.is_some();
        if let Some(id) = p.ip_id {
            if self.id_prev.is_some_and(|prev| prev.wrapping_add(1) == id) {
                self.id_steps = self.id_steps.saturating_add(1);
            }
            self.id_prev = Some(id);
        }
        let sport = match &p.body {
            Body::Tcp(t) => Some(t.sport),
            Body::Udp { sport, .. } => Some(*sport),
            _ => None,
        };
        if let Some(sp) = sport {
            match self.sport0 {
                None => self.sport0 = Some(sp),
                Some(s0) if s0 != sp => self.sport_changes = self.sport_changes.saturating_add(1),
                Some(_) => {}
            }
        }
        if let Body::Tcp(t) = &p.body {
            match self.seq0 {
                None => self.seq0 = Some(t.seq),
                Some(s0) if s0 != t.seq => self.seq_changes = self.seq_changes.saturating_add(1),
                Some(_) => {}
            }
        }
        if let Some(t) = tool_of(p) {
            let v = &mut self.votes[slot(t)];
            *v = v.saturating_add(1);
        }
        if let Body::Tcp(t) = &p.body {
            self.tcp_seen = true;
            if !self.windows.contains(&Some(t.window)) {
                if self.windows[0].is_none() {
                    self.windows[0] = Some(t.window);
                } else if self.windows[1].is_none() {
                    self.windows[1] = Some(t.window);
                }
            }
            if t.flags.contains(vigie_wire::TcpFlags::SYN) && self.syn_opts.is_none() {
                self.syn_opts = Some(t.opts);
            }
        }
    }

    /// The tool this source's probes point to, if any.
    pub fn tool(&self) -> Option<Tool> {
        if self.is_vigie() {
            return Some(Tool::Vigie);
        }
        let (best, votes) = [Tool::Nmap, Tool::Masscan, Tool::Zmap]
            .into_iter()
            .map(|t| (t, self.votes[slot(t)]))
            .max_by_key(|&(_, v)| v)?;
        if votes == 0 || u32::from(votes) * 2 <= u32::from(self.n) {
            return None;
        }
        let n = u32::from(self.n);
        // Over IPv6, one sequence number (and source port) for every probe
        // is nmap's, a cookie per target and port masscan's.
        if best == Tool::Masscan && !self.v4_seen && self.n >= 2 {
            return Some(if self.seq_changes == 0 && self.sport_changes == 0 {
                Tool::Nmap
            } else {
                Tool::Masscan
            });
        }
        if best == Tool::Nmap && !self.tcp_seen && self.n >= 2 && self.ttl_min == self.ttl_max {
            // UDP or ICMP only, at one TTL: nmap over IPv6 (hop limit 255,
            // one source port), else not a claim.
            let v6_nmap = !self.v4_seen && self.ttl_min >= 200 && self.sport_changes == 0;
            return v6_nmap.then_some(Tool::Nmap);
        }
        // nmap's raw TCP probes: one source port per phase (a new one now
        // and then, never one per probe).
        if best == Tool::Nmap && self.tcp_seen && n >= 3 && u32::from(self.sport_changes) * 2 >= n {
            return None;
        }
        Some(best)
    }

    /// vigie's raw probes: window 1024 only, one TTL of 64 or less, no DF,
    /// SYN options MSS 1460 alone, a new source port for most probes and
    /// (IPv4) the identification counting up.
    fn is_vigie(&self) -> bool {
        let n = u32::from(self.n);
        n >= 3
            && self.tcp_seen
            && self.windows == [Some(1024), None]
            && self.ttl_min == self.ttl_max
            && (34..=64).contains(&self.ttl_min)
            && !self.df_seen
            && self.syn_opts.is_none_or(|o| o.mss_only() == Some(1460))
            && u32::from(self.sport_changes) * 2 >= n
            && (!self.v4_seen || u32::from(self.id_steps) * 2 >= n)
    }

    /// "TTL 37-59 random, window 1024, MSS 1460 only".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.n > 0 {
            if self.ttl_min == self.ttl_max {
                parts.push(format!("TTL {}", self.ttl_min));
            } else {
                parts.push(format!("TTL {}-{} varying", self.ttl_min, self.ttl_max));
            }
        }
        match self.windows {
            [Some(a), None] => parts.push(format!("window {a}")),
            [Some(a), Some(b)] => parts.push(format!("windows {a}, {b}, ...")),
            _ => {}
        }
        if let Some(o) = self.syn_opts {
            parts.push(format!("SYN options: {}", o.describe()));
        }
        if self.n > 0 && !self.df_seen {
            parts.push("no DF".into());
        }
        parts.join(", ")
    }
}
