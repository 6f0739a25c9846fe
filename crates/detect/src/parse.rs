//! Frame → [`Pkt`]: the few fields the detector reads, through vigie-wire's
//! checked views. Anything that does not parse is `None`; nothing here can
//! panic (every view is `new_checked`, every other read goes through `get`).

use crate::frag::Frags;
use crate::{Frame, Link};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use vigie_wire::ethernet::{self, EtherType};
use vigie_wire::{arp, icmpv4, icmpv6, ip_proto, ipv4, ipv6, tcp, udp, TcpFlags};

/// One parsed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pkt {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification (`None` on IPv6).
    pub ip_id: Option<u16>,
    /// IPv4 don't-fragment bit.
    pub df: bool,
    pub body: Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    Tcp(Tcp),
    Udp {
        sport: u16,
        dport: u16,
    },
    /// ICMP echo / timestamp / address-mask request or ICMPv6 echo request
    /// (`ty` is the ICMP type), or a reply (`reply`).
    IcmpQuery {
        ty: u8,
        reply: bool,
        ident: u16,
        seq: u16,
    },
    /// An ICMP(v6) error quoting a datagram.
    IcmpError {
        /// Port unreachable or administratively prohibited: the quoted
        /// probe hit a closed or rejecting port.
        closed: bool,
        q_src: IpAddr,
        q_dst: IpAddr,
        q_proto: u8,
        q_dport: u16,
    },
    /// ICMPv6 neighbour solicitation for `target`.
    NeighborSolicit {
        target: Ipv6Addr,
    },
    /// ARP (`request` = who-has).
    Arp {
        request: bool,
        sender: Ipv4Addr,
        target: Ipv4Addr,
    },
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tcp {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub opts: Opts,
    pub payload: usize,
}

/// The TCP options a fingerprint looks at, read laxly (a malformed list
/// stops the walk and sets `odd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Opts {
    pub mss: Option<u16>,
    pub wscale: bool,
    pub sack: bool,
    pub ts: bool,
    /// Any other option kind, or a malformed list.
    pub odd: bool,
}

impl Opts {
    pub fn is_empty(&self) -> bool {
        self.mss.is_none() && !self.wscale && !self.sack && !self.ts && !self.odd
    }

    /// Exactly one option, MSS.
    pub fn mss_only(&self) -> Option<u16> {
        if !self.wscale && !self.sack && !self.ts && !self.odd {
            self.mss
        } else {
            None
        }
    }

    fn read(bytes: &[u8]) -> Opts {
        let mut o = Opts::default();
        let mut i = 0;
        while let Some(&kind) = bytes.get(i) {
            match kind {
                tcp::option::END => break,
                tcp::option::NOP => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let len = match bytes.get(i + 1) {
                Some(&l) if l >= 2 => usize::from(l),
                _ => {
                    o.odd = true;
                    break;
                }
            };
            let Some(body) = bytes.get(i + 2..i + len) else {
                o.odd = true;
                break;
            };
            match (kind, body.len()) {
                (tcp::option::MSS, 2) => o.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                (tcp::option::WINDOW_SCALE, 1) => o.wscale = true,
                (tcp::option::SACK_PERMITTED, 0) => o.sack = true,
                (tcp::option::TIMESTAMP, 8) => o.ts = true,
                _ => o.odd = true,
            }
            i += len;
        }
        o
    }

    /// A short human description ("MSS 1460 only", "no options",
    /// "MSS,SACK,TS,WS").
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "no options".into();
        }
        if let Some(m) = self.mss_only() {
            return format!("MSS {m} only");
        }
        let mut parts = Vec::new();
        if self.mss.is_some() {
            parts.push("MSS");
        }
        if self.sack {
            parts.push("SACK");
        }
        if self.ts {
            parts.push("TS");
        }
        if self.wscale {
            parts.push("WS");
        }
        if self.odd {
            parts.push("other");
        }
        parts.join(",")
    }
}

/// What a frame carries: a packet to read now, or nothing.
pub(crate) fn parse(now: Duration, frame: &Frame<'_>, frags: &mut Frags) -> Option<Pkt> {
    match frame.link {
        Link::Ip => ip(now, frame.bytes, frags),
        Link::Ethernet => {
            let eth = ethernet::Frame::new_checked(frame.bytes).ok()?;
            let mut ty = eth.ethertype();
            let mut payload = eth.payload();
            // Up to two VLAN tags (802.1Q, QinQ).
            for _ in 0..2 {
                if ty == EtherType::VLAN || ty.0 == 0x88a8 {
                    let tag = payload.get(..4)?;
                    ty = EtherType(u16::from_be_bytes([tag[2], tag[3]]));
                    payload = payload.get(4..)?;
                }
            }
            match ty {
                EtherType::IPV4 | EtherType::IPV6 => ip(now, payload, frags),
                EtherType::ARP => arp_packet(payload),
                _ => None,
            }
        }
    }
}

fn arp_packet(b: &[u8]) -> Option<Pkt> {
    let p = arp::Packet::new_checked(b).ok()?;
    let r = arp::ArpRepr::parse(&p).ok()?;
    Some(Pkt {
        src: IpAddr::V4(r.sender_ip),
        dst: IpAddr::V4(r.target_ip),
        ttl: 0,
        ip_id: None,
        df: false,
        body: Body::Arp {
            request: r.operation == arp::op::REQUEST,
            sender: r.sender_ip,
            target: r.target_ip,
        },
    })
}

fn ip(now: Duration, b: &[u8], frags: &mut Frags) -> Option<Pkt> {
    match b.first()? >> 4 {
        4 => v4(now, b, frags),
        6 => v6(b),
        _ => None,
    }
}

fn v4(now: Duration, b: &[u8], frags: &mut Frags) -> Option<Pkt> {
    let p = ipv4::Packet::new_checked(b).ok()?;
    let (src, dst) = (p.src_addr(), p.dst_addr());
    let proto = p.protocol();
    let mut pkt = Pkt {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ttl: p.ttl(),
        ip_id: Some(p.ident()),
        df: p.dont_frag(),
        body: Body::Other,
    };
    let payload = p.payload();
    if p.more_frags() || p.frag_offset() != 0 {
        // A fragment: only TCP headers split by `-f` are put back together
        // (see `frag`); other fragments are not read.
        if proto != ip_proto::TCP {
            return None;
        }
        let key = (src, dst, p.ident());
        let head = frags.add(now, key, p.frag_offset(), p.more_frags(), payload)?;
        pkt.body = Body::Tcp(tcp_header(&head, 0)?);
        return Some(pkt);
    }
    pkt.body = transport(proto, payload, false)?;
    Some(pkt)
}

fn v6(b: &[u8]) -> Option<Pkt> {
    let p = ipv6::Packet::new_checked(b).ok()?;
    let bytes = &b[..ipv6::HEADER_LEN + usize::from(p.payload_len())];
    let upper = ipv6::upper_layer(bytes)?;
    let body = if upper.frag_offset != 0 || upper.more_frags {
        // Fragmented IPv6 probes are not read (only the first fragment
        // holds the header, and nmap's -f is IPv4's).
        Body::Other
    } else {
        transport(upper.protocol, bytes.get(upper.offset..)?, true)?
    };
    Some(Pkt {
        src: IpAddr::V6(p.src_addr()),
        dst: IpAddr::V6(p.dst_addr()),
        ttl: p.hop_limit(),
        ip_id: None,
        df: false,
        body,
    })
}

/// A TCP header from `b` (the whole segment, or a reassembled header with
/// `payload` bytes known to follow).
fn tcp_header(b: &[u8], payload: usize) -> Option<Tcp> {
    let t = tcp::Packet::new_checked(b).ok()?;
    Some(Tcp {
        sport: t.src_port(),
        dport: t.dst_port(),
        seq: t.seq_number(),
        ack: t.ack_number(),
        flags: t.flags(),
        window: t.window_len(),
        opts: Opts::read(t.options()),
        payload: payload.max(t.payload().len()),
    })
}

fn transport(proto: u8, b: &[u8], v6: bool) -> Option<Body> {
    Some(match proto {
        ip_proto::TCP => Body::Tcp(tcp_header(b, 0)?),
        ip_proto::UDP => {
            let u = udp::Packet::new_checked(b).ok()?;
            Body::Udp {
                sport: u.src_port(),
                dport: u.dst_port(),
            }
        }
        ip_proto::ICMP if !v6 => {
            let c = icmpv4::Packet::new_checked(b).ok()?;
            match c.msg_type() {
                icmpv4::ECHO_REQUEST
                | icmpv4::TIMESTAMP
                | icmpv4::ADDRESS_MASK_REQUEST
                | icmpv4::ECHO_REPLY
                | icmpv4::TIMESTAMP_REPLY
                | icmpv4::ADDRESS_MASK_REPLY => Body::IcmpQuery {
                    ty: c.msg_type(),
                    reply: matches!(
                        c.msg_type(),
                        icmpv4::ECHO_REPLY | icmpv4::TIMESTAMP_REPLY | icmpv4::ADDRESS_MASK_REPLY
                    ),
                    ident: c.echo_ident(),
                    seq: c.echo_seq(),
                },
                icmpv4::DEST_UNREACH => {
                    let closed = matches!(
                        c.code(),
                        icmpv4::unreach::PORT_UNREACH
                            | icmpv4::unreach::ADMIN_PROHIBITED
                            | icmpv4::unreach::HOST_PROHIBITED
                            | icmpv4::unreach::NET_PROHIBITED
                    );
                    quoted_v4(c.data(), closed).unwrap_or(Body::Other)
                }
                _ => Body::Other,
            }
        }
        ip_proto::ICMPV6 if v6 => {
            let c = icmpv6::Packet::new_checked(b).ok()?;
            match c.msg_type() {
                icmpv6::ECHO_REQUEST | icmpv6::ECHO_REPLY => Body::IcmpQuery {
                    ty: c.msg_type(),
                    reply: c.msg_type() == icmpv6::ECHO_REPLY,
                    ident: c.echo_ident(),
                    seq: c.echo_seq(),
                },
                icmpv6::NEIGHBOR_SOLICIT => {
                    let t = b.get(8..24)?;
                    let mut a = [0u8; 16];
                    a.copy_from_slice(t);
                    Body::NeighborSolicit {
                        target: Ipv6Addr::from(a),
                    }
                }
                icmpv6::DST_UNREACH => {
                    let closed = matches!(
                        c.code(),
                        icmpv6::unreach::PORT_UNREACH
                            | icmpv6::unreach::ADMIN_PROHIBITED
                            | icmpv6::unreach::FAILED_POLICY
                            | icmpv6::unreach::REJECT_ROUTE
                    );
                    quoted_v6(c.data(), closed).unwrap_or(Body::Other)
                }
                _ => Body::Other,
            }
        }
        _ => Body::Other,
    })
}

fn word(b: &[u8], at: usize) -> Option<u16> {
    let w = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([w[0], w[1]]))
}

fn quoted_v4(q: &[u8], closed: bool) -> Option<Body> {
    if q.len() < 20 || q[0] >> 4 != 4 {
        return None;
    }
    let hl = usize::from(q[0] & 0x0f) * 4;
    let t = q.get(hl..)?;
    if hl < 20 {
        return None;
    }
    Some(Body::IcmpError {
        closed,
        q_src: IpAddr::V4(Ipv4Addr::new(q[12], q[13], q[14], q[15])),
        q_dst: IpAddr::V4(Ipv4Addr::new(q[16], q[17], q[18], q[19])),
        q_proto: q[9],
        q_dport: word(t, 2)?,
    })
}

fn quoted_v6(q: &[u8], closed: bool) -> Option<Body> {
    if q.len() < ipv6::HEADER_LEN || q[0] >> 4 != 6 {
        return None;
    }
    let upper = ipv6::upper_layer(q)?;
    let t = q.get(upper.offset..)?;
    let mut s = [0u8; 16];
    let mut d = [0u8; 16];
    s.copy_from_slice(q.get(8..24)?);
    d.copy_from_slice(q.get(24..40)?);
    Some(Body::IcmpError {
        closed,
        q_src: IpAddr::V6(Ipv6Addr::from(s)),
        q_dst: IpAddr::V6(Ipv6Addr::from(d)),
        q_proto: upper.protocol,
        q_dport: word(t, 2)?,
    })
}
