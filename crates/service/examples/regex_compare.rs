//! Step one of the matcher: which regex crate can run nmap's patterns, and
//! how fast. Reads Debian's copy of nmap's probe file, named explicitly
//! (nothing of it is in the repository), compiles every match line with
//! `pcre2` (bundled PCRE2, JIT), `fancy-regex` (bytes mode) and
//! `regex::bytes`, and matches the responses of `common/responses.rs`
//! against every compiled pattern (no index: the crates' own cost).
//!
//! ```sh
//! cargo run --release -p vigie-service --example regex_compare [FILE]
//! ```

use std::time::Instant;

use vigie_service::ProbeDb;

#[path = "common/responses.rs"]
mod common;

const NMAP_PROBES: &str = "/usr/share/nmap/nmap-service-probes";

/// Bytes that are not printable ASCII become `\xHH` (PCRE2 without UTF
/// reads them as the same byte; its API wants text).
fn text_escaped(p: &[u8]) -> String {
    let mut s = String::with_capacity(p.len());
    for &b in p {
        if (0x20..0x7f).contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

/// nmap's PCRE syntax in the Rust engines' dialect: `\0dd` octal, `\xH`,
/// escaped punctuation (`\<` is a word boundary there, a `<` in PCRE),
/// `\e \h \v`, class members that are set operators there (`[ & ~`), and
/// `$` (PCRE: the end or before a final newline; `lookahead` says whether
/// the engine has lookahead for it).
fn rust_dialect(p: &[u8], lookahead: bool) -> String {
    let hex = |s: &mut String, b: u8| s.push_str(&format!("\\x{b:02x}"));
    let mut s = String::with_capacity(p.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    while i < p.len() {
        let b = p[i];
        if b == b'\\' && i + 1 < p.len() {
            let c = p[i + 1];
            i += 2;
            match c {
                b'0'..=b'7' if c == b'0' => {
                    let mut v = 0u32;
                    let mut n = 0;
                    while n < 2 && i < p.len() && (b'0'..=b'7').contains(&p[i]) {
                        v = v * 8 + u32::from(p[i] - b'0');
                        i += 1;
                        n += 1;
                    }
                    hex(&mut s, v as u8);
                }
                b'x' => {
                    if p.get(i) == Some(&b'{') {
                        s.push_str("\\x");
                        continue;
                    }
                    let mut v = 0u32;
                    let mut n = 0;
                    while n < 2 && i < p.len() && p[i].is_ascii_hexdigit() {
                        v = v * 16 + (p[i] as char).to_digit(16).unwrap_or(0);
                        i += 1;
                        n += 1;
                    }
                    hex(&mut s, v as u8);
                }
                b'e' => hex(&mut s, 0x1b),
                b'h' => s.push_str(if in_class { " \\t" } else { "[ \\t]" }),
                b'v' => s.push_str(if in_class {
                    "\\x0a-\\x0d"
                } else {
                    "[\\x0a-\\x0d]"
                }),
                c if c.is_ascii_alphanumeric() => {
                    s.push('\\');
                    s.push(c as char);
                }
                c => hex(&mut s, c),
            }
            continue;
        }
        i += 1;
        if in_class {
            match b {
                b']' => {
                    in_class = false;
                    s.push(']');
                }
                b'[' if p.get(i) == Some(&b':') => {
                    // [:alpha:]
                    let end = p[i..]
                        .windows(2)
                        .position(|w| w == b":]")
                        .map_or(p.len(), |e| i + e + 2);
                    s.push('[');
                    s.push_str(&text_escaped(&p[i..end]));
                    i = end;
                }
                b'[' | b'&' | b'~' => hex(&mut s, b),
                b if (0x20..0x7f).contains(&b) => s.push(b as char),
                b => hex(&mut s, b),
            }
            continue;
        }
        match b {
            b'[' => {
                in_class = true;
                s.push('[');
                if p.get(i) == Some(&b'^') {
                    s.push('^');
                    i += 1;
                }
                if p.get(i) == Some(&b']') {
                    s.push_str("\\x5d");
                    i += 1;
                }
            }
            b'$' if lookahead => s.push_str("(?=\\n?\\z)"),
            b'$' => s.push_str("(?:\\n?\\z)"),
            b if (0x20..0x7f).contains(&b) => s.push(b as char),
            b => hex(&mut s, b),
        }
    }
    s
}

trait Engine {
    fn name(&self) -> &'static str;
    fn compile(&mut self, pattern: &[u8], ci: bool, dotall: bool) -> Result<(), String>;
    fn count(&self) -> usize;
    /// How many compiled patterns match.
    fn scan(&self, buf: &[u8]) -> usize;
}

#[derive(Default)]
struct Pcre2(Vec<pcre2::bytes::Regex>);

impl Engine for Pcre2 {
    fn name(&self) -> &'static str {
        "pcre2 0.2 (PCRE2 10.4x, JIT)"
    }
    fn compile(&mut self, p: &[u8], ci: bool, dotall: bool) -> Result<(), String> {
        let text = format!("(*LIMIT_MATCH=50000)(*LIMIT_DEPTH=1000){}", text_escaped(p));
        let re = pcre2::bytes::RegexBuilder::new()
            .caseless(ci)
            .dotall(dotall)
            .jit_if_available(true)
            .build(&text)
            .map_err(|e| e.to_string())?;
        self.0.push(re);
        Ok(())
    }
    fn count(&self) -> usize {
        self.0.len()
    }
    fn scan(&self, buf: &[u8]) -> usize {
        self.0
            .iter()
            .filter(|r| r.is_match(buf).unwrap_or(false))
            .count()
    }
}

#[derive(Default)]
struct Fancy(Vec<fancy_regex::Regex>);

impl Engine for Fancy {
    fn name(&self) -> &'static str {
        "fancy-regex 0.20 (bytes mode)"
    }
    fn compile(&mut self, p: &[u8], ci: bool, dotall: bool) -> Result<(), String> {
        let re = fancy_regex::RegexBuilder::new(&rust_dialect(p, true))
            .bytes_mode(fancy_regex::BytesMode::Ascii)
            .case_insensitive(ci)
            .dot_matches_new_line(dotall)
            .backtrack_limit(50_000)
            .build()
            .map_err(|e| e.to_string())?;
        self.0.push(re);
        Ok(())
    }
    fn count(&self) -> usize {
        self.0.len()
    }
    fn scan(&self, buf: &[u8]) -> usize {
        self.0
            .iter()
            .filter(|r| r.is_match(buf).unwrap_or(false))
            .count()
    }
}

#[derive(Default)]
struct RustRegex(Vec<regex::bytes::Regex>);

impl Engine for RustRegex {
    fn name(&self) -> &'static str {
        "regex 1 (bytes)"
    }
    fn compile(&mut self, p: &[u8], ci: bool, dotall: bool) -> Result<(), String> {
        let re = regex::bytes::RegexBuilder::new(&rust_dialect(p, false))
            .unicode(false)
            .case_insensitive(ci)
            .dot_matches_new_line(dotall)
            .build()
            .map_err(|e| e.to_string())?;
        self.0.push(re);
        Ok(())
    }
    fn count(&self) -> usize {
        self.0.len()
    }
    fn scan(&self, buf: &[u8]) -> usize {
        self.0.iter().filter(|r| r.is_match(buf)).count()
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| NMAP_PROBES.to_string());
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let db = ProbeDb::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines: Vec<_> = db.probes.iter().flat_map(|p| &p.matches).collect();
    let responses = common::responses();
    let mut engines: Vec<Box<dyn Engine>> = vec![
        Box::<Pcre2>::default(),
        Box::<Fancy>::default(),
        Box::<RustRegex>::default(),
    ];
    println!("{path}: {} match lines", lines.len());
    for e in &mut engines {
        let t = Instant::now();
        let mut failed = Vec::new();
        for m in &lines {
            if let Err(err) = e.compile(&m.pattern, m.case_insensitive, m.dot_all) {
                failed.push((m.line, err));
            }
        }
        let compile_ms = t.elapsed().as_secs_f64() * 1e3;
        let mut per = Vec::new();
        let mut hits = Vec::new();
        for (_, _, r) in &responses {
            let mut runs = Vec::new();
            let mut n = e.scan(r); // warm caches (and lazy DFAs)
            for _ in 0..5 {
                let t = Instant::now();
                n = e.scan(r);
                runs.push(t.elapsed().as_secs_f64() * 1e6);
            }
            per.push(median(&mut runs));
            hits.push(n);
        }
        let mut sorted = per.clone();
        println!(
            "\n{}: {}/{} compiled, {} failed; compile {:.0} ms; all patterns per response: median {:.0} µs, max {:.0} µs",
            e.name(),
            e.count(),
            lines.len(),
            failed.len(),
            compile_ms,
            median(&mut sorted),
            sorted.last().copied().unwrap_or(0.0),
        );
        for ((name, _, _), (us, n)) in responses.iter().zip(per.iter().zip(&hits)) {
            println!("  {name:14} {us:9.0} µs  {n} patterns match");
        }
        for (line, err) in failed.iter().take(6) {
            let first = err.lines().next().unwrap_or("");
            println!("  line {line}: {first}");
        }
    }
}
