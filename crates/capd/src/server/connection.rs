//! One client connection: the handshake, framing, a task per request, and the limits that
//! keep a slow, stuck or hostile client from costing more than its share.
//!
//! - The first request must be `hello` with the protocol version, within the handshake
//!   timeout; a mismatch is refused with a hint to restart the daemon.
//! - Every later request runs in its own task, so a slow prompt never blocks a `cancel` on the
//!   same connection. At most `max_in_flight` run at once: beyond that the reader stops
//!   reading, so a client that pipelines requests and never reads the replies is held by the
//!   kernel's socket buffer instead of growing capd's memory.
//! - A line that stays incomplete past the partial-line timeout, and a connection with no
//!   request in flight that sends nothing for the idle timeout, are closed with an error line
//!   saying why. A streaming prompt or `attach` is a request in flight, so never idle.

use super::limits::Limits;
use super::out::{Out, WriterEnd, write_replies};
use crate::daemon::Daemon;
use crate::handlers;
use cap_proto::framing::{LineDecoder, parse_request};
use cap_proto::reply::HelloReply;
use cap_proto::request::Op;
use cap_proto::{ErrorBody, ErrorCode, MAX_LINE, PROTOCOL_VERSION, ProtoError, Reply};
use interprocess::local_socket::tokio::{Stream, prelude::*};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;
/// How long a closing connection's last error line may take to be written.
const GOODBYE: Duration = Duration::from_secs(1);

/// Serves one connection until the client leaves or a limit closes it. `_slot` is its place
/// under the connection cap, given back when this returns.
pub(super) async fn serve(
    daemon: Arc<Daemon>,
    conn: Stream,
    limits: Arc<Limits>,
    _slot: OwnedSemaphorePermit,
) {
    if !same_user(&conn) {
        tracing::warn!("refused a connection from another user");
        return;
    }
    let conn = Arc::new(conn);
    let (out, rx) = Out::channel();
    let mut writer = tokio::spawn(write_replies(conn.clone(), rx, limits.write_stall));
    let end = Reader::new(daemon, conn.clone(), out, limits)
        .run(&mut writer)
        .await;
    match end {
        End::Eof if peer_gone(&conn) => {
            // Nobody will read what the requests still in flight send: stop now, so their
            // sends fail and the connection's slot and descriptor are freed at once.
            writer.abort();
            let _ = writer.await;
        }
        // Half-closed: the client may still read the replies of what it sent.
        End::Eof => log_writer_end(writer.await),
        End::Writer(result) => log_writer_end(result),
        End::Close(why) => {
            tracing::info!("closed a connection: {why}");
            if tokio::time::timeout(GOODBYE, &mut writer).await.is_err() {
                writer.abort();
                let _ = writer.await;
            }
        }
    }
}

fn log_writer_end(result: Result<WriterEnd, tokio::task::JoinError>) {
    if let Ok(WriterEnd::Stalled(limit)) = result {
        tracing::info!(
            "closed a connection: its client read no reply for {} s while replies were waiting",
            limit.as_secs_f64()
        );
    }
}

/// Why the reading side stopped.
enum End {
    /// The client closed its side.
    Eof,
    /// The writer stopped (client gone or stuck); the connection is over.
    Writer(Result<WriterEnd, tokio::task::JoinError>),
    /// A limit closed the connection; the error line is queued.
    Close(String),
}

/// Which timer is armed.
#[derive(Clone, Copy)]
enum Timer {
    Handshake,
    PartialLine,
    Idle,
}

struct Reader {
    daemon: Arc<Daemon>,
    conn: Arc<Stream>,
    out: Out,
    limits: Arc<Limits>,
    decoder: LineDecoder,
    greeted: bool,
    accepted: Instant,
    /// When the incomplete line in the decoder began to arrive.
    line_started: Option<Instant>,
    /// The last input, or the last time the idle timer found requests in flight.
    quiet_since: Instant,
    in_flight: Arc<Semaphore>,
    /// When the last request task finished.
    last_done: Arc<Mutex<Instant>>,
}

impl Reader {
    fn new(daemon: Arc<Daemon>, conn: Arc<Stream>, out: Out, limits: Arc<Limits>) -> Reader {
        let now = Instant::now();
        Reader {
            daemon,
            conn,
            out,
            decoder: LineDecoder::new(MAX_LINE),
            greeted: false,
            accepted: now,
            line_started: None,
            quiet_since: now,
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
            last_done: Arc::new(Mutex::new(now)),
            limits,
        }
    }

    async fn run(mut self, writer: &mut JoinHandle<WriterEnd>) -> End {
        let mut buf = vec![0u8; READ_CHUNK];
        let (mut pos, mut len) = (0, 0);
        let conn = self.conn.clone();
        let mut socket = &*conn;
        loop {
            let mut rest = &buf[pos..len];
            let item = self.decoder.decode(&mut rest);
            pos = len - rest.len();
            if let Some(item) = item {
                self.line_started = None;
                if let Err(end) = self.handle(item, writer).await {
                    return end;
                }
                continue;
            }
            if self.decoder.has_partial() && self.line_started.is_none() {
                self.line_started = Some(Instant::now());
            }
            let timer = self.timer();
            let deadline = timer.map(|(at, _)| at);
            tokio::select! {
                read = socket.read(&mut buf) => match read {
                    Ok(0) | Err(_) => {
                        if let Some(item) = self.decoder.finish()
                            && let Err(end) = self.handle(item, writer).await
                        {
                            return end;
                        }
                        return End::Eof;
                    }
                    Ok(n) => {
                        (pos, len) = (0, n);
                        self.quiet_since = Instant::now();
                    }
                },
                _ = sleep_until(deadline) => {
                    if let Some((_, which)) = timer
                        && let Some(why) = self.expired(which)
                    {
                        return self.close(ErrorCode::Protocol, why, writer).await;
                    }
                }
                done = &mut *writer => return End::Writer(done),
            }
        }
    }

    /// The earliest armed timer.
    fn timer(&self) -> Option<(Instant, Timer)> {
        let l = &self.limits;
        let handshake = l
            .handshake
            .filter(|_| !self.greeted)
            .map(|t| (self.accepted + t, Timer::Handshake));
        let partial = l
            .partial_line
            .zip(self.line_started)
            .map(|(t, start)| (start + t, Timer::PartialLine));
        let idle = l
            .idle
            .filter(|_| self.greeted && self.line_started.is_none())
            .map(|t| (self.idle_since() + t, Timer::Idle));
        [handshake, partial, idle]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at)
    }

    fn idle_since(&self) -> Instant {
        let done = *self.last_done.lock().unwrap_or_else(|p| p.into_inner());
        self.quiet_since.max(done)
    }

    fn in_flight(&self) -> usize {
        self.limits.max_in_flight - self.in_flight.available_permits()
    }

    /// A timer fired: the reason to close, or `None` when the connection turned out busy.
    fn expired(&mut self, which: Timer) -> Option<String> {
        let secs = |t: Option<Duration>| t.unwrap_or_default().as_secs_f64();
        match which {
            Timer::Handshake => Some(format!(
                "no `hello` within {} s of connecting; closing the connection",
                secs(self.limits.handshake)
            )),
            Timer::PartialLine => Some(format!(
                "a request line stayed incomplete (no newline) for {} s; closing the connection",
                secs(self.limits.partial_line)
            )),
            Timer::Idle if self.in_flight() > 0 => {
                // A running prompt or attach: not idle. Look again one period later.
                self.quiet_since = Instant::now();
                None
            }
            Timer::Idle
                if self.idle_since() + self.limits.idle.unwrap_or_default() > Instant::now() =>
            {
                // A request finished since the timer was set: it starts over from there.
                None
            }
            Timer::Idle => Some(format!(
                "idle for {} s with no request in flight; closing the connection (just \
                 reconnect)",
                secs(self.limits.idle)
            )),
        }
    }

    /// Queues an error line saying why, then asks the writer to stop after it.
    async fn close(
        &mut self,
        code: ErrorCode,
        why: String,
        writer: &mut JoinHandle<WriterEnd>,
    ) -> End {
        let reply = Reply::Error(ErrorBody::new(code, why.clone()));
        let queued = tokio::select! {
            sent = self.out.send(0, reply) => sent,
            _ = tokio::time::sleep(GOODBYE) => false,
            done = &mut *writer => return End::Writer(done),
        };
        if !queued || !self.out.close() {
            writer.abort();
        }
        End::Close(why)
    }

    /// Sends a reply from the reader itself. Before the handshake the wait is bounded by the
    /// handshake deadline; after it, by the writer's stall timeout.
    async fn say(
        &mut self,
        id: u64,
        reply: Reply,
        writer: &mut JoinHandle<WriterEnd>,
    ) -> Result<(), End> {
        let deadline = self
            .limits
            .handshake
            .filter(|_| !self.greeted)
            .map(|t| self.accepted + t);
        tokio::select! {
            sent = self.out.send(id, reply) => if sent { Ok(()) } else { Err(End::Eof) },
            _ = sleep_until(deadline) => {
                writer.abort();
                Err(End::Close("no `hello` within the handshake timeout".into()))
            }
            done = &mut *writer => Err(End::Writer(done)),
        }
    }

    /// Handles one decoded line.
    async fn handle(
        &mut self,
        item: Result<Vec<u8>, ProtoError>,
        writer: &mut JoinHandle<WriterEnd>,
    ) -> Result<(), End> {
        let line = match item {
            Ok(line) => line,
            Err(ProtoError::LineTooLong { limit }) => {
                let msg = format!(
                    "request line longer than the limit of {} MiB ({limit} bytes); it was \
                     discarded and the connection stays open",
                    limit >> 20
                );
                return self
                    .say(0, Reply::error(ErrorCode::Protocol, msg), writer)
                    .await;
            }
            Err(e) => {
                let reply = Reply::error(ErrorCode::Protocol, e.to_string());
                return self.say(0, reply, writer).await;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let req = match parse_request(&line) {
            Ok(r) => r,
            Err((id, body)) => return self.say(id, Reply::Error(body), writer).await,
        };
        match (self.greeted, req.op) {
            (false, Op::Hello(h)) => {
                if h.version != PROTOCOL_VERSION {
                    let msg = format!(
                        "capd {} speaks protocol {PROTOCOL_VERSION} but {} speaks {}; restart the daemon with `cap daemon restart`",
                        cap_proto::VERSION,
                        h.client.as_deref().unwrap_or("the client"),
                        h.version
                    );
                    let reply = Reply::Error(ErrorBody::new(ErrorCode::Unavailable, msg));
                    self.say(req.id, reply, writer).await?;
                    return Err(self.close_quietly(writer, "protocol version mismatch"));
                }
                self.greeted = true;
                let hello = HelloReply {
                    version: PROTOCOL_VERSION,
                    daemon_version: cap_proto::VERSION.to_string(),
                    pid: std::process::id(),
                };
                self.say(req.id, Reply::Hello(hello), writer).await
            }
            (false, _) => {
                let msg =
                    "the first request on a connection must be `hello` with the protocol version";
                self.say(req.id, Reply::error(ErrorCode::Protocol, msg), writer)
                    .await
            }
            (true, op) => {
                // Backpressure: wait for a free slot before reading further.
                let permit = tokio::select! {
                    p = self.in_flight.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => return Err(End::Eof),
                    },
                    done = &mut *writer => return Err(End::Writer(done)),
                };
                self.spawn_request(req.id, op, permit);
                Ok(())
            }
        }
    }

    /// Stops after what is queued, without another error line.
    fn close_quietly(&mut self, writer: &mut JoinHandle<WriterEnd>, why: &str) -> End {
        if !self.out.close() {
            writer.abort();
        }
        End::Close(why.to_string())
    }

    fn spawn_request(&self, id: u64, op: Op, permit: OwnedSemaphorePermit) {
        let (d, o, done) = (
            self.daemon.clone(),
            self.out.clone(),
            self.last_done.clone(),
        );
        tokio::spawn(async move {
            // A bug in one handler must not leave its client waiting forever.
            let (d2, o2) = (d.clone(), o.clone());
            let task = tokio::spawn(async move { handlers::dispatch(&d2, id, op, &o2).await });
            if let Err(e) = task.await {
                tracing::error!("request {id} failed inside capd: {e}");
                let msg =
                    "capd hit an internal error handling this request; see capd.log and report it";
                o.send(id, Reply::error(ErrorCode::Agent, msg)).await;
            }
            *done.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            drop(permit);
        });
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Whether the client closed its whole socket (not only its sending side): a zero-byte send
/// fails with `EPIPE` then, and succeeds on a half-closed or open socket.
fn peer_gone(conn: &Stream) -> bool {
    use nix::sys::socket::{MsgFlags, send};
    use std::os::fd::AsRawFd;
    let Stream::UdSocket(s) = conn;
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    matches!(
        send(s.inner().as_raw_fd(), &[], flags),
        Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET)
    )
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
