//! A delegated agent's permission question, put to the person behind the calling agent by
//! MCP elicitation (only when the client declared it can ask), and the answer sent to capd.

use crate::link::Incoming;
use cap_proto::event::PermissionEvent;
use cap_proto::request::DecideRequest;
use rmcp::RoleServer;
use rmcp::model::{ElicitRequestParams, ElicitationAction, ElicitationSchema, JsonObject};
use rmcp::service::Peer;
use serde_json::json;
use std::sync::mpsc::Sender;

/// Asks, and sends the decision on `answers` (the turn's connection to capd). Anything but an
/// explicit allow is a deny, sent at once rather than left to capd's `permission_timeout`.
pub async fn ask(
    peer: Peer<RoleServer>,
    q: PermissionEvent,
    answers: Sender<Incoming<DecideRequest>>,
) {
    let what = match &q.tool.subject {
        Some(s) => format!("{}: {s}", q.tool.tool),
        None => q.tool.tool.clone(),
    };
    let (allow, always) = match ElicitationSchema::from_json_schema(schema()) {
        Ok(requested_schema) => {
            let params = ElicitRequestParams::FormElicitationParams {
                meta: None,
                message: format!("An agent cap runs for you asks to use {what}. Allow it?"),
                requested_schema,
            };
            match peer.create_elicitation(params).await {
                Ok(r) if r.action == ElicitationAction::Accept => {
                    let answer = r.content.as_ref().and_then(|c| c["answer"].as_str());
                    decision(answer)
                }
                _ => (false, false),
            }
        }
        Err(e) => {
            eprintln!("cap mcp: cannot ask about {what}: {e}");
            (false, false)
        }
    };
    let _ = answers.send(Incoming::Local(DecideRequest {
        question: q.id,
        allow,
        always,
    }));
}

/// The form: one choice.
fn schema() -> JsonObject {
    let mut o = JsonObject::new();
    o.insert("type".into(), json!("object"));
    o.insert(
        "properties".into(),
        json!({"answer": {
            "type": "string",
            "enum": ["allow", "deny", "always"],
            "description": "allow once, deny, or allow this for the rest of the session"
        }}),
    );
    o.insert("required".into(), json!(["answer"]));
    o
}

/// `(allow, always)` for the chosen answer.
fn decision(answer: Option<&str>) -> (bool, bool) {
    match answer {
        Some("allow") => (true, false),
        Some("always") => (true, true),
        _ => (false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_a_valid_elicitation_and_only_allow_allows() {
        assert!(ElicitationSchema::from_json_schema(schema()).is_ok());
        assert_eq!(decision(Some("always")), (true, true));
        assert_eq!(decision(Some("allow")), (true, false));
        assert_eq!(decision(Some("maybe")), (false, false));
        assert_eq!(decision(None), (false, false));
    }
}
