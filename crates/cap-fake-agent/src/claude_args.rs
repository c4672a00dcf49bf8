//! Claude Code's command line, as the fake accepts and refuses it.

const PERMISSION_MODES: &[&str] = &[
    "acceptEdits",
    "auto",
    "bypassPermissions",
    "default",
    "dontAsk",
    "plan",
];

/// Parsed command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ClaudeArgs {
    pub session_id: Option<String>,
    pub resume: Option<String>,
    pub continue_: bool,
    pub fork_session: bool,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    pub output_format: Option<String>,
    pub verbose: bool,
    pub include_partial_messages: bool,
    pub permission_prompt_tool: Option<String>,
}

/// Options taking a value that we accept (most are ignored).
const VALUE_FLAGS: &[&str] = &[
    "--input-format",
    "--output-format",
    "--permission-mode",
    "--model",
    "--session-id",
    "--resume",
    "-r",
    "--allowedTools",
    "--allowed-tools",
    "--disallowedTools",
    "--disallowed-tools",
    "--append-system-prompt",
    "--system-prompt",
    "--mcp-config",
    "--max-turns",
    "--add-dir",
    "--settings",
    "--setting-sources",
    "--fallback-model",
    "--permission-prompt-tool",
    "--agents",
    "--tools",
];

/// Options without a value that we accept (most are ignored).
const BOOL_FLAGS: &[&str] = &[
    "-p",
    "--print",
    "--verbose",
    "--continue",
    "-c",
    "--fork-session",
    "--include-partial-messages",
    "--replay-user-messages",
    "--bare",
    "--dangerously-skip-permissions",
    "--allow-dangerously-skip-permissions",
    "--strict-mcp-config",
    "--debug",
];

/// Parses claude's argv (without argv[0]); errors are the message real claude would print.
pub fn parse_args(args: &[String]) -> Result<ClaudeArgs, String> {
    let mut a = ClaudeArgs::default();
    let mut i = 0;
    while i < args.len() {
        let raw = &args[i];
        i += 1;
        let (flag, inline) = match raw.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (raw.clone(), None),
        };
        if VALUE_FLAGS.contains(&flag.as_str()) {
            let value = match inline {
                Some(v) => v,
                None => {
                    let Some(v) = args.get(i) else {
                        return Err(format!("error: option '{flag} <value>' argument missing"));
                    };
                    i += 1;
                    v.clone()
                }
            };
            match flag.as_str() {
                "--session-id" => a.session_id = Some(value),
                "--resume" | "-r" => a.resume = Some(value),
                "--model" => a.model = Some(value),
                "--output-format" => a.output_format = Some(value),
                "--permission-mode" => {
                    if !PERMISSION_MODES.contains(&value.as_str()) {
                        return Err(format!(
                            "error: option '--permission-mode <mode>' argument '{value}' is invalid. Allowed choices are {}.",
                            PERMISSION_MODES.join(", ")
                        ));
                    }
                    a.permission_mode = Some(value)
                }
                "--permission-prompt-tool" => a.permission_prompt_tool = Some(value),
                _ => {}
            }
        } else if BOOL_FLAGS.contains(&flag.as_str()) {
            match flag.as_str() {
                "--verbose" => a.verbose = true,
                "--continue" | "-c" => a.continue_ = true,
                "--fork-session" => a.fork_session = true,
                "--include-partial-messages" => a.include_partial_messages = true,
                _ => {}
            }
        } else if flag.starts_with('-') && flag.len() > 1 {
            return Err(format!("error: unknown option '{flag}'"));
        }
        // Positional arguments (a prompt) are ignored: input comes from stdin.
    }
    if a.output_format.as_deref() == Some("stream-json") && !a.verbose {
        return Err(
            "Error: When using --print, --output-format=stream-json requires --verbose".to_string(),
        );
    }
    if let Some(id) = &a.session_id
        && uuid::Uuid::parse_str(id).is_err()
    {
        return Err("Error: Invalid session ID. Must be a valid UUID.".to_string());
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_real_flags() {
        let a = parse_args(&s(&[
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-mode",
            "bypassPermissions",
            "--model=opus",
            "--resume",
            "3b1f0000-0000-4000-8000-000000000000",
        ]))
        .expect("parse");
        assert_eq!(a.model.as_deref(), Some("opus"));
        assert_eq!(
            a.resume.as_deref(),
            Some("3b1f0000-0000-4000-8000-000000000000")
        );
        assert_eq!(a.permission_mode.as_deref(), Some("bypassPermissions"));
    }

    #[test]
    fn rejects_bad_flags() {
        assert!(
            parse_args(&s(&["--bogus-flag"]))
                .unwrap_err()
                .contains("unknown option '--bogus-flag'")
        );
        assert!(
            parse_args(&s(&["--output-format", "stream-json"]))
                .unwrap_err()
                .contains("requires --verbose")
        );
        assert!(parse_args(&s(&["--permission-mode", "yolo"])).is_err());
        assert!(parse_args(&s(&["--session-id", "not-a-uuid"])).is_err());
        assert!(parse_args(&s(&["--model"])).is_err());
    }
}
