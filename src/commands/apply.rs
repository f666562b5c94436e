//! One write to the staging site (for `push` and `rollback`), checked first: a
//! record that is already as wanted (the write happened before a restart) counts as
//! done without writing again. Only [`StagingSite`] has write methods, so production
//! cannot be reached from here.

use super::failed;
use crate::blueprint::canonicalize;
use crate::blueprint::plan::{Plan, Step};
use crate::frappe::{FrappeError, StagingSite};
use crate::workflow::op::{Failure, OpResult, Outcome, StagingWrite, WriteVerb};

/// How many plan lines a message shows before "…and N more".
pub const PLAN_LINES: usize = 40;

/// The writes of a plan, in applying order.
pub fn writes_of(plan: &Plan) -> Vec<StagingWrite> {
    plan.steps
        .iter()
        .map(|step| {
            let (kind, name) = step.id();
            let (verb, body) = match step {
                Step::Create(blueprint) => (WriteVerb::Create, Some(blueprint.body.clone())),
                Step::Update(blueprint, _) => (WriteVerb::Update, Some(blueprint.body.clone())),
                Step::Delete(_) => (WriteVerb::Delete, None),
            };
            StagingWrite {
                verb,
                doctype: kind.doctype().to_string(),
                name,
                body,
                describe: step.describe(),
            }
        })
        .collect()
}

pub async fn perform(staging: &StagingSite, write: &StagingWrite) -> OpResult {
    let current = match staging.get_doc(&write.doctype, &write.name).await {
        Ok(doc) => Some(doc),
        Err(FrappeError::NotFound(_)) => None,
        Err(err) => return Err(failed(err)),
    };
    match (write.verb, &write.body, current) {
        (WriteVerb::Delete, _, None) => Ok(Outcome::Applied { already: true }),
        (WriteVerb::Delete, _, Some(_)) => {
            staging
                .delete(&write.doctype, &write.name)
                .await
                .map_err(failed)?;
            Ok(Outcome::Applied { already: false })
        }
        (_, Some(body), current) => {
            let as_wanted = current
                .as_ref()
                .and_then(|doc| canonicalize(doc).ok())
                .is_some_and(|blueprint| &blueprint.body == body);
            if as_wanted {
                return Ok(Outcome::Applied { already: true });
            }
            staging.upsert(body).await.map_err(failed)?;
            Ok(Outcome::Applied { already: false })
        }
        (_, None, _) => Err(Failure::Refused(format!(
            "the plan has no body for `{}`",
            write.describe
        ))),
    }
}
