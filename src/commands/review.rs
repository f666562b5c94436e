//! `review [--since=<ref>] [--blueprint=<name>]`: the reviewer's rules and the tester
//! on the blueprints the staging branch changes since a ref (the production branch
//! by default), optionally one blueprint only, reported as PRODUCT.md §3 shows it
//! with a recommendation. A read run.

use super::{failed, header, Arrival, Context};
use crate::adapters::Adapters;
use crate::checks::promotion_set;
use crate::checks::report::ReviewReport;
use crate::checks::reviewer::{select, summary};
use crate::command::{Command, GitRef};
use crate::config::Config;
use crate::error::UserError;
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;
use crate::workflow::op::{Failure, Op, OpResult, Outcome};
use crate::workflow::read::ReadRun;
use crate::workflow::run::Run;

pub fn on_command(
    ctx: &Context,
    event: &CommandEvent,
    since: Option<GitRef>,
    blueprint: Option<String>,
) -> anyhow::Result<Arrival> {
    ctx.adapters.staging()?;
    let announce = Message::text(
        ":hourglass_flowing_sand: Review: reading the staging branch and running the reviewer and the tester…",
    );
    let command = Command::Review {
        since: since.clone(),
        blueprint: blueprint.clone(),
    };
    let run = ReadRun::new(
        header(ctx, event, command),
        Op::Review { since, blueprint },
        announce,
    );
    Ok(Arrival::start(Run::Read(run)))
}

pub async fn read(
    adapters: &Adapters,
    config: &Config,
    since: Option<&GitRef>,
    blueprint: Option<&str>,
) -> OpResult {
    let staging = adapters
        .tracked(crate::command::SiteSel::Staging)
        .map_err(|e| Failure::Refused(e.0))?;
    let github = &staging.repo.github;
    let since = since
        .map(|git_ref| git_ref.as_str().to_string())
        .unwrap_or_else(|| staging.repo.production_branch.clone());
    let (branch, base) = tokio::try_join!(super::diff::index_branch(staging), async {
        github.index_blueprints(&since).await.map_err(|err| {
            Failure::Refused(format!(
                "Cannot read {} in the config repository: {}",
                crate::slack::render::code(&since),
                super::explain::explain(&err.into())
            ))
        })
    })?;
    // Held as digests; only what differs is read whole.
    let between = super::diff::read_between(github, &branch.blobs, &base).await?;
    let changed = promotion_set(&between.ours, &between.theirs, &[]);
    let selection = select(&changed, None, blueprint)
        .map_err(|problem| Failure::Refused(UserError::new(problem).0))?;
    let checks = &config.file.checks;
    let (findings, external_errors) = super::reviewer::findings(checks, &changed, &selection)
        .await
        .map_err(failed)?;
    let tester = super::tester::run(checks, adapters).await.map_err(failed)?;
    let report = ReviewReport {
        changed: selection.len(),
        since: &since,
        findings: &findings,
        external_errors: &external_errors,
        tester: tester.as_ref(),
        coverage_min: checks.coverage_min,
    };
    Ok(Outcome::Report {
        message: Message::with_code(
            format!(
                ":mag: Review of `{}` since {}",
                branch.label(),
                crate::slack::render::code(&since)
            ),
            report.render(),
        ),
        audit: vec![format!(
            "{} since {since}: {}",
            branch.label(),
            summary(&findings)
        )],
    })
}
