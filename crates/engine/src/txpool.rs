//! Sending on two cores: the control thread and one transmit worker each
//! own a socket and hand whole batches to the kernel.
//!
//! At full speed almost all of a probe's cost is in the kernel (`sendmmsg`,
//! the device, and — on a veth — the receiving stack, run in the sender's
//! softirq), so one sending thread is bound to one core. With a worker, a
//! full batch goes to whichever of the two threads is free: the control
//! thread passes it to the worker when the worker's one-slot queue has room
//! and a spare batch is at hand, and sends it itself otherwise. Packets of
//! the two threads interleave on the wire, which a stateless scan does not
//! mind: every reply is matched by its keyed cookie, not by order.
//!
//! The worker is used only when it can help: unlimited or high rates, and
//! more than one CPU. Batches are recycled through a return channel, so
//! nothing is allocated per batch after start-up.

use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use vigie_netio::tx::TxBatch;
use vigie_netio::PacketTx;

/// Rates at or above this (packets per second) get a transmit worker; below
/// it one thread keeps up with room to spare.
pub(crate) const WORKER_MIN_RATE: f64 = 300_000.0;

/// Batches in circulation besides the one being filled: one queued for the
/// worker, one being sent by it, one spare.
const SPARES: usize = 3;

struct Worker {
    work: Option<SyncSender<TxBatch>>,
    empty: Receiver<TxBatch>,
    failed: Receiver<io::Error>,
    handle: Option<JoinHandle<()>>,
}

/// The sending side of a driver: its own sender, maybe a worker.
pub struct TxPool<S: PacketTx + 'static> {
    own: S,
    worker: Option<Worker>,
    spare: Vec<TxBatch>,
    /// Batches handed to the worker (for tests and `-d` output).
    pub(crate) offloaded: u64,
}

impl<S: PacketTx + 'static> TxPool<S> {
    /// A pool sending only on the calling thread.
    pub(crate) fn single(own: S) -> TxPool<S> {
        TxPool {
            own,
            worker: None,
            spare: Vec::new(),
            offloaded: 0,
        }
    }

    /// A pool with a transmit worker sending through `second` (a socket of
    /// its own); `capacity` is the batch size the caller fills.
    pub(crate) fn with_worker(own: S, second: S, capacity: usize) -> io::Result<TxPool<S>> {
        let (work_tx, work_rx) = mpsc::sync_channel::<TxBatch>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<TxBatch>();
        let (fail_tx, fail_rx) = mpsc::channel::<io::Error>();
        let mut sender = second;
        let handle = std::thread::Builder::new()
            .name("vigie-tx".into())
            .spawn(move || {
                for mut batch in work_rx {
                    if let Err(e) = sender.send_batch(&batch) {
                        let _ = fail_tx.send(e);
                        return;
                    }
                    batch.clear();
                    if empty_tx.send(batch).is_err() {
                        return;
                    }
                }
            })?;
        Ok(TxPool {
            own,
            worker: Some(Worker {
                work: Some(work_tx),
                empty: empty_rx,
                failed: fail_rx,
                handle: Some(handle),
            }),
            spare: (0..SPARES).map(|_| TxBatch::new(capacity)).collect(),
            offloaded: 0,
        })
    }

    /// Send the packets of `batch` (on this thread or the worker's) and
    /// leave `batch` empty, ready to be filled again.
    pub(crate) fn send(&mut self, batch: &mut TxBatch) -> io::Result<()> {
        if let Some(w) = &mut self.worker {
            if let Ok(e) = w.failed.try_recv() {
                return Err(e);
            }
            self.spare.extend(w.empty.try_iter());
            if let (Some(work), Some(mut fresh)) = (&w.work, self.spare.pop()) {
                fresh.clear();
                let full = std::mem::replace(batch, fresh);
                match work.try_send(full) {
                    Ok(()) => {
                        self.offloaded += 1;
                        return Ok(());
                    }
                    Err(TrySendError::Full(full) | TrySendError::Disconnected(full)) => {
                        // The worker is busy: take the batch back.
                        let fresh = std::mem::replace(batch, full);
                        self.spare.push(fresh);
                    }
                }
            }
        }
        self.own.send_batch(batch)?;
        batch.clear();
        Ok(())
    }

    /// Tell the worker that nothing more comes (it ends once it has sent
    /// what it has), without waiting for it.
    pub(crate) fn stop(&mut self) {
        if let Some(w) = &mut self.worker {
            drop(w.work.take());
        }
    }

    /// Whether the worker has ended (after [`TxPool::stop`]).
    pub(crate) fn stopped(&self) -> bool {
        self.worker
            .as_ref()
            .and_then(|w| w.handle.as_ref())
            .is_none_or(JoinHandle::is_finished)
    }

    /// Wait until the worker has sent everything handed to it.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        if let Some(w) = &mut self.worker {
            drop(w.work.take());
            if let Some(h) = w.handle.take() {
                h.join()
                    .map_err(|_| io::Error::other("the transmit thread panicked"))?;
            }
            if let Ok(e) = w.failed.try_recv() {
                return Err(e);
            }
        }
        Ok(())
    }
}

impl<S: PacketTx + 'static> Drop for TxPool<S> {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Whether a scan capped at `max_rate` should send on two threads
/// (`allowed`: the configuration permits a second transmit thread).
pub(crate) fn want_worker(max_rate: Option<f64>, allowed: bool) -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    allowed && cpus > 1 && max_rate.is_none_or(|r| r >= WORKER_MIN_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::sync::{Arc, Mutex};

    /// Records every packet it is given (first byte = a sequence number).
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u32>>>, bool);

    impl PacketTx for Sink {
        fn send_batch(&mut self, batch: &TxBatch) -> io::Result<usize> {
            if self.1 {
                return Err(io::Error::other("refused"));
            }
            let mut v = self.0.lock().unwrap();
            for (_, p) in batch.iter() {
                v.push(u32::from_be_bytes([p[0], p[1], p[2], p[3]]));
            }
            Ok(batch.len())
        }
    }

    fn fill(batch: &mut TxBatch, from: u32, n: u32) {
        for k in from..from + n {
            batch.push_with(IpAddr::from([198, 18, 0, 2]), |b| {
                b[..4].copy_from_slice(&k.to_be_bytes());
                4
            });
        }
    }

    #[test]
    fn every_packet_goes_out_exactly_once_with_a_worker() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut pool = TxPool::with_worker(
            Sink(Arc::clone(&seen), false),
            Sink(Arc::clone(&seen), false),
            16,
        )
        .unwrap();
        let mut batch = TxBatch::new(16);
        for b in 0..1000u32 {
            fill(&mut batch, b * 16, 16);
            pool.send(&mut batch).unwrap();
            assert!(batch.is_empty());
        }
        pool.finish().unwrap();
        let mut v = seen.lock().unwrap().clone();
        v.sort_unstable();
        assert_eq!(v, (0..16_000).collect::<Vec<_>>());
    }

    #[test]
    fn single_thread_pool_sends_in_order() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut pool = TxPool::single(Sink(Arc::clone(&seen), false));
        let mut batch = TxBatch::new(8);
        fill(&mut batch, 0, 8);
        pool.send(&mut batch).unwrap();
        fill(&mut batch, 8, 3);
        pool.send(&mut batch).unwrap();
        assert_eq!(*seen.lock().unwrap(), (0..11).collect::<Vec<_>>());
        assert_eq!(pool.offloaded, 0);
    }

    #[test]
    fn a_worker_error_reaches_the_caller() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut pool = TxPool::with_worker(
            Sink(Arc::clone(&seen), false),
            Sink(Arc::clone(&seen), true),
            4,
        )
        .unwrap();
        let mut batch = TxBatch::new(4);
        let mut failed = false;
        for b in 0..200u32 {
            fill(&mut batch, b * 4, 4);
            if pool.send(&mut batch).is_err() {
                failed = true;
                break;
            }
        }
        failed |= pool.finish().is_err();
        assert!(failed, "the worker's send error was lost");
    }
}
