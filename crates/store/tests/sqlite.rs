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
