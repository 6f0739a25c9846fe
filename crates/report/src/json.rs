//! vigie's own JSON Lines output (`-oJ`): a "run" line, one "host" line per
//! host with EVERY port (no folding), a "stats" line. Schema: docs/output.md.
//!
//! The line types below are the format: the writer serializes them and the
//! reader ([`crate::read_json_lines`]) deserializes the same types, so the
//! two cannot drift apart.

use std::borrow::Cow;
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{unix_secs, HostReport, RunInfo, RunStats, Sink, NAME, VERSION};

/// JSON Lines writer. Every host handed to it is written (down hosts too,
/// whatever `-v`/`--open` say): this is the machine-complete record, so it
/// takes no output options.
pub struct JsonLinesWriter<W: Write> {
    w: W,
}

impl<W: Write> JsonLinesWriter<W> {
    pub fn new(w: W) -> Self {
        JsonLinesWriter { w }
    }

    pub fn into_inner(self) -> W {
        self.w
    }

    fn line(&mut self, v: &Line) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, v).map_err(io::Error::from)?;
        self.w.write_all(b"\n")
    }
}

/// One line of the file; `"type"` (written first) says which.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub(crate) enum Line<'a> {
    Run(RunLine<'a>),
    Host(HostLine<'a>),
    Stats(StatsLine),
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RunLine<'a> {
    pub scanner: Cow<'a, str>,
    pub version: Cow<'a, str>,
    pub args: Cow<'a, str>,
    /// Unix seconds.
    pub start: i64,
    pub verbose: u8,
    pub scans: Vec<ScanLine<'a>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ScanLine<'a> {
    /// nmap's name: `syn`, `connect`, …
    pub technique: Cow<'a, str>,
    pub proto: Cow<'a, str>,
    pub count: u32,
    /// nmap's port list spelling, `1-21,23`.
    pub ports: Cow<'a, str>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HostLine<'a> {
    pub addr: IpAddr,
    pub hostname: Option<Cow<'a, str>>,
    /// Hardware address (`2E:5F:11:AA:00:02`) when seen on the local segment.
    #[serde(default)]
    pub mac: Option<Cow<'a, str>>,
    /// `up` or `down`.
    pub status: Cow<'a, str>,
    pub reason: Cow<'a, str>,
    pub reason_ttl: u8,
    pub latency_us: Option<u64>,
    pub start: i64,
    pub end: i64,
    pub srtt_us: Option<u64>,
    pub rttvar_us: Option<u64>,
    pub timeout_us: Option<u64>,
    pub ports: Vec<PortLine<'a>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PortLine<'a> {
    pub proto: Cow<'a, str>,
    pub port: u16,
    pub state: Cow<'a, str>,
    pub reason: Cow<'a, str>,
    pub ttl: u8,
    pub service: Option<Cow<'a, str>>,
    /// What `-sV` found (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected: Option<DetectedLine>,
}

/// A port's service, product and version, and its TLS (docs/output.md).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct DetectedLine {
    pub name: String,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extrainfo: Option<String>,
    pub hostname: Option<String>,
    pub ostype: Option<String>,
    pub devicetype: Option<String>,
    /// `ssl` when found inside TLS.
    pub tunnel: Option<String>,
    pub conf: u8,
    #[serde(default)]
    pub cpe: Vec<String>,
    #[serde(default)]
    pub tls: Option<TlsLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct TlsLine {
    pub version: String,
    pub cipher: String,
    pub alpn: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    #[serde(default)]
    pub sans: Vec<String>,
    /// Unix seconds.
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub key: Option<String>,
    pub sha256: Option<String>,
}

impl DetectedLine {
    pub(crate) fn from_info(d: &crate::ServiceInfo) -> DetectedLine {
        DetectedLine {
            name: d.name.clone(),
            product: d.product.clone(),
            version: d.version.clone(),
            extrainfo: d.extrainfo.clone(),
            hostname: d.hostname.clone(),
            ostype: d.ostype.clone(),
            devicetype: d.devicetype.clone(),
            tunnel: d.tunnel_ssl.then(|| "ssl".to_string()),
            conf: d.conf,
            cpe: d.cpe.clone(),
            tls: d.tls.as_ref().map(|t| TlsLine {
                version: t.version.clone(),
                cipher: t.cipher.clone(),
                alpn: t.alpn.clone(),
                subject: t.subject.clone(),
                issuer: t.issuer.clone(),
                sans: t.sans.clone(),
                not_before: t.not_before,
                not_after: t.not_after,
                key: t.key.clone(),
                sha256: t.sha256.clone(),
            }),
        }
    }

    pub(crate) fn into_info(self) -> crate::ServiceInfo {
        crate::ServiceInfo {
            name: self.name,
            product: self.product,
            version: self.version,
            extrainfo: self.extrainfo,
            hostname: self.hostname,
            ostype: self.ostype,
            devicetype: self.devicetype,
            tunnel_ssl: self.tunnel.as_deref() == Some("ssl"),
            conf: self.conf,
            cpe: self.cpe,
            tls: self.tls.map(|t| crate::TlsFields {
                version: t.version,
                cipher: t.cipher,
                alpn: t.alpn,
                subject: t.subject,
                issuer: t.issuer,
                sans: t.sans,
                not_before: t.not_before,
                not_after: t.not_after,
                key: t.key,
                sha256: t.sha256,
            }),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StatsLine {
    pub end: i64,
    pub elapsed_us: u64,
    pub hosts_up: u64,
    pub hosts_down: u64,
    pub hosts_total: u64,
}

/// Whole microseconds (a `u64` holds 584 000 years of them).
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl<W: Write> Sink for JsonLinesWriter<W> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.line(&Line::Run(RunLine {
            scanner: NAME.into(),
            version: VERSION.into(),
            args: run.args.as_str().into(),
            start: unix_secs(run.start),
            verbose: run.verbose,
            scans: run
                .scans
                .iter()
                .map(|s| ScanLine {
                    technique: s.technique.nmap_name().into(),
                    proto: s.proto.as_str().into(),
                    count: s.ports.len(),
                    ports: s.ports.to_nmap_string().into(),
                })
                .collect(),
        }))?;
        self.w.flush()
    }

    fn host(&mut self, host: &HostReport) -> io::Result<()> {
        self.line(&Line::Host(HostLine {
            addr: host.addr,
            hostname: host.hostname.as_deref().map(Cow::Borrowed),
            mac: host.mac.as_ref().map(|m| crate::mac_string(m).into()),
            status: if host.status.up { "up" } else { "down" }.into(),
            reason: host.status.reason.as_str().into(),
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
                    proto: p.proto.as_str().into(),
                    port: p.port,
                    state: p.state.as_str().into(),
                    reason: p.reason.as_str().into(),
                    ttl: p.ttl,
                    service: p.service.as_deref().map(Cow::Borrowed),
                    detected: p.detected.as_deref().map(DetectedLine::from_info),
                })
                .collect(),
        }))
    }

    fn finish(&mut self, _run: &RunInfo, stats: &RunStats) -> io::Result<()> {
        self.line(&Line::Stats(StatsLine {
            end: unix_secs(stats.end),
            elapsed_us: micros(stats.elapsed),
            hosts_up: stats.hosts_up,
            hosts_down: stats.hosts_down,
            hosts_total: stats.hosts_total,
        }))?;
        self.w.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use serde_json::{json, Value};
    use vigie_scan::{PortState, Proto, Reason};

    fn render(hosts: &[HostReport]) -> String {
        let mut w = JsonLinesWriter::new(Vec::new());
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

    #[test]
    fn detected_services_and_tls_round_trip() {
        let h = host_versions();
        let text = render(std::slice::from_ref(&h));
        let v: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        let tls = &v["ports"][442]["detected"];
        assert_eq!(tls["name"], json!("http"));
        assert_eq!(tls["tunnel"], json!("ssl"));
        assert_eq!(tls["tls"]["version"], json!("TLSv1.3"));
        assert_eq!(tls["tls"]["sans"], json!(["DNS:www.vigie.test"]));
        assert_eq!(tls["tls"]["sha256"], json!("ab".repeat(32)));
        assert_eq!(
            v["ports"][21]["detected"]["cpe"][1],
            json!("cpe:/o:linux:linux_kernel")
        );
        // A port without -sV results has no "detected" key at all.
        assert!(v["ports"][0].get("detected").is_none());
        let back = crate::read_json_lines(text.as_bytes()).unwrap();
        assert_eq!(back.hosts[0].ports, h.ports);
    }
}
