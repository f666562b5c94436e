//! `push [--dry-run]`: make the staging site match the staging branch (git wins).
//! The plan is made once; each write is its own effect, checked first and audited
//! when done; then the site is read back. Production has no such command: the
//! grammar refuses `--site=prod`, and the production site type has no write methods.
//! Both reads stream as `diff` does; only the bodies the plan writes are read whole.

use super::apply::{writes_of, PLAN_LINES};
use super::diff::{index_branch, plan_to, site_drift};
use super::{header, Arrival, Context};
use crate::adapters::{Side, Tracked};
use crate::command::Command;
use crate::frappe::StagingSite;
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;
use crate::workflow::op::{OpResult, Outcome, SyncPlan};
use crate::workflow::run::Run;
use crate::workflow::sync::PushRun;

pub fn on_command(ctx: &Context, event: &CommandEvent, dry_run: bool) -> anyhow::Result<Arrival> {
    let staging = ctx.adapters.staging()?;
    let verb = if dry_run { "planning" } else { "applying" };
    let announce = Message::text(format!(
        ":hourglass_flowing_sand: Push: {verb} branch `{}` on site `{}`…",
        staging.branch, staging.name
    ));
    let run = PushRun::new(
        header(ctx, event, Command::Push { dry_run }),
        announce,
        dry_run,
    );
    Ok(Arrival::start(Run::Push(run)))
}

pub async fn plan(staging: &Side<StagingSite>) -> OpResult {
    let tracked = Tracked::of(staging);
    let branch = index_branch(tracked).await?;
    let plan = plan_to(tracked, &branch).await?;
    let headline = format!(
        "Plan: make site `{}` match `{}`",
        staging.name,
        branch.label()
    );
    Ok(Outcome::PushPlan(Box::new(SyncPlan {
        rendered: plan.render(&headline, PLAN_LINES),
        headline,
        writes: writes_of(&plan),
        label: branch.label(),
        branch: branch.name.clone(),
        site: staging.name.to_string(),
    })))
}

/// What still differs after the writes (Frappe adds or keeps some records itself).
pub async fn verify(staging: &Side<StagingSite>, branch: &str) -> OpResult {
    let tracked = Tracked::of(staging);
    let _ = branch;
    let branch = index_branch(tracked).await?;
    // A plan has one step per differing blueprint: the drift's length.
    let remaining = site_drift(tracked, Some(&branch), |_, _| {}).await?;
    Ok(Outcome::Verified {
        remaining: remaining.len(),
    })
}
