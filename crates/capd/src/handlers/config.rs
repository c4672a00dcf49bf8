//! `config`: the resolved configuration.

use crate::daemon::Daemon;
use cap_proto::{ErrorCode, Reply};

pub fn handle(d: &Daemon) -> Reply {
    match serde_json::to_value(&d.config) {
        Ok(v) => Reply::Config(v),
        Err(e) => Reply::error(ErrorCode::Agent, format!("cannot encode the config: {e}")),
    }
}
