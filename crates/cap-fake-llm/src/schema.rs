//! Minimal valid instances of JSON schemas.
//!
//! Agents make side requests that demand structured output (Claude's session title,
//! `codex exec --output-schema`, Gemini CLI's model router). A plain-text echo would
//! fail their parsing and, in Gemini's case, make the CLI retry until the prompt
//! hangs, so such requests get the smallest value that satisfies the schema instead.
//! Both JSON Schema (`"type": "object"`) and Gemini's OpenAPI subset
//! (`"type": "OBJECT"`) spellings are accepted.
//!
//! `cap prompt --schema` asks most agents in the prompt itself: a `JSON Schema:` line and
//! the schema in a fenced block under it ([`in_prompt`]). Such a prompt is answered like
//! a model that follows the instructions would, with an instance in a fenced block; the
//! magic word `WRONGJSON` makes the answer break the schema instead ([`wrong`]), so a
//! client's validation and re-asks can be tested.

use serde_json::{Map, Value, json};

/// The line that introduces a schema in a prompt (capd's `schema::SCHEMA_HEADER`).
pub const PROMPT_HEADER: &str = "JSON Schema:";

/// Magic word: answer a schema request with a value that breaks the schema.
pub const WRONG_WORD: &str = "WRONGJSON";

/// The schema a prompt asks for under [`PROMPT_HEADER`], when it has one that parses.
pub fn in_prompt(text: &str) -> Option<Value> {
    let after = &text[text.rfind(PROMPT_HEADER)? + PROMPT_HEADER.len()..];
    let open = after.find("```")?;
    let body = &after[open + 3..];
    let body = &body[body.find('\n')? + 1..];
    let close = body.find("```")?;
    serde_json::from_str(&body[..close]).ok()
}

/// A value that breaks `schema` (any schema that fixes its type): a string where the
/// schema wants anything else, a number where it wants a string. Never the magic word
/// itself: a client's re-ask quotes the wrong value, and must not be spoiled in turn.
pub fn wrong(schema: &Value) -> Value {
    match instance(schema) {
        Value::String(_) => json!(0),
        _ => json!("not what the schema asks for"),
    }
}

/// Deeper schemas than this are either recursive or absurd; they get `null`.
const MAX_DEPTH: usize = 32;

/// A minimal value that validates against `schema`.
pub fn instance(schema: &Value) -> Value {
    Generator { root: schema }.generate(schema, 0)
}

struct Generator<'a> {
    /// The whole schema, for resolving local `$ref`s such as `#/$defs/Item`.
    root: &'a Value,
}

impl Generator<'_> {
    fn generate(&self, schema: &Value, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        let Some(obj) = schema.as_object() else {
            // `true` (anything goes) or a malformed schema: an empty object is
            // the least surprising value for a caller that wants JSON output.
            return json!({});
        };
        if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
            return match self.resolve(target) {
                Some(resolved) => self.generate(resolved, depth + 1),
                None => Value::Null,
            };
        }
        if let Some(value) = obj.get("const") {
            return value.clone();
        }
        if let Some(first) = obj
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first())
        {
            return first.clone();
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(variants) = obj.get(key).and_then(Value::as_array) {
                // Prefer a non-null variant: callers usually want a real value.
                let pick = variants
                    .iter()
                    .find(|v| type_name(v).as_deref() != Some("null"))
                    .or(variants.first());
                if let Some(pick) = pick {
                    return self.generate(pick, depth + 1);
                }
            }
        }
        if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
            return self.all_of(obj, parts, depth);
        }
        match type_name(schema).as_deref() {
            Some("object") => self.object(obj, depth),
            Some("array") => self.array(obj, depth),
            Some("string") => string(obj),
            Some("integer") => json!(number(obj, true) as i64),
            Some("number") => whole_if_possible(number(obj, false)),
            Some("boolean") => Value::Bool(true),
            Some("null") => Value::Null,
            _ if obj.contains_key("properties") => self.object(obj, depth),
            _ if obj.contains_key("items") => self.array(obj, depth),
            _ => json!({}),
        }
    }

    /// Required properties, each filled recursively. A schema without any
    /// `required` list gets all its properties: Gemini-style schemas often leave
    /// `required` out while the caller still reads every field.
    fn object(&self, obj: &Map<String, Value>, depth: usize) -> Value {
        let empty = Map::new();
        let properties = obj
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let names: Vec<&str> = match obj.get("required").and_then(Value::as_array) {
            Some(required) => required.iter().filter_map(Value::as_str).collect(),
            None => properties.keys().map(String::as_str).collect(),
        };
        let mut out = Map::new();
        for name in names {
            let sub = properties.get(name).unwrap_or(&Value::Bool(true));
            out.insert(name.to_string(), self.generate(sub, depth + 1));
        }
        Value::Object(out)
    }

    /// Empty unless `minItems` demands elements.
    fn array(&self, obj: &Map<String, Value>, depth: usize) -> Value {
        let min = obj.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let items = obj.get("items").unwrap_or(&Value::Bool(true));
        Value::Array(
            (0..min.min(64))
                .map(|_| self.generate(items, depth + 1))
                .collect(),
        )
    }

    /// Object parts are merged so every part's required fields are present.
    fn all_of(&self, obj: &Map<String, Value>, parts: &[Value], depth: usize) -> Value {
        let mut merged = Map::new();
        let mut other = None;
        let own = Value::Object(
            obj.iter()
                .filter(|(k, _)| k.as_str() != "allOf")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        for part in parts.iter().chain([&own]) {
            match self.generate(part, depth + 1) {
                Value::Object(map) => merged.extend(map),
                value => {
                    other.get_or_insert(value);
                }
            }
        }
        match other {
            Some(value) if merged.is_empty() => value,
            _ => Value::Object(merged),
        }
    }

    fn resolve(&self, target: &str) -> Option<&Value> {
        let pointer = target.strip_prefix('#')?;
        self.root.pointer(pointer)
    }
}

/// The schema's type, lower-cased; for a type list, the first type that is not
/// `null`, so `["string", "null"]` yields a string.
fn type_name(schema: &Value) -> Option<String> {
    match schema.get("type")? {
        Value::String(t) => Some(t.to_ascii_lowercase()),
        Value::Array(types) => {
            let names: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            names
                .iter()
                .find(|t| !t.eq_ignore_ascii_case("null"))
                .or(names.first())
                .map(|t| t.to_ascii_lowercase())
        }
        _ => None,
    }
}

/// `"fake"`, stretched or cut to honour `minLength` / `maxLength`.
fn string(obj: &Map<String, Value>) -> Value {
    let mut text = String::from("fake");
    if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
        while (text.len() as u64) < min.min(4096) {
            text.push('f');
        }
    }
    if let Some(max) = obj.get("maxLength").and_then(Value::as_u64) {
        text.truncate(usize::try_from(max).unwrap_or(usize::MAX).min(text.len()));
    }
    Value::String(text)
}

/// 1, moved into `[minimum, maximum]` when the schema bounds it.
fn number(obj: &Map<String, Value>, integer: bool) -> f64 {
    let get = |key| obj.get(key).and_then(Value::as_f64);
    let mut value = 1.0_f64;
    if let Some(min) = get("minimum") {
        value = value.max(if integer { min.ceil() } else { min });
    }
    if let Some(min) = get("exclusiveMinimum")
        && value <= min
    {
        value = if integer {
            min.floor() + 1.0
        } else {
            min + 1.0
        };
    }
    if let Some(max) = get("maximum") {
        value = value.min(if integer { max.floor() } else { max });
    }
    value
}

/// `1` rather than `1.0` when the number is whole, as a person would write it.
fn whole_if_possible(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives() {
        assert_eq!(instance(&json!({"type": "string"})), json!("fake"));
        assert_eq!(instance(&json!({"type": "integer"})), json!(1));
        assert_eq!(instance(&json!({"type": "number"})), json!(1));
        assert_eq!(
            instance(&json!({"type": "number", "minimum": 0.5, "maximum": 0.75})),
            json!(0.75)
        );
        assert_eq!(instance(&json!({"type": "boolean"})), json!(true));
        assert_eq!(instance(&json!({"type": "array"})), json!([]));
        assert_eq!(instance(&json!({"type": "null"})), json!(null));
        assert_eq!(instance(&json!({"enum": ["b", "a"]})), json!("b"));
        assert_eq!(instance(&json!({"const": 7})), json!(7));
        assert_eq!(instance(&json!({})), json!({}));
        assert_eq!(
            instance(&json!({"type": ["null", "string"]})),
            json!("fake")
        );
    }

    #[test]
    fn objects_fill_required_recursively() {
        let schema = json!({
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "optional": {"type": "string"},
                "inner": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}}},
                    "required": ["n", "tags"]
                }
            },
            "required": ["title", "inner"],
            "additionalProperties": false
        });
        assert_eq!(
            instance(&schema),
            json!({"title": "fake", "inner": {"n": 1, "tags": []}})
        );
    }

    /// The Gemini CLI model router: without a valid answer the prompt hangs.
    #[test]
    fn gemini_router_schema() {
        let schema = json!({
            "type": "OBJECT",
            "properties": {
                "complexity_reasoning": {"type": "STRING", "description": "why"},
                "complexity_score": {"type": "INTEGER", "minimum": 1, "maximum": 100}
            },
            "required": ["complexity_reasoning", "complexity_score"]
        });
        assert_eq!(
            instance(&schema),
            json!({"complexity_reasoning": "fake", "complexity_score": 1})
        );
        // The same schema without `required` (allowed in Gemini's subset).
        let mut loose = schema.clone();
        loose.as_object_mut().map(|o| o.remove("required"));
        assert_eq!(instance(&loose), instance(&schema));
    }

    #[test]
    fn refs_unions_and_bounds() {
        let schema = json!({
            "type": "object",
            "$defs": {"Item": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 5}}, "required": ["id"]}},
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 1},
                "maybe": {"anyOf": [{"type": "null"}, {"type": "string", "minLength": 6}]},
                "both": {"allOf": [{"properties": {"a": {"type": "boolean"}}, "required": ["a"]}, {"properties": {"b": {"const": "x"}}, "required": ["b"]}]},
                "short": {"type": "string", "maxLength": 2},
                "score": {"type": "number", "exclusiveMinimum": 3}
            },
            "required": ["items", "maybe", "both", "short", "score"]
        });
        assert_eq!(
            instance(&schema),
            json!({
                "items": [{"id": 5}],
                "maybe": "fakeff",
                "both": {"a": true, "b": "x"},
                "short": "fa",
                "score": 4
            })
        );
    }

    #[test]
    fn schemas_are_found_in_prompts_and_wrong_values_break_them() {
        let text = "classify\n\nAnswer in a fenced block.\nJSON Schema:\n```json\n{\"type\": \"string\"}\n```";
        assert_eq!(in_prompt(text), Some(json!({"type": "string"})));
        assert_eq!(in_prompt("no schema here"), None);
        assert_eq!(in_prompt("JSON Schema:\n```json\n{broken\n```"), None);
        assert_eq!(wrong(&json!({"type": "string"})), json!(0));
        let spoiled = wrong(&json!({"type": "object"}));
        assert!(spoiled.is_string() && !spoiled.to_string().contains(WRONG_WORD));
    }

    #[test]
    fn recursive_schema_terminates() {
        let schema = json!({"$ref": "#"});
        assert_eq!(instance(&schema), Value::Null);
    }
}
