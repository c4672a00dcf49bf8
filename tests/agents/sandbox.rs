//! Codex's own sandbox as the second wall (docs/permissions.md): where it runs, a turn that
//! nobody can be asked about runs behind it, as far as its mode reaches and no further; a turn
//! a person may answer, or one under `--approve-all`, runs without it, so it never undoes a
//! yes. Where it does not run, `cap agents` says so and every turn runs without it. What each
//! turn ran with is read from Codex's own record of the turn (its rollout's `turn_context`).

use cap_tests::real::real_env;
use cap_tests::*;
use serde_json::Value;
use std::path::Path;

/// The `sandbox_policy` type of every turn Codex recorded under `dir`, in order.
fn recorded(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "jsonl") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["type"] == "turn_context")
                .filter_map(|v| {
                    v["payload"]["sandbox_policy"]["type"]
                        .as_str()
                        .map(String::from)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn codex_walls_in_the_turns_nobody_is_asked_about() {
    let mut env = real_env();
    env.start_daemon();
    let agents = env.cap_doc(&["agents"]);
    let codex = agents
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "codex"))
        .cloned()
        .unwrap_or_default();
    let works = codex["sandbox"]
        .as_bool()
        .unwrap_or_else(|| panic!("cap agents says nothing of Codex's sandbox: {codex:#}"));
    let listing = text(&env.cap(&["agents"]).stdout);
    let said = if works {
        "its own sandbox runs here"
    } else {
        "its own sandbox does not run here"
    };
    assert!(listing.contains(said), "{listing}");

    // Piped text: nobody can be asked.
    for args in [
        vec!["-a", "codex", "TURN1 default"],
        vec!["-a", "codex", "--deny-all", "TURN2 deny-all"],
        vec!["-a", "codex", "--approve-all", "TURN3 approve-all"],
    ] {
        let mut all = vec!["prompt"];
        all.extend(args);
        let out = env.cap(&all);
        assert_eq!(code(&out), 0, "{all:?}: {}", text(&out.stderr));
    }
    // JSON events: the reading program may be asked, so no wall.
    env.prompt_ok(&["-a", "codex", "TURN4 json"]);

    let walls = recorded(&env.dir.path().join("home").join(".codex").join("sessions"));
    let want = if works {
        [
            "workspace-write",
            "read-only",
            "danger-full-access",
            "danger-full-access",
        ]
    } else {
        ["danger-full-access"; 4]
    };
    assert_eq!(
        walls, want,
        "the sandbox of each turn, as Codex recorded it"
    );
}
