//! JSON-line framing: one UTF-8 JSON object per `\n`-terminated line, at most
//! [`MAX_LINE`](crate::MAX_LINE) bytes.
//!
//! [`LineDecoder`] is the one place that splits bytes into lines. It does no IO, so the
//! blocking client ([`read_line`]) and the daemon's async reader share the exact same rules:
//! a trailing `\r` is dropped, an oversized line is discarded (never buffered) and reported
//! once, and decoding resumes on the next line.

use crate::error::{ErrorBody, ErrorCode, ProtoError};
use crate::request::Request;
use serde::Serialize;
use std::io::BufRead;

/// Serialises `value` as one line, newline included.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ProtoError> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    Ok(line)
}

/// Splits a byte stream into lines, without doing any IO.
///
/// Feed it whatever arrived with [`LineDecoder::decode`]; it takes bytes until one line is
/// complete and hands that line back, leaving the rest of the input for the next call. A line
/// whose content (before its `\n`) exceeds the limit is dropped as it streams in, so a peer
/// that never sends a newline costs at most `limit` bytes of memory; it is reported as
/// [`ProtoError::LineTooLong`] once, when its newline (or the end of the stream) arrives.
#[derive(Debug)]
pub struct LineDecoder {
    limit: usize,
    /// The current line so far (empty while discarding).
    line: Vec<u8>,
    /// Whether the current line went over the limit and is being skipped.
    discarding: bool,
}

impl LineDecoder {
    /// A decoder for lines of at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        LineDecoder {
            limit,
            line: Vec::new(),
            discarding: false,
        }
    }

    /// Takes bytes from the front of `input` until a line is complete and returns it (without
    /// `\n` and a trailing `\r`). `None` when `input` ran out first: the partial line is kept
    /// for the next call.
    pub fn decode(&mut self, input: &mut &[u8]) -> Option<Result<Vec<u8>, ProtoError>> {
        if input.is_empty() {
            return None;
        }
        // memchr, not a byte loop: every byte a client or the daemon reads passes here, and
        // a byte-at-a-time search was the largest cost of streaming a big reply.
        let newline = memchr::memchr(b'\n', input);
        let content = &input[..newline.unwrap_or(input.len())];
        if !self.discarding {
            if self.line.len() + content.len() > self.limit {
                self.discarding = true;
                // Give the memory back now: the line is lost either way.
                self.line = Vec::new();
            } else {
                self.line.extend_from_slice(content);
            }
        }
        let taken = content.len() + usize::from(newline.is_some());
        *input = &input[taken..];
        newline.map(|_| self.take())
    }

    /// Ends the stream: the last line when it had no newline, or its oversize report.
    pub fn finish(&mut self) -> Option<Result<Vec<u8>, ProtoError>> {
        self.has_partial().then(|| self.take())
    }

    /// Whether part of a line has arrived and its newline has not.
    pub fn has_partial(&self) -> bool {
        self.discarding || !self.line.is_empty()
    }

    fn take(&mut self) -> Result<Vec<u8>, ProtoError> {
        if std::mem::take(&mut self.discarding) {
            return Err(ProtoError::LineTooLong { limit: self.limit });
        }
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(line)
    }
}

/// Reads one line into `buf` (without the newline). `Ok(false)` at a clean end of stream.
///
/// A line longer than `limit` is consumed up to its newline and reported as
/// [`ProtoError::LineTooLong`], so the stream stays usable for the next line. The last line
/// of a stream is accepted without a newline.
pub fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, ProtoError> {
    buf.clear();
    let mut decoder = LineDecoder::new(limit);
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(ProtoError::Io {
                    doing: "reading a line",
                    source,
                });
            }
        };
        let item = if available.is_empty() {
            match decoder.finish() {
                Some(item) => item,
                None => return Ok(false),
            }
        } else {
            let mut rest = available;
            let item = decoder.decode(&mut rest);
            let used = available.len() - rest.len();
            reader.consume(used);
            match item {
                Some(item) => item,
                None => continue,
            }
        };
        *buf = item?;
        return Ok(true);
    }
}

/// Parses a request line, turning every way it can be wrong into an error reply body.
///
/// The request id is recovered whenever the line is a JSON object with a numeric `id`, so the
/// error reply can be matched to the request even when the rest of it is unusable.
pub fn parse_request(line: &[u8]) -> Result<Request, (u64, ErrorBody)> {
    let protocol = |id, msg: String| (id, ErrorBody::new(ErrorCode::Protocol, msg));
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| protocol(0, format!("malformed JSON line: {e}")))?;
    let Some(obj) = value.as_object() else {
        return Err(protocol(0, "a request must be a JSON object".into()));
    };
    let id = obj.get("id").and_then(|v| v.as_u64());
    let Some(id) = id else {
        return Err(protocol(0, "a request needs a numeric \"id\" field".into()));
    };
    match obj.get("op") {
        Some(serde_json::Value::String(_)) => {}
        Some(_) => return Err(protocol(id, "\"op\" must be a string".into())),
        None => return Err(protocol(id, "a request needs an \"op\" field".into())),
    }
    serde_json::from_value(value).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("unknown variant") {
            protocol(
                id,
                format!("unknown op: {msg}; is cap newer than capd? run `cap daemon restart`"),
            )
        } else {
            protocol(id, format!("invalid request: {msg}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Op;
    use std::io::BufReader;

    #[test]
    fn reads_lines_and_skips_an_oversized_one() {
        let data = b"{\"a\":1}\n0123456789abcdef\n{\"b\":2}\nlast";
        let mut r = BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        assert!(read_line(&mut r, &mut buf, 10).unwrap());
        assert_eq!(buf, b"{\"a\":1}");
        assert!(matches!(
            read_line(&mut r, &mut buf, 10),
            Err(ProtoError::LineTooLong { limit: 10 })
        ));
        assert!(read_line(&mut r, &mut buf, 10).unwrap());
        assert_eq!(buf, b"{\"b\":2}");
        assert!(read_line(&mut r, &mut buf, 10).unwrap());
        assert_eq!(buf, b"last");
        assert!(!read_line(&mut r, &mut buf, 10).unwrap());
    }

    /// Feeds `chunks` one by one and collects every item, then the end of the stream.
    fn decode_all(limit: usize, chunks: &[&[u8]]) -> Vec<Result<Vec<u8>, String>> {
        let mut d = LineDecoder::new(limit);
        let mut out = Vec::new();
        for chunk in chunks {
            let mut rest = *chunk;
            while let Some(item) = d.decode(&mut rest) {
                out.push(item.map_err(|e| e.to_string()));
            }
            assert!(rest.is_empty(), "input left over");
        }
        if let Some(item) = d.finish() {
            out.push(item.map_err(|e| e.to_string()));
        }
        out
    }

    fn ok(s: &str) -> Result<Vec<u8>, String> {
        Ok(s.as_bytes().to_vec())
    }

    #[test]
    fn decoder_joins_lines_split_across_feeds() {
        let got = decode_all(64, &[b"{\"a\"", b":1}\n{\"b", b"\":2}\n", b"\n{}\n"]);
        assert_eq!(
            got,
            vec![ok("{\"a\":1}"), ok("{\"b\":2}"), ok(""), ok("{}")]
        );
        // One byte at a time gives the same lines.
        let bytes = b"ab\ncd\n";
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_all(64, &singles), vec![ok("ab"), ok("cd")]);
    }

    #[test]
    fn decoder_strips_crlf_even_when_split() {
        let got = decode_all(64, &[b"one\r\ntwo\r", b"\nthree\r\r\n"]);
        // Only one trailing `\r` belongs to the line ending.
        assert_eq!(got, vec![ok("one"), ok("two"), ok("three\r")]);
    }

    #[test]
    fn decoder_reports_an_oversized_line_once_then_resyncs() {
        let got = decode_all(
            8,
            &[b"short\n0123456", b"789abcdef", b"ghij\nfine\n12345678\n"],
        );
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], ok("short"));
        let err = got[1].clone().unwrap_err();
        assert!(err.contains("8 byte limit"), "{err}");
        assert_eq!(got[2], ok("fine"));
        // Exactly the limit is still a line.
        assert_eq!(got[3], ok("12345678"));
    }

    #[test]
    fn decoder_does_not_buffer_a_line_it_discards() {
        let mut d = LineDecoder::new(4);
        let mut rest: &[u8] = &[b'x'; 4096];
        assert!(d.decode(&mut rest).is_none());
        assert!(d.has_partial());
        assert_eq!(d.line.capacity(), 0, "an oversized line must not be kept");
    }

    #[test]
    fn decoder_at_eof_keeps_a_partial_line_and_reports_a_partial_oversized_one() {
        assert_eq!(decode_all(64, &[b"a\nlast"]), vec![ok("a"), ok("last")]);
        assert_eq!(decode_all(64, &[b"a\n"]), vec![ok("a")]);
        let got = decode_all(2, &[b"toolong"]);
        assert_eq!(got.len(), 1);
        assert!(got[0].is_err());
        assert!(decode_all(64, &[]).is_empty());
    }

    #[test]
    fn read_line_strips_crlf() {
        let mut r = BufReader::with_capacity(3, &b"{\"a\":1}\r\nnext\r\n"[..]);
        let mut buf = Vec::new();
        assert!(read_line(&mut r, &mut buf, 64).unwrap());
        assert_eq!(buf, b"{\"a\":1}");
        assert!(read_line(&mut r, &mut buf, 64).unwrap());
        assert_eq!(buf, b"next");
        assert!(!read_line(&mut r, &mut buf, 64).unwrap());
    }

    #[test]
    fn parse_request_names_each_fault() {
        let err = |l: &str| parse_request(l.as_bytes()).unwrap_err();
        assert_eq!(err("nope").0, 0);
        assert!(err("nope").1.message.contains("malformed JSON"));
        assert!(err("[1]").1.message.contains("JSON object"));
        assert!(err("{\"op\":\"sessions\"}").1.message.contains("\"id\""));
        let (id, body) = err("{\"id\":7,\"op\":\"frobnicate\"}");
        assert_eq!(id, 7);
        assert!(body.message.contains("unknown op"));
        let (id, body) = err("{\"id\":8,\"op\":\"bind\",\"key\":5,\"session\":\"x\"}");
        assert_eq!(id, 8);
        assert!(body.message.contains("invalid request"), "{}", body.message);
        assert_eq!(body.code, ErrorCode::Protocol);
        let ok = parse_request(b"{\"id\":9,\"op\":\"sessions\"}").unwrap();
        assert_eq!(ok.id, 9);
        assert!(matches!(ok.op, Op::Sessions));
    }

    /// Clients from before streaming send a bare `keys`; it still parses, as one reply.
    #[test]
    fn keys_with_and_without_stream() {
        let old = parse_request(br#"{"id":3,"op":"keys"}"#).unwrap();
        assert!(matches!(old.op, Op::Keys(k) if !k.stream));
        let new = parse_request(br#"{"id":4,"op":"keys","stream":true}"#).unwrap();
        assert!(matches!(new.op, Op::Keys(k) if k.stream));
        // The last (or only) reply carries no `more`, so older clients see today's shape.
        let last = crate::reply::KeysReport::default();
        assert_eq!(
            serde_json::to_string(&last).unwrap(),
            r#"{"bindings":[],"parked":[],"records":[]}"#
        );
        let part: crate::reply::KeysReport =
            serde_json::from_str(r#"{"bindings":[],"parked":[],"records":[],"more":true}"#)
                .unwrap();
        assert!(part.more);
    }

    #[test]
    fn prompt_round_trips() {
        let line =
            br#"{"id":1,"op":"prompt","text":"hi","route":{"cwd":"/tmp","open":"continue"}}"#;
        let req = parse_request(line).unwrap();
        let Op::Prompt(p) = req.op else {
            panic!("not a prompt")
        };
        assert_eq!(p.route.open, Some(crate::request::OpenMode::Continue));
        assert_eq!(p.text, "hi");
        let again = encode(&Request {
            id: 1,
            op: Op::Prompt(p),
        })
        .unwrap();
        assert!(parse_request(&again[..again.len() - 1]).is_ok());
    }
}
