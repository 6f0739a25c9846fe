//! Small literal results shared by the writers' tests. `host_small` mirrors
//! a real nmap 7.93 run (`-sS -Pn -n -p 1-1000 127.0.0.1`, listeners on 22,
//! 80, 111 and 443) so the expected strings can be checked against nmap's.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vigie_scan::ports::PortList;
use vigie_scan::{PortState, Proto, Reason, Technique};

use crate::{ctime, minute_stamp, second_stamp};
use crate::{
    HostReport, HostStatus, PortResult, RunInfo, RunStats, ScanInfo, ServiceInfo, TlsFields,
};

pub const T0: u64 = 1_795_237_086; // Sat Nov 21 04:58:06 2026 UTC

pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// An expected output written for a machine in UTC (T0 as nmap printed it
/// there), with T0 as the writers print it in this machine's zone.
pub fn in_local_zone(text: &str) -> String {
    let t = at(T0);
    text.replace("Sat Nov 21 04:58:06 2026", &ctime(t))
        .replace("2026-11-21 04:58:06 UTC", &second_stamp(t))
        .replace("2026-11-21 04:58 UTC", &minute_stamp(t))
}

pub fn run_info(verbose: u8) -> RunInfo {
    RunInfo {
        args: "vigie -sS -Pn -n -p 1-1000 127.0.0.1".to_string(),
        start: at(T0),
        scans: vec![ScanInfo {
            technique: Technique::Syn,
            scanflags: None,
            proto: Proto::Tcp,
            ports: PortList::from_ranges([(1, 1000)]),
        }],
        verbose,
    }
}

pub fn port(proto: Proto, port: u16, state: PortState, reason: Reason, ttl: u8) -> PortResult {
    PortResult {
        proto,
        port,
        state,
        reason,
        ttl,
        service: None,
        detected: None,
    }
}

pub fn tcp_range(a: u16, b: u16, state: PortState, reason: Reason) -> Vec<PortResult> {
    let ttl = if reason == Reason::NoResponse { 0 } else { 64 };
    (a..=b)
        .map(|p| port(Proto::Tcp, p, state, reason, ttl))
        .collect()
}

pub fn udp_range(a: u16, b: u16, state: PortState, reason: Reason) -> Vec<PortResult> {
    let ttl = if reason == Reason::NoResponse { 0 } else { 64 };
    (a..=b)
        .map(|p| port(Proto::Udp, p, state, reason, ttl))
        .collect()
}

pub fn host_small() -> HostReport {
    let mut ports = tcp_range(1, 1000, PortState::Closed, Reason::Reset);
    for (p, name) in [(22, "ssh"), (80, "http"), (111, "rpcbind"), (443, "https")] {
        let r = &mut ports[p - 1];
        r.state = PortState::Open;
        r.reason = Reason::SynAck;
        r.service = Some(name.to_string());
    }
    HostReport {
        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        hostname: None,
        mac: None,
        status: HostStatus {
            up: true,
            reason: Reason::UserSet,
            ttl: 0,
        },
        latency: Some(Duration::from_micros(2)),
        start: at(T0),
        end: at(T0),
        ports,
        srtt: Some(Duration::from_micros(2)),
        rttvar: Some(Duration::from_micros(1)),
        timeout: Some(Duration::from_millis(100)),
    }
}

pub fn host_down() -> HostReport {
    HostReport {
        addr: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
        hostname: None,
        mac: None,
        status: HostStatus {
            up: false,
            reason: Reason::NoResponse,
            ttl: 0,
        },
        latency: None,
        start: at(T0),
        end: at(T0 + 1),
        ports: Vec::new(),
        srtt: None,
        rttvar: None,
        timeout: None,
    }
}

pub fn stats() -> RunStats {
    RunStats {
        end: at(T0),
        elapsed: Duration::from_millis(80),
        hosts_up: 1,
        hosts_down: 0,
        hosts_total: 1,
    }
}

/// A host after `-sV`: OpenSSH on 22, nginx inside TLS on 443 (with its
/// certificate), a service without product on 80.
pub fn host_versions() -> HostReport {
    let mut h = host_small();
    h.ports[21].detected = Some(Box::new(ServiceInfo {
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
    h.ports[79].detected = Some(Box::new(ServiceInfo {
        name: "http".into(),
        conf: 10,
        ..ServiceInfo::default()
    }));
    h.ports[442].detected = Some(Box::new(ServiceInfo {
        name: "http".into(),
        product: Some("nginx".into()),
        version: Some("1.22.1".into()),
        hostname: Some("www.vigie.test".into()),
        tunnel_ssl: true,
        conf: 10,
        cpe: vec!["cpe:/a:nginx:nginx:1.22.1".into()],
        tls: Some(TlsFields {
            version: "TLSv1.3".into(),
            cipher: "TLS13_AES_256_GCM_SHA384".into(),
            alpn: Some("http/1.1".into()),
            subject: Some("CN=www.vigie.test".into()),
            issuer: Some("CN=Vigie Lab CA".into()),
            sans: vec!["DNS:www.vigie.test".into()],
            not_before: Some(1_795_000_000),
            not_after: Some(1_826_536_000),
            key: Some("ec 256".into()),
            sha256: Some("ab".repeat(32)),
        }),
        ..ServiceInfo::default()
    }));
    h
}
