//! `push [--dry-run]`: make the staging site match the staging branch (git wins).
//! Production has no such command: the grammar refuses `--site=prod`, and the
//! production site type has no write methods at all.

use super::{Context, Outcome};
use crate::command::{Command, SiteSel};
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;

pub fn handle(ctx: &Context, event: &CommandEvent, dry_run: bool) -> anyhow::Result<Outcome> {
    let tracking = ctx.config.tracking(SiteSel::Staging)?;
    let verb = if dry_run { "planning" } else { "applying" };
    let message = Message::text(format!(
        ":hourglass_flowing_sand: Push: {verb} branch `{}` on site `{}`…",
        tracking.branch, tracking.site
    ));
    Ok(Outcome::start_job(
        ctx,
        event,
        Command::Push { dry_run },
        message,
    ))
}
