//! The pre-promote checklist, shared by `promote --dry-run` and the promotion run:
//! read the four sides once (staging site, staging branch, production site, main),
//! then run the eight boxes concurrently, each with its timeout, editing the
//! message as each one ends. A side that cannot be read fails the boxes that need
//! it, with the reason; the others still run. Nothing here writes anywhere: a stale
//! backup is reported ("one will be taken"), and the promotion run takes it after.
//! The sides are read as `diff` reads them: the branches as digests, each site
//! streamed against its branch (kept as its drift, and staging's as digests), and
//! whole bodies only for the blueprints that differ between the two branches, so a
//! 50,000-blueprint stack is never held as four sets of JSON trees.

use crate::blueprint::families::families;
use crate::blueprint::{BlueprintSet, Drift, Kind};
use crate::checks::backup::{backup_decision, backup_from_path, backup_plan_box, BackupDecision};
use crate::checks::blueprints::SiteDigests;
use crate::checks::checklist::BoxJob;
use crate::checks::{self, promotion_members_laid_out, run_checklist, BoxId, BoxOutcome};
use crate::command::SiteSel;
use crate::commands::diff::{index_branch, read_between, site_drift, Between, BranchIndex};
use crate::commands::Performers;
use crate::frappe::ListQuery;
use crate::ids::RunId;
use crate::workflow::effect::Message;
use crate::workflow::executor::Progress;
use crate::workflow::op::{
    ChecklistRequest, ChecklistResult, Failure, OpResult, Outcome, SetEntry, SmokeSurface,
};
use futures::FutureExt;
use std::sync::Arc;
use std::time::Duration;

/// One side of the comparison: read once, shared by the boxes that need it.
type Side<T> = Arc<Result<T, String>>;

/// Everything the boxes look at, read concurrently up front.
struct Sides {
    staging_site: Side<StagingSite>,
    staging_branch: Side<BranchIndex>,
    /// The production site's drift against main.
    prod_site: Side<Drift>,
    main: Side<BranchIndex>,
    /// What differs between the staging branch and main, with bodies.
    branches: Side<Between>,
}

/// The staging site: its drift against the staging branch, and its digests.
struct StagingSite {
    drift: Drift,
    digests: SiteDigests,
}

async fn read_sides(performers: &Performers) -> Result<Sides, Failure> {
    let adapters = &performers.adapters;
    let staging = adapters
        .tracked(SiteSel::Staging)
        .map_err(|e| Failure::Refused(e.0))?;
    let prod = adapters
        .tracked(SiteSel::Prod)
        .map_err(|e| Failure::Refused(e.0))?;
    let (staging_branch, main) = tokio::join!(index_branch(staging), index_branch(prod));
    // A site is streamed against its branch, so the branch is read first; a site
    // whose branch failed is still read, for the boxes that need the site alone.
    let staging_site = async {
        let mut digests = SiteDigests::default();
        let branch = staging_branch.as_ref().ok();
        let drift = site_drift(staging, branch, |blueprint, digest| {
            digests.insert(blueprint.kind, &blueprint.name, digest);
        })
        .await?;
        Ok::<_, Failure>(StagingSite { drift, digests })
    };
    let prod_site = site_drift(prod, main.as_ref().ok(), |_, _| {});
    let branches = async {
        match (&staging_branch, &main) {
            (Ok(staging_branch), Ok(main)) => {
                read_between(&staging.repo.github, &staging_branch.blobs, &main.blobs).await
            }
            (Err(err), _) | (_, Err(err)) => Err(Failure::Refused(err.text())),
        }
    };
    let (staging_site, prod_site, branches) = tokio::join!(staging_site, prod_site, branches);
    let text = |failure: Failure| failure.text();
    Ok(Sides {
        staging_site: Arc::new(staging_site.map_err(text)),
        staging_branch: Arc::new(staging_branch.map_err(text)),
        prod_site: Arc::new(prod_site.map_err(text)),
        main: Arc::new(main.map_err(text)),
        branches: Arc::new(branches.map_err(text)),
    })
}

/// What a box needs from one side, or why it could not be read.
fn side<'a, T>(side: &'a Arc<Result<T, String>>, what: &str) -> anyhow::Result<&'a T> {
    side.as_ref()
        .as_ref()
        .map_err(|err| anyhow::anyhow!("cannot read {what}: {err}"))
}

/// Runs the checklist: the report for a dry run, the facts for a promotion.
pub async fn perform(
    performers: &Performers,
    request: &ChecklistRequest,
    run_id: &RunId,
    progress: Progress,
) -> OpResult {
    let sides = read_sides(performers).await?;
    let promotion: Side<BlueprintSet> = Arc::new(match sides.branches.as_ref() {
        Ok(branches) => Ok(checks::promotion_set(
            &branches.ours,
            &branches.theirs,
            &request.only,
        )),
        Err(err) => Err(err.clone()),
    });
    let (boxes, backup) = boxes(performers, &sides, &promotion, request);
    let timeout = Duration::from_secs(performers.config.file.checks.box_timeout_secs);
    let label = if request.dry_run {
        "Promote (dry run): running the checklist…"
    } else {
        "Running the checklist…"
    };
    let verdict = run_checklist(boxes, timeout, |state| {
        if !state.is_finished() {
            progress.note(Message::with_code(
                format!(":hourglass_flowing_sand: {label}"),
                state.render(),
            ));
        }
    })
    .await;
    if request.dry_run {
        return Ok(dry_report(request, &verdict));
    }
    tracing::debug!(run = %run_id, passes = verdict.passes(), "checklist done");
    let (set, moved_from) = match sides.branches.as_ref() {
        Ok(b) => {
            let (members, moved) = promotion_members_laid_out(
                &b.ours,
                &b.theirs,
                &b.our_layout,
                &b.their_layout,
                &request.only,
            );
            (members, moved.into_iter().collect())
        }
        Err(_) => (Vec::new(), Vec::new()),
    };
    let promoted = promotion.as_ref().as_ref().ok();
    let backup = backup.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let outcome_of = |id: BoxId| {
        verdict
            .outcome(id)
            .map(|o| o.detail.clone())
            .unwrap_or_default()
    };
    Ok(Outcome::Checklist(Box::new(ChecklistResult {
        rendered: verdict.render(),
        boxes: verdict.outcomes.clone(),
        passes: verdict.passes(),
        backup,
        set: set
            .iter()
            .map(|member| SetEntry {
                doctype: member.id.0.doctype().to_string(),
                name: member.id.1.clone(),
                change: member.change.to_string(),
                path: member.path.clone(),
                family: member.family.clone(),
            })
            .collect(),
        families: promoted.map(family_names).unwrap_or_default(),
        reviewer: outcome_of(BoxId::Reviewer),
        tester: outcome_of(BoxId::Tester),
        surface: promoted.map(surface).unwrap_or_default(),
        audit_excerpt: audit_since_last_promotion(performers),
        moved_from,
    })))
}

fn dry_report(request: &ChecklistRequest, verdict: &checks::ChecklistVerdict) -> Outcome {
    let headline = if verdict.passes() {
        ":white_check_mark: Promote (dry run): every box passes; a real promote would go ahead. Nothing was changed."
    } else {
        ":no_entry: Promote (dry run): the promotion would be refused. Nothing was changed."
    };
    let mut message = Message::with_code(headline, verdict.render());
    if let Some(missing) = &request.missing_right {
        message
            .blocks
            .push(crate::workflow::effect::Block::Section(format!(
                ":warning: {missing}"
            )));
    }
    let mut audit = vec![verdict.summary()];
    if let Some(reason) = &request.emergency {
        audit.push(format!("emergency requested: {reason}"));
    }
    Outcome::Report { message, audit }
}

/// Families of the set, largest first (ties by name): the first names the branch.
fn family_names(set: &BlueprintSet) -> Vec<String> {
    let mut found = families(set);
    found.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.slug.cmp(&b.slug))
    });
    found.into_iter().map(|f| f.slug).collect()
}

/// What the smoke test probes for this set.
fn surface(set: &BlueprintSet) -> SmokeSurface {
    let mut surface = SmokeSurface::default();
    for blueprint in set.iter() {
        match blueprint.kind {
            Kind::DocType => {
                let columns = blueprint.body["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|f| f["in_list_view"].as_i64() == Some(1))
                    .filter_map(|f| f["fieldname"].as_str().map(str::to_string))
                    .collect();
                surface.doctypes.push((blueprint.name.clone(), columns));
            }
            Kind::Workflow => {
                let mut roles: Vec<String> = blueprint.body["states"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["allow_edit"].as_str().map(str::to_string))
                    .chain(
                        blueprint.body["transitions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|t| t["allowed"].as_str().map(str::to_string)),
                    )
                    .collect();
                roles.sort();
                roles.dedup();
                surface.workflows.push((blueprint.name.clone(), roles));
            }
            Kind::DashboardChart => surface.charts.push(blueprint.name.clone()),
            Kind::NumberCard => surface.cards.push(blueprint.name.clone()),
            _ => {}
        }
    }
    surface
}

/// Audit lines since the last promotion that ended, newest last (at most 30).
fn audit_since_last_promotion(performers: &Performers) -> Vec<String> {
    let since = performers.scoped().runs().ok().and_then(|runs| {
        runs.iter()
            .filter_map(|run| match run {
                crate::workflow::run::Run::Promotion(p) => p.facts.ended_at,
                _ => None,
            })
            .max()
    });
    performers
        .store
        .audit_tail(200)
        .unwrap_or_default()
        .into_iter()
        .filter(|entry| since.is_none_or(|since| entry.at > since))
        .filter(|entry| entry.action != "status" && entry.action != "audit")
        .map(|entry| {
            format!(
                "{} {} {}: {}",
                entry.at.format("%Y-%m-%d %H:%M UTC"),
                entry.actor,
                entry.action,
                entry.detail
            )
        })
        .rev()
        .take(30)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

type Found = Arc<std::sync::Mutex<Option<crate::checks::BackupInfo>>>;

fn boxes(
    performers: &Performers,
    sides: &Sides,
    promotion: &Side<BlueprintSet>,
    request: &ChecklistRequest,
) -> (Vec<BoxJob>, Found) {
    let config = &performers.config.file;
    let adapters = performers.adapters.clone();
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
            let staging = &side(&staging_site, "the staging site")?.drift;
            side(&staging_branch, "the staging branch")?;
            let production = side(&prod_site, "the production site")?;
            side(&main, "the production branch")?;
            Ok(checks::diff::diff_box(staging, production))
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
                &side(&staging_site, "the staging site")?.digests,
                &policy,
            ))
        }
        .boxed(),
    ));

    let (checks_config, set) = (config.checks.clone(), promotion.clone());
    jobs.push((
        BoxId::Reviewer,
        async move {
            let set = side(&set, "the promotion set")?;
            let selection =
                checks::reviewer::select(set, None, None).map_err(anyhow::Error::msg)?;
            let (findings, errors) =
                crate::commands::reviewer::findings(&checks_config, set, &selection).await?;
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

    let (checks_config, tester_adapters) = (config.checks.clone(), adapters.clone());
    jobs.push((
        BoxId::Tester,
        async move {
            match crate::commands::tester::run(&checks_config, &tester_adapters).await? {
                Some(result) => Ok(checks::tester::tester_box(
                    &result,
                    checks_config.coverage_min,
                )),
                None => Ok(BoxOutcome::fail(
                    BoxId::Tester,
                    "no tester is configured ([checks.tester])",
                )),
            }
        }
        .boxed(),
    ));

    let found: Found = Arc::new(std::sync::Mutex::new(None));
    let (backup_adapters, now, max_age, found_by_box) = (
        adapters.clone(),
        performers.clock.now(),
        config.checks.backup_max_age_hours,
        found.clone(),
    );
    jobs.push((
        BoxId::Backup,
        async move {
            let production = backup_adapters.production()?;
            let zone: chrono_tz::Tz =
                production
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
            let decision = backup_decision(newest.as_ref(), now, max_age);
            if let BackupDecision::Fresh(info) = &decision {
                *found_by_box.lock().unwrap_or_else(|p| p.into_inner()) = Some(info.clone());
            }
            Ok(backup_plan_box(
                &decision,
                backup_adapters.runner().is_ok(),
                now,
            ))
        }
        .boxed(),
    ));

    let (roles_adapters, set) = (adapters.clone(), promotion.clone());
    jobs.push((
        BoxId::RoleCoverage,
        async move {
            let set = side(&set, "the promotion set")?;
            let production = roles_adapters.production()?;
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
        performers.clock.now(),
        config.freeze.clone(),
        request.emergency.clone(),
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
    (jobs, found)
}
