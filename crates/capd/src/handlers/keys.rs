//! `keys`: bindings, the suspended pool, and remembered records.
//!
//! The lock is held only to copy the bindings and the pool (a live session's worth each) and
//! to take an O(1) snapshot of the records (copy-on-write, see `persist::records`); the list
//! is built from that snapshot afterwards, so a listing of 300,000 keys never stalls the
//! daemon, and is consistent: one moment's tables.
//!
//! With `stream` (what `cap` sends) the list goes out in parts of about [`PART_BYTES`], each
//! a `keys` reply with `more` until the last; the connection's bounded queue holds the sender
//! back when the client reads slowly. Without it (older clients) it is one reply, refused
//! with an error naming the fix when it could not fit in one line.

use crate::daemon::Daemon;
use crate::persist::records::Records;
use crate::server::Out;
use cap_proto::reply::{Binding, KeysReport, Parked, Record};
use cap_proto::request::KeysRequest;
use cap_proto::{ErrorCode, MAX_LINE, Reply};

/// About how many bytes of JSON one streamed part holds. Counted as the strings' lengths
/// plus a field overhead; escaping can make a string at most six times longer, so a part
/// stays far under the 16 MiB line limit whatever it holds.
const PART_BYTES: usize = 1024 * 1024;
/// JSON punctuation and field names of one row, roughly.
const ROW_OVERHEAD: usize = 80;

pub async fn handle(d: &Daemon, id: u64, r: KeysRequest, out: &Out) {
    let (bindings, parked, records) = {
        let state = d.lock();
        let agent = |sid: &str| {
            state
                .sessions
                .get(sid)
                .map(|h| h.agent.clone())
                .unwrap_or_default()
        };
        let bindings: Vec<Binding> = state
            .table
            .bindings
            .iter()
            .map(|(key, sid)| Binding {
                key: key.clone(),
                agent: agent(sid),
                session: sid.clone(),
            })
            .collect();
        let parked: Vec<Parked> = state
            .table
            .pool
            .iter()
            .map(|((key, agent), sid)| Parked {
                key: key.clone(),
                agent: agent.clone(),
                session: sid.clone(),
            })
            .collect();
        (bindings, parked, state.table.records.clone())
    };
    if !r.stream {
        out.send(id, whole(bindings, parked, &records)).await;
        return;
    }
    let mut part = Part::default();
    for b in bindings {
        part.size += b.key.len() + b.agent.len() + b.session.len() + ROW_OVERHEAD;
        part.report.bindings.push(b);
        if !part.flush_if_full(id, out).await {
            return;
        }
    }
    for p in parked {
        part.size += p.key.len() + p.agent.len() + p.session.len() + ROW_OVERHEAD;
        part.report.parked.push(p);
        if !part.flush_if_full(id, out).await {
            return;
        }
    }
    for row in rows(&records) {
        part.size += row_size(&row);
        part.report.records.push(row);
        if !part.flush_if_full(id, out).await {
            return;
        }
    }
    // What each key spent, after the rows; a part per megabyte like them.
    for (key, rec) in records.iter().filter(|(_, rec)| !rec.usage.is_empty()) {
        part.size += key.len() + ROW_OVERHEAD * 2;
        part.report.usage.insert(key.to_string(), rec.usage);
        if !part.flush_if_full(id, out).await {
            return;
        }
    }
    out.send(id, Reply::Keys(part.report)).await;
}

/// One streamed part being filled.
#[derive(Default)]
struct Part {
    report: KeysReport,
    size: usize,
}

impl Part {
    /// Sends the part once it is full, with `more`; false when the client is gone.
    async fn flush_if_full(&mut self, id: u64, out: &Out) -> bool {
        if self.size < PART_BYTES {
            return true;
        }
        let mut report = std::mem::take(&mut self.report);
        report.more = true;
        self.size = 0;
        out.send(id, Reply::Keys(report)).await
    }
}

/// Every (key, agent) record as a row, in key order.
fn rows(records: &Records) -> impl Iterator<Item = Record> + '_ {
    records.iter().flat_map(|(key, rec)| {
        rec.agents.iter().map(move |(agent, r)| Record {
            key: key.to_string(),
            agent: agent.clone(),
            cwd: r.cwd.clone(),
            native_id: r.native_id.clone(),
            current: rec.current.as_deref() == Some(agent.as_str()),
        })
    })
}

fn row_size(r: &Record) -> usize {
    r.key.len()
        + r.agent.len()
        + r.cwd.as_os_str().len()
        + r.native_id.as_ref().map_or(0, String::len)
        + ROW_OVERHEAD
}

/// The one-reply answer of clients that do not stream, or an error when it is too large for
/// one line (they would drop such a line and report a protocol error instead).
fn whole(bindings: Vec<Binding>, parked: Vec<Parked>, all: &Records) -> Reply {
    let records: Vec<Record> = rows(all).collect();
    let usage = all
        .iter()
        .filter(|(_, rec)| !rec.usage.is_empty())
        .map(|(key, rec)| (key.to_string(), rec.usage))
        .collect();
    let size: usize = records.iter().map(row_size).sum::<usize>()
        + bindings
            .iter()
            .map(|b| b.key.len() + b.agent.len() + b.session.len() + ROW_OVERHEAD)
            .sum::<usize>()
        + parked
            .iter()
            .map(|p| p.key.len() + p.agent.len() + p.session.len() + ROW_OVERHEAD)
            .sum::<usize>();
    if size >= MAX_LINE - ROW_OVERHEAD {
        return Reply::error(
            ErrorCode::Protocol,
            format!(
                "the {} remembered records do not fit in one reply line ({} MiB at most); \
                 this client asks for them in one piece: update it (a `cap keys` that sends \
                 `\"stream\": true` gets them in parts)",
                records.len(),
                MAX_LINE >> 20
            ),
        );
    }
    Reply::Keys(KeysReport {
        bindings,
        parked,
        records,
        usage,
        more: false,
    })
}
