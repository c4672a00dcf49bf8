//! The sending side of a connection: one writer task per connection, so reply lines never
//! interleave, fed through a queue bounded in lines and in bytes.
//!
//! The bound is what turns a client that stops reading into backpressure: once its replies
//! fill the queue, the request tasks wait in [`Out::send`], the connection stops taking new
//! requests (see `connection`), and capd's memory stays flat. A write that makes no progress
//! for the stall timeout ends the writer, which closes the connection.

use cap_proto::framing::encode;
use cap_proto::{Reply, Response};
use interprocess::local_socket::tokio::Stream;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

/// Reply lines that may wait for the writer.
const QUEUE_LINES: usize = 256;
/// Reply bytes that may wait for the writer. One line larger than this (a big streamed event)
/// takes the whole budget, so it is still sent, alone.
const QUEUE_BYTES: usize = 4 * 1024 * 1024;

/// The sending side of a connection, shared by the request tasks.
#[derive(Clone)]
pub struct Out {
    tx: mpsc::Sender<Outgoing>,
    bytes: Arc<Semaphore>,
}

pub(super) enum Outgoing {
    /// A line and its share of the byte budget, returned once written.
    Line(Vec<u8>, OwnedSemaphorePermit),
    Flush(oneshot::Sender<()>),
    /// Write what came before, then stop: the connection is being closed.
    Close,
}

/// Why the writer stopped.
#[derive(Debug)]
pub(super) enum WriterEnd {
    /// Every sender is gone and everything queued was written.
    Drained,
    /// Asked to stop with [`Out::close`].
    Closed,
    /// The client went away (a write failed).
    Gone,
    /// A write made no progress for the stall timeout.
    Stalled(Duration),
}

impl Out {
    /// A connection's queue and the receiver its writer task drains.
    pub(super) fn channel() -> (Out, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(QUEUE_LINES);
        let bytes = Arc::new(Semaphore::new(QUEUE_BYTES));
        (Out { tx, bytes }, rx)
    }

    /// Queues a reply, waiting while the queue is full. False once the client has gone away.
    pub async fn send(&self, id: u64, reply: Reply) -> bool {
        let line = match encode(&Response { id, reply }) {
            Ok(line) => line,
            Err(e) => {
                tracing::error!("cannot encode a reply: {e}");
                return true;
            }
        };
        let cost = u32::try_from(line.len().clamp(1, QUEUE_BYTES)).unwrap_or(u32::MAX);
        let permit = tokio::select! {
            p = self.bytes.clone().acquire_many_owned(cost) => match p {
                Ok(p) => p,
                Err(_) => return false,
            },
            // The writer is gone: nothing will ever return the budget.
            _ = self.tx.closed() => return false,
        };
        self.tx.send(Outgoing::Line(line, permit)).await.is_ok()
    }

    /// Waits until everything queued so far has been written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Outgoing::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Asks the writer to stop after what is queued. False when it is gone or the queue is
    /// full (the caller then stops it harder).
    pub(super) fn close(&self) -> bool {
        self.tx.try_send(Outgoing::Close).is_ok()
    }

    /// Whether the client has gone away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// The writer task: writes queued lines in order until told to stop, every sender is gone,
/// the client goes away, or a write stalls.
pub(super) async fn write_replies(
    conn: Arc<Stream>,
    mut rx: mpsc::Receiver<Outgoing>,
    stall: Option<Duration>,
) -> WriterEnd {
    let mut w = &*conn;
    while let Some(item) = rx.recv().await {
        match item {
            Outgoing::Line(line, _budget) => {
                let mut at = 0;
                while at < line.len() {
                    let step = w.write(&line[at..]);
                    let written = match stall {
                        Some(limit) => match tokio::time::timeout(limit, step).await {
                            Ok(r) => r,
                            Err(_) => return WriterEnd::Stalled(limit),
                        },
                        None => step.await,
                    };
                    match written {
                        Ok(0) | Err(_) => return WriterEnd::Gone,
                        Ok(n) => at += n,
                    }
                }
            }
            Outgoing::Flush(done) => {
                let _ = w.flush().await;
                let _ = done.send(());
            }
            Outgoing::Close => return WriterEnd::Closed,
        }
    }
    WriterEnd::Drained
}
