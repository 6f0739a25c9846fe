//! UDP in the lab: a target with a real DNS server (dnsmasq), UDP echo
//! responders, a responder that answers DNS with the wrong transaction id,
//! dropped ports, ICMP-admin-prohibited ports, and every other port closed —
//! with the kernel's default ICMP rate limit left ON (unless the layout
//! turns it off), so closed ports are only seen through a trickle of port
//! unreachables. A layout may also drop a whole range of ports and count
//! every datagram that reaches it, or forbid the target any ICMP at all.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::{in_netns, Lab, Layout};

/// Which UDP ports of the target are what. A port in no list is closed.
/// Precedence: drop, then admin, then the services, then `drop_range`
/// (whose rule comes after an ACCEPT for every service and `pass` port
/// inside it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UdpLayout {
    /// dnsmasq listens here (normally 53).
    pub dns: Option<u16>,
    /// Echo every datagram back.
    pub echo: Vec<u16>,
    /// Answer every datagram with a DNS response whose transaction id is
    /// wrong: a scanner that checks ids sees silence.
    pub wrong_txid: Vec<u16>,
    /// `-j DROP`.
    pub drop: Vec<u16>,
    /// `REJECT --reject-with icmp-admin-prohibited` / `icmp6-adm-prohibited`.
    pub admin: Vec<u16>,
    /// A range of ports (inclusive) dropped by one rule, except the service
    /// ports and the `pass` ports inside it. Every datagram to the range,
    /// whatever becomes of it, is counted: see [`UdpLab::range_datagrams`].
    pub drop_range: Option<(u16, u16)>,
    /// Ports inside `drop_range` that are let through: closed unless a
    /// service listens there.
    pub pass: Vec<u16>,
    /// The target sends no ICMP error at all (iptables OUTPUT drops them),
    /// so a closed port is as silent as a dropped one.
    pub no_icmp: bool,
    /// `net.ipv4.icmp_ratelimit=0` (and the IPv6 one, and the rate masks
    /// emptied): every closed port answers at once.
    pub icmp_ratelimit_off: bool,
}

/// The iptables chain whose one rule counts the datagrams to `drop_range`.
const COUNT_CHAIN: &str = "VG_COUNT";

impl UdpLayout {
    /// dnsmasq on 53; echo on 7, 161, 500, 31337, 40000; wrong txid on
    /// 5353; dropped 69, 111, 137, 4500, 7000-7004; admin-prohibited 135,
    /// 9002; everything else closed.
    pub fn standard() -> UdpLayout {
        UdpLayout {
            dns: Some(53),
            echo: vec![7, 161, 500, 31337, 40000],
            wrong_txid: vec![5353],
            drop: vec![69, 111, 137, 4500, 7000, 7001, 7002, 7003, 7004],
            admin: vec![135, 9002],
            ..UdpLayout::default()
        }
    }

    /// Every port of `lo..=hi` dropped and counted; nothing else special.
    pub fn dropped_range(lo: u16, hi: u16) -> UdpLayout {
        UdpLayout {
            drop_range: Some((lo, hi)),
            ..UdpLayout::default()
        }
    }

    fn in_drop_range(&self, port: u16) -> bool {
        self.drop_range
            .is_some_and(|(lo, hi)| (lo..=hi).contains(&port))
            && !self.pass.contains(&port)
            && !self.is_service(port)
    }

    fn is_service(&self, port: u16) -> bool {
        self.dns == Some(port) || self.echo.contains(&port) || self.wrong_txid.contains(&port)
    }

    /// The ports the full test scans: 1-1000 plus every special port above
    /// 1000 (1010 ports).
    pub fn test_ports() -> String {
        "U:1-1000,4500,5353,7000-7004,9002,31337,40000".to_owned()
    }

    /// Ground truth: the (state, reason) nmap prints for this UDP port
    /// (the same over IPv4 and IPv6).
    ///
    /// Any UDP datagram from the probed port back to the probe's source
    /// port is an answer, so the port is open: dnsmasq, the echo services
    /// and the wrong-txid responder alike (nmap reads them all as `open`,
    /// `udp-response`; a payload check may add confidence, never downgrade
    /// it). A closed port on a target that sends no ICMP is as silent as a
    /// dropped one: `open|filtered`.
    pub fn expect_udp(&self, port: u16) -> (&'static str, &'static str) {
        if self.drop.contains(&port) {
            ("open|filtered", "no-response")
        } else if self.admin.contains(&port) {
            if self.no_icmp {
                ("open|filtered", "no-response")
            } else {
                ("filtered", "admin-prohibited")
            }
        } else if self.is_service(port) {
            ("open", "udp-response")
        } else if self.in_drop_range(port) || self.no_icmp {
            ("open|filtered", "no-response")
        } else {
            ("closed", "port-unreach")
        }
    }

    fn rules(&self, v6: bool) -> String {
        let mut r = format!(
            "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:{COUNT_CHAIN} - [0:0]\n\
             -A {COUNT_CHAIN} -j RETURN\n"
        );
        if let Some((lo, hi)) = self.drop_range {
            r += &format!("-A INPUT -p udp --dport {lo}:{hi} -j {COUNT_CHAIN}\n");
        }
        for p in &self.drop {
            r += &format!("-A INPUT -p udp --dport {p} -j DROP\n");
        }
        let with = if v6 {
            "icmp6-adm-prohibited"
        } else {
            "icmp-admin-prohibited"
        };
        for p in &self.admin {
            r += &format!("-A INPUT -p udp --dport {p} -j REJECT --reject-with {with}\n");
        }
        if let Some((lo, hi)) = self.drop_range {
            let mut keep: Vec<u16> = self
                .pass
                .iter()
                .chain(&self.echo)
                .chain(&self.wrong_txid)
                .chain(&self.dns)
                .copied()
                .filter(|p| (lo..=hi).contains(p))
                .collect();
            keep.sort_unstable();
            keep.dedup();
            for p in keep {
                r += &format!("-A INPUT -p udp --dport {p} -j ACCEPT\n");
            }
            r += &format!("-A INPUT -p udp --dport {lo}:{hi} -j DROP\n");
        }
        if self.no_icmp {
            // Errors only: neighbour discovery (ICMPv6) must keep working.
            r += if v6 {
                "-A OUTPUT -p ipv6-icmp --icmpv6-type destination-unreachable -j DROP\n"
            } else {
                "-A OUTPUT -p icmp --icmp-type destination-unreachable -j DROP\n"
            };
        }
        r + "COMMIT\n"
    }
}

/// A running UDP lab: a [`Lab`] (no TCP rules, ICMP rate limit at the
/// kernel's default) plus the UDP services and rules of a [`UdpLayout`].
pub struct UdpLab {
    layout: UdpLayout,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    dnsmasq: Option<Child>,
    // Dropped last: the namespaces go after the services stop.
    lab: Lab,
}

impl UdpLab {
    pub fn new(layout: &UdpLayout) -> anyhow::Result<UdpLab> {
        let lab = Lab::new(&Layout {
            icmp_ratelimit_off: layout.icmp_ratelimit_off,
            ..Layout::default()
        })?;
        let mut u = UdpLab {
            layout: layout.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            dnsmasq: None,
            lab,
        };
        u.build().context("building the UDP lab")?;
        Ok(u)
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    pub fn layout(&self) -> &UdpLayout {
        &self.layout
    }

    /// How many datagrams (IPv4 and IPv6) have reached the layout's
    /// `drop_range` since the lab was built or [`UdpLab::zero_counters`]:
    /// the packet counter of the first INPUT rule that matches the range,
    /// so dropped, passed and answered datagrams all count.
    pub fn range_datagrams(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for tool in ["iptables", "ip6tables"] {
            let out = self
                .lab
                .target_cmd(tool)
                .args(["-w", "-n", "-v", "-x", "-L", COUNT_CHAIN])
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("run {tool} -L {COUNT_CHAIN}"))?;
            let text = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                bail!(
                    "{tool} -L {COUNT_CHAIN}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            total += count_of_return(&text)
                .with_context(|| format!("no RETURN rule in {tool} {COUNT_CHAIN}:\n{text}"))?;
        }
        Ok(total)
    }

    /// Zero the counter behind [`UdpLab::range_datagrams`].
    pub fn zero_counters(&self) -> anyhow::Result<()> {
        for tool in ["iptables", "ip6tables"] {
            crate::run(self.lab.target_cmd(tool).args(["-w", "-Z", COUNT_CHAIN]))?;
        }
        Ok(())
    }

    fn build(&mut self) -> anyhow::Result<()> {
        for (v6, tool) in [(false, "iptables-restore"), (true, "ip6tables-restore")] {
            crate::run_with_input(
                self.lab.target_cmd(tool).stdin(Stdio::piped()),
                &self.layout.rules(v6),
            )?;
        }
        let addrs = [
            IpAddr::V4(self.lab.target_v4()),
            IpAddr::V6(self.lab.target_v6()),
        ];
        let mut want = Vec::new();
        for &p in &self.layout.echo {
            want.push((p, false));
        }
        for &p in &self.layout.wrong_txid {
            want.push((p, true));
        }
        let sockets = in_netns(self.lab.target_ns(), move || -> std::io::Result<_> {
            let mut out = Vec::new();
            for (p, liar) in want {
                for a in addrs {
                    let s = UdpSocket::bind(SocketAddr::new(a, p))?;
                    s.set_read_timeout(Some(Duration::from_millis(50)))?;
                    out.push((s, liar));
                }
            }
            Ok(out)
        })?
        .context("UDP responders in the target namespace")?;
        for (sock, liar) in sockets {
            let stop = Arc::clone(&self.stop);
            self.threads.push(
                thread::Builder::new()
                    .name("lab-udp".into())
                    .spawn(move || respond(&sock, liar, &stop))?,
            );
        }
        if let Some(port) = self.layout.dns {
            self.start_dnsmasq(port)?;
        }
        Ok(())
    }

    fn start_dnsmasq(&mut self, port: u16) -> anyhow::Result<()> {
        let listen = format!(
            "--listen-address={},{}",
            self.lab.target_v4(),
            self.lab.target_v6()
        );
        let child = self
            .lab
            .target_cmd("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                "--except-interface=lo",
                "--pid-file=",
                "--user=root",
            ])
            .arg(format!("--port={port}"))
            .arg(listen)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start dnsmasq (apt-get install dnsmasq-base)")?;
        self.dnsmasq = Some(child);
        // Ready when it answers a query over both families.
        let targets = [
            SocketAddr::new(IpAddr::V4(self.lab.target_v4()), port),
            SocketAddr::new(IpAddr::V6(self.lab.target_v6()), port),
        ];
        let ok = in_netns(self.lab.scanner_ns(), move || {
            targets.iter().all(|&t| dns_answers(t))
        })?;
        if !ok {
            bail!("dnsmasq does not answer on port {port}");
        }
        Ok(())
    }
}

/// The packet count of the RETURN rule in `iptables -nvxL` output.
fn count_of_return(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[2] == "RETURN")
            .then(|| f[0].parse().ok())
            .flatten()
    })
}

/// Sends a query until a response comes (5 s at most).
fn dns_answers(to: SocketAddr) -> bool {
    let bind: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().unwrap_or(to)
    } else {
        "[::]:0".parse().unwrap_or(to)
    };
    let Ok(s) = UdpSocket::bind(bind) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let query =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07version\x04bind\x00\x00\x10\x00\x03";
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        let _ = s.send_to(query, to);
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            if n >= 2 && buf[..2] == [0x12, 0x34] {
                return true;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

fn respond(sock: &UdpSocket, liar: bool, stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if liar {
            // A DNS response to whatever came, with the id off by one.
            let mut r = buf[..n.max(12)].to_vec();
            let id = u16::from_be_bytes([r[0], r[1]]).wrapping_add(1);
            r[..2].copy_from_slice(&id.to_be_bytes());
            r[2] |= 0x80;
            let _ = sock.send_to(&r, from);
        } else {
            let _ = sock.send_to(&buf[..n], from);
        }
    }
}

impl Drop for UdpLab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        if let Some(mut c) = self.dnsmasq.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl std::fmt::Debug for UdpLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpLab")
            .field("lab", &self.lab)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_table() {
        let l = UdpLayout::standard();
        assert_eq!(l.expect_udp(53), ("open", "udp-response"));
        assert_eq!(l.expect_udp(31337), ("open", "udp-response"));
        // The wrong-txid responder answers from the probed port: open.
        assert_eq!(l.expect_udp(5353), ("open", "udp-response"));
        assert_eq!(l.expect_udp(7002), ("open|filtered", "no-response"));
        assert_eq!(l.expect_udp(135), ("filtered", "admin-prohibited"));
        assert_eq!(l.expect_udp(54), ("closed", "port-unreach"));
        let r = l.rules(true);
        assert!(r.contains("-A INPUT -p udp --dport 69 -j DROP\n"));
        assert!(r.contains("--dport 9002 -j REJECT --reject-with icmp6-adm-prohibited\n"));
        assert!(!r.contains("VG_COUNT\n-A INPUT -p udp --dport 0"));
    }

    #[test]
    fn drop_range_truth_and_rules() {
        let l = UdpLayout {
            echo: vec![20050],
            pass: vec![20100],
            ..UdpLayout::dropped_range(20000, 20199)
        };
        assert_eq!(l.expect_udp(20000), ("open|filtered", "no-response"));
        assert_eq!(l.expect_udp(20199), ("open|filtered", "no-response"));
        assert_eq!(l.expect_udp(20050), ("open", "udp-response"));
        assert_eq!(l.expect_udp(20100), ("closed", "port-unreach"));
        assert_eq!(l.expect_udp(20200), ("closed", "port-unreach"));
        let r = l.rules(false);
        let count = r.find("--dport 20000:20199 -j VG_COUNT").unwrap();
        let echo = r.find("--dport 20050 -j ACCEPT").unwrap();
        let pass = r.find("--dport 20100 -j ACCEPT").unwrap();
        let drop = r.find("--dport 20000:20199 -j DROP").unwrap();
        assert!(count < echo && echo < pass && pass < drop, "{r}");
        assert!(!r.contains("OUTPUT -p icmp"));
        let quiet = UdpLayout {
            no_icmp: true,
            ..l.clone()
        };
        assert_eq!(quiet.expect_udp(20100), ("open|filtered", "no-response"));
        assert!(quiet
            .rules(false)
            .contains("-A OUTPUT -p icmp --icmp-type destination-unreachable -j DROP\n"));
        assert!(quiet
            .rules(true)
            .contains("--icmpv6-type destination-unreachable -j DROP"));
    }

    #[test]
    fn counter_parse() {
        let text = "Chain VG_COUNT (1 references)\n    pkts      bytes target     prot opt in     out     source               destination\n     400    11200 RETURN     all  --  *      *       0.0.0.0/0            0.0.0.0/0\n";
        assert_eq!(count_of_return(text), Some(400));
        assert_eq!(count_of_return("Chain VG_COUNT\n"), None);
    }
}
