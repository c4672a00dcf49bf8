//! Tests of the fake's shared machinery.

use super::*;

#[test]
fn echo_reply_format() {
    assert_eq!(echo_reply(3, "hello"), "ECHO[turns=3]: hello");
}

#[test]
fn split_chunks_rejoins_and_respects_char_boundaries() {
    let s = "ECHO[turns=1]: héllo wörld ✓ ok";
    for n in 1..12 {
        let parts = split_chunks(s, n);
        assert!(parts.len() <= n.max(1));
        assert!(parts.iter().all(|p| !p.is_empty()));
        assert_eq!(parts.concat(), s);
    }
    assert!(split_chunks("", 3).is_empty());
    assert_eq!(split_chunks("ab", 3), vec!["a", "b"]);
    assert_eq!(split_chunks("ECHO[turns=1]: SLOW x", 10).len(), 10);
}

#[test]
fn history_roundtrip_and_atomic_save() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::new(dir.path());
    let mut h = History::new("abc-123", "claude", "/some/cwd");
    assert_eq!(h.begin_turn("one"), 1);
    h.end_turn("ECHO[turns=1]: one", "completed");
    assert_eq!(h.begin_turn("two"), 2);
    home.save(&h).expect("save");
    let back = home.load("abc-123", "claude").expect("load");
    assert_eq!(back, h);
    assert_eq!(back.turns[1].status, "running");
    assert!(home.load("abc-123", "codex").is_none(), "protocol scoped");
    assert!(home.load("nope", "claude").is_none());
    // No temp files left behind.
    let names: Vec<String> = fs::read_dir(home.sessions_dir())
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["abc-123.json".to_string()]);
}

#[test]
fn corrupt_or_unsafe_history_is_not_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::new(dir.path());
    fs::create_dir_all(home.sessions_dir()).expect("mkdir");
    fs::write(home.sessions_dir().join("bad.json"), b"{not json").expect("write");
    assert!(home.load("bad", "claude").is_none());
    assert!(home.load("../etc/passwd", "claude").is_none());
    assert!(home.load("", "claude").is_none());
    assert!(!safe_id("a/b"));
    assert!(!safe_id(".."));
    assert!(safe_id("0192-abc_DEF.1"));
    assert!(home.save(&History::new("../x", "claude", "/")).is_err());
}

#[test]
fn latest_in_picks_most_recent_in_cwd() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::new(dir.path());
    let mut a = History::new("a", "claude", "/w");
    a.updated_ms = 10;
    let mut b = History::new("b", "claude", "/w");
    b.updated_ms = 20;
    let mut c = History::new("c", "claude", "/other");
    c.updated_ms = 30;
    let mut d = History::new("d", "codex", "/w");
    d.updated_ms = 40;
    for h in [&a, &b, &c, &d] {
        home.save(h).expect("save");
    }
    assert_eq!(
        home.latest_in("claude", "/w").map(|h| h.session_id),
        Some("b".to_string())
    );
    assert!(home.latest_in("claude", "/none").is_none());
}

#[test]
fn once_markers_fire_once_per_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::new(dir.path());
    let p1 = Plan::new("please CRASHONCE", 1, &home, "s1");
    assert!(p1.crash);
    let p2 = Plan::new("please CRASHONCE", 2, &home, "s1");
    assert!(!p2.crash);
    let p3 = Plan::new("please CRASHONCE", 1, &home, "s2");
    assert!(p3.crash);
    assert!(Plan::new("CRASH", 1, &home, "s1").crash);
    let e1 = Plan::new("EMPTYONCE", 1, &home, "s1");
    assert_eq!(e1.reply(""), "");
    let e2 = Plan::new("EMPTYONCE", 2, &home, "s1");
    assert_eq!(e2.reply(""), "ECHO[turns=2]: EMPTYONCE");
}

#[test]
fn plan_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::new(dir.path());
    assert_eq!(Plan::new("HANG", 1, &home, "s").hang, Hang::Interruptible);
    assert_eq!(
        Plan::new("HANGNOINT", 1, &home, "s").hang,
        Hang::Uninterruptible
    );
    assert_eq!(Plan::new("hang", 1, &home, "s").hang, Hang::No);
    let huge = Plan::new("HUGE", 1, &home, "s");
    let r = huge.reply("");
    assert!(r.len() >= HUGE_BYTES);
    assert!(r.starts_with("ECHO[turns=1]: HUGE"));
    assert!(r.ends_with("HUGE-END"));
    let mut st = huge.stream(&r);
    let mut n = 0;
    while let Some(c) = st.next_due(Instant::now()) {
        n += 1;
        assert!(!c.is_empty());
    }
    assert_eq!(n, HUGE_CHUNKS);
    assert!(st.finished());
    assert_eq!(st.sent, r);
    // A bigger reply (FAKE_HUGE_BYTES) goes in more chunks of the same size, not bigger ones.
    let big = huge_filler_of(40 * HUGE_CHUNK_BYTES);
    let mut st = huge.stream(&big);
    let mut n = 0;
    while let Some(c) = st.next_due(Instant::now()) {
        n += 1;
        assert!(
            c.len() <= HUGE_CHUNK_BYTES + 4,
            "chunk of {} bytes",
            c.len()
        );
    }
    assert_eq!(n, 40);
    assert_eq!(st.sent, big);
    let hang = Plan::new("HANG", 1, &home, "s");
    let st = hang.stream("x");
    assert!(!st.finished());
    assert!(st.deadline().is_none());
}

#[test]
fn content_text_extraction() {
    use serde_json::json;
    assert_eq!(text_of_content(&json!("hi")), Some("hi".to_string()));
    assert_eq!(
        text_of_content(
            &json!([{"type":"text","text":"a"},{"type":"image"},{"type":"text","text":"b"}])
        ),
        Some("a\nb".to_string())
    );
    assert_eq!(text_of_content(&json!(3)), None);
}

#[test]
fn history_keeps_a_huge_reply_whole_and_a_bigger_one_by_its_size() {
    let mut h = History::new("s", "acp", "/");
    h.begin_turn("HUGE");
    let huge = huge_filler_of(HUGE_BYTES);
    h.end_turn(&huge, "completed");
    assert_eq!(h.turns[0].agent.as_deref(), Some(huge.as_str()));
    let bigger = huge_filler_of(4 * HUGE_BYTES);
    h.end_turn(&bigger, "completed");
    let kept = h.turns[0].agent.clone().unwrap_or_default();
    assert!(kept.len() < 2048, "{} bytes kept", kept.len());
    assert!(kept.ends_with(&format!("[{} bytes in all]", bigger.len())));
}
