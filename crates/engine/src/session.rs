//! A scan session: the whole plan checked before the first packet, then
//! discovery → host blocks → per-block plans → carried timeouts, each
//! block's hosts streamed to a [`Sink`] and dropped.
//!
//! - **Checks first** ([`Session::new`]): the accident guard (a target set
//!   larger than a /8 needs an explicit exclude), the size of every plan,
//!   a route for every address family, and the privileges each part needs.
//!   Nothing is sent before they all pass.
//! - **Discovery** decides which targets get port-scanned (nmap's default
//!   probes, or the `-P*` ones; ARP / neighbour discovery on a directly
//!   attached segment). Without discovery (`-Pn`) the on-link targets are
//!   still resolved by the session's own ARP / ND (as nmap does): an
//!   address that never answers is down, and the ones that do are sent
//!   frames straight to their MAC, so nothing waits on the kernel's
//!   neighbour queue (`--send-ip` keeps the kernel's path instead).
//! - **Host blocks** keep memory flat (see [`crate::blocks`]). Each block of
//!   a raw scan starts from the timeout the previous block measured when it
//!   is shorter than the `-T` guess (as nmap's hostgroups share timing).
//! - Reports follow the target order. With discovery, each block's report
//!   window also covers the down targets that sort before its last live
//!   host. The per-host status map holds the live hosts only.
//! - **Interrupted** (the stop token): the block in progress is reported
//!   with what it knows and the sink is told where to resume (block, and
//!   per plan the position and the known verdicts); a resumed run starts at
//!   that block.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use vigie_netio::txring::NextHops;
use vigie_scan::discovery::Probe;
use vigie_scan::ports::PortList;
use vigie_scan::targets::{IpRange, TargetSet};
use vigie_scan::{PortState, Proto, Reason, Technique};
use vigie_wire::tcp::TcpFlags;

use crate::blocks;
use crate::plan::{random_keys, Plan, SendPath, Timing};
use crate::sweep::{self, PingPlan};
use crate::trace::DEBUG;
use crate::{trace_debug, Cell, EngineError, Env, Outcome, Results};

/// Target sets larger than this many addresses (a /8) need an explicit
/// exclude list.
pub const ACCIDENT_LIMIT: u128 = 1 << 24;

/// One port scan of the run (at most one TCP technique, then UDP).
#[derive(Debug, Clone)]
pub struct ScanSpec {
    pub technique: Technique,
    pub ports: PortList,
    /// `--scanflags` (TCP raw techniques).
    pub scanflags: Option<TcpFlags>,
}

/// Host discovery before the port scan.
#[derive(Debug, Clone)]
pub struct DiscoverySpec {
    /// Network-layer probes (nmap's default set when none are named).
    pub probes: Vec<Probe>,
    /// ARP / ND for on-link targets (`--disable-arp-ping` clears it).
    pub link: bool,
}

/// Where an interrupted run stopped (read back from a resume file).
#[derive(Debug, Clone, Default)]
pub struct ResumePoint {
    pub block: u64,
    /// Hosts per block of the interrupted run (`None`: as computed now).
    pub block_hosts: Option<u64>,
    /// Per plan of that block: resume position (`None` = finished) and
    /// the verdicts known.
    pub plans: Vec<PlanState>,
}

/// One plan of an interrupted block: where to resume (`None` = finished)
/// and every verdict known as (probe id, cell).
pub type PlanState = (Option<u64>, Vec<(u64, Cell)>);

/// Everything a session needs, fixed before the first packet.
#[derive(Debug, Clone)]
pub struct Config {
    pub targets: TargetSet,
    /// An exclude list was given (`--exclude`, `--excludefile`): the
    /// accident guard lets a large target set through.
    pub explicit_exclude: bool,
    pub scans: Vec<ScanSpec>,
    /// `None`: `-Pn` (every target is scanned and reported up, except
    /// on-link addresses that never answer ARP / ND).
    pub discovery: Option<DiscoverySpec>,
    /// Orders the probes (printed in reports; never a secret).
    pub seed: u64,
    pub timing: Timing,
    pub shard: (u64, u64),
    /// `--send-ip`: the kernel routes and resolves; no ARP / ND of ours.
    pub send_ip: bool,
    /// Probes per host block.
    pub block_probes: u64,
    pub resume: Option<ResumePoint>,
    /// Raw sockets are allowed (CAP_NET_RAW).
    pub raw_ok: bool,
    /// `-sV`: detect the services of the open TCP ports and the open or
    /// open|filtered UDP ports, per host block.
    pub version: Option<crate::version::VersionSpec>,
}

/// Why a host is (not) up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostStatus {
    pub up: bool,
    pub reason: Reason,
    pub ttl: u8,
}

/// One port's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortVerdict {
    pub proto: Proto,
    pub port: u16,
    pub state: PortState,
    pub reason: Reason,
    pub ttl: u8,
}

/// One target's result.
#[derive(Debug, Clone)]
pub struct HostResult {
    pub addr: IpAddr,
    /// Its place in the run's targets (the output order).
    pub index: u64,
    /// Given to [`Sink::settled`] before its report window.
    pub early: bool,
    pub status: HostStatus,
    pub mac: Option<[u8; 6]>,
    pub latency: Option<Duration>,
    pub end: SystemTime,
    /// Every scanned port, sorted by (proto, port).
    pub ports: Vec<PortVerdict>,
    pub srtt: Option<Duration>,
    pub rttvar: Option<Duration>,
    pub timeout: Option<Duration>,
    /// `-sV`: what was found on its open TCP and UDP ports.
    pub services: Vec<(Proto, u16, crate::version::Detected)>,
}

/// What a sink is told when the run is interrupted: enough to resume.
pub struct Interrupted<'a> {
    pub block: u64,
    pub block_hosts: u64,
    /// Per plan of the block: resume position and the results so far.
    pub plans: Vec<(Option<u64>, &'a Results)>,
}

/// Where a session's results go.
pub trait Sink {
    type Error;
    /// The hosts of the report window about to be written, each with
    /// whether it is up (a sink may look their names up first).
    fn window(&mut self, _hosts: &[(IpAddr, bool)]) -> Result<(), Self::Error> {
        Ok(())
    }
    fn host(&mut self, host: &HostResult) -> Result<(), Self::Error>;
    /// Whether the sink takes hosts before their report window (see
    /// [`Sink::settled`]).
    fn early(&self) -> bool {
        false
    }
    /// A host whose every probe is final while its block still waits for
    /// the last replies of others, with the block's round-trip estimate as
    /// of then (its report carries that one). The same result comes to
    /// [`Sink::host`] in its report window, with `early` set. `false`: not
    /// taken now (it is offered again).
    fn settled(&mut self, _host: &HostResult) -> bool {
        true
    }
    /// The window's reports, in order, before the first of them goes to
    /// [`Sink::host`] (a sink may hand them on ahead, to be written
    /// elsewhere while it writes them one by one).
    fn ahead(&mut self, _hosts: &[&HostResult]) {}
    /// The window's hosts have all been given (the next window comes after
    /// the next block's scan).
    fn window_done(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    /// `--host-timeout` ran out before this host's scan finished.
    fn timed_out(&mut self, _addr: IpAddr) -> Result<(), Self::Error> {
        Ok(())
    }
    /// A port found open, the moment its reply arrived.
    fn open_port(&mut self, _addr: IpAddr, _port: u16, _proto: Proto) {}
    /// A plan of a block finished (for `-v` lines).
    fn outcome(&mut self, _technique: Technique, _outcome: &Outcome) {}
    /// A block was cut short by a stop request; called before its report.
    fn interrupted(&mut self, state: &Interrupted<'_>) -> Result<(), Self::Error>;
    /// The run resumes at a later block than the first.
    fn resuming(&mut self, _block: u64, _blocks: u64) {}
}

/// Host totals, counted as blocks are reported.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub up: u64,
    pub down: u64,
    pub timed_out: u64,
    pub interrupted: bool,
}

/// Why a session did not run.
#[derive(Debug, thiserror::Error)]
pub enum SessionError<E> {
    /// The configuration cannot run (exit 2).
    #[error("{0}")]
    Config(String),
    /// The network or the system refused (exit 1).
    #[error("{0}")]
    Engine(EngineError),
    /// The sink failed.
    #[error("output")]
    Sink(E),
}

impl<E> From<EngineError> for SessionError<E> {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Config(m) => SessionError::Config(m),
            e @ EngineError::TooLarge(_) => SessionError::Config(e.to_string()),
            e => SessionError::Engine(e),
        }
    }
}

/// A checked session, ready to run.
#[derive(Debug)]
pub struct Session {
    cfg: Config,
    /// One plan per scan over the whole target set (checked sizes).
    plans: Vec<Plan>,
}

/// What discovery (or on-link resolution) found.
#[derive(Debug, Default)]
struct Found {
    /// Up hosts and why (live hosts only).
    status: HashMap<IpAddr, HostStatus>,
    mac: HashMap<IpAddr, [u8; 6]>,
    iface: HashMap<IpAddr, u32>,
    srtt: Option<Duration>,
    /// `-Pn`: the on-link ranges that were resolved (addresses in them
    /// that are not in `status` are down).
    resolved: Vec<IpRange>,
    interrupted: bool,
}

impl Session {
    /// Check the whole plan: nothing is sent here, and nothing is sent by
    /// [`run`](Self::run) unless this passed.
    pub fn new(cfg: Config) -> Result<Session, EngineError> {
        let n = cfg.targets.len();
        if n > ACCIDENT_LIMIT && !cfg.explicit_exclude {
            return Err(EngineError::Config(format!(
                "{n} target addresses (more than a /8): to prevent accidents, a range this \
                 large needs at least one --exclude or --excludefile (e.g. --exclude 255.255.255.255)"
            )));
        }
        let needs_raw = cfg
            .scans
            .iter()
            .any(|s| s.technique.is_raw() || s.technique == Technique::Udp);
        if needs_raw && !cfg.raw_ok {
            return Err(EngineError::Config(
                "raw scans need raw sockets (CAP_NET_RAW; run as root), or use -sT".into(),
            ));
        }
        let mut plans = Vec::new();
        for s in &cfg.scans {
            let mut plan = Plan::new(
                s.technique,
                cfg.targets.clone(),
                s.ports.clone(),
                cfg.seed,
                cfg.timing.clone(),
            )?;
            if s.technique.proto() == Proto::Tcp {
                plan.scanflags = s.scanflags;
            }
            plan.shard = cfg.shard;
            plans.push(plan);
        }
        // A route for every family (asks the kernel; sends nothing). Loopback
        // targets have one by construction.
        crate::portscan::sources(&cfg.targets, &crate::evasion::Evasion::default())?;
        Ok(Session { cfg, plans })
    }

    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// Run the session, streaming every host to `sink`.
    pub fn run<S: Sink>(&self, sink: &mut S, env: &Env) -> Result<Summary, SessionError<S::Error>> {
        let found = self.discover(env)?;
        let mut summary = Summary::default();
        if found.interrupted || env.stop.requested() {
            let hosts = self
                .cfg
                .resume
                .as_ref()
                .and_then(|r| r.block_hosts)
                .unwrap_or(1);
            let block = self.cfg.resume.as_ref().map_or(0, |r| r.block);
            sink.interrupted(&Interrupted {
                block,
                block_hosts: hosts,
                plans: Vec::new(),
            })
            .map_err(SessionError::Sink)?;
            summary.interrupted = true;
            return Ok(summary);
        }
        let scan_set = self.scan_set(&found);
        let plans: Vec<&Plan> = self.plans.iter().collect();
        let max_ports = plans.iter().map(|p| p.nports()).max().unwrap_or(1);
        let resume = self.cfg.resume.as_ref();
        let hosts = resume.and_then(|r| r.block_hosts).unwrap_or_else(|| {
            blocks::hosts_per_block(
                self.cfg.block_probes.clamp(1, blocks::MAX_BLOCK_PROBES),
                max_ports,
            )
        });
        let nblocks = blocks::block_count(scan_set.len(), hosts).max(1);
        let first = resume.map_or(0, |r| r.block).min(nblocks - 1);
        if first > 0 {
            sink.resuming(first, nblocks);
        }
        let targets = &self.cfg.targets;
        let mut lo = match first.checked_sub(1) {
            Some(prev) => window_end(targets, &scan_set, prev, hosts, nblocks),
            None => 0,
        };
        let macs = Arc::new(found.mac.clone());
        // Per plan: the timeout the last block ended with, when it timed
        // replies; the next block starts from it when shorter.
        let mut learned: Vec<Option<Duration>> = vec![None; plans.len()];
        trace_debug!(
            env.trace,
            DEBUG,
            "session: {} hosts to scan in {nblocks} blocks of at most {hosts}, {} plans",
            scan_set.len(),
            plans.len()
        );
        for b in first..nblocks {
            if env.stop.requested() {
                sink.interrupted(&Interrupted {
                    block: b,
                    block_hosts: hosts,
                    plans: Vec::new(),
                })
                .map_err(SessionError::Sink)?;
                summary.interrupted = true;
                return Ok(summary);
            }
            let block_targets = blocks::slice(&scan_set, b * hosts, hosts);
            trace_debug!(
                env.trace,
                DEBUG,
                "block {}/{nblocks}: {} hosts",
                b + 1,
                block_targets.len()
            );
            let mut runs: Vec<(Plan, Outcome)> = Vec::new();
            let mut early: Option<Early> = None;
            for (k, plan) in plans.iter().enumerate() {
                if block_targets.is_empty() || env.stop.requested() {
                    break;
                }
                let mut bp = plan.for_block(block_targets.clone(), b, nblocks);
                bp.path = self.send_path(&block_targets, &found, &macs);
                if let Some(r) = resume.filter(|r| r.block == b) {
                    if let Some((at, cells)) = r.plans.get(k) {
                        bp.resume_from = at.unwrap_or(u64::MAX);
                        bp.prior = cells.clone();
                    }
                }
                if let Some(t) = learned[k] {
                    // Only ever shorter: a block whose replies were slow must
                    // not make the next one wait longer than the -T guess.
                    bp.timing.initial_rtt_timeout = t.min(bp.timing.initial_rtt_timeout);
                }
                trace_debug!(
                    env.trace,
                    DEBUG,
                    "block {}/{nblocks}: {} of {} ports, initial timeout {:.1} ms{}",
                    b + 1,
                    bp.technique.title(),
                    bp.nports(),
                    bp.timing.initial_rtt_timeout.as_secs_f64() * 1e3,
                    if learned[k].is_some() {
                        " (carried from the previous block)"
                    } else {
                        ""
                    }
                );
                let proto = bp.technique.proto();
                // One plan, no -sV: a host whose probes are all final is
                // final; the sink may take it while the block waits.
                if plans.len() == 1 && self.cfg.version.is_none() && sink.early() {
                    early = Some(Early::default());
                }
                let mut events = BlockEvents {
                    sink: &mut *sink,
                    proto,
                    early: early.as_mut().map(|e| (self, &found, &bp, e)),
                };
                let outcome = match bp.technique {
                    Technique::Connect => crate::connect::run(&bp, env)?,
                    _ => crate::portscan::run(&bp, env, &mut events)?,
                };
                sink.outcome(bp.technique, &outcome);
                if let Some(e) = &early {
                    trace_debug!(
                        env.trace,
                        DEBUG,
                        "block {}/{nblocks}: {} hosts given early (final while the block waited)",
                        b + 1,
                        e.count()
                    );
                }
                trace_debug!(
                    env.trace,
                    DEBUG,
                    "block {}/{nblocks}: {} done: {} sent, {} retransmitted, timeout {:.1} ms, srtt {}",
                    b + 1,
                    bp.technique.title(),
                    outcome.sent,
                    outcome.retransmitted,
                    outcome.timeout.as_secs_f64() * 1e3,
                    outcome
                        .srtt
                        .map_or("-".to_owned(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
                );
                // Connect attempts keep their own floor: raw scans only.
                if outcome.srtt.is_some() && bp.technique != Technique::Connect {
                    learned[k] = Some(outcome.timeout);
                }
                runs.push((bp, outcome));
            }
            let interrupted =
                env.stop.requested() || runs.iter().any(|(_, o)| o.results.resume_at().is_some());
            if interrupted {
                sink.interrupted(&Interrupted {
                    block: b,
                    block_hosts: hosts,
                    plans: runs
                        .iter()
                        .map(|(_, o)| (o.results.resume_at(), &o.results))
                        .collect(),
                })
                .map_err(SessionError::Sink)?;
            }
            let hi = window_end(targets, &scan_set, b, hosts, nblocks);
            self.report_window(
                &found,
                (&runs, early.as_ref()),
                lo..hi,
                sink,
                &mut summary,
                env,
            )?;
            lo = hi;
            if interrupted {
                summary.interrupted = true;
                return Ok(summary);
            }
        }
        Ok(summary)
    }

    /// How a block's probes go out: straight to each target's MAC when the
    /// session resolved every one of them on one interface; the kernel's
    /// path with `--send-ip`; else the automatic choice.
    fn send_path(
        &self,
        block: &TargetSet,
        found: &Found,
        macs: &Arc<HashMap<IpAddr, [u8; 6]>>,
    ) -> SendPath {
        if self.cfg.send_ip {
            return SendPath::Ip;
        }
        let mut ifindex = None;
        for i in 0..block.len() as u64 {
            let Some(a) = block.get(i) else { break };
            match (found.iface.get(&a), macs.contains_key(&a)) {
                (Some(&k), true) if ifindex.is_none_or(|x| x == k) => ifindex = Some(k),
                _ => return SendPath::Auto,
            }
        }
        match ifindex {
            Some(ifindex) => SendPath::Link {
                ifindex,
                hops: NextHops {
                    neighbours: Arc::clone(macs),
                    default: None,
                },
            },
            None => SendPath::Auto,
        }
    }

    /// The targets that get port-scanned.
    fn scan_set(&self, found: &Found) -> TargetSet {
        let mut live: Vec<IpAddr> = found.status.keys().copied().collect();
        live.sort();
        if self.cfg.discovery.is_some() {
            let r: Vec<IpRange> = live.into_iter().map(IpRange::single).collect();
            return TargetSet::new(&r, &[]);
        }
        // -Pn: every target, less the on-link addresses that never
        // answered (the resolved ranges, with their live hosts put back).
        let set = TargetSet::new(self.cfg.targets.ranges(), &found.resolved);
        if live.is_empty() {
            return set;
        }
        let mut r: Vec<IpRange> = set.ranges().to_vec();
        r.extend(live.into_iter().map(IpRange::single));
        TargetSet::new(&r, &[])
    }

    /// Host discovery; without it (`-Pn`) the on-link resolution.
    fn discover<E>(&self, env: &Env) -> Result<Found, SessionError<E>> {
        let cfg = &self.cfg;
        let mut found = Found::default();
        let (local, remote): (Vec<IpRange>, Vec<IpRange>) = cfg
            .targets
            .ranges()
            .iter()
            .partition(|r| r.first().is_loopback() && r.last().is_loopback());
        let Some(spec) = &cfg.discovery else {
            if cfg.send_ip || !cfg.raw_ok || remote.is_empty() {
                return Ok(found);
            }
            // -Pn: on-link targets are resolved (ARP / ND) all the same.
            let remote = TargetSet::new(&remote, &[]);
            let (on, _) = sweep::split_on_link(&remote)?;
            if on.is_empty() {
                return Ok(found);
            }
            let plan = PingPlan {
                targets: remote,
                probes: Vec::new(),
                link: true,
                seed: cfg.seed,
                keys: random_keys()?,
                timing: cfg.timing.clone(),
            };
            for g in &on {
                let s = sweep::link_sweep(&plan, g, env)?;
                trace_debug!(
                    env.trace,
                    DEBUG,
                    "resolution: {} of {} on-link targets answered {} on {}",
                    s.up.len(),
                    TargetSet::new(&g.ranges, &[]).len(),
                    if g.src.is_ipv6() { "ND" } else { "ARP" },
                    g.iface.name
                );
                found.resolved.extend(g.ranges.iter().copied());
                found.interrupted |= s.interrupted;
                absorb(&mut found, s);
            }
            return Ok(found);
        };
        // Loopback targets are up without a probe (localhost-response).
        for r in &local {
            let set = TargetSet::new(std::slice::from_ref(r), &[]);
            for i in 0..set.len() as u64 {
                if let Some(a) = set.get(i) {
                    found.status.insert(
                        a,
                        HostStatus {
                            up: true,
                            reason: Reason::Localhost,
                            ttl: 0,
                        },
                    );
                }
            }
        }
        let remote = TargetSet::new(&remote, &[]);
        if remote.is_empty() {
            return Ok(found);
        }
        if cfg.raw_ok {
            let plan = PingPlan {
                targets: remote,
                probes: spec.probes.clone(),
                link: spec.link && !cfg.send_ip,
                seed: cfg.seed,
                keys: random_keys()?,
                timing: cfg.timing.clone(),
            };
            let s = sweep::run(&plan, env)?;
            trace_debug!(
                env.trace,
                DEBUG,
                "discovery: {} of {} targets up ({} probes sent, {} retransmitted)",
                s.up.len(),
                plan.targets.len(),
                s.sent,
                s.retransmitted
            );
            found.interrupted |= s.interrupted;
            absorb(&mut found, s);
        } else {
            // nmap's unprivileged ping: a connect to 80 and 443; refused
            // counts as alive too. In host blocks, as the port scans run.
            let ports = PortList::from_ports(&[80, 443]);
            let hosts = blocks::hosts_per_block(
                self.cfg.block_probes.clamp(1, blocks::MAX_BLOCK_PROBES),
                2,
            );
            for b in 0..blocks::block_count(remote.len(), hosts) {
                if env.stop.requested() {
                    break;
                }
                let block = blocks::slice(&remote, b * hosts, hosts);
                let plan = Plan::new(
                    Technique::Connect,
                    block,
                    ports.clone(),
                    cfg.seed,
                    cfg.timing.clone(),
                )?;
                let outcome = crate::connect::run(&plan, env)?;
                found.srtt = found.srtt.or(outcome.srtt);
                for h in 0..plan.targets.len() as u64 {
                    let Some(a) = plan.targets.get(h) else {
                        continue;
                    };
                    if let Some(c) = outcome
                        .results
                        .host(h)
                        .iter()
                        .find(|c| !c.is_empty() && !c.is_silence())
                    {
                        found.status.insert(
                            a,
                            HostStatus {
                                up: true,
                                reason: c.reason().unwrap_or(Reason::SynAck),
                                ttl: 0,
                            },
                        );
                    }
                }
            }
            found.interrupted |= env.stop.requested();
        }
        Ok(found)
    }

    /// Report the targets of `window` (target indices) from the block's
    /// runs: the sink hears the window's live hosts first, then one host at
    /// a time.
    fn report_window<S: Sink>(
        &self,
        found: &Found,
        (runs, early): (&[(Plan, Outcome)], Option<&Early>),
        window: Range<u64>,
        sink: &mut S,
        summary: &mut Summary,
        env: &Env,
    ) -> Result<(), SessionError<S::Error>> {
        let times = Times {
            srtt: runs.iter().find_map(|(_, o)| o.srtt),
            rttvar: runs.iter().find_map(|(_, o)| o.rttvar),
            timeout: runs.iter().map(|(_, o)| o.timeout).max(),
            end: SystemTime::now(),
        };
        let scopes: Vec<crate::Scope> = runs.iter().map(|(p, _)| p.scope()).collect();
        let scanned: Vec<(&Plan, &Results, &crate::Scope)> = runs
            .iter()
            .zip(&scopes)
            .map(|((p, o), s)| (p, &o.results, s))
            .collect();
        let targets = &self.cfg.targets;
        let mut up = Vec::new();
        let mut hosts = Vec::new();
        for h in window.clone() {
            let Some(addr) = targets.get(h) else { continue };
            // Given early: reported as it was then.
            let given = early.zip(runs.first()).and_then(|(e, (plan, _))| {
                let i = plan.targets.index_of(addr)?;
                e.given(i).then_some(e.times?)
            });
            let mut host = self.host_result(found, &scanned, addr, h, given.unwrap_or(times));
            if let (Host::Report(r), Some(_)) = (&mut host, given) {
                r.early = true;
            }
            if let Host::Report(r) = &host {
                up.push((addr, r.status.up));
            }
            hosts.push(host);
        }
        sink.window(&up).map_err(SessionError::Sink)?;
        if let Some(spec) = &self.cfg.version {
            self.detect_services(spec, &mut hosts, env);
        }
        let reports: Vec<&HostResult> = hosts
            .iter()
            .filter_map(|h| match h {
                Host::Report(r) => Some(r),
                _ => None,
            })
            .collect();
        sink.ahead(&reports);
        for host in hosts {
            match host {
                Host::Report(r) => {
                    if r.status.up {
                        summary.up += 1;
                    } else {
                        summary.down += 1;
                    }
                    sink.host(&r).map_err(SessionError::Sink)?;
                }
                Host::TimedOut(a) => {
                    summary.timed_out += 1;
                    sink.timed_out(a).map_err(SessionError::Sink)?;
                }
                Host::Skip => {}
            }
        }
        sink.window_done().map_err(SessionError::Sink)
    }

    /// `-sV`: the services of the open TCP ports and the open or
    /// open|filtered UDP ports of the window's hosts, all at once (bounded
    /// by the spec's sockets). A UDP port open|filtered that answers a
    /// probe becomes open (reason udp-response), as in nmap.
    fn detect_services(&self, spec: &crate::version::VersionSpec, hosts: &mut [Host], env: &Env) {
        use crate::version::Port;
        let open: Vec<Port> = hosts
            .iter()
            .filter_map(|h| match h {
                Host::Report(r) if r.status.up => Some(r),
                _ => None,
            })
            .flat_map(|r| {
                r.ports
                    .iter()
                    .filter_map(move |p| match (p.proto, p.state) {
                        (Proto::Tcp, PortState::Open) => Some(Port::tcp(r.addr, p.port)),
                        (Proto::Udp, PortState::Open | PortState::OpenFiltered) => Some(Port {
                            rtt: r.srtt,
                            ..Port::udp(r.addr, p.port)
                        }),
                        _ => None,
                    })
            })
            .collect();
        trace_debug!(
            env.trace,
            DEBUG,
            "version: {} open ports to detect",
            open.len()
        );
        let mut found = match crate::version::detect(&open, spec, env) {
            Ok(f) => f,
            Err(e) => {
                trace_debug!(env.trace, DEBUG, "version: detection failed: {e}");
                return;
            }
        };
        for h in hosts.iter_mut() {
            if let Host::Report(r) = h {
                for p in &mut r.ports {
                    let proto = match p.proto {
                        Proto::Tcp => vigie_service::Proto::Tcp,
                        Proto::Udp => vigie_service::Proto::Udp,
                    };
                    if let Some(d) = found.remove(&(r.addr, proto, p.port)) {
                        if p.proto == Proto::Udp && p.state == PortState::OpenFiltered && d.answered
                        {
                            p.state = PortState::Open;
                            p.reason = Reason::UdpResponse;
                        }
                        r.services.push((p.proto, p.port, d));
                    }
                }
            }
        }
    }

    /// One target's result from the block's runs (empty `runs`: a ping
    /// scan, or a host found down).
    fn host_result(
        &self,
        found: &Found,
        runs: &[(&Plan, &Results, &crate::Scope)],
        addr: IpAddr,
        index: u64,
        times: Times,
    ) -> Host {
        let Times {
            srtt,
            rttvar,
            timeout,
            end,
        } = times;
        let mut ports = Vec::new();
        let mut first_reply: Option<Cell> = None;
        let mut unfinished = false;
        for &(plan, results, scope) in runs {
            let Some(i) = plan.targets.index_of(addr) else {
                continue;
            };
            // A shard reports its own probes; an interrupted run what it knows.
            let interrupted = results.resume_at().is_some();
            let base = i * plan.nports();
            let proto = plan.technique.proto();
            let cells = results.host(i);
            for (k, (c, port)) in cells.iter().zip(plan.ports.iter()).enumerate() {
                if !scope.contains(base + k as u64) || (interrupted && c.is_empty()) {
                    continue;
                }
                // Only a --host-timeout leaves verdicts missing.
                unfinished |= c.is_empty();
                if first_reply.is_none() && !c.is_empty() && !c.is_silence() {
                    first_reply = Some(*c);
                }
                ports.push(PortVerdict {
                    proto,
                    port,
                    state: c.state().unwrap_or(PortState::Filtered),
                    reason: c.reason().unwrap_or(Reason::NoResponse),
                    ttl: c.ttl(),
                });
            }
        }
        if unfinished {
            return Host::TimedOut(addr);
        }
        if ports.is_empty() && !runs.is_empty() && runs.iter().all(|(p, _, _)| p.shard != (0, 1)) {
            return Host::Skip;
        }
        let resolved_down =
            found.resolved.iter().any(|r| r.contains(addr)) && !found.status.contains_key(&addr);
        let status = if resolved_down {
            HostStatus {
                up: false,
                reason: Reason::NoResponse,
                ttl: 0,
            }
        } else if let Some(st) = found.status.get(&addr) {
            if self.cfg.discovery.is_none() {
                // -Pn: up as the user said, whatever ARP found.
                HostStatus {
                    up: true,
                    reason: Reason::UserSet,
                    ttl: 0,
                }
            } else {
                *st
            }
        } else if self.cfg.discovery.is_none() {
            HostStatus {
                up: true,
                reason: Reason::UserSet,
                ttl: 0,
            }
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
        Host::Report(HostResult {
            addr,
            index,
            early: false,
            mac: found.mac.get(&addr).copied(),
            latency: if status.up { srtt.or(found.srtt) } else { None },
            status,
            end,
            ports,
            srtt,
            rttvar,
            timeout,
            services: Vec::new(),
        })
    }
}

/// The times a host's report carries.
#[derive(Debug, Clone, Copy)]
struct Times {
    srtt: Option<Duration>,
    rttvar: Option<Duration>,
    timeout: Option<Duration>,
    end: SystemTime,
}

/// How long one [`Session::settle`] call works before the scan's loop
/// gets its thread back.
const SETTLE_SLICE: Duration = Duration::from_millis(2);

/// The hosts of a block given to the sink while the block waited for its
/// last replies.
#[derive(Debug, Default)]
struct Early {
    /// One bit per host of the block: given.
    given: Vec<u64>,
    /// The next host of the block to look at (one pass: a host not final
    /// when its turn comes is reported in its window only).
    cursor: u64,
    /// The block's estimate when the pass began: every host given carries it.
    times: Option<Times>,
    /// When the first wait came (the pass begins a round trip later, once
    /// the replies to the last first sends are in).
    first_wait: Option<std::time::Instant>,
}

impl Early {
    fn given(&self, i: u64) -> bool {
        self.given
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn mark(&mut self, i: u64) {
        let w = (i / 64) as usize;
        if self.given.len() <= w {
            self.given.resize(w + 1, 0);
        }
        self.given[w] |= 1 << (i % 64);
    }

    /// Hosts given.
    fn count(&self) -> u32 {
        self.given.iter().map(|w| w.count_ones()).sum()
    }
}

/// What a block's port scan tells the session while it runs.
struct BlockEvents<'a, S: Sink> {
    sink: &'a mut S,
    proto: Proto,
    early: Option<(&'a Session, &'a Found, &'a Plan, &'a mut Early)>,
}

impl<S: Sink> crate::portscan::ScanEvents for BlockEvents<'_, S> {
    fn open(&mut self, addr: IpAddr, port: u16) {
        self.sink.open_port(addr, port, self.proto);
    }

    fn waiting(&mut self, results: &Results, estimate: crate::portscan::Estimate) -> bool {
        let Some((session, found, plan, early)) = &mut self.early else {
            return false;
        };
        session.settle(found, plan, results, estimate, early, &mut *self.sink)
    }
}

impl Session {
    /// Give the sink the block's hosts whose probes are all final, for a
    /// slice of time; `true` while some are left to look at.
    fn settle<S: Sink>(
        &self,
        found: &Found,
        plan: &Plan,
        results: &Results,
        estimate: crate::portscan::Estimate,
        early: &mut Early,
        sink: &mut S,
    ) -> bool {
        let hosts = u64::try_from(plan.targets.len()).unwrap_or(u64::MAX);
        let now = std::time::Instant::now();
        let first = *early.first_wait.get_or_insert(now);
        let round_trip = match (estimate.srtt, estimate.rttvar) {
            (Some(s), Some(v)) => s + 4 * v,
            _ => estimate.timeout,
        };
        if early.times.is_none() && now.duration_since(first) < round_trip.min(estimate.timeout) {
            return true;
        }
        let times = *early.times.get_or_insert_with(|| Times {
            srtt: estimate.srtt,
            rttvar: estimate.rttvar,
            timeout: Some(estimate.timeout),
            end: SystemTime::now(),
        });
        let scope = plan.scope();
        let runs = [(plan, results, &scope)];
        let nports = plan.nports();
        while early.cursor < hosts {
            if early.cursor.is_multiple_of(64) && now.elapsed() >= SETTLE_SLICE {
                return true;
            }
            let i = early.cursor;
            let base = i * nports;
            let pending = !answered(results.host(i), |k| scope.contains(base + k as u64));
            // Where the host is in the run's targets (looked up if final only).
            let place = || {
                let addr = plan.targets.get(i)?;
                Some((addr, self.cfg.targets.index_of(addr)?))
            };
            if let Some((addr, index)) = (!pending).then(place).flatten() {
                if let Host::Report(r) = self.host_result(found, &runs, addr, index, times) {
                    if !sink.settled(&r) {
                        return true;
                    }
                    early.mark(i);
                }
            }
            early.cursor += 1;
        }
        false
    }
}

/// Whether every probe of a host that counts (`counts`, by its place) has
/// its reply: its verdicts can no longer change. A probe concluded silent is
/// not final in that sense, as a reply that comes late still overrides its
/// silence.
fn answered(cells: &[crate::Cell], counts: impl Fn(usize) -> bool) -> bool {
    cells
        .iter()
        .enumerate()
        .all(|(k, c)| !counts(k) || !(c.is_empty() || c.is_silence()))
}

fn absorb(found: &mut Found, s: sweep::Sweep) {
    found.srtt = found.srtt.or(s.srtt);
    for (a, h) in s.up {
        found.status.insert(
            a,
            HostStatus {
                up: true,
                reason: h.reason,
                ttl: h.ttl,
            },
        );
        if let Some(m) = h.mac {
            found.mac.insert(a, m);
        }
    }
    found.iface.extend(s.iface);
}

/// What one target comes to in a block's report.
enum Host {
    Report(HostResult),
    /// `--host-timeout` left some of its verdicts missing.
    TimedOut(IpAddr),
    /// None of its probes fell in this run's shard.
    Skip,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(addrs: &[&str]) -> TargetSet {
        let r: Vec<IpRange> = addrs
            .iter()
            .map(|a| IpRange::single(a.parse().unwrap()))
            .collect();
        TargetSet::new(&r, &[])
    }

    /// A host is final (given early) only when every probe that counts has
    /// its reply: a silence can still be overridden by a late reply.
    #[test]
    fn only_answered_hosts_are_final() {
        use vigie_scan::{PortState, Reason};
        let mut r = Results::new(6, 3);
        let silence = crate::Cell::new(PortState::Filtered, Reason::NoResponse, 0);
        let rst = crate::Cell::new(PortState::Closed, Reason::Reset, 64);
        let all = |_| true;
        r.record_reply(0, rst);
        r.record_reply(1, rst);
        assert!(!answered(r.host(0), all), "a probe without a verdict");
        r.record_silence(2, silence);
        assert!(!answered(r.host(0), all), "a silence is not final");
        assert!(answered(r.host(0), |k| k != 2), "a probe out of scope");
        assert!(r.record_reply(2, rst), "a late reply overrides the silence");
        assert!(answered(r.host(0), all));
        assert!(!answered(r.host(1), all));
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
        let n = blocks::block_count(targets.len(), 2);
        let ends: Vec<u64> = (0..n)
            .map(|b| window_end(&targets, &targets, b, 2, n))
            .collect();
        assert_eq!(ends, vec![2, 4, 5]);
    }

    fn config(targets: TargetSet, exclude: bool) -> Config {
        Config {
            targets,
            explicit_exclude: exclude,
            scans: vec![ScanSpec {
                technique: Technique::Syn,
                ports: PortList::from_ports(&[80]),
                scanflags: None,
            }],
            discovery: None,
            seed: 1,
            timing: Timing::default(),
            shard: (0, 1),
            send_ip: false,
            block_probes: blocks::BLOCK_PROBES,
            resume: None,
            raw_ok: true,
            version: None,
        }
    }

    /// The accident guard: more than a /8 needs an explicit exclude; the
    /// check comes before anything that could touch the network.
    #[test]
    fn huge_target_sets_need_an_exclude() {
        let all = TargetSet::new(
            &[vigie_scan::targets::cidr("0.0.0.0".parse().unwrap(), 0).unwrap()],
            &[],
        );
        let e = Session::new(config(all, false)).unwrap_err().to_string();
        assert!(e.contains("--exclude"), "{e}");
        let v6 = TargetSet::new(
            &[vigie_scan::targets::cidr("::".parse().unwrap(), 0).unwrap()],
            &[],
        );
        assert!(Session::new(config(v6, false))
            .unwrap_err()
            .to_string()
            .contains("--exclude"));
        let slash7 = TargetSet::new(
            &[vigie_scan::targets::cidr("198.0.0.0".parse().unwrap(), 7).unwrap()],
            &[],
        );
        assert!(matches!(
            Session::new(config(slash7, false)),
            Err(EngineError::Config(_))
        ));
    }
}
