//! End-to-end tests of the built `cap-fake-llm` binary over real HTTP: each test
//! starts its own server on a free port, so they can run in parallel.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn anthropic_two_turns(stream: bool) -> Value {
    json!({
        "model": "claude-test",
        "stream": stream,
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>\ncontext\n</system-reminder>"},
                {"type": "text", "text": "first message alpha"}
            ]},
            {"role": "assistant", "content": [{"type": "text", "text": "ECHO[turns=1]: first message alpha"}]},
            {"role": "user", "content": "second message beta"}
        ]
    })
}

#[test]
fn misc_routes_answer_200() {
    let fake = Fake::start("misc");
    let head = fake
        .agent
        .head(format!("{}/", fake.base))
        .call()
        .expect("HEAD /");
    assert_eq!(head.status().as_u16(), 200);
    let mut models = fake
        .agent
        .get(format!("{}/v1/models", fake.base))
        .call()
        .expect("GET models");
    let models: Value =
        serde_json::from_str(&models.body_mut().read_to_string().expect("body")).expect("json");
    assert_eq!(models, json!({"data": [], "models": []}));
    let (status, body) = fake.post("/something/else?x=1", OPENAI_AUTH, "not even json");
    assert_eq!((status, body.as_str()), (200, "{}"));
    let lines = fake.log_lines();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["method"], "HEAD");
    assert_eq!(lines[1]["api"], "models");
    assert_eq!(lines[2]["query"], "x=1");
}

#[test]
fn anthropic_messages_stream_and_json() {
    let fake = Fake::start("anthropic");
    let (status, text) = fake.post_json(
        "/v1/messages?beta=true",
        ANTHROPIC_AUTH,
        &anthropic_two_turns(true),
    );
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    let names = names(&events);
    assert_eq!(
        dedup(&names),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert!(
        names
            .iter()
            .filter(|n| **n == "content_block_delta")
            .count()
            >= 3
    );
    for (name, data) in &events {
        assert_eq!(data["type"].as_str(), name.as_deref());
    }
    let text: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "ECHO[turns=2]: second message beta");
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(delta["usage"]["output_tokens"].as_u64().is_some());

    let (status, body) =
        fake.post_json("/v1/messages", ANTHROPIC_AUTH, &anthropic_two_turns(false));
    assert_eq!(status, 200);
    let message: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(message["type"], "message");
    assert_eq!(
        message["content"][0]["text"],
        "ECHO[turns=2]: second message beta"
    );
    assert_eq!(message["stop_reason"], "end_turn");

    let (status, body) = fake.post_json(
        "/v1/messages/count_tokens?beta=true",
        ANTHROPIC_AUTH,
        &anthropic_two_turns(false),
    );
    assert_eq!(status, 200);
    let count: Value = serde_json::from_str(&body).expect("json");
    assert!(count["input_tokens"].as_u64().is_some_and(|n| n > 0));

    let log = fake.log_lines();
    assert_eq!(log[0]["api"], "anthropic.messages");
    assert_eq!(log[0]["path"], "/v1/messages");
    assert_eq!(log[0]["model"], "claude-test");
    assert_eq!(log[0]["stream"], true);
    assert_eq!(log[0]["user_turns"], 2);
    assert_eq!(
        log[0]["user_texts"],
        json!(["first message alpha", "second message beta"])
    );
    assert_eq!(log[0]["auth"], json!(["x-api-key"]));
    assert_eq!(log[0]["json_schema"], false);
    assert_eq!(log[0]["reply"], "ECHO[turns=2]: second message beta");
}

#[test]
fn anthropic_title_request_gets_schema_instance() {
    let fake = Fake::start("anthropic-schema");
    let body = json!({
        "model": "claude-test", "stream": true,
        "messages": [{"role": "user", "content": "name this session"}],
        "output_config": {"format": {"type": "json_schema", "schema": {
            "type": "object", "properties": {"title": {"type": "string"}},
            "required": ["title"], "additionalProperties": false}}}
    });
    let (_, text) = fake.post_json("/v1/messages", ANTHROPIC_AUTH, &body);
    let reply: String = sse_events(&text)
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&reply).expect("JSON reply"),
        json!({"title": "fake"})
    );
    assert_eq!(fake.log_lines()[0]["json_schema"], true);
}

#[test]
fn openai_responses_stream() {
    let fake = Fake::start("responses");
    let body = json!({
        "model": "gpt-5.5", "stream": true, "instructions": "be Codex",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n<cwd>/w</cwd>\n</environment_context>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "codex first alpha"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ECHO[turns=1]: codex first alpha"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "codex second beta"}]}
        ]
    });
    let (status, text) = fake.post_json("/v1/responses", OPENAI_AUTH, &body);
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    let names = names(&events);
    assert_eq!(
        dedup(&names),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    assert!(
        names
            .iter()
            .filter(|n| **n == "response.output_text.delta")
            .count()
            >= 3
    );
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"].as_str(), name.as_deref());
        assert_eq!(data["sequence_number"], i);
    }
    let deltas: String = events
        .iter()
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    assert_eq!(deltas, "ECHO[turns=2]: codex second beta");
    let done = &events[events.len() - 2].1["item"];
    assert_eq!(done["content"][0]["text"], deltas);
    assert!(done["id"].as_str().is_some_and(|id| !id.is_empty()));
    let completed = &events[events.len() - 1].1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"][0]["content"][0]["text"], deltas);
    assert!(completed["usage"]["total_tokens"].as_u64().is_some());
    assert_eq!(
        events[0].1["response"]["id"], completed["id"],
        "one response id throughout"
    );
    assert_eq!(fake.log_lines()[0]["auth"], json!(["authorization"]));
}

#[test]
fn openai_chat_stream_and_json() {
    let fake = Fake::start("chat");
    let messages = json!([
        {"role": "system", "content": "be opencode"},
        {"role": "user", "content": [{"type": "text", "text": "TURN1 hello"}]},
        {"role": "assistant", "content": "ECHO"},
        {"role": "user", "content": "TURN2 again"}
    ]);
    let body = json!({"model": "fake-model", "stream": true, "messages": messages});
    let (status, text) = fake.post_json("/v1/chat/completions", OPENAI_AUTH, &body);
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    assert_eq!(events.last().map(|e| &e.1), Some(&json!("[DONE]")));
    let chunks = &events[..events.len() - 1];
    let content: String = chunks
        .iter()
        .filter_map(|(_, d)| d["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "ECHO[turns=2]: TURN2 again");
    assert!(chunks.len() >= 5, "role chunk, 3 deltas, finish chunk");
    let last = &chunks[chunks.len() - 1].1;
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(last["usage"]["total_tokens"].as_u64().is_some());

    let body = json!({"model": "fake-model", "stream": false, "messages": messages});
    let (_, text) = fake.post_json("/v1/chat/completions", OPENAI_AUTH, &body);
    let completion: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        completion["choices"][0]["message"]["content"],
        "ECHO[turns=2]: TURN2 again"
    );
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
}

#[test]
fn gemini_router_and_stream() {
    let fake = Fake::start("gemini");
    let router = json!({
        "contents": [{"role": "user", "parts": [{"text": "hello gemini"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {
            "type": "object",
            "properties": {"complexity_reasoning": {"type": "string"},
                           "complexity_score": {"type": "integer", "minimum": 1, "maximum": 100}},
            "required": ["complexity_reasoning", "complexity_score"]}}
    });
    let (status, text) = fake.post_json(
        "/v1beta/models/gemini-3.5-flash-lite:generateContent",
        GEMINI_AUTH,
        &router,
    );
    assert_eq!(status, 200, "{text}");
    let response: Value = serde_json::from_str(&text).expect("json");
    let answer = response["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .expect("text");
    assert_eq!(
        serde_json::from_str::<Value>(answer).expect("router answer is JSON"),
        json!({"complexity_reasoning": "fake", "complexity_score": 1})
    );

    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "<session_context>\nGemini CLI\n</session_context>"}]},
        {"role": "user", "parts": [{"text": "first gemini"}]},
        {"role": "model", "parts": [{"text": "ECHO[turns=1]: first gemini"}]},
        {"role": "user", "parts": [{"text": "second gemini"}]}
    ]});
    let (status, text) = fake.post_json(
        "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse",
        GEMINI_AUTH,
        &body,
    );
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    assert!(events.len() >= 3);
    let joined: String = events
        .iter()
        .filter_map(|(_, d)| d["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(joined, "ECHO[turns=2]: second gemini");
    let finish: Vec<&Value> = events
        .iter()
        .map(|(_, d)| &d["candidates"][0]["finishReason"])
        .collect();
    assert_eq!(finish.last(), Some(&&json!("STOP")));
    assert!(finish[..finish.len() - 1].iter().all(|f| f.is_null()));
    assert!(
        events[0].1["usageMetadata"]["totalTokenCount"]
            .as_u64()
            .is_some()
    );

    let log = fake.log_lines();
    assert_eq!(log[0]["json_schema"], true);
    assert_eq!(log[0]["model"], "gemini-3.5-flash-lite");
    assert_eq!(log[1]["api"], "gemini.stream");
    assert_eq!(log[1]["auth"], json!(["x-goog-api-key"]));
}

#[test]
fn fail500_and_bad_json_use_each_api_error_format() {
    let fake = Fake::start("errors");
    let user = |text: &str| json!([{"role": "user", "content": text}]);
    let (status, text) = fake.post_json(
        "/v1/messages",
        ANTHROPIC_AUTH,
        &json!({"model": "m", "stream": true, "messages": user("please FAIL500")}),
    );
    assert_eq!(status, 500);
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "api_error");

    let (status, text) = fake.post_json(
        "/v1/responses",
        OPENAI_AUTH,
        &json!({"model": "m", "stream": true, "input": "FAIL500"}),
    );
    assert_eq!(status, 500);
    assert!(serde_json::from_str::<Value>(&text).expect("json")["error"]["message"].is_string());

    let (status, _) = fake.post_json(
        "/v1/chat/completions",
        OPENAI_AUTH,
        &json!({"model": "m", "stream": true, "messages": user("FAIL500")}),
    );
    assert_eq!(status, 500);

    let (status, text) = fake.post_json(
        "/v1beta/models/g:streamGenerateContent?alt=sse",
        GEMINI_AUTH,
        &json!({"contents": [{"role": "user", "parts": [{"text": "FAIL500"}]}]}),
    );
    assert_eq!(status, 500);
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["error"]["status"], "INTERNAL");

    let (status, text) = fake.post("/v1/messages", ANTHROPIC_AUTH, "{not json");
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    let (status, _) = fake.post("/v1beta/models/g:generateContent", GEMINI_AUTH, "[1]");
    assert_eq!(status, 400);

    let log = fake.log_lines();
    assert_eq!(log[0]["magic"], "FAIL500");
    assert_eq!(log[0]["status"], 500);
    assert_eq!(log[4]["status"], 400);
    assert!(log[4]["error"].is_string());
}

/// A `SLOW` turn streams its first delta at once and stops as soon as the client
/// hangs up, instead of running its ~10 s course.
#[test]
fn slow_stream_stops_when_the_client_disconnects() {
    let fake = Fake::start("slow");
    let started = Instant::now();
    let body = json!({"model": "m", "stream": true,
                      "messages": [{"role": "user", "content": "go SLOW please"}]});
    let response = fake
        .agent
        .post(format!("{}/v1/messages", fake.base))
        .header(ANTHROPIC_AUTH.0, ANTHROPIC_AUTH.1)
        .content_type("application/json")
        .send(body.to_string())
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let mut reader = BufReader::new(response.into_body().into_reader());
    let mut deltas = 0;
    let mut line = String::new();
    while deltas < 2 {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "stream ended early"
        );
        if line.starts_with("event: content_block_delta") {
            deltas += 1;
        }
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400),
        "deltas are paced: {elapsed:?}"
    );
    drop(reader);
    let line = fake
        .wait_stderr("client disconnected mid-stream", Duration::from_secs(5))
        .expect("the server noticed the disconnect");
    assert!(line.contains("anthropic.messages"), "{line}");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert_eq!(fake.log_lines()[0]["magic"], "SLOW");

    // The server is still fine afterwards.
    let (status, _) = fake.post_json("/v1/messages", ANTHROPIC_AUTH, &anthropic_two_turns(false));
    assert_eq!(status, 200);
}

#[test]
fn sigterm_exits_zero() {
    let mut fake = Fake::start("sigterm");
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(fake.child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success());
    let exit = fake.child.wait().expect("wait");
    assert_eq!(exit.code(), Some(0));
}
