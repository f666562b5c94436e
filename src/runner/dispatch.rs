//! The workflow-dispatch transport: bench runs as a GitHub Actions workflow on the
//! operator's runner (for a bench host the bot cannot reach over ssh). The bot
//! dispatches the configured workflow with one input, `args` (the bench arguments,
//! shell-quoted, e.g. `--site prod.example.com backup`), follows the run GitHub
//! reports back until it completes or the runner's timeout passes (then cancels it),
//! and reads bench's output out of the job logs, so the same parsers apply as for a
//! local command. The workflow file it expects is `config/bench-workflow.yml`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::CommandOutput;
use crate::github::GithubClient;

/// Where bench runs: a `workflow_dispatch` workflow of the config repo.
#[derive(Debug, Clone)]
pub struct WorkflowDispatch {
    pub github: Arc<GithubClient>,
    /// The workflow's file name (`bench.yml`) or id.
    pub workflow: String,
    /// The branch or tag the workflow runs on.
    pub git_ref: String,
    /// How often the run's status is read while it runs.
    pub poll_interval: Duration,
}

/// Why a dispatched run gave no output.
pub(super) enum DispatchFailure {
    /// GitHub refused the dispatch; nothing ran.
    NotStarted(String),
    /// Not finished at the deadline (`status` is where it was: `queued` means no
    /// runner took it); cancellation was requested.
    TimedOut { run: String, status: String },
    /// Started, but its outcome could not be read: it may have run.
    Lost { run: String, message: String },
}

/// Dispatches one bench run and waits for its output.
pub(super) async fn run_workflow(
    target: &WorkflowDispatch,
    bench_args: String,
    timeout: Duration,
) -> Result<CommandOutput, DispatchFailure> {
    let deadline = tokio::time::Instant::now() + timeout;
    let inputs = BTreeMap::from([("args".to_string(), bench_args)]);
    let run_id = target
        .github
        .dispatch_workflow(&target.workflow, &target.git_ref, &inputs)
        .await
        .map_err(|e| DispatchFailure::NotStarted(e.to_string()))?;
    let lost = |run: String, e: crate::github::GithubError| DispatchFailure::Lost {
        run,
        message: e.to_string(),
    };
    let mut run_label = format!("workflow run {run_id}");
    let run = loop {
        let run = target
            .github
            .workflow_run(run_id)
            .await
            .map_err(|e| lost(run_label.clone(), e))?;
        run_label = run.html_url.clone();
        if run.status.as_deref() == Some("completed") {
            break run;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            if let Err(e) = target.github.cancel_workflow_run(run_id).await {
                tracing::warn!(run = %run_label, error = %e, "could not cancel the bench run");
            }
            return Err(DispatchFailure::TimedOut {
                run: run_label,
                status: run.status.unwrap_or_default(),
            });
        }
        tokio::time::sleep(target.poll_interval.min(deadline - now)).await;
    };
    let jobs = target
        .github
        .run_jobs(run_id)
        .await
        .map_err(|e| lost(run_label.clone(), e))?;
    let mut stdout = String::new();
    let mut exit_code = None;
    for job in &jobs {
        let log = target
            .github
            .job_log(job.id)
            .await
            .map_err(|e| lost(run_label.clone(), e))?;
        let step = bench_output_from_job_log(&log);
        stdout.push_str(&step.output);
        exit_code = exit_code.or(step.exit_code);
    }
    let conclusion = run.conclusion.unwrap_or_default();
    let (exit_code, stderr) = match conclusion.as_str() {
        "success" => (Some(0), String::new()),
        "failure" => (exit_code.or(Some(1)), String::new()),
        // Cancelled by someone else, or stopped by GitHub's own job timeout.
        "cancelled" | "timed_out" => (
            None,
            format!("workflow run {run_label} ended {conclusion}\n"),
        ),
        other => (Some(1), format!("workflow run {run_label} ended {other}\n")),
    };
    Ok(CommandOutput {
        exit_code,
        stdout,
        stderr,
    })
}

/// What one job's log says about its bench step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLog {
    /// The lines the step printed, timestamps removed.
    pub output: String,
    /// From `##[error]Process completed with exit code N.`; None when the step
    /// succeeded (GitHub prints nothing then).
    pub exit_code: Option<i32>,
}

/// Reads a GitHub Actions job log: every line starts with an RFC 3339 timestamp,
/// each `run` step opens with a `##[group]Run …` header (the script and its env)
/// closed by `##[endgroup]`, and a failing step ends with
/// `##[error]Process completed with exit code N.`. The bench step is the one that
/// failed, or else the last `run` step.
pub fn bench_output_from_job_log(log: &str) -> StepLog {
    let mut sections: Vec<StepLog> = Vec::new();
    let mut current: Option<StepLog> = None;
    let mut in_header = false;
    for line in log
        .trim_start_matches('\u{feff}')
        .lines()
        .map(strip_timestamp)
    {
        if let Some(rest) = line.strip_prefix("##[group]") {
            sections.extend(current.take());
            if rest.starts_with("Run ") {
                current = Some(StepLog {
                    output: String::new(),
                    exit_code: None,
                });
                in_header = true;
            }
            continue;
        }
        if line.starts_with("##[endgroup]") {
            in_header = false;
            continue;
        }
        let Some(section) = current.as_mut().filter(|_| !in_header) else {
            continue;
        };
        if let Some(code) = exit_code_line(line) {
            section.exit_code = Some(code);
            sections.extend(current.take());
        } else if line.starts_with("Post job cleanup.") || line.starts_with("Cleaning up orphan") {
            sections.extend(current.take());
        } else if !line.starts_with("##[") {
            section.output.push_str(line);
            section.output.push('\n');
        }
    }
    sections.extend(current);
    let failed = sections.iter().position(|s| s.exit_code.is_some());
    match failed.or(sections.len().checked_sub(1)) {
        Some(i) => sections.swap_remove(i),
        None => StepLog {
            output: String::new(),
            exit_code: None,
        },
    }
}

fn exit_code_line(line: &str) -> Option<i32> {
    line.strip_prefix("##[error]Process completed with exit code ")?
        .trim_end_matches('.')
        .parse()
        .ok()
}

/// `2026-11-26T05:41:13.1234567Z text` → `text`.
fn strip_timestamp(line: &str) -> &str {
    let Some((stamp, rest)) = line.split_once(' ') else {
        return if looks_like_timestamp(line) { "" } else { line };
    };
    if looks_like_timestamp(stamp) {
        rest
    } else {
        line
    }
}

fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && s.ends_with('Z')
        && b[..4].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A job log as GitHub writes one: a setup group, the step's `Run` group, the
    /// step's lines, the exit-code line after a failure, the cleanup line.
    fn github_log(lines: &[String], exit_code: Option<i32>) -> String {
        let stamp = "2026-11-26T05:41:13.1234567Z";
        let mut log = format!(
            "\u{feff}{stamp} ##[group]Runner Image\n{stamp} Image: ubuntu\n{stamp} ##[endgroup]\n"
        );
        log.push_str(&format!(
            "{stamp} ##[group]Run eval \"bench $BENCH_ARGS\"\n{stamp} env:\n{stamp} ##[endgroup]\n"
        ));
        for line in lines {
            log.push_str(&format!("{stamp} {line}\n"));
        }
        if let Some(code) = exit_code {
            log.push_str(&format!(
                "{stamp} ##[error]Process completed with exit code {code}.\n"
            ));
        }
        log.push_str(&format!("{stamp} Cleaning up orphan processes\n"));
        log
    }

    proptest! {
        #[test]
        fn any_text_reads_without_panicking(log in "\\PC{0,300}") {
            let _ = bench_output_from_job_log(&log);
        }

        #[test]
        fn the_steps_lines_and_exit_code_come_back(
            lines in proptest::collection::vec("[a-z0-9 :.=/-]{0,40}", 0..8),
            exit_code in proptest::option::of(1i32..256),
        ) {
            let step = bench_output_from_job_log(&github_log(&lines, exit_code));
            let expected: String = lines.iter().map(|l| format!("{l}\n")).collect();
            prop_assert_eq!(step.output, expected);
            prop_assert_eq!(step.exit_code, exit_code);
        }
    }

    const FAILED: &str = "\u{feff}2026-11-26T05:41:10.0000000Z Current runner version: '2.321.0'
2026-11-26T05:41:10.1000000Z ##[group]Operating System
2026-11-26T05:41:10.1000000Z Ubuntu
2026-11-26T05:41:10.1000000Z ##[endgroup]
2026-11-26T05:41:11.0000000Z ##[group]Run eval \"bench $BENCH_ARGS\"
2026-11-26T05:41:11.0000000Z eval \"bench $BENCH_ARGS\"
2026-11-26T05:41:11.0000000Z shell: /usr/bin/bash -e {0}
2026-11-26T05:41:11.0000000Z env:
2026-11-26T05:41:11.0000000Z   BENCH_ARGS: --site prod migrate
2026-11-26T05:41:11.0000000Z ##[endgroup]
2026-11-26T05:41:12.0000000Z Migrating prod
2026-11-26T05:41:13.0000000Z frappe.exceptions.ValidationError: Field age is mandatory
2026-11-26T05:41:13.5000000Z ##[error]Process completed with exit code 1.
2026-11-26T05:41:13.6000000Z Cleaning up orphan processes
";

    #[test]
    fn a_failed_step_gives_its_lines_and_exit_code() {
        let step = bench_output_from_job_log(FAILED);
        assert_eq!(
            step,
            StepLog {
                output:
                    "Migrating prod\nfrappe.exceptions.ValidationError: Field age is mandatory\n"
                        .into(),
                exit_code: Some(1),
            }
        );
    }

    #[test]
    fn a_successful_run_gives_the_last_run_step() {
        let log = "2026-11-26T05:41:11Z ##[group]Run actions/checkout@v4
2026-11-26T05:41:11Z with:
2026-11-26T05:41:11Z ##[endgroup]
2026-11-26T05:41:11Z Syncing repository
2026-11-26T05:41:12Z ##[group]Run eval \"bench $BENCH_ARGS\"
2026-11-26T05:41:12Z ##[endgroup]
2026-11-26T05:41:13Z Backup Summary for prod at 2026-11-26 05:41:13.000000
2026-11-26T05:41:13Z ##[group]Post job cleanup.
2026-11-26T05:41:13Z git version
";
        assert_eq!(
            bench_output_from_job_log(log),
            StepLog {
                output: "Backup Summary for prod at 2026-11-26 05:41:13.000000\n".into(),
                exit_code: None,
            }
        );
    }

    #[test]
    fn a_log_without_steps_gives_nothing_and_lines_without_stamps_stay() {
        assert_eq!(bench_output_from_job_log("").output, "");
        assert_eq!(strip_timestamp("plain text"), "plain text");
        assert_eq!(strip_timestamp("2026-11-26T05:41:13.1234567Z"), "");
        assert_eq!(
            exit_code_line("##[error]Process completed with exit code 137."),
            Some(137)
        );
    }
}
