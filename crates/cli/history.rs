//! The scan history: where the store is (`--db`, `VIGIE_DB`, the default),
//! recording a scan as it runs, and `vigie history [show ID]`.

use std::io::{self, Write};

use chrono::{DateTime, Local};
use vigie_report::write_report;
use vigie_store::{DbUrl, Filter, RunSummary, Store, StoredRun};

use super::{usage, Fail};
use crate::args::{self, MergeOut as Out};

/// The store a command uses: its `--db`, else `VIGIE_DB`, else the default
/// file. A bad URL is a usage error.
pub(crate) fn store_url(flag: Option<&str>) -> Result<DbUrl, Fail> {
    let env = std::env::var("VIGIE_DB").ok().filter(|v| !v.is_empty());
    let (url, from) = match (flag, env.as_deref()) {
        (Some(u), _) => (u, "--db"),
        (None, Some(u)) => (u, "VIGIE_DB"),
        (None, None) => return DbUrl::default_path().map_err(|e| usage(format!("history: {e}"))),
    };
    DbUrl::parse(url).map_err(|e| usage(format!("{from}: {e}")))
}

/// A store opened for writing a scan; a store that cannot be opened is a
/// usage error (exit 2), before anything is sent.
pub(crate) fn open_for_scan(url: &DbUrl) -> Result<Box<dyn Store>, Fail> {
    vigie_store::open_for_scan(url).map_err(|e| usage(format!("history: {e}")))
}

/// A store opened to read it, its dead writers' scans marked interrupted.
pub(crate) fn open_to_read(url: &DbUrl) -> Result<Box<dyn Store>, Fail> {
    let mut s = vigie_store::open_existing(url).map_err(|e| usage(format!("history: {e}")))?;
    s.reap()
        .map_err(|e| usage(format!("history: {}: {e}", url.display())))?;
    Ok(s)
}

/// One scan from the store, or a usage error naming it.
pub(crate) fn load(store: &mut dyn Store, id: i64) -> Result<StoredRun, Fail> {
    store
        .load(id)
        .map_err(|e| usage(format!("history: {}: {e}", store.describe())))
}

fn local(t: std::time::SystemTime) -> String {
    DateTime::<Local>::from(t)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The list, as `vigie history` prints it.
fn table(runs: &[RunSummary]) -> String {
    let mut out = String::new();
    let idw = runs
        .iter()
        .map(|r| r.id.to_string().len())
        .max()
        .unwrap_or(2)
        .max(2);
    let tw = runs
        .iter()
        .map(|r| r.technique.len())
        .max()
        .unwrap_or(9)
        .max(9);
    out.push_str(&format!(
        "{:>idw$}  {:<19}  {:<11}  {:<tw$}  {:>8}  {:>4}  TARGETS\n",
        "ID", "START", "STATUS", "TECHNIQUE", "HOSTS UP", "OPEN"
    ));
    for r in runs {
        out.push_str(&format!(
            "{:>idw$}  {:<19}  {:<11}  {:<tw$}  {:>8}  {:>4}  {}\n",
            r.id,
            local(r.start),
            r.status.as_str(),
            r.technique,
            r.hosts_up,
            r.open_ports,
            r.targets
        ));
    }
    out
}

/// `vigie history ARGS...`.
pub fn run(words: &[String]) -> Result<(), Fail> {
    let o = args::parse_history(words).map_err(|e| usage(e.0))?;
    if o.help {
        let _ = io::stdout()
            .lock()
            .write_all(args::history_help().as_bytes());
        return Ok(());
    }
    let url = store_url(o.db.as_deref())?;
    // No store yet where none was named: nothing recorded, not an error.
    let named = o.db.is_some() || std::env::var_os("VIGIE_DB").is_some_and(|v| !v.is_empty());
    if let (false, DbUrl::Sqlite(path)) = (named, &url) {
        if !path.exists() && o.show.is_none() {
            eprintln!(
                "vigie: history: no scan recorded yet ({} does not exist)",
                url.display()
            );
            return Ok(());
        }
    }
    let mut store = open_to_read(&url)?;
    let Some(id) = o.show else {
        let runs = store
            .list(&Filter {
                target: o.target.clone(),
                limit: o.limit,
                complete_only: false,
            })
            .map_err(|e| usage(format!("history: {}: {e}", store.describe())))?;
        if runs.is_empty() {
            eprintln!(
                "vigie: history: no scan recorded in {} yet",
                store.describe()
            );
            return Ok(());
        }
        let _ = io::stdout().lock().write_all(table(&runs).as_bytes());
        return Ok(());
    };
    let stored = load(store.as_mut(), id)?;
    let report = stored.report;
    let opts = crate::merge::writer_options(&report);
    let mut outs = o.outs;
    if outs.is_empty() {
        outs.push((Out::Normal, "-".into()));
    }
    let mut tee = crate::merge::writers(&outs, opts)?;
    match write_report(&report, &mut tee) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Fail::Runtime(format!("writing output: {e}")))
        }
        _ => Ok(()),
    }
}
