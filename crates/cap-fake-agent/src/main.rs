//! `cap-fake-agent`: a scripted stand-in for Claude Code (stream-json), `codex app-server` and
//! ACP agents, used by cap's tests. The protocol is chosen by argv:
//!
//! - contains `app-server` → Codex app-server JSON-RPC (no `"jsonrpc"` field);
//! - contains `acp` or `--acp` → ACP (JSON-RPC 2.0);
//! - otherwise → Claude Code `-p --input-format stream-json --output-format stream-json`.
//!
//! Replies are `ECHO[turns=N]: TEXT`, N counting the session's user turns across processes.
//!
//! Magic words in the prompt (case-sensitive, anywhere in the text): `SLOW` (10 chunks,
//! `FAKE_SLOW_MS` apart, default 300), `HANG`, `HANGNOINT`, `CRASH`, `CRASHONCE`, `EMPTY`,
//! `EMPTYONCE`, `GARBAGE`, `HUGE`, `ERROR`, `ORPHAN`; ACP only: `PERMISSION`, `THINK`, `TOOL`,
//! `PLAN`, `WEIRD`, `FSWRITE`; `SHOWCAPENV` (the reply ends with the `CAP_SESSION` and
//! `CAP_SOCKET` capd set); every protocol, on a `--schema` turn (cap's `JSON Schema:`
//! instructions in the prompt, or Codex's `outputSchema`): `WRONGJSON` (every answer breaks
//! the schema), `WRONGJSONONCE` (only the first); stream-json only: `STALLONCE`, `LONGLINE`, `FLOOD`,
//! `CLOSESTDOUT`, `FORKEXIT`, `BADSTDERR` (see `misbehave.rs`).
//!
//! Environment: `FAKE_AGENT_HOME` (else `$HOME/.cap-fake-agent`), `FAKE_NEVER_READY`,
//! `FAKE_EXIT_AT_START`, `FAKE_START_DELAY_MS`, `FAKE_SLOW_MS`, `FAKE_ACP_NO_RESUME`,
//! `FAKE_ENFORCE_SANDBOX` (claude: refuse bypassPermissions as root unless `IS_SANDBOX=1`),
//! `FAKE_STUBBORN` (only SIGKILL ends it), `FAKE_ONLY_GARBAGE` (never a JSON line),
//! `FAKE_LONGLINE_BYTES`, `FAKE_FLOOD_BYTES`, `FAKE_HUGE_BYTES` (size of the `HUGE` reply),
//! `FAKE_HELPERS`, `FAKE_HELPERS_KEEP_STDOUT`, `FAKE_BALLAST_MB` (hold that much resident
//! memory for life: the memory-limit tests).
//!
//! Files under the home: `sessions/<id>.json` (history), `markers/<id>.crashonce|emptyonce|
//! stallonce-<hash>`, `invocations.jsonl`, `orphan.pid`, `helpers.pids`.

mod acp;
mod acp_options;
mod claude;
mod claude_args;
mod codex;
mod common;
mod misbehave;
mod plan;

use std::time::Duration;

use common::{Agent, Home, current_cwd, env_flag, env_ms, exit_now, run, spawn_stdin_reader};

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let args: Vec<String> = argv.iter().skip(1).cloned().collect();
    let protocol = if args.iter().any(|a| a == "app-server") {
        "codex"
    } else if args.iter().any(|a| a == "acp" || a == "--acp") {
        "acp"
    } else {
        "claude"
    };
    if args.first().is_some_and(|a| a == "sandbox") {
        // capd asks Codex whether its sandbox runs here (`codex sandbox … -- true`); the
        // fake has none, and this probe is no agent start to log.
        eprintln!("cap-fake-agent: no sandbox");
        exit_now(1);
    }
    let cwd = current_cwd();
    let home = Home::from_env();
    home.log_invocation(protocol, &argv, &cwd);

    hold_ballast();

    if env_flag("FAKE_EXIT_AT_START") {
        eprintln!("cap-fake-agent: FAKE_EXIT_AT_START is set, exiting at start");
        exit_now(1);
    }

    if misbehave::only_garbage_wanted() {
        misbehave::only_garbage(spawn_stdin_reader());
    }

    let mut agent: Box<dyn Agent> = match protocol {
        "codex" => Box::new(codex::Codex::new(home, cwd)),
        "acp" => Box::new(acp::Acp::new(home)),
        _ => match claude::Claude::new(&args, home, cwd) {
            Ok(c) => Box::new(c),
            Err((msg, code)) => {
                eprintln!("{msg}");
                exit_now(code);
            }
        },
    };

    if let Some(ms) = env_ms("FAKE_START_DELAY_MS") {
        std::thread::sleep(Duration::from_millis(ms));
    }

    if misbehave::Stubborn::wanted() {
        agent = Box::new(misbehave::Stubborn::wrap(agent));
    }

    let rx = spawn_stdin_reader();
    let code = run(agent.as_mut(), rx);
    exit_now(code);
}

/// `FAKE_BALLAST_MB`: allocates that many MiB and writes every byte (an untouched allocation
/// is not resident), then keeps it for the life of the process, so capd measures an agent of
/// a known size.
fn hold_ballast() {
    let Some(mb) = common::env_str("FAKE_BALLAST_MB").and_then(|v| v.trim().parse::<usize>().ok())
    else {
        return;
    };
    // black_box: the compiler may not drop an allocation nobody reads.
    std::hint::black_box(Vec::leak(vec![1u8; mb << 20]));
}
