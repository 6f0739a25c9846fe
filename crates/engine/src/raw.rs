//! The raw-packet TCP driver: SYN, FIN, NULL, Xmas, ACK, Window, Maimon
//! and custom `--scanflags` scans share it; only the probe's flags and the
//! classification table differ.
//!
//! Two threads share only the immutable [`Plan`] and a stop flag:
//! - this (control/transmit) thread owns the [`Tracker`], the [`Results`] and
//!   the sender; it stamps probes from a template into a preallocated batch
//!   and hands each batch to one `sendmmsg`;
//! - the receive thread reads the AF_PACKET ring, validates each reply
//!   against the keyed cookies, classifies it and passes `(probe, verdict)`
//!   pairs back in batches over a channel.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vigie_netio::rx::{Receiver, RxConfig};
use vigie_netio::tx::{RawSender, TxBatch};
use vigie_netio::txring::{next_hop_v4, PacketSender};
use vigie_scan::classify::{classify, Response};
use vigie_scan::ratectl::{RateController, RateReport};
use vigie_scan::targets::IpRange;
use vigie_scan::tracker::{Event, Tracker};
use vigie_scan::{PortState, Reason};
use vigie_wire::ip_proto;
use vigie_wire::summary::{summarize, Body};
use vigie_wire::tcp::TcpFlags;
use vigie_wire::template::TcpTemplate;

use crate::pace::Pacer;
use crate::plan::Plan;
use crate::progress::{self, Meter};
use crate::results::{Cell, Results};
use crate::rxloop;
use crate::txpool::{self, SendBatch, TxPool};
use crate::{EngineError, Outcome};

/// Probes per `sendmmsg`.
const BATCH: usize = 256;
/// What nmap's TCP probes carry: a small window and, on SYNs, an MSS option.
const PROBE_WINDOW: u16 = 1024;
const PROBE_MSS: u16 = 1460;
const PROBE_TTL: u8 = 64;

#[derive(Debug, Clone, Copy)]
struct Verdict {
    value: u64,
    cell: Cell,
}

/// The probe templates, one per address family present in the plan.
struct Templates {
    v4: Option<(TcpTemplate, IpAddr)>,
    v6: Option<(TcpTemplate, IpAddr)>,
}

impl Templates {
    fn for_plan(plan: &Plan) -> Result<Templates, EngineError> {
        let flags = plan.probe_flags();
        let mss = flags.contains(TcpFlags::SYN).then_some(PROBE_MSS);
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
        let make = |dst: Option<IpAddr>| -> Result<Option<(TcpTemplate, IpAddr)>, EngineError> {
            let Some(dst) = dst else { return Ok(None) };
            let src = vigie_netio::route::source_for(dst).map_err(|source| EngineError::Setup {
                what: "no route to the targets",
                source,
            })?;
            Ok(Some((
                TcpTemplate::new(src, flags, PROBE_WINDOW, mss, PROBE_TTL),
                src,
            )))
        };
        Ok(Templates {
            v4: make(first(false))?,
            v6: make(first(true))?,
        })
    }

    fn get(&self, dst: IpAddr) -> Option<(&TcpTemplate, IpAddr)> {
        let (t, src) = if dst.is_ipv4() {
            self.v4.as_ref()
        } else {
            self.v6.as_ref()
        }?;
        Some((t, *src))
    }
}

/// The send path: `AF_PACKET` straight to the next hop when every target
/// shares one IPv4 next hop with a known MAC, else the raw IP socket.
enum Sender {
    Packet(PacketSender),
    Raw(RawSender),
}

impl Sender {
    fn for_plan(plan: &Plan) -> Result<Sender, EngineError> {
        if std::env::var_os("VIGIE_RAW_SOCKET").is_none() {
            if let Some(hop) = single_next_hop(plan) {
                if let Ok(s) = PacketSender::new(hop.0, hop.1) {
                    return Ok(Sender::Packet(s));
                }
            }
        }
        RawSender::new()
            .map(Sender::Raw)
            .map_err(|source| EngineError::Setup {
                what: "cannot open a raw socket",
                source,
            })
    }
}

impl SendBatch for Sender {
    fn send_batch(&mut self, batch: &TxBatch) -> std::io::Result<usize> {
        match self {
            Sender::Packet(s) => s.send(batch),
            Sender::Raw(s) => s.send(batch),
        }
    }
}

fn single_next_hop(plan: &Plan) -> Option<(u32, [u8; 6])> {
    let mut hop = None;
    for r in plan.targets.ranges() {
        let IpRange::V4 { start, end } = r else {
            return None;
        };
        let h = next_hop_v4(
            std::net::Ipv4Addr::from(*start),
            std::net::Ipv4Addr::from(*end),
            Duration::from_millis(200),
        )?;
        if hop.is_some_and(|x| x != h) {
            return None;
        }
        hop = Some(h);
    }
    hop
}

/// Validate and classify one received packet (L3 bytes).
fn decode(plan: &Plan, packet: &[u8]) -> Option<Verdict> {
    let s = summarize(packet)?;
    let (value, response) = match s.body {
        Body::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
        } => {
            let probe = plan.probe_flags();
            if !plan
                .keys
                .check_tcp_reply_to(probe, s.dst, s.src, sport, dport, flags, seq, ack)
            {
                return None;
            }
            (
                plan.value_of(s.src, sport)?,
                Response::Tcp { flags, window },
            )
        }
        Body::IcmpError {
            v6,
            icmp_type,
            code,
            quoted,
        } => {
            if quoted.protocol != ip_proto::TCP || !plan.keys.check_quoted_tcp(&quoted) {
                return None;
            }
            let response = Response::icmp_error(v6, icmp_type, code);
            (plan.value_of(quoted.dst, quoted.dport)?, response)
        }
        _ => return None,
    };
    let (state, reason) = classify(plan.technique, &response)?;
    Some(Verdict {
        value,
        cell: Cell::new(state, reason, s.ttl),
    })
}

/// Run a raw-packet TCP scan to completion.
pub fn run(plan: &Plan) -> Result<Outcome, EngineError> {
    let plan = Arc::new(plan.clone());
    let templates = Templates::for_plan(&plan)?;
    let receiver = Receiver::new(&RxConfig::default()).map_err(|source| EngineError::Setup {
        what: "cannot open the packet receive ring (AF_PACKET)",
        source,
    })?;
    let sender = Sender::for_plan(&plan)?;
    // A second socket for the transmit worker when the rate calls for it.
    let second = txpool::want_worker(plan.timing.max_rate)
        .then(|| Sender::for_plan(&plan).ok())
        .flatten();
    let mut pool = match second {
        Some(second) => TxPool::with_worker(sender, second, BATCH)?,
        None => TxPool::single(sender),
    };
    let range = plan.index_range();
    let _phase = progress::Phase::begin(
        progress::phase_name(plan.technique),
        range.end - range.start,
    );
    let meter = Meter::new();

    let stop = Arc::new(AtomicBool::new(false));
    let (verdict_tx, verdicts) = mpsc::channel();
    let rx_thread = {
        let plan = Arc::clone(&plan);
        let decode = move |pkt: &[u8]| decode(&plan, pkt);
        rxloop::spawn("vigie-rx", receiver, decode, verdict_tx, Arc::clone(&stop))?
    };

    let result = control_loop(&plan, &templates, &mut pool, &verdicts, &meter);
    let flushed = pool.finish();
    stop.store(true, Ordering::Release);
    let rx_ok = rx_thread.join().is_ok();
    let (mut results, mut tracker, rate) = result?;
    flushed?;
    if !rx_ok {
        return Err(EngineError::Io(std::io::Error::other(
            "the receive thread panicked",
        )));
    }
    // Late replies that arrived while the receiver drained still count.
    let now = Instant::now();
    for batch in verdicts.try_iter() {
        meter.found(record(&mut results, &mut tracker, now, batch));
    }
    let st = tracker.stats();
    meter.update(st.done, st.sent);
    Ok(Outcome {
        results,
        srtt: st.srtt,
        rttvar: st.rttvar,
        timeout: st.timeout,
        sent: st.sent,
        retransmitted: st.retransmitted,
        rate: Some(rate),
    })
}

/// Store a batch of verdicts; returns how many ports it newly found open.
fn record(results: &mut Results, tracker: &mut Tracker, now: Instant, b: Vec<Verdict>) -> u64 {
    let mut opens = 0;
    for v in b {
        if results.record_reply(v.value, v.cell) && v.cell.state() == Some(PortState::Open) {
            opens += 1;
        }
        tracker.handle_reply(now, v.value);
    }
    opens
}

fn control_loop(
    plan: &Plan,
    templates: &Templates,
    sender: &mut TxPool<Sender>,
    verdicts: &mpsc::Receiver<Vec<Verdict>>,
    meter: &Meter,
) -> Result<(Results, Tracker, RateReport), EngineError> {
    let total = plan.total();
    // What silence after every retry means is the technique's call.
    let (state, reason) = classify(plan.technique, &Response::NoReply)
        .unwrap_or((PortState::Filtered, Reason::NoResponse));
    let silence = Cell::new(state, reason, 0);
    let mut results = Results::new(total, plan.nports());
    for &(value, cell) in &plan.prior {
        results.record_reply(value, cell);
    }
    let mut cfg = plan.timing.tracker_config();
    cfg.min_timeout = plan.timing.raw_min_rtt_timeout;
    let mut tracker = Tracker::new(plan.permutation(), plan.index_range(), cfg);
    // After a stop request: when waiting for replies in flight ends.
    let mut stopping: Option<Instant> = None;
    // The send rate adapts to the loss the replies show (unless fixed).
    let mut ctl = RateController::new(plan.timing.rate_config(), Instant::now());
    let mut pacer = Pacer::new(ctl.rate(), BATCH, Instant::now());
    let mut batch = TxBatch::new(BATCH);
    let mut ident = plan.seed as u16;
    // Probes with ACK carry the cookie in the ack field too: a RST
    // answering them takes its sequence number from it.
    let with_ack = plan.probe_flags().contains(TcpFlags::ACK);
    let deadline = plan.timing.host_timeout.map(|t| Instant::now() + t);

    let apply = |results: &mut Results, tracker: &mut Tracker, now: Instant, b: Vec<Verdict>| {
        meter.found(record(results, tracker, now, b));
    };

    loop {
        let now = Instant::now();
        for b in verdicts.try_iter() {
            apply(&mut results, &mut tracker, now, b);
        }
        if tracker.poll_timeout().is_some_and(|t| t <= now) {
            tracker.handle_timeout(now);
        }
        while let Some(Event::NoResponse { value }) = tracker.poll_event() {
            results.record_silence(value, silence);
        }
        // Once per batch or wait: a few relaxed atomic adds.
        let st = tracker.stats();
        meter.update(st.done, st.sent);
        while let Some(s) = tracker.poll_loss() {
            if ctl.on_sample(now, &s) {
                pacer.set_rate(ctl.rate(), BATCH, now);
                if ctl.report().backoffs > 0 {
                    tracker.assume_loss();
                }
            }
        }
        if tracker.is_done() || deadline.is_some_and(|d| now >= d) {
            return Ok((results, tracker, ctl.report()));
        }
        if crate::stop_requested() {
            // Stop sending; give the probes in flight one timeout to answer.
            let end = *stopping.get_or_insert_with(|| now + tracker.stats().timeout);
            if now >= end {
                results.set_resume_at(tracker.low_watermark());
                return Ok((results, tracker, ctl.report()));
            }
            match verdicts.recv_timeout(end.saturating_duration_since(now)) {
                Ok(b) => apply(&mut results, &mut tracker, Instant::now(), b),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    results.set_resume_at(tracker.low_watermark());
                    return Ok((results, tracker, ctl.report()));
                }
            }
            continue;
        }

        let allowed = pacer.allowance(now);
        while batch.len() < allowed {
            let Some(t) = tracker.poll_transmit(now) else {
                break;
            };
            let Some((dst, port)) = plan.probe(t.value) else {
                continue;
            };
            let Some((template, src)) = templates.get(dst) else {
                continue;
            };
            let seq = plan.keys.tcp_seq(src, dst, port);
            let sport = plan.keys.src_port(dst, port);
            let ack = if with_ack { seq } else { 0 };
            batch.push_with(dst, |buf| {
                template.stamp(buf, dst, sport, port, seq, ack, ident)
            });
            ident = ident.wrapping_add(1);
        }
        if !batch.is_empty() {
            pacer.spend(batch.len());
            ctl.on_sent(now, batch.len());
            sender.send(&mut batch)?;
            continue;
        }

        // Nothing to send now: wait for replies, the next timeout or a token.
        let mut wait = Duration::from_millis(50);
        if let Some(t) = tracker.poll_timeout() {
            wait = wait.min(t.saturating_duration_since(now));
        }
        if allowed == 0 {
            wait = wait.min(pacer.wait());
        }
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(now));
        }
        match verdicts.recv_timeout(wait) {
            Ok(b) => apply(&mut results, &mut tracker, Instant::now(), b),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(EngineError::Io(std::io::Error::other(
                    "the receive thread stopped",
                )));
            }
        }
    }
}
