//! Turns: order, queue, cancel, timeout, respawn, resend, fallback, shutdown.

use super::*;

#[tokio::test]
async fn turns_run_in_order_and_each_starts_with_its_session_event() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut a = rig.submit("a", None).await;
    let mut b = rig.submit("b", None).await;
    assert!(matches!(a.next().await.event, Event::Session(_)));
    assert!(matches!(b.next().await.event, Event::Session(_)));
    assert_eq!(rig.handle.snapshot().queued, 1, "b waits behind a");
    assert_eq!(agent.call().await, Call::Send("a".into()));
    agent.reply("A");
    assert_eq!(result_of(&a.finish().await).0, "A");
    assert_eq!(
        agent.call().await,
        Call::Send("b".into()),
        "b only after a ended"
    );
    agent.reply("B");
    let events = b.finish().await;
    assert_eq!(result_of(&events).0, "B");
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        vec![1, 2],
        "b's events follow its session event (seq 0)"
    );
    assert_eq!(rig.handle.snapshot().turns, 2);
}

#[tokio::test]
async fn a_full_queue_refuses_with_the_limit_code() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let _running = rig.submit("run", None).await;
    assert_eq!(agent.call().await, Call::Send("run".into()));
    let _q1 = rig.submit("q1", None).await;
    let _q2 = rig.submit("q2", None).await;
    let (tx, _rx) = mpsc::unbounded_channel();
    let turn = Turn {
        request: "r3".into(),
        text: "q3".into(),
        timeout: None,
        policy: Policy::default(),
        asker: Asker::Nobody,
        events: tx,
        key: None,
        how: How::Reused,
        notices: Vec::new(),
        context: None,
        schema: None,
        model: None,
        mcp_servers: None,
        steer: false,
    };
    match rig.handle.submit(turn).await {
        Err(Refused::Error(e)) => assert_eq!(e.code, ErrorCode::Limit),
        other => panic!("expected a full queue, got {other:?}"),
    }
}

#[tokio::test]
async fn cancelling_a_queued_turn_ends_it_for_its_caller_and_for_attach() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let _running = rig.submit("run", None).await;
    assert_eq!(agent.call().await, Call::Send("run".into()));
    let mut queued = rig.submit("later", None).await;
    let (_, mut attach) = rig.handle.attach().await.expect("attached");
    let found = rig.handle.cancel(Some(queued.request.clone())).await;
    assert_eq!(found, Cancelled::Queued);
    let events = queued.finish().await;
    assert_eq!(result_of(&events).1, StopReason::Cancelled);
    let seen = attach.recv().await.expect("attach sees the cancellation");
    assert!(
        matches!(&seen.event, Event::Result(r) if r.stop_reason == StopReason::Cancelled),
        "{seen:?}"
    );
    assert_eq!(seen.request.as_deref(), Some(queued.request.as_str()));
    assert_eq!(rig.handle.snapshot().queued, 0);
    // The running turn is untouched.
    agent.reply("done");
    assert_eq!(
        rig.handle.cancel(Some(queued.request)).await,
        Cancelled::Nothing
    );
}

#[tokio::test]
async fn cancelling_the_running_turn_asks_the_agent_and_reports_cancelled() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut run = rig.submit("run", None).await;
    assert_eq!(agent.call().await, Call::Send("run".into()));
    assert_eq!(rig.handle.cancel(None).await, Cancelled::Running);
    assert_eq!(agent.call().await, Call::Cancel);
    agent.say(DriverEvent::Text("partial".into()));
    agent.end(StopReason::Cancelled);
    let (output, reason) = result_of(&run.finish().await);
    assert_eq!(
        (output.as_str(), reason),
        ("partial", StopReason::Cancelled)
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_cancels_in_the_agent_and_kills_it_if_it_does_not_settle() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut run = rig.submit("hang", Some(Duration::from_secs(3))).await;
    assert_eq!(agent.call().await, Call::Send("hang".into()));
    assert_eq!(
        agent.call().await,
        Call::Cancel,
        "the timeout cancels in the agent"
    );
    // The agent ignores it: after the grace period the turn fails with the timeout code and
    // the driver is dropped (the process group is killed).
    let events = run.finish().await;
    assert!(matches!(last(&events), Event::Error(e) if e.code == ErrorCode::Timeout));
    assert!(agent.calls.recv().await.is_none(), "the driver was dropped");
    // The next turn respawns by resume and says why.
    let mut next = rig.submit("next", None).await;
    let mut again = rig.remote().await;
    assert_eq!(again.spec.mode, OpenMode::Resume("native-0".into()));
    assert_eq!(again.call().await, Call::Send("next".into()));
    again.reply("ok");
    let events = next.finish().await;
    assert_eq!(statuses(&events), vec![StatusKind::Respawn]);
}

#[tokio::test]
async fn an_enormous_timeout_is_no_timeout_and_does_not_panic() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut run = rig.submit("x", Some(Duration::from_secs(u64::MAX))).await;
    assert_eq!(agent.call().await, Call::Send("x".into()));
    agent.reply("fine");
    assert_eq!(result_of(&run.finish().await).0, "fine");
}

#[tokio::test]
async fn an_agent_that_dies_mid_turn_is_respawned_by_resume_and_the_turn_retried() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut run = rig.submit("x", None).await;
    assert_eq!(agent.call().await, Call::Send("x".into()));
    agent.die();
    let mut second = rig.remote().await;
    assert_eq!(second.spec.mode, OpenMode::Resume("native-0".into()));
    assert_eq!(second.call().await, Call::Send("x".into()), "retried once");
    second.reply("after respawn");
    let events = run.finish().await;
    assert_eq!(result_of(&events).0, "after respawn");
    assert_eq!(statuses(&events), vec![StatusKind::Respawn]);
}

#[tokio::test]
async fn an_empty_reply_is_resent_twice_at_most() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut run = rig.submit("x", None).await;
    for _ in 0..3 {
        assert_eq!(agent.call().await, Call::Send("x".into()));
        agent.end(StopReason::EndTurn);
    }
    let events = run.finish().await;
    assert_eq!(result_of(&events).0, "");
    assert_eq!(
        statuses(&events),
        vec![StatusKind::Resend, StatusKind::Resend]
    );
}

#[tokio::test]
async fn a_failed_resume_falls_back_to_a_fresh_session_and_says_so() {
    let gone = DriverError::Rejected {
        agent: "fake".into(),
        message: "Session not found".into(),
    };
    let mut rig = rig(OpenMode::Resume("old".into()), vec![Start::Fail(gone)]);
    let mut agent = rig.remote().await;
    assert_eq!(agent.spec.mode, OpenMode::Fresh);
    let ups = rig.drain_ups();
    assert!(ups.contains(&Change::FellBack), "{ups:?}");
    assert!(
        ups.contains(&Change::NativeId("native-1".into())),
        "{ups:?}"
    );
    let _ups = take_ups(&mut rig);
    let mut run = rig.submit("x", None).await;
    assert_eq!(agent.call().await, Call::Send("x".into()));
    agent.reply("fresh");
    let events = run.finish().await;
    assert_eq!(statuses(&events), vec![StatusKind::Fallback]);
}

#[tokio::test]
async fn shutdown_while_busy_ends_the_turn_and_every_queued_one_with_an_error() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut run = rig.submit("run", None).await;
    assert_eq!(agent.call().await, Call::Send("run".into()));
    let mut queued = rig.submit("queued", None).await;
    rig.handle.shutdown().await.expect("shutdown answered");
    assert!(matches!(last(&run.finish().await), Event::Error(_)));
    assert!(matches!(last(&queued.finish().await), Event::Error(_)));
    assert_eq!(agent.call().await, Call::Shutdown, "the agent was ended");
    assert_eq!(rig.handle.snapshot().state, SessionState::Ending);
}

#[tokio::test]
async fn a_session_ended_while_its_agent_starts_answers_its_waiting_prompt() {
    let (release, held) = oneshot::channel();
    let mut rig = rig(OpenMode::Fresh, vec![Start::Held(held)]);
    let _ups = take_ups(&mut rig);
    let mut waiting = rig.submit("x", None).await;
    rig.handle
        .shutdown()
        .await
        .expect("shutdown answered while starting");
    let events = waiting.finish().await;
    assert!(matches!(events[0].event, Event::Session(_)));
    assert!(matches!(last(&events), Event::Error(_)), "{events:?}");
    drop(release);
    assert!(rig.handle.ready().await.is_err());
}

#[tokio::test]
async fn a_failed_first_start_reports_to_the_daemon_and_fails_waiting_prompts() {
    let (release, held) = oneshot::channel();
    let mut rig = rig(OpenMode::Fresh, vec![Start::Held(held)]);
    let mut waiting = rig.submit("x", None).await;
    drop(release);
    let up = rig.ups.recv().await.expect("an up");
    assert_eq!(
        up.change,
        Change::Ended,
        "the daemon hears before the caller"
    );
    let _ = up.applied.send(());
    let events = waiting.finish().await;
    assert!(matches!(last(&events), Event::Error(e) if e.code == ErrorCode::Agent));
}

#[tokio::test]
async fn a_cancel_while_the_agent_restarts_ends_the_turn_unsent() {
    let (release, held) = oneshot::channel();
    let mut rig = rig(OpenMode::Fresh, vec![Start::Ok, Start::Held(held)]);
    let _ups = take_ups(&mut rig);
    let agent = rig.remote().await;
    agent.die();
    let mut run = rig.submit("x", None).await;
    assert!(matches!(run.next().await.event, Event::Session(_)));
    assert_eq!(rig.handle.cancel(None).await, Cancelled::Running);
    let _ = release.send(());
    let mut second = rig.remote().await;
    let (_, reason) = result_of(&run.finish().await);
    assert_eq!(reason, StopReason::Cancelled);
    assert!(second.calls.try_recv().is_err(), "nothing was sent");
}

#[tokio::test]
async fn parking_shows_in_the_snapshot_and_attach_catches_up_on_the_running_turn() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    rig.handle.ready().await.expect("ready");
    rig.handle.park(true);
    let mut watch = rig.handle.snapshot.clone();
    watch
        .wait_for(|s| s.state == SessionState::Parked)
        .await
        .expect("parked");
    let mut run = rig.submit("x", None).await;
    assert_eq!(agent.call().await, Call::Send("x".into()));
    agent.say(DriverEvent::Text("so far".into()));
    assert!(matches!(run.next().await.event, Event::Session(_)));
    assert!(matches!(run.next().await.event, Event::Text { .. }));
    let (backlog, _) = rig.handle.attach().await.expect("attached");
    // The running turn's `session` event first, so the attach knows which turn it sees.
    assert!(
        matches!(&backlog[..], [s, e] if matches!(&s.event, Event::Session(_))
            && matches!(&e.event, Event::Text { delta } if delta == "so far")),
        "{backlog:?}"
    );
}

#[tokio::test]
async fn attach_after_a_turn_still_sees_how_it_ended() {
    let mut rig = rig(OpenMode::Fresh, vec![]);
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut run = rig.submit("x", None).await;
    assert_eq!(agent.call().await, Call::Send("x".into()));
    agent.reply("done");
    run.finish().await;
    let (backlog, _) = rig.handle.attach().await.expect("attached");
    assert!(
        matches!(backlog.last().map(|e| &e.event), Some(Event::Result(_))),
        "{backlog:?}"
    );
}
