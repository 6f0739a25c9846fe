//! Splits arbitrary bytes in two at the first NUL and reads each half as
//! `vigie diff` reads its inputs (vigie's or nmap's -oX, vigie's -oJ);
//! whatever two reports come back are compared and every writer runs. A
//! report compared with itself must show no change. Any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_report::{diff, read_report, write_diff_json_lines, write_diff_text, write_diff_xml};

fuzz_target!(|data: &[u8]| {
    let (a, b) = match data.iter().position(|&c| c == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let (Ok((_, ra)), Ok((_, rb))) = (read_report(a), read_report(b)) else {
        return;
    };
    assert!(diff(&ra, &ra).is_empty());
    let d = diff(&ra, &rb);
    for verbose in [false, true] {
        write_diff_text(&d, verbose, &mut Vec::new()).unwrap();
        write_diff_xml(&d, verbose, &mut Vec::new()).unwrap();
    }
    write_diff_json_lines(&d, ["a", "b"], &mut Vec::new()).unwrap();
});
