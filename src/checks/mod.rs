//! The promotion checklist (PRODUCT.md §4, step 2): one file per box, each a pure
//! function from plain data to a [`BoxOutcome`], plus the reviewer's rule engine, the
//! tester's report parsers, the freeze guard and a generic concurrent runner
//! ([`checklist::run_checklist`]) that times each box out and reports progress. This
//! module fetches nothing and posts nothing: the caller gathers the data through the
//! adapters (frappe, runner, github) and shows the rendered state in Slack. Only the
//! runner touches tokio (for its timer); every box and parser is synchronous and pure.

pub mod backup;
pub mod blueprints;
pub mod bundle;
pub mod checklist;
pub mod config;
pub mod diff;
pub mod freeze;
pub mod report;
pub mod reviewer;
pub mod roles;
pub mod set;
pub mod tester;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use backup::{backup_box, backup_decision, BackupDecision, BackupInfo};
pub use blueprints::blueprints_box;
pub use bundle::bundle;
pub use checklist::{run_checklist, BoxJob, ChecklistState, ChecklistVerdict};
pub use config::{
    ChecksConfig, DatedWindow, ExternalReviewerConfig, FreezeConfig, PromoteConfig, TesterConfig,
    WeekTime, WeeklyWindow,
};
pub use diff::diff_box;
pub use freeze::freeze;
pub use report::ReviewReport;
pub use reviewer::{review, reviewer_box, Location, ReviewFinding};
pub use roles::{role_coverage, ProdUser};
pub use set::{promotion_members, promotion_members_laid_out, promotion_set, Member};
pub use tester::{tester_box, TesterResult};

/// The eight boxes, in the order they are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxId {
    Diff,
    Blueprints,
    Reviewer,
    Tester,
    Backup,
    RoleCoverage,
    FreezeGuard,
    Bundle,
}

impl BoxId {
    pub const ALL: [BoxId; 8] = [
        BoxId::Diff,
        BoxId::Blueprints,
        BoxId::Reviewer,
        BoxId::Tester,
        BoxId::Backup,
        BoxId::RoleCoverage,
        BoxId::FreezeGuard,
        BoxId::Bundle,
    ];

    /// The name shown in the checklist, as in PRODUCT.md §4's table.
    pub fn display_name(self) -> &'static str {
        match self {
            BoxId::Diff => "diff",
            BoxId::Blueprints => "blueprints",
            BoxId::Reviewer => "reviewer",
            BoxId::Tester => "tester",
            BoxId::Backup => "backup",
            BoxId::RoleCoverage => "role coverage",
            BoxId::FreezeGuard => "freeze guard",
            BoxId::Bundle => "bundle",
        }
    }
}

impl fmt::Display for BoxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

/// How a box ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxStatus {
    Pass,
    /// Passed with something a person should see (an emergency override, a note).
    Warn,
    Fail,
}

impl BoxStatus {
    pub fn symbol(self) -> &'static str {
        match self {
            BoxStatus::Pass => "✓",
            BoxStatus::Warn => "⚠",
            BoxStatus::Fail => "✗",
        }
    }
}

/// One finished box: its status, a one-line detail (`Manager(3), Field Officer(27)`)
/// and, when there is more to say, further lines shown under it (the split of an
/// oversized bundle, the blueprints that are not applied).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxOutcome {
    pub box_id: BoxId,
    pub status: BoxStatus,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<String>,
}

impl BoxOutcome {
    pub fn pass(box_id: BoxId, detail: impl Into<String>) -> Self {
        Self::new(box_id, BoxStatus::Pass, detail)
    }

    pub fn warn(box_id: BoxId, detail: impl Into<String>) -> Self {
        Self::new(box_id, BoxStatus::Warn, detail)
    }

    pub fn fail(box_id: BoxId, detail: impl Into<String>) -> Self {
        Self::new(box_id, BoxStatus::Fail, detail)
    }

    fn new(box_id: BoxId, status: BoxStatus, detail: impl Into<String>) -> Self {
        BoxOutcome {
            box_id,
            status,
            detail: one_line(&detail.into()),
            more: Vec::new(),
        }
    }

    pub fn with_more(mut self, more: Vec<String>) -> Self {
        self.more = more;
        self
    }
}

/// The longest detail kept, in characters: an error carrying a whole HTML page must
/// not flood the checklist message.
pub const MAX_DETAIL: usize = 300;

/// Squeezes text onto one line of at most [`MAX_DETAIL`] characters: the detail of a box
/// is always a single line, even when it carries an error message with newlines in it.
pub fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX_DETAIL {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_DETAIL - 1).collect();
    cut.push('…');
    cut
}

/// How many further lines a box shows under its detail before "… and N more".
pub const MAX_MORE: usize = 10;

/// Keeps the first [`MAX_MORE`] lines and says how many were left out.
pub(crate) fn cap_lines(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > MAX_MORE {
        let left = lines.len() - MAX_MORE;
        lines.truncate(MAX_MORE);
        lines.push(format!("… and {left} more"));
    }
    lines
}

pub(crate) use crate::blueprint::render::plural;

#[cfg(test)]
mod walkthrough;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_one_bounded_line() {
        assert_eq!(one_line("a\n  b\tc "), "a b c");
        let long = "é".repeat(1000);
        let cut = one_line(&long);
        assert_eq!(cut.chars().count(), MAX_DETAIL);
        assert!(cut.ends_with('…'));
        assert_eq!(BoxOutcome::fail(BoxId::Diff, long).detail, cut);
    }

    #[test]
    fn long_lists_under_a_box_are_cut() {
        let lines: Vec<String> = (0..12).map(|i| i.to_string()).collect();
        let cut = cap_lines(lines);
        assert_eq!(cut.len(), MAX_MORE + 1);
        assert_eq!(cut.last().unwrap(), "… and 2 more");
        assert_eq!(cap_lines(vec!["a".into()]), vec!["a"]);
    }
}
