//! `cap show ID`: one session in full, with a paste-ready resume hint.

use crate::Ctx;
use crate::cli::Format;
use crate::output::{self, or_dash, resume_hint, secs};
use cap_proto::reply::{Reply, SessionInfo};
use cap_proto::request::{Op, SessionRef};

pub fn run(ctx: &Ctx, id: String) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Show(SessionRef { session: id }))?;
    let reply = &answer.reply;
    let Reply::Session(info) = reply else {
        return Err(output::unexpected("show", reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet => output::println(&info.id),
        Format::Text => output::print(&render(info)),
    }
}

fn render(s: &SessionInfo) -> String {
    let keys = if s.keys.is_empty() {
        "-".to_string()
    } else {
        s.keys.join(", ")
    };
    let fields = [
        ("id", s.id.clone()),
        ("agent", s.agent.clone()),
        ("state", s.state.to_string()),
        ("keys", keys),
        ("home key", or_dash(s.home_key.as_deref())),
        ("cwd", s.cwd.display().to_string()),
        ("native id", or_dash(s.native_id.as_deref())),
        ("model", or_dash(s.model.as_deref())),
        (
            "mcp",
            if s.mcp_servers.is_empty() {
                "-".into()
            } else {
                s.mcp_servers.join(", ")
            },
        ),
        ("turns", s.turns.to_string()),
        ("queued", s.queued.to_string()),
        ("idle", secs(s.idle_secs)),
        ("pid", s.pid.map_or("-".into(), |p| p.to_string())),
        ("usage", s.usage.as_ref().map_or("-".into(), output::usage)),
    ];
    let mut text: String = fields
        .iter()
        .map(|(k, v)| format!("{:<11}{v}\n", format!("{k}:")))
        .collect();
    if let Some(native) = &s.native_id {
        text.push_str(&format!(
            "\nresume with: {}\n",
            resume_hint(&s.agent, native, &s.cwd)
        ));
    }
    text
}
