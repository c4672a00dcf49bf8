//! JSON-RPC over newline-delimited JSON, shared by the Codex app-server (which omits the
//! `"jsonrpc"` field) and ACP (JSON-RPC 2.0 proper) drivers.

use super::lines::{Lines, Segment};
use super::process::Writer;
use serde_json::{Value, json};

/// Whether messages carry `"jsonrpc":"2.0"`.
#[derive(Debug, Clone, Copy)]
pub struct Dialect {
    pub jsonrpc: bool,
}

impl Dialect {
    fn stamp(self, mut v: Value) -> Value {
        if self.jsonrpc
            && let Some(o) = v.as_object_mut()
        {
            o.insert("jsonrpc".into(), json!("2.0"));
        }
        v
    }

    /// A request.
    pub fn request(self, id: u64, method: &str, params: Value) -> Value {
        self.stamp(json!({"id": id, "method": method, "params": params}))
    }

    /// A notification (no id, no reply).
    pub fn notification(self, method: &str, params: Option<Value>) -> Value {
        match params {
            Some(p) => self.stamp(json!({"method": method, "params": p})),
            None => self.stamp(json!({"method": method})),
        }
    }

    /// A success reply to an agent's request.
    pub fn result(self, id: &Value, result: Value) -> Value {
        self.stamp(json!({"id": id, "result": result}))
    }

    /// An error reply to an agent's request.
    pub fn error(self, id: &Value, code: i64, message: &str) -> Value {
        self.stamp(json!({"id": id, "error": {"code": code, "message": message}}))
    }

    /// The reply to an agent's request for something cap does not offer ("method not found"):
    /// an answer at once, so the agent fails that step visibly instead of waiting forever.
    pub fn unsupported(self, id: &Value, method: &str) -> Value {
        self.error(id, -32601, &format!("{method} is not supported by cap"))
    }
}

/// What a line from the agent is.
pub enum Incoming {
    /// A reply to one of our requests.
    Reply {
        id: u64,
        result: Result<Value, String>,
    },
    /// A request from the agent (it expects a reply).
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// A notification from the agent.
    Notification { method: String, params: Value },
    /// Not JSON-RPC.
    Other,
}

/// Classifies one parsed line.
pub fn classify(v: Value) -> Incoming {
    let Value::Object(mut o) = v else {
        return Incoming::Other;
    };
    let method = o.get("method").and_then(Value::as_str).map(str::to_string);
    let params = o.remove("params").unwrap_or(Value::Null);
    match (o.remove("id"), method) {
        (Some(id), Some(method)) => Incoming::Request { id, method, params },
        (None, Some(method)) => Incoming::Notification { method, params },
        (Some(id), None) => {
            let Some(id) = id.as_u64() else {
                return Incoming::Other;
            };
            let result = match o.remove("error") {
                Some(e) if !e.is_null() => Err(error_text(&e)),
                _ => Ok(o.remove("result").unwrap_or(Value::Null)),
            };
            Incoming::Reply { id, result }
        }
        (None, None) => Incoming::Other,
    }
}

/// A JSON-RPC error object as one line of text: message, code and data.
pub fn error_text(e: &Value) -> String {
    let msg = e["message"].as_str().unwrap_or("error");
    let mut text = format!("{msg} (code {})", e["code"]);
    if let Some(d) = e.get("data").filter(|d| !d.is_null()) {
        text.push_str(&format!(": {d}"));
    }
    text
}

/// Sends a request and reads lines until its reply, answering agent requests with "not
/// supported" and dropping notifications (during a handshake or a session load they are
/// replays, which must not leak into a turn). `Err` carries the agent's error text, or says
/// that the agent exited or that its reply was too long to read.
pub async fn call(
    writer: &Writer,
    lines: &mut Lines,
    dialect: Dialect,
    id: u64,
    method: &str,
    params: Value,
) -> Result<Value, String> {
    writer
        .send(&dialect.request(id, method, params))
        .map_err(|e| format!("cannot write to the agent: {e}"))?;
    while let Ok(Some(segment)) = lines.next_segment().await {
        let line = match segment {
            Segment::Line(line) => line,
            // A lost line that may be the reply: fail now rather than at the ready timeout.
            Segment::Oversized(lost) if may_be_reply(&lost.fields, id) => {
                return Err(format!(
                    "the agent's reply to {method} was a line of {} bytes, longer than cap reads",
                    lost.len
                ));
            }
            Segment::Oversized(_) => continue,
        };
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            tracing::debug!(
                "non-JSON line during {method}: {}",
                String::from_utf8_lossy(&line[..line.len().min(200)])
            );
            continue;
        };
        match classify(v) {
            Incoming::Reply { id: got, result } if got == id => return result,
            Incoming::Request { id, method, .. } => {
                let _ = writer.send(&dialect.unsupported(&id, &method));
            }
            _ => {}
        }
    }
    Err(format!("the agent exited during {method}"))
}

/// Whether a message whose start shows `fields` may be the reply to request `id`: it has that
/// id and no method, or its start does not tell.
pub fn may_be_reply(fields: &serde_json::Map<String, Value>, id: u64) -> bool {
    if fields.contains_key("method") {
        return false;
    }
    fields.get("id").is_none_or(|got| got.as_u64() == Some(id))
}
