//! Lab tests of the progress display: `--stats-every` lines on stderr
//! (well-formed, monotonic, ending at 100% with the exact number of open
//! ports), silence on a piped stderr without it, and the bar on a
//! pseudo-terminal (`script` from util-linux) leaving the report intact.
//! The ports found are checked against the lab's layout every time.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;
use vigie_lab::{Lab, LabTechnique, Layout};

/// One `Stats:` line, read back field by field.
#[derive(Debug)]
struct Stats {
    phase: String,
    percent: String,
    done: u64,
    total: u64,
    sent: u64,
    found: u64,
    found_word: String,
    remaining: Option<String>,
}

fn is_hms(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts[1].len() == 2
        && parts[2].len() == 2
}

/// Parse `Stats: 0:00:01 elapsed; SYN Stealth Scan: 42.09% done (27589/65535
/// probes), 812345 sent, 150000 pps, 7 open; ETC: 07:55:01 (0:00:06
/// remaining)` (or `ETC: unknown`); panics on anything else.
fn parse_stats(line: &str) -> Stats {
    let bad = |why: &str| -> ! { panic!("malformed stats line ({why}): {line:?}") };
    let rest = line
        .strip_prefix("Stats: ")
        .unwrap_or_else(|| bad("prefix"));
    let (elapsed, rest) = rest
        .split_once(" elapsed; ")
        .unwrap_or_else(|| bad("elapsed"));
    if !is_hms(elapsed) {
        bad("elapsed h:mm:ss");
    }
    let (phase, rest) = rest.split_once(": ").unwrap_or_else(|| bad("phase"));
    let (percent, rest) = rest
        .split_once("% done (")
        .unwrap_or_else(|| bad("percent"));
    let (done, rest) = rest.split_once('/').unwrap_or_else(|| bad("done"));
    let (total, rest) = rest
        .split_once(" probes), ")
        .unwrap_or_else(|| bad("total"));
    let (sent, rest) = rest.split_once(" sent, ").unwrap_or_else(|| bad("sent"));
    let (pps, rest) = rest.split_once(" pps, ").unwrap_or_else(|| bad("pps"));
    let (found, rest) = rest.split_once(' ').unwrap_or_else(|| bad("found"));
    let (found_word, etc) = rest.split_once("; ETC: ").unwrap_or_else(|| bad("ETC"));
    let num = |s: &str| -> u64 { s.parse().unwrap_or_else(|_| bad("number")) };
    let _: u64 = num(pps);
    let remaining = if etc == "unknown" {
        None
    } else {
        let (at, left) = etc.split_once(" (").unwrap_or_else(|| bad("ETC time"));
        let left = left
            .strip_suffix(" remaining)")
            .unwrap_or_else(|| bad("remaining"));
        if !is_hms(at) || at.len() != 8 || !is_hms(left) {
            bad("ETC h:mm:ss");
        }
        Some(left.to_owned())
    };
    let s = Stats {
        phase: phase.to_owned(),
        percent: percent.to_owned(),
        done: num(done),
        total: num(total),
        sent: num(sent),
        found: num(found),
        found_word: found_word.to_owned(),
        remaining,
    };
    assert!(s.done <= s.total, "done above total: {line:?}");
    // The percentage is done/total rounded down to two decimals.
    let bp = u128::from(s.done) * 10_000 / u128::from(s.total.max(1));
    assert_eq!(
        s.percent,
        format!("{}.{:02}", bp / 100, bp % 100),
        "percentage of {line:?}"
    );
    assert_eq!(s.remaining.is_none(), s.done == 0, "ETC of {line:?}");
    s
}

/// The stats lines of `stderr`, by phase in order of appearance; any other
/// line on stderr fails the test.
fn phases(stderr: &str) -> Vec<(String, Vec<Stats>)> {
    let mut out: Vec<(String, Vec<Stats>)> = Vec::new();
    for line in stderr.lines() {
        let s = parse_stats(line);
        match out.last_mut() {
            Some((p, v)) if *p == s.phase => v.push(s),
            _ => {
                assert!(
                    out.iter().all(|(p, _)| *p != s.phase),
                    "phase {} again after another: {stderr}",
                    s.phase
                );
                out.push((s.phase.clone(), vec![s]));
            }
        }
    }
    out
}

/// Within a phase: counters never go back, the total stays, and the last
/// line is the finished phase.
fn check_phase(name: &str, lines: &[Stats], total: u64, found: u64, found_word: &str) {
    for w in lines.windows(2) {
        assert!(
            w[0].done <= w[1].done && w[0].sent <= w[1].sent && w[0].found <= w[1].found,
            "{name}: counters went back: {w:?}"
        );
    }
    for s in lines {
        assert_eq!(s.total, total, "{name}: total");
        assert_eq!(s.found_word, found_word, "{name}");
    }
    let last = lines.last().expect("at least one line");
    assert_eq!(
        (last.percent.as_str(), last.done, last.found),
        ("100.00", total, found),
        "{name}: last line {last:?}"
    );
    assert_eq!(
        last.remaining.as_deref(),
        Some("0:00:00"),
        "{name}: {last:?}"
    );
    assert!(
        last.sent >= total,
        "{name}: every probe sent once: {last:?}"
    );
}

fn opens(lab: &Lab, t: LabTechnique) -> u64 {
    (1..=65535u16)
        .filter(|&p| lab.layout().expect(t, false, p).0 == "open")
        .count() as u64
}

fn run(lab: &Lab, args: &[&str]) -> Output {
    let target = lab.target_v4().to_string();
    let out = lab
        .scanner_cmd(VIGIE)
        .args(args)
        .args(["-n", "-oJ", "-", &target])
        .stdin(Stdio::null())
        .output()
        .expect("run vigie");
    check_output("vigie", &out);
    out
}

/// `--stats-every 100ms` over a connect scan of every port, with host
/// discovery first: a finished "Ping Scan" phase (1 host up), then at least
/// two lines of the connect scan, monotonic, the last at 65535/65535 with the
/// lab's exact number of open ports; and the ports themselves exact.
#[test]
fn stats_every_connect_all_ports() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let out = run(&lab, &["-sT", "-p-", "--stats-every", "100ms"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let phases = phases(&stderr);
    let names: Vec<&str> = phases.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["Ping Scan", "Connect Scan"], "{stderr}");
    check_phase("Ping Scan", &phases[0].1, 1, 1, "up");
    let connect = &phases[1].1;
    assert!(connect.len() >= 2, "one line every 100 ms: {stderr}");
    check_phase(
        "Connect Scan",
        connect,
        65535,
        opens(&lab, LabTechnique::Connect),
        "open",
    );
    let target = lab.target_v4().to_string();
    let states = json_states(&String::from_utf8_lossy(&out.stdout), &target);
    assert_exact(&lab, LabTechnique::Connect, false, &states, 1..=65535);
}

/// The same for a SYN scan held to 50000 packets per second (about 1.3 s).
#[test]
fn stats_every_syn_all_ports() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let out = run(
        &lab,
        &[
            "-sS",
            "-Pn",
            "-p-",
            "--max-rate",
            "50000",
            "--stats-every",
            "100ms",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let phases = phases(&stderr);
    assert_eq!(phases.len(), 1, "{stderr}");
    assert_eq!(phases[0].0, "SYN Stealth Scan");
    assert!(phases[0].1.len() >= 2, "one line every 100 ms: {stderr}");
    check_phase(
        "SYN Stealth Scan",
        &phases[0].1,
        65535,
        opens(&lab, LabTechnique::Syn),
        "open",
    );
    let target = lab.target_v4().to_string();
    let states = json_states(&String::from_utf8_lossy(&out.stdout), &target);
    assert_exact(&lab, LabTechnique::Syn, false, &states, 1..=65535);
}

/// Without `--stats-every` and with stderr piped: not a byte on stderr.
#[test]
fn piped_stderr_stays_silent() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    for flag in ["-sS", "-sT"] {
        let out = run(&lab, &[flag, "-p-"]);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{flag}");
        let target = lab.target_v4().to_string();
        let states = json_states(&String::from_utf8_lossy(&out.stdout), &target);
        assert_exact(&lab, lab_technique(flag), false, &states, 1..=65535);
    }
}

/// What a terminal shows in the end: escape sequences dropped, each
/// carriage return starting the line over.
fn screen_lines(raw: &str) -> Vec<String> {
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        text.push(c);
    }
    text.split('\n')
        .map(|l| {
            l.rsplit('\r')
                .find(|s| !s.is_empty())
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// On a pseudo-terminal the bar is drawn (its phase name and counts appear),
/// then cleared: the normal report on the terminal is line for line the one
/// written to `-oN`, and the JSON report's ports are exact.
#[test]
fn bar_on_a_terminal_leaves_the_report_intact() {
    vigie_lab::require_root().unwrap();
    if Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (util-linux, installed by .ci/run) is needed for this test");
    }
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let dir = scratch("progress-tty");
    let normal = dir.join("report.nmap");
    let json = dir.join("report.jsonl");
    let target = lab.target_v4().to_string();
    let cmd = format!(
        "{VIGIE} -sS -Pn -n -p- --max-rate 50000 -oN {} -oJ {} {target}",
        normal.display(),
        json.display()
    );
    let out = lab
        .scanner_cmd("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    check_output("script", &out);
    let raw = String::from_utf8_lossy(&out.stdout);
    assert!(
        raw.contains("SYN Stealth Scan [") && raw.contains("/65535"),
        "no bar on the terminal: {raw:?}"
    );
    let screen = screen_lines(&raw);
    let report = std::fs::read_to_string(&normal).unwrap();
    // The file's report, less its own comment lines, shows on the terminal
    // in order and unbroken.
    let want: Vec<&str> = report
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert!(want.len() > 3, "report too short: {report}");
    let mut at = 0;
    for w in &want {
        match screen[at..].iter().position(|l| l.trim_end() == *w) {
            Some(i) => at += i + 1,
            None => panic!("line {w:?} missing or broken on the terminal: {screen:#?}"),
        }
    }
    let states = json_states(&std::fs::read_to_string(&json).unwrap(), &target);
    assert_exact(&lab, LabTechnique::Syn, false, &states, 1..=65535);
}

/// Three phases in one run (discovery, SYN, UDP), the last two ending
/// close together: each one's final line is printed, in order, at 100%;
/// the TCP ports are exact.
#[test]
fn stats_every_prints_each_phase_end() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let target = lab.target_v4().to_string();
    // A period longer than the run: only the phases' final lines.
    let out = lab
        .scanner_cmd(VIGIE)
        .args(["-sS", "-sU", "-p", "T:1-1000,U:53", "--stats-every", "1h"])
        .args(["-n", "-oJ", "-", &target])
        .stdin(Stdio::null())
        .output()
        .expect("run vigie");
    check_output("vigie", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let phases = phases(&stderr);
    let names: Vec<&str> = phases.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        ["Ping Scan", "SYN Stealth Scan", "UDP Scan"],
        "{stderr}"
    );
    assert!(phases.iter().all(|(_, l)| l.len() == 1), "{stderr}");
    check_phase("Ping Scan", &phases[0].1, 1, 1, "up");
    let open_tcp = (1..=1000u16)
        .filter(|&p| lab.layout().expect(LabTechnique::Syn, false, p).0 == "open")
        .count() as u64;
    check_phase("SYN Stealth Scan", &phases[1].1, 1000, open_tcp, "open");
    let udp = &phases[2].1[0];
    assert_eq!(
        (udp.done, udp.total, udp.percent.as_str()),
        (1, 1, "100.00")
    );
    // The TCP half of the report, exact.
    let mut tcp = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "host" {
            let ports = v["ports"].as_array().unwrap().clone();
            let udp_found: Vec<_> = ports.iter().filter(|p| p["proto"] == "udp").collect();
            assert_eq!(udp_found.len(), 1, "port 53/udp reported: {line}");
            assert_eq!(udp.found, u64::from(udp_found[0]["state"] == "open"));
            v["ports"] = ports.into_iter().filter(|p| p["proto"] == "tcp").collect();
        }
        tcp.push_str(&v.to_string());
        tcp.push('\n');
    }
    let states = json_states(&tcp, &target);
    assert_exact(&lab, LabTechnique::Syn, false, &states, 1..=1000);
}
