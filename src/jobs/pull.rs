//! The `pull` job: capture the staging site into the staging branch as one commit
//! (tree on the branch's tip, commit, fast-forward: a constant number of calls).
//! Safe to repeat: a second run finds nothing to commit and says so.

use super::diff::plural;
use super::{JobResult, Reporter};
use crate::blueprint::layout::{write_tree, REPO_ROOT};
use crate::command::SiteSel;
use crate::services::Services;
use crate::workflow::effect::Message;
use std::collections::BTreeMap;

pub async fn run(services: &Services, requester: &str, _reporter: &Reporter) -> anyhow::Result<JobResult> {
    let tracked = services.tracked(SiteSel::Staging)?;
    let (site_set, branch) = tokio::try_join!(tracked.read_site(), tracked.read_branch())?;
    let changes = file_changes(&write_tree(&branch.blueprints), &write_tree(&site_set));
    if changes.is_empty() {
        return Ok(JobResult {
            message: Message::text(format!(
                ":white_check_mark: Pull: `{}` already matches site `{}`; no commit made.",
                branch.label(),
                tracked.site_name()
            )),
            audit_detail: "nothing to commit".into(),
        });
    }
    let message = format!(
        "Capture site {} into {}\n\n{} by lockstep for Slack user {requester}.",
        tracked.site_name(),
        branch.name,
        plural(changes.len(), "changed file")
    );
    let sha = tracked.commit(&branch, &changes, &message).await?;
    let listing: Vec<String> = changes
        .iter()
        .map(|(path, content)| format!("{} {REPO_ROOT}/{path}", if content.is_some() { "M" } else { "D" }))
        .collect();
    Ok(JobResult {
        message: Message::with_code(
            format!(
                ":white_check_mark: Pull: committed {} to `{}` as `{}`.",
                plural(changes.len(), "file"),
                branch.name,
                &sha[..sha.len().min(7)]
            ),
            listing.join("\n"),
        ),
        audit_detail: format!("committed {} to {} as {sha}", plural(changes.len(), "file"), branch.name),
    })
}

/// Paths whose content differs between the branch and the site: new content, or
/// `None` for a file the site no longer has.
fn file_changes(
    branch: &BTreeMap<String, Vec<u8>>,
    site: &BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut changes = BTreeMap::new();
    for (path, content) in site {
        if branch.get(path) != Some(content) {
            changes.insert(path.clone(), Some(content.clone()));
        }
    }
    for path in branch.keys() {
        if !site.contains_key(path) {
            changes.insert(path.clone(), None);
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_new_or_edited_files_and_deletions() {
        let branch = BTreeMap::from([
            ("a.json".to_string(), b"1".to_vec()),
            ("b.json".to_string(), b"2".to_vec()),
        ]);
        let site = BTreeMap::from([
            ("a.json".to_string(), b"1".to_vec()),
            ("b.json".to_string(), b"3".to_vec()),
            ("c.json".to_string(), b"4".to_vec()),
        ]);
        let changes = file_changes(&branch, &site);
        assert_eq!(
            changes,
            BTreeMap::from([
                ("b.json".to_string(), Some(b"3".to_vec())),
                ("c.json".to_string(), Some(b"4".to_vec())),
            ])
        );
        assert_eq!(file_changes(&site, &branch)["c.json"], None);
        assert!(file_changes(&site, &site).is_empty());
    }
}
