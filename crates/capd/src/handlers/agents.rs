//! `agents`: built-in and configured agents with their resolved commands and versions.

use crate::daemon::Daemon;
use cap_proto::{ErrorCode, Reply};
use std::sync::Arc;

pub async fn handle(d: &Arc<Daemon>) -> Reply {
    // Probing versions runs programs: keep it off the async workers.
    let d = d.clone();
    match tokio::task::spawn_blocking(move || crate::agents::list(&d.config)).await {
        Ok(list) => Reply::Agents(list),
        Err(e) => Reply::error(ErrorCode::Agent, format!("listing agents failed: {e}")),
    }
}
