//! Sans-IO scan logic for vigie.
//!
//! Nothing here opens a socket or reads a clock: time is passed in as
//! [`std::time::Instant`] values, packets as byte slices or parsed summaries.
//! That keeps every decision testable with a simulated network.
#![forbid(unsafe_code)]

pub mod classify;
pub mod cookie;
pub mod discovery;
pub mod model;
pub mod payloads;
pub mod perm;
pub mod ports;
pub mod ratectl;
pub mod rtt;
pub mod schedule;
pub mod services;
pub mod targets;
pub mod tracker;
pub mod udppace;

pub use model::{PortState, Proto, Reason, Technique};
