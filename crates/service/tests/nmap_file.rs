//! The parser against nmap's own probe file, named explicitly (Debian's
//! copy, from the nmap package that .ci/run installs; nothing of it is in
//! the repository). Counted independently: the directives the file holds,
//! line by line, against what the parser read.

use vigie_service::{ProbeDb, Proto};

const NMAP_PROBES: &str = "/usr/share/nmap/nmap-service-probes";

fn count(text: &str, word: &str) -> usize {
    text.lines().filter(|l| l.starts_with(word)).count()
}

#[test]
fn reads_nmaps_probe_file() {
    let bytes = std::fs::read(NMAP_PROBES)
        .unwrap_or_else(|e| panic!("{NMAP_PROBES}: {e} (install nmap; .ci/run does)"));
    let db = ProbeDb::parse(&bytes).unwrap_or_else(|e| panic!("{NMAP_PROBES}: {e}"));
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(db.probes.len(), count(&text, "Probe "));
    let matches: Vec<_> = db.probes.iter().flat_map(|p| &p.matches).collect();
    assert_eq!(
        matches.iter().filter(|m| !m.soft).count(),
        count(&text, "match ")
    );
    assert_eq!(
        matches.iter().filter(|m| m.soft).count(),
        count(&text, "softmatch ")
    );
    assert!(db.probes.len() > 100, "{}", db.probes.len());

    // A few facts every nmap release has kept.
    let null = &db.probes[0];
    assert_eq!((null.proto, null.name.as_str()), (Proto::Tcp, "NULL"));
    assert!(null.payload.is_empty());
    let get = db
        .probes
        .iter()
        .find(|p| p.proto == Proto::Tcp && p.name == "GetRequest")
        .expect("GetRequest");
    assert!(get.payload.starts_with(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(get.ports.contains(80));
    assert!(db.exclude.tcp.contains(9100));
    assert!(matches
        .iter()
        .any(|m| m.service == "ssh" && m.fields.product.is_some()));
    // Every line's template reads, and every CPE is kept.
    let cpes = matches.iter().map(|m| m.fields.cpe.len()).sum::<usize>();
    let written: usize = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.matches(" cpe:").count())
        .sum();
    assert_eq!(cpes, written);
}
