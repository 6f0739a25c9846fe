//! Fixed-size, direct-mapped tables: a slot per keyed hash, a newer entry
//! overwrites an older one that lands in the same slot. Their memory never
//! grows, whatever arrives; a lost entry only costs a little accuracy.

use std::net::IpAddr;
use std::time::Duration;

/// Deciseconds since the start, the time unit of compact entries.
pub(crate) fn ds(now: Duration) -> u32 {
    u32::try_from(now.as_millis() / 100).unwrap_or(u32::MAX)
}

/// Flows this host takes part in (it sent on them): (remote, remote port,
/// local port, protocol). A packet arriving on one is a reply or session
/// traffic, never a probe.
pub(crate) struct Flows {
    slots: Vec<(u64, u32)>,
}

/// Slots in [`Flows`].
pub const FLOW_SLOTS: usize = 1 << 16;
/// A flow unused this long is forgotten.
pub const FLOW_IDLE: Duration = Duration::from_secs(600);

impl Flows {
    pub fn new() -> Flows {
        Flows {
            slots: vec![(0, 0); FLOW_SLOTS],
        }
    }

    fn slot(tag: u64) -> usize {
        (tag as usize) & (FLOW_SLOTS - 1)
    }

    pub fn insert(&mut self, tag: u64, now: Duration) {
        self.slots[Self::slot(tag)] = (tag | 1, ds(now));
    }

    pub fn contains(&mut self, tag: u64, now: Duration) -> bool {
        let s = &mut self.slots[Self::slot(tag)];
        if s.0 == tag | 1 && ds(now).saturating_sub(s.1) <= ds(FLOW_IDLE) {
            s.1 = ds(now);
            true
        } else {
            false
        }
    }

    pub fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<(u64, u32)>()
    }
}

/// The initial sequence numbers of this host's SYN-ACKs, per (remote,
/// remote port, local port): an ACK of ISN+1 from the remote is a completed
/// handshake, which a spoofed source cannot make.
pub(crate) struct Isns {
    slots: Vec<(u64, u32, u32)>,
}

pub const ISN_SLOTS: usize = 1 << 14;
/// A SYN-ACK not acknowledged by then is forgotten.
pub const ISN_IDLE: Duration = Duration::from_secs(120);

impl Isns {
    pub fn new() -> Isns {
        Isns {
            slots: vec![(0, 0, 0); ISN_SLOTS],
        }
    }

    fn slot(tag: u64) -> usize {
        (tag as usize) & (ISN_SLOTS - 1)
    }

    pub fn insert(&mut self, tag: u64, isn: u32, now: Duration) {
        self.slots[Self::slot(tag)] = (tag | 1, isn, ds(now));
    }

    /// Whether `ack` acknowledges the SYN-ACK recorded under `tag`; a match
    /// is taken out.
    pub fn take(&mut self, tag: u64, ack: u32, now: Duration) -> bool {
        let s = &mut self.slots[Self::slot(tag)];
        let fresh = ds(now).saturating_sub(s.2) <= ds(ISN_IDLE);
        if s.0 == tag | 1 && fresh && s.1.wrapping_add(1) == ack {
            *s = (0, 0, 0);
            true
        } else {
            false
        }
    }

    pub fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<(u64, u32, u32)>()
    }
}

/// Recent probes by their decoy key (destination, ports, sequence / ICMP
/// id, IP ID, flags: what nmap -D sends identically from every source).
pub(crate) struct Recent {
    slots: Vec<(u64, Duration, Option<IpAddr>)>,
}

pub const RECENT_SLOTS: usize = 1 << 12;
/// The same probe from another source within this is a decoy copy.
pub const DECOY_WINDOW: Duration = Duration::from_secs(1);

impl Recent {
    pub fn new() -> Recent {
        Recent {
            slots: vec![(0, Duration::ZERO, None); RECENT_SLOTS],
        }
    }

    /// Records that `src` sent the probe `tag`; returns the other source
    /// that sent the same probe within [`DECOY_WINDOW`], if any.
    pub fn observe(&mut self, tag: u64, src: IpAddr, now: Duration) -> Option<IpAddr> {
        let s = &mut self.slots[(tag as usize) & (RECENT_SLOTS - 1)];
        let other = match s.2 {
            Some(o) if s.0 == tag && o != src && now.saturating_sub(s.1) <= DECOY_WINDOW => Some(o),
            _ => None,
        };
        *s = (tag, now, Some(src));
        other
    }

    pub fn memory(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<(u64, Duration, Option<IpAddr>)>()
    }
}
