//! The reviewer as the jobs run it: the built-in rules, plus the optional external
//! reviewer (`[checks.external_reviewer]`, e.g. semgrep): the selected blueprints'
//! embedded code is written out one file per field into a temporary folder, the
//! command runs over it (`{dir}` in the command), and its JSON is mapped back onto
//! the blueprints. What the tool says about itself is kept, never dropped.

use crate::blueprint::BlueprintSet;
use crate::checks::reviewer::external::parse_semgrep;
use crate::checks::reviewer::{
    code_files, review_selection, sort_findings, ReviewFinding, Selection,
};
use crate::checks::ChecksConfig;
use std::time::Duration;

/// Findings of both reviewers, and the external reviewer's own errors.
pub async fn findings(
    checks: &ChecksConfig,
    set: &BlueprintSet,
    selection: &Selection,
) -> anyhow::Result<(Vec<ReviewFinding>, Vec<String>)> {
    let mut findings = review_selection(set, selection);
    let Some(external) = &checks.external_reviewer else {
        return Ok((findings, Vec::new()));
    };
    let files = code_files(set, selection);
    let dir = tempfile::tempdir()?;
    for file in &files {
        let path = dir.path().join(&file.path);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::write(&path, &file.code).await?;
    }
    let command = external
        .command
        .replace("{dir}", &dir.path().display().to_string());
    let timeout = Duration::from_secs(checks.box_timeout_secs);
    let output = super::shell::output(&command, Some(dir.path()), timeout).await?;
    // semgrep exits non-zero when it finds something; its JSON is what counts.
    let review = parse_semgrep(&output.stdout, set, &files).map_err(|problem| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::anyhow!(
            "{problem} (exit {}; {})",
            output.status,
            stderr.lines().last().unwrap_or("")
        )
    })?;
    findings.extend(review.findings);
    sort_findings(&mut findings);
    Ok((findings, review.errors))
}
