//! A stored scan read back into the report model, as if just run.

use std::time::Duration;

use vigie_report::{HostReport, Origin, Report, RunInfo, RunStats, ScanInfo};
use vigie_scan::{Proto, Technique};

use crate::rows::port_list;
use crate::sqlite::{RunRest, ScanRow};
use crate::{RunSummary, StoreError, StoredRun};

pub(crate) fn stored_run(
    summary: RunSummary,
    rest: RunRest,
    scans: Vec<ScanRow>,
    hosts: Vec<HostReport>,
) -> Result<StoredRun, StoreError> {
    let id = summary.id;
    let bad = |why: String| StoreError::Corrupt { id, why };
    let seed: u64 = rest
        .seed
        .parse()
        .map_err(|_| bad(format!("bad seed {:?}", rest.seed)))?;
    let mut infos = Vec::with_capacity(scans.len());
    for (technique, proto, ports, scanflags) in scans {
        infos.push(ScanInfo {
            technique: Technique::from_nmap_name(&technique)
                .ok_or_else(|| bad(format!("unknown technique {technique:?}")))?,
            proto: Proto::parse(&proto)
                .ok_or_else(|| bad(format!("unknown protocol {proto:?}")))?,
            ports: port_list(&ports).map_err(bad)?,
            scanflags,
        });
    }
    let up = hosts.iter().filter(|h| h.status.up).count() as u64;
    // An interrupted scan has no totals: what was stored stands for them.
    let end = summary
        .end
        .or_else(|| hosts.iter().map(|h| h.end).max())
        .unwrap_or(summary.start);
    let elapsed = match rest.elapsed_us {
        Some(us) => Duration::from_micros(us.max(0) as u64),
        None => end.duration_since(summary.start).unwrap_or_default(),
    };
    let total = rest
        .hosts_total
        .map(|t| t.max(0) as u64)
        .unwrap_or(hosts.len() as u64);
    let down = rest
        .hosts_down
        .map(|d| d.max(0) as u64)
        .unwrap_or(total.saturating_sub(up));
    let report = Report {
        origin: Origin::vigie(),
        run: RunInfo {
            args: summary.args.clone(),
            start: summary.start,
            scans: infos,
            verbose: u8::try_from(rest.verbose).map_err(|_| bad("bad verbosity".into()))?,
        },
        hosts,
        stats: RunStats {
            end,
            elapsed,
            hosts_up: up,
            hosts_down: down,
            hosts_total: total,
        },
    };
    Ok(StoredRun {
        summary,
        seed,
        report,
    })
}
