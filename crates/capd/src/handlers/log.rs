//! `log`: a transcript's records (a streaming reply: `record`s, then `done`). With `follow`
//! on a live session, the records of its later turns follow as they are written, until the
//! session ends or the client goes away.
//!
//! The transcript is found by daemon session id, by native id (live or not), or by key: the
//! key's current agent and the native id its record remembers, so a conversation whose
//! session was swept, evicted or lost to a daemon restart can still be read.

use crate::daemon::Daemon;
use crate::server::Out;
use crate::session::SessionHandle;
use crate::transcript;
use cap_proto::reply::Done;
use cap_proto::request::LogRequest;
use cap_proto::transcript::last_turns;
use cap_proto::{ErrorBody, ErrorCode, Reply};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

pub async fn handle(d: &Arc<Daemon>, id: u64, r: LogRequest, out: &Out) {
    let (path, live) = match resolve(d, &r) {
        Ok(found) => found,
        Err(e) => {
            out.send(id, Reply::Error(e)).await;
            return;
        }
    };
    // Subscribe before reading: the actor says how much of the file was written by then, so
    // no record is sent twice and none is missed.
    let following = match (&live, r.follow) {
        (Some(h), true) => h.follow().await,
        _ => None,
    };
    drop(live);
    let (path, limit) = match &following {
        Some(f) => (f.path.clone().or(path), Some(f.len)),
        None => (path, None),
    };
    let read = match path {
        Some(p) => tokio::task::spawn_blocking(move || transcript::read(&p, limit))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e))),
        None => Ok(Vec::new()),
    };
    let records = match read {
        Ok(records) => records,
        Err(e) => {
            let e = ErrorBody::new(
                ErrorCode::Unavailable,
                format!("cannot read the transcript: {e}"),
            );
            out.send(id, Reply::Error(e)).await;
            return;
        }
    };
    let records = match r.turns {
        Some(n) => last_turns(records, n),
        None => records,
    };
    for rec in records {
        if !out.send(id, Reply::Record(rec)).await {
            return;
        }
    }
    let mut message = "end of the transcript".to_string();
    if let Some(mut f) = following {
        loop {
            match f.rx.recv().await {
                Ok(rec) => {
                    if !out.send(id, Reply::Record(rec)).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => tracing::warn!("log --follow fell {n} records behind"),
                Err(RecvError::Closed) => break,
            }
        }
        message = "the session ended".into();
    } else if r.follow {
        message = "no live session serves this conversation; nothing more to follow".into();
    }
    let done = Done {
        message,
        changed: false,
    };
    out.send(id, Reply::Done(done)).await;
}

/// The transcript file a request names, and the live session writing it (if any).
fn resolve(
    d: &Daemon,
    r: &LogRequest,
) -> Result<(Option<PathBuf>, Option<SessionHandle>), ErrorBody> {
    let Some(dir) = d.transcripts() else {
        return Err(ErrorBody::new(
            ErrorCode::Usage,
            "transcripts are off (`transcripts = false` in the config); nothing was recorded",
        ));
    };
    let state = d.lock();
    let of = |h: &SessionHandle, fallback: Option<String>| {
        let native = h.snapshot().native_id.or(fallback);
        let path = native.and_then(|n| transcript::path(&dir, &h.agent, &n));
        (path, Some(h.clone()))
    };
    if let Some(s) = &r.session {
        if let Some(h) = state.sessions.get(s) {
            return Ok(of(h, None));
        }
        let by_native = state
            .sessions
            .values()
            .find(|h| h.snapshot().native_id.as_deref() == Some(s.as_str()));
        if let Some(h) = by_native {
            return Ok(of(h, None));
        }
        drop(state);
        return match transcript::find(&dir, s) {
            Some((_, p)) => Ok((Some(p), None)),
            None => Err(ErrorBody::new(
                ErrorCode::NotFound,
                format!(
                    "no live session and no transcript with id {s}; `cap keys` lists remembered conversations"
                ),
            )),
        };
    }
    let key = super::key_of(r.key.as_deref(), r.cwd.as_deref())?;
    let live = state.live();
    let not_found = || {
        ErrorBody::new(
            ErrorCode::NotFound,
            format!("key {key} has no recorded conversation; `cap keys` lists the keys"),
        )
    };
    let agent = state
        .table
        .current_agent(&key, &live)
        .ok_or_else(not_found)?;
    let remembered = state
        .table
        .record(&key, &agent)
        .and_then(|rec| rec.native_id.clone());
    if let Some((sid, _)) = state.table.warm(&key, &agent, &live)
        && let Some(h) = state.sessions.get(&sid)
    {
        return Ok(of(h, remembered));
    }
    let native = remembered.ok_or_else(not_found)?;
    Ok((transcript::path(&dir, &agent, &native), None))
}
