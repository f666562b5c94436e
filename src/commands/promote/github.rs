//! The promotion's GitHub work, each operation checked before it writes: the
//! snapshot branch (a stamped commit: the same request makes the same commit), the
//! PR (an open PR for the head is reused), labels and review requests (idempotent
//! by nature), reading the review state, the merge with the approved head (already
//! merged counts as done; protection decides, nothing bypasses it), the revert PR
//! (an open revert of this PR is reused) and closing the PR.

use crate::adapters::{Adapters, ConfigRepo};
use crate::commands::failed;
use crate::config::Config;
use crate::github::models::PullRequest;
use crate::github::{Entry, GithubError, Landed, MergeMethod, NewPull, StampedCommit};
use crate::ids::RunId;
use crate::stacks::Scoped;
use crate::workflow::op::{
    ChangeRequest, Failure, OpResult, Outcome, PullRef, PullRequestDraft, ReviewState,
    ReviewVerdict, SnapshotRequest, SnapshotResult,
};
use crate::workflow::promotion::PromotionState;
use crate::workflow::run::Run;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

fn repo(adapters: &Adapters) -> Result<&ConfigRepo, Failure> {
    adapters.repo().map_err(|e| Failure::Refused(e.0))
}

fn pull_ref(pull: &PullRequest) -> PullRef {
    PullRef {
        number: pull.number,
        url: pull.html_url.clone(),
        node_id: pull.node_id.clone(),
        head_sha: pull.head.sha.clone(),
    }
}

/// The promotion branch: main's tree with the promotion's files taken (by blob id)
/// from the staging branch, one stamped commit; an existing promotion branch moves
/// to a new commit on top of its head (a re-run).
pub async fn snapshot(
    adapters: &Adapters,
    request: &SnapshotRequest,
    since: Option<&str>,
) -> OpResult {
    let repo = repo(adapters)?;
    let github = &repo.github;
    let main = github
        .base_of(&repo.production_branch)
        .await
        .map_err(failed)?;
    let staging_head = github
        .branch_head(&repo.staging_branch)
        .await
        .map_err(failed)?
        .ok_or_else(|| {
            Failure::Refused(format!(
                "The config repository has no branch `{}`.",
                repo.staging_branch
            ))
        })?;
    let blobs: BTreeMap<String, String> = github
        .blob_ids(&staging_head)
        .await
        .map_err(failed)?
        .into_iter()
        .collect();
    let mut entries = Vec::new();
    for path in &request.upsert {
        let sha = blobs.get(path).ok_or_else(|| {
            Failure::Refused(format!(
                "`{path}` is not on branch `{}` any more: someone changed it since the checklist; run promote again.",
                repo.staging_branch
            ))
        })?;
        entries.push((path.clone(), Entry::Blob(sha.clone())));
    }
    entries.extend(
        request
            .delete
            .iter()
            .map(|path| (path.clone(), Entry::Delete)),
    );
    let parent = if request.existing {
        github
            .branch_head(&request.branch)
            .await
            .map_err(failed)?
            .ok_or_else(|| {
                Failure::Refused(format!(
                    "Branch `{}` is gone from the config repository; cancel this promotion and start again.",
                    request.branch
                ))
            })?
    } else {
        main.commit.clone()
    };
    let commit = StampedCommit {
        branch: &request.branch,
        parent: &parent,
        parent_tree: &main.tree,
        message: &request.message,
        stamp: request.stamp,
        entries,
        create_branch: !request.existing,
    };
    match github.commit_stamped(&commit).await.map_err(failed)? {
        Landed::At(sha) => Ok(Outcome::Snapshot(SnapshotResult {
            branch: request.branch.clone(),
            sha,
            files: request.upsert.len() + request.delete.len(),
            first_change_at: first_change(repo, since, &main.commit, &staging_head).await,
            base: main.commit,
            staging_head: Some(staging_head),
        })),
        Landed::Moved { head } => Err(Failure::Refused(format!(
            "Branch `{}` already exists at {}, which is not this promotion's commit; nothing was forced. Delete that branch or use --feature to name another.",
            request.branch,
            head.as_deref().map(|h| &h[..h.len().min(7)]).unwrap_or("an unknown commit")
        ))),
    }
}

/// When the first commit this promotion carries was made on staging: the oldest
/// commit after `since` (the staging head the last successful promotion took), or after
/// production's head for the first promotion. Only for the figures: a GitHub that
/// cannot say is logged and leaves it unknown, and the promotion goes on.
async fn first_change(
    repo: &ConfigRepo,
    since: Option<&str>,
    main: &str,
    staging_head: &str,
) -> Option<DateTime<Utc>> {
    let base = since.unwrap_or(main);
    match repo.github.first_commit_since(base, staging_head).await {
        Ok(at) => at,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read when the promoted change was first committed; its lead time stays unknown");
            None
        }
    }
}

/// The staging head the newest other promotion that succeeded took: where this
/// promotion's change starts. A rolled-back promotion's change never stayed on
/// production, so its commits still count for the next one that carries them.
pub fn staging_taken_last(store: Scoped<'_>, except: &RunId) -> Option<String> {
    let runs = store.runs().ok()?;
    runs.iter()
        .filter_map(|run| match run {
            Run::Promotion(p) if &p.header.id != except && p.state == PromotionState::Succeeded => {
                Some(p)
            }
            _ => None,
        })
        .filter_map(|p| {
            let head = p.facts.snapshot.as_ref()?.staging_head.clone()?;
            Some((p.header.started_at, head))
        })
        .max()
        .map(|(_, head)| head)
}

/// The PR from the promotion branch into main: the open one for the head if there is
/// one (its title and body updated), else a new one.
pub async fn open_pull(adapters: &Adapters, draft: &PullRequestDraft) -> OpResult {
    let repo = repo(adapters)?;
    let github = &repo.github;
    let open = github
        .find_open_pull(&draft.head, &repo.production_branch)
        .await
        .map_err(failed)?;
    if let Some(open) = open {
        let updated = github
            .update_pull(open.number, &draft.title, &draft.body)
            .await
            .map_err(failed)?;
        return Ok(Outcome::Pull(pull_ref(&updated)));
    }
    let created = github
        .create_pull(&NewPull {
            title: &draft.title,
            head: &draft.head,
            base: &repo.production_branch,
            body: &draft.body,
            draft: false,
        })
        .await;
    match created {
        Ok(pull) => Ok(Outcome::Pull(pull_ref(&pull))),
        // Created by an earlier attempt whose answer was lost: find it.
        Err(err) if err.is_validation("already exists") => {
            match github
                .find_open_pull(&draft.head, &repo.production_branch)
                .await
                .map_err(failed)?
            {
                Some(pull) => Ok(Outcome::Pull(pull_ref(&pull))),
                None => Err(failed(err)),
            }
        }
        Err(err) => Err(failed(err)),
    }
}

pub async fn label(adapters: &Adapters, number: u64, labels: &[String]) -> OpResult {
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    repo(adapters)?
        .github
        .add_labels(number, &labels)
        .await
        .map_err(|err| {
            Failure::Refused(format!(
                "Labelling #{number} failed: {}",
                crate::commands::explain::explain(&err.into())
            ))
        })?;
    Ok(Outcome::Done)
}

pub async fn request_review(adapters: &Adapters, number: u64, login: &str) -> OpResult {
    repo(adapters)?
        .github
        .request_reviewers(number, &[login])
        .await
        .map_err(|err| {
            Failure::Refused(format!(
                "Asking @{login} to review #{number} failed: {}",
                crate::commands::explain::explain(&err.into())
            ))
        })?;
    Ok(Outcome::Done)
}

/// The PR's state, and its reviews reduced to a verdict bound to the current head:
/// an approval counts only for the commit it approved.
pub async fn read_reviews(adapters: &Adapters, number: u64) -> OpResult {
    let github = &repo(adapters)?.github;
    let pull = github.get_pull(number).await.map_err(failed)?;
    let reviews = github.list_reviews(number).await.map_err(failed)?;
    let author = pull
        .user
        .as_ref()
        .map(|u| u.login.clone())
        .unwrap_or_default();
    let summary = crate::github::summarize(&reviews, &pull.head.sha, &author, None);
    let decision = github.review_decision(number).await.unwrap_or(None);
    let approved_at_head: Vec<String> = summary
        .approved_by
        .iter()
        .filter(|login| {
            reviews.iter().rev().any(|r| {
                r.user.as_ref().is_some_and(|u| &u.login == *login)
                    && r.state == "APPROVED"
                    && r.commit_id.as_deref() == Some(pull.head.sha.as_str())
            })
        })
        .cloned()
        .collect();
    let verdict = if !summary.changes_requested_by.is_empty()
        || decision == Some(crate::github::ReviewDecision::ChangesRequested)
    {
        ReviewVerdict::ChangesRequested
    } else if !approved_at_head.is_empty()
        && decision != Some(crate::github::ReviewDecision::ReviewRequired)
    {
        ReviewVerdict::Approved(approved_at_head)
    } else {
        ReviewVerdict::Pending
    };
    let change_requests = reviews
        .iter()
        .filter(|r| r.state == "CHANGES_REQUESTED")
        .map(|r| ChangeRequest {
            id: r.id,
            reviewer: r.user.as_ref().map(|u| u.login.clone()).unwrap_or_default(),
            body: r.body.clone().unwrap_or_default(),
            comments: Vec::new(),
        })
        .collect();
    Ok(Outcome::Reviews(ReviewState {
        head_sha: pull.head.sha.clone(),
        state: pull.state.clone(),
        merged: pull.merged == Some(true),
        merge_sha: pull
            .merge_commit_sha
            .clone()
            .filter(|_| pull.merged == Some(true)),
        decision: verdict,
        change_requests,
    }))
}

/// Merges exactly the approved head through `PUT /merge`: protection decides.
pub async fn merge(
    adapters: &Adapters,
    config: &Config,
    number: u64,
    head_sha: &str,
    title: &str,
) -> OpResult {
    let github = &repo(adapters)?.github;
    let pull = github.get_pull(number).await.map_err(failed)?;
    if pull.merged == Some(true) {
        if let Some(sha) = pull.merge_commit_sha {
            return Ok(Outcome::Merged { sha });
        }
    }
    let method = match config.file.promote.merge_method.as_str() {
        "squash" => MergeMethod::Squash,
        "rebase" => MergeMethod::Rebase,
        _ => MergeMethod::Merge,
    };
    match github
        .merge_pull(number, head_sha, method, Some(title))
        .await
    {
        Ok(result) => Ok(Outcome::Merged { sha: result.sha }),
        Err(GithubError::MergeRefused { message, .. }) => Err(Failure::MergeRefused {
            status: 405,
            text: message,
        }),
        Err(GithubError::HeadModified { .. }) => Err(Failure::MergeRefused {
            status: 409,
            text: format!(
                "the head of #{number} is no longer {}",
                &head_sha[..head_sha.len().min(7)]
            ),
        }),
        Err(err) => Err(failed(err)),
    }
}

/// The revert PR of the promotion PR; an open one already there is the one.
pub async fn revert(
    adapters: &Adapters,
    number: u64,
    _node_id: &str,
    title: &str,
    body: &str,
) -> OpResult {
    let github = &repo(adapters)?.github;
    if let Some(existing) = github.find_revert_of(number).await.map_err(failed)? {
        return Ok(Outcome::Reverted(pull_ref(&existing)));
    }
    let pull = github.get_pull(number).await.map_err(failed)?;
    let opened = github.revert_pull(&pull).await.map_err(failed)?;
    let reverted = github.get_pull(opened.number).await.map_err(failed)?;
    // Say why on the revert itself: the reason and the backup production is on.
    github
        .update_pull(reverted.number, title, body)
        .await
        .map_err(failed)?;
    Ok(Outcome::Reverted(pull_ref(&reverted)))
}

pub async fn close(adapters: &Adapters, number: u64) -> OpResult {
    repo(adapters)?
        .github
        .close_pull(number)
        .await
        .map_err(failed)?;
    Ok(Outcome::Done)
}
