//! Format-independent view of a conversation: which user text is "real", how many
//! user turns the request carries, and what the last thing the user said was.
//!
//! Each API module (anthropic, openai, gemini) only has to turn its own message
//! shapes into [`UserMessage`]s, leaving tool results out; everything that decides
//! the `ECHO[turns=N]` answer lives here so that the three formats cannot drift apart.

use std::collections::BTreeSet;

/// The text blocks of one user-role message, in order. Tool results are left out by
/// the extractors, so a message that only carried tool results has no texts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMessage {
    pub texts: Vec<String>,
}

impl UserMessage {
    pub fn new<I, S>(texts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            texts: texts.into_iter().map(Into::into).collect(),
        }
    }
}

/// What the fake needs to know about the user side of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Distinct `TURN<digits>` markers if there are any, else the real user messages.
    pub user_turns: usize,
    /// The real text of each real user message (wrapper blocks removed), for the log.
    pub user_texts: Vec<String>,
    /// The last real user text block, trimmed; empty if there is none.
    pub last_user_text: String,
}

/// Wrappers that agents inject into user-role messages. They are not something a
/// person typed, so they must not count as turns (that would make `turns=N` depend
/// on agent version details instead of on the conversation). Each entry is the
/// opening marker and the closing marker that ends the wrapper; `None` means the
/// wrapper runs to the end of the text block.
const WRAPPERS: &[(&str, Option<&str>)] = &[
    // Claude Code
    ("<system-reminder>", Some("</system-reminder>")),
    ("<local-command-caveat>", Some("</local-command-caveat>")),
    ("<command-name>", Some("</command-name>")),
    ("<command-message>", Some("</command-message>")),
    ("<command-args>", Some("</command-args>")),
    ("<local-command-stdout>", Some("</local-command-stdout>")),
    // Codex
    ("<environment_context>", Some("</environment_context>")),
    ("<turn_aborted>", Some("</turn_aborted>")),
    (
        "<permissions instructions>",
        Some("</permissions instructions>"),
    ),
    ("<user_instructions>", Some("</user_instructions>")),
    ("# AGENTS.md", Some("</INSTRUCTIONS>")),
    // Gemini CLI
    ("<session_context>", Some("</session_context>")),
];

/// Removes any wrapper blocks at the start of `text` and returns what is left,
/// trimmed. A wrapper without its closing marker swallows the rest of the block,
/// because a half-closed wrapper is still agent-generated text, not user input.
pub fn strip_leading_wrappers(text: &str) -> &str {
    let mut rest = text.trim();
    'outer: loop {
        for (open, close) in WRAPPERS {
            if !rest.starts_with(open) {
                continue;
            }
            rest = match close.and_then(|close| rest.find(close).map(|at| at + close.len())) {
                Some(end) => rest[end..].trim_start(),
                None => "",
            };
            continue 'outer;
        }
        return rest;
    }
}

/// Distinct `TURN<digits>` tokens in `texts`. Tests put such markers in their
/// prompts because they stay exact however many context messages an agent adds.
/// A marker must not be glued to a preceding letter or digit (`RETURN1` is no marker).
pub fn turn_markers<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for text in texts {
        let bytes = text.as_bytes();
        let mut from = 0;
        while let Some(pos) = text[from..].find("TURN") {
            let start = from + pos;
            let digits_start = start + 4;
            let digits = bytes[digits_start..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let glued = start > 0 && bytes[start - 1].is_ascii_alphanumeric();
            if digits > 0 && !glued {
                found.insert(text[start..digits_start + digits].to_string());
            }
            from = digits_start;
        }
    }
    found
}

/// Summarises the user side of a request; see [`Summary`] for the rules.
pub fn summarize(messages: &[UserMessage]) -> Summary {
    let mut user_texts = Vec::new();
    let mut last_user_text = String::new();
    for message in messages {
        let real: Vec<&str> = message
            .texts
            .iter()
            .map(|t| strip_leading_wrappers(t))
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(last) = real.last() {
            last_user_text = (*last).to_string();
            user_texts.push(real.join("\n"));
        }
    }
    // Markers are looked for in all user text, wrappers included: they are distinct
    // tokens, so an agent quoting a prompt back in a reminder cannot inflate the count.
    let markers = turn_markers(
        messages
            .iter()
            .flat_map(|m| m.texts.iter().map(String::as_str)),
    );
    let user_turns = if markers.is_empty() {
        user_texts.len()
    } else {
        markers.len()
    };
    Summary {
        user_turns,
        user_texts,
        last_user_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_closed_and_unclosed_wrappers() {
        assert_eq!(
            strip_leading_wrappers("<system-reminder>\nx\n</system-reminder>\n  hello "),
            "hello"
        );
        assert_eq!(
            strip_leading_wrappers("<environment_context><cwd>/</cwd></environment_context>"),
            ""
        );
        assert_eq!(strip_leading_wrappers("<turn_aborted>never closed"), "");
        assert_eq!(
            strip_leading_wrappers(
                "# AGENTS.md instructions for /w\n\n<INSTRUCTIONS>\nbe nice\n</INSTRUCTIONS>"
            ),
            ""
        );
        assert_eq!(
            strip_leading_wrappers(
                "<session_context>a</session_context><system-reminder>b</system-reminder>hi"
            ),
            "hi"
        );
        assert_eq!(
            strip_leading_wrappers("hello <system-reminder>x</system-reminder>"),
            "hello <system-reminder>x</system-reminder>"
        );
    }

    #[test]
    fn markers_are_distinct_and_not_glued() {
        let found = turn_markers(["TURN1 a TURN2", "again TURN1", "RETURN3 TURN x TURN04"]);
        let found: Vec<_> = found.into_iter().collect();
        assert_eq!(found, ["TURN04", "TURN1", "TURN2"]);
    }

    #[test]
    fn counts_real_messages_without_markers() {
        let messages = [
            UserMessage::new(["<system-reminder>ctx</system-reminder>", "first"]),
            UserMessage::new(Vec::<String>::new()), // tool results only
            UserMessage::new(["<environment_context>x</environment_context>"]),
            UserMessage::new(["second ", "  third  "]),
        ];
        let summary = summarize(&messages);
        assert_eq!(summary.user_turns, 2);
        assert_eq!(summary.user_texts, ["first", "second\nthird"]);
        assert_eq!(summary.last_user_text, "third");
    }

    #[test]
    fn markers_win_over_message_count() {
        let messages = [
            UserMessage::new(["TURN1 hello"]),
            UserMessage::new(["TURN2 again"]),
            UserMessage::new(["TURN2 again, merged with an interrupt note"]),
        ];
        assert_eq!(summarize(&messages).user_turns, 2);
    }

    #[test]
    fn empty_conversation() {
        assert_eq!(summarize(&[]), Summary::default());
    }
}
