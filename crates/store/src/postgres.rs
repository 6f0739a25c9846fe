//! The shared back-end: a PostgreSQL database several scanners write to.
//!
//! A batch of hosts is a handful of statements whatever its size (the rows
//! go as arrays, unnested by the server), in one transaction. The session
//! writing a scan holds an advisory lock on the run until it ends, so a
//! reader can tell a scan still running (lock held) from one whose scanner
//! was killed (lock free: the server released it with the session).

use std::borrow::Cow;

use std::io::Write;

use postgres::types::Type;
use postgres::{Client, NoTls, Statement, Transaction};
use vigie_report::{HostReport, RunStats};

use crate::copy::CopyBuf;
use crate::rows::{assemble, Batch, GroupRow, HostRow, PortRow, RangeRow, ServiceRow};
use crate::sqlite::{RunRest, RunSummaryRow, ScanRow};
use crate::{dur_us, schema, sql, to_us, writer};
use crate::{Filter, RunMeta, RunStatus, RunSummary, Store, StoreError, StoredRun};

/// The first key of vigie's advisory locks ("vig1"); the second is the run.
const LOCK_SPACE: i32 = 0x7669_6731;

pub(crate) struct Postgres {
    client: Client,
    shown: String,
    /// A writer's statements, prepared while the scan runs (upkeep), so a
    /// batch is not a prepare round trip per statement as well.
    prepared: Option<Prepared>,
}

struct Prepared {
    hosts: Statement,
    ports: Statement,
    groups: Statement,
    ranges: Statement,
}

const COPY_HOSTS: &str = "COPY hosts (run_id, seq, addr, hostname, mac, up, reason, ttl, \
     latency_us, start_us, end_us, srtt_us, rttvar_us, timeout_us) FROM STDIN BINARY";
const COPY_PORTS: &str =
    "COPY ports (run_id, seq, proto, port, state, reason, ttl, service) FROM STDIN BINARY";
const COPY_GROUPS: &str = "COPY port_hosts (run_id, proto, port, state, reason, ttl, service, \
     hosts, seqs) FROM STDIN BINARY";
const INSERT_RANGES: &str = "INSERT INTO port_ranges (run_id, seq, proto, state, reason, ttl, \
     ports) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], \
     $6::integer[], $7::text[])";

fn pg(s: &str) -> String {
    sql::pg(s)
}

/// The run's id as the advisory lock's second key.
fn lock_key(run: i64) -> i32 {
    run as i32
}

impl Postgres {
    pub fn open(url: &str) -> Result<Postgres, StoreError> {
        let shown = crate::hide_password(url);
        let fail = |e: StoreError| StoreError::Open {
            what: shown.clone(),
            why: e.to_string(),
        };
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| fail(StoreError::Postgres(crate::one_line(e))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config.application_name("vigie");
        let client = config
            .connect(NoTls)
            .map_err(|e| fail(StoreError::from(e)))?;
        let mut s = Postgres {
            client,
            shown: shown.clone(),
            prepared: None,
        };
        s.migrate().map_err(fail)?;
        Ok(s)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        // Most opens find the schema current: one round trip says so (the
        // locked path below asks again, under the lock).
        if let Ok(rows) = self
            .client
            .query_typed("SELECT MAX(version) FROM vigie_schema", &[])
        {
            let found: Option<i64> = rows.first().and_then(|r| r.get(0));
            if found == Some(schema::VERSION) {
                return Ok(());
            }
        }
        let mut tx = self.client.transaction()?;
        // One migrator at a time, whoever opens the store first.
        tx.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&LOCK_SPACE])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS vigie_schema (version BIGINT NOT NULL)")?;
        let found: Option<i64> = tx
            .query_one("SELECT MAX(version) FROM vigie_schema", &[])?
            .try_get(0)?;
        let found = found.unwrap_or(0);
        if found > schema::VERSION {
            return Err(StoreError::NewerSchema {
                found,
                known: schema::VERSION,
            });
        }
        for (i, m) in schema::POSTGRES.iter().enumerate().skip(found as usize) {
            tx.batch_execute(m)?;
            tx.execute("DELETE FROM vigie_schema", &[])?;
            tx.execute(
                "INSERT INTO vigie_schema (version) VALUES ($1)",
                &[&(i as i64 + 1)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

impl Postgres {
    /// A writer's statements, and its session's batches not waiting for
    /// the disk.
    fn prepare(&mut self) -> Result<(), StoreError> {
        self.client.batch_execute("SET synchronous_commit = off")?;
        self.prepared = Some(Prepared {
            hosts: self.client.prepare(COPY_HOSTS)?,
            ports: self.client.prepare(COPY_PORTS)?,
            groups: self.client.prepare(COPY_GROUPS)?,
            ranges: self.client.prepare(INSERT_RANGES)?,
        });
        Ok(())
    }
}

fn summary_row(r: &postgres::Row) -> Result<RunSummaryRow, postgres::Error> {
    Ok(RunSummaryRow {
        id: r.try_get(0)?,
        started: r.try_get(1)?,
        ended: r.try_get(2)?,
        status: r.try_get(3)?,
        args: r.try_get(4)?,
        targets: r.try_get(5)?,
        technique: r.try_get(6)?,
        hosts_up: r.try_get(7)?,
        open_ports: r.try_get(8)?,
    })
}

/// Send one binary COPY stream (built by [`CopyBuf`]) with `statement`.
fn copy_in<T>(tx: &mut Transaction<'_>, statement: &T, data: Vec<u8>) -> Result<(), StoreError>
where
    T: ?Sized + postgres::ToStatement,
{
    let mut w = tx.copy_in(statement)?;
    // In pieces, so that the server parses one while the next is sent.
    for piece in data.chunks(64 * 1024) {
        w.write_all(piece)
            .map_err(|e| StoreError::Postgres(crate::one_line(e)))?;
    }
    w.finish()?;
    Ok(())
}

/// A column of a batch, as the array PostgreSQL unnests.
fn col<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

impl Store for Postgres {
    fn begin_run(&mut self, meta: &RunMeta) -> Result<i64, StoreError> {
        let (host, pid, start) = writer::me();
        let mut tx = self.client.transaction()?;
        // Typed statements: one round trip each, not a prepare as well.
        let id: i64 = tx
            .query_typed_one(
                &pg(sql::INSERT_RUN),
                &[
                    (&vigie_report::NAME, Type::TEXT),
                    (&vigie_report::VERSION, Type::TEXT),
                    (&meta.info.args, Type::TEXT),
                    (&meta.targets, Type::TEXT),
                    (&meta.technique(), Type::TEXT),
                    (&meta.seed.to_string(), Type::TEXT),
                    (&i32::from(meta.info.verbose), Type::INT4),
                    (&to_us(meta.info.start), Type::INT8),
                    (&host, Type::TEXT),
                    (&(pid as i32), Type::INT4),
                    (&start, Type::TEXT),
                ],
            )?
            .try_get(0)?;
        for (i, s) in meta.info.scans.iter().enumerate() {
            tx.execute_typed(
                &pg(sql::INSERT_SCAN),
                &[
                    (&id, Type::INT8),
                    (&(i as i32), Type::INT4),
                    (&s.technique.nmap_name(), Type::TEXT),
                    (&s.proto.as_str(), Type::TEXT),
                    (&s.ports.to_nmap_string(), Type::TEXT),
                    (&s.scanflags, Type::TEXT),
                ],
            )?;
        }
        // Held by this session until the scan ends or the scanner dies;
        // taken before the row is visible, so no reader sees it unlocked.
        tx.execute_typed(
            "SELECT pg_advisory_lock($1, $2)",
            &[(&LOCK_SPACE, Type::INT4), (&lock_key(id), Type::INT4)],
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn add_hosts(&mut self, run: i64, hosts: &[(i64, &HostReport)]) -> Result<(), StoreError> {
        let mut b = Batch::default();
        for (seq, h) in hosts {
            b.push(*seq, h);
        }
        b.group();
        if self.prepared.is_none() {
            self.prepare()?;
        }
        let Some(st) = &self.prepared else {
            unreachable!("prepared above")
        };
        // The session does not wait for a batch to reach the disk (set by
        // prepare): the run's end is a commit that does wait, and flushes
        // every batch before it.
        let mut tx = self.client.transaction()?;
        let mut c = CopyBuf::new(14, b.hosts.len());
        for h in &b.hosts {
            c.row()
                .i64(run)
                .i64(h.seq)
                .text(&h.addr)
                .opt_text(h.hostname.as_deref())
                .opt_text(h.mac.as_deref())
                .bool(h.up)
                .text(&h.reason)
                .i32(h.ttl)
                .opt_i64(h.latency_us)
                .i64(h.start_us)
                .i64(h.end_us)
                .opt_i64(h.srtt_us)
                .opt_i64(h.rttvar_us)
                .opt_i64(h.timeout_us);
        }
        copy_in(&mut tx, &st.hosts, c.finish())?;
        if !b.ports.is_empty() {
            let mut c = CopyBuf::new(8, b.ports.len());
            for p in &b.ports {
                c.row()
                    .i64(run)
                    .i64(p.seq)
                    .text(&p.proto)
                    .i32(p.port)
                    .text(&p.state)
                    .text(&p.reason)
                    .i32(p.ttl)
                    .opt_text(p.service.as_deref());
            }
            copy_in(&mut tx, &st.ports, c.finish())?;
        }
        if !b.groups.is_empty() {
            let mut c = CopyBuf::new(9, b.groups.len());
            for g in &b.groups {
                c.row()
                    .i64(run)
                    .text(&g.proto)
                    .i32(g.port)
                    .text(&g.state)
                    .text(&g.reason)
                    .i32(g.ttl)
                    .opt_text(g.service.as_deref())
                    .i64(g.hosts)
                    .i64_array(&g.seqs);
            }
            copy_in(&mut tx, &st.groups, c.finish())?;
        }
        let g = &b.ranges;
        if !g.is_empty() {
            tx.execute(
                &st.ranges,
                &[
                    &run,
                    &col(g, |r: &RangeRow| r.seq),
                    &col(g, |r| r.proto.clone()),
                    &col(g, |r| r.state.clone()),
                    &col(g, |r| r.reason.clone()),
                    &col(g, |r| r.ttl),
                    &col(g, |r| r.ports.clone()),
                ],
            )?;
        }
        // Few (one per -sV port): a statement each.
        for s in &b.services {
            tx.execute(
                "INSERT INTO services (run_id, seq, proto, port, name, product, version, \
                 extrainfo, hostname, ostype, devicetype, tunnel, conf, cpe, tls_version, \
                 tls_cipher, tls_alpn, tls_subject, tls_issuer, tls_sans, tls_not_before, \
                 tls_not_after, tls_key, tls_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                 $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
                &[
                    &run,
                    &s.seq,
                    &s.proto,
                    &s.port,
                    &s.name,
                    &s.product,
                    &s.version,
                    &s.extrainfo,
                    &s.hostname,
                    &s.ostype,
                    &s.devicetype,
                    &s.tunnel,
                    &s.conf,
                    &s.cpe,
                    &s.tls_version,
                    &s.tls_cipher,
                    &s.tls_alpn,
                    &s.tls_subject,
                    &s.tls_issuer,
                    &s.tls_sans,
                    &s.tls_not_before,
                    &s.tls_not_after,
                    &s.tls_key,
                    &s.tls_sha256,
                ],
            )?;
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
        // This commit waits for the disk, and so for every batch before it.
        self.client
            .batch_execute("SET synchronous_commit = DEFAULT")?;
        self.client.execute_typed(
            &pg(sql::FINISH_RUN),
            &[
                (&run, Type::INT8),
                (&to_us(stats.end), Type::INT8),
                (&dur_us(stats.elapsed), Type::INT8),
                (&status.as_str(), Type::TEXT),
                (&(stats.hosts_up as i64), Type::INT8),
                (&(stats.hosts_down as i64), Type::INT8),
                (&(stats.hosts_total as i64), Type::INT8),
            ],
        )?;
        self.client.execute_typed(
            "SELECT pg_advisory_unlock($1, $2)",
            &[(&LOCK_SPACE, Type::INT4), (&lock_key(run), Type::INT4)],
        )?;
        Ok(())
    }

    fn upkeep(&mut self) -> Result<(), StoreError> {
        self.prepare()
    }

    fn reap(&mut self) -> Result<(), StoreError> {
        let running: Vec<i64> = self
            .client
            .query(sql::RUNNING, &[])?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        for id in running {
            // Free means the writer's session is gone (a live writer holds
            // it; this session's own runs are not reaped: it never reaps
            // while writing).
            let free: bool = self
                .client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, $2)",
                    &[&LOCK_SPACE, &lock_key(id)],
                )?
                .try_get(0)?;
            if free {
                self.client.execute(&pg(sql::MARK_INTERRUPTED), &[&id])?;
                self.client.execute(
                    "SELECT pg_advisory_unlock($1, $2)",
                    &[&LOCK_SPACE, &lock_key(id)],
                )?;
            }
        }
        Ok(())
    }

    fn list(&mut self, f: &Filter) -> Result<Vec<RunSummary>, StoreError> {
        let pattern = f.target.as_deref().map(sql::word_pattern);
        let addr = f.target.as_deref().and_then(crate::target_addr);
        let limit: Option<i64> = f.limit.map(|n| n.min(i64::MAX as u64) as i64);
        let rows = self
            .client
            .query(&pg(sql::LIST), &[&pattern, &addr, &f.complete_only, &limit])?;
        rows.iter().map(|r| summary_row(r)?.check()).collect()
    }

    fn load(&mut self, id: i64) -> Result<StoredRun, StoreError> {
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let head = tx
            .query_opt(&pg(sql::ONE_RUN), &[&id])?
            .ok_or(StoreError::NoSuchRun(id))?;
        let rest = RunRest {
            seed: head.try_get(9)?,
            verbose: i64::from(head.try_get::<_, i32>(10)?),
            elapsed_us: head.try_get(11)?,
            hosts_down: head.try_get(12)?,
            hosts_total: head.try_get(13)?,
        };
        let summary = summary_row(&head)?.check()?;
        let scans: Vec<ScanRow> = tx
            .query(&pg(sql::SCANS), &[&id])?
            .iter()
            .map(|r| -> Result<_, postgres::Error> {
                Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))
            })
            .collect::<Result<_, _>>()?;
        let hosts: Vec<HostRow> = tx
            .query(&pg(sql::HOSTS), &[&id])?
            .iter()
            .map(|r| -> Result<_, postgres::Error> {
                Ok(HostRow {
                    seq: r.try_get(0)?,
                    addr: r.try_get(1)?,
                    hostname: r.try_get::<_, Option<String>>(2)?.map(Cow::Owned),
                    mac: r.try_get(3)?,
                    up: r.try_get(4)?,
                    reason: Cow::Owned(r.try_get(5)?),
                    ttl: r.try_get(6)?,
                    latency_us: r.try_get(7)?,
                    start_us: r.try_get(8)?,
                    end_us: r.try_get(9)?,
                    srtt_us: r.try_get(10)?,
                    rttvar_us: r.try_get(11)?,
                    timeout_us: r.try_get(12)?,
                })
            })
            .collect::<Result<_, _>>()?;
        let ports: Vec<PortRow> = tx
            .query(&pg(sql::PORTS), &[&id])?
            .iter()
            .map(|r| -> Result<_, postgres::Error> {
                Ok(PortRow {
                    seq: r.try_get(0)?,
                    proto: Cow::Owned(r.try_get(1)?),
                    port: r.try_get(2)?,
                    state: Cow::Owned(r.try_get(3)?),
                    reason: Cow::Owned(r.try_get(4)?),
                    ttl: r.try_get(5)?,
                    service: r.try_get::<_, Option<String>>(6)?.map(Cow::Owned),
                })
            })
            .collect::<Result<_, _>>()?;
        let ranges: Vec<RangeRow> = tx
            .query(&pg(sql::RANGES), &[&id])?
            .iter()
            .map(|r| -> Result<_, postgres::Error> {
                Ok(RangeRow {
                    seq: r.try_get(0)?,
                    proto: r.try_get(1)?,
                    state: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    ttl: r.try_get(4)?,
                    ports: r.try_get(5)?,
                })
            })
            .collect::<Result<_, _>>()?;
        let groups: Vec<GroupRow> = tx
            .query(&pg(sql::GROUPS), &[&id])?
            .iter()
            .map(|r| -> Result<_, postgres::Error> {
                Ok(GroupRow {
                    proto: Cow::Owned(r.try_get(0)?),
                    port: r.try_get(1)?,
                    state: Cow::Owned(r.try_get(2)?),
                    reason: Cow::Owned(r.try_get(3)?),
                    ttl: r.try_get(4)?,
                    service: r.try_get::<_, Option<String>>(5)?.map(Cow::Owned),
                    hosts: r.try_get(6)?,
                    seqs: r.try_get(7)?,
                })
            })
            .collect::<Result<_, _>>()?;
        let services: Vec<ServiceRow> = tx
            .query(&pg(sql::SERVICES), &[&id])?
            .iter()
            .map(|r| -> Result<_, postgres::Error> {
                Ok(ServiceRow {
                    seq: r.try_get(0)?,
                    proto: r.try_get(1)?,
                    port: r.try_get(2)?,
                    name: r.try_get(3)?,
                    product: r.try_get(4)?,
                    version: r.try_get(5)?,
                    extrainfo: r.try_get(6)?,
                    hostname: r.try_get(7)?,
                    ostype: r.try_get(8)?,
                    devicetype: r.try_get(9)?,
                    tunnel: r.try_get(10)?,
                    conf: r.try_get(11)?,
                    cpe: r.try_get(12)?,
                    tls_version: r.try_get(13)?,
                    tls_cipher: r.try_get(14)?,
                    tls_alpn: r.try_get(15)?,
                    tls_subject: r.try_get(16)?,
                    tls_issuer: r.try_get(17)?,
                    tls_sans: r.try_get(18)?,
                    tls_not_before: r.try_get(19)?,
                    tls_not_after: r.try_get(20)?,
                    tls_key: r.try_get(21)?,
                    tls_sha256: r.try_get(22)?,
                })
            })
            .collect::<Result<_, _>>()?;
        tx.commit()?;
        let hosts = assemble(hosts, ports, ranges, groups, services)
            .map_err(|why| StoreError::Corrupt { id, why })?;
        crate::load::stored_run(summary, rest, scans, hosts)
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }
}
