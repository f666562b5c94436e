//! Commits that can be made twice with the same result. Git objects are named by
//! their content, so a tree with the same entries on the same base, and a commit
//! with the same tree, parent, message, author and date, have the same ids: a
//! "stamped" commit fixes the author and date, so performing it again after a crash
//! makes the very same commit, and finding the branch already there means it is
//! done. Three writes whatever the number of files (tree, commit, ref), plus one
//! read of the branch; entries may name existing blobs by id, so files taken from
//! another branch need no content at all.

use super::client::{escape_path, GithubClient};
use super::error::GithubError;
use super::transport::Op;
use chrono::{DateTime, SecondsFormat, Utc};
use http::Method;
use serde_json::{json, Value};

/// The author and committer of every stamped commit.
pub const AUTHOR_NAME: &str = "lockstep";
pub const AUTHOR_EMAIL: &str = "lockstep@users.noreply.github.com";

/// One file of a stamped commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Whole new text.
    Text(String),
    /// An existing blob, by id (a file taken from another branch).
    Blob(String),
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampedCommit<'a> {
    pub branch: &'a str,
    /// The commit the branch is expected at (or the new branch's base).
    pub parent: &'a str,
    pub parent_tree: &'a str,
    pub message: &'a str,
    pub stamp: DateTime<Utc>,
    /// Paths from the repository root.
    pub entries: Vec<(String, Entry)>,
    /// Create the branch at the commit rather than move it.
    pub create_branch: bool,
}

/// Where the branch ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landed {
    /// The branch now points at the commit (or already did).
    At(String),
    /// The branch is somewhere else: someone moved it meanwhile (nothing was forced).
    Moved { head: Option<String> },
}

impl GithubClient {
    pub async fn commit_stamped(&self, commit: &StampedCommit<'_>) -> Result<Landed, GithubError> {
        let sha = self.stamped_commit_object(commit).await?;
        let head = self.branch_head(commit.branch).await?;
        if head.as_deref() == Some(sha.as_str()) {
            return Ok(Landed::At(sha));
        }
        let result = match (commit.create_branch, head.as_deref()) {
            (true, None) => {
                self.create_ref(&format!("refs/heads/{}", commit.branch), &sha)
                    .await
            }
            (false, Some(head)) if head == commit.parent => {
                self.move_branch(commit.branch, &sha).await
            }
            _ => return Ok(Landed::Moved { head }),
        };
        match result {
            Ok(()) => Ok(Landed::At(sha)),
            Err(err)
                if err.is_validation("not a fast forward")
                    || err.is_validation("Reference already exists") =>
            {
                let head = self.branch_head(commit.branch).await?;
                if head.as_deref() == Some(sha.as_str()) {
                    Ok(Landed::At(sha))
                } else {
                    Ok(Landed::Moved { head })
                }
            }
            Err(err) => {
                // The outcome of a failed write is unknown: read before deciding.
                if self.branch_head(commit.branch).await? == Some(sha.clone()) {
                    Ok(Landed::At(sha))
                } else {
                    Err(err)
                }
            }
        }
    }

    /// The tree and commit objects (idempotent: same content, same ids).
    async fn stamped_commit_object(
        &self,
        commit: &StampedCommit<'_>,
    ) -> Result<String, GithubError> {
        let entries: Vec<Value> = commit
            .entries
            .iter()
            .map(|(path, entry)| match entry {
                Entry::Text(text) => {
                    json!({"path": path, "mode": "100644", "type": "blob", "content": text})
                }
                Entry::Blob(sha) => {
                    json!({"path": path, "mode": "100644", "type": "blob", "sha": sha})
                }
                Entry::Delete => {
                    json!({"path": path, "mode": "100644", "type": "blob", "sha": null})
                }
            })
            .collect();
        let op = Op::new(format!("a tree for {}", commit.branch), "contents: write");
        let tree: Value = self
            .send(
                Method::POST,
                "git/trees",
                &json!({"base_tree": commit.parent_tree, "tree": entries}),
                op,
            )
            .await?;
        let tree = tree["sha"].as_str().unwrap_or_default().to_string();
        let signature = json!({
            "name": AUTHOR_NAME,
            "email": AUTHOR_EMAIL,
            "date": commit.stamp.to_rfc3339_opts(SecondsFormat::Secs, true),
        });
        let op = Op::new(format!("a commit on {}", commit.branch), "contents: write");
        let body = json!({
            "message": commit.message,
            "tree": tree,
            "parents": [commit.parent],
            "author": signature,
            "committer": signature,
        });
        let made: Value = self.send(Method::POST, "git/commits", &body, op).await?;
        Ok(made["sha"].as_str().unwrap_or_default().to_string())
    }

    async fn move_branch(&self, branch: &str, sha: &str) -> Result<(), GithubError> {
        let op = Op::new(format!("moving {branch}"), "contents: write");
        let _: Value = self
            .send(
                Method::PATCH,
                &format!("git/refs/heads/{}", escape_path(branch)),
                &json!({"sha": sha, "force": false}),
                op,
            )
            .await?;
        Ok(())
    }

    /// Every blob under `fixtures/app/` at a commit: full path → blob id (one call,
    /// more only when GitHub truncates the listing).
    pub async fn blob_ids(&self, commit: &str) -> Result<Vec<(String, String)>, GithubError> {
        let (_, items) = self.list_blueprint_blobs(commit).await?;
        Ok(items
            .into_iter()
            .map(|item| (item.path, item.sha))
            .collect())
    }
}
