//! Working directories as clients send them, made absolute and canonical on this machine.
//!
//! A local `cap` sends a canonical path already. A `cap --host` on another machine cannot:
//! the directory is capd's (it runs where the files are), so it sends `-C DIR` as the user
//! typed it and lets capd resolve it here. A relative path is taken from the home
//! directory, as `scp host:dir` does, and `.` (what a remote `--key` prompt without `-C`
//! sends) is the home directory itself. Resolving here also keeps the default key of a
//! directory the same whichever way the path was spelled.

use cap_proto::request::Op;
use cap_proto::{ErrorBody, ErrorCode};
use std::path::{Path, PathBuf};

/// Resolves every working directory `op` carries.
pub fn resolve(op: &mut Op) -> Result<(), ErrorBody> {
    match op {
        Op::Prompt(p) => p.route.cwd = dir(&p.route.cwd)?,
        Op::Open(o) => o.route.cwd = dir(&o.route.cwd)?,
        Op::End(t) | Op::Cancel(t) => optional(&mut t.cwd)?,
        Op::Fork(f) => optional(&mut f.source.cwd)?,
        Op::Log(l) => optional(&mut l.cwd)?,
        _ => {}
    }
    Ok(())
}

fn optional(cwd: &mut Option<PathBuf>) -> Result<(), ErrorBody> {
    if let Some(c) = cwd {
        *c = dir(c)?;
    }
    Ok(())
}

/// `path` made absolute (from the home directory) and canonical; it must be a directory.
fn dir(path: &Path) -> Result<PathBuf, ErrorBody> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let home = dirs::home_dir().ok_or_else(|| {
            usage(format!(
                "the working directory {} is relative and capd's user has no home directory \
                 to take it from; pass an absolute -C DIR",
                path.display()
            ))
        })?;
        home.join(path)
    };
    let canon = absolute.canonicalize().map_err(|e| {
        usage(format!(
            "cannot use {} as the working directory on {}: {e}; pass an existing directory \
             to -C",
            absolute.display(),
            hostname()
        ))
    })?;
    if !canon.is_dir() {
        return Err(usage(format!(
            "{} is not a directory on {}; pass a directory to -C",
            absolute.display(),
            hostname()
        )));
    }
    Ok(canon)
}

fn usage(message: String) -> ErrorBody {
    ErrorBody::new(ErrorCode::Usage, message)
}

/// This machine's name for messages, so a remote user knows where the path was looked up.
fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "capd's machine".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_start_at_home_and_missing_ones_are_usage_errors() {
        let home = dirs::home_dir().expect("a home directory");
        assert_eq!(dir(Path::new(".")).unwrap(), home.canonicalize().unwrap());
        let tmp = std::env::temp_dir().canonicalize().unwrap();
        assert_eq!(dir(&tmp).unwrap(), tmp);
        let e = dir(Path::new("/no/such/dir/for/cap")).unwrap_err();
        assert_eq!(e.code, ErrorCode::Usage);
        assert!(e.message.contains("/no/such/dir/for/cap"), "{}", e.message);
    }
}
