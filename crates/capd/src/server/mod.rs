//! The socket server: the single-instance guard ([`claim`]), binding, and the accept loop.
//! Each connection is served by `connection`; replies go out through [`Out`].
//!
//! The accept loop is where capd meets resource exhaustion: it caps open connections
//! (refusing extra clients with an error line rather than letting them pile up), and when
//! `accept` fails with the process or system out of file descriptors it pauses, doubling the
//! pause up to a second, with one log line per pause. Without the pause the listener stays
//! readable and the loop would spin at full CPU writing a log line per spin.

pub mod activation;
mod claim;
mod connection;
pub mod limits;
mod out;

pub use claim::{Guard, claim, claim_inherited};
pub use limits::Limits;
pub use out::Out;

use crate::daemon::Daemon;
use anyhow::Context;
use cap_proto::framing::{LineDecoder, encode, parse_request};
use cap_proto::{ErrorCode, MAX_LINE, Reply, Response};
use interprocess::local_socket::tokio::{Listener, Stream, prelude::*};
use interprocess::local_socket::{GenericFilePath, ListenerOptions};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// First pause after a failed accept; it doubles up to [`ACCEPT_PAUSE_MAX`].
const ACCEPT_PAUSE_MIN: Duration = Duration::from_millis(100);
const ACCEPT_PAUSE_MAX: Duration = Duration::from_secs(1);
/// Refused clients being told why at once; beyond this they are just closed.
const MAX_REFUSING: usize = 64;
/// How long a refused client gets to send its `hello`, so the refusal can answer its id.
const REFUSE_WAIT: Duration = Duration::from_secs(1);
/// At most one log line per this period about refused connections.
const REFUSE_LOG_EVERY: Duration = Duration::from_secs(10);

/// Binds the socket with mode 0600 set before `listen`, so no other user can ever connect.
pub fn listen(socket: &Path) -> anyhow::Result<Listener> {
    let name = socket
        .to_fs_name::<GenericFilePath>()
        .with_context(|| format!("invalid socket path {}", socket.display()))?;
    ListenerOptions::new()
        .name(name)
        .mode(0o600)
        .reclaim_name(true)
        .create_tokio()
        .with_context(|| format!("cannot listen on {}", socket.display()))
}

/// Accepts connections until shutdown is requested, with the limits from the environment.
pub async fn serve(daemon: Arc<Daemon>, listener: Listener) {
    let limits = Arc::new(Limits::from_env());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let mut stop = daemon.shutdown.subscribe();
    let mut pause = ACCEPT_PAUSE_MIN;
    let mut failures = 0u64;
    let mut refused = Refusals::default();
    loop {
        let accepted = tokio::select! {
            conn = listener.accept() => conn,
            _ = stop.wait_for(|s| *s) => break,
        };
        match accepted {
            Ok(conn) => {
                if failures > 0 {
                    tracing::info!("accepting connections again after {failures} failed accepts");
                    (failures, pause) = (0, ACCEPT_PAUSE_MIN);
                }
                match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let (d, l) = (daemon.clone(), limits.clone());
                        tokio::spawn(connection::serve(d, conn, l, slot));
                    }
                    Err(_) => {
                        refused.note(limits.max_connections);
                        // Past MAX_REFUSING concurrent refusals the client is simply closed.
                        if let Ok(permit) = refusing.clone().try_acquire_owned() {
                            let max = limits.max_connections;
                            tokio::spawn(async move {
                                refuse(conn, max).await;
                                drop(permit);
                            });
                        }
                    }
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(
                    "cannot accept a connection: {e}{}; pausing accepts for {} ms",
                    if is_fd_exhaustion(&e) {
                        " (capd is at its open-file limit, `ulimit -n`, or the system's)"
                    } else {
                        ""
                    },
                    pause.as_millis()
                );
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
                pause = (pause * 2).min(ACCEPT_PAUSE_MAX);
            }
        }
    }
}

fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)
    )
}

/// Counts refused connections and logs them at most once per [`REFUSE_LOG_EVERY`].
#[derive(Default)]
struct Refusals {
    last_log: Option<Instant>,
    since_log: u64,
}

impl Refusals {
    fn note(&mut self, max: usize) {
        self.since_log += 1;
        if self
            .last_log
            .is_some_and(|at| at.elapsed() < REFUSE_LOG_EVERY)
        {
            return;
        }
        tracing::warn!(
            "refused {} connection(s): {max} are open, the limit (CAP_MAX_CONNECTIONS)",
            self.since_log
        );
        (self.last_log, self.since_log) = (Some(Instant::now()), 0);
    }
}

/// Tells a client over the connection cap why it is turned away. It waits briefly for the
/// client's first request so the error carries that request's id (a client matches replies
/// by id, and its first request is its `hello`), then closes.
async fn refuse(conn: Stream, max: usize) {
    let mut id = 0;
    let mut decoder = LineDecoder::new(MAX_LINE);
    let mut buf = vec![0u8; 4096];
    let first = tokio::time::timeout(REFUSE_WAIT, async {
        loop {
            match (&conn).read(&mut buf).await {
                Ok(0) | Err(_) => return decoder.finish(),
                Ok(n) => {
                    let mut rest = &buf[..n];
                    if let Some(line) = decoder.decode(&mut rest) {
                        return Some(line);
                    }
                }
            }
        }
    })
    .await;
    if let Ok(Some(Ok(line))) = first {
        id = match parse_request(&line) {
            Ok(req) => req.id,
            Err((id, _)) => id,
        };
    }
    let msg = format!(
        "capd is serving {max} connections, its limit; close idle clients and try again \
         (the limit is CAP_MAX_CONNECTIONS in capd's environment)"
    );
    let reply = Reply::error(ErrorCode::Limit, msg);
    if let Ok(line) = encode(&Response { id, reply }) {
        let _ = tokio::time::timeout(REFUSE_WAIT, (&conn).write_all(&line)).await;
    }
}
