//! `push [--dry-run]`: make the staging site match the staging branch (git wins).
//! The plan is made once; each write is its own effect, checked first and audited
//! when done; then the site is read back. Production has no such command: the
//! grammar refuses `--site=prod`, and the production site type has no write methods.

use super::apply::{writes_of, PLAN_LINES};
use super::diff::{read_branch, read_site};
use super::{header, Arrival, Context};
use crate::adapters::{Side, Tracked};
use crate::blueprint::plan::Plan;
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
    let (site_set, branch) = tokio::try_join!(read_site(tracked), read_branch(tracked))?;
    let plan = Plan::between(&site_set, &branch.blueprints);
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
    let (site_set, branch) = tokio::try_join!(read_site(tracked), read_branch(tracked))?;
    let remaining = Plan::between(&site_set, &branch.blueprints);
    Ok(Outcome::Verified {
        remaining: remaining.len(),
    })
}
