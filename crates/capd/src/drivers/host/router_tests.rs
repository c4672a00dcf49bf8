use super::*;
use serde_json::json;

fn line(v: Value) -> Segment {
    Segment::Line(v.to_string().into_bytes())
}

fn parsed(route: &Route) -> (u32, Value) {
    match route {
        Route::To(slot, Segment::Line(l)) => (*slot, serde_json::from_slice(l).expect("json")),
        other => panic!("{other:?}"),
    }
}

/// What session `slot` writes when it sends `msg`.
fn sent(table: &Shared, slot: u32, msg: Value) -> Value {
    tag(table, slot).outgoing(&msg).into_owned()
}

fn tag(table: &Shared, slot: u32) -> Tag {
    Tag {
        slot,
        table: table.clone(),
    }
}

#[test]
fn a_reply_goes_back_to_the_slot_its_id_names_with_the_id_restored() {
    let table = Shared::default();
    let (a, _ra) = lock(&table).open().expect("slot");
    let (b, _rb) = lock(&table).open().expect("slot");
    let sent_b = sent(
        &table,
        b,
        json!({"id": 7, "method": "session/new", "params": {}}),
    );
    let wire = sent_b["id"].as_u64().expect("id");
    assert_ne!(wire, 7, "moved into b's range");
    let sent_a = sent(
        &table,
        a,
        json!({"id": 7, "method": "session/new", "params": {}}),
    );
    assert_ne!(
        sent_a["id"], sent_b["id"],
        "two sessions' ids never collide"
    );

    let reply = json!({"jsonrpc": "2.0", "id": wire, "result": {"sessionId": "s-b"}});
    let route = route(&mut lock(&table), line(reply));
    let (slot, v) = parsed(&route);
    assert_eq!(slot, b);
    assert_eq!(v["id"], 7);
    // The session the reply created is b's from now on.
    let update = json!({"method": "session/update", "params": {"sessionId": "s-b", "update": {}}});
    assert_eq!(parsed(&route_of(&table, update)).0, b);
}

fn route_of(table: &Shared, v: Value) -> Route {
    route(&mut lock(table), line(v))
}

#[test]
fn codex_threads_are_learned_from_replies_and_resumes() {
    let table = Shared::default();
    let (a, _ra) = lock(&table).open().expect("slot");
    let (b, _rb) = lock(&table).open().expect("slot");
    let start = sent(
        &table,
        a,
        json!({"id": 2, "method": "thread/start", "params": {}}),
    );
    let reply = json!({"id": start["id"], "result": {"thread": {"id": "t-a"}}});
    assert_eq!(parsed(&route_of(&table, reply)).0, a);
    // b resumes a thread: its reply need not repeat the id, the request named it.
    let _ = tag(&table, b)
        .outgoing(&json!({"id": 2, "method": "thread/resume", "params": {"threadId": "t-b"}}));
    let delta = |t: &str| json!({"method": "item/agentMessage/delta", "params": {"threadId": t, "delta": "x"}});
    assert_eq!(parsed(&route_of(&table, delta("t-a"))).0, a);
    assert_eq!(parsed(&route_of(&table, delta("t-b"))).0, b);
    // An approval request for a thread nobody here holds is refused, not left waiting.
    let ask = json!({"id": 0, "method": "item/commandExecution/requestApproval", "params": {"threadId": "t-gone"}});
    assert_eq!(
        route_of(&table, ask),
        Route::Refuse {
            id: json!(0),
            method: "item/commandExecution/requestApproval".into()
        }
    );
}

#[test]
fn a_forked_source_is_not_taken_from_the_session_that_holds_it() {
    let table = Shared::default();
    let (a, _ra) = lock(&table).open().expect("slot");
    let (b, _rb) = lock(&table).open().expect("slot");
    let _ = sent(
        &table,
        a,
        json!({"id": 3, "method": "session/resume", "params": {"sessionId": "s"}}),
    );
    let _ = sent(
        &table,
        b,
        json!({"id": 3, "method": "session/fork", "params": {"sessionId": "s"}}),
    );
    let update = json!({"method": "session/update", "params": {"sessionId": "s"}});
    assert_eq!(parsed(&route_of(&table, update)).0, a);
}

#[test]
fn answers_to_the_agent_keep_its_ids_and_the_hosts_own_replies_are_dropped() {
    let table = Shared::default();
    let (a, _ra) = lock(&table).open().expect("slot");
    let answer = json!({"id": 5, "result": {"outcome": {}}});
    assert_eq!(*tag(&table, a).outgoing(&answer), answer);
    assert_eq!(
        route_of(&table, json!({"id": 1, "result": {}})),
        Route::Drop
    );
    assert_eq!(
        route(&mut lock(&table), Segment::Line(b"not json".to_vec())),
        Route::Drop
    );
}

#[test]
fn a_lost_line_goes_where_its_head_says_or_to_everyone() {
    let table = Shared::default();
    let (a, mut ra) = lock(&table).open().expect("slot");
    let (_b, mut rb) = lock(&table).open().expect("slot");
    let wire = sent(
        &table,
        a,
        json!({"id": 9, "method": "session/prompt", "params": {}}),
    )["id"]
        .clone();
    let lost = |fields: Value| Lost {
        len: 1 << 25,
        fields: fields.as_object().cloned().unwrap_or_default(),
    };
    match route(
        &mut lock(&table),
        Segment::Oversized(lost(json!({"id": wire}))),
    ) {
        Route::To(slot, Segment::Oversized(l)) => {
            assert_eq!(slot, a);
            assert_eq!(l.fields["id"], 9);
        }
        other => panic!("{other:?}"),
    }
    let r = route(
        &mut lock(&table),
        Segment::Oversized(lost(json!({"method": "turn/completed"}))),
    );
    assert!(matches!(r, Route::All(_)), "{r:?}");
    assert_eq!(deliver(&mut lock(&table), r), None);
    assert!(matches!(ra.try_recv(), Ok(Segment::Oversized(_))));
    assert!(matches!(rb.try_recv(), Ok(Segment::Oversized(_))));
    let r = route(
        &mut lock(&table),
        Segment::Oversized(lost(json!({"id": 4, "method": "fs/read"}))),
    );
    assert!(matches!(r, Route::Refuse { .. }), "{r:?}");
}

#[test]
fn a_closed_slot_hears_nothing_more_and_an_ended_table_opens_none() {
    let table = Shared::default();
    let (a, mut ra) = lock(&table).open().expect("slot");
    let start = sent(
        &table,
        a,
        json!({"id": 2, "method": "session/new", "params": {}}),
    );
    let reply = route_of(
        &table,
        json!({"id": start["id"], "result": {"sessionId": "s"}}),
    );
    assert_eq!(deliver(&mut lock(&table), reply), None);
    assert!(ra.try_recv().is_ok());
    assert_eq!(lock(&table).close(a), vec!["s".to_string()]);
    let update = json!({"method": "session/update", "params": {"sessionId": "s"}});
    assert_eq!(route_of(&table, update), Route::Drop);
    lock(&table).end();
    assert!(lock(&table).open().is_none());
}
