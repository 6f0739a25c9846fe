//! Watching the wire from the target's side: a [`Capture`] records every
//! TCP and UDP packet that arrives in a namespace from a given source
//! address (an `AF_PACKET` ring, so it sees them before netfilter; with
//! [`Capture::start_with_icmp`], ICMP and ICMPv6 too), an [`ArpCapture`]
//! every ARP frame arriving on one interface, and a [`BlindSender`] sends a
//! fixed set of TCP segments over and over without looking at anything —
//! the attacker who guesses instead of reading.
//!
//! The rings ignore what their own namespace sends: to see what a
//! namespace sent, capture at the other end of the veth.

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

/// One packet as a [`Capture`] saw it arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// 6 (TCP) or 17 (UDP); 1 (ICMP) or 58 (ICMPv6) from
    /// [`Capture::start_with_icmp`].
    pub protocol: u8,
    /// The ports; for an ICMP error, those of the datagram it quotes; for
    /// other ICMP messages, the identifier and sequence number words.
    pub sport: u16,
    pub dport: u16,
    /// TCP only (0 for UDP).
    pub seq: u32,
    /// TCP flag bits (0 for UDP).
    pub flags: u16,
    /// ICMP / ICMPv6 type and code (0 for TCP and UDP).
    pub icmp_type: u8,
    pub icmp_code: u8,
}

impl Seen {
    /// A TCP segment with SYN and none of ACK, RST, FIN: a probe.
    pub fn is_syn(&self) -> bool {
        self.protocol == 6 && self.flags & 0x17 == 0x02
    }

    pub fn is_udp(&self) -> bool {
        self.protocol == 17
    }
}

/// A running capture; see [`Capture::start`].
pub struct Capture {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<JoinHandle<io::Result<u64>>>,
}

impl Capture {
    /// Start recording, in namespace `ns`, every TCP and UDP packet that
    /// arrives from one of `from`. Returns once the ring is open.
    pub fn start(ns: &str, from: Vec<IpAddr>) -> anyhow::Result<Capture> {
        Capture::begin(ns, from, false)
    }

    /// Like [`start`](Self::start), recording ICMP and ICMPv6 messages too.
    pub fn start_with_icmp(ns: &str, from: Vec<IpAddr>) -> anyhow::Result<Capture> {
        Capture::begin(ns, from, true)
    }

    fn begin(ns: &str, from: Vec<IpAddr>, icmp: bool) -> anyhow::Result<Capture> {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let ns2 = ns.to_owned();
        let (stop2, seen2) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = thread::Builder::new()
            .name("lab-capture".to_owned())
            .spawn(move || capture_thread(&ns2, &from, icmp, &stop2, &seen2, ready_tx))
            .context("spawn capture thread")?;
        let mut cap = Capture {
            stop,
            seen,
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(cap),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!("capture in {ns}"))),
            Err(_) => {
                let r = cap.thread.take().map(|t| t.join());
                Err(anyhow!("capture did not start: {r:?}"))
            }
        }
    }

    /// Stop (after draining what the ring holds) and return every packet
    /// seen, in arrival order. Fails if the ring dropped any.
    pub fn finish(mut self) -> anyhow::Result<Vec<Seen>> {
        self.stop.store(true, Ordering::SeqCst);
        let drops = match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r.context("capture")?,
            Some(Err(_)) => bail!("capture thread panicked"),
            None => 0,
        };
        if drops != 0 {
            bail!("the capture ring dropped {drops} packets");
        }
        let seen = std::mem::take(&mut *self.seen.lock().map_err(|_| anyhow!("poisoned"))?);
        Ok(seen)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture").finish_non_exhaustive()
    }
}

fn capture_thread(
    ns: &str,
    from: &[IpAddr],
    icmp: bool,
    stop: &AtomicBool,
    seen: &Mutex<Vec<Seen>>,
    ready: mpsc::Sender<io::Result<()>>,
) -> io::Result<u64> {
    use vigie_netio::rx::{Receiver, RxConfig};
    use vigie_wire::summary::{summarize, Body};

    let setup = || -> io::Result<Receiver> {
        vigie_netio::netns::enter(ns)?;
        // Blocks are handed over every 2 ms, full or not: 128 of them ride
        // out this thread not being scheduled for a quarter of a second.
        Receiver::new(&RxConfig {
            block_size: 1 << 17,
            block_count: 128,
            block_timeout_ms: 2,
        })
    };
    let mut rx = match setup() {
        Ok(rx) => {
            let _ = ready.send(Ok(()));
            rx
        }
        Err(e) => {
            let _ = ready.send(Err(io::Error::new(e.kind(), e.to_string())));
            return Err(e);
        }
    };
    let mut local = Vec::new();
    let mut record = |pkt: &[u8]| {
        let Some(s) = summarize(pkt) else { return };
        if !from.contains(&s.src) {
            return;
        }
        let (protocol, sport, dport, seq, flags) = match s.body {
            Body::Tcp {
                sport,
                dport,
                seq,
                flags,
                ..
            } => (6, sport, dport, seq, flags.0),
            Body::Udp { sport, dport, .. } => (17, sport, dport, 0, 0),
            Body::IcmpError { v6, quoted, .. } if icmp => {
                (icmp_proto(v6), quoted.sport, quoted.dport, 0, 0)
            }
            Body::IcmpEcho { v6, ident, seq, .. } if icmp => (icmp_proto(v6), ident, seq, 0, 0),
            Body::Other {
                protocol: p @ (1 | 58),
            } if icmp => {
                let (a, b) = icmp_words(pkt);
                (p, a, b, 0, 0)
            }
            _ => return,
        };
        let (icmp_type, icmp_code) = if protocol == 1 || protocol == 58 {
            icmp_type_code(pkt)
        } else {
            (0, 0)
        };
        local.push(Seen {
            src: s.src,
            dst: s.dst,
            protocol,
            sport,
            dport,
            seq,
            flags,
            icmp_type,
            icmp_code,
        });
    };
    // After the stop flag, a few more polls: the last partly filled block
    // is handed over after its 2 ms timeout.
    let mut tail = 0;
    while tail < 5 {
        if stop.load(Ordering::SeqCst) {
            tail += 1;
        }
        match rx.poll(Duration::from_millis(20), &mut record) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if let Ok(mut v) = seen.lock() {
        v.append(&mut local);
    }
    Ok(rx.stats()?.drops)
}

fn icmp_proto(v6: bool) -> u8 {
    if v6 {
        58
    } else {
        1
    }
}

/// Where the ICMP / ICMPv6 header of an L3 packet starts.
fn icmp_offset(pkt: &[u8]) -> Option<usize> {
    match pkt.first()? >> 4 {
        4 => Some(usize::from(pkt[0] & 0x0f) * 4),
        6 => vigie_wire::ipv6::upper_layer(pkt).map(|u| u.offset),
        _ => None,
    }
}

fn icmp_type_code(pkt: &[u8]) -> (u8, u8) {
    let at = icmp_offset(pkt).unwrap_or(usize::MAX);
    match pkt.get(at..at.saturating_add(2)) {
        Some(b) => (b[0], b[1]),
        None => (0, 0),
    }
}

/// The identifier and sequence words of an ICMP message (0 when absent).
fn icmp_words(pkt: &[u8]) -> (u16, u16) {
    let at = icmp_offset(pkt).unwrap_or(usize::MAX);
    match pkt.get(at.saturating_add(4)..at.saturating_add(8)) {
        Some(b) => (
            u16::from_be_bytes([b[0], b[1]]),
            u16::from_be_bytes([b[2], b[3]]),
        ),
        None => (0, 0),
    }
}

/// One ARP packet as an [`ArpCapture`] saw it arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpSeen {
    /// 1 (request) or 2 (reply).
    pub op: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: std::net::Ipv4Addr,
    pub target_ip: std::net::Ipv4Addr,
}

/// A running ARP capture; see [`ArpCapture::start`].
pub struct ArpCapture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<Vec<ArpSeen>>>>,
}

impl ArpCapture {
    /// Start recording, in namespace `ns`, every Ethernet/IPv4 ARP packet
    /// that arrives on interface `ifname`. Returns once the socket is open.
    pub fn start(ns: &str, ifname: &str) -> anyhow::Result<ArpCapture> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let (ns2, if2, stop2) = (ns.to_owned(), ifname.to_owned(), Arc::clone(&stop));
        let thread = thread::Builder::new()
            .name("lab-arp-capture".to_owned())
            .spawn(move || arp_thread(&ns2, &if2, &stop2, ready_tx))
            .context("spawn ARP capture thread")?;
        let mut cap = ArpCapture {
            stop,
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(cap),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!("ARP capture in {ns}"))),
            Err(_) => {
                let r = cap.thread.take().map(|t| t.join());
                Err(anyhow!("ARP capture did not start: {r:?}"))
            }
        }
    }

    /// Stop (after reading what is queued) and return every ARP packet
    /// seen, in arrival order.
    pub fn finish(mut self) -> anyhow::Result<Vec<ArpSeen>> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r.context("ARP capture"),
            Some(Err(_)) => bail!("ARP capture thread panicked"),
            None => Ok(Vec::new()),
        }
    }
}

impl Drop for ArpCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for ArpCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArpCapture").finish_non_exhaustive()
    }
}

fn arp_thread(
    ns: &str,
    ifname: &str,
    stop: &AtomicBool,
    ready: mpsc::Sender<io::Result<()>>,
) -> io::Result<Vec<ArpSeen>> {
    use vigie_netio::link::{self, LinkSocket};
    use vigie_wire::arp::{self as arpw, ArpRepr};

    let setup = || -> io::Result<LinkSocket> {
        vigie_netio::netns::enter(ns)?;
        let iface = link::interfaces()?
            .into_iter()
            .find(|i| i.name == ifname)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no {ifname}")))?;
        LinkSocket::open(iface.index, link::ETH_P_ARP)
    };
    let sock = match setup() {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(io::Error::new(e.kind(), e.to_string())));
            return Err(e);
        }
    };
    let mut seen = Vec::new();
    let mut buf = [0u8; 2048];
    let mut tail = 0;
    // After the stop flag: until three polls in a row find nothing.
    while tail < 3 {
        let Some(n) = sock.recv(&mut buf, Duration::from_millis(20))? else {
            if stop.load(Ordering::SeqCst) {
                tail += 1;
            }
            continue;
        };
        let Some(body) = buf[..n].get(vigie_wire::ethernet::HEADER_LEN..) else {
            continue;
        };
        if let Ok(r) = ArpRepr::parse(&arpw::Packet::new_unchecked(body)) {
            seen.push(ArpSeen {
                op: r.operation,
                sender_mac: r.sender_mac.0,
                sender_ip: r.sender_ip,
                target_ip: r.target_ip,
            });
        }
    }
    Ok(seen)
}

/// One TCP segment a [`BlindSender`] repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// TCP flag bits.
    pub flags: u16,
}

/// A running blind sender; see [`BlindSender::start`].
pub struct BlindSender {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl BlindSender {
    /// From namespace `ns`, send every segment of `segments` (raw IP
    /// socket), then wait `pause`, and again, until dropped. Returns once
    /// the first round is out.
    pub fn start(ns: &str, segments: Vec<Segment>, pause: Duration) -> anyhow::Result<BlindSender> {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let ns2 = ns.to_owned();
        let (stop2, sent2) = (Arc::clone(&stop), Arc::clone(&sent));
        let thread = thread::Builder::new()
            .name("lab-blind".to_owned())
            .spawn(move || blind_thread(&ns2, &segments, pause, &stop2, &sent2, ready_tx))
            .context("spawn blind sender thread")?;
        let mut b = BlindSender {
            stop,
            sent,
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(b),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!("blind sender in {ns}"))),
            Err(_) => {
                let r = b.thread.take().map(|t| t.join());
                Err(anyhow!("blind sender did not start: {r:?}"))
            }
        }
    }

    /// Segments sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for BlindSender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for BlindSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlindSender")
            .field("sent", &self.sent())
            .finish_non_exhaustive()
    }
}

fn blind_thread(
    ns: &str,
    segments: &[Segment],
    pause: Duration,
    stop: &AtomicBool,
    sent: &AtomicU64,
    ready: mpsc::Sender<io::Result<()>>,
) {
    use vigie_netio::tx::{RawSender, TxBatch};
    use vigie_wire::tcp::TcpFlags;
    use vigie_wire::template::TcpTemplate;

    let setup = || -> io::Result<RawSender> {
        vigie_netio::netns::enter(ns)?;
        RawSender::new()
    };
    let mut tx = match setup() {
        Ok(tx) => tx,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let templates: Vec<TcpTemplate> = segments
        .iter()
        .map(|s| {
            let mss = if s.src.is_ipv6() { 1440 } else { 1460 };
            TcpTemplate::new(s.src, TcpFlags(s.flags), 65535, Some(mss), 64)
        })
        .collect();
    let mut batch = TxBatch::new(64);
    let mut ready = Some(ready);
    while !stop.load(Ordering::SeqCst) {
        for (s, t) in segments.iter().zip(&templates) {
            if batch.is_full() {
                send(&mut tx, &mut batch, sent);
            }
            batch.push_with(s.dst, |buf| {
                t.stamp(buf, s.dst, s.sport, s.dport, s.seq, s.ack, 0)
            });
        }
        send(&mut tx, &mut batch, sent);
        if let Some(r) = ready.take() {
            let _ = r.send(Ok(()));
        }
        thread::sleep(pause);
    }
}

fn send(
    tx: &mut vigie_netio::tx::RawSender,
    batch: &mut vigie_netio::tx::TxBatch,
    sent: &AtomicU64,
) {
    if batch.is_empty() {
        return;
    }
    match tx.send(batch) {
        Ok(n) => {
            sent.fetch_add(n as u64, Ordering::SeqCst);
        }
        Err(e) => eprintln!("vigie-lab blind sender: send failed: {e}"),
    }
    batch.clear();
}

/// What a frame capture's thread gives back: the frames and the ring's
/// drop count.
type Frames = io::Result<(Vec<Vec<u8>>, u64)>;

/// A running capture of whole frames; see [`FrameCapture::start`].
pub struct FrameCapture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Frames>>,
}

impl FrameCapture {
    /// Start recording, in namespace `ns`, every IPv4 and IPv6 frame that
    /// arrives on interface `ifname` (its Ethernet header included, before
    /// netfilter and before reassembly). Returns once the ring is open.
    pub fn start(ns: &str, ifname: &str) -> anyhow::Result<FrameCapture> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let (ns2, if2, stop2) = (ns.to_owned(), ifname.to_owned(), Arc::clone(&stop));
        let thread = thread::Builder::new()
            .name("lab-frame-capture".to_owned())
            .spawn(move || frame_thread(&ns2, &if2, &stop2, ready_tx))
            .context("spawn frame capture thread")?;
        let mut cap = FrameCapture {
            stop,
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(cap),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context(format!("frame capture in {ns}"))),
            Err(_) => {
                let r = cap.thread.take().map(|t| t.join());
                Err(anyhow!("frame capture did not start: {r:?}"))
            }
        }
    }

    /// Stop (after draining the ring) and return every frame seen, in
    /// arrival order. Fails if the ring dropped any.
    pub fn finish(mut self) -> anyhow::Result<Vec<Vec<u8>>> {
        self.stop.store(true, Ordering::SeqCst);
        let (frames, drops) = match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r.context("frame capture")?,
            Some(Err(_)) => bail!("frame capture thread panicked"),
            None => (Vec::new(), 0),
        };
        if drops != 0 {
            bail!("the frame capture ring dropped {drops} frames");
        }
        Ok(frames)
    }
}

impl Drop for FrameCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for FrameCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameCapture").finish_non_exhaustive()
    }
}

fn frame_thread(
    ns: &str,
    ifname: &str,
    stop: &AtomicBool,
    ready: mpsc::Sender<io::Result<()>>,
) -> Frames {
    use vigie_netio::rx::{Receiver, RxConfig};

    let setup = || -> io::Result<Receiver> {
        vigie_netio::netns::enter(ns)?;
        let index = vigie_netio::link::interfaces()?
            .into_iter()
            .find(|i| i.name == ifname)
            .map(|i| i.index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no {ifname}")))?;
        Receiver::tap(
            &RxConfig {
                block_size: 1 << 17,
                block_count: 128,
                block_timeout_ms: 2,
            },
            index,
            2048,
        )
    };
    let mut rx = match setup() {
        Ok(rx) => {
            let _ = ready.send(Ok(()));
            rx
        }
        Err(e) => {
            let _ = ready.send(Err(io::Error::new(e.kind(), e.to_string())));
            return Err(e);
        }
    };
    let mut frames = Vec::new();
    let mut tail = 0;
    while tail < 5 {
        if stop.load(Ordering::SeqCst) {
            tail += 1;
        }
        let r = rx.poll_tap(Duration::from_millis(20), |f| {
            let ip = f
                .bytes
                .get(12..14)
                .is_some_and(|t| t == [0x08, 0x00] || t == [0x86, 0xdd]);
            if f.ethernet && !f.outgoing && ip {
                frames.push(f.bytes.to_vec());
            }
        });
        match r {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((frames, rx.stats()?.drops))
}
