//! Running a scan block by block and streaming its host reports.
//!
//! Memory does not grow with the number of targets (see
//! `vigie_engine::blocks`): the scan targets are cut into host blocks of at
//! most ~4 Mi probes; every technique of the run (`-sS -sU`) scans a block,
//! then that block's hosts are reported to every sink, one `HostReport` at
//! a time, and dropped before the next block starts. Reverse DNS runs per
//! block, with the old budget (the first 256 hosts asking for a name, 3 s).
//! Each block of a raw scan starts from the timeout the previous block
//! measured when that is shorter than the `-T` template's initial guess (as
//! nmap's hostgroups share their timing): a silent block then does not wait
//! a whole second per retry.
//!
//! Reports follow the target order. With host discovery, the blocks are
//! cut from the live hosts, and each block's report window also covers the
//! down targets that sort before its last live host (so `-sn`-then-scan
//! output keeps nmap's order). Discovery's per-host status map is the one
//! structure that grows with the scan: it holds the LIVE hosts only.
//!
//! Interrupted (SIGINT/SIGTERM): the block in progress is reported with
//! what it knows, and the resume file names that block, its per-plan
//! position and its known verdicts. A resumed run starts at that block and
//! reports it and the blocks after it only; on a multi-block scan, the
//! interrupted output and the resumed one joined by `vigie merge` (JSON
//! Lines) are the whole scan. One-block scans are unchanged: the resumed
//! output is the whole scan.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;
use std::time::SystemTime;

use vigie_engine::blocks;
use vigie_engine::{Cell, Outcome, Plan};
use vigie_report::{HostReport, HostStatus, PortResult, RunStats, Sink};
use vigie_scan::services::ServiceDb;
use vigie_scan::targets::TargetSet;
use vigie_scan::{PortState, Reason};

use crate::resume::{self, ResumeState};
use crate::{args, progress, rate_line, reverse_names, run_plan, Discovery, Fail, Output};

/// What the reports need besides the scan results.
pub struct Ctx<'a> {
    pub targets: &'a TargetSet,
    pub discovery: Option<&'a Discovery>,
    pub db: &'a ServiceDb,
    pub opts: &'a args::Options,
    pub start: SystemTime,
    pub seed: u64,
}

/// Host totals for the final statistics, counted as blocks are reported.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub up: u64,
    pub down: u64,
    pub timed_out: u64,
}

impl Counts {
    pub fn stats(&self, end: SystemTime, elapsed: std::time::Duration) -> RunStats {
        RunStats {
            end,
            elapsed,
            hosts_up: self.up,
            hosts_down: self.down,
            hosts_total: self.up + self.down + self.timed_out,
        }
    }
}

/// Scan `plans` (one per technique, all over the same targets) block by
/// block, reporting each block as it finishes. Returns the host counts and
/// whether the run was interrupted.
pub fn run_blocks(
    ctx: &Ctx<'_>,
    plans: &[Plan],
    resumed: Option<&ResumeState>,
    out: &mut Output<'_>,
) -> Result<(Counts, bool), Fail> {
    let scan_set = plans
        .first()
        .map_or_else(|| ctx.targets.clone(), |p| p.targets.clone());
    let max_ports = plans.iter().map(Plan::nports).max().unwrap_or(1);
    let hosts = resumed
        .and_then(|r| r.block_hosts)
        .unwrap_or_else(|| blocks::hosts_per_block(blocks::block_probes(), max_ports));
    let nblocks = blocks::block_count(scan_set.len(), hosts).max(1);
    let first = resumed.map_or(0, |r| r.block).min(nblocks - 1);
    if first > 0 {
        eprintln!(
            "vigie: resuming at host block {} of {nblocks}: this run reports that block and the \
             ones after it; `vigie merge` joins its -oJ output with the interrupted run's",
            first + 1
        );
    }
    // Target index where the next report window starts.
    let mut lo = match first.checked_sub(1) {
        Some(prev) => window_end(ctx.targets, &scan_set, prev, hosts, nblocks),
        None => 0,
    };
    let mut counts = Counts::default();
    // Per technique: the timeout the last block ended with, when it had
    // replies to time; the next block starts from it instead of the
    // initial guess (a silent block would otherwise wait the -T default).
    let mut learned: Vec<Option<std::time::Duration>> = vec![None; plans.len()];
    for b in first..nblocks {
        if vigie_engine::stop_requested() {
            save_resume(ctx.seed, b, hosts, &[])?;
            return Ok((counts, true));
        }
        let block_targets = blocks::slice(&scan_set, b * hosts, hosts);
        let mut runs: Vec<(Plan, Outcome)> = Vec::new();
        for (k, plan) in plans.iter().enumerate() {
            if block_targets.is_empty() {
                break;
            }
            if vigie_engine::stop_requested() {
                break;
            }
            let mut bp = plan.for_block(block_targets.clone(), b, nblocks);
            if let Some(r) = resumed.filter(|r| r.block == b) {
                if let Some((at, cells)) = r.plans.get(k) {
                    bp.resume_from = at.unwrap_or(u64::MAX);
                    bp.prior = cells.clone();
                }
            }
            if let Some(t) = learned[k] {
                // Only ever shorter: a block whose replies were slow (a
                // stalled send path) must not make the next one wait longer
                // than the -T guess; a slow block learns its own.
                bp.timing.initial_rtt_timeout = t.min(bp.timing.initial_rtt_timeout);
            }
            let outcome = run_plan(&bp).map_err(|e| Fail::Runtime(e.to_string()))?;
            if ctx.opts.verbose > 0 {
                rate_line(&outcome);
            }
            // Connect attempts keep their own floor: raw scans only.
            if outcome.srtt.is_some() && plan.technique != vigie_scan::Technique::Connect {
                learned[k] = Some(outcome.timeout);
            }
            runs.push((bp, outcome));
        }
        let interrupted = vigie_engine::stop_requested()
            || runs.iter().any(|(_, o)| o.results.resume_at().is_some());
        if interrupted {
            // Saved before the (possibly long) report, as before blocks.
            save_resume(ctx.seed, b, hosts, &runs)?;
        }
        let hi = window_end(ctx.targets, &scan_set, b, hosts, nblocks);
        report_window(ctx, &runs, lo..hi, out, &mut counts)?;
        lo = hi;
        if interrupted {
            return Ok((counts, true));
        }
    }
    Ok((counts, false))
}

/// End (exclusive, in target indices) of block `b`'s report window: just
/// after the block's last scanned host, or every target for the last block.
fn window_end(targets: &TargetSet, scan_set: &TargetSet, b: u64, hosts: u64, nblocks: u64) -> u64 {
    let all = u64::try_from(targets.len()).unwrap_or(u64::MAX);
    if b + 1 >= nblocks {
        return all;
    }
    let last = (b + 1).saturating_mul(hosts) - 1;
    scan_set
        .get(last)
        .and_then(|a| targets.index_of(a))
        .map_or(all, |i| i + 1)
}

/// After an interrupted block: save what is known and where to go on.
fn save_resume(seed: u64, block: u64, hosts: u64, runs: &[(Plan, Outcome)]) -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = Path::new(resume::RESUME_FILE);
    resume::write_resume_streamed(
        path,
        &args,
        seed,
        block,
        Some(hosts),
        runs.iter()
            .map(|(_, o)| (o.results.resume_at(), o.results.known())),
    )
    .map_err(|e| Fail::Runtime(format!("cannot write {}: {e}", path.display())))?;
    eprintln!(
        "vigie: interrupted; finish the scan with: vigie --resume {}",
        path.display()
    );
    Ok(())
}

/// What one target comes to in a block's report.
enum Host {
    Report(HostReport),
    /// `--host-timeout` left some of its verdicts missing.
    TimedOut(IpAddr),
    /// None of its probes fell in this run's shard.
    Skip,
}

/// Report the targets of `window` (target indices) from the block's runs:
/// reverse names first (they need the up/down verdicts), then one host at
/// a time to every sink.
fn report_window(
    ctx: &Ctx<'_>,
    runs: &[(Plan, Outcome)],
    window: Range<u64>,
    out: &mut Output<'_>,
    counts: &mut Counts,
) -> Result<(), Fail> {
    let end = SystemTime::now();
    let scopes: Vec<vigie_engine::Scope> = runs.iter().map(|(p, _)| p.scope()).collect();
    let mut names: HashMap<IpAddr, String> = HashMap::new();
    if !ctx.opts.no_dns {
        // nmap's budget, per block: the first 256 hosts that want a name.
        let mut want = Vec::new();
        for h in window.clone() {
            if want.len() == 256 {
                break;
            }
            let Some(addr) = ctx.targets.get(h) else {
                continue;
            };
            if let Host::Report(r) = host_report(ctx, runs, &scopes, addr, end) {
                if r.status.up || ctx.opts.always_dns {
                    want.push(addr);
                }
            }
        }
        for (a, n) in want.iter().zip(reverse_names(&want)) {
            if let Some(n) = n {
                names.insert(*a, n);
            }
        }
    }
    for h in window {
        let Some(addr) = ctx.targets.get(h) else {
            continue;
        };
        match host_report(ctx, runs, &scopes, addr, end) {
            Host::Report(mut r) => {
                r.hostname = names.remove(&addr);
                if r.status.up {
                    counts.up += 1;
                } else {
                    counts.down += 1;
                }
                progress::suspend(|| out.write(|s| s.host(&r)))?;
            }
            Host::TimedOut(a) => {
                counts.timed_out += 1;
                eprintln!(
                    "vigie: skipping host {a}: --host-timeout reached before its scan finished"
                );
            }
            Host::Skip => {}
        }
    }
    Ok(())
}

/// One target's report from the block's runs (empty `runs`: a ping scan,
/// or a host discovery found down).
fn host_report(
    ctx: &Ctx<'_>,
    runs: &[(Plan, Outcome)],
    scopes: &[vigie_engine::Scope],
    addr: IpAddr,
    end: SystemTime,
) -> Host {
    let (discovery, db, opts) = (ctx.discovery, ctx.db, ctx.opts);
    let srtt = runs.iter().find_map(|(_, o)| o.srtt);
    let rttvar = runs.iter().find_map(|(_, o)| o.rttvar);
    let timeout = runs.iter().map(|(_, o)| o.timeout).max();
    let mut ports = Vec::new();
    let mut first_reply: Option<Cell> = None;
    let mut unfinished = false;
    for ((plan, outcome), scope) in runs.iter().zip(scopes) {
        let Some(i) = plan.targets.index_of(addr) else {
            continue;
        };
        // A shard reports its own probes; an interrupted run what it knows.
        let interrupted = outcome.results.resume_at().is_some();
        let base = i * plan.nports();
        let proto = plan.technique.proto();
        let cells = outcome.results.host(i);
        for (k, (c, port)) in cells.iter().zip(plan.ports.iter()).enumerate() {
            if !scope.contains(base + k as u64) || (interrupted && c.is_empty()) {
                continue;
            }
            // Only a --host-timeout leaves verdicts missing.
            unfinished |= c.is_empty();
            if first_reply.is_none() && !c.is_empty() && !c.is_silence() {
                first_reply = Some(*c);
            }
            ports.push(PortResult {
                proto,
                port,
                state: c.state().unwrap_or(PortState::Filtered),
                reason: c.reason().unwrap_or(Reason::NoResponse),
                ttl: c.ttl(),
                service: db.name(port, proto).map(str::to_owned),
            });
        }
    }
    if unfinished {
        return Host::TimedOut(addr);
    }
    if ports.is_empty() && !runs.is_empty() && runs.iter().all(|(p, _)| p.shard != (0, 1)) {
        return Host::Skip;
    }
    let status = if opts.no_ping {
        HostStatus {
            up: true,
            reason: Reason::UserSet,
            ttl: 0,
        }
    } else if let Some(st) = discovery.and_then(|d| d.status.get(&addr)) {
        *st
    } else if let Some(c) = first_reply {
        let reason = if addr.is_loopback() {
            Reason::Localhost
        } else {
            c.reason().unwrap_or(Reason::UserSet)
        };
        HostStatus {
            up: true,
            reason,
            ttl: c.ttl(),
        }
    } else {
        HostStatus {
            up: false,
            reason: Reason::NoResponse,
            ttl: 0,
        }
    };
    ports.sort_by_key(|p| (p.proto, p.port));
    Host::Report(HostReport {
        addr,
        hostname: None,
        mac: discovery.and_then(|d| d.mac.get(&addr).copied()),
        latency: if status.up {
            srtt.or(discovery.and_then(|d| d.srtt))
        } else {
            None
        },
        status,
        start: ctx.start,
        end,
        ports,
        srtt,
        rttvar,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_scan::targets::IpRange;

    fn set(addrs: &[&str]) -> TargetSet {
        let r: Vec<IpRange> = addrs
            .iter()
            .map(|a| IpRange::single(a.parse().unwrap()))
            .collect();
        TargetSet::new(&r, &[])
    }

    /// Report windows tile the targets: each ends just after its block's
    /// last scanned (live) host, the last one at the end of the targets.
    #[test]
    fn report_windows_tile_the_targets() {
        let targets = set(&[
            "198.18.0.1",
            "198.18.0.2",
            "198.18.0.3",
            "198.18.0.4",
            "198.18.0.5",
        ]);
        let live = set(&["198.18.0.2", "198.18.0.4", "198.18.0.5"]);
        let n = blocks::block_count(live.len(), 2);
        assert_eq!(n, 2);
        assert_eq!(window_end(&targets, &live, 0, 2, n), 4);
        assert_eq!(window_end(&targets, &live, 1, 2, n), 5);
        // -Pn: the scanned set is the targets.
        let n = blocks::block_count(targets.len(), 2);
        let ends: Vec<u64> = (0..n)
            .map(|b| window_end(&targets, &targets, b, 2, n))
            .collect();
        assert_eq!(ends, vec![2, 4, 5]);
    }
}
