//! `cap unbind KEY`: forget a key's binding (the session stays alive).

use crate::Ctx;
use cap_proto::request::{KeyRequest, Op};

pub fn run(ctx: &Ctx, key: String) -> anyhow::Result<()> {
    let answer = super::call(ctx, Op::Unbind(KeyRequest { key: key.clone() }))?;
    super::acknowledge(ctx, "unbind", &answer, &format!("unbound {key}"))
}
