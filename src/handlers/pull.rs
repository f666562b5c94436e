//! `pull`: capture the staging site into the staging branch as one commit.

use super::{Context, Outcome};
use crate::command::{Command, SiteSel};
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;

pub fn handle(ctx: &Context, event: &CommandEvent) -> anyhow::Result<Outcome> {
    let tracking = ctx.config.tracking(SiteSel::Staging)?;
    let message = Message::text(format!(
        ":hourglass_flowing_sand: Pull: capturing site `{}` into branch `{}`…",
        tracking.site, tracking.branch
    ));
    Ok(Outcome::start_job(ctx, event, Command::Pull, message))
}
