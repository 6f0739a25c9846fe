//! TCP (RFC 9293): the full 9-bit flag set, a header view and a repr with
//! the options a scanner sends and reads (MSS, window scale, SACK-permitted,
//! timestamps).

use crate::{be16, be32, checksum, ip_proto, put16, put32, Error, Result};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

/// Any combination of the nine TCP flags (a scanner sends FIN|PSH|URG,
/// none at all, or whatever `--scanflags` says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const NONE: TcpFlags = TcpFlags(0);
    pub const FIN: TcpFlags = TcpFlags(0x001);
    pub const SYN: TcpFlags = TcpFlags(0x002);
    pub const RST: TcpFlags = TcpFlags(0x004);
    pub const PSH: TcpFlags = TcpFlags(0x008);
    pub const ACK: TcpFlags = TcpFlags(0x010);
    pub const URG: TcpFlags = TcpFlags(0x020);
    pub const ECE: TcpFlags = TcpFlags(0x040);
    pub const CWR: TcpFlags = TcpFlags(0x080);
    pub const NS: TcpFlags = TcpFlags(0x100);
    /// All nine bits.
    pub const ALL: TcpFlags = TcpFlags(0x1ff);

    /// Every flag with nmap's name for it (`--scanflags`, XML
    /// `scanflags=`), in the order nmap writes them: NS CWR ECE URG ACK PSH
    /// RST SYN FIN.
    pub const NAMES: [(TcpFlags, &'static str); 9] = [
        (TcpFlags::NS, "NS"),
        (TcpFlags::CWR, "CWR"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::FIN, "FIN"),
    ];

    /// Every flag but NS with the letter nmap's packet trace gives it, in
    /// the order it writes them: a SYN-ACK is `SA`, a reset-ack `RA`.
    pub const LETTERS: [(TcpFlags, char); 8] = [
        (TcpFlags::SYN, 'S'),
        (TcpFlags::FIN, 'F'),
        (TcpFlags::RST, 'R'),
        (TcpFlags::PSH, 'P'),
        (TcpFlags::ACK, 'A'),
        (TcpFlags::URG, 'U'),
        (TcpFlags::ECE, 'E'),
        (TcpFlags::CWR, 'C'),
    ];

    /// Appends the flags' letters ([`TcpFlags::LETTERS`]).
    pub fn push_letters(self, out: &mut String) {
        for (bit, c) in TcpFlags::LETTERS {
            if self.contains(bit) {
                out.push(c);
            }
        }
    }

    /// The flags' names run together (`URGPSHFIN`), `NONE` for no flag.
    pub fn names(self) -> String {
        let names: String = TcpFlags::NAMES
            .iter()
            .filter(|(bit, _)| self.contains(*bit))
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            "NONE".into()
        } else {
            names
        }
    }

    /// Flag names run together in any order and case (`SYNFIN`,
    /// `urgpshfin`), as [`TcpFlags::names`] writes them; `None` if any part
    /// is not a flag's name. `NONE` alone is no flag.
    pub fn from_names(s: &str) -> Option<TcpFlags> {
        let upper = s.to_ascii_uppercase();
        if upper == "NONE" {
            return Some(TcpFlags::NONE);
        }
        let mut rest = upper.as_str();
        let mut bits = 0u16;
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let (bit, name) = TcpFlags::NAMES.iter().find(|(_, n)| rest.starts_with(n))?;
            bits |= bit.0;
            rest = &rest[name.len()..];
        }
        Some(TcpFlags(bits))
    }

    /// The raw bits (only the low 9 can be set by the constructors here).
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Keeps the low 9 bits of `bits`.
    pub const fn from_bits_truncate(bits: u16) -> TcpFlags {
        TcpFlags(bits & 0x1ff)
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set in `self`.
    pub const fn intersects(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for TcpFlags {
    type Output = TcpFlags;
    fn bitand(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & rhs.0)
    }
}

impl Not for TcpFlags {
    type Output = TcpFlags;
    fn not(self) -> TcpFlags {
        TcpFlags(!self.0 & 0x1ff)
    }
}

/// Letters in the order nmap's packet trace prints them ("SA" for
/// SYN|ACK, "RA" for RST|ACK, "FPU" for a Xmas probe); NS, which nmap does
/// not print, comes last as 'N'. No flags print as the empty string.
impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const ORDER: [(TcpFlags, char); 9] = [
            (TcpFlags::SYN, 'S'),
            (TcpFlags::FIN, 'F'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::ACK, 'A'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'C'),
            (TcpFlags::NS, 'N'),
        ];
        for (flag, letter) in ORDER {
            if self.contains(flag) {
                fmt::Write::write_char(f, letter)?;
            }
        }
        Ok(())
    }
}

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const FLAGS: usize = 12;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const HEADER_LEN: usize = 20;

/// Option kinds.
pub mod option {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// A view over a TCP segment (header, options, payload).
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

    /// Checks that the fixed header is present and that the data offset is
    /// at least 20 bytes and within the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = usize::from(self.header_len());
        if hl < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if hl > len {
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

    pub fn seq_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ)
    }

    pub fn ack_number(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK)
    }

    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::FLAGS] >> 4) * 4
    }

    /// All nine flags.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(be16(self.buffer.as_ref(), field::FLAGS) & 0x1ff)
    }

    pub fn window_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WINDOW)
    }

    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    pub fn urgent_at(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT)
    }

    /// Option bytes between the fixed header and the data offset.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[field::OPTIONS..usize::from(self.header_len())]
    }

    /// Everything after the header, to the end of the buffer.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[usize::from(self.header_len())..]
    }

    /// Whether the checksum over the whole buffer and the IPv4 pseudo-header
    /// is right. The buffer must be exactly the segment.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u16::try_from(data.len()) else {
            return false;
        };
        let s = checksum::pseudo_v4(src, dst, ip_proto::TCP, len);
        checksum::finish(checksum::sum(data, s)) == 0
    }

    /// Same with the IPv6 pseudo-header.
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let Ok(len) = u32::try_from(data.len()) else {
            return false;
        };
        let s = checksum::pseudo_v6(src, dst, ip_proto::TCP, len);
        checksum::finish(checksum::sum(data, s)) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, v);
    }

    pub fn set_dst_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, v);
    }

    pub fn set_seq_number(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::SEQ, v);
    }

    pub fn set_ack_number(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::ACK, v);
    }

    /// Sets the header length in bytes (rounded down to a multiple of 4);
    /// the flags are kept.
    pub fn set_header_len(&mut self, len: u8) {
        let b = &mut self.buffer.as_mut()[field::FLAGS];
        *b = (*b & 0x0f) | ((len / 4) << 4);
    }

    /// Sets all nine flags; the data offset and reserved bits are kept.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        let raw = be16(self.buffer.as_ref(), field::FLAGS);
        let raw = (raw & !0x1ff) | (flags.0 & 0x1ff);
        put16(self.buffer.as_mut(), field::FLAGS, raw);
    }

    pub fn set_window_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::WINDOW, v);
    }

    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }

    pub fn set_urgent_at(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::URGENT, v);
    }

    pub fn options_mut(&mut self) -> &mut [u8] {
        let hl = usize::from(self.header_len());
        &mut self.buffer.as_mut()[field::OPTIONS..hl]
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = usize::from(self.header_len());
        &mut self.buffer.as_mut()[hl..]
    }

    /// Computes the checksum over the whole buffer with the IPv4
    /// pseudo-header and writes it.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let s = checksum::pseudo_v4(src, dst, ip_proto::TCP, data.len() as u16);
        let c = checksum::finish(checksum::sum(data, s));
        self.set_checksum(c);
    }

    /// Same with the IPv6 pseudo-header.
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let s = checksum::pseudo_v6(src, dst, ip_proto::TCP, data.len() as u32);
        let c = checksum::finish(checksum::sum(data, s));
        self.set_checksum(c);
    }
}

/// A TCP header as a value, with the options a scanner cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamp: Option<(u32, u32)>,
    pub payload_len: usize,
}

impl TcpRepr {
    /// Reads the header and its options. Unknown options are skipped by
    /// their length; an option whose length is below 2 or runs past the
    /// header, or a known option with the wrong length, is `Malformed`.
    /// The checksum is not verified (see the crate docs).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<TcpRepr> {
        packet.check_len()?;
        let mut repr = TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq: packet.seq_number(),
            ack: packet.ack_number(),
            flags: packet.flags(),
            window: packet.window_len(),
            urgent: packet.urgent_at(),
            payload_len: packet.payload().len(),
            ..TcpRepr::default()
        };
        let mut opts = packet.options();
        while let Some(&kind) = opts.first() {
            match kind {
                option::END => break,
                option::NOP => {
                    opts = &opts[1..];
                    continue;
                }
                _ => {}
            }
            let len = usize::from(*opts.get(1).ok_or(Error::Malformed)?);
            if len < 2 || len > opts.len() {
                return Err(Error::Malformed);
            }
            let body = &opts[2..len];
            match (kind, len) {
                (option::MSS, 4) => repr.mss = Some(be16(body, 0)),
                (option::WINDOW_SCALE, 3) => repr.window_scale = Some(body[0]),
                (option::SACK_PERMITTED, 2) => repr.sack_permitted = true,
                (option::TIMESTAMP, 10) => repr.timestamp = Some((be32(body, 0), be32(body, 4))),
                (
                    option::MSS | option::WINDOW_SCALE | option::SACK_PERMITTED | option::TIMESTAMP,
                    _,
                ) => return Err(Error::Malformed),
                _ => {}
            }
            opts = &opts[len..];
        }
        Ok(repr)
    }

    /// Length of the options `emit` writes (a multiple of 4).
    pub fn options_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.timestamp.is_some() {
            n += 12; // SACK-permitted rides in the 2 bytes of padding
        } else if self.sack_permitted {
            n += 4;
        }
        if self.window_scale.is_some() {
            n += 4;
        }
        n
    }

    /// Header length including options.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options_len()
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes the header and options (Linux's layout: MSS, SACK-permitted +
    /// timestamps, NOP + window scale) and the checksum over the header and
    /// the `payload_len` bytes that follow it in the buffer (write the
    /// payload first, or call `fill_checksum_*` again afterwards).
    ///
    /// Panics if the buffer is shorter than [`buffer_len`](Self::buffer_len)
    /// or `src` and `dst` are not of the same family.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: &IpAddr,
        dst: &IpAddr,
    ) {
        let hl = self.header_len();
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_seq_number(self.seq);
        packet.set_ack_number(self.ack);
        put16(packet.buffer.as_mut(), field::FLAGS, 0);
        packet.set_header_len(hl as u8);
        packet.set_flags(self.flags);
        packet.set_window_len(self.window);
        packet.set_urgent_at(self.urgent);
        let opts = packet.options_mut();
        let mut at = 0;
        if let Some(mss) = self.mss {
            opts[at..at + 4].copy_from_slice(&[option::MSS, 4, (mss >> 8) as u8, mss as u8]);
            at += 4;
        }
        if let Some((val, ecr)) = self.timestamp {
            if self.sack_permitted {
                opts[at..at + 2].copy_from_slice(&[option::SACK_PERMITTED, 2]);
            } else {
                opts[at..at + 2].copy_from_slice(&[option::NOP, option::NOP]);
            }
            opts[at + 2] = option::TIMESTAMP;
            opts[at + 3] = 10;
            put32(opts, at + 4, val);
            put32(opts, at + 8, ecr);
            at += 12;
        } else if self.sack_permitted {
            opts[at..at + 4].copy_from_slice(&[
                option::NOP,
                option::NOP,
                option::SACK_PERMITTED,
                2,
            ]);
            at += 4;
        }
        if let Some(ws) = self.window_scale {
            opts[at..at + 4].copy_from_slice(&[option::NOP, option::WINDOW_SCALE, 3, ws]);
        }
        let end = self.buffer_len();
        let mut seg = Packet::new_unchecked(&mut packet.buffer.as_mut()[..end]);
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => seg.fill_checksum_v4(*s, *d),
            (IpAddr::V6(s), IpAddr::V6(d)) => seg.fill_checksum_v6(s, d),
            _ => panic!("TcpRepr::emit: source and destination families differ"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TcpFlags;

    #[test]
    fn names_read_back() {
        for bits in 0..=0x1ffu16 {
            let f = TcpFlags(bits);
            assert_eq!(TcpFlags::from_names(&f.names()), Some(f), "{bits:#x}");
        }
        assert_eq!(TcpFlags(0x029).names(), "URGPSHFIN");
        assert_eq!(TcpFlags::from_names("synfin"), Some(TcpFlags(0x003)));
        assert_eq!(TcpFlags::from_names("ECECWRNS"), Some(TcpFlags(0x1c0)));
        for bad in ["", "SYNFOO", "S", "SYN FIN"] {
            assert_eq!(TcpFlags::from_names(bad), None, "{bad}");
        }
    }
}
