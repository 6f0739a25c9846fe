//! Matching responses against a probe file's `match` and `softmatch` lines.
//!
//! # The regex engine: PCRE2, chosen by measurement
//!
//! nmap's patterns are PCRE over bytes: lookaround, atomic groups,
//! back-references, `\0dd` octal, `\xHH`. Three crates were measured on
//! Debian's `nmap-service-probes` (11,917 lines; `examples/regex_compare.rs`,
//! numbers in `bench/RESULTS.md`):
//!
//! | crate | compiled | compile | all lines, one response (median / worst) |
//! |---|---|---|---|
//! | `pcre2` 0.2 (bundled PCRE2 10.46, JIT) | 11,917 / 11,917 | 226 ms | 2.5 ms / 4.1 ms |
//! | `fancy-regex` 0.20, bytes mode, translated | 11,917 / 11,917 | 845 ms | 3.9 ms / 83 ms |
//! | `regex::bytes` 1, translated | 11,130 / 11,917 | 771 ms | 0.9 ms / 3.8 ms |
//!
//! `regex` cannot express 787 of the lines (among them OpenSSH's), so it is
//! out. `fancy-regex` compiles them all once translated, but its backtracking
//! VM is twenty times slower on HTTP responses (the lines that survive the
//! index below are exactly those: `^HTTP/1\.[01] .*\r\nServer: …` with the
//! `s` flag), and takes four times as long to compile the file. PCRE2 is the
//! engine nmap itself moved to; it needs no translation of nmap's syntax at
//! all in its non-UTF mode (`\0`, `\0dd`, `\xH`, `[\0-\x1f]`, `\<`, `$` mean
//! there what they mean in nmap), and it takes nmap's limits inside the
//! pattern: every line is compiled as `(*LIMIT_MATCH=50000)(*LIMIT_DEPTH=1000)`
//! followed by the line's pattern (the JIT honours the match limit; its own
//! 32 KiB stack bounds the depth). The only change made to a pattern: the
//! crate takes text, so a pattern that is not UTF-8 has its bytes ≥ 0x80
//! written as `\xHH` (the same bytes to PCRE2 without UTF).
//!
//! # The index
//!
//! Running every line of a probe costs milliseconds per response; nearly
//! every line starts with `^` and a literal, and most name another literal
//! further on (`\r\nServer: nginx/`). [`required`] reads both from the
//! pattern (conservatively: any construct it is unsure of ends the literal,
//! so no line that could match is ever skipped). The inner literals of all
//! lines go into two Aho-Corasick automata (exact and ASCII
//! case-insensitive), run once per response: the literals found give the
//! lines that need them. A probe's other lines are bucketed by the first
//! byte of their prefix (case-folded); the few with neither are always
//! tried. The three ascending lists are merged, so lines still run in file
//! order, and a line runs its regex only when the response starts with its
//! prefix and holds its inner literal. Measured on nmap's file: 13 µs
//! median, 45 µs p90 for one response against all 11,917 lines.

use std::collections::HashMap;
use std::fmt;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use pcre2::bytes::{Regex, RegexBuilder};

use crate::probes::{Match, ProbeDb, Proto};
use crate::template::{Part, Template};

/// nmap's limits on one match: steps and nesting depth.
const LIMITS: &str = "(*LIMIT_MATCH=50000)(*LIMIT_DEPTH=1000)";

/// Length caps of the version fields, as nmap's buffers have them.
pub const PRODUCT_MAX: usize = 80;
pub const VERSION_MAX: usize = 80;
pub const INFO_MAX: usize = 256;
pub const HOSTNAME_MAX: usize = 80;
pub const OSTYPE_MAX: usize = 32;
pub const DEVICETYPE_MAX: usize = 32;
pub const CPE_MAX: usize = 80;

/// A match line whose pattern does not compile: skipped, and reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// Its line in the probe file.
    pub line: usize,
    pub service: String,
    /// PCRE2's message.
    pub msg: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: the pattern of {} does not compile: {}",
            self.line, self.service, self.msg
        )
    }
}

impl std::error::Error for PatternError {}

/// The matcher could not be built at all (its index is too large).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError(pub String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot build the matcher's index: {}", self.0)
    }
}

impl std::error::Error for BuildError {}

/// A line that matched, its templates filled in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Found {
    pub service: String,
    /// A softmatch: the service is known, not its version.
    pub soft: bool,
    pub product: Option<String>,
    pub version: Option<String>,
    pub info: Option<String>,
    pub hostname: Option<String>,
    pub ostype: Option<String>,
    pub devicetype: Option<String>,
    /// `cpe:/a:…`, lower-cased, spaces as `_`.
    pub cpe: Vec<String>,
    /// The match line in the probe file.
    pub line: usize,
}

/// What every subject a pattern matches must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Required {
    /// Bytes the subject starts with (lower-cased for an `i` pattern).
    pub prefix: Vec<u8>,
    /// Bytes the subject contains somewhere (lower-cased likewise); not the
    /// prefix. Empty: none known.
    pub inner: Vec<u8>,
}

/// The literals a pattern requires: the run right after a leading `^`, and
/// the longest other run of literal bytes in its top-level sequence.
///
/// Sound by construction: a top-level `|`, `\Q`, a `(*VERB)` or anything
/// not understood gives nothing (or ends the reading); a quantified atom,
/// a class, a group, an escape class or an assertion ends a run; bare flag
/// groups (`(?i)`) end the reading, since they change what follows.
pub fn required(p: &[u8], ci: bool) -> Required {
    let mut out = Required::default();
    if !sequence_only(p) {
        return out;
    }
    let anchored = p.first() == Some(&b'^');
    let mut i = usize::from(anchored);
    let mut run: Vec<u8> = Vec::new();
    let mut at_start = anchored;
    let mut flush = |run: &mut Vec<u8>, at_start: &mut bool| {
        if *at_start {
            out.prefix = std::mem::take(run);
        } else if run.len() > out.inner.len() {
            out.inner = std::mem::take(run);
        }
        run.clear();
        *at_start = false;
    };
    while i < p.len() {
        let Some((lit, next)) = atom(p, i) else {
            break;
        };
        if let Some(after) = quantifier(p, next) {
            flush(&mut run, &mut at_start);
            i = after;
            continue;
        }
        match lit {
            Some(b) => run.push(if ci { b.to_ascii_lowercase() } else { b }),
            None => flush(&mut run, &mut at_start),
        }
        i = next;
    }
    flush(&mut run, &mut at_start);
    out
}

/// No top-level alternation, no `\Q…\E`, no `(*VERB)`, balanced.
fn sequence_only(p: &[u8]) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' => {
                if p.get(i + 1) == Some(&b'Q') {
                    return false;
                }
                i += 2;
            }
            b'[' => match skip_class(p, i) {
                Some(e) => i = e,
                None => return false,
            },
            b'(' => {
                if p.get(i + 1) == Some(&b'*') {
                    return false;
                }
                depth += 1;
                i += 1;
            }
            b')' => {
                let Some(d) = depth.checked_sub(1) else {
                    return false;
                };
                depth = d;
                i += 1;
            }
            b'|' if depth == 0 => return false,
            _ => i += 1,
        }
    }
    depth == 0
}

/// One atom at `i`: `Some((Some(byte), next))` a literal byte,
/// `Some((None, next))` anything else, `None`: stop reading.
fn atom(p: &[u8], i: usize) -> Option<(Option<u8>, usize)> {
    match p[i] {
        b'\\' => escape(p, i + 1),
        b'[' => Some((None, skip_class(p, i)?)),
        b'(' => {
            if bare_flags(p, i) {
                return None;
            }
            Some((None, skip_group(p, i)?))
        }
        b'.' | b'$' | b'^' => Some((None, i + 1)),
        b')' | b'|' | b'*' | b'+' | b'?' => None,
        b'{' if quantifier(p, i).is_some() => None,
        b => Some((Some(b), i + 1)),
    }
}

/// An escape; `i` is just past the backslash.
fn escape(p: &[u8], i: usize) -> Option<(Option<u8>, usize)> {
    let c = *p.get(i)?;
    let i = i + 1;
    let lit = |b: u8| Some((Some(b), i));
    match c {
        b'0' => {
            let mut v = 0u32;
            let mut j = i;
            while j < p.len() && j < i + 2 && (b'0'..=b'7').contains(&p[j]) {
                v = v * 8 + u32::from(p[j] - b'0');
                j += 1;
            }
            Some((Some(v as u8), j))
        }
        b'1'..=b'9' => {
            let mut j = i;
            while j < p.len() && p[j].is_ascii_digit() {
                j += 1;
            }
            Some((None, j))
        }
        b'x' => {
            if p.get(i) == Some(&b'{') {
                let end = i + p[i..].iter().position(|b| *b == b'}')?;
                let v = std::str::from_utf8(&p[i + 1..end])
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())?;
                return Some((u8::try_from(v).ok(), end + 1));
            }
            let mut v = 0u32;
            let mut j = i;
            while j < p.len() && j < i + 2 && p[j].is_ascii_hexdigit() {
                v = v * 16 + (p[j] as char).to_digit(16).unwrap_or(0);
                j += 1;
            }
            Some((Some(v as u8), j))
        }
        b'n' => lit(b'\n'),
        b'r' => lit(b'\r'),
        b't' => lit(b'\t'),
        b'f' => lit(0x0c),
        b'e' => lit(0x1b),
        b'a' => lit(0x07),
        b'c' => (i < p.len()).then_some((None, i + 1)),
        // Forms with a braced or bracketed argument.
        b'p' | b'P' | b'N' | b'o' | b'g' | b'k' => {
            let close = match p.get(i) {
                Some(b'{') => b'}',
                Some(b'<') => b'>',
                Some(b'\'') => b'\'',
                _ if c == b'p' || c == b'P' => return Some((None, i + 1)),
                _ if c == b'g' => {
                    let mut j = i;
                    if matches!(p.get(j), Some(b'-' | b'+')) {
                        j += 1;
                    }
                    while j < p.len() && p[j].is_ascii_digit() {
                        j += 1;
                    }
                    return (j > i).then_some((None, j));
                }
                _ if c == b'N' => return Some((None, i)),
                _ => return None,
            };
            let end = i + 1 + p[i + 1..].iter().position(|b| *b == close)?;
            Some((None, end + 1))
        }
        b'Q' => None,
        c if c.is_ascii_alphanumeric() => Some((None, i)),
        c => lit(c),
    }
}

/// `(?i)`, `(?-s)`, `(?^)`: flags for the rest of the sequence.
fn bare_flags(p: &[u8], i: usize) -> bool {
    if p.get(i + 1) != Some(&b'?') {
        return false;
    }
    let mut j = i + 2;
    while j < p.len() && (p[j].is_ascii_alphabetic() || p[j] == b'-' || p[j] == b'^') {
        j += 1;
    }
    p.get(j) == Some(&b')')
}

/// A quantifier at `i` (with its lazy or possessive mark): the index after.
fn quantifier(p: &[u8], i: usize) -> Option<usize> {
    let end = match p.get(i)? {
        b'*' | b'+' | b'?' => i + 1,
        b'{' => {
            let close = i + 1 + p[i + 1..].iter().position(|b| *b == b'}')?;
            let body = &p[i + 1..close];
            let ok = body.iter().any(u8::is_ascii_digit)
                && body
                    .iter()
                    .all(|b| b.is_ascii_digit() || *b == b',' || *b == b' ');
            if !ok {
                return None;
            }
            close + 1
        }
        _ => return None,
    };
    Some(match p.get(end) {
        Some(b'?' | b'+') => end + 1,
        _ => end,
    })
}

/// The end of the class opening at `i` (just past its `]`).
fn skip_class(p: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if p.get(j) == Some(&b'^') {
        j += 1;
    }
    if p.get(j) == Some(&b']') {
        j += 1;
    }
    while j < p.len() {
        match p[j] {
            b'\\' => j += 2,
            b'[' if matches!(p.get(j + 1), Some(b':' | b'.' | b'=')) => {
                let kind = p[j + 1];
                let name_end =
                    (j + 2..p.len()).find(|&k| !(p[k].is_ascii_alphabetic() || p[k] == b'^'));
                match name_end {
                    Some(k) if p[k] == kind && p.get(k + 1) == Some(&b']') => j = k + 2,
                    _ => j += 1,
                }
            }
            b']' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// The end of the group opening at `i` (just past its `)`).
fn skip_group(p: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    while j < p.len() {
        match p[j] {
            b'\\' => j += 2,
            b'[' => j = skip_class(p, j)?,
            b'(' => {
                depth += 1;
                j += 1;
            }
            b')' => {
                depth -= 1;
                j += 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => j += 1,
        }
    }
    None
}

/// The pattern as PCRE2 text, nmap's limits first.
fn pcre2_text(p: &[u8]) -> String {
    let mut s = String::with_capacity(LIMITS.len() + p.len());
    s.push_str(LIMITS);
    match std::str::from_utf8(p) {
        Ok(t) => s.push_str(t),
        Err(_) => {
            for &b in p {
                if b < 0x80 {
                    s.push(b as char);
                } else {
                    s.push_str(&format!("\\x{b:02x}"));
                }
            }
        }
    }
    s
}

/// One compiled line.
struct Line {
    /// Where it is: `db.probes[probe].matches[index]`.
    probe: u32,
    index: u32,
    re: Option<Regex>,
    ci: bool,
    prefix: Box<[u8]>,
    /// An inner literal: its id among the exact (`< exact_count`) or the
    /// case-insensitive literals.
    inner: Option<u32>,
}

/// The lines of one probe, indexed.
struct Group {
    /// Its lines' ids.
    lines: std::ops::Range<u32>,
    /// Lines without an inner literal, by the folded first byte of their
    /// prefix (CSR: bucket `b` is `ids[starts[b]..starts[b + 1]]`),
    /// ascending.
    starts: Box<[u32; 257]>,
    ids: Vec<u32>,
    /// Lines with neither a prefix nor an inner literal: tried for every
    /// response, ascending.
    open: Vec<u32>,
}

/// Compiled match lines of a probe file, indexed by their literals.
pub struct Matcher {
    db: ProbeDb,
    lines: Vec<Line>,
    groups: Vec<Group>,
    /// Per probe: the probes whose lines are tried, in order (itself, its
    /// fallbacks, NULL for TCP).
    chains: Vec<Vec<u32>>,
    exact: Option<AhoCorasick>,
    folded: Option<AhoCorasick>,
    exact_count: u32,
    /// Per inner literal, the lines that require it, ascending.
    by_literal: Vec<Vec<u32>>,
    skipped: Vec<PatternError>,
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher")
            .field("lines", &self.lines.len())
            .field("literals", &self.by_literal.len())
            .field("skipped", &self.skipped.len())
            .finish()
    }
}

/// The lines of the whole file whose inner literal a response holds,
/// ascending (both automata run once per response).
struct Seen {
    lines: Vec<u32>,
}

impl Matcher {
    /// Compiles every match line of `db` and indexes them. A line whose
    /// pattern does not compile is skipped and listed in
    /// [`Matcher::skipped`].
    pub fn new(db: &ProbeDb) -> Result<Matcher, BuildError> {
        let mut lines = Vec::new();
        let mut skipped = Vec::new();
        let mut exact: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut folded: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut inner_of: Vec<Option<(bool, u32)>> = Vec::new();
        let mut groups = Vec::with_capacity(db.probes.len());
        for (pi, probe) in db.probes.iter().enumerate() {
            let first = lines.len() as u32;
            let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); 256];
            let mut open = Vec::new();
            for (mi, m) in probe.matches.iter().enumerate() {
                let id = lines.len() as u32;
                let re = match compile(m) {
                    Ok(re) => Some(re),
                    Err(msg) => {
                        skipped.push(PatternError {
                            line: m.line,
                            service: m.service.clone(),
                            msg,
                        });
                        None
                    }
                };
                let req = required(&m.pattern, m.case_insensitive);
                // Short literals filter little and cost a report each.
                let inner = (req.inner.len() >= 3).then(|| {
                    let (map, ci) = if m.case_insensitive {
                        (&mut folded, true)
                    } else {
                        (&mut exact, false)
                    };
                    let n = map.len() as u32;
                    (ci, *map.entry(req.inner).or_insert(n))
                });
                // A line with an inner literal is found through it; the
                // others by their prefix's first byte, or always.
                if inner.is_none() {
                    match req.prefix.first() {
                        Some(b) => buckets[usize::from(b.to_ascii_lowercase())].push(id),
                        None => open.push(id),
                    }
                }
                inner_of.push(inner);
                lines.push(Line {
                    probe: pi as u32,
                    index: mi as u32,
                    re,
                    ci: m.case_insensitive,
                    prefix: req.prefix.into_boxed_slice(),
                    inner: None,
                });
            }
            let mut starts = Box::new([0u32; 257]);
            let mut ids = Vec::new();
            for (b, bucket) in buckets.iter().enumerate() {
                starts[b] = ids.len() as u32;
                ids.extend_from_slice(bucket);
            }
            starts[256] = ids.len() as u32;
            groups.push(Group {
                lines: first..lines.len() as u32,
                starts,
                ids,
                open,
            });
        }
        let exact_count = exact.len() as u32;
        let mut by_literal = vec![Vec::new(); exact.len() + folded.len()];
        for (id, (line, inner)) in lines.iter_mut().zip(inner_of).enumerate() {
            line.inner = inner.map(|(ci, n)| if ci { exact_count + n } else { n });
            if let Some(lit) = line.inner {
                by_literal[lit as usize].push(id as u32);
            }
        }
        let automaton = |map: HashMap<Vec<u8>, u32>, ci: bool| {
            if map.is_empty() {
                return Ok(None);
            }
            let mut pats = vec![Vec::new(); map.len()];
            for (lit, n) in map {
                pats[n as usize] = lit;
            }
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(ci)
                .build(&pats)
                .map(Some)
                .map_err(|e| BuildError(e.to_string()))
        };
        let exact = automaton(exact, false)?;
        let folded = automaton(folded, true)?;
        let chains = db
            .probes
            .iter()
            .enumerate()
            .map(|(i, p)| chain(db, i, p.proto))
            .collect();
        Ok(Matcher {
            db: db.clone(),
            lines,
            groups,
            chains,
            exact,
            folded,
            exact_count,
            by_literal,
            skipped,
        })
    }

    /// The probe file it was built from.
    pub fn db(&self) -> &ProbeDb {
        &self.db
    }

    /// The lines whose pattern did not compile (skipped).
    pub fn skipped(&self) -> &[PatternError] {
        &self.skipped
    }

    /// How many lines compiled.
    pub fn compiled(&self) -> usize {
        self.lines.len() - self.skipped.len()
    }

    /// The probes whose lines are tried for a response to probe `probe`,
    /// in order: itself, its fallbacks, then NULL (TCP only).
    pub fn chain(&self, probe: usize) -> &[u32] {
        &self.chains[probe]
    }

    /// The first hard match for `response` to probe `probe`, among its
    /// own lines, its fallbacks' and NULL's (TCP), in that order; else the
    /// first softmatch; else nothing.
    pub fn match_response(&self, probe: usize, response: &[u8]) -> Option<Found> {
        let seen = self.seen(response);
        let mut soft: Option<Found> = None;
        for &g in self.chains.get(probe)? {
            let mut hit = None;
            self.each_candidate(g as usize, response, &seen, |id, caps| {
                let line = &self.lines[id as usize];
                let m = self.line_match(line);
                if !m.soft {
                    hit = Some(found(m, response, caps));
                    return true;
                }
                if soft.is_none() {
                    soft = Some(found(m, response, caps));
                }
                false
            });
            if hit.is_some() {
                return hit;
            }
        }
        soft
    }

    /// Every line of the file that matches `response`, in file order (the
    /// index in use: this is what it costs to test a response against the
    /// whole file).
    pub fn matching_lines(&self, response: &[u8]) -> Vec<usize> {
        let seen = self.seen(response);
        let mut out = Vec::new();
        for g in 0..self.groups.len() {
            self.each_candidate(g, response, &seen, |id, _| {
                out.push(self.line_match(&self.lines[id as usize]).line);
                false
            });
        }
        out
    }

    /// The same without the index: every compiled regex is run (to check
    /// the index, and to measure it).
    pub fn matching_lines_unindexed(&self, response: &[u8]) -> Vec<usize> {
        self.lines
            .iter()
            .filter(|l| {
                l.re.as_ref()
                    .is_some_and(|re| re.is_match(response).unwrap_or(false))
            })
            .map(|l| self.line_match(l).line)
            .collect()
    }

    fn line_match(&self, l: &Line) -> &Match {
        &self.db.probes[l.probe as usize].matches[l.index as usize]
    }

    fn seen(&self, buf: &[u8]) -> Seen {
        let mut lits = Vec::new();
        for (ac, base) in [(&self.exact, 0), (&self.folded, self.exact_count)] {
            if let Some(ac) = ac {
                lits.extend(
                    ac.find_overlapping_iter(buf)
                        .map(|m| base + m.pattern().as_u32()),
                );
            }
        }
        lits.sort_unstable();
        lits.dedup();
        let mut lines: Vec<u32> = lits
            .iter()
            .flat_map(|&l| self.by_literal[l as usize].iter().copied())
            .collect();
        lines.sort_unstable();
        Seen { lines }
    }

    /// Calls `f(line id, captures)` for each line of probe `g` that matches
    /// `buf`, in file order, until `f` returns true.
    fn each_candidate(
        &self,
        g: usize,
        buf: &[u8],
        seen: &Seen,
        mut f: impl FnMut(u32, &pcre2::bytes::CaptureLocations) -> bool,
    ) {
        let group = &self.groups[g];
        let bucket: &[u32] = match buf.first() {
            Some(b) => {
                let b = usize::from(b.to_ascii_lowercase());
                &group.ids[group.starts[b] as usize..group.starts[b + 1] as usize]
            }
            None => &[],
        };
        let lo = seen.lines.partition_point(|&id| id < group.lines.start);
        let hi = seen.lines.partition_point(|&id| id < group.lines.end);
        let mut heads: [&[u32]; 3] = [bucket, &group.open, &seen.lines[lo..hi]];
        loop {
            // The smallest id at the head of the three ascending lists.
            let Some(k) = (0..3)
                .filter(|&k| !heads[k].is_empty())
                .min_by_key(|&k| heads[k][0])
            else {
                return;
            };
            let id = heads[k][0];
            heads[k] = &heads[k][1..];
            let line = &self.lines[id as usize];
            let Some(re) = &line.re else { continue };
            let n = line.prefix.len();
            let starts = buf.len() >= n
                && if line.ci {
                    buf[..n].eq_ignore_ascii_case(&line.prefix)
                } else {
                    buf[..n] == *line.prefix
                };
            if !starts {
                continue;
            }
            if !re.is_match(buf).unwrap_or(false) {
                continue;
            }
            let mut caps = re.capture_locations();
            if !matches!(re.captures_read(&mut caps, buf), Ok(Some(_))) {
                continue;
            }
            if f(id, &caps) {
                return;
            }
        }
    }
}

fn compile(m: &Match) -> Result<Regex, String> {
    RegexBuilder::new()
        .caseless(m.case_insensitive)
        .dotall(m.dot_all)
        .jit_if_available(true)
        .build(&pcre2_text(&m.pattern))
        .map_err(|e| e.to_string())
}

/// Probe `i`'s chain: itself, its fallbacks (the same protocol's probe of
/// that name first), NULL for TCP; each once.
fn chain(db: &ProbeDb, i: usize, proto: Proto) -> Vec<u32> {
    let mut out = vec![i as u32];
    let find = |name: &str| {
        db.probes
            .iter()
            .position(|q| q.proto == proto && q.name == name)
            .or_else(|| db.probes.iter().position(|q| q.name == name))
    };
    for f in &db.probes[i].fallback {
        if let Some(j) = find(f) {
            if !out.contains(&(j as u32)) {
                out.push(j as u32);
            }
        }
    }
    if proto == Proto::Tcp {
        if let Some(j) = db
            .probes
            .iter()
            .position(|q| q.proto == Proto::Tcp && q.name == "NULL")
        {
            if !out.contains(&(j as u32)) {
                out.push(j as u32);
            }
        }
    }
    out
}

/// A match line's result for `buf`.
fn found(m: &Match, buf: &[u8], caps: &pcre2::bytes::CaptureLocations) -> Found {
    let groups = |g: u8| caps.get(usize::from(g)).map(|(s, e)| buf[s..e].to_vec());
    let field =
        |t: &Option<Template>, cap: usize| t.as_ref().and_then(|t| finish(t.fill(&groups), cap));
    let f = &m.fields;
    // One CPE per part (a, h, o), the last of each, as nmap keeps them.
    let mut cpe: [Option<String>; 3] = Default::default();
    for (t, _) in &f.cpe {
        let slot = match t.parts.first() {
            Some(Part::Text(text)) => match text.first() {
                Some(b'a') => 0,
                Some(b'h') => 1,
                Some(b'o') => 2,
                _ => continue,
            },
            _ => continue,
        };
        if let Some(v) = fill_cpe(t, &groups) {
            cpe[slot] = Some(v);
        }
    }
    Found {
        service: m.service.clone(),
        soft: m.soft,
        product: field(&f.product, PRODUCT_MAX),
        version: field(&f.version, VERSION_MAX),
        info: field(&f.info, INFO_MAX),
        hostname: field(&f.hostname, HOSTNAME_MAX),
        ostype: field(&f.ostype, OSTYPE_MAX),
        devicetype: field(&f.devicetype, DEVICETYPE_MAX),
        cpe: cpe.into_iter().flatten().collect(),
        line: m.line,
    }
}

/// A CPE template filled in: `cpe:/` and the template's text as written,
/// each substitution made safe for a CPE name ([`cpe_escape`]).
fn fill_cpe(t: &Template, groups: &dyn Fn(u8) -> Option<Vec<u8>>) -> Option<String> {
    let mut v = b"cpe:/".to_vec();
    for part in &t.parts {
        match part {
            Part::Text(text) => v.extend_from_slice(text),
            other => {
                let one = Template {
                    parts: vec![other.clone()],
                };
                v.extend(cpe_escape(&one.fill(groups)));
            }
        }
    }
    finish(v, CPE_MAX)
}

/// A substituted value inside a CPE name: lower-cased, white space as `_`,
/// the URI's reserved punctuation percent-encoded (`+` → `%2B`), as nmap
/// writes it.
pub fn cpe_escape(v: &[u8]) -> Vec<u8> {
    const RESERVED: &[u8] = b":/?#[]@!$&'()*+,;=%<>\"";
    let mut out = Vec::with_capacity(v.len());
    for &b in v {
        if RESERVED.contains(&b) {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else if b.is_ascii_whitespace() {
            out.push(b'_');
        } else {
            out.push(b.to_ascii_lowercase());
        }
    }
    out
}

fn trim_end(v: &mut Vec<u8>) {
    while matches!(v.last(), Some(b) if b.is_ascii_whitespace() || *b == b',') {
        v.pop();
    }
}

/// A filled template as shown: trailing white space and commas trimmed,
/// unprintable bytes as `.`, at most `cap` bytes (and trimmed again after
/// the cut). Nothing left: `None`.
pub fn finish(mut v: Vec<u8>, cap: usize) -> Option<String> {
    trim_end(&mut v);
    for b in &mut v {
        if !(0x20..0x7f).contains(b) {
            *b = b'.';
        }
    }
    v.truncate(cap);
    trim_end(&mut v);
    // Only printable ASCII is left.
    (!v.is_empty()).then(|| v.into_iter().map(char::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(p: &str) -> (String, String) {
        let r = required(p.as_bytes(), false);
        (
            String::from_utf8_lossy(&r.prefix).into_owned(),
            String::from_utf8_lossy(&r.inner).into_owned(),
        )
    }

    #[test]
    fn literals_a_pattern_requires() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            req(r"^SSH-([\d.]+)-OpenSSH_([\w._-]+)\r\n"),
            s("SSH-", "-OpenSSH_")
        );
        assert_eq!(
            req(r"^HTTP/1\.[01] \d\d\d .*\r\nServer: nginx/([\d.]+)"),
            s("HTTP/1.", "\r\nServer: nginx/")
        );
        // A quantified atom is not required.
        assert_eq!(req("^abc?d"), s("ab", "d"));
        assert_eq!(req("^ab{2,3}cde"), s("a", "cde"));
        assert_eq!(req("^a{x}"), s("a{x}", ""));
        assert_eq!(req("^a+bcd*"), s("", "bc"));
        // Escapes: octal, hex, punctuation, classes.
        assert_eq!(req(r"^\0\01\x41\xA\.\|"), s("\0\x01A\n.|", ""));
        assert_eq!(req(r"^\x{42}\dxyz"), s("B", "xyz"));
        // Top-level alternation, \Q, verbs: nothing.
        assert_eq!(req("^abc|def"), s("", ""));
        assert_eq!(req(r"^ab\Qc\E"), s("", ""));
        assert_eq!(req("(*ACCEPT)abc"), s("", ""));
        // Alternation inside a group is fine.
        assert_eq!(req("^ab(c|d)efg"), s("ab", "efg"));
        // Not anchored: no prefix.
        assert_eq!(req("xyz.*abcd"), s("", "abcd"));
        // Flags for the rest end the reading; a flag group does not.
        assert_eq!(req("^abc(?i)defg"), s("abc", ""));
        assert_eq!(req("^abc(?i:d)efg"), s("abc", "efg"));
        // Classes with brackets and POSIX names.
        assert_eq!(req(r"^a[]x[:alpha:]]bcd"), s("a", "bcd"));
        assert_eq!(req(r"^a[\]]bcd"), s("a", "bcd"));
        // Back-references and named groups' references hold no literal.
        assert_eq!(req(r"^(a)\1bc\k<n>de"), s("", "bc"));
        // Case-insensitive: folded.
        assert_eq!(
            required(b"^220 FTP Ready", true).prefix,
            b"220 ftp ready".to_vec()
        );
    }

    #[test]
    fn finishing_fields() {
        let f = |s: &[u8], cap| finish(s.to_vec(), cap);
        assert_eq!(f(b"OpenSSH 9.2, ,  ", 80).as_deref(), Some("OpenSSH 9.2"));
        assert_eq!(f(b"a\x00b\xffc\r\n", 80).as_deref(), Some("a.b.c"));
        assert_eq!(f(b"a\r\nb", 80).as_deref(), Some("a..b"));
        assert_eq!(f(b" , \t", 80), None);
        assert_eq!(f(b"", 80), None);
        assert_eq!(f(&[b'x'; 300], 256).map(|s| s.len()), Some(256));
        assert_eq!(f(b"abcd ef", 5).as_deref(), Some("abcd"));
        assert_eq!(cpe_escape(b"My App/2.0+deb"), b"my_app%2F2.0%2Bdeb");
    }
}
