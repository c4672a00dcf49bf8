//! Tool calls on request: `RUNCMD <command>`, `WRITEFILE <path>` and `READFILE <path>` in the
//! user's last message make the fake answer with a call of the agent's own shell, file-write
//! or file-read tool, in the shape that agent declared; the next request, which carries the
//! tool's result, is answered `TOOL RESULT: <the first 200 chars of it>`, so a test can read
//! whether the tool ran or was refused.
//!
//! `MCPCALL <tool> <JSON arguments>` calls the named tool (an MCP server's, such as Claude
//! Code's `mcp__cap__prompt`) with those arguments, when the request offers it.
//!
//! The tool is picked from the `tools` the request offers, by name: an agent that offers no
//! tool for the action (a title or summary side request) gets the usual echo.

use serde_json::{Value, json};

/// Magic word: call the agent's shell tool with the rest of the line as the command.
pub const RUNCMD_WORD: &str = "RUNCMD";
/// Magic word: call the agent's file-write tool on the path that follows.
pub const WRITEFILE_WORD: &str = "WRITEFILE";
/// Magic word: call the agent's file-read tool on the path that follows.
pub const READFILE_WORD: &str = "READFILE";
/// Magic word: call the named tool with the JSON arguments that follow it.
pub const MCPCALL_WORD: &str = "MCPCALL";
/// What a `WRITEFILE` call writes (one line, so patch formats hold it as is).
pub const WRITTEN: &str = "made by cap-fake-llm";
/// How a reply to a tool result starts.
pub const RESULT_PREFIX: &str = "TOOL RESULT: ";
/// How much of a tool result the reply quotes.
const RESULT_CHARS: usize = 200;

/// What the person asked the agent to do with a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Run(String),
    Write(String),
    Read(String),
    /// Call the tool with this exact name with these arguments.
    Named {
        tool: String,
        args: Value,
    },
}

impl Action {
    /// The action a user text asks for: the first magic word that has an argument.
    pub fn find(text: &str) -> Option<Action> {
        let after = |word: &str| {
            let at = text.find(word)?;
            let rest = text[at + word.len()..].lines().next().unwrap_or("").trim();
            (!rest.is_empty()).then(|| rest.to_string())
        };
        let path = |rest: String| {
            rest.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        };
        if let Some(rest) = after(MCPCALL_WORD) {
            let (tool, args) = rest
                .split_once(char::is_whitespace)
                .unwrap_or((&rest, "{}"));
            let args = serde_json::from_str(args.trim()).ok()?;
            Some(Action::Named {
                tool: tool.to_string(),
                args,
            })
        } else if let Some(command) = after(RUNCMD_WORD) {
            Some(Action::Run(command))
        } else if let Some(rest) = after(WRITEFILE_WORD) {
            Some(Action::Write(path(rest)))
        } else {
            after(READFILE_WORD).map(|rest| Action::Read(path(rest)))
        }
    }
}

/// A tool the request offers: its name, and whether it takes free text (a Responses
/// `custom` tool such as Codex's `apply_patch`) rather than JSON arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub name: String,
    pub freeform: bool,
}

impl Offered {
    pub fn function(name: &str) -> Offered {
        Offered {
            name: name.to_string(),
            freeform: false,
        }
    }
}

/// What a tool call carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// JSON arguments (every API's function calls).
    Json(Value),
    /// Free text (a Responses `custom` tool call).
    Freeform(String),
}

impl Input {
    /// The input as the string an API sends for arguments.
    pub fn as_text(&self) -> String {
        match self {
            Input::Json(v) => v.to_string(),
            Input::Freeform(s) => s.clone(),
        }
    }
}

/// One tool call the fake makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub input: Input,
    /// The magic word that asked for it, for the log.
    pub word: &'static str,
}

/// Shell tools by agent: Claude Code (`Bash`), Gemini CLI (`run_shell_command`), OpenCode
/// (`bash`), Codex (`exec_command`, older `shell_command` and `shell`).
fn run(name: &str, command: &str) -> Option<Value> {
    Some(match name {
        "Bash" | "run_shell_command" => {
            json!({"command": command, "description": "Run the command the test asked for"})
        }
        "bash" | "shell_command" => json!({"command": command}),
        "exec_command" => json!({"cmd": command}),
        "shell" => json!({"command": ["bash", "-lc", command]}),
        _ => return None,
    })
}

/// File-write tools by agent: Claude Code (`Write`), Gemini CLI (`write_file`), OpenCode
/// (`write`), Codex (`apply_patch`).
fn write(tool: &Offered, path: &str) -> Option<Input> {
    Some(match tool.name.as_str() {
        "Write" | "write_file" => Input::Json(json!({"file_path": path, "content": WRITTEN})),
        "write" => Input::Json(json!({"filePath": path, "content": WRITTEN})),
        "apply_patch" if tool.freeform => Input::Freeform(patch(path)),
        "apply_patch" => Input::Json(json!({"input": patch(path)})),
        _ => return None,
    })
}

/// File-read tools by agent: Claude Code (`Read`), Gemini CLI (`read_file`), OpenCode
/// (`read`). Codex has none: it reads with commands.
fn read(name: &str, path: &str) -> Option<Value> {
    Some(match name {
        "Read" | "read_file" => json!({"file_path": path}),
        "read" => json!({"filePath": path}),
        _ => return None,
    })
}

/// A Codex patch that adds `path` holding [`WRITTEN`].
fn patch(path: &str) -> String {
    format!("*** Begin Patch\n*** Add File: {path}\n+{WRITTEN}\n*** End Patch\n")
}

/// The call that performs `action` with one of the `offered` tools, if any fits.
pub fn call(action: &Action, offered: &[Offered]) -> Option<Call> {
    offered.iter().find_map(|tool| {
        let (input, word) = match action {
            Action::Run(command) => (Input::Json(run(&tool.name, command)?), RUNCMD_WORD),
            Action::Write(path) => (write(tool, path)?, WRITEFILE_WORD),
            Action::Read(path) => (Input::Json(read(&tool.name, path)?), READFILE_WORD),
            Action::Named { tool: name, args } if *name == tool.name => {
                (Input::Json(args.clone()), MCPCALL_WORD)
            }
            Action::Named { .. } => return None,
        };
        Some(Call {
            name: tool.name.clone(),
            input,
            word,
        })
    })
}

/// One step of a conversation, as far as tool results matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The person said something (wrapper blocks agents inject are not that).
    User(String),
    /// A tool's result came back.
    Result(String),
    /// The assistant answered in text.
    Answer,
}

/// The tool result the assistant still has to answer: the last one, unless an answer in text
/// or a new prompt came after it. OpenCode repeats the prompt after a refused tool call, so
/// a repetition of the prompt that led to the call keeps the result pending; codex-acp ends
/// the turn at a refusal, so the next, different prompt drops it.
pub fn pending_result(steps: impl IntoIterator<Item = Step>) -> Option<String> {
    let mut pending: Option<(String, String)> = None;
    let mut prompt = String::new();
    for step in steps {
        match step {
            Step::User(text) => {
                let text = crate::conversation::strip_leading_wrappers(&text).to_string();
                if text.is_empty() {
                    continue;
                }
                if pending.as_ref().is_some_and(|(_, asked)| *asked != text) {
                    pending = None;
                }
                prompt = text;
            }
            Step::Result(result) => pending = Some((result, prompt.clone())),
            Step::Answer => pending = None,
        }
    }
    pending.map(|(result, _)| result)
}

/// The reply to a tool result: its first 200 chars on one line.
pub fn result_reply(output: &str) -> String {
    let flat: String = output
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(RESULT_CHARS)
        .collect();
    let flat = if flat.is_empty() { "(empty)" } else { &flat };
    format!("{RESULT_PREFIX}{flat}")
}

/// The text of a tool result in any of the shapes APIs use: a string, a list of text parts,
/// or an object (Gemini's `{output}` or `{error}`), which is shown as JSON otherwise.
pub fn result_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                other => other["text"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| result_text(other)),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Object(o) => ["output", "error", "content", "text"]
            .iter()
            .find_map(|k| o.get(*k).filter(|v| !v.is_null()))
            .map(result_text)
            .unwrap_or_else(|| value.to_string()),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_words_take_the_rest_of_their_line() {
        assert_eq!(
            Action::find("please RUNCMD touch a && echo ok\nthanks"),
            Some(Action::Run("touch a && echo ok".into()))
        );
        assert_eq!(
            Action::find("WRITEFILE /w/inside.txt now"),
            Some(Action::Write("/w/inside.txt".into()))
        );
        assert_eq!(
            Action::find("READFILE /w/secret.txt"),
            Some(Action::Read("/w/secret.txt".into()))
        );
        assert_eq!(
            Action::find("MCPCALL mcp__cap__prompt {\"agent\": \"x\"}"),
            Some(Action::Named {
                tool: "mcp__cap__prompt".into(),
                args: json!({"agent": "x"})
            })
        );
        assert_eq!(Action::find("MCPCALL t not json"), None);
        let named = Action::find("MCPCALL mcp__cap__sessions").unwrap();
        let offered = [
            Offered::function("Bash"),
            Offered::function("mcp__cap__sessions"),
        ];
        let c = call(&named, &offered).expect("offered");
        assert_eq!(c.name, "mcp__cap__sessions");
        assert_eq!(c.input, Input::Json(json!({})));
        assert!(call(&named, &offered[..1]).is_none());
        assert_eq!(Action::find("RUNCMD   "), None);
        assert_eq!(Action::find("hello"), None);
    }

    #[test]
    fn each_agent_gets_its_own_tool_shape() {
        let run = Action::Run("touch x".into());
        let offered = [Offered::function("Read"), Offered::function("Bash")];
        let c = call(&run, &offered).expect("Bash");
        assert_eq!(c.name, "Bash");
        assert_eq!(
            c.input,
            Input::Json(
                json!({"command": "touch x", "description": "Run the command the test asked for"})
            )
        );
        let c = call(&run, &[Offered::function("exec_command")]).expect("codex");
        assert_eq!(c.input, Input::Json(json!({"cmd": "touch x"})));
        let write = Action::Write("/w/a.txt".into());
        let patch = Offered {
            name: "apply_patch".into(),
            freeform: true,
        };
        let c = call(&write, &[patch]).expect("apply_patch");
        assert_eq!(
            c.input,
            Input::Freeform(
                "*** Begin Patch\n*** Add File: /w/a.txt\n+made by cap-fake-llm\n*** End Patch\n"
                    .into()
            )
        );
        let c = call(&write, &[Offered::function("write")]).expect("opencode");
        assert_eq!(
            c.input.as_text(),
            json!({"filePath": "/w/a.txt", "content": WRITTEN}).to_string()
        );
        assert_eq!(call(&write, &[Offered::function("Bash")]), None);
        let read = Action::Read("/w/s".into());
        let c = call(&read, &[Offered::function("read_file")]).expect("gemini");
        assert_eq!(c.input, Input::Json(json!({"file_path": "/w/s"})));
        assert_eq!(c.word, READFILE_WORD);
        assert_eq!(call(&read, &[Offered::function("exec_command")]), None);
        assert_eq!(call(&run, &[]), None);
    }

    #[test]
    fn a_result_is_pending_until_answered_or_a_new_prompt_comes() {
        use Step::*;
        let user = |t: &str| User(t.to_string());
        let result = |t: &str| Result(t.to_string());
        assert_eq!(
            pending_result([user("RUNCMD a"), result("ran")]).as_deref(),
            Some("ran")
        );
        // OpenCode repeats the prompt after a refusal.
        assert_eq!(
            pending_result([user("RUNCMD a"), result("no"), user("RUNCMD a")]).as_deref(),
            Some("no")
        );
        let answered = [user("RUNCMD a"), result("ran"), Answer, user("RUNCMD b")];
        assert_eq!(pending_result(answered), None);
        // codex-acp ends the turn at a refusal; the next prompt is new.
        assert_eq!(
            pending_result([user("RUNCMD a"), result("aborted"), user("RUNCMD b")]),
            None
        );
        let reminder = user("<system-reminder>x</system-reminder>");
        assert_eq!(
            pending_result([user("RUNCMD a"), result("ran"), reminder]).as_deref(),
            Some("ran")
        );
    }

    #[test]
    fn results_are_quoted_on_one_line_and_cut() {
        assert_eq!(result_reply("a\n  b\tc"), "TOOL RESULT: a b c");
        assert_eq!(result_reply(""), "TOOL RESULT: (empty)");
        let long = "x".repeat(300);
        assert_eq!(result_reply(&long).len(), RESULT_PREFIX.len() + 200);
        assert_eq!(
            result_text(&json!([{"type": "text", "text": "one"}, "two"])),
            "one\ntwo"
        );
        assert_eq!(result_text(&json!({"error": "denied"})), "denied");
        assert_eq!(result_text(&json!({"x": 1})), r#"{"x":1}"#);
    }
}
