//! Permission requests: decided by policy, asked, timed out, refused.

use super::*;
use cap_proto::event::{PermissionCounts, PermissionEvent};
use cap_proto::policy::{DecidedBy, Kind, Mode, Rule, ToolUse, Verdict};

fn exec(cmd: &str) -> DriverEvent {
    DriverEvent::Permission {
        id: format!("p-{cmd}"),
        tool: ToolUse {
            tool: "Bash".into(),
            kind: Kind::Execute,
            subject: Some(cmd.into()),
        },
    }
}

fn permissions(events: &[Envelope]) -> Vec<PermissionEvent> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Permission(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn counts(events: &[Envelope]) -> PermissionCounts {
    match last(events) {
        Event::Result(r) => r.permissions,
        other => panic!("expected a result, got {other:?}"),
    }
}

fn mode(mode: Mode, rules: &str) -> Policy {
    let mut policy = Policy {
        mode,
        ..Policy::default()
    };
    for rule in rules.split(';').filter(|r| !r.is_empty()) {
        let (verdict, rule) = rule.split_once(':').unwrap();
        let rule: Rule = rule.parse().unwrap();
        match verdict {
            "allow" => policy.rules.allow.push(rule),
            "deny" => policy.rules.deny.push(rule),
            _ => policy.rules.ask.push(rule),
        }
    }
    policy
}

#[tokio::test]
async fn the_policy_answers_the_agent_and_every_decision_is_an_event() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let policy = mode(Mode::ApproveAll, "deny:execute(rm *)");
    let mut run = rig.submit_with("x", None, policy, Asker::Nobody).await;
    assert_eq!(agent.call().await, Call::Send("x".into()));
    agent.say(exec("cargo test"));
    assert_eq!(
        agent.call().await,
        Call::Answer("p-cargo test".into(), true)
    );
    agent.say(exec("rm -rf /"));
    assert_eq!(agent.call().await, Call::Answer("p-rm -rf /".into(), false));
    agent.reply("done");
    let events = run.finish().await;
    let seen = permissions(&events);
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].decision, Verdict::Allow);
    assert_eq!(seen[0].by, Some(DecidedBy::Policy(Mode::ApproveAll)));
    assert_eq!(seen[1].decision, Verdict::Deny);
    assert_eq!(
        seen[1].by,
        Some(DecidedBy::Rule("deny:execute(rm *)".into()))
    );
    assert!(seen[1].hint.is_some());
    let c = counts(&events);
    assert_eq!((c.allowed, c.denied, c.asked), (1, 1, 0));
}

#[tokio::test]
async fn an_open_question_goes_to_the_client_and_the_first_answer_wins() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let policy = mode(Mode::ApproveEdits, "");
    let mut run = rig.submit_with("x", None, policy, Asker::Client).await;
    assert_eq!(agent.call().await, Call::Send("x".into()));
    agent.say(exec("cargo test"));
    let asked = loop {
        if let Event::Permission(p) = run.next().await.event {
            break p;
        }
    };
    assert_eq!((asked.decision, asked.by.clone()), (Verdict::Ask, None));
    assert!(rig.handle.decide(asked.id.clone(), true, true).await);
    assert!(
        !rig.handle.decide(asked.id.clone(), false, false).await,
        "answered already"
    );
    assert_eq!(
        agent.call().await,
        Call::Answer("p-cargo test".into(), true)
    );
    // "Always": the same use is not asked again in this session.
    agent.say(exec("cargo test"));
    assert_eq!(
        agent.call().await,
        Call::Answer("p-cargo test".into(), true)
    );
    agent.reply("done");
    let events = run.finish().await;
    // The ask event was read above; these are the answer and the reuse.
    let seen = permissions(&events);
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].id.as_str(), seen[0].decision),
        (asked.id.as_str(), Verdict::Allow)
    );
    assert_eq!(seen[0].by, Some(DecidedBy::User));
    assert_eq!(
        seen[1].by,
        Some(DecidedBy::User),
        "the always answer, reused"
    );
    let c = counts(&events);
    assert_eq!((c.allowed, c.denied, c.asked), (2, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_question_nobody_answers_is_denied_after_the_timeout_and_the_turn_goes_on() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let policy = mode(Mode::ApproveReads, "");
    let mut run = rig.submit_with("x", None, policy, Asker::Client).await;
    assert_eq!(agent.call().await, Call::Send("x".into()));
    agent.say(exec("make"));
    assert_eq!(agent.call().await, Call::Answer("p-make".into(), false));
    agent.reply("went on without it");
    let events = run.finish().await;
    let seen = permissions(&events);
    assert_eq!(seen.last().unwrap().by, Some(DecidedBy::Timeout));
    assert_eq!(result_of(&events).0, "went on without it");
}

#[tokio::test]
async fn without_anyone_to_ask_the_request_is_denied_or_fails_the_turn() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut run = rig
        .submit_with("x", None, mode(Mode::ApproveEdits, ""), Asker::Nobody)
        .await;
    assert_eq!(agent.call().await, Call::Send("x".into()));
    agent.say(exec("make"));
    assert_eq!(agent.call().await, Call::Answer("p-make".into(), false));
    agent.reply("ok");
    let events = run.finish().await;
    assert_eq!(permissions(&events)[0].by, Some(DecidedBy::NoOneToAsk));
    assert!(matches!(last(&events), Event::Result(_)));

    let mut run = rig
        .submit_with("y", None, mode(Mode::ApproveEdits, ""), Asker::Fail)
        .await;
    assert_eq!(agent.call().await, Call::Send("y".into()));
    agent.say(exec("make"));
    assert_eq!(agent.call().await, Call::Answer("p-make".into(), false));
    agent.reply("ok");
    let events = run.finish().await;
    assert!(
        matches!(last(&events), Event::Error(e) if e.code == ErrorCode::PermissionDenied),
        "{events:?}"
    );
}
