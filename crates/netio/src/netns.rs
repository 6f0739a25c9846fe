//! Network namespaces for the lab: move the calling thread into one.
//!
//! Namespaces are per thread on Linux: after [`enter`] or [`unshare_thread`],
//! sockets created *by this thread* live in the new namespace, while the
//! other threads of the process stay where they were. Sockets keep the
//! namespace they were created in, so they may be handed to other threads.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use crate::sys::cvt;

/// Move the calling thread into the network namespace `/run/netns/<name>`
/// (as created by `ip netns add <name>`), with `setns(fd, CLONE_NEWNET)`.
pub fn enter(name: &str) -> io::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid network namespace name {name:?}"),
        ));
    }
    let file = File::open(format!("/run/netns/{name}"))?;
    // SAFETY: `file` is an open descriptor for the duration of the call;
    // setns validates that it refers to a network namespace.
    cvt(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) })?;
    Ok(())
}

/// Give the calling thread a fresh, empty network namespace
/// (`unshare(CLONE_NEWNET)`) and bring its loopback interface up.
///
/// Meant for tests: the thread gets a private `lo` (127.0.0.1/8 and ::1)
/// and nothing else, so it can send and capture without seeing anyone
/// else's traffic. Needs CAP_SYS_ADMIN.
pub fn unshare_thread() -> io::Result<()> {
    // SAFETY: unshare only changes the calling thread's namespaces.
    cvt(unsafe { libc::unshare(libc::CLONE_NEWNET) })?;
    set_link_up("lo")
}

/// Set `IFF_UP` on the interface `ifname` in the calling thread's network
/// namespace (`SIOCGIFFLAGS` + `SIOCSIFFLAGS`). Needs CAP_NET_ADMIN.
pub fn set_link_up(ifname: &str) -> io::Result<()> {
    let mut req = ifreq_for(ifname)?;
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    let fd = sock.as_raw_fd();
    // SAFETY: `req` is a valid ifreq with a NUL-terminated name; SIOCGIFFLAGS
    // writes only `ifr_ifru.ifru_flags` inside it.
    cvt(unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: the kernel just filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: as above; SIOCSIFFLAGS only reads `req`.
    cvt(unsafe { libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) })?;
    Ok(())
}

fn ifreq_for(ifname: &str) -> io::Result<libc::ifreq> {
    let bytes = ifname.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid interface name {ifname:?}"),
        ));
    }
    // SAFETY: ifreq is a plain C struct (chars and a union of integers and
    // sockaddrs) for which all-zero bytes are a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_names() {
        for bad in ["", ".", "..", "a/b", "../x"] {
            let err = enter(bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
        assert_eq!(
            enter("vigie-netio-no-such-ns").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            set_link_up("0123456789abcdefX").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn unshared_thread_has_its_own_loopback() {
        std::thread::spawn(|| {
            unshare_thread().unwrap();
            // A listener in the fresh namespace is reachable on its loopback.
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            // An interface that only exists elsewhere is not here.
            assert!(set_link_up("vigie-nonexist").is_err());
        })
        .join()
        .unwrap();
    }
}
