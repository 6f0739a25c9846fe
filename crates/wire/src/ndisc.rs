//! IPv6 neighbour discovery (RFC 4861): neighbour solicitations and
//! advertisements carried in ICMPv6, and their link-layer address options.
//!
//! Both messages are the 4-byte ICMPv6 header (type, code, checksum), 4
//! bytes of flags/reserved, the 16-byte target address, then options of
//! `(type, length in units of 8 bytes, data)`.

use crate::ethernet::{self, EtherType, Frame, MacAddr};
use crate::icmpv6;
use crate::ip_proto;
use crate::ipv6;
use crate::{Error, Result};
use std::net::Ipv6Addr;

/// Option types.
pub mod opt {
    pub const SOURCE_LL_ADDR: u8 = 1;
    pub const TARGET_LL_ADDR: u8 = 2;
}

/// Neighbour advertisement flags (first byte after the ICMPv6 header).
pub mod flags {
    pub const ROUTER: u8 = 0x80;
    pub const SOLICITED: u8 = 0x40;
    pub const OVERRIDE: u8 = 0x20;
}

/// Bytes before the options: ICMPv6 header + reserved/flags + target.
pub const FIXED_LEN: usize = 24;
/// ND packets must arrive with this hop limit (RFC 4861 §7.1).
pub const HOP_LIMIT: u8 = 255;

/// A parsed NS or NA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NdiscRepr {
    /// [`icmpv6::NS`] or [`icmpv6::NA`].
    pub msg_type: u8,
    /// NA flags (R, S, O); 0 for a solicitation.
    pub flags: u8,
    pub target: Ipv6Addr,
    /// The source (NS) or target (NA) link-layer address option, when
    /// present with a 6-byte address.
    pub lladdr: Option<MacAddr>,
}

/// Iterates over the options of an ND message: `(type, data)` where data
/// excludes the 2-byte option header. Stops at the first malformed option
/// (length 0 or running past the end) with `Err`.
pub fn options(bytes: &[u8]) -> impl Iterator<Item = Result<(u8, &[u8])>> {
    let mut rest = bytes;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || rest.is_empty() {
            return None;
        }
        if rest.len() < 2 {
            failed = true;
            return Some(Err(Error::Truncated));
        }
        let len = usize::from(rest[1]) * 8;
        if len == 0 {
            failed = true;
            return Some(Err(Error::Malformed));
        }
        if len > rest.len() {
            failed = true;
            return Some(Err(Error::Truncated));
        }
        let item = (rest[0], &rest[2..len]);
        rest = &rest[len..];
        Some(Ok(item))
    })
}

impl NdiscRepr {
    /// Parses an ICMPv6 message (from its type byte on) that is an NS or NA.
    /// Anything else is `Malformed`; a short message is `Truncated`.
    /// Checksum and hop limit are the caller's to check.
    pub fn parse(icmp: &[u8]) -> Result<NdiscRepr> {
        if icmp.len() < FIXED_LEN {
            return Err(Error::Truncated);
        }
        let msg_type = icmp[0];
        if (msg_type != icmpv6::NS && msg_type != icmpv6::NA) || icmp[1] != 0 {
            return Err(Error::Malformed);
        }
        let mut t = [0u8; 16];
        t.copy_from_slice(&icmp[8..24]);
        let want = if msg_type == icmpv6::NS {
            opt::SOURCE_LL_ADDR
        } else {
            opt::TARGET_LL_ADDR
        };
        let mut lladdr = None;
        for o in options(&icmp[FIXED_LEN..]) {
            let (kind, data) = o?;
            if kind == want && data.len() >= 6 && lladdr.is_none() {
                let mut m = [0u8; 6];
                m.copy_from_slice(&data[..6]);
                lladdr = Some(MacAddr(m));
            }
        }
        Ok(NdiscRepr {
            msg_type,
            flags: if msg_type == icmpv6::NA { icmp[4] } else { 0 },
            target: Ipv6Addr::from(t),
            lladdr,
        })
    }

    /// Length of the ICMPv6 message [`emit`](Self::emit) writes.
    pub const fn buffer_len(&self) -> usize {
        FIXED_LEN + if self.lladdr.is_some() { 8 } else { 0 }
    }

    /// Writes the ICMPv6 message with a zero checksum (see
    /// [`icmpv6::Packet::fill_checksum`]).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.msg_type;
        buf[1] = 0;
        buf[2..4].fill(0);
        buf[4] = if self.msg_type == icmpv6::NA {
            self.flags
        } else {
            0
        };
        buf[5..8].fill(0);
        buf[8..24].copy_from_slice(&self.target.octets());
        if let Some(m) = self.lladdr {
            buf[24] = if self.msg_type == icmpv6::NS {
                opt::SOURCE_LL_ADDR
            } else {
                opt::TARGET_LL_ADDR
            };
            buf[25] = 1;
            buf[26..32].copy_from_slice(&m.0);
        }
    }
}

/// The solicited-node multicast address of `a` (ff02::1:ffXX:XXXX).
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet multicast address of an IPv6 multicast group (33:33 + low 32 bits).
pub fn multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// Length of the frame [`emit_solicit_frame`] writes.
pub const SOLICIT_FRAME_LEN: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN + FIXED_LEN + 8;

/// Writes a complete Ethernet frame carrying a neighbour solicitation for
/// `target` from `(src_mac, src_ip)` to the target's solicited-node group,
/// with the source link-layer address option and a valid checksum. `buf`
/// must hold [`SOLICIT_FRAME_LEN`] bytes; returns that length.
pub fn emit_solicit_frame(
    buf: &mut [u8],
    src_mac: MacAddr,
    src_ip: Ipv6Addr,
    target: Ipv6Addr,
) -> usize {
    let group = solicited_node(target);
    let buf = &mut buf[..SOLICIT_FRAME_LEN];
    let mut f = Frame::new_unchecked(&mut buf[..]);
    f.set_dst_addr(multicast_mac(group));
    f.set_src_addr(src_mac);
    f.set_ethertype(EtherType::IPV6);
    let l3 = &mut buf[ethernet::HEADER_LEN..];
    let icmp_len = FIXED_LEN + 8;
    let ip = ipv6::Ipv6Repr {
        src: src_ip,
        dst: group,
        next_header: ip_proto::ICMPV6,
        payload_len: icmp_len,
        hop_limit: HOP_LIMIT,
    };
    let mut p = ipv6::Packet::new_unchecked(&mut l3[..]);
    ip.emit(&mut p);
    let body = &mut l3[ipv6::HEADER_LEN..];
    NdiscRepr {
        msg_type: icmpv6::NS,
        flags: 0,
        target,
        lladdr: Some(src_mac),
    }
    .emit(body);
    icmpv6::Packet::new_unchecked(&mut body[..icmp_len]).fill_checksum(&src_ip, &group);
    SOLICIT_FRAME_LEN
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0x12, 0x3456);

    #[test]
    fn solicited_node_group_and_mac() {
        assert_eq!(
            solicited_node(T),
            "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            multicast_mac(solicited_node(T)),
            MacAddr([0x33, 0x33, 0xff, 0x12, 0x34, 0x56])
        );
    }

    /// A neighbour advertisement as Linux sends it in answer to a multicast
    /// solicitation: S and O set, target link-layer address option.
    #[test]
    fn parse_advert() {
        let mut na = vec![136, 0, 0x12, 0x34, 0x60, 0, 0, 0];
        na.extend_from_slice(&T.octets());
        na.extend_from_slice(&[2, 1, 0x2e, 0x5f, 0x11, 0xaa, 0, 2]);
        let r = NdiscRepr::parse(&na).unwrap();
        assert_eq!(r.msg_type, icmpv6::NA);
        assert_eq!(r.flags, flags::SOLICITED | flags::OVERRIDE);
        assert_eq!(r.target, T);
        assert_eq!(r.lladdr, Some(MacAddr([0x2e, 0x5f, 0x11, 0xaa, 0, 2])));
        // No option: no MAC, still an advert.
        let r = NdiscRepr::parse(&na[..24]).unwrap();
        assert_eq!(r.lladdr, None);
        // Zero-length option: malformed (RFC 4861 says discard).
        let mut bad = na.clone();
        bad[25] = 0;
        assert_eq!(NdiscRepr::parse(&bad), Err(Error::Malformed));
        // Option running past the end.
        let mut long = na.clone();
        long[25] = 2;
        assert_eq!(NdiscRepr::parse(&long), Err(Error::Truncated));
        // Echo reply is not ND.
        let mut echo = na.clone();
        echo[0] = 129;
        assert_eq!(NdiscRepr::parse(&echo), Err(Error::Malformed));
        assert_eq!(NdiscRepr::parse(&na[..23]), Err(Error::Truncated));
    }

    #[test]
    fn solicit_frame_bytes() {
        let src_mac = MacAddr([0x7a, 1, 2, 3, 4, 5]);
        let src: Ipv6Addr = "fd00:18::1".parse().unwrap();
        let mut buf = [0xa5u8; SOLICIT_FRAME_LEN + 2];
        assert_eq!(emit_solicit_frame(&mut buf, src_mac, src, T), 86);
        assert_eq!(
            &buf[..14],
            &[0x33, 0x33, 0xff, 0x12, 0x34, 0x56, 0x7a, 1, 2, 3, 4, 5, 0x86, 0xdd]
        );
        let ip = ipv6::Packet::new_checked(&buf[14..86]).unwrap();
        assert_eq!(ip.hop_limit(), 255);
        assert_eq!(ip.next_header(), 58);
        assert_eq!(ip.payload_len(), 32);
        assert_eq!(ip.dst_addr(), solicited_node(T));
        let icmp = icmpv6::Packet::new_checked(&buf[54..86]).unwrap();
        assert!(icmp.verify_checksum(&src, &solicited_node(T)));
        let r = NdiscRepr::parse(&buf[54..86]).unwrap();
        assert_eq!(r.msg_type, icmpv6::NS);
        assert_eq!(r.target, T);
        assert_eq!(r.lladdr, Some(src_mac));
        assert_eq!(&buf[86..], &[0xa5, 0xa5]);
    }

    proptest! {
        #[test]
        fn roundtrip(na in any::<bool>(), fl in any::<u8>(), t in any::<[u8; 16]>(),
                     mac in proptest::option::of(any::<[u8; 6]>())) {
            let r = NdiscRepr {
                msg_type: if na { icmpv6::NA } else { icmpv6::NS },
                flags: if na { fl } else { 0 },
                target: Ipv6Addr::from(t),
                lladdr: mac.map(MacAddr),
            };
            let mut buf = vec![0xa5u8; r.buffer_len()];
            r.emit(&mut buf);
            prop_assert_eq!(NdiscRepr::parse(&buf).unwrap(), r);
        }

        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = NdiscRepr::parse(&data);
            let _ = options(&data).count();
        }
    }
}
