//! The permission policy: one meaning for every agent.
//!
//! An agent asks before it uses a tool (Claude's `can_use_tool`, Codex's approval requests,
//! ACP's `session/request_permission`). Its driver classifies the request into a [`ToolUse`]:
//! a [`Kind`] and a subject (the command line, or the path written). [`Policy::evaluate`]
//! answers it from the rules, then the mode: deny rules first, then allow, then ask, then the
//! mode. What is left to ask goes to the person who sent the prompt.
//!
//! Rules read `KIND` or `KIND(PATTERN)`, for example `execute(cargo test*)` or
//! `edit(/etc/**)`. A pattern is a wildcard match over the whole subject: `*` (and `**`)
//! match any run of characters, `/` included, and `?` matches one. An edit or read pattern
//! that is not absolute is taken relative to the session's cwd.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// What an agent may do without asking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Everything, unless a rule says otherwise.
    ApproveAll,
    /// Reads anywhere, and edits inside the session's cwd; anything else is asked.
    #[default]
    ApproveEdits,
    /// Reads anywhere; anything else is asked.
    ApproveReads,
    /// Nothing: every request is refused.
    DenyAll,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::ApproveAll => "approve-all",
            Mode::ApproveEdits => "approve-edits",
            Mode::ApproveReads => "approve-reads",
            Mode::DenyAll => "deny-all",
        })
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "approve-all" => Ok(Mode::ApproveAll),
            "approve-edits" => Ok(Mode::ApproveEdits),
            "approve-reads" => Ok(Mode::ApproveReads),
            "deny-all" => Ok(Mode::DenyAll),
            other => Err(format!(
                "unknown permission mode {other:?}; use approve-all, approve-edits, approve-reads or deny-all"
            )),
        }
    }
}

/// What a tool does, as far as permissions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Reads files or searches.
    Read,
    /// Writes, edits, moves or deletes files.
    Edit,
    /// Runs a command. Anything cap cannot classify is treated as this.
    Execute,
    /// Reaches the network.
    Fetch,
}

impl Kind {
    /// Maps an agent's own kind word (ACP's `ToolKind`, a tool name's family). Unknown words
    /// are `Execute`: the most guarded kind, so nothing unclassified slips through as a read.
    pub fn classify(word: &str) -> Kind {
        match word.to_ascii_lowercase().as_str() {
            "read" | "search" | "think" | "glob" | "grep" | "ls" | "list" => Kind::Read,
            "edit" | "write" | "delete" | "move" | "patch" | "apply_patch" | "filechange" => {
                Kind::Edit
            }
            "fetch" | "webfetch" | "websearch" | "web_search" => Kind::Fetch,
            _ => Kind::Execute,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Read => "read",
            Kind::Edit => "edit",
            Kind::Execute => "execute",
            Kind::Fetch => "fetch",
        })
    }
}

/// A rule's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
    Ask,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
            Verdict::Ask => "ask",
        })
    }
}

/// `KIND` or `KIND(PATTERN)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rule {
    pub kind: Kind,
    /// `None` matches every use of the kind.
    pub pattern: Option<String>,
}

impl FromStr for Rule {
    type Err = String;
    fn from_str(s: &str) -> Result<Rule, String> {
        let s = s.trim();
        let bad = || {
            format!(
                "bad permission rule {s:?}; write KIND or KIND(PATTERN) with KIND one of read, edit, execute, fetch, e.g. 'execute(cargo test*)'"
            )
        };
        let (word, pattern) = match s.split_once('(') {
            Some((word, rest)) => {
                let pattern = rest.strip_suffix(')').ok_or_else(bad)?;
                (word.trim(), Some(pattern.to_string()))
            }
            None => (s, None),
        };
        let kind = match word {
            "read" => Kind::Read,
            "edit" => Kind::Edit,
            "execute" => Kind::Execute,
            "fetch" => Kind::Fetch,
            _ => return Err(bad()),
        };
        Ok(Rule { kind, pattern })
    }
}

impl TryFrom<String> for Rule {
    type Error = String;
    fn try_from(s: String) -> Result<Rule, String> {
        s.parse()
    }
}

impl From<Rule> for String {
    fn from(r: Rule) -> String {
        r.to_string()
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pattern {
            Some(p) => write!(f, "{}({p})", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl Rule {
    /// Whether the rule covers `tool`, for a session in `cwd`.
    pub fn matches(&self, tool: &ToolUse, cwd: &Path) -> bool {
        if self.kind != tool.kind {
            return false;
        }
        let Some(pattern) = &self.pattern else {
            return true;
        };
        let Some(subject) = &tool.subject else {
            return false;
        };
        match tool.kind {
            Kind::Edit | Kind::Read => {
                let pattern = absolute(Path::new(pattern), cwd);
                let subject = absolute(Path::new(subject), cwd);
                wildcard(&pattern.to_string_lossy(), &subject.to_string_lossy())
            }
            Kind::Execute | Kind::Fetch => wildcard(pattern, subject),
        }
    }
}

/// The allow, deny and ask rules, as config and flags give them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    #[serde(default)]
    pub allow: Vec<Rule>,
    #[serde(default)]
    pub deny: Vec<Rule>,
    #[serde(default)]
    pub ask: Vec<Rule>,
}

impl Rules {
    /// Both sets of rules, `self` first.
    pub fn and(&self, more: &Rules) -> Rules {
        let join = |a: &[Rule], b: &[Rule]| a.iter().chain(b).cloned().collect();
        Rules {
            allow: join(&self.allow, &more.allow),
            deny: join(&self.deny, &more.deny),
            ask: join(&self.ask, &more.ask),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty() && self.ask.is_empty()
    }
}

/// One request of an agent to use a tool, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolUse {
    /// The agent's name for the tool (`Bash`, `Write`, `shell`, …).
    pub tool: String,
    pub kind: Kind,
    /// What it acts on: the command line for `execute`, the path for `edit` and `read`, the
    /// URL for `fetch`.
    pub subject: Option<String>,
}

/// Who or what decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by", content = "detail")]
pub enum DecidedBy {
    /// The mode.
    Policy(Mode),
    /// A rule, as written.
    Rule(String),
    /// The person who was asked (or an "always" answer they gave earlier in the session).
    User,
    /// Nobody answered in time, or nobody could be asked.
    Timeout,
    /// Nobody could be asked: no terminal, no event consumer.
    NoOneToAsk,
}

/// The policy a turn runs under.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub mode: Mode,
    #[serde(default)]
    pub rules: Rules,
}

impl Policy {
    /// Deny rules, then allow rules, then ask rules, then the mode.
    pub fn evaluate(&self, tool: &ToolUse, cwd: &Path) -> (Verdict, DecidedBy) {
        // A use whose subject the agent did not say cannot be shown to be outside a deny or
        // ask pattern, so those rules hold for it; an allow pattern needs a subject that fits.
        let unknown = |r: &Rule| r.kind == tool.kind && tool.subject.is_none();
        let by_rules = [
            (Verdict::Deny, &self.rules.deny, true),
            (Verdict::Allow, &self.rules.allow, false),
            (Verdict::Ask, &self.rules.ask, true),
        ];
        for (verdict, rules, cautious) in by_rules {
            let hit = rules
                .iter()
                .find(|r| r.matches(tool, cwd) || (cautious && unknown(r)));
            if let Some(rule) = hit {
                return (verdict, DecidedBy::Rule(format!("{verdict}:{rule}")));
            }
        }
        let verdict = match (self.mode, tool.kind) {
            (Mode::ApproveAll, _) => Verdict::Allow,
            (Mode::DenyAll, _) => Verdict::Deny,
            (Mode::ApproveEdits | Mode::ApproveReads, Kind::Read) => Verdict::Allow,
            (Mode::ApproveEdits, Kind::Edit) if inside(tool.subject.as_deref(), cwd) => {
                Verdict::Allow
            }
            _ => Verdict::Ask,
        };
        (verdict, DecidedBy::Policy(self.mode))
    }
}

/// What an answer to a denied request says would have allowed it.
pub fn how_to_allow(tool: &ToolUse) -> String {
    let rule = match (&tool.subject, tool.kind) {
        (Some(s), Kind::Execute) => {
            let first = s.split_whitespace().next().unwrap_or(s);
            format!("{}({first}*)", tool.kind)
        }
        (Some(s), _) => format!("{}({s})", tool.kind),
        (None, _) => tool.kind.to_string(),
    };
    format!(
        "--allow '{rule}' (or allow it in the config's [permissions]), or --permissions approve-all"
    )
}

/// Whether `path` (relative to `cwd` when not absolute) lies inside `cwd`.
fn inside(path: Option<&str>, cwd: &Path) -> bool {
    path.is_some_and(|p| absolute(Path::new(p), cwd).starts_with(normalize(cwd)))
}

/// `path` made absolute against `cwd`, with `.` and `..` resolved lexically (the file may not
/// exist yet, so nothing is looked up on disk).
fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        normalize(&cwd.join(path))
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `*` matches any run of characters, `?` one character; everything else matches itself.
fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(cmd: &str) -> ToolUse {
        ToolUse {
            tool: "Bash".into(),
            kind: Kind::Execute,
            subject: Some(cmd.into()),
        }
    }

    fn edit(path: &str) -> ToolUse {
        ToolUse {
            tool: "Write".into(),
            kind: Kind::Edit,
            subject: Some(path.into()),
        }
    }

    fn read(path: &str) -> ToolUse {
        ToolUse {
            tool: "Read".into(),
            kind: Kind::Read,
            subject: Some(path.into()),
        }
    }

    fn policy(mode: Mode, rules: &[(&str, Verdict)]) -> Policy {
        let mut r = Rules::default();
        for (text, v) in rules {
            let rule: Rule = text.parse().unwrap();
            match v {
                Verdict::Allow => r.allow.push(rule),
                Verdict::Deny => r.deny.push(rule),
                Verdict::Ask => r.ask.push(rule),
            }
        }
        Policy { mode, rules: r }
    }

    const CWD: &str = "/home/ada/repo";

    fn verdict(p: &Policy, t: &ToolUse) -> Verdict {
        p.evaluate(t, Path::new(CWD)).0
    }

    #[test]
    fn modes_mean_the_same_for_every_agent() {
        let all = policy(Mode::ApproveAll, &[]);
        let edits = policy(Mode::ApproveEdits, &[]);
        let reads = policy(Mode::ApproveReads, &[]);
        let none = policy(Mode::DenyAll, &[]);
        for (p, cmd, inside, outside, rd) in [
            (
                &all,
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Allow,
                Verdict::Allow,
            ),
            (
                &edits,
                Verdict::Ask,
                Verdict::Allow,
                Verdict::Ask,
                Verdict::Allow,
            ),
            (
                &reads,
                Verdict::Ask,
                Verdict::Ask,
                Verdict::Ask,
                Verdict::Allow,
            ),
            (
                &none,
                Verdict::Deny,
                Verdict::Deny,
                Verdict::Deny,
                Verdict::Deny,
            ),
        ] {
            assert_eq!(verdict(p, &exec("cargo test")), cmd, "{p:?}");
            assert_eq!(verdict(p, &edit("src/lib.rs")), inside, "{p:?}");
            assert_eq!(verdict(p, &edit("/etc/passwd")), outside, "{p:?}");
            assert_eq!(verdict(p, &read("/etc/hosts")), rd, "{p:?}");
        }
    }

    #[test]
    fn edits_that_climb_out_of_the_cwd_are_outside() {
        let edits = policy(Mode::ApproveEdits, &[]);
        assert_eq!(verdict(&edits, &edit("../other/x")), Verdict::Ask);
        assert_eq!(
            verdict(&edits, &edit("/home/ada/repo/./a/../b")),
            Verdict::Allow
        );
        assert_eq!(
            verdict(&edits, &edit("/home/ada/repository/x")),
            Verdict::Ask
        );
        let no_path = ToolUse {
            subject: None,
            ..edit("")
        };
        assert_eq!(
            verdict(&edits, &no_path),
            Verdict::Ask,
            "an unknown path is asked"
        );
    }

    #[test]
    fn rules_go_deny_then_allow_then_ask_then_mode() {
        let p = policy(
            Mode::ApproveAll,
            &[
                ("execute(rm *)", Verdict::Deny),
                ("execute", Verdict::Allow),
            ],
        );
        let (_, by) = p.evaluate(&exec("RM"), Path::new(CWD));
        assert_eq!(by, DecidedBy::Rule("allow:execute".into()));
        let p = policy(
            Mode::ApproveAll,
            &[
                ("execute(rm *)", Verdict::Deny),
                ("execute", Verdict::Allow),
            ],
        );
        let (v, by) = p.evaluate(&exec("rm -rf /"), Path::new(CWD));
        assert_eq!(
            v,
            Verdict::Deny,
            "a deny rule beats approve-all and an allow rule"
        );
        assert_eq!(by, DecidedBy::Rule("deny:execute(rm *)".into()));
        let p = policy(
            Mode::DenyAll,
            &[
                ("execute(cargo test*)", Verdict::Allow),
                ("execute", Verdict::Ask),
            ],
        );
        assert_eq!(verdict(&p, &exec("cargo test --all")), Verdict::Allow);
        assert_eq!(verdict(&p, &exec("cargo build")), Verdict::Ask);
        assert_eq!(verdict(&p, &edit("x")), Verdict::Deny);
    }

    #[test]
    fn a_use_without_a_subject_is_held_by_deny_and_ask_patterns_but_not_allowed_by_one() {
        let blind = ToolUse {
            tool: "Read".into(),
            kind: Kind::Read,
            subject: None,
        };
        let p = policy(Mode::ApproveAll, &[("read(*secret*)", Verdict::Deny)]);
        assert_eq!(verdict(&p, &blind), Verdict::Deny);
        let p = policy(Mode::ApproveReads, &[("execute(ls*)", Verdict::Allow)]);
        let no_cmd = ToolUse {
            subject: None,
            ..exec("")
        };
        assert_eq!(
            verdict(&p, &no_cmd),
            Verdict::Ask,
            "an allow pattern needs a subject"
        );
    }

    #[test]
    fn path_patterns_are_relative_to_the_cwd_and_match_whole_subjects() {
        let p = policy(
            Mode::ApproveAll,
            &[
                ("edit(/etc/**)", Verdict::Deny),
                ("edit(secrets/*)", Verdict::Deny),
            ],
        );
        assert_eq!(verdict(&p, &edit("/etc/ssh/sshd_config")), Verdict::Deny);
        assert_eq!(verdict(&p, &edit("secrets/key")), Verdict::Deny);
        assert_eq!(
            verdict(&p, &edit("/home/ada/repo/secrets/key")),
            Verdict::Deny
        );
        assert_eq!(verdict(&p, &edit("src/secrets/key")), Verdict::Allow);
    }

    #[test]
    fn rules_parse_and_print_and_refuse_garbage() {
        let r: Rule = "execute(cargo test*)".parse().unwrap();
        assert_eq!(r.kind, Kind::Execute);
        assert_eq!(r.pattern.as_deref(), Some("cargo test*"));
        assert_eq!(r.to_string(), "execute(cargo test*)");
        assert_eq!("read".parse::<Rule>().unwrap().pattern, None);
        for bad in ["run(ls)", "execute(ls", "", "Edit(x)"] {
            let err = bad.parse::<Rule>().unwrap_err();
            assert!(err.contains("KIND(PATTERN)"), "{err}");
        }
        let rules: Rules =
            serde_json::from_str(r#"{"deny":["edit(/etc/**)"],"allow":["read"]}"#).unwrap();
        assert_eq!(rules.deny[0].pattern.as_deref(), Some("/etc/**"));
        assert!(serde_json::from_str::<Rules>(r#"{"deny":["nope"]}"#).is_err());
    }

    #[test]
    fn wildcards_match_whole_strings() {
        assert!(wildcard("cargo test*", "cargo test"));
        assert!(wildcard("cargo test*", "cargo test -p x"));
        assert!(!wildcard("cargo test*", "xcargo test"));
        assert!(wildcard("a?c", "abc"));
        assert!(wildcard("/etc/**", "/etc/a/b"));
        assert!(wildcard("*", ""));
        assert!(!wildcard("", "a"));
    }

    #[test]
    fn unknown_kinds_are_execute() {
        assert_eq!(Kind::classify("switch_mode"), Kind::Execute);
        assert_eq!(Kind::classify("other"), Kind::Execute);
        assert_eq!(Kind::classify("search"), Kind::Read);
        assert_eq!(Kind::classify("delete"), Kind::Edit);
    }

    #[test]
    fn the_hint_names_a_rule_that_would_allow_it() {
        let hint = how_to_allow(&exec("cargo test --all"));
        assert!(hint.contains("--allow 'execute(cargo*)'"), "{hint}");
    }
}
