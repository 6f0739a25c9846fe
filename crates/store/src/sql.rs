//! The statements both back-ends run, spelled once with `?N` parameters
//! (PostgreSQL's `$N` is derived by [`pg`]).

pub(crate) const INSERT_RUN: &str = "INSERT INTO runs (scanner, scanner_version, args, targets, \
     technique, seed, verbosity, started_us, status, writer_host, writer_pid, writer_start) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', ?9, ?10, ?11) RETURNING id";

pub(crate) const INSERT_SCAN: &str = "INSERT INTO scans (run_id, position, technique, proto, \
     ports, scanflags) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

pub(crate) const FINISH_RUN: &str = "UPDATE runs SET ended_us = ?2, elapsed_us = ?3, \
     status = ?4, hosts_up = ?5, hosts_down = ?6, hosts_total = ?7 WHERE id = ?1";

pub(crate) const RUNNING: &str =
    "SELECT id, writer_host, writer_pid, writer_start FROM runs WHERE status = 'running'";

pub(crate) const MARK_INTERRUPTED: &str =
    "UPDATE runs SET status = 'interrupted' WHERE id = ?1 AND status = 'running'";

/// id, started, ended, status, args, targets, technique, hosts up, open
/// ports. ?1: a target word (LIKE pattern) or NULL, ?2: an address or NULL,
/// ?3: complete only, ?4: limit (-1: none).
pub(crate) const LIST: &str = "SELECT r.id, r.started_us, r.ended_us, r.status, r.args, \
     r.targets, r.technique, \
     (SELECT COUNT(*) FROM hosts h WHERE h.run_id = r.id AND h.up), \
     (SELECT COUNT(*) FROM ports p WHERE p.run_id = r.id AND p.state = 'open') + \
     (SELECT CAST(COALESCE(SUM(g.hosts), 0) AS BIGINT) FROM port_hosts g \
      WHERE g.run_id = r.id AND g.state = 'open') \
     FROM runs r \
     WHERE (CAST(?1 AS TEXT) IS NULL OR (' ' || r.targets || ' ') LIKE ?1 ESCAPE '\\' \
            OR EXISTS (SELECT 1 FROM hosts h WHERE h.run_id = r.id AND h.addr = CAST(?2 AS TEXT))) \
       AND (NOT ?3 OR r.status = 'complete') \
     ORDER BY r.id DESC LIMIT ?4";

pub(crate) const ONE_RUN: &str = "SELECT r.id, r.started_us, r.ended_us, r.status, r.args, \
     r.targets, r.technique, \
     (SELECT COUNT(*) FROM hosts h WHERE h.run_id = r.id AND h.up), \
     (SELECT COUNT(*) FROM ports p WHERE p.run_id = r.id AND p.state = 'open') + \
     (SELECT CAST(COALESCE(SUM(g.hosts), 0) AS BIGINT) FROM port_hosts g \
      WHERE g.run_id = r.id AND g.state = 'open'), \
     r.seed, r.verbosity, r.elapsed_us, r.hosts_down, r.hosts_total \
     FROM runs r WHERE r.id = ?1";

pub(crate) const SCANS: &str = "SELECT technique, proto, ports, scanflags FROM scans \
     WHERE run_id = ?1 ORDER BY position";

pub(crate) const HOSTS: &str = "SELECT seq, addr, hostname, mac, up, reason, ttl, latency_us, \
     start_us, end_us, srtt_us, rttvar_us, timeout_us FROM hosts WHERE run_id = ?1 ORDER BY seq";

pub(crate) const PORTS: &str = "SELECT seq, proto, port, state, reason, ttl, service FROM ports \
     WHERE run_id = ?1";

pub(crate) const RANGES: &str = "SELECT seq, proto, state, reason, ttl, ports FROM port_ranges \
     WHERE run_id = ?1";

pub(crate) const GROUPS: &str = "SELECT proto, port, state, reason, ttl, service, hosts, seqs \
     FROM port_hosts WHERE run_id = ?1";

pub(crate) const SERVICES: &str = "SELECT seq, proto, port, name, product, version, extrainfo, \
     hostname, ostype, devicetype, tunnel, conf, cpe, tls_version, tls_cipher, tls_alpn, \
     tls_subject, tls_issuer, tls_sans, tls_not_before, tls_not_after, tls_key, tls_sha256 \
     FROM services WHERE run_id = ?1";

/// The `LIKE` pattern matching a whole space-separated word.
pub(crate) fn word_pattern(word: &str) -> String {
    let mut p = String::from("% ");
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push_str(" %");
    p
}

/// `?N` → `$N`.
pub(crate) fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_like_wildcards() {
        assert_eq!(word_pattern("198.18.0.0/24"), "% 198.18.0.0/24 %");
        assert_eq!(word_pattern("a_b%c\\"), "% a\\_b\\%c\\\\ %");
        assert_eq!(pg("a = ?1 AND b = ?12"), "a = $1 AND b = $12");
    }
}
