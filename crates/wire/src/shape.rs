//! Probe shaping for nmap's evasion options: a stamped probe rewritten with
//! another source address (`-S`, `-D` decoys), TTL / hop limit (`--ttl`),
//! payload (`--data`, `--data-string`, `--data-length`), a wrong transport
//! checksum (`--badsum`), and cut into fragments (`-f`, `-ff`, `--mtu`:
//! IPv4 fragments, or the IPv6 Fragment header).
//!
//! This is the slow path, taken only when one of those options is given:
//! the probe is copied, edited and its checksums summed again. The plain
//! path ([`crate::template`]) is untouched.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{checksum, ip_proto, put16};

/// Largest packet [`Shape::apply`] builds before fragmenting: an IPv6
/// header, a TCP header with 40 option bytes and 1400 payload bytes.
pub const MAX_SHAPED: usize = 40 + 60 + MAX_PAYLOAD;

/// Most payload bytes `--data` / `--data-length` may add (nmap's limit).
pub const MAX_PAYLOAD: usize = 1400;

/// How each probe is rewritten. The default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    /// `--ttl`: the IPv4 TTL or the IPv6 hop limit.
    pub ttl: Option<u8>,
    /// `--data*`: the payload of every TCP and UDP probe and ICMP echo
    /// request (it replaces a UDP probe's own payload, as in nmap).
    pub payload: Option<Vec<u8>>,
    /// `--badsum`: TCP and UDP checksums off by one.
    pub badsum: bool,
    /// `-f` (8), `-ff` (16), `--mtu N`: bytes of the IP payload per fragment
    /// (a multiple of 8).
    pub frag: Option<usize>,
}

impl Shape {
    /// True when [`apply`](Self::apply) would give the probe back as it is
    /// (for a probe from its own source).
    pub fn is_plain(&self) -> bool {
        *self == Shape::default()
    }

    /// How many packets one probe of at most `probe_len` bytes (as
    /// stamped) may become: 1, or its fragments.
    pub fn max_pieces(&self, probe_len: usize) -> usize {
        let len = match &self.payload {
            // The payload replaces whatever followed the transport header
            // (an IPv6 header and 60 bytes of TCP at most).
            Some(p) => 100 + p.len(),
            None => probe_len,
        };
        match self.frag {
            Some(m) if m >= 8 => len.min(MAX_SHAPED).div_ceil(m & !7),
            _ => 1,
        }
    }

    /// Rewrite `pkt` — one whole IPv4 or IPv6 packet as a template stamped
    /// it (no extension headers) — with source `src` (when given) and this
    /// shape, and hand each resulting packet to `out`. `frag_id`: the
    /// identification of IPv6 fragments (IPv4 fragments keep the packet's
    /// own ID). A packet that cannot be read is passed on unchanged.
    pub fn apply(&self, pkt: &[u8], src: Option<IpAddr>, frag_id: u32, out: &mut dyn FnMut(&[u8])) {
        let mut buf = [0u8; MAX_SHAPED];
        let Some(n) = self.rewrite(pkt, src, &mut buf) else {
            out(pkt);
            return;
        };
        let p = &buf[..n];
        match self.frag {
            Some(m) if m >= 8 => fragment(p, m & !7, frag_id, out),
            _ => out(p),
        }
    }

    /// The rewritten packet in `buf`; its length. `None`: not a packet
    /// this reads (it is then sent as it came).
    fn rewrite(
        &self,
        pkt: &[u8],
        src: Option<IpAddr>,
        buf: &mut [u8; MAX_SHAPED],
    ) -> Option<usize> {
        let v6 = match pkt.first()? >> 4 {
            4 => false,
            6 => true,
            _ => return None,
        };
        let l4 = if v6 {
            40
        } else {
            usize::from(pkt[0] & 0x0f) * 4
        };
        if pkt.len() < l4 || l4 < 20 || pkt.len() > MAX_SHAPED {
            return None;
        }
        let proto = if v6 { pkt[6] } else { pkt[9] };
        if !v6 && u16::from_be_bytes([pkt[6], pkt[7]]) & 0x3fff != 0 {
            // Already a fragment.
            return None;
        }
        // The transport header's length (the payload after it is replaced).
        let head = match proto {
            ip_proto::TCP => usize::from(pkt.get(l4 + 12)? >> 4) * 4,
            ip_proto::UDP => 8,
            ip_proto::ICMP if !v6 && pkt.get(l4) == Some(&8) => 8,
            ip_proto::ICMPV6 if v6 && pkt.get(l4) == Some(&128) => 8,
            _ => pkt.len() - l4,
        };
        if pkt.len() < l4 + head {
            return None;
        }
        let mut n = pkt.len();
        buf[..n].copy_from_slice(pkt);
        let takes_data = proto_takes_data(proto, v6, pkt.get(l4).copied().unwrap_or(0));
        if let (Some(data), true) = (&self.payload, takes_data) {
            let end = l4 + head + data.len();
            if end > MAX_SHAPED {
                return None;
            }
            buf[l4 + head..end].copy_from_slice(data);
            n = end;
        }
        match (src, v6) {
            (Some(IpAddr::V4(s)), false) => buf[12..16].copy_from_slice(&s.octets()),
            (Some(IpAddr::V6(s)), true) => buf[8..24].copy_from_slice(&s.octets()),
            _ => {}
        }
        if let Some(t) = self.ttl {
            buf[if v6 { 7 } else { 8 }] = t;
        }
        let l4_len = n - l4;
        if v6 {
            put16(buf, 4, l4_len as u16);
        } else {
            put16(buf, 2, n as u16);
        }
        if proto == ip_proto::UDP {
            put16(buf, l4 + 4, l4_len as u16);
        }
        // The transport checksum over the new bytes.
        let at = match proto {
            ip_proto::TCP => Some(l4 + 16),
            ip_proto::UDP => Some(l4 + 6),
            ip_proto::ICMP | ip_proto::ICMPV6 => Some(l4 + 2),
            _ => None,
        };
        if let Some(at) = at.filter(|&a| a + 2 <= n) {
            put16(buf, at, 0);
            let pseudo = if proto == ip_proto::ICMP {
                0
            } else if v6 {
                let s = Ipv6Addr::from(<[u8; 16]>::try_from(&buf[8..24]).ok()?);
                let d = Ipv6Addr::from(<[u8; 16]>::try_from(&buf[24..40]).ok()?);
                checksum::pseudo_v6(&s, &d, proto, l4_len as u32)
            } else {
                let s = Ipv4Addr::from(<[u8; 4]>::try_from(&buf[12..16]).ok()?);
                let d = Ipv4Addr::from(<[u8; 4]>::try_from(&buf[16..20]).ok()?);
                checksum::pseudo_v4(s, d, proto, l4_len as u16)
            };
            let mut c = checksum::finish(checksum::sum(&buf[l4..n], pseudo));
            if proto == ip_proto::UDP && c == 0 {
                c = 0xffff;
            }
            if self.badsum && matches!(proto, ip_proto::TCP | ip_proto::UDP) {
                // Off by one, never 0 (a UDP checksum of 0 means none).
                c = c.wrapping_sub(1);
                if c == 0 || c == 0xffff {
                    c = 0xfffe;
                }
            }
            put16(buf, at, c);
        }
        if !v6 {
            ipv4_checksum(&mut buf[..l4]);
        }
        Some(n)
    }
}

/// A protocol whose probes take `--data` even when they carry nothing yet.
fn proto_takes_data(proto: u8, v6: bool, first: u8) -> bool {
    match proto {
        ip_proto::TCP | ip_proto::UDP => true,
        ip_proto::ICMP => !v6 && first == 8,
        ip_proto::ICMPV6 => v6 && first == 128,
        _ => false,
    }
}

fn ipv4_checksum(header: &mut [u8]) {
    put16(header, 10, 0);
    let c = checksum::finish(checksum::sum(header, 0));
    put16(header, 10, c);
}

/// Cut `p` into fragments of `m` payload bytes (the last one shorter).
fn fragment(p: &[u8], m: usize, frag_id: u32, out: &mut dyn FnMut(&[u8])) {
    let mut buf = [0u8; 60 + 8 + MAX_SHAPED];
    if p[0] >> 4 == 4 {
        let l4 = usize::from(p[0] & 0x0f) * 4;
        let data = &p[l4..];
        if data.len() <= m {
            out(p);
            return;
        }
        let mut off = 0;
        while off < data.len() {
            let end = (off + m).min(data.len());
            let more = end < data.len();
            let n = l4 + end - off;
            buf[..l4].copy_from_slice(&p[..l4]);
            buf[l4..n].copy_from_slice(&data[off..end]);
            put16(&mut buf, 2, n as u16);
            let flags = u16::from(more) << 13;
            put16(&mut buf, 6, flags | (off / 8) as u16);
            ipv4_checksum(&mut buf[..l4]);
            out(&buf[..n]);
            off = end;
        }
    } else {
        // IPv6: the Fragment header (RFC 8200 §4.5) after the fixed header;
        // the fragmentable part is everything after it.
        let next = p[6];
        let data = &p[40..];
        if data.len() <= m {
            out(p);
            return;
        }
        let mut off = 0;
        while off < data.len() {
            let end = (off + m).min(data.len());
            let more = end < data.len();
            let n = 48 + end - off;
            buf[..40].copy_from_slice(&p[..40]);
            buf[6] = ip_proto::IPV6_FRAG;
            put16(&mut buf, 4, (n - 40) as u16);
            buf[40] = next;
            buf[41] = 0;
            put16(&mut buf, 42, ((off / 8) as u16) << 3 | u16::from(more));
            buf[44..48].copy_from_slice(&frag_id.to_be_bytes());
            buf[48..n].copy_from_slice(&data[off..end]);
            out(&buf[..n]);
            off = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{summarize, Body};
    use crate::tcp::TcpFlags;
    use crate::template::{TcpTemplate, UdpTemplate};

    const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const THEM: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const DECOY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 50);
    const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 1);
    const THEM6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 2);

    fn syn(src: IpAddr, dst: IpAddr) -> Vec<u8> {
        let t = TcpTemplate::new(src, TcpFlags::SYN, 1024, Some(1460), 64);
        let mut b = [0u8; 256];
        let n = t.stamp(&mut b, dst, 40000, 80, 0x1234_5678, 0, 4321);
        b[..n].to_vec()
    }

    fn all(shape: &Shape, pkt: &[u8], src: Option<IpAddr>) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        shape.apply(pkt, src, 99, &mut |p| v.push(p.to_vec()));
        v
    }

    /// The transport checksum of a whole packet verifies.
    fn l4_ok(p: &[u8]) -> bool {
        let v6 = p[0] >> 4 == 6;
        let l4 = if v6 { 40 } else { usize::from(p[0] & 15) * 4 };
        let proto = if v6 { p[6] } else { p[9] };
        let len = p.len() - l4;
        let pseudo = if v6 {
            let s = Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap());
            let d = Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap());
            checksum::pseudo_v6(&s, &d, proto, len as u32)
        } else {
            let s = Ipv4Addr::from(<[u8; 4]>::try_from(&p[12..16]).unwrap());
            let d = Ipv4Addr::from(<[u8; 4]>::try_from(&p[16..20]).unwrap());
            checksum::pseudo_v4(s, d, proto, len as u16)
        };
        checksum::finish(checksum::sum(&p[l4..], pseudo)) == 0
    }

    fn ip_ok(p: &[u8]) -> bool {
        let l = usize::from(p[0] & 15) * 4;
        checksum::finish(checksum::sum(&p[..l], 0)) == 0
    }

    #[test]
    fn the_default_shape_gives_the_probe_back() {
        let p = syn(US.into(), THEM.into());
        assert!(Shape::default().is_plain());
        assert_eq!(all(&Shape::default(), &p, None), vec![p]);
    }

    #[test]
    fn ttl_payload_and_source_with_valid_checksums() {
        let p = syn(US.into(), THEM.into());
        let s = Shape {
            ttl: Some(13),
            payload: Some(b"hello!".to_vec()),
            ..Shape::default()
        };
        let out = all(&s, &p, Some(DECOY.into()));
        assert_eq!(out.len(), 1);
        let q = &out[0];
        assert_eq!(q.len(), p.len() + 6);
        assert_eq!(q[8], 13);
        assert_eq!(&q[12..16], &DECOY.octets());
        assert_eq!(&q[q.len() - 6..], b"hello!");
        assert!(ip_ok(q) && l4_ok(q));
        let sm = summarize(q).unwrap();
        assert_eq!(sm.src, IpAddr::V4(DECOY));
        assert!(matches!(
            sm.body,
            Body::Tcp {
                sport: 40000,
                dport: 80,
                seq: 0x1234_5678,
                ..
            }
        ));
        // The IP ID stays the probe's.
        assert_eq!(&q[4..6], &p[4..6]);
    }

    #[test]
    fn badsum_breaks_only_the_transport_checksum() {
        for p in [syn(US.into(), THEM.into()), syn(US6.into(), THEM6.into())] {
            let s = Shape {
                badsum: true,
                ..Shape::default()
            };
            let q = &all(&s, &p, None)[0];
            assert_eq!(q.len(), p.len());
            assert!(!l4_ok(q));
            if q[0] >> 4 == 4 {
                assert!(ip_ok(q));
            }
        }
    }

    #[test]
    fn udp_payload_is_replaced_and_its_length_follows() {
        let t = UdpTemplate::new(US.into(), 64);
        let mut b = [0u8; 256];
        let n = t.stamp(&mut b, THEM.into(), 41000, 53, 7, b"a dns query here");
        let s = Shape {
            payload: Some(vec![0xab; 3]),
            ..Shape::default()
        };
        let q = &all(&s, &b[..n], None)[0];
        assert_eq!(q.len(), 20 + 8 + 3);
        assert_eq!(u16::from_be_bytes([q[24], q[25]]), 11);
        assert!(ip_ok(q) && l4_ok(q));
    }

    /// Reassemble IPv4 fragments (in order) into the packet.
    fn join_v4(frags: &[Vec<u8>]) -> Vec<u8> {
        let mut data = Vec::new();
        for f in frags {
            let off = usize::from(u16::from_be_bytes([f[6], f[7]]) & 0x1fff) * 8;
            assert_eq!(off, data.len());
            assert!(ip_ok(f));
            data.extend_from_slice(&f[20..]);
        }
        let mut p = frags[0][..20].to_vec();
        p.extend_from_slice(&data);
        let len = p.len() as u16;
        put16(&mut p, 2, len);
        put16(&mut p, 6, 0);
        ipv4_checksum(&mut p[..20]);
        p
    }

    #[test]
    fn eight_byte_fragments_of_a_syn() {
        let p = syn(US.into(), THEM.into());
        let s = Shape {
            frag: Some(8),
            ..Shape::default()
        };
        let out = all(&s, &p, None);
        // 24 bytes of TCP (header + MSS): three fragments of 8.
        assert_eq!(out.len(), 3);
        for (i, f) in out.iter().enumerate() {
            assert_eq!(f.len(), 28);
            let mf = f[6] & 0x20 != 0;
            assert_eq!(mf, i < 2);
            assert_eq!(&f[4..6], &p[4..6], "one IP ID for every fragment");
        }
        assert_eq!(join_v4(&out), p);
        // -ff with a payload.
        let s = Shape {
            frag: Some(16),
            payload: Some(vec![1; 30]),
            ..Shape::default()
        };
        let out = all(&s, &p, None);
        assert_eq!(
            out.iter().map(|f| f.len() - 20).collect::<Vec<_>>(),
            [16, 16, 16, 6]
        );
        let whole = join_v4(&out);
        assert!(l4_ok(&whole));
    }

    #[test]
    fn ipv6_fragments_carry_a_fragment_header() {
        let p = syn(US6.into(), THEM6.into());
        let s = Shape {
            frag: Some(8),
            ..Shape::default()
        };
        let out = all(&s, &p, None);
        assert_eq!(out.len(), 3);
        let mut data = Vec::new();
        for (i, f) in out.iter().enumerate() {
            assert_eq!(f[6], ip_proto::IPV6_FRAG);
            assert_eq!(f[40], ip_proto::TCP);
            let w = u16::from_be_bytes([f[42], f[43]]);
            assert_eq!(usize::from(w >> 3) * 8, data.len());
            assert_eq!(w & 1 == 1, i < 2);
            assert_eq!(u32::from_be_bytes([f[44], f[45], f[46], f[47]]), 99);
            assert_eq!(usize::from(u16::from_be_bytes([f[4], f[5]])), f.len() - 40);
            data.extend_from_slice(&f[48..]);
        }
        assert_eq!(data, p[40..]);
    }

    #[test]
    fn a_packet_that_fits_is_not_cut() {
        let p = syn(US.into(), THEM.into());
        let s = Shape {
            frag: Some(24),
            ..Shape::default()
        };
        assert_eq!(all(&s, &p, None), vec![p]);
    }

    #[test]
    fn garbage_passes_through_without_a_panic() {
        let s = Shape {
            ttl: Some(1),
            payload: Some(vec![0; 40]),
            badsum: true,
            frag: Some(8),
        };
        // Unreadable: passed on once, unchanged.
        for p in [
            &[][..],
            &[0x45][..],
            &[0x45; 30][..],
            &[0x4f; 20][..],
            &[0x70; 40][..],
        ] {
            let mut got = Vec::new();
            s.apply(p, None, 0, &mut |q| got.push(q.to_vec()));
            assert_eq!(got, vec![p.to_vec()]);
        }
        // An IPv6 packet of an unknown protocol: rewritten, cut, no panic.
        let mut n = 0;
        s.apply(&[0x60; 44], None, 0, &mut |_| n += 1);
        assert!(n >= 1);
    }

    proptest::proptest! {
        /// Any bytes and options: no panic, at least one packet out, none
        /// larger than the shaper's largest.
        #[test]
        fn any_bytes_any_shape(
            pkt in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            ttl in proptest::option::of(proptest::prelude::any::<u8>()),
            data in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)),
            badsum in proptest::prelude::any::<bool>(),
            frag in proptest::option::of(0usize..40),
            v4 in proptest::prelude::any::<bool>(),
        ) {
            let s = Shape { ttl, payload: data, badsum, frag: frag.map(|f| f * 8) };
            let src = if v4 { Some(IpAddr::V4(DECOY)) } else { Some(IpAddr::V6(US6)) };
            let mut n = 0;
            s.apply(&pkt, src, 1, &mut |p| {
                n += 1;
                assert!(p.len() <= MAX_SHAPED + 68);
            });
            proptest::prop_assert!(n >= 1);
        }

        /// A real probe, reassembled from its fragments, is the probe
        /// shaped without fragmenting.
        #[test]
        fn fragments_reassemble(m in 1usize..8, dlen in 0usize..100) {
            let p = syn(US.into(), THEM.into());
            let whole = Shape { payload: Some(vec![7; dlen]), ..Shape::default() };
            let cut = Shape { frag: Some(m * 8), ..whole.clone() };
            let want = all(&whole, &p, None).remove(0);
            let got = all(&cut, &p, None);
            let joined = if got.len() == 1 { got[0].clone() } else { join_v4(&got) };
            proptest::prop_assert_eq!(joined, want);
        }
    }
}
