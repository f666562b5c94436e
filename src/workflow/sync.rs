//! The staging sync runs: `pull` (capture the staging site into its branch as one
//! commit) and `push` (make the staging site match its branch, git wins), plus the
//! shared bookkeeping of applying a plan write by write ([`Applying`]), which
//! `rollback` uses too.
//!
//! Every write is its own effect, performed in order and checked first, and each is
//! audited when its outcome comes back, so after a crash anywhere the final message
//! and the audit count every write that happened, before or after the crash. A pull
//! commit is stamped (fixed author and date), so performing it again makes the same
//! commit and finds the branch already there.

use crate::blueprint::render::plural;
use crate::workflow::effect::Message;
use crate::workflow::op::{Failure, Op, OpResult, Outcome, StagingWrite, SyncPlan};
use crate::workflow::run::{Input, RunHeader, StepContext, Transition};
use serde::{Deserialize, Serialize};

/// How many times a pull builds its commit again when the branch moves under it.
pub const PULL_ATTEMPTS: u32 = 3;

/// A plan being applied, write by write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Applying {
    /// Effect keys of the writes, in order, with the plan line of each.
    pub writes: Vec<(String, String)>,
    /// Plan lines of the writes done so far (already-done ones included).
    pub applied: Vec<String>,
}

/// What one write's outcome means for the run.
pub enum Applied {
    /// One more done; `all` when it was the last.
    One { describe: String, all: bool },
    /// It failed: stop.
    Stopped { describe: String, failure: Failure },
    /// Not one of ours (a stale outcome).
    Unknown,
}

impl Applying {
    /// Issues every write as an effect; the executor performs a run's effects in
    /// order, one at a time.
    pub fn issue(t: &mut Transition, header: &mut RunHeader, writes: &[StagingWrite]) -> Self {
        let writes = writes
            .iter()
            .map(|write| {
                let key = t.work(header, "apply", Op::ApplyStep(write.clone()));
                (key, write.describe.clone())
            })
            .collect();
        Applying {
            writes,
            applied: Vec::new(),
        }
    }

    pub fn total(&self) -> usize {
        self.writes.len()
    }

    pub fn on_done(&mut self, key: &str, result: &OpResult) -> Applied {
        let Some((_, describe)) = self.writes.iter().find(|(k, _)| k == key) else {
            return Applied::Unknown;
        };
        let describe = describe.clone();
        if self.applied.contains(&describe) {
            return Applied::Unknown;
        }
        match result {
            Ok(Outcome::Applied { .. }) => {
                self.applied.push(describe.clone());
                Applied::One {
                    describe,
                    all: self.applied.len() == self.writes.len(),
                }
            }
            Ok(other) => Applied::Stopped {
                describe,
                failure: Failure::Refused(format!("unexpected answer {other:?}")),
            },
            Err(failure) => Applied::Stopped {
                describe,
                failure: failure.clone(),
            },
        }
    }

    /// What to say when a write failed: how far it got, what the site is now, and
    /// how to finish.
    pub fn stopped_text(
        &self,
        what: &str,
        describe: &str,
        failure: &Failure,
        again: &str,
    ) -> String {
        let done = self.applied.len();
        let total = self.total();
        let state = if matches!(failure, Failure::Partial { .. }) {
            // The failed write may have reached the site: never "nothing changed".
            format!(
                "Whether that change reached the site is unknown, so the site may be partly updated ({done} of {total} changes certainly made); run `diff` to see where it stands, then {again} to finish"
            )
        } else if done == 0 {
            "Nothing was changed on the site".to_string()
        } else {
            format!(
                "The site is partly updated ({done} of {total} changes made); {again} once the cause is fixed to finish"
            )
        };
        format!(
            "{what} stopped after {done} of {total} changes: {} failed: {}. {state}.",
            crate::slack::render::code(describe),
            failure.text().trim_end().trim_end_matches('.')
        )
    }

    /// A progress note every ten writes, so a long push shows it is moving.
    pub fn progress(&self, what: &str) -> Option<Message> {
        (self.applied.len() % 10 == 0 && self.applied.len() < self.total()).then(|| {
            Message::text(format!(
                ":hourglass_flowing_sand: {what}: {} of {} changes applied…",
                self.applied.len(),
                self.total()
            ))
        })
    }
}

// ---- pull ------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullRun {
    pub header: RunHeader,
    /// What the channel sees while it works.
    pub announce: Message,
    pub state: PullState,
    /// Plans made so far (a moved branch means a new plan).
    pub attempts: u32,
    #[serde(default)]
    pub listing: Vec<String>,
    #[serde(default)]
    pub branch: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullState {
    Planning,
    Committing,
    Finished,
}

impl PullRun {
    pub fn new(header: RunHeader, announce: Message) -> Self {
        PullRun {
            header,
            announce,
            state: PullState::Planning,
            attempts: 0,
            listing: Vec::new(),
            branch: String::new(),
        }
    }

    pub fn is_finished(&self) -> bool {
        self.state == PullState::Finished
    }

    pub fn state_line(&self) -> String {
        match self.state {
            PullState::Planning => "reading the site and the branch".into(),
            PullState::Committing => "committing".into(),
            PullState::Finished => "finished".into(),
        }
    }

    pub fn step(&mut self, input: &Input, ctx: &StepContext) -> Transition {
        let mut t = Transition::default();
        let user = self.header.requester.user.clone();
        match (self.state, input) {
            (PullState::Planning, Input::Start) => {
                t.post_root(&self.header, self.announce.clone());
                self.plan(&mut t)
            }
            (PullState::Planning, Input::Done { result, .. }) => match result {
                Ok(Outcome::PullPlan(plan)) => match &plan.commit {
                    None => {
                        self.state = PullState::Finished;
                        t.update_root(
                            &self.header,
                            Message::text(format!(
                                ":white_check_mark: Pull: `{}` already matches site `{}`; no commit made.",
                                plan.label, plan.site
                            )),
                        );
                        t.audit(&self.header, ctx.now, &user, "nothing to commit".into());
                    }
                    Some(commit) => {
                        self.state = PullState::Committing;
                        self.listing = plan.listing.clone();
                        self.branch = commit.branch.clone();
                        t.work(&mut self.header, "commit", Op::CommitFiles(commit.clone()));
                    }
                },
                other => self.fail(&mut t, ctx, other),
            },
            (PullState::Committing, Input::Done { result, .. }) => match result {
                Ok(Outcome::Committed { sha }) => {
                    self.state = PullState::Finished;
                    let files = plural(self.listing.len(), "file");
                    t.update_root(
                        &self.header,
                        Message::with_code(
                            format!(
                                ":white_check_mark: Pull: committed {files} to `{}` as `{}`.",
                                self.branch,
                                &sha[..sha.len().min(7)]
                            ),
                            self.listing.join("\n"),
                        ),
                    );
                    t.audit(
                        &self.header,
                        ctx.now,
                        &user,
                        format!("committed {files} to {} as {sha}", self.branch),
                    );
                }
                Err(Failure::BranchMoved { branch }) if self.attempts < PULL_ATTEMPTS => {
                    self.state = PullState::Planning;
                    t.update_root(
                        &self.header,
                        Message::text(format!(
                            ":hourglass_flowing_sand: Pull: `{branch}` moved while I was committing (someone pushed to it); building the commit again on its new head…"
                        )),
                    );
                    self.plan(&mut t);
                }
                Err(Failure::BranchMoved { branch }) => {
                    self.state = PullState::Finished;
                    let text = format!(
                        "Pull: `{branch}` kept moving while I worked ({} tries), so I made no commit: someone is pushing to it. Nothing was changed; run pull again when they are done.",
                        self.attempts
                    );
                    t.update_root(&self.header, Message::text(format!(":x: {text}")));
                    t.audit(&self.header, ctx.now, &user, format!("failed: {text}"));
                }
                other => self.fail(&mut t, ctx, other),
            },
            _ => {}
        }
        t
    }

    fn plan(&mut self, t: &mut Transition) {
        self.attempts += 1;
        t.work(&mut self.header, "plan", Op::PlanPull);
    }

    fn fail(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        self.state = PullState::Finished;
        let text = match result {
            Err(failure) => failure.text(),
            Ok(other) => format!("unexpected answer {other:?}"),
        };
        let text = format!("Pull failed: {}", text.trim_end_matches('.'));
        let text = if text.contains("changed") {
            format!("{text}.")
        } else {
            format!("{text}. No commit was made.")
        };
        t.update_root(&self.header, Message::text(format!(":x: {text}")));
        let user = self.header.requester.user.clone();
        t.audit(&self.header, ctx.now, &user, format!("failed: {text}"));
    }
}

// ---- push --------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRun {
    pub header: RunHeader,
    pub announce: Message,
    pub dry_run: bool,
    pub state: PushState,
    #[serde(default)]
    pub applying: Applying,
    /// The plan as first shown, its headline, the branch label and the site.
    #[serde(default)]
    pub shown: Option<ShownPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShownPlan {
    pub headline: String,
    pub rendered: String,
    pub label: String,
    pub branch: String,
    pub site: String,
}

impl ShownPlan {
    pub fn of(plan: &SyncPlan) -> Self {
        ShownPlan {
            headline: plan.headline.clone(),
            rendered: plan.rendered.clone(),
            label: plan.label.clone(),
            branch: plan.branch.clone(),
            site: plan.site.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    Planning,
    Applying,
    Verifying,
    Finished,
}

impl PushRun {
    pub fn new(header: RunHeader, announce: Message, dry_run: bool) -> Self {
        PushRun {
            header,
            announce,
            dry_run,
            state: PushState::Planning,
            applying: Applying::default(),
            shown: None,
        }
    }

    pub fn is_finished(&self) -> bool {
        self.state == PushState::Finished
    }

    pub fn state_line(&self) -> String {
        match self.state {
            PushState::Planning => "planning".into(),
            PushState::Applying => format!(
                "applying ({} of {} changes made)",
                self.applying.applied.len(),
                self.applying.total()
            ),
            PushState::Verifying => "reading the site back".into(),
            PushState::Finished => "finished".into(),
        }
    }

    pub fn step(&mut self, input: &Input, ctx: &StepContext) -> Transition {
        let mut t = Transition::default();
        let user = self.header.requester.user.clone();
        match (self.state, input) {
            (PushState::Planning, Input::Start) => {
                t.post_root(&self.header, self.announce.clone());
                t.work(&mut self.header, "plan", Op::PlanPush);
            }
            (PushState::Planning, Input::Done { result, .. }) => match result {
                Ok(Outcome::PushPlan(plan)) => self.planned(&mut t, ctx, plan),
                other => self.fail_read(&mut t, ctx, other),
            },
            (PushState::Applying, Input::Done { key, result }) => {
                match self.applying.on_done(key, result) {
                    Applied::One { describe, all } => {
                        let from = self.shown.as_ref().map(|s| s.label.clone());
                        t.audit(
                            &self.header,
                            ctx.now,
                            &user,
                            format!("{describe} (from {})", from.unwrap_or_default()),
                        );
                        if all {
                            self.state = PushState::Verifying;
                            let branch = self
                                .shown
                                .as_ref()
                                .map(|s| s.branch.clone())
                                .unwrap_or_default();
                            t.work(&mut self.header, "verify", Op::VerifyPush { branch });
                        } else if let Some(note) = self.applying.progress("Push") {
                            t.update_root(&self.header, note);
                        }
                    }
                    Applied::Stopped { describe, failure } => {
                        self.state = PushState::Finished;
                        t.drop_pending_work = true;
                        let text = self.applying.stopped_text(
                            "Push",
                            &describe,
                            &failure,
                            "run push again",
                        );
                        t.update_root(&self.header, self.with_plan(format!(":x: {text}")));
                        t.audit(&self.header, ctx.now, &user, format!("failed: {text}"));
                    }
                    Applied::Unknown => {}
                }
            }
            (PushState::Verifying, Input::Done { result, .. }) => {
                self.state = PushState::Finished;
                let shown = self.shown.clone().unwrap_or_else(|| ShownPlan {
                    headline: String::new(),
                    rendered: String::new(),
                    label: String::new(),
                    branch: String::new(),
                    site: String::new(),
                });
                let changes = plural(self.applying.total(), "change");
                let site = shown.site.clone();
                let verdict = match result {
                    Ok(Outcome::Verified { remaining: 0 }) => format!(
                        ":white_check_mark: Push: applied {changes} to site `{site}`; it now matches `{}`.",
                        shown.label
                    ),
                    Ok(Outcome::Verified { remaining }) => format!(
                        ":warning: Push: applied {changes}, but the site still differs from `{}` in {} (Frappe adds or keeps some records itself; see `diff`).",
                        shown.label,
                        plural(*remaining, "place")
                    ),
                    other => format!(
                        ":warning: Push: applied {changes} to site `{site}`, but reading it back failed ({}); run `diff` to check it.",
                        match other {
                            Err(failure) => failure.text(),
                            Ok(other) => format!("{other:?}"),
                        }
                    ),
                };
                t.update_root(
                    &self.header,
                    Message::with_code(verdict, shown.rendered.clone()),
                );
            }
            _ => {}
        }
        t
    }

    fn planned(&mut self, t: &mut Transition, ctx: &StepContext, plan: &SyncPlan) {
        self.shown = Some(ShownPlan::of(plan));
        let user = self.header.requester.user.clone();
        let site = plan.site.clone();
        if self.dry_run || plan.writes.is_empty() {
            self.state = PushState::Finished;
            let lead = if plan.writes.is_empty() {
                format!(
                    ":white_check_mark: Push: site `{site}` already matches `{}`.",
                    plan.label
                )
            } else {
                format!(
                    ":memo: Push (dry run): {} would be made; nothing was changed.",
                    plural(plan.writes.len(), "change")
                )
            };
            t.update_root(
                &self.header,
                Message::with_code(lead, plan.rendered.clone()),
            );
            t.audit(
                &self.header,
                ctx.now,
                &user,
                format!("dry run: {}", plural(plan.writes.len(), "change")),
            );
            return;
        }
        self.state = PushState::Applying;
        self.applying = Applying::issue(t, &mut self.header, &plan.writes);
    }

    fn with_plan(&self, lead: String) -> Message {
        match &self.shown {
            Some(shown) => Message::with_code(lead, shown.rendered.clone()),
            None => Message::text(lead),
        }
    }

    fn fail_read(&mut self, t: &mut Transition, ctx: &StepContext, result: &OpResult) {
        self.state = PushState::Finished;
        let text = match result {
            Err(failure) => failure.text(),
            Ok(other) => format!("unexpected answer {other:?}"),
        };
        let text = format!(
            "Push failed before changing anything: {}. Nothing was changed.",
            text.trim_end_matches('.')
        );
        t.update_root(&self.header, Message::text(format!(":x: {text}")));
        let user = self.header.requester.user.clone();
        t.audit(&self.header, ctx.now, &user, format!("failed: {text}"));
    }
}
