//! The flag table's products, checked from the outside: `--help`, the man
//! page (`groff -man -ww -z` silent, every flag of `--help` on it), the
//! completion scripts (`bash -n` / `zsh -n` / `fish -n`, and bash and fish
//! really offering every long flag), docs/usage.md naming every flag, the
//! typo suggestions and the nmap options vigie does not have yet.
//!
//! Nothing here scans: every run stops at the command line. The runs that
//! would go on use only loopback, inside an empty network namespace when
//! one is available.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Output, Stdio};

#[allow(dead_code)]
#[path = "../crates/cli/args.rs"]
mod args;

const VIGIE: &str = env!("CARGO_BIN_EXE_vigie");

fn vigie(args: &[&str]) -> Output {
    Command::new(VIGIE)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run vigie")
}

fn stdout_of(args: &[&str]) -> String {
    let out = vigie(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
    assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Runs `sh -c script` with `input` on stdin.
fn shell(program: &str, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e} (is it installed? .ci/run installs it)"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

/// The flags `--help` shows, as its lines spell them: `-p <ports>` → `-p`,
/// `-h, --help` → `-h` and `--help`, `-PS[ports]` → `-PS`.
fn help_flags() -> BTreeSet<String> {
    let help = stdout_of(&["--help"]);
    let mut flags = BTreeSet::new();
    for line in help.lines() {
        let Some(rest) = line.strip_prefix("  -") else {
            continue;
        };
        let Some((names, _)) = format!("-{rest}")
            .split_once(": ")
            .map(|(a, b)| (a.to_string(), b.to_string()))
        else {
            continue;
        };
        for name in names.split(", ") {
            let name = name.split([' ', '[', '<']).next().unwrap_or("").to_string();
            if name.len() > 1 {
                flags.insert(name);
            }
        }
    }
    flags
}

#[test]
fn help_shows_the_table() {
    let flags = help_flags();
    // The help is the table's: every listed spelling is there, and nothing
    // else looks like a flag line.
    let listed: BTreeSet<String> = args::SCAN
        .iter()
        .filter(|f| f.show == args::flags::Show::Listed)
        .flat_map(|f| f.spell.iter().map(|s| s.text().to_string()))
        .collect();
    assert_eq!(flags, listed);
    assert!(flags.len() > 50, "{flags:?}");
    for hidden in ["--block-probes", "--tx-threads"] {
        assert!(!flags.contains(hidden), "{hidden}");
    }
}

#[test]
fn man_page_is_clean_and_complete() {
    let man = stdout_of(&["--generate", "man"]);
    let out = shell("groff", &["-man", "-ww", "-z"], &man);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warned");
    // The page as a reader sees it: every flag of --help is on it.
    let text = shell("groff", &["-man", "-Tascii", "-P-cbu", "-rLL=200n"], &man);
    assert_eq!(text.status.code(), Some(0), "{text:?}");
    let text = String::from_utf8_lossy(&text.stdout).replace('\u{2010}', "-");
    for flag in help_flags() {
        let found = text.match_indices(&flag).any(|(i, _)| {
            !text[i + flag.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '-')
        });
        assert!(found, "man page lacks {flag}");
    }
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "EXIT STATUS",
        "EXAMPLES",
    ] {
        assert!(text.lines().any(|l| l == section), "no {section} section");
    }
    // Also the nmap options that are not here yet, and merge's flags.
    assert!(text.contains("NMAP OPTIONS NOT IN VIGIE YET"));
    assert!(text.contains("-sC"));
    assert!(text.contains("VIGIE MERGE"));
    assert!(text.contains("VIGIE DIFF"));
    assert!(
        text.contains("vigie diff [-v]"),
        "no synopsis line for vigie diff"
    );
}

fn long_flags() -> Vec<String> {
    help_flags()
        .into_iter()
        .filter(|f| f.starts_with("--"))
        .collect()
}

#[test]
fn completion_scripts_parse() {
    for (shell_name, kind) in [
        ("bash", "complete-bash"),
        ("zsh", "complete-zsh"),
        ("fish", "complete-fish"),
    ] {
        let script = stdout_of(&["--generate", kind]);
        let dir = std::env::temp_dir().join(format!(
            "vigie-complete-{}-{shell_name}",
            std::process::id()
        ));
        std::fs::write(&dir, &script).expect("write script");
        let out = Command::new(shell_name)
            .arg("-n")
            .arg(&dir)
            .output()
            .unwrap_or_else(|e| panic!("{shell_name}: {e} (.ci/run installs it)"));
        let _ = std::fs::remove_file(&dir);
        assert!(out.status.success(), "{shell_name} -n: {out:?}");
        assert!(out.stderr.is_empty(), "{shell_name} -n: {out:?}");
        for flag in long_flags() {
            assert!(
                script.contains(flag.trim_start_matches('-')),
                "{kind} lacks {flag}"
            );
        }
    }
    let ps = stdout_of(&["--generate", "complete-powershell"]);
    for flag in long_flags() {
        assert!(ps.contains(&format!("'{flag}'")), "powershell lacks {flag}");
    }
}

#[test]
fn bash_offers_every_long_flag() {
    let script = stdout_of(&["--generate", "complete-bash"]);
    let probe = format!(
        "{script}\nCOMP_WORDS=(vigie --); COMP_CWORD=1; _vigie; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         echo ::T; COMP_WORDS=(vigie -T ''); COMP_CWORD=2; _vigie; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         echo ::merge; COMP_WORDS=(vigie merge -); COMP_CWORD=2; _vigie; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         echo ::diff; COMP_WORDS=(vigie diff -); COMP_CWORD=2; _vigie; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         echo ::sub; COMP_WORDS=(vigie di); COMP_CWORD=1; _vigie; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         echo ::history; COMP_WORDS=(vigie history -); COMP_CWORD=2; _vigie; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         echo ::show; COMP_WORDS=(vigie history ''); COMP_CWORD=2; _vigie; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         echo ::watch; COMP_WORDS=(vigie watch -); COMP_CWORD=2; _vigie; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n\
         echo ::subs; COMP_WORDS=(vigie ''); COMP_CWORD=1; _vigie; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    );
    let out = shell("bash", &["--norc", "-s"], &probe);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split("::");
    let offered: BTreeSet<&str> = parts.next().unwrap_or("").lines().collect();
    for flag in long_flags() {
        assert!(
            offered.contains(flag.as_str()),
            "bash does not offer {flag}"
        );
    }
    let timing: Vec<&str> = parts.next().unwrap_or("").lines().skip(1).collect();
    assert!(
        timing.contains(&"4") && timing.contains(&"insane"),
        "{timing:?}"
    );
    let merge: BTreeSet<&str> = parts.next().unwrap_or("").lines().skip(1).collect();
    for f in ["-oX", "-oJ", "-oN", "-oG", "--help"] {
        assert!(merge.contains(f), "merge: {f} not offered: {merge:?}");
    }
    assert!(!merge.contains("--top-ports"), "{merge:?}");
    let diff: BTreeSet<&str> = parts.next().unwrap_or("").lines().skip(1).collect();
    assert_eq!(
        diff,
        BTreeSet::from(["-v", "-oX", "-oJ", "--db", "-h", "--help"]),
        "diff's flags"
    );
    let sub: Vec<&str> = parts.next().unwrap_or("").lines().skip(1).collect();
    assert!(sub.contains(&"diff"), "{sub:?}");
    let history: BTreeSet<&str> = parts.next().unwrap_or("").lines().skip(1).collect();
    for f in [
        "--db", "--target", "-n", "-oX", "-oJ", "-oN", "-oG", "--help",
    ] {
        assert!(history.contains(f), "history: {f} not offered: {history:?}");
    }
    assert!(!history.contains("-p"), "{history:?}");
    let show: Vec<&str> = parts.next().unwrap_or("").lines().skip(1).collect();
    assert_eq!(show, ["show"], "history's subcommand");
    let watch: BTreeSet<&str> = parts.next().unwrap_or("").lines().skip(1).collect();
    for f in ["-i", "-oJ", "--syslog", "--block", "--allow", "--block-for"] {
        assert!(watch.contains(f), "watch: {f} not offered: {watch:?}");
    }
    let subs: BTreeSet<&str> = parts.next().unwrap_or("").lines().skip(1).collect();
    for w in ["merge", "history", "diff", "watch"] {
        assert!(subs.contains(w), "subcommand {w} not offered: {subs:?}");
    }
}

#[test]
fn fish_offers_every_long_flag() {
    let script = stdout_of(&["--generate", "complete-fish"]);
    let dir = std::env::temp_dir().join(format!("vigie-fish-{}", std::process::id()));
    std::fs::write(&dir, &script).expect("write");
    let cmd = format!("source {}; complete -C 'vigie --'", dir.display());
    let out = Command::new("fish")
        .args(["--no-config", "-c", &cmd])
        .output()
        .expect("fish (.ci/run installs it)");
    let _ = std::fs::remove_file(&dir);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let offered: BTreeSet<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap_or(""))
        .collect();
    for flag in long_flags() {
        assert!(
            offered.contains(flag.as_str()),
            "fish does not offer {flag}: {offered:?}"
        );
    }
}

#[test]
fn usage_doc_names_every_flag() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/usage.md"))
        .expect("docs/usage.md");
    let named = |flag: &str| {
        doc.match_indices(&format!("`{flag}")).any(|(i, m)| {
            !doc[i + m.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '-')
        })
    };
    for f in args::SCAN
        .iter()
        .filter(|f| f.show != args::flags::Show::Pending)
    {
        for s in f.spell {
            assert!(named(s.text()), "docs/usage.md does not name {}", s.text());
        }
    }
    for f in args::MERGE {
        for s in f.spell {
            assert!(
                named(s.text()),
                "docs/usage.md does not name merge's {}",
                s.text()
            );
        }
    }
    for f in args::HISTORY {
        for s in f.spell {
            assert!(
                named(s.text()),
                "docs/usage.md does not name history's {}",
                s.text()
            );
        }
    }
    for f in args::DIFF {
        for s in f.spell {
            assert!(
                named(s.text()),
                "docs/usage.md does not name diff's {}",
                s.text()
            );
        }
    }
    for f in args::WATCH
        .iter()
        .filter(|f| f.show != args::flags::Show::Hidden)
    {
        for s in f.spell {
            assert!(
                named(s.text()),
                "docs/usage.md does not name watch's {}",
                s.text()
            );
        }
    }
}

/// Exit 2, nothing on stdout, one stderr line equal to `want`.
fn refused(args: &[&str], want: &str) {
    let out = vigie(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("vigie: {want}\n"),
        "{args:?}"
    );
}

#[test]
fn typos_get_a_suggestion() {
    refused(
        &["--top-port", "10", "127.0.0.1"],
        "unknown option '--top-port' (did you mean --top-ports?)",
    );
    refused(
        &["-pn", "127.0.0.1"],
        "unknown option '-pn' (did you mean -Pn?)",
    );
    refused(
        &["--max-retry", "2", "127.0.0.1"],
        "unknown option '--max-retry' (did you mean --max-retries?)",
    );
    refused(
        &["--packet-trac", "127.0.0.1"],
        "unknown option '--packet-trac' (did you mean --packet-trace?)",
    );
    refused(
        &["merge", "-oXX", "a.xml"],
        "cannot read a.xml: No such file or directory (os error 2)",
    );
    refused(
        &["merge", "--hepl"],
        "merge: unknown option '--hepl' (did you mean --help?)",
    );
}

#[test]
fn nmap_options_not_here_yet() {
    for (args, want) in [
        (&["-O"][..], "-O (OS detection)"),
        (&["-sC"], "-sC (the default scripts)"),
        (&["--script", "default"], "--script (NSE scripts)"),
        (&["-sO"], "-sO (IP protocol scan)"),
        (&["-sY"], "-sY (SCTP INIT scan)"),
        (&["-b", "relay"], "-b (FTP bounce scan)"),
        (&["--traceroute"], "--traceroute (traceroute)"),
    ] {
        let mut v = args.to_vec();
        v.extend(["-n", "127.0.0.1"]);
        refused(
            &v,
            &format!("{want} is an nmap option that vigie does not have yet"),
        );
    }
}

#[test]
fn resume_takes_no_other_option() {
    refused(
        &["--resume", "r.json", "-sS"],
        "--resume takes no other option or target: the scan's own are in the file",
    );
    refused(
        &["--resume", "/nonexistent/r.json"],
        "cannot read resume file /nonexistent/r.json: No such file or directory (os error 2)",
    );
}

/// Runs vigie on loopback only: inside an empty network namespace with its
/// loopback up when this machine allows one (as root), else directly.
fn on_loopback(args: &[&str]) -> Output {
    let isolated = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up"])
        .status()
        .is_ok_and(|s| s.success());
    let mut cmd = if isolated {
        let mut c = Command::new("unshare");
        c.args([
            "-n",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
            VIGIE,
        ]);
        c
    } else {
        Command::new(VIGIE)
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run vigie")
}

#[test]
fn exclude_ports_leaves_ports_out() {
    let out = on_loopback(&[
        "-sT",
        "-n",
        "-p",
        "20-30,U:53",
        "--exclude-ports",
        "22-25,U:53",
        "-oX",
        "-",
        "127.0.0.1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let xml = String::from_utf8_lossy(&out.stdout);
    assert!(
        xml.contains(
            "type=\"connect\" protocol=\"tcp\" numservices=\"7\" services=\"20-21,26-30\""
        ),
        "{xml}"
    );
    refused(
        &["-n", "-p", "22", "--exclude-ports", "1-100", "127.0.0.1"],
        "no TCP ports to scan: --exclude-ports leaves out all of them",
    );
    refused(
        &["-n", "--exclude-ports", "99999", "127.0.0.1"],
        "--exclude-ports: invalid port \"99999\": ports are 0-65535",
    );
}

#[test]
fn debug_prints_the_engine_decisions() {
    let out = on_loopback(&["-sT", "-d", "-n", "-p", "1-3", "127.0.0.1"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "session: 1 hosts to scan in 1 blocks",
        "block 1/1: 1 hosts",
        "block 1/1: Connect Scan of 3 ports, initial timeout ",
        "block 1/1: Connect Scan done: ",
    ] {
        assert!(text.contains(want), "-d lacks {want:?}:\n{text}");
    }
    // Without -d (or --packet-trace), none of it.
    let out = on_loopback(&["-sT", "-n", "-p", "1-3", "127.0.0.1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("session:") && !text.contains("CONN ("),
        "{text}"
    );
}

/// The `services="…"` of a run's XML `<scaninfo>`.
fn scanned(args: &[&str]) -> String {
    let out = on_loopback(args);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let xml = String::from_utf8_lossy(&out.stdout).into_owned();
    let i = xml.find(" services=\"").expect("scaninfo") + 11;
    xml[i..i + xml[i..].find('"').expect("quote")].to_string()
}

/// nmap's services table is read only when named: without `--servicedb`
/// the ranking is vigie's own even where nmap is installed.
#[test]
fn nmap_services_only_when_named() {
    let own = vigie_scan::services::ServiceDb::builtin()
        .top(30, vigie_scan::Proto::Tcp)
        .to_nmap_string();
    let base = ["-sT", "-n", "--top-ports", "30", "-oX", "-", "127.0.0.1"];
    assert_eq!(scanned(&base), own);
    let nmap = "/usr/share/nmap/nmap-services";
    assert!(
        std::path::Path::new(nmap).exists(),
        "{nmap} (the nmap package, which .ci/run installs)"
    );
    let mut named = base.to_vec();
    named.extend(["--servicedb", nmap]);
    let theirs = scanned(&named);
    assert_ne!(theirs, own, "nmap's ranking is not vigie's");
}

#[test]
fn version_database_mistakes_are_one_line() {
    let dir = std::env::temp_dir().join(format!("vigie-versiondb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let bad = dir.join("probes.txt");
    std::fs::write(&bad, "Probe TCP NULL q||\nmatch ssh m|^SSH| p/x\n").expect("write");
    let bad_s = bad.display().to_string();
    refused(
        &["-sV", "--versiondb", &bad_s, "-n", "127.0.0.1"],
        &format!("{bad_s}: line 2: match ssh: field p's closing delimiter is missing"),
    );
    let unbuildable = dir.join("regex.txt");
    std::fs::write(&unbuildable, "Probe TCP NULL q||\nmatch x m|^(a|\n").expect("write");
    let out = vigie(&[
        "-sV",
        "--versiondb",
        unbuildable.to_str().unwrap(),
        "-n",
        "127.0.0.1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("line 2"), "{err}");
    refused(
        &[
            "-sV",
            "--versiondb",
            "/nonexistent/p.txt",
            "-n",
            "127.0.0.1",
        ],
        "cannot read /nonexistent/p.txt: No such file or directory (os error 2)",
    );
    refused(
        &["--version-intensity", "3", "-n", "127.0.0.1"],
        "--versiondb, --version-intensity, --version-light, --version-all, --version-timeout and --version-trace need -sV",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `vigie watch`'s bad input: one line, exit 2, before any socket.
#[test]
fn watch_refuses_bad_input() {
    refused(
        &["watch", "--allow", "198.18.0.0/24"],
        "--allow and --block-for need --block",
    );
    refused(
        &["watch", "--block", "--allow", "198.18.0.0/33"],
        "--allow: bad prefix length in '198.18.0.0/33' (0-32)",
    );
    refused(
        &["watch", "198.18.0.2"],
        "vigie watch takes no targets or other words (got '198.18.0.2')",
    );
    refused(
        &["watch", "--blok"],
        "unknown option '--blok' (did you mean --block?)",
    );
    let out = vigie(&["watch", "-i", "vigie-no-such-if0"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("vigie: -i vigie-no-such-if0: no such interface (there are: ")
            && err.lines().count() == 1,
        "{err}"
    );
    let out = vigie(&["watch", "--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--block-for"));
}

/// A scratch directory for files the diff tests write, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
    fn put(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A one-host vigie -oX document with port 22 in `state`.
fn diff_xml(state: &str, reason: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<!-- vigie 0.1.0 scan initiated Sat Nov 21 04:58:06 2026 as: vigie -sS -p 22 198.18.0.2 -->
<nmaprun scanner="nmap" args="vigie -sS -p 22 198.18.0.2" start="1795237086" startstr="Sat Nov 21 04:58:06 2026" version="0.1.0" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="1" services="22"/>
<verbose level="0"/>
<host starttime="1795237086" endtime="1795237086"><status state="up" reason="reset" reason_ttl="64"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<hostnames>
</hostnames>
<ports><port protocol="tcp" portid="22"><state state="{state}" reason="{reason}" reason_ttl="64"/><service name="ssh" method="table" conf="3"/></port>
</ports>
</host>
<runstats><finished time="1795237086" timestr="Sat Nov 21 04:58:06 2026" summary="x" elapsed="0.08" exit="success"/><hosts up="1" down="0" total="1"/>
</runstats>
</nmaprun>
"#
    )
}

/// `vigie diff`: 0 the same, 1 a change, 2 and one line for bad input
/// (a missing, corrupt or truncated file, more than two inputs), never a
/// panic.
#[test]
fn diff_status_and_bad_input() {
    let f = Scratch::new("diff-cli");
    let open = f.put("open.xml", &diff_xml("open", "syn-ack"));
    let closed = f.put("closed.xml", &diff_xml("closed", "reset"));
    let out = vigie(&["diff", &open, &open]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    let out = vigie(&["diff", &open, &closed]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\n 198.18.0.2:\n"), "{text}");
    assert!(
        text.contains("\n-22/tcp open   ssh\n+22/tcp closed ssh\n"),
        "{text}"
    );
    assert!(out.stderr.is_empty(), "{out:?}");
    // -oJ - replaces the text on stdout
    let out = vigie(&["diff", "-oJ", "-", &open, &closed]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("\"change\":\"closed\""), "{}", lines[0]);
    assert!(
        lines[1].starts_with("{\"type\":\"summary\""),
        "{}",
        lines[1]
    );
    assert!(stdout_of(&["diff", "--help"]).contains("Usage: vigie diff"));

    // No word or one: stored scans (tests/cli_history.rs).
    let usage =
        "diff: usage: vigie diff [-v] [-oX FILE] [-oJ FILE] [--db URL] [A [B]] (files or scan ids)";
    refused(&["diff", &open, &open, &open], usage);
    let missing = f.0.join("missing.xml").display().to_string();
    refused(
        &["diff", &open, &missing],
        &format!("diff: {missing}: no such file or scan id (A and B are -oX or -oJ outputs, or ids from vigie history)"),
    );
    refused(
        &["diff", "--frob", &open, &open],
        "diff: unknown option '--frob' (see vigie diff --help)",
    );
    let whole = diff_xml("open", "syn-ack");
    let cut = f.put("cut.xml", &whole[..whole.find("<runstats>").unwrap()]);
    refused(
        &["diff", &open, &cut],
        &format!("diff: {cut}: truncated XML (no </nmaprun>)"),
    );
    let half = f.put("half.xml", &whole[..whole.len() / 2]);
    let corrupt = f.put(
        "corrupt.xml",
        &whole.replace("portid=\"22\"", "portid=\"x\""),
    );
    let text = f.put("notes.txt", "not a scan\n");
    let dir = f.0.display().to_string();
    for bad in [&half, &corrupt, &text, &dir] {
        let out = vigie(&["diff", &open, bad]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {out:?}");
        assert!(out.stdout.is_empty(), "{bad}: {out:?}");
        assert_eq!(err.lines().count(), 1, "{bad}: {err}");
        assert!(err.starts_with("vigie: diff: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
