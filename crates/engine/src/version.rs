//! Service and version detection (`-sV`) of open TCP ports and open (or
//! open|filtered) UDP ports, on tokio: the sans-IO [`PortDetect`] says
//! which probes to send and decides; this module makes the connections
//! (and sends the datagrams), with bounded concurrency.
//!
//! Each probe goes on a connection of its own, a few at once per port and
//! up to [`VersionSpec::sockets`] in all, where nmap runs them one after
//! another; the result is committed in nmap's order ([`PortDetect`]), so it
//! is the one the serial order gives. A port found to speak TLS is
//! detected again inside TLS ([`crate::tls`]), with its certificate kept.
//!
//! UDP: each probe's payload goes in a datagram from a socket of its own
//! (so an answer is known to be that probe's), [`VersionSpec::per_port_udp`]
//! at a time; the first datagram back is its answer, an ICMP port
//! unreachable (the socket's `ECONNREFUSED`) none. Any answer means the
//! port is open ([`Detected::answered`]): an open|filtered port becomes
//! open, as in nmap.
//!
//! Waits: the NULL probe (listen for a banner) waits its `totalwaitms`, but
//! stops as soon as another probe's connection got data; the other probes
//! wait `max(min_wait, 20 × the connect time)` (UDP: 20 × the scan's
//! round-trip time), at most their `totalwaitms`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
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
    /// Probes in flight per TCP port.
    pub per_port: usize,
    /// Probes in flight per UDP port (a datagram each, no connection).
    pub per_port_udp: usize,
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
            per_port_udp: 8,
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
    /// Some probe got an answer: for UDP, the port is open.
    pub answered: bool,
}

/// A port to detect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Port {
    pub addr: IpAddr,
    pub proto: Proto,
    pub port: u16,
    /// The round-trip time the port scan measured, if any (it scales the
    /// UDP probes' waits; TCP measures its connect time).
    pub rtt: Option<Duration>,
}

impl Port {
    pub fn tcp(addr: IpAddr, port: u16) -> Port {
        Port {
            addr,
            proto: Proto::Tcp,
            port,
            rtt: None,
        }
    }

    pub fn udp(addr: IpAddr, port: u16) -> Port {
        Port {
            addr,
            proto: Proto::Udp,
            port,
            rtt: None,
        }
    }

    fn key(&self) -> (IpAddr, Proto, u16) {
        (self.addr, self.proto, self.port)
    }
}

/// The longest answer kept per probe (nmap reads at most this much too).
const MAX_ANSWER: usize = 4096;
/// After the first bytes, how long more may come before the answer is cut.
const LINGER: Duration = Duration::from_millis(150);
/// The NULL probe's wait when its probe file gives none.
const NULL_WAIT: Duration = Duration::from_secs(5);

/// Detects the services of `ports` (open TCP ports, open or open|filtered
/// UDP ports); blocks until done. Keyed by (address, protocol, port).
pub fn detect(
    ports: &[Port],
    spec: &VersionSpec,
    env: &Env,
) -> std::io::Result<HashMap<(IpAddr, Proto, u16), Detected>> {
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
        for &p in ports {
            let (spec, sem, tls, trace) = (spec.clone(), sem.clone(), tls.clone(), trace.clone());
            set.spawn(async move {
                let work = async {
                    match p.proto {
                        Proto::Tcp => {
                            one_port(p.addr, p.port, &spec, &sem, &tls, trace.as_deref()).await
                        }
                        Proto::Udp => one_udp_port(p, &spec, &sem, trace.as_deref()).await,
                    }
                };
                let d = tokio::time::timeout(spec.port_timeout, work)
                    .await
                    .unwrap_or_default();
                (p.key(), d)
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
    let (mut plain, mut heard) =
        run_probes(target, spec, sem, Via::Tcp, trace, Pass::Parallel).await;
    if plain == Verdict::Unknown && !heard {
        // Silence everywhere: a silent service, or one that serves one
        // connection at a time (the NULL probe's held the others in its
        // queue). The likely probes again, one at a time.
        (plain, heard) = run_probes(target, spec, sem, Via::Tcp, trace, Pass::Serial).await;
    }
    trace_debug!(trace, DEBUG, "version: {target}: {plain:?}");
    match plain {
        Verdict::Found(f) => Detected {
            found: Some(f),
            answered: true,
            ..Detected::default()
        },
        Verdict::Wrapped => Detected {
            wrapped: true,
            ..Detected::default()
        },
        Verdict::Unknown => Detected {
            answered: heard,
            ..Detected::default()
        },
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
                match run_probes(target, spec, sem, Via::Tls(tls), trace, Pass::Parallel).await {
                    (Verdict::Unknown, false) => {
                        run_probes(target, spec, sem, Via::Tls(tls), trace, Pass::Serial)
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
                answered: true,
            }
        }
    }
}

/// One UDP port: its probes' datagrams, to a verdict.
async fn one_udp_port(
    p: Port,
    spec: &VersionSpec,
    sem: &Arc<Semaphore>,
    trace: Option<&Trace>,
) -> Detected {
    let target = SocketAddr::new(p.addr, p.port);
    let wait = spec.min_wait.max(p.rtt.unwrap_or_default() * 20);
    let (v, heard) = run_probes(target, spec, sem, Via::Udp(wait), trace, Pass::Parallel).await;
    trace_debug!(trace, DEBUG, "version: {target}/udp: {v:?}");
    let found = match v {
        Verdict::Found(f) => Some(f),
        // A TLS hello answered over UDP: DTLS; nothing is probed inside.
        Verdict::Tls => Some(Found {
            service: "ssl".into(),
            ..Found::default()
        }),
        Verdict::Wrapped | Verdict::Unknown => None,
    };
    Detected {
        found,
        answered: heard,
        ..Detected::default()
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

/// What a port's probes travel over.
#[derive(Clone, Copy)]
enum Via<'a> {
    Tcp,
    /// TCP, inside TLS.
    Tls(&'a Arc<rustls::ClientConfig>),
    /// UDP datagrams, each waiting this long for an answer (at most its
    /// probe's `totalwaitms`).
    Udp(Duration),
}

impl Via<'_> {
    fn proto(self) -> Proto {
        match self {
            Via::Udp(_) => Proto::Udp,
            _ => Proto::Tcp,
        }
    }
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

/// Runs one port's probes (over `via`) to a verdict; also says whether
/// any probe heard anything.
async fn run_probes(
    target: SocketAddr,
    spec: &VersionSpec,
    sem: &Arc<Semaphore>,
    via: Via<'_>,
    trace: Option<&Trace>,
    pass: Pass,
) -> (Verdict, bool) {
    let m = &spec.matcher;
    let proto = via.proto();
    let in_tls = matches!(via, Via::Tls(_));
    let mut d = PortDetect::new(m, proto, target.port(), spec.intensity, in_tls);
    let tls = match via {
        Via::Tls(c) => Some(c),
        _ => None,
    };
    let per_port = match pass {
        Pass::Parallel if proto == Proto::Udp => spec.per_port_udp,
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
                t.version(format_args!(
                    "Service scan sending probe {} to {target} ({}{}, {} bytes)",
                    p.name,
                    proto_name(proto),
                    if in_tls { " in TLS" } else { "" },
                    payload.len()
                ));
            }
            let udp_wait = match via {
                Via::Udp(w) => Some(w),
                _ => None,
            };
            set.spawn(async move {
                let a = match udp_wait {
                    Some(wait) => {
                        let wait = total.map_or(wait, |t| t.min(wait));
                        udp_once(target, &payload, wait, &sem).await
                    }
                    None => {
                        probe_once(
                            target, &name, &payload, is_null, total, min_wait, &sem, &notify, tls,
                        )
                        .await
                    }
                };
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
                t.version(format_args!(
                    "Service scan probe {name} to {target} ({}) got {what}",
                    proto_name(proto)
                ));
            }
            d.answer(m, slot, a);
            if let (Some(t), Some(v)) = (trace, d.verdict()) {
                t.version(format_args!(
                    "Service scan result for {target} ({}): {}",
                    proto_name(proto),
                    verdict_text(v)
                ));
            }
        }
        if d.null_may_stop() {
            // A stored permit: the NULL probe stops even if it is still
            // connecting and not yet waiting.
            got_data.notify_one();
        }
    }
    (d.verdict().cloned().unwrap_or(Verdict::Unknown), d.heard())
}

fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

/// A verdict as `--version-trace` shows it.
fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Found(f) => {
            let field = |x: &Option<String>| x.clone().unwrap_or_default();
            format!(
                "{} {} (line {}).  Version: |{}|{}|{}|",
                f.service,
                if f.soft { "softmatch" } else { "match" },
                f.line,
                field(&f.product),
                field(&f.version),
                field(&f.info)
            )
        }
        Verdict::Tls => "ssl: detection goes on inside TLS".into(),
        Verdict::Wrapped => "tcpwrapped".into(),
        Verdict::Unknown => "no match".into(),
    }
}

/// One UDP probe: a datagram from a socket of its own, and the first
/// datagram back within `wait` (an ICMP port unreachable: failed).
async fn udp_once(
    target: SocketAddr,
    payload: &[u8],
    wait: Duration,
    sem: &Arc<Semaphore>,
) -> Answer {
    let Ok(_permit) = Arc::clone(sem).acquire_owned().await else {
        return Answer::Failed;
    };
    let local: SocketAddr = match target {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(s) = UdpSocket::bind(local).await else {
        return Answer::Failed;
    };
    if s.connect(target).await.is_err() || s.send(payload).await.is_err() {
        return Answer::Failed;
    }
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(wait, s.recv(&mut buf)).await {
        Err(_) => Answer::Silence,
        Ok(Ok(n)) => {
            buf.truncate(n.min(MAX_ANSWER));
            if buf.is_empty() {
                Answer::Silence
            } else {
                Answer::Data(buf)
            }
        }
        Ok(Err(_)) => Answer::Failed,
    }
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
