//! The staging rollback run (`rollback <git-ref>`): plan how to bring the staging
//! site back to the blueprints at a ref, offer [Apply] / [Cancel] on the plan, and
//! on Apply plan again against the site as it is now and apply it write by write.
//!
//! The buttons are an offer made at one version of the run. Who may decide (the
//! person who asked, or an admin) and which commit is applied come from the run,
//! never from the button. The first accepted press moves the run to a new version;
//! any later press, a stale button, or a press by someone without the right gets a
//! private answer and leaves the channel message as it was.

use crate::blueprint::render::plural;
use crate::workflow::effect::{Block, ButtonStyle, Message};
use crate::workflow::op::{Op, OpResult, Outcome, RollbackPlan};
use crate::workflow::run::{offer, Input, Press, RunHeader, StepContext, Transition};
use crate::workflow::sync::{Applied, Applying};
use serde::{Deserialize, Serialize};

pub const APPLY: &str = "rollback_apply";
pub const CANCEL: &str = "rollback_cancel";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackRun {
    pub header: RunHeader,
    pub announce: Message,
    pub git_ref: String,
    pub dry_run: bool,
    pub state: RollbackState,
    /// The commit the plan was made for (what Apply applies).
    #[serde(default)]
    pub sha: Option<String>,
    /// The plan as shown with the buttons.
    #[serde(default)]
    pub shown: Option<(String, String)>,
    /// Who decided, and what.
    #[serde(default)]
    pub decided: Option<(String, String)>,
    #[serde(default)]
    pub applying: Applying,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackState {
    Planning,
    AwaitingDecision,
    Replanning,
    Applying,
    Finished,
}

impl RollbackRun {
    pub fn new(header: RunHeader, announce: Message, git_ref: String, dry_run: bool) -> Self {
        RollbackRun {
            header,
            announce,
            git_ref,
            dry_run,
            state: RollbackState::Planning,
            sha: None,
            shown: None,
            decided: None,
            applying: Applying::default(),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.state == RollbackState::Finished
    }

    pub fn state_line(&self) -> String {
        match self.state {
            RollbackState::Planning => "planning".into(),
            RollbackState::AwaitingDecision => "waiting for Apply or Cancel".into(),
            RollbackState::Replanning => "planning again before applying".into(),
            RollbackState::Applying => format!(
                "applying ({} of {} changes made)",
                self.applying.applied.len(),
                self.applying.total()
            ),
            RollbackState::Finished => "finished".into(),
        }
    }

    pub fn step(&mut self, input: &Input, ctx: &StepContext) -> Transition {
        let mut t = Transition::default();
        match (self.state, input) {
            (RollbackState::Planning, Input::Start) => {
                t.post_root(&self.header, self.announce.clone());
                let target = self.git_ref.clone();
                t.work(&mut self.header, "plan", Op::PlanRollback { target });
            }
            (RollbackState::Planning, Input::Done { result, .. }) => {
                self.planned(&mut t, ctx, result)
            }
            (RollbackState::AwaitingDecision, Input::Press(press)) => {
                self.decide(&mut t, ctx, press)
            }
            (_, Input::Press(press)) => self.refuse_late(&mut t, press),
            (RollbackState::Replanning, Input::Done { result, .. }) => match result {
                Ok(Outcome::RollbackPlan(found)) if found.plan.writes.is_empty() => {
                    self.finish_nothing_to_do(&mut t, ctx)
                }
                Ok(Outcome::RollbackPlan(found)) => {
                    let plan = &found.plan;
                    self.state = RollbackState::Applying;
                    self.shown = Some((plan.headline.clone(), plan.rendered.clone()));
                    self.applying = Applying::issue(&mut t, &mut self.header, &plan.writes);
                }
                other => self.fail(&mut t, ctx, other),
            },
            (RollbackState::Applying, Input::Done { key, result }) => {
                self.applied(&mut t, ctx, key, result)
            }
            _ => {}
        }
        t
    }

    fn planned(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        let user = self.header.requester.user.clone();
        let git_ref = self.git_ref.clone();
        let shown_ref = crate::slack::render::code(&git_ref);
        let Ok(Outcome::RollbackPlan(found)) = result else {
            return self.fail(t, ctx, result);
        };
        let RollbackPlan { sha, plan } = found.as_ref();
        if plan.writes.is_empty() {
            self.state = RollbackState::Finished;
            t.update_root(
                &self.header,
                Message::with_code(
                    format!(":white_check_mark: Rollback: nothing to do; the site already matches {shown_ref}."),
                    plan.rendered.clone(),
                ),
            );
            t.audit(
                &self.header,
                ctx.now,
                &user,
                format!("plan to {git_ref} ({sha}): nothing to do"),
            );
            return;
        }
        let changes = plural(plan.writes.len(), "change");
        if self.dry_run {
            self.state = RollbackState::Finished;
            t.update_root(
                &self.header,
                Message::with_code(
                    format!(":memo: Rollback (dry run): {changes} to reach {shown_ref}; nothing was changed."),
                    plan.rendered.clone(),
                ),
            );
            t.audit(
                &self.header,
                ctx.now,
                &user,
                format!("dry run to {git_ref} ({sha}): {changes}"),
            );
            return;
        }
        self.state = RollbackState::AwaitingDecision;
        self.sha = Some(sha.clone());
        self.shown = Some((plan.headline.clone(), plan.rendered.clone()));
        self.header.version += 1;
        let mut message = Message::with_code(
            format!(
                ":rewind: Rollback: {changes} to bring the staging site back to {shown_ref}. Nothing changes until <@{user}> or an admin presses Apply."
            ),
            plan.rendered.clone(),
        );
        message.blocks.push(Block::Buttons(vec![
            offer(&self.header, APPLY, "Apply", Some(ButtonStyle::Danger)),
            offer(&self.header, CANCEL, "Cancel", None),
        ]));
        t.update_root(&self.header, message);
        t.audit(
            &self.header,
            ctx.now,
            &user,
            format!("planned to {git_ref} ({sha}): {changes}"),
        );
    }

    fn decide(&mut self, t: &mut Transition, ctx: &StepContext, press: &Press) {
        let proposer = self.header.requester.user.clone();
        let git_ref = self.git_ref.clone();
        let shown_ref = crate::slack::render::code(&git_ref);
        let sha = self.sha.clone().unwrap_or_default();
        if press.version != self.header.version {
            return self.refuse_late(t, press);
        }
        if press.user != proposer && !press.roles.admin {
            t.tell(
                press.reply_to.as_ref(),
                Message::text(format!(
                    ":no_entry: Only <@{proposer}> or an admin may decide this rollback, so your press did nothing. Nothing was changed."
                )),
            );
            t.audit(
                &self.header,
                press.at,
                &press.user,
                format!(
                    "refused a decision by {}: not the requester or an admin",
                    press.user
                ),
            );
            return;
        }
        self.header.version += 1;
        let verb = if press.action == APPLY {
            "Apply"
        } else {
            "Cancel"
        };
        self.decided = Some((press.user.clone(), verb.to_string()));
        if press.action != APPLY {
            self.state = RollbackState::Finished;
            t.update_root(
                &self.header,
                Message::text(format!(":heavy_multiplication_x: Rollback to {shown_ref} cancelled by <@{}>; nothing was changed.", press.user)),
            );
            t.audit(
                &self.header,
                ctx.now,
                &press.user,
                format!("cancelled rollback to {git_ref} ({sha})"),
            );
            return;
        }
        self.state = RollbackState::Replanning;
        t.update_root(
            &self.header,
            Message::text(format!(
                ":hourglass_flowing_sand: <@{}> pressed Apply; working on it…",
                press.user
            )),
        );
        t.audit(
            &self.header,
            ctx.now,
            &press.user,
            format!("approved rollback to {git_ref} ({sha})"),
        );
        t.work(&mut self.header, "replan", Op::PlanRollback { target: sha });
    }

    /// A press that comes too late (or on an old message): said privately, nothing done.
    fn refuse_late(&mut self, t: &mut Transition, press: &Press) {
        let text = match &self.decided {
            Some((who, what)) => format!(
                "This rollback was already decided by <@{who}> ({what}), so your press did nothing."
            ),
            None => "That button is from an earlier state of this rollback, so your press did nothing. Use the buttons on its current message.".to_string(),
        };
        t.tell(press.reply_to.as_ref(), Message::text(text));
    }

    fn applied(&mut self, t: &mut Transition, ctx: &StepContext, key: &str, result: &OpResult) {
        let git_ref = self.git_ref.clone();
        let shown_ref = crate::slack::render::code(&git_ref);
        let decider = self
            .decided
            .as_ref()
            .map(|(who, _)| who.clone())
            .unwrap_or_else(|| self.header.requester.user.clone());
        match self.applying.on_done(key, result) {
            Applied::One { describe, all } => {
                t.audit(
                    &self.header,
                    ctx.now,
                    &decider,
                    format!("rollback to {git_ref}: {describe}"),
                );
                if all {
                    self.state = RollbackState::Finished;
                    let (_, rendered) = self.shown.clone().unwrap_or_default();
                    t.update_root(
                        &self.header,
                        Message::with_code(
                            format!(
                                ":white_check_mark: Rolled the staging site back to {shown_ref}: {} applied, decided by <@{decider}>.",
                                plural(self.applying.total(), "change")
                            ),
                            rendered,
                        ),
                    );
                } else if let Some(note) = self.applying.progress("Rollback") {
                    t.update_root(&self.header, note);
                }
            }
            Applied::Stopped { describe, failure } => {
                self.state = RollbackState::Finished;
                t.drop_pending_work = true;
                let text = self.applying.stopped_text(
                    "Rollback",
                    &describe,
                    &failure,
                    "run the rollback again",
                );
                t.update_root(&self.header, Message::text(format!(":x: {text}")));
                t.audit(&self.header, ctx.now, &decider, format!("failed: {text}"));
            }
            Applied::Unknown => {}
        }
    }

    fn finish_nothing_to_do(&mut self, t: &mut Transition, ctx: &StepContext) {
        self.state = RollbackState::Finished;
        let git_ref = self.git_ref.clone();
        let shown_ref = crate::slack::render::code(&git_ref);
        t.update_root(
            &self.header,
            Message::text(format!(
                ":white_check_mark: Rollback: nothing to do; the site already matches {shown_ref}."
            )),
        );
        let user = self.header.requester.user.clone();
        t.audit(
            &self.header,
            ctx.now,
            &user,
            format!("rollback to {git_ref}: nothing to do"),
        );
    }

    fn fail(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        self.state = RollbackState::Finished;
        let text = match result {
            Err(failure) => failure.text(),
            Ok(other) => format!("unexpected answer {other:?}"),
        };
        let text = if text.contains("changed") {
            text
        } else {
            format!("{} Nothing was changed.", text.trim_end())
        };
        t.update_root(&self.header, Message::text(format!(":x: {text}")));
        let user = self.header.requester.user.clone();
        t.audit(&self.header, ctx.now, &user, format!("failed: {text}"));
    }
}
