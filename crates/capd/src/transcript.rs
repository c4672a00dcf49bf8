//! Transcript files: one append-only JSON Lines file per native session,
//! `<state dir>/cap/transcripts/<agent>/<native id>.jsonl`.
//!
//! The file is named by the native id, not the daemon session id, so a conversation resumed
//! after an idle sweep, an agent crash, an eviction or a daemon restart keeps writing to the
//! same file. Files are created 0600 without following symlinks through [`crate::persist::files`],
//! like the daemon's other files: a transcript holds everything the user and the agent said.

use crate::persist::files;
use cap_proto::transcript::{self, Record};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Where transcripts live, next to the state file.
pub fn dir(state_file: &Path) -> PathBuf {
    state_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("transcripts")
}

/// The file of one native session. `None` when the agent or native id could not be one path
/// component (empty, `.`, `..`, a slash): an agent's word never picks a path outside the dir.
pub fn path(dir: &Path, agent: &str, native: &str) -> Option<PathBuf> {
    let safe = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\0']);
    (safe(agent) && safe(native)).then(|| dir.join(agent).join(format!("{native}.jsonl")))
}

/// Appends records in one write, so a reader never sees half a turn of one record and a crash
/// loses at most the write in progress.
pub fn append(path: &Path, records: &[Record]) -> io::Result<()> {
    let mut buf = Vec::new();
    for r in records {
        serde_json::to_writer(&mut buf, r).map_err(io::Error::other)?;
        buf.push(b'\n');
    }
    if let Some(parent) = path.parent() {
        files::create_private_dir(parent)?;
    }
    let mut file = files::open_append(path, "transcript")?;
    file.write_all(&buf)
}

/// The records of a file, read up to `limit` bytes (a follower reads only what was there
/// when it subscribed); a missing file has none.
pub fn read(path: &Path, limit: Option<u64>) -> io::Result<Vec<Record>> {
    let file = match files::open_read(path, "transcript") {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut text = Vec::new();
    file.take(limit.unwrap_or(u64::MAX))
        .read_to_end(&mut text)?;
    Ok(transcript::parse(&String::from_utf8_lossy(&text)))
}

/// The size of a file now (0 when missing).
pub fn len(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).map_or(0, |m| m.len())
}

/// Finds the file of native id `native` under any agent.
pub fn find(dir: &Path, native: &str) -> Option<(String, PathBuf)> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let agent = entry.file_name().to_string_lossy().into_owned();
        if let Some(p) = path(dir, &agent, native)
            && p.is_file()
        {
            return Some((agent, p));
        }
    }
    None
}

/// Retention: deletes transcript files not modified for `keep` before `now`. Returns how many
/// went. Errors are skipped: a file that cannot be removed now is tried at the next sweep.
pub fn sweep(dir: &Path, keep: Duration, now: SystemTime) -> usize {
    let Ok(agents) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for agent in agents.flatten() {
        if !agent.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(agent.path()) else {
            continue;
        };
        for f in files.flatten() {
            let Ok(meta) = f.metadata() else { continue };
            let old = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age >= keep);
            let ours = f.path().extension().is_some_and(|e| e == "jsonl");
            if meta.is_file() && ours && old && std::fs::remove_file(f.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use cap_proto::transcript::Entry;
    use std::os::unix::fs::PermissionsExt;

    fn rec(text: &str) -> Record {
        Record::now("s", "r", "a", Entry::Text { text: text.into() })
    }

    #[test]
    fn appends_privately_and_reads_back() {
        let tmp = tempfile::tempdir().unwrap();
        let p = path(tmp.path(), "claude", "n1").unwrap();
        append(&p, &[rec("one")]).unwrap();
        append(&p, &[rec("two")]).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let got = read(&p, None).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(read(&p, Some(len(&p) / 2)).unwrap().len(), 1);
        assert_eq!(
            find(tmp.path(), "n1").map(|f| f.0).as_deref(),
            Some("claude")
        );
    }

    #[test]
    fn unsafe_names_and_symlinks_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(path(tmp.path(), "claude", "../x").is_none());
        assert!(path(tmp.path(), "..", "x").is_none());
        let p = path(tmp.path(), "claude", "n").unwrap();
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let target = tmp.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, &p).unwrap();
        assert!(append(&p, &[rec("x")]).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn sweep_removes_only_old_transcripts() {
        let tmp = tempfile::tempdir().unwrap();
        let p = path(tmp.path(), "claude", "n").unwrap();
        append(&p, &[rec("x")]).unwrap();
        let day = Duration::from_secs(86_400);
        assert_eq!(sweep(tmp.path(), 30 * day, SystemTime::now()), 0);
        assert!(p.exists());
        assert_eq!(sweep(tmp.path(), 30 * day, SystemTime::now() + 31 * day), 1);
        assert!(!p.exists());
    }
}
