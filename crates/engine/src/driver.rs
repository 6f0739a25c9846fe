//! The one driver loop every raw technique runs: TCP flag scans, UDP, the
//! IP ping sweep and ARP / neighbour discovery.
//!
//! What differs between techniques lives in three small pieces:
//! - a [`Schedule`] (sans-IO, in `vigie_scan::schedule`): what to send
//!   next, what a reply or the clock changes, when a probe is silent;
//! - a [`Prober`]: stamps the probe for an id into a batch, and validates
//!   and reads one received packet back into (id, reply);
//! - a [`Record`]: where verdicts go (the port table, the live hosts).
//!
//! The loop owns the rest, once for every technique: the stop token (stop
//! sending, give the replies in flight a bounded wait, say where to
//! resume), the pacing (token bucket, rate changes the schedule asks for),
//! the host-timeout deadline, the late replies drained after the last send,
//! and progress. Shard ranges and resumed state reach it through the
//! schedule's range and [`Record`]'s prior verdicts ([`drive`]'s `prior`).
//!
//! Packets move through a [`Wire`]: [`Threaded`] (the production one: a
//! receive thread reads the packet ring and decodes, the loop's thread
//! sends, with a second transmit thread at high rates) or [`Inline`] (the
//! receive side polled on the loop's own thread, on any [`Clock`]) — the
//! unit tests run the real loop through `Inline` against a simulated
//! network on a virtual clock.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vigie_netio::tx::TxBatch;
use vigie_netio::{PacketRx, PacketTx};
use vigie_scan::schedule::Schedule;

use crate::evasion::Shaper;
use crate::pace::Pacer;
use crate::progress::Meter;
use crate::trace::{Dir, Trace, DEBUG, DEBUG2};
use crate::txpool::TxPool;
use crate::{trace_debug, EngineError, Stop};

/// The longest wait for replies in flight after a stop request: the rest of
/// the stop (reports, the resume file) must fit in a second.
pub const STOP_DRAIN_MAX: Duration = Duration::from_millis(400);

/// How one technique writes probes and reads replies.
pub trait Prober: Send + Sync + 'static {
    /// A validated reply, as the record stores it.
    type Reply: Copy + Send + 'static;
    /// What the schedule is told about a reply.
    type SchedReply: Copy;

    /// The probes it stamps and the packets it decodes are whole Ethernet
    /// frames (the link-layer sweeps), not IP packets (what traces say).
    const FRAMES: bool = false;

    /// Write the probe for id `value` into `batch` (`ident`: the IPv4 ID
    /// to use; `scratch`: the loop's reusable buffer, for probes whose
    /// variable part is built first, e.g. UDP payloads). False when nothing
    /// applies to it (no route for its family).
    fn stamp(&self, value: u64, ident: u16, scratch: &mut Vec<u8>, batch: &mut TxBatch) -> bool;

    /// Validate and read one received packet (IP packet or Ethernet frame,
    /// as the receiver delivers): the probe id it answers and what it says.
    fn decode(&self, packet: &[u8]) -> Option<(u64, Self::Reply)>;

    fn sched_reply(reply: &Self::Reply) -> Self::SchedReply;
}

/// Where verdicts go.
pub trait Record<R> {
    /// A validated reply to `value`. True when it is news to announce (a
    /// port newly open, a host newly up).
    fn reply(&mut self, value: u64, reply: R) -> bool;
    /// The schedule concluded `value` silent.
    fn silence(&mut self, value: u64);
}

/// The loop's source of time.
pub trait Clock {
    fn now(&self) -> Instant;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealClock;

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Packets out, decoded replies in.
pub trait Wire<R> {
    fn now(&self) -> Instant;
    /// Send the batch's packets and leave it empty.
    fn send(&mut self, batch: &mut TxBatch) -> io::Result<()>;
    /// Append the replies that arrived; when there are none yet, wait for
    /// some until `until` at most.
    fn recv(&mut self, until: Instant, out: &mut Vec<(u64, R)>) -> io::Result<()>;
    /// After the last send: flush, let the receive side drain, and append
    /// what it still had.
    fn finish(&mut self, out: &mut Vec<(u64, R)>) -> io::Result<()>;
    /// After the last send: start what [`Wire::finish`] waits for (the
    /// senders' last packets, the receive side's drain, the sockets'
    /// release), without waiting.
    fn stop(&mut self) {}
    /// Whether [`Wire::finish`] would return at once (called again until
    /// it does, after [`Wire::stop`]).
    fn stopped(&mut self) -> bool {
        true
    }
}

/// How soon the loop looks again when [`Events::idle`] has more to do.
const IDLE_AGAIN: Duration = Duration::from_millis(1);

/// What the loop tells its caller while it runs.
pub trait Events<R, S> {
    /// The reply to probe `value` was news.
    fn news(&mut self, value: u64);
    /// Every probe has had its first send and there is nothing to send
    /// now: a slice of the wait (a few ms at most) is the caller's, with
    /// the verdicts and the schedule as they are. `true`: more to do, call
    /// again soon.
    fn idle(&mut self, _record: &R, _sched: &S) -> bool {
        false
    }
}

/// [`Events`] that only hears news.
pub struct News<F>(pub F);

impl<R, S, F: FnMut(u64)> Events<R, S> for News<F> {
    fn news(&mut self, value: u64) {
        (self.0)(value);
    }
}

/// What the loop needs besides the technique.
#[derive(Debug, Clone)]
pub struct DriveConfig {
    /// Probes per batch.
    pub batch: usize,
    /// The pacer's first rate (`None`: unlimited); a schedule that adapts
    /// the rate overrides it at once.
    pub rate: Option<f64>,
    /// Give up at this instant (`--host-timeout`).
    pub deadline: Option<Instant>,
    pub stop: Stop,
    /// The first IPv4 ID.
    pub ident: u16,
    /// `--packet-trace` / `-d` (`None`: nothing traced).
    pub trace: Option<Arc<Trace>>,
    /// The evasion options' rewriting of each probe (`None`: as stamped).
    /// Ignored for probers of whole frames.
    pub shaper: Option<Arc<Shaper>>,
}

/// How a drive ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Driven {
    /// A stop request ended it: `resume_at` says where to go on.
    pub interrupted: bool,
    pub resume_at: Option<u64>,
}

/// Run `sched` to completion (or to the deadline, or to a stop request)
/// over `wire`. `prior`: verdicts a resumed run already has (recorded and
/// never sent). `events` hears every probe id whose reply was news, and
/// is offered the loop's idle time once every probe has had its first send.
pub fn drive<P, S, W, R>(
    cfg: &DriveConfig,
    prober: &P,
    sched: &mut S,
    wire: &mut W,
    record: &mut R,
    meter: &Meter,
    events: &mut dyn Events<R, S>,
) -> Result<Driven, EngineError>
where
    P: Prober,
    S: Schedule<Reply = P::SchedReply>,
    W: Wire<P::Reply>,
    R: Record<P::Reply>,
{
    let result = run_loop(cfg, prober, sched, wire, record, meter, events);
    // The wire winds down: its threads send their last packets, drain the
    // replies in flight and release their sockets (the kernel takes tens of
    // ms for that, while both cores are idle). The caller may use the time,
    // as it used the wait.
    wire.stop();
    if result.is_ok() && sched.all_sent() {
        while !wire.stopped() && events.idle(record, sched) {
            std::thread::sleep(IDLE_AGAIN);
        }
    }
    // Whatever ended the loop: replies that arrived meanwhile still count.
    let mut late = Vec::new();
    let finished = wire.finish(&mut late);
    let now = wire.now();
    take::<P, S, R>(&mut late, sched, record, meter, now, events);
    let (done, sent) = sched.progress();
    meter.update(done, sent);
    if let Some(t) = cfg.trace.as_deref() {
        let (sent, retx) = sched.sent();
        let (srtt, _) = sched.rtt();
        t.debug(
            DEBUG,
            format_args!(
                "driver: done ({done} probes final): {sent} sent, {retx} retransmitted, srtt {}, timeout {:.1} ms{}",
                srtt.map_or("-".to_owned(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3)),
                sched.timeout().as_secs_f64() * 1e3,
                match &result {
                    Ok(d) if d.interrupted => ", interrupted",
                    Ok(_) => "",
                    Err(_) => ", failed",
                }
            ),
        );
    }
    let driven = result?;
    finished?;
    Ok(driven)
}

/// Hand decoded replies to the schedule and the record.
fn take<P, S, R>(
    replies: &mut Vec<(u64, P::Reply)>,
    sched: &mut S,
    record: &mut R,
    meter: &Meter,
    now: Instant,
    events: &mut dyn Events<R, S>,
) where
    P: Prober,
    S: Schedule<Reply = P::SchedReply>,
    R: Record<P::Reply>,
{
    for (value, reply) in replies.drain(..) {
        sched.handle_reply(now, value, P::sched_reply(&reply));
        if record.reply(value, reply) {
            meter.found(1);
            events.news(value);
        }
    }
}

fn run_loop<P, S, W, R>(
    cfg: &DriveConfig,
    prober: &P,
    sched: &mut S,
    wire: &mut W,
    record: &mut R,
    meter: &Meter,
    events: &mut dyn Events<R, S>,
) -> Result<Driven, EngineError>
where
    P: Prober,
    S: Schedule<Reply = P::SchedReply>,
    W: Wire<P::Reply>,
    R: Record<P::Reply>,
{
    let shaper = cfg.shaper.as_deref().filter(|_| !P::FRAMES);
    // Shaped, a probe becomes up to `fanout` packets (decoys, fragments):
    // fewer probes per batch, the batch as large in packets.
    let fanout = shaper.map_or(1, Shaper::fanout);
    let batch_size = match shaper {
        None => cfg.batch.max(1),
        // At most MAX_SHAPED_BATCH packets a batch (a few MB at most).
        Some(_) => ((cfg.batch * fanout).min(MAX_SHAPED_BATCH) / fanout).max(1),
    };
    let mut batch = match shaper {
        Some(s) => TxBatch::with_slot(batch_size * fanout, s.slot()),
        None => TxBatch::new(batch_size),
    };
    let mut one = TxBatch::new(if shaper.is_some() { 1 } else { 0 });
    let mut scratch = Vec::with_capacity(256);
    let mut replies: Vec<(u64, P::Reply)> = Vec::new();
    let mut pacer = Pacer::new(cfg.rate, batch_size, wire.now());
    let mut ident = cfg.ident;
    let mut stopping: Option<Instant> = None;
    let trace = cfg.trace.as_deref();
    // What the debug lines last said: the timeout, the retransmissions.
    let mut told_timeout = sched.timeout();
    let mut told_retx = 0u64;
    let mut told_rate = cfg.rate;
    trace_debug!(
        cfg.trace,
        DEBUG,
        "driver: start, timeout {:.1} ms, rate {}",
        told_timeout.as_secs_f64() * 1e3,
        cfg.rate
            .map_or("unlimited".to_owned(), |r| format!("{r:.0} pps"))
    );
    loop {
        let now = wire.now();
        wire.recv(now, &mut replies)?;
        take::<P, S, R>(&mut replies, sched, record, meter, now, events);
        if sched.poll_timeout().is_some_and(|t| t <= now) {
            sched.handle_timeout(now);
        }
        let mut silent = 0u64;
        while let Some(v) = sched.poll_event() {
            record.silence(v);
            silent += 1;
        }
        if let Some(rate) = sched.poll_rate(now) {
            pacer.set_rate(rate, batch_size, now);
            if told_rate != rate {
                trace_debug!(
                    cfg.trace,
                    DEBUG,
                    "driver: rate now {}",
                    rate.map_or("unlimited".to_owned(), |r| format!("{r:.0} pps"))
                );
                told_rate = rate;
            }
        }
        if let Some(t) = trace.filter(|t| t.debugging(DEBUG2)) {
            let timeout = sched.timeout();
            // Tell changes of a tenth or more (the estimate moves a little
            // with every reply).
            if timeout.abs_diff(told_timeout) * 10 >= told_timeout {
                t.debug(
                    DEBUG2,
                    format_args!(
                        "driver: timeout {:.1} ms -> {:.1} ms",
                        told_timeout.as_secs_f64() * 1e3,
                        timeout.as_secs_f64() * 1e3
                    ),
                );
                told_timeout = timeout;
            }
            if silent > 0 {
                t.debug(
                    DEBUG2,
                    format_args!("driver: {silent} probes concluded silent"),
                );
            }
        }
        // Once per batch or wait: a few relaxed atomic adds.
        let (done, sent) = sched.progress();
        meter.update(done, sent);
        if sched.is_done() || cfg.deadline.is_some_and(|d| now >= d) {
            return Ok(Driven {
                interrupted: false,
                resume_at: None,
            });
        }
        if cfg.stop.requested() {
            // Stop sending; the probes in flight get a (bounded) timeout.
            let end = *stopping.get_or_insert_with(|| {
                let wait = sched.timeout().min(STOP_DRAIN_MAX);
                trace_debug!(
                    cfg.trace,
                    DEBUG,
                    "driver: stop requested; no more sends, {:.0} ms for the replies in flight",
                    wait.as_secs_f64() * 1e3
                );
                now + wait
            });
            if now >= end {
                return Ok(Driven {
                    interrupted: true,
                    resume_at: Some(sched.resume_at()),
                });
            }
            wire.recv(end, &mut replies)?;
            let now = wire.now();
            take::<P, S, R>(&mut replies, sched, record, meter, now, events);
            continue;
        }

        let allowed = pacer.allowance(now);
        let mut probes = 0;
        while probes < allowed && batch.capacity() - batch.len() >= fanout {
            let Some(value) = sched.poll_transmit(now) else {
                break;
            };
            let stamped = match shaper {
                None => prober.stamp(value, ident, &mut scratch, &mut batch),
                Some(s) => {
                    // IP ID 0 is the raw socket's cue to choose one, per
                    // packet: the fragments and copies of a probe must
                    // share theirs.
                    if ident == 0 {
                        ident = 1;
                    }
                    one.clear();
                    let ok = prober.stamp(value, ident, &mut scratch, &mut one);
                    if let Some((dst, pkt)) = one.get(0) {
                        s.emit(
                            dst,
                            pkt,
                            u32::from(ident) | (value as u32) << 16,
                            &mut batch,
                        );
                    }
                    ok
                }
            };
            if stamped {
                ident = ident.wrapping_add(1);
                probes += 1;
            }
        }
        if !batch.is_empty() {
            pacer.spend(probes);
            sched.on_sent(now, probes);
            if let Some(t) = trace {
                t.sent_batch(&batch, P::FRAMES);
                let (_, retx) = sched.sent();
                if retx > told_retx {
                    t.debug(
                        DEBUG2,
                        format_args!(
                            "driver: retransmitting {} probes ({retx} so far), timeout {:.1} ms",
                            retx - told_retx,
                            sched.timeout().as_secs_f64() * 1e3
                        ),
                    );
                    told_retx = retx;
                }
            }
            wire.send(&mut batch)?;
            continue;
        }

        // Nothing to send now: wait for replies, the next timeout or a token.
        let mut until = now + Duration::from_millis(50);
        // Only waits and retransmissions left: the caller may use the
        // time (a slice at a time, so that neither is held up).
        if sched.all_sent() && events.idle(record, sched) {
            until = until.min(wire.now() + IDLE_AGAIN);
        }
        if let Some(t) = sched.poll_timeout() {
            until = until.min(t.max(now));
        }
        if allowed == 0 {
            until = until.min(now + pacer.wait());
        }
        if let Some(d) = cfg.deadline {
            until = until.min(d.max(now));
        }
        wire.recv(until, &mut replies)?;
        let now = wire.now();
        take::<P, S, R>(&mut replies, sched, record, meter, now, events);
    }
}

/// Packets a batch of shaped probes holds at most.
const MAX_SHAPED_BATCH: usize = 4096;

/// How long the receive thread blocks in one poll.
const RX_POLL: Duration = Duration::from_millis(5);
/// After the last send, how long the receive thread keeps reading replies
/// already in flight.
const RX_DRAIN: Duration = Duration::from_millis(20);

/// The production wire: this thread sends (through a [`TxPool`], which
/// may hand batches to a second transmit thread); a receive thread reads
/// the packet ring, decodes with the prober and passes (id, reply) batches
/// back over a channel — one channel send per ring poll, never per packet.
pub struct Threaded<R: Send + 'static> {
    tx: TxPool<Box<dyn PacketTx>>,
    replies: mpsc::Receiver<Vec<(u64, R)>>,
    stop: Arc<AtomicBool>,
    rx_thread: Option<JoinHandle<()>>,
}

impl<R: Send + 'static> Threaded<R> {
    /// `trace`: a RCVD line for every packet the prober accepts as a reply.
    pub fn new<P>(
        tx: TxPool<Box<dyn PacketTx>>,
        mut rx: Box<dyn PacketRx>,
        prober: Arc<P>,
        trace: Option<Arc<Trace>>,
    ) -> io::Result<Threaded<R>>
    where
        P: Prober<Reply = R>,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let (out, replies) = mpsc::channel();
        let flag = Arc::clone(&stop);
        let rx_thread = std::thread::Builder::new()
            .name("vigie-rx".into())
            .spawn(move || {
                let mut batch = Vec::new();
                let mut lines = String::new();
                let mut stopping: Option<Instant> = None;
                let trace = trace.filter(|t| t.packets());
                loop {
                    let res = match trace.as_deref() {
                        None => {
                            rx.poll_packets(RX_POLL, &mut |pkt| batch.extend(prober.decode(pkt)))
                        }
                        Some(t) => {
                            let res = rx.poll_packets(RX_POLL, &mut |pkt| {
                                if let Some(r) = prober.decode(pkt) {
                                    t.line(&mut lines, Dir::Rcvd, pkt, P::FRAMES);
                                    batch.push(r);
                                }
                            });
                            t.write_lines(&lines);
                            lines.clear();
                            res
                        }
                    };
                    if !batch.is_empty() && out.send(std::mem::take(&mut batch)).is_err() {
                        return;
                    }
                    if res.is_err() {
                        return;
                    }
                    if flag.load(Ordering::Acquire)
                        && stopping.get_or_insert_with(Instant::now).elapsed() >= RX_DRAIN
                    {
                        return;
                    }
                }
            })?;
        Ok(Threaded {
            tx,
            replies,
            stop,
            rx_thread: Some(rx_thread),
        })
    }
}

impl<R: Send + 'static> Wire<R> for Threaded<R> {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn send(&mut self, batch: &mut TxBatch) -> io::Result<()> {
        self.tx.send(batch)
    }

    fn recv(&mut self, until: Instant, out: &mut Vec<(u64, R)>) -> io::Result<()> {
        let start = out.len();
        for b in self.replies.try_iter() {
            out.extend(b);
        }
        if out.len() > start {
            return Ok(());
        }
        let wait = until.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return Ok(());
        }
        match self.replies.recv_timeout(wait) {
            Ok(b) => out.extend(b),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("the receive thread stopped"));
            }
        }
        Ok(())
    }

    fn stop(&mut self) {
        self.tx.stop();
    }

    fn stopped(&mut self) -> bool {
        if !self.tx.stopped() {
            return false;
        }
        // The last packets are out: the drain starts.
        self.stop.store(true, Ordering::Release);
        self.rx_thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    fn finish(&mut self, out: &mut Vec<(u64, R)>) -> io::Result<()> {
        let flushed = self.tx.finish();
        self.stop.store(true, Ordering::Release);
        let joined = self.rx_thread.take().map_or(Ok(()), |h| h.join());
        for b in self.replies.try_iter() {
            out.extend(b);
        }
        flushed?;
        joined.map_err(|_| io::Error::other("the receive thread panicked"))
    }
}

impl<R: Send + 'static> Drop for Threaded<R> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.rx_thread.take() {
            let _ = h.join();
        }
    }
}

/// A wire whose receive side is polled on the loop's own thread, on any
/// clock: the link-layer sweeps (one socket both ways) and the simulated
/// network of the tests.
pub struct Inline<T, X, C, P> {
    pub tx: T,
    pub rx: X,
    pub clock: C,
    pub prober: Arc<P>,
    /// A RCVD line for every packet the prober accepts as a reply.
    pub trace: Option<Arc<Trace>>,
}

impl<T, X, C, P: Prober> Inline<T, X, C, P> {
    /// Poll the receive side for up to `wait`, decoding (and tracing).
    fn poll(&mut self, wait: Duration, out: &mut Vec<(u64, P::Reply)>) -> io::Result<()>
    where
        X: PacketRx,
    {
        let prober = &self.prober;
        match self.trace.as_deref().filter(|t| t.packets()) {
            None => {
                self.rx
                    .poll_packets(wait, &mut |pkt| out.extend(prober.decode(pkt)))?;
            }
            Some(t) => {
                let mut lines = String::new();
                let res = self.rx.poll_packets(wait, &mut |pkt| {
                    if let Some(r) = prober.decode(pkt) {
                        t.line(&mut lines, Dir::Rcvd, pkt, P::FRAMES);
                        out.push(r);
                    }
                });
                t.write_lines(&lines);
                res?;
            }
        }
        Ok(())
    }
}

impl<T, X, C, P> Wire<P::Reply> for Inline<T, X, C, P>
where
    T: PacketTx,
    X: PacketRx,
    C: Clock,
    P: Prober,
{
    fn now(&self) -> Instant {
        self.clock.now()
    }

    fn send(&mut self, batch: &mut TxBatch) -> io::Result<()> {
        self.tx.send_batch(batch)?;
        batch.clear();
        Ok(())
    }

    fn recv(&mut self, until: Instant, out: &mut Vec<(u64, P::Reply)>) -> io::Result<()> {
        let wait = until.saturating_duration_since(self.clock.now());
        self.poll(wait, out)
    }

    fn finish(&mut self, out: &mut Vec<(u64, P::Reply)>) -> io::Result<()> {
        self.poll(Duration::ZERO, out)
    }
}
