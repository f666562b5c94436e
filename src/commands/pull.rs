//! `pull`: capture the staging site into the staging branch as one commit. The plan
//! reads the site and the branch; the commit is stamped (same content, same commit),
//! so performing it again after a crash finds the branch already there. A branch
//! that moved meanwhile is never forced: the run plans again on its new head. The
//! branch is read as digests and the site streamed against it, as `diff` does; only
//! the bodies of the files written are held.

use std::collections::{BTreeMap, HashMap};

use super::diff::{index_branch, BranchIndex};
use super::{failed, header, Arrival, Context};
use crate::adapters::ConfigRepo;
use crate::adapters::{Side, Tracked};
use crate::blueprint::layout::REPO_ROOT;
use crate::blueprint::render::plural;
use crate::blueprint::tree_index::relayout;
use crate::blueprint::{Blueprint, BlueprintId, Digest, Kind};
use crate::command::Command;
use crate::frappe::FetchOptions;
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

/// The files that make the branch hold the site, as comparing the two written trees
/// would give them, from the site streamed against the branch's digests: the site's
/// bodies are kept only where they differ from the branch, and a file that only
/// moves (a new name beside it shares its slug) takes its body from the branch.
async fn capture(tracked: Tracked<'_>, branch: &BranchIndex) -> Result<FileChanges, Failure> {
    let index = &branch.blobs.index;
    let mut site: BTreeMap<BlueprintId, Digest> = BTreeMap::new();
    let mut differing: HashMap<BlueprintId, Blueprint> = HashMap::new();
    tracked
        .site
        .for_each_blueprint(&FetchOptions::default(), |blueprint, digest| {
            // A record listed twice counts as its last arrival, as a set keeps it.
            let id = blueprint.id();
            if index.get(id.0, &id.1).map(|e| e.digest) == Some(digest) {
                differing.remove(&id);
            } else {
                differing.insert(id.clone(), blueprint);
            }
            site.insert(id, digest);
        })
        .await
        .map_err(failed)?;
    let before: Vec<(Kind, String, Digest)> = index
        .entries()
        .iter()
        .map(|e| (e.kind, e.name.clone(), e.digest))
        .collect();
    let after: Vec<(Kind, String, Digest)> =
        site.into_iter().map(|((k, n), d)| (k, n, d)).collect();
    let (writes, deletes) = relayout(&before, &after);
    let moved = writes
        .iter()
        .filter(|(_, id)| !differing.contains_key(id))
        .map(|(_, id)| id.clone());
    let mut unchanged = branch
        .blobs
        .read(&tracked.repo.github, moved)
        .await
        .map_err(failed)?;
    let mut upsert = BTreeMap::new();
    for (path, (kind, name)) in writes {
        let blueprint = match differing.remove(&(kind, name.clone())) {
            Some(blueprint) => blueprint,
            None => unchanged.remove(kind, &name).ok_or_else(|| {
                failed(anyhow::anyhow!("{kind} {name:?} left the branch's index"))
            })?,
        };
        upsert.insert(
            format!("{REPO_ROOT}/{path}"),
            blueprint.to_canonical_bytes(),
        );
    }
    Ok(FileChanges {
        upsert,
        delete: deletes
            .into_iter()
            .map(|path| format!("{REPO_ROOT}/{path}"))
            .collect(),
    })
}

/// Reads the site and its branch; the commit that would capture the site, if any.
pub async fn plan(staging: &Side<StagingSite>, run: &RunId, now: DateTime<Utc>) -> OpResult {
    let tracked = Tracked::of(staging);
    let branch = index_branch(tracked).await?;
    let changes = capture(tracked, &branch).await?;
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
            parent: branch.blobs.base.commit.clone(),
            parent_tree: branch.blobs.base.tree.clone(),
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
