//! The receive thread every raw driver runs: read the AF_PACKET ring,
//! decode each packet, and hand what decodes to the control thread in
//! batches (one channel send per ring poll, never per packet).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use vigie_netio::rx::Receiver;

/// How long the receive thread blocks in one poll.
const RX_POLL: Duration = Duration::from_millis(5);
/// After `stop` is set, how long to keep reading replies already in flight.
const DRAIN: Duration = Duration::from_millis(20);

/// Spawn the receive thread. `decode` turns one L3 packet into a verdict
/// (`None`: not ours, or says nothing). Returns when `stop` has been set for
/// [`DRAIN`], when the ring fails, or when the control thread is gone.
pub(crate) fn spawn<V, D>(
    name: &str,
    mut rx: Receiver,
    mut decode: D,
    out: mpsc::Sender<Vec<V>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>>
where
    V: Send + 'static,
    D: FnMut(&[u8]) -> Option<V> + Send + 'static,
{
    thread::Builder::new().name(name.into()).spawn(move || {
        let mut batch = Vec::new();
        let mut stopping: Option<Instant> = None;
        loop {
            let res = rx.poll(RX_POLL, |pkt| batch.extend(decode(pkt)));
            if !batch.is_empty() && out.send(std::mem::take(&mut batch)).is_err() {
                return;
            }
            if res.is_err() {
                return;
            }
            if stop.load(Ordering::Acquire)
                && stopping.get_or_insert_with(Instant::now).elapsed() >= DRAIN
            {
                return;
            }
        }
    })
}
