//! MCP servers in each agent's own shape (docs/protocols.md): Claude Code takes the common
//! `{"mcpServers": …}` document with `--mcp-config`; Codex takes `mcp_servers.NAME` config
//! overrides on `thread/start` and `thread/resume`; ACP takes a list on `session/new`,
//! `session/resume` and `session/load`.
//!
//! A session's servers are the agent's configured ones (`mcp_servers` in its config table)
//! with the session's own (`--mcp-config`) over them, name by name.

pub use cap_proto::mcp::{McpServer, McpServers, Transport};
use serde::Deserialize;
use serde_json::{Value, json};

/// The servers an agent session gets: the configured ones, then the session's own.
pub fn merged(configured: &McpServers, own: &McpServers) -> McpServers {
    let mut all = configured.clone();
    all.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    all
}

/// Claude Code's `--mcp-config` argument: the common document, inline.
pub fn claude_args(servers: &McpServers) -> Vec<String> {
    if servers.is_empty() {
        return Vec::new();
    }
    vec![
        "--mcp-config".into(),
        json!({ "mcpServers": servers }).to_string(),
    ]
}

/// Codex's config overrides, one dotted key per server (so the user's own servers stay):
/// `{"mcp_servers.NAME": {command, args, env}}` or `{url, http_headers}`. Codex 0.169 has no
/// server-sent-events transport.
pub fn codex_config(servers: &McpServers) -> Result<Value, String> {
    let mut config = serde_json::Map::new();
    for (name, server) in servers {
        let value = match server {
            McpServer::Stdio { command, args, env } => {
                json!({"command": command, "args": args, "env": env})
            }
            McpServer::Remote {
                transport: Transport::Http,
                url,
                headers,
            } => json!({"url": url, "http_headers": headers}),
            McpServer::Remote {
                transport: Transport::Sse,
                ..
            } => {
                return Err(format!(
                    "MCP server {name} uses sse, which Codex cannot reach; use its streamable http endpoint (\"type\": \"http\")"
                ));
            }
        };
        config.insert(format!("mcp_servers.{name}"), value);
    }
    Ok(Value::Object(config))
}

/// ACP's `mcpServers` list. Every ACP agent takes stdio servers; http and sse only when its
/// `initialize` answer says so in `agentCapabilities.mcpCapabilities`.
pub fn acp_servers(servers: &McpServers, caps: &Value) -> Result<Value, String> {
    let pairs = |m: &std::collections::BTreeMap<String, String>| -> Vec<Value> {
        m.iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect()
    };
    let mut out = Vec::new();
    for (name, server) in servers {
        out.push(match server {
            McpServer::Stdio { command, args, env } => {
                json!({"name": name, "command": command, "args": args, "env": pairs(env)})
            }
            McpServer::Remote {
                transport,
                url,
                headers,
            } => {
                let kind = match transport {
                    Transport::Http => "http",
                    Transport::Sse => "sse",
                };
                if caps["mcpCapabilities"][kind].as_bool() != Some(true) {
                    return Err(format!(
                        "MCP server {name} uses {kind}, which this agent does not take (it offers stdio servers only)"
                    ));
                }
                json!({"type": kind, "name": name, "url": url, "headers": pairs(headers)})
            }
        });
    }
    Ok(Value::Array(out))
}

/// `mcp_servers` of an `[agents.NAME]` table: the common shape, a table by name
/// (`[agents.x.mcp_servers.fs] command = "…"`); or, as older configs wrote it, a list in
/// ACP's shape (`[{name, command, args, env = [{name, value}]}]`).
pub fn deserialize_config<'de, D: serde::Deserializer<'de>>(d: D) -> Result<McpServers, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Map(McpServers),
        List(Vec<AcpEntry>),
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct AcpEntry {
        name: String,
        #[serde(rename = "type", default)]
        kind: Option<String>,
        #[serde(default)]
        command: Option<String>,
        #[serde(default)]
        args: Vec<String>,
        #[serde(default)]
        env: Vec<Pair>,
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        headers: Vec<Pair>,
    }
    #[derive(Deserialize)]
    struct Pair {
        name: String,
        value: String,
    }
    use serde::de::Error;
    let servers = match Either::deserialize(d).map_err(|_| {
        D::Error::custom(
            "mcp_servers must be a table of servers by name, e.g. [agents.NAME.mcp_servers.fs] with command = \"…\" and args = […]",
        )
    })? {
        Either::Map(m) => m,
        Either::List(list) => {
            let mut m = McpServers::new();
            for e in list {
                let pairs = |p: Vec<Pair>| -> std::collections::BTreeMap<String, String> {
                    p.into_iter().map(|p| (p.name, p.value)).collect()
                };
                let raw = json!({
                    "type": e.kind,
                    "command": e.command,
                    "args": e.args,
                    "env": pairs(e.env),
                    "url": e.url,
                    "headers": pairs(e.headers),
                });
                let raw = strip_nulls(raw);
                let server: McpServer = serde_json::from_value(raw)
                    .map_err(|err| D::Error::custom(format!("mcp server {}: {err}", e.name)))?;
                m.insert(e.name, server);
            }
            m
        }
    };
    for name in servers.keys() {
        cap_proto::mcp::check_name(name).map_err(D::Error::custom)?;
    }
    Ok(servers)
}

/// Drops null and empty fields, which the common shape leaves out.
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(_, v)| match v {
                    Value::Null => false,
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => true,
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers() -> McpServers {
        cap_proto::mcp::parse_config(
            r#"{"mcpServers": {
                "fs": {"command": "srv", "args": ["-x"], "env": {"K": "v"}},
                "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}
            }}"#,
        )
        .unwrap()
    }

    #[test]
    fn each_protocol_gets_its_own_shape() {
        let s = servers();
        let claude = claude_args(&s);
        assert_eq!(claude[0], "--mcp-config");
        let doc: Value = serde_json::from_str(&claude[1]).unwrap();
        assert_eq!(doc["mcpServers"]["fs"]["command"], "srv");
        assert_eq!(doc["mcpServers"]["web"]["type"], "http");
        assert!(claude_args(&McpServers::new()).is_empty());

        let codex = codex_config(&s).unwrap();
        assert_eq!(codex["mcp_servers.fs"]["args"], json!(["-x"]));
        assert_eq!(codex["mcp_servers.fs"]["env"]["K"], "v");
        assert_eq!(codex["mcp_servers.web"]["url"], "http://127.0.0.1:9/mcp");

        let err = acp_servers(&s, &json!({})).unwrap_err();
        assert!(err.contains("web uses http"), "{err}");
        let acp = acp_servers(&s, &json!({"mcpCapabilities": {"http": true}})).unwrap();
        assert_eq!(
            acp[0],
            json!({"name": "fs", "command": "srv", "args": ["-x"], "env": [{"name": "K", "value": "v"}]})
        );
        assert_eq!(acp[1]["type"], "http");
    }

    #[test]
    fn config_takes_the_common_table_and_the_older_acp_list() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "deserialize_config")]
            m: McpServers,
        }
        let t: T = toml::from_str("[m.fs]\ncommand = \"srv\"\nargs = [\"-x\"]\n").unwrap();
        assert!(matches!(&t.m["fs"], McpServer::Stdio { command, .. } if command == "srv"));
        let t: T = toml::from_str(
            "m = [{name = \"fs\", command = \"srv\", args = [], env = [{name = \"K\", value = \"v\"}]}]",
        )
        .unwrap();
        assert!(matches!(&t.m["fs"], McpServer::Stdio { env, .. } if env["K"] == "v"));
        let t: T = toml::from_str("m = []").unwrap();
        assert!(t.m.is_empty());
        assert!(toml::from_str::<T>("m = 3").is_err());
        assert!(toml::from_str::<T>("[m.fs]\nurl = 3\n").is_err());
    }
}
