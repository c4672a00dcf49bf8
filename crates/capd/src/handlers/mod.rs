//! Request dispatch: one exhaustive `match`, one file per verb.
//!
//! Handlers are plain functions that take the daemon and the typed payload and return a
//! [`Reply`]. The exceptions are documented where they are handled: `prompt`, `attach` and
//! `log` stream, and `stop` replies before shutting down so the client always hears back.

mod agents;
mod attach;
mod bind;
mod cancel;
mod config;
mod decide;
mod end;
mod fork;
mod gc;
mod keys;
mod log;
mod open;
mod prompt;
mod reset_budget;
mod result;
mod sessions;
mod show;
mod status;
mod unbind;

use crate::daemon::Daemon;
use crate::server::Out;
use cap_proto::reply::Done;
use cap_proto::request::{Op, TargetRequest};
use cap_proto::{ErrorBody, ErrorCode, Reply};
use std::sync::Arc;

/// Runs one request and sends its reply (or reply stream).
pub async fn dispatch(d: &Arc<Daemon>, id: u64, op: Op, out: &Out) {
    tracing::debug!(id, op = op.name(), "request");
    let reply = match op {
        Op::Hello(_) => Reply::error(
            ErrorCode::Protocol,
            "hello was already received on this connection",
        ),
        // Streams: these send their own replies.
        Op::Prompt(p) => return prompt::handle(d, id, p, out).await,
        Op::Attach(r) => return attach::handle(d, id, r, out).await,
        Op::Log(r) => return log::handle(d, id, r, out).await,
        Op::Open(o) => open::handle(d, o).await,
        Op::Sessions => sessions::handle(d),
        Op::Show(r) => show::handle(d, r),
        Op::End(t) => end::handle(d, t).await,
        Op::Bind(b) => bind::handle(d, b).await,
        Op::Unbind(k) => unbind::handle(d, k).await,
        Op::ResetBudget(k) => reset_budget::handle(d, k),
        Op::Keys(r) => return keys::handle(d, id, r, out).await,
        Op::Cancel(t) => cancel::handle(d, t).await,
        Op::Result(r) => result::handle(d, r),
        Op::Decide(r) => decide::handle(d, r).await,
        Op::Fork(f) => fork::handle(d, f).await,
        Op::Status => status::handle(d),
        Op::Gc => gc::handle(d).await,
        Op::Agents => agents::handle(d).await,
        Op::Config => config::handle(d),
        Op::Stop => {
            // Reply first and wait for it to be written: once shutdown starts, the client
            // would never hear back.
            let done = Done {
                message: "capd is shutting down".into(),
                changed: true,
            };
            out.send(id, Reply::Done(done)).await;
            out.flush().await;
            d.shutdown.send_replace(true);
            return;
        }
    };
    out.send(id, reply).await;
}

/// Turns a handler's result into a reply.
fn reply(r: Result<Reply, ErrorBody>) -> Reply {
    r.unwrap_or_else(Reply::Error)
}

/// The session a `TargetRequest` names: by id, else the one bound to the key, else the one
/// bound to the default key of `cwd`.
fn target(d: &Daemon, t: &TargetRequest) -> Result<String, ErrorBody> {
    if let Some(s) = &t.session {
        return Ok(s.clone());
    }
    d.session_for_key(&key_of(t.key.as_deref(), t.cwd.as_deref())?)
}

/// The key a request names, or the default key of the cwd it sent.
fn key_of(key: Option<&str>, cwd: Option<&std::path::Path>) -> Result<String, ErrorBody> {
    match (key, cwd) {
        (Some(k), _) => Ok(k.to_string()),
        (None, Some(cwd)) => Ok(cap_proto::key::default_key(cwd)),
        (None, None) => Err(ErrorBody::new(
            ErrorCode::Usage,
            "name a session id, a --key, or send a cwd",
        )),
    }
}
