//! SPEC §2 session model: sticky keys, the suspended pool, rebinding, acquire after a
//! restart, open modes, the preamble, `cap end`, bindings, idle GC and persistence.

use cap_tests::*;
use serde_json::Value;

fn ok(env: &Env, args: &[&str]) -> (Value, Value) {
    env.prompt_session_ok(args)
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("session id").to_string()
}

#[test]
fn same_key_reuses_the_session_and_other_keys_get_their_own() {
    let mut env = Env::new();
    env.start_daemon();
    let (s1, r1) = ok(&env, &["one"]);
    assert_eq!(s1["how"], "opened");
    assert_eq!(s1["key"], env.key());
    assert_eq!(r1["output"], "ECHO[turns=1]: one");
    let (s2, r2) = ok(&env, &["two"]);
    assert_eq!(s2["how"], "reused");
    assert_eq!(id(&s2), id(&s1), "same key must route to the same session");
    assert_eq!(r2["output"], "ECHO[turns=2]: two");

    let (o1, ro) = ok(&env, &["--key", "other-key", "elsewhere"]);
    assert_eq!(o1["how"], "opened");
    assert_eq!(o1["key"], "other-key");
    assert_ne!(id(&o1), id(&s1), "another key gets its own session");
    assert_eq!(ro["output"], "ECHO[turns=1]: elsewhere");

    // The first key still has its context.
    let (s3, r3) = ok(&env, &["three"]);
    assert_eq!(id(&s3), id(&s1));
    assert_eq!(r3["output"], "ECHO[turns=3]: three");
    assert_eq!(env.session_ids().len(), 2);
}

#[test]
fn default_key_is_the_git_root() {
    let mut env = Env::new();
    std::fs::create_dir_all(env.work.join(".git")).unwrap();
    let deep = env.work.join("sub").join("deeper");
    std::fs::create_dir_all(&deep).unwrap();
    let plain = env.dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    env.start_daemon();

    let (root, _) = ok(&env, &["from the root"]);
    assert_eq!(root["key"], env.key());
    let (sub, r) = ok(&env, &["-C", deep.to_str().unwrap(), "from a subdirectory"]);
    assert_eq!(
        sub["key"],
        env.key(),
        "a subdirectory of a git repo routes by the repo's root"
    );
    assert_eq!(id(&sub), id(&root));
    assert_eq!(sub["how"], "reused");
    assert_eq!(r["output"], "ECHO[turns=2]: from a subdirectory");

    // Outside a repository the key is the directory itself.
    let (p, r) = ok(&env, &["-C", plain.to_str().unwrap(), "plain dir"]);
    let canon = plain.canonicalize().unwrap();
    assert_eq!(p["key"], format!("dir:{}", canon.display()));
    assert_ne!(id(&p), id(&root));
    assert_eq!(r["output"], "ECHO[turns=1]: plain dir");
}

#[test]
fn switching_agent_parks_and_coming_back_unparks_the_warm_session() {
    let mut env = Env::new();
    env.start_daemon();
    let (c, _) = ok(&env, &["--agent", "claude", "first"]);
    let claude = id(&c);
    let claude_pid = env.session_pid(&claude);

    let (o, r) = ok(&env, &["--agent", "other", "to other"]);
    let other = id(&o);
    assert_ne!(other, claude);
    assert_eq!(o["how"], "opened");
    assert_eq!(r["output"], "ECHO[turns=1]: to other");

    let keys = env.keys_doc();
    assert_eq!(
        keys["parked"],
        serde_json::json!([{"key": env.key(), "agent": "claude", "session": claude}]),
        "claude must be parked: {keys:#}"
    );
    assert_eq!(
        keys["bindings"],
        serde_json::json!([{"key": env.key(), "agent": "other", "session": other}]),
        "{keys:#}"
    );
    assert!(
        alive(claude_pid),
        "a parked session keeps its agent running"
    );
    assert_eq!(env.show_doc(&claude)["state"], "parked");

    // Without --agent the key's current agent (other) is used.
    let (o2, r) = ok(&env, &["no agent named"]);
    assert_eq!(id(&o2), other);
    assert_eq!(r["output"], "ECHO[turns=2]: no agent named");

    let (back, r) = ok(&env, &["--agent", "claude", "back"]);
    assert_eq!(back["how"], "unparked");
    assert_eq!(id(&back), claude, "the same warm session comes back");
    assert_eq!(
        r["output"], "ECHO[turns=2]: back",
        "context survived parking"
    );
    assert_eq!(
        env.session_pid(&claude),
        claude_pid,
        "no respawn: it stayed warm"
    );

    let keys = env.keys_doc();
    assert_eq!(
        keys["parked"],
        serde_json::json!([{"key": env.key(), "agent": "other", "session": other}]),
        "now other is parked: {keys:#}"
    );
    // Only one agent process per session was ever started.
    assert_eq!(env.invocations().len(), 2);
}

#[test]
fn one_parked_session_per_key_and_agent() {
    let mut env = Env::new();
    env.start_daemon();
    let (c1, _) = ok(&env, &["--agent", "claude", "c1"]);
    let c1 = id(&c1);
    let c1_pid = env.session_pid(&c1);
    let (o1, _) = ok(&env, &["--agent", "other", "o1"]); // parks c1
    let o1 = id(&o1);
    let (c2, r) = ok(&env, &["--agent", "claude", "--new", "c2"]); // parks o1
    let c2 = id(&c2);
    assert_eq!(r["output"], "ECHO[turns=1]: c2");
    // A new claude session on the key replaces the parked claude one: it could never be
    // unparked again, only hold a process and a slot under max_sessions.
    wait_until("the older parked claude session to end", || !alive(c1_pid));
    let keys = env.keys_doc();
    assert_eq!(
        keys["parked"],
        serde_json::json!([{"key": env.key(), "agent": "other", "session": o1}]),
        "{keys:#}"
    );
    let (back, _) = ok(&env, &["--agent", "other", "o1 again"]); // parks c2
    assert_eq!(id(&back), o1);
    assert_eq!(back["how"], "unparked");

    let keys = env.keys_doc();
    assert_eq!(
        keys["parked"],
        serde_json::json!([{"key": env.key(), "agent": "claude", "session": c2}]),
        "{keys:#}"
    );
    let ids = env.session_ids();
    assert!(!ids.contains(&c1), "c1 is gone: {ids:?}");
    assert_eq!(ids.len(), 2, "{ids:?}");
    let (c, r) = ok(&env, &["--agent", "claude", "c2 again"]);
    assert_eq!(id(&c), c2);
    assert_eq!(r["output"], "ECHO[turns=2]: c2 again");
}

#[test]
fn new_on_a_bound_key_ends_the_old_session_of_the_same_agent() {
    let mut env = Env::new();
    env.start_daemon();
    let (s1, _) = ok(&env, &["one"]);
    let (_, r) = ok(&env, &["two"]);
    assert_eq!(r["output"], "ECHO[turns=2]: two");
    let old = id(&s1);
    let old_pid = env.session_pid(&old);

    let (s2, r) = ok(&env, &["--new", "fresh"]);
    assert_eq!(s2["how"], "opened");
    assert_ne!(id(&s2), old);
    assert_eq!(r["output"], "ECHO[turns=1]: fresh");
    wait_until("the old agent to exit", || !alive(old_pid));
    assert_eq!(env.session_ids(), vec![id(&s2)]);
    assert!(env.keys_doc()["parked"].as_array().unwrap().is_empty());
    // The key now leads to the new session.
    let (s3, r) = ok(&env, &["after"]);
    assert_eq!(id(&s3), id(&s2));
    assert_eq!(r["output"], "ECHO[turns=2]: after");
}

#[test]
fn after_a_restart_the_key_resumes_the_native_session_from_its_original_cwd() {
    let mut env = Env::new();
    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    env.start_daemon();
    let (s, _) = ok(&env, &["--key", "same", "one"]);
    let (_, r) = ok(&env, &["--key", "same", "two"]);
    let native = r["native_id"].as_str().expect("native id").to_string();

    env.restart_daemon();
    assert!(
        env.session_ids().is_empty(),
        "no process survives a restart"
    );
    let (s2, r) = ok(
        &env,
        &["--key", "same", "-C", elsewhere.to_str().unwrap(), "three"],
    );
    assert_eq!(s2["how"], "resumed");
    assert_eq!(
        s2["native_id"], native,
        "the session event names the resumed id"
    );
    assert_ne!(id(&s2), id(&s));
    assert_eq!(
        r["output"], "ECHO[turns=3]: three",
        "the conversation went on"
    );
    assert_eq!(r["native_id"], native);
    let invs = env.invocations();
    let last = invs.last().unwrap();
    assert!(
        has_pair(last, "--resume", &native),
        "respawned with --resume: {last:#}"
    );
    assert_eq!(
        last["cwd"],
        env.work.to_str().unwrap(),
        "resume runs in the session's original cwd, not -C: {last:#}"
    );
}

#[test]
fn resume_and_continue_open_modes() {
    let mut env = Env::new();
    env.start_daemon();
    ok(&env, &["--key", "a", "one"]);
    let (_, r) = ok(&env, &["--key", "a", "two"]);
    let native = r["native_id"].as_str().unwrap().to_string();
    // End it so the fake's history is not being written by two processes.
    let out = env.cap(&["end", "--key", "a"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));

    let (s, r) = ok(&env, &["--key", "b", "--resume", &native, "resumed"]);
    assert_eq!(s["how"], "resumed");
    assert_eq!(r["output"], "ECHO[turns=3]: resumed");
    assert_eq!(r["native_id"], native);
    assert!(has_pair(
        env.invocations().last().unwrap(),
        "--resume",
        &native
    ));
    let out = env.cap(&["end", "--key", "b"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));

    let (s, r) = ok(&env, &["--key", "c", "--continue", "continued"]);
    assert_eq!(s["how"], "continued");
    assert_eq!(
        r["output"], "ECHO[turns=4]: continued",
        "--continue picks the most recent session in the cwd"
    );
    let last = env.invocations().last().cloned().unwrap();
    assert!(argv(&last).iter().any(|a| a == "--continue"), "{last:#}");
    // A later prompt on that key stays in the continued conversation.
    let (s2, r) = ok(&env, &["--key", "c", "more"]);
    assert_eq!(id(&s2), id(&s));
    assert_eq!(r["output"], "ECHO[turns=5]: more");
}

#[test]
fn preamble_goes_only_to_the_first_prompt_of_a_fresh_session() {
    let mut env = Env::with_config("preamble = \"PRE-AMBLE\"");
    let file = env.dir.path().join("pre.txt");
    std::fs::write(&file, "FILE-PRE").unwrap();
    let file = file.to_str().unwrap().to_string();
    env.start_daemon();

    let (_, r) = ok(&env, &["hello"]);
    assert_eq!(r["output"], "ECHO[turns=1]: PRE-AMBLE\n\nhello");
    let (_, r) = ok(&env, &["again"]);
    assert_eq!(r["output"], "ECHO[turns=2]: again");

    env.restart_daemon();
    let (s, r) = ok(&env, &["--preamble", &file, "resumed"]);
    assert_eq!(s["how"], "resumed");
    assert_eq!(
        r["output"], "ECHO[turns=3]: resumed",
        "never a preamble on a resumed session"
    );

    let (s, r) = ok(&env, &["--new", "--preamble", &file, "new one"]);
    assert_eq!(s["how"], "opened");
    assert_eq!(
        r["output"], "ECHO[turns=1]: FILE-PRE\n\nnew one",
        "--preamble FILE replaces the configured one"
    );
    let (_, r) = ok(&env, &["--preamble", &file, "second"]);
    assert_eq!(r["output"], "ECHO[turns=2]: second");
}

#[test]
fn end_prints_the_resume_hint_kills_the_agent_and_forgets_the_key() {
    let mut env = Env::new();
    env.start_daemon();
    let (s, _) = ok(&env, &["one"]);
    let (_, r) = ok(&env, &["two"]);
    let native = r["native_id"].as_str().unwrap().to_string();
    let pid = env.session_pid(&id(&s));

    let out = env.cap(&["end"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&native), "prints the native id: {stdout}");
    assert!(
        stdout.contains(&format!("cap prompt --agent claude --resume {native}")),
        "prints a resume hint: {stdout}"
    );
    wait_until("the agent to exit", || !alive(pid));
    assert!(env.session_ids().is_empty());

    let (s2, r) = ok(&env, &["after end"]);
    assert_eq!(s2["how"], "opened", "the key's record was forgotten");
    assert_eq!(r["output"], "ECHO[turns=1]: after end");
    assert_ne!(r["native_id"], native);

    // By id and by key, in JSON.
    let sid = id(&s2);
    let ended = env.cap_doc(&["end", &sid]);
    assert_eq!(ended["session"], sid);
    assert_eq!(ended["native_id"], r["native_id"]);
    let (s3, _) = ok(&env, &["--key", "kk", "x"]);
    let ended = env.cap_doc(&["end", "--key", "kk"]);
    assert_eq!(ended["session"], id(&s3));
    // Ending what is not there is "not found".
    let out = env.cap(&["end", "--key", "kk"]);
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
}

#[test]
fn bind_unbind_and_keys() {
    let mut env = Env::new();
    env.start_daemon();
    let opened = env.cap_doc(&["open", "--key", "a"]);
    let sid = id(&opened);
    assert_eq!(opened["keys"], serde_json::json!(["a"]));
    let out = env.cap(&["bind", "b", &sid]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));

    let keys = env.keys_doc();
    let bound: Vec<(String, String)> = keys["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["session"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        bound,
        vec![
            ("a".to_string(), sid.clone()),
            ("b".to_string(), sid.clone())
        ]
    );
    assert_eq!(env.show_doc(&sid)["keys"], serde_json::json!(["a", "b"]));

    let (s, r) = ok(&env, &["--key", "b", "via b"]);
    assert_eq!(id(&s), sid);
    assert_eq!(s["how"], "reused");
    assert_eq!(r["output"], "ECHO[turns=1]: via b");
    let (s, r) = ok(&env, &["--key", "a", "via a"]);
    assert_eq!(id(&s), sid);
    assert_eq!(r["output"], "ECHO[turns=2]: via a");

    let out = env.cap(&["unbind", "b"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let keys = env.keys_doc();
    assert_eq!(keys["bindings"].as_array().unwrap().len(), 1, "{keys:#}");
    assert_eq!(keys["bindings"][0]["key"], "a");
    assert!(env.session_ids().contains(&sid), "unbind keeps the session");
    let (s, r) = ok(&env, &["--key", "b", "fresh on b"]);
    assert_ne!(id(&s), sid);
    assert_eq!(r["output"], "ECHO[turns=1]: fresh on b");

    let out = env.cap(&["unbind", "nope"]);
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    let out = env.cap(&["bind", "c", "0123456789abcdef0123456789abcdef"]);
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
}

#[test]
fn binding_a_key_to_another_session_of_the_same_agent_ends_the_old_one() {
    let mut env = Env::new();
    env.start_daemon();
    let s1 = id(&env.cap_doc(&["open", "--key", "a"]));
    let s1_pid = env.session_pid(&s1);
    let s2 = id(&env.cap_doc(&["open", "--key", "b"]));
    let s3 = id(&env.cap_doc(&["open", "--key", "c"]));
    let out = env.cap(&["bind", "d", &s3]); // s3 is bound to c and d

    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let out = env.cap(&["bind", "a", &s2]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    wait_until("the replaced session to end", || !alive(s1_pid));
    // Rebinding to the session already bound ends nothing.
    let out = env.cap(&["bind", "a", &s2]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    // A session still bound to another key survives losing one of its keys.
    let out = env.cap(&["bind", "d", &s2]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let ids = env.session_ids();
    assert!(!ids.contains(&s1), "{ids:?}");
    assert!(ids.contains(&s2) && ids.contains(&s3), "{ids:?}");
    let (s, r) = ok(&env, &["--key", "a", "on a"]);
    assert_eq!(id(&s), s2);
    assert_eq!(r["output"], "ECHO[turns=1]: on a");

    // Binding a parked session takes it out of the pool instead of ending it.
    let (c, _) = ok(&env, &["--key", "p", "--agent", "claude", "c"]);
    let c = id(&c);
    ok(&env, &["--key", "p", "--agent", "other", "o"]);
    assert_eq!(env.show_doc(&c)["state"], "parked");
    let out = env.cap(&["bind", "p", &c]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let keys = env.keys_doc();
    let parked: Vec<&Value> = keys["parked"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["key"] == "p")
        .collect();
    assert_eq!(parked.len(), 1, "{keys:#}");
    assert_eq!(parked[0]["agent"], "other", "{keys:#}");
    let (s, r) = ok(&env, &["--key", "p", "back on claude"]);
    assert_eq!(id(&s), c);
    assert_eq!(r["output"], "ECHO[turns=2]: back on claude");
}

#[test]
fn after_a_restart_each_key_keeps_its_current_agent_and_parked_conversations() {
    let mut env = Env::new();
    env.start_daemon();
    ok(&env, &["--agent", "claude", "c one"]);
    ok(&env, &["--agent", "other", "o one"]);
    env.restart_daemon();

    let (s, r) = ok(&env, &["no agent named"]);
    assert_eq!(
        s["agent"], "other",
        "the key's current agent survives: {s:#}"
    );
    assert_eq!(s["how"], "resumed");
    assert_eq!(r["output"], "ECHO[turns=2]: no agent named");
    let (s, r) = ok(&env, &["--agent", "claude", "c two"]);
    assert_eq!(s["how"], "resumed", "the parked conversation is resumed");
    assert_eq!(r["output"], "ECHO[turns=2]: c two");
    // Saved atomically: no temp file is ever left next to the state file.
    let dir = env.state_file().parent().unwrap().to_path_buf();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state"))
        .collect();
    assert_eq!(names, vec!["state.json".to_string()], "{names:?}");
}

#[test]
fn gc_runs_the_sweep_on_demand() {
    // The periodic sweep runs every idle_timeout/4; `cap gc` is polled much faster, so it
    // nearly always gets there first. When the timer wins, the scenario is tried again.
    let mut env = Env::with_config("idle_timeout = 2");
    env.start_daemon();
    // Nothing idle long enough yet: gc ends nothing.
    let (s, _) = ok(&env, &["--key", "k0", "warm"]);
    let report = env.cap_doc(&["gc"]);
    assert_eq!(report["ended"], serde_json::json!([]), "{report:#}");
    assert!(env.session_ids().contains(&id(&s)));

    for attempt in 0..5 {
        let key = format!("k{}", attempt + 1);
        let (s, _) = ok(&env, &["--key", &key, "x"]);
        let sid = id(&s);
        let pid = env.session_pid(&sid);
        let mut by_gc = false;
        wait_until("gc or the sweep to end the session", || {
            let report = env.cap_doc(&["gc"]);
            by_gc = report["ended"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == sid.as_str());
            by_gc || !env.session_ids().contains(&sid)
        });
        if by_gc {
            assert!(!env.session_ids().contains(&sid));
            wait_until("the agent to exit", || !alive(pid));
            let out = env.cap(&["gc"]);
            assert_eq!(code(&out), 0);
            return;
        }
    }
    panic!("the periodic sweep beat `cap gc` five times in a row");
}

#[test]
fn state_file_follows_every_change() {
    let mut env = Env::new();
    env.start_daemon();
    let key = env.key();
    let (_, r) = ok(&env, &["--agent", "claude", "one"]);
    let native = r["native_id"].as_str().unwrap().to_string();
    let st = env.state_doc();
    assert_eq!(st["keys"][&key]["current"], "claude", "{st:#}");
    assert_eq!(
        st["keys"][&key]["agents"]["claude"]["native_id"], native,
        "{st:#}"
    );
    assert_eq!(
        st["keys"][&key]["agents"]["claude"]["cwd"],
        env.work.to_str().unwrap()
    );
    assert_eq!(st["keys"][&key]["agents"]["claude"]["parked"], false);

    let (_, r) = ok(&env, &["--agent", "other", "two"]);
    let other_native = r["native_id"].as_str().unwrap().to_string();
    let st = env.state_doc();
    assert_eq!(st["keys"][&key]["current"], "other", "{st:#}");
    assert_eq!(
        st["keys"][&key]["agents"]["claude"]["parked"], true,
        "{st:#}"
    );
    assert_eq!(
        st["keys"][&key]["agents"]["other"]["native_id"],
        other_native
    );

    let (_, r) = ok(&env, &["--agent", "claude", "three"]);
    assert_eq!(r["output"], "ECHO[turns=2]: three");
    let st = env.state_doc();
    assert_eq!(st["keys"][&key]["current"], "claude", "{st:#}");
    assert_eq!(st["keys"][&key]["agents"]["claude"]["parked"], false);
    assert_eq!(st["keys"][&key]["agents"]["other"]["parked"], true);

    let out = env.cap(&["end"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let st = env.state_doc();
    assert!(
        st["keys"][&key]["agents"]["claude"].is_null(),
        "`cap end` forgets the record: {st:#}"
    );
    assert_eq!(
        st["keys"][&key]["agents"]["other"]["native_id"], other_native,
        "{st:#}"
    );

    let opened = env.cap_doc(&["open", "--key", "named"]);
    let st = env.state_doc();
    assert_eq!(
        st["keys"]["named"]["agents"]["claude"]["native_id"], opened["native_id"],
        "{st:#}"
    );
    let out = env.cap(&["unbind", "named"]);
    assert_eq!(code(&out), 0);
    let st = env.state_doc();
    assert!(st["keys"]["named"]["agents"]["claude"].is_null(), "{st:#}");
}
