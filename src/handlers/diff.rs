//! `diff [--site=staging|prod]`: drift between a site and the branch it tracks.
//! Reading a whole site takes a while, so it runs as a job that edits its message.

use super::{Context, Outcome};
use crate::command::{Command, SiteSel};
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;

pub fn handle(ctx: &Context, event: &CommandEvent, site: SiteSel) -> anyhow::Result<Outcome> {
    let tracking = ctx.config.tracking(site)?;
    let message = Message::text(format!(
        ":hourglass_flowing_sand: Diff: reading site `{}` and branch `{}`…",
        tracking.site, tracking.branch
    ));
    Ok(Outcome::start_job(
        ctx,
        event,
        Command::Diff { site },
        message,
    ))
}
