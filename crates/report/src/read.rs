//! Reading `-oX` and `-oJ` outputs back into the result model: vigie's own
//! XML and JSON Lines (for `vigie merge` and `vigie diff`), and nmap's own
//! XML (`nmap -oX`, for `vigie diff`). The XML must carry vigie's or nmap's
//! "… scan initiated" comment, the JSON Lines a `run` line from vigie and a
//! closing `stats` line; anything else, and any truncated document, is an
//! error of one line, never a panic.
//!
//! What the XML does not hold comes back empty: folded ports
//! (`<extrareasons>`) have no TTL (0) and no service name, and no host has a
//! latency. The JSON Lines hold everything but `--scanflags`.
//!
//! Elements the model does not hold are passed over with everything inside
//! them (nmap's `<hosthint>`, `<os>`, `<trace>`, `<script>`, `<uptime>`,
//! `<taskbegin>`, …). In nmap's files only, words vigie does not model are
//! tolerated so that the ports can still be compared: a reason vigie does
//! not know (`dest-unreach`, `proto-response`, …) reads as the neutral
//! [`Reason::Unknown`] (`unknown-response`); SCTP and IP-protocol ports, and
//! the scan passes vigie does not run (`sctpinit`, `ipproto`, `bounce`,
//! `idle`), are left out; host states `unknown` and `skipped` read as down.
//! An unknown port state is an error in either (the port cannot be
//! compared). [`Report::origin`] says who wrote the document.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};
use thiserror::Error;
use vigie_scan::ports::PortList;
use vigie_scan::{PortState, Proto, Reason, Technique};

use crate::json::{HostLine, Line};
use crate::{HostReport, HostStatus, PortResult, RunInfo, RunStats, ScanInfo, ServiceInfo, NAME};

/// Why a document could not be read back. Every message is one line.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("empty file")]
    Empty,
    #[error("not a {NAME} output (neither XML nor JSON Lines)")]
    UnknownFormat,
    #[error("not UTF-8 text: {0}")]
    NotUtf8(std::str::Utf8Error),
    /// The XML itself is broken.
    #[error("bad XML near byte {at}: {}", one_line(error))]
    XmlSyntax { at: u64, error: quick_xml::Error },
    /// Well-formed XML that is not what vigie writes.
    #[error("{error} (near byte {at})")]
    Xml { at: u64, error: Malformed },
    #[error("not a {NAME} XML output (no <nmaprun>)")]
    NoNmaprun,
    #[error("truncated XML (no </nmaprun>)")]
    TruncatedXml,
    #[error("XML without <runstats> (truncated?)")]
    NoRunstats,
    /// A line that is not one of vigie's JSON records.
    #[error("line {line}: not a {NAME} JSON Lines record: {}", one_line(error))]
    JsonRecord {
        line: usize,
        error: serde_json::Error,
    },
    /// A JSON record whose content is not what vigie writes.
    #[error("line {line}: {error}")]
    Json { line: usize, error: Malformed },
    #[error("not a {NAME} JSON Lines output (no run line)")]
    NoRunLine,
    #[error("truncated JSON Lines (no stats line)")]
    TruncatedJson,
}

/// What is wrong inside one element (XML) or one record (JSON Lines).
#[derive(Debug, Error)]
pub enum Malformed {
    /// A word vigie does not write: `what` names the kind ("port state").
    #[error("unknown {what} {word:?}")]
    Unknown { what: &'static str, word: String },
    #[error("bad {what} {value:?} (not a number in range)")]
    Number { what: String, value: String },
    #[error("time {0} out of range")]
    Time(i64),
    #[error("bad elapsed {0:?}")]
    Elapsed(String),
    #[error("bad port range {0:?}")]
    PortRange(String),
    #[error("bad address {0:?}")]
    Address(String),
    #[error("bad MAC address {0:?}")]
    Mac(String),
    #[error("host {addr}: port {port}/{} listed twice", proto.as_str())]
    PortTwice {
        addr: IpAddr,
        proto: Proto,
        port: u16,
    },
    #[error("more than {MAX_PORTS} ports for one host")]
    TooManyPorts,
    #[error("not a {NAME} XML output (root element <{0}>)")]
    Root(String),
    #[error("not a {NAME} XML output (no \"{NAME} … scan initiated\" comment)")]
    NoComment,
    #[error("<{elem}>: bad attribute: {}", one_line(error))]
    Attribute { elem: String, error: AttrError },
    #[error("<{elem}>: bad attribute {key}: {}", one_line(error))]
    AttributeValue {
        elem: String,
        key: String,
        error: quick_xml::Error,
    },
    #[error("<{elem}> without {key}=")]
    NoAttribute { elem: String, key: String },
    #[error("<{elem}> outside <{parent}>")]
    Outside { elem: String, parent: &'static str },
    #[error("<{0}> after </nmaprun>")]
    AfterRoot(String),
    #[error("unexpected text")]
    Text,
    #[error("<extrareasons> count={count} but {listed} ports listed")]
    ExtraReasonsCount { count: u32, listed: u32 },
    #[error("<extraports> count={count} but its reasons hold {seen} ports")]
    ExtraPortsCount { count: u32, seen: u32 },
    #[error("port {0}: <port> without <state>")]
    NoPortState(u16),
    #[error("<host> without an IP address")]
    NoAddress,
    #[error("host {0}: two IP addresses")]
    TwoAddresses(IpAddr),
    #[error("host {0}: no <status>")]
    NoStatus(IpAddr),
    #[error("written by {0:?}, not {NAME}")]
    Scanner(String),
    #[error("scan count {count} but {listed} ports listed")]
    ScanCount { count: u32, listed: u32 },
    #[error("a second run line")]
    SecondRun,
    #[error("not a {NAME} JSON Lines output (no run line first)")]
    NoRunFirst,
    #[error("record after the stats line")]
    AfterStats,
}

/// A parser's message on one line: the parsers quote the damaged input,
/// which may hold a newline (`</po\nrt>`); control characters are escaped.
fn one_line(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    if !s.contains(char::is_control) {
        return s;
    }
    s.chars()
        .map(|c| match c {
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn unknown(what: &'static str, word: &str) -> Malformed {
    Malformed::Unknown {
        what,
        word: word.to_owned(),
    }
}

fn outside(elem: &str, parent: &'static str) -> Malformed {
    Malformed::Outside {
        elem: elem.to_owned(),
        parent,
    }
}

/// The two output formats vigie can read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    JsonLines,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Xml => "XML",
            Format::JsonLines => "JSON Lines",
        }
    }
}

/// One whole output read back: who wrote it, the run, every host written,
/// the totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub origin: Origin,
    pub run: RunInfo,
    pub hosts: Vec<HostReport>,
    pub stats: RunStats,
}

/// The program that wrote a document, as its header names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scanner: Scanner,
    /// Its version (`nmaprun/@version`, the run line's `version`).
    pub version: String,
}

/// The scanners whose outputs are read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanner {
    Vigie,
    Nmap,
}

impl Scanner {
    /// The name as the scanner writes it in its "… scan initiated" line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scanner::Vigie => NAME,
            Scanner::Nmap => "Nmap",
        }
    }
}

impl Origin {
    /// This build of vigie.
    pub fn vigie() -> Origin {
        Origin {
            scanner: Scanner::Vigie,
            version: crate::VERSION.to_owned(),
        }
    }
}

/// The format of a document from its first non-blank byte: `<` for XML,
/// `{` for JSON Lines.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace())?;
    match first {
        b'<' => Some(Format::Xml),
        b'{' => Some(Format::JsonLines),
        _ => None,
    }
}

/// Read a document of either format, told apart by [`sniff`].
pub fn read_report(bytes: &[u8]) -> Result<(Format, Report), ReadError> {
    match sniff(bytes) {
        Some(Format::Xml) => read_xml(bytes).map(|r| (Format::Xml, r)),
        Some(Format::JsonLines) => read_json_lines(bytes).map(|r| (Format::JsonLines, r)),
        None if bytes.iter().all(u8::is_ascii_whitespace) => Err(ReadError::Empty),
        None => Err(ReadError::UnknownFormat),
    }
}

// ---- shared parsing of the words vigie writes ----

fn technique(s: &str) -> Option<Technique> {
    Technique::RAW_TCP
        .into_iter()
        .chain([Technique::Connect, Technique::Udp])
        .find(|t| t.nmap_name() == s)
}

fn proto(s: &str) -> Result<Proto, Malformed> {
    match s {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        _ => Err(unknown("protocol", s)),
    }
}

fn state(s: &str) -> Result<PortState, Malformed> {
    PortState::parse(s).ok_or_else(|| unknown("port state", s))
}

/// `syn-ack` reads back as the raw scan's reason; the connect scan's own
/// variant only differs inside the engine.
fn reason(s: &str) -> Result<Reason, Malformed> {
    Reason::ALL
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| unknown("reason", s))
}

fn number<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, Malformed> {
    s.parse().map_err(|_| Malformed::Number {
        what: what.to_owned(),
        value: s.to_owned(),
    })
}

/// Unix seconds, within the range the writers can print.
fn unix_time(secs: i64) -> Result<SystemTime, Malformed> {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(SystemTime::from)
        .ok_or(Malformed::Time(secs))
}

fn micros(us: u64) -> Duration {
    Duration::from_micros(us)
}

/// nmap's port list spelling, `1-21,23,25-79` (empty → no ports).
fn port_list(s: &str) -> Result<PortList, Malformed> {
    if s.is_empty() {
        return Ok(PortList::default());
    }
    let mut ranges = Vec::new();
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u16, u16) = (number("port", a)?, number("port", b)?);
        if a > b {
            return Err(Malformed::PortRange(part.to_owned()));
        }
        ranges.push((a, b));
    }
    Ok(PortList::from_ranges(ranges))
}

fn mac(s: &str) -> Result<[u8; 6], Malformed> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        let p = parts.next().filter(|p| p.len() == 2);
        *b = p
            .and_then(|p| u8::from_str_radix(p, 16).ok())
            .ok_or_else(|| Malformed::Mac(s.to_owned()))?;
    }
    if parts.next().is_some() {
        return Err(Malformed::Mac(s.to_owned()));
    }
    Ok(out)
}

/// Sort a host's ports by (proto, port) and refuse a port listed twice.
fn finish_ports(addr: IpAddr, ports: &mut [PortResult]) -> Result<(), Malformed> {
    ports.sort_by_key(|p| (p.proto, p.port));
    for w in ports.windows(2) {
        if (w[0].proto, w[0].port) == (w[1].proto, w[1].port) {
            return Err(Malformed::PortTwice {
                addr,
                proto: w[0].proto,
                port: w[0].port,
            });
        }
    }
    Ok(())
}

// ---- XML ----

/// The attributes of one element, unescaped.
struct Attrs(Vec<(String, String)>);

impl Attrs {
    fn of(e: &BytesStart) -> Result<Attrs, Malformed> {
        let name = || String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let mut v = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|error| Malformed::Attribute {
                elem: name(),
                error,
            })?;
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let value = match a.unescape_value() {
                Ok(v) => v.into_owned(),
                Err(error) => {
                    return Err(Malformed::AttributeValue {
                        elem: name(),
                        key,
                        error,
                    })
                }
            };
            v.push((key, value));
        }
        Ok(Attrs(v))
    }

    fn opt(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn get(&self, elem: &str, key: &str) -> Result<&str, Malformed> {
        self.opt(key).ok_or_else(|| Malformed::NoAttribute {
            elem: elem.to_owned(),
            key: key.to_owned(),
        })
    }

    fn num<T: std::str::FromStr>(&self, elem: &str, key: &str) -> Result<T, Malformed> {
        number(&format!("{elem}/@{key}"), self.get(elem, key)?)
    }
}

/// Every TCP and UDP port: more for one host can only be a repeat, refused
/// before a document of a few kilobytes of `<extrareasons>` can fill memory.
const MAX_PORTS: usize = 2 * 65536;

/// A `<port>` being read: (proto, port, (state, reason, ttl), service,
/// what `-sV` found).
type PortBuild = (
    Proto,
    u16,
    Option<(PortState, Reason, u8)>,
    Option<String>,
    Option<Box<ServiceInfo>>,
);

/// A host being read: its `<host>` element is open.
struct HostBuild {
    addr: Option<IpAddr>,
    mac: Option<[u8; 6]>,
    hostname: Option<String>,
    status: Option<HostStatus>,
    start: Option<SystemTime>,
    end: Option<SystemTime>,
    ports: Vec<PortResult>,
    times: Option<(Duration, Duration, Duration)>,
    /// The `<port>` being read.
    port: Option<PortBuild>,
    /// The `<extraports>` being read: state, count announced, ports seen.
    extra: Option<(PortState, u32, u32)>,
}

/// What to do with an element's content once it is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Read what is inside.
    Enter,
    /// Pass over it and everything inside (an element not modelled).
    Skip,
}

/// Everything read so far from an XML document.
#[derive(Default)]
struct XmlRead {
    /// The scanner named by the "… scan initiated" comment.
    scanner: Option<Scanner>,
    version: String,
    root_seen: bool,
    args: String,
    start: Option<SystemTime>,
    scans: Vec<ScanInfo>,
    verbose: u8,
    hosts: Vec<HostReport>,
    host: Option<HostBuild>,
    end: Option<SystemTime>,
    elapsed: Option<Duration>,
    counts: Option<(u64, u64, u64)>,
    closed: bool,
}

impl XmlRead {
    fn host(&mut self, elem: &str) -> Result<&mut HostBuild, Malformed> {
        self.host.as_mut().ok_or_else(|| outside(elem, "host"))
    }

    /// The text of a `<cpe>`: kept with the port's probed service.
    fn cpe(&mut self, text: String) -> Result<(), Malformed> {
        let nmap = self.nmap();
        let h = self.host("cpe")?;
        let p = h.port.as_mut().ok_or_else(|| outside("cpe", "port"))?;
        match p.4.as_mut() {
            Some(d) => {
                d.cpe.push(text);
                Ok(())
            }
            None if nmap => Ok(()),
            None => Err(Malformed::Text),
        }
    }

    fn nmap(&self) -> bool {
        self.scanner == Some(Scanner::Nmap)
    }

    /// A reason word: in nmap's files, one vigie does not model is kept as
    /// the neutral [`Reason::Unknown`]; in vigie's, it is an error.
    fn reason(&self, s: &str) -> Result<Reason, Malformed> {
        match reason(s) {
            Err(_) if self.nmap() => Ok(Reason::Unknown),
            r => r,
        }
    }

    /// A protocol word: `Ok(None)` for nmap's SCTP and IP-protocol ports,
    /// which vigie does not model (they are passed over).
    fn proto(&self, s: &str) -> Result<Option<Proto>, Malformed> {
        match proto(s) {
            Err(_) if self.nmap() => Ok(None),
            r => r.map(Some),
        }
    }

    fn open(
        &mut self,
        name: &str,
        parent: Option<&str>,
        e: &BytesStart,
    ) -> Result<Flow, Malformed> {
        if parent.is_none() {
            if name != "nmaprun" || self.root_seen {
                return Err(Malformed::Root(name.to_owned()));
            }
            if self.scanner.is_none() {
                return Err(Malformed::NoComment);
            }
        }
        let a = Attrs::of(e)?;
        match (parent, name) {
            (None, "nmaprun") => {
                self.root_seen = true;
                self.args = a.get(name, "args")?.to_owned();
                self.start = Some(unix_time(a.num(name, "start")?)?);
                self.version = a.opt("version").unwrap_or_default().to_owned();
            }
            (Some("nmaprun"), "scaninfo") => {
                let ty = a.get(name, "type")?;
                let pr = self.proto(a.get(name, "protocol")?)?;
                // nmap's passes vigie does not run (SCTP, IP protocol,
                // FTP bounce, idle) are left out of the run's list.
                let (technique, proto) = match (technique(ty), pr) {
                    (Some(t), Some(p)) => (t, p),
                    _ if self.nmap() => return Ok(Flow::Skip),
                    _ => return Err(unknown("scan type", ty)),
                };
                self.scans.push(ScanInfo {
                    technique,
                    proto,
                    ports: port_list(a.get(name, "services")?)?,
                    scanflags: a.opt("scanflags").map(str::to_owned),
                });
            }
            (Some("nmaprun"), "verbose") => self.verbose = a.num(name, "level")?,
            (Some("nmaprun"), "host") => {
                let time = |k: &str| -> Result<Option<SystemTime>, Malformed> {
                    a.opt(k).map(|_| unix_time(a.num(name, k)?)).transpose()
                };
                self.host = Some(HostBuild {
                    addr: None,
                    mac: None,
                    hostname: None,
                    status: None,
                    start: time("starttime")?,
                    end: time("endtime")?,
                    ports: Vec::new(),
                    times: None,
                    port: None,
                    extra: None,
                });
            }
            (Some("host"), "status") => {
                let nmap = self.nmap();
                let status = HostStatus {
                    up: match a.get(name, "state")? {
                        "up" => true,
                        "down" => false,
                        // nmap's "unknown" and "skipped": not seen up
                        "unknown" | "skipped" if nmap => false,
                        s => return Err(unknown("host state", s)),
                    },
                    reason: self.reason(a.get(name, "reason")?)?,
                    ttl: a.num(name, "reason_ttl")?,
                };
                self.host(name)?.status = Some(status);
            }
            (Some("host"), "address") => {
                let addr = a.get(name, "addr")?;
                let h = self.host(name)?;
                match a.get(name, "addrtype")? {
                    "ipv4" | "ipv6" => {
                        let ip: IpAddr = addr
                            .parse()
                            .map_err(|_| Malformed::Address(addr.to_owned()))?;
                        if h.addr.replace(ip).is_some() {
                            return Err(Malformed::TwoAddresses(ip));
                        }
                    }
                    "mac" => h.mac = Some(mac(addr)?),
                    t => return Err(unknown("address type", t)),
                }
            }
            (Some("hostnames"), "hostname") => {
                let n = a.get(name, "name")?.to_owned();
                self.host(name)?.hostname.get_or_insert(n);
            }
            (Some("ports"), "extraports") => {
                let st = state(a.get(name, "state")?)?;
                let count = a.num(name, "count")?;
                self.host(name)?.extra = Some((st, count, 0));
            }
            (Some("extraports"), "extrareasons") => {
                let why = self.reason(a.get(name, "reason")?)?;
                let count: u32 = a.num(name, "count")?;
                let pr = self.proto(a.get(name, "proto")?)?;
                let list = port_list(a.get(name, "ports")?)?;
                if list.len() != count {
                    return Err(Malformed::ExtraReasonsCount {
                        count,
                        listed: list.len(),
                    });
                }
                let h = self.host(name)?;
                if h.ports.len() + list.len() as usize > MAX_PORTS {
                    return Err(Malformed::TooManyPorts);
                }
                let Some((st, _, seen)) = h.extra.as_mut() else {
                    return Err(outside(name, "extraports"));
                };
                *seen += count;
                let st = *st;
                let Some(pr) = pr else {
                    return Ok(Flow::Enter);
                };
                h.ports.extend(list.iter().map(|port| PortResult {
                    proto: pr,
                    port,
                    state: st,
                    reason: why,
                    ttl: 0,
                    service: None,
                    detected: None,
                }));
            }
            (Some("ports"), "port") => {
                let Some(pr) = self.proto(a.get(name, "protocol")?)? else {
                    return Ok(Flow::Skip);
                };
                let id = a.num(name, "portid")?;
                let h = self.host(name)?;
                if h.ports.len() >= MAX_PORTS {
                    return Err(Malformed::TooManyPorts);
                }
                h.port = Some((pr, id, None, None, None));
            }
            (Some("port"), "state") => {
                let v = (
                    state(a.get(name, "state")?)?,
                    self.reason(a.get(name, "reason")?)?,
                    a.num(name, "reason_ttl")?,
                );
                let h = self.host(name)?;
                let p = h.port.as_mut().ok_or_else(|| outside(name, "port"))?;
                p.2 = Some(v);
            }
            (Some("port"), "service") => {
                let n = a.get(name, "name")?.to_owned();
                let probed = a.opt("method") == Some("probed");
                let detected = probed.then(|| {
                    let field = |k: &str| a.opt(k).map(str::to_owned);
                    Box::new(ServiceInfo {
                        name: n.clone(),
                        product: field("product"),
                        version: field("version"),
                        extrainfo: field("extrainfo"),
                        hostname: field("hostname"),
                        ostype: field("ostype"),
                        devicetype: field("devicetype"),
                        tunnel_ssl: a.opt("tunnel") == Some("ssl"),
                        conf: a.opt("conf").and_then(|c| c.parse().ok()).unwrap_or(10),
                        cpe: Vec::new(),
                        tls: None,
                    })
                });
                let h = self.host(name)?;
                let p = h.port.as_mut().ok_or_else(|| outside(name, "port"))?;
                p.3 = Some(n);
                p.4 = detected;
            }
            (Some("host"), "times") => {
                let us = |k: &str| a.num::<u64>(name, k).map(micros);
                let t = (us("srtt")?, us("rttvar")?, us("to")?);
                self.host(name)?.times = Some(t);
            }
            (Some("runstats"), "finished") => {
                self.end = Some(unix_time(a.num(name, "time")?)?);
                let e = a.get(name, "elapsed")?;
                let secs: f64 = number("elapsed", e)?;
                self.elapsed = Some(
                    Duration::try_from_secs_f64(secs)
                        .map_err(|_| Malformed::Elapsed(e.to_owned()))?,
                );
            }
            (Some("runstats"), "hosts") => {
                self.counts = Some((
                    a.num(name, "up")?,
                    a.num(name, "down")?,
                    a.num(name, "total")?,
                ));
            }
            (Some("host"), "hostnames" | "ports")
            | (Some("nmaprun"), "runstats")
            | (Some("service"), "cpe") => {}
            // Elements vigie does not model (nmap's <hosthint>, <os>,
            // <trace>, <script>, <taskbegin>, <debugging>, …) are passed
            // over with all they hold.
            _ => return Ok(Flow::Skip),
        }
        Ok(Flow::Enter)
    }

    fn close(&mut self, name: &str, parent: Option<&str>) -> Result<(), Malformed> {
        match (parent, name) {
            (None, "nmaprun") => self.closed = true,
            (Some("ports"), "extraports") => {
                let h = self.host(name)?;
                if let Some((_, count, seen)) = h.extra.take() {
                    if count != seen {
                        return Err(Malformed::ExtraPortsCount { count, seen });
                    }
                }
            }
            (Some("ports"), "port") => {
                let h = self.host(name)?;
                if let Some((proto, port, st, service, detected)) = h.port.take() {
                    let (state, reason, ttl) = st.ok_or(Malformed::NoPortState(port))?;
                    h.ports.push(PortResult {
                        proto,
                        port,
                        state,
                        reason,
                        ttl,
                        service,
                        detected,
                    });
                }
            }
            (Some("nmaprun"), "host") => {
                let Some(h) = self.host.take() else {
                    return Ok(());
                };
                let addr = h.addr.ok_or(Malformed::NoAddress)?;
                let status = h.status.ok_or(Malformed::NoStatus(addr))?;
                let mut ports = h.ports;
                finish_ports(addr, &mut ports)?;
                let run_start = self.start.unwrap_or(UNIX_EPOCH);
                let (srtt, rttvar, timeout) = match h.times {
                    Some((s, r, t)) => (Some(s), Some(r), Some(t)),
                    None => (None, None, None),
                };
                self.hosts.push(HostReport {
                    addr,
                    hostname: h.hostname,
                    mac: h.mac,
                    status,
                    latency: None,
                    start: h.start.unwrap_or(run_start),
                    end: h.end.unwrap_or(run_start),
                    ports,
                    srtt,
                    rttvar,
                    timeout,
                });
            }
            _ => {}
        }
        Ok(())
    }
}

/// The scanner a comment before `<nmaprun>` names: vigie's "vigie 0.1.0
/// scan initiated …" or nmap's "Nmap 7.93 scan initiated …".
fn initiated_by(comment: &str) -> Option<Scanner> {
    let mut words = comment.split_whitespace();
    let scanner = match words.next()? {
        NAME => Scanner::Vigie,
        "Nmap" => Scanner::Nmap,
        _ => return None,
    };
    let _version = words.next()?;
    (words.next()? == "scan" && words.next()? == "initiated").then_some(scanner)
}

/// Read an `-oX` output back: vigie's, or nmap's own.
pub fn read_xml(bytes: &[u8]) -> Result<Report, ReadError> {
    let text = std::str::from_utf8(bytes).map_err(ReadError::NotUtf8)?;
    let mut r = quick_xml::Reader::from_str(text);
    let mut doc = XmlRead::default();
    let mut path: Vec<String> = Vec::new();
    // How deep inside an element passed over (0: reading).
    let mut skip = 0usize;
    loop {
        let at = r.buffer_position();
        let ev = r
            .read_event()
            .map_err(|error| ReadError::XmlSyntax { at, error })?;
        let res = match ev {
            Event::Start(e) | Event::Empty(e) if doc.closed => {
                let n = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                Err(Malformed::AfterRoot(n))
            }
            Event::Start(e) if skip > 0 => {
                skip += 1;
                path.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                Ok(())
            }
            Event::End(_) if skip > 0 => {
                skip -= 1;
                path.pop();
                Ok(())
            }
            Event::Eof => break,
            _ if skip > 0 => Ok(()),
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let res = doc.open(&name, path.last().map(String::as_str), &e);
                path.push(name);
                res.map(|flow| {
                    if flow == Flow::Skip {
                        skip = 1;
                    }
                })
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let parent = path.last().map(String::as_str);
                match doc.open(&name, parent, &e) {
                    Ok(Flow::Enter) => doc.close(&name, parent),
                    Ok(Flow::Skip) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                doc.close(&name, path.last().map(String::as_str))
            }
            Event::Comment(c) if !doc.root_seen && doc.scanner.is_none() => {
                doc.scanner = initiated_by(&String::from_utf8_lossy(&c));
                Ok(())
            }
            // A `<cpe>` of a probed service is the one element with text.
            Event::Text(t) if path.last().is_some_and(|p| p == "cpe") => {
                let raw = String::from_utf8_lossy(&t).into_owned();
                match quick_xml::escape::unescape(&raw) {
                    Ok(text) => doc.cpe(text.into_owned()),
                    Err(_) => Err(Malformed::Text),
                }
            }
            Event::Text(t) if t.iter().any(|b| !b.is_ascii_whitespace()) => Err(Malformed::Text),
            _ => Ok(()),
        };
        res.map_err(|error| ReadError::Xml { at, error })?;
    }
    if !doc.root_seen {
        return Err(ReadError::NoNmaprun);
    }
    if !doc.closed {
        return Err(ReadError::TruncatedXml);
    }
    let (Some(end), Some(elapsed), Some((up, down, total))) = (doc.end, doc.elapsed, doc.counts)
    else {
        return Err(ReadError::NoRunstats);
    };
    Ok(Report {
        origin: Origin {
            scanner: doc.scanner.unwrap_or(Scanner::Vigie),
            version: doc.version,
        },
        run: RunInfo {
            args: doc.args,
            start: doc.start.unwrap_or(UNIX_EPOCH),
            scans: doc.scans,
            verbose: doc.verbose,
        },
        hosts: doc.hosts,
        stats: RunStats {
            end,
            elapsed,
            hosts_up: up,
            hosts_down: down,
            hosts_total: total,
        },
    })
}

// ---- JSON Lines (the line types are in crate::json) ----

fn host_from_line(h: HostLine) -> Result<HostReport, Malformed> {
    let mut ports = h
        .ports
        .into_iter()
        .map(|p| {
            Ok(PortResult {
                proto: proto(&p.proto)?,
                port: p.port,
                state: state(&p.state)?,
                reason: reason(&p.reason)?,
                ttl: p.ttl,
                service: p.service.map(Cow::into_owned),
                detected: p.detected.map(|d| Box::new(d.into_info())),
            })
        })
        .collect::<Result<Vec<_>, Malformed>>()?;
    finish_ports(h.addr, &mut ports)?;
    Ok(HostReport {
        addr: h.addr,
        hostname: h.hostname.map(Cow::into_owned),
        mac: h.mac.as_deref().map(mac).transpose()?,
        status: HostStatus {
            up: match &*h.status {
                "up" => true,
                "down" => false,
                s => return Err(unknown("host status", s)),
            },
            reason: reason(&h.reason)?,
            ttl: h.reason_ttl,
        },
        latency: h.latency_us.map(micros),
        start: unix_time(h.start)?,
        end: unix_time(h.end)?,
        ports,
        srtt: h.srtt_us.map(micros),
        rttvar: h.rttvar_us.map(micros),
        timeout: h.timeout_us.map(micros),
    })
}

/// Read vigie's `-oJ` output back.
pub fn read_json_lines(bytes: &[u8]) -> Result<Report, ReadError> {
    let text = std::str::from_utf8(bytes).map_err(ReadError::NotUtf8)?;
    let mut run: Option<RunInfo> = None;
    let mut hosts = Vec::new();
    let mut stats: Option<RunStats> = None;
    let mut version = String::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = n + 1;
        let at = |error: Malformed| ReadError::Json {
            line: line_no,
            error,
        };
        let v: Line = serde_json::from_str(line).map_err(|error| ReadError::JsonRecord {
            line: line_no,
            error,
        })?;
        match (v, &run, &stats) {
            (_, _, Some(_)) => return Err(at(Malformed::AfterStats)),
            (Line::Run(r), None, None) => {
                if r.scanner != NAME {
                    return Err(at(Malformed::Scanner(r.scanner.into_owned())));
                }
                version = r.version.into_owned();
                let scans = r
                    .scans
                    .into_iter()
                    .map(|s| {
                        let ports = port_list(&s.ports)?;
                        if ports.len() != s.count {
                            return Err(Malformed::ScanCount {
                                count: s.count,
                                listed: ports.len(),
                            });
                        }
                        Ok(ScanInfo {
                            technique: technique(&s.technique)
                                .ok_or_else(|| unknown("technique", &s.technique))?,
                            proto: proto(&s.proto)?,
                            ports,
                            scanflags: None,
                        })
                    })
                    .collect::<Result<Vec<_>, Malformed>>()
                    .map_err(at)?;
                run = Some(RunInfo {
                    args: r.args.into_owned(),
                    start: unix_time(r.start).map_err(at)?,
                    scans,
                    verbose: r.verbose,
                });
            }
            (Line::Run(_), Some(_), _) => return Err(at(Malformed::SecondRun)),
            (_, None, _) => return Err(at(Malformed::NoRunFirst)),
            (Line::Host(h), Some(_), None) => hosts.push(host_from_line(h).map_err(at)?),
            (Line::Stats(s), Some(_), None) => {
                stats = Some(RunStats {
                    end: unix_time(s.end).map_err(at)?,
                    elapsed: micros(s.elapsed_us),
                    hosts_up: s.hosts_up,
                    hosts_down: s.hosts_down,
                    hosts_total: s.hosts_total,
                });
            }
        }
    }
    let run = run.ok_or(ReadError::NoRunLine)?;
    let stats = stats.ok_or(ReadError::TruncatedJson)?;
    Ok(Report {
        origin: Origin {
            scanner: Scanner::Vigie,
            version,
        },
        run,
        hosts,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{JsonLinesWriter, Options, Sink, XmlWriter};
    use proptest::prelude::*;

    /// A document shaped as nmap 7.93 writes `-oX` with -sS -sU -sO -sV -O
    /// --reason -v -sC --traceroute (written for this test, with nmap's
    /// elements and attributes): a host hint, scripts with text, OS guesses
    /// with CPEs, a trace, an SCTP-less IP-protocol pass, a down host,
    /// reasons vigie does not model.
    pub(crate) const NMAP_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<?xml-stylesheet href="file:///usr/bin/../share/nmap/nmap.xsl" type="text/xsl"?>
<!-- Nmap 7.93 scan initiated Sat Nov 21 04:58:06 2026 as: nmap -sS -sU -sO -sV -O -&#45;reason -v -oX n.xml 198.18.0.2 198.18.0.9 -->
<nmaprun scanner="nmap" args="nmap -sS -sU -sO -sV -O -&#45;reason -v -oX n.xml 198.18.0.2 198.18.0.9" start="1795237086" startstr="Sat Nov 21 04:58:06 2026" version="7.93" xmloutputversion="1.05">
<scaninfo type="syn" protocol="tcp" numservices="40" services="1-40"/>
<scaninfo type="udp" protocol="udp" numservices="1" services="53"/>
<scaninfo type="ipproto" protocol="ip" numservices="2" services="1,6"/>
<verbose level="1"/>
<debugging level="0"/>
<taskbegin task="ARP Ping Scan" time="1795237086"/>
<taskprogress task="SYN Stealth Scan" time="1795237087" percent="50.00" remaining="1" etc="1795237088"/>
<hosthint><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<address addr="2E:5F:11:AA:00:02" addrtype="mac"/>
<hostnames>
</hostnames>
</hosthint>
<target specification="nowhere.invalid" status="skipped" reason="invalid"/>
<host starttime="1795237086" endtime="1795237129"><status state="up" reason="arp-response" reason_ttl="0"/>
<address addr="198.18.0.2" addrtype="ipv4"/>
<address addr="2E:5F:11:AA:00:02" addrtype="mac" vendor="Unknown"/>
<hostnames>
<hostname name="t.lab" type="user"/>
<hostname name="t.lab" type="PTR"/>
</hostnames>
<ports><extraports state="closed" count="37">
<extrareasons reason="reset" count="35" proto="tcp" ports="1-21,24-37"/>
<extrareasons reason="proto-unreach" count="1" proto="ip" ports="1"/>
<extrareasons reason="port-unreach" count="1" proto="udp" ports="53"/>
</extraports>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="ssh" product="OpenSSH" version="9.2p1 Debian 2+deb12u3" extrainfo="protocol 2.0" ostype="Linux" method="probed" conf="10"><cpe>cpe:/a:openbsd:openssh:9.2p1</cpe><cpe>cpe:/o:linux:linux_kernel</cpe></service><script id="ssh-hostkey" output="&#xa;  256 aa:bb (ECDSA)"><table>
<elem key="type">ecdsa-sha2-nistp256</elem>
<elem key="bits">256</elem>
</table>
</script></port>
<port protocol="tcp" portid="23"><state state="filtered" reason="dest-unreach" reason_ttl="64"/><service name="telnet" method="table" conf="3"/></port>
<port protocol="tcp" portid="38"><state state="closed" reason="reset" reason_ttl="64"/><service name="rap" method="table" conf="3"><cpe>cpe:/a:x:y</cpe></service></port>
<port protocol="tcp" portid="39"><state state="closed" reason="reset" reason_ttl="64"/></port>
<port protocol="tcp" portid="40"><state state="open" reason="syn-ack" reason_ttl="64"/><service name="http" product="nginx" tunnel="ssl" method="probed" conf="10"/></port>
<port protocol="ip" portid="6"><state state="open" reason="proto-response" reason_ttl="64"/><service name="tcp" method="table" conf="3"/></port>
</ports>
<os><portused state="open" proto="tcp" portid="22"/>
<osmatch name="Linux 5.0 - 5.14" accuracy="100" line="67761">
<osclass type="general purpose" vendor="Linux" osfamily="Linux" osgen="5.X" accuracy="100"><cpe>cpe:/o:linux:linux_kernel:5</cpe></osclass>
</osmatch>
<osfingerprint fingerprint="OS:SCAN(V=7.93%E=4)&#xa;"/>
</os>
<uptime seconds="4" lastboot="Sat Nov 21 04:58:45 2026"/>
<distance value="1"/>
<tcpsequence index="260" difficulty="Good luck!" values="AD932CA3,B8D4D449"/>
<hostscript><script id="smb-os-discovery" output="x"/></hostscript>
<trace port="80" proto="tcp">
<hop ttl="1" ipaddr="198.18.0.2" rtt="0.05"/>
</trace>
<times srtt="57" rttvar="5" to="100000"/>
</host>
<host><status state="down" reason="no-response" reason_ttl="0"/>
<address addr="198.18.0.9" addrtype="ipv4"/>
<hostnames>
</hostnames>
</host>
<postscript><script id="x" output="y">text</script></postscript>
<output type="interactive">Nmap done</output>
<runstats><finished time="1795237129" timestr="Sat Nov 21 04:58:49 2026" summary="Nmap done at Sat Nov 21 04:58:49 2026; 2 IP addresses (1 host up) scanned in 43.10 seconds" elapsed="43.10" exit="success"/><hosts up="1" down="1" total="2"/>
</runstats>
</nmaprun>
"#;

    #[test]
    fn reads_nmaps_own_xml() {
        let r = read_xml(NMAP_XML.as_bytes()).unwrap();
        assert_eq!(
            r.origin,
            Origin {
                scanner: Scanner::Nmap,
                version: "7.93".into()
            }
        );
        assert_eq!(
            r.run.args,
            "nmap -sS -sU -sO -sV -O --reason -v -oX n.xml 198.18.0.2 198.18.0.9"
        );
        assert_eq!(r.run.verbose, 1);
        // the IP-protocol pass is left out
        let scans: Vec<_> = r
            .run
            .scans
            .iter()
            .map(|s| (s.technique, s.proto, s.ports.len()))
            .collect();
        assert_eq!(
            scans,
            [
                (Technique::Syn, Proto::Tcp, 40),
                (Technique::Udp, Proto::Udp, 1)
            ]
        );
        assert_eq!(r.hosts.len(), 2);
        let h = &r.hosts[0];
        assert_eq!(h.addr.to_string(), "198.18.0.2");
        assert_eq!(h.hostname.as_deref(), Some("t.lab"));
        assert_eq!(h.mac, Some([0x2e, 0x5f, 0x11, 0xaa, 0, 2]));
        assert!(h.status.up);
        assert_eq!(h.status.reason, Reason::ArpResponse);
        assert_eq!(h.srtt, Some(Duration::from_micros(57)));
        // every TCP and UDP port, the folded ones too; IP protocols left out
        let ports: Vec<(Proto, u16, PortState, Reason)> = h
            .ports
            .iter()
            .map(|p| (p.proto, p.port, p.state, p.reason))
            .collect();
        assert_eq!(ports.len(), 41, "{ports:?}");
        assert_eq!(ports[21], (Proto::Tcp, 22, PortState::Open, Reason::SynAck));
        // a reason vigie does not model is kept as the neutral one
        assert_eq!(
            ports[22],
            (Proto::Tcp, 23, PortState::Filtered, Reason::Unknown)
        );
        assert_eq!(
            ports[40],
            (Proto::Udp, 53, PortState::Closed, Reason::PortUnreach)
        );
        let ssh = h.ports[21].detected.as_deref().unwrap();
        assert_eq!(ssh.product.as_deref(), Some("OpenSSH"));
        assert_eq!(ssh.version.as_deref(), Some("9.2p1 Debian 2+deb12u3"));
        assert_eq!(ssh.extrainfo.as_deref(), Some("protocol 2.0"));
        assert_eq!(
            ssh.cpe,
            ["cpe:/a:openbsd:openssh:9.2p1", "cpe:/o:linux:linux_kernel"]
        );
        assert_eq!(h.ports[22].service.as_deref(), Some("telnet"));
        assert!(h.ports[22].detected.is_none());
        assert_eq!(h.ports[37].service.as_deref(), Some("rap"));
        assert_eq!(h.ports[38].service, None);
        let tls = h.ports[39].detected.as_deref().unwrap();
        assert!(tls.tunnel_ssl);
        assert_eq!(tls.column_name(), "ssl/http");
        let down = &r.hosts[1];
        assert!(!down.status.up);
        assert!(down.ports.is_empty());
        assert_eq!((r.stats.hosts_up, r.stats.hosts_down), (1, 1));
    }

    #[test]
    fn nmaps_xml_damaged_is_one_line_error() {
        let err = |t: &str| match read_report(t.as_bytes()) {
            Ok(_) => panic!("accepted:\n{t}"),
            Err(e) => e.to_string(),
        };
        assert!(err(&NMAP_XML.replace("</nmaprun>\n", "")).contains("truncated XML"));
        assert!(err(&NMAP_XML.replace("<runstats>", "<runstatz>")).contains("bad XML"));
        assert!(err(&NMAP_XML.replace(
            "state=\"open\" reason=\"syn-ack\"",
            "state=\"opened\" reason=\"syn-ack\""
        ))
        .contains("unknown port state \"opened\""));
        assert!(err(&NMAP_XML.replace("count=\"35\"", "count=\"34\"")).contains("count=34"));
        for cut in (0..NMAP_XML.len() - 1).step_by(7) {
            let e = err(&NMAP_XML[..cut]);
            assert!(!e.contains('\n'), "{e}");
        }
    }

    /// A run with a folded host (closed/reset, filtered/no-response and
    /// udp closed/port-unreach folded; open ports listed with services), a
    /// down host, an IPv6 host with a MAC and a name.
    fn sample() -> Report {
        let mut run = run_info(1);
        run.args = "vigie -v --reason -p T:1-1000,U:50-60 \"a&b\" <x>".into();
        run.scans.push(ScanInfo {
            technique: Technique::Udp,
            proto: Proto::Udp,
            ports: PortList::from_ranges([(50, 60)]),
            scanflags: None,
        });
        let mut h = host_small();
        for p in &mut h.ports {
            if (100..=160).contains(&p.port) && p.port != 111 {
                p.state = PortState::Filtered;
                p.reason = Reason::NoResponse;
                p.ttl = 0;
            }
        }
        h.ports
            .extend(udp_range(50, 60, PortState::Closed, Reason::PortUnreach));
        h.ports[1003] = port(
            Proto::Udp,
            53,
            PortState::OpenFiltered,
            Reason::NoResponse,
            0,
        );
        let mut v6 = host_small();
        v6.addr = "fd00::2".parse().unwrap();
        v6.hostname = Some("t<6>".into());
        v6.mac = Some([0x2e, 0x5f, 0x11, 0xaa, 0x00, 0x0b]);
        v6.ports.truncate(30);
        v6.srtt = None;
        v6.rttvar = None;
        v6.timeout = None;
        let st = RunStats {
            hosts_up: 2,
            hosts_down: 1,
            hosts_total: 3,
            ..stats()
        };
        Report {
            origin: Origin::vigie(),
            run,
            hosts: vec![h, host_down(), v6],
            stats: st,
        }
    }

    fn render<S: Sink>(mut w: S, r: &Report) -> S {
        crate::write_report(r, &mut w).unwrap();
        w
    }

    fn xml_of(r: &Report, opts: Options) -> Vec<u8> {
        render(XmlWriter::new(Vec::new(), opts), r).into_inner()
    }

    /// What the XML keeps of a report: folded ports lose TTL and service,
    /// hosts their latency, down hosts their times (the run's start).
    fn as_xml_keeps(mut r: Report, opts: &Options) -> Report {
        for h in &mut r.hosts {
            h.latency = None;
            let f = crate::fold(h, opts);
            let shown: Vec<(Proto, u16)> = f.shown.iter().map(|p| (p.proto, p.port)).collect();
            for p in &mut h.ports {
                if !shown.contains(&(p.proto, p.port)) {
                    p.ttl = 0;
                    p.service = None;
                }
            }
            if !h.status.up {
                h.start = r.run.start;
                h.end = r.run.start;
            }
        }
        r
    }

    #[test]
    fn xml_reads_back_every_port() {
        let r = sample();
        let opts = Options {
            verbose: 1,
            reason: true,
            ..Options::default()
        };
        let text = xml_of(&r, opts);
        let back = read_xml(&text).unwrap();
        assert_eq!(back.hosts.len(), 3);
        assert_eq!(back.hosts[0].ports.len(), 1011);
        assert_eq!(back, as_xml_keeps(r, &opts));
        assert_eq!(sniff(&text), Some(Format::Xml));
        // and writing it again gives the same document
        assert_eq!(xml_of(&back, opts), text);
    }

    #[test]
    fn json_lines_read_back_exactly() {
        let r = sample();
        let text = render(JsonLinesWriter::new(Vec::new()), &r).into_inner();
        assert_eq!(sniff(&text), Some(Format::JsonLines));
        assert_eq!(read_report(&text).unwrap(), (Format::JsonLines, r));
    }

    #[test]
    fn refuses_what_vigie_did_not_write() {
        let r = sample();
        let xml = String::from_utf8(xml_of(&r, Options::default())).unwrap();
        let json =
            String::from_utf8(render(JsonLinesWriter::new(Vec::new()), &r).into_inner()).unwrap();
        let err = |t: &str| match read_report(t.as_bytes()) {
            Ok(_) => panic!("accepted:\n{t}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(err(""), "empty file");
        assert_eq!(
            err("hello"),
            "not a vigie output (neither XML nor JSON Lines)"
        );
        assert!(err(&xml.replace("vigie 0.1.0 scan", "masscan 1.3 scan"))
            .contains("not a vigie XML output"));
        // in vigie's own files, words vigie does not write stay errors
        assert!(err(&xml.replace("type=\"syn\"", "type=\"sctpinit\"")).contains("scan type"));
        assert!(err(&xml.replace("protocol=\"tcp\"", "protocol=\"sctp\"")).contains("protocol"));
        assert!(
            err("<html><body/></html>").contains("not a vigie XML output"),
            "{}",
            err("<html/>")
        );
        assert!(err(&xml.replace("</nmaprun>\n", "")).contains("truncated XML"));
        assert!(err(&xml.replace("count=\"946\"", "count=\"945\"")).contains("count=945"));
        assert!(err(&xml.replace("portid=\"22\"", "portid=\"70000\"")).contains("portid"));
        assert!(
            err(&xml.replace("reason=\"syn-ack\"", "reason=\"magic\"")).contains("unknown reason")
        );
        assert!(err(&xml.replace("portid=\"80\"", "portid=\"22\"")).contains("listed twice"));
        let twice = xml.replace(
            "<extraports state=\"filtered\"",
            "<extraports state=\"closed\" count=\"65535\"><extrareasons reason=\"reset\" count=\"65535\" proto=\"tcp\" ports=\"1-65535\"/></extraports>\n<extraports state=\"closed\" count=\"65535\"><extrareasons reason=\"reset\" count=\"65535\" proto=\"tcp\" ports=\"1-65535\"/></extraports>\n<extraports state=\"filtered\"",
        );
        assert!(
            err(&twice).contains("more than 131072 ports"),
            "{}",
            err(&twice)
        );
        let json_err = |t: &str| read_json_lines(t.as_bytes()).unwrap_err().to_string();
        let no_stats: String = json.lines().take(3).map(|l| format!("{l}\n")).collect();
        assert_eq!(json_err(&no_stats), "truncated JSON Lines (no stats line)");
        let no_run: String = json.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert!(json_err(&no_run).contains("no run line first"));
        assert!(
            json_err(&json.replace("\"scanner\":\"vigie\"", "\"scanner\":\"x\""))
                .contains("not vigie")
        );
        assert!(
            json_err("{\"type\":\"other\"}\n").starts_with("line 1: not a vigie JSON Lines record")
        );
        assert!(json_err(&format!("{json}{json}")).contains("after the stats line"));
        // what the parsers quote from a damaged input stays on one line
        assert_eq!(
            json_err("{\"type\":\"a\\nb\"}\n").lines().count(),
            1,
            "{}",
            json_err("{\"type\":\"a\\nb\"}\n")
        );
        let damaged = err(&xml.replacen("</port>", "</po\nrt>", 1));
        assert!(damaged.contains("po\\nrt"), "{damaged}");
    }

    #[test]
    fn every_truncation_of_a_document_is_refused() {
        let r = sample();
        let opts = Options {
            verbose: 1,
            ..Options::default()
        };
        let xml = xml_of(&r, opts);
        let mut small = r;
        for h in &mut small.hosts {
            h.ports.truncate(40);
        }
        let json = render(JsonLinesWriter::new(Vec::new()), &small).into_inner();
        for doc in [xml, json] {
            // the last byte is the final newline: without it the document is whole
            for cut in 0..doc.len() - 1 {
                assert!(
                    read_report(&doc[..cut]).is_err(),
                    "a document cut at byte {cut} of {} was accepted",
                    doc.len()
                );
            }
            assert!(read_report(&doc).is_ok());
        }
    }

    fn doc_bytes() -> impl Strategy<Value = Vec<u8>> {
        let r = sample();
        let xml = xml_of(&r, Options::default());
        let json = render(JsonLinesWriter::new(Vec::new()), &r).into_inner();
        (
            prop_oneof![Just(xml), Just(json)],
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        )
            .prop_map(|(mut doc, edits)| {
                for (i, b) in edits {
                    let at = i.index(doc.len());
                    doc[at] = b;
                }
                doc
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Err(e) = read_report(&bytes) {
                prop_assert!(!e.to_string().contains('\n'), "{e}");
            }
            let _ = read_xml(&bytes);
            let _ = read_json_lines(&bytes);
        }

        #[test]
        fn never_panics_on_damaged_documents(doc in doc_bytes()) {
            // and every refusal is one line, as the CLI prints it
            if let Err(e) = read_report(&doc) {
                prop_assert!(!e.to_string().contains('\n'), "{e}");
            }
        }

        #[test]
        fn never_panics_on_xml_like_text(s in "(<[a-z]{1,10}( [a-z_]{1,9}=\"[-0-9a-z,|]{0,6}\"){0,4}/?>|</[a-z]{1,10}>|<!-- vigie 1 scan initiated -->|\n){0,40}") {
            let _ = read_xml(s.as_bytes());
        }
    }
}
