//! `cap log [ID | --key K] [-n TURNS] [--follow]`: a conversation's transcript, readably (the
//! prompt, the reply, tool calls, permission decisions and a result line per turn), or its
//! records as NDJSON with `--format json`.
//!
//! The daemon owns the transcript files, so the records come from it (a `log` request) rather
//! than from reading the files here: it knows which file a key's conversation is in, and with
//! `--follow` it streams the records of later turns as it writes them.

use crate::Ctx;
use crate::cli::{Format, TargetArgs};
use crate::connect::connect;
use crate::link::{Incoming, Link};
use crate::output;
use crate::render::{note, one_line};
use crate::wire;
use cap_proto::ProtoError;
use cap_proto::policy::DecidedBy;
use cap_proto::reply::Reply;
use cap_proto::request::{LogRequest, Op};
use cap_proto::transcript::{Entry, Record};

pub fn run(
    ctx: &Ctx,
    target: TargetArgs,
    turns: Option<usize>,
    follow: bool,
) -> anyhow::Result<()> {
    let req = request(&target, turns, follow)?;
    let mut last_request = None;
    let done = fetch(ctx, req, |record, raw| match ctx.format {
        Format::Json => output::println(raw),
        Format::Quiet => Ok(()),
        Format::Text => {
            let text = readable(record, &mut last_request);
            if text.is_empty() {
                Ok(())
            } else {
                output::println(&text)
            }
        }
    })?;
    if follow {
        note(ctx, &done);
    }
    Ok(())
}

/// The `log` request for a target.
pub fn request(
    target: &TargetArgs,
    turns: Option<usize>,
    follow: bool,
) -> anyhow::Result<LogRequest> {
    let t = crate::route::target(target)?;
    Ok(LogRequest {
        session: t.session,
        key: t.key,
        cwd: t.cwd,
        turns,
        follow,
    })
}

/// Sends a `log` request and hands each record (decoded, and as the daemon sent it) to `each`
/// until the daemon says it is done; returns its closing message.
pub fn fetch(
    ctx: &Ctx,
    req: LogRequest,
    mut each: impl FnMut(&Record, &str) -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    let conn = connect(ctx)?;
    // A followed conversation is mostly quiet; the link's pings tell that from a wedged daemon.
    let mut link: Link<()> = Link::new(conn.client, ctx.timeouts);
    let id = link.send(Op::Log(req))?;
    loop {
        let line = match link.recv() {
            Ok(Incoming::Line(Ok(line))) => *line,
            Ok(Incoming::Local(())) => continue,
            Ok(Incoming::Line(Err(ProtoError::Closed))) => {
                return Ok("the daemon closed the stream".into());
            }
            Ok(Incoming::Line(Err(e @ (ProtoError::NotUtf8 | ProtoError::LineTooLong { .. })))) => {
                note(
                    ctx,
                    &format!("skipped a reply cap does not understand: {e}"),
                );
                continue;
            }
            Ok(Incoming::Line(Err(e))) => return Err(e.into()),
            Err(silent) => return Err(super::stopped_answering(ctx, silent, "log").into()),
        };
        let resp = match &line.response {
            Ok(resp) if resp.id == id || resp.id == 0 => resp,
            Ok(_) => continue,
            Err(e) => {
                note(
                    ctx,
                    &format!("skipped a reply cap does not understand: {e}"),
                );
                continue;
            }
        };
        match &resp.reply {
            Reply::Record(r) => each(r, wire::payload(&line.text))?,
            Reply::Done(done) => return Ok(done.message.clone()),
            Reply::Error(body) => return Err(ProtoError::Remote(body.clone()).into()),
            other => return Err(output::unexpected("log", other)),
        }
    }
}

/// One record as text; a new turn starts with a header line.
fn readable(r: &Record, last_request: &mut Option<String>) -> String {
    let mut out = String::new();
    if last_request.as_deref() != Some(r.request.as_str()) {
        *last_request = Some(r.request.clone());
        out.push_str(&format!(
            "── {} · {} · session {} · request {}\n",
            r.time, r.agent, r.session, r.request
        ));
    }
    let body = match &r.entry {
        Entry::Prompt { text, preamble, .. } => {
            let mut s = String::new();
            if let Some(p) = preamble {
                s.push_str(&format!("(preamble) {}\n", one_line(p, 200)));
            }
            s.push_str(&quote(text));
            s
        }
        Entry::Text { text } => text.trim_end().to_string(),
        Entry::Thought { text } => format!("(thinking) {}", one_line(text, 200)),
        Entry::ToolCall(c) => tool_line(c),
        Entry::Permission(p) => {
            let by = match &p.by {
                Some(DecidedBy::Policy(m)) => format!(" by the {m} policy"),
                Some(DecidedBy::Rule(rule)) => format!(" by the rule {rule}"),
                Some(DecidedBy::User) => " by the user".into(),
                Some(DecidedBy::Timeout) => " (nobody answered in time)".into(),
                Some(DecidedBy::NoOneToAsk) => " (nobody could be asked)".into(),
                None => String::new(),
            };
            let subject = p.tool.subject.as_deref().unwrap_or("");
            format!(
                "? permission {} ({}: {}): {}{by}",
                p.tool.tool,
                p.tool.kind,
                one_line(subject, 120),
                p.decision
            )
        }
        Entry::Status { kind, message } => format!("! {kind}: {message}"),
        Entry::Usage { .. } | Entry::Unknown => String::new(),
        Entry::Result(res) => format!(
            "✓ {} · {} · turn {}",
            res.stop_reason,
            output::millis(res.duration_ms),
            res.turns
        ),
        Entry::Error(e) => format!("✗ {}", e.message),
    };
    out.push_str(&body);
    out.trim_end().to_string()
}

/// A tool call on one line: name, status, input, and the output's start.
pub fn tool_line(c: &cap_proto::ToolCall) -> String {
    let mut s = format!("• {} [{}]", c.name, c.status);
    if let Some(i) = &c.input {
        s.push_str(&format!(" {}", one_line(i, 120)));
    }
    if let Some(o) = &c.output {
        s.push_str(&format!(" → {}", one_line(o, 120)));
    }
    s
}

fn quote(text: &str) -> String {
    text.lines()
        .map(|l| format!("> {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
