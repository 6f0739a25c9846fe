//! The templates of a match line's version fields (`p/$1/`, `v/$P(2)/`,
//! `i/protocol $I(1,">")/`, `cpe:/a:openbsd:openssh:$SUBST(1,"p",".")/`):
//! literal text with references to the pattern's capture groups.
//!
//! - `$1` … `$9`: group n as it matched;
//! - `$P(n)`: group n's printable bytes only (the others left out);
//! - `$SUBST(n,"from","to")`: group n with every `from` replaced by `to`
//!   (the strings know the payload escapes: `"\r\n"`);
//! - `$I(n,">")` / `$I(n,"<")`: group n (at most 8 bytes) read as an
//!   unsigned integer, big- or little-endian, in decimal.
//!
//! A `$` not followed by a digit or one of these names is itself.

use std::fmt;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(Vec<u8>),
    Group(u8),
    Printable(u8),
    Subst {
        group: u8,
        from: Vec<u8>,
        to: Vec<u8>,
    },
    Int {
        group: u8,
        big_endian: bool,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pub parts: Vec<Part>,
}

/// Why a template cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Template {
    /// Reads a template's text (between the field's delimiters).
    pub fn parse(text: &[u8]) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            if rest[0] != b'$' {
                lit.push(rest[0]);
                i += 1;
                continue;
            }
            let (part, used) = if rest.len() > 1 && rest[1].is_ascii_digit() {
                (Some(Part::Group(group(rest[1])?)), 2)
            } else if let Some(args) = rest.strip_prefix(b"$P(") {
                let (g, used) = call(args, 0)?;
                (Some(Part::Printable(g.group)), 3 + used)
            } else if let Some(args) = rest.strip_prefix(b"$SUBST(") {
                let (g, used) = call(args, 2)?;
                let mut s = g.strings.into_iter();
                let (from, to) = (s.next().unwrap_or_default(), s.next().unwrap_or_default());
                if from.is_empty() {
                    return Err(TemplateError("$SUBST: the text to replace is empty".into()));
                }
                (
                    Some(Part::Subst {
                        group: g.group,
                        from,
                        to,
                    }),
                    7 + used,
                )
            } else if let Some(args) = rest.strip_prefix(b"$I(") {
                let (g, used) = call(args, 1)?;
                let big_endian = match g.strings.first().map(Vec::as_slice) {
                    Some(b">") => true,
                    Some(b"<") => false,
                    _ => return Err(TemplateError(
                        "$I: the second argument is \">\" (big-endian) or \"<\" (little-endian)"
                            .into(),
                    )),
                };
                (
                    Some(Part::Int {
                        group: g.group,
                        big_endian,
                    }),
                    3 + used,
                )
            } else {
                (None, 1)
            };
            match part {
                Some(p) => {
                    if !lit.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(p);
                }
                None => lit.push(b'$'),
            }
            i += used;
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Template { parts })
    }

    /// The highest capture group it names (0: none).
    pub fn max_group(&self) -> u8 {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(_) => 0,
                Part::Group(g) | Part::Printable(g) => *g,
                Part::Subst { group, .. } | Part::Int { group, .. } => *group,
            })
            .max()
            .unwrap_or(0)
    }

    /// The template filled in from `groups` (`groups(n)`: group n's bytes,
    /// `None` when it did not take part in the match).
    pub fn fill(&self, groups: &dyn Fn(u8) -> Option<Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t),
                Part::Group(g) => out.extend(groups(*g).unwrap_or_default()),
                Part::Printable(g) => out.extend(
                    groups(*g)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|b| (0x20..0x7f).contains(b)),
                ),
                Part::Subst { group, from, to } => {
                    let v = groups(*group).unwrap_or_default();
                    let mut i = 0;
                    while i < v.len() {
                        if v[i..].starts_with(from) {
                            out.extend_from_slice(to);
                            i += from.len();
                        } else {
                            out.push(v[i]);
                            i += 1;
                        }
                    }
                }
                Part::Int { group, big_endian } => {
                    let v = groups(*group).unwrap_or_default();
                    if v.is_empty() || v.len() > 8 {
                        continue;
                    }
                    let n = if *big_endian {
                        v.iter().fold(0u64, |a, b| (a << 8) | u64::from(*b))
                    } else {
                        v.iter().rev().fold(0u64, |a, b| (a << 8) | u64::from(*b))
                    };
                    out.extend_from_slice(n.to_string().as_bytes());
                }
            }
        }
        out
    }
}

fn group(d: u8) -> Result<u8, TemplateError> {
    match d {
        b'1'..=b'9' => Ok(d - b'0'),
        _ => Err(TemplateError(format!(
            "${}: capture groups are $1 to $9",
            d as char
        ))),
    }
}

/// A function call's arguments: a group number, then `strings` quoted
/// strings.
struct Call {
    group: u8,
    strings: Vec<Vec<u8>>,
}

/// Reads `n,"a","b")` (after the opening parenthesis); returns the call
/// and the bytes used.
fn call(args: &[u8], strings: usize) -> Result<(Call, usize), TemplateError> {
    let bad = |what: &str| TemplateError(format!("bad template function: {what}"));
    let mut i = 0;
    let g = match args.first() {
        Some(d) if d.is_ascii_digit() => group(*d)?,
        _ => return Err(bad("a group number (1-9) comes first")),
    };
    i += 1;
    let skip_spaces = |i: &mut usize| {
        while args.get(*i) == Some(&b' ') {
            *i += 1;
        }
    };
    let mut out = Vec::with_capacity(strings);
    for _ in 0..strings {
        skip_spaces(&mut i);
        if args.get(i) != Some(&b',') {
            return Err(bad("expected ',' and a quoted string"));
        }
        i += 1;
        skip_spaces(&mut i);
        if args.get(i) != Some(&b'"') {
            return Err(bad("expected a quoted string"));
        }
        i += 1;
        let end = args[i..]
            .iter()
            .position(|b| *b == b'"')
            .ok_or_else(|| bad("a quoted string is not closed"))?;
        out.push(
            crate::probes::unescape(&args[i..i + end])
                .map_err(|e| bad(&format!("in a quoted string, {e}")))?,
        );
        i += end + 1;
    }
    skip_spaces(&mut i);
    if args.get(i) != Some(&b')') {
        return Err(bad("expected ')'"));
    }
    Ok((
        Call {
            group: g,
            strings: out,
        },
        i + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(g: u8) -> Option<Vec<u8>> {
        match g {
            1 => Some(b"7.4p1".to_vec()),
            2 => Some(b"a\x01b\xffc".to_vec()),
            3 => Some(vec![0x01, 0x02]),
            _ => None,
        }
    }

    fn fill(t: &str) -> String {
        let t = Template::parse(t.as_bytes()).unwrap();
        String::from_utf8_lossy(&t.fill(&groups)).into_owned()
    }

    #[test]
    fn every_form() {
        assert_eq!(fill("OpenSSH $1"), "OpenSSH 7.4p1");
        assert_eq!(fill("$P(2)"), "abc");
        assert_eq!(fill(r#"$SUBST(1,"p",".")"#), "7.4.1");
        assert_eq!(fill(r#"$I(3,">")"#), "258");
        assert_eq!(fill(r#"$SUBST(1, "p", "\x2e")"#), "7.4.1");
        assert_eq!(fill(r#"$I(3,"<")"#), "513");
        assert_eq!(fill("$9 missing"), " missing");
        assert_eq!(fill("cost $ 5 $x"), "cost $ 5 $x");
        assert_eq!(fill(""), "");
        let t = Template::parse(br#"a$1$P(2)$SUBST(3,"x","y")"#).unwrap();
        assert_eq!(t.max_group(), 3);
    }

    #[test]
    fn bad_forms() {
        for bad in [
            "$0",
            "$P(",
            "$P(x)",
            "$P(1",
            r#"$SUBST(1,"a")"#,
            r#"$SUBST(1,"a","b""#,
            r#"$SUBST(1,"","b")"#,
            r#"$I(1,"=")"#,
            "$I(1)",
        ] {
            assert!(Template::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn never_panics_on_cut_input() {
        let t = br#"x $1 $P(2) $SUBST(1,"a","b") $I(3,">") $"#;
        for end in 0..=t.len() {
            let _ = Template::parse(&t[..end]);
        }
    }
}
