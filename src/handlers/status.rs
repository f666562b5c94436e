//! `status`: runs in flight, environment locks, the last promotion and release.

use super::{Context, Outcome};
use crate::slack::render::escape;
use crate::store::EnvLock;
use crate::workflow::effect::{Block, Message};
use crate::workflow::event::CommandEvent;
use crate::workflow::job::JobRecord;

pub fn handle(ctx: &Context, event: &CommandEvent) -> anyhow::Result<Outcome> {
    let runs = ctx.store.runs()?;
    let locks = ctx.store.locks()?;
    let mut lines = vec!["*lockstep status*".to_string()];
    if runs.is_empty() {
        lines.push("Runs in flight: none.".to_string());
    } else {
        lines.push(format!("Runs in flight: {}", runs.len()));
        lines.extend(runs.iter().map(|(id, state)| run_line(ctx, &id.0, state)));
    }
    if locks.is_empty() {
        lines.push("Environment locks: none.".to_string());
    } else {
        lines.push("Environment locks:".to_string());
        lines.extend(locks.iter().map(|(env, lock)| lock_line(env, lock)));
    }
    // Promotions and releases are recorded by the promote and ship workflows.
    lines.push("Last promote: none yet.".to_string());
    lines.push("Last release: none yet.".to_string());
    let text = lines.join("\n");
    Ok(Outcome::announce(
        event,
        Message {
            text: "lockstep status".to_string(),
            blocks: vec![Block::Section(text)],
        },
    ))
}

/// `• `run-4fcfc55cad` `/frappe-stack diff --site=prod` for <@U0PM>, since 09:00 UTC`.
fn run_line(ctx: &Context, id: &str, state: &serde_json::Value) -> String {
    match JobRecord::from_json(state) {
        Some(job) => format!(
            "  • `{}` `{} {}` for <@{}>, since {}",
            escape(id),
            ctx.config.command_name(),
            escape(&job.command.to_text()),
            job.requester.user,
            job.started_at.format("%H:%M UTC")
        ),
        None => format!("  • `{}`", escape(id)),
    }
}

fn lock_line(env: &str, lock: &EnvLock) -> String {
    format!(
        "  • `{}` held by run `{}` for <@{}> since {}",
        escape(env),
        escape(&lock.run_id.0),
        lock.holder,
        lock.since.format("%Y-%m-%d %H:%M UTC")
    )
}
