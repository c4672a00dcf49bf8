//! Rendering of streamed [`Envelope`]s in the three output formats.
//!
//! `text` keeps stdout for the assistant's words only, so `cap prompt … > answer.md` captures
//! exactly the reply, while progress (session, tools, thoughts, respawns) goes to stderr.
//! `json` passes every envelope through as received, one per line, for scripts. `quiet` prints
//! nothing but the final answer.
//!
//! The `text` format's line-by-line rendering lives in `text`, the tests in `tests`.

use crate::Ctx;
use crate::cli::Format;
use crate::failure::stdout_error;
use cap_proto::event::{Envelope, Event};
use std::collections::HashMap;
use std::io::{self, IsTerminal, Write};

mod text;

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
    /// `quiet`: the turn's text deltas so far, the answer when the result has no output.
    deltas: String,
    /// Last status printed per tool call, so repeated updates print once.
    tools: HashMap<String, String>,
    last_plan: Option<serde_json::Value>,
    /// Shown between a session's announcement and its first output (text format, stderr a
    /// terminal only).
    spinner: Option<crate::spinner::Spinner>,
    /// The prompt has a schema (`--schema`): `text` and `quiet` print only the validated
    /// value of the result, never the reply it was read from.
    structured: bool,
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
            deltas: String::new(),
            tools: HashMap::new(),
            last_plan: None,
            spinner: None,
            structured: false,
        }
    }

    /// Prints the turn's validated JSON (`result.structured`) instead of its reply, in
    /// `text` and `quiet`, so stdout is one JSON document a script can parse.
    pub fn structured(mut self, on: bool) -> Self {
        self.structured = on;
        self
    }

    /// Renders to the process's stdout and stderr. `raw` is the envelope's JSON text as the
    /// daemon sent it, which `json` prints instead of re-encoding `env` (and so losing what
    /// this build does not know).
    pub fn event(&mut self, env: &Envelope, raw: &str) -> anyhow::Result<()> {
        if let Some(s) = &self.spinner {
            s.pause();
        }
        {
            let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
            self.write_event(env, raw, &mut out, &mut err)
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

    /// An event this build could not decode at all: `json` still passes it through, the
    /// other formats have nothing to show for it.
    pub fn passthrough(&mut self, raw: &str) -> anyhow::Result<()> {
        if self.format != Format::Json {
            return Ok(());
        }
        write_line(&mut io::stdout().lock(), raw).map_err(stdout_error)
    }

    /// Renders one envelope (`raw`: its text as received) to the given streams.
    pub fn write_event(
        &mut self,
        env: &Envelope,
        raw: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        if self.structured && self.format != Format::Json {
            match &env.event {
                // The reply is only what the value was read from (and may be a wrong
                // answer that gets re-asked): it never reaches stdout.
                Event::Text { .. } => return Ok(()),
                Event::Result(r) => {
                    let mut r = r.clone();
                    r.output = match &r.structured {
                        Some(value) => format!("{value}\n"),
                        None => String::new(),
                    };
                    let env = Envelope {
                        event: Event::Result(r),
                        ..env.clone()
                    };
                    return self.write_plain(&env, raw, out, err);
                }
                _ => {}
            }
        }
        self.write_plain(env, raw, out, err)
    }

    /// [`Renderer::write_event`] without the `--schema` rule.
    fn write_plain(
        &mut self,
        env: &Envelope,
        raw: &str,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<()> {
        match self.format {
            Format::Json => write_line(out, raw),
            Format::Quiet => match &env.event {
                Event::Text { delta } => {
                    self.deltas.push_str(delta);
                    Ok(())
                }
                Event::Result(r) => {
                    // The result's output is the whole answer; a daemon may leave a huge one
                    // out of the result, and then the streamed deltas are the answer.
                    let deltas = std::mem::take(&mut self.deltas);
                    let answer = if r.output.is_empty() {
                        &deltas
                    } else {
                        &r.output
                    };
                    out.write_all(answer.as_bytes())?;
                    if !answer.is_empty() && !answer.ends_with('\n') {
                        out.write_all(b"\n")?;
                    }
                    out.flush()
                }
                _ => Ok(()),
            },
            Format::Text => self.text(env, out, err),
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

/// One NDJSON line, flushed so a script reading the pipe sees each event as it happens.
fn write_line(out: &mut dyn Write, line: &str) -> io::Result<()> {
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
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
mod tests;
