//! nmap's firewall / IDS evasion and spoofing options, as the raw drivers
//! apply them: the source address and interface (`-S`, `-e`), one source
//! port (`-g`), and the [`Shape`] every probe is given (`--ttl`, `--data*`,
//! `--badsum`, `-f`/`--mtu`) with its decoy copies (`-D`).
//!
//! What each does on the wire and what a defender sees: docs/usage.md,
//! "Evasion and spoofing".

use std::net::{IpAddr, Ipv4Addr};

use vigie_netio::tx::TxBatch;
use vigie_wire::shape::Shape;

use crate::EngineError;

/// One entry of `-D`: a decoy address, or where our own probe goes (`ME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoy {
    Me,
    Addr(IpAddr),
}

/// The evasion options of a run. The default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evasion {
    /// `-S`: the source address of the probes of its family.
    pub source: Option<IpAddr>,
    /// `-e`: the interface to send on (and whose address is the source).
    pub iface: Option<String>,
    /// `-g` / `--source-port`.
    pub source_port: Option<u16>,
    /// `--ttl`, `--data*`, `--badsum`, `-f` / `-ff` / `--mtu`.
    pub shape: Shape,
    /// `-D`, in order, `ME` included (where the list names it, else at a
    /// random place); empty without `-D`.
    pub decoys: Vec<Decoy>,
    /// `--spoof-mac`: the Ethernet source address of the probes.
    pub spoof_mac: Option<[u8; 6]>,
}

impl Evasion {
    /// Whether the probes are rewritten after stamping.
    pub fn shapes(&self) -> bool {
        !self.shape.is_plain() || self.decoys.iter().any(|d| matches!(d, Decoy::Addr(_)))
    }

    /// The sources each probe to a `v6` (or IPv4) target goes out from,
    /// in order: `None` is our own.
    fn order(&self, v6: bool) -> Vec<Option<IpAddr>> {
        if self.decoys.is_empty() {
            return vec![None];
        }
        self.decoys
            .iter()
            .filter_map(|d| match d {
                Decoy::Me => Some(None),
                Decoy::Addr(a) if a.is_ipv6() == v6 => Some(Some(*a)),
                Decoy::Addr(_) => None,
            })
            .collect()
    }
}

/// `ME`'s place in a `-D` list that does not name it: a random one, as in
/// nmap.
pub fn place_me(decoys: &mut Vec<Decoy>) -> Result<(), EngineError> {
    if decoys.is_empty() || decoys.contains(&Decoy::Me) {
        return Ok(());
    }
    let at = (random_u64()? % (decoys.len() as u64 + 1)) as usize;
    decoys.insert(at, Decoy::Me);
    Ok(())
}

fn random_u64() -> Result<u64, EngineError> {
    let mut b = [0u8; 8];
    random_fill(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn random_fill(b: &mut [u8]) -> Result<(), EngineError> {
    getrandom::fill(b).map_err(|e| EngineError::Setup {
        what: "no randomness from the OS",
        source: std::io::Error::other(e.to_string()),
    })
}

/// `--data-length N`: N random bytes (drawn once; every probe carries them).
pub fn random_payload(n: usize) -> Result<Vec<u8>, EngineError> {
    let mut v = vec![0u8; n];
    random_fill(&mut v)?;
    Ok(v)
}

/// `RND:n`: n random IPv4 unicast addresses outside the reserved, private,
/// loopback, link-local, multicast and documentation blocks (nmap's rule).
pub fn random_decoys(n: usize) -> Result<Vec<IpAddr>, EngineError> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut b = [0u8; 4];
        random_fill(&mut b)?;
        let a = Ipv4Addr::from(b);
        if is_public_v4(a) {
            out.push(IpAddr::V4(a));
        }
    }
    Ok(out)
}

/// Not in a block reserved for special use (RFC 6890 and multicast).
pub fn is_public_v4(a: Ipv4Addr) -> bool {
    let o = a.octets();
    !(a.is_private()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_documentation()
        || a.is_unspecified()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 100 && (o[1] & 0xc0) == 64)
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        || (o[0] == 192 && o[1] == 88 && o[2] == 99))
}

/// What the driver does to each stamped probe: its decoy copies and shape.
#[derive(Debug, Clone)]
pub struct Shaper {
    shape: Shape,
    v4: Vec<Option<IpAddr>>,
    v6: Vec<Option<IpAddr>>,
}

impl Shaper {
    /// `None` when the probes go out as stamped.
    pub fn of(e: &Evasion) -> Option<Shaper> {
        e.shapes().then(|| Shaper {
            shape: e.shape.clone(),
            v4: e.order(false),
            v6: e.order(true),
        })
    }

    /// Packets one probe becomes at most.
    pub fn fanout(&self) -> usize {
        self.v4.len().max(self.v6.len()).max(1) * self.shape.max_pieces(vigie_netio::tx::SLOT)
    }

    /// The TxBatch slot the shaped packets need.
    pub fn slot(&self) -> usize {
        if self.shape.payload.is_some() {
            vigie_wire::shape::MAX_SHAPED.next_multiple_of(64)
        } else {
            vigie_netio::tx::SLOT
        }
    }

    /// Push the copies (decoys, then ours, as ordered) of `pkt`, a probe
    /// to `dst`, each shaped, into `batch` (which has room for
    /// [`fanout`](Self::fanout) more). Every copy keeps the probe's
    /// sequence number, ports and IP ID: only our own copy's replies
    /// validate.
    pub fn emit(&self, dst: IpAddr, pkt: &[u8], frag_id: u32, batch: &mut TxBatch) {
        let order = if dst.is_ipv6() { &self.v6 } else { &self.v4 };
        for src in order {
            self.shape.apply(pkt, *src, frag_id, &mut |p| {
                if !batch.is_full() {
                    batch.push_with(dst, |b| {
                        let n = p.len().min(b.len());
                        b[..n].copy_from_slice(&p[..n]);
                        n
                    });
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_is_placed_once_and_decoys_keep_their_order() {
        let d = |n| Decoy::Addr(IpAddr::V4(Ipv4Addr::new(198, 18, 0, n)));
        for _ in 0..20 {
            let mut v = vec![d(50), d(51)];
            place_me(&mut v).unwrap();
            assert_eq!(v.len(), 3);
            assert_eq!(v.iter().filter(|x| **x == Decoy::Me).count(), 1);
            let rest: Vec<_> = v.iter().filter(|x| **x != Decoy::Me).collect();
            assert_eq!(rest, [&d(50), &d(51)]);
        }
        let mut v = vec![d(50), Decoy::Me, d(51)];
        place_me(&mut v).unwrap();
        assert_eq!(v, [d(50), Decoy::Me, d(51)]);
    }

    #[test]
    fn random_decoys_avoid_special_blocks() {
        let v = random_decoys(500).unwrap();
        assert_eq!(v.len(), 500);
        for a in v {
            let IpAddr::V4(a) = a else { panic!("{a}") };
            assert!(is_public_v4(a), "{a}");
        }
        for bad in [
            "10.1.2.3",
            "127.0.0.1",
            "198.19.4.5",
            "224.0.0.1",
            "169.254.1.1",
            "0.1.2.3",
            "100.64.0.1",
            "192.0.2.9",
            "250.1.1.1",
        ] {
            assert!(!is_public_v4(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn decoys_of_the_other_family_are_left_out() {
        let e = Evasion {
            decoys: vec![
                Decoy::Addr("198.18.0.50".parse().unwrap()),
                Decoy::Me,
                Decoy::Addr("fd00:18::50".parse().unwrap()),
            ],
            ..Evasion::default()
        };
        let s = Shaper::of(&e).unwrap();
        assert_eq!(s.v4, [Some("198.18.0.50".parse().unwrap()), None]);
        assert_eq!(s.v6, [None, Some("fd00:18::50".parse().unwrap())]);
        assert_eq!(s.fanout(), 2);
        assert!(Shaper::of(&Evasion::default()).is_none());
    }
}
