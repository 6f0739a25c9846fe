//! `vigie watch --block`: the opt-in response, built so that it cannot be
//! turned against the host.
//!
//! A raw probe's source address proves nothing: blocking on it would let
//! anyone have the host block a victim of their choice. So [`Policy`] only
//! lets through a source that *completed a TCP handshake* with this host
//! (it acknowledged the host's own initial sequence number, which a forger
//! never sees), that is not part of a decoy group, not allow-listed, not
//! one of the host's own addresses or its gateways, and not loopback,
//! link-local, multicast, broadcast or unspecified.
//!
//! [`Nft`] keeps the blocks in an nftables table of its own, `inet vigie`:
//! one set per family with `flags timeout`, a bounded `size` (the kernel
//! refuses elements past it) and the `--block-for` timeout, and an input
//! chain dropping what the sets hold. Additions are rate-limited; the table
//! is removed on exit (and replaced at start, if a killed run left it).

use std::io::{self, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The most addresses a set holds.
pub const SET_SIZE: u32 = 65_536;
/// Additions per second, at most (a burst of this many, then this rate).
pub const BLOCKS_PER_SEC: f64 = 10.0;

/// Addresses never blocked, and why.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `--allow`: networks (address, prefix length).
    pub allow: Vec<(IpAddr, u8)>,
    /// The host's own addresses.
    pub own: Vec<IpAddr>,
    /// Its gateways (next hops of its routes).
    pub gateways: Vec<IpAddr>,
}

/// What the watcher knows of a source when it asks to block it.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub src: IpAddr,
    /// Completed handshakes seen from it.
    pub handshakes: u64,
    /// It came in a group (decoys, a scan split over sources).
    pub grouped: bool,
}

impl Policy {
    /// `None`: may be blocked; else the reason it may not.
    pub fn refuse(&self, a: &Ask) -> Option<&'static str> {
        let ip = canonical(a.src);
        if a.handshakes == 0 {
            return Some("no completed handshake (a raw probe's source may be forged)");
        }
        if a.grouped {
            return Some("a decoy group (any of its sources may be forged)");
        }
        if special(ip) {
            return Some("loopback, link-local, multicast, broadcast or unspecified");
        }
        if self.own.iter().any(|o| canonical(*o) == ip) {
            return Some("one of this host's own addresses");
        }
        if self.gateways.iter().any(|g| canonical(*g) == ip) {
            return Some("a gateway of this host");
        }
        if self.allow.iter().any(|(n, p)| in_net(ip, *n, *p)) {
            return Some("allowed (--allow)");
        }
        None
    }
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they are.
fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => a,
        },
        v4 => v4,
    }
}

fn special(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            v.is_loopback()
                || v.is_link_local()
                || v.is_multicast()
                || v.is_broadcast()
                || v.is_unspecified()
                || v.octets()[0] == 0
        }
        IpAddr::V6(v) => {
            v.is_loopback()
                || v.is_multicast()
                || v.is_unspecified()
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

fn in_net(a: IpAddr, net: IpAddr, prefix: u8) -> bool {
    use vigie_netio::link::same_prefix;
    match (a, canonical(net)) {
        (IpAddr::V4(a), IpAddr::V4(n)) => same_prefix(&a.octets(), &n.octets(), prefix),
        (IpAddr::V6(a), IpAddr::V6(n)) => same_prefix(&a.octets(), &n.octets(), prefix),
        _ => false,
    }
}

/// `198.18.0.0/24`, `fd00::1`, `198.18.0.7`: an address or a network.
pub fn parse_net(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("--allow: '{s}' is not an address or a network"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return Err(format!("--allow: bad prefix length in '{s}' (0-{max})")),
        },
    };
    Ok((canonical(ip), prefix))
}

/// The host's gateways, from the kernel's route tables (`/proc/net/route`,
/// `/proc/net/ipv6_route`); unreadable tables give none.
pub fn gateways() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/proc/net/route") {
        out.extend(gateways_v4(&t));
    }
    if let Ok(t) = std::fs::read_to_string("/proc/net/ipv6_route") {
        out.extend(gateways_v6(&t));
    }
    out.sort();
    out.dedup();
    out
}

/// `/proc/net/route`: the third column, a little-endian hex IPv4 address.
fn gateways_v4(table: &str) -> Vec<IpAddr> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter_map(|g| u32::from_str_radix(g, 16).ok())
        .filter(|g| *g != 0)
        .map(|g| IpAddr::V4(std::net::Ipv4Addr::from(g.swap_bytes())))
        .collect()
}

/// `/proc/net/ipv6_route`: the fifth column, 32 hex digits.
fn gateways_v6(table: &str) -> Vec<IpAddr> {
    table
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter_map(|g| u128::from_str_radix(g, 16).ok())
        .filter(|g| *g != 0)
        .map(|g| IpAddr::V6(std::net::Ipv6Addr::from(g)))
        .collect()
}

/// The nftables script that (re)creates vigie's table.
fn setup_script(block_for: Duration) -> String {
    let t = block_for.as_secs().max(1);
    format!(
        "add table inet vigie\n\
         delete table inet vigie\n\
         table inet vigie {{\n\
         \x20 set v4 {{ type ipv4_addr; flags timeout; size {SET_SIZE}; timeout {t}s; }}\n\
         \x20 set v6 {{ type ipv6_addr; flags timeout; size {SET_SIZE}; timeout {t}s; }}\n\
         \x20 chain input {{\n\
         \x20   type filter hook input priority -10; policy accept;\n\
         \x20   ip saddr @v4 drop\n\
         \x20   ip6 saddr @v6 drop\n\
         \x20 }}\n\
         }}\n"
    )
}

/// Runs `nft -f -` with `script` on its stdin.
fn nft(script: &str) -> io::Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot run nft (install nftables): {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(io::Error::other(format!(
            "nft: {}",
            err.lines().next().unwrap_or("failed")
        )))
    }
}

/// vigie's nftables table, removed when dropped.
#[derive(Debug)]
pub struct Nft {
    tokens: f64,
    last: Instant,
    /// Blocks not made because of the rate limit.
    pub limited: u64,
    /// Blocks made.
    pub blocked: u64,
}

impl Nft {
    /// Creates the table (replacing one a killed run left behind).
    pub fn setup(block_for: Duration) -> io::Result<Nft> {
        nft(&setup_script(block_for))?;
        Ok(Nft {
            tokens: BLOCKS_PER_SEC,
            last: Instant::now(),
            limited: 0,
            blocked: 0,
        })
    }

    /// Adds `a` to its family's set (the set's timeout applies). `false`:
    /// not now, the rate limit is reached.
    pub fn block(&mut self, a: IpAddr) -> io::Result<bool> {
        let now = Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * BLOCKS_PER_SEC).min(BLOCKS_PER_SEC);
        if self.tokens < 1.0 {
            self.limited += 1;
            return Ok(false);
        }
        self.tokens -= 1.0;
        let (set, ip) = match canonical(a) {
            IpAddr::V4(v) => ("v4", v.to_string()),
            IpAddr::V6(v) => ("v6", v.to_string()),
        };
        nft(&format!("add element inet vigie {set} {{ {ip} }}\n"))?;
        self.blocked += 1;
        Ok(true)
    }
}

impl Drop for Nft {
    fn drop(&mut self) {
        let _ = nft("delete table inet vigie\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(s: &str, handshakes: u64, grouped: bool) -> Ask {
        Ask {
            src: s.parse().unwrap(),
            handshakes,
            grouped,
        }
    }

    fn policy() -> Policy {
        Policy {
            allow: vec![
                parse_net("198.18.5.0/24").unwrap(),
                parse_net("fd00::77").unwrap(),
            ],
            own: vec!["198.18.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
            gateways: vec!["198.18.0.1".parse().unwrap()],
        }
    }

    #[test]
    fn only_real_sources_that_are_not_protected() {
        let p = policy();
        assert_eq!(p.refuse(&ask("198.18.0.11", 1, false)), None);
        assert_eq!(p.refuse(&ask("fd00::11", 3, false)), None);
        assert!(p.refuse(&ask("198.18.0.11", 0, false)).is_some());
        assert!(p.refuse(&ask("198.18.0.11", 5, true)).is_some());
        for never in [
            "198.18.0.2",
            "::ffff:198.18.0.2",
            "fd00::2",
            "198.18.0.1",
            "198.18.5.200",
            "fd00::77",
            "127.0.0.1",
            "::1",
            "169.254.1.1",
            "fe80::1",
            "224.0.0.1",
            "ff02::1",
            "255.255.255.255",
            "0.0.0.0",
            "::",
        ] {
            assert!(p.refuse(&ask(never, 9, false)).is_some(), "{never}");
        }
        assert_eq!(p.refuse(&ask("198.18.4.255", 1, false)), None);
    }

    #[test]
    fn networks() {
        assert_eq!(
            parse_net("198.18.0.0/15").unwrap(),
            ("198.18.0.0".parse().unwrap(), 15)
        );
        assert_eq!(
            parse_net("fd00::1").unwrap(),
            ("fd00::1".parse().unwrap(), 128)
        );
        assert!(parse_net("198.18.0.0/33").is_err());
        assert!(parse_net("fd00::/129").is_err());
        assert!(parse_net("nope").is_err());
        assert!(in_net(
            "198.19.255.1".parse().unwrap(),
            "198.18.0.0".parse().unwrap(),
            15
        ));
        assert!(!in_net(
            "198.20.0.1".parse().unwrap(),
            "198.18.0.0".parse().unwrap(),
            15
        ));
        assert!(!in_net(
            "fd00::1".parse().unwrap(),
            "198.18.0.0".parse().unwrap(),
            0
        ));
    }

    #[test]
    fn route_tables() {
        let v4 = "Iface\tDestination\tGateway \tFlags\n\
                  veth0\t00000000\t010012C6\t0003\n\
                  veth0\t000012C6\t00000000\t0001\n";
        assert_eq!(gateways_v4(v4), ["198.18.0.1".parse::<IpAddr>().unwrap()]);
        let v6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 \
                  00000000000000000000000000000000 00000100 00000001 00000000 00000001 veth0\n\
                  00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  fd000000000000000000000000000001 00000400 00000003 00000000 00000003 veth0\n";
        assert_eq!(gateways_v6(v6), ["fd00::1".parse::<IpAddr>().unwrap()]);
    }

    /// The real thing, in a network namespace of the test's own (its
    /// nftables are its own too): the table made, an address blocked, the
    /// rate limit, and nothing left after drop.
    #[test]
    fn live_table_in_an_empty_namespace() {
        let run = || -> Result<(), String> {
            vigie_netio::netns::unshare_thread().map_err(|e| format!("unshare (root?): {e}"))?;
            let list = || {
                let out = Command::new("nft")
                    .args(["list", "ruleset"])
                    .output()
                    .expect("nft (.ci/run installs nftables)");
                String::from_utf8_lossy(&out.stdout).into_owned()
            };
            {
                let mut t = Nft::setup(Duration::from_secs(60)).map_err(|e| e.to_string())?;
                // Set up again over a table left behind: replaced.
                let mut t2 = Nft::setup(Duration::from_secs(60)).map_err(|e| e.to_string())?;
                assert!(t.block("198.18.0.11".parse().unwrap()).unwrap());
                assert!(t.block("fd00::11".parse().unwrap()).unwrap());
                let rules = list();
                assert!(rules.contains("table inet vigie"), "{rules}");
                assert!(rules.contains("198.18.0.11"), "{rules}");
                assert!(rules.contains("fd00::11"), "{rules}");
                // A burst past the limit is cut.
                let mut made = 0;
                for i in 0..40u8 {
                    let a = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 1, i));
                    made += usize::from(t2.block(a).unwrap());
                }
                assert!(made <= BLOCKS_PER_SEC as usize + 1, "{made}");
                assert!(t2.limited > 0);
            }
            let rules = list();
            assert!(!rules.contains("vigie"), "left behind: {rules}");
            Ok(())
        };
        std::thread::spawn(run)
            .join()
            .expect("the test thread")
            .expect("nftables in an empty namespace");
    }

    #[test]
    fn the_table_is_bounded_and_times_out() {
        let s = setup_script(Duration::from_secs(600));
        assert!(s.starts_with("add table inet vigie\ndelete table inet vigie\n"));
        assert!(s.contains("set v4 { type ipv4_addr; flags timeout; size 65536; timeout 600s; }"));
        assert!(s.contains("set v6 { type ipv6_addr; flags timeout; size 65536; timeout 600s; }"));
        assert!(s.contains("ip saddr @v4 drop") && s.contains("ip6 saddr @v6 drop"));
    }
}
