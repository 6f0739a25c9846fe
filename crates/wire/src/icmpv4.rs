//! ICMP for IPv4 (RFC 792).

use crate::{be16, checksum, put16, Error, Result};

/// Message types.
pub const ECHO_REPLY: u8 = 0;
pub const DEST_UNREACH: u8 = 3;
pub const SOURCE_QUENCH: u8 = 4;
pub const REDIRECT: u8 = 5;
pub const ECHO_REQUEST: u8 = 8;
pub const ROUTER_ADVERT: u8 = 9;
pub const ROUTER_SOLICIT: u8 = 10;
pub const TIME_EXCEEDED: u8 = 11;
pub const PARAM_PROBLEM: u8 = 12;
pub const TIMESTAMP: u8 = 13;
pub const TIMESTAMP_REPLY: u8 = 14;
pub const ADDRESS_MASK_REQUEST: u8 = 17;
pub const ADDRESS_MASK_REPLY: u8 = 18;

/// Whether a message of this type quotes the datagram that caused it
/// (destination unreachable, source quench, redirect, time exceeded,
/// parameter problem).
pub const fn is_error(msg_type: u8) -> bool {
    matches!(
        msg_type,
        DEST_UNREACH | SOURCE_QUENCH | REDIRECT | TIME_EXCEEDED | PARAM_PROBLEM
    )
}

/// Codes of [`DEST_UNREACH`] (RFC 792, RFC 1812).
pub mod unreach {
    pub const NET_UNREACH: u8 = 0;
    pub const HOST_UNREACH: u8 = 1;
    pub const PROTO_UNREACH: u8 = 2;
    pub const PORT_UNREACH: u8 = 3;
    pub const FRAG_NEEDED: u8 = 4;
    pub const SRC_ROUTE_FAILED: u8 = 5;
    pub const NET_UNKNOWN: u8 = 6;
    pub const HOST_UNKNOWN: u8 = 7;
    pub const HOST_ISOLATED: u8 = 8;
    pub const NET_PROHIBITED: u8 = 9;
    pub const HOST_PROHIBITED: u8 = 10;
    pub const NET_UNREACH_TOS: u8 = 11;
    pub const HOST_UNREACH_TOS: u8 = 12;
    /// Communication administratively prohibited (what `iptables -j REJECT
    /// --reject-with icmp-admin-prohibited` sends).
    pub const ADMIN_PROHIBITED: u8 = 13;
    pub const HOST_PRECEDENCE_VIOLATION: u8 = 14;
    pub const PRECEDENCE_CUTOFF: u8 = 15;
}

/// Codes of [`TIME_EXCEEDED`].
pub mod time_exceeded {
    pub const TTL: u8 = 0;
    pub const REASSEMBLY: u8 = 1;
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

/// A view over an ICMPv4 message.
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

    /// Bytes 4..6: the identifier of echo and timestamp messages.
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Bytes 6..8: the sequence number of echo and timestamp messages (the
    /// next-hop MTU of "fragmentation needed").
    pub fn echo_seq(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_SEQ)
    }

    /// Everything after the 8-byte header: echo data, or for errors the
    /// quoted datagram (its IP header and at least 8 bytes after it).
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[field::DATA..]
    }

    /// Whether the checksum over the whole buffer is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::finish(checksum::sum(self.buffer.as_ref(), 0)) == 0
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

    /// Computes the checksum over the whole buffer and writes it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::finish(checksum::sum(self.buffer.as_ref(), 0));
        self.set_checksum(c);
    }
}

/// An ICMPv4 header as a value. `ident` and `seq` are bytes 4..6 and 6..8
/// whatever the type (for errors: unused, or pointer / MTU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icmpv4Repr {
    pub msg_type: u8,
    pub code: u8,
    pub ident: u16,
    pub seq: u16,
    pub data_len: usize,
}

impl Icmpv4Repr {
    /// Reads the header. The checksum is not verified (see the crate docs).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Icmpv4Repr> {
        packet.check_len()?;
        Ok(Icmpv4Repr {
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

    /// Writes the header and the checksum over it and the `data_len` bytes
    /// after it (write the data first, or fill the checksum again). Panics
    /// if the buffer is shorter than [`buffer_len`](Self::buffer_len).
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let end = self.buffer_len();
        let mut p = Packet::new_unchecked(&mut packet.buffer.as_mut()[..end]);
        p.set_msg_type(self.msg_type);
        p.set_code(self.code);
        p.set_echo_ident(self.ident);
        p.set_echo_seq(self.seq);
        p.fill_checksum();
    }
}
