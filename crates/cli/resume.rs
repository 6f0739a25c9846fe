//! Resume files (written on Ctrl-C, read by `--resume`).

use std::io;
use std::path::Path;

use serde_json::Value;
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

    pub fn from_json(text: &str) -> Result<ResumeState, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not a resume file: {e}"))?;
        if v["vigie_resume"] != 1 {
            return Err("not a vigie resume file (version 1)".into());
        }
        let args = v["args"]
            .as_array()
            .ok_or("resume file: no args")?
            .iter()
            .map(|a| a.as_str().map(str::to_owned).ok_or("resume file: bad args"))
            .collect::<Result<Vec<_>, _>>()?;
        let seed = v["seed"].as_u64().ok_or("resume file: no seed")?;
        let block = match &v["block"] {
            Value::Null => 0,
            b => b.as_u64().ok_or("resume file: bad block")?,
        };
        let block_hosts = match &v["block_hosts"] {
            Value::Null => None,
            b => Some(
                b.as_u64()
                    .filter(|&n| n > 0)
                    .ok_or("resume file: bad block_hosts")?,
            ),
        };
        let mut plans = Vec::new();
        for p in v["plans"].as_array().ok_or("resume file: no plans")? {
            let at = p["resume_at"].as_u64();
            let mut cells = Vec::new();
            for c in p["cells"].as_array().ok_or("resume file: no cells")? {
                let (Some(value), Some(cell)) = (c[0].as_u64(), c[1].as_u64()) else {
                    return Err("resume file: bad cell".into());
                };
                let cell = u16::try_from(cell).map_err(|_| "resume file: bad cell")?;
                cells.push((value, Cell(cell)));
            }
            plans.push((at, cells));
        }
        Ok(ResumeState {
            args,
            seed,
            block,
            block_hosts,
            plans,
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
        assert_eq!(ResumeState::from_json(&s.to_json()), Ok(s));
        assert!(ResumeState::from_json("{}").is_err());
        // Files from before host blocks: block 0, size as computed.
        let old = r#"{"vigie_resume":1,"args":["-p80"],"seed":5,"plans":[]}"#;
        let old = ResumeState::from_json(old).unwrap();
        assert_eq!((old.block, old.block_hosts), (0, None));
        let bad = r#"{"vigie_resume":1,"args":[],"seed":5,"block_hosts":0,"plans":[]}"#;
        assert!(ResumeState::from_json(bad).is_err());
        assert!(ResumeState::from_json("nope").is_err());
    }
}
