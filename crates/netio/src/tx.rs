//! Sending: preallocated packet batches and a raw IP sender built on `sendmmsg`.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// Bytes per packet slot in a [`TxBatch`].
pub const SLOT: usize = 256;

/// Most messages handed to one `sendmmsg` call (the kernel's `UIO_MAXIOV`).
const MAX_MMSG: usize = 1024;

/// How long a send may make no progress on ENOBUFS/EAGAIN/ENOMEM before the
/// packet at the head is counted as an error and skipped.
const STALL_LIMIT: Duration = Duration::from_secs(1);

/// A preallocated batch of outgoing packets; nothing is allocated after [`TxBatch::new`].
///
/// Each packet lives in a [`SLOT`]-byte slot. Slots are not cleared between
/// uses: `fill` must write the whole packet.
pub struct TxBatch {
    buf: Box<[u8]>,
    lens: Box<[u16]>,
    dsts: Box<[IpAddr]>,
    len: usize,
    /// Bytes per slot ([`SLOT`] unless [`TxBatch::with_slot`] said).
    slot: usize,
}

impl TxBatch {
    /// A batch with room for `capacity` packets.
    pub fn new(capacity: usize) -> TxBatch {
        TxBatch::with_slot(capacity, SLOT)
    }

    /// A batch with room for `capacity` packets of up to `slot` bytes each
    /// (at most 65535).
    pub fn with_slot(capacity: usize, slot: usize) -> TxBatch {
        let slot = slot.clamp(1, usize::from(u16::MAX));
        let bytes = capacity
            .checked_mul(slot)
            .expect("TxBatch capacity overflows usize");
        TxBatch {
            buf: vec![0u8; bytes].into_boxed_slice(),
            lens: vec![0u16; capacity].into_boxed_slice(),
            dsts: vec![IpAddr::from([0u8; 4]); capacity].into_boxed_slice(),
            len: 0,
            slot,
        }
    }

    /// Append a packet for `dst`; `fill` writes the full IP packet into the
    /// [`SLOT`]-byte slot and returns its length.
    ///
    /// # Panics
    /// If the batch is full (check [`TxBatch::is_full`] first), or if `fill`
    /// returns a length greater than [`SLOT`]. Both are caller bugs.
    pub fn push_with(&mut self, dst: IpAddr, fill: impl FnOnce(&mut [u8]) -> usize) {
        assert!(
            self.len < self.capacity(),
            "TxBatch::push_with on a full batch (capacity {})",
            self.capacity()
        );
        let start = self.len * self.slot;
        let n = fill(&mut self.buf[start..start + self.slot]);
        assert!(
            n <= self.slot,
            "TxBatch fill returned {n} > slot ({})",
            self.slot
        );
        self.lens[self.len] = n as u16;
        self.dsts[self.len] = dst;
        self.len += 1;
    }

    /// Number of packets in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when no more packet fits.
    pub fn is_full(&self) -> bool {
        self.len == self.capacity()
    }

    /// Forget every packet (the memory is kept).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Bytes each packet may take.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// How many packets the batch can hold.
    pub fn capacity(&self) -> usize {
        self.lens.len()
    }

    /// The `i`-th packet: its destination and bytes.
    pub fn get(&self, i: usize) -> Option<(IpAddr, &[u8])> {
        if i >= self.len {
            return None;
        }
        let start = i * self.slot;
        Some((
            self.dsts[i],
            &self.buf[start..start + self.lens[i] as usize],
        ))
    }

    /// Every packet in order: destination and bytes.
    pub fn iter(&self) -> impl Iterator<Item = (IpAddr, &[u8])> + '_ {
        (0..self.len).filter_map(move |i| self.get(i))
    }
}

impl std::fmt::Debug for TxBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxBatch")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// Counters of a [`RawSender`] since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxStats {
    /// Packets the kernel accepted.
    pub sent: u64,
    /// Packets skipped because the kernel refused them (unreachable, firewall, …).
    pub errors: u64,
    /// `sendmmsg` calls made.
    pub syscalls: u64,
}

/// Destination address as handed to the kernel.
#[repr(C)]
#[derive(Clone, Copy)]
union RawAddr {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

impl RawAddr {
    fn new(dst: IpAddr) -> (RawAddr, libc::socklen_t) {
        match dst {
            IpAddr::V4(a) => (
                RawAddr {
                    v4: libc::sockaddr_in {
                        sin_family: libc::AF_INET as libc::sa_family_t,
                        sin_port: 0,
                        sin_addr: libc::in_addr {
                            s_addr: u32::from_ne_bytes(a.octets()),
                        },
                        sin_zero: [0; 8],
                    },
                },
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            IpAddr::V6(a) => (
                RawAddr {
                    v6: libc::sockaddr_in6 {
                        sin6_family: libc::AF_INET6 as libc::sa_family_t,
                        sin6_port: 0,
                        sin6_flowinfo: 0,
                        sin6_addr: libc::in6_addr {
                            s6_addr: a.octets(),
                        },
                        sin6_scope_id: 0,
                    },
                },
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
        }
    }
}

/// Raw IP sender: `AF_INET`/`SOCK_RAW`/`IPPROTO_RAW` (header included) and
/// `AF_INET6`/`SOCK_RAW`/`IPPROTO_RAW` (Linux implies `IPV6_HDRINCL`), each
/// opened on first use of that family. Packets are complete IP datagrams
/// built by the caller; the kernel routes them by destination address.
///
/// For IPv4 the kernel always fills in the total length and the header
/// checksum, and the IP ID when it is zero; IPv6 packets go out as built.
/// Link-local IPv6 destinations are not supported (no scope id is set).
pub struct RawSender {
    v4: Option<Socket>,
    v6: Option<Socket>,
    hdrs: Box<[libc::mmsghdr]>,
    iovs: Box<[libc::iovec]>,
    addrs: Box<[RawAddr]>,
    stats: TxStats,
    /// `-e`: the interface both sockets are bound to (`SO_BINDTODEVICE`).
    device: Option<String>,
}

// SAFETY: the raw pointers inside `hdrs` and `iovs` point only into `addrs`,
// `iovs` (owned by this value) and into the `TxBatch` borrowed by the current
// `send` call. They are rewritten at the start of every `send` before the
// kernel reads them and are never dereferenced by Rust code, so moving the
// sender to another thread cannot create shared or dangling access.
unsafe impl Send for RawSender {}

impl RawSender {
    /// A sender; the sockets are opened on first use of each family.
    ///
    /// Fails with `PermissionDenied` up front when raw sockets are not
    /// allowed (no CAP_NET_RAW).
    pub fn new() -> io::Result<RawSender> {
        match open_raw(Domain::IPV4) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Err(e),
            _ => {}
        }
        let zero_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        // SAFETY: mmsghdr is a plain C struct of integers and raw pointers,
        // for which all-zero bytes (null pointers, zero lengths) are valid.
        let zero_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let (zero_addr, _) = RawAddr::new(IpAddr::from([0u8; 4]));
        Ok(RawSender {
            v4: None,
            v6: None,
            hdrs: vec![zero_hdr; MAX_MMSG].into_boxed_slice(),
            iovs: vec![zero_iov; MAX_MMSG].into_boxed_slice(),
            addrs: vec![zero_addr; MAX_MMSG].into_boxed_slice(),
            stats: TxStats::default(),
            device: None,
        })
    }

    /// A sender whose sockets send on interface `name` only (`-e`).
    pub fn on_device(name: &str) -> io::Result<RawSender> {
        let mut s = RawSender::new()?;
        s.device = Some(name.to_owned());
        // Open the IPv4 socket now: a bad name fails here, not mid-scan.
        s.socket(true)?;
        Ok(s)
    }

    /// Counters since creation.
    pub fn stats(&self) -> TxStats {
        self.stats
    }

    /// Send the whole batch with `sendmmsg`, in as few calls as possible.
    ///
    /// ENOBUFS/EAGAIN: waits briefly and retries the remainder. A packet the
    /// kernel refuses (EHOSTUNREACH, ENETUNREACH, EPERM from a firewall,
    /// EINVAL for a blackhole route, …) is skipped and counted in
    /// [`TxStats::errors`]. Returns the number of packets sent. Errors that
    /// concern the socket itself (EBADF, EFAULT, …) or opening a socket
    /// are returned.
    pub fn send(&mut self, batch: &TxBatch) -> io::Result<usize> {
        let n = batch.len();
        let mut sent = 0;
        let mut i = 0;
        while i < n {
            let v4 = batch.dsts[i].is_ipv4();
            let mut j = i + 1;
            while j < n && j - i < MAX_MMSG && batch.dsts[j].is_ipv4() == v4 {
                j += 1;
            }
            let fd = self.socket(v4)?;
            sent += self.send_run(fd, batch, i, j)?;
            i = j;
        }
        Ok(sent)
    }

    fn socket(&mut self, v4: bool) -> io::Result<RawFd> {
        let slot = if v4 { &mut self.v4 } else { &mut self.v6 };
        if let Some(s) = slot {
            return Ok(s.as_raw_fd());
        }
        let s = open_raw(if v4 { Domain::IPV4 } else { Domain::IPV6 })?;
        if let Some(d) = &self.device {
            s.bind_device(Some(d.as_bytes()))?;
        }
        // A bigger send buffer smooths bursts; not fatal if refused.
        let _ = s.set_send_buffer_size(4 << 20);
        let fd = s.as_raw_fd();
        *slot = Some(s);
        Ok(fd)
    }

    /// Send packets `from..to` of `batch` (all of one family, at most
    /// `MAX_MMSG`) on `fd`.
    fn send_run(
        &mut self,
        fd: RawFd,
        batch: &TxBatch,
        from: usize,
        to: usize,
    ) -> io::Result<usize> {
        let m = to - from;
        let base = batch.buf.as_ptr();
        for k in 0..m {
            let idx = from + k;
            let (addr, _) = RawAddr::new(batch.dsts[idx]);
            self.addrs[k] = addr;
            self.iovs[k] = libc::iovec {
                // The kernel only reads through this pointer (sendmsg).
                iov_base: base.wrapping_add(idx * batch.slot) as *mut libc::c_void,
                iov_len: batch.lens[idx] as usize,
            };
        }
        let addrs = self.addrs.as_mut_ptr();
        let iovs = self.iovs.as_mut_ptr();
        for k in 0..m {
            let (_, namelen) = RawAddr::new(batch.dsts[from + k]);
            let h = &mut self.hdrs[k];
            h.msg_hdr.msg_name = addrs.wrapping_add(k).cast::<libc::c_void>();
            h.msg_hdr.msg_namelen = namelen;
            h.msg_hdr.msg_iov = iovs.wrapping_add(k);
            h.msg_hdr.msg_iovlen = 1;
            h.msg_len = 0;
        }

        let mut start = 0;
        let mut sent = 0;
        let mut stalled_since: Option<Instant> = None;
        while start < m {
            // SAFETY: `hdrs[start..m]` are initialised mmsghdrs whose name and
            // iov pointers point into `self.addrs`/`self.iovs` (live, not
            // moved during the call) and whose iovecs point into
            // `batch.buf` (borrowed for the whole call, lengths ≤ SLOT within
            // the slot). `m - start` ≤ MAX_MMSG fits in c_uint.
            let ret = unsafe {
                libc::sendmmsg(
                    fd,
                    self.hdrs.as_mut_ptr().add(start),
                    (m - start) as libc::c_uint,
                    0,
                )
            };
            self.stats.syscalls += 1;
            if ret > 0 {
                let r = ret as usize;
                start += r;
                sent += r;
                self.stats.sent += r as u64;
                stalled_since = None;
                continue;
            }
            let err = if ret == 0 {
                io::Error::from_raw_os_error(libc::ENOBUFS)
            } else {
                io::Error::last_os_error()
            };
            match err.raw_os_error().unwrap_or(0) {
                libc::EINTR => {}
                libc::EAGAIN | libc::ENOBUFS | libc::ENOMEM => {
                    let t0 = *stalled_since.get_or_insert_with(Instant::now);
                    if t0.elapsed() >= STALL_LIMIT {
                        self.stats.errors += 1;
                        start += 1;
                        stalled_since = None;
                    } else if err.raw_os_error() == Some(libc::EAGAIN) {
                        wait_writable(fd, 10);
                    } else {
                        std::thread::sleep(Duration::from_micros(50));
                    }
                }
                libc::EBADF | libc::EFAULT | libc::ENOTSOCK | libc::EOPNOTSUPP => {
                    return Err(err);
                }
                _ => {
                    // This packet was refused: skip it, keep the rest.
                    self.stats.errors += 1;
                    start += 1;
                }
            }
        }
        Ok(sent)
    }
}

impl std::fmt::Debug for RawSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSender")
            .field("v4_open", &self.v4.is_some())
            .field("v6_open", &self.v6.is_some())
            .field("stats", &self.stats)
            .finish()
    }
}

fn open_raw(domain: Domain) -> io::Result<Socket> {
    Socket::new(domain, Type::RAW, Some(Protocol::from(libc::IPPROTO_RAW)))
}

fn wait_writable(fd: RawFd, ms: libc::c_int) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd; the result only paces a retry, so
    // an error here is harmless.
    unsafe {
        libc::poll(&mut pfd, 1, ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn assert_send<T: Send>() {}

    #[test]
    fn sender_is_send() {
        assert_send::<RawSender>();
        assert_send::<TxBatch>();
    }

    #[test]
    fn batch_fill_full_clear() {
        let mut b = TxBatch::new(3);
        assert_eq!(b.capacity(), 3);
        assert!(b.is_empty());
        assert!(!b.is_full());
        let d4 = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
        let d6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        b.push_with(d4, |s| {
            assert_eq!(s.len(), SLOT);
            s[..3].copy_from_slice(&[1, 2, 3]);
            3
        });
        b.push_with(d6, |s| {
            s.fill(0xee);
            SLOT
        });
        assert_eq!(b.len(), 2);
        assert!(!b.is_full());
        b.push_with(d4, |_| 0);
        assert!(b.is_full());
        assert_eq!(b.len(), 3);
        assert_eq!(b.get(0), Some((d4, &[1u8, 2, 3][..])));
        let (dst, bytes) = b.get(1).unwrap();
        assert_eq!(dst, d6);
        assert_eq!(bytes.len(), SLOT);
        assert!(bytes.iter().all(|&x| x == 0xee));
        assert_eq!(b.get(2), Some((d4, &[][..])));
        assert_eq!(b.get(3), None);
        assert_eq!(b.iter().count(), 3);

        b.clear();
        assert!(b.is_empty());
        assert!(!b.is_full());
        assert_eq!(b.len(), 0);
        assert_eq!(b.capacity(), 3);
        assert_eq!(b.get(0), None);
        // Slots are reused after clear.
        b.push_with(d6, |s| {
            s[0] = 9;
            1
        });
        assert_eq!(b.get(0), Some((d6, &[9u8][..])));
    }

    #[test]
    #[should_panic(expected = "full batch")]
    fn push_on_full_batch_panics() {
        let mut b = TxBatch::new(1);
        b.push_with(IpAddr::V4(Ipv4Addr::LOCALHOST), |_| 20);
        b.push_with(IpAddr::V4(Ipv4Addr::LOCALHOST), |_| 20);
    }

    #[test]
    #[should_panic(expected = "> slot")]
    fn oversized_fill_panics() {
        let mut b = TxBatch::new(1);
        b.push_with(IpAddr::V4(Ipv4Addr::LOCALHOST), |_| SLOT + 1);
    }

    #[test]
    fn zero_capacity_batch_is_full() {
        let b = TxBatch::new(0);
        assert!(b.is_full());
        assert!(b.is_empty());
    }

    #[test]
    fn empty_batch_sends_nothing() {
        let mut s = RawSender::new().unwrap();
        assert_eq!(s.send(&TxBatch::new(4)).unwrap(), 0);
        assert_eq!(s.stats(), TxStats::default());
    }
}
