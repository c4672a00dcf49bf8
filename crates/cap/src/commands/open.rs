//! `cap open`: open (or reuse) a session without prompting and bind it to the key.

use crate::Ctx;
use crate::cli::{Format, OpenArgs};
use crate::output;
use crate::render::note;
use cap_proto::event::How;
use cap_proto::reply::Reply;
use cap_proto::request::{Op, OpenRequest};

pub fn run(ctx: &Ctx, args: OpenArgs) -> anyhow::Result<()> {
    let route = crate::route::route(&args.route)?;
    let op = Op::Open(OpenRequest {
        route,
        no_bind: args.no_bind,
    });
    // A huge --preamble must fail here, with the sizes, not as the daemon's rejection.
    super::ensure_fits(&op)?;
    let answer = super::call(ctx, op)?;
    let reply = &answer.reply;
    let Reply::Session(info) = reply else {
        return Err(output::unexpected("open", reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => output::println(&info.id),
        Format::Text => {
            let how = match info.how {
                Some(How::Opened) | None => "opened",
                Some(How::Reused) => "reused",
                Some(How::Resumed) => "resumed",
                Some(How::Continued) => "continued",
                Some(How::Unparked) => "unparked",
                Some(How::Forked) => "forked",
            };
            let mut line = format!("{} session {how}", info.agent);
            if let Some(key) = info.keys.first() {
                line.push_str(&format!(", bound to {key}"));
            }
            if let Some(native) = &info.native_id {
                line.push_str(&format!(" (native id {native})"));
            }
            note(ctx, &line);
            output::println(&info.id)
        }
    }
}
