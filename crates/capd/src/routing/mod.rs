//! The routing rules of SPEC §2 as pure data operations: sticky bindings, the suspended pool
//! (one slot per (key, agent)), rebinding, and the remembered records. Kept free of processes
//! and locks so every rule has a unit test; the daemon applies the returned decisions (which
//! sessions to end) after updating the tables.

use crate::persist::{AgentRecord, KeyRecord, Persisted};
use cap_proto::How;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Bindings, pool and records.
#[derive(Debug, Default)]
pub struct Table {
    /// key → session id.
    pub bindings: BTreeMap<String, String>,
    /// (key, agent) → parked session id.
    pub pool: BTreeMap<(String, String), String>,
    /// What survives restarts.
    pub records: Persisted,
}

/// Looks up a session's agent by id; `None` when the session is gone.
pub type AgentOf<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Table {
    /// The warm session for (key, agent), if any: the bound one, else the parked one.
    pub fn warm(&self, key: &str, agent: &str, agent_of: AgentOf) -> Option<(String, How)> {
        if let Some(sid) = self.bindings.get(key)
            && agent_of(sid).as_deref() == Some(agent)
        {
            return Some((sid.clone(), How::Reused));
        }
        self.pool
            .get(&(key.to_string(), agent.to_string()))
            .map(|sid| (sid.clone(), How::Unparked))
    }

    /// The agent a key uses now: its bound session's, else the remembered current one.
    pub fn current_agent(&self, key: &str, agent_of: AgentOf) -> Option<String> {
        self.bindings
            .get(key)
            .and_then(|sid| agent_of(sid))
            .or_else(|| self.records.keys.get(key).and_then(|r| r.current.clone()))
    }

    /// The remembered conversation for (key, agent).
    pub fn record(&self, key: &str, agent: &str) -> Option<&AgentRecord> {
        self.records.keys.get(key)?.agents.get(agent)
    }

    /// Binds `key` to session `sid` of `agent` and returns the sessions that must end.
    ///
    /// The previous session on the key is parked when its agent differs (a newer parked
    /// session for the same (key, agent) ends the older one), and ended when it is the same
    /// agent, unless another key is still bound to it. A session of the same agent parked on
    /// the key is replaced too: it could never be unparked again. The session being bound is
    /// never ended, and leaves the pool if it was parked.
    pub fn bind(&mut self, key: &str, sid: &str, agent: &str, agent_of: AgentOf) -> Vec<String> {
        let mut end = Vec::new();
        self.pool.retain(|_, parked| parked != sid);
        if let Some(stale) = self.pool.remove(&(key.to_string(), agent.to_string())) {
            end.push(stale);
        }
        if let Some(old) = self.bindings.insert(key.to_string(), sid.to_string())
            && old != sid
            && let Some(old_agent) = agent_of(&old)
        {
            if old_agent == agent {
                if !self.bindings.values().any(|s| *s == old) {
                    end.push(old);
                }
            } else if let Some(older) = self.pool.insert((key.to_string(), old_agent), old.clone())
                && older != old
            {
                end.push(older);
            }
        }
        self.records
            .keys
            .entry(key.to_string())
            .or_default()
            .current = Some(agent.to_string());
        end.retain(|s| s != sid);
        for s in &end {
            self.forget_session(s);
        }
        end
    }

    /// Removes every binding and pool slot that points at `sid`; records stay.
    pub fn forget_session(&mut self, sid: &str) {
        self.bindings.retain(|_, s| s != sid);
        self.pool.retain(|_, s| s != sid);
    }

    /// Records the conversation of (key, agent).
    pub fn remember(
        &mut self,
        key: &str,
        agent: &str,
        cwd: PathBuf,
        native_id: Option<String>,
        model: Option<String>,
    ) {
        self.records
            .keys
            .entry(key.to_string())
            .or_default()
            .agents
            .insert(
                agent.to_string(),
                AgentRecord {
                    cwd,
                    native_id,
                    model,
                    parked: false,
                },
            );
    }

    /// Forgets (key, agent) entirely: `cap end` means the next prompt starts fresh.
    pub fn forget_record(&mut self, key: &str, agent: &str) {
        if let Some(rec) = self.records.keys.get_mut(key) {
            rec.agents.remove(agent);
            if rec.current.as_deref() == Some(agent) {
                rec.current = None;
            }
            if rec.agents.is_empty() && rec.current.is_none() {
                self.records.keys.remove(key);
            }
        }
    }

    /// Whether `sid` is the session the tables route (key, agent) to, so its native id is the
    /// one to remember.
    pub fn routes_to(&self, key: &str, agent: &str, sid: &str) -> bool {
        self.bindings.get(key).map(String::as_str) == Some(sid)
            || self
                .pool
                .get(&(key.to_string(), agent.to_string()))
                .map(String::as_str)
                == Some(sid)
    }

    /// The state file contents: the records, with `parked` marked from the pool.
    pub fn snapshot(&self) -> Persisted {
        let mut p = self.records.clone();
        p.version = crate::persist::STATE_VERSION;
        for rec in p
            .keys
            .values_mut()
            .flat_map(|k: &mut KeyRecord| k.agents.values_mut())
        {
            rec.parked = false;
        }
        for (key, agent) in self.pool.keys() {
            if let Some(r) = p.keys.get_mut(key).and_then(|k| k.agents.get_mut(agent)) {
                r.parked = true;
            }
        }
        p
    }
}

/// Picks the session to evict at the limit: the least recently used parked one.
pub fn eviction_candidate<'a>(
    parked: impl Iterator<Item = (&'a str, std::time::Instant)>,
) -> Option<String> {
    parked.min_by_key(|(_, t)| *t).map(|(s, _)| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::time::{Duration, Instant};

    fn agents(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(s, a)| (s.to_string(), a.to_string()))
            .collect()
    }

    #[test]
    fn switching_agent_parks_and_coming_back_unparks() {
        let live = agents(&[("c1", "claude"), ("x1", "codex")]);
        let of = |s: &str| live.get(s).cloned();
        let mut t = Table::default();
        assert!(t.bind("k", "c1", "claude", &of).is_empty());
        assert_eq!(t.warm("k", "claude", &of), Some(("c1".into(), How::Reused)));
        assert!(t.bind("k", "x1", "codex", &of).is_empty());
        assert_eq!(
            t.pool.get(&("k".into(), "claude".into())),
            Some(&"c1".into())
        );
        assert_eq!(
            t.warm("k", "claude", &of),
            Some(("c1".into(), How::Unparked))
        );
        assert_eq!(t.current_agent("k", &of).as_deref(), Some("codex"));
        // Coming back: claude leaves the pool, codex takes its slot.
        assert!(t.bind("k", "c1", "claude", &of).is_empty());
        assert_eq!(t.bindings["k"], "c1");
        assert_eq!(
            t.pool.get(&("k".into(), "codex".into())),
            Some(&"x1".into())
        );
        assert!(!t.pool.values().any(|s| s == "c1"));
    }

    #[test]
    fn rebinding_same_agent_ends_old_but_never_the_new_one() {
        let live = agents(&[("c1", "claude"), ("c2", "claude")]);
        let of = |s: &str| live.get(s).cloned();
        let mut t = Table::default();
        t.bind("k", "c1", "claude", &of);
        assert_eq!(t.bind("k", "c2", "claude", &of), vec!["c1".to_string()]);
        assert_eq!(t.bind("k", "c2", "claude", &of), Vec::<String>::new());
        assert_eq!(t.bindings["k"], "c2");
    }

    #[test]
    fn old_session_bound_elsewhere_survives_rebind() {
        let live = agents(&[("c1", "claude"), ("c2", "claude")]);
        let of = |s: &str| live.get(s).cloned();
        let mut t = Table::default();
        t.bind("a", "c1", "claude", &of);
        t.bind("b", "c1", "claude", &of);
        assert!(t.bind("a", "c2", "claude", &of).is_empty());
        assert_eq!(t.bindings["b"], "c1");
    }

    #[test]
    fn one_parked_session_per_key_and_agent() {
        let live = agents(&[
            ("c1", "claude"),
            ("c2", "claude"),
            ("x1", "codex"),
            ("x2", "codex"),
        ]);
        let of = |s: &str| live.get(s).cloned();
        let mut t = Table::default();
        t.bind("k", "c1", "claude", &of);
        t.bind("k", "x1", "codex", &of); // c1 parked
        // A new claude session bound directly (e.g. --new): codex parks, and the parked
        // claude session c1, which could never be unparked again, ends.
        let ended = t.bind("k", "c2", "claude", &of);
        assert_eq!(ended, vec!["c1".to_string()]);
        assert_eq!(t.pool[&("k".to_string(), "codex".to_string())], "x1");
        assert!(
            !t.pool
                .contains_key(&("k".to_string(), "claude".to_string()))
        );
        let ended = t.bind("k", "x2", "codex", &of);
        // c2 (claude) gets parked; x2 is bound and replaces the parked codex session x1.
        assert_eq!(ended, vec!["x1".to_string()]);
        assert_eq!(t.pool[&("k".to_string(), "claude".to_string())], "c2");
    }

    #[test]
    fn records_survive_session_loss_and_end_forgets_them() {
        let live = agents(&[("c1", "claude")]);
        let of = |s: &str| live.get(s).cloned();
        let mut t = Table::default();
        t.bind("k", "c1", "claude", &of);
        t.remember("k", "claude", "/w".into(), Some("n1".into()), None);
        t.forget_session("c1");
        assert_eq!(t.warm("k", "claude", &of), None);
        assert_eq!(
            t.record("k", "claude").and_then(|r| r.native_id.clone()),
            Some("n1".into())
        );
        let none = |_: &str| None;
        assert_eq!(t.current_agent("k", &none).as_deref(), Some("claude"));
        t.forget_record("k", "claude");
        assert!(t.record("k", "claude").is_none());
        assert_eq!(t.current_agent("k", &none), None);
    }

    #[test]
    fn snapshot_marks_parked_records() {
        let live = agents(&[("c1", "claude"), ("x1", "codex")]);
        let of = |s: &str| live.get(s).cloned();
        let mut t = Table::default();
        t.bind("k", "c1", "claude", &of);
        t.remember("k", "claude", "/w".into(), Some("n1".into()), None);
        t.bind("k", "x1", "codex", &of);
        t.remember("k", "codex", "/w".into(), Some("t1".into()), None);
        let snap = t.snapshot();
        assert!(snap.keys["k"].agents["claude"].parked);
        assert!(!snap.keys["k"].agents["codex"].parked);
        assert_eq!(snap.keys["k"].current.as_deref(), Some("codex"));
    }

    #[test]
    fn eviction_picks_least_recently_used_parked() {
        let now = Instant::now();
        let older = now - Duration::from_secs(10);
        let list = [("a", now), ("b", older)];
        assert_eq!(
            eviction_candidate(list.iter().map(|(s, t)| (*s, *t))),
            Some("b".into())
        );
        assert_eq!(eviction_candidate(std::iter::empty()), None);
    }
}
