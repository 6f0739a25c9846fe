//! Service detection of one port, sans-IO: which probes to send, in which
//! order, and — fed what each probe's connection (or datagram) brought
//! back — the result nmap's algorithm gives.
//!
//! nmap runs its probes one after another. Here every probe goes on its own
//! connection and several run at once, but the result is *committed in
//! nmap's order*: probe k's answer only counts once every probe before it
//! is known not to have decided, so the outcome equals the serial one.
//!
//! The order (nmap's): the NULL probe first (TCP: connect and listen), then
//! the probes whose `ports` (`sslports` inside TLS) name the port, whatever
//! their rarity, then every other probe of rarity ≤ the intensity, in file
//! order; `no-payload` probes and ports of `Exclude` are skipped. After
//! each answer the probe's own lines, its fallbacks' and NULL's (TCP) are
//! tried; the first hard match wins. A softmatch keeps going, and the
//! later probes only count if they have lines for that service (not at
//! intensity 9). A hard match on `ssl` means: speak TLS, and detect again
//! inside (the caller does the handshake; [`Verdict::Tls`]).
//!
//! One shortcut, which cannot change the result: the NULL probe's wait
//! ends as soon as another probe's connection receives data. A server that
//! speaks first would have spoken first on that connection too, and its
//! banner would then lead that answer, which is matched against NULL's
//! lines as well.

use std::time::Duration;

use crate::matcher::{Found, Matcher};
use crate::probes::Proto;

/// How hard to try: nmap's `--version-intensity` (0-9; default 7,
/// `--version-light` 2, `--version-all` 9).
pub const DEFAULT_INTENSITY: u8 = 7;

/// What came back on one probe's connection (or to its datagram).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Bytes, then the wait ended (or the peer closed after sending).
    Data(Vec<u8>),
    /// Nothing within the wait.
    Silence,
    /// The peer closed (FIN or RST) without sending, after this long.
    Closed(Duration),
    /// The connection could not be made (refused, unreachable).
    Failed,
}

/// The result for a port.
// One per port, short-lived: boxing the match would only add a pointer hop.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A hard match (or the last softmatch when no probe matched hard).
    Found(Found),
    /// The port speaks TLS: detect again inside it.
    Tls,
    /// The NULL probe's connection was closed at once, without data: a
    /// wrapper (tcpwrapped, nmap's conf 8).
    Wrapped,
    /// Nothing matched.
    Unknown,
}

/// One port's detection.
#[derive(Debug, Clone)]
pub struct PortDetect {
    proto: Proto,
    /// Probe indices (into the matcher's db), in nmap's order.
    order: Vec<usize>,
    answers: Vec<Option<Answer>>,
    launched: usize,
    /// Probes 0..committed have been read; `state` holds what they said.
    committed: usize,
    soft: Option<Found>,
    intensity: u8,
    verdict: Option<Verdict>,
    null: Option<usize>,
    wrapped_within: Duration,
}

impl PortDetect {
    /// The probes for `port` over `proto`, `tls`: already inside TLS.
    pub fn new(m: &Matcher, proto: Proto, port: u16, intensity: u8, tls: bool) -> PortDetect {
        let db = m.db();
        let excluded = match proto {
            Proto::Tcp => db.exclude.tcp.contains(port),
            Proto::Udp => db.exclude.udp.contains(port),
        };
        let mut order = Vec::new();
        let mut null = None;
        if !excluded {
            let of_proto = |i: &usize| db.probes[*i].proto == proto;
            let all: Vec<usize> = (0..db.probes.len()).filter(of_proto).collect();
            if proto == Proto::Tcp {
                null = all
                    .iter()
                    .copied()
                    .find(|&i| db.probes[i].payload.is_empty());
                order.extend(null);
            }
            let hinted = |i: usize| {
                let p = &db.probes[i];
                if tls {
                    p.sslports.contains(port)
                } else {
                    p.ports.contains(port)
                }
            };
            for &i in &all {
                if Some(i) != null && hinted(i) {
                    order.push(i);
                }
            }
            for &i in &all {
                let p = &db.probes[i];
                if Some(i) != null && !hinted(i) && !p.no_payload && p.rarity <= intensity {
                    order.push(i);
                }
            }
        }
        let wrapped_within = null
            .and_then(|i| db.probes[i].tcpwrapped_wait)
            .unwrap_or(Duration::from_secs(2));
        PortDetect {
            proto,
            answers: vec![None; order.len()],
            order,
            launched: 0,
            committed: 0,
            soft: None,
            intensity,
            verdict: None,
            null,
            wrapped_within,
        }
    }

    /// The probes in the order they count.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Keeps only the probes `keep` says yes to (before any is launched):
    /// a second, narrower pass.
    pub fn retain(&mut self, keep: impl Fn(usize) -> bool) {
        if self.launched == 0 {
            self.order.retain(|&p| keep(p));
            self.answers = vec![None; self.order.len()];
            if self.null.is_some_and(|n| self.order.first() != Some(&n)) {
                self.null = None;
            }
        }
    }

    /// Whether any probe's connection got data so far.
    pub fn heard(&self) -> bool {
        self.answers
            .iter()
            .any(|a| matches!(a, Some(Answer::Data(d)) if !d.is_empty()))
    }

    /// The next probes to start, at most `room` of them: (slot, probe
    /// index). Empty once decided or all started.
    pub fn launch(&mut self, room: usize) -> Vec<(usize, usize)> {
        if self.verdict.is_some() {
            return Vec::new();
        }
        let end = (self.launched + room).min(self.order.len());
        let out = (self.launched..end).map(|s| (s, self.order[s])).collect();
        self.launched = end;
        out
    }

    /// Whether the NULL probe (slot 0, TCP) may stop waiting: another
    /// probe's connection got data.
    pub fn null_may_stop(&self) -> bool {
        self.null.is_some()
            && self.answers[1..]
                .iter()
                .any(|a| matches!(a, Some(Answer::Data(d)) if !d.is_empty()))
    }

    /// What slot `slot`'s probe got; then commits what can be.
    pub fn answer(&mut self, m: &Matcher, slot: usize, a: Answer) {
        if slot < self.answers.len() && self.answers[slot].is_none() {
            self.answers[slot] = Some(a);
        }
        self.commit(m);
    }

    /// Decided (the rest need not run)?
    pub fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    /// Every probe started and answered.
    pub fn exhausted(&self) -> bool {
        self.committed >= self.order.len()
    }

    fn commit(&mut self, m: &Matcher) {
        while self.verdict.is_none() && self.committed < self.order.len() {
            let Some(a) = self.answers[self.committed].clone() else {
                return;
            };
            let slot = self.committed;
            let probe = self.order[slot];
            self.committed += 1;
            let is_null = Some(probe) == self.null && slot == 0;
            match a {
                Answer::Data(d) if !d.is_empty() => {
                    if !self.counts(m, probe) {
                        continue;
                    }
                    match m.match_response(probe, &d) {
                        Some(f) if !f.soft => {
                            self.verdict = Some(if f.service == "ssl" {
                                Verdict::Tls
                            } else {
                                Verdict::Found(self.carry(f))
                            });
                        }
                        Some(f) if self.soft.is_none() => self.soft = Some(f),
                        _ => {}
                    }
                }
                Answer::Closed(after) if is_null && after <= self.wrapped_within => {
                    self.verdict = Some(Verdict::Wrapped);
                }
                _ => {}
            }
        }
        if self.verdict.is_none() && self.committed >= self.order.len() {
            self.verdict = Some(match self.soft.take() {
                Some(f) => Verdict::Found(f),
                None => Verdict::Unknown,
            });
        }
    }

    /// After a softmatch for service S, a probe counts only if it has
    /// lines for S (at intensity 9 every probe counts).
    fn counts(&self, m: &Matcher, probe: usize) -> bool {
        let Some(soft) = &self.soft else { return true };
        if self.intensity >= 9 {
            return true;
        }
        // Its own lines and its named fallbacks' (not the NULL lines every
        // TCP answer is also tried against).
        let db = m.db();
        let named = &db.probes[probe].fallback;
        m.chain(probe).iter().any(|&g| {
            let p = &db.probes[g as usize];
            (g as usize == probe || named.contains(&p.name))
                && p.matches.iter().any(|l| l.service == soft.service)
        })
    }

    /// A later hard match keeps the softmatch's fields it does not set.
    fn carry(&self, mut f: Found) -> Found {
        if let Some(s) = &self.soft {
            if s.service == f.service {
                f.product = f.product.or_else(|| s.product.clone());
                f.version = f.version.or_else(|| s.version.clone());
                f.info = f.info.or_else(|| s.info.clone());
                f.hostname = f.hostname.or_else(|| s.hostname.clone());
                f.ostype = f.ostype.or_else(|| s.ostype.clone());
                f.devicetype = f.devicetype.or_else(|| s.devicetype.clone());
                if f.cpe.is_empty() {
                    f.cpe = s.cpe.clone();
                }
            }
        }
        f
    }

    pub fn proto(&self) -> Proto {
        self.proto
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::ProbeDb;

    const FILE: &str = r#"Exclude T:9100
Probe TCP NULL q||
tcpwrappedms 1000
match ssh m|^SSH-2\.0-OpenSSH_([\w.]+)| p/OpenSSH/ v/$1/
softmatch ftp m|^220 |
match ftp m|^220 vsFTPd ([\d.]+)| p/vsftpd/ v/$1/

Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 80
match http m|^HTTP/1\.[01] \d+.*\r\nServer: nginx/([\d.]+)|s p/nginx/ v/$1/
match ssl m|^\x16\x03[\x00-\x04]|

Probe TCP FtpHelp q|HELP\r\n|
rarity 8
ports 2121
match ftp m|^214.*ProFTPD ([\d.]+)|s p/ProFTPD/ v/$1/

Probe TCP Rare q|x|
rarity 9
match http m|^HTTP| p/rare/

Probe TCP Later q|y|
rarity 3
match redis m|^-ERR| p/Redis/
"#;

    fn matcher() -> Matcher {
        Matcher::new(&ProbeDb::parse(FILE.as_bytes()).unwrap()).unwrap()
    }

    fn names(m: &Matcher, d: &PortDetect) -> Vec<String> {
        d.order()
            .iter()
            .map(|&i| m.db().probes[i].name.clone())
            .collect()
    }

    #[test]
    fn nmap_order() {
        let m = matcher();
        let d = PortDetect::new(&m, Proto::Tcp, 2121, 7, false);
        assert_eq!(names(&m, &d), ["NULL", "FtpHelp", "GetRequest", "Later"]);
        let d = PortDetect::new(&m, Proto::Tcp, 80, 9, false);
        assert_eq!(
            names(&m, &d),
            ["NULL", "GetRequest", "FtpHelp", "Rare", "Later"]
        );
        let d = PortDetect::new(&m, Proto::Tcp, 9100, 9, false);
        assert!(d.order().is_empty());
        let d = PortDetect::new(&m, Proto::Tcp, 22, 0, false);
        assert_eq!(names(&m, &d), ["NULL"]);
    }

    fn data(s: &str) -> Answer {
        Answer::Data(s.as_bytes().to_vec())
    }

    #[test]
    fn commits_in_order_whatever_arrives_first() {
        let m = matcher();
        let mut d = PortDetect::new(&m, Proto::Tcp, 80, 7, false);
        let started = d.launch(10);
        assert_eq!(started.len(), 3);
        // The HTTP answer comes first, but NULL is not known yet.
        d.answer(
            &m,
            1,
            data("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n"),
        );
        assert_eq!(d.verdict(), None);
        assert!(d.null_may_stop());
        d.answer(&m, 0, Answer::Silence);
        match d.verdict() {
            Some(Verdict::Found(f)) => {
                assert_eq!(
                    (
                        f.service.as_str(),
                        f.product.as_deref(),
                        f.version.as_deref()
                    ),
                    ("http", Some("nginx"), Some("1.22.1"))
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(d.launch(10).is_empty());
    }

    #[test]
    fn an_earlier_banner_wins() {
        let m = matcher();
        let mut d = PortDetect::new(&m, Proto::Tcp, 80, 7, false);
        d.launch(10);
        d.answer(&m, 2, data("-ERR unknown"));
        d.answer(&m, 1, Answer::Silence);
        assert_eq!(d.verdict(), None);
        d.answer(&m, 0, data("SSH-2.0-OpenSSH_9.2p1 Debian\r\n"));
        match d.verdict() {
            Some(Verdict::Found(f)) => assert_eq!(f.version.as_deref(), Some("9.2p1")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn softmatch_narrows_and_carries() {
        let m = matcher();
        let mut d = PortDetect::new(&m, Proto::Tcp, 2121, 7, false);
        d.launch(10);
        // NULL: a generic FTP banner (soft); GetRequest's and Later's
        // answers do not count (no ftp lines); FtpHelp's does.
        d.answer(&m, 0, data("220 Welcome\r\n"));
        d.answer(&m, 2, data("HTTP/1.0 200 OK\r\nServer: nginx/1.0\r\n"));
        d.answer(&m, 3, data("-ERR"));
        assert_eq!(d.verdict(), None);
        d.answer(&m, 1, data("214-Help\r\n214 ProFTPD 1.3.8 Server\r\n"));
        match d.verdict() {
            Some(Verdict::Found(f)) => {
                assert_eq!(
                    (f.service.as_str(), f.product.as_deref()),
                    ("ftp", Some("ProFTPD"))
                );
                assert!(!f.soft);
            }
            other => panic!("{other:?}"),
        }
        // Only the softmatch: it is the result.
        let mut d = PortDetect::new(&m, Proto::Tcp, 2121, 7, false);
        d.launch(10);
        d.answer(&m, 0, data("220 Welcome\r\n"));
        for s in 1..4 {
            d.answer(&m, s, Answer::Silence);
        }
        match d.verdict() {
            Some(Verdict::Found(f)) => assert!(f.soft && f.service == "ftp"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tls_and_wrapped_and_unknown() {
        let m = matcher();
        let mut d = PortDetect::new(&m, Proto::Tcp, 443, 7, false);
        d.launch(10);
        d.answer(&m, 0, Answer::Silence);
        d.answer(&m, 1, Answer::Data(vec![0x16, 0x03, 0x03, 0x00, 0x10]));
        assert_eq!(d.verdict(), Some(&Verdict::Tls));

        let mut d = PortDetect::new(&m, Proto::Tcp, 5000, 7, false);
        d.launch(10);
        d.answer(&m, 0, Answer::Closed(Duration::from_millis(5)));
        assert_eq!(d.verdict(), Some(&Verdict::Wrapped));

        let mut d = PortDetect::new(&m, Proto::Tcp, 5000, 7, false);
        d.launch(1);
        d.answer(&m, 0, Answer::Silence);
        assert_eq!(d.verdict(), None);
        let rest = d.launch(10);
        assert_eq!(rest.len(), 2);
        for (s, _) in rest {
            d.answer(&m, s, Answer::Failed);
        }
        assert_eq!(d.verdict(), Some(&Verdict::Unknown));
        assert!(d.exhausted());
    }
}
