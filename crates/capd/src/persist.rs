//! The state file: what must survive a daemon restart so no conversation is lost.
//!
//! Processes do not survive a restart, but for every (key, agent) the daemon remembers the
//! agent's native session id and its cwd, which key uses which agent now, and which sessions
//! were parked. After a restart the acquire order reaches "persisted native id" and resumes.
//!
//! Saves are atomic (write a temp file, fsync, rename), so a crash mid-save leaves the old file.
//! A file that does not parse is moved aside, not overwritten, and the daemon starts empty.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of the state file layout.
pub const STATE_VERSION: u32 = 1;

/// The whole state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Persisted {
    pub version: u32,
    /// Per key: its current agent and what is known of each agent used on it.
    pub keys: BTreeMap<String, KeyRecord>,
}

/// What the daemon remembers of one key.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The agent the key is bound to now (the default agent for its next prompt).
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub agents: BTreeMap<String, AgentRecord>,
}

/// One (key, agent) conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub cwd: PathBuf,
    #[serde(default)]
    pub native_id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// Whether the session sat in the suspended pool.
    #[serde(default)]
    pub parked: bool,
}

/// Reads the state file. A missing file is an empty state; a corrupt one is renamed to
/// `state.json.corrupt-<unix time>` (so nothing is lost) and reported in the second value.
pub fn load(path: &Path) -> (Persisted, Option<String>) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Persisted::default(), None),
        Err(e) => {
            return (
                Persisted::default(),
                Some(format!(
                    "cannot read state file {}: {e}; starting empty",
                    path.display()
                )),
            );
        }
    };
    match serde_json::from_slice::<Persisted>(&bytes) {
        Ok(p) => (p, None),
        Err(e) => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let mut aside = path.as_os_str().to_owned();
            aside.push(format!(".corrupt-{secs}"));
            let aside = PathBuf::from(aside);
            let moved = std::fs::rename(path, &aside).is_ok();
            (
                Persisted::default(),
                Some(format!(
                    "state file {} is corrupt ({e}); {}; starting with no remembered sessions",
                    path.display(),
                    if moved {
                        format!("kept it as {}", aside.display())
                    } else {
                        "could not move it aside".to_string()
                    }
                )),
            )
        }
    }
}

/// Writes the state file atomically: temp file in the same directory, fsync, rename.
pub fn save(path: &Path, state: &Persisted) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let body = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&body)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corrupt_file_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(load(&path).0, Persisted::default());
        let mut p = Persisted {
            version: STATE_VERSION,
            ..Default::default()
        };
        p.keys.entry("k".into()).or_default().agents.insert(
            "claude".into(),
            AgentRecord {
                cwd: "/w".into(),
                native_id: Some("n1".into()),
                model: None,
                parked: false,
            },
        );
        save(&path, &p).unwrap();
        assert_eq!(load(&path), (p, None));
        std::fs::write(&path, b"{not json").unwrap();
        let (loaded, warning) = load(&path);
        assert_eq!(loaded, Persisted::default());
        assert!(warning.unwrap().contains("corrupt"));
        let kept: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("corrupt"))
            .collect();
        assert_eq!(kept.len(), 1);
    }
}
