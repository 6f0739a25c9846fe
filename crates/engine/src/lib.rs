//! Drives vigie's sans-IO scan logic over real sockets.
//!
//! - [`raw`]: every raw TCP technique (SYN, FIN, NULL, Xmas, ACK, Window,
//!   Maimon, `--scanflags`): one transmit/control thread that owns the retry tracker and
//!   stamps probes from a template into `sendmmsg` batches, and one receive
//!   thread that reads the AF_PACKET ring, validates replies statelessly and
//!   classifies them.
//! - [`connect`]: the unprivileged connect scan on tokio with bounded
//!   concurrency.
//!
//! Both fill a dense [`Results`] table indexed by the flat probe id
//! `host_index * nports + port_index`.
#![forbid(unsafe_code)]

pub mod blocks;
pub mod connect;
pub mod discover;
mod pace;
pub mod plan;
pub mod progress;
pub mod raw;
pub mod results;
mod rxloop;
mod txpool;
pub mod udp;

pub use plan::{Plan, Scope, Timing};

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Ask every running scan to stop sending, collect the replies in flight
/// and return what it knows (SIGINT / SIGTERM).
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Has [`request_stop`] been called?
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
pub use results::{Cell, Results};

use std::time::Duration;

/// What a finished scan hands to the report layer.
#[derive(Debug)]
pub struct Outcome {
    pub results: Results,
    pub srtt: Option<Duration>,
    pub rttvar: Option<Duration>,
    pub timeout: Duration,
    pub sent: u64,
    pub retransmitted: u64,
    /// What the adaptive rate did (the raw TCP scan only).
    pub rate: Option<vigie_scan::ratectl::RateReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{what}: {source}")]
    Setup {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the scan has {0} probes; at most 2^40 are supported in one run")]
    TooLarge(u128),
}
