//! The three formats rendered from one made-up turn.

use super::*;
use cap_proto::ErrorBody;
use cap_proto::ErrorCode;
use cap_proto::client::Received;
use cap_proto::event::{How, SessionEvent, StopReason, ToolCall, TurnResult};
use cap_proto::reply::{Reply, Response};

fn env(event: Event, seq: u64) -> Envelope {
    Envelope::new(event, Some("3f2a".into()), Some("r1".into()), seq)
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
                ..Default::default()
            }),
            6,
        ),
    ]
}

fn render(format: Format, events: &[Envelope], stdout_tty: bool) -> (String, String) {
    let mut r = Renderer::with(format, 0, false, stdout_tty);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for e in events {
        let raw = serde_json::to_string(e).unwrap();
        r.write_event(e, &raw, &mut out, &mut err).unwrap();
    }
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// Renders reply lines the way `cap prompt` does: the typed envelope decides, the payload's
/// text is what `json` prints.
fn render_lines(format: Format, lines: &[&str]) -> (String, String) {
    let mut r = Renderer::with(format, 0, false, false);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for text in lines {
        let line = Received {
            text: text.to_string(),
            response: serde_json::from_str(text),
        };
        let Ok(Response {
            reply: Reply::Event(env),
            ..
        }) = &line.response
        else {
            panic!("not an event line: {text}");
        };
        r.write_event(env, crate::wire::payload(&line.text), &mut out, &mut err)
            .unwrap();
    }
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn json_passes_envelopes_through_unchanged() {
    // Lines as the daemon writes them: serde's own encoding of each envelope.
    let envelopes: Vec<String> = turn()
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    let lines: Vec<String> = envelopes
        .iter()
        .map(|e| format!("{{\"id\":2,\"event\":{e}}}"))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (out, err) = render_lines(Format::Json, &lines);
    assert_eq!(out, envelopes.join("\n") + "\n");
    assert!(err.is_empty());
    // A hand-written line in another field order, with spaces and escapes, is kept byte for
    // byte.
    let hand = r#"{"seq":2, "request":null,"session":"s","type":"text","delta":"\u00e9\n","v":1}"#;
    let (out, _) = render_lines(Format::Json, &[&format!(r#"{{"event":{hand},"id":2}}"#)]);
    assert_eq!(out, format!("{hand}\n"));
}

#[test]
fn json_keeps_fields_and_event_types_this_build_does_not_know() {
    let text = r#"{"v":1,"type":"text","delta":"hi","tokens":{"out":3},"session":"s","request":"r","seq":1}"#;
    let mystery = r#"{"v":1,"type":"mystery","clue":[1,2],"session":"s","request":"r","seq":2}"#;
    let lines = [
        format!(r#"{{"id":2,"event":{text}}}"#),
        format!(r#"{{"id":2,"event":{mystery}}}"#),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (out, _) = render_lines(Format::Json, &lines);
    assert_eq!(out, format!("{text}\n{mystery}\n"));
    // The typed form still drives the other formats: the delta shows, the mystery does not.
    let (out, err) = render_lines(Format::Text, &lines);
    assert_eq!(out, "hi");
    assert!(err.is_empty(), "{err}");
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
            ..Default::default()
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
fn quiet_falls_back_to_the_streamed_text_when_the_result_has_no_output() {
    let mut events = turn();
    for e in &mut events {
        if let Event::Result(r) = &mut e.event {
            r.output.clear();
        }
    }
    let (out, err) = render(Format::Quiet, &events, false);
    assert_eq!(out, "Hello, world\n");
    assert!(err.is_empty());
    // The deltas belong to one turn: the next result starts afresh.
    let (out, _) = render(Format::Quiet, &[events.clone(), events].concat(), false);
    assert_eq!(out, "Hello, world\nHello, world\n");
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

/// `--schema`: text and quiet print the validated value alone, never the reply's words;
/// json passes the events through.
#[test]
fn a_schema_turn_prints_only_its_value() {
    let mut events = turn();
    if let Some(Event::Result(r)) = events.last_mut().map(|e| &mut e.event) {
        r.output = "```json\n{\"risk\": \"low\"}\n```".into();
        r.structured = Some(serde_json::json!({"risk": "low"}));
    }
    for format in [Format::Text, Format::Quiet] {
        let mut r = Renderer::with(format, 0, false, false).structured(true);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        for e in &events {
            let raw = serde_json::to_string(e).unwrap();
            r.write_event(e, &raw, &mut out, &mut err).unwrap();
        }
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out, "{\"risk\":\"low\"}\n", "{format:?}");
    }
    // A cancelled schema turn has no value: nothing on stdout at all.
    let cancelled = [env(
        Event::Result(TurnResult {
            output: "half an answer".into(),
            stop_reason: StopReason::Cancelled,
            ..Default::default()
        }),
        0,
    )];
    let mut r = Renderer::with(Format::Quiet, 0, false, false).structured(true);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let raw = serde_json::to_string(&cancelled[0]).unwrap();
    r.write_event(&cancelled[0], &raw, &mut out, &mut err)
        .unwrap();
    assert!(out.is_empty());
    let (out, _) = render(Format::Json, &events, false);
    assert!(
        out.lines()
            .last()
            .unwrap()
            .contains("\"structured\":{\"risk\":\"low\"}")
    );
}
