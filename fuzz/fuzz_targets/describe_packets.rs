//! Feeds arbitrary bytes to the `--packet-trace` formatter, as an L3
//! packet and as an Ethernet frame. Any panic is a bug; every line is
//! one line (no newline inside) and not empty.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_wire::trace::{describe_frame, describe_ip};

fuzz_target!(|data: &[u8]| {
    let mut s = String::new();
    describe_ip(data, &mut s);
    assert!(!s.is_empty() && !s.contains('\n'));
    s.clear();
    describe_frame(data, &mut s);
    assert!(!s.is_empty() && !s.contains('\n'));
});
