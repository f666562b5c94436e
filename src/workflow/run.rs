//! Runs: one durable value per piece of work the bot carries across time — a report
//! being read, a push or pull, a rollback waiting for its decision, a promotion, a
//! release. A run is stored (versioned, [`StoredRun`]) and moved only by its kind's
//! pure `step`, which returns a [`Transition`]: the effects to perform, the audit
//! entries, the lock changes. The consumer commits the new run and the transition
//! in one store transaction before anything is performed.

use crate::command::Command;
use crate::config::Config;
use crate::ids::RunId;
use crate::store::{AuditEntry, EnvLock};
use crate::workflow::effect::{Block, Effect, Message, Post, Reply, Requester, Update, Work};
use crate::workflow::op::{Op, OpResult};
use crate::workflow::{promotion, read, rollback, ship, sync};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The stored format of runs. Bumped when a run's shape changes incompatibly; a
/// store holding a newer format is named at start-up, never skipped.
pub const RUN_FORMAT: u32 = 1;

/// A run as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRun {
    pub format: u32,
    pub run: Run,
}

impl StoredRun {
    pub fn new(run: Run) -> Self {
        StoredRun {
            format: RUN_FORMAT,
            run,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Run {
    /// diff, review, promote --dry-run: one read, one report.
    Read(read::ReadRun),
    Pull(sync::PullRun),
    Push(sync::PushRun),
    Rollback(rollback::RollbackRun),
    Promotion(Box<promotion::PromotionRun>),
    Ship(Box<ship::ShipRun>),
}

/// What every run carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    pub id: RunId,
    /// The command that started the run, parsed.
    pub command: Command,
    pub requester: Requester,
    pub started_at: DateTime<Utc>,
    /// Bumped on every change of state: a button carries the version that offered
    /// it, and a press is taken only while the run is still at that version.
    pub version: u64,
    /// The next number for an effect key (`<run>/<step>/<n>`).
    pub seq: u32,
    /// The stack the run acts on (`[stacks.<name>]`); "" for a single-stack file, and
    /// for runs recorded before stacks existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stack: String,
}

impl RunHeader {
    pub fn new(id: RunId, command: Command, requester: Requester, now: DateTime<Utc>) -> Self {
        RunHeader {
            id,
            command,
            requester,
            started_at: now,
            version: 1,
            seq: 0,
            stack: String::new(),
        }
    }

    /// The same header, for a run of `stack`.
    pub fn in_stack(mut self, stack: &str) -> Self {
        self.stack = stack.to_string();
        self
    }

    /// The store key of environment `env`'s lock for this run's stack.
    pub fn lock_key(&self, env: &str) -> String {
        crate::stacks::stack_key(&self.stack, env)
    }

    /// A fresh key for the run's next effect: `<run>/<step>/<n>`.
    pub fn key(&mut self, step: &str) -> String {
        self.seq += 1;
        format!("{}/{step}/{}", self.id, self.seq)
    }

    /// The run's own message in the channel (edited as it progresses; the root of
    /// its thread).
    pub fn root_key(&self) -> String {
        format!("{}/message", self.id)
    }
}

impl Run {
    pub fn header(&self) -> &RunHeader {
        match self {
            Run::Read(run) => &run.header,
            Run::Pull(run) => &run.header,
            Run::Push(run) => &run.header,
            Run::Rollback(run) => &run.header,
            Run::Promotion(run) => &run.header,
            Run::Ship(run) => &run.header,
        }
    }

    pub fn id(&self) -> &RunId {
        &self.header().id
    }

    /// Over: nothing more will happen to it (kept or removed by its kind).
    pub fn is_finished(&self) -> bool {
        match self {
            Run::Read(run) => run.finished,
            Run::Pull(run) => run.is_finished(),
            Run::Push(run) => run.is_finished(),
            Run::Rollback(run) => run.is_finished(),
            Run::Promotion(run) => run.state.is_terminal(),
            Run::Ship(run) => run.state.is_terminal(),
        }
    }

    /// Whether a finished run is kept as history or dropped (its audit entries say
    /// what it did). Promotions are kept for `status`, `ship` and the figures;
    /// releases for `status` and for what the next `ship` may do; rollbacks because
    /// their buttons outlive them: a late press is told who decided.
    pub fn keep_when_finished(&self) -> bool {
        matches!(self, Run::Promotion(_) | Run::Rollback(_) | Run::Ship(_))
    }

    /// One line for `status`: what the run is doing now.
    pub fn state_line(&self) -> String {
        match self {
            Run::Read(_) => "reading".to_string(),
            Run::Pull(run) => run.state_line(),
            Run::Push(run) => run.state_line(),
            Run::Rollback(run) => run.state_line(),
            Run::Promotion(run) => run.state.describe().to_string(),
            Run::Ship(run) => run.state_line(),
        }
    }

    /// Moves the run by one input. Pure: reads the run, the input and `ctx`, changes
    /// the run and returns what must happen.
    pub fn step(&mut self, input: &Input, ctx: &StepContext) -> Transition {
        match self {
            Run::Read(run) => run.step(input, ctx),
            Run::Pull(run) => run.step(input, ctx),
            Run::Push(run) => run.step(input, ctx),
            Run::Rollback(run) => run.step(input, ctx),
            Run::Promotion(run) => run.step(input, ctx),
            Run::Ship(run) => run.step(input, ctx),
        }
    }
}

/// What the step functions may look at besides the run and the input.
pub struct StepContext<'a> {
    pub now: DateTime<Utc>,
    pub config: &'a Config,
}

/// Who the person pressing or typing is, resolved before `step` (user groups are
/// asked of Slack), so `step` stays pure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    pub promoter: bool,
    pub approver: bool,
    pub admin: bool,
}

/// A button press on one of the run's messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Press {
    pub user: String,
    /// The action's name (the part of the action id after the run kind).
    pub action: String,
    /// The run version the button was offered at.
    pub version: u64,
    pub roles: Roles,
    /// How to answer the presser privately.
    pub reply_to: Option<Requester>,
    pub at: DateTime<Utc>,
    /// The press's Slack trigger id: a modal may be opened in answer, once, within
    /// 3 seconds.
    pub trigger_id: Option<String>,
}

/// A modal submitted: the text typed, for the run and version that opened it.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub user: String,
    pub callback_id: String,
    /// The run version the modal was opened at.
    pub version: u64,
    /// `block_id` → `action_id` → text.
    pub values: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    pub roles: Roles,
    pub at: DateTime<Utc>,
}

impl Submission {
    /// The text typed into one input.
    pub fn value(&self, block_id: &str, action_id: &str) -> Option<&str> {
        self.values
            .get(block_id)?
            .get(action_id)
            .map(String::as_str)
    }
}

/// What moves a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The run was just created: issue its first effects.
    Start,
    /// An effect of the run was performed.
    Done {
        key: String,
        result: OpResult,
    },
    Press(Press),
    /// A modal the run opened was submitted.
    Submit(Submission),
    /// The same command again while the run is in flight (a re-run of promote for
    /// the same feature updates the run's branch and PR).
    Again {
        user: String,
        command: Command,
        reply_to: Requester,
    },
}

/// What a step decided.
#[derive(Debug, Default, PartialEq)]
pub struct Transition {
    pub effects: Vec<Effect>,
    pub audit: Vec<AuditEntry>,
    pub locks: Vec<(String, Option<EnvLock>)>,
    /// Drop the run's Work effects still waiting in the outbox (it failed part way:
    /// what was queued after must not run).
    pub drop_pending_work: bool,
    /// Drop only the run's pending reads and timers (a poll superseded by a decision).
    pub drop_pending_reads: bool,
}

impl Transition {
    pub fn work(&mut self, header: &mut RunHeader, step: &str, op: Op) -> String {
        self.work_after(header, step, op, None)
    }

    /// Work held until `not_before` (a poll after its wait).
    pub fn work_after(
        &mut self,
        header: &mut RunHeader,
        step: &str,
        op: Op,
        not_before: Option<DateTime<Utc>>,
    ) -> String {
        let key = header.key(step);
        self.effects.push(Effect::Work(Work {
            key: key.clone(),
            run_id: header.id.clone(),
            stack: header.stack.clone(),
            op,
            not_before,
        }));
        key
    }

    /// Edits the run's own message (with the "Requested by" line).
    pub fn update_root(&mut self, header: &RunHeader, message: Message) {
        self.effects.push(Effect::Update(Update {
            key: header.root_key(),
            message: with_requester(message, &header.requester.user),
        }));
    }

    /// Posts the run's own message in the channel.
    pub fn post_root(&mut self, header: &RunHeader, message: Message) {
        self.effects.push(Effect::Post(Post {
            key: header.root_key(),
            channel: header.requester.channel.clone(),
            thread_of: None,
            message: with_requester(message, &header.requester.user),
            broadcast: false,
            on_refusal: Some(header.requester.clone()),
        }));
    }

    /// A reply in the run's thread; `broadcast` also shows it in the channel.
    pub fn reply(
        &mut self,
        header: &mut RunHeader,
        step: &str,
        message: Message,
        broadcast: bool,
    ) -> String {
        let key = header.key(step);
        self.effects.push(Effect::Post(Post {
            key: key.clone(),
            channel: header.requester.channel.clone(),
            thread_of: Some(header.root_key()),
            message,
            broadcast,
            on_refusal: None,
        }));
        key
    }

    /// Edits a message posted earlier under `key`.
    pub fn update(&mut self, key: &str, message: Message) {
        self.effects.push(Effect::Update(Update {
            key: key.to_string(),
            message,
        }));
    }

    /// A private answer to someone (a refused press, a refused re-run).
    /// A press refused: the presser alone is told why, and the refusal is audited.
    pub fn refuse_press(&mut self, header: &RunHeader, press: &Press, why: &str) {
        self.tell(
            press.reply_to.as_ref(),
            Message::text(format!(":no_entry: {why} Nothing was changed.")),
        );
        self.audit(
            header,
            press.at,
            &press.user,
            format!("refused a press of {}: {why}", press.action),
        );
    }

    /// A press on a button that is no longer on offer: the presser alone hears who
    /// decided first, or else `otherwise` (where the run stands now).
    pub fn tell_stale_press(
        &mut self,
        press: &Press,
        decided: Option<&(String, String)>,
        otherwise: String,
    ) {
        let text = match decided {
            Some((who, what)) => {
                format!("This was already decided by <@{who}> ({what}), so your press did nothing.")
            }
            None => otherwise,
        };
        self.tell(press.reply_to.as_ref(), Message::text(text));
    }

    pub fn tell(&mut self, to: Option<&Requester>, message: Message) {
        if let Some(to) = to {
            self.effects.push(Effect::Respond(Reply {
                response_url: to.response_url.clone(),
                channel: to.channel.clone(),
                user: to.user.clone(),
                message,
                replace_original: false,
            }));
        }
    }

    pub fn audit(&mut self, header: &RunHeader, at: DateTime<Utc>, actor: &str, detail: String) {
        self.audit.push(AuditEntry {
            at,
            actor: actor.to_string(),
            action: header.command.subcommand().name().to_string(),
            detail,
            run_id: Some(header.id.clone()),
        });
    }
}

/// Adds the "Requested by" line every in-channel message of a command carries.
pub fn with_requester(mut message: Message, user: &str) -> Message {
    message
        .blocks
        .push(Block::Context(format!("Requested by <@{user}>")));
    message
}

/// A button offered by a run at its current version. Its value carries only the run
/// id and that version; who may press it and what it does come from the stored run.
pub fn offer(
    header: &RunHeader,
    action_id: &str,
    text: &str,
    style: Option<crate::workflow::effect::ButtonStyle>,
) -> crate::workflow::effect::Button {
    crate::workflow::effect::Button {
        action_id: action_id.to_string(),
        text: text.to_string(),
        value: ButtonValue {
            run_id: header.id.clone(),
            version: header.version,
        }
        .encode(),
        style,
    }
}

/// What a button's value says: which run, at which version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonValue {
    pub run_id: RunId,
    pub version: u64,
}

impl ButtonValue {
    pub fn encode(&self) -> String {
        format!("{}:{}", self.run_id, self.version)
    }

    /// `None` for anything that is not exactly `<run-id>:<version>`.
    pub fn decode(value: &str) -> Option<Self> {
        let (run, version) = value.split_once(':')?;
        let valid_run = run.starts_with("run-")
            && run.len() <= 40
            && run[4..].chars().all(|c| c.is_ascii_alphanumeric());
        let version = version.parse::<u64>().ok()?;
        (valid_run && !version.to_string().is_empty()).then(|| ButtonValue {
            run_id: RunId(run.to_string()),
            version,
        })
    }
}

#[cfg(test)]
mod button_tests {
    use super::*;

    #[test]
    fn button_values_round_trip_and_refuse_anything_else() {
        let value = ButtonValue {
            run_id: RunId("run-0a1b2c3d4e".into()),
            version: 7,
        };
        assert_eq!(ButtonValue::decode(&value.encode()), Some(value));
        for bad in [
            "",
            "run-1",
            "run-1:x",
            "run-1:7:U0ADMIN",
            "run-1 :7",
            "job-1:7",
            "run-1:-7",
            "run-1:7 abc",
        ] {
            assert_eq!(ButtonValue::decode(bad), None, "{bad:?}");
        }
    }
}
