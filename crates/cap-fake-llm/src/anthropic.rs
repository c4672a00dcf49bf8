//! Anthropic Messages API (`POST …/v1/messages`, `…/v1/messages/count_tokens`),
//! as used by Claude Code and the Claude ACP adapter.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::conversation::UserMessage;
use crate::http::json_response;
use crate::reply::{self, ParsedRequest, Plan};
use crate::sse::{self, Frame};
use crate::tools::{self, Call, Offered, Step};

/// Reads the parts of a Messages request the fake cares about.
pub fn parse(body: &Value) -> ParsedRequest {
    ParsedRequest {
        model: body["model"].as_str().unwrap_or_default().to_string(),
        stream: body["stream"].as_bool().unwrap_or(false),
        user_messages: user_messages(body),
        schema: schema(body),
        tools: body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str())
            .map(Offered::function)
            .collect(),
        tool_result: tool_result(body),
    }
}

/// The tool result the assistant still has to answer ([`tools::pending_result`]).
fn tool_result(body: &Value) -> Option<String> {
    let mut steps = Vec::new();
    for message in body["messages"].as_array()? {
        let blocks = message["content"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let user = message["role"] == "user";
        if let Value::String(text) = &message["content"] {
            steps.push(if user {
                Step::User(text.clone())
            } else {
                Step::Answer
            });
        }
        for block in blocks {
            let text = block["text"].as_str().filter(|t| !t.trim().is_empty());
            match (user, block["type"].as_str(), text) {
                (true, Some("tool_result"), _) => {
                    steps.push(Step::Result(tools::result_text(&block["content"])))
                }
                (true, Some("text"), Some(t)) => steps.push(Step::User(t.to_string())),
                (false, Some("text"), Some(_)) => steps.push(Step::Answer),
                _ => {}
            }
        }
    }
    tools::pending_result(steps)
}

/// User-role messages with their text blocks; `tool_result` blocks are answers
/// from tools, not from the person, so they are left out.
fn user_messages(body: &Value) -> Vec<UserMessage> {
    let Some(messages) = body["messages"].as_array() else {
        return Vec::new();
    };
    messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| match &m["content"] {
            Value::String(text) => UserMessage::new([text.as_str()]),
            Value::Array(blocks) => UserMessage::new(
                blocks
                    .iter()
                    .filter(|b| b["type"] == "text")
                    .filter_map(|b| b["text"].as_str()),
            ),
            _ => UserMessage::default(),
        })
        .collect()
}

/// Structured output: `output_config.format` (current), `output_format` (the
/// older beta) or an OpenAI-style `response_format`.
fn schema(body: &Value) -> Option<Value> {
    [
        &body["output_config"]["format"],
        &body["output_format"],
        &body["response_format"],
    ]
    .into_iter()
    .find(|format| format["type"] == "json_schema")
    .and_then(|format| {
        [&format["schema"], &format["json_schema"]["schema"]]
            .into_iter()
            .find(|s| s.is_object())
            .cloned()
    })
}

/// The answer: an SSE stream when the request asked for one, else one message.
pub fn respond(request: &ParsedRequest, plan: &Plan, label: String) -> Response {
    if plan.fail {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "FAIL500 requested");
    }
    let id = reply::new_id("msg");
    if let Some(call) = &plan.tool_call {
        return tool_use(&id, request, plan, call, label);
    }
    if !request.stream {
        return json_response(StatusCode::OK, &message(&id, request, plan));
    }
    let usage_start = json!({
        "input_tokens": plan.input_tokens,
        "output_tokens": 1,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    });
    let mut frames = vec![
        Frame::named(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": request.model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage_start,
            }}),
        ),
        Frame::named(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
        ),
        Frame::named("ping", &json!({"type": "ping"})),
    ];
    for (i, chunk) in plan.chunks().iter().enumerate() {
        let delta = json!({"type": "content_block_delta", "index": 0,
                           "delta": {"type": "text_delta", "text": chunk}});
        frames.push(Frame::named("content_block_delta", &delta).after(plan.delay_before(i)));
    }
    frames.extend([
        Frame::named(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        Frame::named(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                    "usage": usage(plan)}),
        ),
        Frame::named("message_stop", &json!({"type": "message_stop"})),
    ]);
    sse::response(frames, label)
}

/// The answer that calls a tool: one `tool_use` block, `stop_reason: tool_use`.
fn tool_use(
    id: &str,
    request: &ParsedRequest,
    plan: &Plan,
    call: &Call,
    label: String,
) -> Response {
    let tool_id = reply::new_id("toolu");
    let input = match &call.input {
        tools::Input::Json(v) => v.clone(),
        tools::Input::Freeform(s) => json!({"input": s}),
    };
    let block = json!({"type": "tool_use", "id": tool_id, "name": call.name, "input": input});
    if !request.stream {
        return json_response(
            StatusCode::OK,
            &json!({
                "id": id, "type": "message", "role": "assistant", "model": request.model,
                "content": [block], "stop_reason": "tool_use", "stop_sequence": null,
                "usage": usage(plan),
            }),
        );
    }
    let started = json!({"type": "tool_use", "id": tool_id, "name": call.name, "input": {}});
    let frames = vec![
        Frame::named(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": request.model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage(plan),
            }}),
        ),
        Frame::named(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0, "content_block": started}),
        ),
        Frame::named(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": input.to_string()}}),
        ),
        Frame::named(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": 0}),
        ),
        Frame::named(
            "message_delta",
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                    "usage": usage(plan)}),
        ),
        Frame::named("message_stop", &json!({"type": "message_stop"})),
    ];
    sse::response(frames, label)
}

/// A complete, non-streamed assistant message.
fn message(id: &str, request: &ParsedRequest, plan: &Plan) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": [{"type": "text", "text": plan.text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": usage(plan),
    })
}

fn usage(plan: &Plan) -> Value {
    json!({
        "input_tokens": plan.input_tokens,
        "output_tokens": plan.output_tokens(),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    })
}

/// `POST …/v1/messages/count_tokens`.
pub fn count_tokens(plan: &Plan) -> Response {
    if plan.fail {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "FAIL500 requested");
    }
    json_response(StatusCode::OK, &json!({"input_tokens": plan.input_tokens}))
}

/// An error in Anthropic's format, which Claude Code shows as "API Error: …".
pub fn error(status: StatusCode, message: &str) -> Response {
    let kind = match status.as_u16() {
        400 => "invalid_request_error",
        404 => "not_found_error",
        _ => "api_error",
    };
    json_response(
        status,
        &json!({"type": "error", "error": {"type": kind, "message": message}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::summarize;

    /// A Claude Code second turn: reminders, a tool round trip, then the new prompt.
    #[test]
    fn claude_code_history() {
        let body = json!({
            "model": "claude-opus-4-8[1m]",
            "stream": true,
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "<system-reminder>\nAs you answer…\n</system-reminder>"},
                    {"type": "text", "text": "first message alpha"}
                ]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "TURN9 output"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "ECHO[turns=1]: first message alpha"}]},
                {"role": "user", "content": "<system-reminder>x</system-reminder>\nsecond message beta"}
            ]
        });
        let request = parse(&body);
        assert_eq!(request.model, "claude-opus-4-8[1m]");
        assert!(request.stream && request.schema.is_none());
        let summary = summarize(&request.user_messages);
        assert_eq!(summary.user_turns, 2);
        assert_eq!(
            summary.user_texts,
            ["first message alpha", "second message beta"]
        );
        assert_eq!(summary.last_user_text, "second message beta");
    }

    #[test]
    fn tools_and_the_tool_result_the_request_ends_with() {
        let body = json!({
            "tools": [{"name": "Bash", "input_schema": {}}, {"name": "Write"}],
            "messages": [
                {"role": "user", "content": "RUNCMD touch x"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "is_error": true,
                    "content": [{"type": "text", "text": "permission denied"}]}]}
            ]
        });
        let request = parse(&body);
        assert_eq!(
            request.tools,
            [Offered::function("Bash"), Offered::function("Write")]
        );
        assert_eq!(request.tool_result.as_deref(), Some("permission denied"));
        let body = json!({"messages": [{"role": "user", "content": "RUNCMD touch x"}]});
        assert_eq!(parse(&body).tool_result, None);
        // Answered in text, then a new prompt: no result is pending.
        let body = json!({"messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "TOOL RESULT: x"}]},
            {"role": "user", "content": "RUNCMD touch y"}
        ]});
        assert_eq!(parse(&body).tool_result, None);
    }

    #[test]
    fn title_request_schema() {
        let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]});
        let body = json!({"messages": [], "output_config": {"format": {"type": "json_schema", "schema": schema}}});
        assert_eq!(parse(&body).schema, Some(schema.clone()));
        let body = json!({"messages": [], "response_format": {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}});
        assert_eq!(parse(&body).schema, Some(schema));
        assert_eq!(parse(&json!({"messages": []})).schema, None);
    }
}
