//! A small blocking client: connect, say hello, send requests, read replies.
//!
//! `cap` uses it, and so can an editor plugin: it needs no async runtime.

use crate::error::{ErrorCode, ProtoError};
use crate::framing::{encode, read_line};
use crate::reply::{HelloReply, Reply, Response};
use crate::request::{HelloRequest, Op, Request};
use crate::{MAX_LINE, PROTOCOL_VERSION};
use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{GenericFilePath, Stream};
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::sync::Arc;

/// One connection to the daemon.
pub struct Client {
    reader: BufReader<Shared>,
    writer: Arc<Stream>,
    next_id: u64,
    buf: Vec<u8>,
}

impl Client {
    /// Connects to the socket at `path` and performs the `hello` handshake.
    ///
    /// Fails with [`ProtoError::Connect`] when nobody listens there, and with
    /// [`ProtoError::VersionMismatch`] when the daemon speaks another protocol version.
    pub fn connect(path: &Path, client: &str) -> Result<(Client, HelloReply), ProtoError> {
        let connect_err = |source| ProtoError::Connect {
            path: path.to_path_buf(),
            source,
        };
        let name = path.to_fs_name::<GenericFilePath>().map_err(connect_err)?;
        let stream = Stream::connect(name).map_err(connect_err)?;
        let stream = Arc::new(stream);
        let mut c = Client {
            reader: BufReader::new(Shared(stream.clone())),
            writer: stream,
            next_id: 1,
            buf: Vec::new(),
        };
        let hello = c.call(Op::Hello(HelloRequest {
            version: PROTOCOL_VERSION,
            client: Some(client.to_string()),
        }));
        match hello {
            Ok(Reply::Hello(h)) if h.version == PROTOCOL_VERSION => Ok((c, h)),
            Ok(Reply::Hello(h)) => Err(ProtoError::VersionMismatch {
                daemon: h.version,
                client: PROTOCOL_VERSION,
            }),
            Err(ProtoError::Remote(e)) if e.code == ErrorCode::Unavailable => {
                Err(ProtoError::Remote(e))
            }
            Ok(other) => Err(ProtoError::Unexpected(format!("{other:?}"))),
            Err(e) => Err(e),
        }
    }

    /// Sends a request and returns its id.
    pub fn send(&mut self, op: Op) -> Result<u64, ProtoError> {
        let id = self.next_id;
        self.next_id += 1;
        let line = encode(&Request { id, op })?;
        let mut w = &*self.writer;
        w.write_all(&line)
            .and_then(|_| w.flush())
            .map_err(|source| ProtoError::Io {
                doing: "sending a request",
                source,
            })?;
        Ok(id)
    }

    /// Reads the next reply line. [`ProtoError::Closed`] when the daemon hung up.
    pub fn recv(&mut self) -> Result<Response, ProtoError> {
        self.recv_raw().map(|(resp, _)| resp)
    }

    /// Reads the next reply line and also returns it as received, so `--format json` can
    /// pass through fields a newer daemon added that this build does not know.
    pub fn recv_raw(&mut self) -> Result<(Response, serde_json::Value), ProtoError> {
        if !read_line(&mut self.reader, &mut self.buf, MAX_LINE)? {
            return Err(ProtoError::Closed);
        }
        let raw: serde_json::Value = serde_json::from_slice(&self.buf)?;
        Ok((serde_json::from_value(raw.clone())?, raw))
    }

    /// Sends a one-reply request and waits for its reply; an error reply becomes
    /// [`ProtoError::Remote`].
    pub fn call(&mut self, op: Op) -> Result<Reply, ProtoError> {
        let id = self.send(op)?;
        loop {
            let resp = self.recv()?;
            if resp.id != id {
                continue;
            }
            return match resp.reply {
                Reply::Error(e) => Err(ProtoError::Remote(e)),
                other => Ok(other),
            };
        }
    }
}

/// The read side of a shared stream (`&Stream` reads and writes independently).
struct Shared(Arc<Stream>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self.0).read(buf)
    }
}
