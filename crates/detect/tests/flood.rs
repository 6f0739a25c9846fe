//! A random-source SYN flood: bounded memory, and a real scan during the
//! flood still alerts. Sources are random bytes from 198.18.0.0/15 and the
//! reserved 240.0.0.0/4; nothing is ever sent.

mod common;

use common::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;
use vigie_detect::{Kind, Tool};
use vigie_wire::TcpFlags;

fn flood_source(rng: &mut Rng) -> IpAddr {
    let r = rng.u32();
    let a = if r & 1 == 0 {
        0xc612_0000 | (r >> 15) // 198.18.0.0/15
    } else {
        0xf000_0000 | (r >> 4) // 240.0.0.0/4
    };
    IpAddr::V4(Ipv4Addr::from(a))
}

fn run(flood: usize, every: usize) -> (Sim, usize) {
    let dst = ip("198.18.0.2");
    let scanner = ip("198.18.0.11");
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    host.open = vec![80];
    let mut rng = Rng(67);
    let mut scan_rng = Rng(71);
    let mut port = 1u16;
    let mut peak = 0;
    for i in 0..flood {
        // hping3-like: window 512, no options, random everything.
        let mut h = IpHdr::new(flood_source(&mut rng), dst);
        h.ttl = 64;
        h.id = rng.u16();
        h.df = false;
        let dport = if i % 2 == 0 { 80 } else { rng.u16() | 1 };
        let t = tcp_seg(rng.u16(), dport, rng.u32(), 0, TcpFlags::SYN, 512);
        exchange(&mut sim, &mut host, &tcp_packet(h, t));
        if i % every == 0 {
            let p = nmap_tcp(&mut scan_rng, scanner, dst, 60000, port, TcpFlags::SYN);
            port += 1;
            exchange(&mut sim, &mut host, &p);
        }
        sim.advance(Duration::from_micros(20));
        if i % 4096 == 0 {
            peak = peak.max(sim.det.memory_estimate());
        }
    }
    peak = peak.max(sim.det.memory_estimate());
    (sim, peak)
}

#[test]
fn flood_keeps_memory_bounded_and_the_scan_is_reported() {
    // 50,000 spoofed sources, one SYN each; nmap's SYN scan interleaved,
    // one probe every 2,000 flood packets (the table turns over three
    // times between the scan's first and fifth probes).
    let (sim, peak) = run(50_000, 2_000);
    eprintln!(
        "flood: {} sources tracked, memory estimate peak {:.1} MB",
        sim.det.sources(),
        peak as f64 / 1e6
    );
    assert!(peak <= 32 << 20, "peak {peak}");
    let scans: Vec<_> = sim
        .alerts
        .iter()
        .filter(|a| a.src == ip("198.18.0.11"))
        .collect();
    assert_eq!(scans.len(), 1, "{:#?}", sim.alerts);
    assert_eq!(scans[0].kind, Kind::Syn);
    assert_eq!(scans[0].tool, Some(Tool::Nmap));
    assert_eq!(scans[0].probes, 5);
    // No flood source alerts, alone or as a /24 (one probe each).
    assert_eq!(sim.alerts.len(), 1, "{:#?}", sim.alerts);
}
