//! Feeds arbitrary bytes to every parser in vigie-wire: `summarize`, the
//! IPv6 extension-header walk, every `Packet::new_checked` (then every
//! getter) and every `Repr::parse`. Any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{Ipv4Addr, Ipv6Addr};
use vigie_wire::arp::{self, ArpRepr};
use vigie_wire::ethernet::{EthernetRepr, Frame};
use vigie_wire::icmpv4::{self, Icmpv4Repr};
use vigie_wire::icmpv6::{self, Icmpv6Repr};
use vigie_wire::ipv4::{self, Ipv4Repr};
use vigie_wire::ipv6::{self, Ipv6Repr};
use vigie_wire::ndisc::{self, NdiscRepr};
use vigie_wire::tcp::{self, TcpRepr};
use vigie_wire::udp::{self, UdpRepr};
use vigie_wire::{checksum, summarize};

const A4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);

fuzz_target!(|data: &[u8]| {
    if let Some(s) = summarize(data) {
        // The UDP payload range must lie inside the input.
        if let vigie_wire::Body::Udp {
            payload_offset,
            payload_len,
            ..
        } = s.body
        {
            assert!(payload_offset + payload_len <= data.len());
        }
    }
    if let Some(u) = ipv6::upper_layer(data) {
        assert!(u.offset <= data.len());
    }
    let _ = checksum::finish(checksum::sum(data, 0));

    if let Ok(f) = Frame::new_checked(data) {
        let _ = (f.dst_addr(), f.src_addr(), f.ethertype(), f.payload().len());
        let _ = EthernetRepr::parse(&f);
    }
    if let Ok(p) = ipv4::Packet::new_checked(data) {
        let _ = (p.version(), p.header_len(), p.dscp_ecn(), p.total_len());
        let _ = (p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset());
        let _ = (
            p.ttl(),
            p.protocol(),
            p.checksum(),
            p.src_addr(),
            p.dst_addr(),
        );
        let _ = (p.options().len(), p.verify_checksum(), p.payload().len());
        if let Ok(r) = Ipv4Repr::parse(&p) {
            assert_eq!(r.payload_len, p.payload().len());
        }
    }
    if let Ok(p) = ipv6::Packet::new_checked(data) {
        let _ = (
            p.version(),
            p.traffic_class(),
            p.flow_label(),
            p.payload_len(),
        );
        let _ = (p.next_header(), p.hop_limit(), p.src_addr(), p.dst_addr());
        let _ = p.payload().len();
        let _ = Ipv6Repr::parse(&p);
    }
    if let Ok(p) = tcp::Packet::new_checked(data) {
        let _ = (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number());
        let _ = (p.header_len(), p.flags(), p.window_len(), p.checksum());
        let _ = (p.urgent_at(), p.options().len(), p.payload().len());
        let _ = (p.verify_checksum_v4(A4, A4), p.verify_checksum_v6(&A6, &A6));
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
        let _ = (p.verify_checksum_v4(A4, A4), p.verify_checksum_v6(&A6, &A6));
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
        let _ = (p.rest(), p.data().len(), p.verify_checksum(&A6, &A6));
        let _ = Icmpv6Repr::parse(&p);
    }
    if let Ok(p) = arp::Packet::new_checked(data) {
        let _ = (p.hardware_type(), p.protocol_type(), p.operation());
        let _ = (p.sender_hardware_addr(), p.sender_protocol_addr());
        let _ = (p.target_hardware_addr(), p.target_protocol_addr());
        if let Ok(r) = ArpRepr::parse(&p) {
            let mut buf = [0u8; arp::PACKET_LEN];
            r.emit(&mut arp::Packet::new_unchecked(&mut buf[..]));
            assert_eq!(ArpRepr::parse(&arp::Packet::new_unchecked(&buf[..])), Ok(r));
        }
    }
    for o in ndisc::options(data) {
        if let Ok((_, body)) = o {
            assert!(body.len() <= data.len());
        }
    }
    if let Ok(r) = NdiscRepr::parse(data) {
        let mut buf = [0u8; ndisc::FIXED_LEN + 8];
        r.emit(&mut buf[..r.buffer_len()]);
        let back = NdiscRepr::parse(&buf[..r.buffer_len()]).unwrap();
        assert_eq!(
            (back.msg_type, back.target, back.lladdr),
            (r.msg_type, r.target, r.lladdr)
        );
    }
});
