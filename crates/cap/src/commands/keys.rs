//! `cap keys`: sticky bindings, the suspended pool and what the daemon remembers per key.

use crate::Ctx;
use crate::cli::Format;
use crate::output::{self, or_dash, table};
use cap_proto::reply::{KeysReport, Reply};
use cap_proto::request::Op;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Keys)?;
    let reply = &answer.reply;
    let Reply::Keys(report) = reply else {
        return Err(output::unexpected("keys", reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => report
            .bindings
            .iter()
            .try_for_each(|b| output::println(&b.key)),
        Format::Text => output::print(&render(report)),
    }
}

fn render(r: &KeysReport) -> String {
    if r.bindings.is_empty() && r.parked.is_empty() && r.records.is_empty() {
        return "no bindings, parked sessions or remembered keys\n".into();
    }
    let mut text = String::from("Bindings:\n");
    if r.bindings.is_empty() {
        text.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .bindings
            .iter()
            .map(|b| vec![b.key.clone(), b.agent.clone(), b.session.clone()])
            .collect();
        text.push_str(&indent(&table(&["KEY", "AGENT", "SESSION"], &rows)));
    }
    text.push_str("\nParked:\n");
    if r.parked.is_empty() {
        text.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .parked
            .iter()
            .map(|p| vec![p.key.clone(), p.agent.clone(), p.session.clone()])
            .collect();
        text.push_str(&indent(&table(&["KEY", "AGENT", "SESSION"], &rows)));
    }
    text.push_str("\nRemembered:\n");
    if r.records.is_empty() {
        text.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = r
            .records
            .iter()
            .map(|rec| {
                vec![
                    rec.key.clone(),
                    rec.agent.clone(),
                    if rec.current { "yes" } else { "" }.into(),
                    or_dash(rec.native_id.as_deref()),
                    rec.cwd.display().to_string(),
                ]
            })
            .collect();
        text.push_str(&indent(&table(
            &["KEY", "AGENT", "CURRENT", "NATIVE ID", "CWD"],
            &rows,
        )));
    }
    text
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}
