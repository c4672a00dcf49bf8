//! `cap mcp --print-config AGENT`: the snippet that adds cap to an agent's MCP servers.
//!
//! Each agent keeps its MCP servers in its own format. Two details matter beyond the
//! command: Codex hands an MCP server only a short list of environment variables unless told
//! more (`env_vars`), and cap needs `CAP_SESSION` and `CAP_SOCKET` to tell which capd session
//! is asking; and Codex gives a tool call 60 s by default, far less than a turn of another
//! agent may take.

use clap::ValueEnum;

/// The agents whose MCP configuration cap can print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Client {
    Claude,
    Codex,
    Gemini,
    Opencode,
}

/// How long an agent should let one call of cap's tools run, in seconds: a delegated turn
/// is bounded by capd's own prompt timeout (300 s by default), plus room to start the agent.
const TOOL_TIMEOUT_SECS: u64 = 600;

/// The snippet for `client`, running `program` with `args` (`mcp` and its options).
pub fn snippet(client: Client, program: &str, args: &[String]) -> String {
    let quoted_args: Vec<String> = args.iter().map(|a| json(a)).collect();
    let list = quoted_args.join(", ");
    match client {
        Client::Claude => {
            let words: Vec<String> = std::iter::once(program.to_string())
                .chain(args.iter().cloned())
                .map(|w| shell_word(&w))
                .collect();
            format!(
                "# run once (user scope: every project)\nclaude mcp add --scope user cap -- {}\n",
                words.join(" ")
            )
        }
        Client::Codex => format!(
            "# ~/.codex/config.toml\n[mcp_servers.cap]\ncommand = {}\nargs = [{list}]\n\
             # let cap see which capd session is asking, and reach the same capd\n\
             env_vars = [\"CAP_SESSION\", \"CAP_SOCKET\"]\n\
             # another agent's turn can take minutes\n\
             tool_timeout_sec = {TOOL_TIMEOUT_SECS}\n",
            json(program)
        ),
        Client::Gemini => format!(
            "// ~/.gemini/settings.json (merge into the existing object)\n{{\n  \"mcpServers\": {{\n    \"cap\": {{\n      \"command\": {},\n      \"args\": [{list}],\n      \"timeout\": {}\n    }}\n  }}\n}}\n",
            json(program),
            TOOL_TIMEOUT_SECS * 1000
        ),
        Client::Opencode => {
            let command: Vec<String> = std::iter::once(json(program))
                .chain(quoted_args.iter().cloned())
                .collect();
            format!(
                "// opencode.json (in the project, or ~/.config/opencode/opencode.json)\n{{\n  \"$schema\": \"https://opencode.ai/config.json\",\n  \"mcp\": {{\n    \"cap\": {{\n      \"type\": \"local\",\n      \"command\": [{}],\n      \"enabled\": true,\n      \"timeout\": {}\n    }}\n  }}\n}}\n",
                command.join(", "),
                TOOL_TIMEOUT_SECS * 1000
            )
        }
    }
}

/// A JSON (and TOML basic) string literal.
fn json(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A word as a POSIX shell reads it: bare when it is plain, else single-quoted.
fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snippet_runs_cap_mcp() {
        let args = vec!["mcp".to_string(), "--key-prefix".into(), "a b".into()];
        let claude = snippet(Client::Claude, "/opt/cap", &args);
        assert!(
            claude.contains("claude mcp add --scope user cap -- /opt/cap mcp --key-prefix 'a b'"),
            "{claude}"
        );
        let codex = snippet(Client::Codex, "/opt/cap", &args);
        let table: toml::Table = toml::from_str(&codex).expect("valid TOML");
        let cap = &table["mcp_servers"]["cap"];
        assert_eq!(cap["command"].as_str(), Some("/opt/cap"));
        assert_eq!(cap["args"].as_array().map(Vec::len), Some(3));
        assert!(codex.contains("CAP_SESSION"));
        for client in [Client::Gemini, Client::Opencode] {
            let text = snippet(client, "/opt/cap", &args);
            let body: String = text.lines().filter(|l| !l.starts_with("//")).collect();
            let doc: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
            assert!(doc.to_string().contains("/opt/cap"), "{text}");
            assert!(doc.to_string().contains("a b"), "{text}");
        }
    }
}
