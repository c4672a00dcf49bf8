//! Starting capd at login: socket activation (a listening socket passed the way systemd
//! passes it) and `cap daemon install-service` with units `systemd-analyze` accepts.

use cap_tests::*;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// Starts capd as systemd would: `fd` becomes descriptor 3, `LISTEN_FDS=1`, and
/// `LISTEN_PID` is capd's own pid (a shell sets it to `$$`, then execs capd, keeping the
/// pid). Returns the process and its stderr lines.
fn activated(env: &Env, fd: &OwnedFd) -> (Child, std::sync::mpsc::Receiver<String>) {
    let capd = env.command("capd");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\"")
        .arg(capd.get_program())
        .current_dir(&env.work);
    for (k, v) in capd.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let raw = fd.as_raw_fd();
    // SAFETY: dup2 and fcntl are async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if raw == 3 {
                // dup2 onto itself keeps close-on-exec; clear it instead.
                nix::fcntl::fcntl(
                    std::os::fd::BorrowedFd::borrow_raw(3),
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
                )?;
            } else if nix::libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .env("CAP_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn capd");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// Waits for capd's "listening" line; panics with what it said otherwise.
fn wait_listening(rx: &std::sync::mpsc::Receiver<String>) -> Vec<String> {
    let mut said = Vec::new();
    loop {
        match rx.recv_timeout(DEADLINE) {
            Ok(line) => {
                let done = line.contains("listening");
                said.push(line);
                if done {
                    return said;
                }
            }
            Err(_) => panic!("capd did not start; it said:\n{}", said.join("\n")),
        }
    }
}

#[test]
fn capd_serves_a_socket_passed_the_way_systemd_passes_it() {
    let env = Env::new();
    let dir = env.socket.parent().unwrap();
    std::fs::create_dir_all(dir).unwrap();
    // The service manager's socket: bound and listening before capd exists.
    let listener = UnixListener::bind(&env.socket).expect("bind");
    let fd = OwnedFd::from(listener.try_clone().unwrap());
    let inode = std::fs::metadata(&env.socket).unwrap().ino();

    let (mut capd, rx) = activated(&env, &fd);
    let said = wait_listening(&rx);
    assert!(
        said.iter()
            .any(|l| l.contains("passed by the service manager")),
        "{said:#?}"
    );
    let first = env.prompt_ok(&["activated"]);
    assert_eq!(first["output"], "ECHO[turns=1]: activated");
    let status = env.cap_doc(&["daemon", "status"]);
    assert_eq!(status["pid"], capd.id(), "{status:#}");
    assert_eq!(status["socket"], env.socket.display().to_string().as_str());
    // capd served the passed socket instead of binding its own.
    assert_eq!(std::fs::metadata(&env.socket).unwrap().ino(), inode);

    // Stopped, capd leaves the socket to its owner, which starts the next capd on it.
    let out = env.cap(&["daemon", "stop"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(capd.wait().unwrap().success());
    assert_eq!(std::fs::metadata(&env.socket).unwrap().ino(), inode);
    // `stop` did not connect once capd was gone: under systemd that would start the next
    // capd straight away.
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a connection waits on the socket after stop: {other:?}"),
    }
    let (mut again, rx) = activated(&env, &fd);
    wait_listening(&rx);
    let second = env.prompt_ok(&["again"]);
    assert_eq!(
        second["output"], "ECHO[turns=2]: again",
        "resumed: {second:#}"
    );
    let out = env.cap(&["daemon", "stop"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(again.wait().unwrap().success());
}

#[test]
fn a_passed_descriptor_that_is_no_listening_socket_is_refused() {
    let env = Env::new();
    let file = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
    let (mut capd, rx) = activated(&env, &file);
    let status = capd.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{status}");
    let said: Vec<String> = rx.iter().collect();
    assert!(said.iter().any(|l| l.contains("not a socket")), "{said:#?}");
}

#[test]
fn install_service_writes_units_that_systemd_accepts() {
    let env = Env::new();
    let analyze = ensure_program("systemd-analyze", "systemd");
    // A dry run prints the plan and writes nothing.
    let plan = env.cap_doc(&["daemon", "install-service", "--dry-run"]);
    let units = env.dir.path().join("xdg-config/systemd/user");
    assert!(!units.exists(), "a dry run wrote {}", units.display());
    let commands = plan["commands"].to_string();
    assert!(
        commands.contains("\"enable\",\"--now\",\"capd.socket\""),
        "{plan:#}"
    );

    let out = env.cap(&["daemon", "install-service", "--no-enable"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let service = std::fs::read_to_string(units.join("capd.service")).expect("service");
    let socket = std::fs::read_to_string(units.join("capd.socket")).expect("socket");
    // The capd beside this cap, and the socket where this cap looks for it.
    assert!(
        service.contains(&format!("ExecStart={} ", bin("capd").display())),
        "{service}"
    );
    assert!(service.contains("Environment=PATH="), "{service}");
    assert!(
        socket.contains(&format!("ListenStream={}", env.socket.display())),
        "{socket}"
    );
    assert_eq!(plan["files"][0]["content"], socket.as_str());

    let run = env.dir.path().join("xdg-run");
    std::fs::create_dir_all(&run).unwrap();
    let out = Command::new(analyze)
        .args(["--user", "verify"])
        .arg(units.join("capd.socket"))
        .arg(units.join("capd.service"))
        .env("XDG_RUNTIME_DIR", &run)
        .env("HOME", env.dir.path().join("home"))
        .output()
        .expect("run systemd-analyze");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}
