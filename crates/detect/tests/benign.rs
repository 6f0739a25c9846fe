//! Benign traffic over long virtual times: no alert at all.

mod common;

use common::*;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;
use vigie_detect::{Dir, Link};
use vigie_wire::{icmpv6, TcpFlags};

const HOST: &str = "198.18.0.2";

/// One full client connection to `host`: handshake, request, response,
/// FIN both ways.
fn connection(sim: &mut Sim, host: &mut Host, client: IpAddr, sport: u16, port: u16, data: bool) {
    let dst = host.addr;
    let seq = 0x2000_0000 ^ u32::from(sport);
    let syn = stack_syn(client, dst, sport, port, seq);
    sim.inbound(&syn);
    let Some(ans) = host.answer(&syn) else { return };
    sim.outbound(&ans);
    let (isn, _, flags) = seq_ack(&ans);
    if !flags.contains(TcpFlags::SYN) {
        return;
    }
    let (c, s) = (seq + 1, isn + 1);
    sim.inbound(&stack_seg(client, dst, sport, port, c, s, TcpFlags::ACK, 0));
    if data {
        let psh = TcpFlags::PSH | TcpFlags::ACK;
        sim.inbound(&stack_seg(client, dst, sport, port, c, s, psh, 100));
        sim.outbound(&stack_seg(dst, client, port, sport, s, c + 100, psh, 1000));
    }
    let fin = TcpFlags::FIN | TcpFlags::ACK;
    sim.outbound(&stack_seg(
        dst,
        client,
        port,
        sport,
        s + 1000,
        c + 100,
        fin,
        0,
    ));
    sim.inbound(&stack_seg(
        client,
        dst,
        sport,
        port,
        c + 100,
        s + 1001,
        fin,
        0,
    ));
    sim.inbound(&stack_seg(
        client,
        dst,
        sport,
        port,
        c + 101,
        s + 1002,
        TcpFlags::ACK,
        0,
    ));
}

fn quiet(sim: &Sim) {
    assert!(sim.alerts.is_empty(), "{:#?}", sim.alerts);
}

#[test]
fn web_clients() {
    let mut sim = Sim::new(&[ip(HOST)]);
    let mut host = Host::new(ip(HOST));
    host.open = vec![80, 443];
    let mut rng = Rng(73);
    for i in 0..20_000u32 {
        let client = ip(&format!("198.19.{}.{}", i % 200, (i / 200) % 250 + 1));
        let port = if i % 3 == 0 { 80 } else { 443 };
        connection(
            &mut sim,
            &mut host,
            client,
            1024 + rng.u16() % 60000,
            port,
            true,
        );
        sim.advance(Duration::from_millis(180)); // one hour
    }
    quiet(&sim);
}

#[test]
fn monitor_checks_three_open_ports_every_second() {
    let mut sim = Sim::new(&[ip(HOST)]);
    let mut host = Host::new(ip(HOST));
    host.open = vec![22, 80, 443];
    let monitor = ip("198.18.0.50");
    let mut sport = 32768u16;
    for _ in 0..7200 {
        for port in [22, 80, 443] {
            sport = sport.wrapping_add(1).max(32768);
            // A TCP check: connect, then reset at once (no data).
            let seq = u32::from(sport) << 8;
            let syn = stack_syn(monitor, host.addr, sport, port, seq);
            sim.inbound(&syn);
            let ans = host.answer(&syn).unwrap();
            sim.outbound(&ans);
            let (isn, _, _) = seq_ack(&ans);
            let ack = TcpFlags::ACK;
            sim.inbound(&stack_seg(
                monitor,
                host.addr,
                sport,
                port,
                seq + 1,
                isn + 1,
                ack,
                0,
            ));
            let rst = TcpFlags::RST | TcpFlags::ACK;
            sim.inbound(&stack_seg(
                monitor,
                host.addr,
                sport,
                port,
                seq + 1,
                isn + 1,
                rst,
                0,
            ));
        }
        sim.advance(Duration::from_secs(1));
    }
    quiet(&sim);
}

#[test]
fn dns_server_and_client() {
    let mut sim = Sim::new(&[ip(HOST)]);
    let resolver = ip("198.18.0.53");
    let me = ip(HOST);
    let mut rng = Rng(79);
    for i in 0..5000u32 {
        // Clients query us on 53; we answer.
        let client = ip(&format!("198.19.0.{}", i % 250 + 1));
        let sport = 1024 + rng.u16() % 60000;
        sim.inbound(&udp_packet(IpHdr::new(client, me), sport, 53, b"q"));
        sim.outbound(&udp_packet(IpHdr::new(me, client), 53, sport, b"answer"));
        // We query our resolver; its answers come back to many ports.
        let ours = 1024 + rng.u16() % 60000;
        sim.outbound(&udp_packet(IpHdr::new(me, resolver), ours, 53, b"q"));
        sim.inbound(&udp_packet(IpHdr::new(resolver, me), 53, ours, b"answer"));
        // ... and a few late ones whose query we never saw.
        if i % 10 == 0 {
            let late = 1024 + rng.u16() % 60000;
            sim.inbound(&udp_packet(IpHdr::new(resolver, me), 53, late, b"late"));
        }
        sim.advance(Duration::from_millis(500));
    }
    quiet(&sim);
}

#[test]
fn retries_to_one_closed_port_and_syn_retransmits() {
    let mut sim = Sim::new(&[ip(HOST)]);
    let mut host = Host::new(ip(HOST));
    host.dropped = vec![9999];
    let client = ip("198.18.0.60");
    for i in 0..2000u16 {
        // A client retrying a closed port, a new connection each time.
        let syn = stack_syn(client, host.addr, 40000 + i, 8081, u32::from(i));
        exchange(&mut sim, &mut host, &syn);
        // Another one retransmitting its SYN to a dropped port.
        for _ in 0..6 {
            let syn = stack_syn(client, host.addr, 50000, 9999, 7);
            exchange(&mut sim, &mut host, &syn);
        }
        sim.advance(Duration::from_secs(3));
    }
    quiet(&sim);
}

#[test]
fn passive_ftp() {
    let mut sim = Sim::new(&[ip(HOST)]);
    let mut host = Host::new(ip(HOST));
    let client = ip("198.18.0.70");
    let mut sport = 40000;
    for session in 0..50u16 {
        host.open = vec![21];
        sport += 1;
        connection(&mut sim, &mut host, client, sport, 21, true);
        // Passive data connections: the server sends, then closes.
        for k in 0..4u16 {
            let data_port = 50000 + session * 7 + k;
            host.open = vec![21, data_port];
            sport += 1;
            connection(&mut sim, &mut host, client, sport, data_port, k % 2 == 0);
        }
        sim.advance(Duration::from_secs(60));
    }
    quiet(&sim);
}

#[test]
fn replies_to_our_own_connections_and_backscatter() {
    let me = ip(HOST);
    let mut sim = Sim::new(&[me]);
    let mut rng = Rng(83);
    for i in 0..5000u32 {
        // We browse: SYN out, SYN-ACK, data and FIN back from servers.
        let server = ip(&format!("198.19.{}.{}", i % 100, i % 250 + 1));
        let sport = 32768 + (i % 28000) as u16;
        sim.outbound(&stack_syn(me, server, sport, 443, i));
        let sa = TcpFlags::SYN | TcpFlags::ACK;
        sim.inbound(&stack_seg(server, me, 443, sport, 9, i + 1, sa, 0));
        sim.outbound(&stack_seg(
            me,
            server,
            sport,
            443,
            i + 1,
            10,
            TcpFlags::ACK,
            0,
        ));
        let psh = TcpFlags::PSH | TcpFlags::ACK;
        sim.inbound(&stack_seg(server, me, 443, sport, 10, i + 1, psh, 1400));
        let fin = TcpFlags::FIN | TcpFlags::ACK;
        sim.inbound(&stack_seg(server, me, 443, sport, 1410, i + 1, fin, 0));
        // Backscatter from someone spoofing us: SYN-ACKs and RSTs.
        let victim = ip(&format!("198.19.200.{}", i % 250 + 1));
        let port = rng.u16();
        sim.inbound(&stack_seg(victim, me, 80, port, 1, 2, sa, 0));
        let rst = TcpFlags::RST | TcpFlags::ACK;
        sim.inbound(&stack_seg(
            victim,
            me,
            80,
            port.wrapping_add(1),
            0,
            2,
            rst,
            0,
        ));
        // Late packets of connections whose start we never saw.
        sim.inbound(&stack_seg(
            server,
            me,
            443,
            rng.u16() | 0x8000,
            5,
            5,
            fin,
            0,
        ));
        sim.advance(Duration::from_millis(700));
    }
    quiet(&sim);
}

#[test]
fn conntrack_leftovers() {
    let mut sim = Sim::new(&[ip(HOST)]);
    let mut host = Host::new(ip(HOST));
    for c in 0..3u8 {
        let client = ip(&format!("198.18.0.{}", 80 + c));
        for (k, port) in [22u16, 5432, 6379].into_iter().enumerate() {
            let sport = 40000 + k as u16;
            for n in 0..20u32 {
                let flags = match n % 3 {
                    0 => TcpFlags::ACK,
                    1 => TcpFlags::FIN | TcpFlags::ACK,
                    _ => TcpFlags::RST,
                };
                let seg = stack_seg(client, host.addr, sport, port, n, n, flags, 0);
                exchange(&mut sim, &mut host, &seg);
                sim.advance(Duration::from_millis(300));
            }
        }
    }
    quiet(&sim);
}

#[test]
fn ipv6_nd_mld_ra() {
    let me: Ipv6Addr = "fd00::2".parse().unwrap();
    let mut sim = Sim::new(&[IpAddr::V6(me)]);
    let router: Ipv6Addr = "fe80::1".parse().unwrap();
    for i in 0..3600u16 {
        // The router resolves a few neighbours, including us.
        for t in [me, "fd00::3".parse().unwrap(), "fd00::4".parse().unwrap()] {
            sim.inbound(&neighbor_solicit(router, t));
        }
        // Privacy addresses: DAD from :: for a new address now and then.
        if i % 60 == 0 {
            let new = Ipv6Addr::new(0xfd00, 0, 0, 0, i, 1, 2, 3);
            sim.inbound(&neighbor_solicit(Ipv6Addr::UNSPECIFIED, new));
        }
        // RA to all-nodes, MLD reports to ff02::16.
        let mut h = IpHdr::new(IpAddr::V6(router), ip("ff02::1"));
        h.ttl = 255;
        sim.inbound(&icmp_packet(h, icmpv6::ROUTER_ADVERT, 0, 0, 0, &[0; 8]));
        let h = IpHdr::new(IpAddr::V6(router), ip("ff02::16"));
        sim.inbound(&icmp_packet(h, 143, 0, 0, 1, &[0; 20]));
        sim.advance(Duration::from_secs(1));
    }
    quiet(&sim);
}

#[test]
fn traceroute_to_us() {
    let mut sim = Sim::new(&[ip(HOST)]);
    let mut host = Host::new(ip(HOST));
    for run in 0..100u16 {
        for probe in 0..30u16 {
            let mut h = IpHdr::new(ip("198.18.0.90"), host.addr);
            h.ttl = 1 + (probe / 3) as u8;
            let p = udp_packet(h, 40000 + run, 33434 + probe, &[0; 32]);
            exchange(&mut sim, &mut host, &p);
        }
        sim.advance(Duration::from_secs(30));
    }
    quiet(&sim);
}

#[test]
fn ethernet_frames_of_benign_arp() {
    // Hosts resolving their gateway and a couple of peers.
    let mut sim = Sim::new(&[ip(HOST)]);
    for i in 0..3600u32 {
        let sender = std::net::Ipv4Addr::new(198, 18, 0, (i % 20) as u8 + 10);
        for t in [1u8, 2, 3] {
            let f = arp_request(sender, std::net::Ipv4Addr::new(198, 18, 0, t));
            sim.feed(Link::Ethernet, Dir::In, &f);
        }
        sim.advance(Duration::from_secs(1));
    }
    quiet(&sim);
}
