//! Capability checks and resource limits.

use std::io;

use socket2::{Domain, Protocol, Socket, Type};

/// True when the process may open raw sockets (tries
/// `socket(AF_INET, SOCK_RAW, IPPROTO_RAW)` and closes it).
pub fn has_net_raw() -> bool {
    Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(libc::IPPROTO_RAW)),
    )
    .is_ok()
}

/// Raise the `RLIMIT_NOFILE` soft limit to the hard limit; returns the new soft limit.
///
/// When the hard limit is "unlimited" the kernel still refuses more than
/// `fs.nr_open` descriptors, so the soft limit is then raised to that value.
// `rlim_t` is u64 on 64-bit Linux but not on every 32-bit target.
#[allow(clippy::unnecessary_cast)]
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for getrlimit to fill in.
    crate::sys::cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    let mut target = lim.rlim_max;
    if target == libc::RLIM_INFINITY {
        target = nr_open().unwrap_or(1 << 20);
    }
    if lim.rlim_cur >= target {
        return Ok(lim.rlim_cur as u64);
    }
    let new = libc::rlimit {
        rlim_cur: target,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: `new` is a valid rlimit that setrlimit only reads.
    crate::sys::cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) })?;
    Ok(target as u64)
}

fn nr_open() -> Option<libc::rlim_t> {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unnecessary_cast)]
    fn nofile_limit_reaches_hard_limit() {
        let soft = raise_nofile_limit().unwrap();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid, writable rlimit.
        let ret = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        assert_eq!(ret, 0);
        assert_eq!(lim.rlim_cur as u64, soft);
        if lim.rlim_max != libc::RLIM_INFINITY {
            assert_eq!(lim.rlim_cur, lim.rlim_max);
        }
        // Idempotent.
        assert_eq!(raise_nofile_limit().unwrap(), soft);
    }

    #[test]
    fn root_has_net_raw() {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if euid == 0 {
            assert!(has_net_raw());
        }
    }
}
