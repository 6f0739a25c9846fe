//! Service and version detection (`-sV`) of open TCP ports, on tokio: the
//! sans-IO [`PortDetect`] says which probes to send and decides; this
//! module makes the connections, with bounded concurrency.
//!
//! Each probe goes on a connection of its own, a few at once per port and
//! up to [`VersionSpec::sockets`] in all, where nmap runs them one after
//! another; the result is committed in nmap's order ([`PortDetect`]), so it
//! is the one the serial order gives. A port found to speak TLS is
//! detected again inside TLS ([`crate::tls`]), with its certificate kept.
//!
//! Waits: the NULL probe (listen for a banner) waits its `totalwaitms`, but
//! stops as soon as another probe's connection got data; the other probes
//! wait `max(min_wait, 20 × the connect time)`, at most their `totalwaitms`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use vigie_service::detect::{Answer, PortDetect, Verdict};
use vigie_service::{Found, Matcher, Proto};

use crate::tls::{self, TlsInfo};
use crate::trace::{Trace, DEBUG};
use crate::{trace_debug, Env};

/// What `-sV` was asked for.
#[derive(Clone, Debug)]
pub struct VersionSpec {
    pub matcher: Arc<Matcher>,
    /// 0-9 (`--version-intensity`).
    pub intensity: u8,
    /// Give up on a port after this long (`--version-timeout`).
    pub port_timeout: Duration,
    /// The shortest wait of a probe other than NULL.
    pub min_wait: Duration,
    /// Connections open at once, in all.
    pub sockets: usize,
    /// Probes in flight per port.
    pub per_port: usize,
}

impl VersionSpec {
    pub fn new(matcher: Arc<Matcher>, intensity: u8) -> VersionSpec {
        VersionSpec {
            matcher,
            intensity,
            port_timeout: Duration::from_secs(30),
            min_wait: Duration::from_millis(1500),
            sockets: 256,
            per_port: 4,
        }
    }
}

/// What detection found on one port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Detected {
    /// The match (none: `unknown`, or tcpwrapped).
    pub found: Option<Found>,
    /// Found inside TLS (tunnel ssl), with the handshake's facts.
    pub tls: Option<TlsInfo>,
    /// The port closed the connection at once (tcpwrapped).
    pub wrapped: bool,
}

/// The longest answer kept per probe (nmap reads at most this much too).
const MAX_ANSWER: usize = 4096;
/// After the first bytes, how long more may come before the answer is cut.
const LINGER: Duration = Duration::from_millis(150);
/// The NULL probe's wait when its probe file gives none.
const NULL_WAIT: Duration = Duration::from_secs(5);

/// Detects the services of `ports` (open TCP ports); blocks until done.
pub fn detect(
    ports: &[(IpAddr, u16)],
    spec: &VersionSpec,
    env: &Env,
) -> std::io::Result<HashMap<(IpAddr, u16), Detected>> {
    if ports.is_empty() {
        return Ok(HashMap::new());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let tls = tls::client_config().map_err(|e| std::io::Error::other(e.to_string()))?;
    let sem = Arc::new(Semaphore::new(spec.sockets.max(1)));
    let trace = env.trace.clone();
    let stop = env.stop.clone();
    Ok(rt.block_on(async {
        let mut set = JoinSet::new();
        for &(addr, port) in ports {
            let (spec, sem, tls, trace) = (spec.clone(), sem.clone(), tls.clone(), trace.clone());
            set.spawn(async move {
                let d = tokio::time::timeout(
                    spec.port_timeout,
                    one_port(addr, port, &spec, &sem, &tls, trace.as_deref()),
                )
                .await
                .unwrap_or_default();
                ((addr, port), d)
            });
        }
        let mut out = HashMap::new();
        while let Some(r) = set.join_next().await {
            if let Ok((k, d)) = r {
                out.insert(k, d);
            }
            if stop.requested() {
                set.abort_all();
            }
        }
        out
    }))
}

async fn one_port(
    addr: IpAddr,
    port: u16,
    spec: &VersionSpec,
    sem: &Arc<Semaphore>,
    tls: &Arc<rustls::ClientConfig>,
    trace: Option<&Trace>,
) -> Detected {
    let target = SocketAddr::new(addr, port);
    let (mut plain, heard) = run_probes(target, spec, sem, None, trace, Pass::Parallel).await;
    if plain == Verdict::Unknown && !heard {
        // Silence everywhere: a silent service, or one that serves one
        // connection at a time (the NULL probe's held the others in its
        // queue). The likely probes again, one at a time.
        (plain, _) = run_probes(target, spec, sem, None, trace, Pass::Serial).await;
    }
    trace_debug!(trace, DEBUG, "version: {target}: {plain:?}");
    match plain {
        Verdict::Found(f) => Detected {
            found: Some(f),
            ..Detected::default()
        },
        Verdict::Wrapped => Detected {
            wrapped: true,
            ..Detected::default()
        },
        Verdict::Unknown => Detected::default(),
        Verdict::Tls => {
            // The handshake's facts, then the service inside.
            let name = addr.to_string();
            let shake = match connect(target, sem).await {
                Ok((tcp, _, _permit)) => Some(
                    tls::handshake(tls, tcp, &name, spec.min_wait * 2)
                        .await
                        .map(|(_, i)| i),
                ),
                Err(_) => None,
            };
            // (The first connection and its permit are gone here.)
            let (info, legacy) = match shake {
                Some(Ok(i)) => (Some(i), false),
                Some(Err(tls::TlsError::Handshake(why))) => {
                    // Not TLS 1.2/1.3 (SSL 3, TLS 1.0, 1.1): the facts from
                    // the clear-text handshake, on a new connection. No
                    // stream comes of it, so the inside is not probed and
                    // the port stays `ssl`.
                    trace_debug!(trace, DEBUG, "version: {target}: {why}; legacy hello");
                    let info = match connect(target, sem).await {
                        Ok((tcp, _, _permit)) => {
                            tls::legacy_info(tcp, &name, spec.min_wait * 2).await.ok()
                        }
                        Err(_) => None,
                    };
                    (info, true)
                }
                Some(Err(_)) | None => (None, false),
            };
            let inside = if info.is_some() && !legacy {
                match run_probes(target, spec, sem, Some(tls), trace, Pass::Parallel).await {
                    (Verdict::Unknown, false) => {
                        run_probes(target, spec, sem, Some(tls), trace, Pass::Serial)
                            .await
                            .0
                    }
                    (v, _) => v,
                }
            } else {
                Verdict::Unknown
            };
            trace_debug!(trace, DEBUG, "version: {target} inside TLS: {inside:?}");
            let found = match inside {
                Verdict::Found(f) => Some(f),
                _ => Some(Found {
                    service: "ssl".into(),
                    ..Found::default()
                }),
            };
            Detected {
                found,
                tls: info,
                wrapped: false,
            }
        }
    }
}

/// A connection, the time it took, and the permit it holds (one of
/// [`VersionSpec::sockets`]) for as long as it is open.
async fn connect(
    target: SocketAddr,
    sem: &Arc<Semaphore>,
) -> std::io::Result<(TcpStream, Duration, OwnedSemaphorePermit)> {
    let permit = Arc::clone(sem)
        .acquire_owned()
        .await
        .map_err(std::io::Error::other)?;
    let t0 = Instant::now();
    let s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(target))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok((s, t0.elapsed(), permit))
}

/// How a port's probes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Every probe, [`VersionSpec::per_port`] at a time.
    Parallel,
    /// After a silent parallel pass: without NULL, only the probes that
    /// name the port or are of rarity 1-2, one at a time.
    Serial,
}

/// Runs one port's probes (inside TLS when `tls` is given) to a verdict;
/// also says whether any probe heard anything.
async fn run_probes(
    target: SocketAddr,
    spec: &VersionSpec,
    sem: &Arc<Semaphore>,
    tls: Option<&Arc<rustls::ClientConfig>>,
    trace: Option<&Trace>,
    pass: Pass,
) -> (Verdict, bool) {
    let m = &spec.matcher;
    let mut d = PortDetect::new(m, Proto::Tcp, target.port(), spec.intensity, tls.is_some());
    let per_port = match pass {
        Pass::Parallel => spec.per_port,
        Pass::Serial => {
            let db = m.db();
            d.retain(|i| {
                let p = &db.probes[i];
                !p.payload.is_empty() && (p.ports.contains(target.port()) || p.rarity <= 2)
            });
            1
        }
    };
    let got_data = Arc::new(Notify::new());
    let mut set: JoinSet<(usize, Answer)> = JoinSet::new();
    let mut in_flight = 0usize;
    loop {
        for (slot, probe) in d.launch(per_port.saturating_sub(in_flight)) {
            in_flight += 1;
            let p = &m.db().probes[probe];
            let payload = p.payload.clone();
            let is_null = payload.is_empty() && slot == 0;
            let total = p.total_wait;
            let (sem, notify, tls) = (sem.clone(), got_data.clone(), tls.cloned());
            let min_wait = spec.min_wait;
            let name = target.ip().to_string();
            if let Some(t) = trace {
                t.debug(
                    crate::trace::DEBUG2,
                    format_args!(
                        "version: {target}: probe {} ({} bytes)",
                        p.name,
                        payload.len()
                    ),
                );
            }
            set.spawn(async move {
                let a = probe_once(
                    target, &name, &payload, is_null, total, min_wait, &sem, &notify, tls,
                )
                .await;
                (slot, a)
            });
        }
        if d.verdict().is_some() {
            set.abort_all();
            break;
        }
        let Some(r) = set.join_next().await else {
            break;
        };
        in_flight -= 1;
        if let Ok((slot, a)) = r {
            if let Some(t) = trace {
                let what = match &a {
                    Answer::Data(b) => format!("{} bytes", b.len()),
                    Answer::Silence => "nothing".into(),
                    Answer::Closed(after) => format!("closed after {after:?}"),
                    Answer::Failed => "no connection".into(),
                };
                let name = &m.db().probes[d.order()[slot]].name;
                t.debug(
                    crate::trace::DEBUG2,
                    format_args!("version: {target}: {name} got {what}"),
                );
            }
            d.answer(m, slot, a);
        }
        if d.null_may_stop() {
            // A stored permit: the NULL probe stops even if it is still
            // connecting and not yet waiting.
            got_data.notify_one();
        }
    }
    (d.verdict().cloned().unwrap_or(Verdict::Unknown), d.heard())
}

/// One probe on its own connection: connect (TLS if asked), send, read.
#[allow(clippy::too_many_arguments)]
async fn probe_once(
    target: SocketAddr,
    name: &str,
    payload: &[u8],
    is_null: bool,
    total: Option<Duration>,
    min_wait: Duration,
    sem: &Arc<Semaphore>,
    others_got_data: &Notify,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Answer {
    let Ok((tcp, rtt, _permit)) = connect(target, sem).await else {
        return Answer::Failed;
    };
    let wait = if is_null {
        total.unwrap_or(NULL_WAIT)
    } else {
        let scaled = min_wait.max(rtt * 20);
        total.map_or(scaled, |t| t.min(scaled))
    };
    let started = Instant::now();
    match tls {
        Some(cfg) => match tls::handshake(&cfg, tcp, name, wait).await {
            Ok((s, _)) => exchange(s, payload, is_null, wait, started, others_got_data).await,
            Err(_) => Answer::Failed,
        },
        None => exchange(tcp, payload, is_null, wait, started, others_got_data).await,
    }
}

/// Sends `payload` and reads the answer: bytes until the peer stops
/// sending for [`LINGER`] (or closes, or 4 KiB); nothing within `wait`:
/// silence (a closed connection: [`Answer::Closed`]).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    payload: &[u8],
    is_null: bool,
    wait: Duration,
    started: Instant,
    others_got_data: &Notify,
) -> Answer {
    if !payload.is_empty() && s.write_all(payload).await.is_err() {
        return Answer::Closed(started.elapsed());
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let limit = if buf.is_empty() {
            deadline
        } else {
            tokio::time::Instant::now() + LINGER
        };
        let read = async {
            tokio::select! {
                r = s.read(&mut chunk) => Some(r),
                _ = others_got_data.notified(), if is_null && buf.is_empty() => None,
            }
        };
        match tokio::time::timeout_at(limit, read).await {
            Err(_) => break,
            Ok(None) => break,
            Ok(Some(Ok(0))) | Ok(Some(Err(_))) => {
                if buf.is_empty() {
                    return Answer::Closed(started.elapsed());
                }
                break;
            }
            Ok(Some(Ok(n))) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() >= MAX_ANSWER {
                    buf.truncate(MAX_ANSWER);
                    break;
                }
            }
        }
    }
    if buf.is_empty() {
        Answer::Silence
    } else {
        Answer::Data(buf)
    }
}
