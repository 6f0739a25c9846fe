//! `vigie watch` in the lab: the watcher runs in the target namespace on its
//! veth, real scanners run in the scanner namespace (nmap with every
//! technique, IPv4 and IPv6, slow, fragmented, with decoys, against dropped
//! ports, ping and ARP sweeps; masscan; zmap; vigie itself), and each scan
//! must be reported with the right kind, source and tool within 10 probes
//! (5 at the median). Then the benign side (no alert) and `--block` (a
//! connect scanner blocked; a spoofed source and an allowed one never; no
//! table left behind).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use vigie_lab::sweep::SweepLab;

/// One lab test at a time: the scans' timings and the watcher's share the
/// two cores.
static ONE: Mutex<()> = Mutex::new(());

const VIGIE: &str = env!("CARGO_BIN_EXE_vigie");
const SCANNER_V4: &str = "198.18.0.1";
const SCANNER_V6: &str = "fd00:18::1";
const TARGET_V4: &str = "198.18.0.2";
const TARGET_V6: &str = "fd00:18::2";

/// A running `vigie watch`, its JSON alerts in a file of its own.
struct Watch {
    child: Child,
    json: PathBuf,
    /// What it wrote on stderr after its first line.
    log: std::sync::Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Watch {
    fn start(lab: &SweepLab, extra: &[&str]) -> Watch {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let json =
            std::env::temp_dir().join(format!("vigie-watch-{}-{n}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&json);
        let mut child = lab
            .target_cmd(VIGIE)
            .args(["watch", "-i", "v1", "-oJ"])
            .arg(&json)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run vigie watch");
        // It says so once its taps are open.
        let mut line = String::new();
        let mut err = BufReader::new(child.stderr.take().expect("stderr"));
        err.read_line(&mut line).expect("read the watcher's stderr");
        assert!(line.contains("watching"), "vigie watch: {line}");
        let log = std::sync::Arc::new(Mutex::new(String::new()));
        let to = std::sync::Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            while err.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                to.lock().unwrap_or_else(|e| e.into_inner()).push_str(&line);
                line.clear();
            }
        });
        Watch {
            child,
            json,
            log,
            reader: Some(reader),
        }
    }

    /// The alerts so far.
    fn alerts(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.json)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Waits up to `within` for an alert that `want` accepts.
    fn wait_for(&self, within: Duration, want: impl Fn(&Value) -> bool) -> Option<Value> {
        let until = Instant::now() + within;
        loop {
            if let Some(a) = self.alerts().into_iter().find(|a| want(a)) {
                return Some(a);
            }
            if Instant::now() > until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The watcher's peak resident memory (VmHWM), in KiB.
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status of vigie watch");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmHWM")
    }

    /// SIGTERM, then the alerts.
    fn stop(mut self) -> Vec<Value> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("wait for vigie watch");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        assert!(status.success(), "vigie watch exited {status}");
        let a = self.alerts();
        let _ = std::fs::remove_file(&self.json);
        a
    }
}

/// Runs `program args` in the scanner namespace to its end (at most 150 s;
/// masscan sometimes waits on after its `--wait`: given 15 s, then SIGINT).
fn scan(lab: &SweepLab, program: &str, args: &[&str]) {
    let limit = if program == "masscan" { "15" } else { "150" };
    let out = lab
        .scanner_cmd("timeout")
        .args(["-s", "INT", "-k", "3", limit, program])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let stopped = program == "masscan" && matches!(out.status.code(), Some(124) | Some(137) | None);
    assert!(
        out.status.success() || stopped,
        "{program} {args:?}: {} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What one attack must give.
struct Case {
    name: &'static str,
    program: &'static str,
    args: Vec<String>,
    /// Acceptable kinds (a ping sweep's first alert may be its ICMP or its
    /// TCP part).
    kinds: &'static [&'static str],
    src: &'static str,
    tool: Option<&'static str>,
    family: &'static str,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn nmap(name: &'static str, args: &str, kinds: &'static [&'static str], v6: bool) -> Case {
    let target = if v6 { TARGET_V6 } else { TARGET_V4 };
    let mut a = words(args);
    a.extend(words("-n -Pn -T4 --max-retries 0"));
    if v6 {
        a.push("-6".into());
    }
    a.push(target.into());
    Case {
        name,
        program: "nmap",
        args: a,
        kinds,
        src: if v6 { SCANNER_V6 } else { SCANNER_V4 },
        tool: Some("nmap"),
        family: if v6 { "ipv6" } else { "ipv4" },
    }
}

/// Every alert's `probes`, for the median.
fn check(case: &Case, alerts: &[Value], probes: &mut Vec<u64>) -> Result<(), String> {
    let hit = alerts.iter().find(|a| {
        case.kinds.contains(&a["kind"].as_str().unwrap_or_default())
            && (a["src"] == case.src
                || a["group"]
                    .as_array()
                    .is_some_and(|g| g.iter().any(|s| s == case.src)))
    });
    let Some(a) = hit else {
        return Err(format!(
            "{}: no {:?} alert from {} in {alerts:?}",
            case.name, case.kinds, case.src
        ));
    };
    let tool = a["tool"].as_str();
    if tool != case.tool {
        return Err(format!(
            "{}: tool {tool:?}, want {:?}: {a}",
            case.name, case.tool
        ));
    }
    if a["family"] != case.family {
        return Err(format!("{}: family {}: {a}", case.name, a["family"]));
    }
    if case.name.ends_with(" -D") {
        if a["group_kind"] != "decoys" {
            return Err(format!("{}: not a decoy group: {a}", case.name));
        }
        let group: Vec<&str> = a["group"]
            .as_array()
            .map(|g| g.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for s in ["198.18.0.50", "198.18.0.51", SCANNER_V4] {
            if !group.contains(&s) {
                return Err(format!("{}: group {group:?} lacks {s}: {a}", case.name));
            }
        }
    }
    let p = a["probes"].as_u64().unwrap_or(u64::MAX);
    if p > 10 {
        return Err(format!("{}: alerted after {p} probes: {a}", case.name));
    }
    probes.push(p);
    eprintln!(
        "{:<28} {:<14} tool {:<8} after {p} probes",
        case.name,
        a["kind"].as_str().unwrap_or("?"),
        tool.unwrap_or("-")
    );
    Ok(())
}

fn run_cases(lab: &SweepLab, cases: &[Case], probes: &mut Vec<u64>) -> Vec<String> {
    let mut failed = Vec::new();
    for c in cases {
        let w = Watch::start(lab, &[]);
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        scan(lab, c.program, &args);
        // Alerts are flushed at once; give the last frames a moment.
        let _ = w.wait_for(Duration::from_secs(2), |a| {
            c.kinds.contains(&a["kind"].as_str().unwrap_or_default())
        });
        let alerts = w.stop();
        if let Err(e) = check(c, &alerts, probes) {
            failed.push(e);
        }
    }
    failed
}

#[test]
fn every_scan_is_reported_with_kind_source_and_tool() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = SweepLab::new().unwrap_or_else(|e| panic!("{e:#}"));
    let mac = lab.target_mac().expect("target MAC");
    let mac = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let p = "-p 1-200";
    let mut cases = vec![
        nmap("nmap -sS", &format!("-sS {p}"), &["syn"], false),
        nmap("nmap -sF", &format!("-sF {p}"), &["fin"], false),
        nmap("nmap -sN", &format!("-sN {p}"), &["null"], false),
        nmap("nmap -sX", &format!("-sX {p}"), &["xmas"], false),
        nmap("nmap -sA", &format!("-sA {p}"), &["ack"], false),
        nmap("nmap -sW", &format!("-sW {p}"), &["ack"], false),
        nmap("nmap -sM", &format!("-sM {p}"), &["maimon"], false),
        nmap(
            "nmap --scanflags PSH",
            &format!("--scanflags PSH {p}"),
            &["other_flags"],
            false,
        ),
        nmap("nmap -sU", "-sU -p 1-100", &["udp"], false),
        nmap("nmap -6 -sS", &format!("-sS {p}"), &["syn"], true),
        nmap("nmap -6 -sF", &format!("-sF {p}"), &["fin"], true),
        nmap("nmap -6 -sU", "-sU -p 1-100", &["udp"], true),
        nmap("nmap -6 -sN", &format!("-sN {p}"), &["null"], true),
        nmap("nmap -6 -sX", &format!("-sX {p}"), &["xmas"], true),
        nmap("nmap -6 -sA", &format!("-sA {p}"), &["ack"], true),
        nmap("nmap -6 -sW", &format!("-sW {p}"), &["ack"], true),
        nmap("nmap -6 -sM", &format!("-sM {p}"), &["maimon"], true),
        nmap(
            "nmap -6 --scanflags PSH",
            &format!("--scanflags PSH {p}"),
            &["other_flags"],
            true,
        ),
        nmap(
            "nmap slow --scan-delay 1s",
            "-sS --scan-delay 1s -p 1-12",
            &["syn"],
            false,
        ),
        nmap("nmap -f", &format!("-sS -f {p}"), &["syn"], false),
    ];
    // -T1: 15 s between probes (six ports, about 90 s).
    cases.push(Case {
        name: "nmap -T1",
        args: words(&format!(
            "-sS -p 1-6 -n -Pn -T1 --max-retries 0 {TARGET_V4}"
        )),
        ..nmap("", "", &["syn"], false)
    });
    // Every port of 198.18.0.3 is dropped by the target's firewall (the tap
    // reads before it).
    cases.push(Case {
        name: "nmap dropped ports",
        args: words("-sS -p 1-200 -n -Pn -T4 --max-retries 0 198.18.0.3"),
        ..nmap("", "", &["syn"], false)
    });
    // Decoys: one group naming the scanner and both decoys.
    cases.push(Case {
        args: words(&format!(
            "-sS {p} -n -Pn -T4 --max-retries 0 -D 198.18.0.50,198.18.0.51,ME {TARGET_V4}"
        )),
        ..nmap("nmap -D", "", &["syn"], false)
    });
    // The connect scan: the OS stack, no tool claimed.
    cases.push(Case {
        tool: None,
        ..nmap("nmap -sT", &format!("-sT {p}"), &["connect"], false)
    });
    cases.push(Case {
        tool: None,
        ..nmap("nmap -6 -sT", &format!("-sT {p}"), &["connect"], true)
    });
    // Neighbour discovery across the on-link /120: no tool is claimed.
    cases.push(Case {
        name: "nmap -6 -sn (ND)",
        args: words("-6 -sn -n fd00:18::/120"),
        kinds: &["nd_sweep"],
        tool: None,
        ..nmap("", "", &[], true)
    });
    // Sweeps of the routed /16 (ICMP echo + SYN 443 + ACK 80 + timestamp).
    cases.push(Case {
        name: "nmap -sn sweep",
        args: words("-sn -n -T4 --max-retries 0 198.19.0.0/26"),
        kinds: &["icmp_sweep", "tcp_ping_sweep"],
        ..nmap("", "", &[], false)
    });
    // ARP: no tool is claimed.
    cases.push(Case {
        name: "nmap -sn -PR",
        args: words("-sn -PR -n 198.18.0.0/24"),
        kinds: &["arp_sweep"],
        tool: None,
        ..nmap("", "", &[], false)
    });
    cases.push(Case {
        name: "masscan",
        program: "masscan",
        args: words(&format!(
            "-p1-200 --rate 2000 --wait 1 --interface v0 --router-mac {mac} {TARGET_V4}"
        )),
        kinds: &["syn"],
        src: SCANNER_V4,
        tool: Some("masscan"),
        family: "ipv4",
    });
    cases.push(Case {
        name: "zmap",
        program: "zmap",
        args: words(&format!(
            "-q -p 80 -i v0 -G {mac} -b /dev/null -c 1 -o /dev/null -r 2000 198.19.0.0/24"
        )),
        kinds: &["syn"],
        src: SCANNER_V4,
        tool: Some("zmap"),
        family: "ipv4",
    });
    cases.push(Case {
        name: "vigie -sS",
        program: VIGIE,
        args: words(&format!("-sS {p} -n -Pn {TARGET_V4}")),
        kinds: &["syn"],
        src: SCANNER_V4,
        tool: Some("vigie"),
        family: "ipv4",
    });
    // vigie's own evasions: its fragments read as the SYN scan they carry,
    // its decoys as one group.
    cases.push(Case {
        name: "vigie -f",
        program: VIGIE,
        args: words(&format!("-sS {p} -n -Pn -f --no-history {TARGET_V4}")),
        kinds: &["syn"],
        src: SCANNER_V4,
        tool: Some("vigie"),
        family: "ipv4",
    });
    cases.push(Case {
        name: "vigie -D",
        program: VIGIE,
        args: words(&format!(
            "-sS {p} -n -Pn -D 198.18.0.50,198.18.0.51,ME --no-history {TARGET_V4}"
        )),
        kinds: &["syn"],
        src: SCANNER_V4,
        tool: Some("vigie"),
        family: "ipv4",
    });
    let mut probes = Vec::new();
    let failed = run_cases(&lab, &cases, &mut probes);
    probes.sort_unstable();
    let median = probes.get(probes.len() / 2).copied().unwrap_or(u64::MAX);
    eprintln!(
        "probes to alert over {} scans: median {median}, max {:?}",
        probes.len(),
        probes.last()
    );
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(median <= 5, "median {median} probes to alert");
}

/// Benign traffic for a while: no alert.
#[test]
fn benign_traffic_raises_no_alert() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = SweepLab::new().unwrap_or_else(|e| panic!("{e:#}"));
    // Listeners of the test's own in the target namespace: a web server
    // and two monitored ports.
    let w = Watch::start(&lab, &[]);
    let server = lab
        .target_cmd("python3")
        .args([
            "-c",
            "import socket,threading\n\
             def serve(p):\n\
             \x20 s=socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)\n\
             \x20 s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('::', p)); s.listen(64)\n\
             \x20 while True:\n\
             \x20   c,_=s.accept(); c.recv(100); c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\nok'); c.close()\n\
             for p in (8000, 8001, 8002):\n\
             \x20 threading.Thread(target=serve, args=(p,), daemon=True).start()\n\
             threading.Event().wait()\n",
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("python3");
    std::thread::sleep(Duration::from_millis(500));
    let client = "import socket,time\n\
         for i in range(12):\n\
         \x20 for p in (8000, 8001, 8002):\n\
         \x20   s=socket.create_connection((HOST, p)); s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); s.recv(100); s.close()\n\
         \x20 time.sleep(0.5)\n";
    // A monitor checking three open ports twice a second, over IPv4 and IPv6.
    for host in [TARGET_V4, TARGET_V6] {
        scan(
            &lab,
            "python3",
            &["-c", &client.replace("HOST", &format!("'{host}'"))],
        );
    }
    // Retries to one closed port.
    scan(
        &lab,
        "python3",
        &[
            "-c",
            &format!(
                "import socket\n\
                 for i in range(20):\n\
                 \x20 try: socket.create_connection(('{TARGET_V4}', 9), timeout=1)\n\
                 \x20 except OSError: pass\n"
            ),
        ],
    );
    // DNS-like and NTP-like datagrams to one port.
    scan(
        &lab,
        "python3",
        &[
            "-c",
            &format!(
                "import socket\n\
                 s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                 for i in range(20): s.sendto(b'\\x12\\x34\\x01\\x00\\x00\\x01', ('{TARGET_V4}', 53))\n"
            ),
        ],
    );
    std::thread::sleep(Duration::from_secs(1));
    let alerts = w.stop();
    let mut server = server;
    let _ = server.kill();
    let _ = server.wait();
    assert!(alerts.is_empty(), "benign traffic raised {alerts:?}");
}

/// `--block`: a connect scanner is blocked (its later connections fail); a
/// spoofed source (hping3 -a) and an allowed one never; the table is gone
/// after exit.
#[test]
fn block_only_real_and_unallowed_sources() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = SweepLab::new().unwrap_or_else(|e| panic!("{e:#}"));
    let nft = |lab: &SweepLab| {
        let out = lab
            .target_cmd("nft")
            .args(["list", "ruleset"])
            .output()
            .expect("nft (.ci/run installs nftables)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A spoofed SYN scan from 198.18.0.77 (the scanner's own packets with
    // another source): an alert, no block.
    let w = Watch::start(&lab, &["--block", "--block-for", "5m"]);
    scan(
        &lab,
        "hping3",
        &[
            "-q",
            "-S",
            "-a",
            "198.18.0.77",
            "--scan",
            "1-100",
            "-i",
            "u2000",
            TARGET_V4,
        ],
    );
    let spoofed = w.wait_for(Duration::from_secs(3), |a| a["src"] == "198.18.0.77");
    assert!(spoofed.is_some(), "no alert for the spoofed scan");
    assert!(
        !nft(&lab).contains("198.18.0.77"),
        "a spoofed source was blocked"
    );
    // A connect scan from the scanner: blocked.
    scan(
        &lab,
        "nmap",
        &["-sT", "-p", "1-200,443", "-n", "-Pn", "-T4", TARGET_V4],
    );
    let until = Instant::now() + Duration::from_secs(3);
    while !nft(&lab).contains(SCANNER_V4) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    let rules = nft(&lab);
    assert!(
        rules.contains(SCANNER_V4),
        "the connect scanner is not blocked: {rules}"
    );
    // Blocked means dropped: a connection from it now fails.
    let out = lab
        .scanner_cmd("python3")
        .args([
            "-c",
            &format!(
                "import socket,sys\n\
                 try: socket.create_connection(('{TARGET_V4}', 443), timeout=2); sys.exit(1)\n\
                 except OSError: sys.exit(0)\n"
            ),
        ])
        .status()
        .expect("python3");
    assert!(out.success(), "the blocked scanner still connects");
    let alerts = w.stop();
    assert!(alerts.iter().any(|a| a["kind"] == "connect"));
    assert!(!nft(&lab).contains("vigie"), "table left behind");

    // --allow: the same connect scan, never blocked.
    let w = Watch::start(&lab, &["--block", "--allow", "198.18.0.0/29"]);
    scan(
        &lab,
        "nmap",
        &["-sT", "-p", "1-200,443", "-n", "-Pn", "-T4", TARGET_V4],
    );
    let a = w.wait_for(Duration::from_secs(3), |a| a["kind"] == "connect");
    assert!(a.is_some(), "no alert for the allowed connect scan");
    assert!(
        !nft(&lab).contains(SCANNER_V4),
        "an allowed source was blocked"
    );
    w.stop();
    assert!(!nft(&lab).contains("vigie"), "table left behind");
}

/// A random-source SYN flood (hping3 --rand-source, tens of thousands of
/// sources) while a real scan runs: the watcher's peak memory stays under
/// 64 MB and the scan is still reported; the flood's sources raise no alert.
#[test]
fn flood_holds_memory_and_the_scan_is_still_reported() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = SweepLab::new().unwrap_or_else(|e| panic!("{e:#}"));
    let w = Watch::start(&lab, &[]);
    let mut flood = lab
        .scanner_cmd("hping3")
        .args([
            "-q",
            "-S",
            "--flood",
            "--rand-source",
            "-p",
            "80",
            TARGET_V4,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("hping3");
    std::thread::sleep(Duration::from_secs(3));
    scan(
        &lab,
        "nmap",
        &["-sS", "-p", "1-200", "-n", "-Pn", "-T4", TARGET_V4],
    );
    std::thread::sleep(Duration::from_secs(2));
    let _ = Command::new("kill")
        .args(["-INT", &flood.id().to_string()])
        .status();
    let _ = flood.wait();
    let peak = w.peak_kib();
    let log = std::sync::Arc::clone(&w.log);
    let alerts = w.stop();
    let log = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // "stopped after 5.1 s: 812345 frames, ..."
    let frames: u64 = log
        .split_whitespace()
        .zip(log.split_whitespace().skip(1))
        .find_map(|(n, w)| (w == "frames,").then(|| n.parse().ok()).flatten())
        .unwrap_or_else(|| panic!("no frame count in {log}"));
    assert!(frames > 20_000, "the flood was only {frames} frames: {log}");
    eprintln!(
        "flood: {frames} frames; vigie watch peak RSS {:.1} MB; alerts {:?}",
        peak as f64 / 1024.0,
        alerts
            .iter()
            .map(|a| format!("{} {}", a["src"], a["kind"]))
            .collect::<Vec<_>>()
    );
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
    assert!(
        alerts
            .iter()
            .any(|a| a["src"] == SCANNER_V4 && a["kind"] == "syn" && a["tool"] == "nmap"),
        "the scan during the flood was not reported: {alerts:?}"
    );
    // hping3's forged sources send one SYN each: none is a scan.
    let others: Vec<&Value> = alerts.iter().filter(|a| a["src"] != SCANNER_V4).collect();
    assert!(others.is_empty(), "flood sources alerted: {others:?}");
}

/// `--syslog`: one message per alert (facility daemon, level warning, the
/// human line), on the socket named (the test's own instead of /dev/log);
/// `-oJ -`: the JSON object on stdout beside the human line.
#[test]
fn syslog_and_json_on_stdout() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = SweepLab::new().unwrap_or_else(|e| panic!("{e:#}"));
    let sock = std::env::temp_dir().join(format!("vigie-syslog-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let log = std::os::unix::net::UnixDatagram::bind(&sock).expect("bind a syslog socket");
    log.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut child = lab
        .target_cmd(VIGIE)
        .args(["watch", "-i", "v1", "-oJ", "-", "--syslog", "--syslog-to"])
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigie watch");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    err.read_line(&mut line).expect("stderr");
    assert!(line.contains("watching"), "{line}");
    scan(
        &lab,
        "nmap",
        &["-sF", "-p", "1-50", "-n", "-Pn", "-T4", TARGET_V4],
    );
    let mut buf = [0u8; 2048];
    let n = log.recv(&mut buf).expect("a syslog message");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().expect("wait");
    let _ = std::fs::remove_file(&sock);
    assert!(out.status.success());
    assert!(
        msg.starts_with("<28>vigie[") && msg.contains("198.18.0.1") && msg.contains("FIN scan"),
        "{msg}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let human = stdout
        .lines()
        .find(|l| l.contains("FIN scan"))
        .expect("the human line");
    assert!(msg.ends_with(human), "syslog {msg:?} vs stdout {human:?}");
    let json: Value = stdout
        .lines()
        .find(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .expect("a JSON line on stdout");
    assert_eq!(json["kind"], "fin");
    assert_eq!(json["src"], SCANNER_V4);
    assert_eq!(json["event_type"], "alert");
}
