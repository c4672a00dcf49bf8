//! `cap daemon dial-stdio`: this process's stdin and stdout become a connection to the local
//! capd. `cap --host` runs it on the far side of ssh; anything else that can run a command
//! on a machine (a container exec, a serial console) can use it the same way.
//!
//! It is a byte pipe, nothing more: the client says `hello` and everything after it through
//! this, so a newer protocol needs no newer `dial-stdio`. Before bridging it makes sure a
//! daemon answers (starting one unless `--no-autostart`), so a failure to start is reported
//! here, on stderr with exit code 6, where ssh carries it back to the user.
//!
//! It exits as soon as either side closes: the client hanging up (ssh dropped, `cap` gone)
//! must reach capd as a closed connection at once, which is what a local client going away
//! looks like; and with capd gone there is nothing left to relay.

use crate::Ctx;
use crate::connect;
use crate::failure::Failure;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

/// Bytes relayed at a time.
const CHUNK: usize = 64 * 1024;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    if ctx.host.is_some() {
        return Err(Failure::usage(
            "dial-stdio connects to this machine's capd; drop --host (and unset CAP_HOST)",
        )
        .into());
    }
    // Probe (and autostart) with a handshake of our own, bounded by the connect timeout, then
    // open the connection the client will greet.
    drop(connect::connect(ctx)?);
    let socket = UnixStream::connect(&ctx.socket).map_err(|e| {
        Failure::unavailable(format!(
            "capd answered on {} but the next connection failed: {e}",
            ctx.socket.display()
        ))
    })?;
    let to_daemon = socket
        .try_clone()
        .map_err(|e| Failure::unavailable(format!("cannot share the connection to capd: {e}")))?;
    std::thread::spawn(move || {
        // The client's bytes to capd; its end of input ends the whole bridge.
        let _ = relay(std::io::stdin().lock(), to_daemon);
        std::process::exit(0);
    });
    // capd's bytes to the client; capd closing (or stdout gone) ends it.
    let _ = relay(socket, std::io::stdout().lock());
    std::process::exit(0);
}

/// Copies until end of input or an error, flushing each chunk so nothing waits in a buffer
/// for a newline.
fn relay(mut from: impl Read, mut to: impl Write) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_copies_every_byte() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        relay(&data[..], &mut out).unwrap();
        assert_eq!(out, data);
    }
}
