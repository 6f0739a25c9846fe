//! Live tests: each body runs in a thread with its own fresh network
//! namespace (only `lo`), so the Receiver sees nothing but our traffic.
//! Needs root (CAP_NET_RAW + CAP_SYS_ADMIN). Targets: 127.0.0.1 and ::1 only
//! (plus 198.18.0.0/15 addresses that have no route in the namespace).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::process::Command;
use std::time::{Duration, Instant};

use vigie_netio::rx::{Receiver, RxConfig};
use vigie_netio::tx::{RawSender, TxBatch, SLOT};
use vigie_netio::{netns, route};

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

const LO4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LO6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

fn in_fresh_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        netns::unshare_thread().expect("unshare(CLONE_NEWNET) (run the tests as root)");
        f()
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

fn small_ring() -> RxConfig {
    RxConfig {
        block_size: 1 << 16,
        block_count: 8,
        block_timeout_ms: 5,
    }
}

// ---- packet building (by hand, with our own checksum) ----

fn csum_add(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn put_tcp(buf: &mut [u8], sport: u16, dport: u16, seq: u32, flags: u8) {
    buf[..20].fill(0);
    buf[0..2].copy_from_slice(&sport.to_be_bytes());
    buf[2..4].copy_from_slice(&dport.to_be_bytes());
    buf[4..8].copy_from_slice(&seq.to_be_bytes());
    buf[12] = 5 << 4;
    buf[13] = flags;
    buf[14..16].copy_from_slice(&1024u16.to_be_bytes());
}

/// A 40-byte IPv4+TCP packet, or a 20-byte IPv4 header + `payload` for other protocols.
fn ipv4(buf: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> usize {
    let total = 20 + l4.len();
    buf[..20].fill(0);
    buf[0] = 0x45;
    buf[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    buf[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    buf[6] = 0x40; // DF
    buf[8] = 64;
    buf[9] = proto;
    buf[12..16].copy_from_slice(&src.octets());
    buf[16..20].copy_from_slice(&dst.octets());
    let c = csum_fold(csum_add(0, &buf[..20]));
    buf[10..12].copy_from_slice(&c.to_be_bytes());
    buf[20..total].copy_from_slice(l4);
    if proto == 6 {
        let mut sum = csum_add(0, &src.octets());
        sum = csum_add(sum, &dst.octets());
        sum += 6 + l4.len() as u32;
        sum = csum_add(sum, &buf[20..total]);
        buf[36..38].copy_from_slice(&csum_fold(sum).to_be_bytes());
    }
    total
}

fn syn_v4(buf: &mut [u8], dst: Ipv4Addr, sport: u16, dport: u16, seq: u32) -> usize {
    let mut tcp = [0u8; 20];
    put_tcp(&mut tcp, sport, dport, seq, SYN);
    ipv4(buf, Ipv4Addr::LOCALHOST, dst, 6, &tcp)
}

fn syn_v6(buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, seq: u32) -> usize {
    buf[..40].fill(0);
    buf[0] = 0x60;
    buf[4..6].copy_from_slice(&20u16.to_be_bytes());
    buf[6] = 6;
    buf[7] = 64;
    buf[8..24].copy_from_slice(&src.octets());
    buf[24..40].copy_from_slice(&dst.octets());
    put_tcp(&mut buf[40..60], sport, dport, seq, SYN);
    let mut sum = csum_add(0, &src.octets());
    sum = csum_add(sum, &dst.octets());
    sum += 20 + 6;
    sum = csum_add(sum, &buf[40..60]);
    buf[56..58].copy_from_slice(&csum_fold(sum).to_be_bytes());
    60
}

fn syn(buf: &mut [u8], dst: IpAddr, sport: u16, dport: u16, seq: u32) -> usize {
    match dst {
        IpAddr::V4(d) => syn_v4(buf, d, sport, dport, seq),
        IpAddr::V6(d) => syn_v6(buf, Ipv6Addr::LOCALHOST, d, sport, dport, seq),
    }
}

// ---- packet reading ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tcp {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
}

fn parse_tcp(p: &[u8]) -> Option<Tcp> {
    let (src, dst, t) = match p.first()? >> 4 {
        4 => {
            let ihl = usize::from(p[0] & 0x0f) * 4;
            if p.len() < ihl + 20 || p[9] != 6 {
                return None;
            }
            let s: [u8; 4] = p[12..16].try_into().ok()?;
            let d: [u8; 4] = p[16..20].try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d), &p[ihl..])
        }
        6 => {
            if p.len() < 60 || p[6] != 6 {
                return None;
            }
            let s: [u8; 16] = p[8..24].try_into().ok()?;
            let d: [u8; 16] = p[24..40].try_into().ok()?;
            (IpAddr::from(s), IpAddr::from(d), &p[40..])
        }
        _ => return None,
    };
    Some(Tcp {
        src,
        dst,
        sport: u16::from_be_bytes([t[0], t[1]]),
        dport: u16::from_be_bytes([t[2], t[3]]),
        seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
        flags: t[13],
    })
}

/// Poll until `done` says so or `within` elapses; returns every packet seen.
fn capture(
    rx: &mut Receiver,
    within: Duration,
    mut done: impl FnMut(&[Vec<u8>]) -> bool,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while !done(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        rx.poll(left.min(Duration::from_millis(50)), |p| {
            seen.push(p.to_vec())
        })
        .unwrap();
    }
    seen
}

fn replies_to(seen: &[Vec<u8>], sport: u16) -> Vec<Tcp> {
    seen.iter()
        .filter_map(|p| parse_tcp(p))
        .filter(|t| t.dport == sport)
        .collect()
}

fn send_one(dst: IpAddr, sport: u16, dport: u16, seq: u32) -> (RawSender, usize) {
    let mut tx = RawSender::new().unwrap();
    let mut b = TxBatch::new(1);
    b.push_with(dst, |s| syn(s, dst, sport, dport, seq));
    let n = tx.send(&b).unwrap();
    (tx, n)
}

fn syn_to_closed_port(dst: IpAddr) {
    let mut rx = Receiver::new(&small_ring()).unwrap();
    let (tx, n) = send_one(dst, 40000, 4444, 0x0102_0304);
    assert_eq!(n, 1);
    assert_eq!(tx.stats().sent, 1);
    assert_eq!(tx.stats().errors, 0);
    assert_eq!(tx.stats().syscalls, 1);
    let seen = capture(&mut rx, Duration::from_secs(3), |s| {
        !replies_to(s, 40000).is_empty()
    });
    let r = replies_to(&seen, 40000);
    assert_eq!(r.len(), 1, "{seen:?}");
    assert_eq!(r[0].src, dst);
    assert_eq!(r[0].dst, dst);
    assert_eq!(r[0].sport, 4444);
    assert_eq!(r[0].dport, 40000);
    assert_eq!(r[0].flags, RST | ACK);
    assert_eq!(r[0].seq, 0);
    assert_eq!(r[0].ack, 0x0102_0305);
    // Our own SYN is seen once (as incoming on lo), never twice.
    let syns: Vec<Tcp> = seen
        .iter()
        .filter_map(|p| parse_tcp(p))
        .filter(|t| t.sport == 40000 && t.dport == 4444)
        .collect();
    assert_eq!(syns.len(), 1, "{syns:?}");
    assert_eq!(syns[0].flags, SYN);
}

#[test]
fn syn_to_closed_port_v4_gets_rst_ack() {
    in_fresh_netns(|| syn_to_closed_port(LO4));
}

#[test]
fn syn_to_closed_port_v6_gets_rst_ack() {
    in_fresh_netns(|| syn_to_closed_port(LO6));
}

fn syn_to_listener(dst: IpAddr) {
    let listener = TcpListener::bind((dst, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut rx = Receiver::new(&small_ring()).unwrap();
    let (_tx, n) = send_one(dst, 40001, port, 0xdead_beef);
    assert_eq!(n, 1);
    let seen = capture(&mut rx, Duration::from_secs(3), |s| {
        !replies_to(s, 40001).is_empty()
    });
    let r = replies_to(&seen, 40001);
    assert!(!r.is_empty(), "{seen:?}");
    assert_eq!(r[0].sport, port);
    assert_eq!(r[0].flags, SYN | ACK);
    assert_eq!(r[0].ack, 0xdead_bef0);
    drop(listener);
}

#[test]
fn syn_to_listening_port_gets_syn_ack_v4() {
    in_fresh_netns(|| syn_to_listener(LO4));
}

#[test]
fn syn_to_listening_port_gets_syn_ack_v6() {
    in_fresh_netns(|| syn_to_listener(LO6));
}

/// Send an ARP frame on `lo` through a plain AF_PACKET socket.
fn send_arp_on_lo() {
    let arp: [u8; 28] = [
        0, 1, 8, 0, 6, 4, 0, 1, // Ethernet/IPv4, request
        0, 0, 0, 0, 0, 0, 127, 0, 0, 1, // sender
        0, 0, 0, 0, 0, 0, 127, 0, 0, 2, // target
    ];
    // SAFETY: plain socket/if_nametoindex/sendto/close calls on values that
    // live for the whole call; results are checked.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ARP as u16).to_be();
        sll.sll_ifindex = libc::if_nametoindex(c"lo".as_ptr()) as i32;
        sll.sll_halen = 6;
        let n = libc::sendto(
            fd,
            arp.as_ptr().cast(),
            arp.len(),
            0,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(n, 28, "{}", std::io::Error::last_os_error());
        libc::close(fd);
    }
}

#[test]
fn filter_drops_gre_and_arp_but_not_tcp() {
    in_fresh_netns(|| {
        let mut rx = Receiver::new(&small_ring()).unwrap();
        let mut tx = RawSender::new().unwrap();
        let mut b = TxBatch::new(4);
        // GRE (47) with a 4-byte header carrying IPv4.
        b.push_with(LO4, |s| {
            ipv4(
                s,
                Ipv4Addr::LOCALHOST,
                Ipv4Addr::LOCALHOST,
                47,
                &[0, 0, 8, 0],
            )
        });
        // Some other non-matching protocol: IPv4 proto 132 (SCTP).
        b.push_with(LO4, |s| {
            ipv4(s, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 132, &[0; 12])
        });
        assert_eq!(tx.send(&b).unwrap(), 2);
        send_arp_on_lo();
        b.clear();
        b.push_with(LO4, |s| syn_v4(s, Ipv4Addr::LOCALHOST, 40002, 4445, 7));
        assert_eq!(tx.send(&b).unwrap(), 1);

        let seen = capture(&mut rx, Duration::from_secs(3), |s| {
            !replies_to(s, 40002).is_empty()
        });
        assert_eq!(replies_to(&seen, 40002).len(), 1);
        for p in &seen {
            assert!(p[0] >> 4 == 4 || p[0] >> 4 == 6, "non-IP delivered: {p:?}");
            if p[0] >> 4 == 4 {
                assert!(matches!(p[9], 1 | 6 | 17), "protocol {} delivered", p[9]);
            }
        }
        // Exactly: our SYN (incoming), its RST, and maybe ICMP
        // protocol-unreachable errors for GRE/SCTP; never GRE/SCTP/ARP itself.
        let tcp = seen.iter().filter(|p| p[9] == 6).count();
        assert_eq!(tcp, 2, "{seen:?}");
        // A second GRE packet after the TCP exchange is not delivered either.
        b.clear();
        b.push_with(LO4, |s| {
            ipv4(
                s,
                Ipv4Addr::LOCALHOST,
                Ipv4Addr::LOCALHOST,
                47,
                &[0, 0, 8, 0],
            )
        });
        assert_eq!(tx.send(&b).unwrap(), 1);
        let later = capture(&mut rx, Duration::from_millis(300), |_| false);
        assert!(later.iter().all(|p| p[9] != 47), "{later:?}");
    });
}

fn thousand_syns(dsts: [IpAddr; 2]) -> (Vec<Tcp>, u64, u64) {
    let mut rx = Receiver::new(&RxConfig::default()).unwrap();
    let mut tx = RawSender::new().unwrap();
    let mut b = TxBatch::new(1000);
    for i in 0..1000u16 {
        let dst = dsts[usize::from(i) % 2];
        b.push_with(dst, |s| syn(s, dst, 41000, 10000 + i, 1000 + u32::from(i)));
    }
    assert!(b.is_full());
    assert_eq!(tx.send(&b).unwrap(), 1000);
    let st = tx.stats();
    assert_eq!((st.sent, st.errors), (1000, 0));
    let seen = capture(&mut rx, Duration::from_secs(5), |s| {
        replies_to(s, 41000).len() >= 1000
    });
    // Give stragglers a moment, to prove there are no duplicates.
    let more = capture(&mut rx, Duration::from_millis(100), |_| false);
    let all: Vec<Vec<u8>> = seen.into_iter().chain(more).collect();
    let stats = rx.stats().unwrap();
    assert_eq!(stats.drops, 0);
    // Every packet in the namespace: 1000 SYNs in, 1000 RSTs back.
    assert_eq!(all.len(), 2000);
    assert_eq!(stats.packets, 2000);
    (replies_to(&all, 41000), st.syscalls, stats.packets)
}

fn check_rsts(r: &[Tcp], dsts: [IpAddr; 2]) {
    assert_eq!(r.len(), 1000);
    let ports: BTreeSet<u16> = r.iter().map(|t| t.sport).collect();
    assert_eq!(ports.len(), 1000);
    assert_eq!(*ports.first().unwrap(), 10000);
    assert_eq!(*ports.last().unwrap(), 10999);
    for t in r {
        let i = t.sport - 10000;
        assert_eq!(t.flags, RST | ACK);
        assert_eq!(t.ack, 1000 + u32::from(i) + 1);
        assert_eq!(t.src, dsts[usize::from(i) % 2]);
    }
}

#[test]
fn thousand_syns_to_closed_ports_all_answered() {
    in_fresh_netns(|| {
        let dsts = [LO4, LO4];
        let (r, syscalls, _) = thousand_syns(dsts);
        check_rsts(&r, dsts);
        assert_eq!(syscalls, 1, "one sendmmsg for one family");
    });
}

#[test]
fn mixed_family_batch_all_answered() {
    in_fresh_netns(|| {
        let dsts = [LO4, LO6];
        let (r, syscalls, _) = thousand_syns(dsts);
        check_rsts(&r, dsts);
        // Alternating families: one run (one call) per packet.
        assert_eq!(syscalls, 1000);
    });
}

#[test]
fn unroutable_packet_is_skipped_not_fatal() {
    in_fresh_netns(|| {
        let mut rx = Receiver::new(&small_ring()).unwrap();
        let mut tx = RawSender::new().unwrap();
        let mut b = TxBatch::new(3);
        // No route to 198.18.0.1 in the fresh namespace: ENETUNREACH.
        let nowhere = Ipv4Addr::new(198, 18, 0, 1);
        b.push_with(LO4, |s| syn_v4(s, Ipv4Addr::LOCALHOST, 40003, 5001, 1));
        b.push_with(IpAddr::V4(nowhere), |s| syn_v4(s, nowhere, 40003, 5002, 2));
        b.push_with(LO4, |s| syn_v4(s, Ipv4Addr::LOCALHOST, 40003, 5003, 3));
        assert_eq!(tx.send(&b).unwrap(), 2);
        let st = tx.stats();
        assert_eq!((st.sent, st.errors, st.syscalls), (2, 1, 3));
        let seen = capture(&mut rx, Duration::from_secs(3), |s| {
            replies_to(s, 40003).len() >= 2
        });
        let ports: BTreeSet<u16> = replies_to(&seen, 40003).iter().map(|t| t.sport).collect();
        assert_eq!(ports, BTreeSet::from([5001, 5003]));
        // An IPv6 destination without a route is skipped the same way.
        b.clear();
        let nowhere6: Ipv6Addr = "fd00::1".parse().unwrap();
        b.push_with(IpAddr::V6(nowhere6), |s| {
            syn_v6(s, Ipv6Addr::LOCALHOST, nowhere6, 40003, 5004, 4)
        });
        assert_eq!(tx.send(&b).unwrap(), 0);
        assert_eq!(tx.stats().errors, 2);
    });
}

#[test]
fn poll_times_out_empty() {
    in_fresh_netns(|| {
        let mut rx = Receiver::new(&small_ring()).unwrap();
        let t0 = Instant::now();
        let n = rx
            .poll(Duration::from_millis(100), |p| panic!("unexpected {p:?}"))
            .unwrap();
        let el = t0.elapsed();
        assert_eq!(n, 0);
        assert!(el >= Duration::from_millis(100), "{el:?}");
        assert_eq!(rx.poll(Duration::ZERO, |_| {}).unwrap(), 0);
        assert_eq!(rx.stats().unwrap(), Default::default());
    });
}

#[test]
fn receiver_moves_to_another_thread() {
    in_fresh_netns(|| {
        let mut rx = Receiver::new(&small_ring()).unwrap();
        // The socket keeps its namespace even when polled from a thread
        // that is in the original one.
        let h = std::thread::spawn(move || {
            let seen = capture(&mut rx, Duration::from_secs(3), |s| {
                !replies_to(s, 40004).is_empty()
            });
            replies_to(&seen, 40004)
        });
        std::thread::sleep(Duration::from_millis(50));
        let (_tx, n) = send_one(LO4, 40004, 4446, 99);
        assert_eq!(n, 1);
        let r = h.join().unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].sport, r[0].flags, r[0].ack), (4446, RST | ACK, 100));
    });
}

#[test]
fn source_for_in_fresh_netns() {
    in_fresh_netns(|| {
        assert_eq!(route::source_for(LO4).unwrap(), LO4);
        assert_eq!(route::source_for(LO6).unwrap(), LO6);
        let err = route::source_for(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1))).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENETUNREACH));
    });
}

/// A named namespace from `ip netns add`, deleted on drop.
struct NamedNs(String);

impl NamedNs {
    fn new(tag: &str) -> NamedNs {
        let name = format!("vigie-netio-{tag}-{}", std::process::id());
        ip(&["netns", "add", &name]);
        NamedNs(name)
    }
}

impl Drop for NamedNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("run ip");
    assert!(st.success(), "ip {args:?} failed");
}

fn ns_inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

#[test]
fn enter_named_namespace() {
    let ns = NamedNs::new("enter");
    let path = format!("/run/netns/{}", ns.0);
    let target = ns_inode(&path);
    let name = ns.0.clone();
    let before = ns_inode("/proc/thread-self/ns/net");
    assert_ne!(before, target);
    let (inside, src) = std::thread::spawn(move || {
        netns::enter(&name).unwrap();
        netns::set_link_up("lo").unwrap();
        (
            ns_inode("/proc/thread-self/ns/net"),
            route::source_for(LO4).unwrap(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(inside, target);
    assert_eq!(src, LO4);
    // The calling thread did not move.
    assert_eq!(ns_inode("/proc/thread-self/ns/net"), before);
}

/// One-off measurement: 1M SYNs (1000 batches of 1000) in a private
/// namespace, to (a) a blackhole route (the kernel refuses each packet with
/// EINVAL at route lookup: the per-packet error path, one syscall each) and
/// (b) a /24 routed out of a veth pair to a static neighbour whose MAC
/// nobody owns (the full transmit path; the other end drops the frames).
/// Nobody answers. Prints packets/s; asserts only counts.
/// `cargo test --release -p vigie-netio --test loopback -- --ignored --nocapture`
#[test]
#[ignore]
fn measure_send_rate() {
    let ns = NamedNs::new("rate");
    let n = ns.0.as_str();
    ip(&["-n", n, "link", "set", "lo", "up"]);
    ip(&["-n", n, "route", "add", "blackhole", "198.18.99.0/24"]);
    ip(&[
        "-n", n, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
    ]);
    ip(&["-n", n, "addr", "add", "198.18.98.1/24", "dev", "v0"]);
    ip(&["-n", n, "link", "set", "v0", "up"]);
    ip(&["-n", n, "link", "set", "v1", "up"]);
    ip(&[
        "-n",
        n,
        "neigh",
        "add",
        "198.18.98.2",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        "v0",
        "nud",
        "permanent",
    ]);
    ip(&[
        "-n",
        n,
        "route",
        "add",
        "198.18.97.0/24",
        "via",
        "198.18.98.2",
        "dev",
        "v0",
    ]);
    let name = ns.0.clone();
    std::thread::spawn(move || {
        netns::enter(&name).unwrap();
        let targets = [
            ("blackhole route", Ipv4Addr::new(198, 18, 99, 0)),
            ("veth, unowned MAC", Ipv4Addr::new(198, 18, 97, 0)),
        ];
        for (label, net) in targets {
            let mut tx = RawSender::new().unwrap();
            let mut b = TxBatch::new(1000);
            let mut template = [0u8; SLOT];
            let len = syn_v4(&mut template, net, 40000, 80, 1);
            let t0 = Instant::now();
            let mut sent = 0usize;
            for round in 0..1000u32 {
                b.clear();
                for i in 0..1000u32 {
                    let host = 2 + ((round * 1000 + i) % 250) as u8;
                    let o = net.octets();
                    let dst = Ipv4Addr::new(o[0], o[1], o[2], host);
                    b.push_with(IpAddr::V4(dst), |s| {
                        s[..len].copy_from_slice(&template[..len]);
                        s[19] = host; // kernel fixes the IP checksum; TCP's is stale
                        len
                    });
                }
                sent += tx.send(&b).unwrap();
            }
            let el = t0.elapsed();
            let st = tx.stats();
            assert_eq!(st.sent + st.errors, 1_000_000);
            assert_eq!(st.sent, sent as u64);
            println!(
                "{label}: 1000000 packets in {:.3}s = {:.0} pkt/s (sent {}, errors {}, syscalls {})",
                el.as_secs_f64(),
                1e6 / el.as_secs_f64(),
                st.sent,
                st.errors,
                st.syscalls
            );
        }
    })
    .join()
    .unwrap();
}

/// The tap sees both copies loopback makes of a datagram, the one sent
/// (outgoing) and the one received, from the (all-zero) Ethernet header,
/// cut at the snap length; and only the interface it is bound to.
#[test]
fn tap_sees_both_directions_on_loopback() {
    in_fresh_netns(|| {
        netns::set_link_up("lo").expect("lo up");
        let lo = vigie_netio::link::interfaces()
            .expect("interfaces")
            .into_iter()
            .find(|i| i.loopback)
            .expect("lo");
        let mut tap = Receiver::tap(&small_ring(), lo.index, 96).expect("tap");
        let sock = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let to = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = to.local_addr().expect("addr").port();
        sock.send_to(&[7u8; 500], (Ipv4Addr::LOCALHOST, port))
            .expect("send");
        let mut seen = Vec::new();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until && seen.len() < 2 {
            tap.poll_tap(Duration::from_millis(50), |f| {
                let udp_to = f.bytes.get(14 + 22..14 + 24);
                if udp_to == Some(&port.to_be_bytes()[..]) {
                    seen.push((
                        f.outgoing,
                        f.ethernet,
                        f.ifindex,
                        f.bytes.len(),
                        f.bytes[12..14].to_vec(),
                    ));
                }
            })
            .expect("poll");
        }
        let idx = lo.index as i32;
        seen.sort();
        assert_eq!(
            seen,
            [
                (false, true, idx, 96, vec![0x08, 0x00]),
                (true, true, idx, 96, vec![0x08, 0x00])
            ]
        );
    });
}
