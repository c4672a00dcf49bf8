//! Turns with a schema: instructions under the prompt, re-asks with the validator's
//! message, and a turn that fails rather than pass on an invalid answer.

use super::*;
use crate::schema::{SCHEMA_HEADER, Schema};
use serde_json::json;

async fn submit_schema(rig: &Rig, text: &str) -> Caller {
    let schema = Schema::compile(json!({
        "type": "object",
        "properties": {"risk": {"enum": ["low", "high"]}},
        "required": ["risk"]
    }))
    .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let request = format!("r-{text}");
    let turn = Turn {
        request: request.clone(),
        text: text.into(),
        timeout: None,
        policy: Policy::default(),
        asker: Asker::Nobody,
        events: tx,
        key: Some("k".into()),
        how: How::Opened,
        notices: Vec::new(),
        context: None,
        schema: Some(Arc::new(schema)),
    };
    rig.handle.submit(turn).await.expect("queued");
    Caller {
        request,
        events: rx,
    }
}

fn sent(call: Call) -> String {
    match call {
        Call::Send(text) => text,
        other => panic!("expected a send, got {other:?}"),
    }
}

fn reasks(events: &[Envelope]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Status {
                kind: StatusKind::Reask,
                message,
            } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_wrong_answer_is_asked_for_again_with_the_validators_message() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut caller = submit_schema(&rig, "classify the diff").await;
    let first = sent(agent.call().await);
    assert!(first.starts_with("classify the diff\n\n"), "{first}");
    assert!(
        first.contains(SCHEMA_HEADER),
        "instructions follow: {first}"
    );
    agent.reply("```json\n{\"risk\": \"medium\"}\n```");
    let second = sent(agent.call().await);
    assert!(
        second.contains("at /risk"),
        "the re-ask says where: {second}"
    );
    assert!(!second.contains("classify the diff"));
    agent.reply("I think it is {\"risk\": \"low\"} overall.");
    let events = caller.finish().await;
    assert_eq!(reasks(&events).len(), 1);
    match last(&events) {
        Event::Result(r) => {
            assert_eq!(r.structured, Some(json!({"risk": "low"})));
            assert_eq!(r.stop_reason, StopReason::EndTurn);
        }
        other => panic!("expected a result, got {other:?}"),
    }
}

#[tokio::test]
async fn an_answer_that_never_validates_fails_the_turn_naming_the_path() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut caller = submit_schema(&rig, "classify").await;
    for _ in 0..3 {
        sent(agent.call().await);
        agent.reply("{\"risk\": 7}");
    }
    let events = caller.finish().await;
    assert_eq!(reasks(&events).len(), 2);
    match last(&events) {
        Event::Error(e) => {
            assert_eq!(e.code, ErrorCode::Agent);
            assert!(e.message.contains("at /risk"), "{}", e.message);
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // No result with a value went anywhere, and the session takes the next prompt.
    assert!(!events.iter().any(|e| matches!(e.event, Event::Result(_))));
    let mut next = rig.submit("plain", None).await;
    assert_eq!(agent.call().await, Call::Send("plain".into()));
    agent.reply("free text");
    match last(&next.finish().await) {
        Event::Result(r) => assert_eq!(r.structured, None),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_cancelled_schema_turn_ends_without_a_value_and_without_reasks() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut caller = submit_schema(&rig, "classify").await;
    sent(agent.call().await);
    assert_eq!(rig.handle.cancel(None).await, Cancelled::Running);
    assert_eq!(agent.call().await, Call::Cancel);
    agent.end(StopReason::Cancelled);
    let events = caller.finish().await;
    assert!(reasks(&events).is_empty());
    match last(&events) {
        Event::Result(r) => {
            assert_eq!(r.stop_reason, StopReason::Cancelled);
            assert_eq!(r.structured, None);
        }
        other => panic!("{other:?}"),
    }
}
