//! Running a configured command on the bot's host (`sh -c`), with a timeout and the
//! process killed if the job is dropped. For the commands people configure beside
//! the runner: the tester's diff command and the external reviewer.

use std::path::Path;
use std::process::Output;
use std::time::Duration;
use tokio::process::Command;

/// Runs `command` in `dir` (or the bot's working folder); its output whatever the
/// exit status, or an error if it cannot start or runs past `timeout`.
pub async fn output(
    command: &str,
    dir: Option<&Path>,
    timeout: Duration,
) -> anyhow::Result<Output> {
    let mut child = Command::new("sh");
    child.arg("-c").arg(command).kill_on_drop(true);
    if let Some(dir) = dir {
        child.current_dir(dir);
    }
    tokio::time::timeout(timeout, child.output())
        .await
        .map_err(|_| anyhow::anyhow!("`{command}` did not finish within {}s", timeout.as_secs()))?
        .map_err(|err| anyhow::anyhow!("cannot start `{command}`: {err}"))
}

/// Runs `command`; its standard output, or an error naming the exit status and the
/// end of what it printed on standard error.
pub async fn stdout(command: &str, timeout: Duration) -> anyhow::Result<String> {
    let output = output(command, None, timeout).await?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        anyhow::bail!(
            "`{command}` failed ({}): {}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
