//! The promotion's transitions: one function per thing that can happen in a state.
//! Pure: it reads the run, the input and the configuration, changes the run, and
//! returns the effects (one work effect at a time, always awaited by key), audit
//! entries and lock changes.

use super::text;
use super::{
    actions, Approval, ChecklistFacts, PromotionRun, PromotionState, SmokeItem, PRODUCTION,
};
use crate::blueprint::render::plural;
use crate::checks::BackupInfo;
use crate::config::DeployMode;
use crate::slack::render::escape;
use crate::store::EnvLock;
use crate::workflow::effect::{Block, ButtonStyle, Message};
use crate::workflow::op::{
    BenchStep, ChecklistRequest, ChecklistResult, DeployState, Failure, Op, OpResult, Outcome,
    PullRequestDraft, ReviewState, ReviewVerdict, SnapshotRequest,
};
use crate::workflow::run::{offer, Input, Press, StepContext, Transition};
use chrono::{DateTime, Duration, Utc};

impl PromotionRun {
    pub fn step(&mut self, input: &Input, ctx: &StepContext) -> Transition {
        let mut t = Transition::default();
        let before = (self.state, self.header.version);
        match input {
            Input::Start => self.start(&mut t, ctx),
            Input::Done { key, result } => {
                if self.facts.waiting.as_deref() != Some(key.as_str()) {
                    // Superseded (a poll after a decision) or already handled.
                    return t;
                }
                self.facts.waiting = None;
                self.on_done(&mut t, ctx, result);
            }
            Input::Press(press) => self.on_press(&mut t, ctx, press),
            // A promotion opens no modal.
            Input::Submit(_) => {}
            Input::Again {
                user,
                command: _,
                reply_to,
            } => self.again(&mut t, ctx, user, reply_to),
        }
        if (self.state, self.header.version) != before {
            t.update_root(&self.header, text::root(self));
        }
        self.keep_lock(&mut t, ctx);
        t
    }

    // ---- helpers ---------------------------------------------------------------------

    /// Issues the run's next work effect and waits for it.
    fn await_work(&mut self, t: &mut Transition, step: &str, op: Op) {
        let key = t.work(&mut self.header, step, op);
        self.facts.waiting = Some(key);
    }

    fn await_work_after(&mut self, t: &mut Transition, step: &str, op: Op, at: DateTime<Utc>) {
        let key = t.work_after(&mut self.header, step, op, Some(at));
        self.facts.waiting = Some(key);
    }

    fn say(&mut self, t: &mut Transition, step: &str, text: String) -> String {
        t.reply(&mut self.header, step, Message::text(text), false)
    }

    /// A thread reply also shown in the channel: failures nobody may miss.
    fn shout(&mut self, t: &mut Transition, step: &str, text: String) -> String {
        t.reply(&mut self.header, step, Message::text(text), true)
    }

    fn audit(&self, t: &mut Transition, at: DateTime<Utc>, actor: &str, detail: String) {
        t.audit(&self.header, at, actor, detail);
    }

    fn bot_audit(&self, t: &mut Transition, ctx: &StepContext, detail: String) {
        t.audit(&self.header, ctx.now, "lockstep", detail);
    }

    /// A new version: every button offered so far goes stale.
    fn bump(&mut self) {
        self.header.version += 1;
    }

    /// Takes, renews or releases the production lock to match the state.
    fn keep_lock(&self, t: &mut Transition, ctx: &StepContext) {
        let ttl = Duration::hours(i64::from(ctx.config.file.promote.lock_ttl_hours));
        let lock = |reason: String, expires_at: Option<DateTime<Utc>>| EnvLock {
            run_id: self.header.id.clone(),
            holder: self.header.requester.user.clone(),
            since: self.header.started_at,
            reason,
            expires_at,
        };
        let change = match self.state {
            PromotionState::Succeeded | PromotionState::Refused | PromotionState::Cancelled => None,
            PromotionState::Failed if self.facts.merge_sha.is_none() => None,
            // Production may be in a bad state: held until an admin says otherwise.
            PromotionState::RolledBack | PromotionState::Failed => Some(lock(
                self.facts
                    .outcome
                    .clone()
                    .unwrap_or_else(|| "production needs attention".into()),
                None,
            )),
            _ => Some(lock(
                format!("promotion {} ({})", self.header.id, self.state.describe()),
                Some(ctx.now + ttl),
            )),
        };
        t.locks.push((self.header.lock_key(PRODUCTION), change));
    }

    fn end(
        &mut self,
        t: &mut Transition,
        ctx: &StepContext,
        state: PromotionState,
        outcome: String,
    ) {
        self.state = state;
        self.facts.ended_at = Some(ctx.now);
        self.facts.outcome = Some(outcome.clone());
        self.bump();
        t.drop_pending_reads = true;
        self.bot_audit(t, ctx, format!("{}: {outcome}", state.name()));
    }

    fn poll_delay(&mut self, ctx: &StepContext, changed: bool) -> DateTime<Utc> {
        let promote = &ctx.config.file.promote;
        self.facts.poll_ms = if changed || self.facts.poll_ms == 0 {
            promote.poll_interval_ms
        } else {
            (self.facts.poll_ms * 2).min(promote.poll_max_interval_ms)
        };
        ctx.now + Duration::milliseconds(self.facts.poll_ms as i64)
    }

    fn poll_reviews(&mut self, t: &mut Transition, ctx: &StepContext, changed: bool) {
        let Some(number) = self.facts.pr.as_ref().map(|pr| pr.number) else {
            return;
        };
        let at = self.poll_delay(ctx, changed);
        self.await_work_after(t, "reviews", Op::ReadReviews { number }, at);
    }

    fn pr_number(&self) -> u64 {
        self.facts.pr.as_ref().map(|pr| pr.number).unwrap_or(0)
    }

    fn approvers_line(&self) -> String {
        format!("an approver other than <@{}>", self.header.requester.user)
    }

    // ---- start and checklist -----------------------------------------------------------

    fn start(&mut self, t: &mut Transition, ctx: &StepContext) {
        t.post_root(&self.header, text::root(self));
        self.audit(
            t,
            ctx.now,
            &self.header.requester.user.clone(),
            format!(
                "started{}",
                self.request
                    .emergency
                    .as_ref()
                    .map(|(reason, _)| format!(" (emergency: {reason})"))
                    .unwrap_or_default()
            ),
        );
        self.run_checklist(t, ":hourglass_flowing_sand: Running the checklist…");
    }

    fn run_checklist(&mut self, t: &mut Transition, note: &str) {
        self.state = PromotionState::Checking;
        let key = t.reply(&mut self.header, "checklist", Message::text(note), false);
        self.facts.checklist_message = Some(key);
        let request = ChecklistRequest {
            only: self.request.only.clone(),
            emergency: self
                .request
                .emergency
                .as_ref()
                .map(|(plain, _)| plain.clone()),
            dry_run: false,
            missing_right: None,
        };
        self.await_work(t, "check", Op::Checklist(request));
    }

    fn on_done(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match self.state {
            PromotionState::Checking => self.on_checklist(t, ctx, result),
            PromotionState::AwaitingEmergencyApproval => self.on_emergency_timer(t, ctx),
            PromotionState::BackingUp => self.on_backup(t, ctx, result),
            PromotionState::Snapshotting => self.on_snapshot(t, ctx, result),
            PromotionState::OpeningPr => self.on_pr_step(t, ctx, result),
            PromotionState::AwaitingReview
            | PromotionState::AwaitingApproval
            | PromotionState::Held => self.on_reviews(t, ctx, result),
            PromotionState::Merging => self.on_merge(t, ctx, result),
            PromotionState::Deploying => self.on_deploy(t, ctx, result),
            PromotionState::RollingBack => self.on_rollback_step(t, ctx, result),
            PromotionState::Smoke => self.on_probes(t, ctx, result),
            PromotionState::Cancelling => self.on_closed(t, ctx, result),
            PromotionState::Succeeded
            | PromotionState::RolledBack
            | PromotionState::Refused
            | PromotionState::Cancelled
            | PromotionState::Failed => {}
        }
    }

    fn on_checklist(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        let result = match result {
            Ok(Outcome::Checklist(result)) => result,
            other => {
                let why = failure_text(other);
                let text = format!(
                    ":x: The checklist could not run: {why}. Nothing was changed; the production lock is released."
                );
                if let Some(key) = self.facts.checklist_message.clone() {
                    t.update(&key, Message::text(text.clone()));
                }
                self.shout(t, "failed", text);
                return self.end(
                    t,
                    ctx,
                    PromotionState::Failed,
                    format!("checklist could not run: {why}"),
                );
            }
        };
        self.remember_checklist(result);
        let headline = if result.passes {
            ":white_check_mark: Checklist: every box passes."
        } else {
            ":no_entry: Checklist: the promotion is refused."
        };
        if let Some(key) = self.facts.checklist_message.clone() {
            t.update(&key, Message::with_code(headline, result.rendered.clone()));
        }
        if !result.passes {
            let failed: Vec<String> = result
                .boxes
                .iter()
                .filter(|b| b.status == crate::checks::BoxStatus::Fail)
                .map(|b| format!("{} ({})", b.box_id, escape(&b.detail)))
                .collect();
            let text = format!(
                ":no_entry: Promotion refused: {}. Nothing was changed; fix the cause and run promote again.",
                failed.join("; ")
            );
            self.shout(t, "refused", text);
            return self.end(
                t,
                ctx,
                PromotionState::Refused,
                format!("refused by the checklist: {}", failed.join("; ")),
            );
        }
        if self.facts.pr.is_none() && self.facts.on_call.is_none() {
            let today = ctx
                .now
                .with_timezone(&ctx.config.file.freeze.timezone)
                .date_naive();
            self.facts.on_call = ctx.config.file.rotation.on_call(today).cloned();
        }
        let overridden = result.boxes.iter().any(|b| {
            b.box_id == crate::checks::BoxId::FreezeGuard
                && b.status == crate::checks::BoxStatus::Warn
        });
        if overridden && self.request.emergency.is_some() && self.facts.emergency_approver.is_none()
        {
            return self.ask_emergency_approval(t, ctx);
        }
        self.after_checks(t, ctx);
    }

    fn remember_checklist(&mut self, result: &ChecklistResult) {
        self.facts.checklist = Some(ChecklistFacts {
            rendered: result.rendered.clone(),
            set: result.set.clone(),
            families: result.families.clone(),
            reviewer: result.reviewer.clone(),
            tester: result.tester.clone(),
            surface: result.surface.clone(),
            audit_excerpt: result.audit_excerpt.clone(),
            moved_from: result.moved_from.clone(),
        });
        // A backup the checklist found young enough; a re-run keeps the one it took.
        if let Some(backup) = &result.backup {
            self.facts.backup = Some(backup.clone());
        }
    }

    fn ask_emergency_approval(&mut self, t: &mut Transition, ctx: &StepContext) {
        self.state = PromotionState::AwaitingEmergencyApproval;
        self.bump();
        let ttl = ctx.config.file.promote.emergency_ttl_minutes;
        let expires = ctx.now + Duration::minutes(i64::from(ttl));
        self.facts.emergency_expires_at = Some(expires);
        let reason = self
            .request
            .emergency
            .as_ref()
            .map(|(_, shown)| shown.clone())
            .unwrap_or_default();
        let message = Message {
            text: "Emergency promotion: a second approver is needed".to_string(),
            blocks: vec![
                Block::Section(format!(
                    ":rotating_light: *Emergency promotion during a freeze.* Reason: {reason}\nIt needs {} to press Approve emergency within {ttl} minutes (by {}), or it expires.",
                    self.approvers_line(),
                    text::when(expires)
                )),
                Block::Buttons(vec![offer(
                    &self.header,
                    actions::APPROVE_EMERGENCY,
                    "Approve emergency",
                    Some(ButtonStyle::Danger),
                )]),
            ],
        };
        let key = t.reply(&mut self.header, "emergency", message, true);
        self.facts.buttons_message = Some(key);
        self.await_work(t, "emergency-timer", Op::Wait { until: expires });
    }

    fn on_emergency_timer(&mut self, t: &mut Transition, ctx: &StepContext) {
        let expired = self
            .facts
            .emergency_expires_at
            .is_none_or(|at| ctx.now >= at);
        if !expired {
            let until = self.facts.emergency_expires_at.unwrap_or(ctx.now);
            return self.await_work(t, "emergency-timer", Op::Wait { until });
        }
        self.clear_buttons(t, "No second approver pressed Approve emergency in time.");
        let ttl = ctx.config.file.promote.emergency_ttl_minutes;
        self.shout(
            t,
            "expired",
            format!(
                ":hourglass: The emergency promotion expired: no second approver within {ttl} minutes. Nothing was changed; the lock is released."
            ),
        );
        self.end(
            t,
            ctx,
            PromotionState::Refused,
            format!("emergency expired without a second approver ({ttl} min)"),
        );
    }

    /// Replaces the message holding the current buttons with a note: its buttons are
    /// no longer an offer.
    fn clear_buttons(&mut self, t: &mut Transition, note: &str) {
        if let Some(key) = self.facts.buttons_message.take() {
            t.update(&key, Message::text(note.to_string()));
        }
    }

    fn after_checks(&mut self, t: &mut Transition, ctx: &StepContext) {
        if self.facts.backup.is_none() {
            self.state = PromotionState::BackingUp;
            self.say(
                t,
                "backup",
                ":floppy_disk: Taking a production backup first (the newest one is too old)…"
                    .into(),
            );
            self.await_work(
                t,
                "backup",
                Op::TakeBackup {
                    not_before: self.header.started_at,
                },
            );
            return;
        }
        self.snapshot(t, ctx);
    }

    fn on_backup(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::Backup(backup)) => {
                self.facts.backup = Some(backup.clone());
                self.say(
                    t,
                    "backup-done",
                    format!(":white_check_mark: Backup `{}` taken.", escape(&backup.id)),
                );
                self.bot_audit(t, ctx, format!("backup {} taken", backup.id));
                self.snapshot(t, ctx);
            }
            other => {
                let why = failure_text(other);
                self.shout(
                    t,
                    "backup-failed",
                    format!(":x: The production backup failed: {why}. Nothing else was done; the lock is released. Fix the bench host and run promote again."),
                );
                self.end(
                    t,
                    ctx,
                    PromotionState::Failed,
                    format!("backup failed: {why}"),
                );
            }
        }
    }

    // ---- snapshot and PR -----------------------------------------------------------------

    fn snapshot(&mut self, t: &mut Transition, ctx: &StepContext) {
        self.state = PromotionState::Snapshotting;
        let existing = self.facts.branch.is_some();
        let branch = self.facts.branch.clone().unwrap_or_else(|| {
            let zone = ctx.config.file.freeze.timezone;
            let local = ctx.now.with_timezone(&zone);
            let sprint = ctx.config.file.sprint.number(local.date_naive());
            format!(
                "promote/sprint-{sprint}-{}-{}",
                self.feature(),
                local.format("%Y%m%d-%H%M")
            )
        });
        self.facts.branch = Some(branch.clone());
        let set = self
            .facts
            .checklist
            .as_ref()
            .map(|c| c.set.clone())
            .unwrap_or_default();
        let (removed, kept): (Vec<_>, Vec<_>) = set.iter().partition(|e| e.change == "removed");
        let moved_from = self
            .facts
            .checklist
            .as_ref()
            .map(|c| c.moved_from.clone())
            .unwrap_or_default();
        let request = SnapshotRequest {
            branch: branch.clone(),
            existing,
            upsert: kept.iter().map(|e| e.path.clone()).collect(),
            delete: removed
                .iter()
                .map(|e| e.path.clone())
                .chain(moved_from)
                .collect(),
            message: format!(
                "Promote {} ({})\n\nlockstep run {} for Slack user {}.",
                self.feature(),
                plural(set.len(), "blueprint"),
                self.header.id,
                self.header.requester.user
            ),
            stamp: ctx.now,
        };
        let verb = if existing { "Updating" } else { "Making" };
        self.say(
            t,
            "snapshot",
            format!(
                ":seedling: {verb} branch `{}` from `{}` with the promotion's files…",
                escape(&branch),
                ctx.config
                    .file
                    .github
                    .as_ref()
                    .map(|g| g.production_branch.as_str())
                    .unwrap_or("main")
            ),
        );
        self.await_work(t, "snapshot", Op::Snapshot(request));
    }

    fn on_snapshot(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        let snapshot = match result {
            Ok(Outcome::Snapshot(snapshot)) => snapshot.clone(),
            other => {
                let why = failure_text(other);
                self.shout(
                    t,
                    "snapshot-failed",
                    format!(":x: Making the promotion branch failed: {why}. No PR was opened and production is unchanged; the lock is released."),
                );
                return self.end(
                    t,
                    ctx,
                    PromotionState::Failed,
                    format!("branch failed: {why}"),
                );
            }
        };
        self.bot_audit(
            t,
            ctx,
            format!(
                "branch {} at {} ({} files)",
                snapshot.branch, snapshot.sha, snapshot.files
            ),
        );
        self.facts.snapshot = Some(snapshot);
        self.open_pr(t, ctx);
    }

    fn open_pr(&mut self, t: &mut Transition, ctx: &StepContext) {
        self.state = PromotionState::OpeningPr;
        let zone = ctx.config.file.freeze.timezone;
        let sprint = ctx
            .config
            .file
            .sprint
            .number(self.header.started_at.with_timezone(&zone).date_naive());
        let (staging, main) = ctx
            .config
            .file
            .github
            .as_ref()
            .map(|g| (g.staging_branch.clone(), g.production_branch.clone()))
            .unwrap_or_else(|| ("staging".into(), "main".into()));
        let draft = PullRequestDraft {
            head: self.facts.branch.clone().unwrap_or_default(),
            title: text::pr_title(self, sprint),
            body: text::pr_body(self, &self.restore_command(ctx), &staging, &main),
            existing: self.facts.pr.as_ref().map(|pr| pr.number),
        };
        self.await_work(t, "pr", Op::OpenPull(draft));
    }

    /// The exact command that restores the run's backup on the bench host.
    fn restore_command(&self, ctx: &StepContext) -> String {
        let site = ctx
            .config
            .file
            .sites
            .iter()
            .find(|(_, s)| s.role == crate::config::SiteRole::Production)
            .map(|(name, s)| s.frappe_site_name.clone().unwrap_or_else(|| name.clone()))
            .unwrap_or_else(|| "prod".into());
        match &self.facts.backup {
            Some(backup) => format!(
                "bench --site {site} restore {}",
                backup_database_path(backup, &site)
            ),
            None => format!("bench --site {site} restore <backup>"),
        }
    }

    fn on_pr_step(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::Pull(pr)) => {
                let first = self.facts.pr.is_none();
                self.facts.pr = Some(pr.clone());
                self.bot_audit(
                    t,
                    ctx,
                    format!("pull request #{} ({})", pr.number, pr.head_sha),
                );
                if first || !self.facts.labelled {
                    let mut labels = vec!["promotion".to_string()];
                    if self.request.emergency.is_some() {
                        labels.push("emergency".to_string());
                    }
                    return self.await_work(
                        t,
                        "labels",
                        Op::LabelPull {
                            number: pr.number,
                            labels,
                        },
                    );
                }
                self.ask_review(t, ctx);
            }
            Ok(Outcome::Done) if !self.facts.labelled => {
                self.facts.labelled = true;
                self.ask_review(t, ctx);
            }
            Ok(Outcome::Done) => self.pr_ready(t, ctx),
            Err(failure) if self.facts.pr.is_some() => {
                // Labels or the review request failed: the PR stands; say so and go on.
                self.say(
                    t,
                    "pr-warning",
                    format!(
                        ":warning: {} — the PR is open; add it by hand.",
                        failure.text()
                    ),
                );
                if !self.facts.labelled {
                    self.facts.labelled = true;
                    return self.ask_review(t, ctx);
                }
                self.pr_ready(t, ctx);
            }
            other => {
                let why = failure_text(other);
                let branch = self.facts.branch.clone().unwrap_or_default();
                self.shout(
                    t,
                    "pr-failed",
                    format!(":x: Opening the pull request failed: {why}. Branch `{}` was made; no PR is open and production is unchanged; the lock is released.", escape(&branch)),
                );
                self.end(t, ctx, PromotionState::Failed, format!("PR failed: {why}"));
            }
        }
    }

    fn ask_review(&mut self, t: &mut Transition, ctx: &StepContext) {
        match self.facts.on_call.clone() {
            Some(member) => self.await_work(
                t,
                "review-request",
                Op::RequestReview {
                    number: self.pr_number(),
                    login: member.github,
                },
            ),
            None => self.pr_ready(t, ctx),
        }
    }

    fn pr_ready(&mut self, t: &mut Transition, ctx: &StepContext) {
        let pr = self
            .facts
            .pr
            .clone()
            .unwrap_or_else(|| crate::workflow::op::PullRef {
                number: 0,
                url: String::new(),
                node_id: String::new(),
                head_sha: String::new(),
            });
        let reviewer = match &self.facts.on_call {
            Some(member) => format!(
                "Review requested from @{} (<@{}>, on call).",
                escape(&member.github),
                member.slack
            ),
            None => "No one is on call: any reviewer with write access may approve it.".to_string(),
        };
        self.say(
            t,
            "pr-open",
            format!(
                ":mag: Pull request <{}|#{}> is open. {reviewer} When it is approved on GitHub, {} can press Merge & deploy here.",
                pr.url,
                pr.number,
                self.approvers_line()
            ),
        );
        // No bump: nothing was offered or decided, so the root's Cancel stays good.
        self.state = PromotionState::AwaitingReview;
        self.facts.poll_ms = 0;
        self.poll_reviews(t, ctx, true);
    }

    // ---- review ------------------------------------------------------------------------------

    fn on_reviews(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        let review = match result {
            Ok(Outcome::Reviews(review)) => review.clone(),
            Err(failure) => {
                // A failed read is not a decision: say so once in the log and keep polling.
                tracing::warn!(run = %self.header.id, error = %failure.text(), "reading the PR's reviews failed; will read again");
                return self.poll_reviews(t, ctx, false);
            }
            Ok(_) => return self.poll_reviews(t, ctx, false),
        };
        if review.merged {
            self.facts.merge_sha = review.merge_sha.clone();
            self.clear_buttons(t, "The PR was merged on GitHub.");
            self.say(
                t,
                "merged-elsewhere",
                format!(
                    ":information_source: #{} was merged on GitHub (not from here); watching its deploy.",
                    self.pr_number()
                ),
            );
            return self.start_deploy(t, ctx);
        }
        if review.state == "closed" {
            self.clear_buttons(t, "The PR was closed on GitHub.");
            self.shout(
                t,
                "closed-elsewhere",
                format!(":heavy_multiplication_x: #{} was closed on GitHub, so the promotion is cancelled. Production is unchanged; the lock is released.", self.pr_number()),
            );
            return self.end(
                t,
                ctx,
                PromotionState::Cancelled,
                "PR closed on GitHub".into(),
            );
        }
        let mut changed = false;
        if let Some(pr) = self.facts.pr.as_mut() {
            if pr.head_sha != review.head_sha {
                pr.head_sha = review.head_sha.clone();
                changed = true;
                if self.facts.approval.take().is_some() {
                    self.clear_buttons(t, "A new push voided the approval these buttons were for.");
                    self.say(
                        t,
                        "approval-voided",
                        format!(
                            ":warning: A new push to the PR (head `{}`) voids the approval: it needs a new review on GitHub.",
                            short(&review.head_sha)
                        ),
                    );
                    self.bot_audit(
                        t,
                        ctx,
                        format!("approval voided by push {}", review.head_sha),
                    );
                    if self.state == PromotionState::AwaitingApproval {
                        self.state = PromotionState::AwaitingReview;
                    }
                    self.bump();
                }
            }
        }
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
                ":pencil2: @{} requested changes on #{}:",
                escape(&request.reviewer),
                self.pr_number()
            )];
            if !request.body.trim().is_empty() {
                lines.push(format!(
                    "> {}",
                    escape(request.body.trim()).replace('\n', "\n> ")
                ));
            }
            lines.extend(request.comments.iter().map(|c| format!("• {}", escape(c))));
            lines.push(format!(
                "Fix it on staging, `pull`, then run `promote{}` again: the same branch and PR are updated.",
                self.request
                    .feature
                    .as_ref()
                    .map(|f| format!(" --feature={f}"))
                    .unwrap_or_default()
            ));
            self.say(t, "changes-requested", lines.join("\n"));
            self.bot_audit(t, ctx, format!("changes requested by {}", request.reviewer));
        }
        if let (ReviewVerdict::Approved(by), PromotionState::AwaitingReview) =
            (&review.decision, self.state)
        {
            return self.offer_merge(t, ctx, by.clone(), &review);
        }
        self.poll_reviews(t, ctx, changed);
    }

    fn offer_merge(
        &mut self,
        t: &mut Transition,
        ctx: &StepContext,
        by: Vec<String>,
        review: &ReviewState,
    ) {
        let backup_id = self
            .facts
            .backup
            .as_ref()
            .map(|b| b.id.clone())
            .unwrap_or_default();
        self.facts.approval = Some(Approval {
            by: by.clone(),
            head_sha: review.head_sha.clone(),
            backup_id: backup_id.clone(),
        });
        self.state = PromotionState::AwaitingApproval;
        self.bump();
        let who = by
            .iter()
            .map(|login| format!("@{}", escape(login)))
            .collect::<Vec<_>>()
            .join(", ");
        let message = Message {
            text: format!("#{} is approved: Merge & deploy?", self.pr_number()),
            blocks: vec![
                Block::Section(format!(
                    ":white_check_mark: #{} is approved on GitHub by {who} at head `{}`. Merging deploys it to production (rollback backup `{}`). Only {} may press.",
                    self.pr_number(),
                    short(&review.head_sha),
                    escape(&backup_id),
                    self.approvers_line()
                )),
                Block::Buttons(vec![
                    offer(&self.header, actions::MERGE, "Merge & deploy", Some(ButtonStyle::Primary)),
                    offer(&self.header, actions::HOLD, "Hold", None),
                ]),
            ],
        };
        self.clear_buttons(t, "Superseded by a newer offer below.");
        let key = t.reply(&mut self.header, "approved", message, false);
        self.facts.buttons_message = Some(key);
        self.bot_audit(
            t,
            ctx,
            format!(
                "approved on GitHub by {} at {}",
                by.join(", "),
                review.head_sha
            ),
        );
        // Keep reading: a new push must void the approval before anyone merges it.
        self.poll_reviews(t, ctx, true);
    }

    // ---- buttons ---------------------------------------------------------------------------

    fn on_press(&mut self, t: &mut Transition, ctx: &StepContext, press: &Press) {
        let action = press.action.as_str();
        if let Some(n) = action
            .strip_prefix(actions::SMOKE_OK)
            .map(|n| (n, true))
            .or_else(|| action.strip_prefix(actions::SMOKE_BAD).map(|n| (n, false)))
        {
            return self.on_smoke_tick(t, ctx, press, n.0, n.1);
        }
        if press.version != self.header.version {
            return self.refuse_stale(t, press);
        }
        let requester = self.header.requester.user.clone();
        let is_requester = press.user == requester;
        match (self.state, action) {
            (state, actions::CANCEL) if state.is_before_merge() => {
                if !is_requester && !press.roles.admin {
                    return self.refuse(t, press, format!("Only <@{requester}> (who started it) or an admin may cancel this promotion."));
                }
                self.record_decision(t, press, "Cancel");
                self.cancel(t, ctx, &press.user);
            }
            (PromotionState::AwaitingEmergencyApproval, actions::APPROVE_EMERGENCY) => {
                if !press.roles.approver || is_requester {
                    return self.refuse(
                        t,
                        press,
                        format!(
                            "An emergency needs a second person: {} may approve it.",
                            self.approvers_line()
                        ),
                    );
                }
                self.record_decision(t, press, "Approve emergency");
                self.facts.emergency_approver = Some(press.user.clone());
                self.clear_buttons(t, &format!("Emergency approved by <@{}>.", press.user));
                t.drop_pending_reads = true;
                self.say(
                    t,
                    "emergency-approved",
                    format!(
                        ":white_check_mark: <@{}> approved the emergency promotion.",
                        press.user
                    ),
                );
                self.bump();
                self.after_checks(t, ctx);
            }
            (PromotionState::AwaitingApproval, actions::MERGE) => {
                if let Some(refusal) = self.approver_refusal(press, is_requester) {
                    return self.refuse(t, press, refusal);
                }
                let Some(approval) = self.facts.approval.clone() else {
                    return self.refuse_stale(t, press);
                };
                self.record_decision(t, press, "Merge & deploy");
                self.clear_buttons(t, &format!("<@{}> pressed Merge & deploy.", press.user));
                t.drop_pending_reads = true;
                self.state = PromotionState::Merging;
                self.bump();
                let title = format!("Merge promotion #{} ({})", self.pr_number(), self.header.id);
                self.say(t, "merging", format!(":twisted_rightwards_arrows: <@{}> pressed Merge & deploy: merging #{} at head `{}`…", press.user, self.pr_number(), short(&approval.head_sha)));
                self.await_work(
                    t,
                    "merge",
                    Op::Merge {
                        number: self.pr_number(),
                        head_sha: approval.head_sha,
                        title,
                    },
                );
            }
            (PromotionState::AwaitingApproval, actions::HOLD) => {
                if let Some(refusal) = self.approver_refusal(press, is_requester) {
                    return self.refuse(t, press, refusal);
                }
                self.record_decision(t, press, "Hold");
                self.state = PromotionState::Held;
                self.bump();
                self.clear_buttons(t, &format!("<@{}> put the promotion on hold.", press.user));
                let message = Message {
                    text: "On hold".into(),
                    blocks: vec![
                        Block::Section(format!(":double_vertical_bar: <@{}> put the promotion on hold. Nothing is merged until an approver presses Resume.", press.user)),
                        Block::Buttons(vec![offer(&self.header, actions::RESUME, "Resume", None)]),
                    ],
                };
                let key = t.reply(&mut self.header, "held", message, false);
                self.facts.buttons_message = Some(key);
            }
            (PromotionState::Held, actions::RESUME) => {
                if let Some(refusal) = self.approver_refusal(press, is_requester) {
                    return self.refuse(t, press, refusal);
                }
                self.record_decision(t, press, "Resume");
                self.clear_buttons(t, &format!("<@{}> resumed the promotion.", press.user));
                self.facts.approval = None;
                self.state = PromotionState::AwaitingReview;
                self.bump();
                t.drop_pending_reads = true;
                self.say(
                    t,
                    "resumed",
                    format!(
                        ":arrow_forward: <@{}> resumed the promotion; reading the review again.",
                        press.user
                    ),
                );
                self.facts.waiting = None;
                self.facts.poll_ms = 0;
                self.poll_reviews(t, ctx, true);
            }
            (PromotionState::Smoke, actions::ROLL_BACK) => {
                if !(press.roles.approver || press.roles.admin || is_requester) {
                    return self.refuse(t, press, "Only the person who started the promotion, an approver or an admin may roll production back.".into());
                }
                self.record_decision(t, press, "Roll back");
                self.clear_buttons(t, &format!("<@{}> chose to roll back.", press.user));
                t.drop_pending_reads = true;
                self.roll_back(
                    t,
                    ctx,
                    format!("rollback asked by <@{}> after the smoke test", press.user),
                );
            }
            _ => self.refuse_stale(t, press),
        }
    }

    /// Why `press` may not decide a merge, hold or resume, if it may not.
    fn approver_refusal(&self, press: &Press, is_requester: bool) -> Option<String> {
        if is_requester {
            Some("You started this promotion, so you cannot approve its merge: another approver must press.".into())
        } else if !press.roles.approver {
            Some("Only approvers (access.approvers) may press this.".into())
        } else {
            None
        }
    }

    fn record_decision(&mut self, t: &mut Transition, press: &Press, what: &str) {
        self.facts.decided = Some((press.user.clone(), what.to_string()));
        self.audit(t, press.at, &press.user, format!("pressed {what}"));
    }

    fn refuse(&mut self, t: &mut Transition, press: &Press, why: String) {
        t.refuse_press(&self.header, press, &why);
    }

    fn refuse_stale(&mut self, t: &mut Transition, press: &Press) {
        t.tell_stale_press(
            press,
            self.facts.decided.as_ref(),
            format!(
                "That button is from an earlier step of this promotion (now: {}), so your press did nothing.",
                self.state.describe()
            ),
        );
    }

    fn cancel(&mut self, t: &mut Transition, ctx: &StepContext, by: &str) {
        self.clear_buttons(t, &format!("Cancelled by <@{by}>."));
        t.drop_pending_reads = true;
        match self.facts.pr.as_ref().map(|pr| pr.number) {
            Some(number) => {
                self.state = PromotionState::Cancelling;
                self.bump();
                self.say(t, "cancelling", format!(":heavy_multiplication_x: <@{by}> cancelled the promotion: closing #{number}…"));
                self.await_work(t, "close", Op::ClosePull { number });
            }
            None => {
                self.say(t, "cancelled", format!(":heavy_multiplication_x: <@{by}> cancelled the promotion. Nothing was changed; the lock is released."));
                self.end(
                    t,
                    ctx,
                    PromotionState::Cancelled,
                    format!("cancelled by {by}"),
                );
            }
        }
    }

    fn on_closed(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        let by = self
            .facts
            .decided
            .as_ref()
            .map(|(who, _)| who.clone())
            .unwrap_or_default();
        let note = match result {
            Ok(_) => format!("#{} is closed; production is unchanged and the lock is released.", self.pr_number()),
            Err(failure) => format!("closing #{} failed ({}); close it by hand. Production is unchanged; the lock is released.", self.pr_number(), failure.text()),
        };
        self.say(
            t,
            "cancelled",
            format!(":heavy_multiplication_x: Cancelled by <@{by}>: {note}"),
        );
        self.end(
            t,
            ctx,
            PromotionState::Cancelled,
            format!("cancelled by {by}"),
        );
    }

    /// `promote` again for this run's feature while it waits for review: check again
    /// and update the same branch and PR. Anything else is refused, naming the run.
    fn again(
        &mut self,
        t: &mut Transition,
        ctx: &StepContext,
        user: &str,
        reply_to: &crate::workflow::effect::Requester,
    ) {
        let updatable = matches!(
            self.state,
            PromotionState::AwaitingReview
                | PromotionState::AwaitingApproval
                | PromotionState::Held
        );
        if !updatable {
            t.tell(
                Some(reply_to),
                Message::text(format!(
                    ":no_entry: Promotion `{}` by <@{}> is {} and holds production; wait for it to end (or, if it is stuck, an admin can `unlock prod`). Nothing was changed.",
                    self.header.id,
                    self.header.requester.user,
                    self.state.describe()
                )),
            );
            return;
        }
        self.audit(
            t,
            ctx.now,
            user,
            "re-ran promote: checking again to update the branch and PR".into(),
        );
        self.clear_buttons(t, "Superseded: promote was run again.");
        self.facts.approval = None;
        self.facts.decided = None;
        t.drop_pending_reads = true;
        self.bump();
        self.say(t, "again", format!(":repeat: <@{user}> ran promote again: checking again, then updating branch `{}` and #{}.", escape(self.facts.branch.as_deref().unwrap_or("")), self.pr_number()));
        self.run_checklist(t, ":hourglass_flowing_sand: Running the checklist again…");
    }

    // ---- merge and deploy ---------------------------------------------------------------

    fn on_merge(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::Merged { sha }) => {
                self.facts.merge_sha = Some(sha.clone());
                self.bot_audit(t, ctx, format!("merged #{} as {sha}", self.pr_number()));
                self.say(
                    t,
                    "merged",
                    format!(
                        ":white_check_mark: Merged #{} as `{}`.",
                        self.pr_number(),
                        short(sha)
                    ),
                );
                self.start_deploy(t, ctx);
            }
            Err(Failure::MergeRefused { status, text }) => {
                let why = match status {
                    405 => "branch protection or GitHub's merge checks refused it; I never bypass protection",
                    409 => "the PR's head moved after it was approved",
                    _ => "GitHub refused it",
                };
                self.shout(
                    t,
                    "merge-refused",
                    format!(":no_entry: The merge of #{} was refused ({status}): {why}. GitHub said: {}. Nothing was merged; waiting for the review to change.", self.pr_number(), escape(text)),
                );
                self.bot_audit(t, ctx, format!("merge refused ({status}): {text}"));
                self.facts.approval = None;
                self.state = PromotionState::AwaitingReview;
                self.bump();
                self.facts.poll_ms = 0;
                self.poll_reviews(t, ctx, true);
            }
            other => {
                // Unknown whether it merged: read the PR before anything else.
                let why = failure_text(other);
                self.say(t, "merge-unknown", format!(":warning: The merge call failed ({why}); reading the PR to see whether it merged."));
                self.facts.approval = None;
                self.state = PromotionState::AwaitingReview;
                self.bump();
                self.facts.poll_ms = 0;
                self.poll_reviews(t, ctx, true);
            }
        }
    }

    fn start_deploy(&mut self, t: &mut Transition, ctx: &StepContext) {
        self.state = PromotionState::Deploying;
        self.bump();
        let deploy = &ctx.config.file.deploy;
        self.facts.deploy.deadline =
            Some(ctx.now + Duration::minutes(i64::from(deploy.timeout_minutes)));
        self.facts.poll_ms = 0;
        match deploy.mode {
            DeployMode::Ci => {
                self.say(
                    t,
                    "deploy",
                    ":gear: Watching the deploy on CI (backup → migrate → restart)…".into(),
                );
                let merge_sha = self.facts.merge_sha.clone().unwrap_or_default();
                let at = self.poll_delay(ctx, true);
                self.await_work_after(t, "deploy", Op::ReadDeploy { merge_sha }, at);
            }
            DeployMode::Bot => {
                self.say(
                    t,
                    "deploy",
                    ":gear: Deploying through the bench runner (backup → migrate → restart)…"
                        .into(),
                );
                self.await_work(
                    t,
                    "bench",
                    Op::BenchStep {
                        step: BenchStep::Backup,
                    },
                );
            }
        }
    }

    fn on_deploy(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::Deploy(deploy)) => self.on_ci_state(t, ctx, deploy),
            Ok(Outcome::BenchStep { detail }) => {
                let step = BenchStep::ALL[self.facts.deploy.bot_steps_done.min(2)];
                self.facts.deploy.bot_steps_done += 1;
                self.say(
                    t,
                    "deploy-step",
                    format!("✓ {} — {}", step.name(), escape(detail)),
                );
                self.bot_audit(t, ctx, format!("deploy step {} done", step.name()));
                match BenchStep::ALL.get(self.facts.deploy.bot_steps_done) {
                    Some(next) => self.await_work(t, "bench", Op::BenchStep { step: *next }),
                    None => self.start_smoke(t, ctx),
                }
            }
            Ok(Outcome::Done) => {
                // The deploy was cancelled after its deadline.
                self.roll_back(
                    t,
                    ctx,
                    "the deploy did not finish in time (cancelled)".into(),
                );
            }
            Err(failure) if ctx.config.file.deploy.mode == DeployMode::Bot => {
                let step = BenchStep::ALL[self.facts.deploy.bot_steps_done.min(2)];
                self.say(
                    t,
                    "deploy-step",
                    format!("✗ {} — {}", step.name(), escape(&failure.text())),
                );
                self.roll_back(
                    t,
                    ctx,
                    format!(
                        "the deploy's {} step failed: {}",
                        step.name(),
                        failure.text()
                    ),
                );
            }
            Err(failure) => {
                tracing::warn!(run = %self.header.id, error = %failure.text(), "reading the deploy failed; will read again");
                self.poll_deploy(t, ctx, false);
            }
            Ok(_) => self.poll_deploy(t, ctx, false),
        }
    }

    fn on_ci_state(&mut self, t: &mut Transition, ctx: &StepContext, deploy: &DeployState) {
        if deploy.run_id.is_some() {
            self.facts.deploy.run_id = deploy.run_id;
            self.facts.deploy.url = deploy.url.clone();
        }
        let mut changed = false;
        for step in &deploy.steps {
            let Some(conclusion) = &step.conclusion else {
                continue;
            };
            if self.facts.deploy.reported.contains(&step.name) {
                continue;
            }
            self.facts.deploy.reported.push(step.name.clone());
            changed = true;
            let mark = if conclusion == "success" {
                "✓"
            } else if conclusion == "skipped" {
                "–"
            } else {
                "✗"
            };
            self.say(
                t,
                "deploy-step",
                format!("{mark} {} — {conclusion}", escape(&step.name)),
            );
        }
        match deploy.conclusion.as_deref() {
            Some("success") => {
                self.bot_audit(t, ctx, "deploy succeeded".into());
                self.start_smoke(t, ctx);
            }
            Some(conclusion) => {
                let failed = deploy
                    .steps
                    .iter()
                    .find(|s| {
                        s.conclusion
                            .as_deref()
                            .is_some_and(|c| c != "success" && c != "skipped")
                    })
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| "a".into());
                let detail = deploy
                    .failure
                    .clone()
                    .unwrap_or_else(|| conclusion.to_string());
                self.roll_back(
                    t,
                    ctx,
                    format!("the deploy's {failed} step ended {conclusion}: {detail}"),
                );
            }
            None => {
                let late = self.facts.deploy.deadline.is_some_and(|d| ctx.now >= d);
                match (late, self.facts.deploy.run_id) {
                    (true, Some(run_id)) => {
                        self.say(t, "deploy-late", format!(":hourglass: The deploy is past its {}-minute deadline: cancelling it.", ctx.config.file.deploy.timeout_minutes));
                        self.await_work(t, "cancel-deploy", Op::CancelDeploy { run_id });
                    }
                    (true, None) => self.roll_back(
                        t,
                        ctx,
                        "no deploy run started for the merge commit before the deadline".into(),
                    ),
                    (false, _) => self.poll_deploy(t, ctx, changed),
                }
            }
        }
    }

    fn poll_deploy(&mut self, t: &mut Transition, ctx: &StepContext, changed: bool) {
        let merge_sha = self.facts.merge_sha.clone().unwrap_or_default();
        let at = self.poll_delay(ctx, changed);
        self.await_work_after(t, "deploy", Op::ReadDeploy { merge_sha }, at);
    }

    // ---- rollback --------------------------------------------------------------------------

    fn roll_back(&mut self, t: &mut Transition, ctx: &StepContext, reason: String) {
        self.state = PromotionState::RollingBack;
        self.bump();
        self.facts.rollback.reason = Some(reason.clone());
        self.facts.rollback.started_at = Some(ctx.now);
        let on_call = self.on_call_mention();
        let backup = self.facts.backup.clone();
        self.bot_audit(t, ctx, format!("rolling back: {reason}"));
        match backup {
            Some(backup) => {
                self.shout(
                    t,
                    "rollback",
                    format!(":rotating_light: {}: {}. Rolling back: restoring production from backup `{}` and opening a revert PR. {on_call}", "Deploy failed", escape(&reason), escape(&backup.id)),
                );
                self.await_work(t, "restore", Op::Restore { backup });
            }
            None => {
                self.facts.rollback.restore = Some(Err("no backup was recorded".into()));
                self.shout(
                    t,
                    "rollback",
                    format!(":rotating_light: Deploy failed: {}. There is no backup to restore; opening a revert PR. {on_call}", escape(&reason)),
                );
                self.revert(t);
            }
        }
    }

    fn on_call_mention(&self) -> String {
        self.facts
            .on_call
            .as_ref()
            .map(|m| format!("<@{}> (on call), please look.", m.slack))
            .unwrap_or_default()
    }

    fn revert(&mut self, t: &mut Transition) {
        let pr = self
            .facts
            .pr
            .clone()
            .unwrap_or_else(|| crate::workflow::op::PullRef {
                number: 0,
                url: String::new(),
                node_id: String::new(),
                head_sha: String::new(),
            });
        let reason = self.facts.rollback.reason.clone().unwrap_or_default();
        self.await_work(
            t,
            "revert",
            Op::RevertPull {
                number: pr.number,
                node_id: pr.node_id,
                title: format!("Revert promotion #{} ({})", pr.number, self.header.id),
                body: format!(
                    "Reverts #{}.\n\nlockstep rolled production back after promotion #{} ({}): {}.\n\nProduction was restored from backup `{}`. Merge this to bring `main` back in line with production.",
                    pr.number,
                    pr.number,
                    self.header.id,
                    reason.replace('<', "&lt;").replace('>', "&gt;"),
                    self.facts.backup.as_ref().map(|b| b.id.as_str()).unwrap_or("(none)")
                ),
            },
        );
    }

    fn on_rollback_step(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        let on_call = self.on_call_mention();
        if self.facts.rollback.restore.is_none() {
            match result {
                Ok(Outcome::Restored { detail }) => {
                    self.facts.rollback.restore = Some(Ok(detail.clone()));
                    self.facts.rollback.restored_at = Some(ctx.now);
                    self.bot_audit(t, ctx, format!("restored production: {detail}"));
                    self.say(
                        t,
                        "restored",
                        format!(
                            ":white_check_mark: Production restored from backup: {}.",
                            escape(detail)
                        ),
                    );
                }
                other => {
                    let why = failure_text(other);
                    self.facts.rollback.restore = Some(Err(why.clone()));
                    self.bot_audit(t, ctx, format!("RESTORE FAILED: {why}"));
                    self.shout(
                        t,
                        "restore-failed",
                        format!(":rotating_light::rotating_light: <!here> Restoring production from backup FAILED: {}. I will not retry it blindly: production may be half-migrated. Restore by hand with `{}` on the bench host. {on_call}", escape(&why), self.restore_command(ctx)),
                    );
                }
            }
            return self.revert(t);
        }
        match result {
            Ok(Outcome::Reverted(revert)) => {
                self.facts.rollback.revert = Some(revert.clone());
                self.say(t, "reverted", format!(":leftwards_arrow_with_hook: Opened revert PR <{}|#{}>: merge it to bring `main` back in line with production.", revert.url, revert.number));
                self.bot_audit(t, ctx, format!("revert PR #{}", revert.number));
            }
            other => {
                let why = failure_text(other);
                self.facts.rollback.revert_failed = Some(why.clone());
                self.shout(t, "revert-failed", format!(":warning: Opening the revert PR failed: {}. Revert #{} on GitHub by hand. {on_call}", escape(&why), self.pr_number()));
            }
        }
        let restored = matches!(self.facts.rollback.restore, Some(Ok(_)));
        let reason = self.facts.rollback.reason.clone().unwrap_or_default();
        if restored {
            self.shout(t, "rolled-back", format!(":rotating_light: Promotion rolled back: {}. Production is back on backup `{}`; `prod` stays locked until an admin runs `unlock prod --reason=\"…\"`. {on_call}", escape(&reason), escape(&self.facts.backup.as_ref().map(|b| b.id.clone()).unwrap_or_default())));
            self.end(
                t,
                ctx,
                PromotionState::RolledBack,
                format!("rolled back: {reason}"),
            );
        } else {
            self.end(
                t,
                ctx,
                PromotionState::Failed,
                format!("deploy failed and the restore failed: {reason}"),
            );
        }
    }

    // ---- smoke test ----------------------------------------------------------------------

    fn start_smoke(&mut self, t: &mut Transition, ctx: &StepContext) {
        self.state = PromotionState::Smoke;
        self.bump();
        self.facts.deploy.deployed_at = Some(ctx.now);
        let set = self
            .facts
            .checklist
            .as_ref()
            .map(|c| c.set.clone())
            .unwrap_or_default();
        self.facts.smoke.items = text::smoke_items(&set)
            .into_iter()
            .map(|label| SmokeItem {
                label,
                verdict: None,
            })
            .collect();
        self.facts.smoke.offered_at = self.header.version;
        let message = text::smoke_message(self);
        let key = t.reply(&mut self.header, "smoke", message, false);
        self.facts.smoke.message = Some(key);
        let surface = self
            .facts
            .checklist
            .as_ref()
            .map(|c| c.surface.clone())
            .unwrap_or_default();
        let _ = ctx;
        self.await_work(t, "probes", Op::Smoke { surface });
    }

    fn on_probes(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        match result {
            Ok(Outcome::Smoke(probes)) => self.facts.smoke.probes = probes.clone(),
            other => {
                self.facts.smoke.probes = vec![crate::workflow::op::Probe {
                    what: "automatic probes".into(),
                    ok: false,
                    detail: failure_text(other),
                }]
            }
        }
        let failed: Vec<String> = self
            .facts
            .smoke
            .probes
            .iter()
            .filter(|p| !p.ok)
            .map(|p| p.what.clone())
            .collect();
        self.refresh_smoke(t);
        self.bot_audit(
            t,
            ctx,
            format!(
                "smoke probes: {} failed of {}",
                failed.len(),
                self.facts.smoke.probes.len()
            ),
        );
        if !failed.is_empty() {
            self.offer_roll_back(
                t,
                format!(
                    "Automatic probes failed on production: {}.",
                    failed.join(", ")
                ),
            );
        }
        self.maybe_succeed(t, ctx);
    }

    fn refresh_smoke(&mut self, t: &mut Transition) {
        if let Some(key) = self.facts.smoke.message.clone() {
            t.update(&key, text::smoke_message(self));
        }
    }

    fn offer_roll_back(&mut self, t: &mut Transition, why: String) {
        let message = Message {
            text: "Roll back production?".into(),
            blocks: vec![
                Block::Section(format!(":warning: {} Roll production back to backup `{}`? The person who started the promotion, an approver or an admin may press.", escape(&why), escape(&self.facts.backup.as_ref().map(|b| b.id.clone()).unwrap_or_default()))),
                Block::Buttons(vec![offer(&self.header, actions::ROLL_BACK, "Roll back production", Some(ButtonStyle::Danger))]),
            ],
        };
        self.clear_buttons(t, "Superseded by a newer offer below.");
        let key = t.reply(&mut self.header, "offer-rollback", message, true);
        self.facts.buttons_message = Some(key);
    }

    fn on_smoke_tick(
        &mut self,
        t: &mut Transition,
        ctx: &StepContext,
        press: &Press,
        n: &str,
        works: bool,
    ) {
        let index = n.parse::<usize>().ok();
        let live =
            self.state == PromotionState::Smoke && press.version == self.facts.smoke.offered_at;
        let Some(item) = index
            .filter(|_| live)
            .and_then(|i| self.facts.smoke.items.get(i))
        else {
            return self.refuse_stale(t, press);
        };
        if let Some((_, who)) = &item.verdict {
            let text = format!("<@{who}> already ticked that item, so your press did nothing.");
            return t.tell(press.reply_to.as_ref(), Message::text(text));
        }
        let label = item.label.clone();
        if let Some(item) = index.and_then(|i| self.facts.smoke.items.get_mut(i)) {
            item.verdict = Some((works, press.user.clone()));
        }
        let verdict = if works { "works" } else { "broken" };
        self.audit(
            t,
            press.at,
            &press.user,
            format!("smoke: {label}: {verdict}"),
        );
        self.refresh_smoke(t);
        if !works {
            self.offer_roll_back(
                t,
                format!("<@{}> marked \"{label}\" as broken.", press.user),
            );
            return;
        }
        self.maybe_succeed(t, ctx);
    }

    fn maybe_succeed(&mut self, t: &mut Transition, ctx: &StepContext) {
        let smoke = &self.facts.smoke;
        let all_fine = !smoke.probes.is_empty()
            && smoke.probes.iter().all(|p| p.ok)
            && smoke
                .items
                .iter()
                .all(|i| matches!(i.verdict, Some((true, _))));
        if !all_fine {
            return;
        }
        self.say(
            t,
            "succeeded",
            format!(":tada: Promotion succeeded: #{} is on production and the smoke test passed. The lock is released; `ship <version>` can release it.", self.pr_number()),
        );
        self.end(
            t,
            ctx,
            PromotionState::Succeeded,
            format!("succeeded: #{} on production", self.pr_number()),
        );
    }
}

/// The database file bench writes for a backup, as `fetch_latest_backups` and
/// `bench backup` name it.
pub fn backup_database_path(backup: &BackupInfo, site: &str) -> String {
    match &backup.database_path {
        Some(path) => path.clone(),
        None => format!("./{site}/private/backups/{}-database.sql.gz", backup.id),
    }
}

fn failure_text(result: &OpResult) -> String {
    match result {
        Err(failure) => failure.text(),
        Ok(other) => format!("an unexpected answer ({other:?})"),
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
