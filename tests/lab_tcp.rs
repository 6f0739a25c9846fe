//! Lab tests: vigie against a target whose every port's state is known.
//!
//! Each test builds its own pair of network namespaces (scanner, target)
//! joined by veth; vigie runs inside the scanner namespace, whose only link
//! is the lab. Every one of the 65535 ports is checked against the layout.

mod common;

use std::process::Command;

use common::*;
use vigie_lab::{Lab, LabTechnique, Layout};

fn full_scan(flag: &str, v6: bool) {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let target = if v6 {
        lab.target_v6().to_string()
    } else {
        lab.target_v4().to_string()
    };
    let mut args = vec![flag, "-p-"];
    if v6 {
        args.push("-6");
    }
    let states = vigie_states(&lab, &args, &target);
    assert_exact(&lab, lab_technique(flag), v6, &states, 1..=65535);
}

#[test]
fn syn_all_ports_ipv4() {
    full_scan("-sS", false);
}

#[test]
fn syn_all_ports_ipv6() {
    full_scan("-sS", true);
}

#[test]
fn connect_all_ports_ipv4() {
    full_scan("-sT", false);
}

#[test]
fn connect_all_ports_ipv6() {
    full_scan("-sT", true);
}

/// nmap on the same lab: no port may differ. Also checks the XML against
/// nmap's DTD, `ndiff` between the two XML files, and `-oJ` through `jq`.
fn differential(flag: &str, v6: bool) {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let target = if v6 {
        lab.target_v6().to_string()
    } else {
        lab.target_v4().to_string()
    };
    let dir = scratch(&format!("diff{flag}{}", if v6 { "6" } else { "4" }));
    let nmap_xml = dir.join("nmap.xml");
    let vigie_xml = dir.join("vigie.xml");
    let vigie_json = dir.join("vigie.jsonl");
    let fam: &[&str] = if v6 { &["-6"] } else { &[] };
    // Over IPv6 on a veth, the ICMPv6 error for a connect() arrives while the
    // connecting call holds the socket lock; the kernel keeps it as a soft
    // error and connect() fails only at its SYN retransmission, 1 s later.
    // nmap -T4's adaptive timeout (~100 ms here) sometimes gives up first and
    // then calls a port-unreachable port "filtered" instead of "closed"; give
    // it the time the kernel needs, as vigie's connect driver does.
    let patience: &[&str] = if v6 && flag == "-sT" {
        &["--min-rtt-timeout", "1100ms"]
    } else {
        &[]
    };

    let out = lab
        .scanner_cmd("nmap")
        .args([flag, "-p-", "-n", "-Pn", "-T4"])
        .args(fam)
        .args(patience)
        .arg("-oX")
        .arg(&nmap_xml)
        .arg(&target)
        .output()
        .expect("run nmap (installed by .ci/run)");
    check_output("nmap", &out);
    // ndiff compares service names too: name nmap's table, as a
    // differential run may (vigie never reads it on its own).
    let out = lab
        .scanner_cmd(VIGIE)
        .args([flag, "-p-", "-n"])
        .args(["--servicedb", "/usr/share/nmap/nmap-services"])
        .args(fam)
        .arg("-oX")
        .arg(&vigie_xml)
        .arg("-oJ")
        .arg(&vigie_json)
        .arg(&target)
        .output()
        .expect("run vigie");
    check_output("vigie", &out);

    // Port by port against nmap.
    let theirs = nmap_xml_states(&std::fs::read_to_string(&nmap_xml).unwrap());
    let ours = nmap_xml_states(&std::fs::read_to_string(&vigie_xml).unwrap());
    assert_eq!(
        theirs.len(),
        65535,
        "nmap's XML should account for every port"
    );
    assert_eq!(
        ours.len(),
        65535,
        "vigie's XML should account for every port"
    );
    let differ: Vec<String> = (1..=65535u16)
        .filter(|p| theirs.get(p) != ours.get(p))
        .map(|p| format!("{p}: nmap {:?}, vigie {:?}", theirs.get(&p), ours.get(&p)))
        .collect();
    assert!(
        differ.is_empty(),
        "{} ports differ from nmap:\n{}",
        differ.len(),
        differ[..differ.len().min(30)].join("\n")
    );
    // And both agree with the lab's truth.
    let t = lab_technique(flag);
    for p in 1..=65535u16 {
        assert_eq!(ours[&p], lab.layout().expect(t, v6, p).0, "port {p}");
    }

    // The XML validates against nmap's DTD.
    let out = Command::new("xmllint")
        .args(["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd"])
        .arg(&vigie_xml)
        .output()
        .expect("run xmllint (installed by .ci/run)");
    check_output("xmllint", &out);

    // ndiff sees no port differences (exit 0 = no differences at all).
    let out = Command::new("ndiff")
        .arg(&nmap_xml)
        .arg(&vigie_xml)
        .output()
        .expect("run ndiff");
    let text = String::from_utf8_lossy(&out.stdout);
    let port_lines: Vec<&str> = text.lines().filter(|l| l.contains("/tcp")).collect();
    assert!(
        port_lines.is_empty(),
        "ndiff shows port differences:\n{text}"
    );
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "ndiff failed: {out:?}"
    );

    // -oJ parses line by line with jq.
    let out = Command::new("jq")
        .args(["-c", "select(.type == \"host\") | .ports | length"])
        .arg(&vigie_json)
        .output()
        .expect("run jq");
    check_output("jq", &out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "65535");
}

#[test]
fn differential_syn_ipv4() {
    differential("-sS", false);
}

#[test]
fn differential_syn_ipv6() {
    differential("-sS", true);
}

#[test]
fn differential_connect_ipv4() {
    differential("-sT", false);
}

#[test]
fn differential_connect_ipv6() {
    differential("-sT", true);
}

/// Forged SYN-ACKs with a wrong acknowledgement number, sent by the target
/// side the moment each SYN arrives, never make a port open.
fn forged(v6: bool) {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let layout = lab.layout().clone();
    let target = if v6 {
        lab.target_v6().to_string()
    } else {
        lab.target_v4().to_string()
    };
    // Forge for every port that is not open: closed, dropped, rejected.
    let forged_ports: Vec<u16> = (1..=2000u16)
        .filter(|&p| layout.expect(LabTechnique::Syn, v6, p).0 != "open")
        .collect();
    let forger = lab.spawn_forger(forged_ports.clone()).expect("forger");
    let mut args = vec!["-sS", "-p", "1-2000"];
    if v6 {
        args.push("-6");
    }
    let states = vigie_states(&lab, &args, &target);
    assert!(
        forger.forged() >= forged_ports.len() as u64,
        "the forger sent only {} forged SYN-ACKs for {} ports",
        forger.forged(),
        forged_ports.len()
    );
    assert_exact(&lab, LabTechnique::Syn, v6, &states, 1..=2000);
}

#[test]
fn forged_syn_acks_never_open_ipv4() {
    forged(false);
}

#[test]
fn forged_syn_acks_never_open_ipv6() {
    forged(true);
}

/// `--host-timeout` gives up on a host whose scan cannot finish in time: the
/// host is skipped with a note, never reported with made-up states.
#[test]
fn host_timeout_skips_unfinished_hosts() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let target = lab.target_v4().to_string();
    for flag in ["-sS", "-sT"] {
        let out = lab
            .scanner_cmd(VIGIE)
            .args([
                flag,
                "-p-",
                "-n",
                "--host-timeout",
                "5ms",
                "-oJ",
                "-",
                &target,
            ])
            .output()
            .expect("run vigie");
        check_output("vigie", &out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stdout.contains("\"type\":\"host\""),
            "{flag}: a timed-out host was reported:\n{stdout}"
        );
        assert!(
            stderr.contains(&format!("skipping host {target}")),
            "{flag}: no skip note:\n{stderr}"
        );
    }
}
