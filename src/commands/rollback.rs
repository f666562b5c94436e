//! `rollback <git-ref> [--dry-run]`: rewind the staging site to the blueprints at a
//! ref. The plan is posted first, with [Apply] / [Cancel] buttons; the run decides
//! who may press (see `workflow::rollback`). Here: arrival and the plan's reads.

use super::apply::{writes_of, PLAN_LINES};
use super::diff::{plan_to, BranchIndex};
use super::{failed, header, Arrival, Context};
use crate::adapters::{Side, Tracked};
use crate::command::{Command, GitRef};
use crate::frappe::StagingSite;
use crate::github::GithubError;
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;
use crate::workflow::op::{Failure, OpResult, Outcome, RollbackPlan, SyncPlan};
use crate::workflow::rollback::RollbackRun;
use crate::workflow::run::Run;

pub fn on_command(
    ctx: &Context,
    event: &CommandEvent,
    git_ref: GitRef,
    dry_run: bool,
) -> anyhow::Result<Arrival> {
    let staging = ctx.adapters.staging()?;
    let announce = Message::text(format!(
        ":hourglass_flowing_sand: Rollback: planning how to bring site `{}` back to {}…",
        staging.name,
        crate::slack::render::code(git_ref.as_str())
    ));
    let command = Command::Rollback {
        git_ref: git_ref.clone(),
        dry_run,
    };
    let run = RollbackRun::new(
        header(ctx, event, command),
        announce,
        git_ref.as_str().to_string(),
        dry_run,
    );
    Ok(Arrival::start(Run::Rollback(run)))
}

/// The plan that brings the staging site to the blueprints at `target`.
pub async fn plan(staging: &Side<StagingSite>, target: &str) -> OpResult {
    let github = &staging.repo.github;
    let sha = github.resolve_commit(target).await.map_err(|err| match err {
        GithubError::Validation { .. } | GithubError::NotFound { .. } => Failure::Refused(format!(
            "No branch, tag or commit of the config repository is called {}. Use a branch, a tag or a commit id (7 characters or more).",
            crate::slack::render::code(target)
        )),
        other => failed(other),
    })?;
    let tracked = Tracked::of(staging);
    let wanted = BranchIndex {
        name: target.to_string(),
        blobs: github.index_blueprints(&sha).await.map_err(failed)?,
    };
    let plan = plan_to(tracked, &wanted).await?;
    let headline = format!(
        "Plan: rewind site `{}` to `{target}` ({})",
        staging.name,
        &sha[..sha.len().min(7)]
    );
    Ok(Outcome::RollbackPlan(Box::new(RollbackPlan {
        sha: sha.clone(),
        plan: SyncPlan {
            rendered: plan.render(&headline, PLAN_LINES),
            headline,
            writes: writes_of(&plan),
            label: format!("{target}@{}", &sha[..sha.len().min(7)]),
            branch: target.to_string(),
            site: staging.name.to_string(),
        },
    })))
}
