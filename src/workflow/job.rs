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
    /// Set for jobs started by a button rather than by the command itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// A short, stable run id for the trigger that started a job: people read and
/// quote run ids, and Slack trigger ids are 60 characters long.
fn run_id_for(trigger_id: &str) -> RunId {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(trigger_id.as_bytes());
    RunId(format!("run-{}", &hex::encode(digest)[..10]))
}

fn message_key(run_id: &RunId) -> String {
    format!("{}/message", run_id.0)
}

/// A button press on a job's message that starts a follow-up job editing that
/// same message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Decision {
    /// Apply (or cancel) a rollback plan; `value` is what its buttons carry.
    Rollback { value: RollbackButton, apply: bool },
}

/// What a rollback plan's buttons carry. None of its parts can contain a space:
/// run ids are built from Slack trigger ids, `sha` is hex, user ids are `U…`, and a
/// git ref with a space is refused by the grammar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackButton {
    /// The plan's job, whose message the buttons are on.
    pub plan_run: String,
    /// The resolved commit, so Apply does what the plan showed even if a branch moved.
    pub sha: String,
    pub proposer: String,
    pub git_ref: String,
}

impl RollbackButton {
    pub fn encode(&self) -> String {
        format!(
            "{} {} {} {}",
            self.plan_run, self.sha, self.proposer, self.git_ref
        )
    }

    pub fn decode(value: &str) -> Option<Self> {
        let mut parts = value.split(' ');
        let decoded = RollbackButton {
            plan_run: parts.next()?.to_string(),
            sha: parts.next()?.to_string(),
            proposer: parts.next()?.to_string(),
            git_ref: parts.next()?.to_string(),
        };
        parts.next().is_none().then_some(decoded)
    }

    /// Key of the message the buttons are on (the plan job's message).
    pub fn message_key(&self) -> String {
        message_key(&RunId(self.plan_run.clone()))
    }
}

impl JobRecord {
    /// A job for `command`, named after the Slack trigger that asked for it.
    pub fn new(
        trigger_id: &str,
        command: Command,
        requester: Requester,
        started_at: DateTime<Utc>,
    ) -> Self {
        let run_id = run_id_for(trigger_id);
        Self {
            message_key: message_key(&run_id),
            run_id,
            command,
            requester,
            started_at,
            decision: None,
        }
    }

    /// A follow-up job for a button press, editing the message `message_key`.
    pub fn for_decision(
        trigger_id: &str,
        command: Command,
        requester: Requester,
        message_key: String,
        decision: Decision,
        started_at: DateTime<Utc>,
    ) -> Self {
        Self {
            run_id: run_id_for(trigger_id),
            command,
            requester,
            message_key,
            started_at,
            decision: Some(decision),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_buttons_round_trip_and_reject_extras() {
        let value = RollbackButton {
            plan_run: "job-123.456".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            proposer: "U0PM".into(),
            git_ref: "v0.1.0".into(),
        };
        assert_eq!(RollbackButton::decode(&value.encode()), Some(value.clone()));
        assert_eq!(value.message_key(), "job-123.456/message");
        assert_eq!(RollbackButton::decode("a b c"), None);
        assert_eq!(
            RollbackButton::decode(&format!("{} extra", value.encode())),
            None
        );
    }
}
