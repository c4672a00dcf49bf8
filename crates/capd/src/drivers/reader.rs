//! The one reader loop every driver runs on its agent's stdout.
//!
//! Each protocol differs only in what a message means, so the loop is here once: read a
//! bounded line, parse it, skip (and log) what is not JSON, hand the message to the driver's
//! [`Handler`], forward the events it produced in order, and report [`DriverEvent::Exited`]
//! when the output ends.

use super::DriverEvent;
use super::lines::{Lines, Lost, Segment};
use super::process::Writer;
use serde_json::Value;
use tokio::sync::mpsc;

/// A protocol's reading of its agent's output.
pub trait Handler: Send + 'static {
    /// Translates one message into events; `writer` answers the agent's requests.
    fn on_message(&mut self, msg: Value, out: &mut Vec<DriverEvent>, writer: &Writer);

    /// A line over the length limit was dropped unread. A handler whose turn could have
    /// ended with that line must end the turn (with [`Lost::turn_end`]): nothing else
    /// would, and the session would wait for it forever.
    fn on_oversized(&mut self, lost: Lost, out: &mut Vec<DriverEvent>, writer: &Writer);
}

/// Runs `handler` over `lines` on a task of its own; returns the events it produces.
pub fn spawn(
    lines: Lines,
    writer: Writer,
    handler: impl Handler,
) -> mpsc::UnboundedReceiver<DriverEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(lines, writer, handler, tx));
    rx
}

/// Reads until the agent's output ends, then sends [`DriverEvent::Exited`]. A read error
/// ends the output too: the agent can no longer be heard.
pub async fn run(
    mut lines: Lines,
    writer: Writer,
    mut handler: impl Handler,
    tx: mpsc::UnboundedSender<DriverEvent>,
) {
    let mut out = Vec::new();
    while let Ok(Some(segment)) = lines.next_segment().await {
        match segment {
            Segment::Line(line) if line.trim_ascii().is_empty() => {}
            Segment::Line(line) => match serde_json::from_slice::<Value>(&line) {
                Ok(msg) => handler.on_message(msg, &mut out, &writer),
                Err(_) => tracing::warn!(
                    "ignoring a non-JSON line from the agent: {}",
                    String::from_utf8_lossy(&line[..line.len().min(200)])
                ),
            },
            Segment::Oversized(lost) => handler.on_oversized(lost, &mut out, &writer),
        }
        for ev in out.drain(..) {
            let _ = tx.send(ev);
        }
    }
    let _ = tx.send(DriverEvent::Exited);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use tokio::io::AsyncWriteExt;

    /// Echoes `text` fields, answers `ask`, and fails the turn on a lost line.
    struct Echo;

    impl Handler for Echo {
        fn on_message(&mut self, msg: Value, out: &mut Vec<DriverEvent>, writer: &Writer) {
            if let Some(t) = msg["text"].as_str() {
                out.push(DriverEvent::Text(t.into()));
            }
            if let Some(q) = msg.get("ask") {
                let _ = writer.send(&json!({"answer": q}));
            }
        }

        fn on_oversized(&mut self, lost: Lost, out: &mut Vec<DriverEvent>, _: &Writer) {
            out.push(DriverEvent::TurnEnd(lost.turn_end()));
        }
    }

    /// Runs `handler` over `input` (with a 256-byte line limit) and returns its events and
    /// the lines it wrote.
    pub(crate) async fn feed(
        input: &[u8],
        handler: impl Handler,
    ) -> (Vec<DriverEvent>, Vec<Vec<u8>>) {
        let (mut w, r) = tokio::io::duplex(1 << 16);
        let (stdin, mut written) = mpsc::unbounded_channel();
        let mut events = spawn(Lines::with_limit(r, 256), Writer::to_queue(&stdin), handler);
        let input = input.to_vec();
        tokio::spawn(async move { w.write_all(&input).await });
        let mut got = Vec::new();
        while let Some(ev) = events.recv().await {
            got.push(ev);
        }
        drop(stdin);
        let mut lines = Vec::new();
        while let Some(line) = written.recv().await {
            lines.push(line);
        }
        (got, lines)
    }

    /// [`feed`] on a runtime of its own, for property tests.
    pub(crate) fn feed_blocking(
        input: &[u8],
        handler: impl Handler,
    ) -> (Vec<DriverEvent>, Vec<Vec<u8>>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a test runtime");
        rt.block_on(feed(input, handler))
    }

    /// Arbitrary JSON, biased toward a protocol's vocabulary so that the fuzzing reaches the
    /// deeper branches of its translation: keys and strings are often `words`, and numbers
    /// often small (request ids).
    pub(crate) fn arb_json(words: &'static [&'static str]) -> BoxedStrategy<Value> {
        let word = prop_oneof![
            3 => proptest::sample::select(words).prop_map(str::to_string),
            1 => any::<String>(),
        ]
        .boxed();
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (0u64..12).prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            word.clone().prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((word.clone(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
    }

    /// Arbitrary agent output: lines of vocabulary-biased JSON (some over [`feed`]'s line
    /// limit), blank lines and raw bytes, with or without a final newline.
    pub(crate) fn arb_output(words: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
        let line = prop_oneof![
            4 => arb_json(words).prop_map(|v| v.to_string().into_bytes()),
            1 => proptest::collection::vec(any::<u8>(), 0..80),
        ];
        (proptest::collection::vec(line, 0..8), any::<bool>())
            .prop_map(|(lines, newline)| {
                let mut out = lines.join(&b'\n');
                if newline {
                    out.push(b'\n');
                }
                out
            })
            .boxed()
    }

    /// What holds for any driver on any output: the events end with one `Exited`, a failed
    /// turn always says why, and whatever was written is one JSON message per line.
    pub(crate) fn check(events: &[DriverEvent], written: &[Vec<u8>]) {
        assert_eq!(events.last(), Some(&DriverEvent::Exited));
        assert_eq!(
            events.iter().filter(|e| **e == DriverEvent::Exited).count(),
            1
        );
        for e in events {
            if let DriverEvent::TurnEnd(end) = e {
                assert_eq!(end.ok, end.error.is_none(), "{end:?}");
            }
        }
        for line in written {
            let (last, body) = line.split_last().expect("a written line is not empty");
            assert_eq!(*last, b'\n');
            assert!(!body.contains(&b'\n'));
            assert!(serde_json::from_slice::<Value>(body).is_ok());
        }
    }

    #[tokio::test]
    async fn a_non_json_line_is_skipped_and_the_next_line_still_translates() {
        let (events, _) = feed(
            b"{\"text\":\"a\"}\nnot json {\n\xff\n{\"text\":\"b\"}\n",
            Echo,
        )
        .await;
        assert_eq!(
            events,
            vec![
                DriverEvent::Text("a".into()),
                DriverEvent::Text("b".into()),
                DriverEvent::Exited
            ]
        );
    }

    #[tokio::test]
    async fn the_end_of_output_is_exited_even_mid_line() {
        let (events, _) = feed(b"", Echo).await;
        assert_eq!(events, vec![DriverEvent::Exited]);
        let (events, _) = feed(b"{\"text\":\"last\"}", Echo).await;
        assert_eq!(
            events,
            vec![DriverEvent::Text("last".into()), DriverEvent::Exited]
        );
    }

    #[tokio::test]
    async fn answers_are_one_json_line_each() {
        let (_, written) = feed(b"{\"ask\":1}\n{\"ask\":\"x\\ny\"}\n", Echo).await;
        assert_eq!(
            written,
            vec![
                b"{\"answer\":1}\n".to_vec(),
                b"{\"answer\":\"x\\ny\"}\n".to_vec()
            ]
        );
    }

    #[tokio::test]
    async fn an_oversized_line_goes_to_the_handler_and_reading_goes_on() {
        let big = format!(
            "{{\"type\":\"result\",\"result\":\"{}\"}}\n",
            "x".repeat(300)
        );
        let input = format!("{big}{{\"text\":\"after\"}}\n");
        let (events, _) = feed(input.as_bytes(), Echo).await;
        match &events[..] {
            [
                DriverEvent::TurnEnd(end),
                DriverEvent::Text(t),
                DriverEvent::Exited,
            ] => {
                assert!(!end.ok);
                assert!(end.error.as_deref().unwrap_or_default().contains("16 MiB"));
                assert_eq!(t, "after");
            }
            other => panic!("{other:?}"),
        }
    }
}
