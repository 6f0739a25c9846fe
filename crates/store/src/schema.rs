//! The schema, one per dialect, as numbered migrations.
//!
//! `vigie_schema` holds the version reached; opening a store applies the
//! migrations above it in one transaction (under a lock, so two scanners
//! opening a new store at once do it once). A store whose version is above
//! [`VERSION`] was written by a newer vigie and is refused rather than
//! misread. The tables are documented in `docs/history.md`.

/// The schema version this vigie writes.
pub const VERSION: i64 = 3;

/// Migration `i` brings a store from version `i` to `i + 1` (SQLite).
///
/// `hosts`, `ports`, `port_ranges` and `services` carry no foreign keys:
/// checking one on every row cost a sweep's record 15%; the one writer of a
/// run keeps them consistent, and a reader refuses a row without its host.
pub const SQLITE: &[&str] = &[
    r#"
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    scanner         TEXT    NOT NULL,
    scanner_version TEXT    NOT NULL,
    args            TEXT    NOT NULL,
    targets         TEXT    NOT NULL,
    technique       TEXT    NOT NULL,
    seed            TEXT    NOT NULL,
    verbosity       INTEGER NOT NULL,
    started_us      INTEGER NOT NULL,
    ended_us        INTEGER,
    elapsed_us      INTEGER,
    status          TEXT    NOT NULL CHECK (status IN ('running', 'complete', 'interrupted')),
    hosts_up        INTEGER NOT NULL DEFAULT 0,
    hosts_down      INTEGER,
    hosts_total     INTEGER,
    writer_host     TEXT    NOT NULL,
    writer_pid      INTEGER NOT NULL,
    writer_start    TEXT    NOT NULL
);
CREATE INDEX runs_started ON runs (started_us);
CREATE TABLE scans (
    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    technique TEXT    NOT NULL,
    proto     TEXT    NOT NULL,
    ports     TEXT    NOT NULL,
    scanflags TEXT,
    PRIMARY KEY (run_id, position)
);
CREATE TABLE hosts (
    run_id     INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    addr       TEXT    NOT NULL,
    hostname   TEXT,
    mac        TEXT,
    up         INTEGER NOT NULL,
    reason     TEXT    NOT NULL,
    ttl        INTEGER NOT NULL,
    latency_us INTEGER,
    start_us   INTEGER NOT NULL,
    end_us     INTEGER NOT NULL,
    srtt_us    INTEGER,
    rttvar_us  INTEGER,
    timeout_us INTEGER,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE ports (
    run_id  INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    proto   TEXT    NOT NULL,
    port    INTEGER NOT NULL,
    state   TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    ttl     INTEGER NOT NULL,
    service TEXT,
    PRIMARY KEY (run_id, seq, proto, port)
) WITHOUT ROWID;
CREATE TABLE port_ranges (
    run_id INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    proto  TEXT    NOT NULL,
    state  TEXT    NOT NULL,
    reason TEXT    NOT NULL,
    ttl    INTEGER NOT NULL,
    ports  TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq, proto, state, reason, ttl)
);
CREATE TABLE services (
    run_id         INTEGER NOT NULL,
    seq            INTEGER NOT NULL,
    proto          TEXT    NOT NULL,
    port           INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    product        TEXT,
    version        TEXT,
    extrainfo      TEXT,
    hostname       TEXT,
    ostype         TEXT,
    devicetype     TEXT,
    tunnel         TEXT,
    conf           INTEGER NOT NULL,
    cpe            TEXT,
    tls_version    TEXT,
    tls_cipher     TEXT,
    tls_alpn       TEXT,
    tls_subject    TEXT,
    tls_issuer     TEXT,
    tls_sans       TEXT,
    tls_not_before INTEGER,
    tls_not_after  INTEGER,
    tls_key        TEXT,
    tls_sha256     TEXT,
    PRIMARY KEY (run_id, seq, proto, port)
);
"#,
    // 2: PostgreSQL's indexes only (SQLite's keys are its tables' order).
    "-- nothing to change",
    // 3: a port result many hosts share, one row naming them (`seqs`, a
    // JSON array).
    r#"
CREATE TABLE port_hosts (
    run_id  INTEGER NOT NULL,
    proto   TEXT    NOT NULL,
    port    INTEGER NOT NULL,
    state   TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    ttl     INTEGER NOT NULL,
    service TEXT,
    hosts   INTEGER NOT NULL,
    seqs    TEXT    NOT NULL
);
CREATE INDEX port_hosts_run ON port_hosts (run_id);
"#,
];

/// Migration `i` brings a store from version `i` to `i + 1` (PostgreSQL).
///
/// 2: `hosts`, `ports` and `port_ranges` are read by run only, and written
/// a row per host and port. With their primary-key B-trees (written all
/// over the run's key range, as hosts come final out of order) a /16
/// sweep recorded took 1.13–1.17 × its `--no-history` time; with a BRIN
/// index on `run_id` (a run's rows are neighbours in the table) 1.07 ×,
/// as with no index at all (1.01–1.06 ×; bench/RESULTS.md). A row stored
/// twice is still refused, by the reader.
///
/// 3: `port_hosts`, a port result that many hosts of a batch share, as one
/// row naming them (`seqs`): a /16 sweep writes a row per host and a few
/// groups instead of a row per host and another per port. The server's
/// work per sweep was most of what recording it cost (bench/RESULTS.md).
pub const POSTGRES: &[&str] = &[
    r#"
CREATE TABLE runs (
    id              BIGSERIAL PRIMARY KEY,
    scanner         TEXT    NOT NULL,
    scanner_version TEXT    NOT NULL,
    args            TEXT    NOT NULL,
    targets         TEXT    NOT NULL,
    technique       TEXT    NOT NULL,
    seed            TEXT    NOT NULL,
    verbosity       INTEGER NOT NULL,
    started_us      BIGINT  NOT NULL,
    ended_us        BIGINT,
    elapsed_us      BIGINT,
    status          TEXT    NOT NULL CHECK (status IN ('running', 'complete', 'interrupted')),
    hosts_up        BIGINT  NOT NULL DEFAULT 0,
    hosts_down      BIGINT,
    hosts_total     BIGINT,
    writer_host     TEXT    NOT NULL,
    writer_pid      INTEGER NOT NULL,
    writer_start    TEXT    NOT NULL
);
CREATE INDEX runs_started ON runs (started_us);
CREATE TABLE scans (
    run_id    BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    technique TEXT    NOT NULL,
    proto     TEXT    NOT NULL,
    ports     TEXT    NOT NULL,
    scanflags TEXT,
    PRIMARY KEY (run_id, position)
);
CREATE TABLE hosts (
    run_id     BIGINT  NOT NULL,
    seq        BIGINT  NOT NULL,
    addr       TEXT    NOT NULL,
    hostname   TEXT,
    mac        TEXT,
    up         BOOLEAN NOT NULL,
    reason     TEXT    NOT NULL,
    ttl        INTEGER NOT NULL,
    latency_us BIGINT,
    start_us   BIGINT  NOT NULL,
    end_us     BIGINT  NOT NULL,
    srtt_us    BIGINT,
    rttvar_us  BIGINT,
    timeout_us BIGINT,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE ports (
    run_id  BIGINT  NOT NULL,
    seq     BIGINT  NOT NULL,
    proto   TEXT    NOT NULL,
    port    INTEGER NOT NULL,
    state   TEXT    NOT NULL,
    reason  TEXT    NOT NULL,
    ttl     INTEGER NOT NULL,
    service TEXT,
    PRIMARY KEY (run_id, seq, proto, port)
);
CREATE TABLE port_ranges (
    run_id BIGINT  NOT NULL,
    seq    BIGINT  NOT NULL,
    proto  TEXT    NOT NULL,
    state  TEXT    NOT NULL,
    reason TEXT    NOT NULL,
    ttl    INTEGER NOT NULL,
    ports  TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq, proto, state, reason, ttl)
);
CREATE TABLE services (
    run_id         BIGINT  NOT NULL,
    seq            BIGINT  NOT NULL,
    proto          TEXT    NOT NULL,
    port           INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    product        TEXT,
    version        TEXT,
    extrainfo      TEXT,
    hostname       TEXT,
    ostype         TEXT,
    devicetype     TEXT,
    tunnel         TEXT,
    conf           INTEGER NOT NULL,
    cpe            TEXT,
    tls_version    TEXT,
    tls_cipher     TEXT,
    tls_alpn       TEXT,
    tls_subject    TEXT,
    tls_issuer     TEXT,
    tls_sans       TEXT,
    tls_not_before BIGINT,
    tls_not_after  BIGINT,
    tls_key        TEXT,
    tls_sha256     TEXT,
    PRIMARY KEY (run_id, seq, proto, port)
);
"#,
    r#"
ALTER TABLE hosts DROP CONSTRAINT hosts_pkey;
ALTER TABLE ports DROP CONSTRAINT ports_pkey;
ALTER TABLE port_ranges DROP CONSTRAINT port_ranges_pkey;
CREATE INDEX hosts_run ON hosts USING brin (run_id) WITH (pages_per_range = 32, autosummarize = on);
CREATE INDEX ports_run ON ports USING brin (run_id) WITH (pages_per_range = 32, autosummarize = on);
CREATE INDEX port_ranges_run ON port_ranges USING brin (run_id)
    WITH (pages_per_range = 32, autosummarize = on);
"#,
    r#"
CREATE TABLE port_hosts (
    run_id  BIGINT   NOT NULL,
    proto   TEXT     NOT NULL,
    port    INTEGER  NOT NULL,
    state   TEXT     NOT NULL,
    reason  TEXT     NOT NULL,
    ttl     INTEGER  NOT NULL,
    service TEXT,
    hosts   BIGINT   NOT NULL,
    seqs    BIGINT[] NOT NULL
);
-- Out of line as it is: compressing a sweep's lists was a quarter of the
-- server's work for the scan.
ALTER TABLE port_hosts ALTER COLUMN seqs SET STORAGE EXTERNAL;
CREATE INDEX port_hosts_run ON port_hosts (run_id);
"#,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_migration_per_version_in_both_dialects() {
        assert_eq!(SQLITE.len() as i64, VERSION);
        assert_eq!(POSTGRES.len() as i64, VERSION);
    }
}
