//! `cap attach ID`: follow a session's events from another terminal until it ends or the
//! daemon goes away. Unlike `prompt` it does not stop at the first result: it keeps following
//! turn after turn, and Ctrl-C simply leaves (it never cancels anything).

use crate::Ctx;
use crate::cli::Format;
use crate::connect::connect;
use crate::link::{Incoming, Link};
use crate::output;
use crate::render::{Renderer, note};
use crate::wire;
use cap_proto::ProtoError;
use cap_proto::event::Event;
use cap_proto::policy::Verdict;
use cap_proto::reply::Reply;
use cap_proto::request::{DecideRequest, Op, SessionRef};
use std::io::IsTerminal;

pub fn run(ctx: &Ctx, id: String) -> anyhow::Result<()> {
    let conn = connect(ctx)?;
    // Following a session is long and mostly quiet; the link's pings tell a quiet daemon
    // from a wedged one.
    let mut link: Link<DecideRequest> = Link::new(conn.client, ctx.timeouts);
    // On a terminal, a permission question of the session's turn may be answered here too;
    // the first answer from any client wins.
    let ask_here = ctx.format == Format::Text
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal();
    let req = link.send(Op::Attach(SessionRef {
        session: id.clone(),
    }))?;
    let mut render = Renderer::new(ctx);
    loop {
        let line = match link.recv() {
            Ok(Incoming::Line(Ok(line))) => *line,
            Ok(Incoming::Local(answer)) => {
                link.send(Op::Decide(answer))?;
                continue;
            }
            Ok(Incoming::Line(Err(ProtoError::Closed))) => {
                render.end_turn()?;
                note(ctx, "the daemon closed the stream");
                return Ok(());
            }
            Ok(Incoming::Line(Err(e @ (ProtoError::NotUtf8 | ProtoError::LineTooLong { .. })))) => {
                render.note(&format!("skipped a reply cap does not understand: {e}"))?;
                continue;
            }
            Ok(Incoming::Line(Err(e))) => return Err(e.into()),
            Err(silent) => {
                render.end_turn()?;
                return Err(super::stopped_answering(ctx, silent, "attach").into());
            }
        };
        let resp = match &line.response {
            Ok(resp) => resp,
            Err(e) => {
                // Still the daemon's words: json passes an event of this stream through.
                let parts = wire::parts(&line.text);
                match (parts.id, parts.kind.as_deref(), parts.payload) {
                    (Some(id), Some("event"), Some(raw)) if id == req => render.passthrough(raw)?,
                    (Some(id), ..) if id != req => {}
                    _ => render.note(&format!("skipped a reply cap does not understand: {e}"))?,
                }
                continue;
            }
        };
        if resp.id != req {
            continue;
        }
        match &resp.reply {
            Reply::Event(env) => {
                render.event(env, wire::payload(&line.text))?;
                if let Event::Permission(p) = &env.event
                    && p.decision == Verdict::Ask
                    && ask_here
                {
                    let tx = link.sender();
                    crate::ask::question(p, move |answer| {
                        let _ = tx.send(Incoming::Local(answer));
                    });
                }
                if let Event::Error(body) = &env.event {
                    render.error_line(&body.message)?;
                }
            }
            // The attach stream ends with the session: an `ended` or `done` reply says so.
            Reply::Error(body) => {
                render.end_turn()?;
                return Err(ProtoError::Remote(body.clone()).into());
            }
            Reply::Ended(_) | Reply::Done(_) => {
                render.end_turn()?;
                return match ctx.format {
                    Format::Json => output::println(wire::payload(&line.text)),
                    Format::Quiet => Ok(()),
                    Format::Text => {
                        note(ctx, &format!("session {id} ended"));
                        Ok(())
                    }
                };
            }
            other => return Err(output::unexpected("attach", other)),
        }
    }
}
