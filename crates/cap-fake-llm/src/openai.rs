//! OpenAI wire formats: the Responses API (`POST …/v1/responses`, Codex) and Chat
//! Completions (`POST …/v1/chat/completions`, OpenCode's openai-compatible provider).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::conversation::UserMessage;
use crate::http::json_response;
use crate::reply::{self, ParsedRequest, Plan};
use crate::sse::{self, Frame};
use crate::tools::{self, Call, Input, Offered, Step};

/// Text of a message `content`: a plain string or a list of parts. Only text
/// parts count (`input_text` in Responses, `text` in Chat); images and files don't.
fn content_texts(content: &Value) -> UserMessage {
    match content {
        Value::String(text) => UserMessage::new([text.as_str()]),
        Value::Array(parts) => UserMessage::new(
            parts
                .iter()
                .filter(|p| matches!(p["type"].as_str(), Some("input_text" | "text")))
                .filter_map(|p| p["text"].as_str()),
        ),
        _ => UserMessage::default(),
    }
}

/// Whether an assistant message's `content` says anything: a string, or parts with text
/// (`output_text` in Responses, `text` in Chat).
fn has_text(content: &Value) -> bool {
    match content {
        Value::String(text) => !text.trim().is_empty(),
        Value::Array(parts) => parts
            .iter()
            .any(|p| p["text"].as_str().is_some_and(|t| !t.trim().is_empty())),
        _ => false,
    }
}

/// An OpenAI error body, the shape both APIs use.
pub fn error(status: StatusCode, message: &str) -> Response {
    let kind = if status.is_client_error() {
        "invalid_request_error"
    } else {
        "server_error"
    };
    json_response(
        status,
        &json!({"error": {"message": message, "type": kind, "param": null, "code": kind}}),
    )
}

/// The Responses API, as Codex streams it.
pub mod responses {
    use super::*;

    pub fn parse(body: &Value) -> ParsedRequest {
        ParsedRequest {
            model: body["model"].as_str().unwrap_or_default().to_string(),
            stream: body["stream"].as_bool().unwrap_or(false),
            user_messages: user_messages(&body["input"]),
            schema: (body["text"]["format"]["type"] == "json_schema")
                .then(|| body["text"]["format"]["schema"].clone())
                .filter(Value::is_object),
            tools: body["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| {
                    Some(Offered {
                        name: t["name"].as_str()?.to_string(),
                        freeform: t["type"] == "custom",
                    })
                })
                .collect(),
            tool_result: tool_result(&body["input"]),
        }
    }

    /// The tool output the assistant still has to answer ([`tools::pending_result`]).
    fn tool_result(input: &Value) -> Option<String> {
        let steps = input.as_array()?.iter().filter_map(|item| {
            let kind = item["type"].as_str().unwrap_or("message");
            if kind.ends_with("_call_output") {
                return Some(Step::Result(tools::result_text(&item["output"])));
            }
            match item["role"].as_str() {
                Some("user") if kind == "message" => {
                    Some(Step::User(content_texts(&item["content"]).texts.join("\n")))
                }
                Some("assistant") if has_text(&item["content"]) => Some(Step::Answer),
                _ => None,
            }
        });
        tools::pending_result(steps)
    }

    /// `input` is a string or a list of items. User messages are items with role
    /// `user` (with or without `"type": "message"`); `function_call_output` and
    /// other item types are tool traffic, not the person talking.
    fn user_messages(input: &Value) -> Vec<UserMessage> {
        match input {
            Value::String(text) => vec![UserMessage::new([text.as_str()])],
            Value::Array(items) => items
                .iter()
                .filter(|item| item["role"] == "user")
                .filter(|item| matches!(item["type"].as_str(), None | Some("message")))
                .map(|item| content_texts(&item["content"]))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn respond(request: &ParsedRequest, plan: &Plan, label: String) -> Response {
        if plan.fail {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "FAIL500 requested");
        }
        let ids = Ids {
            response: reply::new_id("resp"),
            item: reply::new_id("msg"),
            created_at: reply::unix_now(),
        };
        if let Some(call) = &plan.tool_call {
            return tool_call(&ids, request, plan, call, label);
        }
        if !request.stream {
            return json_response(StatusCode::OK, &response_object(&ids, request, plan, true));
        }
        let mut events = Events::default();
        events.push(
            "response.created",
            json!({"response": response_object(&ids, request, plan, false)}),
        );
        events.push(
            "response.in_progress",
            json!({"response": response_object(&ids, request, plan, false)}),
        );
        events.push(
            "response.output_item.added",
            json!({"output_index": 0, "item": message_item(&ids.item, None)}),
        );
        let position = json!({"item_id": ids.item, "output_index": 0, "content_index": 0});
        let with_position = |extra: Value| {
            let mut value = position.clone();
            if let (Some(target), Value::Object(extra)) = (value.as_object_mut(), extra) {
                target.extend(extra);
            }
            value
        };
        events.push(
            "response.content_part.added",
            with_position(json!({"part": output_text(""),})),
        );
        for (i, chunk) in plan.chunks().iter().enumerate() {
            let delta = with_position(json!({"delta": chunk, "logprobs": []}));
            events.push_after("response.output_text.delta", delta, plan.delay_before(i));
        }
        events.push(
            "response.output_text.done",
            with_position(json!({"text": plan.text, "logprobs": []})),
        );
        events.push(
            "response.content_part.done",
            with_position(json!({"part": output_text(&plan.text)})),
        );
        events.push(
            "response.output_item.done",
            json!({"output_index": 0, "item": message_item(&ids.item, Some(&plan.text))}),
        );
        events.push(
            "response.completed",
            json!({"response": response_object(&ids, request, plan, true)}),
        );
        sse::response(events.frames, label)
    }

    /// The answer that calls a tool: a `function_call` item, or a `custom_tool_call` for a
    /// free-text tool, streamed as the API does (added, arguments, done, completed).
    fn tool_call(
        ids: &Ids,
        request: &ParsedRequest,
        plan: &Plan,
        call: &Call,
        label: String,
    ) -> Response {
        let call_id = reply::new_id("call");
        let (kind, field, delta_name, done_name) = match call.input {
            Input::Json(_) => (
                "function_call",
                "arguments",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
            ),
            Input::Freeform(_) => (
                "custom_tool_call",
                "input",
                "response.custom_tool_call_input.delta",
                "response.custom_tool_call_input.done",
            ),
        };
        let item = |text: &str, status: &str| {
            json!({"id": ids.item, "type": kind, "status": status, "call_id": call_id,
                   "name": call.name, field: text})
        };
        let text = call.input.as_text();
        let done = item(&text, "completed");
        let completed = |output: Value| {
            let mut response = response_object(ids, request, plan, true);
            response["output"] = output;
            response
        };
        if !request.stream {
            return json_response(StatusCode::OK, &completed(json!([done])));
        }
        let mut events = Events::default();
        let started = response_object(ids, request, plan, false);
        events.push("response.created", json!({"response": started}));
        events.push("response.in_progress", json!({"response": started}));
        events.push(
            "response.output_item.added",
            json!({"output_index": 0, "item": item("", "in_progress")}),
        );
        let position = |extra: Value| {
            let mut value = json!({"item_id": ids.item, "output_index": 0});
            if let (Some(target), Value::Object(extra)) = (value.as_object_mut(), extra) {
                target.extend(extra);
            }
            value
        };
        events.push(delta_name, position(json!({"delta": text})));
        events.push(done_name, position(json!({field: text})));
        events.push(
            "response.output_item.done",
            json!({"output_index": 0, "item": done}),
        );
        events.push(
            "response.completed",
            json!({"response": completed(json!([done]))}),
        );
        sse::response(events.frames, label)
    }

    struct Ids {
        response: String,
        item: String,
        created_at: u64,
    }

    /// Builds events with `type` and a running `sequence_number`, as the real API does.
    #[derive(Default)]
    struct Events {
        frames: Vec<Frame>,
    }

    impl Events {
        fn push(&mut self, kind: &'static str, body: Value) {
            self.push_after(kind, body, std::time::Duration::ZERO);
        }

        fn push_after(&mut self, kind: &'static str, mut body: Value, delay: std::time::Duration) {
            if let Some(obj) = body.as_object_mut() {
                obj.insert("type".into(), json!(kind));
                obj.insert("sequence_number".into(), json!(self.frames.len()));
            }
            self.frames.push(Frame::named(kind, &body).after(delay));
        }
    }

    fn output_text(text: &str) -> Value {
        json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    }

    /// The assistant message item: empty and in progress until `text` is known.
    fn message_item(id: &str, text: Option<&str>) -> Value {
        let (status, content) = match text {
            Some(text) => ("completed", json!([output_text(text)])),
            None => ("in_progress", json!([])),
        };
        json!({"id": id, "type": "message", "status": status, "role": "assistant", "content": content})
    }

    /// The `response` object: in progress with no output, or completed with usage.
    fn response_object(ids: &Ids, request: &ParsedRequest, plan: &Plan, done: bool) -> Value {
        let (status, output, usage) = if done {
            let usage = json!({
                "input_tokens": plan.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": plan.output_tokens(),
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": plan.input_tokens + plan.output_tokens(),
            });
            (
                "completed",
                json!([message_item(&ids.item, Some(&plan.text))]),
                usage,
            )
        } else {
            ("in_progress", json!([]), Value::Null)
        };
        json!({
            "id": ids.response,
            "object": "response",
            "created_at": ids.created_at,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "model": request.model,
            "output": output,
            "parallel_tool_calls": true,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::conversation::summarize;

        /// A Codex second turn: developer instructions, AGENTS.md and the
        /// environment context as user items, a tool round trip, then the prompt.
        #[test]
        fn codex_history() {
            let body = json!({
                "model": "gpt-5.5",
                "stream": true,
                "instructions": "You are Codex",
                "input": [
                    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions instructions>…</permissions instructions>"}]},
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "# AGENTS.md instructions for /w\n\n<INSTRUCTIONS>\nhi\n</INSTRUCTIONS>"}]},
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n  <cwd>/w</cwd>\n</environment_context>"}]},
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "codex first alpha"}]},
                    {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c1"},
                    {"type": "function_call_output", "call_id": "c1", "output": "TURN7"},
                    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ECHO[turns=1]: codex first alpha"}]},
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<turn_aborted>\nThe user interrupted.\n</turn_aborted>"}]},
                    {"role": "user", "content": "codex second beta"}
                ]
            });
            let request = parse(&body);
            assert_eq!(request.model, "gpt-5.5");
            let summary = summarize(&request.user_messages);
            assert_eq!(summary.user_turns, 2);
            assert_eq!(summary.last_user_text, "codex second beta");
        }

        #[test]
        fn tools_and_the_tool_result_the_request_ends_with() {
            let body = json!({
                "tools": [
                    {"type": "function", "name": "exec_command", "parameters": {}},
                    {"type": "custom", "name": "apply_patch", "format": {}},
                    {"type": "web_search"}
                ],
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "WRITEFILE a"}]},
                    {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": "…"},
                    {"type": "custom_tool_call_output", "call_id": "c", "output": "patch rejected by user"}
                ]
            });
            let request = parse(&body);
            assert_eq!(request.tools.len(), 2);
            assert!(request.tools[1].freeform && !request.tools[0].freeform);
            assert_eq!(
                request.tool_result.as_deref(),
                Some("patch rejected by user")
            );
        }

        #[test]
        fn output_schema() {
            let schema = json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]});
            let body = json!({"input": "hi", "text": {"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": true}}});
            let request = parse(&body);
            assert_eq!(request.schema, Some(schema));
            assert_eq!(summarize(&request.user_messages).last_user_text, "hi");
            assert_eq!(
                parse(&json!({"input": "hi", "text": {"format": {"type": "text"}}})).schema,
                None
            );
        }
    }
}

/// Chat Completions, as OpenCode's `@ai-sdk/openai-compatible` provider uses it.
pub mod chat {
    use super::*;

    pub fn parse(body: &Value) -> ParsedRequest {
        let messages = body["messages"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        ParsedRequest {
            model: body["model"].as_str().unwrap_or_default().to_string(),
            stream: body["stream"].as_bool().unwrap_or(false),
            // Tool results come as role `tool`, so keeping role `user` skips them.
            user_messages: messages
                .iter()
                .filter(|m| m["role"] == "user")
                .map(|m| content_texts(&m["content"]))
                .collect(),
            schema: schema(&body["response_format"]),
            tools: body["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["function"]["name"].as_str())
                .map(Offered::function)
                .collect(),
            tool_result: tool_result(messages),
        }
    }

    /// The tool message the assistant still has to answer ([`tools::pending_result`]).
    fn tool_result(messages: &[Value]) -> Option<String> {
        let steps = messages.iter().filter_map(|m| match m["role"].as_str() {
            Some("tool") => Some(Step::Result(tools::result_text(&m["content"]))),
            Some("user") => Some(Step::User(content_texts(&m["content"]).texts.join("\n"))),
            Some("assistant") if has_text(&m["content"]) => Some(Step::Answer),
            _ => None,
        });
        tools::pending_result(steps)
    }

    /// `json_schema` carries a schema; `json_object` only asks for some JSON object.
    fn schema(format: &Value) -> Option<Value> {
        match format["type"].as_str() {
            Some("json_schema") => Some(format["json_schema"]["schema"].clone())
                .filter(Value::is_object)
                .or_else(|| Some(json!({"type": "object"}))),
            Some("json_object") => Some(json!({"type": "object"})),
            _ => None,
        }
    }

    pub fn respond(request: &ParsedRequest, plan: &Plan, label: String) -> Response {
        if plan.fail {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "FAIL500 requested");
        }
        let id = reply::new_id("chatcmpl");
        let created = reply::unix_now();
        let usage = json!({
            "prompt_tokens": plan.input_tokens,
            "completion_tokens": plan.output_tokens(),
            "total_tokens": plan.input_tokens + plan.output_tokens(),
        });
        let call = plan.tool_call.as_ref().map(|call| {
            json!([{"index": 0, "id": reply::new_id("call"), "type": "function",
                    "function": {"name": call.name, "arguments": call.input.as_text()}}])
        });
        let finish = if call.is_some() { "tool_calls" } else { "stop" };
        if !request.stream {
            let message = match &call {
                Some(calls) => json!({"role": "assistant", "content": null, "tool_calls": calls}),
                None => json!({"role": "assistant", "content": plan.text}),
            };
            return json_response(
                StatusCode::OK,
                &json!({
                    "id": id, "object": "chat.completion", "created": created, "model": request.model,
                    "choices": [{"index": 0, "message": message,
                                 "finish_reason": finish, "logprobs": null}],
                    "usage": usage,
                }),
            );
        }
        let chunk = |delta: Value, finish: Option<&str>, usage: Option<&Value>| {
            let mut value = json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": request.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}],
            });
            if let (Some(obj), Some(usage)) = (value.as_object_mut(), usage) {
                obj.insert("usage".into(), usage.clone());
            }
            Frame::data(&value)
        };
        let mut frames = vec![chunk(
            json!({"role": "assistant", "content": ""}),
            None,
            None,
        )];
        match &call {
            Some(calls) => frames.push(chunk(json!({"tool_calls": calls}), None, None)),
            None => {
                for (i, text) in plan.chunks().iter().enumerate() {
                    let delta = chunk(json!({"content": text}), None, None);
                    frames.push(delta.after(plan.delay_before(i)));
                }
            }
        }
        frames.push(chunk(json!({}), Some(finish), Some(&usage)));
        frames.push(Frame::raw("[DONE]"));
        sse::response(frames, label)
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::conversation::summarize;

        #[test]
        fn opencode_history() {
            let body = json!({
                "model": "fake-model",
                "stream": true,
                "messages": [
                    {"role": "system", "content": "You are opencode"},
                    {"role": "user", "content": [{"type": "text", "text": "TURN1 hello"}]},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "c", "content": "TURN5 from a file"},
                    {"role": "assistant", "content": "ECHO"},
                    {"role": "user", "content": "TURN2 again"}
                ]
            });
            let request = parse(&body);
            let summary = summarize(&request.user_messages);
            assert_eq!(summary.user_turns, 2);
            assert_eq!(summary.user_texts, ["TURN1 hello", "TURN2 again"]);
            assert!(request.stream && request.schema.is_none());
        }

        #[test]
        fn tools_and_the_tool_result_the_request_ends_with() {
            let body = json!({
                "tools": [{"type": "function", "function": {"name": "bash", "parameters": {}}}],
                "messages": [
                    {"role": "user", "content": "RUNCMD touch x"},
                    {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
                    {"role": "tool", "tool_call_id": "c", "content": "The user rejected permission"},
                    {"role": "user", "content": "RUNCMD touch x"}
                ]
            });
            let request = parse(&body);
            assert_eq!(request.tools, [Offered::function("bash")]);
            assert_eq!(
                request.tool_result.as_deref(),
                Some("The user rejected permission")
            );
        }

        #[test]
        fn response_format() {
            let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
            let body = json!({"messages": [], "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}});
            assert_eq!(parse(&body).schema, Some(schema));
            let body = json!({"messages": [], "response_format": {"type": "json_object"}});
            assert_eq!(parse(&body).schema, Some(json!({"type": "object"})));
        }
    }
}
