//! What ends sessions without a request: the idle sweep and the memory limit; and the pool
//! of prewarmed spares that the limits count.

use super::{Daemon, Effects, State};
use crate::drivers::Factory;
use crate::routing;
use crate::saver::Saved;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

impl Daemon {
    /// The idle sweep: ends sessions idle (or parked) longer than `idle_timeout`, never busy
    /// ones, and keeps their records so the next prompt resumes transparently.
    pub fn sweep(&self) -> (Vec<String>, Saved) {
        let Some(limit) = self.config.idle_timeout() else {
            return (Vec::new(), Saved::nothing());
        };
        let now = Instant::now();
        self.end_idle(
            |state| routing::stale(&state.live(), now, limit),
            "idle sweep ended the session",
        )
    }

    /// Takes a memory measurement (resident bytes by process group): publishes each
    /// session's figure and each agent's footprint, then evicts idle sessions while the
    /// agents together hold more than `max_agent_memory`. Their records stay, so their keys
    /// resume them on the next prompt.
    pub fn measured(&self, groups: &HashMap<u32, u64>) -> Vec<String> {
        let limit = self.config.max_agent_memory.bytes();
        let mut dropped = Vec::new();
        let evicted = self.end_idle(
            |state| {
                let mut usage = self.memory.borrow().clone();
                usage.sessions.clear();
                // A shared process is shown whole on each of its sessions, but counted once:
                // each session bears its share of it, and all of them must go to free it.
                let pids: Vec<(String, u32)> = state
                    .sessions
                    .values()
                    .filter_map(|h| h.snapshot().pid.map(|p| (h.id.clone(), p)))
                    .collect();
                let mut on_pid: HashMap<u32, u64> = HashMap::new();
                for (_, pid) in &pids {
                    *on_pid.entry(*pid).or_default() += 1;
                }
                let mut shares = HashMap::new();
                for (id, pid) in pids {
                    let Some(bytes) = groups.get(&pid) else {
                        continue;
                    };
                    usage.sessions.insert(id.clone(), *bytes);
                    shares.insert(id.clone(), bytes / on_pid[&pid].max(1));
                    if let Some(h) = state.sessions.get(&id) {
                        let peak = usage.footprint.entry(h.agent.clone()).or_default();
                        *peak = (*peak).max(*bytes);
                    }
                }
                let spares: u64 = state
                    .spares
                    .pids()
                    .iter()
                    .filter_map(|(_, p)| groups.get(p))
                    .sum();
                usage.total = shares.values().sum::<u64>() + spares;
                let mut evict = Vec::new();
                if let Some(limit) = limit.filter(|l| usage.total > *l) {
                    // Spares go first: nobody is using them.
                    if spares > 0 {
                        tracing::info!("the agents' memory was over max_agent_memory; ended the prewarmed spares");
                        dropped.extend(state.spares.drain());
                    }
                    let live = state.live();
                    evict = routing::over_memory(&state.table, &live, &shares, limit);
                }
                self.memory.send_replace(usage);
                evict
            },
            "the agents' memory was over max_agent_memory; evicted the least recently used idle session",
        )
        .0;
        // Dropping a spare ends its process group: outside the lock.
        drop(dropped);
        evicted
    }

    /// Ends the idle sessions `pick` chooses (under the lock), keeping their records so the
    /// next prompt on their keys resumes them; logs `why` for each.
    fn end_idle(
        &self,
        pick: impl FnOnce(&mut State) -> Vec<String>,
        why: &str,
    ) -> (Vec<String>, Saved) {
        let mut state = self.lock();
        let picked = pick(&mut state);
        let mut fx = Effects::default();
        for sid in &picked {
            state.table.forget_session(sid);
            state.routed.remove(sid);
            fx.end.extend(state.sessions.remove(sid));
        }
        let saved = self.note(&mut state);
        drop(state);
        for h in &fx.end {
            tracing::info!(session = %h.id, agent = %h.agent, "{why}; its key resumes it on the next prompt");
        }
        fx.send();
        (picked, saved)
    }

    /// How starting agents is done (the prewarmer starts spares with it).
    pub fn factory(&self) -> &Arc<dyn Factory> {
        &self.factory
    }

    pub fn spare_count(&self, agent: &str) -> usize {
        self.lock().spares.count(agent)
    }

    /// Whether another spare fits under `max_sessions` beside the sessions and spares.
    pub fn room_for_spare(&self) -> bool {
        let state = self.lock();
        state.sessions.len() + state.spares.total() < self.config.max_sessions
    }

    /// Adds a started spare to the pool, unless sessions took the room meanwhile (then it is
    /// dropped, ending it). Returns whether it was kept.
    pub fn add_spare(&self, agent: &str, spare: crate::drivers::Spare) -> bool {
        let mut state = self.lock();
        if state.sessions.len() + state.spares.total() >= self.config.max_sessions {
            drop(state);
            drop(spare);
            return false;
        }
        state.spares.add(agent, spare);
        true
    }

    /// The last memory measurement.
    pub fn memory(&self) -> crate::memory::Usage {
        self.memory.borrow().clone()
    }
}
