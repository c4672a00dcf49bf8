//! `cap result ID`: the last finished turn's result, e.g. after `prompt --no-wait` or a
//! client that went away mid-turn.

use crate::Ctx;
use crate::cli::Format;
use crate::failure::Failure;
use crate::output;
use cap_proto::event::Event;
use cap_proto::reply::Reply;
use cap_proto::request::{Op, SessionRef};

pub fn run(ctx: &Ctx, id: String) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Result(SessionRef { session: id }))?;
    let reply = &answer.reply;
    let Reply::Event(env) = reply else {
        return Err(output::unexpected("result", reply));
    };
    if ctx.format == Format::Json {
        answer.print_json()?;
    }
    match &env.event {
        Event::Result(r) => match ctx.format {
            Format::Json => Ok(()),
            // A `--schema` prompt's answer: the validated value, as `prompt` printed it.
            Format::Quiet | Format::Text if r.structured.is_some() => output::println(
                &r.structured
                    .as_ref()
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            ),
            Format::Quiet | Format::Text if r.output.is_empty() || r.output.ends_with('\n') => {
                output::print(&r.output)
            }
            Format::Quiet | Format::Text => output::println(&r.output),
        },
        // The last turn failed: report it the way `prompt` would have.
        Event::Error(body) => Err(Failure::from(body.clone()).into()),
        _ => Err(output::unexpected("result", reply)),
    }
}
