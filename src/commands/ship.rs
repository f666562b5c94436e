//! `ship <version> [--notes-from=<pr>]`: tag a release. Not built yet: answered by
//! name, audited, and nothing is done.

use super::{Arrival, Context};
use crate::command::PrNumber;
use crate::store::AuditEntry;
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;

pub fn on_command(
    ctx: &Context,
    event: &CommandEvent,
    _version: semver::Version,
    _notes_from: Option<PrNumber>,
) -> Arrival {
    let name = ctx.config.command_name();
    Arrival::reply(
        event,
        Message::text(format!(
            "`{name} ship` is not available yet in this version of lockstep, so nothing was done. \
             `{name} help` lists what is."
        )),
    )
    .audited(AuditEntry {
        at: ctx.now,
        actor: event.user.clone(),
        action: "ship".to_string(),
        detail: "refused: not available yet".to_string(),
        run_id: None,
    })
}
