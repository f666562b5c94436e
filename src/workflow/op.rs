//! Operations: what a [`Work`](super::effect::Work) effect asks the world for, and
//! the outcome that comes back to the run's `step`. Plain serde data: an operation
//! waits in the outbox across restarts, so it carries everything its performer needs
//! (which commit, which head, which backup) and nothing it would have to remember.
//!
//! Every operation is safe to perform again: reads are repeatable, and each write is
//! checked before it is made (the branch already at the commit? a PR already open
//! for the head? already merged? the record already as wanted?). The few that cannot
//! be checked from outside (a bench backup, migrate, restore) are [`Op::is_once`]:
//! the executor notes that they started before it starts them, and a restart that
//! finds the note reports them interrupted instead of running them blindly again.

use crate::checks::{BackupInfo, BoxOutcome};
use crate::command::{FamilySlug, GitRef, SiteSel};
use crate::workflow::effect::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    // ---- read-only work whose outcome is a report ---------------------------------
    Diff {
        site: SiteSel,
    },
    Review {
        since: Option<GitRef>,
        blueprint: Option<String>,
    },
    /// The eight boxes. A dry run never takes a backup: it says one would be taken.
    Checklist(ChecklistRequest),

    // ---- the staging site and its branch -------------------------------------------
    PlanPush,
    PlanPull,
    /// Tree, commit (stamped, so the same content gives the same commit) and a
    /// fast-forward of the branch; already at that commit counts as done.
    CommitFiles(CommitRequest),
    PlanRollback {
        target: String,
    },
    /// One write to the staging site; a record already as wanted counts as done.
    ApplyStep(StagingWrite),
    /// Reads the site again after a push: what still differs from the branch.
    VerifyPush {
        branch: String,
    },

    // ---- the promotion ----------------------------------------------------------------
    /// `bench backup` of production through the runner, unless the site already has
    /// a backup taken since `not_before` (this run's, from before a restart).
    TakeBackup {
        /// A backup newer than this, found on the site, is the one this run took.
        not_before: DateTime<Utc>,
    },
    /// The promotion branch from the production branch with the promotion set's
    /// files from the staging branch: one commit.
    Snapshot(SnapshotRequest),
    OpenPull(PullRequestDraft),
    LabelPull {
        number: u64,
        labels: Vec<String>,
    },
    RequestReview {
        number: u64,
        login: String,
    },
    /// Reads the PR, its reviews and their comments.
    ReadReviews {
        number: u64,
    },
    /// Merges with the approved head; GitHub's protection decides.
    Merge {
        number: u64,
        head_sha: String,
        title: String,
    },
    /// Reads the CI run of the merge commit (deploy.mode = "ci").
    ReadDeploy {
        merge_sha: String,
    },
    /// Cancels the CI run of the merge commit (a deploy past its deadline).
    CancelDeploy {
        run_id: u64,
    },
    /// One bench step on production (deploy.mode = "bot"; once).
    BenchStep {
        step: BenchStep,
    },
    /// Restores production from the checklist's backup (once; never retried blindly).
    Restore {
        backup: BackupInfo,
    },
    /// Opens the revert PR of the promotion PR (an open one for it counts as done).
    RevertPull {
        number: u64,
        node_id: String,
        title: String,
        body: String,
    },
    ClosePull {
        number: u64,
    },
    /// Automatic probes of the changed surface on production (reads only).
    Smoke {
        surface: SmokeSurface,
    },

    // ---- the release ------------------------------------------------------------------
    /// Checks the version against the tags and production against the production
    /// branch, and drafts the CHANGELOG.md entry (a dry run reports instead).
    DraftRelease(Box<ReleaseDraftRequest>),
    /// CHANGELOG.md with the entry on the release branch (or the production branch
    /// when direct); the entry already there counts as done.
    CommitChangelog(Box<ChangelogCommit>),
    /// The annotated tag on `sha`; the tag already on that commit counts as done.
    Tag {
        tag: String,
        sha: String,
        message: String,
    },
    /// The GitHub release of the tag; a release already there counts as done.
    Release {
        tag: String,
        name: String,
        body: String,
    },

    /// A timer: done when the clock reaches `until`.
    Wait {
        until: DateTime<Utc>,
    },
}

impl Op {
    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Diff { .. } => "diff",
            Op::Review { .. } => "review",
            Op::Checklist(_) => "checklist",
            Op::PlanPush => "plan push",
            Op::PlanPull => "plan pull",
            Op::CommitFiles(_) => "commit",
            Op::PlanRollback { .. } => "plan rollback",
            Op::ApplyStep(_) => "apply",
            Op::VerifyPush { .. } => "verify push",
            Op::TakeBackup { .. } => "backup",
            Op::Snapshot(_) => "snapshot",
            Op::OpenPull(_) => "open PR",
            Op::LabelPull { .. } => "label PR",
            Op::RequestReview { .. } => "request review",
            Op::ReadReviews { .. } => "read reviews",
            Op::Merge { .. } => "merge",
            Op::ReadDeploy { .. } => "read deploy",
            Op::CancelDeploy { .. } => "cancel deploy",
            Op::BenchStep { .. } => "bench",
            Op::Restore { .. } => "restore",
            Op::RevertPull { .. } => "revert PR",
            Op::ClosePull { .. } => "close PR",
            Op::Smoke { .. } => "smoke",
            Op::DraftRelease(_) => "draft release",
            Op::CommitChangelog(_) => "commit changelog",
            Op::Tag { .. } => "tag",
            Op::Release { .. } => "release",
            Op::Wait { .. } => "wait",
        }
    }

    /// Operations whose having happened cannot be read back from outside: started
    /// once, and reported [`Failure::Interrupted`] if a restart finds them begun.
    pub fn is_once(&self) -> bool {
        matches!(self, Op::BenchStep { .. } | Op::Restore { .. })
    }

    /// Reads only: nothing anywhere changes when it runs.
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Op::Diff { .. }
                | Op::Review { .. }
                | Op::PlanPush
                | Op::PlanPull
                | Op::PlanRollback { .. }
                | Op::VerifyPush { .. }
                | Op::ReadReviews { .. }
                | Op::ReadDeploy { .. }
                | Op::Smoke { .. }
                | Op::DraftRelease(_)
                | Op::Wait { .. }
        ) || matches!(self, Op::Checklist(request) if request.dry_run)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistRequest {
    pub only: Vec<FamilySlug>,
    /// The emergency reason, as plain text, when `--emergency` was given.
    pub emergency: Option<String>,
    pub dry_run: bool,
    /// A missing right to name in a dry run's verdict (the caller is not a promoter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_right: Option<String>,
}

/// A commit of whole files on a branch, made so that performing it twice gives the
/// same commit: fixed author and date, parent and tree from the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitRequest {
    pub branch: String,
    /// The commit the branch was at when the change was planned.
    pub parent: String,
    pub parent_tree: String,
    pub message: String,
    pub stamp: DateTime<Utc>,
    /// Files (paths from the repository root) and their new text.
    pub upsert: BTreeMap<String, String>,
    pub delete: Vec<String>,
    /// Create the branch (from `parent`) rather than move an existing one.
    pub create_branch: bool,
}

/// One record written to the staging site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagingWrite {
    pub verb: WriteVerb,
    pub doctype: String,
    pub name: String,
    /// The canonical body for create and update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// `update  DocType "Beneficiary"  (1 difference)`: the plan line.
    pub describe: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteVerb {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRequest {
    pub branch: String,
    /// Update this existing promotion branch instead of creating one (a re-run of
    /// promote for the same feature).
    pub existing: bool,
    /// The blueprint paths (from the repository root) to take from the staging
    /// branch, and those to delete.
    pub upsert: Vec<String>,
    pub delete: Vec<String>,
    pub message: String,
    pub stamp: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRequestDraft {
    pub head: String,
    pub title: String,
    pub body: String,
    /// An open PR for this head that the run already knows (a re-run): update it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchStep {
    Backup,
    Migrate,
    Restart,
}

impl BenchStep {
    pub const ALL: [BenchStep; 3] = [BenchStep::Backup, BenchStep::Migrate, BenchStep::Restart];

    pub fn name(self) -> &'static str {
        match self {
            BenchStep::Backup => "backup",
            BenchStep::Migrate => "migrate",
            BenchStep::Restart => "restart",
        }
    }
}

/// What the smoke test probes: the changed surface of the promotion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmokeSurface {
    /// Changed DocTypes with their list-view columns.
    pub doctypes: Vec<(String, Vec<String>)>,
    /// Changed Workflows with the roles their states and transitions name.
    pub workflows: Vec<(String, Vec<String>)>,
    pub charts: Vec<String>,
    pub cards: Vec<String>,
}

/// What `ship` asks the draft for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseDraftRequest {
    pub version: semver::Version,
    /// Take the entry from this PR's summary instead of the blueprints.
    pub notes_from: Option<u64>,
    /// The release date (`freeze.timezone`), for the entry's heading.
    pub date: chrono::NaiveDate,
    /// Which promotion PR brought each blueprint, from the promotions lockstep ran.
    pub promoted: Vec<PromotedBlueprint>,
    pub dry_run: bool,
    /// For a dry run: why a real ship would be refused by what lockstep knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotedBlueprint {
    pub doctype: String,
    pub name: String,
    pub number: u64,
    pub url: String,
}

/// The draft: the entry's body (what the modal edits; the heading is added when it
/// lands) and what the release needs later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseDraft {
    pub body: String,
    /// Blueprints listed (0 with `--notes-from`).
    pub changes: usize,
    pub previous_tag: Option<String>,
    /// The production branch's commit the draft was made from.
    pub base: String,
    /// The repository on the web: `https://github.com/acme/frappe-config`.
    pub repo_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_pr: Option<u64>,
}

/// The CHANGELOG.md commit of a release, recomputed against the production
/// branch's CHANGELOG.md when performed, so a change to that file since the draft
/// is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangelogCommit {
    /// `release/v0.1.0`, or the production branch when `direct`.
    pub branch: String,
    pub direct: bool,
    pub version: semver::Version,
    /// The whole entry, heading included.
    pub entry: String,
    pub previous_tag: Option<String>,
    pub repo_url: String,
    pub message: String,
    pub stamp: DateTime<Utc>,
}

/// What became of an operation.
pub type OpResult = Result<Outcome, Failure>;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A read-only command's answer.
    Report {
        message: Message,
        audit: Vec<String>,
    },
    Checklist(Box<ChecklistResult>),
    PushPlan(Box<SyncPlan>),
    PullPlan(Box<PullPlan>),
    RollbackPlan(Box<RollbackPlan>),
    Committed {
        sha: String,
    },
    Applied {
        /// The record was already as wanted (the write happened before a restart).
        already: bool,
    },
    Verified {
        remaining: usize,
    },
    Backup(BackupInfo),
    Snapshot(SnapshotResult),
    Pull(PullRef),
    Done,
    Reviews(ReviewState),
    Merged {
        sha: String,
    },
    Deploy(DeployState),
    BenchStep {
        detail: String,
    },
    Restored {
        detail: String,
    },
    Reverted(PullRef),
    Smoke(Vec<Probe>),
    ReleaseDraft(Box<ReleaseDraft>),
    /// The commit holding the release's CHANGELOG.md entry; `on_main` when it is
    /// already on the production branch (no release PR needed).
    ChangelogCommitted {
        sha: String,
        on_main: bool,
    },
    Tagged {
        /// The tag object's id.
        object: String,
        /// The tag was already there (made before a restart).
        already: bool,
    },
    Released {
        url: String,
        already: bool,
    },
    Elapsed,
}

/// Why an operation failed, in words for people: the side and the cause, and what
/// was and was not changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The operation failed and changed nothing.
    Refused(String),
    /// It failed part way: `done` says what was changed.
    Partial { text: String, done: String },
    /// A once-operation found begun by an earlier process: its end is unknown.
    Interrupted,
    /// A fast-forward refused because the branch moved meanwhile.
    BranchMoved { branch: String },
    /// GitHub refused the merge (405 protection/not mergeable, 409 head moved).
    MergeRefused { status: u16, text: String },
}

impl Failure {
    pub fn text(&self) -> String {
        match self {
            Failure::Refused(text) => text.clone(),
            Failure::Partial { text, done } => format!("{text} {done}"),
            Failure::Interrupted => {
                "it was interrupted by a restart of lockstep, so whether it finished is unknown"
                    .to_string()
            }
            Failure::BranchMoved { branch } => {
                format!("branch `{branch}` moved while I was working")
            }
            Failure::MergeRefused { status, text } => format!("GitHub answered {status}: {text}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChecklistResult {
    /// The rendered boxes, as the checklist message shows them.
    pub rendered: String,
    pub boxes: Vec<BoxOutcome>,
    pub passes: bool,
    /// The backup the checklist found young enough, or `None` when one must be taken.
    pub backup: Option<BackupInfo>,
    /// The promotion set, with what each blueprint is to production.
    pub set: Vec<SetEntry>,
    /// Families of the set, largest first (the default feature name).
    pub families: Vec<String>,
    /// One line each: reviewer and tester results for the PR body.
    pub reviewer: String,
    pub tester: String,
    pub surface: SmokeSurface,
    /// Audit lines since the last promotion, for the PR body.
    pub audit_excerpt: Vec<String>,
    /// Files in main the promotion replaces under another name (to delete).
    pub moved_from: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetEntry {
    pub doctype: String,
    pub name: String,
    /// `new`, `changed` or `removed`.
    pub change: String,
    /// The file under `fixtures/app/`.
    pub path: String,
    pub family: String,
}

/// A push or rollback plan: the writes that make the site match the target.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPlan {
    pub headline: String,
    /// The plan as shown (capped).
    pub rendered: String,
    pub writes: Vec<StagingWrite>,
    /// `staging@3f2a9c1`.
    pub label: String,
    pub branch: String,
    /// The site's name (`staging`).
    pub site: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RollbackPlan {
    pub sha: String,
    pub plan: SyncPlan,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PullPlan {
    pub label: String,
    pub site: String,
    pub commit: Option<CommitRequest>,
    /// `M fixtures/app/…` / `D …`.
    pub listing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotResult {
    pub branch: String,
    pub sha: String,
    pub base: String,
    pub files: usize,
    /// The staging branch's head the files were taken from.
    #[serde(default)]
    pub staging_head: Option<String>,
    /// When the oldest commit on staging that this promotion carries was made: the
    /// first commit after the staging head the last successful promotion took (or,
    /// before any, after staging left production). The start of the lead
    /// time (`stats`); `None` when GitHub could not say.
    #[serde(default)]
    pub first_change_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRef {
    pub number: u64,
    pub url: String,
    pub node_id: String,
    pub head_sha: String,
}

/// What the PR looks like now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewState {
    pub head_sha: String,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub merge_sha: Option<String>,
    pub decision: ReviewVerdict,
    /// Reviews that request changes, newest last, with their comments.
    pub change_requests: Vec<ChangeRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    /// Approved for this head by these logins.
    Approved(Vec<String>),
    ChangesRequested,
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    pub id: u64,
    pub reviewer: String,
    pub body: String,
    /// `path:line: comment` lines.
    pub comments: Vec<String>,
}

/// The CI run of the merge commit, as far as it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployState {
    pub run_id: Option<u64>,
    pub url: Option<String>,
    /// Steps of the deploy job in order: name, status, conclusion.
    pub steps: Vec<DeployStepState>,
    /// `success`, `failure`, `cancelled`…, once the run completed.
    pub conclusion: Option<String>,
    /// What failed, from the job log, when it failed.
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployStepState {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// `list of Beneficiary with 5 columns`.
    pub what: String,
    pub ok: bool,
    pub detail: String,
}
