//! One line of text per packet, in the shape nmap's `--packet-trace` gives
//! them (the part after `SENT (0.0123s) `):
//!
//! ```text
//! TCP 198.18.0.1:41234 > 198.18.0.2:80 S ttl=64 id=1234 iplen=44  seq=3456 win=1024 <mss 1460>
//! TCP fd00::1:41234 > fd00::2:80 S hopl=64 flow=0 payloadlen=24 seq=3456 win=1024 <mss 1460>
//! UDP 198.18.0.1:41234 > 198.18.0.2:53 ttl=64 id=7 iplen=28
//! ICMP [198.18.0.1 > 198.18.0.2 Echo request (type=8/code=0) id=1234 seq=0] IP [ttl=64 id=7 iplen=28 ]
//! ICMPv6 (58) fd00::1 > ff02::1:ff00:2 Neighbor solicitation (type=135/code=0) who-has fd00::2 hopl=255 flow=0 payloadlen=32
//! ARP who-has 198.18.0.2 tell 198.18.0.1
//! ARP reply 198.18.0.2 is-at 02:00:00:00:00:02
//! ```
//!
//! As in nmap, IPv6 addresses are printed bare (`fd00::1:41234` is port
//! 41234 of `fd00::1`; the port is what follows the last colon), IPv4
//! details end with a space, and TCP flags are written in nmap's order
//! (`S F R P A U E C`: a SYN-ACK is `SA`, a reset-ack `RA`). ICMP and
//! ICMPv6 errors name the datagram they quote, and ND messages their
//! target (nmap prints neither).
//!
//! Both functions read any bytes without panicking: what cannot be read is
//! named with its protocol number and length. Nothing is allocated beyond
//! the growth of the `String` handed in.

use core::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::{icmpv4, icmpv6, ip_proto, ipv6};

/// Appends the description of an L3 packet (starting at its IPv4 or IPv6
/// header; the version nibble tells which) to `out`.
pub fn describe_ip(packet: &[u8], out: &mut String) {
    match packet.first().map(|b| b >> 4) {
        Some(4) => v4(packet, out),
        Some(6) => v6(packet, out),
        Some(v) => w(out, format_args!("IP version {v} ({} bytes)", packet.len())),
        None => out.push_str("empty packet"),
    }
}

/// Appends the description of an Ethernet frame (ARP, or the IP packet it
/// carries) to `out`.
pub fn describe_frame(frame: &[u8], out: &mut String) {
    let Some(ethertype) = be16(frame, 12) else {
        w(out, format_args!("Ethernet frame ({} bytes)", frame.len()));
        return;
    };
    let payload = &frame[14..];
    match ethertype {
        0x0800 | 0x86dd => describe_ip(payload, out),
        0x0806 => arp(payload, out),
        t => {
            w(out, format_args!("Ethernet type 0x{t:04x} "));
            mac(out, &frame[6..12]);
            out.push_str(" > ");
            mac(out, &frame[..6]);
            w(out, format_args!(" ({} bytes)", frame.len()));
        }
    }
}

fn w(out: &mut String, args: core::fmt::Arguments<'_>) {
    // Writing to a String cannot fail.
    let _ = out.write_fmt(args);
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn addr4(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(Ipv4Addr::new(s[0], s[1], s[2], s[3]))
}

fn addr6(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s = b.get(at..at.checked_add(16)?)?;
    let mut a = [0u8; 16];
    a.copy_from_slice(s);
    Some(Ipv6Addr::from(a))
}

/// `AA:BB:CC:DD:EE:FF`, as nmap prints ARP replies.
fn mac(out: &mut String, m: &[u8]) {
    for (i, b) in m.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        w(out, format_args!("{b:02X}"));
    }
}

/// Where the datagram ends: its announced length when nonzero and present,
/// else the buffer's end (segmentation offload leaves the field zero).
fn end_of(announced: usize, available: usize) -> usize {
    if announced == 0 {
        available
    } else {
        announced.min(available)
    }
}

/// The addresses of one packet, either family.
#[derive(Clone, Copy)]
enum Addrs {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

impl Addrs {
    fn src(&self, out: &mut String) {
        match self {
            Addrs::V4(s, _) => w(out, format_args!("{s}")),
            Addrs::V6(s, _) => w(out, format_args!("{s}")),
        }
    }

    fn dst(&self, out: &mut String) {
        match self {
            Addrs::V4(_, d) => w(out, format_args!("{d}")),
            Addrs::V6(_, d) => w(out, format_args!("{d}")),
        }
    }

    /// `src > dst`
    fn both(&self, out: &mut String) {
        self.src(out);
        out.push_str(" > ");
        self.dst(out);
    }

    /// `src:sport > dst:dport`
    fn ports(&self, out: &mut String, sport: u16, dport: u16) {
        self.src(out);
        w(out, format_args!(":{sport} > "));
        self.dst(out);
        w(out, format_args!(":{dport}"));
    }
}

/// The IP layer's details, nmap's way: `ttl=64 id=7 iplen=44 ` (with its
/// trailing space) or `hopl=64 flow=0 payloadlen=24`.
#[derive(Clone, Copy)]
enum IpInfo {
    V4 {
        ttl: u8,
        id: u16,
        len: u16,
        /// Fragment offset in bytes and the MF flag.
        frag: (u16, bool),
    },
    V6 {
        hopl: u8,
        flow: u32,
        len: u16,
    },
}

impl IpInfo {
    fn write(&self, out: &mut String) {
        match *self {
            IpInfo::V4 {
                ttl,
                id,
                len,
                frag: (off, mf),
            } => {
                w(out, format_args!("ttl={ttl} id={id} iplen={len} "));
                if off != 0 || mf {
                    w(
                        out,
                        format_args!("frag offset={off}{} ", if mf { "+" } else { "" }),
                    );
                }
            }
            IpInfo::V6 { hopl, flow, len } => w(
                out,
                format_args!("hopl={hopl} flow={flow:x} payloadlen={len}"),
            ),
        }
    }
}

fn v4(p: &[u8], out: &mut String) {
    let (Some(len), Some(src), Some(dst)) = (be16(p, 2), addr4(p, 12), addr4(p, 16)) else {
        w(out, format_args!("IPv4 truncated ({} bytes)", p.len()));
        return;
    };
    let addrs = Addrs::V4(src, dst);
    let hl = usize::from(p[0] & 0x0f) * 4;
    let protocol = p[9];
    let frag = be16(p, 6).unwrap_or(0);
    let info = IpInfo::V4 {
        ttl: p[8],
        id: be16(p, 4).unwrap_or(0),
        len,
        frag: ((frag & 0x1fff) * 8, frag & 0x2000 != 0),
    };
    if hl < 20 || hl > p.len() {
        w(out, format_args!("IPv4 (protocol {protocol}) "));
        addrs.both(out);
        w(
            out,
            format_args!(" bad header length {hl} ({} bytes) ", p.len()),
        );
        info.write(out);
        return;
    }
    let end = end_of(usize::from(len), p.len()).max(hl);
    if frag & 0x1fff != 0 {
        w(out, format_args!("IPv4 fragment (protocol {protocol}) "));
        addrs.both(out);
        out.push(' ');
        info.write(out);
        return;
    }
    transport(&p[hl..end], protocol, addrs, info, out);
}

fn v6(p: &[u8], out: &mut String) {
    let (Some(first), Some(plen), Some(src), Some(dst)) =
        (be32(p, 0), be16(p, 4), addr6(p, 8), addr6(p, 24))
    else {
        w(out, format_args!("IPv6 truncated ({} bytes)", p.len()));
        return;
    };
    let addrs = Addrs::V6(src, dst);
    let info = IpInfo::V6 {
        hopl: p[7],
        flow: first & 0x000f_ffff,
        len: plen,
    };
    let end = match plen {
        0 => p.len(),
        n => (ipv6::HEADER_LEN + usize::from(n)).min(p.len()),
    };
    let p = &p[..end];
    let Some(upper) = ipv6::upper_layer(p) else {
        w(out, format_args!("IPv6 (next header {}) ", p[6]));
        addrs.both(out);
        out.push_str(" bad extension headers ");
        info.write(out);
        return;
    };
    if upper.frag_offset != 0 {
        w(
            out,
            format_args!("IPv6 fragment (protocol {}) ", upper.protocol),
        );
        addrs.both(out);
        w(out, format_args!(" offset={} ", upper.frag_offset));
        info.write(out);
        return;
    }
    let t = p.get(upper.offset..).unwrap_or(&[]);
    transport(t, upper.protocol, addrs, info, out);
}

/// The transport header `t` (cut to the datagram) of a packet.
fn transport(t: &[u8], protocol: u8, addrs: Addrs, info: IpInfo, out: &mut String) {
    let v6 = matches!(addrs, Addrs::V6(..));
    match protocol {
        ip_proto::TCP => tcp(t, addrs, info, out),
        ip_proto::UDP => match (be16(t, 0), be16(t, 2), t.len() >= 8) {
            (Some(sport), Some(dport), true) => {
                out.push_str("UDP ");
                addrs.ports(out, sport, dport);
                out.push(' ');
                info.write(out);
            }
            _ => truncated("UDP", t.len(), addrs, info, out),
        },
        ip_proto::ICMP if !v6 => icmp4(t, addrs, info, out),
        ip_proto::ICMPV6 if v6 => icmp6(t, addrs, info, out),
        other => {
            w(out, format_args!("Unknown protocol ({other}) "));
            addrs.both(out);
            w(out, format_args!(" ({} bytes) ", t.len()));
            info.write(out);
        }
    }
}

fn truncated(what: &str, n: usize, addrs: Addrs, info: IpInfo, out: &mut String) {
    w(out, format_args!("{what} "));
    addrs.both(out);
    w(out, format_args!(" truncated ({n} bytes) "));
    info.write(out);
}

/// nmap's letters for the flags (`SA`, `RA`).
fn flags(out: &mut String, bits: u16) {
    crate::TcpFlags(bits).push_letters(out);
}

fn tcp(t: &[u8], addrs: Addrs, info: IpInfo, out: &mut String) {
    let (Some(sport), Some(dport), Some(seq), Some(bits), Some(win)) =
        (be16(t, 0), be16(t, 2), be32(t, 4), be16(t, 12), be16(t, 14))
    else {
        // A first fragment (-f) holds the ports and maybe the sequence
        // number.
        if let (Some(sport), Some(dport)) = (be16(t, 0), be16(t, 2)) {
            out.push_str("TCP ");
            addrs.ports(out, sport, dport);
            w(out, format_args!(" truncated ({} bytes) ", t.len()));
            info.write(out);
            return;
        }
        truncated("TCP", t.len(), addrs, info, out);
        return;
    };
    if t.len() < 20 {
        truncated("TCP", t.len(), addrs, info, out);
        return;
    }
    tcp_full(t, sport, dport, seq, bits, win, addrs, info, out);
}

#[allow(clippy::too_many_arguments)]
fn tcp_full(
    t: &[u8],
    sport: u16,
    dport: u16,
    seq: u32,
    bits: u16,
    win: u16,
    addrs: Addrs,
    info: IpInfo,
    out: &mut String,
) {
    out.push_str("TCP ");
    addrs.ports(out, sport, dport);
    out.push(' ');
    flags(out, bits & 0x1ff);
    out.push(' ');
    info.write(out);
    // nmap: two spaces after IPv4's details (they end with one), one after IPv6's.
    out.push(' ');
    w(out, format_args!("seq={seq} win={win} "));
    let doff = usize::from(bits >> 12) * 4;
    if doff > 20 {
        tcp_options(t.get(20..doff.min(t.len())).unwrap_or(&[]), out);
    }
}

/// `<mss 1460,sackOK,timestamp 1 0,nop,wscale 7>`
fn tcp_options(mut o: &[u8], out: &mut String) {
    out.push('<');
    let mut first = true;
    while let Some(&kind) = o.first() {
        if !first {
            out.push(',');
        }
        first = false;
        match kind {
            0 => {
                out.push_str("eol");
                break;
            }
            1 => {
                out.push_str("nop");
                o = &o[1..];
                continue;
            }
            _ => {}
        }
        let len = usize::from(o.get(1).copied().unwrap_or(0));
        let Some(body) = (len >= 2).then(|| o.get(2..len)).flatten() else {
            out.push_str("malformed");
            break;
        };
        match (kind, body.len()) {
            (2, 2) => w(out, format_args!("mss {}", be16(body, 0).unwrap_or(0))),
            (3, 1) => w(out, format_args!("wscale {}", body[0])),
            (4, 0) => out.push_str("sackOK"),
            (5, n) => w(out, format_args!("sack {}", n / 8)),
            (8, 8) => w(
                out,
                format_args!(
                    "timestamp {} {}",
                    be32(body, 0).unwrap_or(0),
                    be32(body, 4).unwrap_or(0)
                ),
            ),
            (k, _) => w(out, format_args!("unknown-{k}")),
        }
        o = &o[len..];
    }
    out.push('>');
}

fn icmp4_name(t: u8, c: u8) -> &'static str {
    use icmpv4::unreach;
    match (t, c) {
        (icmpv4::ECHO_REPLY, _) => "Echo reply",
        (icmpv4::DEST_UNREACH, unreach::NET_UNREACH) => "Network unreachable",
        (icmpv4::DEST_UNREACH, unreach::HOST_UNREACH) => "Host unreachable",
        (icmpv4::DEST_UNREACH, unreach::PROTO_UNREACH) => "Protocol unreachable",
        (icmpv4::DEST_UNREACH, unreach::PORT_UNREACH) => "Port unreachable",
        (icmpv4::DEST_UNREACH, unreach::FRAG_NEEDED) => "Fragmentation required",
        (icmpv4::DEST_UNREACH, unreach::SRC_ROUTE_FAILED) => "Source route failed",
        (icmpv4::DEST_UNREACH, unreach::NET_UNKNOWN) => "Destination network unknown",
        (icmpv4::DEST_UNREACH, unreach::HOST_UNKNOWN) => "Destination host unknown",
        (icmpv4::DEST_UNREACH, unreach::HOST_ISOLATED) => "Source host isolated",
        (icmpv4::DEST_UNREACH, unreach::NET_PROHIBITED) => {
            "Destination network administratively prohibited"
        }
        (icmpv4::DEST_UNREACH, unreach::HOST_PROHIBITED) => {
            "Destination host administratively prohibited"
        }
        (icmpv4::DEST_UNREACH, unreach::NET_UNREACH_TOS) => "Network unreachable for TOS",
        (icmpv4::DEST_UNREACH, unreach::HOST_UNREACH_TOS) => "Host unreachable for TOS",
        (icmpv4::DEST_UNREACH, unreach::ADMIN_PROHIBITED) => {
            "Communication administratively prohibited by filtering"
        }
        (icmpv4::DEST_UNREACH, unreach::HOST_PRECEDENCE_VIOLATION) => "Host precedence violation",
        (icmpv4::DEST_UNREACH, unreach::PRECEDENCE_CUTOFF) => "Precedence cutoff in effect",
        (icmpv4::DEST_UNREACH, _) => "Destination unreachable",
        (icmpv4::SOURCE_QUENCH, _) => "Source quench",
        (icmpv4::REDIRECT, _) => "Redirect",
        (icmpv4::ECHO_REQUEST, _) => "Echo request",
        (icmpv4::ROUTER_ADVERT, _) => "Router advertisement",
        (icmpv4::ROUTER_SOLICIT, _) => "Router solicitation",
        (icmpv4::TIME_EXCEEDED, 0) => "TTL=0 during transit",
        (icmpv4::TIME_EXCEEDED, 1) => "Reassembly time exceeded",
        (icmpv4::TIME_EXCEEDED, _) => "Time exceeded",
        (icmpv4::PARAM_PROBLEM, _) => "Parameter problem",
        (icmpv4::TIMESTAMP, _) => "Timestamp request",
        (icmpv4::TIMESTAMP_REPLY, _) => "Timestamp reply",
        (icmpv4::ADDRESS_MASK_REQUEST, _) => "Address mask request",
        (icmpv4::ADDRESS_MASK_REPLY, _) => "Address mask reply",
        _ => "Unknown type",
    }
}

fn icmp4(t: &[u8], addrs: Addrs, info: IpInfo, out: &mut String) {
    out.push_str("ICMP [");
    addrs.both(out);
    let (Some(&ty), Some(&code), true) = (t.first(), t.get(1), t.len() >= 8) else {
        w(out, format_args!(" truncated ({} bytes)] IP [", t.len()));
        info.write(out);
        out.push(']');
        return;
    };
    w(
        out,
        format_args!(" {} (type={ty}/code={code}) ", icmp4_name(ty, code)),
    );
    let id = be16(t, 4).unwrap_or(0);
    let seq = be16(t, 6).unwrap_or(0);
    match ty {
        icmpv4::ECHO_REQUEST | icmpv4::ECHO_REPLY => {
            out.pop();
            w(out, format_args!(" id={id} seq={seq}"));
        }
        icmpv4::TIMESTAMP | icmpv4::TIMESTAMP_REPLY => {
            out.pop();
            w(out, format_args!(" id={id} seq={seq}"));
            if let (Some(a), Some(b), Some(c)) = (be32(t, 8), be32(t, 12), be32(t, 16)) {
                w(out, format_args!(" orig={a} recv={b} trans={c}"));
            }
        }
        _ if icmpv4::is_error(ty) => {
            out.push_str("for ");
            quoted_v4(&t[8..], out);
        }
        _ => {}
    }
    out.push_str("] IP [");
    info.write(out);
    out.push(']');
}

fn icmp6_name(t: u8, c: u8) -> &'static str {
    use icmpv6::unreach;
    match (t, c) {
        (icmpv6::DST_UNREACH, unreach::NO_ROUTE) => "No route to destination",
        (icmpv6::DST_UNREACH, unreach::ADMIN_PROHIBITED) => {
            "Communication administratively prohibited"
        }
        (icmpv6::DST_UNREACH, unreach::BEYOND_SCOPE) => "Beyond scope of source address",
        (icmpv6::DST_UNREACH, unreach::ADDR_UNREACH) => "Address unreachable",
        (icmpv6::DST_UNREACH, unreach::PORT_UNREACH) => "Port unreachable",
        (icmpv6::DST_UNREACH, unreach::FAILED_POLICY) => "Source address failed policy",
        (icmpv6::DST_UNREACH, unreach::REJECT_ROUTE) => "Reject route",
        (icmpv6::DST_UNREACH, _) => "Destination unreachable",
        (icmpv6::PACKET_TOO_BIG, _) => "Packet too big",
        (icmpv6::TIME_EXCEEDED, _) => "Time exceeded",
        (icmpv6::PARAM_PROBLEM, _) => "Parameter problem",
        (icmpv6::ECHO_REQUEST, _) => "Echo request",
        (icmpv6::ECHO_REPLY, _) => "Echo reply",
        (icmpv6::ROUTER_SOLICIT, _) => "Router solicitation",
        (icmpv6::ROUTER_ADVERT, _) => "Router advertisement",
        (icmpv6::NEIGHBOR_SOLICIT, _) => "Neighbor solicitation",
        (icmpv6::NEIGHBOR_ADVERT, _) => "Neighbor advertisement",
        (icmpv6::REDIRECT, _) => "Redirect",
        _ => "Unknown type",
    }
}

fn icmp6(t: &[u8], addrs: Addrs, info: IpInfo, out: &mut String) {
    out.push_str("ICMPv6 (58) ");
    addrs.both(out);
    let (Some(&ty), Some(&code), true) = (t.first(), t.get(1), t.len() >= 8) else {
        w(out, format_args!(" truncated ({} bytes) ", t.len()));
        info.write(out);
        return;
    };
    w(
        out,
        format_args!(" {} (type={ty}/code={code}) ", icmp6_name(ty, code)),
    );
    match ty {
        icmpv6::ECHO_REQUEST | icmpv6::ECHO_REPLY => w(
            out,
            format_args!(
                "id={} seq={} ",
                be16(t, 4).unwrap_or(0),
                be16(t, 6).unwrap_or(0)
            ),
        ),
        icmpv6::NEIGHBOR_SOLICIT | icmpv6::NEIGHBOR_ADVERT => {
            if let Some(target) = addr6(t, 8) {
                let ns = ty == icmpv6::NEIGHBOR_SOLICIT;
                if ns {
                    w(out, format_args!("who-has {target} "));
                } else {
                    w(out, format_args!("{target} "));
                }
                // The link-layer address option (source for NS, target for NA).
                if let Some(m) = nd_lladdr(t.get(24..).unwrap_or(&[]), if ns { 1 } else { 2 }) {
                    out.push_str(if ns { "from " } else { "is-at " });
                    mac(out, m);
                    out.push(' ');
                }
            }
        }
        _ if icmpv6::is_error(ty) => {
            out.push_str("for ");
            quoted_v6(&t[8..], out);
            out.push(' ');
        }
        _ => {}
    }
    info.write(out);
}

/// The 6-byte address of the first ND option of `kind`.
fn nd_lladdr(mut o: &[u8], kind: u8) -> Option<&[u8]> {
    while o.len() >= 2 {
        let len = usize::from(o[1]) * 8;
        if len == 0 || len > o.len() {
            return None;
        }
        if o[0] == kind && len >= 8 {
            return o.get(2..8);
        }
        o = &o[len..];
    }
    None
}

/// What an ICMPv4 error quotes, summarised: `UDP a:p > b:p`.
fn quoted_v4(q: &[u8], out: &mut String) {
    let (Some(src), Some(dst)) = (addr4(q, 12), addr4(q, 16)) else {
        w(
            out,
            format_args!("a truncated datagram ({} bytes)", q.len()),
        );
        return;
    };
    let hl = usize::from(q[0] & 0x0f) * 4;
    let rest = if hl >= 20 { q.get(hl..) } else { None };
    quoted_transport(q[9], Addrs::V4(src, dst), rest.unwrap_or(&[]), out);
}

fn quoted_v6(q: &[u8], out: &mut String) {
    let (Some(src), Some(dst)) = (addr6(q, 8), addr6(q, 24)) else {
        w(
            out,
            format_args!("a truncated datagram ({} bytes)", q.len()),
        );
        return;
    };
    let (protocol, rest) = match ipv6::upper_layer(q) {
        Some(u) if u.frag_offset == 0 => (u.protocol, q.get(u.offset..).unwrap_or(&[])),
        _ => (q[6], &[][..]),
    };
    quoted_transport(protocol, Addrs::V6(src, dst), rest, out);
}

fn quoted_transport(protocol: u8, addrs: Addrs, t: &[u8], out: &mut String) {
    let ports = (be16(t, 0), be16(t, 2));
    match (protocol, ports) {
        (ip_proto::TCP, (Some(s), Some(d))) => {
            out.push_str("TCP ");
            addrs.ports(out, s, d);
            if let Some(bits) = be16(t, 12) {
                out.push(' ');
                flags(out, bits & 0x1ff);
            }
        }
        (ip_proto::UDP, (Some(s), Some(d))) => {
            out.push_str("UDP ");
            addrs.ports(out, s, d);
        }
        (ip_proto::ICMP | ip_proto::ICMPV6, (Some(tc), _)) => {
            out.push_str(if protocol == ip_proto::ICMP {
                "ICMP "
            } else {
                "ICMPv6 "
            });
            addrs.both(out);
            w(out, format_args!(" (type={}/code={})", tc >> 8, tc & 0xff));
        }
        _ => {
            w(out, format_args!("protocol {protocol} "));
            addrs.both(out);
        }
    }
}

fn arp(a: &[u8], out: &mut String) {
    let (Some(htype), Some(ptype), Some(op)) = (be16(a, 0), be16(a, 2), be16(a, 6)) else {
        w(out, format_args!("ARP truncated ({} bytes)", a.len()));
        return;
    };
    if htype != 1 || ptype != 0x0800 || a[4] != 6 || a[5] != 4 || a.len() < 28 {
        w(
            out,
            format_args!(
                "ARP hardware {htype} protocol 0x{ptype:04x} op {op} ({} bytes)",
                a.len()
            ),
        );
        return;
    }
    let spa = Ipv4Addr::new(a[14], a[15], a[16], a[17]);
    let tpa = Ipv4Addr::new(a[24], a[25], a[26], a[27]);
    match op {
        1 => w(out, format_args!("ARP who-has {tpa} tell {spa}")),
        2 => {
            w(out, format_args!("ARP reply {spa} is-at "));
            mac(out, &a[8..14]);
        }
        n => w(out, format_args!("ARP op {n} {spa} > {tpa}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arp::{self, ArpRepr};
    use crate::ethernet::{EtherType, EthernetRepr, Frame, MacAddr};
    use crate::icmpv4::Icmpv4Repr;
    use crate::icmpv6::Icmpv6Repr;
    use crate::ipv4::{self, Ipv4Repr};
    use crate::ipv6::Ipv6Repr;
    use crate::ndisc;
    use crate::tcp::TcpFlags;
    use crate::template::{TcpTemplate, UdpTemplate};
    use std::net::IpAddr;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 1);
    const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 2);

    fn ip(p: &[u8]) -> String {
        let mut s = String::new();
        describe_ip(p, &mut s);
        s
    }

    fn frame(f: &[u8]) -> String {
        let mut s = String::new();
        describe_frame(f, &mut s);
        s
    }

    fn tcp_probe(src: IpAddr, dst: IpAddr, flags: TcpFlags, mss: Option<u16>) -> Vec<u8> {
        let t = TcpTemplate::new(src, flags, 1024, mss, 52);
        let mut buf = vec![0xa5; 256];
        let n = t.stamp(&mut buf, dst, 41234, 80, 3456, 0, 1234);
        buf.truncate(n);
        buf
    }

    #[test]
    fn tcp_syn_and_replies_in_nmaps_shape() {
        let syn = tcp_probe(A.into(), B.into(), TcpFlags::SYN, Some(1460));
        assert_eq!(
            ip(&syn),
            "TCP 198.18.0.1:41234 > 198.18.0.2:80 S ttl=52 id=1234 iplen=44  seq=3456 win=1024 <mss 1460>"
        );
        let sa = tcp_probe(
            B.into(),
            A.into(),
            TcpFlags::SYN | TcpFlags::ACK,
            Some(1460),
        );
        assert!(ip(&sa).starts_with("TCP 198.18.0.2:41234 > 198.18.0.1:80 SA ttl=52"));
        let ra = tcp_probe(B.into(), A.into(), TcpFlags::RST | TcpFlags::ACK, None);
        assert_eq!(
            ip(&ra),
            "TCP 198.18.0.2:41234 > 198.18.0.1:80 RA ttl=52 id=1234 iplen=40  seq=3456 win=1024 "
        );
        let xmas = tcp_probe(
            A.into(),
            B.into(),
            TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG,
            None,
        );
        assert!(ip(&xmas).contains(":80 FPU ttl="), "{}", ip(&xmas));
    }

    #[test]
    fn tcp_over_ipv6() {
        let syn = tcp_probe(A6.into(), B6.into(), TcpFlags::SYN, Some(1440));
        assert_eq!(
            ip(&syn),
            "TCP fd00:18::1:41234 > fd00:18::2:80 S hopl=52 flow=0 payloadlen=24 seq=3456 win=1024 <mss 1440>"
        );
    }

    #[test]
    fn tcp_options_are_named() {
        let mut syn = tcp_probe(A.into(), B.into(), TcpFlags::SYN, Some(1460));
        // Grow the TCP header by 8 bytes of options after the MSS.
        let opts = [1u8, 1, 4, 2, 3, 3, 7, 0];
        syn.extend_from_slice(&opts);
        syn[20 + 12] = (((20 + 4 + opts.len()) / 4) << 4) as u8;
        let total = syn.len() as u16;
        syn[2..4].copy_from_slice(&total.to_be_bytes());
        assert!(
            ip(&syn).ends_with("<mss 1460,nop,nop,sackOK,wscale 7,eol>"),
            "{}",
            ip(&syn)
        );
    }

    #[test]
    fn udp_both_families() {
        let t = UdpTemplate::new(A.into(), 64);
        let mut buf = [0u8; 256];
        let n = t.stamp(&mut buf, B.into(), 41234, 53, 7, b"abcd");
        assert_eq!(
            ip(&buf[..n]),
            "UDP 198.18.0.1:41234 > 198.18.0.2:53 ttl=64 id=7 iplen=32 "
        );
        let t = UdpTemplate::new(A6.into(), 64);
        let n = t.stamp(&mut buf, B6.into(), 41234, 53, 7, b"");
        assert_eq!(
            ip(&buf[..n]),
            "UDP fd00:18::1:41234 > fd00:18::2:53 hopl=64 flow=0 payloadlen=8"
        );
    }

    fn icmp4_packet(src: Ipv4Addr, dst: Ipv4Addr, icmp: Icmpv4Repr, data: &[u8]) -> Vec<u8> {
        let len = 20 + 8 + data.len();
        let mut buf = vec![0u8; len];
        buf[28..].copy_from_slice(data);
        let repr = Icmpv4Repr {
            data_len: data.len(),
            ..icmp
        };
        repr.emit(&mut icmpv4::Packet::new_unchecked(&mut buf[20..]));
        Ipv4Repr {
            src,
            dst,
            protocol: ip_proto::ICMP,
            ttl: 64,
            ident: 9,
            payload_len: 8 + data.len(),
            dont_frag: false,
        }
        .emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
        buf
    }

    #[test]
    fn icmp_echo_timestamp_and_errors() {
        let echo = Icmpv4Repr {
            msg_type: icmpv4::ECHO_REQUEST,
            code: 0,
            ident: 1234,
            seq: 0,
            data_len: 0,
        };
        assert_eq!(
            ip(&icmp4_packet(A, B, echo, &[])),
            "ICMP [198.18.0.1 > 198.18.0.2 Echo request (type=8/code=0) id=1234 seq=0] IP [ttl=64 id=9 iplen=28 ]"
        );
        let ts = Icmpv4Repr {
            msg_type: icmpv4::TIMESTAMP,
            ..echo
        };
        assert_eq!(
            ip(&icmp4_packet(A, B, ts, &[0; 12])),
            "ICMP [198.18.0.1 > 198.18.0.2 Timestamp request (type=13/code=0) id=1234 seq=0 orig=0 recv=0 trans=0] IP [ttl=64 id=9 iplen=40 ]"
        );
        // A port unreachable quoting our UDP probe.
        let t = UdpTemplate::new(A.into(), 64);
        let mut probe = [0u8; 64];
        let n = t.stamp(&mut probe, B.into(), 41234, 53, 7, b"");
        let unreach = Icmpv4Repr {
            msg_type: icmpv4::DEST_UNREACH,
            code: icmpv4::unreach::PORT_UNREACH,
            ident: 0,
            seq: 0,
            data_len: 0,
        };
        assert_eq!(
            ip(&icmp4_packet(B, A, unreach, &probe[..n])),
            "ICMP [198.18.0.2 > 198.18.0.1 Port unreachable (type=3/code=3) for UDP 198.18.0.1:41234 > 198.18.0.2:53] IP [ttl=64 id=9 iplen=56 ]"
        );
        // Admin prohibited quoting the first 8 bytes of a SYN.
        let syn = tcp_probe(A.into(), B.into(), TcpFlags::SYN, Some(1460));
        let admin = Icmpv4Repr {
            code: icmpv4::unreach::ADMIN_PROHIBITED,
            ..unreach
        };
        assert_eq!(
            ip(&icmp4_packet(B, A, admin, &syn[..28])),
            "ICMP [198.18.0.2 > 198.18.0.1 Communication administratively prohibited by filtering (type=3/code=13) for TCP 198.18.0.1:41234 > 198.18.0.2:80] IP [ttl=64 id=9 iplen=56 ]"
        );
    }

    fn icmp6_packet(src: Ipv6Addr, dst: Ipv6Addr, icmp: Icmpv6Repr, data: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 40 + 8 + data.len()];
        buf[48..].copy_from_slice(data);
        Icmpv6Repr {
            data_len: data.len(),
            ..icmp
        }
        .emit(
            &mut icmpv6::Packet::new_unchecked(&mut buf[40..]),
            &src,
            &dst,
        );
        Ipv6Repr {
            src,
            dst,
            next_header: ip_proto::ICMPV6,
            hop_limit: 64,
            payload_len: 8 + data.len(),
        }
        .emit(&mut ipv6::Packet::new_unchecked(&mut buf[..]));
        buf
    }

    #[test]
    fn icmpv6_echo_and_errors() {
        let echo = Icmpv6Repr {
            msg_type: icmpv6::ECHO_REQUEST,
            code: 0,
            ident: 5,
            seq: 1,
            data_len: 0,
        };
        assert_eq!(
            ip(&icmp6_packet(A6, B6, echo, &[])),
            "ICMPv6 (58) fd00:18::1 > fd00:18::2 Echo request (type=128/code=0) id=5 seq=1 hopl=64 flow=0 payloadlen=8"
        );
        let t = UdpTemplate::new(A6.into(), 64);
        let mut probe = [0u8; 64];
        let n = t.stamp(&mut probe, B6.into(), 41234, 9, 0, b"");
        let unreach = Icmpv6Repr {
            msg_type: icmpv6::DST_UNREACH,
            code: icmpv6::unreach::PORT_UNREACH,
            ident: 0,
            seq: 0,
            data_len: 0,
        };
        assert_eq!(
            ip(&icmp6_packet(B6, A6, unreach, &probe[..n])),
            "ICMPv6 (58) fd00:18::2 > fd00:18::1 Port unreachable (type=1/code=4) for UDP fd00:18::1:41234 > fd00:18::2:9 hopl=64 flow=0 payloadlen=56"
        );
    }

    #[test]
    fn neighbor_discovery_frames() {
        let m = MacAddr([2, 0, 0, 0, 0, 1]);
        let mut buf = [0u8; ndisc::SOLICIT_FRAME_LEN];
        let n = ndisc::emit_solicit_frame(&mut buf, m, A6, B6);
        assert_eq!(
            frame(&buf[..n]),
            "ICMPv6 (58) fd00:18::1 > ff02::1:ff00:2 Neighbor solicitation (type=135/code=0) who-has fd00:18::2 from 02:00:00:00:00:01 hopl=255 flow=0 payloadlen=32"
        );
        // An advertisement with the target link-layer address option.
        let mut na = vec![0u8; 14 + 40 + 32];
        let mut f = Frame::new_unchecked(&mut na[..]);
        EthernetRepr {
            src: MacAddr([2, 0, 0, 0, 0, 2]),
            dst: m,
            ethertype: EtherType::IPV6,
        }
        .emit(&mut f);
        Ipv6Repr {
            src: B6,
            dst: A6,
            next_header: ip_proto::ICMPV6,
            hop_limit: 255,
            payload_len: 32,
        }
        .emit(&mut ipv6::Packet::new_unchecked(&mut na[14..]));
        ndisc::NdiscRepr {
            msg_type: icmpv6::NA,
            flags: ndisc::flags::SOLICITED,
            target: B6,
            lladdr: Some(MacAddr([2, 0, 0, 0, 0, 2])),
        }
        .emit(&mut na[54..]);
        assert_eq!(
            frame(&na),
            "ICMPv6 (58) fd00:18::2 > fd00:18::1 Neighbor advertisement (type=136/code=0) fd00:18::2 is-at 02:00:00:00:00:02 hopl=255 flow=0 payloadlen=32"
        );
    }

    fn arp_frame(repr: ArpRepr) -> Vec<u8> {
        let mut buf = vec![0u8; 14 + arp::PACKET_LEN + 18];
        EthernetRepr {
            src: repr.sender_mac,
            dst: MacAddr::BROADCAST,
            ethertype: EtherType::ARP,
        }
        .emit(&mut Frame::new_unchecked(&mut buf[..]));
        repr.emit(&mut arp::Packet::new_unchecked(&mut buf[14..]));
        buf
    }

    #[test]
    fn arp_request_and_reply() {
        let m = MacAddr([2, 0, 0, 0, 0, 1]);
        let req = ArpRepr::request(m, A, B);
        assert_eq!(
            frame(&arp_frame(req)),
            "ARP who-has 198.18.0.2 tell 198.18.0.1"
        );
        let reply = ArpRepr {
            operation: arp::op::REPLY,
            sender_mac: MacAddr([2, 0, 0, 0, 0, 0xab]),
            sender_ip: B,
            target_mac: m,
            target_ip: A,
        };
        assert_eq!(
            frame(&arp_frame(reply)),
            "ARP reply 198.18.0.2 is-at 02:00:00:00:00:AB"
        );
    }

    #[test]
    fn ip_inside_a_frame() {
        let syn = tcp_probe(A.into(), B.into(), TcpFlags::SYN, Some(1460));
        let mut f = vec![0u8; 14];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&syn);
        f.resize(60.max(f.len()), 0); // Ethernet padding
        assert_eq!(frame(&f), ip(&syn));
    }

    #[test]
    fn unreadable_packets_say_what_they_are() {
        assert_eq!(ip(&[]), "empty packet");
        assert_eq!(ip(&[0x45, 0, 0]), "IPv4 truncated (3 bytes)");
        assert_eq!(ip(&[0x20; 30]), "IP version 2 (30 bytes)");
        let mut gre = tcp_probe(A.into(), B.into(), TcpFlags::SYN, None);
        gre[9] = 47;
        assert!(ip(&gre).starts_with("Unknown protocol (47) 198.18.0.1 > 198.18.0.2 (20 bytes)"));
        let syn = tcp_probe(A.into(), B.into(), TcpFlags::SYN, None);
        let cut = &syn[..30];
        assert!(
            ip(cut).starts_with("TCP 198.18.0.1:41234 > 198.18.0.2:80 truncated (10 bytes)"),
            "{}",
            ip(cut)
        );
        assert!(ip(&syn[..22]).starts_with("TCP 198.18.0.1 > 198.18.0.2 truncated (2 bytes)"));
        assert_eq!(frame(&[1, 2, 3]), "Ethernet frame (3 bytes)");
    }

    /// `-f`: the first fragment names the ports, the others their offset.
    #[test]
    fn fragments_of_a_probe() {
        let syn = tcp_probe(A.into(), B.into(), TcpFlags::SYN, Some(1460));
        let shape = crate::shape::Shape {
            frag: Some(8),
            ..Default::default()
        };
        let mut lines = Vec::new();
        shape.apply(&syn, None, 0, &mut |p| lines.push(ip(p)));
        assert_eq!(
            lines,
            [
                "TCP 198.18.0.1:41234 > 198.18.0.2:80 truncated (8 bytes) ttl=52 id=1234 iplen=28 frag offset=0+ ",
                "IPv4 fragment (protocol 6) 198.18.0.1 > 198.18.0.2 ttl=52 id=1234 iplen=28 frag offset=8+ ",
                "IPv4 fragment (protocol 6) 198.18.0.1 > 198.18.0.2 ttl=52 id=1234 iplen=28 frag offset=16 ",
            ]
        );
    }

    /// Every prefix and many corruptions of real packets are described
    /// without panicking.
    #[test]
    fn no_bytes_make_it_panic() {
        let mut samples = vec![
            tcp_probe(A.into(), B.into(), TcpFlags::SYN, Some(1460)),
            tcp_probe(A6.into(), B6.into(), TcpFlags::SYN, Some(1460)),
            arp_frame(ArpRepr::request(MacAddr([2, 0, 0, 0, 0, 1]), A, B)),
        ];
        let mut buf = [0u8; ndisc::SOLICIT_FRAME_LEN];
        let n = ndisc::emit_solicit_frame(&mut buf, MacAddr([2, 0, 0, 0, 0, 1]), A6, B6);
        samples.push(buf[..n].to_vec());
        let mut s = String::new();
        for p in &samples {
            for cut in 0..=p.len() {
                for i in 0..cut {
                    let mut q = p[..cut].to_vec();
                    for v in [0u8, 0x0f, 0x45, 0x60, 0xff] {
                        q[i] = v;
                        s.clear();
                        describe_ip(&q, &mut s);
                        describe_frame(&q, &mut s);
                    }
                }
            }
        }
    }
}
