//! `cap gc`: run the idle sweep now instead of waiting for the daemon's timer.

use crate::Ctx;
use crate::cli::Format;
use crate::output;
use cap_proto::reply::Reply;
use cap_proto::request::Op;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Gc)?;
    let reply = &answer.reply;
    let Reply::Gc(report) = reply else {
        return Err(output::unexpected("gc", reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => report.ended.iter().try_for_each(|s| output::println(s)),
        Format::Text if report.ended.is_empty() => output::println("no idle sessions to end"),
        Format::Text => {
            let n = report.ended.len();
            let mut text = format!(
                "ended {n} idle session{}; their keys resume them on the next prompt\n",
                if n == 1 { "" } else { "s" }
            );
            for s in &report.ended {
                text.push_str(&format!("  {s}\n"));
            }
            output::print(&text)
        }
    }
}
