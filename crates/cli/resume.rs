//! Resume files (written on Ctrl-C, read by `--resume`) and `vigie merge`
//! (joins the JSON Lines outputs of shards into one report).

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufRead, Write};
use std::net::IpAddr;
use std::path::Path;

use serde_json::{json, Value};
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
    pub fn to_json(&self) -> String {
        let plans: Vec<Value> = self
            .plans
            .iter()
            .map(|(at, cells)| {
                let cells: Vec<[u64; 2]> =
                    cells.iter().map(|(v, c)| [*v, u64::from(c.0)]).collect();
                json!({ "resume_at": at, "cells": cells })
            })
            .collect();
        json!({ "vigie_resume": 1, "args": self.args, "seed": self.seed,
                "block": self.block, "block_hosts": self.block_hosts, "plans": plans })
        .to_string()
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

pub fn write_resume(path: &Path, state: &ResumeState) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, state.to_json())?;
    std::fs::rename(tmp, path)
}

/// `vigie merge FILE...`: JSON Lines outputs of shards of one scan → one
/// JSON Lines report on stdout. A host's ports are the union of its ports
/// in every file; it is up if any shard saw it up.
pub fn merge(files: &[String], out: &mut impl Write) -> Result<(), String> {
    if files.is_empty() {
        return Err("usage: vigie merge FILE.jsonl... (JSON Lines outputs of the shards)".into());
    }
    let mut run: Option<Value> = None;
    let mut hosts: BTreeMap<IpAddr, Value> = BTreeMap::new();
    for f in files {
        let file = std::fs::File::open(f).map_err(|e| format!("cannot read {f}: {e}"))?;
        for (n, line) in io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| format!("cannot read {f}: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&line)
                .map_err(|e| format!("{f}:{}: not JSON Lines output: {e}", n + 1))?;
            match v["type"].as_str() {
                Some("run") => {
                    run.get_or_insert(v);
                }
                Some("host") => {
                    merge_host(&mut hosts, v).map_err(|e| format!("{f}:{}: {e}", n + 1))?
                }
                Some("stats") => {}
                _ => return Err(format!("{f}:{}: not a vigie JSON Lines record", n + 1)),
            }
        }
    }
    let w = |out: &mut dyn Write, v: &Value| -> Result<(), String> {
        writeln!(out, "{v}").map_err(|e| format!("writing output: {e}"))
    };
    if let Some(r) = &run {
        w(out, r)?;
    }
    let up = hosts.values().filter(|h| h["status"] == "up").count();
    for h in hosts.values_mut() {
        if let Some(ports) = h["ports"].as_array_mut() {
            ports.sort_by_key(|p| (p["proto"].as_str().map(str::to_owned), p["port"].as_u64()));
        }
        w(out, h)?;
    }
    w(
        out,
        &json!({ "type": "stats", "hosts_up": up, "hosts_down": hosts.len() - up,
                 "hosts_total": hosts.len(), "merged_from": files.len() }),
    )
}

fn merge_host(hosts: &mut BTreeMap<IpAddr, Value>, v: Value) -> Result<(), String> {
    let addr: IpAddr = v["addr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .ok_or("host record without an address")?;
    let Some(have) = hosts.get_mut(&addr) else {
        hosts.insert(addr, v);
        return Ok(());
    };
    let theirs = v["ports"].as_array().cloned().unwrap_or_default();
    let ours = have["ports"]
        .as_array_mut()
        .ok_or("host record without ports")?;
    let key = |p: &Value| (p["proto"].as_str().map(str::to_owned), p["port"].as_u64());
    let mut seen: HashSet<_> = ours.iter().map(key).collect();
    for p in theirs {
        if seen.insert(key(&p)) {
            ours.push(p);
        }
    }
    if have["status"] != "up" && v["status"] == "up" {
        for k in ["status", "reason", "reason_ttl", "latency_us"] {
            have[k] = v[k].clone();
        }
    }
    Ok(())
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

    #[test]
    fn merge_joins_ports_and_status() {
        let dir = std::env::temp_dir().join(format!("vigie-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.jsonl");
        let b = dir.join("b.jsonl");
        std::fs::write(
            &a,
            concat!(
                r#"{"type":"run","args":"x"}"#, "\n",
                r#"{"type":"host","addr":"198.18.0.2","status":"down","reason":"no-response","ports":[{"proto":"tcp","port":80,"state":"filtered"}]}"#, "\n",
                r#"{"type":"stats"}"#, "\n"
            ),
        )
        .unwrap();
        std::fs::write(
            &b,
            concat!(
                r#"{"type":"host","addr":"198.18.0.2","status":"up","reason":"reset","ports":[{"proto":"tcp","port":22,"state":"open"}]}"#, "\n",
            ),
        )
        .unwrap();
        let mut out = Vec::new();
        let files = [a.display().to_string(), b.display().to_string()];
        merge(&files, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], r#"{"args":"x","type":"run"}"#);
        let h: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(h["status"], "up");
        assert_eq!(h["reason"], "reset");
        let ports: Vec<u64> = h["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["port"].as_u64().unwrap())
            .collect();
        assert_eq!(ports, vec![22, 80]);
        assert!(merge(&[], &mut Vec::new()).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
