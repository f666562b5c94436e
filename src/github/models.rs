//! The parts of GitHub's JSON the client reads, as our own lenient structs:
//! statuses and states stay strings (GitHub adds values; octocrab's closed enums
//! such as `workflows::Status` fail on `requested`), optional fields default.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub login: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Sha {
    pub sha: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TreeItem {
    pub path: String,
    pub mode: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TreeListing {
    pub sha: String,
    pub tree: Vec<TreeItem>,
    #[serde(default)]
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefObject {
    pub sha: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GitRef {
    #[serde(rename = "ref")]
    pub name: String,
    pub object: RefObject,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GitCommit {
    pub sha: String,
    pub tree: Sha,
    #[serde(default)]
    pub parents: Vec<Sha>,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullBranch {
    #[serde(rename = "ref")]
    pub name: String,
    pub sha: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub node_id: String,
    pub html_url: String,
    pub state: String,
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    pub user: Option<User>,
    #[serde(default)]
    pub draft: Option<bool>,
    #[serde(default)]
    pub merged: Option<bool>,
    /// `None` while GitHub is still computing it.
    #[serde(default)]
    pub mergeable: Option<bool>,
    #[serde(default)]
    pub mergeable_state: Option<String>,
    #[serde(default)]
    pub merge_commit_sha: Option<String>,
    pub head: PullBranch,
    pub base: PullBranch,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub requested_reviewers: Vec<User>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Review {
    pub id: u64,
    pub user: Option<User>,
    /// APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    pub state: String,
    #[serde(default)]
    pub commit_id: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MergeResult {
    pub sha: String,
    pub merged: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowRun {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    pub head_sha: String,
    #[serde(default)]
    pub head_branch: Option<String>,
    pub event: String,
    /// queued | in_progress | completed | waiting | requested | pending
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    pub html_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JobStep {
    pub name: String,
    pub number: u64,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WorkflowJob {
    pub id: u64,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub steps: Vec<JobStep>,
    #[serde(default)]
    pub html_url: Option<String>,
}

/// octocrab's `CheckRun` has no `status`; this one does.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ComparedFile {
    pub filename: String,
    pub status: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Comparison {
    /// ahead | behind | diverged | identical
    pub status: String,
    pub ahead_by: u64,
    pub behind_by: u64,
    pub total_commits: u64,
    pub merge_base_commit: Sha,
    #[serde(default)]
    pub commits: Vec<Sha>,
    #[serde(default)]
    pub files: Vec<ComparedFile>,
}

/// One commit of `GET commits` (a branch's history, newest first).
#[derive(Debug, Clone, Deserialize)]
pub struct ListedCommit {
    pub sha: String,
    #[serde(default)]
    pub parents: Vec<Sha>,
}

/// `GET /repos/{owner}/{repo}`, what `lockstep check` reports.
#[derive(Debug, Clone, Deserialize)]
pub struct Repository {
    pub full_name: String,
    pub default_branch: String,
    /// The repository on the web: `https://github.com/acme/frappe-config`.
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub archived: bool,
}

/// `GET …/actions/workflows/{id}`: `state` is `active`, or why it will not run
/// (`disabled_manually`, `disabled_inactivity`, …).
#[derive(Debug, Clone, Deserialize)]
pub struct Workflow {
    pub id: u64,
    pub name: String,
    pub path: String,
    pub state: String,
}

/// What `GET /branches/{b}/protection` says about reviews.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchProtection {
    pub required_approving_review_count: u32,
    pub dismiss_stale_reviews: bool,
    pub require_last_push_approval: bool,
    pub enforce_admins: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub html_url: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub prerelease: bool,
    #[serde(default)]
    pub target_commitish: Option<String>,
    #[serde(default)]
    pub published_at: Option<String>,
}

/// Who made a tag or commit, as git data reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GitActor {
    pub name: String,
    pub email: String,
    pub date: String,
}

/// An annotated tag object (`POST`/`GET git/tags`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GitTag {
    pub sha: String,
    pub tag: String,
    #[serde(default)]
    pub message: String,
    /// What it tags (`type` commit for a release tag).
    #[serde(default)]
    pub object: Option<RefObject>,
    #[serde(default)]
    pub tagger: Option<GitActor>,
}

/// One entry of `GET tags`: a tag name and the commit behind it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TagSummary {
    pub name: String,
    pub commit: Sha,
}

/// A file read at a ref: its bytes and its blob sha (what `put_file` needs to
/// replace it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAtRef {
    pub bytes: Vec<u8>,
    pub sha: String,
}

/// What a `put_file` wrote: the new blob and the commit on the branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub blob_sha: String,
    pub commit_sha: String,
}

/// One file of a pull request's diff (`GET pulls/{n}/files`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PullFile {
    pub filename: String,
    /// added | removed | modified | renamed | copied | changed | unchanged
    pub status: String,
    #[serde(default)]
    pub additions: u64,
    #[serde(default)]
    pub deletions: u64,
    #[serde(default)]
    pub previous_filename: Option<String>,
}

/// A comment in a pull request's (or issue's) conversation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IssueComment {
    pub id: u64,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
    pub html_url: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A reviewer's comment on a line of a pull request's diff.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReviewComment {
    pub id: u64,
    /// The review it belongs to.
    #[serde(default)]
    pub pull_request_review_id: Option<u64>,
    pub path: String,
    /// The line in the file at `commit_id`; None when the comment is on a file, or
    /// outdated.
    #[serde(default)]
    pub line: Option<u64>,
    #[serde(default)]
    pub original_line: Option<u64>,
    pub body: String,
    #[serde(default)]
    pub user: Option<User>,
    pub commit_id: String,
    pub html_url: String,
}
