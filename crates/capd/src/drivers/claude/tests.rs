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
    let whole = json!({"type":"assistant","message":{"content":[{"type":"text","text":"hello"}]}});
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
    let reader = Reader::new(Arc::default(), Asks::default(), Pending::default());
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

#[tokio::test]
async fn can_use_tool_requests_become_permission_events_until_cancelled() {
    let input = r#"{"type":"control_request","request_id":"p1","request":{"subtype":"can_use_tool","tool_name":"Bash","input":{"command":"cargo test"}}}
{"type":"control_request","request_id":"p2","request":{"subtype":"can_use_tool","tool_name":"Write","input":{"file_path":"/w/a"}}}
{"type":"control_cancel_request","request_id":"p2"}
{"type":"control_request","request_id":"p3","request":{"subtype":"can_use_tool","tool_name":"mcp__x__y","input":{}}}
"#;
    let asks = Asks::default();
    let reader = Reader::new(Arc::default(), asks.clone(), Pending::default());
    let (events, written) = crate::drivers::reader::tests::feed(input.as_bytes(), reader).await;
    let asked: Vec<(String, ToolUse)> = events
        .into_iter()
        .filter_map(|e| match e {
            DriverEvent::Permission { id, tool } => Some((id, tool)),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 3);
    assert_eq!(asked[0].0, "p1");
    assert_eq!(
        (asked[0].1.kind, asked[0].1.subject.as_deref()),
        (Kind::Execute, Some("cargo test"))
    );
    assert_eq!(
        (asked[1].1.kind, asked[1].1.subject.as_deref()),
        (Kind::Edit, Some("/w/a"))
    );
    assert_eq!(asked[2].1.kind, Kind::Execute, "an unknown tool is execute");
    let open: Vec<String> = asks.lock().unwrap().keys().cloned().collect();
    assert!(open.contains(&"p1".to_string()) && !open.contains(&"p2".to_string()));
    assert!(
        written.is_empty(),
        "nothing is answered until the session decides"
    );
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
    Reader::new(Arc::default(), Asks::default(), Pending::default())
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
