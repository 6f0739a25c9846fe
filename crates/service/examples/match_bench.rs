//! The matcher's cost on nmap's whole probe file (Debian's copy, named
//! explicitly; nothing of it is in the repository): build time, the
//! index's reach, and per response the time to test it against every line
//! of the file (`Matcher::matching_lines`, no early exit) and through its
//! probe's chain (`Matcher::match_response`, first hard match wins).
//! Each indexed answer is checked against running every regex.
//!
//! ```sh
//! cargo run --release -p vigie-service --example match_bench [FILE] [RUNS]
//! ```

use std::time::Instant;

use vigie_service::matcher::required;
use vigie_service::{Matcher, ProbeDb};

#[path = "common/responses.rs"]
mod common;

const NMAP_PROBES: &str = "/usr/share/nmap/nmap-service-probes";

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| NMAP_PROBES.to_string());
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(201);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let db = ProbeDb::parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));

    let all: Vec<_> = db.probes.iter().flat_map(|p| &p.matches).collect();
    let reqs: Vec<_> = all
        .iter()
        .map(|m| required(&m.pattern, m.case_insensitive))
        .collect();
    let prefixed = reqs.iter().filter(|r| !r.prefix.is_empty()).count();
    let inner = reqs.iter().filter(|r| r.inner.len() >= 3).count();
    let neither = reqs
        .iter()
        .filter(|r| r.prefix.is_empty() && r.inner.len() < 3)
        .count();
    println!(
        "{path}: {} lines; {prefixed} with a literal prefix, {inner} with an inner literal, {neither} with neither",
        all.len()
    );

    let t = Instant::now();
    let m = Matcher::new(&db).expect("matcher");
    println!(
        "Matcher::new: {:.0} ms, {}/{} compiled, {} skipped",
        t.elapsed().as_secs_f64() * 1e3,
        m.compiled(),
        all.len(),
        m.skipped().len()
    );
    for e in m.skipped().iter().take(5) {
        println!("  {e}");
    }

    let mut whole = Vec::new();
    let mut chained = Vec::new();
    println!(
        "\n{:14} {:>10} {:>10} {:>10}  result",
        "response", "file µs", "chain µs", "no index"
    );
    for (name, probe, r) in common::responses() {
        let pi = db
            .probes
            .iter()
            .position(|p| p.name == probe)
            .expect("probe");
        let indexed = m.matching_lines(r.as_slice());
        let t = Instant::now();
        let unindexed = m.matching_lines_unindexed(&r);
        let naive = t.elapsed().as_secs_f64() * 1e6;
        assert_eq!(indexed, unindexed, "{name}: the index lost a line");
        let mut w = Vec::with_capacity(runs);
        let mut c = Vec::with_capacity(runs);
        let mut found = None;
        for _ in 0..runs {
            let t = Instant::now();
            std::hint::black_box(m.matching_lines(&r));
            w.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            found = std::hint::black_box(m.match_response(pi, &r));
            c.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let show = found.map_or("-".to_string(), |f| {
            format!(
                "{}{} {} {} (line {})",
                f.service,
                if f.soft { " (soft)" } else { "" },
                f.product.unwrap_or_default(),
                f.version.unwrap_or_default(),
                f.line
            )
        });
        println!(
            "{name:14} {:10.1} {:10.1} {naive:10.0}  {} lines match; {probe}: {show}",
            quantile(&mut w.clone(), 0.5),
            quantile(&mut c.clone(), 0.5),
            indexed.len(),
        );
        whole.extend(w);
        chained.extend(c);
    }
    println!(
        "\nwhole file, every (response, run): median {:.1} µs, p90 {:.1} µs, max {:.1} µs",
        quantile(&mut whole, 0.5),
        quantile(&mut whole, 0.9),
        quantile(&mut whole, 1.0)
    );
    println!(
        "probe chain, every (response, run): median {:.1} µs, p90 {:.1} µs, max {:.1} µs",
        quantile(&mut chained, 0.5),
        quantile(&mut chained, 0.9),
        quantile(&mut chained, 1.0)
    );
}
