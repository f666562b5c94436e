//! Actions and checks for a commit: the push-triggered workflow runs, their jobs and
//! steps, and check runs. Statuses stay strings (`requested`, `waiting` and friends
//! come and go).

use super::client::GithubClient;
use super::error::GithubError;
use super::models::{CheckRun, WorkflowJob, WorkflowRun};
use super::transport::Op;
use serde::Deserialize;

#[derive(Deserialize)]
struct Runs {
    workflow_runs: Vec<WorkflowRun>,
}

#[derive(Deserialize)]
struct Jobs {
    jobs: Vec<WorkflowJob>,
}

#[derive(Deserialize)]
struct Checks {
    check_runs: Vec<CheckRun>,
}

impl GithubClient {
    /// Workflow runs a push of `sha` started, newest first.
    pub async fn workflow_runs_for(&self, sha: &str) -> Result<Vec<WorkflowRun>, GithubError> {
        let op = Op::new(format!("workflow runs for {sha}"), "actions: read");
        let runs: Runs = self
            .get(
                &format!("actions/runs?head_sha={sha}&event=push&per_page=100"),
                op,
            )
            .await?;
        Ok(runs.workflow_runs)
    }

    pub async fn run_jobs(&self, run_id: u64) -> Result<Vec<WorkflowJob>, GithubError> {
        let op = Op::new(format!("jobs of workflow run {run_id}"), "actions: read");
        let jobs: Jobs = self
            .get(&format!("actions/runs/{run_id}/jobs?per_page=100"), op)
            .await?;
        Ok(jobs.jobs)
    }

    pub async fn check_runs(&self, sha: &str) -> Result<Vec<CheckRun>, GithubError> {
        let op = Op::new(format!("check runs for {sha}"), "checks: read");
        let checks: Checks = self
            .get(&format!("commits/{sha}/check-runs?per_page=100"), op)
            .await?;
        Ok(checks.check_runs)
    }
}
