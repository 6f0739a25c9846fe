//! Lab tests of one scan session's run control and trust (issue 10): UDP
//! honours `--shard`, `--max-retries`, Ctrl-C and `--resume`; a UDP answer
//! from the probed port is open; cookies are random per run, so a forger
//! who knows the seed gets nowhere; a sparse on-link /24 under `-Pn` is
//! resolved by ARP (silent addresses down, as nmap has them); and a target
//! set larger than a /8 is refused before anything is sent.
//!
//! Datagram counts are read at the target: the packet counter of an
//! iptables rule in front of the dropped range, and an `AF_PACKET` capture
//! in the target namespace ([`vigie_lab::capture`]).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use vigie_lab::capture::{BlindSender, Capture, Seen, Segment};
use vigie_lab::sparse::{self, SparseLab};
use vigie_lab::udp::{UdpLab, UdpLayout};
use vigie_lab::{Lab, LabTechnique, Layout};

/// The dropped range of the UDP tests.
const LO: u16 = 20000;
const HI: u16 = 20199;
const RANGE: &str = "U:20000-20199";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs `cmd` to the end, killing it (and failing) after `limit`.
fn output_within(cmd: &mut Command, limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => (out.expect("wait"), started.elapsed()),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let out = rx.recv().expect("wait after kill").expect("wait");
            panic!(
                "{cmd:?} still running after {limit:?}; killed. stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Compares UDP states with the layout's truth on every port of `ports`.
fn assert_udp_exact(layout: &UdpLayout, states: &States, ports: impl Iterator<Item = u16>) {
    let mut wrong = Vec::new();
    let mut n = 0;
    for p in ports {
        n += 1;
        let (s, r) = layout.expect_udp(p);
        match states.get(&p) {
            Some((gs, gr)) if gs == s && gr == r => {}
            got => wrong.push(format!("{p}: expected {s}/{r}, got {got:?}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {n} UDP ports wrong:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(30)].join("\n")
    );
    assert_eq!(states.len(), n, "ports reported");
}

/// Datagrams per destination port among the captured packets to `target`.
fn udp_per_port(seen: &[Seen], target: IpAddr) -> BTreeMap<u16, u64> {
    let mut m = BTreeMap::new();
    for s in seen.iter().filter(|s| s.is_udp() && s.dst == target) {
        *m.entry(s.dport).or_insert(0) += 1;
    }
    m
}

/// One `vigie -sU` run against the UDP lab with the range counter zeroed
/// first and a capture running: (states, datagrams at the counter,
/// datagrams per port at the capture, wall time).
fn counted_udp_run(ulab: &UdpLab, args: &[&str]) -> (States, u64, BTreeMap<u16, u64>, Duration) {
    let lab = ulab.lab();
    let target = lab.target_v4();
    ulab.zero_counters().unwrap();
    let cap = Capture::start(lab.target_ns(), vec![IpAddr::V4(lab.scanner_v4())]).unwrap();
    let (out, took) = output_within(
        lab.scanner_cmd(VIGIE)
            .args(["-sU", "-n", "-Pn"])
            .args(args)
            .args(["-oJ", "-"])
            .arg(target.to_string()),
        Duration::from_secs(120),
    );
    check_output(&format!("vigie {args:?}"), &out);
    // Anything still in flight reaches the target within a few ms.
    std::thread::sleep(Duration::from_millis(100));
    let seen = cap.finish().unwrap();
    let count = ulab.range_datagrams().unwrap();
    let states = json_states_of(
        &String::from_utf8_lossy(&out.stdout),
        &target.to_string(),
        "udp",
    );
    (states, count, udp_per_port(&seen, IpAddr::V4(target)), took)
}

// ---------------------------------------------------------------- UDP

/// The shard lab: 20000-20199 dropped, except two echo services and three
/// closed ports; ICMP rate limit off, so the closed ports answer at once.
fn shard_layout() -> UdpLayout {
    UdpLayout {
        echo: vec![20050, 20120],
        pass: vec![20010, 20100, 20190],
        icmp_ratelimit_off: true,
        ..UdpLayout::dropped_range(LO, HI)
    }
}

/// `-sU --shard i/4 --seed 9` for i = 0..4 (vigie counts shards from 0):
/// every datagram a shard sends goes to one of its own ports, each shard
/// sends at least one datagram per port and no more than the unsharded run
/// sent to those ports (about a quarter of it) plus one port's retries, and
/// the four together send no more than the unsharded run (a shard whose
/// ports include no closed one has no canary, so its silent ports get the
/// plain retry only); the shards' reports are disjoint, and their union is
/// the unsharded report, exact.
#[test]
fn udp_shards_send_only_their_share() {
    vigie_lab::require_root().unwrap();
    let ulab = UdpLab::new(&shard_layout()).expect("build UDP lab");
    let layout = ulab.layout().clone();

    let (whole, total, whole_per_port, t) = counted_udp_run(&ulab, &["--seed", "9", "-p", RANGE]);
    let max_per_port = whole_per_port.values().copied().max().unwrap_or(0);
    eprintln!(
        "unsharded: {total} datagrams at the counter ({} at the capture, at most \
         {max_per_port} per port) in {:.2} s",
        whole_per_port.values().sum::<u64>(),
        t.as_secs_f64()
    );
    assert_udp_exact(&layout, &whole, LO..=HI);
    assert_eq!(
        whole_per_port.values().sum::<u64>(),
        total,
        "capture and counter disagree"
    );

    let mut union = States::new();
    let mut counts = Vec::new();
    let mut problems = Vec::new();
    for i in 0..4 {
        let shard = format!("{i}/4");
        let (part, count, per_port, t) =
            counted_udp_run(&ulab, &["--seed", "9", "--shard", &shard, "-p", RANGE]);
        let outside: Vec<u16> = per_port
            .keys()
            .copied()
            .filter(|p| !part.contains_key(p))
            .collect();
        eprintln!(
            "shard {shard}: {count} datagrams to {} ports ({} of them outside its report of {} \
             ports) in {:.2} s",
            per_port.len(),
            outside.len(),
            part.len(),
            t.as_secs_f64()
        );
        if !outside.is_empty() {
            problems.push(format!(
                "shard {shard} sent to {} ports it does not report, e.g. {:?}",
                outside.len(),
                &outside[..outside.len().min(5)]
            ));
        }
        // Its share: what the unsharded run sent to the shard's own ports
        // (about a quarter of the total), plus at most one port's retries.
        let share: u64 = part.keys().filter_map(|p| whole_per_port.get(p)).sum();
        if count > share + max_per_port || count < part.len() as u64 {
            problems.push(format!(
                "shard {shard}: {count} datagrams; its ports had {share} in the unsharded run \
                 (of {total})"
            ));
        }
        for (port, st) in part {
            assert!(
                union.insert(port, st).is_none(),
                "port {port} in two shards"
            );
        }
        counts.push(count);
    }
    let sum: u64 = counts.iter().sum();
    eprintln!("shards: {counts:?} datagrams, {sum} in all; unsharded {total}");
    if sum > total {
        problems.push(format!(
            "the shards sent {sum} datagrams in all, the unsharded run {total}"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(union, whole, "union of the shards vs the unsharded scan");
    assert_udp_exact(&layout, &union, LO..=HI);
}

/// A host that sends no ICMP at all, every port of 20000-20199 dropped:
/// `--max-retries 0` sends exactly one datagram per port, and every port
/// reads open|filtered.
#[test]
fn udp_max_retries_0_sends_one_datagram_per_port() {
    vigie_lab::require_root().unwrap();
    let layout = UdpLayout {
        no_icmp: true,
        ..UdpLayout::dropped_range(LO, HI)
    };
    let ulab = UdpLab::new(&layout).expect("build UDP lab");
    let (states, count, per_port, t) = counted_udp_run(&ulab, &["--max-retries", "0", "-p", RANGE]);
    let twice: Vec<u16> = per_port
        .iter()
        .filter(|(_, &n)| n != 1)
        .map(|(&p, _)| p)
        .collect();
    eprintln!(
        "--max-retries 0: {count} datagrams to {} ports ({} ports got more than one) in {:.2} s",
        per_port.len(),
        twice.len(),
        t.as_secs_f64()
    );
    assert_udp_exact(&layout, &states, LO..=HI);
    assert_eq!(count, 200, "datagrams at the target's counter");
    assert_eq!(per_port.len(), 200);
    assert!(twice.is_empty(), "ports probed more than once: {twice:?}");
}

/// The same silent host, default retries, side by side with nmap: vigie
/// sends no more datagrams than `nmap -sU -T4` does, and both are exact.
#[test]
fn udp_silent_host_gets_no_more_datagrams_than_from_nmap() {
    vigie_lab::require_root().unwrap();
    let layout = UdpLayout {
        no_icmp: true,
        ..UdpLayout::dropped_range(LO, HI)
    };
    let ulab = UdpLab::new(&layout).expect("build UDP lab");
    let lab = ulab.lab();
    let (states, ours, _, ours_t) = counted_udp_run(&ulab, &["-p", RANGE]);

    ulab.zero_counters().unwrap();
    let (out, nmap_t) = output_within(
        lab.scanner_cmd("nmap")
            .args(["-sU", "-T4", "-n", "-Pn", "-p", RANGE, "-oX", "-"])
            .arg(lab.target_v4().to_string()),
        Duration::from_secs(300),
    );
    check_output("nmap -sU", &out);
    let theirs = ulab.range_datagrams().unwrap();
    eprintln!(
        "silent host, 200 ports: vigie {ours} datagrams in {:.2} s; nmap -sU -T4 {theirs} \
         datagrams in {:.2} s",
        ours_t.as_secs_f64(),
        nmap_t.as_secs_f64()
    );
    assert_udp_exact(&layout, &states, LO..=HI);
    let nmap = nmap_xml_states(&String::from_utf8_lossy(&out.stdout));
    let want: BTreeMap<u16, String> = (LO..=HI).map(|p| (p, "open|filtered".into())).collect();
    assert_eq!(nmap, want, "nmap's states");
    assert!(ours <= theirs, "vigie sent {ours} datagrams, nmap {theirs}");
}

/// SIGINT part-way through a UDP scan: vigie exits within 1 s of the
/// signal with status 130, the XML is a complete document, the resume file
/// is in the working directory, and `--resume` finishes the scan: the
/// resumed output (one host block: the whole scan) is exact.
#[test]
fn udp_sigint_stops_within_a_second_and_resumes_exactly() {
    vigie_lab::require_root().unwrap();
    const TOP: u16 = 24999;
    let layout = UdpLayout {
        echo: vec![20050],
        pass: vec![20100],
        icmp_ratelimit_off: true,
        ..UdpLayout::dropped_range(LO, TOP)
    };
    let ulab = UdpLab::new(&layout).expect("build UDP lab");
    let lab = ulab.lab();
    let target = lab.target_v4().to_string();
    let dir = scratch("session-udp-sigint");
    let _ = std::fs::remove_file(dir.join("vigie-resume.json"));
    let (xml, json) = (dir.join("scan.xml"), dir.join("scan.jsonl"));
    // 5000 ports at 1000 datagrams per second: at least 5 s if left alone.
    let mut child = lab
        .scanner_cmd(VIGIE)
        .current_dir(&dir)
        .args([
            "-sU",
            "-n",
            "-Pn",
            "--max-rate",
            "1000",
            "-p",
            "U:20000-24999",
        ])
        .arg("-oX")
        .arg(&xml)
        .arg("-oJ")
        .arg(&json)
        .arg(&target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vigie");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the scan ended before the signal"
    );
    let signalled = Instant::now();
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if signalled.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vigie still running 20 s after SIGINT; killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stop_time = signalled.elapsed();
    let stderr = child
        .stderr
        .take()
        .map(|mut e| {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
            s
        })
        .unwrap_or_default();
    eprintln!(
        "SIGINT: exit {:?} {:.3} s after the signal; stderr: {stderr:?}",
        status.code(),
        stop_time.as_secs_f64()
    );
    assert!(
        stop_time <= Duration::from_secs(1),
        "vigie took {stop_time:?} to stop after SIGINT"
    );
    assert_eq!(status.code(), Some(130), "exit status after SIGINT");
    let x = read(&xml);
    assert!(x.trim_end().ends_with("</nmaprun>"), "partial XML: {x}");
    let lint = Command::new("xmllint")
        .arg("--noout")
        .arg(&xml)
        .status()
        .unwrap();
    assert!(lint.success(), "partial XML is not well formed");
    // What the interrupted run reported is already right.
    let partial = json_states_of(&read(&json), &target, "udp");
    for (p, (s, r)) in &partial {
        assert_eq!(
            layout.expect_udp(*p),
            (s.as_str(), r.as_str()),
            "port {p} in the interrupted run"
        );
    }
    let resume_file = dir.join("vigie-resume.json");
    assert!(
        resume_file.exists(),
        "no vigie-resume.json in {}",
        dir.display()
    );

    // The resumed run writes the first run's outputs again (same names).
    let (out, took) = output_within(
        lab.scanner_cmd(VIGIE)
            .current_dir(&dir)
            .arg("--resume")
            .arg(&resume_file),
        Duration::from_secs(120),
    );
    check_output("vigie --resume", &out);
    eprintln!(
        "resumed in {:.2} s ({} ports known before)",
        took.as_secs_f64(),
        partial.len()
    );
    let full = json_states_of(&read(&json), &target, "udp");
    assert_udp_exact(&layout, &full, LO..=TOP);
    let lint = Command::new("xmllint")
        .arg("--noout")
        .arg(&xml)
        .status()
        .unwrap();
    assert!(lint.success(), "resumed XML is not well formed");
}

/// An echo service on udp/5353 and a responder that answers DNS with the
/// wrong transaction id on udp/53: any datagram from the probed port is
/// an answer, so both read open (udp-response), as nmap reads them; the
/// closed port next to them stays closed.
#[test]
fn udp_answers_on_dns_ports_read_open_like_nmap() {
    vigie_lab::require_root().unwrap();
    let layout = UdpLayout {
        echo: vec![5353],
        wrong_txid: vec![53],
        ..UdpLayout::default()
    };
    let ulab = UdpLab::new(&layout).expect("build UDP lab");
    let lab = ulab.lab();
    let ports = [53u16, 54, 5353];
    let spec = "U:53,54,5353";
    // nmap first: the differential check holds whatever vigie does.
    let (out, _) = output_within(
        lab.scanner_cmd("nmap")
            .args([
                "-sU", "-T4", "-n", "-Pn", "--reason", "-p", spec, "-oX", "-",
            ])
            .arg(lab.target_v4().to_string()),
        Duration::from_secs(120),
    );
    check_output("nmap -sU", &out);
    let nmap = nmap_xml_reasons(&String::from_utf8_lossy(&out.stdout));
    eprintln!("nmap: {nmap:?}");
    for p in ports {
        let (s, r) = layout.expect_udp(p);
        assert_eq!(
            nmap.get(&p).map(|(a, b)| (a.as_str(), b.as_str())),
            Some((s, r)),
            "nmap on udp/{p}"
        );
    }
    for v6 in [false, true] {
        let target = if v6 {
            lab.target_v6().to_string()
        } else {
            lab.target_v4().to_string()
        };
        let mut cmd = lab.scanner_cmd(VIGIE);
        cmd.args(["-sU", "-n", "-Pn", "-p", spec, "-oJ", "-"]);
        if v6 {
            cmd.arg("-6");
        }
        let (out, _) = output_within(cmd.arg(&target), Duration::from_secs(60));
        check_output("vigie -sU", &out);
        let states = json_states_of(&String::from_utf8_lossy(&out.stdout), &target, "udp");
        eprintln!("vigie {target}: {states:?}");
        assert_udp_exact(&layout, &states, ports.iter().copied());
    }
}

// ---------------------------------------------------------------- cookies

/// The first SYN's sequence number (and source port) per destination port
/// in `ports`, as the target saw them during one `vigie -sS` run.
fn syn_cookies(lab: &Lab, args: &[&str], ports: &[u16]) -> BTreeMap<u16, (u32, u16)> {
    let cap = Capture::start(lab.target_ns(), vec![IpAddr::V4(lab.scanner_v4())]).unwrap();
    let target = lab.target_v4().to_string();
    let (out, _) = output_within(
        lab.scanner_cmd(VIGIE)
            .args(["-sS", "-n", "-Pn"])
            .args(args)
            .args(["-oJ", "-", &target]),
        Duration::from_secs(60),
    );
    check_output("vigie -sS", &out);
    std::thread::sleep(Duration::from_millis(50));
    let seen = cap.finish().unwrap();
    let states = json_states(&String::from_utf8_lossy(&out.stdout), &target);
    assert_exact(
        lab,
        LabTechnique::Syn,
        false,
        &states,
        ports.iter().copied(),
    );
    let mut first = BTreeMap::new();
    for s in seen
        .iter()
        .filter(|s| s.is_syn() && ports.contains(&s.dport))
    {
        first.entry(s.dport).or_insert((s.seq, s.sport));
    }
    first
}

/// Two runs with the same `--seed` send different SYN sequence numbers to
/// every port: the cookie keys are the run's own, not the seed's.
#[test]
fn same_seed_twice_gives_different_syn_sequence_numbers() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let ports: Vec<u16> = (1000..=1010).collect();
    let args = ["--seed", "4242", "-p", "1000-1010"];
    let a = syn_cookies(&lab, &args, &ports);
    let b = syn_cookies(&lab, &args, &ports);
    assert_eq!(a.keys().copied().collect::<Vec<_>>(), ports, "run 1 SYNs");
    assert_eq!(b.keys().copied().collect::<Vec<_>>(), ports, "run 2 SYNs");
    let same_seq: Vec<u16> = ports.iter().copied().filter(|p| a[p].0 == b[p].0).collect();
    let same_sport = ports.iter().filter(|p| a[p].1 == b[p].1).count();
    eprintln!(
        "--seed 4242 twice: {} of {} ports got the same SYN seq, {same_sport} the same source \
         port; run 1 {a:?}; run 2 {b:?}",
        same_seq.len(),
        ports.len()
    );
    assert!(
        same_seq.is_empty(),
        "same SYN sequence number in both runs for ports {same_seq:?}"
    );
}

/// The forger's guess: the cookie keys as the seed alone used to give them
/// (SplitMix64 of the seed, and of the seed xor a constant, as SipHash-1-3
/// keys), and the cookie layout of vigie's old derivation. Written here,
/// apart from the engine: it is what an attacker holding a report (whose
/// `args` names the seed) would compute.
struct SeedGuess {
    k0: u64,
    k1: u64,
}

impl SeedGuess {
    fn new(seed: u64) -> SeedGuess {
        fn splitmix(x: u64) -> u64 {
            let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        SeedGuess {
            k0: splitmix(seed),
            k1: splitmix(seed ^ 0x5eed_5eed_5eed_5eed),
        }
    }

    fn sip(&self, bytes: &[u8]) -> u64 {
        let mut h = siphasher::sip::SipHasher13::new_with_keys(self.k0, self.k1);
        h.write(bytes);
        h.finish()
    }

    /// The SYN's sequence number from `local` to `remote:port` (IPv4).
    fn seq(&self, local: Ipv4Addr, remote: Ipv4Addr, port: u16) -> u32 {
        let mut b = vec![0x41];
        b.extend(local.octets());
        b.extend(remote.octets());
        b.extend(port.to_be_bytes());
        self.sip(&b) as u32
    }

    /// The SYN's source port toward `remote:port` (IPv4).
    fn sport(&self, remote: Ipv4Addr, port: u16) -> u16 {
        let mut b = vec![0x02];
        b.extend(remote.octets());
        b.extend(port.to_be_bytes());
        32768 + (self.sip(&b) % 28000) as u16
    }
}

/// A blind forger in the target namespace that knows the seed (4242) and
/// computes the old seed-derived cookies keeps sending, from every closed
/// port of 1-200, a SYN-ACK to the source port it predicts, acknowledging
/// the sequence number it predicts + 1, never reading the scanner's SYNs.
/// `-sS --seed 4242 -p 1-200` with it running is still exact: no closed
/// port reads open.
#[test]
fn forger_who_knows_the_seed_cannot_open_a_port() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let (us, them) = (lab.scanner_v4(), lab.target_v4());
    let guess = SeedGuess::new(4242);
    let closed: Vec<u16> = (1..=200)
        .filter(|&p| lab.layout().expect(LabTechnique::Syn, false, p).0 == "closed")
        .collect();
    let segments: Vec<Segment> = closed
        .iter()
        .map(|&p| Segment {
            src: IpAddr::V4(them),
            dst: IpAddr::V4(us),
            sport: p,
            dport: guess.sport(them, p),
            seq: 0x0bad_5eed,
            ack: guess.seq(us, them, p).wrapping_add(1),
            flags: 0x12,
        })
        .collect();
    let forger = BlindSender::start(lab.target_ns(), segments, Duration::from_millis(2))
        .expect("start the forger");
    let cap = Capture::start(lab.target_ns(), vec![IpAddr::V4(us)]).unwrap();
    let target = them.to_string();
    let (out, took) = output_within(
        lab.scanner_cmd(VIGIE)
            .args([
                "-sS", "-n", "-Pn", "--seed", "4242", "-p", "1-200", "-oJ", "-",
            ])
            .arg(&target),
        Duration::from_secs(60),
    );
    let sent = forger.sent();
    drop(forger);
    let seen = cap.finish().unwrap();
    check_output("vigie -sS", &out);
    // How good the guess was: the scanner's real SYNs against it.
    let guessed = seen
        .iter()
        .filter(|s| s.is_syn() && closed.contains(&s.dport))
        .filter(|s| s.seq == guess.seq(us, them, s.dport) && s.sport == guess.sport(them, s.dport))
        .map(|s| s.dport)
        .collect::<BTreeSet<_>>();
    let states = json_states(&String::from_utf8_lossy(&out.stdout), &target);
    let opened: Vec<u16> = closed
        .iter()
        .copied()
        .filter(|p| states.get(p).is_some_and(|(s, _)| s == "open"))
        .collect();
    eprintln!(
        "forger: {sent} forged SYN-ACKs over {:.2} s; its guess matched the real SYN of {} of {} \
         closed ports; {} closed ports read open",
        took.as_secs_f64(),
        guessed.len(),
        closed.len(),
        opened.len()
    );
    assert!(sent > closed.len() as u64, "the forger sent {sent}");
    assert!(opened.is_empty(), "forged open ports: {opened:?}");
    assert_exact(&lab, LabTechnique::Syn, false, &states, 1..=200);
}

// ---------------------------------------------------------------- on-link

/// One host object of vigie's JSON Lines: up?, (port → (state, reason)).
fn hosts_of(text: &str) -> (BTreeMap<IpAddr, (bool, States)>, serde_json::Value) {
    let mut hosts = BTreeMap::new();
    let mut stats = serde_json::Value::Null;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
        if v["type"] == "stats" {
            stats = v;
            continue;
        }
        if v["type"] != "host" {
            continue;
        }
        let addr: IpAddr = v["addr"].as_str().unwrap().parse().unwrap();
        let mut states = States::new();
        for p in v["ports"].as_array().unwrap() {
            let port = p["port"].as_u64().unwrap() as u16;
            states.insert(
                port,
                (
                    p["state"].as_str().unwrap().to_owned(),
                    p["reason"].as_str().unwrap().to_owned(),
                ),
            );
        }
        assert!(
            hosts.insert(addr, (v["status"] == "up", states)).is_none(),
            "{addr} twice"
        );
    }
    (hosts, stats)
}

/// vigie's own top 100 TCP ports (what `--top-ports 100` scans).
fn vigie_top100() -> Vec<u16> {
    let db = vigie_scan::services::ServiceDb::builtin();
    db.top(100, vigie_scan::Proto::Tcp).iter().collect()
}

/// Up hosts from an nmap XML file, with their per-port states.
fn nmap_up_hosts(xml: &str) -> BTreeMap<IpAddr, BTreeMap<u16, String>> {
    let mut up = BTreeMap::new();
    for host in xml.split("<host ").skip(1) {
        let host = host.split("</host>").next().unwrap_or("");
        if !host.contains("<status state=\"up\"") {
            continue;
        }
        let i = host.find("<address addr=\"").unwrap() + 15;
        let j = host[i..].find('"').unwrap() + i;
        up.insert(host[i..j].parse().unwrap(), nmap_xml_states(host));
    }
    up
}

/// `-sS -Pn --top-ports 100` over a /24 on the scanner's own segment where
/// three addresses exist: those three up with every port exact, the
/// scanner's own address up with every port closed (nmap scans it over
/// loopback: user-set, 100 closed), every other address down; nmap finds
/// the same up hosts and agrees on the ports both scanned.
#[test]
fn sparse_on_link_slash24_with_pn() {
    vigie_lab::require_root().unwrap();
    let lab = SparseLab::new().expect("build sparse lab");
    let top = vigie_top100();
    assert_eq!(top.len(), 100);
    for p in SparseLab::special_ports() {
        assert!(top.contains(&p), "lab port {p} is not in vigie's top 100");
    }
    // The same 100 ports for both tools, named explicitly: vigie's own
    // table (nmap's ranking differs).
    let list: Vec<String> = top.iter().map(u16::to_string).collect();
    let list = list.join(",");
    let own = IpAddr::V4(lab.scanner_v4());
    let mut want_up: Vec<IpAddr> = sparse::LIVE.iter().map(|&a| IpAddr::V4(a)).collect();
    want_up.push(own);
    want_up.sort();

    // nmap first: the differential check holds whatever vigie does.
    let (out, nmap_took) = output_within(
        lab.scanner_cmd("nmap").args([
            "-sS",
            "-Pn",
            "-T4",
            "-n",
            "-p",
            &list,
            "-oX",
            "-",
            sparse::NET,
        ]),
        Duration::from_secs(300),
    );
    check_output("nmap", &out);
    let theirs = nmap_up_hosts(&String::from_utf8_lossy(&out.stdout));
    eprintln!(
        "nmap -sS -Pn -T4 --top-ports 100 {}: {} hosts up in {:.1} s",
        sparse::NET,
        theirs.len(),
        nmap_took.as_secs_f64()
    );
    assert_eq!(
        theirs.keys().copied().collect::<Vec<_>>(),
        want_up,
        "nmap's up hosts"
    );
    for (addr, ports) in &theirs {
        for (p, s) in ports {
            if !top.contains(p) {
                continue;
            }
            let want = SparseLab::expect(*addr, *p).unwrap_or(("closed", "reset"));
            assert_eq!(s, want.0, "nmap {addr}:{p}");
        }
    }

    let (out, took) = output_within(
        lab.scanner_cmd(VIGIE)
            .args(["-sS", "-Pn", "-n", "-p", &list, "-oJ", "-", sparse::NET]),
        Duration::from_secs(400),
    );
    check_output("vigie", &out);
    let (hosts, stats) = hosts_of(&String::from_utf8_lossy(&out.stdout));
    let up: Vec<IpAddr> = hosts.iter().filter(|(_, h)| h.0).map(|(a, _)| *a).collect();
    eprintln!(
        "vigie -sS -Pn --top-ports 100 {}: {} hosts up in {:.1} s; stats {stats}",
        sparse::NET,
        up.len(),
        took.as_secs_f64()
    );
    let extra: Vec<&IpAddr> = up.iter().filter(|a| !want_up.contains(a)).collect();
    let missing: Vec<&IpAddr> = want_up.iter().filter(|a| !up.contains(a)).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{} hosts up; missing {missing:?}; {} extra, e.g. {:?}",
        up.len(),
        extra.len(),
        &extra[..extra.len().min(5)]
    );
    for (addr, (is_up, states)) in &hosts {
        if !is_up {
            assert!(states.is_empty(), "{addr} is down but has ports");
            continue;
        }
        let mut wrong = Vec::new();
        for &p in &top {
            let want = SparseLab::expect(*addr, p).unwrap_or(("closed", "reset"));
            match states.get(&p) {
                Some((s, r)) if s == want.0 && r == want.1 => {}
                got => wrong.push(format!("{addr}:{p} expected {want:?}, got {got:?}")),
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert_eq!(states.len(), 100, "{addr}: ports reported");
    }
    assert_eq!(stats["hosts_up"], 4, "stats: {stats}");
    assert_eq!(stats["hosts_total"], 256, "stats: {stats}");
}

/// `--send-ip` keeps the old behaviour on the same segment: sent at the IP
/// layer, every address of a /28 counts as up under -Pn; the live one is
/// exact and the silent ones have every port filtered.
#[test]
fn send_ip_on_link_reports_silent_addresses_up() {
    vigie_lab::require_root().unwrap();
    let lab = SparseLab::new().expect("build sparse lab");
    let (out, took) = output_within(
        lab.scanner_cmd(VIGIE)
            .args([
                "-sS",
                "-Pn",
                "-n",
                "--send-ip",
                "-p",
                "22,25,80,443",
                "-oJ",
                "-",
            ])
            .arg("198.18.0.192/28"),
        Duration::from_secs(300),
    );
    check_output("vigie --send-ip", &out);
    let (hosts, _) = hosts_of(&String::from_utf8_lossy(&out.stdout));
    eprintln!(
        "--send-ip /28: {} hosts in {:.1} s",
        hosts.len(),
        took.as_secs_f64()
    );
    assert_eq!(hosts.len(), 16);
    for (addr, (is_up, states)) in &hosts {
        assert!(is_up, "{addr} should be up (user-set)");
        for p in [22u16, 25, 80, 443] {
            let want = SparseLab::expect(*addr, p).unwrap_or(("filtered", "no-response"));
            let got = states.get(&p).map(|(s, r)| (s.as_str(), r.as_str()));
            assert_eq!(got, Some(want), "{addr}:{p}");
        }
    }
}

// ---------------------------------------------------------------- guard

/// What one run in an empty network namespace did: vigie's exit status and
/// stderr, loopback's TX packets before and after, and the interfaces.
#[derive(Debug)]
struct EmptyRun {
    code: Option<i32>,
    stderr: String,
    lo_tx: (u64, u64),
    links: Vec<String>,
}

/// Loopback's transmitted packets from `/proc/net/dev` text (per network
/// namespace, unlike /sys/class/net without a remount).
fn lo_tx(dev: &str) -> u64 {
    let line = dev
        .lines()
        .find(|l| l.trim_start().starts_with("lo:"))
        .unwrap_or_else(|| panic!("no lo in {dev}"));
    let fields: Vec<&str> = line.split(':').nth(1).unwrap().split_whitespace().collect();
    fields[9].parse().unwrap()
}

/// Runs vigie with `args` inside `unshare -n` (lo up, nothing else), at
/// most 10 s, reading lo's counters before and after from the same shell.
fn in_empty_netns(args: &[&str]) -> EmptyRun {
    const SCRIPT: &str = r#"
ip link set lo up || exit 97
echo "@@before"; cat /proc/net/dev
timeout -s KILL 10 "$@" 2>"$ERRFILE" >/dev/null; echo "@@code $?"
echo "@@after"; cat /proc/net/dev
echo "@@links"; ip -o link show | cut -d: -f2
"#;
    let dir = scratch("session-guard");
    let errfile = dir.join(format!("err-{}", args.join("_").replace('/', "-")));
    let out = Command::new("unshare")
        .args(["-n", "sh", "-c", SCRIPT, "sh", VIGIE])
        .args(args)
        .env("ERRFILE", &errfile)
        .stdin(Stdio::null())
        .process_group(0)
        .output()
        .expect("run unshare");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    let part = |name: &str| -> String {
        let start = text
            .find(&format!("@@{name}"))
            .unwrap_or_else(|| panic!("{text}"));
        let rest = &text[start..];
        let rest = &rest[rest.find('\n').unwrap() + 1..];
        rest[..rest.find("@@").unwrap_or(rest.len())].to_owned()
    };
    let code_line = text
        .lines()
        .find_map(|l| l.strip_prefix("@@code "))
        .unwrap();
    EmptyRun {
        code: code_line.trim().parse().ok(),
        stderr: read(&errfile),
        lo_tx: (lo_tx(&part("before")), lo_tx(&part("after"))),
        links: part("links")
            .lines()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .collect(),
    }
}

/// Larger than a /8 without `--exclude`: refused before anything is sent
/// (exit 2, one line that points at --exclude; loopback sent nothing, and
/// loopback is all there is).
#[test]
fn accident_guard_refuses_more_than_a_slash8_without_exclude() {
    vigie_lab::require_root().unwrap();
    let cases: [&[&str]; 5] = [
        &["-n", "-p80", "0.0.0.0/0"],
        &["-n", "-sS", "-p-", "0.0.0.0/0"],
        &["-n", "-6", "-p80", "::/0"],
        &["-n", "-p80", "0.0.0.0/7"],
        // 2^25 addresses inside the lab's own IPv6 range.
        &["-n", "-6", "-p80", "fd00::/103"],
    ];
    let mut wrong = Vec::new();
    for args in cases {
        let r = in_empty_netns(args);
        eprintln!("{args:?}: {r:?}");
        let line_ok = r.stderr.ends_with('\n')
            && r.stderr.matches('\n').count() == 1
            && r.stderr.contains("--exclude");
        if r.code != Some(2) || !line_ok || r.lo_tx.0 != r.lo_tx.1 || r.links != ["lo"] {
            wrong.push(format!("{args:?}: {r:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "not refused as it should be:\n{}",
        wrong.join("\n")
    );
}

/// A /8 is the largest set allowed without `--exclude` (here the /8's
/// worth of the lab's IPv6 range, fd00::/104), and `--exclude` lets the
/// whole IPv4 space through the guard: both then fail for want of a route
/// (exit 1, not the guard's exit 2), still without sending anything.
#[test]
fn accident_guard_lets_a_slash8_and_an_excluded_range_through() {
    vigie_lab::require_root().unwrap();
    let cases: [&[&str]; 3] = [
        &["-n", "-6", "-p80", "fd00::/104"],
        &["-n", "-6", "-Pn", "-p80", "fd00::/104"],
        // Loopback and 0/8 (which Linux routes to lo) excluded too, so no
        // address left has a route in the empty namespace.
        &[
            "-n",
            "-p80",
            "--exclude",
            "0.0.0.0/8,127.0.0.0/8,198.18.0.0/15",
            "0.0.0.0/0",
        ],
    ];
    let mut wrong = Vec::new();
    for args in cases {
        let r = in_empty_netns(args);
        eprintln!("{args:?}: {r:?}");
        if r.code != Some(1) || r.stderr.contains("--exclude") || r.lo_tx.0 != r.lo_tx.1 {
            wrong.push(format!("{args:?}: {r:?}"));
        }
        assert_eq!(r.links, ["lo"]);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
