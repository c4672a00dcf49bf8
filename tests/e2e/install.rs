//! The README's one-command install: `cargo install --path crates/cap` gives both `cap` and
//! `capd`, side by side, and the installed `cap` autostarts the installed `capd`.
//!
//! This builds the package the way a user does (in a target directory of its own under
//! `target/`, so the suite's own binaries are never replaced while other tests run them; the
//! first run is slow, later runs reuse it), with `--debug` to skip the release optimiser and
//! `--offline --locked` so it needs nothing the workspace build has not fetched.

use cap_tests::*;
use std::process::Command;

#[test]
fn cargo_install_gives_a_cap_that_autostarts_its_capd() {
    let env = Env::new();
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let target = bin("cap")
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .join("cargo-install-test");
    let root = env.dir.path().join("installed");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The README's command, plus --root (a temp dir), --debug and --offline.
    let out = Command::new(cargo)
        .args(["install", "--locked", "--path", "crates/cap"])
        .args(["--debug", "--offline", "--quiet", "--root"])
        .arg(&root)
        .env("CARGO_TARGET_DIR", &target)
        // No debug info: the build is half the work, and nothing here needs a debugger.
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .current_dir(&workspace)
        .output()
        .expect("run cargo install");
    assert!(out.status.success(), "cargo install: {}", text(&out.stderr));
    let cap = root.join("bin").join("cap");
    let capd = root.join("bin").join("capd");
    assert!(
        cap.is_file() && capd.is_file(),
        "installed: {cap:?} {capd:?}"
    );

    // The installed cap, with only system directories on PATH: it must find its capd
    // beside itself.
    let run = |args: &[&str]| {
        let test_env = env.command("cap");
        let mut cmd = Command::new(&cap);
        for (k, v) in test_env.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.env("PATH", "/usr/bin:/bin")
            .stdin(std::process::Stdio::null())
            .current_dir(&env.work)
            .args(args);
        output_within_deadline(&mut cmd)
    };
    let out = run(&["--format", "json", "prompt", "installed"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(
        result_output(&json_lines(&out.stdout)),
        "ECHO[turns=1]: installed"
    );
    let status = run(&["--format", "json", "daemon", "status"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status");
    let pid = status["pid"].as_u64().expect("pid");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("capd's executable");
    assert_eq!(exe, capd.canonicalize().unwrap(), "the installed capd runs");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
}
