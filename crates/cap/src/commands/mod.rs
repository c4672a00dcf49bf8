//! One module per verb. Each builds its request, talks to the daemon and prints the reply in
//! the chosen format.

pub mod agents;
pub mod attach;
pub mod bind;
pub mod cancel;
pub mod completions;
pub mod config;
pub mod daemon;
pub mod end;
pub mod gc;
pub mod keys;
pub mod open;
pub mod prompt;
pub mod result;
pub mod sessions;
pub mod show;
pub mod unbind;

use crate::Ctx;
use crate::cli::Format;
use crate::connect::connect;
use crate::output;
use cap_proto::reply::Reply;
use cap_proto::request::Op;

/// Connects (autostarting when allowed) and makes one request with one reply.
pub fn call(ctx: &Ctx, op: Op) -> anyhow::Result<Reply> {
    let mut conn = connect(ctx)?;
    Ok(conn.client.call(op)?)
}

/// Prints a plain acknowledgement: the daemon's `Done` message, or `fallback` when the daemon
/// answers with the affected session instead. Nothing in `quiet`.
pub fn acknowledge(ctx: &Ctx, op: &str, reply: &Reply, fallback: &str) -> anyhow::Result<()> {
    let message = match reply {
        Reply::Done(done) if !done.message.is_empty() => done.message.as_str(),
        Reply::Done(_) | Reply::Session(_) => fallback,
        other => return Err(output::unexpected(op, other)),
    };
    match ctx.format {
        Format::Json => output::print_json(&output::payload(reply)),
        Format::Quiet => Ok(()),
        Format::Text => output::println(message),
    }
}
