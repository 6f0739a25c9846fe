//! A private PostgreSQL server for the store's tests and benchmarks:
//! Debian's `postgresql` package (`initdb`, `pg_ctl`), a fresh cluster in a
//! scratch directory, listening on a Unix socket only (no TCP port: it
//! reaches every network namespace through the file system, and nothing
//! outside the machine can reach it). Stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// A running server.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    /// The user the server runs as (initdb refuses root).
    user: String,
}

/// The newest `/usr/lib/postgresql/N/bin` holding `initdb`.
fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (/usr/lib/postgresql; apt-get install postgresql)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, b)) => Ok(b),
        None => bail!("no initdb under /usr/lib/postgresql/*/bin"),
    }
}

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Postgres {
    /// Start a server in a new directory under `parent`.
    pub fn start(parent: &Path) -> anyhow::Result<Postgres> {
        let bin = bin_dir()?;
        let user = "postgres".to_owned();
        let dir = parent.join(format!(
            "pg-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        run(
            Command::new("chown").arg(&user).arg(&dir),
            "chown of the server directory",
        )?;
        // The server user must reach the directory through its parents.
        let mut p = dir.parent();
        while let Some(d) = p {
            if d.as_os_str().is_empty() || d == Path::new("/") {
                break;
            }
            let _ = Command::new("chmod").arg("o+x").arg(d).status();
            p = d.parent();
        }
        let s = Postgres { dir, bin, user };
        run(
            s.as_user(&s.bin.join("initdb"))
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "vigie",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "-D",
                ])
                .arg(s.data()),
            "initdb",
        )?;
        let opts = format!(
            "-c listen_addresses='' -k {} -c fsync=off -c max_connections=50",
            s.dir.display()
        );
        run(
            s.as_user(&s.bin.join("pg_ctl"))
                .args(["-w", "-t", "60", "-D"])
                .arg(s.data())
                .args(["-l"])
                .arg(s.dir.join("log"))
                .args(["-o", &opts, "start"]),
            "pg_ctl start",
        )?;
        s.watch_parent()?;
        Ok(s)
    }

    /// A server kept in a `static` is never dropped: a watchdog stops it
    /// and removes its directory once this process is gone (pg_ctl's
    /// server is not our child and would outlive the tests).
    fn watch_parent(&self) -> anyhow::Result<()> {
        Command::new("sh")
            .arg("-c")
            .arg(
                "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; \
                 runuser -u \"$2\" -- \"$3\" -w -m immediate -D \"$4\" stop >/dev/null 2>&1; \
                 rm -rf \"$5\"",
            )
            .arg("vigie-lab-pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.user)
            .arg(self.bin.join("pg_ctl"))
            .arg(self.data())
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start the server's watchdog")?;
        Ok(())
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn as_user(&self, program: &Path) -> Command {
        let mut c = Command::new("runuser");
        c.args(["-u", &self.user, "--"]).arg(program);
        c
    }

    /// The directory of the server's socket.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A URL for database `db` (created by [`Postgres::create_db`]), as
    /// `--db` takes it.
    pub fn url(&self, db: &str) -> String {
        let host: String = self
            .dir
            .display()
            .to_string()
            .bytes()
            .map(|b| match b {
                b'/' => "%2F".to_owned(),
                b if b.is_ascii_alphanumeric() || b"-_.".contains(&b) => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect();
        format!("postgres://vigie@{host}/{db}")
    }

    /// Create an empty database.
    pub fn create_db(&self, db: &str) -> anyhow::Result<()> {
        run(
            Command::new(self.bin.join("createdb"))
                .args(["-h"])
                .arg(&self.dir)
                .args(["-U", "vigie", db]),
            "createdb",
        )
    }

    /// Run SQL through psql (`-v ON_ERROR_STOP=1`); its output.
    pub fn psql(&self, db: &str, sql: &str) -> anyhow::Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args(["-U", "vigie", "-d", db, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .as_user(&self.bin.join("pg_ctl"))
            .args(["-w", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
