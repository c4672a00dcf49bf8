//! A real OpenSSH server on 127.0.0.1 for the `--host` tests, and the system packages the
//! end-to-end tier installs when they are missing.
//!
//! Each [`Sshd`] is private to one test: its own config, a throwaway host key and client key
//! in the test's temp dir, and `SetEnv` lines that give every remote command the test's
//! environment (its socket, XDG dirs, the fake agent, and `PATH` with the built binaries
//! first), so the capd a remote `cap daemon dial-stdio` starts is the test's own daemon, the
//! one [`Env::cap`] talks to directly. The client side is plain `ssh` with its own config
//! (key, known hosts, batch mode), named through `CAP_SSH`.

use super::*;
use std::sync::Mutex;

/// Installs Debian packages the tier needs once per test process, with apt-get, when the
/// program `probe` is missing; fails loudly when it cannot.
pub fn ensure_program(probe: &str, package: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = find_program(probe) {
        return p;
    }
    let apt = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}"
        ))
        .output();
    match apt {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{probe} is missing and `apt-get install {package}` failed (run the tests as root, \
             or install {package}): {}",
            text(&out.stderr)
        ),
        Err(e) => panic!("{probe} is missing and apt-get cannot run ({e}); install {package}"),
    }
    find_program(probe)
        .unwrap_or_else(|| panic!("{probe} is still missing after installing {package}"))
}

/// A program on `PATH` or in the sbin directories (sshd lives there, often off `PATH`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// An sshd serving one test.
pub struct Sshd {
    child: Child,
    pub port: u16,
    /// `CAP_SSH` for the local `cap`: ssh with this server's client config.
    pub ssh: String,
    /// What sshd logged (each connection, and why one was refused).
    log: PathBuf,
}

impl Sshd {
    /// Starts sshd for `env`: remote commands see the environment [`Env::command`] gives
    /// `capd`. Waits for its "Server listening" line.
    pub fn start(env: &Env) -> Sshd {
        let sshd = ensure_program("sshd", "openssh-server");
        let keygen = ensure_program("ssh-keygen", "openssh-client");
        ensure_program("ssh", "openssh-client");
        // The remote user's home: where a session named only by --key starts.
        std::fs::create_dir_all(env.dir.path().join("home")).expect("home dir");
        let dir = env.dir.path().join("sshd");
        std::fs::create_dir_all(&dir).expect("sshd dir");
        for key in ["host_key", "client_key"] {
            let out = Command::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "cap-test", "-f"])
                .arg(dir.join(key))
                .output()
                .expect("run ssh-keygen");
            assert!(out.status.success(), "ssh-keygen: {}", text(&out.stderr));
        }
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))
            .expect("authorized_keys");
        // Root's sshd insists on its privilege separation directory.
        if nix::unistd::geteuid().is_root() {
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }
        let host_pub = std::fs::read_to_string(dir.join("host_key.pub")).expect("host key");
        let host_pub: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        let log = dir.join("sshd.log");
        let set_env = remote_env(env);
        for _ in 0..5 {
            let port = free_port();
            let config = dir.join("sshd_config");
            std::fs::write(&config, server_config(&dir, port, &set_env)).expect("sshd_config");
            std::fs::write(
                dir.join("known_hosts"),
                format!("[127.0.0.1]:{port} {}\n", host_pub.join(" ")),
            )
            .expect("known_hosts");
            std::fs::write(dir.join("ssh_config"), client_config(&dir)).expect("ssh_config");
            let mut child = Command::new(&sshd)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn sshd");
            let stderr = child.stderr.take().expect("sshd stderr");
            let (tx, rx) = mpsc::channel();
            let log_path = log.clone();
            std::thread::spawn(move || {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log_path)
                    .ok();
                let mut told = false;
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(f) = file.as_mut() {
                        let _ = writeln!(f, "{line}");
                    }
                    if !told && line.contains("Server listening") {
                        told = true;
                        let _ = tx.send(true);
                    }
                }
                let _ = tx.send(false);
            });
            match rx.recv_timeout(DEADLINE) {
                Ok(true) => {
                    return Sshd {
                        child,
                        port,
                        ssh: format!("ssh -F {}", dir.join("ssh_config").display()),
                        log,
                    };
                }
                // The port was taken between choosing and binding it: try another.
                Ok(false)
                    if std::fs::read_to_string(&log)
                        .unwrap_or_default()
                        .contains("Address already in use") =>
                {
                    let _ = child.wait();
                    continue;
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "sshd did not start; its log:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        }
        panic!("sshd found no free port in five tries");
    }

    /// `ssh://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ssh://127.0.0.1:{}", self.port)
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A `cap` command that reaches `env`'s daemon only through this server: `--host`, ssh
    /// configured by `CAP_SSH`, and a local socket nobody serves (so a command that ignored
    /// `--host` would find no daemon, or start a different one).
    pub fn cap_command(&self, env: &Env, args: &[&str]) -> Command {
        let mut c = env.command("cap");
        c.env("CAP_SSH", &self.ssh)
            .env("CAP_SOCKET", env.dir.path().join("local-only.sock"))
            .arg("--host")
            .arg(self.url())
            .args(args);
        c
    }

    /// Runs `cap --host URL ARGS` to completion.
    pub fn cap(&self, env: &Env, args: &[&str]) -> Output {
        output_within_deadline(&mut self.cap_command(env, args))
    }

    /// Starts `cap --host URL ARGS` in the background.
    pub fn spawn_cap(&self, env: &Env, args: &[&str]) -> Running {
        Running::spawn(self.cap_command(env, args))
    }

    /// Starts `cap --host URL ARGS` as a shell starts a job: in a process group of its own,
    /// which is what Ctrl-C in a terminal signals (`cap`, and the `ssh` it runs).
    pub fn spawn_job(&self, env: &Env, args: &[&str]) -> Running {
        use std::os::unix::process::CommandExt;
        let mut cmd = self.cap_command(env, args);
        cmd.process_group(0);
        Running::spawn(cmd)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // Only the listener: the sessions it forked end with their connections.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment [`Env::command`] gives `capd`, with the built binaries first on `PATH` so
/// the remote shell finds `cap`.
fn remote_env(env: &Env) -> Vec<(String, String)> {
    let probe = env.command("capd");
    let mut vars: Vec<(String, String)> = probe
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v?.to_str()?.to_string())))
        .collect();
    let bin_dir = bin("cap").parent().expect("bin dir").display().to_string();
    let path = std::env::var("PATH").unwrap_or_default();
    vars.retain(|(k, _)| k != "PATH");
    vars.push(("PATH".into(), format!("{bin_dir}:{path}")));
    vars
}

fn server_config(dir: &Path, port: u16, vars: &[(String, String)]) -> String {
    let set_env = vars
        .iter()
        .map(|(k, v)| format!("\"{k}={v}\""))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "ListenAddress 127.0.0.1\n\
         Port {port}\n\
         HostKey {dir}/host_key\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         PidFile none\n\
         UsePAM no\n\
         StrictModes no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         PermitRootLogin prohibit-password\n\
         LogLevel INFO\n\
         SetEnv {set_env}\n",
        dir = dir.display()
    )
}

fn client_config(dir: &Path) -> String {
    format!(
        "Host *\n\
         \x20 IdentityFile {dir}/client_key\n\
         \x20 IdentitiesOnly yes\n\
         \x20 UserKnownHostsFile {dir}/known_hosts\n\
         \x20 StrictHostKeyChecking yes\n\
         \x20 BatchMode yes\n\
         \x20 LogLevel ERROR\n",
        dir = dir.display()
    )
}

/// A port nothing listens on at the moment (the kernel's choice, released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
