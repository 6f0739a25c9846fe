//! UDP probe scheduling that stays exact when the target rate-limits its
//! ICMP errors (Linux: a small burst per peer, then one per
//! `icmp_ratelimit`).
//!
//! A closed UDP port only says so with an ICMP port unreachable, and a
//! rate-limited target suppresses most of them: silence then means nothing.
//! This scheduler makes silence mean something with a *canary*: a port of
//! the same host already known to answer with a port unreachable.
//!
//! 1. First pass: every (host, port) once, in permutation order, as fast as
//!    the caller's pacer allows. Open ports answer at once; the target's ICMP
//!    burst answers a few closed ones, which become the host's canary.
//! 2. Rounds, per host, one in flight at a time: up to `group` unresolved
//!    ports, then the canary, back to back. The target handles them in
//!    order and its ICMP budget only grows with time, so when the canary is
//!    answered the budget was there for every member before it: a member
//!    that is still silent would have been answered if it were closed. After
//!    [`VERIFICATIONS`] such rounds it is `open|filtered`. When the canary is not answered, the silent members
//!    are probed again in a later round. The group grows while canaries come
//!    back and shrinks to the number of answers when they do not; a round
//!    whose canary failed waits half the interval between the ICMP errors
//!    measured since the host's rounds began, so probes go out at the rate
//!    the target answers.
//! 3. A host that never sent a port unreachable has no canary: its silent
//!    ports are retried once, [`QUIET_RETRY_GAP`] after the first probe
//!    (longer than Linux's default ICMP interval, so a bucket drained before
//!    the scan has refilled and would answer a closed port), then called
//!    `open|filtered` — as many datagrams as nmap sends such a host. A
//!    canary found by that retry turns the rest into canary rounds.
//!    `max_retries` 0: one probe per port, whatever the host.
//!
//! Time is passed in; tested with a simulated Linux rate limiter.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::perm::Permutation;
use crate::rtt::RttEstimator;

/// Spacing of the retries to a host that never sent an ICMP error.
pub const QUIET_RETRY_GAP: Duration = Duration::from_millis(1100);

#[derive(Debug, Clone)]
pub struct UdpConfig {
    /// Retries of a silent port on a host without a canary.
    pub max_retries: u8,
    pub initial_timeout: Duration,
    pub min_timeout: Duration,
    pub max_timeout: Duration,
    /// Most ports probed in one round (before the canary).
    pub max_group: u32,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            max_retries: 3,
            initial_timeout: Duration::from_millis(1000),
            min_timeout: Duration::from_millis(100),
            max_timeout: Duration::from_millis(10_000),
            max_group: 48,
        }
    }
}

/// One probe to send: the flat id `host * nports + port_index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpTransmit {
    pub value: u64,
    /// A canary: a port already known closed, probed to test the budget.
    pub canary: bool,
}

/// What came back for a probe, as far as pacing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// A UDP datagram (the port is open).
    Udp,
    /// An ICMP port unreachable: the port can serve as a canary.
    PortUnreach,
    /// Any other ICMP error about the probe.
    OtherIcmp,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    pub sent: u64,
    pub canaries: u64,
    pub rounds: u64,
    pub icmp: u64,
    pub udp: u64,
    pub resolved: u64,
    pub total: u64,
}

/// How many rounds with an answered canary a port must stay silent in
/// before it is `open|filtered`. One would do if the target's budget never
/// grew between a member and the canary; two make the case where it grows
/// by one clock tick in between (a member suppressed, the canary not) need
/// that coincidence twice.
pub const VERIFICATIONS: u8 = 2;

/// An unresolved port of a host.
#[derive(Debug, Clone, Copy)]
struct Slot {
    port: u32,
    /// Probes sent so far.
    tries: u8,
    /// Rounds it stayed silent in while the canary answered.
    verified: u8,
}

#[derive(Debug)]
struct Round {
    sent_at: Instant,
    members: Vec<Slot>,
    canary: Option<u32>,
    canary_ok: bool,
    answers: u32,
}

#[derive(Debug)]
struct Host {
    pending: VecDeque<Slot>,
    canary: Option<u32>,
    round: Option<Round>,
    /// A round start is scheduled.
    armed: bool,
    group: u32,
    /// When this host's first canary round went out, and ICMP errors seen since.
    rounds_since: Option<Instant>,
    icmp_since: u64,
}

/// The UDP scan's sans-IO core; see the module documentation.
#[derive(Debug)]
pub struct UdpScheduler {
    cfg: UdpConfig,
    nports: u64,
    total: u64,
    perm: Permutation,
    cursor: u64,
    /// Start of the permutation indices this run sends.
    start: u64,
    /// End (exclusive) of the permutation indices this run sends.
    end: u64,
    first: VecDeque<(u64, Instant)>,
    hosts: Vec<Host>,
    resolved: Vec<u64>,
    unresolved: u64,
    /// When a host may start its next round.
    starts: BinaryHeap<Reverse<(Instant, u32)>>,
    /// When a host's round in flight times out.
    ends: BinaryHeap<Reverse<(Instant, u32)>>,
    out: VecDeque<UdpTransmit>,
    events: VecDeque<u64>,
    rtt: RttEstimator,
    stats: UdpStats,
}

impl UdpScheduler {
    /// `hosts × nports` probes; `perm` must permute `0..hosts*nports`.
    pub fn new(hosts: u64, nports: u64, perm: Permutation, cfg: UdpConfig) -> UdpScheduler {
        let n = perm.len();
        UdpScheduler::with_range(hosts, nports, perm, 0..n, cfg)
    }

    /// Only the probes at permutation indices `range` (a shard, less what a
    /// resumed run knows already); the others are never sent.
    pub fn with_range(
        hosts: u64,
        nports: u64,
        perm: Permutation,
        range: Range<u64>,
        cfg: UdpConfig,
    ) -> UdpScheduler {
        let total = hosts * nports;
        let end = range.end.min(total);
        let start = range.start.min(end);
        let hosts = (0..hosts)
            .map(|_| Host {
                pending: VecDeque::new(),
                canary: None,
                round: None,
                armed: false,
                group: 4,
                rounds_since: None,
                icmp_since: 0,
            })
            .collect();
        let mut resolved = vec![0u64; total.div_ceil(64) as usize];
        for i in (0..start).chain(end..total) {
            let v = perm.get(i);
            resolved[(v / 64) as usize] |= 1 << (v % 64);
        }
        UdpScheduler {
            cfg,
            nports: nports.max(1),
            total,
            perm,
            cursor: start,
            start,
            end,
            first: VecDeque::new(),
            hosts,
            resolved,
            unresolved: end - start,
            starts: BinaryHeap::new(),
            ends: BinaryHeap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            rtt: RttEstimator::default(),
            stats: UdpStats {
                total: end - start,
                ..UdpStats::default()
            },
        }
    }

    /// Probe `value` is final already (a resumed run's known verdict): it
    /// is not sent.
    pub fn mark_final(&mut self, value: u64) {
        self.resolve(value);
    }

    /// The current probe timeout.
    pub fn timeout(&self) -> Duration {
        if self.rtt.srtt().is_none() {
            return self.cfg.initial_timeout;
        }
        self.rtt
            .rto()
            .clamp(self.cfg.min_timeout, self.cfg.max_timeout)
    }

    fn is_resolved(&self, v: u64) -> bool {
        self.resolved
            .get((v / 64) as usize)
            .is_some_and(|w| w & (1 << (v % 64)) != 0)
    }

    /// Marks `v` resolved; false if it already was (or is out of range).
    fn resolve(&mut self, v: u64) -> bool {
        if v >= self.total || self.is_resolved(v) {
            return false;
        }
        self.resolved[(v / 64) as usize] |= 1 << (v % 64);
        self.unresolved -= 1;
        self.stats.resolved += 1;
        true
    }

    fn split(&self, v: u64) -> (usize, u32) {
        ((v / self.nports) as usize, (v % self.nports) as u32)
    }

    fn arm(&mut self, h: usize, at: Instant) {
        let host = &mut self.hosts[h];
        if !host.armed && host.round.is_none() && !host.pending.is_empty() {
            host.armed = true;
            self.starts.push(Reverse((at, h as u32)));
        }
    }

    /// The next probe to send now, if any.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<UdpTransmit> {
        if let Some(t) = self.out.pop_front() {
            return Some(self.count(t));
        }
        while self.cursor < self.end {
            let v = self.perm.get(self.cursor);
            self.cursor += 1;
            if !self.is_resolved(v) {
                self.first.push_back((v, now));
                return Some(self.count(UdpTransmit {
                    value: v,
                    canary: false,
                }));
            }
        }
        while let Some(&Reverse((at, h))) = self.starts.peek() {
            if at > now {
                break;
            }
            self.starts.pop();
            self.start_round(h as usize, now);
            if let Some(t) = self.out.pop_front() {
                return Some(self.count(t));
            }
        }
        None
    }

    fn count(&mut self, t: UdpTransmit) -> UdpTransmit {
        self.stats.sent += 1;
        if t.canary {
            self.stats.canaries += 1;
        }
        t
    }

    fn start_round(&mut self, h: usize, now: Instant) {
        let nports = self.nports;
        let base = h as u64 * nports;
        let mut members = Vec::new();
        {
            let host = &mut self.hosts[h];
            host.armed = false;
            let limit = if host.canary.is_some() {
                host.group as usize
            } else {
                usize::MAX
            };
            while members.len() < limit {
                let Some(slot) = host.pending.pop_front() else {
                    break;
                };
                let p = slot.port;
                if self.resolved[((base + u64::from(p)) / 64) as usize]
                    & (1 << ((base + u64::from(p)) % 64))
                    == 0
                {
                    members.push(Slot {
                        tries: slot.tries.saturating_add(1),
                        ..slot
                    });
                }
            }
            if members.is_empty() {
                return;
            }
            if host.canary.is_some() && host.rounds_since.is_none() {
                host.rounds_since = Some(now);
            }
        }
        let canary = self.hosts[h].canary;
        for &Slot { port: p, .. } in &members {
            self.out.push_back(UdpTransmit {
                value: base + u64::from(p),
                canary: false,
            });
        }
        if let Some(c) = canary {
            self.out.push_back(UdpTransmit {
                value: base + u64::from(c),
                canary: true,
            });
        }
        self.stats.rounds += 1;
        let end = now + self.timeout();
        self.hosts[h].round = Some(Round {
            sent_at: now,
            members,
            canary,
            canary_ok: false,
            answers: 0,
        });
        self.ends.push(Reverse((end, h as u32)));
    }

    /// A validated reply to probe `value`. Returns true when it resolves
    /// the port (the caller records its verdict then); false for duplicates
    /// and canary answers.
    pub fn handle_reply(&mut self, now: Instant, value: u64, kind: ReplyKind) -> bool {
        if value >= self.total {
            return false;
        }
        let (h, p) = self.split(value);
        let icmp = kind != ReplyKind::Udp;
        if icmp {
            self.stats.icmp += 1;
        } else {
            self.stats.udp += 1;
        }
        let host = &mut self.hosts[h];
        if icmp && host.rounds_since.is_some() {
            host.icmp_since += 1;
        }
        let mut sample = None;
        if let Some(r) = host.round.as_mut() {
            if r.canary == Some(p) {
                r.canary_ok = true;
                r.answers += 1;
                sample = Some(r.sent_at);
            } else if r.members.iter().any(|m| m.port == p) {
                r.answers += 1;
                sample = Some(r.sent_at);
            }
        }
        if kind == ReplyKind::PortUnreach && host.canary.is_none() {
            host.canary = Some(p);
        }
        if let Some(s) = sample {
            self.rtt.sample(now.saturating_duration_since(s));
        }
        self.resolve(value)
    }

    /// When [`handle_timeout`](Self::handle_timeout) or
    /// [`poll_transmit`](Self::poll_transmit) next has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let first = self.first.front().map(|&(_, t)| t + self.timeout());
        let start = self.starts.peek().map(|Reverse((t, _))| *t);
        let end = self.ends.peek().map(|Reverse((t, _))| *t);
        [first, start, end].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let timeout = self.timeout();
        while let Some(&(v, sent)) = self.first.front() {
            if sent + timeout > now {
                break;
            }
            self.first.pop_front();
            if !self.is_resolved(v) && self.cfg.max_retries == 0 {
                // No retransmission asked for: silence after one probe.
                if self.resolve(v) {
                    self.events.push_back(v);
                }
            } else if !self.is_resolved(v) {
                let (h, p) = self.split(v);
                self.hosts[h].pending.push_back(Slot {
                    port: p,
                    tries: 1,
                    verified: 0,
                });
                // Without a canary the retry waits out the ICMP interval
                // since the first probe (a bucket drained before the scan
                // has refilled by then).
                let at = if self.hosts[h].canary.is_some() {
                    now
                } else {
                    now.max(sent + QUIET_RETRY_GAP)
                };
                self.arm(h, at);
            }
        }
        while let Some(&Reverse((at, h))) = self.ends.peek() {
            if at > now {
                break;
            }
            self.ends.pop();
            self.end_round(h as usize, now);
        }
    }

    fn end_round(&mut self, h: usize, now: Instant) {
        let Some(round) = self.hosts[h].round.take() else {
            return;
        };
        let base = h as u64 * self.nports;
        let timeout = self.timeout();
        // A host without a canary has sent no port unreachable at all. One
        // retry, spaced past the kernel's ICMP interval, tells a drained
        // bucket (it answers the retry) from a host that sends none: more
        // datagrams would say nothing new (nmap sends as many).
        let quiet_limit = u16::from(self.cfg.max_retries.min(1)) + 1;
        // A canary found during a canary-less round: its silent members get
        // verified rounds instead of a verdict.
        let canary_found = round.canary.is_none() && self.hosts[h].canary.is_some();
        let max_group = self.cfg.max_group.max(1);
        let mut back = Vec::new();
        let mut silent = Vec::new();
        for &slot in &round.members {
            let v = base + u64::from(slot.port);
            if self.is_resolved(v) {
                continue;
            }
            let mut slot = slot;
            let conclusive = if round.canary.is_some() {
                slot.verified += u8::from(round.canary_ok);
                slot.verified >= VERIFICATIONS
            } else {
                !canary_found && u16::from(slot.tries) >= quiet_limit
            };
            if conclusive {
                silent.push(v);
            } else {
                back.push(slot);
            }
        }
        for v in silent {
            if self.resolve(v) {
                self.events.push_back(v);
            }
        }
        let host = &mut self.hosts[h];
        for &m in back.iter().rev() {
            host.pending.push_front(m);
        }
        let next = if canary_found {
            now
        } else if round.canary.is_none() {
            round.sent_at + timeout.max(QUIET_RETRY_GAP)
        } else if round.canary_ok {
            host.group = (host.group * 2).min(max_group);
            now
        } else {
            host.group = round.answers.clamp(1, max_group);
            // Half the measured interval between ICMP errors: at or a little
            // above the rate the target answers.
            let wait = match host.rounds_since {
                Some(since) if host.icmp_since > 0 => {
                    now.saturating_duration_since(since) / (2 * host.icmp_since as u32).max(1)
                }
                _ => timeout,
            };
            round.sent_at + timeout.max(wait)
        };
        self.arm(h, next.max(now));
    }

    /// Ports found silent while the target's ICMP budget was available (or
    /// after every retry on a host without canary): `open|filtered`.
    pub fn poll_event(&mut self) -> Option<u64> {
        self.events.pop_front()
    }

    pub fn is_done(&self) -> bool {
        self.unresolved == 0
    }

    pub fn stats(&self) -> UdpStats {
        self.stats
    }

    pub fn srtt(&self) -> Option<Duration> {
        self.rtt.srtt()
    }

    pub fn rttvar(&self) -> Option<Duration> {
        self.rtt.rttvar()
    }
}

impl crate::schedule::Schedule for UdpScheduler {
    type Reply = ReplyKind;

    fn poll_transmit(&mut self, now: Instant) -> Option<u64> {
        UdpScheduler::poll_transmit(self, now).map(|t| t.value)
    }

    fn handle_reply(&mut self, now: Instant, value: u64, reply: ReplyKind) -> bool {
        UdpScheduler::handle_reply(self, now, value, reply)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        UdpScheduler::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        UdpScheduler::handle_timeout(self, now);
    }

    fn poll_event(&mut self) -> Option<u64> {
        UdpScheduler::poll_event(self)
    }

    fn is_done(&self) -> bool {
        UdpScheduler::is_done(self)
    }

    fn mark_final(&mut self, value: u64) {
        UdpScheduler::mark_final(self, value);
    }

    fn timeout(&self) -> Duration {
        UdpScheduler::timeout(self)
    }

    fn progress(&self) -> (u64, u64) {
        (self.stats.resolved, self.stats.sent)
    }

    /// Canary rounds finish ports out of order: a resumed run starts at
    /// the range's beginning and skips the verdicts it is given.
    fn resume_at(&self) -> u64 {
        self.start
    }

    fn sent(&self) -> (u64, u64) {
        (
            self.stats.sent,
            self.stats.sent.saturating_sub(self.stats.total),
        )
    }

    fn rtt(&self) -> (Option<Duration>, Option<Duration>) {
        (self.srtt(), self.rttvar())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Open,
        Closed,
        Drop,
        Admin,
    }

    /// Linux's per-peer limiter: tokens in ms, capped at 6 intervals; an
    /// error goes out when a whole interval is saved.
    struct Target {
        ports: Vec<Kind>,
        interval_ms: u64,
        token: u64,
        last: u64,
    }

    impl Target {
        fn new(ports: Vec<Kind>, interval_ms: u64, start_tokens: u64) -> Target {
            Target {
                ports,
                interval_ms,
                token: start_tokens * interval_ms,
                last: 0,
            }
        }

        fn allow(&mut self, now_ms: u64) -> bool {
            if self.interval_ms == 0 {
                return true;
            }
            self.token = (self.token + now_ms - self.last).min(6 * self.interval_ms);
            self.last = now_ms;
            if self.token >= self.interval_ms {
                self.token -= self.interval_ms;
                true
            } else {
                false
            }
        }

        fn answer(&mut self, port: usize, now_ms: u64) -> Option<ReplyKind> {
            match self.ports[port] {
                Kind::Open => Some(ReplyKind::Udp),
                Kind::Drop => None,
                Kind::Closed => self.allow(now_ms).then_some(ReplyKind::PortUnreach),
                Kind::Admin => self.allow(now_ms).then_some(ReplyKind::OtherIcmp),
            }
        }
    }

    fn layout(n: usize) -> Vec<Kind> {
        (0..n)
            .map(|i| match i % 97 {
                3 | 50 => Kind::Open,
                7 | 60 | 61 => Kind::Drop,
                20 => Kind::Admin,
                _ => Kind::Closed,
            })
            .collect()
    }

    /// Runs a whole scan on a virtual clock (1 ms steps, 1 ms one-way
    /// delay); returns per-value verdicts (Some(kind) = reply, None =
    /// open|filtered), the virtual duration and the stats.
    fn simulate(
        targets: &mut [Target],
        cfg: UdpConfig,
        limit_ms: u64,
    ) -> (Vec<Option<Option<ReplyKind>>>, u64, UdpStats) {
        let nports = targets[0].ports.len() as u64;
        let total = targets.len() as u64 * nports;
        let t0 = Instant::now();
        let mut s = UdpScheduler::new(
            targets.len() as u64,
            nports,
            Permutation::new(total, 7),
            cfg,
        );
        let mut verdict: Vec<Option<Option<ReplyKind>>> = vec![None; total as usize];
        let mut in_flight: HashMap<u64, Vec<(u64, ReplyKind)>> = HashMap::new();
        let mut ms = 0;
        while !s.is_done() {
            assert!(
                ms < limit_ms,
                "not done after {limit_ms} ms: {:?}",
                s.stats()
            );
            let now = t0 + Duration::from_millis(ms);
            if let Some(replies) = in_flight.remove(&ms) {
                for (v, k) in replies {
                    if s.handle_reply(now, v, k) {
                        verdict[v as usize] = Some(Some(k));
                    }
                }
            }
            if s.poll_timeout().is_some_and(|t| t <= now) {
                s.handle_timeout(now);
            }
            while let Some(v) = s.poll_event() {
                assert!(verdict[v as usize].is_none());
                verdict[v as usize] = Some(None);
            }
            while let Some(t) = s.poll_transmit(now) {
                let (h, p) = ((t.value / nports) as usize, (t.value % nports) as usize);
                if let Some(k) = targets[h].answer(p, ms + 1) {
                    in_flight.entry(ms + 2).or_default().push((t.value, k));
                }
            }
            ms += 1;
        }
        eprintln!("simulated scan: {ms} ms, {:?}", s.stats());
        (verdict, ms, s.stats())
    }

    fn assert_exact(targets: &[Target], verdict: &[Option<Option<ReplyKind>>]) {
        let nports = targets[0].ports.len();
        let mut wrong = 0;
        for (v, got) in verdict.iter().enumerate() {
            let want = match targets[v / nports].ports[v % nports] {
                Kind::Open => Some(ReplyKind::Udp),
                Kind::Closed => Some(ReplyKind::PortUnreach),
                Kind::Admin => Some(ReplyKind::OtherIcmp),
                Kind::Drop => None,
            };
            if *got != Some(want) {
                wrong += 1;
            }
        }
        assert_eq!(wrong, 0, "ports misclassified");
    }

    fn cfg() -> UdpConfig {
        UdpConfig {
            max_retries: 3,
            initial_timeout: Duration::from_millis(500),
            min_timeout: Duration::from_millis(100),
            max_timeout: Duration::from_millis(1250),
            max_group: 48,
        }
    }

    #[test]
    fn exact_under_linux_v4_rate_limit() {
        let ports = layout(300);
        let closed = ports
            .iter()
            .filter(|k| matches!(k, Kind::Closed | Kind::Admin))
            .count() as u64;
        let mut t = vec![Target::new(ports, 1000, 6)];
        let (verdict, ms, st) = simulate(&mut t, cfg(), 1_000_000);
        assert_exact(&t, &verdict);
        // Physics: one ICMP error per second after the burst of 6, plus
        // the canaries; no slower than 1.2 s per closed port.
        assert!(ms >= (closed - 6) * 1000, "{ms} ms");
        assert!(ms <= closed * 1200, "{ms} ms, {st:?}");
    }

    #[test]
    fn exact_when_the_bucket_starts_empty() {
        let mut t = vec![Target::new(layout(120), 1000, 0)];
        let (verdict, _, _) = simulate(&mut t, cfg(), 1_000_000);
        assert_exact(&t, &verdict);
    }

    #[test]
    fn exact_with_fast_v6_style_limit_and_many_drops() {
        let ports: Vec<Kind> = (0..1000)
            .map(|i| if i % 3 == 0 { Kind::Drop } else { Kind::Closed })
            .collect();
        let mut t = vec![Target::new(ports, 25, 6)];
        let (verdict, ms, _) = simulate(&mut t, cfg(), 1_000_000);
        assert_exact(&t, &verdict);
        // 667 closed ports at 40/s: about 17 s.
        assert!(ms < 40_000, "{ms} ms");
    }

    #[test]
    fn hosts_interleave() {
        let mut t: Vec<Target> = (0..4).map(|_| Target::new(layout(100), 1000, 6)).collect();
        let (verdict, ms, _) = simulate(&mut t, cfg(), 1_000_000);
        assert_exact(&t, &verdict);
        // Four hosts in the time of about one.
        assert!(ms < 120_000, "{ms} ms");
    }

    #[test]
    fn no_rate_limit_is_fast() {
        let mut t = vec![Target::new(layout(1000), 0, 0)];
        let (verdict, ms, _) = simulate(&mut t, cfg(), 1_000_000);
        assert_exact(&t, &verdict);
        assert!(ms < 3_000, "{ms} ms");
    }

    #[test]
    fn host_without_icmp_gets_plain_retries() {
        let ports = vec![Kind::Drop; 50];
        let mut t = vec![Target::new(ports, 1000, 6)];
        let (verdict, ms, st) = simulate(&mut t, cfg(), 1_000_000);
        assert_exact(&t, &verdict);
        // The first probe and one retry past the ICMP interval: nmap's two.
        assert_eq!(st.sent, 50 * 2);
        assert!(ms < 5_000, "{ms} ms");
        // --max-retries 0: one datagram per port.
        let mut t = vec![Target::new(vec![Kind::Drop; 50], 1000, 6)];
        let (verdict, _, st) = simulate(
            &mut t,
            UdpConfig {
                max_retries: 0,
                ..cfg()
            },
            1_000_000,
        );
        assert_exact(&t, &verdict);
        assert_eq!(st.sent, 50);
    }

    #[test]
    fn one_closed_port_behind_a_drained_bucket_still_gives_a_canary() {
        // Silent first pass (bucket empty); the retry past the interval
        // draws one port unreachable, which turns the rest into canary
        // rounds: still exact.
        let mut ports = vec![Kind::Drop; 40];
        ports[17] = Kind::Closed;
        ports[30] = Kind::Closed;
        let mut t = vec![Target::new(ports, 1000, 0)];
        let (verdict, _, _) = simulate(&mut t, cfg(), 1_000_000);
        assert_exact(&t, &verdict);
    }

    #[test]
    fn a_range_and_known_verdicts_limit_what_is_sent() {
        let t0 = Instant::now();
        let perm = Permutation::new(100, 3);
        let mut s = UdpScheduler::with_range(1, 100, perm.clone(), 20..60, cfg());
        s.mark_final(perm.get(25));
        s.mark_final(perm.get(90)); // outside the range: nothing changes
        let mut sent = Vec::new();
        while let Some(t) = s.poll_transmit(t0) {
            sent.push(t.value);
        }
        let want: Vec<u64> = (20..60).filter(|&i| i != 25).map(|i| perm.get(i)).collect();
        assert_eq!(sent, want);
        assert_eq!(s.stats().total, 40);
        for v in want {
            s.handle_reply(t0, v, ReplyKind::Udp);
        }
        assert!(s.is_done());
    }
}
