//! capd's state file in every shape it can be found in: unreadable, newer, truncated, huge,
//! and today's format. Whatever capd cannot use is kept aside with a warning, never
//! overwritten.

use cap_tests::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/state-v1.json");
const NOBODY: u32 = 65534;

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
    // Valid JSON, but padded past the 16 MiB limit: capd must not read it whole.
    let mut huge = std::fs::read(FIXTURE).unwrap();
    huge.resize(17 * 1024 * 1024, b' ');
    plant_state(&env, &huge);
    assert_kept_aside_and_serving(&mut env, &huge, "toolarge", "MiB limit");
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
