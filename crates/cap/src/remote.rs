//! `--host`: talking to the capd of another machine through the user's own OpenSSH.
//!
//! No protocol of our own crosses the network. `cap` runs `ssh -T … -- HOST cap daemon
//! dial-stdio` (Docker does the same with `docker system dial-stdio`), hands ssh one end of a
//! Unix socket pair as both its stdin and stdout, and speaks the ordinary protocol over the
//! other end. On the far side `cap daemon dial-stdio` starts capd if needed and copies bytes
//! between its stdio and capd's socket. Authentication, host keys, jump hosts and
//! multiplexing are whatever the user's ssh is configured to do.
//!
//! A host is named `ssh://[user@]host[:port]`, or by a name from the client config:
//!
//! ```toml
//! [hosts.build]
//! url = "ssh://me@build.example"
//! cap = "~/.cargo/bin/cap"   # the remote cap, when it is not on the non-interactive PATH
//! ```

use crate::Ctx;
use crate::connect::{Conn, client_name};
use crate::failure::Failure;
use cap_proto::ProtoError;
use cap_proto::client::Client;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The ssh program, overridable (with arguments, split like a shell would) by this variable.
pub const SSH_ENV: &str = "CAP_SSH";
/// How much of ssh's stderr is kept to explain a failure.
const STDERR_KEEP: usize = 16 * 1024;

/// A remote capd to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// What the user called it (`build`, or the URL), for messages.
    pub label: String,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// The `cap` program on the remote side.
    pub cap: String,
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// `[hosts.NAME]` in the config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostEntry {
    url: String,
    cap: Option<String>,
}

/// Only the part of the config file `cap` itself reads; the rest is capd's.
#[derive(Debug, Default, Deserialize)]
struct ClientConfig {
    #[serde(default)]
    hosts: BTreeMap<String, HostEntry>,
}

/// Resolves `--host` / `CAP_HOST`: an `ssh://` URL, or the name of a `[hosts.NAME]` table in
/// the config file.
pub fn resolve(value: &str, config: Option<&Path>) -> Result<Host, Failure> {
    if value.contains("://") {
        return parse_url(value, value, None);
    }
    let path = cap_proto::paths::config_file(config);
    let hosts = match &path {
        Some(p) => read_hosts(p)?,
        None => BTreeMap::new(),
    };
    let Some(entry) = hosts.get(value) else {
        let known = if hosts.is_empty() {
            "none are configured".to_string()
        } else {
            format!(
                "configured: {}",
                hosts.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        let file = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the config file".into());
        return Err(Failure::usage(format!(
            "--host {value}: not an ssh:// URL and no [hosts.{value}] in {file} ({known}); \
             pass --host ssh://[user@]host[:port] or add [hosts.{value}] url = \"ssh://…\""
        )));
    };
    parse_url(&entry.url, value, entry.cap.clone())
}

fn read_hosts(path: &Path) -> Result<BTreeMap<String, HostEntry>, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(Failure::usage(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )));
        }
    };
    toml::from_str::<ClientConfig>(&text)
        .map(|c| c.hosts)
        .map_err(|e| {
            Failure::usage(format!(
                "the [hosts] of config file {} are invalid: {e}",
                path.display()
            ))
        })
}

/// Parses `ssh://[user@]host[:port][/]` (an IPv6 address in brackets).
pub fn parse_url(url: &str, label: &str, cap: Option<String>) -> Result<Host, Failure> {
    let bad = |why: &str| {
        Failure::usage(format!(
            "--host {url}: {why}; expected ssh://[user@]host[:port]"
        ))
    };
    let Some(rest) = url.strip_prefix("ssh://") else {
        return Err(bad("only ssh:// hosts are supported"));
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err(bad("a path is not allowed"));
    }
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, rest),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("unclosed [ in the host"))?;
        match after {
            "" => (addr, None),
            p => (
                addr,
                Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?),
            ),
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(&format!("{p:?} is not a port number")))?,
        ),
        None => None,
    };
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('-')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if !plain(host) {
        return Err(bad("the host name is empty or malformed"));
    }
    if let Some(u) = &user
        && !plain(u)
    {
        return Err(bad("the user name is empty or malformed"));
    }
    Ok(Host {
        label: label.to_string(),
        user,
        host: host.to_string(),
        port,
        cap: cap.unwrap_or_else(|| "cap".into()),
    })
}

/// The ssh command line: the program (`$CAP_SSH` or `ssh`), then `-T [-l USER] [-p PORT] --
/// HOST` and the remote command, quoted for the remote shell.
pub fn command_line(host: &Host, autostart: bool) -> Result<Vec<String>, Failure> {
    let ssh = std::env::var(SSH_ENV).ok().filter(|s| !s.trim().is_empty());
    let mut argv = match &ssh {
        Some(s) => shlex::split(s).filter(|v| !v.is_empty()).ok_or_else(|| {
            Failure::usage(format!(
                "{SSH_ENV}={s:?} is not a command line; give e.g. `ssh` or `ssh -F ~/.ssh/other`"
            ))
        })?,
        None => vec!["ssh".to_string()],
    };
    // No pseudo-terminal: the channel carries protocol bytes, which a tty would mangle.
    argv.push("-T".into());
    if let Some(u) = &host.user {
        argv.extend(["-l".into(), u.clone()]);
    }
    if let Some(p) = host.port {
        argv.extend(["-p".into(), p.to_string()]);
    }
    // `--` ends ssh's options, so nothing after it (the host included) is taken for one.
    argv.extend(["--".into(), host.host.clone()]);
    let mut remote = vec![host.cap.as_str(), "daemon", "dial-stdio"];
    if !autostart {
        remote.push("--no-autostart");
    }
    // ssh hands the remote shell one string; quote each word so a path with spaces in
    // `[hosts.NAME] cap` survives. A leading `~/` is left for the shell to expand.
    let quoted = remote
        .iter()
        .map(|w| match w.strip_prefix("~/") {
            Some(rest) => format!("~/{}", quote(rest)),
            None => quote(w),
        })
        .collect::<Vec<_>>()
        .join(" ");
    argv.push(quoted);
    Ok(argv)
}

fn quote(word: &str) -> String {
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| word.to_string())
}

/// Connects to the capd on `host` and says hello, through a new ssh. The handshake is not
/// timed here: ssh bounds the connection (its `ConnectTimeout`), may be asking for a
/// passphrase, and the far side's `dial-stdio` bounds its own wait on capd.
pub fn connect(ctx: &Ctx, host: &Host, autostart: bool) -> Result<Conn, Failure> {
    connect_or_why(ctx, host, autostart).map_err(|u| u.failure)
}

/// Why a connection through ssh failed, with ssh's exit code when it ended.
pub struct Unreached {
    pub failure: Failure,
    /// 6 is the far side's cap saying capd is unavailable; 255 is ssh's own failure.
    pub ssh_exit: Option<i32>,
}

/// [`connect`], keeping ssh's exit code.
pub fn connect_or_why(ctx: &Ctx, host: &Host, autostart: bool) -> Result<Conn, Unreached> {
    let plain = |failure| Unreached {
        failure,
        ssh_exit: None,
    };
    let tunnel = open(host, autostart, ctx.verbose > 0).map_err(plain)?;
    let ours = tunnel.stream.try_clone().map_err(|e| {
        plain(Failure::unavailable(format!(
            "cannot use the socket pair for ssh: {e}"
        )))
    })?;
    let stream = interprocess::local_socket::Stream::from(
        interprocess::os::unix::uds_local_socket::Stream::from(ours),
    );
    match Client::over(stream, &client_name(), None) {
        Ok((client, hello)) => {
            tunnel.detach();
            Ok(Conn { client, hello })
        }
        Err(ProtoError::Closed | ProtoError::Io { .. }) => {
            Err(tunnel.failure(host, "the connection closed before capd said hello"))
        }
        Err(ProtoError::VersionMismatch {
            daemon,
            client,
            daemon_version,
        }) => Err(plain(Failure::unavailable(format!(
            "capd {daemon_version} on {host} speaks protocol {daemon}, but this cap {} \
             speaks {client}; install the same cap version on both machines",
            cap_proto::VERSION
        )))),
        Err(ProtoError::Remote(body)) => Err(plain(Failure::new(
            body.code.exit_code(),
            format!(
                "the capd on {host} refused this cap {}: {}{}",
                cap_proto::VERSION,
                body.message,
                if body.code == cap_proto::ErrorCode::Unavailable {
                    "; install the same cap version on both machines"
                } else {
                    ""
                }
            ),
        ))),
        Err(e) => Err(plain(Failure::new(
            crate::failure::proto_exit_code(&e),
            format!("capd on {host}: {e}"),
        ))),
    }
}

/// A running ssh whose stdio is one end of a socket pair.
pub struct Tunnel {
    /// The other end: the protocol connection.
    pub stream: UnixStream,
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

/// Starts ssh for `host`. Its stderr is kept (and echoed when `echo`) to explain a failure.
pub fn open(host: &Host, autostart: bool, echo: bool) -> Result<Tunnel, Failure> {
    let argv = command_line(host, autostart)?;
    let (ours, theirs) = UnixStream::pair()
        .map_err(|e| Failure::unavailable(format!("cannot create a socket pair for ssh: {e}")))?;
    let theirs_out = theirs
        .try_clone()
        .map_err(|e| Failure::unavailable(format!("cannot create a socket pair for ssh: {e}")))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs_out)))
        .stderr(Stdio::piped());
    {
        use std::os::unix::process::CommandExt;
        // ssh stays in the terminal's process group, so it can still ask for a passphrase
        // or a host key confirmation, but ignores Ctrl-C (ssh keeps an inherited SIG_IGN):
        // the interrupt is cap's to handle, by cancelling the turn over this very
        // connection, which ssh must not drop first.
        // SAFETY: between fork and exec only async-signal-safe calls are allowed, and
        // sigaction (what `signal` uses) is one.
        unsafe {
            cmd.pre_exec(|| {
                use nix::sys::signal::{SigHandler, Signal, signal};
                signal(Signal::SIGINT, SigHandler::SigIgn)
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
    }
    let mut child = cmd.spawn().map_err(|e| {
        Failure::unavailable(format!(
            "cannot run {} to reach {host}: {e}; install OpenSSH's client or point {SSH_ENV} \
             at your ssh",
            argv[0]
        ))
    })?;
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let reader = child.stderr.take().map(|mut pipe| {
        let keep = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if echo {
                    use std::io::Write;
                    let _ = std::io::stderr().write_all(&buf[..n]);
                }
                let mut kept = keep.lock().unwrap_or_else(|e| e.into_inner());
                kept.extend_from_slice(&buf[..n]);
                let excess = kept.len().saturating_sub(STDERR_KEEP);
                kept.drain(..excess);
            }
        })
    });
    Ok(Tunnel {
        stream: ours,
        child,
        stderr,
        reader,
    })
}

impl Tunnel {
    /// The connection works: let ssh run until the connection closes, and reap it then.
    pub fn detach(self) {
        let Tunnel {
            mut child, reader, ..
        } = self;
        std::thread::spawn(move || {
            let _ = child.wait();
            if let Some(r) = reader {
                let _ = r.join();
            }
        });
    }

    /// The handshake failed because the connection closed: ssh (or the remote cap) ended.
    /// Waits for it and says why, in its own words, as a "daemon unavailable" failure.
    pub fn failure(self, host: &Host, what: &str) -> Unreached {
        let Tunnel {
            stream,
            mut child,
            stderr,
            reader,
        } = self;
        drop(stream);
        let status = child.wait().ok();
        if let Some(r) = reader {
            let _ = r.join();
        }
        let said = stderr.lock().map(|b| b.clone()).unwrap_or_default();
        let said = String::from_utf8_lossy(&said).trim().to_string();
        let code = status.and_then(|s| s.code());
        let hint = match code {
            Some(255) => "; check that the host is reachable with plain `ssh` first".to_string(),
            Some(127) => format!(
                "; `{}` was not found on {host}'s PATH for non-interactive ssh commands: \
                 install cap there (`cargo install` puts it in ~/.cargo/bin) and name it with \
                 `cap = \"~/.cargo/bin/cap\"` under [hosts.NAME] in the config",
                host.cap
            ),
            _ => String::new(),
        };
        let exit = match code {
            Some(c) => format!("ssh exited with {c}"),
            None => "ssh was killed".to_string(),
        };
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        };
        Unreached {
            failure: Failure::unavailable(format!(
                "cannot reach capd on {host} ({what}; {exit}){said}{hint}"
            )),
            ssh_exit: code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let h = parse_url("ssh://me@build:2222", "b", None).unwrap();
        assert_eq!(
            (h.user.as_deref(), h.host.as_str(), h.port, h.cap.as_str()),
            (Some("me"), "build", Some(2222), "cap")
        );
        let h = parse_url("ssh://[::1]:22/", "x", Some("/opt/cap".into())).unwrap();
        assert_eq!((h.host.as_str(), h.port), ("::1", Some(22)));
        assert_eq!(h.cap, "/opt/cap");
        let h = parse_url("ssh://build", "x", None).unwrap();
        assert_eq!((h.user, h.port), (None, None));
        for bad in [
            "http://x",
            "ssh://",
            "ssh://-oProxyCommand=x",
            "ssh://h:0",
            "ssh://h:99999",
            "ssh://h/path",
            "ssh://@h",
            "ssh://a b",
        ] {
            let e = parse_url(bad, bad, None).unwrap_err();
            assert_eq!(e.code, 2, "{bad}: {}", e.message);
        }
    }

    #[test]
    fn the_command_line_ends_options_before_the_host() {
        let h = parse_url("ssh://me@build:2222", "b", Some("~/my bin/cap".into())).unwrap();
        let argv = command_line(&h, false).unwrap();
        let tail: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                "-T",
                "-l",
                "me",
                "-p",
                "2222",
                "--",
                "build",
                "~/'my bin/cap' daemon dial-stdio --no-autostart"
            ]
        );
    }

    #[test]
    fn named_hosts_come_from_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(
            &file,
            "max_sessions = 3\n[hosts.build]\nurl = \"ssh://me@build\"\ncap = \"/x/cap\"\n",
        )
        .unwrap();
        let h = resolve("build", Some(&file)).unwrap();
        assert_eq!((h.label.as_str(), h.host.as_str()), ("build", "build"));
        assert_eq!(h.cap, "/x/cap");
        let e = resolve("other", Some(&file)).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("configured: build"), "{}", e.message);
    }
}
