//! nmap's grepable output (`-oG`): one "Status" and one "Ports" line per host.

use std::io::{self, Write};

use vigie_scan::Proto;

use crate::{
    ctime, done_summary, fold, host_visible, HostReport, Options, RunInfo, RunStats, Sink,
};
use crate::{NAME, VERSION};

/// Grepable writer. Layout as nmap 7.93 writes it:
/// `Host: 127.0.0.1 (name)\tPorts: 22/open/tcp//ssh///, …\tIgnored State: closed (996)`.
pub struct GrepWriter<W: Write> {
    w: W,
    opts: Options,
}

impl<W: Write> GrepWriter<W> {
    pub fn new(w: W, opts: Options) -> Self {
        GrepWriter { w, opts }
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

fn ports_scanned(run: &RunInfo, proto: Proto) -> String {
    match run.scans.iter().find(|s| s.proto == proto) {
        Some(s) => format!("{};{}", s.ports.len(), s.ports.to_nmap_string()),
        None => "0;".to_string(),
    }
}

impl<W: Write> Sink for GrepWriter<W> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        writeln!(
            self.w,
            "# {NAME} {VERSION} scan initiated {} as: {}",
            ctime(run.start),
            run.args
        )?;
        if self.opts.verbose >= 1 {
            writeln!(
                self.w,
                "# Ports scanned: TCP({}) UDP({}) SCTP(0;) PROTOCOLS(0;)",
                ports_scanned(run, Proto::Tcp),
                ports_scanned(run, Proto::Udp)
            )?;
        }
        self.w.flush()
    }

    fn host(&mut self, host: &HostReport) -> io::Result<()> {
        if !host_visible(host, &self.opts) {
            return Ok(());
        }
        let who = format!(
            "Host: {} ({})",
            host.addr,
            host.hostname.as_deref().unwrap_or("")
        );
        if !host.status.up {
            return writeln!(self.w, "{who}\tStatus: Down");
        }
        let mut line = format!("{who}\tStatus: Up\n");
        if !host.ports.is_empty() {
            let f = fold(host, &self.opts);
            line.push_str(&who);
            line.push_str("\tPorts: ");
            for (i, p) in f.shown.iter().enumerate() {
                if i > 0 {
                    line.push_str(", ");
                }
                // port/state/protocol/owner/service/rpc info/version/; a
                // service inside TLS is `ssl|http`; `/` in a version is
                // written `|`, as nmap does, so the fields still split.
                let (service, version) = match p.detected.as_deref() {
                    Some(d) => (
                        d.column_name().replace('/', "|"),
                        d.version_text().replace('/', "|"),
                    ),
                    None => (p.service.clone().unwrap_or_default(), String::new()),
                };
                line.push_str(&format!(
                    "{}/{}/{}//{service}//{version}/",
                    p.port,
                    p.state.as_str(),
                    p.proto.as_str(),
                ));
            }
            if f.hidden_state_count() == 1 {
                let s = f.hidden[0].state;
                line.push_str(&format!(
                    "\tIgnored State: {} ({})",
                    s.as_str(),
                    f.hidden_count(s)
                ));
            }
            line.push('\n');
        }
        self.w.write_all(line.as_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    fn finish(&mut self, _run: &RunInfo, stats: &RunStats) -> io::Result<()> {
        writeln!(
            self.w,
            "# {NAME} done at {} -- {}",
            ctime(stats.end),
            done_summary(stats)
        )?;
        self.w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::ScanInfo;
    use vigie_scan::ports::PortList;
    use vigie_scan::{PortState, Reason, Technique};

    fn render(opts: Options, run: &RunInfo, hosts: &[HostReport], st: &RunStats) -> String {
        let mut w = GrepWriter::new(Vec::new(), opts);
        w.begin(run).unwrap();
        for h in hosts {
            w.host(h).unwrap();
        }
        w.finish(run, st).unwrap();
        String::from_utf8(w.into_inner()).unwrap()
    }

    #[test]
    fn matches_nmap_layout() {
        let got = render(Options::default(), &run_info(0), &[host_small()], &stats());
        let want = "\
# vigie 0.1.0 scan initiated Sat Nov 21 04:58:06 2026 as: vigie -sS -Pn -n -p 1-1000 127.0.0.1
Host: 127.0.0.1 ()\tStatus: Up
Host: 127.0.0.1 ()\tPorts: 22/open/tcp//ssh///, 80/open/tcp//http///, 111/open/tcp//rpcbind///, 443/open/tcp//https///\tIgnored State: closed (996)
# vigie done at Sat Nov 21 04:58:06 2026 -- 1 IP address (1 host up) scanned in 0.08 seconds
";
        assert_eq!(got, in_local_zone(want));
    }

    #[test]
    fn verbose_header_down_host_names_and_unknown_service() {
        let mut run = run_info(1);
        run.scans.push(ScanInfo {
            technique: Technique::Syn,
            scanflags: None,
            proto: Proto::Udp,
            ports: PortList::from_ranges([(50, 60)]),
        });
        let mut up = host_small();
        up.hostname = Some("localhost".into());
        up.ports = vec![
            port(Proto::Tcp, 22, PortState::Open, Reason::SynAck, 64),
            port(Proto::Udp, 60, PortState::Closed, Reason::PortUnreach, 64),
        ];
        up.ports[0].service = Some("ssh".into());
        let st = RunStats {
            hosts_down: 1,
            hosts_total: 2,
            ..stats()
        };
        let v = Options {
            verbose: 1,
            ..Options::default()
        };
        let got = render(v, &run, &[host_down(), up], &st);
        let want = "\
# vigie 0.1.0 scan initiated Sat Nov 21 04:58:06 2026 as: vigie -sS -Pn -n -p 1-1000 127.0.0.1
# Ports scanned: TCP(1000;1-1000) UDP(11;50-60) SCTP(0;) PROTOCOLS(0;)
Host: 198.18.0.2 ()\tStatus: Down
Host: 127.0.0.1 (localhost)\tStatus: Up
Host: 127.0.0.1 (localhost)\tPorts: 22/open/tcp//ssh///, 60/closed/udp/////
# vigie done at Sat Nov 21 04:58:06 2026 -- 2 IP addresses (1 host up) scanned in 0.08 seconds
";
        assert_eq!(got, in_local_zone(want));
        // without -v: no "Ports scanned", no down host
        let quiet = render(Options::default(), &run, &[host_down()], &st);
        assert_eq!(quiet.lines().count(), 2);
    }

    #[test]
    fn ignored_state_only_when_one_state_is_folded() {
        let mut h = host_small();
        h.ports = tcp_range(100, 160, PortState::Filtered, Reason::NoResponse);
        h.ports
            .extend(tcp_range(161, 205, PortState::Closed, Reason::Reset));
        let got = render(Options::default(), &run_info(0), &[h.clone()], &stats());
        assert_eq!(got.lines().nth(2), Some("Host: 127.0.0.1 ()\tPorts: "));
        h.ports.truncate(61);
        let got = render(Options::default(), &run_info(0), &[h], &stats());
        assert_eq!(
            got.lines().nth(2),
            Some("Host: 127.0.0.1 ()\tPorts: \tIgnored State: filtered (61)")
        );
    }

    #[test]
    fn versions_in_the_ports_field() {
        let mut w = GrepWriter::new(Vec::new(), Options::default());
        let run = run_info(0);
        w.begin(&run).unwrap();
        w.host(&host_versions()).unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        assert!(
            text.contains(
                "Ports: 22/open/tcp//ssh//OpenSSH 9.2p1 Debian 2+deb12u3 (protocol 2.0)/, \
             80/open/tcp//http///, 111/open/tcp//rpcbind///, 443/open/tcp//ssl|http//nginx 1.22.1/"
            ),
            "{text}"
        );
    }
}
