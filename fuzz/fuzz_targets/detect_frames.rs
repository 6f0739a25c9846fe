//! Feeds arbitrary frames to the scan detector: each chunk of the input is
//! one frame with its own link type, direction and time step, so state
//! built by earlier frames (flows, ISNs, fragments, groups) meets later
//! ones. Any panic is a bug; memory must stay bounded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use vigie_detect::{Config, Detector, Dir, Frame, Link};

fuzz_target!(|data: &[u8]| {
    let mut det = Detector::new(Config {
        max_sources: 64,
        quiet: Duration::from_secs(5),
        ..Config::default()
    });
    let mut now = Duration::ZERO;
    let mut rest = data;
    // Each frame: [flags, step, len_hi, len_lo, bytes...].
    while rest.len() >= 4 {
        let (flags, step) = (rest[0], rest[1]);
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let body = &rest[4..];
        let len = len.min(body.len());
        let (bytes, tail) = body.split_at(len);
        rest = tail;
        now += match flags >> 6 {
            0 => Duration::from_micros(u64::from(step)),
            1 => Duration::from_millis(u64::from(step)),
            2 => Duration::from_secs(u64::from(step)),
            _ => Duration::from_secs(u64::from(step) * 60),
        };
        let link = if flags & 1 == 0 { Link::Ip } else { Link::Ethernet };
        let dir = if flags & 2 == 0 { Dir::In } else { Dir::Out };
        det.handle_frame(now, Frame { link, dir, bytes });
        while let Some(a) = det.poll_alert() {
            let _ = a.human();
            let _ = a.json(std::time::SystemTime::UNIX_EPOCH + now);
        }
    }
    assert!(det.memory_estimate() < 64 << 20);
});
