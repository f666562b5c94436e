//! The `push` job: make the staging site match the staging branch, git wins. A
//! dry run only shows the plan. Applying goes step by step through the staging
//! site's write methods (production has none), then reads the site again and
//! reports anything Frappe itself changed or refused. Every change is audited.

use super::apply::{apply, PLAN_LINES};
use super::{JobResult, Reporter};
use crate::blueprint::plan::Plan;
use crate::blueprint::render::plural;
use crate::command::SiteSel;
use crate::services::Services;
use crate::workflow::effect::Message;

pub async fn run(
    services: &Services,
    dry_run: bool,
    reporter: &Reporter,
) -> anyhow::Result<JobResult> {
    let tracked = services.tracked(SiteSel::Staging)?;
    let staging = services.staging_site()?;
    let (site_set, branch) = tokio::try_join!(tracked.read_site(), tracked.read_branch())?;
    let plan = Plan::between(&site_set, &branch.blueprints);
    let headline = format!(
        "Plan: make site `{}` match `{}`",
        tracked.site_name(),
        branch.label()
    );
    if dry_run || plan.is_empty() {
        let lead = if plan.is_empty() {
            format!(
                ":white_check_mark: Push: site `{}` already matches `{}`.",
                tracked.site_name(),
                branch.label()
            )
        } else {
            format!(
                ":memo: Push (dry run): {} would be made; nothing was changed.",
                plural(plan.len(), "change")
            )
        };
        return Ok(JobResult {
            message: Message::with_code(lead, plan.render(&headline, PLAN_LINES)),
            audit: vec![format!("dry run: {}", plural(plan.len(), "change"))],
        });
    }
    let applied = apply(staging, &plan, "Push", reporter).await?;
    let after = tracked.read_site().await?;
    let remaining = Plan::between(&after, &branch.blueprints);
    let verdict = if remaining.is_empty() {
        format!(
            ":white_check_mark: Push: applied {} to site `{}`; it now matches `{}`.",
            plural(plan.len(), "change"),
            tracked.site_name(),
            branch.label()
        )
    } else {
        format!(
            ":warning: Push: applied {}, but the site still differs from `{}` in {} (Frappe adds or keeps some records itself; see `diff`).",
            plural(plan.len(), "change"),
            branch.label(),
            plural(remaining.len(), "place")
        )
    };
    let from = branch.label();
    Ok(JobResult {
        message: Message::with_code(verdict, plan.render(&headline, PLAN_LINES)),
        audit: applied
            .into_iter()
            .map(|change| format!("{change} (from {from})"))
            .collect(),
    })
}
