//! The service lab (`vigie_lab::services`): real daemons from Debian
//! packages in the target namespace. (1) every ground-truth port answers as
//! its protocol does; (2) a differential recorder: `nmap -sV` (TCP) and
//! `nmap -sU -sV` (UDP) from the scanner namespace, compared with the
//! ground truth port by port, with both runs timed (and again with nmap's
//! "version" scripts turned off: its probes alone); and vigie -sV beside
//! it, with its own database (against the truth) and with nmap's file named
//! by `--versiondb` (against nmap's answers).
//!
//! nmap reads its own data files here (it is the reference being recorded);
//! vigie never reads them unless named with a flag.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vigie_lab::services::{check_answer, Check, Proto, ServiceLab, Truth};

/// One lab at a time: the nmap timings are for the bench and should not
/// share the two cores with another lab starting.
static ONE_LAB: Mutex<()> = Mutex::new(());

fn service_lab() -> ServiceLab {
    let t = Instant::now();
    let lab = ServiceLab::new().unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!(
        "service lab up in {:.1} s: {}",
        t.elapsed().as_secs_f64(),
        lab.daemons().join(", ")
    );
    lab
}

#[test]
fn every_port_answers() {
    let _one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = service_lab();
    let target = IpAddr::V4(lab.lab().target_v4());
    assert!(lab.truth().len() >= 20, "{} ports", lab.truth().len());
    for t in lab.truth() {
        let started = Instant::now();
        let got = lab
            .probe(target, t)
            .unwrap_or_else(|e| panic!("{} {} ({}): {e:#}", t.proto.as_str(), t.port, t.daemon));
        if let Err(e) = check_answer(t.check, &got) {
            panic!("{} {} ({}): {e:#}", t.proto.as_str(), t.port, t.daemon);
        }
        match t.check {
            Check::Silent => assert!(
                started.elapsed() >= Duration::from_secs(2),
                "silent port returned after {:?}",
                started.elapsed()
            ),
            Check::Closes => assert!(
                started.elapsed() < Duration::from_secs(1),
                "closing port took {:?}",
                started.elapsed()
            ),
            _ => {}
        }
        eprintln!(
            "{:>5}/{} {:<10} {:?}",
            t.port,
            t.proto.as_str(),
            t.daemon,
            String::from_utf8_lossy(&got[..got.len().min(60)])
        );
    }
    // Versions come from the packages, reduced to upstream.
    for t in lab.truth() {
        if let Some(v) = &t.version {
            assert!(!v.is_empty() && !v.contains(':'), "{t:?}");
        }
    }
}

/// What nmap's XML says about one port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Seen {
    state: String,
    name: Option<String>,
    product: Option<String>,
    version: Option<String>,
    tunnel: Option<String>,
    method: Option<String>,
    /// The nmap scripts that ran on the port (with -sV: those of the
    /// "version" category, which may rewrite the service's fields).
    scripts: Vec<String>,
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The value of `name="…"` in one XML tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The tag starting with `<elem ` inside `text`, up to its `>`.
fn tag<'a>(text: &'a str, elem: &str) -> Option<&'a str> {
    let start = text.find(&format!("<{elem} "))?;
    let end = text[start..].find('>')? + start;
    Some(&text[start..=end])
}

/// Per (proto, port) from nmap's `-oX`.
fn parse_nmap(xml: &str) -> BTreeMap<(Proto, u16), Seen> {
    let mut out = BTreeMap::new();
    for chunk in xml.split("<port ").skip(1) {
        let head = format!(" {}", &chunk[..chunk.find('>').unwrap_or(chunk.len())]);
        let body = &chunk[..chunk.find("</port>").unwrap_or(chunk.len())];
        let proto = match attr(&head, "protocol").as_deref() {
            Some("tcp") => Proto::Tcp,
            Some("udp") => Proto::Udp,
            other => panic!("port with protocol {other:?}"),
        };
        let port: u16 = attr(&head, "portid").and_then(|p| p.parse().ok()).unwrap();
        let state = tag(body, "state")
            .and_then(|t| attr(t, "state"))
            .unwrap_or_default();
        let svc = tag(body, "service");
        let get = |a: &str| svc.and_then(|t| attr(t, a));
        out.insert(
            (proto, port),
            Seen {
                state,
                name: get("name"),
                product: get("product"),
                version: get("version"),
                tunnel: get("tunnel"),
                method: get("method"),
                scripts: body
                    .split("<script ")
                    .skip(1)
                    .filter_map(|t| attr(&format!(" {t}"), "id"))
                    .collect(),
            },
        );
    }
    out
}

fn join(v: &[u16]) -> String {
    v.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
}

/// Run nmap in the scanner namespace; (XML, seconds).
fn nmap(lab: &ServiceLab, args: &[&str]) -> (String, f64) {
    let t = Instant::now();
    let out = lab
        .lab()
        .scanner_cmd("nmap")
        .args(args)
        .args(["-Pn", "-n", "--version-intensity", "7", "-oX", "-"])
        .arg(lab.lab().target_v4().to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run nmap (apt-get install nmap)");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "nmap {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), secs)
}

/// Run vigie -sV in the scanner namespace; (XML, seconds).
fn vigie(lab: &ServiceLab, args: &[&str]) -> (String, f64) {
    let t = Instant::now();
    let out = lab
        .lab()
        .scanner_cmd(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .args(["-Pn", "-n", "-oX", "-"])
        .arg(lab.lab().target_v4().to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run vigie");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "vigie {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), secs)
}

fn show(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

#[derive(Default)]
struct Score {
    ports: usize,
    name: usize,
    product: usize,
    version: usize,
}

fn name_right(t: &Truth, s: &Seen) -> bool {
    match t.name {
        // Nothing speaks: right unless nmap claims a probed service.
        None => s.method.as_deref() != Some("probed"),
        Some(n) => s.name.as_deref() == Some(n) && s.tunnel.as_deref() == t.tunnel,
    }
}

/// The TLS facts of every port the truth says is inside TLS are in the
/// JSON Lines (the lab's own certificate: subject, names, key, SHA-256 as
/// `openssl x509` reads them), and the XML with its service elements is
/// valid against nmap.dtd.
fn tls_fields_and_dtd(lab: &ServiceLab, json: &std::path::Path, xml: &str) {
    let cert = lab.dir().join("tls/cert.pem");
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    let fp: String = text
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(fp.len(), 64, "openssl x509 said {text:?}");
    let lines = std::fs::read_to_string(json).expect("vigie's -oJ file");
    let host = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .find(|v| v["type"] == "host")
        .expect("a host line");
    let tls_ports: Vec<u16> = lab
        .truth()
        .iter()
        .filter(|t| t.proto == Proto::Tcp && t.tunnel == Some("ssl"))
        .map(|t| t.port)
        .collect();
    assert!(!tls_ports.is_empty());
    for port in &tls_ports {
        let p = host["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .find(|p| p["proto"] == "tcp" && p["port"] == *port)
            .unwrap_or_else(|| panic!("port {port} in the JSON"));
        let tls = &p["detected"]["tls"];
        assert_eq!(tls["sha256"], fp.as_str(), "{port}: {tls}");
        assert_eq!(
            tls["subject"], "CN=lab.vigie.test, O=vigie lab",
            "{port}: {tls}"
        );
        assert_eq!(tls["key"], "rsa 2048", "{port}: {tls}");
        let sans: Vec<&str> = tls["sans"]
            .as_array()
            .expect("sans")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(sans, ["DNS:lab.vigie.test", "IP:198.18.0.2"], "{port}");
        let v = tls["version"].as_str().unwrap_or_default();
        assert!(v == "TLSv1.3" || v == "TLSv1.2", "{port}: {tls}");
        assert_eq!(p["detected"]["tunnel"], "ssl", "{port}: {p}");
    }
    let file = lab.dir().join("own-tcp.xml");
    std::fs::write(&file, xml).expect("write the XML");
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd"])
        .arg(&file)
        .output()
        .expect("xmllint (.ci/run installs libxml2-utils)");
    assert!(
        out.status.success(),
        "vigie -sV's XML is not valid against nmap.dtd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(xml.contains("method=\"probed\"") && xml.contains("<cpe>"));
    eprintln!(
        "TLS fields in -oJ right on {} ports ({}); -sV XML valid against nmap.dtd",
        tls_ports.len(),
        join(&tls_ports)
    );
}

#[test]
fn nmap_differential() {
    let _one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = service_lab();
    let tcp = lab.ports(Proto::Tcp);
    let udp = lab.ports(Proto::Udp);
    // nmap -sV as users run it (its "version" scripts too), and nmap's
    // probes alone: a --datadir whose script.db is empty (every other file
    // still comes from nmap's own directory), the reference vigie
    // --versiondb must equal, since vigie runs no scripts. The four runs
    // at once: they mostly wait.
    let bare = lab.dir().join("nmap-probes-only");
    std::fs::create_dir_all(bare.join("scripts")).expect("mkdir");
    std::fs::write(bare.join("scripts/script.db"), "").expect("script.db");
    let bare = bare.to_str().expect("a UTF-8 path");
    let (tcp_list, udp_list) = (join(&tcp), join(&udp));
    let jobs: [Vec<&str>; 4] = [
        vec!["-sV", "-p", &tcp_list],
        vec!["-sU", "-sV", "-p", &udp_list],
        vec!["--datadir", bare, "-sV", "-p", &tcp_list],
        vec!["--datadir", bare, "-sU", "-sV", "-p", &udp_list],
    ];
    let runs: Vec<(String, f64)> = std::thread::scope(|s| {
        let lab = &lab;
        let running: Vec<_> = jobs.iter().map(|a| s.spawn(move || nmap(lab, a))).collect();
        running
            .into_iter()
            .map(|h| h.join().expect("an nmap run"))
            .collect()
    });
    let [(tcp_xml, tcp_secs), (udp_xml, udp_secs), (bare_tcp, _), (bare_udp, _)] =
        <[(String, f64); 4]>::try_from(runs).expect("four runs");
    let mut seen = parse_nmap(&tcp_xml);
    seen.extend(parse_nmap(&udp_xml));
    let mut probes_only = parse_nmap(&bare_tcp);
    probes_only.extend(parse_nmap(&bare_udp));
    let tcp_ports = join(&tcp);
    let udp_ports = join(&udp);
    let nmap_db = [
        "--versiondb",
        "/usr/share/nmap/nmap-service-probes",
        "--servicedb",
        "/usr/share/nmap/nmap-services",
    ];
    let json = lab.dir().join("own-tcp.json");
    let json_arg = json.to_str().expect("a UTF-8 path");
    let (own_xml, own_secs) = vigie(&lab, &["-sT", "-sV", "-p", &tcp_ports, "-oJ", json_arg]);
    tls_fields_and_dtd(&lab, &json, &own_xml);
    let (own_udp_xml, own_udp_secs) = vigie(&lab, &["-sU", "-sV", "-p", &udp_ports]);
    let with = |scan: &str, ports: &str| {
        let mut a = vec![scan, "-sV"];
        a.extend(nmap_db);
        a.extend(["-p", ports]);
        vigie(&lab, &a)
    };
    let (nm_xml, nm_secs) = with("-sT", &tcp_ports);
    let (nm_udp_xml, nm_udp_secs) = with("-sU", &udp_ports);
    let mut own = parse_nmap(&own_xml);
    own.extend(parse_nmap(&own_udp_xml));
    let mut with_nmap_db = parse_nmap(&nm_xml);
    with_nmap_db.extend(parse_nmap(&nm_udp_xml));
    let mut own_score = Score::default();
    let mut same = 0;
    let mut scripted = Vec::new();
    let mut differ = Vec::new();
    for t in lab.truth() {
        let o = own.get(&(t.proto, t.port)).cloned().unwrap_or_default();
        own_score.ports += 1;
        own_score.name += usize::from(name_right(t, &o));
        own_score.product += usize::from(o.product.as_deref() == t.product);
        own_score.version += usize::from(t.version_matches(o.version.as_deref()));
        let n = probes_only
            .get(&(t.proto, t.port))
            .cloned()
            .unwrap_or_default();
        let v = with_nmap_db
            .get(&(t.proto, t.port))
            .cloned()
            .unwrap_or_default();
        // The state too: a UDP port open|filtered that answered a version
        // probe is open.
        let key = |s: &Seen| {
            (
                s.state.clone(),
                s.name.clone(),
                s.product.clone(),
                s.version.clone(),
                s.tunnel.clone(),
            )
        };
        let proto = t.proto.as_str();
        if key(&n) == key(&v) {
            same += 1;
        } else {
            differ.push(format!(
                "{}/{proto} {}: nmap {:?} | vigie --versiondb {:?}",
                t.port,
                t.daemon,
                key(&n),
                key(&v)
            ));
        }
        if seen.get(&(t.proto, t.port)) != probes_only.get(&(t.proto, t.port)) {
            scripted.push(format!(
                "{}/{proto} {}: nmap's scripts made it {:?}",
                t.port,
                t.daemon,
                seen.get(&(t.proto, t.port)).map(key)
            ));
        }
    }
    eprintln!(
        "vigie (own database) right: name {}/{n}, product {}/{n}, version {}/{n}; \
         TCP {own_secs:.1} s, UDP {own_udp_secs:.1} s",
        own_score.name,
        own_score.product,
        own_score.version,
        n = own_score.ports
    );
    eprintln!(
        "vigie --versiondb nmap's file: state, name, product, version and tunnel equal to \
         nmap -sV's probes' on {same}/{} ports; TCP {nm_secs:.1} s, UDP {nm_udp_secs:.1} s\n{}\n{}",
        own_score.ports,
        differ.join("\n"),
        scripted.join("\n")
    );
    // With nmap's own file, vigie's answer is nmap's probes' on every
    // port, TCP and UDP.
    assert_eq!(
        same,
        own_score.ports,
        "vigie --versiondb differs from nmap -sV:\n{}",
        differ.join("\n")
    );
    // With its own database, vigie names every port right.
    assert_eq!(
        own_score.name, own_score.ports,
        "vigie's own database misnames a port of the lab"
    );

    let mut table = String::new();
    let mut score = Score::default();
    let mut unnamed = Vec::new();
    for t in lab.truth() {
        let s = seen.get(&(t.proto, t.port)).cloned().unwrap_or_default();
        let (n, p, v) = (
            name_right(t, &s),
            s.product.as_deref() == t.product,
            t.version_matches(s.version.as_deref()),
        );
        score.ports += 1;
        score.name += usize::from(n);
        score.product += usize::from(p);
        score.version += usize::from(v);
        let mark = |ok: bool| if ok { "=" } else { "x" };
        let truth_name = match (t.name, t.tunnel) {
            (Some(n), Some(tun)) => format!("{tun}/{n}"),
            (Some(n), None) => n.to_owned(),
            (None, _) => "-".to_owned(),
        };
        let seen_name = match (&s.name, &s.tunnel) {
            (Some(n), Some(tun)) => format!("{tun}/{n}"),
            (Some(n), None) => n.clone(),
            (None, _) => "-".to_owned(),
        };
        table += &format!(
            "{:>5}/{} {:<9} | {:<12} {:<22} {:<10} | {}{}{} {:<13} {:<12} {:<26} {}\n",
            t.port,
            t.proto.as_str(),
            t.daemon,
            truth_name,
            t.product.unwrap_or("-"),
            t.version.as_deref().unwrap_or("-"),
            mark(n),
            mark(p),
            mark(v),
            s.state,
            seen_name,
            show(&s.product),
            show(&s.version),
        );
        // nmap recognised what the daemon sent (a hard match, not the port
        // table): a daemon that is down or misconfigured fails here. The
        // name itself may differ from the truth: nmap 7.93's mqtt-subscribe
        // script renames 1883's service to "mosquitto version X".
        let speaks = !matches!(t.check, Check::Silent | Check::Closes);
        let recognised = s.method.as_deref() == Some("probed") && s.name.is_some();
        if t.proto == Proto::Tcp && speaks && !recognised {
            unnamed.push(format!("{}/tcp ({}): nmap says {:?}", t.port, t.daemon, s));
        }
    }
    eprintln!(
        "\n port      daemon    | truth: name  product                version    | n p v nmap: state  name         product                    version\n{table}"
    );
    eprintln!(
        "nmap right: name {}/{n}, product {}/{n}, version {}/{n}",
        score.name,
        score.product,
        score.version,
        n = score.ports
    );
    eprintln!(
        "nmap -sV on {} TCP ports: {tcp_secs:.1} s; nmap -sU -sV on {} UDP ports: {udp_secs:.1} s",
        tcp.len(),
        udp.len()
    );
    // Against what really runs, vigie's own database gets at least as
    // many names, products and versions right as nmap with its own.
    let counts = |s: &Score| (s.name, s.product, s.version);
    let (o, m) = (counts(&own_score), counts(&score));
    assert!(
        o.0 >= m.0 && o.1 >= m.1 && o.2 >= m.2,
        "vigie (name, product, version) {o:?} < nmap {m:?}"
    );
    assert!(
        unnamed.is_empty(),
        "nmap does not recognise every speaking TCP port of the lab (a daemon misconfigured?):\n{}",
        unnamed.join("\n")
    );
}
