use cap_tests::*;

#[test]
fn warm_prompt_keeps_context_on_the_same_session() {
    let mut env = Env::new();
    env.start_daemon();
    let first = env.prompt_ok(&["hello one"]);
    assert_eq!(first["output"], "ECHO[turns=1]: hello one");
    let (events, rc) = env.prompt_json(&["hello two"]);
    assert_eq!(rc, 0);
    assert_eq!(events[0]["type"], "session");
    assert_eq!(events[0]["how"], "reused");
    assert_eq!(events[0]["id"], first["session"]);
    assert_eq!(events.last().unwrap()["output"], "ECHO[turns=2]: hello two");
}
