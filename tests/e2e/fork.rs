//! `cap fork` and `--handoff`. Fork: a new session whose conversation starts as a copy of the source's, for all
//! three protocols (Claude `--fork-session`, Codex `thread/fork`, ACP `session/fork`); the
//! two conversations then go their own ways. The fake agents count turns, so `turns=N`
//! proves which history a reply saw.

use cap_tests::*;

fn start(agent: &str, vars: &[(&str, &str)]) -> Env {
    let fake = bin("cap-fake-agent");
    let mut env = Env::with_config(&format!(
        "default_agent = \"{agent}\"\n\
         [agents.fcodex]\nprotocol = \"codex-app-server\"\ncommand = \"{f}\"\nargs = [\"app-server\"]\n\
         [agents.facp]\nprotocol = \"acp\"\ncommand = \"{f}\"\nargs = [\"acp\"]\n",
        f = fake.display()
    ));
    for (k, v) in vars {
        env.vars.push((k.to_string(), v.to_string()));
    }
    env.start_daemon();
    env
}

fn output(env: &Env, key: &str, text: &str) -> String {
    env.prompt_ok(&["--key", key, text])["output"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn fork_leaves_two_independent_conversations() {
    for agent in ["claude", "fcodex", "facp"] {
        let env = start(agent, &[]);
        output(&env, "src", "one");
        output(&env, "src", "two");
        let out = env.cap(&["fork", "--from", "src", "--key", "copy"]);
        assert_eq!(code(&out), 0, "{agent}: {}", text(&out.stderr));
        let forked = text(&out.stdout).trim().to_string();
        assert_eq!(
            output(&env, "copy", "three"),
            "ECHO[turns=3]: three",
            "{agent}: the copy has the past"
        );
        assert_eq!(
            output(&env, "src", "again"),
            "ECHO[turns=3]: again",
            "{agent}: the source is untouched"
        );
        assert_eq!(
            output(&env, "copy", "four"),
            "ECHO[turns=4]: four",
            "{agent}"
        );
        assert_eq!(
            output(&env, "src", "more"),
            "ECHO[turns=4]: more",
            "{agent}"
        );
        let keys = env.keys_doc();
        let bound = keys["bindings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["key"] == "copy")
            .unwrap_or_else(|| panic!("{agent}: {keys:#}"));
        assert_eq!(bound["session"], forked.as_str());
    }
}

#[test]
fn an_agent_without_fork_says_so_and_the_new_key_stays_unbound() {
    let env = start("facp", &[("FAKE_ACP_NO_FORK", "1")]);
    output(&env, "src", "one");
    let out = env.cap(&["fork", "--from", "src", "--key", "copy"]);
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("facp") && err.contains("session/fork"),
        "{err}"
    );
    let keys = env.keys_doc();
    assert!(
        !keys.to_string().contains("\"copy\""),
        "nothing left for the new key: {keys:#}"
    );
    assert_eq!(output(&env, "src", "two"), "ECHO[turns=2]: two");
}

#[test]
fn a_handoff_starts_the_new_agent_with_the_previous_agents_turns() {
    let env = start("claude", &[]);
    output(&env, "k", "design the parser");
    output(&env, "k", "now the lexer");
    // The fake echoes its whole input, handed-over context included.
    let r = env.prompt_ok(&["--key", "k", "--agent", "fcodex", "--handoff", "review it"]);
    let out = r["output"].as_str().unwrap_or_default();
    assert!(
        out.starts_with("ECHO[turns=1]"),
        "a fresh codex session: {out}"
    );
    assert!(
        out.contains("worked on with claude"),
        "says which agent: {out}"
    );
    assert!(
        out.contains("User: design the parser") && out.contains("User: now the lexer"),
        "{out}"
    );
    assert!(
        out.contains("claude: ECHO[turns=2]: now the lexer"),
        "what claude said: {out}"
    );
    assert!(
        out.trim_end().ends_with("review it"),
        "the prompt follows: {out}"
    );
    // The record keeps the handover apart from the prompt.
    let log = env.cap(&["--format", "json", "log", "--key", "k"]);
    let records = json_lines(&log.stdout);
    let prompt = records
        .iter()
        .find(|r| r["type"] == "prompt")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(prompt["text"], "review it");
    assert!(
        prompt["preamble"]
            .as_str()
            .unwrap_or_default()
            .contains("worked on with claude")
    );
    // Coming back to claude unparks its warm session, context intact, no handover.
    let r = env.prompt_ok(&["--key", "k", "--agent", "claude", "back"]);
    assert_eq!(r["output"], "ECHO[turns=3]: back");
}
