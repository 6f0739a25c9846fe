//! `vigie --generate man|complete-bash|complete-zsh|complete-fish|
//! complete-powershell`: the man page and the shell completions, written
//! from the flag tables (the scan's and each subcommand's), so they list
//! exactly what the parser reads.

use std::fmt::Write as _;

use crate::args::flags::{first_line, Complete, Flag, Section, Show, Spell, Table};
use crate::args::{Generate, DIFF_TABLE, HISTORY_TABLE, MERGE_TABLE, TABLE, WATCH_TABLE};

/// The text `--generate` prints.
pub fn generate(what: Generate) -> String {
    match what {
        Generate::Man => man(),
        Generate::Bash => bash(),
        Generate::Zsh => zsh(),
        Generate::Fish => fish(),
        Generate::PowerShell => powershell(),
    }
}

/// Flags the user may see (listed ones).
fn listed<O>(t: &Table<O>) -> impl Iterator<Item = &'static Flag<O>> {
    t.flags.iter().filter(|f| f.show == Show::Listed)
}

/// A help text's first sentence (or its start, cut at a word), for the
/// completion menus.
fn summary(text: &str) -> String {
    let line = one_line(text);
    let end = line
        .find(". ")
        .or_else(|| line.find("; "))
        .unwrap_or(line.len());
    let mut s = line[..end].trim_end_matches('.').to_string();
    if s.chars().count() > 72 {
        let cut: String = s.chars().take(69).collect();
        let at = cut.rfind(' ').unwrap_or(cut.len());
        s = format!("{}...", &cut[..at]);
    }
    s
}

/// A help text on one line.
fn one_line(text: &str) -> String {
    text.split('\n').collect::<Vec<_>>().join(" ")
}

// ---- man(7) ----

/// Text for roff: backslashes, dashes and non-ASCII characters escaped, a
/// line that starts with a dot or quote protected.
fn roff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            c if c.is_ascii() => out.push(c),
            c => {
                let _ = write!(out, "\\[u{:04X}]", c as u32);
            }
        }
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

/// `\fB\-p\fR \fIports\fR`, `\fB\-PS\fR[\fIports\fR]`, joined by commas.
fn man_usage<O>(f: &Flag<O>) -> String {
    let mut parts = Vec::new();
    for s in f.spell {
        let mut p = format!("\\fB{}\\fR", roff(s.text()));
        if let Some(v) = f.value {
            match s {
                Spell::Optional(_) => {
                    let _ = write!(p, "[\\fI{}\\fR]", roff(v));
                }
                Spell::Level(_) => {}
                _ => {
                    let _ = write!(p, " \\fI{}\\fR", roff(v));
                }
            }
        }
        parts.push(p);
    }
    parts.join(", ")
}

fn man_sections<O>(out: &mut String, table: &Table<O>, sections: &[Section]) {
    for (i, sec) in sections.iter().enumerate() {
        let flags: Vec<&Flag<O>> = listed(table).filter(|f| f.section == i).collect();
        if flags.is_empty() && sec.intro.is_empty() {
            continue;
        }
        let _ = writeln!(out, ".SS \"{}\"", roff(&title_case(sec.title)));
        if !sec.intro.is_empty() {
            let _ = writeln!(out, "{}", roff(&one_line(sec.intro)));
        }
        for f in flags {
            let _ = writeln!(out, ".TP\n{}\n{}", man_usage(f), roff(&one_line(f.help)));
        }
        if !sec.outro.is_empty() {
            let _ = writeln!(out, ".PP\n{}", roff(&one_line(sec.outro)));
        }
    }
}

/// "TARGET SPECIFICATION" → "Target specification".
fn title_case(s: &str) -> String {
    let lower = s.to_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn man() -> String {
    let mut m = String::new();
    let version = env!("CARGO_PKG_VERSION");
    let _ = writeln!(
        m,
        ".TH VIGIE 1 \"\" \"vigie {version}\" \"User Commands\"\n\
         .SH NAME\n\
         vigie \\- a port scanner spelled like nmap\n\
         .SH SYNOPSIS\n\
         .B vigie\n\
         [\\fIscan type\\fR] [\\fIoptions\\fR] \\fItargets\\fR\n\
         .br\n\
         .B vigie merge\n\
         [\\fB\\-oX\\fR|\\fB\\-oJ\\fR|\\fB\\-oN\\fR|\\fB\\-oG\\fR \\fIfile\\fR]... \\fIfile\\fR...\n\
         .br\n\
         .B vigie history\n\
         [\\fBshow\\fR \\fIid\\fR] [\\fIoptions\\fR]\n\
         .br\n\
         .B vigie diff\n\
         [\\fB\\-v\\fR] [\\fB\\-oX\\fR \\fIfile\\fR] [\\fB\\-oJ\\fR \\fIfile\\fR] \\fIa\\fR \\fIb\\fR\n\
         .SH DESCRIPTION\n\
         vigie finds the open ports of the hosts it is given, with nmap's flags and output\n\
         formats: a stateless raw-packet engine for SYN, FIN, NULL, Xmas, ACK, Window,\n\
         Maimon and UDP scans, connect scans without privilege, host discovery by ICMP,\n\
         TCP, UDP, ARP and IPv6 neighbour discovery.\n\
         .PP\n\
         Flags are spelled as in nmap: several letters after one dash (\\fB\\-sS\\fR,\n\
         \\fB\\-Pn\\fR), values glued on or given as the next argument (\\fB\\-p22\\fR or\n\
         \\fB\\-p 22\\fR), long options with one or two dashes and an optional \\fB=\\fR\n\
         (\\fB\\-\\-top\\-ports 100\\fR, \\fB\\-top\\-ports=100\\fR). Everything after\n\
         \\fB\\-\\-\\fR is a target.\n\
         .SH OPTIONS"
    );
    man_sections(&mut m, &TABLE, TABLE.sections);
    let _ = writeln!(
        m,
        ".SH \"NMAP OPTIONS NOT IN VIGIE YET\"\n\
         These are read with their values and refused with a message that says so."
    );
    for f in TABLE.flags.iter().filter(|f| f.show == Show::Pending) {
        let _ = writeln!(m, ".TP\n{}\n{}", man_usage(f), roff(first_line(f.help)));
    }
    let _ = writeln!(
        m,
        ".SH \"VIGIE MERGE\"\n\
         Joins the \\fB\\-oX\\fR (or \\fB\\-oJ\\fR) outputs of the shards of one scan into one\n\
         report, written by the same writers as a scan."
    );
    man_sections(&mut m, &MERGE_TABLE, MERGE_TABLE.sections);
    let _ = writeln!(
        m,
        ".SH \"VIGIE DIFF\"\n\
         Tells what changed between two scans (vigie's \\fB\\-oX\\fR or \\fB\\-oJ\\fR, nmap's\n\
         \\fB\\-oX\\fR), as ndiff prints it; exit status 0 when nothing differs, 1 when\n\
         something does, 2 on an error."
    );
    man_sections(&mut m, &DIFF_TABLE, DIFF_TABLE.sections);
    let _ = writeln!(
        m,
        ".SH \"VIGIE WATCH\"\n\
         Tells who scans this host, how and with what: every frame is read before the\n\
         firewall, in both directions, until SIGINT or SIGTERM; each alert is written at\n\
         once (see docs/watch.md)."
    );
    man_sections(&mut m, &WATCH_TABLE, WATCH_TABLE.sections);
    let _ = writeln!(
        m,
        ".SH \"VIGIE HISTORY\"\n\
         Every scan is recorded as it runs in a history store (SQLite by default,\n\
         PostgreSQL with \\fB\\-\\-db\\fR); \\fBvigie history\\fR lists the scans, newest first,\n\
         and \\fBvigie history show\\fR \\fIid\\fR writes one again as if just run."
    );
    man_sections(&mut m, &HISTORY_TABLE, HISTORY_TABLE.sections);
    let _ = writeln!(
        m,
        ".SH \"EXIT STATUS\"\n\
         0 when the scan ran, 1 when the system failed it (no privilege, no route, an\n\
         output that cannot be written), 2 on bad input (one line on standard error),\n\
         130 when interrupted (the resume file tells how to finish).\n\
         .SH EXAMPLES\n\
         .nf\n\
         vigie \\-p 1\\-1024 127.0.0.1\n\
         vigie \\-sS \\-T4 \\-\\-top\\-ports 100 \\-\\-reason \\-oX scan.xml 198.18.0.0/24\n\
         vigie \\-6 \\-sT \\-p 22,80,443 fd00::1\n\
         .fi\n\
         .SH \"SEE ALSO\"\n\
         .BR nmap (1)"
    );
    m
}

// ---- Shell completions ----

/// Every spelling of the listed flags of a table, as typed.
fn words<O>(t: &Table<O>) -> Vec<&'static str> {
    listed(t)
        .flat_map(|f| f.spell.iter().map(|s| s.text()))
        .collect()
}

/// The spellings whose value is the next word (`-p 22`, `--top-ports 10`).
fn takes_next<O>(f: &Flag<O>) -> impl Iterator<Item = &'static str> + '_ {
    f.spell
        .iter()
        .filter(move |s| f.value.is_some() && !matches!(s, Spell::Optional(_) | Spell::Level(_)))
        .map(|s| s.text())
}

fn bash_cases<O>(t: &Table<O>, out: &mut String) {
    for f in listed(t) {
        let names: Vec<&str> = takes_next(f).collect();
        if names.is_empty() {
            continue;
        }
        let action = match f.complete {
            Complete::File => "COMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;;".to_string(),
            Complete::Words(w) => format!(
                "COMPREPLY=($(compgen -W '{}' -- \"$cur\")); return 0 ;;",
                w.join(" ")
            ),
            Complete::Any => "return 0 ;;".to_string(),
        };
        let _ = writeln!(out, "            {}) {action}", names.join("|"));
    }
}

/// What a subcommand's words after its flags are.
#[derive(Clone, Copy)]
enum Rest {
    /// Files (`vigie merge a.xml b.xml`).
    Files,
    /// One of these words, then anything (`vigie history show 12`).
    Words(&'static str),
    /// Nothing (`vigie watch`).
    Nothing,
}

/// A subcommand, as the completion scripts want it.
struct Sub {
    name: &'static str,
    about: &'static str,
    rest: Rest,
    words: Vec<&'static str>,
    bash: String,
    zsh: String,
    fish: String,
    pairs: Vec<(&'static str, String)>,
}

fn sub<O>(name: &'static str, about: &'static str, rest: Rest, t: &Table<O>) -> Sub {
    let mut bash = String::new();
    bash_cases(t, &mut bash);
    let mut zsh = String::new();
    zsh_specs(t, &mut zsh);
    let mut fish = String::new();
    fish_lines(t, &format!("__fish_seen_subcommand_from {name}"), &mut fish);
    Sub {
        name,
        about,
        rest,
        words: words(t),
        bash,
        zsh,
        fish,
        pairs: pairs(t),
    }
}

/// Every subcommand, in the man page's order.
fn subs() -> Vec<Sub> {
    vec![
        sub(
            "merge",
            "join the outputs of shards",
            Rest::Files,
            &MERGE_TABLE,
        ),
        sub(
            "history",
            "the stored scans",
            Rest::Words("show"),
            &HISTORY_TABLE,
        ),
        sub(
            "diff",
            "what changed between two scans",
            Rest::Files,
            &DIFF_TABLE,
        ),
        sub(
            "watch",
            "tell who scans this host",
            Rest::Nothing,
            &WATCH_TABLE,
        ),
    ]
}

fn names(subs: &[Sub]) -> String {
    subs.iter().map(|s| s.name).collect::<Vec<_>>().join(" ")
}

fn bash() -> String {
    let subs = subs();
    let mut s = String::from(
        "# bash completion for vigie (vigie --generate complete-bash)\n\
         _vigie() {\n\
         \x20   local cur prev\n\
         \x20   cur=\"${COMP_WORDS[COMP_CWORD]}\"\n\
         \x20   prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n",
    );
    for sc in &subs {
        let rest = match sc.rest {
            Rest::Files => "COMPREPLY=($(compgen -f -- \"$cur\"))".to_string(),
            Rest::Words(w) => {
                format!("[[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W '{w}' -- \"$cur\"))")
            }
            Rest::Nothing => "COMPREPLY=()".to_string(),
        };
        let _ = write!(
            s,
            "    if [[ ${{COMP_WORDS[1]}} == {} && $COMP_CWORD -gt 1 ]]; then\n\
             \x20       case \"$prev\" in\n\
             {}\
             \x20       esac\n\
             \x20       if [[ $cur == -* ]]; then\n\
             \x20           COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n\
             \x20       else\n\
             \x20           {rest}\n\
             \x20       fi\n\
             \x20       return 0\n\
             \x20   fi\n",
            sc.name,
            sc.bash,
            sc.words.join(" ")
        );
    }
    s.push_str("    case \"$prev\" in\n");
    bash_cases(&TABLE, &mut s);
    let _ = write!(
        s,
        "    esac\n\
         \x20   if [[ $cur == -* ]]; then\n\
         \x20       COMPREPLY=($(compgen -W '{}' -- \"$cur\"))\n\
         \x20   elif [[ $COMP_CWORD -eq 1 ]]; then\n\
         \x20       COMPREPLY=($(compgen -W '{}' -- \"$cur\") $(compgen -A hostname -- \"$cur\"))\n\
         \x20   else\n\
         \x20       COMPREPLY=($(compgen -A hostname -- \"$cur\"))\n\
         \x20   fi\n\
         \x20   return 0\n\
         }}\n\
         complete -o default -F _vigie vigie\n",
        words(&TABLE).join(" "),
        names(&subs)
    );
    s
}

/// A description inside a zsh `_arguments` spec, inside single quotes.
fn zsh_desc(text: &str) -> String {
    let mut out = String::new();
    for c in summary(text).chars() {
        match c {
            '[' | ']' | ':' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\'' => out.push_str("'\\''"),
            c => out.push(c),
        }
    }
    out
}

fn zsh_specs<O>(t: &Table<O>, out: &mut String) {
    for f in listed(t) {
        let desc = zsh_desc(f.help);
        let action = match f.complete {
            Complete::File => "_files".to_string(),
            Complete::Words(w) => format!("({})", w.join(" ")),
            Complete::Any => " ".to_string(),
        };
        let value = f.value.map(zsh_desc).unwrap_or_default();
        for s in f.spell {
            let name = s.text();
            let spec = match (s, f.value) {
                (_, None) => format!("'{name}[{desc}]'"),
                (Spell::Level(_), Some(_)) => format!("'*{name}[{desc}]'"),
                (Spell::Optional(_), Some(_)) => format!("'{name}-[{desc}]::{value}:{action}'"),
                (Spell::Glued(_), Some(_)) => format!("'{name}+[{desc}]:{value}:{action}'"),
                (_, Some(_)) => format!("'*{name}=[{desc}]:{value}:{action}'"),
            };
            let _ = writeln!(out, "    {spec} \\");
        }
    }
}

fn zsh() -> String {
    let subs = subs();
    let mut s = String::from(
        "#compdef vigie\n\
         # zsh completion for vigie (vigie --generate complete-zsh)\n\
         _vigie() {\n",
    );
    for sc in &subs {
        let rest = match sc.rest {
            Rest::Files => "    '*:file:_files'\n".to_string(),
            Rest::Words(w) => format!("    '1:subcommand:({w})' \\\n    '*:argument: '\n"),
            Rest::Nothing => "\n".to_string(),
        };
        let _ = write!(
            s,
            "  if [[ ${{words[2]}} == {} ]] && (( CURRENT > 2 )); then\n\
             \x20   shift words; (( CURRENT-- ))\n\
             \x20   _arguments -s \\\n\
             {}{rest}\
             \x20   return\n\
             \x20 fi\n",
            sc.name, sc.zsh
        );
    }
    s.push_str("  _arguments -s \\\n");
    zsh_specs(&TABLE, &mut s);
    let _ = write!(
        s,
        "    '1:target or subcommand:({})' \\\n\
         \x20   '*:target:_hosts'\n\
         }}\n\
         _vigie \"$@\"\n",
        names(&subs)
    );
    s
}

/// A fish string in single quotes.
fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn fish_lines<O>(t: &Table<O>, cond: &str, out: &mut String) {
    for f in listed(t) {
        for s in f.spell {
            let bare = s.bare();
            let opt = match s {
                Spell::Long(_) => format!("-l {bare}"),
                _ if bare.chars().count() == 1 => format!("-s {bare}"),
                _ => format!("-o {bare}"),
            };
            let needs = f.value.is_some() && !matches!(s, Spell::Optional(_) | Spell::Level(_));
            let value = match (needs, f.complete) {
                (false, _) => String::new(),
                (true, Complete::File) => " -r -F".into(),
                (true, Complete::Words(w)) => format!(" -x -a {}", fish_quote(&w.join(" "))),
                (true, Complete::Any) => " -x".into(),
            };
            let _ = writeln!(
                out,
                "complete -c vigie -n {} {opt}{value} -d {}",
                fish_quote(cond),
                fish_quote(&summary(f.help))
            );
        }
    }
}

fn fish() -> String {
    let subs = subs();
    let all = names(&subs);
    let mut s = String::from(
        "# fish completion for vigie (vigie --generate complete-fish)\n\
         complete -c vigie -f\n",
    );
    for sc in &subs {
        let _ = writeln!(
            s,
            "complete -c vigie -n '__fish_use_subcommand' -a {} -d {}",
            sc.name,
            fish_quote(sc.about)
        );
    }
    let _ = writeln!(
        s,
        "complete -c vigie -n 'not __fish_seen_subcommand_from {all}' -a '(__fish_print_hostnames)'"
    );
    for sc in &subs {
        match sc.rest {
            Rest::Files => {
                let _ = writeln!(
                    s,
                    "complete -c vigie -n '__fish_seen_subcommand_from {}' -F",
                    sc.name
                );
            }
            Rest::Words(w) => {
                let _ = writeln!(
                    s,
                    "complete -c vigie -n '__fish_seen_subcommand_from {}; and not __fish_seen_subcommand_from {w}' -a {}",
                    sc.name,
                    fish_quote(w)
                );
            }
            Rest::Nothing => {}
        }
    }
    fish_lines(
        &TABLE,
        &format!("not __fish_seen_subcommand_from {all}"),
        &mut s,
    );
    for sc in &subs {
        s.push_str(&sc.fish);
    }
    s
}

/// A PowerShell string in single quotes.
fn ps_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A table's listed spellings, each with its summary.
fn pairs<O>(t: &Table<O>) -> Vec<(&'static str, String)> {
    listed(t)
        .flat_map(|f| f.spell.iter().map(move |sp| (sp.text(), summary(f.help))))
        .collect()
}

fn powershell() -> String {
    let subs = subs();
    let mut s = String::from(
        "# PowerShell completion for vigie (vigie --generate complete-powershell)\n\
         Register-ArgumentCompleter -Native -CommandName vigie -ScriptBlock {\n\
         \x20   param($wordToComplete, $commandAst, $cursorPosition)\n\
         \x20   $sub = if ($commandAst.CommandElements.Count -gt 1) { $commandAst.CommandElements[1].ToString() } else { '' }\n",
    );
    let list = |out: &mut String, var: &str, t_words: &[(&str, String)]| {
        let _ = writeln!(out, "    ${var} = @(");
        let items: Vec<String> = t_words
            .iter()
            .map(|(w, d)| format!("        @({}, {})", ps_quote(w), ps_quote(d)))
            .collect();
        out.push_str(&items.join(",\n"));
        out.push_str("\n    )\n");
    };
    list(&mut s, "scan", &pairs(&TABLE));
    for sc in &subs {
        list(&mut s, &format!("{}Flags", sc.name), &sc.pairs);
    }
    s.push_str("    $flags = switch ($sub) {\n");
    for sc in &subs {
        let _ = writeln!(s, "        '{0}' {{ ${0}Flags }}", sc.name);
    }
    s.push_str(
        "        default { $scan }\n\
         \x20   }\n\
         \x20   $flags | Where-Object { $_[0] -like \"$wordToComplete*\" } | ForEach-Object {\n\
         \x20       [System.Management.Automation.CompletionResult]::new($_[0], $_[0], 'ParameterName', $_[1])\n\
         \x20   }\n\
         }\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_escapes() {
        assert_eq!(roff("-p 1-2"), "\\-p 1\\-2");
        assert_eq!(roff(".x"), "\\&.x");
        assert_eq!(roff("a\\b"), "a\\eb");
        assert_eq!(roff("≥"), "\\[u2265]");
    }

    #[test]
    fn summaries_are_short() {
        assert_eq!(summary("RST: closed. More\nhere"), "RST: closed");
        assert_eq!(summary("a; b"), "a");
        let long = "word ".repeat(30);
        assert!(summary(&long).chars().count() <= 72);
        assert!(summary(&long).ends_with("..."));
    }

    #[test]
    fn zsh_descriptions_are_quoted() {
        assert_eq!(zsh_desc("a [b]: it's"), "a \\[b\\]\\: it'\\''s");
    }

    #[test]
    fn every_listed_flag_is_in_every_script() {
        for g in [
            Generate::Bash,
            Generate::Zsh,
            Generate::Fish,
            Generate::PowerShell,
        ] {
            let text = generate(g);
            for w in words(&TABLE) {
                let needle = match g {
                    Generate::Fish => {
                        let bare = w.trim_start_matches('-');
                        if w.starts_with("--") {
                            format!("-l {bare} ")
                        } else if bare.chars().count() == 1 {
                            format!("-s {bare} ")
                        } else {
                            format!("-o {bare} ")
                        }
                    }
                    _ => w.to_string(),
                };
                assert!(text.contains(&needle), "{g:?} lacks {w}");
            }
        }
    }
}
