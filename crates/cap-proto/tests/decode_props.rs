//! The stable, short twin of the `request` fuzz target (`fuzz/`): any bytes on the socket go
//! through the line decoder and request parser without a panic, and every line handed to
//! the parser is within the limit.

use cap_proto::framing::{LineDecoder, parse_request};
use proptest::prelude::*;

/// Bytes that look like requests often enough to reach the parser's deeper branches.
fn socket_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"{\"id\":1,\"op\":\"prompt\",\"text\":\"x\",\"route\":{\"cwd\":\"/\"}}".to_vec()),
        Just(b"{\"id\":2,\"op\":\"decide\",\"question\":\"a.1\",\"allow\":true}".to_vec()),
        Just(b"{\"id\":3,\"op\":\"hello\",\"version\":2}".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ];
    proptest::collection::vec(fragment, 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_decode_and_parse_without_panicking(data in socket_bytes(), split in 0usize..64) {
        let mut decoder = LineDecoder::new(256);
        let (a, b) = data.split_at(split.min(data.len()));
        let mut lines = Vec::new();
        for mut chunk in [a, b] {
            while let Some(line) = decoder.decode(&mut chunk) {
                lines.push(line);
            }
        }
        lines.extend(decoder.finish());
        for line in lines.into_iter().flatten() {
            prop_assert!(line.len() <= 256);
            if let Err((_, body)) = parse_request(&line) {
                prop_assert!(!body.message.is_empty());
            }
        }
    }
}
