//! Running one turn: send it, stream its events, and handle cancel, timeout, shutdown, an
//! agent that dies (respawn by resume, once), a resume that turns out impossible (fall back
//! to a fresh session, saying so) and empty replies (re-sent up to twice).

use super::actor::{Actor, Interrupt, Queued};
use super::events::ended_error;
use super::permit::refused_error;
use crate::drivers::{self, DriverEvent};
use crate::schema::Schema;
use cap_proto::{ErrorBody, ErrorCode, Event, StatusKind, StopReason};
use std::time::{Duration, Instant};
use tokio::time::Instant as Deadline;

/// How often a running turn checks that its agent process still lives. The end of the
/// agent's output usually says so first, but not when a helper it started holds its stdout
/// open after it exited.
const LIVENESS_CHECK: Duration = Duration::from_millis(500);

/// How a turn ended.
pub(super) enum Outcome {
    Done {
        output: String,
        stop_reason: StopReason,
    },
    Failed(ErrorBody),
}

/// The result of waiting on one sent turn.
enum Wait {
    Ended {
        output: String,
        stop_reason: StopReason,
    },
    AgentError(String),
    Died(String),
    Final(Outcome),
}

fn cancelled(output: String) -> Outcome {
    Outcome::Done {
        output,
        stop_reason: StopReason::Cancelled,
    }
}

impl Actor {
    pub(super) async fn run_turn(&mut self, mut q: Queued) {
        self.begin_turn(&q.turn.request, q.announced.as_ref());
        // A timeout too large to add to the clock is no timeout at all.
        q.deadline = q.turn.timeout.and_then(|t| Deadline::now().checked_add(t));
        if let Some(context) = q.turn.context.take() {
            self.preamble = Some(match self.preamble.take() {
                Some(p) => format!("{p}\n\n{context}"),
                None => context,
            });
        }
        self.record_begin(&q);
        let started = Instant::now();
        for (kind, message) in std::mem::take(&mut q.turn.notices)
            .into_iter()
            .chain(std::mem::take(&mut self.notices))
        {
            self.emit(&mut q, Event::Status { kind, message });
        }
        self.steer_not_running(&mut q);
        let text = match self.preamble.take() {
            Some(p) => format!("{p}\n\n{}", q.turn.text),
            None => q.turn.text.clone(),
        };
        let settled = self.apply_settings(&mut q).await;
        let (outcome, structured) = match (settled, q.turn.schema.clone()) {
            (Err(e), _) => (Outcome::Failed(e), None),
            (Ok(()), Some(schema)) => self.structured(&mut q, &text, &schema).await,
            (Ok(()), None) => (self.attempts(&mut q, &text).await, None),
        };
        let event = match outcome {
            Outcome::Done {
                output,
                stop_reason,
            } => {
                self.end_turn(true);
                let mut event = self.result(&q, output, stop_reason, started.elapsed());
                if let Event::Result(r) = &mut event {
                    r.structured = structured;
                }
                event
            }
            Outcome::Failed(err) => {
                self.end_turn(false);
                Event::Error(err)
            }
        };
        if !q.usage.is_empty() {
            let spent = q.usage;
            self.spent(spent);
        }
        self.synced().await;
        self.record_end(&mut q, &event);
        self.emit(&mut q, event);
    }

    /// Runs one turn with its retries: a respawn by resume when the agent dies or a send
    /// fails (once), a fresh session when that resume turns out impossible, and up to two
    /// re-sends of an empty reply.
    pub(super) async fn attempts(&mut self, q: &mut Queued, text: &str) -> Outcome {
        let deadline = q.deadline;
        let mut respawned = false;
        let mut empty_resends = 0;
        loop {
            if self.driver.as_mut().is_none_or(|d| !d.is_alive()) {
                self.driver = None;
                self.cancelled_while_starting = false;
                // The turn's clock runs while its agent is respawned: a start that outlasts
                // the deadline is dropped (its process group with it).
                let started = match deadline {
                    Some(at) => match tokio::time::timeout_at(at, self.start()).await {
                        Ok(started) => started,
                        Err(_) => return Outcome::Failed(timeout_error(q)),
                    },
                    None => self.start().await,
                };
                for (kind, message) in std::mem::take(&mut self.notices) {
                    self.emit(q, Event::Status { kind, message });
                }
                match started {
                    Ok(()) => {}
                    Err(None) => return Outcome::Failed(ended_error()),
                    Err(Some(e)) => return Outcome::Failed(e),
                }
                if std::mem::take(&mut self.cancelled_while_starting) {
                    // Cancelled while its agent started: it ends without being sent.
                    return cancelled(String::new());
                }
            }
            if deadline.is_some_and(|at| Deadline::now() >= at) {
                // Never send a prompt whose time is up: the agent would act on it unasked.
                return Outcome::Failed(timeout_error(q));
            }
            let Some(driver) = self.driver.as_mut() else {
                return Outcome::Failed(ended_error());
            };
            // Set before every send: a respawned agent is a new driver.
            driver.output_schema(q.turn.schema.as_deref().map(Schema::value));
            driver.wall(super::wall::Wall::of(&q.turn.policy, q.turn.asker));
            if let Err(e) = driver.send_turn(text) {
                self.driver = None;
                if respawned {
                    return Outcome::Failed(ErrorBody::new(ErrorCode::Agent, e.to_string()));
                }
                respawned = true;
                self.status(q, StatusKind::Respawn, format!("could not send to the agent ({e}); respawning it by resume and retrying once"));
                continue;
            }
            match self.wait_turn(q, deadline).await {
                Wait::Ended {
                    output,
                    stop_reason,
                } => {
                    self.unconfirmed = false;
                    if output.trim().is_empty()
                        && empty_resends < 2
                        && stop_reason != StopReason::Cancelled
                    {
                        empty_resends += 1;
                        self.status(q, StatusKind::Resend, format!("the agent sent an empty reply; re-sending the prompt ({empty_resends}/2)"));
                        continue;
                    }
                    return Outcome::Done {
                        output,
                        stop_reason,
                    };
                }
                Wait::AgentError(msg) => {
                    if self.unconfirmed && drivers::is_missing_session(&msg) && !respawned {
                        respawned = true;
                        self.driver = None;
                        self.fall_back_to_fresh(&msg);
                        continue;
                    }
                    return Outcome::Failed(ErrorBody::new(
                        ErrorCode::Agent,
                        format!("{} failed: {msg}", self.spec.name),
                    ));
                }
                Wait::Died(tail) => {
                    let killed = self.driver.take().and_then(|d| d.killed_why());
                    self.publish();
                    if respawned {
                        return Outcome::Failed(ErrorBody::new(
                            ErrorCode::Agent,
                            format!(
                                "{} exited mid-turn again after a respawn; giving up on this prompt{}",
                                self.spec.name,
                                drivers::stderr_suffix(&tail)
                            ),
                        ));
                    }
                    respawned = true;
                    if self.unconfirmed && drivers::is_missing_session(&tail) {
                        // The agent died on its first turn after a resume saying the session
                        // is gone: the resume itself is what failed. Any other crash is a
                        // crash, and resuming again keeps the conversation.
                        self.fall_back_to_fresh(&format!(
                            "the agent exited on its first resumed turn{}",
                            drivers::stderr_suffix(&tail)
                        ));
                    } else {
                        let native = self.native_id().unwrap_or_default();
                        let why = match killed {
                            Some(why) => format!(
                                "{}'s shared process was killed because {why}",
                                self.spec.name
                            ),
                            None => format!("{} exited mid-turn", self.spec.name),
                        };
                        self.status(q, StatusKind::Respawn, format!("{why}; respawning it by resuming native session {native} and retrying once"));
                    }
                }
                Wait::Final(outcome) => return outcome,
            }
        }
    }

    pub(super) fn status(&mut self, q: &mut Queued, kind: StatusKind, message: String) {
        tracing::info!(session = %self.id, "{message}");
        self.emit(q, Event::Status { kind, message });
    }

    /// Streams one sent turn until it ends, handling cancel, timeout and shutdown.
    async fn wait_turn(&mut self, q: &mut Queued, deadline: Option<Deadline>) -> Wait {
        let mut output = String::new();
        let mut cancelling = false;
        let mut timed_out = false;
        let mut settle_by: Option<Deadline> = None;
        let mut liveness =
            tokio::time::interval_at(Deadline::now() + LIVENESS_CHECK, LIVENESS_CHECK);
        liveness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // `--steer` prompts that came while the agent started are added now.
        self.steer_waiting().await;
        loop {
            let Some(driver) = self.driver.as_mut() else {
                return Wait::Died(String::new());
            };
            let mut stop_agent = false;
            tokio::select! {
                ev = driver.events().recv() => match ev {
                    Some(DriverEvent::Text(t)) => {
                        // The result repeats no more than this; the rest was streamed.
                        if output.len() <= super::events::MAX_RESULT_OUTPUT {
                            output.push_str(&t);
                        }
                        self.emit(q, Event::Text { delta: t });
                    }
                    Some(DriverEvent::Thought(t)) => self.emit(q, Event::Thought { delta: t }),
                    Some(DriverEvent::ToolCall(t)) => self.emit(q, Event::ToolCall(t)),
                    Some(DriverEvent::Plan(p)) => self.emit(q, Event::Plan { entries: p }),
                    Some(DriverEvent::Raw { kind, payload }) => self.emit(q, Event::Raw { kind, payload }),
                    Some(DriverEvent::Usage(u)) => {
                        q.usage.add(&u);
                        let usage = serde_json::to_value(u).unwrap_or_default();
                        self.emit(q, Event::Usage { usage });
                    }
                    Some(DriverEvent::Permission { id, tool }) => self.on_permission(q, id, tool),
                    Some(DriverEvent::NativeId(n)) => self.native_changed(n),
                    Some(DriverEvent::TurnEnd(end)) => {
                        if let Some(what) = self.permits.refused.take() {
                            return Wait::Final(Outcome::Failed(refused_error(&what)));
                        }
                        if timed_out {
                            return Wait::Final(Outcome::Failed(timeout_error(q)));
                        }
                        if cancelling {
                            return Wait::Final(cancelled(output));
                        }
                        if !end.ok {
                            return Wait::AgentError(end.error.unwrap_or_else(|| end.stop_reason.to_string()));
                        }
                        let output = if output.is_empty() { end.output.unwrap_or_default() } else { output };
                        return Wait::Ended { output, stop_reason: end.stop_reason };
                    }
                    Some(DriverEvent::Exited) | None => {
                        let tail = driver.stderr_tail();
                        if timed_out {
                            return Wait::Final(Outcome::Failed(timeout_error(q)));
                        }
                        if cancelling {
                            return Wait::Final(cancelled(output));
                        }
                        return Wait::Died(tail);
                    }
                },
                _ = liveness.tick() => {
                    if !driver.is_alive() {
                        let tail = driver.stderr_tail();
                        tracing::info!(session = %self.id, "the agent exited mid-turn while its output stayed open");
                        if timed_out {
                            return Wait::Final(Outcome::Failed(timeout_error(q)));
                        }
                        if cancelling {
                            return Wait::Final(cancelled(output));
                        }
                        return Wait::Died(tail);
                    }
                }
                msg = self.rx.recv() => match self.on_msg(msg) {
                    Interrupt::None => {}
                    Interrupt::Cancel => {
                        if !cancelling && !timed_out {
                            cancelling = true;
                            stop_agent = true;
                        }
                    }
                    Interrupt::Shutdown => {
                        // Leaving a shared process would not stop the turn: cancel it first.
                        if let Some(d) = self.driver.as_mut().filter(|d| d.shared()) {
                            let _ = d.cancel();
                        }
                        return Wait::Final(Outcome::Failed(ended_error()));
                    }
                    Interrupt::Decide { id, allow, always, reply } => {
                        let found = self.decide(q, &id, allow, always);
                        let _ = reply.send(found);
                    }
                    Interrupt::Steer => self.steer_waiting().await,
                },
                _ = sleep_until(self.permits.deadline()) => self.expire(q),
                _ = sleep_until(deadline), if !timed_out && !cancelling => {
                    timed_out = true;
                    stop_agent = true;
                }
                _ = sleep_until(settle_by) => {
                    // The agent ignored the cancel. Kill it so the next prompt cannot overlap
                    // this turn; the next prompt respawns it by resume. A shared process goes
                    // with the other sessions on it, which resume too and are told why.
                    let shared = self.driver.as_ref().is_some_and(|d| d.shared());
                    if let Some(d) = self.driver.take() {
                        d.kill(format!("a turn of session {} did not stop when cancelled", self.id));
                    }
                    self.publish();
                    let what = if shared { "its shared agent process was killed (the other sessions on it resume too)" } else { "its agent was killed" };
                    self.notices.push((StatusKind::Respawn, format!("the previous turn did not stop when cancelled, so {what} and has been respawned by resume")));
                    return Wait::Final(if timed_out {
                        Outcome::Failed(timeout_error(q))
                    } else {
                        cancelled(output)
                    });
                }
            }
            if stop_agent {
                settle_by = Deadline::now().checked_add(self.cancel_grace);
                if let Some(d) = self.driver.as_mut()
                    && let Err(e) = d.cancel()
                {
                    tracing::warn!(session = %self.id, "cancel failed: {e}");
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Deadline>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn timeout_error(q: &Queued) -> ErrorBody {
    let secs = q.turn.timeout.map(|t| t.as_secs()).unwrap_or_default();
    ErrorBody::new(
        ErrorCode::Timeout,
        format!(
            "the prompt timed out after {secs} s and was cancelled in the agent; raise --timeout or use --timeout 0 for none"
        ),
    )
}
