//! `cap end [ID] | --key KEY`: end a session and say how to resume it later.

use crate::Ctx;
use crate::cli::{Format, TargetArgs};
use crate::output::{self, resume_hint};
use cap_proto::reply::Reply;
use cap_proto::request::Op;

pub fn run(ctx: &Ctx, args: TargetArgs) -> anyhow::Result<()> {
    let target = crate::route::target(&args)?;
    let answer = super::call(ctx, Op::End(target))?;
    let reply = &answer.reply;
    let Reply::Ended(ended) = reply else {
        return Err(output::unexpected("end", reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => match &ended.native_id {
            Some(native) => output::println(native),
            None => Ok(()),
        },
        Format::Text => {
            let mut text = format!("ended session {} (agent {})\n", ended.session, ended.agent);
            if let Some(native) = &ended.native_id {
                text.push_str(&format!(
                    "resume later with: {}\n",
                    resume_hint(&ended.agent, native, &ended.cwd)
                ));
            }
            output::print(&text)
        }
    }
}
