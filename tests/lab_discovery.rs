//! Lab tests for host discovery: a /16 behind the target namespace whose
//! every address's behaviour is known ([`vigie_lab::sweep`]), and dark
//! addresses on the veth segment found only by ARP / neighbour discovery.

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use common::*;
use vigie_lab::sweep::{class_of, SweepClass, SweepLab, DARK_V4, DARK_V6};

/// One host object of vigie's JSON Lines.
#[derive(Debug, Clone)]
struct Host {
    up: bool,
    reason: String,
    mac: Option<String>,
    ports: Vec<(u16, String, String)>,
}

fn run_vigie(lab: &SweepLab, args: &[&str]) -> BTreeMap<IpAddr, Host> {
    let out = lab
        .scanner_cmd(VIGIE)
        .args(["-n", "-oJ", "-"])
        .args(args)
        .output()
        .expect("run vigie");
    check_output("vigie", &out);
    let mut hosts = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        if v["type"] != "host" {
            continue;
        }
        let addr: IpAddr = v["addr"].as_str().unwrap().parse().unwrap();
        let ports = v["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["port"].as_u64().unwrap() as u16,
                    p["state"].as_str().unwrap().to_owned(),
                    p["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let h = Host {
            up: v["status"] == "up",
            reason: v["reason"].as_str().unwrap().to_owned(),
            mac: v["mac"].as_str().map(str::to_owned),
            ports,
        };
        assert!(hosts.insert(addr, h).is_none(), "{addr} twice");
    }
    hosts
}

fn mac_text(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn sweep_addrs(first: [u8; 4], n: u32) -> impl Iterator<Item = Ipv4Addr> {
    let base = u32::from(Ipv4Addr::from(first));
    (0..n).map(move |i| Ipv4Addr::from(base + i))
}

/// Done-when 1: `-sn` over the /16 reports exactly the live set, every
/// reason matching the rule that made the host live. 65536 addresses.
#[test]
fn ping_sweep_slash16_exact() {
    vigie_lab::require_root().unwrap();
    let lab = SweepLab::new().expect("build sweep lab");
    let hosts = run_vigie(&lab, &["-sn", "198.19.0.0/16"]);
    let mut wrong = Vec::new();
    let mut checked = 0;
    let mut up = 0;
    for a in sweep_addrs([198, 19, 0, 0], 65536) {
        checked += 1;
        let truth = class_of(a).unwrap();
        match hosts.get(&IpAddr::V4(a)) {
            Some(h) if h.up == truth.is_up() => {
                if h.up {
                    up += 1;
                    if !truth.reasons().contains(&h.reason.as_str()) {
                        wrong.push(format!("{a}: {truth:?} but reason {}", h.reason));
                    }
                    assert!(h.ports.is_empty() && h.mac.is_none());
                }
            }
            Some(h) => wrong.push(format!("{a}: {truth:?} but up={}", h.up)),
            None if !truth.is_up() => {}
            None => wrong.push(format!("{a}: {truth:?} missing")),
        }
    }
    assert_eq!(checked, 65536);
    assert!(
        wrong.is_empty(),
        "{} of 65536 wrong:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(20)].join("\n")
    );
    assert_eq!(up, 32768);
    assert!(hosts
        .keys()
        .all(|a| matches!(a, IpAddr::V4(v) if class_of(*v).is_some())));
}

/// Done-when 2: a host dropping all IP traffic is found by ARP with its
/// MAC, and is invisible to IP probes.
#[test]
fn arp_finds_hosts_that_drop_all_ip() {
    vigie_lab::require_root().unwrap();
    let lab = SweepLab::new().expect("build sweep lab");
    let mac = mac_text(lab.target_mac().unwrap());
    let hosts = run_vigie(&lab, &["-sn", "-PR", "198.18.0.2-20"]);
    for a in sweep_addrs([198, 18, 0, 2], 19) {
        let h = hosts.get(&IpAddr::V4(a));
        if a == lab.target_v4() || DARK_V4.contains(&a) {
            let h = h.unwrap_or_else(|| panic!("{a} missing"));
            assert!(h.up, "{a} should be up by ARP");
            assert_eq!(h.reason, "arp-response", "{a}");
            assert_eq!(h.mac.as_deref(), Some(mac.as_str()), "{a}");
        } else {
            assert!(h.is_none_or(|h| !h.up), "{a} should be down: {h:?}");
        }
    }
    // Over IP (no ARP) the dark addresses are silent, the target answers.
    let hosts = run_vigie(
        &lab,
        &[
            "-sn",
            "--disable-arp-ping",
            "198.18.0.2",
            &DARK_V4[0].to_string(),
            &DARK_V4[1].to_string(),
        ],
    );
    let target = &hosts[&IpAddr::V4(lab.target_v4())];
    assert!(target.up && target.mac.is_none(), "{target:?}");
    assert_ne!(target.reason, "arp-response");
    for d in DARK_V4 {
        assert!(hosts.get(&IpAddr::V4(d)).is_none_or(|h| !h.up), "{d}");
    }
}

/// Done-when 2, IPv6: neighbour solicitation finds the address whose
/// ip6tables drops everything but ND.
#[test]
fn nd_finds_hosts_that_drop_all_ipv6() {
    vigie_lab::require_root().unwrap();
    let lab = SweepLab::new().expect("build sweep lab");
    let mac = mac_text(lab.target_mac().unwrap());
    let t6 = lab.target_v6().to_string();
    let dark = DARK_V6.to_string();
    let hosts = run_vigie(
        &lab,
        &["-sn", "-6", "-PR", &t6, &dark, "fd00:18::4", "fd00:18::5"],
    );
    for a in [&t6, &dark] {
        let h = &hosts[&a.parse::<IpAddr>().unwrap()];
        assert!(h.up, "{a}");
        assert_eq!(h.reason, "nd-response", "{a}");
        assert_eq!(h.mac.as_deref(), Some(mac.as_str()), "{a}");
    }
    for a in ["fd00:18::4", "fd00:18::5"] {
        let h = hosts.get(&a.parse::<IpAddr>().unwrap());
        assert!(h.is_none_or(|h| !h.up), "{a}: {h:?}");
    }
    let hosts = run_vigie(&lab, &["-sn", "-6", "--disable-arp-ping", &t6, &dark]);
    assert!(hosts[&t6.parse::<IpAddr>().unwrap()].up);
    assert!(hosts
        .get(&dark.parse::<IpAddr>().unwrap())
        .is_none_or(|h| !h.up));
}

/// Done-when 4: without -Pn only live hosts are port-scanned.
#[test]
fn port_scan_only_live_hosts() {
    vigie_lab::require_root().unwrap();
    let lab = SweepLab::new().expect("build sweep lab");
    // 1.0/25 down, 1.128/25 SYN-443 only, 2.0/25 echo only,
    // 2.128/25 ACK-80 only, 3.0/25 open, 3.128/25 down.
    let hosts = run_vigie(
        &lab,
        &[
            "-p",
            "80",
            "198.19.1.0/24",
            "198.19.2.0/24",
            "198.19.3.0/24",
        ],
    );
    let mut scanned = 0;
    for a in sweep_addrs([198, 19, 1, 0], 768) {
        let truth = class_of(a).unwrap();
        let h = hosts.get(&IpAddr::V4(a));
        if !truth.is_up() {
            assert!(
                h.is_none_or(|h| !h.up && h.ports.is_empty()),
                "{a} down must not be scanned: {h:?}"
            );
            continue;
        }
        let h = h.unwrap_or_else(|| panic!("{a} missing"));
        assert!(h.up, "{a}");
        let want = if truth == SweepClass::Open {
            ("closed", "reset")
        } else {
            ("filtered", "no-response")
        };
        assert_eq!(
            h.ports,
            vec![(80, want.0.to_owned(), want.1.to_owned())],
            "{a} ({truth:?})"
        );
        scanned += 1;
    }
    assert_eq!(scanned, 512);
}

/// Done-when 3: nmap -sn finds the same live set on a /22 that holds every
/// class.
#[test]
fn same_live_set_as_nmap() {
    vigie_lab::require_root().unwrap();
    let lab = SweepLab::new().expect("build sweep lab");
    let range = "198.19.0.0/22";
    let ours: Vec<IpAddr> = run_vigie(&lab, &["-sn", range])
        .into_iter()
        .filter(|(_, h)| h.up)
        .map(|(a, _)| a)
        .collect();
    let out = lab
        .scanner_cmd("nmap")
        .args(["-sn", "-n", "-T4", "-oX", "-", range])
        .output()
        .expect("run nmap");
    check_output("nmap", &out);
    let xml = String::from_utf8_lossy(&out.stdout);
    let mut theirs = Vec::new();
    for host in xml.split("<host>").skip(1) {
        if !host.contains("<status state=\"up\"") {
            continue;
        }
        let i = host.find("<address addr=\"").unwrap() + 15;
        let j = host[i..].find('"').unwrap() + i;
        theirs.push(host[i..j].parse::<IpAddr>().unwrap());
    }
    theirs.sort();
    assert_eq!(ours.len(), 512);
    assert_eq!(ours, theirs);
}

/// Without CAP_NET_RAW discovery is a connect to 80 and 443: SYN-ACK or
/// refused is alive, silence is not (so the echo-only and ACK-only classes
/// look down, as they do to nmap unprivileged).
#[test]
fn unprivileged_connect_ping() {
    vigie_lab::require_root().unwrap();
    let lab = SweepLab::new().expect("build sweep lab");
    let out = lab
        .scanner_cmd("capsh")
        .args(["--drop=cap_net_raw", "--", "-c"])
        .arg(format!(
            "{VIGIE} -sn -n -oJ - 198.19.1.120-135 198.19.2.126-129 198.19.3.0/29"
        ))
        .output()
        .expect("run capsh");
    check_output("vigie without CAP_NET_RAW", &out);
    let mut up = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v["type"] == "host" && v["status"] == "up" {
            let a: Ipv4Addr = v["addr"].as_str().unwrap().parse().unwrap();
            up.insert(a, v["reason"].as_str().unwrap().to_owned());
        }
    }
    let mut want = BTreeMap::new();
    for a in sweep_addrs([198, 19, 1, 128], 8) {
        want.insert(a, "syn-ack".to_owned());
    }
    for a in sweep_addrs([198, 19, 3, 0], 8) {
        want.insert(a, "conn-refused".to_owned());
    }
    assert_eq!(up, want);
}
