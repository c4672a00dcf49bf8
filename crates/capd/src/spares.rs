//! Prewarmed spares (`[prewarm]` in the config): agent processes started and initialized
//! before anyone needs them, so a prompt on a new key skips the agent's start.
//!
//! The pool lives in the daemon's [`State`](crate::daemon::State), taken from under the lock
//! when routing opens a session. Refilling is the prewarmer's job, an actor of its own: it is
//! told which agent lost a spare and starts another, off the lock, then hands it in. Spares
//! count against `max_sessions`: one is only added while sessions and spares leave room, and
//! sessions always win (a session that needs the room drops spares first).

use crate::daemon::Daemon;
use crate::drivers::Spare;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Agent name → its started, initialized, unused processes.
#[derive(Default)]
pub struct Spares {
    by_agent: HashMap<String, Vec<Spare>>,
}

impl Spares {
    /// A spare of `agent`, if one is ready.
    pub fn take(&mut self, agent: &str) -> Option<Spare> {
        self.by_agent.get_mut(agent)?.pop()
    }

    pub fn add(&mut self, agent: &str, spare: Spare) {
        self.by_agent
            .entry(agent.to_string())
            .or_default()
            .push(spare);
    }

    pub fn count(&self, agent: &str) -> usize {
        self.by_agent.get(agent).map_or(0, Vec::len)
    }

    pub fn total(&self) -> usize {
        self.by_agent.values().map(Vec::len).sum()
    }

    /// Removes spares, those of other agents than `keep` first, until at most `room` are
    /// left. The caller drops them (which ends their processes) outside the lock.
    pub fn trim(&mut self, room: usize, keep: &str) -> Vec<Spare> {
        let mut out = Vec::new();
        let mut agents: Vec<String> = self.by_agent.keys().cloned().collect();
        agents.sort_by_key(|a| (a == keep, a.clone()));
        for agent in agents {
            while self.total() > room {
                match self.by_agent.get_mut(&agent).and_then(Vec::pop) {
                    Some(s) => out.push(s),
                    None => break,
                }
            }
        }
        out
    }

    /// Every spare, to be dropped (daemon shutdown).
    pub fn drain(&mut self) -> Vec<Spare> {
        self.by_agent.drain().flat_map(|(_, v)| v).collect()
    }

    /// The pids of every spare, with its agent (`cap daemon status`).
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.by_agent
            .iter()
            .flat_map(|(a, v)| v.iter().filter_map(|s| s.pid()).map(|p| (a.clone(), p)))
            .collect()
    }
}

/// Keeps `[prewarm]` filled: at start, then each time `rx` names an agent whose spare was
/// taken. Runs until the daemon shuts down.
pub async fn prewarmer(d: Arc<Daemon>, mut rx: mpsc::UnboundedReceiver<String>) {
    let mut stop = d.shutdown.subscribe();
    for agent in d.config.prewarm.keys() {
        fill(&d, agent).await;
    }
    loop {
        let agent = tokio::select! {
            agent = rx.recv() => match agent {
                Some(agent) => agent,
                None => return,
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        fill(&d, &agent).await;
    }
}

/// Starts spares of `agent` until it has its configured number or there is no room. A spare
/// that fails to start is logged and not retried until the agent's next spare is taken.
async fn fill(d: &Arc<Daemon>, agent: &str) {
    let want = d.config.prewarm.get(agent).copied().unwrap_or(0);
    while d.spare_count(agent) < want && d.room_for_spare() {
        let spec = match crate::agents::resolve(agent, &d.config) {
            Ok(spec) => spec.for_daemon(&d.paths.socket),
            Err(e) => {
                tracing::warn!(%agent, "cannot prewarm: {}", e.message);
                return;
            }
        };
        let ready = Duration::from_secs(d.config.ready_timeout.max(1));
        let cwd = match spare_cwd(d) {
            Ok(cwd) => cwd,
            Err(e) => {
                tracing::warn!(%agent, "cannot prewarm: {e}");
                return;
            }
        };
        match d.factory().prewarm(spec, cwd, ready).await {
            Ok(spare) => {
                tracing::info!(%agent, pid = ?spare.pid(), "a prewarmed spare is ready");
                if !d.add_spare(agent, spare) {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(%agent, "prewarming failed: {e}");
                return;
            }
        }
    }
}

/// Where spares run until a session gives them its cwd: an empty directory beside the state
/// file, so an agent that looks around its cwd at start (project files, instructions) finds
/// nothing and reads no one's repository.
/// Shared agent processes run there too.
fn spare_cwd(d: &Daemon) -> std::io::Result<PathBuf> {
    let dir = spare_dir(&d.paths);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The empty directory spares and shared agent processes run in.
pub fn spare_dir(paths: &crate::daemon::Paths) -> PathBuf {
    paths
        .state_file
        .parent()
        .unwrap_or(std::path::Path::new("/"))
        .join("spares")
}
