//! Shared agent processes: one ACP agent or Codex app-server hosting many sessions
//! (`share = true`, docs/design.md "Shared agent processes").
//!
//! Those agents hold many sessions in one process, each with its own cwd, context, turns and
//! cancel (measured in shared/agents/multi-session.md), so a new session costs a request, not
//! a cold start and hundreds of megabytes. A [`Host`] owns one such process and reads its
//! output once; each session on it holds a [`Lease`], which gives its driver what an own
//! process would: a [`Writer`] and [`Lines`]. The drivers therefore run unchanged on a host:
//! the writer moves the session's request ids into the range of its slot, and the host's
//! router hands every line to the session it is for ([`router`]).
//!
//! Failure is shared, and healed as one. When the process dies, every slot's lines end, so
//! every session sees its agent exit and respawns by resume, onto a new host, exactly as it
//! would alone; a turn that was running is retried once. A turn that ignores its cancel
//! cannot be stopped alone: [`Lease::kill`] kills the whole process, and the other sessions
//! learn why from [`Lease::killed_why`] to tell their clients.
//!
//! The process lives while a lease does: the last one to go ends it politely. A host takes at
//! most [`MAX_LIVE`] sessions at once and [`MAX_EVER`] in its life, because Gemini and Codex
//! free nothing when a session closes; a retired host ends with its last session.

mod router;

use super::lines::Lines;
use super::process::{AgentProcess, Writer};
use super::rpc::Dialect;
use super::{DriverError, Spare, StartSpec};
use crate::agents::{AgentSpec, Protocol};
pub use router::Tag;
use router::{Shared, lock};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// Sessions one host takes at once.
pub const MAX_LIVE: usize = 32;
/// Sessions one host takes in its life.
pub const MAX_EVER: usize = 256;

/// One shared agent process.
pub struct Host {
    proc: Mutex<Option<AgentProcess>>,
    pid: Option<u32>,
    writer: Writer,
    table: Shared,
    /// The agent's answer to `initialize`, which every session opening here reuses.
    init: Value,
    protocol: Protocol,
    /// Turns true when the agent's output ends.
    gone: watch::Receiver<bool>,
}

impl Host {
    /// Takes over a started, initialized agent: its output is routed from now on.
    fn start((agent, proc, lines, init): super::Started) -> Arc<Host> {
        let table = Shared::default();
        let writer = proc.writer();
        let (gone_tx, gone) = watch::channel(false);
        let dialect = Dialect {
            jsonrpc: agent.protocol == Protocol::Acp,
        };
        tokio::spawn(route_output(
            lines,
            table.clone(),
            writer.clone(),
            dialect,
            gone_tx,
        ));
        Arc::new(Host {
            pid: proc.pid(),
            proc: Mutex::new(Some(proc)),
            writer,
            table,
            init,
            protocol: agent.protocol,
            gone,
        })
    }

    fn alive(&self) -> bool {
        let t = lock(&self.table);
        if t.ended || t.killed.is_some() {
            return false;
        }
        drop(t);
        self.proc
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .is_some_and(AgentProcess::is_alive)
    }

    /// Whether a new session may open here.
    fn has_room(&self) -> bool {
        let t = lock(&self.table);
        t.live() < MAX_LIVE && t.ever < MAX_EVER
    }

    /// Opens a slot: what a driver needs to open its session here.
    fn lease(self: &Arc<Host>, agent: AgentSpec) -> Option<Spare> {
        let (slot, rx) = lock(&self.table).open()?;
        let tag = Arc::new(Tag {
            slot,
            table: self.table.clone(),
        });
        let writer = self.writer.tagged(tag);
        Some(Spare {
            agent,
            proc: Proc::Hosted(Lease {
                host: self.clone(),
                slot,
                writer,
            }),
            lines: Lines::routed(rx),
            init: self.init.clone(),
        })
    }

    fn kill(&self, why: String) {
        lock(&self.table).killed = Some(why);
        // Dropping the process kills its whole group; the router then sees the output end.
        drop(self.proc.lock().unwrap_or_else(|p| p.into_inner()).take());
    }
}

impl Drop for Host {
    /// The last session left: end the agent politely, off this thread.
    fn drop(&mut self) {
        let proc = self
            .proc
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let (Some(proc), Ok(rt)) = (proc, tokio::runtime::Handle::try_current()) {
            rt.spawn(proc.shutdown(Duration::from_secs(1)));
        }
    }
}

/// The router: reads the agent's output until it ends, hands each line to its session, and
/// refuses requests for sessions that are not here.
async fn route_output(
    mut lines: Lines,
    table: Shared,
    writer: Writer,
    dialect: Dialect,
    gone: watch::Sender<bool>,
) {
    while let Ok(Some(segment)) = lines.next_segment().await {
        let mut t = lock(&table);
        let route = router::route(&mut t, segment);
        let refuse = router::deliver(&mut t, route);
        drop(t);
        if let Some((id, method)) = refuse {
            let _ = writer.send(&dialect.unsupported(&id, &method));
        }
    }
    lock(&table).end();
    let _ = gone.send(true);
}

/// A session's place on a host. Dropping it leaves the host (the process stays for the
/// others); [`Lease::kill`] takes the process down with every session on it.
pub struct Lease {
    host: Arc<Host>,
    slot: u32,
    writer: Writer,
}

impl Lease {
    /// Leaves the host, closing the session in the agent where it can free it (ACP
    /// `session/close` where offered, Codex `thread/unsubscribe`).
    fn leave(&self) {
        let natives = lock(&self.host.table).close(self.slot);
        for native in natives {
            let close = match self.host.protocol {
                Protocol::Acp
                    if self.host.init["agentCapabilities"]["sessionCapabilities"]["close"]
                        .is_object() =>
                {
                    Dialect { jsonrpc: true }.request(
                        1,
                        "session/close",
                        json!({"sessionId": native}),
                    )
                }
                Protocol::CodexAppServer => Dialect { jsonrpc: false }.request(
                    1,
                    "thread/unsubscribe",
                    json!({"threadId": native}),
                ),
                _ => continue,
            };
            // Its answer comes to a slot that is gone, and is dropped.
            let _ = self.writer.send(&close);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.leave();
    }
}

/// An agent process as a driver holds it: its own, or a place on a shared one.
pub enum Proc {
    Own(AgentProcess),
    Hosted(Lease),
}

impl Proc {
    pub fn writer(&self) -> Writer {
        match self {
            Proc::Own(p) => p.writer(),
            Proc::Hosted(l) => l.writer.clone(),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        match self {
            Proc::Own(p) => p.pid(),
            Proc::Hosted(l) => l.host.pid,
        }
    }

    pub fn is_alive(&mut self) -> bool {
        match self {
            Proc::Own(p) => p.is_alive(),
            Proc::Hosted(l) => l.host.alive(),
        }
    }

    pub fn stderr_tail(&self) -> String {
        match self {
            Proc::Own(p) => p.stderr_tail(),
            Proc::Hosted(l) => l
                .host
                .proc
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(AgentProcess::stderr_tail)
                .unwrap_or_default(),
        }
    }

    /// Waits for the agent to exit.
    pub async fn wait(&mut self) {
        match self {
            Proc::Own(p) => {
                p.wait().await;
            }
            Proc::Hosted(l) => {
                let mut gone = l.host.gone.clone();
                let _ = gone.wait_for(|g| *g).await;
            }
        }
    }

    /// Ends the session: its own process politely, or its place on a shared one.
    pub async fn shutdown(self, grace: Duration) {
        match self {
            Proc::Own(p) => p.shutdown(grace).await,
            Proc::Hosted(l) => drop(l),
        }
    }

    /// Kills the agent at once, for a turn that ignored its cancel. On a shared process that
    /// ends every session on it, which `why` is told to.
    pub fn kill(self, why: String) {
        match self {
            Proc::Own(p) => drop(p),
            Proc::Hosted(l) => l.host.kill(why),
        }
    }

    /// Why a shared process was killed under this session by another's turn.
    pub fn killed_why(&self) -> Option<String> {
        match self {
            Proc::Own(_) => None,
            Proc::Hosted(l) => lock(&l.host.table).killed.clone(),
        }
    }

    /// Whether other sessions may share this process.
    pub fn shared(&self) -> bool {
        matches!(self, Proc::Hosted(_))
    }
}

/// The shared processes of the daemon, by agent as spawned.
pub struct Pool {
    /// Where hosts run: an empty directory (each session names its own cwd).
    dir: PathBuf,
    hosts: Mutex<HashMap<String, Hosts>>,
}

/// The hosts of one agent. Held across the start of a new one, so that sessions opening at
/// once (every session of a crashed host respawns together) share it.
type Hosts = Arc<tokio::sync::Mutex<Vec<Weak<Host>>>>;

impl Pool {
    pub fn new(dir: PathBuf) -> Pool {
        Pool {
            dir,
            hosts: Mutex::default(),
        }
    }

    /// A place for `spec`'s session on a live host of its agent with room, or on a new one.
    /// Concurrent opens of one agent wait for one new host rather than start one each (a
    /// crash respawns every session of the host at once).
    pub async fn lease(&self, spec: &StartSpec) -> Result<Spare, DriverError> {
        let mut agent = spec.agent.clone();
        agent.env.remove(crate::agents::SESSION_ENV);
        let key = format!("{:?}|{:?}|{:?}", agent.program, agent.args, agent.env);
        let cell = self
            .hosts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let mut hosts = cell.lock().await;
        hosts.retain(|h| h.upgrade().is_some_and(|h| h.alive()));
        for host in hosts.iter().filter_map(Weak::upgrade) {
            if host.has_room()
                && let Some(spare) = host.lease(spec.agent.clone())
            {
                return Ok(spare);
            }
        }
        std::fs::create_dir_all(&self.dir).map_err(|source| DriverError::Spawn {
            program: format!("{} (in {})", agent.program.display(), self.dir.display()),
            source,
        })?;
        let started = super::initialized(agent, self.dir.clone(), spec.ready_timeout).await?;
        let host = Host::start(started);
        hosts.push(Arc::downgrade(&host));
        host.lease(spec.agent.clone())
            .ok_or_else(|| DriverError::ExitedEarly {
                agent: spec.agent.name.clone(),
                stderr: String::new(),
            })
    }
}
