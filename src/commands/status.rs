//! `status`: runs in flight with their state, environment locks with holder, reason
//! and age, the last promotion and the last release.

use super::{Arrival, Context};
use crate::slack::render::escape;
use crate::store::EnvLock;
use crate::workflow::effect::{Block, Message};
use crate::workflow::event::CommandEvent;
use crate::workflow::run::Run;
use chrono::{DateTime, Utc};

pub fn on_command(ctx: &Context, event: &CommandEvent) -> anyhow::Result<Arrival> {
    let runs = ctx.scoped().runs()?;
    let locks = ctx.scoped().locks()?;
    let mut lines = vec![match ctx.stack {
        "" => "*lockstep status*".to_string(),
        stack => format!("*lockstep status* — stack `{}`", escape(stack)),
    }];
    let in_flight: Vec<&Run> = runs.iter().filter(|run| !run.is_finished()).collect();
    if in_flight.is_empty() {
        lines.push("Runs in flight: none.".to_string());
    } else {
        lines.push(format!("Runs in flight: {}", in_flight.len()));
        lines.extend(in_flight.iter().map(|run| run_line(ctx, run)));
    }
    if locks.is_empty() {
        lines.push("Environment locks: none.".to_string());
    } else {
        lines.push("Environment locks:".to_string());
        lines.extend(
            locks
                .iter()
                .map(|(env, lock)| lock_line(env, lock, ctx.now)),
        );
    }
    lines.push(last_promote(&runs));
    lines.push(last_release(&runs));
    lines.extend(watch_line(ctx));
    lines.push(store_line(ctx));
    let text = lines.join("\n");
    Ok(Arrival::announce(
        event,
        Message {
            text: "lockstep status".to_string(),
            blocks: vec![Block::Section(text)],
        },
    ))
}

/// `• `run-4fcfc55cad` `/frappe-stack diff --site=prod` for <@U0PM>, since 09:00 UTC: reading`.
pub(super) fn run_line(ctx: &Context, run: &Run) -> String {
    let header = run.header();
    format!(
        "  • `{}` `{} {}` for <@{}>, since {}: {}",
        escape(&header.id.0),
        ctx.config.command_name(),
        escape(&header.command.to_text()),
        header.requester.user,
        header.started_at.format("%H:%M UTC"),
        escape(&run.state_line())
    )
}

pub(super) fn lock_line(env: &str, lock: &EnvLock, now: DateTime<Utc>) -> String {
    let reason = if lock.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", escape(&lock.reason))
    };
    format!(
        "  • `{}` held by run `{}` for <@{}> since {} ({} ago){reason}",
        escape(env),
        escape(&lock.run_id.0),
        lock.holder,
        lock.since.format("%Y-%m-%d %H:%M UTC"),
        crate::checks::backup::human_age(now - lock.since)
    )
}

/// When the drift watcher runs next, in the freeze time zone; nothing without `[watch]`.
fn watch_line(ctx: &Context) -> Option<String> {
    let section = ctx.config.file.watch.as_ref()?;
    let zone = ctx.config.file.freeze.timezone;
    let next = section
        .cron()
        .ok()
        .and_then(|cron| crate::watch::next_run(&cron, zone, ctx.now));
    Some(match next {
        Some(at) => format!(
            "Drift watch: next `diff` of both sites {} (`{}`), posted in <#{}> if the drift changed.",
            at.with_timezone(&zone).format("%a %Y-%m-%d %H:%M %Z"),
            escape(&section.schedule),
            section.channel
        ),
        None => format!(
            "Drift watch: `{}` never fires again.",
            escape(&section.schedule)
        ),
    })
}

/// How much the store holds: `Store: 1.2 MB on disk (3 runs, 140 dedup keys, …); audit log 2.0 MB`.
fn store_line(ctx: &Context) -> String {
    match ctx.store.size() {
        Ok(size) => format!(
            "Store: {} on disk ({}, {} queued, {} recent event keys, {} posted-message keys, {} audit entries); audit log {}.",
            human_bytes(size.bytes_on_disk),
            crate::blueprint::render::plural(size.runs, "run"),
            size.outbox,
            size.seen,
            size.posted,
            size.audit,
            human_bytes(size.audit_log_bytes)
        ),
        Err(err) => format!("Store: size unknown ({}).", escape(&err.to_string())),
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The newest promotion that started, and how it stands or ended.
fn last_promote(runs: &[Run]) -> String {
    let last = runs
        .iter()
        .filter_map(|run| match run {
            Run::Promotion(promotion) => Some(promotion),
            _ => None,
        })
        .max_by_key(|promotion| promotion.header.started_at);
    match last {
        None => "Last promote: none yet.".to_string(),
        Some(promotion) => {
            let pr = promotion
                .facts
                .pr
                .as_ref()
                .map(|pr| format!(", PR <{}|#{}>", pr.url, pr.number))
                .unwrap_or_default();
            let when = promotion
                .facts
                .ended_at
                .unwrap_or(promotion.header.started_at);
            format!(
                "Last promote: `{}` by <@{}>, {} ({}){pr}",
                escape(&promotion.header.id.0),
                promotion.header.requester.user,
                promotion.state.describe(),
                when.format("%Y-%m-%d %H:%M UTC")
            )
        }
    }
}

/// The newest release shipped: its tag, where its notes are, and when.
fn last_release(runs: &[Run]) -> String {
    let last = runs
        .iter()
        .filter_map(|run| match run {
            Run::Ship(ship) => ship.shipped(),
            _ => None,
        })
        .max_by_key(|(_, _, at)| *at);
    match last {
        None => "Last release: none yet.".to_string(),
        Some((tag, url, at)) => {
            let notes = url
                .map(|url| format!(", <{url}|release notes>"))
                .unwrap_or_default();
            format!(
                "Last release: `{}` ({}){notes}",
                escape(&tag),
                at.format("%Y-%m-%d %H:%M UTC")
            )
        }
    }
}
