//! Feeds arbitrary bytes to the probe-file parser and, line by line, to the
//! template parser and its filling-in. Any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_service::{ProbeDb, Template};

fuzz_target!(|data: &[u8]| {
    let _ = ProbeDb::parse(data);
    // As a file of probes with this text as a match line's fields.
    let mut text = b"Probe TCP NULL q||\nmatch x m|a(b)(c)| ".to_vec();
    text.extend_from_slice(data);
    let _ = ProbeDb::parse(&text);
    if let Ok(t) = Template::parse(data) {
        let _ = t.fill(&|g| (g % 2 == 1).then(|| data.get(..usize::from(g)).unwrap_or(data).to_vec()));
    }
});
