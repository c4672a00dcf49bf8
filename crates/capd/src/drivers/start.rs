//! Starting agents: the [`Factory`] the session actor starts its agent with, and the real
//! one, [`Spawner`], which spawns a process per session, opens a session on a prewarmed
//! [`Spare`], or takes a place on a shared process (`host`).

use super::host;
use super::lines::Lines;
use super::{
    BoxFuture, Driver, DriverError, OpenMode, StartSpec, acp, claude, codex, process, stderr_suffix,
};
use crate::agents::{AgentSpec, Protocol};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
/// Starts agents. The daemon's factory spawns real processes ([`Spawner`]); tests of the
/// session actor pass a scripted one, so its state machine runs without processes.
pub trait Factory: Send + Sync {
    /// Starts an agent and waits (bounded) for its ready signal.
    fn start(&self, spec: StartSpec) -> BoxFuture<Result<Box<dyn Driver>, DriverError>>;
    /// Opens the session on a prewarmed agent process. A spare that cannot serve (it died
    /// meanwhile, or was started differently) is dropped and the agent started as usual.
    fn start_on(
        &self,
        spare: Spare,
        spec: StartSpec,
    ) -> BoxFuture<Result<Box<dyn Driver>, DriverError>> {
        drop(spare);
        self.start(spec)
    }
    /// Starts `agent` ahead of need, with no session yet ([`prewarm`]).
    fn prewarm(
        &self,
        agent: AgentSpec,
        cwd: PathBuf,
        ready_timeout: Duration,
    ) -> BoxFuture<Result<Spare, DriverError>> {
        let _ = (agent, cwd, ready_timeout);
        Box::pin(async { Err(DriverError::Unsupported("prewarm with this factory")) })
    }
}

/// The real factory: an agent process per start, by protocol, or a place on a shared one
/// for an agent with `share` on.
pub struct Spawner {
    hosts: Arc<host::Pool>,
}

impl Spawner {
    /// Shared agent processes run in `dir`, an empty directory.
    pub fn new(dir: PathBuf) -> Spawner {
        Spawner {
            hosts: Arc::new(host::Pool::new(dir)),
        }
    }
}

impl Factory for Spawner {
    fn start(&self, spec: StartSpec) -> BoxFuture<Result<Box<dyn Driver>, DriverError>> {
        if !spec.agent.share {
            return Box::pin(start(spec));
        }
        let hosts = self.hosts.clone();
        let spec = session_named_to_tools(spec);
        Box::pin(async move {
            let place = hosts.lease(&spec).await?;
            open_on_started(place, spec).await
        })
    }

    fn start_on(
        &self,
        spare: Spare,
        spec: StartSpec,
    ) -> BoxFuture<Result<Box<dyn Driver>, DriverError>> {
        Box::pin(async move {
            let fits = spare.agent.program == spec.agent.program
                && spare.agent.args == spec.agent.args
                // A spare starts before its session exists, so it cannot name it (the caller
                // of a delegated prompt is then found by process ancestry, docs/mcp.md).
                && crate::agents::env_but_session(&spare.agent.env)
                    == crate::agents::env_but_session(&spec.agent.env);
            if !fits || spec.agent.protocol == Protocol::ClaudeStreamJson {
                return start(spec).await;
            }
            match open_on_started(spare, spec.clone()).await {
                Ok(driver) => Ok(driver),
                Err(e) => {
                    tracing::warn!(agent = %spec.agent.name, "a prewarmed agent could not open the session ({e}); starting another");
                    start(spec).await
                }
            }
        })
    }

    fn prewarm(
        &self,
        agent: AgentSpec,
        cwd: PathBuf,
        ready_timeout: Duration,
    ) -> BoxFuture<Result<Spare, DriverError>> {
        Box::pin(prewarm(agent, cwd, ready_timeout))
    }
}

/// Opens `spec`'s session on an agent already started and initialized: a spare, or a place
/// on a shared process. Claude fixes cwd and session at spawn, so it has neither.
async fn open_on_started(started: Spare, spec: StartSpec) -> Result<Box<dyn Driver>, DriverError> {
    match spec.agent.protocol {
        Protocol::CodexAppServer => codex::CodexDriver::start_on(started, spec)
            .await
            .map(|d| Box::new(d) as Box<dyn Driver>),
        Protocol::Acp => acp::AcpDriver::start_on(started, spec)
            .await
            .map(|d| Box::new(d) as Box<dyn Driver>),
        Protocol::ClaudeStreamJson => Err(DriverError::Unsupported(
            "opening a Claude stream-json session on a started agent (cwd and session are fixed at spawn)",
        )),
    }
}

/// A shared process cannot name one session in its environment, so the session's stdio MCP
/// servers are given its name instead: a `cap mcp` among them still knows its caller.
fn session_named_to_tools(mut spec: StartSpec) -> StartSpec {
    use crate::agents::SESSION_ENV;
    if let Some(session) = spec.agent.env.get(SESSION_ENV).cloned() {
        for server in spec.mcp_servers.values_mut() {
            if let crate::mcp::McpServer::Stdio { env, .. } = server {
                env.entry(SESSION_ENV.to_string())
                    .or_insert_with(|| session.clone());
            }
        }
    }
    spec
}

/// An agent process started and initialized ahead of need, with no session yet (`prewarm`).
/// Dropping it ends the process group, like any agent process.
pub struct Spare {
    /// The agent as it was spawned: a session of another spec must not use it.
    pub agent: AgentSpec,
    pub(super) proc: host::Proc,
    pub(super) lines: Lines,
    /// The agent's answer to `initialize` (what it can do).
    pub(super) init: serde_json::Value,
}

impl Spare {
    pub fn pid(&self) -> Option<u32> {
        self.proc.pid()
    }
}

/// Starts `agent` for later sessions: spawns it in `cwd`, runs its `initialize` handshake,
/// then opens and closes a throwaway session there (`acp::warm_up`), so the session that
/// takes the spare is not the process's first. Codex and ACP agents take a session's cwd
/// when it opens, so one spare serves any key; Claude fixes cwd and session on its command
/// line and cannot have spares.
pub async fn prewarm(
    agent: AgentSpec,
    cwd: PathBuf,
    ready_timeout: Duration,
) -> Result<Spare, DriverError> {
    let (agent, proc, mut lines, init) = initialized(agent, cwd.clone(), ready_timeout).await?;
    let writer = proc.writer();
    let warm = async {
        match agent.protocol {
            Protocol::Acp => acp::warm_up(&writer, &mut lines, &cwd, &init).await,
            Protocol::CodexAppServer => codex::warm_up(&writer, &mut lines, &cwd).await,
            Protocol::ClaudeStreamJson => Ok(()),
        }
    };
    match tokio::time::timeout(ready_timeout, warm).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Err(DriverError::Rejected {
                agent: agent.name.clone(),
                message: format!("its warm-up session failed: {e}"),
            });
        }
        Err(_) => {
            return Err(DriverError::NotReady {
                agent: agent.name.clone(),
                secs: ready_timeout.as_secs(),
                stderr: stderr_suffix(&proc.stderr_tail()),
            });
        }
    }
    Ok(Spare {
        agent,
        proc: host::Proc::Own(proc),
        lines,
        init,
    })
}

/// An agent started and initialized, with no session yet: as spawned, its process, its
/// output and its answer to `initialize`.
pub(crate) type Started = (AgentSpec, process::AgentProcess, Lines, serde_json::Value);

/// Spawns `agent` in `cwd` and runs only its `initialize` handshake ([`prewarm`], shared
/// processes).
pub(crate) async fn initialized(
    agent: AgentSpec,
    cwd: PathBuf,
    ready_timeout: Duration,
) -> Result<Started, DriverError> {
    let spec = StartSpec {
        agent,
        cwd,
        mode: OpenMode::Fresh,
        model: None,
        ready_timeout,
        mcp_servers: Default::default(),
    };
    let (proc, lines, init) = match spec.agent.protocol {
        Protocol::CodexAppServer => {
            let mut spec = spec.clone();
            spec.agent.program = codex::native_binary(&spec.agent.program);
            spawn_and_open(&spec, &[], async |w, l| codex::initialize(w, l).await).await?
        }
        Protocol::Acp => {
            spawn_and_open(&spec, &[], async |w, l| acp::initialize(w, l).await).await?
        }
        Protocol::ClaudeStreamJson => {
            return Err(DriverError::Unsupported(
                "prewarm for Claude stream-json agents (cwd and session are fixed at spawn)",
            ));
        }
    };
    let host::Proc::Own(proc) = proc else {
        return Err(DriverError::Unsupported(
            "initializing a shared process twice",
        ));
    };
    Ok((spec.agent, proc, lines, init))
}

/// Why an opening handshake failed: the agent's error text, or something the request asked
/// that the agent cannot do (found before it was sent).
#[derive(Debug)]
pub enum OpenError {
    Failed(String),
    Cannot(String),
}

impl From<String> for OpenError {
    fn from(message: String) -> OpenError {
        OpenError::Failed(message)
    }
}

impl From<&str> for OpenError {
    fn from(message: &str) -> OpenError {
        OpenError::Failed(message.to_string())
    }
}

/// Spawns `spec`'s agent with `extra_args` and runs its opening handshake `open` within the
/// ready timeout. A handshake that fails while the agent lives is a rejection (a missing
/// session, say); one that ends with the agent gone is an early exit.
pub async fn spawn_and_open<T, E, F>(
    spec: &StartSpec,
    extra_args: &[String],
    open: F,
) -> Result<(host::Proc, Lines, T), DriverError>
where
    F: AsyncFnOnce(&process::Writer, &mut Lines) -> Result<T, E>,
    E: Into<OpenError>,
{
    let (proc, lines) =
        process::AgentProcess::spawn(&spec.agent, extra_args, &spec.cwd).map_err(|source| {
            DriverError::Spawn {
                program: spec.agent.program.display().to_string(),
                source,
            }
        })?;
    open_on(spec, host::Proc::Own(proc), lines, open).await
}

/// Runs the handshake `open` on a started agent (fresh, or a [`Spare`]) within the ready
/// timeout; see [`spawn_and_open`].
pub async fn open_on<T, E, F>(
    spec: &StartSpec,
    mut proc: host::Proc,
    mut lines: Lines,
    open: F,
) -> Result<(host::Proc, Lines, T), DriverError>
where
    F: AsyncFnOnce(&process::Writer, &mut Lines) -> Result<T, E>,
    E: Into<OpenError>,
{
    let agent = spec.agent.name.clone();
    match tokio::time::timeout(spec.ready_timeout, open(&proc.writer(), &mut lines)).await {
        Ok(Ok(value)) => Ok((proc, lines, value)),
        Ok(Err(e)) => {
            let message = match e.into() {
                OpenError::Failed(message) => message,
                OpenError::Cannot(why) => return Err(DriverError::Cannot(why)),
            };
            // Let the agent finish dying, and the stderr collector catch its last words.
            let exited = tokio::time::timeout(Duration::from_millis(500), proc.wait())
                .await
                .is_ok();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let stderr = stderr_suffix(&proc.stderr_tail());
            Err(if exited {
                DriverError::ExitedEarly {
                    agent,
                    stderr: format!(" ({message}){stderr}"),
                }
            } else {
                DriverError::Rejected {
                    agent,
                    message: format!("{message}{stderr}"),
                }
            })
        }
        Err(_) => Err(DriverError::NotReady {
            agent,
            secs: spec.ready_timeout.as_secs(),
            stderr: stderr_suffix(&proc.stderr_tail()),
        }),
    }
}

/// Starts an agent and waits (bounded) for its ready signal.
pub async fn start(spec: StartSpec) -> Result<Box<dyn Driver>, DriverError> {
    match spec.agent.protocol {
        Protocol::ClaudeStreamJson => Ok(Box::new(claude::ClaudeDriver::start(spec).await?)),
        Protocol::CodexAppServer => Ok(Box::new(codex::CodexDriver::start(spec).await?)),
        Protocol::Acp => Ok(Box::new(acp::AcpDriver::start(spec).await?)),
    }
}
