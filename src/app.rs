//! Wires the bot together and owns its tasks: the Socket Mode listener feeding the
//! inbox, one consumer task that handles events in order, and the executor that
//! performs effects. The only module that spawns tasks or reads the environment.
//!
//! The consumer's loop is the heart of the durability rule: an event moves at most
//! one run by its pure `step`; the run's new state, the effects the step returned,
//! its audit entries, its lock changes, the event's dedup key and (for an outcome)
//! the removal of the performed effect are committed in one transaction and
//! flushed; only then is the executor woken. A crash before the commit leaves the
//! event unhandled (Slack's redelivery or the performed effect's replay handles
//! it); a crash after it leaves an outbox the executor replays on start.

use crate::access;
use crate::clock::Clock;
use crate::commands::{self, Context, Performers, StackPerformers};
use crate::config::{AccessSection, Config};
use crate::slack::api::SlackApi;
use crate::slack::listener::{Inbox, Listener};
use crate::stacks::{NoStack, Stack, Stacks};
use crate::store::{Batch, CommitOutcome, Store};
use crate::workflow::effect::{Effect, Message};
use crate::workflow::event::{ActionEvent, CommandEvent, DoneEvent, Event};
use crate::workflow::executor::{Executor, Observer, OnPause, PausePoint};
use crate::workflow::run::{Input, Roles, Run, StepContext, Transition};
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
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    store: Store,
    /// Set when the bot cannot go on (its store found damaged while recovering).
    fatal: watch::Receiver<Option<String>>,
    /// Where `/metrics` listens, when `[metrics]` is configured.
    metrics_addr: Option<std::net::SocketAddr>,
    /// How many scheduled drift checks the watcher finished.
    watch_checks: watch::Receiver<u64>,
}

impl RunningBot {
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Counts the drift watcher's finished checks (posted or not), so a caller can
    /// wait for one instead of guessing how long it takes.
    pub fn watch_checks(&self) -> watch::Receiver<u64> {
        self.watch_checks.clone()
    }

    /// The address `/metrics`, `/healthz` and `/readyz` are served on, if any.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    /// Whether the bot can take work now: it is running and its store can be
    /// written. False while the store's disk fails; true again once it recovered
    /// (for a `/readyz` probe).
    pub fn is_ready(&self) -> bool {
        !*self.stop.borrow() && self.fatal.borrow().is_none() && self.store.is_writable()
    }

    /// Resolves with the reason when the bot cannot go on and must exit, so its
    /// supervisor restarts it or an operator looks.
    pub async fn fatal(&self) -> String {
        let mut fatal = self.fatal.clone();
        let reason = match fatal.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        match reason {
            Some(reason) => reason,
            None => std::future::pending().await,
        }
    }

    /// Stops listening, lets the consumer finish what it holds, stops the executor
    /// (work in progress is performed again, checked first, at the next start) and
    /// closes the store.
    pub async fn shutdown(self) {
        self.listener.shutdown().await;
        self.inbox.close();
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// How a test (or `LOCKSTEP_PAUSE_AT`) stops the bot mid-run, as a crash would.
#[derive(Default, Clone)]
pub struct StartOptions {
    pub pause: Option<(PausePoint, OnPause)>,
    /// Told of every effect boundary (tests that enumerate them).
    pub observe: Option<Observer>,
}

/// Opens the store, replays its outbox, connects to Slack and starts serving.
pub async fn start(config: Config, clock: Clock) -> anyhow::Result<RunningBot> {
    start_with(config, clock, StartOptions::default()).await
}

pub async fn start_with(
    config: Config,
    clock: Clock,
    options: StartOptions,
) -> anyhow::Result<RunningBot> {
    let config = Arc::new(config);
    let store = open_store(
        config.store_path(),
        config.file.store.cache_mb.saturating_mul(1024 * 1024),
    )
    .await?;
    let slack = SlackApi::new(&config);
    let stacks = Arc::new(Stacks::resolve(&config, &slack)?);
    for stack in stacks.iter() {
        for gap in stack.adapters.gaps() {
            tracing::warn!(stack = %stack.name, "{gap} Commands that need it will say so.");
        }
    }
    let (stop, stopped) = watch::channel(false);
    let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
    let performers = Arc::new(StackPerformers {
        by_stack: stacks
            .iter()
            .map(|stack| Performers {
                adapters: stack.adapters.clone(),
                config: stack.config.clone(),
                store: store.clone(),
                clock: clock.clone(),
                stack: stack.name.clone(),
            })
            .collect(),
    });
    let mut executor = Executor::new(store.clone(), slack.clone(), clock.clone())
        .with_work(performers, sender.clone());
    if let Some((point, on_pause)) = options.pause {
        executor = executor.with_pause(point, on_pause);
    }
    if let Some(observe) = options.observe {
        executor = executor.with_observer(observe);
    }
    let executor_task = tokio::spawn(executor.clone().run(wait_for(stopped.clone())));
    let executor_waker = executor.clone();
    let (watch_checks_sender, watch_checks) = watch::channel(0);
    let watch_checks_sender = Arc::new(watch_checks_sender);
    let watchers: Vec<crate::watch::Watcher> = stacks
        .iter()
        .filter_map(|stack| {
            Some(crate::watch::Watcher {
                stack: stack.name.clone(),
                config: stack.config.clone(),
                section: stack.config.file.watch.clone()?,
                store: store.clone(),
                adapters: stack.adapters.clone(),
                clock: clock.clone(),
                executor: executor.clone(),
                started_at: clock.now(),
                checks: watch_checks_sender.clone(),
            })
        })
        .collect();

    let inbox = Arc::new(
        Inbox::new(sender, store.clone(), config.command_name()).with_liveness(slack.liveness()),
    );
    let consumer = Consumer {
        config: config.clone(),
        store: store.clone(),
        stacks,
        slack: slack.clone(),
        clock,
        inbox: inbox.clone(),
        executor,
    };
    let consumer_task = tokio::spawn(consumer.run(receiver, wait_for(stopped.clone())));
    let (fatal_sender, fatal) = watch::channel(None);
    let health_task = tokio::spawn(keep_store_writable(
        store.clone(),
        executor_waker,
        fatal_sender,
        wait_for(stopped),
    ));

    let mut tasks = vec![consumer_task, executor_task, health_task];
    for watcher in watchers {
        tasks.push(tokio::spawn(watcher.run(wait_for(stop.subscribe()))));
    }
    let metrics_server = match bind_metrics(&config, &store, &slack, &stop, &fatal).await {
        Ok(server) => server,
        Err(err) => {
            inbox.close();
            let _ = stop.send(true);
            return Err(err);
        }
    };
    let listener = match Listener::start(
        &slack,
        &config.file.slack.api_url,
        inbox.clone(),
        config.file.slack.socket_connections,
    )
    .await
    {
        Ok(listener) => listener,
        Err(err) => {
            inbox.close();
            let _ = stop.send(true);
            return Err(err);
        }
    };
    tracing::info!(command = config.command_name(), "lockstep is listening");
    let mut metrics_addr = None;
    if let Some(server) = metrics_server {
        metrics_addr = server.local_addr().ok();
        tracing::info!(listen = ?metrics_addr, "serving /metrics, /healthz and /readyz");
        tasks.push(tokio::spawn(server.serve(wait_for(stop.subscribe()))));
        tasks.push(tokio::spawn(ping_slack(
            slack.clone(),
            wait_for(stop.subscribe()),
        )));
    }
    Ok(RunningBot {
        listener,
        inbox,
        stop,
        tasks,
        store,
        fatal,
        metrics_addr,
        watch_checks,
    })
}

/// Binds the `[metrics]` listener, when configured, with this bot's store and
/// readiness.
async fn bind_metrics(
    config: &Config,
    store: &Store,
    slack: &SlackApi,
    stop: &watch::Sender<bool>,
    fatal: &watch::Receiver<Option<String>>,
) -> anyhow::Result<Option<crate::metrics::server::MetricsServer>> {
    let Some(section) = &config.file.metrics else {
        return Ok(None);
    };
    let (stop, fatal, ready_store) = (stop.subscribe(), fatal.clone(), store.clone());
    let liveness = slack.liveness();
    let ready: crate::metrics::server::ReadyCheck =
        Arc::new(move || readiness(&stop, &fatal, &ready_store, &liveness));
    let server =
        crate::metrics::server::MetricsServer::bind(section.listen, store.clone(), ready).await?;
    Ok(Some(server))
}

/// `/readyz`: the bot runs, its store can be written, a Socket Mode connection said
/// hello and Slack answered recently.
fn readiness(
    stop: &watch::Receiver<bool>,
    fatal: &watch::Receiver<Option<String>>,
    store: &Store,
    liveness: &crate::metrics::server::Liveness,
) -> Result<(), String> {
    if *stop.borrow() {
        return Err("lockstep is shutting down".into());
    }
    if let Some(reason) = fatal.borrow().as_ref() {
        return Err(format!("lockstep cannot go on: {reason}"));
    }
    if let Some(reason) = store.unwritable_reason() {
        return Err(format!("the store cannot be written: {reason}"));
    }
    match liveness.slack_problem(crate::metrics::server::SLACK_FRESH) {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// Asks Slack's Web API who we are every [`crate::metrics::server::PING_EVERY`], so
/// `/readyz` knows Slack answers while no one types (slack-morphism keeps its
/// Socket Mode pings to itself).
async fn ping_slack(slack: SlackApi, shutdown: impl std::future::Future<Output = ()>) {
    let ping = async {
        let mut every = tokio::time::interval(crate::metrics::server::PING_EVERY);
        loop {
            every.tick().await;
            if let Err(err) = slack.auth_test().await {
                tracing::warn!(error = %err, "Slack did not answer the readiness ping");
            }
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = ping => {}
    }
}

/// Opens the store. A store held by an instance of the bot this process just shut
/// down is released once sled's background flush ends (a few milliseconds), so "in
/// use" is retried for a few seconds before it is reported.
async fn open_store(path: std::path::PathBuf, cache_bytes: u64) -> anyhow::Result<Store> {
    let mut wait = std::time::Duration::from_millis(20);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let attempt = path.clone();
        let opened = tokio::task::spawn_blocking(move || {
            Store::open_tuned(&attempt, Default::default(), cache_bytes)
        })
        .await
        .context("while opening the store")?;
        match opened {
            Err(crate::store::StoreError::InUse { .. })
                if tokio::time::Instant::now() + wait < deadline =>
            {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_millis(500));
            }
            other => return Ok(other?),
        }
    }
}

/// After a failed write the store refuses work; this reopens it with backoff until
/// the disk takes writes again (the bot is not ready meanwhile, and says so to
/// everyone who asks). A store found damaged on reopening cannot be served: the
/// reason goes to `fatal`, and `run` exits with it.
async fn keep_store_writable(
    store: Store,
    executor: Executor,
    fatal: watch::Sender<Option<String>>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(250);
    const MOST: std::time::Duration = std::time::Duration::from_secs(15);
    let mut health = store.watch_health();
    let work = async {
        loop {
            if health.wait_for(Option::is_some).await.is_err() {
                return;
            }
            let mut wait = FIRST;
            let mut attempt = 1u32;
            loop {
                tokio::time::sleep(wait).await;
                match store.recover().await {
                    Ok(()) => {
                        tracing::info!(
                            attempt,
                            "the store can be written again; lockstep is ready"
                        );
                        executor.wake();
                        break;
                    }
                    Err(err) if err.is_transient() => {
                        wait = (wait * 2).min(MOST);
                        tracing::warn!(attempt, error = %err, retry_in_ms = wait.as_millis() as u64, "the store still cannot be written; lockstep answers that it cannot record work");
                        attempt += 1;
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "the store cannot be served; stopping");
                        fatal.send_replace(Some(err.to_string()));
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = work => {}
    }
}

/// Serves until Ctrl-C or SIGTERM. `LOCKSTEP_PAUSE_AT=before:<key>|after:<key>`
/// stops the executor at that effect and says so on stderr (for crash tests that
/// `kill -9` the process there).
pub async fn run_until_signal(config: Config, clock: Clock) -> anyhow::Result<()> {
    let mut options = StartOptions::default();
    if let Ok(text) = std::env::var("LOCKSTEP_PAUSE_AT") {
        let point = PausePoint::parse(&text).with_context(|| {
            format!("LOCKSTEP_PAUSE_AT={text:?} is not before:<key> or after:<key>")
        })?;
        let on_pause: OnPause = Arc::new(|key: &str| {
            eprintln!("lockstep: paused at {key}");
        });
        options.pause = Some((point, on_pause));
    }
    let bot = start_with(config, clock, options).await?;
    let fatal = tokio::select! {
        _ = shutdown_signal() => None,
        reason = bot.fatal() => Some(reason),
    };
    tracing::info!("shutting down");
    bot.shutdown().await;
    match fatal {
        None => Ok(()),
        Some(reason) => Err(anyhow::anyhow!("lockstep stopped: {reason}")),
    }
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

/// Handles events one at a time, in arrival order. A command is handled by the stack
/// of its channel; a press, a submitted view or a performed effect by its run's.
struct Consumer {
    /// The whole file (the command's name); each stack has its own view of it.
    config: Arc<Config>,
    store: Store,
    stacks: Arc<Stacks>,
    slack: SlackApi,
    clock: Clock,
    inbox: Arc<Inbox>,
    executor: Executor,
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
            if matches!(
                event,
                Event::Command(_) | Event::Action(_) | Event::View(_) | Event::HomeOpened(_)
            ) {
                self.consume_in_span(event).await;
            }
        }
    }

    async fn consume_in_span(&self, event: Event) {
        let span = event_span(&event);
        let asker = Asker::of(&event);
        let key = event.dedup_key();
        let consumed =
            std::panic::AssertUnwindSafe(self.consume(event, asker.as_ref()).instrument(span));
        if futures::FutureExt::catch_unwind(consumed).await.is_err() {
            // The hook logged the panic under this reference; the person hears it.
            let incident = crate::error::take_panic_incident();
            if let Some(asker) = &asker {
                self.tell_directly(asker, commands::explain::bug(&asker.what, &incident))
                    .await;
            }
            if let Some(key) = key {
                self.inbox.settled(&key);
            }
        }
    }

    /// An answer that cannot wait for the outbox (the store is what failed, or the
    /// event could not be handled): straight to the person's response URL.
    async fn tell_directly(&self, asker: &Asker, text: String) {
        let message = Message::text(text);
        if let Err(err) = self
            .slack
            .respond(&asker.response_url, &message, false)
            .await
        {
            tracing::error!(error = %err, user = %asker.user, "cannot tell the person their request was not handled");
        }
    }

    async fn consume(&self, event: Event, asker: Option<&Asker>) {
        let key = event.dedup_key();
        let done_id = match &event {
            Event::Done(done) => Some(done.effect_id),
            _ => None,
        };
        let batch = match event {
            Event::Command(command) => self.on_command(&command).await,
            Event::Action(action) => self.on_action(&action).await,
            Event::View(view) => self.on_view(&view).await,
            Event::Done(done) => self.on_done(done),
            Event::Progress { run_id, message } => self.on_progress(&run_id, message),
            Event::HomeOpened(home) => self.on_home_opened(&home),
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(err) => {
                let incident = crate::error::IncidentRef::new();
                tracing::error!(%incident, error = %err, "cannot read the store to handle the event");
                if let Some(id) = done_id {
                    self.executor.retry_later(id);
                }
                if let Some(asker) = asker {
                    self.tell_directly(
                        asker,
                        commands::explain::not_recorded(&asker.what, &incident),
                    )
                    .await;
                }
                if let Some(key) = key {
                    self.inbox.settled(&key);
                }
                return;
            }
        };
        let now = self.clock.now();
        match self.store.commit(batch, now).await {
            Ok(CommitOutcome::Committed) => self.executor.wake(),
            Ok(CommitOutcome::AlreadySeen) => {
                tracing::info!("event already handled; ignoring the redelivery")
            }
            Err(err) => {
                let incident = crate::error::IncidentRef::new();
                tracing::error!(%incident, error = %err, "cannot record the event; it was not handled");
                if let Some(id) = done_id {
                    self.executor.retry_later(id);
                }
                if let Some(asker) = asker {
                    self.tell_directly(
                        asker,
                        commands::explain::not_recorded(&asker.what, &incident),
                    )
                    .await;
                }
            }
        }
        if let Some(key) = key {
            self.inbox.settled(&key);
        }
    }

    /// What `step` sees for a run of `stack`: now, and the stack's configuration.
    fn step_context<'a>(&self, stack: &'a Stack) -> StepContext<'a> {
        StepContext {
            now: self.clock.now(),
            config: &stack.config,
        }
    }

    /// The stack a stored run acts on. A run whose stack left the configuration is
    /// stepped with the first stack's settings: its work is refused by the
    /// performers (nothing is touched) and it ends saying why.
    fn stack_of(&self, run: &Run) -> &Arc<Stack> {
        let stack = &run.header().stack;
        self.stacks.named(stack).unwrap_or_else(|| {
            tracing::warn!(run_id = %run.id(), %stack, "a run of a stack no longer configured");
            self.stacks.first()
        })
    }

    fn context<'a>(&'a self, stack: &'a Stack, roles: Roles) -> Context<'a> {
        Context {
            config: &stack.config,
            store: &self.store,
            adapters: &stack.adapters,
            stack: &stack.name,
            now: self.clock.now(),
            roles,
        }
    }

    async fn on_command(&self, event: &CommandEvent) -> anyhow::Result<Batch> {
        let mut batch = Batch {
            dedup_key: Some(format!("trigger:{}", event.trigger_id)),
            ..Batch::default()
        };
        let asks_help = matches!(
            crate::command::parse(&event.text, self.config.command_name()),
            Ok(crate::command::Command::Help { .. })
        );
        let stack = match self.stacks.for_channel(&event.channel) {
            Ok(stack) => stack,
            // Help reads no stack: it answers in any channel.
            Err(_) if asks_help => self.stacks.first(),
            Err(NoStack(answer)) => {
                let reply = commands::requester(event).reply(Message::text(answer));
                batch.effects.push(Effect::Respond(reply));
                return Ok(batch);
            }
        };
        if !stack.name.is_empty() {
            tracing::Span::current().record("stack", stack.name.as_str());
        }
        let roles = if commands::needs_roles(&event.text, self.config.command_name()) {
            self.roles(&event.user, &stack.config.file.access).await
        } else {
            Roles::default()
        };
        let arrival = commands::on_command(&self.context(stack, roles), event);
        batch.effects = arrival.effects;
        batch.audit = arrival.audit;
        batch.lock_changes = arrival.locks;
        if let Some(mut run) = arrival.start {
            tracing::Span::current().record("run_id", tracing::field::display(run.id()));
            let transition = run.step(&Input::Start, &self.step_context(stack));
            self.apply(&mut batch, run, transition, None)?;
        }
        if let Some((run_id, input)) = arrival.deliver {
            tracing::Span::current().record("run_id", tracing::field::display(&run_id));
            if let Some(mut run) = self.store.run(&run_id)? {
                let transition = run.step(&input, &self.step_context(self.stack_of(&run)));
                self.apply(&mut batch, run, transition, None)?;
            }
        }
        Ok(batch)
    }

    async fn on_action(&self, action: &ActionEvent) -> anyhow::Result<Batch> {
        let mut batch = Batch {
            dedup_key: Some(format!("trigger:{}", action.trigger_id)),
            ..Batch::default()
        };
        // Who may press is read from the access lists of the run's own stack.
        let press = commands::press_of(action, Roles::default(), self.clock.now());
        let run = match &press {
            Some((run_id, _)) => self.store.run(run_id)?,
            None => None,
        };
        match (press, run) {
            (Some((run_id, mut press)), Some(mut run)) => {
                tracing::Span::current().record("run_id", tracing::field::display(&run_id));
                let stack = self.stack_of(&run);
                press.roles = self.roles(&action.user, &stack.config.file.access).await;
                let transition = run.step(&Input::Press(press), &self.step_context(stack));
                self.apply(&mut batch, run, transition, None)?;
            }
            _ => batch.effects.extend(commands::stale_button(action)),
        }
        Ok(batch)
    }

    /// A modal submitted: its text goes to the run that opened it. A view that is not
    /// ours, or whose run is gone, is only recorded (the modal has closed; there is
    /// no response URL to answer through).
    async fn on_view(&self, view: &crate::workflow::event::ViewEvent) -> anyhow::Result<Batch> {
        let mut batch = Batch {
            dedup_key: Some(view.dedup_key.clone()),
            ..Batch::default()
        };
        let Some((run_id, mut submission)) =
            commands::submission_of(view, Roles::default(), self.clock.now())
        else {
            tracing::warn!(callback_id = %view.callback_id, "a submitted view that is not ours; ignored");
            return Ok(batch);
        };
        tracing::Span::current().record("run_id", tracing::field::display(&run_id));
        match self.store.run(&run_id)? {
            Some(mut run) => {
                let stack = self.stack_of(&run);
                submission.roles = self.roles(&view.user, &stack.config.file.access).await;
                let transition = run.step(&Input::Submit(submission), &self.step_context(stack));
                self.apply(&mut batch, run, transition, None)?;
            }
            None => tracing::warn!(%run_id, "a submitted view for a run that is gone; ignored"),
        }
        Ok(batch)
    }

    /// Publishes the person's Home tab as the store stands now, every stack's board.
    fn on_home_opened(&self, home: &crate::workflow::event::HomeEvent) -> anyhow::Result<Batch> {
        let contexts: Vec<Context> = self
            .stacks
            .iter()
            .map(|stack| self.context(stack, Roles::default()))
            .collect();
        Ok(Batch {
            dedup_key: Some(format!("event:{}", home.event_id)),
            effects: vec![commands::on_home_opened(&contexts, &home.user)?],
            ..Batch::default()
        })
    }

    fn on_done(&self, done: DoneEvent) -> anyhow::Result<Batch> {
        let mut batch = Batch {
            completes: Some(done.effect_id),
            ..Batch::default()
        };
        let Some(mut run) = self.store.run(&done.run_id)? else {
            return Ok(batch);
        };
        if run.is_finished() && !matches!(run, Run::Promotion(_)) {
            return Ok(batch);
        }
        let input = Input::Done {
            key: done.key,
            result: done.result,
        };
        let transition = run.step(&input, &self.step_context(self.stack_of(&run)));
        self.apply(&mut batch, run, transition, Some(done.effect_id))?;
        Ok(batch)
    }

    fn on_progress(&self, run_id: &crate::ids::RunId, message: Message) -> anyhow::Result<Batch> {
        let mut batch = Batch::default();
        if let Some(run) = self.store.run(run_id)? {
            if !run.is_finished() {
                let header = run.header();
                let mut transition = Transition::default();
                match &run {
                    // A promotion's checklist is a thread reply of its own.
                    Run::Promotion(promotion) => {
                        if let Some(key) = &promotion.facts.checklist_message {
                            transition.update(key, message);
                        }
                    }
                    _ => transition.update_root(header, message),
                }
                batch.effects = transition.effects;
            }
        }
        Ok(batch)
    }

    /// Adds a stepped run and its transition to the batch: the run (or its removal
    /// when it ended and is not kept), effects, audit, locks, and the run's queued
    /// work the step dropped.
    fn apply(
        &self,
        batch: &mut Batch,
        run: Run,
        transition: Transition,
        completing: Option<u64>,
    ) -> anyhow::Result<()> {
        let run_id = run.id().clone();
        if transition.drop_pending_work || transition.drop_pending_reads {
            for pending in self.store.pending_effects()? {
                let Effect::Work(work) = &pending.effect else {
                    continue;
                };
                let droppable = transition.drop_pending_work || work.op.is_read();
                if work.run_id == run_id && Some(pending.id) != completing && droppable {
                    batch.drops.push(pending.id);
                }
            }
        }
        batch.effects.extend(transition.effects);
        batch.audit.extend(transition.audit);
        batch.lock_changes.extend(transition.locks);
        let keep = !run.is_finished() || run.keep_when_finished();
        batch.runs.push((run_id, keep.then_some(run)));
        Ok(())
    }

    /// The user's rights in a stack (its `access`): user ids are read from the
    /// config; user groups are asked of Slack (a failed lookup counts as no right,
    /// and is logged).
    async fn roles(&self, user: &str, access_config: &AccessSection) -> Roles {
        let check = |principals: &[crate::ids::Principal]| {
            let principals = principals.to_vec();
            let slack = self.slack.clone();
            let user = user.to_string();
            async move {
                access::is_allowed(&slack, &principals, &user)
                    .await
                    .unwrap_or_else(|err| {
                        tracing::warn!(error = %err, "cannot check a user group; counting no right");
                        false
                    })
            }
        };
        let (promoter, approver, admin) = tokio::join!(
            check(&access_config.promoters),
            check(&access_config.approvers),
            check(&access_config.admins)
        );
        Roles {
            promoter,
            approver,
            admin,
        }
    }
}

/// The person behind a command or a button press, and how to answer them without
/// the store.
struct Asker {
    response_url: String,
    user: String,
    /// `` `status` `` or "that button press", for the sentence they read.
    what: String,
}

impl Asker {
    fn of(event: &Event) -> Option<Asker> {
        match event {
            Event::Command(command) => Some(Asker {
                response_url: command.response_url.clone(),
                user: command.user.clone(),
                what: crate::slack::render::code(first_word(&command.text)),
            }),
            Event::Action(action) => Some(Asker {
                response_url: action.response_url.clone()?,
                user: action.user.clone(),
                what: "that button press".to_string(),
            }),
            Event::View(_) | Event::Done(_) | Event::Progress { .. } | Event::HomeOpened(_) => None,
        }
    }
}

/// One span per event, with the run, the user and the command where known.
fn event_span(event: &Event) -> tracing::Span {
    match event {
        Event::Done(done) => tracing::info_span!(
            "run",
            run_id = %done.run_id,
            user = tracing::field::Empty,
            command = tracing::field::Empty,
            key = %done.key,
        ),
        Event::Progress { run_id, .. } => tracing::debug_span!("progress", run_id = %run_id),
        Event::HomeOpened(home) => tracing::info_span!("home", user = %home.user),
        Event::Command(command) => tracing::info_span!(
            "command",
            run_id = tracing::field::Empty,
            stack = tracing::field::Empty,
            user = %command.user,
            channel = %command.channel,
            command = %first_word(&command.text),
        ),
        Event::View(view) => tracing::info_span!(
            "view",
            run_id = tracing::field::Empty,
            user = %view.user,
            command = %view.callback_id,
        ),
        Event::Action(action) => tracing::info_span!(
            "action",
            run_id = tracing::field::Empty,
            user = %action.user,
            channel = %action.channel,
            command = %action.action_id,
        ),
    }
}

/// The subcommand only: the rest may hold a reason or other free text.
fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("help")
}
