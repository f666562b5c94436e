//! Running the configured tester (`[checks.tester]`): its bench arguments through the
//! runner on the staging site (`bench --site staging run-tests …`), then its JUnit
//! and Cobertura reports and, when configured, the diff its coverage is measured on.
//! A report that is missing or malformed is the tester box's failure, named; never a
//! panic. The reports and the diff are read on this host: with an `ssh` runner they
//! must land on a path shared with it.

use crate::adapters::Adapters;
use crate::checks::tester::{evaluate, Reports, TesterError, TesterResult};
use crate::checks::{ChecksConfig, TesterConfig};
use crate::error::UserError;
use std::time::Duration;

/// `None` when no tester is configured.
pub async fn run(
    checks: &ChecksConfig,
    adapters: &Adapters,
) -> anyhow::Result<Option<Result<TesterResult, TesterError>>> {
    let Some(tester) = &checks.tester else {
        return Ok(None);
    };
    let runner = adapters.runner().map_err(|_| {
        UserError::new(
            "[checks.tester] is set but no [runner] is configured to run it on the bench host.",
        )
    })?;
    let staging = adapters.staging()?.bench_site.clone();
    let args: Vec<String> = tester
        .command
        .split_whitespace()
        .map(String::from)
        .collect();
    // bench run-tests exits 0 on failing tests (unless CI is set): the report decides.
    runner
        .run(&staging, &args)
        .await
        .map_err(|err| anyhow::anyhow!("the test run failed to run: {err}"))?;
    let timeout = Duration::from_secs(checks.box_timeout_secs);
    Ok(Some(read_reports(tester, timeout).await?))
}

async fn read_reports(
    tester: &TesterConfig,
    timeout: Duration,
) -> anyhow::Result<Result<TesterResult, TesterError>> {
    let junit = read(&tester.junit_path).await?;
    let cobertura = match &tester.cobertura_path {
        Some(path) => Some((path.as_str(), read(path).await?)),
        None => None,
    };
    let diff = match &tester.diff_command {
        Some(command) => Some(super::shell::stdout(command, timeout).await?),
        None => None,
    };
    Ok(evaluate(Reports {
        junit_path: &tester.junit_path,
        junit: &junit,
        cobertura: cobertura
            .as_ref()
            .map(|(path, bytes)| (*path, bytes.as_slice())),
        diff: diff.as_deref(),
    }))
}

async fn read(path: &str) -> anyhow::Result<Vec<u8>> {
    tokio::fs::read(path)
        .await
        .map_err(|err| anyhow::anyhow!("the tester left no report at {path} ({err})"))
}
