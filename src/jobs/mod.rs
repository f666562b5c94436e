//! Running jobs: each job is a task that reads and writes through the adapters in
//! [`Services`] and reports back as [`JobEvent`]s on the consumer's queue. It never
//! touches the store or Slack itself; the consumer turns its reports into effects.
//! One file per job.

mod apply;
mod checklist;
mod diff;
mod pull;
mod push;
mod review;
mod reviewer;
pub mod rollback;
mod shell;
mod tester;

use crate::command::Command;
use crate::error::user_facing;
use crate::services::Services;
use crate::workflow::effect::Message;
use crate::workflow::event::{Event, JobEvent, JobUpdate};
use crate::workflow::job::{Decision, JobRecord};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Starts jobs and keeps their handles so a shutdown can stop them.
#[derive(Clone)]
pub struct JobLauncher {
    services: Arc<Services>,
    sender: mpsc::Sender<Event>,
    running: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl JobLauncher {
    pub fn new(services: Arc<Services>, sender: mpsc::Sender<Event>) -> Self {
        Self {
            services,
            sender,
            running: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn launch(&self, record: JobRecord) {
        let reporter = Reporter {
            record: record.clone(),
            sender: self.sender.clone(),
        };
        let task = tokio::spawn(run(record, self.services.clone(), reporter));
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        running.retain(|task| !task.is_finished());
        running.push(task);
    }

    pub fn abort_all(&self) {
        let running = std::mem::take(
            &mut *self
                .running
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        );
        running.iter().for_each(JoinHandle::abort);
    }
}

/// How a job reports on itself.
pub struct Reporter {
    record: JobRecord,
    sender: mpsc::Sender<Event>,
}

impl Reporter {
    pub async fn progress(&self, message: Message) {
        self.send(JobUpdate::Progress(message)).await;
    }

    /// Progress from synchronous code (a callback). A full queue drops the note:
    /// progress is only a preview, the job's end is always delivered.
    pub fn progress_now(&self, message: Message) {
        let event = Event::Job(JobEvent {
            run_id: self.record.run_id.clone(),
            update: JobUpdate::Progress(message),
        });
        let _ = self.sender.try_send(event);
    }

    async fn finish(&self, message: Message, audit_details: Vec<String>) {
        self.send(JobUpdate::Finished {
            message,
            audit_details,
        })
        .await;
    }

    async fn send(&self, update: JobUpdate) {
        let event = Event::Job(JobEvent {
            run_id: self.record.run_id.clone(),
            update,
        });
        // The queue is closed only at shutdown; the job runs again at the next start.
        let _ = self.sender.send(event).await;
    }
}

/// What a finished job says in the channel and keeps in the audit log.
pub struct JobResult {
    pub message: Message,
    /// One audit entry each.
    pub audit: Vec<String>,
}

/// Runs a job to its end and reports that end, whatever happens: an error or even a
/// panic in the job becomes its final message, so no run stays "in flight" forever.
async fn run(record: JobRecord, services: Arc<Services>, reporter: Reporter) {
    let work = std::panic::AssertUnwindSafe(perform(&record, services, &reporter));
    let result = match futures::FutureExt::catch_unwind(work).await {
        Ok(result) => result,
        Err(_) => Err(anyhow::anyhow!(
            "the job stopped unexpectedly (a bug in lockstep)"
        )),
    };
    match result {
        Ok(JobResult { message, audit }) => reporter.finish(message, audit).await,
        Err(err) => {
            let text = user_facing(&err);
            reporter
                .finish(
                    Message::text(format!(":x: {text}")),
                    vec![format!("failed: {text}")],
                )
                .await
        }
    }
}

async fn perform(
    record: &JobRecord,
    services: Arc<Services>,
    reporter: &Reporter,
) -> anyhow::Result<JobResult> {
    match (&record.decision, &record.command) {
        (Some(Decision::Rollback { value, apply }), _) => {
            let decided = rollback::Decided {
                value,
                decider: &record.requester.user,
                apply: *apply,
            };
            rollback::decide(&services, decided, reporter).await
        }
        (_, Command::Diff { site }) => diff::run(&services, *site, reporter).await,
        (_, Command::Pull) => pull::run(&services, &record.requester.user, reporter).await,
        (_, Command::Push { dry_run }) => push::run(&services, *dry_run, reporter).await,
        (
            _,
            Command::Promote {
                dry_run: true,
                only,
                emergency,
                ..
            },
        ) => checklist::dry_run(services.clone(), only, emergency.as_ref(), reporter).await,
        (_, Command::Review { since, blueprint }) => {
            review::run(&services, since.as_ref(), blueprint.as_deref(), reporter).await
        }
        (_, Command::Rollback { git_ref, dry_run }) => {
            rollback::plan(&services, git_ref.as_str(), *dry_run, record, reporter).await
        }
        (_, other) => Err(anyhow::anyhow!(
            "`{}` does not run as a job",
            other.subcommand().name()
        )),
    }
}
