//! One handler per subcommand. A handler reads what it needs (config, store, clock)
//! and returns an [`Outcome`]: the effects to perform and the audit entries to keep.
//! It never talks to Slack itself; the app commits its outcome and the executor acts.

mod audit;
mod diff;
mod help;
mod promote;
mod pull;
mod push;
mod review;
mod rollback;
mod status;
mod unavailable;

use crate::command::{self, Command};
use crate::config::Config;
use crate::ids::RunId;
use crate::slack::render::escape;
use crate::store::{AuditEntry, Store};
use crate::workflow::effect::{Block, Effect, Message, Post, Requester};
use crate::workflow::event::{ActionEvent, CommandEvent};
use crate::workflow::job::JobRecord;
use chrono::{DateTime, Utc};

/// What a handler sees.
pub struct Context<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub now: DateTime<Utc>,
}

/// What a handler decided.
#[derive(Debug, Default)]
pub struct Outcome {
    pub effects: Vec<Effect>,
    pub audit: Vec<AuditEntry>,
    /// Jobs to record and start once this outcome is durable.
    pub jobs: Vec<JobRecord>,
    /// Jobs that are over, to remove from the runs in flight.
    pub finished: Vec<RunId>,
}

impl Outcome {
    /// A single reply that only the invoking person sees.
    pub fn reply(event: &CommandEvent, message: Message) -> Self {
        Self {
            effects: vec![ephemeral(event, message)],
            ..Self::default()
        }
    }

    /// A single message everyone in the channel sees, crediting who asked for it.
    /// Keyed by the command's trigger id, so a replay edits instead of reposting.
    pub fn announce(event: &CommandEvent, message: Message) -> Self {
        let message = with_requester(message, &event.user);
        Self {
            effects: vec![Effect::Post(Post {
                key: format!("command/{}/reply", event.trigger_id),
                channel: event.channel.clone(),
                thread_of: None,
                message,
                on_refusal: Some(requester(event)),
            })],
            ..Self::default()
        }
    }
}

impl Outcome {
    /// Starts a job: an in-channel message saying what is under way, which the job
    /// then edits as it progresses and when it ends.
    pub fn start_job(
        ctx: &Context,
        event: &CommandEvent,
        command: Command,
        message: Message,
    ) -> Self {
        let record = JobRecord::new(&event.trigger_id, command, requester(event), ctx.now);
        Self {
            effects: vec![Effect::Post(Post {
                key: record.message_key.clone(),
                channel: event.channel.clone(),
                thread_of: None,
                message: with_requester(message, &event.user),
                on_refusal: Some(requester(event)),
            })],
            jobs: vec![record],
            ..Self::default()
        }
    }
}

/// Adds the "Requested by" line every in-channel message of a command carries.
pub fn with_requester(mut message: Message, user: &str) -> Message {
    message
        .blocks
        .push(Block::Context(format!("Requested by <@{user}>")));
    message
}

fn requester(event: &CommandEvent) -> Requester {
    Requester {
        response_url: event.response_url.clone(),
        channel: event.channel.clone(),
        user: event.user.clone(),
    }
}

fn ephemeral(event: &CommandEvent, message: Message) -> Effect {
    Effect::Respond(requester(event).reply(message))
}

/// Parses the command text and runs its handler. Never fails: a usage error or an
/// internal error becomes a reply to the person.
pub fn handle_command(ctx: &Context, event: &CommandEvent) -> Outcome {
    let command = match command::parse(&event.text, ctx.config.command_name()) {
        Ok(command) => command,
        Err(usage) => return Outcome::reply(event, usage_error_message(&usage)),
    };
    let result = match &command {
        Command::Help { topic } => Ok(help::handle(ctx, event, *topic)),
        Command::Status => status::handle(ctx, event),
        Command::Audit { n } => audit::handle(ctx, event, *n),
        Command::Diff { site } => diff::handle(ctx, event, *site),
        Command::Pull => pull::handle(ctx, event),
        Command::Push { dry_run } => push::handle(ctx, event, *dry_run),
        Command::Rollback { git_ref, dry_run } => rollback::handle(ctx, event, git_ref, *dry_run),
        Command::Promote { .. } => promote::handle(ctx, event, &command),
        Command::Review { .. } => review::handle(ctx, event, &command),
        other => Ok(unavailable::handle(ctx, event, other)),
    };
    result
        .unwrap_or_else(|err| Outcome::reply(event, Message::text(crate::error::user_facing(&err))))
}

/// A button press, routed to the handler that owns its action id. A press on a
/// button nobody owns (an old message) is answered, privately, not ignored.
pub fn handle_action(ctx: &Context, action: &ActionEvent) -> Outcome {
    if rollback::owns(&action.action_id) {
        if let Some(outcome) = rollback::handle_button(ctx, action) {
            return outcome;
        }
    }
    let message = Message::text(
        "That button belongs to a request that is no longer active, so nothing was done. \
         Run the command again to get fresh buttons.",
    );
    Outcome {
        effects: requester_of_action(action)
            .map(|requester| Effect::Respond(requester.reply(message)))
            .into_iter()
            .collect(),
        ..Outcome::default()
    }
}

/// The person who pressed a button, and how to answer them privately.
fn requester_of_action(action: &ActionEvent) -> Option<Requester> {
    Some(Requester {
        response_url: action.response_url.clone()?,
        channel: action.channel.clone(),
        user: action.user.clone(),
    })
}

fn usage_error_message(usage: &command::UsageError) -> Message {
    Message::with_code(
        format!(":warning: {}", escape(&usage.message)),
        format!("Usage: {}", usage.usage),
    )
}
