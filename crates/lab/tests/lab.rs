//! The lab against the kernel: every expectation `Layout::expect` states is
//! checked here with real connects and real raw SYNs from the scanner
//! namespace. Needs root.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};

use socket2::{Domain, Socket, Type};
use std::path::Path;
use std::time::{Duration, Instant};

use vigie_lab::{in_netns, Lab, LabTechnique, Layout, FORGED_ACK_OFFSET};
use vigie_netio::rx::{Receiver, RxConfig};
use vigie_netio::tx::{RawSender, TxBatch};
use vigie_wire::summary::{summarize, Body};
use vigie_wire::tcp::TcpFlags;
use vigie_wire::template::TcpTemplate;

fn lab(layout: &Layout) -> Lab {
    vigie_lab::require_root().unwrap();
    Lab::new(layout).expect("build lab")
}

fn target(lab: &Lab, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(lab.target_v6())
    } else {
        IpAddr::V4(lab.target_v4())
    }
}

fn scanner(lab: &Lab, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(lab.scanner_v6())
    } else {
        IpAddr::V4(lab.scanner_v4())
    }
}

/// What nmap's connect scan makes of one connect() outcome.
///
/// Over IPv6 on veth the first ICMPv6 error reaches the socket while
/// connect() still holds its lock, so the kernel records it only as a soft
/// error (TcpExtLockDroppedIcmps) and fails the connect at the first SYN
/// retransmission, ~1 s later. SO_ERROR holds the soft error meanwhile; read
/// it on timeout, as a scanner with short timeouts should.
fn connect_verdict(addr: SocketAddr) -> (&'static str, &'static str) {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None).unwrap();
    let err = match sock.connect_timeout(&addr.into(), Duration::from_millis(300)) {
        Ok(()) => return ("open", "syn-ack"),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => match sock.take_error().unwrap() {
            None => return ("filtered", "no-response"),
            Some(soft) => soft,
        },
        Err(e) => e,
    };
    match err.raw_os_error() {
        Some(111) => ("closed", "conn-refused"),      // ECONNREFUSED
        Some(113) => ("filtered", "host-unreach"),    // EHOSTUNREACH
        Some(13) => ("filtered", "admin-prohibited"), // EACCES
        _ => panic!("{addr}: unexpected connect error {err:?}"),
    }
}

/// The listed ports of the standard layout plus a few closed ones.
fn probe_ports() -> Vec<u16> {
    let l = Layout::standard();
    let mut v: Vec<u16> = [
        &l.open,
        &l.drop,
        &l.reject_port_unreach,
        &l.reject_admin,
        &l.reject_rst,
    ]
    .into_iter()
    .flatten()
    .copied()
    .chain([1, 2, 23, 1000, 7005, 65534])
    .collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn connect_outcomes_match_expectations() {
    let lab = lab(&Layout::standard());
    let layout = lab.layout().clone();
    for v6 in [false, true] {
        let dst = target(&lab, v6);
        let ports = probe_ports();
        let got: Vec<(u16, (&str, &str))> = in_netns(lab.scanner_ns(), move || {
            ports
                .into_iter()
                .map(|p| (p, connect_verdict(SocketAddr::new(dst, p))))
                .collect()
        })
        .unwrap();
        assert_eq!(got.len(), 26);
        for (p, verdict) in got {
            assert_eq!(
                verdict,
                layout.expect(LabTechnique::Connect, v6, p),
                "connect {dst} port {p}"
            );
        }
    }
}

/// Send one raw SYN per port from the scanner namespace and read what comes
/// back, the way a SYN scan would: port → (state, reason).
fn syn_verdicts(
    lab: &Lab,
    v6: bool,
    ports: Vec<u16>,
) -> BTreeMap<u16, (&'static str, &'static str)> {
    let (src, dst) = (scanner(lab, v6), target(lab, v6));
    in_netns(lab.scanner_ns(), move || {
        let mut rx = Receiver::new(&RxConfig {
            block_size: 1 << 20,
            block_count: 8,
            block_timeout_ms: 2,
        })
        .unwrap();
        let mut tx = RawSender::new().unwrap();
        let tmpl = TcpTemplate::new(src, TcpFlags::SYN, 1024, Some(1460), 64);
        let sport = |p: u16| 40000u16.wrapping_add(p % 20000);
        let mut verdicts: BTreeMap<u16, (&str, &str)> = ports
            .iter()
            .map(|&p| (p, ("filtered", "no-response")))
            .collect();
        for chunk in ports.chunks(64) {
            let mut batch = TxBatch::new(64);
            for &p in chunk {
                batch.push_with(dst, |buf| {
                    tmpl.stamp(buf, dst, sport(p), p, 0x1000_0000 + u32::from(p), 0, p)
                });
            }
            assert_eq!(tx.send(&batch).unwrap(), chunk.len());
        }
        let deadline = Instant::now() + Duration::from_millis(700);
        while Instant::now() < deadline {
            rx.poll(Duration::from_millis(50), |pkt| {
                let Some(s) = summarize(pkt) else { return };
                if s.src != dst {
                    return;
                }
                let (port, verdict) = match s.body {
                    Body::Tcp {
                        sport: from,
                        dport,
                        flags,
                        ack,
                        ..
                    } => {
                        if dport != sport(from) {
                            return;
                        }
                        assert_eq!(
                            ack,
                            0x1000_0001 + u32::from(from),
                            "ack of reply from port {from}"
                        );
                        match flags.0 {
                            0x12 => (from, ("open", "syn-ack")),
                            0x14 => (from, ("closed", "reset")),
                            other => panic!("port {from}: flags {other:#x}"),
                        }
                    }
                    Body::IcmpError {
                        v6: is_v6,
                        icmp_type,
                        code,
                        quoted,
                    } => {
                        let verdict = match (is_v6, icmp_type, code) {
                            (false, 3, 3) | (true, 1, 4) => ("filtered", "port-unreach"),
                            (false, 3, 13) | (true, 1, 1) => ("filtered", "admin-prohibited"),
                            other => panic!("unexpected ICMP {other:?}"),
                        };
                        (quoted.dport, verdict)
                    }
                    _ => return,
                };
                if let Some(v) = verdicts.get_mut(&port) {
                    *v = verdict;
                }
            })
            .unwrap();
        }
        verdicts
    })
    .unwrap()
}

/// A connect that simply waits gets the ICMPv6 verdict too, at the kernel's
/// first SYN retransmission (see `connect_verdict`).
#[test]
fn ipv6_connect_to_rejected_ports_fails_within_two_seconds() {
    let lab = lab(&Layout::standard());
    let dst = target(&lab, true);
    let got = in_netns(lab.scanner_ns(), move || {
        [113u16, 135].map(|p| {
            TcpStream::connect_timeout(&SocketAddr::new(dst, p), Duration::from_secs(2))
                .map(|_| ())
                .map_err(|e| e.raw_os_error())
        })
    })
    .unwrap();
    assert_eq!(got, [Err(Some(111)), Err(Some(13))]);
}

#[test]
fn syn_replies_match_expectations() {
    let lab = lab(&Layout::standard());
    for v6 in [false, true] {
        let got = syn_verdicts(&lab, v6, probe_ports());
        assert_eq!(got.len(), 26);
        for (p, verdict) in got {
            assert_eq!(
                verdict,
                lab.layout().expect(LabTechnique::Syn, v6, p),
                "SYN v6={v6} port {p}"
            );
        }
    }
}

/// With ICMP rate limiting off, 300 rejected ports hit at once all answer.
#[test]
fn icmp_not_rate_limited() {
    let layout = Layout {
        reject_port_unreach: (2000..2150).collect(),
        reject_admin: (3000..3150).collect(),
        icmp_ratelimit_off: true,
        rst_everything: false,
        ..Layout::default()
    };
    let lab = lab(&layout);
    let ports: Vec<u16> = (2000..2150).chain(3000..3150).collect();
    for v6 in [false, true] {
        let got = syn_verdicts(&lab, v6, ports.clone());
        let unreach = got
            .values()
            .filter(|v| **v == ("filtered", "port-unreach"))
            .count();
        let admin = got
            .values()
            .filter(|v| **v == ("filtered", "admin-prohibited"))
            .count();
        assert_eq!((unreach, admin), (150, 150), "v6={v6}");
    }
}

#[test]
fn scanner_namespace_has_only_the_lab_link() {
    let lab = lab(&Layout::standard());
    let out = lab
        .scanner_cmd("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split(": ").nth(1).unwrap().split('@').next().unwrap())
        .collect();
    assert_eq!(names, ["lo", "v0"]);
    let out = lab
        .scanner_cmd("ip")
        .args(["-4", "route", "show"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "198.18.0.0/24 dev v0 proto kernel scope link src 198.18.0.1"
    );
    let out = lab
        .target_cmd("ip")
        .args(["-6", "-o", "addr", "show", "dev", "v1", "scope", "global"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("inet6 fd00:18::2/64"));
}

#[test]
fn namespaces_gone_after_drop() {
    let lab = lab(&Layout::standard());
    let names = [lab.scanner_ns().to_owned(), lab.target_ns().to_owned()];
    let pid = std::process::id();
    assert!(names[0].starts_with(&format!("vgs-{pid}-")), "{names:?}");
    assert!(names[1].starts_with(&format!("vgt-{pid}-")), "{names:?}");
    for n in &names {
        assert!(Path::new("/run/netns").join(n).exists(), "{n} should exist");
    }
    drop(lab);
    for n in &names {
        assert!(
            !Path::new("/run/netns").join(n).exists(),
            "{n} should be gone"
        );
    }
}

#[test]
fn labs_build_in_parallel() {
    vigie_lab::require_root().unwrap();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(|| Lab::new(&Layout::standard()).map(|l| l.scanner_ns().to_owned()))
        })
        .collect();
    let mut names: Vec<String> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3);
}

#[test]
fn layout_errors_clean_up() {
    vigie_lab::require_root().unwrap();
    let err = Lab::new(&Layout {
        drop: vec![0],
        ..Layout::default()
    })
    .unwrap_err();
    assert_eq!(format!("{err}"), "layout: port 0 in drop");
}

/// Forged SYN-ACKs: one per SYN to a forged port, with ack = seq + 1 + 0x10000.
fn forger(v6: bool) {
    let lab = lab(&Layout::standard());
    // 1000 closed, 25 dropped, 113 port-unreach; 2000 is not forged.
    let forger = lab.spawn_forger(vec![1000, 25, 113]).unwrap();
    assert_eq!(forger.forged(), 0);
    let (src, dst) = (scanner(&lab, v6), target(&lab, v6));
    let replies = in_netns(lab.scanner_ns(), move || {
        let mut rx = Receiver::new(&RxConfig {
            block_size: 1 << 20,
            block_count: 8,
            block_timeout_ms: 2,
        })
        .unwrap();
        let mut tx = RawSender::new().unwrap();
        let tmpl = TcpTemplate::new(src, TcpFlags::SYN, 1024, Some(1460), 64);
        let mut batch = TxBatch::new(8);
        for (i, p) in [1000u16, 25, 113, 2000].into_iter().enumerate() {
            let seq = 0xffff_0000u32 + i as u32; // wraps when the forger adds 0x10001
            batch.push_with(dst, |buf| tmpl.stamp(buf, dst, 50000 + p, p, seq, 0, 7));
        }
        assert_eq!(tx.send(&batch).unwrap(), 4);
        let mut replies = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(700);
        while Instant::now() < deadline {
            rx.poll(Duration::from_millis(50), |pkt| {
                if let Some(s) = summarize(pkt) {
                    if let Body::Tcp {
                        sport,
                        dport,
                        seq,
                        ack,
                        flags,
                        ..
                    } = s.body
                    {
                        if s.src == dst && s.dst == src {
                            replies.push((sport, dport, flags.0, seq, ack));
                        }
                    }
                }
            })
            .unwrap();
        }
        replies.sort_unstable();
        replies
    })
    .unwrap();
    let wrong = |i: u32| {
        0xffff_0000u32
            .wrapping_add(i)
            .wrapping_add(1)
            .wrapping_add(FORGED_ACK_OFFSET)
    };
    let forged: Vec<_> = replies.iter().filter(|r| r.2 == 0x12).copied().collect();
    assert_eq!(
        forged,
        vec![
            (25, 50025, 0x12, 0x7e57_0000, wrong(1)),
            (113, 50113, 0x12, 0x7e57_0000, wrong(2)),
            (1000, 51000, 0x12, 0x7e57_0000, wrong(0))
        ]
    );
    assert_eq!(wrong(0), 0x0000_0001);
    // The kernel's own answers still come: RSTs for the closed ports.
    let rsts: Vec<(u16, u32)> = replies
        .iter()
        .filter(|r| r.2 == 0x14)
        .map(|r| (r.0, r.4))
        .collect();
    assert_eq!(rsts, vec![(1000, 0xffff_0001), (2000, 0xffff_0004)]);
    assert_eq!(forger.forged(), 3);
}

#[test]
fn forger_sends_wrong_ack_syn_acks_ipv4() {
    forger(false);
}

#[test]
fn forger_sends_wrong_ack_syn_acks_ipv6() {
    forger(true);
}

/// A lab whose names are taken fails, and does not delete the other lab's
/// namespaces on its way out.
#[test]
fn taken_names_fail_without_harming_the_owner() {
    let first = lab(&Layout::standard());
    let err =
        Lab::with_names(&Layout::standard(), first.scanner_ns(), "vgt-unused-name").unwrap_err();
    assert!(
        format!("{err:#}").contains(&format!(
            "network namespace {} already exists",
            first.scanner_ns()
        )),
        "{err:#}"
    );
    assert!(Path::new("/run/netns").join(first.scanner_ns()).exists());
    assert!(Path::new("/run/netns").join(first.target_ns()).exists());
    assert!(!Path::new("/run/netns/vgt-unused-name").exists());
}

/// Lab::new deletes lab namespaces whose process is gone.
#[test]
fn stale_namespaces_of_dead_pids_are_removed() {
    vigie_lab::require_root().unwrap();
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stale = format!("vgs-{}-0", pid_max + 1); // no process can have this pid
    let status = std::process::Command::new("ip")
        .args(["netns", "add", &stale])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(Path::new("/run/netns").join(&stale).exists());
    let _lab = lab(&Layout::default());
    assert!(
        !Path::new("/run/netns").join(&stale).exists(),
        "{stale} should have been removed"
    );
}
