//! Codex's own sandbox as the second wall (`session::wall`).
//!
//! Codex confines the commands it runs, and its own patches, with Landlock or bubblewrap. Both
//! need kernel features that containers often withhold, and a sandbox that cannot start makes
//! every command fail. So capd asks Codex once per binary whether its sandbox runs here (one
//! read-only `codex sandbox -- true`) and walls turns in only where it does; `cap agents`
//! reports the answer.

use crate::session::wall::Wall;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long the probe may take: a sandbox that cannot start fails at once.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether Codex's sandbox runs on this machine, for the native `codex` binary `program`
/// (with the agent's environment). Probed once per binary; blocking.
pub fn works(program: &Path, env: &BTreeMap<String, String>) -> bool {
    static SEEN: Mutex<BTreeMap<PathBuf, bool>> = Mutex::new(BTreeMap::new());
    if let Some(known) = SEEN.lock().unwrap_or_else(|p| p.into_inner()).get(program) {
        return *known;
    }
    let works = probe(program, env);
    if !works {
        tracing::info!(program = %program.display(), "Codex's sandbox does not run here; its turns are held by cap's policy alone");
    }
    SEEN.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(program.to_path_buf(), works);
    works
}

fn probe(program: &Path, env: &BTreeMap<String, String>) -> bool {
    let child = Command::new(program)
        .args(["sandbox", "-c", "sandbox_mode=\"read-only\"", "--", "true"])
        .envs(env)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return false;
    };
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if started.elapsed() < PROBE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// The `sandboxPolicy` of a turn behind `wall`, in a session whose cwd is `cwd`.
pub fn policy(wall: Wall, cwd: &Path) -> Value {
    match wall {
        Wall::Open => json!({"type": "dangerFullAccess"}),
        // The network is not the policy's to close; only writes are walled in.
        Wall::Workspace => json!({
            "type": "workspaceWrite",
            "writableRoots": [cwd],
            "networkAccess": true,
            "excludeSlashTmp": true,
            "excludeTmpdirEnvVar": true,
        }),
        Wall::ReadOnly => json!({"type": "readOnly", "networkAccess": true}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_has_no_sandbox() {
        assert!(!works(Path::new("/nonexistent/codex"), &BTreeMap::new()));
    }

    #[test]
    fn walls_map_to_codex_sandbox_policies() {
        assert_eq!(
            policy(Wall::Open, Path::new("/w"))["type"],
            "dangerFullAccess"
        );
        let ws = policy(Wall::Workspace, Path::new("/w"));
        assert_eq!(ws["type"], "workspaceWrite");
        assert_eq!(ws["writableRoots"], json!(["/w"]));
        assert_eq!(policy(Wall::ReadOnly, Path::new("/w"))["type"], "readOnly");
    }
}
