//! The HTTP side: one fallback handler that classifies each request, hands API
//! calls to their format module, and logs every request, whatever it was.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::http::json_response;
use crate::log::{Entry, RequestLog};
use crate::reply::{ParsedRequest, Plan};
use crate::routes::Route;
use crate::{anthropic, gemini, openai};

/// Agents resend the whole conversation with every turn, and Claude Code adds
/// tens of kilobytes of tool definitions, so the usual 2 MB limit is too small.
const MAX_BODY: usize = 256 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub log: Arc<RequestLog>,
}

/// Every path goes to [`handle`]: matching by suffix is easier to follow in one
/// function than in a router table, and unknown paths must answer 200 anyway.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(handle).with_state(state)
}

async fn handle(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let route = Route::classify(&parts.method, path);
    let mut entry = Entry::new(
        parts.method.as_str(),
        path,
        parts.uri.query(),
        &parts.headers,
    );
    entry.api = route.api();
    let label = format!("{} {path}", route.api());
    let response = match &route {
        Route::Models => json_response(StatusCode::OK, &json!({"data": [], "models": []})),
        Route::Other => json_response(StatusCode::OK, &json!({})),
        api => api_call(api, body, &mut entry, label).await,
    };
    entry.status = response.status().as_u16();
    state.log.write(&entry);
    response
}

/// Reads and parses the JSON body, then lets the route's format module answer.
async fn api_call(route: &Route, body: Body, entry: &mut Entry, label: String) -> Response {
    let (value, len) = match read_json(body).await {
        Ok(read) => read,
        Err((status, message)) => {
            entry.error = Some(message.clone());
            return error(route, status, &message);
        }
    };
    let request = parse(route, &value);
    let plan = Plan::new(&request, len);
    entry.describe(&request, &plan);
    match route {
        Route::AnthropicMessages => anthropic::respond(&request, &plan, label),
        Route::AnthropicCountTokens => anthropic::count_tokens(&plan),
        Route::OpenAiResponses => openai::responses::respond(&request, &plan, label),
        Route::OpenAiChat => openai::chat::respond(&request, &plan, label),
        Route::Gemini { .. } => gemini::respond(&request, &plan, label),
        Route::GeminiCountTokens { .. } => gemini::count_tokens(&plan),
        Route::Models | Route::Other => json_response(StatusCode::OK, &json!({})),
    }
}

/// The body as a JSON object and its length, or the status and message of a 400/413.
async fn read_json(body: Body) -> Result<(Value, usize), (StatusCode, String)> {
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|err| {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("cannot read the request body: {err}"),
        )
    })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|err| {
        (
            StatusCode::BAD_REQUEST,
            format!("request body is not valid JSON: {err}"),
        )
    })?;
    if !value.is_object() {
        return Err((
            StatusCode::BAD_REQUEST,
            "request body must be a JSON object".to_string(),
        ));
    }
    Ok((value, bytes.len()))
}

fn parse(route: &Route, body: &Value) -> ParsedRequest {
    match route {
        Route::AnthropicMessages | Route::AnthropicCountTokens => anthropic::parse(body),
        Route::OpenAiResponses => openai::responses::parse(body),
        Route::OpenAiChat => openai::chat::parse(body),
        Route::Gemini { model, stream } => gemini::parse(body, model, *stream),
        Route::GeminiCountTokens { model } => gemini::parse(body, model, false),
        Route::Models | Route::Other => ParsedRequest::default(),
    }
}

/// An error in the format the route's clients understand.
fn error(route: &Route, status: StatusCode, message: &str) -> Response {
    match route {
        Route::AnthropicMessages | Route::AnthropicCountTokens => anthropic::error(status, message),
        Route::Gemini { .. } | Route::GeminiCountTokens { .. } => gemini::error(status, message),
        _ => openai::error(status, message),
    }
}
