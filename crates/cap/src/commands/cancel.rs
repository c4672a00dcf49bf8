//! `cap cancel [ID] | --key KEY`: interrupt the running turn. Nothing to cancel is success.

use crate::Ctx;
use crate::cli::TargetArgs;
use cap_proto::request::Op;

pub fn run(ctx: &Ctx, args: TargetArgs) -> anyhow::Result<()> {
    let target = crate::route::target(&args)?;
    let answer = super::call(ctx, Op::Cancel(target))?;
    super::acknowledge(ctx, "cancel", &answer, "cancelled")
}
