//! vigie's own service-probe database, built into the binary.
//!
//! `db/vigie-service-probes` is written in nmap's probe-file grammar (read
//! by [`crate::probes::ProbeDb::parse`]) but is vigie's own: every probe
//! and pattern was written from protocol specifications and from what real
//! daemons send, under the project's licence (MIT OR Apache-2.0). Nothing
//! of nmap's data files is in it.

/// The text of vigie's probe database.
pub const BUILTIN: &str = include_str!("../db/vigie-service-probes");
