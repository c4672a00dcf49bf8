//! One delegated turn, followed on a thread of its own with the blocking client: the same
//! bounded waits as `cap prompt` (a [`Link`] pings a quiet daemon), its events handed to the
//! MCP side as [`Update`]s for progress notifications and permission questions.

use crate::Ctx;
use crate::connect::connect;
use crate::link::{Incoming, Link};
use cap_proto::event::{Envelope, Event, PermissionEvent, SessionEvent, TurnResult};
use cap_proto::policy::Verdict;
use cap_proto::reply::Reply;
use cap_proto::request::{DecideRequest, Op, PromptRequest};
use cap_proto::{ErrorBody, ProtoError};
use std::sync::mpsc::Sender;
use tokio::sync::mpsc::UnboundedSender;

/// What the turn's thread tells the MCP side.
pub enum Update {
    /// Where to send answers to permission questions (first, once connected).
    Answers(Sender<Incoming<DecideRequest>>),
    /// The session serving the turn and the turn's request id (for cancelling it).
    Session(SessionEvent, Option<String>),
    /// Something worth a progress notification.
    Progress(String),
    /// A permission question nobody has answered yet.
    Question(PermissionEvent),
    /// The turn ended.
    Done(Result<Finished, String>),
}

/// A turn that ended with a `result`.
pub struct Finished {
    /// The reply text: the result's, or the streamed text when the result left it out.
    pub text: String,
    pub result: TurnResult,
}

/// Runs `req` to its end, reporting on `tx`; the last update is always [`Update::Done`].
pub fn run(ctx: &Ctx, req: PromptRequest, tx: &UnboundedSender<Update>) {
    let done = follow(ctx, req, tx);
    let _ = tx.send(Update::Done(done));
}

fn follow(ctx: &Ctx, req: PromptRequest, tx: &UnboundedSender<Update>) -> Result<Finished, String> {
    let conn = connect(ctx).map_err(|e| format!("{e:#}"))?;
    let mut link: Link<DecideRequest> = Link::new(conn.client, ctx.timeouts);
    let _ = tx.send(Update::Answers(link.sender()));
    let id = link.send(Op::Prompt(req)).map_err(|e| e.to_string())?;
    let mut text = String::new();
    let mut session: Option<String> = None;
    let gone = |session: &Option<String>| match session {
        Some(s) => format!(
            "capd went away mid-turn; the agent may have finished anyway: call `result` with \
             session \"{s}\""
        ),
        None => "capd went away before the turn started; try again".to_string(),
    };
    loop {
        let line = match link.recv() {
            Ok(Incoming::Local(answer)) => {
                // A late answer is refused by capd; the reply is not this turn's.
                link.send(Op::Decide(answer)).map_err(|e| e.to_string())?;
                continue;
            }
            Ok(Incoming::Line(Ok(line))) => line,
            Ok(Incoming::Line(Err(ProtoError::Closed | ProtoError::Io { .. }))) => {
                return Err(gone(&session));
            }
            Ok(Incoming::Line(Err(e))) => {
                tracing_note(&format!("skipped a line from capd: {e}"));
                continue;
            }
            Err(silent) => {
                return Err(crate::commands::stopped_answering(ctx, silent, "prompt").to_string());
            }
        };
        let resp = match line.response {
            Ok(resp) => resp,
            Err(e) => {
                tracing_note(&format!("skipped a line this cap cannot read: {e}"));
                continue;
            }
        };
        match resp.reply {
            Reply::Error(body) if resp.id == id || resp.id == 0 => return Err(failed(&body)),
            Reply::Event(env) if resp.id == id => {
                if let Some(end) = event(env, &mut text, &mut session, tx) {
                    return end;
                }
            }
            _ => {}
        }
    }
}

/// Handles one event of the turn; `Some` when it ended the turn.
fn event(
    env: Envelope,
    text: &mut String,
    session: &mut Option<String>,
    tx: &UnboundedSender<Update>,
) -> Option<Result<Finished, String>> {
    let progress = |m: String| {
        let _ = tx.send(Update::Progress(m));
    };
    match env.event {
        Event::Session(s) => {
            *session = Some(s.id.clone());
            let _ = tx.send(Update::Session(s, env.request));
        }
        Event::Text { delta } => {
            text.push_str(&delta);
            progress(snippet(&delta));
        }
        Event::Thought { .. } => progress("thinking".into()),
        Event::ToolCall(call) => {
            let input = call.input.as_deref().map(snippet).unwrap_or_default();
            progress(format!("tool {} {}: {input}", call.name, call.status));
        }
        Event::Status { message, .. } => progress(message),
        Event::Permission(p) if p.decision == Verdict::Ask => {
            let _ = tx.send(Update::Question(p));
        }
        Event::Permission(p) => {
            let what = p.tool.subject.as_deref().unwrap_or_default();
            progress(format!(
                "permission {} {what}: {:?}",
                p.tool.tool, p.decision
            ));
        }
        Event::Result(result) => {
            let text = if result.truncated || result.output.is_empty() {
                std::mem::take(text)
            } else {
                result.output.clone()
            };
            return Some(Ok(Finished { text, result }));
        }
        Event::Error(body) => return Some(Err(failed(&body))),
        Event::Plan { .. } | Event::Usage { .. } | Event::Raw { .. } | Event::Unknown => {}
    }
    None
}

/// A failure as the calling model reads it: capd's message, which says what to do next.
fn failed(body: &ErrorBody) -> String {
    body.message.clone()
}

/// At most about 200 characters of `s`, on one line.
pub fn snippet(s: &str) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

/// A note on stderr, which MCP clients log and never parse.
fn tracing_note(message: &str) {
    eprintln!("cap mcp: {message}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn snippets_are_short_and_on_one_line() {
        assert_eq!(super::snippet("a\n b\tc"), "a b c");
        let long = "x".repeat(500);
        let s = super::snippet(&long);
        assert_eq!(s.chars().count(), 201);
        assert!(s.ends_with('…'));
    }
}
