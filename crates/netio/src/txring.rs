//! The fast IPv4 send path: `AF_PACKET`/`SOCK_DGRAM` with
//! `PACKET_QDISC_BYPASS`, batched with `sendmmsg`. The kernel adds the
//! Ethernet header for the next hop's MAC given in the address; the IP
//! routing and netfilter output path is skipped entirely.
//!
//! Usable when every target leaves through one interface towards one next
//! hop (a gateway, or a single on-link target) whose MAC the neighbour table
//! knows: see [`next_hop_v4`].

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::tx::TxBatch;

const MAX_MMSG: usize = 1024;
const STALL_LIMIT: Duration = Duration::from_secs(1);
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

/// One IPv4 route of `/proc/net/route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route4 {
    pub iface: String,
    pub dest: u32,
    pub mask: u32,
    /// 0 when the destination is on-link.
    pub gateway: u32,
}

/// Parse `/proc/net/route` text (addresses are little-endian hex).
pub fn parse_routes(text: &str) -> Vec<Route4> {
    // The kernel prints each address as the native-endian u32 of its
    // network-order bytes.
    let hex = |s: &str| {
        u32::from_str_radix(s, 16)
            .ok()
            .map(|v| u32::from_be_bytes(v.to_ne_bytes()))
    };
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let flags = u32::from_str_radix(f.get(3)?, 16).ok()?;
            // RTF_UP; skip reject routes (RTF_REJECT).
            if flags & 1 == 0 || flags & 0x200 != 0 {
                return None;
            }
            Some(Route4 {
                iface: (*f.first()?).to_owned(),
                dest: hex(f.get(1)?)?,
                gateway: hex(f.get(2)?)?,
                mask: hex(f.get(7)?)?,
            })
        })
        .collect()
}

/// The most specific route for `dst`.
pub fn lookup(routes: &[Route4], dst: Ipv4Addr) -> Option<&Route4> {
    let d = u32::from(dst);
    routes
        .iter()
        .filter(|r| d & r.mask == r.dest & r.mask)
        .max_by_key(|r| r.mask.count_ones())
}

/// The route all of `first..=last` take, if they all take the same one
/// (no more specific route overlaps the range).
pub fn range_route(routes: &[Route4], first: Ipv4Addr, last: Ipv4Addr) -> Option<&Route4> {
    let r = lookup(routes, first)?;
    if lookup(routes, last)? != r {
        return None;
    }
    let (a, b) = (u32::from(first), u32::from(last));
    let overlaps = routes.iter().any(|o| {
        o != r
            && o.mask.count_ones() > r.mask.count_ones()
            && (o.dest & o.mask) <= b
            && (o.dest & o.mask) | !o.mask >= a
    });
    (!overlaps).then_some(r)
}

/// The MAC of `ip` on `iface` from `/proc/net/arp` text, if complete.
pub fn parse_arp(text: &str, iface: &str, ip: Ipv4Addr) -> Option<[u8; 6]> {
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 6 || f[5] != iface || f[0].parse::<Ipv4Addr>().ok()? != ip {
            continue;
        }
        // ATF_COM: the entry is complete.
        if u32::from_str_radix(f[2].trim_start_matches("0x"), 16).ok()? & 2 == 0 {
            return None;
        }
        let mut mac = [0u8; 6];
        let parts: Vec<&str> = f[3].split(':').collect();
        if parts.len() != 6 {
            return None;
        }
        for (m, p) in mac.iter_mut().zip(parts) {
            *m = u8::from_str_radix(p, 16).ok()?;
        }
        return (mac != [0; 6]).then_some(mac);
    }
    None
}

/// Where IPv4 packets for `first..=last` go: (interface index, next-hop
/// MAC), when one next hop serves them all and its MAC is known (a UDP
/// datagram to the discard port nudges the kernel to resolve it; waits up
/// to `wait`). `None` means: use the raw IP socket.
///
/// `/proc/net/route` shows only the main table, so its answer is trusted
/// only when the kernel agrees: no target may be a loopback, special or
/// local address of this host (those are routed by the `local` table, and
/// a default route in the main table would otherwise send them out of a
/// real interface), and the source address the kernel picks for the first
/// and the last target must be one of the chosen interface's own.
pub fn next_hop_v4(first: Ipv4Addr, last: Ipv4Addr, wait: Duration) -> Option<(u32, [u8; 6])> {
    if !outside_special(first, last) {
        return None;
    }
    let routes = parse_routes(&std::fs::read_to_string("/proc/net/route").ok()?);
    let r = range_route(&routes, first, last)?.clone();
    if r.iface == "lo" {
        return None;
    }
    let ifaces = crate::link::interfaces().ok()?;
    if ifaces
        .iter()
        .flat_map(|i| i.v4.iter())
        .any(|(a, _)| (first..=last).contains(a))
    {
        return None;
    }
    let iface = ifaces.iter().find(|i| i.name == r.iface)?;
    for dst in [first, last] {
        match crate::route::source_for(std::net::IpAddr::V4(dst)).ok()? {
            std::net::IpAddr::V4(src) if iface.v4.iter().any(|(a, _)| *a == src) => {}
            _ => return None,
        }
    }
    let hop = if r.gateway != 0 {
        Ipv4Addr::from(r.gateway)
    } else if first == last {
        first
    } else {
        return None;
    };
    let ifindex = ifindex(&r.iface)?;
    let deadline = Instant::now() + wait;
    let mut nudged = false;
    loop {
        let arp = std::fs::read_to_string("/proc/net/arp").ok()?;
        if let Some(mac) = parse_arp(&arp, &r.iface, hop) {
            return Some((ifindex, mac));
        }
        if Instant::now() >= deadline {
            return None;
        }
        if !nudged {
            nudged = true;
            if let Ok(s) = std::net::UdpSocket::bind("0.0.0.0:0") {
                let _ = s.send_to(&[0], (hop, 9));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// True when no address of `first..=last` is loopback, unspecified
/// ("this network"), multicast, reserved or broadcast: those never go to
/// a next hop's MAC.
fn outside_special(first: Ipv4Addr, last: Ipv4Addr) -> bool {
    let (a, b) = (u32::from(first), u32::from(last));
    // Each special block as (network, prefix length).
    const SPECIAL: [(u32, u32); 3] = [
        (0x0000_0000, 8), // 0.0.0.0/8
        (0x7f00_0000, 8), // 127.0.0.0/8
        (0xe000_0000, 3), // 224.0.0.0/3: multicast, reserved, broadcast
    ];
    a <= b
        && SPECIAL.iter().all(|&(net, len)| {
            let end = net | (u32::MAX >> len);
            b < net || a > end
        })
}

fn ifindex(name: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Where [`PacketSender`] sends each packet: the MAC of a neighbour
/// resolved by the scanner itself (ARP / neighbour discovery), else one
/// next hop for everything (the gateway, or the single on-link target).
#[derive(Debug, Clone, Default)]
pub struct NextHops {
    pub neighbours: Arc<HashMap<IpAddr, [u8; 6]>>,
    pub default: Option<[u8; 6]>,
}

impl NextHops {
    pub fn one(mac: [u8; 6]) -> NextHops {
        NextHops {
            neighbours: Arc::default(),
            default: Some(mac),
        }
    }

    pub fn mac_for(&self, dst: IpAddr) -> Option<[u8; 6]> {
        if self.neighbours.is_empty() {
            // One next hop for everything: no lookup per packet.
            return self.default;
        }
        self.neighbours.get(&dst).copied().or(self.default)
    }
}

/// IP packets (v4 and v6) to their next hop's MAC through `AF_PACKET`
/// (`SOCK_DGRAM`: the kernel writes the Ethernet header), `sendmmsg`
/// batches. Nothing waits on the kernel's neighbour queue.
pub struct PacketSender {
    fd: OwnedFd,
    ifindex: i32,
    hops: NextHops,
    addrs: Box<[libc::sockaddr_ll]>,
    hdrs: Box<[libc::mmsghdr]>,
    iovs: Box<[libc::iovec]>,
    /// `--spoof-mac`: the socket is `SOCK_RAW` and each frame's Ethernet
    /// header, with this source address, is written here.
    spoof: Option<[u8; 6]>,
    /// The frames of one `send` when `spoof` is set.
    frames: Vec<u8>,
    /// Packets skipped because the kernel refused them, or because no MAC
    /// is known for their destination.
    pub errors: u64,
}

// SAFETY: the raw pointers in `hdrs`/`iovs` point only into `self.addrs`,
// `self.iovs`, `self.frames` and the batch borrowed by the current `send`; they are
// rewritten before each call and never dereferenced by Rust code.
unsafe impl Send for PacketSender {}

impl PacketSender {
    /// Packets to one MAC (the next hop of every target).
    pub fn new(ifindex: u32, mac: [u8; 6]) -> io::Result<PacketSender> {
        PacketSender::with_hops(ifindex, NextHops::one(mac))
    }

    /// Packets to each destination's MAC as `hops` gives it.
    pub fn with_hops(ifindex: u32, hops: NextHops) -> io::Result<PacketSender> {
        PacketSender::open(ifindex, hops, None)
    }

    /// Like [`with_hops`](Self::with_hops), the frames' Ethernet source
    /// address `src_mac` instead of the interface's (`--spoof-mac`).
    pub fn with_source_mac(
        ifindex: u32,
        hops: NextHops,
        src_mac: [u8; 6],
    ) -> io::Result<PacketSender> {
        PacketSender::open(ifindex, hops, Some(src_mac))
    }

    fn open(ifindex: u32, hops: NextHops, spoof: Option<[u8; 6]>) -> io::Result<PacketSender> {
        let ifindex = i32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface index"))?;
        // SOCK_RAW when the Ethernet header is ours to write.
        let kind = if spoof.is_some() {
            libc::SOCK_RAW
        } else {
            libc::SOCK_DGRAM
        };
        // SAFETY: plain socket(2) call; the result is checked before use.
        // Protocol 0: this socket only sends (it receives nothing).
        let fd = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // SAFETY: setsockopt with a valid fd and a pointer to a live c_int
        // of the stated size. Failure only costs speed: ignored.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let sndbuf: libc::c_int = 4 << 20;
        // SAFETY: as above, a pointer to a live c_int.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&sndbuf as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let zero_addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        // SAFETY: mmsghdr is plain data; all-zero (null pointers) is valid.
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let zero_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Ok(PacketSender {
            fd,
            ifindex,
            hops,
            addrs: vec![zero_addr; MAX_MMSG].into_boxed_slice(),
            hdrs: vec![zero_hdr; MAX_MMSG].into_boxed_slice(),
            iovs: vec![zero_iov; MAX_MMSG].into_boxed_slice(),
            spoof,
            frames: Vec::new(),
            errors: 0,
        })
    }

    /// Send every packet of `batch` to its next hop (packets whose
    /// destination has no known MAC are skipped and counted). IPv4 header
    /// checksums must be complete: nothing fills them in here.
    pub fn send(&mut self, batch: &TxBatch) -> io::Result<usize> {
        let mut m = 0;
        // With a spoofed source MAC: frame k at k * stride of `frames`,
        // filled first (the buffer must not move once iovecs point in).
        let stride = 14 + batch.slot();
        if let Some(src) = self.spoof {
            let need = batch.len().min(MAX_MMSG) * stride;
            if self.frames.len() < need {
                self.frames.resize(need, 0);
            }
            let mut k = 0;
            for (dst, pkt) in batch.iter() {
                let Some(mac) = self.hops.mac_for(dst) else {
                    continue;
                };
                if k == MAX_MMSG {
                    break;
                }
                let f = &mut self.frames[k * stride..k * stride + 14 + pkt.len()];
                f[..6].copy_from_slice(&mac);
                f[6..12].copy_from_slice(&src);
                let ty = if dst.is_ipv4() { ETH_P_IP } else { ETH_P_IPV6 };
                f[12..14].copy_from_slice(&ty.to_be_bytes());
                f[14..].copy_from_slice(pkt);
                k += 1;
            }
        }
        for i in 0..batch.len() {
            let Some((dst, pkt)) = batch.get(i) else {
                continue;
            };
            let Some(mac) = self.hops.mac_for(dst) else {
                self.errors += 1;
                continue;
            };
            if m == MAX_MMSG {
                self.errors += 1;
                continue;
            }
            let a = &mut self.addrs[m];
            a.sll_family = libc::AF_PACKET as u16;
            a.sll_protocol = if dst.is_ipv4() { ETH_P_IP } else { ETH_P_IPV6 }.to_be();
            a.sll_ifindex = self.ifindex;
            a.sll_halen = 6;
            a.sll_addr[..6].copy_from_slice(&mac);
            self.iovs[m] = match self.spoof {
                // The kernel only reads through these pointers.
                None => libc::iovec {
                    iov_base: pkt.as_ptr() as *mut libc::c_void,
                    iov_len: pkt.len(),
                },
                Some(_) => libc::iovec {
                    iov_base: self.frames.as_ptr().wrapping_add(m * stride) as *mut libc::c_void,
                    iov_len: 14 + pkt.len(),
                },
            };
            m += 1;
        }
        let addrs = self.addrs.as_mut_ptr();
        let iovs = self.iovs.as_mut_ptr();
        for k in 0..m {
            let h = &mut self.hdrs[k];
            h.msg_hdr.msg_name = addrs.wrapping_add(k).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            h.msg_hdr.msg_iov = iovs.wrapping_add(k);
            h.msg_hdr.msg_iovlen = 1;
            h.msg_len = 0;
        }
        let mut start = 0;
        let mut stalled: Option<Instant> = None;
        while start < m {
            // SAFETY: `hdrs[start..m]` are initialised; their names point
            // into `self.addrs` and their iovecs into `self.iovs`, which point into
            // `batch` (borrowed for this call) or into `self.frames` (not
            // resized after they were set); `m - start` ≤ MAX_MMSG.
            let ret = unsafe {
                libc::sendmmsg(
                    self.fd.as_raw_fd(),
                    self.hdrs.as_mut_ptr().add(start),
                    (m - start) as libc::c_uint,
                    0,
                )
            };
            if ret > 0 {
                start += ret as usize;
                stalled = None;
                continue;
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error().unwrap_or(0) {
                libc::EINTR => {}
                libc::EAGAIN | libc::ENOBUFS | libc::ENOMEM => {
                    let t0 = *stalled.get_or_insert_with(Instant::now);
                    if t0.elapsed() >= STALL_LIMIT {
                        self.errors += 1;
                        start += 1;
                        stalled = None;
                    } else {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
                libc::EBADF | libc::EFAULT | libc::ENOTSOCK | libc::EOPNOTSUPP => return Err(err),
                _ => {
                    self.errors += 1;
                    start += 1;
                }
            }
        }
        Ok(m)
    }
}

impl std::fmt::Debug for PacketSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketSender")
            .field("ifindex", &self.ifindex)
            .field("errors", &self.errors)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
vb0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
vb0\t000013C6\t020012C6\t0003\t0\t0\t0\t0000FFFF\t0\t0\t0
vb0\t000012C6\t020012C6\t0003\t0\t0\t0\t0000FEFF\t0\t0\t0
";

    #[test]
    fn routes_parse_and_match() {
        let r = parse_routes(ROUTES);
        assert_eq!(r.len(), 3);
        assert_eq!(Ipv4Addr::from(r[0].dest), Ipv4Addr::new(198, 18, 0, 0));
        assert_eq!(r[0].mask.count_ones(), 24);
        assert_eq!(Ipv4Addr::from(r[1].gateway), Ipv4Addr::new(198, 18, 0, 2));
        let sweep = range_route(
            &r,
            Ipv4Addr::new(198, 19, 0, 0),
            Ipv4Addr::new(198, 19, 255, 255),
        );
        assert_eq!(sweep, Some(&r[1]));
        // The /15 contains the on-link /24: no single next hop.
        assert_eq!(
            range_route(
                &r,
                Ipv4Addr::new(198, 18, 0, 0),
                Ipv4Addr::new(198, 19, 255, 255)
            ),
            None
        );
        assert_eq!(lookup(&r, Ipv4Addr::new(198, 18, 0, 2)), Some(&r[0]));
        assert_eq!(lookup(&r, Ipv4Addr::new(10, 0, 0, 1)), None);
    }

    #[test]
    fn special_ranges_never_get_a_next_hop() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert!(outside_special(ip("198.18.0.0"), ip("198.19.255.255")));
        assert!(!outside_special(ip("127.0.0.1"), ip("127.0.0.1")));
        assert!(!outside_special(ip("126.255.255.0"), ip("127.0.0.0")));
        assert!(!outside_special(ip("0.0.0.0"), ip("0.0.0.0")));
        assert!(!outside_special(ip("224.0.0.1"), ip("224.0.0.1")));
        assert!(!outside_special(
            ip("255.255.255.255"),
            ip("255.255.255.255")
        ));
        assert!(!outside_special(ip("198.18.0.9"), ip("198.18.0.1")));
        // Loopback is routed by the local table whatever the main table says.
        assert_eq!(
            next_hop_v4(ip("127.0.0.1"), ip("127.0.0.1"), Duration::ZERO),
            None
        );
    }

    #[test]
    fn arp_parse() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device
198.18.0.2       0x1         0x2         9a:1b:2c:3d:4e:5f     *        vb0
198.18.0.3       0x1         0x0         00:00:00:00:00:00     *        vb0
";
        let ip = Ipv4Addr::new(198, 18, 0, 2);
        assert_eq!(
            parse_arp(t, "vb0", ip),
            Some([0x9a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f])
        );
        assert_eq!(parse_arp(t, "vb1", ip), None);
        assert_eq!(parse_arp(t, "vb0", Ipv4Addr::new(198, 18, 0, 3)), None);
    }
}
