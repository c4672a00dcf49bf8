//! Server-sent event streams with optional pauses between events.
//!
//! Every streaming API here is "a list of events, some of them after a pause", so
//! the API modules build a `Vec<Frame>` and this module turns it into a chunked
//! `text/event-stream` response. When the client goes away, hyper drops the body
//! stream, which cancels any pending pause at once: a cancelled `SLOW` turn stops
//! costing anything immediately. That moment is logged, so tests can observe it.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use futures_util::stream;
use serde_json::Value;

/// One SSE event, sent after `delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The `event:` line; `None` for data-only streams (Chat Completions, Gemini).
    pub event: Option<&'static str>,
    /// The `data:` payload, already serialised (usually JSON, or `[DONE]`).
    pub data: String,
    pub delay: Duration,
}

impl Frame {
    /// A named event whose data is `payload` (Anthropic, OpenAI Responses).
    pub fn named(event: &'static str, payload: &Value) -> Self {
        Self {
            event: Some(event),
            data: payload.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// A data-only event.
    pub fn data(payload: &Value) -> Self {
        Self::raw(payload.to_string())
    }

    /// A data-only event with a non-JSON payload such as `[DONE]`.
    pub fn raw(data: impl Into<String>) -> Self {
        Self {
            event: None,
            data: data.into(),
            delay: Duration::ZERO,
        }
    }

    /// The same event, sent only after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn into_event(self) -> Event {
        let event = Event::default().data(self.data);
        match self.event {
            Some(name) => event.event(name),
            None => event,
        }
    }
}

/// Streams `frames` as `text/event-stream`. `label` names the request in the
/// disconnect log line.
pub fn response(frames: Vec<Frame>, label: String) -> Response {
    let progress = Arc::new(Progress {
        label,
        total: frames.len(),
        sent: AtomicUsize::new(0),
    });
    let events = stream::iter(frames).then(move |frame| {
        let progress = Arc::clone(&progress);
        async move {
            if !frame.delay.is_zero() {
                tokio::time::sleep(frame.delay).await;
            }
            progress.sent.fetch_add(1, Ordering::Relaxed);
            Ok::<_, Infallible>(frame.into_event())
        }
    });
    Sse::new(events).into_response()
}

/// Counts the events handed to hyper; dropped together with the stream.
struct Progress {
    label: String,
    total: usize,
    sent: AtomicUsize,
}

impl Drop for Progress {
    fn drop(&mut self) {
        let sent = *self.sent.get_mut();
        if sent < self.total {
            tracing::info!(
                "client disconnected mid-stream: {} after {sent} of {} events",
                self.label,
                self.total
            );
        }
    }
}
