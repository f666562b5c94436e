//! `audit [N]`: the newest N audit entries (default 20), oldest first.

use super::{Arrival, Context};
use crate::slack::render::escape;
use crate::store::AuditEntry;
use crate::workflow::effect::{Block, Message};
use crate::workflow::event::CommandEvent;

pub const DEFAULT_ENTRIES: u32 = 20;

pub fn on_command(ctx: &Context, event: &CommandEvent, n: Option<u32>) -> anyhow::Result<Arrival> {
    let wanted = n.unwrap_or(DEFAULT_ENTRIES) as usize;
    let entries = ctx.store.audit_tail(wanted)?;
    let total = ctx.store.audit_len();
    let message = if entries.is_empty() {
        Message::text("The audit log is empty: nothing has been done through lockstep yet.")
    } else {
        let headline = format!("*Audit log*: the last {} of {total} entries", entries.len());
        let body = entries
            .iter()
            .map(entry_line)
            .collect::<Vec<_>>()
            .join("\n");
        Message {
            text: headline.clone(),
            blocks: vec![Block::Section(headline), Block::Section(body)],
        }
    };
    Ok(Arrival::announce(event, message))
}

fn entry_line(entry: &AuditEntry) -> String {
    let actor = if entry.actor.starts_with(['U', 'W']) {
        format!("<@{}>", entry.actor)
    } else {
        escape(&entry.actor)
    };
    let run = entry
        .run_id
        .as_ref()
        .map(|id| format!(" (run `{}`)", escape(&id.0)))
        .unwrap_or_default();
    let detail = if entry.detail.is_empty() {
        String::new()
    } else {
        format!(" — {}", escape(&entry.detail))
    };
    format!(
        "`{}` {actor} *{}*{detail}{run}",
        entry.at.format("%Y-%m-%d %H:%M UTC"),
        escape(&entry.action)
    )
}
