//! The second wall: how far an agent's own sandbox lets it write during a turn.
//!
//! capd's policy is the first wall: it answers every permission request. An agent with a
//! sandbox of its own (Codex) can hold the same line a second time, so that a tool use that
//! never asked (one of Codex's "trusted" commands) or a bug in the first wall still cannot
//! write where the policy would refuse. The wall may never be tighter than what the policy
//! could allow, or it would silently undo a person's yes: a person who can be asked might
//! allow anything, and allow rules for commands or edits reach wherever their patterns say.
//! So only a turn that nobody is asked about, under a mode short of `approve-all` and without
//! such rules, gets a wall: `approve-edits` writes inside the cwd only, the others nothing.

use cap_proto::policy::{Kind, Mode, Policy};
use cap_proto::request::Asker;

/// What the agent's sandbox allows during a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wall {
    /// No sandbox: the policy alone decides.
    #[default]
    Open,
    /// Writes inside the session's cwd only.
    Workspace,
    /// No writes at all.
    ReadOnly,
}

impl Wall {
    /// The tightest wall that still lets through everything `policy` could allow, given who
    /// answers what it leaves open.
    pub fn of(policy: &Policy, asker: Asker) -> Wall {
        let rules = &policy.rules;
        let reaching = rules
            .allow
            .iter()
            .any(|r| matches!(r.kind, Kind::Edit | Kind::Execute));
        let askable =
            asker == Asker::Client && (policy.mode != Mode::DenyAll || !rules.ask.is_empty());
        match policy.mode {
            Mode::ApproveAll => Wall::Open,
            _ if reaching || askable => Wall::Open,
            Mode::ApproveEdits => Wall::Workspace,
            Mode::ApproveReads | Mode::DenyAll => Wall::ReadOnly,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(mode: Mode, rules: &str) -> Policy {
        serde_json::from_str(&format!(r#"{{"mode":"{mode}","rules":{rules}}}"#)).expect("policy")
    }

    #[test]
    fn only_a_turn_nobody_is_asked_about_gets_a_wall() {
        let none = "{}";
        let cases = [
            (Mode::ApproveAll, none, Asker::Nobody, Wall::Open),
            (Mode::ApproveEdits, none, Asker::Nobody, Wall::Workspace),
            (Mode::ApproveEdits, none, Asker::Fail, Wall::Workspace),
            (Mode::ApproveEdits, none, Asker::Client, Wall::Open),
            (Mode::ApproveReads, none, Asker::Nobody, Wall::ReadOnly),
            (Mode::ApproveReads, none, Asker::Client, Wall::Open),
            (Mode::DenyAll, none, Asker::Nobody, Wall::ReadOnly),
            // Deny-all asks nobody, even with a person at hand...
            (Mode::DenyAll, none, Asker::Client, Wall::ReadOnly),
            // ...unless an ask rule lets the person allow something.
            (
                Mode::DenyAll,
                r#"{"ask":["execute(make*)"]}"#,
                Asker::Client,
                Wall::Open,
            ),
            // Allow rules for commands or edits reach wherever they say.
            (
                Mode::ApproveEdits,
                r#"{"allow":["execute(cargo test*)"]}"#,
                Asker::Nobody,
                Wall::Open,
            ),
            (
                Mode::DenyAll,
                r#"{"allow":["edit(/srv/**)"]}"#,
                Asker::Nobody,
                Wall::Open,
            ),
            // A read or fetch rule writes nothing.
            (
                Mode::ApproveReads,
                r#"{"allow":["fetch"]}"#,
                Asker::Nobody,
                Wall::ReadOnly,
            ),
        ];
        for (mode, rules, asker, want) in cases {
            assert_eq!(
                Wall::of(&policy(mode, rules), asker),
                want,
                "{mode} {rules} {asker:?}"
            );
        }
    }
}
