//! nmap's "normal" output: what it prints on the terminal, and `-oN`.

use std::io::{self, Write};
use std::time::Duration;

use crate::{
    ctime, done_summary, fold, host_visible, minute_stamp, name_ip, reason_ttl, second_stamp,
    unix_secs, HostReport, Options, RunInfo, RunStats, Sink, NAME, VERSION,
};

/// Project home page, printed in the "Starting" line when the package sets one.
const HOMEPAGE: &str = env!("CARGO_PKG_HOMEPAGE");

/// The human-readable report. [`NormalWriter::new`] writes the terminal
/// flavour ("Starting vigie … at …" / "vigie done: …"),
/// [`NormalWriter::new_file`] the `-oN` flavour ("# vigie … scan initiated
/// … as: …" / "# vigie done at … -- …"). The host blocks are identical.
pub struct NormalWriter<W: Write> {
    w: W,
    opts: Options,
    file: bool,
}

impl<W: Write> NormalWriter<W> {
    /// Terminal flavour.
    pub fn new(w: W, opts: Options) -> Self {
        NormalWriter {
            w,
            opts,
            file: false,
        }
    }

    /// `-oN` file flavour.
    pub fn new_file(w: W, opts: Options) -> Self {
        NormalWriter {
            w,
            opts,
            file: true,
        }
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

impl<W: Write> Sink for NormalWriter<W> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        if self.file {
            writeln!(
                self.w,
                "# {NAME} {VERSION} scan initiated {} as: {}",
                ctime(run.start),
                run.args
            )?;
        } else if HOMEPAGE.is_empty() {
            writeln!(
                self.w,
                "Starting {NAME} {VERSION} at {}",
                minute_stamp(run.start)
            )?;
        } else {
            writeln!(
                self.w,
                "Starting {NAME} {VERSION} ( {HOMEPAGE} ) at {}",
                minute_stamp(run.start)
            )?;
        }
        self.w.flush()
    }

    fn host(&mut self, host: &HostReport) -> io::Result<()> {
        if !host_visible(host, &self.opts) {
            return Ok(());
        }
        let mut out = String::new();
        write_host(&mut out, host, &self.opts);
        self.w.write_all(out.as_bytes())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    fn finish(&mut self, _run: &RunInfo, stats: &RunStats) -> io::Result<()> {
        if self.file {
            writeln!(
                self.w,
                "# {NAME} done at {} -- {}",
                ctime(stats.end),
                done_summary(stats)
            )?;
        } else {
            writeln!(self.w, "{NAME} done: {}", done_summary(stats))?;
        }
        self.w.flush()
    }
}

/// Seconds with two significant digits in plain notation, as nmap prints
/// latency: 2µs → "0.0000020", 15µs → "0.000015", 100µs → "0.00010",
/// 1.27s → "1.3", 12.3s → "12".
fn two_sig_digits(d: Duration) -> String {
    let x = d.as_secs_f64();
    if x == 0.0 {
        return "0.0".to_string();
    }
    // Let the float formatter do the rounding, then read back the exponent.
    let sci = format!("{x:.1e}");
    let exp: i32 = sci
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let decimals = (1 - exp).max(0) as usize;
    format!("{x:.decimals$}")
}

fn write_host(out: &mut String, host: &HostReport, opts: &Options) {
    use std::fmt::Write as _;
    let who = name_ip(host);
    let reason = opts.show_reason();
    if !host.status.up {
        let _ = write!(out, "{NAME} scan report for {who} [host down");
        if reason {
            let _ = write!(
                out,
                ", received {}",
                reason_ttl(host.status.reason, host.status.ttl)
            );
        }
        out.push_str("]\n");
        return;
    }

    let _ = writeln!(out, "{NAME} scan report for {who}");
    out.push_str("Host is up");
    if reason {
        let _ = write!(
            out,
            ", received {}",
            reason_ttl(host.status.reason, host.status.ttl)
        );
    }
    if let Some(l) = host.latency {
        let _ = write!(out, " ({}s latency)", two_sig_digits(l));
    }
    out.push_str(".\n");
    if opts.verbose >= 2 {
        let secs = (unix_secs(host.end) - unix_secs(host.start)).max(0);
        let _ = writeln!(out, "Scanned at {} for {secs}s", second_stamp(host.start));
    }
    let mac_line = host
        .mac
        .map(|m| format!("MAC Address: {} (Unknown)\n", crate::mac_string(&m)));
    if host.ports.is_empty() {
        // host discovery only: the MAC, then nothing more, not even a blank line
        if let Some(l) = &mac_line {
            out.push_str(l);
        }
        return;
    }

    let f = fold(host, opts);
    if f.shown.is_empty() {
        let _ = writeln!(
            out,
            "All {} scanned ports on {who} are in ignored states.",
            host.ports.len()
        );
    }
    if f.hidden.is_empty() {
        out.push('\n');
    } else {
        out.push_str("Not shown: ");
        let mut first = true;
        for h in &f.hidden {
            for (r, n, _) in &h.reasons {
                if !first {
                    out.push_str(", ");
                }
                first = false;
                // nmap 7.93 says "ports" even for one.
                let _ = write!(
                    out,
                    "{n} {} {} ports ({})",
                    h.state.as_str(),
                    h.proto.as_str(),
                    r.as_str()
                );
            }
        }
        out.push('\n');
    }

    if !f.shown.is_empty() {
        // Columns: PORT STATE SERVICE [REASON] [VERSION] (VERSION once any
        // shown port has one, as nmap does after -sV).
        let versions = f.shown.iter().any(|p| p.detected.is_some());
        let mut header = vec!["PORT", "STATE", "SERVICE"];
        if reason {
            header.push("REASON");
        }
        if versions {
            header.push("VERSION");
        }
        let rows: Vec<Vec<String>> = f
            .shown
            .iter()
            .map(|p| {
                let service = match &p.detected {
                    Some(d) => d.column_name(),
                    None => p.service.clone().unwrap_or_else(|| "unknown".to_string()),
                };
                let mut row = vec![
                    format!("{}/{}", p.port, p.proto.as_str()),
                    p.state.as_str().to_string(),
                    service,
                ];
                if reason {
                    row.push(reason_ttl(p.reason, p.ttl));
                }
                if versions {
                    row.push(
                        p.detected
                            .as_ref()
                            .map(|d| d.version_text())
                            .unwrap_or_default(),
                    );
                }
                row
            })
            .collect();
        let ncols = header.len();
        let width: Vec<usize> = (0..ncols)
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].len())
                    .chain(std::iter::once(header[i].len()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut line = |cells: &[&str]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == ncols {
                    s.push_str(c);
                } else {
                    let _ = write!(s, "{:<w$} ", c, w = width[i]);
                }
            }
            // Padding never trails: an empty VERSION cell leaves none.
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&header);
        for r in &rows {
            let cells: Vec<&str> = r.iter().map(String::as_str).collect();
            line(&cells);
        }
        if let Some(info) = service_info(&f.shown) {
            out.push_str(&info);
        }
    }
    if let Some(l) = &mac_line {
        out.push_str(l);
    }
    out.push('\n');
}

/// nmap's `Service Info:` line: the hosts, OSes, devices and OS CPEs the
/// shown ports' services named, each once.
fn service_info(ports: &[&crate::PortResult]) -> Option<String> {
    let mut hosts: Vec<&str> = Vec::new();
    let mut oses: Vec<&str> = Vec::new();
    let mut devices: Vec<&str> = Vec::new();
    let mut cpes: Vec<&str> = Vec::new();
    for d in ports.iter().filter_map(|p| p.detected.as_deref()) {
        for (list, v) in [
            (&mut hosts, &d.hostname),
            (&mut oses, &d.ostype),
            (&mut devices, &d.devicetype),
        ] {
            if let Some(v) = v.as_deref() {
                if !list.contains(&v) {
                    list.push(v);
                }
            }
        }
        for c in d.cpe.iter().filter(|c| c.starts_with("cpe:/o")) {
            if !cpes.contains(&c.as_str()) {
                cpes.push(c);
            }
        }
    }
    let mut parts = Vec::new();
    for (one, many, list) in [
        ("Host", "Hosts", &hosts),
        ("OS", "OSs", &oses),
        ("Device", "Devices", &devices),
        ("CPE", "CPE", &cpes),
    ] {
        if !list.is_empty() {
            let label = if list.len() == 1 { one } else { many };
            parts.push(format!("{label}: {}", list.join(", ")));
        }
    }
    (!parts.is_empty()).then(|| format!("Service Info: {}\n", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::PortResult;
    use std::net::{IpAddr, Ipv6Addr};
    use vigie_scan::{PortState, Proto, Reason};

    #[test]
    fn latency_two_significant_digits() {
        let us = Duration::from_micros;
        assert_eq!(two_sig_digits(us(2)), "0.0000020");
        assert_eq!(two_sig_digits(us(15)), "0.000015");
        assert_eq!(two_sig_digits(us(32)), "0.000032");
        assert_eq!(two_sig_digits(us(100)), "0.00010");
        assert_eq!(two_sig_digits(Duration::from_nanos(99_960)), "0.00010");
        assert_eq!(two_sig_digits(Duration::from_millis(1270)), "1.3");
        assert_eq!(two_sig_digits(Duration::from_millis(12_300)), "12");
        assert_eq!(two_sig_digits(Duration::from_millis(123_000)), "123");
        assert_eq!(two_sig_digits(Duration::ZERO), "0.0");
    }

    fn render(file: bool, opts: Options, hosts: &[HostReport], stats: &RunStats) -> String {
        let mut w = if file {
            NormalWriter::new_file(Vec::new(), opts)
        } else {
            NormalWriter::new(Vec::new(), opts)
        };
        let run = run_info(opts.verbose);
        w.begin(&run).unwrap();
        for h in hosts {
            w.host(h).unwrap();
        }
        w.finish(&run, stats).unwrap();
        String::from_utf8(w.into_inner()).unwrap()
    }

    #[test]
    fn file_flavour_matches_nmap_layout() {
        // nmap 7.93's a.nmap for the same ports, with vigie's name.
        let got = render(true, Options::default(), &[host_small()], &stats());
        let want = "\
# vigie 0.1.0 scan initiated Sat Nov 21 04:58:06 2026 as: vigie -sS -Pn -n -p 1-1000 127.0.0.1
vigie scan report for 127.0.0.1
Host is up (0.0000020s latency).
Not shown: 996 closed tcp ports (reset)
PORT    STATE SERVICE
22/tcp  open  ssh
80/tcp  open  http
111/tcp open  rpcbind
443/tcp open  https

# vigie done at Sat Nov 21 04:58:06 2026 -- 1 IP address (1 host up) scanned in 0.08 seconds
";
        assert_eq!(got, in_local_zone(want));
    }

    #[test]
    fn screen_flavour() {
        let got = render(false, Options::default(), &[host_small()], &stats());
        assert!(got.starts_with(&in_local_zone(
            "Starting vigie 0.1.0 at 2026-11-21 04:58 UTC\nvigie scan report for 127.0.0.1\n"
        )));
        assert!(got.ends_with(
            "443/tcp open  https\n\nvigie done: 1 IP address (1 host up) scanned in 0.08 seconds\n"
        ));
    }

    #[test]
    fn reason_column_and_mixed_protocols() {
        // nmap 7.93: -sS -sU --reason -p T:22,23,U:53,54 127.0.0.1
        let mut h = host_small();
        h.hostname = Some("localhost".into());
        h.status.reason = Reason::Localhost;
        h.latency = Some(Duration::from_micros(47));
        h.ports = vec![
            PortResult {
                service: Some("ssh".into()),
                ..port(Proto::Tcp, 22, PortState::Open, Reason::SynAck, 64)
            },
            PortResult {
                service: Some("telnet".into()),
                ..port(Proto::Tcp, 23, PortState::Closed, Reason::Reset, 64)
            },
            PortResult {
                service: Some("domain".into()),
                ..port(
                    Proto::Udp,
                    53,
                    PortState::OpenFiltered,
                    Reason::NoResponse,
                    0,
                )
            },
            PortResult {
                service: Some("xns-ch".into()),
                ..port(Proto::Udp, 54, PortState::Closed, Reason::PortUnreach, 64)
            },
        ];
        let mut out = String::new();
        let opts = Options {
            reason: true,
            ..Options::default()
        };
        write_host(&mut out, &h, &opts);
        let want = "\
vigie scan report for localhost (127.0.0.1)
Host is up, received localhost-response (0.000047s latency).

PORT   STATE         SERVICE REASON
22/tcp open          ssh     syn-ack ttl 64
23/tcp closed        telnet  reset ttl 64
53/udp open|filtered domain  no-response
54/udp closed        xns-ch  port-unreach ttl 64

";
        assert_eq!(out, want);
    }

    #[test]
    fn several_hidden_states_and_unknown_service() {
        // nmap 7.93 -p 1-1000,3306,8080 with DROP/REJECT rules (b.nmap)
        let mut h = host_small();
        let mut ports = Vec::new();
        for p in h.ports.iter().cloned() {
            let q = p.port;
            let p = if (100..=160).contains(&q) {
                port(Proto::Tcp, q, PortState::Filtered, Reason::NoResponse, 0)
            } else if (200..=203).contains(&q) {
                port(
                    Proto::Tcp,
                    q,
                    PortState::Filtered,
                    Reason::AdminProhibited,
                    64,
                )
            } else if (300..=330).contains(&q) {
                port(Proto::Tcp, q, PortState::Filtered, Reason::PortUnreach, 64)
            } else {
                p
            };
            ports.push(p);
        }
        ports.push(port(
            Proto::Tcp,
            3306,
            PortState::Filtered,
            Reason::NoResponse,
            0,
        ));
        ports.push(port(
            Proto::Tcp,
            8080,
            PortState::Filtered,
            Reason::NoResponse,
            0,
        ));
        ports.push(port(Proto::Tcp, 9999, PortState::Open, Reason::SynAck, 64));
        h.ports = ports;
        let mut out = String::new();
        write_host(&mut out, &h, &Options::default());
        let want = "\
vigie scan report for 127.0.0.1
Host is up (0.0000020s latency).
Not shown: 901 closed tcp ports (reset), 63 filtered tcp ports (no-response), 31 filtered tcp ports (port-unreach), 4 filtered tcp ports (admin-prohibited)
PORT     STATE SERVICE
22/tcp   open  ssh
80/tcp   open  http
443/tcp  open  https
9999/tcp open  unknown

";
        assert_eq!(out, want);
    }

    #[test]
    fn all_ignored_and_no_latency() {
        // nmap 7.93 -p 100-160, all dropped
        let mut h = host_small();
        h.latency = None;
        h.ports = tcp_range(100, 160, PortState::Filtered, Reason::NoResponse);
        let mut out = String::new();
        write_host(&mut out, &h, &Options::default());
        assert_eq!(
            out,
            "vigie scan report for 127.0.0.1\nHost is up.\n\
             All 61 scanned ports on 127.0.0.1 are in ignored states.\n\
             Not shown: 61 filtered tcp ports (no-response)\n\n"
        );
    }

    #[test]
    fn verbose_two_scanned_at_and_implied_reason() {
        let mut h = host_small();
        h.addr = IpAddr::V6(Ipv6Addr::LOCALHOST);
        h.end = at(T0 + 3);
        h.ports = tcp_range(20, 21, PortState::Closed, Reason::Reset);
        h.ports[1].service = Some("ftp".into());
        let mut out = String::new();
        let opts = Options {
            verbose: 2,
            ..Options::default()
        };
        write_host(&mut out, &h, &opts);
        let want = "\
vigie scan report for ::1
Host is up, received user-set (0.0000020s latency).
Scanned at 2026-11-21 04:58:06 UTC for 3s

PORT   STATE  SERVICE REASON
20/tcp closed unknown reset ttl 64
21/tcp closed ftp     reset ttl 64

";
        assert_eq!(out, in_local_zone(want));
    }

    #[test]
    fn down_hosts_only_when_verbose() {
        let st = RunStats {
            hosts_up: 0,
            hosts_down: 1,
            ..stats()
        };
        let quiet = render(true, Options::default(), &[host_down()], &st);
        assert_eq!(quiet.lines().count(), 2);
        assert!(quiet.ends_with("-- 1 IP address (0 hosts up) scanned in 0.08 seconds\n"));
        let v = Options {
            verbose: 1,
            ..Options::default()
        };
        let loud = render(true, v, &[host_down()], &st);
        assert_eq!(
            loud.lines().nth(1),
            Some("vigie scan report for 198.18.0.2 [host down]")
        );
        let mut out = String::new();
        let vr = Options {
            verbose: 1,
            reason: true,
            ..Options::default()
        };
        write_host(&mut out, &host_down(), &vr);
        assert_eq!(
            out,
            "vigie scan report for 198.18.0.2 [host down, received no-response]\n"
        );
    }

    #[test]
    fn open_only_hides_hosts_without_open_ports() {
        let mut h = host_small();
        let opts = Options {
            open_only: true,
            ..Options::default()
        };
        let mut out = String::new();
        h.ports.truncate(30); // 1-30: 22 open, 29 closed
        write_host(&mut out, &h, &opts);
        assert_eq!(
            out,
            "vigie scan report for 127.0.0.1\nHost is up (0.0000020s latency).\n\
             Not shown: 29 closed tcp ports (reset)\nPORT   STATE SERVICE\n22/tcp open  ssh\n\n"
        );
        h.ports[21].state = PortState::Closed;
        let text = render(true, opts, &[h], &stats());
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn ping_only_host_has_no_table() {
        let mut h = host_small();
        h.ports.clear();
        let mut out = String::new();
        write_host(&mut out, &h, &Options::default());
        assert_eq!(
            out,
            "vigie scan report for 127.0.0.1\nHost is up (0.0000020s latency).\n"
        );
    }

    #[test]
    fn mac_line_as_nmap_prints_it() {
        let mut h = host_small();
        h.mac = Some([0x2e, 0x5f, 0x11, 0xaa, 0x00, 0x0b]);
        h.ports.clear();
        let mut out = String::new();
        write_host(&mut out, &h, &Options::default());
        assert_eq!(
            out,
            "vigie scan report for 127.0.0.1\nHost is up (0.0000020s latency).\n\
             MAC Address: 2E:5F:11:AA:00:0B (Unknown)\n"
        );
        let mut h = host_small();
        h.mac = Some([0x2e, 0x5f, 0x11, 0xaa, 0x00, 0x0b]);
        h.ports.truncate(22);
        let mut out = String::new();
        write_host(&mut out, &h, &Options::default());
        assert!(
            out.ends_with(" ssh\nMAC Address: 2E:5F:11:AA:00:0B (Unknown)\n\n"),
            "{out}"
        );
    }

    #[test]
    fn version_column_and_service_info() {
        let got = render(false, Options::default(), &[host_versions()], &stats());
        let table = "PORT    STATE SERVICE  VERSION\n\
                     22/tcp  open  ssh      OpenSSH 9.2p1 Debian 2+deb12u3 (protocol 2.0)\n\
                     80/tcp  open  http\n\
                     111/tcp open  rpcbind\n\
                     443/tcp open  ssl/http nginx 1.22.1\n\
                     Service Info: Host: www.vigie.test; OS: Linux; CPE: cpe:/o:linux:linux_kernel\n";
        assert!(got.contains(table), "{got}");
        // Without -sV results, no VERSION column.
        let plain = render(false, Options::default(), &[host_small()], &stats());
        assert!(plain.contains("PORT    STATE SERVICE\n"), "{plain}");
        assert!(!plain.contains("Service Info"));
    }
}
