//! Creating and opening the daemon's own files safely: the state file and its temp files, the
//! log, and the pid file.
//!
//! They hold session ids, paths and working directories, so they are private to the user
//! whatever the umask (directories 0700, files 0600), and they live in directories other
//! programs may be able to write to (`--socket /tmp/x.sock`), so capd never follows a symlink
//! it finds where one of its files should be: a planted link could otherwise make it
//! truncate or append to any file the user can write.

use nix::fcntl::OFlag;
use std::fs::{File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file capd creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory capd creates.
pub const DIR_MODE: u32 = 0o700;

/// The error for a symlink found where one of capd's files should be, naming the path.
pub fn symlink_refused(path: &Path, what: &str) -> io::Error {
    io::Error::other(format!(
        "{what} {} is a symbolic link; capd never follows links for its own files (one could \
         make it overwrite another file): remove the link, or replace it with a regular file",
        path.display()
    ))
}

/// Whether `path` itself (not what it points to) is a symlink.
pub fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Creates `dir` and its missing parents with mode 0700. An existing directory is left as it
/// is: it may be a shared one such as `/tmp` that a `--socket` or state path points into, and
/// capd must never change the mode of a directory it did not create.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    // The umask may have removed bits the owner needs; set the mode exactly.
    std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
}

/// Opens `path` for appending, creating it 0600, refusing a symlink; an existing file is
/// made 0600 too. For the log.
pub fn open_append(path: &Path, what: &str) -> io::Result<File> {
    let file = open(
        path,
        what,
        OpenOptions::new().append(true).create(true).to_owned(),
    )?;
    make_private(&file, path, what)?;
    Ok(file)
}

/// Opens `path` read-write, creating it 0600, without truncating and refusing a symlink;
/// an existing file is made 0600 too. For the pid file, which must be locked before it is
/// emptied.
pub fn open_rw(path: &Path, what: &str) -> io::Result<File> {
    let file = open(
        path,
        what,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .to_owned(),
    )?;
    make_private(&file, path, what)?;
    Ok(file)
}

/// Creates `path` as a new 0600 file; fails if anything (a file, a link) is already there.
/// For temp files, whose names another process could guess.
pub fn create_new(path: &Path, what: &str) -> io::Result<File> {
    let file = open(
        path,
        what,
        OpenOptions::new().write(true).create_new(true).to_owned(),
    )?;
    make_private(&file, path, what)?;
    Ok(file)
}

/// Opens `path` for reading without following a symlink.
pub fn open_read(path: &Path, what: &str) -> io::Result<File> {
    open(path, what, OpenOptions::new().read(true).to_owned())
}

fn open(path: &Path, what: &str, mut options: OpenOptions) -> io::Result<File> {
    if is_symlink(path) {
        return Err(symlink_refused(path, what));
    }
    options
        .mode(FILE_MODE)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC).bits());
    match options.open(path) {
        // ELOOP: a link appeared between the check and the open.
        Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ELOOP as i32) => {
            Err(symlink_refused(path, what))
        }
        other => other,
    }
}

/// Refuses anything but a regular file (a FIFO or a device at a log path) and sets mode 0600
/// exactly, whatever the umask or an older version left. A file of another owner (say, a log
/// root once created) cannot be changed; it is used as it is rather than stopping capd.
fn make_private(file: &File, path: &Path, what: &str) -> io::Result<()> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "{what} {} is not a regular file; move it away",
            path.display()
        )));
    }
    if meta.mode() & 0o777 != FILE_MODE && meta.uid() == nix::unistd::geteuid().as_raw() {
        file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn files_are_0600_and_dirs_0700() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a").join("b");
        create_private_dir(&sub).unwrap();
        assert_eq!(mode(&sub), 0o700);
        let log = sub.join("log");
        std::fs::write(&log, b"old\n").unwrap();
        std::fs::set_permissions(&log, Permissions::from_mode(0o644)).unwrap();
        let mut f = open_append(&log, "log").unwrap();
        f.write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read(&log).unwrap(), b"old\nnew\n");
        assert_eq!(mode(&log), 0o600, "an existing file is tightened");
        let tmp = sub.join("tmp");
        create_new(&tmp, "temp file").unwrap();
        assert_eq!(mode(&tmp), 0o600);
        assert!(
            create_new(&tmp, "temp file").is_err(),
            "never reuses a file"
        );
        std::fs::set_permissions(&sub, Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&sub).unwrap();
        assert_eq!(
            mode(&sub),
            0o755,
            "an existing directory is not ours to change"
        );
    }

    #[test]
    fn symlinks_are_refused_and_their_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for result in [
            open_append(&link, "log").map(drop),
            open_rw(&link, "pid file").map(drop),
            create_new(&link, "temp file").map(drop),
            open_read(&link, "state file").map(drop),
        ] {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("symbolic link"), "{err}");
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        // A dangling link is refused too (create_new would otherwise create its target).
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(create_new(&dangling, "temp file").is_err());
        assert!(!dir.path().join("nowhere").exists());
    }
}
