//! IPv6 (RFC 8200) and a lax walk over its extension headers.

use crate::{be16, ip_proto, put16, Error, Result};
use std::net::Ipv6Addr;

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: usize = 4;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;

fn addr(b: &[u8]) -> Ipv6Addr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    Ipv6Addr::from(a)
}

/// A view over an IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; getters may panic if it is short.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after [`check_len`](Self::check_len); no getter panics.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the fixed header and `payload_len` bytes after it are
    /// present. The version is not checked here (see [`Ipv6Repr::parse`]).
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn first_word(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// The 20-bit flow label.
    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }

    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::SRC])
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        addr(&self.buffer.as_ref()[field::DST])
    }

    /// Same as [`src_addr`](Self::src_addr).
    pub fn src(&self) -> Ipv6Addr {
        self.src_addr()
    }

    /// Same as [`dst_addr`](Self::dst_addr).
    pub fn dst(&self) -> Ipv6Addr {
        self.dst_addr()
    }

    /// The `payload_len` bytes after the fixed header (extension headers
    /// included).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_first_word(&mut self, w: u32) {
        self.buffer.as_mut()[field::VER_TC_FLOW].copy_from_slice(&w.to_be_bytes());
    }

    pub fn set_version(&mut self, v: u8) {
        let w = (self.first_word() & 0x0fff_ffff) | (u32::from(v & 0x0f) << 28);
        self.set_first_word(w);
    }

    pub fn set_traffic_class(&mut self, tc: u8) {
        let w = (self.first_word() & 0xf00f_ffff) | (u32::from(tc) << 20);
        self.set_first_word(w);
    }

    /// Sets the flow label (only the low 20 bits are used).
    pub fn set_flow_label(&mut self, label: u32) {
        let w = (self.first_word() & 0xfff0_0000) | (label & 0x000f_ffff);
        self.set_first_word(w);
    }

    pub fn set_payload_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, v);
    }

    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = v;
    }

    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    pub fn set_src_addr(&mut self, a: &Ipv6Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }

    pub fn set_dst_addr(&mut self, a: &Ipv6Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The fixed IPv6 header as a value (traffic class and flow label zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub next_header: u8,
    pub hop_limit: u8,
    pub payload_len: usize,
}

impl Ipv6Repr {
    /// Reads the fixed header; versions other than 6 are `Malformed`.
    /// Extension headers stay in the payload (see [`upper_layer`]).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Ipv6Repr> {
        packet.check_len()?;
        if packet.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(Ipv6Repr {
            src: packet.src_addr(),
            dst: packet.dst_addr(),
            next_header: packet.next_header(),
            hop_limit: packet.hop_limit(),
            payload_len: usize::from(packet.payload_len()),
        })
    }

    /// Header length: 40.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the 40-byte header; the payload is left as it is. Panics if
    /// the buffer is shorter than 40 bytes or `payload_len` exceeds 65535.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let len = u16::try_from(self.payload_len).expect("Ipv6Repr::emit: payload_len too large");
        packet.set_first_word(6 << 28);
        packet.set_payload_len(len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(&self.src);
        packet.set_dst_addr(&self.dst);
    }
}

/// Where the upper-layer header starts, found by [`upper_layer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UpperLayer {
    /// The protocol after the last extension header skipped.
    pub protocol: u8,
    /// Offset of its header from the start of the buffer given.
    pub offset: usize,
    /// Fragment offset in bytes if a fragment header was seen, else 0. Only
    /// the fragment at offset 0 carries the upper-layer header.
    pub frag_offset: u16,
    /// The M flag of a fragment header, if one was seen.
    pub more_frags: bool,
}

/// At most this many extension headers are skipped.
const MAX_EXT_HEADERS: usize = 8;

/// Laxly skips hop-by-hop, routing, fragment, destination-options and
/// authentication headers in `packet`, which starts at an IPv6 header.
///
/// Neither the version nor `payload_len` is checked (ICMPv6 errors quote
/// packets whose length fields disagree with what is present). Returns
/// `None` if the fixed header or an extension header runs past the buffer,
/// or if more than 8 extension headers are chained. The returned offset may
/// equal `packet.len()` when nothing follows the headers.
pub fn upper_layer(packet: &[u8]) -> Option<UpperLayer> {
    if packet.len() < HEADER_LEN {
        return None;
    }
    let mut next = packet[field::NXT_HDR];
    let mut at = HEADER_LEN;
    let mut frag_offset = 0;
    let mut more_frags = false;
    for _ in 0..=MAX_EXT_HEADERS {
        let len = match next {
            ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_OPTS => {
                (usize::from(*packet.get(at + 1)?) + 1) * 8
            }
            ip_proto::AH => (usize::from(*packet.get(at + 1)?) + 2) * 4,
            ip_proto::IPV6_FRAG => {
                let b = packet.get(at..at + 8)?;
                let raw = u16::from_be_bytes([b[2], b[3]]);
                frag_offset = raw & 0xfff8;
                more_frags = raw & 1 != 0;
                8
            }
            protocol => {
                return Some(UpperLayer {
                    protocol,
                    offset: at,
                    frag_offset,
                    more_frags,
                })
            }
        };
        if at + len > packet.len() {
            return None;
        }
        next = packet[at];
        at += len;
    }
    None
}
