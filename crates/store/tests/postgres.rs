//! The store's suite against a real PostgreSQL server the test starts
//! (Debian's postgresql: `.ci/run` installs it), and what only it has: the
//! advisory lock that tells a killed writer, an unreachable server.

mod suite;

use std::sync::OnceLock;

use vigie_lab::pg::Postgres;
use vigie_store::{open, DbUrl, RunStatus, Store};

fn server() -> &'static Postgres {
    static PG: OnceLock<Postgres> = OnceLock::new();
    PG.get_or_init(|| Postgres::start(&std::env::temp_dir()).expect("start PostgreSQL"))
}

fn db(name: &str) -> DbUrl {
    let pg = server();
    pg.create_db(name).unwrap();
    DbUrl::parse(&pg.url(name)).unwrap()
}

#[test]
fn suite_on_postgres() {
    let url = db("suite");
    let open_it = move || -> Box<dyn Store> { open(&url).unwrap() };
    suite::all(&open_it);
}

/// A scanner whose session ends without finishing (killed: the server drops
/// its connection) is found interrupted by the next reader; one still
/// connected is left running.
#[test]
fn a_dead_writer_is_reaped_a_live_one_is_not() {
    let url = db("reap");
    let live =
        vigie_store::Recorder::start(open(&url).unwrap(), &suite::meta("198.18.5.0/24", 1, 0))
            .unwrap();
    // Begin a run on a connection of its own, then close it without a word.
    let mut dying = open(&url).unwrap();
    let dead = dying
        .begin_run(&suite::meta("198.18.5.0/24", 2, 0))
        .unwrap();
    drop(dying);
    let mut reader = open(&url).unwrap();
    // The server notices the closed connection at once (a Unix socket);
    // give it a moment all the same.
    let mut status = RunStatus::Running;
    for _ in 0..50 {
        reader.reap().unwrap();
        status = reader.load(dead).unwrap().summary.status;
        if status != RunStatus::Running {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(status, RunStatus::Interrupted);
    assert_eq!(
        reader.load(live.id()).unwrap().summary.status,
        RunStatus::Running
    );
}

#[test]
fn newer_schema_is_refused() {
    let url = db("newer");
    drop(open(&url).unwrap());
    server()
        .psql("newer", "UPDATE vigie_schema SET version = 99")
        .unwrap();
    let e = open(&url)
        .err()
        .expect("a newer schema was accepted")
        .to_string();
    assert!(e.contains("newer vigie (schema 99"), "{e}");
}

#[test]
fn unreachable_server_is_one_line() {
    let dir = std::env::temp_dir().join(format!("no-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!(
        "postgres://vigie@{}/x",
        dir.display().to_string().replace('/', "%2F")
    );
    let e = open(&DbUrl::parse(&url).unwrap())
        .err()
        .expect("connected to nothing")
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(e.starts_with("postgres://vigie@"), "{e}");
    // An unknown database on a live server.
    let e = open(&DbUrl::parse(&server().url("nosuchdb")).unwrap())
        .err()
        .expect("opened a database that does not exist")
        .to_string();
    assert!(e.contains("nosuchdb") && !e.contains('\n'), "{e}");
}

/// The indexes of `db`'s tables, as the server describes them.
fn indexes(db: &str) -> String {
    server()
        .psql(
            db,
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
        )
        .unwrap()
}

/// A store of schema 1 (primary keys on hosts, ports and port_ranges) is
/// brought to 3 (BRIN indexes on run_id; `port_hosts`) when opened, its
/// scans kept.
#[test]
fn a_version_1_store_is_migrated_with_its_scans() {
    use vigie_store::schema;
    // Schema 1 as it was created.
    server().create_db("v1ref").unwrap();
    server()
        .psql(
            "v1ref",
            &format!(
                "CREATE TABLE vigie_schema (version BIGINT NOT NULL); {}",
                schema::POSTGRES[0]
            ),
        )
        .unwrap();
    let v1 = indexes("v1ref");
    assert!(
        v1.contains("hosts_pkey") && v1.contains("ports_pkey"),
        "{v1}"
    );

    // A store with scans in it, taken back to schema 1.
    let url = db("v1");
    let open_it = || -> Box<dyn Store> { open(&url).unwrap() };
    let m = suite::meta("198.18.5.0/24", 3_000, 0);
    let hosts = vec![
        suite::host("198.18.5.1", &[22, 80], 3_000),
        suite::host("198.18.5.2", &[], 3_001),
    ];
    let id = suite::record(&open_it, &m, &hosts, 3_010);
    let before = open_it().load(id).unwrap();
    server()
        .psql(
            "v1",
            "DROP TABLE port_hosts; DROP INDEX hosts_run, ports_run, port_ranges_run; \
             ALTER TABLE hosts ADD PRIMARY KEY (run_id, seq); \
             ALTER TABLE ports ADD PRIMARY KEY (run_id, seq, proto, port); \
             ALTER TABLE port_ranges ADD PRIMARY KEY (run_id, seq, proto, state, reason, ttl); \
             UPDATE vigie_schema SET version = 1",
        )
        .unwrap();
    assert_eq!(indexes("v1"), v1, "not schema 1's indexes");

    // Opened: migrated, nothing lost, and it takes new scans.
    let after = open_it().load(id).unwrap();
    assert_eq!(after.report, before.report);
    assert_eq!(
        server()
            .psql("v1", "SELECT version FROM vigie_schema")
            .unwrap()
            .trim(),
        "3"
    );
    let v2 = indexes("v1");
    for t in ["hosts", "ports", "port_ranges"] {
        assert!(
            v2.contains(&format!(
                "CREATE INDEX {t}_run ON public.{t} USING brin (run_id)"
            )),
            "{v2}"
        );
        assert!(!v2.contains(&format!("{t}_pkey")), "{v2}");
    }
    assert!(
        v2.contains("CREATE INDEX port_hosts_run ON public.port_hosts USING btree (run_id)"),
        "{v2}"
    );
    let next = suite::record(&open_it, &m, &hosts, 3_020);
    assert_eq!(open_it().load(next).unwrap().report.hosts, hosts);
    let (next, hosts) = suite::sweep(&open_it);
    assert_eq!(open_it().load(next).unwrap().report.hosts, hosts);
}

/// The 40 hosts of the sweep that share one result are one `port_hosts`
/// row, its hosts a `BIGINT[]` (unnest reads it); the 8 others keep a
/// `ports` row each. A group that does not match itself, or names a host
/// twice, is refused in one line.
#[test]
fn a_result_many_hosts_share_is_one_row() {
    let url = db("groups");
    let open_it = || -> Box<dyn Store> { open(&url).unwrap() };
    let (id, _) = suite::sweep(&open_it);
    let q = |sql: &str| server().psql("groups", sql).unwrap().trim().to_owned();
    assert_eq!(
        q(&format!(
            "SELECT port || '/' || state || '/' || ttl || '/' || hosts FROM port_hosts \
             WHERE run_id = {id}"
        )),
        "80/open/64/40"
    );
    assert_eq!(
        q(&format!(
            "SELECT COUNT(*) || ' ' || MIN(s) || ' ' || MAX(s) \
             FROM port_hosts, unnest(seqs) s WHERE run_id = {id}"
        )),
        "40 0 39"
    );
    assert_eq!(
        q(&format!("SELECT COUNT(*) FROM ports WHERE run_id = {id}")),
        "8"
    );
    for (change, undo, want) in [
        (
            "UPDATE port_hosts SET hosts = 39",
            "UPDATE port_hosts SET hosts = 40",
            "says 39 hosts and names 40",
        ),
        (
            "UPDATE port_hosts SET seqs[40] = 40",
            "UPDATE port_hosts SET seqs[40] = 39",
            "port 80/tcp stored twice",
        ),
    ] {
        q(change);
        let e = match open_it().load(id) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("read a bad group ({change})"),
        };
        assert!(e.contains(want) && !e.contains('\n'), "{change}: {e}");
        q(undo);
    }
    assert_eq!(open_it().load(id).unwrap().report.hosts.len(), 49);
}

/// No key stops a host's row from being stored twice (schema 2): the
/// reader refuses the scan, in one line, rather than show the host twice.
#[test]
fn a_host_stored_twice_is_refused_by_the_reader() {
    let url = db("twice");
    let open_it = || -> Box<dyn Store> { open(&url).unwrap() };
    let id = suite::record(
        &open_it,
        &suite::meta("198.18.7.0/24", 5_000, 0),
        &[
            suite::host("198.18.7.1", &[22], 5_000),
            suite::host("198.18.7.2", &[80], 5_001),
        ],
        5_010,
    );
    assert_eq!(open_it().load(id).unwrap().report.hosts.len(), 2);
    server()
        .psql(
            "twice",
            &format!("INSERT INTO hosts SELECT * FROM hosts WHERE run_id = {id} AND seq = 1"),
        )
        .unwrap();
    let e = match open_it().load(id) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a host stored twice was read"),
    };
    assert!(
        e.contains("host #1 stored twice") && !e.contains('\n'),
        "{e}"
    );
}
