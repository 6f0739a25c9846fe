//! `vigie diff [-v] [-oX FILE] [-oJ FILE] [--db URL] [A [B]]`: what changed
//! between two scans. A and B are `-oX` or `-oJ` outputs (vigie's, or
//! nmap's `-oX`), each read by its first byte, so the two may differ in
//! format, or ids of scans in the history; with B left out, A is compared
//! with the newest complete scan of the same targets, with neither the last
//! two. The changes
//! go to stdout in ndiff's text, unless `-oX -` or `-oJ -` asks for that
//! format there instead; exit status 0 when nothing differs, 1 when
//! something does, 2 on an error (as diff and ndiff).

use std::io::{self, Write};

use vigie_report::{
    diff, read_report, write_diff_json_lines, write_diff_text, write_diff_xml, Report,
};

use super::{create, usage, Fail};

use crate::args::{self, DIFF_USAGE as USAGE};

/// Where stored scans come from: opened the first time a word needs it.
struct History {
    db: Option<String>,
    store: Option<Box<dyn vigie_store::Store>>,
}

impl History {
    fn store(&mut self) -> Result<&mut dyn vigie_store::Store, Fail> {
        if self.store.is_none() {
            let url = crate::history::store_url(self.db.as_deref())?;
            self.store = Some(crate::history::open_to_read(&url)?);
        }
        Ok(self.store.as_deref_mut().expect("opened above"))
    }

    /// Scan `id`, labelled `scan ID`.
    fn scan(&mut self, id: i64) -> Result<(String, Report, String), Fail> {
        let stored = crate::history::load(self.store()?, id)?;
        Ok((format!("scan {id}"), stored.report, stored.summary.targets))
    }
}

/// One scan to compare, named by a word of the command line: a file if
/// there is one of that name, else the id of a stored scan. Returns the
/// label the outputs name it by, the report, and (stored scans) the targets.
fn load(word: &str, history: &mut History) -> Result<(String, Report, Option<String>), Fail> {
    let path = std::path::Path::new(word);
    if !path.exists() {
        return match word.parse::<i64>() {
            Ok(id) if id > 0 => history.scan(id).map(|(l, r, t)| (l, r, Some(t))),
            _ => Err(usage(format!(
                "diff: {word}: no such file or scan id (A and B are -oX or -oJ outputs, or ids from vigie history)"
            ))),
        };
    }
    let bytes = std::fs::read(path).map_err(|e| usage(format!("diff: cannot read {word}: {e}")))?;
    let (_, report) = read_report(&bytes).map_err(|e| usage(format!("diff: {word}: {e}")))?;
    Ok((word.to_owned(), report, None))
}

/// The two scans the words name: A and B; A and the newest other complete
/// scan of its targets (the older of the two first); or the last two
/// complete scans of the same targets.
fn inputs(words: &[String], history: &mut History) -> Result<[(String, Report); 2], Fail> {
    match words {
        [a, b] => {
            let (la, ra, _) = load(a, history)?;
            let (lb, rb, _) = load(b, history)?;
            Ok([(la, ra), (lb, rb)])
        }
        [a] => {
            let (la, ra, targets) = load(a, history)?;
            let Some(targets) = targets else {
                return Err(usage(format!(
                    "diff: {a} is a file: name the other scan too (vigie diff A B)"
                )));
            };
            let id: i64 = a.parse().unwrap_or(0);
            let store = history.store()?;
            let newer = store
                .list(&vigie_store::Filter {
                    complete_only: true,
                    ..Default::default()
                })
                .map_err(|e| usage(format!("diff: {}: {e}", store.describe())))?
                .into_iter()
                .find(|r| r.targets == targets && r.id != id)
                .map(|r| r.id)
                .ok_or_else(|| {
                    usage(format!(
                        "diff: no other complete scan of {targets} in the history to compare scan {id} with"
                    ))
                })?;
            let (lb, rb, _) = history.scan(newer)?;
            // The older scan first, whichever was named.
            Ok(match newer > id {
                true => [(la, ra), (lb, rb)],
                false => [(lb, rb), (la, ra)],
            })
        }
        _ => {
            let store = history.store()?;
            let (older, newer) = vigie_store::last_two(store)
                .map_err(|e| usage(format!("diff: {}: {e}", store.describe())))?
                .ok_or_else(|| {
                    usage("diff: the history has no two complete scans of the same targets (vigie history)")
                })?;
            let (la, ra, _) = history.scan(older)?;
            let (lb, rb, _) = history.scan(newer)?;
            Ok([(la, ra), (lb, rb)])
        }
    }
}

/// `vigie diff ARGS...`: Ok(true) when the scans differ.
pub fn run(args: &[String]) -> Result<bool, Fail> {
    let parsed = args::parse_diff(args).map_err(|e| usage(format!("diff: {}", e.0)))?;
    if parsed.help {
        let mut out = io::stdout().lock();
        let _ = out.write_all(args::diff_help().as_bytes());
        return Ok(false);
    }
    if parsed.inputs.len() > 2 {
        return Err(usage(USAGE));
    }
    let mut history = History {
        db: parsed.db.clone(),
        store: None,
    };
    let [(la, ra), (lb, rb)] = inputs(&parsed.inputs, &mut history)?;
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
