//! Claude Code's stream-json protocol (also `openclaude` and `qoder`).
//!
//! Facts this relies on (docs/protocols.md, "Claude Code"): Claude prints nothing until it
//! reads input, so the `initialize` control request is the ready signal; each user line is one
//! turn, ending with exactly one `result` line whose `is_error` (not `subtype`) tells failure;
//! `interrupt` cancels; one non-JSON stdin line kills it, so only serde-made lines are written;
//! resume is scoped to the session's original cwd, which the caller passes.

use super::lines::{Lines, Lost, Segment};
use super::process::Writer;
use super::reader::Handler;
use super::{
    Conn, Driver, DriverError, DriverEvent, OpenMode, StartSpec, TurnEnd, spawn_and_open, summary,
};
use cap_proto::StopReason;
use cap_proto::ToolCall;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const INIT_ID: &str = "cap-init";

/// A live Claude Code process.
pub struct ClaudeDriver {
    conn: Conn,
    native: Arc<Mutex<Option<String>>>,
    next_request: u64,
}

impl ClaudeDriver {
    /// Spawns Claude Code in `spec.cwd` and waits for its answer to `initialize`.
    pub async fn start(spec: StartSpec) -> Result<ClaudeDriver, DriverError> {
        let mut args: Vec<String> = [
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--permission-mode",
            "bypassPermissions",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(m) = &spec.model {
            args.extend(["--model".to_string(), m.clone()]);
        }
        let native = match &spec.mode {
            OpenMode::Fresh => {
                let id = uuid::Uuid::new_v4().to_string();
                args.extend(["--session-id".to_string(), id.clone()]);
                Some(id)
            }
            OpenMode::Resume(id) => {
                args.extend(["--resume".to_string(), id.clone()]);
                Some(id.clone())
            }
            OpenMode::Continue => {
                args.push("--continue".to_string());
                None
            }
        };
        let (proc, lines, ()) = spawn_and_open(&spec, &args, initialize).await?;
        let native = Arc::new(Mutex::new(native));
        let reader = Reader {
            native: native.clone(),
            tools: HashMap::new(),
            streamed: false,
        };
        Ok(ClaudeDriver {
            conn: Conn::new(proc, lines, reader),
            native,
            next_request: 1,
        })
    }
}

/// Sends `initialize` and reads until its `control_response`: Claude's ready signal.
async fn initialize(writer: &Writer, lines: &mut Lines) -> Result<(), String> {
    let init =
        json!({"type":"control_request","request_id":INIT_ID,"request":{"subtype":"initialize"}});
    writer
        .send(&init)
        .map_err(|e| format!("cannot write to the agent: {e}"))?;
    while let Ok(Some(segment)) = lines.next_segment().await {
        let line = match segment {
            Segment::Line(line) => line,
            Segment::Oversized(lost)
                if matches!(lost.str("type"), None | Some("control_response")) =>
            {
                return Err(format!(
                    "the agent's answer to initialize was a line of {} bytes, longer than cap reads",
                    lost.len
                ));
            }
            Segment::Oversized(_) => continue,
        };
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        if v["type"] == "control_response" && v["response"]["request_id"] == INIT_ID {
            return Ok(());
        }
    }
    Err("the agent exited before it was ready".into())
}

/// Claude's reading of its output: the translation state, and the native id it shares with
/// the driver.
struct Reader {
    native: Arc<Mutex<Option<String>>>,
    tools: HashMap<String, String>,
    streamed: bool,
}

impl Handler for Reader {
    fn on_message(&mut self, v: Value, out: &mut Vec<DriverEvent>, writer: &Writer) {
        if let Some(id) = v["session_id"].as_str().filter(|s| !s.is_empty())
            && let Ok(mut n) = self.native.lock()
            && n.as_deref() != Some(id)
        {
            *n = Some(id.to_string());
            out.push(DriverEvent::NativeId(id.to_string()));
        }
        out.extend(translate(&v, &mut self.tools, &mut self.streamed));
        if v["type"] == "control_request" {
            refuse(writer, &v["request_id"]);
        }
    }

    /// Claude writes a line's `type` first. A lost `result` ended the turn, and a line whose
    /// start does not say what it was may have; any other line was a part of the turn.
    fn on_oversized(&mut self, lost: Lost, out: &mut Vec<DriverEvent>, writer: &Writer) {
        match lost.str("type") {
            None | Some("result") => {
                self.streamed = false;
                out.push(DriverEvent::TurnEnd(lost.turn_end()));
            }
            Some(kind) => {
                if kind == "control_request"
                    && let Some(id) = lost.fields.get("request_id")
                {
                    refuse(writer, id);
                }
                out.push(lost.event());
            }
        }
    }
}

/// Answers a control request from Claude (e.g. a permission prompt outside bypass mode): cap
/// offers none, and an answer at once makes the turn fail visibly instead of hanging.
fn refuse(writer: &Writer, request_id: &Value) {
    let answer = json!({"type":"control_response","response":{
        "subtype":"error","request_id":request_id,
        "error":"cap does not handle this control request"}});
    let _ = writer.send(&answer);
}

/// Maps one stdout object to events. `tools` remembers tool names by id so results can be
/// labelled. With `--include-partial-messages` text and thinking arrive as deltas
/// (`stream_event`) and again whole in the `assistant` line; `streamed` records that the
/// deltas were seen so the whole copy is not emitted twice.
fn translate(
    v: &Value,
    tools: &mut HashMap<String, String>,
    streamed: &mut bool,
) -> Vec<DriverEvent> {
    let mut out = Vec::new();
    match v["type"].as_str().unwrap_or_default() {
        "stream_event" => {
            let delta = &v["event"]["delta"];
            if v["event"]["type"] == "content_block_delta" {
                match delta["type"].as_str().unwrap_or_default() {
                    "text_delta" => {
                        *streamed = true;
                        out.push(DriverEvent::Text(
                            delta["text"].as_str().unwrap_or_default().to_string(),
                        ));
                    }
                    "thinking_delta" => {
                        *streamed = true;
                        out.push(DriverEvent::Thought(
                            delta["thinking"].as_str().unwrap_or_default().to_string(),
                        ));
                    }
                    _ => {}
                }
            }
        }
        "assistant" => {
            let already = std::mem::take(streamed);
            for block in v["message"]["content"].as_array().into_iter().flatten() {
                match block["type"].as_str().unwrap_or_default() {
                    "text" if !already => {
                        if let Some(t) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(DriverEvent::Text(t.to_string()));
                        }
                    }
                    "thinking" if !already => {
                        if let Some(t) = block["thinking"].as_str() {
                            out.push(DriverEvent::Thought(t.to_string()));
                        }
                    }
                    "tool_use" => {
                        let id = block["id"].as_str().unwrap_or_default().to_string();
                        let name = block["name"].as_str().unwrap_or("tool").to_string();
                        tools.insert(id.clone(), name.clone());
                        out.push(DriverEvent::ToolCall(ToolCall {
                            id,
                            name,
                            status: "running".into(),
                            input: Some(summary(&block["input"])),
                            output: None,
                        }));
                    }
                    _ => {}
                }
            }
        }
        "user" => {
            for block in v["message"]["content"].as_array().into_iter().flatten() {
                if block["type"] == "tool_result" {
                    let id = block["tool_use_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let failed = block["is_error"].as_bool().unwrap_or(false);
                    out.push(DriverEvent::ToolCall(ToolCall {
                        name: tools.get(&id).cloned().unwrap_or_else(|| "tool".into()),
                        id,
                        status: if failed { "failed" } else { "completed" }.into(),
                        input: None,
                        output: Some(summary(&block["content"])),
                    }));
                }
            }
        }
        "result" => {
            *streamed = false;
            let is_error = v["is_error"].as_bool().unwrap_or(false);
            let text = v["result"].as_str().map(str::to_string);
            let subtype = v["subtype"].as_str().unwrap_or("success");
            let stop_reason = if subtype == "success" {
                StopReason::from_agent(v["stop_reason"].as_str().unwrap_or("end_turn"))
            } else {
                StopReason::Other(subtype.to_string())
            };
            out.push(DriverEvent::TurnEnd(TurnEnd {
                ok: !is_error,
                error: if is_error {
                    Some(text.clone().unwrap_or_else(|| subtype.to_string()))
                } else {
                    None
                },
                output: if is_error { None } else { text },
                stop_reason,
            }));
        }
        "system" => {
            let sub = v["subtype"].as_str().unwrap_or_default();
            if sub != "init" {
                out.push(DriverEvent::Raw {
                    kind: format!("system/{sub}"),
                    payload: v.clone(),
                });
            }
        }
        _ => {}
    }
    out
}

impl Driver for ClaudeDriver {
    fn send_turn(&mut self, text: &str) -> Result<(), DriverError> {
        let line = json!({"type":"user","message":{"role":"user","content":text}});
        self.conn.send(&line)
    }

    fn cancel(&mut self) -> Result<(), DriverError> {
        let id = format!("cap-int-{}", self.next_request);
        self.next_request += 1;
        let line =
            json!({"type":"control_request","request_id":id,"request":{"subtype":"interrupt"}});
        self.conn.send(&line)
    }

    fn native_id(&self) -> Option<String> {
        self.native.lock().ok().and_then(|n| n.clone())
    }

    super::process_plumbing!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_key_on_is_error_not_subtype() {
        let mut tools = HashMap::new();
        let s = &mut false;
        let ok = json!({"type":"result","subtype":"success","is_error":false,"result":"hi","stop_reason":"end_turn"});
        let api_err =
            json!({"type":"result","subtype":"success","is_error":true,"result":"API Error: 500"});
        match &translate(&ok, &mut tools, s)[..] {
            [DriverEvent::TurnEnd(t)] => assert!(t.ok && t.output.as_deref() == Some("hi")),
            other => panic!("{other:?}"),
        }
        match &translate(&api_err, &mut tools, s)[..] {
            [DriverEvent::TurnEnd(t)] => {
                assert!(!t.ok);
                assert_eq!(t.error.as_deref(), Some("API Error: 500"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn streamed_text_is_not_repeated_by_the_whole_message() {
        let mut tools = HashMap::new();
        let s = &mut false;
        let delta = json!({"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"text_delta","text":"he"}}});
        let whole =
            json!({"type":"assistant","message":{"content":[{"type":"text","text":"hello"}]}});
        assert_eq!(
            translate(&delta, &mut tools, s),
            vec![DriverEvent::Text("he".into())]
        );
        assert!(translate(&whole, &mut tools, s).is_empty());
        // Without deltas the whole message is the text.
        assert_eq!(
            translate(&whole, &mut tools, s),
            vec![DriverEvent::Text("hello".into())]
        );
    }

    #[tokio::test]
    async fn a_lost_result_line_fails_the_turn_and_other_lost_lines_do_not() {
        let pad = "x".repeat(300);
        let input = format!(
            r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":"{pad}"}}]}}}}
{{"type":"control_request","request_id":"r1","request":{{"subtype":"can_use_tool","input":"{pad}"}}}}
{{"type":"result","subtype":"success","is_error":false,"result":"{pad}"}}
{{"type":"stream_event","event":{{"type":"content_block_delta","delta":{{"type":"text_delta","text":"next"}}}}}}
"#
        );
        let reader = Reader {
            native: Arc::new(Mutex::new(None)),
            tools: HashMap::new(),
            streamed: false,
        };
        let (events, written) = crate::drivers::reader::tests::feed(input.as_bytes(), reader).await;
        match &events[..] {
            [
                DriverEvent::Raw { kind: k1, .. },
                DriverEvent::Raw { kind: k2, .. },
                DriverEvent::TurnEnd(end),
                DriverEvent::Text(t),
                DriverEvent::Exited,
            ] => {
                assert_eq!(
                    (k1.as_str(), k2.as_str()),
                    ("oversized_line", "oversized_line")
                );
                assert!(!end.ok);
                assert!(
                    end.error
                        .as_deref()
                        .unwrap_or_default()
                        .contains("over 16 MiB")
                );
                assert_eq!(t, "next");
            }
            other => panic!("{other:?}"),
        }
        // The lost control request is still refused, so Claude does not wait for an answer.
        let answer: Value = serde_json::from_slice(&written[0]).unwrap();
        assert_eq!(answer["response"]["request_id"], "r1");
        assert_eq!(answer["response"]["subtype"], "error");
    }

    #[test]
    fn tool_results_carry_the_tool_name() {
        let mut tools = HashMap::new();
        let call = json!({"type":"assistant","message":{"content":[
            {"type":"text","text":"let me look"},
            {"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]}});
        let res = json!({"type":"user","message":{"content":[
            {"type":"tool_result","tool_use_id":"t1","content":"a b"}]}});
        let s = &mut false;
        let evs = translate(&call, &mut tools, s);
        assert_eq!(evs[0], DriverEvent::Text("let me look".into()));
        let evs = translate(&res, &mut tools, s);
        match &evs[..] {
            [DriverEvent::ToolCall(t)] => {
                assert_eq!(t.name, "Bash");
                assert_eq!(t.status, "completed");
            }
            other => panic!("{other:?}"),
        }
    }

    const WORDS: &[&str] = &[
        "type",
        "subtype",
        "stream_event",
        "event",
        "content_block_delta",
        "delta",
        "text_delta",
        "thinking_delta",
        "text",
        "thinking",
        "assistant",
        "message",
        "content",
        "tool_use",
        "id",
        "name",
        "input",
        "user",
        "tool_result",
        "tool_use_id",
        "is_error",
        "result",
        "stop_reason",
        "system",
        "init",
        "session_id",
        "control_request",
        "request_id",
        "success",
    ];

    fn reader() -> Reader {
        Reader {
            native: Arc::new(Mutex::new(None)),
            tools: HashMap::new(),
            streamed: false,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn any_output_is_read_without_panicking(
            output in crate::drivers::reader::tests::arb_output(WORDS),
        ) {
            let (events, written) = crate::drivers::reader::tests::feed_blocking(&output, reader());
            crate::drivers::reader::tests::check(&events, &written);
        }
    }
}
