//! Helpers shared by the lab tests: run vigie and nmap inside a lab's scanner
//! namespace and read back per-port states.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use vigie_lab::{Lab, LabTechnique};

pub const VIGIE: &str = env!("CARGO_BIN_EXE_vigie");

/// (state, reason) per port.
pub type States = BTreeMap<u16, (String, String)>;

pub fn lab_technique(flag: &str) -> LabTechnique {
    match flag {
        "-sS" => LabTechnique::Syn,
        "-sT" => LabTechnique::Connect,
        other => panic!("no lab expectation for {other}"),
    }
}

/// A scratch directory under the target dir, unique per test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn check_output(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run vigie in the lab's scanner namespace with `args` and return the
/// per-port states of `target` read from its JSON Lines output on stdout.
pub fn vigie_states(lab: &Lab, args: &[&str], target: &str) -> States {
    let out = lab
        .scanner_cmd(VIGIE)
        .args(args)
        .args(["-n", "-oJ", "-", target])
        .output()
        .expect("run vigie");
    check_output("vigie", &out);
    json_states(&String::from_utf8_lossy(&out.stdout), target)
}

/// Per-port states of `target` from vigie's JSON Lines.
pub fn json_states(text: &str, target: &str) -> States {
    let mut states = States::new();
    let mut hosts = 0;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
        if v["type"] != "host" {
            continue;
        }
        assert_eq!(
            v["addr"].as_str(),
            Some(target),
            "unexpected host in {line}"
        );
        hosts += 1;
        for p in v["ports"].as_array().expect("ports array") {
            assert_eq!(p["proto"], "tcp");
            let port = p["port"].as_u64().unwrap() as u16;
            let state = p["state"].as_str().unwrap().to_owned();
            let reason = p["reason"].as_str().unwrap().to_owned();
            assert!(
                states.insert(port, (state, reason)).is_none(),
                "port {port} twice"
            );
        }
    }
    assert_eq!(hosts, 1, "expected exactly one host object:\n{text}");
    states
}

/// Compare states against the lab's ground truth for every port in `ports`;
/// panics listing the first mismatches.
pub fn assert_exact(
    lab: &Lab,
    t: LabTechnique,
    v6: bool,
    states: &States,
    ports: impl Iterator<Item = u16>,
) {
    let mut wrong = Vec::new();
    let mut n = 0;
    for port in ports {
        n += 1;
        let (state, reason) = lab.layout().expect(t, v6, port);
        match states.get(&port) {
            Some((s, r)) if s == state && r == reason => {}
            got => wrong.push(format!("{port}: expected {state}/{reason}, got {got:?}")),
        }
    }
    assert_eq!(
        states.len(),
        n,
        "vigie reported {} ports, expected {n}",
        states.len()
    );
    assert!(
        wrong.is_empty(),
        "{} ports wrong of {n}:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(30)].join("\n")
    );
}

/// Per-port states from an nmap XML file: `<port>` elements plus the ports
/// listed in `<extrareasons ports="…">` of folded states.
pub fn nmap_xml_states(xml: &str) -> BTreeMap<u16, String> {
    let mut states = BTreeMap::new();
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let i = tag.find(&key)? + key.len();
        let j = tag[i..].find('"')? + i;
        Some(tag[i..j].to_owned())
    };
    let mut extra_state: Option<String> = None;
    let mut port: Option<u16> = None;
    for raw in xml.split('<').skip(1) {
        let tag = raw.split('>').next().unwrap_or("");
        if tag.starts_with("extraports ") {
            extra_state = attr(tag, "state");
        } else if tag.starts_with("extrareasons ") {
            let state = extra_state
                .clone()
                .expect("extrareasons outside extraports");
            let list = attr(tag, "ports").expect("extrareasons without ports=");
            for part in list.split(',') {
                let (a, b) = part.split_once('-').unwrap_or((part, part));
                for p in a.parse::<u16>().unwrap()..=b.parse::<u16>().unwrap() {
                    states.insert(p, state.clone());
                }
            }
        } else if tag.starts_with("port ") {
            port = attr(tag, "portid").map(|p| p.parse().unwrap());
        } else if tag.starts_with("state ") {
            if let Some(p) = port.take() {
                states.insert(p, attr(tag, "state").unwrap());
            }
        }
    }
    states
}

/// (state, reason) per `proto` port of `target` from vigie's JSON Lines;
/// other hosts are ignored, a port reported twice fails.
pub fn json_states_of(text: &str, target: &str, proto: &str) -> States {
    let mut states = States::new();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
        if v["type"] != "host" || v["addr"].as_str() != Some(target) {
            continue;
        }
        for p in v["ports"].as_array().expect("ports array") {
            if p["proto"] != proto {
                continue;
            }
            let port = p["port"].as_u64().unwrap() as u16;
            let st = (
                p["state"].as_str().unwrap().to_owned(),
                p["reason"].as_str().unwrap().to_owned(),
            );
            assert!(states.insert(port, st).is_none(), "port {port} twice");
        }
    }
    states
}

/// (state, reason) per port listed in `<port>` elements of an nmap XML
/// file (folded `<extraports>` carry no per-port reason: see
/// [`nmap_xml_states`]).
pub fn nmap_xml_reasons(xml: &str) -> BTreeMap<u16, (String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let i = tag.find(&key)? + key.len();
        let j = tag[i..].find('"')? + i;
        Some(tag[i..j].to_owned())
    };
    let mut out = BTreeMap::new();
    let mut port: Option<u16> = None;
    for raw in xml.split('<').skip(1) {
        let tag = raw.split('>').next().unwrap_or("");
        if tag.starts_with("port ") {
            port = attr(tag, "portid").map(|p| p.parse().unwrap());
        } else if tag.starts_with("state ") {
            if let Some(p) = port.take() {
                out.insert(
                    p,
                    (attr(tag, "state").unwrap(), attr(tag, "reason").unwrap()),
                );
            }
        }
    }
    out
}
