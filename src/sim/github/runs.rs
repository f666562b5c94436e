//! Actions: a push to the production branch starts a workflow run, one `deploy` job
//! with steps backup, migrate and restart, moving queued → in_progress → completed.
//! Each step calls the deploy hook; `bench_deploy_hook` runs the bench stand-in
//! against a Frappe sim, so a merge really lands on the production site.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::api::iso;
use super::repo::{Job, Step, WorkflowRun};
use super::Shared;

/// One step of a deploy, handed to the hook.
#[derive(Debug, Clone)]
pub struct DeployStep {
    /// `owner/name`.
    pub repo: String,
    pub sha: String,
    /// `backup`, `migrate` or `restart`.
    pub step: String,
    /// The blueprint files at `sha`, paths relative to `fixtures/app/`.
    pub blueprints: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    pub success: bool,
    pub log: String,
}

/// Runs one workflow step.
pub type DeployHook = Arc<dyn Fn(DeployStep) -> BoxFuture<'static, StepOutcome> + Send + Sync>;

pub const STEPS: [&str; 3] = ["backup", "migrate", "restart"];

/// Starts a run when `branch` is the production branch.
pub(crate) fn on_push(shared: &Arc<Shared>, repo_name: &str, branch: &str, sha: &str) {
    if branch != shared.config.production_branch {
        return;
    }
    let now = iso(shared.now());
    let (run_id, blueprints) = {
        let mut repos = shared.repos();
        let Some(repo) = repos.get_mut(repo_name) else {
            return;
        };
        let run_id = repo.next_id();
        let job_id = repo.next_id();
        let run_number = repo.runs.len() as u64 + 1;
        repo.runs.push(WorkflowRun {
            id: run_id,
            run_number,
            name: "Deploy".into(),
            head_branch: branch.into(),
            head_sha: sha.into(),
            event: "push".into(),
            status: "queued".into(),
            conclusion: None,
            created_at: now.clone(),
            updated_at: now.clone(),
            jobs: vec![Job {
                id: job_id,
                name: "deploy".into(),
                status: "queued".into(),
                conclusion: None,
                started_at: now,
                completed_at: None,
                steps: STEPS
                    .iter()
                    .enumerate()
                    .map(|(i, s)| Step {
                        name: (*s).into(),
                        number: i as u32 + 1,
                        status: "queued".into(),
                        conclusion: None,
                        started_at: None,
                        completed_at: None,
                        log: String::new(),
                    })
                    .collect(),
            }],
        });
        let blueprints: BTreeMap<String, Vec<u8>> = repo
            .files_at(sha)
            .into_iter()
            .filter_map(|(p, e)| {
                let rel = p.strip_prefix("fixtures/app/")?.to_string();
                Some((rel, repo.objects.blob(&e.sha)?.to_vec()))
            })
            .collect();
        (run_id, blueprints)
    };
    shared.runs_changed.send_modify(|n| *n += 1);
    let shared = shared.clone();
    let repo_name = repo_name.to_string();
    let sha = sha.to_string();
    tokio::spawn(async move {
        execute(&shared, &repo_name, run_id, &sha, blueprints).await;
    });
}

fn update(shared: &Shared, repo: &str, run_id: u64, f: impl FnOnce(&mut WorkflowRun, String)) {
    let now = iso(shared.now());
    {
        let mut repos = shared.repos();
        if let Some(run) = repos
            .get_mut(repo)
            .and_then(|r| r.runs.iter_mut().find(|r| r.id == run_id))
        {
            f(run, now.clone());
            run.updated_at = now;
        }
    }
    shared.runs_changed.send_modify(|n| *n += 1);
}

async fn execute(
    shared: &Shared,
    repo: &str,
    run_id: u64,
    sha: &str,
    blueprints: BTreeMap<String, Vec<u8>>,
) {
    update(shared, repo, run_id, |run, now| {
        run.status = "in_progress".into();
        run.jobs[0].status = "in_progress".into();
        run.jobs[0].started_at = now;
    });
    let mut failed = false;
    for (i, name) in STEPS.iter().enumerate() {
        if failed {
            update(shared, repo, run_id, |run, _| {
                let step = &mut run.jobs[0].steps[i];
                step.status = "completed".into();
                step.conclusion = Some("skipped".into());
            });
            continue;
        }
        update(shared, repo, run_id, |run, now| {
            let step = &mut run.jobs[0].steps[i];
            step.status = "in_progress".into();
            step.started_at = Some(now);
        });
        let outcome = match &shared.config.deploy {
            Some(hook) => {
                hook(DeployStep {
                    repo: repo.into(),
                    sha: sha.into(),
                    step: (*name).into(),
                    blueprints: blueprints.clone(),
                })
                .await
            }
            None => StepOutcome {
                success: true,
                log: "no deploy target configured; step skipped".into(),
            },
        };
        let skipped = shared.config.deploy.is_none();
        failed = !outcome.success;
        update(shared, repo, run_id, |run, now| {
            let step = &mut run.jobs[0].steps[i];
            step.status = "completed".into();
            step.conclusion = Some(
                match (skipped, outcome.success) {
                    (true, _) => "skipped",
                    (false, true) => "success",
                    (false, false) => "failure",
                }
                .into(),
            );
            step.completed_at = Some(now);
            step.log = outcome.log;
        });
    }
    update(shared, repo, run_id, |run, now| {
        let conclusion = if failed { "failure" } else { "success" };
        run.status = "completed".into();
        run.conclusion = Some(conclusion.into());
        run.jobs[0].status = "completed".into();
        run.jobs[0].conclusion = Some(conclusion.into());
        run.jobs[0].completed_at = Some(now);
    });
}

/// A hook that runs the bench stand-in (`lockstep sim bench`) against the Frappe sim
/// at `frappe_url` for `site`: backup, migrate (the blueprints at the pushed sha,
/// written to a temporary folder) and restart. A step fails when bench exits non-zero;
/// its output becomes the step log.
pub fn bench_deploy_hook(frappe_url: String, site: String) -> DeployHook {
    Arc::new(move |step: DeployStep| {
        let frappe_url = frappe_url.clone();
        let site = site.clone();
        Box::pin(async move {
            // bench() writes to `&mut dyn Write`, which is not Send: run it on its
            // own single-threaded runtime on a blocking thread.
            let joined =
                tokio::task::spawn_blocking(move || run_bench_step(&frappe_url, &site, &step))
                    .await;
            joined.unwrap_or_else(|e| StepOutcome {
                success: false,
                log: format!("bench step panicked: {e}"),
            })
        })
    })
}

fn run_bench_step(frappe_url: &str, site: &str, step: &DeployStep) -> StepOutcome {
    use crate::sim::bench::{bench, BenchArgs, BenchCommand};
    let fail = |log: String| StepOutcome {
        success: false,
        log,
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return fail(format!("could not make a folder for the blueprints: {e}")),
    };
    let command = match step.step.as_str() {
        "backup" => BenchCommand::Backup { with_files: false },
        "migrate" => {
            for (rel, bytes) in &step.blueprints {
                let path = dir.path().join(rel);
                let written = path
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|_| std::fs::write(&path, bytes));
                if let Err(e) = written {
                    return fail(format!("could not write {rel}: {e}"));
                }
            }
            BenchCommand::Migrate {
                skip_failing: false,
            }
        }
        "restart" => BenchCommand::Restart,
        other => return fail(format!("unknown step {other}")),
    };
    let args = BenchArgs {
        site: Some(site.to_string()),
        sim_url: frappe_url.to_string(),
        blueprints: Some(dir.path().to_path_buf()),
        test_reports: None,
        command,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("could not start a runtime for bench: {e}")),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = runtime.block_on(bench(args, &mut out, &mut err));
    let mut log = String::from_utf8_lossy(&out).to_string();
    log.push_str(&String::from_utf8_lossy(&err));
    StepOutcome {
        success: code == 0,
        log,
    }
}
