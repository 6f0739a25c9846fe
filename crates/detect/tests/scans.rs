//! Every kind of scan, as its tool sends it, against a simulated host: the
//! right kind, tool and shape, after the number of probes the rules give.

mod common;

use common::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use vigie_detect::{Dir, Family, Kind, Link, Shape, Tool};
use vigie_wire::{icmpv4, icmpv6, TcpFlags};

const SCANNER: &str = "198.18.0.11";
const TARGET: &str = "198.18.0.2";
const SCANNER6: &str = "fd00::11";
const TARGET6: &str = "fd00::2";

/// An nmap-like scan of `ports` with `flags`, one port per ms; returns
/// the simulation.
fn nmap_scan(src: &str, dst: &str, flags: TcpFlags, ports: &[u16]) -> Sim {
    let (src, dst) = (ip(src), ip(dst));
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for &port in ports {
        let probe = nmap_tcp(&mut rng, src, dst, 61234, port, flags);
        exchange(&mut sim, &mut host, &probe);
        sim.advance(Duration::from_millis(1));
    }
    sim
}

const PORTS: [u16; 12] = [1, 3, 7, 9, 13, 17, 19, 21, 22, 23, 25, 80];

fn check(sim: &Sim, kind: Kind, tool: Option<Tool>, probes: u64) {
    let a = only(&sim.alerts);
    assert_eq!(a.kind, kind, "{a:#?}");
    assert_eq!(a.tool, tool, "{a:#?}");
    assert_eq!(a.probes, probes, "{a:#?}");
    assert_eq!(a.shape, Shape::Vertical);
    assert!(a.group.is_empty());
    assert_eq!(a.hosts, 1);
}

#[test]
fn nmap_syn_scan() {
    let sim = nmap_scan(SCANNER, TARGET, TcpFlags::SYN, &PORTS);
    check(&sim, Kind::Syn, Some(Tool::Nmap), 5);
    let a = &sim.alerts[0];
    assert_eq!(a.src, ip(SCANNER));
    assert_eq!(a.ports, vec![1, 3, 7, 9, 13]);
    assert_eq!(a.family, Family::V4);
    assert_eq!(a.handshakes, 0);
    assert!(a.evidence.contains("window 1024"), "{}", a.evidence);
    assert!(a.evidence.contains("MSS 1460 only"), "{}", a.evidence);
    let line = a.human();
    assert!(
        line.starts_with("198.18.0.11 → 198.18.0.2: SYN scan by nmap, 5 ports in"),
        "{line}"
    );
    assert!(line.ends_with("alerted after 5 probes"), "{line}");
}

#[test]
fn nmap_syn_scan_of_open_ports_counts_half_open() {
    // Every port open: SYN, our SYN-ACK, the scanner kernel's RST.
    let (src, dst) = (ip(SCANNER), ip(TARGET));
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    host.open = (1..=20).collect();
    let mut rng = Rng(7);
    for port in 1..=20u16 {
        let probe = nmap_tcp(&mut rng, src, dst, 40000, port, TcpFlags::SYN);
        exchange(&mut sim, &mut host, &probe);
        let mut t = tcp_seg(40000, port, 0, 0, TcpFlags::RST, 0);
        t.seq = 1;
        sim.inbound(&tcp_packet(IpHdr::new(src, dst), t));
        sim.advance(Duration::from_millis(1));
    }
    check(&sim, Kind::Syn, Some(Tool::Nmap), 5);
    assert!(
        sim.alerts[0].evidence.contains("4 half-open"),
        "{}",
        sim.alerts[0].evidence
    );
}

#[test]
fn nmap_fin_null_xmas_maimon_ack_scanflags() {
    let cases = [
        (TcpFlags::FIN, Kind::Fin, 3),
        (TcpFlags::NONE, Kind::Null, 3),
        (TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG, Kind::Xmas, 3),
        (TcpFlags::FIN | TcpFlags::ACK, Kind::Maimon, 3),
        (TcpFlags::ACK, Kind::Ack, 4),
        (TcpFlags::SYN | TcpFlags::FIN, Kind::OtherFlags, 3),
        (TcpFlags::URG | TcpFlags::PSH, Kind::OtherFlags, 3),
    ];
    for (flags, kind, probes) in cases {
        let sim = nmap_scan(SCANNER, TARGET, flags, &PORTS);
        check(&sim, kind, Some(Tool::Nmap), probes);
        let sim6 = nmap_scan(SCANNER6, TARGET6, flags, &PORTS);
        check(&sim6, kind, Some(Tool::Nmap), probes);
        assert_eq!(sim6.alerts[0].family, Family::V6);
    }
}

#[test]
fn nmap_syn_scan_ipv6() {
    let sim = nmap_scan(SCANNER6, TARGET6, TcpFlags::SYN, &PORTS);
    check(&sim, Kind::Syn, Some(Tool::Nmap), 5);
    assert_eq!(sim.alerts[0].family, Family::V6);
    assert!(sim.alerts[0]
        .human()
        .starts_with("fd00::11 → fd00::2: SYN scan by nmap"));
}

#[test]
fn scan_of_dropped_ports_is_seen() {
    let (src, dst) = (ip(SCANNER), ip(TARGET));
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    host.dropped = (1..1000).collect();
    let mut rng = Rng(3);
    for port in [5u16, 6, 7, 8, 9, 10, 11] {
        let probe = nmap_tcp(&mut rng, src, dst, 50000, port, TcpFlags::SYN);
        exchange(&mut sim, &mut host, &probe);
        sim.advance(Duration::from_millis(1));
    }
    check(&sim, Kind::Syn, Some(Tool::Nmap), 5);
    assert!(sim.alerts[0].evidence.contains("5 unanswered"));
}

#[test]
fn nmap_udp_scan() {
    for (src, dst) in [(SCANNER, TARGET), (SCANNER6, TARGET6)] {
        let (src, dst) = (ip(src), ip(dst));
        let mut sim = Sim::new(&[dst]);
        let mut host = Host::new(dst);
        let mut rng = Rng(11);
        for port in [7u16, 9, 17, 19, 49, 53, 67, 69, 111] {
            let mut h = IpHdr::new(src, dst);
            h.ttl = rng.range(37, 59);
            h.id = rng.u16();
            h.df = false;
            exchange(&mut sim, &mut host, &udp_packet(h, 45555, port, &[]));
            sim.advance(Duration::from_millis(1));
        }
        check(&sim, Kind::Udp, Some(Tool::Nmap), 5);
        assert!(sim.alerts[0].evidence.contains("closed"));
    }
}

#[test]
fn masscan_syn_scan() {
    let (src, dst) = (ip(SCANNER), ip(TARGET));
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    let mut rng = Rng(5);
    let IpAddr::V4(d4) = dst else { unreachable!() };
    for port in [21u16, 22, 23, 25, 53, 80, 110, 143] {
        let seq = rng.u32();
        let mut h = IpHdr::new(src, dst);
        h.ttl = 255;
        h.id = ((u32::from(d4) ^ u32::from(port) ^ seq) & 0xffff) as u16;
        h.df = false;
        let t = tcp_seg(61000, port, seq, 0, TcpFlags::SYN, 1024);
        exchange(&mut sim, &mut host, &tcp_packet(h, t));
        sim.advance(Duration::from_micros(100));
    }
    // Port 22 is open and answered (not counted: no reset seen), so the
    // fifth suspicious port is the sixth probe.
    check(&sim, Kind::Syn, Some(Tool::Masscan), 6);
    assert!(sim.alerts[0].evidence.contains("TTL 255"));
}

#[test]
fn zmap_syn_scans_old_and_new() {
    let (src, dst) = (ip(SCANNER), ip(TARGET));
    // <= 4.0: TTL 255, window 65535, IP ID 54321, MSS 1460.
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    let mut rng = Rng(13);
    for port in 100..110u16 {
        let mut h = IpHdr::new(src, dst);
        h.ttl = 255;
        h.id = 54321;
        h.df = false;
        let mut t = tcp_seg(rng.u16() | 0x8000, port, rng.u32(), 0, TcpFlags::SYN, 65535);
        t.mss = Some(1460);
        exchange(&mut sim, &mut host, &tcp_packet(h, t));
    }
    check(&sim, Kind::Syn, Some(Tool::Zmap), 5);
    // >= 4.1: TTL 64, window 65535, MSS + SACK + window scale.
    let mut sim = Sim::new(&[dst]);
    for port in 100..110u16 {
        let mut h = IpHdr::new(src, dst);
        h.id = rng.u16();
        h.df = false;
        let mut t = tcp_seg(rng.u16() | 0x8000, port, rng.u32(), 0, TcpFlags::SYN, 65535);
        t.mss = Some(1460);
        t.sack_permitted = true;
        t.window_scale = Some(0);
        exchange(&mut sim, &mut host, &tcp_packet(h, t));
    }
    check(&sim, Kind::Syn, Some(Tool::Zmap), 5);
}

/// nmap -sT / RustScan: the OS stack connects; open ports complete the
/// handshake and are reset at once, closed ones are refused.
fn connect_scan(src: &str, dst: &str, fin_close: bool) -> Sim {
    let (src, dst) = (ip(src), ip(dst));
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    host.open = vec![22, 25, 80, 443, 8080];
    let mut sport = 50000u16;
    for port in [21u16, 22, 23, 25, 80, 110, 443, 8080, 8443] {
        sport += 1;
        let seq = 0x4000_0000 + u32::from(port);
        let syn = stack_syn(src, dst, sport, port, seq);
        sim.inbound(&syn);
        let answer = host.answer(&syn).unwrap();
        sim.outbound(&answer);
        let (isn, _, flags) = seq_ack(&answer);
        if flags.contains(TcpFlags::SYN) {
            let ack = stack_seg(src, dst, sport, port, seq + 1, isn + 1, TcpFlags::ACK, 0);
            sim.inbound(&ack);
            let close = if fin_close {
                TcpFlags::FIN | TcpFlags::ACK
            } else {
                TcpFlags::RST | TcpFlags::ACK
            };
            sim.inbound(&stack_seg(
                src,
                dst,
                sport,
                port,
                seq + 1,
                isn + 1,
                close,
                0,
            ));
        }
        sim.advance(Duration::from_millis(2));
    }
    sim
}

#[test]
fn connect_scan_counts_handshakes() {
    for (src, dst) in [(SCANNER, TARGET), (SCANNER6, TARGET6)] {
        let sim = connect_scan(src, dst, false);
        check(&sim, Kind::Connect, None, 5);
        let a = &sim.alerts[0];
        // Ports 22, 25 and 80 completed before the 5th probe (port 80).
        assert_eq!(a.handshakes, 2, "{a:#?}");
        assert_eq!(sim.det.handshakes(&ip(src)), 5);
        assert!(
            a.evidence.contains("connected and dropped"),
            "{}",
            a.evidence
        );
    }
}

#[test]
fn rustscan_like_connects_closed_with_fin() {
    let sim = connect_scan(SCANNER, TARGET, true);
    check(&sim, Kind::Connect, None, 5);
}

#[test]
fn slow_scans_survive_long_gaps() {
    for gap in [Duration::from_secs(15), Duration::from_secs(300)] {
        let (src, dst) = (ip(SCANNER), ip(TARGET));
        let mut sim = Sim::new(&[dst]);
        let mut host = Host::new(dst);
        let mut rng = Rng(17);
        for port in PORTS {
            let probe = nmap_tcp(&mut rng, src, dst, 41000, port, TcpFlags::SYN);
            exchange(&mut sim, &mut host, &probe);
            sim.advance(gap);
        }
        check(&sim, Kind::Syn, Some(Tool::Nmap), 5);
    }
}

#[test]
fn nmap_ping_scan_of_one_host() {
    // nmap -sn as root: echo, SYN→443, ACK→80, timestamp.
    for (src, dst) in [(SCANNER, TARGET), (SCANNER6, TARGET6)] {
        let (src, dst) = (ip(src), ip(dst));
        let v6 = dst.is_ipv6();
        let mut sim = Sim::new(&[dst]);
        let mut rng = Rng(19);
        let mut h = IpHdr::new(src, dst);
        h.ttl = rng.range(37, 59);
        h.df = false;
        let echo = if v6 {
            icmpv6::ECHO_REQUEST
        } else {
            icmpv4::ECHO_REQUEST
        };
        sim.inbound(&icmp_packet(h, echo, 0, rng.u16(), 0, &[]));
        sim.inbound(&nmap_tcp(&mut rng, src, dst, 51000, 443, TcpFlags::SYN));
        sim.inbound(&nmap_tcp(&mut rng, src, dst, 51000, 80, TcpFlags::ACK));
        if !v6 {
            h.ttl = rng.range(37, 59);
            sim.inbound(&icmp_packet(
                h,
                icmpv4::TIMESTAMP,
                0,
                rng.u16(),
                0,
                &[0; 12],
            ));
        }
        let a = only(&sim.alerts);
        assert_eq!(a.kind, Kind::TcpPingSweep);
        assert_eq!(a.tool, Some(Tool::Nmap));
        assert_eq!(a.probes, 3);
        assert!(
            a.evidence.contains("echo, TCP→443, TCP→80"),
            "{}",
            a.evidence
        );
    }
}

#[test]
fn tcp_ping_sweep_across_hosts() {
    // nmap -PA80 -sn over a /24 seen on a mirror port (local = every host).
    let src = ip(SCANNER);
    let mut sim = Sim::new(&[]);
    let mut rng = Rng(23);
    for i in 1..=10u8 {
        let dst = IpAddr::V4(Ipv4Addr::new(198, 19, 1, i));
        sim.inbound(&nmap_tcp(&mut rng, src, dst, 52000, 80, TcpFlags::ACK));
    }
    let a = &sim.alerts[0];
    assert_eq!(a.kind, Kind::TcpPingSweep);
    assert_eq!(a.shape, Shape::Horizontal);
    assert_eq!(a.probes, 3);
    assert_eq!(a.ports, vec![80]);
    // The ACK probes are an ACK scan across hosts too (4 targets).
    assert_eq!(sim.alerts.len(), 2, "{:#?}", sim.alerts);
    assert_eq!(sim.alerts[1].kind, Kind::Ack);
    assert_eq!(sim.alerts[1].shape, Shape::Horizontal);
    assert_eq!(sim.alerts[1].probes, 4);
}

#[test]
fn icmp_sweeps() {
    // Echo sweep: 5 hosts; timestamp sweep: 3 hosts (2 points each).
    for (ty, want) in [(icmpv4::ECHO_REQUEST, 5), (icmpv4::TIMESTAMP, 3)] {
        let src = ip(SCANNER);
        let mut sim = Sim::new(&[]);
        let mut rng = Rng(29);
        for i in 1..=20u8 {
            let mut h = IpHdr::new(src, IpAddr::V4(Ipv4Addr::new(198, 19, 2, i)));
            h.ttl = rng.range(37, 59);
            h.df = false;
            sim.inbound(&icmp_packet(h, ty, 0, rng.u16(), 0, &[0; 12]));
        }
        let a = only(&sim.alerts);
        assert_eq!(a.kind, Kind::IcmpSweep);
        assert_eq!(a.shape, Shape::Horizontal);
        assert_eq!(a.tool, Some(Tool::Nmap));
        assert_eq!(a.probes, want);
        assert_eq!(a.hosts, want as usize);
    }
    // IPv6 echo sweep.
    let mut sim = Sim::new(&[]);
    for i in 1..=20u16 {
        let h = IpHdr::new(
            ip(SCANNER6),
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, i)),
        );
        sim.inbound(&icmp_packet(h, icmpv6::ECHO_REQUEST, 0, 7, i, &[]));
    }
    let a = only(&sim.alerts);
    assert_eq!((a.kind, a.probes, a.tool), (Kind::IcmpSweep, 5, None));
}

#[test]
fn arp_sweep() {
    let mut sim = Sim::new(&[ip(TARGET)]);
    for i in 1..=50u8 {
        let f = arp_request(Ipv4Addr::new(198, 18, 0, 11), Ipv4Addr::new(198, 18, 0, i));
        sim.feed(Link::Ethernet, Dir::In, &f);
        sim.advance(Duration::from_millis(5));
    }
    let a = only(&sim.alerts);
    assert_eq!(a.kind, Kind::ArpSweep);
    assert_eq!(a.src, ip(SCANNER));
    assert_eq!(a.tool, None);
    assert_eq!(a.shape, Shape::Horizontal);
    assert_eq!(a.probes, 6);
    assert_eq!(a.proto(), "ARP");
}

#[test]
fn nd_sweep() {
    let mut sim = Sim::new(&[ip(TARGET6)]);
    let src: Ipv6Addr = SCANNER6.parse().unwrap();
    for i in 1..=50u16 {
        let target = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100 + i);
        sim.inbound(&neighbor_solicit(src, target));
        sim.advance(Duration::from_millis(5));
    }
    let a = only(&sim.alerts);
    assert_eq!(a.kind, Kind::NdSweep);
    assert_eq!(a.tool, None);
    assert_eq!(a.probes, 6);
    assert_eq!(a.family, Family::V6);
}

#[test]
fn horizontal_and_block_shapes() {
    let src = ip(SCANNER);
    let mut sim = Sim::new(&[]);
    let mut rng = Rng(31);
    for i in 1..=8u8 {
        let dst = IpAddr::V4(Ipv4Addr::new(198, 19, 3, i));
        sim.inbound(&nmap_tcp(&mut rng, src, dst, 53000, 22, TcpFlags::SYN));
    }
    let a = only(&sim.alerts);
    assert_eq!(
        (a.kind, a.shape, a.probes),
        (Kind::Syn, Shape::Horizontal, 5)
    );
    assert_eq!(a.hosts, 5);
    assert!(
        a.human().contains("→ 5 hosts: SYN scan by nmap, port 22"),
        "{}",
        a.human()
    );

    let mut sim = Sim::new(&[]);
    for i in 1..=8u8 {
        let dst = IpAddr::V4(Ipv4Addr::new(198, 19, 3, i % 2 + 1));
        sim.inbound(&nmap_tcp(
            &mut rng,
            src,
            dst,
            53000,
            20 + u16::from(i),
            TcpFlags::FIN,
        ));
    }
    let a = only(&sim.alerts);
    assert_eq!((a.kind, a.shape, a.probes), (Kind::Fin, Shape::Block, 3));
}

#[test]
fn nmap_fragmented_probes() {
    // nmap -f: the TCP header split into 8-byte IPv4 fragments.
    let (src, dst) = (ip(SCANNER), ip(TARGET));
    let mut sim = Sim::new(&[dst]);
    let mut rng = Rng(37);
    for port in [1u16, 2, 3, 4, 5, 6] {
        let whole = nmap_tcp(&mut rng, src, dst, 54000, port, TcpFlags::FIN);
        let (_, _, l4) = split(&whole).unwrap();
        let l4 = l4.to_vec();
        let IpAddr::V4(s) = src else { unreachable!() };
        let IpAddr::V4(d) = dst else { unreachable!() };
        let id = rng.u16();
        for (i, chunk) in l4.chunks(8).enumerate() {
            let more = (i + 1) * 8 < l4.len();
            let r = vigie_wire::ipv4::Ipv4Repr {
                src: s,
                dst: d,
                protocol: vigie_wire::ip_proto::TCP,
                ttl: 50,
                ident: id,
                payload_len: chunk.len(),
                dont_frag: false,
            };
            let mut buf = vec![0u8; r.buffer_len()];
            buf[20..].copy_from_slice(chunk);
            let mut p = vigie_wire::ipv4::Packet::new_unchecked(&mut buf[..]);
            r.emit(&mut p);
            p.set_more_frags(more);
            p.set_frag_offset((i * 8) as u16);
            p.fill_checksum();
            sim.inbound(&buf);
        }
    }
    let a = only(&sim.alerts);
    assert_eq!((a.kind, a.probes), (Kind::Fin, 3));
}

#[test]
fn ethernet_and_vlan_framing() {
    let (src, dst) = (ip(SCANNER), ip(TARGET));
    let mut sim = Sim::new(&[dst]);
    let mut rng = Rng(41);
    for (i, port) in PORTS.iter().enumerate() {
        let pkt = nmap_tcp(&mut rng, src, dst, 55000, *port, TcpFlags::NONE);
        let mut f = vec![0u8; 12];
        if i % 2 == 1 {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        }
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&pkt);
        sim.feed(Link::Ethernet, Dir::In, &f);
    }
    check(&sim, Kind::Null, Some(Tool::Nmap), 3);
}
