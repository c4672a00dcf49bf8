//! The Codex driver on scripted app-server output.

use super::*;

#[test]
fn turn_completion_statuses_map_to_outcomes() {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let mut last = Some("boom".to_string());
    let failed = json!({"turn": {"id": "t", "status": "failed", "error": null}});
    match &translate("turn/completed", &failed, &shared, &mut last)[..] {
        [DriverEvent::TurnEnd(t)] => {
            assert_eq!((t.ok, t.error.as_deref()), (false, Some("boom")))
        }
        other => panic!("{other:?}"),
    }
    let interrupted = json!({"turn": {"id": "t", "status": "interrupted"}});
    match &translate("turn/completed", &interrupted, &shared, &mut None)[..] {
        [DriverEvent::TurnEnd(t)] => assert_eq!(t.stop_reason, StopReason::Cancelled),
        other => panic!("{other:?}"),
    }
    let delta = json!({"delta": "hi"});
    assert_eq!(
        translate("item/agentMessage/delta", &delta, &shared, &mut None),
        vec![DriverEvent::Text("hi".into())]
    );
    let unknown = translate("vendor/thing", &json!({"a": 1}), &shared, &mut None);
    assert!(matches!(&unknown[..], [DriverEvent::Raw { kind, .. }] if kind == "vendor/thing"));
}

#[tokio::test]
async fn approval_requests_become_permission_events_with_their_subject() {
    let shared = Arc::new(Mutex::new(Shared::default()));
    let reader = Reader {
        shared: shared.clone(),
        last_error: None,
        thread: "th".into(),
        next_id: Arc::new(AtomicU64::new(10)),
        cwd: "/w".into(),
        pending: Default::default(),
    };
    let input = r#"{"id":5,"method":"item/commandExecution/requestApproval","params":{"itemId":"c1","command":"/bin/bash -lc 'touch x && echo \"a b\"'"}}
{"method":"item/started","params":{"item":{"type":"fileChange","id":"f1","changes":[{"path":"/w/a","kind":"add","diff":""},{"path":"/etc/x","kind":"add","diff":""}]}}}
{"id":6,"method":"item/fileChange/requestApproval","params":{"itemId":"f1"}}
{"id":7,"method":"item/tool/requestUserInput","params":{}}
"#;
    let (events, written) = crate::drivers::reader::tests::feed(input.as_bytes(), reader).await;
    let asked: Vec<ToolUse> = events
        .into_iter()
        .filter_map(|e| match e {
            DriverEvent::Permission { tool, .. } => Some(tool),
            _ => None,
        })
        .collect();
    assert_eq!(asked.len(), 2);
    assert_eq!(
        (asked[0].kind, asked[0].subject.as_deref()),
        (Kind::Execute, Some(r#"touch x && echo "a b""#)),
        "the command is judged without Codex's shell wrapper"
    );
    assert_eq!(
        (asked[1].kind, asked[1].subject.as_deref()),
        (Kind::Edit, Some("/etc/x")),
        "the change outside the cwd is the one judged"
    );
    assert_eq!(shared.lock().unwrap().asks.len(), 2);
    // Only the request cap does not handle was answered (refused).
    assert_eq!(written.len(), 1);
    let refused: Value = serde_json::from_slice(&written[0]).unwrap();
    assert_eq!(refused["id"], 7);
}

#[tokio::test]
async fn a_line_lost_mid_turn_fails_the_turn_once() {
    let pad = "x".repeat(300);
    // Longer than the head kept of a lost line, so its start does not say what it was.
    let long = "x".repeat(5000);
    let shared = Arc::new(Mutex::new(Shared {
        turn: Some("t1".into()),
        ..Shared::default()
    }));
    let reader = Reader {
        shared: shared.clone(),
        last_error: None,
        thread: "th".into(),
        next_id: Arc::new(AtomicU64::new(10)),
        cwd: "/w".into(),
        pending: Default::default(),
    };
    let input = format!(
        r#"{{"method":"item/completed","params":{{"item":{{"type":"commandExecution","aggregatedOutput":"{pad}"}}}}}}
{{"id":5,"method":"item/commandExecution/requestApproval","params":{{"command":"{pad}"}}}}
{{"params":{{"turn":{{"id":"t1","items":["{long}"]}}}},"method":"turn/completed"}}
{{"method":"turn/completed","params":{{"turn":{{"id":"t1","status":"completed"}}}}}}
{{"method":"item/agentMessage/delta","params":{{"delta":"next"}}}}
"#
    );
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
            assert!(
                !end.ok,
                "the line whose start does not say what it was ends the turn"
            );
            assert_eq!(t, "next", "the abandoned turn's late completion is dropped");
        }
        other => panic!("{other:?}"),
    }
    let refusal: Value = serde_json::from_slice(&written[0]).unwrap();
    assert_eq!(
        (refusal["id"].as_u64(), refusal["error"]["code"].as_i64()),
        (Some(5), Some(-32601))
    );
    assert!(shared.lock().unwrap().abandoned.is_none());
}

#[test]
fn a_cancel_before_the_turn_id_waits_for_it() {
    let mut s = Shared::default();
    assert!(!s.turn_known("t1"), "no cancel waiting");
    s.turn = None;
    s.interrupt_pending = true;
    assert!(s.turn_known("t2"), "the waiting cancel fires once");
    assert_eq!(s.turn.as_deref(), Some("t2"));
    assert!(!s.turn_known("t2"));
    // A turn that ends first drops the cancel that never found it.
    let shared = Arc::new(Mutex::new(Shared {
        interrupt_pending: true,
        ..Shared::default()
    }));
    let done = json!({"turn": {"id": "t", "status": "completed"}});
    translate("turn/completed", &done, &shared, &mut None);
    assert!(!shared.lock().unwrap().interrupt_pending);
}

const WORDS: &[&str] = &[
    "id",
    "method",
    "params",
    "result",
    "error",
    "message",
    "turn",
    "status",
    "items",
    "type",
    "text",
    "delta",
    "item",
    "command",
    "aggregatedOutput",
    "plan",
    "item/agentMessage/delta",
    "item/reasoning/textDelta",
    "turn/started",
    "item/started",
    "item/completed",
    "turn/plan/updated",
    "turn/completed",
    "thread/started",
    "failed",
    "interrupted",
    "completed",
    "agentMessage",
    "commandExecution",
    "t1",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    #[test]
    fn any_output_is_read_without_panicking(
        output in crate::drivers::reader::tests::arb_output(WORDS),
        running in proptest::prelude::any::<bool>(),
    ) {
        let reader = Reader {
            shared: Arc::new(Mutex::new(Shared {
                turn: running.then(|| "t1".into()),
                start_request: Some(3),
                ..Shared::default()
            })),
            last_error: None,
            thread: "th".into(),
            next_id: Arc::new(AtomicU64::new(10)),
            cwd: "/w".into(),
            pending: Default::default(),
        };
        let (events, written) = crate::drivers::reader::tests::feed_blocking(&output, reader);
        crate::drivers::reader::tests::check(&events, &written);
    }
}
