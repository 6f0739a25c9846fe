//! What a reply (or its absence) says about a port, as nmap reads it.
//!
//! One table of [`Rules`] per technique: the TCP rows (first match wins),
//! what ICMP errors mean, and what silence means. New raw techniques (FIN,
//! NULL, Xmas, ACK, Window, Maimon, UDP) are new tables, not new code.

use vigie_wire::tcp::TcpFlags;

use crate::model::{PortState, Reason, Technique};

/// A validated reply to one probe, reduced to what classification needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// A TCP segment from the probed port.
    Tcp { flags: TcpFlags, window: u16 },
    /// Destination unreachable: ICMPv4 type 3 or ICMPv6 type 1.
    IcmpUnreach { v6: bool, code: u8 },
    /// Any other ICMP error quoting the probe (time exceeded, parameter
    /// problem, ...).
    IcmpOther { v6: bool, icmp_type: u8, code: u8 },
    /// A UDP datagram from the probed port.
    Udp,
    /// Nothing came back, after all retries.
    NoReply,
}

impl Response {
    /// An ICMP error quoting a probe: destination unreachable (ICMPv4 type
    /// 3, ICMPv6 type 1) or any other error type.
    pub fn icmp_error(v6: bool, icmp_type: u8, code: u8) -> Response {
        let unreach = if v6 { icmp_type == 1 } else { icmp_type == 3 };
        if unreach {
            Response::IcmpUnreach { v6, code }
        } else {
            Response::IcmpOther {
                v6,
                icmp_type,
                code,
            }
        }
    }

    /// True for a port unreachable (ICMPv4 3/3, ICMPv6 1/4).
    pub fn is_port_unreach(&self) -> bool {
        matches!(*self, Response::IcmpUnreach { v6, code } if code == if v6 { 4 } else { 3 })
    }
}

/// A condition on the TCP window of a reply (the Window scan reads it).
#[derive(Debug, Clone, Copy)]
enum Win {
    Any,
    Zero,
    NonZero,
}

/// `flags & mask == value` (and the window condition) → verdict.
#[derive(Debug, Clone, Copy)]
struct TcpRow {
    mask: TcpFlags,
    value: TcpFlags,
    window: Win,
    verdict: (PortState, Reason),
}

#[derive(Debug)]
struct Rules {
    tcp: &'static [TcpRow],
    /// State for an ICMP unreachable other than port unreachable (the reason
    /// comes from the code); `None`: ignored.
    unreach: Option<PortState>,
    /// State for ICMP port unreachable.
    port_unreach: Option<PortState>,
    /// State for ICMPv4 time exceeded.
    time_exceeded: Option<PortState>,
    /// Verdict for a UDP reply from the port.
    udp: Option<(PortState, Reason)>,
    /// Verdict after every retry went unanswered.
    no_reply: Option<(PortState, Reason)>,
}

const fn row(mask: TcpFlags, value: TcpFlags, state: PortState, reason: Reason) -> TcpRow {
    TcpRow {
        mask,
        value,
        window: Win::Any,
        verdict: (state, reason),
    }
}

const SYN_ACK: TcpFlags = TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0);

/// `-sS`: SYN-ACK open; RST closed; a bare SYN (split handshake) open too;
/// any ICMP error filtered; silence filtered.
const SYN_RULES: Rules = Rules {
    tcp: &[
        row(SYN_ACK, SYN_ACK, PortState::Open, Reason::SynAck),
        row(
            TcpFlags::RST,
            TcpFlags::RST,
            PortState::Closed,
            Reason::Reset,
        ),
        row(
            TcpFlags::SYN,
            TcpFlags::SYN,
            PortState::Open,
            Reason::SynAck,
        ),
    ],
    unreach: Some(PortState::Filtered),
    port_unreach: Some(PortState::Filtered),
    time_exceeded: Some(PortState::Filtered),
    udp: None,
    no_reply: Some((PortState::Filtered, Reason::NoResponse)),
};

/// `-sF`, `-sN`, `-sX`, `-sM`: a closed port answers RST (RFC 793); an open
/// one stays silent, so silence cannot tell open from filtered.
const FIN_RULES: Rules = Rules {
    tcp: &[row(
        TcpFlags::RST,
        TcpFlags::RST,
        PortState::Closed,
        Reason::Reset,
    )],
    unreach: Some(PortState::Filtered),
    port_unreach: Some(PortState::Filtered),
    time_exceeded: Some(PortState::Filtered),
    udp: None,
    no_reply: Some((PortState::OpenFiltered, Reason::NoResponse)),
};

/// `-sA`: open and closed ports both answer RST, so it only tells whether
/// a filter stands in the way.
const ACK_RULES: Rules = Rules {
    tcp: &[row(
        TcpFlags::RST,
        TcpFlags::RST,
        PortState::Unfiltered,
        Reason::Reset,
    )],
    unreach: Some(PortState::Filtered),
    port_unreach: Some(PortState::Filtered),
    time_exceeded: Some(PortState::Filtered),
    udp: None,
    no_reply: Some((PortState::Filtered, Reason::NoResponse)),
};

/// `-sW`: like ACK, but some stacks give RSTs from open ports a non-zero
/// window.
const WINDOW_RULES: Rules = Rules {
    tcp: &[
        TcpRow {
            mask: TcpFlags::RST,
            value: TcpFlags::RST,
            window: Win::NonZero,
            verdict: (PortState::Open, Reason::Reset),
        },
        TcpRow {
            mask: TcpFlags::RST,
            value: TcpFlags::RST,
            window: Win::Zero,
            verdict: (PortState::Closed, Reason::Reset),
        },
    ],
    unreach: Some(PortState::Filtered),
    port_unreach: Some(PortState::Filtered),
    time_exceeded: Some(PortState::Filtered),
    udp: None,
    no_reply: Some((PortState::Filtered, Reason::NoResponse)),
};

/// `-sU`: any UDP reply → open; port unreachable → closed; other
/// unreachables → filtered; silence → open|filtered.
const UDP_RULES: Rules = Rules {
    tcp: &[],
    unreach: Some(PortState::Filtered),
    port_unreach: Some(PortState::Closed),
    time_exceeded: Some(PortState::Filtered),
    udp: Some((PortState::Open, Reason::UdpResponse)),
    no_reply: Some((PortState::OpenFiltered, Reason::NoResponse)),
};

/// `-sT` sees no packets (see [`classify_connect`]); silence is a timeout.
const CONNECT_RULES: Rules = Rules {
    tcp: &[],
    unreach: None,
    port_unreach: None,
    time_exceeded: None,
    udp: None,
    no_reply: Some((PortState::Filtered, Reason::NoResponse)),
};

fn rules(t: Technique) -> &'static Rules {
    match t {
        Technique::Syn => &SYN_RULES,
        Technique::Connect => &CONNECT_RULES,
        Technique::Fin | Technique::Null | Technique::Xmas | Technique::Maimon => &FIN_RULES,
        Technique::Ack => &ACK_RULES,
        Technique::Window => &WINDOW_RULES,
        Technique::Udp => &UDP_RULES,
    }
}

/// The reason an ICMPv4 destination-unreachable code gives; `None` for
/// codes nmap does not read (fragmentation needed, source route failed,
/// unknown network, ...).
fn icmp4_unreach_reason(code: u8) -> Option<Reason> {
    Some(match code {
        0 => Reason::NetUnreach,
        1 => Reason::HostUnreach,
        2 => Reason::ProtoUnreach,
        3 => Reason::PortUnreach,
        9 => Reason::NetProhibited,
        10 => Reason::HostProhibited,
        13 => Reason::AdminProhibited,
        _ => return None,
    })
}

/// The reason an ICMPv6 destination-unreachable code gives.
fn icmp6_unreach_reason(code: u8) -> Reason {
    match code {
        0 => Reason::NetUnreach,      // no route to destination
        1 => Reason::AdminProhibited, // administratively prohibited
        3 => Reason::HostUnreach,     // address unreachable
        4 => Reason::PortUnreach,
        5 => Reason::AdminProhibited, // source address failed ingress/egress policy
        _ => Reason::HostUnreach,     // beyond scope, reject route, ...
    }
}

const ICMP4_TIME_EXCEEDED: u8 = 11;

/// The verdict of the first row matching a TCP reply.
fn match_tcp(rows: &[TcpRow], flags: TcpFlags, window: u16) -> Option<(PortState, Reason)> {
    rows.iter()
        .find(|row| {
            flags & row.mask == row.value
                && match row.window {
                    Win::Any => true,
                    Win::Zero => window == 0,
                    Win::NonZero => window != 0,
                }
        })
        .map(|row| row.verdict)
}

/// What `r` says about the probed port under technique `t`; `None` when the
/// reply says nothing for this technique and should be ignored.
pub fn classify(t: Technique, r: &Response) -> Option<(PortState, Reason)> {
    let rules = rules(t);
    match *r {
        Response::Tcp { flags, window } => match_tcp(rules.tcp, flags, window),
        Response::IcmpUnreach { v6, code } => {
            let reason = if v6 {
                icmp6_unreach_reason(code)
            } else {
                icmp4_unreach_reason(code)?
            };
            let state = if reason == Reason::PortUnreach {
                rules.port_unreach
            } else {
                rules.unreach
            }?;
            Some((state, reason))
        }
        Response::IcmpOther { v6, icmp_type, .. } => {
            if !v6 && icmp_type == ICMP4_TIME_EXCEEDED {
                Some((rules.time_exceeded?, Reason::TimeExceeded))
            } else {
                None
            }
        }
        Response::Udp => rules.udp,
        Response::NoReply => rules.no_reply,
    }
}

/// How a `connect()` attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectOutcome {
    Connected,
    /// ECONNREFUSED: the target answered with RST.
    Refused,
    /// No answer within the timeout, after all retries.
    TimedOut,
    /// EHOSTUNREACH.
    HostUnreach,
    /// ENETUNREACH.
    NetUnreach,
    /// EACCES / EPERM from an ICMP prohibited or a local firewall.
    AdminProhibited,
}

/// What a `connect()` outcome says about the port.
pub fn classify_connect(o: ConnectOutcome) -> (PortState, Reason) {
    match o {
        ConnectOutcome::Connected => (PortState::Open, Reason::SynAckConnect),
        ConnectOutcome::Refused => (PortState::Closed, Reason::ConnRefused),
        ConnectOutcome::TimedOut => (PortState::Filtered, Reason::NoResponse),
        ConnectOutcome::HostUnreach => (PortState::Filtered, Reason::HostUnreach),
        ConnectOutcome::NetUnreach => (PortState::Filtered, Reason::NetUnreach),
        ConnectOutcome::AdminProhibited => (PortState::Filtered, Reason::AdminProhibited),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PortState::*;

    fn tcp(flags: TcpFlags) -> Response {
        Response::Tcp {
            flags,
            window: 1024,
        }
    }

    const F: TcpFlags = TcpFlags::FIN;
    const S: TcpFlags = TcpFlags::SYN;
    const R: TcpFlags = TcpFlags::RST;
    const P: TcpFlags = TcpFlags::PSH;
    const A: TcpFlags = TcpFlags::ACK;
    const U: TcpFlags = TcpFlags::URG;

    #[test]
    fn syn_tcp_rows() {
        let cases = [
            (S | A, Some((Open, Reason::SynAck))),
            (S | A | P, Some((Open, Reason::SynAck))),
            (S | A | TcpFlags::ECE, Some((Open, Reason::SynAck))),
            (S, Some((Open, Reason::SynAck))),
            (R, Some((Closed, Reason::Reset))),
            (R | A, Some((Closed, Reason::Reset))),
            (S | R, Some((Closed, Reason::Reset))),
            (S | A | R, Some((Open, Reason::SynAck))),
            (A, None),
            (F | A, None),
            (F | P | U, None),
            (TcpFlags::NONE, None),
        ];
        for (flags, want) in cases {
            assert_eq!(classify(Technique::Syn, &tcp(flags)), want, "{flags:?}");
            let zero = Response::Tcp { flags, window: 0 };
            assert_eq!(classify(Technique::Syn, &zero), want, "{flags:?} window 0");
        }
    }

    #[test]
    fn syn_icmpv4_unreach_rows() {
        let want = [
            (0, Some((Filtered, Reason::NetUnreach))),
            (1, Some((Filtered, Reason::HostUnreach))),
            (2, Some((Filtered, Reason::ProtoUnreach))),
            (3, Some((Filtered, Reason::PortUnreach))),
            (9, Some((Filtered, Reason::NetProhibited))),
            (10, Some((Filtered, Reason::HostProhibited))),
            (13, Some((Filtered, Reason::AdminProhibited))),
        ];
        for code in 0..=u8::MAX {
            let expect = want.iter().find(|(c, _)| *c == code).and_then(|(_, v)| *v);
            let r = Response::IcmpUnreach { v6: false, code };
            assert_eq!(classify(Technique::Syn, &r), expect, "code {code}");
        }
    }

    #[test]
    fn syn_icmpv6_unreach_rows() {
        let want = [
            (0, Reason::NetUnreach),
            (1, Reason::AdminProhibited),
            (2, Reason::HostUnreach),
            (3, Reason::HostUnreach),
            (4, Reason::PortUnreach),
            (5, Reason::AdminProhibited),
            (6, Reason::HostUnreach),
            (7, Reason::HostUnreach),
            (200, Reason::HostUnreach),
        ];
        for (code, reason) in want {
            let r = Response::IcmpUnreach { v6: true, code };
            assert_eq!(
                classify(Technique::Syn, &r),
                Some((Filtered, reason)),
                "code {code}"
            );
        }
    }

    #[test]
    fn syn_other_icmp_and_silence() {
        let te = Response::IcmpOther {
            v6: false,
            icmp_type: 11,
            code: 0,
        };
        assert_eq!(
            classify(Technique::Syn, &te),
            Some((Filtered, Reason::TimeExceeded))
        );
        for (v6, icmp_type) in [(false, 12), (false, 4), (true, 3), (true, 4), (true, 2)] {
            let r = Response::IcmpOther {
                v6,
                icmp_type,
                code: 0,
            };
            assert_eq!(classify(Technique::Syn, &r), None, "{v6} {icmp_type}");
        }
        assert_eq!(
            classify(Technique::Syn, &Response::NoReply),
            Some((Filtered, Reason::NoResponse))
        );
    }

    #[test]
    fn connect_ignores_packets() {
        for r in [
            tcp(S | A),
            tcp(R),
            Response::IcmpUnreach { v6: false, code: 3 },
            Response::IcmpUnreach { v6: true, code: 1 },
            Response::IcmpOther {
                v6: false,
                icmp_type: 11,
                code: 0,
            },
        ] {
            assert_eq!(classify(Technique::Connect, &r), None, "{r:?}");
        }
        assert_eq!(
            classify(Technique::Connect, &Response::NoReply),
            Some((Filtered, Reason::NoResponse))
        );
    }

    #[test]
    fn connect_rows() {
        let table = [
            (
                ConnectOutcome::Connected,
                Open,
                Reason::SynAckConnect,
                "syn-ack",
            ),
            (
                ConnectOutcome::Refused,
                Closed,
                Reason::ConnRefused,
                "conn-refused",
            ),
            (
                ConnectOutcome::TimedOut,
                Filtered,
                Reason::NoResponse,
                "no-response",
            ),
            (
                ConnectOutcome::HostUnreach,
                Filtered,
                Reason::HostUnreach,
                "host-unreach",
            ),
            (
                ConnectOutcome::NetUnreach,
                Filtered,
                Reason::NetUnreach,
                "net-unreach",
            ),
            (
                ConnectOutcome::AdminProhibited,
                Filtered,
                Reason::AdminProhibited,
                "admin-prohibited",
            ),
        ];
        for (o, state, reason, name) in table {
            assert_eq!(classify_connect(o), (state, reason), "{o:?}");
            assert_eq!(reason.as_str(), name);
        }
    }

    #[test]
    fn window_condition_reads_the_window() {
        // The row machinery the Window scan will use.
        let rows = [
            TcpRow {
                mask: R,
                value: R,
                window: Win::NonZero,
                verdict: (Open, Reason::Reset),
            },
            TcpRow {
                mask: R,
                value: R,
                window: Win::Zero,
                verdict: (Closed, Reason::Reset),
            },
        ];
        let pick = |window| match_tcp(&rows, R, window);
        assert_eq!(pick(0), Some((Closed, Reason::Reset)));
        assert_eq!(pick(512), Some((Open, Reason::Reset)));
        assert_eq!(match_tcp(&rows, A, 512), None);
    }

    type Verdict = Option<(PortState, Reason)>;

    /// Every raw technique against every kind of reply, one table.
    #[test]
    fn technique_table() {
        use Technique::*;
        let port_unreach = Response::IcmpUnreach { v6: false, code: 3 };
        let admin = Response::IcmpUnreach {
            v6: false,
            code: 13,
        };
        let admin6 = Response::IcmpUnreach { v6: true, code: 1 };
        let port6 = Response::IcmpUnreach { v6: true, code: 4 };
        let rst0 = Response::Tcp {
            flags: R | A,
            window: 0,
        };
        let rst_win = Response::Tcp {
            flags: R,
            window: 4096,
        };
        let synack = tcp(S | A);
        let fa = Some((Filtered, Reason::AdminProhibited));
        let fp = Some((Filtered, Reason::PortUnreach));
        let silent_of = Some((OpenFiltered, Reason::NoResponse));
        let silent_f = Some((Filtered, Reason::NoResponse));
        #[rustfmt::skip]
        let table: [(Technique, [Verdict; 8]); 7] = [
            //          rst(w=0)                        rst(w>0)                        syn-ack                     port-unreach port6 admin admin6  silence
            (Fin,    [Some((Closed, Reason::Reset)),   Some((Closed, Reason::Reset)),   None,                        fp, fp, fa, fa, silent_of]),
            (Null,   [Some((Closed, Reason::Reset)),   Some((Closed, Reason::Reset)),   None,                        fp, fp, fa, fa, silent_of]),
            (Xmas,   [Some((Closed, Reason::Reset)),   Some((Closed, Reason::Reset)),   None,                        fp, fp, fa, fa, silent_of]),
            (Maimon, [Some((Closed, Reason::Reset)),   Some((Closed, Reason::Reset)),   None,                        fp, fp, fa, fa, silent_of]),
            (Ack,    [Some((Unfiltered, Reason::Reset)), Some((Unfiltered, Reason::Reset)), None,                    fp, fp, fa, fa, silent_f]),
            (Window, [Some((Closed, Reason::Reset)),   Some((Open, Reason::Reset)),     None,                        fp, fp, fa, fa, silent_f]),
            (Syn,    [Some((Closed, Reason::Reset)),   Some((Closed, Reason::Reset)),   Some((Open, Reason::SynAck)), fp, fp, fa, fa, silent_f]),
        ];
        for (t, want) in table {
            let got = [
                classify(t, &rst0),
                classify(t, &rst_win),
                classify(t, &synack),
                classify(t, &port_unreach),
                classify(t, &port6),
                classify(t, &admin),
                classify(t, &admin6),
                classify(t, &Response::NoReply),
            ];
            assert_eq!(got, want, "{t:?}");
            assert_eq!(classify(t, &Response::Udp), None, "{t:?} ignores UDP");
        }
    }

    #[test]
    fn udp_rows() {
        let t = Technique::Udp;
        assert_eq!(
            classify(t, &Response::Udp),
            Some((Open, Reason::UdpResponse))
        );
        assert_eq!(
            classify(t, &Response::IcmpUnreach { v6: false, code: 3 }),
            Some((Closed, Reason::PortUnreach))
        );
        assert_eq!(
            classify(t, &Response::IcmpUnreach { v6: true, code: 4 }),
            Some((Closed, Reason::PortUnreach))
        );
        assert_eq!(
            classify(
                t,
                &Response::IcmpUnreach {
                    v6: false,
                    code: 13
                }
            ),
            Some((Filtered, Reason::AdminProhibited))
        );
        assert_eq!(
            classify(t, &Response::IcmpUnreach { v6: false, code: 1 }),
            Some((Filtered, Reason::HostUnreach))
        );
        assert_eq!(
            classify(t, &Response::NoReply),
            Some((OpenFiltered, Reason::NoResponse))
        );
        assert_eq!(classify(t, &tcp(R | A)), None);
    }

    #[test]
    fn probe_flags_per_technique() {
        use Technique::*;
        assert_eq!(Syn.probe_flags(), Some(S));
        assert_eq!(Fin.probe_flags(), Some(F));
        assert_eq!(Null.probe_flags(), Some(TcpFlags::NONE));
        assert_eq!(Xmas.probe_flags(), Some(F | P | U));
        assert_eq!(Ack.probe_flags(), Some(A));
        assert_eq!(Window.probe_flags(), Some(A));
        assert_eq!(Maimon.probe_flags(), Some(F | A));
        assert_eq!(Connect.probe_flags(), None);
        assert_eq!(Udp.probe_flags(), None);
    }

    #[test]
    fn icmp_error_mapping() {
        assert_eq!(
            Response::icmp_error(false, 3, 13),
            Response::IcmpUnreach {
                v6: false,
                code: 13
            }
        );
        assert_eq!(
            Response::icmp_error(true, 1, 4),
            Response::IcmpUnreach { v6: true, code: 4 }
        );
        assert_eq!(
            Response::icmp_error(false, 11, 0),
            Response::IcmpOther {
                v6: false,
                icmp_type: 11,
                code: 0
            }
        );
        assert_eq!(
            Response::icmp_error(true, 3, 0),
            Response::IcmpOther {
                v6: true,
                icmp_type: 3,
                code: 0
            }
        );
        assert!(Response::icmp_error(false, 3, 3).is_port_unreach());
        assert!(Response::icmp_error(true, 1, 4).is_port_unreach());
        assert!(!Response::icmp_error(true, 1, 3).is_port_unreach());
        assert!(!Response::icmp_error(false, 3, 13).is_port_unreach());
        assert!(!Response::icmp_error(false, 11, 3).is_port_unreach());
    }
}
