//! The promotion's work on production through the bench host and CI: a backup
//! (unless the site already has one taken since the run began, which is this run's
//! from before a restart), reading and cancelling the CI deploy of the merge commit,
//! the bench steps of `deploy.mode = "bot"`, and the restore of a rollback. None of
//! these writes to production over REST: bench does, on the bench host.

use crate::adapters::{Adapters, Side};
use crate::checks::backup::{backup_from_path, backup_from_summary};
use crate::checks::BackupInfo;
use crate::commands::failed;
use crate::frappe::ProductionSite;
use crate::runner::{bench_output_from_job_log, failure_reason, Runner};
use crate::workflow::op::{BenchStep, DeployState, DeployStepState, Failure, OpResult, Outcome};
use chrono::{DateTime, Utc};

fn production(adapters: &Adapters) -> Result<&Side<ProductionSite>, Failure> {
    adapters.production().map_err(|e| Failure::Refused(e.0))
}

fn runner(adapters: &Adapters) -> Result<&Runner, Failure> {
    adapters.runner().map_err(|e| Failure::Refused(e.0))
}

async fn site_zone(production: &Side<ProductionSite>) -> Result<chrono_tz::Tz, Failure> {
    production
        .site
        .get_time_zone()
        .await
        .map_err(failed)?
        .parse()
        .map_err(|err| {
            Failure::Refused(format!(
                "the production site's time zone is not one lockstep knows: {err}"
            ))
        })
}

/// A production backup taken for this run: the newest one if it was taken since
/// `not_before`, else a new one through the runner.
pub async fn take_backup(adapters: &Adapters, not_before: DateTime<Utc>) -> OpResult {
    let production = production(adapters)?;
    let zone = site_zone(production).await?;
    let latest = production
        .site
        .fetch_latest_backups()
        .await
        .map_err(failed)?;
    if let Some(path) = latest.database.as_deref() {
        if let Ok(info) = backup_from_path(path, zone) {
            if info.taken_at >= not_before - chrono::Duration::minutes(1) {
                return Ok(Outcome::Backup(info));
            }
        }
    }
    let summary = runner(adapters)?
        .backup(&production.bench_site)
        .await
        .map_err(failed)?;
    Ok(Outcome::Backup(backup_from_summary(&summary, zone)))
}

/// The CI run the merge commit's push started, its steps and how it ended.
pub async fn read_ci(adapters: &Adapters, merge_sha: &str) -> OpResult {
    let github = &adapters.repo().map_err(|e| Failure::Refused(e.0))?.github;
    let runs = github.workflow_runs_for(merge_sha).await.map_err(failed)?;
    let Some(run) = runs.into_iter().next() else {
        return Ok(Outcome::Deploy(DeployState {
            run_id: None,
            url: None,
            steps: Vec::new(),
            conclusion: None,
            failure: None,
        }));
    };
    let jobs = github.run_jobs(run.id).await.map_err(failed)?;
    let steps: Vec<DeployStepState> = jobs
        .iter()
        .flat_map(|job| job.steps.iter())
        .filter(|step| !is_scaffolding(&step.name))
        .map(|step| DeployStepState {
            name: step.name.clone(),
            status: step.status.clone(),
            conclusion: step.conclusion.clone(),
        })
        .collect();
    let completed = run.status.as_deref() == Some("completed");
    let conclusion = completed.then(|| run.conclusion.clone().unwrap_or_else(|| "unknown".into()));
    let failure = match (
        &conclusion,
        jobs.iter()
            .find(|j| j.conclusion.as_deref() == Some("failure")),
    ) {
        (Some(c), Some(job)) if c != "success" => match github.job_log(job.id).await {
            // The failed step's own lines, not the job's clean-up after it.
            Ok(log) => Some(failure_reason(&bench_output_from_job_log(&log).output)),
            Err(err) => Some(format!("its log could not be read ({err})")),
        },
        _ => None,
    };
    Ok(Outcome::Deploy(DeployState {
        run_id: Some(run.id),
        url: Some(run.html_url.clone()),
        steps,
        conclusion,
        failure,
    }))
}

/// Steps every Actions job has that say nothing about the deploy.
fn is_scaffolding(name: &str) -> bool {
    name.starts_with("Set up job")
        || name.starts_with("Complete job")
        || name.starts_with("Post ")
        || name == "Run actions/checkout@v4"
}

pub async fn cancel_ci(adapters: &Adapters, run_id: u64) -> OpResult {
    let github = &adapters.repo().map_err(|e| Failure::Refused(e.0))?.github;
    github.cancel_workflow_run(run_id).await.map_err(failed)?;
    Ok(Outcome::Done)
}

/// One deploy step through the runner (`deploy.mode = "bot"`).
pub async fn bench_step(adapters: &Adapters, step: BenchStep) -> OpResult {
    let production = production(adapters)?;
    let runner = runner(adapters)?;
    let site = &production.bench_site;
    let detail = match step {
        BenchStep::Backup => {
            let summary = runner.backup(site).await.map_err(failed)?;
            format!("backup {}", summary.backup_id)
        }
        BenchStep::Migrate => {
            let outcome = runner.migrate(site).await.map_err(failed)?;
            format!("migrated ({} patches)", outcome.patches.len())
        }
        BenchStep::Restart => {
            runner.restart(site).await.map_err(failed)?;
            "restarted".to_string()
        }
    };
    Ok(Outcome::BenchStep { detail })
}

/// Restores production from `backup` through the runner.
pub async fn restore(adapters: &Adapters, backup: &BackupInfo) -> OpResult {
    let production = production(adapters)?;
    let site = &production.bench_site;
    let file = crate::workflow::promotion::backup_database_path(backup, site.as_str());
    let outcome = runner(adapters)?
        .restore(site, &file)
        .await
        .map_err(failed)?;
    Ok(Outcome::Restored {
        detail: format!("site {} restored from {}", outcome.site, backup.id),
    })
}
