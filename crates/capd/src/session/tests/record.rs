//! The actor's transcript: condensed records per turn, in the native session's file.

use super::*;
use crate::drivers::DriverEvent;
use cap_proto::ToolCall;
use cap_proto::transcript::{Entry, Record};

fn read(dir: &std::path::Path, native: &str) -> Vec<Record> {
    let path = crate::transcript::path(dir, "fake", native).expect("path");
    crate::transcript::read(&path, None).expect("read")
}

fn tool(status: &str, input: Option<&str>, output: Option<&str>) -> DriverEvent {
    DriverEvent::ToolCall(ToolCall {
        id: "t1".into(),
        name: "Bash".into(),
        status: status.into(),
        input: input.map(Into::into),
        output: output.map(Into::into),
    })
}

#[tokio::test]
async fn a_turn_is_condensed_into_records_and_the_next_turn_appends() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut rig = rig_with(OpenMode::Fresh, vec![], Some(tmp.path().to_path_buf()));
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut a = rig.submit("a", None).await;
    assert_eq!(agent.call().await, Call::Send("a".into()));
    agent.say(DriverEvent::Thought("hm".into()));
    agent.say(DriverEvent::Thought("m".into()));
    agent.say(DriverEvent::Text("hel".into()));
    agent.say(DriverEvent::Text("lo".into()));
    agent.say(tool("pending", Some("ls"), None));
    agent.say(tool("completed", None, Some("a b")));
    agent.reply("done");
    assert_eq!(result_of(&a.finish().await).0, "hellodone");

    let entries: Vec<Entry> = read(tmp.path(), "native-0")
        .into_iter()
        .map(|r| r.entry)
        .collect();
    assert!(matches!(&entries[0], Entry::Prompt { text, .. } if text == "a"));
    assert_eq!(entries[1], Entry::Thought { text: "hmm".into() });
    assert_eq!(
        entries[2],
        Entry::Text {
            text: "hello".into()
        }
    );
    let Entry::ToolCall(call) = &entries[3] else {
        panic!("{entries:#?}")
    };
    assert_eq!(
        (
            call.status.as_str(),
            call.input.as_deref(),
            call.output.as_deref()
        ),
        ("completed", Some("ls"), Some("a b")),
        "one record per tool call, final status, input and output kept"
    );
    assert_eq!(
        entries[4],
        Entry::Text {
            text: "done".into()
        }
    );
    assert!(matches!(&entries[5], Entry::Result(r) if r.turns == 1));
    assert_eq!(entries.len(), 6);

    // Following from here sees only what comes next; the next turn is appended.
    let mut follow = rig.handle.follow().await.expect("live");
    let mut b = rig.submit("b", None).await;
    assert_eq!(agent.call().await, Call::Send("b".into()));
    agent.reply("B");
    b.finish().await;
    let all = read(tmp.path(), "native-0");
    assert_eq!(all.len(), 9);
    assert_eq!(all[6].request, "r-b");
    let first = follow.rx.recv().await.expect("a record");
    assert_eq!(first, all[6], "a follower gets the records as written");
    assert_eq!(
        crate::transcript::read(follow.path.as_deref().expect("path"), Some(follow.len))
            .expect("read")
            .len(),
        6,
        "the length it was given covers exactly the earlier records"
    );
}

#[tokio::test]
async fn a_write_failure_is_said_once_and_the_turns_succeed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let blocked = tmp.path().join("transcripts");
    std::fs::write(&blocked, "a file where the directory should be").expect("write");
    let mut rig = rig_with(OpenMode::Fresh, vec![], Some(blocked));
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    for (n, text) in ["a", "b"].into_iter().enumerate() {
        let mut caller = rig.submit(text, None).await;
        assert_eq!(agent.call().await, Call::Send(text.into()));
        agent.reply("ok");
        let events = caller.finish().await;
        assert_eq!(result_of(&events).0, "ok");
        let want = if n == 0 {
            vec![StatusKind::Transcript]
        } else {
            vec![]
        };
        assert_eq!(statuses(&events), want);
    }
}

#[tokio::test]
async fn a_turn_records_a_prefix_of_its_text_and_says_how_much_it_left_out() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut rig = rig_with(OpenMode::Fresh, vec![], Some(tmp.path().to_path_buf()));
    let _ups = take_ups(&mut rig);
    let mut agent = rig.remote().await;
    let mut a = rig.submit("a", None).await;
    assert_eq!(agent.call().await, Call::Send("a".into()));
    // Three 4 MiB deltas: two fit the 8 MiB a turn records, the third and all after it
    // (even a short one that would fit) are left out, so the record is a prefix.
    let piece = "x".repeat(4 * 1024 * 1024);
    for _ in 0..3 {
        agent.say(DriverEvent::Text(piece.clone()));
    }
    agent.say(DriverEvent::Text("tail".into()));
    agent.reply("");
    a.finish().await;

    let entries: Vec<Entry> = read(tmp.path(), "native-0")
        .into_iter()
        .map(|r| r.entry)
        .collect();
    let recorded: usize = entries
        .iter()
        .map(|e| match e {
            Entry::Text { text } => text.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(recorded, 2 * piece.len());
    let notes: Vec<&str> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Status {
                kind: StatusKind::Transcript,
                message,
            } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    let left_out = piece.len() + "tail".len();
    assert!(
        matches!(&notes[..], [m] if m.contains(&format!("last {left_out} bytes"))),
        "{notes:?}"
    );
    assert!(matches!(entries.last(), Some(Entry::Result(_))));
}
