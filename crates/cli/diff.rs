//! `vigie diff [-v] [-oX FILE] [-oJ FILE] A B`: what changed between two
//! scans. A and B are `-oX` or `-oJ` outputs (vigie's, or nmap's `-oX`),
//! each read by its first byte, so the two may differ in format. The changes
//! go to stdout in ndiff's text, unless `-oX -` or `-oJ -` asks for that
//! format there instead; exit status 0 when nothing differs, 1 when
//! something does, 2 on an error (as diff and ndiff).

use std::io::{self, Write};

use vigie_report::{
    diff, read_report, write_diff_json_lines, write_diff_text, write_diff_xml, Report,
};

use super::{create, usage, Fail};

use crate::args::{self, DIFF_USAGE as USAGE};

/// One scan to compare, named by a word of the command line: today a file.
/// Returns the label the outputs name it by, and the report.
///
/// The scan history will name stored scans here too; until then a word
/// that is no file is a usage error.
pub(crate) fn load(word: &str) -> Result<(String, Report), Fail> {
    let path = std::path::Path::new(word);
    if !path.exists() {
        return Err(usage(format!(
            "diff: {word}: no such file (A and B are -oX or -oJ outputs)"
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| usage(format!("diff: cannot read {word}: {e}")))?;
    let (_, report) = read_report(&bytes).map_err(|e| usage(format!("diff: {word}: {e}")))?;
    Ok((word.to_owned(), report))
}

/// `vigie diff ARGS...`: Ok(true) when the scans differ.
pub fn run(args: &[String]) -> Result<bool, Fail> {
    let parsed = args::parse_diff(args).map_err(|e| usage(format!("diff: {}", e.0)))?;
    if parsed.help {
        let mut out = io::stdout().lock();
        let _ = out.write_all(args::diff_help().as_bytes());
        return Ok(false);
    }
    let [a, b] = parsed.inputs.as_slice() else {
        return Err(usage(USAGE));
    };
    let (la, ra) = load(a)?;
    let (lb, rb) = load(b)?;
    let d = diff(&ra, &rb);
    let to_stdout = |o: &Option<String>| o.as_deref() == Some("-");
    if to_stdout(&parsed.xml) && to_stdout(&parsed.json) {
        return Err(usage("diff: -oX - and -oJ - cannot both go to stdout"));
    }
    if let Some(path) = &parsed.xml {
        let mut w = create(path)?;
        written(
            path,
            write_diff_xml(&d, parsed.verbose, &mut w).and_then(|()| w.flush()),
        )?;
    }
    if let Some(path) = &parsed.json {
        let mut w = create(path)?;
        let labels = [la.as_str(), lb.as_str()];
        written(
            path,
            write_diff_json_lines(&d, labels, &mut w).and_then(|()| w.flush()),
        )?;
    }
    if !to_stdout(&parsed.xml) && !to_stdout(&parsed.json) {
        let mut out = io::stdout().lock();
        written(
            "-",
            write_diff_text(&d, parsed.verbose, &mut out).and_then(|()| out.flush()),
        )?;
    }
    Ok(!d.is_empty())
}

/// A failed write is an error of exit status 2 (1 means "they differ"); a
/// reader that went away (broken pipe) is none.
fn written(path: &str, r: io::Result<()>) -> Result<(), Fail> {
    match r {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            let name = if path == "-" { "stdout" } else { path };
            Err(usage(format!("diff: cannot write {name}: {e}")))
        }
        _ => Ok(()),
    }
}
