//! `--handoff`: the context block a new agent starts with when a key switches to it, made
//! from the key's recorded turns with its previous agent.

use cap_proto::transcript::{Entry, Record, last_turns};

/// How many of the previous agent's turns are handed over.
pub const TURNS: usize = 6;

/// The most text handed over; the oldest part goes first when there is more.
pub const MAX_CHARS: usize = 12_000;

/// The context block for `to`, from `from`'s records, or `None` when there is nothing to
/// hand over.
pub fn context(from: &str, to: &str, records: Vec<Record>) -> Option<String> {
    let mut lines = Vec::new();
    for r in last_turns(records, TURNS) {
        match r.entry {
            Entry::Prompt { text, .. } => lines.push(format!("User: {}", text.trim())),
            Entry::Text { text } if !text.trim().is_empty() => {
                lines.push(format!("{from}: {}", text.trim()))
            }
            Entry::ToolCall(t) => lines.push(format!(
                "{from} used {} ({}){}",
                t.name,
                t.status,
                t.input.map(|i| format!(": {i}")).unwrap_or_default()
            )),
            _ => {}
        }
    }
    if lines.is_empty() {
        return None;
    }
    let mut body = lines.join("\n");
    if body.chars().count() > MAX_CHARS {
        let skip = body.chars().count() - MAX_CHARS;
        body = format!("[…]{}", body.chars().skip(skip).collect::<String>());
    }
    Some(format!(
        "[Handed over by cap: this task was worked on with {from} until now; you are {to}. Its last turns follow.]\n{body}\n[End of the handover. The user's new request follows.]"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(request: &str, entry: Entry) -> Record {
        Record::now("s", request, "claude", entry)
    }

    #[test]
    fn the_block_says_who_did_what_and_keeps_the_latest_turns_within_the_limit() {
        let mut records = Vec::new();
        for n in 0..10 {
            let r = format!("r{n}");
            records.push(rec(
                &r,
                Entry::Prompt {
                    text: format!("ask {n}"),
                    preamble: None,
                    key: None,
                },
            ));
            records.push(rec(
                &r,
                Entry::Text {
                    text: format!("answer {n}"),
                },
            ));
        }
        let block = context("claude", "codex", records).expect("a block");
        assert!(block.contains("worked on with claude") && block.contains("you are codex"));
        assert!(block.contains("User: ask 9\nclaude: answer 9"), "{block}");
        assert!(
            !block.contains("ask 3"),
            "only the last {TURNS} turns: {block}"
        );
        let huge = vec![rec(
            "r",
            Entry::Text {
                text: "x".repeat(MAX_CHARS * 2),
            },
        )];
        let block = context("claude", "codex", huge).expect("a block");
        assert!(block.chars().count() < MAX_CHARS + 300);
        assert!(context("claude", "codex", Vec::new()).is_none());
    }
}
