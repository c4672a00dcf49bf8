//! capd's files: the state file in every shape it can be found in (unreadable, newer,
//! truncated, huge, today's format), file modes, and paths that are not what they should be
//! (a regular file at the socket path, planted symlinks). Nothing a user had on disk is ever
//! overwritten, deleted or written through.

use cap_tests::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/state-v1.json");
const NOBODY: u32 = 65534;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Files beside `path` whose name starts with `<name of path>.<tag>-`.
fn kept_aside(path: &Path, tag: &str) -> Vec<PathBuf> {
    let prefix = format!("{}.{tag}-", path.file_name().unwrap().to_string_lossy());
    std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect()
}

/// Writes `bytes` as the state file.
fn plant_state(env: &Env, bytes: &[u8]) -> PathBuf {
    let state = env.state_file();
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, bytes).unwrap();
    state
}

/// Asserts that the state file was kept aside as `tag` byte for byte, the daemon warned
/// about it, serves, and wrote a fresh valid state file.
fn assert_kept_aside_and_serving(env: &mut Env, original: &[u8], tag: &str, warning: &str) {
    let state = env.state_file();
    env.start_daemon();
    assert_eq!(env.prompt_ok(&["hi"])["output"], "ECHO[turns=1]: hi");
    let kept = kept_aside(&state, tag);
    assert_eq!(
        kept.len(),
        1,
        "not kept aside as {tag}: {}",
        env.daemon_log()
    );
    assert!(std::fs::read(&kept[0]).unwrap() == original, "copy differs");
    let log = env.daemon_log();
    assert!(
        log.contains(warning) && log.contains(&kept[0].display().to_string()),
        "no clear warning naming the copy: {log}"
    );
    let fresh: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(fresh["version"], 1);
    assert!(fresh["keys"][env.key()].is_object(), "{fresh}");
}

/// Runs `capd` in the foreground, expecting it to refuse to start with `needle`; one that
/// logs "listening" instead is killed and fails the test.
fn assert_capd_refuses(env: &Env, needle: &str) {
    let mut child = env
        .command("capd")
        .env("CAP_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run capd");
    let stderr = child.stderr.take().expect("stderr");
    let mut err = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if line.contains("listening") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("capd started instead of refusing: {err}{line}");
        }
        err.push_str(&line);
        err.push('\n');
    }
    let status = child.wait().expect("wait for capd");
    assert!(!status.success(), "capd exited 0: {err}");
    assert!(err.contains(needle), "unclear refusal: {err}");
}

#[test]
fn a_state_file_of_a_newer_version_is_kept_aside_not_rewritten() {
    let mut env = Env::new();
    let newer = br#"{"version": 99, "keys": {"k": {"future": true}}, "vaults": [1, 2, 3]}"#;
    plant_state(&env, newer);
    assert_kept_aside_and_serving(&mut env, newer, "v99", "version 99");
    assert!(env.daemon_log().contains("rename it back"));
}

#[test]
fn a_truncated_state_file_is_kept_aside() {
    let mut env = Env::new();
    let full = std::fs::read(FIXTURE).unwrap();
    let truncated = &full[..full.len() / 2];
    plant_state(&env, truncated);
    assert_kept_aside_and_serving(&mut env, truncated, "corrupt", "corrupt");
}

#[test]
fn a_huge_state_file_is_kept_aside() {
    let mut env = Env::new();
    // The fixture, extended past the 256 MiB limit with a hole (a sparse file, so the test
    // writes no 256 MiB): capd must not read it at all.
    let fixture = std::fs::read(FIXTURE).unwrap();
    let state = plant_state(&env, &fixture);
    let size = 256 * 1024 * 1024 + 1;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&state)
        .unwrap()
        .set_len(size)
        .unwrap();
    env.start_daemon();
    assert_eq!(env.prompt_ok(&["hi"])["output"], "ECHO[turns=1]: hi");
    let kept = kept_aside(&state, "toolarge");
    assert_eq!(kept.len(), 1, "not kept aside: {}", env.daemon_log());
    assert_eq!(std::fs::metadata(&kept[0]).unwrap().len(), size);
    let mut head = vec![0; fixture.len()];
    std::io::Read::read_exact(&mut std::fs::File::open(&kept[0]).unwrap(), &mut head).unwrap();
    assert!(head == fixture, "copy differs");
    let log = env.daemon_log();
    assert!(log.contains("MiB limit"), "no clear warning: {log}");
    let fresh: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(fresh["keys"][env.key()].is_object(), "{fresh}");
}

/// D8: as an ordinary user (root reads anything), a state file capd cannot read is kept
/// aside with every key in it, never replaced by the new state.
#[test]
fn an_unreadable_state_file_is_kept_aside_not_overwritten() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test switches to user nobody and must run as root (CI does)"
    );
    let mut env = Env::new();
    let original = std::fs::read(FIXTURE).unwrap();
    let state = plant_state(&env, &original);
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o000)).unwrap();
    chown_tree(env.dir.path(), NOBODY);
    env.daemon_wrapper = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ]
    .map(String::from)
    .to_vec();
    env.start_daemon();
    let as_nobody = |args: &[&str]| {
        let mut c = env.command("cap");
        c.args(args).uid(NOBODY).gid(NOBODY);
        c.output().expect("run cap")
    };
    let out = as_nobody(&["--format", "json", "prompt", "hi"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let kept = kept_aside(&state, "unreadable");
    assert_eq!(kept.len(), 1, "not kept aside: {}", env.daemon_log());
    assert_eq!(std::fs::read(&kept[0]).unwrap(), original, "keys were lost");
    let log = env.daemon_log();
    assert!(
        log.contains("cannot be read") && log.contains(&kept[0].display().to_string()),
        "{log}"
    );
    let out = as_nobody(&["daemon", "stop"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    env.wait_daemon_exit();
}

fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

/// Backward compatibility: today's state file format, committed as a fixture, loads with
/// every key and record, and they all survive the next save.
#[test]
fn the_v1_fixture_loads_with_every_record_intact() {
    let mut env = Env::new();
    let fixture: Value = serde_json::from_slice(&std::fs::read(FIXTURE).unwrap()).unwrap();
    plant_state(&env, &std::fs::read(FIXTURE).unwrap());
    env.start_daemon();
    let records = env.keys_doc()["records"].as_array().unwrap().clone();
    let keys = fixture["keys"].as_object().unwrap();
    let expected: usize = keys
        .values()
        .map(|k| k["agents"].as_object().unwrap().len())
        .sum();
    assert_eq!(records.len(), expected, "{records:#?}");
    for (key, rec) in keys {
        for (agent, a) in rec["agents"].as_object().unwrap() {
            let found = records
                .iter()
                .find(|r| r["key"] == *key && r["agent"] == *agent)
                .unwrap_or_else(|| panic!("{key}/{agent} missing: {records:#?}"));
            assert_eq!(found["cwd"], a["cwd"]);
            assert_eq!(found["native_id"], a["native_id"]);
            assert_eq!(found["current"], rec["current"] == *agent);
        }
    }
    // A save (any change) keeps every one of them.
    env.prompt_ok(&["hi"]);
    let saved = env.state_doc();
    for (key, rec) in keys {
        assert_eq!(saved["keys"][key]["current"], rec["current"], "{key}");
        for (agent, a) in rec["agents"].as_object().unwrap() {
            let s = &saved["keys"][key]["agents"][agent];
            for field in ["cwd", "native_id", "model"] {
                assert_eq!(s[field], a[field], "{key}/{agent}.{field}");
            }
        }
    }
}

/// D12: under umask 022 the state dir is 0700 and every file capd writes is 0600.
#[test]
fn files_are_private_whatever_the_umask() {
    let env = Env::new();
    let cap = env.command("cap");
    let mut wrapped = std::process::Command::new("sh");
    wrapped
        .args(["-c", "umask 022 && exec \"$0\" \"$@\""])
        .arg(cap.get_program())
        .args(["--format", "json", "prompt", "hi"])
        .current_dir(&env.work);
    for (k, v) in cap.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    let out = wrapped.output().expect("run cap");
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let state_dir = env.state_file().parent().unwrap().to_path_buf();
    assert_eq!(mode(&state_dir), 0o700, "state dir");
    assert_eq!(mode(&env.state_file()), 0o600, "state.json");
    assert_eq!(mode(&env.detached_log_path()), 0o600, "capd.log");
    assert_eq!(mode(&env.pid_file_path()), 0o600, "pid file");
    assert_eq!(mode(env.socket.parent().unwrap()), 0o700, "socket dir");
}

/// D10: `--socket` naming a regular file is refused, and the file is left alone.
#[test]
fn a_regular_file_at_the_socket_path_is_refused_and_kept() {
    let env = Env::new();
    std::fs::create_dir_all(env.socket.parent().unwrap()).unwrap();
    std::fs::write(&env.socket, b"my notes").unwrap();
    assert_capd_refuses(&env, "not a socket");
    assert_eq!(std::fs::read(&env.socket).unwrap(), b"my notes");
    // A stale socket is still replaced (see socket.rs); only sockets are ever removed.
}

/// D11: a symlink planted at the pid, socket or state path is refused, and what it points
/// to is unchanged.
#[test]
fn symlinks_at_the_pid_socket_and_state_paths_are_refused() {
    let env = Env::new();
    let run = env.socket.parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&run).unwrap();
    let victim = env.dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();

    std::os::unix::fs::symlink(&victim, env.pid_file_path()).unwrap();
    assert_capd_refuses(&env, "symbolic link");
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious",
        "pid written through"
    );
    std::fs::remove_file(env.pid_file_path()).unwrap();

    std::os::unix::fs::symlink(&victim, &env.socket).unwrap();
    assert_capd_refuses(&env, "symbolic link");
    assert!(env.socket.is_symlink(), "the link was removed");
    std::fs::remove_file(&env.socket).unwrap();

    let state = env.state_file();
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::copy(FIXTURE, &victim).unwrap();
    std::os::unix::fs::symlink(&victim, &state).unwrap();
    assert_capd_refuses(&env, "symbolic link");
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        std::fs::read(FIXTURE).unwrap()
    );
    assert!(state.is_symlink(), "the link was replaced");
}

/// D11: the detached daemon's log is never appended to through a symlink.
#[test]
fn the_log_is_never_written_through_a_symlink() {
    let env = Env::new();
    let log = env.detached_log_path();
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let victim = env.dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    let mut child = env
        .command("capd")
        .arg("--detach")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run capd");
    let written_through = || std::fs::read(&victim).unwrap() != b"precious";
    wait_until("capd to exit or write through the link", || {
        written_through() || !matches!(child.try_wait(), Ok(None))
    });
    let _ = child.kill();
    let out = child.wait_with_output().expect("capd output");
    assert!(!written_through(), "capd appended to the link's target");
    assert!(
        text(&out.stderr).contains("symbolic link"),
        "{}",
        text(&out.stderr)
    );
}

/// Prompt text and environment values stay out of the log at the default level, on the
/// happy path and on the failure paths that log the most.
#[test]
fn prompt_text_and_env_values_stay_out_of_the_log() {
    let fake = bin("cap-fake-agent");
    let mut env = Env::with_config(&format!(
        "[agents.secretive]\nprotocol = \"claude-stream-json\"\ncommand = \"{}\"\n\
         env = {{ SECRET_TOKEN = \"tok-env-4f1d9c\" }}\n",
        fake.display()
    ));
    env.set_var("CAP_TEST_DAEMON_SECRET", "env-value-77ab21");
    for text in [
        "prompt-text-91c3e7 THINK TOOL",
        "prompt-text-91c3e7 GARBAGE",
        "prompt-text-91c3e7 CRASHONCE",
        "prompt-text-91c3e7 ERROR",
    ] {
        // Autostarted by `cap`, so capd runs detached and logs to its file.
        let _ = env.prompt_json(&["--agent", "secretive", text]);
    }
    let log = std::fs::read_to_string(env.detached_log_path()).expect("capd.log");
    assert!(log.contains("listening"), "not the daemon's log: {log}");
    for secret in ["prompt-text-91c3e7", "tok-env-4f1d9c", "env-value-77ab21"] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into capd.log:\n{log}"
        );
    }
}
