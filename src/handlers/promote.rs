//! `promote`: today, `--dry-run` runs the whole pre-promote checklist as a job and
//! reports the verdict; the promotion itself (branch, PR, review, merge, deploy) is
//! not built yet and says so rather than pretend.

use super::{unavailable, Context, Outcome};
use crate::command::{Command, SiteSel};
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;

pub fn handle(ctx: &Context, event: &CommandEvent, command: &Command) -> anyhow::Result<Outcome> {
    let Command::Promote { dry_run: true, .. } = command else {
        let explanation = format!(
            "Promoting is not available yet in this version of lockstep, so nothing was done. \
             `{} promote --dry-run` runs the whole checklist and tells you whether a promotion \
             would go ahead.",
            ctx.config.command_name()
        );
        return Ok(unavailable::handle_explained(
            ctx,
            event,
            command,
            explanation,
        ));
    };
    ctx.config.tracking(SiteSel::Staging)?;
    ctx.config.tracking(SiteSel::Prod)?;
    let message = Message::text(":hourglass_flowing_sand: Promote (dry run): reading staging, production and both branches…");
    Ok(Outcome::start_job(ctx, event, command.clone(), message))
}
