//! Where cap keeps its socket, state, config and logs (SPEC §4 and §6).
//!
//! All paths follow the XDG base directories through `dirs`, so tests isolate a daemon by
//! pointing `XDG_RUNTIME_DIR`, `XDG_STATE_HOME` and `XDG_CONFIG_HOME` at a temp dir.

use std::path::{Path, PathBuf};

/// The per-user state directory: `<state dir>/cap`, falling back to the data dir, then to a
/// folder in the temp dir when the platform knows neither.
pub fn state_dir() -> PathBuf {
    dirs::state_dir()
        .or_else(dirs::data_dir)
        .unwrap_or_else(|| std::env::temp_dir().join("cap-state"))
        .join("cap")
}

/// The state file, `<state dir>/cap/state.json`.
pub fn state_file() -> PathBuf {
    state_dir().join("state.json")
}

/// The daemon's log when it runs detached, `<state dir>/cap/capd.log`.
pub fn log_file() -> PathBuf {
    state_dir().join("capd.log")
}

/// The socket: `explicit`, else `$CAP_SOCKET`, else `<runtime dir>/cap/capd.sock`, with the
/// runtime dir falling back to `<state dir>/cap/run` where there is none.
pub fn socket_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("CAP_SOCKET").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    match dirs::runtime_dir() {
        Some(run) => run.join("cap").join("capd.sock"),
        None => state_dir().join("run").join("capd.sock"),
    }
}

/// The pid file that guards one daemon per socket: the socket path with `.pid` appended.
pub fn pid_file(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".pid");
    PathBuf::from(name)
}

/// The config file: `explicit`, else `$CAP_CONFIG`, else `<config dir>/cap/config.toml`.
pub fn config_file(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("CAP_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    dirs::config_dir().map(|d| d.join("cap").join("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_sits_beside_the_socket() {
        assert_eq!(
            pid_file(Path::new("/run/u/cap/capd.sock")),
            PathBuf::from("/run/u/cap/capd.sock.pid")
        );
    }

    #[test]
    fn explicit_socket_wins() {
        assert_eq!(
            socket_path(Some(Path::new("/x/y.sock"))),
            PathBuf::from("/x/y.sock")
        );
    }
}
