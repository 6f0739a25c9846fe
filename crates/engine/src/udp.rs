//! The UDP scan driver (`-sU`).
//!
//! Same shape as the raw TCP driver: this thread owns the sans-IO
//! [`UdpScheduler`] (which keeps the scan exact under ICMP rate limiting),
//! stamps probes with their per-port payload into `sendmmsg` batches; a
//! receive thread validates replies (keyed UDP source port, DNS txid, quoted
//! source port of ICMP errors) and classifies them. Open ports are handed to
//! the caller's `on_open` the moment their reply arrives.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_netio::rx::{Receiver, RxConfig};
use vigie_netio::tx::{RawSender, TxBatch};
use vigie_scan::classify::{classify, Response};
use vigie_scan::payloads;
use vigie_scan::targets::IpRange;
use vigie_scan::udppace::{ReplyKind, UdpConfig, UdpScheduler};
use vigie_scan::{PortState, Reason};
use vigie_wire::ip_proto;
use vigie_wire::summary::{summarize, Body};
use vigie_wire::template::UdpTemplate;

use crate::pace::Pacer;
use crate::plan::Plan;
use crate::progress::{self, Meter};
use crate::results::{Cell, Results};
use crate::rxloop;
use crate::{EngineError, Outcome};

const BATCH: usize = 64;
const PROBE_TTL: u8 = 64;

#[derive(Debug, Clone, Copy)]
struct Verdict {
    value: u64,
    cell: Cell,
    kind: ReplyKind,
}

/// What the caller hears while the scan runs (progress goes to the
/// [`progress`] board, as for every driver).
pub struct Hooks<'a> {
    /// Called once per open port, as soon as its reply arrives.
    pub on_open: &'a mut dyn FnMut(IpAddr, u16),
}

struct Templates {
    v4: Option<UdpTemplate>,
    v6: Option<UdpTemplate>,
}

impl Templates {
    fn for_plan(plan: &Plan) -> Result<Templates, EngineError> {
        let first = |v6: bool| {
            plan.targets.ranges().iter().find_map(|r| match (r, v6) {
                (IpRange::V4 { start, .. }, false) => {
                    Some(IpAddr::from(std::net::Ipv4Addr::from(*start)))
                }
                (IpRange::V6 { start, .. }, true) => {
                    Some(IpAddr::from(std::net::Ipv6Addr::from(*start)))
                }
                _ => None,
            })
        };
        let make = |dst: Option<IpAddr>| -> Result<Option<UdpTemplate>, EngineError> {
            let Some(dst) = dst else { return Ok(None) };
            let src = vigie_netio::route::source_for(dst).map_err(|source| EngineError::Setup {
                what: "no route to the targets",
                source,
            })?;
            Ok(Some(UdpTemplate::new(src, PROBE_TTL)))
        };
        Ok(Templates {
            v4: make(first(false))?,
            v6: make(first(true))?,
        })
    }

    fn get(&self, dst: IpAddr) -> Option<&UdpTemplate> {
        if dst.is_ipv4() {
            self.v4.as_ref()
        } else {
            self.v6.as_ref()
        }
    }
}

/// Validate and classify one received packet (L3 bytes).
fn decode(plan: &Plan, packet: &[u8]) -> Option<Verdict> {
    let s = summarize(packet)?;
    let (value, response, kind) = match s.body {
        Body::Udp {
            sport,
            dport,
            payload_offset,
            payload_len,
        } => {
            if !plan.keys.check_udp_reply(s.src, sport, dport) {
                return None;
            }
            let body = packet.get(payload_offset..payload_offset + payload_len)?;
            if !payloads::check_reply(sport, plan.keys.dns_txid(s.src, sport), body) {
                return None;
            }
            (plan.value_of(s.src, sport)?, Response::Udp, ReplyKind::Udp)
        }
        Body::IcmpError {
            v6,
            icmp_type,
            code,
            quoted,
        } => {
            if quoted.protocol != ip_proto::UDP || !plan.keys.check_quoted_udp(&quoted) {
                return None;
            }
            let response = Response::icmp_error(v6, icmp_type, code);
            let kind = if response.is_port_unreach() {
                ReplyKind::PortUnreach
            } else {
                ReplyKind::OtherIcmp
            };
            (plan.value_of(quoted.dst, quoted.dport)?, response, kind)
        }
        _ => return None,
    };
    let (state, reason) = classify(plan.technique, &response)?;
    Some(Verdict {
        value,
        cell: Cell::new(state, reason, s.ttl),
        kind,
    })
}

fn udp_config(plan: &Plan) -> UdpConfig {
    let t = &plan.timing;
    UdpConfig {
        max_retries: t.max_retries,
        initial_timeout: t.initial_rtt_timeout,
        min_timeout: t.min_rtt_timeout,
        max_timeout: t.max_rtt_timeout,
        ..UdpConfig::default()
    }
}

/// Run a UDP scan to completion (or to `--host-timeout`).
pub fn run(plan: &Plan, hooks: Hooks<'_>) -> Result<Outcome, EngineError> {
    let plan = Arc::new(plan.clone());
    let templates = Templates::for_plan(&plan)?;
    let receiver = Receiver::new(&RxConfig::default()).map_err(|source| EngineError::Setup {
        what: "cannot open the packet receive ring (AF_PACKET)",
        source,
    })?;
    let mut sender = RawSender::new().map_err(|source| EngineError::Setup {
        what: "cannot open a raw socket",
        source,
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let (verdict_tx, verdicts) = mpsc::channel();
    let rx_thread = {
        let plan = Arc::clone(&plan);
        let decode = move |pkt: &[u8]| decode(&plan, pkt);
        rxloop::spawn(
            "vigie-udp-rx",
            receiver,
            decode,
            verdict_tx,
            Arc::clone(&stop),
        )?
    };
    let _phase = progress::Phase::begin(progress::phase_name(plan.technique), plan.total());
    let mut driver = Driver {
        plan: &plan,
        results: Results::new(plan.total(), plan.nports()),
        sched: UdpScheduler::new(
            plan.targets.len() as u64,
            plan.nports(),
            plan.permutation(),
            udp_config(&plan),
        ),
        hooks,
        meter: Meter::new(),
    };
    let result = driver.control_loop(&templates, &mut sender, &verdicts);
    stop.store(true, Ordering::Release);
    let rx_ok = rx_thread.join().is_ok();
    result?;
    if !rx_ok {
        return Err(EngineError::Io(std::io::Error::other(
            "the receive thread panicked",
        )));
    }
    let now = Instant::now();
    for batch in verdicts.try_iter() {
        driver.apply(now, batch);
    }
    driver.progress();
    let st = driver.sched.stats();
    Ok(Outcome {
        srtt: driver.sched.srtt(),
        rttvar: driver.sched.rttvar(),
        timeout: driver.sched.timeout(),
        sent: st.sent,
        retransmitted: st.sent.saturating_sub(st.total),
        rate: None,
        results: driver.results,
    })
}

struct Driver<'p, 'h> {
    plan: &'p Plan,
    results: Results,
    sched: UdpScheduler,
    hooks: Hooks<'h>,
    meter: Meter,
}

impl Driver<'_, '_> {
    fn apply(&mut self, now: Instant, batch: Vec<Verdict>) {
        for v in batch {
            if self.sched.handle_reply(now, v.value, v.kind) {
                self.results.record_reply(v.value, v.cell);
                if v.cell.state() == Some(PortState::Open) {
                    self.meter.found(1);
                    if let Some((addr, port)) = self.plan.probe(v.value) {
                        (self.hooks.on_open)(addr, port);
                    }
                }
            }
        }
    }

    /// Publish the scheduler's counters (once per batch or wait).
    fn progress(&self) {
        let st = self.sched.stats();
        self.meter.update(st.resolved, st.sent);
    }

    fn control_loop(
        &mut self,
        templates: &Templates,
        sender: &mut RawSender,
        verdicts: &mpsc::Receiver<Vec<Verdict>>,
    ) -> Result<(), EngineError> {
        let plan = self.plan;
        let (state, reason) = classify(plan.technique, &Response::NoReply)
            .unwrap_or((PortState::OpenFiltered, Reason::NoResponse));
        let silence = Cell::new(state, reason, 0);
        let mut pacer = Pacer::new(plan.timing.max_rate, BATCH, Instant::now());
        let mut batch = TxBatch::new(BATCH);
        let mut payload = Vec::with_capacity(256);
        let mut ident = plan.seed as u16;
        let deadline = plan.timing.host_timeout.map(|t| Instant::now() + t);
        loop {
            let now = Instant::now();
            for b in verdicts.try_iter() {
                self.apply(now, b);
            }
            if self.sched.poll_timeout().is_some_and(|t| t <= now) {
                self.sched.handle_timeout(now);
            }
            while let Some(v) = self.sched.poll_event() {
                self.results.record_silence(v, silence);
            }
            self.progress();
            if self.sched.is_done() || deadline.is_some_and(|d| now >= d) {
                return Ok(());
            }
            let allowed = pacer.allowance(now);
            while batch.len() < allowed {
                let Some(t) = self.sched.poll_transmit(now) else {
                    break;
                };
                let Some((dst, port)) = plan.probe(t.value) else {
                    continue;
                };
                let Some(template) = templates.get(dst) else {
                    continue;
                };
                payloads::payload(port, plan.keys.dns_txid(dst, port), &mut payload);
                let sport = plan.keys.udp_src_port(dst, port);
                batch.push_with(dst, |buf| {
                    template.stamp(buf, dst, sport, port, ident, &payload)
                });
                ident = ident.wrapping_add(1);
            }
            if !batch.is_empty() {
                pacer.spend(batch.len());
                sender.send(&batch)?;
                batch.clear();
                continue;
            }
            let mut wait = Duration::from_millis(50);
            if let Some(t) = self.sched.poll_timeout() {
                wait = wait.min(t.saturating_duration_since(now));
            }
            if allowed == 0 {
                wait = wait.min(pacer.wait());
            }
            if let Some(d) = deadline {
                wait = wait.min(d.saturating_duration_since(now));
            }
            match verdicts.recv_timeout(wait) {
                Ok(b) => self.apply(Instant::now(), b),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(EngineError::Io(std::io::Error::other(
                        "the receive thread stopped",
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use vigie_scan::ports::PortList;
    use vigie_scan::targets::TargetSet;
    use vigie_scan::Technique;
    use vigie_wire::ipv4;

    fn plan() -> Plan {
        let t = TargetSet::new(
            &[IpRange::single(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)))],
            &[],
        );
        let ports =
            vigie_scan::ports::parse_ports("U:53,9", &vigie_scan::services::ServiceDb::builtin())
                .unwrap()
                .udp;
        let _: &PortList = &ports;
        Plan::new(Technique::Udp, t, ports, 42, crate::Timing::default()).unwrap()
    }

    /// An IPv4 UDP datagram from the target's `sport` to our `dport`.
    fn udp_reply(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let len = ipv4::HEADER_LEN + 8 + payload.len();
        let mut p = vec![0u8; len];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        p[8] = 64;
        p[9] = ip_proto::UDP;
        p[12..16].copy_from_slice(&[198, 18, 0, 2]);
        p[16..20].copy_from_slice(&[198, 18, 0, 1]);
        p[20..22].copy_from_slice(&sport.to_be_bytes());
        p[22..24].copy_from_slice(&dport.to_be_bytes());
        p[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p[28..].copy_from_slice(payload);
        p
    }

    /// An ICMP port unreachable quoting a UDP probe from our `sport` to `dport`.
    fn icmp_unreach(sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![0u8; 20 + 8 + 28];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&56u16.to_be_bytes());
        p[8] = 64;
        p[9] = ip_proto::ICMP;
        p[12..16].copy_from_slice(&[198, 18, 0, 2]);
        p[16..20].copy_from_slice(&[198, 18, 0, 1]);
        p[20] = 3;
        p[21] = 3;
        let q = &mut p[28..];
        q[0] = 0x45;
        q[2..4].copy_from_slice(&28u16.to_be_bytes());
        q[8] = 64;
        q[9] = ip_proto::UDP;
        q[12..16].copy_from_slice(&[198, 18, 0, 1]);
        q[16..20].copy_from_slice(&[198, 18, 0, 2]);
        q[20..22].copy_from_slice(&sport.to_be_bytes());
        q[22..24].copy_from_slice(&dport.to_be_bytes());
        p
    }

    #[test]
    fn dns_reply_needs_our_txid_and_port() {
        let plan = plan();
        let them = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
        let sport = plan.keys.udp_src_port(them, 53);
        let txid = plan.keys.dns_txid(them, 53);
        let mut answer = Vec::new();
        payloads::payload(53, txid, &mut answer);
        answer[2] |= 0x80;
        let v = decode(&plan, &udp_reply(53, sport, &answer)).expect("valid answer");
        assert_eq!(v.cell.state(), Some(PortState::Open));
        assert_eq!(v.value, plan.value_of(them, 53).unwrap());
        // Wrong txid, wrong destination port: dropped.
        let mut bad = answer.clone();
        bad[0] ^= 0xff;
        assert!(decode(&plan, &udp_reply(53, sport, &bad)).is_none());
        assert!(decode(&plan, &udp_reply(53, sport ^ 1, &answer)).is_none());
        // Port 9 (empty probe) only needs the port.
        let s9 = plan.keys.udp_src_port(them, 9);
        assert!(decode(&plan, &udp_reply(9, s9, b"x")).is_some());
    }

    #[test]
    fn icmp_needs_our_quoted_source_port() {
        let plan = plan();
        let them = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
        let sport = plan.keys.udp_src_port(them, 9);
        let v = decode(&plan, &icmp_unreach(sport, 9)).expect("valid");
        assert_eq!(
            (v.cell.state(), v.cell.reason(), v.kind),
            (
                Some(PortState::Closed),
                Some(Reason::PortUnreach),
                ReplyKind::PortUnreach
            )
        );
        assert!(decode(&plan, &icmp_unreach(sport.wrapping_add(1), 9)).is_none());
    }
}
