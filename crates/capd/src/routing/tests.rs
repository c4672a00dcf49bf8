//! One test per SPEC §2 routing rule and per limit case, on data only.

use super::*;
use std::time::Duration;

/// A table and the live sessions' facts, built step by step like the daemon does.
struct World {
    table: Table,
    live: Live,
    clock: Instant,
    max: usize,
    next: u32,
}

impl World {
    fn new(max: usize) -> World {
        World {
            table: Table::default(),
            live: Live::new(),
            clock: Instant::now(),
            max,
            next: 0,
        }
    }

    fn tick(&mut self) -> Instant {
        self.clock += Duration::from_secs(1);
        self.clock
    }

    /// Plans and applies a prompt on `key` for `agent`, like the daemon: new sessions join
    /// the live set, ended and evicted ones leave it. Returns the plan.
    fn route(&mut self, key: &str, agent: &str, open: Option<OpenMode>) -> Result<Plan, ErrorBody> {
        self.route_with(key, agent, open, true)
    }

    fn route_with(
        &mut self,
        key: &str,
        agent: &str,
        open: Option<OpenMode>,
        bind: bool,
    ) -> Result<Plan, ErrorBody> {
        self.next += 1;
        let new_id = format!("s{}", self.next);
        let want = Want {
            key,
            agent,
            open: open.as_ref(),
            cwd: Path::new("/home/ada/project"),
            bind,
            model: None,
            mcp: None,
            new_id: &new_id,
            max_sessions: self.max,
        };
        let plan = plan(&self.table, &self.live, &want)?;
        self.table.apply(&plan, &want);
        for gone in plan.end.iter().chain(&plan.evict) {
            self.live.remove(gone);
        }
        let sid = plan.session(&want).to_string();
        let now = self.tick();
        let facts = self.live.entry(sid.clone()).or_insert(Facts {
            agent: agent.into(),
            activity: Activity::Idle,
            last_used: now,
        });
        facts.last_used = now;
        if let Target::Open { .. } = plan.target {
            // The agent reports its native id once started.
            self.table.remember(
                key,
                agent,
                "/home/ada/project".into(),
                Some(format!("n-{sid}")),
                None,
                Default::default(),
            );
        }
        Ok(plan)
    }

    fn set(&mut self, sid: &str, activity: Activity) {
        if let Some(f) = self.live.get_mut(sid) {
            f.activity = activity;
        }
    }
}

fn live_session(plan: &Plan) -> (&str, How) {
    match &plan.target {
        Target::Live { session, how } => (session, *how),
        other => panic!("expected a live session, got {other:?}"),
    }
}

fn opened(plan: &Plan) -> (&OpenMode, How) {
    match &plan.target {
        Target::Open { mode, how, .. } => (mode, *how),
        other => panic!("expected an open, got {other:?}"),
    }
}

#[test]
fn a_new_key_opens_a_fresh_session_and_the_next_prompt_reuses_it() {
    let mut w = World::new(8);
    let p = w.route("k", "claude", None).unwrap();
    assert_eq!(opened(&p), (&OpenMode::Fresh, How::Opened));
    assert_eq!(w.table.bindings["k"], "s1");
    let p = w.route("k", "claude", None).unwrap();
    assert_eq!(live_session(&p), ("s1", How::Reused));
    assert!(!p.bind, "reusing the bound session changes nothing");
}

#[test]
fn switching_agent_parks_and_coming_back_unparks() {
    let mut w = World::new(8);
    w.route("k", "claude", None).unwrap(); // s1
    let p = w.route("k", "codex", None).unwrap(); // s2
    assert_eq!(p.park, Some(("s1".into(), "claude".into())));
    assert!(p.end.is_empty());
    assert_eq!(w.table.pool[&("k".into(), "claude".into())], "s1");
    assert_eq!(
        w.table.current_agent("k", &w.live).as_deref(),
        Some("codex")
    );
    let p = w.route("k", "claude", None).unwrap();
    assert_eq!(live_session(&p), ("s1", How::Unparked));
    assert_eq!(p.park, Some(("s2".into(), "codex".into())));
    assert_eq!(w.table.bindings["k"], "s1");
    assert_eq!(w.table.pool[&("k".into(), "codex".into())], "s2");
    assert!(!w.table.is_parked("s1"));
}

#[test]
fn new_on_a_key_ends_the_old_session_of_the_same_agent_but_never_the_new_one() {
    let mut w = World::new(8);
    w.route("k", "claude", None).unwrap(); // s1
    let p = w.route("k", "claude", Some(OpenMode::Fresh)).unwrap(); // s2
    assert_eq!(opened(&p), (&OpenMode::Fresh, How::Opened));
    assert_eq!(p.end, vec!["s1".to_string()]);
    assert_eq!(w.table.bindings["k"], "s2");
    let (parked, ended) = w.table.bind("k", "s2", "claude", &w.live);
    assert_eq!((parked, ended), (None, Vec::<String>::new()));
}

#[test]
fn an_old_session_bound_to_another_key_survives_a_rebind() {
    let mut w = World::new(8);
    w.route("a", "claude", None).unwrap(); // s1
    let (_, ended) = w.table.bind("b", "s1", "claude", &w.live);
    assert!(ended.is_empty());
    let p = w.route("a", "claude", Some(OpenMode::Fresh)).unwrap();
    assert!(p.end.is_empty(), "{p:?}");
    assert_eq!(w.table.bindings["b"], "s1");
}

#[test]
fn one_parked_session_per_key_and_agent() {
    let mut w = World::new(8);
    w.route("k", "claude", None).unwrap(); // s1
    w.route("k", "codex", None).unwrap(); // s2, s1 parked
    // A new claude session bound directly: codex parks, and the parked claude session,
    // which could never be unparked again, ends.
    let p = w.route("k", "claude", Some(OpenMode::Fresh)).unwrap(); // s3
    assert_eq!(p.end, vec!["s1".to_string()]);
    assert_eq!(w.table.pool[&("k".into(), "codex".into())], "s2");
    assert!(!w.table.pool.contains_key(&("k".into(), "claude".into())));
    // A new codex session: claude s3 parks, and it replaces the parked codex s2.
    let p = w.route("k", "codex", Some(OpenMode::Fresh)).unwrap(); // s4
    assert_eq!(p.end, vec!["s2".to_string()]);
    assert_eq!(w.table.pool[&("k".into(), "claude".into())], "s3");
}

#[test]
fn a_remembered_native_id_is_resumed_in_its_recorded_cwd() {
    let mut w = World::new(8);
    w.table.remember(
        "k",
        "claude",
        "/elsewhere".into(),
        Some("n1".into()),
        None,
        Default::default(),
    );
    let p = w.route("k", "claude", None).unwrap();
    match &p.target {
        Target::Open { mode, cwd, how, .. } => {
            assert_eq!(mode, &OpenMode::Resume("n1".into()));
            assert_eq!(cwd, Path::new("/elsewhere"));
            assert_eq!(*how, How::Resumed);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn resume_by_native_id_uses_the_cwd_recorded_for_it_and_continue_the_callers() {
    let mut w = World::new(8);
    w.table.remember(
        "other",
        "claude",
        "/orig".into(),
        Some("n9".into()),
        None,
        Default::default(),
    );
    let p = w
        .route("k", "claude", Some(OpenMode::Resume("n9".into())))
        .unwrap();
    assert!(
        matches!(&p.target, Target::Open { cwd, how: How::Resumed, .. } if cwd == Path::new("/orig"))
    );
    let p = w
        .route("k", "claude", Some(OpenMode::Resume("unknown".into())))
        .unwrap();
    assert!(matches!(&p.target, Target::Open { cwd, .. } if cwd == Path::new("/home/ada/project")));
    let p = w.route("k", "claude", Some(OpenMode::Continue)).unwrap();
    assert_eq!(opened(&p), (&OpenMode::Continue, How::Continued));
}

#[test]
fn open_without_binding_leaves_the_key_alone() {
    let mut w = World::new(8);
    w.route("k", "claude", None).unwrap(); // s1
    let p = w
        .route_with("k", "claude", Some(OpenMode::Fresh), false)
        .unwrap();
    assert!(!p.bind && p.end.is_empty() && p.park.is_none());
    assert_eq!(w.table.bindings["k"], "s1");
}

#[test]
fn records_survive_session_loss_and_end_forgets_them() {
    let mut w = World::new(8);
    w.route("k", "claude", None).unwrap();
    w.table.forget_session("s1");
    w.live.clear();
    assert_eq!(w.table.warm("k", "claude", &w.live), None);
    assert_eq!(
        w.table
            .record("k", "claude")
            .and_then(|r| r.native_id.clone()),
        Some("n-s1".into())
    );
    assert_eq!(
        w.table.current_agent("k", &w.live).as_deref(),
        Some("claude")
    );
    w.table.forget_record("k", "claude");
    assert!(w.table.record("k", "claude").is_none());
    assert_eq!(w.table.current_agent("k", &w.live), None);
}

#[test]
fn snapshot_marks_parked_records() {
    let mut w = World::new(8);
    w.route("k", "claude", None).unwrap();
    w.route("k", "codex", None).unwrap();
    let snap = w.table.snapshot().to_persisted();
    assert!(snap.keys["k"].agents["claude"].parked);
    assert!(!snap.keys["k"].agents["codex"].parked);
    assert_eq!(snap.keys["k"].current.as_deref(), Some("codex"));
}

#[test]
fn at_the_limit_the_least_recently_used_parked_session_goes_first() {
    let mut w = World::new(3);
    w.route("a", "claude", None).unwrap(); // s1
    w.route("a", "codex", None).unwrap(); // s2, s1 parked
    w.route("b", "claude", None).unwrap(); // s3 (bound, idle, newer than s1)
    let p = w.route("c", "claude", None).unwrap(); // s4
    assert_eq!(
        p.evict,
        vec!["s1".to_string()],
        "the parked one, though s2 is older"
    );
    assert!(!w.table.pool.values().any(|s| s == "s1"));
    // Its record stays: the key resumes it transparently.
    let p = w.route("a", "claude", None).unwrap();
    assert_eq!(opened(&p), (&OpenMode::Resume("n-s1".into()), How::Resumed));
}

#[test]
fn with_none_parked_the_least_recently_used_idle_bound_session_goes() {
    let mut w = World::new(2);
    w.route("a", "claude", None).unwrap(); // s1
    w.route("b", "claude", None).unwrap(); // s2
    w.route("a", "claude", None).unwrap(); // s1 used again: s2 is now the older one
    let p = w.route("c", "claude", None).unwrap();
    assert_eq!(p.evict, vec!["s2".to_string()]);
    assert!(!w.table.bindings.contains_key("b"));
    assert_eq!(
        w.table.current_agent("b", &w.live).as_deref(),
        Some("claude")
    );
}

#[test]
fn busy_and_starting_sessions_are_never_evicted_and_then_the_limit_refuses() {
    let mut w = World::new(2);
    w.route("a", "claude", None).unwrap(); // s1
    w.route("b", "claude", None).unwrap(); // s2
    w.set("s1", Activity::Busy);
    w.set("s2", Activity::Starting);
    let err = w.route("c", "claude", None).unwrap_err();
    assert_eq!(err.code, ErrorCode::Limit);
    assert!(err.message.contains("busy or starting"), "{}", err.message);
    w.set("s2", Activity::Idle);
    let p = w.route("c", "claude", None).unwrap();
    assert_eq!(p.evict, vec!["s2".to_string()]);
}

#[test]
fn switching_a_key_to_another_agent_at_the_limit_parks_then_evicts_the_old_session() {
    let mut w = World::new(1);
    w.route("k", "claude", None).unwrap(); // s1
    let p = w.route("k", "codex", None).unwrap(); // s2
    assert_eq!(p.park, Some(("s1".into(), "claude".into())));
    assert_eq!(p.evict, vec!["s1".to_string()]);
    assert!(w.table.pool.is_empty(), "the evicted session left the pool");
    let p = w.route("k", "claude", None).unwrap();
    assert_eq!(opened(&p), (&OpenMode::Resume("n-s1".into()), How::Resumed));
}

#[test]
fn a_session_the_binding_ends_makes_room_without_an_eviction() {
    let mut w = World::new(1);
    w.route("k", "claude", None).unwrap();
    let p = w.route("k", "claude", Some(OpenMode::Fresh)).unwrap();
    assert_eq!(p.end, vec!["s1".to_string()]);
    assert!(p.evict.is_empty());
}

#[test]
fn twenty_keys_under_a_limit_of_eight_all_get_sessions_and_the_first_resumes() {
    let mut w = World::new(8);
    for i in 0..20 {
        w.route(&format!("repo{i}"), "claude", None).unwrap();
        assert!(w.live.len() <= 8);
    }
    let p = w.route("repo0", "claude", None).unwrap();
    assert_eq!(opened(&p), (&OpenMode::Resume("n-s1".into()), How::Resumed));
}

#[test]
fn the_sweep_takes_idle_sessions_past_the_limit_and_never_busy_ones() {
    let mut w = World::new(8);
    w.route("a", "claude", None).unwrap(); // s1 at t1
    w.route("b", "claude", None).unwrap(); // s2 at t2
    w.route("c", "claude", None).unwrap(); // s3 at t3
    w.set("s1", Activity::Busy);
    let now = w.clock + Duration::from_secs(10);
    assert_eq!(
        stale(&w.live, now, Duration::from_secs(11)),
        vec!["s2".to_string()]
    );
    assert_eq!(
        stale(&w.live, now, Duration::from_secs(10)),
        vec!["s2".to_string(), "s3".to_string()]
    );
}

#[test]
fn over_the_memory_limit_idle_sessions_go_parked_first_until_the_rest_fits() {
    let mut w = World::new(8);
    w.route("a", "claude", None).unwrap(); // s1
    w.route("a", "codex", None).unwrap(); // s2, s1 parked
    w.route("b", "claude", None).unwrap(); // s3
    w.route("c", "claude", None).unwrap(); // s4
    w.set("s3", Activity::Busy);
    let mb = |n: u64| n << 20;
    let rss: HashMap<String, u64> = [("s1", 100), ("s2", 300), ("s3", 500), ("s4", 200)]
        .into_iter()
        .map(|(s, n)| (s.to_string(), mb(n)))
        .collect();
    // 1,100 MiB in all.
    assert!(over_memory(&w.table, &w.live, &rss, mb(1100)).is_empty());
    // The parked s1 goes first, though it is the smallest; then the least recently used
    // idle one (s2), which is enough.
    assert_eq!(
        over_memory(&w.table, &w.live, &rss, mb(800)),
        vec!["s1".to_string(), "s2".to_string()]
    );
    // The busy s3 is never evicted, even when what stays is still over the limit.
    assert_eq!(
        over_memory(&w.table, &w.live, &rss, mb(100)),
        vec!["s1".to_string(), "s2".to_string(), "s4".to_string()]
    );
}

#[test]
fn the_session_parked_by_this_request_is_evicted_after_older_parked_ones() {
    let mut w = World::new(4);
    w.route("k1", "claude", None).unwrap(); // s1
    w.route("k1", "other", None).unwrap(); // s2, parks s1
    w.route("k2", "claude", None).unwrap(); // s3
    w.route("k2", "other", None).unwrap(); // s4, parks s3
    w.route("k3", "claude", None).unwrap(); // s5, evicts s1 (the older parked one)
    // Claude comes back on k1: other (s2) parks now, and s3, parked earlier, goes instead.
    let p = w.route("k1", "claude", None).unwrap();
    assert_eq!(p.park, Some(("s2".into(), "other".into())));
    assert_eq!(p.evict, vec!["s3".to_string()]);
}

/// Asserts that `take_dirty` says exactly whether the saved state changed since `saved`.
fn assert_dirty_iff_changed(w: &mut World, saved: &mut crate::persist::Persisted, what: &str) {
    let now = w.table.snapshot().to_persisted();
    assert_eq!(w.table.take_dirty(), now != *saved, "{what}");
    *saved = now;
}

/// The saver writes only when told: `take_dirty` must say exactly whether what the state
/// file holds changed, so no change is left unsaved and a warm prompt costs no write.
#[test]
fn dirty_says_exactly_whether_the_state_file_changed() {
    let mut w = World::new(3);
    let mut saved = w.table.snapshot().to_persisted();
    let s = &mut saved;
    w.route("k", "claude", None).unwrap(); // s1
    assert_dirty_iff_changed(&mut w, s, "a new key");
    w.route("k", "claude", None).unwrap();
    assert_dirty_iff_changed(&mut w, s, "a warm prompt");
    w.route("k", "codex", None).unwrap(); // s2, s1 parked
    assert_dirty_iff_changed(&mut w, s, "another agent parks the first");
    w.route("k", "claude", None).unwrap(); // s1 unparked, s2 parked
    assert_dirty_iff_changed(&mut w, s, "unparked");
    w.route("a", "claude", None).unwrap(); // evicts a parked one
    assert_dirty_iff_changed(&mut w, s, "an eviction");
    w.table.remember(
        "k",
        "claude",
        "/home/ada/project".into(),
        Some("n-s1".into()),
        None,
        Default::default(),
    );
    assert_dirty_iff_changed(&mut w, s, "the same native id again");
    w.table.remember(
        "k",
        "claude",
        "/home/ada/project".into(),
        Some("n-other".into()),
        None,
        Default::default(),
    );
    assert_dirty_iff_changed(&mut w, s, "a new native id");
    w.table.forget_session("s1");
    assert_dirty_iff_changed(&mut w, s, "a bound session gone (bindings are not saved)");
    w.table.forget_record("nope", "claude");
    assert_dirty_iff_changed(&mut w, s, "forgetting what was never there");
    w.table.forget_record("a", "claude");
    assert_dirty_iff_changed(&mut w, s, "cap end forgets the record");
    let live = w.live.clone();
    w.table.bind("b", "s2", "codex", &live);
    assert_dirty_iff_changed(&mut w, s, "cap bind");
}

#[test]
fn the_spent_total_follows_spending_and_resets() {
    let mut t = Table::default();
    let tokens = |n| cap_proto::Usage {
        input_tokens: Some(n),
        ..Default::default()
    };
    assert!(t.spent().is_empty());
    t.spend("a", &tokens(10));
    t.spend("b", &tokens(5));
    assert_eq!(t.spent().input_tokens, Some(15));
    assert_eq!(t.reset_spending("a").and_then(|u| u.input_tokens), Some(10));
    assert_eq!(t.spent().input_tokens, Some(5), "recounted after a reset");
    t.spend("a", &tokens(1));
    assert_eq!(t.spent().input_tokens, Some(6));
}
