//! `cap daemon install-service`: start capd at login the platform's own way.
//!
//! - Linux: the systemd user units of `contrib/systemd` (socket activation: the user
//!   manager holds capd's socket from login on and starts capd on the first connection),
//!   written to `<config dir>/systemd/user/` and enabled with `systemctl --user`.
//! - macOS: the launchd agent of `contrib/launchd`, written to `~/Library/LaunchAgents/` and
//!   loaded with `launchctl bootstrap`.
//!
//! The files are the ones in `contrib/`, with the paths filled in: the `capd` that `cap`
//! would autostart, and the installing shell's `PATH`, because the agents capd runs are
//! found on `PATH` and a service manager's default one rarely has `~/.local/bin` or npm's
//! bin directory. A capd already running (started by `cap`) is stopped first, or it would
//! keep the socket from the service.

use crate::Ctx;
use crate::cli::{Format, InstallServiceArgs};
use crate::failure::Failure;
use crate::output::{self, print_json};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

const SYSTEMD_SOCKET: &str = include_str!("../../../../../contrib/systemd/capd.socket");
const SYSTEMD_SERVICE: &str = include_str!("../../../../../contrib/systemd/capd.service");
const LAUNCHD_PLIST: &str = include_str!("../../../../../contrib/launchd/cap.capd.plist");
/// The launchd label, and the plist's file name without `.plist`.
const LAUNCHD_LABEL: &str = "cap.capd";

/// What installing means on this platform: files to write, then commands to run.
#[derive(Debug)]
struct Plan {
    files: Vec<(PathBuf, String)>,
    commands: Vec<Vec<String>>,
}

pub fn run(ctx: &Ctx, args: InstallServiceArgs) -> anyhow::Result<()> {
    let capd = crate::connect::find_capd().ok_or_else(|| {
        Failure::new(
            4,
            "capd not found next to cap or on PATH; install both first (see the README)",
        )
    })?;
    let path_var = std::env::var("PATH").unwrap_or_default();
    let plan = if cfg!(target_os = "macos") {
        launchd(ctx, &capd, &path_var)?
    } else if cfg!(target_os = "linux") {
        systemd(ctx, &capd, &path_var)?
    } else {
        return Err(Failure::usage(
            "install-service knows systemd (Linux) and launchd (macOS); start capd at login \
             with your platform's own tools: it only needs `capd` run in the background",
        )
        .into());
    };
    if args.dry_run {
        return print_plan(ctx, &plan, !args.no_enable);
    }
    for (path, text) in &plan.files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::write(path, text)
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
        crate::render::note(ctx, &format!("wrote {}", path.display()));
    }
    if args.no_enable {
        return done(ctx, &plan, false);
    }
    if super::stop(ctx)?.is_some() {
        crate::render::note(
            ctx,
            "stopped the running capd; the service starts the next one",
        );
    }
    for cmd in &plan.commands {
        let status = Command::new(&cmd[0])
            .args(&cmd[1..])
            .status()
            .map_err(|e| {
                Failure::runtime(format!("cannot run {}: {e}; the files are written", cmd[0]))
            })?;
        if !status.success() {
            return Err(Failure::runtime(format!(
                "`{}` failed ({status}); the files are written, enable them by hand",
                cmd.join(" ")
            ))
            .into());
        }
    }
    done(ctx, &plan, true)
}

fn done(ctx: &Ctx, plan: &Plan, enabled: bool) -> anyhow::Result<()> {
    let files: Vec<_> = plan.files.iter().map(|(p, _)| p).collect();
    match ctx.format {
        Format::Json => print_json(&json!({"files": files, "enabled": enabled})),
        Format::Quiet => Ok(()),
        Format::Text if enabled => output::println("capd now starts at login"),
        Format::Text => output::println(&format!(
            "written, not enabled; to enable: {}",
            plan.commands
                .iter()
                .map(|c| c.join(" "))
                .collect::<Vec<_>>()
                .join(" && ")
        )),
    }
}

fn print_plan(ctx: &Ctx, plan: &Plan, enable: bool) -> anyhow::Result<()> {
    let commands: &[Vec<String>] = if enable { &plan.commands } else { &[] };
    if ctx.format == Format::Json {
        let files: Vec<_> = plan
            .files
            .iter()
            .map(|(p, t)| json!({"path": p, "content": t}))
            .collect();
        return print_json(&json!({"files": files, "commands": commands}));
    }
    let mut text = String::new();
    for (path, content) in &plan.files {
        text.push_str(&format!("# {}\n{content}\n", path.display()));
    }
    for c in commands {
        text.push_str(&format!("$ {}\n", c.join(" ")));
    }
    output::print(&text)
}

fn home() -> Result<PathBuf, Failure> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| Failure::usage("HOME is not set; cannot tell where user services go"))
}

/// The systemd user units, with `ExecStart` naming `capd` and `PATH` set.
fn systemd(ctx: &Ctx, capd: &Path, path_var: &str) -> Result<Plan, Failure> {
    let dir = match std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => home()?.join(".config"),
    }
    .join("systemd")
    .join("user");
    let mut exec = vec![systemd_word(&capd.display().to_string())];
    if let Some(config) = &ctx.config {
        exec.push("--config".into());
        exec.push(systemd_word(&config.display().to_string()));
    }
    let mut service = String::new();
    for line in SYSTEMD_SERVICE.lines() {
        if line.starts_with("ExecStart=") {
            service.push_str(&format!("ExecStart={}\n", exec.join(" ")));
            service.push_str(&format!(
                "Environment={}\n",
                systemd_word(&format!("PATH={path_var}"))
            ));
        } else {
            service.push_str(line);
            service.push('\n');
        }
    }
    // The socket goes where this cap looks for it; the unit's `%t` form when that is the
    // default place.
    let default = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|run| PathBuf::from(run).join("cap").join("capd.sock"));
    let socket = if default.as_deref() == Some(ctx.socket.as_path()) {
        None
    } else {
        Some(ctx.socket.display().to_string())
    };
    let mut unit = String::new();
    for line in SYSTEMD_SOCKET.lines() {
        match (&socket, line.starts_with("ListenStream=")) {
            (Some(s), true) => unit.push_str(&format!("ListenStream={}\n", systemd_word(s))),
            _ => {
                unit.push_str(line);
                unit.push('\n');
            }
        }
    }
    let systemctl = |args: &[&str]| {
        std::iter::once("systemctl")
            .chain(args.iter().copied())
            .map(String::from)
            .collect::<Vec<_>>()
    };
    Ok(Plan {
        files: vec![
            (dir.join("capd.socket"), unit),
            (dir.join("capd.service"), service),
        ],
        commands: vec![
            systemctl(&["--user", "daemon-reload"]),
            systemctl(&["--user", "enable", "--now", "capd.socket"]),
        ],
    })
}

/// One word of a systemd unit setting: `%` doubled (specifiers), quoted when it holds
/// spaces, quotes or backslashes.
fn systemd_word(s: &str) -> String {
    let s = s.replace('%', "%%");
    if s.chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\\' || c == '\'')
    {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s
    }
}

/// The launchd agent, with the program, `PATH` and log file filled in.
fn launchd(_ctx: &Ctx, capd: &Path, path_var: &str) -> Result<Plan, Failure> {
    let home = home()?;
    let file = home
        .join("Library/LaunchAgents")
        .join(format!("{LAUNCHD_LABEL}.plist"));
    let log = home.join("Library/Logs/capd.log");
    let plist = render_plist(capd, path_var, &log);
    let uid = nix::unistd::getuid();
    let file_s = file.display().to_string();
    Ok(Plan {
        files: vec![(file, plist)],
        commands: vec![
            // Replaces an agent loaded before; the first time there is nothing to boot out,
            // which launchctl reports and this ignores by running it through `sh`.
            vec![
                "sh".into(),
                "-c".into(),
                format!("launchctl bootout gui/{uid}/{LAUNCHD_LABEL} 2>/dev/null; true"),
            ],
            vec![
                "launchctl".into(),
                "bootstrap".into(),
                format!("gui/{uid}"),
                file_s,
            ],
        ],
    })
}

fn render_plist(capd: &Path, path_var: &str, log: &Path) -> String {
    LAUNCHD_PLIST
        .replace(
            "<string>CAPD</string>",
            &format!("<string>{}</string>", xml(&capd.display().to_string())),
        )
        .replace(
            "<string>PATH_VALUE</string>",
            &format!("<string>{}</string>", xml(path_var)),
        )
        .replace(
            "<string>LOG_PATH</string>",
            &format!("<string>{}</string>", xml(&log.display().to_string())),
        )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_words_are_escaped() {
        assert_eq!(systemd_word("/usr/bin/capd"), "/usr/bin/capd");
        assert_eq!(systemd_word("/a b/capd"), "\"/a b/capd\"");
        assert_eq!(systemd_word("/100%/x"), "/100%%/x");
        assert_eq!(systemd_word("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn the_plist_gets_its_paths() {
        let p = render_plist(
            Path::new("/opt/cap & co/capd"),
            "/usr/bin:/bin",
            Path::new("/Users/me/Library/Logs/capd.log"),
        );
        assert!(p.contains("<string>/opt/cap &amp; co/capd</string>"), "{p}");
        assert!(p.contains("<string>/usr/bin:/bin</string>"), "{p}");
        assert!(p.contains("<string>/Users/me/Library/Logs/capd.log</string>"));
        for placeholder in ["CAPD", "PATH_VALUE", "LOG_PATH"] {
            assert!(
                !p.contains(&format!("<string>{placeholder}</string>")),
                "{p}"
            );
        }
        assert!(p.contains(&format!("<string>{LAUNCHD_LABEL}</string>")));
    }
}
