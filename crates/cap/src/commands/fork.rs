//! `cap fork [ID | --from KEY] --key NEW`: a new session whose conversation starts as a copy
//! of another's, bound to NEW. The source session is untouched.

use crate::Ctx;
use crate::cli::{ForkArgs, Format};
use crate::output;
use crate::render::note;
use cap_proto::reply::Reply;
use cap_proto::request::{ForkRequest, Op, TargetRequest};

pub fn run(ctx: &Ctx, args: ForkArgs) -> anyhow::Result<()> {
    let source = match (&args.id, &args.from) {
        (Some(id), _) => TargetRequest {
            session: Some(id.clone()),
            ..TargetRequest::default()
        },
        (None, Some(from)) => TargetRequest {
            key: Some(from.clone()),
            ..TargetRequest::default()
        },
        (None, None) => TargetRequest {
            cwd: Some(crate::route::cwd(None)?),
            ..TargetRequest::default()
        },
    };
    let op = Op::Fork(ForkRequest {
        source,
        to_key: args.key.clone(),
    });
    let answer = super::call(ctx, op)?;
    let reply = &answer.reply;
    let Reply::Session(info) = reply else {
        return Err(output::unexpected("fork", reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => output::println(&info.id),
        Format::Text => {
            let mut line = format!("{} session forked, bound to {}", info.agent, args.key);
            if let Some(native) = &info.native_id {
                line.push_str(&format!(" (native id {native})"));
            }
            note(ctx, &line);
            output::println(&info.id)
        }
    }
}
