//! Applying a plan to the staging site, step by step, for `push` and `rollback`.
//! Only [`StagingSite`] has write methods, so production cannot be reached here.
//! On the first failure it stops and says how far it got: the site is then partly
//! updated, and running the command again finishes the job (plans are recomputed).

use super::Reporter;
use crate::blueprint::plan::{Plan, Step};
use crate::frappe::StagingSite;
use crate::workflow::effect::Message;

/// How many plan lines a message shows before "…and N more".
pub const PLAN_LINES: usize = 40;

/// Applies every step; returns one line per applied change, for the audit log.
pub async fn apply(
    staging: &StagingSite,
    plan: &Plan,
    what: &str,
    reporter: &Reporter,
) -> anyhow::Result<Vec<String>> {
    let mut applied = Vec::with_capacity(plan.len());
    for step in &plan.steps {
        let (kind, name) = step.id();
        let result = match step {
            Step::Create(blueprint) | Step::Update(blueprint, _) => {
                staging.apply_blueprint(blueprint).await.map(|_| ())
            }
            Step::Delete(_) => staging.delete(kind.doctype(), &name).await,
        };
        if let Err(err) = result {
            anyhow::bail!(
                "{what} stopped after {} of {} changes: `{}` failed: {err}. The site is partly updated; run it again once the cause is fixed.",
                applied.len(),
                plan.len(),
                step.describe()
            );
        }
        applied.push(step.describe());
        if applied.len() % 10 == 0 {
            reporter
                .progress(Message::text(format!(
                    ":hourglass_flowing_sand: {what}: {} of {} changes applied…",
                    applied.len(),
                    plan.len()
                )))
                .await;
        }
    }
    Ok(applied)
}
