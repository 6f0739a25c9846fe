//! Receiving: an `AF_PACKET` `TPACKET_V3` ring behind a classic BPF filter.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::sys::{cvt, setsockopt};

/// Ring geometry. The ring is `block_size * block_count` bytes of memory
/// shared with the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxConfig {
    /// Bytes per block; a multiple of the page size.
    pub block_size: u32,
    /// Number of blocks.
    pub block_count: u32,
    /// The kernel hands over a partly filled block after this many milliseconds.
    pub block_timeout_ms: u32,
}

/// 16 × 1 MB: at ~128 bytes per reply frame (TPACKET_V3 packs them) that
/// is ~130 000 replies of slack, tens of milliseconds at full speed,
/// while the receive thread drains it continuously. The ring counts in the
/// process's RSS once the kernel has written each page, so this is also a
/// fixed 16 MB of the memory budget.
impl Default for RxConfig {
    fn default() -> Self {
        RxConfig {
            block_size: 1 << 20,
            block_count: 16,
            block_timeout_ms: 10,
        }
    }
}

/// Kernel counters of a [`Receiver`], summed since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RxStats {
    /// Packets that passed the filter, as the kernel counts them (drops included).
    pub packets: u64,
    /// Packets dropped because the ring was full.
    pub drops: u64,
    /// Times the ring was frozen because every block was owned by us.
    pub freeze_q_cnt: u64,
}

/// Frame size used for the ring request; `TPACKET_V3` packs variable-size
/// frames, this only has to satisfy the kernel's sanity checks.
const FRAME_SIZE: u32 = 2048;

/// Bytes of a packet the filter keeps (more than any loopback MTU).
const SNAP: u32 = 0x0004_0000;

/// `AF_PACKET` `SOCK_DGRAM` socket on all interfaces (`ETH_P_ALL`) with a
/// `TPACKET_V3` mmap RX ring. A classic BPF filter, attached before bind,
/// accepts only IPv4 TCP/UDP/ICMP and IPv6 TCP/UDP/ICMPv6 (or IPv6 starting
/// with an extension header). `PACKET_IGNORE_OUTGOING` hides our own probes.
/// Packets are handed out starting at the network (IP) header.
pub struct Receiver {
    fd: OwnedFd,
    ring: NonNull<u8>,
    ring_len: usize,
    block_size: usize,
    block_count: usize,
    next: usize,
    totals: Cell<RxStats>,
}

// SAFETY: `ring` is a private mapping owned by this value (unmapped in Drop);
// it is only accessed through `&mut self` in `poll`, so moving the receiver to
// another thread moves exclusive ownership of the mapping with it. (Receiver
// is not Sync: `totals` is a Cell.)
unsafe impl Send for Receiver {}

/// One frame a [`Receiver::tap`] saw.
#[derive(Debug, Clone, Copy)]
pub struct TapFrame<'a> {
    /// The interface it was seen on.
    pub ifindex: i32,
    /// This host sent it (`PACKET_OUTGOING`).
    pub outgoing: bool,
    /// `bytes` start at an Ethernet header (Ethernet, veth, and loopback's
    /// all-zero one); else at the IP header (tun, other link types).
    pub ethernet: bool,
    /// The frame, cut at the tap's snap length.
    pub bytes: &'a [u8],
}

/// What a receiver is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A scan's replies: IP packets from the network header, our own
    /// outgoing packets hidden.
    Scan,
    /// A watch: every IPv4, IPv6 and ARP frame in both directions, from the
    /// link header, cut at `snap` bytes, on one interface (0: all).
    Tap { ifindex: u32, snap: u32 },
}

/// Where the kernel puts a packet's `sockaddr_ll` in a TPACKET_V3 block:
/// after the header, aligned to TPACKET_ALIGNMENT (16).
const SLL_OFFSET: usize = (std::mem::size_of::<libc::tpacket3_hdr>() + 15) & !15;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_LOOPBACK: u16 = 772;
const PACKET_OUTGOING: u8 = 4;

/// A packet's place in a block and the link facts the kernel gave.
struct Raw {
    mac: usize,
    net: usize,
    snap: usize,
    ifindex: i32,
    hatype: u16,
    pkttype: u8,
}

impl Receiver {
    /// Open the socket, attach the filter, map the ring and bind to every interface.
    pub fn new(cfg: &RxConfig) -> io::Result<Receiver> {
        Receiver::open(cfg, Mode::Scan)
    }

    /// A tap for `vigie watch`: every IPv4, IPv6 and ARP frame on interface
    /// `ifindex` (0: every interface), received and sent, before netfilter,
    /// each cut at `snap` bytes (headers are what a watcher reads). Read
    /// with [`poll_tap`](Self::poll_tap).
    pub fn tap(cfg: &RxConfig, ifindex: u32, snap: u32) -> io::Result<Receiver> {
        Receiver::open(cfg, Mode::Tap { ifindex, snap })
    }

    fn open(cfg: &RxConfig, mode: Mode) -> io::Result<Receiver> {
        let page = page_size();
        if cfg.block_count == 0
            || cfg.block_size < FRAME_SIZE
            || (cfg.block_size as usize) % page != 0
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "rx ring: block_size must be a non-zero multiple of the page size ({page}) \
                     and block_count > 0, got {cfg:?}"
                ),
            ));
        }
        let frames_per_block = cfg.block_size / FRAME_SIZE;
        let frame_nr = frames_per_block.checked_mul(cfg.block_count);
        let ring_len = (cfg.block_size as usize).checked_mul(cfg.block_count as usize);
        let (Some(frame_nr), Some(ring_len)) = (frame_nr, ring_len) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "rx ring: block_size * block_count overflows",
            ));
        };

        // Protocol 0: the socket receives nothing until bind, so no packet
        // slips in before the filter is attached.
        let kind = match mode {
            Mode::Scan => libc::SOCK_DGRAM,
            Mode::Tap { .. } => libc::SOCK_RAW,
        };
        // SAFETY: plain socket(2) call; the result is checked below.
        let raw = cvt(unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: `raw` is a freshly opened descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let sfd = fd.as_raw_fd();

        setsockopt(
            sfd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &(libc::tpacket_versions::TPACKET_V3 as libc::c_int),
        )?;
        if mode == Mode::Scan {
            setsockopt(
                sfd,
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                &1 as &libc::c_int,
            )?;
        }

        let mut prog = match mode {
            Mode::Scan => filter_program(),
            Mode::Tap { snap, .. } => tap_filter(snap),
        };
        let fprog = libc::sock_fprog {
            len: prog.len() as libc::c_ushort,
            filter: prog.as_mut_ptr(),
        };
        setsockopt(sfd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)?;

        let req = libc::tpacket_req3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.block_count,
            tp_frame_size: FRAME_SIZE,
            tp_frame_nr: frame_nr,
            tp_retire_blk_tov: cfg.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(sfd, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;

        // SAFETY: mapping `ring_len` bytes of the ring just configured on
        // `sfd`; the kernel checks the length against the ring. The result
        // is checked against MAP_FAILED.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                sfd,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ring =
            NonNull::new(map.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        let rx = Receiver {
            fd,
            ring,
            ring_len,
            block_size: cfg.block_size as usize,
            block_count: cfg.block_count as usize,
            next: 0,
            totals: Cell::new(RxStats::default()),
        };

        // SAFETY: sockaddr_ll is a plain C struct; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as libc::c_ushort;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = match mode {
            Mode::Scan => 0, // every interface
            Mode::Tap { ifindex, .. } => {
                i32::try_from(ifindex).map_err(|_| io::Error::other("interface index"))?
            }
        };
        // SAFETY: `sll` is a valid sockaddr_ll of the length passed.
        cvt(unsafe {
            libc::bind(
                sfd,
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(rx)
    }

    /// Wait up to `timeout` for a ready block, then hand every packet of
    /// every ready block to `f` (bytes from the IP header on) and return the
    /// blocks to the kernel. Returns the number of packets delivered.
    pub fn poll(&mut self, timeout: Duration, mut f: impl FnMut(&[u8])) -> io::Result<usize> {
        self.drain(timeout, &mut |block, r| {
            // A scan's socket is SOCK_DGRAM: the packet starts at `net`.
            if let Some(pkt) = block.get(r.net..r.net + r.snap) {
                f(pkt);
            }
        })
    }

    /// [`poll`](Self::poll) for a [`tap`](Self::tap): every frame with its
    /// direction, interface and link type.
    pub fn poll_tap(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(TapFrame<'_>),
    ) -> io::Result<usize> {
        self.drain(timeout, &mut |block, r| {
            let ethernet = matches!(r.hatype, ARPHRD_ETHER | ARPHRD_LOOPBACK);
            // SOCK_RAW: the snap length counts from the link header.
            let start = if ethernet { r.mac } else { r.net };
            let end = r.mac + r.snap;
            if let Some(bytes) = block.get(start..end) {
                f(TapFrame {
                    ifindex: r.ifindex,
                    outgoing: r.pkttype == PACKET_OUTGOING,
                    ethernet,
                    bytes,
                });
            }
        })
    }

    fn drain(&mut self, timeout: Duration, f: &mut dyn FnMut(&[u8], &Raw)) -> io::Result<usize> {
        let deadline = Instant::now().checked_add(timeout);
        while !self.block_ready(self.next) {
            let wait_ms = match deadline {
                None => -1,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(0);
                    }
                    // Round up so a sub-millisecond timeout still waits.
                    left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
                }
            };
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN | libc::POLLERR,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd for the duration of the call.
            let ret = unsafe { libc::poll(&mut pfd, 1, wait_ms) };
            if ret < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if pfd.revents & (libc::POLLERR | libc::POLLNVAL) != 0 && !self.block_ready(self.next) {
                self.take_socket_error()?;
            }
        }

        let mut delivered = 0;
        for _ in 0..self.block_count {
            if !self.block_ready(self.next) {
                break;
            }
            delivered += self.walk_block(self.next, f);
            self.release_block(self.next);
            self.next = (self.next + 1) % self.block_count;
        }
        Ok(delivered)
    }

    /// Kernel counters (`PACKET_STATISTICS`), summed since creation.
    pub fn stats(&self) -> io::Result<RxStats> {
        let mut st = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = std::mem::size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `st` is writable for `len` bytes and `len` is a valid in/out length.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast::<libc::c_void>(),
                &mut len,
            )
        })?;
        // The kernel resets its counters on every read: keep the running sum.
        let mut t = self.totals.get();
        t.packets += u64::from(st.tp_packets);
        t.drops += u64::from(st.tp_drops);
        t.freeze_q_cnt += u64::from(st.tp_freeze_q_cnt);
        self.totals.set(t);
        Ok(t)
    }

    fn block_ptr(&self, idx: usize) -> *mut libc::tpacket_block_desc {
        debug_assert!(idx < self.block_count);
        self.ring
            .as_ptr()
            .wrapping_add(idx * self.block_size)
            .cast::<libc::tpacket_block_desc>()
    }

    fn block_status(&self, idx: usize) -> &AtomicU32 {
        let desc = self.block_ptr(idx);
        // SAFETY: `desc` points to the start of block `idx` inside the live
        // mapping (idx < block_count), which the kernel initialised with a
        // tpacket_block_desc; `block_status` is a 4-aligned u32 the kernel
        // and we both access, so it is viewed as an atomic. The reference
        // lives no longer than `&self`, hence no longer than the mapping.
        unsafe { AtomicU32::from_ptr(std::ptr::addr_of_mut!((*desc).hdr.bh1.block_status)) }
    }

    fn block_ready(&self, idx: usize) -> bool {
        self.block_status(idx).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    fn release_block(&self, idx: usize) {
        self.block_status(idx)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
    }

    /// Call `f` on each packet of the (ready, user-owned) block `idx`:
    /// the block's bytes and where the packet lies in them.
    fn walk_block(&self, idx: usize, f: &mut dyn FnMut(&[u8], &Raw)) -> usize {
        let base = self.ring.as_ptr().wrapping_add(idx * self.block_size);
        let desc = base.cast::<libc::tpacket_block_desc>();
        // SAFETY: the block is owned by user space (TP_STATUS_USER was seen
        // with Acquire ordering), so the kernel does not write it until we
        // release it; the descriptor lies at the block's start in the mapping.
        let (num, first) = unsafe {
            let h = &(*desc).hdr.bh1;
            (h.num_pkts as usize, h.offset_to_first_pkt as usize)
        };
        // SAFETY: the whole block lies inside the live mapping and stays
        // user-owned and unmodified while the slice lives (it is released
        // only after this walk returns).
        let block = unsafe { std::slice::from_raw_parts(base, self.block_size) };
        let sll_len = std::mem::size_of::<libc::sockaddr_ll>();
        let mut off = first;
        let mut delivered = 0;
        for _ in 0..num {
            if !matches!(off.checked_add(SLL_OFFSET + sll_len), Some(end) if end <= self.block_size)
            {
                break;
            }
            // SAFETY: `off + SLL_OFFSET + sizeof(sockaddr_ll) <= block_size`
            // (checked above), so the header and the sockaddr_ll that
            // follows it lie within this user-owned block; the kernel aligns
            // packet headers to TPACKET_ALIGNMENT (16), which suits both.
            let (next, raw) = unsafe {
                let h = &*base.add(off).cast::<libc::tpacket3_hdr>();
                let sll = &*base.add(off + SLL_OFFSET).cast::<libc::sockaddr_ll>();
                (
                    h.tp_next_offset as usize,
                    Raw {
                        mac: off + h.tp_mac as usize,
                        net: off + h.tp_net as usize,
                        snap: h.tp_snaplen as usize,
                        ifindex: sll.sll_ifindex,
                        hatype: sll.sll_hatype,
                        pkttype: sll.sll_pkttype,
                    },
                )
            };
            f(block, &raw);
            delivered += 1;
            if next == 0 {
                break;
            }
            off += next;
        }
        delivered
    }

    fn take_socket_error(&self) -> io::Result<()> {
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` is writable for `len` bytes.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast::<libc::c_void>(),
                &mut len,
            )
        })?;
        if err != 0 {
            return Err(io::Error::from_raw_os_error(err));
        }
        Ok(())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // SAFETY: `ring`/`ring_len` describe the mapping created in `new`,
        // unmapped exactly once here; no reference into it outlives `self`.
        unsafe {
            libc::munmap(self.ring.as_ptr().cast::<libc::c_void>(), self.ring_len);
        }
        // `fd` is closed when the field drops.
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("fd", &self.fd.as_raw_fd())
            .field("block_size", &self.block_size)
            .field("block_count", &self.block_count)
            .field("next", &self.next)
            .finish()
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

// Classic BPF opcodes (linux/filter.h).
const BPF_LD: u16 = 0x00;
const BPF_JMP: u16 = 0x05;
const BPF_RET: u16 = 0x06;
const BPF_H: u16 = 0x08;
const BPF_B: u16 = 0x10;
const BPF_ABS: u16 = 0x20;
const BPF_JEQ: u16 = 0x10;
const BPF_K: u16 = 0x00;

const ETH_P_IP: u32 = 0x0800;
const ETH_P_IPV6: u32 = 0x86dd;

/// One instruction with absolute jump targets, compiled by [`compile`].
#[derive(Clone, Copy)]
enum Ins {
    /// A = 16-bit load at offset k (ancillary when k is negative).
    LdH(i32),
    /// A = byte at offset k.
    LdB(i32),
    /// if A == k goto t else goto f (absolute instruction indices).
    Jeq(u32, usize, usize),
    /// Accept k bytes (0 = drop).
    Ret(u32),
}

fn compile(prog: &[Ins]) -> Vec<libc::sock_filter> {
    let rel = |pc: usize, target: usize| -> u8 {
        let off = target - pc - 1;
        u8::try_from(off).expect("BPF jump too far")
    };
    prog.iter()
        .enumerate()
        .map(|(pc, ins)| match *ins {
            Ins::LdH(k) => sf(BPF_LD | BPF_H | BPF_ABS, 0, 0, k as u32),
            Ins::LdB(k) => sf(BPF_LD | BPF_B | BPF_ABS, 0, 0, k as u32),
            Ins::Jeq(k, t, f) => sf(BPF_JMP | BPF_JEQ | BPF_K, rel(pc, t), rel(pc, f), k),
            Ins::Ret(k) => sf(BPF_RET | BPF_K, 0, 0, k),
        })
        .collect()
}

fn sf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The receive filter. With `SOCK_DGRAM` offset 0 is the IP header; the
/// EtherType comes from the `SKF_AD_PROTOCOL` ancillary load (skb->protocol),
/// which works on every link type (Ethernet, loopback, tun).
fn filter_program() -> Vec<libc::sock_filter> {
    const REJECT: usize = 16;
    const ACCEPT: usize = 17;
    use Ins::*;
    let prog = [
        /* 0 */ LdH(libc::SKF_AD_OFF + libc::SKF_AD_PROTOCOL),
        /* 1 */ Jeq(ETH_P_IP, 2, 6),
        /* 2 */ LdB(9), // IPv4 protocol
        /* 3 */ Jeq(libc::IPPROTO_TCP as u32, ACCEPT, 4),
        /* 4 */ Jeq(libc::IPPROTO_UDP as u32, ACCEPT, 5),
        /* 5 */ Jeq(libc::IPPROTO_ICMP as u32, ACCEPT, REJECT),
        /* 6 */ Jeq(ETH_P_IPV6, 7, REJECT),
        /* 7 */ LdB(6), // IPv6 next header
        /* 8 */ Jeq(libc::IPPROTO_TCP as u32, ACCEPT, 9),
        /* 9 */ Jeq(libc::IPPROTO_UDP as u32, ACCEPT, 10),
        /* 10 */ Jeq(libc::IPPROTO_ICMPV6 as u32, ACCEPT, 11),
        // Extension headers (be lax: the parser walks the chain).
        /* 11 */
        Jeq(0, ACCEPT, 12), // hop-by-hop options
        /* 12 */ Jeq(43, ACCEPT, 13), // routing
        /* 13 */ Jeq(44, ACCEPT, 14), // fragment
        /* 14 */ Jeq(60, ACCEPT, 15), // destination options
        /* 15 */ Jeq(51, ACCEPT, REJECT), // authentication header
        /* 16 REJECT */ Ret(0),
        /* 17 ACCEPT */ Ret(SNAP),
    ];
    compile(&prog)
}

const ETH_P_ARP: u32 = 0x0806;

/// The tap's filter: IPv4, IPv6 and ARP (by `SKF_AD_PROTOCOL`, whatever
/// the link type), each cut at `snap` bytes.
fn tap_filter(snap: u32) -> Vec<libc::sock_filter> {
    const REJECT: usize = 4;
    const ACCEPT: usize = 5;
    use Ins::*;
    let prog = [
        /* 0 */ LdH(libc::SKF_AD_OFF + libc::SKF_AD_PROTOCOL),
        /* 1 */ Jeq(ETH_P_IP, ACCEPT, 2),
        /* 2 */ Jeq(ETH_P_IPV6, ACCEPT, 3),
        /* 3 */ Jeq(ETH_P_ARP, ACCEPT, REJECT),
        /* 4 REJECT */ Ret(0),
        /* 5 ACCEPT */ Ret(snap.max(64)),
    ];
    compile(&prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic BPF interpreter for the instructions our filter uses,
    /// following the kernel's rules (out-of-bounds load = drop).
    fn run(prog: &[libc::sock_filter], proto: u16, pkt: &[u8]) -> u32 {
        let mut a: u32 = 0;
        let mut pc = 0usize;
        loop {
            let ins = prog[pc];
            pc += 1;
            match ins.code {
                c if c == BPF_LD | BPF_H | BPF_ABS => {
                    let k = ins.k as i32;
                    if k == libc::SKF_AD_OFF + libc::SKF_AD_PROTOCOL {
                        a = u32::from(proto);
                    } else {
                        let k = k as usize;
                        match pkt.get(k..k + 2) {
                            Some(b) => a = u32::from(u16::from_be_bytes([b[0], b[1]])),
                            None => return 0,
                        }
                    }
                }
                c if c == BPF_LD | BPF_B | BPF_ABS => match pkt.get(ins.k as usize) {
                    Some(&b) => a = u32::from(b),
                    None => return 0,
                },
                c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                    pc += usize::from(if a == ins.k { ins.jt } else { ins.jf });
                }
                c if c == BPF_RET | BPF_K => return ins.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn v4(proto: u8) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[9] = proto;
        p
    }

    fn v6(next: u8) -> Vec<u8> {
        let mut p = vec![0u8; 60];
        p[0] = 0x60;
        p[6] = next;
        p
    }

    #[test]
    fn filter_accepts_and_rejects() {
        let prog = filter_program();
        assert_eq!(prog.len(), 18);
        let ip = ETH_P_IP as u16;
        let ip6 = ETH_P_IPV6 as u16;
        for p in [6u8, 17, 1] {
            assert_eq!(run(&prog, ip, &v4(p)), SNAP, "ipv4 proto {p}");
        }
        for p in [47u8, 2, 4, 41, 50, 58, 132] {
            assert_eq!(run(&prog, ip, &v4(p)), 0, "ipv4 proto {p}");
        }
        for n in [6u8, 17, 58, 0, 43, 44, 60, 51] {
            assert_eq!(run(&prog, ip6, &v6(n)), SNAP, "ipv6 next {n}");
        }
        for n in [1u8, 47, 59, 4, 132] {
            assert_eq!(run(&prog, ip6, &v6(n)), 0, "ipv6 next {n}");
        }
        // ARP, VLAN-less others: dropped whatever the bytes say.
        assert_eq!(run(&prog, 0x0806, &v4(6)), 0);
        assert_eq!(run(&prog, 0x88cc, &v6(6)), 0);
        // Truncated headers: the load fails, the packet is dropped.
        assert_eq!(run(&prog, ip, &[0x45; 9]), 0);
        assert_eq!(run(&prog, ip6, &[0x60; 6]), 0);
    }

    #[test]
    fn tap_filter_takes_ip_ipv6_and_arp() {
        let prog = tap_filter(256);
        for proto in [ETH_P_IP, ETH_P_IPV6, ETH_P_ARP] {
            assert_eq!(run(&prog, proto as u16, &v4(47)), 256, "{proto:#x}");
        }
        for proto in [0x88ccu16, 0x8100, 0x0004] {
            assert_eq!(run(&prog, proto, &v4(6)), 0, "{proto:#x}");
        }
        // Too small a snap would cut the headers a watcher reads.
        assert_eq!(run(&tap_filter(10), ETH_P_IP as u16, &v4(6)), 64);
    }

    #[test]
    fn sll_follows_the_header_aligned() {
        assert_eq!(SLL_OFFSET % 16, 0);
        assert!(SLL_OFFSET >= std::mem::size_of::<libc::tpacket3_hdr>());
    }

    #[test]
    fn compile_relative_jumps() {
        let p = compile(&[Ins::Jeq(7, 1, 3), Ins::Ret(1), Ins::Ret(2), Ins::Ret(3)]);
        assert_eq!((p[0].jt, p[0].jf, p[0].k), (0, 2, 7));
        assert_eq!(p[0].code, 0x15);
        assert_eq!(p[3].code, 0x06);
        assert_eq!(p[3].k, 3);
    }

    #[test]
    fn rejects_bad_geometry() {
        for cfg in [
            RxConfig {
                block_size: 4096 + 1,
                ..RxConfig::default()
            },
            RxConfig {
                block_count: 0,
                ..RxConfig::default()
            },
            RxConfig {
                block_size: 0,
                ..RxConfig::default()
            },
        ] {
            assert_eq!(
                Receiver::new(&cfg).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
    }

    #[test]
    fn receiver_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Receiver>();
    }
}
