//! The `diff` job: read a site and the branch it tracks at the same time, and
//! report the drift as PRODUCT.md §3 shows it.

use super::{JobResult, Reporter};
use crate::blueprint::diff;
use crate::blueprint::render::{plural, RenderOptions};
use crate::command::SiteSel;
use crate::services::Services;
use crate::workflow::effect::Message;

pub async fn run(
    services: &Services,
    site: SiteSel,
    _reporter: &Reporter,
) -> anyhow::Result<JobResult> {
    let tracked = services.tracked(site)?;
    let (site_set, branch) = tokio::try_join!(tracked.read_site(), tracked.read_branch(),)?;
    let drift = diff(&site_set, &branch.blueprints);
    let report = drift.render(&RenderOptions::new(tracked.site_url(), branch.label()));
    let headline = if drift.is_empty() {
        format!(
            ":white_check_mark: No drift between site `{}` and `{}`.",
            tracked.site_name(),
            branch.label()
        )
    } else {
        format!(
            ":warning: {} between site `{}` and `{}`.",
            plural(drift.len(), "difference"),
            tracked.site_name(),
            branch.label()
        )
    };
    Ok(JobResult {
        message: Message::with_code(headline, report),
        audit: vec![format!(
            "{} vs {}: {}",
            tracked.site_name(),
            branch.label(),
            plural(drift.len(), "difference")
        )],
    })
}
