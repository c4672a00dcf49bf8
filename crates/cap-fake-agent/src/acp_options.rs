//! The modes and model options the fake ACP agent offers on its sessions.

use crate::common::env_flag;
use serde_json::{Value, json};

/// The session modes, as the Claude adapter offers them.
pub fn modes() -> Value {
    json!({
        "currentModeId": "default",
        "availableModes": [
            {"id": "default", "name": "Default", "description": "Ask before acting"},
            {"id": "bypassPermissions", "name": "Bypass Permissions", "description": "Never ask"},
        ],
    })
}

/// The model config option ACP agents offer (`category: "model"`), unless
/// `FAKE_ACP_NO_MODELS` makes this an agent that cannot switch models.
pub fn config_options(current: &str) -> Value {
    if env_flag("FAKE_ACP_NO_MODELS") {
        return json!([]);
    }
    json!([{
        "id": "model",
        "name": "Model",
        "category": "model",
        "type": "select",
        "currentValue": current,
        "options": [
            {"value": "fake-default", "name": "Default"},
            {"value": "fake-other", "name": "Other"},
        ],
    }])
}
