//! `rollback <git-ref> [--dry-run]`: rewind the staging site to the blueprints at a
//! ref. The plan is posted first, with [Apply] / [Cancel] buttons; a press starts a
//! follow-up job on the same message (the job checks who pressed).

use super::{requester_of_action, with_requester, Context, Outcome};
use crate::command::{Command, GitRef, SiteSel};
use crate::jobs::rollback::{APPLY, CANCEL};
use crate::workflow::effect::{Effect, Message, Update};
use crate::workflow::event::{ActionEvent, CommandEvent};
use crate::workflow::job::{Decision, JobRecord, RollbackButton};

pub fn handle(
    ctx: &Context,
    event: &CommandEvent,
    git_ref: &GitRef,
    dry_run: bool,
) -> anyhow::Result<Outcome> {
    let tracking = ctx.config.tracking(SiteSel::Staging)?;
    let message = Message::text(format!(
        ":hourglass_flowing_sand: Rollback: planning how to bring site `{}` back to `{}`…",
        tracking.site,
        git_ref.as_str()
    ));
    let command = Command::Rollback {
        git_ref: git_ref.clone(),
        dry_run,
    };
    Ok(Outcome::start_job(ctx, event, command, message))
}

/// Whether this module owns a button.
pub fn owns(action_id: &str) -> bool {
    action_id == APPLY || action_id == CANCEL
}

/// [Apply] or [Cancel] on a plan: the buttons are replaced at once (no double
/// press), and a job checks the presser's right and acts.
pub fn handle_button(ctx: &Context, action: &ActionEvent) -> Option<Outcome> {
    let value = RollbackButton::decode(&action.value)?;
    let git_ref = GitRef::parse(&value.git_ref).ok()?;
    let apply = action.action_id == APPLY;
    let verb = if apply { "Apply" } else { "Cancel" };
    let record = JobRecord::for_decision(
        &action.trigger_id,
        Command::Rollback {
            git_ref,
            dry_run: false,
        },
        requester_of_action(action)?,
        value.message_key(),
        Decision::Rollback { value, apply },
        ctx.now,
    );
    let pressed = Message::text(format!(
        ":hourglass_flowing_sand: <@{}> pressed {verb}; working on it…",
        action.user
    ));
    Some(Outcome {
        effects: vec![Effect::Update(Update {
            key: record.message_key.clone(),
            message: with_requester(pressed, &action.user),
        })],
        jobs: vec![record],
        ..Outcome::default()
    })
}
