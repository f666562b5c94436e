//! `pull`: capture the staging site into the staging branch as one commit. The plan
//! reads the site and the branch; the commit is stamped (same content, same commit),
//! so performing it again after a crash finds the branch already there. A branch
//! that moved meanwhile is never forced: the run plans again on its new head.

use super::diff::{read_branch, read_site};
use super::{failed, header, Arrival, Context};
use crate::adapters::ConfigRepo;
use crate::adapters::{Side, Tracked};
use crate::blueprint::layout::write_tree;
use crate::blueprint::render::plural;
use crate::command::Command;
use crate::frappe::StagingSite;
use crate::github::{Entry, FileChanges, Landed, StampedCommit};
use crate::ids::RunId;
use crate::workflow::effect::Message;
use crate::workflow::event::CommandEvent;
use crate::workflow::op::{CommitRequest, Failure, OpResult, Outcome, PullPlan};
use crate::workflow::run::Run;
use crate::workflow::sync::PullRun;
use chrono::{DateTime, Utc};

pub fn on_command(ctx: &Context, event: &CommandEvent) -> anyhow::Result<Arrival> {
    let staging = ctx.adapters.staging()?;
    let announce = Message::text(format!(
        ":hourglass_flowing_sand: Pull: capturing site `{}` into branch `{}`…",
        staging.name, staging.branch
    ));
    let run = PullRun::new(header(ctx, event, Command::Pull), announce);
    Ok(Arrival::start(Run::Pull(run)))
}

/// Reads the site and its branch; the commit that would capture the site, if any.
pub async fn plan(staging: &Side<StagingSite>, run: &RunId, now: DateTime<Utc>) -> OpResult {
    let tracked = Tracked::of(staging);
    let (site_set, branch) = tokio::try_join!(read_site(tracked), read_branch(tracked))?;
    let changes = FileChanges::between(&write_tree(&branch.blueprints), &write_tree(&site_set));
    let label = branch.label();
    let site = staging.name.to_string();
    if changes.is_empty() {
        return Ok(Outcome::PullPlan(Box::new(PullPlan {
            label,
            site,
            commit: None,
            listing: Vec::new(),
        })));
    }
    let changed = changes.upsert.len() + changes.delete.len();
    let listing: Vec<String> = changes
        .upsert
        .keys()
        .map(|path| format!("M {path}"))
        .chain(changes.delete.iter().map(|path| format!("D {path}")))
        .collect();
    let mut upsert = std::collections::BTreeMap::new();
    for (path, bytes) in changes.upsert {
        let text = String::from_utf8(bytes).map_err(|_| {
            Failure::Refused(format!(
                "{path} is not UTF-8 text; canonical blueprints always are"
            ))
        })?;
        upsert.insert(path, text);
    }
    Ok(Outcome::PullPlan(Box::new(PullPlan {
        label,
        site: site.clone(),
        commit: Some(CommitRequest {
            branch: branch.name.clone(),
            parent: branch.snapshot.base.commit.clone(),
            parent_tree: branch.snapshot.base.tree.clone(),
            message: format!(
                "Capture site {site} into {}\n\n{} by lockstep run {run}.",
                branch.name,
                plural(changed, "changed file")
            ),
            stamp: now,
            upsert,
            delete: changes.delete.into_iter().collect(),
            create_branch: false,
        }),
        listing,
    })))
}

/// Makes the planned commit and moves the branch to it (fast-forward only).
pub async fn commit(repo: &ConfigRepo, request: &CommitRequest) -> OpResult {
    let entries = request
        .upsert
        .iter()
        .map(|(path, text)| (path.clone(), Entry::Text(text.clone())))
        .chain(
            request
                .delete
                .iter()
                .map(|path| (path.clone(), Entry::Delete)),
        )
        .collect();
    let commit = StampedCommit {
        branch: &request.branch,
        parent: &request.parent,
        parent_tree: &request.parent_tree,
        message: &request.message,
        stamp: request.stamp,
        entries,
        create_branch: request.create_branch,
    };
    match repo.github.commit_stamped(&commit).await.map_err(failed)? {
        Landed::At(sha) => Ok(Outcome::Committed { sha }),
        Landed::Moved { .. } => Err(Failure::BranchMoved {
            branch: request.branch.clone(),
        }),
    }
}
