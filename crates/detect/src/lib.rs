//! Scan detection: a pure detector fed frames and time.
//!
//! [`Detector::handle_frame`] takes one captured frame (starting at its
//! Ethernet header or at its IP header), whether this host received or sent
//! it, and the monotonic time; [`Detector::poll_alert`] hands out the alerts
//! it decided on. No sockets, no threads, no clock of its own: the driver
//! (`vigie watch`) reads frames from netio's ring and passes them in, tests
//! pass synthetic frames on a virtual clock.
//!
//! Modules:
//! * `parse`: frame → the few fields read, through vigie-wire's checked views;
//! * `frag`: enough IPv4 reassembly to read TCP headers split by `nmap -f`;
//! * [`fingerprint`]: which tool sent a probe (the table is there);
//! * `table`: the bounded source table with eviction by score;
//! * `track`: fixed-size tables of this host's flows, SYN-ACK ISNs and
//!   recent probes (decoys);
//! * `detector`: the rules (kinds, thresholds, states, groups);
//! * [`alert`]: what an alert holds and how it is written (a human line,
//!   JSON with Suricata-EVE and ECS fields).
//!
//! `docs/watch.md` describes every rule and threshold.

#![forbid(unsafe_code)]

pub mod alert;
mod detector;
pub mod fingerprint;
mod frag;
mod parse;
mod table;
mod track;

pub use alert::Alert;
pub use detector::Detector;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Where a frame starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Link {
    /// At an Ethernet II header (VLAN tags are skipped).
    Ethernet,
    /// At the IP header (loopback, tun); the first nibble gives the version.
    Ip,
}

/// Whether this host received the frame or sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    In,
    /// A frame this host sent: its SYN-ACKs, RSTs, ICMP errors, its own
    /// connections. The detector needs these to tell open ports from closed
    /// ones, completed handshakes from spoofed probes, and replies to this
    /// host's own traffic from probes.
    Out,
}

/// One captured frame.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub link: Link,
    pub dir: Dir,
    pub bytes: &'a [u8],
}

/// The detector's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// This host's addresses. Probes to other destinations are not counted
    /// (ARP and ND sweeps excepted). Empty: every destination is local (a
    /// mirror port).
    pub local: Vec<IpAddr>,
    /// Sources tracked at once (the table evicts by score past this).
    pub max_sources: usize,
    /// An alert for a (source, kind) is repeated only after that source
    /// sent no probe of that kind for this long.
    pub quiet: Duration,
    /// What a source did longer ago than this no longer counts.
    pub horizon: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            local: Vec::new(),
            max_sources: DEFAULT_MAX_SOURCES,
            quiet: Duration::from_secs(600),
            horizon: Duration::from_secs(3600),
        }
    }
}

/// The default size of the source table: 16384 sources of at most ~1.3 KB
/// each (their full target lists), plus a quarter as many prefix
/// aggregates, stays under 32 MB even when every entry is full.
pub const DEFAULT_MAX_SOURCES: usize = 16384;

/// Address family of the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(a: &IpAddr) -> Family {
        match a {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
}

/// What kind of scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Raw SYN probes (half-open scan).
    Syn,
    /// An OS stack's connections, completed or refused, across ports.
    Connect,
    Fin,
    Null,
    Xmas,
    /// ACK probes (nmap -sA and -sW send the same packet).
    Ack,
    /// FIN|ACK probes (nmap -sM).
    Maimon,
    /// Any other flag combination (nmap --scanflags).
    OtherFlags,
    Udp,
    /// ICMP echo, timestamp or address-mask requests across hosts.
    IcmpSweep,
    /// Raw SYN/ACK pings to port 80/443 across hosts, or beside ICMP pings
    /// (nmap -sn).
    TcpPingSweep,
    ArpSweep,
    /// IPv6 neighbour solicitations across addresses.
    NdSweep,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Syn,
        Kind::Connect,
        Kind::Fin,
        Kind::Null,
        Kind::Xmas,
        Kind::Ack,
        Kind::Maimon,
        Kind::OtherFlags,
        Kind::Udp,
        Kind::IcmpSweep,
        Kind::TcpPingSweep,
        Kind::ArpSweep,
        Kind::NdSweep,
    ];

    /// The name used in JSON (`syn`, `connect`, `icmp_sweep`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Syn => "syn",
            Kind::Connect => "connect",
            Kind::Fin => "fin",
            Kind::Null => "null",
            Kind::Xmas => "xmas",
            Kind::Ack => "ack",
            Kind::Maimon => "maimon",
            Kind::OtherFlags => "other_flags",
            Kind::Udp => "udp",
            Kind::IcmpSweep => "icmp_sweep",
            Kind::TcpPingSweep => "tcp_ping_sweep",
            Kind::ArpSweep => "arp_sweep",
            Kind::NdSweep => "nd_sweep",
        }
    }

    /// The words of the human line ("SYN scan", "ARP sweep").
    pub fn title(self) -> &'static str {
        match self {
            Kind::Syn => "SYN scan",
            Kind::Connect => "connect scan",
            Kind::Fin => "FIN scan",
            Kind::Null => "NULL scan",
            Kind::Xmas => "Xmas scan",
            Kind::Ack => "ACK scan",
            Kind::Maimon => "Maimon scan",
            Kind::OtherFlags => "odd-flags scan",
            Kind::Udp => "UDP scan",
            Kind::IcmpSweep => "ICMP sweep",
            Kind::TcpPingSweep => "TCP ping sweep",
            Kind::ArpSweep => "ARP sweep",
            Kind::NdSweep => "ND sweep",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the probes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// Many ports (or probe types) of one host.
    Vertical,
    /// One port across hosts.
    Horizontal,
    /// Several ports across several hosts.
    Block,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Vertical => "vertical",
            Shape::Horizontal => "horizontal",
            Shape::Block => "block",
        }
    }
}

/// The scanner that sent the probes, from its wire fingerprint
/// ([`fingerprint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    Nmap,
    Masscan,
    Zmap,
    /// vigie's own raw probes.
    Vigie,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Nmap => "nmap",
            Tool::Masscan => "masscan",
            Tool::Zmap => "zmap",
            Tool::Vigie => "vigie",
        }
    }
}
