//! Connecting to `capd`, starting it first when nobody listens and autostart is on.
//!
//! The daemon is a per-user singleton that outlives any one `cap`, so `cap` spawns it
//! detached in its own process group (a Ctrl-C in the shell must not reach it), never waits
//! for it, and polls the socket until the handshake succeeds.

use crate::Ctx;
use crate::failure::{Failure, proto_exit_code};
use cap_proto::ProtoError;
use cap_proto::client::{Client, is_timeout};
use cap_proto::reply::HelloReply;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a freshly spawned daemon gets to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// First and longest pause between connection attempts while waiting for a daemon.
const BACKOFF_START: Duration = Duration::from_millis(10);
const BACKOFF_CAP: Duration = Duration::from_millis(200);

/// A connection that has completed the handshake.
pub struct Conn {
    pub client: Client,
    pub hello: HelloReply,
}

/// The client name sent in `hello`, for the daemon's logs.
pub fn client_name() -> String {
    format!("cap/{}", env!("CARGO_PKG_VERSION"))
}

/// Connects, autostarting the daemon when nobody listens and `ctx.autostart` is on.
pub fn connect(ctx: &Ctx) -> anyhow::Result<Conn> {
    if let Some(host) = &ctx.host {
        // The far side's `dial-stdio` starts capd there when allowed.
        return crate::remote::connect(ctx, host, ctx.autostart).map_err(Into::into);
    }
    if let Some(conn) = probe(ctx)? {
        return Ok(conn);
    }
    if !ctx.autostart {
        return Err(Failure::unavailable(format!(
            "no daemon is listening on {}; start one with `cap daemon start` or drop \
             --no-autostart (and unset CAP_NO_AUTOSTART)",
            ctx.socket.display()
        ))
        .into());
    }
    let conn = start(ctx)?;
    crate::render::note(
        ctx,
        &format!(
            "started capd (pid {}) on {}",
            conn.hello.pid,
            ctx.socket.display()
        ),
    );
    Ok(conn)
}

/// Connects without ever starting a daemon: `None` when nobody listens.
pub fn probe(ctx: &Ctx) -> anyhow::Result<Option<Conn>> {
    if let Some(host) = &ctx.host {
        // Over ssh "nobody listens" cannot be told from other failures, and the far side
        // explains itself better than `None` would.
        return Ok(Some(crate::remote::connect(ctx, host, false)?));
    }
    match try_connect(ctx) {
        Ok(conn) => {
            if ctx.verbose > 0 {
                crate::render::note(
                    ctx,
                    &format!(
                        "connected to capd {} (pid {}) on {}",
                        conn.hello.daemon_version,
                        conn.hello.pid,
                        ctx.socket.display()
                    ),
                );
            }
            Ok(Some(conn))
        }
        Err(e) if nobody_listens(&e) => Ok(None),
        Err(e) => Err(connect_failure(ctx, e).into()),
    }
}

/// Spawns capd and waits until it answers.
pub fn start(ctx: &Ctx) -> anyhow::Result<Conn> {
    let Some(capd) = find_capd() else {
        return Err(Failure::unavailable(format!(
            "capd not found next to cap or on PATH; install it or start it by hand: \
             capd --socket {}",
            ctx.socket.display()
        ))
        .into());
    };
    if ctx.verbose > 0 {
        crate::render::note(ctx, &format!("starting {}", capd.display()));
    }
    // Only what this start logs can explain its failure.
    let log_before = std::fs::metadata(cap_proto::paths::log_file()).map_or(0, |m| m.len());
    let child = spawn(&capd, ctx)
        .map_err(|e| Failure::unavailable(format!("cannot start {}: {e}", capd.display())))?;
    wait_for(ctx, child, log_before)
}

/// One connection attempt with the handshake, bounded by the connect timeout so that a
/// daemon that accepts but never answers cannot hang `cap`.
pub fn try_connect(ctx: &Ctx) -> Result<Conn, ProtoError> {
    if let Some(host) = &ctx.host {
        return crate::remote::connect(ctx, host, false).map_err(|f| {
            let code = crate::failure::code_for_exit(f.code);
            ProtoError::Remote(cap_proto::ErrorBody::new(code, f.message))
        });
    }
    let (client, hello) =
        Client::connect_timeout(&ctx.socket, &client_name(), ctx.timeouts.connect)?;
    Ok(Conn { client, hello })
}

/// Whether a connect error means "no daemon there" (as opposed to one that is unreachable
/// for another reason, which autostart cannot fix).
pub fn nobody_listens(e: &ProtoError) -> bool {
    use std::io::ErrorKind::{ConnectionRefused, NotFound};
    matches!(e, ProtoError::Connect { source, .. } if matches!(source.kind(), NotFound | ConnectionRefused))
}

/// A connection error as a [`Failure`] with its exit code (6 for all the connect kinds). A
/// timeout says which step went unanswered, since "connection timed out" alone does not tell
/// a wedged daemon from a missing one.
pub fn connect_failure(ctx: &Ctx, e: ProtoError) -> Failure {
    if is_timeout(&e) {
        let what = match e {
            ProtoError::Connect { .. } => "did not accept the connection",
            _ => "accepted the connection but did not answer `hello`",
        };
        return Failure::unavailable(format!(
            "capd on {} {what} within {}; it may be wedged: see its log at {} and restart it \
             with `cap daemon restart` (set {} to wait longer)",
            ctx.socket.display(),
            crate::timeouts::show(ctx.timeouts.connect),
            cap_proto::paths::log_file().display(),
            crate::timeouts::CONNECT_ENV,
        ));
    }
    Failure::new(proto_exit_code(&e), e.to_string())
}

/// Polls the socket until the handshake succeeds, the child fails, or time runs out.
fn wait_for(ctx: &Ctx, mut child: Child, log_before: u64) -> anyhow::Result<Conn> {
    let mut deadline = Instant::now() + START_TIMEOUT;
    let mut pause = BACKOFF_START;
    let mut exited = None;
    let mut last_error: ProtoError;
    loop {
        match try_connect(ctx) {
            Ok(conn) => {
                // Reap the child whenever it exits (at once when it daemonizes by forking).
                std::thread::spawn(move || child.wait());
                return Ok(conn);
            }
            Err(e @ ProtoError::VersionMismatch { .. }) => {
                return Err(connect_failure(ctx, e).into());
            }
            Err(e) => last_error = e,
        }
        if exited.is_none()
            && let Ok(Some(status)) = child.try_wait()
            && !status.success()
        {
            // Another cap may have won the race to start the daemon, so give it a moment
            // before blaming the failed start.
            exited = Some(status);
            deadline = deadline.min(Instant::now() + Duration::from_secs(1));
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(BACKOFF_CAP);
    }
    let log = cap_proto::paths::log_file();
    let why = match (exited, last_error) {
        (Some(status), _) => match last_error_in(&log, log_before) {
            Some(error) => format!("capd exited ({status}) before answering:\n{error}\n"),
            None => format!("capd exited ({status}) before answering"),
        },
        (None, e) if !nobody_listens(&e) => format!("capd did not answer: {e}"),
        _ => format!(
            "capd did not answer on {} within {} s",
            ctx.socket.display(),
            START_TIMEOUT.as_secs()
        ),
    };
    // capd's own error, when there is one, ends with a line break: the hint goes below it.
    let sep = if why.ends_with('\n') { "" } else { "; " };
    Err(Failure::unavailable(format!(
        "{why}{sep}see its log at {} or run it in the foreground: capd --socket {}",
        log.display(),
        ctx.socket.display()
    ))
    .into())
}

/// The last error capd logged after byte `from` (the reason a start failed, such as a
/// config it refused), from its `ERROR` line to the end of the log, at most a few lines.
fn last_error_in(log: &Path, from: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    // A failed start logs a few lines; the log itself may be large, so read only its end.
    const TAIL: u64 = 64 * 1024;
    let mut file = std::fs::File::open(log).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(from.max(len.saturating_sub(TAIL))))
        .ok()?;
    let mut bytes = Vec::new();
    file.take(TAIL).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let at = text.rfind(" ERROR ")?;
    let error = text[at + " ERROR ".len()..].trim();
    let error = error.strip_prefix("capd: ").unwrap_or(error);
    let lines: Vec<&str> = error.lines().take(12).collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// Starts `capd --socket S --detach [--config F]` with no stdio, in its own process group.
fn spawn(capd: &Path, ctx: &Ctx) -> std::io::Result<Child> {
    let mut cmd = Command::new(capd);
    cmd.arg("--socket").arg(&ctx.socket).arg("--detach");
    if let Some(config) = &ctx.config {
        cmd.arg("--config").arg(config);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd.spawn()
}

/// The `capd` beside the running `cap` (so a build or an install directory stays
/// self-consistent), else the first one on `PATH`.
pub fn find_capd() -> Option<PathBuf> {
    let name = format!("capd{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)))
        .filter(|p| is_executable(p));
    beside.or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(&name))
            .find(|p| is_executable(p))
    })
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(socket: PathBuf) -> Ctx {
        Ctx {
            format: crate::cli::Format::Text,
            verbose: 0,
            socket,
            config: None,
            autostart: false,
            timeouts: crate::timeouts::Timeouts {
                connect: Duration::from_millis(200),
                ..Default::default()
            },
            host: None,
        }
    }

    #[test]
    fn missing_socket_means_nobody_listens() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path().join("none.sock"));
        let err = try_connect(&ctx).err().expect("nothing listens there");
        assert!(nobody_listens(&err), "{err}");
        assert_eq!(connect_failure(&ctx, err).code, 6);
    }

    #[cfg(unix)]
    #[test]
    fn a_daemon_that_never_says_hello_times_out_with_exit_6() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ctx(dir.path().join("mute.sock"));
        // The backlog accepts the connection; nobody ever reads from it.
        let _listener = std::os::unix::net::UnixListener::bind(&ctx.socket).unwrap();
        let err = try_connect(&ctx).err().expect("nobody answers");
        assert!(!nobody_listens(&err), "{err}");
        let f = connect_failure(&ctx, err);
        assert_eq!(f.code, 6);
        assert!(
            f.message.contains("did not answer `hello`"),
            "{}",
            f.message
        );
    }

    #[test]
    fn executables_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("capd");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        assert!(!is_executable(&f) || cfg!(not(unix)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert!(is_executable(&f));
        }
        assert!(!is_executable(dir.path()));
    }
}
