//! The host-discovery lab: a target namespace that answers for a whole
//! /16 (`ip route add local 198.19.0.0/16 dev lo`), reached from the
//! scanner namespace through the target's veth address, with iptables
//! deciding per /25 block what each address answers; plus "dark" addresses
//! on the veth segment itself that drop every IP packet and are found only
//! by ARP / neighbour discovery.
//!
//! Ground truth per address: [`SweepClass`] via [`class_of`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;

use super::{
    delete_namespaces, in_netns, remove_stale, require_root, run_with_input, SCANNER_IF,
    SCANNER_V4, SCANNER_V6, TARGET_IF, TARGET_V4, TARGET_V6,
};

/// The swept range: 198.19.0.0/16.
pub const SWEEP_BASE: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 0);
pub const SWEEP_PREFIX: u8 = 16;
/// Extra IPv4 addresses on the target's veth that drop all IP traffic.
pub const DARK_V4: [Ipv4Addr; 2] = [Ipv4Addr::new(198, 18, 0, 3), Ipv4Addr::new(198, 18, 0, 4)];
/// Extra IPv6 address on the target's veth that drops all IPv6 traffic
/// except neighbour solicitations and advertisements.
pub const DARK_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 3);

/// What an address of the /16 answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SweepClass {
    /// Everything dropped.
    Down,
    /// Only TCP to port 443 (a listener there: SYN-ACK).
    Syn443,
    /// Only ICMP echo requests.
    Echo,
    /// Only TCP segments with exactly ACK set, to port 80 (RST back).
    Ack80,
    /// No filtering: answers every default probe.
    Open,
}

impl SweepClass {
    /// The host reasons this class allows (nmap's spelling).
    pub fn reasons(self) -> &'static [&'static str] {
        match self {
            SweepClass::Down => &[],
            SweepClass::Syn443 => &["syn-ack"],
            SweepClass::Echo => &["echo-reply"],
            SweepClass::Ack80 => &["reset"],
            SweepClass::Open => &["echo-reply", "syn-ack", "reset", "timestamp-reply"],
        }
    }

    pub fn is_up(self) -> bool {
        self != SweepClass::Down
    }
}

/// The class of a /25 block (0..512) of the /16.
fn block_class(block: u32) -> SweepClass {
    match block % 8 {
        3 => SweepClass::Syn443,
        4 => SweepClass::Echo,
        5 => SweepClass::Ack80,
        6 => SweepClass::Open,
        _ => SweepClass::Down,
    }
}

/// Ground truth for an address; `None` outside 198.19.0.0/16.
pub fn class_of(a: Ipv4Addr) -> Option<SweepClass> {
    let base = u32::from(SWEEP_BASE);
    let v = u32::from(a);
    (v >> 16 == base >> 16).then(|| block_class((v - base) >> 7))
}

/// iptables-restore input: one jump per filtered /25 block into a chain
/// per class, plus the dark addresses on the veth.
fn rules_v4() -> String {
    let mut s = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    for c in ["SW_DOWN", "SW_SYN443", "SW_ECHO", "SW_ACK80"] {
        s.push_str(&format!(":{c} - [0:0]\n"));
    }
    s.push_str("-A SW_DOWN -j DROP\n");
    s.push_str("-A SW_SYN443 -p tcp --dport 443 -j ACCEPT\n-A SW_SYN443 -j DROP\n");
    s.push_str("-A SW_ECHO -p icmp --icmp-type echo-request -j ACCEPT\n-A SW_ECHO -j DROP\n");
    s.push_str(
        "-A SW_ACK80 -p tcp --dport 80 --tcp-flags ALL ACK -j ACCEPT\n-A SW_ACK80 -j DROP\n",
    );
    for d in DARK_V4 {
        s.push_str(&format!("-A INPUT -d {d}/32 -j DROP\n"));
    }
    let base = u32::from(SWEEP_BASE);
    for b in 0..512u32 {
        let chain = match block_class(b) {
            SweepClass::Down => "SW_DOWN",
            SweepClass::Syn443 => "SW_SYN443",
            SweepClass::Echo => "SW_ECHO",
            SweepClass::Ack80 => "SW_ACK80",
            SweepClass::Open => continue,
        };
        let net = Ipv4Addr::from(base + (b << 7));
        s.push_str(&format!("-A INPUT -d {net}/25 -j {chain}\n"));
    }
    s.push_str("COMMIT\n");
    s
}

/// The dark IPv6 address drops everything but ND: neighbour discovery
/// runs over ICMPv6 inside IPv6, so unlike ARP it passes through
/// ip6tables' INPUT chain, and dropping it would make the address
/// unreachable even on the link.
fn rules_v6() -> String {
    format!(
        "*filter\n:INPUT ACCEPT [0:0]\n\
         -A INPUT -d {DARK_V6}/128 -p ipv6-icmp --icmpv6-type neighbour-solicitation -j ACCEPT\n\
         -A INPUT -d {DARK_V6}/128 -p ipv6-icmp --icmpv6-type neighbour-advertisement -j ACCEPT\n\
         -A INPUT -d {DARK_V6}/128 -j DROP\n\
         COMMIT\n"
    )
}

static SWEEP_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A running sweep lab; dropping it deletes both namespaces.
pub struct SweepLab {
    scanner_ns: String,
    target_ns: String,
    created: Vec<String>,
    _listener: Option<TcpListener>,
}

impl SweepLab {
    /// Build with unique names (`vgs-<pid>-<n>`, `vgt-<pid>-<n>`, n from
    /// 100000 up so they never meet [`crate::Lab`]'s).
    pub fn new() -> anyhow::Result<SweepLab> {
        require_root()?;
        remove_stale();
        let n = 100_000 + SWEEP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        SweepLab::with_names(&format!("vgs-{pid}-{n}"), &format!("vgt-{pid}-{n}"))
    }

    /// Build with the given namespace names (which must not exist).
    pub fn with_names(scanner_ns: &str, target_ns: &str) -> anyhow::Result<SweepLab> {
        require_root()?;
        let mut lab = SweepLab {
            scanner_ns: scanner_ns.to_owned(),
            target_ns: target_ns.to_owned(),
            created: Vec::new(),
            _listener: None,
        };
        lab.build()
            .with_context(|| format!("building sweep lab {scanner_ns} / {target_ns}"))?;
        Ok(lab)
    }

    fn build(&mut self) -> anyhow::Result<()> {
        let (s, t) = (self.scanner_ns.clone(), self.target_ns.clone());
        let target_sysctl = [
            "net.ipv4.icmp_ratelimit=0",
            "net.ipv4.icmp_ratemask=0",
            "net.ipv4.icmp_msgs_per_sec=1000000",
            "net.ipv4.icmp_msgs_burst=1000000",
            "net.ipv6.icmp.ratelimit=0",
            "net.ipv4.tcp_syncookies=1",
            "net.ipv4.tcp_max_syn_backlog=65536",
        ];
        super::create_pair(&s, &t, &mut self.created, &target_sysctl)?;
        let scanner = format!(
            "link set lo up\naddr add {SCANNER_V4}/24 dev {SCANNER_IF}\n\
             addr add {SCANNER_V6}/64 dev {SCANNER_IF} nodad\nlink set {SCANNER_IF} up\n\
             route add {SWEEP_BASE}/{SWEEP_PREFIX} via {TARGET_V4}\n"
        );
        let mut target = format!(
            "link set lo up\naddr add {TARGET_V4}/24 dev {TARGET_IF}\n\
             addr add {TARGET_V6}/64 dev {TARGET_IF} nodad\n\
             addr add {DARK_V6}/64 dev {TARGET_IF} nodad\nlink set {TARGET_IF} up\n\
             route add local {SWEEP_BASE}/{SWEEP_PREFIX} dev lo\n"
        );
        for d in DARK_V4 {
            target.push_str(&format!("addr add {d}/24 dev {TARGET_IF}\n"));
        }
        run_with_input(
            Command::new("ip").args(["-netns", &s, "-batch", "-"]),
            &scanner,
        )?;
        run_with_input(
            Command::new("ip").args(["-netns", &t, "-batch", "-"]),
            &target,
        )?;
        run_with_input(
            Command::new("ip").args(["netns", "exec", &t, "iptables-restore"]),
            &rules_v4(),
        )?;
        run_with_input(
            Command::new("ip").args(["netns", "exec", &t, "ip6tables-restore"]),
            &rules_v6(),
        )?;
        // A listener on every local address, port 443: the /16's SYN-443
        // class answers SYN-ACK.
        let listener = in_netns(&t, || {
            let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            sock.set_reuse_address(true)?;
            sock.bind(&std::net::SocketAddr::from((Ipv4Addr::UNSPECIFIED, 443)).into())?;
            sock.listen(4096)?;
            Ok::<TcpListener, std::io::Error>(sock.into())
        })?
        .context("listen on 443 in the target namespace")?;
        self._listener = Some(listener);
        Ok(())
    }

    pub fn scanner_ns(&self) -> &str {
        &self.scanner_ns
    }

    pub fn target_ns(&self) -> &str {
        &self.target_ns
    }

    /// `ip netns exec <scanner ns> program`.
    pub fn scanner_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        super::netns_cmd(&self.scanner_ns, program.as_ref())
    }

    /// `ip netns exec <target ns> program`.
    pub fn target_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        super::netns_cmd(&self.target_ns, program.as_ref())
    }

    /// The target's veth address (answers everything).
    pub fn target_v4(&self) -> Ipv4Addr {
        TARGET_V4
    }

    pub fn target_v6(&self) -> Ipv6Addr {
        TARGET_V6
    }

    /// The MAC address of the target's veth, as `ip link` reports it.
    pub fn target_mac(&self) -> anyhow::Result<[u8; 6]> {
        let out = self
            .target_cmd("cat")
            .arg(format!("/sys/class/net/{TARGET_IF}/address"))
            .output()
            .context("read the target MAC")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut mac = [0u8; 6];
        let parts: Vec<&str> = text.trim().split(':').collect();
        anyhow::ensure!(parts.len() == 6, "bad MAC {text:?}");
        for (m, p) in mac.iter_mut().zip(parts) {
            *m = u8::from_str_radix(p, 16)?;
        }
        Ok(mac)
    }

    /// Ground truth for any address the tests sweep: the /16 by class,
    /// the veth target up (it answers everything), the dark addresses
    /// down to IP probes.
    pub fn truth(&self, a: IpAddr) -> SweepClass {
        match a {
            IpAddr::V4(v) if v == TARGET_V4 => SweepClass::Open,
            IpAddr::V4(v) => class_of(v).unwrap_or(SweepClass::Down),
            IpAddr::V6(v) if v == TARGET_V6 => SweepClass::Open,
            IpAddr::V6(_) => SweepClass::Down,
        }
    }
}

impl Drop for SweepLab {
    fn drop(&mut self) {
        self._listener = None;
        delete_namespaces(&self.created);
    }
}

impl std::fmt::Debug for SweepLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SweepLab")
            .field("scanner_ns", &self.scanner_ns)
            .field("target_ns", &self.target_ns)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_the_16() {
        let mut counts = std::collections::HashMap::new();
        for i in 0..65536u32 {
            let a = Ipv4Addr::from(u32::from(SWEEP_BASE) + i);
            *counts.entry(class_of(a).unwrap()).or_insert(0) += 1;
        }
        assert_eq!(counts[&SweepClass::Down], 32768);
        for c in [
            SweepClass::Syn443,
            SweepClass::Echo,
            SweepClass::Ack80,
            SweepClass::Open,
        ] {
            assert_eq!(counts[&c], 8192, "{c:?}");
        }
        assert_eq!(
            class_of(Ipv4Addr::new(198, 19, 1, 128)),
            Some(SweepClass::Syn443)
        );
        assert_eq!(
            class_of(Ipv4Addr::new(198, 19, 1, 127)),
            Some(SweepClass::Down)
        );
        assert_eq!(class_of(Ipv4Addr::new(198, 18, 1, 127)), None);
    }

    #[test]
    fn rules_name_every_filtered_block() {
        let r = rules_v4();
        assert_eq!(r.matches(" -j SW_").count(), 448);
        assert!(r.contains("-A INPUT -d 198.19.1.128/25 -j SW_SYN443\n"));
        assert!(r.contains("-A INPUT -d 198.19.2.0/25 -j SW_ECHO\n"));
        assert!(r.contains("-A INPUT -d 198.19.2.128/25 -j SW_ACK80\n"));
        assert!(!r.contains("198.19.3.0/25"));
        assert!(r.contains("-A INPUT -d 198.18.0.3/32 -j DROP\n"));
    }
}
