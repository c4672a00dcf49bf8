//! The keys a calling agent's conversations live under.
//!
//! An agent asking "ask codex to review this" twice should reach the same Codex conversation
//! without having to invent and remember a key. So the default key is made from what the
//! server knows: its working directory (the git root, like cap's own default key) and the
//! target agent. Every key `cap mcp` makes starts with `mcp:`, so delegated conversations
//! never land on the `dir:` keys a person uses at the shell, and `--key-prefix NAME` puts a
//! caller's keys in a namespace of their own.

use std::path::Path;

/// How this server names keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    /// `mcp:` or `mcp:<prefix>:`.
    namespace: String,
    /// The git root of the server's cwd, or the cwd.
    root: String,
}

impl Keys {
    pub fn new(prefix: Option<&str>, cwd: &Path) -> Keys {
        let namespace = match prefix {
            Some(p) => format!("mcp:{p}:"),
            None => "mcp:".to_string(),
        };
        let dir = cap_proto::key::default_key(cwd);
        let root = dir.strip_prefix("dir:").unwrap_or(&dir).to_string();
        Keys { namespace, root }
    }

    /// The key for a conversation: the model's name for it, or the default for `agent`. A
    /// full key (one a result showed, starting with `mcp:`) is taken as it is.
    pub fn resolve(&self, name: Option<&str>, agent: &str) -> String {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(full) if full.starts_with("mcp:") => full.to_string(),
            Some(name) => format!("{}{name}", self.namespace),
            None => format!("{}{agent}@{}", self.namespace, self.root),
        }
    }

    /// The key a `cancel` or `end` by name means (no agent: the name is the key).
    pub fn named(&self, name: &str) -> String {
        let name = name.trim();
        if name.starts_with("mcp:") {
            name.to_string()
        } else {
            format!("{}{name}", self.namespace)
        }
    }

    /// The default key of `agent`, for `cancel` and `end` given only an agent.
    pub fn default_for(&self, agent: &str) -> String {
        self.resolve(None, agent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_is_the_directory_and_the_agent() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let keys = Keys::new(None, dir.path());
        let codex = keys.resolve(None, "codex");
        assert_eq!(codex, format!("mcp:codex@{}", root.display()));
        assert_eq!(keys.resolve(Some("  "), "codex"), codex, "blank is no name");
        assert_ne!(keys.resolve(None, "gemini"), codex);
        assert_eq!(keys.default_for("codex"), codex);
    }

    #[test]
    fn a_prefix_separates_callers_and_names_stay_in_the_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let plain = Keys::new(None, dir.path());
        let alice = Keys::new(Some("alice"), dir.path());
        assert_ne!(plain.resolve(None, "codex"), alice.resolve(None, "codex"));
        assert!(alice.resolve(None, "codex").starts_with("mcp:alice:codex@"));
        assert_eq!(alice.resolve(Some("review"), "codex"), "mcp:alice:review");
        assert_eq!(plain.named("review"), "mcp:review");
        // A full key from a result comes back unchanged, whoever asks.
        assert_eq!(alice.resolve(Some("mcp:review"), "codex"), "mcp:review");
        assert_eq!(alice.named("mcp:x:y"), "mcp:x:y");
    }
}
