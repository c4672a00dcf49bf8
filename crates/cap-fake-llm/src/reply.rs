//! Deciding the answer: the same for every API format, so that a test can switch
//! agents without changing what it expects.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::conversation::{self, Summary, UserMessage};
use crate::schema;
use crate::tools::{self, Action, Call, Offered};

/// Magic word: stream slowly so a client can cancel mid-turn.
pub const SLOW_WORD: &str = "SLOW";
/// Magic word: answer with HTTP 500 in the API's own error format.
pub const FAIL_WORD: &str = "FAIL500";
/// Chunks of a `SLOW` stream, and the gap between them (about 10 s in all).
const SLOW_CHUNKS: usize = 20;
const SLOW_GAP: Duration = Duration::from_millis(500);
/// Chunks of a normal stream: at least three, so clients see real deltas.
const FAST_CHUNKS: usize = 3;

/// What every API format boils down to once parsed.
#[derive(Debug, Clone, Default)]
pub struct ParsedRequest {
    pub model: String,
    pub stream: bool,
    pub user_messages: Vec<UserMessage>,
    /// The JSON schema the answer must satisfy, if the request asked for one.
    pub schema: Option<Value>,
    /// The tools the agent offers the model.
    pub tools: Vec<Offered>,
    /// The text of the tool result the request ends with, if it ends with one.
    pub tool_result: Option<String>,
}

/// The answer to one request, before it is dressed in an API's wire format.
#[derive(Debug, Clone)]
pub struct Plan {
    pub summary: Summary,
    /// The full assistant text: an echo, a schema instance serialised as JSON, or the
    /// `TOOL RESULT: …` answer to a tool result (for a tool call, a note of it for the log).
    pub text: String,
    /// The tool call to answer with instead of text (`RUNCMD`, `WRITEFILE`).
    pub tool_call: Option<Call>,
    pub json_schema: bool,
    pub slow: bool,
    pub fail: bool,
    pub input_tokens: u64,
}

impl Plan {
    /// `body_len` only feeds the made-up token counts.
    pub fn new(request: &ParsedRequest, body_len: usize) -> Self {
        let summary = conversation::summarize(&request.user_messages);
        let last = summary.last_user_text.as_str();
        let fail = last.contains(FAIL_WORD);
        // A tool result is answered before the magic words are looked at again: the user's
        // last text still holds them, and the agent must not loop calling the tool.
        let in_prompt = schema::in_prompt(last);
        let tool_call = match (&request.schema, &request.tool_result, &in_prompt) {
            (None, None, None) => Action::find(last).and_then(|a| tools::call(&a, &request.tools)),
            _ => None,
        };
        // WRONGJSON breaks the turn's own answer only: a schema in the prompt, or an API
        // schema on a request that offers tools (an agent's turn, as with Codex's
        // outputSchema). Side requests (titles, Gemini's router) offer none and stay valid:
        // a broken router answer makes Gemini CLI hang.
        let spoil = last.contains(schema::WRONG_WORD);
        let spoil_api = spoil && !request.tools.is_empty();
        let answer = |schema: &Value, spoil: bool| {
            if spoil {
                schema::wrong(schema)
            } else {
                schema::instance(schema)
            }
        };
        let (text, json_schema) = match (&request.schema, &request.tool_result, &tool_call) {
            (Some(schema), _, _) => (answer(schema, spoil_api).to_string(), true),
            (None, Some(result), _) => (tools::result_reply(result), false),
            // Asked in the prompt: answered as instructed, in a fenced block.
            (None, None, None) if in_prompt.is_some() => {
                let value = in_prompt
                    .as_ref()
                    .map(|s| answer(s, spoil))
                    .unwrap_or_default();
                (format!("```json\n{value}\n```"), true)
            }
            (None, None, Some(call)) => (
                format!("TOOL CALL {}: {}", call.name, call.input.as_text()),
                false,
            ),
            (None, None, None) => (echo(&summary), false),
        };
        // Structured side requests (titles, routers) stay fast: slowing them would
        // only delay the turn the test wants to cancel, not make it cancellable.
        let slow = request.stream && !json_schema && last.contains(SLOW_WORD);
        Self {
            summary,
            text,
            tool_call,
            json_schema,
            slow,
            fail,
            input_tokens: tokens(body_len),
        }
    }

    pub fn output_tokens(&self) -> u64 {
        tokens(self.text.len())
    }

    /// The text split into the pieces a stream sends, in order.
    pub fn chunks(&self) -> Vec<String> {
        split_text(
            &self.text,
            if self.slow { SLOW_CHUNKS } else { FAST_CHUNKS },
        )
    }

    /// The pause before chunk `index`: none before the first, so a client sees the
    /// turn start at once even when the rest is slow.
    pub fn delay_before(&self, index: usize) -> Duration {
        if self.slow && index > 0 {
            SLOW_GAP
        } else {
            Duration::ZERO
        }
    }

    /// Which magic word applied, for the log.
    pub fn magic(&self) -> Option<&'static str> {
        if self.fail {
            Some(FAIL_WORD)
        } else if self.slow {
            Some(SLOW_WORD)
        } else if let Some(call) = &self.tool_call {
            Some(call.word)
        } else if self.text.starts_with(tools::RESULT_PREFIX) {
            Some("TOOL_RESULT")
        } else {
            None
        }
    }
}

/// `ECHO[turns=N]: <last user text>`: N growing turn by turn proves that the agent
/// sent the conversation's history.
pub fn echo(summary: &Summary) -> String {
    format!(
        "ECHO[turns={}]: {}",
        summary.user_turns, summary.last_user_text
    )
}

/// Splits `text` into `n` pieces of nearly equal length on char boundaries; fewer
/// when the text has fewer chars, because some clients (Gemini CLI) reject a chunk
/// whose text is empty.
pub fn split_text(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.min(chars.len()).max(1);
    (0..n)
        .map(|i| {
            let start = chars.len() * i / n;
            let end = chars.len() * (i + 1) / n;
            chars[start..end].iter().collect()
        })
        .collect()
}

/// A rough token count, about four bytes per token, never zero.
fn tokens(bytes: usize) -> u64 {
    (bytes as u64 / 4).max(1)
}

/// A fresh id like `msg_fake_18c3f0a2b4d1e000_7`. The per-process part keeps ids
/// unique across restarts of the fake, which matters because agents persist them
/// in transcripts that a resumed session sends back.
pub fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static EPOCH: OnceLock<u128> = OnceLock::new();
    let epoch = EPOCH.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_fake_{epoch:x}_{n}")
}

/// Seconds since the Unix epoch, for `created` fields.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(texts: &[&str], stream: bool) -> ParsedRequest {
        ParsedRequest {
            model: "m".into(),
            stream,
            user_messages: texts.iter().map(|t| UserMessage::new([*t])).collect(),
            ..ParsedRequest::default()
        }
    }

    #[test]
    fn echo_counts_turns() {
        let plan = Plan::new(&request(&["one", "two"], true), 100);
        assert_eq!(plan.text, "ECHO[turns=2]: two");
        assert!(!plan.slow && !plan.fail && !plan.json_schema);
        assert_eq!(plan.chunks().concat(), plan.text);
        assert_eq!(plan.chunks().len(), 3);
    }

    #[test]
    fn magic_words_look_at_the_last_text_only() {
        let plan = Plan::new(&request(&["FAIL500 SLOW", "fine"], true), 1);
        assert!(!plan.fail && !plan.slow);
        let plan = Plan::new(&request(&["SLOW please"], true), 1);
        assert!(plan.slow);
        assert_eq!(plan.chunks().len(), 20);
        assert_eq!(plan.delay_before(0), Duration::ZERO);
        assert_eq!(plan.delay_before(1), SLOW_GAP);
        // Not streaming: nothing to slow down.
        assert!(!Plan::new(&request(&["SLOW"], false), 1).slow);
        assert!(Plan::new(&request(&["x FAIL500"], false), 1).fail);
    }

    #[test]
    fn schema_requests_get_an_instance() {
        let mut req = request(&["SLOW title please"], true);
        req.schema = Some(
            json!({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}),
        );
        let plan = Plan::new(&req, 1);
        assert_eq!(plan.text, r#"{"title":"fake"}"#);
        assert!(plan.json_schema && !plan.slow);
    }

    #[test]
    fn schemas_in_the_prompt_get_a_fenced_instance_or_a_wrong_one() {
        let ask = "classify\nJSON Schema:\n```json\n{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"}},\"required\":[\"n\"]}\n```";
        let plan = Plan::new(&request(&[ask], true), 1);
        assert_eq!(plan.text, "```json\n{\"n\":1}\n```");
        assert!(plan.json_schema);
        let wrong = format!("WRONGJSON {ask}");
        let plan = Plan::new(&request(&[&wrong], true), 1);
        assert_eq!(plan.text, "```json\n\"not what the schema asks for\"\n```");
        // An API-level schema breaks the same way on a turn (tools offered), never on a
        // side request.
        let mut req = request(&["WRONGJSON please"], true);
        req.schema = Some(json!({"type": "string"}));
        assert_eq!(Plan::new(&req, 1).text, "\"fake\"");
        req.tools = vec![Offered::function("shell")];
        assert_eq!(Plan::new(&req, 1).text, "0");
    }

    #[test]
    fn magic_tool_words_call_an_offered_tool_and_results_are_quoted() {
        let mut req = request(&["RUNCMD touch made_by_cmd"], true);
        // Nothing offered (a title request): the usual echo.
        let plan = Plan::new(&req, 1);
        assert!(plan.tool_call.is_none());
        assert!(plan.text.starts_with("ECHO"));
        req.tools = vec![Offered::function("Bash")];
        let plan = Plan::new(&req, 1);
        assert_eq!(
            plan.tool_call.as_ref().map(|c| c.name.as_str()),
            Some("Bash")
        );
        assert_eq!(plan.magic(), Some("RUNCMD"));
        // The tool's result comes back: answered in text, never a second call.
        req.tool_result = Some("touch: cannot touch: denied".into());
        let plan = Plan::new(&req, 1);
        assert!(plan.tool_call.is_none());
        assert_eq!(plan.text, "TOOL RESULT: touch: cannot touch: denied");
        assert_eq!(plan.magic(), Some("TOOL_RESULT"));
    }

    #[test]
    fn split_keeps_every_char() {
        assert_eq!(split_text("abcdefg", 3), ["ab", "cd", "efg"]);
        assert_eq!(split_text("é✓", 3), ["é", "✓"]);
        assert_eq!(split_text("", 2), [""]);
    }

    #[test]
    fn ids_are_unique() {
        assert_ne!(new_id("msg"), new_id("msg"));
        assert!(new_id("resp").starts_with("resp_fake_"));
    }
}
