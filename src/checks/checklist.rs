//! Running the checklist: every box's future at once, each under its own timeout, with
//! a progress callback after each one finishes so the caller can update one Slack
//! message in place. A box that errs (site unreachable) or times out fails with the
//! reason; nothing fails silently and one slow box never holds the others. The
//! verdict passes only when no box failed. Uses tokio's timer only; spawns nothing.

use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

use super::{BoxId, BoxOutcome, BoxStatus};

/// One box of a run: its id and the work that decides it.
pub type BoxJob = (BoxId, BoxFuture<'static, anyhow::Result<BoxOutcome>>);

/// The checklist while it runs: every box, finished or not, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecklistState {
    pub entries: Vec<(BoxId, Option<BoxOutcome>)>,
}

impl ChecklistState {
    pub fn new(boxes: impl IntoIterator<Item = BoxId>) -> Self {
        ChecklistState {
            entries: boxes.into_iter().map(|id| (id, None)).collect(),
        }
    }

    fn record(&mut self, outcome: BoxOutcome) {
        // The first unfinished slot of that box: a box listed twice fills both.
        let slot = self
            .entries
            .iter_mut()
            .find(|(id, done)| *id == outcome.box_id && done.is_none());
        if let Some(slot) = slot {
            slot.1 = Some(outcome);
        }
    }

    pub fn is_finished(&self) -> bool {
        self.entries.iter().all(|(_, o)| o.is_some())
    }

    /// The walkthrough's lines: `✓ role coverage   Manager(3), Field Officer(27)`,
    /// `⏳ tester` while a box runs, and a box's further lines indented under it.
    pub fn render(&self) -> String {
        let width = self
            .entries
            .iter()
            .map(|(id, _)| id.display_name().chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (id, outcome) in &self.entries {
            let name = id.display_name();
            match outcome {
                None => out.push_str(&format!("⏳ {name}\n")),
                Some(o) => {
                    let line = format!("{} {name:<width$}  {}", o.status.symbol(), o.detail);
                    out.push_str(line.trim_end());
                    out.push('\n');
                    for more in &o.more {
                        out.push_str(&format!("      {more}\n"));
                    }
                }
            }
        }
        out
    }
}

/// The finished checklist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChecklistVerdict {
    /// One outcome per box, in the order given.
    pub outcomes: Vec<BoxOutcome>,
    pub state: ChecklistState,
}

impl ChecklistVerdict {
    /// True when no box failed (warnings pass).
    pub fn passes(&self) -> bool {
        self.outcomes.iter().all(|o| o.status != BoxStatus::Fail)
    }

    pub fn failed(&self) -> impl Iterator<Item = &BoxOutcome> {
        self.outcomes.iter().filter(|o| o.status == BoxStatus::Fail)
    }

    pub fn outcome(&self, id: BoxId) -> Option<&BoxOutcome> {
        self.outcomes.iter().find(|o| o.box_id == id)
    }

    /// Whether the freeze was passed under `--emergency` (a warning on the freeze box):
    /// the promotion then needs a second person's approval.
    pub fn emergency_used(&self) -> bool {
        self.outcome(BoxId::FreezeGuard)
            .is_some_and(|o| o.status == BoxStatus::Warn)
    }

    /// The whole verdict as `promote --dry-run` prints it: every box, then the summary.
    pub fn render(&self) -> String {
        format!("{}{}\n", self.state.render(), self.summary())
    }

    /// `✓ all 8 boxes pass` / `✗ refused: tester, freeze guard failed`.
    pub fn summary(&self) -> String {
        let failed: Vec<&str> = self.failed().map(|o| o.box_id.display_name()).collect();
        if failed.is_empty() {
            let warned = self
                .outcomes
                .iter()
                .filter(|o| o.status == BoxStatus::Warn)
                .count();
            let note = if warned > 0 {
                format!(" ({warned} with a warning)")
            } else {
                String::new()
            };
            format!("✓ all {} boxes pass{note}", self.outcomes.len())
        } else {
            format!("✗ refused: {} failed", failed.join(", "))
        }
    }
}

/// `30s`, or `50ms` below a second.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 || d.as_secs() >= 10 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Runs every box concurrently, each within `timeout`, calling `on_progress` once at
/// the start (all pending) and after each box finishes.
pub async fn run_checklist(
    boxes: Vec<BoxJob>,
    timeout: Duration,
    mut on_progress: impl FnMut(&ChecklistState),
) -> ChecklistVerdict {
    let mut state = ChecklistState::new(boxes.iter().map(|(id, _)| *id));
    on_progress(&state);
    let mut running: FuturesUnordered<_> = boxes
        .into_iter()
        .map(|(id, job)| async move {
            match tokio::time::timeout(timeout, job).await {
                Ok(Ok(outcome)) if outcome.box_id == id => outcome,
                Ok(Ok(outcome)) => BoxOutcome::fail(
                    id,
                    format!(
                        "internal error: the {id} box answered for {}",
                        outcome.box_id
                    ),
                ),
                Ok(Err(error)) => BoxOutcome::fail(id, format!("{error:#}")),
                Err(_) => {
                    BoxOutcome::fail(id, format!("did not finish within {}", seconds(timeout)))
                }
            }
        })
        .collect();
    while let Some(outcome) = running.next().await {
        state.record(outcome);
        on_progress(&state);
    }
    let outcomes = state
        .entries
        .iter()
        .filter_map(|(_, o)| o.clone())
        .collect();
    ChecklistVerdict { outcomes, state }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;
    use tokio::sync::oneshot;

    fn ready(outcome: BoxOutcome) -> BoxJob {
        (outcome.box_id, async move { Ok(outcome) }.boxed())
    }

    fn walkthrough() -> Vec<BoxOutcome> {
        vec![
            BoxOutcome::pass(BoxId::Diff, "staging = staging branch, production = main"),
            BoxOutcome::pass(BoxId::Blueprints, "5/5 Applied"),
            BoxOutcome::pass(BoxId::Reviewer, "0 CRITICAL, 0 HIGH, 1 MEDIUM, 3 LOW"),
            BoxOutcome::pass(
                BoxId::Tester,
                "14/14 tests pass, 87% coverage on changed lines",
            ),
            BoxOutcome::pass(
                BoxId::Backup,
                "20261126_010000-prod_example_com (3h 20m old)",
            ),
            BoxOutcome::pass(BoxId::RoleCoverage, "Manager(3), Field Officer(27)"),
            BoxOutcome::pass(BoxId::FreezeGuard, "Wednesday 14:30, fine"),
            BoxOutcome::pass(BoxId::Bundle, "1 family (max 5): beneficiary"),
        ]
    }

    #[tokio::test]
    async fn all_pass_and_progress_is_reported_after_each_box() {
        let mut renders = Vec::new();
        let verdict = run_checklist(
            walkthrough().into_iter().map(ready).collect(),
            Duration::from_secs(5),
            |s| renders.push(s.render()),
        )
        .await;
        assert!(verdict.passes());
        assert_eq!(renders.len(), 9);
        assert_eq!(renders[0].matches('⏳').count(), 8);
        assert_eq!(verdict.summary(), "✓ all 8 boxes pass");
        assert!(verdict
            .render()
            .ends_with("beneficiary\n✓ all 8 boxes pass\n"));
        insta::assert_snapshot!(verdict.state.render());
    }

    #[tokio::test]
    async fn errors_and_timeouts_fail_their_box_only() {
        let (_keep, never) = oneshot::channel::<()>();
        let mut jobs: Vec<BoxJob> = walkthrough()
            .into_iter()
            .filter(|o| !matches!(o.box_id, BoxId::Diff | BoxId::Backup))
            .map(ready)
            .collect();
        jobs.insert(
            0,
            (
                BoxId::Diff,
                async {
                    Err(anyhow::anyhow!("connection refused")
                        .context("while reading https://prod.example.com"))
                }
                .boxed(),
            ),
        );
        jobs.push((
            BoxId::Backup,
            async move {
                let _ = never.await;
                Ok(BoxOutcome::pass(BoxId::Backup, "never"))
            }
            .boxed(),
        ));
        let mut last = String::new();
        let verdict = run_checklist(jobs, Duration::from_millis(50), |s| last = s.render()).await;
        assert!(!verdict.passes());
        assert_eq!(
            verdict.outcome(BoxId::Diff).unwrap().detail,
            "while reading https://prod.example.com: connection refused"
        );
        assert_eq!(
            verdict.outcome(BoxId::Backup).unwrap().detail,
            "did not finish within 50ms"
        );
        assert_eq!(verdict.summary(), "✗ refused: diff, backup failed");
        assert_eq!(verdict.outcomes.len(), 8);
        insta::assert_snapshot!(last);
    }

    #[tokio::test]
    async fn a_box_answering_for_another_is_an_internal_failure() {
        let job: BoxJob = (
            BoxId::Tester,
            async { Ok(BoxOutcome::pass(BoxId::Bundle, "x")) }.boxed(),
        );
        let verdict = run_checklist(vec![job], Duration::from_secs(1), |_| {}).await;
        assert_eq!(verdict.outcomes[0].box_id, BoxId::Tester);
        assert_eq!(verdict.outcomes[0].status, BoxStatus::Fail);
    }

    #[tokio::test]
    async fn a_box_listed_twice_is_reported_twice() {
        let jobs = vec![
            ready(BoxOutcome::pass(BoxId::Diff, "a")),
            ready(BoxOutcome::fail(BoxId::Diff, "b")),
        ];
        let verdict = run_checklist(jobs, Duration::from_secs(1), |_| {}).await;
        assert_eq!(verdict.outcomes.len(), 2);
        assert!(!verdict.passes());
    }

    #[test]
    fn warnings_pass_and_more_lines_are_indented() {
        let mut state = ChecklistState::new([BoxId::FreezeGuard, BoxId::Bundle]);
        state.record(BoxOutcome::warn(
            BoxId::FreezeGuard,
            "Saturday 10:00 — inside freeze; emergency: outage",
        ));
        state.record(
            BoxOutcome::fail(
                BoxId::Bundle,
                "7 families, more than 5: promote them separately",
            )
            .with_more(vec![
                "promote --only=grant   (4 blueprints: DocType \"Grant\")".into(),
            ]),
        );
        assert!(state.is_finished());
        let verdict = ChecklistVerdict {
            outcomes: state
                .entries
                .iter()
                .filter_map(|(_, o)| o.clone())
                .collect(),
            state: state.clone(),
        };
        assert!(verdict.emergency_used());
        assert!(!verdict.passes());
        insta::assert_snapshot!(state.render());
    }
}
