//! `vigie merge [-oX|-oJ|-oN|-oG FILE]... FILE...`: joins the outputs of the
//! shards of one scan (all XML from `-oX`, or all JSON Lines from `-oJ`;
//! told apart by their first byte) into one report, written by the same
//! writers as a scan. Without an output option the report goes to stdout in
//! the inputs' format.

use std::io;

use vigie_report::{
    merge, read_report, write_report, Format, GrepWriter, JsonLinesWriter, NormalWriter, Options,
    Report, Scanner, Sink, Tee, XmlWriter,
};

use super::{create, usage, Fail};

use crate::args::{self, MergeOut as Out, MERGE_USAGE as USAGE};

/// Read every input, refuse a mix of formats, merge.
fn read_all(files: &[String]) -> Result<(Format, Report), String> {
    let mut format: Option<(Format, &str)> = None;
    let mut reports = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| format!("cannot read {f}: {e}"))?;
        let (kind, report) = read_report(&bytes).map_err(|e| format!("{f}: {e}"))?;
        if report.origin.scanner != Scanner::Vigie {
            return Err(format!(
                "{f}: written by {}: vigie merge joins the shards of a vigie scan",
                report.origin.scanner.as_str()
            ));
        }
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
pub(crate) fn writer_options(report: &Report) -> Options {
    // The recorded line read back by the scan's own parser (quoted words
    // split as they were joined); a line it cannot read sets neither.
    let words: Vec<String> = report
        .run
        .args
        .split_whitespace()
        .map(|w| w.trim_matches('"').to_string())
        .collect();
    let (reason, open_only) = match args::parse_words(&words) {
        Ok(args::Command::Scan(o)) => (o.reason, o.open),
        _ => {
            let has = |flag: &str| words.iter().any(|a| a == flag);
            (has("--reason"), has("--open"))
        }
    };
    Options {
        reason,
        open_only,
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
    let parsed = args::parse_merge(args).map_err(|e| usage(format!("merge: {e}")))?;
    if parsed.help {
        let help = args::merge_help();
        let mut out = io::stdout().lock();
        let _ = io::Write::write_all(&mut out, help.as_bytes());
        return Ok(());
    }
    let (mut outs, files) = (parsed.outs, parsed.files);
    let (kind, mut report) = read_all(&files).map_err(usage)?;
    report.run.args = without_shard(&report.run.args);
    if outs.is_empty() {
        let k = match kind {
            Format::Xml => Out::Xml,
            Format::JsonLines => Out::Json,
        };
        outs.push((k, "-".into()));
    }
    let mut tee = writers(&outs, writer_options(&report))?;
    write_report(&report, &mut tee).map_err(|e: io::Error| Fail::Runtime(e.to_string()))
}

/// The writers of a report read back (`vigie merge`, `vigie history
/// show`): one per output asked for, `-` being stdout.
pub(crate) fn writers(outs: &[(Out, String)], opts: Options) -> Result<Tee, Fail> {
    let mut sinks: Vec<Box<dyn Sink + Send>> = Vec::new();
    for (k, path) in outs {
        let w = create(path)?;
        sinks.push(match k {
            Out::Xml => Box::new(XmlWriter::new(w, opts)),
            Out::Json => Box::new(JsonLinesWriter::new(w)),
            Out::Normal if path == "-" => Box::new(NormalWriter::new(w, opts)),
            Out::Normal => Box::new(NormalWriter::new_file(w, opts)),
            Out::Grep => Box::new(GrepWriter::new(w, opts)),
        });
    }
    Ok(Tee::new(sinks))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
