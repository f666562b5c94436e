//! Reducing a pull request's reviews to a decision, as GitHub does: per reviewer the
//! latest review that is not a comment counts; a dismissal cancels it; a
//! CHANGES_REQUESTED blocks; with `dismiss_stale_reviews`, approvals of an older head
//! do not count; authors cannot approve their own PR. GraphQL `reviewDecision` is the
//! authority when it answers; this is the explanation shown beside it.

use std::collections::BTreeMap;

use super::models::{BranchProtection, Review};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    Approved,
    ChangesRequested,
    ReviewRequired,
}

impl ReviewDecision {
    /// GraphQL's spelling (`APPROVED`, `CHANGES_REQUESTED`, `REVIEW_REQUIRED`).
    pub fn from_graphql(s: &str) -> Option<ReviewDecision> {
        match s {
            "APPROVED" => Some(ReviewDecision::Approved),
            "CHANGES_REQUESTED" => Some(ReviewDecision::ChangesRequested),
            "REVIEW_REQUIRED" => Some(ReviewDecision::ReviewRequired),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSummary {
    pub decision: ReviewDecision,
    /// Reviewers whose approval of the current head counts.
    pub approved_by: Vec<String>,
    /// Approvals given to an earlier head, not counted under `dismiss_stale_reviews`.
    pub stale_approvals: Vec<String>,
    pub changes_requested_by: Vec<String>,
    pub required: u32,
}

/// The decision for `reviews` (chronological, as GitHub lists them) on `head_sha`.
/// Without protection one approval is asked for.
pub fn summarize(
    reviews: &[Review],
    head_sha: &str,
    author: &str,
    protection: Option<&BranchProtection>,
) -> ReviewSummary {
    let mut latest: BTreeMap<&str, &Review> = BTreeMap::new();
    for review in reviews {
        let Some(login) = review.user.as_ref().map(|u| u.login.as_str()) else {
            continue;
        };
        if login == author {
            continue;
        }
        match review.state.as_str() {
            "APPROVED" | "CHANGES_REQUESTED" => {
                latest.insert(login, review);
            }
            "DISMISSED" => {
                latest.remove(login);
            }
            _ => {}
        }
    }
    let dismiss_stale = protection.is_some_and(|p| p.dismiss_stale_reviews);
    let required = protection.map_or(1, |p| p.required_approving_review_count.max(1));
    let mut summary = ReviewSummary {
        decision: ReviewDecision::ReviewRequired,
        approved_by: Vec::new(),
        stale_approvals: Vec::new(),
        changes_requested_by: Vec::new(),
        required,
    };
    for (login, review) in latest {
        match review.state.as_str() {
            "CHANGES_REQUESTED" => summary.changes_requested_by.push(login.into()),
            _ if dismiss_stale && review.commit_id.as_deref() != Some(head_sha) => {
                summary.stale_approvals.push(login.into())
            }
            _ => summary.approved_by.push(login.into()),
        }
    }
    summary.decision = if !summary.changes_requested_by.is_empty() {
        ReviewDecision::ChangesRequested
    } else if summary.approved_by.len() as u32 >= required {
        ReviewDecision::Approved
    } else {
        ReviewDecision::ReviewRequired
    };
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::models::User;
    use proptest::prelude::*;

    fn review(id: u64, who: &str, state: &str, commit: &str) -> Review {
        Review {
            id,
            user: Some(User { login: who.into() }),
            state: state.into(),
            commit_id: Some(commit.into()),
            body: None,
            submitted_at: None,
        }
    }

    fn protection(n: u32, stale: bool) -> BranchProtection {
        BranchProtection {
            required_approving_review_count: n,
            dismiss_stale_reviews: stale,
            require_last_push_approval: false,
            enforce_admins: true,
        }
    }

    #[test]
    fn a_later_approval_clears_the_same_reviewers_change_request() {
        let r = [
            review(1, "alice", "CHANGES_REQUESTED", "h"),
            review(2, "alice", "COMMENTED", "h"),
            review(3, "alice", "APPROVED", "h"),
        ];
        let s = summarize(&r, "h", "bot", Some(&protection(1, true)));
        assert_eq!(s.decision, ReviewDecision::Approved);
        assert_eq!(s.approved_by, ["alice"]);
    }

    #[test]
    fn one_change_request_blocks_any_number_of_approvals() {
        let r = [
            review(1, "alice", "APPROVED", "h"),
            review(2, "bob", "CHANGES_REQUESTED", "h"),
            review(3, "carol", "APPROVED", "h"),
        ];
        assert_eq!(
            summarize(&r, "h", "bot", None).decision,
            ReviewDecision::ChangesRequested
        );
    }

    #[test]
    fn stale_approvals_do_not_count_when_protection_dismisses_them() {
        let r = [review(1, "alice", "APPROVED", "old")];
        let s = summarize(&r, "new", "bot", Some(&protection(1, true)));
        assert_eq!(s.decision, ReviewDecision::ReviewRequired);
        assert_eq!(s.stale_approvals, ["alice"]);
        assert_eq!(
            summarize(&r, "new", "bot", Some(&protection(1, false))).decision,
            ReviewDecision::Approved
        );
    }

    #[test]
    fn dismissals_and_self_approvals_do_not_count() {
        let r = [
            review(1, "alice", "APPROVED", "h"),
            review(2, "alice", "DISMISSED", "h"),
            review(3, "bot", "APPROVED", "h"),
        ];
        assert_eq!(
            summarize(&r, "h", "bot", None).decision,
            ReviewDecision::ReviewRequired
        );
    }

    #[test]
    fn two_required_approvals_need_two_reviewers() {
        let r = [
            review(1, "alice", "APPROVED", "h"),
            review(2, "alice", "APPROVED", "h"),
        ];
        assert_eq!(
            summarize(&r, "h", "bot", Some(&protection(2, true))).decision,
            ReviewDecision::ReviewRequired
        );
    }

    proptest! {
        /// Comments never change the decision, wherever they fall.
        #[test]
        fn comments_never_change_the_decision(states in proptest::collection::vec((0..3usize, 0..4usize), 0..12), at in 0..12usize) {
            let names = ["alice", "bob", "carol"];
            let kinds = ["APPROVED", "CHANGES_REQUESTED", "DISMISSED", "COMMENTED"];
            let reviews: Vec<Review> = states.iter().enumerate().map(|(i, (u, k))| review(i as u64, names[*u], kinds[*k], "h")).collect();
            let mut with_comment = reviews.clone();
            with_comment.insert(at.min(reviews.len()), review(99, "bob", "COMMENTED", "h"));
            prop_assert_eq!(summarize(&reviews, "h", "bot", None), summarize(&with_comment, "h", "bot", None));
        }
    }
}
