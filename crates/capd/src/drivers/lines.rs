//! The agent's stdout, read as lines of bounded length.
//!
//! Every protocol cap speaks is one JSON message per line, and a line can only be parsed once
//! it is whole, so a reader buffers until the newline. An agent that never writes one (a bug,
//! a binary dump on stdout, a 1 GB tool result) would grow the daemon without bound, and the
//! daemon hosts every session of the user. [`Lines`] therefore keeps at most [`MAX_LINE`]
//! bytes of a line: the rest of a longer one is skipped as it arrives, never buffered, and the
//! caller gets a [`Segment::Oversized`] saying what was lost, so that the driver can end the
//! turn the line may have ended instead of waiting for it forever.

use serde_json::{Map, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::mpsc;

/// The longest line read from an agent: 16 MiB. The largest lines measured from real agents
/// are about 10 KB (Claude's `initialize` answer, a Codex resume result; docs/protocols.md),
/// and a reply or tool result that is legitimately larger is still far below this, while a
/// daemon that holds a few sessions can afford 16 MiB each.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// How much of an oversized line is kept to tell what it was: agents write a message's kind
/// (`type`, `id`, `method`) before its bulky payload.
const HEAD: usize = 4096;

/// One line of agent output.
#[derive(Debug, PartialEq)]
pub enum Segment {
    /// A whole line, without its newline.
    Line(Vec<u8>),
    /// A line longer than the limit, dropped.
    Oversized(Lost),
}

/// What is known about a dropped oversized line.
#[derive(Debug, Clone, PartialEq)]
pub struct Lost {
    /// Its length in bytes, without the newline.
    pub len: u64,
    /// The scalar top-level fields at its start (see [`leading_fields`]): what it was.
    pub fields: Map<String, Value>,
}

impl Lost {
    /// A top-level string field of the lost message, if its start showed one.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    /// How a turn ends when this line may have been the message that ended it: failed, with
    /// an error that says why, rather than left waiting for an end that was dropped.
    pub fn turn_end(&self) -> super::TurnEnd {
        super::TurnEnd {
            ok: false,
            output: None,
            stop_reason: cap_proto::StopReason::Other("error".into()),
            error: Some(format!(
                "the agent wrote a line over {} MiB ({} bytes), which cap dropped unread; it may have ended this turn, so the turn is failed rather than left waiting",
                MAX_LINE / (1024 * 1024),
                self.len
            )),
        }
    }

    /// The event for a dropped line that did not end a turn: the session shows something
    /// was lost, and the turn goes on.
    pub fn event(&self) -> super::DriverEvent {
        super::DriverEvent::Raw {
            kind: "oversized_line".into(),
            payload: serde_json::json!({"bytes": self.len, "fields": self.fields}),
        }
    }
}

/// The agent's stdout as bounded lines. Raw bytes, not strings: an agent may print bytes that
/// are not UTF-8, and that must not end the session.
pub struct Lines {
    /// A session on a shared agent process reads what the host routed to it, already cut
    /// into segments (`super::host`); `reader` is then empty.
    routed: Option<mpsc::UnboundedReceiver<Segment>>,
    reader: BufReader<Box<dyn AsyncRead + Send + Unpin>>,
    limit: usize,
    /// The line read so far.
    line: Vec<u8>,
    /// While the rest of an oversized line is skipped: its head and its length so far.
    skipping: Option<(Vec<u8>, u64)>,
}

impl Lines {
    /// Lines of at most [`MAX_LINE`] bytes from `reader`.
    pub fn new(reader: impl AsyncRead + Send + Unpin + 'static) -> Lines {
        Lines::with_limit(reader, MAX_LINE)
    }

    /// Lines of at most `limit` bytes (stderr's are shorter; tests need not write 16 MiB).
    pub(crate) fn with_limit(
        reader: impl AsyncRead + Send + Unpin + 'static,
        limit: usize,
    ) -> Lines {
        let reader: Box<dyn AsyncRead + Send + Unpin> = Box::new(reader);
        Lines {
            routed: None,
            reader: BufReader::with_capacity(64 * 1024, reader),
            limit,
            line: Vec::new(),
            skipping: None,
        }
    }

    /// The segments a shared agent's host routes to one of its sessions; they end when the
    /// host drops the sender (the agent exited, or the session left it).
    pub fn routed(rx: mpsc::UnboundedReceiver<Segment>) -> Lines {
        let mut lines = Lines::with_limit(tokio::io::empty(), MAX_LINE);
        lines.routed = Some(rx);
        lines
    }

    /// The next line, `None` at the end of the output. A last line without a newline still
    /// counts. Cancel-safe: a partial line stays buffered for the next call, so this can sit
    /// in a `select!` or under a timeout.
    pub async fn next_segment(&mut self) -> std::io::Result<Option<Segment>> {
        if let Some(rx) = &mut self.routed {
            return Ok(rx.recv().await);
        }
        loop {
            let buf = self.reader.fill_buf().await?;
            if buf.is_empty() {
                return Ok(self.finish(false));
            }
            let newline = memchr::memchr(b'\n', buf);
            let chunk = &buf[..newline.unwrap_or(buf.len())];
            if let Some((_, len)) = &mut self.skipping {
                *len += chunk.len() as u64;
            } else if self.line.len() + chunk.len() > self.limit {
                self.skipping = Some(start_skipping(&mut self.line, chunk, self.limit));
            } else {
                append(&mut self.line, chunk, self.limit);
            }
            let used = chunk.len() + usize::from(newline.is_some());
            self.reader.consume(used);
            if newline.is_some() {
                return Ok(self.finish(true));
            }
        }
    }

    /// Ends the current line, at a newline or at the end of the output.
    fn finish(&mut self, newline: bool) -> Option<Segment> {
        if let Some((head, len)) = self.skipping.take() {
            return Some(Segment::Oversized(Lost {
                len,
                fields: leading_fields(&head),
            }));
        }
        if self.line.is_empty() && !newline {
            return None;
        }
        Some(Segment::Line(std::mem::take(&mut self.line)))
    }

    /// The bytes held for the current line: bounded by the limit, whatever the agent writes.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.line.capacity() + self.skipping.as_ref().map_or(0, |(h, _)| h.capacity())
    }
}

/// Appends to a line, growing it at most to the limit (`Vec`'s doubling would otherwise let a
/// line just under the limit hold twice as much).
fn append(line: &mut Vec<u8>, chunk: &[u8], limit: usize) {
    let needed = line.len() + chunk.len();
    if needed > line.capacity() {
        let target = needed.max(line.capacity() * 2).min(limit);
        line.reserve_exact(target - line.len());
    }
    line.extend_from_slice(chunk);
}

/// Drops the line buffered so far, keeping its head, and warns once for this line.
fn start_skipping(line: &mut Vec<u8>, chunk: &[u8], limit: usize) -> (Vec<u8>, u64) {
    let len = (line.len() + chunk.len()) as u64;
    let mut head = std::mem::take(line);
    head.truncate(HEAD);
    let room = HEAD - head.len();
    head.extend_from_slice(&chunk[..room.min(chunk.len())]);
    head.shrink_to_fit();
    tracing::warn!(
        "the agent wrote a line over {limit} bytes; skipping the rest of it unread (it starts with {})",
        String::from_utf8_lossy(&head[..head.len().min(200)])
    );
    (head, len)
}

/// The scalar top-level fields at the start of a JSON object whose text may be cut short, up
/// to the first field that is incomplete. Objects and arrays are skipped, not kept: the point
/// is to read a message's kind (`"type":"result"`, `"id":7`, `"method":"turn/completed"`) from
/// the head of a line too long to parse. Anything that is not such an object gives an empty map.
pub fn leading_fields(text: &[u8]) -> Map<String, Value> {
    let mut fields = Map::new();
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'{') {
        return fields;
    }
    i += 1;
    loop {
        i = skip_ws(text, i);
        let Some(key_end) = value_end(text, i).filter(|_| text[i] == b'"') else {
            return fields;
        };
        let Ok(key) = serde_json::from_slice::<String>(&text[i..key_end]) else {
            return fields;
        };
        i = skip_ws(text, key_end);
        if text.get(i) != Some(&b':') {
            return fields;
        }
        i = skip_ws(text, i + 1);
        let Some(end) = value_end(text, i) else {
            return fields;
        };
        if !matches!(text[i], b'{' | b'[')
            && let Ok(v) = serde_json::from_slice::<Value>(&text[i..end])
        {
            fields.insert(key, v);
        }
        i = skip_ws(text, end);
        if text.get(i) != Some(&b',') {
            return fields;
        }
        i += 1;
    }
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Where the JSON value starting at `i` ends (exclusive), if it ends within `text`. A scalar
/// must be followed by a delimiter: at the cut, `12` may be the start of `123`.
fn value_end(text: &[u8], i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (j, &b) in text.iter().enumerate().skip(i) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return Some(j + 1);
                    }
                }
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            b',' | b'}' | b']' if depth == 0 => return (j > i).then_some(j),
            _ if b.is_ascii_whitespace() && depth == 0 => return (j > i).then_some(j),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use tokio::io::AsyncWriteExt;

    fn line(s: &str) -> Option<Segment> {
        Some(Segment::Line(s.as_bytes().to_vec()))
    }

    #[tokio::test]
    async fn lines_split_on_newlines_and_keep_a_last_unterminated_line() {
        let (mut w, r) = tokio::io::duplex(64);
        let mut lines = Lines::new(r);
        w.write_all(b"{\"a\":1}\n\nnot json\n\xff\xfe\ntail")
            .await
            .unwrap();
        drop(w);
        assert_eq!(lines.next_segment().await.unwrap(), line("{\"a\":1}"));
        assert_eq!(lines.next_segment().await.unwrap(), line(""));
        assert_eq!(lines.next_segment().await.unwrap(), line("not json"));
        assert_eq!(
            lines.next_segment().await.unwrap(),
            Some(Segment::Line(vec![0xff, 0xfe]))
        );
        assert_eq!(lines.next_segment().await.unwrap(), line("tail"));
        assert_eq!(lines.next_segment().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_line_at_the_limit_is_read_and_one_byte_more_is_dropped() {
        let (mut w, r) = tokio::io::duplex(1024);
        let mut lines = Lines::with_limit(r, 8);
        w.write_all(b"12345678\n123456789\n{\"ok\":1}\n")
            .await
            .unwrap();
        drop(w);
        assert_eq!(lines.next_segment().await.unwrap(), line("12345678"));
        match lines.next_segment().await.unwrap() {
            Some(Segment::Oversized(lost)) => assert_eq!(lost.len, 9),
            other => panic!("{other:?}"),
        }
        assert_eq!(lines.next_segment().await.unwrap(), line("{\"ok\":1}"));
        assert!(lines.held() <= 8);
    }

    /// D7: 20 MB without a newline. The reader skips past the limit without buffering, says
    /// what it lost, and reads the next line normally.
    #[tokio::test]
    async fn a_huge_line_is_skipped_with_bounded_memory_and_the_next_line_still_parses() {
        const TOTAL: usize = 20_000_000;
        let (mut w, r) = tokio::io::duplex(64 * 1024);
        let (wrote, wrote_rx) = tokio::sync::oneshot::channel();
        let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
        let writer = tokio::spawn(async move {
            let head = br#"{"type":"result","is_error":false,"result":""#;
            w.write_all(head).await?;
            let chunk = vec![b'x'; 1 << 20];
            let mut left = TOTAL - head.len();
            while left > 0 {
                let n = left.min(chunk.len());
                w.write_all(&chunk[..n]).await?;
                left -= n;
            }
            let _ = wrote.send(());
            let _ = go_rx.await;
            w.write_all(b"\"}\n{\"type\":\"next\"}\n").await?;
            std::io::Result::Ok(())
        });
        let mut lines = Lines::new(r);
        let mut wrote_rx = wrote_rx;
        // Read until the writer has handed over all 20 MB; no segment may come before the
        // newline. Dropping `next_segment` here also shows that it is cancel-safe.
        tokio::select! {
            biased;
            _ = &mut wrote_rx => {}
            seg = lines.next_segment() => panic!("a segment before the newline: {seg:?}"),
        }
        assert!(
            lines.held() <= HEAD,
            "skipping holds only the head, not {} bytes",
            lines.held()
        );
        let _ = go.send(());
        match lines.next_segment().await.unwrap() {
            Some(Segment::Oversized(lost)) => {
                assert_eq!(lost.len, TOTAL as u64 + 2);
                assert_eq!(lost.str("type"), Some("result"));
                assert_eq!(lost.fields.get("is_error"), Some(&json!(false)));
                assert!(!lost.fields.contains_key("result"), "cut short, so unknown");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            lines.next_segment().await.unwrap(),
            line("{\"type\":\"next\"}")
        );
        assert_eq!(lines.next_segment().await.unwrap(), None);
        writer.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn an_oversized_last_line_is_reported_at_the_end() {
        let (mut w, r) = tokio::io::duplex(1024);
        let mut lines = Lines::with_limit(r, 4);
        w.write_all(b"0123456789").await.unwrap();
        drop(w);
        assert!(matches!(
            lines.next_segment().await.unwrap(),
            Some(Segment::Oversized(Lost { len: 10, .. }))
        ));
        assert_eq!(lines.next_segment().await.unwrap(), None);
    }

    #[test]
    fn leading_fields_read_the_kind_of_a_cut_message() {
        let f = leading_fields(br#"{"jsonrpc":"2.0","id":7,"result":{"stopReason":"end"#);
        assert_eq!(
            f,
            json!({"jsonrpc": "2.0", "id": 7})
                .as_object()
                .unwrap()
                .clone()
        );
        let f =
            leading_fields(br#" { "method" : "turn/completed", "params": {"turn": {}}, "x": 12"#);
        assert_eq!(
            f,
            json!({"method": "turn/completed"})
                .as_object()
                .unwrap()
                .clone()
        );
        let f = leading_fields(br#"{"params":{"a":[1,{"b":"}"}],"c":2},"method":"m","id":3}"#);
        assert_eq!(
            f,
            json!({"method": "m", "id": 3}).as_object().unwrap().clone()
        );
        let f = leading_fields(br#"{"type":"res\"ult\n","n":null,"#);
        assert_eq!(
            f,
            json!({"type": "res\"ult\n", "n": null})
                .as_object()
                .unwrap()
                .clone()
        );
        for junk in [
            &b""[..],
            b"[1,2]",
            b"\"s\"",
            b"{",
            b"{\"a",
            b"{\"a\":",
            b"{1:2}",
            b"xx",
        ] {
            assert!(leading_fields(junk).is_empty(), "{junk:?}");
        }
    }

    /// JSON objects without floats (whose text does not always read back to the same value).
    fn arb_object() -> impl Strategy<Value = Map<String, Value>> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
            Just(Value::from("a \"quoted\" } ] , \\ string")),
        ];
        let value = leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        proptest::collection::btree_map(any::<String>(), value, 0..6)
            .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the bytes and however they are split into reads, the lines are those of
        /// a plain split on newlines, each longer than the limit reported by its length.
        #[test]
        fn lines_are_a_split_on_newlines_with_long_ones_reported(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'x'), any::<u8>()], 0..300),
            limit in 1usize..40,
            read in 1usize..50,
        ) {
            let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
            if pieces.last().is_some_and(|p| p.is_empty()) {
                pieces.pop();
            }
            let expected: Vec<Result<Vec<u8>, u64>> = pieces
                .iter()
                .map(|p| if p.len() > limit { Err(p.len() as u64) } else { Ok(p.to_vec()) })
                .collect();
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            let got = rt.block_on(async {
                let (mut w, r) = tokio::io::duplex(read);
                let bytes = input.clone();
                tokio::spawn(async move {
                    for c in bytes.chunks(read) {
                        w.write_all(c).await?;
                    }
                    std::io::Result::Ok(())
                });
                let mut lines = Lines::with_limit(r, limit);
                let mut got = Vec::new();
                while let Some(seg) = lines.next_segment().await.expect("duplex reads") {
                    assert!(lines.held() <= limit.max(HEAD));
                    got.push(match seg {
                        Segment::Line(l) => Ok(l),
                        Segment::Oversized(lost) => Err(lost.len),
                    });
                }
                got
            });
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn leading_fields_take_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            leading_fields(&bytes);
        }

        /// Of a whole object, the leading fields are its scalar fields; of any cut of its
        /// text, a part of them with the same values: a cut never invents a field.
        #[test]
        fn leading_fields_are_the_scalars_and_a_cut_never_invents_one(
            obj in arb_object(),
            pretty in any::<bool>(),
            cut in any::<proptest::sample::Index>(),
        ) {
            let v = Value::Object(obj.clone());
            let text = if pretty {
                serde_json::to_string_pretty(&v).expect("serialises")
            } else {
                v.to_string()
            };
            let scalars: Map<String, Value> = obj
                .into_iter()
                .filter(|(_, v)| !v.is_object() && !v.is_array())
                .collect();
            prop_assert_eq!(&leading_fields(text.as_bytes()), &scalars);
            let cut = cut.index(text.len() + 1);
            for (k, v) in leading_fields(&text.as_bytes()[..cut]) {
                prop_assert_eq!(scalars.get(&k), Some(&v));
            }
        }
    }
}
