//! Command-line parsing with nmap's spelling.
//!
//! nmap takes single-dash options of several letters (`-sS`, `-oX file`,
//! `-Pn`, `-T4`, `-p22`), values glued to the option (`-p-`, `-T4`,
//! `-oXscan.xml`) and long options with one or two dashes (`--top-ports 100`,
//! `-top-ports=100`). clap does not read that spelling, so the arguments are
//! first rewritten, token by token, into clap's own (`--syn`,
//! `--ports=22`, `--timing=4`, …); clap then parses and types the values. Any
//! error comes back as one line, without a usage block.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, ColorChoice, Parser};
use vigie_scan::Technique;

/// What the command line asks for.
// Built once per run; boxing the options would only add a pointer hop.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run a scan.
    Scan(Options),
    /// Print this text (the help) and exit with success.
    Help(String),
    /// Print this text (the version) and exit with success.
    Version(String),
}

/// A scan's options, as given; port and target syntax is left to vigie-scan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    /// The TCP scan type: `-sS` `-sT` `-sF` `-sN` `-sX` `-sA` `-sW` `-sM`
    /// (at most one); `None`: pick by privilege (unless only `-sU`/`-sn`).
    pub technique: Option<Technique>,
    /// `-sU`: also (or only) scan UDP.
    pub udp: bool,
    /// `--scanflags`: the TCP flag bits to send instead of the technique's
    /// own (replies are read as `technique` says, SYN by default).
    pub scanflags: Option<u16>,
    /// `-sn`: host discovery only, no port scan.
    pub ping_only: bool,
    /// `-PE` (ICMP echo).
    pub ping_echo: bool,
    /// `-PP` (ICMP timestamp).
    pub ping_timestamp: bool,
    /// `-PM` (ICMP address mask).
    pub ping_mask: bool,
    /// `-PS[ports]`: TCP SYN ping to these ports (default "80").
    pub ping_syn: Option<String>,
    /// `-PA[ports]`: TCP ACK ping to these ports (default "80").
    pub ping_ack: Option<String>,
    /// `-PU[ports]`: UDP ping to these ports (default "40125").
    pub ping_udp: Option<String>,
    /// `-PR`: ARP (IPv4) / neighbour solicitation (IPv6) ping.
    pub ping_arp: bool,
    /// `--disable-arp-ping`.
    pub disable_arp_ping: bool,
    /// `--send-ip`: send at the IP layer (the kernel routes and resolves
    /// neighbours); no ARP / ND of vigie's own.
    pub send_ip: bool,
    /// `--block-probes N` (hidden, for tests): probes per host block.
    pub block_probes: Option<u64>,
    /// `--tx-threads N` (hidden, for tests): 1 or 2 transmit threads.
    pub tx_threads: Option<u8>,
    /// `--dns-servers a,b` (unsplit, once per occurrence).
    pub dns_servers: Vec<String>,
    /// `--shard i/N` (0 ≤ i < N).
    pub shard: Option<(u64, u64)>,
    /// `--resume FILE`.
    pub resume: Option<PathBuf>,
    /// `--rate R`: a fixed rate, packets per second.
    pub rate: Option<f64>,
    /// `--stats-every TIME`.
    pub stats_every: Option<Duration>,
    /// `-p SPEC`, unparsed (`-p-` gives `"-"`).
    pub ports: Option<String>,
    /// `-F`.
    pub fast: bool,
    /// `--top-ports N` (N ≥ 1).
    pub top_ports: Option<usize>,
    /// The positional targets, unparsed.
    pub targets: Vec<String>,
    /// `-iL FILE` (`-` is stdin).
    pub input_list: Option<PathBuf>,
    /// `--exclude LIST`, once per occurrence, unsplit (commas kept).
    pub exclude: Vec<String>,
    /// `--excludefile FILE`.
    pub exclude_file: Option<PathBuf>,
    /// `-6`.
    pub ipv6: bool,
    /// `-n`.
    pub no_dns: bool,
    /// `-R`.
    pub always_dns: bool,
    /// `-Pn`.
    pub no_ping: bool,
    /// `-T0`…`-T5` (or the template's name).
    pub timing: Option<u8>,
    /// `--min-rate`, packets per second (> 0).
    pub min_rate: Option<f64>,
    /// `--max-rate`, packets per second (> 0, ≥ min-rate).
    pub max_rate: Option<f64>,
    /// `--max-retries`.
    pub max_retries: Option<u32>,
    /// `--host-timeout`.
    pub host_timeout: Option<Duration>,
    /// `--initial-rtt-timeout` (> 0).
    pub initial_rtt_timeout: Option<Duration>,
    /// `--min-rtt-timeout` (> 0, ≤ max-rtt-timeout).
    pub min_rtt_timeout: Option<Duration>,
    /// `--max-rtt-timeout` (> 0).
    pub max_rtt_timeout: Option<Duration>,
    /// `-oN FILE`.
    pub out_normal: Option<String>,
    /// `-oX FILE`.
    pub out_xml: Option<String>,
    /// `-oG FILE`.
    pub out_grep: Option<String>,
    /// `-oJ FILE` (JSON Lines).
    pub out_json: Option<String>,
    /// `-oA BASE`.
    pub out_all: Option<String>,
    /// `-v` (1), `-vv` (2), `-v3` (3); repeated options add up.
    pub verbose: u8,
    /// `--reason`.
    pub reason: bool,
    /// `--packet-trace`.
    pub packet_trace: bool,
    /// `-d` (1), `-dd` (2), `-d3` (3); repeated options add up.
    pub debug: u8,
    /// `--open`.
    pub open: bool,
    /// `--seed N`.
    pub seed: Option<u64>,
    /// `--servicedb FILE`.
    pub servicedb: Option<PathBuf>,
    /// The command line as typed (program name first), for XML `args=`.
    pub args_line: String,
}

/// A command-line error: one line, without the "vigie: " prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ArgError> {
    Err(ArgError(msg.into()))
}

/// The help text (`-h`, `--help`).
pub const HELP: &str = "\
vigie: a port scanner spelled like nmap
Usage: vigie [scan type] [options] <targets>

TARGET SPECIFICATION:
  Targets are addresses, names, networks and ranges, as in nmap:
  127.0.0.1, 198.18.0.0/24, 198.18.0.1-20, 198.18.0-3.1-20, fd00::1, fd00::/120
  -iL <file>: read targets from a file, whitespace-separated (- for stdin)
  --exclude <host1[,host2,...]>: leave these hosts or networks out
  --excludefile <file>: leave out the hosts or networks listed in a file
  Target sets larger than a /8 (2^24 addresses) need an --exclude or
  --excludefile, so that a mistyped target cannot scan half the Internet.
  -Pn: skip host discovery, report every target as up (on a local
      segment, an address that never answers ARP / ND is down, as in nmap)
  -sn: host discovery only (a ping sweep), no port scan
  -PE / -PP / -PM: ICMP echo, timestamp, address mask ping
  -PS[ports] / -PA[ports] / -PU[ports]: TCP SYN (80), TCP ACK (80), UDP (40125) ping
  -PR: ARP ping (IPv4) / neighbour solicitation (IPv6), for targets on a local segment
  --disable-arp-ping: no ARP / ND, even for targets on a local segment
  --send-ip: send at the IP layer: the kernel routes and resolves
      neighbours (by default vigie asks ARP / ND itself for targets on a
      local segment, also under -Pn, and calls the silent ones down)
  Default discovery (as root): ARP/ND on a local segment, otherwise ICMP echo,
  SYN to 443, ACK to 80 and ICMP timestamp; without privilege: connect to 80, 443
  -n: never do reverse DNS lookups
  -R: look up the names of every target, even the hosts that are down
  -6: scan IPv6 addresses (names resolve to their IPv6 address)

PORT SPECIFICATION:
  -p <ports>: ports to scan, e.g. -p22, -p 1-1024, -p 22,80,443, -p- (all)
  -F: fast mode, the 100 most common ports
  --top-ports <n>: the n most common ports (default: the top 1000)
  --servicedb <file>: read port names and frequencies from this nmap-services file

SCAN TECHNIQUES:
  One TCP type per run; all but -sT need raw sockets (CAP_NET_RAW).
  -sS: TCP SYN scan (the default with raw-socket privilege). SYN-ACK: open;
      RST: closed; ICMP unreachable or silence: filtered.
  -sT: TCP connect scan (the default without that privilege). Connected:
      open; refused: closed; timeout or unreachable: filtered.
  -sF / -sN / -sX: FIN, NULL (no flags), Xmas (FIN|PSH|URG). RST: closed;
      ICMP unreachable: filtered; silence: open|filtered. They cannot tell
      open from filtered, and hosts that answer every such probe with RST
      (Windows, many firewalls) make every port look closed.
  -sA: ACK scan, maps firewall rules. RST: unfiltered (open or closed, it
      cannot say which); ICMP unreachable or silence: filtered.
  -sW: Window scan: like -sA, but reads the RST's window: non-zero: open,
      zero: closed. Only some systems differ; Linux gives 0 (closed) always.
  -sM: Maimon scan (FIN|ACK). RST: closed; silence: open|filtered. Most
      systems (Linux included) answer RST from open ports too.
  --scanflags <flags>: send these TCP flags instead (names run together,
      e.g. SYNFIN, URGPSHFIN, or a number 0-511); replies are read as the
      scan type says (-sF, -sA, ...; SYN by default)
  -sU: UDP scan, alone or next to one TCP type (-p T:...,U:...). Services
      that ignore an empty datagram get a real request (DNS, NTP, SNMP,
      NetBIOS, SSDP, RPC, IKE, TFTP, memcached, SIP, mDNS). UDP reply: open;
      ICMP port unreachable: closed; other unreachables: filtered; silence
      while the target could still send ICMP errors: open|filtered. Exact
      under ICMP rate limiting (about 1 closed port per second on Linux);
      open ports are printed as found; progress on stderr on a terminal.

TIMING:
  Times are numbers of seconds or carry a unit: 500ms, 30s, 5m, 2h
  -T<0-5>: timing template, higher is faster; or by name: paranoid,
      sneaky, polite, normal, aggressive, insane
  --min-rate <n>: send at least n packets per second
  --max-rate <n>: send at most n packets per second
  --rate <n>: send exactly n packets per second
  --max-retries <n>: resend an unanswered probe at most n times
  --host-timeout <time>: give up on a host after this long
  --initial-rtt-timeout <time>: the probe timeout to start with
  --min-rtt-timeout <time>: never wait less than this for a reply
  --max-rtt-timeout <time>: never wait more than this for a reply

OUTPUT:
  -oN <file>: normal output, the table printed on the terminal
  -oX <file>: XML output, in nmap's format
  -oG <file>: grepable output, one line per host
  -oJ <file>: JSON Lines, one object per line
  -oA <base>: normal, XML and grepable at once, in <base>.nmap, <base>.xml
      and <base>.gnmap
  A file name of - means standard output.
  -v: more output (-vv or -v2 for even more)
  --reason: show why each port is in its state
  --open: show only the open (and possibly open) ports
  --packet-trace: a line per packet sent and received (and per connect
      attempt), on stdout, or on stderr when a report is written to -
  -d: debugging lines about the engine's decisions (-dd or -d2 for more)
  --stats-every <time>: a progress line on stderr every <time> (e.g. 10s):
      phase, % done, probes done/total, packets sent, rate, open, ETC
  While scanning, a progress bar is drawn on stderr when it is a terminal
  (not when a report written to - goes to the same terminal); nothing is
  written to a stderr that is not a terminal unless --stats-every is given

MISC:
  --seed <n>: the seed of the scan order (the same seed, the same order)
  --shard <i/N>: scan only part i (0 to N-1) of N; needs --seed. The parts
      of one seed are disjoint and together make the whole scan
  --resume <file>: finish a scan interrupted by Ctrl-C or SIGTERM (which
      writes vigie-resume.json in the current directory)
  vigie merge [-oX|-oJ|-oN|-oG <file>] <file>...: join the -oX (or -oJ)
      outputs of shards into one report
  -h, --help: print this help
  -V, --version: print the version

EXAMPLES:
  vigie -p 1-1024 127.0.0.1
  vigie -sS -T4 --top-ports 100 --reason -oX scan.xml 198.18.0.0/24
  vigie -6 -sT -p 22,80,443 fd00::1
";

/// How an option takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    Flag,
    Value,
}

/// One option: how it is spelled after one or two dashes, and its clap name.
struct Spec {
    /// The user's spelling without the leading dash(es).
    name: &'static str,
    /// The name clap knows it by (`--canon`).
    canon: &'static str,
    arity: Arity,
}

const fn spec(name: &'static str, canon: &'static str, arity: Arity) -> Spec {
    Spec { name, canon, arity }
}

/// Options spelled with one or two dashes (`-reason`, `--reason`,
/// `--top-ports=100`). `=value` is accepted for value options.
const LONG: &[Spec] = &[
    spec("top-ports", "top-ports", Arity::Value),
    spec("exclude", "exclude", Arity::Value),
    spec("excludefile", "exclude-file", Arity::Value),
    spec("min-rate", "min-rate", Arity::Value),
    spec("max-rate", "max-rate", Arity::Value),
    spec("max-retries", "max-retries", Arity::Value),
    spec("host-timeout", "host-timeout", Arity::Value),
    spec("initial-rtt-timeout", "initial-rtt-timeout", Arity::Value),
    spec("min-rtt-timeout", "min-rtt-timeout", Arity::Value),
    spec("max-rtt-timeout", "max-rtt-timeout", Arity::Value),
    spec("reason", "reason", Arity::Flag),
    spec("open", "open", Arity::Flag),
    spec("seed", "seed", Arity::Value),
    spec("servicedb", "servicedb", Arity::Value),
    spec("help", "help", Arity::Flag),
    spec("version", "version", Arity::Flag),
    spec("iL", "input-list", Arity::Value),
    spec("scanflags", "scanflags", Arity::Value),
    spec("disable-arp-ping", "disable-arp-ping", Arity::Flag),
    spec("send-ip", "send-ip", Arity::Flag),
    spec("block-probes", "block-probes", Arity::Value),
    spec("tx-threads", "tx-threads", Arity::Value),
    spec("dns-servers", "dns-servers", Arity::Value),
    spec("shard", "shard", Arity::Value),
    spec("resume", "resume", Arity::Value),
    spec("rate", "rate", Arity::Value),
    spec("stats-every", "stats-every", Arity::Value),
    spec("packet-trace", "packet-trace", Arity::Flag),
];

/// Options spelled with exactly one dash and nothing glued on.
const SHORT: &[Spec] = &[
    spec("sS", "syn", Arity::Flag),
    spec("sT", "connect", Arity::Flag),
    spec("sF", "fin", Arity::Flag),
    spec("sN", "null", Arity::Flag),
    spec("sX", "xmas", Arity::Flag),
    spec("sA", "ack", Arity::Flag),
    spec("sW", "window", Arity::Flag),
    spec("sM", "maimon", Arity::Flag),
    spec("sU", "udp", Arity::Flag),
    spec("sn", "ping-only", Arity::Flag),
    spec("sP", "ping-only", Arity::Flag),
    spec("PE", "ping-echo", Arity::Flag),
    spec("PP", "ping-timestamp", Arity::Flag),
    spec("PM", "ping-mask", Arity::Flag),
    spec("PR", "ping-arp", Arity::Flag),
    spec("Pn", "no-ping", Arity::Flag),
    spec("PN", "no-ping", Arity::Flag),
    spec("F", "fast", Arity::Flag),
    spec("n", "no-dns", Arity::Flag),
    spec("R", "always-dns", Arity::Flag),
    spec("6", "ipv6", Arity::Flag),
    spec("h", "help", Arity::Flag),
    spec("V", "version", Arity::Flag),
];

/// Options with one dash whose value may be glued on (`-p22`, `-T4`,
/// `-oXscan.xml`) or come as the next argument.
const GLUED: &[Spec] = &[
    spec("p", "ports", Arity::Value),
    spec("T", "timing", Arity::Value),
    spec("oN", "out-normal", Arity::Value),
    spec("oX", "out-xml", Arity::Value),
    spec("oG", "out-grep", Arity::Value),
    spec("oJ", "out-json", Arity::Value),
    spec("oA", "out-all", Arity::Value),
];

/// Ping probes whose port list may be glued on or left out (`-PS`,
/// `-PS22,443`): spelling, clap name, nmap's default ports.
const PING_PORTS: &[(&str, &str, &str)] = &[
    ("PS", "ping-syn", "80"),
    ("PA", "ping-ack", "80"),
    ("PU", "ping-udp", "40125"),
];

/// The TCP scan types, with their flag, in the order messages list them.
const TCP_TYPES: [(Technique, &str); 8] = [
    (Technique::Syn, "-sS"),
    (Technique::Connect, "-sT"),
    (Technique::Fin, "-sF"),
    (Technique::Null, "-sN"),
    (Technique::Xmas, "-sX"),
    (Technique::Ack, "-sA"),
    (Technique::Window, "-sW"),
    (Technique::Maimon, "-sM"),
];

/// The spelling to show for a clap name in error messages.
fn shown(canon: &str) -> String {
    if canon == "verbose" {
        return "-v".into();
    }
    if let Some(s) = GLUED.iter().chain(SHORT).find(|s| s.canon == canon) {
        return format!("-{}", s.name);
    }
    match LONG.iter().find(|s| s.canon == canon) {
        Some(s) if s.name == "iL" => "-iL".into(),
        Some(s) => format!("--{}", s.name),
        None => format!("--{canon}"),
    }
}

fn unknown(arg: &str) -> ArgError {
    ArgError(format!("unknown option '{arg}' (see vigie --help)"))
}

/// Rewrites nmap's spelling into clap's: every option becomes `--canon` or
/// `--canon=value`; targets pass through; everything after `--` is a target.
fn normalize(args: &[String]) -> Result<Vec<String>, ArgError> {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            out.push(arg.clone());
            out.extend(it.by_ref().cloned());
            break;
        }
        let Some(body) = arg.strip_prefix('-') else {
            out.push(arg.clone());
            continue;
        };
        if body.is_empty() {
            // A lone "-" is a target (and fails there).
            out.push(arg.clone());
            continue;
        }
        let double = body.starts_with('-');
        let long = body.strip_prefix('-').unwrap_or(body);
        let (name, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };

        if let Some(s) = LONG.iter().find(|s| s.name == name) {
            match (s.arity, inline) {
                (Arity::Flag, None) => out.push(format!("--{}", s.canon)),
                (Arity::Flag, Some(_)) => {
                    return err(format!("option '{}' takes no value", arg_name(arg)));
                }
                (Arity::Value, Some(v)) => out.push(with_value(arg_name(arg), s.canon, v)?),
                (Arity::Value, None) => {
                    let v = it.next().ok_or_else(|| missing(arg))?;
                    out.push(with_value(arg, s.canon, v)?);
                }
            }
            continue;
        }
        if double {
            return Err(unknown(arg_name(arg)));
        }

        // One dash from here on: `body` is the whole word.
        if let Some((_, canon, default)) = PING_PORTS.iter().find(|(n, _, _)| body.starts_with(n)) {
            let ports = &body[2..];
            let ports = if ports.is_empty() { default } else { ports };
            out.push(format!("--{canon}={ports}"));
            continue;
        }
        if let Some(s) = SHORT.iter().find(|s| s.name == body) {
            out.push(format!("--{}", s.canon));
            continue;
        }
        if let Some(level) = verbosity(body) {
            out.push(format!("--verbose={level}"));
            continue;
        }
        if let Some(level) = debug_level(body) {
            out.push(format!("--debug-level={level}"));
            continue;
        }
        if let Some(s) = GLUED.iter().find(|s| body.starts_with(s.name)) {
            let glued = &body[s.name.len()..];
            if glued.is_empty() {
                let v = it.next().ok_or_else(|| missing(arg))?;
                out.push(with_value(arg, s.canon, v)?);
            } else {
                let flag = format!("-{}", s.name);
                out.push(with_value(&flag, s.canon, glued)?);
            }
            continue;
        }
        return Err(unknown(arg));
    }
    Ok(out)
}

/// `--name=value` → `--name`, for messages.
fn arg_name(arg: &str) -> &str {
    arg.split_once('=').map_or(arg, |(n, _)| n)
}

fn missing(flag: &str) -> ArgError {
    ArgError(format!("option '{flag}' needs a value"))
}

fn with_value(flag: &str, canon: &str, value: &str) -> Result<String, ArgError> {
    if value.is_empty() {
        return err(format!(
            "option '{flag}' needs a value, not an empty string"
        ));
    }
    Ok(format!("--{canon}={value}"))
}

/// `v`, `vv`, `vvv`… → their count; `v3` → 3. Not a verbosity word: `None`.
fn verbosity(body: &str) -> Option<u32> {
    let rest = body.strip_prefix('v')?;
    if rest.bytes().all(|b| b == b'v') {
        return Some(rest.len() as u32 + 1);
    }
    if rest.bytes().all(|b| b.is_ascii_digit()) {
        return Some(rest.parse().unwrap_or(u32::MAX));
    }
    None
}

/// `d`, `dd`, `ddd`… → their count; `d2` → 2. Not a debug word: `None`.
fn debug_level(body: &str) -> Option<u32> {
    let rest = body.strip_prefix('d')?;
    if rest.bytes().all(|b| b == b'd') {
        return Some(rest.len() as u32 + 1);
    }
    if rest.bytes().all(|b| b.is_ascii_digit()) {
        return Some(rest.parse().unwrap_or(u32::MAX));
    }
    None
}

/// The options clap sees, after [`normalize`].
#[derive(Debug, Parser)]
#[command(
    name = "vigie",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    color = ColorChoice::Never
)]
struct Raw {
    #[arg(long = "syn")]
    syn: bool,
    #[arg(long = "connect")]
    connect: bool,
    #[arg(long = "fin")]
    fin: bool,
    #[arg(long = "null")]
    null: bool,
    #[arg(long = "xmas")]
    xmas: bool,
    #[arg(long = "ack")]
    ack: bool,
    #[arg(long = "window")]
    window: bool,
    #[arg(long = "maimon")]
    maimon: bool,
    #[arg(long = "udp")]
    udp: bool,
    #[arg(long = "scanflags", value_parser = parse_scanflags)]
    scanflags: Option<u16>,
    #[arg(long = "ping-only")]
    ping_only: bool,
    #[arg(long = "ping-echo")]
    ping_echo: bool,
    #[arg(long = "ping-timestamp")]
    ping_timestamp: bool,
    #[arg(long = "ping-mask")]
    ping_mask: bool,
    #[arg(long = "ping-syn")]
    ping_syn: Option<String>,
    #[arg(long = "ping-ack")]
    ping_ack: Option<String>,
    #[arg(long = "ping-udp")]
    ping_udp: Option<String>,
    #[arg(long = "ping-arp")]
    ping_arp: bool,
    #[arg(long = "disable-arp-ping")]
    disable_arp_ping: bool,
    #[arg(long = "send-ip")]
    send_ip: bool,
    #[arg(long = "block-probes", value_parser = parse_block_probes)]
    block_probes: Option<u64>,
    #[arg(long = "tx-threads", value_parser = parse_tx_threads)]
    tx_threads: Option<u8>,
    #[arg(long = "dns-servers", action = ArgAction::Append)]
    dns_servers: Vec<String>,
    #[arg(long = "shard", value_parser = parse_shard)]
    shard: Option<(u64, u64)>,
    #[arg(long = "resume")]
    resume: Option<PathBuf>,
    #[arg(long = "rate", value_parser = parse_rate)]
    rate: Option<f64>,
    #[arg(long = "stats-every", value_parser = rtt_value)]
    stats_every: Option<Duration>,
    #[arg(long = "ports")]
    ports: Option<String>,
    #[arg(long = "fast")]
    fast: bool,
    #[arg(long = "top-ports", value_parser = parse_top_ports)]
    top_ports: Option<usize>,
    #[arg(long = "input-list")]
    input_list: Option<PathBuf>,
    #[arg(long = "exclude", action = ArgAction::Append)]
    exclude: Vec<String>,
    #[arg(long = "exclude-file")]
    exclude_file: Option<PathBuf>,
    #[arg(long = "ipv6")]
    ipv6: bool,
    #[arg(long = "no-dns")]
    no_dns: bool,
    #[arg(long = "always-dns")]
    always_dns: bool,
    #[arg(long = "no-ping")]
    no_ping: bool,
    #[arg(long = "timing", value_parser = parse_timing)]
    timing: Option<u8>,
    #[arg(long = "min-rate", value_parser = parse_rate)]
    min_rate: Option<f64>,
    #[arg(long = "max-rate", value_parser = parse_rate)]
    max_rate: Option<f64>,
    #[arg(long = "max-retries", value_parser = parse_count)]
    max_retries: Option<u32>,
    #[arg(long = "host-timeout", value_parser = time_value)]
    host_timeout: Option<Duration>,
    #[arg(long = "initial-rtt-timeout", value_parser = rtt_value)]
    initial_rtt_timeout: Option<Duration>,
    #[arg(long = "min-rtt-timeout", value_parser = rtt_value)]
    min_rtt_timeout: Option<Duration>,
    #[arg(long = "max-rtt-timeout", value_parser = rtt_value)]
    max_rtt_timeout: Option<Duration>,
    #[arg(long = "out-normal")]
    out_normal: Option<String>,
    #[arg(long = "out-xml")]
    out_xml: Option<String>,
    #[arg(long = "out-grep")]
    out_grep: Option<String>,
    #[arg(long = "out-json")]
    out_json: Option<String>,
    #[arg(long = "out-all")]
    out_all: Option<String>,
    #[arg(long = "verbose", action = ArgAction::Append)]
    verbose: Vec<u32>,
    #[arg(long = "reason")]
    reason: bool,
    #[arg(long = "packet-trace")]
    packet_trace: bool,
    #[arg(long = "debug-level", action = ArgAction::Append)]
    debug_level: Vec<u32>,
    #[arg(long = "open")]
    open: bool,
    #[arg(long = "seed", value_parser = parse_seed)]
    seed: Option<u64>,
    #[arg(long = "servicedb")]
    servicedb: Option<PathBuf>,
    #[arg(long = "help")]
    help: bool,
    #[arg(long = "version")]
    version: bool,
    targets: Vec<String>,
}

/// nmap's `--scanflags`: flag names run together in any order
/// (`SYNFIN`, `urgpshfin`), or a number 0-511 (decimal or 0x hex).
pub fn parse_scanflags(s: &str) -> Result<u16, String> {
    const NAMES: [(&str, u16); 9] = [
        ("FIN", 0x001),
        ("SYN", 0x002),
        ("RST", 0x004),
        ("PSH", 0x008),
        ("ACK", 0x010),
        ("URG", 0x020),
        ("ECE", 0x040),
        ("CWR", 0x080),
        ("NS", 0x100),
    ];
    let bad =
        || format!("expected flag names like SYNFIN or URGPSHFIN, or a number 0-511, not \"{s}\"");
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u16::from_str_radix(hex, 16)
            .ok()
            .filter(|v| *v <= 0x1ff)
            .ok_or_else(bad);
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u16>()
            .ok()
            .filter(|v| *v <= 0x1ff)
            .ok_or_else(bad);
    }
    let upper = s.to_ascii_uppercase();
    let mut rest = upper.as_str();
    let mut bits = 0u16;
    while !rest.is_empty() {
        let (name, bit) = NAMES
            .iter()
            .find(|(n, _)| rest.starts_with(n))
            .ok_or_else(bad)?;
        bits |= bit;
        rest = &rest[name.len()..];
    }
    Ok(bits)
}

/// `--shard i/N`: shard i (counted from 0) of N.
fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let bad = || format!("expected i/N with 0 <= i < N, like 0/4, not \"{s}\"");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.parse::<u64>().map_err(|_| bad())?,
        n.parse::<u64>().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn parse_top_ports(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("expected a whole number".into()),
    }
}

fn parse_block_probes(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if (1..=1 << 23).contains(&n) => Ok(n),
        _ => Err("expected a whole number from 1 to 8388608".into()),
    }
}

fn parse_tx_threads(s: &str) -> Result<u8, String> {
    match s {
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err("expected 1 or 2".into()),
    }
}

fn parse_count(s: &str) -> Result<u32, String> {
    s.parse().map_err(|_| "expected a whole number".into())
}

fn parse_seed(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| "expected a whole number from 0 to 18446744073709551615".into())
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        Ok(r) if r.is_finite() => Err("must be greater than 0".into()),
        _ => Err("expected a number of packets per second".into()),
    }
}

const TEMPLATES: [&str; 6] = [
    "paranoid",
    "sneaky",
    "polite",
    "normal",
    "aggressive",
    "insane",
];

fn parse_timing(s: &str) -> Result<u8, String> {
    if let Some(i) = TEMPLATES.iter().position(|t| t.eq_ignore_ascii_case(s)) {
        return Ok(i as u8);
    }
    match s.parse::<u8>() {
        Ok(n) if n <= 5 => Ok(n),
        _ => Err("expected 0 to 5 or paranoid|sneaky|polite|normal|aggressive|insane".into()),
    }
}

fn time_value(s: &str) -> Result<Duration, String> {
    parse_time(s).map_err(|e| e.0)
}

fn rtt_value(s: &str) -> Result<Duration, String> {
    match parse_time(s) {
        Ok(d) if d.is_zero() => Err("must be greater than 0".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.0),
    }
}

/// An nmap time spec: a number (decimals allowed) with an optional unit,
/// `ms`, `s`, `m` or `h`; a bare number is seconds. `"500ms"`, `"1.5s"`,
/// `"30"`, `"5m"`, `"2h"`. Computed exactly (no floating point); digits
/// finer than a nanosecond are dropped.
pub fn parse_time(s: &str) -> Result<Duration, ArgError> {
    let bad = || ArgError(format!("invalid time '{s}' (use e.g. 500ms, 30s, 5m, 2h)"));
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit_ns: u128 = match unit {
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(bad()),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
        return Err(bad());
    }
    let mut ns: u128 = 0;
    for b in int.bytes() {
        ns = ns
            .checked_mul(10)
            .and_then(|n| n.checked_add(u128::from(b - b'0')))
            .ok_or_else(bad)?;
    }
    ns = ns.checked_mul(unit_ns).ok_or_else(bad)?;
    // The fraction, to 12 digits: 0.xxxxxxxxxxxx × unit (≤ 3.6e12 ns) is exact to 1 ns.
    let digits: Vec<u128> = frac
        .bytes()
        .take(12)
        .map(|b| u128::from(b - b'0'))
        .collect();
    let scale = 10u128.pow(digits.len() as u32);
    let frac_val = digits.iter().fold(0u128, |acc, d| acc * 10 + d);
    ns = ns.checked_add(frac_val * unit_ns / scale).ok_or_else(bad)?;
    let secs = u64::try_from(ns / 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, (ns % 1_000_000_000) as u32))
}

/// Turns a clap error into one line.
fn clap_line(e: &clap::Error) -> String {
    let value = |k| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    match e.kind() {
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let arg = value(ContextKind::InvalidArg).unwrap_or_default();
            let canon = arg
                .trim_start_matches('-')
                .split([' ', '='])
                .next()
                .unwrap_or("");
            let val = value(ContextKind::InvalidValue).unwrap_or_default();
            match std::error::Error::source(e) {
                Some(why) => format!("invalid value '{val}' for '{}': {why}", shown(canon)),
                None => format!("invalid value '{val}' for '{}'", shown(canon)),
            }
        }
        _ => {
            // Not expected after normalize; keep clap's own first line.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments").trim();
            format!(
                "{} (see vigie --help)",
                first.strip_prefix("error: ").unwrap_or(first)
            )
        }
    }
}

/// How an argument is shown in `args_line`: as typed, quoted if it would
/// not read back as one word.
fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '\\' | '$' | '`'));
    if plain {
        return arg.to_string();
    }
    let mut q = String::with_capacity(arg.len() + 2);
    q.push('"');
    for c in arg.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// Parses a command line; `args[0]` is the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, ArgError> {
    let mut words = Vec::with_capacity(args.len());
    for a in &args {
        match a.to_str() {
            Some(s) => words.push(s.to_string()),
            None => {
                return err(format!(
                    "argument {} is not valid UTF-8",
                    a.to_string_lossy()
                ))
            }
        }
    }
    let args_line = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
    let rest = words.get(1..).unwrap_or(&[]);
    let mut argv = vec!["vigie".to_string()];
    argv.extend(normalize(rest)?);
    let raw = Raw::try_parse_from(argv).map_err(|e| ArgError(clap_line(&e)))?;

    if raw.help {
        return Ok(Command::Help(HELP.to_string()));
    }
    if raw.version {
        return Ok(Command::Version(format!(
            "vigie {}\n",
            env!("CARGO_PKG_VERSION")
        )));
    }
    let chosen: Vec<(Technique, &str)> = TCP_TYPES
        .into_iter()
        .zip([
            raw.syn,
            raw.connect,
            raw.fin,
            raw.null,
            raw.xmas,
            raw.ack,
            raw.window,
            raw.maimon,
        ])
        .filter_map(|(t, on)| on.then_some(t))
        .collect();
    let technique = match chosen.as_slice() {
        [] => None,
        [(t, _)] => Some(*t),
        many => {
            let flags: Vec<&str> = many.iter().map(|(_, f)| *f).collect();
            return err(format!(
                "only one TCP scan type at a time ({} given); one TCP type may be combined with -sU",
                flags.join(", ")
            ));
        }
    };
    if raw.scanflags.is_some() && technique == Some(Technique::Connect) {
        return err("--scanflags needs a raw TCP scan type; -sT lets the kernel choose the flags");
    }
    if raw.scanflags.is_some() && technique.is_none() && raw.udp {
        return err("--scanflags changes TCP probes; add a TCP scan type (e.g. -sS) next to -sU");
    }
    if raw.ping_only && (technique.is_some() || raw.udp) {
        return err("-sn (host discovery only) cannot be combined with a port scan type");
    }
    if raw.rate.is_some() && (raw.min_rate.is_some() || raw.max_rate.is_some()) {
        return err(
            "--rate sets a fixed rate; it cannot be combined with --min-rate or --max-rate",
        );
    }
    if let (Some(lo), Some(hi)) = (raw.min_rate, raw.max_rate) {
        if lo > hi {
            return err(format!(
                "--min-rate ({lo}) is greater than --max-rate ({hi})"
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (raw.min_rtt_timeout, raw.max_rtt_timeout) {
        if lo > hi {
            return err(format!(
                "--min-rtt-timeout ({lo:?}) is greater than --max-rtt-timeout ({hi:?})"
            ));
        }
    }
    if raw.targets.is_empty() && raw.input_list.is_none() {
        return err("no targets given (see vigie --help)");
    }
    let verbose = raw
        .verbose
        .iter()
        .fold(0u32, |acc, v| acc.saturating_add(*v));

    Ok(Command::Scan(Options {
        technique,
        udp: raw.udp,
        scanflags: raw.scanflags,
        ping_only: raw.ping_only,
        ping_echo: raw.ping_echo,
        ping_timestamp: raw.ping_timestamp,
        ping_mask: raw.ping_mask,
        ping_syn: raw.ping_syn,
        ping_ack: raw.ping_ack,
        ping_udp: raw.ping_udp,
        ping_arp: raw.ping_arp,
        disable_arp_ping: raw.disable_arp_ping,
        send_ip: raw.send_ip,
        block_probes: raw.block_probes,
        tx_threads: raw.tx_threads,
        dns_servers: raw.dns_servers,
        shard: raw.shard,
        resume: raw.resume,
        rate: raw.rate,
        stats_every: raw.stats_every,
        ports: raw.ports,
        fast: raw.fast,
        top_ports: raw.top_ports,
        targets: raw.targets,
        input_list: raw.input_list,
        exclude: raw.exclude,
        exclude_file: raw.exclude_file,
        ipv6: raw.ipv6,
        no_dns: raw.no_dns,
        always_dns: raw.always_dns,
        no_ping: raw.no_ping,
        timing: raw.timing,
        min_rate: raw.min_rate,
        max_rate: raw.max_rate,
        max_retries: raw.max_retries,
        host_timeout: raw.host_timeout,
        initial_rtt_timeout: raw.initial_rtt_timeout,
        min_rtt_timeout: raw.min_rtt_timeout,
        max_rtt_timeout: raw.max_rtt_timeout,
        out_normal: raw.out_normal,
        out_xml: raw.out_xml,
        out_grep: raw.out_grep,
        out_json: raw.out_json,
        out_all: raw.out_all,
        verbose: u8::try_from(verbose).unwrap_or(u8::MAX),
        reason: raw.reason,
        packet_trace: raw.packet_trace,
        debug: u8::try_from(
            raw.debug_level
                .iter()
                .fold(0u32, |acc, v| acc.saturating_add(*v)),
        )
        .unwrap_or(u8::MAX),
        open: raw.open,
        seed: raw.seed,
        servicedb: raw.servicedb,
        args_line,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, ArgError> {
        let mut v = vec![OsString::from("vigie")];
        v.extend(args.iter().map(OsString::from));
        parse(v)
    }

    /// Parses a scan command line (a target is appended).
    fn opts(args: &[&str]) -> Options {
        let mut v = args.to_vec();
        v.push("127.0.0.1");
        match run(&v) {
            Ok(Command::Scan(o)) => o,
            other => panic!("{args:?}: expected a scan, got {other:?}"),
        }
    }

    fn fail(args: &[&str]) -> String {
        match run(args) {
            Err(e) => e.0,
            Ok(c) => panic!("{args:?}: expected an error, got {c:?}"),
        }
    }

    #[test]
    fn minimal_line_gives_defaults() {
        let o = opts(&[]);
        assert_eq!(
            o,
            Options {
                targets: vec!["127.0.0.1".into()],
                args_line: "vigie 127.0.0.1".into(),
                ..Options::default()
            }
        );
    }

    #[test]
    fn every_flag_at_once() {
        let o = opts(&[
            "-sS",
            "-p22,80",
            "--top-ports",
            "10",
            "-F",
            "-iL",
            "list.txt",
            "--exclude",
            "198.18.0.5,198.18.0.6",
            "--exclude",
            "198.18.0.7",
            "--excludefile",
            "ex.txt",
            "-6",
            "-n",
            "-R",
            "-Pn",
            "-T4",
            "--min-rate",
            "100",
            "--max-rate",
            "2500.5",
            "--max-retries",
            "3",
            "--host-timeout",
            "30s",
            "--initial-rtt-timeout",
            "1s",
            "--min-rtt-timeout",
            "100ms",
            "--max-rtt-timeout",
            "2s",
            "-oN",
            "a.nmap",
            "-oX",
            "a.xml",
            "-oG",
            "a.gnmap",
            "-oJ",
            "a.jsonl",
            "-oA",
            "base",
            "-vv",
            "--reason",
            "--open",
            "--seed",
            "42",
            "--servicedb",
            "svc.txt",
        ]);
        let expected = Options {
            technique: Some(Technique::Syn),
            udp: false,
            scanflags: None,
            ping_only: false,
            ping_echo: false,
            ping_timestamp: false,
            ping_mask: false,
            ping_syn: None,
            ping_ack: None,
            ping_udp: None,
            ping_arp: false,
            disable_arp_ping: false,
            send_ip: false,
            block_probes: None,
            tx_threads: None,
            dns_servers: vec![],
            shard: None,
            resume: None,
            rate: None,
            stats_every: None,
            ports: Some("22,80".into()),
            fast: true,
            top_ports: Some(10),
            targets: vec!["127.0.0.1".into()],
            input_list: Some(PathBuf::from("list.txt")),
            exclude: vec!["198.18.0.5,198.18.0.6".into(), "198.18.0.7".into()],
            exclude_file: Some(PathBuf::from("ex.txt")),
            ipv6: true,
            no_dns: true,
            always_dns: true,
            no_ping: true,
            timing: Some(4),
            min_rate: Some(100.0),
            max_rate: Some(2500.5),
            max_retries: Some(3),
            host_timeout: Some(Duration::from_secs(30)),
            initial_rtt_timeout: Some(Duration::from_secs(1)),
            min_rtt_timeout: Some(Duration::from_millis(100)),
            max_rtt_timeout: Some(Duration::from_secs(2)),
            out_normal: Some("a.nmap".into()),
            out_xml: Some("a.xml".into()),
            out_grep: Some("a.gnmap".into()),
            out_json: Some("a.jsonl".into()),
            out_all: Some("base".into()),
            verbose: 2,
            reason: true,
            packet_trace: false,
            debug: 0,
            open: true,
            seed: Some(42),
            servicedb: Some(PathBuf::from("svc.txt")),
            args_line: "vigie -sS -p22,80 --top-ports 10 -F -iL list.txt --exclude \
                        198.18.0.5,198.18.0.6 --exclude 198.18.0.7 --excludefile ex.txt -6 -n -R \
                        -Pn -T4 --min-rate 100 --max-rate 2500.5 --max-retries 3 --host-timeout \
                        30s --initial-rtt-timeout 1s --min-rtt-timeout 100ms --max-rtt-timeout 2s \
                        -oN a.nmap -oX a.xml -oG a.gnmap -oJ a.jsonl -oA base -vv --reason --open \
                        --seed 42 --servicedb svc.txt 127.0.0.1"
                .into(),
        };
        assert_eq!(o, expected);
    }

    #[test]
    fn scan_types() {
        assert_eq!(opts(&["-sS"]).technique, Some(Technique::Syn));
        assert_eq!(opts(&["-sT"]).technique, Some(Technique::Connect));
        assert_eq!(opts(&["-sT", "-sT"]).technique, Some(Technique::Connect));
        assert_eq!(opts(&[]).technique, None);
        for (flag, t) in TCP_TYPES.iter().map(|(t, f)| (*f, *t)) {
            assert_eq!(opts(&[flag]).technique, Some(t), "{flag}");
        }
        let both = opts(&["-sU", "-sF"]);
        assert_eq!((both.technique, both.udp), (Some(Technique::Fin), true));
        let udp = opts(&["-sU"]);
        assert_eq!((udp.technique, udp.udp), (None, true));
        let msg = "only one TCP scan type at a time (-sS, -sT given); one TCP type may be combined with -sU";
        assert_eq!(fail(&["-sS", "-sT", "127.0.0.1"]), msg);
        assert_eq!(fail(&["-sT", "127.0.0.1", "-sS"]), msg);
        assert_eq!(
            fail(&["-sF", "-sX", "-sA", "127.0.0.1"]),
            "only one TCP scan type at a time (-sF, -sX, -sA given); one TCP type may be combined with -sU"
        );
        assert_eq!(
            fail(&["-sn", "-sS", "127.0.0.1"]),
            "-sn (host discovery only) cannot be combined with a port scan type"
        );
    }

    #[test]
    fn scanflags() {
        assert_eq!(opts(&["--scanflags", "SYNFIN"]).scanflags, Some(0x003));
        assert_eq!(opts(&["--scanflags=urgpshfin"]).scanflags, Some(0x029));
        assert_eq!(
            opts(&["-scanflags", "ACKURG", "-sA"]).scanflags,
            Some(0x030)
        );
        assert_eq!(opts(&["--scanflags", "18"]).scanflags, Some(18));
        assert_eq!(opts(&["--scanflags", "0x1ff"]).scanflags, Some(0x1ff));
        assert_eq!(opts(&["--scanflags", "0"]).scanflags, Some(0));
        assert_eq!(opts(&["--scanflags", "ECECWRNS"]).scanflags, Some(0x1c0));
        for bad in ["SYNFOO", "512", "0x200", "S", "-1"] {
            let msg = fail(&["--scanflags", bad, "127.0.0.1"]);
            assert!(msg.starts_with("invalid value"), "{bad}: {msg}");
            assert!(msg.contains("SYNFIN"), "{bad}: {msg}");
        }
        assert_eq!(
            fail(&["--scanflags", "SYN", "-sT", "127.0.0.1"]),
            "--scanflags needs a raw TCP scan type; -sT lets the kernel choose the flags"
        );
    }

    #[test]
    fn discovery_and_engine_flags() {
        let o = opts(&[
            "-sn",
            "-PE",
            "-PP",
            "-PM",
            "-PS",
            "-PA22,443",
            "-PU53",
            "-PR",
            "--disable-arp-ping",
        ]);
        assert!(
            o.ping_only
                && o.ping_echo
                && o.ping_timestamp
                && o.ping_mask
                && o.ping_arp
                && o.disable_arp_ping
        );
        assert_eq!(o.ping_syn.as_deref(), Some("80"));
        assert_eq!(o.ping_ack.as_deref(), Some("22,443"));
        assert_eq!(o.ping_udp.as_deref(), Some("53"));
        assert_eq!(opts(&["-PU"]).ping_udp.as_deref(), Some("40125"));
        let o = opts(&[
            "--shard",
            "1/4",
            "--rate",
            "5000",
            "--stats-every",
            "2s",
            "--resume",
            "r.json",
            "--dns-servers",
            "198.18.0.53",
        ]);
        assert_eq!(o.shard, Some((1, 4)));
        assert_eq!(o.rate, Some(5000.0));
        assert_eq!(o.stats_every, Some(Duration::from_secs(2)));
        assert_eq!(o.resume.as_deref(), Some(std::path::Path::new("r.json")));
        assert_eq!(o.dns_servers, vec!["198.18.0.53".to_string()]);
        for bad in ["4/4", "1/0", "x/2", "1", "-1/2"] {
            assert!(
                fail(&["--shard", bad, "127.0.0.1"]).contains("expected i/N"),
                "{bad}"
            );
        }
        assert_eq!(
            fail(&["--rate", "10", "--max-rate", "20", "127.0.0.1"]),
            "--rate sets a fixed rate; it cannot be combined with --min-rate or --max-rate"
        );
    }

    #[test]
    fn unknown_options() {
        assert_eq!(
            fail(&["-sZ", "127.0.0.1"]),
            "unknown option '-sZ' (see vigie --help)"
        );
        assert_eq!(
            fail(&["--bogus", "127.0.0.1"]),
            "unknown option '--bogus' (see vigie --help)"
        );
        assert_eq!(
            fail(&["--bogus=1", "127.0.0.1"]),
            "unknown option '--bogus' (see vigie --help)"
        );
        assert_eq!(fail(&["-x"]), "unknown option '-x' (see vigie --help)");
        assert_eq!(fail(&["-vx"]), "unknown option '-vx' (see vigie --help)");
        assert_eq!(
            fail(&["-iLfile"]),
            "unknown option '-iLfile' (see vigie --help)"
        );
        // The single-dash spellings do not take two dashes.
        assert_eq!(
            fail(&["--sS", "127.0.0.1"]),
            "unknown option '--sS' (see vigie --help)"
        );
        assert_eq!(
            fail(&["--p", "22"]),
            "unknown option '--p' (see vigie --help)"
        );
        // clap's own names are not ours.
        assert_eq!(
            fail(&["--syn"]),
            "unknown option '--syn' (see vigie --help)"
        );
        assert_eq!(
            fail(&["--ports=22"]),
            "unknown option '--ports' (see vigie --help)"
        );
    }

    #[test]
    fn ports_spellings() {
        assert_eq!(opts(&["-p22"]).ports.as_deref(), Some("22"));
        assert_eq!(opts(&["-p", "22"]).ports.as_deref(), Some("22"));
        assert_eq!(opts(&["-p-"]).ports.as_deref(), Some("-"));
        assert_eq!(opts(&["-p", "-"]).ports.as_deref(), Some("-"));
        assert_eq!(
            opts(&["-p", "1-1024,U:53"]).ports.as_deref(),
            Some("1-1024,U:53")
        );
        assert_eq!(opts(&["-p-1024"]).ports.as_deref(), Some("-1024"));
        // The value is taken as it is, even when it looks like an option.
        assert_eq!(opts(&["-p", "-sS"]).ports.as_deref(), Some("-sS"));
        // Port syntax is not checked here.
        assert_eq!(opts(&["-p", "70000"]).ports.as_deref(), Some("70000"));
        // The last one wins, as in nmap.
        assert_eq!(opts(&["-p", "22", "-p80"]).ports.as_deref(), Some("80"));
        assert_eq!(fail(&["127.0.0.1", "-p"]), "option '-p' needs a value");
        assert_eq!(
            fail(&["-p", "", "127.0.0.1"]),
            "option '-p' needs a value, not an empty string"
        );
    }

    #[test]
    fn fast_and_top_ports() {
        assert!(opts(&["-F"]).fast);
        assert!(!opts(&[]).fast);
        assert_eq!(opts(&["--top-ports", "100"]).top_ports, Some(100));
        assert_eq!(opts(&["--top-ports=100"]).top_ports, Some(100));
        assert_eq!(opts(&["-top-ports", "7"]).top_ports, Some(7));
        assert_eq!(opts(&["-top-ports=65535"]).top_ports, Some(65535));
        assert_eq!(
            fail(&["--top-ports", "0", "127.0.0.1"]),
            "invalid value '0' for '--top-ports': must be at least 1"
        );
        assert_eq!(
            fail(&["--top-ports", "ten", "127.0.0.1"]),
            "invalid value 'ten' for '--top-ports': expected a whole number"
        );
        assert_eq!(
            fail(&["--top-ports", "-5", "127.0.0.1"]),
            "invalid value '-5' for '--top-ports': expected a whole number"
        );
        assert_eq!(
            fail(&["127.0.0.1", "--top-ports"]),
            "option '--top-ports' needs a value"
        );
        assert_eq!(
            fail(&["--top-ports=", "127.0.0.1"]),
            "option '--top-ports' needs a value, not an empty string"
        );
    }

    #[test]
    fn target_options() {
        let o = opts(&["198.18.0.0/24", "fd00::1"]);
        assert_eq!(o.targets, ["198.18.0.0/24", "fd00::1", "127.0.0.1"]);
        let o = opts(&["--", "-odd-name"]);
        assert_eq!(o.targets, ["-odd-name", "127.0.0.1"]);

        match run(&["-iL", "targets.txt"]) {
            Ok(Command::Scan(o)) => {
                assert_eq!(o.input_list, Some(PathBuf::from("targets.txt")));
                assert!(o.targets.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(opts(&["-iL", "-"]).input_list, Some(PathBuf::from("-")));
        assert_eq!(opts(&["--iL=x"]).input_list, Some(PathBuf::from("x")));
        assert_eq!(
            opts(&["--exclude", "a,b", "-exclude=c"]).exclude,
            ["a,b", "c"]
        );
        assert_eq!(
            opts(&["--excludefile", "ex"]).exclude_file,
            Some(PathBuf::from("ex"))
        );
        assert_eq!(
            opts(&["-excludefile=ex2"]).exclude_file,
            Some(PathBuf::from("ex2"))
        );
        assert!(opts(&["-6"]).ipv6);
        assert!(opts(&["-n"]).no_dns);
        assert!(opts(&["-R"]).always_dns);
        assert!(opts(&["-Pn"]).no_ping);
        assert!(opts(&["-PN"]).no_ping);
        let o = opts(&[]);
        assert!(!o.ipv6 && !o.no_dns && !o.always_dns && !o.no_ping);
        assert_eq!(fail(&["-iL"]), "option '-iL' needs a value");
    }

    #[test]
    fn no_targets() {
        assert_eq!(fail(&[]), "no targets given (see vigie --help)");
        assert_eq!(
            fail(&["-sT", "-p", "22", "-n"]),
            "no targets given (see vigie --help)"
        );
        assert_eq!(
            fail(&["--exclude", "127.0.0.1"]),
            "no targets given (see vigie --help)"
        );
    }

    #[test]
    fn timing_templates() {
        for (i, name) in TEMPLATES.iter().enumerate() {
            assert_eq!(opts(&[&format!("-T{i}")]).timing, Some(i as u8));
            assert_eq!(opts(&["-T", &i.to_string()]).timing, Some(i as u8));
            assert_eq!(opts(&[&format!("-T{name}")]).timing, Some(i as u8));
        }
        assert_eq!(opts(&["-TAggressive"]).timing, Some(4));
        assert_eq!(opts(&["-T", "INSANE"]).timing, Some(5));
        assert_eq!(opts(&[]).timing, None);
        let msg = "expected 0 to 5 or paranoid|sneaky|polite|normal|aggressive|insane";
        assert_eq!(
            fail(&["-T9", "127.0.0.1"]),
            format!("invalid value '9' for '-T': {msg}")
        );
        assert_eq!(
            fail(&["-T6", "127.0.0.1"]),
            format!("invalid value '6' for '-T': {msg}")
        );
        assert_eq!(
            fail(&["-Tfast", "127.0.0.1"]),
            format!("invalid value 'fast' for '-T': {msg}")
        );
        assert_eq!(fail(&["127.0.0.1", "-T"]), "option '-T' needs a value");
    }

    #[test]
    fn rates() {
        let o = opts(&["--min-rate", "1000", "--max-rate=1e4"]);
        assert_eq!((o.min_rate, o.max_rate), (Some(1000.0), Some(10000.0)));
        assert_eq!(opts(&["--min-rate", "0.5"]).min_rate, Some(0.5));
        let o = opts(&["--min-rate", "50", "--max-rate", "50"]);
        assert_eq!((o.min_rate, o.max_rate), (Some(50.0), Some(50.0)));
        assert_eq!(
            fail(&["--max-rate", "0", "127.0.0.1"]),
            "invalid value '0' for '--max-rate': must be greater than 0"
        );
        assert_eq!(
            fail(&["--min-rate", "-3", "127.0.0.1"]),
            "invalid value '-3' for '--min-rate': must be greater than 0"
        );
        assert_eq!(
            fail(&["--min-rate", "inf", "127.0.0.1"]),
            "invalid value 'inf' for '--min-rate': expected a number of packets per second"
        );
        assert_eq!(
            fail(&["--max-rate", "fast", "127.0.0.1"]),
            "invalid value 'fast' for '--max-rate': expected a number of packets per second"
        );
        assert_eq!(
            fail(&["--min-rate", "2000", "--max-rate", "1000", "127.0.0.1"]),
            "--min-rate (2000) is greater than --max-rate (1000)"
        );
    }

    #[test]
    fn retries_and_seed() {
        assert_eq!(opts(&["--max-retries", "0"]).max_retries, Some(0));
        assert_eq!(opts(&["--max-retries=10"]).max_retries, Some(10));
        assert_eq!(
            fail(&["--max-retries", "-1", "127.0.0.1"]),
            "invalid value '-1' for '--max-retries': expected a whole number"
        );
        assert_eq!(
            opts(&["--seed", "18446744073709551615"]).seed,
            Some(u64::MAX)
        );
        assert_eq!(opts(&["-seed", "0"]).seed, Some(0));
        assert_eq!(
            fail(&["--seed", "18446744073709551616", "127.0.0.1"]),
            "invalid value '18446744073709551616' for '--seed': \
             expected a whole number from 0 to 18446744073709551615"
        );
    }

    #[test]
    fn time_options() {
        let o = opts(&[
            "--host-timeout",
            "2m",
            "--initial-rtt-timeout",
            "250ms",
            "--min-rtt-timeout=0.1",
            "-max-rtt-timeout",
            "3",
        ]);
        assert_eq!(o.host_timeout, Some(Duration::from_secs(120)));
        assert_eq!(o.initial_rtt_timeout, Some(Duration::from_millis(250)));
        assert_eq!(o.min_rtt_timeout, Some(Duration::from_millis(100)));
        assert_eq!(o.max_rtt_timeout, Some(Duration::from_secs(3)));
        assert_eq!(
            opts(&["--host-timeout", "0"]).host_timeout,
            Some(Duration::ZERO)
        );
        assert_eq!(
            fail(&["--max-rtt-timeout", "0ms", "127.0.0.1"]),
            "invalid value '0ms' for '--max-rtt-timeout': must be greater than 0"
        );
        assert_eq!(
            fail(&["--host-timeout", "10x", "127.0.0.1"]),
            "invalid value '10x' for '--host-timeout': invalid time '10x' (use e.g. 500ms, 30s, 5m, 2h)"
        );
        assert_eq!(
            fail(&[
                "--min-rtt-timeout",
                "2s",
                "--max-rtt-timeout",
                "1s",
                "127.0.0.1"
            ]),
            "--min-rtt-timeout (2s) is greater than --max-rtt-timeout (1s)"
        );
    }

    #[test]
    fn time_specs() {
        let ok = [
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("30", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("2h", Duration::from_secs(7200)),
            ("0", Duration::ZERO),
            ("1.5s", Duration::from_millis(1500)),
            ("0.3", Duration::from_millis(300)),
            (".5", Duration::from_millis(500)),
            ("5.", Duration::from_secs(5)),
            ("0.25h", Duration::from_secs(900)),
            ("1.5ms", Duration::from_micros(1500)),
            ("0.0000000019", Duration::from_nanos(1)),
            ("007s", Duration::from_secs(7)),
        ];
        for (s, d) in ok {
            assert_eq!(parse_time(s), Ok(d), "{s}");
        }
        for s in [
            "",
            ".",
            "s",
            "ms",
            "abc",
            "5x",
            "5 s",
            "-1",
            "+1",
            "1.2.3",
            "1e3",
            "5S",
            "5sec",
            "99999999999999999999999999999999999999999h",
        ] {
            assert_eq!(
                parse_time(s),
                Err(ArgError(format!(
                    "invalid time '{s}' (use e.g. 500ms, 30s, 5m, 2h)"
                ))),
                "{s}"
            );
        }
    }

    #[test]
    fn outputs() {
        let o = opts(&[
            "-oN", "n.txt", "-oXx.xml", "-oG-", "-oJ", "j.jsonl", "-oAbase",
        ]);
        assert_eq!(o.out_normal.as_deref(), Some("n.txt"));
        assert_eq!(o.out_xml.as_deref(), Some("x.xml"));
        assert_eq!(o.out_grep.as_deref(), Some("-"));
        assert_eq!(o.out_json.as_deref(), Some("j.jsonl"));
        assert_eq!(o.out_all.as_deref(), Some("base"));
        assert_eq!(opts(&["-oX", "-"]).out_xml.as_deref(), Some("-"));
        assert_eq!(fail(&["127.0.0.1", "-oX"]), "option '-oX' needs a value");
        assert_eq!(
            fail(&["-oZ", "f", "127.0.0.1"]),
            "unknown option '-oZ' (see vigie --help)"
        );
        assert!(opts(&["--reason"]).reason);
        assert!(opts(&["-reason"]).reason);
        assert!(opts(&["--open"]).open);
        assert!(opts(&["-open"]).open);
        assert_eq!(fail(&["--open=yes"]), "option '--open' takes no value");
        assert_eq!(
            opts(&["--servicedb", "s"]).servicedb,
            Some(PathBuf::from("s"))
        );
    }

    #[test]
    fn verbosity_levels() {
        let cases: [(&[&str], u8); 8] = [
            (&[], 0),
            (&["-v"], 1),
            (&["-vv"], 2),
            (&["-vvv"], 3),
            (&["-v3"], 3),
            (&["-v", "-v"], 2),
            (&["-vv", "-v2"], 4),
            (&["-v99999999999"], 255),
        ];
        for (args, level) in cases {
            assert_eq!(opts(args).verbose, level, "{args:?}");
        }
    }

    #[test]
    fn packet_trace_and_debug_levels() {
        assert!(!opts(&[]).packet_trace);
        assert!(opts(&["--packet-trace"]).packet_trace);
        assert!(opts(&["-packet-trace"]).packet_trace);
        let cases: [(&[&str], u8); 7] = [
            (&[], 0),
            (&["-d"], 1),
            (&["-dd"], 2),
            (&["-d2"], 2),
            (&["-d9"], 9),
            (&["-d", "-d"], 2),
            (&["-d", "-vv"], 1),
        ];
        for (args, level) in cases {
            assert_eq!(opts(args).debug, level, "{args:?}");
        }
    }

    #[test]
    fn help_and_version() {
        for h in ["-h", "--help", "-help"] {
            assert_eq!(run(&[h]), Ok(Command::Help(HELP.to_string())));
        }
        // Help needs no target and wins over the other options.
        assert_eq!(
            run(&["-sS", "-p", "22", "-h"]),
            Ok(Command::Help(HELP.to_string()))
        );
        let version = format!("vigie {}\n", env!("CARGO_PKG_VERSION"));
        for v in ["-V", "--version"] {
            assert_eq!(run(&[v]), Ok(Command::Version(version.clone())));
        }
        // Parse errors still come first.
        assert_eq!(
            fail(&["--bogus", "-h"]),
            "unknown option '--bogus' (see vigie --help)"
        );
    }

    #[test]
    fn help_lists_every_flag_and_safe_examples() {
        for flag in [
            "-iL",
            "--exclude ",
            "--excludefile",
            "-Pn",
            "-n:",
            "-R:",
            "-6:",
            "-p ",
            "-F:",
            "--top-ports",
            "--servicedb",
            "-sS",
            "-sT",
            "-sF / -sN / -sX",
            "-sA:",
            "-sW:",
            "-sM:",
            "--scanflags",
            "-T<0-5>",
            "--min-rate",
            "--max-rate",
            "--max-retries",
            "--host-timeout",
            "--initial-rtt-timeout",
            "--min-rtt-timeout",
            "--max-rtt-timeout",
            "-oN",
            "-oX",
            "-oG",
            "-oJ",
            "-oA",
            "-v:",
            "--reason",
            "--open",
            "--seed",
            "-h, --help",
            "-V, --version",
        ] {
            assert!(HELP.contains(flag), "HELP lacks {flag}");
        }
        for section in [
            "TARGET SPECIFICATION:",
            "PORT SPECIFICATION:",
            "SCAN TECHNIQUES:",
            "TIMING:",
            "OUTPUT:",
            "MISC:",
            "EXAMPLES:",
        ] {
            assert_eq!(
                HELP.lines().filter(|l| *l == section).count(),
                1,
                "{section}"
            );
        }
        let examples: Vec<&str> = HELP
            .lines()
            .skip_while(|l| *l != "EXAMPLES:")
            .filter(|l| l.trim_start().starts_with("vigie "))
            .collect();
        assert!(examples.len() >= 2);
        for ex in examples {
            let target = ex.split_whitespace().last().unwrap_or("");
            assert!(
                target == "127.0.0.1"
                    || target.starts_with("198.18.0.")
                    || target.starts_with("fd00:"),
                "unsafe example target in {ex}"
            );
            // Every example parses.
            let args: Vec<&str> = ex.split_whitespace().skip(1).collect();
            assert!(matches!(run(&args), Ok(Command::Scan(_))), "{ex}");
        }
    }

    #[test]
    fn args_line_quotes_what_needs_it() {
        let o = opts(&["-p", "22, 80", "", "-oN", "it's", "a\"b$\\"]);
        assert_eq!(
            o.args_line,
            r#"vigie -p "22, 80" "" -oN "it's" "a\"b\$\\" 127.0.0.1"#
        );
    }

    #[test]
    fn empty_exclude_is_an_error() {
        assert_eq!(
            fail(&["--exclude", "", "127.0.0.1"]),
            "option '--exclude' needs a value, not an empty string"
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_argument() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec![
            OsString::from("vigie"),
            OsString::from_vec(vec![b'1', 0xff]),
        ];
        assert_eq!(
            parse(args),
            Err(ArgError("argument 1\u{fffd} is not valid UTF-8".into()))
        );
    }

    #[test]
    fn error_display_is_the_line() {
        assert_eq!(ArgError("x y".into()).to_string(), "x y");
    }
}
