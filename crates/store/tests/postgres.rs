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
