//! The `rollback` jobs. First a plan: what it takes to bring the staging site back to
//! the blueprints at a git ref, posted with [Apply] / [Cancel] buttons (or only shown,
//! for `--dry-run`). Then the decision: only the person who asked, or an admin, may
//! press a button; applying recomputes the plan against the site as it is now and
//! audits every change.

use super::apply::{apply, PLAN_LINES};
use super::{JobResult, Reporter};
use crate::access;
use crate::blueprint::plan::Plan;
use crate::blueprint::render::plural;
use crate::github::GithubError;
use crate::services::Services;
use crate::workflow::effect::{Block, Button, ButtonStyle, Message};
use crate::workflow::job::{JobRecord, RollbackButton};

pub const APPLY: &str = "rollback_apply";
pub const CANCEL: &str = "rollback_cancel";

fn buttons(value: &RollbackButton) -> Block {
    let value = value.encode();
    Block::Buttons(vec![
        Button {
            action_id: APPLY.into(),
            text: "Apply".into(),
            value: value.clone(),
            style: Some(ButtonStyle::Danger),
        },
        Button {
            action_id: CANCEL.into(),
            text: "Cancel".into(),
            value,
            style: None,
        },
    ])
}

struct Rewind {
    plan: Plan,
    sha: String,
    headline: String,
}

async fn rewind_plan(services: &Services, git_ref: &str) -> anyhow::Result<Rewind> {
    let github = services.github()?;
    let staging = services.tracked(crate::command::SiteSel::Staging)?;
    let sha = github.resolve_commit(git_ref).await.map_err(|err| {
        let text = match err {
            GithubError::Validation { .. } | GithubError::NotFound { .. } => format!(
                "No branch, tag or commit of the config repository is called `{git_ref}`. Use a branch, a tag or a commit id (7 characters or more)."
            ),
            other => format!("Cannot look up `{git_ref}` in the config repository: {other}"),
        };
        anyhow::Error::new(crate::error::UserError::new(text))
    })?;
    let ((_, target), site) = tokio::try_join!(
        async {
            github
                .read_blueprints(&sha)
                .await
                .map_err(anyhow::Error::from)
        },
        staging.read_site()
    )?;
    let headline = format!(
        "Plan: rewind site `{}` to `{git_ref}` ({})",
        staging.site_name(),
        &sha[..sha.len().min(7)]
    );
    Ok(Rewind {
        plan: Plan::between(&site, &target),
        sha,
        headline,
    })
}

pub async fn plan(
    services: &Services,
    git_ref: &str,
    dry_run: bool,
    record: &JobRecord,
    _reporter: &Reporter,
) -> anyhow::Result<JobResult> {
    let Rewind {
        plan,
        sha,
        headline,
    } = rewind_plan(services, git_ref).await?;
    let report = plan.render(&headline, PLAN_LINES);
    if plan.is_empty() {
        return Ok(JobResult {
            message: Message::with_code(format!(":white_check_mark: Rollback: nothing to do; the site already matches `{git_ref}`."), report),
            audit: vec![format!("plan to {git_ref} ({sha}): nothing to do")],
        });
    }
    if dry_run {
        return Ok(JobResult {
            message: Message::with_code(
                format!(
                    ":memo: Rollback (dry run): {} to reach `{git_ref}`; nothing was changed.",
                    plural(plan.len(), "change")
                ),
                report,
            ),
            audit: vec![format!(
                "dry run to {git_ref} ({sha}): {}",
                plural(plan.len(), "change")
            )],
        });
    }
    let value = RollbackButton {
        plan_run: record.run_id.0.clone(),
        sha: sha.clone(),
        proposer: record.requester.user.clone(),
        git_ref: git_ref.to_string(),
    };
    let mut message = Message::with_code(
        format!(
            ":rewind: Rollback: {} to bring the staging site back to `{git_ref}`. Nothing changes until <@{}> or an admin presses Apply.",
            plural(plan.len(), "change"),
            record.requester.user
        ),
        report,
    );
    message.blocks.push(buttons(&value));
    Ok(JobResult {
        message,
        audit: vec![format!(
            "planned to {git_ref} ({sha}): {}",
            plural(plan.len(), "change")
        )],
    })
}

/// A button press on a rollback plan, by `decider`.
pub struct Decided<'a> {
    pub value: &'a RollbackButton,
    pub decider: &'a str,
    pub apply: bool,
}

pub async fn decide(
    services: &Services,
    decided: Decided<'_>,
    reporter: &Reporter,
) -> anyhow::Result<JobResult> {
    let Decided {
        value,
        decider,
        apply: wants_apply,
    } = decided;
    let RollbackButton {
        sha,
        proposer,
        git_ref,
        ..
    } = value;
    let allowed = decider == proposer
        || access::is_allowed(&services.slack, &services.admins, decider).await?;
    if !allowed {
        // Keep the plan and its buttons; say why this press did nothing.
        let Rewind { plan, headline, .. } = rewind_plan(services, sha).await?;
        let mut message = Message::with_code(
            format!(":no_entry: <@{decider}> pressed a rollback button, but only <@{proposer}> or an admin may decide. Nothing was changed."),
            plan.render(&headline, PLAN_LINES),
        );
        message.blocks.push(buttons(value));
        return Ok(JobResult {
            message,
            audit: vec![format!(
                "refused a decision by {decider}: not the requester or an admin"
            )],
        });
    }
    if !wants_apply {
        return Ok(JobResult {
            message: Message::text(format!(":heavy_multiplication_x: Rollback to `{git_ref}` cancelled by <@{decider}>; nothing was changed.")),
            audit: vec![format!("cancelled rollback to {git_ref} ({sha})")],
        });
    }
    let Rewind { plan, headline, .. } = rewind_plan(services, sha).await?;
    let staging = services.staging_site()?;
    let applied = apply(staging, &plan, "Rollback", reporter).await?;
    Ok(JobResult {
        message: Message::with_code(
            format!(
                ":white_check_mark: Rolled the staging site back to `{git_ref}`: {} applied, decided by <@{decider}>.",
                plural(applied.len(), "change")
            ),
            plan.render(&headline, PLAN_LINES),
        ),
        audit: applied.into_iter().map(|change| format!("rollback to {git_ref}: {change}")).collect(),
    })
}
