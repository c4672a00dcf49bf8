//! Permission requests during a turn: decided by the turn's policy, else put to the client
//! that sent the prompt (and any attached client), else denied. Every request and decision
//! is a `permission` event, and the turn's result counts them.

use super::actor::{Actor, Queued};
use cap_proto::event::{PermissionCounts, PermissionEvent};
use cap_proto::policy::{DecidedBy, Rule, ToolUse, Verdict, how_to_allow};
use cap_proto::request::Asker;
use cap_proto::{ErrorBody, ErrorCode, Event};
use std::collections::HashMap;
use tokio::time::Instant as Deadline;

/// A question put to the client, waiting for `decide`.
pub(super) struct Pending {
    /// The driver's id for the request.
    driver_id: String,
    tool: ToolUse,
    deadline: Deadline,
}

/// The permission state of a session: open questions, the "always" answers, and this turn's
/// counts.
#[derive(Default)]
pub(super) struct Permits {
    pending: HashMap<String, Pending>,
    /// Uses allowed "always" by the person, for the rest of the session.
    always: Vec<Rule>,
    next: u64,
    pub counts: PermissionCounts,
    /// Under `--non-interactive fail`: what was refused, to fail the turn with.
    pub refused: Option<String>,
}

impl Permits {
    /// When the earliest open question expires.
    pub fn deadline(&self) -> Option<Deadline> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// A fresh turn: no counts, nothing refused.
    pub fn begin(&mut self) {
        self.counts = PermissionCounts::default();
        self.refused = None;
    }
}

impl Actor {
    /// The agent asks to use a tool during `q`.
    pub(super) fn on_permission(&mut self, q: &mut Queued, driver_id: String, tool: ToolUse) {
        let (mut verdict, mut by) = q.turn.policy.evaluate(&tool, &self.cwd);
        // An "always" answer settles what would be asked again; a deny never becomes allow.
        if verdict == Verdict::Ask
            && self
                .permits
                .always
                .iter()
                .any(|r| r.matches(&tool, &self.cwd))
        {
            (verdict, by) = (Verdict::Allow, DecidedBy::User);
        }
        let by = match (verdict, q.turn.asker) {
            (Verdict::Ask, Asker::Client) => {
                self.permits.next += 1;
                let id = format!("{}.{}", self.id, self.permits.next);
                let deadline = Deadline::now() + self.permission_timeout;
                self.permits.counts.asked += 1;
                self.emit_permission(q, &id, &tool, Verdict::Ask, None);
                self.permits.pending.insert(
                    id,
                    Pending {
                        driver_id,
                        tool,
                        deadline,
                    },
                );
                return;
            }
            (Verdict::Ask, Asker::Fail) => {
                let what = describe(&tool);
                self.permits.refused.get_or_insert(what);
                DecidedBy::NoOneToAsk
            }
            (Verdict::Ask, Asker::Nobody) => DecidedBy::NoOneToAsk,
            (_, _) => by,
        };
        let allow = verdict == Verdict::Allow;
        self.permits.next += 1;
        let id = format!("{}.{}", self.id, self.permits.next);
        self.settle(q, &id, &driver_id, &tool, allow, by);
    }

    /// An answer to an open question; false when there is no such question (answered
    /// already: the first answer wins).
    pub(super) fn decide(&mut self, q: &mut Queued, id: &str, allow: bool, always: bool) -> bool {
        let Some(p) = self.permits.pending.remove(id) else {
            return false;
        };
        if allow && always {
            self.permits.always.push(Rule {
                kind: p.tool.kind,
                pattern: p.tool.subject.clone(),
            });
        }
        self.settle(q, id, &p.driver_id, &p.tool, allow, DecidedBy::User);
        true
    }

    /// Denies every question whose time ran out.
    pub(super) fn expire(&mut self, q: &mut Queued) {
        let now = Deadline::now();
        let late: Vec<String> = self
            .permits
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in late {
            if let Some(p) = self.permits.pending.remove(&id) {
                self.settle(q, &id, &p.driver_id, &p.tool, false, DecidedBy::Timeout);
            }
        }
    }

    /// Drops the questions of a turn that ended; the agent is told no, in case it still waits.
    pub(super) fn forget_questions(&mut self) {
        for (_, p) in self.permits.pending.drain() {
            if let Some(d) = self.driver.as_mut() {
                let _ = d.answer(&p.driver_id, false);
            }
        }
    }

    /// Answers the agent and reports the decision.
    fn settle(
        &mut self,
        q: &mut Queued,
        id: &str,
        driver_id: &str,
        tool: &ToolUse,
        allow: bool,
        by: DecidedBy,
    ) {
        if let Some(d) = self.driver.as_mut()
            && let Err(e) = d.answer(driver_id, allow)
        {
            tracing::warn!(session = %self.id, "cannot answer a permission request: {e}");
        }
        if allow {
            self.permits.counts.allowed += 1;
        } else {
            self.permits.counts.denied += 1;
        }
        let verdict = if allow { Verdict::Allow } else { Verdict::Deny };
        self.emit_permission(q, id, tool, verdict, Some(by));
    }

    fn emit_permission(
        &mut self,
        q: &mut Queued,
        id: &str,
        tool: &ToolUse,
        decision: Verdict,
        by: Option<DecidedBy>,
    ) {
        let hint = match (&decision, &by) {
            (Verdict::Deny, Some(DecidedBy::Rule(rule))) => Some(format!(
                "the rule {rule} refuses it; remove or narrow that rule"
            )),
            (Verdict::Deny, _) => Some(how_to_allow(tool)),
            _ => None,
        };
        let event = Event::Permission(PermissionEvent {
            id: id.to_string(),
            tool: tool.clone(),
            decision,
            by,
            hint,
        });
        self.emit(q, event);
    }
}

/// The error of a turn that needed an answer nobody could give (`--non-interactive fail`).
pub(super) fn refused_error(what: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::PermissionDenied,
        format!(
            "the agent asked to use {what}, the policy leaves that to a person, and nobody could be asked (--non-interactive fail); allow it with --allow or --permissions, or run on a terminal"
        ),
    )
}

fn describe(tool: &ToolUse) -> String {
    match &tool.subject {
        Some(s) => format!("{} ({}: {s})", tool.tool, tool.kind),
        None => format!("{} ({})", tool.tool, tool.kind),
    }
}
