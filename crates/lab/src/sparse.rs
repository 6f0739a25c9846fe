//! A sparse on-link /24: the scanner sits on 198.18.0.1/24 and the target
//! namespace, on the same veth segment, owns only three addresses of it
//! ([`LIVE`]). Every other address of 198.18.0.0/24 answers nothing, not
//! even ARP: a scanner that asks the neighbours finds three hosts; one that
//! sends at the IP layer waits on the kernel's neighbour queue for 253.
//!
//! TCP on the three hosts: listeners on [`OPEN`] (every address), plus
//! per-host rules (see [`SparseLab::expect`]); every other port closed.
//! ICMP rate limiting is off in the target.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use anyhow::Context;

use super::{
    accept_loop, delete_namespaces, in_netns, listen, remove_stale, require_root, run_with_input,
    SCANNER_IF, SCANNER_V4, TARGET_IF,
};

/// The three addresses the target answers for.
pub const LIVE: [Ipv4Addr; 3] = [
    Ipv4Addr::new(198, 18, 0, 2),
    Ipv4Addr::new(198, 18, 0, 77),
    Ipv4Addr::new(198, 18, 0, 200),
];
/// The scanned network.
pub const NET: &str = "198.18.0.0/24";
/// Listening on every live address.
pub const OPEN: [u16; 3] = [22, 80, 443];
/// 198.18.0.77 drops these (filtered, no-response).
pub const DROP_77: [u16; 2] = [80, 3389];
/// 198.18.0.200 answers these with a TCP reset from a REJECT rule in front
/// of the listener (closed, reset).
pub const RST_200: [u16; 1] = [443];
/// 198.18.0.200 answers these with ICMP admin-prohibited (filtered).
pub const ADMIN_200: [u16; 1] = [25];

static SPARSE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A running sparse lab; dropping it deletes both namespaces.
pub struct SparseLab {
    scanner_ns: String,
    target_ns: String,
    created: Vec<String>,
    stop: Arc<AtomicBool>,
    acceptors: Vec<JoinHandle<()>>,
}

impl SparseLab {
    /// Build with unique names (`vgs-<pid>-<n>`, `vgt-<pid>-<n>`, n from
    /// 200000 up so they never meet the other labs').
    pub fn new() -> anyhow::Result<SparseLab> {
        require_root()?;
        remove_stale();
        let n = 200_000 + SPARSE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        SparseLab::with_names(&format!("vgs-{pid}-{n}"), &format!("vgt-{pid}-{n}"))
    }

    /// Build with the given namespace names (which must not exist).
    pub fn with_names(scanner_ns: &str, target_ns: &str) -> anyhow::Result<SparseLab> {
        require_root()?;
        let mut lab = SparseLab {
            scanner_ns: scanner_ns.to_owned(),
            target_ns: target_ns.to_owned(),
            created: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            acceptors: Vec::new(),
        };
        lab.build()
            .with_context(|| format!("building sparse lab {scanner_ns} / {target_ns}"))?;
        Ok(lab)
    }

    fn build(&mut self) -> anyhow::Result<()> {
        let (s, t) = (self.scanner_ns.clone(), self.target_ns.clone());
        let sysctl = [
            "net.ipv4.icmp_ratelimit=0",
            "net.ipv4.icmp_ratemask=0",
            "net.ipv4.tcp_syncookies=1",
        ];
        super::create_pair(&s, &t, &mut self.created, &sysctl)?;
        run_with_input(
            Command::new("ip").args(["-netns", &s, "-batch", "-"]),
            &format!(
                "link set lo up\naddr add {SCANNER_V4}/24 dev {SCANNER_IF}\nlink set {SCANNER_IF} up\n"
            ),
        )?;
        let mut target = String::from("link set lo up\n");
        for a in LIVE {
            target.push_str(&format!("addr add {a}/24 dev {TARGET_IF}\n"));
        }
        target.push_str(&format!("link set {TARGET_IF} up\n"));
        run_with_input(
            Command::new("ip").args(["-netns", &t, "-batch", "-"]),
            &target,
        )?;
        run_with_input(
            Command::new("ip").args(["netns", "exec", &t, "iptables-restore"]),
            &rules(),
        )?;
        let listeners = in_netns(&t, || -> std::io::Result<Vec<TcpListener>> {
            OPEN.iter()
                .map(|&p| listen(SocketAddr::from((Ipv4Addr::UNSPECIFIED, p))))
                .collect()
        })?
        .context("listeners in the target namespace")?;
        for l in listeners {
            let stop = Arc::clone(&self.stop);
            self.acceptors.push(
                thread::Builder::new()
                    .name("lab-sparse-accept".to_owned())
                    .spawn(move || accept_loop(&l, &stop))?,
            );
        }
        Ok(())
    }

    pub fn scanner_ns(&self) -> &str {
        &self.scanner_ns
    }

    pub fn target_ns(&self) -> &str {
        &self.target_ns
    }

    pub fn scanner_v4(&self) -> Ipv4Addr {
        SCANNER_V4
    }

    /// `ip netns exec <scanner ns> program`.
    pub fn scanner_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        super::netns_cmd(&self.scanner_ns, program.as_ref())
    }

    /// `ip netns exec <target ns> program`.
    pub fn target_cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        super::netns_cmd(&self.target_ns, program.as_ref())
    }

    /// Is `a` one of the three live hosts?
    pub fn is_live(a: IpAddr) -> bool {
        matches!(a, IpAddr::V4(v) if LIVE.contains(&v))
    }

    /// Ground truth for a TCP port of a live host, as nmap prints it for
    /// `-sS`: (state, reason). `None` for an address that is not live.
    pub fn expect(a: IpAddr, port: u16) -> Option<(&'static str, &'static str)> {
        let IpAddr::V4(v) = a else { return None };
        if !LIVE.contains(&v) {
            return None;
        }
        let o = v.octets()[3];
        Some(if o == 77 && DROP_77.contains(&port) {
            ("filtered", "no-response")
        } else if o == 200 && ADMIN_200.contains(&port) {
            ("filtered", "admin-prohibited")
        } else if o == 200 && RST_200.contains(&port) {
            ("closed", "reset")
        } else if OPEN.contains(&port) {
            ("open", "syn-ack")
        } else {
            ("closed", "reset")
        })
    }

    /// Every port with a rule or a listener behind it.
    pub fn special_ports() -> Vec<u16> {
        let mut v: Vec<u16> = OPEN
            .iter()
            .chain(&DROP_77)
            .chain(&RST_200)
            .chain(&ADMIN_200)
            .copied()
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

fn rules() -> String {
    let mut s = String::from("*filter\n:INPUT ACCEPT [0:0]\n");
    let (h77, h200) = (LIVE[1], LIVE[2]);
    for p in DROP_77 {
        s.push_str(&format!(
            "-A INPUT -i {TARGET_IF} -d {h77}/32 -p tcp --dport {p} -j DROP\n"
        ));
    }
    for p in ADMIN_200 {
        s.push_str(&format!(
            "-A INPUT -i {TARGET_IF} -d {h200}/32 -p tcp --dport {p} -j REJECT --reject-with icmp-admin-prohibited\n"
        ));
    }
    for p in RST_200 {
        s.push_str(&format!(
            "-A INPUT -i {TARGET_IF} -d {h200}/32 -p tcp --dport {p} -j REJECT --reject-with tcp-reset\n"
        ));
    }
    s.push_str("COMMIT\n");
    s
}

impl Drop for SparseLab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.acceptors.drain(..) {
            let _ = t.join();
        }
        delete_namespaces(&self.created);
    }
}

impl std::fmt::Debug for SparseLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparseLab")
            .field("scanner_ns", &self.scanner_ns)
            .field("target_ns", &self.target_ns)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth() {
        let a = |o: u8| IpAddr::V4(Ipv4Addr::new(198, 18, 0, o));
        assert_eq!(SparseLab::expect(a(2), 80), Some(("open", "syn-ack")));
        assert_eq!(
            SparseLab::expect(a(77), 80),
            Some(("filtered", "no-response"))
        );
        assert_eq!(SparseLab::expect(a(77), 22), Some(("open", "syn-ack")));
        assert_eq!(SparseLab::expect(a(200), 443), Some(("closed", "reset")));
        assert_eq!(
            SparseLab::expect(a(200), 25),
            Some(("filtered", "admin-prohibited"))
        );
        assert_eq!(SparseLab::expect(a(2), 25), Some(("closed", "reset")));
        assert_eq!(SparseLab::expect(a(3), 80), None);
        assert_eq!(SparseLab::expect(a(1), 80), None);
        assert_eq!(SparseLab::special_ports(), vec![22, 25, 80, 443, 3389]);
        let r = rules();
        assert!(r.contains("-d 198.18.0.77/32 -p tcp --dport 3389 -j DROP\n"));
        assert!(
            r.contains("-d 198.18.0.200/32 -p tcp --dport 443 -j REJECT --reject-with tcp-reset\n")
        );
    }
}
