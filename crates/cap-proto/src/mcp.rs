//! MCP (tool) servers for a session, in the one shape every client knows: the
//! `{"mcpServers": {NAME: {...}}}` file that Claude Code, Cursor and most MCP-aware tools read.
//!
//! A client parses and checks the file (`--mcp-config FILE`), so a bad file is refused before
//! anything is sent; the daemon passes the servers to each agent in the agent's own shape.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Servers by name.
pub type McpServers = BTreeMap<String, McpServer>;

/// One MCP server: a program cap's agent starts (stdio), or one it reaches over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawServer", into = "RawServer")]
pub enum McpServer {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
    },
    /// Streamable HTTP (`"type": "http"`) or the older server-sent events (`"type": "sse"`).
    Remote {
        transport: Transport,
        url: String,
        headers: BTreeMap<String, String>,
    },
}

/// How a remote server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Http,
    Sse,
}

/// The file's shape of one server. Unknown fields are refused: a misspelt `comand` must not
/// become a server that silently never starts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    headers: BTreeMap<String, String>,
}

impl TryFrom<RawServer> for McpServer {
    type Error = String;

    fn try_from(r: RawServer) -> Result<McpServer, String> {
        let transport = match r.kind.as_deref() {
            None | Some("stdio") => None,
            Some("http" | "streamable-http") => Some(Transport::Http),
            Some("sse") => Some(Transport::Sse),
            Some(other) => {
                return Err(format!(
                    "unknown server type \"{other}\"; use \"stdio\", \"http\" or \"sse\""
                ));
            }
        };
        match (transport, r.command, r.url) {
            (None, Some(command), None) if !command.trim().is_empty() => Ok(McpServer::Stdio {
                command,
                args: r.args,
                env: r.env,
            }),
            (None, _, Some(url)) if r.kind.is_none() => Ok(McpServer::Remote {
                transport: Transport::Http,
                url,
                headers: r.headers,
            }),
            (None, _, _) => Err("a stdio server needs a \"command\" (and no \"url\")".into()),
            (Some(transport), None, Some(url)) => Ok(McpServer::Remote {
                transport,
                url,
                headers: r.headers,
            }),
            (Some(_), _, _) => {
                Err("an http or sse server needs a \"url\" (and no \"command\")".into())
            }
        }
    }
}

impl From<McpServer> for RawServer {
    fn from(s: McpServer) -> RawServer {
        match s {
            McpServer::Stdio { command, args, env } => RawServer {
                command: Some(command),
                args,
                env,
                ..RawServer::default()
            },
            McpServer::Remote {
                transport,
                url,
                headers,
            } => RawServer {
                kind: Some(
                    match transport {
                        Transport::Http => "http",
                        Transport::Sse => "sse",
                    }
                    .into(),
                ),
                url: Some(url),
                headers,
                ..RawServer::default()
            },
        }
    }
}

/// Why an MCP config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum McpConfigError {
    #[error("it is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error(
        "it has no \"mcpServers\" object (the shape is {{\"mcpServers\": {{\"NAME\": {{\"command\": …}}}}}})"
    )]
    NoServers,
    #[error("server \"{name}\": {message}")]
    Server { name: String, message: String },
    #[error(
        "server name \"{0}\" is not usable: names are letters, digits, `_` and `-` (agents build tool names from them)"
    )]
    Name(String),
}

/// Parses the text of an MCP config file: `{"mcpServers": {NAME: {...}}}`, other top-level
/// fields ignored (the files are shared with other tools).
pub fn parse_config(text: &str) -> Result<McpServers, McpConfigError> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(McpConfigError::Json)?;
    let servers = doc
        .get("mcpServers")
        .and_then(|s| s.as_object())
        .ok_or(McpConfigError::NoServers)?;
    let mut out = McpServers::new();
    for (name, server) in servers {
        check_name(name)?;
        let parsed: McpServer =
            serde_json::from_value(server.clone()).map_err(|e| McpConfigError::Server {
                name: name.clone(),
                message: e.to_string(),
            })?;
        out.insert(name.clone(), parsed);
    }
    Ok(out)
}

/// Refuses a server name an agent could not use in tool names or config keys.
pub fn check_name(name: &str) -> Result<(), McpConfigError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(McpConfigError::Name(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_file_parses_and_round_trips() {
        let text = r#"{"mcpServers": {
            "fs": {"command": "npx", "args": ["-y", "server-fs"], "env": {"A": "1"}},
            "web": {"type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X": "y"}},
            "old": {"url": "http://127.0.0.1:9/sse", "type": "sse"}
        }, "other": 1}"#;
        let servers = parse_config(text).unwrap();
        assert_eq!(
            servers["fs"],
            McpServer::Stdio {
                command: "npx".into(),
                args: vec!["-y".into(), "server-fs".into()],
                env: [("A".to_string(), "1".to_string())].into(),
            }
        );
        assert!(matches!(
            &servers["web"],
            McpServer::Remote { transport: Transport::Http, url, .. } if url.ends_with("/mcp")
        ));
        assert!(matches!(
            &servers["old"],
            McpServer::Remote {
                transport: Transport::Sse,
                ..
            }
        ));
        let back: McpServers =
            serde_json::from_value(serde_json::to_value(&servers).unwrap()).unwrap();
        assert_eq!(back, servers);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = |t: &str| parse_config(t).unwrap_err().to_string();
        assert!(err("{").contains("not valid JSON"));
        assert!(err(r#"{"servers": {}}"#).contains("mcpServers"));
        assert!(err(r#"{"mcpServers": {"a": {"comand": "x"}}}"#).contains("comand"));
        assert!(err(r#"{"mcpServers": {"a": {"args": []}}}"#).contains("needs a \"command\""));
        assert!(err(r#"{"mcpServers": {"a": {"type": "ws", "url": "x"}}}"#).contains("\"ws\""));
        assert!(err(r#"{"mcpServers": {"a b": {"command": "x"}}}"#).contains("\"a b\""));
        assert!(parse_config(r#"{"mcpServers": {}}"#).unwrap().is_empty());
    }
}
