//! The single-instance guard: one daemon per socket path.
//!
//! The pid file beside the socket is locked for the daemon's lifetime; the lock, not the pid
//! in it, proves a daemon is alive, so a pid file left by a crash never blocks a new daemon.
//! Nothing here follows a symlink or deletes anything but a stale socket: the socket may sit
//! in a shared directory, and a planted link or a mistyped `--socket` naming a real file
//! must never cost the user that file.

use crate::persist::files;
use anyhow::{Context, bail};
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Held for the daemon's lifetime: the locked pid file.
pub struct Guard {
    _lock: Flock<File>,
}

/// Claims the socket path: creates its directory 0700, takes the pid-file lock, and removes
/// a stale socket. Refuses when another daemon holds the lock or answers on the socket, and
/// when the socket or pid path is a symlink or the socket path is something else than a
/// socket.
pub fn claim(socket: &Path) -> anyhow::Result<Guard> {
    claim_as(socket, true)
}

/// Claims the socket path of a socket that was passed to capd (socket activation): the
/// pid-file lock only. The socket there is live (its owner listens on it) and is not capd's
/// to remove.
pub fn claim_inherited(socket: &Path) -> anyhow::Result<Guard> {
    claim_as(socket, false)
}

fn claim_as(socket: &Path, clear: bool) -> anyhow::Result<Guard> {
    if let Some(dir) = socket.parent() {
        files::create_private_dir(dir)
            .with_context(|| format!("cannot create socket directory {}", dir.display()))?;
    }
    let pid_path = cap_proto::paths::pid_file(socket);
    let file = files::open_rw(&pid_path, "pid file")
        .with_context(|| format!("cannot open pid file {}", pid_path.display()))?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((mut f, _)) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            bail!(
                "capd is already running (pid {}) on {}; stop it with `cap daemon stop`",
                pid.trim(),
                socket.display()
            );
        }
    };
    if clear {
        clear_socket_path(socket, &pid_path)?;
    }
    lock.set_len(0)?;
    lock.rewind()?;
    writeln!(lock, "{}", std::process::id())?;
    lock.flush()?;
    Ok(Guard { _lock: lock })
}

/// Makes the socket path free to bind: nothing there, or a stale socket nobody answers on,
/// which is removed. Anything else is refused and left alone.
fn clear_socket_path(socket: &Path, pid_path: &Path) -> anyhow::Result<()> {
    let meta = match std::fs::symlink_metadata(socket) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot examine {}", socket.display())),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(files::symlink_refused(socket, "socket path").into());
    }
    if !kind.is_socket() {
        let what = if kind.is_file() {
            "a regular file"
        } else if kind.is_dir() {
            "a directory"
        } else {
            "not a socket"
        };
        bail!(
            "{} exists and is {what}, not a socket; capd only ever replaces a stale socket, so \
             it leaves this alone: move it away or choose another --socket",
            socket.display()
        );
    }
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        bail!(
            "another daemon answers on {} (without holding {}); stop it first",
            socket.display(),
            pid_path.display()
        );
    }
    tracing::info!("removing stale socket {}", socket.display());
    std::fs::remove_file(socket)
        .with_context(|| format!("cannot remove stale socket {}", socket.display()))
}
