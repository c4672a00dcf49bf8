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

/// Key → what is remembered of it, shared copy-on-write with snapshots.
#[derive(Debug, Clone, Default)]
pub struct Records(Arc<BTreeMap<Arc<str>, Arc<KeyRecord>>>);

impl Records {
    /// Takes over a loaded state file; `parked` flags are dropped (see the module docs).
    pub fn from_persisted(p: Persisted) -> Records {
        let map = p
            .keys
            .into_iter()
            .map(|(key, mut rec)| {
                for r in rec.agents.values_mut() {
                    r.parked = false;
                }
                (Arc::from(key), Arc::new(rec))
            })
            .collect();
        Records(Arc::new(map))
    }

    /// The record of `key`.
    pub fn get(&self, key: &str) -> Option<&KeyRecord> {
        self.0.get(key).map(|r| &**r)
    }

    /// The record of `key` to change. Copies only what a snapshot still shares.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut KeyRecord> {
        if !self.0.contains_key(key) {
            // Absent: nothing to change, and no reason to copy a shared map.
            return None;
        }
        Arc::make_mut(&mut self.0).get_mut(key).map(Arc::make_mut)
    }

    /// The record of `key` to change, created empty when missing.
    pub fn entry(&mut self, key: &str) -> &mut KeyRecord {
        let map = Arc::make_mut(&mut self.0);
        Arc::make_mut(map.entry(Arc::from(key)).or_default())
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &str) {
        if self.0.contains_key(key) {
            Arc::make_mut(&mut self.0).remove(key);
        }
    }

    /// Every key and its record, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &KeyRecord)> {
        self.0.iter().map(|(k, r)| (&**k, &**r))
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
}

// A compile-time reminder: a field added to the records must be added to the views above.
const _: fn(AgentRecord, KeyRecord) = |a, k| {
    let AgentRecord {
        cwd: _,
        native_id: _,
        model: _,
        parked: _,
    } = a;
    let KeyRecord {
        current: _,
        agents: _,
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
        assert!(Arc::ptr_eq(&records.0, &held.0));
        assert!(records.get_mut("review-bot").is_some());
        assert!(!Arc::ptr_eq(&records.0, &held.0));
    }
}
