//! A raw connection to the daemon's socket, for protocol-level tests: no cap in between.

use super::DEADLINE;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

/// A raw socket connection for protocol tests.
pub struct Raw {
    reader: BufReader<std::os::unix::net::UnixStream>,
    pub(crate) writer: std::os::unix::net::UnixStream,
}

impl Raw {
    /// Connects without saying hello.
    pub fn connect(socket: &Path) -> Raw {
        let s = std::os::unix::net::UnixStream::connect(socket).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        Raw {
            reader: BufReader::new(s.try_clone().expect("clone")),
            writer: s,
        }
    }

    /// Connects and completes the hello handshake.
    pub fn hello(socket: &Path) -> Raw {
        let mut r = Raw::connect(socket);
        r.send_line(&format!(
            "{{\"id\":1,\"op\":\"hello\",\"version\":{}}}",
            cap_proto::PROTOCOL_VERSION
        ));
        let reply = r.recv();
        assert!(reply.get("hello").is_some(), "hello failed: {reply}");
        r
    }

    /// Sends raw bytes followed by a newline.
    pub fn send_line(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).expect("write");
        self.writer.write_all(b"\n").expect("write");
    }

    /// Reads one reply line as JSON (Null at end of stream).
    pub fn recv(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read reply");
        if n == 0 {
            return Value::Null;
        }
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply not JSON ({e}): {line}"))
    }
}
