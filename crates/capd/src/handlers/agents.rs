//! `agents`: built-in and configured agents with their resolved commands and versions.

use crate::daemon::Daemon;
use cap_proto::{ErrorCode, Reply};
use std::sync::Arc;

pub async fn handle(d: &Arc<Daemon>) -> Reply {
    // Probing versions runs programs: keep it off the async workers.
    let config = d.config.clone();
    match tokio::task::spawn_blocking(move || crate::agents::list(&config)).await {
        Ok(mut list) => {
            let memory = d.memory();
            for a in &mut list {
                a.footprint = memory.footprint.get(&a.name).copied();
            }
            Reply::Agents(list)
        }
        Err(e) => Reply::error(ErrorCode::Agent, format!("listing agents failed: {e}")),
    }
}
