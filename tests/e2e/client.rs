//! The client's own robustness (SPEC §3, §4): help layout, output passed through as the daemon
//! sent it, bounded waits on a daemon that stops answering, and lines over the size limit in
//! either direction. Most tests talk to a stand-in daemon on a socket of their own, because
//! the faults they need (silence, oversized or unknown lines) are ones a healthy capd never
//! produces.

use cap_tests::*;

/// Asserts an exit code, showing the output when it differs.
fn assert_code(out: &std::process::Output, want: i32, what: &str) {
    assert_eq!(
        code(out),
        want,
        "{what}: stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn prompt_help_lists_global_options_under_their_own_heading() {
    let env = Env::new();
    let out = env.cap(&["prompt", "--help"]);
    assert_code(&out, 0, "prompt --help");
    let help = text(&out.stdout);
    let (own, global) = help
        .split_once("\nGlobal options:\n")
        .unwrap_or_else(|| panic!("no Global options heading:\n{help}"));
    assert!(global.contains("--socket"), "{help}");
    assert!(
        !own.contains("--socket"),
        "--socket among prompt's options:\n{help}"
    );
    assert!(own.contains("--timeout"), "{help}");
}
