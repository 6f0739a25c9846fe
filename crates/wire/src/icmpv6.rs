//! ICMPv6 (RFC 4443) and the neighbour-discovery types (RFC 4861).

use crate::{be16, checksum, ip_proto, put16, Error, Result};
use std::net::Ipv6Addr;

/// Message types.
pub const DST_UNREACH: u8 = 1;
pub const PACKET_TOO_BIG: u8 = 2;
pub const TIME_EXCEEDED: u8 = 3;
pub const PARAM_PROBLEM: u8 = 4;
pub const ECHO_REQUEST: u8 = 128;
pub const ECHO_REPLY: u8 = 129;
pub const ROUTER_SOLICIT: u8 = 133;
pub const ROUTER_ADVERT: u8 = 134;
pub const NEIGHBOR_SOLICIT: u8 = 135;
pub const NEIGHBOR_ADVERT: u8 = 136;
pub const REDIRECT: u8 = 137;
/// Short name of [`NEIGHBOR_SOLICIT`].
pub const NS: u8 = NEIGHBOR_SOLICIT;
/// Short name of [`NEIGHBOR_ADVERT`].
pub const NA: u8 = NEIGHBOR_ADVERT;

/// Whether a message of this type is an error that quotes the offending
/// packet (types 1 to 4; RFC 4443 reserves 0..=127 for errors, but only
/// these are defined).
pub const fn is_error(msg_type: u8) -> bool {
    matches!(msg_type, DST_UNREACH..=PARAM_PROBLEM)
}

/// Codes of [`DST_UNREACH`].
pub mod unreach {
    pub const NO_ROUTE: u8 = 0;
    /// Communication with destination administratively prohibited.
    pub const ADMIN_PROHIBITED: u8 = 1;
    pub const BEYOND_SCOPE: u8 = 2;
    pub const ADDR_UNREACH: u8 = 3;
    pub const PORT_UNREACH: u8 = 4;
    pub const FAILED_POLICY: u8 = 5;
    pub const REJECT_ROUTE: u8 = 6;
}

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQ: usize = 6;
    pub const DATA: usize = 8;
}

/// Length of the header (type, code, checksum and the 4 "rest" bytes).
pub const HEADER_LEN: usize = 8;

/// A view over an ICMPv6 message.
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

    /// Checks that the 8-byte header is present.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Bytes 4..6: the identifier of echo messages.
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Bytes 6..8: the sequence number of echo messages.
    pub fn echo_seq(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_SEQ)
    }

    /// Bytes 4..8 as one number: the MTU of "packet too big", the pointer
    /// of "parameter problem".
    pub fn rest(&self) -> u32 {
        crate::be32(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Everything after the 8-byte header: echo data, or for errors the
    /// quoted packet (as much as fits in the minimum MTU).
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// Whether the checksum over the whole buffer and the IPv6
    /// pseudo-header is right.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u32::try_from(data.len()) else {
            return false;
        };
        let s = checksum::pseudo_v6(src, dst, ip_proto::ICMPV6, len);
        checksum::finish(checksum::sum(data, s)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_echo_ident(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::ECHO_IDENT, v);
    }

    pub fn set_echo_seq(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::ECHO_SEQ, v);
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::DATA..]
    }

    /// Computes the checksum over the whole buffer with the IPv6
    /// pseudo-header and writes it.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let s = checksum::pseudo_v6(src, dst, ip_proto::ICMPV6, data.len() as u32);
        let c = checksum::finish(checksum::sum(data, s));
        self.set_checksum(c);
    }
}

/// An ICMPv6 header as a value. `ident` and `seq` are bytes 4..6 and 6..8
/// whatever the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icmpv6Repr {
    pub msg_type: u8,
    pub code: u8,
    pub ident: u16,
    pub seq: u16,
    pub data_len: usize,
}

impl Icmpv6Repr {
    /// Reads the header. The checksum is not verified (see the crate docs).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Icmpv6Repr> {
        packet.check_len()?;
        Ok(Icmpv6Repr {
            msg_type: packet.msg_type(),
            code: packet.code(),
            ident: packet.echo_ident(),
            seq: packet.echo_seq(),
            data_len: packet.data().len(),
        })
    }

    /// Header length: 8.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Header plus data.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data_len
    }

    /// Writes the header and the checksum (with the IPv6 pseudo-header) over
    /// it and the `data_len` bytes after it. Panics if the buffer is shorter
    /// than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) {
        let end = self.buffer_len();
        let mut p = Packet::new_unchecked(&mut packet.buffer.as_mut()[..end]);
        p.set_msg_type(self.msg_type);
        p.set_code(self.code);
        p.set_echo_ident(self.ident);
        p.set_echo_seq(self.seq);
        p.fill_checksum(src, dst);
    }
}
