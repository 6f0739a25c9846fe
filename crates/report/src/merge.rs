//! Joining the outputs of the shards of one scan (`vigie merge`) into one
//! [`Report`], written again through the ordinary writers.
//!
//! Rules:
//! - a host's ports are the union of its ports in every shard; the same port
//!   with two different verdicts (state or reason) is an error naming the
//!   host, the port and both files;
//! - a host is up if any shard saw it up (status, latency, times and timing
//!   then come from the first shard that saw it up); its scan window runs
//!   from the earliest start to the latest end;
//! - the run is the first shard's (its command line), starting at the
//!   earliest start, with the scan passes of every shard (port lists united);
//! - the totals are recomputed: hosts up = merged hosts that are up, total =
//!   the largest total any shard announced (every shard walks the same
//!   targets) or the number of merged hosts if larger, down = total − up;
//!   the end is the latest end and the elapsed time the LONGEST shard's
//!   (shards run side by side, as nmap's elapsed is wall-clock time).

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;

use thiserror::Error;
use vigie_scan::{PortState, Proto, Reason};

use crate::read::Report;
use crate::{HostReport, PortResult, RunStats, Sink};

/// Why the shards' reports cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MergeError {
    #[error("nothing to merge")]
    Nothing,
    /// One port with two verdicts: (state, reason) and the file of each.
    #[error(
        "host {addr} port {port}/{}: {} in {first_file} but {} in {second_file}",
        proto.as_str(),
        verdict(*first),
        verdict(*second)
    )]
    Conflict {
        addr: IpAddr,
        proto: Proto,
        port: u16,
        first: (PortState, Reason),
        first_file: String,
        second: (PortState, Reason),
        second_file: String,
    },
}

/// A host being merged: the report kept and, per port, the file it came from.
struct Merging {
    host: HostReport,
    ports: BTreeMap<(Proto, u16), (PortResult, usize)>,
}

/// "open (syn-ack)".
fn verdict((state, reason): (PortState, Reason)) -> String {
    format!("{} ({})", state.as_str(), reason.as_str())
}

/// Merge the reports of the shards; `inputs` pairs each report with the name
/// of its file, used in error messages.
pub fn merge(inputs: Vec<(String, Report)>) -> Result<Report, MergeError> {
    let names: Vec<String> = inputs.iter().map(|(n, _)| n.clone()).collect();
    let Some((_, first)) = inputs.first() else {
        return Err(MergeError::Nothing);
    };
    let origin = first.origin.clone();
    let mut run = first.run.clone();
    let mut stats = first.stats;
    let mut hosts: BTreeMap<IpAddr, Merging> = BTreeMap::new();
    for (i, (_, report)) in inputs.into_iter().enumerate() {
        if i > 0 {
            run.start = run.start.min(report.run.start);
            for s in report.run.scans {
                match run
                    .scans
                    .iter_mut()
                    .find(|r| (r.technique, r.proto) == (s.technique, s.proto))
                {
                    Some(r) => r.ports = r.ports.union(&s.ports),
                    None => run.scans.push(s),
                }
            }
            stats.end = stats.end.max(report.stats.end);
            stats.elapsed = stats.elapsed.max(report.stats.elapsed);
            stats.hosts_total = stats.hosts_total.max(report.stats.hosts_total);
        }
        for mut h in report.hosts {
            let ports = std::mem::take(&mut h.ports);
            let m = hosts.entry(h.addr).or_insert_with(|| Merging {
                host: h.clone(),
                ports: BTreeMap::new(),
            });
            let have = &mut m.host;
            if !have.status.up && h.status.up {
                have.status = h.status;
                have.latency = h.latency;
                have.srtt = h.srtt;
                have.rttvar = h.rttvar;
                have.timeout = h.timeout;
            }
            have.start = have.start.min(h.start);
            have.end = have.end.max(h.end);
            if have.hostname.is_none() {
                have.hostname = h.hostname;
            }
            if have.mac.is_none() {
                have.mac = h.mac;
            }
            for p in ports {
                match m.ports.get_mut(&(p.proto, p.port)) {
                    Some((q, from)) if (q.state, q.reason) != (p.state, p.reason) => {
                        return Err(MergeError::Conflict {
                            addr: h.addr,
                            proto: p.proto,
                            port: p.port,
                            first: (q.state, q.reason),
                            first_file: names[*from].clone(),
                            second: (p.state, p.reason),
                            second_file: names[i].clone(),
                        });
                    }
                    // The same port in two files: what -sV found is kept
                    // from whichever has it (the first that does).
                    Some((q, _)) => {
                        if q.detected.is_none() {
                            q.detected = p.detected;
                        }
                    }
                    None => {
                        m.ports.insert((p.proto, p.port), (p, i));
                    }
                }
            }
        }
    }
    let hosts: Vec<HostReport> = hosts
        .into_values()
        .map(|m| HostReport {
            ports: m.ports.into_values().map(|(p, _)| p).collect(),
            ..m.host
        })
        .collect();
    let up = hosts.iter().filter(|h| h.status.up).count() as u64;
    let total = stats.hosts_total.max(hosts.len() as u64);
    let stats = RunStats {
        hosts_up: up,
        hosts_down: total.saturating_sub(up),
        hosts_total: total,
        ..stats
    };
    Ok(Report {
        origin,
        run,
        hosts,
        stats,
    })
}

/// Write a whole report through a writer (or a [`crate::Tee`] of them).
pub fn write_report(report: &Report, sink: &mut dyn Sink) -> io::Result<()> {
    sink.begin(&report.run)?;
    for h in &report.hosts {
        sink.host(h)?;
    }
    sink.finish(&report.run, &report.stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::Origin;
    use crate::testutil::*;
    use std::time::Duration;
    use vigie_scan::{PortState, Reason};

    /// Shard `i` of 3 of `host_small`'s ports (every third port), with
    /// its own times.
    fn shard(i: usize, up: bool) -> Report {
        let mut h = host_small();
        h.ports = h.ports.into_iter().skip(i).step_by(3).collect();
        h.status.up = up;
        h.start = at(T0 + i as u64);
        h.end = at(T0 + 10 + i as u64);
        h.latency = up.then(|| Duration::from_micros(100 + i as u64));
        let mut run = run_info(0);
        run.start = at(T0 + 5 - i as u64);
        let mut st = stats();
        st.elapsed = Duration::from_millis(100 * (i as u64 + 1));
        st.end = at(T0 + 20 + i as u64);
        st.hosts_up = u64::from(up);
        st.hosts_down = u64::from(!up);
        Report {
            origin: Origin::vigie(),
            run,
            hosts: vec![h],
            stats: st,
        }
    }

    fn named(rs: Vec<Report>) -> Vec<(String, Report)> {
        rs.into_iter()
            .enumerate()
            .map(|(i, r)| (format!("s{i}.xml"), r))
            .collect()
    }

    #[test]
    fn shards_join_into_the_whole() {
        let m = merge(named(vec![shard(0, false), shard(1, true), shard(2, true)])).unwrap();
        assert_eq!(m.hosts.len(), 1);
        let h = &m.hosts[0];
        assert_eq!(h.ports, host_small().ports);
        // up from the first shard that saw it up
        assert!(h.status.up);
        assert_eq!(h.latency, Some(Duration::from_micros(101)));
        assert_eq!((h.start, h.end), (at(T0), at(T0 + 12)));
        assert_eq!(m.run.start, at(T0 + 3));
        assert_eq!(m.run.scans, run_info(0).scans);
        assert_eq!(m.stats.end, at(T0 + 22));
        assert_eq!(m.stats.elapsed, Duration::from_millis(300));
        assert_eq!(
            (m.stats.hosts_up, m.stats.hosts_down, m.stats.hosts_total),
            (1, 0, 1)
        );
    }

    #[test]
    fn hosts_from_different_shards_and_down_hosts() {
        let mut b = shard(1, true);
        b.hosts[0].addr = "198.18.0.3".parse().unwrap();
        let mut c = shard(2, false);
        c.hosts = vec![host_down()];
        c.stats.hosts_total = 5;
        let m = merge(named(vec![shard(0, true), b, c])).unwrap();
        let addrs: Vec<String> = m.hosts.iter().map(|h| h.addr.to_string()).collect();
        assert_eq!(addrs, ["127.0.0.1", "198.18.0.2", "198.18.0.3"]);
        assert_eq!(
            (m.stats.hosts_up, m.stats.hosts_down, m.stats.hosts_total),
            (2, 3, 5)
        );
    }

    #[test]
    fn the_same_port_twice_must_agree() {
        let a = shard(0, true);
        let same = merge(named(vec![a.clone(), a.clone()])).unwrap();
        assert_eq!(same.hosts[0].ports, a.hosts[0].ports);
        let mut b = a.clone();
        let p = b.hosts[0].ports.iter_mut().find(|p| p.port == 22).unwrap();
        p.state = PortState::Filtered;
        p.reason = Reason::NoResponse;
        let err = merge(named(vec![a.clone(), shard(1, true), b])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "host 127.0.0.1 port 22/tcp: open (syn-ack) in s0.xml but filtered (no-response) in s2.xml"
        );
        assert_eq!(merge(vec![]), Err(MergeError::Nothing));
    }

    #[test]
    fn detected_services_are_kept() {
        let with = Report {
            origin: Origin::vigie(),
            run: run_info(0),
            hosts: vec![host_versions()],
            stats: stats(),
        };
        let mut without = with.clone();
        for p in &mut without.hosts[0].ports {
            p.detected = None;
        }
        assert!(with.hosts[0].ports.iter().any(|p| p.detected.is_some()));
        // Whichever file comes first, the services -sV found are kept.
        for order in [
            vec![without.clone(), with.clone()],
            vec![with.clone(), without.clone()],
        ] {
            let m = merge(named(order)).unwrap();
            assert_eq!(m.hosts[0].ports, with.hosts[0].ports);
        }
    }
}
