//! The request log: one JSON object per line, so a test can read back exactly what
//! an agent sent (history, auth header, structured-output requests) after the fact.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::reply::{ParsedRequest, Plan};

/// Where log lines go: always to stderr at debug level, and to `--log FILE` if given.
pub struct RequestLog {
    file: Option<Mutex<File>>,
}

impl RequestLog {
    /// Opens `path` for appending, so several runs can share one file.
    pub fn open(path: Option<&Path>) -> std::io::Result<Self> {
        let file = match path {
            Some(path) => Some(Mutex::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
            None => None,
        };
        Ok(Self { file })
    }

    /// Writes one line and flushes it, so readers never see half a record.
    pub fn write(&self, entry: &Entry) {
        let line = entry.to_json().to_string();
        tracing::debug!(target: "cap_fake_llm::request", "{line}");
        let Some(file) = &self.file else { return };
        let mut file = match file.lock() {
            Ok(file) => file,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(err) = writeln!(file, "{line}").and_then(|()| file.flush()) {
            tracing::warn!("cannot write the request log: {err}");
        }
    }
}

/// Everything logged about one request.
#[derive(Debug, Default)]
pub struct Entry {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub api: &'static str,
    /// Which credentials came with the request: header names, or `query:key`.
    pub auth: Vec<&'static str>,
    pub model: Option<String>,
    pub stream: Option<bool>,
    pub user_turns: Option<usize>,
    pub user_texts: Vec<String>,
    pub reply: Option<String>,
    pub json_schema: bool,
    /// The names of the tools the request offered.
    pub tools: Vec<String>,
    pub magic: Option<&'static str>,
    pub status: u16,
    pub error: Option<String>,
}

impl Entry {
    pub fn new(method: &str, path: &str, query: Option<&str>, headers: &HeaderMap) -> Self {
        let mut auth: Vec<&'static str> = ["x-api-key", "authorization", "x-goog-api-key"]
            .into_iter()
            .filter(|name| headers.contains_key(*name))
            .collect();
        if query.is_some_and(|q| q.split('&').any(|kv| kv.starts_with("key="))) {
            auth.push("query:key");
        }
        Self {
            method: method.to_string(),
            path: path.to_string(),
            query: query.map(str::to_string),
            auth,
            ..Self::default()
        }
    }

    /// Records what the fake understood and what it answered.
    pub fn describe(&mut self, request: &ParsedRequest, plan: &Plan) {
        self.model = Some(request.model.clone());
        self.stream = Some(request.stream);
        self.user_turns = Some(plan.summary.user_turns);
        self.user_texts = plan.summary.user_texts.clone();
        self.reply = Some(plan.text.clone());
        self.json_schema = plan.json_schema;
        self.tools = request.tools.iter().map(|t| t.name.clone()).collect();
        self.magic = plan.magic();
    }

    fn to_json(&self) -> Value {
        json!({
            "ts": crate::reply::unix_now(),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "api": self.api,
            "model": self.model,
            "stream": self.stream,
            "status": self.status,
            "user_turns": self.user_turns,
            "user_texts": self.user_texts,
            "reply": self.reply,
            "auth": self.auth,
            "json_schema": self.json_schema,
            "tools": self.tools,
            "magic": self.magic,
            "error": self.error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn auth_headers_and_query_key() {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("k"));
        headers.insert("Authorization", HeaderValue::from_static("Bearer k"));
        let entry = Entry::new("POST", "/v1/messages", Some("alt=sse&key=k"), &headers);
        assert_eq!(entry.auth, ["x-api-key", "authorization", "query:key"]);
        let json = entry.to_json();
        assert_eq!(json["path"], "/v1/messages");
        assert_eq!(json["json_schema"], false);
    }

    #[test]
    fn appends_lines_to_the_file() {
        let dir = std::env::temp_dir().join(format!("cap-fake-llm-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("requests.jsonl");
        let _ = std::fs::remove_file(&path);
        let log = RequestLog::open(Some(&path)).expect("open");
        let entry = Entry::new("HEAD", "/", None, &HeaderMap::new());
        log.write(&entry);
        log.write(&entry);
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["method"], "HEAD");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
