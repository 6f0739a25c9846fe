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
//!
//! Per packet, [`tool_of`] gives the tool whose every column matches.
//! Per source, [`FpStats`] keeps votes and the TTL range; a tool is claimed
//! when it has a strict majority of the source's fingerprinted probes, and
//! for nmap's UDP and ICMP probes (which have no window or options to go
//! on) only when the TTL also varied between packets.
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
            // nmap's UDP and ICMP probes: random TTL 37-59, no DF. Only
            // the per-source TTL spread makes this a claim (see FpStats).
            (nmap_ttl(p.ttl) && !p.df).then_some(Tool::Nmap)
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
    if nmap_window && nmap_opts && p.ttl <= 64 && !p.df {
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
    pub votes: [u16; 3],
    pub ttl_min: u8,
    pub ttl_max: u8,
    /// The first two distinct TCP windows seen.
    pub windows: [Option<u16>; 2],
    /// Options of the first SYN seen.
    pub syn_opts: Option<crate::parse::Opts>,
    pub df_seen: bool,
    pub tcp_seen: bool,
}

fn slot(t: Tool) -> usize {
    match t {
        Tool::Nmap => 0,
        Tool::Masscan => 1,
        Tool::Zmap => 2,
    }
}

impl FpStats {
    pub fn add(&mut self, p: &Pkt) {
        if self.n == 0 {
            self.ttl_min = p.ttl;
            self.ttl_max = p.ttl;
        }
        self.n = self.n.saturating_add(1);
        self.ttl_min = self.ttl_min.min(p.ttl);
        self.ttl_max = self.ttl_max.max(p.ttl);
        self.df_seen |= p.df;
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
        let (best, votes) = [Tool::Nmap, Tool::Masscan, Tool::Zmap]
            .into_iter()
            .map(|t| (t, self.votes[slot(t)]))
            .max_by_key(|&(_, v)| v)?;
        if votes == 0 || u32::from(votes) * 2 <= u32::from(self.n) {
            return None;
        }
        if best == Tool::Nmap && !self.tcp_seen && self.n >= 2 && self.ttl_min == self.ttl_max {
            return None;
        }
        Some(best)
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
