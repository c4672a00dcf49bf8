//! `status`: pid, version, uptime, socket, sessions and limits.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::{DaemonStatus, SessionState};

pub fn handle(d: &Daemon) -> Reply {
    let mut state = d.lock();
    let snaps: Vec<_> = state.sessions.values().map(|h| h.snapshot()).collect();
    let count = |want: SessionState| snaps.iter().filter(|s| s.state == want).count();
    Reply::Status(DaemonStatus {
        pid: std::process::id(),
        version: cap_proto::VERSION.to_string(),
        protocol: cap_proto::PROTOCOL_VERSION,
        uptime_secs: d.started.elapsed().as_secs(),
        socket: d.paths.socket.clone(),
        state_file: d.paths.state_file.clone(),
        config_file: d.paths.config_file.clone(),
        sessions: state.sessions.len(),
        agent_processes: snaps
            .iter()
            .filter_map(|s| s.pid)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        busy: count(SessionState::Busy),
        parked: count(SessionState::Parked),
        max_sessions: d.config.max_sessions,
        idle_timeout_secs: d.config.idle_timeout,
        prompt_timeout_secs: d.config.prompt_timeout,
        queue_depth: d.config.queue_depth,
        usage: Some(state.table.spent()).filter(|u| !u.is_empty()),
        // Measured only where /proc exists.
        agent_memory: cfg!(target_os = "linux").then(|| d.memory().total),
        max_agent_memory: d.config.max_agent_memory.bytes(),
        spares: state.spares.total(),
        spare_pids: state.spares.pids().into_iter().map(|(_, p)| p).collect(),
    })
}
