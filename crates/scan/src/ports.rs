//! Port lists and nmap's `-p` grammar.
//!
//! A [`PortList`] is a sorted list of merged inclusive ranges with prefix
//! sums, so "the i-th port" and "the index of this port" are binary searches
//! and `-p-` costs one range, not 65535 entries.

use std::fmt::Write as _;

use crate::model::Proto;
use crate::services::ServiceDb;

/// A set of ports kept as sorted, merged, non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortList {
    ranges: Vec<(u16, u16)>,
    /// `offsets[i]` = number of ports in `ranges[..i]`.
    offsets: Vec<u32>,
    total: u32,
}

impl PortList {
    /// Build from inclusive ranges in any order, overlapping or not. A pair
    /// given high-to-low is taken as the same range low-to-high.
    pub fn from_ranges(r: impl IntoIterator<Item = (u16, u16)>) -> PortList {
        let mut v: Vec<(u16, u16)> = r
            .into_iter()
            .map(|(a, b)| if a <= b { (a, b) } else { (b, a) })
            .collect();
        v.sort_unstable();
        let mut ranges: Vec<(u16, u16)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match ranges.last_mut() {
                Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
                _ => ranges.push((lo, hi)),
            }
        }
        let mut offsets = Vec::with_capacity(ranges.len());
        let mut total = 0u32;
        for &(lo, hi) in &ranges {
            offsets.push(total);
            total += u32::from(hi - lo) + 1;
        }
        PortList {
            ranges,
            offsets,
            total,
        }
    }

    /// Build from single ports in any order, duplicates allowed.
    pub fn from_ports(p: &[u16]) -> PortList {
        PortList::from_ranges(p.iter().map(|&p| (p, p)))
    }

    /// Number of ports (at most 65536).
    pub fn len(&self) -> u32 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The `i`-th port in ascending order.
    pub fn get(&self, i: u32) -> Option<u16> {
        if i >= self.total {
            return None;
        }
        let r = self.offsets.partition_point(|&o| o <= i) - 1;
        // i - offsets[r] < range length <= 65536 and lo + it <= hi.
        Some(self.ranges[r].0 + (i - self.offsets[r]) as u16)
    }

    /// Position of `port` in ascending order; inverse of [`PortList::get`].
    pub fn index_of(&self, port: u16) -> Option<u32> {
        let r = self
            .ranges
            .partition_point(|&(lo, _)| lo <= port)
            .checked_sub(1)?;
        let (lo, hi) = self.ranges[r];
        (port <= hi).then(|| self.offsets[r] + u32::from(port - lo))
    }

    pub fn contains(&self, port: u16) -> bool {
        self.index_of(port).is_some()
    }

    /// The merged ranges, ascending.
    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.ranges
    }

    /// Every port, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
    }

    /// nmap's compact spelling: `1-1024,2000,3000-3002` (empty list → "").
    pub fn to_nmap_string(&self) -> String {
        let mut s = String::new();
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            // Writing to a String cannot fail.
            let _ = if lo == hi {
                write!(s, "{lo}")
            } else {
                write!(s, "{lo}-{hi}")
            };
        }
        s
    }

    /// Ports in either list.
    pub fn union(&self, other: &PortList) -> PortList {
        PortList::from_ranges(self.ranges.iter().chain(other.ranges.iter()).copied())
    }

    /// Ports of this list that are not in `other` (`--exclude-ports`).
    pub fn without(&self, other: &PortList) -> PortList {
        let mut out = Vec::with_capacity(self.ranges.len());
        for &(a, b) in &self.ranges {
            let (mut lo, hi) = (u32::from(a), u32::from(b));
            for &(x, y) in &other.ranges {
                let (x, y) = (u32::from(x), u32::from(y));
                if y < lo || x > hi {
                    continue;
                }
                if x > lo {
                    out.push((lo as u16, (x - 1) as u16));
                }
                lo = y + 1;
                if lo > hi {
                    break;
                }
            }
            if lo <= hi {
                out.push((lo as u16, hi as u16));
            }
        }
        PortList::from_ranges(out)
    }
}

/// The result of `-p`: ports per protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortSpec {
    pub tcp: PortList,
    pub udp: PortList,
}

/// Why a `-p` argument was refused; each displays as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("empty port list")]
    Empty,
    #[error("empty item in port list {spec:?}")]
    EmptyItem { spec: String },
    #[error("invalid port {item:?}: ports are 0-65535")]
    OutOfRange { item: String },
    #[error("reversed port range {item:?}")]
    Reversed { item: String },
    #[error("unknown service name {name:?}{}", proto_suffix(*.proto))]
    UnknownService { name: String, proto: Option<Proto> },
    #[error("invalid port {item:?}: {reason}")]
    Invalid { item: String, reason: &'static str },
}

fn proto_suffix(p: Option<Proto>) -> String {
    match p {
        Some(p) => format!(" for {}", p.as_str()),
        None => String::new(),
    }
}

/// Which lists the following items go to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Both,
    Only(Proto),
}

/// Parse nmap's `-p` syntax: comma-separated `N`, `N-M`, `-M`, `N-`, `-`,
/// or service names, with `T:` / `U:` switching the protocol for the items
/// that follow. Unqualified items go to both lists.
pub fn parse_ports(s: &str, db: &ServiceDb) -> Result<PortSpec, PortError> {
    if s.trim().is_empty() {
        return Err(PortError::Empty);
    }
    let mut tcp: Vec<(u16, u16)> = Vec::new();
    let mut udp: Vec<(u16, u16)> = Vec::new();
    let mut scope = Scope::Both;
    for raw in s.split(',') {
        let mut item = raw.trim();
        // A protocol prefix may stand at the start of any item.
        if let Some((p, rest)) = item.split_once(':') {
            scope = match p.trim() {
                "T" | "t" => Scope::Only(Proto::Tcp),
                "U" | "u" => Scope::Only(Proto::Udp),
                "S" | "s" | "P" | "p" => {
                    return Err(PortError::Invalid {
                        item: item.to_owned(),
                        reason: "SCTP and IP protocol scans are not supported",
                    })
                }
                _ => {
                    return Err(PortError::Invalid {
                        item: item.to_owned(),
                        reason: "unknown protocol prefix (use T: or U:)",
                    })
                }
            };
            item = rest.trim();
        }
        if item.is_empty() {
            return Err(PortError::EmptyItem { spec: s.to_owned() });
        }
        let mut add = |proto: Proto, r: (u16, u16)| match proto {
            Proto::Tcp => tcp.push(r),
            Proto::Udp => udp.push(r),
        };
        if item.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            let r = parse_numeric(item)?;
            match scope {
                Scope::Both => {
                    add(Proto::Tcp, r);
                    add(Proto::Udp, r);
                }
                Scope::Only(p) => add(p, r),
            }
            continue;
        }
        if !item
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'/'))
        {
            let reason = if item.contains(['*', '?']) {
                "service name wildcards are not supported"
            } else {
                "not a port, range or service name"
            };
            return Err(PortError::Invalid {
                item: item.to_owned(),
                reason,
            });
        }
        let protos: &[Proto] = match scope {
            Scope::Both => &[Proto::Tcp, Proto::Udp],
            Scope::Only(Proto::Tcp) => &[Proto::Tcp],
            Scope::Only(Proto::Udp) => &[Proto::Udp],
        };
        let mut found = false;
        for &p in protos {
            for &port in db.ports_named(item, p) {
                add(p, (port, port));
                found = true;
            }
        }
        if !found {
            return Err(PortError::UnknownService {
                name: item.to_owned(),
                proto: match scope {
                    Scope::Both => None,
                    Scope::Only(p) => Some(p),
                },
            });
        }
    }
    Ok(PortSpec {
        tcp: PortList::from_ranges(tcp),
        udp: PortList::from_ranges(udp),
    })
}

/// `N`, `N-M`, `-M` (1..=M), `N-` (N..=65535), `-` (1..=65535).
fn parse_numeric(item: &str) -> Result<(u16, u16), PortError> {
    let num = |s: &str| -> Result<u16, PortError> {
        // Only digits reach here; anything longer than 5 digits is too big.
        if s.len() > 5 {
            return Err(PortError::OutOfRange {
                item: item.to_owned(),
            });
        }
        s.parse::<u32>()
            .ok()
            .and_then(|v| u16::try_from(v).ok())
            .ok_or_else(|| PortError::OutOfRange {
                item: item.to_owned(),
            })
    };
    match item.split_once('-') {
        None => {
            let p = num(item)?;
            Ok((p, p))
        }
        Some((a, b)) => {
            if b.contains('-') {
                return Err(PortError::Invalid {
                    item: item.to_owned(),
                    reason: "more than one '-'",
                });
            }
            let lo = if a.is_empty() { 1 } else { num(a)? };
            let hi = if b.is_empty() { 65535 } else { num(b)? };
            if lo > hi {
                return Err(PortError::Reversed {
                    item: item.to_owned(),
                });
            }
            Ok((lo, hi))
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn without_is_the_set_difference() {
        let lists = [
            PortList::from_ranges([(1, 1024)]),
            PortList::from_ranges([(0, 65535)]),
            PortList::from_ports(&[22, 80, 443, 8080, 65535]),
            PortList::from_ranges([(20, 30), (100, 200), (65000, 65535)]),
            PortList::from_ranges([(0, 0), (25, 25), (150, 160), (1000, 2000)]),
            PortList::default(),
        ];
        for a in &lists {
            for b in &lists {
                let got: Vec<u16> = a.without(b).iter().collect();
                let want: Vec<u16> = a.iter().filter(|p| !b.contains(*p)).collect();
                assert_eq!(got, want, "{a:?} without {b:?}");
            }
        }
    }
    use super::*;
    use proptest::prelude::*;

    fn pl(r: &[(u16, u16)]) -> PortList {
        PortList::from_ranges(r.iter().copied())
    }

    #[test]
    fn list_basics() {
        let l = pl(&[
            (3000, 3002),
            (1, 1024),
            (2000, 2000),
            (500, 600),
            (1025, 1025),
        ]);
        assert_eq!(l.ranges(), &[(1, 1025), (2000, 2000), (3000, 3002)]);
        assert_eq!(l.len(), 1029);
        assert_eq!(l.to_nmap_string(), "1-1025,2000,3000-3002");
        assert_eq!(l.get(0), Some(1));
        assert_eq!(l.get(1024), Some(1025));
        assert_eq!(l.get(1025), Some(2000));
        assert_eq!(l.get(1026), Some(3000));
        assert_eq!(l.get(1028), Some(3002));
        assert_eq!(l.get(1029), None);
        assert_eq!(l.index_of(2000), Some(1025));
        assert_eq!(l.index_of(3001), Some(1027));
        assert_eq!(l.index_of(0), None);
        assert_eq!(l.index_of(1999), None);
        assert_eq!(l.index_of(65535), None);
        assert!(l.contains(1));
        assert!(!l.contains(1026));
        assert_eq!(l.iter().count(), 1029);
        assert_eq!(l.iter().nth(1025), Some(2000));

        let all = pl(&[(0, 65535)]);
        assert_eq!(all.len(), 65536);
        assert_eq!(all.get(65535), Some(65535));
        assert_eq!(all.index_of(65535), Some(65535));
        assert_eq!(all.to_nmap_string(), "0-65535");

        let e = PortList::default();
        assert!(e.is_empty());
        assert_eq!(e.get(0), None);
        assert_eq!(e.index_of(80), None);
        assert_eq!(e.to_nmap_string(), "");

        assert_eq!(
            PortList::from_ports(&[443, 80, 81, 80, 22]).to_nmap_string(),
            "22,80-81,443"
        );
        assert_eq!(pl(&[(90, 80)]).to_nmap_string(), "80-90");
        assert_eq!(
            pl(&[(1, 5)]).union(&pl(&[(6, 6), (9, 9)])).to_nmap_string(),
            "1-6,9"
        );
    }

    proptest! {
        #[test]
        fn get_index_roundtrip(r in proptest::collection::vec((any::<u16>(), any::<u16>()), 0..12), i in any::<u32>()) {
            let l = PortList::from_ranges(r.iter().copied());
            let naive: std::collections::BTreeSet<u16> =
                r.iter().flat_map(|&(a, b)| a.min(b)..=a.max(b)).collect();
            let n = naive.len() as u32;
            prop_assert!(l.iter().eq(naive.iter().copied()));
            prop_assert_eq!(l.len(), n);
            if n > 0 {
                let i = i % n;
                let p = l.get(i).unwrap();
                prop_assert_eq!(l.index_of(p), Some(i));
                prop_assert!(r.iter().any(|&(a, b)| (a.min(b)..=a.max(b)).contains(&p)));
            }
            prop_assert_eq!(l.get(n), None);
            for w in l.ranges().windows(2) {
                prop_assert!(u32::from(w[0].1) + 1 < u32::from(w[1].0));
            }
        }

        #[test]
        fn parse_never_panics(s in "[0-9TU:a-z,\\- *]{0,30}") {
            let _ = parse_ports(&s, &ServiceDb::builtin());
        }
    }

    fn parse(s: &str) -> (String, String) {
        let p = parse_ports(s, &ServiceDb::builtin()).unwrap();
        (p.tcp.to_nmap_string(), p.udp.to_nmap_string())
    }
    fn err(s: &str) -> String {
        parse_ports(s, &ServiceDb::builtin())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn parse_forms() {
        assert_eq!(parse("22"), ("22".into(), "22".into()));
        assert_eq!(
            parse("22,80,1000-2000"),
            ("22,80,1000-2000".into(), "22,80,1000-2000".into())
        );
        assert_eq!(parse("-"), ("1-65535".into(), "1-65535".into()));
        assert_eq!(parse("-100"), ("1-100".into(), "1-100".into()));
        assert_eq!(
            parse("65000-"),
            ("65000-65535".into(), "65000-65535".into())
        );
        assert_eq!(parse("0"), ("0".into(), "0".into()));
        assert_eq!(parse("0-5"), ("0-5".into(), "0-5".into()));
        assert_eq!(parse(" 22 , 23 "), ("22-23".into(), "22-23".into()));
        assert_eq!(parse("T:80,443,U:53"), ("80,443".into(), "53".into()));
        assert_eq!(parse("U:53,161,T:22-25"), ("22-25".into(), "53,161".into()));
        assert_eq!(parse("U:53"), ("".into(), "53".into()));
        assert_eq!(parse("t:1,u:2"), ("1".into(), "2".into()));
    }

    #[test]
    fn parse_service_names() {
        let db = ServiceDb::builtin();
        let p = parse_ports("ssh", &db).unwrap();
        assert_eq!(p.tcp.to_nmap_string(), "22");
        assert_eq!(p.udp.to_nmap_string(), "22");
        let p = parse_ports("T:https,domain", &db).unwrap();
        assert_eq!(p.tcp.to_nmap_string(), "53,443");
        assert_eq!(p.udp.to_nmap_string(), "");
        let p = parse_ports("U:snmp,ntp", &db).unwrap();
        assert_eq!(p.tcp.to_nmap_string(), "");
        assert_eq!(p.udp.to_nmap_string(), "123,161");
        // A UDP-only name unqualified lands only in the UDP list.
        let p = parse_ports("syslog,ssh", &db).unwrap();
        assert_eq!(p.tcp.to_nmap_string(), "22");
        assert_eq!(p.udp.to_nmap_string(), "22,514");
        let p = parse_ports("ms-sql-m,ms-sql-s", &db).unwrap();
        assert_eq!(p.tcp.to_nmap_string(), "1433-1434");
        assert_eq!(p.udp.to_nmap_string(), "1433-1434");
        let p = parse_ports("openvpn,x11,22", &db).unwrap();
        assert_eq!(p.tcp.to_nmap_string(), "22,1194,6000");
    }

    #[test]
    fn parse_errors() {
        assert_eq!(err("70000"), "invalid port \"70000\": ports are 0-65535");
        assert_eq!(
            err("1-70000"),
            "invalid port \"1-70000\": ports are 0-65535"
        );
        assert_eq!(
            err("99999999999999"),
            "invalid port \"99999999999999\": ports are 0-65535"
        );
        assert_eq!(err("200-100"), "reversed port range \"200-100\"");
        assert_eq!(err("22,,80"), "empty item in port list \"22,,80\"");
        assert_eq!(err("22,"), "empty item in port list \"22,\"");
        assert_eq!(err("T:"), "empty item in port list \"T:\"");
        assert_eq!(err(""), "empty port list");
        assert_eq!(
            err("nosuchservice"),
            "unknown service name \"nosuchservice\""
        );
        assert_eq!(
            err("T:snmptrap-nope"),
            "unknown service name \"snmptrap-nope\" for tcp"
        );
        assert_eq!(err("1-2-3"), "invalid port \"1-2-3\": more than one '-'");
        assert_eq!(
            err("80;81"),
            "invalid port \"80;81\": not a port, range or service name"
        );
        assert_eq!(
            err("http*"),
            "invalid port \"http*\": service name wildcards are not supported"
        );
        assert_eq!(
            err("X:80"),
            "invalid port \"X:80\": unknown protocol prefix (use T: or U:)"
        );
        assert_eq!(
            err("S:80"),
            "invalid port \"S:80\": SCTP and IP protocol scans are not supported"
        );
    }
}
