//! Actions. Two workflows: `deploy.yml`, which a push to the production branch
//! starts (one `deploy` job with steps backup, migrate and restart, each handed to
//! the deploy hook), and, when a bench hook is configured, `bench.yml`, started by
//! `workflow_dispatch` with one input `args` (one `bench` job running
//! `bench <args>` through the bench hook). Runs move queued → in_progress →
//! completed; a cancel request stops a run at its next step boundary (or at once,
//! for a bench step in progress). Job logs are written as GitHub writes them:
//! timestamped lines, `##[group]Run …` headers, and
//! `##[error]Process completed with exit code N.` after a failing step.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::api::iso;
use super::repo::{Job, Repo, Step, WorkflowRun};
use super::Shared;

/// A workflow file of the simulated repositories.
#[derive(Debug, PartialEq, Eq)]
pub struct Workflow {
    pub id: u64,
    pub name: &'static str,
    /// The file under `.github/workflows/`.
    pub file: &'static str,
    /// Whether it has a `workflow_dispatch` trigger.
    pub dispatchable: bool,
}

impl Workflow {
    pub fn path(&self) -> String {
        format!(".github/workflows/{}", self.file)
    }
}

pub static DEPLOY: Workflow = Workflow {
    id: 1,
    name: "Deploy",
    file: "deploy.yml",
    dispatchable: false,
};

pub static BENCH: Workflow = Workflow {
    id: 2,
    name: "Bench",
    file: "bench.yml",
    dispatchable: true,
};

/// The workflow a `{workflow_id}` path segment names (its id or file name), among
/// those the repository has.
pub fn find_workflow(id_or_file: &str, has_bench: bool) -> Option<&'static Workflow> {
    let known: &[&'static Workflow] = if has_bench {
        &[&DEPLOY, &BENCH]
    } else {
        &[&DEPLOY]
    };
    known
        .iter()
        .copied()
        .find(|w| w.file == id_or_file || w.id.to_string() == id_or_file)
}

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

/// One dispatched bench run, handed to the bench hook.
#[derive(Debug, Clone)]
pub struct BenchRequest {
    pub repo: String,
    /// The commit the dispatch's ref pointed at.
    pub sha: String,
    /// The `args` input: bench arguments, shell-quoted.
    pub args: String,
    /// The blueprint files at `sha`, paths relative to `fixtures/app/`.
    pub blueprints: BTreeMap<String, Vec<u8>>,
}

/// Runs `bench <args>` for a dispatched run.
pub type BenchHook = Arc<dyn Fn(BenchRequest) -> BoxFuture<'static, StepOutcome> + Send + Sync>;

pub const STEPS: [&str; 3] = ["backup", "migrate", "restart"];

fn new_step(number: u32, name: &str, script: String) -> Step {
    Step {
        name: name.into(),
        number,
        status: "queued".into(),
        conclusion: None,
        started_at: None,
        completed_at: None,
        script,
        log: String::new(),
    }
}

fn new_run(
    repo: &mut Repo,
    workflow: &'static Workflow,
    (branch, sha): (&str, &str),
    event: &str,
    job_name: &str,
    steps: Vec<Step>,
    now: String,
) -> u64 {
    let run_id = repo.next_id();
    let job_id = repo.next_id();
    let run_number = repo
        .runs
        .iter()
        .filter(|r| r.workflow.id == workflow.id)
        .count() as u64
        + 1;
    repo.runs.push(WorkflowRun {
        id: run_id,
        run_number,
        workflow,
        cancel_requested: false,
        name: workflow.name.into(),
        head_branch: branch.into(),
        head_sha: sha.into(),
        event: event.into(),
        status: "queued".into(),
        conclusion: None,
        created_at: now.clone(),
        updated_at: now.clone(),
        jobs: vec![Job {
            id: job_id,
            name: job_name.into(),
            status: "queued".into(),
            conclusion: None,
            started_at: now,
            completed_at: None,
            steps,
        }],
    });
    run_id
}

/// The blueprint files at `sha`, relative to `fixtures/app/`.
fn blueprints_at(repo: &Repo, sha: &str) -> BTreeMap<String, Vec<u8>> {
    repo.files_at(sha)
        .into_iter()
        .filter_map(|(p, e)| {
            let rel = p.strip_prefix("fixtures/app/")?.to_string();
            Some((rel, repo.objects.blob(&e.sha)?.to_vec()))
        })
        .collect()
}

/// Starts a deploy run when `branch` is the production branch.
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
        let steps = STEPS
            .iter()
            .enumerate()
            .map(|(i, s)| new_step(i as u32 + 1, s, format!("bench --site $SITE {s}")))
            .collect();
        let run_id = new_run(repo, &DEPLOY, (branch, sha), "push", "deploy", steps, now);
        (run_id, blueprints_at(repo, sha))
    };
    shared.runs_changed.send_modify(|n| *n += 1);
    let shared = shared.clone();
    let repo_name = repo_name.to_string();
    let sha = sha.to_string();
    tokio::spawn(async move {
        execute_deploy(&shared, &repo_name, run_id, &sha, blueprints).await;
    });
}

/// Creates the run of a `bench.yml` dispatch (the caller holds the repository);
/// [`start_dispatched`] sets it going once the lock is released.
pub(crate) fn new_bench_run(
    repo: &mut Repo,
    (branch, sha): (&str, &str),
    args: &str,
    now: String,
) -> u64 {
    let script = format!("eval \"bench $BENCH_ARGS\"\nenv:\n  BENCH_ARGS: {args}");
    let steps = vec![new_step(1, "bench", script)];
    new_run(
        repo,
        &BENCH,
        (branch, sha),
        "workflow_dispatch",
        "bench",
        steps,
        now,
    )
}

pub(crate) fn start_dispatched(shared: &Arc<Shared>, repo_name: &str, run_id: u64, args: String) {
    let Some(hook) = shared.config.bench.clone() else {
        return;
    };
    let request = {
        let repos = shared.repos();
        let Some(repo) = repos.get(repo_name) else {
            return;
        };
        let Some(run) = repo.runs.iter().find(|r| r.id == run_id) else {
            return;
        };
        BenchRequest {
            repo: repo_name.into(),
            sha: run.head_sha.clone(),
            args,
            blueprints: blueprints_at(repo, &run.head_sha),
        }
    };
    shared.runs_changed.send_modify(|n| *n += 1);
    let shared = shared.clone();
    let repo_name = repo_name.to_string();
    tokio::spawn(async move {
        execute_bench(&shared, &repo_name, run_id, hook, request).await;
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

fn cancel_requested(shared: &Shared, repo: &str, run_id: u64) -> bool {
    shared
        .repos()
        .get(repo)
        .and_then(|r| r.runs.iter().find(|r| r.id == run_id))
        .is_some_and(|r| r.cancel_requested)
}

/// Resolves once someone asks to cancel the run.
async fn until_cancelled(shared: &Shared, repo: &str, run_id: u64) {
    let mut changes = shared.runs_changed.subscribe();
    while !cancel_requested(shared, repo, run_id) {
        if changes.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn start(shared: &Shared, repo: &str, run_id: u64) {
    update(shared, repo, run_id, |run, now| {
        run.status = "in_progress".into();
        run.jobs[0].status = "in_progress".into();
        run.jobs[0].started_at = now;
    });
}

fn start_step(shared: &Shared, repo: &str, run_id: u64, i: usize) {
    update(shared, repo, run_id, |run, now| {
        let step = &mut run.jobs[0].steps[i];
        step.status = "in_progress".into();
        step.started_at = Some(now);
    });
}

fn end_step(shared: &Shared, repo: &str, run_id: u64, i: usize, conclusion: &str, log: String) {
    update(shared, repo, run_id, |run, now| {
        let step = &mut run.jobs[0].steps[i];
        step.status = "completed".into();
        step.conclusion = Some(conclusion.into());
        step.completed_at = Some(now);
        step.log = log;
    });
}

fn finish(shared: &Shared, repo: &str, run_id: u64, conclusion: &str) {
    update(shared, repo, run_id, |run, now| {
        run.status = "completed".into();
        run.conclusion = Some(conclusion.into());
        let job = &mut run.jobs[0];
        job.status = "completed".into();
        job.conclusion = Some(conclusion.into());
        job.completed_at = Some(now.clone());
        for step in job.steps.iter_mut().filter(|s| s.status != "completed") {
            step.status = "completed".into();
            step.conclusion = Some("skipped".into());
            step.completed_at = Some(now.clone());
        }
    });
}

async fn execute_deploy(
    shared: &Shared,
    repo: &str,
    run_id: u64,
    sha: &str,
    blueprints: BTreeMap<String, Vec<u8>>,
) {
    start(shared, repo, run_id);
    for (i, name) in STEPS.iter().enumerate() {
        if cancel_requested(shared, repo, run_id) {
            return finish(shared, repo, run_id, "cancelled");
        }
        start_step(shared, repo, run_id, i);
        let Some(hook) = &shared.config.deploy else {
            end_step(
                shared,
                repo,
                run_id,
                i,
                "skipped",
                "no deploy target configured; step skipped".into(),
            );
            continue;
        };
        let outcome = hook(DeployStep {
            repo: repo.into(),
            sha: sha.into(),
            step: (*name).into(),
            blueprints: blueprints.clone(),
        })
        .await;
        let conclusion = if outcome.success {
            "success"
        } else {
            "failure"
        };
        end_step(shared, repo, run_id, i, conclusion, outcome.log);
        if !outcome.success {
            return finish(shared, repo, run_id, "failure");
        }
    }
    finish(shared, repo, run_id, "success");
}

async fn execute_bench(
    shared: &Shared,
    repo: &str,
    run_id: u64,
    hook: BenchHook,
    request: BenchRequest,
) {
    start(shared, repo, run_id);
    start_step(shared, repo, run_id, 0);
    let outcome = tokio::select! {
        outcome = hook(request) => outcome,
        _ = until_cancelled(shared, repo, run_id) => {
            end_step(shared, repo, run_id, 0, "cancelled", "##[error]The operation was canceled.\n".into());
            return finish(shared, repo, run_id, "cancelled");
        }
    };
    let conclusion = if outcome.success {
        "success"
    } else {
        "failure"
    };
    end_step(shared, repo, run_id, 0, conclusion, outcome.log);
    finish(shared, repo, run_id, conclusion);
}

/// A job's log as GitHub serves it: every line stamped, a header group per step,
/// the exit code after a failing step.
pub fn job_log(job: &Job) -> String {
    let mut log = String::from("\u{feff}");
    let mut line = |at: &str, text: &str| {
        let stamp = at.trim_end_matches('Z');
        log.push_str(&format!("{stamp}.0000000Z {text}\n"));
    };
    line(&job.started_at, "Current runner version: '2.321.0'");
    line(&job.started_at, "##[group]Runner Image");
    line(&job.started_at, "Image: ubuntu-24.04");
    line(&job.started_at, "##[endgroup]");
    for step in job.steps.iter().filter(|s| s.started_at.is_some()) {
        let started = step.started_at.as_deref().unwrap_or_default();
        let ended = step.completed_at.as_deref().unwrap_or(started);
        let mut script = step.script.lines();
        let command = script.next().unwrap_or_default();
        line(started, &format!("##[group]Run {command}"));
        line(started, command);
        line(started, "shell: /usr/bin/bash -e {0}");
        for detail in script {
            line(started, detail);
        }
        line(started, "##[endgroup]");
        for text in step.log.lines() {
            line(ended, text);
        }
        if step.conclusion.as_deref() == Some("failure") {
            line(ended, "##[error]Process completed with exit code 1.");
        }
    }
    if let Some(ended) = &job.completed_at {
        line(ended, "Cleaning up orphan processes");
    }
    log
}

/// A hook that runs the bench stand-in (`lockstep sim bench`) against the Frappe sim
/// at `frappe_url` for `site`: backup, migrate (the blueprints at the pushed sha,
/// written to a temporary folder) and restart. A step fails when bench exits non-zero;
/// its output becomes the step log.
pub fn bench_deploy_hook(frappe_url: String, site: String) -> DeployHook {
    Arc::new(move |step: DeployStep| {
        let frappe_url = frappe_url.clone();
        let site = site.clone();
        Box::pin(on_blocking_thread(move || {
            use crate::bench::{BenchArgs, BenchCommand};
            let dir = tempfile::tempdir()
                .map_err(|e| format!("could not make a folder for the blueprints: {e}"))?;
            write_blueprints(dir.path(), &step.blueprints)?;
            let command = match step.step.as_str() {
                "backup" => BenchCommand::Backup { with_files: false },
                "migrate" => BenchCommand::Migrate {
                    skip_failing: false,
                },
                "restart" => BenchCommand::Restart,
                other => return Err(format!("unknown step {other}")),
            };
            Ok(run_stand_in(BenchArgs {
                site: Some(site),
                sim_url: frappe_url,
                blueprints: Some(dir.path().to_path_buf()),
                git_api: None,
                repo: None,
                git_ref: "main".into(),
                git_token: String::new(),
                test_reports: None,
                command,
            }))
        }))
    })
}

/// A hook for `bench.yml`: runs the bench stand-in with the dispatch's `args` against
/// the Frappe sim at `frappe_url`, `migrate` applying the blueprints at the
/// dispatched ref, `run-tests` leaving the reports of `test_reports` (if given).
pub fn bench_workflow_hook(frappe_url: String, test_reports: Option<PathBuf>) -> BenchHook {
    Arc::new(move |request: BenchRequest| {
        let frappe_url = frappe_url.clone();
        let test_reports = test_reports.clone();
        Box::pin(on_blocking_thread(move || {
            use clap::Parser;
            #[derive(Parser)]
            #[command(name = "bench")]
            struct Cli {
                #[command(flatten)]
                args: crate::bench::BenchArgs,
            }
            let words = shell_words::split(&request.args)
                .map_err(|e| format!("bash: the arguments do not parse: {e}"))?;
            let dir = tempfile::tempdir()
                .map_err(|e| format!("could not make a folder for the blueprints: {e}"))?;
            write_blueprints(dir.path(), &request.blueprints)?;
            let mut argv = vec!["bench".to_string(), "--sim-url".into(), frappe_url];
            argv.extend(["--blueprints".into(), dir.path().display().to_string()]);
            if let Some(reports) = test_reports {
                argv.extend(["--test-reports".into(), reports.display().to_string()]);
            }
            argv.extend(words);
            let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
            Ok(run_stand_in(cli.args))
        }))
    })
}

/// Runs `work` on a blocking thread (the stand-in writes to `&mut dyn Write`, which
/// is not Send); an `Err` is a failed step whose log is the message.
async fn on_blocking_thread(
    work: impl FnOnce() -> Result<StepOutcome, String> + Send + 'static,
) -> StepOutcome {
    let failed = |log: String| StepOutcome {
        success: false,
        log,
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(message)) => failed(message),
        Err(e) => failed(format!("bench step panicked: {e}")),
    }
}

fn write_blueprints(
    dir: &std::path::Path,
    blueprints: &BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    for (rel, bytes) in blueprints {
        let path = dir.join(rel);
        path.parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|_| std::fs::write(&path, bytes))
            .map_err(|e| format!("could not write {rel}: {e}"))?;
    }
    Ok(())
}

/// Runs the bench stand-in on its own single-threaded runtime; its output (stdout
/// then stderr) is the step log.
fn run_stand_in(args: crate::bench::BenchArgs) -> StepOutcome {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return StepOutcome {
                success: false,
                log: format!("could not start a runtime for bench: {e}"),
            }
        }
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = runtime.block_on(crate::bench::bench(args, &mut out, &mut err));
    let mut log = String::from_utf8_lossy(&out).to_string();
    log.push_str(&String::from_utf8_lossy(&err));
    StepOutcome {
        success: code == 0,
        log,
    }
}
