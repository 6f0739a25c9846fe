//! Recording a scan while it runs, off the scan's own threads.
//!
//! The scan hands each finished host to [`Recorder::host_at`] (with its
//! place in the output order: hosts may come in any order, some before
//! their report window) or [`Recorder::host`] (the next place); they go to a
//! writer thread in chunks of [`CHUNK`] hosts or [`CHUNK_PORTS`] port
//! results, or fewer when the scan calls [`Recorder::flush`] (the end of a
//! report window), over a bounded channel (no whole-scan buffer). One
//! hand-off per host would cost the scan a thread wake-up per host: a /16
//! sweep's 65,536 hosts made some 30,000 context switches. A host of many
//! ports goes at once, shared with the outputs (`Arc`): given before they
//! write it, it is written while they do. The writer gathers what arrives
//! within 50 ms of a first chunk, at most [`BATCH`] hosts or
//! [`BATCH_PORTS`] port results, and writes it in one transaction.
//! A store
//! that fails mid-scan does not stop the scan: the error comes back from
//! [`Recorder::finish`]. A recorder dropped without `finish` (the scan
//! failed) writes what it has and marks the scan interrupted.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use vigie_report::{HostReport, RunStats};

use crate::{RunMeta, RunStatus, Store, StoreError};

/// The most hosts one transaction writes.
pub const BATCH: usize = 4096;

/// How long a transaction waits for more hosts after its first.
const GATHER: Duration = Duration::from_millis(50);

/// The most port results one transaction waits for: a batch that holds
/// them (a `-p-` host alone) is written at once.
pub const BATCH_PORTS: usize = 32_768;

/// The most hosts handed to the writer at once.
pub const CHUNK: usize = 512;

/// The most port results kept from the writer: a host of many ports goes
/// to it at once, so that it is written while the scan writes its outputs.
pub const CHUNK_PORTS: usize = 8_192;

/// How many chunks may wait for the writer before the scan waits for it
/// (with the one being filled: at most 2 × [`BATCH`] + [`CHUNK`] hosts).
const QUEUE: usize = 2 * BATCH / CHUNK;

/// Hosts with their `seq`, shared with the outputs that write them too.
type Hosts = Vec<(i64, Arc<HostReport>)>;

enum Msg {
    Hosts(Hosts),
    Finish(RunStats, RunStatus),
}

/// A scan being recorded.
pub struct Recorder {
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<Result<(), StoreError>>>,
    id: i64,
    /// Hosts not yet handed to the writer, with their `seq`.
    pending: Hosts,
    /// Their port results.
    pending_ports: usize,
    /// The `seq` [`Recorder::host`] gives next.
    next: i64,
}

impl Recorder {
    /// Record the scan `meta` describes in `store` (its row is written before
    /// this returns: a store that cannot take it fails here, before the scan).
    pub fn start(mut store: Box<dyn Store>, meta: &RunMeta) -> Result<Recorder, StoreError> {
        let id = store.begin_run(meta)?;
        let (tx, rx) = sync_channel(QUEUE);
        let start = meta.info.start;
        let thread = std::thread::Builder::new()
            .name("vigie-history".into())
            .spawn(move || write_loop(store, id, start, rx))
            .map_err(|e| StoreError::Open {
                what: "history".into(),
                why: format!("cannot start its writer: {e}"),
            })?;
        Ok(Recorder {
            tx: Some(tx),
            thread: Some(thread),
            id,
            pending: Vec::with_capacity(CHUNK),
            pending_ports: 0,
            next: 0,
        })
    }

    /// The scan's id in the store.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// One finished host, placed after the last one given. Never fails: a
    /// store error is kept for `finish`.
    pub fn host(&mut self, host: impl Into<Arc<HostReport>>) {
        self.host_at(self.next, host);
    }

    /// One finished host at place `seq` of the output order (unique in the
    /// scan; `history show` lists hosts by it). A host of many ports goes
    /// to the writer at once: given before the outputs write it, it is
    /// written meanwhile.
    pub fn host_at(&mut self, seq: i64, host: impl Into<Arc<HostReport>>) {
        self.push(seq, host.into());
        if self.due() {
            self.flush();
        }
    }

    /// Like [`Recorder::host_at`], but only when the writer can take the
    /// host's chunk without waiting: `false` (the host dropped, to be given
    /// again) when its queue is full. For a scan that must not block (its
    /// probes wait).
    pub fn try_host_at(&mut self, seq: i64, host: impl Into<Arc<HostReport>>) -> bool {
        let (next, host) = (self.next, host.into());
        self.push(seq, host);
        if self.due() && !self.try_flush() {
            if let Some((_, h)) = self.pending.pop() {
                self.pending_ports -= h.ports.len();
            }
            self.next = next;
            return false;
        }
        true
    }

    fn push(&mut self, seq: i64, host: Arc<HostReport>) {
        self.next = self.next.max(seq + 1);
        self.pending_ports += host.ports.len();
        self.pending.push((seq, host));
    }

    /// Whether the pending hosts make a chunk.
    fn due(&self) -> bool {
        self.pending.len() >= CHUNK || self.pending_ports >= CHUNK_PORTS
    }

    /// Hand the pending hosts to the writer unless its queue is full
    /// (`false`: they are kept, for the next hand-off).
    pub fn try_flush(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let Some(tx) = &self.tx else { return true };
        let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        match tx.try_send(Msg::Hosts(chunk)) {
            Err(TrySendError::Full(Msg::Hosts(chunk))) => {
                self.pending = chunk;
                false
            }
            // Taken, or the writer stopped on an error (kept for finish).
            _ => {
                self.pending_ports = 0;
                true
            }
        }
    }

    /// Hand the hosts given so far to the writer (the scan calls this when
    /// a burst of hosts ends, so that they are written without waiting for
    /// the next ones).
    pub fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        self.pending_ports = 0;
        if let Some(tx) = &self.tx {
            // A closed channel: the writer stopped on an error, kept for finish.
            let _ = tx.send(Msg::Hosts(chunk));
        }
    }

    /// The scan's end: every host written, the totals and status recorded.
    pub fn finish(mut self, stats: &RunStats, status: RunStatus) -> Result<i64, StoreError> {
        self.flush();
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Msg::Finish(*stats, status));
        }
        self.join()?;
        Ok(self.id)
    }

    fn join(&mut self) -> Result<(), StoreError> {
        self.flush();
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(StoreError::Open {
                what: "history".into(),
                why: "its writer stopped unexpectedly".into(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Add `h` to the batch, counting its port results in `ports`.
fn take(batch: &mut Hosts, ports: &mut usize, h: Hosts) {
    *ports += h.iter().map(|(_, h)| h.ports.len()).sum::<usize>();
    batch.extend(h);
}

fn write_loop(
    mut store: Box<dyn Store>,
    id: i64,
    start: SystemTime,
    rx: Receiver<Msg>,
) -> Result<(), StoreError> {
    // The service table the rows are checked against is built now, while
    // the scan runs, not when its hosts arrive.
    crate::rows::warm_up();
    // Upkeep that cannot be done now (another scan holds the log) is left
    // to the next scan or reader; the hosts are what must land.
    let _ = store.upkeep();
    let mut batch: Hosts = Vec::with_capacity(BATCH);
    // The batch's port results.
    let mut ports = 0;
    let (mut up, mut seen) = (0u64, 0u64);
    loop {
        let mut end = None;
        match rx.recv() {
            Ok(Msg::Hosts(h)) => take(&mut batch, &mut ports, h),
            Ok(Msg::Finish(s, st)) => end = Some((s, st)),
            Err(_) => end = None,
        }
        let mut closed = end.is_none() && batch.is_empty();
        // Most hosts come in a burst when a block ends, some in small
        // chunks: a transaction takes what arrives within GATHER of its
        // first chunk (or BATCH hosts, or BATCH_PORTS port results), not
        // one chunk each.
        let deadline = Instant::now() + GATHER;
        while end.is_none() && !closed && batch.len() < BATCH && ports < BATCH_PORTS {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Msg::Hosts(h)) => take(&mut batch, &mut ports, h),
                Ok(Msg::Finish(s, st)) => end = Some((s, st)),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => closed = true,
            }
        }
        if !batch.is_empty() {
            up += batch.iter().filter(|(_, h)| h.status.up).count() as u64;
            seen += batch.len() as u64;
            let hosts: Vec<(i64, &HostReport)> = batch.iter().map(|(s, h)| (*s, &**h)).collect();
            store.add_hosts(id, &hosts)?;
            drop(hosts);
            batch.clear();
            ports = 0;
        }
        if let Some((stats, status)) = end {
            return store.finish_run(id, &stats, status);
        }
        if closed {
            // Dropped without finish: the scan failed part-way.
            let now = SystemTime::now();
            let stats = RunStats {
                end: now,
                elapsed: now.duration_since(start).unwrap_or_default(),
                hosts_up: up,
                hosts_down: seen - up,
                hosts_total: seen,
            };
            return store.finish_run(id, &stats, RunStatus::Interrupted);
        }
    }
}
