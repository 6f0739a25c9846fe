//! vigie-netio: the only crate in vigie that talks to the kernel with `unsafe`.
//!
//! * [`caps`]: can we open raw sockets, and raise the open-file limit.
//! * [`route`]: which source address the kernel would pick for a destination.
//! * [`netns`]: move the calling thread into another network namespace (the lab).
//! * [`tx`]: preallocated packet batches and a raw IP sender (`sendmmsg`).
//! * [`rx`]: an `AF_PACKET` `TPACKET_V3` ring with a classic BPF filter.
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
