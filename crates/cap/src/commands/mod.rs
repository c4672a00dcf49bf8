//! One module per verb. Each builds its request, talks to the daemon and prints the reply in
//! the chosen format.

pub mod agents;
pub mod attach;
pub mod bind;
pub mod budget;
pub mod cancel;
pub mod completions;
pub mod config;
pub mod daemon;
pub mod decide;
pub mod end;
pub mod export;
pub mod fork;
pub mod gc;
pub mod keys;
pub mod log;
pub mod mcp;
pub mod open;
pub mod prompt;
pub mod result;
pub mod sessions;
pub mod show;
pub mod unbind;

use crate::Ctx;
use crate::cli::Format;
use crate::connect::connect;
use crate::failure::Failure;
use crate::link::{Incoming, Link, Silent};
use crate::{output, wire};
use cap_proto::client::{Client, Received};
use cap_proto::reply::Reply;
use cap_proto::request::{Op, Request};
use cap_proto::{MAX_LINE, ProtoError};

/// The answer to a one-reply request: decoded, and as the daemon sent it.
pub struct Answer {
    pub reply: Reply,
    /// The reply line's text.
    text: String,
}

impl Answer {
    /// Prints the reply's payload for `--format json` exactly as the daemon sent it, so the
    /// fields a newer daemon added reach scripts even through an older `cap`.
    pub fn print_json(&self) -> anyhow::Result<()> {
        output::println(wire::payload(&self.text))
    }
}

/// Connects (autostarting when allowed) and makes one request with one reply.
pub fn call(ctx: &Ctx, op: Op) -> anyhow::Result<Answer> {
    let conn = connect(ctx)?;
    call_on(ctx, conn.client, op)
}

/// Makes one request with one reply on an open connection. An error reply, or an error with
/// id 0 (the daemon could not parse a line, likely this request), is the request's failure.
/// The wait is kept bounded by pinging (see [`crate::link`]): `open` may take a minute to
/// start an agent, but a daemon that stopped answering must not hold `cap` forever.
pub fn call_on(ctx: &Ctx, client: Client, op: Op) -> anyhow::Result<Answer> {
    let mut answer = None;
    call_each(ctx, client, op, |a| {
        answer = Some(a);
        Ok(false)
    })?;
    answer.ok_or_else(|| Failure::runtime("capd sent no reply").into())
}

/// Makes one request whose reply may come in parts: `each` gets every reply with the
/// request's id, in order, and says whether more follow (`keys` streams). Errors, oversized
/// lines and a silent daemon end it as in [`call_on`].
pub fn call_each(
    ctx: &Ctx,
    client: Client,
    op: Op,
    mut each: impl FnMut(Answer) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let name = op.name();
    let mut link: Link<()> = Link::new(client, ctx.timeouts);
    let id = link.send(op)?;
    loop {
        let line = match link.recv() {
            Ok(Incoming::Line(Err(ProtoError::LineTooLong { .. }))) => {
                // Only the reply and the answers to (small) pings come on this connection, so
                // this was the reply.
                return Err(Failure::runtime(format!(
                    "capd's reply to `{name}` was longer than the {} MiB limit of its socket, \
                     so cap had to drop it",
                    MAX_LINE / (1024 * 1024)
                ))
                .into());
            }
            Ok(Incoming::Line(line)) => line?,
            Ok(Incoming::Local(())) => continue,
            Err(silent) => return Err(stopped_answering(ctx, silent, name).into()),
        };
        let Received { text, response } = *line;
        match response {
            Ok(resp) => match resp.reply {
                Reply::Error(body) if resp.id == id || resp.id == 0 => {
                    return Err(ProtoError::Remote(body).into());
                }
                reply if resp.id == id => {
                    if !each(Answer { reply, text })? {
                        return Ok(());
                    }
                }
                _ => continue,
            },
            Err(e) => {
                let parts = wire::parts(&text);
                match (parts.id, parts.kind.as_deref(), parts.payload) {
                    (Some(got), Some("error"), Some(raw)) if got == id || got == 0 => {
                        return Err(ProtoError::Remote(wire::lenient_error(raw)).into());
                    }
                    (Some(got), ..) if got == id => {
                        return Err(Failure::runtime(format!(
                            "capd's reply to `{name}` cannot be read by this cap ({e}); \
                             `cap daemon restart` if capd was updated"
                        ))
                        .into());
                    }
                    _ => continue,
                }
            }
        }
    }
}

/// Refuses, before anything is sent, a request whose line would exceed the protocol's
/// [`MAX_LINE`]: the daemon could only answer it with an error, after cap had written up to
/// 16 MiB for nothing. A usage error (exit 2) that names both sizes.
pub fn ensure_fits(op: &Op) -> Result<(), Failure> {
    let line = cap_proto::framing::encode(&Request {
        // The widest id there is, so the measure holds whatever id the request gets.
        id: u64::MAX,
        op: op.clone(),
    })
    .map_err(|e| Failure::runtime(format!("cannot encode the `{}` request: {e}", op.name())))?;
    if line.len() <= MAX_LINE {
        return Ok(());
    }
    let mib = |n: usize| n as f64 / (1024.0 * 1024.0);
    Err(Failure::usage(format!(
        "the `{}` request is too large to send: it would be {:.1} MiB ({} bytes), over the \
         {:.0} MiB ({MAX_LINE}-byte) line limit of capd's socket; shorten the prompt (or the \
         --preamble file), or save the material to a file and ask the agent to read it",
        op.name(),
        mib(line.len()),
        line.len(),
        mib(MAX_LINE),
    )))
}

/// The failure for a daemon that answered neither a request nor a ping in time.
pub fn stopped_answering(ctx: &Ctx, silent: Silent, op: &str) -> Failure {
    Failure::unavailable(format!(
        "capd on {} stopped answering: nothing for {} while waiting for `{op}`, not even a \
         reply to a `status` ping; it may be wedged: see its log at {} and restart it with \
         `cap daemon restart` (set {} to wait longer)",
        ctx.socket.display(),
        crate::timeouts::show(silent.0),
        cap_proto::paths::log_file().display(),
        crate::timeouts::PING_TIMEOUT_ENV,
    ))
}

/// Prints a plain acknowledgement: the daemon's `Done` message, or `fallback` when the daemon
/// answers with the affected session instead. Nothing in `quiet`.
pub fn acknowledge(ctx: &Ctx, op: &str, answer: &Answer, fallback: &str) -> anyhow::Result<()> {
    let message = match &answer.reply {
        Reply::Done(done) if !done.message.is_empty() => done.message.as_str(),
        Reply::Done(_) | Reply::Session(_) => fallback,
        other => return Err(output::unexpected(op, other)),
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => Ok(()),
        Format::Text => output::println(message),
    }
}
