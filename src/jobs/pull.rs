//! The `pull` job: capture the staging site into the staging branch as one commit
//! (tree on the branch's tip, commit, fast-forward: a constant number of calls).
//! Safe to repeat: a second run finds nothing to commit and says so.

use super::{JobResult, Reporter};
use crate::blueprint::layout::write_tree;
use crate::blueprint::render::plural;
use crate::command::SiteSel;
use crate::github::FileChanges;
use crate::services::Services;
use crate::workflow::effect::Message;

pub async fn run(
    services: &Services,
    requester: &str,
    _reporter: &Reporter,
) -> anyhow::Result<JobResult> {
    let tracked = services.tracked(SiteSel::Staging)?;
    let (site_set, branch) = tokio::try_join!(tracked.read_site(), tracked.read_branch())?;
    let changes = FileChanges::between(&write_tree(&branch.blueprints), &write_tree(&site_set));
    if changes.is_empty() {
        return Ok(JobResult {
            message: Message::text(format!(
                ":white_check_mark: Pull: `{}` already matches site `{}`; no commit made.",
                branch.label(),
                tracked.site_name()
            )),
            audit: vec!["nothing to commit".into()],
        });
    }
    let changed = changes.upsert.len() + changes.delete.len();
    let message = format!(
        "Capture site {} into {}\n\n{} by lockstep for Slack user {requester}.",
        tracked.site_name(),
        branch.name,
        plural(changed, "changed file")
    );
    let sha = tracked.commit(&branch, &changes, &message).await?;
    let listing: Vec<String> = changes
        .upsert
        .keys()
        .map(|path| format!("M {path}"))
        .chain(changes.delete.iter().map(|path| format!("D {path}")))
        .collect();
    Ok(JobResult {
        message: Message::with_code(
            format!(
                ":white_check_mark: Pull: committed {} to `{}` as `{}`.",
                plural(changed, "file"),
                branch.name,
                &sha[..sha.len().min(7)]
            ),
            listing.join("\n"),
        ),
        audit: vec![format!(
            "committed {} to {} as {sha}",
            plural(changed, "file"),
            branch.name
        )],
    })
}
