//! `cap sessions` (`cap ls`): the live sessions as a table.

use crate::Ctx;
use crate::cli::Format;
use crate::output::{self, bytes, or_dash, secs, table};
use cap_proto::reply::{Reply, SessionInfo};
use cap_proto::request::Op;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Sessions)?;
    let reply = &answer.reply;
    let Reply::Sessions(list) = reply else {
        return Err(output::unexpected("sessions", reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => list.iter().try_for_each(|s| output::println(&s.id)),
        Format::Text if list.is_empty() => output::println("no live sessions"),
        Format::Text => output::print(&render(list)),
    }
}

fn render(list: &[SessionInfo]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.agent.clone(),
                or_dash(s.model.as_deref()),
                s.state.to_string(),
                if s.keys.is_empty() {
                    "-".into()
                } else {
                    s.keys.join(",")
                },
                s.cwd.display().to_string(),
                or_dash(s.native_id.as_deref()),
                s.turns.to_string(),
                secs(s.idle_secs),
                // Sessions of one shared process show its pid, and its whole memory.
                match (s.pid, s.shared) {
                    (Some(pid), true) => format!("{pid} shared"),
                    (Some(pid), false) => pid.to_string(),
                    (None, _) => "-".into(),
                },
                bytes(s.memory),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "AGENT",
            "MODEL",
            "STATE",
            "KEYS",
            "CWD",
            "NATIVE ID",
            "TURNS",
            "IDLE",
            "PID",
            "MEM",
        ],
        &rows,
    )
}
