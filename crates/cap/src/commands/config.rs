//! `cap config show|path`: the configuration capd resolved, and where the file lives.

use crate::Ctx;
use crate::cli::{ConfigAction, Format};
use crate::failure::Failure;
use crate::output::{self, print_json};
use cap_proto::reply::Reply;
use cap_proto::request::Op;
use serde_json::Value;

pub fn run(ctx: &Ctx, action: ConfigAction) -> anyhow::Result<()> {
    match action {
        ConfigAction::Show => show(ctx),
        ConfigAction::Path => path(ctx),
    }
}

fn show(ctx: &Ctx) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Config)?;
    let reply = &answer.reply;
    let Reply::Config(value) = reply else {
        return Err(output::unexpected("config", reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
        Format::Quiet | Format::Text => output::print(&as_toml(value)),
    }
}

/// The configuration in the config file's own syntax, so it can be pasted into it; JSON when
/// it has no TOML form (TOML has no null: unset options are left out).
fn as_toml(value: &Value) -> String {
    let cleaned = strip_nulls(value.clone());
    match toml::to_string_pretty(&cleaned) {
        Ok(text) => text,
        Err(_) => serde_json::to_string_pretty(value).unwrap_or_default() + "\n",
    }
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// Resolved locally, because the question is usually asked when no daemon runs yet. With
/// `--host` the question is about the host, so its capd answers (starting there if need be).
fn path(ctx: &Ctx) -> anyhow::Result<()> {
    if ctx.host.is_some() {
        return remote_path(ctx);
    }
    let Some(file) = cap_proto::paths::config_file(ctx.config.as_deref()) else {
        return Err(Failure::runtime(
            "this platform has no config directory; pass --config FILE or set CAP_CONFIG",
        )
        .into());
    };
    let exists = file.exists();
    match ctx.format {
        Format::Json => print_json(&serde_json::json!({
            "config_file": file,
            "exists": exists,
            "socket": ctx.socket,
            "state_file": cap_proto::paths::state_file(),
            "log_file": cap_proto::paths::log_file(),
        })),
        Format::Quiet => output::println(&file.display().to_string()),
        Format::Text => {
            output::println(&file.display().to_string())?;
            if !exists {
                crate::render::note(ctx, "the file does not exist yet; built-in defaults apply");
            }
            Ok(())
        }
    }
}

fn remote_path(ctx: &Ctx) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Status)?;
    let Reply::Status(st) = &answer.reply else {
        return Err(output::unexpected("status", &answer.reply));
    };
    let file = st
        .config_file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "(none: built-in defaults)".into());
    match ctx.format {
        Format::Json => print_json(&serde_json::json!({
            "config_file": st.config_file,
            "socket": st.socket,
            "state_file": st.state_file,
        })),
        Format::Quiet | Format::Text => output::println(&file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_prints_as_toml_without_nulls() {
        let v = serde_json::json!({
            "default_agent": "claude",
            "preamble": null,
            "max_sessions": 8,
            "agents": {"mine": {"protocol": "acp", "command": "x", "args": ["a"], "mode": null}}
        });
        let text = as_toml(&v);
        assert!(text.contains("default_agent = \"claude\""), "{text}");
        assert!(text.contains("[agents.mine]"), "{text}");
        assert!(
            !text.contains("preamble") && !text.contains("mode"),
            "{text}"
        );
    }
}
