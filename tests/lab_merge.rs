//! `vigie merge` on XML: three shards of a full SYN scan of the standard lab
//! written with -oX, merged, must give a DTD-valid document equal port for
//! port to the unsharded scan and exact against the layout. Plus the bad
//! inputs `vigie merge` must refuse (exit 2, one line, no panic), which
//! need no lab.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use vigie_lab::{Lab, LabTechnique, Layout};

const DTD: &str = "/usr/share/nmap/nmap.dtd";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// (state, reason) per TCP port of the one host of an XML document, read
/// without vigie's own reader: listed `<port>`s plus the ports of every
/// `<extrareasons>`. Also returns the `<hosts up down total>` counts.
fn xml_states(xml: &str) -> (States, (String, String, String)) {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let key = format!(" {name}=\"");
        let i = tag.find(&key)? + key.len();
        let j = tag[i..].find('"')? + i;
        Some(tag[i..j].to_owned())
    };
    let mut states = States::new();
    let mut put = |port: u16, st: String, why: String| {
        assert!(
            states.insert(port, (st, why)).is_none(),
            "port {port} twice"
        );
    };
    let mut hosts = 0;
    let mut counts = None;
    let mut extra_state: Option<String> = None;
    let mut port: Option<u16> = None;
    for raw in xml.split('<').skip(1) {
        let tag = raw.split('>').next().unwrap_or("");
        let name = tag.split([' ', '/']).next().unwrap_or("");
        match name {
            "host" => hosts += 1,
            "extraports" => extra_state = attr(tag, "state"),
            "extrareasons" => {
                assert_eq!(attr(tag, "proto").as_deref(), Some("tcp"));
                let st = extra_state
                    .clone()
                    .expect("extrareasons outside extraports");
                let why = attr(tag, "reason").unwrap();
                let list = attr(tag, "ports").unwrap();
                let mut n = 0;
                for part in list.split(',') {
                    let (a, b) = part.split_once('-').unwrap_or((part, part));
                    for p in a.parse::<u16>().unwrap()..=b.parse::<u16>().unwrap() {
                        put(p, st.clone(), why.clone());
                        n += 1;
                    }
                }
                assert_eq!(attr(tag, "count"), Some(n.to_string()), "{tag}");
            }
            "port" => {
                assert_eq!(attr(tag, "protocol").as_deref(), Some("tcp"));
                port = attr(tag, "portid").map(|p| p.parse().unwrap());
            }
            "state" => {
                let p = port.take().expect("<state> outside <port>");
                put(p, attr(tag, "state").unwrap(), attr(tag, "reason").unwrap());
            }
            "hosts" => {
                counts = Some((
                    attr(tag, "up").unwrap(),
                    attr(tag, "down").unwrap(),
                    attr(tag, "total").unwrap(),
                ))
            }
            _ => {}
        }
    }
    assert_eq!(hosts, 1, "expected one <host>:\n{xml}");
    (states, counts.expect("no <hosts> in <runstats>"))
}

fn dtd_valid(path: &Path) {
    let out = Command::new("xmllint")
        .args(["--noout", "--dtdvalid", DTD])
        .arg(path)
        .output()
        .expect("run xmllint (libxml2-utils)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{} is not valid against {DTD}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Shards 0..3 of one seed written with -oX: each DTD-valid, disjoint; the
/// merged XML is DTD-valid, counts one host up, equals the unsharded -oX
/// scan port for port (ndiff sees no port change) and is exact. The same
/// shards merged to JSON Lines (-oJ) give the same ports.
#[test]
fn xml_shards_merge_into_the_whole_scan() {
    vigie_lab::require_root().unwrap();
    let lab = Lab::new(&Layout::standard()).expect("build lab");
    let target = lab.target_v4().to_string();
    let dir = scratch("merge-xml");
    let scan = ["-sS", "-p-", "-n", "--seed", "91"];
    let mut union = States::new();
    let mut files: Vec<PathBuf> = Vec::new();
    for i in 0..3 {
        let file = dir.join(format!("shard{i}.xml"));
        let out = lab
            .scanner_cmd(VIGIE)
            .args(scan)
            .args(["--shard", &format!("{i}/3"), "-oX"])
            .arg(&file)
            .arg(&target)
            .output()
            .expect("run vigie");
        check_output("vigie shard", &out);
        dtd_valid(&file);
        let (part, _) = xml_states(&read(&file));
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

    let whole_file = dir.join("whole.xml");
    let out = lab
        .scanner_cmd(VIGIE)
        .args(scan)
        .arg("-oX")
        .arg(&whole_file)
        .arg(&target)
        .output()
        .expect("run vigie");
    check_output("vigie whole", &out);
    let (whole, _) = xml_states(&read(&whole_file));

    // Default output: XML on stdout, like the inputs.
    let merged = Command::new(VIGIE)
        .arg("merge")
        .args(&files)
        .output()
        .expect("run vigie merge");
    check_output("vigie merge", &merged);
    let merged_file = dir.join("merged.xml");
    std::fs::write(&merged_file, &merged.stdout).unwrap();
    dtd_valid(&merged_file);
    let (states, counts) = xml_states(&read(&merged_file));
    assert_eq!(counts, ("1".into(), "0".into(), "1".into()));
    let text = read(&merged_file);
    assert!(
        text.contains(" --seed 91 -oX ") && !text.contains("shard 0/3"),
        "the merged run should be the whole scan's command line:\n{}",
        &text[..text.len().min(600)]
    );
    assert_eq!(states, union);
    assert_eq!(states, whole);
    assert_exact(&lab, LabTechnique::Syn, false, &states, 1..=65535);

    // ndiff: the runs differ in their command line only, no port line.
    let nd = Command::new("ndiff")
        .arg(&whole_file)
        .arg(&merged_file)
        .output()
        .expect("run ndiff");
    let text = String::from_utf8_lossy(&nd.stdout);
    assert!(matches!(nd.status.code(), Some(0 | 1)), "ndiff: {nd:?}");
    assert!(
        !text.lines().any(|l| l.contains("/tcp")),
        "ndiff sees port changes:\n{text}"
    );

    // -oX FILE and -oJ - at once: the same file, and JSON with every port.
    let again = dir.join("again.xml");
    let both = Command::new(VIGIE)
        .arg("merge")
        .arg("-oX")
        .arg(&again)
        .args(["-oJ", "-"])
        .args(&files)
        .output()
        .expect("run vigie merge");
    check_output("vigie merge -oX -oJ", &both);
    assert_eq!(read(&again), read(&merged_file));
    let json = json_states(&String::from_utf8_lossy(&both.stdout), &target);
    assert_eq!(json, union);
}

// ---- bad input: exit 2, one line on stderr, nothing on stdout ----

/// A small document as vigie writes it (one host, ports 1-30; 22 open).
fn small_xml(port22: &str, reason22: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<!-- vigie 0.1.0 scan initiated Sat Nov 21 04:58:06 2026 as: vigie -sS -n -p 1-30 198.18.0.2 -->
<nmaprun scanner="nmap" args="vigie -sS -n -p 1-30 198.18.0.2" start="1795237086" startstr="Sat Nov 21 04:58:06 2026" version="0.1.0" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="30" services="1-30"/>
<verbose level="0"/>
<debugging level="0"/>
<host starttime="1795237086" endtime="1795237086"><status state="up" reason="reset" reason_ttl="64"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<hostnames>
</hostnames>
<ports><extraports state="closed" count="29">
<extrareasons reason="reset" count="29" proto="tcp" ports="1-21,23-30"/>
</extraports>
<port protocol="tcp" portid="22"><state state="{port22}" reason="{reason22}" reason_ttl="64"/><service name="ssh" method="table" conf="3"/></port>
</ports>
<times srtt="2" rttvar="1" to="100000"/>
</host>
<runstats><finished time="1795237086" timestr="Sat Nov 21 04:58:06 2026" summary="vigie done at Sat Nov 21 04:58:06 2026; 1 IP address (1 host up) scanned in 0.08 seconds" elapsed="0.08" exit="success"/><hosts up="1" down="0" total="1"/>
</runstats>
</nmaprun>
"#
    )
}

const SMALL_JSON: &str = concat!(
    r#"{"type":"run","scanner":"vigie","version":"0.1.0","args":"vigie -sS -p 22","start":1795237086,"verbose":0,"scans":[{"technique":"syn","proto":"tcp","count":1,"ports":"22"}]}"#,
    "\n",
    r#"{"type":"host","addr":"198.18.0.2","hostname":null,"mac":null,"status":"up","reason":"reset","reason_ttl":64,"latency_us":2,"start":1795237086,"end":1795237086,"srtt_us":2,"rttvar_us":1,"timeout_us":100000,"ports":[{"proto":"tcp","port":22,"state":"open","reason":"syn-ack","ttl":64,"service":"ssh"}]}"#,
    "\n",
    r#"{"type":"stats","end":1795237086,"elapsed_us":80000,"hosts_up":1,"hosts_down":0,"hosts_total":1}"#,
    "\n"
);

struct Files(PathBuf);

impl Files {
    fn new(tag: &str) -> Files {
        Files(scratch(tag))
    }
    fn put(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn merge(args: &[&str]) -> Output {
    // The expected outputs spell their times in UTC.
    Command::new(VIGIE)
        .env("TZ", "UTC")
        .arg("merge")
        .args(args)
        .output()
        .expect("run vigie merge")
}

/// Exit status 2, nothing on stdout, one stderr line "vigie: …" that
/// contains `want`.
fn refused(args: &[&str], want: &str) {
    let out = merge(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    assert!(out.stdout.is_empty(), "{args:?}: stdout {out:?}");
    assert_eq!(err.lines().count(), 1, "{args:?}: stderr {err}");
    assert!(err.starts_with("vigie: "), "{err}");
    assert!(err.contains(want), "{args:?}: wanted {want:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn merge_refuses_bad_inputs() {
    let f = Files::new("merge-bad");
    let good = f.put("good.xml", &small_xml("open", "syn-ack"));
    let good2 = f.put("good2.xml", &small_xml("open", "syn-ack"));
    let json = f.put("good.jsonl", SMALL_JSON);

    // The good ones do merge (so the refusals below are about the input).
    let ok = merge(&[&good, &good2]);
    check_output("vigie merge good good2", &ok);
    assert_eq!(
        String::from_utf8_lossy(&ok.stdout),
        small_xml("open", "syn-ack")
    );
    check_output("vigie merge json", &merge(&[&json, &json]));

    let missing = f.0.join("missing.xml").display().to_string();
    refused(&[&good, &missing], "cannot read ");
    refused(&[&f.0.display().to_string()], "cannot read ");
    refused(&[], "usage: vigie merge");
    refused(&["-oX"], "merge: option '-oX' needs a value");
    refused(
        &["--frobnicate", &good],
        "merge: unknown option '--frobnicate'",
    );

    let text = f.put("notes.txt", "these are not scan results\n");
    refused(&[&text], "not a vigie output");
    let empty = f.put("empty.xml", "\n\n");
    refused(&[&empty], "empty file");
    let nmap = f.put(
        "nmap.xml",
        &small_xml("open", "syn-ack")
            .replace("vigie 0.1.0 scan initiated", "Nmap 7.93 scan initiated"),
    );
    refused(
        &[&nmap],
        "written by Nmap: vigie merge joins the shards of a vigie scan",
    );
    let html = f.put("page.html", "<html><body>hello</body></html>\n");
    refused(&[&html], "not a vigie XML output");
    let other_json = f.put("other.jsonl", "{\"hello\": 1}\n");
    refused(&[&other_json], "not a vigie JSON Lines record");

    let whole = small_xml("open", "syn-ack");
    for cut in [
        whole.len() / 3,
        whole.find("</host>").unwrap(),
        whole.len() - 12,
    ] {
        let t = f.put("cut.xml", &whole[..cut]);
        refused(&[&good, &t], &format!("{t}: "));
    }
    let t = f.put("cut.xml", &whole[..whole.find("<runstats>").unwrap()]);
    refused(&[&t], "truncated XML");
    let t = f.put(
        "cut.jsonl",
        &SMALL_JSON[..SMALL_JSON.rfind("{\"type\"").unwrap()],
    );
    refused(&[&t], "truncated JSON Lines");
    let bad_count = f.put("count.xml", &whole.replace("count=\"29\"", "count=\"28\""));
    refused(&[&bad_count], "count=28");

    refused(&[&good, &json], "all inputs must be -oX or all -oJ");
    refused(&[&json, &good], "all inputs must be -oX or all -oJ");

    let closed = f.put("closed.xml", &small_xml("filtered", "no-response"));
    refused(
        &[&good, &closed],
        &format!(
            "host 198.18.0.2 port 22/tcp: open (syn-ack) in {good} but filtered (no-response) in {closed}"
        ),
    );
    // An output file that cannot be created.
    let nowhere = f.0.join("no/such/dir/m.xml").display().to_string();
    let out = merge(&["-oX", &nowhere, &good]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn merge_converts_between_formats() {
    let f = Files::new("merge-convert");
    let xml = f.put("a.xml", &small_xml("open", "syn-ack"));
    let out = merge(&["-oJ", "-", &xml]);
    check_output("vigie merge -oJ", &out);
    let states = json_states(&String::from_utf8_lossy(&out.stdout), "198.18.0.2");
    let mut want: BTreeMap<u16, (String, String)> = (1..=30)
        .map(|p| (p, ("closed".to_string(), "reset".to_string())))
        .collect();
    want.insert(22, ("open".into(), "syn-ack".into()));
    assert_eq!(states, want);

    let json = f.put("a.jsonl", SMALL_JSON);
    let out = merge(&["-oN", "-", &json]);
    check_output("vigie merge -oN", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\n22/tcp open  ssh\n"), "{text}");
    assert!(
        text.contains("1 IP address (1 host up) scanned in 0.08 seconds"),
        "{text}"
    );
}
