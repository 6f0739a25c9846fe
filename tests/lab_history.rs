//! The history store in the lab, each test on both back-ends: the default
//! SQLite file and a real PostgreSQL server the test starts (Debian's
//! postgresql, on a Unix socket: it reaches the scanner's namespace through
//! the file system).
//!
//! - `kill -9` in the middle of a sweep: the earlier scan reads back exactly
//!   as before, the killed one is marked interrupted by the next reader and
//!   every host it had written is a true one.
//! - Two sweeps writing at once: both land whole, each equal to its own
//!   `-oJ` and to the lab's ground truth.
//! - `vigie diff` with no argument, after a port was opened and another
//!   filtered between two scans: exactly those two ports, exit 1.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use vigie_lab::pg::Postgres;
use vigie_lab::sweep::SweepLab;
use vigie_lab::{Lab, Layout};

fn pg() -> &'static Postgres {
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(|| Postgres::start(&std::env::temp_dir()).expect("start PostgreSQL"))
}

/// One SQLite file and one PostgreSQL database, both new: (label, URL).
fn stores(name: &str) -> Vec<(&'static str, String)> {
    let dir = scratch(&format!("history-{name}"));
    let file = dir.join("history.db");
    let _ = std::fs::remove_file(&file);
    pg().create_db(name).expect("createdb");
    vec![
        ("sqlite", format!("sqlite:{}", file.display())),
        ("postgres", pg().url(name)),
    ]
}

fn out_ok(what: &str, out: &Output) -> String {
    check_output(what, out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// vigie on this machine (not in a lab namespace): history, show, diff.
fn vigie(args: &[&str]) -> Output {
    Command::new(VIGIE)
        .args(args)
        .env_remove("VIGIE_DB")
        .stdin(Stdio::null())
        .output()
        .expect("run vigie")
}

/// `vigie history --db URL`, as (id, status, hosts up) per scan.
fn listed(url: &str) -> Vec<(i64, String, u64)> {
    let text = out_ok("vigie history", &vigie(&["history", "--db", url]));
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // ID DATE TIME STATUS TECHNIQUE UP OPEN TARGETS...
            (
                f[0].parse().unwrap(),
                f[3].to_owned(),
                f[5].parse().unwrap(),
            )
        })
        .collect()
}

fn show_json(url: &str, id: i64) -> String {
    out_ok(
        "vigie history show",
        &vigie(&["history", "--db", url, "show", &id.to_string(), "-oJ", "-"]),
    )
}

/// (state, reason) of every port, per host, from JSON Lines.
fn hosts_of(text: &str) -> BTreeMap<IpAddr, Vec<(u16, String, String)>> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        if v["type"] != "host" || v["status"] != "up" {
            continue;
        }
        let addr: IpAddr = v["addr"].as_str().unwrap().parse().unwrap();
        let ports = v["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["port"].as_u64().unwrap() as u16,
                    p["state"].as_str().unwrap().to_owned(),
                    p["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(out.insert(addr, ports).is_none(), "{addr} twice");
    }
    out
}

/// The truth of a `-p 443` sweep: the up hosts of `net` (a /24 of the
/// sweep range) and the state of 443 on each.
fn truth_443(lab: &SweepLab, net: [u8; 3]) -> BTreeMap<IpAddr, Vec<(u16, String, String)>> {
    use vigie_lab::sweep::SweepClass;
    let mut out = BTreeMap::new();
    for last in 0..=255u8 {
        let a = IpAddr::from([net[0], net[1], net[2], last]);
        let (state, reason) = match lab.truth(a) {
            SweepClass::Down => continue,
            // The target's listener on 443 answers for the whole /16.
            SweepClass::Syn443 | SweepClass::Open => ("open", "syn-ack"),
            // Only echo or ACK to 80 passes: a SYN to 443 is dropped.
            SweepClass::Echo | SweepClass::Ack80 => ("filtered", "no-response"),
        };
        out.insert(a, vec![(443, state.to_owned(), reason.to_owned())]);
    }
    out
}

#[test]
fn kill_9_keeps_the_earlier_scans() {
    let lab = SweepLab::new().unwrap_or_else(|e| panic!("{e:#}"));
    for (label, url) in stores("kill") {
        // An earlier, complete scan.
        let first = out_ok(
            "first scan",
            &lab.scanner_cmd(VIGIE)
                .args([
                    "-sS",
                    "-n",
                    "-p",
                    "443",
                    "--db",
                    &url,
                    "-oJ",
                    "-",
                    "198.19.0.0/24",
                ])
                .output()
                .unwrap(),
        );
        assert_eq!(hosts_of(&first), truth_443(&lab, [198, 19, 0]), "{label}");
        let before = show_json(&url, 1);
        assert!(before == first, "{label}: stored scan differs from its -oJ");
        // A long sweep in small host blocks, killed once it has written some.
        let mut child = lab
            .scanner_cmd(VIGIE)
            .args([
                "-sS",
                "-n",
                "-p",
                "443",
                "--max-rate",
                "20000",
                "--block-probes",
                "2048",
                "--db",
                &url,
                "198.19.0.0/16",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let written = loop {
            let l = listed(&url);
            if let Some((_, st, up)) = l.iter().find(|(id, _, _)| *id == 2) {
                assert_eq!(st, "running", "{label}");
                if *up > 0 {
                    break *up;
                }
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "{label}: the sweep ended before it was killed"
            );
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{label}: nothing written"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let l = listed(&url);
        assert_eq!(l.len(), 2, "{label}: {l:?}");
        let up_first = truth_443(&lab, [198, 19, 0]).len() as u64;
        assert_eq!(l[1], (1, "complete".into(), up_first), "{label}: {l:?}");
        assert_eq!(l[0].0, 2);
        assert_eq!(
            l[0].1, "interrupted",
            "{label}: the killed scan is not marked"
        );
        assert!(l[0].2 >= written, "{label}: {l:?}");
        assert_eq!(
            show_json(&url, 1),
            before,
            "{label}: the earlier scan changed"
        );
        // Every host the killed scan wrote is a true one, whole.
        let partial = hosts_of(&show_json(&url, 2));
        assert_eq!(partial.len() as u64, l[0].2);
        for (addr, ports) in &partial {
            let IpAddr::V4(v4) = addr else {
                panic!("{addr}")
            };
            let o = v4.octets();
            let truth = truth_443(&lab, [o[0], o[1], o[2]]);
            assert_eq!(Some(ports), truth.get(addr), "{label}: {addr}");
        }
        eprintln!(
            "{label}: killed after {:?} with {} hosts written; the earlier scan intact",
            started.elapsed(),
            partial.len()
        );
    }
}

/// With `-n`, a host whose probes are all final while its block still
/// waits for others' replies goes to the store then (`-d` counts them):
/// 198.19.1.0/24 is 128 silent addresses (443 filtered after the retries)
/// and 128 that answer 443 at once. Only answered hosts can be given
/// early, some are, and what is stored is exactly what -oJ wrote, in order.
#[test]
fn hosts_final_before_their_block_ends_are_stored_as_written() {
    let lab = SweepLab::new().unwrap_or_else(|e| panic!("{e:#}"));
    for (label, url) in stores("early") {
        let scan = lab
            .scanner_cmd(VIGIE)
            .args([
                "-sS", "-Pn", "-n", "-d", "-p", "443", "--db", &url, "-oJ", "-",
            ])
            .arg("198.19.1.0/24")
            .output()
            .unwrap();
        let out = out_ok("scan", &scan);
        let hosts = hosts_of(&out);
        assert_eq!(hosts.len(), 256, "{label}");
        let open = hosts.values().filter(|p| p[0].1 == "open").count();
        assert_eq!(open, 128, "{label}");
        let err = String::from_utf8_lossy(&scan.stderr);
        let early: u64 = err
            .lines()
            .find_map(|l| {
                let (head, _) = l.split_once(" hosts given early")?;
                head.rsplit(' ').next()?.parse().ok()
            })
            .unwrap_or_else(|| panic!("{label}: no -d line on early hosts: {err}"));
        assert!(
            early > 0 && early <= 128,
            "{label}: {early} hosts given early"
        );
        let id = listed(&url)[0].0;
        assert!(
            show_json(&url, id) == out,
            "{label}: stored scan differs from its -oJ"
        );
    }
}

#[test]
fn two_scans_writing_at_once_both_land() {
    let lab = SweepLab::new().unwrap_or_else(|e| panic!("{e:#}"));
    for (label, url) in stores("concurrent") {
        let dir = scratch(&format!("concurrent-{label}"));
        let nets = ["198.19.4.0/24", "198.19.5.0/24", "198.19.6.0/24"];
        let files: Vec<PathBuf> = (0..nets.len())
            .map(|i| dir.join(format!("{i}.jsonl")))
            .collect();
        let children: Vec<_> = nets
            .iter()
            .zip(&files)
            .map(|(net, f)| {
                lab.scanner_cmd(VIGIE)
                    .args(["-sS", "-n", "-p", "443", "--db", &url, "-oJ"])
                    .arg(f)
                    .arg(net)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "{label}: {out:?}");
        }
        let l = listed(&url);
        assert_eq!(l.len(), nets.len(), "{label}: {l:?}");
        let mut seen = Vec::new();
        for (id, status, _) in &l {
            assert_eq!(status, "complete", "{label}: {l:?}");
            let stored = show_json(&url, *id);
            // Which scan is it: its run line names its targets.
            let i = nets
                .iter()
                .position(|n| stored.lines().next().unwrap().contains(n))
                .unwrap();
            seen.push(i);
            let own = std::fs::read_to_string(&files[i]).unwrap();
            assert!(stored == own, "{label}: scan {id} differs from its -oJ");
            let third: u8 = nets[i].split('.').nth(2).unwrap().parse().unwrap();
            assert_eq!(
                hosts_of(&stored),
                truth_443(&lab, [198, 19, third]),
                "{label}"
            );
        }
        seen.sort();
        assert_eq!(seen, [0, 1, 2], "{label}");
    }
}

/// Two scans of the standard lab; between them a listener opens 5555 and a
/// DROP rule filters 80. `vigie diff` (the last two scans of the same
/// targets) names those two ports and no other, and exits 1; the newer scan
/// against itself exits 0.
#[test]
fn diff_of_the_last_two_scans() {
    let lab = Lab::new(&Layout::standard()).unwrap_or_else(|e| panic!("{e:#}"));
    let target = lab.target_v4().to_string();
    let urls = stores("diff");
    let scan = |url: &str| {
        out_ok(
            "scan",
            &lab.scanner_cmd(VIGIE)
                .args(["-sS", "-Pn", "-n", "-p", "1-10000", "--db", url, &target])
                .output()
                .unwrap(),
        )
    };
    for (_, url) in &urls {
        scan(url);
    }
    let ns = lab.target_ns().to_owned();
    let listener = vigie_lab::in_netns(&ns, || std::net::TcpListener::bind(("0.0.0.0", 5555)))
        .unwrap()
        .unwrap();
    check_output(
        "iptables",
        &lab.target_cmd("iptables")
            .args([
                "-I", "INPUT", "1", "-p", "tcp", "--dport", "80", "-j", "DROP",
            ])
            .output()
            .unwrap(),
    );
    for (_, url) in &urls {
        scan(url);
    }
    drop(listener);
    for (label, url) in &urls {
        // The first scan, read back from the store, is exact.
        let first = json_states(&show_json(url, 1), &target);
        assert_exact(&lab, lab_technique("-sS"), false, &first, 1..=10000);
        let out = vigie(&["diff", "--db", url, "-oJ", "-"]);
        assert_eq!(out.status.code(), Some(1), "{label}: {out:?}");
        let mut changed: Vec<(u16, String, String)> = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["type"] == "port" {
                changed.push((
                    v["port"].as_u64().unwrap() as u16,
                    v["before"]["state"].as_str().unwrap_or("").to_owned(),
                    v["after"]["state"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
        changed.sort();
        assert_eq!(
            changed,
            vec![
                (80, "open".into(), "filtered".into()),
                (5555, "closed".into(), "open".into())
            ],
            "{label}"
        );
        // The text names the same two.
        let text = vigie(&["diff", "--db", url]);
        assert_eq!(text.status.code(), Some(1));
        let t = String::from_utf8_lossy(&text.stdout);
        assert!(
            t.contains("80/tcp") && t.contains("5555/tcp"),
            "{label}: {t}"
        );
        // A scan against itself.
        let same = vigie(&["diff", "--db", url, "2", "2"]);
        assert_eq!(same.status.code(), Some(0), "{label}: {same:?}");
    }
}
