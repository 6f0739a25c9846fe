//! The evasion options in the lab. Capture tests: the target namespace
//! records every frame arriving on its veth (before netfilter and before
//! reassembly) while vigie scans with one option, and each frame must carry
//! what was asked — source port, TTL, payload, a wrong checksum, fragments,
//! decoy sources, source address, source MAC. Exact scans: with `-g 53`,
//! `--ttl`, `--data-length`, `-f`, `-ff`, `--mtu`, `-D` and `-S` (an
//! address the scanner owns) every port matches the lab's ground truth, and
//! nmap with the same options on the same lab gives the same table.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use common::*;
use vigie_lab::capture::FrameCapture;
use vigie_lab::{Lab, LabTechnique, Layout};
use vigie_wire::checksum;

/// One lab at a time: captures must not drop frames on two busy cores.
static ONE: Mutex<()> = Mutex::new(());

/// Every class of port of the standard layout: open, closed, dropped,
/// port-unreachable, admin-prohibited, tcp-reset.
const PORTS: &str = "20-30,80,113,135,139,443,445,3306,7000-7004,8080,9001-9003,31337,65535";

fn ports() -> Vec<u16> {
    let mut v: Vec<u16> = (20..=30).collect();
    v.extend([
        80, 113, 135, 139, 443, 445, 3306, 7000, 7001, 7002, 7003, 7004, 8080, 9001, 9002, 9003,
        31337, 65535,
    ]);
    v
}

fn lab() -> Lab {
    vigie_lab::require_root().unwrap();
    Lab::new(&Layout::standard()).expect("build lab")
}

/// An IP packet as it arrived: the frame's MAC source and the IP bytes.
struct Arrived {
    src_mac: [u8; 6],
    ip: Vec<u8>,
}

impl Arrived {
    fn v6(&self) -> bool {
        self.ip[0] >> 4 == 6
    }
    fn src(&self) -> IpAddr {
        if self.v6() {
            IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(&self.ip[8..24]).unwrap(),
            ))
        } else {
            IpAddr::V4(Ipv4Addr::from(
                <[u8; 4]>::try_from(&self.ip[12..16]).unwrap(),
            ))
        }
    }
    fn ttl(&self) -> u8 {
        self.ip[if self.v6() { 7 } else { 8 }]
    }
    /// Protocol and where its header starts (after an IPv6 Fragment
    /// header when there is one).
    fn l4(&self) -> (u8, usize) {
        if self.v6() {
            if self.ip[6] == 44 {
                (self.ip[40], 48)
            } else {
                (self.ip[6], 40)
            }
        } else {
            (self.ip[9], usize::from(self.ip[0] & 15) * 4)
        }
    }
    /// IPv4 (offset in bytes, more fragments), or the IPv6 Fragment
    /// header's; `None` when not a fragment.
    fn frag(&self) -> Option<(usize, bool)> {
        if self.v6() {
            (self.ip[6] == 44).then(|| {
                let w = u16::from_be_bytes([self.ip[42], self.ip[43]]);
                (usize::from(w >> 3) * 8, w & 1 == 1)
            })
        } else {
            let w = u16::from_be_bytes([self.ip[6], self.ip[7]]);
            (w & 0x3fff != 0).then_some((usize::from(w & 0x1fff) * 8, w & 0x2000 != 0))
        }
    }
    fn ip_id(&self) -> u32 {
        if self.v6() {
            u32::from_be_bytes([self.ip[44], self.ip[45], self.ip[46], self.ip[47]])
        } else {
            u32::from(u16::from_be_bytes([self.ip[4], self.ip[5]]))
        }
    }
    /// TCP (source port, destination port, seq) of a whole segment or a
    /// first fragment.
    fn tcp_ports(&self) -> (u16, u16) {
        let (_, at) = self.l4();
        let t = &self.ip[at..];
        (
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
        )
    }
    fn tcp_seq(&self) -> u32 {
        let (_, at) = self.l4();
        let t = &self.ip[at..];
        u32::from_be_bytes([t[4], t[5], t[6], t[7]])
    }
    /// Bytes after the TCP header.
    fn tcp_payload(&self) -> &[u8] {
        let (_, at) = self.l4();
        let doff = usize::from(self.ip[at + 12] >> 4) * 4;
        &self.ip[at + doff..]
    }
    /// The transport checksum verifies (whole packets only).
    fn l4_checksum_ok(&self) -> bool {
        let (proto, at) = self.l4();
        let len = self.ip.len() - at;
        let pseudo = if self.v6() {
            let s = Ipv6Addr::from(<[u8; 16]>::try_from(&self.ip[8..24]).unwrap());
            let d = Ipv6Addr::from(<[u8; 16]>::try_from(&self.ip[24..40]).unwrap());
            checksum::pseudo_v6(&s, &d, proto, len as u32)
        } else {
            let s = Ipv4Addr::from(<[u8; 4]>::try_from(&self.ip[12..16]).unwrap());
            let d = Ipv4Addr::from(<[u8; 4]>::try_from(&self.ip[16..20]).unwrap());
            checksum::pseudo_v4(s, d, proto, len as u16)
        };
        checksum::finish(checksum::sum(&self.ip[at..], pseudo)) == 0
    }
    /// A whole TCP segment with RST set.
    fn kernel_rst(&self) -> bool {
        let (proto, at) = self.l4();
        proto == 6 && self.frag().is_none() && self.ip.get(at + 13).is_some_and(|f| f & 0x04 != 0)
    }

    fn ip_checksum_ok(&self) -> bool {
        self.v6() || checksum::finish(checksum::sum(&self.ip[..20], 0)) == 0
    }
}

/// Runs vigie (to its end) in the scanner namespace with `args` while the
/// target records; returns the IP packets that arrived from any of `from`.
fn captured(lab: &Lab, args: &[&str], from: &[IpAddr]) -> Vec<Arrived> {
    let cap = FrameCapture::start(lab.target_ns(), lab.target_if()).expect("capture");
    let out = lab
        .scanner_cmd(env!("CARGO_BIN_EXE_vigie"))
        .args(args)
        .args(["-n", "-Pn", "--no-history", "-oN", "/dev/null"])
        .output()
        .expect("run vigie");
    check_output("vigie", &out);
    arrivals(cap, from)
}

/// The IP packets a capture saw from any of `from`, less the scanner
/// kernel's RSTs (its answers to SYN-ACKs for ports it has no socket on:
/// not probes).
fn arrivals(cap: FrameCapture, from: &[IpAddr]) -> Vec<Arrived> {
    cap.finish()
        .expect("capture")
        .into_iter()
        .filter(|f| f.len() > 34)
        .map(|f| Arrived {
            src_mac: f[6..12].try_into().unwrap(),
            ip: f[14..].to_vec(),
        })
        .filter(|a| a.ip[0] >> 4 == 4 || a.ip.len() >= 40)
        .filter(|a| from.contains(&a.src()) && !a.kernel_rst())
        .collect()
}

fn tcp_only(v: Vec<Arrived>) -> Vec<Arrived> {
    v.into_iter().filter(|a| a.l4().0 == 6).collect()
}

fn us4(lab: &Lab) -> IpAddr {
    IpAddr::V4(lab.scanner_v4())
}
fn us6(lab: &Lab) -> IpAddr {
    IpAddr::V6(lab.scanner_v6())
}

#[test]
fn capture_source_port_ttl_payload_and_badsum() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    let t4 = lab.target_v4().to_string();
    let t6 = lab.target_v6().to_string();
    for (target, us) in [(&t4, us4(&lab)), (&t6, us6(&lab))] {
        // -g 53
        let got = tcp_only(captured(
            &lab,
            &["-sS", "-p", PORTS, "-g", "53", target],
            &[us],
        ));
        assert!(got.len() >= ports().len(), "{} probes seen", got.len());
        assert!(
            got.iter().all(|a| a.tcp_ports().0 == 53),
            "a probe not from port 53"
        );
        let mut dports: Vec<u16> = got.iter().map(|a| a.tcp_ports().1).collect();
        dports.sort_unstable();
        dports.dedup();
        assert_eq!(dports, ports());
        // --ttl 17 (and the hop limit for IPv6)
        let got = tcp_only(captured(
            &lab,
            &["-sS", "-p", PORTS, "--ttl", "17", target],
            &[us],
        ));
        assert!(got.len() >= ports().len());
        assert!(got.iter().all(|a| a.ttl() == 17));
        // --data-length 40, --data, --data-string
        let got = tcp_only(captured(
            &lab,
            &["-sS", "-p", PORTS, "--data-length", "40", target],
            &[us],
        ));
        assert!(got.len() >= ports().len());
        let first = got[0].tcp_payload().to_vec();
        assert_eq!(first.len(), 40);
        for a in &got {
            assert_eq!(a.tcp_payload(), &first[..], "one random payload per run");
            assert!(a.l4_checksum_ok() && a.ip_checksum_ok());
        }
        let got = tcp_only(captured(
            &lab,
            &["-sF", "-p", PORTS, "--data", "0xdeadbeef", target],
            &[us],
        ));
        assert!(!got.is_empty());
        assert!(got
            .iter()
            .all(|a| a.tcp_payload() == [0xde, 0xad, 0xbe, 0xef]));
        let got = tcp_only(captured(
            &lab,
            &["-sS", "-p", "80", "--data-string", "vigie was here", target],
            &[us],
        ));
        assert!(got.iter().all(|a| a.tcp_payload() == b"vigie was here"));
        // --badsum: the transport checksum is wrong, the IP one right.
        let got = tcp_only(captured(
            &lab,
            &["-sS", "-p", PORTS, "--badsum", "--max-retries", "0", target],
            &[us],
        ));
        assert_eq!(got.len(), ports().len());
        assert!(got
            .iter()
            .all(|a| !a.l4_checksum_ok() && a.ip_checksum_ok()));
    }
    // UDP: --data replaces the per-port payload; -g and --ttl apply.
    let got = captured(
        &lab,
        &[
            "-sU", "-p", "53,161,9", "--data", "0102", "-g", "123", "--ttl", "9", &t4,
        ],
        &[us4(&lab)],
    );
    let udp: Vec<&Arrived> = got.iter().filter(|a| a.l4().0 == 17).collect();
    assert!(udp.len() >= 3);
    for a in udp {
        let (_, at) = a.l4();
        assert_eq!(&a.ip[at..at + 2], &123u16.to_be_bytes());
        assert_eq!(&a.ip[at + 8..], &[1, 2]);
        assert_eq!(a.ttl(), 9);
        assert!(a.l4_checksum_ok());
    }
}

/// Reassembles the fragments of each (source, IP ID) and checks their
/// sizes: every fragment but the last of a packet carries `size` bytes.
fn check_fragments(got: &[Arrived], size: usize) -> Vec<Vec<u8>> {
    let mut by_id: std::collections::BTreeMap<(IpAddr, u32), Vec<&Arrived>> = Default::default();
    for a in got {
        let Some((off, more)) = a.frag() else {
            panic!("a probe was not fragmented ({} bytes)", a.ip.len());
        };
        let hdr = if a.v6() { 48 } else { 20 };
        let n = a.ip.len() - hdr;
        if more {
            assert_eq!(n, size, "fragment at {off} has {n} bytes");
        } else {
            assert!(n <= size && n > 0);
        }
        by_id.entry((a.src(), a.ip_id())).or_default().push(a);
    }
    let mut whole = Vec::new();
    for ((_, id), mut frags) in by_id {
        frags.sort_by_key(|a| a.frag().unwrap().0);
        frags.dedup_by_key(|a| a.frag().unwrap().0);
        let hdr = if frags[0].v6() { 48 } else { 20 };
        let mut data = Vec::new();
        for f in &frags {
            let (off, _) = f.frag().unwrap();
            assert_eq!(off, data.len(), "a hole in the fragments of {id}");
            data.extend_from_slice(&f.ip[hdr..]);
        }
        assert!(
            !frags.last().unwrap().frag().unwrap().1,
            "last fragment of {id} missing"
        );
        whole.push(data);
    }
    whole
}

#[test]
fn capture_fragments() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    let t4 = lab.target_v4().to_string();
    let t6 = lab.target_v6().to_string();
    for (target, us) in [(&t4, us4(&lab)), (&t6, us6(&lab))] {
        for (flag, size) in [
            (&["-f"][..], 8),
            (&["-ff"], 16),
            (&["--mtu", "16", "-f"], 16),
        ] {
            let mut args = vec!["-sS", "-p", PORTS, "--max-retries", "0"];
            args.extend(flag);
            args.push(target);
            let got = tcp_only(captured(&lab, &args, &[us]));
            let whole = check_fragments(&got, size);
            // One SYN per port, each 24 bytes of TCP (header and MSS).
            assert_eq!(whole.len(), ports().len(), "{flag:?} {target}");
            let mut dports: Vec<u16> = whole
                .iter()
                .map(|t| {
                    assert_eq!(t.len(), 24);
                    assert_eq!(t[13] & 0x3f, 0x02, "a SYN");
                    u16::from_be_bytes([t[2], t[3]])
                })
                .collect();
            dports.sort_unstable();
            assert_eq!(dports, ports());
        }
        // With a payload, --mtu 24 cuts 24 + 40 bytes into 24, 24, 16.
        let got = tcp_only(captured(
            &lab,
            &[
                "-sS",
                "-p",
                "80",
                "--max-retries",
                "0",
                "--mtu",
                "24",
                "--data-length",
                "40",
                target,
            ],
            &[us],
        ));
        assert_eq!(got.len(), 3);
        assert_eq!(check_fragments(&got, 24)[0].len(), 64);
    }
}

#[test]
fn capture_decoys_source_and_mac() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    let t4 = lab.target_v4().to_string();
    let d1: IpAddr = "198.18.0.50".parse().unwrap();
    let d2: IpAddr = "198.18.0.51".parse().unwrap();
    let us = us4(&lab);
    // -D: every probe from d1, us, d2 in that order, the same seq, ports
    // and IP ID.
    let got = tcp_only(captured(
        &lab,
        &[
            "-sS",
            "-p",
            PORTS,
            "--max-retries",
            "0",
            "-D",
            "198.18.0.50,ME,198.18.0.51",
            &t4,
        ],
        &[us, d1, d2],
    ));
    assert_eq!(got.len(), 3 * ports().len());
    for probe in got.chunks(3) {
        let srcs: Vec<IpAddr> = probe.iter().map(Arrived::src).collect();
        assert_eq!(srcs, [d1, us, d2]);
        for a in &probe[1..] {
            assert_eq!(a.tcp_ports(), probe[0].tcp_ports());
            assert_eq!(a.tcp_seq(), probe[0].tcp_seq());
            assert_eq!(a.ip_id(), probe[0].ip_id());
            assert!(a.l4_checksum_ok() && a.ip_checksum_ok());
        }
    }
    // IPv6 decoys, ME placed at random when not named.
    let t6 = lab.target_v6().to_string();
    let e1: IpAddr = "fd00:18::50".parse().unwrap();
    let got = tcp_only(captured(
        &lab,
        &[
            "-sS",
            "-p",
            "22,80",
            "--max-retries",
            "0",
            "-D",
            "fd00:18::50",
            &t6,
        ],
        &[us6(&lab), e1],
    ));
    assert_eq!(got.len(), 4);
    assert_eq!(got.iter().filter(|a| a.src() == e1).count(), 2);
    // -S with a second address of the scanner's.
    add_address(&lab, "198.18.0.9/24");
    let s: IpAddr = "198.18.0.9".parse().unwrap();
    let got = tcp_only(captured(
        &lab,
        &[
            "-sS",
            "-p",
            PORTS,
            "-S",
            "198.18.0.9",
            "-e",
            lab.scanner_if(),
            &t4,
        ],
        &[s, us],
    ));
    assert!(got.len() >= ports().len());
    assert!(got.iter().all(|a| a.src() == s));
    // --spoof-mac: the frames' source; a vendor's OUI.
    let got = tcp_only(captured(
        &lab,
        &["-sS", "-p", PORTS, "--spoof-mac", "02:00:5e:10:00:01", &t4],
        &[us],
    ));
    assert!(got.len() >= ports().len());
    assert!(got.iter().all(|a| a.src_mac == [2, 0, 0x5e, 0x10, 0, 1]));
    let got = tcp_only(captured(
        &lab,
        &["-sS", "-p", "80", "--spoof-mac", "Cisco", &t4],
        &[us],
    ));
    assert!(!got.is_empty());
    assert!(got.iter().all(|a| a.src_mac[..3] == [0, 0, 0x0c]));
}

fn add_address(lab: &Lab, cidr: &str) {
    let out = lab
        .scanner_cmd("ip")
        .args(["addr", "add", cidr, "dev", lab.scanner_if(), "nodad"])
        .output()
        .expect("ip addr add");
    check_output("ip addr add", &out);
}

/// vigie's table for `args` over PORTS must be the lab's truth for `t`.
fn exact(lab: &Lab, args: &[&str], t: LabTechnique, v6: bool) -> States {
    let target = if v6 {
        lab.target_v6().to_string()
    } else {
        lab.target_v4().to_string()
    };
    let mut a = vec!["-p", PORTS, "-Pn"];
    a.extend(args);
    let states = vigie_states(lab, &a, &target);
    assert_exact(lab, t, v6, &states, ports().into_iter());
    states
}

/// nmap with the same options on the same lab: the same state per port.
fn same_as_nmap(lab: &Lab, args: &[&str], ours: &States, name: &str) {
    same_as_nmap_at(lab, args, ours, name, &lab.target_v4().to_string())
}

fn same_as_nmap_at(lab: &Lab, args: &[&str], ours: &States, name: &str, target: &str) {
    let dir = scratch(&format!("evasion-{name}"));
    let xml = dir.join("nmap.xml");
    let out = lab
        .scanner_cmd("nmap")
        .args(args)
        .args(["-p", PORTS, "-n", "-Pn", "-T4", "-oX"])
        .arg(&xml)
        .arg(target)
        .output()
        .expect("run nmap (installed by .ci/run)");
    check_output("nmap", &out);
    let theirs = nmap_xml_states(&std::fs::read_to_string(&xml).unwrap());
    let differ: Vec<String> = ports()
        .into_iter()
        .filter(|p| theirs.get(p).map(String::as_str) != ours.get(p).map(|(s, _)| s.as_str()))
        .map(|p| format!("{p}: nmap {:?}, vigie {:?}", theirs.get(&p), ours.get(&p)))
        .collect();
    assert!(
        differ.is_empty(),
        "{args:?}: differs from nmap:\n{}",
        differ.join("\n")
    );
}

#[test]
fn scans_stay_exact_ipv4() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    add_address(&lab, "198.18.0.9/24");
    let syn = LabTechnique::Syn;
    for (args, nmap) in [
        (&["-sS", "-g", "53"][..], true),
        (&["-sS", "--ttl", "3"], false),
        (&["-sS", "--data-length", "40"], true),
        (&["-sS", "-f"], true),
        (&["-sS", "-ff"], false),
        (&["-sS", "--mtu", "16", "--data-length", "20"], false),
        (&["-sS", "-D", "198.18.0.50,ME,198.18.0.51"], true),
        (&["-sS", "-D", "RND:3"], false),
        (&["-sS", "-S", "198.18.0.9", "-e", "v0"], false),
        (&["-sS", "--spoof-mac", "0"], false),
        (
            &[
                "-sS",
                "-f",
                "-D",
                "198.18.0.50,ME",
                "-g",
                "53",
                "--data-length",
                "8",
                "--ttl",
                "40",
            ],
            false,
        ),
    ] {
        let ours = exact(&lab, args, syn, false);
        if nmap {
            same_as_nmap(
                &lab,
                args,
                &ours,
                &args.join("").replace(['-', ',', '.'], ""),
            );
        }
    }
    // The other techniques carry the options too.
    exact(&lab, &["-sF", "-f", "-g", "53"], LabTechnique::Fin, false);
    exact(
        &lab,
        &["-sA", "--data-length", "12", "-D", "198.18.0.50,ME"],
        LabTechnique::Ack,
        false,
    );
    exact(&lab, &["-sX", "-ff"], LabTechnique::Xmas, false);
}

#[test]
fn scans_stay_exact_ipv6() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    add_address(&lab, "fd00:18::9/64");
    let syn = LabTechnique::Syn;
    for args in [
        &["-sS", "-g", "53"][..],
        &["-sS", "--ttl", "3"],
        &["-sS", "--data-length", "40"],
        &["-sS", "-D", "fd00:18::50,ME,fd00:18::51"],
        &["-sS", "-S", "fd00:18::9"],
    ] {
        exact(&lab, args, syn, true);
    }
    exact(
        &lab,
        &["-sF", "-g", "53", "--data-length", "5"],
        LabTechnique::Fin,
        true,
    );
}

/// IPv6 fragments. Linux discards a first fragment that does not hold the
/// whole TCP header (RFC 8200 §4.5, answering ICMPv6 parameter problem),
/// and ip6tables rules see fragments before reassembly (nothing here loads
/// conntrack), so this target has listeners and closed ports only, and the
/// fragments are 32 bytes: the 44 bytes of a SYN with 20 bytes of data in
/// two. (nmap refuses -f with -6.)
#[test]
fn ipv6_fragments_stay_exact_on_a_plain_stack() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    vigie_lab::require_root().unwrap();
    let layout = Layout {
        open: vec![22, 80, 443, 8080, 31337],
        drop: Vec::new(),
        reject_port_unreach: Vec::new(),
        reject_admin: Vec::new(),
        reject_rst: Vec::new(),
        icmp_ratelimit_off: true,
        rst_everything: false,
    };
    let lab = Lab::new(&layout).expect("build lab");
    exact(
        &lab,
        &["-sS", "--mtu", "32", "--data-length", "20"],
        LabTechnique::Syn,
        true,
    );
    exact(
        &lab,
        &[
            "-sS",
            "--mtu",
            "24",
            "--data-length",
            "8",
            "-D",
            "fd00:18::50,ME",
        ],
        LabTechnique::Syn,
        true,
    );
    // 8-byte fragments are discarded by that check: no port answers.
    let target = lab.target_v6().to_string();
    let states = vigie_states(
        &lab,
        &["-p", "22,23", "-Pn", "-f", "--max-retries", "0"],
        &target,
    );
    assert!(states.values().all(|(s, _)| s == "filtered"), "{states:?}");
    // IPv4 on the same stack.
    exact(
        &lab,
        &["-sS", "-f", "--data-length", "20"],
        LabTechnique::Syn,
        false,
    );
}

#[test]
fn discovery_probes_carry_them_and_the_trace_shows_them() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let lab = lab();
    let t4 = lab.target_v4().to_string();
    let us = us4(&lab);
    let d1: IpAddr = "198.18.0.50".parse().unwrap();
    // IP host discovery (ARP off): echo and SYN ping, from a decoy and us,
    // TTL 21, source port 53, 4 bytes of data; the host is still up.
    let cap = FrameCapture::start(lab.target_ns(), lab.target_if()).expect("capture");
    let out = lab
        .scanner_cmd(env!("CARGO_BIN_EXE_vigie"))
        .args([
            "-sn",
            "--disable-arp-ping",
            "-PE",
            "-PS22",
            "-n",
            "--no-history",
        ])
        .args([
            "-D",
            "198.18.0.50,ME",
            "--ttl",
            "21",
            "-g",
            "53",
            "--data-length",
            "4",
        ])
        .arg(&t4)
        .output()
        .expect("run vigie");
    check_output("vigie", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Host is up"), "{text}");
    let got = arrivals(cap, &[us, d1]);
    let echo: Vec<&Arrived> = got.iter().filter(|a| a.l4().0 == 1).collect();
    let syn: Vec<&Arrived> = got.iter().filter(|a| a.l4().0 == 6).collect();
    for set in [&echo, &syn] {
        assert!(set.iter().any(|a| a.src() == d1) && set.iter().any(|a| a.src() == us));
        assert!(set.iter().all(|a| a.ttl() == 21));
    }
    assert!(echo
        .iter()
        .all(|a| a.ip.len() == 20 + 8 + 4 && a.ip[20] == 8));
    assert!(syn
        .iter()
        .all(|a| a.tcp_ports() == (53, 22) && a.tcp_payload().len() == 4));

    // --packet-trace: the decoy copies and every fragment, as sent.
    let out = lab
        .scanner_cmd(env!("CARGO_BIN_EXE_vigie"))
        .args([
            "-sS",
            "-p",
            "23",
            "-n",
            "-Pn",
            "--no-history",
            "--max-retries",
            "0",
        ])
        .args(["-f", "-D", "198.18.0.50,ME", "--packet-trace"])
        .arg(&t4)
        .output()
        .expect("run vigie");
    check_output("vigie", &out);
    let text = String::from_utf8_lossy(&out.stdout);
    let sent: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("SENT") && !l.contains("ARP"))
        .collect();
    assert_eq!(sent.len(), 6, "{text}");
    for (i, src) in ["198.18.0.50", "198.18.0.1"].iter().enumerate() {
        let probe = &sent[i * 3..i * 3 + 3];
        assert!(
            probe[0].contains(&format!("TCP {src}:"))
                && probe[0].contains(":23 ")
                && probe[0].contains("frag offset=0+"),
            "{probe:?}"
        );
        assert!(
            probe[1].contains(&format!("IPv4 fragment (protocol 6) {src} > "))
                && probe[1].contains("frag offset=8+"),
            "{probe:?}"
        );
        assert!(probe[2].contains("frag offset=16 "), "{probe:?}");
    }
    assert!(
        text.lines().any(|l| l.starts_with("RCVD")
            && l.contains("198.18.0.2:23 > 198.18.0.1:")
            && l.contains(" RA ")),
        "{text}"
    );
}
