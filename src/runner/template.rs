//! The command-template transport: substitute `{site}` and `{args}` into a shell
//! line (every value shell-quoted when it needs it) and run it with `sh -c`,
//! capturing stdout and stderr, bounded by a timeout that kills the whole process
//! group (so an `ssh` started by the shell goes too).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::{CommandOutput, RunnerError};
use crate::frappe::SiteName;

/// A validated template holding `{args}` (and usually `{site}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTemplate(String);

impl CommandTemplate {
    pub fn new(template: String) -> Result<CommandTemplate, RunnerError> {
        let problem = if template.trim().is_empty() {
            Some("it is empty; use e.g. \"bench --site {site} {args}\"")
        } else if !template.contains("{args}") {
            Some("it has no {args} placeholder; use e.g. \"bench --site {site} {args}\"")
        } else {
            None
        };
        match problem {
            Some(p) => Err(RunnerError::Template {
                template,
                problem: p.into(),
            }),
            None => Ok(CommandTemplate(template)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shell line for one run. Values that are not plain words are single-quoted
    /// (site names are plain words by construction). `with_site = false` drops a
    /// `--site {site}` from the template (for `bench restart`).
    pub fn render(&self, site: &SiteName, args: &[String], with_site: bool) -> String {
        let mut line = self.0.clone();
        if !with_site {
            line = line
                .replace("--site {site} ", "")
                .replace(" --site {site}", "");
        }
        let args = args
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ");
        line.replace("{site}", &shell_quote(site.as_str()))
            .replace("{args}", &args)
    }
}

/// Quotes a value for POSIX sh. Plain words (letters, digits, `._-/:=@%+,`) stay
/// bare, so they also survive a template that wraps them in its own single
/// quotes for ssh; anything else is single-quoted with `'` escaped.
pub fn shell_quote(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-/:=@%+,".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', "'\\''"))
}

pub(super) enum ShellFailure {
    Spawn(String),
    TimedOut(CommandOutput),
}

/// Runs `sh -c <line>` in its own process group, stdin closed.
pub(super) async fn run_shell(
    line: &str,
    timeout: Duration,
) -> Result<CommandOutput, ShellFailure> {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(line)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command
        .spawn()
        .map_err(|e| ShellFailure::Spawn(format!("sh -c: {e}")))?;
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let readers = [
        child
            .stdout
            .take()
            .map(|s| tokio::spawn(collect(s, stdout.clone()))),
        child
            .stderr
            .take()
            .map(|s| tokio::spawn(collect(s, stderr.clone()))),
    ];
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let text = |buf: &Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&buf.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    };
    match waited {
        Ok(Ok(status)) => {
            for reader in readers.into_iter().flatten() {
                let _ = reader.await;
            }
            Ok(CommandOutput {
                exit_code: status.code(),
                stdout: text(&stdout),
                stderr: text(&stderr),
            })
        }
        Ok(Err(e)) => Err(ShellFailure::Spawn(format!("waiting for sh: {e}"))),
        Err(_) => {
            kill_group(&mut child).await;
            for reader in readers.into_iter().flatten() {
                reader.abort();
            }
            Err(ShellFailure::TimedOut(CommandOutput {
                exit_code: None,
                stdout: text(&stdout),
                stderr: text(&stderr),
            }))
        }
    }
}

async fn collect<R: tokio::io::AsyncRead + Unpin>(mut reader: R, into: Arc<Mutex<Vec<u8>>>) {
    let mut chunk = [0u8; 8192];
    while let Ok(n) = reader.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        into.lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(&chunk[..n]);
    }
}

/// Kills the process group we created (by its id), then reaps the shell.
async fn kill_group(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .arg("-KILL")
            .arg("--")
            .arg(format!("-{pid}"))
            .status()
            .await;
    }
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn renders_and_quotes() {
        let t = CommandTemplate::new("bench --site {site} {args}".into()).unwrap();
        let site = SiteName::new("erp.example.com").unwrap();
        let args = vec!["restore".to_string(), "/backups/a b.sql.gz".to_string()];
        assert_eq!(
            t.render(&site, &args, true),
            "bench --site erp.example.com restore '/backups/a b.sql.gz'"
        );
        assert_eq!(t.render(&site, &["restart".into()], false), "bench restart");
    }

    #[test]
    fn a_template_needs_args() {
        assert!(CommandTemplate::new("bench --site {site} backup".into()).is_err());
        assert!(CommandTemplate::new(" ".into()).is_err());
    }

    #[tokio::test]
    async fn runs_captures_and_times_out() {
        let out = run_shell("echo out; echo err >&2; exit 3", Duration::from_secs(10))
            .await
            .ok()
            .unwrap();
        assert_eq!(
            (out.exit_code, out.stdout.as_str(), out.stderr.as_str()),
            (Some(3), "out\n", "err\n")
        );
        let Err(ShellFailure::TimedOut(partial)) =
            run_shell("echo started; sleep 30", Duration::from_millis(300)).await
        else {
            panic!("expected a timeout");
        };
        assert_eq!(partial.stdout, "started\n");
    }

    proptest! {
        #[test]
        fn quoted_values_come_back_verbatim_through_sh(value in "\\PC{0,30}") {
            let line = format!("printf %s {}", shell_quote(&value));
            let out = std::process::Command::new("sh").arg("-c").arg(&line).output().unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&out.stdout).into_owned(), value);
        }
    }
}
