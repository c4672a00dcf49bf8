//! Which session of a shared agent process a line is for: the routing table of a [`Host`]
//! (`super`), and the pure decisions made on it.
//!
//! A session's requests carry ids in its slot's own range (`slot << 32 | id`, moved there by
//! [`Tag::outgoing`] as they are written), so a reply goes back to the slot its id names, with
//! the id moved back. Requests and notifications from the agent name their session
//! (`sessionId` in ACP, `threadId` in Codex): the table learns each session's native id from
//! the replies that create it and the requests that resume it.
//!
//! [`Host`]: super::Host

use crate::drivers::lines::{Lost, Segment};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Request ids below this are the host's own (its `initialize`); a slot's are above.
const SLOT_SHIFT: u32 = 32;
const LOCAL_MASK: u64 = (1 << SLOT_SHIFT) - 1;

/// The slots of one host: where each session's lines go, and the native ids they answer to.
#[derive(Default)]
pub struct Table {
    slots: HashMap<u32, mpsc::UnboundedSender<Segment>>,
    natives: HashMap<String, u32>,
    last_slot: u32,
    /// Sessions that ever opened here (a host that frees nothing is retired after a while).
    pub ever: usize,
    /// Set when a session killed the process (its turn ignored cancel): what the others are
    /// told.
    pub killed: Option<String>,
    /// The agent's output ended: no slot will hear anything again.
    pub ended: bool,
}

/// A shared handle on a host's table.
pub type Shared = Arc<Mutex<Table>>;

pub fn lock(t: &Shared) -> std::sync::MutexGuard<'_, Table> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

impl Table {
    /// A new slot and the receiving end of its lines. `None` once the agent is gone.
    pub fn open(&mut self) -> Option<(u32, mpsc::UnboundedReceiver<Segment>)> {
        if self.ended || self.killed.is_some() {
            return None;
        }
        self.last_slot += 1;
        self.ever += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        self.slots.insert(self.last_slot, tx);
        Some((self.last_slot, rx))
    }

    /// Removes a slot; returns the native ids it answered to.
    pub fn close(&mut self, slot: u32) -> Vec<String> {
        self.slots.remove(&slot);
        let mine: Vec<String> = self
            .natives
            .iter()
            .filter(|(_, s)| **s == slot)
            .map(|(n, _)| n.clone())
            .collect();
        for n in &mine {
            self.natives.remove(n);
        }
        mine
    }

    /// Sessions on the host now.
    pub fn live(&self) -> usize {
        self.slots.len()
    }

    /// The agent's output ended: every slot's lines end with it.
    pub fn end(&mut self) {
        self.ended = true;
        self.slots.clear();
        self.natives.clear();
    }

    fn learn(&mut self, native: &str, slot: u32) {
        if self.slots.contains_key(&slot) {
            self.natives.insert(native.to_string(), slot);
        }
    }

    fn send(&mut self, slot: u32, segment: Segment) {
        if let Some(tx) = self.slots.get(&slot)
            && tx.send(segment).is_err()
        {
            self.slots.remove(&slot);
        }
    }
}

/// What the host does with one line of the agent's output.
#[derive(Debug, PartialEq)]
pub enum Route {
    /// Hand it to one session.
    To(u32, Segment),
    /// Hand it to every session: a dropped line that may have ended any of their turns.
    All(Lost),
    /// A request for a session that is not here: refuse it, so the agent does not wait.
    Refuse { id: Value, method: String },
    /// Nobody's: a notification for a session that left, a stale reply, a non-JSON line.
    Drop,
}

/// The native session a message from the agent names.
fn native_of(params: &Value) -> Option<&str> {
    params["sessionId"]
        .as_str()
        .or_else(|| params["threadId"].as_str())
        .or_else(|| params["thread"]["id"].as_str())
}

/// Where one segment of the agent's output goes; learns the native ids replies create.
pub fn route(table: &mut Table, segment: Segment) -> Route {
    let line = match segment {
        Segment::Line(line) => line,
        Segment::Oversized(lost) => return route_lost(lost),
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&line) else {
        return Route::Drop;
    };
    if let Some(method) = v["method"].as_str() {
        let slot = native_of(&v["params"]).and_then(|n| table.natives.get(n).copied());
        return match (slot, v.get("id")) {
            (Some(slot), _) => Route::To(slot, Segment::Line(line)),
            (None, Some(id)) => Route::Refuse {
                id: id.clone(),
                method: method.to_string(),
            },
            (None, None) => Route::Drop,
        };
    }
    let Some(id) = v["id"].as_u64() else {
        return Route::Drop;
    };
    let slot = (id >> SLOT_SHIFT) as u32;
    if slot == 0 {
        return Route::Drop;
    }
    let created = &v["result"];
    if let Some(native) = created["sessionId"]
        .as_str()
        .or_else(|| created["thread"]["id"].as_str())
    {
        table.learn(native, slot);
    }
    v["id"] = json!(id & LOCAL_MASK);
    Route::To(slot, Segment::Line(v.to_string().into_bytes()))
}

/// A line too long to read: a reply goes to the slot its id names; a request is refused; any
/// other (a notification, whose session is not in its head) may have ended anyone's turn.
fn route_lost(mut lost: Lost) -> Route {
    let id = lost.fields.get("id").cloned();
    match (lost.str("method").map(str::to_string), id) {
        (Some(method), Some(id)) => Route::Refuse { id, method },
        (None, Some(id)) => match id.as_u64().map(|id| (id >> SLOT_SHIFT, id)) {
            Some((slot, id)) if slot > 0 => {
                lost.fields.insert("id".into(), json!(id & LOCAL_MASK));
                Route::To(slot as u32, Segment::Oversized(lost))
            }
            _ => Route::Drop,
        },
        (_, None) => Route::All(lost),
    }
}

/// Applies a route: hands the segment over. Returns the request to refuse, if any.
pub fn deliver(table: &mut Table, route: Route) -> Option<(Value, String)> {
    match route {
        Route::To(slot, segment) => table.send(slot, segment),
        Route::All(lost) => {
            let slots: Vec<u32> = table.slots.keys().copied().collect();
            for slot in slots {
                table.send(slot, Segment::Oversized(lost.clone()));
            }
        }
        Route::Refuse { id, method } => return Some((id, method)),
        Route::Drop => {}
    }
    None
}

/// A session's mark on what it writes to a shared agent (`process::Writer::tagged`).
pub struct Tag {
    pub slot: u32,
    pub table: Shared,
}

impl Tag {
    /// A session's message as the shared agent must get it: a request's id moved into the
    /// slot's range, and a resumed session's native id learned (its reply may not repeat it).
    /// Answers to the agent's own requests keep the agent's ids.
    pub fn outgoing<'a>(&self, msg: &'a Value) -> Cow<'a, Value> {
        let (Some(id), Some(method)) = (msg["id"].as_u64(), msg["method"].as_str()) else {
            return Cow::Borrowed(msg);
        };
        if matches!(
            method,
            "session/resume" | "session/load" | "thread/resume" | "session/prompt" | "turn/start"
        ) && let Some(native) = native_of(&msg["params"])
        {
            lock(&self.table).learn(native, self.slot);
        }
        let mut msg = msg.clone();
        msg["id"] = json!(u64::from(self.slot) << SLOT_SHIFT | (id & LOCAL_MASK));
        Cow::Owned(msg)
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
