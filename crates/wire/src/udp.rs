//! UDP (RFC 768).

use crate::{be16, checksum, ip_proto, put16, Error, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// Length of the header.
pub const HEADER_LEN: usize = 8;

/// A view over a UDP datagram.
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

    /// Checks that the header is present and `8 <= length <= buffer`.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let ulen = usize::from(self.len());
        if ulen < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if ulen > len {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field (header + payload).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The bytes from 8 to the length field.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }

    fn datagram(&self) -> &[u8] {
        &self.buffer.as_ref()[..usize::from(self.len())]
    }

    /// Whether the checksum is right, with the IPv4 pseudo-header. A zero
    /// checksum means "none" in IPv4 and passes.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let s = checksum::pseudo_v4(src, dst, ip_proto::UDP, self.len());
        checksum::finish(checksum::sum(self.datagram(), s)) == 0
    }

    /// Whether the checksum is right, with the IPv6 pseudo-header (where a
    /// checksum is mandatory, so zero fails).
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        if self.checksum() == 0 {
            return false;
        }
        let s = checksum::pseudo_v6(src, dst, ip_proto::UDP, u32::from(self.len()));
        checksum::finish(checksum::sum(self.datagram(), s)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    pub fn set_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, v);
    }

    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// Computes the checksum over the length field's bytes with the IPv4
    /// pseudo-header; a result of 0 is sent as 0xffff.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let s = checksum::pseudo_v4(src, dst, ip_proto::UDP, self.len());
        let c = checksum::finish(checksum::sum(self.datagram(), s));
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }

    /// Same with the IPv6 pseudo-header.
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let s = checksum::pseudo_v6(src, dst, ip_proto::UDP, u32::from(self.len()));
        let c = checksum::finish(checksum::sum(self.datagram(), s));
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }
}

/// A UDP header as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: usize,
}

impl UdpRepr {
    /// Reads the header. The checksum is not verified (see the crate docs).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<UdpRepr> {
        packet.check_len()?;
        Ok(UdpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload_len: usize::from(packet.len()) - HEADER_LEN,
        })
    }

    /// Header length: 8.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus payload.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header and the checksum over it and the `payload_len`
    /// bytes after it (write the payload first, or fill the checksum again).
    ///
    /// Panics if the buffer is shorter than [`buffer_len`](Self::buffer_len),
    /// `payload_len` exceeds 65527, or `src` and `dst` are of different
    /// families.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: &IpAddr,
        dst: &IpAddr,
    ) {
        let len = u16::try_from(self.buffer_len()).expect("UdpRepr::emit: payload_len too large");
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(len);
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => packet.fill_checksum_v4(*s, *d),
            (IpAddr::V6(s), IpAddr::V6(d)) => packet.fill_checksum_v6(s, d),
            _ => panic!("UdpRepr::emit: source and destination families differ"),
        }
    }
}
