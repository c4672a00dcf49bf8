//! Routing keys.

use std::path::{Path, PathBuf};

/// The default key for a working directory: `dir:<canonical git root>`, or `dir:<canonical
/// cwd>` outside a git repository. Every shell in the same repository therefore shares one
/// warm session unless it asks for another key.
pub fn default_key(cwd: &Path) -> String {
    let canon = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    let root = git_root(&canon).unwrap_or(canon);
    format!("dir:{}", root.display())
}

/// The nearest ancestor (or `dir` itself) holding a `.git` entry (a directory, or a file for
/// worktrees and submodules).
pub fn git_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|a| a.join(".git").exists())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_git_root_or_cwd() {
        let tmp = std::env::temp_dir().join(format!("cap-key-test-{}", std::process::id()));
        let sub = tmp.join("repo/a/b");
        std::fs::create_dir_all(&sub).unwrap();
        let plain = tmp.join("plain");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(tmp.join("repo/.git")).unwrap();
        let repo = tmp.join("repo").canonicalize().unwrap();
        assert_eq!(default_key(&sub), format!("dir:{}", repo.display()));
        let plain_c = plain.canonicalize().unwrap();
        // `plain` may itself sit inside a repository (the temp dir normally does not).
        let expect = git_root(&plain_c).unwrap_or(plain_c);
        assert_eq!(default_key(&plain), format!("dir:{}", expect.display()));
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
