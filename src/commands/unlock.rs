//! `unlock <env> --reason="…"`: an admin releases an environment lock that a
//! crashed, abandoned or rolled-back run left behind. Refused for anyone else;
//! audited either way, with the reason and the run that held the lock.

use super::{Arrival, Context};
use crate::command::{EmergencyReason, EnvName};
use crate::slack::render::escape;
use crate::store::AuditEntry;
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;

pub fn on_command(
    ctx: &Context,
    event: &CommandEvent,
    env: EnvName,
    reason: EmergencyReason,
) -> anyhow::Result<Arrival> {
    let audit = |detail: String| AuditEntry {
        at: ctx.now,
        actor: event.user.clone(),
        action: "unlock".to_string(),
        detail,
        run_id: None,
    };
    if !ctx.roles.admin {
        let detail = format!("refused: not an admin (unlock {})", env.as_str());
        return Ok(Arrival::reply(
            event,
            Message::text(format!(
                ":no_entry: Only admins (access.admins) may unlock an environment, so the `{}` lock stays. Nothing was changed.",
                env.as_str()
            )),
        )
        .audited(audit(detail)));
    }
    let held = ctx
        .scoped()
        .locks()?
        .into_iter()
        .find(|(name, _)| name == env.as_str());
    let Some((_, lock)) = held else {
        return Ok(Arrival::reply(
            event,
            Message::text(format!("`{}` is not locked; nothing to do.", env.as_str())),
        ));
    };
    let mut arrival = Arrival::announce(
        event,
        Message::text(format!(
            ":unlock: <@{}> released the `{}` lock held by run `{}` (<@{}>). Reason: {}",
            event.user,
            env.as_str(),
            escape(&lock.run_id.0),
            lock.holder,
            escape(&reason.plain())
        )),
    );
    arrival
        .locks
        .push((crate::stacks::stack_key(ctx.stack, env.as_str()), None));
    arrival.audit.push(AuditEntry {
        run_id: Some(lock.run_id.clone()),
        ..audit(format!(
            "released {} (held by {} for run {}): {}",
            env.as_str(),
            lock.holder,
            lock.run_id,
            reason.plain()
        ))
    });
    Ok(arrival)
}
