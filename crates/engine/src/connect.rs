//! The connect scan: the kernel does the handshake, so no privilege is
//! needed. Runs on tokio with bounded concurrency, in permutation order.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpSocket;
use tokio::task::JoinSet;
use vigie_scan::classify::{classify_connect, ConnectOutcome};
use vigie_scan::rtt::RttEstimator;
use vigie_scan::PortState;

use crate::plan::Plan;
use crate::progress::{self, Board, Progress};
use crate::results::{Cell, Results};
use crate::trace::{Trace, DEBUG};
use crate::{trace_debug, EngineError, Env, Outcome, Stop};

/// Per-attempt timeout bounds: the kernel retransmits the SYN once after 1 s,
/// so an attempt shorter than that sees a single SYN.
const MIN_ATTEMPT: Duration = Duration::from_millis(1500);
/// At most this many 10 ms waits for local resources per port.
const MAX_STALLS: u32 = 1000;

/// Run a connect scan to completion (or to a stop request).
pub fn run(plan: &Plan, env: &Env) -> Result<Outcome, EngineError> {
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
    Ok(rt.block_on(scan(plan, env, parallelism)))
}

/// What the workers of a connect scan share.
struct Shared {
    plan: Plan,
    perm: vigie_scan::perm::Permutation,
    /// The next permutation index to hand out.
    next: AtomicU64,
    end: u64,
    attempts: u32,
    attempt_timeout: Duration,
    /// The IPv4 attempt timeout now, in microseconds (RTT-based).
    v4_timeout: Arc<AtomicU64>,
    min_rto: Duration,
    max_rto: Duration,
    state: Mutex<Option<State>>,
    stop: Stop,
    board: Progress,
    /// CONN lines (`--packet-trace`), only when wanted.
    trace: Option<Arc<Trace>>,
}

struct State {
    results: Results,
    rtt: RttEstimator,
}

impl Shared {
    /// Store one port's verdict and, if it was timed, the RTT sample.
    fn record(&self, value: u64, cell: Cell, took: Option<Duration>) {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(st) = guard.as_mut() else { return };
        let new = st.results.record_reply(value, cell);
        if let Some(d) = took {
            st.rtt.sample(d);
            let rto = st.rtt.rto().clamp(self.min_rto, self.max_rto);
            self.v4_timeout
                .store(rto.as_micros() as u64, Ordering::Relaxed);
        }
        drop(guard);
        self.board.add(
            1,
            0,
            u64::from(new && cell.state() == Some(PortState::Open)),
        );
    }

    /// One worker: take the next index, probe it, record, until none is left
    /// or a stop is requested (the probe in hand is finished first).
    async fn work(self: Arc<Self>) {
        loop {
            if self.stop.requested() {
                return;
            }
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.end {
                return;
            }
            let value = self.perm.get(i);
            let Some((addr, port)) = self.plan.probe(value) else {
                continue;
            };
            let timeout = if addr.is_ipv4() {
                Timeout::Adaptive(Arc::clone(&self.v4_timeout))
            } else {
                Timeout::Fixed(self.attempt_timeout)
            };
            let trace = self.trace.as_deref();
            let (cell, took) = probe(addr, port, timeout, self.attempts, &self.board, trace).await;
            self.record(value, cell, took);
        }
    }
}

/// `parallelism` long-lived workers pull permutation indices from one
/// counter, so at most that many connections are in flight, in permutation
/// order, with no task, semaphore permit or join per probe (those cost a
/// cross-thread wake-up each: a fifth of a full-port scan's time went to
/// task switches).
async fn scan(plan: &Plan, env: &Env, parallelism: usize) -> Outcome {
    let deadline = plan
        .timing
        .host_timeout
        .map(|t| tokio::time::Instant::now() + t);
    let total = plan.total();
    let range = plan.index_range();
    let _phase = progress::Phase::begin(
        &env.progress,
        progress::phase_name(plan.technique),
        range.end - range.start,
    );
    let mut results = Results::new(total, plan.nports());
    for &(value, cell) in &plan.prior {
        results.record_reply(value, cell);
    }
    let attempt_timeout = plan.timing.initial_rtt_timeout.max(MIN_ATTEMPT);
    // IPv4 attempts follow the measured RTT (clamped to the timing's
    // bounds) once samples exist; IPv6 attempts keep MIN_ATTEMPT, see there.
    let v4_timeout = Arc::new(AtomicU64::new(
        plan.timing.initial_rtt_timeout.as_micros() as u64
    ));
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        perm: plan.permutation(),
        next: AtomicU64::new(range.start),
        end: range.end,
        attempts: 1 + u32::from(plan.timing.max_retries.min(1)),
        attempt_timeout,
        v4_timeout,
        // The raw driver's floor (50 ms unless --min-rtt-timeout): the
        // kernel reports a refusal the moment the RST lands, so on a fast
        // path the floor only decides how long the last silent ports wait.
        min_rto: plan.timing.raw_min_rtt_timeout,
        max_rto: plan.timing.max_rtt_timeout,
        state: Mutex::new(Some(State {
            results,
            rtt: RttEstimator::default(),
        })),
        stop: env.stop.clone(),
        board: Arc::clone(&env.progress),
        trace: env.trace.clone().filter(|t| t.packets()),
    });
    trace_debug!(
        env.trace,
        DEBUG,
        "connect: {} probes, {workers} in parallel, attempt timeout {:.0} ms ({} attempts)",
        range.end - range.start,
        attempt_timeout.as_secs_f64() * 1e3,
        shared.attempts,
        workers = (range.end - range.start).clamp(1, parallelism.max(1) as u64)
    );
    let workers = (range.end - range.start).clamp(1, parallelism.max(1) as u64);
    let mut tasks = JoinSet::new();
    for _ in 0..workers {
        tasks.spawn(Arc::clone(&shared).work());
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
        if next.is_none() {
            break;
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    trace_debug!(
        env.trace,
        DEBUG,
        "connect: done, srtt {}",
        shared
            .state
            .lock()
            .ok()
            .and_then(|g| g.as_ref().and_then(|s| s.rtt.srtt()))
            .map_or("-".to_owned(), |d| format!(
                "{:.1} ms",
                d.as_secs_f64() * 1e3
            ))
    );
    let State { mut results, rtt } = shared
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("the scan state is taken once");
    if env.stop.requested() {
        // Every index below this was handed out, and its probe finished.
        let at = shared.next.load(Ordering::Relaxed).min(range.end);
        if at < range.end {
            results.set_resume_at(at);
        }
    }
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
    board: &Board,
    trace: Option<&Trace>,
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
        board.add(0, 1, 0);
        if let Some(t) = trace {
            t.conn(target, "Operation now in progress");
        }
        let res = tokio::time::timeout(timeout.get(), socket.connect(target)).await;
        if let Some(t) = trace {
            t.conn(target, conn_result(&res));
        }
        match res {
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

/// What a CONN line says about one attempt (the system's words, as nmap
/// prints them).
fn conn_result<T>(res: &Result<std::io::Result<T>, tokio::time::error::Elapsed>) -> &'static str {
    match res {
        Ok(Ok(_)) => "Connected",
        Err(_) => "Connection timed out",
        Ok(Err(e)) => match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => "Connection refused",
            Some(libc::EHOSTUNREACH) => "No route to host",
            Some(libc::ENETUNREACH) => "Network is unreachable",
            Some(libc::EACCES) => "Permission denied",
            Some(libc::EPERM) => "Operation not permitted",
            Some(libc::ETIMEDOUT) => "Connection timed out",
            Some(libc::EADDRNOTAVAIL) => "Cannot assign requested address",
            Some(libc::EMFILE) | Some(libc::ENFILE) => "Too many open files",
            Some(libc::ENOBUFS) | Some(libc::EAGAIN) => "Resource temporarily unavailable",
            _ => "Connection failed",
        },
    }
}
