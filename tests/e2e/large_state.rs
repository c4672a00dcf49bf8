//! A large state: capd started on 300,000 remembered keys (a state file of about 70 MiB,
//! written here at test time, never committed). `cap keys` lists every one of them, a
//! prompt on a new key works, and capd answers while that key's save is in progress.
//!
//! "In progress" is made certain, not hoped for: with `CAP_TEST_SAVE_GATE` naming a FIFO,
//! each of capd's saves logs that it waits and reads one byte from it before writing, so the
//! test holds the save, checks that `status` and `keys` are answered meanwhile and that the
//! prompt has not ended (its last event waits until its change is on disk), then lets the
//! saves through.

use cap_tests::*;
use std::io::Write;
use std::path::Path;

const KEYS: usize = 300_000;

/// Writes a state file of `keys` keys in capd's own format, each with one `claude` record.
fn write_state(path: &Path, keys: usize, cwd: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let cwd = serde_json::to_string(&cwd).unwrap();
    write!(w, "{{\n  \"version\": 1,\n  \"keys\": {{").unwrap();
    for i in 0..keys {
        let sep = if i == 0 { "" } else { "," };
        write!(
            w,
            "{sep}\n    \"large-key-{i:07}\": {{\n      \"current\": \"claude\",\n      \"agents\": {{\n        \"claude\": {{\n          \"cwd\": {cwd},\n          \"native_id\": \"00000000-0000-4000-8000-{i:012}\",\n          \"model\": null,\n          \"parked\": false\n        }}\n      }}\n    }}"
        )
        .unwrap();
    }
    write!(w, "\n  }}\n}}\n").unwrap();
    w.flush().unwrap();
}

/// How many times `needle` occurs in `haystack`.
fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[test]
fn three_hundred_thousand_keys_are_listed_and_a_save_never_stalls_the_daemon() {
    let mut env = Env::new();
    write_state(&env.state_file(), KEYS, &env.work);
    let gate = env.dir.path().join("save-gate");
    nix::unistd::mkfifo(&gate, nix::sys::stat::Mode::S_IRWXU).unwrap();
    env.set_var("CAP_TEST_SAVE_GATE", gate.to_str().unwrap());
    env.start_daemon();
    // capd holds the FIFO open for reading, so this open does not block.
    let mut gate_w = std::fs::OpenOptions::new().write(true).open(&gate).unwrap();

    // A new key: routing records it and the saver starts a write, held at the gate.
    // Its first line waits for a save of 300,000 keys, which a debug capd on a loaded
    // machine can take longer than the usual deadline to write.
    let mut prompt = env
        .spawn_prompt(&["--key", "brand-new", "hello"])
        .patient(std::time::Duration::from_secs(180));
    wait_until("a save to start", || {
        env.daemon_log().contains("waiting at the test gate")
    });
    let out = env.cap(&["daemon", "status"]);
    assert_eq!(code(&out), 0, "status during a save: {}", text(&out.stderr));
    let listing = env.cap(&["--format", "json", "keys"]);
    assert_eq!(code(&listing), 0, "keys: {}", text(&listing.stderr));
    assert_eq!(count(&listing.stdout, b"\"key\":\"large-key-"), KEYS);
    assert_eq!(
        count(&listing.stdout, b"\"key\":\"brand-new\""),
        2,
        "binding and record"
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&listing.stdout).expect("one JSON document");
    let records = doc["records"].as_array().expect("records");
    assert_eq!(records.len(), KEYS + 1);
    assert_eq!(records[0]["key"], "brand-new");
    assert_eq!(records[KEYS]["key"], format!("large-key-{:07}", KEYS - 1));
    assert!(
        prompt.child.try_wait().unwrap().is_none(),
        "the prompt ended before its new key was on disk"
    );

    // Open the gate for every save from now on.
    gate_w.write_all(&[1; 64]).unwrap();
    let (events, rc, stderr) = prompt.finish();
    assert_eq!(rc, 0, "{stderr}");
    assert_eq!(result_output(&events), "ECHO[turns=1]: hello");
    let saved = std::fs::read(env.state_file()).unwrap();
    assert_eq!(
        count(&saved, b"\"brand-new\": {"),
        1,
        "the new key is on disk"
    );
    assert_eq!(count(&saved, b"\"large-key-"), KEYS);

    // On the wire: parts with `more` until the last; a client that does not stream gets an
    // error naming the fix rather than a line over the limit it would have to drop.
    let mut raw = Raw::hello(&env.socket);
    raw.send_line(r#"{"id":2,"op":"keys","stream":true}"#);
    let (mut parts, mut listed) = (0, 0);
    loop {
        let reply = raw.recv();
        assert_eq!(reply["id"], 2, "{reply}");
        parts += 1;
        listed += reply["keys"]["records"].as_array().map_or(0, Vec::len);
        if reply["keys"].get("more").is_none() {
            break;
        }
        assert_eq!(reply["keys"]["more"], true, "{reply}");
    }
    assert_eq!(listed, KEYS + 1);
    assert!(parts > 10, "{parts} parts for {KEYS} records");
    raw.send_line(r#"{"id":3,"op":"keys"}"#);
    let reply = raw.recv();
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("update"), "{reply}");

    let table = env.cap(&["keys"]);
    assert_eq!(code(&table), 0, "{}", text(&table.stderr));
    let rows = text(&table.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with("large-key-"))
        .count();
    assert_eq!(rows, KEYS, "the text table lists every key");
    env.stop_daemon();
}

/// A client from before streaming sends a bare `keys` and still gets one reply of today's
/// shape, without `more`.
#[test]
fn a_client_that_does_not_stream_gets_one_keys_reply() {
    let mut env = Env::new();
    env.start_daemon();
    env.prompt_ok(&["--key", "k", "hi"]);
    let mut raw = Raw::hello(&env.socket);
    raw.send_line(r#"{"id":2,"op":"keys"}"#);
    let reply = raw.recv();
    assert_eq!(reply["id"], 2, "{reply}");
    assert_eq!(reply["keys"]["bindings"][0]["key"], "k", "{reply}");
    assert_eq!(reply["keys"]["records"][0]["key"], "k", "{reply}");
    assert!(reply["keys"].get("more").is_none(), "{reply}");
}
