//! The codex driver's reading of agent output: whatever the agent writes, nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| capd::drivers::fuzz::codex(data));
