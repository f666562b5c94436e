//! Wires the bot together and owns its tasks: the Socket Mode listener feeding the
//! inbox, one consumer task that handles events in order, and the executor that
//! performs effects. The only module that spawns tasks.
//!
//! The consumer's loop is the heart of the durability rule: handle an event, then
//! commit its dedup key, audit entries and effects in one transaction, flush, and
//! only then wake the executor. A crash before the commit means the event was never
//! acknowledged as handled (Slack's redelivery or the person's retry handles it); a
//! crash after it means the executor replays the outbox on start.

use crate::clock::Clock;
use crate::config::Config;
use crate::handlers::{self, Context, Outcome};
use crate::jobs::JobLauncher;
use crate::services::Services;
use crate::slack::api::SlackApi;
use crate::slack::listener::{Inbox, Listener};
use crate::store::AuditEntry;
use crate::store::{Batch, CommitOutcome, Store};
use crate::workflow::effect::{Effect, Message, Update};
use crate::workflow::event::{Event, JobEvent, JobUpdate};
use crate::workflow::executor::Executor;
use crate::workflow::job::JobRecord;
use anyhow::Context as _;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Events waiting for the consumer. Beyond this the listener answers "busy" instead
/// of blocking its acknowledgement.
const QUEUE_CAPACITY: usize = 4_096;

/// A started bot. Dropping it without [`RunningBot::shutdown`] leaves tasks running.
pub struct RunningBot {
    listener: Listener,
    inbox: Arc<Inbox>,
    jobs: JobLauncher,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    store: Store,
}

impl RunningBot {
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops listening, lets the consumer and executor finish what they hold, and
    /// closes the store.
    pub async fn shutdown(self) {
        self.listener.shutdown().await;
        self.inbox.close();
        // A job cut short is started again on the next start (jobs are repeatable).
        self.jobs.abort_all();
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Opens the store, replays its outbox, connects to Slack and starts serving.
pub async fn start(config: Config, clock: Clock) -> anyhow::Result<RunningBot> {
    let config = Arc::new(config);
    let store_path = config.store_path();
    let store = tokio::task::spawn_blocking(move || Store::open(&store_path))
        .await
        .context("while opening the store")??;
    let slack = SlackApi::new(&config);
    let (stop, stopped) = watch::channel(false);

    let executor = Executor::new(store.clone(), slack.clone());
    let executor_task = tokio::spawn(executor.clone().run(wait_for(stopped.clone())));

    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let services = Arc::new(
        Services::from_config(&config, clock.clone(), slack.clone())
            .context("while setting up the adapters")?,
    );
    let jobs = JobLauncher::new(services, sender.clone());
    let inbox = Arc::new(Inbox::new(sender, store.clone(), config.command_name()));
    let consumer = Consumer {
        config: config.clone(),
        store: store.clone(),
        clock,
        inbox: inbox.clone(),
        executor,
        jobs: jobs.clone(),
    };
    let consumer_task = tokio::spawn(consumer.run(receiver, wait_for(stopped)));
    resume_jobs(&store, &jobs)?;

    let listener =
        match Listener::start(&slack, inbox.clone(), config.file.slack.socket_connections).await {
            Ok(listener) => listener,
            Err(err) => {
                inbox.close();
                let _ = stop.send(true);
                return Err(err);
            }
        };
    tracing::info!(command = config.command_name(), "lockstep is listening");
    Ok(RunningBot {
        listener,
        inbox,
        jobs,
        stop,
        tasks: vec![consumer_task, executor_task],
        store,
    })
}

/// Starts again every job that was running when the bot last stopped.
fn resume_jobs(store: &Store, jobs: &JobLauncher) -> anyhow::Result<()> {
    for (run_id, state) in store.runs()? {
        match JobRecord::from_json(&state) {
            Some(record) => {
                tracing::info!(run = %run_id, "resuming a job that was running at the last stop");
                jobs.launch(record);
            }
            None => {
                tracing::warn!(run = %run_id, "a stored run is not a job this version knows; leaving it")
            }
        }
    }
    Ok(())
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn run_until_signal(config: Config, clock: Clock) -> anyhow::Result<()> {
    let bot = start(config, clock).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    bot.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Handles events one at a time, in arrival order.
struct Consumer {
    config: Arc<Config>,
    store: Store,
    clock: Clock,
    inbox: Arc<Inbox>,
    executor: Executor,
    jobs: JobLauncher,
}

impl Consumer {
    async fn run(
        self,
        mut receiver: mpsc::Receiver<Event>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let event = tokio::select! {
                _ = &mut shutdown => break,
                event = receiver.recv() => match event {
                    Some(event) => event,
                    None => return,
                },
            };
            self.consume_in_span(event).await;
        }
        // Everything queued was acked to Slack, which will not send it again:
        // record it before stopping (its effects run at the next start if need be).
        receiver.close();
        while let Some(event) = receiver.recv().await {
            self.consume_in_span(event).await;
        }
    }

    async fn consume_in_span(&self, event: Event) {
        let span = event_span(&event);
        self.consume(event).instrument(span).await;
    }

    async fn consume(&self, event: Event) {
        let key = event.dedup_key();
        let now = self.clock.now();
        let context = Context {
            config: &self.config,
            store: &self.store,
            now,
        };
        let outcome = match &event {
            Event::Command(command) => handlers::handle_command(&context, command),
            Event::Action(action) => handlers::handle_action(&context, action),
            Event::Job(job) => self.job_outcome(job, now),
        };
        let Outcome {
            effects,
            audit,
            jobs,
            finished,
        } = outcome;
        let mut runs: Vec<_> = jobs
            .iter()
            .map(|job| (job.run_id.clone(), Some(job.to_json())))
            .collect();
        runs.extend(finished.into_iter().map(|run_id| (run_id, None)));
        let batch = Batch {
            dedup_key: key.clone(),
            runs,
            effects,
            audit,
            ..Batch::default()
        };
        match self.store.commit(batch, now).await {
            Ok(CommitOutcome::Committed) => {
                self.executor.wake();
                jobs.into_iter().for_each(|job| self.jobs.launch(job));
            }
            Ok(CommitOutcome::AlreadySeen) => {
                tracing::info!("event already handled; ignoring the redelivery")
            }
            // Not acknowledged as handled: the person sees nothing and may retry.
            Err(err) => {
                tracing::error!(error = %err, "cannot record the event; it was not handled")
            }
        }
        if let Some(key) = key {
            self.inbox.settled(&key);
        }
    }

    /// A job's progress edits its message; its end also closes the run and audits it.
    fn job_outcome(&self, event: &JobEvent, now: chrono::DateTime<chrono::Utc>) -> Outcome {
        let record = match self.store.run(&event.run_id) {
            Ok(Some(state)) => JobRecord::from_json(&state),
            Ok(None) => None,
            Err(err) => {
                tracing::error!(run = %event.run_id, error = %err, "cannot read a job's record");
                None
            }
        };
        let Some(record) = record else {
            // Finished already (a resumed job's twin) or unknown: nothing to edit.
            return Outcome::default();
        };
        match &event.update {
            JobUpdate::Progress(message) => Outcome {
                effects: vec![update(&record, message.clone())],
                ..Outcome::default()
            },
            JobUpdate::Finished {
                message,
                audit_details,
            } => Outcome {
                effects: vec![update(&record, message.clone())],
                audit: audit_details
                    .iter()
                    .map(|detail| AuditEntry {
                        at: now,
                        actor: record.requester.user.clone(),
                        action: record.command.subcommand().name().to_string(),
                        detail: detail.clone(),
                        run_id: Some(record.run_id.clone()),
                    })
                    .collect(),
                finished: vec![record.run_id.clone()],
                ..Outcome::default()
            },
        }
    }
}

fn update(record: &JobRecord, message: Message) -> Effect {
    Effect::Update(Update {
        key: record.message_key.clone(),
        message: handlers::with_requester(message, &record.requester.user),
    })
}

fn event_span(event: &Event) -> tracing::Span {
    match event {
        Event::Job(job) => tracing::info_span!("job", run = %job.run_id),
        Event::Command(command) => tracing::info_span!(
            "command",
            user = %command.user,
            channel = %command.channel,
            command = %first_word(&command.text),
        ),
        Event::Action(action) => tracing::info_span!(
            "action",
            user = %action.user,
            channel = %action.channel,
            action = %action.action_id,
        ),
    }
}

/// The subcommand only: the rest may hold a reason or other free text.
fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("help")
}
