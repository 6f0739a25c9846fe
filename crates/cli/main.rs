//! vigie: nmap-spelled flags → a scan plan → the engine → the sinks.

mod args;

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufWriter, Read, Write};
use std::net::IpAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use vigie_engine::{Cell, Outcome, Plan, Timing};
use vigie_report::{
    GrepWriter, HostReport, HostStatus, JsonLinesWriter, NormalWriter, PortResult, RunInfo,
    RunStats, ScanInfo, Sink, Tee, XmlWriter,
};
use vigie_scan::ports::{parse_ports, PortList};
use vigie_scan::services::ServiceDb;
use vigie_scan::targets::{cidr, parse_target, IpRange, TargetSet, TargetSpec};
use vigie_scan::{PortState, Proto, Reason, Technique};
use vigie_wire::tcp::TcpFlags;

/// Where nmap keeps its services table, read at run time when present.
const NMAP_SERVICES: &str = "/usr/share/nmap/nmap-services";
/// How long reverse lookups may take in all, after the scan.
const RDNS_BUDGET: Duration = Duration::from_secs(3);

/// How a run fails: bad input (exit 2) or the environment (exit 1).
enum Fail {
    Usage(String),
    Runtime(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Runtime(e.to_string())
    }
}

fn usage(msg: impl Into<String>) -> Fail {
    Fail::Usage(msg.into())
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(Fail::Usage(msg)) => {
            eprintln!("vigie: {msg}");
            ExitCode::from(2)
        }
        Err(Fail::Runtime(msg)) => {
            eprintln!("vigie: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<ExitCode, Fail> {
    let opts = match args::parse(std::env::args_os().collect()).map_err(|e| usage(e.0))? {
        args::Command::Help(text) => {
            print_and_exit(&text);
            return Ok(ExitCode::SUCCESS);
        }
        args::Command::Version(text) => {
            print_and_exit(&text);
            return Ok(ExitCode::SUCCESS);
        }
        args::Command::Scan(o) => o,
    };

    let db = load_services(&opts)?;
    let targets = target_set(&opts)?;
    refuse_unimplemented(&opts)?;
    let scans = scan_types(&opts)?;
    let ports = port_lists(&opts, &db, &scans)?;

    let timing = timing(&opts);
    let seed = opts
        .seed
        .unwrap_or_else(|| RandomState::new().build_hasher().finish());

    let mut sinks = open_sinks(&opts)?;
    let started = Instant::now();
    let start = SystemTime::now();

    // Host discovery decides which targets get port-scanned.
    let discovery = discover(&targets, &opts)?;
    let scan_targets = discovery
        .as_ref()
        .map_or_else(|| targets.clone(), |d| d.live.clone());

    let mut plans = Vec::new();
    for (&technique, list) in scans.iter().zip(ports) {
        let mut plan = Plan::new(technique, scan_targets.clone(), list, seed, timing.clone())
            .map_err(|e| usage(e.to_string()))?;
        if technique.proto() == Proto::Tcp {
            plan.scanflags = opts.scanflags.map(TcpFlags);
        }
        plans.push(plan);
    }

    let info = RunInfo {
        args: opts.args_line.clone(),
        start,
        scans: plans
            .iter()
            .map(|p| ScanInfo {
                technique: p.technique,
                proto: p.technique.proto(),
                ports: p.ports.clone(),
                scanflags: p.scanflags.map(flag_names),
            })
            .collect(),
        verbose: opts.verbose,
    };
    let mut out = Output::new(&mut sinks);
    out.write(|s| s.begin(&info))?;

    let mut runs = Vec::new();
    for plan in plans {
        if plan.targets.is_empty() {
            continue;
        }
        let outcome = run_plan(&plan).map_err(|e| Fail::Runtime(e.to_string()))?;
        runs.push((plan, outcome));
    }

    let (hosts, timed_out) = host_reports(&targets, discovery.as_ref(), &runs, &db, &opts, start);
    for addr in &timed_out {
        eprintln!("vigie: skipping host {addr}: --host-timeout reached before its scan finished");
    }
    let up = hosts.iter().filter(|h| h.status.up).count() as u64;
    for h in &hosts {
        out.write(|s| s.host(h))?;
    }
    let stats = RunStats {
        end: SystemTime::now(),
        elapsed: started.elapsed(),
        hosts_up: up,
        hosts_down: hosts.len() as u64 - up,
        hosts_total: (hosts.len() + timed_out.len()) as u64,
    };
    out.write(|s| s.finish(&info, &stats))?;
    Ok(ExitCode::SUCCESS)
}

/// The scans a run makes, in order: at most one TCP type, then UDP.
fn scan_types(opts: &args::Options) -> Result<Vec<Technique>, Fail> {
    let raw_ok = vigie_netio::caps::has_net_raw();
    let tcp = match opts.technique {
        Some(t) if t.is_raw() && !raw_ok => {
            return Err(Fail::Runtime(format!(
                "{} needs raw sockets (CAP_NET_RAW; run as root), or use -sT",
                scan_flag(t)
            )))
        }
        Some(t) => Some(t),
        None if opts.ping_only => None,
        None if opts.udp && opts.scanflags.is_none() => None,
        None if opts.scanflags.is_some() && !raw_ok => {
            return Err(Fail::Runtime(
                "--scanflags needs raw sockets (CAP_NET_RAW; run as root)".into(),
            ))
        }
        None if raw_ok => Some(Technique::Syn),
        None => {
            eprintln!("vigie: no raw-socket privilege (CAP_NET_RAW): using a connect scan (-sT)");
            Some(Technique::Connect)
        }
    };
    let mut scans: Vec<Technique> = tcp.into_iter().collect();
    if opts.udp {
        if !raw_ok {
            return Err(Fail::Runtime(
                "-sU needs raw sockets (CAP_NET_RAW; run as root)".into(),
            ));
        }
        scans.push(Technique::Udp);
    }
    Ok(scans)
}

/// Run one plan with the driver its technique needs.
fn run_plan(plan: &Plan) -> Result<Outcome, vigie_engine::EngineError> {
    match plan.technique {
        Technique::Connect => vigie_engine::connect::run(plan),
        Technique::Udp => Err(vigie_engine::EngineError::Io(io::Error::other(
            "UDP scanning is not supported yet",
        ))),
        _ => vigie_engine::raw::run(plan),
    }
}

/// What host discovery found: the live targets and why each is up.
struct Discovery {
    live: TargetSet,
    status: HashMap<IpAddr, HostStatus>,
}

/// Host discovery before the port scan; `None` when it does not run (`-Pn`,
/// or not implemented yet: every target is then port-scanned and a host is
/// up when anything answered).
fn discover(_targets: &TargetSet, _opts: &args::Options) -> Result<Option<Discovery>, Fail> {
    Ok(None)
}

/// The command-line flag that picks a technique.
fn scan_flag(t: Technique) -> &'static str {
    match t {
        Technique::Syn => "-sS",
        Technique::Connect => "-sT",
        Technique::Fin => "-sF",
        Technique::Null => "-sN",
        Technique::Xmas => "-sX",
        Technique::Ack => "-sA",
        Technique::Window => "-sW",
        Technique::Maimon => "-sM",
        Technique::Udp => "-sU",
    }
}

/// Flags as nmap names them in `--scanflags` (`URGACKPSHRSTSYNFIN` order).
fn flag_names(f: TcpFlags) -> String {
    const ORDER: [(TcpFlags, &str); 9] = [
        (TcpFlags::NS, "NS"),
        (TcpFlags::CWR, "CWR"),
        (TcpFlags::ECE, "ECE"),
        (TcpFlags::URG, "URG"),
        (TcpFlags::ACK, "ACK"),
        (TcpFlags::PSH, "PSH"),
        (TcpFlags::RST, "RST"),
        (TcpFlags::SYN, "SYN"),
        (TcpFlags::FIN, "FIN"),
    ];
    let names: String = ORDER
        .iter()
        .filter(|(bit, _)| f.contains(*bit))
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "NONE".into()
    } else {
        names
    }
}

/// Options the parser knows but this build cannot act on yet: refused
/// with one line rather than silently ignored.
fn refuse_unimplemented(opts: &args::Options) -> Result<(), Fail> {
    let pending = [
        (opts.ping_only, "-sn (host discovery only)"),
        (opts.ping_echo, "-PE (ICMP echo ping)"),
        (opts.ping_timestamp, "-PP (ICMP timestamp ping)"),
        (opts.ping_mask, "-PM (ICMP address mask ping)"),
        (opts.ping_syn.is_some(), "-PS (TCP SYN ping)"),
        (opts.ping_ack.is_some(), "-PA (TCP ACK ping)"),
        (opts.ping_udp.is_some(), "-PU (UDP ping)"),
        (opts.ping_arp, "-PR (ARP ping)"),
        (opts.disable_arp_ping, "--disable-arp-ping"),
        (!opts.dns_servers.is_empty(), "--dns-servers"),
        (opts.shard.is_some(), "--shard"),
        (opts.resume.is_some(), "--resume"),
        (opts.stats_every.is_some(), "--stats-every"),
    ];
    match pending.iter().find(|(given, _)| *given) {
        Some((_, what)) => Err(usage(format!("{what} is not supported yet"))),
        None => Ok(()),
    }
}

/// Writes to the sinks; a closed pipe ends output quietly, as for `| head`.
struct Output<'a> {
    sinks: &'a mut Tee,
    closed: bool,
}

impl<'a> Output<'a> {
    fn new(sinks: &'a mut Tee) -> Output<'a> {
        Output {
            sinks,
            closed: false,
        }
    }

    fn write(&mut self, f: impl FnOnce(&mut Tee) -> io::Result<()>) -> Result<(), Fail> {
        if self.closed {
            return Ok(());
        }
        match f(self.sinks) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(Fail::Runtime(format!("writing output: {e}"))),
        }
    }
}

fn print_and_exit(text: &str) {
    let mut out = io::stdout().lock();
    // A closed pipe (`vigie --help | head -1`) is not an error.
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

fn load_services(opts: &args::Options) -> Result<ServiceDb, Fail> {
    if let Some(path) = &opts.servicedb {
        let text = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read service table {}: {e}", path.display())))?;
        return ServiceDb::from_nmap_services(&text)
            .map_err(|e| usage(format!("bad service table {}: {e}", path.display())));
    }
    Ok(std::fs::read_to_string(NMAP_SERVICES)
        .ok()
        .and_then(|text| ServiceDb::from_nmap_services(&text).ok())
        .unwrap_or_else(ServiceDb::builtin))
}

/// The port list of each scan, from -p / -F / --top-ports / the default.
fn port_lists(
    opts: &args::Options,
    db: &ServiceDb,
    scans: &[Technique],
) -> Result<Vec<PortList>, Fail> {
    if opts.ports.is_some() && (opts.fast || opts.top_ports.is_some()) {
        return Err(usage("-p cannot be combined with -F or --top-ports"));
    }
    if opts.fast && opts.top_ports.is_some() {
        return Err(usage("-F cannot be combined with --top-ports"));
    }
    let spec = match &opts.ports {
        Some(s) => Some(parse_ports(s, db).map_err(|e| usage(e.to_string()))?),
        None => None,
    };
    let mut lists = Vec::new();
    for t in scans {
        let proto = t.proto();
        let list = match &spec {
            Some(spec) if proto == Proto::Udp => spec.udp.clone(),
            Some(spec) => spec.tcp.clone(),
            None if opts.fast => db.top(100, proto),
            None => db.top(opts.top_ports.unwrap_or(1000), proto),
        };
        if list.is_empty() {
            let (p, flag) = if proto == Proto::Udp {
                ("UDP", "U:")
            } else {
                ("TCP", "T:")
            };
            return Err(usage(format!(
                "no {p} ports to scan: -p gives none (use {flag} to name {p} ports)"
            )));
        }
        lists.push(list);
    }
    Ok(lists)
}

fn read_list(path: &Path) -> Result<String, Fail> {
    let mut text = String::new();
    let res = if path == Path::new("-") {
        io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        File::open(path).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
    };
    res.map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    Ok(text)
}

/// Words of a target/exclude file: whitespace-separated, `#` starts a comment.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
}

fn resolve_all(specs: &[&str], ipv6: bool) -> Result<Vec<IpRange>, Fail> {
    let mut out = Vec::new();
    for s in specs {
        match parse_target(s).map_err(|e| usage(e.to_string()))? {
            TargetSpec::Ranges(r) => out.extend(r),
            TargetSpec::Name { host, prefix } => {
                let addr = resolve(&host, ipv6)?;
                out.push(match prefix {
                    Some(p) => cidr(addr, p).map_err(|e| usage(e.to_string()))?,
                    None => IpRange::single(addr),
                });
            }
        }
    }
    Ok(out)
}

fn resolve(host: &str, ipv6: bool) -> Result<IpAddr, Fail> {
    let addrs = dns_lookup::lookup_host(host)
        .map_err(|e| usage(format!("cannot resolve \"{host}\": {e}")))?;
    addrs
        .into_iter()
        .find(|a| a.is_ipv6() == ipv6)
        .ok_or_else(|| {
            let fam = if ipv6 { "IPv6" } else { "IPv4" };
            usage(format!("\"{host}\" has no {fam} address"))
        })
}

fn target_set(opts: &args::Options) -> Result<TargetSet, Fail> {
    let listed = match &opts.input_list {
        Some(p) => read_list(p)?,
        None => String::new(),
    };
    let mut specs: Vec<&str> = opts.targets.iter().map(String::as_str).collect();
    specs.extend(words(&listed));
    let include = resolve_all(&specs, opts.ipv6)?;

    let excluded_file = match &opts.exclude_file {
        Some(p) => read_list(p)?,
        None => String::new(),
    };
    let mut ex: Vec<&str> = opts
        .exclude
        .iter()
        .flat_map(|e| e.split(','))
        .filter(|e| !e.is_empty())
        .collect();
    ex.extend(words(&excluded_file));
    let exclude = resolve_all(&ex, opts.ipv6)?;

    let set = TargetSet::new(&include, &exclude);
    if set.is_empty() {
        return Err(usage("no targets to scan (all of them are excluded)"));
    }
    Ok(set)
}

fn timing(opts: &args::Options) -> Timing {
    let mut t = Timing::template(opts.timing.unwrap_or(3));
    if let Some(d) = opts.initial_rtt_timeout {
        t.initial_rtt_timeout = d;
    }
    if let Some(d) = opts.min_rtt_timeout {
        t.min_rtt_timeout = d;
    }
    if let Some(d) = opts.max_rtt_timeout {
        t.max_rtt_timeout = d;
    }
    t.min_rtt_timeout = t.min_rtt_timeout.min(t.max_rtt_timeout);
    t.initial_rtt_timeout = t
        .initial_rtt_timeout
        .clamp(t.min_rtt_timeout, t.max_rtt_timeout);
    if let Some(r) = opts.max_retries {
        t.max_retries = r.min(50) as u8;
    }
    if opts.max_rate.is_some() {
        t.max_rate = opts.max_rate;
    }
    t.min_rate = opts.min_rate;
    if let Some(r) = opts.rate {
        t.max_rate = Some(r);
        t.min_rate = Some(r);
    }
    t.host_timeout = opts.host_timeout;
    t
}

fn create(path: &str) -> Result<Box<dyn Write + Send>, Fail> {
    if path == "-" {
        return Ok(Box::new(io::stdout()));
    }
    let f = File::create(path).map_err(|e| usage(format!("cannot write {path}: {e}")))?;
    Ok(Box::new(BufWriter::new(f)))
}

fn open_sinks(opts: &args::Options) -> Result<Tee, Fail> {
    let ropts = vigie_report::Options {
        reason: opts.reason,
        open_only: opts.open,
        verbose: opts.verbose,
    };
    let mut normal = opts.out_normal.clone();
    let mut xml = opts.out_xml.clone();
    let mut grep = opts.out_grep.clone();
    if let Some(base) = &opts.out_all {
        normal.get_or_insert_with(|| format!("{base}.nmap"));
        xml.get_or_insert_with(|| format!("{base}.xml"));
        grep.get_or_insert_with(|| format!("{base}.gnmap"));
    }
    let json = opts.out_json.clone();
    let any_stdout = [&normal, &xml, &grep, &json]
        .iter()
        .any(|o| o.as_deref() == Some("-"));

    let mut sinks: Vec<Box<dyn Sink + Send>> = Vec::new();
    if !any_stdout {
        sinks.push(Box::new(NormalWriter::new(io::stdout(), ropts)));
    }
    if let Some(p) = &normal {
        sinks.push(Box::new(NormalWriter::new_file(create(p)?, ropts)));
    }
    if let Some(p) = &xml {
        sinks.push(Box::new(XmlWriter::new(create(p)?, ropts)));
    }
    if let Some(p) = &grep {
        sinks.push(Box::new(GrepWriter::new(create(p)?, ropts)));
    }
    if let Some(p) = &json {
        sinks.push(Box::new(JsonLinesWriter::new(create(p)?, ropts)));
    }
    Ok(Tee::new(sinks))
}

/// Reverse lookups for the up hosts, in parallel, within a time budget.
fn reverse_names(addrs: &[IpAddr]) -> Vec<Option<String>> {
    let (tx, rx) = mpsc::channel();
    for (i, &a) in addrs.iter().enumerate().take(256) {
        let tx = tx.clone();
        thread::spawn(move || {
            let name = dns_lookup::lookup_addr(&a)
                .ok()
                .filter(|n| n != &a.to_string());
            let _ = tx.send((i, name));
        });
    }
    drop(tx);
    let mut names = vec![None; addrs.len()];
    let deadline = Instant::now() + RDNS_BUDGET;
    while let Ok((i, n)) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        names[i] = n;
    }
    names
}

fn host_reports(
    targets: &TargetSet,
    discovery: Option<&Discovery>,
    runs: &[(Plan, Outcome)],
    db: &ServiceDb,
    opts: &args::Options,
    start: SystemTime,
) -> (Vec<HostReport>, Vec<IpAddr>) {
    let end = SystemTime::now();
    let srtt = runs.iter().find_map(|(_, o)| o.srtt);
    let rttvar = runs.iter().find_map(|(_, o)| o.rttvar);
    let timeout = runs.iter().map(|(_, o)| o.timeout).max();
    let mut hosts = Vec::new();
    let mut timed_out = Vec::new();
    for h in 0..targets.len() as u64 {
        let Some(addr) = targets.get(h) else { continue };
        let mut ports = Vec::new();
        let mut first_reply: Option<Cell> = None;
        let mut unfinished = false;
        for (plan, outcome) in runs {
            let Some(i) = plan.targets.index_of(addr) else {
                continue;
            };
            let cells = outcome.results.host(i);
            // Only a --host-timeout leaves verdicts missing.
            unfinished |= cells.iter().any(|c| c.is_empty());
            let proto = plan.technique.proto();
            first_reply = first_reply.or(cells
                .iter()
                .copied()
                .find(|c| !c.is_empty() && !c.is_silence()));
            ports.extend(plan.ports.iter().zip(cells).map(|(port, c)| PortResult {
                proto,
                port,
                state: c.state().unwrap_or(PortState::Filtered),
                reason: c.reason().unwrap_or(Reason::NoResponse),
                ttl: c.ttl(),
                service: db.name(port, proto).map(str::to_owned),
            }));
        }
        if unfinished {
            timed_out.push(addr);
            continue;
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
        hosts.push(HostReport {
            addr,
            hostname: None,
            latency: if status.up { srtt } else { None },
            status,
            start,
            end,
            ports,
            srtt,
            rttvar,
            timeout,
        });
    }
    if !opts.no_dns {
        let up: Vec<usize> = (0..hosts.len())
            .filter(|&i| hosts[i].status.up || opts.always_dns)
            .collect();
        let addrs: Vec<IpAddr> = up.iter().map(|&i| hosts[i].addr).collect();
        for (i, name) in up.into_iter().zip(reverse_names(&addrs)) {
            hosts[i].hostname = name;
        }
    }
    (hosts, timed_out)
}
