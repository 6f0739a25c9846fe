//! Service and version detection: what runs behind an open port.
//!
//! This crate is sans-IO. [`probes`] reads a probe file in nmap's grammar
//! (`nmap-service-probes`, or vigie's own database written in the same
//! grammar) into [`probes::ProbeDb`]: every directive, every escape, each
//! mistake one error with its line number. [`template`] reads the version
//! fields' templates (`$1`, `$P(2)`, `$SUBST(1,"_",".")`, `$I(1,">")`).
//! [`matcher`] compiles a file's match lines (PCRE2, nmap's limits) and
//! matches responses through a literal index, nmap's order and rules.
//! [`tlshello`] writes a TLS ClientHello and reads the clear-text start of
//! a TLS ≤ 1.2 server's answer (version, cipher suite, certificates).

pub mod builtin;
pub mod detect;
pub mod matcher;
pub mod probes;
pub mod template;
pub mod tlshello;

pub use matcher::{Found, Matcher, PatternError};
pub use probes::{Match, ParseError, Probe, ProbeDb, Proto};
pub use template::{Part, Template};
