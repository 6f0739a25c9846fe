//! Literal packets, every field asserted; `summarize` on each; emit into
//! buffers pre-filled with 0xa5 and compare bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vigie_wire::ethernet::{EtherType, EthernetRepr, Frame, MacAddr};
use vigie_wire::icmpv4::{self, Icmpv4Repr};
use vigie_wire::icmpv6::{self, Icmpv6Repr};
use vigie_wire::ipv4::{self, Ipv4Repr};
use vigie_wire::ipv6::{self, Ipv6Repr, UpperLayer};
use vigie_wire::tcp::{self, TcpFlags, TcpRepr};
use vigie_wire::udp::{self, UdpRepr};
use vigie_wire::{ip_proto, summarize, Body, Error, Quoted, Summary};

#[rustfmt::skip]
/// 198.18.0.2:80 > 198.18.0.1:40000 SYN|ACK, DF, TTL 64, MSS 1460 (Linux
/// answering a SYN whose seq was 0x0badcafe).
const SYNACK_V4: [u8; 44] = [
    0x45, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0xae, 0xa4,
    0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, 0x00, 0x50, 0x9c, 0x40,
    0x1a, 0x2b, 0x3c, 0x4d, 0x0b, 0xad, 0xca, 0xff, 0x60, 0x12, 0xfa, 0xf0,
    0x47, 0x48, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
];

#[rustfmt::skip]
/// 198.18.0.2:81 > 198.18.0.1:40001 RST|ACK, window 0 (closed port).
const RSTACK_V4: [u8; 40] = [
    0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0xae, 0xa8,
    0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, 0x00, 0x51, 0x9c, 0x41,
    0x00, 0x00, 0x00, 0x00, 0x0b, 0xad, 0xca, 0xff, 0x50, 0x14, 0x00, 0x00,
    0xb0, 0x69, 0x00, 0x00,
];

#[rustfmt::skip]
/// 198.18.0.2 > 198.18.0.1 ICMP port unreachable (iptables REJECT), TOS 0xc0,
/// quoting the whole SYN 198.18.0.1:40002 > 198.18.0.2:82 (TTL 58 on arrival).
const PORT_UNREACH_V4: [u8; 72] = [
    0x45, 0xc0, 0x00, 0x48, 0x1c, 0x46, 0x00, 0x00, 0x3f, 0x01, 0xd2, 0x87,
    0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, 0x03, 0x03, 0x89, 0x43,
    0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x30, 0x39, 0x00, 0x00,
    0x3a, 0x06, 0xc4, 0x6b, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02,
    0x9c, 0x42, 0x00, 0x52, 0x0b, 0xad, 0xca, 0xfe, 0x00, 0x00, 0x00, 0x00,
    0x60, 0x02, 0x04, 0x00, 0x94, 0xbe, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
];

#[rustfmt::skip]
/// 198.18.0.254 > 198.18.0.1 ICMP host unreachable from a router that quotes
/// only the IP header + 8 bytes; the quoted total length still says 44.
const HOST_UNREACH_SHORT_V4: [u8; 56] = [
    0x45, 0x00, 0x00, 0x38, 0x00, 0x01, 0x00, 0x00, 0xfe, 0x01, 0x2f, 0xa0,
    0xc6, 0x12, 0x00, 0xfe, 0xc6, 0x12, 0x00, 0x01, 0x03, 0x01, 0x89, 0xbe,
    0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x30, 0x39, 0x00, 0x00,
    0x3a, 0x06, 0xc4, 0x6b, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02,
    0x9c, 0x42, 0x00, 0x52, 0x0b, 0xad, 0xca, 0xfe,
];

#[rustfmt::skip]
/// 198.18.0.2:53 > 198.18.0.1:40003 UDP with a 12-byte DNS header.
const UDP_V4: [u8; 40] = [
    0x45, 0x00, 0x00, 0x28, 0x04, 0xd2, 0x40, 0x00, 0x40, 0x11, 0xa9, 0xcb,
    0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, 0x00, 0x35, 0x9c, 0x43,
    0x00, 0x14, 0xa9, 0xd7, 0xab, 0xcd, 0x81, 0x80, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];

#[rustfmt::skip]
/// 198.18.0.2 > 198.18.0.1 ICMP echo reply, id 0x1234, seq 7, 12 data bytes.
const ECHO_REPLY_V4: [u8; 40] = [
    0x45, 0x00, 0x00, 0x28, 0x00, 0x77, 0x00, 0x00, 0x40, 0x01, 0xee, 0x36,
    0xc6, 0x12, 0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, 0x00, 0x00, 0xaa, 0xd2,
    0x12, 0x34, 0x00, 0x07, 0x76, 0x69, 0x67, 0x69, 0x65, 0x2d, 0x70, 0x69,
    0x6e, 0x67, 0x21, 0x21,
];

#[rustfmt::skip]
/// fd00::2 > fd00::1 ICMPv6 destination unreachable, administratively
/// prohibited, quoting the SYN [fd00::1]:40004 > [fd00::2]:22 with MSS.
const ADMIN_PROHIB_V6: [u8; 112] = [
    0x60, 0x00, 0x00, 0x00, 0x00, 0x48, 0x3a, 0x40, 0xfd, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x9e, 0x3d, 0x00, 0x00, 0x00, 0x00,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x9c, 0x44, 0x00, 0x16, 0xde, 0xad, 0xbe, 0xef,
    0x00, 0x00, 0x00, 0x00, 0x60, 0x02, 0x04, 0x00, 0x60, 0x2a, 0x00, 0x00,
    0x02, 0x04, 0x05, 0xb4,
];

#[rustfmt::skip]
/// [fd00::2]:443 > [fd00::1]:50000 SYN|ACK, hop limit 63, MSS 1460 + NOP +
/// window scale 7.
const SYNACK_V6: [u8; 68] = [
    0x60, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x06, 0x3f, 0xfd, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x01, 0xbb, 0xc3, 0x50, 0x01, 0x02, 0x03, 0x04,
    0xde, 0xad, 0xbe, 0xf0, 0x70, 0x12, 0xff, 0xff, 0x23, 0x54, 0x00, 0x00,
    0x02, 0x04, 0x05, 0xb4, 0x01, 0x03, 0x03, 0x07,
];

#[rustfmt::skip]
/// [fd00::2]:161 > [fd00::1]:40005 UDP behind a hop-by-hop and a
/// destination-options header (both PadN only).
const UDP_EXT_V6: [u8; 69] = [
    0x60, 0x00, 0x00, 0x00, 0x00, 0x1d, 0x00, 0x40, 0xfd, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
    0x11, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xa1, 0x9c, 0x45,
    0x00, 0x0d, 0x36, 0xe5, 0x30, 0x03, 0x02, 0x01, 0x00,
];

#[rustfmt::skip]
/// fd00::2 > fd00::1 non-first fragment (offset 184, M set) of a TCP segment.
const FRAG_V6: [u8; 64] = [
    0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x2c, 0x40, 0xfd, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x06, 0x00, 0x00, 0xb9, 0x12, 0x34, 0x56, 0x78,
    0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
    0x11, 0x11, 0x11, 0x11,
];

#[rustfmt::skip]
/// fd00::fe > fd00::1 ICMPv6 time exceeded (hop limit 255) quoting a first
/// fragment (offset 0, M set) of UDP [fd00::1]:40006 > [fd00::2]:123; only
/// the UDP header is quoted though the quoted payload length says 56.
const QUOTE_EXT_V6: [u8; 104] = [
    0x60, 0x00, 0x00, 0x00, 0x00, 0x40, 0x3a, 0xff, 0xfd, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x03, 0x00, 0xa9, 0x3f, 0x00, 0x00, 0x00, 0x00,
    0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x2c, 0x40, 0xfd, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x02, 0x11, 0x00, 0x00, 0x01, 0xca, 0xfe, 0xf0, 0x0d,
    0x9c, 0x46, 0x00, 0x7b, 0x00, 0x30, 0x68, 0xc8,
];

fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

const A1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const A2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

#[test]
fn synack_v4_fields() {
    let ip = ipv4::Packet::new_checked(&SYNACK_V4[..]).unwrap();
    assert_eq!(ip.version(), 4);
    assert_eq!(ip.header_len(), 20);
    assert_eq!(ip.dscp_ecn(), 0);
    assert_eq!(ip.total_len(), 44);
    assert_eq!(ip.ident(), 0);
    assert!(ip.dont_frag());
    assert!(!ip.more_frags());
    assert_eq!(ip.frag_offset(), 0);
    assert_eq!(ip.ttl(), 64);
    assert_eq!(ip.protocol(), ip_proto::TCP);
    assert_eq!(ip.checksum(), 0xaea4);
    assert_eq!(ip.src_addr(), A2);
    assert_eq!(ip.dst_addr(), A1);
    assert_eq!(ip.options(), &[] as &[u8]);
    assert!(ip.verify_checksum());
    assert_eq!(ip.payload().len(), 24);

    let t = tcp::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(t.src_port(), 80);
    assert_eq!(t.dst_port(), 40000);
    assert_eq!(t.seq_number(), 0x1a2b_3c4d);
    assert_eq!(t.ack_number(), 0x0bad_caff);
    assert_eq!(t.header_len(), 24);
    assert_eq!(t.flags(), TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(t.flags().to_string(), "SA");
    assert_eq!(t.window_len(), 64240);
    assert_eq!(t.checksum(), 0x4748);
    assert_eq!(t.urgent_at(), 0);
    assert_eq!(t.options(), &[2, 4, 0x05, 0xb4]);
    assert_eq!(t.payload(), &[] as &[u8]);
    assert!(t.verify_checksum_v4(A2, A1));
    assert!(!t.verify_checksum_v4(A1, A1)); // 0xc612+2 replaced by 0xc612+1

    assert_eq!(
        Ipv4Repr::parse(&ip),
        Ok(Ipv4Repr {
            src: A2,
            dst: A1,
            protocol: ip_proto::TCP,
            ttl: 64,
            ident: 0,
            payload_len: 24,
            dont_frag: true,
        })
    );
    assert_eq!(TcpRepr::parse(&t), Ok(synack_v4_tcp_repr()));

    assert_eq!(
        summarize(&SYNACK_V4),
        Some(Summary {
            src: IpAddr::V4(A2),
            dst: IpAddr::V4(A1),
            ttl: 64,
            body: Body::Tcp {
                sport: 80,
                dport: 40000,
                seq: 0x1a2b_3c4d,
                ack: 0x0bad_caff,
                flags: TcpFlags(0x12),
                window: 64240,
            },
        })
    );
}

fn synack_v4_tcp_repr() -> TcpRepr {
    TcpRepr {
        src_port: 80,
        dst_port: 40000,
        seq: 0x1a2b_3c4d,
        ack: 0x0bad_caff,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 64240,
        urgent: 0,
        mss: Some(1460),
        window_scale: None,
        sack_permitted: false,
        timestamp: None,
        payload_len: 0,
    }
}

/// Emits an IPv4 + TCP packet into a 0xa5-filled buffer of exactly the
/// right length.
fn emit_v4_tcp(ip: &Ipv4Repr, t: &TcpRepr) -> Vec<u8> {
    let mut buf = vec![0xa5; ip.header_len() + t.buffer_len()];
    let mut p = ipv4::Packet::new_unchecked(&mut buf[..]);
    ip.emit(&mut p);
    let mut seg = tcp::Packet::new_unchecked(p.payload_mut());
    t.emit(&mut seg, &IpAddr::V4(ip.src), &IpAddr::V4(ip.dst));
    buf
}

#[test]
fn synack_v4_emit() {
    let ip = Ipv4Repr {
        src: A2,
        dst: A1,
        protocol: ip_proto::TCP,
        ttl: 64,
        ident: 0,
        payload_len: 24,
        dont_frag: true,
    };
    assert_eq!(ip.buffer_len(), 44);
    assert_eq!(synack_v4_tcp_repr().buffer_len(), 24);
    assert_eq!(emit_v4_tcp(&ip, &synack_v4_tcp_repr()), SYNACK_V4);
}

#[test]
fn rstack_v4() {
    let ip = ipv4::Packet::new_checked(&RSTACK_V4[..]).unwrap();
    assert_eq!(ip.total_len(), 40);
    assert_eq!(ip.checksum(), 0xaea8);
    assert!(ip.verify_checksum());
    let t = tcp::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(t.flags(), TcpFlags::RST | TcpFlags::ACK);
    assert_eq!(t.flags().to_string(), "RA");
    assert_eq!(t.header_len(), 20);
    assert_eq!(t.window_len(), 0);
    assert_eq!(t.checksum(), 0xb069);
    assert!(t.verify_checksum_v4(A2, A1));
    let repr = TcpRepr {
        src_port: 81,
        dst_port: 40001,
        seq: 0,
        ack: 0x0bad_caff,
        flags: TcpFlags::RST | TcpFlags::ACK,
        window: 0,
        ..TcpRepr::default()
    };
    assert_eq!(TcpRepr::parse(&t), Ok(repr));
    let ipr = Ipv4Repr::parse(&ip).unwrap();
    assert_eq!(emit_v4_tcp(&ipr, &repr), RSTACK_V4);
    assert_eq!(
        summarize(&RSTACK_V4).unwrap().body,
        Body::Tcp {
            sport: 81,
            dport: 40001,
            seq: 0,
            ack: 0x0bad_caff,
            flags: TcpFlags(0x14),
            window: 0,
        }
    );
}

#[test]
fn port_unreach_v4_quoting_syn() {
    let ip = ipv4::Packet::new_checked(&PORT_UNREACH_V4[..]).unwrap();
    assert_eq!(ip.dscp_ecn(), 0xc0);
    assert_eq!(ip.ident(), 0x1c46);
    assert!(!ip.dont_frag());
    assert_eq!(ip.ttl(), 63);
    assert_eq!(ip.protocol(), ip_proto::ICMP);
    assert_eq!(ip.checksum(), 0xd287);
    assert!(ip.verify_checksum());
    let icmp = icmpv4::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), icmpv4::DEST_UNREACH);
    assert_eq!(icmp.code(), icmpv4::unreach::PORT_UNREACH);
    assert_eq!(icmp.checksum(), 0x8943);
    assert_eq!(icmp.echo_ident(), 0);
    assert_eq!(icmp.echo_seq(), 0);
    assert!(icmp.verify_checksum());
    assert_eq!(icmp.data().len(), 44);
    assert_eq!(
        Icmpv4Repr::parse(&icmp),
        Ok(Icmpv4Repr {
            msg_type: 3,
            code: 3,
            ident: 0,
            seq: 0,
            data_len: 44,
        })
    );
    // The quote is a complete, valid packet here.
    let q = ipv4::Packet::new_checked(icmp.data()).unwrap();
    assert_eq!(q.src_addr(), A1);
    assert_eq!(q.dst_addr(), A2);
    assert_eq!(q.ttl(), 58);
    assert_eq!(q.ident(), 0x3039);
    assert!(q.verify_checksum());
    let qt = tcp::Packet::new_checked(q.payload()).unwrap();
    assert_eq!(qt.flags(), TcpFlags::SYN);
    assert_eq!(qt.flags().to_string(), "S");
    assert_eq!(qt.window_len(), 1024);
    assert!(qt.verify_checksum_v4(A1, A2));

    assert_eq!(
        summarize(&PORT_UNREACH_V4),
        Some(Summary {
            src: IpAddr::V4(A2),
            dst: IpAddr::V4(A1),
            ttl: 63,
            body: Body::IcmpError {
                v6: false,
                icmp_type: 3,
                code: 3,
                quoted: Quoted {
                    src: IpAddr::V4(A1),
                    dst: IpAddr::V4(A2),
                    protocol: ip_proto::TCP,
                    sport: 40002,
                    dport: 82,
                    seq: Some(0x0bad_cafe),
                },
            },
        })
    );
}

#[test]
fn host_unreach_short_quote_is_read_laxly() {
    let ip = ipv4::Packet::new_checked(&HOST_UNREACH_SHORT_V4[..]).unwrap();
    assert!(ip.verify_checksum());
    let icmp = icmpv4::Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum());
    assert_eq!(icmp.code(), icmpv4::unreach::HOST_UNREACH);
    // Strictly, the quote is truncated: its total length says 44, 28 are here.
    assert_eq!(
        ipv4::Packet::new_checked(icmp.data()).err(),
        Some(Error::Truncated)
    );
    assert_eq!(
        summarize(&HOST_UNREACH_SHORT_V4),
        Some(Summary {
            src: IpAddr::V4(v4(198, 18, 0, 254)),
            dst: IpAddr::V4(A1),
            ttl: 254,
            body: Body::IcmpError {
                v6: false,
                icmp_type: icmpv4::DEST_UNREACH,
                code: 1,
                quoted: Quoted {
                    src: IpAddr::V4(A1),
                    dst: IpAddr::V4(A2),
                    protocol: ip_proto::TCP,
                    sport: 40002,
                    dport: 82,
                    seq: Some(0x0bad_cafe),
                },
            },
        })
    );
    // Only 4 bytes of the TCP header quoted: ports yes, seq no.
    let mut cut = HOST_UNREACH_SHORT_V4[..52].to_vec();
    cut[3] = 52;
    match summarize(&cut).unwrap().body {
        Body::IcmpError { quoted, .. } => {
            assert_eq!((quoted.sport, quoted.dport, quoted.seq), (40002, 82, None))
        }
        other => panic!("{other:?}"),
    }
    // A quote too short for an IP header: the error is reported as Other.
    let mut cut = HOST_UNREACH_SHORT_V4[..40].to_vec();
    cut[3] = 40;
    assert_eq!(
        summarize(&cut).unwrap().body,
        Body::Other {
            protocol: ip_proto::ICMP
        }
    );
}

#[test]
fn udp_v4() {
    let ip = ipv4::Packet::new_checked(&UDP_V4[..]).unwrap();
    assert_eq!(ip.ident(), 0x04d2);
    assert!(ip.verify_checksum());
    let u = udp::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(u.src_port(), 53);
    assert_eq!(u.dst_port(), 40003);
    assert_eq!(u.len(), 20);
    assert_eq!(u.checksum(), 0xa9d7);
    assert_eq!(
        u.payload(),
        &[0xab, 0xcd, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert!(u.verify_checksum_v4(A2, A1));
    assert!(!u.verify_checksum_v4(A2, A2));
    let repr = UdpRepr {
        src_port: 53,
        dst_port: 40003,
        payload_len: 12,
    };
    assert_eq!(UdpRepr::parse(&u), Ok(repr));

    let mut buf = [0xa5u8; 40];
    buf[28..].copy_from_slice(&UDP_V4[28..]);
    let ipr = Ipv4Repr::parse(&ip).unwrap();
    let mut p = ipv4::Packet::new_unchecked(&mut buf[..]);
    ipr.emit(&mut p);
    repr.emit(
        &mut udp::Packet::new_unchecked(p.payload_mut()),
        &IpAddr::V4(A2),
        &IpAddr::V4(A1),
    );
    assert_eq!(buf, UDP_V4);

    let expected = Summary {
        src: IpAddr::V4(A2),
        dst: IpAddr::V4(A1),
        ttl: 64,
        body: Body::Udp {
            sport: 53,
            dport: 40003,
            payload_offset: 28,
            payload_len: 12,
        },
    };
    assert_eq!(summarize(&UDP_V4), Some(expected));
    // Ethernet padding after the datagram is ignored.
    let mut padded = UDP_V4.to_vec();
    padded.extend_from_slice(&[0; 6]);
    assert_eq!(summarize(&padded), Some(expected));
}

#[test]
fn echo_reply_v4() {
    let ip = ipv4::Packet::new_checked(&ECHO_REPLY_V4[..]).unwrap();
    let icmp = icmpv4::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), icmpv4::ECHO_REPLY);
    assert_eq!(icmp.code(), 0);
    assert_eq!(icmp.checksum(), 0xaad2);
    assert_eq!(icmp.echo_ident(), 0x1234);
    assert_eq!(icmp.echo_seq(), 7);
    assert_eq!(icmp.data(), b"vigie-ping!!");
    assert!(icmp.verify_checksum());
    let repr = Icmpv4Repr::parse(&icmp).unwrap();
    let mut buf = [0xa5u8; 20];
    buf[8..].copy_from_slice(b"vigie-ping!!");
    repr.emit(&mut icmpv4::Packet::new_unchecked(&mut buf[..]));
    assert_eq!(buf[..], ECHO_REPLY_V4[20..]);
    assert_eq!(
        summarize(&ECHO_REPLY_V4).unwrap().body,
        Body::IcmpEcho {
            v6: false,
            reply: true,
            ident: 0x1234,
            seq: 7,
        }
    );
}

#[test]
fn admin_prohibited_v6_quoting_syn() {
    let ip = ipv6::Packet::new_checked(&ADMIN_PROHIB_V6[..]).unwrap();
    assert_eq!(ip.version(), 6);
    assert_eq!(ip.traffic_class(), 0);
    assert_eq!(ip.flow_label(), 0);
    assert_eq!(ip.payload_len(), 72);
    assert_eq!(ip.next_header(), ip_proto::ICMPV6);
    assert_eq!(ip.hop_limit(), 64);
    assert_eq!(ip.src_addr(), v6("fd00::2"));
    assert_eq!(ip.dst_addr(), v6("fd00::1"));
    assert_eq!(ip.src(), v6("fd00::2"));
    assert_eq!(ip.dst(), v6("fd00::1"));
    assert_eq!(
        Ipv6Repr::parse(&ip),
        Ok(Ipv6Repr {
            src: v6("fd00::2"),
            dst: v6("fd00::1"),
            next_header: 58,
            hop_limit: 64,
            payload_len: 72,
        })
    );
    let icmp = icmpv6::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), icmpv6::DST_UNREACH);
    assert_eq!(icmp.code(), icmpv6::unreach::ADMIN_PROHIBITED);
    assert_eq!(icmp.checksum(), 0x9e3d);
    assert_eq!(icmp.rest(), 0);
    assert!(icmp.verify_checksum(&v6("fd00::2"), &v6("fd00::1")));
    // (Swapping the addresses would not change the sum; another one does.)
    assert!(!icmp.verify_checksum(&v6("fd00::3"), &v6("fd00::1")));
    assert_eq!(icmp.data().len(), 64);
    let repr = Icmpv6Repr::parse(&icmp).unwrap();
    assert_eq!(
        repr,
        Icmpv6Repr {
            msg_type: 1,
            code: 1,
            ident: 0,
            seq: 0,
            data_len: 64,
        }
    );
    let mut buf = [0xa5u8; 72];
    buf[8..].copy_from_slice(icmp.data());
    repr.emit(
        &mut icmpv6::Packet::new_unchecked(&mut buf[..]),
        &v6("fd00::2"),
        &v6("fd00::1"),
    );
    assert_eq!(buf[..], ADMIN_PROHIB_V6[40..]);

    assert_eq!(
        summarize(&ADMIN_PROHIB_V6),
        Some(Summary {
            src: IpAddr::V6(v6("fd00::2")),
            dst: IpAddr::V6(v6("fd00::1")),
            ttl: 64,
            body: Body::IcmpError {
                v6: true,
                icmp_type: 1,
                code: 1,
                quoted: Quoted {
                    src: IpAddr::V6(v6("fd00::1")),
                    dst: IpAddr::V6(v6("fd00::2")),
                    protocol: ip_proto::TCP,
                    sport: 40004,
                    dport: 22,
                    seq: Some(0xdead_beef),
                },
            },
        })
    );
}

#[test]
fn synack_v6() {
    let ip = ipv6::Packet::new_checked(&SYNACK_V6[..]).unwrap();
    assert_eq!(ip.payload_len(), 28);
    assert_eq!(ip.next_header(), ip_proto::TCP);
    assert_eq!(ip.hop_limit(), 63);
    let t = tcp::Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(t.src_port(), 443);
    assert_eq!(t.dst_port(), 50000);
    assert_eq!(t.seq_number(), 0x0102_0304);
    assert_eq!(t.ack_number(), 0xdead_bef0);
    assert_eq!(t.header_len(), 28);
    assert_eq!(t.flags().to_string(), "SA");
    assert_eq!(t.window_len(), 65535);
    assert_eq!(t.checksum(), 0x2354);
    assert_eq!(t.options(), &[2, 4, 0x05, 0xb4, 1, 3, 3, 7]);
    let (s, d) = (v6("fd00::2"), v6("fd00::1"));
    assert!(t.verify_checksum_v6(&s, &d));
    assert!(!t.verify_checksum_v6(&v6("fd00::3"), &d));
    let repr = TcpRepr {
        src_port: 443,
        dst_port: 50000,
        seq: 0x0102_0304,
        ack: 0xdead_bef0,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 65535,
        urgent: 0,
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: false,
        timestamp: None,
        payload_len: 0,
    };
    assert_eq!(TcpRepr::parse(&t), Ok(repr));

    let ipr = Ipv6Repr::parse(&ip).unwrap();
    let mut buf = [0xa5u8; 68];
    let mut p = ipv6::Packet::new_unchecked(&mut buf[..]);
    ipr.emit(&mut p);
    repr.emit(
        &mut tcp::Packet::new_unchecked(p.payload_mut()),
        &IpAddr::V6(s),
        &IpAddr::V6(d),
    );
    assert_eq!(buf, SYNACK_V6);

    assert_eq!(
        summarize(&SYNACK_V6),
        Some(Summary {
            src: IpAddr::V6(s),
            dst: IpAddr::V6(d),
            ttl: 63,
            body: Body::Tcp {
                sport: 443,
                dport: 50000,
                seq: 0x0102_0304,
                ack: 0xdead_bef0,
                flags: TcpFlags::SYN | TcpFlags::ACK,
                window: 65535,
            },
        })
    );
}

#[test]
fn udp_behind_extension_headers_v6() {
    assert_eq!(
        ipv6::upper_layer(&UDP_EXT_V6),
        Some(UpperLayer {
            protocol: ip_proto::UDP,
            offset: 56,
            frag_offset: 0,
            more_frags: false,
        })
    );
    let u = udp::Packet::new_checked(&UDP_EXT_V6[56..]).unwrap();
    assert_eq!(u.checksum(), 0x36e5);
    assert!(u.verify_checksum_v6(&v6("fd00::2"), &v6("fd00::1")));
    assert_eq!(
        summarize(&UDP_EXT_V6),
        Some(Summary {
            src: IpAddr::V6(v6("fd00::2")),
            dst: IpAddr::V6(v6("fd00::1")),
            ttl: 64,
            body: Body::Udp {
                sport: 161,
                dport: 40005,
                payload_offset: 64,
                payload_len: 5,
            },
        })
    );
    // Cut inside the destination-options header: unreadable.
    let mut cut = UDP_EXT_V6[..52].to_vec();
    cut[5] = 12;
    assert_eq!(ipv6::upper_layer(&cut), None);
    assert_eq!(summarize(&cut), None);
}

#[test]
fn non_first_fragments_are_other() {
    assert_eq!(
        ipv6::upper_layer(&FRAG_V6),
        Some(UpperLayer {
            protocol: ip_proto::TCP,
            offset: 48,
            frag_offset: 184,
            more_frags: true,
        })
    );
    assert_eq!(
        summarize(&FRAG_V6).unwrap().body,
        Body::Other {
            protocol: ip_proto::TCP
        }
    );
    // IPv4: the SYN-ACK with a fragment offset of 8 bytes.
    let mut frag = SYNACK_V4;
    frag[7] = 1;
    let ip = ipv4::Packet::new_checked(&frag[..]).unwrap();
    assert_eq!(ip.frag_offset(), 8);
    assert_eq!(Ipv4Repr::parse(&ip), Err(Error::Malformed));
    assert_eq!(
        summarize(&frag).unwrap().body,
        Body::Other {
            protocol: ip_proto::TCP
        }
    );
}

#[test]
fn icmpv6_quote_with_fragment_header() {
    assert_eq!(
        summarize(&QUOTE_EXT_V6),
        Some(Summary {
            src: IpAddr::V6(v6("fd00::fe")),
            dst: IpAddr::V6(v6("fd00::1")),
            ttl: 255,
            body: Body::IcmpError {
                v6: true,
                icmp_type: icmpv6::TIME_EXCEEDED,
                code: 0,
                quoted: Quoted {
                    src: IpAddr::V6(v6("fd00::1")),
                    dst: IpAddr::V6(v6("fd00::2")),
                    protocol: ip_proto::UDP,
                    sport: 40006,
                    dport: 123,
                    seq: None,
                },
            },
        })
    );
    let icmp = icmpv6::Packet::new_checked(&QUOTE_EXT_V6[40..]).unwrap();
    assert!(icmp.verify_checksum(&v6("fd00::fe"), &v6("fd00::1")));
    // Strictly, the quoted packet is truncated.
    assert_eq!(
        ipv6::Packet::new_checked(icmp.data()).err(),
        Some(Error::Truncated)
    );
}

#[test]
fn summarize_rejects_what_it_cannot_read() {
    assert_eq!(summarize(&[]), None);
    assert_eq!(summarize(&[0x45]), None);
    // TCP header cut short.
    assert_eq!(summarize(&SYNACK_V4[..39]), None);
    // IHL below 5.
    let mut bad = SYNACK_V4;
    bad[0] = 0x44;
    assert_eq!(summarize(&bad), None);
    // Version 5.
    bad[0] = 0x55;
    assert_eq!(summarize(&bad), None);
    // Total length smaller than the header.
    let mut bad = SYNACK_V4;
    bad[3] = 12;
    assert_eq!(summarize(&bad), None);
    // Total length zero (segmentation offload): the buffer counts.
    let mut tso = SYNACK_V4;
    tso[2] = 0;
    tso[3] = 0;
    assert_eq!(summarize(&tso), summarize(&SYNACK_V4));
    // IPv6 header cut short.
    assert_eq!(summarize(&SYNACK_V6[..39]), None);
    // UDP length below 8.
    let mut bad = UDP_V4;
    bad[25] = 7;
    assert_eq!(summarize(&bad), None);
    // An unknown protocol is Other.
    let mut gre = RSTACK_V4;
    gre[9] = 47;
    assert_eq!(summarize(&gre).unwrap().body, Body::Other { protocol: 47 });
    // ICMPv4 inside IPv6 is not ICMPv6.
    let mut odd = SYNACK_V6;
    odd[6] = ip_proto::ICMP;
    assert_eq!(summarize(&odd).unwrap().body, Body::Other { protocol: 1 });
}

#[test]
fn strict_views_reject_bad_lengths() {
    assert_eq!(
        ipv4::Packet::new_checked(&SYNACK_V4[..19]).err(),
        Some(Error::Truncated)
    );
    assert_eq!(
        ipv4::Packet::new_checked(&SYNACK_V4[..43]).err(),
        Some(Error::Truncated)
    );
    let mut bad = SYNACK_V4;
    bad[0] = 0x44;
    assert_eq!(
        ipv4::Packet::new_checked(&bad[..]).err(),
        Some(Error::Malformed)
    );
    let mut bad = SYNACK_V4;
    bad[32] = 0x40; // TCP data offset 4
    assert_eq!(
        tcp::Packet::new_checked(&bad[20..]).err(),
        Some(Error::Malformed)
    );
    bad[32] = 0xf0; // 60 bytes, only 24 present
    assert_eq!(
        tcp::Packet::new_checked(&bad[20..]).err(),
        Some(Error::Truncated)
    );
    let mut bad = SYNACK_V4;
    bad[41] = 3; // MSS option with length 3
    let t = tcp::Packet::new_checked(&bad[20..]).unwrap();
    assert_eq!(TcpRepr::parse(&t), Err(Error::Malformed));
    assert_eq!(
        udp::Packet::new_checked(&UDP_V4[20..27]).err(),
        Some(Error::Truncated)
    );
    assert_eq!(
        ipv6::Packet::new_checked(&SYNACK_V6[..67]).err(),
        Some(Error::Truncated)
    );
    assert_eq!(
        icmpv6::Packet::new_checked(&[0u8; 7][..]).err(),
        Some(Error::Truncated)
    );
    assert_eq!(Error::Truncated.to_string(), "truncated packet");
    assert_eq!(Error::Malformed.to_string(), "malformed packet");
}

#[test]
fn ethernet_frame() {
    let mut frame = vec![
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00,
    ];
    frame.extend_from_slice(&SYNACK_V4);
    let f = Frame::new_checked(&frame[..]).unwrap();
    assert_eq!(f.dst_addr(), MacAddr([2, 0, 0, 0, 0, 1]));
    assert_eq!(f.src_addr(), MacAddr([2, 0, 0, 0, 0, 2]));
    assert_eq!(f.src_addr().to_string(), "02:00:00:00:00:02");
    assert_eq!(f.ethertype(), EtherType::IPV4);
    assert_eq!(f.payload(), &SYNACK_V4[..]);
    let repr = EthernetRepr::parse(&f).unwrap();
    let mut buf = [0xa5u8; 14];
    repr.emit(&mut Frame::new_unchecked(&mut buf[..]));
    assert_eq!(buf[..], frame[..14]);
    assert_eq!(
        Frame::new_checked(&frame[..13]).err(),
        Some(Error::Truncated)
    );
    assert!(MacAddr::BROADCAST.is_broadcast());
    assert!(MacAddr::BROADCAST.is_multicast());
    assert!(!MacAddr([2, 0, 0, 0, 0, 1]).is_multicast());
}

#[test]
fn tcp_flags_display_and_ops() {
    let cases: [(u16, &str); 9] = [
        (0x000, ""),
        (0x002, "S"),
        (0x012, "SA"),
        (0x014, "RA"),
        (0x029, "FPU"),
        (0x001, "F"),
        (0x0c2, "SEC"),
        (0x1ff, "SFRPAUECN"),
        (0x011, "FA"),
    ];
    for (bits, text) in cases {
        assert_eq!(TcpFlags(bits).to_string(), text, "{bits:#x}");
    }
    let xmas = TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG;
    assert_eq!(xmas.bits(), 0x29);
    assert!(xmas.contains(TcpFlags::FIN | TcpFlags::URG));
    assert!(!xmas.contains(TcpFlags::SYN));
    assert!(xmas.intersects(TcpFlags::SYN | TcpFlags::PSH));
    assert!(TcpFlags::NONE.is_empty());
    assert_eq!(!TcpFlags::ALL, TcpFlags::NONE);
    assert_eq!((xmas & TcpFlags::PSH), TcpFlags::PSH);
    assert_eq!(TcpFlags::from_bits_truncate(0xffff), TcpFlags::ALL);
    let mut f = TcpFlags::SYN;
    f |= TcpFlags::ECE | TcpFlags::CWR;
    assert_eq!(f.bits(), 0xc2);
}

#[test]
fn tcp_setters_keep_other_bits() {
    let mut buf = SYNACK_V4;
    let mut t = tcp::Packet::new_unchecked(&mut buf[20..]);
    t.set_flags(TcpFlags::NS | TcpFlags::FIN);
    assert_eq!(t.header_len(), 24);
    assert_eq!(t.flags().bits(), 0x101);
    t.set_header_len(20);
    assert_eq!(t.flags().bits(), 0x101);
    assert_eq!(t.header_len(), 20);
}

#[test]
fn tcp_options_timestamps_sack() {
    let repr = TcpRepr {
        src_port: 40000,
        dst_port: 22,
        seq: 1,
        ack: 0,
        flags: TcpFlags::SYN,
        window: 64240,
        urgent: 0,
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamp: Some((0x0102_0304, 0)),
        payload_len: 0,
    };
    assert_eq!(repr.header_len(), 40);
    let mut buf = [0xa5u8; 40];
    repr.emit(
        &mut tcp::Packet::new_unchecked(&mut buf[..]),
        &IpAddr::V4(A1),
        &IpAddr::V4(A2),
    );
    // Linux's SYN option layout.
    assert_eq!(
        buf[20..],
        [2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]
    );
    assert_eq!(buf[12], 0xa0);
    let t = tcp::Packet::new_checked(&buf[..]).unwrap();
    assert!(t.verify_checksum_v4(A1, A2));
    assert_eq!(TcpRepr::parse(&t), Ok(repr));
    // SACK-permitted alone is padded with two NOPs.
    let sack_only = TcpRepr {
        mss: None,
        window_scale: None,
        timestamp: None,
        ..repr
    };
    let mut buf = [0xa5u8; 24];
    sack_only.emit(
        &mut tcp::Packet::new_unchecked(&mut buf[..]),
        &IpAddr::V4(A1),
        &IpAddr::V4(A2),
    );
    assert_eq!(buf[20..], [1, 1, 4, 2]);
    // An unknown option is skipped, END stops the walk.
    let mut buf = [0u8; 32];
    buf[12] = 0x80;
    buf[20..28].copy_from_slice(&[30, 4, 9, 9, 3, 3, 2, 0]);
    let t = tcp::Packet::new_checked(&buf[..]).unwrap();
    let parsed = TcpRepr::parse(&t).unwrap();
    assert_eq!(parsed.window_scale, Some(2));
    assert_eq!(parsed.mss, None);
}

#[test]
fn ipv4_setters() {
    let mut buf = [0u8; 20];
    let mut p = ipv4::Packet::new_unchecked(&mut buf[..]);
    p.set_version(4);
    p.set_header_len(20);
    p.set_more_frags(true);
    p.set_frag_offset(1480);
    p.set_dont_frag(true);
    assert!(p.more_frags());
    assert!(p.dont_frag());
    assert_eq!(p.frag_offset(), 1480);
    p.set_dont_frag(false);
    assert_eq!(p.frag_offset(), 1480);
    assert!(!p.dont_frag());
    assert_eq!(buf[6..8], [0x20, 0xb9]);
}

#[test]
fn ipv6_setters() {
    let mut buf = [0u8; 40];
    let mut p = ipv6::Packet::new_unchecked(&mut buf[..]);
    p.set_version(6);
    p.set_traffic_class(0xb8);
    p.set_flow_label(0xfffff_u32 | 0x100000);
    assert_eq!(p.version(), 6);
    assert_eq!(p.traffic_class(), 0xb8);
    assert_eq!(p.flow_label(), 0xfffff);
    assert_eq!(buf[..4], [0x6b, 0x8f, 0xff, 0xff]);
}
