//! The pre-promote checklist as a job (`promote --dry-run`): read the four sides
//! once (staging site, staging branch, production site, main), then run the eight
//! boxes concurrently, each with its timeout, editing the message as each one ends.
//! A side that cannot be read fails the boxes that need it, with the reason; the
//! others still run. Nothing here writes anywhere, except `bench backup` when the
//! newest production backup is too old.

use super::{JobResult, Reporter};
use crate::blueprint::{diff, families, BlueprintSet, Drift};
use crate::checks::backup::{
    backup_box, backup_decision, backup_from_path, backup_from_summary, BackupDecision,
};
use crate::checks::checklist::BoxJob;
use crate::checks::{self, run_checklist, BoxId, BoxOutcome};
use crate::command::{EmergencyReason, FamilySlug, SiteSel};
use crate::frappe::ListQuery;
use crate::services::{BranchSnapshot, Services};
use crate::workflow::effect::Message;
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;

/// One side of the comparison: read once, shared by the boxes that need it.
type Side = Arc<Result<BlueprintSet, String>>;

/// Everything the boxes look at, read concurrently up front.
struct Sides {
    staging_site: Side,
    staging_branch: Arc<Result<BranchSnapshot, String>>,
    prod_site: Side,
    main: Arc<Result<BranchSnapshot, String>>,
}

async fn read_sides(services: &Services) -> anyhow::Result<Sides> {
    let staging = services.tracked(SiteSel::Staging)?;
    let prod = services.tracked(SiteSel::Prod)?;
    let (staging_site, staging_branch, prod_site, main) = tokio::join!(
        staging.read_site(),
        staging.read_branch(),
        prod.read_site(),
        prod.read_branch()
    );
    let text = |err: anyhow::Error| format!("{err:#}");
    Ok(Sides {
        staging_site: Arc::new(staging_site.map_err(text)),
        staging_branch: Arc::new(staging_branch.map_err(text)),
        prod_site: Arc::new(prod_site.map_err(text)),
        main: Arc::new(main.map_err(text)),
    })
}

/// The promotion set: what the staging branch adds or changes against main,
/// narrowed to the `--only` families when given.
pub fn promotion_set(
    staging: &BlueprintSet,
    main: &BlueprintSet,
    only: &[FamilySlug],
) -> BlueprintSet {
    let drift = diff(staging, main);
    let mut set = BlueprintSet::new();
    let ids = drift.only_on_site.iter().cloned().chain(
        drift
            .changed
            .iter()
            .map(|change| (change.kind, change.name.clone())),
    );
    for (kind, name) in ids {
        if let Some(blueprint) = staging.get(kind, &name) {
            set.insert(blueprint.clone());
        }
    }
    if only.is_empty() {
        return set;
    }
    let wanted: Vec<&str> = only.iter().map(FamilySlug::as_str).collect();
    let mut narrowed = BlueprintSet::new();
    for family in families(&set)
        .into_iter()
        .filter(|f| wanted.contains(&f.slug.as_str()))
    {
        for (kind, name) in family.members {
            if let Some(blueprint) = set.get(kind, &name) {
                narrowed.insert(blueprint.clone());
            }
        }
    }
    narrowed
}

/// What a box needs from one side, or why it could not be read.
fn side<'a, T>(side: &'a Arc<Result<T, String>>, what: &str) -> anyhow::Result<&'a T> {
    side.as_ref()
        .as_ref()
        .map_err(|err| anyhow::anyhow!("cannot read {what}: {err}"))
}

pub async fn dry_run(
    services: Arc<Services>,
    only: &[FamilySlug],
    emergency: Option<&EmergencyReason>,
    reporter: &Reporter,
) -> anyhow::Result<JobResult> {
    let sides = read_sides(&services).await?;
    let promotion: Arc<Result<BlueprintSet, String>> =
        Arc::new(match (sides.staging_branch.as_ref(), sides.main.as_ref()) {
            (Ok(staging), Ok(main)) => {
                Ok(promotion_set(&staging.blueprints, &main.blueprints, only))
            }
            (Err(err), _) | (_, Err(err)) => Err(err.clone()),
        });
    let boxes = boxes(&services, &sides, &promotion, emergency);
    let timeout = Duration::from_secs(services.config.file.checks.box_timeout_secs);
    let verdict = run_checklist(boxes, timeout, |state| {
        if !state.is_finished() {
            reporter.progress_now(Message::with_code(
                ":hourglass_flowing_sand: Promote (dry run): running the checklist…",
                state.render(),
            ));
        }
    })
    .await;
    let headline = if verdict.passes() {
        ":white_check_mark: Promote (dry run): every box passes; a real promote would go ahead. Nothing was changed."
    } else {
        ":no_entry: Promote (dry run): the promotion would be refused. Nothing was changed."
    };
    let mut audit = vec![verdict.summary()];
    if let Some(reason) = emergency {
        audit.push(format!("emergency requested: {}", reason.plain()));
    }
    Ok(JobResult {
        message: Message::with_code(headline, verdict.render()),
        audit,
    })
}

fn boxes(
    services: &Arc<Services>,
    sides: &Sides,
    promotion: &Arc<Result<BlueprintSet, String>>,
    emergency: Option<&EmergencyReason>,
) -> Vec<BoxJob> {
    let config = &services.config.file;
    let mut jobs: Vec<BoxJob> = Vec::new();

    let (staging_site, staging_branch, prod_site, main) = (
        sides.staging_site.clone(),
        sides.staging_branch.clone(),
        sides.prod_site.clone(),
        sides.main.clone(),
    );
    jobs.push((
        BoxId::Diff,
        async move {
            let staging: Drift = diff(
                side(&staging_site, "the staging site")?,
                &side(&staging_branch, "the staging branch")?.blueprints,
            );
            let production: Drift = diff(
                side(&prod_site, "the production site")?,
                &side(&main, "the production branch")?.blueprints,
            );
            Ok(checks::diff::diff_box(&staging, &production))
        }
        .boxed(),
    ));

    let (set, staging_site, policy) = (
        promotion.clone(),
        sides.staging_site.clone(),
        config.validation.policy(),
    );
    jobs.push((
        BoxId::Blueprints,
        async move {
            Ok(checks::blueprints::blueprints_box(
                side(&set, "the promotion set")?,
                side(&staging_site, "the staging site")?,
                &policy,
            ))
        }
        .boxed(),
    ));

    let (services_for_reviewer, set) = (services.clone(), promotion.clone());
    jobs.push((
        BoxId::Reviewer,
        async move {
            let set = side(&set, "the promotion set")?;
            let selection =
                checks::reviewer::select(set, None, None).map_err(anyhow::Error::msg)?;
            let (findings, errors) =
                super::reviewer::findings(&services_for_reviewer, set, &selection).await?;
            let mut outcome = checks::reviewer::reviewer_box(&findings);
            outcome.more.extend(
                errors
                    .into_iter()
                    .map(|error| format!("external reviewer: {error}")),
            );
            Ok(outcome)
        }
        .boxed(),
    ));

    let services_for_tester = services.clone();
    jobs.push((
        BoxId::Tester,
        async move {
            let coverage_min = services_for_tester.config.file.checks.coverage_min;
            match super::tester::run(&services_for_tester).await? {
                Some(result) => Ok(checks::tester::tester_box(&result, coverage_min)),
                None => Ok(BoxOutcome::fail(
                    BoxId::Tester,
                    "no tester is configured ([checks.tester])",
                )),
            }
        }
        .boxed(),
    ));

    let services_for_backup = services.clone();
    jobs.push((
        BoxId::Backup,
        async move { backup(&services_for_backup).await }.boxed(),
    ));

    let (services_for_roles, set) = (services.clone(), promotion.clone());
    jobs.push((
        BoxId::RoleCoverage,
        async move {
            let set = side(&set, "the promotion set")?;
            let production = services_for_roles.tracked(SiteSel::Prod)?;
            let query = ListQuery::new("name asc").fields(["name", "enabled", "roles.role"]);
            let rows = production.site.list_all("User", &query).await?;
            let rows: Vec<serde_json::Value> =
                rows.into_iter().map(serde_json::Value::Object).collect();
            Ok(checks::roles::role_coverage(
                set,
                &checks::roles::users_from_rows(&rows),
            ))
        }
        .boxed(),
    ));

    let (now, freeze, reason) = (
        services.clock.now(),
        config.freeze.clone(),
        emergency.map(|r| r.plain()),
    );
    jobs.push((
        BoxId::FreezeGuard,
        async move { Ok(checks::freeze::freeze(now, &freeze, reason.as_deref())) }.boxed(),
    ));

    let (set, max) = (promotion.clone(), config.promote.max_families);
    jobs.push((
        BoxId::Bundle,
        async move {
            Ok(checks::bundle::bundle(
                side(&set, "the promotion set")?,
                max,
            ))
        }
        .boxed(),
    ));
    jobs
}

/// The newest production backup if young enough, else a new one through the runner.
async fn backup(services: &Services) -> anyhow::Result<BoxOutcome> {
    let production = services.tracked(SiteSel::Prod)?;
    let zone: chrono_tz::Tz = production
        .site
        .get_time_zone()
        .await?
        .parse()
        .map_err(|err| {
            anyhow::anyhow!("the production site's time zone is not one we know: {err}")
        })?;
    let latest = production.site.fetch_latest_backups().await?;
    let newest = latest
        .database
        .as_deref()
        .map(|path| backup_from_path(path, zone))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let now = services.clock.now();
    let decision = backup_decision(
        newest.as_ref(),
        now,
        services.config.file.checks.backup_max_age_hours,
    );
    let taken = match (&decision, &services.runner) {
        (BackupDecision::Fresh(_), _) => None,
        (BackupDecision::TakeNew { .. }, None) => {
            Some(Err("no [runner] is configured to take one".to_string()))
        }
        (BackupDecision::TakeNew { .. }, Some(runner)) => Some(
            runner
                .backup(production.site.site())
                .await
                .map(|summary| backup_from_summary(&summary, zone))
                .map_err(|err| err.to_string()),
        ),
    };
    let taken = taken
        .as_ref()
        .map(|result| result.as_ref().map_err(String::as_str));
    Ok(backup_box(&decision, taken, now))
}
