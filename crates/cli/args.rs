//! Command-line parsing with nmap's spelling, from one table.
//!
//! Every flag is one entry of [`SCAN`] (or of a subcommand's table): its
//! spellings, value, help text, section and how it updates the options.
//! The same table drives the parser ([`flags::Table::parse`]), `--help`
//! ([`HELP`], rendered at compile time), the man page and the shell
//! completions (`vigie --generate …`, in `generate.rs`). Checks that span
//! several flags run once the words are read ([`parse`]). Errors are one
//! line.

#[path = "evasion_args.rs"]
pub mod evasion_args;
#[path = "flags.rs"]
pub mod flags;
use evasion_args as ev;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use vigie_scan::Technique;
use vigie_wire::tcp::TcpFlags;

pub use flags::ArgError;
use flags::{render_help, Complete, Flag, Section, Spell, Table};

/// What the command line asks for.
// Built once per run; boxing the options would only add a pointer hop.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run a scan.
    Scan(Options),
    /// `--resume FILE`: finish the scan that file describes.
    Resume(PathBuf),
    /// Print this text (the help) and exit with success.
    Help(String),
    /// Print this text (the version) and exit with success.
    Version(String),
    /// `--generate`: print a man page or a completion script.
    Generate(Generate),
}

/// What `--generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generate {
    Man,
    Bash,
    Zsh,
    Fish,
    PowerShell,
}

impl Generate {
    /// Every kind, with its `--generate` word.
    pub const ALL: [(Generate, &'static str); 5] = [
        (Generate::Man, "man"),
        (Generate::Bash, "complete-bash"),
        (Generate::Zsh, "complete-zsh"),
        (Generate::Fish, "complete-fish"),
        (Generate::PowerShell, "complete-powershell"),
    ];
    /// The words of [`Generate::ALL`], for the completions.
    const WORDS: [&'static str; 5] = {
        let mut w = [""; 5];
        let mut i = 0;
        while i < w.len() {
            w[i] = Generate::ALL[i].1;
            i += 1;
        }
        w
    };
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
    /// `--shard i/N` (0 ≤ i < N).
    pub shard: Option<(u64, u64)>,
    /// `--rate R`: a fixed rate, packets per second.
    pub rate: Option<f64>,
    /// `--stats-every TIME`.
    pub stats_every: Option<Duration>,
    /// `--db URL`: the history store (else `VIGIE_DB`, else the default).
    pub db: Option<String>,
    /// `--no-history`: the scan is not recorded.
    pub no_history: bool,
    /// `-p SPEC`, unparsed (`-p-` gives `"-"`).
    pub ports: Option<String>,
    /// `-F`.
    pub fast: bool,
    /// `--top-ports N` (N ≥ 1).
    pub top_ports: Option<usize>,
    /// `--exclude-ports SPEC`, unparsed.
    pub exclude_ports: Option<String>,
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
    /// `-d` (1), `-dd` (2), `-d3` (3): the engine's decisions; add up.
    pub debug: u8,
    /// `--packet-trace`: a line per packet sent and received.
    pub packet_trace: bool,
    /// `--reason`.
    pub reason: bool,
    /// `--open`.
    pub open: bool,
    /// `--seed N`.
    pub seed: Option<u64>,
    /// `--servicedb FILE`.
    pub servicedb: Option<PathBuf>,
    /// `-sV` (or `-A`): service and version detection.
    pub version: bool,
    /// `--version-intensity N` (`--version-light` 2, `--version-all` 9).
    pub version_intensity: Option<u8>,
    /// `--versiondb FILE`: a probe file in nmap's grammar.
    pub versiondb: Option<PathBuf>,
    /// `--version-timeout TIME`: at most this long per port.
    pub version_timeout: Option<Duration>,
    /// `--version-trace`: a line per -sV probe, answer and result.
    pub version_trace: bool,
    /// `-S`, `-e`, `-g`, `--ttl`, `--data*`, `--badsum`, `-f`, `--mtu`,
    /// `-D`, `--spoof-mac`.
    pub evasion: ev::EvasionArgs,
    /// The arguments as typed, without the program name (what a resume
    /// file keeps).
    pub argv: Vec<String>,
    /// The command line as typed (program name first), for XML `args=`.
    pub args_line: String,
}

/// The options while the words are read: the scan's, and what only the
/// parse needs.
#[derive(Debug, Default)]
pub struct Cmd {
    pub o: Options,
    /// Every TCP scan type given (one is allowed).
    tcp: Vec<Technique>,
    help: bool,
    version: bool,
    generate: Option<Generate>,
    resume: Option<PathBuf>,
}

impl Cmd {
    fn pick(&mut self, t: Technique) -> Result<(), String> {
        if !self.tcp.contains(&t) {
            self.tcp.push(t);
        }
        Ok(())
    }
}

fn yes(flag: &mut bool) -> Result<(), String> {
    *flag = true;
    Ok(())
}

fn text(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn path(v: &str) -> Option<PathBuf> {
    Some(PathBuf::from(v))
}

/// A `-v` / `-d` level: counts add up, to 255 at most.
fn add_level(acc: &mut u8, v: &str) -> Result<(), String> {
    let n: u32 = v.parse().unwrap_or(u32::MAX);
    *acc = u8::try_from(u32::from(*acc).saturating_add(n)).unwrap_or(u8::MAX);
    Ok(())
}

// Sections of the scan's help, in order.
const TARGET: usize = 0;
const DISCOVERY: usize = 1;
const PORTS: usize = 2;
const TECHNIQUES: usize = 3;
const TIMING: usize = 4;
const OUTPUT: usize = 5;
const EVASION: usize = 6;
const MISC: usize = 7;
const NMAP: usize = 8;

/// The scan's help sections.
pub const SECTIONS: &[Section] = &[
    Section {
        title: "TARGET SPECIFICATION",
        intro: "Targets are addresses, names, networks and ranges, as in nmap:\n\
                127.0.0.1, 198.18.0.0/24, 198.18.0.1-20, 198.18.0-3.1-20, fd00::1, fd00::/120",
        outro: "Target sets larger than a /8 (2^24 addresses) need an --exclude or\n\
                --excludefile, so that a mistyped target cannot scan half the Internet.",
    },
    Section {
        title: "HOST DISCOVERY",
        intro: "",
        outro: "Default discovery (as root): ARP/ND on a local segment, otherwise ICMP\n\
                echo, SYN to 443, ACK to 80 and ICMP timestamp; without privilege:\n\
                connect to 80 and 443",
    },
    Section {
        title: "PORT SPECIFICATION",
        intro: "",
        outro: "",
    },
    Section {
        title: "SCAN TECHNIQUES",
        intro: "One TCP type per run; all but -sT need raw sockets (CAP_NET_RAW).",
        outro: "",
    },
    Section {
        title: "TIMING",
        intro: "Times are numbers of seconds or carry a unit: 500ms, 30s, 5m, 2h",
        outro: "",
    },
    Section {
        title: "OUTPUT",
        intro: "A file name of - means standard output.",
        outro: "While scanning, a progress bar is drawn on stderr when it is a terminal\n\
                (not when a report written to - goes to the same terminal); nothing is\n\
                written to a stderr that is not a terminal unless --stats-every is given",
    },
    Section {
        title: "FIREWALL/IDS EVASION AND SPOOFING",
        intro: "For raw scans and host discovery (not -sT); docs/usage.md says what\n\
                each puts on the wire and what a defender sees.",
        outro: "",
    },
    Section {
        title: "MISC",
        intro: "",
        outro: "vigie merge [-oX|-oJ|-oN|-oG <file>] <file>...: join the -oX (or -oJ)\n\
                outputs of shards into one report (vigie merge --help)\n\
                vigie history [show <id>]: the scans recorded (vigie history --help)\n\
                vigie diff [-v] [-oX|-oJ <file>] <a> <b>: what changed between two\n\
                scans, as ndiff prints it (vigie diff --help)",
    },
    Section {
        title: "NMAP OPTIONS NOT IN VIGIE YET",
        intro: "",
        outro: "",
    },
];

const HEAD: &str = "\
vigie: a port scanner spelled like nmap
Usage: vigie [scan type] [options] <targets>
";

const TAIL: &str = "
EXAMPLES:
  vigie -p 1-1024 127.0.0.1
  vigie -sS -T4 --top-ports 100 --reason -oX scan.xml 198.18.0.0/24
  vigie -6 -sT -p 22,80,443 fd00::1
";

use Spell::{Dash, Glued, Level, Long, Optional, Word};

/// A TCP scan type's flag (the technique owns its spelling).
const fn tcp_type(t: Technique, help: &'static str, apply: flags::Apply<Cmd>) -> Flag<Cmd> {
    Flag::switch(
        match t {
            Technique::Syn => const { &[Word(Technique::Syn.flag())] },
            Technique::Connect => const { &[Word(Technique::Connect.flag())] },
            Technique::Fin => const { &[Word(Technique::Fin.flag())] },
            Technique::Null => const { &[Word(Technique::Null.flag())] },
            Technique::Xmas => const { &[Word(Technique::Xmas.flag())] },
            Technique::Ack => const { &[Word(Technique::Ack.flag())] },
            Technique::Window => const { &[Word(Technique::Window.flag())] },
            Technique::Maimon => const { &[Word(Technique::Maimon.flag())] },
            Technique::Udp => const { &[Word(Technique::Udp.flag())] },
        },
        TECHNIQUES,
        help,
        apply,
    )
}

/// `-sV`.
const fn tcp_version() -> Flag<Cmd> {
    Flag::switch(
        &[Word("-sV")],
        TECHNIQUES,
        "service and version detection of the open TCP ports and\n\
         the open or open|filtered UDP ports (one that answers becomes\n\
         open): probes in nmap's order and grammar (vigie's own database,\n\
         or --versiondb), several at once per port, TLS on any port (its\n\
         certificate in -oJ)",
        |c, _| yes(&mut c.o.version),
    )
}

/// Every flag of a scan.
pub const SCAN: &[Flag<Cmd>] = &[
    // TARGET SPECIFICATION
    Flag::valued(
        &[Dash("-iL")],
        "file",
        Complete::File,
        TARGET,
        "read targets from a file, whitespace-separated (- for stdin)",
        |c, v| {
            c.o.input_list = path(v);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--exclude")],
        "host1[,host2,...]",
        Complete::Any,
        TARGET,
        "leave these hosts or networks out",
        |c, v| {
            c.o.exclude.push(v.to_string());
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--excludefile")],
        "file",
        Complete::File,
        TARGET,
        "leave out the hosts or networks listed in a file",
        |c, v| {
            c.o.exclude_file = path(v);
            Ok(())
        },
    ),
    Flag::switch(
        &[Word("-6")],
        TARGET,
        "scan IPv6 addresses (names resolve to their IPv6 address)",
        |c, _| yes(&mut c.o.ipv6),
    ),
    Flag::switch(
        &[Word("-n")],
        TARGET,
        "never do reverse DNS lookups",
        |c, _| yes(&mut c.o.no_dns),
    ),
    Flag::switch(
        &[Word("-R")],
        TARGET,
        "look up the names of every target, even the hosts that are down",
        |c, _| yes(&mut c.o.always_dns),
    ),
    // HOST DISCOVERY
    Flag::switch(
        &[Word("-Pn"), Word("-PN")],
        DISCOVERY,
        "skip host discovery, report every target as up (on a local\n\
         segment, an address that never answers ARP / ND is down, as in nmap)",
        |c, _| yes(&mut c.o.no_ping),
    ),
    Flag::switch(
        &[Word("-sn"), Word("-sP")],
        DISCOVERY,
        "host discovery only (a ping sweep), no port scan",
        |c, _| yes(&mut c.o.ping_only),
    ),
    Flag::switch(&[Word("-PE")], DISCOVERY, "ICMP echo ping", |c, _| {
        yes(&mut c.o.ping_echo)
    }),
    Flag::switch(
        &[Word("-PP")],
        DISCOVERY,
        "ICMP timestamp ping (IPv4)",
        |c, _| yes(&mut c.o.ping_timestamp),
    ),
    Flag::switch(
        &[Word("-PM")],
        DISCOVERY,
        "ICMP address mask ping (IPv4)",
        |c, _| yes(&mut c.o.ping_mask),
    ),
    Flag::valued(
        &[Optional("-PS")],
        "ports",
        Complete::Any,
        DISCOVERY,
        "TCP SYN ping to these ports (default 80)",
        |c, v| {
            c.o.ping_syn = text(if v.is_empty() { "80" } else { v });
            Ok(())
        },
    ),
    Flag::valued(
        &[Optional("-PA")],
        "ports",
        Complete::Any,
        DISCOVERY,
        "TCP ACK ping to these ports (default 80)",
        |c, v| {
            c.o.ping_ack = text(if v.is_empty() { "80" } else { v });
            Ok(())
        },
    ),
    Flag::valued(
        &[Optional("-PU")],
        "ports",
        Complete::Any,
        DISCOVERY,
        "UDP ping to these ports (default 40125)",
        |c, v| {
            c.o.ping_udp = text(if v.is_empty() { "40125" } else { v });
            Ok(())
        },
    ),
    Flag::switch(
        &[Word("-PR")],
        DISCOVERY,
        "ARP ping (IPv4) / neighbour solicitation (IPv6), for targets on a\n\
         local segment",
        |c, _| yes(&mut c.o.ping_arp),
    ),
    Flag::switch(
        &[Long("--disable-arp-ping")],
        DISCOVERY,
        "no ARP / ND, even for targets on a local segment",
        |c, _| yes(&mut c.o.disable_arp_ping),
    ),
    Flag::switch(
        &[Long("--send-ip")],
        DISCOVERY,
        "send at the IP layer: the kernel routes and resolves\n\
         neighbours (by default vigie asks ARP / ND itself for targets on a\n\
         local segment, also under -Pn, and calls the silent ones down)",
        |c, _| yes(&mut c.o.send_ip),
    ),
    // PORT SPECIFICATION
    Flag::valued(
        &[Glued("-p")],
        "ports",
        Complete::Any,
        PORTS,
        "ports to scan, e.g. -p22, -p 1-1024, -p 22,80,443, -p- (all),\n\
         -p T:80,U:53 (TCP and UDP)",
        |c, v| {
            c.o.ports = text(v);
            Ok(())
        },
    ),
    Flag::switch(
        &[Word("-F")],
        PORTS,
        "fast mode, the 100 most common ports",
        |c, _| yes(&mut c.o.fast),
    ),
    Flag::valued(
        &[Long("--top-ports")],
        "n",
        Complete::Any,
        PORTS,
        "the n most common ports (default: the top 1000)",
        |c, v| {
            c.o.top_ports = Some(parse_top_ports(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--exclude-ports")],
        "ports",
        Complete::Any,
        PORTS,
        "leave these ports out (-p syntax: 25,135-139,U:53)",
        |c, v| {
            c.o.exclude_ports = text(v);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--servicedb")],
        "file",
        Complete::File,
        PORTS,
        "read port names and frequencies from this nmap-services\n\
         file",
        |c, v| {
            c.o.servicedb = path(v);
            Ok(())
        },
    ),
    // SCAN TECHNIQUES
    tcp_type(
        Technique::Syn,
        "TCP SYN scan (the default with raw-socket privilege). SYN-ACK: open;\n\
         RST: closed; ICMP unreachable or silence: filtered.",
        |c, _| c.pick(Technique::Syn),
    ),
    tcp_type(
        Technique::Connect,
        "TCP connect scan (the default without that privilege). Connected:\n\
         open; refused: closed; timeout or unreachable: filtered.",
        |c, _| c.pick(Technique::Connect),
    ),
    tcp_type(
        Technique::Fin,
        "FIN scan. RST: closed; ICMP unreachable: filtered; silence:\n\
         open|filtered. FIN, NULL and Xmas scans cannot tell open from filtered,\n\
         and hosts that answer every such probe with RST (Windows, many\n\
         firewalls) make every port look closed.",
        |c, _| c.pick(Technique::Fin),
    ),
    tcp_type(
        Technique::Null,
        "NULL scan (no flags), read as -sF",
        |c, _| c.pick(Technique::Null),
    ),
    tcp_type(
        Technique::Xmas,
        "Xmas scan (FIN|PSH|URG), read as -sF",
        |c, _| c.pick(Technique::Xmas),
    ),
    tcp_type(
        Technique::Ack,
        "ACK scan, maps firewall rules. RST: unfiltered (open or closed, it\n\
         cannot say which); ICMP unreachable or silence: filtered.",
        |c, _| c.pick(Technique::Ack),
    ),
    tcp_type(
        Technique::Window,
        "Window scan: like -sA, but reads the RST's window: non-zero: open,\n\
         zero: closed. Only some systems differ; Linux gives 0 (closed) always.",
        |c, _| c.pick(Technique::Window),
    ),
    tcp_type(
        Technique::Maimon,
        "Maimon scan (FIN|ACK). RST: closed; silence: open|filtered. Most\n\
         systems (Linux included) answer RST from open ports too.",
        |c, _| c.pick(Technique::Maimon),
    ),
    Flag::valued(
        &[Long("--scanflags")],
        "flags",
        Complete::Any,
        TECHNIQUES,
        "send these TCP flags instead (names run together,\n\
         e.g. SYNFIN, URGPSHFIN, or a number 0-511); replies are read as the\n\
         scan type says (-sF, -sA, ...; SYN by default)",
        |c, v| {
            c.o.scanflags = Some(parse_scanflags(v)?);
            Ok(())
        },
    ),
    tcp_type(
        Technique::Udp,
        "UDP scan, alone or next to one TCP type (-p T:...,U:...). Services\n\
         that ignore an empty datagram get a real request (DNS, NTP, SNMP,\n\
         NetBIOS, SSDP, RPC, IKE, TFTP, memcached, SIP, mDNS). UDP reply: open;\n\
         ICMP port unreachable: closed; other unreachables: filtered; silence\n\
         while the target could still send ICMP errors: open|filtered. Exact\n\
         under ICMP rate limiting (about 1 closed port per second on Linux);\n\
         open ports are printed as found; progress on stderr on a terminal.",
        |c, _| yes(&mut c.o.udp),
    ),
    tcp_version(),
    Flag::switch(
        &[Word("-A")],
        TECHNIQUES,
        "aggressive: turns on -sV (nmap's -A also runs OS detection,\n\
         scripts and traceroute, which vigie does not have yet)",
        |c, _| yes(&mut c.o.version),
    ),
    Flag::valued(
        &[Long("--version-intensity")],
        "0-9",
        Complete::Words(&["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]),
        TECHNIQUES,
        "how many probes -sV tries: those of rarity up to n\n\
         (default 7), the ones whose ports name the port always",
        |c, v| {
            c.o.version_intensity = Some(match v.parse::<u8>() {
                Ok(n) if n <= 9 => n,
                _ => return Err("expected 0 to 9".into()),
            });
            Ok(())
        },
    ),
    Flag::switch(
        &[Long("--version-light")],
        TECHNIQUES,
        "-sV at intensity 2",
        |c, _| {
            c.o.version_intensity = Some(2);
            Ok(())
        },
    ),
    Flag::switch(
        &[Long("--version-all")],
        TECHNIQUES,
        "-sV at intensity 9 (every probe)",
        |c, _| {
            c.o.version_intensity = Some(9);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--versiondb")],
        "file",
        Complete::File,
        TECHNIQUES,
        "probes and patterns from this file (nmap's grammar,\n\
         e.g. an nmap-service-probes) instead of vigie's own",
        |c, v| {
            c.o.versiondb = path(v);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--version-timeout")],
        "time",
        Complete::Any,
        TECHNIQUES,
        "give up on a port's service after this long\n\
         (default 30s)",
        |c, v| {
            c.o.version_timeout = Some(positive_time(v)?);
            Ok(())
        },
    ),
    Flag::switch(
        &[Long("--version-trace")],
        TECHNIQUES,
        "a line per -sV probe sent, per answer and per port's\n\
         result (stdout, or stderr when a report goes to -)",
        |c, _| yes(&mut c.o.version_trace),
    ),
    // TIMING
    Flag::valued(
        &[Glued("-T")],
        "0-5",
        Complete::Words(&[
            "0",
            "1",
            "2",
            "3",
            "4",
            "5",
            "paranoid",
            "sneaky",
            "polite",
            "normal",
            "aggressive",
            "insane",
        ]),
        TIMING,
        "timing template, higher is faster; or by name: paranoid,\n\
         sneaky, polite, normal, aggressive, insane",
        |c, v| {
            c.o.timing = Some(parse_timing(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--min-rate")],
        "n",
        Complete::Any,
        TIMING,
        "send at least n packets per second",
        |c, v| {
            c.o.min_rate = Some(parse_rate(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--max-rate")],
        "n",
        Complete::Any,
        TIMING,
        "send at most n packets per second",
        |c, v| {
            c.o.max_rate = Some(parse_rate(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--rate")],
        "n",
        Complete::Any,
        TIMING,
        "send exactly n packets per second",
        |c, v| {
            c.o.rate = Some(parse_rate(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--max-retries")],
        "n",
        Complete::Any,
        TIMING,
        "resend an unanswered probe at most n times",
        |c, v| {
            c.o.max_retries = Some(parse_count(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--host-timeout")],
        "time",
        Complete::Any,
        TIMING,
        "give up on a host after this long",
        |c, v| {
            c.o.host_timeout = Some(parse_time(v).map_err(|e| e.0)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--initial-rtt-timeout")],
        "time",
        Complete::Any,
        TIMING,
        "the probe timeout to start with",
        |c, v| {
            c.o.initial_rtt_timeout = Some(positive_time(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--min-rtt-timeout")],
        "time",
        Complete::Any,
        TIMING,
        "never wait less than this for a reply",
        |c, v| {
            c.o.min_rtt_timeout = Some(positive_time(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--max-rtt-timeout")],
        "time",
        Complete::Any,
        TIMING,
        "never wait more than this for a reply",
        |c, v| {
            c.o.max_rtt_timeout = Some(positive_time(v)?);
            Ok(())
        },
    ),
    // OUTPUT
    Flag::valued(
        &[Glued("-oN")],
        "file",
        Complete::File,
        OUTPUT,
        "normal output, the table printed on the terminal",
        |c, v| {
            c.o.out_normal = text(v);
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-oX")],
        "file",
        Complete::File,
        OUTPUT,
        "XML output, in nmap's format",
        |c, v| {
            c.o.out_xml = text(v);
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-oG")],
        "file",
        Complete::File,
        OUTPUT,
        "grepable output, one line per host",
        |c, v| {
            c.o.out_grep = text(v);
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-oJ")],
        "file",
        Complete::File,
        OUTPUT,
        "JSON Lines, one object per line",
        |c, v| {
            c.o.out_json = text(v);
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-oA")],
        "base",
        Complete::File,
        OUTPUT,
        "normal, XML and grepable at once, in <base>.nmap, <base>.xml\n\
         and <base>.gnmap",
        |c, v| {
            c.o.out_all = text(v);
            Ok(())
        },
    ),
    Flag::valued(
        &[Level("-v")],
        "level",
        Complete::Any,
        OUTPUT,
        "more output (-vv or -v2 for even more)",
        |c, v| add_level(&mut c.o.verbose, v),
    ),
    Flag::switch(
        &[Long("--reason")],
        OUTPUT,
        "show why each port is in its state",
        |c, _| yes(&mut c.o.reason),
    ),
    Flag::switch(
        &[Long("--open")],
        OUTPUT,
        "show only the open (and possibly open) ports",
        |c, _| yes(&mut c.o.open),
    ),
    Flag::switch(
        &[Long("--packet-trace")],
        OUTPUT,
        "a line for every packet sent and received (SENT,\n\
         RCVD; CONN for connect scans), on stdout (stderr when a report goes to -)",
        |c, _| yes(&mut c.o.packet_trace),
    ),
    Flag::valued(
        &[Level("-d")],
        "level",
        Complete::Any,
        OUTPUT,
        "debugging output: the engine's decisions (host blocks, timeouts,\n\
         rate changes, retransmission rounds); -dd or -d2 for more",
        |c, v| add_level(&mut c.o.debug, v),
    ),
    Flag::valued(
        &[Long("--stats-every")],
        "time",
        Complete::Any,
        OUTPUT,
        "a progress line on stderr every <time> (e.g. 10s):\n\
         phase, % done, probes done/total, packets sent, rate, open, ETC",
        |c, v| {
            c.o.stats_every = Some(positive_time(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--db")],
        "url",
        Complete::Any,
        OUTPUT,
        "record the scan in this history store: sqlite:PATH or\n\
         postgres://user@host:port/db (default: $VIGIE_DB, else\n\
         sqlite:$XDG_DATA_HOME/vigie/history.db)",
        |c, v| {
            c.o.db = Some(v.to_string());
            Ok(())
        },
    ),
    Flag::switch(
        &[Long("--no-history")],
        OUTPUT,
        "do not record the scan in the history store",
        |c, _| yes(&mut c.o.no_history),
    ),
    // EVASION
    Flag::valued(
        &[Glued("-S")],
        "address",
        Complete::Any,
        EVASION,
        "the probes' source address (of its family); replies come back\n\
         only if it is one of this host's addresses",
        |c, v| {
            c.o.evasion.source = Some(ev::parse_address(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-e")],
        "interface",
        Complete::Any,
        EVASION,
        "send on this interface (its address is the source unless -S)",
        |c, v| {
            c.o.evasion.iface = Some(ev::parse_iface(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-g"), Long("--source-port")],
        "port",
        Complete::Any,
        EVASION,
        "one source port for every probe (replies\n\
         are then told apart by the sequence number alone)",
        |c, v| {
            c.o.evasion.source_port = Some(ev::parse_port(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--ttl")],
        "n",
        Complete::Any,
        EVASION,
        "the probes' IPv4 TTL / IPv6 hop limit",
        |c, v| {
            c.o.evasion.ttl = Some(ev::parse_ttl(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--data")],
        "hex",
        Complete::Any,
        EVASION,
        "this payload on every probe (e.g. 0xdeadbeef); it replaces\n\
         the UDP probes' own payloads",
        |c, v| c.o.evasion.set_data("--data", ev::parse_hex(v)?),
    ),
    Flag::valued(
        &[Long("--data-string")],
        "text",
        Complete::Any,
        EVASION,
        "this text as the payload of every probe",
        |c, v| c.o.evasion.set_data("--data-string", ev::parse_string(v)?),
    ),
    Flag::valued(
        &[Long("--data-length")],
        "n",
        Complete::Any,
        EVASION,
        "n random bytes (at most 1400) as the payload of every probe",
        |c, v| {
            c.o.evasion
                .set_data("--data-length", ev::parse_data_length(v)?)
        },
    ),
    Flag::switch(
        &[Long("--badsum")],
        EVASION,
        "a wrong TCP / UDP checksum on every probe (hosts drop them;\n\
         a reply comes from a box that does not check)",
        |c, _| yes(&mut c.o.evasion.badsum),
    ),
    Flag::switch(
        &[Word("-f")],
        EVASION,
        "fragment the probes: 8 bytes of IP payload per fragment\n\
         (-f -f or -ff: 16); IPv6 uses the Fragment header",
        |c, _| {
            c.o.evasion.frag = c.o.evasion.frag.saturating_add(1);
            Ok(())
        },
    ),
    Flag::switch(&[Word("-ff")], EVASION, "fragments of 16 bytes", |c, _| {
        c.o.evasion.frag = c.o.evasion.frag.saturating_add(2);
        Ok(())
    }),
    Flag::valued(
        &[Long("--mtu")],
        "n",
        Complete::Any,
        EVASION,
        "fragments of n bytes of payload (a multiple of 8)",
        |c, v| {
            c.o.evasion.mtu = Some(ev::parse_mtu(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-D")],
        "decoys",
        Complete::Any,
        EVASION,
        "send each probe from these addresses too: decoy1,decoy2,ME,\n\
         RND:n (n random addresses); ME is where our own probe goes (else\n\
         at random). Only our own replies count",
        |c, v| {
            c.o.evasion.decoys = ev::parse_decoys(v)?;
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--spoof-mac")],
        "mac",
        Complete::Any,
        EVASION,
        "the probes' Ethernet source address: a MAC (or its first\n\
         bytes), 0 for a random one, or a vendor (Apple, Cisco, Dell, ...)",
        |c, v| {
            c.o.evasion.spoof_mac = Some(ev::parse_mac(v)?);
            Ok(())
        },
    ),
    // MISC
    Flag::valued(
        &[Long("--seed")],
        "n",
        Complete::Any,
        MISC,
        "the seed of the scan order (the same seed, the same order)",
        |c, v| {
            c.o.seed = Some(parse_seed(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--shard")],
        "i/N",
        Complete::Any,
        MISC,
        "scan only part i (0 to N-1) of N; needs --seed. The parts\n\
         of one seed are disjoint and together make the whole scan",
        |c, v| {
            c.o.shard = Some(parse_shard(v)?);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--resume")],
        "file",
        Complete::File,
        MISC,
        "finish a scan interrupted by Ctrl-C or SIGTERM (which\n\
         writes vigie-resume.json in the current directory); give it alone",
        |c, v| {
            c.resume = path(v);
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--generate")],
        "kind",
        Complete::Words(&Generate::WORDS),
        MISC,
        "print a man page (man) or a shell completion script\n\
         (complete-bash, complete-zsh, complete-fish, complete-powershell)",
        |c, v| {
            let g = Generate::ALL.iter().find(|(_, w)| *w == v).ok_or(
                "expected man, complete-bash, complete-zsh, complete-fish or complete-powershell",
            )?;
            c.generate = Some(g.0);
            Ok(())
        },
    ),
    Flag::switch(
        &[Word("-h"), Long("--help")],
        MISC,
        "print this help",
        |c, _| yes(&mut c.help),
    ),
    Flag::switch(
        &[Word("-V"), Long("--version")],
        MISC,
        "print the version",
        |c, _| yes(&mut c.version),
    ),
    // Test knobs.
    Flag::<Cmd>::valued(
        &[Long("--block-probes")],
        "n",
        Complete::Any,
        MISC,
        "probes per host block",
        |c, v| {
            c.o.block_probes = Some(parse_block_probes(v)?);
            Ok(())
        },
    )
    .hidden(),
    Flag::<Cmd>::valued(
        &[Long("--tx-threads")],
        "n",
        Complete::Any,
        MISC,
        "transmit threads (1 or 2)",
        |c, v| {
            c.o.tx_threads = Some(parse_tx_threads(v)?);
            Ok(())
        },
    )
    .hidden(),
    // nmap's options that vigie does not have yet.
    Flag::pending(&[Word("-O")], None, NMAP, "OS detection"),
    Flag::pending(&[Word("-sC")], None, NMAP, "the default scripts"),
    Flag::pending(&[Long("--script")], Some("scripts"), NMAP, "NSE scripts"),
    Flag::pending(
        &[Long("--script-args")],
        Some("args"),
        NMAP,
        "NSE script arguments",
    ),
    Flag::pending(&[Word("-sL")], None, NMAP, "list scan"),
    Flag::pending(&[Word("-sO")], None, NMAP, "IP protocol scan"),
    Flag::pending(&[Word("-sY")], None, NMAP, "SCTP INIT scan"),
    Flag::pending(&[Glued("-sI")], Some("zombie"), NMAP, "idle scan"),
    Flag::pending(&[Glued("-b")], Some("relay"), NMAP, "FTP bounce scan"),
    Flag::pending(&[Optional("-PY")], Some("ports"), NMAP, "SCTP INIT ping"),
    Flag::pending(
        &[Optional("-PO")],
        Some("protocols"),
        NMAP,
        "IP protocol ping",
    ),
    Flag::pending(&[Long("--traceroute")], None, NMAP, "traceroute"),
    Flag::pending(
        &[Long("--dns-servers")],
        Some("servers"),
        NMAP,
        "reverse DNS through these servers",
    ),
    Flag::pending(
        &[Long("--system-dns")],
        None,
        NMAP,
        "the system's resolver for reverse DNS",
    ),
    Flag::pending(
        &[Long("--ip-options")],
        Some("options"),
        NMAP,
        "IP options on the probes",
    ),
    Flag::pending(
        &[Long("--proxies")],
        Some("urls"),
        NMAP,
        "connections through proxies",
    ),
    Flag::pending(
        &[Long("--scan-delay")],
        Some("time"),
        NMAP,
        "a delay between probes",
    ),
    Flag::pending(
        &[Long("--max-scan-delay")],
        Some("time"),
        NMAP,
        "a delay between probes",
    ),
    Flag::pending(
        &[Long("--min-hostgroup")],
        Some("n"),
        NMAP,
        "host group sizes",
    ),
    Flag::pending(
        &[Long("--max-hostgroup")],
        Some("n"),
        NMAP,
        "host group sizes",
    ),
    Flag::pending(
        &[Long("--min-parallelism")],
        Some("n"),
        NMAP,
        "probe parallelism",
    ),
    Flag::pending(
        &[Long("--max-parallelism")],
        Some("n"),
        NMAP,
        "probe parallelism",
    ),
    Flag::pending(
        &[Long("--defeat-rst-ratelimit")],
        None,
        NMAP,
        "ignoring RST rate limits",
    ),
    Flag::pending(&[Dash("-iR")], Some("n"), NMAP, "random targets"),
    Flag::pending(&[Word("-r")], None, NMAP, "ports in order"),
    Flag::pending(
        &[Long("--port-ratio")],
        Some("ratio"),
        NMAP,
        "ports by frequency",
    ),
    Flag::pending(&[Glued("-oS")], Some("file"), NMAP, "script kiddie output"),
    Flag::pending(
        &[Long("--append-output")],
        None,
        NMAP,
        "appending to output files",
    ),
    Flag::pending(
        &[Long("--iflist")],
        None,
        NMAP,
        "the interface and route list",
    ),
    Flag::pending(&[Long("--privileged")], None, NMAP, "assuming privileges"),
    Flag::pending(
        &[Long("--unprivileged")],
        None,
        NMAP,
        "assuming no privileges",
    ),
    Flag::pending(
        &[Long("--datadir")],
        Some("dir"),
        NMAP,
        "nmap's data directory",
    ),
    Flag::pending(
        &[Long("--stylesheet")],
        Some("path"),
        NMAP,
        "an XSL stylesheet",
    ),
    Flag::pending(&[Long("--webxml")], None, NMAP, "an XSL stylesheet"),
    Flag::pending(&[Long("--no-stylesheet")], None, NMAP, "an XSL stylesheet"),
];

/// The scan's flags as a table.
pub const TABLE: Table<Cmd> = Table {
    flags: SCAN,
    sections: SECTIONS,
    command: "vigie",
};

const HELP_LEN: usize = render_help(SCAN, SECTIONS, HEAD, TAIL, &mut []);
const HELP_BYTES: [u8; HELP_LEN] = {
    let mut b = [0u8; HELP_LEN];
    render_help(SCAN, SECTIONS, HEAD, TAIL, &mut b);
    b
};

/// The help text (`-h`, `--help`), rendered from [`SCAN`] when vigie is
/// built.
pub const HELP: &str = match std::str::from_utf8(&HELP_BYTES) {
    Ok(s) => s,
    Err(_) => panic!("the help text is not UTF-8"),
};

/// A help text rendered at run time (subcommands).
pub fn render<O>(table: &Table<O>, head: &str, tail: &str) -> String {
    let len = render_help(table.flags, table.sections, head, tail, &mut []);
    let mut b = vec![0u8; len];
    render_help(table.flags, table.sections, head, tail, &mut b);
    String::from_utf8(b).unwrap_or_default()
}

/// nmap's `--scanflags`: flag names run together in any order
/// (`SYNFIN`, `urgpshfin`), or a number 0-511 (decimal or 0x hex).
pub fn parse_scanflags(s: &str) -> Result<u16, String> {
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
    TcpFlags::from_names(s).map(|f| f.0).ok_or_else(bad)
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

fn positive_time(s: &str) -> Result<Duration, String> {
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

/// The arguments as UTF-8 strings.
pub fn utf8_args(args: Vec<OsString>) -> Result<Vec<String>, ArgError> {
    args.into_iter()
        .map(|a| {
            a.into_string().map_err(|a| {
                ArgError(format!(
                    "argument {} is not valid UTF-8",
                    a.to_string_lossy()
                ))
            })
        })
        .collect()
}

/// Parses a command line; `args[0]` is the program name.
#[cfg(test)]
pub fn parse(args: Vec<OsString>) -> Result<Command, ArgError> {
    let words = utf8_args(args)?;
    parse_words(&words)
}

/// [`parse`] of words already read.
pub fn parse_words(words: &[String]) -> Result<Command, ArgError> {
    let rest = words.get(1..).unwrap_or(&[]);
    let mut c = Cmd::default();
    let seen = TABLE.parse(rest, &mut c, &mut |c, t| c.o.targets.push(t.to_string()))?;
    if c.help {
        return Ok(Command::Help(HELP.to_string()));
    }
    if c.version {
        return Ok(Command::Version(format!(
            "vigie {}\n",
            env!("CARGO_PKG_VERSION")
        )));
    }
    if let Some(g) = c.generate {
        return Ok(Command::Generate(g));
    }
    if let Some(file) = c.resume {
        if seen.flags.len() > 1 || !c.o.targets.is_empty() {
            return Err(ArgError(
                "--resume takes no other option or target: the scan's own are in the file".into(),
            ));
        }
        return Ok(Command::Resume(file));
    }
    let mut o = c.o;
    let mut tcp = c.tcp;
    tcp.sort_by_key(|t| Technique::ALL.iter().position(|a| a == t));
    o.technique = match tcp.as_slice() {
        [] => None,
        [t] => Some(*t),
        many => {
            let flags: Vec<&str> = many.iter().map(|t| t.flag()).collect();
            return Err(ArgError(format!(
                "only one TCP scan type at a time ({} given); one TCP type may be combined with -sU",
                flags.join(", ")
            )));
        }
    };
    check(&o)?;
    o.argv = rest.to_vec();
    o.args_line = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
    Ok(Command::Scan(o))
}

/// Checks that span several flags.
fn check(o: &Options) -> Result<(), ArgError> {
    let err = |m: String| Err(ArgError(m));
    if o.scanflags.is_some() && o.technique == Some(Technique::Connect) {
        return err(
            "--scanflags needs a raw TCP scan type; -sT lets the kernel choose the flags".into(),
        );
    }
    if o.scanflags.is_some() && o.technique.is_none() && o.udp {
        return err(
            "--scanflags changes TCP probes; add a TCP scan type (e.g. -sS) next to -sU".into(),
        );
    }
    if o.ping_only && (o.technique.is_some() || o.udp) {
        return err("-sn (host discovery only) cannot be combined with a port scan type".into());
    }
    if o.rate.is_some() && (o.min_rate.is_some() || o.max_rate.is_some()) {
        return err(
            "--rate sets a fixed rate; it cannot be combined with --min-rate or --max-rate".into(),
        );
    }
    if let (Some(lo), Some(hi)) = (o.min_rate, o.max_rate) {
        if lo > hi {
            return err(format!(
                "--min-rate ({lo}) is greater than --max-rate ({hi})"
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (o.min_rtt_timeout, o.max_rtt_timeout) {
        if lo > hi {
            return err(format!(
                "--min-rtt-timeout ({lo:?}) is greater than --max-rtt-timeout ({hi:?})"
            ));
        }
    }
    if o.targets.is_empty() && o.input_list.is_none() {
        return err("no targets given (see vigie --help)".into());
    }
    if let Some(f) = o.evasion.raw_only() {
        if o.technique == Some(Technique::Connect) {
            return err(format!(
                "{f} applies to raw probes; -sT connects through the kernel (use -sS or another raw type)"
            ));
        }
    }
    if o.db.is_some() && o.no_history {
        return err("--db names where to record the scan; --no-history says not to".into());
    }
    Ok(())
}

// ---- vigie merge ----

/// An output of `vigie merge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeOut {
    Xml,
    Json,
    Normal,
    Grep,
}

/// `vigie merge`'s options.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MergeOptions {
    /// The outputs asked for (kind, path), in order.
    pub outs: Vec<(MergeOut, String)>,
    /// The input files.
    pub files: Vec<String>,
    pub help: bool,
}

fn merge_out(o: &mut MergeOptions, kind: MergeOut, path: &str) -> Result<(), String> {
    o.outs.push((kind, path.to_string()));
    Ok(())
}

/// `vigie merge`'s sections.
pub const MERGE_SECTIONS: &[Section] = &[Section {
    title: "OUTPUT",
    intro: "Without an output option the report goes to stdout in the inputs' format;\n\
            a file name of - means standard output.",
    outro: "",
}];

/// `vigie merge`'s flags.
pub const MERGE: &[Flag<MergeOptions>] = &[
    Flag::valued(
        &[Glued("-oX")],
        "file",
        Complete::File,
        0,
        "XML output",
        |o, v| merge_out(o, MergeOut::Xml, v),
    ),
    Flag::valued(
        &[Glued("-oJ")],
        "file",
        Complete::File,
        0,
        "JSON Lines output",
        |o, v| merge_out(o, MergeOut::Json, v),
    ),
    Flag::valued(
        &[Glued("-oN")],
        "file",
        Complete::File,
        0,
        "normal output",
        |o, v| merge_out(o, MergeOut::Normal, v),
    ),
    Flag::valued(
        &[Glued("-oG")],
        "file",
        Complete::File,
        0,
        "grepable output",
        |o, v| merge_out(o, MergeOut::Grep, v),
    ),
    Flag::switch(
        &[Word("-h"), Long("--help")],
        0,
        "print this help",
        |o, _| yes(&mut o.help),
    ),
];

/// `vigie merge`'s table.
pub const MERGE_TABLE: Table<MergeOptions> = Table {
    flags: MERGE,
    sections: MERGE_SECTIONS,
    command: "vigie merge",
};

/// The usage line of `vigie merge`.
pub const MERGE_USAGE: &str =
    "usage: vigie merge [-oX|-oJ|-oN|-oG FILE]... FILE... (the -oX or -oJ outputs of the shards)";

/// `vigie merge --help`.
pub fn merge_help() -> String {
    render(
        &MERGE_TABLE,
        "vigie merge: join the -oX or -oJ outputs of a scan's shards into one report\n\
         Usage: vigie merge [-oX|-oJ|-oN|-oG <file>]... <file>...\n",
        "",
    )
}

/// Parses `vigie merge`'s arguments (after the word `merge`).
pub fn parse_merge(args: &[String]) -> Result<MergeOptions, ArgError> {
    let mut o = MergeOptions::default();
    MERGE_TABLE.parse(args, &mut o, &mut |o, f| o.files.push(f.to_string()))?;
    if o.files.is_empty() && !o.help {
        return Err(ArgError(MERGE_USAGE.into()));
    }
    Ok(o)
}

// ---- vigie diff ----

/// `vigie diff`'s options.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DiffOptions {
    /// `-v`: unchanged hosts and ports too.
    pub verbose: bool,
    /// `-oX FILE`: ndiff's XML (`-`: stdout instead of the text).
    pub xml: Option<String>,
    /// `-oJ FILE`: JSON Lines (`-`: stdout instead of the text).
    pub json: Option<String>,
    /// `--db URL`: the store stored scans come from.
    pub db: Option<String>,
    /// The scans: none, one or two words (files or stored scan ids).
    pub inputs: Vec<String>,
    pub help: bool,
}

/// `vigie diff`'s sections.
pub const DIFF_SECTIONS: &[Section] = &[Section {
    title: "OUTPUT",
    intro: "The changes go to stdout as ndiff's text, unless -oX or -oJ names -.\n\
            Exit status: 0 nothing differs, 1 something does, 2 an error.",
    outro: "A and B are files (vigie's -oX or -oJ, nmap's -oX) or ids of scans in the\n\
            history (vigie history). With B left out, A is compared with the newest\n\
            complete scan of the same targets; with neither, the last two.",
}];

/// `vigie diff`'s flags.
pub const DIFF: &[Flag<DiffOptions>] = &[
    Flag::switch(
        &[Word("-v")],
        0,
        "also list the hosts and ports that did not change",
        |o, _| yes(&mut o.verbose),
    ),
    Flag::valued(
        &[Glued("-oX")],
        "file",
        Complete::File,
        0,
        "also write the changes as ndiff's XML (<nmapdiff>)",
        |o, v| {
            o.xml = Some(v.to_string());
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-oJ")],
        "file",
        Complete::File,
        0,
        "also write the changes as JSON Lines, one per change",
        |o, v| {
            o.json = Some(v.to_string());
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--db")],
        "url",
        Complete::Any,
        0,
        "the history store of scan ids (default: $VIGIE_DB, else\n\
         sqlite:$XDG_DATA_HOME/vigie/history.db)",
        |o, v| {
            o.db = Some(v.to_string());
            Ok(())
        },
    ),
    Flag::switch(
        &[Word("-h"), Long("--help")],
        0,
        "print this help",
        |o, _| yes(&mut o.help),
    ),
];

/// `vigie diff`'s table.
pub const DIFF_TABLE: Table<DiffOptions> = Table {
    flags: DIFF,
    sections: DIFF_SECTIONS,
    command: "vigie diff",
};

/// The usage line of `vigie diff`.
pub const DIFF_USAGE: &str =
    "usage: vigie diff [-v] [-oX FILE] [-oJ FILE] [--db URL] [A [B]] (files or scan ids)";

/// `vigie diff --help`.
pub fn diff_help() -> String {
    render(
        &DIFF_TABLE,
        "vigie diff: what changed between two scans (vigie's -oX or -oJ, nmap's -oX)\n\
         Usage: vigie diff [-v] [-oX <file>] [-oJ <file>] [--db <url>] [<a> [<b>]]\n",
        "",
    )
}

/// Parses `vigie diff`'s arguments (after the word `diff`).
pub fn parse_diff(args: &[String]) -> Result<DiffOptions, ArgError> {
    let mut o = DiffOptions::default();
    DIFF_TABLE.parse(args, &mut o, &mut |o, f| o.inputs.push(f.to_string()))?;
    if o.inputs.len() > 2 && !o.help {
        return Err(ArgError(DIFF_USAGE.into()));
    }
    Ok(o)
}

// ---- vigie watch ----

/// `vigie watch`'s options.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchOptions {
    /// `-i IFACE`, repeatable (none: every interface).
    pub interfaces: Vec<String>,
    /// `-oJ FILE`: one JSON object per alert (`-`: stdout).
    pub json: Option<String>,
    /// `--syslog`: each alert to the system log too.
    pub syslog: bool,
    /// `--block`: the opt-in response (nftables).
    pub block: bool,
    /// `--allow LIST`: addresses and networks never blocked.
    pub allow: Vec<String>,
    /// `--block-for TIME` (default 10 min).
    pub block_for: Option<Duration>,
    pub help: bool,
    /// The bytes of each frame kept (a test knob, hidden).
    pub snap: Option<u32>,
    /// The syslog socket (a test knob, hidden; default /dev/log).
    pub syslog_to: Option<String>,
}

/// `vigie watch`'s sections.
pub const WATCH_SECTIONS: &[Section] = &[
    Section {
        title: "WHAT TO WATCH",
        intro: "Frames are read before the firewall (scans of dropped ports are seen),\n\
                IPv4, IPv6 and ARP, received and sent, until Ctrl-C or SIGTERM.",
        outro: "",
    },
    Section {
        title: "ALERTS",
        intro: "One line per alert on stdout (source, kind, tool, ports, probes seen).",
        outro: "",
    },
    Section {
        title: "RESPONSE (OPT-IN)",
        intro: "",
        outro: "Only sources that completed a TCP handshake are blocked: never on raw\n\
                probes alone (their source may be forged), never a decoy group, this\n\
                host's addresses, its gateways, loopback, link-local or multicast.",
    },
];

/// `vigie watch`'s flags.
pub const WATCH: &[Flag<WatchOptions>] = &[
    Flag::valued(
        &[Dash("-i")],
        "iface",
        Complete::Any,
        0,
        "watch this interface (repeatable; default: every one)",
        |o, v| {
            o.interfaces.push(v.to_string());
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-oJ")],
        "file",
        Complete::File,
        1,
        "also one JSON object per alert, flushed at once (- for\n\
         stdout): Suricata EVE and ECS friendly fields",
        |o, v| {
            o.json = Some(v.to_string());
            Ok(())
        },
    ),
    Flag::switch(
        &[Long("--syslog")],
        1,
        "also send each alert to the system log (daemon.warning)",
        |o, _| yes(&mut o.syslog),
    ),
    Flag::switch(
        &[Long("--block")],
        2,
        "block scanners with nftables: a table inet vigie of its own,\n\
         removed on exit",
        |o, _| yes(&mut o.block),
    ),
    Flag::valued(
        &[Long("--allow")],
        "list",
        Complete::Any,
        2,
        "addresses or networks never blocked (198.18.0.0/24,fd00::1)",
        |o, v| {
            o.allow
                .extend(v.split(',').filter(|w| !w.is_empty()).map(str::to_string));
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--block-for")],
        "time",
        Complete::Any,
        2,
        "how long a block lasts (default 10m)",
        |o, v| {
            o.block_for = Some(positive_time(v)?);
            Ok(())
        },
    ),
    Flag::switch(
        &[Word("-h"), Long("--help")],
        0,
        "print this help",
        |o, _| yes(&mut o.help),
    ),
    Flag::valued(
        &[Long("--snap")],
        "bytes",
        Complete::Any,
        0,
        "",
        |o: &mut WatchOptions, v| {
            o.snap = Some(match v.parse::<u32>() {
                Ok(n) if (64..=65535).contains(&n) => n,
                _ => return Err("expected 64 to 65535".into()),
            });
            Ok(())
        },
    )
    .hidden(),
    Flag::valued(
        &[Long("--syslog-to")],
        "socket",
        Complete::File,
        1,
        "",
        |o: &mut WatchOptions, v| {
            o.syslog_to = Some(v.to_string());
            Ok(())
        },
    )
    .hidden(),
];

/// `vigie watch`'s table.
pub const WATCH_TABLE: Table<WatchOptions> = Table {
    flags: WATCH,
    sections: WATCH_SECTIONS,
    command: "vigie watch",
};

/// `vigie watch --help`.
pub fn watch_help() -> String {
    render(
        &WATCH_TABLE,
        "vigie watch: tell who scans this host, how and with what\n\
         Usage: vigie watch [-i <iface>]... [-oJ <file>] [--syslog]\n\
         \x20      [--block [--allow <list>] [--block-for <time>]]\n",
        "",
    )
}

/// Parses `vigie watch`'s arguments (after the word `watch`).
pub fn parse_watch(args: &[String]) -> Result<WatchOptions, ArgError> {
    let mut o = WatchOptions::default();
    let mut stray = Vec::new();
    WATCH_TABLE.parse(args, &mut o, &mut |_, w| stray.push(w.to_string()))?;
    if let Some(w) = stray.first() {
        return Err(ArgError(format!(
            "vigie watch takes no targets or other words (got '{w}')"
        )));
    }
    if !o.block && (!o.allow.is_empty() || o.block_for.is_some()) {
        return Err(ArgError("--allow and --block-for need --block".into()));
    }
    Ok(o)
}

// ---- vigie history ----

/// `vigie history`'s options.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HistoryOptions {
    /// `--db URL` (else `VIGIE_DB`, else the default store).
    pub db: Option<String>,
    /// `--target SPEC`: scans of these targets, or that found this address.
    pub target: Option<String>,
    /// `-n N`: the newest N scans.
    pub limit: Option<u64>,
    /// `show ID`: one scan, written again.
    pub show: Option<i64>,
    /// The outputs of `show` (kind, path), in order.
    pub outs: Vec<(MergeOut, String)>,
    pub help: bool,
}

fn history_out(o: &mut HistoryOptions, kind: MergeOut, path: &str) -> Result<(), String> {
    o.outs.push((kind, path.to_string()));
    Ok(())
}

/// `vigie history`'s sections.
pub const HISTORY_SECTIONS: &[Section] = &[
    Section {
        title: "WHICH SCANS",
        intro: "Every scan is recorded unless run with --no-history; the list is newest\n\
                first: id, start, status, technique, hosts up, open ports, targets.",
        outro: "",
    },
    Section {
        title: "SHOW (vigie history show <id>)",
        intro: "Without an output option the scan is written as nmap's screen output;\n\
                a file name of - means standard output.",
        outro: "",
    },
];

/// `vigie history`'s flags.
pub const HISTORY: &[Flag<HistoryOptions>] = &[
    Flag::valued(
        &[Long("--db")],
        "url",
        Complete::Any,
        0,
        "the store: sqlite:PATH or postgres://user@host:port/db\n\
         (default: $VIGIE_DB, else sqlite:$XDG_DATA_HOME/vigie/history.db)",
        |o, v| {
            o.db = Some(v.to_string());
            Ok(())
        },
    ),
    Flag::valued(
        &[Long("--target")],
        "spec",
        Complete::Any,
        0,
        "only scans of this target (a word of their targets) or\n\
         that found this address",
        |o, v| {
            o.target = Some(v.to_string());
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-n")],
        "n",
        Complete::Any,
        0,
        "only the newest <n> scans",
        |o, v| {
            let n: u64 = v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| "expected a count of scans (1 or more)".to_string())?;
            o.limit = Some(n);
            Ok(())
        },
    ),
    Flag::valued(
        &[Glued("-oX")],
        "file",
        Complete::File,
        1,
        "XML output (nmap's DTD)",
        |o, v| history_out(o, MergeOut::Xml, v),
    ),
    Flag::valued(
        &[Glued("-oJ")],
        "file",
        Complete::File,
        1,
        "JSON Lines output",
        |o, v| history_out(o, MergeOut::Json, v),
    ),
    Flag::valued(
        &[Glued("-oN")],
        "file",
        Complete::File,
        1,
        "normal output",
        |o, v| history_out(o, MergeOut::Normal, v),
    ),
    Flag::valued(
        &[Glued("-oG")],
        "file",
        Complete::File,
        1,
        "grepable output",
        |o, v| history_out(o, MergeOut::Grep, v),
    ),
    Flag::switch(
        &[Word("-h"), Long("--help")],
        0,
        "print this help",
        |o, _| yes(&mut o.help),
    ),
];

/// `vigie history`'s table.
pub const HISTORY_TABLE: Table<HistoryOptions> = Table {
    flags: HISTORY,
    sections: HISTORY_SECTIONS,
    command: "vigie history",
};

/// `vigie history --help`.
pub fn history_help() -> String {
    render(
        &HISTORY_TABLE,
        "vigie history: the scans recorded in the history store\n\
         Usage: vigie history [--db <url>] [--target <spec>] [-n <n>]\n\
         \x20      vigie history show <id> [--db <url>] [-oX|-oJ|-oN|-oG <file>]...\n",
        "",
    )
}

/// Parses `vigie history`'s arguments (after the word `history`).
pub fn parse_history(args: &[String]) -> Result<HistoryOptions, ArgError> {
    let mut o = HistoryOptions::default();
    let mut words = Vec::new();
    HISTORY_TABLE.parse(args, &mut o, &mut |_, w| words.push(w.to_string()))?;
    if o.help {
        return Ok(o);
    }
    match words.as_slice() {
        [] => {}
        [show, id] if show == "show" => {
            let n: i64 = id
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ArgError(format!("history show: '{id}' is not a scan id")))?;
            o.show = Some(n);
        }
        [show] if show == "show" => {
            return Err(ArgError(
                "history show needs a scan id (see vigie history)".into(),
            ))
        }
        [w, ..] => {
            return Err(ArgError(format!(
                "history: unexpected '{w}' (usage: vigie history [show <id>])"
            )))
        }
    }
    if o.show.is_none() && !o.outs.is_empty() {
        return Err(ArgError(
            "history: -oX/-oJ/-oN/-oG write one scan: vigie history show <id>".into(),
        ));
    }
    if o.show.is_some() && (o.target.is_some() || o.limit.is_some()) {
        return Err(ArgError(
            "history show: --target and -n choose scans to list, not one to show".into(),
        ));
    }
    Ok(o)
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
