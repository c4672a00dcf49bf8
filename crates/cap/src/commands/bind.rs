//! `cap bind KEY ID`: point a key at a live session.

use crate::Ctx;
use cap_proto::request::{BindRequest, Op};

pub fn run(ctx: &Ctx, key: String, id: String) -> anyhow::Result<()> {
    let answer = super::call(
        ctx,
        Op::Bind(BindRequest {
            key: key.clone(),
            session: id.clone(),
        }),
    )?;
    super::acknowledge(
        ctx,
        "bind",
        &answer,
        &format!("bound {key} to session {id}"),
    )
}
