//! Tool calls over real HTTP: `RUNCMD` and `WRITEFILE` become each API's own tool call for
//! the tool the request offers, and a request that ends with the tool's result is answered
//! `TOOL RESULT: …`.

mod common;

use common::*;
use serde_json::{Value, json};

/// The data of every SSE event of `kind` (Chat and Gemini streams have no event names).
fn data_of<'a>(events: &'a [(Option<String>, Value)], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(name, _)| name.as_deref().unwrap_or("") == kind)
        .map(|(_, data)| data)
        .collect()
}

#[test]
fn anthropic_calls_bash_then_quotes_the_result() {
    let fake = Fake::start("tools-anthropic");
    let mut body = json!({
        "model": "claude-test", "stream": true,
        "tools": [{"name": "Read", "input_schema": {}}, {"name": "Bash", "input_schema": {}}],
        "messages": [{"role": "user", "content": "RUNCMD touch made_by_cmd"}]
    });
    let (status, text) = fake.post_json("/v1/messages", ANTHROPIC_AUTH, &body);
    assert_eq!(status, 200, "{text}");
    let events = sse_events(&text);
    let start = data_of(&events, "content_block_start")[0];
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["name"], "Bash");
    let id = start["content_block"]["id"].as_str().expect("tool id");
    let json: String = data_of(&events, "content_block_delta")
        .iter()
        .filter_map(|d| d["delta"]["partial_json"].as_str())
        .collect();
    let input: Value = serde_json::from_str(&json).expect("input JSON");
    assert_eq!(input["command"], "touch made_by_cmd");
    assert_eq!(
        data_of(&events, "message_delta")[0]["delta"]["stop_reason"],
        "tool_use"
    );

    // Claude sends the result back, here a refusal.
    body["messages"] = json!([
        {"role": "user", "content": "RUNCMD touch made_by_cmd"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "Bash", "input": input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "is_error": true,
            "content": "cap's permission policy denied this tool use"}]}
    ]);
    body["stream"] = json!(false);
    let (_, text) = fake.post_json("/v1/messages", ANTHROPIC_AUTH, &body);
    let message: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        message["content"][0]["text"],
        "TOOL RESULT: cap's permission policy denied this tool use"
    );
    let log = fake.log_lines();
    assert_eq!(log[0]["magic"], "RUNCMD");
    assert_eq!(log[0]["tools"], json!(["Read", "Bash"]));
    assert_eq!(log[1]["magic"], "TOOL_RESULT");
}

#[test]
fn responses_call_exec_command_and_the_custom_apply_patch() {
    let fake = Fake::start("tools-responses");
    let tools = json!([
        {"type": "function", "name": "exec_command", "parameters": {}},
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}}
    ]);
    let run = json!({"model": "gpt-5.5", "stream": true, "tools": tools,
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "RUNCMD echo hi"}]}]});
    let (_, text) = fake.post_json("/v1/responses", OPENAI_AUTH, &run);
    let events = sse_events(&text);
    let done = data_of(&events, "response.output_item.done")[0];
    assert_eq!(done["item"]["type"], "function_call");
    assert_eq!(done["item"]["name"], "exec_command");
    let args: Value =
        serde_json::from_str(done["item"]["arguments"].as_str().expect("arguments")).expect("json");
    assert_eq!(args, json!({"cmd": "echo hi"}));
    assert_eq!(
        data_of(&events, "response.completed")[0]["response"]["output"][0]["call_id"],
        done["item"]["call_id"]
    );

    let write = json!({"model": "gpt-5.5", "stream": true, "tools": tools,
        "input": [{"role": "user", "content": "WRITEFILE /w/inside.txt"}]});
    let (_, text) = fake.post_json("/v1/responses", OPENAI_AUTH, &write);
    let events = sse_events(&text);
    let done = data_of(&events, "response.output_item.done")[0];
    assert_eq!(done["item"]["type"], "custom_tool_call");
    assert_eq!(
        done["item"]["input"],
        "*** Begin Patch\n*** Add File: /w/inside.txt\n+made by cap-fake-llm\n*** End Patch\n"
    );
    assert_eq!(
        data_of(&events, "response.custom_tool_call_input.done").len(),
        1
    );

    let result = json!({"model": "gpt-5.5", "stream": false, "tools": tools,
    "input": [
        {"role": "user", "content": "WRITEFILE /w/inside.txt"},
        {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": "…"},
        {"type": "custom_tool_call_output", "call_id": "c", "output": "patch rejected by user"}
    ]});
    let (_, text) = fake.post_json("/v1/responses", OPENAI_AUTH, &result);
    let response: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        response["output"][0]["content"][0]["text"],
        "TOOL RESULT: patch rejected by user"
    );
}

#[test]
fn chat_calls_opencode_write_then_quotes_the_result() {
    let fake = Fake::start("tools-chat");
    let tools = json!([
        {"type": "function", "function": {"name": "bash", "parameters": {}}},
        {"type": "function", "function": {"name": "write", "parameters": {}}}
    ]);
    let body = json!({"model": "m", "stream": true, "tools": tools,
        "messages": [{"role": "user", "content": "WRITEFILE /w/a.txt"}]});
    let (_, text) = fake.post_json("/v1/chat/completions", OPENAI_AUTH, &body);
    let events = sse_events(&text);
    let call = events
        .iter()
        .find_map(|(_, d)| d["choices"][0]["delta"]["tool_calls"][0].as_object())
        .expect("a tool call delta");
    assert_eq!(call["function"]["name"], "write");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("args")).expect("json");
    assert_eq!(
        args,
        json!({"filePath": "/w/a.txt", "content": "made by cap-fake-llm"})
    );
    assert!(
        events
            .iter()
            .any(|(_, d)| d["choices"][0]["finish_reason"] == "tool_calls")
    );

    let body = json!({"model": "m", "stream": false, "tools": tools, "messages": [
        {"role": "user", "content": "WRITEFILE /w/a.txt"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "write", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "Wrote file successfully."}
    ]});
    let (_, text) = fake.post_json("/v1/chat/completions", OPENAI_AUTH, &body);
    let reply: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        reply["choices"][0]["message"]["content"],
        "TOOL RESULT: Wrote file successfully."
    );
}

#[test]
fn gemini_calls_run_shell_command_then_quotes_the_result() {
    let fake = Fake::start("tools-gemini");
    let tools =
        json!([{"functionDeclarations": [{"name": "read_file"}, {"name": "run_shell_command"}]}]);
    let path = "/v1beta/models/gemini-test:streamGenerateContent?alt=sse";
    let body = json!({"tools": tools,
        "contents": [{"role": "user", "parts": [{"text": "RUNCMD touch x"}]}]});
    let (_, text) = fake.post_json(path, GEMINI_AUTH, &body);
    let events = sse_events(&text);
    let part = &events[0].1["candidates"][0]["content"]["parts"][0];
    assert_eq!(part["functionCall"]["name"], "run_shell_command");
    assert_eq!(part["functionCall"]["args"]["command"], "touch x");
    assert_eq!(events[0].1["candidates"][0]["finishReason"], "STOP");

    let body = json!({"tools": tools, "contents": [
        {"role": "user", "parts": [{"text": "RUNCMD touch x"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "run_shell_command", "args": {}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command",
            "response": {"error": "Tool \"run_shell_command\" was canceled by the user."}}}]}
    ]});
    let (_, text) = fake.post_json(path, GEMINI_AUTH, &body);
    let reply: String = sse_events(&text)
        .iter()
        .filter_map(|(_, d)| d["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(
        reply,
        "TOOL RESULT: Tool \"run_shell_command\" was canceled by the user."
    );
}

#[test]
fn readfile_calls_the_agents_read_tool() {
    let fake = Fake::start("tools-read");
    let body = json!({"model": "m", "stream": false,
        "tools": [{"name": "Bash", "input_schema": {}}, {"name": "Read", "input_schema": {}}],
        "messages": [{"role": "user", "content": "READFILE /w/secret.txt"}]});
    let (_, text) = fake.post_json("/v1/messages", ANTHROPIC_AUTH, &body);
    let message: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(message["content"][0]["name"], "Read");
    assert_eq!(message["content"][0]["input"]["file_path"], "/w/secret.txt");
    assert_eq!(fake.log_lines()[0]["magic"], "READFILE");
}

#[test]
fn a_request_that_offers_no_fitting_tool_gets_the_echo() {
    let fake = Fake::start("tools-none");
    let body = json!({"model": "m", "stream": false,
        "tools": [{"name": "Read", "input_schema": {}}],
        "messages": [{"role": "user", "content": "RUNCMD touch x"}]});
    let (_, text) = fake.post_json("/v1/messages", ANTHROPIC_AUTH, &body);
    let message: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        message["content"][0]["text"],
        "ECHO[turns=1]: RUNCMD touch x"
    );
}
