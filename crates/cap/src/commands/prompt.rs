//! `cap prompt`: send one prompt and stream the turn until its `result` or `error`.
//!
//! The socket is read on a helper thread that forwards every reply into a channel, and the
//! Ctrl-C handler sends into the same channel, so the main thread can react to an interrupt
//! while the daemon is silent (an agent thinking for a minute sends nothing).

use crate::Ctx;
use crate::cli::{Format, PromptArgs};
use crate::connect::{Conn, connect, try_connect};
use crate::failure::{Failure, INTERRUPTED, RUNTIME, code_for_exit, exit_code};
use crate::output::{self, print_json};
use crate::render::{Renderer, note};
use cap_proto::event::{Envelope, Event};
use cap_proto::reply::{Reply, Response};
use cap_proto::request::{Op, PromptRequest, Route, TargetRequest};
use cap_proto::{ErrorBody, ProtoError};
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::sync::mpsc::{self, Sender};

pub fn run(ctx: &Ctx, args: PromptArgs) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let stdin_tty = stdin.is_terminal();
    let prepared = gather_text(
        &args.text,
        args.file.as_deref(),
        stdin_tty,
        &mut stdin.lock(),
    )
    .and_then(|text| Ok((text, crate::route::route(&args.route)?)));
    let (text, route) = match prepared {
        Ok(p) => p,
        Err(f) => {
            // Usage errors found here (empty prompt, bad -C) end the output like any other
            // failure: with an `error` line in json.
            let err = anyhow::Error::from(f);
            if ctx.format == Format::Json && !args.no_wait {
                synthesize_error(&err)?;
            }
            return Err(err);
        }
    };
    let req = PromptRequest {
        text,
        route,
        timeout_secs: args.timeout,
        no_wait: args.no_wait,
    };
    if args.no_wait {
        return queue(ctx, req);
    }
    let mut ended = false;
    let outcome = connect(ctx).and_then(|conn| stream(ctx, conn, req, &mut ended));
    if let Err(err) = &outcome
        && ctx.format == Format::Json
        && !ended
    {
        // Scripts rely on the last line of a prompt being `result` or `error`, even when the
        // daemon never got to say anything.
        synthesize_error(err)?;
    }
    outcome
}

/// The prompt text: the words joined by spaces, else `--file` (`-` = stdin), else stdin when
/// it is not a terminal. Stdin is never read when words or a file are given, so a prompt in a
/// script loop does not swallow the loop's input.
pub fn gather_text(
    words: &[String],
    file: Option<&Path>,
    stdin_tty: bool,
    stdin: &mut dyn Read,
) -> Result<String, Failure> {
    let read_stdin = |stdin: &mut dyn Read| {
        let mut s = String::new();
        stdin
            .read_to_string(&mut s)
            .map(|_| s)
            .map_err(|e| Failure::usage(format!("cannot read the prompt from stdin: {e}")))
    };
    let text = if !words.is_empty() {
        words.join(" ")
    } else if let Some(file) = file {
        if file == Path::new("-") {
            read_stdin(stdin)?
        } else {
            std::fs::read_to_string(file).map_err(|e| {
                Failure::usage(format!(
                    "cannot read the prompt file {}: {e}",
                    file.display()
                ))
            })?
        }
    } else if !stdin_tty {
        read_stdin(stdin)?
    } else {
        String::new()
    };
    if text.trim().is_empty() {
        return Err(Failure::usage(
            "empty prompt; pass text, --file F, or pipe it on stdin",
        ));
    }
    Ok(text)
}

/// `--no-wait`: the daemon answers as soon as the prompt is queued.
fn queue(ctx: &Ctx, req: PromptRequest) -> anyhow::Result<()> {
    let reply = super::call(ctx, Op::Prompt(req))?;
    let Reply::Queued(q) = &reply else {
        return Err(output::unexpected("prompt", &reply));
    };
    match ctx.format {
        Format::Json => print_json(q),
        Format::Quiet => output::println(&q.session),
        Format::Text => {
            output::println(&format!(
                "queued as request {} on session {}",
                q.request, q.session
            ))?;
            note(
                ctx,
                &format!("fetch the answer with: cap result {}", q.session),
            );
            Ok(())
        }
    }
}

/// What the main thread hears about.
enum Msg {
    Reply(Result<Response, ProtoError>),
    Interrupt,
    /// The outcome of the cancel request sent on the first Ctrl-C.
    Cancelled(Result<String, String>),
}

/// Streams the turn; `ended` tells whether a terminal event was rendered.
fn stream(ctx: &Ctx, conn: Conn, req: PromptRequest, ended: &mut bool) -> anyhow::Result<()> {
    let mut client = conn.client;
    let route = req.route.clone();
    let id = client.send(Op::Prompt(req))?;
    let (tx, rx) = mpsc::channel();
    let reader = tx.clone();
    std::thread::spawn(move || {
        loop {
            let reply = client.recv();
            // A line cap cannot decode is skipped; only a dead connection ends the stream.
            let fatal = matches!(&reply, Err(ProtoError::Closed | ProtoError::Io { .. }));
            if reader.send(Msg::Reply(reply)).is_err() || fatal {
                break;
            }
        }
    });
    let on_int = tx.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = on_int.send(Msg::Interrupt);
    }) && ctx.verbose > 0
    {
        note(ctx, &format!("Ctrl-C will not cancel the turn: {e}"));
    }

    let mut render = Renderer::new(ctx);
    let mut session = route.session.clone();
    let mut request: Option<String> = None;
    let mut interrupted = false;
    let mut warned = false;
    for msg in rx {
        let resp = match msg {
            Msg::Interrupt if interrupted => {
                render.end_turn()?;
                let hint = session.as_deref().unwrap_or("<session>");
                return Err(Failure::new(
                    INTERRUPTED,
                    format!(
                        "interrupted; the turn may still be running: `cap cancel {hint}` stops it"
                    ),
                )
                .into());
            }
            Msg::Interrupt => {
                interrupted = true;
                render.note("cancelling the turn (Ctrl-C again to quit at once)")?;
                send_cancel(
                    ctx.clone(),
                    target(&route, session.as_deref(), request.as_deref()),
                    tx.clone(),
                );
                continue;
            }
            Msg::Cancelled(Ok(message)) => {
                if ctx.verbose > 0 {
                    render.note(&message)?;
                }
                continue;
            }
            Msg::Cancelled(Err(message)) => {
                render.note(&format!("could not cancel the turn: {message}"))?;
                continue;
            }
            Msg::Reply(Err(ProtoError::Closed | ProtoError::Io { .. })) => {
                render.end_turn()?;
                let message = match &session {
                    Some(s) => format!(
                        "the daemon went away mid-turn; the turn's result may still be \
                         available with `cap result {s}`"
                    ),
                    None => "the daemon went away before the turn started; try again".into(),
                };
                let code = if interrupted { INTERRUPTED } else { RUNTIME };
                return Err(Failure::new(code, message).into());
            }
            Msg::Reply(Err(e)) => {
                if !warned || ctx.verbose > 0 {
                    render.note(&format!("skipped a reply cap does not understand: {e}"))?;
                    warned = true;
                }
                continue;
            }
            Msg::Reply(Ok(resp)) => resp,
        };
        if resp.id != id {
            continue;
        }
        let env = match resp.reply {
            Reply::Event(env) => env,
            Reply::Error(body) => {
                render.end_turn()?;
                return Err(turn_error(body, interrupted));
            }
            other => return Err(output::unexpected("prompt", &other)),
        };
        if let Event::Session(s) = &env.event {
            session = Some(s.id.clone());
            request.clone_from(&env.request);
        }
        render.event(&env)?;
        match env.event {
            Event::Result(_) if interrupted => {
                *ended = true;
                return Err(
                    Failure::new(INTERRUPTED, "interrupted; the turn was cancelled").into(),
                );
            }
            Event::Result(_) => {
                *ended = true;
                return Ok(());
            }
            Event::Error(body) => {
                *ended = true;
                return Err(turn_error(body, interrupted));
            }
            _ => {}
        }
    }
    Err(Failure::runtime("lost the connection to the daemon mid-turn").into())
}

/// A failed turn's error; after Ctrl-C the exit code is 130 whatever the daemon said.
fn turn_error(body: ErrorBody, interrupted: bool) -> anyhow::Error {
    let mut f = Failure::from(body);
    if interrupted {
        f.code = INTERRUPTED;
    }
    f.into()
}

/// What to cancel: the session serving the turn once known, else what the route names.
/// What Ctrl-C cancels: this prompt's own turn once its request id is known (so a prompt
/// queued behind another caller's turn never cancels that turn), else the key's running turn.
fn target(route: &Route, session: Option<&str>, request: Option<&str>) -> TargetRequest {
    match session {
        Some(s) => TargetRequest {
            session: Some(s.to_string()),
            request: request.map(str::to_string),
            ..TargetRequest::default()
        },
        None => TargetRequest {
            key: route.key.clone(),
            cwd: Some(route.cwd.clone()),
            ..TargetRequest::default()
        },
    }
}

/// Cancels on a second connection (the first is busy streaming), off the main thread so a
/// second Ctrl-C still quits at once.
fn send_cancel(ctx: Ctx, target: TargetRequest, tx: Sender<Msg>) {
    std::thread::spawn(move || {
        let outcome = try_connect(&ctx)
            .and_then(|mut conn| conn.client.call(Op::Cancel(target)))
            .map_err(|e| e.to_string())
            .map(|reply| match reply {
                Reply::Done(done) => done.message,
                other => format!("{other:?}"),
            });
        let _ = tx.send(Msg::Cancelled(outcome));
    });
}

/// Prints an `error` envelope for a failure that happened outside the daemon's stream.
fn synthesize_error(err: &anyhow::Error) -> anyhow::Result<()> {
    if crate::failure::is_silent(err) {
        return Ok(());
    }
    let code = code_for_exit(exit_code(err));
    let env = Envelope {
        v: cap_proto::EVENT_VERSION,
        event: Event::Error(ErrorBody::new(code, format!("{err:#}"))),
        session: None,
        request: None,
        seq: 0,
    };
    print_json(&env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::path::PathBuf;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn args_win_and_stdin_is_left_alone() {
        let mut stdin = Cursor::new("from stdin");
        let text = gather_text(&words(&["fix", "the", "test"]), None, false, &mut stdin).unwrap();
        assert_eq!(text, "fix the test");
        assert_eq!(stdin.position(), 0, "stdin must not be read");
    }

    #[test]
    fn file_then_dash_for_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.txt");
        std::fs::write(&f, "from file\n").unwrap();
        let mut stdin = Cursor::new("from stdin");
        assert_eq!(
            gather_text(&[], Some(&f), false, &mut stdin).unwrap(),
            "from file\n"
        );
        assert_eq!(stdin.position(), 0);
        assert_eq!(
            gather_text(&[], Some(Path::new("-")), true, &mut stdin).unwrap(),
            "from stdin"
        );
        let missing = gather_text(&[], Some(&dir.path().join("no")), true, &mut stdin);
        assert_eq!(missing.unwrap_err().code, 2);
    }

    #[test]
    fn stdin_only_when_not_a_terminal() {
        let mut stdin = Cursor::new("piped");
        assert_eq!(gather_text(&[], None, false, &mut stdin).unwrap(), "piped");
        let mut stdin = Cursor::new("typed");
        let err = gather_text(&[], None, true, &mut stdin).unwrap_err();
        assert_eq!(err.code, 2);
        assert_eq!(stdin.position(), 0);
    }

    #[test]
    fn empty_prompts_are_usage_errors() {
        for (w, input) in [(&["  ", ""][..], ""), (&[], " \n\t"), (&[], "")] {
            let err = gather_text(&words(w), None, false, &mut Cursor::new(input)).unwrap_err();
            assert_eq!(err.code, 2);
            assert!(err.message.starts_with("empty prompt"), "{}", err.message);
        }
    }

    #[test]
    fn cancel_targets_the_session_once_known() {
        let route = Route {
            key: Some("k".into()),
            cwd: "/x".into(),
            ..Route::default()
        };
        let t = target(&route, Some("s1"), Some("r1"));
        assert_eq!(t.session.as_deref(), Some("s1"));
        assert_eq!(t.request.as_deref(), Some("r1"));
        assert!(t.key.is_none() && t.cwd.is_none());
        let t = target(&route, None, None);
        assert_eq!(t.key.as_deref(), Some("k"));
        assert_eq!(t.cwd, Some(PathBuf::from("/x")));
    }
}
