//! Route lookups through the kernel.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// The source address the kernel would use to reach `dst`.
///
/// Connects a UDP socket (no packet is sent by `connect` on a datagram
/// socket) and reads back its local address. Fails with the kernel's error
/// (e.g. `ENETUNREACH`) when there is no route.
pub fn source_for(dst: IpAddr) -> io::Result<IpAddr> {
    let bind: SocketAddr = match dst {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(bind)?;
    // Any non-zero port: the port plays no part in the route choice.
    sock.connect((dst, 9))?;
    Ok(sock.local_addr()?.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_sources() {
        assert_eq!(
            source_for(IpAddr::V4(Ipv4Addr::LOCALHOST)).unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(
            source_for(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9))).unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
    }
}
