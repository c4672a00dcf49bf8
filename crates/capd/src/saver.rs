//! The saver: one actor that writes the state file, so no request ever waits on a save.
//!
//! Whoever changes the routing tables does so under the daemon's lock, bumps the tables'
//! generation, and sends the saver a notice with that generation ([`Saver::changed`]): a
//! channel send, nothing more. The saver takes the latest snapshot when it is ready to write
//! (a short lock: the records are copy-on-write, see [`crate::persist::records`]), serialises
//! and writes it on a blocking thread with no lock held, and then acknowledges every notice
//! whose generation that snapshot covers.
//!
//! - **At most one write in flight, at most one pending.** Notices that arrive during a write
//!   are coalesced: when it ends, one more write of the then-latest snapshot covers them all.
//! - **An acknowledgement means "on disk".** A notice's ack fires only after a write of a
//!   snapshot at least as new as its change has finished. Sessions wait for the acks of their
//!   `Up` changes before a turn's last event, and handlers before their reply, so a caller
//!   holding its answer can rely on the state file. A failed write is logged and acked too
//!   (the daemon runs on without a state file rather than hang its callers), and the next
//!   change writes again.
//! - **[`Saver::flush`]** writes whatever is not on disk yet; the daemon calls it last on
//!   shutdown, so `cap daemon stop` leaves the latest state behind.

use crate::persist::{self, records::Snapshot};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Where the saver gets the latest snapshot and its generation, under the daemon's lock;
/// `None` once the daemon is gone.
pub type Source = Box<dyn Fn() -> Option<(u64, Snapshot)> + Send + Sync>;

/// How a snapshot reaches the disk; runs on a blocking thread.
pub type Write = Arc<dyn Fn(&Snapshot) -> std::io::Result<()> + Send + Sync>;

/// The handle the daemon keeps; the actor ends when it is dropped.
pub struct Saver {
    tx: mpsc::UnboundedSender<Msg>,
}

enum Msg {
    /// The tables reached `generation`; `ack` fires once that is on disk.
    Changed {
        generation: u64,
        ack: Option<oneshot::Sender<()>>,
    },
    /// Answered once everything noticed so far is on disk.
    Flush(oneshot::Sender<()>),
}

/// A change on its way to disk: [`Saved::wait`] returns once it is written.
#[must_use = "a change is only known to be on disk once `wait` returns"]
pub struct Saved(Option<oneshot::Receiver<()>>);

impl Saved {
    /// Nothing to wait for: nothing persistent changed.
    pub fn nothing() -> Saved {
        Saved(None)
    }

    /// Waits until the change is on disk (or its write failed, which is logged). Returns at
    /// once if the saver is gone.
    pub async fn wait(self) {
        if let Some(rx) = self.0 {
            let _ = rx.await;
        }
    }
}

impl Saver {
    /// Starts the actor. Must run inside a tokio runtime.
    pub fn spawn(source: Source, write: Write) -> Saver {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, source, write));
        Saver { tx }
    }

    /// The tables reached `generation`. Cheap: call it under the daemon's lock, right after
    /// the change, so notices arrive in generation order.
    pub fn changed(&self, generation: u64) -> Saved {
        let (ack, rx) = oneshot::channel();
        self.changed_with(generation, ack);
        Saved(Some(rx))
    }

    /// [`Saver::changed`] with the caller's own acknowledgement channel (a session's `Up`).
    pub fn changed_with(&self, generation: u64, ack: oneshot::Sender<()>) {
        // A send fails only when the actor is gone (the daemon is being dropped): `ack` is
        // dropped with the message, which wakes its waiter.
        let _ = self.tx.send(Msg::Changed {
            generation,
            ack: Some(ack),
        });
    }

    /// The tables reached `generation`, and nobody waits for it.
    pub fn changed_quietly(&self, generation: u64) {
        let _ = self.tx.send(Msg::Changed {
            generation,
            ack: None,
        });
    }

    /// Returns once every change noticed before this call is on disk.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// What the actor has been told and has done.
#[derive(Default)]
struct Books {
    /// The newest generation noticed.
    wanted: u64,
    /// The generation of the last snapshot written (or attempted).
    written: u64,
    /// Acks waiting for their generation to be written, oldest first.
    waiters: Vec<(u64, oneshot::Sender<()>)>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Books {
    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Changed { generation, ack } => {
                self.wanted = self.wanted.max(generation);
                if let Some(ack) = ack {
                    self.waiters.push((generation, ack));
                }
            }
            Msg::Flush(done) => self.flushes.push(done),
        }
    }

    /// Acks everything the last write covered; flushes too once nothing is due.
    fn settle(&mut self) {
        let written = self.written;
        for (_, ack) in self.waiters.extract_if(.., |(g, _)| *g <= written) {
            let _ = ack.send(());
        }
        if self.wanted <= self.written {
            for done in self.flushes.drain(..) {
                let _ = done.send(());
            }
        }
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Msg>, source: Source, write: Write) {
    let mut books = Books::default();
    loop {
        books.settle();
        if books.wanted <= books.written {
            match rx.recv().await {
                Some(msg) => books.take(msg),
                None => return,
            }
        }
        // Everything that arrived meanwhile (during the last write, say) is covered by the
        // one write below: that is the coalescing.
        while let Ok(msg) = rx.try_recv() {
            books.take(msg);
        }
        if books.wanted <= books.written {
            continue;
        }
        let Some((generation, snapshot)) = source() else {
            return;
        };
        let w = write.clone();
        // The snapshot is dropped on the blocking thread too, with its share of the records.
        let written = tokio::task::spawn_blocking(move || w(&snapshot)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("cannot save the state file: {e}"),
            Err(e) => tracing::error!("saving the state file failed inside capd: {e}"),
        }
        // Even a failed write settles its waiters: they must not hang on a full disk. The
        // next change tries again.
        books.written = books.written.max(generation);
    }
}

/// The variable naming the test gate (see [`TestGate`]).
pub const TEST_GATE_ENV: &str = "CAP_TEST_SAVE_GATE";

/// The daemon's write: [`persist::save`] of the snapshot to `path` (temp file, fsync,
/// rename), behind the test gate when one is set.
pub fn state_writer(path: PathBuf) -> Write {
    let gate = TestGate::from_env();
    Arc::new(move |snapshot: &Snapshot| {
        if let Some(gate) = &gate {
            gate.pass();
        }
        let start = std::time::Instant::now();
        let result = persist::save(&path, snapshot);
        if result.is_ok() {
            tracing::debug!(
                keys = snapshot.records.len(),
                ms = start.elapsed().as_millis() as u64,
                "saved the state file"
            );
        }
        result.map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    })
}

/// For tests only: with `CAP_TEST_SAVE_GATE` naming a FIFO, every save first logs that it
/// waits and then reads one byte from it, so a test can hold a save in progress (and show
/// that the daemon answers meanwhile) and then let saves through by writing bytes. The FIFO
/// is opened read-write, so opening it never blocks and the test's writes never fail for want
/// of a reader.
struct TestGate {
    file: std::fs::File,
    path: PathBuf,
}

impl TestGate {
    fn from_env() -> Option<TestGate> {
        let path = PathBuf::from(std::env::var_os(TEST_GATE_ENV)?);
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(file) => Some(TestGate { file, path }),
            Err(e) => {
                tracing::warn!("{TEST_GATE_ENV}: cannot open {}: {e}", path.display());
                None
            }
        }
    }

    fn pass(&self) {
        use std::io::Read;
        tracing::info!(
            "state save waiting at the test gate {}",
            self.path.display()
        );
        let mut byte = [0u8; 1];
        let _ = (&self.file).read(&mut byte);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// A daemon stand-in: a generation counter, and a write that announces itself and then
    /// blocks until the test releases it.
    struct Rig {
        generation: Arc<AtomicU64>,
        /// Generations written, in order.
        writes: Arc<Mutex<Vec<u64>>>,
        /// Each write announces the generation it covers here once it has started.
        started: mpsc::UnboundedReceiver<u64>,
        release: std::sync::mpsc::Sender<()>,
        saver: Saver,
    }

    impl Rig {
        fn new() -> Rig {
            let generation = Arc::new(AtomicU64::new(0));
            let taken = Arc::new(AtomicU64::new(0));
            let writes = Arc::new(Mutex::new(Vec::new()));
            let (release, tokens) = std::sync::mpsc::channel::<()>();
            let tokens = Mutex::new(tokens);
            let (announce, started) = mpsc::unbounded_channel();
            let (g, t) = (generation.clone(), taken.clone());
            let source: Source = Box::new(move || {
                let generation = g.load(Ordering::SeqCst);
                t.store(generation, Ordering::SeqCst);
                Some((generation, Snapshot::default()))
            });
            let w = writes.clone();
            let write: Write = Arc::new(move |_snap: &Snapshot| {
                // One write at a time, so what the source last gave is this write's.
                let covered = taken.load(Ordering::SeqCst);
                let _ = announce.send(covered);
                let _ = tokens.lock().unwrap().recv();
                w.lock().unwrap().push(covered);
                Ok(())
            });
            Rig {
                generation,
                writes,
                started,
                release,
                saver: Saver::spawn(source, write),
            }
        }

        fn change(&self) -> Saved {
            let g = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
            self.saver.changed(g)
        }

        async fn started(&mut self) -> u64 {
            self.started.recv().await.unwrap()
        }

        fn writes(&self) -> Vec<u64> {
            self.writes.lock().unwrap().clone()
        }
    }

    /// Whether a `Saved` has resolved, without waiting.
    fn is_done(saved: &mut Saved) -> bool {
        match saved.0.as_mut() {
            None => true,
            Some(rx) => !matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
        }
    }

    #[tokio::test]
    async fn an_ack_fires_only_after_the_write_that_covers_it() {
        let mut rig = Rig::new();
        let mut first = rig.change();
        assert_eq!(rig.started().await, 1);
        let mut second = rig.change();
        assert!(!is_done(&mut first) && !is_done(&mut second));
        rig.release.send(()).unwrap();
        first.wait().await;
        assert_eq!(rig.writes(), [1]);
        assert!(
            !is_done(&mut second),
            "a change made after the snapshot was taken is not on disk yet"
        );
        assert_eq!(rig.started().await, 2);
        rig.release.send(()).unwrap();
        second.wait().await;
        assert_eq!(rig.writes(), [1, 2]);
    }

    #[tokio::test]
    async fn notices_during_a_write_coalesce_into_one_more_write() {
        let mut rig = Rig::new();
        let first = rig.change();
        assert_eq!(rig.started().await, 1);
        let during: Vec<Saved> = (0..50).map(|_| rig.change()).collect();
        rig.release.send(()).unwrap();
        first.wait().await;
        assert_eq!(rig.started().await, 51);
        rig.release.send(()).unwrap();
        for saved in during {
            saved.wait().await;
        }
        assert_eq!(
            rig.writes(),
            [1, 51],
            "one write in flight, one pending, no more"
        );
    }

    #[tokio::test]
    async fn flush_waits_for_the_pending_write_and_returns_at_once_when_idle() {
        let mut rig = Rig::new();
        rig.saver.flush().await;
        assert!(rig.writes().is_empty(), "nothing to write");
        let g = rig.generation.fetch_add(1, Ordering::SeqCst) + 1;
        rig.saver.changed_quietly(g);
        let flushed = rig.saver.flush();
        tokio::pin!(flushed);
        tokio::select! {
            _ = &mut flushed => panic!("flushed before the write"),
            started = rig.started.recv() => assert_eq!(started, Some(1)),
        }
        rig.release.send(()).unwrap();
        flushed.await;
        assert_eq!(rig.writes(), [1]);
    }

    #[tokio::test]
    async fn a_failed_write_still_settles_its_waiters() {
        let source: Source = Box::new(|| Some((1, Snapshot::default())));
        let write: Write = Arc::new(|_: &Snapshot| Err(std::io::Error::other("disk full")));
        let saver = Saver::spawn(source, write);
        saver.changed(1).wait().await;
        saver.flush().await;
    }
}
