//! Boots a daemon in-process in a temp dir (no binaries, no signal handlers) and talks to it
//! through the cap-proto client: the pueue-style fixture editors and tests can reuse.

use cap_proto::client::Client;
use cap_proto::request::{Op, PromptRequest, Route};
use cap_proto::{Event, Reply};
use std::time::Duration;

#[test]
fn an_in_process_daemon_serves_a_prompt_and_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("capd.sock");
    let config = dir.path().join("config.toml");
    // target/<profile>/deps/in_process-<hash> → target/<profile>/cap-fake-agent
    let exe = std::env::current_exe().expect("current exe");
    let fake = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target dir")
        .join("cap-fake-agent");
    // The fake agent is a workspace binary; build it if this test runs alone.
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or("cargo".into()))
        .args(["build", "-q", "-p", "cap-fake-agent"])
        .status()
        .expect("cargo build");
    assert!(status.success());
    std::fs::write(
        &config,
        format!(
            "[agents.fake]\nprotocol = \"claude-stream-json\"\ncommand = \"{}\"\n",
            fake.display()
        ),
    )
    .expect("config");
    // SAFETY of the environment: the fake agent reads its home from here; this test binary
    // runs this one test.
    unsafe { std::env::set_var("FAKE_AGENT_HOME", dir.path().join("fake")) };

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let opts = capd::Options {
        socket: socket.clone(),
        config_file: Some(config),
        state_file: dir.path().join("state.json"),
        handle_signals: false,
    };
    let daemon = runtime.spawn(capd::run(opts));

    // The daemon binds before serving; retry the connect until it answers.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut client = loop {
        match Client::connect(&socket, "in-process-test") {
            Ok((c, _)) => break c,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "daemon never answered: {e}"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    let id = client
        .send(Op::Prompt(PromptRequest {
            text: "hello in process".into(),
            route: Route {
                agent: Some("fake".into()),
                cwd: dir.path().to_path_buf(),
                ..Route::default()
            },
            timeout_secs: Some(30),
            no_wait: false,
            budget_usd: None,
            handoff: false,
            delegation: None,
            schema: None,
            steer: false,
        }))
        .expect("send prompt");
    let output = loop {
        let resp = client.recv().expect("reply");
        assert_eq!(resp.id, id);
        match resp.reply {
            Reply::Event(env) => match env.event {
                Event::Result(r) => break r.output,
                Event::Error(e) => panic!("prompt failed: {e}"),
                _ => {}
            },
            other => panic!("unexpected reply {other:?}"),
        }
    };
    assert_eq!(output, "ECHO[turns=1]: hello in process");
    assert!(matches!(client.call(Op::Stop), Ok(Reply::Done(_))));
    runtime
        .block_on(daemon)
        .expect("daemon task")
        .expect("daemon result");
    assert!(!socket.exists(), "the socket is removed on stop");
}
