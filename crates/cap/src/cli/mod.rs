//! The command-line grammar of `cap`, as clap derive structs.
//!
//! Kept free of behaviour so that the xtask can build man pages and shell completions from
//! [`Cli`] alone, and so that the grammar can be tested without a daemon.

use cap_proto::policy::{Mode, Rule};
use clap::builder::FalseyValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use std::path::PathBuf;

/// Talk to warm coding-agent sessions kept alive by `capd`.
#[derive(Debug, Parser)]
#[command(
    name = "cap",
    version,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = "Exit codes: 0 ok, 1 agent error, 2 usage, 3 timeout, 4 not found, \
                  5 permission denied, 6 daemon unavailable, 7 limit reached, 130 interrupted.",
    after_long_help = "Exit codes: 0 ok, 1 agent error, 2 usage, 3 timeout, 4 not found, \
                  5 permission denied, 6 daemon unavailable, 7 limit reached, 130 interrupted.\n\n\
                  Waiting on capd: connecting and the handshake must finish within \
                  CAP_CONNECT_TIMEOUT seconds (default 10). While waiting for replies, cap \
                  sends a `status` ping after CAP_PING_INTERVAL seconds of silence (default \
                  10) and gives up with exit code 6 when a ping goes unanswered for \
                  CAP_PING_TIMEOUT seconds (default 20); a long turn is fine, a wedged \
                  daemon is not."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts. They are listed under their own heading in every
/// `--help`, so a subcommand's own options are not lost among them.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// The daemon's socket [default: <runtime dir>/cap/capd.sock].
    #[arg(long, global = true, env = "CAP_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Output format: streamed text, NDJSON events, or only the final answer.
    #[arg(
        long,
        global = true,
        env = "CAP_FORMAT",
        value_enum,
        default_value_t = Format::Text
    )]
    pub format: Format,

    /// Never start capd; fail with exit code 6 when none is running.
    #[arg(
        long,
        global = true,
        env = "CAP_NO_AUTOSTART",
        action = ArgAction::SetTrue,
        value_parser = FalseyValueParser::new()
    )]
    pub no_autostart: bool,

    /// Say more on stderr (repeat for raw agent updates).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Config file handed to an autostarted capd [default: <config dir>/cap/config.toml].
    #[arg(long, global = true, env = "CAP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Talk to the capd on another machine, through ssh: ssh://[user@]host[:port], or the
    /// name of a [hosts.NAME] table in the config. Paths (-C) then name directories there.
    #[arg(long, global = true, env = "CAP_HOST", value_name = "HOST")]
    pub host: Option<String>,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The reply streamed to stdout, progress on stderr.
    Text,
    /// One JSON event per line (NDJSON); one JSON document for other commands.
    Json,
    /// Only the final answer on stdout; one line on stderr on failure.
    Quiet,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one prompt and stream the turn.
    Prompt(PromptArgs),
    /// Open a session without prompting and bind it to the key.
    Open(OpenArgs),
    /// List live sessions.
    #[command(visible_alias = "ls")]
    Sessions,
    /// Show one session in full, with a resume hint.
    Show {
        /// Daemon session id.
        id: String,
    },
    /// End a session (by id, by key, or the one bound to this directory's key).
    End(TargetArgs),
    /// Bind a key to a live session.
    Bind {
        /// Routing key, e.g. `review` or `dir:/path/to/repo`.
        key: String,
        /// Daemon session id.
        id: String,
    },
    /// Remove a key's binding.
    Unbind {
        /// Routing key.
        key: String,
    },
    /// List bindings, the suspended pool and remembered records.
    Keys,
    /// Cancel the running turn ("nothing to cancel" is success).
    Cancel(TargetArgs),
    /// Copy a session's conversation into a new session bound to another key.
    Fork(ForkArgs),
    /// Answer a permission question (a `permission` event whose decision is `ask`).
    Decide {
        /// The question's id, from the event.
        id: String,
        /// allow or deny.
        #[arg(value_enum)]
        answer: Answer,
        /// With allow: allow the same use for the rest of the session.
        #[arg(long)]
        always: bool,
    },
    /// Follow a session's events live, including the turn in progress.
    Attach {
        /// Daemon session id.
        id: String,
    },
    /// Print the last finished turn's result.
    Result {
        /// Daemon session id.
        id: String,
    },
    /// Show a conversation's transcript: prompts, replies, tool calls, decisions, results.
    Log {
        #[command(flatten)]
        target: LogTarget,
        /// Only the last TURNS turns.
        #[arg(short = 'n', long = "turns", value_name = "TURNS")]
        turns: Option<usize>,
        /// Keep printing the records of new turns until the session ends.
        #[arg(short, long)]
        follow: bool,
    },
    /// Write a conversation's transcript as one document to stdout.
    Export {
        #[command(flatten)]
        target: LogTarget,
        /// The document's format.
        #[arg(long, value_enum, default_value = "markdown")]
        to: ExportFormat,
    },
    /// List built-in and configured agents.
    Agents,
    /// Manage the daemon.
    Daemon {
        #[command(subcommand)]
        action: DaemonAction,
    },
    /// Run the idle sweep now.
    Gc,
    /// Spending caps: forget what a key has spent.
    Budget {
        #[command(subcommand)]
        action: BudgetAction,
    },
    /// Show the resolved configuration or where it lives.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Serve MCP on stdio: lets an agent hold warm conversations with other agents.
    Mcp(McpArgs),
    /// Print shell completions to stdout.
    Completions {
        /// The shell to complete for.
        shell: Shell,
    },
}

/// `cap fork`: what to copy, and where the copy goes.
#[derive(Debug, Clone, Args)]
pub struct ForkArgs {
    /// The daemon session to copy [default: the one bound to --from, else to this
    /// directory's key, else that key's remembered conversation].
    #[arg(conflicts_with = "from")]
    pub id: Option<String>,
    /// Copy the conversation of this key instead.
    #[arg(long, value_name = "KEY")]
    pub from: Option<String>,
    /// The key the new session is bound to.
    #[arg(short, long, value_name = "NEW")]
    pub key: String,
}

/// `cap budget …`.
#[derive(Debug, Subcommand)]
pub enum BudgetAction {
    /// Forget what a key has spent, so its budget allows prompts again.
    Reset {
        /// The key [default: this directory's key].
        #[arg(short, long, value_name = "KEY")]
        key: Option<String>,
    },
}

/// `cap decide`'s answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Answer {
    Allow,
    Deny,
}

/// How `prompt` and `open` pick their session.
#[derive(Debug, Clone, Default, Args)]
pub struct RouteArgs {
    /// Agent name (claude, codex, opencode, gemini, a configured one, or `acp:'CMD ARGS'`)
    /// [default: the key's current agent, else config `default_agent`, else claude].
    #[arg(short, long, value_name = "NAME")]
    pub agent: Option<String>,

    /// Routing key [default: `dir:<git root>` or `dir:<cwd>`].
    #[arg(short, long, value_name = "KEY")]
    pub key: Option<String>,

    /// Use this daemon session, bypassing keys.
    #[arg(
        short,
        long,
        value_name = "ID",
        conflicts_with_all = ["new", "resume", "continue_last"]
    )]
    pub session: Option<String>,

    /// Always open a fresh session (and rebind the key to it).
    #[arg(long, conflicts_with_all = ["resume", "continue_last"])]
    pub new: bool,

    /// Resume the agent's own session with this id.
    #[arg(long, value_name = "NATIVE_ID", conflicts_with = "continue_last")]
    pub resume: Option<String>,

    /// Continue the agent's most recent session in the working directory.
    #[arg(long = "continue")]
    pub continue_last: bool,

    /// Working directory of the session [default: the current directory].
    #[arg(short = 'C', long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,

    /// Model of the session: given to the agent when a session opens; `prompt` on a warm
    /// session switches it before sending, keeping the conversation (exit 2 when the agent
    /// cannot switch).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,

    /// File whose text is prepended to the first prompt of a fresh session.
    #[arg(long, value_name = "FILE")]
    pub preamble: Option<PathBuf>,

    /// MCP servers for the session, from a `{"mcpServers": {NAME: {...}}}` file, on top of
    /// the agent's configured `mcp_servers`; kept with the key's record, so a resume gets
    /// them too. A warm session with other servers is restarted by resume to take them.
    #[arg(long, value_name = "FILE")]
    pub mcp_config: Option<PathBuf>,

    #[command(flatten)]
    pub permissions: PermissionArgs,
}

/// What the agent may do, for `prompt` and `open`. See docs/permissions.md.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Permissions")]
pub struct PermissionArgs {
    /// What the agent may do without asking [default: config `default_permissions`, else
    /// approve-edits: reads anywhere and edits inside the cwd; commands are asked].
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    pub permissions: Option<Mode>,

    /// Short for --permissions approve-all.
    #[arg(long, conflicts_with_all = ["permissions", "deny_all"])]
    pub approve_all: bool,

    /// Short for --permissions deny-all.
    #[arg(long, conflicts_with = "permissions")]
    pub deny_all: bool,

    /// Allow a tool use without asking: KIND or KIND(PATTERN), e.g. 'execute(cargo test*)'
    /// (kinds: read, edit, execute, fetch). Repeatable.
    #[arg(long, value_name = "RULE", value_parser = parse_rule)]
    pub allow: Vec<Rule>,

    /// Refuse a tool use, whatever else allows it, e.g. 'edit(/etc/**)'. Repeatable.
    #[arg(long, value_name = "RULE", value_parser = parse_rule)]
    pub deny: Vec<Rule>,

    /// Ask before a tool use the mode would allow, e.g. 'fetch'. Repeatable.
    #[arg(long, value_name = "RULE", value_parser = parse_rule)]
    pub ask: Vec<Rule>,

    /// When a question cannot be put to anyone (no terminal, no JSON consumer): deny it and
    /// go on, or fail the turn with exit code 5 [default: deny].
    #[arg(long, value_name = "WHAT", value_enum)]
    pub non_interactive: Option<NonInteractive>,
}

/// `--non-interactive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NonInteractive {
    Deny,
    Fail,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

fn parse_rule(s: &str) -> Result<Rule, String> {
    s.parse()
}

#[derive(Debug, Clone, Args)]
pub struct PromptArgs {
    #[command(flatten)]
    pub route: RouteArgs,

    /// The prompt, joined by spaces [default: --file, else stdin when it is not a terminal].
    #[arg(value_name = "TEXT")]
    pub text: Vec<String>,

    /// Read the prompt from a file (`-` = stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "text")]
    pub file: Option<PathBuf>,

    /// Seconds before the turn is cancelled (0 = no limit) [default: the daemon's].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,

    /// Return as soon as the prompt is queued; fetch the answer with `cap result`.
    #[arg(long)]
    pub no_wait: bool,

    /// Refuse the prompt (exit 7) when its key has already spent this many US dollars.
    #[arg(long, value_name = "USD")]
    pub budget: Option<f64>,

    /// Switching the key to --agent: start with its recorded turns with the previous agent
    /// (the last few, cut to a size limit), saying which agent did what.
    #[arg(long, requires = "agent")]
    pub handoff: bool,

    /// Answer with JSON valid against this JSON Schema (a file, or the schema itself):
    /// stdout is then that JSON alone. A wrong answer is asked for again twice, then the
    /// prompt fails (exit 1) naming the failing path.
    #[arg(long, value_name = "FILE|JSON")]
    pub schema: Option<String>,
    /// Add the text to the turn running on the session (Codex), instead of queueing it as a
    /// prompt of its own; where the agent cannot take input mid-turn, or no turn runs, it is
    /// queued as usual and a status line says so.
    #[arg(long)]
    pub steer: bool,
}

#[derive(Debug, Clone, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub route: RouteArgs,

    /// Only open the session; leave the key's binding alone.
    #[arg(long)]
    pub no_bind: bool,
}

/// `cap mcp`: the MCP server, or the snippet that configures an agent to start it.
#[derive(Debug, Clone, Args)]
#[command(after_long_help = "Setup, in one line for Claude Code:\n  \
    claude mcp add --scope user cap -- cap mcp\n\
    `cap mcp --print-config codex|gemini|opencode` prints the others' configuration.")]
pub struct McpArgs {
    /// Put this server's conversations under their own keys (`mcp:NAME:...`), apart from
    /// other callers'.
    #[arg(long, value_name = "NAME")]
    pub key_prefix: Option<String>,

    /// Print the snippet that adds cap to AGENT's MCP servers, and exit.
    #[arg(long, value_name = "AGENT")]
    pub print_config: Option<crate::mcp::setup::Client>,

    /// Directory the delegated sessions work in (default: the current one).
    #[arg(short = 'C', long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
}

/// A session named by id, by key, or by neither (the current directory's default key).
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Daemon session id.
    #[arg(value_name = "ID", conflicts_with = "key")]
    pub id: Option<String>,

    /// The session bound to this key.
    #[arg(short, long, value_name = "KEY")]
    pub key: Option<String>,

    /// Directory whose default key is meant when neither ID nor --key is given.
    #[arg(short = 'C', long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
}

/// `cap export --to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Headings per turn, the prompt, the reply, tool calls as lists.
    Markdown,
    /// One JSON document with the records.
    Json,
}

/// A conversation for `log` and `export`: by id, by key, or the current directory's key.
#[derive(Debug, Clone, Args)]
pub struct LogTarget {
    /// A daemon session id or an agent's native session id.
    #[arg(value_name = "ID", conflicts_with = "key")]
    pub id: Option<String>,

    /// The conversation of this key's current agent, live or not.
    #[arg(short, long, value_name = "KEY")]
    pub key: Option<String>,

    /// Directory whose default key is meant when neither ID nor --key is given.
    #[arg(short = 'C', long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
}

impl From<LogTarget> for TargetArgs {
    fn from(t: LogTarget) -> TargetArgs {
        TargetArgs {
            id: t.id,
            key: t.key,
            cwd: t.cwd,
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum DaemonAction {
    /// Start capd in the background unless one already answers.
    Start,
    /// Ask capd to shut down and wait until it is gone.
    Stop,
    /// Stop capd (if running), then start it again.
    Restart,
    /// Show pid, version, uptime, socket, sessions and limits.
    Status,
    /// Bridge stdin and stdout to capd's socket byte for byte (starting capd first unless
    /// autostart is off); a remote host's cap runs this over ssh.
    DialStdio,
    /// Install and enable the per-user service that starts capd at login: systemd user
    /// units with socket activation on Linux, a launchd agent on macOS.
    InstallService(InstallServiceArgs),
}

/// `cap daemon install-service`.
#[derive(Debug, Clone, Args)]
pub struct InstallServiceArgs {
    /// Print the files and commands instead of writing and running them.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the files but do not enable or start the service.
    #[arg(long)]
    pub no_enable: bool,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum ConfigAction {
    /// The configuration capd resolved (defaults included).
    Show,
    /// Where the config file is looked for (no daemon needed).
    Path,
}

#[cfg(test)]
mod tests;
