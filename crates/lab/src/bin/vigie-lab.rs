//! `vigie-lab up` / `vigie-lab services` / `vigie-lab sweep` / `vigie-lab
//! down`: the standard lab, the service lab (real daemons,
//! `vigie_lab::services`) or the sweep lab (`vigie_lab::sweep`) by hand,
//! with fixed namespace names, for trying vigie (or nmap) against a known
//! target; `services --json FILE` also writes its ground truth for a script
//! (bench/bench.py's `version` case); `sweep` is bench/watch.sh's lab.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Context;
use vigie_lab::services::{Check, ServiceLab, Truth};
use vigie_lab::sweep::SweepLab;
use vigie_lab::{Lab, LabTechnique, Layout};

const SCANNER_NS: &str = "vigie-scanner";
const TARGET_NS: &str = "vigie-target";
// The service lab's own pair: it can be up beside the standard lab.
const SVC_SCANNER_NS: &str = "vigie-svc-scanner";
const SVC_TARGET_NS: &str = "vigie-svc-target";
// The sweep lab's pair (bench/watch.sh).
const SW_SCANNER_NS: &str = "vigie-sw-scanner";
const SW_TARGET_NS: &str = "vigie-sw-target";

const USAGE: &str =
    "usage: vigie-lab up     build the standard lab (namespaces vigie-scanner, vigie-target)
                 and keep it running until Ctrl-C
       vigie-lab services [--json FILE]
                 start the service lab (real daemons; namespaces vigie-svc-scanner,
                 vigie-svc-target), print its ground truth, keep it until Ctrl-C or
                 SIGTERM; --json writes namespaces, addresses and truth to FILE
                 once every daemon answers (written whole: a script may poll for it)
       vigie-lab sweep  build the sweep lab (namespaces vigie-sw-scanner, vigie-sw-target:
                 scanner 198.18.0.1 on v0, target 198.18.0.2 on v1 answering the routed
                 198.19.0.0/16, 198.18.0.3 dropping everything) and keep it until
                 Ctrl-C or SIGTERM
       vigie-lab down   remove a lab left behind (e.g. after kill -9): every pair, and
                 every process still in them";

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["up"] => up().map(|()| ExitCode::SUCCESS),
        ["services"] => services(None).map(|()| ExitCode::SUCCESS),
        ["services", "--json", file] => services(Some(Path::new(file))).map(|()| ExitCode::SUCCESS),
        ["sweep"] => sweep().map(|()| ExitCode::SUCCESS),
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

/// A channel that receives on Ctrl-C, SIGTERM or SIGHUP.
fn on_signal() -> anyhow::Result<mpsc::Receiver<()>> {
    let (tx, rx) = mpsc::channel::<()>();
    ctrlc::set_handler(move || {
        let _ = tx.send(());
    })
    .context("install Ctrl-C handler")?;
    Ok(rx)
}

fn up() -> anyhow::Result<()> {
    vigie_lab::require_root()?;
    let rx = on_signal()?;
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

fn sweep() -> anyhow::Result<()> {
    vigie_lab::require_root()?;
    let rx = on_signal()?;
    let lab = SweepLab::with_names(SW_SCANNER_NS, SW_TARGET_NS)
        .context("vigie-lab sweep failed (a lab left behind? run: vigie-lab down)")?;
    println!("vigie sweep lab is up.");
    println!(
        "  scanner namespace {:<16} 198.18.0.1 fd00:18::1 (v0)",
        lab.scanner_ns()
    );
    println!(
        "  target  namespace {:<16} {} {} (v1)",
        lab.target_ns(),
        lab.target_v4(),
        lab.target_v6()
    );
    println!(
        "  the target answers the routed {}/{}; {} drops every IP packet",
        vigie_lab::sweep::SWEEP_BASE,
        vigie_lab::sweep::SWEEP_PREFIX,
        vigie_lab::sweep::DARK_V4[0]
    );
    println!("Ctrl-C (or SIGTERM) tears the lab down.");
    let _ = rx.recv();
    eprintln!("\ntearing down {SW_SCANNER_NS} / {SW_TARGET_NS}");
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

fn services(json: Option<&Path>) -> anyhow::Result<()> {
    vigie_lab::require_root()?;
    // Installed before the daemons start: a signal during the start is
    // kept and tears the lab down as soon as it is up.
    let rx = on_signal()?;
    let lab = ServiceLab::with_names(SVC_SCANNER_NS, SVC_TARGET_NS)
        .context("vigie-lab services failed (a lab left behind? run: vigie-lab down)")?;
    if let Some(path) = json {
        // Written next to FILE, then renamed: whoever polls sees it whole.
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, services_json(&lab))
            .with_context(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
    }
    print_services(&lab);
    let _ = rx.recv();
    eprintln!("\ntearing down {SVC_SCANNER_NS} / {SVC_TARGET_NS}");
    drop(lab);
    if let Some(path) = json {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// `banner`, `request`, `tls`, `udp`, `silent` or `closes`: how the port
/// shows it is alive.
fn check_kind(c: Check) -> &'static str {
    match c {
        Check::Banner(_) => "banner",
        Check::Request(..) => "request",
        Check::Tls(..) => "tls",
        Check::Udp(_) => "udp",
        Check::Silent => "silent",
        Check::Closes => "closes",
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "null".to_owned(), json_str)
}

fn truth_json(t: &Truth) -> String {
    format!(
        "{{\"proto\":{},\"port\":{},\"daemon\":{},\"name\":{},\"product\":{},\"version\":{},\"tunnel\":{},\"tls\":{},\"silent\":{},\"closing\":{},\"check\":{},\"package\":{},\"installed\":{}}}",
        json_str(t.proto.as_str()),
        t.port,
        json_str(t.daemon),
        json_opt(t.name),
        json_opt(t.product),
        json_opt(t.version.as_deref()),
        json_opt(t.tunnel),
        t.tunnel == Some("ssl"),
        t.check == Check::Silent,
        t.check == Check::Closes,
        json_str(check_kind(t.check)),
        json_str(&t.package),
        json_str(&t.installed),
    )
}

/// One JSON object: namespaces, addresses, the lab's directory and the
/// ground truth, one entry per (proto, port).
fn services_json(lab: &ServiceLab) -> String {
    let l = lab.lab();
    let ports: Vec<String> = lab.truth().iter().map(truth_json).collect();
    format!(
        "{{\"scanner_ns\":{},\"target_ns\":{},\"scanner_v4\":\"{}\",\"target_v4\":\"{}\",\"scanner_v6\":\"{}\",\"target_v6\":\"{}\",\"dir\":{},\"ports\":[\n{}\n]}}\n",
        json_str(l.scanner_ns()),
        json_str(l.target_ns()),
        l.scanner_v4(),
        l.target_v4(),
        l.scanner_v6(),
        l.target_v6(),
        json_str(&lab.dir().display().to_string()),
        ports.join(",\n"),
    )
}

fn print_services(lab: &ServiceLab) {
    let l = lab.lab();
    println!("vigie service lab is up.");
    println!(
        "scanner {} {} {}",
        l.scanner_ns(),
        l.scanner_v4(),
        l.scanner_v6()
    );
    println!(
        "target {} {} {}",
        l.target_ns(),
        l.target_v4(),
        l.target_v6()
    );
    println!("# port proto daemon name product version tunnel check (\"-\": none)");
    let dash = |s: Option<&str>| s.unwrap_or("-").replace(' ', "_");
    for t in lab.truth() {
        println!(
            "port {} {} {} {} {} {} {} {}",
            t.port,
            t.proto.as_str(),
            t.daemon,
            dash(t.name),
            dash(t.product),
            dash(t.version.as_deref()),
            dash(t.tunnel),
            check_kind(t.check),
        );
    }
    let tcp = lab.ports(vigie_lab::services::Proto::Tcp);
    let udp = lab.ports(vigie_lab::services::Proto::Udp);
    let list = |v: &[u16]| v.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
    println!("Run a scan from the scanner side, e.g.:");
    println!(
        "  ip netns exec {SVC_SCANNER_NS} vigie -sT -sV -Pn -n -p {} {}",
        list(&tcp),
        l.target_v4()
    );
    println!(
        "  ip netns exec {SVC_SCANNER_NS} nmap -sU -sV -Pn -n -p {} {}",
        list(&udp),
        l.target_v4()
    );
    println!("Ctrl-C (or SIGTERM) tears the lab down.");
}

fn down() -> anyhow::Result<()> {
    vigie_lab::require_root()?;
    let mut removed = 0;
    // Target namespaces first: the processes in them go with them (the
    // service lab's daemons outlive a killed vigie-lab).
    for ns in [
        TARGET_NS,
        SCANNER_NS,
        SVC_TARGET_NS,
        SVC_SCANNER_NS,
        SW_TARGET_NS,
        SW_SCANNER_NS,
    ] {
        if vigie_lab::services::kill_namespace(ns)? {
            println!("removed namespace {ns}");
            removed += 1;
        }
    }
    if removed == 0 {
        println!(
            "no lab namespaces ({SCANNER_NS}, {TARGET_NS}, {SVC_SCANNER_NS}, {SVC_TARGET_NS}, {SW_SCANNER_NS}, {SW_TARGET_NS}) to remove"
        );
    }
    Ok(())
}
