//! Entry points for fuzzing each driver's reading of agent output (`fuzz/` at the workspace
//! root, run with `cargo +nightly fuzz`). Each feeds newline-separated input through the
//! protocol's handler exactly as the reader loop would; any panic is a bug, since everything
//! an agent writes is untrusted.

use super::process::Writer;
use super::reader::Handler;
use serde_json::Value;

fn feed(mut handler: impl Handler, data: &[u8]) {
    let writer = Writer::detached();
    let mut out = Vec::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(msg) = serde_json::from_slice::<Value>(line) {
            handler.on_message(msg, &mut out, &writer);
            out.clear();
        }
    }
}

/// Claude Code stream-json output.
pub fn claude(data: &[u8]) {
    feed(super::claude::fuzz_reader(), data);
}

/// Codex app-server output.
pub fn codex(data: &[u8]) {
    feed(super::codex::fuzz_reader(), data);
}

/// ACP agent output.
pub fn acp(data: &[u8]) {
    feed(super::acp::fuzz_reader(), data);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The stable, short twin of the cargo-fuzz targets: arbitrary bytes, split into
        /// lines, through each protocol's handler.
        #[test]
        fn every_driver_reads_any_bytes_without_panicking(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            super::claude(&data);
            super::codex(&data);
            super::acp(&data);
        }
    }
}
