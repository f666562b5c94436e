//! The release's transitions: one function per thing that can happen in a state.
//! Pure: it reads the run, the input and the configuration, changes the run, and
//! returns the effects (one work effect at a time, awaited by key), audit entries
//! and the production lock.

use super::text::{self, short};
use super::{actions, ShipRun, ShipState};
use crate::config::ChangelogMode;
use crate::release::{changelog, notes};
use crate::slack::render::escape;
use crate::store::EnvLock;
use crate::workflow::effect::{Block, Effect, Message, Modal, Post, Requester};
use crate::workflow::op::{
    ChangelogCommit, Op, OpResult, Outcome, PullRequestDraft, ReleaseDraftRequest, ReviewState,
    ReviewVerdict,
};
use crate::workflow::promotion::PRODUCTION;
use crate::workflow::run::{Input, Press, StepContext, Submission, Transition};
use chrono::{DateTime, Duration, Utc};

/// Attempts at the tag and at the release before the run gives up and says what
/// exists (each attempt first checks whether the previous one landed).
pub(super) const MAX_ATTEMPTS: u32 = 5;

impl ShipRun {
    pub fn step(&mut self, input: &Input, ctx: &StepContext) -> Transition {
        let mut t = Transition::default();
        let before = (self.state, self.header.version);
        match input {
            Input::Start => self.start(&mut t, ctx),
            Input::Done { key, result } => {
                if self.facts.waiting.as_deref() != Some(key.as_str()) {
                    return t;
                }
                self.facts.waiting = None;
                self.on_done(&mut t, ctx, result);
            }
            Input::Press(press) => self.on_press(&mut t, ctx, press),
            Input::Submit(submission) => self.on_submit(&mut t, submission),
            // Arrival refuses a second ship while this one is in flight.
            Input::Again { .. } => {}
        }
        if (self.state, self.header.version) != before {
            t.update_root(&self.header, text::root(self, &release_channel(self, ctx)));
        }
        self.keep_lock(&mut t, ctx);
        t
    }

    // ---- helpers ---------------------------------------------------------------------

    fn await_work(&mut self, t: &mut Transition, step: &str, op: Op) {
        let key = t.work(&mut self.header, step, op);
        self.facts.waiting = Some(key);
    }

    fn await_work_after(&mut self, t: &mut Transition, step: &str, op: Op, at: DateTime<Utc>) {
        let key = t.work_after(&mut self.header, step, op, Some(at));
        self.facts.waiting = Some(key);
    }

    fn say(&mut self, t: &mut Transition, step: &str, text: String) {
        t.reply(&mut self.header, step, Message::text(text), false);
    }

    fn bot_audit(&self, t: &mut Transition, ctx: &StepContext, detail: String) {
        t.audit(&self.header, ctx.now, "lockstep", detail);
    }

    fn bump(&mut self) {
        self.header.version += 1;
    }

    /// Holds the production lock while the run lives: no promotion merges between
    /// the draft and the tag.
    fn keep_lock(&self, t: &mut Transition, ctx: &StepContext) {
        let change = (!self.state.is_terminal()).then(|| EnvLock {
            run_id: self.header.id.clone(),
            holder: self.header.requester.user.clone(),
            since: self.header.started_at,
            reason: format!("shipping {} ({})", self.tag(), self.state.describe()),
            expires_at: Some(
                ctx.now + Duration::hours(i64::from(ctx.config.file.promote.lock_ttl_hours)),
            ),
        });
        t.locks.push((self.header.lock_key(PRODUCTION), change));
    }

    fn end(&mut self, t: &mut Transition, ctx: &StepContext, state: ShipState, outcome: String) {
        self.state = state;
        self.facts.ended_at = Some(ctx.now);
        self.facts.outcome = Some(outcome.clone());
        self.bump();
        t.drop_pending_reads = true;
        self.bot_audit(t, ctx, format!("{}: {outcome}", state.describe()));
    }

    fn poll_reviews(&mut self, t: &mut Transition, ctx: &StepContext, changed: bool) {
        let Some(number) = self.facts.pr.as_ref().map(|pr| pr.number) else {
            return;
        };
        let promote = &ctx.config.file.promote;
        self.facts.poll_ms = if changed || self.facts.poll_ms == 0 {
            promote.poll_interval_ms
        } else {
            (self.facts.poll_ms * 2).min(promote.poll_max_interval_ms)
        };
        let at = ctx.now + Duration::milliseconds(self.facts.poll_ms as i64);
        self.await_work_after(t, "reviews", Op::ReadReviews { number }, at);
    }

    fn pr_number(&self) -> u64 {
        self.facts.pr.as_ref().map(|pr| pr.number).unwrap_or(0)
    }

    fn entry(&self) -> String {
        self.facts.entry.clone().unwrap_or_default()
    }

    // ---- start and draft ---------------------------------------------------------------

    fn start(&mut self, t: &mut Transition, ctx: &StepContext) {
        self.facts.direct = ctx.config.file.ship.changelog == ChangelogMode::Direct;
        let today = ctx
            .now
            .with_timezone(&ctx.config.file.freeze.timezone)
            .date_naive();
        self.facts.on_call = ctx.config.file.rotation.on_call(today).cloned();
        t.post_root(&self.header, text::root(self, &release_channel(self, ctx)));
        t.audit(
            &self.header,
            ctx.now,
            &self.header.requester.user.clone(),
            format!("started {}", self.tag()),
        );
        let request = ReleaseDraftRequest {
            version: self.request.version.clone(),
            notes_from: self.request.notes_from,
            date: self.request.date,
            promoted: self.request.promoted.clone(),
            dry_run: false,
            blocked: None,
        };
        self.await_work(t, "draft", Op::DraftRelease(Box::new(request)));
    }

    fn on_done(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match self.state {
            ShipState::Drafting => self.on_draft(t, ctx, result),
            ShipState::Committing => self.on_committed(t, ctx, result),
            ShipState::OpeningPr => self.on_pr_step(t, ctx, result),
            ShipState::AwaitingReview => self.on_reviews(t, ctx, result),
            ShipState::Merging => self.on_merged(t, ctx, result),
            ShipState::Tagging => self.on_tagged(t, ctx, result),
            ShipState::Releasing => self.on_released(t, ctx, result),
            ShipState::Cancelling => self.on_closed(t, ctx, result),
            ShipState::AwaitingDecision
            | ShipState::Shipped
            | ShipState::Refused
            | ShipState::Cancelled
            | ShipState::Failed => {}
        }
    }

    fn on_draft(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::ReleaseDraft(draft)) => {
                self.bot_audit(
                    t,
                    ctx,
                    format!(
                        "drafted {} ({} blueprints since {})",
                        self.tag(),
                        draft.changes,
                        draft.previous_tag.as_deref().unwrap_or("the first commit")
                    ),
                );
                self.facts.draft = Some(draft.as_ref().clone());
                self.state = ShipState::AwaitingDecision;
                self.bump();
            }
            other => {
                let why = failure_text(other);
                self.end(
                    t,
                    ctx,
                    ShipState::Refused,
                    format!("Refused: {why} Nothing was changed."),
                );
            }
        }
    }

    // ---- buttons and the editor --------------------------------------------------------

    fn on_press(&mut self, t: &mut Transition, ctx: &StepContext, press: &Press) {
        if press.version != self.header.version {
            return self.refuse_stale(t, press);
        }
        let requester = self.header.requester.user.clone();
        // An admin may also cancel (a release left waiting by someone away).
        let may_decide = press.user == requester
            || press.roles.approver
            || (press.action == actions::CANCEL && press.roles.admin);
        if !may_decide {
            return self.refuse(
                t,
                press,
                format!("Only <@{requester}> (who asked for this release) or an approver may press this."),
            );
        }
        match (self.state, press.action.as_str()) {
            (ShipState::AwaitingDecision, actions::EDIT) => self.open_editor(t, ctx, press),
            (ShipState::AwaitingDecision, actions::SHIP) => self.ship(t, ctx, press),
            (ShipState::AwaitingDecision, actions::CANCEL) => {
                self.record_decision(t, press, "Cancel");
                self.end(
                    t,
                    ctx,
                    ShipState::Cancelled,
                    format!(
                        "Cancelled by <@{}> before anything was written. Nothing was changed.",
                        press.user
                    ),
                );
            }
            (ShipState::AwaitingReview, actions::CANCEL) => {
                self.record_decision(t, press, "Cancel release");
                self.state = ShipState::Cancelling;
                self.bump();
                t.drop_pending_reads = true;
                let number = self.pr_number();
                self.await_work(t, "close", Op::ClosePull { number });
            }
            _ => self.refuse_stale(t, press),
        }
    }

    fn open_editor(&mut self, t: &mut Transition, ctx: &StepContext, press: &Press) {
        let body = self
            .facts
            .draft
            .as_ref()
            .map(|d| d.body.clone())
            .unwrap_or_default();
        let Some(trigger_id) = press.trigger_id.clone() else {
            return self.refuse(t, press, "That press cannot open an editor (Slack sent no trigger with it); press Edit again.".into());
        };
        t.effects.push(Effect::OpenModal(Modal {
            trigger_id,
            view: text::editor(self, &body),
            tell: press.reply_to.clone(),
        }));
        t.audit(
            &self.header,
            ctx.now,
            &press.user,
            "opened the release notes editor".into(),
        );
    }

    fn on_submit(&mut self, t: &mut Transition, submission: &Submission) {
        if submission.callback_id != actions::EDITOR {
            return;
        }
        let typed = submission
            .value(actions::NOTES_BLOCK, actions::NOTES_INPUT)
            .unwrap_or_default()
            .to_string();
        let tell = Requester {
            response_url: String::new(),
            channel: self.header.requester.channel.clone(),
            user: submission.user.clone(),
        };
        let not_saved = |why: String| {
            Message::with_code(
                format!(":warning: {why} Your text was not saved; here it is to copy:"),
                typed.clone(),
            )
        };
        if submission.version != self.header.version || self.state != ShipState::AwaitingDecision {
            let since = match (&self.facts.decided, &self.facts.edited_by) {
                (Some((who, what)), _) => format!("<@{who}> pressed {what}"),
                (None, Some(who)) => format!("<@{who}> saved an edit"),
                (None, None) => format!("it is now {}", self.state.describe()),
            };
            return t.tell(
                Some(&tell),
                not_saved(format!(
                    "The draft of {} changed since you opened the editor ({since}).",
                    escape(&self.tag())
                )),
            );
        }
        let requester = &self.header.requester.user;
        if submission.user != *requester && !submission.roles.approver {
            return t.tell(
                Some(&tell),
                not_saved(format!(
                    "Only <@{requester}> or an approver may edit these release notes."
                )),
            );
        }
        let body = changelog::normalise_body(&typed);
        if body.is_empty() {
            return t.tell(
                Some(&tell),
                not_saved("Release notes cannot be empty.".into()),
            );
        }
        let lines = body.lines().count();
        if let Some(draft) = self.facts.draft.as_mut() {
            draft.body = body;
        }
        self.facts.edited_by = Some(submission.user.clone());
        self.bump();
        t.audit(
            &self.header,
            submission.at,
            &submission.user,
            format!("edited the release notes ({lines} lines)"),
        );
    }

    fn record_decision(&mut self, t: &mut Transition, press: &Press, what: &str) {
        self.facts.decided = Some((press.user.clone(), what.to_string()));
        t.audit(
            &self.header,
            press.at,
            &press.user,
            format!("pressed {what}"),
        );
    }

    fn refuse(&mut self, t: &mut Transition, press: &Press, why: String) {
        t.refuse_press(&self.header, press, &why);
    }

    fn refuse_stale(&mut self, t: &mut Transition, press: &Press) {
        t.tell_stale_press(
            press,
            self.facts.decided.as_ref(),
            format!(
                "That button is from an earlier draft of this release (now: {}), so your press did nothing.",
                self.state.describe()
            ),
        );
    }

    // ---- landing the entry -------------------------------------------------------------

    fn ship(&mut self, t: &mut Transition, ctx: &StepContext, press: &Press) {
        self.record_decision(t, press, "Ship");
        let Some(draft) = self.facts.draft.clone() else {
            return self.refuse_stale(t, press);
        };
        let date = ctx
            .now
            .with_timezone(&ctx.config.file.freeze.timezone)
            .date_naive();
        let entry = changelog::entry_with_body(&self.request.version, date, &draft.body);
        self.facts.release_date = Some(date);
        self.facts.entry = Some(entry.clone());
        self.state = ShipState::Committing;
        self.bump();
        let production = production_branch(ctx);
        let branch = if self.facts.direct {
            production.clone()
        } else {
            self.release_branch()
        };
        self.say(
            t,
            "shipping",
            format!(
                ":arrow_forward: <@{}> pressed Ship: committing the CHANGELOG.md entry on `{}`…",
                press.user,
                escape(&branch)
            ),
        );
        let commit = ChangelogCommit {
            branch,
            direct: self.facts.direct,
            version: self.request.version.clone(),
            entry,
            previous_tag: draft.previous_tag.clone(),
            repo_url: draft.repo_url.clone(),
            message: format!(
                "Release {}\n\nCHANGELOG.md entry written by lockstep run {} for Slack user {}.",
                self.tag(),
                self.header.id,
                press.user
            ),
            stamp: ctx.now,
        };
        self.await_work(t, "changelog", Op::CommitChangelog(Box::new(commit)));
    }

    fn on_committed(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::ChangelogCommitted { sha, on_main }) if *on_main || self.facts.direct => {
                self.bot_audit(
                    t,
                    ctx,
                    format!("CHANGELOG.md entry on the production branch at {sha}"),
                );
                self.facts.commit = Some(sha.clone());
                self.start_tagging(t);
            }
            Ok(Outcome::ChangelogCommitted { sha, .. }) => {
                self.bot_audit(
                    t,
                    ctx,
                    format!("CHANGELOG.md entry on {} at {sha}", self.release_branch()),
                );
                self.open_pr(t);
            }
            other => {
                let why = failure_text(other);
                self.fail(
                    t,
                    ctx,
                    format!(
                        "Committing CHANGELOG.md failed: {why} Nothing was tagged or released."
                    ),
                );
            }
        }
    }

    fn open_pr(&mut self, t: &mut Transition) {
        self.state = ShipState::OpeningPr;
        let draft = PullRequestDraft {
            head: self.release_branch(),
            title: text::pr_title(self),
            body: text::pr_body(self, &self.entry()),
            existing: self.facts.pr.as_ref().map(|pr| pr.number),
        };
        self.await_work(t, "pr", Op::OpenPull(draft));
    }

    fn on_pr_step(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::Pull(pr)) => {
                self.bot_audit(
                    t,
                    ctx,
                    format!("release PR #{} ({})", pr.number, pr.head_sha),
                );
                self.facts.pr = Some(pr.clone());
                let number = pr.number;
                self.await_work(
                    t,
                    "labels",
                    Op::LabelPull {
                        number,
                        labels: vec!["release".into()],
                    },
                );
            }
            Ok(Outcome::Done) | Err(_) if self.facts.pr.is_some() => {
                if let Err(failure) = result {
                    let text = failure.text();
                    self.say(
                        t,
                        "pr-warning",
                        format!(
                            ":warning: {} — the release PR is open; add it by hand.",
                            escape(&text)
                        ),
                    );
                }
                if !self.facts.labelled {
                    self.facts.labelled = true;
                    if let Some(member) = self.facts.on_call.clone() {
                        let number = self.pr_number();
                        return self.await_work(
                            t,
                            "review-request",
                            Op::RequestReview {
                                number,
                                login: member.github,
                            },
                        );
                    }
                }
                self.facts.review_requested = true;
                self.pr_ready(t, ctx);
            }
            other => {
                let why = failure_text(other);
                self.fail(
                    t,
                    ctx,
                    format!(
                        "Opening the release PR failed: {why} Branch `{}` holds the entry; nothing was tagged or released.",
                        escape(&self.release_branch())
                    ),
                );
            }
        }
    }

    fn pr_ready(&mut self, t: &mut Transition, ctx: &StepContext) {
        let Some(pr) = self.facts.pr.clone() else {
            return;
        };
        let reviewer = match &self.facts.on_call {
            Some(member) => format!(
                "Review requested from @{} (<@{}>, on call).",
                escape(&member.github),
                member.slack
            ),
            None => "No one is on call: any reviewer with write access may approve it.".into(),
        };
        self.say(
            t,
            "pr-open",
            format!(
                ":mag: Release PR <{}|#{}> is open. {reviewer} lockstep merges it once it is approved on GitHub, then tags {}.",
                pr.url,
                pr.number,
                escape(&self.tag())
            ),
        );
        self.state = ShipState::AwaitingReview;
        self.bump();
        self.facts.poll_ms = 0;
        self.poll_reviews(t, ctx, true);
    }

    fn on_reviews(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        let review: ReviewState = match result {
            Ok(Outcome::Reviews(review)) => review.clone(),
            Err(failure) => {
                tracing::warn!(run = %self.header.id, error = %failure.text(), "reading the release PR's reviews failed; will read again");
                return self.poll_reviews(t, ctx, false);
            }
            Ok(_) => return self.poll_reviews(t, ctx, false),
        };
        if review.merged {
            let sha = review.merge_sha.clone().unwrap_or_default();
            self.say(
                t,
                "merged-elsewhere",
                format!(
                    ":information_source: #{} was merged on GitHub; tagging its merge commit.",
                    self.pr_number()
                ),
            );
            self.facts.commit = Some(sha);
            return self.start_tagging(t);
        }
        if review.state == "closed" {
            let number = self.pr_number();
            return self.end(
                t,
                ctx,
                ShipState::Cancelled,
                format!(
                    "Release PR #{number} was closed on GitHub, so nothing was tagged or released."
                ),
            );
        }
        let mut changed = false;
        for request in review
            .change_requests
            .iter()
            .filter(|r| !self.facts.quoted_reviews.contains(&r.id))
            .cloned()
            .collect::<Vec<_>>()
        {
            self.facts.quoted_reviews.push(request.id);
            changed = true;
            let mut lines = vec![format!(
                ":pencil2: @{} requested changes on release PR #{}:",
                escape(&request.reviewer),
                self.pr_number()
            )];
            if !request.body.trim().is_empty() {
                lines.push(format!(
                    "> {}",
                    escape(request.body.trim()).replace('\n', "\n> ")
                ));
            }
            lines.push("Push the fix to the release branch on GitHub, or Cancel release here and ship again with new notes.".into());
            self.say(t, "changes-requested", lines.join("\n"));
        }
        if let ReviewVerdict::Approved(by) = &review.decision {
            self.facts.approved_by = by.clone();
            self.state = ShipState::Merging;
            self.bump();
            let number = self.pr_number();
            self.bot_audit(
                t,
                ctx,
                format!(
                    "release PR #{number} approved by {} at {}",
                    by.join(", "),
                    review.head_sha
                ),
            );
            return self.await_work(
                t,
                "merge",
                Op::Merge {
                    number,
                    head_sha: review.head_sha.clone(),
                    title: format!("{} (#{number})", text::pr_title(self)),
                },
            );
        }
        self.poll_reviews(t, ctx, changed);
    }

    fn on_merged(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::Merged { sha }) => {
                self.say(
                    t,
                    "merged",
                    format!(
                        ":twisted_rightwards_arrows: Merged release PR #{} as `{}`.",
                        self.pr_number(),
                        short(sha)
                    ),
                );
                self.bot_audit(
                    t,
                    ctx,
                    format!("merged release PR #{} as {sha}", self.pr_number()),
                );
                self.facts.commit = Some(sha.clone());
                self.start_tagging(t);
            }
            other => {
                let why = failure_text(other);
                self.fail(
                    t,
                    ctx,
                    format!(
                        "GitHub would not merge release PR #{}: {why} Nothing was tagged or released; the PR stays open. Once it can be merged, merge it on GitHub and run `ship {}` again: the entry is found and the tag and release are made.",
                        self.pr_number(),
                        escape(&self.tag())
                    ),
                );
            }
        }
    }

    // ---- tag and release ---------------------------------------------------------------

    fn start_tagging(&mut self, t: &mut Transition) {
        self.state = ShipState::Tagging;
        self.facts.attempts = 0;
        self.issue_tag(t, None);
    }

    fn issue_tag(&mut self, t: &mut Transition, at: Option<DateTime<Utc>>) {
        let op = Op::Tag {
            tag: self.tag(),
            sha: self.facts.commit.clone().unwrap_or_default(),
            message: text::tag_message(self),
        };
        match at {
            Some(at) => self.await_work_after(t, "tag", op, at),
            None => self.await_work(t, "tag", op),
        }
    }

    fn issue_release(&mut self, t: &mut Transition, at: Option<DateTime<Utc>>) {
        let op = Op::Release {
            tag: self.tag(),
            name: self.tag(),
            body: self.entry(),
        };
        match at {
            Some(at) => self.await_work_after(t, "release", op, at),
            None => self.await_work(t, "release", op),
        }
    }

    /// When a tag or release attempt failed: the time of the next one, or `None`
    /// when the attempts are spent.
    fn retry_at(&mut self, ctx: &StepContext) -> Option<DateTime<Utc>> {
        self.facts.attempts += 1;
        (self.facts.attempts < MAX_ATTEMPTS).then(|| {
            let base = ctx.config.file.promote.poll_interval_ms.max(1) as i64;
            ctx.now + Duration::milliseconds(base << self.facts.attempts.min(6))
        })
    }

    fn on_tagged(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        let commit = self.facts.commit.clone().unwrap_or_default();
        match result {
            Ok(Outcome::Tagged { object, already }) => {
                self.bot_audit(
                    t,
                    ctx,
                    format!(
                        "tag {} ({object}) on {commit}{}",
                        self.tag(),
                        if *already {
                            ", found made before a restart"
                        } else {
                            ""
                        }
                    ),
                );
                self.facts.tag_object = Some(object.clone());
                self.state = ShipState::Releasing;
                self.facts.attempts = 0;
                self.issue_release(t, None);
            }
            Err(crate::workflow::op::Failure::Refused(why)) if why.contains("already a tag") => {
                self.fail(
                    t,
                    ctx,
                    format!("{why} Nothing was forced and no release was made."),
                );
            }
            other => match self.retry_at(ctx) {
                Some(at) => self.issue_tag(t, Some(at)),
                None => {
                    let why = failure_text(other);
                    self.fail(
                        t,
                        ctx,
                        format!(
                            "CHANGELOG.md is on the production branch at `{}`, but tagging failed {MAX_ATTEMPTS} times: {why} No release was made. Run `ship {}` again: the entry is found, and the tag and release are made once.",
                            short(&commit),
                            escape(&self.tag())
                        ),
                    );
                }
            },
        }
    }

    fn on_released(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::Released { url, already }) => {
                self.bot_audit(
                    t,
                    ctx,
                    format!(
                        "release {} at {url}{}",
                        self.tag(),
                        if *already {
                            " (found made before a restart)"
                        } else {
                            ""
                        }
                    ),
                );
                self.facts.release_url = Some(url.clone());
                self.finish(t, ctx);
            }
            other => match self.retry_at(ctx) {
                Some(at) => self.issue_release(t, Some(at)),
                None => {
                    let why = failure_text(other);
                    self.fail(
                        t,
                        ctx,
                        format!(
                            "Tag `{}` is made, but the GitHub release failed {MAX_ATTEMPTS} times: {why} Make it on GitHub from the tag (Releases → Draft a new release → {}) with the notes above.",
                            escape(&self.tag()),
                            escape(&self.tag())
                        ),
                    );
                }
            },
        }
    }

    /// Shipped: the notes to the release channel, a line in the promotion's thread.
    fn finish(&mut self, t: &mut Transition, ctx: &StepContext) {
        let channel = release_channel(self, ctx);
        let context = self.notes_context();
        let notes_key = self.header.key("notes");
        t.effects.push(Effect::Post(Post {
            key: notes_key,
            channel: channel.clone(),
            thread_of: None,
            message: notes::message(&self.entry(), &context),
            broadcast: false,
            on_refusal: Some(self.header.requester.clone()),
        }));
        let promotion = self.request.promotion.clone();
        let thread_key = self.header.key("promotion-thread");
        t.effects.push(Effect::Post(Post {
            key: thread_key,
            channel: promotion.channel.clone(),
            thread_of: Some(format!("{}/message", promotion.run_id)),
            message: Message::text(notes::thread_summary(&context, &channel)),
            broadcast: false,
            on_refusal: None,
        }));
        let commit = self.facts.commit.clone().unwrap_or_default();
        let outcome = format!(
            "Shipped {} on `{}`{}.",
            escape(&self.tag()),
            short(&commit),
            self.facts
                .release_url
                .as_ref()
                .map(|url| format!(": <{url}|release notes on GitHub>"))
                .unwrap_or_default()
        );
        self.end(t, ctx, ShipState::Shipped, outcome);
    }

    fn notes_context(&self) -> notes::NotesContext {
        let draft = self.facts.draft.as_ref();
        let repo_url = draft.map(|d| d.repo_url.trim_end_matches('/').to_string());
        let previous_tag = draft.and_then(|d| d.previous_tag.clone());
        let compare_url = match (&repo_url, &previous_tag) {
            (Some(repo), Some(previous)) => {
                Some(format!("{repo}/compare/{previous}...{}", self.tag()))
            }
            _ => None,
        };
        let mut approvals = self.request.approvals.clone();
        if let (Some(pr), false) = (&self.facts.pr, self.facts.approved_by.is_empty()) {
            approvals.push(format!(
                "release PR #{} by {}",
                pr.number,
                self.facts
                    .approved_by
                    .iter()
                    .map(|login| format!("@{login}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        notes::NotesContext {
            tag: self.tag(),
            date: self
                .facts
                .release_date
                .unwrap_or(self.request.date)
                .format("%Y-%m-%d")
                .to_string(),
            release_url: self.facts.release_url.clone(),
            compare_url,
            previous_tag,
            approvals,
            shipped_by: self
                .facts
                .decided
                .as_ref()
                .map(|(who, _)| who.clone())
                .unwrap_or_else(|| self.header.requester.user.clone()),
        }
    }

    fn on_closed(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        let who = self
            .facts
            .decided
            .as_ref()
            .map(|(who, _)| format!("<@{who}>"))
            .unwrap_or_else(|| "someone".into());
        let number = self.pr_number();
        let outcome = match result {
            Ok(_) => format!("Cancelled by {who}: release PR #{number} closed; nothing was tagged or released."),
            Err(failure) => format!(
                "Cancelled by {who}; closing release PR #{number} failed ({}), so close it on GitHub. Nothing was tagged or released.",
                escape(&failure.text())
            ),
        };
        self.end(t, ctx, ShipState::Cancelled, outcome);
    }

    fn fail(&mut self, t: &mut Transition, ctx: &StepContext, outcome: String) {
        t.reply(
            &mut self.header,
            "failed",
            Message {
                text: outcome.clone(),
                blocks: vec![Block::Section(format!(":x: {outcome}"))],
            },
            true,
        );
        self.end(t, ctx, ShipState::Failed, outcome);
    }
}

/// Where the notes go: `slack.release_channel`, else where ship was typed.
pub fn release_channel(run: &ShipRun, ctx: &StepContext) -> String {
    ctx.config
        .file
        .slack
        .release_channel
        .clone()
        .unwrap_or_else(|| run.header.requester.channel.clone())
}

fn production_branch(ctx: &StepContext) -> String {
    ctx.config
        .file
        .github
        .as_ref()
        .map(|g| g.production_branch.clone())
        .unwrap_or_else(|| "main".into())
}

fn failure_text(result: &OpResult) -> String {
    match result {
        Err(failure) => escape(&failure.text()),
        Ok(other) => format!("an unexpected answer ({other:?})"),
    }
}
