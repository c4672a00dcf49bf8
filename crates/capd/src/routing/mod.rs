//! The routing rules of SPEC §2 as pure functions over data: sticky bindings, the suspended
//! pool (one slot per (key, agent)), the remembered records, and the session limit.
//!
//! [`plan`] decides, for one request, which session serves it (reuse, unpark, resume or open)
//! and what else must change (which session parks, which end, which are evicted to make room).
//! It reads the tables and a snapshot of every live session's facts and touches nothing. The
//! daemon applies the plan to the tables with [`Table::apply`] under its lock, then sends the
//! actors their messages after releasing it. Every rule and limit case has a unit test in
//! `tests.rs`, with no processes and no clocks but the ones the test makes.

use crate::persist::AgentRecord;
use crate::persist::records::{Records, Snapshot};
use cap_proto::{ErrorBody, ErrorCode, How, OpenMode};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

mod sweep;
#[cfg(test)]
mod tests;

pub use sweep::{over_memory, stale};

/// Bindings, pool and records.
///
/// What the state file holds (the records, and which of them the pool parks) changes only
/// through the methods here, which set `dirty` when it did change; the daemon then tells the
/// saver. Bindings are not saved (a restart has no live sessions to bind to).
#[derive(Debug, Default)]
pub struct Table {
    /// key → session id.
    pub bindings: BTreeMap<String, String>,
    /// (key, agent) → parked session id. Change it through the methods, which keep `dirty`.
    pub pool: BTreeMap<(String, String), String>,
    /// What survives restarts. Change it through the methods, which keep `dirty`.
    pub records: Records,
    /// Whether what the state file holds changed since [`Table::take_dirty`].
    dirty: bool,
    /// What every key has spent together, kept as turns spend so `status` need not add up
    /// every record (hundreds of thousands) under the lock; `None` after a reset, until asked.
    spent: Option<cap_proto::Usage>,
}

/// What routing needs to know of a live session, read from its actor's snapshot.
#[derive(Debug, Clone)]
pub struct Facts {
    pub agent: String,
    pub activity: Activity,
    /// The later of its last turn activity and the last time a request was routed to it.
    pub last_used: Instant,
}

/// Whether a session could be ended without losing work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// The agent is still starting.
    Starting,
    /// Nothing runs and nothing waits: safe to end (its record lets the key resume it).
    Idle,
    /// A turn runs or waits.
    Busy,
}

/// Every live session's facts, by id.
pub type Live = HashMap<String, Facts>;

/// One routing request, with the key and agent already resolved.
#[derive(Debug, Clone)]
pub struct Want<'a> {
    pub key: &'a str,
    pub agent: &'a str,
    /// `--new`, `--resume`, `--continue`; `None` routes by the key.
    pub open: Option<&'a OpenMode>,
    /// The caller's cwd, used when a session is opened without a remembered one.
    pub cwd: &'a Path,
    /// Whether the key is (re)bound to the chosen session (`open --no-bind` says no).
    pub bind: bool,
    /// `--model`: the model of a newly opened session (else the remembered one).
    pub model: Option<&'a str>,
    /// `--mcp-config`: a newly opened session's own MCP servers (else the remembered ones).
    pub mcp: Option<&'a crate::mcp::McpServers>,
    /// The id a newly opened session will get.
    pub new_id: &'a str,
    pub max_sessions: usize,
}

/// Which session serves the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A live session: bound to the key (`Reused`) or taken out of the pool (`Unparked`).
    Live { session: String, how: How },
    /// A new session with id `Want::new_id`.
    Open {
        mode: OpenMode,
        cwd: PathBuf,
        model: Option<String>,
        how: How,
        mcp: crate::mcp::McpServers,
    },
}

/// The decisions for one request. Applying it never needs another look at the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: Target,
    /// Bind the key to the target (and record the key's current agent).
    pub bind: bool,
    /// The key's previous session of another agent, parked under (key, its agent).
    pub park: Option<(String, String)>,
    /// Sessions the binding replaces: their records are forgotten only by `cap end`, so
    /// these just stop.
    pub end: Vec<String>,
    /// Idle sessions ended to make room at `max_sessions`; their records stay, so their keys
    /// resume them transparently.
    pub evict: Vec<String>,
}

impl Plan {
    /// The session id the plan routes to.
    pub fn session<'a>(&'a self, want: &'a Want) -> &'a str {
        match &self.target {
            Target::Live { session, .. } => session,
            Target::Open { .. } => want.new_id,
        }
    }
}

/// What binding a key changes, decided before anything moves.
#[derive(Debug, Default, PartialEq, Eq)]
struct BindEffects {
    park: Option<(String, String)>,
    end: Vec<String>,
}

impl Table {
    /// Tables that remember `records` (a loaded state file) and have nothing live yet.
    pub fn with_records(records: Records) -> Table {
        Table {
            records,
            ..Table::default()
        }
    }

    /// The warm session for (key, agent), if any: the bound one, else the parked one.
    pub fn warm(&self, key: &str, agent: &str, live: &Live) -> Option<(String, How)> {
        if let Some(sid) = self.bindings.get(key)
            && live.get(sid).map(|f| f.agent.as_str()) == Some(agent)
        {
            return Some((sid.clone(), How::Reused));
        }
        self.pool
            .get(&(key.to_string(), agent.to_string()))
            .filter(|sid| live.contains_key(*sid))
            .map(|sid| (sid.clone(), How::Unparked))
    }

    /// The agent a key uses now: its bound session's, else the remembered current one.
    pub fn current_agent(&self, key: &str, live: &Live) -> Option<String> {
        self.bindings
            .get(key)
            .and_then(|sid| live.get(sid))
            .map(|f| f.agent.clone())
            .or_else(|| self.records.get(key).and_then(|r| r.current.clone()))
    }

    /// The remembered conversation for (key, agent).
    pub fn record(&self, key: &str, agent: &str) -> Option<&AgentRecord> {
        self.records.get(key)?.agents.get(agent)
    }

    /// The cwd a native session of `agent` was recorded with, under any key: Claude resumes
    /// only from the session's original cwd.
    fn native_cwd(&self, agent: &str, native: &str) -> Option<PathBuf> {
        self.records
            .iter()
            .flat_map(|(_, k)| k.agents.iter())
            .find(|(a, r)| *a == agent && r.native_id.as_deref() == Some(native))
            .map(|(_, r)| r.cwd.clone())
    }

    /// What binding `key` to session `sid` of `agent` would change.
    ///
    /// The previous session on the key is parked when its agent differs (a different session
    /// already parked for that (key, agent) ends), and ended when it is the same agent, unless
    /// another key is still bound to it. A session of the same agent parked on the key ends
    /// too: it could never be unparked again. The session being bound never ends.
    fn bind_effects(&self, key: &str, sid: &str, agent: &str, live: &Live) -> BindEffects {
        let mut fx = BindEffects::default();
        if let Some(stale) = self.pool.get(&(key.to_string(), agent.to_string()))
            && stale != sid
        {
            fx.end.push(stale.clone());
        }
        if let Some(old) = self.bindings.get(key)
            && old != sid
            && let Some(old_agent) = live.get(old).map(|f| f.agent.clone())
        {
            if old_agent == agent {
                let elsewhere = self.bindings.iter().any(|(k, s)| k != key && s == old);
                if !elsewhere {
                    fx.end.push(old.clone());
                }
            } else {
                if let Some(older) = self.pool.get(&(key.to_string(), old_agent.clone()))
                    && older != old
                {
                    fx.end.push(older.clone());
                }
                fx.park = Some((old.clone(), old_agent));
            }
        }
        fx.end.retain(|s| s != sid);
        fx.end.dedup();
        fx
    }

    /// Applies a plan made by [`plan`] for `want`. Records of ended and evicted sessions stay.
    pub fn apply(&mut self, plan: &Plan, want: &Want) {
        let sid = plan.session(want).to_string();
        for gone in plan.end.iter().chain(&plan.evict) {
            self.forget_session(gone);
        }
        if !plan.bind {
            return;
        }
        self.unpool(|parked| *parked == sid);
        if let Some((old, old_agent)) = &plan.park
            && !plan.evict.contains(old)
        {
            let slot = (want.key.to_string(), old_agent.clone());
            if self.pool.insert(slot, old.clone()).is_none() {
                self.dirty = true;
            }
        }
        self.bindings.insert(want.key.to_string(), sid);
        let current = self
            .records
            .get(want.key)
            .and_then(|r| r.current.as_deref());
        if current != Some(want.agent) {
            self.records.entry(want.key).current = Some(want.agent.to_string());
            self.dirty = true;
        }
        if let Target::Open {
            mode,
            cwd,
            model,
            mcp,
            ..
        } = &plan.target
        {
            let native = match mode {
                OpenMode::Resume(n) => Some(n.clone()),
                _ => None,
            };
            let (cwd, model) = (cwd.clone(), model.clone());
            self.remember(want.key, want.agent, cwd, native, model, mcp.clone());
        }
    }

    /// Binds `key` to the live session `sid` of `agent` (`cap bind`); returns what the binding
    /// parks and ends, already applied to the tables.
    pub fn bind(
        &mut self,
        key: &str,
        sid: &str,
        agent: &str,
        live: &Live,
    ) -> (Option<String>, Vec<String>) {
        let fx = self.bind_effects(key, sid, agent, live);
        let plan = Plan {
            target: Target::Live {
                session: sid.to_string(),
                how: How::Reused,
            },
            bind: true,
            park: fx.park,
            end: fx.end,
            evict: Vec::new(),
        };
        let want = Want {
            key,
            agent,
            open: None,
            cwd: Path::new("/"),
            bind: true,
            model: None,
            mcp: None,
            new_id: sid,
            max_sessions: usize::MAX,
        };
        self.apply(&plan, &want);
        (plan.park.map(|(s, _)| s), plan.end)
    }

    /// Removes every binding and pool slot that points at `sid`; records stay.
    pub fn forget_session(&mut self, sid: &str) {
        self.bindings.retain(|_, s| s != sid);
        self.unpool(|s| s == sid);
    }

    /// Empties the pool slots whose session matches (which unmarks their records parked).
    fn unpool(&mut self, gone: impl Fn(&str) -> bool) {
        let before = self.pool.len();
        self.pool.retain(|_, s| !gone(s));
        if self.pool.len() != before {
            self.dirty = true;
        }
    }

    /// Adds a turn's spending to `key`'s total (kept even after its sessions end).
    pub fn spend(&mut self, key: &str, usage: &cap_proto::Usage) {
        if usage.is_empty() {
            return;
        }
        self.records.entry(key).usage.add(usage);
        if let Some(total) = &mut self.spent {
            total.add(usage);
        }
        self.dirty = true;
    }

    /// What every key has spent together.
    pub fn spent(&mut self) -> cap_proto::Usage {
        let records = &self.records;
        *self.spent.get_or_insert_with(|| {
            let mut total = cap_proto::Usage::default();
            for (_, rec) in records.iter() {
                total.add(&rec.usage);
            }
            total
        })
    }

    /// Clears what `key` has spent; returns the total it had, if any (`cap budget reset`).
    pub fn reset_spending(&mut self, key: &str) -> Option<cap_proto::Usage> {
        let rec = self.records.get_mut(key)?;
        let spent = std::mem::take(&mut rec.usage);
        if spent.is_empty() {
            return None;
        }
        if rec.agents.is_empty() && rec.current.is_none() {
            self.records.remove(key);
        }
        // Counted again when next asked: usage has no subtraction.
        self.spent = None;
        self.dirty = true;
        Some(spent)
    }

    /// Whether what the state file holds changed since the last call; resets the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Records the conversation of (key, agent).
    pub fn remember(
        &mut self,
        key: &str,
        agent: &str,
        cwd: PathBuf,
        native_id: Option<String>,
        model: Option<String>,
        mcp_servers: crate::mcp::McpServers,
    ) {
        let record = AgentRecord {
            cwd,
            native_id,
            model,
            parked: false,
            mcp_servers,
        };
        if self.record(key, agent) == Some(&record) {
            // Unchanged (a warm session re-reporting its native id): nothing to save.
            return;
        }
        self.records
            .entry(key)
            .agents
            .insert(agent.to_string(), record);
        self.dirty = true;
    }

    /// Forgets (key, agent) entirely: `cap end` means the next prompt starts fresh.
    pub fn forget_record(&mut self, key: &str, agent: &str) {
        let Some(rec) = self.records.get(key) else {
            return;
        };
        if !rec.agents.contains_key(agent) && rec.current.as_deref() != Some(agent) {
            return;
        }
        self.dirty = true;
        if let Some(rec) = self.records.get_mut(key) {
            rec.agents.remove(agent);
            if rec.current.as_deref() == Some(agent) {
                rec.current = None;
            }
            // A key that spent something keeps its total: ending a session must not reset
            // what the key has cost.
            if rec.agents.is_empty() && rec.current.is_none() && rec.usage.is_empty() {
                self.records.remove(key);
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

    /// Whether `sid` sits in the suspended pool.
    pub fn is_parked(&self, sid: &str) -> bool {
        self.pool.values().any(|s| s == sid)
    }

    /// What the state file will hold: the records (shared, an `Arc` copy, so this is cheap
    /// under the daemon's lock) and the pool's (key, agent) pairs, which it marks parked.
    pub fn snapshot(&self) -> Snapshot {
        let mut parked: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (key, agent) in self.pool.keys() {
            parked.entry(key.clone()).or_default().insert(agent.clone());
        }
        Snapshot {
            records: self.records.clone(),
            parked,
        }
    }
}

/// Decides how to serve `want` (SPEC §2 "Acquire" and "Limits").
///
/// Without an explicit open mode: the key's bound session of the agent, else its parked one,
/// else the remembered native id (resumed in its recorded cwd), else a fresh session. A new
/// session at `max_sessions` evicts the least recently used idle sessions, parked ones first
/// (counting the one this binding parks), then idle bound ones; the plan is refused with
/// exit 7 only when every other session is busy or starting.
pub fn plan(table: &Table, live: &Live, want: &Want) -> Result<Plan, ErrorBody> {
    let warm = match want.open {
        None => table.warm(want.key, want.agent, live),
        Some(_) => None,
    };
    let target = match warm {
        Some((session, how)) => Target::Live { session, how },
        None => open_target(table, want),
    };
    let sid = match &target {
        Target::Live { session, .. } => session.as_str(),
        Target::Open { .. } => want.new_id,
    };
    let bind = want.bind
        && !matches!(
            &target,
            Target::Live {
                how: How::Reused,
                ..
            }
        );
    let fx = if bind {
        table.bind_effects(want.key, sid, want.agent, live)
    } else {
        BindEffects::default()
    };
    let evict = match target {
        Target::Open { .. } => make_room(table, live, want, &fx)?,
        Target::Live { .. } => Vec::new(),
    };
    Ok(Plan {
        target,
        bind,
        park: fx.park,
        end: fx.end,
        evict,
    })
}

/// How a new session opens: the explicit mode, else the remembered native id, else fresh.
fn open_target(table: &Table, want: &Want) -> Target {
    let remembered = table.record(want.key, want.agent);
    let model = want
        .model
        .map(str::to_string)
        .or_else(|| remembered.and_then(|r| r.model.clone()));
    let mcp = match want.mcp {
        Some(m) => m.clone(),
        None => remembered
            .map(|r| r.mcp_servers.clone())
            .unwrap_or_default(),
    };
    let (mode, cwd, how) = match want.open {
        Some(OpenMode::Fresh) => (OpenMode::Fresh, want.cwd.to_path_buf(), How::Opened),
        Some(OpenMode::Resume(native)) => {
            let cwd = table
                .native_cwd(want.agent, native)
                .unwrap_or_else(|| want.cwd.to_path_buf());
            (OpenMode::Resume(native.clone()), cwd, How::Resumed)
        }
        Some(OpenMode::Continue) => (OpenMode::Continue, want.cwd.to_path_buf(), How::Continued),
        Some(OpenMode::Fork(native)) => {
            let cwd = table
                .native_cwd(want.agent, native)
                .unwrap_or_else(|| want.cwd.to_path_buf());
            (OpenMode::Fork(native.clone()), cwd, How::Forked)
        }
        None => match remembered.and_then(|r| r.native_id.clone().map(|n| (n, r))) {
            Some((native, r)) => (OpenMode::Resume(native), r.cwd.clone(), How::Resumed),
            None => (OpenMode::Fresh, want.cwd.to_path_buf(), How::Opened),
        },
    };
    Target::Open {
        mode,
        cwd,
        model,
        how,
        mcp,
    }
}

/// The idle sessions to end so one more fits under `max_sessions`.
fn make_room(
    table: &Table,
    live: &Live,
    want: &Want,
    fx: &BindEffects,
) -> Result<Vec<String>, ErrorBody> {
    let staying = live.keys().filter(|s| !fx.end.contains(s)).count();
    let over = (staying + 1).saturating_sub(want.max_sessions.max(1));
    if over == 0 {
        return Ok(Vec::new());
    }
    let idle = eviction_order(table, live, fx);
    if idle.len() < over {
        return Err(ErrorBody::new(
            ErrorCode::Limit,
            format!(
                "session limit reached: all {} live sessions are busy or starting; wait for one, end one with `cap end <id>` (list them with `cap sessions`), or raise max_sessions in the config",
                want.max_sessions
            ),
        ));
    }
    Ok(idle.into_iter().take(over).cloned().collect())
}

/// The idle sessions that may be evicted, in the order they should go: parked first, and of
/// those the one parked by this very request last (parking counts as its latest use); then
/// least recently used; the id makes the order total. Sessions `fx` ends anyway are left out.
fn eviction_order<'a>(table: &Table, live: &'a Live, fx: &BindEffects) -> Vec<&'a String> {
    let parking_now = |sid: &str| fx.park.as_ref().is_some_and(|(s, _)| s == sid);
    let mut idle: Vec<(&String, bool, bool, Instant)> = live
        .iter()
        .filter(|(s, f)| f.activity == Activity::Idle && !fx.end.contains(s))
        .map(|(s, f)| {
            let now = parking_now(s);
            (s, table.is_parked(s) || now, now, f.last_used)
        })
        .collect();
    idle.sort_by(|a, b| {
        (b.1.cmp(&a.1))
            .then(a.2.cmp(&b.2))
            .then(a.3.cmp(&b.3))
            .then(a.0.cmp(b.0))
    });
    idle.into_iter().map(|(s, ..)| s).collect()
}
