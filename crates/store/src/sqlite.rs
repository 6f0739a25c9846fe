//! The embedded back-end: one SQLite file, WAL mode and a busy timeout so
//! that scans running at once all land (each write transaction waits its
//! turn; readers never block writers).

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::ToSql;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use vigie_report::{HostReport, RunStats};

use crate::rows::{assemble, Batch, GroupRow, HostRow, PortRow, RangeRow, ServiceRow};
use crate::{dur_us, to_us, StoredRun};
use crate::{schema, sql, writer, Filter, RunMeta, RunStatus, RunSummary, Store, StoreError};

/// The log size past which a scan's writer checkpoints it when it starts.
const WAL_LIMIT: u64 = 64 << 20;

/// `history.db` → `history.db-wal`.
fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

/// How long a writer waits for another's transaction before giving up.
const BUSY: Duration = Duration::from_secs(60);

pub(crate) struct Sqlite {
    conn: Connection,
    path: PathBuf,
    /// The log had passed [`WAL_LIMIT`] when this scan's connection opened.
    checkpoint_due: bool,
}

impl Sqlite {
    /// `scan`: the connection writes a scan, and never checkpoints while it
    /// does (see [`Sqlite::setup`]).
    pub fn open(path: &Path, scan: bool) -> Result<Sqlite, StoreError> {
        let what = format!("sqlite:{}", path.display());
        let fail = |why: String| StoreError::Open {
            what: what.clone(),
            why,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| fail(crate::one_line(e)))?;
        let mut s = Sqlite {
            conn,
            path: path.to_owned(),
            checkpoint_due: false,
        };
        s.setup(scan).map_err(|e| fail(e.to_string()))?;
        Ok(s)
    }

    /// WAL mode, `synchronous = NORMAL`: a commit is a write to the log,
    /// not an fsync. A scan's connection also never checkpoints (no
    /// autocheckpoint, none on close): a checkpoint fsyncs, and on ext4 an
    /// fsync also forces out the scan's own output files still in the page
    /// cache. The log is checkpointed by the readers (`vigie history`,
    /// `vigie diff`: the last connection to close does it) and, so that it
    /// cannot grow without bound, by a scan's writer when it starts, if the
    /// log had passed [`WAL_LIMIT`] (while the scan sends, before any of
    /// its hosts is written).
    fn setup(&mut self, scan: bool) -> Result<(), StoreError> {
        self.conn.busy_timeout(BUSY)?;
        // Reading the header is where a file that is not a database fails.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        // An in-memory store (the fuzz target's) has no WAL to use.
        if !mode.eq_ignore_ascii_case("wal") && self.path != Path::new(":memory:") {
            return Err(StoreError::Sqlite(format!(
                "cannot use WAL mode (journal mode is {mode})"
            )));
        }
        self.conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536;",
        )?;
        self.migrate()?;
        if scan {
            let wal = std::fs::metadata(wal_path(&self.path)).map_or(0, |m| m.len());
            self.checkpoint_due = wal > WAL_LIMIT;
            self.conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
            self.conn
                .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        }
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch("CREATE TABLE IF NOT EXISTS vigie_schema (version INTEGER NOT NULL)")?;
        let found: Option<i64> = tx
            .query_row("SELECT MAX(version) FROM vigie_schema", [], |r| r.get(0))
            .optional()?
            .flatten();
        let found = found.unwrap_or(0);
        if found > schema::VERSION {
            return Err(StoreError::NewerSchema {
                found,
                known: schema::VERSION,
            });
        }
        for (i, m) in schema::SQLITE.iter().enumerate().skip(found as usize) {
            tx.execute_batch(m)?;
            tx.execute("DELETE FROM vigie_schema", [])?;
            tx.execute(
                "INSERT INTO vigie_schema (version) VALUES (?1)",
                [i as i64 + 1],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn summary(r: &rusqlite::Row<'_>) -> rusqlite::Result<(RunSummaryRow, i64)> {
        Ok((
            RunSummaryRow {
                id: r.get(0)?,
                started: r.get(1)?,
                ended: r.get(2)?,
                status: r.get(3)?,
                args: r.get(4)?,
                targets: r.get(5)?,
                technique: r.get(6)?,
                hosts_up: r.get(7)?,
                open_ports: r.get(8)?,
            },
            0,
        ))
    }
}

/// A `runs` row as read, before its words are checked.
pub(crate) struct RunSummaryRow {
    pub id: i64,
    pub started: i64,
    pub ended: Option<i64>,
    pub status: String,
    pub args: String,
    pub targets: String,
    pub technique: String,
    pub hosts_up: i64,
    pub open_ports: i64,
}

impl RunSummaryRow {
    pub fn check(self) -> Result<RunSummary, StoreError> {
        let status = RunStatus::parse(&self.status).ok_or_else(|| StoreError::Corrupt {
            id: self.id,
            why: format!("unknown status {:?}", self.status),
        })?;
        Ok(RunSummary {
            id: self.id,
            start: crate::from_us(self.started),
            end: self.ended.map(crate::from_us),
            status,
            args: self.args,
            targets: self.targets,
            technique: self.technique,
            hosts_up: self.hosts_up.max(0) as u64,
            open_ports: self.open_ports.max(0) as u64,
        })
    }
}

/// The rest of a `runs` row `load` needs.
pub(crate) struct RunRest {
    pub seed: String,
    pub verbose: i64,
    pub elapsed_us: Option<i64>,
    pub hosts_down: Option<i64>,
    pub hosts_total: Option<i64>,
}

/// Rows inserted [`ROWS_PER_INSERT`] to a statement: a sweep writes two
/// rows a host, and one statement a row is most of its cost.
fn insert_many<'a, const N: usize>(
    tx: &rusqlite::Transaction<'_>,
    into: &str,
    rows: impl Iterator<Item = [&'a dyn ToSql; N]>,
) -> Result<(), StoreError> {
    let statement = |n: usize| {
        let one = format!("({})", vec!["?"; N].join(", "));
        format!("INSERT INTO {into} VALUES {}", vec![one; n].join(", "))
    };
    // Spelled once: every full chunk runs the same statement.
    let full = statement(ROWS_PER_INSERT);
    let mut params: Vec<&dyn ToSql> = Vec::with_capacity(N * ROWS_PER_INSERT);
    let mut n = 0;
    let flush = |params: &mut Vec<&dyn ToSql>, n: &mut usize| -> Result<(), StoreError> {
        if *n > 0 {
            let sql = match *n {
                ROWS_PER_INSERT => std::borrow::Cow::Borrowed(full.as_str()),
                n => std::borrow::Cow::Owned(statement(n)),
            };
            tx.prepare_cached(&sql)?
                .execute(rusqlite::params_from_iter(params.iter()))?;
            params.clear();
            *n = 0;
        }
        Ok(())
    };
    for row in rows {
        params.extend_from_slice(&row);
        n += 1;
        if n == ROWS_PER_INSERT {
            flush(&mut params, &mut n)?;
        }
    }
    flush(&mut params, &mut n)
}

const ROWS_PER_INSERT: usize = 64;

/// A `scans` row.
pub(crate) type ScanRow = (String, String, String, Option<String>);

impl Store for Sqlite {
    fn upkeep(&mut self) -> Result<(), StoreError> {
        if std::mem::take(&mut self.checkpoint_due) {
            // Without waiting: a concurrent scan writing would hold this
            // one's hosts back for as long as it writes.
            self.conn.busy_timeout(Duration::ZERO)?;
            let done = self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            self.conn.busy_timeout(BUSY)?;
            done?;
        }
        Ok(())
    }

    fn begin_run(&mut self, meta: &RunMeta) -> Result<i64, StoreError> {
        let (host, pid, start) = writer::me();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id: i64 = tx.query_row(
            sql::INSERT_RUN,
            params![
                vigie_report::NAME,
                vigie_report::VERSION,
                meta.info.args,
                meta.targets,
                meta.technique(),
                meta.seed.to_string(),
                i64::from(meta.info.verbose),
                to_us(meta.info.start),
                host,
                i64::from(pid),
                start,
            ],
            |r| r.get(0),
        )?;
        for (i, s) in meta.info.scans.iter().enumerate() {
            tx.execute(
                sql::INSERT_SCAN,
                params![
                    id,
                    i as i64,
                    s.technique.nmap_name(),
                    s.proto.as_str(),
                    s.ports.to_nmap_string(),
                    s.scanflags,
                ],
            )?;
        }
        tx.commit()?;
        Ok(id)
    }

    fn add_hosts(&mut self, run: i64, hosts: &[(i64, &HostReport)]) -> Result<(), StoreError> {
        let mut b = Batch::default();
        for (seq, h) in hosts {
            b.push(*seq, h);
        }
        b.group();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            insert_many(
                &tx,
                "hosts (run_id, seq, addr, hostname, mac, up, reason, ttl, latency_us, start_us, \
                 end_us, srtt_us, rttvar_us, timeout_us)",
                b.hosts.iter().map(|h| -> [&dyn ToSql; 14] {
                    [
                        &run,
                        &h.seq,
                        &h.addr,
                        &h.hostname,
                        &h.mac,
                        &h.up,
                        &h.reason,
                        &h.ttl,
                        &h.latency_us,
                        &h.start_us,
                        &h.end_us,
                        &h.srtt_us,
                        &h.rttvar_us,
                        &h.timeout_us,
                    ]
                }),
            )?;
            insert_many(
                &tx,
                "ports (run_id, seq, proto, port, state, reason, ttl, service)",
                b.ports.iter().map(|p| -> [&dyn ToSql; 8] {
                    [
                        &run, &p.seq, &p.proto, &p.port, &p.state, &p.reason, &p.ttl, &p.service,
                    ]
                }),
            )?;
            let mut st = tx.prepare_cached(
                "INSERT INTO port_hosts (run_id, proto, port, state, reason, ttl, service, hosts, \
                 seqs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for g in &b.groups {
                st.execute(params![
                    run,
                    g.proto,
                    g.port,
                    g.state,
                    g.reason,
                    g.ttl,
                    g.service,
                    g.hosts,
                    crate::rows::seqs_text(&g.seqs)
                ])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT INTO port_ranges (run_id, seq, proto, state, reason, ttl, ports) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for r in &b.ranges {
                st.execute(params![
                    run, r.seq, r.proto, r.state, r.reason, r.ttl, r.ports
                ])?;
            }
            let mut st = tx.prepare_cached(
                "INSERT INTO services (run_id, seq, proto, port, name, product, version, \
                 extrainfo, hostname, ostype, devicetype, tunnel, conf, cpe, tls_version, \
                 tls_cipher, tls_alpn, tls_subject, tls_issuer, tls_sans, tls_not_before, \
                 tls_not_after, tls_key, tls_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
                 ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
            )?;
            for s in &b.services {
                st.execute(params![
                    run,
                    s.seq,
                    s.proto,
                    s.port,
                    s.name,
                    s.product,
                    s.version,
                    s.extrainfo,
                    s.hostname,
                    s.ostype,
                    s.devicetype,
                    s.tunnel,
                    s.conf,
                    s.cpe,
                    s.tls_version,
                    s.tls_cipher,
                    s.tls_alpn,
                    s.tls_subject,
                    s.tls_issuer,
                    s.tls_sans,
                    s.tls_not_before,
                    s.tls_not_after,
                    s.tls_key,
                    s.tls_sha256
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn finish_run(
        &mut self,
        run: i64,
        stats: &RunStats,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            sql::FINISH_RUN,
            params![
                run,
                to_us(stats.end),
                dur_us(stats.elapsed),
                status.as_str(),
                stats.hosts_up as i64,
                stats.hosts_down as i64,
                stats.hosts_total as i64,
            ],
        )?;
        Ok(())
    }

    fn reap(&mut self) -> Result<(), StoreError> {
        let running: Vec<(i64, String, i64, String)> = {
            let mut st = self.conn.prepare(sql::RUNNING)?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, host, pid, start) in running {
            if writer::gone(&host, pid, &start) {
                self.conn.execute(sql::MARK_INTERRUPTED, [id])?;
            }
        }
        Ok(())
    }

    fn list(&mut self, f: &Filter) -> Result<Vec<RunSummary>, StoreError> {
        let pattern = f.target.as_deref().map(sql::word_pattern);
        let addr = f.target.as_deref().and_then(crate::target_addr);
        let limit = f.limit.map(|n| n.min(i64::MAX as u64) as i64).unwrap_or(-1);
        let mut st = self.conn.prepare(sql::LIST)?;
        let rows = st.query_map(
            params![pattern, addr, f.complete_only, limit],
            Self::summary,
        )?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r?.0.check()?);
        }
        Ok(out)
    }

    fn load(&mut self, id: i64) -> Result<StoredRun, StoreError> {
        let tx = self.conn.transaction()?;
        let head = tx
            .query_row(sql::ONE_RUN, [id], |r| {
                let (s, _) = Sqlite::summary(r)?;
                Ok((
                    s,
                    RunRest {
                        seed: r.get(9)?,
                        verbose: r.get(10)?,
                        elapsed_us: r.get(11)?,
                        hosts_down: r.get(12)?,
                        hosts_total: r.get(13)?,
                    },
                ))
            })
            .optional()?
            .ok_or(StoreError::NoSuchRun(id))?;
        let scans: Vec<ScanRow> = {
            let mut st = tx.prepare(sql::SCANS)?;
            let rows = st.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let hosts: Vec<HostRow> = {
            let mut st = tx.prepare(sql::HOSTS)?;
            let rows = st.query_map([id], |r| {
                Ok(HostRow {
                    seq: r.get(0)?,
                    addr: r.get(1)?,
                    hostname: r.get::<_, Option<String>>(2)?.map(Cow::Owned),
                    mac: r.get(3)?,
                    up: r.get(4)?,
                    reason: Cow::Owned(r.get(5)?),
                    ttl: r.get(6)?,
                    latency_us: r.get(7)?,
                    start_us: r.get(8)?,
                    end_us: r.get(9)?,
                    srtt_us: r.get(10)?,
                    rttvar_us: r.get(11)?,
                    timeout_us: r.get(12)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let ports: Vec<PortRow> = {
            let mut st = tx.prepare(sql::PORTS)?;
            let rows = st.query_map([id], |r| {
                Ok(PortRow {
                    seq: r.get(0)?,
                    proto: Cow::Owned(r.get(1)?),
                    port: r.get(2)?,
                    state: Cow::Owned(r.get(3)?),
                    reason: Cow::Owned(r.get(4)?),
                    ttl: r.get(5)?,
                    service: r.get::<_, Option<String>>(6)?.map(Cow::Owned),
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let ranges: Vec<RangeRow> = {
            let mut st = tx.prepare(sql::RANGES)?;
            let rows = st.query_map([id], |r| {
                Ok(RangeRow {
                    seq: r.get(0)?,
                    proto: r.get(1)?,
                    state: r.get(2)?,
                    reason: r.get(3)?,
                    ttl: r.get(4)?,
                    ports: r.get(5)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let groups: Vec<(GroupRow, String)> = {
            let mut st = tx.prepare(sql::GROUPS)?;
            let rows = st.query_map([id], |r| {
                Ok((
                    GroupRow {
                        proto: Cow::Owned(r.get(0)?),
                        port: r.get(1)?,
                        state: Cow::Owned(r.get(2)?),
                        reason: Cow::Owned(r.get(3)?),
                        ttl: r.get(4)?,
                        service: r.get::<_, Option<String>>(5)?.map(Cow::Owned),
                        hosts: r.get(6)?,
                        seqs: Vec::new(),
                    },
                    r.get::<_, String>(7)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let services: Vec<ServiceRow> = {
            let mut st = tx.prepare(sql::SERVICES)?;
            let rows = st.query_map([id], |r| {
                Ok(ServiceRow {
                    seq: r.get(0)?,
                    proto: r.get(1)?,
                    port: r.get(2)?,
                    name: r.get(3)?,
                    product: r.get(4)?,
                    version: r.get(5)?,
                    extrainfo: r.get(6)?,
                    hostname: r.get(7)?,
                    ostype: r.get(8)?,
                    devicetype: r.get(9)?,
                    tunnel: r.get(10)?,
                    conf: r.get(11)?,
                    cpe: r.get(12)?,
                    tls_version: r.get(13)?,
                    tls_cipher: r.get(14)?,
                    tls_alpn: r.get(15)?,
                    tls_subject: r.get(16)?,
                    tls_issuer: r.get(17)?,
                    tls_sans: r.get(18)?,
                    tls_not_before: r.get(19)?,
                    tls_not_after: r.get(20)?,
                    tls_key: r.get(21)?,
                    tls_sha256: r.get(22)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        tx.finish()?;
        let corrupt = |why| StoreError::Corrupt { id, why };
        let groups = groups
            .into_iter()
            .map(|(mut g, seqs)| {
                g.seqs = crate::rows::parse_seqs(&seqs)?;
                Ok(g)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt)?;
        let hosts = assemble(hosts, ports, ranges, groups, services).map_err(corrupt)?;
        crate::load::stored_run(head.0.check()?, head.1, scans, hosts)
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

/// The fuzz target's entry (`fuzz/fuzz_targets/store_rows.rs`): a valid
/// run, then hosts, ports, port ranges, port groups and services whose every value comes
/// from `data` (text, integer, real, blob or NULL, as the bytes say: SQLite
/// keeps whatever a column is given, or a word vigie writes), read back by
/// [`Store::load`], which must refuse what it cannot read, never panic.
#[doc(hidden)]
pub fn fuzz_load(data: &[u8]) {
    use rusqlite::types::Value;
    use std::sync::{Mutex, OnceLock};
    static STORE: OnceLock<Mutex<Sqlite>> = OnceLock::new();
    let store = STORE.get_or_init(|| {
        let s = Sqlite::open(Path::new(":memory:"), false).expect("in-memory store");
        s.conn
            .execute_batch(
                "PRAGMA foreign_keys = OFF;
                 INSERT INTO runs VALUES (1, 'vigie', '0', 'vigie x', 'x', 'syn', '7', 0, 1, 2,
                   1, 'complete', 1, 0, 1, 'h', 1, 's');
                 INSERT INTO scans VALUES (1, 0, 'syn', 'tcp', '1-100', NULL);",
            )
            .expect("run row");
        Mutex::new(s)
    });
    let Ok(mut s) = store.lock() else { return };
    const WORDS: [&str; 14] = [
        "tcp",
        "udp",
        "open",
        "closed",
        "filtered",
        "open|filtered",
        "syn-ack",
        "reset",
        "no-response",
        "198.18.0.2",
        "fd00::2",
        "1-21,23",
        "[0,1]",
        "[1]",
    ];
    let mut bytes = data.iter().copied();
    let mut chunks = data.split(|b| *b == 0xff);
    let mut value = move || -> Value {
        let chunk = chunks.next().unwrap_or(&[]);
        let pick = bytes.next().unwrap_or(0);
        let int = chunk
            .iter()
            .fold(0i64, |a, b| a.wrapping_mul(251).wrapping_add(i64::from(*b)));
        match pick % 8 {
            0 => Value::Null,
            1 | 2 => Value::Integer(if pick & 0x80 != 0 { int } else { int & 0xff }),
            3 => Value::Real(chunk.len() as f64 / 3.0),
            4 => Value::Blob(chunk.to_vec()),
            5 => Value::Text(String::from_utf8_lossy(chunk).into_owned()),
            _ => Value::Text(WORDS[usize::from(pick) % WORDS.len()].to_owned()),
        }
    };
    for (table, n) in [
        ("hosts", 14),
        ("ports", 8),
        ("port_ranges", 7),
        ("port_hosts", 9),
        ("services", 24),
    ] {
        let _ = s.conn.execute(&format!("DELETE FROM {table}"), []);
        for _ in 0..3 {
            let mut vals: Vec<Value> = (0..n).map(|_| value()).collect();
            // The run and the host: mostly those that meet.
            vals[0] = Value::Integer(1);
            if table != "port_hosts" {
                if let Value::Integer(seq) = &mut vals[1] {
                    *seq &= 1;
                }
            }
            let marks = vec!["?"; n].join(", ");
            let _ = s.conn.execute(
                &format!("INSERT OR IGNORE INTO {table} VALUES ({marks})"),
                rusqlite::params_from_iter(vals),
            );
        }
    }
    let _ = s.list(&Filter::default());
    let _ = s.load(1);
}
