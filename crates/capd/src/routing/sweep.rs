//! The reaping decisions outside routing: sessions to evict for memory, and the idle sweep.

use super::{Activity, BindEffects, Live, Table, eviction_order};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `max_agent_memory`: while the live sessions' agents together hold more than `limit` bytes
/// (`rss`: session → bytes, as last measured), the idle sessions to evict, in
/// [`eviction_order`], until what stays fits. Busy and starting sessions are never evicted,
/// so the result may still be over the limit.
pub fn over_memory(
    table: &Table,
    live: &Live,
    rss: &HashMap<String, u64>,
    limit: u64,
) -> Vec<String> {
    let of = |sid: &str| rss.get(sid).copied().unwrap_or(0);
    let mut total: u64 = live.keys().map(|s| of(s)).sum();
    let mut out = Vec::new();
    for sid in eviction_order(table, live, &BindEffects::default()) {
        if total <= limit {
            break;
        }
        total = total.saturating_sub(of(sid));
        out.push(sid.clone());
    }
    out
}

/// The idle sweep: sessions idle (or parked) for at least `limit`. Busy and starting
/// sessions are never reaped.
pub fn stale(live: &Live, now: Instant, limit: Duration) -> Vec<String> {
    let mut out: Vec<String> = live
        .iter()
        .filter(|(_, f)| {
            f.activity == Activity::Idle && now.saturating_duration_since(f.last_used) >= limit
        })
        .map(|(s, _)| s.clone())
        .collect();
    out.sort();
    out
}
