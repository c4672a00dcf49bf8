use super::*;

#[test]
fn builtins_resolve_and_missing_ones_say_how_to_install() {
    let cfg = Config::default();
    let err = resolve("qoder", &cfg).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    assert!(err.message.contains("CAP_QODER_BIN"), "{}", err.message);
    let err = resolve("nope", &cfg).unwrap_err();
    assert!(err.message.contains("unknown agent"));
    let spec = resolve("acp:sh -c 'exit 0'", &cfg).unwrap();
    assert_eq!(spec.protocol, Protocol::Acp);
    assert_eq!(spec.args, vec!["-c", "exit 0"]);
    assert_eq!(override_var("claude-acp"), "CAP_CLAUDE_ACP_BIN");
}

#[test]
fn an_agent_that_runs_commands_unasked_is_refused_any_policy_but_approve_all() {
    let cfg = Config::default();
    let policy = |mode: Mode, deny: &[&str]| Policy {
        mode,
        rules: cap_proto::policy::Rules {
            deny: deny.iter().map(|r| r.parse().unwrap()).collect(),
            ..Default::default()
        },
    };
    for mode in [Mode::ApproveEdits, Mode::ApproveReads, Mode::DenyAll] {
        let err = check_policy("codex-acp", &cfg, &policy(mode, &[])).unwrap_err();
        assert_eq!(err.code, ErrorCode::Usage);
        assert!(
            err.message.contains(&format!("--permissions {mode}")),
            "{}",
            err.message
        );
    }
    assert!(check_policy("codex-acp", &cfg, &policy(Mode::ApproveAll, &[])).is_ok());
    let err = check_policy(
        "codex-acp",
        &cfg,
        &policy(Mode::ApproveAll, &["execute(rm*)"]),
    )
    .unwrap_err();
    assert!(
        err.message.contains("the rule execute(rm*)"),
        "{}",
        err.message
    );
    assert!(
        check_policy(
            "codex-acp",
            &cfg,
            &policy(Mode::ApproveAll, &["edit(/etc/**)"])
        )
        .is_ok(),
        "an edit rule is held: edits ask"
    );
    for agent in ["claude", "codex", "gemini", "opencode", "claude-acp"] {
        assert!(check_policy(agent, &cfg, &policy(Mode::DenyAll, &[])).is_ok());
    }
}

#[test]
fn agents_that_would_act_without_asking_are_told_to_ask() {
    let cfg = Config::default();
    let (opencode, _) = describe("opencode", &cfg).unwrap();
    let asks: serde_json::Value =
        serde_json::from_str(&opencode.env["OPENCODE_PERMISSION"]).unwrap();
    for tool in ["edit", "bash", "read", "external_directory", "webfetch"] {
        assert_eq!(asks[tool], "ask", "{tool}");
    }
    let (gemini, _) = describe("gemini", &cfg).unwrap();
    assert_eq!(gemini.args[..2], ["--acp", "--policy"]);
    assert!(gemini.args[2].ends_with("gemini-policy.toml"));
    assert!(GEMINI_POLICY.content.contains("argsPattern = \".*\""));
    let (codex_acp, _) = describe("codex-acp", &cfg).unwrap();
    assert_eq!(
        codex_acp.args,
        [
            "-c",
            "approval_policy=\"untrusted\"",
            "-c",
            "sandbox_mode=\"danger-full-access\""
        ]
    );
}
