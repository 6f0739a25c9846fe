//! The store's suite on the embedded back-end, and what only SQLite has:
//! a file that is not a database, a store from a newer vigie, a missing file.

mod suite;

use std::path::PathBuf;

use vigie_store::{open, open_existing, DbUrl, Store, StoreError};

fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn suite_on_sqlite() {
    // A directory that does not exist yet is created.
    let url = DbUrl::Sqlite(scratch("suite").join("sub/dir/history.db"));
    let open_it = move || -> Box<dyn Store> { open(&url).unwrap() };
    suite::all(&open_it);
}

#[test]
fn not_a_database_is_one_line_and_left_alone() {
    let path = scratch("corrupt").join("history.db");
    let junk = b"this is not a database, it is a text file\n".repeat(200);
    std::fs::write(&path, &junk).unwrap();
    let e = match open(&DbUrl::Sqlite(path.clone())) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a text file opened as a store"),
    };
    assert!(e.contains("not a database"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), junk, "the file was changed");
}

#[test]
fn newer_schema_is_refused() {
    let path = scratch("newer").join("history.db");
    drop(open(&DbUrl::Sqlite(path.clone())).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute("UPDATE vigie_schema SET version = 99", [])
        .unwrap();
    drop(c);
    match open(&DbUrl::Sqlite(path)) {
        Err(e) => assert!(
            matches!(&e, StoreError::Open { why, .. } if why.contains("newer vigie (schema 99")),
            "{e}"
        ),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

#[test]
fn reading_a_missing_store_does_not_create_it() {
    let path = scratch("missing").join("history.db");
    let e = open_existing(&DbUrl::Sqlite(path.clone()))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no such file"), "{e}");
    assert!(!path.exists());
}

/// The scan connection never checkpoints while it writes; a log past
/// 64 MB is checkpointed by the next scan's writer when it starts.
#[test]
fn a_long_log_is_checkpointed_by_the_next_scan() {
    let path = scratch("wal").join("history.db");
    drop(open(&DbUrl::Sqlite(path.clone())).unwrap());
    let wal = path.with_extension("db-wal");
    {
        // 80 MB in the log, never checkpointed (a scan's connection's way).
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "PRAGMA wal_autocheckpoint = 0; CREATE TABLE filler (b BLOB); \
             INSERT INTO filler VALUES (zeroblob(80000000));",
        )
        .unwrap();
        c.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .unwrap();
    }
    let before = std::fs::metadata(&wal).unwrap().len();
    assert!(before > 64 << 20, "log of {before} bytes");
    let url = DbUrl::Sqlite(path.clone());
    let open_it = move || -> Box<dyn Store> { vigie_store::open_for_scan(&url).unwrap() };
    suite::record(
        &open_it,
        &suite::meta("198.18.5.0/30", 7_000, 0),
        &[suite::host("198.18.5.1", &[22], 7_000)],
        7_001,
    );
    let after = std::fs::metadata(&wal).unwrap().len();
    assert!(after < 1 << 20, "log of {after} bytes after the scan");
}

#[test]
fn urls() {
    assert_eq!(
        DbUrl::parse("sqlite:/tmp/h.db").unwrap(),
        DbUrl::Sqlite("/tmp/h.db".into())
    );
    assert_eq!(
        DbUrl::parse("sqlite:rel/h.db").unwrap(),
        DbUrl::Sqlite("rel/h.db".into())
    );
    assert!(matches!(
        DbUrl::parse("postgres://vigie@%2Ftmp%2Fpg/db").unwrap(),
        DbUrl::Postgres(_)
    ));
    for bad in [
        "",
        "sqlite:",
        "mysql://x/y",
        "/tmp/h.db",
        "postgres://h:notaport/db",
    ] {
        let e = DbUrl::parse(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad:?} accepted"))
            .to_string();
        assert!(
            !e.contains('\n') && e.contains("bad database URL"),
            "{bad:?}: {e}"
        );
    }
    assert_eq!(
        DbUrl::parse("postgres://u:secret@h/db").unwrap().display(),
        "postgres://u:***@h/db"
    );
}

/// Schema 2 changed PostgreSQL's indexes only, 3 added `port_hosts`: a
/// SQLite store of schema 1 opens as 3 with its scans as they were.
#[test]
fn a_version_1_store_opens_as_version_3() {
    let path = scratch("v1").join("history.db");
    let url = DbUrl::Sqlite(path.clone());
    let open_it = || -> Box<dyn Store> { open(&url).unwrap() };
    let id = suite::record(
        &open_it,
        &suite::meta("198.18.6.0/24", 4_000, 0),
        &[suite::host("198.18.6.1", &[22], 4_000)],
        4_010,
    );
    let before = open_it().load(id).unwrap();
    let version = || -> i64 {
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT version FROM vigie_schema", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(), 3);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE port_hosts; UPDATE vigie_schema SET version = 1")
        .unwrap();
    assert_eq!(open_it().load(id).unwrap().report, before.report);
    assert_eq!(version(), 3);
    let (next, hosts) = suite::sweep(&open_it);
    assert_eq!(open_it().load(next).unwrap().report.hosts, hosts);
}

/// The 40 hosts of the sweep that share one result are one `port_hosts`
/// row; the 8 others keep a `ports` row each. A group that does not match
/// itself, or names a host not stored, is refused in one line.
#[test]
fn a_result_many_hosts_share_is_one_row() {
    let path = scratch("groups").join("history.db");
    let url = DbUrl::Sqlite(path.clone());
    let open_it = || -> Box<dyn Store> { open(&url).unwrap() };
    let (id, _) = suite::sweep(&open_it);
    let c = rusqlite::Connection::open(&path).unwrap();
    let q = |sql: &str| -> String { c.query_row(sql, [id], |r| r.get::<_, String>(0)).unwrap() };
    assert_eq!(
        q(
            "SELECT port || '/' || state || '/' || ttl || '/' || hosts FROM port_hosts \
           WHERE run_id = ?1"
        ),
        "80/open/64/40"
    );
    // json_each reads the hosts in SQL: 0..=39 but for none missing.
    assert_eq!(
        q(
            "SELECT CAST(COUNT(*) AS TEXT) || ' ' || MIN(j.value) || ' ' || MAX(j.value) \
           FROM port_hosts g, json_each(g.seqs) j WHERE g.run_id = ?1"
        ),
        "40 0 39"
    );
    assert_eq!(
        q("SELECT CAST(COUNT(*) AS TEXT) FROM ports WHERE run_id = ?1"),
        "8"
    );
    for (change, want) in [
        (
            "UPDATE port_hosts SET hosts = 39",
            "says 39 hosts and names 40",
        ),
        ("UPDATE port_hosts SET seqs = '[0,1,x]'", "bad host list"),
        (
            "UPDATE port_hosts SET seqs = '[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,\
             20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,999]'",
            "ports of host #999, which is not stored",
        ),
        (
            "UPDATE port_hosts SET seqs = '[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,\
             20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,40]'",
            "port 80/tcp stored twice",
        ),
    ] {
        let keep: (i64, String) = c
            .query_row("SELECT hosts, seqs FROM port_hosts", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        c.execute(change, []).unwrap();
        let e = match open_it().load(id) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("read a bad group ({change})"),
        };
        assert!(e.contains(want) && !e.contains('\n'), "{change}: {e}");
        c.execute(
            "UPDATE port_hosts SET hosts = ?1, seqs = ?2",
            rusqlite::params![keep.0, keep.1],
        )
        .unwrap();
    }
    assert_eq!(open_it().load(id).unwrap().report.hosts.len(), 49);
}
