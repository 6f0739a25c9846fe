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
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
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
