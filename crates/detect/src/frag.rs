//! Just enough IPv4 reassembly to read a TCP header that `nmap -f` (8-byte
//! fragments) or `-ff` (16) splits over several fragments: the first 60
//! bytes of the transport header are gathered per (src, dst, IP ID); once
//! the fixed header and its options are all there, they are handed back
//! once. Payload bytes past 60 are never kept. At most [`MAX_PENDING`]
//! datagrams are pending (the oldest is dropped), each for at most
//! [`TIMEOUT`].

use std::net::Ipv4Addr;
use std::time::Duration;

/// Datagrams being put together at once.
pub const MAX_PENDING: usize = 64;
/// A datagram whose header is not complete by then is dropped.
pub const TIMEOUT: Duration = Duration::from_secs(30);
const HEAD: usize = 60;

type Key = (Ipv4Addr, Ipv4Addr, u16);

struct Pending {
    key: Key,
    at: Duration,
    buf: [u8; HEAD],
    /// Bit i set: byte i of `buf` is known.
    have: u64,
    done: bool,
}

#[derive(Default)]
pub(crate) struct Frags {
    pending: Vec<Pending>,
}

impl Frags {
    pub fn memory(&self) -> usize {
        self.pending.capacity() * std::mem::size_of::<Pending>()
    }

    /// Adds one fragment (`offset` in bytes, `payload` its data). Returns
    /// the transport header once it is complete.
    pub fn add(
        &mut self,
        now: Duration,
        key: Key,
        offset: u16,
        _more: bool,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        let offset = usize::from(offset);
        if offset >= HEAD {
            return None;
        }
        self.pending
            .retain(|p| now.saturating_sub(p.at) < TIMEOUT && now >= p.at);
        let i = match self.pending.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                if self.pending.len() >= MAX_PENDING {
                    let oldest = (0..self.pending.len()).min_by_key(|&i| self.pending[i].at)?;
                    self.pending.swap_remove(oldest);
                }
                self.pending.push(Pending {
                    key,
                    at: now,
                    buf: [0; HEAD],
                    have: 0,
                    done: false,
                });
                self.pending.len() - 1
            }
        };
        let p = &mut self.pending[i];
        if p.done {
            return None;
        }
        let end = (offset + payload.len()).min(HEAD);
        for (at, b) in (offset..end).zip(payload) {
            p.buf[at] = *b;
            p.have |= 1 << at;
        }
        let known = |n: usize| n <= HEAD && (0..n).all(|b| p.have & (1 << b) != 0);
        if !known(13) {
            return None;
        }
        let need = (usize::from(p.buf[12] >> 4) * 4).max(20);
        if !known(need) {
            return None;
        }
        p.done = true;
        Some(p.buf[..need].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_byte_fragments_give_the_header_once() {
        let mut f = Frags::default();
        let mut hdr = [0u8; 24];
        hdr[12] = 6 << 4;
        hdr[13] = 0x02;
        let key = (
            Ipv4Addr::new(198, 18, 0, 1),
            Ipv4Addr::new(198, 18, 0, 2),
            7,
        );
        let t = Duration::ZERO;
        assert!(f.add(t, key, 0, true, &hdr[0..8]).is_none());
        assert!(f.add(t, key, 16, true, &hdr[16..24]).is_none());
        let h = f.add(t, key, 8, true, &hdr[8..16]).unwrap();
        assert_eq!(h, hdr.to_vec());
        assert!(f.add(t, key, 8, true, &hdr[8..16]).is_none());
    }
}
