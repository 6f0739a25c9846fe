//! Synthetic frames and a simulated host for the detector's tests. Nothing
//! here is ever sent anywhere: frames are byte vectors fed to the detector
//! on a virtual clock. Addresses: 198.18.0.0/15, fd00::/8, 2001:db8::/32.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use vigie_detect::{Alert, Config, Detector, Dir, Frame, Link};
use vigie_wire::ethernet::{self, EtherType, EthernetRepr, MacAddr};
use vigie_wire::icmpv4::{self, Icmpv4Repr};
use vigie_wire::icmpv6::{self, Icmpv6Repr};
use vigie_wire::ip_proto;
use vigie_wire::ipv4::{self, Ipv4Repr};
use vigie_wire::ipv6::{self, Ipv6Repr};
use vigie_wire::tcp::{self, TcpRepr};
use vigie_wire::udp::{self, UdpRepr};
use vigie_wire::{arp, ndisc, TcpFlags};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The IP header fields a fingerprint reads.
#[derive(Debug, Clone, Copy)]
pub struct IpHdr {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub id: u16,
    pub df: bool,
}

impl IpHdr {
    pub fn new(src: IpAddr, dst: IpAddr) -> IpHdr {
        IpHdr {
            src,
            dst,
            ttl: 64,
            id: 0,
            df: true,
        }
    }
}

/// An IP packet around `payload` (protocol `proto`).
pub fn ip_packet(h: IpHdr, proto: u8, payload: &[u8]) -> Vec<u8> {
    match (h.src, h.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let r = Ipv4Repr {
                src: s,
                dst: d,
                protocol: proto,
                ttl: h.ttl,
                ident: h.id,
                payload_len: payload.len(),
                dont_frag: h.df,
            };
            let mut buf = vec![0u8; r.buffer_len()];
            buf[ipv4::HEADER_LEN..].copy_from_slice(payload);
            r.emit(&mut ipv4::Packet::new_unchecked(&mut buf[..]));
            buf
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let r = Ipv6Repr {
                src: s,
                dst: d,
                next_header: proto,
                hop_limit: h.ttl,
                payload_len: payload.len(),
            };
            let mut buf = vec![0u8; r.buffer_len()];
            buf[ipv6::HEADER_LEN..].copy_from_slice(payload);
            r.emit(&mut ipv6::Packet::new_unchecked(&mut buf[..]));
            buf
        }
        _ => panic!("mixed families"),
    }
}

pub fn tcp_packet(h: IpHdr, t: TcpRepr) -> Vec<u8> {
    let mut seg = vec![0u8; t.buffer_len()];
    t.emit(
        &mut tcp::Packet::new_unchecked(&mut seg[..]),
        &h.src,
        &h.dst,
    );
    ip_packet(h, ip_proto::TCP, &seg)
}

pub fn tcp_seg(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    window: u16,
) -> TcpRepr {
    TcpRepr {
        src_port: sport,
        dst_port: dport,
        seq,
        ack,
        flags,
        window,
        ..TcpRepr::default()
    }
}

pub fn udp_packet(h: IpHdr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let r = UdpRepr {
        src_port: sport,
        dst_port: dport,
        payload_len: payload.len(),
    };
    let mut seg = vec![0u8; r.buffer_len()];
    seg[udp::HEADER_LEN..].copy_from_slice(payload);
    r.emit(
        &mut udp::Packet::new_unchecked(&mut seg[..]),
        &h.src,
        &h.dst,
    );
    ip_packet(h, ip_proto::UDP, &seg)
}

/// ICMP (IPv4) or ICMPv6 message of `ty` with ident/seq and `data`.
pub fn icmp_packet(h: IpHdr, ty: u8, code: u8, ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    match (h.src, h.dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => {
            let r = Icmpv4Repr {
                msg_type: ty,
                code,
                ident,
                seq,
                data_len: data.len(),
            };
            let mut m = vec![0u8; r.buffer_len()];
            m[icmpv4::HEADER_LEN..].copy_from_slice(data);
            r.emit(&mut icmpv4::Packet::new_unchecked(&mut m[..]));
            ip_packet(h, ip_proto::ICMP, &m)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let r = Icmpv6Repr {
                msg_type: ty,
                code,
                ident,
                seq,
                data_len: data.len(),
            };
            let mut m = vec![0u8; r.buffer_len()];
            m[icmpv6::HEADER_LEN..].copy_from_slice(data);
            r.emit(&mut icmpv6::Packet::new_unchecked(&mut m[..]), &s, &d);
            ip_packet(h, ip_proto::ICMPV6, &m)
        }
        _ => panic!("mixed families"),
    }
}

/// An ARP who-has in an Ethernet frame.
pub fn arp_request(sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mac = MacAddr([0x02, 0, 0, 0, 0, 0x11]);
    let mut buf = vec![0u8; ethernet::HEADER_LEN + arp::PACKET_LEN];
    EthernetRepr {
        src: mac,
        dst: MacAddr::BROADCAST,
        ethertype: EtherType::ARP,
    }
    .emit(&mut ethernet::Frame::new_unchecked(&mut buf[..]));
    arp::ArpRepr::request(mac, sender, target).emit(&mut arp::Packet::new_unchecked(
        &mut buf[ethernet::HEADER_LEN..],
    ));
    buf
}

/// A neighbour solicitation for `target` from `src` (an IP packet).
pub fn neighbor_solicit(src: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let r = ndisc::NdiscRepr {
        msg_type: icmpv6::NS,
        flags: 0,
        target,
        lladdr: Some(MacAddr([0x02, 0, 0, 0, 0, 0x22])),
    };
    let mut m = vec![0u8; r.buffer_len()];
    r.emit(&mut m);
    let dst = ndisc::solicited_node(target);
    let mut h = IpHdr::new(IpAddr::V6(src), IpAddr::V6(dst));
    h.ttl = 255;
    ip_packet(h, ip_proto::ICMPV6, &m)
}

/// A small deterministic generator (xorshift).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn u16(&mut self) -> u16 {
        self.next() as u16
    }
    pub fn u32(&mut self) -> u32 {
        self.next() as u32
    }
    pub fn range(&mut self, lo: u8, hi: u8) -> u8 {
        lo + (self.next() % u64::from(hi - lo + 1)) as u8
    }
}

/// The detector on a virtual clock, collecting alerts.
pub struct Sim {
    pub det: Detector,
    pub now: Duration,
    pub alerts: Vec<Alert>,
    /// Probe packets fed (Dir::In) since the start.
    pub fed: u64,
}

impl Sim {
    pub fn new(local: &[IpAddr]) -> Sim {
        Sim::with(Config {
            local: local.to_vec(),
            ..Config::default()
        })
    }

    pub fn with(cfg: Config) -> Sim {
        Sim {
            det: Detector::new(cfg),
            now: Duration::from_secs(1),
            alerts: Vec::new(),
            fed: 0,
        }
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    pub fn feed(&mut self, link: Link, dir: Dir, bytes: &[u8]) {
        if dir == Dir::In {
            self.fed += 1;
        }
        self.det.handle_frame(self.now, Frame { link, dir, bytes });
        while let Some(a) = self.det.poll_alert() {
            self.alerts.push(a);
        }
    }

    pub fn inbound(&mut self, bytes: &[u8]) {
        self.feed(Link::Ip, Dir::In, bytes);
    }

    pub fn outbound(&mut self, bytes: &[u8]) {
        self.feed(Link::Ip, Dir::Out, bytes);
    }
}

/// A target host that answers probes the way Linux does.
pub struct Host {
    pub addr: IpAddr,
    /// Open TCP ports.
    pub open: Vec<u16>,
    /// Open UDP ports.
    pub udp_open: Vec<u16>,
    /// Ports whose probes are dropped (no answer at all).
    pub dropped: Vec<u16>,
    pub isn: u32,
}

impl Host {
    pub fn new(addr: IpAddr) -> Host {
        Host {
            addr,
            open: vec![22, 80],
            udp_open: vec![53],
            dropped: Vec::new(),
            isn: 0x1000_0000,
        }
    }

    fn out(&self, to: IpAddr) -> IpHdr {
        IpHdr::new(self.addr, to)
    }

    /// This host's answer to an inbound packet, if any.
    pub fn answer(&mut self, pkt: &[u8]) -> Option<Vec<u8>> {
        let (src, proto, l4) = split(pkt)?;
        match proto {
            ip_proto::TCP => {
                let t = TcpRepr::parse(&tcp::Packet::new_checked(l4).ok()?).ok()?;
                if self.dropped.contains(&t.dst_port) {
                    return None;
                }
                let f = t.flags;
                if f.contains(TcpFlags::RST) {
                    return None;
                }
                let open = self.open.contains(&t.dst_port);
                let reply_to = |seq: u32, ack: u32, flags: TcpFlags| {
                    tcp_packet(
                        self.out(src),
                        tcp_seg(t.dst_port, t.src_port, seq, ack, flags, 64240),
                    )
                };
                if f == TcpFlags::SYN || f == TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR {
                    if open {
                        self.isn = self.isn.wrapping_add(0x1234_5678);
                        let mut r = tcp_seg(
                            t.dst_port,
                            t.src_port,
                            self.isn,
                            t.seq.wrapping_add(1),
                            TcpFlags::SYN | TcpFlags::ACK,
                            64240,
                        );
                        r.mss = Some(1460);
                        return Some(tcp_packet(self.out(src), r));
                    }
                    return Some(reply_to(
                        0,
                        t.seq.wrapping_add(1),
                        TcpFlags::RST | TcpFlags::ACK,
                    ));
                }
                if f.contains(TcpFlags::ACK) {
                    // Unsolicited ACK-ish segments get a RST (RFC 9293).
                    return Some(reply_to(t.ack, 0, TcpFlags::RST));
                }
                if open {
                    return None; // FIN/NULL/Xmas to an open port: silence
                }
                Some(reply_to(0, t.seq, TcpFlags::RST | TcpFlags::ACK))
            }
            ip_proto::UDP => {
                let u = udp::Packet::new_checked(l4).ok()?;
                if self.dropped.contains(&u.dst_port()) {
                    return None;
                }
                if self.udp_open.contains(&u.dst_port()) {
                    return Some(udp_packet(self.out(src), u.dst_port(), u.src_port(), b"ok"));
                }
                let quote_len = pkt.len().min(match self.addr {
                    IpAddr::V4(_) => 28,
                    IpAddr::V6(_) => 48 + 8,
                });
                let quote = &pkt[..quote_len];
                let (ty, code) = match self.addr {
                    IpAddr::V4(_) => (icmpv4::DEST_UNREACH, icmpv4::unreach::PORT_UNREACH),
                    IpAddr::V6(_) => (icmpv6::DST_UNREACH, icmpv6::unreach::PORT_UNREACH),
                };
                Some(icmp_packet(self.out(src), ty, code, 0, 0, quote))
            }
            _ => None,
        }
    }
}

/// (source, protocol, transport bytes) of an IP packet.
pub fn split(pkt: &[u8]) -> Option<(IpAddr, u8, &[u8])> {
    match pkt.first()? >> 4 {
        4 => {
            let p = ipv4::Packet::new_checked(pkt).ok()?;
            let hl = usize::from(p.header_len());
            Some((IpAddr::V4(p.src_addr()), p.protocol(), &pkt[hl..]))
        }
        6 => {
            let p = ipv6::Packet::new_checked(pkt).ok()?;
            Some((IpAddr::V6(p.src_addr()), p.next_header(), &pkt[40..]))
        }
        _ => None,
    }
}

/// Feeds a probe, then the host's answer.
pub fn exchange(sim: &mut Sim, host: &mut Host, probe: &[u8]) {
    sim.inbound(probe);
    if let Some(a) = host.answer(probe) {
        sim.advance(Duration::from_micros(200));
        sim.outbound(&a);
    }
}

/// nmap's raw TCP probe: TTL 37-59 random, window 1024, MSS 1460 on SYN
/// only, no DF, random IP ID, one source port per phase.
pub fn nmap_tcp(
    rng: &mut Rng,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    flags: TcpFlags,
) -> Vec<u8> {
    let mut h = IpHdr::new(src, dst);
    h.ttl = rng.range(37, 59);
    h.id = rng.u16();
    h.df = false;
    let ack = if flags.contains(TcpFlags::ACK) {
        rng.u32()
    } else {
        0
    };
    let mut t = tcp_seg(sport, dport, rng.u32(), ack, flags, 1024);
    if flags == TcpFlags::SYN {
        t.mss = Some(1460);
    }
    tcp_packet(h, t)
}

/// An OS stack's SYN (Linux): MSS, SACK, timestamps, window scale,
/// window 64240, TTL 64, DF.
pub fn stack_syn(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, seq: u32) -> Vec<u8> {
    let mut t = tcp_seg(sport, dport, seq, 0, TcpFlags::SYN, 64240);
    t.mss = Some(1460);
    t.sack_permitted = true;
    t.timestamp = Some((1, 0));
    t.window_scale = Some(7);
    tcp_packet(IpHdr::new(src, dst), t)
}

/// An OS stack's segment on an established connection (timestamps on).
#[allow(clippy::too_many_arguments)]
pub fn stack_seg(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: TcpFlags,
    payload: usize,
) -> Vec<u8> {
    let mut t = tcp_seg(sport, dport, seq, ack, flags, 502);
    t.timestamp = Some((2, 1));
    t.payload_len = payload;
    let mut seg = vec![0u8; t.buffer_len()];
    t.emit(&mut tcp::Packet::new_unchecked(&mut seg[..]), &src, &dst);
    ip_packet(IpHdr::new(src, dst), ip_proto::TCP, &seg)
}

/// The seq and ack numbers of a TCP packet (ours, to complete handshakes).
pub fn seq_ack(pkt: &[u8]) -> (u32, u32, TcpFlags) {
    let (_, _, l4) = split(pkt).unwrap();
    let t = tcp::Packet::new_checked(l4).unwrap();
    (t.seq_number(), t.ack_number(), t.flags())
}

pub fn only(alerts: &[Alert]) -> &Alert {
    assert_eq!(alerts.len(), 1, "alerts: {alerts:#?}");
    &alerts[0]
}
