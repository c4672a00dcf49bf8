//! Reply lines as `cap` uses them: decoded where this build understands them, passed through
//! verbatim by `--format json`.
//!
//! The event envelope only grows (SPEC §3), so a daemon newer than this `cap` may send fields
//! and event types it has never heard of. Decoding into [`cap_proto::Envelope`] and encoding
//! again would drop those fields and turn those types into `Unknown`; instead the text of
//! each line's payload is kept and printed as it came, and the typed form is used only to
//! decide what to show in `text` and which exit code to end with.

use cap_proto::{ErrorBody, ErrorCode};
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// A reply line split into its id and its one payload member, without decoding the payload:
/// `{"id":3,"event":{…}}` → `(Some(3), Some("event"), Some("{…}"))`.
#[derive(Debug, Default, PartialEq)]
pub struct Parts<'a> {
    pub id: Option<u64>,
    pub kind: Option<String>,
    /// The payload's JSON text exactly as received.
    pub payload: Option<&'a str>,
}

/// Splits a reply line. A line that is not a JSON object yields empty [`Parts`].
pub fn parts(text: &str) -> Parts<'_> {
    let Ok(map) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text) else {
        return Parts::default();
    };
    let id = map
        .get("id")
        .and_then(|v| serde_json::from_str::<u64>(v.get()).ok());
    let payload = map.into_iter().find(|(k, _)| k != "id");
    Parts {
        id,
        kind: payload.as_ref().map(|(k, _)| k.clone()),
        payload: payload.map(|(_, v)| v.get()),
    }
}

/// The payload text of a reply line, for printing it as it came. Falls back to the whole
/// line, which cannot happen for a line that decoded as a reply.
pub fn payload(text: &str) -> &str {
    parts(text).payload.unwrap_or(text)
}

/// The `type` of an event payload, read without decoding the rest of it.
pub fn event_type(payload: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Typed>(payload).ok().map(|t| t.kind)
}

/// An error payload (a reply's `error` or an `error` event) this build could not decode,
/// e.g. one with an error code added after it was built: its message is still the daemon's,
/// and an unknown code counts as an agent error (exit 1).
pub fn lenient_error(payload: &str) -> ErrorBody {
    let value: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    let message = value.get("message").and_then(|m| m.as_str());
    let code = value
        .get("code")
        .cloned()
        .and_then(|c| serde_json::from_value::<ErrorCode>(c).ok());
    let mut message = match message {
        Some(m) => m.to_string(),
        None => format!(
            "capd reported an error this cap cannot read: {}",
            crate::render::one_line(payload, 300)
        ),
    };
    if code.is_none()
        && let Some(raw) = value.get("code")
    {
        message.push_str(&format!(
            " (error code {raw} is unknown to this cap; `cap daemon restart` if capd was updated)"
        ));
    }
    ErrorBody::new(code.unwrap_or(ErrorCode::Agent), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_keep_the_payload_text_as_it_came() {
        let line = r#"{"id":7,"event":{"v":1, "type":"x","new":{"deep":[1,2.50]}}}"#;
        let p = parts(line);
        assert_eq!(p.id, Some(7));
        assert_eq!(p.kind.as_deref(), Some("event"));
        assert_eq!(
            p.payload,
            Some(r#"{"v":1, "type":"x","new":{"deep":[1,2.50]}}"#)
        );
        assert_eq!(event_type(p.payload.unwrap()).as_deref(), Some("x"));
        // Member order does not matter.
        let p = parts(r#"{"error":{"code":"usage","message":"m"},"id":0}"#);
        assert_eq!((p.id, p.kind.as_deref()), (Some(0), Some("error")));
        assert_eq!(parts("not json"), Parts::default());
    }

    #[test]
    fn unreadable_errors_keep_their_message() {
        let known = lenient_error(r#"{"code":"limit","message":"queue full","extra":1}"#);
        assert_eq!(known.code, ErrorCode::Limit);
        assert_eq!(known.message, "queue full");
        let unknown = lenient_error(r#"{"code":"quota","message":"out of credits"}"#);
        assert_eq!(unknown.code, ErrorCode::Agent);
        assert!(unknown.message.starts_with("out of credits"));
        assert!(unknown.message.contains("\"quota\""), "{}", unknown.message);
        let bare = lenient_error("[1]");
        assert_eq!(bare.code, ErrorCode::Agent);
        assert!(bare.message.contains("[1]"));
    }
}
