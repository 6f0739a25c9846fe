//! vigie: nmap-spelled flags → a scan plan → the engine → the sinks.

mod args;
mod diff;
mod generate;
mod history;
mod merge;
mod progress;
mod respond;
mod resume;
mod stream;
mod watch;

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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use vigie_engine::evasion::{Decoy, Evasion};
use vigie_engine::session::{self, Session, SessionError};
use vigie_engine::{Env, Stop, Timing};
use vigie_report::{
    GrepWriter, JsonLinesWriter, NormalWriter, RunInfo, RunStats, ScanInfo, Sink, Tee, XmlWriter,
};
use vigie_scan::ports::{parse_ports, PortList};
use vigie_scan::services::ServiceDb;
use vigie_scan::targets::{cidr, parse_target, IpRange, TargetSet, TargetSpec};
use vigie_scan::{Proto, Technique};
use vigie_wire::tcp::TcpFlags;

/// How long reverse lookups may take in all, after the scan.
const RDNS_BUDGET: Duration = Duration::from_secs(3);

/// How a run fails: bad input (exit 2) or the environment (exit 1).
pub(crate) enum Fail {
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
    let words = args::utf8_args(std::env::args_os().collect()).map_err(|e| usage(e.0))?;
    if words.get(1).is_some_and(|a| a == "merge") {
        merge::run(&words[2..])?;
        return Ok(ExitCode::SUCCESS);
    }
    if words.get(1).is_some_and(|a| a == "diff") {
        // diff's and ndiff's status: 0 the same, 1 they differ, 2 an error
        let differ = diff::run(&words[2..])?;
        return Ok(ExitCode::from(u8::from(differ)));
    }
    if words.get(1).is_some_and(|a| a == "watch") {
        watch::run(&words[2..])?;
        return Ok(ExitCode::SUCCESS);
    }
    if words.get(1).is_some_and(|a| a == "history") {
        history::run(&words[2..])?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut resumed = None;
    let mut command = args::parse_words(&words).map_err(|e| usage(e.0))?;
    if let args::Command::Resume(file) = &command {
        let state = load_resume(file)?;
        let mut again = vec![words[0].clone()];
        again.extend(state.args.iter().cloned());
        command = match args::parse_words(&again) {
            Ok(c @ args::Command::Scan(_)) => c,
            Ok(_) => {
                return Err(usage(format!(
                    "{}: the arguments kept there are not a scan",
                    file.display()
                )))
            }
            Err(e) => return Err(usage(format!("{}: {e}", file.display()))),
        };
        resumed = Some(state);
    }
    let opts = match command {
        args::Command::Help(text) | args::Command::Version(text) => {
            print_and_exit(&text);
            return Ok(ExitCode::SUCCESS);
        }
        args::Command::Generate(g) => {
            print_and_exit(&generate::generate(g));
            return Ok(ExitCode::SUCCESS);
        }
        args::Command::Scan(o) => o,
        // Replaced above by the scan the file holds.
        args::Command::Resume(f) => {
            return Err(usage(format!("{}: not a scan to resume", f.display())))
        }
    };

    let db = load_services(&opts)?;
    let targets = target_set(&opts)?;
    let raw_ok = vigie_netio::caps::has_net_raw();
    let scans = scan_types(&opts, raw_ok)?;
    let ports = port_lists(&opts, &db, &scans)?;
    let evasion = evasion_of(&opts.evasion, &targets, &scans, raw_ok)?;

    let timing = timing(&opts);
    if opts.shard.is_some() && opts.seed.is_none() && resumed.is_none() {
        return Err(usage(
            "--shard needs --seed: every shard of a scan must use the same seed",
        ));
    }
    let seed = resumed
        .as_ref()
        .map(|r| r.seed)
        .or(opts.seed)
        .unwrap_or_else(|| RandomState::new().build_hasher().finish());

    // The whole plan is checked here, before anything is sent or written.
    let session = Session::new(session::Config {
        targets: targets.clone(),
        explicit_exclude: !opts.exclude.is_empty() || opts.exclude_file.is_some(),
        scans: scans
            .iter()
            .zip(ports)
            .map(|(&technique, ports)| session::ScanSpec {
                technique,
                ports,
                scanflags: opts.scanflags.map(TcpFlags),
            })
            .collect(),
        discovery: discovery_spec(&opts)?,
        seed,
        timing,
        shard: opts.shard.unwrap_or((0, 1)),
        send_ip: opts.send_ip,
        block_probes: opts
            .block_probes
            .unwrap_or(vigie_engine::blocks::BLOCK_PROBES),
        resume: resumed.as_ref().map(|r| session::ResumePoint {
            block: r.block,
            block_hosts: r.block_hosts,
            plans: r.plans.clone(),
        }),
        raw_ok,
        version: version_spec(&opts)?,
    })
    .map_err(|e| session_fail(SessionError::from(e)))?;

    // The store is opened (and a bad one refused) before any output file
    // is created or any probe sent.
    let store = match opts.no_history {
        true => None,
        false => Some(history::open_for_scan(&history::store_url(
            opts.db.as_deref(),
        )?)?),
    };
    let mut sinks = open_sinks(&opts)?;
    let report_on_stdout = [
        &opts.out_normal,
        &opts.out_xml,
        &opts.out_grep,
        &opts.out_json,
    ]
    .iter()
    .any(|o| o.as_deref() == Some("-"));
    let board: vigie_engine::progress::Progress = Default::default();
    let tracing = opts.packet_trace || opts.debug > 0 || opts.version_trace;
    let mut display = progress::Display::start(
        &board,
        opts.stats_every,
        // Trace lines and a bar redrawn in place do not mix.
        progress::bar_wanted(report_on_stdout) && !tracing,
    );
    let started = Instant::now();
    let start = SystemTime::now();

    let info = RunInfo {
        args: opts.args_line.clone(),
        start,
        scans: session
            .plans()
            .iter()
            .map(|p| ScanInfo {
                technique: p.technique,
                proto: p.technique.proto(),
                ports: p.ports.clone(),
                scanflags: p.scanflags.map(TcpFlags::names),
            })
            .collect(),
        verbose: opts.verbose,
    };
    let mut recorder = match store {
        Some(store) => Some(
            vigie_store::Recorder::start(
                store,
                &vigie_store::RunMeta {
                    info: info.clone(),
                    targets: targets_word(&opts),
                    seed,
                },
            )
            .map_err(|e| usage(format!("history: {e}")))?,
        ),
        None => None,
    };
    let mut out = Output::new(&mut sinks);
    progress::suspend(|| out.write(|s| s.begin(&info)))?;

    let stop = Stop::new();
    install_stop_handler(stop.clone());
    let mut env = Env::new(stop, board);
    if let Some(n) = opts.tx_threads {
        env.tx_threads = n;
    }
    env.evasion = Arc::new(evasion);
    if tracing {
        // On stdout as nmap's, unless a report goes there.
        let out: Box<dyn Write + Send> = if report_on_stdout {
            Box::new(io::stderr())
        } else {
            Box::new(io::stdout())
        };
        env.trace = Some(Arc::new(
            vigie_engine::trace::Trace::new(out, opts.packet_trace, opts.debug)
                .with_version(opts.version_trace),
        ));
    }
    let mut sink = stream::ReportSink {
        out: &mut out,
        db: &db,
        opts: &opts,
        start,
        seed,
        stream_udp: !report_on_stdout,
        names: HashMap::new(),
        recorder: recorder.as_mut(),
        ahead: Default::default(),
    };
    let summary = session.run(&mut sink, &env).map_err(session_fail)?;
    display.finish();
    let stats = RunStats {
        end: SystemTime::now(),
        elapsed: started.elapsed(),
        hosts_up: summary.up,
        hosts_down: summary.down,
        hosts_total: summary.up + summary.down + summary.timed_out,
    };
    out.write(|s| s.finish(&info, &stats))?;
    if let Some(r) = recorder {
        let status = match summary.interrupted {
            true => vigie_store::RunStatus::Interrupted,
            false => vigie_store::RunStatus::Complete,
        };
        if let Err(e) = r.finish(&stats, status) {
            // The outputs are whole; the history is not.
            return Err(Fail::Runtime(format!(
                "history: {e} (the scan's outputs are complete; its record is not)"
            )));
        }
    }
    if summary.interrupted {
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

/// The targets as recorded in the history: the words given, and the list
/// file's name (`-iL FILE`).
fn targets_word(opts: &args::Options) -> String {
    let mut words = opts.targets.clone();
    if let Some(f) = &opts.input_list {
        words.push(format!("-iL {}", f.display()));
    }
    words.join(" ")
}

/// Ctrl-C / SIGTERM: the scan stops sending, collects the replies in
/// flight and writes what it knows; a second one exits at once.
fn install_stop_handler(stop: Stop) {
    let _ = ctrlc::set_handler(move || {
        if stop.requested() {
            std::process::exit(130);
        }
        stop.request();
    });
}

/// `--resume FILE`: the run's arguments and seed come from the file.
fn load_resume(path: &Path) -> Result<resume::ResumeState, Fail> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read resume file {}: {e}", path.display())))?;
    resume::ResumeState::from_json(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// The evasion options as the engine applies them: random decoys and
/// payloads drawn, `ME` placed, each checked against the targets.
fn evasion_of(
    e: &args::evasion_args::EvasionArgs,
    targets: &TargetSet,
    scans: &[Technique],
    raw_ok: bool,
) -> Result<Evasion, Fail> {
    use args::evasion_args::{Data, DecoyArg};
    let Some(flag) = e.raw_only() else {
        return Ok(Evasion::default());
    };
    if !raw_ok {
        return Err(Fail::Runtime(format!(
            "{flag} needs raw sockets (CAP_NET_RAW; run as root)"
        )));
    }
    if scans.contains(&Technique::Connect) {
        return Err(usage(format!(
            "{flag} applies to raw probes; a connect scan (-sT) goes through the kernel"
        )));
    }
    let fam = |v6: bool| targets.ranges().iter().any(|r| r.first().is_ipv6() == v6);
    if let Some(name) = &e.iface {
        let known = vigie_netio::link::interfaces().map_err(|err| {
            Fail::Runtime(format!("-e {name}: cannot list the interfaces: {err}"))
        })?;
        if !known.iter().any(|i| &i.name == name) {
            let names: Vec<&str> = known.iter().map(|i| i.name.as_str()).collect();
            return Err(usage(format!(
                "-e {name}: no such interface (this host has: {})",
                names.join(", ")
            )));
        }
    }
    if let Some(s) = e.source {
        if !fam(s.is_ipv6()) {
            return Err(usage(format!(
                "-S {s}: no target is an {} address",
                if s.is_ipv6() { "IPv6" } else { "IPv4" }
            )));
        }
    }
    let rand = |n: usize| {
        vigie_engine::evasion::random_payload(n).map_err(|err| Fail::Runtime(err.to_string()))
    };
    let mut decoys = Vec::new();
    for d in &e.decoys {
        match *d {
            DecoyArg::Me => decoys.push(Decoy::Me),
            DecoyArg::Addr(a) => {
                if !fam(a.is_ipv6()) {
                    return Err(usage(format!(
                        "-D {a}: no target is an {} address",
                        if a.is_ipv6() { "IPv6" } else { "IPv4" }
                    )));
                }
                decoys.push(Decoy::Addr(a));
            }
            DecoyArg::Random(n) => {
                if !fam(false) {
                    return Err(usage(
                        "-D RND: random decoys are IPv4 addresses; name IPv6 decoys",
                    ));
                }
                let r = vigie_engine::evasion::random_decoys(n)
                    .map_err(|err| Fail::Runtime(err.to_string()))?;
                decoys.extend(r.into_iter().map(Decoy::Addr));
            }
        }
    }
    vigie_engine::evasion::place_me(&mut decoys).map_err(|err| Fail::Runtime(err.to_string()))?;
    let payload = match &e.data {
        None => None,
        Some(Data::Bytes(b)) => Some(b.clone()),
        Some(Data::Random(n)) => Some(rand(*n)?),
    };
    let spoof_mac = match &e.spoof_mac {
        None => None,
        Some(m) => {
            let mut mac = [0u8; 6];
            let fill = rand(6)?;
            mac.copy_from_slice(&fill);
            if m.prefix.is_empty() {
                // Random: unicast, locally administered.
                mac[0] = (mac[0] & 0xfc) | 0x02;
            }
            mac[..m.prefix.len()].copy_from_slice(&m.prefix);
            Some(mac)
        }
    };
    Ok(Evasion {
        source: e.source,
        iface: e.iface.clone(),
        source_port: e.source_port,
        shape: vigie_wire::shape::Shape {
            ttl: e.ttl,
            payload,
            badsum: e.badsum,
            frag: e.fragment_size(),
        },
        decoys,
        spoof_mac,
    })
}

/// The scans a run makes, in order: at most one TCP type, then UDP.
fn scan_types(opts: &args::Options, raw_ok: bool) -> Result<Vec<Technique>, Fail> {
    let tcp = match opts.technique {
        Some(t) if t.is_raw() && !raw_ok => {
            return Err(Fail::Runtime(format!(
                "{} needs raw sockets (CAP_NET_RAW; run as root), or use -sT",
                t.flag()
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

/// A session's failure as the exit code says: bad configuration 2, the
/// system 1; an output error is already one.
fn session_fail(e: SessionError<Fail>) -> Fail {
    match e {
        SessionError::Config(m) => usage(m),
        SessionError::Engine(e) => Fail::Runtime(e.to_string()),
        SessionError::Sink(f) => f,
    }
}

/// Host discovery as the flags ask: `None` with `-Pn`. The `-P*` probes
/// given, or nmap's default set (ICMP echo, SYN to 443, ACK to 80, ICMP
/// timestamp); ARP / neighbour solicitation for targets on a directly
/// attached segment unless `--disable-arp-ping`.
fn discovery_spec(opts: &args::Options) -> Result<Option<session::DiscoverySpec>, Fail> {
    use vigie_scan::discovery::{default_probes, Probe};
    if opts.no_ping {
        return Ok(None);
    }
    let mut probes = Vec::new();
    if opts.ping_echo {
        probes.push(Probe::IcmpEcho);
    }
    for p in ping_ports(opts.ping_syn.as_deref(), "-PS")? {
        probes.push(Probe::TcpSyn(p));
    }
    for p in ping_ports(opts.ping_ack.as_deref(), "-PA")? {
        probes.push(Probe::TcpAck(p));
    }
    for p in ping_ports(opts.ping_udp.as_deref(), "-PU")? {
        probes.push(Probe::Udp(p));
    }
    if opts.ping_timestamp {
        probes.push(Probe::IcmpTimestamp);
    }
    if opts.ping_mask {
        probes.push(Probe::IcmpMask);
    }
    if probes.is_empty() && !opts.ping_arp {
        probes = default_probes();
    }
    Ok(Some(session::DiscoverySpec {
        probes,
        link: !opts.disable_arp_ping,
    }))
}

/// The port list of a `-PS` / `-PA` / `-PU` flag (`22,80,1000-1010`).
fn ping_ports(spec: Option<&str>, flag: &str) -> Result<Vec<u16>, Fail> {
    let Some(spec) = spec else {
        return Ok(Vec::new());
    };
    let bad = || usage(format!("{flag}: bad port list \"{spec}\""));
    let mut out = Vec::new();
    for item in spec.split(',') {
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        let a: u16 = a.trim().parse().map_err(|_| bad())?;
        let b: u16 = b.trim().parse().map_err(|_| bad())?;
        if a > b {
            return Err(bad());
        }
        for p in a..=b {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        if out.len() > 1024 {
            return Err(usage(format!("{flag}: at most 1024 ping ports")));
        }
    }
    Ok(out)
}

/// Writes to the sinks; a closed pipe ends output quietly, as for `| head`.
pub(crate) struct Output<'a> {
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
    // nmap's own table only when the user names it (its licence): never
    // looked up on its own.
    Ok(ServiceDb::builtin())
}

/// `-sV`: the probe database (vigie's own, or `--versiondb FILE`) compiled,
/// and how hard to try.
fn version_spec(opts: &args::Options) -> Result<Option<vigie_engine::version::VersionSpec>, Fail> {
    if !opts.version {
        if opts.versiondb.is_some()
            || opts.version_intensity.is_some()
            || opts.version_timeout.is_some()
            || opts.version_trace
        {
            return Err(usage("--versiondb, --version-intensity, --version-light, --version-all, --version-timeout and --version-trace need -sV"));
        }
        return Ok(None);
    }
    let (name, text) = match &opts.versiondb {
        Some(p) => (
            p.display().to_string(),
            std::fs::read(p).map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?,
        ),
        None => (
            "vigie's probe database".to_string(),
            vigie_service::builtin::BUILTIN.as_bytes().to_vec(),
        ),
    };
    let db = vigie_service::ProbeDb::parse(&text).map_err(|e| usage(format!("{name}: {e}")))?;
    let matcher = vigie_service::Matcher::new(&db).map_err(|e| usage(format!("{name}: {e}")))?;
    if let Some(e) = matcher.skipped().first() {
        return Err(usage(format!("{name}: {e}")));
    }
    let mut spec = vigie_engine::version::VersionSpec::new(
        Arc::new(matcher),
        opts.version_intensity
            .unwrap_or(vigie_service::detect::DEFAULT_INTENSITY),
    );
    if let Some(t) = opts.version_timeout {
        spec.port_timeout = t;
    }
    Ok(Some(spec))
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
    let excluded = match &opts.exclude_ports {
        Some(s) => Some(parse_ports(s, db).map_err(|e| usage(format!("--exclude-ports: {e}")))?),
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
        let list = match &excluded {
            Some(ex) if proto == Proto::Udp => list.without(&ex.udp),
            Some(ex) => list.without(&ex.tcp),
            None => list,
        };
        if list.is_empty() {
            let (p, flag) = if proto == Proto::Udp {
                ("UDP", "U:")
            } else {
                ("TCP", "T:")
            };
            if excluded.is_some() {
                return Err(usage(format!(
                    "no {p} ports to scan: --exclude-ports leaves out all of them"
                )));
            }
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
        t.raw_min_rtt_timeout = d;
    }
    if let Some(d) = opts.max_rtt_timeout {
        t.max_rtt_timeout = d;
    }
    t.min_rtt_timeout = t.min_rtt_timeout.min(t.max_rtt_timeout);
    t.raw_min_rtt_timeout = t.raw_min_rtt_timeout.min(t.max_rtt_timeout);
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

/// Standard output for a report: the writers flush it at the end of each
/// report window (`Stdout` alone would write each line as it comes).
fn stdout_buffered() -> BufWriter<io::Stdout> {
    BufWriter::with_capacity(64 * 1024, io::stdout())
}

fn create(path: &str) -> Result<Box<dyn Write + Send>, Fail> {
    if path == "-" {
        return Ok(Box::new(stdout_buffered()));
    }
    let f = File::create(path).map_err(|e| usage(format!("cannot write {path}: {e}")))?;
    Ok(Box::new(BufWriter::with_capacity(64 * 1024, f)))
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
        sinks.push(Box::new(NormalWriter::new(stdout_buffered(), ropts)));
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
        sinks.push(Box::new(JsonLinesWriter::new(create(p)?)));
    }
    Ok(Tee::new(sinks))
}

/// Threads doing reverse lookups at once.
const RDNS_WORKERS: usize = 16;

/// Reverse lookups for the up hosts, on a bounded pool of threads, within
/// a time budget; names not found by then are left out. Workers stop
/// taking addresses at the deadline.
fn reverse_names(addrs: &[IpAddr]) -> Vec<Option<String>> {
    let addrs: Arc<Vec<IpAddr>> = Arc::new(addrs.iter().copied().take(256).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + RDNS_BUDGET;
    let (tx, rx) = mpsc::channel();
    for _ in 0..RDNS_WORKERS.min(addrs.len()) {
        let (tx, addrs, next) = (tx.clone(), Arc::clone(&addrs), Arc::clone(&next));
        let spawned = thread::Builder::new()
            .name("vigie-rdns".into())
            .spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(a) = addrs.get(i) else { return };
                if Instant::now() >= deadline {
                    return;
                }
                let name = dns_lookup::lookup_addr(a)
                    .ok()
                    .filter(|n| n != &a.to_string());
                if tx.send((i, name)).is_err() {
                    return;
                }
            });
        if spawned.is_err() {
            break;
        }
    }
    drop(tx);
    let mut names = vec![None; addrs.len()];
    while let Ok((i, n)) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        names[i] = n;
    }
    names
}
