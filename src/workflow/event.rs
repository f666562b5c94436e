//! Events: everything the consumer handles, in one queue. People's commands and
//! button presses come from the Slack listener; job updates come from the bot's own
//! long-running jobs.

use crate::ids::RunId;
use crate::workflow::effect::Message;

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Command(CommandEvent),
    Action(ActionEvent),
    Job(JobEvent),
}

impl Event {
    /// The key under which the event is recorded as handled, for events that may
    /// arrive twice (Slack redelivers an envelope it thinks was not acked).
    pub fn dedup_key(&self) -> Option<String> {
        match self {
            Event::Command(command) => Some(format!("trigger:{}", command.trigger_id)),
            Event::Action(action) => Some(format!("trigger:{}", action.trigger_id)),
            Event::Job(_) => None,
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
}

/// A running job reporting on itself.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEvent {
    pub run_id: RunId,
    pub update: JobUpdate,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobUpdate {
    /// New content for the job's message while it works.
    Progress(Message),
    /// The job is over: its final message, and what to keep in the audit log.
    Finished {
        message: Message,
        /// One audit entry each (an applied rollback audits every change).
        audit_details: Vec<String>,
    },
}
