//! `cap --host H daemon start|stop|restart`: the same verbs for a capd on another machine.
//!
//! Locally `stop` watches the pid and the socket, and `start` spawns capd; neither means
//! anything across ssh. Instead the far side's `dial-stdio` starts capd (as for any remote
//! command), and `stop` waits for its own connection to close, which happens once the
//! daemon has finished shutting down (and released its socket for the next one).

use crate::Ctx;
use crate::cli::Format;
use crate::connect::Conn;
use crate::failure::Failure;
use crate::output::{self, print_json};
use crate::remote::{self, Host};
use cap_proto::ProtoError;
use cap_proto::request::Op;
use serde_json::json;
use std::time::Duration;

/// How long `stop` waits for the daemon to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// The exit code of the far side's `cap` when no daemon answers (SPEC: daemon unavailable).
const UNAVAILABLE: i32 = 6;

pub fn start(ctx: &Ctx, host: &Host) -> anyhow::Result<()> {
    let conn = remote::connect(ctx, host, true)?;
    report_running(ctx, host, &conn, "capd running")
}

pub fn restart(ctx: &Ctx, host: &Host) -> anyhow::Result<()> {
    let old = stop_quietly(ctx, host)?;
    if let (Format::Text, Some(pid)) = (ctx.format, old) {
        output::println(&format!("capd stopped (pid {pid}) on {host}"))?;
    }
    let conn = remote::connect(ctx, host, true)?;
    report_running(ctx, host, &conn, "capd started")
}

pub fn stop(ctx: &Ctx, host: &Host) -> anyhow::Result<()> {
    let stopped = stop_quietly(ctx, host)?;
    match (ctx.format, stopped) {
        (Format::Json, Some(pid)) => print_json(&json!({"stopped": true, "pid": pid})),
        (Format::Json, None) => print_json(&json!({"stopped": false, "running": false})),
        (Format::Quiet, _) => Ok(()),
        (Format::Text, Some(pid)) => {
            output::println(&format!("capd stopped (pid {pid}) on {host}"))
        }
        (Format::Text, None) => output::println(&format!("capd is not running on {host}")),
    }
}

fn report_running(ctx: &Ctx, host: &Host, conn: &Conn, what: &str) -> anyhow::Result<()> {
    let pid = conn.hello.pid;
    match ctx.format {
        Format::Json => print_json(&json!({
            "pid": pid,
            "version": conn.hello.daemon_version,
            "host": host.label,
        })),
        Format::Quiet => output::println(&pid.to_string()),
        Format::Text => output::println(&format!(
            "{what} (pid {pid}, version {}) on {host}",
            conn.hello.daemon_version
        )),
    }
}

/// Asks the remote daemon to stop and waits until it is gone; `None` when none answered.
fn stop_quietly(ctx: &Ctx, host: &Host) -> anyhow::Result<Option<u32>> {
    let Conn { mut client, hello } = match remote::connect_or_why(ctx, host, false) {
        Ok(conn) => conn,
        Err(why) if why.ssh_exit == Some(UNAVAILABLE) => return Ok(None),
        Err(why) => return Err(why.failure.into()),
    };
    match client.call(Op::Stop) {
        Ok(_) | Err(ProtoError::Closed) => {}
        Err(e) => return Err(Failure::unavailable(format!("capd on {host}: {e}")).into()),
    }
    // The connection closes when the daemon process ends; read until then.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        while client.recv_line().is_ok() {}
        let _ = tx.send(());
    });
    rx.recv_timeout(STOP_TIMEOUT).map_err(|_| {
        Failure::runtime(format!(
            "capd (pid {}) on {host} is still running {} s after being asked to stop",
            hello.pid,
            STOP_TIMEOUT.as_secs()
        ))
    })?;
    Ok(Some(hello.pid))
}
