//! Lab tests of the high-rate engine's run control: shards, interrupt +
//! resume, and exactness under random loss. Every port of the standard lab
//! is checked against the layout.

mod common;

use std::process::Command;

use common::*;
use vigie_lab::{Lab, LabTechnique, Layout};

fn lab() -> Lab {
    vigie_lab::require_root().unwrap();
    Lab::new(&Layout::standard()).expect("build lab")
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Shards 0..3 of one seed: disjoint, their union is every port, equal to
/// the unsharded scan and exact; `vigie merge` joins them into the same.
#[test]
fn shards_are_disjoint_and_cover_the_scan() {
    let lab = lab();
    let target = lab.target_v4().to_string();
    let dir = scratch("shards");
    let mut union = States::new();
    let mut files = Vec::new();
    for i in 0..3 {
        let file = dir.join(format!("shard{i}.jsonl"));
        let out = lab
            .scanner_cmd(VIGIE)
            .args([
                "-sS",
                "-p-",
                "-n",
                "--seed",
                "77",
                "--shard",
                &format!("{i}/3"),
            ])
            .arg("-oJ")
            .arg(&file)
            .arg(&target)
            .output()
            .expect("run vigie");
        check_output("vigie shard", &out);
        let part = json_states(&read(&file), &target);
        assert!(part.len() > 21_000 && part.len() < 22_700, "{}", part.len());
        for (port, st) in part {
            assert!(
                union.insert(port, st).is_none(),
                "port {port} in two shards"
            );
        }
        files.push(file);
    }
    assert_eq!(union.len(), 65535);
    assert_exact(&lab, LabTechnique::Syn, false, &union, 1..=65535);

    let whole = vigie_states(&lab, &["-sS", "-p-", "--seed", "77"], &target);
    assert_eq!(whole, union);

    let merged = Command::new(VIGIE)
        .arg("merge")
        .args(&files)
        .output()
        .expect("run vigie merge");
    check_output("vigie merge", &merged);
    let merged = json_states(&String::from_utf8_lossy(&merged.stdout), &target);
    assert_eq!(merged, union);

    // A shard without a seed is refused: shards must agree on the order.
    let out = Command::new(VIGIE)
        .args(["--shard", "0/2", "-p80", &target])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// SIGTERM part-way: outputs are complete documents, a resume file is
/// written; `--resume` finishes, and the result is exact.
#[test]
fn interrupt_then_resume_gives_the_full_scan() {
    let lab = lab();
    let target = lab.target_v4().to_string();
    let dir = scratch("resume");
    let json = dir.join("scan.jsonl");
    let xml = dir.join("scan.xml");
    // 65535 probes at 8000 per second: about 8 s if left alone.
    let child = lab
        .scanner_cmd(VIGIE)
        .current_dir(&dir)
        .args(["-sS", "-p-", "-n", "--max-rate", "8000", "-oJ"])
        .arg(&json)
        .arg("-oX")
        .arg(&xml)
        .arg(&target)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn vigie");
    interrupt_after(child, 1500);
    let resume_file = dir.join("vigie-resume.json");
    assert!(resume_file.exists());

    // The partial outputs are whole documents with fewer ports.
    let partial = json_states(&read(&json), &target);
    assert!(
        !partial.is_empty() && partial.len() < 65535,
        "{}",
        partial.len()
    );
    let x = read(&xml);
    assert!(x.trim_end().ends_with("</nmaprun>"), "{x}");
    let lint = Command::new("xmllint")
        .args(["--noout"])
        .arg(&xml)
        .status()
        .unwrap();
    assert!(lint.success(), "partial XML is not well formed");
    // What it reported is already right.
    for (port, (s, r)) in &partial {
        assert_eq!(
            lab.layout().expect(LabTechnique::Syn, false, *port),
            (s.as_str(), r.as_str()),
            "port {port}"
        );
    }

    let out = lab
        .scanner_cmd(VIGIE)
        .current_dir(&dir)
        .arg("--resume")
        .arg(&resume_file)
        .output()
        .expect("resume");
    check_output("vigie --resume", &out);
    let full = json_states(&read(&json), &target);
    assert_exact(&lab, LabTechnique::Syn, false, &full, 1..=65535);
    let lint = Command::new("xmllint")
        .args(["--noout"])
        .arg(&xml)
        .status()
        .unwrap();
    assert!(lint.success());
}

/// 5% of the packets dropped at random in each direction: every port is
/// still exact (the retries follow the loss).
#[test]
fn five_percent_loss_each_way_every_port_exact() {
    let lab = lab();
    let target = lab.target_v4().to_string();
    let scanner = lab.scanner_v4().to_string();
    for (chain, dir) in [("INPUT", "-s"), ("OUTPUT", "-d")] {
        let st = lab
            .target_cmd("iptables")
            .args(["-I", chain, "1", dir, &scanner, "-p", "tcp"])
            .args([
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                "0.05",
            ])
            .args(["-j", "DROP"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let states = vigie_states(&lab, &["-sS", "-p-"], &target);
    assert_exact(&lab, LabTechnique::Syn, false, &states, 1..=65535);
    // The rules really dropped packets.
    let out = lab
        .target_cmd("iptables")
        .args(["-nvxL", "INPUT"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let dropped: u64 = text
        .lines()
        .find(|l| l.contains("statistic"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(dropped > 1000, "{text}");
}

// ---- host blocks: scans cut into several blocks (hidden --block-probes) ----

/// Four more target addresses, 198.18.1.0/30, local to the target
/// namespace (an AnyIP route, as bench/lab.sh does for its sweep) and routed
/// to it from the scanner. The lab's rules match the link, not the address,
/// so they answer as 198.18.0.2 does.
const EXTRA: [&str; 4] = ["198.18.1.0", "198.18.1.1", "198.18.1.2", "198.18.1.3"];

fn add_extra_hosts(lab: &Lab) {
    let st = lab
        .target_cmd("ip")
        .args(["route", "add", "local", "198.18.1.0/30", "dev", "lo"])
        .status()
        .unwrap();
    assert!(st.success());
    let st = lab
        .scanner_cmd("ip")
        .args([
            "route",
            "add",
            "198.18.1.0/30",
            "via",
            &lab.target_v4().to_string(),
        ])
        .status()
        .unwrap();
    assert!(st.success());
}

/// (state, reason) per port, per host address, from JSON Lines; a port
/// reported twice for one host fails.
fn hosts_states(text: &str) -> std::collections::BTreeMap<String, States> {
    let mut all = std::collections::BTreeMap::<String, States>::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] != "host" {
            continue;
        }
        let host = all
            .entry(v["addr"].as_str().unwrap().to_owned())
            .or_default();
        for p in v["ports"].as_array().unwrap() {
            let port = p["port"].as_u64().unwrap() as u16;
            let st = (
                p["state"].as_str().unwrap().to_owned(),
                p["reason"].as_str().unwrap().to_owned(),
            );
            assert!(host.insert(port, st).is_none(), "{line}: port {port} twice");
        }
    }
    all
}

/// Every port of `ports` on the target and on the EXTRA hosts, exact (the
/// lab's listeners take every local address, so the extra hosts have the
/// target's layout).
fn assert_hosts_exact(
    lab: &Lab,
    all: &std::collections::BTreeMap<String, States>,
    ports: std::ops::RangeInclusive<u16>,
) {
    let target = lab.target_v4().to_string();
    let names: std::collections::BTreeSet<String> = std::iter::once(target)
        .chain(EXTRA.iter().map(|s| s.to_string()))
        .collect();
    assert_eq!(
        all.keys()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>(),
        names
    );
    for states in all.values() {
        assert_exact(lab, LabTechnique::Syn, false, states, ports.clone());
    }
}

/// 5 hosts × 3000 ports in blocks of 2 hosts (3 blocks): shards of one seed
/// are disjoint within the blocks, their union is the scan, and the
/// multi-block scan reports exactly what the one-block scan does.
#[test]
fn shards_are_disjoint_and_cover_a_multi_block_scan() {
    let lab = lab();
    add_extra_hosts(&lab);
    let target = lab.target_v4().to_string();
    let dir = scratch("shards-blocks");
    let run = |extra: &[&str], blocks: bool, file: &std::path::Path| {
        let mut cmd = lab.scanner_cmd(VIGIE);
        if blocks {
            cmd.args(["--block-probes", "6000"]);
        }
        let out = cmd
            .args(["-sS", "-p1-3000", "-n", "-Pn", "--seed", "78"])
            .args(extra)
            .arg("-oJ")
            .arg(file)
            .args([target.as_str(), "198.18.1.0/30"])
            .output()
            .expect("run vigie");
        check_output("vigie", &out);
        hosts_states(&read(file))
    };
    let mut union = std::collections::BTreeMap::<String, States>::new();
    let mut files = Vec::new();
    for i in 0..3 {
        let file = dir.join(format!("shard{i}.jsonl"));
        let part = run(&["--shard", &format!("{i}/3")], true, &file);
        let n: usize = part.values().map(States::len).sum();
        assert!(n > 4500 && n < 5500, "shard {i}: {n} probes");
        for (h, states) in part {
            let u = union.entry(h.clone()).or_default();
            for (port, st) in states {
                assert!(
                    u.insert(port, st).is_none(),
                    "{h} port {port} in two shards"
                );
            }
        }
        files.push(file);
    }
    assert_hosts_exact(&lab, &union, 1..=3000);
    let blocks = run(&[], true, &dir.join("blocks.jsonl"));
    assert_eq!(blocks, union);
    let one = run(&[], false, &dir.join("one.jsonl"));
    assert_eq!(one, union);

    let merged = Command::new(VIGIE)
        .arg("merge")
        .args(&files)
        .output()
        .expect("run vigie merge");
    check_output("vigie merge", &merged);
    assert_eq!(
        hosts_states(&String::from_utf8_lossy(&merged.stdout)),
        union
    );
}

/// A multi-block scan (5 blocks of one host) stopped part-way: the resume
/// file names the block; `--resume` (no block size given: it comes from the
/// file) reports that block and the later ones, and `vigie merge` of the
/// interrupted and the resumed outputs is the whole scan, exact.
#[test]
fn interrupt_then_resume_a_multi_block_scan() {
    let lab = lab();
    add_extra_hosts(&lab);
    let target = lab.target_v4().to_string();
    let dir = scratch("resume-blocks");
    let json = dir.join("scan.jsonl");
    let xml = dir.join("scan.xml");
    // 100 000 probes at 20 000 per second: about 5 s if left alone.
    let child = lab
        .scanner_cmd(VIGIE)
        .current_dir(&dir)
        .args([
            "--block-probes",
            "20000",
            "-sS",
            "-p1-20000",
            "-n",
            "-Pn",
            "--max-rate",
            "20000",
            "-oJ",
        ])
        .arg(&json)
        .arg("-oX")
        .arg(&xml)
        .args([target.as_str(), "198.18.1.0/30"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn vigie");
    interrupt_after(child, 2500);
    let resume_file = dir.join("vigie-resume.json");
    let state: serde_json::Value = serde_json::from_str(&read(&resume_file)).unwrap();
    assert_eq!(state["block_hosts"], 1);
    let block = state["block"].as_u64().unwrap();
    assert!(block < 5, "{state}");
    let lint = Command::new("xmllint")
        .arg("--noout")
        .arg(&xml)
        .status()
        .unwrap();
    assert!(lint.success(), "partial XML is not well formed");
    let first = dir.join("first.jsonl");
    std::fs::rename(&json, &first).unwrap();
    let partial = hosts_states(&read(&first));
    // Whole blocks before the one interrupted, then what that one knew
    // (nothing when the stop came between blocks).
    let n = partial.len() as u64;
    assert!(n == block || n == block + 1, "{n} hosts, block {block}");
    let total: usize = partial.values().map(States::len).sum();
    assert!(total < 100_000, "{total}");

    let out = lab
        .scanner_cmd(VIGIE)
        .current_dir(&dir)
        .arg("--resume")
        .arg(&resume_file)
        .output()
        .expect("resume");
    check_output("vigie --resume", &out);
    let resumed = hosts_states(&read(&json));
    assert_eq!(resumed.len() as u64, 5 - block, "{:?}", resumed.keys());
    let lint = Command::new("xmllint")
        .arg("--noout")
        .arg(&xml)
        .status()
        .unwrap();
    assert!(lint.success());

    let merged = Command::new(VIGIE)
        .arg("merge")
        .arg(&first)
        .arg(&json)
        .output()
        .expect("run vigie merge");
    check_output("vigie merge", &merged);
    assert_hosts_exact(
        &lab,
        &hosts_states(&String::from_utf8_lossy(&merged.stdout)),
        1..=20000,
    );
}

/// SIGTERM a running scan after `ms` milliseconds; it must exit with 130
/// (interrupted, outputs complete, resume file written).
fn interrupt_after(child: std::process::Child, ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
}
