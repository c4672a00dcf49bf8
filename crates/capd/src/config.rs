//! The daemon's configuration file (`config.toml`, SPEC §6).
//!
//! A missing file means the defaults. A file that does not parse is refused with its path and
//! the parser's line and column, so the user can fix it; capd never guesses at a broken config.

use cap_proto::policy::{Mode, Rules};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Resolved configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The agent used when neither `--agent` nor a key binding names one.
    pub default_agent: String,
    /// Live sessions, parked ones included.
    pub max_sessions: usize,
    /// Seconds a session may sit idle before the sweep ends it; 0 = never.
    pub idle_timeout: u64,
    /// Default per-prompt timeout in seconds; 0 = none.
    pub prompt_timeout: u64,
    /// Prompts that may wait behind the running one, per session.
    pub queue_depth: usize,
    /// Text prepended to the first prompt of every fresh session.
    pub preamble: Option<String>,
    /// Seconds to wait for an agent's ready signal.
    pub ready_timeout: u64,
    /// Seconds a cancelled turn may take to settle before its agent is killed.
    pub cancel_grace: u64,
    /// The permission mode of prompts that do not name one.
    pub default_permissions: Mode,
    /// Allow, deny and ask rules every prompt gets, before its own.
    pub permissions: Rules,
    /// Seconds a permission question may stay unanswered before it is denied.
    pub permission_timeout: u64,
    /// Spending caps in US dollars, by key: once a key's recorded cost reaches its cap, its
    /// next prompt is refused (`cap budget reset --key K` clears the record).
    pub budgets: BTreeMap<String, f64>,
    /// Record every turn in a transcript per native session (`cap log`, `cap export`).
    pub transcripts: bool,
    /// Days a transcript is kept after its last write; 0 = forever.
    pub transcript_days: u64,
    /// How deep agents may ask agents through `cap mcp`: a call whose chain of callers is
    /// longer is refused (a person's agent asking another is depth 1).
    pub mcp_max_depth: u32,
    /// Custom agents, and overrides of built-in ones.
    pub agents: BTreeMap<String, AgentConfig>,
    /// What the agents' processes may hold in memory together before idle sessions are
    /// evicted (their records kept): a size like `"8GiB"`, or `"off"`. Default: half the
    /// machine's memory.
    pub max_agent_memory: MemoryLimit,
    /// Agent name → how many processes to keep started and initialized for new sessions.
    pub prewarm: BTreeMap<String, usize>,
    /// Agent name → whether its sessions share agent processes, over the agent's own
    /// setting (the built-ins' defaults are in docs/agents.md).
    pub share: BTreeMap<String, bool>,
    /// `[hosts.NAME]`: remote machines for `cap --host NAME`. They are `cap`'s (the config
    /// file is shared); capd accepts and ignores them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub hosts: BTreeMap<String, toml::Value>,
}

/// `max_agent_memory`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SizeText", into = "SizeText")]
pub enum MemoryLimit {
    #[default]
    HalfTheMachine,
    Off,
    Bytes(u64),
}

impl MemoryLimit {
    /// The limit in bytes, `None` when off or when the machine's memory is unknown.
    pub fn bytes(self) -> Option<u64> {
        match self {
            MemoryLimit::HalfTheMachine => crate::memory::machine_total().map(|m| m / 2),
            MemoryLimit::Off => None,
            MemoryLimit::Bytes(b) => Some(b),
        }
    }
}

/// How a size is written in the file: a number of bytes or a string with a unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum SizeText {
    Bytes(u64),
    Text(String),
}

impl TryFrom<SizeText> for MemoryLimit {
    type Error = String;
    fn try_from(t: SizeText) -> Result<Self, String> {
        match t {
            SizeText::Bytes(0) => Err("max_agent_memory must be more than 0 (or \"off\")".into()),
            SizeText::Bytes(b) => Ok(MemoryLimit::Bytes(b)),
            SizeText::Text(t) if t == "off" => Ok(MemoryLimit::Off),
            SizeText::Text(t) if t == "default" => Ok(MemoryLimit::HalfTheMachine),
            SizeText::Text(t) => match crate::memory::parse_size(&t)? {
                0 => Err("max_agent_memory must be more than 0 (or \"off\")".into()),
                b => Ok(MemoryLimit::Bytes(b)),
            },
        }
    }
}

impl From<MemoryLimit> for SizeText {
    fn from(m: MemoryLimit) -> SizeText {
        match m {
            MemoryLimit::HalfTheMachine => SizeText::Text("default".into()),
            MemoryLimit::Off => SizeText::Text("off".into()),
            MemoryLimit::Bytes(b) => SizeText::Bytes(b),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            default_agent: "claude".into(),
            max_sessions: 8,
            idle_timeout: 600,
            prompt_timeout: 300,
            queue_depth: 16,
            preamble: None,
            ready_timeout: 60,
            cancel_grace: 10,
            default_permissions: Mode::ApproveEdits,
            permissions: Rules::default(),
            permission_timeout: 120,
            budgets: BTreeMap::new(),
            transcripts: true,
            transcript_days: 30,
            mcp_max_depth: 2,
            agents: BTreeMap::new(),
            max_agent_memory: MemoryLimit::default(),
            prewarm: BTreeMap::new(),
            share: BTreeMap::new(),
            hosts: BTreeMap::new(),
        }
    }
}

/// `[agents.NAME]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `acp`, `claude-stream-json` or `codex-app-server`.
    pub protocol: String,
    /// The program to run.
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// ACP mode to set after the session opens.
    #[serde(default)]
    pub mode: Option<String>,
    /// MCP servers every session of this agent gets, by name (the common shape: `command`,
    /// `args`, `env`, or `type` and `url`), passed in the agent's own way (crate::mcp).
    #[serde(default, deserialize_with = "crate::mcp::deserialize_config")]
    pub mcp_servers: crate::mcp::McpServers,
    /// Many sessions per agent process (ACP and Codex agents; `[share]` sets it for any
    /// agent, built-ins included).
    #[serde(default)]
    pub share: bool,
}

/// A config file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid: {message}fix it, or move it away to use the defaults")]
    Parse { path: PathBuf, message: String },
}

impl Config {
    /// Loads `path`; a missing file gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses config text; the error is the parser's message with line and column.
    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        if cfg.max_sessions == 0 {
            return Err("max_sessions must be at least 1\n".into());
        }
        if cfg.queue_depth == 0 {
            return Err("queue_depth must be at least 1\n".into());
        }
        for agent in cfg.prewarm.keys() {
            let (spec, _) = crate::agents::describe(agent, &cfg)
                .map_err(|e| format!("[prewarm] {agent}: {}\n", e.message))?;
            if spec.share {
                return Err(format!(
                    "[prewarm] {agent}: {agent} shares its process (`share`), so its new sessions \
                     open on the running one and a spare would never be used; remove it from \
                     [prewarm], or turn `share` off for it\n"
                ));
            }
            if spec.protocol == crate::agents::Protocol::ClaudeStreamJson {
                return Err(format!(
                    "[prewarm] {agent}: Claude stream-json agents cannot be prewarmed (their cwd \
                     and session are fixed when they start); remove it, or prewarm an ACP or \
                     Codex agent\n"
                ));
            }
        }
        // Every agent `[share]` names must exist (a typo would silently share nothing), and no
        // agent that shares may be a Claude one.
        let shared = cfg.agents.iter().filter(|(_, a)| a.share).map(|(n, _)| n);
        for agent in cfg.share.keys().chain(shared) {
            let (spec, _) = crate::agents::describe(agent, &cfg)
                .map_err(|e| format!("[share] {agent}: {}\n", e.message))?;
            if spec.share && spec.protocol == crate::agents::Protocol::ClaudeStreamJson {
                return Err(format!(
                    "{agent}: Claude stream-json agents cannot share a process (their cwd and \
                     session are fixed when they start); remove `share` for it\n"
                ));
            }
        }
        Ok(cfg)
    }

    /// `idle_timeout` as a duration, `None` for never.
    pub fn idle_timeout(&self) -> Option<Duration> {
        (self.idle_timeout > 0).then(|| Duration::from_secs(self.idle_timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.max_sessions, 8);
        assert_eq!(c.idle_timeout, 600);
        assert_eq!(c.prompt_timeout, 300);
        assert_eq!(c.queue_depth, 16);
        assert_eq!(c.default_permissions, Mode::ApproveEdits);
        assert!(c.transcripts);
        assert_eq!(c.transcript_days, 30);
        assert_eq!(c.mcp_max_depth, 2);
        assert_eq!(Config::parse("mcp_max_depth = 0").unwrap().mcp_max_depth, 0);
        assert_eq!(c.max_agent_memory, MemoryLimit::HalfTheMachine);
        let c = Config::parse("max_agent_memory = \"512MiB\"").unwrap();
        assert_eq!(c.max_agent_memory, MemoryLimit::Bytes(512 << 20));
        assert_eq!(
            Config::parse("max_agent_memory = \"off\"")
                .unwrap()
                .max_agent_memory,
            MemoryLimit::Off
        );
        let c = Config::parse(
            "default_permissions = \"deny-all\"\n[permissions]\nallow = [\"execute(cargo test*)\"]\n",
        )
        .unwrap();
        assert_eq!(c.default_permissions, Mode::DenyAll);
        assert_eq!(c.permissions.allow[0].to_string(), "execute(cargo test*)");
        let c = Config::parse(
            "max_sessions = 2\n[agents.mine]\nprotocol = \"acp\"\ncommand = \"my-agent\"\nargs = [\"--acp\"]\n",
        )
        .unwrap();
        assert_eq!(c.max_sessions, 2);
        assert_eq!(c.agents["mine"].args, vec!["--acp"]);
    }

    #[test]
    fn typos_and_bad_values_are_refused() {
        assert!(
            Config::parse("max_sesions = 2")
                .unwrap_err()
                .contains("max_sesions")
        );
        assert!(Config::parse("max_sessions = \"x\"").is_err());
        assert!(Config::parse("max_sessions = 0").is_err());
        let err = Config::parse("default_permissions = \"yolo\"").unwrap_err();
        assert!(err.contains("default_permissions"), "{err}");
        let err = Config::parse("max_agent_memory = \"lots\"").unwrap_err();
        assert!(err.contains("max_agent_memory"), "{err}");
        assert!(Config::parse("max_agent_memory = 0").is_err());
        let err = Config::parse("[prewarm]\nclaude = 1").unwrap_err();
        assert!(err.contains("cannot be prewarmed"), "{err}");
        let err = Config::parse("[prewarm]\nnobody-knows = 1").unwrap_err();
        assert!(err.contains("nobody-knows"), "{err}");
        assert_eq!(
            Config::parse("[prewarm]\ncodex = 2").unwrap().prewarm["codex"],
            2
        );
        let err = Config::parse("[permissions]\ndeny = [\"rm -rf\"]").unwrap_err();
        assert!(err.contains("KIND(PATTERN)"), "{err}");
    }

    #[test]
    fn sharing_follows_the_share_table_then_the_agent_then_the_builtin_default() {
        let share = |text: &str, agent: &str| {
            let c = Config::parse(text).unwrap();
            crate::agents::describe(agent, &c).unwrap().0.share
        };
        assert!(share("", "codex"));
        assert!(share("", "gemini"));
        assert!(share("", "claude-acp"));
        assert!(!share("", "claude"));
        assert!(!share("[share]\ncodex = false", "codex"));
        assert!(share("[share]\nclaude-acp = true", "claude-acp"));
        // A built-in in [prewarm] keeps its process per session unless told otherwise.
        assert!(!share("[prewarm]\ncodex = 1", "codex"));
        let mine = "[agents.mine]\nprotocol = \"acp\"\ncommand = \"x\"\nshare = true\n";
        assert!(share(mine, "mine"));
        assert!(!share(&format!("[share]\nmine = false\n{mine}"), "mine"));
        assert!(!share("", "acp:some-agent"));
        let err = Config::parse("[share]\nnobody-knows = false").unwrap_err();
        assert!(err.contains("nobody-knows"), "{err}");
        assert!(Config::parse("[share]\nclaude = false").is_ok());
        let err = Config::parse("[share]\nclaude = true").unwrap_err();
        assert!(err.contains("cannot share a process"), "{err}");
        let err = Config::parse("[prewarm]\ncodex = 1\n[share]\ncodex = true").unwrap_err();
        assert!(err.contains("never be used"), "{err}");
    }
}
