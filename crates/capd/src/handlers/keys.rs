//! `keys`: bindings, the suspended pool, and remembered records.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::{Binding, KeysReport, Parked, Record};

pub fn handle(d: &Daemon) -> Reply {
    let state = d.lock();
    let agent = |sid: &str| {
        state
            .sessions
            .get(sid)
            .map(|h| h.agent.clone())
            .unwrap_or_default()
    };
    let bindings = state
        .table
        .bindings
        .iter()
        .map(|(key, sid)| Binding {
            key: key.clone(),
            agent: agent(sid),
            session: sid.clone(),
        })
        .collect();
    let parked = state
        .table
        .pool
        .iter()
        .map(|((key, agent), sid)| Parked {
            key: key.clone(),
            agent: agent.clone(),
            session: sid.clone(),
        })
        .collect();
    let records = state
        .table
        .records
        .iter()
        .flat_map(|(key, rec)| {
            rec.agents.iter().map(move |(agent, r)| Record {
                key: key.to_string(),
                agent: agent.clone(),
                cwd: r.cwd.clone(),
                native_id: r.native_id.clone(),
                current: rec.current.as_deref() == Some(agent.as_str()),
            })
        })
        .collect();
    Reply::Keys(KeysReport {
        bindings,
        parked,
        records,
    })
}
