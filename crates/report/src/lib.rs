//! vigie's result model and its writers.
//!
//! One model ([`RunInfo`], [`HostReport`], [`RunStats`]), one [`Sink`] trait
//! (`begin`, `host`, `finish`) and writers that reproduce nmap's formats:
//! [`NormalWriter`] (nmap's screen output and `-oN`), [`XmlWriter`] (`-oX`,
//! nmap's DTD, readable by `ndiff`), [`GrepWriter`] (`-oG`), plus our own
//! [`JsonLinesWriter`] (`-oJ`). [`Tee`] feeds several sinks at once.
//!
//! [`diff`] compares two reports read back (vigie's or nmap's `-oX`, vigie's
//! `-oJ`) and writes the changes as ndiff does, or as JSON Lines.
//!
//! Which ports a writer lists and which it summarises ("Not shown: …",
//! `<extraports>`) is decided once, by [`fold`], with nmap's rules.
#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Local, Offset, TimeDelta, TimeZone, Utc};

use vigie_scan::ports::PortList;
use vigie_scan::{PortState, Proto, Reason, Technique};

mod diff;
mod fold;
mod grep;
mod json;
mod merge;
mod normal;
mod read;
mod xml;

pub use diff::{
    diff, write_json_lines as write_diff_json_lines, write_text as write_diff_text,
    write_xml as write_diff_xml, Detected, Diff, HostDiff, HostView, PortChange, PortDiff,
    PortView, RunHead,
};
pub use fold::{fold, Folded, HiddenState};
pub use grep::GrepWriter;
pub use json::JsonLinesWriter;
pub use merge::{merge, write_report, MergeError};
pub use normal::NormalWriter;
pub use read::{
    read_json_lines, read_report, read_xml, sniff, Format, Malformed, Origin, ReadError, Report,
    Scanner,
};
pub use xml::XmlWriter;

/// vigie's version, printed where nmap prints its own.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The program name printed where nmap prints "Nmap".
pub const NAME: &str = "vigie";

/// One scan pass: a technique over a protocol's port list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanInfo {
    pub technique: Technique,
    pub proto: Proto,
    pub ports: PortList,
    /// `--scanflags`, spelled as flag names (`SYNFIN`), when given.
    pub scanflags: Option<String>,
}

/// What is known when the run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The command line, as the user typed it (already joined/quoted).
    pub args: String,
    pub start: SystemTime,
    pub scans: Vec<ScanInfo>,
    pub verbose: u8,
}

/// Whether a host is up, and why we think so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostStatus {
    pub up: bool,
    pub reason: Reason,
    /// TTL of the reply that told us; 0 when there was none.
    pub ttl: u8,
}

/// One scanned port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortResult {
    pub proto: Proto,
    pub port: u16,
    pub state: PortState,
    pub reason: Reason,
    /// TTL of the reply; 0 when there was none (no-response, connect scan).
    pub ttl: u8,
    /// Service name from the table; `None` prints as nmap does for unknown ports.
    pub service: Option<String>,
    /// What service detection (`-sV`) found; when set, writers show it
    /// instead of the table's name.
    pub detected: Option<Box<ServiceInfo>>,
}

/// What service and version detection found behind a port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceInfo {
    /// `ssh`, `http`, … (inside TLS when `tunnel_ssl`).
    pub name: String,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extrainfo: Option<String>,
    pub hostname: Option<String>,
    pub ostype: Option<String>,
    pub devicetype: Option<String>,
    /// The service was found inside TLS (`tunnel="ssl"`, `ssl/http`).
    pub tunnel_ssl: bool,
    /// nmap's confidence: 10 for a probe's match, 8 for tcpwrapped.
    pub conf: u8,
    /// `cpe:/a:vendor:product:version`, lower-case.
    pub cpe: Vec<String>,
    /// What TLS showed, when the port spoke it.
    pub tls: Option<TlsFields>,
}

/// What a TLS handshake showed (JSON Lines, `-oN`'s extra lines).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFields {
    /// `TLSv1.3`, `TLSv1.2`.
    pub version: String,
    pub cipher: String,
    pub alpn: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub sans: Vec<String>,
    /// Validity, Unix seconds.
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// `rsa 2048`, `ec 256`, `ed25519`.
    pub key: Option<String>,
    /// SHA-256 of the certificate, lower-case hex.
    pub sha256: Option<String>,
}

impl ServiceInfo {
    /// The SERVICE column: `http`, or `ssl/http` inside TLS.
    pub fn column_name(&self) -> String {
        if self.tunnel_ssl {
            format!("ssl/{}", self.name)
        } else {
            self.name.clone()
        }
    }

    /// The VERSION column, as nmap writes it: `product version (extrainfo)`.
    pub fn version_text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.product.clone());
        parts.extend(self.version.clone());
        if let Some(i) = &self.extrainfo {
            parts.push(format!("({i})"));
        }
        parts.join(" ")
    }
}

/// Everything known about one host once its scan is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReport {
    pub addr: IpAddr,
    pub hostname: Option<String>,
    /// The hardware address, when discovery saw the host on the local
    /// segment (ARP / neighbour discovery).
    pub mac: Option<[u8; 6]>,
    pub status: HostStatus,
    pub latency: Option<Duration>,
    pub start: SystemTime,
    pub end: SystemTime,
    /// EVERY scanned port, sorted by (proto, port).
    pub ports: Vec<PortResult>,
    pub srtt: Option<Duration>,
    pub rttvar: Option<Duration>,
    pub timeout: Option<Duration>,
}

/// Totals for the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunStats {
    pub end: SystemTime,
    pub elapsed: Duration,
    pub hosts_up: u64,
    pub hosts_down: u64,
    pub hosts_total: u64,
}

/// Output switches that change what nmap prints (`--reason`, `--open`, `-v`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub reason: bool,
    pub open_only: bool,
    pub verbose: u8,
}

impl Options {
    /// nmap turns `--reason` on by itself from `-vv`.
    pub(crate) fn show_reason(&self) -> bool {
        self.reason || self.verbose >= 2
    }
}

/// A consumer of scan results. Writers stream: `begin`, `flush` and
/// `finish` reach the writer's output at once; hosts are buffered until the
/// next `flush` (the scan calls it at the end of each report window, whose
/// hosts come in one burst). One write per host cost a /16 sweep 65,536
/// system calls per output, and a reader of the pipe a wake-up for each.
pub trait Sink {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()>;
    fn host(&mut self, host: &HostReport) -> io::Result<()>;
    /// Everything written so far, out to the writer's output.
    fn flush(&mut self) -> io::Result<()>;
    fn finish(&mut self, run: &RunInfo, stats: &RunStats) -> io::Result<()>;
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        (**self).begin(run)
    }
    fn host(&mut self, host: &HostReport) -> io::Result<()> {
        (**self).host(host)
    }
    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }
    fn finish(&mut self, run: &RunInfo, stats: &RunStats) -> io::Result<()> {
        (**self).finish(run, stats)
    }
}

/// Several sinks fed the same results, in order. Every sink gets every call,
/// even if an earlier one failed; the first error is returned.
pub struct Tee {
    sinks: Vec<Box<dyn Sink + Send>>,
}

impl Tee {
    pub fn new(sinks: Vec<Box<dyn Sink + Send>>) -> Tee {
        Tee { sinks }
    }

    fn each(&mut self, mut f: impl FnMut(&mut dyn Sink) -> io::Result<()>) -> io::Result<()> {
        let mut first_err = None;
        for s in &mut self.sinks {
            if let Err(e) = f(s.as_mut()) {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Sink for Tee {
    fn begin(&mut self, run: &RunInfo) -> io::Result<()> {
        self.each(|s| s.begin(run))
    }
    fn host(&mut self, host: &HostReport) -> io::Result<()> {
        self.each(|s| s.host(host))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.each(|s| s.flush())
    }
    fn finish(&mut self, run: &RunInfo, stats: &RunStats) -> io::Result<()> {
        self.each(|s| s.finish(run, stats))
    }
}

// ---- helpers shared by the writers ----

/// Whether a host is printed at all. Down hosts only with `-v` (and never
/// with `--open`); with `--open`, up hosts only when some port is open,
/// open|filtered or unfiltered (nmap's rule, checked against nmap 7.93).
pub(crate) fn host_visible(host: &HostReport, opts: &Options) -> bool {
    if !host.status.up {
        return opts.verbose >= 1 && !opts.open_only;
    }
    if opts.open_only && !host.ports.is_empty() {
        return host.ports.iter().any(|p| {
            matches!(
                p.state,
                PortState::Open | PortState::OpenFiltered | PortState::Unfiltered
            )
        });
    }
    true
}

/// "ADDR" or "NAME (ADDR)", as nmap names a host in its reports.
pub(crate) fn name_ip(host: &HostReport) -> String {
    match &host.hostname {
        Some(n) if !n.is_empty() => format!("{n} ({})", host.addr),
        _ => host.addr.to_string(),
    }
}

/// "syn-ack ttl 64", or just "no-response" when no reply carried a TTL.
pub(crate) fn reason_ttl(reason: Reason, ttl: u8) -> String {
    if ttl == 0 {
        reason.as_str().to_string()
    } else {
        format!("{} ttl {ttl}", reason.as_str())
    }
}

/// "1 IP address (1 host up) scanned in 0.08 seconds".
pub(crate) fn done_summary(stats: &RunStats) -> String {
    format!(
        "{} IP address{} ({} host{} up) scanned in {:.2} seconds",
        stats.hosts_total,
        if stats.hosts_total == 1 { "" } else { "es" },
        stats.hosts_up,
        if stats.hosts_up == 1 { "" } else { "s" },
        stats.elapsed.as_secs_f64()
    )
}

// ---- times, as nmap prints them: in the local zone ----

/// `t` as chrono's time; the few times chrono cannot hold (more than
/// 262 000 years away) are clamped to its range.
pub(crate) fn utc(t: SystemTime) -> DateTime<Utc> {
    let epoch = DateTime::UNIX_EPOCH;
    let moved = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => TimeDelta::from_std(d)
            .ok()
            .and_then(|d| epoch.checked_add_signed(d)),
        Err(e) => TimeDelta::from_std(e.duration())
            .ok()
            .and_then(|d| epoch.checked_sub_signed(d)),
    };
    moved.unwrap_or(if t < UNIX_EPOCH {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Seconds since the Unix epoch, rounded down (negative before it).
pub(crate) fn unix_secs(t: SystemTime) -> i64 {
    utc(t).timestamp()
}

/// C's `ctime()` layout without the newline, in the local zone:
/// "Sat Nov 21 04:58:06 2026", the day padded with a space ("Sat Nov  1 …").
pub(crate) fn ctime(t: SystemTime) -> String {
    ctime_in(t, &Local)
}

/// "2026-11-21 04:58 UTC" (the "Starting … at" line), in the local zone.
pub(crate) fn minute_stamp(t: SystemTime) -> String {
    stamp_in(t, &Local, "%Y-%m-%d %H:%M")
}

/// "2026-11-21 04:58:49 UTC" (the "Scanned at" line), in the local zone.
pub(crate) fn second_stamp(t: SystemTime) -> String {
    stamp_in(t, &Local, "%Y-%m-%d %H:%M:%S")
}

fn ctime_in<Tz: TimeZone>(t: SystemTime, zone: &Tz) -> String
where
    Tz::Offset: fmt::Display,
{
    utc(t)
        .with_timezone(zone)
        .format("%a %b %e %H:%M:%S %Y")
        .to_string()
}

/// `layout` and the zone, as nmap's strftime `%Z` writes it. chrono knows
/// offsets, not zone abbreviations: a zero offset is written `UTC` (what
/// strftime writes for UTC), any other as `+0100` (what it writes for a
/// zone without an abbreviation).
fn stamp_in<Tz: TimeZone>(t: SystemTime, zone: &Tz, layout: &str) -> String
where
    Tz::Offset: fmt::Display,
{
    let local = utc(t).with_timezone(zone);
    if local.offset().fix().local_minus_utc() == 0 {
        format!("{} UTC", local.format(layout))
    } else {
        format!("{} {}", local.format(layout), local.format("%z"))
    }
}

#[cfg(test)]
pub(crate) mod testutil;

/// A MAC address as nmap writes it: `2E:5F:11:AA:00:02`.
pub fn mac_string(m: &[u8; 6]) -> String {
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    struct Failing;
    impl Sink for Failing {
        fn begin(&mut self, _: &RunInfo) -> io::Result<()> {
            Err(io::Error::other("boom"))
        }
        fn host(&mut self, _: &HostReport) -> io::Result<()> {
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn finish(&mut self, _: &RunInfo, _: &RunStats) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn tee_feeds_every_sink_and_reports_first_error() {
        let a = Shared::default();
        let b = Shared::default();
        let mut tee = Tee::new(vec![
            Box::new(GrepWriter::new(a.clone(), Options::default())),
            Box::new(Failing),
            Box::new(JsonLinesWriter::new(b.clone())),
        ]);
        let run = run_info(0);
        let err = tee.begin(&run).unwrap_err();
        assert_eq!(err.to_string(), "boom");
        tee.host(&host_small()).unwrap();
        tee.finish(&run, &stats()).unwrap();
        assert_eq!(a.text().lines().count(), 4);
        assert_eq!(b.text().lines().count(), 3);
        assert!(a.text().starts_with("# vigie 0.1.0 scan initiated "));
    }

    /// Hosts wait in the writer's buffer until `flush` (the end of a
    /// report window); `begin` and `finish` go out at once. Every writer.
    #[test]
    fn hosts_reach_the_output_at_flush_and_begin_and_finish_at_once() {
        let run = run_info(0);
        type Make = fn(io::BufWriter<Shared>) -> Box<dyn Sink + Send>;
        let writers: [(&str, Make); 5] = [
            ("normal", |w| {
                Box::new(NormalWriter::new(w, Options::default()))
            }),
            ("-oN", |w| {
                Box::new(NormalWriter::new_file(w, Options::default()))
            }),
            ("-oX", |w| Box::new(XmlWriter::new(w, Options::default()))),
            ("-oG", |w| Box::new(GrepWriter::new(w, Options::default()))),
            ("-oJ", |w| Box::new(JsonLinesWriter::new(w))),
        ];
        for (name, make) in writers {
            let out = Shared::default();
            let mut s = make(io::BufWriter::with_capacity(1 << 20, out.clone()));
            s.begin(&run).unwrap();
            let begun = out.text().len();
            assert!(begun > 0, "{name}: begin not written at once");
            s.host(&host_small()).unwrap();
            assert_eq!(
                out.text().len(),
                begun,
                "{name}: a host written before flush"
            );
            s.flush().unwrap();
            let flushed = out.text().len();
            assert!(flushed > begun, "{name}: flush wrote nothing");
            s.finish(&run, &stats()).unwrap();
            assert!(
                out.text().len() > flushed,
                "{name}: finish not written at once"
            );
        }
    }

    #[test]
    fn times_as_nmap_prints_them() {
        // nmap 7.93 printed start="1795237086" startstr="Sat Nov 21 04:58:06 2026" (in UTC)
        let t = at(1_795_237_086);
        assert_eq!(ctime_in(t, &Utc), "Sat Nov 21 04:58:06 2026");
        assert_eq!(stamp_in(t, &Utc, "%Y-%m-%d %H:%M"), "2026-11-21 04:58 UTC");
        assert_eq!(
            stamp_in(at(1_795_237_129), &Utc, "%Y-%m-%d %H:%M:%S"),
            "2026-11-21 04:58:49 UTC"
        );
        assert_eq!(ctime_in(at(0), &Utc), "Thu Jan  1 00:00:00 1970");
        // leap days, single-digit day padded with a space
        assert_eq!(ctime_in(at(951_782_400), &Utc), "Tue Feb 29 00:00:00 2000");
        assert_eq!(
            ctime_in(at(1_709_251_199), &Utc),
            "Thu Feb 29 23:59:59 2024"
        );
        assert_eq!(
            ctime_in(at(1_704_067_200), &Utc),
            "Mon Jan  1 00:00:00 2024"
        );
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(ctime_in(before, &Utc), "Wed Dec 31 23:59:59 1969");
        // another zone: its local time, and its offset where nmap names it
        let east = chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        assert_eq!(ctime_in(t, &east), "Sat Nov 21 10:28:06 2026");
        assert_eq!(
            stamp_in(t, &east, "%Y-%m-%d %H:%M"),
            "2026-11-21 10:28 +0530"
        );
        let west = chrono::FixedOffset::west_opt(3 * 3600).unwrap();
        assert_eq!(
            stamp_in(t, &west, "%Y-%m-%d %H:%M:%S"),
            "2026-11-21 01:58:06 -0300"
        );
        // the writers' zone is the local one
        assert_eq!(ctime(t), ctime_in(t, &Local));
    }

    #[test]
    fn unix_secs_rounds_down_and_extremes_do_not_panic() {
        assert_eq!(unix_secs(at(5) + Duration::from_millis(999)), 5);
        assert_eq!(unix_secs(UNIX_EPOCH - Duration::from_millis(1)), -1);
        let far = Duration::from_secs(1 << 62);
        for t in [UNIX_EPOCH + far, UNIX_EPOCH - far] {
            let _ = (ctime(t), minute_stamp(t), second_stamp(t));
        }
        assert_eq!(utc(UNIX_EPOCH + far), DateTime::<Utc>::MAX_UTC);
        assert_eq!(utc(UNIX_EPOCH - far), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn summary_plurals() {
        let mut s = stats();
        assert_eq!(
            done_summary(&s),
            "1 IP address (1 host up) scanned in 0.08 seconds"
        );
        s.hosts_total = 256;
        s.hosts_up = 0;
        assert_eq!(
            done_summary(&s),
            "256 IP addresses (0 hosts up) scanned in 0.08 seconds"
        );
        s.hosts_total = 0;
        s.hosts_up = 2;
        assert_eq!(
            done_summary(&s),
            "0 IP addresses (2 hosts up) scanned in 0.08 seconds"
        );
    }

    #[test]
    fn visibility_rules() {
        let mut h = host_small();
        let o = Options::default();
        assert!(host_visible(&h, &o));
        let open = Options {
            open_only: true,
            ..o
        };
        assert!(host_visible(&h, &open));
        for p in &mut h.ports {
            if p.state == PortState::Open {
                p.state = PortState::Closed;
            }
        }
        assert!(!host_visible(&h, &open));
        h.ports[0].state = PortState::OpenFiltered;
        assert!(host_visible(&h, &open));
        let down = host_down();
        assert!(!host_visible(&down, &o));
        assert!(host_visible(&down, &Options { verbose: 1, ..o }));
        assert!(!host_visible(
            &down,
            &Options {
                verbose: 1,
                open_only: true,
                ..o
            }
        ));
    }
}
