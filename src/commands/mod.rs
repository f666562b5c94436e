//! The subcommands, one file each: what it decides when the command arrives (an
//! answer, or a run to start), the work its runs need done in the world (the
//! performers of [`Op`]s), and its buttons. Two exhaustive `match`es tie them
//! together: [`on_command`] over [`Command`] and [`Performers::perform`] over
//! [`Op`], so a subcommand or an operation without its code does not compile.
//!
//! Arrival is synchronous and does no I/O: it reads the configuration, the store and
//! which adapters exist; anything that talks to the world is an effect.

mod apply;
mod audit;
pub(crate) mod diff;
pub mod explain;
mod help;
mod home;
mod promote;
mod pull;
mod push;
mod review;
mod reviewer;
mod rollback;
mod shell;
mod ship;
mod stats;
mod status;
mod tester;
mod unlock;

use crate::adapters::Adapters;
use crate::clock::Clock;
use crate::command::{self, Command};
use crate::config::Config;
use crate::ids::RunId;
use crate::slack::render::escape;
use crate::stacks::Scoped;
use crate::store::{AuditEntry, EnvLock, Store};
use crate::workflow::effect::{Effect, Message, Post, Requester, Work};
use crate::workflow::event::{ActionEvent, CommandEvent};
use crate::workflow::executor::{Performer, Progress};
use crate::workflow::op::{Failure, Op, OpResult};
use crate::workflow::run::{with_requester, ButtonValue, Input, Press, Roles, Run, RunHeader};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a command sees when it arrives: the stack of its channel (its configuration
/// and adapters) and the store.
pub struct Context<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub adapters: &'a Adapters,
    /// The stack's name ("" for a single stack): runs started here are its runs.
    pub stack: &'a str,
    pub now: DateTime<Utc>,
    /// The caller's rights, resolved before arrival for the commands that ask
    /// ([`needs_roles`]); default (none) otherwise.
    pub roles: Roles,
}

/// What a command decided on arrival.
#[derive(Debug, Default)]
pub struct Arrival {
    pub effects: Vec<Effect>,
    pub audit: Vec<AuditEntry>,
    pub locks: Vec<(String, Option<EnvLock>)>,
    /// A run to create (its `Start` is stepped in the same transaction).
    pub start: Option<Run>,
    /// An input for a run already in flight (a re-run of promote).
    pub deliver: Option<(RunId, Input)>,
}

impl Arrival {
    /// A single reply that only the invoking person sees.
    pub fn reply(event: &CommandEvent, message: Message) -> Self {
        Self {
            effects: vec![Effect::Respond(requester(event).reply(message))],
            ..Self::default()
        }
    }

    /// A single message everyone in the channel sees, crediting who asked for it.
    /// Keyed by the command's trigger id, so a replay edits instead of reposting.
    pub fn announce(event: &CommandEvent, message: Message) -> Self {
        Self {
            effects: vec![Effect::Post(Post {
                key: format!("command/{}/reply", event.trigger_id),
                channel: event.channel.clone(),
                thread_of: None,
                message: with_requester(message, &event.user),
                broadcast: false,
                on_refusal: Some(requester(event)),
            })],
            ..Self::default()
        }
    }

    pub fn start(run: Run) -> Self {
        Self {
            start: Some(run),
            ..Self::default()
        }
    }

    pub fn audited(mut self, entry: AuditEntry) -> Self {
        self.audit.push(entry);
        self
    }
}

/// The person who typed the command, and how to answer them privately.
pub fn requester(event: &CommandEvent) -> Requester {
    Requester {
        response_url: event.response_url.clone(),
        channel: event.channel.clone(),
        user: event.user.clone(),
    }
}

/// A short, stable run id for the trigger that started a run: people read and quote
/// run ids, and Slack trigger ids are 60 characters long.
pub fn run_id_for(trigger_id: &str) -> RunId {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(trigger_id.as_bytes());
    RunId(format!("run-{}", &hex::encode(digest)[..10]))
}

/// A new run's header for the command that starts it.
pub fn header(ctx: &Context, event: &CommandEvent, command: Command) -> RunHeader {
    RunHeader::new(
        run_id_for(&event.trigger_id),
        command,
        requester(event),
        ctx.now,
    )
    .in_stack(ctx.stack)
}

impl Context<'_> {
    /// The store as this stack sees it: its own runs and locks only.
    pub fn scoped(&self) -> Scoped<'_> {
        Scoped::new(self.store, self.stack)
    }
}

/// Whether arrival needs the caller's rights (a Slack lookup when groups are used).
pub fn needs_roles(text: &str, command_name: &str) -> bool {
    matches!(
        command::parse(text, command_name),
        Ok(Command::Promote { .. } | Command::Unlock { .. } | Command::Ship { .. })
    )
}

/// Parses the command text and hands it to its subcommand. Never fails: a usage
/// error or a missing piece of configuration becomes a private reply.
pub fn on_command(ctx: &Context, event: &CommandEvent) -> Arrival {
    let command = match command::parse(&event.text, ctx.config.command_name()) {
        Ok(command) => command,
        Err(usage) => return Arrival::reply(event, usage_error_message(&usage)),
    };
    let result = match command {
        Command::Help { topic } => Ok(help::on_command(ctx, event, topic)),
        Command::Status => status::on_command(ctx, event),
        Command::Audit { n } => audit::on_command(ctx, event, n),
        Command::Stats { days } => stats::on_command(ctx, event, days),
        Command::Diff { site } => diff::on_command(ctx, event, site),
        Command::Pull => pull::on_command(ctx, event),
        Command::Push { dry_run } => push::on_command(ctx, event, dry_run),
        Command::Review { since, blueprint } => review::on_command(ctx, event, since, blueprint),
        Command::Rollback { git_ref, dry_run } => {
            rollback::on_command(ctx, event, git_ref, dry_run)
        }
        Command::Promote {
            emergency,
            only,
            feature,
            dry_run,
        } => promote::on_command(ctx, event, emergency, only, feature, dry_run),
        Command::Ship {
            version,
            notes_from,
            dry_run,
        } => ship::on_command(ctx, event, version, notes_from, dry_run),
        Command::Unlock { env, reason } => unlock::on_command(ctx, event, env, reason),
    };
    result.unwrap_or_else(|err| Arrival::reply(event, Message::text(explain::explain(&err))))
}

/// Someone opened the Home tab: the effect that publishes theirs.
pub fn on_home_opened(contexts: &[Context], user: &str) -> anyhow::Result<Effect> {
    home::on_home_opened(contexts, user)
}

/// What a button press is, read from its action id and value: which run, at which
/// version, which action. `None` for anything that is not one of ours.
pub fn press_of(action: &ActionEvent, roles: Roles, at: DateTime<Utc>) -> Option<(RunId, Press)> {
    let value = ButtonValue::decode(&action.value)?;
    let ours = action
        .action_id
        .starts_with(crate::workflow::promotion::actions::PREFIX)
        || action
            .action_id
            .starts_with(crate::workflow::ship::actions::PREFIX)
        || action.action_id == crate::workflow::rollback::APPLY
        || action.action_id == crate::workflow::rollback::CANCEL;
    if !ours || action.action_id.len() > 64 {
        return None;
    }
    Some((
        value.run_id,
        Press {
            user: action.user.clone(),
            action: action.action_id.clone(),
            version: value.version,
            roles,
            reply_to: requester_of_action(action),
            at,
            trigger_id: Some(action.slack_trigger_id.clone()).filter(|t| !t.is_empty()),
        },
    ))
}

/// A modal submission as a run's input, read from the view's callback id and the
/// run and version the bot put in it. `None` for anything that is not one of ours.
pub fn submission_of(
    view: &crate::workflow::event::ViewEvent,
    roles: Roles,
    at: DateTime<Utc>,
) -> Option<(RunId, crate::workflow::run::Submission)> {
    if view.callback_id != crate::workflow::ship::actions::EDITOR {
        return None;
    }
    let value = ButtonValue::decode(&view.private_metadata)?;
    Some((
        value.run_id,
        crate::workflow::run::Submission {
            user: view.user.clone(),
            callback_id: view.callback_id.clone(),
            version: value.version,
            values: view.values.clone(),
            roles,
            at,
        },
    ))
}

/// The person who pressed a button, and how to answer them privately.
pub fn requester_of_action(action: &ActionEvent) -> Option<Requester> {
    Some(Requester {
        response_url: action.response_url.clone()?,
        channel: action.channel.clone(),
        user: action.user.clone(),
    })
}

/// The private answer to a press on a button that is not (or no longer) an offer.
pub fn stale_button(action: &ActionEvent) -> Vec<Effect> {
    let message = Message::text(
        "That button belongs to a request that is no longer active, so nothing was done. \
         Run the command again to get fresh buttons.",
    );
    requester_of_action(action)
        .map(|requester| Effect::Respond(requester.reply(message)))
        .into_iter()
        .collect()
}

fn usage_error_message(usage: &command::UsageError) -> Message {
    Message::with_code(
        format!(":warning: {}", escape(&usage.message)),
        format!("Usage: {}", usage.usage),
    )
}

/// The work of every run, done through the adapters.
pub struct Performers {
    pub adapters: Arc<Adapters>,
    pub config: Arc<Config>,
    pub store: Store,
    pub clock: Clock,
    /// The stack these adapters belong to ("" for a single stack).
    pub stack: String,
}

impl Performers {
    /// The store as this stack sees it.
    pub fn scoped(&self) -> Scoped<'_> {
        Scoped::new(&self.store, &self.stack)
    }
}

/// The performers of every stack: each piece of work goes to its run's stack.
pub struct StackPerformers {
    pub by_stack: Vec<Performers>,
}

impl Performer for StackPerformers {
    fn perform<'a>(
        &'a self,
        work: &'a Work,
        progress: Progress,
    ) -> Pin<Box<dyn Future<Output = OpResult> + Send + 'a>> {
        match self.by_stack.iter().find(|p| p.stack == work.stack) {
            Some(performers) => performers.perform(work, progress),
            None => {
                let gone = Failure::Refused(format!(
                    "this run belongs to stack `{}`, which is no longer in the configuration, so I did not touch anything for it",
                    work.stack
                ));
                Box::pin(std::future::ready(Err(gone)))
            }
        }
    }
}

impl Performer for Performers {
    fn perform<'a>(
        &'a self,
        work: &'a Work,
        progress: Progress,
    ) -> Pin<Box<dyn Future<Output = OpResult> + Send + 'a>> {
        Box::pin(self.run(work, progress))
    }
}

impl Performers {
    /// Performs one operation. A read (a diff, a review, a plan, a dry-run
    /// checklist) has a whole-command deadline (`[commands] deadline_secs`), after
    /// which it ends saying which side is too slow and that nothing was changed,
    /// and says every `progress_secs` that it is still working. Writes have no such
    /// deadline: cutting one short would leave its outcome unknown.
    async fn run(&self, work: &Work, progress: Progress) -> OpResult {
        let a = &*self.adapters;
        let config = &*self.config;
        let side = |site: command::SiteSel| match site {
            command::SiteSel::Staging => "the staging site",
            command::SiteSel::Prod => "the production site",
        };
        let read: Option<(&str, &str)> = match &work.op {
            Op::Diff { site } => Some((side(*site), "diff")),
            Op::Review { .. } => Some(("the staging site", "review")),
            Op::PlanPush => Some(("the staging site", "push's plan")),
            Op::PlanPull => Some(("the staging site", "pull's reading")),
            Op::PlanRollback { .. } => Some(("the staging site", "rollback's plan")),
            Op::Checklist(request) if request.dry_run => {
                Some(("the staging site", "the checklist"))
            }
            Op::DraftRelease(_) => Some(("the production site", "ship's draft")),
            _ => None,
        };
        let perform = self.perform_op(work, &progress, a, config);
        let Some((side, what)) = read else {
            return perform.await;
        };
        let limits = &config.file.commands;
        // The checklist edits its own message with each box; no ticker over it.
        let ticking = !matches!(work.op, Op::Checklist(_));
        let started = tokio::time::Instant::now();
        let mut ticks =
            tokio::time::interval_at(started + limits.progress_every(), limits.progress_every());
        let deadline = tokio::time::sleep(limits.deadline());
        tokio::pin!(perform, deadline);
        loop {
            tokio::select! {
                result = &mut perform => return result,
                _ = &mut deadline => {
                    tracing::warn!(key = %work.key, deadline_secs = limits.deadline_secs, "a read passed its deadline; stopped");
                    return Err(Failure::Refused(format!(
                        "{} is too slow: {what} had no complete answer within {} s (GitHub, read alongside it, may be slow too), so lockstep stopped waiting. Nothing was changed.",
                        capitalised(side),
                        limits.deadline_secs
                    )));
                }
                _ = ticks.tick(), if ticking => {
                    progress.note(Message::text(format!(
                        ":hourglass_flowing_sand: Still working on {what}: {} s so far; {side} is slow to answer (lockstep gives up after {} s)…",
                        started.elapsed().as_secs(),
                        limits.deadline_secs
                    )));
                }
            }
        }
    }

    async fn perform_op(
        &self,
        work: &Work,
        progress: &Progress,
        a: &Adapters,
        config: &Config,
    ) -> OpResult {
        let progress = progress.clone();
        match &work.op {
            Op::Diff { site } => diff::read(a.tracked(*site).map_err(refused)?).await,
            Op::Review { since, blueprint } => {
                review::read(a, config, since.as_ref(), blueprint.as_deref()).await
            }
            Op::Checklist(request) => {
                promote::checklist::perform(self, request, &work.run_id, progress).await
            }
            Op::PlanPush => push::plan(a.staging().map_err(refused)?).await,
            Op::PlanPull => {
                pull::plan(
                    a.staging().map_err(refused)?,
                    &work.run_id,
                    self.clock.now(),
                )
                .await
            }
            Op::CommitFiles(request) => pull::commit(a.repo().map_err(refused)?, request).await,
            Op::PlanRollback { target } => {
                rollback::plan(a.staging().map_err(refused)?, target).await
            }
            Op::ApplyStep(write) => {
                apply::perform(&a.staging().map_err(refused)?.site, write).await
            }
            Op::VerifyPush { branch } => push::verify(a.staging().map_err(refused)?, branch).await,
            Op::TakeBackup { not_before } => promote::deploy::take_backup(a, *not_before).await,
            Op::Snapshot(request) => {
                let since = promote::github::staging_taken_last(self.scoped(), &work.run_id);
                promote::github::snapshot(a, request, since.as_deref()).await
            }
            Op::OpenPull(draft) => promote::github::open_pull(a, draft).await,
            Op::LabelPull { number, labels } => promote::github::label(a, *number, labels).await,
            Op::RequestReview { number, login } => {
                promote::github::request_review(a, *number, login).await
            }
            Op::ReadReviews { number } => promote::github::read_reviews(a, *number).await,
            Op::Merge {
                number,
                head_sha,
                title,
            } => promote::github::merge(a, config, *number, head_sha, title).await,
            Op::ReadDeploy { merge_sha } => promote::deploy::read_ci(a, merge_sha).await,
            Op::CancelDeploy { run_id } => promote::deploy::cancel_ci(a, *run_id).await,
            Op::BenchStep { step } => promote::deploy::bench_step(a, *step).await,
            Op::Restore { backup } => promote::deploy::restore(a, backup).await,
            Op::RevertPull {
                number,
                node_id,
                title,
                body,
            } => promote::github::revert(a, *number, node_id, title, body).await,
            Op::ClosePull { number } => promote::github::close(a, *number).await,
            Op::Smoke { surface } => promote::smoke::probe(a, surface).await,
            Op::DraftRelease(request) => ship::draft(a, request).await,
            Op::CommitChangelog(request) => ship::commit_changelog(a, request).await,
            Op::Tag { tag, sha, message } => ship::tag(a, tag, sha, message).await,
            Op::Release { tag, name, body } => ship::release(a, tag, name, body).await,
            // The executor waits for timers itself; nothing to do here.
            Op::Wait { .. } => Ok(crate::workflow::op::Outcome::Elapsed),
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A missing adapter: the sentence that says what to configure.
fn refused(err: crate::error::UserError) -> Failure {
    Failure::Refused(err.0)
}

/// An adapter's error as a failure that changed nothing.
pub fn failed(err: impl Into<anyhow::Error>) -> Failure {
    Failure::Refused(explain::explain(&err.into()))
}
