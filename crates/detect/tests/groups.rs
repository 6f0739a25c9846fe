//! Decoys (nmap -D) and scans split over several sources.

mod common;

use common::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use vigie_detect::alert::GroupKind;
use vigie_detect::{Kind, Tool};
use vigie_wire::TcpFlags;

#[test]
fn decoys_make_one_group_alert() {
    let dst = ip("198.18.0.2");
    let real = ip("198.18.0.11");
    let decoys: Vec<IpAddr> = [21u8, 32, 43, 54, 65]
        .iter()
        .map(|&i| IpAddr::V4(Ipv4Addr::new(198, 18, i, 9)))
        .collect();
    // nmap sends each probe from every decoy and the real source, with the
    // same sequence number, source port and IP ID; the real one is 4th.
    let mut order = decoys.clone();
    order.insert(3, real);
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    let mut rng = Rng(43);
    for port in [1u16, 3, 7, 9, 13, 17, 19, 21, 23, 25, 110, 111] {
        let (seq, id) = (rng.u32(), rng.u16());
        for &src in &order {
            let mut h = IpHdr::new(src, dst);
            h.ttl = rng.range(37, 59);
            h.id = id;
            h.df = false;
            let mut t = tcp_seg(48000, port, seq, 0, TcpFlags::SYN, 1024);
            t.mss = Some(1460);
            exchange(&mut sim, &mut host, &tcp_packet(h, t));
            sim.advance(Duration::from_micros(20));
        }
        sim.advance(Duration::from_millis(1));
    }
    let a = only(&sim.alerts);
    assert_eq!(a.kind, Kind::Syn);
    assert_eq!(a.tool, Some(Tool::Nmap));
    assert_eq!(a.group_kind, Some(GroupKind::Decoys));
    assert_eq!(a.probes, 5);
    let mut got = a.group.clone();
    got.sort();
    let mut want = order.clone();
    want.sort();
    assert_eq!(got, want, "{a:#?}");
    assert!(
        a.human().starts_with("decoy group of 6 sources ("),
        "{}",
        a.human()
    );
}

#[test]
fn split_scan_over_one_prefix_is_grouped() {
    // Four sources of one /24 probe disjoint port ranges, two ports each
    // (none reaches a threshold alone): one split-scan alert.
    let dst = ip("198.18.0.2");
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    let mut rng = Rng(47);
    let mut port = 1000u16;
    for round in 0..2 {
        for s in 1..=4u8 {
            let src = IpAddr::V4(Ipv4Addr::new(198, 18, 7, 10 + s));
            let _ = round;
            port += 1;
            let probe = nmap_tcp(
                &mut rng,
                src,
                dst,
                47000 + u16::from(s),
                port,
                TcpFlags::SYN,
            );
            exchange(&mut sim, &mut host, &probe);
            sim.advance(Duration::from_millis(3));
        }
    }
    let a = only(&sim.alerts);
    assert_eq!(a.kind, Kind::Syn);
    assert_eq!(a.group_kind, Some(GroupKind::Split));
    assert_eq!(a.group.len(), 4, "{a:#?}");
    assert_eq!(a.probes, 6);
    assert!(a.evidence.contains("198.18.7.0/24"), "{}", a.evidence);
}

#[test]
fn one_scanner_beside_a_neighbour_is_not_a_split_scan() {
    let dst = ip("198.18.0.2");
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    let mut rng = Rng(53);
    // A neighbour in the same /24 sends one raw SYN.
    let n = nmap_tcp(&mut rng, ip("198.18.0.99"), dst, 1234, 5000, TcpFlags::SYN);
    exchange(&mut sim, &mut host, &n);
    for port in 1..=10u16 {
        let p = nmap_tcp(&mut rng, ip("198.18.0.11"), dst, 45000, port, TcpFlags::SYN);
        exchange(&mut sim, &mut host, &p);
    }
    let a = only(&sim.alerts);
    assert!(a.group.is_empty());
    assert_eq!(a.src, ip("198.18.0.11"));
}
