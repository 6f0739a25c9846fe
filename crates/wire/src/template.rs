//! The send hot path: probe templates stamped per packet.
//!
//! A template holds the IP + transport header bytes with every per-probe
//! field zeroed, and the partial checksums of those bytes (for TCP/UDP also
//! of the pseudo-header with the destination left out). Stamping copies the
//! bytes, writes the per-probe fields and adds just those fields to the
//! stored partial sums — an RFC 1624 update from zero — instead of
//! summing the packet again. No allocation.

use crate::ipv4::{self, Ipv4Repr};
use crate::ipv6::{self, Ipv6Repr};
use crate::tcp::{self, TcpFlags, TcpRepr};
use crate::{checksum, ip_proto, put16, put32, udp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Largest header a TCP template can hold: IPv6 + TCP + 20 option bytes.
const TCP_MAX: usize = ipv6::HEADER_LEN + tcp::HEADER_LEN + 20;

/// Sum of the 16-bit words of an address.
fn addr_sum(a: &IpAddr) -> u32 {
    match a {
        IpAddr::V4(a) => checksum::sum(&a.octets(), 0),
        IpAddr::V6(a) => checksum::sum(&a.octets(), 0),
    }
}

/// A TCP probe (IPv4 or IPv6 header + TCP header with options, no payload)
/// built once per source address, flags, window, options and TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpTemplate {
    bytes: [u8; TCP_MAX],
    len: usize,
    /// Offset of the TCP header (20 or 40).
    l4: usize,
    v6: bool,
    /// IPv4 header partial sum with ident, destination and checksum zero.
    ip_base: u32,
    /// Pseudo-header without destination + TCP header with ports, seq, ack
    /// and checksum zero.
    tcp_base: u32,
}

impl TcpTemplate {
    /// A template whose only option is MSS (when given), like nmap's SYN.
    pub fn new(
        src: IpAddr,
        flags: TcpFlags,
        window: u16,
        mss: Option<u16>,
        ttl: u8,
    ) -> TcpTemplate {
        let repr = TcpRepr {
            flags,
            window,
            mss,
            ..TcpRepr::default()
        };
        Self::from_repr(src, &repr, ttl)
    }

    /// A template with the flags, window, urgent pointer and options of
    /// `repr` (window scale, SACK-permitted, timestamps too). Its ports,
    /// seq, ack and payload length are ignored: `stamp` supplies the first
    /// four and a template carries no payload.
    pub fn from_repr(src: IpAddr, repr: &TcpRepr, ttl: u8) -> TcpTemplate {
        let tcp_repr = TcpRepr {
            src_port: 0,
            dst_port: 0,
            seq: 0,
            ack: 0,
            payload_len: 0,
            ..*repr
        };
        let tcp_len = tcp_repr.header_len();
        let mut bytes = [0u8; TCP_MAX];
        let (l4, v6, unspecified) = match src {
            IpAddr::V4(s) => {
                let ip = Ipv4Repr {
                    src: s,
                    dst: Ipv4Addr::UNSPECIFIED,
                    protocol: ip_proto::TCP,
                    ttl,
                    ident: 0,
                    payload_len: tcp_len,
                    dont_frag: false,
                };
                ip.emit(&mut ipv4::Packet::new_unchecked(&mut bytes[..]));
                (ipv4::HEADER_LEN, false, IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            }
            IpAddr::V6(s) => {
                let ip = Ipv6Repr {
                    src: s,
                    dst: Ipv6Addr::UNSPECIFIED,
                    next_header: ip_proto::TCP,
                    hop_limit: ttl,
                    payload_len: tcp_len,
                };
                ip.emit(&mut ipv6::Packet::new_unchecked(&mut bytes[..]));
                (ipv6::HEADER_LEN, true, IpAddr::V6(Ipv6Addr::UNSPECIFIED))
            }
        };
        let len = l4 + tcp_len;
        {
            let mut seg = tcp::Packet::new_unchecked(&mut bytes[l4..len]);
            tcp_repr.emit(&mut seg, &src, &unspecified);
            seg.set_checksum(0);
        }
        let ip_base = if v6 {
            0
        } else {
            put16(&mut bytes, 10, 0);
            checksum::sum(&bytes[..l4], 0)
        };
        let pseudo = match src {
            IpAddr::V4(s) => {
                checksum::pseudo_v4(s, Ipv4Addr::UNSPECIFIED, ip_proto::TCP, tcp_len as u16)
            }
            IpAddr::V6(s) => {
                checksum::pseudo_v6(&s, &Ipv6Addr::UNSPECIFIED, ip_proto::TCP, tcp_len as u32)
            }
        };
        let tcp_base = checksum::sum(&bytes[l4..len], pseudo);
        TcpTemplate {
            bytes,
            len,
            l4,
            v6,
            ip_base,
            tcp_base,
        }
    }

    /// Length of every packet this template stamps.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the template builds IPv6 packets.
    pub fn is_ipv6(&self) -> bool {
        self.v6
    }

    /// The header bytes with per-probe fields zeroed (checksums included).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Writes one complete probe into `buf[..self.len()]` and returns
    /// `self.len()`: the IP header (with its checksum for IPv4; `ident` is
    /// ignored for IPv6) and the TCP header with its checksum.
    ///
    /// Returns 0 and writes nothing if `dst` is not of the template's
    /// address family.
    ///
    /// # Panics
    /// If `buf` is shorter than [`len`](Self::len).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn stamp(
        &self,
        buf: &mut [u8],
        dst: IpAddr,
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        ident: u16,
    ) -> usize {
        if dst.is_ipv6() != self.v6 {
            return 0;
        }
        let out = &mut buf[..self.len];
        out.copy_from_slice(&self.bytes[..self.len]);
        let dsum = addr_sum(&dst);
        match dst {
            IpAddr::V4(d) => {
                out[16..20].copy_from_slice(&d.octets());
                put16(out, 4, ident);
                put16(
                    out,
                    10,
                    checksum::finish(self.ip_base + dsum + u32::from(ident)),
                );
            }
            IpAddr::V6(d) => out[24..40].copy_from_slice(&d.octets()),
        }
        let l4 = self.l4;
        put16(out, l4, sport);
        put16(out, l4 + 2, dport);
        put32(out, l4 + 4, seq);
        put32(out, l4 + 8, ack);
        let s = self.tcp_base
            + dsum
            + u32::from(sport)
            + u32::from(dport)
            + (seq >> 16)
            + (seq & 0xffff)
            + (ack >> 16)
            + (ack & 0xffff);
        put16(out, l4 + 16, checksum::finish(s));
        self.len
    }
}

/// A UDP probe (IPv4 or IPv6 header + UDP header) with a payload given per
/// probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpTemplate {
    bytes: [u8; ipv6::HEADER_LEN + udp::HEADER_LEN],
    /// Offset of the UDP header (20 or 40).
    l4: usize,
    v6: bool,
    /// IPv4 header partial sum with total length, ident, destination and
    /// checksum zero.
    ip_base: u32,
    /// Pseudo-header without destination and length + UDP header with
    /// ports, length and checksum zero.
    udp_base: u32,
}

impl UdpTemplate {
    pub fn new(src: IpAddr, ttl: u8) -> UdpTemplate {
        let mut bytes = [0u8; ipv6::HEADER_LEN + udp::HEADER_LEN];
        let (l4, v6) = match src {
            IpAddr::V4(s) => {
                let ip = Ipv4Repr {
                    src: s,
                    dst: Ipv4Addr::UNSPECIFIED,
                    protocol: ip_proto::UDP,
                    ttl,
                    ident: 0,
                    payload_len: 0,
                    dont_frag: false,
                };
                let mut p = ipv4::Packet::new_unchecked(&mut bytes[..]);
                ip.emit(&mut p);
                p.set_total_len(0);
                p.set_checksum(0);
                (ipv4::HEADER_LEN, false)
            }
            IpAddr::V6(s) => {
                let ip = Ipv6Repr {
                    src: s,
                    dst: Ipv6Addr::UNSPECIFIED,
                    next_header: ip_proto::UDP,
                    hop_limit: ttl,
                    payload_len: 0,
                };
                ip.emit(&mut ipv6::Packet::new_unchecked(&mut bytes[..]));
                (ipv6::HEADER_LEN, true)
            }
        };
        let ip_base = if v6 {
            0
        } else {
            checksum::sum(&bytes[..l4], 0)
        };
        // Source address + protocol; the UDP header itself is all zero.
        let udp_base = addr_sum(&src) + u32::from(ip_proto::UDP);
        UdpTemplate {
            bytes,
            l4,
            v6,
            ip_base,
            udp_base,
        }
    }

    /// Length of the IP + UDP headers; a stamped packet is this plus the
    /// payload.
    pub fn header_len(&self) -> usize {
        self.l4 + udp::HEADER_LEN
    }

    /// Whether the template builds IPv6 packets.
    pub fn is_ipv6(&self) -> bool {
        self.v6
    }

    /// Writes one complete probe — IP header (with its checksum for IPv4;
    /// `ident` is ignored for IPv6), UDP header with checksum, `payload` —
    /// into `buf` and returns its length, `header_len() + payload.len()`.
    ///
    /// Returns 0 and writes nothing if `dst` is not of the template's
    /// family or the payload does not fit in one datagram.
    ///
    /// # Panics
    /// If `buf` is shorter than `header_len() + payload.len()`.
    pub fn stamp(
        &self,
        buf: &mut [u8],
        dst: IpAddr,
        sport: u16,
        dport: u16,
        ident: u16,
        payload: &[u8],
    ) -> usize {
        if dst.is_ipv6() != self.v6 {
            return 0;
        }
        let hl = self.header_len();
        let total = hl + payload.len();
        let Ok(total16) = u16::try_from(total) else {
            return 0;
        };
        let ulen = (udp::HEADER_LEN + payload.len()) as u16;
        let out = &mut buf[..total];
        out[..hl].copy_from_slice(&self.bytes[..hl]);
        out[hl..].copy_from_slice(payload);
        let dsum = addr_sum(&dst);
        match dst {
            IpAddr::V4(d) => {
                out[16..20].copy_from_slice(&d.octets());
                put16(out, 2, total16);
                put16(out, 4, ident);
                let s = self.ip_base + dsum + u32::from(total16) + u32::from(ident);
                put16(out, 10, checksum::finish(s));
            }
            IpAddr::V6(d) => {
                put16(out, 4, ulen);
                out[24..40].copy_from_slice(&d.octets());
            }
        }
        let l4 = self.l4;
        put16(out, l4, sport);
        put16(out, l4 + 2, dport);
        put16(out, l4 + 4, ulen);
        // The length counts twice: pseudo-header and UDP header.
        let s = self.udp_base + dsum + 2 * u32::from(ulen) + u32::from(sport) + u32::from(dport);
        let c = checksum::finish(checksum::sum(payload, s));
        put16(out, l4 + 6, if c == 0 { 0xffff } else { c });
        total
    }
}
