//! The alert repetition rule and the JSON form.

mod common;

use common::*;
use std::time::{Duration, SystemTime};
use vigie_detect::{Config, Kind};
use vigie_wire::TcpFlags;

fn syn_burst(sim: &mut Sim, host: &mut Host, rng: &mut Rng, ports: std::ops::Range<u16>) {
    let (src, dst) = (ip("198.18.0.11"), ip("198.18.0.2"));
    for port in ports {
        let probe = nmap_tcp(rng, src, dst, 45000, port, TcpFlags::SYN);
        exchange(sim, host, &probe);
        sim.advance(Duration::from_millis(10));
    }
}

#[test]
fn one_alert_per_source_and_kind_until_quiet() {
    let dst = ip("198.18.0.2");
    let mut sim = Sim::with(Config {
        local: vec![dst],
        quiet: Duration::from_secs(600),
        ..Config::default()
    });
    let mut host = Host::new(dst);
    let mut rng = Rng(59);
    syn_burst(&mut sim, &mut host, &mut rng, 100..400);
    assert_eq!(sim.alerts.len(), 1);
    // Still scanning every 5 minutes: never quiet for 10, no new alert.
    for i in 0..6u16 {
        sim.advance(Duration::from_secs(300));
        syn_burst(&mut sim, &mut host, &mut rng, 1000 + i * 10..1010 + i * 10);
    }
    assert_eq!(sim.alerts.len(), 1);
    // Quiet for 10 minutes, then a new scan: a new alert after 5 probes.
    sim.advance(Duration::from_secs(601));
    syn_burst(&mut sim, &mut host, &mut rng, 2000..2100);
    assert_eq!(sim.alerts.len(), 2);
    assert_eq!(sim.alerts[1].probes, 5);
    // Another kind from the same source alerts on its own.
    let (src, dst) = (ip("198.18.0.11"), ip("198.18.0.2"));
    for port in 3000..3010 {
        let probe = nmap_tcp(&mut rng, src, dst, 45001, port, TcpFlags::FIN);
        exchange(&mut sim, &mut host, &probe);
    }
    assert_eq!(sim.alerts.len(), 3);
    assert_eq!(sim.alerts[2].kind, Kind::Fin);
}

#[test]
fn json_has_every_field() {
    let dst = ip("198.18.0.2");
    let mut sim = Sim::new(&[dst]);
    let mut host = Host::new(dst);
    let mut rng = Rng(61);
    syn_burst(&mut sim, &mut host, &mut rng, 1..20);
    let a = only(&sim.alerts);
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let j = a.json(wall);
    assert_eq!(j["time"], "2023-11-14T22:13:20.000000Z");
    assert_eq!(j["timestamp"], j["time"]);
    assert_eq!(j["src"], "198.18.0.11");
    assert_eq!(j["family"], "ipv4");
    assert_eq!(j["kind"], "syn");
    assert_eq!(j["shape"], "vertical");
    assert_eq!(j["tool"], "nmap");
    assert_eq!(j["probes"], 5);
    assert_eq!(j["ports"], serde_json::json!([1, 2, 3, 4, 5]));
    assert_eq!(j["port_count"], 5);
    assert_eq!(j["hosts"], 1);
    assert_eq!(j["dst"], serde_json::json!(["198.18.0.2"]));
    assert!(j["evidence"].as_str().unwrap().contains("window 1024"));
    assert_eq!(j["group"], serde_json::json!([]));
    assert_eq!(j["handshakes"], 0);
    assert_eq!(j["event_type"], "alert");
    assert_eq!(j["src_ip"], "198.18.0.11");
    assert_eq!(j["dest_ip"], "198.18.0.2");
    assert_eq!(j["proto"], "TCP");
    assert_eq!(j["alert"]["signature"], "vigie: SYN scan by nmap");
    assert_eq!(j["alert"]["category"], "Attempted Information Leak");
    assert_eq!(j["alert"]["severity"], 2);
    assert_eq!(j["event"]["kind"], "alert");
    assert_eq!(
        j["event"]["category"],
        serde_json::json!(["network", "intrusion_detection"])
    );
    assert_eq!(j["source"]["ip"], "198.18.0.11");
    assert_eq!(j["destination"]["ip"], "198.18.0.2");
    assert_eq!(j["rule"]["name"], "vigie: SYN scan by nmap");
    assert_eq!(j["threat"]["technique"]["id"], "T1046");
    // first_seen: the first probe was 40.8 ms before the deciding one
    // (four 10 ms steps and four 0.2 ms answers).
    assert_eq!(j["first_seen"], "2023-11-14T22:13:19.959200Z");
}
