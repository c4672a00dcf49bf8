//! The socket server: the single-instance guard ([`claim`]), permissions, the accept loop and
//! per-connection framing.
//!
//! Handshake: a client's first request must be `hello` with the protocol version; a mismatch
//! is answered with an error telling the user to restart the daemon, and the connection is
//! closed. After that every request runs in its own task, so a slow prompt never blocks a
//! `cancel` sent on the same connection, and replies go through one writer task per
//! connection so lines never interleave.

mod claim;

pub use claim::{Guard, claim};

use crate::daemon::Daemon;
use crate::handlers;
use anyhow::Context;
use cap_proto::framing::{LineDecoder, encode, parse_request};
use cap_proto::reply::HelloReply;
use cap_proto::request::Op;
use cap_proto::{ErrorBody, ErrorCode, MAX_LINE, PROTOCOL_VERSION, ProtoError, Reply, Response};
use interprocess::local_socket::tokio::{Listener, Stream, prelude::*};
use interprocess::local_socket::{GenericFilePath, ListenerOptions};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

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

/// Accepts connections until shutdown is requested.
pub async fn serve(daemon: Arc<Daemon>, listener: Listener) {
    let mut stop = daemon.shutdown.subscribe();
    loop {
        tokio::select! {
            conn = listener.accept() => match conn {
                Ok(conn) => { tokio::spawn(connection(daemon.clone(), conn)); }
                Err(e) => tracing::warn!("accept failed: {e}"),
            },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

/// The sending side of a connection, shared by the request tasks.
#[derive(Clone)]
pub struct Out {
    tx: mpsc::Sender<Outgoing>,
}

enum Outgoing {
    Line(Vec<u8>),
    Flush(oneshot::Sender<()>),
}

impl Out {
    /// Queues a reply. False once the client has gone away.
    pub async fn send(&self, id: u64, reply: Reply) -> bool {
        match encode(&Response { id, reply }) {
            Ok(line) => self.tx.send(Outgoing::Line(line)).await.is_ok(),
            Err(e) => {
                tracing::error!("cannot encode a reply: {e}");
                true
            }
        }
    }

    /// Waits until everything queued so far has been written.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Outgoing::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Whether the client has gone away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

async fn connection(daemon: Arc<Daemon>, conn: Stream) {
    if !same_user(&conn) {
        tracing::warn!("refused a connection from another user");
        return;
    }
    let conn = Arc::new(conn);
    let (tx, rx) = mpsc::channel(256);
    let out = Out { tx };
    let writer = tokio::spawn(write_replies(conn.clone(), rx));
    let mut reader = BufReader::new(&*conn);
    let mut buf = Vec::new();
    let mut greeted = false;
    loop {
        match read_line(&mut reader, &mut buf, MAX_LINE).await {
            Ok(false) => break,
            Ok(true) => {}
            Err(ProtoError::Io { .. }) => break,
            Err(e) => {
                out.send(0, Reply::error(ErrorCode::Protocol, e.to_string()))
                    .await;
                continue;
            }
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let req = match parse_request(&buf) {
            Ok(r) => r,
            Err((id, body)) => {
                out.send(id, Reply::Error(body)).await;
                continue;
            }
        };
        match (greeted, req.op) {
            (false, Op::Hello(h)) => {
                if h.version != PROTOCOL_VERSION {
                    let msg = format!(
                        "capd speaks protocol {PROTOCOL_VERSION} but the client speaks {}; restart the daemon with `cap daemon restart`",
                        h.version
                    );
                    out.send(
                        req.id,
                        Reply::Error(ErrorBody::new(ErrorCode::Unavailable, msg)),
                    )
                    .await;
                    break;
                }
                greeted = true;
                let hello = HelloReply {
                    version: PROTOCOL_VERSION,
                    daemon_version: cap_proto::VERSION.to_string(),
                    pid: std::process::id(),
                };
                out.send(req.id, Reply::Hello(hello)).await;
            }
            (false, _) => {
                let msg =
                    "the first request on a connection must be `hello` with the protocol version";
                out.send(req.id, Reply::error(ErrorCode::Protocol, msg))
                    .await;
            }
            (true, op) => {
                let (d, o) = (daemon.clone(), out.clone());
                tokio::spawn(async move {
                    // A bug in one handler must not leave its client waiting forever.
                    let (d2, o2) = (d.clone(), o.clone());
                    let task =
                        tokio::spawn(async move { handlers::dispatch(&d2, req.id, op, &o2).await });
                    if let Err(e) = task.await {
                        tracing::error!("request {} failed inside capd: {e}", req.id);
                        let msg = "capd hit an internal error handling this request; see capd.log and report it";
                        o.send(req.id, Reply::error(ErrorCode::Agent, msg)).await;
                    }
                });
            }
        }
    }
    drop(out);
    let _ = writer.await;
}

async fn write_replies(conn: Arc<Stream>, mut rx: mpsc::Receiver<Outgoing>) {
    let mut w = &*conn;
    while let Some(item) = rx.recv().await {
        match item {
            Outgoing::Line(line) => {
                if w.write_all(&line).await.is_err() {
                    break;
                }
            }
            Outgoing::Flush(done) => {
                let _ = w.flush().await;
                let _ = done.send(());
            }
        }
    }
}

/// Async twin of [`cap_proto::framing::read_line`]: the same [`LineDecoder`] (so the same
/// limit, `\r` handling and recovery), fed from an async reader.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, ProtoError> {
    buf.clear();
    let mut decoder = LineDecoder::new(limit);
    loop {
        let available = reader.fill_buf().await.map_err(|source| ProtoError::Io {
            doing: "reading a request",
            source,
        })?;
        let item = if available.is_empty() {
            match decoder.finish() {
                Some(item) => item,
                None => return Ok(false),
            }
        } else {
            let mut rest = available;
            let item = decoder.decode(&mut rest);
            let used = available.len() - rest.len();
            reader.consume(used);
            match item {
                Some(item) => item,
                None => continue,
            }
        };
        *buf = item?;
        return Ok(true);
    }
}

/// On Linux, only the daemon's own user may talk to it (the socket mode already says so;
/// this also covers a socket path in a shared directory).
fn same_user(conn: &Stream) -> bool {
    #[cfg(target_os = "linux")]
    {
        let me = nix::unistd::geteuid().as_raw();
        match conn.peer_creds() {
            Ok(c) => c.euid() == Some(me),
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = conn;
        true
    }
}
