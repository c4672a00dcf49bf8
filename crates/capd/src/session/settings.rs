//! What a prompt may change about its session before it runs (`--model`, `--mcp-config`),
//! and `--steer` prompts added to the running turn. Both are the actor's: a handler only
//! puts them on the [`super::Turn`] it submits.

use super::Change;
use super::actor::{Actor, Queued};
use crate::drivers::{Ack, DriverError};
use cap_proto::{ErrorBody, ErrorCode, Event, StatusKind, StopReason};
use std::time::Duration;

impl Actor {
    /// Applies a turn's `--mcp-config` and `--model` to the session before its prompt is
    /// sent. New MCP servers restart the agent by resume (every agent takes them only when a
    /// session opens); a new model is switched in place, keeping the conversation. An agent
    /// that cannot switch fails the turn with a usage error, and nothing is sent.
    pub(super) async fn apply_settings(&mut self, q: &mut Queued) -> Result<(), ErrorBody> {
        if self.driver.as_mut().is_some_and(|d| !d.is_alive()) {
            self.driver = None;
        }
        let mut changed = false;
        if let Some(mcp) = q.turn.mcp_servers.take()
            && mcp != self.mcp
        {
            self.mcp = mcp;
            let names = self.mcp.clone();
            self.snap.send_modify(|s| s.mcp_servers = names);
            changed = true;
            if let Some(driver) = self.driver.take() {
                let message = format!(
                    "restarting {} by resume to give it the new MCP servers",
                    self.spec.name
                );
                tracing::info!(session = %self.id, "{message}");
                self.emit(
                    q,
                    Event::Status {
                        kind: StatusKind::Respawn,
                        message,
                    },
                );
                driver.shutdown().await;
                self.publish();
            }
        }
        if let Some(model) = q.turn.model.take()
            && self.model.as_deref() != Some(model.as_str())
        {
            // Without a running agent the next start opens the session with the model.
            if let Some(driver) = self.driver.as_mut() {
                let ack = driver.set_model(&model).map_err(|e| match e {
                    DriverError::Cannot(why) => {
                        ErrorBody::new(ErrorCode::Usage, format!("--model {model}: {why}"))
                    }
                    other => ErrorBody::new(ErrorCode::Agent, other.to_string()),
                })?;
                acked(ack, self.ready_timeout).await.map_err(|why| {
                    ErrorBody::new(
                        ErrorCode::Agent,
                        format!(
                            "{} could not switch to model {model}: {why}",
                            self.spec.name
                        ),
                    )
                })?;
            }
            self.model = Some(model.clone());
            self.snap.send_modify(|s| s.model = Some(model));
            changed = true;
        }
        if changed {
            self.send_up(Change::Settings);
        }
        Ok(())
    }

    /// Adds waiting `--steer` prompts to the running turn. One the agent takes ends at once
    /// (a `steered` status, then a `result` with stop reason `steered`): its answer is the
    /// running turn's, which that turn's caller gets. One it cannot take stays queued as an
    /// ordinary prompt, and its caller is told so.
    pub(super) async fn steer_waiting(&mut self) {
        while let Some(pos) = self
            .queue
            .iter()
            .position(|w| w.turn.steer && !w.steer_refused)
        {
            let Some(mut w) = self.queue.remove(pos) else {
                return;
            };
            let running = self.running.clone().unwrap_or_default();
            let sent = match self.driver.as_mut() {
                Some(d) => d.steer(&w.turn.text).map_err(|e| e.to_string()),
                None => Err("the agent is restarting".to_string()),
            };
            let answer = match sent {
                Ok(ack) => acked(ack, self.ready_timeout).await,
                Err(e) => Err(e),
            };
            self.announce(&mut w);
            match answer {
                Ok(()) => {
                    let message = format!(
                        "added to the running turn {running}; its answer goes to that turn's caller"
                    );
                    self.emit(
                        &mut w,
                        Event::Status {
                            kind: StatusKind::Steered,
                            message,
                        },
                    );
                    // The steered prompt's own result is not the session's last result:
                    // `cap result` keeps showing the turn that answered.
                    let last = self.snap.borrow().last_result.clone();
                    let result = self.result(
                        &w,
                        String::new(),
                        StopReason::Other("steered".into()),
                        Duration::ZERO,
                    );
                    self.emit(&mut w, result);
                    self.snap.send_modify(|s| s.last_result = last);
                }
                Err(why) => {
                    w.steer_refused = true;
                    let message = format!(
                        "could not add this to the running turn ({}: {why}); it is queued as an ordinary prompt",
                        self.spec.name
                    );
                    self.emit(
                        &mut w,
                        Event::Status {
                            kind: StatusKind::NotSteered,
                            message,
                        },
                    );
                    self.queue.insert(pos, w);
                }
            }
            self.publish();
        }
    }

    /// Tells the caller of a `--steer` prompt that found no turn to steer that it runs as an
    /// ordinary prompt.
    pub(super) fn steer_not_running(&mut self, q: &mut Queued) {
        if q.turn.steer && !q.steer_refused {
            q.steer_refused = true;
            self.emit(
                q,
                Event::Status {
                    kind: StatusKind::NotSteered,
                    message: "no turn was running to add this to; it is sent as an ordinary prompt"
                        .into(),
                },
            );
        }
    }
}

/// Waits (bounded) for the agent's answer to a request. Agents answer these at once; the
/// mailbox waits meanwhile.
async fn acked(ack: Ack, within: Duration) -> Result<(), String> {
    match tokio::time::timeout(within, ack).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err("the agent went away".into()),
        Err(_) => Err(format!("no answer within {} s", within.as_secs())),
    }
}
