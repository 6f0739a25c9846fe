//! A probe file in nmap's grammar (the format of `nmap-service-probes`).
//!
//! Line based; `#` starts a comment line. Directives:
//!
//! - `Exclude T:9100-9107,U:53` — ports never probed (once, before any
//!   probe; a bare range is both protocols);
//! - `Probe TCP|UDP NAME q<d>payload<d> [no-payload]` — starts a probe; the
//!   payload knows the escapes `\\ \0 \a \b \f \n \r \t \v \xHH`;
//! - per probe: `ports LIST`, `sslports LIST`, `rarity 1-9` (default 5),
//!   `fallback NAME[,NAME…]` (at most 20 probes),
//!   `totalwaitms N`, `tcpwrappedms N` (100-300000);
//! - `match|softmatch SERVICE m<d>REGEX<d>[i][s] [p/…/] [v/…/] [i/…/]
//!   [h/…/] [o/…/] [d/…/] [cpe:/…/[a]]…` — the delimiter after `m` and
//!   after each field's letter is any character and cannot be escaped;
//!   the regex is kept as written (PCRE syntax, compiled by the matcher).
//!
//! Every mistake is one [`ParseError`] naming its line.

use std::fmt;
use std::time::Duration;

use crate::template::Template;

/// The transport a probe is sent over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A set of ports, as inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ports(pub Vec<(u16, u16)>);

impl Ports {
    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|&(a, b)| (a..=b).contains(&port))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The `Exclude` directive: ports per protocol.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Exclude {
    pub tcp: Ports,
    pub udp: Ports,
}

/// A whole probe file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeDb {
    pub exclude: Exclude,
    /// In file order (the order they are tried in).
    pub probes: Vec<Probe>,
}

/// One `Probe` and the lines under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub proto: Proto,
    pub name: String,
    pub payload: Vec<u8>,
    /// `no-payload`: the probe is only sent when asked for by name.
    pub no_payload: bool,
    pub ports: Ports,
    pub sslports: Ports,
    pub rarity: u8,
    pub fallback: Vec<String>,
    pub total_wait: Option<Duration>,
    pub tcpwrapped_wait: Option<Duration>,
    pub matches: Vec<Match>,
    /// The line of its `Probe` directive.
    pub line: usize,
}

/// The version fields a match fills in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields {
    /// `p/…/`
    pub product: Option<Template>,
    /// `v/…/`
    pub version: Option<Template>,
    /// `i/…/`
    pub info: Option<Template>,
    /// `h/…/`
    pub hostname: Option<Template>,
    /// `o/…/`
    pub ostype: Option<Template>,
    /// `d/…/`
    pub devicetype: Option<Template>,
    /// `cpe:/…/`, with its `a` flag (the name is an application).
    pub cpe: Vec<(Template, bool)>,
}

/// One `match` or `softmatch` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub soft: bool,
    pub service: String,
    /// The pattern as written between its delimiters.
    pub pattern: Vec<u8>,
    /// `i`: case-insensitive.
    pub case_insensitive: bool,
    /// `s`: `.` matches newlines too.
    pub dot_all: bool,
    pub fields: Fields,
    pub line: usize,
}

/// A mistake in a probe file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

impl std::error::Error for ParseError {}

/// Longest fallback list nmap allows.
const MAX_FALLBACKS: usize = 20;

impl ProbeDb {
    /// Reads a probe file.
    pub fn parse(text: &[u8]) -> Result<ProbeDb, ParseError> {
        let mut db = ProbeDb::default();
        let mut excluded_at: Option<usize> = None;
        for (i, raw) in text.split(|b| *b == b'\n').enumerate() {
            let line = i + 1;
            let err = |msg: String| ParseError { line, msg };
            let l = trim(raw);
            if l.is_empty() || l[0] == b'#' {
                continue;
            }
            let (word, rest) = split_word(l);
            let rest = trim(rest);
            match word {
                b"Exclude" => {
                    if excluded_at.is_some() {
                        return Err(err("a second Exclude directive".into()));
                    }
                    if !db.probes.is_empty() {
                        return Err(err("Exclude must come before the first Probe".into()));
                    }
                    db.exclude = exclude(rest).map_err(err)?;
                    excluded_at = Some(line);
                }
                b"Probe" => db.probes.push(probe(rest, line).map_err(err)?),
                _ => {
                    let Some(p) = db.probes.last_mut() else {
                        return Err(err(format!("{} before the first Probe", show(word))));
                    };
                    directive(p, word, rest, line).map_err(err)?;
                }
            }
        }
        check_names(&db)?;
        Ok(db)
    }
}

/// Probe names are unique per protocol; fallbacks name existing probes
/// (of either protocol: the same protocol's first when both exist).
fn check_names(db: &ProbeDb) -> Result<(), ParseError> {
    for (i, p) in db.probes.iter().enumerate() {
        if let Some(q) = db.probes[..i]
            .iter()
            .find(|q| q.proto == p.proto && q.name == p.name)
        {
            return Err(ParseError {
                line: p.line,
                msg: format!(
                    "a second probe named {} (the first is on line {})",
                    p.name, q.line
                ),
            });
        }
        for f in &p.fallback {
            // A TCP probe may borrow a UDP probe's lines (DNS over TCP).
            if !db.probes.iter().any(|q| &q.name == f) {
                return Err(ParseError {
                    line: p.line,
                    msg: format!("probe {}: fallback {f} names no probe", p.name),
                });
            }
        }
    }
    Ok(())
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// The first word and what follows it.
fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Bytes for a message: as text, the unprintable ones escaped.
fn show(s: &[u8]) -> String {
    s.escape_ascii().to_string()
}

fn probe(rest: &[u8], line: usize) -> Result<Probe, String> {
    let (proto, rest) = split_word(rest);
    let proto = match proto {
        b"TCP" => Proto::Tcp,
        b"UDP" => Proto::Udp,
        other => {
            return Err(format!(
                "Probe: the protocol is TCP or UDP, not \"{}\"",
                show(other)
            ))
        }
    };
    let (name, rest) = split_word(trim(rest));
    if name.is_empty() {
        return Err("Probe: a name is missing".into());
    }
    let name = String::from_utf8(name.to_vec())
        .map_err(|_| format!("Probe: the name \"{}\" is not text", show(name)))?;
    let rest = trim(rest);
    let Some(body) = rest.strip_prefix(b"q") else {
        return Err(format!(
            "Probe {name}: the payload is q<delimiter>…<delimiter>"
        ));
    };
    let (raw, after) = delimited(body)
        .ok_or_else(|| format!("Probe {name}: the payload's closing delimiter is missing"))?;
    let payload = unescape(raw).map_err(|e| format!("Probe {name}: {e}"))?;
    let no_payload = match trim(after) {
        b"" => false,
        b"no-payload" => true,
        other => {
            return Err(format!(
                "Probe {name}: unexpected \"{}\" after the payload",
                show(other)
            ))
        }
    };
    Ok(Probe {
        proto,
        name,
        payload,
        no_payload,
        ports: Ports::default(),
        sslports: Ports::default(),
        rarity: 5,
        fallback: Vec::new(),
        total_wait: None,
        tcpwrapped_wait: None,
        matches: Vec::new(),
        line,
    })
}

/// `<d>text<d>rest` → (text, rest); the delimiter is the first byte.
fn delimited(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&d, body) = s.split_first()?;
    let end = body.iter().position(|b| *b == d)?;
    Some((&body[..end], &body[end + 1..]))
}

/// A payload's escapes (also those of a template's quoted strings).
pub(crate) fn unescape(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let Some(&c) = raw.get(i + 1) else {
            return Err("a lone backslash at the end".into());
        };
        i += 2;
        out.push(match c {
            b'\\' => b'\\',
            b'0' => 0,
            b'a' => 0x07,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'x' => {
                let hex = raw
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("\\x needs two hex digits")?;
                i += 2;
                hex
            }
            other => return Err(format!("unknown escape \\{}", show(&[other]))),
        });
    }
    Ok(out)
}

fn directive(p: &mut Probe, word: &[u8], rest: &[u8], line: usize) -> Result<(), String> {
    match word {
        b"match" | b"softmatch" => {
            p.matches
                .push(match_line(word == b"softmatch", rest, line)?);
        }
        b"ports" => p.ports = ports(rest).map_err(|e| format!("ports: {e}"))?,
        b"sslports" => p.sslports = ports(rest).map_err(|e| format!("sslports: {e}"))?,
        b"rarity" => {
            p.rarity = number(rest)
                .filter(|r| (1..=9).contains(r))
                .ok_or_else(|| format!("rarity is 1 to 9, not \"{}\"", show(rest)))?
                as u8;
        }
        b"fallback" => {
            let names: Vec<String> = rest
                .split(|b| *b == b',')
                .map(trim)
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .collect();
            if names.iter().any(String::is_empty) {
                return Err("fallback: an empty probe name".into());
            }
            if names.len() > MAX_FALLBACKS {
                return Err(format!("fallback: at most {MAX_FALLBACKS} probes"));
            }
            p.fallback = names;
        }
        b"totalwaitms" => {
            let ms = number(rest).filter(|m| *m > 0).ok_or_else(|| {
                format!(
                    "totalwaitms: a number of milliseconds, not \"{}\"",
                    show(rest)
                )
            })?;
            p.total_wait = Some(Duration::from_millis(ms));
        }
        b"tcpwrappedms" => {
            let ms = number(rest)
                .filter(|m| (100..=300_000).contains(m))
                .ok_or_else(|| {
                    format!(
                        "tcpwrappedms: 100 to 300000 milliseconds, not \"{}\"",
                        show(rest)
                    )
                })?;
            p.tcpwrapped_wait = Some(Duration::from_millis(ms));
        }
        other => return Err(format!("unknown directive \"{}\"", show(other))),
    }
    Ok(())
}

fn number(s: &[u8]) -> Option<u64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// `22,80,8000-8010`.
fn ports(s: &[u8]) -> Result<Ports, String> {
    let mut out = Vec::new();
    for item in s.split(|b| *b == b',') {
        let item = trim(item);
        let text = std::str::from_utf8(item).map_err(|_| "not a port list".to_string())?;
        let (a, b) = text.split_once('-').unwrap_or((text, text));
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("\"{text}\" is not a port or a range of ports"))
        };
        let (a, b) = (port(a)?, port(b)?);
        if a > b {
            return Err(format!("\"{text}\" runs backwards"));
        }
        out.push((a, b));
    }
    Ok(Ports(out))
}

/// `T:9100-9107,U:53,1000`: a bare item is both protocols.
fn exclude(s: &[u8]) -> Result<Exclude, String> {
    let mut ex = Exclude::default();
    let mut proto: Option<Proto> = None;
    for item in s.split(|b| *b == b',') {
        let mut item = trim(item);
        if let Some(r) = item.strip_prefix(b"T:") {
            proto = Some(Proto::Tcp);
            item = r;
        } else if let Some(r) = item.strip_prefix(b"U:") {
            proto = Some(Proto::Udp);
            item = r;
        }
        let one = ports(item).map_err(|e| format!("Exclude: {e}"))?;
        match proto {
            Some(Proto::Tcp) => ex.tcp.0.extend(one.0),
            Some(Proto::Udp) => ex.udp.0.extend(one.0),
            None => {
                ex.tcp.0.extend(one.0.iter().copied());
                ex.udp.0.extend(one.0);
            }
        }
    }
    Ok(ex)
}

fn match_line(soft: bool, rest: &[u8], line: usize) -> Result<Match, String> {
    let what = if soft { "softmatch" } else { "match" };
    let (service, rest) = split_word(rest);
    if service.is_empty() {
        return Err(format!("{what}: the service name is missing"));
    }
    let service = String::from_utf8(service.to_vec())
        .map_err(|_| format!("{what}: the service name \"{}\" is not text", show(service)))?;
    let rest = trim(rest);
    let Some(body) = rest.strip_prefix(b"m") else {
        return Err(format!(
            "{what} {service}: the pattern is m<delimiter>…<delimiter>"
        ));
    };
    let (pattern, mut rest) = delimited(body)
        .ok_or_else(|| format!("{what} {service}: the pattern's closing delimiter is missing"))?;
    if pattern.is_empty() {
        return Err(format!("{what} {service}: the pattern is empty"));
    }
    let (mut case_insensitive, mut dot_all) = (false, false);
    while let Some((&c, r)) = rest.split_first() {
        match c {
            b'i' => case_insensitive = true,
            b's' => dot_all = true,
            c if c.is_ascii_whitespace() => break,
            c => {
                return Err(format!(
                    "{what} {service}: unknown pattern option '{}' (i and s exist)",
                    show(&[c])
                ))
            }
        }
        rest = r;
    }
    let mut fields = Fields::default();
    loop {
        rest = trim(rest);
        if rest.is_empty() {
            break;
        }
        let (tag, after) = if let Some(r) = rest.strip_prefix(b"cpe:") {
            ("cpe", r)
        } else {
            let tag = match rest[0] {
                b'p' => "p",
                b'v' => "v",
                b'i' => "i",
                b'h' => "h",
                b'o' => "o",
                b'd' => "d",
                _ => {
                    let at = show(&rest[..rest.len().min(20)]);
                    return Err(format!(
                        "{what} {service}: unknown version field at \"{at}\" (p v i h o d cpe: exist)"
                    ));
                }
            };
            (tag, &rest[1..])
        };
        let (value, mut after) = delimited(after).ok_or_else(|| {
            format!("{what} {service}: field {tag}'s closing delimiter is missing")
        })?;
        let template =
            Template::parse(value).map_err(|e| format!("{what} {service}: field {tag}: {e}"))?;
        let slot = match tag {
            "p" => &mut fields.product,
            "v" => &mut fields.version,
            "i" => &mut fields.info,
            "h" => &mut fields.hostname,
            "o" => &mut fields.ostype,
            "d" => &mut fields.devicetype,
            _ => {
                let app = after.first() == Some(&b'a');
                if app {
                    after = &after[1..];
                }
                fields.cpe.push((template, app));
                rest = after;
                continue;
            }
        };
        if slot.is_some() {
            return Err(format!("{what} {service}: field {tag} given twice"));
        }
        *slot = Some(template);
        rest = after;
    }
    Ok(Match {
        soft,
        service,
        pattern: pattern.to_vec(),
        case_insensitive,
        dot_all,
        fields,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Part;

    const SAMPLE: &str = r#"# A small probe file.
Exclude T:9100-9107,U:53,T:1

Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w._-]+)[ -]?([^\r\n]*)\r?\n| p/OpenSSH/ v/$2/ i/protocol $1/ cpe:/a:openbsd:openssh:$2/a
softmatch ftp m/^220[- ]/i
match redis m=^-ERR unknown command= p|Redis key-value store|

Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 80,8000-8010
sslports 443
fallback NULL
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: nginx/([\d.]+)|s p/nginx/ v/$1/ cpe:/a:igor_sysoev:nginx:$1/

Probe UDP DNSStatusRequest q|\0\0\x10\0\0\0\0\0\0\0\0\0| no-payload
ports 53
"#;

    #[test]
    fn reads_every_directive() {
        let db = ProbeDb::parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(db.exclude.tcp, Ports(vec![(9100, 9107), (1, 1)]));
        assert_eq!(db.exclude.udp, Ports(vec![(53, 53)]));
        assert_eq!(db.probes.len(), 3);
        let null = &db.probes[0];
        assert_eq!(
            (null.proto, null.name.as_str(), null.line),
            (Proto::Tcp, "NULL", 4)
        );
        assert!(null.payload.is_empty());
        assert_eq!(null.total_wait, Some(Duration::from_secs(6)));
        assert_eq!(null.tcpwrapped_wait, Some(Duration::from_secs(3)));
        assert_eq!(null.rarity, 5);
        assert_eq!(null.matches.len(), 3);
        let ssh = &null.matches[0];
        assert_eq!(ssh.service, "ssh");
        assert!(!ssh.soft && !ssh.case_insensitive && !ssh.dot_all);
        assert_eq!(ssh.line, 7);
        assert!(ssh.pattern.starts_with(b"^SSH-"));
        assert_eq!(
            ssh.fields.product,
            Some(Template {
                parts: vec![Part::Text(b"OpenSSH".to_vec())]
            })
        );
        assert_eq!(ssh.fields.version.as_ref().map(|t| t.max_group()), Some(2));
        assert_eq!(ssh.fields.cpe.len(), 1);
        assert!(ssh.fields.cpe[0].1, "the a flag");
        let ftp = &null.matches[1];
        assert!(ftp.soft && ftp.case_insensitive);
        assert_eq!(null.matches[2].pattern, b"^-ERR unknown command");

        let get = &db.probes[1];
        assert_eq!(get.payload, b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(get.rarity, 1);
        assert!(get.ports.contains(8005) && get.ports.contains(80) && !get.ports.contains(81));
        assert!(get.sslports.contains(443));
        assert_eq!(get.fallback, ["NULL"]);
        assert!(get.matches[0].dot_all);
        assert!(!get.matches[0].fields.cpe[0].1);

        let dns = &db.probes[2];
        assert_eq!(dns.proto, Proto::Udp);
        assert!(dns.no_payload);
        assert_eq!(dns.payload.len(), 12);
        assert_eq!(dns.payload[2], 0x10);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            unescape(br"\\\0\a\b\f\n\r\t\v\x41\xff").unwrap(),
            b"\\\0\x07\x08\x0c\n\r\t\x0b\x41\xff"
        );
        for bad in [&br"\q"[..], br"\x4", br"\xzz", b"\\"] {
            assert!(unescape(bad).is_err(), "{}", show(bad));
        }
    }

    fn fails(text: &str) -> ParseError {
        match ProbeDb::parse(text.as_bytes()) {
            Err(e) => e,
            Ok(db) => panic!("{text:?} parsed: {db:?}"),
        }
    }

    #[test]
    fn each_mistake_names_its_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("match x m/a/", 1, "match before the first Probe"),
            ("Probe TCP A q||\nrarity 0", 2, "rarity is 1 to 9"),
            ("Probe TCP A q||\nrarity ten", 2, "rarity is 1 to 9"),
            ("Probe SCTP A q||", 1, "the protocol is TCP or UDP"),
            ("Probe TCP q||", 1, "the payload is q"),
            ("Probe TCP A q|abc", 1, "closing delimiter"),
            ("Probe TCP A q|\\q|", 1, "unknown escape"),
            ("Probe TCP A q|| extra", 1, "unexpected"),
            (
                "Probe TCP A q||\n\nmatch x m|abc",
                3,
                "closing delimiter is missing",
            ),
            ("Probe TCP A q||\nmatch x m||", 2, "the pattern is empty"),
            (
                "Probe TCP A q||\nmatch x m|a|z",
                2,
                "unknown pattern option",
            ),
            (
                "Probe TCP A q||\nmatch x m|a| q/b/",
                2,
                "unknown version field",
            ),
            (
                "Probe TCP A q||\nmatch x m|a| p/b",
                2,
                "field p's closing delimiter",
            ),
            ("Probe TCP A q||\nmatch x m|a| p/b/ p/c/", 2, "given twice"),
            (
                "Probe TCP A q||\nmatch x m|a| v/$0/",
                2,
                "capture groups are $1 to $9",
            ),
            ("Probe TCP A q||\nmatch m|a|", 2, "the pattern is m"),
            ("Probe TCP A q||\nports 80,90-85", 2, "runs backwards"),
            ("Probe TCP A q||\nports 70000", 2, "not a port"),
            ("Probe TCP A q||\ntcpwrappedms 5", 2, "100 to 300000"),
            ("Probe TCP A q||\ntotalwaitms x", 2, "totalwaitms"),
            ("Probe TCP A q||\nfallback B", 1, "fallback B names no"),
            ("Probe TCP A q||\nfallback A,", 2, "empty probe name"),
            ("Probe TCP A q||\nfrobnicate 1", 2, "unknown directive"),
            (
                "Probe TCP A q||\nProbe TCP A q|x|",
                2,
                "a second probe named A",
            ),
            ("Probe TCP A q||\nExclude 1", 2, "before the first Probe"),
            ("Exclude 1\nExclude 2", 2, "a second Exclude"),
            ("Exclude T:x", 1, "Exclude"),
        ];
        for (text, line, msg) in cases {
            let e = fails(text);
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.to_string().contains(msg), "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("line {line}: ")), "{e}");
        }
        // The same probe name is allowed once per protocol.
        assert!(ProbeDb::parse(b"Probe TCP A q||\nProbe UDP A q||").is_ok());
        let many = format!("Probe TCP A q||\nfallback {}", vec!["A"; 21].join(","));
        assert!(fails(&many).msg.contains("at most 20"));
    }

    #[test]
    fn comments_blank_lines_and_crlf() {
        let db = ProbeDb::parse(b"  # c\r\n\r\nProbe TCP A q|x|\r\n  rarity 3\r\n").unwrap();
        assert_eq!(db.probes[0].rarity, 3);
        assert_eq!(db.probes[0].payload, b"x");
    }

    #[test]
    fn never_panics_on_cut_or_changed_input() {
        let text = SAMPLE.as_bytes();
        for end in 0..=text.len() {
            let _ = ProbeDb::parse(&text[..end]);
        }
        for i in 0..text.len() {
            for b in [0u8, b'|', b'\\', b'$', b'\n', 0xff] {
                let mut t = text.to_vec();
                t[i] = b;
                let _ = ProbeDb::parse(&t);
            }
        }
    }
}
