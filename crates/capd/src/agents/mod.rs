//! Which agents exist and how to start them: built-ins, `CAP_<NAME>_BIN` overrides, config
//! tables and ad-hoc `acp:CMD ARGS`.

use crate::config::{AgentConfig, Config};
use cap_proto::policy::{Kind, Mode, Policy, Rule};
use cap_proto::reply::AgentInfo;
use cap_proto::{ErrorBody, ErrorCode};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The wire protocol an agent speaks; picks the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    ClaudeStreamJson,
    CodexAppServer,
    Acp,
}

impl Protocol {
    /// The name used in config files and `cap agents`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::ClaudeStreamJson => "claude-stream-json",
            Protocol::CodexAppServer => "codex-app-server",
            Protocol::Acp => "acp",
        }
    }

    /// Whether the protocol can open "the most recent session in this cwd" (`--continue`).
    /// Codex's app-server has no such request; ACP agents list sessions, Claude has a flag.
    pub fn can_continue(self) -> bool {
        self != Protocol::CodexAppServer
    }

    /// Whether a turn can be held to a JSON Schema by the protocol itself: Codex's
    /// `turn/start` takes an `outputSchema` for that turn alone. Claude Code's
    /// `--json-schema` (and the `jsonSchema` of its `initialize`) binds the whole process,
    /// and ACP has no such field, so those agents are told the schema in the prompt
    /// (docs/protocols.md, "Structured output").
    pub fn native_schema(self) -> bool {
        self == Protocol::CodexAppServer
    }

    fn parse(s: &str) -> Option<Protocol> {
        [
            Protocol::ClaudeStreamJson,
            Protocol::CodexAppServer,
            Protocol::Acp,
        ]
        .into_iter()
        .find(|p| p.name() == s)
    }
}

/// Everything needed to spawn one agent.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    /// The name users route by (`claude`, `acp:foo --bar`, a config name).
    pub name: String,
    pub protocol: Protocol,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub mode: Option<String>,
    pub mcp_servers: crate::mcp::McpServers,
    /// Sessions share agent processes (`share`, `drivers::host`): ACP and Codex agents only.
    pub share: bool,
}

/// Set in every agent's environment: the daemon session the agent serves. A `cap mcp` the
/// agent starts reads it, so a call it makes says who is asking (depth, no call onto itself).
pub const SESSION_ENV: &str = "CAP_SESSION";
/// Set in every agent's environment: this daemon's socket, so a `cap mcp` the agent starts
/// talks to the daemon that runs the agent, not to a default one it would start.
pub const SOCKET_ENV: &str = "CAP_SOCKET";

impl AgentSpec {
    /// This spec as this daemon starts it: the environment names the daemon's socket (cap's
    /// own variables are otherwise stripped from agents). Spares are started so.
    pub fn for_daemon(&self, socket: &std::path::Path) -> AgentSpec {
        let mut spec = self.clone();
        if let Some(socket) = socket.to_str() {
            spec.env.insert(SOCKET_ENV.into(), socket.into());
        }
        spec
    }

    /// This spec for the agent of session `id`: the daemon's, naming the session too.
    pub fn for_session(&self, id: &str, socket: &std::path::Path) -> AgentSpec {
        let mut spec = self.for_daemon(socket);
        spec.env.insert(SESSION_ENV.into(), id.into());
        spec
    }
}

/// An agent's environment without the session it names: what a prewarmed spare, started
/// before any session, must match.
pub fn env_but_session(env: &BTreeMap<String, String>) -> BTreeMap<&String, &String> {
    env.iter().filter(|(k, _)| *k != SESSION_ENV).collect()
}

/// A built-in agent: name, protocol, program, fixed args, and how to install it.
struct Builtin {
    name: &'static str,
    protocol: Protocol,
    program: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
    /// A file capd writes for the agent, passed with a flag (Gemini's policy).
    file: Option<AgentFile>,
    /// What the agent runs without asking, however it is started, when cap cannot make it
    /// ask: it can then be held only to a policy that allows all of that.
    unasked: Option<&'static str>,
    /// Whether its sessions share processes unless configured otherwise: on where the
    /// genuine-agent tier proves sharing safe (docs/agents.md, "Shared processes").
    share: bool,
    install: &'static str,
}

/// A file an agent is given on its command line: `FLAG <state dir>/NAME`, holding `content`.
#[derive(Debug, Clone, Copy)]
struct AgentFile {
    flag: &'static str,
    name: &'static str,
    content: &'static str,
}

/// Gemini CLI's policy engine runs the shell commands it judges safe (`ls`, `echo`, `cat`, …)
/// without asking, even where its rules say ask, and its reads and web search are allowed
/// outright. A rule with an argument pattern is exempt from that judgement, so with these
/// rules Gemini asks before every command, read and search, and the session's policy
/// decides (docs/permissions.md). Loaded with `--policy`, over the user's own rules.
const GEMINI_POLICY: AgentFile = AgentFile {
    flag: "--policy",
    name: "gemini-policy.toml",
    content: "# Written by capd (docs/permissions.md): Gemini CLI asks before every shell\n\
# command, read and web access, and cap's permission policy answers. The argsPattern\n\
# turns off Gemini's own list of commands it would run without asking.\n\
[[rule]]\n\
toolName = \"run_shell_command\"\n\
argsPattern = \".*\"\n\
decision = \"ask_user\"\n\
priority = 900\n\
\n\
[[rule]]\n\
toolName = [\"read_file\", \"read_many_files\", \"glob\", \"grep_search\", \"list_directory\", \"google_web_search\", \"web_fetch\"]\n\
decision = \"ask_user\"\n\
priority = 900\n",
};

/// OpenCode runs its tools inside the project without asking unless its permission config
/// says `ask`. The variable is merged over every config file, so whatever the user set, the
/// agent asks and the session's policy decides (docs/permissions.md). Its own bookkeeping
/// (`todowrite`, `task`, `skill`, `question`, `doom_loop`) is left as configured.
const OPENCODE_ASKS: &str = r#"{"read":"ask","edit":"ask","glob":"ask","grep":"ask","list":"ask","bash":"ask","external_directory":"ask","webfetch":"ask","websearch":"ask","lsp":"ask"}"#;

/// codex-acp takes its approval policy and sandbox from `CODEX_HOME/config.toml`; with
/// `approval_policy = "never"` it would never ask. `untrusted` makes it ask before anything
/// but Codex's own trusted commands, and the sandbox is left open because the session's
/// policy is the wall, as for the `codex` app-server driver.
const CODEX_ACP_ASKS: &[&str] = &[
    "-c",
    "approval_policy=\"untrusted\"",
    "-c",
    "sandbox_mode=\"danger-full-access\"",
];

/// What codex-acp 0.16 runs without asking whatever its configuration: Codex's trusted
/// read-only commands (the `codex` app-server of 0.169 asks for them).
const CODEX_ACP_UNASKED: &str =
    "Codex's trusted commands (ls, cat, echo, grep, …) without asking, whatever cap sets";

/// The built-ins of SPEC §5. Table-driven so adding an agent is one row.
const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "claude",
        protocol: Protocol::ClaudeStreamJson,
        program: "claude",
        args: &[],
        env: &[],
        file: None,
        unasked: None,
        share: false,
        install: "npm install -g @anthropic-ai/claude-code",
    },
    Builtin {
        name: "openclaude",
        protocol: Protocol::ClaudeStreamJson,
        program: "openclaude",
        args: &[],
        env: &[],
        file: None,
        unasked: None,
        share: false,
        install: "npm install -g @gitlawb/openclaude",
    },
    Builtin {
        name: "qoder",
        protocol: Protocol::ClaudeStreamJson,
        program: "qodercli",
        args: &[],
        env: &[],
        file: None,
        unasked: None,
        share: false,
        install: "npm install -g @qoder-ai/qodercli",
    },
    Builtin {
        name: "codex",
        protocol: Protocol::CodexAppServer,
        program: "codex",
        args: &["app-server"],
        env: &[],
        file: None,
        unasked: None,
        share: true,
        install: "npm install -g @openai/codex",
    },
    Builtin {
        name: "opencode",
        protocol: Protocol::Acp,
        program: "opencode",
        args: &["acp"],
        env: &[("OPENCODE_PERMISSION", OPENCODE_ASKS)],
        file: None,
        unasked: None,
        share: true,
        install: "npm install -g opencode-ai",
    },
    Builtin {
        name: "gemini",
        protocol: Protocol::Acp,
        program: "gemini",
        args: &["--acp"],
        env: &[("GEMINI_CLI_NO_RELAUNCH", "true")],
        file: Some(GEMINI_POLICY),
        unasked: None,
        share: true,
        install: "npm install -g @google/gemini-cli",
    },
    Builtin {
        name: "claude-acp",
        protocol: Protocol::Acp,
        program: "claude-agent-acp",
        args: &[],
        env: &[],
        file: None,
        unasked: None,
        share: true,
        install: "npm install -g @agentclientprotocol/claude-agent-acp",
    },
    Builtin {
        name: "codex-acp",
        protocol: Protocol::Acp,
        program: "codex-acp",
        args: CODEX_ACP_ASKS,
        env: &[],
        file: None,
        unasked: Some(CODEX_ACP_UNASKED),
        share: true,
        install: "npm install -g @zed-industries/codex-acp",
    },
];

/// The environment variable that overrides a built-in's program: `CAP_<NAME>_BIN`.
pub fn override_var(name: &str) -> String {
    format!("CAP_{}_BIN", name.to_uppercase().replace('-', "_"))
}

/// Resolves an agent name to a spec whose program exists.
///
/// Order: ad-hoc `acp:CMD ARGS`, then `[agents.NAME]` from the config, then built-ins (with
/// `CAP_<NAME>_BIN` overriding the program). A missing program is a `not_found` error that
/// names the binary and how to install it or point cap at it.
pub fn resolve(name: &str, config: &Config) -> Result<AgentSpec, ErrorBody> {
    let (spec, hint) = describe(name, config)?;
    if find_program(&spec.program).is_some() {
        let program = find_program(&spec.program).unwrap_or(spec.program.clone());
        if let Some(file) = BUILTINS
            .iter()
            .find(|b| b.name == name && !config.agents.contains_key(name))
            .and_then(|b| b.file)
        {
            write_agent_file(&file).map_err(|e| {
                ErrorBody::new(
                    ErrorCode::Agent,
                    format!(
                        "agent {name}: cannot write {}: {e}",
                        agent_file_path(&file).display()
                    ),
                )
            })?;
        }
        return Ok(AgentSpec { program, ..spec });
    }
    Err(ErrorBody::new(
        ErrorCode::NotFound,
        format!(
            "agent {name}: program `{}` not found{}; {hint}",
            spec.program.display(),
            if spec.program.components().count() > 1 {
                ""
            } else {
                " on PATH"
            },
        ),
    ))
}

/// The spec for a name without checking that its program exists, and the hint to show when
/// it does not.
pub fn describe(name: &str, config: &Config) -> Result<(AgentSpec, String), ErrorBody> {
    if let Some(cmd) = name.strip_prefix("acp:") {
        let words = shlex::split(cmd).filter(|w| !w.is_empty()).ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::Usage,
                format!(
                    "cannot parse the command in agent `{name}`; quote it like acp:'my-agent --acp'"
                ),
            )
        })?;
        let (program, args) = words.split_first().ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::Usage,
                "agent `acp:` needs a command, e.g. acp:'my-agent --acp'",
            )
        })?;
        return Ok((
            AgentSpec {
                name: name.to_string(),
                protocol: Protocol::Acp,
                program: program.into(),
                args: args.to_vec(),
                env: BTreeMap::new(),
                mode: None,
                mcp_servers: Default::default(),
                share: config.share.get(name).copied().unwrap_or(false),
            },
            "check the command in the acp: agent".to_string(),
        ));
    }
    if let Some(cfg) = config.agents.get(name) {
        let mut spec = from_config(name, cfg)?;
        spec.share = config.share.get(name).copied().unwrap_or(spec.share);
        return Ok((
            spec,
            format!("fix `command` in [agents.{name}] of the config file"),
        ));
    }
    let Some(b) = BUILTINS.iter().find(|b| b.name == name) else {
        let known: Vec<&str> = BUILTINS
            .iter()
            .map(|b| b.name)
            .chain(config.agents.keys().map(String::as_str))
            .collect();
        return Err(ErrorBody::new(
            ErrorCode::NotFound,
            format!(
                "unknown agent `{name}`; known agents: {}; or use acp:'CMD ARGS' for any ACP agent",
                known.join(", ")
            ),
        ));
    };
    let var = override_var(b.name);
    let program = std::env::var_os(&var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(b.program));
    let mut args: Vec<String> = b.args.iter().map(|s| s.to_string()).collect();
    if let Some(file) = &b.file {
        args.extend([
            file.flag.to_string(),
            agent_file_path(file).display().to_string(),
        ]);
    }
    Ok((
        AgentSpec {
            name: b.name.to_string(),
            protocol: b.protocol,
            program,
            args,
            env: b
                .env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            mode: None,
            mcp_servers: Default::default(),
            // A built-in named in `[prewarm]` keeps a process per session: its spares are
            // what hides the cold start then.
            share: config
                .share
                .get(name)
                .copied()
                .unwrap_or(b.share && !config.prewarm.contains_key(name)),
        },
        format!(
            "install it with `{}`, or point capd at it with `{var}=/path/to/{} cap daemon restart`",
            b.install, b.program
        ),
    ))
}

/// Refuses, before anything starts, a policy that `agent` would not be held to: a built-in
/// that runs some commands without asking can run only under `approve-all` with no rule that
/// would refuse or ask about a command or a read. Never silently wider than asked.
pub fn check_policy(agent: &str, config: &Config, policy: &Policy) -> Result<(), ErrorBody> {
    let Some(unasked) = BUILTINS
        .iter()
        .find(|b| b.name == agent && !config.agents.contains_key(agent))
        .and_then(|b| b.unasked)
    else {
        return Ok(());
    };
    let guarded = |r: &Rule| matches!(r.kind, Kind::Execute | Kind::Read);
    let rule = policy
        .rules
        .deny
        .iter()
        .chain(&policy.rules.ask)
        .find(|r| guarded(r));
    let what = match (policy.mode, rule) {
        (Mode::ApproveAll, None) => return Ok(()),
        (Mode::ApproveAll, Some(rule)) => format!("the rule {rule}"),
        (mode, _) => format!("--permissions {mode}"),
    };
    Err(ErrorBody::new(
        ErrorCode::Usage,
        format!(
            "agent {agent} runs {unasked}, so cap cannot hold it to {what}; use --approve-all (with no deny or ask rule for execute or read), or the codex agent, which asks (docs/permissions.md)"
        ),
    ))
}

fn agent_file_path(file: &AgentFile) -> PathBuf {
    cap_proto::paths::state_dir().join(file.name)
}

/// Writes an agent's file unless it already holds what it should: into a new private temp
/// file, then renamed over the old one, so an agent starting meanwhile never reads half of it
/// and a symlink planted at the path is replaced, never followed.
fn write_agent_file(file: &AgentFile) -> std::io::Result<()> {
    use crate::persist::files;
    use std::io::{Read, Write};
    let path = agent_file_path(file);
    let mut current = String::new();
    if files::open_read(&path, "agent file")
        .and_then(|mut f| f.read_to_string(&mut current))
        .is_ok()
        && current == file.content
    {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        files::create_private_dir(dir)?;
    }
    let temp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    let written = files::create_new(&temp, "agent file")
        .and_then(|mut f| f.write_all(file.content.as_bytes()))
        .and_then(|()| std::fs::rename(&temp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

fn from_config(name: &str, cfg: &AgentConfig) -> Result<AgentSpec, ErrorBody> {
    let protocol = Protocol::parse(&cfg.protocol).ok_or_else(|| {
        ErrorBody::new(
            ErrorCode::Usage,
            format!(
                "[agents.{name}] has protocol \"{}\"; use \"acp\", \"claude-stream-json\" or \"codex-app-server\"",
                cfg.protocol
            ),
        )
    })?;
    Ok(AgentSpec {
        name: name.to_string(),
        protocol,
        program: PathBuf::from(&cfg.command),
        args: cfg.args.clone(),
        env: cfg.env.clone(),
        mode: cfg.mode.clone(),
        mcp_servers: cfg.mcp_servers.clone(),
        share: cfg.share,
    })
}

/// Finds a program: a path with a separator must exist and be executable; a bare name is
/// looked up on `PATH`.
pub fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return is_executable(program).then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Every built-in and configured agent, for `cap agents`.
pub fn list(config: &Config) -> Vec<AgentInfo> {
    let names = BUILTINS
        .iter()
        .map(|b| b.name.to_string())
        .filter(|n| !config.agents.contains_key(n))
        .chain(config.agents.keys().cloned());
    names
        .filter_map(|name| {
            let (spec, hint) = describe(&name, config).ok()?;
            let found = find_program(&spec.program);
            let source = if config.agents.contains_key(&name) {
                "config".to_string()
            } else if std::env::var_os(override_var(&name)).is_some_and(|v| !v.is_empty()) {
                format!("env {}", override_var(&name))
            } else {
                "builtin".to_string()
            };
            Some(AgentInfo {
                version: found.as_deref().and_then(version_of),
                command: found.as_ref().map(|p| p.display().to_string()),
                hint: Some(hint),
                name,
                protocol: spec.protocol.name().to_string(),
                sandbox: (spec.protocol == Protocol::CodexAppServer)
                    .then_some(found.as_deref())
                    .flatten()
                    .map(|p| {
                        let native = crate::drivers::codex::native_binary(p);
                        crate::drivers::codex::sandbox::works(&native, &spec.env)
                    }),
                args: spec.args,
                source,
                footprint: None,
            })
        })
        .collect()
}

/// `PROGRAM --version`, first line, bounded to two seconds so a hanging binary cannot stall
/// `cap agents`.
fn version_of(program: &Path) -> Option<String> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    use std::io::Read;
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    out.lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
}

use std::os::unix::process::CommandExt as _;

#[cfg(test)]
mod tests;
