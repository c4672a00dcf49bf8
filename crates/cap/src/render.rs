//! Rendering of streamed [`Envelope`]s in the three output formats.
//!
//! `text` keeps stdout for the assistant's words only, so `cap prompt … > answer.md` captures
//! exactly the reply, while progress (session, tools, thoughts, respawns) goes to stderr.
//! `json` passes every envelope through as received, one per line, for scripts. `quiet` prints
//! nothing but the final answer.

use crate::Ctx;
use crate::cli::Format;
use crate::failure::stdout_error;
use cap_proto::event::{Envelope, Event, How, SessionEvent, StopReason, ToolCall, TurnResult};
use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};

const DIM: &str = "\x1b[2m";
const BOLD_CYAN: &str = "\x1b[1;36m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

/// Whether progress on stderr may be coloured: only on a terminal, and never with `NO_COLOR`
/// set to a non-empty value (<https://no-color.org>).
pub fn stderr_color() -> bool {
    io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A progress note on stderr (`text` format, or any format with `-v`).
pub fn note(ctx: &Ctx, message: &str) {
    if ctx.format == Format::Text || ctx.verbose > 0 {
        let style = Style(stderr_color());
        let _ = writeln!(
            io::stderr(),
            "{}",
            style.paint(DIM, &format!("· {message}"))
        );
    }
}

/// Optional ANSI styling.
#[derive(Debug, Clone, Copy)]
struct Style(bool);

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }
}

/// Renders one stream of events; keeps the little state `text` needs across events.
pub struct Renderer {
    format: Format,
    verbose: u8,
    style: Style,
    /// Whether stdout is a terminal, so a progress line may start a fresh line there.
    stdout_tty: bool,
    /// The last thing written to stdout did not end with a newline.
    mid_line: bool,
    /// A thought is being streamed on stderr without its closing newline yet.
    in_thought: bool,
    /// Text deltas arrived in this turn (otherwise the result's output is printed).
    streamed: bool,
    /// Last status printed per tool call, so repeated updates print once.
    tools: HashMap<String, String>,
    last_plan: Option<serde_json::Value>,
    /// Shown between a session's announcement and its first output (text format, stderr a
    /// terminal only).
    spinner: Option<crate::spinner::Spinner>,
}

impl Renderer {
    pub fn new(ctx: &Ctx) -> Self {
        let mut r = Renderer::with(
            ctx.format,
            ctx.verbose,
            stderr_color(),
            io::stdout().is_terminal(),
        );
        if ctx.format == Format::Text && io::stderr().is_terminal() {
            r.spinner = Some(crate::spinner::Spinner::start("working".into()));
        }
        r
    }

    /// A renderer with explicit terminal facts (for tests).
    pub fn with(format: Format, verbose: u8, color: bool, stdout_tty: bool) -> Self {
        Renderer {
            format,
            verbose,
            style: Style(color),
            stdout_tty,
            mid_line: false,
            in_thought: false,
            streamed: false,
            tools: HashMap::new(),
            last_plan: None,
            spinner: None,
        }
    }

    /// Renders to the process's stdout and stderr.
    pub fn event(&mut self, env: &Envelope) -> anyhow::Result<()> {
        if let Some(s) = &self.spinner {
            s.pause();
        }
        {
            let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
            self.write_event(env, &mut out, &mut err)
                .map_err(stdout_error)?;
        }
        // Waiting for the agent's first words: spin (after the locks are released, as the
        // spinner thread writes to stderr too).
        if let (Some(s), Event::Session(_)) = (&self.spinner, &env.event) {
            s.resume();
        }
        Ok(())
    }

    /// Ends the turn's output on stdout with a newline (text) before an error is reported.
    pub fn end_turn(&mut self) -> anyhow::Result<()> {
        if let Some(s) = &self.spinner {
            s.pause();
        }
        let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
        self.finish(&mut out, &mut err).map_err(stdout_error)
    }

    /// A progress note in the middle of a stream (`text` format, or any format with `-v`);
    /// unlike [`note`] it keeps the reply's line intact when stdout is redirected.
    pub fn note(&mut self, message: &str) -> anyhow::Result<()> {
        if self.format != Format::Text && self.verbose == 0 {
            return Ok(());
        }
        if let Some(s) = &self.spinner {
            s.pause();
        }
        let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
        let line = self.style.paint(DIM, &format!("· {message}"));
        self.line(&mut out, &mut err, &line).map_err(stdout_error)
    }

    /// A failed turn seen while following a session (`attach`), as a progress line.
    pub fn error_line(&mut self, message: &str) -> anyhow::Result<()> {
        if self.format != Format::Text {
            return Ok(());
        }
        let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
        let line = self.style.paint(RED, &format!("✗ {message}"));
        self.finish(&mut out, &mut err)
            .and_then(|()| writeln!(err, "{line}"))
            .map_err(stdout_error)
    }

    /// Renders one envelope to the given streams.
    pub fn write_event(
        &mut self,
        env: &Envelope,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        match self.format {
            Format::Json if env.event == Event::Unknown => Ok(()),
            Format::Json => {
                let line = serde_json::to_string(env).map_err(io::Error::other)?;
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                out.flush()
            }
            Format::Quiet => match &env.event {
                Event::Result(r) => {
                    out.write_all(r.output.as_bytes())?;
                    if !r.output.is_empty() && !r.output.ends_with('\n') {
                        out.write_all(b"\n")?;
                    }
                    out.flush()
                }
                _ => Ok(()),
            },
            Format::Text => self.text(env, out, err),
        }
    }

    fn text(&mut self, env: &Envelope, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
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
            Event::Permission(_) => Ok(()),
            Event::Usage { usage } => {
                if self.verbose == 0 {
                    return Ok(());
                }
                let text = format!("· usage: {}", one_line(&usage.to_string(), 200));
                self.line(out, err, &self.style.paint(DIM, &text))
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

    /// Closes any open thought and ends stdout's last line.
    fn finish(&mut self, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        self.close_thought(err)?;
        if self.format == Format::Text && self.mid_line {
            out.write_all(b"\n")?;
            self.mid_line = false;
        }
        out.flush()
    }

    /// A progress line on stderr that does not glue itself to the reply on a terminal.
    fn line(&mut self, out: &mut dyn Write, err: &mut dyn Write, text: &str) -> io::Result<()> {
        self.close_thought(err)?;
        self.break_line(out)?;
        writeln!(err, "{text}")?;
        err.flush()
    }

    fn close_thought(&mut self, err: &mut dyn Write) -> io::Result<()> {
        if self.in_thought {
            err.write_all(b"\n")?;
            self.in_thought = false;
        }
        Ok(())
    }

    /// On a shared terminal, moves the reply to a fresh line before stderr writes there;
    /// redirected stdout is never touched.
    fn break_line(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.stdout_tty && self.mid_line {
            out.write_all(b"\n")?;
            out.flush()?;
            self.mid_line = false;
        }
        Ok(())
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

/// `s` on one line, cut to `max` characters with an ellipsis.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_proto::ErrorBody;
    use cap_proto::ErrorCode;

    fn env(event: Event, seq: u64) -> Envelope {
        Envelope {
            v: 1,
            event,
            session: Some("3f2a".into()),
            request: Some("r1".into()),
            seq,
        }
    }

    fn turn() -> Vec<Envelope> {
        vec![
            env(
                Event::Session(SessionEvent {
                    id: "3f2a".into(),
                    agent: "claude".into(),
                    key: Some("dir:/x".into()),
                    native_id: Some("n-1".into()),
                    how: How::Opened,
                }),
                0,
            ),
            env(
                Event::Thought {
                    delta: "hmm".into(),
                },
                1,
            ),
            env(
                Event::Text {
                    delta: "Hello".into(),
                },
                2,
            ),
            env(
                Event::ToolCall(ToolCall {
                    id: "t1".into(),
                    name: "Read".into(),
                    status: "in_progress".into(),
                    input: Some("src/main.rs".into()),
                    output: None,
                }),
                3,
            ),
            env(
                Event::Raw {
                    kind: "x".into(),
                    payload: serde_json::json!({"a": [1, null]}),
                },
                4,
            ),
            env(
                Event::Text {
                    delta: ", world".into(),
                },
                5,
            ),
            env(
                Event::Result(TurnResult {
                    truncated: false,
                    output: "Hello, world".into(),
                    stop_reason: StopReason::EndTurn,
                    turns: 1,
                    duration_ms: 1500,
                    native_id: Some("n-1".into()),
                    permissions: Default::default(),
                }),
                6,
            ),
        ]
    }

    fn render(format: Format, events: &[Envelope], stdout_tty: bool) -> (String, String) {
        let mut r = Renderer::with(format, 0, false, stdout_tty);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        for e in events {
            r.write_event(e, &mut out, &mut err).unwrap();
        }
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn json_passes_envelopes_through_unchanged() {
        // Lines as the daemon writes them: serde's own encoding of each envelope.
        let lines: Vec<String> = turn()
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        let received: Vec<Envelope> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let (out, err) = render(Format::Json, &received, false);
        assert_eq!(out, lines.join("\n") + "\n");
        assert!(err.is_empty());
        // A hand-written line in another field order keeps its content.
        let hand = r#"{"seq":2,"request":null,"session":"s","type":"text","delta":"é\n","v":1}"#;
        let parsed: Envelope = serde_json::from_str(hand).unwrap();
        let (out, _) = render(Format::Json, &[parsed], false);
        let a: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        let b: serde_json::Value = serde_json::from_str(hand).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn text_keeps_stdout_for_the_reply() {
        let (out, err) = render(Format::Text, &turn(), false);
        assert_eq!(out, "Hello, world\n");
        assert!(err.contains("● claude session 3f2a opened for dir:/x (native id n-1)"));
        assert!(err.contains("hmm\n"));
        assert!(err.contains("⚙ Read src/main.rs [in_progress]"));
        assert!(!err.contains("\x1b["), "no colour when asked for none");
        assert!(!err.contains("\"a\""), "raw updates only with -vv");
    }

    #[test]
    fn text_breaks_the_line_on_a_shared_terminal() {
        let (out, _) = render(Format::Text, &turn(), true);
        assert_eq!(out, "Hello\n, world\n");
    }

    #[test]
    fn text_prints_an_unstreamed_result_and_a_cancel() {
        let events = [env(
            Event::Result(TurnResult {
                truncated: false,
                output: "whole answer".into(),
                stop_reason: StopReason::Cancelled,
                turns: 2,
                duration_ms: 10,
                native_id: None,
                permissions: Default::default(),
            }),
            0,
        )];
        let (out, err) = render(Format::Text, &events, false);
        assert_eq!(out, "whole answer\n");
        assert!(err.contains("turn cancelled"));
    }

    #[test]
    fn quiet_prints_only_the_answer() {
        let (out, err) = render(Format::Quiet, &turn(), false);
        assert_eq!(out, "Hello, world\n");
        assert!(err.is_empty());
        let failed = [env(
            Event::Error(ErrorBody::new(ErrorCode::Agent, "boom")),
            0,
        )];
        assert_eq!(
            render(Format::Quiet, &failed, false),
            (String::new(), String::new())
        );
    }

    #[test]
    fn repeated_tool_updates_print_once() {
        let call = |status: &str| {
            env(
                Event::ToolCall(ToolCall {
                    id: "t".into(),
                    name: "Bash".into(),
                    status: status.into(),
                    input: None,
                    output: None,
                }),
                0,
            )
        };
        let (_, err) = render(
            Format::Text,
            &[call("running"), call("running"), call("completed")],
            false,
        );
        assert_eq!(err, "⚙ Bash [running]\n✓ Bash [completed]\n");
    }

    #[test]
    fn one_line_flattens_and_cuts() {
        assert_eq!(one_line(" a\nb ", 10), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
