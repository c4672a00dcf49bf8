//! The `text` format: the reply on stdout, one progress line per session, tool call, plan
//! and status on stderr.

use super::{BOLD_CYAN, CYAN, DIM, GREEN, RED, Renderer, YELLOW, one_line};
use cap_proto::event::{
    Envelope, Event, How, PermissionEvent, SessionEvent, StopReason, ToolCall, TurnResult,
};
use cap_proto::policy::{DecidedBy, Verdict};
use std::io::{self, Write};

impl Renderer {
    pub(super) fn text(
        &mut self,
        env: &Envelope,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        match &env.event {
            Event::Session(s) => {
                let line = self.session_line(s);
                self.line(out, err, &line)
            }
            Event::Text { delta } => {
                self.close_thought(err)?;
                out.write_all(delta.as_bytes())?;
                out.flush()?;
                if !delta.is_empty() {
                    self.mid_line = !delta.ends_with('\n');
                    self.streamed = true;
                }
                Ok(())
            }
            Event::Thought { delta } => {
                if !self.in_thought {
                    self.break_line(out)?;
                }
                write!(err, "{}", self.style.paint(DIM, delta))?;
                err.flush()?;
                if !delta.is_empty() {
                    self.in_thought = !delta.ends_with('\n');
                }
                Ok(())
            }
            Event::ToolCall(t) => match self.tool_line(t) {
                Some(line) => self.line(out, err, &line),
                None => Ok(()),
            },
            Event::Plan { entries } => {
                if self.last_plan.as_ref() == Some(entries) {
                    return Ok(());
                }
                self.last_plan = Some(entries.clone());
                let text = plan_text(entries);
                self.line(out, err, &self.style.paint(DIM, &text))
            }
            Event::Status { kind, message } => {
                let text = if self.verbose > 0 {
                    format!("· {message} [{kind}]")
                } else {
                    format!("· {message}")
                };
                let colour = if kind.is_loud() { YELLOW } else { DIM };
                let line = self.style.paint(colour, &text);
                self.line(out, err, &line)
            }
            Event::Raw { kind, payload } => {
                if self.verbose < 2 {
                    return Ok(());
                }
                let text = format!("· {kind}: {}", one_line(&payload.to_string(), 200));
                self.line(out, err, &self.style.paint(DIM, &text))
            }
            Event::Result(r) => self.result(r, out, err),
            // The caller reports errors ("cap: …") and picks the exit code.
            Event::Error(_) => self.finish(out, err),
            // A type from a newer daemon: nothing this build can show.
            Event::Unknown => Ok(()),
            Event::Permission(p) => {
                let line = self.permission_line(p);
                self.line(out, err, &line)
            }
            Event::Usage { usage } => {
                if self.verbose == 0 {
                    return Ok(());
                }
                let text = format!("· usage: {}", one_line(&usage.to_string(), 200));
                self.line(out, err, &self.style.paint(DIM, &text))
            }
        }
    }

    /// One line per permission request and decision. A denial names the tool, the reason
    /// and what would allow it; a question is asked by `cap prompt` right after this line.
    fn permission_line(&self, p: &PermissionEvent) -> String {
        let what = match &p.tool.subject {
            Some(s) => format!("{} ({}: {})", p.tool.tool, p.tool.kind, one_line(s, 120)),
            None => format!("{} ({})", p.tool.tool, p.tool.kind),
        };
        let by = match &p.by {
            Some(DecidedBy::Policy(mode)) => format!("the {mode} policy"),
            Some(DecidedBy::Rule(rule)) => format!("the rule {rule}"),
            Some(DecidedBy::User) => "you".into(),
            Some(DecidedBy::Timeout) => "nobody answered in time".into(),
            Some(DecidedBy::NoOneToAsk) => "nobody could be asked".into(),
            None => String::new(),
        };
        match p.decision {
            Verdict::Ask => format!(
                "{} {what} asks for permission [{}]",
                self.style.paint(YELLOW, "?"),
                p.id
            ),
            Verdict::Allow => self.style.paint(DIM, &format!("✓ allowed {what}, by {by}")),
            Verdict::Deny => {
                let hint = p
                    .hint
                    .as_deref()
                    .map(|h| format!("; to allow it: {h}"))
                    .unwrap_or_default();
                format!(
                    "{} denied {what}, by {by}{hint}",
                    self.style.paint(RED, "✗")
                )
            }
        }
    }

    fn session_line(&self, s: &SessionEvent) -> String {
        let how = match s.how {
            How::Opened => "opened",
            How::Reused => "reused",
            How::Resumed => "resumed",
            How::Continued => "continued",
            How::Unparked => "unparked",
            How::Forked => "forked",
        };
        let mut text = format!("{} session {} {how}", s.agent, s.id);
        if let Some(key) = &s.key {
            text.push_str(&format!(" for {key}"));
        }
        if let Some(native) = &s.native_id {
            text.push_str(&format!(" (native id {native})"));
        }
        format!(
            "{} {}",
            self.style.paint(BOLD_CYAN, "●"),
            self.style.paint(DIM, &text)
        )
    }

    /// One line per tool call and status; `None` when this status was already shown.
    fn tool_line(&mut self, t: &ToolCall) -> Option<String> {
        if self.tools.get(&t.id) == Some(&t.status) {
            return None;
        }
        self.tools.insert(t.id.clone(), t.status.clone());
        let status = t.status.to_ascii_lowercase();
        let (icon, colour) = match status.as_str() {
            "completed" | "complete" | "done" | "success" | "succeeded" | "ok" => ("✓", GREEN),
            "failed" | "error" | "errored" | "rejected" | "cancelled" | "canceled" => ("✗", RED),
            _ => ("⚙", CYAN),
        };
        let mut text = t.name.clone();
        if let Some(input) = t.input.as_deref().filter(|s| !s.is_empty()) {
            text.push_str(&format!(" {}", one_line(input, 100)));
        }
        let mut line = format!(
            "{} {}{}",
            self.style.paint(colour, icon),
            text,
            self.style.paint(DIM, &format!(" [{}]", t.status))
        );
        if self.verbose > 0
            && let Some(output) = t.output.as_deref().filter(|s| !s.is_empty())
        {
            let shown = format!("\n  → {}", one_line(output, 200));
            line.push_str(&self.style.paint(DIM, &shown));
        }
        Some(line)
    }

    fn result(
        &mut self,
        r: &TurnResult,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        self.close_thought(err)?;
        if !self.streamed && !r.output.is_empty() {
            // The agent did not stream deltas: the result is the only copy of the reply.
            out.write_all(r.output.as_bytes())?;
            self.mid_line = !r.output.ends_with('\n');
        }
        self.finish(out, err)?;
        self.streamed = false;
        self.tools.clear();
        self.last_plan = None;
        if r.stop_reason == StopReason::Cancelled {
            let line = self.style.paint(YELLOW, "■ turn cancelled");
            self.line(out, err, &line)
        } else if self.verbose > 0 {
            let text = format!(
                "✓ {} in {} (turn {})",
                r.stop_reason,
                crate::output::millis(r.duration_ms),
                r.turns
            );
            self.line(out, err, &self.style.paint(DIM, &text))
        } else {
            Ok(())
        }
    }
}

/// A plan as a few lines: one per entry with a check mark when entries look like
/// `{content, status}`, else the compact JSON.
fn plan_text(entries: &serde_json::Value) -> String {
    let Some(list) = entries.as_array() else {
        return format!("▸ plan {}", one_line(&entries.to_string(), 200));
    };
    let mut text = String::from("▸ plan");
    for entry in list {
        let content = entry
            .get("content")
            .or_else(|| entry.get("step"))
            .and_then(|c| c.as_str());
        let status = entry.get("status").and_then(|s| s.as_str()).unwrap_or("");
        let mark = match status {
            "completed" => "☑",
            "in_progress" | "inProgress" => "▸",
            _ => "☐",
        };
        match content {
            Some(c) => text.push_str(&format!("\n  {mark} {}", one_line(c, 120))),
            None => text.push_str(&format!("\n  {}", one_line(&entry.to_string(), 120))),
        }
    }
    text
}
