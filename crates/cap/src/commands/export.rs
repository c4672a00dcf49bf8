//! `cap export [ID | --key K] [--to markdown|json]`: a conversation as one self-contained
//! document on stdout. Markdown has a heading per turn, the prompt, the reply and the tool
//! calls as lists; json is one document holding the records exactly as `cap log --format
//! json` prints them, so it parses back into the same records.

use crate::Ctx;
use crate::cli::{ExportFormat, TargetArgs};
use crate::output;
use cap_proto::transcript::{Entry, Record};

pub fn run(ctx: &Ctx, target: TargetArgs, to: ExportFormat) -> anyhow::Result<()> {
    let req = super::log::request(&target, None, false)?;
    let mut records = Vec::new();
    super::log::fetch(ctx, req, |r, _| {
        records.push(r.clone());
        Ok(())
    })?;
    match to {
        ExportFormat::Json => output::print_json(&serde_json::json!({
            "version": cap_proto::transcript::TRANSCRIPT_VERSION,
            "records": records,
        })),
        ExportFormat::Markdown => output::print(&markdown(&records)),
    }
}

/// The records as a markdown document: one section per turn.
pub fn markdown(records: &[Record]) -> String {
    let mut out = String::from("# Transcript\n");
    if let Some(first) = records.first() {
        out.push_str(&format!("\nAgent: {}\n", first.agent));
    }
    let mut request: Option<&str> = None;
    let mut turn = 0;
    for r in records {
        if request != Some(r.request.as_str()) {
            request = Some(&r.request);
            turn += 1;
            out.push_str(&format!(
                "\n## Turn {turn}\n\n_{} · session {} · request {}_\n",
                r.time, r.session, r.request
            ));
        }
        match &r.entry {
            Entry::Prompt { text, preamble, .. } => {
                if let Some(p) = preamble {
                    out.push_str(&format!("\n### Preamble\n\n{}\n", p.trim_end()));
                }
                out.push_str(&format!("\n### Prompt\n\n{}\n", text.trim_end()));
            }
            Entry::Text { text } => out.push_str(&format!("\n### Reply\n\n{}\n", text.trim_end())),
            Entry::Thought { text } => {
                let quoted: Vec<String> = text.lines().map(|l| format!("> {l}")).collect();
                out.push_str(&format!("\n### Thinking\n\n{}\n", quoted.join("\n")));
            }
            Entry::ToolCall(c) => {
                out.push_str(&format!("\n- tool `{}` ({})\n", c.name, c.status));
                if let Some(i) = &c.input {
                    out.push_str(&format!(
                        "  - input: `{}`\n",
                        crate::render::one_line(i, 400)
                    ));
                }
                if let Some(o) = &c.output {
                    out.push_str(&format!(
                        "  - output: `{}`\n",
                        crate::render::one_line(o, 400)
                    ));
                }
            }
            Entry::Permission(p) => out.push_str(&format!(
                "\n- permission `{}` ({}): {}\n",
                p.tool.tool, p.tool.kind, p.decision
            )),
            Entry::Status { kind, message } => {
                out.push_str(&format!("\n> **{kind}**: {message}\n"))
            }
            Entry::Result(res) => out.push_str(&format!(
                "\n_Result: {} in {} ms (turn {})_\n",
                res.stop_reason, res.duration_ms, res.turns
            )),
            Entry::Error(e) => out.push_str(&format!("\n_Error: {}_\n", e.message)),
            Entry::Usage { .. } | Entry::Unknown => {}
        }
    }
    out
}
