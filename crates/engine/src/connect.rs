//! The connect scan: the kernel does the handshake, so no privilege is
//! needed. Runs on tokio with bounded concurrency, in permutation order.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use vigie_scan::classify::{classify_connect, ConnectOutcome};
use vigie_scan::rtt::RttEstimator;
use vigie_scan::PortState;

use crate::plan::Plan;
use crate::progress;
use crate::results::{Cell, Results};
use crate::{EngineError, Outcome};

/// Per-attempt timeout bounds: the kernel retransmits the SYN once after 1 s,
/// so an attempt shorter than that sees a single SYN.
const MIN_ATTEMPT: Duration = Duration::from_millis(1500);
/// At most this many 10 ms waits for local resources per port.
const MAX_STALLS: u32 = 1000;

/// Run a connect scan to completion.
pub fn run(plan: &Plan) -> Result<Outcome, EngineError> {
    // Each probe holds a descriptor: allow as many as the hard limit lets us.
    let nofile = vigie_netio::caps::raise_nofile_limit().unwrap_or(1024);
    let parallelism = plan
        .timing
        .parallelism
        .min((nofile as usize).saturating_sub(64).max(16));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(rt.block_on(scan(plan, parallelism)))
}

async fn scan(plan: &Plan, parallelism: usize) -> Outcome {
    let deadline = plan
        .timing
        .host_timeout
        .map(|t| tokio::time::Instant::now() + t);
    let total = plan.total();
    let range = plan.index_range();
    let _phase = progress::Phase::begin(
        progress::phase_name(plan.technique),
        range.end - range.start,
    );
    let board = progress::board();
    let perm = plan.permutation();
    let mut results = Results::new(total, plan.nports());
    for &(value, cell) in &plan.prior {
        results.record_reply(value, cell);
    }
    let limit = Arc::new(Semaphore::new(parallelism));
    let attempt_timeout = plan.timing.initial_rtt_timeout.max(MIN_ATTEMPT);
    // IPv4 attempts follow the measured RTT (clamped to the timing's
    // bounds) once samples exist; IPv6 attempts keep MIN_ATTEMPT, see there.
    let v4_timeout = Arc::new(AtomicU64::new(
        plan.timing.initial_rtt_timeout.as_micros() as u64
    ));
    let (min_rto, max_rto) = (plan.timing.min_rtt_timeout, plan.timing.max_rtt_timeout);
    let attempts = 1 + u32::from(plan.timing.max_retries.min(1));
    let mut tasks = JoinSet::new();
    let mut rtt = RttEstimator::default();

    let shared = Arc::clone(&v4_timeout);
    let mut record = |results: &mut Results, (value, cell, took): (u64, Cell, Option<Duration>)| {
        let new = results.record_reply(value, cell);
        // One probe is final; connect scans are slow enough for an add each.
        board.add(
            1,
            0,
            u64::from(new && cell.state() == Some(PortState::Open)),
        );
        if let Some(d) = took {
            rtt.sample(d);
            let rto = rtt.rto().clamp(min_rto, max_rto);
            shared.store(rto.as_micros() as u64, Ordering::Relaxed);
        }
    };
    for i in plan.index_range() {
        if crate::stop_requested() {
            // Every index below `i` is out; its connection finishes below.
            results.set_resume_at(i);
            break;
        }
        let Ok(permit) = Arc::clone(&limit).acquire_owned().await else {
            break;
        };
        let value = perm.get(i);
        let Some((addr, port)) = plan.probe(value) else {
            continue;
        };
        let timeout = if addr.is_ipv4() {
            Timeout::Adaptive(Arc::clone(&v4_timeout))
        } else {
            Timeout::Fixed(attempt_timeout)
        };
        tasks.spawn(async move {
            let (cell, took) = probe(addr, port, timeout, attempts).await;
            drop(permit);
            (value, cell, took)
        });
        while let Some(done) = tasks.try_join_next() {
            if let Ok(r) = done {
                record(&mut results, r);
            }
        }
    }
    loop {
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d, tasks.join_next()).await {
                Ok(n) => n,
                // Out of time: what has not finished stays unknown.
                Err(_) => break,
            },
            None => tasks.join_next().await,
        };
        match next {
            Some(Ok(r)) => record(&mut results, r),
            Some(Err(_)) => {}
            None => break,
        }
    }
    tasks.abort_all();
    Outcome {
        results,
        srtt: rtt.srtt(),
        rttvar: rtt.rttvar(),
        timeout: attempt_timeout,
        sent: total,
        retransmitted: 0,
        rate: None,
    }
}

/// How long one connect attempt may take.
enum Timeout {
    Fixed(Duration),
    /// The scan's current RTT-based timeout, in microseconds.
    Adaptive(Arc<AtomicU64>),
}

impl Timeout {
    fn get(&self) -> Duration {
        match self {
            Timeout::Fixed(d) => *d,
            Timeout::Adaptive(us) => Duration::from_micros(us.load(Ordering::Relaxed)),
        }
    }
}

/// One port: connect, up to `attempts` times while it times out.
async fn probe(
    addr: IpAddr,
    port: u16,
    timeout: Timeout,
    attempts: u32,
) -> (Cell, Option<Duration>) {
    let target = SocketAddr::new(addr, port);
    let mut outcome = ConnectOutcome::TimedOut;
    let mut took = None;
    let mut tries = 0;
    // Waits on local resource exhaustion (descriptors, ephemeral ports);
    // bounded so a persistent local failure cannot hang the scan.
    let mut stalls = 0u32;
    while tries < attempts && stalls < MAX_STALLS {
        let socket = match if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        } {
            Ok(s) => s,
            Err(_) => {
                // Out of descriptors or buffers for a moment: wait, don't count it.
                stalls += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Only an established connection needs closing with RST (below, so
        // no TIME_WAIT is left on either side): a refused or timed-out
        // attempt leaves nothing behind, and a setsockopt per probe is a
        // tenth of a connect scan's system calls.
        let start = Instant::now();
        progress::board().add(0, 1, 0);
        match tokio::time::timeout(timeout.get(), socket.connect(target)).await {
            Ok(Ok(stream)) => {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                outcome = ConnectOutcome::Connected;
                took = Some(start.elapsed());
                break;
            }
            Ok(Err(e)) => match e.raw_os_error() {
                Some(libc::ECONNREFUSED) => {
                    outcome = ConnectOutcome::Refused;
                    took = Some(start.elapsed());
                    break;
                }
                Some(libc::EHOSTUNREACH) => {
                    outcome = ConnectOutcome::HostUnreach;
                    break;
                }
                Some(libc::ENETUNREACH) => {
                    outcome = ConnectOutcome::NetUnreach;
                    break;
                }
                Some(libc::EACCES) | Some(libc::EPERM) => {
                    outcome = ConnectOutcome::AdminProhibited;
                    break;
                }
                Some(libc::EADDRNOTAVAIL)
                | Some(libc::EMFILE)
                | Some(libc::ENFILE)
                | Some(libc::ENOBUFS)
                | Some(libc::EAGAIN) => {
                    // Local resource exhaustion says nothing about the port.
                    stalls += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                _ => {
                    outcome = ConnectOutcome::TimedOut;
                    tries += 1;
                }
            },
            Err(_elapsed) => {
                outcome = ConnectOutcome::TimedOut;
                tries += 1;
            }
        }
    }
    let (state, reason) = classify_connect(outcome);
    (Cell::new(state, reason, 0), took)
}
