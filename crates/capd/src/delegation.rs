//! Turns that agents ask of other agents (`cap mcp`): how deep the chain is, and which
//! sessions a new call must not land on.
//!
//! A delegated turn is in flight from the moment it is routed until its last event. While it
//! is, its caller's turn is waiting on it, and so is whoever waits on the caller. A call that
//! landed on any of those sessions would queue behind a turn that cannot end before the call
//! does: a deadlock only the prompt timeout would break. So each call in flight is recorded
//! here (target session, caller session, depth), and a new call from session S
//!
//! - has depth 1 + the deepest call in flight *to* S (1 when S serves no delegated turn, or
//!   when the caller is not a session of this daemon, e.g. a person's own agent), and
//! - must not land on S, nor on any session a call to S came from, and so on up the chain.
//!
//! Counting every call in flight to S, not only the one S is running, errs on the safe side:
//! a call queued on S waits on S's running turn too.
//!
//! The entries live only as long as the calls (a guard removes its entry when the prompt
//! handler ends), so nothing here is persisted: after a daemon restart no turn is in flight.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// One delegated turn in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Call {
    /// A number of this registry's own, so a guard removes exactly its entry.
    n: u64,
    /// The session running the delegated turn.
    target: String,
    /// The session whose agent asked, if it is one of this daemon's.
    caller: Option<String>,
    depth: u32,
}

/// The delegated turns in flight. Locked only for a lookup or an insert, never across an
/// `await`.
#[derive(Debug, Default)]
pub struct Delegations {
    calls: Mutex<Calls>,
}

#[derive(Debug, Default)]
struct Calls {
    next: u64,
    list: Vec<Call>,
}

/// Why a delegated call is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The call would wait on a turn that waits on it. `own` when it is the caller's own
    /// session.
    Cycle { session: String, own: bool },
}

/// Removes its call from the registry when dropped: when the delegated turn's stream ends
/// (or the handler gives up on it).
#[must_use]
pub struct Guard {
    registry: Arc<Delegations>,
    n: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut calls = self.registry.lock();
        calls.list.retain(|c| c.n != self.n);
    }
}

impl Delegations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Calls> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The depth a call from `caller` has: one more than the deepest call in flight to it.
    pub fn depth(&self, caller: Option<&str>) -> u32 {
        depth_of(&self.lock().list, caller)
    }

    /// Records a call from `caller` to `target`, unless `target` is waiting on `caller`. The
    /// check and the insert happen under one lock, so two agents calling each other at the
    /// same moment cannot both get through.
    pub fn enter(
        self: &Arc<Self>,
        caller: Option<&str>,
        target: &str,
    ) -> Result<(Guard, u32), Refusal> {
        let mut calls = self.lock();
        let waiting = waiting_on(&calls.list, caller);
        if waiting.contains(target) {
            return Err(Refusal::Cycle {
                session: target.to_string(),
                own: caller == Some(target),
            });
        }
        let depth = depth_of(&calls.list, caller);
        calls.next += 1;
        let n = calls.next;
        calls.list.push(Call {
            n,
            target: target.to_string(),
            caller: caller.map(str::to_string),
            depth,
        });
        Ok((
            Guard {
                registry: self.clone(),
                n,
            },
            depth,
        ))
    }
}

fn depth_of(calls: &[Call], caller: Option<&str>) -> u32 {
    let Some(caller) = caller else {
        return 1;
    };
    1 + calls
        .iter()
        .filter(|c| c.target == caller)
        .map(|c| c.depth)
        .max()
        .unwrap_or(0)
}

/// `caller` and every session whose turn (transitively) waits on it.
fn waiting_on(calls: &[Call], caller: Option<&str>) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut todo: Vec<String> = caller.map(str::to_string).into_iter().collect();
    while let Some(s) = todo.pop() {
        if !seen.insert(s.clone()) {
            continue;
        }
        todo.extend(
            calls
                .iter()
                .filter(|c| c.target == s)
                .filter_map(|c| c.caller.clone()),
        );
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_hop_has_depth_1_and_each_nested_hop_one_more() {
        let r = Arc::new(Delegations::default());
        assert_eq!(r.depth(None), 1);
        assert_eq!(r.depth(Some("a")), 1, "a session serving no delegated turn");
        let (_g1, d1) = r.enter(None, "b").unwrap();
        assert_eq!(d1, 1);
        assert_eq!(r.depth(Some("b")), 2);
        let (_g2, d2) = r.enter(Some("b"), "c").unwrap();
        assert_eq!(d2, 2);
        assert_eq!(r.depth(Some("c")), 3);
    }

    #[test]
    fn a_call_may_not_land_on_its_caller_or_anyone_waiting_on_it() {
        let r = Arc::new(Delegations::default());
        assert_eq!(
            r.enter(Some("a"), "a").err(),
            Some(Refusal::Cycle {
                session: "a".into(),
                own: true
            })
        );
        let (_ab, _) = r.enter(Some("a"), "b").unwrap();
        let (_bc, _) = r.enter(Some("b"), "c").unwrap();
        for waiting in ["a", "b"] {
            assert_eq!(
                r.enter(Some("c"), waiting).err(),
                Some(Refusal::Cycle {
                    session: waiting.into(),
                    own: false
                }),
                "{waiting}"
            );
        }
        // A session outside the chain is fine, and so is a sibling call from `a`.
        assert!(r.enter(Some("c"), "d").is_ok());
        assert!(r.enter(Some("a"), "c").is_ok());
    }

    #[test]
    fn a_finished_call_no_longer_counts() {
        let r = Arc::new(Delegations::default());
        let (g, _) = r.enter(Some("a"), "b").unwrap();
        assert_eq!(r.depth(Some("b")), 2);
        assert!(r.enter(Some("b"), "a").is_err());
        drop(g);
        assert_eq!(r.depth(Some("b")), 1);
        assert!(r.enter(Some("b"), "a").is_ok());
    }
}
