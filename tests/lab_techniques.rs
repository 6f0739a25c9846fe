//! Lab tests for the raw TCP techniques beyond SYN: FIN, NULL, Xmas, ACK,
//! Window, Maimon and two `--scanflags` combinations. Each test scans all
//! 65535 ports of the standard layout, asserts every port against the lab's
//! ground truth, then runs nmap with the same flags on the same lab and
//! asserts that no port differs.

mod common;

use common::*;
use vigie_lab::{flags, Lab, LabTechnique, Layout, Reading};

fn check(scan_args: &[&str], t: LabTechnique, v6: bool) {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let target = if v6 {
        lab.target_v6().to_string()
    } else {
        lab.target_v4().to_string()
    };
    let mut args: Vec<&str> = scan_args.to_vec();
    args.push("-p-");
    if v6 {
        args.push("-6");
    }
    let ours = vigie_states(&lab, &args, &target);
    assert_exact(&lab, t, v6, &ours, 1..=65535);

    // nmap, same flags, same lab.
    let dir = scratch(&format!(
        "tech{}{}",
        scan_args.join("").replace('-', ""),
        if v6 { 6 } else { 4 }
    ));
    let xml = dir.join("nmap.xml");
    let out = lab
        .scanner_cmd("nmap")
        .args(&args)
        .args(["-n", "-Pn", "-T4", "-oX"])
        .arg(&xml)
        .arg(&target)
        .output()
        .expect("run nmap (installed by .ci/run)");
    check_output("nmap", &out);
    let theirs = nmap_xml_states(&std::fs::read_to_string(&xml).unwrap());
    assert_eq!(
        theirs.len(),
        65535,
        "nmap's XML should account for every port"
    );
    let differ: Vec<String> = (1..=65535u16)
        .filter(|p| theirs.get(p).map(String::as_str) != ours.get(p).map(|(s, _)| s.as_str()))
        .map(|p| format!("{p}: nmap {:?}, vigie {:?}", theirs.get(&p), ours.get(&p)))
        .collect();
    assert!(
        differ.is_empty(),
        "{} ports differ from nmap {}:\n{}",
        differ.len(),
        scan_args.join(" "),
        differ[..differ.len().min(30)].join("\n")
    );
}

macro_rules! technique_tests {
    ($($v4:ident, $v6:ident: [$($arg:expr),+] => $t:expr;)+) => {$(
        #[test]
        fn $v4() {
            check(&[$($arg),+], $t, false);
        }
        #[test]
        fn $v6() {
            check(&[$($arg),+], $t, true);
        }
    )+};
}

technique_tests! {
    fin_ipv4, fin_ipv6: ["-sF"] => LabTechnique::Fin;
    null_ipv4, null_ipv6: ["-sN"] => LabTechnique::Null;
    xmas_ipv4, xmas_ipv6: ["-sX"] => LabTechnique::Xmas;
    ack_ipv4, ack_ipv6: ["-sA"] => LabTechnique::Ack;
    window_ipv4, window_ipv6: ["-sW"] => LabTechnique::Window;
    maimon_ipv4, maimon_ipv6: ["-sM"] => LabTechnique::Maimon;
    scanflags_synfin_ipv4, scanflags_synfin_ipv6: ["--scanflags", "SYNFIN"] =>
        LabTechnique::Custom { flags: flags::SYN | flags::FIN, read_as: Reading::Syn };
    scanflags_pshack_as_ack_ipv4, scanflags_pshack_as_ack_ipv6: ["--scanflags", "PSHACK", "-sA"] =>
        LabTechnique::Custom { flags: flags::PSH | flags::ACK, read_as: Reading::Ack };
}

/// A target that answers every FIN/NULL/Xmas probe with RST makes every
/// port look closed to those scans: open, dropped and rejected alike.
fn rst_everything(flag: &str, t: LabTechnique, v6: bool) {
    vigie_lab::require_root().unwrap();
    let layout = Layout {
        rst_everything: true,
        ..Layout::standard()
    };
    let lab = Lab::new(&layout).expect("build lab");
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
    assert_exact(&lab, t, v6, &states, 1..=65535);
    let not_closed: Vec<_> = states.iter().filter(|(_, (s, _))| s != "closed").collect();
    assert!(
        not_closed.is_empty(),
        "{flag}: ports not closed: {not_closed:?}"
    );
}

#[test]
fn rst_everything_fin_ipv4() {
    rst_everything("-sF", LabTechnique::Fin, false);
}

#[test]
fn rst_everything_null_ipv4() {
    rst_everything("-sN", LabTechnique::Null, false);
}

#[test]
fn rst_everything_xmas_ipv4() {
    rst_everything("-sX", LabTechnique::Xmas, false);
}

#[test]
fn rst_everything_xmas_ipv6() {
    rst_everything("-sX", LabTechnique::Xmas, true);
}

/// The XML names the technique as nmap does and records --scanflags.
#[test]
fn xml_scaninfo_names_technique_and_flags() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let target = lab.target_v4().to_string();
    for (args, want) in [
        (&["-sF"][..], "<scaninfo type=\"fin\" protocol=\"tcp\""),
        (&["-sN"][..], "<scaninfo type=\"null\" protocol=\"tcp\""),
        (&["-sX"][..], "<scaninfo type=\"xmas\" protocol=\"tcp\""),
        (&["-sA"][..], "<scaninfo type=\"ack\" protocol=\"tcp\""),
        (&["-sW"][..], "<scaninfo type=\"window\" protocol=\"tcp\""),
        (&["-sM"][..], "<scaninfo type=\"maimon\" protocol=\"tcp\""),
        (
            &["--scanflags", "SYNFIN"][..],
            "<scaninfo type=\"syn\" scanflags=\"SYNFIN\" protocol=\"tcp\"",
        ),
        (
            &["--scanflags", "PSHACK", "-sA"][..],
            "<scaninfo type=\"ack\" scanflags=\"ACKPSH\" protocol=\"tcp\"",
        ),
    ] {
        let out = lab
            .scanner_cmd(VIGIE)
            .args(args)
            .args(["-n", "-p", "20-25", "--reason", "-oX", "-", &target])
            .output()
            .expect("run vigie");
        check_output("vigie", &out);
        let xml = String::from_utf8_lossy(&out.stdout);
        assert!(xml.contains(want), "{args:?}: no {want} in\n{xml}");
        assert!(
            xml.contains("reason_ttl=\"64\""),
            "{args:?}: replies carry their TTL:\n{xml}"
        );
    }
}
