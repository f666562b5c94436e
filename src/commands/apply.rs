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
    match (write.verb, &write.body, as_wanted(staging, write).await?) {
        (_, _, true) => Ok(Outcome::Applied { already: true }),
        (WriteVerb::Delete, _, false) => {
            let result = staging.delete(&write.doctype, &write.name).await;
            landed(staging, write, result).await
        }
        (_, Some(body), false) => {
            let result = staging.upsert(body).await.map(drop);
            landed(staging, write, result).await
        }
        (_, None, _) => Err(Failure::Refused(format!(
            "the plan has no body for {}",
            crate::slack::render::code(&write.describe)
        ))),
    }
}

/// Whether the site already holds the record as the write wants it (deleted for a
/// delete).
async fn as_wanted(staging: &StagingSite, write: &StagingWrite) -> Result<bool, Failure> {
    let current = match staging.get_doc(&write.doctype, &write.name).await {
        Ok(doc) => Some(doc),
        Err(FrappeError::NotFound(_)) => None,
        Err(err) => return Err(failed(err)),
    };
    Ok(match (&write.body, current) {
        (None, current) => current.is_none(),
        (Some(body), current) => current
            .as_ref()
            .and_then(|doc| canonicalize(doc).ok())
            .is_some_and(|blueprint| &blueprint.body == body),
    })
}

/// A write's outcome. When the answer was lost (a dropped connection, a gateway
/// error, no answer in time) the site may have done it anyway: it is read back, and
/// a write it cannot be sure of is reported as such, never as "nothing changed".
async fn landed<T>(
    staging: &StagingSite,
    write: &StagingWrite,
    result: Result<T, FrappeError>,
) -> OpResult {
    let err = match result {
        Ok(_) => return Ok(Outcome::Applied { already: false }),
        Err(err) => err,
    };
    let unknown = match &err {
        FrappeError::Timeout(_) | FrappeError::Transport(_) | FrappeError::Decode(_) => true,
        FrappeError::Server(ctx) => matches!(ctx.status, None | Some(502 | 504)),
        _ => false,
    };
    if !unknown {
        return Err(failed(err));
    }
    match as_wanted(staging, write).await {
        Ok(true) => Ok(Outcome::Applied { already: false }),
        // A site that did not answer in time may still be doing it.
        Ok(false) if !matches!(err, FrappeError::Timeout(_)) => Err(failed(err)),
        _ => Err(Failure::Partial {
            text: super::explain::explain(&err.into()),
            done: String::new(),
        }),
    }
}
