//! Actions and checks: the push-triggered workflow runs of a commit, their jobs and
//! steps, check runs, and the runner's side of Actions — dispatching a
//! `workflow_dispatch` workflow, following its run, cancelling it, and downloading a
//! job's log. Statuses stay strings (`requested`, `waiting` and friends come and go).

use std::collections::BTreeMap;

use super::client::{escape_path, GithubClient};
use super::error::GithubError;
use super::models::{CheckRun, Workflow, WorkflowJob, WorkflowRun};
use super::transport::Op;
use http::Method;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Runs {
    workflow_runs: Vec<WorkflowRun>,
}

#[derive(Deserialize)]
struct Jobs {
    jobs: Vec<WorkflowJob>,
}

#[derive(Deserialize)]
struct DispatchedRun {
    workflow_run_id: u64,
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

    /// Starts `workflow` (its file name, e.g. `bench.yml`, or its id) on `git_ref`
    /// with `inputs`, and returns the id of the run GitHub created. Sent once: a
    /// dispatch is not idempotent, so a failure is reported, never repeated.
    pub async fn dispatch_workflow(
        &self,
        workflow: &str,
        git_ref: &str,
        inputs: &BTreeMap<String, String>,
    ) -> Result<u64, GithubError> {
        let op = Op::new(format!("workflow {workflow}"), "actions: write");
        let body = json!({"ref": git_ref, "inputs": inputs, "return_run_details": true});
        let path = format!(
            "actions/workflows/{}/dispatches",
            escape_path(workflow).replace('/', "%2F")
        );
        let value = self
            .http
            .send(Method::POST, &self.repo_path(&path), Some(&body), &op)
            .await?;
        if value.is_null() {
            return Err(GithubError::Decode {
                what: op.what,
                reason: "GitHub started the run without saying which one (204 instead of the run details; GitHub Enterprise Server may not support return_run_details)".into(),
            });
        }
        let run: DispatchedRun =
            serde_json::from_value(value).map_err(|e| GithubError::Decode {
                what: op.what.clone(),
                reason: e.to_string(),
            })?;
        Ok(run.workflow_run_id)
    }

    /// A workflow by file name or id (404 when the repository has no such file
    /// under `.github/workflows/` on its default branch).
    pub async fn workflow(&self, workflow: &str) -> Result<Workflow, GithubError> {
        let op = Op::new(format!("workflow {workflow}"), "actions: read");
        self.get(
            &format!(
                "actions/workflows/{}",
                escape_path(workflow).replace('/', "%2F")
            ),
            op,
        )
        .await
    }

    pub async fn workflow_run(&self, run_id: u64) -> Result<WorkflowRun, GithubError> {
        let op = Op::new(format!("workflow run {run_id}"), "actions: read");
        self.get(&format!("actions/runs/{run_id}"), op).await
    }

    /// Asks GitHub to cancel a run. Ok when it accepted (202) or the run had
    /// already completed (409): either way it will not run on.
    pub async fn cancel_workflow_run(&self, run_id: u64) -> Result<(), GithubError> {
        let op = Op::new(
            format!("cancelling workflow run {run_id}"),
            "actions: write",
        );
        let path = self.repo_path(&format!("actions/runs/{run_id}/cancel"));
        match self.http.send(Method::POST, &path, None, &op).await {
            Ok(_) | Err(GithubError::Status { status: 409, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// A job's log as plain text: GitHub redirects to a signed download address,
    /// fetched without GitHub credentials (they must not travel to another host).
    pub async fn job_log(&self, job_id: u64) -> Result<String, GithubError> {
        let op = Op::new(format!("the log of job {job_id}"), "actions: read");
        let location = self
            .http
            .redirect_location(&self.repo_path(&format!("actions/jobs/{job_id}/logs")), &op)
            .await?;
        let transport = |reason: String| GithubError::Transport {
            what: op.what.clone(),
            reason,
        };
        let response = reqwest::Client::new()
            .get(&location)
            .send()
            .await
            .map_err(|e| transport(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(GithubError::Status {
                what: op.what.clone(),
                status: status.as_u16(),
                message: "the log download was refused (the signed address lasts a minute)".into(),
            });
        }
        response
            .text()
            .await
            .map_err(|e| transport(e.without_url().to_string()))
    }

    pub async fn check_runs(&self, sha: &str) -> Result<Vec<CheckRun>, GithubError> {
        let op = Op::new(format!("check runs for {sha}"), "checks: read");
        let checks: Checks = self
            .get(&format!("commits/{sha}/check-runs?per_page=100"), op)
            .await?;
        Ok(checks.check_runs)
    }
}
