//! One suite, run against each back-end (tests/sqlite.rs, tests/postgres.rs).
#![allow(dead_code)]

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vigie_report::{
    HostReport, HostStatus, PortResult, RunInfo, RunStats, ScanInfo, ServiceInfo, TlsFields,
};
use vigie_scan::ports::PortList;
use vigie_scan::services::ServiceDb;
use vigie_scan::{PortState, Proto, Reason, Technique};
use vigie_store::{last_two, Filter, Recorder, RunMeta, RunStatus, Store, StoreError};

pub type Open<'a> = &'a (dyn Fn() -> Box<dyn Store> + Sync);

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(secs * 1_000_000 + 123_456)
}

pub fn meta(targets: &str, start: u64, verbose: u8) -> RunMeta {
    RunMeta {
        info: RunInfo {
            args: format!("vigie -sS -sU -p T:1-100,U:53 {targets}"),
            start: t(start),
            scans: vec![
                ScanInfo {
                    technique: Technique::Syn,
                    proto: Proto::Tcp,
                    ports: PortList::from_ranges([(1, 100)]),
                    scanflags: None,
                },
                ScanInfo {
                    technique: Technique::Udp,
                    proto: Proto::Udp,
                    ports: PortList::from_ports(&[53]),
                    scanflags: None,
                },
            ],
            verbose,
        },
        targets: targets.to_owned(),
        seed: u64::MAX - 7,
    }
}

/// A host with every kind of port: closed ones in ranges, filtered ones
/// too few for a range, open ones, one with -sV and TLS, a UDP one.
pub fn host(addr: &str, open: &[u16], start: u64) -> HostReport {
    let db = ServiceDb::builtin();
    let mut ports: Vec<PortResult> = (1..=100)
        .map(|p| {
            let (state, reason, ttl) = if open.contains(&p) {
                (PortState::Open, Reason::SynAck, 64)
            } else if (50..60).contains(&p) {
                (PortState::Filtered, Reason::NoResponse, 0)
            } else {
                (PortState::Closed, Reason::Reset, 64)
            };
            PortResult {
                proto: Proto::Tcp,
                port: p,
                state,
                reason,
                ttl,
                service: db.name(p, Proto::Tcp).map(str::to_owned),
                detected: None,
            }
        })
        .collect();
    // A name the table would not give: kept as its own row.
    ports[9].service = Some("renamed".into());
    if let Some(p) = ports.iter_mut().find(|p| p.port == 22) {
        p.detected = Some(Box::new(ServiceInfo {
            name: "ssh".into(),
            product: Some("OpenSSH".into()),
            version: Some("9.2p1 Debian 2+deb12u3".into()),
            extrainfo: Some("protocol 2.0".into()),
            ostype: Some("Linux".into()),
            conf: 10,
            cpe: vec![
                "cpe:/a:openbsd:openssh:9.2p1".into(),
                "cpe:/o:linux:linux_kernel".into(),
            ],
            ..ServiceInfo::default()
        }));
    }
    if let Some(p) = ports.iter_mut().find(|p| p.port == 80) {
        p.detected = Some(Box::new(ServiceInfo {
            name: "http".into(),
            product: Some("nginx".into()),
            tunnel_ssl: true,
            conf: 10,
            tls: Some(TlsFields {
                version: "TLSv1.3".into(),
                cipher: "TLS13_AES_256_GCM_SHA384".into(),
                alpn: Some("http/1.1".into()),
                subject: Some("CN=lab.test".into()),
                issuer: Some("CN=lab.test".into()),
                sans: vec!["lab.test".into(), "www.lab.test".into()],
                not_before: Some(1_700_000_000),
                not_after: Some(-5),
                key: Some("rsa 2048".into()),
                sha256: Some("ab".repeat(32)),
            }),
            ..ServiceInfo::default()
        }));
    }
    ports.push(PortResult {
        proto: Proto::Udp,
        port: 53,
        state: PortState::OpenFiltered,
        reason: Reason::NoResponse,
        ttl: 0,
        service: Some("domain".into()),
        detected: None,
    });
    HostReport {
        addr: addr.parse::<IpAddr>().unwrap(),
        hostname: Some("host.lab.test".into()),
        mac: Some([0x02, 0, 0xde, 0xad, 0xbe, 0xef]),
        status: HostStatus {
            up: true,
            reason: Reason::Reset,
            ttl: 64,
        },
        latency: Some(Duration::from_micros(87)),
        start: t(start),
        end: t(start + 2),
        ports,
        srtt: Some(Duration::from_micros(90)),
        rttvar: Some(Duration::from_micros(20)),
        timeout: Some(Duration::from_millis(100)),
    }
}

fn stats(end: u64, up: u64, total: u64) -> RunStats {
    RunStats {
        end: t(end),
        elapsed: Duration::from_micros(2_500_000),
        hosts_up: up,
        hosts_down: total - up,
        hosts_total: total,
    }
}

/// Record one complete scan of `hosts`; its id.
pub fn record(open: Open, m: &RunMeta, hosts: &[HostReport], end: u64) -> i64 {
    let mut r = Recorder::start(open(), m).unwrap();
    for h in hosts {
        r.host(h.clone());
    }
    r.finish(
        &stats(end, hosts.len() as u64, hosts.len() as u64 + 3),
        RunStatus::Complete,
    )
    .unwrap()
}

pub fn round_trip(open: Open) {
    let m = meta("198.18.0.0/30", 1_000, 0);
    let hosts = vec![
        host("198.18.0.1", &[22, 80], 1_000),
        host("198.18.0.2", &[], 1_001),
        host("fd00::2", &[7, 22, 80], 1_002),
    ];
    let id = record(open, &m, &hosts, 1_010);
    let got = open().load(id).unwrap();
    assert_eq!(got.seed, m.seed);
    assert_eq!(got.report.run, m.info);
    assert_eq!(got.report.hosts, hosts, "hosts read back differ");
    assert_eq!(got.report.stats, stats(1_010, 3, 6));
    assert_eq!(got.summary.status, RunStatus::Complete);
    assert_eq!(got.summary.hosts_up, 3);
    assert_eq!(got.summary.open_ports, 5);
    assert_eq!(got.summary.technique, "syn,udp");
}

pub fn list_and_filter(open: Open) {
    let a = record(
        open,
        &meta("198.18.0.0/24", 2_000, 0),
        &[host("198.18.0.1", &[22], 2_000)],
        2_001,
    );
    let b = record(
        open,
        &meta("198.18.1.0/24 fd00::/120", 2_010, 0),
        &[host("198.18.1.9", &[22, 80], 2_010)],
        2_011,
    );
    let c = record(
        open,
        &meta("198.18.0.0/24", 2_020, 0),
        &[host("198.18.0.1", &[], 2_020)],
        2_021,
    );
    let mut s = open();
    let all = s.list(&Filter::default()).unwrap();
    let ids: Vec<i64> = all.iter().map(|r| r.id).collect();
    assert_eq!(&ids[..3], &[c, b, a], "newest first");
    let by_word = |w: &str| -> Vec<i64> {
        open()
            .list(&Filter {
                target: Some(w.into()),
                ..Filter::default()
            })
            .unwrap()
            .iter()
            .map(|r| r.id)
            .filter(|id| [a, b, c].contains(id))
            .collect()
    };
    assert_eq!(by_word("198.18.0.0/24"), vec![c, a]);
    assert_eq!(by_word("fd00::/120"), vec![b]);
    // An address some scan found.
    assert_eq!(by_word("198.18.1.9"), vec![b]);
    // Part of a word is not the word; LIKE's wildcards are plain characters.
    assert_eq!(by_word("198.18.0.0"), Vec::<i64>::new());
    assert_eq!(by_word("%"), Vec::<i64>::new());
    let two = s
        .list(&Filter {
            limit: Some(2),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(two.iter().map(|r| r.id).collect::<Vec<_>>(), vec![c, b]);
    assert_eq!(two[1].open_ports, 2);
    assert_eq!(two[0].open_ports, 0);
    assert_eq!(last_two(s.as_mut()).unwrap(), Some((a, c)));
}

pub fn unknown_id(open: Open) {
    match open().load(987_654_321) {
        Err(StoreError::NoSuchRun(987_654_321)) => {}
        other => panic!("expected no such run, got {other:?}"),
    }
}

/// A recorder dropped mid-scan (the scan failed) keeps what it wrote and
/// marks the scan interrupted; an earlier scan is untouched.
pub fn dropped_recorder_is_interrupted(open: Open) {
    let before = record(
        open,
        &meta("198.18.2.0/24", 3_000, 0),
        &[host("198.18.2.1", &[22], 3_000)],
        3_001,
    );
    let m = meta("198.18.2.0/24", 3_010, 0);
    let mut r = Recorder::start(open(), &m).unwrap();
    let id = r.id();
    r.host(host("198.18.2.1", &[22], 3_010));
    r.host(host("198.18.2.2", &[], 3_011));
    drop(r);
    let got = open().load(id).unwrap();
    assert_eq!(got.summary.status, RunStatus::Interrupted);
    assert_eq!(got.report.hosts.len(), 2);
    assert_eq!(got.report.stats.hosts_up, 2);
    let old = open().load(before).unwrap();
    assert_eq!(old.summary.status, RunStatus::Complete);
    assert_eq!(old.report.hosts.len(), 1);
    // An interrupted scan is not one of "the last two".
    let after = record(
        open,
        &meta("198.18.2.0/24", 3_020, 0),
        &[host("198.18.2.1", &[], 3_020)],
        3_021,
    );
    let mut s = open();
    assert_eq!(last_two(s.as_mut()).unwrap(), Some((before, after)));
}

/// Several scans writing at once, each from its own connection, in many
/// small batches: every one lands whole.
pub fn concurrent_writers(open: Open) {
    const WRITERS: usize = 4;
    const HOSTS: usize = 300;
    let ids: Vec<i64> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..WRITERS)
            .map(|w| {
                sc.spawn(move || {
                    let m = meta(&format!("198.18.{}.0/24", 10 + w), 4_000, 0);
                    let mut r = Recorder::start(open(), &m).unwrap();
                    for i in 0..HOSTS {
                        r.host(host(
                            &format!("198.18.{}.{}", 10 + w, i % 250 + 1),
                            &[22],
                            4_000,
                        ));
                        if i % 7 == 0 {
                            // Hosts handed over a few at a time: the
                            // writers' transactions interleave.
                            r.flush();
                            std::thread::yield_now();
                        }
                    }
                    r.finish(
                        &stats(4_001, HOSTS as u64, HOSTS as u64),
                        RunStatus::Complete,
                    )
                    .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for id in ids {
        let got = open().load(id).unwrap();
        assert_eq!(got.report.hosts.len(), HOSTS);
        assert_eq!(got.summary.status, RunStatus::Complete);
    }
}

/// Hosts flushed to the writer are written while the scan goes on, without
/// waiting for the scan's end or for a chunk to fill; the ones not flushed
/// yet still land at its end.
pub fn flushed_hosts_land_before_the_end(open: Open) {
    let m = meta("198.18.4.0/24", 6_000, 0);
    let mut r = Recorder::start(open(), &m).unwrap();
    let id = r.id();
    r.host(host("198.18.4.1", &[22], 6_000));
    r.host(host("198.18.4.2", &[], 6_000));
    r.flush();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = open().load(id).unwrap();
        assert_eq!(got.summary.status, RunStatus::Running);
        if got.report.hosts.len() == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "flushed hosts not written: {} of 2",
            got.report.hosts.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    r.host(host("198.18.4.3", &[80], 6_001));
    let id = r.finish(&stats(6_002, 3, 3), RunStatus::Complete).unwrap();
    let got = open().load(id).unwrap();
    assert_eq!(got.report.hosts.len(), 3);
    assert_eq!(got.summary.status, RunStatus::Complete);
}

/// A host of many ports goes to the writer as it is given, with no flush:
/// the scan writes its outputs meanwhile (a `-p-` host's take tens of ms).
pub fn a_host_of_many_ports_lands_without_a_flush(open: Open) {
    let m = meta("198.18.4.9", 6_000, 0);
    let mut big = host("198.18.4.9", &[22, 80], 6_000);
    let db = ServiceDb::builtin();
    // TCP 1-65535 in order, then the host's UDP port.
    let (mut ports, udp): (Vec<_>, Vec<_>) =
        big.ports.drain(..).partition(|p| p.proto == Proto::Tcp);
    ports.extend((101..=65_535).map(|p| {
        let open = p % 1000 == 7;
        PortResult {
            proto: Proto::Tcp,
            port: p,
            state: if open {
                PortState::Open
            } else {
                PortState::Closed
            },
            reason: if open { Reason::SynAck } else { Reason::Reset },
            ttl: 64,
            service: db.name(p, Proto::Tcp).map(str::to_owned),
            detected: None,
        }
    }));
    ports.extend(udp);
    big.ports = ports;
    let mut r = Recorder::start(open(), &m).unwrap();
    let id = r.id();
    r.host(big.clone());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let got = open().load(id).unwrap();
        assert_eq!(got.summary.status, RunStatus::Running);
        if !got.report.hosts.is_empty() {
            same_hosts(&got.report.hosts, std::slice::from_ref(&big));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a host of 65,535 ports not written before a flush"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let open_ports = big
        .ports
        .iter()
        .filter(|p| p.state == PortState::Open)
        .count();
    assert!(open_ports > 60, "{open_ports} open");
    let id = r.finish(&stats(6_002, 1, 1), RunStatus::Complete).unwrap();
    let got = open().load(id).unwrap();
    same_hosts(&got.report.hosts, &[big]);
    assert_eq!(got.summary.open_ports, open_ports as u64);
}

/// Hosts equal, or the first difference (a whole `-p-` host is too long
/// to print).
fn same_hosts(got: &[HostReport], want: &[HostReport]) {
    assert_eq!(got.len(), want.len(), "hosts read back");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.ports.len(), w.ports.len(), "{}: ports read back", w.addr);
        for (gp, wp) in g.ports.iter().zip(&w.ports) {
            assert_eq!(gp, wp, "{}: a port read back differs", w.addr);
        }
        let strip = |h: &HostReport| HostReport {
            ports: Vec::new(),
            ..h.clone()
        };
        assert_eq!(strip(g), strip(w), "{}: the host read back differs", w.addr);
    }
}

/// Down hosts are kept too, and are not counted up.
pub fn down_hosts_are_kept(open: Open) {
    let m = meta("198.18.3.0/30", 5_000, 1);
    let mut down = host("198.18.3.2", &[], 5_000);
    down.status = HostStatus {
        up: false,
        reason: Reason::NoResponse,
        ttl: 0,
    };
    down.ports.clear();
    let id = record(
        open,
        &m,
        &[host("198.18.3.1", &[22], 5_000), down.clone()],
        5_001,
    );
    let got = open().load(id).unwrap();
    assert_eq!(got.report.hosts[1], down);
    assert_eq!(got.summary.hosts_up, 1);
}

/// A sweep-like scan: 48 hosts given out of order, 40 of them with port 80
/// open alike (one of those with a -sV result as well), 5 with it closed,
/// 3 with it open at another TTL, and one down; returns its id and hosts.
/// Read back exactly, whether the store keeps shared results as groups or
/// not, and counted right.
pub fn sweep(open: Open) -> (i64, Vec<HostReport>) {
    let m = meta("198.18.9.0/26", 6_000, 0);
    let one = |addr: &str, state, reason, ttl| {
        let mut h = host(addr, &[], 6_000);
        h.ports = vec![PortResult {
            proto: Proto::Tcp,
            port: 80,
            state,
            reason,
            ttl,
            service: Some("http".into()),
            detected: None,
        }];
        h
    };
    let mut hosts: Vec<HostReport> = (0..48)
        .map(|i| {
            let addr = format!("198.18.9.{}", i + 1);
            match i {
                40..=44 => one(&addr, PortState::Closed, Reason::Reset, 64),
                45..=47 => one(&addr, PortState::Open, Reason::SynAck, 63),
                _ => one(&addr, PortState::Open, Reason::SynAck, 64),
            }
        })
        .collect();
    hosts[7].ports[0].detected = Some(Box::new(ServiceInfo {
        name: "http".into(),
        product: Some("nginx".into()),
        conf: 10,
        ..ServiceInfo::default()
    }));
    let mut down = host("198.18.9.49", &[], 6_000);
    down.status = HostStatus {
        up: false,
        reason: Reason::NoResponse,
        ttl: 0,
    };
    down.ports.clear();
    hosts.push(down);
    let mut r = Recorder::start(open(), &m).unwrap();
    // Final in any order (early hosts come as their probes end).
    for (i, h) in hosts.iter().enumerate().rev() {
        r.host_at(i as i64, h.clone());
    }
    let id = r
        .finish(&stats(6_010, 48, 49), RunStatus::Complete)
        .unwrap();
    let got = open().load(id).unwrap();
    assert_eq!(got.report.hosts, hosts, "hosts read back differ");
    assert_eq!(got.summary.open_ports, 43);
    assert_eq!(got.summary.hosts_up, 48);
    let listed = open().list(&Filter::default()).unwrap();
    let row = listed.iter().find(|s| s.id == id).unwrap();
    assert_eq!(row.open_ports, 43);
    (id, hosts)
}

pub fn all(open: Open) {
    round_trip(open);
    sweep(open);
    list_and_filter(open);
    unknown_id(open);
    dropped_recorder_is_interrupted(open);
    concurrent_writers(open);
    flushed_hosts_land_before_the_end(open);
    a_host_of_many_ports_lands_without_a_flush(open);
    down_hosts_are_kept(open);
}
