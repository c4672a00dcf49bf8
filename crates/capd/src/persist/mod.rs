//! The state file: what must survive a daemon restart so no conversation is lost.
//!
//! Processes do not survive a restart, but for every (key, agent) the daemon remembers the
//! agent's native session id and its cwd, which key uses which agent now, and which sessions
//! were parked. After a restart the acquire order reaches "persisted native id" and resumes.
//!
//! Saves are atomic (write a temp file, fsync, rename), so a crash mid-save leaves the old file.
//! A state file capd cannot use (unreadable, corrupt, truncated, huge, or written by a newer
//! capd) is never overwritten: it is renamed aside with a warning naming the copy, and the
//! daemon starts empty. When even that rename fails, capd refuses to start rather than lose
//! it. The file, its temp files and its directory are private (0600/0700), and a symlink at
//! the state path is refused (see [`files`]).

pub mod files;
pub mod records;

use cap_proto::Usage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Version of the state file layout.
pub const STATE_VERSION: u32 = 1;

/// The largest state file capd loads. A key's record is about 250 bytes as saved, so this is
/// about a million keys (300,000 keys make a 70-80 MiB file, and users with scripts that make a
/// key per task do get there); anything bigger is damage (or not ours), and reading it whole
/// would cost that much memory.
pub const MAX_STATE_BYTES: u64 = 256 * 1024 * 1024;

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
    /// What the key's turns have spent, as far as its agents report it.
    #[serde(default, skip_serializing_if = "Usage::is_empty")]
    pub usage: Usage,
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
    /// The session's own MCP servers (`--mcp-config`), given again on every resume.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mcp_servers: crate::mcp::McpServers,
}

/// A state file that must not be touched, so the daemon must not start.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{0}")]
    Symlink(std::io::Error),
    #[error(
        "state file {path} {why}, and capd cannot move it aside ({source}); it refuses to start \
         rather than overwrite it: move the file away yourself, or fix the directory's permissions"
    )]
    Stuck {
        path: PathBuf,
        why: String,
        #[source]
        source: std::io::Error,
    },
}

/// Reads the state file. A missing file is an empty state. A file that cannot be used is
/// renamed to `state.json.<why>-<unix time>` (`unreadable`, `toolarge`, `corrupt`, or `v<N>`
/// for a newer layout) and the warning in the second value names the copy.
pub fn load(path: &Path) -> Result<(Persisted, Option<String>), PersistError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Persisted::default(), None));
        }
        Err(e) => return keep_aside(path, "unreadable", &format!("cannot be examined ({e})")),
    };
    if meta.file_type().is_symlink() {
        return Err(PersistError::Symlink(files::symlink_refused(
            path,
            "state file",
        )));
    }
    if !meta.is_file() {
        return keep_aside(path, "unreadable", "is not a regular file");
    }
    if meta.len() > MAX_STATE_BYTES {
        let why = format!(
            "is {} bytes, over the {} MiB limit",
            meta.len(),
            MAX_STATE_BYTES >> 20
        );
        return keep_aside(path, "toolarge", &why);
    }
    let mut bytes = Vec::new();
    let read = files::open_read(path, "state file")
        .and_then(|f| f.take(MAX_STATE_BYTES + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return keep_aside(path, "unreadable", &format!("cannot be read ({e})"));
    }
    if bytes.len() as u64 > MAX_STATE_BYTES {
        return keep_aside(
            path,
            "toolarge",
            "grew over the size limit while being read",
        );
    }
    // The version first: a newer layout must never be read (and then rewritten) as this one,
    // which would silently drop everything this capd does not know about. Only the version is
    // kept from this pass (the rest is skipped, not built), so a large file is never held as
    // a `serde_json::Value` tree, which costs several times the file's size.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return keep_aside(path, "corrupt", "is corrupt (not a JSON object)");
    }
    let header: Header = match serde_json::from_slice(&bytes) {
        Ok(h) => h,
        Err(e) => return keep_aside(path, "corrupt", &format!("is corrupt ({e})")),
    };
    match header.version.as_ref().and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(STATE_VERSION) => {}
        Some(v) => {
            let why = format!(
                "has layout version {v}, and this capd only understands version {STATE_VERSION} \
                 (written by {} capd?)",
                if v > u64::from(STATE_VERSION) {
                    "a newer"
                } else {
                    "another"
                }
            );
            return keep_aside(path, &format!("v{v}"), &why);
        }
        None => return keep_aside(path, "corrupt", "is corrupt (no numeric \"version\")"),
    }
    match serde_json::from_slice::<Persisted>(&bytes) {
        Ok(p) => Ok((p, None)),
        Err(e) => keep_aside(path, "corrupt", &format!("is corrupt ({e})")),
    }
}

/// The state file's version alone; every other field is skipped unread.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    version: Option<serde_json::Value>,
}

/// Renames an unusable state file to a fresh `<path>.<tag>-<unix time>[-N]` and says so.
fn keep_aside(
    path: &Path,
    tag: &str,
    why: &str,
) -> Result<(Persisted, Option<String>), PersistError> {
    keep_aside_with(path, tag, why, |from, to| std::fs::rename(from, to))
}

/// [`keep_aside`] with the rename passed in, so the refusal path is testable as root.
fn keep_aside_with(
    path: &Path,
    tag: &str,
    why: &str,
    rename: impl Fn(&Path, &Path) -> std::io::Result<()>,
) -> Result<(Persisted, Option<String>), PersistError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let name = |n: u32| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{tag}-{secs}"));
        if n > 0 {
            p.push(format!("-{n}"));
        }
        PathBuf::from(p)
    };
    // Never rename over an earlier copy.
    let aside = (0..1000)
        .map(name)
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| name(1000));
    match rename(path, &aside) {
        Ok(()) => {
            let back = if tag.starts_with('v') {
                format!(
                    "; to use it again, stop this capd, rename it back to {} and run the capd \
                     that wrote it",
                    path.display()
                )
            } else {
                String::new()
            };
            Ok((
                Persisted::default(),
                Some(format!(
                    "state file {} {why}; kept it as {} and started with no remembered \
                     sessions{back}",
                    path.display(),
                    aside.display()
                )),
            ))
        }
        Err(source) => Err(PersistError::Stuck {
            path: path.to_path_buf(),
            why: why.to_string(),
            source,
        }),
    }
}

/// Writes the state file atomically: a new 0600 temp file in the same (0700) directory,
/// fsync, rename. The temp file is created exclusively and never through a symlink. The JSON
/// streams into the file through a buffer, so a large state is never held twice in memory.
///
/// `state` is a [`Persisted`], or a [`records::Snapshot`], which serialises to the same bytes.
pub fn save<T: Serialize>(path: &Path, state: &T) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    files::create_private_dir(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    if std::fs::symlink_metadata(&tmp).is_ok() {
        // Left by a crash of a process with our pid, or planted: remove whatever it is (a
        // link is removed, not followed) and create our own.
        std::fs::remove_file(&tmp)?;
    }
    let file = files::create_new(&tmp, "temp state file")?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let written = serde_json::to_writer_pretty(&mut out, state)
        .map_err(std::io::Error::other)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .and_then(|()| out.get_ref().sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn record(cwd: &str, native: &str) -> AgentRecord {
        AgentRecord {
            cwd: cwd.into(),
            native_id: Some(native.into()),
            model: None,
            mcp_servers: Default::default(),
            parked: false,
        }
    }

    fn sample() -> Persisted {
        let mut p = Persisted {
            version: STATE_VERSION,
            ..Default::default()
        };
        p.keys
            .entry("k".into())
            .or_default()
            .agents
            .insert("claude".into(), record("/w", "n1"));
        p
    }

    /// Files in `dir` whose name starts with `prefix`.
    fn named(dir: &Path, prefix: &str) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .map(|e| e.path())
            .collect()
    }

    #[test]
    fn round_trip_and_corrupt_file_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert_eq!(load(&path).unwrap().0, Persisted::default());
        let p = sample();
        save(&path, &p).unwrap();
        assert_eq!(load(&path).unwrap(), (p, None));
        std::fs::write(&path, b"{not json").unwrap();
        let (loaded, warning) = load(&path).unwrap();
        assert_eq!(loaded, Persisted::default());
        assert!(warning.unwrap().contains("corrupt"));
        let kept = named(dir.path(), "state.json.corrupt-");
        assert_eq!(kept.len(), 1);
        assert_eq!(std::fs::read(&kept[0]).unwrap(), b"{not json");
        // A second corrupt file the same second gets its own copy.
        std::fs::write(&path, b"again").unwrap();
        load(&path).unwrap();
        assert_eq!(named(dir.path(), "state.json.corrupt-").len(), 2);
    }

    /// The committed fixture of today's format loads with every key and record intact.
    #[test]
    fn v1_fixture_loads_intact() {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/state-v1.json"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::copy(fixture, &path).unwrap();
        let (p, warning) = load(&path).unwrap();
        assert_eq!(warning, None);
        assert_eq!(p.version, 1);
        let keys: Vec<&str> = p.keys.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["dir:/home/ada/notes", "git:/home/ada/src/cap", "review-bot"]
        );
        let cap = &p.keys["git:/home/ada/src/cap"];
        assert_eq!(cap.current.as_deref(), Some("codex"));
        let claude = &cap.agents["claude"];
        assert_eq!(claude.cwd, PathBuf::from("/home/ada/src/cap/crates"));
        assert_eq!(
            claude.native_id.as_deref(),
            Some("5f0c7c2e-2a8e-4c1e-9d8e-3b1f1e0c9a11")
        );
        assert_eq!(claude.model.as_deref(), Some("sonnet"));
        assert!(claude.parked);
        let codex = &cap.agents["codex"];
        assert_eq!(codex.native_id.as_deref(), Some("thr_01J9Z8Q4"));
        assert!(!codex.parked);
        assert_eq!(codex.model, None);
        let notes = &p.keys["dir:/home/ada/notes"];
        assert_eq!(notes.current.as_deref(), Some("gemini"));
        assert_eq!(notes.agents["gemini"].native_id, None);
        assert_eq!(p.keys["review-bot"].current, None);
        assert_eq!(p.keys["review-bot"].agents.len(), 1);
        // And survives a save unchanged.
        save(&path, &p).unwrap();
        assert_eq!(load(&path).unwrap().0, p);
    }

    #[test]
    fn a_newer_version_is_kept_aside_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let newer = br#"{"version": 99, "keys": {}, "flux": [1, 2]}"#;
        std::fs::write(&path, newer).unwrap();
        let (p, warning) = load(&path).unwrap();
        assert_eq!(p, Persisted::default());
        let warning = warning.unwrap();
        assert!(warning.contains("version 99"), "{warning}");
        assert!(warning.contains("rename it back"), "{warning}");
        let kept = named(dir.path(), "state.json.v99-");
        assert_eq!(kept.len(), 1, "{warning}");
        assert_eq!(std::fs::read(&kept[0]).unwrap(), newer);
        assert!(!path.exists());
    }

    #[test]
    fn an_unreadable_state_path_is_kept_aside() {
        // Root reads any file, so a directory stands in for "cannot be read" here; the e2e
        // test covers a mode-000 file as an ordinary user.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"x").unwrap();
        let (p, warning) = load(&path).unwrap();
        assert_eq!(p, Persisted::default());
        assert!(warning.unwrap().contains("unreadable"));
        let kept = named(dir.path(), "state.json.unreadable-");
        assert_eq!(kept.len(), 1);
        assert!(kept[0].join("inside").exists());
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap().0, sample());
    }

    #[test]
    fn a_file_that_cannot_be_moved_aside_stops_the_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{}").unwrap();
        let denied = |_: &Path, _: &Path| Err(std::io::ErrorKind::PermissionDenied.into());
        let err = keep_aside_with(&path, "unreadable", "cannot be read", denied).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("refuses to start"), "{msg}");
        assert!(msg.contains("cannot be read"), "{msg}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"{}",
            "the original is untouched"
        );
    }

    #[test]
    fn huge_and_symlinked_state_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(MAX_STATE_BYTES + 1).unwrap();
        let (_, warning) = load(&path).unwrap();
        assert!(warning.unwrap().contains("MiB limit"));
        assert_eq!(named(dir.path(), "state.json.toolarge-").len(), 1);
        let victim = dir.path().join("victim.json");
        std::fs::write(&victim, br#"{"version":1,"keys":{}}"#).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
    }

    #[test]
    fn saves_are_private_and_never_write_through_a_planted_temp_link() {
        let dir = tempfile::tempdir().unwrap();
        let state_dir = dir.path().join("cap");
        let path = state_dir.join("state.json");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        save(&path, &Persisted::default()).unwrap();
        assert_eq!(mode(&state_dir), 0o700, "a created state dir is private");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, PathBuf::from(tmp)).unwrap();
        save(&path, &sample()).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(load(&path).unwrap().0, sample());
    }
}
