//! `vigie merge [-oX|-oJ|-oN|-oG FILE]... FILE...`: joins the outputs of the
//! shards of one scan (all XML from `-oX`, or all JSON Lines from `-oJ`;
//! told apart by their first byte) into one report, written by the same
//! writers as a scan. Without an output option the report goes to stdout in
//! the inputs' format.

use std::io;

use vigie_report::{
    merge, read_report, write_report, Format, GrepWriter, JsonLinesWriter, NormalWriter, Options,
    Report, Sink, Tee, XmlWriter,
};

use super::{create, usage, Fail};

const USAGE: &str =
    "usage: vigie merge [-oX|-oJ|-oN|-oG FILE]... FILE... (the -oX or -oJ outputs of the shards)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Xml,
    Json,
    Normal,
    Grep,
}

/// The outputs asked for (kind, path) and the input files.
type Parsed = (Vec<(Out, String)>, Vec<String>);

/// Split `vigie merge`'s arguments into outputs and input files.
fn parse_args(args: &[String]) -> Result<Parsed, String> {
    let mut outs = Vec::new();
    let mut files = Vec::new();
    let mut it = args.iter();
    let mut only_files = false;
    while let Some(a) = it.next() {
        if only_files || a == "-" || !a.starts_with('-') {
            files.push(a.clone());
            continue;
        }
        let kind = match a.as_str() {
            "--" => {
                only_files = true;
                continue;
            }
            "-oX" => Out::Xml,
            "-oJ" => Out::Json,
            "-oN" => Out::Normal,
            "-oG" => Out::Grep,
            _ => return Err(format!("merge: unknown option {a} ({USAGE})")),
        };
        let path = it
            .next()
            .ok_or_else(|| format!("merge: {a} needs a file name (- for stdout)"))?;
        outs.push((kind, path.clone()));
    }
    if files.is_empty() {
        return Err(USAGE.into());
    }
    Ok((outs, files))
}

/// Read every input, refuse a mix of formats, merge.
fn read_all(files: &[String]) -> Result<(Format, Report), String> {
    let mut format: Option<(Format, &str)> = None;
    let mut reports = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| format!("cannot read {f}: {e}"))?;
        let (kind, report) = read_report(&bytes).map_err(|e| format!("{f}: {e}"))?;
        match format {
            Some((k, g)) if k != kind => {
                return Err(format!(
                    "cannot merge {} ({g}) with {} ({f}): all inputs must be -oX or all -oJ",
                    k.as_str(),
                    kind.as_str()
                ))
            }
            Some(_) => {}
            None => format = Some((kind, f)),
        }
        reports.push((f.clone(), report));
    }
    let (kind, _) = format.ok_or(USAGE)?;
    Ok((kind, merge(reports).map_err(|e| e.to_string())?))
}

/// The writers' switches, as the shards were run: `-v` from the recorded
/// verbosity, `--reason` / `--open` from the recorded command line.
fn writer_options(report: &Report) -> Options {
    let has = |flag: &str| report.run.args.split_whitespace().any(|a| a == flag);
    Options {
        reason: has("--reason"),
        open_only: has("--open"),
        verbose: report.run.verbose,
    }
}

/// The shards' command line without its `--shard i/N`: the command of the
/// whole scan (the first shard's output options stay).
fn without_shard(args: &str) -> String {
    let mut out = String::with_capacity(args.len());
    let mut rest = args;
    while let Some(i) = rest.find("--shard") {
        let at_word = i == 0 || rest[..i].ends_with(' ');
        let tail = &rest[i + "--shard".len()..];
        let value = if let Some(v) = tail.strip_prefix('=') {
            Some(v)
        } else {
            tail.strip_prefix(' ')
        };
        match value {
            Some(v) if at_word => {
                let end = v.find(' ').unwrap_or(v.len());
                out.push_str(rest[..i].trim_end_matches(' '));
                rest = &v[end..];
            }
            _ => {
                out.push_str(&rest[..i + "--shard".len()]);
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `vigie merge ARGS...`.
pub fn run(args: &[String]) -> Result<(), Fail> {
    let (mut outs, files) = parse_args(args).map_err(usage)?;
    let (kind, mut report) = read_all(&files).map_err(usage)?;
    report.run.args = without_shard(&report.run.args);
    if outs.is_empty() {
        let k = match kind {
            Format::Xml => Out::Xml,
            Format::JsonLines => Out::Json,
        };
        outs.push((k, "-".into()));
    }
    let opts = writer_options(&report);
    let mut sinks: Vec<Box<dyn Sink + Send>> = Vec::new();
    for (k, path) in &outs {
        let w = create(path)?;
        sinks.push(match k {
            Out::Xml => Box::new(XmlWriter::new(w, opts)),
            Out::Json => Box::new(JsonLinesWriter::new(w)),
            Out::Normal if path == "-" => Box::new(NormalWriter::new(w, opts)),
            Out::Normal => Box::new(NormalWriter::new_file(w, opts)),
            Out::Grep => Box::new(GrepWriter::new(w, opts)),
        });
    }
    let mut tee = Tee::new(sinks);
    write_report(&report, &mut tee).map_err(|e: io::Error| Fail::Runtime(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn shard_option_dropped_from_the_command_line() {
        assert_eq!(
            without_shard("vigie -p- --seed 7 --shard 0/3 -oX s0.xml 198.18.0.2"),
            "vigie -p- --seed 7 -oX s0.xml 198.18.0.2"
        );
        assert_eq!(without_shard("vigie --shard=2/3 -n"), "vigie -n");
        assert_eq!(without_shard("vigie -n --shard 1/2"), "vigie -n");
        assert_eq!(
            without_shard("vigie -oX a--shard 1/2"),
            "vigie -oX a--shard 1/2"
        );
        assert_eq!(without_shard("vigie -p 80"), "vigie -p 80");
    }

    #[test]
    fn arguments() {
        let (outs, files) = parse_args(&s(&["-oX", "m.xml", "a", "-oJ", "-", "b"])).unwrap();
        assert_eq!(
            outs,
            vec![(Out::Xml, "m.xml".into()), (Out::Json, "-".into())]
        );
        assert_eq!(files, s(&["a", "b"]));
        let (outs, files) = parse_args(&s(&["--", "-oX"])).unwrap();
        assert!(outs.is_empty());
        assert_eq!(files, s(&["-oX"]));
        assert!(parse_args(&[]).is_err());
        assert!(parse_args(&s(&["-oX"])).is_err());
        assert!(parse_args(&s(&["-oX", "m.xml"])).is_err());
        assert!(parse_args(&s(&["-x", "a"])).is_err());
    }
}
