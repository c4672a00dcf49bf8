use super::*;

#[tokio::test]
async fn a_lost_prompt_reply_fails_the_turn_and_the_late_one_is_ignored() {
    let pad = "x".repeat(300);
    let shared = Arc::new(Mutex::new(Shared {
        prompt_request: Some(7),
        asks: HashMap::new(),
    }));
    let reader = Reader {
        shared: shared.clone(),
        tools: HashMap::new(),
        cost_so_far: None,
        calls: Calls::default(),
        pending: Pending::default(),
    };
    let input = format!(
        r#"{{"jsonrpc":"2.0","method":"session/update","params":{{"update":{{"sessionUpdate":"tool_call_update","rawOutput":"{pad}"}}}}}}
{{"jsonrpc":"2.0","id":3,"method":"session/request_permission","params":{{"toolCall":{{"title":"{pad}"}}}}}}
{{"jsonrpc":"2.0","id":7,"result":{{"stopReason":"end_turn","_meta":"{pad}"}}}}
{{"jsonrpc":"2.0","id":7,"result":{{"stopReason":"end_turn"}}}}
"#
    );
    let (events, written) = crate::drivers::reader::tests::feed(input.as_bytes(), reader).await;
    match &events[..] {
        [
            DriverEvent::Raw { kind: k1, .. },
            DriverEvent::Raw { kind: k2, .. },
            DriverEvent::TurnEnd(end),
            DriverEvent::Exited,
        ] => {
            assert_eq!(
                (k1.as_str(), k2.as_str()),
                ("oversized_line", "oversized_line")
            );
            assert!(!end.ok);
        }
        other => panic!("{other:?}"),
    }
    let refusal: Value = serde_json::from_slice(&written[0]).unwrap();
    assert_eq!(refusal["id"], 3);
    assert_eq!(refusal["error"]["code"], -32601);
}

#[test]
fn the_model_is_picked_by_config_option_first_then_set_model() {
    let option = json!({"configOptions": [
        {"id": "mode", "category": "mode"},
        {"id": "model", "category": "model", "currentValue": "default"}]});
    let models = json!({"models": {"availableModels": [], "currentModelId": "auto"}});
    assert_eq!(
        ModelControl::of(&option),
        Some(ModelControl::ConfigOption("model".into()))
    );
    assert_eq!(ModelControl::of(&models), Some(ModelControl::SetModel));
    assert_eq!(ModelControl::of(&json!({"configOptions": []})), None);
    let (method, params) = ModelControl::ConfigOption("model".into()).request("s1", "haiku");
    assert_eq!(method, "session/set_config_option");
    assert_eq!(
        params,
        json!({"sessionId": "s1", "configId": "model", "value": "haiku"})
    );
    let (method, params) = ModelControl::SetModel.request("s1", "gemini-2.5-pro");
    assert_eq!(method, "session/set_model");
    assert_eq!(params["modelId"], "gemini-2.5-pro");
}

#[test]
fn updates_map_to_events_and_unknown_kinds_pass_through() {
    let mut tools = HashMap::new();
    let text =
        json!({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "hi"}});
    assert_eq!(
        translate(&text, &mut tools),
        vec![DriverEvent::Text("hi".into())]
    );
    let replay =
        json!({"sessionUpdate": "user_message_chunk", "content": {"type": "text", "text": "old"}});
    assert!(translate(&replay, &mut tools).is_empty());
    let call = json!({"sessionUpdate": "tool_call", "toolCallId": "c1", "title": "write", "status": "pending", "rawInput": {}});
    let done = json!({"sessionUpdate": "tool_call_update", "toolCallId": "c1", "status": "completed", "rawOutput": {"ok": true}});
    translate(&call, &mut tools);
    match &translate(&done, &mut tools)[..] {
        [DriverEvent::ToolCall(t)] => {
            assert_eq!((t.name.as_str(), t.status.as_str()), ("write", "completed"));
            assert!(t.output.is_some());
        }
        other => panic!("{other:?}"),
    }
    let weird = json!({"sessionUpdate": "fake_vendor_kind", "x": 1});
    assert!(
        matches!(&translate(&weird, &mut tools)[..], [DriverEvent::Raw { kind, .. }] if kind == "fake_vendor_kind")
    );
}

const WORDS: &[&str] = &[
    "jsonrpc",
    "2.0",
    "id",
    "method",
    "params",
    "result",
    "error",
    "code",
    "message",
    "session/update",
    "session/request_permission",
    "fs/write_text_file",
    "update",
    "sessionUpdate",
    "agent_message_chunk",
    "agent_thought_chunk",
    "user_message_chunk",
    "tool_call",
    "tool_call_update",
    "toolCallId",
    "title",
    "status",
    "rawInput",
    "rawOutput",
    "content",
    "text",
    "plan",
    "entries",
    "usage_update",
    "options",
    "optionId",
    "kind",
    "allow_once",
    "reject_once",
    "toolCall",
    "stopReason",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn any_output_is_read_without_panicking(
        output in crate::drivers::reader::tests::arb_output(WORDS),
    ) {
        let reader = Reader {
            shared: Arc::new(Mutex::new(Shared {
                prompt_request: Some(3),
                asks: HashMap::new(),
            })),
            tools: HashMap::new(),
            cost_so_far: None,
            calls: Calls::default(),
            pending: Pending::default(),
        };
        let (events, written) = crate::drivers::reader::tests::feed_blocking(&output, reader);
        crate::drivers::reader::tests::check(&events, &written);
    }
}
