//! Stateless reply validation with keyed SipHash cookies.
//!
//! Every probe carries values derived from a secret key and the probe's
//! addresses and port: the TCP sequence number and the source port (and,
//! for UDP, the source port and the DNS transaction id). A reply proves it
//! answers one of our probes by echoing them (a SYN-ACK or RST acknowledges
//! `seq + 1` to our source port; an ICMP error quotes our header). Nothing
//! is stored per probe, and a reply that does not check out is dropped.
//!
//! Each use hashes a distinct domain-separation byte, so the values are
//! independent of each other.

use std::fmt;
use std::net::IpAddr;

use siphasher::sip::SipHasher13;
use vigie_wire::summary::Quoted;
use vigie_wire::tcp::TcpFlags;

/// Source ports our probes use: `[SRC_PORT_BASE, SRC_PORT_BASE + SRC_PORT_SPAN)`,
/// inside Linux's default ephemeral range.
pub const SRC_PORT_BASE: u16 = 32768;
pub const SRC_PORT_SPAN: u16 = 28000;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// Domain-separation bytes (low nibble; the high nibble tells the address
/// families).
const D_TCP_SEQ: u8 = 1;
const D_TCP_SPORT: u8 = 2;
const D_UDP_SPORT: u8 = 3;
const D_DNS_TXID: u8 = 4;

/// The secret behind every cookie of one scan.
#[derive(Clone, Copy)]
pub struct Keys {
    sip: SipHasher13,
    /// `-g`: every probe's source port (validation then rests on the
    /// sequence number, for UDP on the addresses and ports alone).
    fixed_port: Option<u16>,
    /// `--data*`: payload bytes on every TCP probe; a RST that answers a
    /// probe with data acknowledges them too.
    data_len: u32,
}

impl fmt::Debug for Keys {
    /// The key material stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

impl Keys {
    pub fn new(k0: u64, k1: u64) -> Keys {
        Keys {
            sip: SipHasher13::new_with_keys(k0, k1),
            fixed_port: None,
            data_len: 0,
        }
    }

    /// The same keys for TCP probes carrying `len` payload bytes.
    pub fn with_data_len(self, len: usize) -> Keys {
        Keys {
            data_len: u32::try_from(len).unwrap_or(u32::MAX),
            ..self
        }
    }

    /// The same keys with one source port for every probe (`-g`).
    pub fn with_source_port(self, port: Option<u16>) -> Keys {
        Keys {
            fixed_port: port,
            ..self
        }
    }

    /// The source port `-g` fixed, if any.
    pub fn fixed_source_port(&self) -> Option<u16> {
        self.fixed_port
    }

    /// Hash `domain`, the optional local address, the remote address and
    /// port, without allocating.
    fn hash(&self, domain: u8, local: Option<IpAddr>, remote: IpAddr, port: u16) -> u64 {
        let mut buf = [0u8; 1 + 16 + 16 + 2];
        let mut tag = domain;
        let mut len = 1;
        let mut put = |buf: &mut [u8; 35], addr: IpAddr, v6_bit: u8, tag: &mut u8| match addr {
            IpAddr::V4(a) => {
                buf[len..len + 4].copy_from_slice(&a.octets());
                len += 4;
            }
            IpAddr::V6(a) => {
                buf[len..len + 16].copy_from_slice(&a.octets());
                len += 16;
                *tag |= v6_bit;
            }
        };
        if let Some(local) = local {
            put(&mut buf, local, 0x10, &mut tag);
            tag |= 0x40;
        }
        put(&mut buf, remote, 0x20, &mut tag);
        buf[len..len + 2].copy_from_slice(&port.to_be_bytes());
        len += 2;
        buf[0] = tag;
        self.sip.hash(&buf[..len])
    }

    /// The sequence number of our TCP probe from `local` to
    /// `remote:remote_port`.
    pub fn tcp_seq(&self, local: IpAddr, remote: IpAddr, remote_port: u16) -> u32 {
        self.hash(D_TCP_SEQ, Some(local), remote, remote_port) as u32
    }

    /// The source port of our TCP probe to `remote:remote_port`.
    pub fn src_port(&self, remote: IpAddr, remote_port: u16) -> u16 {
        if let Some(p) = self.fixed_port {
            return p;
        }
        spread(self.hash(D_TCP_SPORT, None, remote, remote_port))
    }

    /// A TCP reply from `remote:remote_port` to `local:local_port`
    /// acknowledging `ack` answers our probe: it went to our source port and
    /// acknowledges our sequence number plus one (both SYN-ACK and RST do).
    pub fn check_tcp_reply(
        &self,
        local: IpAddr,
        remote: IpAddr,
        remote_port: u16,
        local_port: u16,
        ack: u32,
    ) -> bool {
        local_port == self.src_port(remote, remote_port)
            && ack == self.tcp_seq(local, remote, remote_port).wrapping_add(1)
    }

    /// A TCP reply to a raw probe that carried `probe` flags, with our
    /// cookie as its sequence number and (when ACK was set) as its
    /// acknowledgement number too. Per RFC 793, a reply with ACK set must
    /// acknowledge the sequence space the probe used (cookie + SYN + FIN);
    /// a RST without ACK answers a probe that carried ACK and takes its
    /// sequence number from that probe's ack: the cookie.
    #[allow(clippy::too_many_arguments)]
    pub fn check_tcp_reply_to(
        &self,
        probe: TcpFlags,
        local: IpAddr,
        remote: IpAddr,
        remote_port: u16,
        local_port: u16,
        reply: TcpFlags,
        seq: u32,
        ack: u32,
    ) -> bool {
        if local_port != self.src_port(remote, remote_port) {
            return false;
        }
        let cookie = self.tcp_seq(local, remote, remote_port);
        if reply.contains(TcpFlags::ACK) {
            let used =
                u32::from(probe.contains(TcpFlags::SYN)) + u32::from(probe.contains(TcpFlags::FIN));
            // With a payload: a SYN-ACK acknowledges the SYN alone (the
            // data is not taken), a RST everything the segment held.
            ack == cookie.wrapping_add(used)
                || (self.data_len > 0
                    && ack == cookie.wrapping_add(used).wrapping_add(self.data_len))
        } else {
            probe.contains(TcpFlags::ACK) && reply.contains(TcpFlags::RST) && seq == cookie
        }
    }

    /// An ICMP error quoting a TCP header is about our probe (`q.src` is
    /// us, `q.dst` the target): same source port and sequence number.
    pub fn check_quoted_tcp(&self, q: &Quoted) -> bool {
        q.protocol == IPPROTO_TCP
            && q.sport == self.src_port(q.dst, q.dport)
            && q.seq == Some(self.tcp_seq(q.src, q.dst, q.dport))
    }

    /// The source port of our UDP probe to `remote:remote_port`.
    pub fn udp_src_port(&self, remote: IpAddr, remote_port: u16) -> u16 {
        if let Some(p) = self.fixed_port {
            return p;
        }
        spread(self.hash(D_UDP_SPORT, None, remote, remote_port))
    }

    /// A UDP datagram from `remote:remote_port` to our `local_port`
    /// answers our probe.
    pub fn check_udp_reply(&self, remote: IpAddr, remote_port: u16, local_port: u16) -> bool {
        local_port == self.udp_src_port(remote, remote_port)
    }

    /// An ICMP error quoting a UDP header is about our probe.
    pub fn check_quoted_udp(&self, q: &Quoted) -> bool {
        q.protocol == IPPROTO_UDP && q.sport == self.udp_src_port(q.dst, q.dport)
    }

    /// The DNS transaction id of our DNS probe to `remote:remote_port`.
    pub fn dns_txid(&self, remote: IpAddr, remote_port: u16) -> u16 {
        self.hash(D_DNS_TXID, None, remote, remote_port) as u16
    }
}

/// Map a hash onto the source-port range (the bias of a 64-bit modulo by
/// 28000 is below 2^-49).
fn spread(h: u64) -> u16 {
    SRC_PORT_BASE + (h % u64::from(SRC_PORT_SPAN)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const US: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    const THEM: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
    const US6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1));
    const THEM6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2));

    fn quoted(keys: &Keys, src: IpAddr, dst: IpAddr, dport: u16) -> Quoted {
        Quoted {
            src,
            dst,
            protocol: IPPROTO_TCP,
            sport: keys.src_port(dst, dport),
            dport,
            seq: Some(keys.tcp_seq(src, dst, dport)),
        }
    }

    #[test]
    fn deterministic_per_key() {
        let a = Keys::new(1, 2);
        let b = Keys::new(1, 2);
        let c = Keys::new(1, 3);
        assert_eq!(a.tcp_seq(US, THEM, 80), b.tcp_seq(US, THEM, 80));
        assert_eq!(a.src_port(THEM, 80), b.src_port(THEM, 80));
        assert_eq!(a.udp_src_port(THEM, 53), b.udp_src_port(THEM, 53));
        assert_eq!(a.dns_txid(THEM, 53), b.dns_txid(THEM, 53));
        assert_ne!(a.tcp_seq(US, THEM, 80), c.tcp_seq(US, THEM, 80));
        assert_ne!(a.tcp_seq(US6, THEM6, 80), c.tcp_seq(US6, THEM6, 80));
        assert_eq!(format!("{a:?}"), "Keys { .. }");
    }

    #[test]
    fn inputs_and_uses_are_separated() {
        let k = Keys::new(0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
        let seq = k.tcp_seq(US, THEM, 80);
        assert_ne!(seq, k.tcp_seq(US, THEM, 81));
        assert_ne!(seq, k.tcp_seq(THEM, US, 80));
        assert_ne!(seq, k.tcp_seq(US6, THEM6, 80));
        // Distinct domains give unrelated values for the same input.
        let h = |d| k.hash(d, None, THEM, 53);
        assert_ne!(h(D_TCP_SPORT), h(D_UDP_SPORT));
        assert_ne!(h(D_UDP_SPORT), h(D_DNS_TXID));
        // Mixed families of equal total length do not collide.
        let v4 = Ipv4Addr::new(1, 2, 3, 4);
        let v6 = Ipv6Addr::new(5, 6, 7, 8, 9, 10, 11, 12);
        assert_ne!(
            k.tcp_seq(v4.into(), v6.into(), 1),
            k.tcp_seq(v6.into(), v4.into(), 1)
        );
    }

    #[test]
    fn ports_stay_in_range_and_spread() {
        let k = Keys::new(7, 8);
        let mut distinct = std::collections::HashSet::new();
        for port in 0..=u16::MAX {
            for p in [k.src_port(THEM, port), k.udp_src_port(THEM6, port)] {
                assert!((SRC_PORT_BASE..SRC_PORT_BASE + SRC_PORT_SPAN).contains(&p));
                distinct.insert(p);
            }
        }
        // 131 072 draws over 28 000 values hit nearly all of them.
        assert!(distinct.len() > 27_000, "{}", distinct.len());
    }

    #[test]
    fn tcp_reply_checks() {
        let k = Keys::new(11, 12);
        for (us, them) in [(US, THEM), (US6, THEM6)] {
            let sport = k.src_port(them, 443);
            let seq = k.tcp_seq(us, them, 443);
            assert!(k.check_tcp_reply(us, them, 443, sport, seq.wrapping_add(1)));
            assert!(!k.check_tcp_reply(us, them, 443, sport, seq));
            assert!(!k.check_tcp_reply(us, them, 443, sport, seq.wrapping_add(2)));
            assert!(!k.check_tcp_reply(us, them, 443, sport.wrapping_add(1), seq.wrapping_add(1)));
            assert!(!k.check_tcp_reply(us, them, 444, sport, seq.wrapping_add(1)));
            assert!(!Keys::new(11, 13).check_tcp_reply(us, them, 443, sport, seq.wrapping_add(1)));
        }
    }

    #[test]
    fn quoted_checks() {
        let k = Keys::new(21, 22);
        let q = quoted(&k, US, THEM, 22);
        assert!(k.check_quoted_tcp(&q));
        assert!(!k.check_quoted_tcp(&Quoted { seq: None, ..q }));
        assert!(!k.check_quoted_tcp(&Quoted {
            seq: q.seq.map(|s| s.wrapping_add(1)),
            ..q
        }));
        assert!(!k.check_quoted_tcp(&Quoted {
            sport: q.sport ^ 1,
            ..q
        }));
        assert!(!k.check_quoted_tcp(&Quoted { dport: 23, ..q }));
        assert!(!k.check_quoted_tcp(&Quoted {
            protocol: IPPROTO_UDP,
            ..q
        }));
        assert!(!k.check_quoted_tcp(&Quoted {
            src: THEM,
            dst: US,
            ..q
        }));

        let u = Quoted {
            src: US6,
            dst: THEM6,
            protocol: IPPROTO_UDP,
            sport: k.udp_src_port(THEM6, 53),
            dport: 53,
            seq: None,
        };
        assert!(k.check_quoted_udp(&u));
        assert!(!k.check_quoted_udp(&Quoted {
            sport: u.sport.wrapping_add(1),
            ..u
        }));
        assert!(!k.check_quoted_udp(&Quoted { dport: 54, ..u }));
        assert!(!k.check_quoted_udp(&Quoted {
            protocol: IPPROTO_TCP,
            ..u
        }));
        assert!(k.check_udp_reply(THEM6, 53, u.sport));
        assert!(!k.check_udp_reply(THEM6, 53, u.sport.wrapping_sub(1)));
    }

    proptest! {
        #[test]
        fn checks_accept_real_and_reject_off_by_one(
            k0: u64, k1: u64, a: u32, b: u32, port: u16, delta in 1u32..=u32::MAX, pdelta in 1u16..=u16::MAX,
        ) {
            let k = Keys::new(k0, k1);
            let (us, them) = (IpAddr::from(Ipv4Addr::from(a)), IpAddr::from(Ipv4Addr::from(b)));
            let sport = k.src_port(them, port);
            let ack = k.tcp_seq(us, them, port).wrapping_add(1);
            prop_assert!(k.check_tcp_reply(us, them, port, sport, ack));
            prop_assert!(!k.check_tcp_reply(us, them, port, sport, ack.wrapping_add(delta)));
            prop_assert!(!k.check_tcp_reply(us, them, port, sport.wrapping_add(pdelta), ack));
            let q = quoted(&k, us, them, port);
            prop_assert!(k.check_quoted_tcp(&q));
            let bad_seq = Quoted { seq: q.seq.map(|s| s.wrapping_add(delta)), ..q };
            let bad_port = Quoted { sport: q.sport.wrapping_add(pdelta), ..q };
            prop_assert!(!k.check_quoted_tcp(&bad_seq));
            prop_assert!(!k.check_quoted_tcp(&bad_port));
            let usport = k.udp_src_port(them, port);
            prop_assert!(k.check_udp_reply(them, port, usport));
            prop_assert!(!k.check_udp_reply(them, port, usport.wrapping_add(pdelta)));
        }
    }

    #[test]
    fn replies_to_every_probe_kind() {
        let k = Keys::new(7, 9);
        let (us, them): (IpAddr, IpAddr) =
            ("198.18.0.1".parse().unwrap(), "198.18.0.2".parse().unwrap());
        let c = k.tcp_seq(us, them, 80);
        let sp = k.src_port(them, 80);
        let f = |b: u16| TcpFlags(b);
        let (fin, syn, rst, psh, ack, urg) = (f(1), f(2), f(4), f(8), f(16), f(32));
        let ok =
            |probe, reply, seq, a| k.check_tcp_reply_to(probe, us, them, 80, sp, reply, seq, a);
        // SYN → SYN-ACK / RST-ACK acknowledge cookie+1.
        assert!(ok(syn, syn | ack, 12345, c.wrapping_add(1)));
        assert!(ok(syn, rst | ack, 0, c.wrapping_add(1)));
        assert!(!ok(syn, syn | ack, 12345, c.wrapping_add(2)));
        assert!(!ok(syn, syn | ack, 12345, c));
        // FIN, Xmas → RST-ACK acknowledges cookie+1; NULL → cookie+0.
        assert!(ok(fin, rst | ack, 0, c.wrapping_add(1)));
        assert!(ok(fin | psh | urg, rst | ack, 0, c.wrapping_add(1)));
        assert!(ok(f(0), rst | ack, 0, c));
        assert!(!ok(f(0), rst | ack, 0, c.wrapping_add(1)));
        // SYN|FIN uses two.
        assert!(ok(syn | fin, rst | ack, 0, c.wrapping_add(2)));
        // ACK, Maimon → RST without ACK whose seq is our ack (the cookie).
        assert!(ok(ack, rst, c, 0));
        assert!(ok(fin | ack, rst, c, 0));
        assert!(!ok(ack, rst, c.wrapping_add(1), 0));
        // A RST without ACK to a probe without ACK is not an answer; nor a
        // bare segment without RST.
        assert!(!ok(fin, rst, c, 0));
        assert!(!ok(ack, psh, c, 0));
        // The wrong source port never matches.
        assert!(!k.check_tcp_reply_to(
            syn,
            us,
            them,
            80,
            sp.wrapping_add(1),
            syn | ack,
            0,
            c.wrapping_add(1)
        ));
    }

    #[test]
    fn a_fixed_source_port_leaves_the_sequence_number_to_validate() {
        let keys = Keys::new(7, 9).with_source_port(Some(53));
        assert_eq!(keys.src_port(THEM, 80), 53);
        assert_eq!(keys.udp_src_port(THEM, 161), 53);
        let c = keys.tcp_seq(US, THEM, 80);
        let sa = TcpFlags::SYN | TcpFlags::ACK;
        assert!(keys.check_tcp_reply_to(TcpFlags::SYN, US, THEM, 80, 53, sa, 0, c.wrapping_add(1)));
        // Any other port, or the wrong ack, is not ours.
        assert!(!keys.check_tcp_reply_to(
            TcpFlags::SYN,
            US,
            THEM,
            80,
            54,
            sa,
            0,
            c.wrapping_add(1)
        ));
        assert!(!keys.check_tcp_reply_to(
            TcpFlags::SYN,
            US,
            THEM,
            80,
            53,
            sa,
            0,
            c.wrapping_add(2)
        ));
        assert!(keys.check_udp_reply(THEM, 161, 53));
        assert!(!keys.check_udp_reply(THEM, 161, 54));
        // With 40 bytes of data, a RST acknowledging them is ours too.
        let rst = TcpFlags::RST | TcpFlags::ACK;
        assert!(!keys.check_tcp_reply_to(
            TcpFlags::SYN,
            US,
            THEM,
            80,
            53,
            rst,
            0,
            c.wrapping_add(41)
        ));
        let keys = keys.with_data_len(40);
        assert!(keys.check_tcp_reply_to(
            TcpFlags::SYN,
            US,
            THEM,
            80,
            53,
            rst,
            0,
            c.wrapping_add(41)
        ));
        assert!(keys.check_tcp_reply_to(TcpFlags::SYN, US, THEM, 80, 53, sa, 0, c.wrapping_add(1)));
        assert!(!keys.check_tcp_reply_to(
            TcpFlags::SYN,
            US,
            THEM,
            80,
            53,
            rst,
            0,
            c.wrapping_add(40)
        ));
        // The sequence numbers are those of the same keys without -g.
        assert_eq!(Keys::new(7, 9).tcp_seq(US, THEM, 80), c);
    }
}
