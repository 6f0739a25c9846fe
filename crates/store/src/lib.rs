//! vigie's scan history: every scan kept in one store, read back by
//! `vigie history`, `vigie history show` and `vigie diff`.
//!
//! One schema (`docs/history.md`, [`schema`]) behind one trait, [`Store`],
//! with two back-ends: SQLite, embedded, the default (`sqlite:PATH`,
//! `$XDG_DATA_HOME/vigie/history.db`), and PostgreSQL for a team whose
//! scanners share one store (`postgres://user@host:port/db`).
//!
//! A scan is written as it runs: [`Store::begin_run`] records the run as
//! `running`, [`Store::add_hosts`] writes each batch of hosts in one
//! transaction, [`Store::finish_run`] marks it `complete` or `interrupted`.
//! A scan killed outright (`kill -9`) leaves its row `running`; the next
//! reader finds its writer gone ([`Store::reap`]) and marks it
//! `interrupted`. Earlier scans are never touched by a later one.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use vigie_report::{Report, RunInfo, RunStats};

mod copy;
mod load;
mod postgres;
mod record;
mod rows;
pub mod schema;
mod sql;
mod sqlite;
mod writer;

pub use record::{Recorder, BATCH};
pub use rows::RANGE_MIN;
#[doc(hidden)]
pub use sqlite::fuzz_load;

/// Why the store could not do what was asked. Every message is one line.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("bad database URL {url:?}: {why}")]
    Url { url: String, why: String },
    #[error("{what}: {why}")]
    Open { what: String, why: String },
    #[error("{0}")]
    Sqlite(String),
    #[error("{0}")]
    Postgres(String),
    #[error("the store was written by a newer vigie (schema {found}, this one knows {known})")]
    NewerSchema { found: i64, known: i64 },
    #[error("no scan {0} in the store")]
    NoSuchRun(i64),
    #[error("scan {id}: bad row in the store: {why}")]
    Corrupt { id: i64, why: String },
}

fn one_line(s: impl std::fmt::Display) -> String {
    s.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(one_line(e))
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> StoreError {
        // The server's own message says more than the client's summary.
        let text = match e.as_db_error() {
            Some(db) => db.message().to_owned(),
            None => e.to_string(),
        };
        StoreError::Postgres(one_line(text))
    }
}

/// Where the history lives: `sqlite:PATH` or a PostgreSQL URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(PathBuf),
    /// `postgres://…` / `postgresql://…`, as libpq spells it.
    Postgres(String),
}

impl DbUrl {
    /// `sqlite:PATH`, `postgres://…` or `postgresql://…`.
    pub fn parse(s: &str) -> Result<DbUrl, StoreError> {
        let bad = |why: &str| StoreError::Url {
            url: s.to_owned(),
            why: why.to_owned(),
        };
        if let Some(path) = s.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(bad("sqlite: needs a file path (sqlite:PATH)"));
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            s.parse::<::postgres::Config>()
                .map_err(|e| bad(&one_line(e)))?;
            return Ok(DbUrl::Postgres(s.to_owned()));
        }
        Err(bad("expected sqlite:PATH or postgres://user@host:port/db"))
    }

    /// The default store: `$XDG_DATA_HOME/vigie/history.db`, else
    /// `~/.local/share/vigie/history.db`.
    pub fn default_path() -> Result<DbUrl, StoreError> {
        let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
            _ => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                Some(h) => Path::new(&h).join(".local/share"),
                None => {
                    return Err(StoreError::Open {
                        what: "history".into(),
                        why: "neither XDG_DATA_HOME nor HOME is set (use --db or --no-history)"
                            .into(),
                    })
                }
            },
        };
        Ok(DbUrl::Sqlite(base.join("vigie").join("history.db")))
    }

    /// How the URL is shown to the user: the password, if any, hidden.
    pub fn display(&self) -> String {
        match self {
            DbUrl::Sqlite(p) => format!("sqlite:{}", p.display()),
            DbUrl::Postgres(u) => hide_password(u),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (auth, tail) = match rest.find('@') {
        Some(at) => rest.split_at(at),
        None => return url.to_owned(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{tail}"),
        None => url.to_owned(),
    }
}

/// Open (creating if need be) the store `url` names, its schema brought up
/// to date.
pub fn open(url: &DbUrl) -> Result<Box<dyn Store>, StoreError> {
    open_as(url, false)
}

/// Open the store a scan records into (SQLite: a connection that leaves
/// checkpoints to the readers; see `docs/history.md`).
pub fn open_for_scan(url: &DbUrl) -> Result<Box<dyn Store>, StoreError> {
    open_as(url, true)
}

fn open_as(url: &DbUrl, scan: bool) -> Result<Box<dyn Store>, StoreError> {
    match url {
        DbUrl::Sqlite(path) => Ok(Box::new(sqlite::Sqlite::open(path, scan)?)),
        DbUrl::Postgres(u) => Ok(Box::new(postgres::Postgres::open(u)?)),
    }
}

/// Open a store only to read it: a SQLite file that does not exist is an
/// error, not a new empty store.
pub fn open_existing(url: &DbUrl) -> Result<Box<dyn Store>, StoreError> {
    if let DbUrl::Sqlite(path) = url {
        if !path.exists() {
            return Err(StoreError::Open {
                what: url.display(),
                why: "no such file (no scan recorded yet?)".into(),
            });
        }
    }
    open(url)
}

/// How a recorded scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Being written now (or its writer died and no reader has noticed yet).
    Running,
    Complete,
    /// Stopped by Ctrl-C, an error, or killed.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Complete => "complete",
            RunStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        [
            RunStatus::Running,
            RunStatus::Complete,
            RunStatus::Interrupted,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What is known of a scan when it starts, beyond its [`RunInfo`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMeta {
    pub info: RunInfo,
    /// The targets as given, space-separated (`198.18.0.0/24 -iL list`).
    pub targets: String,
    /// The probe-order seed, so the scan can be repeated exactly.
    pub seed: u64,
}

impl RunMeta {
    /// The techniques, nmap's words joined: `syn`, `syn,udp`, `ping`.
    pub fn technique(&self) -> String {
        if self.info.scans.is_empty() {
            return "ping".into();
        }
        self.info
            .scans
            .iter()
            .map(|s| s.technique.nmap_name())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One line of `vigie history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub id: i64,
    pub start: SystemTime,
    pub end: Option<SystemTime>,
    pub status: RunStatus,
    pub args: String,
    pub targets: String,
    pub technique: String,
    pub hosts_up: u64,
    pub open_ports: u64,
}

/// A stored scan, whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    pub summary: RunSummary,
    pub seed: u64,
    /// As if just run: writable by every writer, comparable by the diff.
    pub report: Report,
}

/// Which scans `vigie history` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Scans whose targets include this word, or that found this address.
    pub target: Option<String>,
    /// The newest N; all when `None`.
    pub limit: Option<u64>,
    /// Only complete scans.
    pub complete_only: bool,
}

/// One store. Every method is one transaction: a failure leaves the store as
/// it was.
pub trait Store: Send {
    /// Record a new scan as `running`; its id.
    fn begin_run(&mut self, meta: &RunMeta) -> Result<i64, StoreError>;
    /// Write hosts of a running scan, each with its `seq` (its place in
    /// the scan's output order, unique in the run), in one transaction.
    fn add_hosts(
        &mut self,
        run: i64,
        hosts: &[(i64, &vigie_report::HostReport)],
    ) -> Result<(), StoreError>;
    /// The end of a scan: its totals and how it ended.
    fn finish_run(
        &mut self,
        run: i64,
        stats: &RunStats,
        status: RunStatus,
    ) -> Result<(), StoreError>;
    /// Upkeep a scan's writer does when it starts, while the scan runs and
    /// before its first hosts (SQLite: the log's checkpoint, once it has
    /// passed 64 MB).
    fn upkeep(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Mark `interrupted` the scans still `running` whose writer is gone.
    fn reap(&mut self) -> Result<(), StoreError>;
    /// Stored scans, newest first.
    fn list(&mut self, filter: &Filter) -> Result<Vec<RunSummary>, StoreError>;
    /// One scan, whole.
    fn load(&mut self, id: i64) -> Result<StoredRun, StoreError>;
    /// Where this store is, as shown to the user.
    fn describe(&self) -> String;
}

/// The newest complete scan and the complete scan of the same targets just
/// before it (`vigie diff` with no argument): (older, newer).
pub fn last_two(store: &mut dyn Store) -> Result<Option<(i64, i64)>, StoreError> {
    let all = store.list(&Filter {
        complete_only: true,
        ..Filter::default()
    })?;
    let Some(newest) = all.first() else {
        return Ok(None);
    };
    Ok(all[1..]
        .iter()
        .find(|r| r.targets == newest.targets)
        .map(|older| (older.id, newest.id)))
}

/// Unix microseconds (negative before 1970).
pub(crate) fn to_us(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn from_us(us: i64) -> SystemTime {
    if us >= 0 {
        UNIX_EPOCH + Duration::from_micros(us as u64)
    } else {
        UNIX_EPOCH - Duration::from_micros(us.unsigned_abs())
    }
}

pub(crate) fn dur_us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// `target` as an address, for matching the hosts a scan found.
pub(crate) fn target_addr(target: &str) -> Option<String> {
    target.parse::<IpAddr>().ok().map(|a| a.to_string())
}
