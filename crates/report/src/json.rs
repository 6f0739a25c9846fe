//! vigie's own JSON Lines output (`-oJ`): a "run" line, one "host" line per
//! host with EVERY port (no folding), a "stats" line. Schema: docs/output.md.

use std::io::{self, Write};

use serde::Serialize;

use crate::timefmt::{micros, unix_secs};
use crate::{HostReport, Options, RunInfo, RunStats, Sink, NAME, VERSION};

/// JSON Lines writer. Every host handed to it is written (down hosts too,
/// whatever `-v`/`--open` say): this is the machine-complete record.
pub struct JsonLinesWriter<W: Write> {
    w: W,
    // kept for symmetry with the other writers; JSON output does not fold
    _opts: Options,
}

impl<W: Write> JsonLinesWriter<W> {
    pub fn new(w: W, opts: Options) -> Self {
        JsonLinesWriter { w, _opts: opts }
    }

    pub fn into_inner(self) -> W {
        self.w
    }

    fn line<T: Serialize>(&mut self, v: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, v).map_err(io::Error::from)?;
        self.w.write_all(b"\n")?;
        self.w.flush()
    }
}

#[derive(Serialize)]
struct RunLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    scanner: &'static str,
    version: &'static str,
    args: &'a str,
    start: i64,
    verbose: u8,
    scans: Vec<ScanLine<'a>>,
}

#[derive(Serialize)]
struct ScanLine<'a> {
    technique: &'static str,
    proto: &'static str,
    count: u32,
    ports: std::borrow::Cow<'a, str>,
}

#[derive(Serialize)]
struct HostLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    addr: String,
    hostname: Option<&'a str>,
    /// Hardware address (`2E:5F:11:AA:00:02`) when seen on the local segment.
    mac: Option<String>,
    status: &'static str,
    reason: &'static str,
    reason_ttl: u8,
    latency_us: Option<u128>,
    start: i64,
    end: i64,
    srtt_us: Option<u128>,
    rttvar_us: Option<u128>,
    timeout_us: Option<u128>,
    ports: Vec<PortLine<'a>>,
}

#[derive(Serialize)]
struct PortLine<'a> {
    proto: &'static str,
    port: u16,
    state: &'static str,
    reason: &'static str,
    ttl: u8,
    service: Option<&'a str>,
}

#[derive(Serialize)]
struct StatsLine {
    #[serde(rename = "type")]
    kind: &'static str,
    end: i64,
    elapsed_us: u128,
    hosts_up: u64,
    hosts_down: u64,
    hosts_total: u64,
}

impl<W: Write> Sink for JsonLinesWriter<W> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        let line = RunLine {
            kind: "run",
            scanner: NAME,
            version: VERSION,
            args: &run.args,
            start: unix_secs(run.start),
            verbose: run.verbose,
            scans: run
                .scans
                .iter()
                .map(|s| ScanLine {
                    technique: s.technique.nmap_name(),
                    proto: s.proto.as_str(),
                    count: s.ports.len(),
                    ports: s.ports.to_nmap_string().into(),
                })
                .collect(),
        };
        self.line(&line)
    }

    fn host(&mut self, host: &HostReport) -> io::Result<()> {
        let line = HostLine {
            kind: "host",
            addr: host.addr.to_string(),
            hostname: host.hostname.as_deref(),
            mac: host.mac.as_ref().map(crate::mac_string),
            status: if host.status.up { "up" } else { "down" },
            reason: host.status.reason.as_str(),
            reason_ttl: host.status.ttl,
            latency_us: host.latency.map(micros),
            start: unix_secs(host.start),
            end: unix_secs(host.end),
            srtt_us: host.srtt.map(micros),
            rttvar_us: host.rttvar.map(micros),
            timeout_us: host.timeout.map(micros),
            ports: host
                .ports
                .iter()
                .map(|p| PortLine {
                    proto: p.proto.as_str(),
                    port: p.port,
                    state: p.state.as_str(),
                    reason: p.reason.as_str(),
                    ttl: p.ttl,
                    service: p.service.as_deref(),
                })
                .collect(),
        };
        self.line(&line)
    }

    fn finish(&mut self, _run: &RunInfo, stats: &RunStats) -> io::Result<()> {
        self.line(&StatsLine {
            kind: "stats",
            end: unix_secs(stats.end),
            elapsed_us: micros(stats.elapsed),
            hosts_up: stats.hosts_up,
            hosts_down: stats.hosts_down,
            hosts_total: stats.hosts_total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use serde_json::{json, Value};
    use vigie_scan::{PortState, Proto, Reason};

    fn render(hosts: &[HostReport]) -> String {
        let mut w = JsonLinesWriter::new(Vec::new(), Options::default());
        let run = run_info(0);
        w.begin(&run).unwrap();
        for h in hosts {
            w.host(h).unwrap();
        }
        w.finish(&run, &stats()).unwrap();
        String::from_utf8(w.into_inner()).unwrap()
    }

    #[test]
    fn exact_lines() {
        let mut h = host_small();
        h.addr = "198.18.0.2".parse().unwrap();
        h.hostname = None;
        h.status.reason = Reason::Reset;
        h.status.ttl = 64;
        h.ports = vec![
            port(Proto::Tcp, 21, PortState::Closed, Reason::Reset, 64),
            port(Proto::Tcp, 22, PortState::Open, Reason::SynAck, 64),
        ];
        h.ports[1].service = Some("ssh".into());
        let text = render(&[h]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            r#"{"type":"run","scanner":"vigie","version":"0.1.0","args":"vigie -sS -Pn -n -p 1-1000 127.0.0.1","start":1795237086,"verbose":0,"scans":[{"technique":"syn","proto":"tcp","count":1000,"ports":"1-1000"}]}"#
        );
        assert_eq!(
            lines[1],
            r#"{"type":"host","addr":"198.18.0.2","hostname":null,"mac":null,"status":"up","reason":"reset","reason_ttl":64,"latency_us":2,"start":1795237086,"end":1795237086,"srtt_us":2,"rttvar_us":1,"timeout_us":100000,"ports":[{"proto":"tcp","port":21,"state":"closed","reason":"reset","ttl":64,"service":null},{"proto":"tcp","port":22,"state":"open","reason":"syn-ack","ttl":64,"service":"ssh"}]}"#
        );
        assert_eq!(
            lines[2],
            r#"{"type":"stats","end":1795237086,"elapsed_us":80000,"hosts_up":1,"hosts_down":0,"hosts_total":1}"#
        );
    }

    #[test]
    fn every_port_every_host_parses() {
        let text = render(&[host_small(), host_down()]);
        let vals: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(vals.len(), 4);
        assert_eq!(vals[1]["ports"].as_array().unwrap().len(), 1000);
        assert_eq!(vals[1]["ports"][21]["service"], json!("ssh"));
        assert_eq!(vals[1]["ports"][20]["state"], json!("closed"));
        assert_eq!(vals[2]["status"], json!("down"));
        assert_eq!(vals[2]["latency_us"], Value::Null);
        assert_eq!(vals[2]["ports"], json!([]));
        assert_eq!(vals[3]["type"], json!("stats"));
    }

    #[test]
    fn mac_is_written() {
        let mut h = host_small();
        h.mac = Some([0x2e, 0x5f, 0x11, 0xaa, 0x00, 0x0b]);
        let text = render(&[h]);
        let v: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(v["mac"], json!("2E:5F:11:AA:00:0B"));
    }
}
