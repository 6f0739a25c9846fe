//! The vocabulary shared by every layer: techniques, port states, reasons.

use std::fmt;

/// Transport protocol of a scanned port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    /// The inverse of [`Proto::as_str`].
    pub fn parse(s: &str) -> Option<Proto> {
        [Proto::Tcp, Proto::Udp]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// How ports are probed.
///
/// `--scanflags` is not a technique of its own: it changes the flags a raw
/// TCP technique sends, while the technique still says how to read replies
/// (nmap's rule; SYN reading by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Technique {
    /// Half-open: SYN, read SYN-ACK / RST / ICMP.
    Syn,
    /// Full `connect()` through the kernel; needs no privilege.
    Connect,
    /// FIN alone: RST → closed, silence → open|filtered.
    Fin,
    /// No flags at all; read like FIN.
    Null,
    /// FIN|PSH|URG ("lit up like a Christmas tree"); read like FIN.
    Xmas,
    /// ACK: maps firewalls; RST → unfiltered, silence → filtered.
    Ack,
    /// ACK, reading the RST's window: non-zero → open, zero → closed.
    Window,
    /// FIN|ACK (Uriel Maimon's probe): RST → closed, silence → open|filtered.
    Maimon,
    /// UDP datagrams (with protocol payloads where a service needs one).
    Udp,
}

impl Technique {
    /// Every raw TCP technique (one per scan run, as nmap allows).
    pub const RAW_TCP: [Technique; 7] = [
        Technique::Syn,
        Technique::Fin,
        Technique::Null,
        Technique::Xmas,
        Technique::Ack,
        Technique::Window,
        Technique::Maimon,
    ];

    /// Every technique, in the order messages list them.
    pub const ALL: [Technique; 9] = [
        Technique::Syn,
        Technique::Connect,
        Technique::Fin,
        Technique::Null,
        Technique::Xmas,
        Technique::Ack,
        Technique::Window,
        Technique::Maimon,
        Technique::Udp,
    ];

    /// The command-line flag that picks it (nmap's).
    pub const fn flag(self) -> &'static str {
        match self {
            Technique::Syn => "-sS",
            Technique::Connect => "-sT",
            Technique::Fin => "-sF",
            Technique::Null => "-sN",
            Technique::Xmas => "-sX",
            Technique::Ack => "-sA",
            Technique::Window => "-sW",
            Technique::Maimon => "-sM",
            Technique::Udp => "-sU",
        }
    }

    /// The technique nmap's word names (the inverse of [`Technique::nmap_name`]).
    pub fn from_nmap_name(s: &str) -> Option<Technique> {
        Technique::RAW_TCP
            .into_iter()
            .chain([Technique::Connect, Technique::Udp])
            .find(|t| t.nmap_name() == s)
    }

    /// nmap's word for the technique, as in `<scaninfo type="…">`.
    pub const fn nmap_name(self) -> &'static str {
        match self {
            Technique::Syn => "syn",
            Technique::Connect => "connect",
            Technique::Fin => "fin",
            Technique::Null => "null",
            Technique::Xmas => "xmas",
            Technique::Ack => "ack",
            Technique::Window => "window",
            Technique::Maimon => "maimon",
            Technique::Udp => "udp",
        }
    }

    /// Human name, as in "SYN Stealth Scan".
    pub const fn title(self) -> &'static str {
        match self {
            Technique::Syn => "SYN Stealth Scan",
            Technique::Connect => "Connect Scan",
            Technique::Fin => "FIN Scan",
            Technique::Null => "NULL Scan",
            Technique::Xmas => "XMAS Scan",
            Technique::Ack => "ACK Scan",
            Technique::Window => "Window Scan",
            Technique::Maimon => "Maimon Scan",
            Technique::Udp => "UDP Scan",
        }
    }

    /// The transport protocol the technique probes.
    pub fn proto(self) -> Proto {
        match self {
            Technique::Udp => Proto::Udp,
            _ => Proto::Tcp,
        }
    }

    /// True for techniques that send hand-built packets (need CAP_NET_RAW).
    pub fn is_raw(self) -> bool {
        self != Technique::Connect
    }

    /// The TCP flags a raw TCP technique's probe carries (without
    /// `--scanflags`); `None` for connect and UDP.
    pub fn probe_flags(self) -> Option<vigie_wire::tcp::TcpFlags> {
        use vigie_wire::tcp::TcpFlags as F;
        Some(match self {
            Technique::Syn => F::SYN,
            Technique::Fin => F::FIN,
            Technique::Null => F(0),
            Technique::Xmas => F(F::FIN.0 | F::PSH.0 | F::URG.0),
            Technique::Ack | Technique::Window => F::ACK,
            Technique::Maimon => F(F::FIN.0 | F::ACK.0),
            Technique::Connect | Technique::Udp => return None,
        })
    }
}

/// Every state a technique can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortState {
    Open,
    Closed,
    Filtered,
    Unfiltered,
    OpenFiltered,
    ClosedFiltered,
}

impl PortState {
    pub const ALL: [PortState; 6] = [
        PortState::Open,
        PortState::Closed,
        PortState::Filtered,
        PortState::Unfiltered,
        PortState::OpenFiltered,
        PortState::ClosedFiltered,
    ];

    /// nmap's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
            PortState::Unfiltered => "unfiltered",
            PortState::OpenFiltered => "open|filtered",
            PortState::ClosedFiltered => "closed|filtered",
        }
    }

    pub fn parse(s: &str) -> Option<PortState> {
        PortState::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Compact code for dense result tables (never 0: 0 means "unknown").
    pub fn code(self) -> u8 {
        self as u8 + 1
    }

    pub fn from_code(c: u8) -> Option<PortState> {
        PortState::ALL.get((c as usize).checked_sub(1)?).copied()
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a port (or host) got its state, named as nmap names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    SynAck,
    Reset,
    NoResponse,
    ConnRefused,
    /// TCP connect() completed.
    SynAckConnect,
    PortUnreach,
    HostUnreach,
    NetUnreach,
    ProtoUnreach,
    AdminProhibited,
    HostProhibited,
    NetProhibited,
    TimeExceeded,
    UdpResponse,
    EchoReply,
    ArpResponse,
    NdResponse,
    Localhost,
    UserSet,
    /// ICMP timestamp reply to a `-PP` ping.
    TimestampReply,
    /// ICMP address mask reply to a `-PM` ping.
    MaskReply,
    /// A reason vigie does not model, read from another scanner's output
    /// (nmap's `dest-unreach`, `proto-response`, `script-set`, …): kept as
    /// nmap's own neutral word. vigie's scans never give it.
    Unknown,
}

impl Reason {
    pub const ALL: [Reason; 22] = [
        Reason::SynAck,
        Reason::Reset,
        Reason::NoResponse,
        Reason::ConnRefused,
        Reason::SynAckConnect,
        Reason::PortUnreach,
        Reason::HostUnreach,
        Reason::NetUnreach,
        Reason::ProtoUnreach,
        Reason::AdminProhibited,
        Reason::HostProhibited,
        Reason::NetProhibited,
        Reason::TimeExceeded,
        Reason::UdpResponse,
        Reason::EchoReply,
        Reason::ArpResponse,
        Reason::NdResponse,
        Reason::Localhost,
        Reason::UserSet,
        Reason::TimestampReply,
        Reason::MaskReply,
        Reason::Unknown,
    ];

    /// The reason nmap's word names; `syn-ack` is the raw scan's (the
    /// connect scan's variant only differs inside the engine).
    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// nmap's spelling (`reason="…"` in XML, `--reason` column).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SynAck | Reason::SynAckConnect => "syn-ack",
            Reason::Reset => "reset",
            Reason::NoResponse => "no-response",
            Reason::ConnRefused => "conn-refused",
            Reason::PortUnreach => "port-unreach",
            Reason::HostUnreach => "host-unreach",
            Reason::NetUnreach => "net-unreach",
            Reason::ProtoUnreach => "proto-unreach",
            Reason::AdminProhibited => "admin-prohibited",
            Reason::HostProhibited => "host-prohibited",
            Reason::NetProhibited => "net-prohibited",
            Reason::TimeExceeded => "time-exceeded",
            Reason::UdpResponse => "udp-response",
            Reason::EchoReply => "echo-reply",
            Reason::ArpResponse => "arp-response",
            Reason::NdResponse => "nd-response",
            Reason::Localhost => "localhost-response",
            Reason::UserSet => "user-set",
            Reason::TimestampReply => "timestamp-reply",
            Reason::MaskReply => "addressmask-reply",
            Reason::Unknown => "unknown-response",
        }
    }

    /// Compact code for dense result tables (never 0).
    pub fn code(self) -> u8 {
        self as u8 + 1
    }

    pub fn from_code(c: u8) -> Option<Reason> {
        Reason::ALL.get((c as usize).checked_sub(1)?).copied()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in PortState::ALL {
            assert_eq!(PortState::from_code(s.code()), Some(s));
            assert_eq!(PortState::parse(s.as_str()), Some(s));
        }
        for r in Reason::ALL {
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        assert_eq!(PortState::from_code(0), None);
        assert_eq!(Reason::from_code(0), None);
    }
}
