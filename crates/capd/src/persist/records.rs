//! The remembered records as the daemon holds them, and the snapshot the saver writes.
//!
//! Saving must not stall the daemon, however many keys it remembers, so taking a snapshot
//! under the daemon's lock must cost nothing and writing it must need no lock at all. The
//! records are therefore copy-on-write at two levels: the map sits behind an `Arc`, and so
//! does each key's record. A snapshot is an `Arc` clone (O(1)). A change while no snapshot
//! is held changes the map in place; a change while the saver holds one copies the map's
//! spine once (pointers only: keys and records stay shared) and then the one record it
//! changes. The saver serialises its snapshot on its own thread and drops it.
//!
//! In memory `parked` is always `false`: the suspended pool says which sessions are parked,
//! and a [`Snapshot`] marks them as it is written, exactly as the file always said it.

use super::{AgentRecord, KeyRecord, Persisted, STATE_VERSION};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Keys per chunk when a map is built; a chunk splits in two when it reaches twice this.
const CHUNK: usize = 512;

/// One sorted run of keys.
type Chunk = BTreeMap<Arc<str>, Arc<KeyRecord>>;

/// Key → what is remembered of it, shared copy-on-write with snapshots.
///
/// Two levels, so that no change ever copies the whole map: a sorted list of chunks of up to
/// 1,024 keys each, every chunk and every record behind its own `Arc`. A change while a
/// snapshot is held copies the list of chunk pointers (about 600 of them for 300,000 keys),
/// the one chunk it touches (at most 1,024 pointers) and the one record, a few microseconds;
/// a single copy-on-write map would copy 300,000 pointers, 15-30 ms, under the daemon's lock.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Sorted, non-empty, disjoint runs: every key of a chunk is below the next one's first.
    chunks: Arc<Vec<Arc<Chunk>>>,
    len: usize,
}

impl Records {
    /// Takes over a loaded state file; `parked` flags are dropped (see the module docs).
    pub fn from_persisted(p: Persisted) -> Records {
        let len = p.keys.len();
        let mut chunks = Vec::with_capacity(len / CHUNK + 1);
        let mut chunk = Chunk::new();
        for (key, mut rec) in p.keys {
            for r in rec.agents.values_mut() {
                r.parked = false;
            }
            chunk.insert(Arc::from(key), Arc::new(rec));
            if chunk.len() == CHUNK {
                chunks.push(Arc::new(std::mem::take(&mut chunk)));
            }
        }
        if !chunk.is_empty() {
            chunks.push(Arc::new(chunk));
        }
        Records {
            chunks: Arc::new(chunks),
            len,
        }
    }

    /// The chunk that holds `key`, or would: the last one starting at or before it.
    fn chunk_of(chunks: &[Arc<Chunk>], key: &str) -> usize {
        chunks
            .partition_point(|c| c.first_key_value().is_some_and(|(k, _)| **k <= *key))
            .saturating_sub(1)
    }

    /// The record of `key`.
    pub fn get(&self, key: &str) -> Option<&KeyRecord> {
        let chunk = self.chunks.get(Self::chunk_of(&self.chunks, key))?;
        chunk.get(key).map(|r| &**r)
    }

    /// The record of `key` to change. Copies only what a snapshot still shares.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut KeyRecord> {
        let i = Self::chunk_of(&self.chunks, key);
        if !self.chunks.get(i)?.contains_key(key) {
            // Absent: nothing to change, and no reason to copy anything shared.
            return None;
        }
        let chunk = Arc::make_mut(&mut Arc::make_mut(&mut self.chunks)[i]);
        chunk.get_mut(key).map(Arc::make_mut)
    }

    /// The record of `key` to change, created empty when missing.
    pub fn entry(&mut self, key: &str) -> &mut KeyRecord {
        let chunks = Arc::make_mut(&mut self.chunks);
        if chunks.is_empty() {
            chunks.push(Arc::default());
        }
        let mut i = Self::chunk_of(chunks, key);
        if chunks[i].len() >= 2 * CHUNK && !chunks[i].contains_key(key) {
            // Full: split it in halves first, then insert into the half the key belongs to.
            let chunk = Arc::make_mut(&mut chunks[i]);
            if let Some(middle) = chunk.keys().nth(CHUNK).cloned() {
                let upper = chunk.split_off(&middle);
                chunks.insert(i + 1, Arc::new(upper));
                if *key >= *middle {
                    i += 1;
                }
            }
        }
        let chunk = Arc::make_mut(&mut chunks[i]);
        if !chunk.contains_key(key) {
            self.len += 1;
        }
        Arc::make_mut(chunk.entry(Arc::from(key)).or_default())
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &str) {
        let i = Self::chunk_of(&self.chunks, key);
        if !self.chunks.get(i).is_some_and(|c| c.contains_key(key)) {
            return;
        }
        let chunks = Arc::make_mut(&mut self.chunks);
        let chunk = Arc::make_mut(&mut chunks[i]);
        chunk.remove(key);
        self.len -= 1;
        if chunk.is_empty() {
            chunks.remove(i);
        }
    }

    /// Every key and its record, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &KeyRecord)> {
        self.chunks
            .iter()
            .flat_map(|c| c.iter().map(|(k, r)| (&**k, &**r)))
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What the state file will say: the records, and which (key, agent) pairs are parked.
/// Cheap to take under the daemon's lock; serialised by the saver without it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub records: Records,
    /// key → its agents whose session sits in the suspended pool.
    pub parked: BTreeMap<String, BTreeSet<String>>,
}

impl Snapshot {
    /// The state file's contents as a value (for tests and checks; saving streams instead).
    pub fn to_persisted(&self) -> Persisted {
        let keys = self
            .records
            .iter()
            .map(|(key, rec)| {
                let mut rec = rec.clone();
                for (agent, r) in rec.agents.iter_mut() {
                    r.parked = self.is_parked(key, agent);
                }
                (key.to_string(), rec)
            })
            .collect();
        Persisted {
            version: STATE_VERSION,
            keys,
        }
    }

    fn is_parked(&self, key: &str, agent: &str) -> bool {
        self.parked.get(key).is_some_and(|a| a.contains(agent))
    }
}

/// Serialises exactly as [`Persisted`] does (same fields, same order), with `parked` marked
/// from the pool, without building a `Persisted`.
impl Serialize for Snapshot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut file = s.serialize_struct("Persisted", 2)?;
        serde::ser::SerializeStruct::serialize_field(&mut file, "version", &STATE_VERSION)?;
        serde::ser::SerializeStruct::serialize_field(&mut file, "keys", &KeysView(self))?;
        serde::ser::SerializeStruct::end(file)
    }
}

struct KeysView<'a>(&'a Snapshot);

impl Serialize for KeysView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let snap = self.0;
        let mut map = s.serialize_map(Some(snap.records.len()))?;
        for (key, rec) in snap.records.iter() {
            map.serialize_entry(
                key,
                &KeyView {
                    current: &rec.current,
                    agents: AgentsView { snap, key, rec },
                    usage: &rec.usage,
                },
            )?;
        }
        map.end()
    }
}

#[derive(serde::Serialize)]
struct KeyView<'a> {
    current: &'a Option<String>,
    agents: AgentsView<'a>,
    #[serde(skip_serializing_if = "cap_proto::Usage::is_empty")]
    usage: &'a cap_proto::Usage,
}

struct AgentsView<'a> {
    snap: &'a Snapshot,
    key: &'a str,
    rec: &'a KeyRecord,
}

impl Serialize for AgentsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.rec.agents.len()))?;
        for (agent, r) in &self.rec.agents {
            let view = AgentView {
                cwd: &r.cwd,
                native_id: &r.native_id,
                model: &r.model,
                parked: self.snap.is_parked(self.key, agent),
                mcp_servers: &r.mcp_servers,
            };
            map.serialize_entry(agent, &view)?;
        }
        map.end()
    }
}

/// [`AgentRecord`]'s fields, borrowed, in its order.
#[derive(serde::Serialize)]
struct AgentView<'a> {
    cwd: &'a std::path::Path,
    native_id: &'a Option<String>,
    model: &'a Option<String>,
    parked: bool,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    mcp_servers: &'a crate::mcp::McpServers,
}

// A compile-time reminder: a field added to the records must be added to the views above.
const _: fn(AgentRecord, KeyRecord) = |a, k| {
    let AgentRecord {
        cwd: _,
        native_id: _,
        model: _,
        parked: _,
        mcp_servers: _,
    } = a;
    let KeyRecord {
        current: _,
        agents: _,
        usage: _,
    } = k;
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn sample() -> Persisted {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/state-v1.json"
        );
        serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap()
    }

    /// The pairs a loaded file marks parked, as the pool would hold them.
    fn parked_of(p: &Persisted) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (key, rec) in &p.keys {
            for (agent, r) in &rec.agents {
                if r.parked {
                    out.entry(key.clone()).or_default().insert(agent.clone());
                }
            }
        }
        out
    }

    #[test]
    fn a_snapshot_writes_the_very_bytes_persisted_does() {
        let p = sample();
        let snap = Snapshot {
            parked: parked_of(&p),
            records: Records::from_persisted(p.clone()),
        };
        assert_eq!(
            serde_json::to_vec_pretty(&snap).unwrap(),
            serde_json::to_vec_pretty(&p).unwrap()
        );
        assert_eq!(snap.to_persisted(), p);
        assert!(
            snap.records
                .iter()
                .all(|(_, r)| r.agents.values().all(|a| !a.parked)),
            "parked lives in the pool, not in memory"
        );
    }

    #[test]
    fn a_held_snapshot_never_sees_later_changes() {
        let mut records = Records::from_persisted(sample());
        let before = Snapshot {
            records: records.clone(),
            parked: BTreeMap::new(),
        }
        .to_persisted();
        let held = records.clone();
        records.entry("review-bot").current = Some("claude".into());
        records.entry("new").agents.insert(
            "codex".into(),
            AgentRecord {
                cwd: PathBuf::from("/n"),
                native_id: None,
                model: None,
                parked: false,
                mcp_servers: Default::default(),
            },
        );
        records.remove("dir:/home/ada/notes");
        let held = Snapshot {
            records: held,
            parked: BTreeMap::new(),
        };
        assert_eq!(held.to_persisted(), before);
        assert_eq!(records.get("new").map(|r| r.agents.len()), Some(1));
        assert!(records.get("dir:/home/ada/notes").is_none());
    }

    #[test]
    fn get_mut_of_a_missing_key_does_not_copy_a_shared_map() {
        let mut records = Records::from_persisted(sample());
        let held = records.clone();
        assert!(records.get_mut("absent").is_none());
        assert!(Arc::ptr_eq(&records.chunks, &held.chunks));
        assert!(records.get_mut("review-bot").is_some());
        assert!(!Arc::ptr_eq(&records.chunks, &held.chunks));
    }

    use proptest::prelude::*;

    /// A change to the records, on keys from a small alphabet so that they collide.
    #[derive(Debug, Clone)]
    enum Op {
        Set(u16, String),
        Remove(u16),
        Snapshot,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u16..3000, "[a-c]{1,3}").prop_map(|(k, a)| Op::Set(k, a)),
            3 => (0u16..3000).prop_map(Op::Remove),
            1 => Just(Op::Snapshot),
        ]
    }

    proptest! {
        // Each case is thousands of changes; a few dozen cases cover the splits.
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The chunked map behaves as one sorted map, splits included, and a snapshot taken
        /// at any point still shows exactly the map of that moment.
        #[test]
        fn chunks_behave_as_one_sorted_map(ops in proptest::collection::vec(op(), 1000..4000)) {
            let mut records = Records::default();
            let mut model: BTreeMap<String, Option<String>> = BTreeMap::new();
            let mut held: Vec<(Records, BTreeMap<String, Option<String>>)> = Vec::new();
            for op in ops {
                match op {
                    Op::Set(k, agent) => {
                        let key = format!("k{k:05}");
                        records.entry(&key).current = Some(agent.clone());
                        model.insert(key, Some(agent));
                    }
                    Op::Remove(k) => {
                        let key = format!("k{k:05}");
                        records.remove(&key);
                        model.remove(&key);
                    }
                    Op::Snapshot => held.push((records.clone(), model.clone())),
                }
            }
            held.push((records, model));
            for (records, model) in held {
                let got: Vec<(String, Option<String>)> = records
                    .iter()
                    .map(|(k, r)| (k.to_string(), r.current.clone()))
                    .collect();
                let want: Vec<(String, Option<String>)> = model.into_iter().collect();
                prop_assert_eq!(records.len(), want.len());
                prop_assert_eq!(got, want);
                prop_assert!(records.chunks.iter().all(|c| !c.is_empty() && c.len() <= 2 * CHUNK));
            }
        }
    }
}
