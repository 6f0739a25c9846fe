//! Who writes a scan, so that a reader can tell a scan still running from
//! one whose writer was killed.
//!
//! SQLite: the writer's host name, pid and process start (boot id and start
//! time in clock ticks, from `/proc`): a pid reused by another process does
//! not pass for the writer. PostgreSQL: the writer's session holds an
//! advisory lock on its run for as long as it lives (see `postgres.rs`).

use std::fs;

/// The name of this machine (`/proc/sys/kernel/hostname`).
pub(crate) fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// `BOOT_ID:START_TICKS` of process `pid`, or `None` when it does not exist.
pub(crate) fn process_start(pid: u32) -> Option<String> {
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: the
    // fields after its last ')' are plain. Start time is field 22.
    let rest = &stat[stat.rfind(')')? + 1..];
    let start = rest.split_whitespace().nth(19)?;
    Some(format!("{}:{start}", boot.trim()))
}

/// This process, as recorded: (host, pid, start).
pub(crate) fn me() -> (String, u32, String) {
    let pid = std::process::id();
    (host_name(), pid, process_start(pid).unwrap_or_default())
}

/// Whether the writer recorded as (`host`, `pid`, `start`) is certainly gone.
/// Another machine's writer cannot be checked from here: not gone.
pub(crate) fn gone(host: &str, pid: i64, start: &str) -> bool {
    if host != host_name() {
        return false;
    }
    let Ok(pid) = u32::try_from(pid) else {
        return true;
    };
    match process_start(pid) {
        None => true,
        Some(now) => !start.is_empty() && now != start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_gone() {
        let (host, pid, start) = me();
        assert!(!start.is_empty());
        assert!(!gone(&host, i64::from(pid), &start));
        // Same pid, another start: a reused pid.
        assert!(gone(&host, i64::from(pid), "x:1"));
        // A child that has exited.
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let cpid = c.id();
        c.wait().unwrap();
        assert!(gone(&host, i64::from(cpid), "x:1"));
        // Another machine's writer is not judged.
        assert!(!gone("elsewhere.invalid", 1, "x:1"));
    }
}
