//! Support for the end-to-end tier with the genuine agent CLIs: installs them at pinned
//! versions (scripts/e2e-install), runs the fake LLM on 127.0.0.1, and writes each agent's
//! offline configuration (docs/protocols.md) into the test's scratch HOME.
//!
//! The daemon (and so every agent) runs in a private network namespace together with the
//! fake LLM, so an agent can reach nothing but the fake, whatever its settings say.
//!
//! Nothing here skips: a failed install or a missing tool fails the test loudly.

use crate::{Env, bin};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The fake LLM's port inside each private namespace (nothing else listens there).
const LLM_PORT: u16 = 8765;

/// The `node_modules/.bin` of the pinned agent install, installing on first use.
pub fn agent_bins() -> PathBuf {
    static BINS: OnceLock<PathBuf> = OnceLock::new();
    BINS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = Command::new("bash")
            .arg(root.join("scripts").join("e2e-install"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/e2e-install");
        assert!(
            out.status.success(),
            "scripts/e2e-install failed; the e2e tier needs node, npm and the npm registry"
        );
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string());
        assert!(
            dir.is_dir(),
            "e2e-install printed no bin dir: {}",
            dir.display()
        );
        dir
    })
    .clone()
}

/// The fake LLM binary, built on first use: [`bin`] builds only what the fake-agent tier
/// needs, and a stale fake would answer without the behaviour a test relies on.
fn fake_llm() -> PathBuf {
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "cap-fake-llm"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building cap-fake-llm failed");
    });
    bin("cap-fake-llm")
}

/// The fake MCP server (one tool, `cap_fake_ping`), built on first use like the fake LLM.
pub fn fake_mcp() -> PathBuf {
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "cap-fake-mcp"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building cap-fake-mcp failed");
    });
    bin("cap-fake-mcp")
}

/// An [`Env`] for the genuine agents; kills the fake LLMs it started when dropped.
pub struct RealEnv {
    pub env: Env,
    /// Pids of the fake LLMs, one per daemon start (each in its own namespace).
    llm_pids: PathBuf,
    /// The fake LLMs' request log.
    pub llm_log: PathBuf,
}

impl Deref for RealEnv {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl DerefMut for RealEnv {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}

impl Drop for RealEnv {
    fn drop(&mut self) {
        let pids = std::fs::read_to_string(&self.llm_pids).unwrap_or_default();
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// An [`Env`] whose daemon runs the genuine agents against `llm`, each configured offline
/// in a scratch HOME. Returns the environment (daemon not started yet).
pub fn real_env() -> RealEnv {
    let bins = agent_bins();
    let mut env = Env::new();
    let home = env.dir.path().join("home");
    let url = format!("http://127.0.0.1:{LLM_PORT}");
    let llm_pids = env.dir.path().join("llm.pids");
    let llm_log = env.dir.path().join("llm.jsonl");
    // A fresh network namespace per daemon start: loopback up, the fake LLM in the
    // background, then capd itself. Root can create one; others need a user namespace too.
    let unshare = if nix::unistd::geteuid().is_root() {
        "-n"
    } else {
        "-rn"
    };
    let script = format!(
        "PATH=\"$PATH:/usr/sbin:/sbin\" ip link set lo up && {{ '{llm}' --port {LLM_PORT} --log '{log}' >/dev/null 2>&1 & echo $! >> '{pids}'; }} && exec \"$0\"",
        llm = fake_llm().display(),
        log = llm_log.display(),
        pids = llm_pids.display(),
    );
    env.daemon_wrapper = ["unshare", unshare, "sh", "-c", &script]
        .iter()
        .map(|s| s.to_string())
        .collect();
    std::fs::create_dir_all(&home).expect("home");

    // Codex: a custom provider on the fake, no plugins or remote features (claude-codex.md §4).
    let codex_home = home.join(".codex");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            r#"model = "gpt-5.5"
model_provider = "fake"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[model_providers.fake]
name = "Fake LLM"
base_url = "{url}/v1"
wire_api = "responses"
env_key = "FAKE_LLM_API_KEY"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 30000

[analytics]
enabled = false
[feedback]
enabled = false
[otel]
exporter = "none"

[features]
plugins = false
remote_plugin = false
apps = false
"#
        ),
    )
    .expect("codex config");

    // Gemini: session retention off, or loaded sessions get deleted at the next start (acp.md).
    let gemini = home.join(".gemini");
    std::fs::create_dir_all(&gemini).expect("gemini dir");
    std::fs::write(
        gemini.join("settings.json"),
        r#"{"general":{"sessionRetention":{"enabled":false}}}"#,
    )
    .expect("gemini settings");

    // opencode: a loopback OpenAI-compatible provider (acp.md §3.2).
    let opencode = format!(
        r#"{{"provider":{{"fake":{{"npm":"@ai-sdk/openai-compatible","name":"Fake loopback LLM","options":{{"baseURL":"{url}/v1","apiKey":"fake-key"}},"models":{{"fake-model":{{"name":"Fake Model"}},"fake-model-2":{{"name":"Fake Model 2"}}}}}}}},"model":"fake/fake-model","small_model":"fake/fake-model","autoupdate":false,"share":"disabled"}}"#
    );

    let vars: &[(&str, String)] = &[
        (
            "PATH",
            format!(
                "{}:{}",
                bins.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ),
        ("CAP_CLAUDE_BIN", bins.join("claude").display().to_string()),
        ("CAP_CODEX_BIN", bins.join("codex").display().to_string()),
        ("CAP_GEMINI_BIN", bins.join("gemini").display().to_string()),
        (
            "CAP_OPENCODE_BIN",
            bins.join("opencode").display().to_string(),
        ),
        (
            "CAP_CLAUDE_ACP_BIN",
            bins.join("claude-agent-acp").display().to_string(),
        ),
        ("ANTHROPIC_BASE_URL", url.clone()),
        ("ANTHROPIC_API_KEY", "dummy".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("DISABLE_TELEMETRY", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("DISABLE_ERROR_REPORTING", "1".into()),
        ("CLAUDE_CODE_MAX_RETRIES", "0".into()),
        ("CODEX_HOME", codex_home.display().to_string()),
        ("FAKE_LLM_API_KEY", "dummy".into()),
        ("NO_COLOR", "1".into()),
        ("GOOGLE_GEMINI_BASE_URL", url.clone()),
        ("GEMINI_API_KEY", "fake-key".into()),
        ("GEMINI_CLI_TRUST_WORKSPACE", "true".into()),
        ("OPENCODE_CONFIG_CONTENT", opencode),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
        ("npm_config_registry", "http://127.0.0.1:9/".into()),
        ("LANG", "C.UTF-8".into()),
    ];
    for (k, v) in vars {
        env.vars.push((k.to_string(), v.clone()));
    }
    // Claude's ACP adapter defaults to `auto` mode, which makes extra model calls and appends
    // a warning to replies: pin `default` (acp.md §3.3).
    env.set_config(&format!(
        "prompt_timeout = 120\nready_timeout = 90\n\n[agents.claude-acp]\nprotocol = \"acp\"\ncommand = \"{}\"\nmode = \"default\"\n",
        bins.join("claude-agent-acp").display()
    ));
    RealEnv {
        env,
        llm_pids,
        llm_log,
    }
}

/// The `N` of the fake LLM's `ECHO[turns=N]: …` in a reply: how many turns the agent sent.
pub fn turns_seen(output: &str) -> u64 {
    output
        .split("turns=")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("reply without a turn count: {output:?}"))
}
