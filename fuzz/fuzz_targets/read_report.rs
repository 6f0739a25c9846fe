//! Feeds arbitrary bytes to the readers `vigie merge` and `vigie diff` use:
//! XML (`-oX`, vigie's or nmap's), JSON Lines (`-oJ`) and the sniffing
//! dispatcher.
//! Whatever they accept must merge and write again; whatever they refuse,
//! they refuse in one line (`vigie merge` prints it). Any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigie_report::{
    merge, read_json_lines, read_report, read_xml, write_report, JsonLinesWriter, Options,
    XmlWriter,
};

fuzz_target!(|data: &[u8]| {
    let _ = read_xml(data);
    let _ = read_json_lines(data);
    match read_report(data) {
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        Ok((_, report)) => {
            let two = vec![("a".to_string(), report.clone()), ("b".to_string(), report)];
            if let Ok(m) = merge(two) {
                let mut x = XmlWriter::new(Vec::new(), Options::default());
                write_report(&m, &mut x).unwrap();
                let mut j = JsonLinesWriter::new(Vec::new());
                write_report(&m, &mut j).unwrap();
            }
        }
    }
});
