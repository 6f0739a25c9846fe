//! Black-box tests of the `vigie` binary's handling of bad input: every
//! mistake gives exit status 2, exactly one line on stderr starting with
//! "vigie: ", nothing on stdout, and never a panic.
//!
//! Name resolution must not leave the machine: every run passes `-n`, and
//! runs inside an empty network namespace (`unshare -n` as root, or
//! `unshare -r -n` where user namespaces are allowed), where the resolver
//! fails at once. Every address used is loopback or from 198.18.0.0/15 and
//! fd00::/8, so even a run that wrongly went on to scan would reach nothing.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The parser itself, for its exact help text.
#[allow(dead_code)]
#[path = "../crates/cli/args.rs"]
mod args;

const VIGIE: &str = env!("CARGO_BIN_EXE_vigie");
/// No bad input may take longer than this to be refused.
const LIMIT: Duration = Duration::from_secs(30);

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The `unshare` prefix that puts a run in an empty network namespace, if
/// this machine allows one.
fn netns_prefix() -> &'static [&'static str] {
    static PREFIX: OnceLock<&'static [&'static str]> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let works = |prefix: &[&str]| {
            Command::new(prefix[0])
                .args(&prefix[1..])
                .arg("true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        const ROOT: &[&str] = &["unshare", "-n"];
        const USER: &[&str] = &["unshare", "-r", "-n"];
        if is_root() && works(ROOT) {
            ROOT
        } else if works(USER) {
            USER
        } else {
            eprintln!("note: no empty network namespace available; running vigie directly");
            &[]
        }
    })
}

/// Runs vigie with `args` (in an empty network namespace when possible),
/// killing it if it runs past [`LIMIT`].
fn vigie(args: &[&str]) -> Output {
    let prefix = netns_prefix();
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(VIGIE);
            c
        }
        None => Command::new(VIGIE),
    };
    let mut child = cmd
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vigie");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for vigie") {
            break s;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vigie {args:?} still running after {LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// Checks that `args` are refused the way bad input must be, and returns the
/// one line (without its newline).
fn refused(args: &[&str]) -> String {
    let out = vigie(args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!(
        "vigie {args:?}\nstatus: {}\nstdout: {stdout:?}\nstderr: {stderr:?}",
        out.status
    );
    assert!(
        !stdout.contains("panicked") && !stderr.contains("panicked"),
        "panic: {shown}"
    );
    assert_eq!(out.status.code(), Some(2), "exit status: {shown}");
    assert_eq!(stdout, "", "stdout not empty: {shown}");
    assert!(stderr.starts_with("vigie: "), "stderr prefix: {shown}");
    assert!(stderr.ends_with('\n'), "stderr not a whole line: {shown}");
    assert_eq!(
        stderr.matches('\n').count(),
        1,
        "stderr not exactly one line: {shown}"
    );
    let line = stderr.trim_end_matches('\n').to_string();
    assert!(
        line.len() > "vigie: ".len() + 5,
        "message too short: {shown}"
    );
    line
}

#[test]
fn port_out_of_range() {
    refused(&["-n", "-p", "70000", "127.0.0.1"]);
}

#[test]
fn port_range_backwards() {
    refused(&["-n", "-p", "200-100", "127.0.0.1"]);
}

#[test]
fn port_not_a_number() {
    refused(&["-n", "-p", "abc", "127.0.0.1"]);
}

#[test]
fn port_list_empty() {
    let line = refused(&["-n", "-p", "", "127.0.0.1"]);
    assert_eq!(
        line,
        "vigie: option '-p' needs a value, not an empty string"
    );
}

#[test]
fn address_octet_too_big() {
    refused(&["-n", "-p", "22", "198.18.0.300"]);
}

#[test]
fn ipv4_prefix_too_long() {
    refused(&["-n", "-p", "22", "198.18.0.0/33"]);
}

#[test]
fn address_range_backwards() {
    refused(&["-n", "-p", "22", "198.18.0.20-1"]);
}

#[test]
fn ipv6_prefix_too_long() {
    refused(&["-n", "-6", "-p", "22", "fd00::/129"]);
}

#[test]
fn unknown_long_option() {
    let line = refused(&["-n", "--bogus", "127.0.0.1"]);
    assert_eq!(line, "vigie: unknown option '--bogus' (see vigie --help)");
}

#[test]
fn unknown_scan_type() {
    let line = refused(&["-n", "-sZ", "127.0.0.1"]);
    assert_eq!(line, "vigie: unknown option '-sZ' (see vigie --help)");
}

#[test]
fn bad_scanflags() {
    let line = refused(&["-n", "--scanflags", "SYNFOO", "127.0.0.1"]);
    assert!(line.contains("SYNFIN"), "{line}");
}

#[test]
fn scanflags_with_connect() {
    let line = refused(&["-n", "--scanflags", "SYN", "-sT", "127.0.0.1"]);
    assert_eq!(
        line,
        "vigie: --scanflags needs a raw TCP scan type; -sT lets the kernel choose the flags"
    );
}

#[test]
fn conflicting_raw_scan_types() {
    let line = refused(&["-n", "-sF", "-sA", "127.0.0.1"]);
    assert_eq!(
        line,
        "vigie: only one TCP scan type at a time (-sF, -sA given); one TCP type may be combined with -sU"
    );
}

#[test]
fn timing_template_out_of_range() {
    let line = refused(&["-n", "-T9", "127.0.0.1"]);
    assert_eq!(
        line,
        "vigie: invalid value '9' for '-T': \
         expected 0 to 5 or paranoid|sneaky|polite|normal|aggressive|insane"
    );
}

#[test]
fn top_ports_zero() {
    let line = refused(&["-n", "--top-ports", "0", "127.0.0.1"]);
    assert_eq!(
        line,
        "vigie: invalid value '0' for '--top-ports': must be at least 1"
    );
}

#[test]
fn missing_input_list() {
    refused(&["-n", "-p", "22", "-iL", "/nonexistent/file"]);
}

#[test]
fn unresolvable_name() {
    refused(&["-n", "-p", "22", "no-such-host.invalid"]);
}

#[test]
fn no_targets() {
    let line = refused(&["-n"]);
    assert_eq!(line, "vigie: no targets given (see vigie --help)");
}

#[test]
fn two_scan_types() {
    let line = refused(&["-n", "-sS", "-sT", "127.0.0.1"]);
    assert_eq!(
        line,
        "vigie: only one TCP scan type at a time (-sS, -sT given); one TCP type may be combined with -sU"
    );
}

#[test]
fn max_rate_zero() {
    let line = refused(&["-n", "--max-rate", "0", "127.0.0.1"]);
    assert_eq!(
        line,
        "vigie: invalid value '0' for '--max-rate': must be greater than 0"
    );
}

#[test]
fn missing_value_at_end() {
    let line = refused(&["-n", "127.0.0.1", "-p"]);
    assert_eq!(line, "vigie: option '-p' needs a value");
}

#[test]
fn help_prints_the_help() {
    for flag in ["--help", "-h"] {
        let out = vigie(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), args::HELP, "{flag}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{flag}");
    }
}

#[test]
fn version_prints_the_version() {
    for flag in ["-V", "--version"] {
        let out = vigie(&[flag]);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("vigie {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{flag}");
    }
}

#[test]
fn stats_every_needs_a_positive_time() {
    for bad in ["0", "0s", "x", "5q", "-1"] {
        let line = refused(&["-n", "--stats-every", bad, "-p", "22", "127.0.0.1"]);
        assert!(line.contains("--stats-every"), "{bad}: {line}");
    }
}

#[test]
fn evasion_values_and_combinations() {
    for (args, want) in [
        (&["-D", "ME", "198.18.0.1"][..], "vigie: invalid value 'ME' for '-D': no decoy given (only ME)"),
        (&["--mtu", "12", "198.18.0.1"], "vigie: invalid value '12' for '--mtu': expected a multiple of 8, from 8 to 1496 (bytes of each fragment's payload)"),
        (&["--data-length", "5000", "198.18.0.1"], "vigie: invalid value '5000' for '--data-length': expected a length from 0 to 1400 bytes"),
        (&["-sT", "--ttl", "9", "198.18.0.1"], "vigie: --ttl applies to raw probes; -sT connects through the kernel (use -sS or another raw type)"),
    ] {
        assert_eq!(refused(args), want, "{args:?}");
    }
    if !is_root() {
        return;
    }
    for (args, want) in [
        (
            &["-e", "nosuch0", "-p", "80", "198.18.0.1"][..],
            "vigie: -e nosuch0: no such interface (this host has: lo)",
        ),
        (
            &["-S", "fd00::1", "-p", "80", "198.18.0.1"],
            "vigie: -S fd00::1: no target is an IPv6 address",
        ),
        (
            &["-D", "fd00::5,ME", "-p", "80", "198.18.0.1"],
            "vigie: -D fd00::5: no target is an IPv6 address",
        ),
        (
            &["-D", "RND:2", "-p", "80", "fd00::1"],
            "vigie: -D RND: random decoys are IPv4 addresses; name IPv6 decoys",
        ),
    ] {
        assert_eq!(refused(args), want, "{args:?}");
    }
}
