//! A small blocking client: connect, say hello, send requests, read replies.
//!
//! `cap` uses it, and so can an editor plugin: it needs no async runtime. Two things make it
//! usable from more than one thread: [`Writer`] is a cloneable send half (so one thread can
//! read a long stream while another sends, e.g. keepalive pings), and [`Client::recv_line`]
//! hands out each line as received next to its typed form (so a client can pass through what
//! a newer daemon added and this build does not know).

use crate::error::ProtoError;
use crate::framing::{encode, read_line};
use crate::reply::{HelloReply, Reply, Response};
use crate::request::{HelloRequest, Op, Request};
use crate::{MAX_LINE, PROTOCOL_VERSION};
use interprocess::ConnectWaitMode;
use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{ConnectOptions, GenericFilePath, Stream};
use std::io::{BufReader, ErrorKind, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// One connection to the daemon.
pub struct Client {
    reader: BufReader<Shared>,
    writer: Writer,
    buf: Vec<u8>,
}

/// The sending half of a [`Client`]; clones share the connection and the id counter, and a
/// lock keeps two threads' lines from interleaving on the socket.
#[derive(Clone)]
pub struct Writer(Arc<Mutex<WriteSide>>);

struct WriteSide {
    stream: Arc<Stream>,
    next_id: u64,
}

/// One reply line as received, with its typed form.
#[derive(Debug)]
pub struct Received {
    /// The line's text without its newline, exactly as the daemon sent it.
    pub text: String,
    /// The line decoded; an error when this build cannot decode it (a reply kind, field
    /// value or error code from a newer daemon), which a client may still pass through.
    pub response: Result<Response, serde_json::Error>,
}

impl Client {
    /// Connects to the socket at `path` and performs the `hello` handshake, waiting as long
    /// as it takes. Prefer [`Client::connect_timeout`] anywhere a person is waiting.
    ///
    /// Fails with [`ProtoError::Connect`] when nobody listens there, and with
    /// [`ProtoError::VersionMismatch`] when the daemon speaks another protocol version.
    pub fn connect(path: &Path, client: &str) -> Result<(Client, HelloReply), ProtoError> {
        Client::open(path, client, None)
    }

    /// Like [`Client::connect`], but gives up when connecting and the `hello` reply together
    /// take longer than `timeout`: a daemon that accepts connections but is wedged must not
    /// wedge its clients. Running out of time is a [`ProtoError::Connect`] (nobody accepted)
    /// or a [`ProtoError::Io`] (nobody answered `hello`) whose source has the kind
    /// [`ErrorKind::TimedOut`]; see [`is_timeout`]. The same bound then applies to every
    /// write on the connection (a daemon that stops reading requests fails them the same way).
    pub fn connect_timeout(
        path: &Path,
        client: &str,
        timeout: Duration,
    ) -> Result<(Client, HelloReply), ProtoError> {
        Client::open(path, client, Some(timeout))
    }

    fn open(
        path: &Path,
        client: &str,
        timeout: Option<Duration>,
    ) -> Result<(Client, HelloReply), ProtoError> {
        let start = Instant::now();
        let connect_err = |source| ProtoError::Connect {
            path: path.to_path_buf(),
            source,
        };
        let name = path.to_fs_name::<GenericFilePath>().map_err(connect_err)?;
        let wait = match timeout {
            Some(t) => ConnectWaitMode::Timeout(t),
            None => ConnectWaitMode::Unbounded,
        };
        let stream = ConnectOptions::new()
            .name(name)
            .wait_mode(wait)
            .connect_sync()
            .map_err(|e| connect_err(timed_out(e)))?;
        Client::handshake(stream, client, timeout, start)
    }

    /// Performs the `hello` handshake over a stream that is already connected to a daemon
    /// some other way: `cap --host` hands one end of a socket pair to `ssh`, whose remote
    /// `cap daemon dial-stdio` bridges it to the daemon there. `timeout` bounds the
    /// handshake as in [`Client::connect_timeout`]; `None` waits as long as the peer needs
    /// (for ssh, a passphrase may be being typed).
    pub fn over(
        stream: Stream,
        client: &str,
        timeout: Option<Duration>,
    ) -> Result<(Client, HelloReply), ProtoError> {
        Client::handshake(stream, client, timeout, Instant::now())
    }

    fn handshake(
        stream: Stream,
        client: &str,
        timeout: Option<Duration>,
        start: Instant,
    ) -> Result<(Client, HelloReply), ProtoError> {
        if let Some(t) = timeout {
            // What is left of the budget bounds the handshake; at least a millisecond, as a
            // zero timeout means "none" to the socket.
            let left = t
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1));
            set_timeouts(&stream, Some(left))?;
        }
        let stream = Arc::new(stream);
        let mut c = Client {
            reader: BufReader::new(Shared(stream.clone())),
            writer: Writer(Arc::new(Mutex::new(WriteSide {
                stream: stream.clone(),
                next_id: 1,
            }))),
            buf: Vec::new(),
        };
        let hello = c.call(Op::Hello(HelloRequest {
            version: PROTOCOL_VERSION,
            client: Some(client.to_string()),
        }));
        let hello = match hello {
            Ok(Reply::Hello(h)) if h.version == PROTOCOL_VERSION => h,
            Ok(Reply::Hello(h)) => {
                return Err(ProtoError::VersionMismatch {
                    daemon: h.version,
                    client: PROTOCOL_VERSION,
                    daemon_version: h.daemon_version,
                });
            }
            Ok(other) => return Err(ProtoError::Unexpected(format!("{other:?}"))),
            Err(ProtoError::Io { source, .. }) if timeout.is_some() => {
                return Err(ProtoError::Io {
                    doing: "waiting for the daemon to answer `hello`",
                    source: timed_out(source),
                });
            }
            Err(e) => return Err(e),
        };
        if timeout.is_some() {
            // Past the handshake the daemon is known to be alive; how long a reply may take is
            // the caller's business (a turn can run for an hour). Writes stay bounded: they
            // only block when the daemon stopped reading, which is as wedged as it gets.
            stream
                .set_recv_timeout(None)
                .map_err(|source| ProtoError::Io {
                    doing: "setting the socket's timeouts",
                    source,
                })?;
        }
        Ok((c, hello))
    }

    /// A send half that can be used from another thread while this one reads.
    pub fn writer(&self) -> Writer {
        self.writer.clone()
    }

    /// Sends a request and returns its id.
    pub fn send(&mut self, op: Op) -> Result<u64, ProtoError> {
        self.writer.send(op)
    }

    /// Reads the next reply line. [`ProtoError::Closed`] when the daemon hung up.
    pub fn recv(&mut self) -> Result<Response, ProtoError> {
        Ok(self.recv_line()?.response?)
    }

    /// Reads the next reply line and also returns it as a JSON value.
    pub fn recv_raw(&mut self) -> Result<(Response, serde_json::Value), ProtoError> {
        let line = self.recv_line()?;
        let raw = serde_json::from_str(&line.text)?;
        Ok((line.response?, raw))
    }

    /// Reads the next reply line, keeping its text: `--format json` prints envelopes exactly
    /// as the daemon sent them, fields this build does not know included.
    ///
    /// A line over [`MAX_LINE`] is skipped and reported as [`ProtoError::LineTooLong`], one
    /// that is not UTF-8 as [`ProtoError::NotUtf8`]; the connection stays usable after both.
    pub fn recv_line(&mut self) -> Result<Received, ProtoError> {
        if !read_line(&mut self.reader, &mut self.buf, MAX_LINE)? {
            return Err(ProtoError::Closed);
        }
        let text =
            String::from_utf8(std::mem::take(&mut self.buf)).map_err(|_| ProtoError::NotUtf8)?;
        let response = serde_json::from_str(&text);
        Ok(Received { text, response })
    }

    /// Sends a one-reply request and waits for its reply; an error reply becomes
    /// [`ProtoError::Remote`]. So does an error with id 0: it is the daemon's answer to a line
    /// it could not parse, which may well have been this request, and waiting on would then
    /// be waiting forever.
    pub fn call(&mut self, op: Op) -> Result<Reply, ProtoError> {
        let id = self.send(op)?;
        loop {
            let resp = self.recv()?;
            match resp.reply {
                Reply::Error(e) if resp.id == id || resp.id == 0 => {
                    return Err(ProtoError::Remote(e));
                }
                _ if resp.id != id => continue,
                other => return Ok(other),
            }
        }
    }
}

impl Writer {
    /// Sends a request and returns its id. A request whose line would exceed [`MAX_LINE`] is
    /// refused with [`ProtoError::LineTooLong`] before anything is written: the daemon would
    /// only answer it with an error.
    pub fn send(&self, op: Op) -> Result<u64, ProtoError> {
        let mut side = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let id = side.next_id;
        let line = encode(&Request { id, op })?;
        if line.len() > MAX_LINE {
            return Err(ProtoError::LineTooLong { limit: MAX_LINE });
        }
        side.next_id += 1;
        let mut w = &*side.stream;
        w.write_all(&line)
            .and_then(|_| w.flush())
            .map_err(|source| ProtoError::Io {
                doing: "sending a request",
                source: timed_out(source),
            })?;
        Ok(id)
    }
}

/// Whether an error is a [`Client::connect_timeout`] running out of time.
pub fn is_timeout(e: &ProtoError) -> bool {
    match e {
        ProtoError::Connect { source, .. } | ProtoError::Io { source, .. } => {
            source.kind() == ErrorKind::TimedOut
        }
        _ => false,
    }
}

/// Socket timeouts surface as `WouldBlock` on Unix; say `TimedOut`, which is what happened.
fn timed_out(e: std::io::Error) -> std::io::Error {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            std::io::Error::new(ErrorKind::TimedOut, "no answer in time")
        }
        _ => e,
    }
}

fn set_timeouts(stream: &Stream, t: Option<Duration>) -> Result<(), ProtoError> {
    stream
        .set_recv_timeout(t)
        .and_then(|()| stream.set_send_timeout(t))
        .map_err(|source| ProtoError::Io {
            doing: "setting the socket's timeouts",
            source,
        })
}

/// The read side of a shared stream (`&Stream` reads and writes independently).
struct Shared(Arc<Stream>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self.0).read(buf)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::error::{ErrorBody, ErrorCode};
    use crate::request::PromptRequest;
    use std::io::BufRead;
    use std::os::unix::net::{UnixListener, UnixStream};

    /// A temp directory removed on drop (cap-proto has no dev-dependencies to spare).
    struct TempDir(std::path::PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A stand-in daemon on a temp socket: runs `serve` on the first connection.
    fn fake(
        serve: impl FnOnce(BufReader<UnixStream>, UnixStream) + Send + 'static,
    ) -> (TempDir, std::path::PathBuf, std::thread::JoinHandle<()>) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("cap-proto-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let dir = TempDir(dir);
        let listener = UnixListener::bind(&path).unwrap();
        let thread = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            serve(BufReader::new(s.try_clone().unwrap()), s);
        });
        (dir, path, thread)
    }

    fn read_id(r: &mut BufReader<UnixStream>) -> u64 {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["id"].as_u64().unwrap()
    }

    fn hello(r: &mut BufReader<UnixStream>, w: &mut UnixStream) {
        let id = read_id(r);
        let reply = format!(
            "{{\"id\":{id},\"hello\":{{\"version\":{PROTOCOL_VERSION},\"daemon_version\":\"x\",\"pid\":1}}}}\n"
        );
        w.write_all(reply.as_bytes()).unwrap();
    }

    /// Waits until the client hangs up, so it never sees its peer vanish early.
    fn drain(r: &mut BufReader<UnixStream>) {
        let mut sink = Vec::new();
        while r
            .read_until(b'\n', &mut sink)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    }

    #[test]
    fn an_error_with_id_0_ends_a_call() {
        let (_dir, path, server) = fake(|mut r, mut w| {
            hello(&mut r, &mut w);
            read_id(&mut r);
            let body = ErrorBody::new(ErrorCode::Protocol, "malformed JSON line");
            let line = encode(&Response {
                id: 0,
                reply: Reply::Error(body),
            })
            .unwrap();
            w.write_all(&line).unwrap();
            drain(&mut r);
        });
        let (mut c, _) = Client::connect(&path, "test").unwrap();
        match c.call(Op::Sessions) {
            Err(ProtoError::Remote(body)) => assert_eq!(body.code, ErrorCode::Protocol),
            other => panic!("expected the id-0 error, got {other:?}"),
        }
        drop(c);
        server.join().unwrap();
    }

    #[test]
    fn a_silent_daemon_times_out_the_handshake() {
        let (_dir, path, server) = fake(|mut r, _w| drain(&mut r));
        let err = Client::connect_timeout(&path, "test", Duration::from_millis(100))
            .err()
            .expect("nobody answers hello");
        assert!(is_timeout(&err), "{err}");
        assert!(err.to_string().contains("hello"), "{err}");
        server.join().unwrap();
    }

    #[test]
    fn an_oversized_request_is_refused_before_sending() {
        let (_dir, path, server) = fake(|mut r, mut w| {
            hello(&mut r, &mut w);
            // Nothing but the hello may arrive: the next thing read is the hang-up.
            let mut rest = String::new();
            r.read_line(&mut rest).unwrap();
            assert_eq!(rest, "", "the oversized request reached the daemon");
        });
        let (mut c, _) = Client::connect(&path, "test").unwrap();
        let op = Op::Prompt(PromptRequest {
            text: "x".repeat(MAX_LINE),
            route: Default::default(),
            timeout_secs: None,
            no_wait: false,
            budget_usd: None,
            handoff: false,
            delegation: None,
            schema: None,
            steer: false,
        });
        assert!(matches!(c.send(op), Err(ProtoError::LineTooLong { .. })));
        drop(c);
        server.join().unwrap();
    }

    #[test]
    fn lines_are_kept_as_received() {
        let line = r#"{"id":3,"event":{"v":1,"type":"mystery","new":[1, 2],"session":null,"request":null,"seq":0}}"#;
        let (_dir, path, server) = fake(move |mut r, mut w| {
            hello(&mut r, &mut w);
            w.write_all(format!("{line}\n").as_bytes()).unwrap();
            drain(&mut r);
        });
        let (mut c, _) = Client::connect(&path, "test").unwrap();
        let got = c.recv_line().unwrap();
        assert_eq!(got.text, line);
        assert_eq!(got.response.unwrap().id, 3);
        drop(c);
        server.join().unwrap();
    }
}
