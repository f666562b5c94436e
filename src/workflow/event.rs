//! Events: everything the consumer handles, in one queue. People's commands and
//! button presses come from the Slack listener; the outcomes of performed work and
//! progress notes come from the executor.

use crate::ids::RunId;
use crate::workflow::effect::Message;
use crate::workflow::op::OpResult;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Command(CommandEvent),
    Action(ActionEvent),
    /// Someone pressed Submit on a modal the bot opened.
    View(ViewEvent),
    /// A run's work effect was performed: its outcome goes to the run's `step`.
    Done(DoneEvent),
    /// A long piece of work says how far it got (an edit of the run's message; not
    /// durable, the end always is).
    Progress {
        run_id: RunId,
        message: Message,
    },
    /// Someone opened the app's Home tab (`app_home_opened`): publish theirs.
    HomeOpened(HomeEvent),
}

#[derive(Debug, Clone, PartialEq)]
pub struct HomeEvent {
    /// Slack's `event_id`: the same for a redelivery.
    pub event_id: String,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DoneEvent {
    pub run_id: RunId,
    /// The outbox entry that was performed.
    pub effect_id: u64,
    pub key: String,
    pub result: OpResult,
}

impl Event {
    /// The key under which the event is recorded as handled, for events that may
    /// arrive twice (Slack redelivers an envelope it thinks was not acked).
    pub fn dedup_key(&self) -> Option<String> {
        match self {
            Event::Command(command) => Some(format!("trigger:{}", command.trigger_id)),
            Event::Action(action) => Some(format!("trigger:{}", action.trigger_id)),
            Event::View(view) => Some(view.dedup_key.clone()),
            Event::HomeOpened(home) => Some(format!("event:{}", home.event_id)),
            Event::Done(_) | Event::Progress { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommandEvent {
    pub trigger_id: String,
    pub user: String,
    pub channel: String,
    pub command: String,
    pub text: String,
    pub response_url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionEvent {
    pub trigger_id: String,
    pub user: String,
    pub channel: String,
    pub message_ts: String,
    pub action_id: String,
    pub value: String,
    pub response_url: Option<String>,
    /// The payload's own trigger id, for opening a modal in answer (`trigger_id`
    /// above is made per action, for deduplication).
    pub slack_trigger_id: String,
}

/// A `view_submission`: what the person typed into a modal's inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewEvent {
    /// The submission's trigger id, or the view's id and hash when Slack sent none.
    pub dedup_key: String,
    pub user: String,
    pub view_id: String,
    pub callback_id: String,
    /// What the bot put in the view when it opened it (`<run-id>:<version>`).
    pub private_metadata: String,
    /// `block_id` → `action_id` → the text typed.
    pub values: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
}
