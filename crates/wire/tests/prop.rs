//! Property tests: parse(emit(r)) == r for every Repr, templates that
//! verify with full checksums, and no panic on arbitrary bytes.

use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vigie_wire::ethernet::{self, EtherType, EthernetRepr, MacAddr};
use vigie_wire::icmpv4::{self, Icmpv4Repr};
use vigie_wire::icmpv6::{self, Icmpv6Repr};
use vigie_wire::ipv4::{self, Ipv4Repr};
use vigie_wire::ipv6::{self, Ipv6Repr};
use vigie_wire::tcp::{self, TcpFlags, TcpRepr};
use vigie_wire::udp::{self, UdpRepr};
use vigie_wire::{checksum, ip_proto, summarize, Body, TcpTemplate, UdpTemplate};

/// Lab addresses only: 198.18.0.0/15.
fn lab_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(|x| Ipv4Addr::from(0xc612_0000 | (x & 0x0001_ffff)))
}

/// Lab addresses only: fd00::/8.
fn lab_v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(|x| Ipv6Addr::from((0xfd_u128 << 120) | (x >> 8)))
}

fn flags() -> impl Strategy<Value = TcpFlags> {
    (0u16..0x200).prop_map(TcpFlags)
}

fn tcp_repr() -> impl Strategy<Value = TcpRepr> {
    (
        (any::<u16>(), any::<u16>(), any::<u32>(), any::<u32>()),
        (flags(), any::<u16>(), any::<u16>()),
        (
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u8>()),
            any::<bool>(),
            proptest::option::of((any::<u32>(), any::<u32>())),
        ),
        0usize..64,
    )
        .prop_map(
            |((sp, dp, seq, ack), (flags, window, urgent), (mss, ws, sack, ts), payload_len)| {
                TcpRepr {
                    src_port: sp,
                    dst_port: dp,
                    seq,
                    ack,
                    flags,
                    window,
                    urgent,
                    mss,
                    window_scale: ws,
                    sack_permitted: sack,
                    timestamp: ts,
                    payload_len,
                }
            },
        )
}

/// Calls every getter of every view that `new_checked` accepts.
fn touch_everything(data: &[u8]) {
    let _ = summarize(data);
    let _ = ipv6::upper_layer(data);
    if let Ok(f) = ethernet::Frame::new_checked(data) {
        let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload().len());
        let _ = EthernetRepr::parse(&f);
    }
    if let Ok(p) = ipv4::Packet::new_checked(data) {
        let _ = (
            p.version(),
            p.header_len(),
            p.dscp_ecn(),
            p.total_len(),
            p.ident(),
        );
        let _ = (
            p.dont_frag(),
            p.more_frags(),
            p.frag_offset(),
            p.ttl(),
            p.protocol(),
        );
        let _ = (p.checksum(), p.src_addr(), p.dst_addr(), p.options().len());
        let _ = (p.verify_checksum(), p.payload().len());
        let _ = Ipv4Repr::parse(&p);
    }
    if let Ok(p) = ipv6::Packet::new_checked(data) {
        let _ = (
            p.version(),
            p.traffic_class(),
            p.flow_label(),
            p.payload_len(),
        );
        let _ = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
        let _ = (p.src(), p.dst(), p.payload().len());
        let _ = Ipv6Repr::parse(&p);
    }
    let a4 = Ipv4Addr::new(198, 18, 0, 1);
    let a6 = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
    if let Ok(p) = tcp::Packet::new_checked(data) {
        let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
        let _ = (
            p.header_len(),
            p.flags(),
            p.window_len(),
            p.checksum(),
            p.urgent_at(),
        );
        let _ = (p.options().len(), p.payload().len());
        let _ = (p.verify_checksum_v4(a4, a4), p.verify_checksum_v6(&a6, &a6));
        let _ = p.flags().to_string();
        let _ = TcpRepr::parse(&p);
    }
    if let Ok(p) = udp::Packet::new_checked(data) {
        let _ = (
            p.src_port(),
            p.dst_port(),
            p.len(),
            p.checksum(),
            p.payload().len(),
        );
        let _ = (p.verify_checksum_v4(a4, a4), p.verify_checksum_v6(&a6, &a6));
        let _ = UdpRepr::parse(&p);
    }
    if let Ok(p) = icmpv4::Packet::new_checked(data) {
        let _ = (
            p.msg_type(),
            p.code(),
            p.checksum(),
            p.echo_ident(),
            p.echo_seq(),
        );
        let _ = (p.data().len(), p.verify_checksum());
        let _ = Icmpv4Repr::parse(&p);
    }
    if let Ok(p) = icmpv6::Packet::new_checked(data) {
        let _ = (
            p.msg_type(),
            p.code(),
            p.checksum(),
            p.echo_ident(),
            p.echo_seq(),
        );
        let _ = (p.rest(), p.data().len(), p.verify_checksum(&a6, &a6));
        let _ = Icmpv6Repr::parse(&p);
    }
}

/// A valid-looking start so that mutations reach deep code paths: an
/// ICMP(v6) error quoting a TCP packet, or a plain TCP packet.
fn seeded_bytes() -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = vec![
        // IPv4 ICMP port unreachable quoting IPv4 TCP.
        [
            &[
                0x45, 0, 0, 56, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1,
            ][..],
            &[3, 3, 0, 0, 0, 0, 0, 0][..],
            &[
                0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2,
            ][..],
            &[0x9c, 0x40, 0, 80, 1, 2, 3, 4][..],
        ]
        .concat(),
        // IPv6 ICMPv6 unreachable quoting IPv6 + hop-by-hop + TCP.
        [
            &[0x60, 0, 0, 0, 0, 64, 58, 64][..],
            &[0xfd; 32][..],
            &[1, 1, 0, 0, 0, 0, 0, 0][..],
            &[0x60, 0, 0, 0, 0, 28, 0, 64][..],
            &[0xfd; 32][..],
            &[6, 0, 1, 4, 0, 0, 0, 0][..],
            &[
                0x9c, 0x40, 0, 80, 1, 2, 3, 4, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0,
            ][..],
        ]
        .concat(),
    ];
    (
        proptest::sample::select(seeds),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut v, muts, cut)| {
            for (i, b) in muts {
                let at = i.index(v.len());
                v[at] = b;
            }
            let keep = cut.index(v.len() + 1);
            v.truncate(keep.max(v.len() - 8));
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn nothing_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..160)) {
        touch_everything(&data);
        // With a valid version nibble to get past the first check.
        let mut d = data.clone();
        if let Some(b) = d.first_mut() { *b = 0x45; }
        touch_everything(&d);
        if let Some(b) = d.first_mut() { *b = 0x60; }
        touch_everything(&d);
    }

    #[test]
    fn nothing_panics_on_mutated_packets(data in seeded_bytes()) {
        touch_everything(&data);
        if data.len() > 20 {
            touch_everything(&data[20..]);
        }
        if data.len() > 40 {
            touch_everything(&data[40..]);
        }
    }
}

proptest! {
    #[test]
    fn ipv4_roundtrip(src in lab_v4(), dst in lab_v4(), protocol: u8, ttl: u8, ident: u16,
                      payload_len in 0usize..100, dont_frag: bool) {
        let r = Ipv4Repr { src, dst, protocol, ttl, ident, payload_len, dont_frag };
        let mut buf = vec![0xa5; r.buffer_len()];
        let mut p = ipv4::Packet::new_unchecked(&mut buf[..]);
        r.emit(&mut p);
        let p = ipv4::Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(Ipv4Repr::parse(&p), Ok(r));
    }

    #[test]
    fn ipv6_roundtrip(src in lab_v6(), dst in lab_v6(), next_header: u8, hop_limit: u8,
                      payload_len in 0usize..100) {
        let r = Ipv6Repr { src, dst, next_header, hop_limit, payload_len };
        let mut buf = vec![0xa5; r.buffer_len()];
        r.emit(&mut ipv6::Packet::new_unchecked(&mut buf[..]));
        let p = ipv6::Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Ipv6Repr::parse(&p), Ok(r));
    }

    #[test]
    fn tcp_roundtrip_v4(r in tcp_repr(), src in lab_v4(), dst in lab_v4(), fill: u8) {
        let mut buf = vec![fill; r.buffer_len()];
        r.emit(&mut tcp::Packet::new_unchecked(&mut buf[..]), &IpAddr::V4(src), &IpAddr::V4(dst));
        let p = tcp::Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum_v4(src, dst));
        prop_assert_eq!(TcpRepr::parse(&p), Ok(r));
    }

    #[test]
    fn tcp_roundtrip_v6(r in tcp_repr(), src in lab_v6(), dst in lab_v6()) {
        let mut buf = vec![0xa5; r.buffer_len()];
        r.emit(&mut tcp::Packet::new_unchecked(&mut buf[..]), &IpAddr::V6(src), &IpAddr::V6(dst));
        let p = tcp::Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum_v6(&src, &dst));
        prop_assert_eq!(TcpRepr::parse(&p), Ok(r));
    }

    #[test]
    fn udp_roundtrip(src_port: u16, dst_port: u16, payload in proptest::collection::vec(any::<u8>(), 0..64),
                     s4 in lab_v4(), d4 in lab_v4(), s6 in lab_v6(), d6 in lab_v6()) {
        let r = UdpRepr { src_port, dst_port, payload_len: payload.len() };
        let mut buf = vec![0xa5; r.buffer_len()];
        buf[8..].copy_from_slice(&payload);
        r.emit(&mut udp::Packet::new_unchecked(&mut buf[..]), &IpAddr::V4(s4), &IpAddr::V4(d4));
        let p = udp::Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(p.checksum() != 0);
        prop_assert!(p.verify_checksum_v4(s4, d4));
        prop_assert_eq!(UdpRepr::parse(&p), Ok(r));
        prop_assert_eq!(p.payload(), &payload[..]);
        r.emit(&mut udp::Packet::new_unchecked(&mut buf[..]), &IpAddr::V6(s6), &IpAddr::V6(d6));
        let p = udp::Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum_v6(&s6, &d6));
    }

    #[test]
    fn icmp_roundtrip(msg_type: u8, code: u8, ident: u16, seq: u16,
                      data in proptest::collection::vec(any::<u8>(), 0..64),
                      s6 in lab_v6(), d6 in lab_v6()) {
        let r4 = Icmpv4Repr { msg_type, code, ident, seq, data_len: data.len() };
        let mut buf = vec![0xa5; r4.buffer_len()];
        buf[8..].copy_from_slice(&data);
        r4.emit(&mut icmpv4::Packet::new_unchecked(&mut buf[..]));
        let p = icmpv4::Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum());
        prop_assert_eq!(Icmpv4Repr::parse(&p), Ok(r4));

        let r6 = Icmpv6Repr { msg_type, code, ident, seq, data_len: data.len() };
        let mut buf = vec![0xa5; r6.buffer_len()];
        buf[8..].copy_from_slice(&data);
        r6.emit(&mut icmpv6::Packet::new_unchecked(&mut buf[..]), &s6, &d6);
        let p = icmpv6::Packet::new_checked(&buf[..]).unwrap();
        prop_assert!(p.verify_checksum(&s6, &d6));
        prop_assert_eq!(Icmpv6Repr::parse(&p), Ok(r6));
    }

    #[test]
    fn ethernet_roundtrip(src: [u8; 6], dst: [u8; 6], ethertype: u16) {
        let r = EthernetRepr { src: MacAddr(src), dst: MacAddr(dst), ethertype: EtherType(ethertype) };
        let mut buf = [0xa5u8; 14];
        r.emit(&mut ethernet::Frame::new_unchecked(&mut buf[..]));
        let f = ethernet::Frame::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(EthernetRepr::parse(&f), Ok(r));
    }

    #[test]
    fn incremental_checksum_matches_full(mut data in proptest::collection::vec(any::<u8>(), 2..64),
                                         at in any::<prop::sample::Index>(),
                                         new in proptest::collection::vec(any::<u8>(), 0..16)) {
        // Word 0 holds the checksum of the rest.
        if data.len() % 2 == 1 { data.push(0); }
        data[0] = 0; data[1] = 0;
        let c0 = checksum::finish(checksum::sum(&data, 0));
        data[..2].copy_from_slice(&c0.to_be_bytes());
        prop_assert_eq!(checksum::finish(checksum::sum(&data, 0)), 0);
        // Replace an aligned run of whole words after the checksum word.
        let words = (data.len() - 2) / 2;
        if words == 0 { return Ok(()); }
        let start = 2 + 2 * at.index(words);
        let n = (new.len() / 2 * 2).min(data.len() - start);
        let old = data[start..start + n].to_vec();
        let c1 = checksum::adjust(c0, &old, &new[..n]);
        data[start..start + n].copy_from_slice(&new[..n]);
        data[..2].copy_from_slice(&c1.to_be_bytes());
        prop_assert_eq!(checksum::finish(checksum::sum(&data, 0)), 0);
        // And one word with adjust16.
        if n >= 2 {
            let old16 = u16::from_be_bytes([data[start], data[start + 1]]);
            let new16 = old16.wrapping_mul(31).wrapping_add(7);
            let c2 = checksum::adjust16(c1, old16, new16);
            data[start..start + 2].copy_from_slice(&new16.to_be_bytes());
            data[..2].copy_from_slice(&c2.to_be_bytes());
            prop_assert_eq!(checksum::finish(checksum::sum(&data, 0)), 0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn tcp_template_v4_verifies(src in lab_v4(), dst in lab_v4(), flags in flags(), window: u16,
                                mss in proptest::option::of(any::<u16>()), ttl: u8,
                                sport: u16, dport: u16, seq: u32, ack: u32, ident: u16) {
        let t = TcpTemplate::new(IpAddr::V4(src), flags, window, mss, ttl);
        prop_assert_eq!(t.len(), if mss.is_some() { 44 } else { 40 });
        let mut buf = [0xa5u8; 128];
        let n = t.stamp(&mut buf, IpAddr::V4(dst), sport, dport, seq, ack, ident);
        prop_assert_eq!(n, t.len());
        let ip = ipv4::Packet::new_checked(&buf[..n]).unwrap();
        prop_assert!(ip.verify_checksum());
        prop_assert_eq!(Ipv4Repr::parse(&ip), Ok(Ipv4Repr {
            src, dst, protocol: ip_proto::TCP, ttl, ident, payload_len: n - 20, dont_frag: false,
        }));
        let seg = tcp::Packet::new_checked(ip.payload()).unwrap();
        prop_assert!(seg.verify_checksum_v4(src, dst));
        prop_assert_eq!(TcpRepr::parse(&seg), Ok(TcpRepr {
            src_port: sport, dst_port: dport, seq, ack, flags, window, mss, ..TcpRepr::default()
        }));
        prop_assert_eq!(summarize(&buf[..n]).map(|s| s.body), Some(Body::Tcp {
            sport, dport, seq, ack, flags, window,
        }));
        // Bytes past the packet are untouched.
        prop_assert!(buf[n..].iter().all(|&b| b == 0xa5));
        // Wrong family: nothing written.
        prop_assert_eq!(t.stamp(&mut buf, IpAddr::V6(Ipv6Addr::LOCALHOST), 1, 2, 3, 4, 5), 0);
    }

    #[test]
    fn tcp_template_v6_verifies(src in lab_v6(), dst in lab_v6(), r in tcp_repr(), ttl: u8,
                                sport: u16, dport: u16, seq: u32, ack: u32, ident: u16) {
        let t = TcpTemplate::from_repr(IpAddr::V6(src), &r, ttl);
        let mut buf = [0xa5u8; 128];
        let n = t.stamp(&mut buf, IpAddr::V6(dst), sport, dport, seq, ack, ident);
        prop_assert_eq!(n, 40 + r.header_len());
        let ip = ipv6::Packet::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(Ipv6Repr::parse(&ip), Ok(Ipv6Repr {
            src, dst, next_header: ip_proto::TCP, hop_limit: ttl, payload_len: n - 40,
        }));
        let seg = tcp::Packet::new_checked(ip.payload()).unwrap();
        prop_assert!(seg.verify_checksum_v6(&src, &dst));
        prop_assert_eq!(TcpRepr::parse(&seg), Ok(TcpRepr {
            src_port: sport, dst_port: dport, seq, ack, payload_len: 0, ..r
        }));
        prop_assert!(buf[n..].iter().all(|&b| b == 0xa5));
        prop_assert_eq!(t.stamp(&mut buf, IpAddr::V4(Ipv4Addr::LOCALHOST), 1, 2, 3, 4, 5), 0);
    }

    #[test]
    fn udp_template_verifies(s4 in lab_v4(), d4 in lab_v4(), s6 in lab_v6(), d6 in lab_v6(),
                             ttl: u8, sport: u16, dport: u16, ident: u16,
                             payload in proptest::collection::vec(any::<u8>(), 0..80)) {
        let mut buf = [0xa5u8; 256];
        let t = UdpTemplate::new(IpAddr::V4(s4), ttl);
        let n = t.stamp(&mut buf, IpAddr::V4(d4), sport, dport, ident, &payload);
        prop_assert_eq!(n, 28 + payload.len());
        let ip = ipv4::Packet::new_checked(&buf[..n]).unwrap();
        prop_assert!(ip.verify_checksum());
        prop_assert_eq!(Ipv4Repr::parse(&ip), Ok(Ipv4Repr {
            src: s4, dst: d4, protocol: ip_proto::UDP, ttl, ident, payload_len: n - 20, dont_frag: false,
        }));
        let u = udp::Packet::new_checked(ip.payload()).unwrap();
        prop_assert!(u.checksum() != 0);
        prop_assert!(u.verify_checksum_v4(s4, d4));
        prop_assert_eq!((u.src_port(), u.dst_port(), u.payload()), (sport, dport, &payload[..]));
        prop_assert_eq!(summarize(&buf[..n]).map(|s| s.body), Some(Body::Udp {
            sport, dport, payload_offset: 28, payload_len: payload.len(),
        }));
        prop_assert!(buf[n..].iter().all(|&b| b == 0xa5));

        let t = UdpTemplate::new(IpAddr::V6(s6), ttl);
        let n = t.stamp(&mut buf, IpAddr::V6(d6), sport, dport, ident, &payload);
        prop_assert_eq!(n, 48 + payload.len());
        let ip = ipv6::Packet::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(Ipv6Repr::parse(&ip), Ok(Ipv6Repr {
            src: s6, dst: d6, next_header: ip_proto::UDP, hop_limit: ttl, payload_len: n - 40,
        }));
        let u = udp::Packet::new_checked(ip.payload()).unwrap();
        prop_assert!(u.verify_checksum_v6(&s6, &d6));
        prop_assert_eq!(u.payload(), &payload[..]);
        prop_assert_eq!(t.stamp(&mut buf, IpAddr::V4(d4), 1, 2, 3, b""), 0);
    }
}
