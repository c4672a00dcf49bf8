//! A turn with a schema (`--schema`): its prompt, the answer read back and validated, and
//! up to [`MAX_REASKS`] re-asks carrying the validator's message. The schema's own logic
//! (instructions, extraction, validation) is `crate::schema`'s; this is only the turn's.

use super::actor::{Actor, Queued};
use super::turn::Outcome;
use crate::schema::{MAX_REASKS, Schema};
use cap_proto::{ErrorBody, ErrorCode, StatusKind, StopReason};
use serde_json::Value;

impl Actor {
    /// Runs a turn whose answer must validate against `schema`. A valid answer comes back
    /// with its value; an answer that still fails after the re-asks fails the turn with
    /// the failing JSON path, and a cancelled turn ends without a value.
    pub(super) async fn structured(
        &mut self,
        q: &mut Queued,
        text: &str,
        schema: &Schema,
    ) -> (Outcome, Option<Value>) {
        // A protocol that holds the turn to the schema itself needs no instructions; the
        // answer is still validated here, as everywhere.
        let mut prompt = if self.spec.protocol.native_schema() {
            text.to_string()
        } else {
            format!("{text}\n\n{}", schema.instructions())
        };
        let mut reasks = 0;
        loop {
            let outcome = self.attempts(q, &prompt).await;
            let Outcome::Done {
                output,
                stop_reason,
            } = &outcome
            else {
                return (outcome, None);
            };
            if *stop_reason == StopReason::Cancelled {
                return (outcome, None);
            }
            let mismatch = match schema.check(output) {
                Ok(value) => return (outcome, Some(value)),
                Err(m) => m,
            };
            if reasks == MAX_REASKS {
                let message = format!(
                    "{}'s answer does not match the schema ({mismatch}), after {MAX_REASKS} \
                     re-asks; nothing was printed. Loosen the schema or say more in the prompt",
                    self.spec.name
                );
                return (
                    Outcome::Failed(ErrorBody::new(ErrorCode::Agent, message)),
                    None,
                );
            }
            reasks += 1;
            self.status(
                q,
                StatusKind::Reask,
                format!(
                    "the answer does not match the schema ({mismatch}); asking again \
                     ({reasks}/{MAX_REASKS})"
                ),
            );
            prompt = schema.reask(&mismatch);
        }
    }
}
