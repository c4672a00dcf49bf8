//! Socket activation: a listening socket handed over by systemd (or launchd-style
//! activators that follow the same protocol, such as `systemd-socket-activate`).
//!
//! The protocol (sd_listen_fds(3)) is three facts in the environment: `LISTEN_PID` is this
//! process's pid (so a child that inherits the variables does not take them for its own),
//! `LISTEN_FDS` is how many sockets were passed, and they start at descriptor 3. capd wants
//! exactly one: a listening Unix stream socket. It then serves that socket instead of
//! binding one, so a client that connects before capd runs (the systemd unit starts it on
//! the first connection) is simply accepted once it does, and capd leaves the socket file to
//! its owner when it exits.
//!
//! The variables are removed once read, and the descriptor is marked close-on-exec, so no
//! agent capd starts believes it was activated too.

use anyhow::{Context, bail};
use nix::sys::socket::{
    AddressFamily, SockType, SockaddrLike, SockaddrStorage, getsockname, getsockopt, sockopt,
};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

/// The first descriptor an activator passes (`SD_LISTEN_FDS_START`).
const FIRST_FD: i32 = 3;

/// The listening socket an activator passed, and the path it listens on.
#[derive(Debug)]
pub struct Inherited {
    pub fd: OwnedFd,
    /// Where the socket lives in the file system (the unit's `ListenStream`), when it says.
    pub path: Option<PathBuf>,
}

/// Takes the socket passed by an activator, if this process was given one, and clears the
/// activation variables. Call it before any thread starts: it changes the environment.
pub fn take() -> anyhow::Result<Option<Inherited>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let fds = std::env::var("LISTEN_FDS").ok();
    // SAFETY: called from `main` before the runtime or any other thread exists, so nothing
    // reads the environment concurrently.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(None);
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        // Meant for another process (an ancestor's variables leaked through).
        return Ok(None);
    }
    let count: i32 = fds
        .trim()
        .parse()
        .with_context(|| format!("LISTEN_FDS={fds} is not a number"))?;
    match count {
        0 => return Ok(None),
        1 => {}
        n => bail!(
            "{n} sockets were passed (LISTEN_FDS={n}); capd serves one: give its socket unit \
             a single ListenStream"
        ),
    }
    // SAFETY: the activator passed descriptor 3 to this process (LISTEN_PID is ours), and
    // nothing else in capd has touched it.
    let borrowed = unsafe { BorrowedFd::borrow_raw(FIRST_FD) };
    let path = check(borrowed)?;
    nix::fcntl::fcntl(
        borrowed,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .context("cannot mark the passed socket close-on-exec")?;
    // SAFETY: as above; from here on this OwnedFd is the only owner.
    let fd = unsafe { OwnedFd::from_raw_fd(FIRST_FD) };
    Ok(Some(Inherited { fd, path }))
}

/// Refuses anything but a listening Unix stream socket; returns its path.
fn check(fd: BorrowedFd<'_>) -> anyhow::Result<Option<PathBuf>> {
    let what = "the passed descriptor 3";
    let kind =
        getsockopt(&fd, sockopt::SockType).with_context(|| format!("{what} is not a socket"))?;
    let listening =
        getsockopt(&fd, sockopt::AcceptConn).with_context(|| format!("cannot examine {what}"))?;
    let addr: SockaddrStorage =
        getsockname(fd.as_raw_fd()).with_context(|| format!("cannot examine {what}"))?;
    if addr.family() != Some(AddressFamily::Unix) || kind != SockType::Stream || !listening {
        bail!(
            "{what} is not a listening Unix stream socket; capd's socket unit needs \
             ListenStream=/path/to/capd.sock"
        );
    }
    Ok(addr
        .as_unix_addr()
        .and_then(|u| u.path())
        .map(PathBuf::from))
}

/// The tokio listener over the inherited socket. It never removes the socket file: the
/// activator owns it, and will start the next capd on it.
pub fn listener(fd: OwnedFd) -> anyhow::Result<interprocess::local_socket::tokio::Listener> {
    use interprocess::os::unix::uds_local_socket::tokio::Listener;
    let l = Listener::try_from(fd).context("cannot serve the passed socket")?;
    Ok(l.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn only_a_listening_unix_stream_socket_is_accepted() {
        let dir = std::env::temp_dir().join(format!("capd-act-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(check(l.as_fd()).unwrap(), Some(path.clone()));
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(check(a.as_fd()).is_err());
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(check(f.as_fd()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
