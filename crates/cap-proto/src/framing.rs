//! JSON-line framing: one UTF-8 JSON object per `\n`-terminated line, at most
//! [`MAX_LINE`](crate::MAX_LINE) bytes.
//!
//! The reader is written against `std::io::BufRead` so a synchronous client needs no runtime;
//! the daemon has an async twin of [`read_line`] with the same limits.

use crate::error::{ErrorBody, ErrorCode, ProtoError};
use crate::request::Request;
use serde::Serialize;
use std::io::{BufRead, Read};

/// Serialises `value` as one line, newline included.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ProtoError> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    Ok(line)
}

/// Reads one line into `buf` (without the newline). `Ok(false)` at a clean end of stream.
///
/// A line longer than `limit` is consumed up to its newline and reported as
/// [`ProtoError::LineTooLong`], so the stream stays usable for the next line.
pub fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, ProtoError> {
    buf.clear();
    let io = |source| ProtoError::Io {
        doing: "reading a line",
        source,
    };
    let n = reader
        .by_ref()
        .take(limit as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(io)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(true);
    }
    if n > limit {
        // Skip the rest of the oversized line so the next read starts on a fresh line.
        let mut sink = Vec::new();
        loop {
            sink.clear();
            let m = reader
                .by_ref()
                .take(64 * 1024)
                .read_until(b'\n', &mut sink)
                .map_err(io)?;
            if m == 0 || sink.last() == Some(&b'\n') {
                break;
            }
        }
        buf.clear();
        return Err(ProtoError::LineTooLong { limit });
    }
    // The last line of the stream had no newline: accept it.
    Ok(true)
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
