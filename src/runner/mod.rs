//! Runs `bench` operations on the bench host (backup, restore, migrate, restart) and
//! reads what bench prints into typed outcomes. Two transports: a command template
//! run with `sh -c` (locally, or `ssh host '…'` for a remote bench), or a GitHub
//! Actions `workflow_dispatch` workflow whose job log carries bench's output. It
//! must not touch the workflow, the store or Frappe's REST API.

mod dispatch;
mod parse;
mod template;

use std::time::Duration;

pub use dispatch::{bench_output_from_job_log, StepLog, WorkflowDispatch};
pub use parse::{
    failure_reason, parse_backup, parse_migrate, parse_restore, BackupFile, BackupSummary,
    MigrateOutcome, PatchRun, RestoreOutcome,
};
pub use template::{shell_quote, CommandTemplate};

use crate::frappe::SiteName;

/// How bench commands reach the bench host.
#[derive(Debug, Clone)]
pub enum Transport {
    /// `sh -c <template>` with `{site}` and `{args}` substituted (shell-quoted).
    Command(CommandTemplate),
    /// A `workflow_dispatch` workflow given the bench arguments as its `args` input.
    WorkflowDispatch(WorkflowDispatch),
}

/// What one bench run printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// None when the process was killed by a signal.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    /// stdout then stderr: bench prints summaries on stdout and tracebacks on stderr.
    pub fn combined(&self) -> String {
        if self.stderr.is_empty() {
            return self.stdout.clone();
        }
        format!(
            "{}{}{}",
            self.stdout,
            if self.stdout.ends_with('\n') || self.stdout.is_empty() {
                ""
            } else {
                "\n"
            },
            self.stderr
        )
    }

    /// The last `n` lines of the combined output.
    pub fn tail(&self, n: usize) -> String {
        let combined = self.combined();
        let lines: Vec<&str> = combined.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// Lines of output kept in errors.
const TAIL_LINES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("bench {operation} on site {site} failed (exit code {}): {reason}\n--- last output ---\n{tail}", exit_code.map(|c| c.to_string()).unwrap_or_else(|| "none, killed".into()))]
    Failed {
        operation: String,
        site: String,
        exit_code: Option<i32>,
        reason: String,
        tail: String,
    },
    #[error("bench {operation} on site {site} did not finish within {}s and was stopped\n--- last output ---\n{tail}", timeout.as_secs())]
    TimedOut {
        operation: String,
        site: String,
        timeout: Duration,
        tail: String,
    },
    #[error("bench {operation} on site {site} exited 0 but did not print what bench prints on success: {problem}\n--- last output ---\n{tail}")]
    UnexpectedOutput {
        operation: String,
        site: String,
        problem: String,
        tail: String,
    },
    #[error("could not start the bench command for {operation} on site {site}: {message}")]
    Spawn {
        operation: String,
        site: String,
        message: String,
    },
    /// A dispatched workflow run started but its outcome could not be read: it may
    /// have run, so nothing may be retried before someone looks at it.
    #[error("bench {operation} on site {site} was started as {run}, but lockstep lost track of it: {message}. Check that run on GitHub before trying again")]
    Lost {
        operation: String,
        site: String,
        run: String,
        message: String,
    },
    #[error("runner template {template:?} is not usable: {problem}")]
    Template { template: String, problem: String },
}

/// Runs bench operations through one transport, each bounded by a timeout.
#[derive(Debug, Clone)]
pub struct Runner {
    transport: Transport,
    timeout: Duration,
    restore_args: Vec<String>,
}

impl Runner {
    /// A `sh -c` runner. The template holds `{args}` and usually `{site}`, e.g.
    /// `bench --site {site} {args}` or
    /// `ssh bench@host "cd frappe-bench && bench --site {site} {args}"`.
    /// Substituted values are shell-quoted only when they are not plain words; for a
    /// remote command prefer double quotes around it (as above): a quoted value then
    /// reaches the remote shell intact, which single quotes around it would break.
    pub fn from_template(template: String, timeout: Duration) -> Result<Runner, RunnerError> {
        Ok(Runner {
            transport: Transport::Command(CommandTemplate::new(template)?),
            timeout,
            restore_args: vec!["--force".into()],
        })
    }

    /// A runner that dispatches a GitHub Actions workflow for each bench run.
    pub fn from_workflow(dispatch: WorkflowDispatch, timeout: Duration) -> Runner {
        Runner {
            transport: Transport::WorkflowDispatch(dispatch),
            timeout,
            restore_args: vec!["--force".into()],
        }
    }

    /// Extra arguments after `restore <file>` (default `--force`: restoring the
    /// pre-migrate backup is a downgrade, and bench would otherwise prompt). The
    /// MariaDB root password belongs in the bench's common_site_config.json
    /// (`root_password`), never in the template.
    pub fn with_restore_args(mut self, args: Vec<String>) -> Runner {
        self.restore_args = args;
        self
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// `bench --site <site> backup`.
    pub async fn backup(&self, site: &SiteName) -> Result<BackupSummary, RunnerError> {
        let output = self
            .run_checked(site, "backup", &["backup".to_string()], true)
            .await?;
        parse_backup(&output.combined())
            .map_err(|problem| unexpected("backup", site, problem, &output))
    }

    /// `bench --site <site> restore <file> --force`.
    pub async fn restore(
        &self,
        site: &SiteName,
        file: &str,
    ) -> Result<RestoreOutcome, RunnerError> {
        let mut args = vec!["restore".to_string(), file.to_string()];
        args.extend(self.restore_args.iter().cloned());
        let output = self.run_checked(site, "restore", &args, true).await?;
        parse_restore(&output.combined())
            .map_err(|problem| unexpected("restore", site, problem, &output))
    }

    /// `bench --site <site> migrate`.
    pub async fn migrate(&self, site: &SiteName) -> Result<MigrateOutcome, RunnerError> {
        let output = self
            .run_checked(site, "migrate", &["migrate".to_string()], true)
            .await?;
        parse_migrate(&output.combined())
            .map_err(|problem| unexpected("migrate", site, problem, &output))
    }

    /// `bench restart`. Not a site command (`bench --site s restart` is "No such
    /// command" in frappe), so `--site {site}` is dropped from the template for it.
    pub async fn restart(&self, site: &SiteName) -> Result<(), RunnerError> {
        self.run_checked(site, "restart", &["restart".to_string()], false)
            .await
            .map(|_| ())
    }

    /// Runs any bench arguments for a site and returns what it printed, whatever
    /// the exit code (timeouts and spawn failures are still errors).
    pub async fn run(
        &self,
        site: &SiteName,
        args: &[String],
    ) -> Result<CommandOutput, RunnerError> {
        let operation = args.first().cloned().unwrap_or_default();
        self.execute(site, &operation, args, true).await
    }

    async fn run_checked(
        &self,
        site: &SiteName,
        operation: &str,
        args: &[String],
        with_site: bool,
    ) -> Result<CommandOutput, RunnerError> {
        let output = self.execute(site, operation, args, with_site).await?;
        if output.exit_code != Some(0) {
            return Err(RunnerError::Failed {
                operation: operation.into(),
                site: site.to_string(),
                exit_code: output.exit_code,
                reason: failure_reason(&output.combined()),
                tail: output.tail(TAIL_LINES),
            });
        }
        Ok(output)
    }

    async fn execute(
        &self,
        site: &SiteName,
        operation: &str,
        args: &[String],
        with_site: bool,
    ) -> Result<CommandOutput, RunnerError> {
        match &self.transport {
            Transport::Command(template) => {
                let line = template.render(site, args, with_site);
                tracing::info!(site = %site, operation, command = %line, "running bench");
                self.run_command(&line, site, operation).await
            }
            Transport::WorkflowDispatch(target) => {
                let bench_args = bench_arguments(site, args, with_site);
                tracing::info!(site = %site, operation, workflow = %target.workflow, args = %bench_args, "dispatching bench");
                self.run_dispatched(target, bench_args, site, operation)
                    .await
            }
        }
    }

    async fn run_command(
        &self,
        line: &str,
        site: &SiteName,
        operation: &str,
    ) -> Result<CommandOutput, RunnerError> {
        template::run_shell(line, self.timeout)
            .await
            .map_err(|failure| match failure {
                template::ShellFailure::Spawn(message) => RunnerError::Spawn {
                    operation: operation.into(),
                    site: site.to_string(),
                    message,
                },
                template::ShellFailure::TimedOut(partial) => RunnerError::TimedOut {
                    operation: operation.into(),
                    site: site.to_string(),
                    timeout: self.timeout,
                    tail: partial.tail(TAIL_LINES),
                },
            })
    }

    async fn run_dispatched(
        &self,
        target: &WorkflowDispatch,
        bench_args: String,
        site: &SiteName,
        operation: &str,
    ) -> Result<CommandOutput, RunnerError> {
        use dispatch::DispatchFailure;
        dispatch::run_workflow(target, bench_args, self.timeout)
            .await
            .map_err(|failure| match failure {
                DispatchFailure::NotStarted(message) => RunnerError::Spawn {
                    operation: operation.into(),
                    site: site.to_string(),
                    message,
                },
                DispatchFailure::TimedOut { run, status } => RunnerError::TimedOut {
                    operation: operation.into(),
                    site: site.to_string(),
                    timeout: self.timeout,
                    tail: match status.as_str() {
                        "queued" => format!("{run} was still queued: no runner picked it up (is the self-hosted runner online?); lockstep asked GitHub to cancel it"),
                        "in_progress" => format!("{run} was still running; lockstep asked GitHub to cancel it"),
                        other => format!("{run} was still {other}; lockstep asked GitHub to cancel it"),
                    },
                },
                DispatchFailure::Lost { run, message } => RunnerError::Lost {
                    operation: operation.into(),
                    site: site.to_string(),
                    run,
                    message,
                },
            })
    }
}

/// The `args` input of a dispatched run: what follows `bench`, shell-quoted.
fn bench_arguments(site: &SiteName, args: &[String], with_site: bool) -> String {
    let site_args = ["--site".to_string(), site.to_string()];
    let all = if with_site { &site_args[..] } else { &[] };
    all.iter()
        .chain(args)
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unexpected(
    operation: &str,
    site: &SiteName,
    problem: String,
    output: &CommandOutput,
) -> RunnerError {
    RunnerError::UnexpectedOutput {
        operation: operation.into(),
        site: site.to_string(),
        problem,
        tail: output.tail(TAIL_LINES),
    }
}
