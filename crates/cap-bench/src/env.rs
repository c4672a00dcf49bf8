//! One isolated cap installation per measurement group: its own temporary directory for every
//! XDG path, socket, config, state and the fake agent's home, so a benchmark never touches the
//! user's daemon and each group starts from a fresh `capd`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::Bins;
use crate::proc::{Out, Run, run};

/// Deadline of one ordinary `cap` call (a prompt to the instant agent, a status).
pub const CALL_LIMIT: Duration = Duration::from_secs(30);

/// The ACP agent name in the generated config (the fake agent started with `acp`).
pub const ACP_AGENT: &str = "fakeacp";
/// The stream-json agent: the built-in `claude`, pointed at the fake with `CAP_CLAUDE_BIN`.
pub const STREAM_JSON_AGENT: &str = "claude";
/// Gap between the fake's 10 reply chunks when a prompt says SLOW (so a SLOW turn takes
/// about 10 × this): a turn long enough to make queueing visible, short enough to repeat.
pub const SLOW_CHUNK_MS: u64 = 5;

/// A temporary cap installation and, once started, its daemon.
pub struct BenchEnv {
    dir: tempfile::TempDir,
    bins: Bins,
    work: PathBuf,
    daemon: Option<u32>,
    /// Extra environment for every `cap`, and so for the daemon it starts and its agents.
    vars: Vec<(String, String)>,
}

impl BenchEnv {
    /// Creates the directories and a config allowing `max_sessions` live sessions. Idle
    /// collection is off so no sweep runs in the middle of a measurement.
    pub fn new(bins: &Bins, max_sessions: usize) -> anyhow::Result<BenchEnv> {
        BenchEnv::configured(bins, max_sessions, "")
    }

    /// [`BenchEnv::new`] with `extra` appended to the config (a `[prewarm]` table).
    pub fn configured(bins: &Bins, max_sessions: usize, extra: &str) -> anyhow::Result<BenchEnv> {
        let dir = tempfile::Builder::new()
            .prefix("cap-bench.")
            .tempdir()
            .context("creating a temporary directory")?;
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).context("creating the work directory")?;
        let config = format!(
            "max_sessions = {max_sessions}\nidle_timeout = 0\nqueue_depth = 64\n\n\
             [agents.{ACP_AGENT}]\nprotocol = \"acp\"\ncommand = {}\nargs = [\"acp\"]\n",
            toml_string(&bins.fake.to_string_lossy())
        ) + extra;
        std::fs::write(dir.path().join("config.toml"), config).context("writing config.toml")?;
        Ok(BenchEnv {
            dir,
            bins: bins.clone(),
            work,
            daemon: None,
            vars: Vec::new(),
        })
    }

    /// Sets an environment variable for every later `cap`; set before [`Self::start_daemon`],
    /// it reaches the daemon and the agents it starts (the fake's `FAKE_*` knobs).
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.vars.push((name.to_string(), value.to_string()));
    }

    /// A `cap` command with this installation's environment, run in its work directory.
    pub fn cap(&self) -> Command {
        let root = self.dir.path();
        let mut c = Command::new(&self.bins.cap);
        c.current_dir(&self.work)
            .env_remove("CAP_FORMAT")
            .env_remove("CAP_NO_AUTOSTART")
            .env_remove("CAP_LOG")
            .env_remove("RUST_LOG")
            .env("HOME", root.join("home"))
            .env("XDG_RUNTIME_DIR", root.join("xdg-run"))
            .env("XDG_STATE_HOME", root.join("state"))
            .env("XDG_CONFIG_HOME", root.join("xdg-config"))
            .env("CAP_SOCKET", root.join("capd.sock"))
            .env("CAP_CONFIG", root.join("config.toml"))
            .env("CAP_CLAUDE_BIN", &self.bins.fake)
            .env("FAKE_AGENT_HOME", root.join("fake"))
            .env("FAKE_SLOW_MS", SLOW_CHUNK_MS.to_string())
            .env("NO_COLOR", "1")
            .envs(self.vars.iter().map(|(k, v)| (k, v)));
        c
    }

    /// The state file capd loads at start (`$XDG_STATE_HOME/cap/state.json`).
    pub fn state_file(&self) -> PathBuf {
        self.dir.path().join("state").join("cap").join("state.json")
    }

    /// The directory every `cap` runs in.
    pub fn work(&self) -> &std::path::Path {
        &self.work
    }

    /// `cap prompt --agent AGENT --key KEY TEXT`, in json format when `json`.
    pub fn prompt(&self, agent: &str, key: &str, text: &str, json: bool) -> Command {
        let mut c = self.cap();
        if json {
            c.args(["--format", "json"]);
        }
        c.args(["prompt", "--agent", agent, "--key", key, text]);
        c
    }

    /// Starts `capd` (detached, as a user's first `cap` would) and returns its pid.
    pub fn start_daemon(&mut self) -> anyhow::Result<u32> {
        let mut c = self.cap();
        c.args(["--format", "json", "daemon", "start"]);
        let out = run(c, Out::Capture, CALL_LIMIT)?;
        let v: Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("`cap daemon start` printed {:?}", out.text()))?;
        let pid = v["pid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .with_context(|| format!("no pid in `cap daemon start` output: {v}"))?;
        self.daemon = Some(pid);
        Ok(pid)
    }

    /// Stops the daemon with `cap daemon stop`; it ends every agent it started.
    pub fn stop_daemon(&mut self) -> anyhow::Result<()> {
        if self.daemon.take().is_some() {
            let mut c = self.cap();
            c.args(["--no-autostart", "daemon", "stop"]);
            run(c, Out::Capture, CALL_LIMIT).context("stopping capd")?;
        }
        Ok(())
    }

    /// Sends one prompt and checks the instant agent's echo came back; used to open and warm
    /// sessions before the timed loops.
    pub fn warm(&self, agent: &str, key: &str) -> anyhow::Result<Run> {
        self.ask(agent, key, "warm up")
    }

    /// Sends `text` on `key` (text output) and checks the agent's echo came back.
    pub fn ask(&self, agent: &str, key: &str, text: &str) -> anyhow::Result<Run> {
        let r = run(
            self.prompt(agent, key, text, false),
            Out::Capture,
            CALL_LIMIT,
        )?;
        expect_echo(&r)?;
        Ok(r)
    }
}

impl Drop for BenchEnv {
    fn drop(&mut self) {
        if let Err(e) = self.stop_daemon() {
            eprintln!("cap-bench: {e:#}");
        }
    }
}

/// Fails unless a text-format reply is the fake agent's `ECHO[turns=N]: …`.
pub fn expect_echo(r: &Run) -> anyhow::Result<()> {
    let text = r.text();
    if !text.starts_with("ECHO[turns=") {
        bail!(
            "unexpected reply: {:?}",
            text.chars().take(200).collect::<String>()
        );
    }
    Ok(())
}

/// The final `result` event of a json-format prompt.
pub fn result_event(r: &Run) -> anyhow::Result<Value> {
    let text = r.text();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .context("the prompt printed nothing")?;
    let v: Value = serde_json::from_str(last).with_context(|| {
        format!(
            "last line is not JSON: {:?}",
            last.chars().take(200).collect::<String>()
        )
    })?;
    if v["type"] != "result" {
        bail!("the prompt did not end with a result: {v}");
    }
    Ok(v)
}

/// The turn duration capd reports in a `result` event.
pub fn turn_duration(result: &Value) -> anyhow::Result<Duration> {
    result["duration_ms"]
        .as_u64()
        .map(Duration::from_millis)
        .with_context(|| format!("no duration_ms in {result}"))
}

/// A TOML basic string (quotes and backslashes escaped).
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
