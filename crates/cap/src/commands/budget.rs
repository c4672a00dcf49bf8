//! `cap budget reset [--key K]`: forget what a key has spent, so its spending cap (config
//! `[budgets]` or `--budget`) allows prompts again.

use crate::Ctx;
use crate::cli::BudgetAction;
use cap_proto::request::{KeyRequest, Op};

pub fn run(ctx: &Ctx, action: BudgetAction) -> anyhow::Result<()> {
    match action {
        BudgetAction::Reset { key } => {
            let key = match key {
                Some(k) => k,
                None => cap_proto::key::default_key(&crate::route::cwd(None)?),
            };
            let answer = super::call(ctx, Op::ResetBudget(KeyRequest { key }))?;
            super::acknowledge(ctx, "budget reset", &answer, "reset")
        }
    }
}
