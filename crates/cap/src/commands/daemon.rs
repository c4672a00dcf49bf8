//! `cap daemon start|stop|restart|status` (and `dial-stdio`, `install-service`). `stop` and `status` never autostart: starting a
//! daemon only to stop it or to report on it would be absurd.

use crate::Ctx;
use crate::cli::{DaemonAction, Format};
use crate::connect::{self, connect_failure, nobody_listens, probe, try_connect};
use crate::failure::Failure;
use crate::output::{self, bytes, limit_secs, print_json, secs};
use cap_proto::ProtoError;
use cap_proto::client::is_timeout;
use cap_proto::reply::{DaemonStatus, Reply};
use cap_proto::request::Op;
use serde_json::json;
use std::time::{Duration, Instant};

/// How long `stop` waits for the daemon to go quiet.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

mod dial_stdio;
mod remote;
mod service;

pub fn run(ctx: &Ctx, action: DaemonAction) -> anyhow::Result<()> {
    if let Some(host) = &ctx.host {
        match action {
            DaemonAction::Start => return remote::start(ctx, host),
            DaemonAction::Stop => return remote::stop(ctx, host),
            DaemonAction::Restart => return remote::restart(ctx, host),
            DaemonAction::Status | DaemonAction::DialStdio => {}
            DaemonAction::InstallService(_) => {
                return Err(Failure::usage(format!(
                    "install-service sets up this machine; to set up {host}, run it there: \
                     ssh {} cap daemon install-service",
                    host.host
                ))
                .into());
            }
        }
    }
    match action {
        DaemonAction::Start => start(ctx),
        DaemonAction::Stop => {
            let stopped = stop(ctx)?;
            match (ctx.format, stopped) {
                (Format::Json, Some(pid)) => print_json(&json!({"stopped": true, "pid": pid})),
                (Format::Json, None) => print_json(&json!({"stopped": false, "running": false})),
                (Format::Quiet, _) => Ok(()),
                (Format::Text, Some(pid)) => output::println(&format!("capd stopped (pid {pid})")),
                (Format::Text, None) => output::println("capd is not running"),
            }
        }
        DaemonAction::Restart => {
            let stopped = stop(ctx)?;
            if let (Format::Text, Some(old)) = (ctx.format, stopped) {
                output::println(&format!("capd stopped (pid {old})"))?;
            }
            let conn = connect::start(ctx)?;
            let pid = conn.hello.pid;
            match ctx.format {
                Format::Json => print_json(&json!({
                    "stopped": stopped,
                    "started": pid,
                    "socket": ctx.socket,
                })),
                Format::Quiet => output::println(&pid.to_string()),
                Format::Text => output::println(&format!(
                    "capd started (pid {pid}) on {}",
                    ctx.socket.display()
                )),
            }
        }
        DaemonAction::Status => status(ctx),
        DaemonAction::DialStdio => dial_stdio::run(ctx),
        DaemonAction::InstallService(args) => service::run(ctx, args),
    }
}

fn start(ctx: &Ctx) -> anyhow::Result<()> {
    let (conn, started) = match probe(ctx)? {
        Some(conn) => (conn, false),
        None => (connect::start(ctx)?, true),
    };
    let pid = conn.hello.pid;
    match ctx.format {
        Format::Json => print_json(&json!({
            "started": started,
            "pid": pid,
            "version": conn.hello.daemon_version,
            "socket": ctx.socket,
        })),
        Format::Quiet => output::println(&pid.to_string()),
        Format::Text if started => output::println(&format!(
            "capd started (pid {pid}) on {}",
            ctx.socket.display()
        )),
        Format::Text => output::println(&format!("capd already running (pid {pid})")),
    }
}

/// Stops the daemon if one runs; returns its pid, or `None` when none was running.
fn stop(ctx: &Ctx) -> anyhow::Result<Option<u32>> {
    let pid = match try_connect(ctx) {
        Ok(conn) => {
            let pid = conn.hello.pid;
            match super::call_on(ctx, conn.client, Op::Stop) {
                Ok(_) => {}
                // The daemon replies before shutting down, but a quick one may hang up first.
                Err(e) if matches!(e.downcast_ref(), Some(ProtoError::Closed)) => {}
                Err(e) => return Err(e),
            }
            pid
        }
        Err(e) if nobody_listens(&e) => return Ok(None),
        // A daemon from another build, or one too wedged to answer, cannot be asked politely:
        // signal it by its pid file.
        Err(e @ (ProtoError::VersionMismatch { .. } | ProtoError::Remote(_))) => terminate(ctx, e)?,
        Err(e) if is_timeout(&e) => terminate(ctx, e)?,
        Err(e) => return Err(connect_failure(ctx, e).into()),
    };
    wait_gone(ctx, pid)?;
    Ok(Some(pid))
}

/// Sends SIGTERM to the pid in the daemon's pid file.
fn terminate(ctx: &Ctx, why: ProtoError) -> anyhow::Result<u32> {
    let pid_file = cap_proto::paths::pid_file(&ctx.socket);
    let pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|p| *p > 0);
    let Some(pid) = pid else {
        return Err(Failure::unavailable(format!(
            "{why}; and there is no readable pid file at {} to stop it by",
            pid_file.display()
        ))
        .into());
    };
    use nix::sys::signal::{Signal, kill};
    kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM).map_err(|e| {
        Failure::unavailable(format!("{why}; and signalling pid {pid} failed: {e}"))
    })?;
    Ok(pid.unsigned_abs())
}

/// Waits until the process has exited and its socket no longer answers as it (so that a
/// following `start` does not find the old daemon's pid file still guarded).
///
/// A daemon that exits normally removes its pid file, which settles it without connecting:
/// under socket activation (`cap daemon install-service`) a connection to the socket would
/// start the next capd at once. Only a pid file left behind sends a probe, and a daemon that
/// answers with another pid is a successor, not the one being stopped.
fn wait_gone(ctx: &Ctx, pid: u32) -> anyhow::Result<()> {
    let deadline = Instant::now() + STOP_TIMEOUT;
    let alive = || running(pid);
    let pid_file = cap_proto::paths::pid_file(&ctx.socket);
    let still_claimed = || {
        std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            == Some(pid)
    };
    let answers_as_old = || try_connect(ctx).is_ok_and(|c| c.hello.pid == pid);
    loop {
        if !alive() && (!still_claimed() || !answers_as_old()) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(Failure::runtime(format!(
        "capd (pid {pid}) is still running {} s after being asked to stop; end it with `kill {pid}`",
        STOP_TIMEOUT.as_secs()
    ))
    .into())
}

fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let Some(conn) = probe(ctx)? else {
        return Err(Failure::unavailable(format!(
            "capd is not running (nothing listens on {}); start it with `cap daemon start`",
            ctx.socket.display()
        ))
        .into());
    };
    let answer = super::call_on(ctx, conn.client, Op::Status)?;
    let Reply::Status(st) = &answer.reply else {
        return Err(output::unexpected("status", &answer.reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => output::println(&st.pid.to_string()),
        Format::Text => output::print(&render(st)),
    }
}

fn render(st: &DaemonStatus) -> String {
    let config = match &st.config_file {
        Some(p) => p.display().to_string(),
        None => "(none: built-in defaults)".into(),
    };
    let fields = [
        ("socket", st.socket.display().to_string()),
        ("state file", st.state_file.display().to_string()),
        ("config file", config),
        (
            "sessions",
            format!(
                "{} live ({} busy, {} parked) in {} agent process(es), at most {}{}",
                st.sessions,
                st.busy,
                st.parked,
                st.agent_processes,
                st.max_sessions,
                match st.spares {
                    0 => String::new(),
                    n => format!("; {n} prewarmed spare(s)"),
                }
            ),
        ),
        ("idle timeout", limit_secs(st.idle_timeout_secs, "never")),
        ("prompt timeout", limit_secs(st.prompt_timeout_secs, "none")),
        ("queue depth", st.queue_depth.to_string()),
        (
            "agent memory",
            match (st.agent_memory, st.max_agent_memory) {
                (None, _) => "not measured on this system".into(),
                (used, Some(max)) => format!("{} of {} at most", bytes(used), bytes(Some(max))),
                (used, None) => format!("{} (no limit)", bytes(used)),
            },
        ),
    ];
    let mut text = format!(
        "capd {} (protocol {}), pid {}, up {}\n",
        st.version,
        st.protocol,
        st.pid,
        secs(st.uptime_secs)
    );
    for (k, v) in fields {
        text.push_str(&format!("{:<16}{v}\n", format!("{k}:")));
    }
    text
}

/// Whether a process runs. A zombie counts as gone: a daemon started by an earlier `cap` is
/// reaped by whatever adopted it, which may take its time.
fn running(pid: u32) -> bool {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next());
        return !matches!(state, Some("Z") | Some("X") | None);
    }
    i32::try_from(pid)
        .ok()
        .is_some_and(|p| nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok())
}
