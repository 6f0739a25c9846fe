//! Target specifications: nmap's address forms parsed into compact ranges.
//!
//! Nothing is ever expanded into memory: a `/8` is one [`IpRange`], an octet
//! pattern such as `198.18.0-3.*` is a handful of ranges, and a [`TargetSet`]
//! answers "the i-th address" and "the index of this address" by binary search
//! over its ranges. Host names are handed back unresolved (the CLI resolves
//! them and calls [`cidr`] for `name/24`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpRange {
    V4 { start: u32, end: u32 },
    V6 { start: u128, end: u128 },
}

impl IpRange {
    /// Number of addresses. Saturates at `u128::MAX` for the whole IPv6 space
    /// (`::/0`, which has 2^128 addresses).
    pub fn len(&self) -> u128 {
        match *self {
            IpRange::V4 { start, end } => {
                u128::from(end).saturating_sub(u128::from(start)) + u128::from(start <= end)
            }
            IpRange::V6 { start, end } => {
                if start > end {
                    0
                } else {
                    (end - start).saturating_add(1)
                }
            }
        }
    }

    /// True when `start > end` (never produced by this module).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The range holding exactly `a`.
    pub fn single(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => {
                let v = u32::from(a);
                IpRange::V4 { start: v, end: v }
            }
            IpAddr::V6(a) => {
                let v = u128::from(a);
                IpRange::V6 { start: v, end: v }
            }
        }
    }

    /// Whether `a` (of the same family) lies in the range.
    pub fn contains(&self, a: IpAddr) -> bool {
        match (*self, a) {
            (IpRange::V4 { start, end }, IpAddr::V4(a)) => (start..=end).contains(&u32::from(a)),
            (IpRange::V6 { start, end }, IpAddr::V6(a)) => (start..=end).contains(&u128::from(a)),
            _ => false,
        }
    }

    /// The addresses in both ranges (same family), if any.
    pub fn intersect(&self, other: &IpRange) -> Option<IpRange> {
        match (*self, *other) {
            (IpRange::V4 { start: a, end: b }, IpRange::V4 { start: c, end: d }) => {
                let (s, e) = (a.max(c), b.min(d));
                (s <= e).then_some(IpRange::V4 { start: s, end: e })
            }
            (IpRange::V6 { start: a, end: b }, IpRange::V6 { start: c, end: d }) => {
                let (s, e) = (a.max(c), b.min(d));
                (s <= e).then_some(IpRange::V6 { start: s, end: e })
            }
            _ => None,
        }
    }

    /// The addresses of `self` outside `other`: at most two ranges.
    pub fn minus(&self, other: &IpRange) -> Vec<IpRange> {
        let Some(cut) = self.intersect(other) else {
            return vec![*self];
        };
        let mut out = Vec::new();
        match (*self, cut) {
            (IpRange::V4 { start, end }, IpRange::V4 { start: cs, end: ce }) => {
                if start < cs {
                    out.push(IpRange::V4 { start, end: cs - 1 });
                }
                if ce < end {
                    out.push(IpRange::V4 { start: ce + 1, end });
                }
            }
            (IpRange::V6 { start, end }, IpRange::V6 { start: cs, end: ce }) => {
                if start < cs {
                    out.push(IpRange::V6 { start, end: cs - 1 });
                }
                if ce < end {
                    out.push(IpRange::V6 { start: ce + 1, end });
                }
            }
            _ => out.push(*self),
        }
        out
    }

    /// First address of the range.
    pub fn first(&self) -> IpAddr {
        match *self {
            IpRange::V4 { start, .. } => IpAddr::V4(Ipv4Addr::from(start)),
            IpRange::V6 { start, .. } => IpAddr::V6(Ipv6Addr::from(start)),
        }
    }

    /// Last address of the range.
    pub fn last(&self) -> IpAddr {
        match *self {
            IpRange::V4 { end, .. } => IpAddr::V4(Ipv4Addr::from(end)),
            IpRange::V6 { end, .. } => IpAddr::V6(Ipv6Addr::from(end)),
        }
    }

    /// (family, start, end) with IPv4 sorting before IPv6.
    fn key(&self) -> (u8, u128, u128) {
        match *self {
            IpRange::V4 { start, end } => (4, u128::from(start), u128::from(end)),
            IpRange::V6 { start, end } => (6, start, end),
        }
    }

    fn from_key(family: u8, start: u128, end: u128) -> Self {
        if family == 4 {
            // Keys of family 4 only ever hold u32 values.
            IpRange::V4 {
                start: start as u32,
                end: end as u32,
            }
        } else {
            IpRange::V6 { start, end }
        }
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, last) = (self.first(), self.last());
        if first == last {
            write!(f, "{first}")
        } else {
            write!(f, "{first}-{last}")
        }
    }
}

/// One parsed target argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// Literal addresses: sorted ranges of one family.
    Ranges(Vec<IpRange>),
    /// A host name still to be resolved, with its optional `/prefix`.
    Name { host: String, prefix: Option<u8> },
}

/// Why a target argument was refused. Every variant displays as one line
/// naming the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("empty target")]
    Empty,
    #[error("invalid target {input:?}: {reason}")]
    Invalid { input: String, reason: String },
    #[error("invalid CIDR prefix /{prefix} in {input:?}")]
    Prefix { input: String, prefix: String },
    #[error("reversed range {input:?}")]
    Reversed { input: String },
    #[error("too many ranges in {input:?}: an octet pattern may produce at most {MAX_RANGES}")]
    TooManyRanges { input: String },
}

/// Most ranges one octet pattern may produce.
pub const MAX_RANGES: usize = 1_000_000;

fn invalid(input: &str, reason: impl Into<String>) -> TargetError {
    TargetError::Invalid {
        input: input.to_owned(),
        reason: reason.into(),
    }
}

/// The network `addr/prefix` (host bits ignored) as a range.
pub fn cidr(addr: IpAddr, prefix: u8) -> Result<IpRange, TargetError> {
    match addr {
        IpAddr::V4(a) => {
            if prefix > 32 {
                return Err(TargetError::Prefix {
                    input: format!("{addr}/{prefix}"),
                    prefix: prefix.to_string(),
                });
            }
            let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let v = u32::from(a);
            Ok(IpRange::V4 {
                start: v & !host_bits,
                end: v | host_bits,
            })
        }
        IpAddr::V6(a) => {
            if prefix > 128 {
                return Err(TargetError::Prefix {
                    input: format!("{addr}/{prefix}"),
                    prefix: prefix.to_string(),
                });
            }
            let host_bits = u128::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
            let v = u128::from(a);
            Ok(IpRange::V6 {
                start: v & !host_bits,
                end: v | host_bits,
            })
        }
    }
}

/// Parse one target argument in any of nmap's forms:
/// `198.18.0.1`, `198.18.0.0/24`, `198.18.0.1-20`, `198.18.0-3.1-20`,
/// `198.18.*.1`, `198.18.0.1,3,5`, `198.18.0.1-198.18.1.5`, `fd00::1`,
/// `fd18::/120`, `fd00::1-fd00::ff`, `[fd00::1]`, `host.example`, `host/24`.
pub fn parse_target(s: &str) -> Result<TargetSpec, TargetError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(TargetError::Empty);
    }
    if input.chars().any(char::is_whitespace) {
        return Err(invalid(input, "contains whitespace"));
    }
    let (body, prefix) = match input.rsplit_once('/') {
        Some((b, p)) => (b, Some(p)),
        None => (input, None),
    };
    if body.is_empty() {
        return Err(invalid(input, "missing address before '/'"));
    }

    // IPv6: bracketed, or anything with a colon.
    if body.starts_with('[') || body.contains(':') {
        let body = match body.strip_prefix('[') {
            Some(rest) => rest
                .strip_suffix(']')
                .ok_or_else(|| invalid(input, "unbalanced '['"))?,
            None => body,
        };
        return parse_v6(input, body, prefix);
    }

    // An IPv4 pattern uses only digits, dots, '-', '*' and ','.
    let v4_chars = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'*' | b','));
    if v4_chars {
        return parse_v4(input, body, prefix);
    }

    parse_name(input, body, prefix)
}

fn parse_prefix(input: &str, p: &str, max: u8) -> Result<u8, TargetError> {
    let bad = || TargetError::Prefix {
        input: input.to_owned(),
        prefix: p.to_owned(),
    };
    if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let v: u8 = p.parse().map_err(|_| bad())?;
    if v > max {
        return Err(bad());
    }
    Ok(v)
}

fn parse_v6(input: &str, body: &str, prefix: Option<&str>) -> Result<TargetSpec, TargetError> {
    let addr = |s: &str| -> Result<u128, TargetError> {
        if s.contains('%') {
            return Err(invalid(input, "IPv6 zone ids are not supported"));
        }
        s.parse::<Ipv6Addr>()
            .map(u128::from)
            .map_err(|_| invalid(input, format!("{s:?} is not an IPv6 address")))
    };
    if let Some((a, b)) = body.split_once('-') {
        if prefix.is_some() {
            return Err(invalid(input, "a range cannot carry a CIDR prefix"));
        }
        let (start, end) = (addr(a)?, addr(b)?);
        if start > end {
            return Err(TargetError::Reversed {
                input: input.to_owned(),
            });
        }
        return Ok(TargetSpec::Ranges(vec![IpRange::V6 { start, end }]));
    }
    let a = Ipv6Addr::from(addr(body)?);
    let range = match prefix {
        Some(p) => cidr(IpAddr::V6(a), parse_prefix(input, p, 128)?)?,
        None => IpRange::single(IpAddr::V6(a)),
    };
    Ok(TargetSpec::Ranges(vec![range]))
}

/// A plain dotted quad with no patterns, or None.
fn plain_v4(s: &str) -> Option<u32> {
    let mut parts = s.split('.');
    let mut v: u32 = 0;
    for _ in 0..4 {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let o: u32 = p.parse().ok()?;
        if o > 255 {
            return None;
        }
        v = (v << 8) | o;
    }
    parts.next().is_none().then_some(v)
}

fn parse_v4(input: &str, body: &str, prefix: Option<&str>) -> Result<TargetSpec, TargetError> {
    // Full range `a.b.c.d-e.f.g.h`.
    if let Some((a, b)) = body.split_once('-') {
        if let (Some(start), Some(end)) = (plain_v4(a), plain_v4(b)) {
            if prefix.is_some() {
                return Err(invalid(input, "a range cannot carry a CIDR prefix"));
            }
            if start > end {
                return Err(TargetError::Reversed {
                    input: input.to_owned(),
                });
            }
            return Ok(TargetSpec::Ranges(vec![IpRange::V4 { start, end }]));
        }
    }

    let parts: Vec<&str> = body.split('.').collect();
    if parts.len() != 4 {
        return Err(invalid(
            input,
            format!("expected 4 octets, found {}", parts.len()),
        ));
    }
    let mut octets: Vec<Vec<(u8, u8)>> = Vec::with_capacity(4);
    for part in &parts {
        octets.push(parse_octet(input, part)?);
    }

    if let Some(p) = prefix {
        let Some(v) = plain_v4(body) else {
            return Err(invalid(
                input,
                "a CIDR prefix needs a plain address, not an octet pattern",
            ));
        };
        let range = cidr(IpAddr::V4(Ipv4Addr::from(v)), parse_prefix(input, p, 32)?)?;
        return Ok(TargetSpec::Ranges(vec![range]));
    }

    expand_octets(input, &octets).map(TargetSpec::Ranges)
}

/// One octet of a pattern: `N`, `N-M`, `*`, or a comma list of those.
/// Returns sorted, merged, inclusive ranges.
fn parse_octet(input: &str, part: &str) -> Result<Vec<(u8, u8)>, TargetError> {
    if part.is_empty() {
        return Err(invalid(input, "empty octet"));
    }
    let num = |s: &str| -> Result<u8, TargetError> {
        if s.is_empty() {
            return Err(invalid(input, "empty octet"));
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(input, format!("bad octet {s:?}")));
        }
        // Any run of digits longer than 3 is out of range; keep the message exact.
        match s.parse::<u32>() {
            Ok(v) if v <= 255 => Ok(v as u8),
            _ => Err(invalid(input, format!("octet {s} out of range"))),
        }
    };
    let mut out: Vec<(u8, u8)> = Vec::new();
    for item in part.split(',') {
        let (lo, hi) = if item == "*" {
            (0, 255)
        } else if let Some((a, b)) = item.split_once('-') {
            let lo = if a.is_empty() { 0 } else { num(a)? };
            let hi = if b.is_empty() { 255 } else { num(b)? };
            if lo > hi {
                return Err(TargetError::Reversed {
                    input: input.to_owned(),
                });
            }
            (lo, hi)
        } else {
            let v = num(item)?;
            (v, v)
        };
        out.push((lo, hi));
    }
    out.sort_unstable();
    let mut merged: Vec<(u8, u8)> = Vec::with_capacity(out.len());
    for (lo, hi) in out {
        match merged.last_mut() {
            Some(last) if u16::from(lo) <= u16::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    Ok(merged)
}

/// The product of four octet sets as merged address ranges.
fn expand_octets(input: &str, octets: &[Vec<(u8, u8)>]) -> Result<Vec<IpRange>, TargetError> {
    // Octets after the last non-full one are wildcards: each value of the
    // leading octets times each range of the last non-full octet is one run.
    let is_full = |o: &Vec<(u8, u8)>| o.as_slice() == [(0, 255)];
    let Some(k) = octets.iter().rposition(|o| !is_full(o)) else {
        return Ok(vec![IpRange::V4 {
            start: 0,
            end: u32::MAX,
        }]);
    };
    let shift = 8 * (3 - k as u32);
    let low_mask: u32 = (1u32 << shift) - 1;

    let mut out: Vec<IpRange> = Vec::new();
    let mut push = |start: u32, end: u32| -> Result<(), TargetError> {
        if let Some(IpRange::V4 { end: last_end, .. }) = out.last_mut() {
            if last_end.checked_add(1) == Some(start) {
                *last_end = end;
                return Ok(());
            }
        }
        if out.len() >= MAX_RANGES {
            return Err(TargetError::TooManyRanges {
                input: input.to_owned(),
            });
        }
        out.push(IpRange::V4 { start, end });
        Ok(())
    };

    // Odometer over the values of the octets before k.
    let leading = &octets[..k];
    let mut idx = vec![(0usize, 0u16); k]; // (range index, offset within range)
    loop {
        let mut base: u32 = 0;
        for (i, o) in leading.iter().enumerate() {
            let (ri, off) = idx[i];
            let v = u32::from(o[ri].0) + u32::from(off);
            base |= v << (8 * (3 - i as u32));
        }
        for &(lo, hi) in &octets[k] {
            let start = base | (u32::from(lo) << shift);
            let end = base | (u32::from(hi) << shift) | low_mask;
            push(start, end)?;
        }
        // Advance the odometer, last leading octet fastest.
        let mut i = k;
        loop {
            if i == 0 {
                return Ok(out);
            }
            i -= 1;
            let (ri, off) = idx[i];
            let (lo, hi) = leading[i][ri];
            if u16::from(lo) + off < u16::from(hi) {
                idx[i].1 += 1;
                break;
            } else if ri + 1 < leading[i].len() {
                idx[i] = (ri + 1, 0);
                break;
            } else {
                idx[i] = (0, 0);
            }
        }
    }
}

fn parse_name(input: &str, body: &str, prefix: Option<&str>) -> Result<TargetSpec, TargetError> {
    let host = body.strip_suffix('.').unwrap_or(body);
    if host.len() > 253 {
        return Err(invalid(input, "host name longer than 253 characters"));
    }
    let labels: Vec<&str> = host.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(invalid(input, "empty label in host name"));
        }
        if label.len() > 63 {
            return Err(invalid(input, "host name label longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(invalid(input, format!("character {c:?} not allowed")));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(
                input,
                "a host name label cannot begin or end with '-'",
            ));
        }
    }
    let prefix = match prefix {
        Some(p) => Some(parse_prefix(input, p, 128)?),
        None => None,
    };
    Ok(TargetSpec::Name {
        host: host.to_owned(),
        prefix,
    })
}

/// A deduplicated set of addresses: sorted, merged, non-overlapping ranges
/// (all IPv4 before all IPv6) plus the index of each range's first address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSet {
    ranges: Vec<IpRange>,
    /// `offsets[i]` = number of addresses in `ranges[..i]` (saturating).
    offsets: Vec<u128>,
    total: u128,
}

/// Sort and merge overlapping or adjacent keyed ranges.
fn normalize(r: &[IpRange]) -> Vec<(u8, u128, u128)> {
    let mut keys: Vec<(u8, u128, u128)> = r
        .iter()
        .map(IpRange::key)
        .filter(|(_, s, e)| s <= e)
        .collect();
    keys.sort_unstable();
    let mut out: Vec<(u8, u128, u128)> = Vec::with_capacity(keys.len());
    for (f, s, e) in keys {
        match out.last_mut() {
            Some(last) if last.0 == f && (last.2 >= s || last.2 + 1 == s) => {
                last.2 = last.2.max(e);
            }
            _ => out.push((f, s, e)),
        }
    }
    out
}

impl TargetSet {
    /// Union of `include` minus union of `exclude`.
    pub fn new(include: &[IpRange], exclude: &[IpRange]) -> TargetSet {
        let inc = normalize(include);
        let exc = normalize(exclude);
        let mut ranges = Vec::with_capacity(inc.len());
        let mut j = 0;
        for (f, s, e) in inc {
            let mut cur = s;
            let mut alive = true;
            // Skip excludes wholly before this range.
            while j < exc.len() && (exc[j].0, exc[j].2) < (f, s) {
                j += 1;
            }
            let mut k = j;
            while alive && k < exc.len() && exc[k].0 == f && exc[k].1 <= e {
                let (_, xs, xe) = exc[k];
                if xe >= cur {
                    if xs > cur {
                        ranges.push(IpRange::from_key(f, cur, xs - 1));
                    }
                    if xe >= e {
                        alive = false;
                    } else {
                        cur = xe + 1;
                    }
                }
                k += 1;
            }
            if alive {
                ranges.push(IpRange::from_key(f, cur, e));
            }
            // An exclude reaching past `e` may cut the next include too:
            // leave `j` where it is (its end is >= s).
        }
        let mut offsets = Vec::with_capacity(ranges.len());
        let mut total: u128 = 0;
        for r in &ranges {
            offsets.push(total);
            total = total.saturating_add(r.len());
        }
        TargetSet {
            ranges,
            offsets,
            total,
        }
    }

    /// Number of addresses (saturates at `u128::MAX`).
    pub fn len(&self) -> u128 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The `index`-th address in set order.
    pub fn get(&self, index: u64) -> Option<IpAddr> {
        let index = u128::from(index);
        if index >= self.total {
            return None;
        }
        let i = self.offsets.partition_point(|&o| o <= index) - 1;
        let off = index - self.offsets[i];
        Some(match self.ranges[i] {
            IpRange::V4 { start, .. } => IpAddr::V4(Ipv4Addr::from(start + off as u32)),
            IpRange::V6 { start, .. } => IpAddr::V6(Ipv6Addr::from(start + off)),
        })
    }

    /// Position of `addr` in set order; inverse of [`TargetSet::get`].
    /// None when absent or beyond `u64` positions.
    pub fn index_of(&self, addr: IpAddr) -> Option<u64> {
        let key = match addr {
            IpAddr::V4(a) => (4u8, u128::from(u32::from(a))),
            IpAddr::V6(a) => (6u8, u128::from(a)),
        };
        let i = self
            .ranges
            .partition_point(|r| {
                let (f, s, _) = r.key();
                (f, s) <= key
            })
            .checked_sub(1)?;
        let (f, s, e) = self.ranges[i].key();
        if f != key.0 || key.1 > e {
            return None;
        }
        u64::try_from(self.offsets[i].checked_add(key.1 - s)?).ok()
    }

    /// Whether `addr` is in the set.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let key = match addr {
            IpAddr::V4(a) => (4u8, u128::from(u32::from(a))),
            IpAddr::V6(a) => (6u8, u128::from(a)),
        };
        let i = self.ranges.partition_point(|r| {
            let (f, s, _) = r.key();
            (f, s) <= key
        });
        i > 0 && self.ranges[i - 1].contains(addr)
    }

    /// The merged ranges, IPv4 first, each family ascending.
    pub fn ranges(&self) -> &[IpRange] {
        &self.ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v4(s: &str) -> u32 {
        u32::from(s.parse::<Ipv4Addr>().unwrap())
    }
    fn v6(s: &str) -> u128 {
        u128::from(s.parse::<Ipv6Addr>().unwrap())
    }
    fn r4(a: &str, b: &str) -> IpRange {
        IpRange::V4 {
            start: v4(a),
            end: v4(b),
        }
    }
    fn r6(a: &str, b: &str) -> IpRange {
        IpRange::V6 {
            start: v6(a),
            end: v6(b),
        }
    }
    fn ranges(s: &str) -> Vec<IpRange> {
        match parse_target(s) {
            Ok(TargetSpec::Ranges(r)) => r,
            other => panic!("{s}: {other:?}"),
        }
    }
    fn err(s: &str) -> String {
        parse_target(s).unwrap_err().to_string()
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn single_v4() {
        assert_eq!(ranges("198.18.0.1"), vec![r4("198.18.0.1", "198.18.0.1")]);
        assert_eq!(ranges(" 198.18.0.1 "), vec![r4("198.18.0.1", "198.18.0.1")]);
    }

    #[test]
    fn cidr_v4() {
        assert_eq!(
            ranges("198.18.0.77/24"),
            vec![r4("198.18.0.0", "198.18.0.255")]
        );
        assert_eq!(
            ranges("198.18.3.4/32"),
            vec![r4("198.18.3.4", "198.18.3.4")]
        );
        assert_eq!(
            ranges("198.18.3.4/15"),
            vec![r4("198.18.0.0", "198.19.255.255")]
        );
        assert_eq!(
            ranges("198.18.3.4/0"),
            vec![r4("0.0.0.0", "255.255.255.255")]
        );
        assert_eq!(ranges("198.18.3.4/0")[0].len(), 1 << 32);
    }

    #[test]
    fn last_octet_range() {
        assert_eq!(
            ranges("198.18.0.1-20"),
            vec![r4("198.18.0.1", "198.18.0.20")]
        );
        assert_eq!(ranges("198.18.0.-5"), vec![r4("198.18.0.0", "198.18.0.5")]);
        assert_eq!(
            ranges("198.18.0.250-"),
            vec![r4("198.18.0.250", "198.18.0.255")]
        );
    }

    #[test]
    fn octet_product() {
        assert_eq!(
            ranges("198.18.0-3.1-20"),
            vec![
                r4("198.18.0.1", "198.18.0.20"),
                r4("198.18.1.1", "198.18.1.20"),
                r4("198.18.2.1", "198.18.2.20"),
                r4("198.18.3.1", "198.18.3.20"),
            ]
        );
        // Trailing wildcards merge into one run.
        assert_eq!(
            ranges("198.18.0-3.*"),
            vec![r4("198.18.0.0", "198.18.3.255")]
        );
        assert_eq!(
            ranges("198.*.*.*"),
            vec![r4("198.0.0.0", "198.255.255.255")]
        );
        assert_eq!(ranges("*.*.*.*"), vec![r4("0.0.0.0", "255.255.255.255")]);
        assert_eq!(
            ranges("198.18.*.7"),
            (0..=255u32)
                .map(|o| IpRange::V4 {
                    start: v4("198.18.0.7") + (o << 8),
                    end: v4("198.18.0.7") + (o << 8),
                })
                .collect::<Vec<_>>()
        );
        // Comma lists, unsorted and overlapping, come out sorted and merged.
        assert_eq!(
            ranges("198.18.0.9,1-3,4,20"),
            vec![
                r4("198.18.0.1", "198.18.0.4"),
                r4("198.18.0.9", "198.18.0.9"),
                r4("198.18.0.20", "198.18.0.20")
            ]
        );
        // Odometer with a comma list in a leading octet.
        assert_eq!(
            ranges("198.18,19.5,7.1"),
            vec![
                r4("198.18.5.1", "198.18.5.1"),
                r4("198.18.7.1", "198.18.7.1"),
                r4("198.19.5.1", "198.19.5.1"),
                r4("198.19.7.1", "198.19.7.1"),
            ]
        );
        // Runs contiguous across an octet boundary merge.
        assert_eq!(
            ranges("198.18.0-1.0-255"),
            vec![r4("198.18.0.0", "198.18.1.255")]
        );
    }

    #[test]
    fn too_many_ranges() {
        assert_eq!(
            err("*.*.*.1"),
            "too many ranges in \"*.*.*.1\": an octet pattern may produce at most 1000000"
        );
        // 2^16 ranges is fine.
        assert_eq!(ranges("198.*.*.1").len(), 65536);
    }

    #[test]
    fn full_range_v4() {
        assert_eq!(
            ranges("198.18.0.1-198.18.1.5"),
            vec![r4("198.18.0.1", "198.18.1.5")]
        );
        assert_eq!(
            err("198.18.1.5-198.18.0.1"),
            "reversed range \"198.18.1.5-198.18.0.1\""
        );
    }

    #[test]
    fn v6_forms() {
        assert_eq!(ranges("fd00::1"), vec![r6("fd00::1", "fd00::1")]);
        assert_eq!(ranges("[fd00::1]"), vec![r6("fd00::1", "fd00::1")]);
        assert_eq!(ranges("fd18::77/120"), vec![r6("fd18::", "fd18::ff")]);
        assert_eq!(ranges("[fd18::77]/120"), vec![r6("fd18::", "fd18::ff")]);
        assert_eq!(ranges("fd00::1-fd00::ff"), vec![r6("fd00::1", "fd00::ff")]);
        assert_eq!(ranges("::/0")[0].len(), u128::MAX);
        assert_eq!(ranges("fd00::/64")[0].len(), 1 << 64);
        assert_eq!(
            ranges("::ffff:198.18.0.1"),
            vec![r6("::ffff:198.18.0.1", "::ffff:198.18.0.1")]
        );
    }

    #[test]
    fn names() {
        assert_eq!(
            parse_target("scanme.example").unwrap(),
            TargetSpec::Name {
                host: "scanme.example".into(),
                prefix: None
            }
        );
        assert_eq!(
            parse_target("lab-host1/24").unwrap(),
            TargetSpec::Name {
                host: "lab-host1".into(),
                prefix: Some(24)
            }
        );
        assert_eq!(
            parse_target("localhost.").unwrap(),
            TargetSpec::Name {
                host: "localhost".into(),
                prefix: None
            }
        );
        assert_eq!(
            parse_target("v6host/64").unwrap(),
            TargetSpec::Name {
                host: "v6host".into(),
                prefix: Some(64)
            }
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("198.18.0.300"),
            "invalid target \"198.18.0.300\": octet 300 out of range"
        );
        assert_eq!(
            err("198.18.0.0/33"),
            "invalid CIDR prefix /33 in \"198.18.0.0/33\""
        );
        assert_eq!(
            err("198.18.0.0/"),
            "invalid CIDR prefix / in \"198.18.0.0/\""
        );
        assert_eq!(
            err("198.18.0.0/x"),
            "invalid CIDR prefix /x in \"198.18.0.0/x\""
        );
        assert_eq!(
            err("fd00::/129"),
            "invalid CIDR prefix /129 in \"fd00::/129\""
        );
        assert_eq!(err("host/200"), "invalid CIDR prefix /200 in \"host/200\"");
        assert_eq!(err("198.18.0.20-1"), "reversed range \"198.18.0.20-1\"");
        assert_eq!(err("198.18.5-3.1"), "reversed range \"198.18.5-3.1\"");
        assert_eq!(err("fd00::9-fd00::1"), "reversed range \"fd00::9-fd00::1\"");
        assert_eq!(err(""), "empty target");
        assert_eq!(err("   "), "empty target");
        assert_eq!(
            err("198.18.0"),
            "invalid target \"198.18.0\": expected 4 octets, found 3"
        );
        assert_eq!(
            err("198.18..1"),
            "invalid target \"198.18..1\": empty octet"
        );
        assert_eq!(
            err("198.18.0.1,"),
            "invalid target \"198.18.0.1,\": empty octet"
        );
        assert_eq!(
            err("198.18.0.99999999999"),
            "invalid target \"198.18.0.99999999999\": octet 99999999999 out of range"
        );
        assert_eq!(err("198.18.0-3.1/24"), "invalid target \"198.18.0-3.1/24\": a CIDR prefix needs a plain address, not an octet pattern");
        assert_eq!(
            err("fd00::g"),
            "invalid target \"fd00::g\": \"fd00::g\" is not an IPv6 address"
        );
        assert_eq!(
            err("[fd00::1"),
            "invalid target \"[fd00::1\": unbalanced '['"
        );
        assert_eq!(
            err("fe80::1%eth0"),
            "invalid target \"fe80::1%eth0\": IPv6 zone ids are not supported"
        );
        assert_eq!(
            err("198.18.0.1-fd00::1"),
            "invalid target \"198.18.0.1-fd00::1\": \"198.18.0.1\" is not an IPv6 address"
        );
        assert_eq!(
            err("bad_name"),
            "invalid target \"bad_name\": character '_' not allowed"
        );
        assert_eq!(
            err("-host"),
            "invalid target \"-host\": a host name label cannot begin or end with '-'"
        );
        assert_eq!(
            err("a..b"),
            "invalid target \"a..b\": empty label in host name"
        );
        assert_eq!(err("a b"), "invalid target \"a b\": contains whitespace");
        assert_eq!(
            err("/24"),
            "invalid target \"/24\": missing address before '/'"
        );
        let long = "a".repeat(64);
        assert_eq!(
            err(&long),
            format!("invalid target \"{long}\": host name label longer than 63 characters")
        );
        assert_eq!(
            cidr(ip("198.18.0.1"), 40).unwrap_err().to_string(),
            "invalid CIDR prefix /40 in \"198.18.0.1/40\""
        );
    }

    #[test]
    fn cidr_fn() {
        assert_eq!(
            cidr(ip("198.18.7.9"), 24).unwrap(),
            r4("198.18.7.0", "198.18.7.255")
        );
        assert_eq!(
            cidr(ip("fd00::1234"), 112).unwrap(),
            r6("fd00::", "fd00::ffff")
        );
        assert_eq!(
            cidr(ip("fd00::1234"), 128).unwrap(),
            r6("fd00::1234", "fd00::1234")
        );
    }

    #[test]
    fn range_helpers() {
        let r = r4("198.18.0.10", "198.18.0.20");
        assert_eq!(r.len(), 11);
        assert!(r.contains(ip("198.18.0.10")));
        assert!(r.contains(ip("198.18.0.20")));
        assert!(!r.contains(ip("198.18.0.21")));
        assert!(!r.contains(ip("fd00::1")));
        assert_eq!(IpRange::single(ip("fd00::1")), r6("fd00::1", "fd00::1"));
        assert_eq!(r.to_string(), "198.18.0.10-198.18.0.20");
        assert_eq!(r6("fd00::1", "fd00::1").to_string(), "fd00::1");
    }

    #[test]
    fn set_merges_and_orders() {
        let set = TargetSet::new(
            &[
                r6("fd00::10", "fd00::1f"),
                r4("198.18.0.10", "198.18.0.20"),
                r4("198.18.0.15", "198.18.0.30"),
                r4("198.18.0.31", "198.18.0.31"),
                r6("fd00::1", "fd00::f"),
                r4("198.18.0.1", "198.18.0.1"),
            ],
            &[],
        );
        assert_eq!(
            set.ranges(),
            &[
                r4("198.18.0.1", "198.18.0.1"),
                r4("198.18.0.10", "198.18.0.31"),
                r6("fd00::1", "fd00::1f"),
            ]
        );
        assert_eq!(set.len(), 1 + 22 + 31);
        assert_eq!(set.get(0), Some(ip("198.18.0.1")));
        assert_eq!(set.get(1), Some(ip("198.18.0.10")));
        assert_eq!(set.get(22), Some(ip("198.18.0.31")));
        assert_eq!(set.get(23), Some(ip("fd00::1")));
        assert_eq!(set.get(53), Some(ip("fd00::1f")));
        assert_eq!(set.get(54), None);
        assert_eq!(set.index_of(ip("fd00::1")), Some(23));
        assert_eq!(set.index_of(ip("198.18.0.2")), None);
        assert_eq!(set.index_of(ip("198.18.0.0")), None);
        assert_eq!(set.index_of(ip("fd00::20")), None);
        assert_eq!(set.index_of(ip("::1")), None);
        assert!(set.contains(ip("198.18.0.31")));
        assert!(!set.contains(ip("198.18.0.32")));
    }

    #[test]
    fn excludes_split_ranges() {
        let set = TargetSet::new(
            &[
                r4("198.18.0.0", "198.18.0.255"),
                r4("198.18.2.0", "198.18.2.9"),
            ],
            &[
                r4("198.18.0.10", "198.18.0.19"),
                r4("198.18.0.100", "198.18.0.100"),
                r4("198.18.0.250", "198.18.2.1"),
                r4("198.18.2.9", "198.18.2.9"),
                r6("fd00::", "fd00::ff"),
            ],
        );
        assert_eq!(
            set.ranges(),
            &[
                r4("198.18.0.0", "198.18.0.9"),
                r4("198.18.0.20", "198.18.0.99"),
                r4("198.18.0.101", "198.18.0.249"),
                r4("198.18.2.2", "198.18.2.8"),
            ]
        );
        assert_eq!(set.len(), 10 + 80 + 149 + 7);
        // Everything excluded.
        let none = TargetSet::new(
            &[r4("198.18.0.5", "198.18.0.6")],
            &[r4("198.18.0.0", "198.18.0.255")],
        );
        assert!(none.is_empty());
        assert_eq!(none.get(0), None);
        // Exclude at the very top of the space.
        let top = TargetSet::new(
            &[
                r4("255.255.255.250", "255.255.255.255"),
                r6(
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0",
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                ),
            ],
            &[
                r4("255.255.255.254", "255.255.255.255"),
                r6(
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                ),
            ],
        );
        assert_eq!(top.len(), 4 + 15);
    }

    #[test]
    fn whole_v6_space_saturates() {
        let set = TargetSet::new(
            &[
                r6("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                r4("198.18.0.0", "198.18.0.0"),
            ],
            &[],
        );
        assert_eq!(set.len(), u128::MAX);
        assert_eq!(set.get(1), Some(ip("::")));
        assert_eq!(set.index_of(ip("::5")), Some(6));
        assert_eq!(set.index_of(ip("ffff::")), None); // beyond u64 positions
    }

    fn arb_range() -> impl Strategy<Value = IpRange> {
        prop_oneof![
            (0u32..4096, 0u32..300).prop_map(|(s, l)| IpRange::V4 {
                start: 0xC612_0000 + s,
                end: 0xC612_0000 + s + l
            }),
            (0u128..4096, 0u128..300).prop_map(|(s, l)| IpRange::V6 {
                start: (0xfd00u128 << 112) + s,
                end: (0xfd00u128 << 112) + s + l
            }),
        ]
    }

    fn naive_contains(inc: &[IpRange], exc: &[IpRange], a: IpAddr) -> bool {
        inc.iter().any(|r| r.contains(a)) && !exc.iter().any(|r| r.contains(a))
    }

    proptest! {
        #[test]
        fn get_index_of_roundtrip(
            inc in proptest::collection::vec(arb_range(), 0..8),
            exc in proptest::collection::vec(arb_range(), 0..8),
            picks in proptest::collection::vec(any::<u64>(), 1..32),
        ) {
            let set = TargetSet::new(&inc, &exc);
            // Ranges are sorted, disjoint and non-adjacent, v4 first.
            for w in set.ranges().windows(2) {
                let (a, b) = (w[0].key(), w[1].key());
                prop_assert!(a.0 < b.0 || (a.0 == b.0 && a.2 + 1 < b.1));
            }
            let total = u64::try_from(set.len()).unwrap();
            let mut count = 0u64;
            for r in set.ranges() { count += u64::try_from(r.len()).unwrap(); }
            prop_assert_eq!(count, total);
            for p in picks {
                if total == 0 {
                    prop_assert_eq!(set.get(p), None);
                    continue;
                }
                let i = p % total;
                let a = set.get(i).unwrap();
                prop_assert_eq!(set.index_of(a), Some(i));
                prop_assert!(naive_contains(&inc, &exc, a));
                if i > 0 {
                    let prev = set.get(i - 1).unwrap();
                    let ord = |x: IpAddr| match x { IpAddr::V4(v) => (4u8, u128::from(u32::from(v))), IpAddr::V6(v) => (6u8, u128::from(v)) };
                    prop_assert!(ord(prev) < ord(a));
                }
            }
            prop_assert_eq!(set.get(total), None);
        }

        #[test]
        fn membership_matches_naive(
            inc in proptest::collection::vec(arb_range(), 0..8),
            exc in proptest::collection::vec(arb_range(), 0..8),
            off in 0u32..4500,
            six in any::<bool>(),
        ) {
            let set = TargetSet::new(&inc, &exc);
            let a = if six {
                IpAddr::V6(Ipv6Addr::from((0xfd00u128 << 112) + u128::from(off)))
            } else {
                IpAddr::V4(Ipv4Addr::from(0xC612_0000 + off))
            };
            let want = naive_contains(&inc, &exc, a);
            prop_assert_eq!(set.contains(a), want);
            prop_assert_eq!(set.index_of(a).is_some(), want);
            if let Some(i) = set.index_of(a) {
                prop_assert_eq!(set.get(i), Some(a));
            }
        }

        #[test]
        fn parse_never_panics(s in "[0-9a-f.:/*,\\-\\[\\]]{0,40}") {
            let _ = parse_target(&s);
        }
    }

    #[test]
    fn ranges_intersect_and_subtract() {
        let r = |a: &str, b: &str| IpRange::V4 {
            start: u32::from(a.parse::<Ipv4Addr>().unwrap()),
            end: u32::from(b.parse::<Ipv4Addr>().unwrap()),
        };
        let t = r("198.18.0.0", "198.18.1.255");
        let s = r("198.18.1.0", "198.18.1.255");
        assert_eq!(t.intersect(&s), Some(s));
        assert_eq!(t.minus(&s), vec![r("198.18.0.0", "198.18.0.255")]);
        let mid = r("198.18.0.10", "198.18.0.10");
        assert_eq!(
            t.minus(&mid),
            vec![
                r("198.18.0.0", "198.18.0.9"),
                r("198.18.0.11", "198.18.1.255")
            ]
        );
        assert_eq!(s.minus(&t), vec![]);
        assert_eq!(mid.intersect(&r("198.18.2.0", "198.18.2.9")), None);
        let v6 = IpRange::single("fd00::1".parse().unwrap());
        assert_eq!(v6.intersect(&t), None);
        assert_eq!(v6.minus(&t), vec![v6]);
    }
}
