//! vigie-netio: the only crate in vigie that talks to the kernel with `unsafe`.
//!
//! * [`caps`]: can we open raw sockets, and raise the open-file limit.
//! * [`route`]: which source address the kernel would pick for a destination.
//! * [`netns`]: move the calling thread into another network namespace (the lab).
//! * [`tx`]: preallocated packet batches and a raw IP sender (`sendmmsg`).
//! * [`rx`]: an `AF_PACKET` `TPACKET_V3` ring with a classic BPF filter.
//! * [`txring`]: IP packets straight to their next hop's MAC (`AF_PACKET`).
//! * [`link`]: interfaces, on-link targets, a socket for ARP / ND frames.
//!
//! [`PacketTx`] and [`PacketRx`] are what the engine's driver loop sends
//! and receives through; the engine's simulated network implements them
//! too, so the loop is tested without sockets.
//!
//! Linux only. Every `unsafe` block carries a `// SAFETY:` comment and is
//! wrapped in a safe API; the raw pointers never leave this crate.
#![cfg(target_os = "linux")]

pub mod caps;
pub mod link;
pub mod netns;
pub mod route;
pub mod rx;
mod sys;
pub mod tx;
pub mod txring;

use std::io;
use std::time::Duration;

/// Hands batches of packets to the network.
pub trait PacketTx: Send {
    /// Send every packet of `batch`; returns how many went out.
    fn send_batch(&mut self, batch: &tx::TxBatch) -> io::Result<usize>;
}

/// Reads packets from the network.
pub trait PacketRx: Send {
    /// Wait up to `timeout` for packets and hand each to `f`; returns how
    /// many were delivered.
    fn poll_packets(&mut self, timeout: Duration, f: &mut dyn FnMut(&[u8])) -> io::Result<usize>;
}

impl<T: PacketTx + ?Sized> PacketTx for Box<T> {
    fn send_batch(&mut self, batch: &tx::TxBatch) -> io::Result<usize> {
        (**self).send_batch(batch)
    }
}

impl<T: PacketRx + ?Sized> PacketRx for Box<T> {
    fn poll_packets(&mut self, timeout: Duration, f: &mut dyn FnMut(&[u8])) -> io::Result<usize> {
        (**self).poll_packets(timeout, f)
    }
}

impl PacketTx for tx::RawSender {
    fn send_batch(&mut self, batch: &tx::TxBatch) -> io::Result<usize> {
        self.send(batch)
    }
}

impl PacketTx for txring::PacketSender {
    fn send_batch(&mut self, batch: &tx::TxBatch) -> io::Result<usize> {
        self.send(batch)
    }
}

/// The batch's entries are whole Ethernet frames.
impl PacketTx for &link::LinkSocket {
    fn send_batch(&mut self, batch: &tx::TxBatch) -> io::Result<usize> {
        for (_, frame) in batch.iter() {
            self.send(frame)?;
        }
        Ok(batch.len())
    }
}

/// IP packets (from the IP header on).
impl PacketRx for rx::Receiver {
    fn poll_packets(&mut self, timeout: Duration, f: &mut dyn FnMut(&[u8])) -> io::Result<usize> {
        self.poll(timeout, f)
    }
}

/// Whole Ethernet frames: one waited for, then whatever else is queued.
impl PacketRx for &link::LinkSocket {
    fn poll_packets(&mut self, timeout: Duration, f: &mut dyn FnMut(&[u8])) -> io::Result<usize> {
        let mut buf = [0u8; 2048];
        let mut n = 0;
        let mut wait = timeout;
        while let Some(len) = self.recv(&mut buf, wait)? {
            f(&buf[..len]);
            n += 1;
            wait = Duration::ZERO;
            if n == 256 {
                break;
            }
        }
        Ok(n)
    }
}
