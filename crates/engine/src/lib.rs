//! vigie's scan engine: a [`Session`](session::Session) runs discovery,
//! host blocks and per-block plans over the network, and streams host
//! results to a [`Sink`](session::Sink).
//!
//! - [`driver`]: the one driver loop every raw technique runs (TCP flag
//!   scans, UDP, ping sweeps, ARP / ND), with its `Schedule` / `Prober` /
//!   `Record` pieces and the `Wire` it sends and receives through.
//! - [`portscan`]: the TCP and UDP probers and the port table.
//! - [`sweep`]: host discovery (IP pings, ARP / neighbour discovery, which
//!   is also how on-link neighbours are resolved).
//! - [`connect`]: the unprivileged connect scan on tokio.
//! - [`blocks`]: cutting big scans into host blocks of bounded memory.
//! - [`trace`]: `--packet-trace` and `-d` lines.
//!
//! Nothing here reads the environment or a process global: the stop token,
//! the progress board and every tunable come in through [`Env`] and the
//! session's configuration.
#![forbid(unsafe_code)]

pub mod blocks;
pub mod connect;
pub mod driver;
pub mod evasion;
mod pace;
pub mod plan;
pub mod portscan;
pub mod progress;
pub mod results;
pub mod session;
pub mod sweep;
pub mod tls;
pub mod trace;
mod txpool;
pub mod version;

#[cfg(test)]
mod sim;

pub use plan::{Plan, Scope, SendPath, Timing};
pub use results::{Cell, Results};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Asks a running scan to stop sending, collect the replies in flight and
/// return what it knows (SIGINT / SIGTERM). Clones share one flag.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What every driver is handed besides its plan.
#[derive(Debug, Clone)]
pub struct Env {
    pub stop: Stop,
    pub progress: progress::Progress,
    /// Transmit threads a raw TCP scan may use (1, or 2 at high rates).
    pub tx_threads: u8,
    /// `--packet-trace` / `-d` lines (`None`: nothing is traced, at no cost).
    pub trace: Option<Arc<trace::Trace>>,
    /// `-S`, `-e`, `-g`, `--ttl`, `--data*`, `--badsum`, `-f`, `-D`,
    /// `--spoof-mac`: how every raw probe is sent.
    pub evasion: Arc<evasion::Evasion>,
}

impl Env {
    pub fn new(stop: Stop, progress: progress::Progress) -> Env {
        Env {
            stop,
            progress,
            tx_threads: 2,
            trace: None,
            evasion: Arc::default(),
        }
    }
}

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
    /// The configuration asks for something that cannot run (exit 2).
    #[error("{0}")]
    Config(String),
}
