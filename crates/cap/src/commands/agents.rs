//! `cap agents`: which agents capd knows, whether their command is installed, and how to get
//! the missing ones.

use crate::Ctx;
use crate::cli::Format;
use crate::output::{self, bytes, or_dash, table};
use cap_proto::reply::{AgentInfo, Reply};
use cap_proto::request::Op;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Agents)?;
    let reply = &answer.reply;
    let Reply::Agents(list) = reply else {
        return Err(output::unexpected("agents", reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => list
            .iter()
            .filter(|a| a.command.is_some())
            .try_for_each(|a| output::println(&a.name)),
        Format::Text => output::print(&render(list, ctx.verbose > 0)),
    }
}

fn render(list: &[AgentInfo], verbose: bool) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            let command = match &a.command {
                Some(c) if verbose && !a.args.is_empty() => format!("{c} {}", a.args.join(" ")),
                Some(c) => c.clone(),
                None => "not found".into(),
            };
            let mut row = vec![
                a.name.clone(),
                a.protocol.clone(),
                command,
                or_dash(a.version.as_deref()),
                bytes(a.footprint),
            ];
            if verbose {
                row.push(a.source.clone());
            }
            row
        })
        .collect();
    let mut headers = vec!["NAME", "PROTOCOL", "COMMAND", "VERSION", "FOOTPRINT"];
    if verbose {
        headers.push("SOURCE");
    }
    let mut text = table(&headers, &rows);
    let hints: Vec<String> = list
        .iter()
        .filter(|a| a.command.is_none())
        .filter_map(|a| a.hint.as_ref().map(|h| format!("  {}: {h}", a.name)))
        .collect();
    if !hints.is_empty() {
        text.push_str("\nto install the missing ones:\n");
        for h in hints {
            text.push_str(&h);
            text.push('\n');
        }
    }
    text
}
