//! The release run (`ship <version>`, PRODUCT.md §6): draft → [Edit] / [Ship] /
//! [Cancel] → CHANGELOG.md on the production branch (a `release/vX` PR approved like
//! any other and merged by lockstep, or one direct commit) → annotated tag on the
//! commit holding the entry → GitHub release → notes in the release channel and a
//! line in the promotion's thread. Decided in the pure [`ShipRun::step`]; the world
//! is touched only through the effects it returns, each checked before it writes
//! (the entry already there? the tag already on that commit? the release already
//! made?), so a restart anywhere ends with one commit, one tag and one release.
//!
//! The run holds the production lock from start to end: no promotion can merge
//! between the draft and the tag, so the tag holds exactly what the notes list.

mod step;
#[cfg(test)]
mod tests;
pub mod text;

use crate::config::RotationMember;
use crate::ids::RunId;
use crate::workflow::op::{PromotedBlueprint, PullRef, ReleaseDraft};
use crate::workflow::run::RunHeader;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Action ids of the release's buttons, and the modal's callback id.
pub mod actions {
    pub const EDIT: &str = "ship_edit";
    pub const SHIP: &str = "ship_ship";
    pub const CANCEL: &str = "ship_cancel";
    pub const PREFIX: &str = "ship_";
    /// The modal that edits the notes, its input's block and action ids.
    pub const EDITOR: &str = "ship_editor";
    pub const NOTES_BLOCK: &str = "notes";
    pub const NOTES_INPUT: &str = "text";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipRun {
    pub header: RunHeader,
    pub request: ShipRequest,
    pub state: ShipState,
    #[serde(default)]
    pub facts: ShipFacts,
}

/// What was asked for, and what lockstep knew when it was asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipRequest {
    pub version: semver::Version,
    pub notes_from: Option<u64>,
    /// The date the draft is made for (`freeze.timezone`).
    pub date: NaiveDate,
    /// The promotion this release ships.
    pub promotion: ShippedPromotion,
    /// Which promotion PR brought each blueprint.
    pub promoted: Vec<PromotedBlueprint>,
    /// `#1 approved by @bob`, one per promotion PR in the release.
    pub approvals: Vec<String>,
}

/// The promotion a release ships: where its thread is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedPromotion {
    pub run_id: RunId,
    pub channel: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipState {
    Drafting,
    AwaitingDecision,
    Committing,
    OpeningPr,
    AwaitingReview,
    Merging,
    Tagging,
    Releasing,
    Cancelling,
    Shipped,
    Refused,
    Cancelled,
    Failed,
}

impl ShipState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ShipState::Shipped | ShipState::Refused | ShipState::Cancelled | ShipState::Failed
        )
    }

    /// The state's stable name, as stored (metrics label it with this).
    pub fn name(self) -> &'static str {
        match self {
            ShipState::Drafting => "drafting",
            ShipState::AwaitingDecision => "awaiting_decision",
            ShipState::Committing => "committing",
            ShipState::OpeningPr => "opening_pr",
            ShipState::AwaitingReview => "awaiting_review",
            ShipState::Merging => "merging",
            ShipState::Tagging => "tagging",
            ShipState::Releasing => "releasing",
            ShipState::Cancelling => "cancelling",
            ShipState::Shipped => "shipped",
            ShipState::Refused => "refused",
            ShipState::Cancelled => "cancelled",
            ShipState::Failed => "failed",
        }
    }

    /// What people read.
    pub fn describe(self) -> &'static str {
        match self {
            ShipState::Drafting => "checking the tags and drafting the changelog",
            ShipState::AwaitingDecision => "draft ready: waiting for Edit, Ship or Cancel",
            ShipState::Committing => "committing CHANGELOG.md",
            ShipState::OpeningPr => "opening the release PR",
            ShipState::AwaitingReview => "waiting for the release PR's review on GitHub",
            ShipState::Merging => "merging the release PR",
            ShipState::Tagging => "tagging",
            ShipState::Releasing => "making the GitHub release",
            ShipState::Cancelling => "cancelling (closing the release PR)",
            ShipState::Shipped => "shipped",
            ShipState::Refused => "refused",
            ShipState::Cancelled => "cancelled",
            ShipState::Failed => "failed",
        }
    }
}

/// What the run has learnt and done so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShipFacts {
    /// The one work effect whose outcome the run is waiting for.
    pub waiting: Option<String>,
    /// `ship.changelog = "direct"` when the run started: one commit on the
    /// production branch instead of a release PR.
    pub direct: bool,
    pub draft: Option<ReleaseDraft>,
    /// Who last edited the notes in the modal.
    pub edited_by: Option<String>,
    /// The last decision taken on a button: who, what.
    pub decided: Option<(String, String)>,
    /// The date in the entry's heading, fixed when Ship was pressed.
    pub release_date: Option<NaiveDate>,
    /// The whole entry as committed (heading and edited body).
    pub entry: Option<String>,
    pub on_call: Option<RotationMember>,
    pub pr: Option<PullRef>,
    pub labelled: bool,
    pub review_requested: bool,
    #[serde(default)]
    pub quoted_reviews: Vec<u64>,
    /// GitHub logins that approved the release PR.
    #[serde(default)]
    pub approved_by: Vec<String>,
    pub poll_ms: u64,
    /// Failed attempts at the current tag or release operation.
    #[serde(default)]
    pub attempts: u32,
    /// The commit holding the entry (what the tag points at).
    pub commit: Option<String>,
    pub tag_object: Option<String>,
    pub release_url: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    /// One line: how the run ended.
    pub outcome: Option<String>,
}

impl ShipRun {
    pub fn new(header: RunHeader, request: ShipRequest) -> Self {
        ShipRun {
            header,
            request,
            state: ShipState::Drafting,
            facts: ShipFacts::default(),
        }
    }

    /// `v0.1.0`.
    pub fn tag(&self) -> String {
        crate::release::tag_name(&self.request.version)
    }

    /// The branch a "pr"-mode release commits CHANGELOG.md on.
    pub fn release_branch(&self) -> String {
        format!("release/{}", self.tag())
    }

    pub fn state_line(&self) -> String {
        format!("{}: {}", self.tag(), self.state.describe())
    }

    /// Shipped: the tag, where its release is, and when.
    pub fn shipped(&self) -> Option<(String, Option<&str>, DateTime<Utc>)> {
        (self.state == ShipState::Shipped).then(|| {
            (
                self.tag(),
                self.facts.release_url.as_deref(),
                self.facts.ended_at.unwrap_or(self.header.started_at),
            )
        })
    }
}
