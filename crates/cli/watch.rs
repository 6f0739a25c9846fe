//! `vigie watch [-i IFACE]... [-oJ FILE] [--syslog] [--block [--allow LIST]
//! [--block-for TIME]]`: reads every frame through netio's tap (before
//! netfilter, so scans of dropped ports are seen), feeds the pure detector
//! (`vigie_detect`), and writes each alert at once: a line on stdout, a JSON
//! object with `-oJ`, a syslog message with `--syslog`; with `--block`, the
//! opt-in response ([`crate::respond`]). Runs until SIGINT or SIGTERM.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant, SystemTime};

use vigie_detect::{Alert, Config, Detector, Dir, Frame, Link};
use vigie_engine::Stop;
use vigie_netio::link::{interfaces, Interface};
use vigie_netio::rx::{Receiver, RxConfig};

use crate::args::{self, WatchOptions};
use crate::respond::{self, Ask, Nft, Policy};
use crate::{create, usage, Fail};

/// Bytes kept of each frame: every header a detector reads (Ethernet,
/// IPv6 with extension headers, TCP with options).
const SNAP: u32 = 256;
/// The default `--block-for`.
const BLOCK_FOR: Duration = Duration::from_secs(600);

/// Where alerts go.
struct Out {
    json: Option<Box<dyn Write>>,
    syslog: Option<UnixDatagram>,
    alerts: u64,
}

impl Out {
    fn alert(&mut self, a: &Alert) -> Result<(), Fail> {
        self.alerts += 1;
        let line = a.human();
        {
            let mut o = io::stdout().lock();
            let _ = writeln!(o, "{line}");
            let _ = o.flush();
        }
        if let Some(j) = &mut self.json {
            let v = a.json(SystemTime::now());
            writeln!(j, "{v}")
                .and_then(|()| j.flush())
                .map_err(|e| Fail::Runtime(format!("cannot write the -oJ output: {e}")))?;
        }
        if let Some(s) = &self.syslog {
            // daemon (3) × 8 + warning (4).
            let msg = format!("<28>vigie[{}]: {line}", std::process::id());
            let _ = s.send(msg.as_bytes());
        }
        Ok(())
    }
}

/// The interfaces to tap: the named ones, or one tap on all (index 0).
fn taps(o: &WatchOptions, all: &[Interface]) -> Result<Vec<(String, u32)>, Fail> {
    if o.interfaces.is_empty() {
        return Ok(vec![("every interface".to_string(), 0)]);
    }
    let mut out = Vec::new();
    for name in &o.interfaces {
        let i = all.iter().find(|i| &i.name == name).ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
            usage(format!(
                "-i {name}: no such interface (there are: {})",
                known.join(", ")
            ))
        })?;
        if !out.iter().any(|(_, x)| *x == i.index) {
            out.push((name.clone(), i.index));
        }
    }
    Ok(out)
}

pub fn run(words: &[String]) -> Result<(), Fail> {
    let o = args::parse_watch(words).map_err(|e| usage(e.0))?;
    if o.help {
        print!("{}", args::watch_help());
        return Ok(());
    }
    let allow = o
        .allow
        .iter()
        .map(|a| respond::parse_net(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(usage)?;
    let all = interfaces().map_err(|e| Fail::Runtime(format!("cannot list interfaces: {e}")))?;
    let chosen = taps(&o, &all)?;
    let loopback: Vec<i32> = all
        .iter()
        .filter(|i| i.loopback)
        .map(|i| i.index as i32)
        .collect();
    let own: Vec<IpAddr> = all.iter().flat_map(Interface::addresses).collect();
    let json: Option<Box<dyn Write>> = match o.json.as_deref() {
        None => None,
        Some("-") => Some(Box::new(io::stdout())),
        Some(path) => Some(create(path)?),
    };
    let syslog = if o.syslog {
        let path = o.syslog_to.as_deref().unwrap_or("/dev/log");
        let s = UnixDatagram::unbound()
            .and_then(|s| s.connect(path).map(|()| s))
            .map_err(|e| Fail::Runtime(format!("--syslog: cannot reach {path}: {e}")))?;
        Some(s)
    } else {
        None
    };
    let ring = RxConfig {
        block_size: 1 << 20,
        block_count: 8,
        block_timeout_ms: 10,
    };
    let snap = o.snap.unwrap_or(SNAP);
    let mut rx = Vec::new();
    for (name, index) in &chosen {
        let tap = Receiver::tap(&ring, *index, snap).map_err(|e| {
            Fail::Runtime(format!(
                "cannot watch {name}: {e} (vigie watch needs CAP_NET_RAW: run as root)"
            ))
        })?;
        rx.push(tap);
    }
    let policy = Policy {
        allow,
        own,
        gateways: respond::gateways(),
    };
    let block_for = o.block_for.unwrap_or(BLOCK_FOR);
    let mut nft = match o.block {
        true => Some(Nft::setup(block_for).map_err(|e| Fail::Runtime(format!("--block: {e}")))?),
        false => None,
    };
    let stop = Stop::new();
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.request());
    }
    let names: Vec<&str> = chosen.iter().map(|(n, _)| n.as_str()).collect();
    eprintln!(
        "vigie watch: watching {} (IPv4, IPv6, ARP){}; Ctrl-C to stop",
        names.join(", "),
        if nft.is_some() {
            ", blocking scanners that complete handshakes"
        } else {
            ""
        }
    );
    // Every destination counts: a host sees its own traffic, and what a
    // router forwards is worth watching too.
    let mut det = Detector::new(Config::default());
    let mut out = Out {
        json,
        syslog,
        alerts: 0,
    };
    let start = Instant::now();
    let mut frames = 0u64;
    // When each source was blocked: again once its block has run out.
    let mut blocked: HashMap<IpAddr, Instant> = HashMap::new();
    // Alerted sources (when, and whether in a group) the response may act
    // on once they complete a handshake.
    let mut alerted: HashMap<IpAddr, (Instant, bool)> = HashMap::new();
    let slice = Duration::from_millis(100 / rx.len().max(1) as u64);
    while !stop.requested() {
        for tap in &mut rx {
            // One clock read per batch of frames (a ring block, handed over
            // within 10 ms): the detector's windows are a second or more.
            let mut batch_at = None;
            tap.poll_tap(slice, |f| {
                // Loopback hands every packet over twice, as sent and as
                // received: the received copy is the one.
                if f.outgoing && loopback.contains(&f.ifindex) {
                    return;
                }
                frames += 1;
                det.handle_frame(
                    *batch_at.get_or_insert_with(|| start.elapsed()),
                    Frame {
                        link: if f.ethernet { Link::Ethernet } else { Link::Ip },
                        dir: if f.outgoing { Dir::Out } else { Dir::In },
                        bytes: f.bytes,
                    },
                );
            })
            .map_err(|e| Fail::Runtime(format!("reading frames: {e}")))?;
            while let Some(a) = det.poll_alert() {
                out.alert(&a)?;
                if nft.is_some() {
                    // Decided below, now and while the source keeps on: a
                    // connect scan may be alerted on before its first
                    // handshake completes.
                    if alerted.len() < 65_536 {
                        alerted.insert(a.src, (Instant::now(), !a.group.is_empty()));
                    }
                }
            }
            if let Some(n) = &mut nft {
                alerted.retain(|_, (at, _)| at.elapsed() < block_for);
                for (&src, &(_, grouped)) in &alerted {
                    let ask = Ask {
                        src,
                        handshakes: det.handshakes(&src),
                        grouped,
                    };
                    let fresh = blocked.get(&src).is_none_or(|t| t.elapsed() >= block_for);
                    if !fresh || policy.refuse(&ask).is_some() {
                        continue;
                    }
                    match n.block(src) {
                        Ok(true) => {
                            blocked.insert(src, Instant::now());
                            eprintln!("vigie watch: blocked {src}");
                        }
                        Ok(false) => {}
                        Err(e) => eprintln!("vigie watch: cannot block {src}: {e}"),
                    }
                }
            }
        }
    }
    let drops: u64 = rx
        .iter()
        .filter_map(|r| r.stats().ok())
        .map(|s| s.drops)
        .sum();
    eprintln!(
        "vigie watch: stopped after {:.1} s: {frames} frames, {} alerts, {} sources blocked, {drops} frames dropped by the kernel",
        start.elapsed().as_secs_f64(),
        out.alerts,
        blocked.len()
    );
    drop(nft);
    Ok(())
}
