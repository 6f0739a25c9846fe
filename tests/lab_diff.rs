//! `vigie diff` against ndiff on real scans: the standard lab scanned by
//! vigie (-oX and -oJ) and by nmap (-oX); then one more port opened (a
//! listener on 5555) and one open port filtered (iptables DROP on 8080);
//! scanned again by both. vigie diff must name exactly those two ports, the
//! same ports as ndiff, on vigie's pair and on nmap's; a scan against
//! itself is no change (exit 0, the same empty output as ndiff); -oJ names
//! the same ports; the XML and the JSON Lines of one scan do not differ.

mod common;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use vigie_lab::{Lab, Layout};

const OPENED: u16 = 5555;
const FILTERED: u16 = 8080;
const PORTS: &str = "1-1024,5555,8080";

/// The port numbers of the `-`/`+` port lines of a diff in ndiff's text.
fn port_lines(text: &str) -> BTreeSet<u16> {
    text.lines()
        .filter_map(|l| l.strip_prefix('-').or_else(|| l.strip_prefix('+')))
        .filter_map(|l| l.split_once('/'))
        .filter_map(|(port, _)| port.parse().ok())
        .collect()
}

fn run(cmd: &mut Command, what: &str) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("run {what}: {e}"))
}

fn vigie_diff(args: &[&Path]) -> Output {
    run(Command::new(VIGIE).arg("diff").args(args), "vigie diff")
}

fn ndiff(a: &Path, b: &Path) -> Output {
    run(Command::new("ndiff").arg(a).arg(b), "ndiff")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Scan the lab with vigie (-oX and -oJ) and nmap (-oX) into `dir`.
fn scan(lab: &Lab, dir: &Path, tag: &str) -> (PathBuf, PathBuf, PathBuf) {
    let target = lab.target_v4().to_string();
    let (xml, json, nmap) = (
        dir.join(format!("{tag}.xml")),
        dir.join(format!("{tag}.jsonl")),
        dir.join(format!("n{tag}.xml")),
    );
    let out = run(
        lab.scanner_cmd(VIGIE)
            .args(["-sS", "-n", "-Pn", "-p", PORTS, "-oX"])
            .arg(&xml)
            .arg("-oJ")
            .arg(&json)
            .arg(&target),
        "vigie",
    );
    check_output("vigie", &out);
    let out = run(
        lab.scanner_cmd("nmap")
            .args(["-sS", "-n", "-Pn", "-p", PORTS, "--max-retries", "1", "-oX"])
            .arg(&nmap)
            .arg(&target),
        "nmap",
    );
    check_output("nmap", &out);
    (xml, json, nmap)
}

#[test]
fn diff_names_the_ports_ndiff_names() {
    vigie_lab::require_root().unwrap();
    let layout = Layout::standard();
    assert!(layout.open.contains(&FILTERED) && !layout.open.contains(&OPENED));
    let lab = Lab::new(&layout).expect("build lab");
    let dir = scratch("diff");
    let (a, aj, na) = scan(&lab, &dir, "a");

    // One more port opens; an open one is filtered.
    let listener = vigie_lab::in_netns(lab.target_ns(), || {
        TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, OPENED)))
    })
    .unwrap()
    .expect("listen on the target");
    let out = run(
        lab.target_cmd("iptables").args([
            "-I",
            "INPUT",
            "1",
            "-i",
            lab.target_if(),
            "-p",
            "tcp",
            "--dport",
            &FILTERED.to_string(),
            "-j",
            "DROP",
        ]),
        "iptables",
    );
    check_output("iptables", &out);
    let (b, _, nb) = scan(&lab, &dir, "b");
    drop(listener);

    let want = BTreeSet::from([OPENED, FILTERED]);
    for (x, y) in [(&a, &b), (&na, &nb)] {
        let ours = vigie_diff(&[x, y]);
        let theirs = ndiff(x, y);
        eprintln!(
            "vigie diff {x:?} {y:?}:\n{}\nndiff:\n{}",
            text(&ours),
            text(&theirs)
        );
        assert_eq!(ours.status.code(), Some(1), "{ours:?}");
        assert!(ours.stderr.is_empty(), "{ours:?}");
        assert_eq!(theirs.status.code(), Some(1), "{theirs:?}");
        assert_eq!(port_lines(&text(&ours)), want, "{}", text(&ours));
        assert_eq!(port_lines(&text(&theirs)), want, "{}", text(&theirs));
        // the shape: both banners, the host block, the table's header
        let t = text(&ours);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with('-') && lines[0].contains(" scan initiated "),
            "{t}"
        );
        assert!(
            lines[1].starts_with('+') && lines[1].contains(" scan initiated "),
            "{t}"
        );
        assert_eq!(lines[2], "", "{t}");
        assert!(
            lines[3].starts_with(" 198.18.0.2") && lines[3].ends_with(':'),
            "{t}"
        );
        assert!(lines.iter().any(|l| l.starts_with(" PORT ")), "{t}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("+{OPENED}/tcp")) && l.contains(" open")),
            "{t}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("+{FILTERED}/tcp")) && l.contains(" filtered")),
            "{t}"
        );
    }

    // vigie's -oJ of the diff: the same two ports
    let out = run(
        Command::new(VIGIE)
            .args(["diff", "-oJ", "-"])
            .arg(&a)
            .arg(&b),
        "vigie diff -oJ",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let mut named = BTreeSet::new();
    let mut summary = 0;
    for line in text(&out).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        match v["type"].as_str() {
            Some("port") => {
                named.insert(v["port"].as_u64().unwrap() as u16);
            }
            Some("summary") => {
                summary += 1;
                assert_eq!(v["same"], false, "{line}");
            }
            _ => panic!("unexpected line {line}"),
        }
    }
    assert_eq!((named, summary), (want, 1));

    // the XML is well-formed
    let out = run(
        Command::new(VIGIE)
            .args(["diff", "-oX", "-"])
            .arg(&a)
            .arg(&b),
        "vigie diff -oX",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let mut lint = Command::new("xmllint");
    lint.args(["--noout", "-"])
        .stdin(std::process::Stdio::piped());
    let mut child = lint.spawn().expect("xmllint");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &out.stdout).unwrap();
    assert!(child.wait().unwrap().success(), "{}", text(&out));

    // a scan against itself: nothing, as ndiff prints nothing
    for x in [&a, &na] {
        let ours = vigie_diff(&[x, x]);
        let theirs = ndiff(x, x);
        assert_eq!(ours.status.code(), Some(0), "{ours:?}");
        assert_eq!(theirs.status.code(), Some(0), "{theirs:?}");
        assert_eq!(text(&ours), text(&theirs));
        assert!(ours.stdout.is_empty() && ours.stderr.is_empty(), "{ours:?}");
    }
    // the XML and the JSON Lines of one scan
    let out = vigie_diff(&[&a, &aj]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // vigie's scan and nmap's of the same lab: the same port states
    let out = run(
        Command::new(VIGIE)
            .args(["diff", "-oJ", "-"])
            .arg(&a)
            .arg(&na),
        "vigie diff vigie nmap",
    );
    let state_changes: Vec<String> = text(&out)
        .lines()
        .filter(|l| l.contains("\"type\":\"port\"") && !l.contains("\"change\":\"service\""))
        .map(str::to_owned)
        .collect();
    assert!(state_changes.is_empty(), "{state_changes:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
