//! The link layer: interfaces (index, MAC, addresses), whether a target is
//! on a directly attached Ethernet segment, and an `AF_PACKET` `SOCK_RAW`
//! socket bound to one interface for ARP and neighbour-discovery frames.

use std::ffi::CStr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::sys::{cvt, setsockopt};

/// EtherType of ARP (for [`LinkSocket::open`]).
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv6 (for [`LinkSocket::open`]).
pub const ETH_P_IPV6: u16 = 0x86dd;

/// One network interface with an Ethernet-style hardware address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub mac: [u8; 6],
    pub loopback: bool,
    /// Addresses with their prefix length.
    pub v4: Vec<(Ipv4Addr, u8)>,
    pub v6: Vec<(Ipv6Addr, u8)>,
}

impl Interface {
    /// Its addresses, IPv4 then IPv6.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.v4
            .iter()
            .map(|(a, _)| IpAddr::V4(*a))
            .chain(self.v6.iter().map(|(a, _)| IpAddr::V6(*a)))
    }

    /// The interface address on the same subnet as `dst`, if any.
    pub fn source_for(&self, dst: IpAddr) -> Option<IpAddr> {
        match dst {
            IpAddr::V4(d) => self
                .v4
                .iter()
                .find(|(a, p)| same_prefix(&a.octets(), &d.octets(), *p))
                .map(|(a, _)| IpAddr::V4(*a)),
            IpAddr::V6(d) => self
                .v6
                .iter()
                .find(|(a, p)| same_prefix(&a.octets(), &d.octets(), *p))
                .map(|(a, _)| IpAddr::V6(*a)),
        }
    }
}

/// Whether `a` and `b` (octets of one family) share their first `prefix`
/// bits.
pub fn same_prefix(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let bits = usize::from(prefix).min(a.len() * 8);
    let (full, rest) = (bits / 8, bits % 8);
    if a[..full] != b[..full] {
        return false;
    }
    rest == 0 || (a[full] ^ b[full]) >> (8 - rest) == 0
}

fn prefix_len(mask: &[u8]) -> u8 {
    mask.iter().map(|b| b.count_ones() as u8).sum()
}

/// Every interface with a 6-byte hardware address (Ethernet, veth, …) and
/// the loopback, with their addresses, from `getifaddrs`.
pub fn interfaces() -> io::Result<Vec<Interface>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into `head`; checked below and
    // freed with freeifaddrs before returning.
    cvt(unsafe { libc::getifaddrs(&mut head) })?;
    let mut out: Vec<Interface> = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a non-null node of the list getifaddrs returned,
        // valid until freeifaddrs below.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let loopback = ifa.ifa_flags & libc::IFF_LOOPBACK as u32 != 0;
        let pos = match out.iter().position(|i| i.name == name) {
            Some(p) => p,
            None => {
                out.push(Interface {
                    name: name.clone(),
                    index: if_index(&name).unwrap_or(0),
                    mac: [0; 6],
                    loopback,
                    v4: Vec::new(),
                    v6: Vec::new(),
                });
                out.len() - 1
            }
        };
        // SAFETY: ifa_addr is non-null and points to a sockaddr whose
        // family field is always readable.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        match family {
            libc::AF_PACKET => {
                // SAFETY: family AF_PACKET means the storage is a sockaddr_ll.
                let ll = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_ll) };
                if ll.sll_halen == 6 {
                    out[pos].mac.copy_from_slice(&ll.sll_addr[..6]);
                }
            }
            libc::AF_INET => {
                // SAFETY: family AF_INET means a sockaddr_in; the netmask,
                // when present, has the same family.
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                let addr = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                let prefix = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    // SAFETY: as above.
                    let m = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in) };
                    prefix_len(&m.sin_addr.s_addr.to_ne_bytes())
                };
                out[pos].v4.push((addr, prefix));
            }
            libc::AF_INET6 => {
                // SAFETY: family AF_INET6 means a sockaddr_in6.
                let a = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                let addr = Ipv6Addr::from(a.sin6_addr.s6_addr);
                let prefix = if ifa.ifa_netmask.is_null() {
                    128
                } else {
                    // SAFETY: as above.
                    let m = unsafe { &*(ifa.ifa_netmask as *const libc::sockaddr_in6) };
                    prefix_len(&m.sin6_addr.s6_addr)
                };
                out[pos].v6.push((addr, prefix));
            }
            _ => {}
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed exactly once; no
    // reference into the list outlives this point (names were copied).
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

fn if_index(name: &str) -> Option<u32> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// The non-loopback interface with a MAC on whose subnet `dst` lies (a
/// directly attached segment, where ARP / ND can reach it), and our
/// address on it. Link-local IPv6 prefixes (fe80::/64, present on every
/// interface) are skipped.
pub fn on_link(dst: IpAddr) -> io::Result<Option<(Interface, IpAddr)>> {
    for i in interfaces()? {
        if i.loopback || i.mac == [0; 6] || i.index == 0 {
            continue;
        }
        if let IpAddr::V6(d) = dst {
            if d.segments()[0] & 0xffc0 == 0xfe80 {
                continue;
            }
        }
        if let Some(src) = i.source_for(dst) {
            if src != dst {
                return Ok(Some((i, src)));
            }
        }
    }
    Ok(None)
}

/// `AF_PACKET` `SOCK_RAW` bound to one interface: sends whole Ethernet
/// frames, receives frames of one EtherType (our own outgoing frames
/// excluded).
pub struct LinkSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl LinkSocket {
    /// Open on interface `ifindex`, receiving frames of `ethertype`.
    pub fn open(ifindex: u32, ethertype: u16) -> io::Result<LinkSocket> {
        let ifindex = i32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface index"))?;
        // Protocol 0 here, the EtherType at bind: a socket opened with a
        // protocol is hooked to every interface at once, and binding it then
        // re-hooks it, which waits for an RCU grace period (tens of ms).
        // SAFETY: plain socket(2) call; the result is checked.
        let raw =
            cvt(unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) })?;
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            &1 as &libc::c_int,
        )?;
        let sll = sockaddr_ll(ifindex, ethertype, None);
        // SAFETY: `sll` is a valid sockaddr_ll of the length passed.
        cvt(unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        })?;
        Ok(LinkSocket { fd, ifindex })
    }

    /// Send one complete Ethernet frame (destination MAC first).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "short frame"));
        }
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&frame[..6]);
        let sll = sockaddr_ll(self.ifindex, ethertype, Some(dst));
        loop {
            // SAFETY: `frame` is readable for its length and `sll` is a
            // valid sockaddr_ll of the length passed.
            let n = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    (&sll as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) => {
                    std::thread::sleep(Duration::from_micros(200))
                }
                Some(libc::EINTR) => {}
                _ => return Err(e),
            }
        }
    }

    /// Wait up to `timeout` for one frame; `Ok(None)` on timeout.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(None)
            } else {
                Err(e)
            };
        }
        if r == 0 {
            return Ok(None);
        }
        // SAFETY: `buf` is writable for its length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(n as usize))
    }
}

fn sockaddr_ll(ifindex: i32, ethertype: u16, dst: Option<[u8; 6]>) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is a plain C struct; all-zero is valid.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = ethertype.to_be();
    sll.sll_ifindex = ifindex;
    if let Some(d) = dst {
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&d);
    }
    sll
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert!(same_prefix(&[198, 18, 0, 1], &[198, 18, 0, 200], 24));
        assert!(!same_prefix(&[198, 18, 0, 1], &[198, 18, 1, 1], 24));
        assert!(same_prefix(&[198, 18, 0, 1], &[198, 19, 1, 1], 15));
        assert!(!same_prefix(&[198, 18, 0, 1], &[198, 20, 1, 1], 15));
        assert!(same_prefix(&[1, 2, 3, 4], &[9, 9, 9, 9], 0));
        assert_eq!(prefix_len(&[255, 255, 254, 0]), 23);
    }

    #[test]
    fn loopback_is_listed_and_never_on_link() {
        let all = interfaces().unwrap();
        let lo = all.iter().find(|i| i.loopback).expect("a loopback");
        assert!(lo.v4.contains(&(Ipv4Addr::LOCALHOST, 8)), "{lo:?}");
        assert_eq!(
            on_link(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))).unwrap(),
            None
        );
    }
}
