//! Answers to the requests a driver sends outside a turn's own flow (a model switch, steering
//! input): the reader task sees the answer, the session actor waits for it. One mechanism for
//! every protocol: the driver registers the request's id, the reader settles it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// The agent's answer to one request: `Err` carries its error text.
pub type Ack = oneshot::Receiver<Result<(), String>>;

/// An answer that is already known (the request needs no reply, or is applied later).
pub fn done() -> Ack {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(Ok(()));
    rx
}

/// Where the reader sends one request's answer.
type Answer = oneshot::Sender<Result<(), String>>;

/// Requests waiting for their answer, by request id; shared by a driver and its reader.
pub struct Pending<K>(Arc<Mutex<HashMap<K, Answer>>>);

impl<K> Clone for Pending<K> {
    fn clone(&self) -> Self {
        Pending(self.0.clone())
    }
}

impl<K> Default for Pending<K> {
    fn default() -> Self {
        Pending(Arc::default())
    }
}

impl<K: Eq + Hash> Pending<K> {
    /// Registers request `id`; the returned [`Ack`] fires when the reader settles it.
    pub fn add(&self, id: K) -> Ack {
        let (tx, rx) = oneshot::channel();
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, tx);
        rx
    }

    /// Settles request `id` with the agent's answer; false when nothing waits for it.
    pub fn settle(&self, id: &K, result: Result<(), String>) -> bool {
        let waiting = self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        match waiting {
            Some(tx) => {
                let _ = tx.send(result);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_settled_request_fires_its_ack_once() {
        let p: Pending<u64> = Pending::default();
        let ack = p.add(7);
        assert!(!p.settle(&8, Ok(())));
        assert!(p.settle(&7, Err("no".into())));
        assert!(!p.settle(&7, Ok(())));
        assert_eq!(ack.await.unwrap(), Err("no".into()));
        assert_eq!(done().await.unwrap(), Ok(()));
    }
}
