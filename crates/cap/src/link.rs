//! A connection whose reply lines are read on a helper thread, so that no wait on the daemon
//! is unbounded.
//!
//! The main thread takes lines (and its own messages, such as Ctrl-C) from one channel with a
//! deadline. When the daemon has said nothing for [`Timeouts::ping_interval`] it sends a cheap
//! `status` request on the same connection (the daemon serves a connection's requests
//! concurrently, so this works in the middle of a turn); any line at all proves the daemon
//! alive. Only when a ping goes unanswered for [`Timeouts::ping_timeout`] does
//! [`Link::recv`] report [`Silent`]. A turn may thus run for an hour, but a daemon that
//! stopped answering entirely cannot hold `cap` forever.

use crate::timeouts::Timeouts;
use cap_proto::ProtoError;
use cap_proto::client::{Client, Received, Writer};
use cap_proto::request::Op;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// What the main thread hears: a reply line (boxed: a decoded reply is large) or a message of
/// its own kind `X` from another thread.
pub enum Incoming<X> {
    Line(Result<Box<Received>, ProtoError>),
    Local(X),
}

/// The daemon said nothing, not even to a ping, for this long.
#[derive(Debug, Clone, Copy)]
pub struct Silent(pub Duration);

/// The reading side of a connection, with its keepalive.
pub struct Link<X> {
    writer: Writer,
    tx: Sender<Incoming<X>>,
    rx: Receiver<Incoming<X>>,
    timeouts: Timeouts,
    /// When the last line arrived (or the link started).
    heard: Instant,
    /// When the unanswered ping went out, if one is out.
    pinged: Option<Instant>,
}

impl<X: Send + 'static> Link<X> {
    /// Starts reading `client`'s lines on a helper thread. The thread ends with the
    /// connection (or when the link is dropped and the next line arrives).
    pub fn new(mut client: Client, timeouts: Timeouts) -> Link<X> {
        let writer = client.writer();
        let (tx, rx) = mpsc::channel();
        let lines = tx.clone();
        std::thread::spawn(move || {
            loop {
                let line = client.recv_line().map(Box::new);
                // Unreadable lines are the main thread's to judge; only a dead connection
                // ends the reading.
                let dead = matches!(&line, Err(ProtoError::Closed | ProtoError::Io { .. }));
                if lines.send(Incoming::Line(line)).is_err() || dead {
                    break;
                }
            }
        });
        Link {
            writer,
            tx,
            rx,
            timeouts,
            heard: Instant::now(),
            pinged: None,
        }
    }

    /// Sends a request on the connection; returns its id.
    pub fn send(&self, op: Op) -> Result<u64, ProtoError> {
        self.writer.send(op)
    }

    /// A sender for other threads' messages (Ctrl-C, a cancel's outcome).
    pub fn sender(&self) -> Sender<Incoming<X>> {
        self.tx.clone()
    }

    /// The next line or local message, pinging the daemon while it is quiet. A failed ping
    /// comes back as the line error it is (the connection is gone).
    pub fn recv(&mut self) -> Result<Incoming<X>, Silent> {
        loop {
            let now = Instant::now();
            let due = match self.pinged {
                Some(at) => at + self.timeouts.ping_timeout,
                None => self.heard + self.timeouts.ping_interval,
            };
            if now >= due {
                if self.pinged.is_some() {
                    return Err(Silent(now - self.heard));
                }
                if let Err(e) = self.writer.send(Op::Status) {
                    return Ok(Incoming::Line(Err(e)));
                }
                self.pinged = Some(now);
                continue;
            }
            match self.rx.recv_timeout(due - now) {
                Ok(msg) => {
                    if let Incoming::Line(_) = msg {
                        self.heard = Instant::now();
                        self.pinged = None;
                    }
                    return Ok(msg);
                }
                Err(RecvTimeoutError::Timeout) => continue,
                // Cannot happen while `self.tx` lives; say what it would mean.
                Err(RecvTimeoutError::Disconnected) => {
                    return Ok(Incoming::Line(Err(ProtoError::Closed)));
                }
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;

    /// A link to a stand-in daemon that answers hello and the first ping, then goes mute.
    #[test]
    fn a_quiet_daemon_is_pinged_and_a_mute_one_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let listener = UnixListener::bind(&path).unwrap();
        // The thread ends with the test process: the link's reader holds the connection.
        std::thread::spawn(move || {
            let (mut w, _) = listener.accept().unwrap();
            let mut r = BufReader::new(w.try_clone().unwrap());
            let mut pinged = false;
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                let req: serde_json::Value = serde_json::from_str(&line).unwrap();
                line.clear();
                let id = &req["id"];
                let reply = match req["op"].as_str() {
                    Some("hello") => format!(
                        "{{\"id\":{id},\"hello\":{{\"version\":{},\"daemon_version\":\"x\",\"pid\":1}}}}\n",
                        cap_proto::PROTOCOL_VERSION
                    ),
                    Some("status") if !pinged => {
                        pinged = true;
                        format!("{{\"id\":{id},\"done\":{{\"message\":\"pong\"}}}}\n")
                    }
                    _ => continue,
                };
                w.write_all(reply.as_bytes()).unwrap();
            }
        });
        let (client, _) = Client::connect(&path, "test").unwrap();
        let timeouts = Timeouts {
            ping_interval: Duration::from_millis(20),
            ping_timeout: Duration::from_millis(100),
            ..Timeouts::default()
        };
        let mut link: Link<()> = Link::new(client, timeouts);
        match link.recv() {
            Ok(Incoming::Line(Ok(line))) => assert!(line.text.contains("pong"), "{}", line.text),
            _ => panic!("expected the answer to the first ping"),
        }
        assert!(matches!(link.recv(), Err(Silent(_))));
    }
}
