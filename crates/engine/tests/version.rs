//! The `-sV` prober against servers of the test's own on loopback: a
//! banner (SSH), a server that answers only when asked (HTTP), one that
//! says nothing, one that closes every connection at once, one that serves
//! one connection at a time, a TLS server (openssl s_server); and the
//! bound on open connections.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use vigie_engine::progress::Progress;
use vigie_engine::version::{detect, Port, VersionSpec};
use vigie_engine::{Env, Stop};
use vigie_service::{builtin::BUILTIN, Matcher, ProbeDb, Proto};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn spec() -> VersionSpec {
    let db = ProbeDb::parse(BUILTIN.as_bytes()).expect("vigie's database");
    let mut s = VersionSpec::new(Arc::new(Matcher::new(&db).expect("matcher")), 7);
    s.min_wait = Duration::from_millis(400);
    s
}

fn env() -> Env {
    Env::new(Stop::new(), Progress::default())
}

/// A server on 127.0.0.1 (any free port): `serve` runs per connection on
/// its own thread (or on the accept thread when `one_at_a_time`); counts
/// the connections open at once.
struct Server {
    port: u16,
    peak: Arc<AtomicUsize>,
}

fn server(one_at_a_time: bool, serve: fn(TcpStream)) -> Server {
    let counters = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    server_counted(one_at_a_time, serve, counters)
}

/// [`server`] with counters shared by several servers.
fn server_counted(
    one_at_a_time: bool,
    serve: fn(TcpStream),
    (open, peak): (Arc<AtomicUsize>, Arc<AtomicUsize>),
) -> Server {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = l.local_addr().expect("addr").port();
    let p = Arc::clone(&peak);
    thread::spawn(move || {
        for s in l.incoming().flatten() {
            let n = open.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(n, Ordering::SeqCst);
            let open = Arc::clone(&open);
            let run = move || {
                serve(s);
                open.fetch_sub(1, Ordering::SeqCst);
            };
            if one_at_a_time {
                run();
            } else {
                thread::spawn(run);
            }
        }
    });
    Server { port, peak }
}

fn ssh(mut s: TcpStream) {
    let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
    let mut b = [0u8; 256];
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = s.read(&mut b);
}

fn http(mut s: TcpStream) {
    let mut b = [0u8; 1024];
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if let Ok(n) = s.read(&mut b) {
        if b[..n].starts_with(b"GET ") {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n");
        }
    }
}

fn silent(s: TcpStream) {
    let mut s = s;
    let mut b = [0u8; 1024];
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    while matches!(s.read(&mut b), Ok(n) if n > 0) {}
}

fn closing(s: TcpStream) {
    drop(s);
}

fn name(d: &vigie_engine::version::Detected) -> (Option<&str>, Option<&str>, Option<&str>) {
    match &d.found {
        Some(f) => (
            Some(f.service.as_str()),
            f.product.as_deref(),
            f.version.as_deref(),
        ),
        None => (None, None, None),
    }
}

#[test]
fn banner_request_silence_and_wrappers() {
    let (a, b, c, d, e) = (
        server(false, ssh),
        server(false, http),
        server(false, silent),
        server(false, closing),
        server(true, http),
    );
    let ports: Vec<Port> = [a.port, b.port, c.port, d.port, e.port]
        .iter()
        .map(|p| Port::tcp(LO, *p))
        .collect();
    let found = detect(&ports, &spec(), &env()).expect("detect");
    assert_eq!(found.len(), 5);
    let got = |p: u16| &found[&(LO, Proto::Tcp, p)];
    assert_eq!(
        name(got(a.port)),
        (Some("ssh"), Some("OpenSSH"), Some("9.2p1 Debian 2+deb12u3"))
    );
    assert_eq!(
        name(got(b.port)),
        (Some("http"), Some("nginx"), Some("1.22.1"))
    );
    assert_eq!(name(got(c.port)), (None, None, None));
    assert!(!got(c.port).wrapped);
    assert!(got(d.port).wrapped, "{:?}", got(d.port));
    // The one-at-a-time server: found by the serial pass.
    assert_eq!(
        name(got(e.port)),
        (Some("http"), Some("nginx"), Some("1.22.1"))
    );
    assert_eq!(e.peak.load(Ordering::SeqCst), 1);
}

/// The client ends of established connections to one of `ports`, by
/// inode, from the kernel's table (the client's end leaves ESTABLISHED the
/// moment the prober closes it).
fn established_to(ports: &[u16]) -> std::collections::HashSet<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let port = |i: usize| {
                f.get(i)
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            // To a server's port, from a port of its own.
            let client = f.get(3) == Some(&"01")
                && port(2).is_some_and(|p| ports.contains(&p))
                && port(1).is_some_and(|p| !ports.contains(&p));
            client.then(|| f.get(9).unwrap_or(&"").to_string())
        })
        .collect()
}

#[test]
fn never_more_connections_than_the_bound() {
    let servers: Vec<Server> = (0..6).map(|_| server(false, silent)).collect();
    let ports: Vec<Port> = servers.iter().map(|s| Port::tcp(LO, s.port)).collect();
    let watched: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (done, watched) = (Arc::clone(&done), watched.clone());
        thread::spawn(move || {
            // The table is read in pieces while it changes, so one read
            // can list a socket closed during it beside one opened after.
            // A socket in two reads in a row was open at the instant
            // between them: those are open at once.
            let mut peak = 0;
            let mut before = established_to(&watched);
            while !done.load(Ordering::SeqCst) {
                let now = established_to(&watched);
                peak = peak.max(now.intersection(&before).count());
                before = now;
            }
            peak
        })
    };
    let mut spec = spec();
    spec.sockets = 3;
    spec.min_wait = Duration::from_millis(100);
    let found = detect(&ports, &spec, &env()).expect("detect");
    done.store(true, Ordering::SeqCst);
    let peak = sampler.join().expect("sampler");
    assert_eq!(found.len(), 6);
    // 6 silent ports × 4 probes each would be 24 at once without the bound.
    assert_eq!(peak, 3, "open connections at most, bound 3");
}

/// A UDP socket on 127.0.0.1 (any free port): `answer` says what to send
/// back to a datagram (nothing: stay silent). The datagrams it got are
/// counted.
fn udp_server(answer: fn(&[u8]) -> Option<Vec<u8>>) -> (u16, Arc<AtomicUsize>) {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let port = s.local_addr().expect("addr").port();
    let got = Arc::new(AtomicUsize::new(0));
    let n = Arc::clone(&got);
    thread::spawn(move || {
        let mut b = [0u8; 2048];
        while let Ok((len, from)) = s.recv_from(&mut b) {
            n.fetch_add(1, Ordering::SeqCst);
            if let Some(reply) = answer(&b[..len]) {
                let _ = s.send_to(&reply, from);
            }
        }
    });
    (port, got)
}

/// memcached's UDP frame (request id, sequence, count, reserved) around
/// its text protocol: answers `version` only.
fn memcached_udp(req: &[u8]) -> Option<Vec<u8>> {
    let body = req.get(8..)?;
    (body == b"version\r\n").then(|| {
        let mut r = req[..8].to_vec();
        r.extend_from_slice(b"VERSION 1.6.18\r\n");
        r
    })
}

#[test]
fn udp_answer_silence_and_closed() {
    let (mc, _) = udp_server(memcached_udp);
    let (quiet, heard) = udp_server(|_| None);
    // A port nothing listens on: the kernel's port unreachable.
    let closed = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let ports = [
        Port::udp(LO, mc),
        Port::udp(LO, quiet),
        Port::udp(LO, closed),
    ];
    let mut spec = spec();
    spec.min_wait = Duration::from_millis(200);
    let found = detect(&ports, &spec, &env()).expect("detect");
    let got = |p: u16| &found[&(LO, Proto::Udp, p)];
    assert_eq!(
        name(got(mc)),
        (Some("memcached"), Some("Memcached"), Some("1.6.18"))
    );
    assert!(got(mc).answered);
    assert_eq!(name(got(quiet)), (None, None, None));
    assert!(!got(quiet).answered);
    assert_eq!(name(got(closed)), (None, None, None));
    assert!(!got(closed).answered);
    // The silent port heard every UDP probe of the database that it
    // should (rarity <= 7, or naming its port), once each.
    let db = ProbeDb::parse(BUILTIN.as_bytes()).expect("db");
    let want = db
        .probes
        .iter()
        .filter(|p| p.proto == Proto::Udp && !p.no_payload)
        .filter(|p| p.rarity <= 7 || p.ports.contains(quiet))
        .count();
    assert_eq!(heard.load(Ordering::SeqCst), want);
}

/// A `Write` into a buffer the test reads back.
#[derive(Clone, Default)]
struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn version_trace_lines() {
    let a = server(false, ssh);
    let out = Shared::default();
    let mut env = env();
    env.trace = Some(Arc::new(
        vigie_engine::trace::Trace::new(Box::new(out.clone()), false, 0).with_version(true),
    ));
    let found = detect(&[Port::tcp(LO, a.port)], &spec(), &env).expect("detect");
    let f = found[&(LO, Proto::Tcp, a.port)]
        .found
        .clone()
        .expect("a match");
    assert_eq!(f.service, "ssh");
    let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("UTF-8");
    let at = format!("127.0.0.1:{}", a.port);
    let has = |want: &str| text.lines().any(|l| l == want);
    assert!(
        has(&format!(
            "Service scan sending probe NULL to {at} (tcp, 0 bytes)"
        )),
        "{text}"
    );
    // The banner comes on every connection; the NULL probe may have
    // stopped listening once another probe's connection got it.
    let banner = format!(
        "(tcp) got {} bytes",
        "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".len()
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("Service scan probe ") && l.ends_with(&banner)),
        "{text}"
    );
    let info = f.info.clone().unwrap_or_default();
    assert!(
        has(&format!(
            "Service scan result for {at} (tcp): ssh match (line {}).  Version: \
             |OpenSSH|9.2p1 Debian 2+deb12u3|{info}|",
            f.line
        )),
        "{text}"
    );
    // Off, nothing is written.
    let quiet = Shared::default();
    env.trace = Some(Arc::new(vigie_engine::trace::Trace::new(
        Box::new(quiet.clone()),
        false,
        0,
    )));
    detect(&[Port::tcp(LO, a.port)], &spec(), &env).expect("detect");
    assert!(quiet.0.lock().expect("lock").is_empty());
}
