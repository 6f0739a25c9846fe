//! Host discovery, sans-IO: which probes each host gets, how they are
//! built, and how a reply says a host is up (and why).
//!
//! A ping sweep uses the same machinery as a port scan: the flat probe id
//! is `host_index * nprobes + probe_index`, walked in [`Permutation`]
//! order by a [`Tracker`]; replies are authenticated statelessly with the
//! scan's [`Keys`]: TCP probes carry the usual cookie (sequence number and
//! source port), UDP probes a keyed source port, and ICMP probes a keyed
//! identifier and sequence number that echo, timestamp and address-mask
//! replies copy back.
//!
//! Link-layer probes (ARP, IPv6 neighbour solicitation) need no cookie: a
//! reply names the address it resolves, and only addresses we asked about
//! are accepted.
//!
//! [`Permutation`]: crate::perm::Permutation
//! [`Tracker`]: crate::tracker::Tracker

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vigie_wire::arp::{self, ArpRepr};
use vigie_wire::ethernet::{EtherType, Frame, MacAddr};
use vigie_wire::ipv4::{self, Ipv4Repr};
use vigie_wire::ipv6::{self, Ipv6Repr};
use vigie_wire::ndisc::NdiscRepr;
use vigie_wire::summary::{summarize, Body};
use vigie_wire::tcp::TcpFlags;
use vigie_wire::{icmpv4, icmpv6, ip_proto, udp};

use crate::cookie::Keys;
use crate::model::Reason;

/// nmap's default UDP ping port.
pub const DEFAULT_UDP_PORT: u16 = 40125;
/// nmap's default port for `-PS` / `-PA` without a list.
pub const DEFAULT_TCP_PORT: u16 = 80;
/// Largest probe [`write_probe`] builds (IPv6 + TCP with MSS, or IPv6 +
/// ICMP timestamp).
pub const MAX_PROBE_LEN: usize = 40 + 24;

const PROBE_WINDOW: u16 = 1024;
const PROBE_MSS: u16 = 1460;

/// One network-layer discovery probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Probe {
    /// ICMP (or ICMPv6) echo request: `-PE`.
    IcmpEcho,
    /// ICMP timestamp request: `-PP` (IPv4 only).
    IcmpTimestamp,
    /// ICMP address mask request: `-PM` (IPv4 only).
    IcmpMask,
    /// TCP SYN to a port: `-PS`.
    TcpSyn(u16),
    /// TCP ACK to a port: `-PA`.
    TcpAck(u16),
    /// An empty UDP datagram to a port: `-PU`.
    Udp(u16),
}

impl Probe {
    /// Whether this probe exists for the address family.
    pub fn applies_to(self, v6: bool) -> bool {
        !(v6 && matches!(self, Probe::IcmpTimestamp | Probe::IcmpMask))
    }
}

/// nmap's default probes when privileged: ICMP echo, TCP SYN to 443, TCP
/// ACK to 80, ICMP timestamp (dropped for IPv6 targets).
pub fn default_probes() -> Vec<Probe> {
    vec![
        Probe::IcmpEcho,
        Probe::TcpSyn(443),
        Probe::TcpAck(80),
        Probe::IcmpTimestamp,
    ]
}

/// Why a host is up, and the TTL of the reply that told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alive {
    pub host: IpAddr,
    /// Index into the probe list of the probe answered.
    pub probe: usize,
    pub reason: Reason,
    pub ttl: u8,
}

/// The identifier and sequence number of our ICMP probes from `local` to
/// `remote`: 32 keyed bits. (They reuse the TCP sequence-number hash with
/// port 0; an ICMP reply can never be mistaken for a TCP one, so sharing
/// the value across protocols costs nothing.)
pub fn icmp_ids(keys: &Keys, local: IpAddr, remote: IpAddr) -> (u16, u16) {
    let h = keys.tcp_seq(local, remote, 0);
    ((h >> 16) as u16, h as u16)
}

/// Build `probe` from `src` to `dst` into `buf` (at least
/// [`MAX_PROBE_LEN`] bytes): a complete IP datagram with valid checksums.
/// Returns its length, or 0 when the probe does not apply to `dst`'s family
/// or `src` and `dst` differ in family.
pub fn write_probe(
    buf: &mut [u8],
    keys: &Keys,
    probe: Probe,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_ident: u16,
) -> usize {
    if src.is_ipv6() != dst.is_ipv6() || !probe.applies_to(dst.is_ipv6()) {
        return 0;
    }
    let (ident, seq) = icmp_ids(keys, src, dst);
    // Transport part first, after room for the IP header.
    let l3 = if dst.is_ipv6() {
        ipv6::HEADER_LEN
    } else {
        ipv4::HEADER_LEN
    };
    let (proto, l4_len) = {
        let body = &mut buf[l3..];
        match probe {
            Probe::IcmpEcho | Probe::IcmpTimestamp | Probe::IcmpMask => {
                let (msg_type, data_len) = match (probe, dst.is_ipv6()) {
                    (Probe::IcmpEcho, true) => (icmpv6::ECHO_REQUEST, 0),
                    (Probe::IcmpEcho, false) => (icmpv4::ECHO_REQUEST, 0),
                    (Probe::IcmpTimestamp, _) => (icmpv4::TIMESTAMP, 12),
                    _ => (icmpv4::ADDRESS_MASK_REQUEST, 4),
                };
                let len = icmpv4::HEADER_LEN + data_len;
                let b = &mut body[..len];
                b.fill(0);
                b[0] = msg_type;
                b[4..6].copy_from_slice(&ident.to_be_bytes());
                b[6..8].copy_from_slice(&seq.to_be_bytes());
                if let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) {
                    icmpv6::Packet::new_unchecked(&mut b[..]).fill_checksum(&s, &d);
                    (ip_proto::ICMPV6, len)
                } else {
                    icmpv4::Packet::new_unchecked(&mut b[..]).fill_checksum();
                    (ip_proto::ICMP, len)
                }
            }
            Probe::TcpSyn(port) | Probe::TcpAck(port) => {
                let syn = matches!(probe, Probe::TcpSyn(_));
                let cookie = keys.tcp_seq(src, dst, port);
                let repr = vigie_wire::tcp::TcpRepr {
                    src_port: keys.src_port(dst, port),
                    dst_port: port,
                    seq: cookie,
                    ack: if syn { 0 } else { cookie },
                    flags: if syn { TcpFlags::SYN } else { TcpFlags::ACK },
                    window: PROBE_WINDOW,
                    mss: syn.then_some(PROBE_MSS),
                    ..Default::default()
                };
                let len = repr.buffer_len();
                let mut p = vigie_wire::tcp::Packet::new_unchecked(&mut body[..len]);
                repr.emit(&mut p, &src, &dst);
                (ip_proto::TCP, len)
            }
            Probe::Udp(port) => {
                let len = udp::HEADER_LEN;
                let b = &mut body[..len];
                b[0..2].copy_from_slice(&keys.udp_src_port(dst, port).to_be_bytes());
                b[2..4].copy_from_slice(&port.to_be_bytes());
                b[4..6].copy_from_slice(&(len as u16).to_be_bytes());
                b[6..8].fill(0);
                let mut p = udp::Packet::new_unchecked(&mut b[..]);
                match (src, dst) {
                    (IpAddr::V4(s), IpAddr::V4(d)) => p.fill_checksum_v4(s, d),
                    (IpAddr::V6(s), IpAddr::V6(d)) => p.fill_checksum_v6(&s, &d),
                    _ => return 0,
                }
                (ip_proto::UDP, len)
            }
        }
    };
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let ip = Ipv4Repr {
                src: s,
                dst: d,
                protocol: proto,
                ttl,
                ident: ip_ident,
                payload_len: l4_len,
                dont_frag: false,
            };
            ip.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..l3 + l4_len]));
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let ip = Ipv6Repr {
                src: s,
                dst: d,
                next_header: proto,
                hop_limit: ttl,
                payload_len: l4_len,
            };
            ip.emit(&mut ipv6::Packet::new_unchecked(&mut buf[..l3 + l4_len]));
        }
        _ => return 0,
    }
    l3 + l4_len
}

/// Read one received L3 packet: if it answers one of `probes`, which host
/// is up and why. Replies that fail the keyed checks, and ICMP errors sent
/// by anyone but the probed host itself (a router's host-unreachable says
/// nothing good about the host), give `None`.
pub fn read_reply(keys: &Keys, probes: &[Probe], packet: &[u8]) -> Option<Alive> {
    let s = summarize(packet)?;
    let found = |probe: Probe| probes.iter().position(|p| *p == probe);
    let alive = |host, probe, reason| {
        Some(Alive {
            host,
            probe,
            reason,
            ttl: s.ttl,
        })
    };
    match s.body {
        Body::IcmpEcho {
            reply: true,
            ident,
            seq,
            ..
        } => {
            let i = found(Probe::IcmpEcho)?;
            (icmp_ids(keys, s.dst, s.src) == (ident, seq)).then_some(())?;
            alive(s.src, i, Reason::EchoReply)
        }
        Body::Other {
            protocol: ip_proto::ICMP,
        } if s.src.is_ipv4() => {
            let ip = ipv4::Packet::new_checked(packet).ok()?;
            let hl = usize::from(ip.header_len());
            let end = usize::from(ip.total_len()).min(packet.len());
            let icmp = icmpv4::Packet::new_checked(packet.get(hl..end)?).ok()?;
            let (probe, reason) = match icmp.msg_type() {
                icmpv4::TIMESTAMP_REPLY => (Probe::IcmpTimestamp, Reason::TimestampReply),
                icmpv4::ADDRESS_MASK_REPLY => (Probe::IcmpMask, Reason::MaskReply),
                _ => return None,
            };
            let i = found(probe)?;
            (icmp_ids(keys, s.dst, s.src) == (icmp.echo_ident(), icmp.echo_seq())).then_some(())?;
            alive(s.src, i, reason)
        }
        Body::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            ..
        } => {
            // A SYN probe is answered with ACK set (SYN-ACK, or RST-ACK
            // acknowledging cookie + 1); an ACK probe with a bare RST
            // whose sequence number is the cookie.
            let (probe, sent) = if flags.contains(TcpFlags::ACK) {
                (Probe::TcpSyn(sport), TcpFlags::SYN)
            } else {
                (Probe::TcpAck(sport), TcpFlags::ACK)
            };
            let i = found(probe)?;
            if !keys.check_tcp_reply_to(sent, s.dst, s.src, sport, dport, flags, seq, ack) {
                return None;
            }
            let reason = if flags.contains(TcpFlags::RST) {
                Reason::Reset
            } else if flags.contains(TcpFlags::SYN) {
                Reason::SynAck
            } else {
                return None;
            };
            alive(s.src, i, reason)
        }
        Body::Udp { sport, dport, .. } => {
            let i = found(Probe::Udp(sport))?;
            keys.check_udp_reply(s.src, sport, dport).then_some(())?;
            alive(s.src, i, Reason::UdpResponse)
        }
        Body::IcmpError {
            v6,
            icmp_type,
            code,
            quoted,
        } => {
            if quoted.dst != s.src {
                return None;
            }
            let unreach = if v6 {
                icmp_type == icmpv6::DST_UNREACH
            } else {
                icmp_type == icmpv4::DEST_UNREACH
            };
            if !unreach {
                return None;
            }
            let reason = match (v6, code) {
                (false, icmpv4::unreach::PORT_UNREACH) | (true, icmpv6::unreach::PORT_UNREACH) => {
                    Reason::PortUnreach
                }
                (false, icmpv4::unreach::PROTO_UNREACH) => Reason::ProtoUnreach,
                _ => return None,
            };
            let i = match quoted.protocol {
                ip_proto::UDP => {
                    keys.check_quoted_udp(&quoted).then_some(())?;
                    found(Probe::Udp(quoted.dport))?
                }
                ip_proto::TCP => {
                    keys.check_quoted_tcp(&quoted).then_some(())?;
                    probes.iter().position(
                        |p| matches!(p, Probe::TcpSyn(x) | Probe::TcpAck(x) if *x == quoted.dport),
                    )?
                }
                _ => return None,
            };
            alive(s.src, i, reason)
        }
        _ => None,
    }
}

/// Build an Ethernet ARP who-has for `target` from `(mac, ip)` into `buf`
/// (at least 42 bytes). Returns the frame length.
pub fn write_arp_request(buf: &mut [u8], mac: MacAddr, ip: Ipv4Addr, target: Ipv4Addr) -> usize {
    let len = vigie_wire::ethernet::HEADER_LEN + arp::PACKET_LEN;
    let mut f = Frame::new_unchecked(&mut buf[..len]);
    f.set_dst_addr(MacAddr::BROADCAST);
    f.set_src_addr(mac);
    f.set_ethertype(EtherType::ARP);
    ArpRepr::request(mac, ip, target).emit(&mut arp::Packet::new_unchecked(f.payload_mut()));
    len
}

/// An ARP reply (Ethernet frame) resolving some address: `(address, MAC)`.
/// The caller checks the address is one it asked about.
pub fn read_arp_reply(frame: &[u8]) -> Option<(Ipv4Addr, MacAddr)> {
    let f = Frame::new_checked(frame).ok()?;
    if f.ethertype() != EtherType::ARP {
        return None;
    }
    let r = ArpRepr::parse(&arp::Packet::new_checked(f.payload()).ok()?).ok()?;
    (r.operation == arp::op::REPLY).then_some((r.sender_ip, r.sender_mac))
}

/// A neighbour advertisement (L3 packet, from the IPv6 header on) for
/// some address: `(address, MAC)`. The MAC is the target link-layer
/// address option; an advertisement without one is ignored (Linux always
/// includes it when answering a multicast solicitation). Hop limit must be
/// 255 (RFC 4861 §7.1.2).
pub fn read_neighbor_advert(packet: &[u8]) -> Option<(Ipv6Addr, MacAddr, u8)> {
    let ip = ipv6::Packet::new_checked(packet).ok()?;
    if ip.version() != 6 || ip.next_header() != ip_proto::ICMPV6 || ip.hop_limit() != 255 {
        return None;
    }
    let end = (ipv6::HEADER_LEN + usize::from(ip.payload_len())).min(packet.len());
    let r = NdiscRepr::parse(packet.get(ipv6::HEADER_LEN..end)?).ok()?;
    if r.msg_type != icmpv6::NA {
        return None;
    }
    Some((r.target, r.lladdr?, ip.hop_limit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const US: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    const THEM: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 19, 3, 7));
    const US6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 1));
    const THEM6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 2));

    fn keys() -> Keys {
        Keys::new(0x1111, 0x2222)
    }

    /// Turn our probe into the reply the host would send: swap the
    /// addresses and let `f` rewrite the transport part.
    fn answer(probe: &[u8], f: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut p = probe.to_vec();
        if p[0] >> 4 == 4 {
            let (a, b) = (p[12..16].to_vec(), p[16..20].to_vec());
            p[12..16].copy_from_slice(&b);
            p[16..20].copy_from_slice(&a);
            p[8] = 61;
            f(&mut p[20..]);
        } else {
            let (a, b) = (p[8..24].to_vec(), p[24..40].to_vec());
            p[8..24].copy_from_slice(&b);
            p[24..40].copy_from_slice(&a);
            p[7] = 61;
            f(&mut p[40..]);
        }
        p
    }

    fn probe(p: Probe, src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let mut buf = [0xa5u8; MAX_PROBE_LEN];
        let n = write_probe(&mut buf, &keys(), p, src, dst, 64, 7);
        assert!(n > 0);
        buf[..n].to_vec()
    }

    #[test]
    fn probe_bytes_icmp_echo_v4() {
        let b = probe(Probe::IcmpEcho, US, THEM);
        assert_eq!(b.len(), 28);
        let ip = ipv4::Packet::new_checked(&b[..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.protocol(), ip.ttl(), ip.ident()), (1, 64, 7));
        let icmp = icmpv4::Packet::new_checked(&b[20..]).unwrap();
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.msg_type(), 8);
        assert_eq!(
            (icmp.echo_ident(), icmp.echo_seq()),
            icmp_ids(&keys(), US, THEM)
        );
    }

    #[test]
    fn probe_lengths() {
        assert_eq!(probe(Probe::IcmpTimestamp, US, THEM).len(), 20 + 20);
        assert_eq!(probe(Probe::IcmpMask, US, THEM).len(), 20 + 12);
        assert_eq!(probe(Probe::TcpSyn(443), US, THEM).len(), 20 + 24);
        assert_eq!(probe(Probe::TcpAck(80), US, THEM).len(), 20 + 20);
        assert_eq!(probe(Probe::Udp(40125), US, THEM).len(), 28);
        assert_eq!(probe(Probe::IcmpEcho, US6, THEM6).len(), 48);
        assert_eq!(probe(Probe::TcpSyn(443), US6, THEM6).len(), 64);
        let mut buf = [0u8; MAX_PROBE_LEN];
        assert_eq!(
            write_probe(&mut buf, &keys(), Probe::IcmpTimestamp, US6, THEM6, 64, 0),
            0
        );
        assert_eq!(
            write_probe(&mut buf, &keys(), Probe::IcmpEcho, US, THEM6, 64, 0),
            0
        );
    }

    #[test]
    fn echo_reply_v4_and_v6() {
        let probes = default_probes();
        let reply = answer(&probe(Probe::IcmpEcho, US, THEM), |icmp| icmp[0] = 0);
        assert_eq!(
            read_reply(&keys(), &probes, &reply),
            Some(Alive {
                host: THEM,
                probe: 0,
                reason: Reason::EchoReply,
                ttl: 61
            })
        );
        // Someone else's echo reply (other ids) is dropped.
        let mut forged = reply.clone();
        forged[25] ^= 1;
        assert_eq!(read_reply(&keys(), &probes, &forged), None);
        // With another key it is not ours either.
        assert_eq!(read_reply(&Keys::new(9, 9), &probes, &reply), None);
        // Echo not in the probe list: ignored.
        assert_eq!(read_reply(&keys(), &[Probe::TcpSyn(443)], &reply), None);

        let reply6 = answer(&probe(Probe::IcmpEcho, US6, THEM6), |icmp| icmp[0] = 129);
        let a = read_reply(&keys(), &probes, &reply6).unwrap();
        assert_eq!((a.host, a.probe, a.reason), (THEM6, 0, Reason::EchoReply));
    }

    #[test]
    fn timestamp_and_mask_replies() {
        let probes = vec![Probe::IcmpMask, Probe::IcmpTimestamp];
        let ts = answer(&probe(Probe::IcmpTimestamp, US, THEM), |icmp| icmp[0] = 14);
        let a = read_reply(&keys(), &probes, &ts).unwrap();
        assert_eq!((a.probe, a.reason), (1, Reason::TimestampReply));
        let mask = answer(&probe(Probe::IcmpMask, US, THEM), |icmp| icmp[0] = 18);
        let a = read_reply(&keys(), &probes, &mask).unwrap();
        assert_eq!((a.probe, a.reason), (0, Reason::MaskReply));
        // A request (type 13) coming in is not a reply.
        let req = answer(&probe(Probe::IcmpTimestamp, US, THEM), |_| {});
        assert_eq!(read_reply(&keys(), &probes, &req), None);
    }

    /// Rewrite a TCP probe into a reply with `flags`, `seq` and `ack`.
    fn tcp_reply(probe_bytes: &[u8], flags: TcpFlags, seq: u32, ack: u32) -> Vec<u8> {
        answer(probe_bytes, |t| {
            let (sp, dp) = (t[0..2].to_vec(), t[2..4].to_vec());
            t[0..2].copy_from_slice(&dp);
            t[2..4].copy_from_slice(&sp);
            t[4..8].copy_from_slice(&seq.to_be_bytes());
            t[8..12].copy_from_slice(&ack.to_be_bytes());
            t[13] = flags.bits() as u8;
        })
    }

    #[test]
    fn tcp_syn_and_ack_pings() {
        let probes = default_probes();
        let k = keys();
        let cookie = k.tcp_seq(US, THEM, 443);
        let syn = probe(Probe::TcpSyn(443), US, THEM);
        let sa = tcp_reply(&syn, TcpFlags(0x12), 99, cookie.wrapping_add(1));
        let a = read_reply(&k, &probes, &sa).unwrap();
        assert_eq!((a.host, a.probe, a.reason), (THEM, 1, Reason::SynAck));
        let ra = tcp_reply(&syn, TcpFlags(0x14), 0, cookie.wrapping_add(1));
        assert_eq!(read_reply(&k, &probes, &ra).unwrap().reason, Reason::Reset);
        let wrong = tcp_reply(&syn, TcpFlags(0x12), 99, cookie);
        assert_eq!(read_reply(&k, &probes, &wrong), None);

        let cookie80 = k.tcp_seq(US, THEM, 80);
        let ack = probe(Probe::TcpAck(80), US, THEM);
        let rst = tcp_reply(&ack, TcpFlags::RST, cookie80, 0);
        let a = read_reply(&k, &probes, &rst).unwrap();
        assert_eq!((a.probe, a.reason), (2, Reason::Reset));
        let bad = tcp_reply(&ack, TcpFlags::RST, cookie80 ^ 1, 0);
        assert_eq!(read_reply(&k, &probes, &bad), None);
        // A RST from port 443 without ACK: there was no ACK probe to 443.
        let rst443 = tcp_reply(&syn, TcpFlags::RST, cookie, 0);
        assert_eq!(read_reply(&k, &probes, &rst443), None);
    }

    #[test]
    fn udp_response_and_port_unreach() {
        let k = keys();
        let probes = vec![Probe::Udp(40125)];
        let p = probe(Probe::Udp(40125), US, THEM);
        let resp = answer(&p, |u| {
            let (sp, dp) = (u[0..2].to_vec(), u[2..4].to_vec());
            u[0..2].copy_from_slice(&dp);
            u[2..4].copy_from_slice(&sp);
        });
        let a = read_reply(&k, &probes, &resp).unwrap();
        assert_eq!((a.host, a.reason), (THEM, Reason::UdpResponse));

        // Port unreachable from the host, quoting our datagram.
        let mut err = p[..20].to_vec();
        err[9] = 1;
        err[12..16].copy_from_slice(&[198, 19, 3, 7]);
        err[16..20].copy_from_slice(&[198, 18, 0, 1]);
        err[2..4].copy_from_slice(&((20 + 8 + p.len()) as u16).to_be_bytes());
        err.extend_from_slice(&[3, 3, 0, 0, 0, 0, 0, 0]);
        err.extend_from_slice(&p);
        let a = read_reply(&k, &probes, &err).unwrap();
        assert_eq!((a.host, a.reason), (THEM, Reason::PortUnreach));
        // The same error from a router: not proof of life.
        let mut router = err.clone();
        router[12..16].copy_from_slice(&[198, 18, 0, 254]);
        assert_eq!(read_reply(&k, &probes, &router), None);
        // Host unreachable (code 1) from the host itself: not life either.
        let mut code1 = err.clone();
        code1[21] = 1;
        assert_eq!(read_reply(&k, &probes, &code1), None);
    }

    #[test]
    fn arp_request_and_reply() {
        let mac = MacAddr([0x7a, 1, 2, 3, 4, 5]);
        let mut buf = [0u8; 64];
        let n = write_arp_request(
            &mut buf,
            mac,
            Ipv4Addr::new(198, 18, 0, 1),
            Ipv4Addr::new(198, 18, 0, 2),
        );
        assert_eq!(n, 42);
        assert_eq!(
            &buf[..14],
            &[255, 255, 255, 255, 255, 255, 0x7a, 1, 2, 3, 4, 5, 8, 6]
        );
        // The request is not a reply.
        assert_eq!(read_arp_reply(&buf[..n]), None);
        // Make it a reply from .2 at 2e:..:02.
        let theirs = MacAddr([0x2e, 0, 0, 0, 0, 2]);
        let r = ArpRepr {
            operation: arp::op::REPLY,
            sender_mac: theirs,
            sender_ip: Ipv4Addr::new(198, 18, 0, 2),
            target_mac: mac,
            target_ip: Ipv4Addr::new(198, 18, 0, 1),
        };
        r.emit(&mut arp::Packet::new_unchecked(&mut buf[14..42]));
        assert_eq!(
            read_arp_reply(&buf[..60]),
            Some((Ipv4Addr::new(198, 18, 0, 2), theirs))
        );
    }

    #[test]
    fn neighbor_advert() {
        let t: Ipv6Addr = "fd00:18::2".parse().unwrap();
        let mut pkt = vec![0u8; 40];
        let ip = Ipv6Repr {
            src: t,
            dst: "fd00:18::1".parse().unwrap(),
            next_header: 58,
            hop_limit: 255,
            payload_len: 32,
        };
        ip.emit(&mut ipv6::Packet::new_unchecked(&mut pkt[..]));
        let mut na = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
        na.extend_from_slice(&t.octets());
        na.extend_from_slice(&[2, 1, 0x2e, 0, 0, 0, 0, 2]);
        pkt.extend_from_slice(&na);
        assert_eq!(
            read_neighbor_advert(&pkt),
            Some((t, MacAddr([0x2e, 0, 0, 0, 0, 2]), 255))
        );
        pkt[7] = 64; // forwarded: not a neighbour
        assert_eq!(read_neighbor_advert(&pkt), None);
    }

    proptest! {
        #[test]
        fn readers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = read_reply(&keys(), &default_probes(), &data);
            let _ = read_arp_reply(&data);
            let _ = read_neighbor_advert(&data);
        }

        /// Every probe we build for a random pair of addresses validates
        /// as its own echo/SYN-ACK reply, and only with the right key.
        #[test]
        fn echo_replies_check_out(a in any::<[u8; 4]>(), b in any::<[u8; 4]>(), k0 in any::<u64>()) {
            let (src, dst) = (IpAddr::from(a), IpAddr::from(b));
            let k = Keys::new(k0, 1);
            let mut buf = [0u8; MAX_PROBE_LEN];
            let n = write_probe(&mut buf, &k, Probe::IcmpEcho, src, dst, 64, 0);
            let reply = answer(&buf[..n], |icmp| icmp[0] = 0);
            let got = read_reply(&k, &[Probe::IcmpEcho], &reply).map(|x| x.host);
            prop_assert_eq!(got, Some(dst));
            let other = Keys::new(k0 ^ 1, 1);
            let (i1, s1) = icmp_ids(&other, src, dst);
            if (i1, s1) != icmp_ids(&k, src, dst) {
                prop_assert_eq!(read_reply(&other, &[Probe::IcmpEcho], &reply), None);
            }
        }
    }
}
