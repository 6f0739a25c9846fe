//! Packet formats for vigie: zero-copy views, small checked representations,
//! checksums (full and incremental), the receive-side [`summary`] and the
//! send-side [`template`]s. No I/O.
//!
//! Every protocol module follows one pattern:
//!
//! * `Packet<T: AsRef<[u8]>>` (or `Frame<T>`) is a view over a byte buffer.
//!   `new_unchecked` wraps anything; `new_checked` runs `check_len` first and
//!   then guarantees that no getter panics. Setters live in an
//!   `impl<T: AsRef<[u8]> + AsMut<[u8]>>` block. Field offsets are in a
//!   private `mod field`.
//! * A small `Repr` is the checked model: `parse` reads one from a view,
//!   `emit` writes it, `buffer_len` tells how many bytes the packet it
//!   describes takes (header + `payload_len`).
//!
//! Reprs do not verify checksums: packets captured on loopback or veth often
//! carry offloaded (partial) checksums. Use the views' `verify_checksum*`
//! where a full check is wanted.

#![forbid(unsafe_code)]

use std::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod ndisc;
pub mod shape;
pub mod summary;
pub mod tcp;
pub mod template;
pub mod trace;
pub mod udp;

pub use summary::{summarize, Body, Quoted, Summary};
pub use tcp::TcpFlags;
pub use template::{TcpTemplate, UdpTemplate};

/// IP protocol numbers (IPv4 `protocol`, IPv6 `next_header`).
pub mod ip_proto {
    /// IPv6 hop-by-hop options extension header.
    pub const HOPOPT: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    /// IPv6 routing extension header.
    pub const IPV6_ROUTE: u8 = 43;
    /// IPv6 fragment extension header.
    pub const IPV6_FRAG: u8 = 44;
    pub const ESP: u8 = 50;
    /// Authentication header (also an IPv6 extension header).
    pub const AH: u8 = 51;
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const IPV6_NONXT: u8 = 59;
    /// IPv6 destination options extension header.
    pub const IPV6_OPTS: u8 = 60;
    pub const SCTP: u8 = 132;
}

/// Why a buffer could not be read as a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer is shorter than the headers or lengths it announces.
    Truncated,
    /// A field holds a value the format does not allow (wrong version,
    /// header length below the minimum, bad option encoding, ...).
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated packet"),
            Error::Malformed => f.write_str("malformed packet"),
        }
    }
}

impl std::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

/// Big-endian reads that the `check_len` of each view makes infallible.
/// Callers index only within lengths they have checked.
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
