//! Structured output: a prompt's JSON Schema, what the agent is told, how its answer is
//! read back, and why a reply fails.
//!
//! One mechanism for every agent. Where the agent can be held to a schema for one turn
//! (Codex's `outputSchema` on `turn/start`) the schema goes there; every other agent gets
//! [`Schema::instructions`] under its prompt. Either way the reply is read back with
//! [`Schema::check`] and validated by the `jsonschema` crate, so nothing invalid is ever
//! handed on as if it were valid; the session actor re-asks with the validator's message
//! (`session/structured.rs`). Which agent gets what, and why Claude Code's `--json-schema`
//! is not used, is in docs/protocols.md ("Structured output").

use jsonschema::Validator;
use serde_json::Value;

/// How many times a reply that does not validate is asked for again.
pub const MAX_REASKS: usize = 2;

/// The line that introduces the schema in a prompt. `cap-fake-llm` looks for it to answer
/// like a model that follows the instructions would.
pub const SCHEMA_HEADER: &str = "JSON Schema:";

/// A prompt's schema, checked and compiled once when the prompt arrives.
pub struct Schema {
    value: Value,
    validator: Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schema")
            .field("value", &self.value)
            .finish()
    }
}

/// Why a reply is not the structured answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// Nothing in the reply parses as JSON.
    #[error("the reply holds no JSON value")]
    NoJson,
    /// The reply's JSON breaks the schema at `path` (a JSON pointer, `/` for the root).
    #[error("at {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Mismatch {
    /// The failing JSON path, when the reply had JSON at all.
    pub fn path(&self) -> Option<&str> {
        match self {
            Mismatch::Invalid { path, .. } => Some(path),
            Mismatch::NoJson => None,
        }
    }
}

impl Schema {
    /// Checks `value` against its meta-schema and compiles it. Remote `$ref`s are not
    /// fetched (the crate's network and file resolvers are left out), so such a schema is
    /// refused here rather than reaching out from the daemon.
    pub fn compile(value: Value) -> Result<Schema, String> {
        let validator = jsonschema::validator_for(&value).map_err(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{e} (at {at})")
            }
        })?;
        Ok(Schema { value, validator })
    }

    /// The schema as given.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// What an agent without native support is told under the prompt.
    pub fn instructions(&self) -> String {
        format!(
            "Answer with one JSON value that validates against the JSON Schema below. Put it \
             in a single fenced code block marked json, and write nothing outside it.\n{}",
            self.block()
        )
    }

    /// The prompt that asks again after `mismatch`.
    pub fn reask(&self, mismatch: &Mismatch) -> String {
        format!(
            "Your last answer does not validate against the JSON Schema ({mismatch}). Answer \
             again with only the corrected JSON value, in a single fenced code block marked \
             json.\n{}",
            self.block()
        )
    }

    fn block(&self) -> String {
        let pretty = serde_json::to_string_pretty(&self.value).unwrap_or_default();
        format!("{SCHEMA_HEADER}\n```json\n{pretty}\n```")
    }

    /// The structured answer in `reply`, validated: the last fenced block that parses, else
    /// the whole reply, else the widest `{…}` or `[…]` span in it.
    pub fn check(&self, reply: &str) -> Result<Value, Mismatch> {
        let value = extract(reply).ok_or(Mismatch::NoJson)?;
        let mismatch = self.validator.iter_errors(&value).next().map(|e| {
            let path = e.instance_path().to_string();
            Mismatch::Invalid {
                path: if path.is_empty() { "/".into() } else { path },
                message: e.to_string(),
            }
        });
        match mismatch {
            None => Ok(value),
            Some(m) => Err(m),
        }
    }
}

/// The JSON value a reply carries, by the rules of [`Schema::check`].
pub fn extract(reply: &str) -> Option<Value> {
    let parse = |s: &str| serde_json::from_str::<Value>(s.trim()).ok();
    if let Some(v) = fenced_blocks(reply).into_iter().rev().find_map(parse) {
        return Some(v);
    }
    if let Some(v) = parse(reply) {
        return Some(v);
    }
    ['{', '[']
        .into_iter()
        .filter_map(|open| {
            let close = if open == '{' { '}' } else { ']' };
            let start = reply.find(open)?;
            let end = reply.rfind(close)?;
            (end > start).then(|| parse(&reply[start..=end])).flatten()
        })
        .next()
}

/// The bodies of the reply's fenced code blocks (```lang … ```), in order.
fn fenced_blocks(reply: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = reply;
    while let Some(open) = rest.find("```") {
        let after = &rest[open + 3..];
        // The info string (`json`) runs to the end of the opening line.
        let Some(line_end) = after.find('\n') else {
            break;
        };
        let body = &after[line_end + 1..];
        let Some(close) = body.find("```") else {
            break;
        };
        blocks.push(&body[..close]);
        rest = &body[close + 3..];
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn risk() -> Schema {
        Schema::compile(json!({
            "type": "object",
            "properties": {
                "risk": {"enum": ["low", "high"]},
                "files": {"type": "array", "items": {"type": "string"}}
            },
            "required": ["risk", "files"]
        }))
        .unwrap()
    }

    #[test]
    fn invalid_schemas_are_refused_with_the_reason() {
        let err = Schema::compile(json!({"type": "nope"})).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        assert!(Schema::compile(json!({"minLength": -1})).is_err());
        assert!(
            Schema::compile(json!(false)).is_ok(),
            "boolean schemas are schemas"
        );
    }

    #[test]
    fn the_answer_is_found_in_a_fence_the_whole_reply_or_a_span() {
        let s = risk();
        let fenced = "Here:\n```json\n{\"risk\":\"low\",\"files\":[\"a\"]}\n```\nDone.";
        assert_eq!(
            s.check(fenced).unwrap(),
            json!({"risk": "low", "files": ["a"]})
        );
        let bare = " {\"risk\":\"high\",\"files\":[]}\n";
        assert_eq!(s.check(bare).unwrap()["risk"], "high");
        let prose = "The answer is {\"risk\":\"low\",\"files\":[]} as asked.";
        assert_eq!(s.check(prose).unwrap()["risk"], "low");
        // The last fence that parses wins: a model that corrects itself.
        let two =
            "```json\n{\"risk\":\"x\"}\n```\nsorry:\n```\n{\"risk\":\"low\",\"files\":[]}\n```";
        assert_eq!(s.check(two).unwrap()["risk"], "low");
    }

    #[test]
    fn mismatches_name_the_failing_path() {
        let s = risk();
        let err = s.check(r#"{"risk":"medium","files":[]}"#).unwrap_err();
        assert_eq!(err.path(), Some("/risk"));
        assert!(err.to_string().starts_with("at /risk: "), "{err}");
        let err = s.check(r#"{"risk":"low","files":[1]}"#).unwrap_err();
        assert_eq!(err.path(), Some("/files/0"));
        let err = s.check(r#"{"files":[]}"#).unwrap_err();
        assert_eq!(err.path(), Some("/"));
        assert_eq!(s.check("no json here").unwrap_err(), Mismatch::NoJson);
        assert_eq!(s.check("").unwrap_err(), Mismatch::NoJson);
    }

    #[test]
    fn prompts_carry_the_schema_under_its_header() {
        let s = risk();
        for text in [s.instructions(), s.reask(&Mismatch::NoJson)] {
            let after = text.split(SCHEMA_HEADER).nth(1).expect("header");
            let block = fenced_blocks(after)[0];
            assert_eq!(serde_json::from_str::<Value>(block).unwrap(), *s.value());
        }
        assert!(s.reask(&Mismatch::NoJson).contains("holds no JSON"));
    }
}
