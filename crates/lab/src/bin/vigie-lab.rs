//! `vigie-lab up` / `vigie-lab down`: the standard lab by hand, with fixed
//! namespace names, for trying vigie (or nmap) against a known target.
#![forbid(unsafe_code)]

use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;

use anyhow::Context;
use vigie_lab::{Lab, LabTechnique, Layout};

const SCANNER_NS: &str = "vigie-scanner";
const TARGET_NS: &str = "vigie-target";

const USAGE: &str =
    "usage: vigie-lab up     build the standard lab (namespaces vigie-scanner, vigie-target)
                 and keep it running until Ctrl-C
       vigie-lab down   remove a lab left behind (e.g. after kill -9)";

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["up"] => up().map(|()| ExitCode::SUCCESS),
        ["down"] => down().map(|()| ExitCode::SUCCESS),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("{USAGE}");
            Ok(ExitCode::from(2))
        }
    }
}

fn up() -> anyhow::Result<()> {
    vigie_lab::require_root()?;
    let (tx, rx) = mpsc::channel::<()>();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .context("install Ctrl-C handler")?;
    let layout = Layout::standard();
    let lab = Lab::with_names(&layout, SCANNER_NS, TARGET_NS)
        .context("vigie-lab up failed (a lab left behind? run: vigie-lab down)")?;
    print_summary(&lab);
    // Blocks until Ctrl-C (or SIGTERM); the lab tears down when dropped.
    let _ = rx.recv();
    eprintln!("\ntearing down {SCANNER_NS} / {TARGET_NS}");
    drop(lab);
    Ok(())
}

fn print_summary(lab: &Lab) {
    let l = lab.layout();
    let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    println!("vigie lab is up.");
    println!(
        "  scanner namespace {:<14} {} {}",
        lab.scanner_ns(),
        lab.scanner_v4(),
        lab.scanner_v6()
    );
    println!(
        "  target  namespace {:<14} {} {}",
        lab.target_ns(),
        lab.target_v4(),
        lab.target_v6()
    );
    println!("  listeners          {}", list(&l.open));
    println!("  DROP               {}", list(&l.drop));
    println!("  REJECT port-unr.   {}", list(&l.reject_port_unreach));
    println!("  REJECT admin-proh. {}", list(&l.reject_admin));
    println!("  REJECT tcp-reset   {}", list(&l.reject_rst));
    println!("  every other port is closed (RST); a rule wins over a listener.");
    println!(
        "Expected (-sS): open {}",
        list(&expected(l, LabTechnique::Syn, "open"))
    );
    println!(
        "                filtered {}",
        list(&expected(l, LabTechnique::Syn, "filtered"))
    );
    println!("Run a scan from the scanner side, e.g.:");
    println!(
        "  ip netns exec {SCANNER_NS} vigie -sS -p- -n --reason {}",
        lab.target_v4()
    );
    println!(
        "  ip netns exec {SCANNER_NS} vigie -sT -6 -p- -n --reason {}",
        lab.target_v6()
    );
    println!(
        "  ip netns exec {SCANNER_NS} nmap -sS -p- -n -Pn --reason {}",
        lab.target_v4()
    );
    println!("Ctrl-C tears the lab down.");
}

fn expected(l: &Layout, t: LabTechnique, state: &str) -> Vec<u16> {
    (1..=u16::MAX)
        .filter(|&p| l.expect(t, false, p).0 == state)
        .collect()
}

fn down() -> anyhow::Result<()> {
    vigie_lab::require_root()?;
    let mut removed = 0;
    for ns in [SCANNER_NS, TARGET_NS] {
        if !std::path::Path::new("/run/netns").join(ns).exists() {
            continue;
        }
        let status = Command::new("ip")
            .args(["netns", "del", ns])
            .stdin(Stdio::null())
            .status()
            .context("run ip netns del")?;
        anyhow::ensure!(status.success(), "ip netns del {ns} failed ({status})");
        println!("removed namespace {ns}");
        removed += 1;
    }
    if removed == 0 {
        println!("no lab namespaces ({SCANNER_NS}, {TARGET_NS}) to remove");
    }
    Ok(())
}
