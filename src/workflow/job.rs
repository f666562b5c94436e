//! Job records: a long operation (reading whole sites, committing to git, running
//! the checklist) that must not hold up the consumer. A job is stored as a run in
//! the same transaction as the message that announces it, runs as a task, and
//! reports back through [`crate::workflow::event::JobEvent`]s, which the consumer
//! turns into edits of that message and an audit entry. A job still in the store
//! when the bot starts is started again, so every job must be safe to repeat.

use crate::command::Command;
use crate::ids::RunId;
use crate::workflow::effect::Requester;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub run_id: RunId,
    /// The command that started the job; parsed again on load, so it is valid.
    pub command: Command,
    pub requester: Requester,
    /// Key of the in-channel message the job edits as it progresses.
    pub message_key: String,
    pub started_at: DateTime<Utc>,
}

impl JobRecord {
    /// A job for `command`, named after the Slack trigger that asked for it.
    pub fn new(
        trigger_id: &str,
        command: Command,
        requester: Requester,
        started_at: DateTime<Utc>,
    ) -> Self {
        let run_id = RunId(format!("job-{trigger_id}"));
        Self {
            message_key: format!("{}/message", run_id.0),
            run_id,
            command,
            requester,
            started_at,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("job records are plain data")
    }

    /// Reads a stored run back; `None` for runs that are not jobs.
    pub fn from_json(value: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }
}
