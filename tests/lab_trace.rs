//! Lab tests of `--packet-trace` and `-d` (issue 11): the SENT and RCVD
//! lines of a real run are checked against what the wire carried.
//!
//! Each test runs vigie (as root) in the lab's scanner namespace and
//! captures at both ends of the veth: in the target namespace, what
//! arrived from the scanner; in the scanner namespace, what arrived from
//! the target (each ring ignores its own namespace's packets, so between
//! them they see each packet once). The SENT lines must be exactly the
//! probes the target received — not the scanner kernel's own RSTs to the
//! SYN-ACKs of a SYN scan, which vigie did not send — and the RCVD lines
//! exactly the replies the target sent, as multisets of (addresses, ports,
//! flags, sequence numbers, ICMP type/code and what an error quotes).

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Output;
use std::time::Duration;

use common::*;
use vigie_lab::capture::{ArpCapture, ArpSeen, Capture, Seen};
use vigie_lab::{Lab, LabTechnique, Layout};

/// One packet, as a trace line tells it or as a capture saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Pkt {
    Tcp {
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
        flags: String,
        seq: u32,
    },
    Udp {
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
    },
    /// `a`, `b`: for errors the quoted ports, for echo / timestamp
    /// messages the identifier and sequence number, else 0.
    Icmp {
        src: IpAddr,
        dst: IpAddr,
        ty: u8,
        code: u8,
        a: u16,
        b: u16,
    },
    ArpWhoHas {
        target: Ipv4Addr,
        sender: Ipv4Addr,
    },
    ArpReply {
        ip: Ipv4Addr,
        mac: String,
    },
}

/// nmap's flag letters, in its order.
fn flag_letters(bits: u16) -> String {
    [
        (0x002, 'S'),
        (0x001, 'F'),
        (0x004, 'R'),
        (0x008, 'P'),
        (0x010, 'A'),
        (0x020, 'U'),
        (0x040, 'E'),
        (0x080, 'C'),
    ]
    .iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, c)| *c)
    .collect()
}

fn has_id_seq(ty: u8) -> bool {
    matches!(ty, 0 | 8 | 13 | 14 | 128 | 129)
}

fn is_error(ty: u8, v6: bool) -> bool {
    if v6 {
        (1..=4).contains(&ty)
    } else {
        matches!(ty, 3 | 4 | 11 | 12)
    }
}

fn from_seen(s: &Seen) -> Pkt {
    match s.protocol {
        6 => Pkt::Tcp {
            src: s.src,
            sport: s.sport,
            dst: s.dst,
            dport: s.dport,
            flags: flag_letters(s.flags),
            seq: s.seq,
        },
        17 => Pkt::Udp {
            src: s.src,
            sport: s.sport,
            dst: s.dst,
            dport: s.dport,
        },
        p => {
            let keep = has_id_seq(s.icmp_type) || is_error(s.icmp_type, p == 58);
            Pkt::Icmp {
                src: s.src,
                dst: s.dst,
                ty: s.icmp_type,
                code: s.icmp_code,
                a: if keep { s.sport } else { 0 },
                b: if keep { s.dport } else { 0 },
            }
        }
    }
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn from_arp(a: &ArpSeen) -> Pkt {
    if a.op == 1 {
        Pkt::ArpWhoHas {
            target: a.target_ip,
            sender: a.sender_ip,
        }
    } else {
        Pkt::ArpReply {
            ip: a.sender_ip,
            mac: mac_text(a.sender_mac),
        }
    }
}

/// `198.18.0.1:41234` or `fd00:18::1:41234` (nmap prints IPv6 bare).
fn addr_port(s: &str) -> (IpAddr, u16) {
    let (a, p) = s
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("no port in {s:?}"));
    (a.parse().unwrap(), p.parse().unwrap())
}

fn field<T: std::str::FromStr>(toks: &[&str], key: &str) -> Option<T> {
    toks.iter()
        .find_map(|t| t.strip_prefix(key))
        .and_then(|v| v.trim_end_matches(']').parse().ok())
}

/// What one trace line's packet description says.
fn parse_packet(body: &str) -> Pkt {
    let toks: Vec<&str> = body.split_whitespace().collect();
    match toks[0] {
        "TCP" => {
            let (src, sport) = addr_port(toks[1]);
            let (dst, dport) = addr_port(toks[3]);
            // A segment without flags leaves the field empty.
            let flags = if toks[4].contains('=') { "" } else { toks[4] };
            Pkt::Tcp {
                src,
                sport,
                dst,
                dport,
                flags: flags.to_owned(),
                seq: field(&toks, "seq=").expect("seq="),
            }
        }
        "UDP" => {
            let (src, sport) = addr_port(toks[1]);
            let (dst, dport) = addr_port(toks[3]);
            Pkt::Udp {
                src,
                sport,
                dst,
                dport,
            }
        }
        "ICMP" | "ICMPv6" => {
            let v6 = toks[0] == "ICMPv6";
            // ICMP [a > b Name (type=t/code=c) ...] / ICMPv6 (58) a > b Name (type=t/code=c) ...
            let (src, dst) = if v6 {
                (toks[2].parse().unwrap(), toks[4].parse().unwrap())
            } else {
                (
                    toks[1].trim_start_matches('[').parse().unwrap(),
                    toks[3].parse().unwrap(),
                )
            };
            let tc = toks
                .iter()
                .find_map(|t| t.strip_prefix("(type="))
                .expect("(type=");
            let (ty, code) = tc.trim_end_matches(')').split_once("/code=").unwrap();
            let (ty, code): (u8, u8) = (ty.parse().unwrap(), code.parse().unwrap());
            let (a, b) = if is_error(ty, v6) {
                // ... for UDP a:p > b:q] ...
                let i = toks.iter().position(|t| *t == "for").expect("for");
                let (_, qs) = addr_port(toks[i + 2]);
                let (_, qd) = addr_port(toks[i + 4].trim_end_matches(']'));
                (qs, qd)
            } else if has_id_seq(ty) {
                (field(&toks, "id=").unwrap(), field(&toks, "seq=").unwrap())
            } else {
                (0, 0)
            };
            Pkt::Icmp {
                src,
                dst,
                ty,
                code,
                a,
                b,
            }
        }
        "ARP" if toks[1] == "who-has" => Pkt::ArpWhoHas {
            target: toks[2].parse().unwrap(),
            sender: toks[4].parse().unwrap(),
        },
        "ARP" if toks[1] == "reply" => Pkt::ArpReply {
            ip: toks[2].parse().unwrap(),
            mac: toks[4].to_owned(),
        },
        _ => panic!("unexpected trace line: {body}"),
    }
}

/// The (SENT, RCVD) packets of a trace, in order.
fn parse_trace(text: &str) -> (Vec<Pkt>, Vec<Pkt>) {
    let (mut sent, mut rcvd) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let (dir, rest) = if let Some(r) = line.strip_prefix("SENT (") {
            (&mut sent, r)
        } else if let Some(r) = line.strip_prefix("RCVD (") {
            (&mut rcvd, r)
        } else {
            continue;
        };
        let (t, body) = rest
            .split_once("s) ")
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        assert!(t.parse::<f64>().is_ok(), "bad time in {line:?}");
        dir.push(parse_packet(body));
    }
    (sent, rcvd)
}

fn is_arp(p: &Pkt) -> bool {
    matches!(p, Pkt::ArpWhoHas { .. } | Pkt::ArpReply { .. })
}

fn sorted(mut v: Vec<Pkt>) -> Vec<Pkt> {
    v.sort();
    v
}

/// Equal as multisets; on failure, what each side has that the other lacks.
fn assert_same(what: &str, trace: Vec<Pkt>, wire: Vec<Pkt>) {
    let (t, w) = (sorted(trace), sorted(wire));
    if t == w {
        return;
    }
    let mut only_t = t.clone();
    for p in &w {
        if let Some(i) = only_t.iter().position(|q| q == p) {
            only_t.remove(i);
        }
    }
    let mut only_w = w.clone();
    for p in &t {
        if let Some(i) = only_w.iter().position(|q| q == p) {
            only_w.remove(i);
        }
    }
    panic!(
        "{what}: {} in the trace, {} on the wire\nonly in the trace: {only_t:#?}\nonly on the wire: {only_w:#?}",
        t.len(),
        w.len()
    );
}

/// What one traced run saw.
struct Run {
    out: Output,
    /// Arrived at the target from the scanner.
    at_target: Vec<Seen>,
    /// Arrived at the scanner from the target.
    at_scanner: Vec<Seen>,
    arp_at_target: Vec<ArpSeen>,
    arp_at_scanner: Vec<ArpSeen>,
}

/// A traced TCP scan (`flag`) of `ports`, the report on stdout (`-oJ -`),
/// exact against the lab's truth; the run, its trace (on stderr, since the
/// report took stdout) and the port states.
fn traced_port_scan(
    lab: &Lab,
    flag: &str,
    technique: LabTechnique,
    ports: &[u16],
) -> (Run, String, States) {
    let list = ports
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let run = traced_run(
        lab,
        &[flag, "-n", "-Pn", "--packet-trace", "-p", &list, "-oJ", "-"],
    );
    let text = stderr(&run.out);
    let states = json_states(&stdout(&run.out), &lab.target_v4().to_string());
    assert_exact(lab, technique, false, &states, ports.iter().copied());
    (run, text, states)
}

fn traced_run(lab: &Lab, args: &[&str]) -> Run {
    let us = IpAddr::V4(lab.scanner_v4());
    let them = IpAddr::V4(lab.target_v4());
    let at_target = Capture::start_with_icmp(lab.target_ns(), vec![us]).unwrap();
    let at_scanner = Capture::start_with_icmp(lab.scanner_ns(), vec![them]).unwrap();
    let arp_t = ArpCapture::start(lab.target_ns(), lab.target_if()).unwrap();
    let arp_s = ArpCapture::start(lab.scanner_ns(), lab.scanner_if()).unwrap();
    let out = lab
        .scanner_cmd(VIGIE)
        .args(args)
        .arg(them.to_string())
        .output()
        .expect("run vigie");
    check_output(&format!("vigie {args:?}"), &out);
    // Anything still in flight arrives within a few ms.
    std::thread::sleep(Duration::from_millis(100));
    Run {
        out,
        at_target: at_target.finish().unwrap(),
        at_scanner: at_scanner.finish().unwrap(),
        arp_at_target: arp_t.finish().unwrap(),
        arp_at_scanner: arp_s.finish().unwrap(),
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The IP-level packets of a run (the ARP lines apart).
fn ip_only(v: Vec<Pkt>) -> Vec<Pkt> {
    v.into_iter().filter(|p| !is_arp(p)).collect()
}

/// `-sS`: every SENT line is a SYN the target received (and every SYN it
/// received has its line); the scanner kernel's RSTs to the SYN-ACKs
/// reach the target but have no line; every RCVD line is a reply the
/// target sent, and each names what the port is.
#[test]
fn syn_scan_trace_matches_the_wire() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let ports: Vec<u16> = [20, 21, 22, 23, 24, 25, 80, 113, 135, 139, 443]
        .into_iter()
        .chain([7000, 7001, 9001, 9002, 9003])
        .collect();
    let (run, text, states) = traced_port_scan(&lab, "-sS", LabTechnique::Syn, &ports);
    assert!(
        !stdout(&run.out).contains("SENT ("),
        "trace lines in the report"
    );

    let (sent, rcvd) = parse_trace(&text);
    // -Pn on a local segment: the target is resolved by ARP first.
    assert!(
        sent.iter().any(|p| *p
            == Pkt::ArpWhoHas {
                target: lab.target_v4(),
                sender: lab.scanner_v4()
            }),
        "no ARP request traced:\n{text}"
    );
    assert!(
        rcvd.iter()
            .any(|p| matches!(p, Pkt::ArpReply { ip, .. } if *ip == lab.target_v4())),
        "no ARP reply traced:\n{text}"
    );
    let sent = ip_only(sent);
    let rcvd = ip_only(rcvd);
    for p in &sent {
        assert!(
            matches!(p, Pkt::Tcp { flags, .. } if flags == "S"),
            "a SENT line that is not a SYN: {p:?}"
        );
    }
    let (probes, others): (Vec<&Seen>, Vec<&Seen>) = run.at_target.iter().partition(|s| s.is_syn());
    assert_same(
        "SYNs",
        sent.clone(),
        probes.iter().map(|s| from_seen(s)).collect(),
    );
    // Each silent port got its retries, each answering port one SYN.
    let probed: BTreeSet<u16> = probes.iter().map(|s| s.dport).collect();
    assert_eq!(probed, ports.iter().copied().collect(), "ports probed");
    // What else reached the target: the scanner kernel's RSTs, one per
    // SYN-ACK, none of them traced.
    let open: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|p| states[p].0 == "open")
        .collect();
    assert!(!open.is_empty());
    for s in &others {
        assert!(
            s.protocol == 6 && s.flags == 0x04 && open.contains(&s.dport),
            "unexpected packet from the scanner: {s:?}"
        );
    }
    assert_eq!(
        others.iter().map(|s| s.dport).collect::<BTreeSet<_>>(),
        open.iter().copied().collect(),
        "a kernel RST for each open port"
    );

    assert_same(
        "replies",
        rcvd.clone(),
        run.at_scanner.iter().map(from_seen).collect(),
    );
    // And each reply says what the lab made the port.
    for p in &rcvd {
        let (port, want) = match p {
            Pkt::Tcp { sport, flags, .. } => (*sport, flags.as_str()),
            Pkt::Icmp { ty: 3, code, b, .. } => (*b, if *code == 3 { "PU" } else { "ADMIN" }),
            other => panic!("unexpected reply {other:?}"),
        };
        let expect = match lab.layout().expect(LabTechnique::Syn, false, port) {
            ("open", _) => "SA",
            ("closed", _) => "RA",
            (_, "port-unreach") => "PU",
            (_, "admin-prohibited") => "ADMIN",
            other => panic!("a reply from port {port} ({other:?}): {p:?}"),
        };
        assert_eq!(want, expect, "port {port}: {p:?}");
    }
    let answered: BTreeSet<u16> = rcvd
        .iter()
        .map(|p| match p {
            Pkt::Tcp { sport, .. } => *sport,
            Pkt::Icmp { b, .. } => *b,
            _ => 0,
        })
        .collect();
    let silent: BTreeSet<u16> = ports
        .iter()
        .copied()
        .filter(|p| states[p].1 == "no-response")
        .collect();
    assert_eq!(
        answered.len() + silent.len(),
        ports.len(),
        "answered {answered:?}"
    );
}

/// `-sU` (every port of the standard lab is closed to UDP, and ICMP is not
/// rate-limited): a SENT line per datagram the target received, a RCVD
/// line per port unreachable it sent, quoting the probe's ports.
#[test]
fn udp_scan_trace_matches_the_wire() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let run = traced_run(
        &lab,
        &["-sU", "-n", "-Pn", "--packet-trace", "-p", "30000-30011,53"],
    );
    // No report on stdout but the normal one: the trace is there too.
    let text = stdout(&run.out);
    assert!(
        text.contains("30000/udp closed"),
        "normal report missing:\n{text}"
    );
    let (sent, rcvd) = parse_trace(&text);
    let (sent, rcvd) = (ip_only(sent), ip_only(rcvd));
    assert!(
        sent.iter().all(|p| matches!(p, Pkt::Udp { .. })),
        "{sent:?}"
    );
    assert_same(
        "datagrams",
        sent.clone(),
        run.at_target.iter().map(from_seen).collect(),
    );
    assert_eq!(
        sent.iter()
            .map(|p| match p {
                Pkt::Udp { dport, .. } => *dport,
                _ => 0,
            })
            .collect::<BTreeSet<_>>(),
        (30000..=30011).chain([53]).collect(),
    );
    assert_same(
        "port unreachables",
        rcvd.clone(),
        run.at_scanner.iter().map(from_seen).collect(),
    );
    for p in &rcvd {
        assert!(
            matches!(p, Pkt::Icmp { ty: 3, code: 3, .. }),
            "unexpected reply {p:?}"
        );
    }
    assert_eq!(rcvd.len(), 13, "one port unreachable per port");
}

/// `-sn` on the local segment: ARP only — a SENT line per request the
/// target received, a RCVD line per reply it sent (with its real MAC), and
/// no IP packet at all.
#[test]
fn arp_ping_trace_matches_the_wire() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let run = traced_run(&lab, &["-sn", "-n", "--packet-trace"]);
    let text = stdout(&run.out);
    assert!(text.contains("Host is up"), "{text}");
    let (sent, rcvd) = parse_trace(&text);
    assert!(!sent.is_empty());
    assert!(sent.iter().all(is_arp) && rcvd.iter().all(is_arp), "{text}");
    assert!(run.at_target.is_empty(), "IP packets: {:?}", run.at_target);
    let requests: Vec<Pkt> = run
        .arp_at_target
        .iter()
        .filter(|a| a.op == 1)
        .map(from_arp)
        .collect();
    assert_same("ARP requests", sent, requests);
    let replies: Vec<Pkt> = run
        .arp_at_scanner
        .iter()
        .filter(|a| a.op == 2)
        .map(from_arp)
        .collect();
    assert!(!replies.is_empty());
    assert_same("ARP replies", rcvd, replies);
}

/// `-sn --disable-arp-ping`: nmap's four IP probes (echo, SYN to 443, ACK
/// to 80, timestamp) each have their SENT line, and each reply the target
/// sent its RCVD line.
#[test]
fn ip_ping_trace_matches_the_wire() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let run = traced_run(&lab, &["-sn", "-n", "--disable-arp-ping", "--packet-trace"]);
    let text = stdout(&run.out);
    assert!(text.contains("Host is up"), "{text}");
    let (sent, rcvd) = parse_trace(&text);
    assert!(
        !sent.iter().any(is_arp) && !rcvd.iter().any(is_arp),
        "{text}"
    );
    let kinds: BTreeSet<String> = sent
        .iter()
        .map(|p| match p {
            Pkt::Icmp { ty, .. } => format!("icmp {ty}"),
            Pkt::Tcp { flags, dport, .. } => format!("{flags} {dport}"),
            other => panic!("unexpected probe {other:?}"),
        })
        .collect();
    let want: BTreeSet<String> = ["icmp 8", "icmp 13", "S 443", "A 80"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(kinds, want);
    // The scanner kernel's RST to the SYN-ACK from 443 is not vigie's.
    let probes: Vec<Pkt> = run
        .at_target
        .iter()
        .filter(|s| !(s.protocol == 6 && s.flags == 0x04))
        .map(from_seen)
        .collect();
    assert_same("probes", sent, probes);
    assert_same(
        "replies",
        rcvd,
        run.at_scanner.iter().map(from_seen).collect(),
    );
}

/// `-sT`: a CONN line when each connection starts — one per SYN the
/// target received from the scanner's kernel — and one with its result,
/// in the system's words, for what the lab made each port.
#[test]
fn connect_scan_conn_lines_match_the_wire() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    // No dropped port: a connect attempt the kernel retries has two SYNs.
    let ports: Vec<u16> = vec![20, 21, 22, 80, 113, 135, 139, 443, 9001, 9002, 9003];
    let (run, text, _) = traced_port_scan(&lab, "-sT", LabTechnique::Connect, &ports);
    let target = lab.target_v4().to_string();
    let (sent, _) = parse_trace(&text);
    assert!(
        sent.iter().all(is_arp),
        "a connect scan sends no raw probe: {sent:?}"
    );
    let mut started = Vec::new();
    let mut results = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("CONN (")) {
        let body = line.split_once("s) ").unwrap().1;
        let rest = body
            .strip_prefix("TCP localhost > ")
            .unwrap_or_else(|| panic!("{line}"));
        let (addr, result) = rest.split_once(" => ").unwrap();
        let (a, port) = addr_port(addr);
        assert_eq!(a.to_string(), target);
        if result == "Operation now in progress" {
            started.push(port);
        } else {
            results.push((port, result.to_owned()));
        }
    }
    started.sort_unstable();
    let mut syns: Vec<u16> = run
        .at_target
        .iter()
        .filter(|s| s.is_syn())
        .map(|s| s.dport)
        .collect();
    syns.sort_unstable();
    assert_eq!(started, syns, "connects started vs SYNs at the target");
    assert_eq!(started, {
        let mut p = ports.clone();
        p.sort_unstable();
        p
    });
    results.sort();
    for (port, result) in &results {
        let want = match lab.layout().expect(LabTechnique::Connect, false, *port) {
            ("open", _) => "Connected",
            ("closed", _) => "Connection refused",
            (_, "host-unreach") => "No route to host",
            other => panic!("port {port}: {other:?}"),
        };
        assert_eq!(result, want, "port {port}");
    }
    assert_eq!(results.len(), ports.len(), "{results:?}");
}

/// `-d` prints the engine's decisions (the block, the plan and its
/// timeout, the end of the drive), `-dd` also the timeout's changes;
/// without the flags, no trace or debug line appears anywhere.
#[test]
fn debug_lines_and_silence_without_the_flags() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let target = lab.target_v4().to_string();
    let run = |args: &[&str]| -> Output {
        let out = lab
            .scanner_cmd(VIGIE)
            .args(["-sS", "-n", "-Pn", "-p", "20-25"])
            .args(args)
            .arg(&target)
            .output()
            .expect("run vigie");
        check_output(&format!("vigie {args:?}"), &out);
        out
    };

    let d = stdout(&run(&["-d"]));
    for want in [
        "resolution: 1 of 1 on-link targets answered ARP",
        "block 1/1: 1 hosts",
        "block 1/1: SYN Stealth Scan of 6 ports, initial timeout ",
        "driver: start, timeout ",
        "driver: done (6 probes final): ",
        "block 1/1: SYN Stealth Scan done: ",
    ] {
        assert!(d.contains(want), "-d lacks {want:?}:\n{d}");
    }
    assert!(
        !d.lines().any(|l| l.starts_with("SENT (")),
        "-d alone traces packets:\n{d}"
    );
    assert!(!d.contains("driver: timeout "), "a -dd line under -d:\n{d}");

    let dd = stdout(&run(&["-dd"]));
    assert!(
        dd.contains("driver: timeout 1000.0 ms -> "),
        "-dd lacks the timeout change:\n{dd}"
    );

    let plain = run(&[]);
    for text in [stdout(&plain), stderr(&plain)] {
        for l in text.lines() {
            assert!(
                !["SENT (", "RCVD (", "CONN (", "block ", "driver: "]
                    .iter()
                    .any(|p| l.starts_with(p)),
                "trace line without the flags: {l}"
            );
        }
    }
    assert!(stdout(&plain).contains("22/tcp"), "{}", stdout(&plain));
}
