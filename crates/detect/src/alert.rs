//! What an alert holds, and how it is written: one human line, or one JSON
//! object carrying vigie's own fields beside Suricata-EVE and ECS ones
//! (`docs/watch.md` lists them all).

use crate::{Family, Kind, Shape, Tool};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// Why an alert names several sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupKind {
    /// The same probes (same destination, ports, sequence number, IP ID)
    /// from several sources within a second: nmap -D decoys. Only one of
    /// them, or none, is the real scanner.
    Decoys,
    /// One scan split over several sources of one /24 (IPv4) or /64
    /// (IPv6), none of which crossed a threshold alone.
    Split,
}

impl GroupKind {
    pub fn name(self) -> &'static str {
        match self {
            GroupKind::Decoys => "decoys",
            GroupKind::Split => "split",
        }
    }
}

/// One detected scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// When the deciding packet arrived (the detector's clock).
    pub at: Duration,
    /// The source (for a group: the member whose probe decided).
    pub src: IpAddr,
    pub family: Family,
    pub kind: Kind,
    pub shape: Shape,
    /// `None` for OS stacks (connect scans), ARP and ND, and unknown tools.
    pub tool: Option<Tool>,
    /// Probe packets of this kind seen from `src` when the alert fired
    /// (retransmits included).
    pub probes: u64,
    /// Distinct ports probed (sorted sample, at most 64).
    pub ports: Vec<u16>,
    /// Distinct ports probed (may exceed `ports.len()`).
    pub port_count: usize,
    /// Distinct hosts probed.
    pub hosts: usize,
    /// A sample of the hosts probed (at most 16).
    pub dst: Vec<IpAddr>,
    /// The first probe of this kind from `src` (this alert's episode).
    pub first_seen: Duration,
    /// Human-readable evidence: fingerprint, port states, group.
    pub evidence: String,
    /// Decoys or a split scan: every source of the group (capped at 64);
    /// empty otherwise.
    pub group: Vec<IpAddr>,
    pub group_kind: Option<GroupKind>,
    /// Handshakes `src` completed (ACKs of this host's ISN): the only
    /// evidence that the source address is real. A response may act on
    /// `src` only if this is nonzero and `group` is empty.
    pub handshakes: u64,
}

/// Suricata-style signature ids: 9046000 + kind.
pub const SIGNATURE_BASE: u64 = 9_046_000;

impl Alert {
    fn span(&self) -> Duration {
        self.at.saturating_sub(self.first_seen)
    }

    fn is_sweep(&self) -> bool {
        matches!(
            self.kind,
            Kind::IcmpSweep | Kind::TcpPingSweep | Kind::ArpSweep | Kind::NdSweep
        )
    }

    /// `Some("TCP")`, `"UDP"`, `"ICMP"`, `"IPv6-ICMP"`, `"ARP"`: the
    /// protocol of the probes (Suricata's `proto` names).
    pub fn proto(&self) -> &'static str {
        match self.kind {
            Kind::Udp => "UDP",
            Kind::IcmpSweep | Kind::NdSweep => match self.family {
                Family::V4 => "ICMP",
                Family::V6 => "IPv6-ICMP",
            },
            Kind::ArpSweep => "ARP",
            _ => "TCP",
        }
    }

    /// "SYN scan by nmap".
    pub fn signature(&self) -> String {
        match self.tool {
            Some(t) => format!("{} by {}", self.kind.title(), t.name()),
            None => self.kind.title().to_string(),
        }
    }

    /// One line: `198.18.0.11 → 198.18.0.2: SYN scan by nmap, 200 ports in
    /// 1.3 s, alerted after 5 probes`.
    pub fn human(&self) -> String {
        let who = match self.group_kind {
            Some(g) => {
                let names: Vec<String> = self.group.iter().map(|a| a.to_string()).collect();
                let what = match g {
                    GroupKind::Decoys => "decoy group",
                    GroupKind::Split => "split scan from",
                };
                format!(
                    "{what} of {} sources ({})",
                    self.group.len(),
                    names.join(", ")
                )
            }
            None => self.src.to_string(),
        };
        let to = match (self.hosts, self.dst.first()) {
            (1, Some(d)) => d.to_string(),
            (n, _) => format!("{n} hosts"),
        };
        let extent = if self.is_sweep() {
            if self.hosts > 1 {
                format!("{} hosts", self.hosts)
            } else {
                format!(
                    "{} probe types",
                    self.probes.min(self.port_count.max(1) as u64)
                )
            }
        } else if self.port_count == 1 {
            format!("port {}", self.ports.first().copied().unwrap_or(0))
        } else {
            format!("{} ports", self.port_count)
        };
        let mut line = format!(
            "{who} → {to}: {}, {extent} in {:.1} s, alerted after {} probes",
            self.signature(),
            self.span().as_secs_f64(),
            self.probes
        );
        if self.handshakes > 0 {
            line.push_str(&format!(", {} handshakes", self.handshakes));
        }
        line
    }

    /// One JSON object. `wall_time` is the wall-clock time of `at` (the
    /// driver's `SystemTime::now()` when it polled the alert).
    pub fn json(&self, wall_time: SystemTime) -> Value {
        let time = rfc3339(wall_time);
        let start = rfc3339(wall_time.checked_sub(self.span()).unwrap_or(wall_time));
        let dest_ip = self.dst.first().map(|a| a.to_string());
        let signature = format!("vigie: {}", self.signature());
        let severity = if self.is_sweep() { 3 } else { 2 };
        let mut v = json!({
            "time": time,
            "src": self.src.to_string(),
            "family": self.family.name(),
            "kind": self.kind.name(),
            "shape": self.shape.name(),
            "tool": self.tool.map(Tool::name),
            "probes": self.probes,
            "ports": self.ports,
            "port_count": self.port_count,
            "hosts": self.hosts,
            "dst": self.dst.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "first_seen": start,
            "duration_s": self.span().as_secs_f64(),
            "evidence": self.evidence,
            "group": self.group.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "group_kind": self.group_kind.map(GroupKind::name),
            "handshakes": self.handshakes,
            // Suricata EVE
            "timestamp": time,
            "event_type": "alert",
            "src_ip": self.src.to_string(),
            "dest_ip": dest_ip,
            "proto": self.proto(),
            "alert": {
                "action": "allowed",
                "signature_id": SIGNATURE_BASE + self.kind.index() as u64,
                "signature": signature,
                "category": "Attempted Information Leak",
                "severity": severity,
            },
            // ECS
            "@timestamp": time,
            "event": {
                "kind": "alert",
                "category": ["network", "intrusion_detection"],
                "type": ["info"],
                "module": "vigie",
                "dataset": "vigie.watch",
                "start": start,
                "severity": severity,
            },
            "source": { "ip": self.src.to_string() },
            "destination": { "ip": dest_ip },
            "rule": {
                "name": signature,
                "id": (SIGNATURE_BASE + self.kind.index() as u64).to_string(),
            },
            "threat": {
                "framework": "MITRE ATT&CK",
                "technique": { "id": "T1046", "name": "Network Service Discovery" },
                "tactic": { "id": "TA0007", "name": "Discovery" },
            },
        });
        if let ([port], Some(obj)) = (self.ports.as_slice(), v.as_object_mut()) {
            obj.insert("dest_port".into(), json!(port));
            if let Some(d) = obj.get_mut("destination").and_then(Value::as_object_mut) {
                d.insert("port".into(), json!(port));
            }
        }
        v
    }
}

fn rfc3339(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Micros, true)
}
