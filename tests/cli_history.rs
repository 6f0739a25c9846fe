//! The history store from the command line, on loopback and without a
//! network: a scan recorded and written again identically, and bad input
//! (a bad URL, a file that is not a store, an unreachable server, an unknown
//! id) refused in one line with exit 2, the store unchanged.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const VIGIE: &str = env!("CARGO_BIN_EXE_vigie");

fn scratch(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// vigie with its own data directory (the default store inside it).
fn vigie(data: &Path, args: &[&str]) -> Output {
    Command::new(VIGIE)
        .args(args)
        .env("XDG_DATA_HOME", data)
        .env_remove("VIGIE_DB")
        .stdin(Stdio::null())
        .output()
        .expect("run vigie")
}

fn refused(data: &Path, args: &[&str], want: &str) {
    let out = vigie(data, args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("vigie: {want}")) && err.lines().count() == 1,
        "{args:?}: wanted one line starting {want:?}, got {err:?}"
    );
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = vigie(data, args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A connect scan of loopback, recorded in the default store, reads back
/// as the same -oX, -oJ, -oN and -oG the scan wrote.
#[test]
fn a_scan_reads_back_as_written() {
    let d = scratch("same");
    let f = |n: &str| d.join(n).display().to_string();
    ok(
        &d,
        &[
            "-sT",
            "-Pn",
            "-n",
            "-p",
            "1-300,2024",
            "--reason",
            "-oX",
            &f("a.xml"),
            "-oJ",
            &f("a.jsonl"),
            "-oN",
            &f("a.nmap"),
            "-oG",
            &f("a.gnmap"),
            "127.0.0.1",
        ],
    );
    assert!(d.join("vigie/history.db").exists());
    let list = ok(&d, &["history"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("ID  START"), "{list}");
    assert!(lines[1].trim_start().starts_with("1  ") && lines[1].contains("complete"));
    assert!(
        lines[1].contains("connect") && lines[1].ends_with("127.0.0.1"),
        "{list}"
    );
    ok(
        &d,
        &[
            "history",
            "show",
            "1",
            "-oX",
            &f("b.xml"),
            "-oJ",
            &f("b.jsonl"),
            "-oN",
            &f("b.nmap"),
            "-oG",
            &f("b.gnmap"),
        ],
    );
    for ext in ["xml", "jsonl", "nmap", "gnmap"] {
        let a = std::fs::read_to_string(d.join(format!("a.{ext}"))).unwrap();
        let b = std::fs::read_to_string(d.join(format!("b.{ext}"))).unwrap();
        assert_eq!(a, b, "-o{ext} of the stored scan differs from the scan's");
    }
    // --no-history: nothing recorded.
    ok(
        &d,
        &[
            "-sT",
            "-Pn",
            "-n",
            "-p",
            "1-10",
            "--no-history",
            "127.0.0.1",
        ],
    );
    assert_eq!(ok(&d, &["history"]).lines().count(), 2);
    // -n and --target choose.
    ok(&d, &["-sT", "-Pn", "-n", "-p", "1-10", "127.0.0.1"]);
    assert_eq!(ok(&d, &["history", "-n", "1"]).lines().count(), 2);
    assert_eq!(
        ok(&d, &["history", "--target", "127.0.0.1"])
            .lines()
            .count(),
        3
    );
    let none = vigie(&d, &["history", "--target", "127.0.0.2"]);
    assert_eq!(none.status.code(), Some(0));
    assert!(none.stdout.is_empty());
}

#[test]
fn no_store_yet_is_said_not_an_error() {
    let d = scratch("empty");
    let out = vigie(&d, &["history"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no scan recorded yet"));
    assert!(!d.join("vigie").exists(), "reading created a store");
    refused(&d, &["history", "show", "1"], "history: sqlite:");
}

#[test]
fn bad_stores_are_one_line_and_left_unchanged() {
    let d = scratch("bad");
    let junk = d.join("junk.db");
    let bytes = b"not a database at all\n".repeat(300);
    std::fs::write(&junk, &bytes).unwrap();
    let junk_url = format!("sqlite:{}", junk.display());
    let out_xml = d.join("out.xml");
    // A scan refuses a bad store before anything is written or sent.
    refused(
        &d,
        &[
            "-sT",
            "-Pn",
            "-n",
            "-p",
            "1-10",
            "--db",
            &junk_url,
            "-oX",
            &out_xml.display().to_string(),
            "127.0.0.1",
        ],
        "history: sqlite:",
    );
    assert!(
        !out_xml.exists(),
        "an output was created for a refused scan"
    );
    assert_eq!(std::fs::read(&junk).unwrap(), bytes, "the file was changed");
    refused(&d, &["history", "--db", &junk_url], "history: sqlite:");
    assert_eq!(std::fs::read(&junk).unwrap(), bytes, "the file was changed");
    refused(
        &d,
        &["-sT", "-n", "-p", "1", "--db", "mysql://h/db", "127.0.0.1"],
        "--db: bad database URL \"mysql://h/db\"",
    );
    refused(
        &d,
        &["history", "--db", "nope"],
        "--db: bad database URL \"nope\"",
    );
    // An unreachable server (a socket directory with no server in it).
    let sock = d.join("nopg").display().to_string().replace('/', "%2F");
    refused(
        &d,
        &[
            "-sT",
            "-n",
            "-p",
            "1",
            "--db",
            &format!("postgres://vigie@{sock}/x"),
            "127.0.0.1",
        ],
        "history: postgres://vigie@",
    );
    refused(
        &d,
        &[
            "-sT",
            "-n",
            "-p",
            "1",
            "--db",
            "sqlite:x.db",
            "--no-history",
            "127.0.0.1",
        ],
        "--db names where to record the scan; --no-history says not to",
    );
    let out = Command::new(VIGIE)
        .args(["history"])
        .env("VIGIE_DB", "bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "vigie: VIGIE_DB: bad database URL \"bogus\": expected sqlite:PATH or postgres://user@host:port/db\n"
    );
    // A named store that does not exist is an error (a typo), and is not created.
    let missing = d.join("missing.db");
    refused(
        &d,
        &["history", "--db", &format!("sqlite:{}", missing.display())],
        "history: sqlite:",
    );
    assert!(!missing.exists());
}

#[test]
fn history_words_are_checked() {
    let d = scratch("words");
    refused(&d, &["history", "show"], "history show needs a scan id");
    refused(
        &d,
        &["history", "show", "x1"],
        "history show: 'x1' is not a scan id",
    );
    refused(&d, &["history", "list"], "history: unexpected 'list'");
    refused(
        &d,
        &["history", "-oX", "a.xml"],
        "history: -oX/-oJ/-oN/-oG write one scan",
    );
    refused(
        &d,
        &["history", "-n", "0"],
        "invalid value '0' for '-n': expected a count of scans (1 or more)",
    );
    refused(
        &d,
        &["history", "--tagret", "x"],
        "unknown option '--tagret' (did you mean --target?)",
    );
    // An unknown id in a store that exists.
    ok(&d, &["-sT", "-Pn", "-n", "-p", "1", "127.0.0.1"]);
    refused(&d, &["history", "show", "42"], "history: sqlite:");
    let out = vigie(&d, &["history", "show", "42"]);
    assert!(String::from_utf8_lossy(&out.stderr).ends_with("no scan 42 in the store\n"));
    let help = ok(&d, &["history", "--help"]);
    assert!(help.contains("--target"));
    for line in help.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
}

/// `vigie diff` on stored scans: ids, one id, none; and what it refuses.
#[test]
fn diff_of_stored_scans() {
    let d = scratch("diff");
    let f = |n: &str| d.join(n).display().to_string();
    // No store yet.
    refused(&d, &["diff"], "history: sqlite:");
    let a = ["-sT", "-Pn", "-n", "-p", "1-200", "127.0.0.1"];
    ok(&d, &a);
    refused(
        &d,
        &["diff"],
        "diff: the history has no two complete scans of the same targets",
    );
    refused(
        &d,
        &["diff", "1"],
        "diff: no other complete scan of 127.0.0.1 in the history",
    );
    // The same scan again (nothing changed on loopback's first 200 ports
    // between two runs a moment apart, or the test says what did).
    ok(&d, &[&a[..], &["-oX", &f("two.xml")]].concat());
    for args in [
        &["diff"][..],
        &["diff", "1"],
        &["diff", "2"],
        &["diff", "1", "2"],
    ] {
        let out = vigie(&d, args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        // ndiff's banner lines (the command lines differ), nothing else.
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.lines()
                .all(|l| l.starts_with("-vigie ") || l.starts_with("+vigie ")),
            "{args:?}: {text}"
        );
    }
    // A stored scan against a file: the same scan, written by -oX.
    let out = vigie(&d, &["diff", "2", &f("two.xml")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The labels name the stored scans.
    let out = vigie(&d, &["diff", "-oJ", "-", "1", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"file\":\"scan 1\"") && text.contains("\"file\":\"scan 2\""),
        "{text}"
    );
    // Another port list: the extra ports are changes (scanned in one only).
    ok(&d, &["-sT", "-Pn", "-n", "-p", "1-201", "127.0.0.1"]);
    let out = vigie(&d, &["diff", "-oJ", "-", "2", "3"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\"port\":201"),
        "{out:?}"
    );
    refused(&d, &["diff", "9"], "history: sqlite:");
    refused(
        &d,
        &["diff", "1", "x9"],
        "diff: x9: no such file or scan id",
    );
    refused(&d, &["diff", &f("two.xml")], "diff: ");
    refused(
        &d,
        &["diff", "--db", "nope", "1", "2"],
        "--db: bad database URL",
    );
}
