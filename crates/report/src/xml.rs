//! nmap's XML output (`-oX`), valid against nmap's own DTD and readable by
//! `ndiff`. Written with quick-xml events, element and attribute order and
//! line breaks as nmap 7.93 writes them.
//!
//! The DTD fixes `nmaprun/@scanner` to the single value `nmap`, so that is
//! what we write; vigie names itself in the comment before `<nmaprun>`
//! ("vigie 0.1.0 scan initiated …"), in `version` (vigie's version), in
//! `args` (the command line) and in `runstats/finished/@summary`.

use std::io::{self, Write};
use std::net::IpAddr;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::{
    ctime, done_summary, fold, host_visible, unix_secs, HostReport, Options, RunInfo, RunStats,
    ServiceInfo, Sink, NAME, VERSION,
};

/// XML writer; flushes after every host so a partial file is still useful.
pub struct XmlWriter<W: Write> {
    x: quick_xml::Writer<W>,
    opts: Options,
}

impl<W: Write> XmlWriter<W> {
    pub fn new(w: W, opts: Options) -> Self {
        XmlWriter {
            x: quick_xml::Writer::new(w),
            opts,
        }
    }

    pub fn into_inner(self) -> W {
        self.x.into_inner()
    }

    fn nl(&mut self) -> io::Result<()> {
        self.x
            .write_event(Event::Text(BytesText::from_escaped("\n")))
    }

    fn tag(name: &str, attrs: &[(&str, &str)]) -> BytesStart<'static> {
        let mut t = BytesStart::new(name.to_string());
        for a in attrs {
            t.push_attribute(*a);
        }
        t
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.x.write_event(Event::Empty(Self::tag(name, attrs)))
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) -> io::Result<()> {
        self.x.write_event(Event::Start(Self::tag(name, attrs)))
    }

    fn end(&mut self, name: &str) -> io::Result<()> {
        self.x.write_event(Event::End(BytesEnd::new(name)))
    }

    /// `<service name product version … tunnel method="probed" conf>`
    /// with its `<cpe>` children.
    fn detected(&mut self, d: &ServiceInfo) -> io::Result<()> {
        let conf = d.conf.to_string();
        let mut attrs = vec![("name", d.name.as_str())];
        for (k, v) in [
            ("product", &d.product),
            ("version", &d.version),
            ("extrainfo", &d.extrainfo),
            ("hostname", &d.hostname),
            ("ostype", &d.ostype),
            ("devicetype", &d.devicetype),
        ] {
            if let Some(v) = v {
                attrs.push((k, v.as_str()));
            }
        }
        if d.tunnel_ssl {
            attrs.push(("tunnel", "ssl"));
        }
        attrs.push(("method", "probed"));
        attrs.push(("conf", &conf));
        if d.cpe.is_empty() {
            return self.empty("service", &attrs);
        }
        self.start("service", &attrs)?;
        for c in &d.cpe {
            self.start("cpe", &[])?;
            self.x.write_event(Event::Text(BytesText::new(c)))?;
            self.end("cpe")?;
        }
        self.end("service")
    }

    fn write_host(&mut self, host: &HostReport) -> io::Result<()> {
        let st = &host.status;
        let ttl = st.ttl.to_string();
        if st.up {
            let s = unix_secs(host.start).to_string();
            let e = unix_secs(host.end).to_string();
            self.start("host", &[("starttime", &s), ("endtime", &e)])?;
        } else {
            // nmap writes down hosts without times or names
            self.start("host", &[])?;
        }
        self.empty(
            "status",
            &[
                ("state", if st.up { "up" } else { "down" }),
                ("reason", st.reason.as_str()),
                ("reason_ttl", &ttl),
            ],
        )?;
        self.nl()?;
        let addrtype = match host.addr {
            IpAddr::V4(_) => "ipv4",
            IpAddr::V6(_) => "ipv6",
        };
        let addr = host.addr.to_string();
        self.empty("address", &[("addr", &addr), ("addrtype", addrtype)])?;
        self.nl()?;
        if let Some(m) = &host.mac {
            let mac = crate::mac_string(m);
            self.empty("address", &[("addr", &mac), ("addrtype", "mac")])?;
            self.nl()?;
        }
        if !st.up {
            self.end("host")?;
            return self.nl();
        }

        self.start("hostnames", &[])?;
        self.nl()?;
        if let Some(name) = host.hostname.as_deref().filter(|n| !n.is_empty()) {
            self.empty("hostname", &[("name", name), ("type", "PTR")])?;
            self.nl()?;
        }
        self.end("hostnames")?;
        self.nl()?;

        if !host.ports.is_empty() {
            let f = fold(host, &self.opts);
            self.start("ports", &[])?;
            let mut i = 0;
            while i < f.hidden.len() {
                let state = f.hidden[i].state;
                let count = f.hidden_count(state).to_string();
                self.start(
                    "extraports",
                    &[("state", state.as_str()), ("count", &count)],
                )?;
                self.nl()?;
                while i < f.hidden.len() && f.hidden[i].state == state {
                    let h = &f.hidden[i];
                    for (reason, n, ports) in &h.reasons {
                        let n = n.to_string();
                        let list = ports.to_nmap_string();
                        self.empty(
                            "extrareasons",
                            &[
                                ("reason", reason.as_str()),
                                ("count", &n),
                                ("proto", h.proto.as_str()),
                                ("ports", &list),
                            ],
                        )?;
                        self.nl()?;
                    }
                    i += 1;
                }
                self.end("extraports")?;
                self.nl()?;
            }
            for p in &f.shown {
                let id = p.port.to_string();
                let ttl = p.ttl.to_string();
                self.start("port", &[("protocol", p.proto.as_str()), ("portid", &id)])?;
                self.empty(
                    "state",
                    &[
                        ("state", p.state.as_str()),
                        ("reason", p.reason.as_str()),
                        ("reason_ttl", &ttl),
                    ],
                )?;
                if let Some(d) = p.detected.as_deref() {
                    self.detected(d)?;
                } else if let Some(svc) = p.service.as_deref() {
                    self.empty(
                        "service",
                        &[("name", svc), ("method", "table"), ("conf", "3")],
                    )?;
                }
                self.end("port")?;
                self.nl()?;
            }
            self.end("ports")?;
            self.nl()?;
        }

        if host.srtt.is_some() || host.rttvar.is_some() || host.timeout.is_some() {
            let us =
                |d: Option<std::time::Duration>| d.map(|d| d.as_micros()).unwrap_or(0).to_string();
            let (s, r, t) = (us(host.srtt), us(host.rttvar), us(host.timeout));
            self.empty("times", &[("srtt", &s), ("rttvar", &r), ("to", &t)])?;
            self.nl()?;
        }
        self.end("host")?;
        self.nl()
    }
}

/// Text for an XML comment: markup escaped, and no "--" (illegal in a
/// comment), written as nmap does: "-&#45;".
fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_dash = false;
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '-' if prev_dash => out.push_str("&#45;"),
            _ => out.push(c),
        }
        prev_dash = c == '-';
    }
    out
}

impl<W: Write> Sink for XmlWriter<W> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.x
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        self.nl()?;
        self.x
            .write_event(Event::DocType(BytesText::from_escaped("nmaprun")))?;
        self.nl()?;
        let startstr = ctime(run.start);
        let comment = comment_text(&format!(
            " {NAME} {VERSION} scan initiated {startstr} as: {} ",
            run.args
        ));
        self.x
            .write_event(Event::Comment(BytesText::from_escaped(comment)))?;
        self.nl()?;
        let start = unix_secs(run.start).to_string();
        self.start(
            "nmaprun",
            &[
                ("scanner", "nmap"),
                ("args", &run.args),
                ("start", &start),
                ("startstr", &startstr),
                ("version", VERSION),
                ("xmloutputversion", "1.05"),
            ],
        )?;
        self.nl()?;
        for s in &run.scans {
            let n = s.ports.len().to_string();
            let list = s.ports.to_nmap_string();
            let mut attrs = vec![("type", s.technique.nmap_name())];
            if let Some(f) = &s.scanflags {
                attrs.push(("scanflags", f));
            }
            attrs.extend([
                ("protocol", s.proto.as_str()),
                ("numservices", &n),
                ("services", &list),
            ]);
            self.empty("scaninfo", &attrs)?;
            self.nl()?;
        }
        let v = run.verbose.to_string();
        self.empty("verbose", &[("level", &v)])?;
        self.nl()?;
        self.empty("debugging", &[("level", "0")])?;
        self.nl()?;
        self.x.get_mut().flush()
    }

    fn host(&mut self, host: &HostReport) -> io::Result<()> {
        if !host_visible(host, &self.opts) {
            return Ok(());
        }
        self.write_host(host)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.x.get_mut().flush()
    }

    fn finish(&mut self, _run: &RunInfo, stats: &RunStats) -> io::Result<()> {
        let time = unix_secs(stats.end).to_string();
        let timestr = ctime(stats.end);
        let summary = format!("{NAME} done at {timestr}; {}", done_summary(stats));
        let elapsed = format!("{:.2}", stats.elapsed.as_secs_f64());
        self.start("runstats", &[])?;
        self.empty(
            "finished",
            &[
                ("time", &time),
                ("timestr", &timestr),
                ("summary", &summary),
                ("elapsed", &elapsed),
                ("exit", "success"),
            ],
        )?;
        let (up, down, total) = (
            stats.hosts_up.to_string(),
            stats.hosts_down.to_string(),
            stats.hosts_total.to_string(),
        );
        self.empty("hosts", &[("up", &up), ("down", &down), ("total", &total)])?;
        self.nl()?;
        self.end("runstats")?;
        self.nl()?;
        self.end("nmaprun")?;
        self.nl()?;
        self.x.get_mut().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::ScanInfo;
    use std::path::Path;
    use std::process::Command;
    use vigie_scan::ports::PortList;
    use vigie_scan::{PortState, Proto, Reason, Technique};

    fn render(opts: Options, run: &RunInfo, hosts: &[HostReport], st: &RunStats) -> String {
        let mut w = XmlWriter::new(Vec::new(), opts);
        w.begin(run).unwrap();
        for h in hosts {
            w.host(h).unwrap();
        }
        w.finish(run, st).unwrap();
        String::from_utf8(w.into_inner()).unwrap()
    }

    const SMALL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<!-- vigie 0.1.0 scan initiated Sat Nov 21 04:58:06 2026 as: vigie -sS -Pn -n -p 1-1000 127.0.0.1 -->
<nmaprun scanner="nmap" args="vigie -sS -Pn -n -p 1-1000 127.0.0.1" start="1795237086" startstr="Sat Nov 21 04:58:06 2026" version="0.1.0" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="1000" services="1-1000"/>
<verbose level="0"/>
<debugging level="0"/>
<host starttime="1795237086" endtime="1795237086"><status state="up" reason="user-set" reason_ttl="0"/>
<address addr="127.0.0.1" addrtype="ipv4"/>
<hostnames>
</hostnames>
<ports><extraports state="closed" count="996">
<extrareasons reason="reset" count="996" proto="tcp" ports="1-21,23-79,81-110,112-442,444-1000"/>
</extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" method="table" conf="3"/></port>
<port protocol="tcp" portid="80"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" method="table" conf="3"/></port>
<port protocol="tcp" portid="111"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="rpcbind" method="table" conf="3"/></port>
<port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="https" method="table" conf="3"/></port>
</ports>
<times srtt="2" rttvar="1" to="100000"/>
</host>
<runstats><finished time="1795237086" timestr="Sat Nov 21 04:58:06 2026" summary="vigie done at Sat Nov 21 04:58:06 2026; 1 IP address (1 host up) scanned in 0.08 seconds" elapsed="0.08" exit="success"/><hosts up="1" down="0" total="1"/>
</runstats>
</nmaprun>
"#;

    #[test]
    fn matches_nmap_document_line_for_line() {
        // Same as nmap 7.93's a.xml minus the stylesheet line, with vigie's
        // name in comment/args/version/summary.
        let got = render(Options::default(), &run_info(0), &[host_small()], &stats());
        assert_eq!(got, in_local_zone(SMALL));
    }

    fn rich_run() -> (RunInfo, Vec<HostReport>, RunStats) {
        let mut run = run_info(1);
        run.args = "vigie --reason -p T:1-1000,U:50-60 \"a&b\" <x>".to_string();
        run.scans.push(ScanInfo {
            technique: Technique::Syn,
            scanflags: None,
            proto: Proto::Udp,
            ports: PortList::from_ranges([(50, 60)]),
        });
        let mut h = host_small();
        h.hostname = Some("localhost".into());
        for p in &mut h.ports {
            if (100..=160).contains(&p.port) && p.port != 111 {
                p.state = PortState::Filtered;
                p.reason = Reason::NoResponse;
                p.ttl = 0;
            }
            if (200..=203).contains(&p.port) {
                p.state = PortState::Filtered;
                p.reason = Reason::AdminProhibited;
            }
        }
        h.ports
            .extend(udp_range(50, 60, PortState::Closed, Reason::PortUnreach));
        h.ports[1000 + 3] = port(
            Proto::Udp,
            53,
            PortState::OpenFiltered,
            Reason::NoResponse,
            0,
        );
        let mut v6 = host_small();
        v6.addr = "fd00::2".parse().unwrap();
        v6.ports.truncate(3);
        v6.srtt = None;
        v6.rttvar = None;
        v6.timeout = None;
        let st = RunStats {
            hosts_up: 2,
            hosts_down: 1,
            hosts_total: 3,
            ..stats()
        };
        (run, vec![h, host_down(), v6], st)
    }

    #[test]
    fn extraports_grouped_by_state_across_protocols() {
        let (run, hosts, st) = rich_run();
        let v = Options {
            verbose: 1,
            ..Options::default()
        };
        let got = render(v, &run, &hosts, &st);
        let want_ports = r#"<ports><extraports state="closed" count="942">
<extrareasons reason="reset" count="932" proto="tcp" ports="1-21,23-79,81-99,161-199,204-442,444-1000"/>
<extrareasons reason="port-unreach" count="10" proto="udp" ports="50-52,54-60"/>
</extraports>
<extraports state="filtered" count="64">
<extrareasons reason="no-response" count="60" proto="tcp" ports="100-110,112-160"/>
<extrareasons reason="admin-prohibited" count="4" proto="tcp" ports="200-203"/>
</extraports>
<port protocol="tcp" portid="22">"#;
        assert!(got.contains(want_ports), "{got}");
        assert!(got.contains(
            "<port protocol=\"udp\" portid=\"53\"><state state=\"open|filtered\" reason=\"no-response\" reason_ttl=\"0\"/></port>\n</ports>\n"
        ));
        assert!(got
            .contains("<hostnames>\n<hostname name=\"localhost\" type=\"PTR\"/>\n</hostnames>\n"));
        assert!(got.contains(
            "<host><status state=\"down\" reason=\"no-response\" reason_ttl=\"0\"/>\n<address addr=\"198.18.0.2\" addrtype=\"ipv4\"/>\n</host>\n"
        ));
        assert!(got.contains("<address addr=\"fd00::2\" addrtype=\"ipv6\"/>"));
        // the v6 host has no timing: no <times>
        assert!(!got.contains("<service name=\"unknown\""));
        assert!(got.contains("portid=\"3\"><state state=\"closed\" reason=\"reset\" reason_ttl=\"64\"/></port>\n</ports>\n</host>\n"));
        assert!(got.contains("<scaninfo type=\"syn\" protocol=\"udp\" numservices=\"11\" services=\"50-60\"/>\n<verbose level=\"1\"/>"));
        // escaping: attribute via quick-xml, comment with no "--"
        assert!(got
            .contains("args=\"vigie --reason -p T:1-1000,U:50-60 &quot;a&amp;b&quot; &lt;x&gt;\""));
        assert!(
            got.contains("as: vigie -&#45;reason -p T:1-1000,U:50-60 \"a&amp;b\" &lt;x&gt; -->")
        );
        assert!(got.contains("<hosts up=\"2\" down=\"1\" total=\"3\"/>"));
    }

    #[test]
    fn mac_address_follows_the_ip_address() {
        let (run, mut hosts, st) = rich_run();
        hosts[0].mac = Some([0x2e, 0x5f, 0x11, 0xaa, 0x00, 0x0b]);
        let got = render(Options::default(), &run, &hosts, &st);
        assert!(
            got.contains(&format!(
                "<address addr=\"{}\" addrtype=\"{}\"/>\n<address addr=\"2E:5F:11:AA:00:0B\" addrtype=\"mac\"/>\n<hostnames>",
                hosts[0].addr,
                if hosts[0].addr.is_ipv4() { "ipv4" } else { "ipv6" }
            )),
            "{got}"
        );
    }

    #[test]
    fn down_hosts_only_with_verbose() {
        let (run, hosts, st) = rich_run();
        let got = render(Options::default(), &run, &hosts, &st);
        assert_eq!(got.matches("<host ").count(), 2);
        assert_eq!(got.matches("<host>").count(), 0);
    }

    #[test]
    fn streams_parse_back_with_quick_xml() {
        let (run, hosts, st) = rich_run();
        let v = Options {
            verbose: 1,
            ..Options::default()
        };
        let got = render(v, &run, &hosts, &st);
        let mut r = quick_xml::Reader::from_str(&got);
        let mut ports = 0;
        let mut depth = 0i32;
        loop {
            match r.read_event().unwrap() {
                Event::Start(e) => {
                    depth += 1;
                    if e.name().as_ref() == b"port" {
                        ports += 1;
                    }
                }
                Event::End(_) => depth -= 1,
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0);
        assert_eq!(ports, 4 + 1 + 3);
    }

    fn tool(name: &str) -> Option<String> {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
                .map(|f| f.to_string_lossy().into_owned())
        })
    }

    const DTD: &str = "/usr/share/nmap/nmap.dtd";

    /// A scratch directory for one test, removed when dropped.
    struct TmpDir(std::path::PathBuf);
    impl TmpDir {
        fn new(tag: &str) -> TmpDir {
            let dir =
                std::env::temp_dir().join(format!("vigie-report-{}-{tag}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TmpDir(dir)
        }
        fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, text).unwrap();
            p
        }
    }
    impl Drop for TmpDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn validates_against_nmap_dtd() {
        let Some(xmllint) = tool("xmllint") else {
            eprintln!("skipping: xmllint not found on PATH");
            return;
        };
        if !Path::new(DTD).is_file() {
            eprintln!("skipping: {DTD} missing (nmap not installed)");
            return;
        }
        let (run, hosts, st) = rich_run();
        let v = Options {
            verbose: 1,
            reason: true,
            ..Options::default()
        };
        let docs = [
            ("small.xml", SMALL.to_string()),
            ("rich.xml", render(v, &run, &hosts, &st)),
            (
                "empty.xml",
                render(Options::default(), &run_info(0), &[], &stats()),
            ),
            (
                "versions.xml",
                render(
                    Options::default(),
                    &run_info(0),
                    &[host_versions()],
                    &stats(),
                ),
            ),
        ];
        let tmp = TmpDir::new("dtd");
        for (name, text) in docs {
            let p = tmp.write(name, &text);
            let out = Command::new(&xmllint)
                .args(["--noout", "--dtdvalid", DTD])
                .arg(&p)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name} invalid: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                out.stderr.is_empty(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn ndiff_reads_our_xml() {
        let Some(ndiff) = tool("ndiff") else {
            eprintln!("skipping: ndiff not found on PATH");
            return;
        };
        let a = host_small();
        let mut b = host_small();
        b.ports[79].state = PortState::Closed; // 80 closes
        b.ports[79].reason = Reason::Reset;
        b.ports[24].state = PortState::Open; // 25 opens
        b.ports[24].reason = Reason::SynAck;
        b.ports[24].service = Some("smtp".into());
        let tmp = TmpDir::new("ndiff");
        let pa = tmp.write(
            "ndiff-a.xml",
            &render(
                Options::default(),
                &run_info(0),
                std::slice::from_ref(&a),
                &stats(),
            ),
        );
        let pa2 = tmp.write(
            "ndiff-a2.xml",
            &render(Options::default(), &run_info(0), &[a], &stats()),
        );
        let pb = tmp.write(
            "ndiff-b.xml",
            &render(Options::default(), &run_info(0), &[b], &stats()),
        );

        let same = Command::new(&ndiff).arg(&pa).arg(&pa2).output().unwrap();
        assert_eq!(
            same.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&same.stderr)
        );

        let diff = Command::new(&ndiff).arg(&pa).arg(&pb).output().unwrap();
        assert_eq!(
            diff.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&diff.stderr)
        );
        let text = String::from_utf8(diff.stdout).unwrap();
        let port_lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("/tcp"))
            .map(str::trim_end)
            .collect();
        assert_eq!(
            port_lines,
            // ndiff knows 80 is now closed from <extraports> and does not list it
            vec!["+25/tcp open  smtp", "-80/tcp open  http"],
            "{text}"
        );
    }

    #[test]
    fn probed_services_with_cpe_read_back() {
        let xml = render(
            Options::default(),
            &run_info(0),
            &[host_versions()],
            &stats(),
        );
        assert!(xml.contains(
            "<port protocol=\"tcp\" portid=\"22\"><state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/>\
             <service name=\"ssh\" product=\"OpenSSH\" version=\"9.2p1 Debian 2+deb12u3\" \
             extrainfo=\"protocol 2.0\" ostype=\"Linux\" method=\"probed\" conf=\"10\">\
             <cpe>cpe:/a:openbsd:openssh:9.2p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service></port>"
        ), "{xml}");
        assert!(xml.contains(
            "<service name=\"http\" product=\"nginx\" version=\"1.22.1\" hostname=\"www.vigie.test\" \
             tunnel=\"ssl\" method=\"probed\" conf=\"10\"><cpe>cpe:/a:nginx:nginx:1.22.1</cpe></service>"
        ), "{xml}");
        assert!(
            xml.contains("<service name=\"http\" method=\"probed\" conf=\"10\"/>"),
            "{xml}"
        );
        // Read back: everything but TLS (which XML does not hold) survives.
        let back = crate::read_xml(xml.as_bytes()).unwrap();
        let mut want = host_versions();
        for p in &mut want.ports {
            if let Some(d) = p.detected.as_mut() {
                d.tls = None;
            }
        }
        let found = |ports: &[crate::PortResult]| -> Vec<(u16, Option<Box<crate::ServiceInfo>>)> {
            ports
                .iter()
                .filter(|p| p.detected.is_some())
                .map(|p| (p.port, p.detected.clone()))
                .collect()
        };
        assert_eq!(found(&back.hosts[0].ports), found(&want.ports));
    }
}
