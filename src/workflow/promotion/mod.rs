//! The promotion run (PRODUCT.md §4, §5): checklist → (emergency approval) →
//! (backup) → snapshot branch → PR (labels, on-call review) → review polling →
//! [Merge & deploy] by an approver → merge with the approved head → deploy watch →
//! smoke test → succeeded; a failed deploy restores the backup and opens a revert
//! PR (rolled back). Everything is decided here, in the pure [`PromotionRun::step`];
//! the world is touched only through the effects it returns.
//!
//! The run holds the production lock from its start to its end (a rolled-back or
//! failed run keeps it, with the reason, until an admin unlocks). Each state that
//! offers buttons does so at one version of the run; a press is taken only at that
//! version, by someone with the right taken from the configuration and the run
//! (never from the button), and the first taken press moves the version on.

mod step;
pub use step::backup_database_path;
#[cfg(test)]
mod tests;
pub mod text;

use crate::checks::BackupInfo;
use crate::command::{FamilySlug, FeatureSlug};
use crate::config::RotationMember;
use crate::workflow::op::{PullRef, SetEntry, SmokeSurface, SnapshotResult};
use crate::workflow::run::RunHeader;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The environment a promotion locks.
pub const PRODUCTION: &str = "prod";

/// Action ids of the promotion's buttons.
pub mod actions {
    pub const MERGE: &str = "promote_merge";
    pub const HOLD: &str = "promote_hold";
    pub const RESUME: &str = "promote_resume";
    pub const CANCEL: &str = "promote_cancel";
    pub const APPROVE_EMERGENCY: &str = "promote_emergency";
    pub const ROLL_BACK: &str = "promote_roll_back";
    /// `promote_smoke_ok_<n>` / `promote_smoke_bad_<n>`: one pair per manual item.
    pub const SMOKE_OK: &str = "promote_smoke_ok_";
    pub const SMOKE_BAD: &str = "promote_smoke_bad_";
    pub const PREFIX: &str = "promote_";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionRun {
    pub header: RunHeader,
    pub request: PromotionRequest,
    pub state: PromotionState,
    #[serde(default)]
    pub facts: Facts,
}

/// What was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionRequest {
    pub only: Vec<FamilySlug>,
    pub feature: Option<FeatureSlug>,
    /// The emergency reason as plain text, and as Slack shows it (mentions live).
    pub emergency: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionState {
    Checking,
    AwaitingEmergencyApproval,
    BackingUp,
    Snapshotting,
    OpeningPr,
    AwaitingReview,
    AwaitingApproval,
    Held,
    Merging,
    Deploying,
    RollingBack,
    Smoke,
    Cancelling,
    Succeeded,
    RolledBack,
    Refused,
    Cancelled,
    Failed,
}

impl PromotionState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PromotionState::Succeeded
                | PromotionState::RolledBack
                | PromotionState::Refused
                | PromotionState::Cancelled
                | PromotionState::Failed
        )
    }

    /// Before the merge: the run can still be cancelled, and a re-run updates it.
    pub fn is_before_merge(self) -> bool {
        matches!(
            self,
            PromotionState::Checking
                | PromotionState::AwaitingEmergencyApproval
                | PromotionState::BackingUp
                | PromotionState::Snapshotting
                | PromotionState::OpeningPr
                | PromotionState::AwaitingReview
                | PromotionState::AwaitingApproval
                | PromotionState::Held
        )
    }

    /// The stable name (`status`, the store, the figures).
    pub fn name(self) -> &'static str {
        match self {
            PromotionState::Checking => "checking",
            PromotionState::AwaitingEmergencyApproval => "awaiting_emergency_approval",
            PromotionState::BackingUp => "backing_up",
            PromotionState::Snapshotting => "snapshotting",
            PromotionState::OpeningPr => "opening_pr",
            PromotionState::AwaitingReview => "awaiting_review",
            PromotionState::AwaitingApproval => "awaiting_approval",
            PromotionState::Held => "held",
            PromotionState::Merging => "merging",
            PromotionState::Deploying => "deploying",
            PromotionState::RollingBack => "rolling_back",
            PromotionState::Smoke => "smoke_test",
            PromotionState::Cancelling => "cancelling",
            PromotionState::Succeeded => "succeeded",
            PromotionState::RolledBack => "rolled_back",
            PromotionState::Refused => "refused",
            PromotionState::Cancelled => "cancelled",
            PromotionState::Failed => "failed",
        }
    }

    /// What people read.
    pub fn describe(self) -> &'static str {
        match self {
            PromotionState::Checking => "running the checklist",
            PromotionState::AwaitingEmergencyApproval => {
                "waiting for a second approver (emergency)"
            }
            PromotionState::BackingUp => "taking a production backup",
            PromotionState::Snapshotting => "making the promotion branch",
            PromotionState::OpeningPr => "opening the pull request",
            PromotionState::AwaitingReview => "waiting for the review on GitHub",
            PromotionState::AwaitingApproval => "approved on GitHub; waiting for Merge & deploy",
            PromotionState::Held => "on hold",
            PromotionState::Merging => "merging",
            PromotionState::Deploying => "deploying to production",
            PromotionState::RollingBack => "rolling back production",
            PromotionState::Smoke => "smoke test",
            PromotionState::Cancelling => "cancelling",
            PromotionState::Succeeded => "succeeded",
            PromotionState::RolledBack => "rolled back",
            PromotionState::Refused => "refused",
            PromotionState::Cancelled => "cancelled",
            PromotionState::Failed => "failed",
        }
    }
}

/// What the run has learnt and done so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The one work effect whose outcome the run is waiting for.
    pub waiting: Option<String>,
    /// Key of the thread message that shows the checklist.
    pub checklist_message: Option<String>,
    pub checklist: Option<ChecklistFacts>,
    pub backup: Option<BackupInfo>,
    pub branch: Option<String>,
    pub snapshot: Option<SnapshotResult>,
    pub pr: Option<PullRef>,
    pub labelled: bool,
    pub on_call: Option<RotationMember>,
    /// Change-request reviews already quoted in the thread.
    #[serde(default)]
    pub quoted_reviews: Vec<u64>,
    pub approval: Option<Approval>,
    /// Key of the message holding the current buttons (replaced when they go stale).
    pub buttons_message: Option<String>,
    /// The last decision taken on a button: who, what.
    pub decided: Option<(String, String)>,
    pub emergency_approver: Option<String>,
    pub emergency_expires_at: Option<DateTime<Utc>>,
    pub merge_sha: Option<String>,
    #[serde(default)]
    pub deploy: DeployFacts,
    #[serde(default)]
    pub rollback: RollbackFacts,
    #[serde(default)]
    pub smoke: SmokeFacts,
    /// The current wait between polls, in milliseconds.
    pub poll_ms: u64,
    pub ended_at: Option<DateTime<Utc>>,
    /// One line: how the run ended (for `status` and the figures).
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecklistFacts {
    pub rendered: String,
    pub set: Vec<SetEntry>,
    pub families: Vec<String>,
    pub reviewer: String,
    pub tester: String,
    pub surface: SmokeSurface,
    #[serde(default)]
    pub audit_excerpt: Vec<String>,
    #[serde(default)]
    pub moved_from: Vec<String>,
}

/// An approval on GitHub, bound to the head it approved and the backup a rollback
/// would restore: a new push voids it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub by: Vec<String>,
    pub head_sha: String,
    pub backup_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployFacts {
    pub run_id: Option<u64>,
    pub url: Option<String>,
    /// Steps already reported in the thread.
    pub reported: Vec<String>,
    pub deadline: Option<DateTime<Utc>>,
    /// deploy.mode = "bot": the steps done so far.
    pub bot_steps_done: usize,
    /// When the deploy finished and production ran the change (the smoke test
    /// starts then): the end of the lead time.
    #[serde(default)]
    pub deployed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackFacts {
    pub reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    /// The restore's outcome: `Ok(detail)` or `Err(why)`.
    pub restore: Option<Result<String, String>>,
    /// When production was restored from the backup (healthy again): the end of
    /// the time to restore.
    #[serde(default)]
    pub restored_at: Option<DateTime<Utc>>,
    pub revert: Option<PullRef>,
    pub revert_failed: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmokeFacts {
    pub probes: Vec<crate::workflow::op::Probe>,
    pub items: Vec<SmokeItem>,
    pub message: Option<String>,
    /// The run version the item buttons were offered at (ticks do not move it, so
    /// people can tick different items at once).
    pub offered_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmokeItem {
    pub label: String,
    /// `Some((works, who))` once someone ticked it.
    pub verdict: Option<(bool, String)>,
}

impl PromotionRun {
    pub fn new(header: RunHeader, request: PromotionRequest) -> Self {
        PromotionRun {
            header,
            request,
            state: PromotionState::Checking,
            facts: Facts::default(),
        }
    }

    /// The feature name of the branch: `--feature`, else the largest family.
    pub fn feature(&self) -> String {
        if let Some(feature) = &self.request.feature {
            return feature.as_str().to_string();
        }
        self.facts
            .checklist
            .as_ref()
            .and_then(|c| c.families.first().cloned())
            .unwrap_or_else(|| "config".to_string())
    }
}
