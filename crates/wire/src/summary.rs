//! The receive hot path: everything the scan logic needs from one captured
//! L3 packet, read in one pass, without allocation and without panicking.
//!
//! Checksums are *not* verified: on loopback and veth the kernel hands out
//! packets with offloaded, partial checksums. Replies are authenticated by
//! the scan's stateless cookies instead.

use crate::{be16, be32, icmpv4, icmpv6, ip_proto, ipv6, TcpFlags};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One received packet, boiled down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Summary {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    pub body: Body,
}

/// What the packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        window: u16,
    },
    /// `payload_offset` counts from the start of the L3 packet given to
    /// [`summarize`]; `payload_len` is what the UDP length announces, cut to
    /// what is present.
    Udp {
        sport: u16,
        dport: u16,
        payload_offset: usize,
        payload_len: usize,
    },
    /// An ICMP or ICMPv6 error with the datagram it quotes.
    IcmpError {
        v6: bool,
        icmp_type: u8,
        code: u8,
        quoted: Quoted,
    },
    /// Echo request (`reply == false`) or echo reply.
    IcmpEcho {
        v6: bool,
        reply: bool,
        ident: u16,
        seq: u16,
    },
    /// Anything else: other protocols, other ICMP types, non-first
    /// fragments, ICMP errors whose quote cannot be read. `protocol` is the
    /// IP protocol (after IPv6 extension headers).
    Other { protocol: u8 },
}

/// The start of the datagram an ICMP error quotes: the probe we sent.
///
/// `sport` and `dport` are the first two 16-bit words of the quoted
/// transport header (the ports for TCP, UDP and SCTP); for a quoted ICMP or
/// ICMPv6 message they are its identifier and sequence number instead.
/// Words that were not quoted read as 0. `seq` is the TCP sequence number
/// when the protocol is TCP and its 8 first bytes are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub sport: u16,
    pub dport: u16,
    pub seq: Option<u32>,
}

/// Reads an L3 packet (starting at its IPv4 or IPv6 header; the version
/// nibble tells which).
///
/// Returns `None` if it is neither, if its IP header is cut short or
/// inconsistent (IPv4 header length below 20 or past the buffer), if an
/// IPv6 extension header runs past the end, or if the TCP, UDP or ICMP
/// header is cut short. The IP length fields are trusted only to trim
/// trailing padding; a zero length field (segmentation offload) means "the
/// whole buffer".
pub fn summarize(packet: &[u8]) -> Option<Summary> {
    match packet.first()? >> 4 {
        4 => summarize_v4(packet),
        6 => summarize_v6(packet),
        _ => None,
    }
}

fn v4_addr(b: &[u8], at: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3]))
}

fn v6_addr(b: &[u8], at: usize) -> IpAddr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    IpAddr::V6(Ipv6Addr::from(a))
}

/// Where the IP datagram ends: the announced length if it is nonzero and
/// fits, else the buffer's end.
fn datagram_end(announced: usize, available: usize) -> usize {
    if announced == 0 {
        available
    } else {
        announced.min(available)
    }
}

fn summarize_v4(p: &[u8]) -> Option<Summary> {
    if p.len() < 20 {
        return None;
    }
    let hl = usize::from(p[0] & 0x0f) * 4;
    if hl < 20 || hl > p.len() {
        return None;
    }
    let end = datagram_end(usize::from(be16(p, 2)), p.len());
    if end < hl {
        return None;
    }
    let protocol = p[9];
    let body = if be16(p, 6) & 0x1fff != 0 {
        Body::Other { protocol }
    } else {
        transport(&p[..end], hl, protocol, false)?
    };
    Some(Summary {
        src: v4_addr(p, 12),
        dst: v4_addr(p, 16),
        ttl: p[8],
        body,
    })
}

fn summarize_v6(p: &[u8]) -> Option<Summary> {
    if p.len() < ipv6::HEADER_LEN {
        return None;
    }
    let announced = match be16(p, 4) {
        0 => 0, // jumbogram or offload: take the buffer
        n => ipv6::HEADER_LEN + usize::from(n),
    };
    let end = datagram_end(announced, p.len());
    let p = &p[..end];
    let upper = ipv6::upper_layer(p)?;
    let body = if upper.frag_offset != 0 {
        Body::Other {
            protocol: upper.protocol,
        }
    } else {
        transport(p, upper.offset, upper.protocol, true)?
    };
    Some(Summary {
        src: v6_addr(p, 8),
        dst: v6_addr(p, 24),
        ttl: p[7],
        body,
    })
}

/// Reads the transport header at `off` in the datagram `d`.
fn transport(d: &[u8], off: usize, protocol: u8, v6: bool) -> Option<Body> {
    let t = d.get(off..)?;
    match protocol {
        ip_proto::TCP => {
            if t.len() < 20 {
                return None;
            }
            Some(Body::Tcp {
                sport: be16(t, 0),
                dport: be16(t, 2),
                seq: be32(t, 4),
                ack: be32(t, 8),
                flags: TcpFlags(be16(t, 12) & 0x1ff),
                window: be16(t, 14),
            })
        }
        ip_proto::UDP => {
            if t.len() < 8 {
                return None;
            }
            let ulen = usize::from(be16(t, 4));
            if ulen < 8 {
                return None;
            }
            Some(Body::Udp {
                sport: be16(t, 0),
                dport: be16(t, 2),
                payload_offset: off + 8,
                payload_len: ulen.min(t.len()) - 8,
            })
        }
        ip_proto::ICMP if !v6 => {
            if t.len() < 8 {
                return None;
            }
            let (icmp_type, code) = (t[0], t[1]);
            Some(match icmp_type {
                icmpv4::ECHO_REPLY | icmpv4::ECHO_REQUEST => Body::IcmpEcho {
                    v6: false,
                    reply: icmp_type == icmpv4::ECHO_REPLY,
                    ident: be16(t, 4),
                    seq: be16(t, 6),
                },
                icmpv4::DEST_UNREACH
                | icmpv4::SOURCE_QUENCH
                | icmpv4::TIME_EXCEEDED
                | icmpv4::PARAM_PROBLEM => match quote_v4(&t[8..]) {
                    Some(quoted) => Body::IcmpError {
                        v6: false,
                        icmp_type,
                        code,
                        quoted,
                    },
                    None => Body::Other { protocol },
                },
                _ => Body::Other { protocol },
            })
        }
        ip_proto::ICMPV6 if v6 => {
            if t.len() < 8 {
                return None;
            }
            let (icmp_type, code) = (t[0], t[1]);
            Some(match icmp_type {
                icmpv6::ECHO_REQUEST | icmpv6::ECHO_REPLY => Body::IcmpEcho {
                    v6: true,
                    reply: icmp_type == icmpv6::ECHO_REPLY,
                    ident: be16(t, 4),
                    seq: be16(t, 6),
                },
                icmpv6::DST_UNREACH..=icmpv6::PARAM_PROBLEM => match quote_v6(&t[8..]) {
                    Some(quoted) => Body::IcmpError {
                        v6: true,
                        icmp_type,
                        code,
                        quoted,
                    },
                    None => Body::Other { protocol },
                },
                _ => Body::Other { protocol },
            })
        }
        _ => Some(Body::Other { protocol }),
    }
}

/// Reads a quoted IPv4 datagram laxly: its header must be present and
/// self-consistent, its total length and checksum are ignored.
fn quote_v4(q: &[u8]) -> Option<Quoted> {
    if q.len() < 20 || q[0] >> 4 != 4 {
        return None;
    }
    let hl = usize::from(q[0] & 0x0f) * 4;
    if hl < 20 || hl > q.len() || be16(q, 6) & 0x1fff != 0 {
        return None;
    }
    let protocol = q[9];
    Some(quoted_transport(
        v4_addr(q, 12),
        v4_addr(q, 16),
        protocol,
        &q[hl..],
    ))
}

/// Reads a quoted IPv6 packet laxly, skipping extension headers; its payload
/// length is ignored.
fn quote_v6(q: &[u8]) -> Option<Quoted> {
    if q.len() < ipv6::HEADER_LEN || q[0] >> 4 != 6 {
        return None;
    }
    let upper = ipv6::upper_layer(q)?;
    if upper.frag_offset != 0 {
        return None;
    }
    Some(quoted_transport(
        v6_addr(q, 8),
        v6_addr(q, 24),
        upper.protocol,
        &q[upper.offset..],
    ))
}

fn quoted_transport(src: IpAddr, dst: IpAddr, protocol: u8, t: &[u8]) -> Quoted {
    let word = |at: usize| {
        t.get(at..at + 2)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    };
    let (sport, dport) = match protocol {
        ip_proto::ICMP | ip_proto::ICMPV6 => (word(4), word(6)),
        _ => (word(0), word(2)),
    };
    let seq = match protocol {
        ip_proto::TCP => t.get(4..8).map(|b| be32(b, 0)),
        _ => None,
    };
    Quoted {
        src,
        dst,
        protocol,
        sport,
        dport,
        seq,
    }
}
