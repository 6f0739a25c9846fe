//! What changed between two scans (`vigie diff`): a pure comparison of two
//! [`Report`]s and three writers: ndiff's text, ndiff's XML (`<nmapdiff>`)
//! and vigie's own JSON Lines.
//!
//! Rules:
//! - hosts are matched by IP address; a host is *changed* when it is in one
//!   report only, when it is up in one and down in the other, or when its
//!   host name or MAC address differs;
//! - ports are matched by (protocol, port) over EVERY scanned port: the
//!   ports folded into "Not shown" / `<extraports>` are expanded by the
//!   readers and compared like the listed ones. A port differs when it was
//!   scanned in one report only, when its state differs, or, with the same
//!   state, when its service differs: the name (compared only when both
//!   reports name one: XML keeps no name for folded ports), or what `-sV`
//!   found (product, version, extra info, TLS tunnel). Reasons and TTLs are
//!   not compared (ndiff does not either);
//! - the text and XML writers list a changed port unless it is folded in
//!   every report that scanned it (it is then counted in the "Not shown"
//!   lines, as ndiff does); a port scanned in both reports is listed with a
//!   `-` line and a `+` line, also when one side is folded (ndiff knows
//!   nothing of folded ports and prints the `+` line only).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::net::IpAddr;
use std::time::SystemTime;

use serde::Serialize;
use vigie_scan::{PortState, Proto, Reason};

use crate::read::{Report, Scanner};
use crate::{fold, mac_string, utc, HostReport, Options, PortResult};

/// How a port changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortChange {
    /// Open now, not open before (or not scanned before).
    Opened,
    /// Open before, closed now.
    Closed,
    /// Any other change of state, or scanned in one report only.
    State,
    /// The same state; the service name differs.
    Service,
    /// The same state and name; product, version, extra info or tunnel
    /// differs.
    Version,
}

impl PortChange {
    /// The word in the JSON Lines.
    pub fn as_str(self) -> &'static str {
        match self {
            PortChange::Opened => "opened",
            PortChange::Closed => "closed",
            PortChange::State => "state",
            PortChange::Service => "service",
            PortChange::Version => "version",
        }
    }
}

/// One port as one report has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortView {
    pub state: PortState,
    pub reason: Reason,
    /// The SERVICE column (`ssl/http` inside TLS); `None` when unknown.
    pub service: Option<String>,
    /// What `-sV` found: (product, version, extrainfo, tunnel).
    pub detected: Option<Detected>,
    /// Summarised in "Not shown" rather than listed.
    pub folded: bool,
}

/// The fields of `-sV`'s findings that are compared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Detected {
    pub name: String,
    pub product: Option<String>,
    pub version: Option<String>,
    pub extrainfo: Option<String>,
    /// `ssl` when found inside TLS.
    pub tunnel: Option<String>,
}

impl PortView {
    fn of(p: &PortResult, folded: bool) -> PortView {
        let detected = p.detected.as_deref().map(|d| Detected {
            name: d.name.clone(),
            product: d.product.clone(),
            version: d.version.clone(),
            extrainfo: d.extrainfo.clone(),
            tunnel: d.tunnel_ssl.then(|| "ssl".to_owned()),
        });
        let service = match p.detected.as_deref() {
            Some(d) => Some(d.column_name()),
            None => p.service.clone(),
        };
        PortView {
            state: p.state,
            reason: p.reason,
            service,
            detected,
            folded,
        }
    }

    /// The VERSION column: `product version (extrainfo)`, `None` if empty.
    pub fn version_text(&self) -> Option<String> {
        let d = self.detected.as_ref()?;
        let mut parts: Vec<String> = Vec::new();
        parts.extend(d.product.clone());
        parts.extend(d.version.clone());
        if let Some(i) = &d.extrainfo {
            parts.push(format!("({i})"));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// (name, product, version, extrainfo, tunnel) as compared.
    fn service_key(&self) -> Detected {
        match &self.detected {
            Some(d) => d.clone(),
            None => Detected {
                name: self.service.clone().unwrap_or_default(),
                ..Detected::default()
            },
        }
    }
}

/// One port of one host in both reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortDiff {
    pub proto: Proto,
    pub port: u16,
    /// `None`: not scanned in that report.
    pub a: Option<PortView>,
    pub b: Option<PortView>,
    /// `None`: the same in both.
    pub change: Option<PortChange>,
}

impl PortDiff {
    /// Whether the text and XML list it: changed and not folded in every
    /// report that has it, or unchanged and listed in one (for `-v`).
    pub fn listed(&self) -> bool {
        let folded = |v: &Option<PortView>| v.as_ref().is_none_or(|v| v.folded);
        !(folded(&self.a) && folded(&self.b))
    }
}

/// One host as one report has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostView {
    pub hostname: Option<String>,
    pub mac: Option<[u8; 6]>,
    pub up: bool,
    /// The folded ports: (state, count), the largest count first.
    pub not_shown: Vec<(PortState, u32)>,
}

impl HostView {
    /// `name (addr, MAC)` as ndiff names a host.
    fn name(&self, addr: IpAddr) -> String {
        let mut addrs = addr.to_string();
        if let Some(m) = &self.mac {
            addrs.push_str(", ");
            addrs.push_str(&mac_string(m));
        }
        match &self.hostname {
            Some(n) if !n.is_empty() => format!("{n} ({addrs})"),
            _ => addrs,
        }
    }

    /// "901 closed ports, 98 filtered ports"; `None` when nothing is folded.
    pub fn not_shown_text(&self) -> Option<String> {
        let parts: Vec<String> = self
            .not_shown
            .iter()
            .map(|(s, n)| format!("{n} {s} ports"))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// One host in both reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDiff {
    pub addr: IpAddr,
    /// `None`: not in that report.
    pub a: Option<HostView>,
    pub b: Option<HostView>,
    /// Every port that differs, and every unchanged port listed in either
    /// report, by (port, protocol) as ndiff sorts them.
    pub ports: Vec<PortDiff>,
}

impl HostDiff {
    /// Up in one report and missing from the other, or its host name or
    /// MAC address differs. A host down in one report and missing from the
    /// other has not changed (nmap and vigie write down hosts with `-v`
    /// only).
    pub fn id_changed(&self) -> bool {
        match (&self.a, &self.b) {
            (Some(a), Some(b)) => (&a.hostname, a.mac) != (&b.hostname, b.mac),
            (Some(h), None) | (None, Some(h)) => h.up,
            (None, None) => false,
        }
    }

    /// Up in one, down or missing in the other.
    pub fn status_changed(&self) -> bool {
        let up = |h: &Option<HostView>| h.as_ref().is_some_and(|h| h.up);
        up(&self.a) != up(&self.b)
    }

    pub fn not_shown_changed(&self) -> bool {
        self.a.as_ref().map(|h| &h.not_shown) != self.b.as_ref().map(|h| &h.not_shown)
    }

    /// The ports that differ.
    pub fn changed_ports(&self) -> impl Iterator<Item = &PortDiff> {
        self.ports.iter().filter(|p| p.change.is_some())
    }

    pub fn is_changed(&self) -> bool {
        self.id_changed() || self.status_changed() || self.changed_ports().next().is_some()
    }
}

/// The head of one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunHead {
    pub scanner: Scanner,
    pub version: String,
    pub start: SystemTime,
    pub args: String,
}

impl RunHead {
    /// ndiff's banner: "Nmap 7.93 scan initiated Sat Nov 21 04:58:06 2026
    /// as: nmap …" (the day zero-padded, in the local zone).
    pub fn banner(&self) -> String {
        format!(
            "{} {} scan initiated {} as: {}",
            self.scanner.as_str(),
            self.version,
            start_text(self.start),
            self.args
        )
    }
}

fn start_text(t: SystemTime) -> String {
    utc(t)
        .with_timezone(&chrono::Local)
        .format("%a %b %d %H:%M:%S %Y")
        .to_string()
}

/// Everything that differs between two reports (and, for `-v`, what is
/// listed in either and did not change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub a: RunHead,
    pub b: RunHead,
    /// Every host of either report, by address.
    pub hosts: Vec<HostDiff>,
}

impl Diff {
    /// True when no host and no port differs (the run heads, times and
    /// command lines, are not compared).
    pub fn is_empty(&self) -> bool {
        !self.hosts.iter().any(HostDiff::is_changed)
    }

    /// (hosts changed, ports changed).
    pub fn counts(&self) -> (usize, usize) {
        let hosts = self.hosts.iter().filter(|h| h.is_changed()).count();
        let ports = self.hosts.iter().map(|h| h.changed_ports().count()).sum();
        (hosts, ports)
    }
}

/// How the report's writers folded its ports: its verbosity, and `--open`
/// from its command line.
fn fold_options(r: &Report) -> Options {
    Options {
        reason: false,
        open_only: r.run.args.split_whitespace().any(|w| w == "--open"),
        verbose: r.run.verbose,
    }
}

fn head(r: &Report) -> RunHead {
    RunHead {
        scanner: r.origin.scanner,
        version: r.origin.version.clone(),
        start: r.run.start,
        args: r.run.args.clone(),
    }
}

/// A host's view and its ports keyed by (port, proto).
fn host_side(h: &HostReport, opts: &Options) -> (HostView, BTreeMap<(u16, Proto), PortView>) {
    let f = fold(h, opts);
    let shown: BTreeSet<(Proto, u16)> = f.shown.iter().map(|p| (p.proto, p.port)).collect();
    let mut per_state: BTreeMap<PortState, u32> = BTreeMap::new();
    for hidden in &f.hidden {
        *per_state.entry(hidden.state).or_default() += hidden.count;
    }
    let mut not_shown: Vec<(PortState, u32)> = per_state.into_iter().collect();
    // the largest count first; equal counts by name, as ndiff orders them
    not_shown.sort_by(|x, y| y.1.cmp(&x.1).then(y.0.as_str().cmp(x.0.as_str())));
    let ports = h
        .ports
        .iter()
        .map(|p| {
            let folded = !shown.contains(&(p.proto, p.port));
            ((p.port, p.proto), PortView::of(p, folded))
        })
        .collect();
    let view = HostView {
        hostname: h.hostname.clone().filter(|n| !n.is_empty()),
        mac: h.mac,
        up: h.status.up,
        not_shown,
    };
    (view, ports)
}

fn port_change(a: Option<&PortView>, b: Option<&PortView>) -> Option<PortChange> {
    let open = |v: Option<&PortView>| v.is_some_and(|v| v.state == PortState::Open);
    match (a, b) {
        (None, None) => None,
        (Some(x), Some(y)) if x.state == y.state => {
            let (kx, ky) = (x.service_key(), y.service_key());
            // a name is compared only when both reports have one
            let names_differ = x.service.is_some() && y.service.is_some() && kx.name != ky.name;
            if names_differ {
                Some(PortChange::Service)
            } else if (&kx.product, &kx.version, &kx.extrainfo, &kx.tunnel)
                != (&ky.product, &ky.version, &ky.extrainfo, &ky.tunnel)
            {
                Some(PortChange::Version)
            } else {
                None
            }
        }
        _ if open(b) => Some(PortChange::Opened),
        (Some(x), Some(y)) if x.state == PortState::Open && y.state == PortState::Closed => {
            Some(PortChange::Closed)
        }
        _ => Some(PortChange::State),
    }
}

/// Compare two reports: `a` before, `b` after.
pub fn diff(a: &Report, b: &Report) -> Diff {
    let (oa, ob) = (fold_options(a), fold_options(b));
    let mut hosts: BTreeMap<IpAddr, (Option<&HostReport>, Option<&HostReport>)> = BTreeMap::new();
    for h in &a.hosts {
        hosts.entry(h.addr).or_default().0.get_or_insert(h);
    }
    for h in &b.hosts {
        hosts.entry(h.addr).or_default().1.get_or_insert(h);
    }
    let hosts = hosts
        .into_iter()
        .map(|(addr, (ha, hb))| {
            let (va, pa) = ha.map(|h| host_side(h, &oa)).unzip();
            let (vb, pb) = hb.map(|h| host_side(h, &ob)).unzip();
            let (pa, pb) = (pa.unwrap_or_default(), pb.unwrap_or_default());
            let keys: BTreeSet<(u16, Proto)> = pa.keys().chain(pb.keys()).copied().collect();
            let ports = keys
                .into_iter()
                .filter_map(|k| {
                    let (x, y) = (pa.get(&k), pb.get(&k));
                    let change = port_change(x, y);
                    let d = PortDiff {
                        proto: k.1,
                        port: k.0,
                        a: x.cloned(),
                        b: y.cloned(),
                        change,
                    };
                    (change.is_some() || d.listed()).then_some(d)
                })
                .collect();
            HostDiff {
                addr,
                a: va,
                b: vb,
                ports,
            }
        })
        .collect();
    Diff {
        a: head(a),
        b: head(b),
        hosts,
    }
}

// ---- text, as ndiff writes it ----

/// A table of left-aligned columns: a one-character mark, then columns
/// one space apart; trailing blanks trimmed.
struct Table {
    rows: Vec<(char, [String; 4])>,
}

impl Table {
    fn text(&self) -> String {
        let mut widths = [0usize; 4];
        for (_, cols) in &self.rows {
            for (w, c) in widths.iter_mut().zip(cols) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        for (mark, cols) in &self.rows {
            let mut line = String::new();
            line.push(*mark);
            for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                line.push_str(c);
                line.extend(std::iter::repeat_n(' ', w - c.chars().count()));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn columns(proto: Proto, port: u16, v: &PortView) -> [String; 4] {
    [
        format!("{port}/{}", proto.as_str()),
        v.state.as_str().to_owned(),
        v.service.clone().unwrap_or_default(),
        v.version_text().unwrap_or_default(),
    ]
}

fn status_word(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

fn host_text(h: &HostDiff, verbose: bool, out: &mut String) {
    use std::fmt::Write as _;
    let (a, b) = (h.a.as_ref(), h.b.as_ref());
    if h.id_changed() {
        for (mark, v) in [('-', a), ('+', b)] {
            if let Some(v) = v {
                let _ = writeln!(out, "{mark}{}:", v.name(h.addr));
            }
        }
    } else if let Some(v) = a.or(b) {
        let _ = writeln!(out, " {}:", v.name(h.addr));
    }
    if h.status_changed() {
        for (mark, v) in [('-', a), ('+', b)] {
            if let Some(v) = v {
                let _ = writeln!(out, "{mark}Host is {}.", status_word(v.up));
            }
        }
    } else if verbose {
        if let Some(v) = b {
            let _ = writeln!(out, " Host is {}.", status_word(v.up));
        }
    }
    if h.not_shown_changed() {
        for (mark, v) in [('-', a), ('+', b)] {
            if let Some(t) = v.and_then(HostView::not_shown_text) {
                let _ = writeln!(out, "{mark}Not shown: {t}");
            }
        }
    } else if verbose {
        if let Some(t) = a.and_then(HostView::not_shown_text) {
            let _ = writeln!(out, " Not shown: {t}");
        }
    }
    let mark = match (a, b) {
        (None, _) => '+',
        (_, None) => '-',
        _ => ' ',
    };
    let header = ["PORT", "STATE", "SERVICE", "VERSION"].map(str::to_owned);
    let mut table = Table {
        rows: vec![(mark, header)],
    };
    for p in h.ports.iter().filter(|p| p.listed()) {
        match (&p.change, &p.a, &p.b) {
            (None, Some(v), _) | (None, None, Some(v)) => {
                if verbose {
                    table.rows.push((' ', columns(p.proto, p.port, v)));
                }
            }
            (Some(_), x, y) => {
                for (mark, v) in [('-', x), ('+', y)] {
                    if let Some(v) = v {
                        table.rows.push((mark, columns(p.proto, p.port, v)));
                    }
                }
            }
            (None, None, None) => {}
        }
    }
    if table.rows.len() > 1 {
        out.push_str(&table.text());
    }
}

/// The diff as ndiff prints it: the two banners when they differ, then a
/// block per changed host (every host with `verbose`, unchanged lines with
/// a leading space).
pub fn write_text(d: &Diff, verbose: bool, w: &mut dyn Write) -> io::Result<()> {
    let mut out = String::new();
    let (ba, bb) = (d.a.banner(), d.b.banner());
    if ba != bb {
        out.push_str(&format!("-{ba}\n+{bb}\n"));
    } else if verbose {
        out.push_str(&format!(" {ba}\n"));
    }
    for h in &d.hosts {
        if h.is_changed() || verbose {
            out.push('\n');
            host_text(h, verbose, &mut out);
        }
    }
    w.write_all(out.as_bytes())
}

// ---- XML, in ndiff's <nmapdiff> shape ----

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn nmaprun_xml(r: &RunHead) -> String {
    let scanner = match r.scanner {
        Scanner::Nmap => "nmap",
        Scanner::Vigie => crate::NAME,
    };
    format!(
        "<nmaprun scanner=\"{scanner}\" args=\"{}\" start=\"{}\" startstr=\"{}\" version=\"{}\"/>\n",
        esc(&r.args),
        crate::unix_secs(r.start),
        start_text(r.start),
        esc(&r.version)
    )
}

fn status_xml(v: &HostView) -> String {
    format!("<status state=\"{}\"/>\n", status_word(v.up))
}

fn extraports_xml(v: &HostView) -> String {
    v.not_shown
        .iter()
        .map(|(s, n)| format!("<extraports state=\"{s}\" count=\"{n}\"/>\n"))
        .collect()
}

fn service_xml(v: &PortView) -> String {
    let mut attrs = String::new();
    let d = v.service_key();
    let name = v
        .detected
        .as_ref()
        .map(|d| d.name.clone())
        .or(v.service.clone());
    for (k, val) in [
        ("name", name.as_ref()),
        ("product", d.product.as_ref()),
        ("version", d.version.as_ref()),
        ("extrainfo", d.extrainfo.as_ref()),
        ("tunnel", d.tunnel.as_ref()),
    ] {
        if let Some(val) = val {
            attrs.push_str(&format!(" {k}=\"{}\"", esc(val)));
        }
    }
    if attrs.is_empty() {
        String::new()
    } else {
        format!("<service{attrs}/>\n")
    }
}

fn port_xml(proto: Proto, port: u16, v: Option<&PortView>) -> String {
    let open = format!("<port portid=\"{port}\" protocol=\"{}\"", proto.as_str());
    match v {
        None => format!("{open}/>\n"),
        Some(v) => format!(
            "{open}>\n<state state=\"{}\"/>\n{}</port>\n",
            v.state,
            service_xml(v)
        ),
    }
}

fn address_xml(h: &HostDiff, v: &HostView) -> String {
    let kind = if h.addr.is_ipv4() { "ipv4" } else { "ipv6" };
    let mut s = format!("<address addr=\"{}\" addrtype=\"{kind}\"/>\n", h.addr);
    if let Some(m) = &v.mac {
        s.push_str(&format!(
            "<address addr=\"{}\" addrtype=\"mac\"/>\n",
            mac_string(m)
        ));
    }
    s
}

fn hostnames_xml(v: &HostView) -> String {
    match &v.hostname {
        Some(n) => format!(
            "<hostnames>\n<hostname name=\"{}\"/>\n</hostnames>\n",
            esc(n)
        ),
        None => String::new(),
    }
}

/// A host in one report only: all of it.
fn whole_host_xml(h: &HostDiff, v: &HostView, b_side: bool) -> String {
    let mut s = String::from("<host>\n");
    s.push_str(&status_xml(v));
    s.push_str(&address_xml(h, v));
    s.push_str(&hostnames_xml(v));
    let mut ports = extraports_xml(v);
    for p in h.ports.iter().filter(|p| p.listed()) {
        let side = if b_side { &p.b } else { &p.a };
        if let Some(pv) = side.as_ref().filter(|pv| !pv.folded) {
            ports.push_str(&port_xml(p.proto, p.port, Some(pv)));
        }
    }
    if !ports.is_empty() {
        s.push_str(&format!("<ports>\n{ports}</ports>\n"));
    }
    s.push_str("</host>\n");
    s
}

fn host_xml(h: &HostDiff, verbose: bool) -> String {
    let mut s = String::from("<hostdiff>\n");
    let (a, b) = match (&h.a, &h.b) {
        (Some(a), None) => {
            s.push_str(&format!(
                "<a>\n{}</a>\n</hostdiff>\n",
                whole_host_xml(h, a, false)
            ));
            return s;
        }
        (None, Some(b)) => {
            s.push_str(&format!(
                "<b>\n{}</b>\n</hostdiff>\n",
                whole_host_xml(h, b, true)
            ));
            return s;
        }
        (Some(a), Some(b)) => (a, b),
        (None, None) => return String::new(),
    };
    s.push_str("<host>\n");
    if a.up != b.up {
        s.push_str(&format!(
            "<a>\n{}</a>\n<b>\n{}</b>\n",
            status_xml(a),
            status_xml(b)
        ));
    } else if verbose {
        s.push_str(&status_xml(a));
    }
    let (addr_a, addr_b) = (address_xml(h, a), address_xml(h, b));
    if addr_a == addr_b {
        s.push_str(&addr_a);
    } else {
        s.push_str(&format!("<a>\n{addr_a}</a>\n<b>\n{addr_b}</b>\n"));
    }
    if a.hostname == b.hostname {
        s.push_str(&hostnames_xml(a));
    } else {
        s.push_str(&format!(
            "<a>\n{}</a>\n<b>\n{}</b>\n",
            hostnames_xml(a),
            hostnames_xml(b)
        ));
    }
    let mut ports = String::new();
    if a.not_shown == b.not_shown {
        ports.push_str(&extraports_xml(a));
    } else {
        ports.push_str(&format!(
            "<a>\n{}</a>\n<b>\n{}</b>\n",
            extraports_xml(a),
            extraports_xml(b)
        ));
    }
    for p in h.ports.iter().filter(|p| p.listed()) {
        let (x, y) = (p.a.as_ref(), p.b.as_ref());
        match p.change {
            None => {
                if verbose {
                    ports.push_str(&port_xml(p.proto, p.port, x.or(y)));
                }
            }
            Some(PortChange::Service | PortChange::Version) => {
                // same state: one <port>, the services side by side
                let (Some(x), Some(y)) = (x, y) else { continue };
                ports.push_str(&format!(
                    "<portdiff>\n<port portid=\"{}\" protocol=\"{}\">\n<state state=\"{}\"/>\n<a>\n{}</a>\n<b>\n{}</b>\n</port>\n</portdiff>\n",
                    p.port,
                    p.proto.as_str(),
                    x.state,
                    service_xml(x),
                    service_xml(y)
                ));
            }
            Some(_) => ports.push_str(&format!(
                "<portdiff>\n<a>\n{}</a>\n<b>\n{}</b>\n</portdiff>\n",
                port_xml(p.proto, p.port, x),
                port_xml(p.proto, p.port, y)
            )),
        }
    }
    if !ports.is_empty() {
        s.push_str(&format!("<ports>\n{ports}</ports>\n"));
    }
    s.push_str("</host>\n</hostdiff>\n");
    s
}

/// The diff in ndiff's `--xml` shape: `<nmapdiff version="1"><scandiff>`,
/// both `<nmaprun>` heads when they differ, a `<hostdiff>` per changed host
/// (every host with `verbose`).
pub fn write_xml(d: &Diff, verbose: bool, w: &mut dyn Write) -> io::Result<()> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<nmapdiff version=\"1\"><scandiff>",
    );
    if d.a != d.b {
        s.push_str(&format!(
            "<a>{}</a><b>{}</b>",
            nmaprun_xml(&d.a),
            nmaprun_xml(&d.b)
        ));
    } else if verbose {
        s.push_str(&nmaprun_xml(&d.a));
    }
    for h in &d.hosts {
        if h.is_changed() || verbose {
            s.push_str(&host_xml(h, verbose));
        }
    }
    s.push_str("</scandiff></nmapdiff>\n");
    w.write_all(s.as_bytes())
}

// ---- JSON Lines, vigie's own ----

#[derive(Serialize)]
struct PortSide<'a> {
    state: &'a str,
    reason: &'a str,
    service: Option<&'a str>,
    product: Option<&'a str>,
    version: Option<&'a str>,
    extrainfo: Option<&'a str>,
    tunnel: Option<&'a str>,
}

impl<'a> PortSide<'a> {
    fn of(v: &'a PortView) -> PortSide<'a> {
        let d = v.detected.as_ref();
        PortSide {
            state: v.state.as_str(),
            reason: v.reason.as_str(),
            service: v.service.as_deref(),
            product: d.and_then(|d| d.product.as_deref()),
            version: d.and_then(|d| d.version.as_deref()),
            extrainfo: d.and_then(|d| d.extrainfo.as_deref()),
            tunnel: d.and_then(|d| d.tunnel.as_deref()),
        }
    }
}

#[derive(Serialize)]
struct HostSide<'a> {
    status: &'a str,
    hostname: Option<&'a str>,
    mac: Option<String>,
}

impl<'a> HostSide<'a> {
    fn of(v: &'a HostView) -> HostSide<'a> {
        HostSide {
            status: status_word(v.up),
            hostname: v.hostname.as_deref(),
            mac: v.mac.as_ref().map(mac_string),
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum JsonLine<'a> {
    Host {
        host: IpAddr,
        change: &'a str,
        before: Option<HostSide<'a>>,
        after: Option<HostSide<'a>>,
    },
    Port {
        host: IpAddr,
        proto: &'a str,
        port: u16,
        change: &'a str,
        before: Option<PortSide<'a>>,
        after: Option<PortSide<'a>>,
    },
    Summary {
        a: RunSide<'a>,
        b: RunSide<'a>,
        hosts_changed: usize,
        ports_changed: usize,
        same: bool,
    },
}

#[derive(Serialize)]
struct RunSide<'a> {
    file: &'a str,
    scanner: &'a str,
    version: &'a str,
    /// Unix seconds.
    start: i64,
    args: &'a str,
}

impl<'a> RunSide<'a> {
    fn of(r: &'a RunHead, file: &'a str) -> RunSide<'a> {
        RunSide {
            file,
            scanner: r.scanner.as_str(),
            version: &r.version,
            start: crate::unix_secs(r.start),
            args: &r.args,
        }
    }
}

/// The word for a host's change: `appeared`, `vanished`, `up`, `down` or
/// `name` (host name or MAC address).
fn host_change(h: &HostDiff) -> Option<&'static str> {
    Some(match (&h.a, &h.b) {
        (None, Some(b)) if b.up => "appeared",
        (Some(a), None) if a.up => "vanished",
        (None, _) | (_, None) => return None,
        (Some(a), Some(b)) if a.up != b.up => status_word(b.up),
        (Some(_), Some(_)) if h.id_changed() => "name",
        _ => return None,
    })
}

/// The diff as JSON Lines: a `host` line per host that appeared, went away,
/// changed status or name; a `port` line per port that differs (for a host
/// that appeared, went away or changed status, only its listed ports); a
/// closing `summary` line naming both inputs (`labels`).
pub fn write_json_lines(d: &Diff, labels: [&str; 2], w: &mut dyn Write) -> io::Result<()> {
    let mut line = |l: &JsonLine| -> io::Result<()> {
        serde_json::to_writer(&mut *w, l)?;
        w.write_all(b"\n")
    };
    let mut ports_changed = 0;
    for h in &d.hosts {
        let hc = host_change(h);
        if let Some(change) = hc {
            line(&JsonLine::Host {
                host: h.addr,
                change,
                before: h.a.as_ref().map(HostSide::of),
                after: h.b.as_ref().map(HostSide::of),
            })?;
        }
        let whole = hc.is_some_and(|c| c != "name");
        for p in h.changed_ports() {
            if whole && !p.listed() {
                continue;
            }
            let Some(change) = p.change else { continue };
            ports_changed += 1;
            line(&JsonLine::Port {
                host: h.addr,
                proto: p.proto.as_str(),
                port: p.port,
                change: change.as_str(),
                before: p.a.as_ref().map(PortSide::of),
                after: p.b.as_ref().map(PortSide::of),
            })?;
        }
    }
    let (hosts_changed, _) = d.counts();
    line(&JsonLine::Summary {
        a: RunSide::of(&d.a, labels[0]),
        b: RunSide::of(&d.b, labels[1]),
        hosts_changed,
        ports_changed,
        same: d.is_empty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Origin;
    use crate::testutil::*;
    use crate::{read_report, write_report, JsonLinesWriter, XmlWriter};
    use std::time::Duration;

    fn report(hosts: Vec<HostReport>) -> Report {
        Report {
            origin: Origin::vigie(),
            run: run_info(0),
            hosts,
            stats: stats(),
        }
    }

    fn text(d: &Diff, verbose: bool) -> String {
        let mut v = Vec::new();
        write_text(d, verbose, &mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    fn changes(d: &Diff) -> Vec<(u16, PortChange)> {
        d.hosts
            .iter()
            .flat_map(|h| h.changed_ports().map(|p| (p.port, p.change.unwrap())))
            .collect()
    }

    fn set(h: &mut HostReport, port: u16, state: PortState, reason: Reason) {
        let p = h.ports.iter_mut().find(|p| p.port == port).unwrap();
        p.state = state;
        p.reason = reason;
    }

    #[test]
    fn same_reports_are_empty() {
        let a = report(vec![host_versions(), host_down()]);
        let d = diff(&a, &a.clone());
        assert!(d.is_empty());
        assert_eq!(d.counts(), (0, 0));
        assert_eq!(text(&d, false), "");
        // -v: the banner, every host, its listed ports
        let v = text(&d, true);
        assert!(
            v.starts_with(&format!(" {}\n\n 127.0.0.1:\n Host is up.\n", d.a.banner())),
            "{v}"
        );
        assert!(v.contains(" Not shown: 996 closed ports\n"), "{v}");
        assert!(v.contains("\n PORT    STATE SERVICE  VERSION\n 22/tcp  open  ssh      OpenSSH 9.2p1 Debian 2+deb12u3 (protocol 2.0)\n 80/tcp  open  http\n"), "{v}");
        assert!(
            v.contains("\n 443/tcp open  ssl/http nginx 1.22.1\n"),
            "{v}"
        );
        assert!(v.contains("\n 198.18.0.2:\n Host is down.\n"), "{v}");
        // reasons and TTLs are not compared, nor the run heads
        let mut b = a.clone();
        b.hosts[0].ports[0].reason = Reason::Unknown;
        b.hosts[0].ports[0].ttl = 3;
        b.run.args = "vigie -sS other".into();
        b.run.start = at(T0 + 3600);
        let d = diff(&a, &b);
        assert!(d.is_empty());
        let t = text(&d, false);
        assert_eq!(t.lines().count(), 2, "{t}");
        assert!(t.starts_with("-vigie 0.1.0 scan initiated "), "{t}");
        assert!(
            t.contains("\n+vigie 0.1.0 scan initiated ") && t.ends_with(" as: vigie -sS other\n"),
            "{t}"
        );
    }

    #[test]
    fn port_changes_are_named() {
        let a = report(vec![host_versions()]);
        let mut b = a.clone();
        let h = &mut b.hosts[0];
        set(h, 25, PortState::Open, Reason::SynAck); // folded closed → open
        set(h, 80, PortState::Filtered, Reason::NoResponse); // open → filtered
        set(h, 111, PortState::Closed, Reason::Reset); // open → closed (folded)
        set(h, 139, PortState::Filtered, Reason::NoResponse); // closed → filtered
        h.ports[21].detected.as_mut().unwrap().version = Some("9.3".into());
        h.ports[442].detected.as_mut().unwrap().name = "https".into();
        let d = diff(&a, &b);
        assert!(!d.is_empty());
        assert_eq!(
            changes(&d),
            [
                (22, PortChange::Version),
                (25, PortChange::Opened),
                (80, PortChange::State),
                (111, PortChange::Closed),
                (139, PortChange::State),
                (443, PortChange::Service),
            ]
        );
        assert_eq!(d.counts(), (1, 6));
        let t = text(&d, false);
        let body: Vec<&str> = t.lines().collect();
        assert_eq!(
            body,
            [
                "",
                " 127.0.0.1:",
                "-Not shown: 996 closed ports",
                "+Not shown: 995 closed ports",
                " PORT    STATE    SERVICE   VERSION",
                "-22/tcp  open     ssh       OpenSSH 9.2p1 Debian 2+deb12u3 (protocol 2.0)",
                "+22/tcp  open     ssh       OpenSSH 9.3 (protocol 2.0)",
                "-25/tcp  closed",
                "+25/tcp  open",
                "-80/tcp  open     http",
                "+80/tcp  filtered http",
                "-111/tcp open     rpcbind",
                "+111/tcp closed   rpcbind",
                "-139/tcp closed",
                "+139/tcp filtered",
                "-443/tcp open     ssl/http  nginx 1.22.1",
                "+443/tcp open     ssl/https nginx 1.22.1",
            ][..],
            "{t}"
        );
    }

    #[test]
    fn a_service_name_is_compared_only_when_both_have_one() {
        let a = report(vec![host_small()]);
        let mut b = a.clone();
        b.hosts[0].ports[21].service = None;
        assert!(diff(&a, &b).is_empty());
        b.hosts[0].ports[21].service = Some("ssh-alt".into());
        assert_eq!(changes(&diff(&a, &b)), [(22, PortChange::Service)]);
        // -sV on one side only: the version differs
        let v = report(vec![host_versions()]);
        assert_eq!(
            changes(&diff(&a, &v)),
            [(22, PortChange::Version), (443, PortChange::Service)]
        );
    }

    #[test]
    fn hosts_appear_go_down_and_change_name() {
        let mut up = host_down();
        up.status.up = true;
        up.ports = tcp_range(1, 1000, PortState::Closed, Reason::Reset);
        set(&mut up, 22, PortState::Open, Reason::SynAck);
        let a = report(vec![host_small(), up.clone()]);
        let mut renamed = host_small();
        renamed.hostname = Some("lo.lab".into());
        let b = report(vec![renamed, host_down()]);
        let d = diff(&a, &b);
        assert_eq!(d.counts().0, 2);
        let t = text(&d, false);
        assert_eq!(
            t,
            "\n-127.0.0.1:\n+lo.lab (127.0.0.1):\n\
             \n 198.18.0.2:\n-Host is up.\n+Host is down.\n-Not shown: 999 closed ports\n PORT   STATE SERVICE VERSION\n-22/tcp open\n"
                .to_string()
                .replace("\n-127", "-127")
                .replacen("-127", "\n-127", 1),
            "{t}"
        );
        // a host in B only: everything with "+"
        let c = report(vec![host_small(), up]);
        let d = diff(&report(vec![host_small()]), &c);
        let t = text(&d, false);
        assert_eq!(
            t,
            "\n+198.18.0.2:\n+Host is up.\n+Not shown: 999 closed ports\n+PORT   STATE SERVICE VERSION\n+22/tcp open\n",
            "{t}"
        );
        let mut j = Vec::new();
        write_json_lines(&d, ["a", "b"], &mut j).unwrap();
        let j = String::from_utf8(j).unwrap();
        let lines: Vec<&str> = j.lines().collect();
        assert_eq!(lines.len(), 3, "{j}");
        assert!(
            lines[0].starts_with(
                r#"{"type":"host","host":"198.18.0.2","change":"appeared","before":null"#
            ),
            "{j}"
        );
        assert!(lines[1].starts_with(r#"{"type":"port","host":"198.18.0.2","proto":"tcp","port":22,"change":"opened","before":null"#), "{j}");
        assert!(
            lines[2].contains(r#""hosts_changed":1,"ports_changed":1,"same":false"#),
            "{j}"
        );
        assert!(
            lines[2].contains(r#""file":"a""#) && lines[2].contains(r#""file":"b""#),
            "{j}"
        );
    }

    #[test]
    fn ports_scanned_on_one_side_only_differ() {
        let a = report(vec![host_small()]);
        let mut b = a.clone();
        b.hosts[0]
            .ports
            .extend(tcp_range(1001, 1100, PortState::Closed, Reason::Reset));
        let d = diff(&a, &b);
        assert!(!d.is_empty());
        // folded where they exist: counted in Not shown, not listed
        let t = text(&d, false);
        assert_eq!(
            t, "\n 127.0.0.1:\n-Not shown: 996 closed ports\n+Not shown: 1096 closed ports\n",
            "{t}"
        );
    }

    #[test]
    fn xml_is_ndiffs_shape_and_well_formed() {
        let a = report(vec![host_versions()]);
        let mut b = a.clone();
        set(&mut b.hosts[0], 80, PortState::Filtered, Reason::NoResponse);
        b.hosts[0].ports[21].detected.as_mut().unwrap().version = Some("9.3".into());
        b.run.start += Duration::from_secs(60);
        let d = diff(&a, &b);
        let mut x = Vec::new();
        write_xml(&d, false, &mut x).unwrap();
        let x = String::from_utf8(x).unwrap();
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<nmapdiff version=\"1\"><scandiff><a><nmaprun scanner=\"vigie\" args=\"vigie -sS -Pn -n -p 1-1000 127.0.0.1\""), "{x}");
        assert!(x.contains("<portdiff>\n<a>\n<port portid=\"80\" protocol=\"tcp\">\n<state state=\"open\"/>\n<service name=\"http\"/>\n</port>\n</a>\n<b>\n<port portid=\"80\" protocol=\"tcp\">\n<state state=\"filtered\"/>\n"), "{x}");
        assert!(x.contains("<portdiff>\n<port portid=\"22\" protocol=\"tcp\">\n<state state=\"open\"/>\n<a>\n<service name=\"ssh\" product=\"OpenSSH\" version=\"9.2p1 Debian 2+deb12u3\" extrainfo=\"protocol 2.0\"/>\n</a>\n<b>\n<service name=\"ssh\" product=\"OpenSSH\" version=\"9.3\" extrainfo=\"protocol 2.0\"/>\n</b>\n</port>\n</portdiff>\n"), "{x}");
        assert!(
            x.ends_with("</host>\n</hostdiff>\n</scandiff></nmapdiff>\n"),
            "{x}"
        );
        let mut r = quick_xml::Reader::from_str(&x);
        loop {
            match r.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("{e}: {x}"),
            }
        }
        let mut same = Vec::new();
        write_xml(&diff(&a, &a), false, &mut same).unwrap();
        assert_eq!(
            String::from_utf8(same).unwrap(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<nmapdiff version=\"1\"><scandiff></scandiff></nmapdiff>\n"
        );
    }

    #[test]
    fn xml_and_json_lines_of_one_scan_are_the_same() {
        let r = report(vec![host_versions(), host_down()]);
        let mut x = XmlWriter::new(Vec::new(), Options::default());
        write_report(&r, &mut x).unwrap();
        let mut j = JsonLinesWriter::new(Vec::new());
        write_report(&r, &mut j).unwrap();
        let (_, rx) = read_report(&x.into_inner()).unwrap();
        let (_, rj) = read_report(&j.into_inner()).unwrap();
        let d = diff(&rx, &rj);
        // the XML has no down host without -v: down or missing is the same
        assert_eq!(rx.hosts.len() + 1, rj.hosts.len());
        assert!(d.is_empty(), "{}", text(&d, false));
        assert!(diff(&rj, &rx).is_empty());
        // but a host up in one and missing from the other has changed
        let mut gone = rj.clone();
        gone.hosts.remove(0);
        let d = diff(&rj, &gone);
        assert_eq!(d.counts(), (1, 1000));
        let t = text(&d, false);
        assert!(t.starts_with("\n-127.0.0.1:\n-Host is up.\n-Not shown: 996 closed ports\n-PORT    STATE SERVICE  VERSION\n-22/tcp  open  ssh"), "{t}");
    }
}
