//! `cap prompt`: send one prompt and stream the turn until its `result` or `error`.
//!
//! This module gathers the prompt and reports failures; following the stream is the
//! `turn` submodule's.

mod turn;

use crate::Ctx;
use crate::cli::{Format, PromptArgs};
use crate::connect::{connect, try_connect};
use crate::failure::{Failure, code_for_exit, exit_code};
use crate::link::Incoming;
use crate::output::{self, print_json};
use crate::render::note;
use cap_proto::event::{Envelope, Event};
use cap_proto::reply::Reply;
use cap_proto::request::{Asker, Op, PromptRequest, Route, TargetRequest};
use cap_proto::{ErrorBody, ProtoError};
use std::io::{IsTerminal, Read};
use std::path::Path;
use std::sync::mpsc::Sender;
use turn::Local;

pub fn run(ctx: &Ctx, args: PromptArgs) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let stdin_tty = stdin.is_terminal();
    let prepared = gather_text(
        &args.text,
        args.file.as_deref(),
        stdin_tty,
        &mut stdin.lock(),
    )
    .and_then(|text| {
        let mut route = crate::route::route(&args.route)?;
        // Who answers what the policy leaves open: the person at this terminal, the program
        // reading json events, or (detached, or piped text) nobody.
        let asker = if args.no_wait {
            Asker::Nobody
        } else if ctx.format == Format::Json || (stdin_tty && std::io::stderr().is_terminal()) {
            Asker::Client
        } else {
            Asker::Nobody
        };
        route.permissions = Some(crate::route::permissions(&args.route.permissions, asker));
        let req = PromptRequest {
            text,
            route,
            timeout_secs: args.timeout,
            no_wait: args.no_wait,
            budget_usd: args.budget,
            handoff: args.handoff,
            delegation: None,
            schema: args.schema.as_deref().map(read_schema).transpose()?,
            steer: args.steer,
        };
        super::ensure_fits(&Op::Prompt(req.clone()))?;
        Ok(req)
    });
    let req = match prepared {
        Ok(req) => req,
        Err(f) => {
            // Usage errors found here (empty prompt, bad -C, a prompt too large to send) end
            // the output like any other failure: with an `error` line in json.
            let err = anyhow::Error::from(f);
            if ctx.format == Format::Json && !args.no_wait {
                synthesize_error(&err)?;
            }
            return Err(err);
        }
    };
    if args.no_wait {
        return queue(ctx, req);
    }
    let mut ended = false;
    let outcome = connect(ctx).and_then(|conn| turn::stream(ctx, conn, req, &mut ended));
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

/// `--schema FILE|JSON`: the schema itself when the value is JSON text (an object, or
/// `true`/`false`), else the file it names. Whether it is a valid schema is the daemon's to
/// say (one validator for every client), also before anything is sent.
pub fn read_schema(arg: &str) -> Result<serde_json::Value, Failure> {
    let inline = matches!(arg.trim(), "true" | "false") || arg.trim_start().starts_with('{');
    let (text, what) = if inline {
        (arg.to_string(), "the --schema value".to_string())
    } else {
        let text = std::fs::read_to_string(arg).map_err(|e| {
            Failure::usage(format!(
                "cannot read the schema file {arg}: {e}; pass a JSON Schema file, or the schema itself as JSON"
            ))
        })?;
        (text, format!("the schema file {arg}"))
    };
    serde_json::from_str(&text).map_err(|e| Failure::usage(format!("{what} is not JSON: {e}")))
}

/// `--no-wait`: the daemon answers as soon as the prompt is queued.
fn queue(ctx: &Ctx, req: PromptRequest) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Prompt(req))?;
    let Reply::Queued(q) = &answer.reply else {
        return Err(output::unexpected("prompt", &answer.reply));
    };
    match ctx.format {
        Format::Json => answer.print_json(),
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
fn send_cancel(ctx: Ctx, target: TargetRequest, tx: Sender<Incoming<Local>>) {
    std::thread::spawn(move || {
        let outcome = try_connect(&ctx)
            .and_then(|mut conn| conn.client.call(Op::Cancel(target)))
            .map_err(|e| e.to_string())
            .map(|reply| match reply {
                Reply::Done(done) => done.message,
                other => format!("{other:?}"),
            });
        let _ = tx.send(Incoming::Local(Local::Cancelled(outcome)));
    });
}

/// Prints an `error` envelope for a failure the daemon's stream did not end with. An error
/// the daemon sent (outside an event) is printed with its own code and message; anything
/// else gets the code matching its exit code.
fn synthesize_error(err: &anyhow::Error) -> anyhow::Result<()> {
    if crate::failure::is_silent(err) {
        return Ok(());
    }
    let body = err
        .downcast_ref::<ProtoError>()
        .and_then(|e| match e {
            ProtoError::Remote(body) => Some(body.clone()),
            _ => None,
        })
        .unwrap_or_else(|| ErrorBody::new(code_for_exit(exit_code(err)), format!("{err:#}")));
    print_json(&Envelope::new(Event::Error(body), None, None, 0))
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
    fn schemas_come_inline_or_from_a_file() {
        assert_eq!(
            read_schema(r#" {"type":"string"}"#).unwrap(),
            serde_json::json!({"type": "string"})
        );
        assert_eq!(read_schema("true").unwrap(), serde_json::json!(true));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.json");
        std::fs::write(&f, r#"{"type":"object"}"#).unwrap();
        let path = f.to_str().unwrap();
        assert_eq!(read_schema(path).unwrap()["type"], "object");
        std::fs::write(&f, "{not json").unwrap();
        let err = read_schema(path).unwrap_err();
        assert_eq!(err.code, 2);
        assert!(err.message.contains("is not JSON"), "{}", err.message);
        let err = read_schema("{oops").unwrap_err();
        assert_eq!(err.code, 2);
        let err = read_schema("missing.json").unwrap_err();
        assert_eq!(err.code, 2);
        assert!(
            err.message
                .contains("cannot read the schema file missing.json")
        );
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
