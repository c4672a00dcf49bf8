//! `cap attach ID`: follow a session's events from another terminal until it ends or the
//! daemon goes away. Unlike `prompt` it does not stop at the first result: it keeps following
//! turn after turn, and Ctrl-C simply leaves (it never cancels anything).

use crate::Ctx;
use crate::cli::Format;
use crate::connect::connect;
use crate::output::{self, print_json};
use crate::render::{Renderer, note};
use cap_proto::ProtoError;
use cap_proto::event::Event;
use cap_proto::reply::Reply;
use cap_proto::request::{Op, SessionRef};

pub fn run(ctx: &Ctx, id: String) -> anyhow::Result<()> {
    let mut conn = connect(ctx)?;
    let req = conn.client.send(Op::Attach(SessionRef {
        session: id.clone(),
    }))?;
    let mut render = Renderer::new(ctx);
    loop {
        let resp = match conn.client.recv() {
            Ok(resp) => resp,
            Err(ProtoError::Closed) => {
                render.end_turn()?;
                note(ctx, "the daemon closed the stream");
                return Ok(());
            }
            Err(
                e @ (ProtoError::Json(_) | ProtoError::NotUtf8 | ProtoError::LineTooLong { .. }),
            ) => {
                render.note(&format!("skipped a reply cap does not understand: {e}"))?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if resp.id != req {
            continue;
        }
        match resp.reply {
            Reply::Event(env) => {
                render.event(&env)?;
                if let Event::Error(body) = &env.event {
                    render.error_line(&body.message)?;
                }
            }
            // The attach stream ends with the session: an `ended` or `done` reply says so.
            Reply::Error(body) => {
                render.end_turn()?;
                return Err(ProtoError::Remote(body).into());
            }
            other @ (Reply::Ended(_) | Reply::Done(_)) => {
                render.end_turn()?;
                return match ctx.format {
                    Format::Json => print_json(&output::payload(&other)),
                    Format::Quiet => Ok(()),
                    Format::Text => {
                        note(ctx, &format!("session {id} ended"));
                        Ok(())
                    }
                };
            }
            other => return Err(output::unexpected("attach", &other)),
        }
    }
}
