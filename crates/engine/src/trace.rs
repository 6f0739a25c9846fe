//! `--packet-trace` and `-d`: a line per packet sent and received, per
//! connect attempt, and per decision of the engine worth telling.
//!
//! ```text
//! SENT (0.0123s) TCP 198.18.0.1:41234 > 198.18.0.2:80 S ttl=64 id=1234 iplen=44  seq=3456 win=1024 <mss 1460>
//! RCVD (0.0125s) TCP 198.18.0.2:80 > 198.18.0.1:41234 SA ttl=64 id=0 iplen=44  seq=77 win=64240 <mss 1460>
//! CONN (0.0100s) TCP localhost > 198.18.0.2:80 => Connected
//! ```
//!
//! The times count from the [`Trace`]'s creation. The engine holds an
//! `Option<Arc<Trace>>` ([`Env::trace`](crate::Env)): when it is `None`
//! nothing is formatted and nothing is locked, at the cost of one branch
//! per batch of packets. When it is set, a batch's lines are formatted
//! first and written with one lock and one write call; write errors (a
//! closed pipe) are ignored — the trace never stops a scan.

use std::fmt::{self, Write as _};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use vigie_netio::tx::TxBatch;
use vigie_wire::trace::{describe_frame, describe_ip};

/// `-d` level 1: the engine's decisions (blocks, plans, timeouts, rates).
pub const DEBUG: u8 = 1;
/// `-dd`: the chattier ones (every timeout change, every retransmission).
pub const DEBUG2: u8 = 2;

/// Where trace lines go and which ones are wanted.
pub struct Trace {
    start: Instant,
    out: Mutex<Box<dyn Write + Send>>,
    packets: bool,
    debug: u8,
    version: bool,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("packets", &self.packets)
            .field("debug", &self.debug)
            .finish_non_exhaustive()
    }
}

/// The direction of a traced packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Sent,
    Rcvd,
}

impl Dir {
    fn tag(self) -> &'static str {
        match self {
            Dir::Sent => "SENT",
            Dir::Rcvd => "RCVD",
        }
    }
}

impl Trace {
    /// A trace writing to `out`: packet lines when `packets`, debug lines
    /// up to level `debug` (0: none).
    pub fn new(out: Box<dyn Write + Send>, packets: bool, debug: u8) -> Trace {
        Trace {
            start: Instant::now(),
            out: Mutex::new(out),
            packets,
            debug,
            version: false,
        }
    }

    /// With `--version-trace`'s lines (service detection's probes,
    /// answers and results) when `on`; `-dd` shows them too.
    pub fn with_version(mut self, on: bool) -> Trace {
        self.version = on;
        self
    }

    /// Service detection's lines are wanted.
    pub fn versioning(&self) -> bool {
        self.version || self.debugging(DEBUG2)
    }

    /// Packet lines are wanted.
    pub fn packets(&self) -> bool {
        self.packets
    }

    /// Debug lines of `level` are wanted.
    pub fn debugging(&self, level: u8) -> bool {
        level > 0 && self.debug >= level
    }

    fn stamp(&self, buf: &mut String, tag: &str) {
        let t = self.start.elapsed().as_secs_f64();
        let _ = write!(buf, "{tag} ({t:.4}s) ");
    }

    /// Append one packet's line to `buf` (`frame`: it starts at its
    /// Ethernet header, else at its IP header).
    pub fn line(&self, buf: &mut String, dir: Dir, packet: &[u8], frame: bool) {
        self.stamp(buf, dir.tag());
        if frame {
            describe_frame(packet, buf);
        } else {
            describe_ip(packet, buf);
        }
        buf.push('\n');
    }

    /// Write lines formatted with [`line`](Self::line) (one lock, one write).
    pub fn write_lines(&self, lines: &str) {
        if lines.is_empty() {
            return;
        }
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(lines.as_bytes());
        let _ = out.flush();
    }

    fn packet(&self, dir: Dir, packet: &[u8], frame: bool) {
        if !self.packets {
            return;
        }
        let mut buf = String::with_capacity(128);
        self.line(&mut buf, dir, packet, frame);
        self.write_lines(&buf);
    }

    pub fn sent_ip(&self, packet: &[u8]) {
        self.packet(Dir::Sent, packet, false);
    }

    pub fn sent_frame(&self, frame: &[u8]) {
        self.packet(Dir::Sent, frame, true);
    }

    pub fn rcvd_ip(&self, packet: &[u8]) {
        self.packet(Dir::Rcvd, packet, false);
    }

    pub fn rcvd_frame(&self, frame: &[u8]) {
        self.packet(Dir::Rcvd, frame, true);
    }

    /// A SENT line for every packet of `batch` (`frames`: its entries are
    /// Ethernet frames, else IP packets).
    pub fn sent_batch(&self, batch: &TxBatch, frames: bool) {
        if !self.packets || batch.is_empty() {
            return;
        }
        let mut buf = String::with_capacity(128 * batch.len());
        for (_, p) in batch.iter() {
            self.line(&mut buf, Dir::Sent, p, frames);
        }
        self.write_lines(&buf);
    }

    /// A connect attempt's step: `CONN (t) TCP localhost > addr:port => result`.
    pub fn conn(&self, target: SocketAddr, result: &str) {
        if !self.packets {
            return;
        }
        let mut buf = String::with_capacity(96);
        self.stamp(&mut buf, "CONN");
        let _ = match target {
            SocketAddr::V4(a) => write!(buf, "TCP localhost > {}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => write!(buf, "TCP localhost > {}:{}", a.ip(), a.port()),
        };
        let _ = writeln!(buf, " => {result}");
        self.write_lines(&buf);
    }

    /// A debug line of `level` (1: `-d`, 2: `-dd`), when wanted.
    pub fn debug(&self, level: u8, args: fmt::Arguments<'_>) {
        if self.debugging(level) {
            self.text(args);
        }
    }

    /// A `--version-trace` line (also shown at `-dd`).
    pub fn version(&self, args: fmt::Arguments<'_>) {
        if self.versioning() {
            self.text(args);
        }
    }

    fn text(&self, args: fmt::Arguments<'_>) {
        let mut buf = String::with_capacity(96);
        let _ = buf.write_fmt(args);
        buf.push('\n');
        self.write_lines(&buf);
    }
}

/// `trace_debug!(env.trace, 1, "block {b}")`: a debug line when a trace
/// wants that level; the arguments are not even formatted otherwise.
#[macro_export]
macro_rules! trace_debug {
    ($trace:expr, $level:expr, $($arg:tt)*) => {
        if let Some(t) = $trace.as_deref() {
            if t.debugging($level) {
                t.debug($level, format_args!($($arg)*));
            }
        }
    };
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    pub(crate) struct Shared(pub Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    #[test]
    fn lines_have_nmaps_prefixes() {
        let out = Shared::default();
        let t = Trace::new(Box::new(out.clone()), true, 1);
        let mut batch = TxBatch::new(2);
        let tpl = vigie_wire::TcpTemplate::new(
            "198.18.0.1".parse().unwrap(),
            vigie_wire::TcpFlags::SYN,
            1024,
            Some(1460),
            64,
        );
        let dst = "198.18.0.2".parse().unwrap();
        batch.push_with(dst, |b| tpl.stamp(b, dst, 40000, 80, 1, 0, 7));
        t.sent_batch(&batch, false);
        t.conn("198.18.0.2:80".parse().unwrap(), "Connected");
        t.conn("[fd00::2]:22".parse().unwrap(), "Connection refused");
        t.debug(1, format_args!("block {}", 1));
        t.debug(2, format_args!("not shown"));
        let text = out.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("SENT (0.0"), "{text}");
        assert!(lines[0].ends_with(
            "s) TCP 198.18.0.1:40000 > 198.18.0.2:80 S ttl=64 id=7 iplen=44  seq=1 win=1024 <mss 1460>"
        ));
        assert!(lines[1].ends_with("s) TCP localhost > 198.18.0.2:80 => Connected"));
        assert!(lines[2].ends_with("s) TCP localhost > fd00::2:22 => Connection refused"));
        assert_eq!(lines[3], "block 1");
    }

    #[test]
    fn packet_lines_only_when_asked() {
        let out = Shared::default();
        let t = Trace::new(Box::new(out.clone()), false, 2);
        t.sent_ip(&[0x45; 40]);
        t.conn("198.18.0.2:80".parse().unwrap(), "Connected");
        let tr = Some(Arc::new(t));
        trace_debug!(tr, 2, "timeout {} ms", 5);
        assert_eq!(out.text(), "timeout 5 ms\n");
    }
}
