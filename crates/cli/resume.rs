//! Resume files (written on Ctrl-C, read by `--resume`).

use std::io;
use std::num::NonZeroU64;
use std::path::Path;

use serde::Deserialize;
use vigie_engine::Cell;

/// Where an interrupted scan writes its resume file.
pub const RESUME_FILE: &str = "vigie-resume.json";

/// What an interrupted run leaves behind: its arguments, its seed, the
/// host block it stopped in, and per plan (of that block) where to resume
/// plus every verdict known.
///
/// Blocks before `block` are finished and were reported by the interrupted
/// run; a resumed run scans and reports `block` and the ones after it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumeState {
    pub args: Vec<String>,
    pub seed: u64,
    /// The host block the plans below belong to (0 for one-block scans).
    pub block: u64,
    /// Hosts per block of the interrupted run (`None`: as the resumed run
    /// computes it; files written before blocks existed).
    pub block_hosts: Option<u64>,
    /// Per plan (in run order): resume index (`None` = finished) and cells.
    pub plans: Vec<PlanState>,
}

/// One plan of a resume file: where to resume (`None` = finished) and every
/// verdict known as (probe id, cell).
pub type PlanState = (Option<u64>, Vec<(u64, Cell)>);

/// The resume file as [`write_json`] writes it.
#[derive(Deserialize)]
struct ResumeFile {
    vigie_resume: u64,
    args: Vec<String>,
    seed: u64,
    /// Absent (or null) in files written before host blocks: block 0.
    #[serde(default)]
    block: Option<u64>,
    /// Absent (or null): as the resumed run computes it.
    #[serde(default)]
    block_hosts: Option<NonZeroU64>,
    plans: Vec<PlanFile>,
}

#[derive(Deserialize)]
struct PlanFile {
    /// null: the plan is finished.
    resume_at: Option<u64>,
    /// (probe id, cell).
    cells: Vec<(u64, u16)>,
}

impl ResumeState {
    #[cfg(test)]
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        write_json(
            &mut out,
            &self.args,
            self.seed,
            self.block,
            self.block_hosts,
            self.plans
                .iter()
                .map(|(at, cells)| (*at, cells.iter().copied())),
        )
        .expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// Read a resume file; a bad one is refused in one line.
    pub fn from_json(text: &str) -> Result<ResumeState, String> {
        let f: ResumeFile = serde_json::from_str(text)
            .map_err(|e| format!("not a vigie resume file (version 1): {e}"))?;
        if f.vigie_resume != 1 {
            return Err(format!(
                "not a vigie resume file (version 1): version {}",
                f.vigie_resume
            ));
        }
        Ok(ResumeState {
            args: f.args,
            seed: f.seed,
            block: f.block.unwrap_or(0),
            block_hosts: f.block_hosts.map(NonZeroU64::get),
            plans: f
                .plans
                .into_iter()
                .map(|p| {
                    let cells = p.cells.into_iter().map(|(v, c)| (v, Cell(c))).collect();
                    (p.resume_at, cells)
                })
                .collect(),
        })
    }
}

/// Write a resume file straight from the verdict iterators: nothing per
/// verdict is held in memory (a block's millions of verdicts would cost
/// hundreds of MB as JSON values).
pub fn write_resume_streamed<C: Iterator<Item = (u64, Cell)>>(
    path: &Path,
    args: &[String],
    seed: u64,
    block: u64,
    block_hosts: Option<u64>,
    plans: impl Iterator<Item = (Option<u64>, C)>,
) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut w = io::BufWriter::new(std::fs::File::create(&tmp)?);
    write_json(&mut w, args, seed, block, block_hosts, plans)?;
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(tmp, path)
}

/// The resume file's JSON, written piece by piece.
fn write_json<C: Iterator<Item = (u64, Cell)>>(
    w: &mut impl io::Write,
    args: &[String],
    seed: u64,
    block: u64,
    block_hosts: Option<u64>,
    plans: impl Iterator<Item = (Option<u64>, C)>,
) -> io::Result<()> {
    write!(w, "{{\"vigie_resume\":1,\"args\":")?;
    serde_json::to_writer(&mut *w, args)?;
    write!(w, ",\"seed\":{seed},\"block\":{block},\"block_hosts\":")?;
    match block_hosts {
        Some(n) => write!(w, "{n}")?,
        None => write!(w, "null")?,
    }
    write!(w, ",\"plans\":[")?;
    for (k, (at, cells)) in plans.enumerate() {
        if k > 0 {
            write!(w, ",")?;
        }
        match at {
            Some(a) => write!(w, "{{\"resume_at\":{a},\"cells\":[")?,
            None => write!(w, "{{\"resume_at\":null,\"cells\":[")?,
        }
        for (i, (v, c)) in cells.enumerate() {
            if i > 0 {
                write!(w, ",")?;
            }
            write!(w, "[{v},{}]", c.0)?;
        }
        write!(w, "]}}")?;
    }
    write!(w, "]}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_state_round_trips() {
        let s = ResumeState {
            args: vec!["-sS".into(), "-p-".into(), "198.18.0.2".into()],
            seed: 42,
            block: 3,
            block_hosts: Some(65),
            plans: vec![
                (Some(1234), vec![(7, Cell(0x2a40)), (9, Cell(1))]),
                (None, vec![]),
            ],
        };
        // the file format, byte for byte
        assert_eq!(
            s.to_json(),
            r#"{"vigie_resume":1,"args":["-sS","-p-","198.18.0.2"],"seed":42,"block":3,"block_hosts":65,"plans":[{"resume_at":1234,"cells":[[7,10816],[9,1]]},{"resume_at":null,"cells":[]}]}"#
        );
        assert_eq!(ResumeState::from_json(&s.to_json()), Ok(s));
        // Files from before host blocks: block 0, size as computed.
        let old = r#"{"vigie_resume":1,"args":["-p80"],"seed":5,"plans":[]}"#;
        let old = ResumeState::from_json(old).unwrap();
        assert_eq!((old.block, old.block_hosts), (0, None));
        let nulls = r#"{"vigie_resume":1,"args":[],"seed":5,"block":null,"block_hosts":null,"plans":[{"resume_at":null,"cells":[[1,2]]}]}"#;
        let nulls = ResumeState::from_json(nulls).unwrap();
        assert_eq!((nulls.block, nulls.block_hosts), (0, None));
        assert_eq!(nulls.plans, vec![(None, vec![(1, Cell(2))])]);
    }

    #[test]
    fn bad_resume_files_are_refused_in_one_line() {
        let refused = |text: &str| {
            let e = ResumeState::from_json(text).expect_err(text);
            assert!(
                e.starts_with("not a vigie resume file (version 1)") && !e.contains('\n'),
                "{text}: {e}"
            );
            e
        };
        refused("");
        refused("nope");
        refused("{}");
        refused("[1,2]");
        let ok = r#"{"vigie_resume":1,"args":["-p80"],"seed":5,"block":2,"block_hosts":4,"plans":[{"resume_at":7,"cells":[[1,2]]}]}"#;
        assert!(ResumeState::from_json(ok).is_ok());
        assert!(refused(&ok.replace(":1,\"args", ":2,\"args")).ends_with("version 2"));
        for (from, to) in [
            ("\"seed\":5", "\"seed\":-5"),
            ("\"seed\":5,", ""),
            ("[\"-p80\"]", "[80]"),
            ("\"block\":2", "\"block\":\"two\""),
            ("\"block_hosts\":4", "\"block_hosts\":0"),
            ("[[1,2]]", "[[1,70000]]"),
            ("[[1,2]]", "[[1]]"),
            ("[[1,2]]", "[[1,\"a\\nb\"]]"),
            ("\"cells\":[[1,2]]", "\"cells\":null"),
            ("}]}", "}]"),
        ] {
            assert!(ok.contains(from), "{from}");
            refused(&ok.replace(from, to));
        }
    }
}
