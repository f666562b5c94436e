//! `review [--since=<ref>] [--blueprint=<name>]`: the reviewer and the tester on the
//! blueprints changed since a ref, as a job.

use super::{Context, Outcome};
use crate::command::{Command, SiteSel};
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;

pub fn handle(ctx: &Context, event: &CommandEvent, command: &Command) -> anyhow::Result<Outcome> {
    ctx.config.tracking(SiteSel::Staging)?;
    let message = Message::text(":hourglass_flowing_sand: Review: reading the staging branch and running the reviewer and the tester…");
    Ok(Outcome::start_job(ctx, event, command.clone(), message))
}
