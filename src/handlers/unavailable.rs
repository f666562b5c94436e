//! Subcommands the grammar knows but this version cannot carry out yet. They are
//! answered honestly, by name, and the request is audited like any other.

use super::{Context, Outcome};
use crate::command::Command;
use crate::store::AuditEntry;
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;

pub fn handle(ctx: &Context, event: &CommandEvent, command: &Command) -> Outcome {
    let name = ctx.config.command_name();
    let explanation = format!(
        "`{name} {}` is not available yet in this version of lockstep, so nothing was done. \
         `{name} help` lists what is.",
        command.subcommand().name()
    );
    handle_explained(ctx, event, command, explanation)
}

/// The same, with an explanation that points at what the person can do instead.
pub fn handle_explained(
    ctx: &Context,
    event: &CommandEvent,
    command: &Command,
    explanation: String,
) -> Outcome {
    let name = command.subcommand().name();
    let mut outcome = Outcome::reply(event, Message::text(explanation));
    outcome.audit.push(AuditEntry {
        at: ctx.now,
        actor: event.user.clone(),
        action: name.to_string(),
        detail: "refused: not available yet".to_string(),
        run_id: None,
    });
    outcome
}
