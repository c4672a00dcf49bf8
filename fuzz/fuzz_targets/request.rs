//! Request decoding and validation: any bytes on the socket, split into lines by the one
//! line decoder and parsed like capd parses them. Nothing may panic.
#![no_main]

use cap_proto::framing::{LineDecoder, parse_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut decoder = LineDecoder::new(4096);
    let mut input = data;
    while let Some(line) = decoder.decode(&mut input) {
        if let Ok(line) = line {
            let _ = parse_request(&line);
        }
    }
    if let Some(Ok(line)) = decoder.finish() {
        let _ = parse_request(&line);
    }
});
