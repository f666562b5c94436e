//! The `review` job: the reviewer's rules and the tester on the blueprints the
//! staging branch changes since a ref (the production branch by default), optionally
//! one blueprint only, reported as PRODUCT.md §3 shows it with a recommendation.

use super::checklist::promotion_set;
use super::{JobResult, Reporter};
use crate::checks::report::ReviewReport;
use crate::checks::reviewer::{select, summary};
use crate::command::{GitRef, SiteSel};
use crate::error::UserError;
use crate::services::Services;
use crate::workflow::effect::Message;

pub async fn run(
    services: &Services,
    since: Option<&GitRef>,
    blueprint: Option<&str>,
    _reporter: &Reporter,
) -> anyhow::Result<JobResult> {
    let staging = services.tracked(SiteSel::Staging)?;
    let github = services.github()?;
    let since = since
        .map(|git_ref| git_ref.as_str().to_string())
        .unwrap_or_else(|| github.config().production_branch.clone());
    let (branch, base) = tokio::try_join!(staging.read_branch(), async {
        github.read_blueprints(&since).await.map_err(|err| {
            anyhow::Error::new(UserError::new(format!(
                "Cannot read `{since}` in the config repository: {err}"
            )))
        })
    })?;
    let changed = promotion_set(&branch.blueprints, &base.1, &[]);
    let selection = select(&changed, None, blueprint).map_err(UserError::new)?;
    let (findings, external_errors) =
        super::reviewer::findings(services, &changed, &selection).await?;
    let tester = super::tester::run(services).await?;
    let report = ReviewReport {
        changed: selection.len(),
        since: &since,
        findings: &findings,
        external_errors: &external_errors,
        tester: tester.as_ref(),
        coverage_min: services.config.file.checks.coverage_min,
    };
    Ok(JobResult {
        message: Message::with_code(
            format!(":mag: Review of `{}` since `{since}`", branch.label()),
            report.render(),
        ),
        audit: vec![format!(
            "{} since {since}: {}",
            branch.label(),
            summary(&findings)
        )],
    })
}
