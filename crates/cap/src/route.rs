//! Turning routing flags into protocol values, client-side parts included: the working
//! directory is made absolute here (the daemon may run elsewhere) and `--preamble FILE` is
//! read here (the daemon may not be allowed to read the caller's files).

use crate::cli::{NonInteractive, PermissionArgs, RouteArgs, TargetArgs};
use crate::failure::Failure;
use cap_proto::policy::{Mode, Rules};
use cap_proto::request::{Asker, OpenMode, Permissions};
use cap_proto::request::{Route, TargetRequest};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The host (`--host`) whose capd this process talks to, set once at start. Where the daemon
/// runs decides what a directory means, and every routing flag depends on it.
static REMOTE: OnceLock<String> = OnceLock::new();

/// Says that directories name places on `host`, not here.
pub fn set_remote(host: String) {
    let _ = REMOTE.set(host);
}

/// The usage error of a remote command that would need this machine's current directory.
fn needs_dir(host: &str) -> Failure {
    Failure::usage(format!(
        "the current directory means nothing on {host}: pass -C DIR (a directory on {host}) \
         or --key KEY"
    ))
}

/// The canonical working directory: `-C DIR` or the current one. A missing or non-directory
/// path is a usage error. With `--host`, `-C DIR` is sent as given (capd resolves it on its
/// own machine, a relative one from the home directory there, like scp) and there is no
/// current directory to fall back on.
pub fn cwd(dir: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(host) = REMOTE.get() {
        return dir.map(Path::to_path_buf).ok_or_else(|| needs_dir(host));
    }
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().map_err(|e| {
            Failure::usage(format!(
                "cannot tell the current directory ({e}); pass -C DIR"
            ))
        })?,
    };
    let canon = dir.canonicalize().map_err(|e| {
        Failure::usage(format!(
            "cannot use {} as the working directory: {e}",
            dir.display()
        ))
    })?;
    if !canon.is_dir() {
        return Err(Failure::usage(format!(
            "{} is not a directory; pass an existing directory to -C",
            dir.display()
        )));
    }
    Ok(canon)
}

/// The protocol [`Route`] for `prompt` and `open`.
pub fn route(args: &RouteArgs) -> Result<Route, Failure> {
    let preamble = match &args.preamble {
        Some(file) => Some(std::fs::read_to_string(file).map_err(|e| {
            Failure::usage(format!(
                "cannot read the preamble file {}: {e}",
                file.display()
            ))
        })?),
        None => None,
    };
    let mcp_servers = match &args.mcp_config {
        Some(file) => Some(mcp_config(file)?),
        None => None,
    };
    Ok(Route {
        agent: args.agent.clone(),
        key: args.key.clone(),
        session: args.session.clone(),
        open: if args.new {
            Some(OpenMode::Fresh)
        } else if let Some(id) = &args.resume {
            Some(OpenMode::Resume(id.clone()))
        } else if args.continue_last {
            Some(OpenMode::Continue)
        } else {
            None
        },
        cwd: route_cwd(args)?,
        model: args.model.clone(),
        preamble,
        permissions: Some(permissions(&args.permissions, Asker::Nobody)),
        mcp_servers,
    })
}

/// Reads and checks `--mcp-config FILE` here, so a bad file is refused before anything is
/// sent.
fn mcp_config(file: &Path) -> Result<cap_proto::mcp::McpServers, Failure> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Failure::usage(format!(
            "cannot read the MCP config file {}: {e}",
            file.display()
        ))
    })?;
    cap_proto::mcp::parse_config(&text).map_err(|e| {
        Failure::usage(format!(
            "cannot use the MCP config file {}: {e}",
            file.display()
        ))
    })
}

/// A route's working directory. On a remote host a route named by `--key` or `--session`
/// needs no `-C`: its session (if new) starts in the home directory there.
fn route_cwd(args: &RouteArgs) -> Result<PathBuf, Failure> {
    let named = args.key.is_some() || args.session.is_some();
    if REMOTE.get().is_some() && args.cwd.is_none() && named {
        return Ok(PathBuf::from("."));
    }
    cwd(args.cwd.as_deref())
}

/// The permission policy the flags ask for; `asker` says who answers open questions, unless
/// `--non-interactive` says nobody does.
pub fn permissions(args: &PermissionArgs, asker: Asker) -> Permissions {
    let mode = if args.approve_all {
        Some(Mode::ApproveAll)
    } else if args.deny_all {
        Some(Mode::DenyAll)
    } else {
        args.permissions
    };
    let asker = match args.non_interactive {
        Some(NonInteractive::Fail) => Asker::Fail,
        Some(NonInteractive::Deny) => Asker::Nobody,
        None => asker,
    };
    Permissions {
        mode,
        rules: Rules {
            allow: args.allow.clone(),
            deny: args.deny.clone(),
            ask: args.ask.clone(),
        },
        asker,
    }
}

/// The protocol target for `end` and `cancel`: by id, by key, or the directory's default key.
pub fn target(args: &TargetArgs) -> Result<TargetRequest, Failure> {
    let cwd = if args.id.is_none() && args.key.is_none() {
        Some(cwd(args.cwd.as_deref())?)
    } else {
        None
    };
    Ok(TargetRequest {
        session: args.id.clone(),
        key: args.key.clone(),
        cwd,
        request: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_dir_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = cwd(Some(&dir.path().join("nope"))).unwrap_err();
        assert_eq!(err.code, 2);
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert_eq!(cwd(Some(&file)).unwrap_err().code, 2);
        assert_eq!(
            cwd(Some(dir.path())).unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    #[test]
    fn preamble_is_read_client_side() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pre.md");
        std::fs::write(&file, "be brief").unwrap();
        let args = RouteArgs {
            preamble: Some(file),
            cwd: Some(dir.path().to_path_buf()),
            ..RouteArgs::default()
        };
        let r = route(&args).unwrap();
        assert_eq!(r.preamble.as_deref(), Some("be brief"));
        assert!(r.cwd.is_absolute());
        let args = RouteArgs {
            preamble: Some(dir.path().join("missing")),
            ..args
        };
        assert_eq!(route(&args).unwrap_err().code, 2);
    }

    #[test]
    fn target_uses_cwd_only_without_id_or_key() {
        let dir = tempfile::tempdir().unwrap();
        let t = target(&TargetArgs {
            id: None,
            key: None,
            cwd: Some(dir.path().to_path_buf()),
        })
        .unwrap();
        assert!(t.cwd.is_some());
        let t = target(&TargetArgs {
            id: Some("s".into()),
            key: None,
            cwd: None,
        })
        .unwrap();
        assert!(t.cwd.is_none() && t.session.as_deref() == Some("s"));
    }
}
