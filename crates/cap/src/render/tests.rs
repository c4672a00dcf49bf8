//! The three formats rendered from one made-up turn.

use super::*;
use cap_proto::ErrorBody;
use cap_proto::ErrorCode;
use cap_proto::event::{How, SessionEvent, StopReason, ToolCall, TurnResult};

fn env(event: Event, seq: u64) -> Envelope {
    Envelope {
        v: 1,
        event,
        session: Some("3f2a".into()),
        request: Some("r1".into()),
        seq,
    }
}

fn turn() -> Vec<Envelope> {
    vec![
        env(
            Event::Session(SessionEvent {
                id: "3f2a".into(),
                agent: "claude".into(),
                key: Some("dir:/x".into()),
                native_id: Some("n-1".into()),
                how: How::Opened,
            }),
            0,
        ),
        env(
            Event::Thought {
                delta: "hmm".into(),
            },
            1,
        ),
        env(
            Event::Text {
                delta: "Hello".into(),
            },
            2,
        ),
        env(
            Event::ToolCall(ToolCall {
                id: "t1".into(),
                name: "Read".into(),
                status: "in_progress".into(),
                input: Some("src/main.rs".into()),
                output: None,
            }),
            3,
        ),
        env(
            Event::Raw {
                kind: "x".into(),
                payload: serde_json::json!({"a": [1, null]}),
            },
            4,
        ),
        env(
            Event::Text {
                delta: ", world".into(),
            },
            5,
        ),
        env(
            Event::Result(TurnResult {
                output: "Hello, world".into(),
                stop_reason: StopReason::EndTurn,
                turns: 1,
                duration_ms: 1500,
                native_id: Some("n-1".into()),
            }),
            6,
        ),
    ]
}

fn render(format: Format, events: &[Envelope], stdout_tty: bool) -> (String, String) {
    let mut r = Renderer::with(format, 0, false, stdout_tty);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for e in events {
        r.write_event(e, &mut out, &mut err).unwrap();
    }
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn json_passes_envelopes_through_unchanged() {
    // Lines as the daemon writes them: serde's own encoding of each envelope.
    let lines: Vec<String> = turn()
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let received: Vec<Envelope> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (out, err) = render(Format::Json, &received, false);
    assert_eq!(out, lines.join("\n") + "\n");
    assert!(err.is_empty());
    // A hand-written line in another field order keeps its content.
    let hand = r#"{"seq":2,"request":null,"session":"s","type":"text","delta":"é\n","v":1}"#;
    let parsed: Envelope = serde_json::from_str(hand).unwrap();
    let (out, _) = render(Format::Json, &[parsed], false);
    let a: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    let b: serde_json::Value = serde_json::from_str(hand).unwrap();
    assert_eq!(a, b);
}

#[test]
fn text_keeps_stdout_for_the_reply() {
    let (out, err) = render(Format::Text, &turn(), false);
    assert_eq!(out, "Hello, world\n");
    assert!(err.contains("● claude session 3f2a opened for dir:/x (native id n-1)"));
    assert!(err.contains("hmm\n"));
    assert!(err.contains("⚙ Read src/main.rs [in_progress]"));
    assert!(!err.contains("\x1b["), "no colour when asked for none");
    assert!(!err.contains("\"a\""), "raw updates only with -vv");
}

#[test]
fn text_breaks_the_line_on_a_shared_terminal() {
    let (out, _) = render(Format::Text, &turn(), true);
    assert_eq!(out, "Hello\n, world\n");
}

#[test]
fn text_prints_an_unstreamed_result_and_a_cancel() {
    let events = [env(
        Event::Result(TurnResult {
            output: "whole answer".into(),
            stop_reason: StopReason::Cancelled,
            turns: 2,
            duration_ms: 10,
            native_id: None,
        }),
        0,
    )];
    let (out, err) = render(Format::Text, &events, false);
    assert_eq!(out, "whole answer\n");
    assert!(err.contains("turn cancelled"));
}

#[test]
fn quiet_prints_only_the_answer() {
    let (out, err) = render(Format::Quiet, &turn(), false);
    assert_eq!(out, "Hello, world\n");
    assert!(err.is_empty());
    let failed = [env(
        Event::Error(ErrorBody::new(ErrorCode::Agent, "boom")),
        0,
    )];
    assert_eq!(
        render(Format::Quiet, &failed, false),
        (String::new(), String::new())
    );
}

#[test]
fn repeated_tool_updates_print_once() {
    let call = |status: &str| {
        env(
            Event::ToolCall(ToolCall {
                id: "t".into(),
                name: "Bash".into(),
                status: status.into(),
                input: None,
                output: None,
            }),
            0,
        )
    };
    let (_, err) = render(
        Format::Text,
        &[call("running"), call("running"), call("completed")],
        false,
    );
    assert_eq!(err, "⚙ Bash [running]\n✓ Bash [completed]\n");
}

#[test]
fn one_line_flattens_and_cuts() {
    assert_eq!(one_line(" a\nb ", 10), "a b");
    assert_eq!(one_line("abcdef", 4), "abc…");
}
