//! The flag machinery: a table of [`Flag`]s — each with its spellings, its
//! value, its help and how it updates the options — drives the parser, the
//! help text (built at compile time), the man page and the shell
//! completions. The tables themselves are in `args.rs`.
//!
//! nmap's spellings, all read here:
//! - [`Spell::Long`] `--top-ports 100`, `--top-ports=100`, `-top-ports 100`
//!   (one or two dashes; `=value` or the next argument);
//! - [`Spell::Dash`]: the same, shown with one dash (`-iL file`);
//! - [`Spell::Word`]: one dash, the whole word (`-sS`, `-Pn`, `-6`);
//! - [`Spell::Glued`]: one dash, the value glued on or next (`-p22`,
//!   `-p 22`, `-T4`, `-oXscan.xml`);
//! - [`Spell::Optional`]: one dash, a value that may be glued on (`-PS`,
//!   `-PS22,443`);
//! - [`Spell::Level`]: one dash, repeated or with a number (`-v`, `-vv`,
//!   `-v3`).
//!
//! A value is taken as given, even when it starts with a dash; everything
//! after `--` is positional.

use std::fmt;

/// How a flag is spelled; the string is what the user types (dashes
/// included, no value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spell {
    Long(&'static str),
    Dash(&'static str),
    Word(&'static str),
    Glued(&'static str),
    Optional(&'static str),
    Level(&'static str),
}

impl Spell {
    /// The spelling as shown (`--top-ports`, `-sS`).
    pub const fn text(self) -> &'static str {
        match self {
            Spell::Long(s)
            | Spell::Dash(s)
            | Spell::Word(s)
            | Spell::Glued(s)
            | Spell::Optional(s)
            | Spell::Level(s) => s,
        }
    }

    /// Without its dashes (`top-ports`, `sS`).
    pub fn bare(self) -> &'static str {
        self.text().trim_start_matches('-')
    }
}

/// What a value looks like, for the shell completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complete {
    /// Any word (a number, a list, an address).
    Any,
    /// A file name.
    File,
    /// One of these words.
    Words(&'static [&'static str]),
}

/// Who sees a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    /// `--help`, the man page, the completions, docs/usage.md.
    Listed,
    /// Only the parser (test knobs).
    Hidden,
    /// An nmap option vigie does not have yet: parsed (with its value, so
    /// the message names it), then refused saying so. The help is what
    /// the option does in nmap.
    Pending,
}

/// Where a flag is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    /// Lines shown under the title, before the flags (`\n` separated).
    pub intro: &'static str,
    /// Lines shown after the flags.
    pub outro: &'static str,
}

/// How a flag updates the options `O`: the value as typed (`""` for a
/// switch, or an optional value left out; the level for [`Spell::Level`]).
/// An error is the reason the value is wrong.
pub type Apply<O> = fn(&mut O, &str) -> Result<(), String>;

/// One flag.
pub struct Flag<O: 'static> {
    /// The first is the one shown in messages.
    pub spell: &'static [Spell],
    /// The value's name (`ports` → `-p <ports>`); `None`: a switch.
    pub value: Option<&'static str>,
    pub complete: Complete,
    /// Index into the table's sections.
    pub section: usize,
    /// `\n` breaks a line in `--help` (continued with an indent); the man
    /// page and the completions run the lines together.
    pub help: &'static str,
    pub show: Show,
    pub apply: Apply<O>,
}

impl<O> Flag<O> {
    /// A flag without a value.
    pub const fn switch(
        spell: &'static [Spell],
        section: usize,
        help: &'static str,
        apply: Apply<O>,
    ) -> Flag<O> {
        Flag {
            spell,
            value: None,
            complete: Complete::Any,
            section,
            help,
            show: Show::Listed,
            apply,
        }
    }

    /// A flag with a value named `value`.
    pub const fn valued(
        spell: &'static [Spell],
        value: &'static str,
        complete: Complete,
        section: usize,
        help: &'static str,
        apply: Apply<O>,
    ) -> Flag<O> {
        Flag {
            spell,
            value: Some(value),
            complete,
            section,
            help,
            show: Show::Listed,
            apply,
        }
    }

    /// An nmap option vigie does not have yet; `what` says what it does in
    /// nmap.
    pub const fn pending(
        spell: &'static [Spell],
        value: Option<&'static str>,
        section: usize,
        what: &'static str,
    ) -> Flag<O> {
        Flag {
            spell,
            value,
            complete: Complete::Any,
            section,
            help: what,
            show: Show::Pending,
            apply: |_, _| Ok(()),
        }
    }

    /// The same flag, kept out of the help and the completions.
    pub const fn hidden(self) -> Flag<O> {
        Flag {
            show: Show::Hidden,
            ..self
        }
    }

    /// The spelling messages use.
    pub const fn name(&self) -> &'static str {
        self.spell[0].text()
    }
}

/// A command-line error: one line, without the "vigie: " prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

/// What one parse saw, besides what the flags applied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The flags applied, by their shown name, in order.
    pub flags: Vec<&'static str>,
}

/// How to tell the user where to look: `vigie --help`, `vigie merge --help`.
pub struct Table<O: 'static> {
    pub flags: &'static [Flag<O>],
    pub sections: &'static [Section],
    /// `vigie`, `vigie merge`.
    pub command: &'static str,
}

impl<O> Table<O> {
    /// Parses `args` (without the program name) into `opts`; words that
    /// are not flags go to `positional`.
    pub fn parse(
        &self,
        args: &[String],
        opts: &mut O,
        positional: &mut dyn FnMut(&mut O, &str),
    ) -> Result<Seen, ArgError> {
        let mut seen = Seen::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            if arg == "--" {
                for a in it.by_ref() {
                    positional(opts, a);
                }
                break;
            }
            if arg.len() < 2 || !arg.starts_with('-') {
                // A lone "-" is positional too (and fails there if wrong).
                positional(opts, arg);
                continue;
            }
            let (flag, value) = self.find(arg, &mut it)?;
            if flag.show == Show::Pending {
                return Err(ArgError(format!(
                    "{} ({}) is an nmap option that vigie does not have yet",
                    flag.name(),
                    first_line(flag.help)
                )));
            }
            if flag.value.is_some() && value.is_empty() && !is_optional(flag) {
                return Err(ArgError(format!(
                    "option '{}' needs a value, not an empty string",
                    flag.name()
                )));
            }
            (flag.apply)(opts, value).map_err(|why| {
                ArgError(format!(
                    "invalid value '{value}' for '{}': {why}",
                    flag.name()
                ))
            })?;
            seen.flags.push(flag.name());
        }
        Ok(seen)
    }

    /// The flag `arg` names and its value (taken from `rest` when it is
    /// the next argument).
    fn find<'a>(
        &self,
        arg: &'a str,
        rest: &mut std::slice::Iter<'a, String>,
    ) -> Result<(&'static Flag<O>, &'a str), ArgError> {
        let double = arg.starts_with("--");
        let word = arg.trim_start_matches('-');
        let (name, inline) = match word.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (word, None),
        };
        let shown = &arg[..arg.len() - word.len() + name.len()];
        let long = self
            .spellings()
            .find(|(s, _)| matches!(s, Spell::Long(_) | Spell::Dash(_)) && s.bare() == name);
        if let Some((_, flag)) = long {
            if arg.starts_with("---") {
                return Err(self.unknown(shown));
            }
            return match (flag.value, inline) {
                (None, None) => Ok((flag, "")),
                (None, Some(_)) => Err(ArgError(format!("option '{shown}' takes no value"))),
                (Some(_), Some(v)) => Ok((flag, v)),
                (Some(_), None) => match rest.next() {
                    Some(v) => Ok((flag, v.as_str())),
                    None => Err(needs_value(shown)),
                },
            };
        }
        if double {
            return Err(self.unknown(shown));
        }
        // One dash: `arg` is the whole word.
        for (s, flag) in self.spellings() {
            match s {
                Spell::Optional(p) => {
                    if let Some(v) = arg.strip_prefix(p) {
                        return Ok((flag, v));
                    }
                }
                Spell::Word(w) if w == arg => return Ok((flag, "")),
                _ => {}
            }
        }
        for (s, flag) in self.spellings() {
            if let Spell::Level(p) = s {
                if let Some(level) = level(arg, p) {
                    return Ok((flag, level));
                }
            }
        }
        // The longest glued prefix (none is a prefix of another today).
        let glued = self
            .spellings()
            .filter_map(|(s, f)| match s {
                Spell::Glued(p) => arg.strip_prefix(p).map(|v| (p.len(), f, v)),
                _ => None,
            })
            .max_by_key(|(len, _, _)| *len);
        if let Some((_, flag, v)) = glued {
            if !v.is_empty() {
                // `-exlude` is a typo of `--exclude`, not `-e xlude`; `-packet-trac`
                // is not `-p acket-trac`.
                if self.suggest(arg).is_some() {
                    return Err(self.unknown(shown));
                }
                return Ok((flag, v));
            }
            return match rest.next() {
                Some(v) => Ok((flag, v.as_str())),
                None => Err(needs_value(arg)),
            };
        }
        Err(self.unknown(shown))
    }

    fn spellings(&self) -> impl Iterator<Item = (Spell, &'static Flag<O>)> {
        self.flags
            .iter()
            .flat_map(|f| f.spell.iter().map(move |s| (*s, f)))
    }

    /// "unknown option", with the closest listed spelling when one is close.
    fn unknown(&self, typed: &str) -> ArgError {
        match self.suggest(typed) {
            Some(s) => ArgError(format!("unknown option '{typed}' (did you mean {s}?)")),
            None => ArgError(format!(
                "unknown option '{typed}' (see {} --help)",
                self.command
            )),
        }
    }

    /// The listed spelling closest to `typed`, if close enough: for names
    /// of three letters or more, an edit distance (a swap of two letters
    /// counts one) of one per four letters
    /// (at least one), or the name's start with at most its last two
    /// letters off (`--max-retry` → `--max-retries`); shorter ones only when they differ in case or
    /// dashes alone (`-pn` → `-Pn`, `--sS` → `-sS`) — one letter off a
    /// two-letter nmap flag is another flag, not a typo.
    pub fn suggest(&self, typed: &str) -> Option<&'static str> {
        let bare = typed.trim_start_matches('-').to_ascii_lowercase();
        let limit = (bare.chars().count() / 4).max(1);
        self.spellings()
            .filter(|(_, f)| f.show == Show::Listed)
            .filter_map(|(s, _)| {
                let cand = s.bare().to_ascii_lowercase();
                let d = strsim::osa_distance(&bare, &cand);
                let short = bare.chars().count() < 3 || cand.chars().count() < 3;
                let close = if short {
                    d == 0
                } else {
                    let shared = bare
                        .chars()
                        .zip(cand.chars())
                        .take_while(|(a, b)| a == b)
                        .count();
                    d <= limit || (shared >= 4 && bare.chars().count() - shared <= 2)
                };
                (close && s.text() != typed).then_some((d, s.text()))
            })
            .min_by_key(|(d, _)| *d)
            .map(|(_, s)| s)
    }
}

fn is_optional<O>(flag: &Flag<O>) -> bool {
    flag.spell.iter().all(|s| matches!(s, Spell::Optional(_)))
}

fn needs_value(flag: &str) -> ArgError {
    ArgError(format!("option '{flag}' needs a value"))
}

/// `-v`, `-vv`, `-vvv` → their count; `-v3` → 3 (as text). `None` when
/// `arg` is not a level word of `flag`.
fn level<'a>(arg: &'a str, flag: &str) -> Option<&'a str> {
    let rest = arg.strip_prefix(flag)?;
    let letter = flag.as_bytes().last()?;
    if rest.bytes().all(|b| b == *letter) {
        return Some(COUNTS.get(rest.len()).copied().unwrap_or("255"));
    }
    if rest.bytes().all(|b| b.is_ascii_digit()) {
        return Some(rest);
    }
    None
}

const COUNTS: [&str; 10] = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];

/// The first line of a help text.
pub fn first_line(text: &str) -> &str {
    text.split('\n').next().unwrap_or("")
}

// ---- The help text, rendered at compile time. ----

/// Bytes written so far (and the room for them, when counting only).
pub struct Buf<'a> {
    out: &'a mut [u8],
    len: usize,
    col: usize,
}

impl<'a> Buf<'a> {
    pub const fn new(out: &'a mut [u8]) -> Buf<'a> {
        Buf {
            out,
            len: 0,
            col: 0,
        }
    }

    pub const fn len(&self) -> usize {
        self.len
    }

    const fn byte(&mut self, b: u8) {
        if self.len < self.out.len() {
            self.out[self.len] = b;
        }
        self.len += 1;
        // Columns count characters: UTF-8 continuation bytes add nothing.
        if b == b'\n' {
            self.col = 0;
        } else if b & 0xc0 != 0x80 {
            self.col += 1;
        }
    }

    pub const fn put(&mut self, s: &str) {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            self.byte(b[i]);
            i += 1;
        }
    }

    /// `s` with every line after the first indented by `indent`.
    const fn lines(&mut self, s: &str, indent: &str) {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            self.byte(b[i]);
            if b[i] == b'\n' {
                self.put(indent);
            }
            i += 1;
        }
    }
}

/// How a flag's spellings and value read in `--help`: `-p <ports>`,
/// `-PS[ports]`, `-h, --help`.
pub const fn flag_usage<O>(buf: &mut Buf, flag: &Flag<O>) {
    let mut i = 0;
    while i < flag.spell.len() {
        if i > 0 {
            buf.put(", ");
        }
        let s = flag.spell[i];
        buf.put(s.text());
        if let Some(v) = flag.value {
            match s {
                Spell::Optional(_) => {
                    buf.put("[");
                    buf.put(v);
                    buf.put("]");
                }
                Spell::Level(_) => {}
                _ => {
                    buf.put(" <");
                    buf.put(v);
                    buf.put(">");
                }
            }
        }
        i += 1;
    }
}

/// The help of a table: `head`, then per section its title, intro, the
/// listed flags and outro, then the pending nmap options in a list, then
/// `tail`. Returns the length (call it with an empty buffer to size one).
pub const fn render_help<O>(
    flags: &[Flag<O>],
    sections: &[Section],
    head: &str,
    tail: &str,
    out: &mut [u8],
) -> usize {
    let mut buf = Buf::new(out);
    buf.put(head);
    let mut s = 0;
    while s < sections.len() {
        let sec = &sections[s];
        let mut listed = false;
        let mut i = 0;
        while i < flags.len() {
            if flags[i].section == s && matches!(flags[i].show, Show::Listed) {
                listed = true;
            }
            i += 1;
        }
        if listed || !sec.intro.is_empty() {
            buf.put("\n");
            buf.put(sec.title);
            buf.put(":\n");
            if !sec.intro.is_empty() {
                buf.put("  ");
                buf.lines(sec.intro, "  ");
                buf.put("\n");
            }
            let mut i = 0;
            while i < flags.len() {
                let f = &flags[i];
                if f.section == s && matches!(f.show, Show::Listed) {
                    buf.put("  ");
                    flag_usage(&mut buf, f);
                    buf.put(": ");
                    buf.lines(f.help, "      ");
                    buf.put("\n");
                }
                i += 1;
            }
            if !sec.outro.is_empty() {
                buf.put("  ");
                buf.lines(sec.outro, "  ");
                buf.put("\n");
            }
        }
        s += 1;
    }
    // The nmap options not here yet, as a wrapped list.
    let mut first = true;
    let mut i = 0;
    while i < flags.len() {
        if matches!(flags[i].show, Show::Pending) {
            let name = flags[i].spell[0].text();
            if first {
                buf.put("\nNMAP OPTIONS NOT IN VIGIE YET (refused, saying so):\n ");
                first = false;
            } else {
                buf.put(",");
            }
            if buf.col + 1 + name.len() > 78 {
                buf.put("\n ");
            }
            buf.put(" ");
            buf.put(name);
        }
        i += 1;
    }
    if !first {
        buf.put("\n");
    }
    buf.put(tail);
    buf.len()
}
