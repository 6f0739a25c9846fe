//! Arbitrary bytes as a TLS server's first flight, fed to
//! `tlshello::ServerFlight` in chunks whose sizes the input's first bytes
//! choose. No panic; once done or failed, the answer never changes; what
//! is read stays within the bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_service::tlshello::{Progress, ServerFlight, MAX_CERT, MAX_CERTS, MAX_FLIGHT};

fuzz_target!(|data: &[u8]| {
    // The first byte: how many chunk sizes follow (each one byte, 0 meaning
    // the rest at once); then the flight.
    let (sizes, flight) = match data.split_first() {
        Some((&n, rest)) => rest.split_at(usize::from(n % 16).min(rest.len())),
        None => (&[][..], data),
    };
    let mut f = ServerFlight::new();
    let mut at = 0;
    let mut sizes = sizes.iter().cycle();
    let mut last = Progress::NeedMore;
    while at < flight.len() {
        let n = match sizes.next() {
            Some(&0) | None => flight.len() - at,
            Some(&n) => usize::from(n).min(flight.len() - at),
        };
        let p = f.feed(&flight[at..at + n]);
        if last != Progress::NeedMore {
            assert_eq!(p, last, "a finished flight changed its answer");
        }
        last = p;
        at += n;
    }
    if last == Progress::Done {
        assert!(f.hello().is_some());
    }
    assert!(f.certificates().len() <= MAX_CERTS);
    let total: usize = f.certificates().iter().map(Vec::len).sum();
    assert!(total <= MAX_FLIGHT);
    assert!(f.certificates().iter().all(|c| c.len() <= MAX_CERT));
    // The same bytes at once give the same answer.
    let mut whole = ServerFlight::new();
    if !flight.is_empty() {
        assert_eq!(whole.feed(flight), last);
        assert_eq!(whole.certificates(), f.certificates());
        assert_eq!(whole.hello(), f.hello());
    }
});
