//! Following one turn's stream until its `result` or `error`, and every way it can end
//! early: Ctrl-C, a daemon that goes away or goes silent, and lines this build cannot decode.
//!
//! Lines arrive through a [`Link`], which reads them on a helper thread and pings a quiet
//! daemon; the Ctrl-C handler sends into the same channel, so the main thread can react to
//! an interrupt while the daemon is silent (an agent thinking for a minute sends nothing).

use super::{send_cancel, target};
use crate::Ctx;
use crate::cli::Format;
use crate::connect::Conn;
use crate::failure::{Failure, INTERRUPTED, RUNTIME};
use crate::link::{Incoming, Link, Silent};
use crate::output;
use crate::render::{Renderer, note};
use crate::wire;
use cap_proto::client::Received;
use cap_proto::event::{Envelope, Event};
use cap_proto::policy::Verdict;
use cap_proto::reply::Reply;
use cap_proto::request::{Asker, DecideRequest, Op, PromptRequest, Route};
use cap_proto::{ErrorBody, ProtoError};

/// Messages from this process's other threads.
pub(super) enum Local {
    Interrupt,
    /// The outcome of the cancel request sent on the first Ctrl-C.
    Cancelled(Result<String, String>),
    /// The person's answer to a permission question.
    Answer(DecideRequest),
}

/// Whether the stream goes on.
enum Flow {
    Go,
    Done,
}

/// Streams the turn; `ended` tells whether a terminal event was printed, so that `run` knows
/// whether `--format json` still owes its caller a last `error` line.
pub(super) fn stream(
    ctx: &Ctx,
    conn: Conn,
    req: PromptRequest,
    ended: &mut bool,
) -> anyhow::Result<()> {
    let route = req.route.clone();
    let structured = req.schema.is_some();
    // Questions are put to the person at this terminal; in json they are events for the
    // program reading them, which answers with `cap decide`.
    let ask_here = ctx.format != Format::Json
        && route
            .permissions
            .as_ref()
            .is_some_and(|p| p.asker == Asker::Client);
    let link: Link<Local> = Link::new(conn.client, ctx.timeouts);
    let id = link.send(Op::Prompt(req))?;
    let on_int = link.sender();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = on_int.send(Incoming::Local(Local::Interrupt));
    }) && ctx.verbose > 0
    {
        note(ctx, &format!("Ctrl-C will not cancel the turn: {e}"));
    }
    let mut turn = Turn {
        ctx,
        id,
        session: route.session.clone(),
        route,
        render: Renderer::new(ctx).structured(structured),
        request: None,
        interrupted: false,
        warned: false,
        ended: false,
        ask: ask_here,
        link,
    };
    let outcome = turn.follow();
    *ended = turn.ended;
    outcome
}

/// The state of one streamed turn.
struct Turn<'a> {
    ctx: &'a Ctx,
    /// The prompt request's id on this connection.
    id: u64,
    route: Route,
    render: Renderer,
    /// The session serving the turn, once announced (or named by `--session`).
    session: Option<String>,
    /// The turn's daemon-made request id, once announced.
    request: Option<String>,
    interrupted: bool,
    /// A skipped line was mentioned already (mentioned once unless `-v`).
    warned: bool,
    /// A terminal event was printed.
    ended: bool,
    /// Permission questions are asked at this terminal.
    ask: bool,
    link: Link<Local>,
}

impl Turn<'_> {
    fn follow(&mut self) -> anyhow::Result<()> {
        loop {
            let msg = match self.link.recv() {
                Ok(msg) => msg,
                Err(silent) => return Err(self.silent(silent)),
            };
            let flow = match msg {
                Incoming::Local(Local::Interrupt) => self.interrupt()?,
                Incoming::Local(Local::Cancelled(Ok(message))) => {
                    if self.ctx.verbose > 0 {
                        self.render.note(&message)?;
                    }
                    Flow::Go
                }
                Incoming::Local(Local::Answer(answer)) => {
                    // A late answer (another client answered first) is refused by capd; the
                    // reply to it is not this turn's and is passed over.
                    self.link.send(Op::Decide(answer))?;
                    Flow::Go
                }
                Incoming::Local(Local::Cancelled(Err(message))) => {
                    self.render
                        .note(&format!("could not cancel the turn: {message}"))?;
                    Flow::Go
                }
                Incoming::Line(Err(ProtoError::Closed | ProtoError::Io { .. })) => {
                    return Err(self.gone());
                }
                Incoming::Line(Err(ProtoError::LineTooLong { .. })) => {
                    return Err(self.oversized());
                }
                Incoming::Line(Err(e)) => {
                    self.skipped(&e.to_string())?;
                    Flow::Go
                }
                Incoming::Line(Ok(line)) => self.line(*line)?,
            };
            if let Flow::Done = flow {
                return Ok(());
            }
        }
    }

    /// The first Ctrl-C cancels the turn in the agent; the second quits at once.
    fn interrupt(&mut self) -> anyhow::Result<Flow> {
        if self.interrupted {
            self.render.end_turn()?;
            let hint = self.session.as_deref().unwrap_or("<session>");
            return Err(Failure::new(
                INTERRUPTED,
                format!("interrupted; the turn may still be running: `cap cancel {hint}` stops it"),
            )
            .into());
        }
        self.interrupted = true;
        self.render
            .note("cancelling the turn (Ctrl-C again to quit at once)")?;
        send_cancel(
            self.ctx.clone(),
            target(
                &self.route,
                self.session.as_deref(),
                self.request.as_deref(),
            ),
            self.link.sender(),
        );
        Ok(Flow::Go)
    }

    fn line(&mut self, line: Received) -> anyhow::Result<Flow> {
        let resp = match &line.response {
            Ok(resp) => resp,
            Err(e) => return self.undecodable(&line, e),
        };
        if let (0, Reply::Error(body)) = (resp.id, &resp.reply) {
            // The daemon could not parse a line of ours (the prompt, or a ping): nothing more
            // will come for this turn, so waiting on would be waiting forever.
            self.render.end_turn()?;
            return Err(self.failed(rejected(body)));
        }
        if resp.id != self.id {
            return Ok(Flow::Go);
        }
        match &resp.reply {
            Reply::Event(env) => self.event(env, wire::payload(&line.text)),
            Reply::Error(body) => {
                self.render.end_turn()?;
                Err(self.failed(body.clone()))
            }
            other => Err(output::unexpected("prompt", other)),
        }
    }

    fn event(&mut self, env: &Envelope, raw: &str) -> anyhow::Result<Flow> {
        if let Event::Session(s) = &env.event {
            self.session = Some(s.id.clone());
            self.request.clone_from(&env.request);
        }
        self.render.event(env, raw)?;
        if let Event::Permission(p) = &env.event
            && p.decision == Verdict::Ask
            && self.ask
        {
            let tx = self.link.sender();
            crate::ask::question(p, move |answer| {
                let _ = tx.send(Incoming::Local(Local::Answer(answer)));
            });
        }
        match &env.event {
            Event::Result(_) if self.interrupted => {
                self.ended = true;
                Err(Failure::new(INTERRUPTED, "interrupted; the turn was cancelled").into())
            }
            Event::Result(_) => {
                self.ended = true;
                Ok(Flow::Done)
            }
            Event::Error(body) => {
                self.ended = true;
                Err(self.failed(body.clone()))
            }
            _ => Ok(Flow::Go),
        }
    }

    /// A line of this turn that this build cannot decode, such as an event with an error
    /// code added after it was built. `json` passes it through all the same, and a `result`
    /// or `error` still ends the turn: skipping it would leave `cap` waiting for an end that
    /// already came.
    fn undecodable(&mut self, line: &Received, e: &serde_json::Error) -> anyhow::Result<Flow> {
        let parts = wire::parts(&line.text);
        if let (Some(0), Some("error"), Some(raw)) =
            (parts.id, parts.kind.as_deref(), parts.payload)
        {
            self.render.end_turn()?;
            return Err(self.failed(rejected(&wire::lenient_error(raw))));
        }
        if parts.id.is_some() && parts.id != Some(self.id) {
            return Ok(Flow::Go);
        }
        let why = format!("{e}; `cap daemon restart` if capd was updated");
        match (parts.kind.as_deref(), parts.payload) {
            (Some("event"), Some(raw)) => {
                self.render.passthrough(raw)?;
                match wire::event_type(raw).as_deref() {
                    Some("error") => {
                        self.ended = true;
                        self.render.end_turn()?;
                        Err(self.failed(wire::lenient_error(raw)))
                    }
                    Some("result") => {
                        self.ended = true;
                        self.render.end_turn()?;
                        Err(Failure::runtime(format!(
                            "capd ended the turn with a result this cap cannot read ({why})"
                        ))
                        .into())
                    }
                    _ => {
                        self.skipped(&format!("an event this cap cannot read: {why}"))?;
                        Ok(Flow::Go)
                    }
                }
            }
            (Some("error"), Some(raw)) => {
                self.render.end_turn()?;
                Err(self.failed(wire::lenient_error(raw)))
            }
            _ => {
                self.skipped(&format!("a reply this cap cannot read: {why}"))?;
                Ok(Flow::Go)
            }
        }
    }

    /// Mentions a skipped line, once unless `-v`.
    fn skipped(&mut self, what: &str) -> anyhow::Result<()> {
        if !self.warned || self.ctx.verbose > 0 {
            self.render.note(&format!("skipped {what}"))?;
            self.warned = true;
        }
        Ok(())
    }

    /// The turn failed; after Ctrl-C the exit code is 130 whatever the daemon said. The
    /// body travels as a protocol error so `run` can print it as the `error` line as is.
    fn failed(&self, body: ErrorBody) -> anyhow::Error {
        if self.interrupted {
            Failure::new(INTERRUPTED, body.message).into()
        } else {
            ProtoError::Remote(body).into()
        }
    }

    /// The daemon sent a line over the limit, which the framing dropped. Its id is lost with
    /// it, so it may well have been this turn's `result`: going on could mean waiting for an
    /// end that already came, and in any case the output shown is incomplete.
    fn oversized(&mut self) -> anyhow::Error {
        if let Err(e) = self.render.end_turn() {
            return e;
        }
        let session = match &self.session {
            Some(s) => format!(" (session {s})"),
            None => String::new(),
        };
        Failure::runtime(format!(
            "capd sent a line longer than the {} MiB limit of its socket, probably this \
             turn's result{session}; cap had to drop it, so the turn's output is incomplete. \
             Ask the agent to write large output to a file instead",
            cap_proto::MAX_LINE / (1024 * 1024)
        ))
        .into()
    }

    /// The daemon answered neither the turn nor a ping in time. The turn itself may be fine
    /// (the daemon may recover), so the message says where to find its result.
    fn silent(&mut self, silent: Silent) -> anyhow::Error {
        if let Err(e) = self.render.end_turn() {
            return e;
        }
        let next = match &self.session {
            Some(s) => format!(
                "the turn may still be running: `cap result {s}` fetches its answer once capd \
                 recovers"
            ),
            None => "the prompt may still be queued or running".into(),
        };
        Failure::unavailable(format!(
            "capd on {} stopped answering mid-turn: nothing for {}, not even a reply to a \
             `status` ping. {next}; if it stays wedged, see its log at {} and run `cap daemon \
             restart` (set {} to wait longer)",
            self.ctx.socket.display(),
            crate::timeouts::show(silent.0),
            cap_proto::paths::log_file().display(),
            crate::timeouts::PING_TIMEOUT_ENV,
        ))
        .into()
    }

    /// The connection died mid-stream.
    fn gone(&mut self) -> anyhow::Error {
        if let Err(e) = self.render.end_turn() {
            return e;
        }
        let message = match &self.session {
            Some(s) => format!(
                "the daemon went away mid-turn; the turn's result may still be available \
                 with `cap result {s}`"
            ),
            None => "the daemon went away before the turn started; try again".into(),
        };
        let code = if self.interrupted {
            INTERRUPTED
        } else {
            RUNTIME
        };
        Failure::new(code, message).into()
    }
}

/// An id-0 error (the daemon's answer to a line it could not parse), said as what it means
/// for this prompt.
fn rejected(body: &ErrorBody) -> ErrorBody {
    ErrorBody {
        message: format!("capd could not read a request from cap: {}", body.message),
        ..body.clone()
    }
}
