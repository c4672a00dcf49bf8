//! Permissions with the genuine agents (docs/permissions.md): each pinned CLI is asked, through
//! the fake LLM's `RUNCMD` and `WRITEFILE`, to run `touch` and to write a file, and the test
//! checks what happened on disk, which `permission` events cap reported, and that the agent
//! saw the outcome: the fake answers a tool result with `TOOL RESULT: <what the tool said>`.
//!
//! Scenarios per agent: `--deny-all` refuses a command, a write, a read and a command the agent
//! judges read-only (which some agents would run without asking); `--approve-all` lets both
//! happen; the default with nobody to ask (piped text) lets a write inside the cwd and a read
//! happen and refuses a command and a write outside the cwd; a deny rule, for a command or a
//! file read, beats `--approve-all`;
//! a person at a terminal answers `y`, `n` and `a`. codex-acp, which cap cannot make ask
//! before every command, is refused every policy but `--approve-all` before a turn starts.

use cap_tests::real::{RealEnv, real_env};
use cap_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// What `WRITEFILE` writes (cap-fake-llm's `tools::WRITTEN`).
const WRITTEN: &str = "made by cap-fake-llm";
/// What the file `READFILE` reads holds.
const SECRET: &str = "SECRET-CONTENT-4711";

/// One agent's session in a temp work dir, and a directory outside it.
struct Case {
    agent: &'static str,
    env: RealEnv,
    outside: PathBuf,
}

/// What a prompt left behind.
struct Turn {
    events: Vec<Value>,
    output: String,
    rc: i32,
}

impl Turn {
    fn permissions(&self) -> Vec<&Value> {
        events_of(&self.events, "permission")
    }

    /// The decisions cap reported (`allow`, `deny`; `ask` for questions).
    fn decisions(&self) -> Vec<String> {
        self.permissions()
            .iter()
            .filter_map(|p| p["decision"].as_str().map(str::to_string))
            .collect()
    }
}

impl Case {
    fn start(agent: &'static str) -> Case {
        let mut env = real_env();
        env.start_daemon();
        let outside = env.dir.path().join("outside");
        std::fs::create_dir_all(&outside).expect("outside dir");
        std::fs::write(env.work.join("secret.txt"), SECRET).expect("secret.txt");
        Case {
            agent,
            env,
            outside,
        }
    }

    fn inside(&self, name: &str) -> PathBuf {
        self.env.work.join(name)
    }

    /// `cap --format json prompt -a AGENT ARGS…`.
    fn json(&self, args: &[&str]) -> Turn {
        let mut all = vec!["-a", self.agent];
        all.extend_from_slice(args);
        let (events, rc) = self.env.prompt_json(&all);
        let output = events
            .last()
            .and_then(|e| e["output"].as_str())
            .unwrap_or_default()
            .to_string();
        Turn { events, output, rc }
    }

    /// `cap prompt -a AGENT ARGS…` with piped output and no terminal: nobody can be asked.
    fn piped(&self, args: &[&str]) -> Output {
        let mut all = vec!["prompt", "-a", self.agent];
        all.extend_from_slice(args);
        self.env.cap(&all)
    }

    /// `cap prompt -a AGENT TEXT` on a pseudo-terminal, with `input` typed ahead.
    fn on_terminal(&self, text: &str, input: &str) -> String {
        let inner = self.env.command("cap");
        let line = format!(
            "'{}' prompt -a {} '{text}'",
            bin("cap").display(),
            self.agent
        );
        let mut script = Command::new("script");
        script
            .args(["-qec", &line, "/dev/null"])
            .current_dir(&self.env.work)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => script.env(k, v),
                None => script.env_remove(k),
            };
        }
        let mut child = script.spawn().expect("run script (util-linux)");
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin.write_all(input.as_bytes()).expect("type ahead");
        }
        let out = child.wait_with_output().expect("script output");
        text_of(&out)
    }

    /// A prompt that reads `secret.txt`: the agent's read tool, or `cat` for Codex, which
    /// reads with commands.
    fn read_prompt(&self) -> String {
        match self.agent {
            "codex" => "RUNCMD cat secret.txt".to_string(),
            _ => format!("READFILE {}", self.inside("secret.txt").display()),
        }
    }

    fn expect(&self, ok: bool, what: &str, detail: &dyn std::fmt::Debug) {
        assert!(ok, "{}: {what}: {detail:#?}", self.agent);
    }

    /// The agent's final text says the tool was refused.
    fn saw_refusal(&self, output: &str) -> bool {
        let lower = output.to_lowercase();
        output.starts_with("TOOL RESULT")
            && [
                "denied",
                "rejected",
                "refused",
                "canceled",
                "not in workspace",
            ]
            .iter()
            .any(|w| lower.contains(w))
    }
}

fn text_of(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

fn written(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains(WRITTEN))
}

/// `--deny-all`: nothing happens, cap reports each refusal, the agent sees it.
fn deny_all(c: &Case) {
    let cmd = c.json(&["--deny-all", "RUNCMD touch denied_by_mode"]);
    c.expect(cmd.rc == 0, "deny-all command exit", &cmd.events);
    c.expect(
        !c.inside("denied_by_mode").exists(),
        "the command ran",
        &cmd.events,
    );
    c.expect(
        cmd.decisions() == ["deny"],
        "one refusal",
        &cmd.permissions(),
    );
    c.expect(
        cmd.permissions()[0]["detail"] == "deny-all",
        "by the mode",
        &cmd.permissions(),
    );
    c.expect(
        c.saw_refusal(&cmd.output),
        "the agent sees the refusal",
        &cmd.output,
    );

    let target = c.inside("denied_by_mode.txt");
    let target = target.display().to_string();
    let write = c.json(&["--deny-all", &format!("WRITEFILE {target}")]);
    c.expect(
        !Path::new(&target).exists(),
        "the write happened",
        &write.events,
    );
    c.expect(
        write.decisions() == ["deny"],
        "one refusal",
        &write.permissions(),
    );
    c.expect(
        write.permissions()[0]["kind"] == "edit",
        "an edit",
        &write.permissions(),
    );
    c.expect(
        c.saw_refusal(&write.output),
        "the agent sees the refusal",
        &write.output,
    );

    // Reads too: cap makes every agent ask before it reads.
    let read = c.json(&["--deny-all", &c.read_prompt()]);
    c.expect(
        !read.output.contains(SECRET),
        "the file was read",
        &read.output,
    );
    c.expect(
        read.decisions() == ["deny"],
        "asked and refused",
        &read.permissions(),
    );
    c.expect(
        c.saw_refusal(&read.output),
        "the agent sees the refusal",
        &read.output,
    );
}

/// A command the agent itself judges read-only (`echo`): cap makes Claude Code, the Claude
/// adapter, Gemini CLI, OpenCode and Codex ask, so `--deny-all` refuses it too.
fn read_only_command(c: &Case) {
    let turn = c.json(&["--deny-all", "RUNCMD echo read-only-ran"]);
    let ran = turn.output.contains("TOOL RESULT") && turn.output.contains("read-only-ran");
    c.expect(!ran, "the read-only command ran", &turn.output);
    c.expect(
        turn.decisions() == ["deny"],
        "asked and refused",
        &turn.permissions(),
    );
    c.expect(
        turn.permissions()[0]["subject"] == "echo read-only-ran",
        "the command itself is judged",
        &turn.permissions(),
    );
}

/// `--approve-all`: both happen, each allowed by the mode.
fn approve_all(c: &Case) {
    let cmd = c.json(&["--approve-all", "RUNCMD touch made_by_cmd"]);
    c.expect(
        c.inside("made_by_cmd").exists(),
        "the command did not run",
        &cmd.events,
    );
    c.expect(cmd.decisions() == ["allow"], "allowed", &cmd.permissions());
    let target = c.inside("approved.txt");
    let write = c.json(&["--approve-all", &format!("WRITEFILE {}", target.display())]);
    c.expect(written(&target), "the file was not written", &write.events);
    c.expect(
        write.output.starts_with("TOOL RESULT"),
        "the agent saw it",
        &write.output,
    );
}

/// The default (approve-edits) with nobody to ask: a write inside the cwd happens; a command
/// and a write outside the cwd are refused, and `cap` says so on stderr.
fn default_piped(c: &Case) {
    let inside = c.inside("default_inside.txt");
    let out = c.piped(&[&format!("WRITEFILE {}", inside.display())]);
    c.expect(code(&out) == 0, "exit", &text_of(&out));
    c.expect(
        written(&inside),
        "the write inside the cwd did not happen",
        &text_of(&out),
    );

    let out = c.piped(&["RUNCMD touch default_cmd"]);
    c.expect(code(&out) == 0, "exit", &text_of(&out));
    c.expect(
        !c.inside("default_cmd").exists(),
        "the command ran",
        &text_of(&out),
    );
    c.expect(
        c.saw_refusal(text(&out.stdout).trim()),
        "refusal seen",
        &text_of(&out),
    );
    c.expect(
        text(&out.stderr).contains("nobody could be asked"),
        "cap names the refusal",
        &text_of(&out),
    );

    if c.agent != "codex" {
        // Reads are allowed (Codex reads with commands, which are asked).
        let out = c.piped(&[&c.read_prompt()]);
        c.expect(
            text(&out.stdout).contains(SECRET),
            "the read was refused",
            &text_of(&out),
        );
    }

    let outside = c.outside.join("outside.txt");
    let out = c.piped(&[&format!("WRITEFILE {}", outside.display())]);
    c.expect(code(&out) == 0, "exit", &text_of(&out));
    c.expect(
        !outside.exists(),
        "the write outside the cwd happened",
        &text_of(&out),
    );
    c.expect(
        c.saw_refusal(text(&out.stdout).trim()),
        "refusal seen",
        &text_of(&out),
    );
}

/// A deny rule beats `--approve-all`.
fn deny_rule(c: &Case) {
    let turn = c.json(&[
        "--approve-all",
        "--deny",
        "execute(touch*)",
        "RUNCMD touch denied_by_rule",
    ]);
    c.expect(
        !c.inside("denied_by_rule").exists(),
        "the command ran",
        &turn.events,
    );
    let seen = turn.permissions();
    c.expect(turn.decisions() == ["deny"], "refused", &seen);
    c.expect(
        seen[0]["detail"] == "deny:execute(touch*)",
        "by the rule",
        &seen,
    );
    c.expect(
        c.saw_refusal(&turn.output),
        "the agent sees the refusal",
        &turn.output,
    );

    // A read rule names the file, so the agent must say which file it reads (opencode tells
    // only in the tool call's earlier update). Codex reads with commands: covered above.
    if c.agent != "codex" {
        let turn = c.json(&[
            "--approve-all",
            "--deny",
            "read(*secret*)",
            &c.read_prompt(),
        ]);
        c.expect(
            !turn.output.contains(SECRET),
            "the file was read",
            &turn.output,
        );
        let seen = turn.permissions();
        c.expect(turn.decisions() == ["deny"], "refused", &seen);
        c.expect(
            seen[0]["detail"] == "deny:read(*secret*)",
            "by the rule",
            &seen,
        );
    }
}

/// A person at the terminal: `y` runs the command, `n` refuses it, `a` runs it and allows the
/// same command for the rest of the session, without asking.
fn terminal(c: &Case) {
    let screen = c.on_terminal("RUNCMD touch by_yes", "y\n");
    c.expect(screen.contains("Allow"), "the question", &screen);
    c.expect(
        c.inside("by_yes").exists(),
        "y: the command did not run",
        &screen,
    );

    let screen = c.on_terminal("RUNCMD touch by_no", "n\n");
    c.expect(!c.inside("by_no").exists(), "n: the command ran", &screen);
    c.expect(
        screen.contains("TOOL RESULT") && !screen.contains("touch by_no [completed]"),
        "n: the agent sees the refusal",
        &screen,
    );

    let screen = c.on_terminal("RUNCMD touch by_always", "a\n");
    c.expect(
        c.inside("by_always").exists(),
        "a: the command did not run",
        &screen,
    );
    std::fs::remove_file(c.inside("by_always")).expect("remove by_always");
    // Piped, where nobody could be asked: the "always" answer decides.
    let again = c.json(&["RUNCMD touch by_always"]);
    c.expect(
        c.inside("by_always").exists(),
        "always: not run again",
        &again.events,
    );
    let seen = again.permissions();
    c.expect(
        seen.len() == 1 && seen[0]["by"] == "user",
        "not asked again",
        &seen,
    );
}

fn all(agent: &'static str) {
    let c = Case::start(agent);
    deny_all(&c);
    read_only_command(&c);
    approve_all(&c);
    default_piped(&c);
    deny_rule(&c);
    terminal(&c);
}

#[test]
fn claude_is_held_to_every_mode() {
    all("claude");
}

#[test]
fn codex_is_held_to_every_mode() {
    all("codex");
}

#[test]
fn gemini_is_held_to_every_mode() {
    all("gemini");
}

#[test]
fn opencode_is_held_to_every_mode() {
    all("opencode");
}

#[test]
fn claude_acp_is_held_to_every_mode() {
    all("claude-acp");
}

/// codex-acp runs Codex's trusted commands (`echo`, `cat`, …) without asking, whatever it is
/// told, so cap refuses every policy it could not hold it to, before the turn starts; under
/// `--approve-all` it asks, and both tools run.
#[test]
fn codex_acp_is_refused_what_it_cannot_be_held_to() {
    let c = Case::start("codex-acp");
    for args in [
        vec!["--deny-all"],
        vec![],
        vec!["--permissions", "approve-reads"],
        vec!["--approve-all", "--deny", "execute(touch*)"],
    ] {
        let mut all = args.clone();
        all.push("RUNCMD touch refused_mode");
        let out = c.piped(&all);
        let said = text(&out.stderr);
        c.expect(code(&out) == 2, "a usage error", &text_of(&out));
        c.expect(
            said.contains("codex-acp runs Codex's trusted commands"),
            "why",
            &said,
        );
        c.expect(!c.inside("refused_mode").exists(), "the turn ran", &said);
    }
    let sessions = c.env.sessions_doc();
    c.expect(sessions.is_empty(), "nothing was started", &sessions);
    approve_all(&c);
}
