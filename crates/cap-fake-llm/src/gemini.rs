//! Gemini API (`POST …/models/<model>:generateContent` and
//! `…:streamGenerateContent`), as used by Gemini CLI.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::conversation::UserMessage;
use crate::http::json_response;
use crate::reply::{ParsedRequest, Plan};
use crate::sse::{self, Frame};
use crate::tools::{self, Input, Offered, Step};

/// Reads a request; the model and whether to stream come from the path, not the body.
pub fn parse(body: &Value, model: &str, stream: bool) -> ParsedRequest {
    ParsedRequest {
        model: model.to_string(),
        stream,
        user_messages: user_messages(body),
        schema: schema(body),
        tools: body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["functionDeclarations"].as_array().into_iter().flatten())
            .filter_map(|f| f["name"].as_str())
            .map(Offered::function)
            .collect(),
        tool_result: tool_result(body),
    }
}

/// The function response the model still has to answer ([`tools::pending_result`]).
fn tool_result(body: &Value) -> Option<String> {
    let mut steps = Vec::new();
    for content in body["contents"].as_array()? {
        let model = content["role"] == "model";
        for part in content["parts"].as_array().into_iter().flatten() {
            let text = part["text"]
                .as_str()
                .filter(|t| !t.trim().is_empty() && part["thought"] != true);
            if part["functionResponse"].is_object() {
                let response = &part["functionResponse"]["response"];
                steps.push(Step::Result(tools::result_text(response)));
            } else if let Some(text) = text {
                steps.push(if model {
                    Step::Answer
                } else {
                    Step::User(text.to_string())
                });
            }
        }
    }
    tools::pending_result(steps)
}

/// Contents with role `user` (or no role, which means user). Parts holding a
/// `functionResponse` are tool results and carry no `text`, so taking only text
/// parts skips them.
fn user_messages(body: &Value) -> Vec<UserMessage> {
    let Some(contents) = body["contents"].as_array() else {
        return Vec::new();
    };
    contents
        .iter()
        .filter(|c| matches!(c["role"].as_str(), None | Some("user")))
        .map(|c| {
            let parts = c["parts"].as_array().map(Vec::as_slice).unwrap_or_default();
            UserMessage::new(
                parts
                    .iter()
                    .filter(|p| p["thought"] != true)
                    .filter_map(|p| p["text"].as_str()),
            )
        })
        .collect()
}

/// `generationConfig.responseJsonSchema` (JSON Schema) or `responseSchema`
/// (Gemini's OpenAPI subset), normally with `responseMimeType: application/json`.
/// A schema counts even without that MIME type, since a caller that sends one
/// wants JSON back; the REST API's snake_case spellings are honoured too.
fn schema(body: &Value) -> Option<Value> {
    let config = either(body, "generationConfig", "generation_config");
    let found = [
        either(config, "responseJsonSchema", "response_json_schema"),
        either(config, "responseSchema", "response_schema"),
    ]
    .into_iter()
    .find(|s| s.is_object())
    .cloned();
    let wants_json = either(config, "responseMimeType", "response_mime_type") == "application/json";
    // JSON asked for without a schema: any object will parse.
    found.or_else(|| wants_json.then(|| json!({"type": "object"})))
}

fn either<'a>(value: &'a Value, camel: &str, snake: &str) -> &'a Value {
    match &value[camel] {
        Value::Null => &value[snake],
        found => found,
    }
}

pub fn respond(request: &ParsedRequest, plan: &Plan, label: String) -> Response {
    if plan.fail {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "FAIL500 requested");
    }
    if let Some(call) = &plan.tool_call {
        let args = match &call.input {
            Input::Json(v) => v.clone(),
            Input::Freeform(s) => json!({"input": s}),
        };
        let part = json!({"functionCall": {"name": call.name, "args": args}});
        let body = response(request, plan, part, true);
        return if request.stream {
            sse::response(vec![Frame::data(&body)], label)
        } else {
            json_response(StatusCode::OK, &body)
        };
    }
    if !request.stream {
        return json_response(StatusCode::OK, &chunk(request, plan, &plan.text, true));
    }
    let chunks = plan.chunks();
    let frames = chunks
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let last = i + 1 == chunks.len();
            Frame::data(&chunk(request, plan, text, last)).after(plan.delay_before(i))
        })
        .collect();
    sse::response(frames, label)
}

/// One `GenerateContentResponse` of text; only the last one of a stream says `STOP`.
fn chunk(request: &ParsedRequest, plan: &Plan, text: &str, last: bool) -> Value {
    response(request, plan, json!({"text": text}), last)
}

/// One `GenerateContentResponse` holding `part`.
fn response(request: &ParsedRequest, plan: &Plan, part: Value, last: bool) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": [part]}, "index": 0});
    if last {
        candidate["finishReason"] = json!("STOP");
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": plan.input_tokens,
            "candidatesTokenCount": plan.output_tokens(),
            "totalTokenCount": plan.input_tokens + plan.output_tokens(),
        },
        "modelVersion": request.model,
    })
}

/// `POST …/models/<model>:countTokens`.
pub fn count_tokens(plan: &Plan) -> Response {
    json_response(StatusCode::OK, &json!({"totalTokens": plan.input_tokens}))
}

/// A Google API error body.
pub fn error(status: StatusCode, message: &str) -> Response {
    let code = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        404 => "NOT_FOUND",
        _ => "INTERNAL",
    };
    json_response(
        status,
        &json!({"error": {"code": status.as_u16(), "message": message, "status": code}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::summarize;
    use crate::schema;

    /// A Gemini CLI second turn: the session context, a tool round trip, the prompt.
    #[test]
    fn gemini_cli_history() {
        let body = json!({
            "contents": [
                {"role": "user", "parts": [{"text": "<session_context>\nThis is the Gemini CLI.\n</session_context>"}]},
                {"role": "user", "parts": [{"text": "first gemini"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "ls", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "ls", "response": {"output": "TURN3"}}}]},
                {"role": "model", "parts": [{"text": "ECHO[turns=1]: first gemini"}]},
                {"parts": [{"text": "second gemini"}]}
            ],
            "systemInstruction": {"parts": [{"text": "be brief"}]}
        });
        let request = parse(&body, "gemini-3.8-flash", true);
        let summary = summarize(&request.user_messages);
        assert_eq!(summary.user_turns, 2);
        assert_eq!(summary.user_texts, ["first gemini", "second gemini"]);
        assert!(request.schema.is_none());
    }

    #[test]
    fn tools_and_the_tool_result_the_request_ends_with() {
        let body = json!({
            "tools": [{"functionDeclarations": [{"name": "read_file"}, {"name": "write_file"}]}],
            "contents": [
                {"role": "user", "parts": [{"text": "WRITEFILE /w/a"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "write_file", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "write_file",
                    "response": {"error": "Tool execution denied."}}}]}
            ]
        });
        let request = parse(&body, "m", true);
        assert_eq!(request.tools[1], Offered::function("write_file"));
        assert_eq!(
            request.tool_result.as_deref(),
            Some("Tool execution denied.")
        );
    }

    /// The model router: without a valid JSON answer Gemini CLI retries and hangs.
    #[test]
    fn router_request_gets_its_schema() {
        let router = json!({
            "type": "object",
            "properties": {
                "complexity_reasoning": {"type": "string"},
                "complexity_score": {"type": "integer", "minimum": 1, "maximum": 100}
            },
            "required": ["complexity_reasoning", "complexity_score"]
        });
        let body = json!({
            "contents": [{"role": "user", "parts": [{"text": "hello"}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": router}
        });
        let request = parse(&body, "gemini-3.5-flash-lite", false);
        let instance = schema::instance(request.schema.as_ref().expect("schema"));
        assert_eq!(
            instance,
            json!({"complexity_reasoning": "fake", "complexity_score": 1})
        );
        let body = json!({"generation_config": {"response_mime_type": "application/json",
                          "response_schema": {"type": "OBJECT", "properties": {"x": {"type": "STRING"}}}}});
        assert_eq!(
            schema::instance(parse(&body, "m", false).schema.as_ref().expect("schema")),
            json!({"x": "fake"})
        );
        let text = json!({"generationConfig": {"temperature": 0}});
        assert_eq!(parse(&text, "m", false).schema, None);
    }
}
