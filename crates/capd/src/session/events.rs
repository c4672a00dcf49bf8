//! The actor's events: every one goes to the turn's caller and to every attached client,
//! and none may come near the protocol's line limit.

use super::actor::{Actor, Queued};
use cap_proto::{Envelope, Event, SessionEvent, StopReason, TurnResult};
use std::sync::Arc;
use std::time::Duration;

/// The longest text one `text` event carries: a bigger delta is split, so no event line comes
/// near the protocol's 16 MiB line limit.
const MAX_DELTA: usize = 1024 * 1024;

/// The longest `output` a `result` event repeats. The text was streamed already; a longer
/// reply is left out of the result (marked `truncated`) so the line stays under the limit.
pub(super) const MAX_RESULT_OUTPUT: usize = 8 * 1024 * 1024;

impl Actor {
    /// Sends a queued turn its `session` event (seq 0), once.
    pub(super) fn announce(&mut self, q: &mut Queued) {
        if q.announced.is_some() {
            return;
        }
        let event = Event::Session(SessionEvent {
            id: self.id.clone(),
            agent: self.spec.name.clone(),
            key: q.turn.key.clone(),
            native_id: self.snap.borrow().native_id.clone(),
            how: q.turn.how,
        });
        self.emit(q, event);
    }

    /// Sends one event of a turn to its caller and to every attached client. Big text deltas
    /// are split so no line nears the protocol limit.
    pub fn emit(&mut self, q: &mut Queued, event: Event) {
        if let Event::Text { delta } = &event
            && delta.len() > MAX_DELTA
        {
            for piece in split_text(delta, MAX_DELTA) {
                self.emit(
                    q,
                    Event::Text {
                        delta: piece.to_string(),
                    },
                );
            }
            return;
        }
        let env = Envelope::new(
            event,
            Some(self.id.clone()),
            Some(q.turn.request.clone()),
            q.seq,
        );
        q.seq += 1;
        if matches!(env.event, Event::Session(_)) {
            q.announced = Some(env.clone());
        }
        self.record_event(&env);
        if matches!(env.event, Event::Result(_) | Event::Error(_)) {
            let last = Arc::new(env.clone());
            self.snap.send_modify(|s| s.last_result = Some(last));
        }
        if self.backlog_of.as_deref() == Some(q.turn.request.as_str()) {
            self.keep_in_backlog(&env);
        }
        // With nobody attached the caller gets the event itself rather than a copy: a big
        // reply's deltas were copied once more only for the broadcast to drop them.
        match self.events.as_ref().filter(|e| e.receiver_count() > 0) {
            Some(events) => {
                let _ = q.turn.events.send(env.clone());
                let _ = events.send(env);
            }
            None => {
                let _ = q.turn.events.send(env);
            }
        }
    }

    /// Keeps an event for a later attach. Text and thought stop being kept past
    /// [`MAX_RESULT_OUTPUT`], or a 100 MB reply would sit in the daemon twice; the first one
    /// left out is replaced by an `omitted` status event (with its seq), so an attach says
    /// what it did not get.
    fn keep_in_backlog(&mut self, env: &Envelope) {
        let text = match &env.event {
            Event::Text { delta } | Event::Thought { delta } => delta.len(),
            _ => 0,
        };
        if text == 0 || self.backlog_text + text <= MAX_RESULT_OUTPUT {
            self.backlog_text += text;
            self.backlog.push(env.clone());
        } else if !self.backlog_clipped {
            self.backlog_clipped = true;
            let note = Event::Status {
                kind: cap_proto::StatusKind::Omitted,
                message: format!(
                    "this catch-up holds the turn's first {} MiB of text; the text after it, until you attached, is not repeated",
                    MAX_RESULT_OUTPUT >> 20
                ),
            };
            self.backlog.push(Envelope::new(
                note,
                env.session.clone(),
                env.request.clone(),
                env.seq,
            ));
        }
    }

    /// A `result` event for the turn that just ended (turn counter included).
    pub fn result(
        &mut self,
        q: &Queued,
        output: String,
        stop_reason: StopReason,
        took: Duration,
    ) -> Event {
        let turns = self.snap.borrow().turns;
        let truncated = output.len() > MAX_RESULT_OUTPUT;
        Event::Result(TurnResult {
            output: if truncated { String::new() } else { output },
            truncated,
            stop_reason,
            turns,
            duration_ms: took.as_millis() as u64,
            native_id: self.snap.borrow().native_id.clone(),
            permissions: self.permits.counts,
            usage: (!q.usage.is_empty()).then_some(q.usage),
            structured: None,
        })
    }
}

/// Splits `s` into pieces of at most `max` bytes, on character boundaries.
fn split_text(s: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

/// The error a turn ends with when its session is ended under it.
pub(super) fn ended_error() -> cap_proto::ErrorBody {
    cap_proto::ErrorBody::new(
        cap_proto::ErrorCode::Agent,
        "the session was ended while the turn was running",
    )
}

#[cfg(test)]
mod split_tests {
    #[test]
    fn split_text_keeps_characters_whole() {
        let s = "aé".repeat(5);
        let pieces = super::split_text(&s, 4);
        assert!(pieces.iter().all(|p| p.len() <= 4));
        assert_eq!(pieces.concat(), s);
    }
}
