//! Feeds arbitrary bytes to the engine's reply decoders — what the receive
//! thread does with every packet the ring delivers: the TCP and UDP
//! probers of a plan (cookie checks, classification) and the discovery
//! readers (ICMP / TCP / UDP pings, ARP, neighbour advertisements). None
//! may panic, and an id they return must belong to the plan.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vigie_engine::driver::Prober;
use vigie_engine::portscan::{TcpProber, UdpProber};
use vigie_engine::{Plan, Timing};
use vigie_scan::discovery;
use vigie_scan::ports::PortList;
use vigie_scan::targets::{cidr, TargetSet};
use vigie_scan::Technique;

struct Probers {
    tcp: TcpProber,
    ack: TcpProber,
    udp: UdpProber,
    total: u64,
    keys: vigie_scan::cookie::Keys,
}

fn probers() -> &'static Probers {
    static P: OnceLock<Probers> = OnceLock::new();
    P.get_or_init(|| {
        let net = cidr(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 0)), 24).unwrap();
        let targets = TargetSet::new(&[net], &[]);
        let ports: Vec<u16> = (1..=1024).collect();
        let ports = PortList::from_ports(&ports);
        let src = [Some(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))), None];
        let plan = |t| Plan::new(t, targets.clone(), ports.clone(), 7, Timing::default()).unwrap();
        let syn = plan(Technique::Syn);
        Probers {
            tcp: TcpProber::new(&syn, src),
            ack: TcpProber::new(&plan(Technique::Ack), src),
            udp: UdpProber::new(&plan(Technique::Udp), src),
            total: syn.total(),
            keys: syn.keys,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let p = probers();
    for v in [
        p.tcp.decode(data).map(|(v, _)| v),
        p.ack.decode(data).map(|(v, _)| v),
        p.udp.decode(data).map(|(v, _)| v),
    ]
    .into_iter()
    .flatten()
    {
        assert!(v < p.total);
    }
    let probes = discovery::default_probes();
    if let Some(a) = discovery::read_reply(&p.keys, &probes, data) {
        assert!((a.probe as usize) < probes.len());
    }
    let _ = discovery::read_arp_reply(data);
    let _ = discovery::read_neighbor_advert(data);
});
