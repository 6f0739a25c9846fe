//! The rows of one host, as both back-ends write and read them.
//!
//! A port is one row of `ports`, except that the ports of a host sharing a
//! protocol, state, reason and TTL, that are not open, have no `-sV` result
//! and whose service name is the one vigie's own table gives, are kept as
//! ranges in `port_ranges` when there are at least [`RANGE_MIN`] of them (a
//! `-p-` scan is a few rows, not 65,535). A port result that at least
//! [`GROUP_MIN`] hosts of one batch share (the same port, protocol, state,
//! reason, TTL and service name) is one row of `port_hosts` naming those
//! hosts (a sweep writes a row per host and a few groups, not a row per
//! host and another per port). Nothing is lost: the ranges read back with
//! the table's names, the groups as a row per host.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::OnceLock;

use vigie_report::{HostReport, HostStatus, PortResult, ServiceInfo, TlsFields};
use vigie_scan::ports::PortList;
use vigie_scan::services::ServiceDb;
use vigie_scan::{PortState, Proto, Reason};

use crate::{dur_us, from_us, to_us};

/// The fewest ports of one (protocol, state, reason, TTL) kept as ranges.
pub const RANGE_MIN: usize = 16;

/// The fewest hosts of a batch sharing a port result kept as a group.
pub const GROUP_MIN: usize = 16;

/// Build vigie's service table now (the writer thread does, while idle).
pub(crate) fn warm_up() {
    builtin();
}

fn builtin() -> &'static ServiceDb {
    static DB: OnceLock<ServiceDb> = OnceLock::new();
    DB.get_or_init(ServiceDb::builtin)
}

/// Text columns borrow what they can from the host written (the words are
/// `'static`): a sweep writes tens of thousands of these.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HostRow<'a> {
    pub seq: i64,
    pub addr: String,
    pub hostname: Option<Cow<'a, str>>,
    pub mac: Option<String>,
    pub up: bool,
    pub reason: Cow<'a, str>,
    pub ttl: i32,
    pub latency_us: Option<i64>,
    pub start_us: i64,
    pub end_us: i64,
    pub srtt_us: Option<i64>,
    pub rttvar_us: Option<i64>,
    pub timeout_us: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PortRow<'a> {
    pub seq: i64,
    pub proto: Cow<'a, str>,
    pub port: i32,
    pub state: Cow<'a, str>,
    pub reason: Cow<'a, str>,
    pub ttl: i32,
    pub service: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RangeRow {
    pub seq: i64,
    pub proto: String,
    pub state: String,
    pub reason: String,
    pub ttl: i32,
    /// nmap's spelling: `1-21,23-79`.
    pub ports: String,
}

/// One port result shared by the hosts `seqs` (ascending).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GroupRow<'a> {
    pub proto: Cow<'a, str>,
    pub port: i32,
    pub state: Cow<'a, str>,
    pub reason: Cow<'a, str>,
    pub ttl: i32,
    pub service: Option<Cow<'a, str>>,
    /// How many hosts: the length of `seqs`, as a column the open-port
    /// count of `vigie history` can sum.
    pub hosts: i64,
    pub seqs: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ServiceRow {
    pub seq: i64,
    pub proto: String,
    pub port: i32,
    pub name: String,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extrainfo: Option<String>,
    pub hostname: Option<String>,
    pub ostype: Option<String>,
    pub devicetype: Option<String>,
    pub tunnel: Option<String>,
    pub conf: i32,
    /// Space-separated (a CPE has no space).
    pub cpe: Option<String>,
    pub tls_version: Option<String>,
    pub tls_cipher: Option<String>,
    pub tls_alpn: Option<String>,
    pub tls_subject: Option<String>,
    pub tls_issuer: Option<String>,
    /// Newline-separated.
    pub tls_sans: Option<String>,
    pub tls_not_before: Option<i64>,
    pub tls_not_after: Option<i64>,
    pub tls_key: Option<String>,
    pub tls_sha256: Option<String>,
}

/// Every row of a host's batch.
#[derive(Debug, Default)]
pub(crate) struct Batch<'a> {
    pub hosts: Vec<HostRow<'a>>,
    pub ports: Vec<PortRow<'a>>,
    pub ranges: Vec<RangeRow>,
    pub groups: Vec<GroupRow<'a>>,
    pub services: Vec<ServiceRow>,
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn rangeable(p: &PortResult) -> bool {
    p.state != PortState::Open
        && p.detected.is_none()
        && p.service.as_deref() == builtin().name(p.port, p.proto)
}

impl<'a> Batch<'a> {
    /// The rows of `host`, the `seq`-th of its run.
    pub fn push(&mut self, seq: i64, h: &'a HostReport) {
        self.hosts.push(HostRow {
            seq,
            addr: h.addr.to_string(),
            hostname: h.hostname.as_deref().map(Cow::Borrowed),
            mac: h.mac.map(mac_text),
            up: h.status.up,
            reason: Cow::Borrowed(h.status.reason.as_str()),
            ttl: i32::from(h.status.ttl),
            latency_us: h.latency.map(dur_us),
            start_us: to_us(h.start),
            end_us: to_us(h.end),
            srtt_us: h.srtt.map(dur_us),
            rttvar_us: h.rttvar.map(dur_us),
            timeout_us: h.timeout.map(dur_us),
        });
        // Each port's range, if it may be in one: (proto, state, reason,
        // TTL) as enums, looked up once per port (a -p- host is 65,535 of
        // them; most follow a port of the same key).
        type Key = (Proto, PortState, Reason, u8);
        let mut keys: Vec<(Key, Vec<u16>)> = Vec::new();
        let mut index: HashMap<Key, usize> = HashMap::new();
        let mut of: Vec<usize> = Vec::new();
        if h.ports.len() >= RANGE_MIN {
            of.reserve(h.ports.len());
            let mut last: Option<(Key, usize)> = None;
            for p in &h.ports {
                if !rangeable(p) {
                    of.push(usize::MAX);
                    continue;
                }
                let key = (p.proto, p.state, p.reason, p.ttl);
                let i = match last {
                    Some((k, i)) if k == key => i,
                    _ => *index.entry(key).or_insert_with(|| {
                        keys.push((key, Vec::new()));
                        keys.len() - 1
                    }),
                };
                last = Some((key, i));
                keys[i].1.push(p.port);
                of.push(i);
            }
        }
        let ranged = |i: usize| keys.get(i).is_some_and(|(_, v)| v.len() >= RANGE_MIN);
        for (n, p) in h.ports.iter().enumerate() {
            if of.get(n).is_some_and(|&i| ranged(i)) {
                continue;
            }
            self.ports.push(PortRow {
                seq,
                proto: Cow::Borrowed(p.proto.as_str()),
                port: i32::from(p.port),
                state: Cow::Borrowed(p.state.as_str()),
                reason: Cow::Borrowed(p.reason.as_str()),
                ttl: i32::from(p.ttl),
                service: p.service.as_deref().map(Cow::Borrowed),
            });
            if let Some(d) = &p.detected {
                self.services.push(service_row(seq, p, d));
            }
        }
        // In key order, as before: the rows of a host are the same whatever
        // order its ports came in.
        let mut ranges: Vec<&(Key, Vec<u16>)> =
            keys.iter().filter(|(_, v)| v.len() >= RANGE_MIN).collect();
        ranges.sort_by_key(|(k, _)| (k.0, k.1.as_str(), k.2.as_str(), k.3));
        for ((proto, state, reason, ttl), ports) in ranges {
            self.ranges.push(RangeRow {
                seq,
                proto: proto.as_str().to_owned(),
                state: state.as_str().to_owned(),
                reason: reason.as_str().to_owned(),
                ttl: i32::from(*ttl),
                ports: PortList::from_ports(ports).to_nmap_string(),
            });
        }
    }
}

impl Batch<'_> {
    /// Move the port rows that [`GROUP_MIN`] hosts or more of the batch
    /// share into groups (once every host has been pushed).
    pub fn group(&mut self) {
        if self.hosts.len() < GROUP_MIN {
            return;
        }
        // For each port row, the group it joins (by first row of its key).
        let mut first: HashMap<GroupKey<'_>, (usize, usize)> = HashMap::new();
        let mut of: Vec<usize> = Vec::with_capacity(self.ports.len());
        for (i, p) in self.ports.iter().enumerate() {
            let e = first.entry(group_key(p)).or_insert((i, 0));
            e.1 += 1;
            of.push(e.0);
        }
        let big: HashMap<usize, usize> = first
            .into_values()
            .filter(|&(_, n)| n >= GROUP_MIN)
            .collect();
        if big.is_empty() {
            return;
        }
        let mut slot: HashMap<usize, usize> = HashMap::with_capacity(big.len());
        let mut groups: Vec<GroupRow<'_>> = Vec::with_capacity(big.len());
        let mut singles = Vec::with_capacity(self.ports.len());
        for (p, head) in std::mem::take(&mut self.ports).into_iter().zip(of) {
            let Some(&n) = big.get(&head) else {
                singles.push(p);
                continue;
            };
            let g = *slot.entry(head).or_insert_with(|| {
                groups.push(GroupRow {
                    proto: p.proto.clone(),
                    port: p.port,
                    state: p.state.clone(),
                    reason: p.reason.clone(),
                    ttl: p.ttl,
                    service: p.service.clone(),
                    hosts: 0,
                    seqs: Vec::with_capacity(n),
                });
                groups.len() - 1
            });
            groups[g].seqs.push(p.seq);
        }
        for g in &mut groups {
            g.seqs.sort_unstable();
            g.hosts = g.seqs.len() as i64;
        }
        self.ports = singles;
        self.groups = groups;
    }
}

type GroupKey<'k> = (&'k str, i32, &'k str, &'k str, i32, Option<&'k str>);

fn group_key<'k>(p: &'k PortRow<'_>) -> GroupKey<'k> {
    (
        &p.proto,
        p.port,
        &p.state,
        &p.reason,
        p.ttl,
        p.service.as_deref(),
    )
}

fn service_row(seq: i64, p: &PortResult, d: &ServiceInfo) -> ServiceRow {
    let tls = d.tls.as_ref();
    let join = |v: &[String], sep: &str| (!v.is_empty()).then(|| v.join(sep));
    ServiceRow {
        seq,
        proto: p.proto.as_str().to_owned(),
        port: i32::from(p.port),
        name: d.name.clone(),
        product: d.product.clone(),
        version: d.version.clone(),
        extrainfo: d.extrainfo.clone(),
        hostname: d.hostname.clone(),
        ostype: d.ostype.clone(),
        devicetype: d.devicetype.clone(),
        tunnel: d.tunnel_ssl.then(|| "ssl".to_owned()),
        conf: i32::from(d.conf),
        cpe: join(&d.cpe, " "),
        tls_version: tls.map(|t| t.version.clone()),
        tls_cipher: tls.map(|t| t.cipher.clone()),
        tls_alpn: tls.and_then(|t| t.alpn.clone()),
        tls_subject: tls.and_then(|t| t.subject.clone()),
        tls_issuer: tls.and_then(|t| t.issuer.clone()),
        tls_sans: tls.and_then(|t| join(&t.sans, "\n")),
        tls_not_before: tls.and_then(|t| t.not_before),
        tls_not_after: tls.and_then(|t| t.not_after),
        tls_key: tls.and_then(|t| t.key.clone()),
        tls_sha256: tls.and_then(|t| t.sha256.clone()),
    }
}

/// Why a row does not read back; the caller names the scan.
pub(crate) type Bad = String;

fn word<T>(what: &str, s: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, Bad> {
    parse(s).ok_or_else(|| format!("unknown {what} {s:?}"))
}

fn small<T: TryFrom<i64>>(what: &str, v: i64) -> Result<T, Bad> {
    T::try_from(v).map_err(|_| format!("{what} {v} out of range"))
}

fn duration(what: &str, us: Option<i64>) -> Result<Option<std::time::Duration>, Bad> {
    us.map(|v| {
        u64::try_from(v)
            .map(std::time::Duration::from_micros)
            .map_err(|_| format!("{what} {v} is negative"))
    })
    .transpose()
}

fn parse_mac(s: &str) -> Result<[u8; 6], Bad> {
    let mut out = [0u8; 6];
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(format!("bad MAC address {s:?}"));
    }
    for (b, p) in out.iter_mut().zip(parts) {
        *b = u8::from_str_radix(p, 16).map_err(|_| format!("bad MAC address {s:?}"))?;
    }
    Ok(out)
}

/// The host a set of rows describes; `ports` and `ranges` and `services` are
/// those of this host only.
pub(crate) fn host_of(
    h: HostRow<'_>,
    ports: Vec<PortRow<'_>>,
    ranges: Vec<RangeRow>,
    services: Vec<ServiceRow>,
) -> Result<HostReport, Bad> {
    let addr: IpAddr = h
        .addr
        .parse()
        .map_err(|_| format!("bad address {:?}", h.addr))?;
    let mut detected: BTreeMap<(Proto, u16), ServiceInfo> = BTreeMap::new();
    for s in services {
        let key = (
            word("protocol", &s.proto, Proto::parse)?,
            small("port", i64::from(s.port))?,
        );
        let split = |v: Option<String>, sep: char| -> Vec<String> {
            v.map(|v| v.split(sep).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let tls = match (s.tls_version, s.tls_cipher) {
            (Some(version), Some(cipher)) => Some(TlsFields {
                version,
                cipher,
                alpn: s.tls_alpn,
                subject: s.tls_subject,
                issuer: s.tls_issuer,
                sans: split(s.tls_sans, '\n'),
                not_before: s.tls_not_before,
                not_after: s.tls_not_after,
                key: s.tls_key,
                sha256: s.tls_sha256,
            }),
            _ => None,
        };
        detected.insert(
            key,
            ServiceInfo {
                name: s.name,
                product: s.product,
                version: s.version,
                extrainfo: s.extrainfo,
                hostname: s.hostname,
                ostype: s.ostype,
                devicetype: s.devicetype,
                tunnel_ssl: s.tunnel.as_deref() == Some("ssl"),
                conf: small("conf", i64::from(s.conf))?,
                cpe: split(s.cpe, ' '),
                tls,
            },
        );
    }
    let mut out: Vec<PortResult> = Vec::with_capacity(ports.len());
    for p in ports {
        let proto = word("protocol", &p.proto, Proto::parse)?;
        let port: u16 = small("port", i64::from(p.port))?;
        out.push(PortResult {
            proto,
            port,
            state: word("port state", &p.state, PortState::parse)?,
            reason: word("reason", &p.reason, Reason::parse)?,
            ttl: small("ttl", i64::from(p.ttl))?,
            service: p.service.map(Cow::into_owned),
            detected: detected.remove(&(proto, port)).map(Box::new),
        });
    }
    if let Some(((proto, port), _)) = detected.into_iter().next() {
        return Err(format!(
            "a service on {port}/{} without its port",
            proto.as_str()
        ));
    }
    for r in ranges {
        let proto = word("protocol", &r.proto, Proto::parse)?;
        let state = word("port state", &r.state, PortState::parse)?;
        let reason = word("reason", &r.reason, Reason::parse)?;
        let ttl: u8 = small("ttl", i64::from(r.ttl))?;
        let list = port_list(&r.ports)?;
        if out.len() + list.len() as usize > 2 * 65536 {
            return Err("more ports than there are".into());
        }
        out.extend(list.iter().map(|port| PortResult {
            proto,
            port,
            state,
            reason,
            ttl,
            service: builtin().name(port, proto).map(str::to_owned),
            detected: None,
        }));
    }
    out.sort_by_key(|p| (p.proto, p.port));
    if let Some(w) = out
        .windows(2)
        .find(|w| (w[0].proto, w[0].port) == (w[1].proto, w[1].port))
    {
        return Err(format!(
            "host {addr}: port {}/{} stored twice",
            w[0].port,
            w[0].proto.as_str()
        ));
    }
    Ok(HostReport {
        addr,
        hostname: h.hostname.map(Cow::into_owned),
        mac: h.mac.as_deref().map(parse_mac).transpose()?,
        status: HostStatus {
            up: h.up,
            reason: word("reason", &h.reason, Reason::parse)?,
            ttl: small("ttl", i64::from(h.ttl))?,
        },
        latency: duration("latency", h.latency_us)?,
        start: from_us(h.start_us),
        end: from_us(h.end_us),
        ports: out,
        srtt: duration("srtt", h.srtt_us)?,
        rttvar: duration("rttvar", h.rttvar_us)?,
        timeout: duration("timeout", h.timeout_us)?,
    })
}

/// A group's hosts as SQLite keeps them: a JSON array of `seq`s, `[0,5,9]`
/// (`json_each` reads it in SQL).
pub(crate) fn seqs_text(seqs: &[i64]) -> String {
    let mut s = String::with_capacity(seqs.len() * 7 + 2);
    s.push('[');
    for (i, q) in seqs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{q}");
    }
    s.push(']');
    s
}

/// [`seqs_text`] read back.
pub(crate) fn parse_seqs(s: &str) -> Result<Vec<i64>, Bad> {
    let bad = || format!("bad host list {:?}", s.chars().take(40).collect::<String>());
    let inner = s
        .trim()
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(bad)?
        .trim();
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|q| q.trim().parse::<i64>().map_err(|_| bad()))
        .collect()
}

/// nmap's port list spelling, `1-21,23` (empty → none).
pub(crate) fn port_list(s: &str) -> Result<PortList, Bad> {
    if s.is_empty() {
        return Ok(PortList::default());
    }
    let bad = || format!("bad port list {s:?}");
    let mut ranges = Vec::new();
    for part in s.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u16 = a.parse().map_err(|_| bad())?;
        let b: u16 = b.parse().map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
        ranges.push((a, b));
    }
    Ok(PortList::from_ranges(ranges))
}

/// Rows of several hosts, grouped by host `seq`, in `seq` order.
pub(crate) fn assemble<'a>(
    hosts: Vec<HostRow<'_>>,
    ports: Vec<PortRow<'a>>,
    ranges: Vec<RangeRow>,
    groups: Vec<GroupRow<'a>>,
    services: Vec<ServiceRow>,
) -> Result<Vec<HostReport>, Bad> {
    type Rows<'p> = (Vec<PortRow<'p>>, Vec<RangeRow>, Vec<ServiceRow>);
    let mut by: BTreeMap<i64, Rows<'a>> = BTreeMap::new();
    for p in ports {
        by.entry(p.seq).or_default().0.push(p);
    }
    for g in groups {
        if g.hosts != g.seqs.len() as i64 {
            return Err(format!(
                "a group of port {}/{} says {} hosts and names {}",
                g.port,
                g.proto,
                g.hosts,
                g.seqs.len()
            ));
        }
        for &seq in &g.seqs {
            by.entry(seq).or_default().0.push(PortRow {
                seq,
                proto: g.proto.clone(),
                port: g.port,
                state: g.state.clone(),
                reason: g.reason.clone(),
                ttl: g.ttl,
                service: g.service.clone(),
            });
        }
    }
    for r in ranges {
        by.entry(r.seq).or_default().1.push(r);
    }
    for s in services {
        by.entry(s.seq).or_default().2.push(s);
    }
    let mut out = Vec::with_capacity(hosts.len());
    let mut seen = std::collections::HashSet::with_capacity(hosts.len());
    for h in hosts {
        // No key stops a second row in PostgreSQL (schema 2): refused here.
        if !seen.insert(h.seq) {
            return Err(format!("host #{} stored twice", h.seq));
        }
        let (p, r, s) = by.remove(&h.seq).unwrap_or_default();
        out.push(host_of(h, p, r, s)?);
    }
    if let Some(seq) = by.keys().next() {
        return Err(format!("ports of host #{seq}, which is not stored"));
    }
    Ok(out)
}
