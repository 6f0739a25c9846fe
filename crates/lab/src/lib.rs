//! vigie's test lab: the ground truth every scanner test is judged against.
//!
//! A [`Lab`] is a pair of network namespaces joined by one veth pair:
//!
//! ```text
//!   scanner ns (vgs-<pid>-<n>)              target ns (vgt-<pid>-<n>)
//!   v0 198.18.0.1/24  fd00:18::1/64  <-->  v1 198.18.0.2/24  fd00:18::2/64
//! ```
//!
//! The scanner namespace has no other link, so whatever runs there can only
//! reach the lab. The target namespace runs real TCP listeners and iptables /
//! ip6tables rules that make chosen ports dropped or rejected; [`Layout`]
//! describes them and [`Layout::expect`] says what nmap prints for each port.
//! Everything is torn down on drop, also when a test panics.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

/// The scan techniques the lab knows the truth for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabTechnique {
    /// `-sS`: raw SYN, classify the reply packet.
    Syn,
    /// `-sT`: `connect(2)`, classify the error the kernel reports.
    Connect,
    /// `-sF`: FIN.
    Fin,
    /// `-sN`: no flags.
    Null,
    /// `-sX`: FIN|PSH|URG.
    Xmas,
    /// `-sA`: ACK.
    Ack,
    /// `-sW`: ACK, reading the RST's window.
    Window,
    /// `-sM`: FIN|ACK.
    Maimon,
    /// `--scanflags`: these flag bits, replies read as `read_as` says.
    Custom { flags: u16, read_as: Reading },
}

/// How a raw technique reads replies (nmap's rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reading {
    /// SYN-ACK open, RST closed, silence filtered.
    Syn,
    /// RST closed, silence open|filtered (FIN, NULL, Xmas, Maimon).
    Fin,
    /// RST unfiltered, silence filtered.
    Ack,
    /// RST with a non-zero window open, zero closed; silence filtered.
    Window,
}

pub mod capture;
pub mod pg;
pub mod services;
pub mod sparse;
pub mod sweep;
pub mod udp;

/// TCP flag bits, as on the wire.
pub mod flags {
    pub const FIN: u16 = 0x01;
    pub const SYN: u16 = 0x02;
    pub const RST: u16 = 0x04;
    pub const PSH: u16 = 0x08;
    pub const ACK: u16 = 0x10;
    pub const URG: u16 = 0x20;
}

impl LabTechnique {
    /// The flags a raw technique sends and how it reads replies; `None`
    /// for connect.
    pub fn raw(self) -> Option<(u16, Reading)> {
        use flags::*;
        Some(match self {
            LabTechnique::Connect => return None,
            LabTechnique::Syn => (SYN, Reading::Syn),
            LabTechnique::Fin => (FIN, Reading::Fin),
            LabTechnique::Null => (0, Reading::Fin),
            LabTechnique::Xmas => (FIN | PSH | URG, Reading::Fin),
            LabTechnique::Ack => (ACK, Reading::Ack),
            LabTechnique::Window => (ACK, Reading::Window),
            LabTechnique::Maimon => (FIN | ACK, Reading::Fin),
            LabTechnique::Custom { flags, read_as } => (flags, read_as),
        })
    }
}

/// What the target sends back to one raw probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    Silence,
    /// RST (Linux always gives its RSTs a zero window).
    Rst,
    SynAck,
    PortUnreach,
    Admin,
}

/// Which ports of the target are what. A port in no list is closed (the
/// target kernel answers RST). When a port is in several lists the first of
/// drop, reject_port_unreach, reject_admin, reject_rst wins (the iptables
/// rules are written in that order), and any rule wins over a listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Real TCP listeners (IPv4 and IPv6) that accept and close.
    pub open: Vec<u16>,
    /// iptables / ip6tables `-j DROP`.
    pub drop: Vec<u16>,
    /// `REJECT --reject-with icmp-port-unreachable` / `icmp6-port-unreachable`.
    pub reject_port_unreach: Vec<u16>,
    /// `REJECT --reject-with icmp-admin-prohibited` / `icmp6-adm-prohibited`.
    pub reject_admin: Vec<u16>,
    /// `REJECT --reject-with tcp-reset`.
    pub reject_rst: Vec<u16>,
    /// `net.ipv4.icmp_ratelimit=0`, `net.ipv6.icmp.ratelimit=0` (and the
    /// rate masks emptied, so the global ICMP budget does not apply either)
    /// in the target namespace.
    pub icmp_ratelimit_off: bool,
    /// Answer every TCP segment without SYN, RST or ACK (FIN, NULL, Xmas
    /// probes) with a RST, whatever the port (`REJECT --reject-with
    /// tcp-reset` ahead of every other rule): the stack that makes FIN-type
    /// scans see "closed" everywhere.
    pub rst_everything: bool,
}

/// What a port is, after rule precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Open,
    Closed,
    Drop,
    PortUnreach,
    Admin,
    Rst,
}

impl Layout {
    /// The lab every full-range test uses: open 22, 80, 443, 3306, 8080,
    /// 31337, 65535; dropped 25, 7000-7004; port-unreachable 113, 9001;
    /// admin-prohibited 135, 9002; tcp-reset 139, 445, 9003; everything else
    /// closed; ICMP rate limiting off. Ports 7000, 9001, 9002 and 9003 also
    /// have listeners behind their rule, to prove the rule wins.
    pub fn standard() -> Layout {
        Layout {
            open: vec![
                22, 80, 443, 3306, 7000, 8080, 9001, 9002, 9003, 31337, 65535,
            ],
            drop: vec![25, 7000, 7001, 7002, 7003, 7004],
            reject_port_unreach: vec![113, 9001],
            reject_admin: vec![135, 9002],
            reject_rst: vec![139, 445, 9003],
            icmp_ratelimit_off: true,
            rst_everything: false,
        }
    }

    /// What a Linux target does with a probe carrying `f` to a port of this
    /// class (RFC 793 as Linux implements it): a listening socket answers
    /// SYN (without FIN) with SYN-ACK and anything with ACK (but not RST)
    /// with RST, and drops the rest; without a socket, anything but a RST
    /// gets a RST; REJECT rules answer whatever arrives.
    fn reply(&self, f: u16, class: Class) -> Reply {
        use flags::*;
        if self.rst_everything && f & (SYN | RST | ACK) == 0 {
            return Reply::Rst;
        }
        match class {
            Class::Drop => Reply::Silence,
            Class::PortUnreach => Reply::PortUnreach,
            Class::Admin => Reply::Admin,
            Class::Closed | Class::Rst if f & RST != 0 => Reply::Silence,
            Class::Closed | Class::Rst => Reply::Rst,
            Class::Open if f & RST != 0 => Reply::Silence,
            Class::Open if f & ACK != 0 => Reply::Rst,
            Class::Open if f & SYN != 0 && f & FIN == 0 => Reply::SynAck,
            Class::Open => Reply::Silence,
        }
    }

    fn class(&self, port: u16) -> Class {
        if self.drop.contains(&port) {
            Class::Drop
        } else if self.reject_port_unreach.contains(&port) {
            Class::PortUnreach
        } else if self.reject_admin.contains(&port) {
            Class::Admin
        } else if self.reject_rst.contains(&port) {
            Class::Rst
        } else if self.open.contains(&port) {
            Class::Open
        } else {
            Class::Closed
        }
    }

    /// Ground truth: the (state, reason) nmap prints for this TCP port with
    /// this technique, over IPv4 or IPv6.
    ///
    /// Syn: open → open/syn-ack, closed → closed/reset, drop →
    /// filtered/no-response, port-unreach → filtered/port-unreach, admin →
    /// filtered/admin-prohibited, tcp-reset → closed/reset.
    ///
    /// Connect: open → open/syn-ack, closed and tcp-reset →
    /// closed/conn-refused, drop → filtered/no-response, port-unreach →
    /// closed/conn-refused (Linux turns ICMP port-unreachable into
    /// ECONNREFUSED), admin → filtered/host-unreach over IPv4 (code 13 gives
    /// EHOSTUNREACH) but filtered/admin-prohibited over IPv6 (EACCES).
    ///
    /// The other raw techniques follow from what the target sends back to
    /// their flags (see `reply`) and how each reads that: RST is closed for
    /// FIN-type scans, unfiltered for ACK, closed for Window (Linux RSTs
    /// carry a zero window); silence is open|filtered for FIN-type scans and
    /// filtered otherwise; ICMP unreachables are filtered.
    pub fn expect(&self, t: LabTechnique, ipv6: bool, port: u16) -> (&'static str, &'static str) {
        let class = self.class(port);
        let Some((f, reading)) = t.raw() else {
            return match class {
                Class::Open => ("open", "syn-ack"),
                Class::Drop => ("filtered", "no-response"),
                Class::Closed | Class::Rst | Class::PortUnreach => ("closed", "conn-refused"),
                Class::Admin if ipv6 => ("filtered", "admin-prohibited"),
                Class::Admin => ("filtered", "host-unreach"),
            };
        };
        match (reading, self.reply(f, class)) {
            (_, Reply::PortUnreach) => ("filtered", "port-unreach"),
            (_, Reply::Admin) => ("filtered", "admin-prohibited"),
            (Reading::Syn, Reply::SynAck) => ("open", "syn-ack"),
            (Reading::Syn, Reply::Rst) => ("closed", "reset"),
            (Reading::Syn, Reply::Silence) => ("filtered", "no-response"),
            (Reading::Fin, Reply::Rst) => ("closed", "reset"),
            (Reading::Fin, Reply::Silence) => ("open|filtered", "no-response"),
            (Reading::Ack, Reply::Rst) => ("unfiltered", "reset"),
            (Reading::Window, Reply::Rst) => ("closed", "reset"),
            (Reading::Ack | Reading::Window, Reply::Silence) => ("filtered", "no-response"),
            (reading, reply) => panic!("no ground truth for {reply:?} read as {reading:?}"),
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        let lists = [
            ("open", &self.open),
            ("drop", &self.drop),
            ("reject_port_unreach", &self.reject_port_unreach),
            ("reject_admin", &self.reject_admin),
            ("reject_rst", &self.reject_rst),
        ];
        for (name, list) in lists {
            if list.contains(&0) {
                bail!("layout: port 0 in {name}");
            }
        }
        Ok(())
    }

    /// iptables-restore input for the target namespace. Rules match only
    /// packets arriving on the lab link, so the target's own loopback
    /// traffic is never filtered.
    fn rules(&self, ipv6: bool) -> String {
        let (unreach, admin) = if ipv6 {
            ("icmp6-port-unreachable", "icmp6-adm-prohibited")
        } else {
            ("icmp-port-unreachable", "icmp-admin-prohibited")
        };
        let mut s = String::from(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n",
        );
        if self.rst_everything {
            s.push_str(&format!(
                "-A INPUT -i {TARGET_IF} -p tcp -m tcp --tcp-flags SYN,RST,ACK NONE -j REJECT --reject-with tcp-reset\n"
            ));
        }
        let groups: [(&Vec<u16>, String); 4] = [
            (&self.drop, "DROP".to_owned()),
            (
                &self.reject_port_unreach,
                format!("REJECT --reject-with {unreach}"),
            ),
            (&self.reject_admin, format!("REJECT --reject-with {admin}")),
            (
                &self.reject_rst,
                "REJECT --reject-with tcp-reset".to_owned(),
            ),
        ];
        for (ports, target) in groups {
            for p in ports {
                s.push_str(&format!(
                    "-A INPUT -i {TARGET_IF} -p tcp -m tcp --dport {p} -j {target}\n"
                ));
            }
        }
        s.push_str("COMMIT\n");
        s
    }

    fn has_rules(&self) -> bool {
        self.rst_everything
            || !(self.drop.is_empty()
                && self.reject_port_unreach.is_empty()
                && self.reject_admin.is_empty()
                && self.reject_rst.is_empty())
    }
}

/// Create a lab's two namespaces joined by the veth (`SCANNER_IF` in the
/// scanner, `TARGET_IF` in the target), recording each in `created` for
/// teardown: IPv6 DAD and router discovery off in both (before the veth
/// exists, so its addresses are usable at once), `target_sysctl` in the
/// target. Addresses and rules are the caller's.
pub(crate) fn create_pair(
    s: &str,
    t: &str,
    created: &mut Vec<String>,
    target_sysctl: &[&str],
) -> anyhow::Result<()> {
    for ns in [s, t] {
        if netns_exists(ns) {
            bail!("network namespace {ns} already exists");
        }
    }
    // Namespaces first: the veth is created straight into them, and the
    // DAD defaults must be in place before its addresses appear.
    for ns in [s, t] {
        run(Command::new("ip").args(["netns", "add", ns]))?;
        created.push(ns.to_owned());
    }
    let quiet_v6 = [
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
        "net.ipv6.conf.all.accept_ra=0",
        "net.ipv6.conf.default.accept_ra=0",
        "net.ipv6.conf.default.router_solicitations=0",
    ];
    run(Command::new("ip")
        .args(["netns", "exec", s, "sysctl", "-q", "-e", "-w"])
        .args(quiet_v6))?;
    run(Command::new("ip")
        .args(["netns", "exec", t, "sysctl", "-q", "-e", "-w"])
        .args(quiet_v6)
        .args(target_sysctl))?;
    run(Command::new("ip").args([
        "link", "add", SCANNER_IF, "netns", s, "type", "veth", "peer", "name", TARGET_IF, "netns",
        t,
    ]))
}

const SCANNER_IF: &str = "v0";
const TARGET_IF: &str = "v1";
const SCANNER_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const TARGET_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const SCANNER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 1);
const TARGET_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 2);
/// How long accept() blocks before a listener thread looks at its stop flag.
const ACCEPT_TICK: Duration = Duration::from_millis(100);
/// How long the post-setup sanity check keeps trying.
const SANITY_DEADLINE: Duration = Duration::from_secs(5);

static LAB_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Fails with a clear message unless the process may build namespaces.
pub fn require_root() -> anyhow::Result<()> {
    const MSG: &str = "lab tests need root (CAP_NET_ADMIN): run as root or via .ci/run";
    let status = std::fs::read_to_string("/proc/self/status").context(MSG)?;
    let cap_eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or_else(|| anyhow!(MSG))?;
    const CAP_NET_ADMIN: u64 = 1 << 12;
    const CAP_NET_RAW: u64 = 1 << 13;
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    let need = CAP_NET_ADMIN | CAP_NET_RAW | CAP_SYS_ADMIN;
    if cap_eff & need != need {
        bail!(MSG);
    }
    Ok(())
}

/// Run `f` on a fresh thread that has entered the network namespace
/// `/run/netns/<name>`, and return its result. The calling thread is not
/// moved.
pub fn in_netns<T, F>(name: &str, f: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let ns = name.to_owned();
    thread::Builder::new()
        .name(format!("lab-{name}"))
        .spawn(move || -> anyhow::Result<T> {
            vigie_netio::netns::enter(&ns).with_context(|| format!("enter netns {ns}"))?;
            Ok(f())
        })
        .context("spawn thread")?
        .join()
        .map_err(|_| anyhow!("thread in netns {name} panicked"))?
}

/// A running lab: two namespaces, a veth pair, listeners and rules.
pub struct Lab {
    layout: Layout,
    scanner_ns: String,
    target_ns: String,
    stop: Arc<AtomicBool>,
    acceptors: Vec<JoinHandle<()>>,
    /// Namespaces this lab created, and so deletes on drop.
    created: Vec<String>,
}

impl Lab {
    /// Build a lab with unique namespace names (`vgs-<pid>-<n>`,
    /// `vgt-<pid>-<n>`), so labs can be built in parallel. Removes stale lab
    /// namespaces left behind by dead processes first.
    pub fn new(layout: &Layout) -> anyhow::Result<Lab> {
        require_root()?;
        remove_stale();
        let n = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        Lab::with_names(layout, &format!("vgs-{pid}-{n}"), &format!("vgt-{pid}-{n}"))
    }

    /// Build a lab with the given namespace names (`vigie-lab up` uses
    /// fixed ones). Fails if either namespace exists already.
    pub fn with_names(layout: &Layout, scanner_ns: &str, target_ns: &str) -> anyhow::Result<Lab> {
        require_root()?;
        layout.check()?;
        let mut lab = Lab {
            layout: layout.clone(),
            scanner_ns: scanner_ns.to_owned(),
            target_ns: target_ns.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            acceptors: Vec::new(),
            created: Vec::new(),
        };
        // On error `lab` is dropped here, which removes whatever was built.
        lab.build()
            .with_context(|| format!("building lab {scanner_ns} / {target_ns}"))?;
        Ok(lab)
    }

    fn build(&mut self) -> anyhow::Result<()> {
        let (s, t) = (self.scanner_ns.clone(), self.target_ns.clone());
        let mut target_sysctl: Vec<&str> = Vec::new();
        if self.layout.icmp_ratelimit_off {
            target_sysctl.extend([
                "net.ipv4.icmp_ratelimit=0",
                "net.ipv6.icmp.ratelimit=0",
                "net.ipv4.icmp_ratemask=0",
                "net.ipv6.icmp.ratemask=",
            ]);
        }
        create_pair(&s, &t, &mut self.created, &target_sysctl)?;
        for (ns, ifname, v4, v6) in [
            (&s, SCANNER_IF, SCANNER_V4, SCANNER_V6),
            (&t, TARGET_IF, TARGET_V4, TARGET_V6),
        ] {
            let batch = format!(
                "link set lo up\naddr add {v4}/24 dev {ifname}\naddr add {v6}/64 dev {ifname} nodad\nlink set {ifname} up\n"
            );
            run_with_input(
                Command::new("ip").args(["-netns", ns, "-batch", "-"]),
                &batch,
            )?;
        }
        if self.layout.has_rules() {
            run_with_input(
                Command::new("ip").args(["netns", "exec", &t, "iptables-restore"]),
                &self.layout.rules(false),
            )?;
            run_with_input(
                Command::new("ip").args(["netns", "exec", &t, "ip6tables-restore"]),
                &self.layout.rules(true),
            )?;
        }
        self.start_listeners()?;
        self.wait_v6_ready()?;
        self.sanity_check()
    }

    fn start_listeners(&mut self) -> anyhow::Result<()> {
        let mut ports = self.layout.open.clone();
        ports.sort_unstable();
        ports.dedup();
        let listeners = in_netns(
            &self.target_ns,
            move || -> io::Result<Vec<(SocketAddr, TcpListener)>> {
                let mut out = Vec::with_capacity(ports.len() * 2);
                for p in ports {
                    for ip in [
                        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    ] {
                        let addr = SocketAddr::new(ip, p);
                        out.push((addr, listen(addr)?));
                    }
                }
                Ok(out)
            },
        )?
        .context("listeners in the target namespace")?;
        for (addr, listener) in listeners {
            let stop = Arc::clone(&self.stop);
            let handle = thread::Builder::new()
                .name(format!("lab-accept-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &stop))
                .context("spawn accept thread")?;
            self.acceptors.push(handle);
        }
        Ok(())
    }

    /// With DAD off the addresses are usable at once; this only waits for
    /// the kernel to agree (no address left tentative) in both namespaces.
    fn wait_v6_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + SANITY_DEADLINE;
        for ns in [&self.scanner_ns, &self.target_ns] {
            loop {
                let out = Command::new("ip")
                    .args(["-netns", ns, "-6", "addr", "show", "tentative"])
                    .stdin(Stdio::null())
                    .output()
                    .context("run ip -6 addr show tentative")?;
                if out.status.success() && out.stdout.is_empty() {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "IPv6 addresses in {ns} still tentative: {}",
                        String::from_utf8_lossy(&out.stdout)
                    );
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// From a thread in the scanner namespace: an open port accepts and a
    /// closed port refuses, over IPv4 and IPv6.
    fn sanity_check(&self) -> anyhow::Result<()> {
        let open = self
            .layout
            .open
            .iter()
            .copied()
            .find(|&p| self.layout.class(p) == Class::Open);
        let closed = (1..=u16::MAX).find(|&p| self.layout.class(p) == Class::Closed);
        let targets = [IpAddr::V4(TARGET_V4), IpAddr::V6(TARGET_V6)];
        let result = in_netns(&self.scanner_ns, move || -> anyhow::Result<()> {
            for ip in targets {
                if let Some(p) = open {
                    connect_until(SocketAddr::new(ip, p), |r| r.is_ok())
                        .with_context(|| format!("sanity: open port {ip} {p} should accept"))?;
                }
                if let Some(p) = closed {
                    connect_until(
                        SocketAddr::new(ip, p),
                        |r| matches!(r, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused),
                    )
                    .with_context(|| format!("sanity: closed port {ip} {p} should refuse"))?;
                }
            }
            Ok(())
        })?;
        result
    }

    /// The layout this lab was built from.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
    /// Name of the scanner namespace (under /run/netns).
    pub fn scanner_ns(&self) -> &str {
        &self.scanner_ns
    }
    /// Name of the target namespace (under /run/netns).
    pub fn target_ns(&self) -> &str {
        &self.target_ns
    }
    /// 198.18.0.1
    /// The scanner's veth interface (in the scanner namespace).
    pub fn scanner_if(&self) -> &'static str {
        SCANNER_IF
    }

    /// The target's veth interface (in the target namespace).
    pub fn target_if(&self) -> &'static str {
        TARGET_IF
    }

    pub fn scanner_v4(&self) -> Ipv4Addr {
        SCANNER_V4
    }
    /// 198.18.0.2
    pub fn target_v4(&self) -> Ipv4Addr {
        TARGET_V4
    }
    /// fd00:18::1
    pub fn scanner_v6(&self) -> Ipv6Addr {
        SCANNER_V6
    }
    /// fd00:18::2
    pub fn target_v6(&self) -> Ipv6Addr {
        TARGET_V6
    }

    /// `ip netns exec <scanner ns> program`, ready for more args.
    pub fn scanner_cmd(&self, program: impl AsRef<OsStr>) -> Command {
        netns_cmd(&self.scanner_ns, program.as_ref())
    }

    /// `ip netns exec <target ns> program`, ready for more args.
    pub fn target_cmd(&self, program: impl AsRef<OsStr>) -> Command {
        netns_cmd(&self.target_ns, program.as_ref())
    }

    /// Start a forger in the target namespace: every TCP SYN (no ACK, no
    /// RST) arriving for the target's addresses on one of `ports` is answered
    /// at once with a SYN-ACK from that address and port to the prober's,
    /// whose acknowledgement number is wrong: the SYN's seq + 1 + 0x10000.
    /// The kernel's own answer (RST, ICMP, nothing) still goes out too.
    /// Returns once the forger is capturing. Stops when the [`Forger`] drops.
    pub fn spawn_forger(&self, ports: Vec<u16>) -> anyhow::Result<Forger> {
        let mut wanted = vec![false; 65536];
        for p in ports {
            wanted[usize::from(p)] = true;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let forged = Arc::new(AtomicU64::new(0));
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let ns = self.target_ns.clone();
        let (stop2, forged2) = (Arc::clone(&stop), Arc::clone(&forged));
        let thread = thread::Builder::new()
            .name("lab-forger".to_owned())
            .spawn(move || forger_thread(&ns, &wanted, &stop2, &forged2, ready_tx))
            .context("spawn forger thread")?;
        let mut forger = Forger {
            stop,
            forged,
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(forger),
            Ok(Err(e)) => {
                Err(anyhow::Error::new(e).context("forger setup in the target namespace"))
            }
            Err(_) => {
                let result = forger.thread.take().map(|t| t.join());
                Err(anyhow!("forger did not start: {result:?}"))
            }
        }
    }
}

/// Delete the namespaces a lab created (on drop, also after a panic).
pub(crate) fn delete_namespaces(created: &[String]) {
    for ns in created {
        if netns_exists(ns) {
            if let Err(e) = run(Command::new("ip").args(["netns", "del", ns])) {
                eprintln!("vigie-lab: could not delete namespace {ns}: {e:#}");
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for handle in self.acceptors.drain(..) {
            let _ = handle.join();
        }
        delete_namespaces(&self.created);
    }
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("scanner_ns", &self.scanner_ns)
            .field("target_ns", &self.target_ns)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

/// A running SYN-ACK forger; see [`Lab::spawn_forger`].
pub struct Forger {
    stop: Arc<AtomicBool>,
    forged: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Forger {
    /// How many forged SYN-ACKs have been sent so far.
    pub fn forged(&self) -> u64 {
        self.forged.load(Ordering::SeqCst)
    }
}

impl Drop for Forger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Forger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forger")
            .field("forged", &self.forged())
            .finish_non_exhaustive()
    }
}

/// The forged reply's sequence number; any fixed value will do.
const FORGED_SEQ: u32 = 0x7e57_0000;
/// How far off the forged acknowledgement number is.
pub const FORGED_ACK_OFFSET: u32 = 0x10000;

fn forger_thread(
    ns: &str,
    wanted: &[bool],
    stop: &AtomicBool,
    forged: &AtomicU64,
    ready: mpsc::Sender<io::Result<()>>,
) {
    use vigie_netio::rx::{Receiver, RxConfig};
    use vigie_netio::tx::{RawSender, TxBatch};
    use vigie_wire::summary::{summarize, Body};
    use vigie_wire::tcp::TcpFlags;
    use vigie_wire::template::TcpTemplate;

    let setup = || -> io::Result<(Receiver, RawSender)> {
        vigie_netio::netns::enter(ns)?;
        // Short block timeout: the forged answer should go out within a few
        // milliseconds of the SYN. Each block is handed over when it times
        // out, full or not, so the ring holds at least count × 2 ms: 128
        // blocks ride out this thread not being scheduled for a quarter of
        // a second (8 blocks lost SYNs on a busy 2-core machine).
        let rx = Receiver::new(&RxConfig {
            block_size: 1 << 17,
            block_count: 128,
            block_timeout_ms: 2,
        })?;
        Ok((rx, RawSender::new()?))
    };
    let (mut rx, mut tx) = match setup() {
        Ok(pair) => {
            let _ = ready.send(Ok(()));
            pair
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let syn_ack = TcpFlags(0x12);
    let t4 = TcpTemplate::new(IpAddr::V4(TARGET_V4), syn_ack, 65535, Some(1460), 64);
    let t6 = TcpTemplate::new(IpAddr::V6(TARGET_V6), syn_ack, 65535, Some(1440), 64);
    let mut batch = TxBatch::new(64);
    while !stop.load(Ordering::SeqCst) {
        let polled = rx.poll(Duration::from_millis(20), |pkt| {
            let Some(s) = summarize(pkt) else { return };
            let Body::Tcp {
                sport,
                dport,
                seq,
                flags,
                ..
            } = s.body
            else {
                return;
            };
            // SYN without ACK, RST or FIN: a probe, not a reply.
            if flags.0 & 0x17 != 0x02 || !wanted[usize::from(dport)] {
                return;
            }
            let tmpl = match s.dst {
                IpAddr::V4(a) if a == TARGET_V4 => &t4,
                IpAddr::V6(a) if a == TARGET_V6 => &t6,
                _ => return,
            };
            if batch.is_full() {
                flush(&mut tx, &mut batch, forged);
            }
            let ack = seq.wrapping_add(1).wrapping_add(FORGED_ACK_OFFSET);
            let to = s.src;
            batch.push_with(to, |buf| {
                tmpl.stamp(buf, to, dport, sport, FORGED_SEQ, ack, 0)
            });
        });
        flush(&mut tx, &mut batch, forged);
        if let Err(e) = polled {
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("vigie-lab forger: receive failed: {e}");
                return;
            }
        }
    }
}

fn flush(
    tx: &mut vigie_netio::tx::RawSender,
    batch: &mut vigie_netio::tx::TxBatch,
    forged: &AtomicU64,
) {
    if batch.is_empty() {
        return;
    }
    match tx.send(batch) {
        Ok(n) => {
            forged.fetch_add(n as u64, Ordering::SeqCst);
        }
        Err(e) => eprintln!("vigie-lab forger: send failed: {e}"),
    }
    batch.clear();
}

/// A listening socket with a large backlog; accept() wakes every
/// ACCEPT_TICK so the thread can notice the stop flag. IPv6 sockets are
/// v6-only so the IPv4 socket on the same port can coexist.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.listen(4096)?;
    // SO_RCVTIMEO bounds a blocking accept() on Linux.
    sock.set_read_timeout(Some(ACCEPT_TICK))?;
    Ok(sock.into())
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((conn, _)) => drop(conn),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            // EMFILE, ECONNABORTED, ...: back off briefly and go on.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Connect to `addr` until `done` accepts the outcome or SANITY_DEADLINE passes.
fn connect_until(
    addr: SocketAddr,
    done: impl Fn(&io::Result<TcpStream>) -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + SANITY_DEADLINE;
    loop {
        let r = TcpStream::connect_timeout(&addr, Duration::from_millis(500));
        if done(&r) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("last attempt: {:?}", r.map(|_| "connected"));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn netns_cmd(ns: &str, program: &OsStr) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}

fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn run_with_input(cmd: &mut Command, input: &str) -> anyhow::Result<()> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run {cmd:?}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .with_context(|| format!("write to {cmd:?}"))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("wait for {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}\ninput was:\n{input}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Delete `vgs-<pid>-<n>` / `vgt-<pid>-<n>` namespaces whose process is gone.
fn remove_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = stale_pid(name) else { continue };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run(Command::new("ip").args(["netns", "del", name]));
        }
    }
}

/// The pid in a lab namespace name `vgs-<pid>-<n>` / `vgt-<pid>-<n>`.
fn stale_pid(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix("vgs-")
        .or_else(|| name.strip_prefix("vgt-"))?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<usize>().ok()?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_syn() {
        let l = Layout::standard();
        let syn = |p| l.expect(LabTechnique::Syn, false, p);
        assert_eq!(syn(22), ("open", "syn-ack"));
        assert_eq!(syn(65535), ("open", "syn-ack"));
        assert_eq!(syn(1), ("closed", "reset"));
        assert_eq!(syn(23), ("closed", "reset"));
        assert_eq!(syn(25), ("filtered", "no-response"));
        assert_eq!(syn(7000), ("filtered", "no-response"));
        assert_eq!(syn(7004), ("filtered", "no-response"));
        assert_eq!(syn(7005), ("closed", "reset"));
        assert_eq!(syn(113), ("filtered", "port-unreach"));
        assert_eq!(syn(9001), ("filtered", "port-unreach"));
        assert_eq!(syn(135), ("filtered", "admin-prohibited"));
        assert_eq!(syn(9002), ("filtered", "admin-prohibited"));
        assert_eq!(syn(139), ("closed", "reset"));
        assert_eq!(syn(9003), ("closed", "reset"));
        assert_eq!(
            l.expect(LabTechnique::Syn, true, 135),
            ("filtered", "admin-prohibited")
        );
        assert_eq!(
            l.expect(LabTechnique::Syn, true, 113),
            ("filtered", "port-unreach")
        );
    }

    #[test]
    fn expectations_connect() {
        let l = Layout::standard();
        let c4 = |p| l.expect(LabTechnique::Connect, false, p);
        let c6 = |p| l.expect(LabTechnique::Connect, true, p);
        assert_eq!(c4(80), ("open", "syn-ack"));
        assert_eq!(c4(1), ("closed", "conn-refused"));
        assert_eq!(c4(445), ("closed", "conn-refused"));
        assert_eq!(c4(9003), ("closed", "conn-refused"));
        assert_eq!(c4(25), ("filtered", "no-response"));
        assert_eq!(c4(113), ("closed", "conn-refused"));
        assert_eq!(c4(135), ("filtered", "host-unreach"));
        assert_eq!(c6(135), ("filtered", "admin-prohibited"));
        assert_eq!(c6(9002), ("filtered", "admin-prohibited"));
        assert_eq!(c6(9001), ("closed", "conn-refused"));
        assert_eq!(c6(7001), ("filtered", "no-response"));
    }

    #[test]
    fn counts_of_standard_layout() {
        let l = Layout::standard();
        let mut open = 0;
        let mut filtered = 0;
        for p in 1..=u16::MAX {
            match l.expect(LabTechnique::Syn, false, p).0 {
                "open" => open += 1,
                "filtered" => filtered += 1,
                _ => {}
            }
        }
        assert_eq!(open, 7);
        assert_eq!(filtered, 6 + 2 + 2);
    }

    #[test]
    fn rules_text() {
        let l = Layout {
            drop: vec![25],
            reject_port_unreach: vec![113],
            reject_admin: vec![135],
            reject_rst: vec![139],
            ..Layout::default()
        };
        assert_eq!(
            l.rules(true),
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -i v1 -p tcp -m tcp --dport 25 -j DROP\n\
             -A INPUT -i v1 -p tcp -m tcp --dport 113 -j REJECT --reject-with icmp6-port-unreachable\n\
             -A INPUT -i v1 -p tcp -m tcp --dport 135 -j REJECT --reject-with icmp6-adm-prohibited\n\
             -A INPUT -i v1 -p tcp -m tcp --dport 139 -j REJECT --reject-with tcp-reset\n\
             COMMIT\n"
        );
        assert!(l
            .rules(false)
            .contains("--dport 135 -j REJECT --reject-with icmp-admin-prohibited\n"));
        assert!(l.has_rules());
        assert!(!Layout::default().has_rules());
    }

    #[test]
    fn stale_names() {
        assert_eq!(stale_pid("vgs-1234-0"), Some(1234));
        assert_eq!(stale_pid("vgt-99-17"), Some(99));
        assert_eq!(stale_pid("vgt-99"), None);
        assert_eq!(stale_pid("vgx-99-1"), None);
        assert_eq!(stale_pid("vigie-scanner"), None);
        assert_eq!(stale_pid("vgs-abc-1"), None);
    }

    #[test]
    fn port_zero_rejected() {
        let l = Layout {
            open: vec![0],
            ..Layout::default()
        };
        assert!(l.check().is_err());
        assert!(Layout::standard().check().is_ok());
    }
}
