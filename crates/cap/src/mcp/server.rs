//! The MCP server: tool listing and dispatch. Each tool is one capd request made with the
//! blocking client on a blocking thread, except `prompt`, which streams (see [`super::turn`]).
//!
//! Failures a model can act on (a refused depth, an unknown agent, a timeout) are tool
//! results with `isError`, whose text the model reads; only a malformed call is a protocol
//! error.

use super::keys::Keys;
use super::tools::{self, Name, PromptArgs, SessionArgs, TargetArgs};
use super::turn::{self, Finished, Update};
use crate::Ctx;
use crate::link::Incoming;
use cap_proto::event::Event;
use cap_proto::reply::Reply;
use cap_proto::request::{
    Asker, DecideRequest, Delegation, Op, OpenMode, Permissions, PromptRequest, Route, SessionRef,
    TargetRequest,
};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, Implementation, InitializeResult,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ProgressToken,
    ServerCapabilities,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use std::path::PathBuf;
use std::sync::mpsc::Sender;
use tokio::sync::mpsc;

/// The server's fixed facts, shared by every call.
#[derive(Debug, Clone)]
pub struct Server {
    pub ctx: Ctx,
    pub keys: Keys,
    /// The server's working directory: the delegated sessions' cwd.
    pub cwd: PathBuf,
    /// The capd session whose agent started this server (`CAP_SESSION`), if any.
    pub caller: Option<String>,
    /// This server's ancestor processes, for capd to find the caller without `CAP_SESSION`.
    pub ancestors: Vec<u32>,
}

const INSTRUCTIONS: &str = "cap keeps other coding agents (Claude Code, Codex, Gemini CLI, \
OpenCode, ...) running as warm sessions. Use `prompt` to ask one of them something; call it \
again with the same agent to continue the same conversation.";

impl ServerHandler for Server {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("cap", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CallToolResponse, ErrorData> {
        let Some(name) = Name::parse(&request.name) else {
            return Err(ErrorData::invalid_params(
                format!(
                    "no tool named `{}`; the tools are prompt, sessions, result, cancel, end",
                    request.name
                ),
                None,
            ));
        };
        let raw = request.arguments;
        let outcome = match name {
            Name::Prompt => match tools::args::<PromptArgs>("prompt", raw) {
                Ok(args) => self.prompt(args, context).await,
                Err(e) => Err(e),
            },
            Name::Sessions => self.sessions().await,
            Name::Result => match tools::args::<SessionArgs>("result", raw) {
                Ok(args) => self.result(args).await,
                Err(e) => Err(e),
            },
            Name::Cancel => match tools::args::<TargetArgs>("cancel", raw) {
                Ok(args) => self.cancel(args).await,
                Err(e) => Err(e),
            },
            Name::End => match tools::args::<TargetArgs>("end", raw) {
                Ok(args) => self.end(args).await,
                Err(e) => Err(e),
            },
        };
        Ok(match outcome {
            Ok(result) => result,
            Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
        }
        .into())
    }
}

/// A tool's result, or the message of its failure.
type Outcome = Result<CallToolResult, String>;

/// A successful result of text alone.
fn said(text: impl Into<String>) -> Outcome {
    Ok(CallToolResult::success(vec![ContentBlock::text(
        text.into(),
    )]))
}

impl Server {
    /// Makes one request with one reply on a blocking thread.
    async fn call(&self, op: Op) -> Result<Reply, String> {
        let ctx = self.ctx.clone();
        tokio::task::spawn_blocking(move || crate::commands::call(&ctx, op))
            .await
            .map_err(|e| format!("cap mcp: the request failed: {e}"))?
            .map(|answer| answer.reply)
            .map_err(|e| format!("{e:#}"))
    }

    async fn prompt(&self, args: PromptArgs, context: RequestContext<RoleServer>) -> Outcome {
        if args.prompt.trim().is_empty() {
            return Err("the prompt is empty; say what to ask the agent".into());
        }
        let (agent, key) = match (&args.session, &args.agent) {
            (Some(_), _) => (None, None),
            (None, Some(agent)) => {
                let agent = agent.trim().to_string();
                let key = self.keys.resolve(args.key.as_deref(), &agent);
                (Some(agent), Some(key))
            }
            (None, None) => {
                return Err(
                    "say which agent to ask (`agent`: claude, codex, gemini, opencode, ...), \
                     or which session to continue (`session`)"
                        .into(),
                );
            }
        };
        // Questions the policy leaves open go to the person behind the calling agent when
        // its client can ask them (MCP elicitation); otherwise the policy decides alone.
        let can_ask = context
            .peer
            .peer_info()
            .is_some_and(|info| info.capabilities.elicitation.is_some());
        let route = Route {
            agent,
            key: key.clone(),
            session: args.session.clone(),
            open: args.new.then_some(OpenMode::Fresh),
            cwd: self.cwd.clone(),
            permissions: Some(Permissions {
                asker: if can_ask {
                    Asker::Client
                } else {
                    Asker::Nobody
                },
                ..Permissions::default()
            }),
            ..Route::default()
        };
        let req = PromptRequest {
            text: args.prompt,
            route,
            timeout_secs: args.timeout,
            no_wait: false,
            budget_usd: None,
            handoff: false,
            schema: args.schema,
            steer: false,
            delegation: Some(Delegation {
                caller: self.caller.clone(),
                ancestors: self.ancestors.clone(),
            }),
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ctx = self.ctx.clone();
        std::thread::spawn(move || turn::run(&ctx, req, &tx));
        let progress = Progress::new(context.peer.clone(), context.meta.get_progress_token());
        let mut answers: Option<Sender<Incoming<DecideRequest>>> = None;
        let mut serving: Option<(String, Option<String>)> = None;
        loop {
            let update = tokio::select! {
                () = context.ct.cancelled() => {
                    // The caller gave up on the call: stop the agent's turn too.
                    let target = match &serving {
                        Some((session, request)) => TargetRequest {
                            session: Some(session.clone()),
                            request: request.clone(),
                            ..TargetRequest::default()
                        },
                        None => TargetRequest { key: key.clone(), ..TargetRequest::default() },
                    };
                    let outcome = self.call(Op::Cancel(target)).await;
                    if let Err(e) = outcome {
                        eprintln!("cap mcp: could not cancel the delegated turn: {e}");
                    }
                    return Err("cancelled".into());
                }
                update = rx.recv() => update,
            };
            match update {
                Some(Update::Answers(tx)) => answers = Some(tx),
                Some(Update::Session(s, request)) => {
                    progress
                        .send(format!("{} session {} ({:?})", s.agent, s.id, s.how))
                        .await;
                    serving = Some((s.id.clone(), request));
                }
                Some(Update::Progress(message)) => progress.send(message).await,
                Some(Update::Question(q)) => {
                    progress
                        .send(format!(
                            "waiting for permission ({}): answer with `cap decide {} allow` or \
                             `deny`",
                            q.tool.tool, q.id
                        ))
                        .await;
                    if let Some(answers) = &answers {
                        tokio::spawn(super::elicit::ask(context.peer.clone(), q, answers.clone()));
                    }
                }
                Some(Update::Done(done)) => return done.map(|f| reply(f, key.as_deref())),
                None => return Err("cap mcp: the turn's thread ended without an answer".into()),
            }
        }
    }

    async fn sessions(&self) -> Outcome {
        match self.call(Op::Sessions).await? {
            Reply::Sessions(list) if list.is_empty() => said("no live sessions"),
            Reply::Sessions(list) => {
                let json = serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?;
                said(json)
            }
            other => Err(unexpected("sessions", &other)),
        }
    }

    async fn result(&self, args: SessionArgs) -> Outcome {
        let reply = self
            .call(Op::Result(SessionRef {
                session: args.session,
            }))
            .await?;
        match reply {
            Reply::Event(env) => match env.event {
                Event::Result(r) => said(r.output),
                Event::Error(body) => Err(body.message),
                _ => Err("capd sent no result for that session".into()),
            },
            other => Err(unexpected("result", &other)),
        }
    }

    /// The request target `cancel` and `end` name.
    fn target(&self, args: TargetArgs) -> Result<TargetRequest, String> {
        let key = match (&args.session, &args.key, &args.agent) {
            (Some(_), _, _) => None,
            (None, Some(key), _) => Some(self.keys.named(key)),
            (None, None, Some(agent)) => Some(self.keys.default_for(agent.trim())),
            (None, None, None) => {
                return Err("name the session: `session` (an id), `key`, or `agent`".into());
            }
        };
        Ok(TargetRequest {
            session: args.session,
            key,
            ..TargetRequest::default()
        })
    }

    async fn cancel(&self, args: TargetArgs) -> Outcome {
        let target = self.target(args)?;
        match self.call(Op::Cancel(target)).await? {
            Reply::Done(done) => said(done.message),
            other => Err(unexpected("cancel", &other)),
        }
    }

    async fn end(&self, args: TargetArgs) -> Outcome {
        let target = self.target(args)?;
        match self.call(Op::End(target)).await? {
            Reply::Ended(e) => said(format!(
                "ended session {} (agent {}); the next prompt on its key starts a fresh \
                 conversation",
                e.session, e.agent
            )),
            other => Err(unexpected("end", &other)),
        }
    }
}

/// The tool result of a finished turn: the reply, then where the conversation lives; with a
/// schema, the validated value as structured content (MCP wants an object there, so any
/// other value is wrapped as `{"value": …}`).
fn reply(f: Finished, key: Option<&str>) -> CallToolResult {
    let how_to_continue = match key {
        Some(key) => format!("call `prompt` again with the same agent and key \"{key}\""),
        None => "call `prompt` again with the same session".into(),
    };
    let native = f.result.native_id.as_deref().unwrap_or("unknown");
    let content = vec![
        ContentBlock::text(f.text),
        ContentBlock::text(format!(
            "[cap: turn {} of this conversation (agent session {native}); to continue it, \
             {how_to_continue}]",
            f.result.turns
        )),
    ];
    let mut result = CallToolResult::success(content);
    result.structured_content = f.result.structured.map(|v| match v {
        serde_json::Value::Object(_) => v,
        other => serde_json::json!({ "value": other }),
    });
    result
}

fn unexpected(op: &str, reply: &Reply) -> String {
    format!("capd answered `{op}` with something this cap does not expect: {reply:?}")
}

/// Progress notifications for one call, when the caller asked for them (a progress token).
struct Progress {
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    n: std::sync::atomic::AtomicU64,
}

impl Progress {
    fn new(peer: Peer<RoleServer>, token: Option<ProgressToken>) -> Progress {
        Progress {
            peer,
            token,
            n: Default::default(),
        }
    }

    async fn send(&self, message: String) {
        let Some(token) = &self.token else { return };
        let n = self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let note = ProgressNotificationParam::new(token.clone(), n as f64).with_message(message);
        // A client that stopped listening for progress still gets its answer.
        let _ = self.peer.notify_progress(note).await;
    }
}
