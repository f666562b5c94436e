//! Performs the outbox's effects, at least once and idempotently, in two lanes.
//!
//! - The Slack lane performs replies, posts and edits oldest first. An effect leaves
//!   the outbox only after it was performed (or refused for good), in the same
//!   transaction that records the message it posted; a post whose key already has a
//!   message edits it instead of posting again. Transient failures (Slack
//!   unreachable, still rate-limited) keep the effect at the head and retry with
//!   backoff.
//! - The work lane performs each run's [`Work`] effects in order, one at a time per
//!   run and runs side by side, and sends each outcome to the consumer, which records
//!   it with the run's next state (and removes the effect) in one transaction. Until
//!   then the effect stays in the outbox, so a crash at any point performs it again,
//!   and its performer checks first whether it already happened. An effect that
//!   cannot be checked from outside ([`Op::is_once`]) is noted as started, durably,
//!   before it starts; a restart that finds the note reports it interrupted.
//!
//! Pause points (tests, and `LOCKSTEP_PAUSE_AT` for a real `kill -9`) stop the
//! executor just before or just after an effect, as a crash there would.

use crate::clock::Clock;
use crate::ids::RunId;
use crate::slack::api::{Posted, SlackApi, SlackApiError};
use crate::store::{PendingEffect, PostedMessage, Store};
use crate::workflow::effect::{Effect, Message, Modal, Post, Reply, Requester, Update, Work};
use crate::workflow::event::{DoneEvent, Event};
use crate::workflow::op::{Failure, Op, OpResult};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tracing::Instrument;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Performs one work effect. Implemented by the commands, which own the work.
pub trait Performer: Send + Sync + 'static {
    fn perform<'a>(
        &'a self,
        work: &'a Work,
        progress: Progress,
    ) -> Pin<Box<dyn Future<Output = OpResult> + Send + 'a>>;
}

/// How a long piece of work says how far it got: an edit of its run's message.
#[derive(Clone)]
pub struct Progress {
    run_id: RunId,
    sender: Option<mpsc::Sender<Event>>,
}

impl Progress {
    /// A progress handle that goes nowhere (tests, benchmarks).
    pub fn none(run_id: RunId) -> Self {
        Progress {
            run_id,
            sender: None,
        }
    }

    /// Sends a note; a full queue drops it (progress is only a preview).
    pub fn note(&self, message: Message) {
        if let Some(sender) = &self.sender {
            let _ = sender.try_send(Event::Progress {
                run_id: self.run_id.clone(),
                message,
            });
        }
    }
}

/// Where to stop, as a crash there would: just before or just after the `nth`
/// effect (1 for the first) of a run's `step` (the middle of its key
/// `<run>/<step>/<n>`, e.g. `apply`, `snapshot`, `merge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PausePoint {
    pub after: bool,
    pub step: String,
    pub nth: u32,
}

impl PausePoint {
    /// `before:<step>` or `after:<step>`, optionally `#<nth>` (the
    /// `LOCKSTEP_PAUSE_AT` syntax), e.g. `after:apply#3`.
    pub fn parse(text: &str) -> Option<Self> {
        let (when, rest) = text.split_once(':')?;
        let after = match when {
            "before" => false,
            "after" => true,
            _ => return None,
        };
        let (step, nth) = match rest.split_once('#') {
            Some((step, nth)) => (step, nth.parse().ok().filter(|n| *n > 0)?),
            None => (rest, 1),
        };
        (!step.is_empty()).then(|| PausePoint {
            after,
            step: step.to_string(),
            nth,
        })
    }
}

/// The step of an effect key `<run>/<step>/<n>` (or `<run>/<step>`).
pub fn step_of(key: &str) -> &str {
    let mut parts = key.split('/');
    let _run = parts.next();
    parts.next().unwrap_or(key)
}

/// Called once when a pause point is reached, with the effect's key.
pub type OnPause = Arc<dyn Fn(&str) + Send + Sync>;

/// Told of every effect boundary: the effect's key, and whether it is done.
pub type Observer = Arc<dyn Fn(&str, bool) + Send + Sync>;

#[derive(Clone)]
pub struct Executor {
    store: Store,
    slack: SlackApi,
    clock: Clock,
    /// Posts whose earlier attempt may have reached Slack without the bot learning
    /// it (left by a previous process, or after an ambiguous failure): looked up by
    /// their key in the channel before they are posted.
    doubtful: Arc<Mutex<HashSet<u64>>>,
    wake_slack: Arc<Notify>,
    wake_work: Arc<Notify>,
    lane: Option<Arc<WorkLane>>,
    pause: Option<(PausePoint, OnPause)>,
    /// Effects of the pause point's step seen so far at its boundary.
    pause_count: Arc<std::sync::atomic::AtomicU32>,
    observe: Option<Observer>,
    /// Set at a pause point: both lanes stop as a crash would stop them (no new
    /// effect starts, no outcome is reported).
    frozen: Arc<std::sync::atomic::AtomicBool>,
}

/// The work lane's state: what is being performed, and where outcomes go.
struct WorkLane {
    performer: Arc<dyn Performer>,
    events: mpsc::Sender<Event>,
    in_flight: Mutex<HashSet<u64>>,
    tasks: Mutex<JoinSet<()>>,
}

/// What became of one Slack effect.
enum Done {
    Performed(Option<(String, PostedMessage)>),
    /// Retrying cannot help (Slack refused it); logged and dropped.
    GaveUp,
}

impl Executor {
    /// An executor of Slack effects only (work effects wait for [`Executor::with_work`]).
    pub fn new(store: Store, slack: SlackApi, clock: Clock) -> Self {
        // Whatever a previous process left in the outbox may have been half done.
        let doubtful = store
            .pending_effects()
            .map(|pending| pending.into_iter().map(|p| p.id).collect())
            .unwrap_or_default();
        Self {
            store,
            slack,
            clock,
            doubtful: Arc::new(Mutex::new(doubtful)),
            wake_slack: Arc::new(Notify::new()),
            wake_work: Arc::new(Notify::new()),
            lane: None,
            pause: None,
            pause_count: Arc::new(std::sync::atomic::AtomicU32::new(0)),
            observe: None,
            frozen: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// Also performs work effects through `performer`, sending outcomes to `events`.
    pub fn with_work(mut self, performer: Arc<dyn Performer>, events: mpsc::Sender<Event>) -> Self {
        self.lane = Some(Arc::new(WorkLane {
            performer,
            events,
            in_flight: Mutex::new(HashSet::new()),
            tasks: Mutex::new(JoinSet::new()),
        }));
        self
    }

    pub fn with_pause(mut self, point: PausePoint, on_pause: OnPause) -> Self {
        self.pause = Some((point, on_pause));
        self
    }

    pub fn with_observer(mut self, observe: Observer) -> Self {
        self.observe = Some(observe);
        self
    }

    /// Tell the executor that new effects are in the outbox.
    pub fn wake(&self) {
        self.wake_slack.notify_one();
        self.wake_work.notify_one();
    }

    /// Runs both lanes until `shutdown` resolves; each starts with a drain, which
    /// replays whatever a previous process left behind.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let slack = self.clone().run_slack_lane();
        let work = self.clone().run_work_lane();
        tokio::select! {
            _ = &mut shutdown => {}
            _ = slack => {}
            _ = work => {}
        }
        if let Some(lane) = &self.lane {
            lane.tasks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .abort_all();
        }
    }

    async fn run_slack_lane(self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let wait = match self.drain_slack().await {
                Ok(()) => {
                    backoff = FIRST_BACKOFF;
                    None
                }
                Err(err) => {
                    tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "effect failed; will retry");
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    Some(wait)
                }
            };
            let notified = self.wake_slack.notified();
            let retry = async {
                match wait {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = retry => {}
            }
        }
    }

    async fn run_work_lane(self) {
        let Some(lane) = self.lane.clone() else {
            return std::future::pending().await;
        };
        loop {
            let notified = self.wake_work.notified();
            if let Err(err) = self.start_due_work(&lane).await {
                tracing::error!(error = %err, "cannot read the outbox; retrying");
                tokio::time::sleep(FIRST_BACKOFF).await;
                continue;
            }
            notified.await;
        }
    }

    /// Performs every pending Slack effect in order; stops at the first transient failure.
    pub async fn drain(&self) -> anyhow::Result<()> {
        self.drain_slack().await
    }

    async fn drain_slack(&self) -> anyhow::Result<()> {
        for PendingEffect { id, effect } in self.store.pending_effects()? {
            if matches!(effect, Effect::Work(_)) {
                continue;
            }
            self.stop_if_frozen().await;
            self.pause_if(effect.key(), false).await;
            let span = tracing::info_span!(
                "effect",
                run_id = effect.run_id().unwrap_or_default(),
                key = effect.key().unwrap_or_default(),
            );
            match self.perform_slack(id, &effect).instrument(span).await {
                Ok(Done::Performed(posted)) => {
                    self.pause_if(effect.key(), true).await;
                    let posted = posted
                        .as_ref()
                        .map(|(key, message)| (key.as_str(), message.clone()));
                    self.store.complete_effect(id, posted).await?;
                }
                Ok(Done::GaveUp) => self.store.complete_effect(id, None).await?,
                Err(err) => {
                    // It may have reached Slack although we saw an error.
                    self.doubtful
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id);
                    return Err(anyhow::anyhow!("{}: {err}", effect.describe()));
                }
            }
        }
        Ok(())
    }

    /// Starts the first pending work effect of every run that has none in flight.
    async fn start_due_work(&self, lane: &Arc<WorkLane>) -> anyhow::Result<()> {
        self.stop_if_frozen().await;
        let pending = self.store.pending_effects()?;
        let pending_ids: HashSet<u64> = pending.iter().map(|p| p.id).collect();
        let mut in_flight = lane.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        // Recorded by the consumer (gone from the outbox): no longer in flight.
        in_flight.retain(|id| pending_ids.contains(id));
        let mut runs_seen: HashSet<RunId> = HashSet::new();
        for PendingEffect { id, effect } in pending {
            let Effect::Work(work) = effect else { continue };
            // Only a run's first pending effect may go: they run in order.
            if !runs_seen.insert(work.run_id.clone()) || in_flight.contains(&id) {
                continue;
            }
            in_flight.insert(id);
            let executor = self.clone();
            let lane_for_task = lane.clone();
            lane.tasks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .spawn(async move { executor.perform_work(lane_for_task, id, work).await });
        }
        Ok(())
    }

    /// Performs one work effect inside a span naming its run, so every line logged
    /// on the way (by the adapters too) carries the run id.
    async fn perform_work(self, lane: Arc<WorkLane>, id: u64, work: Work) {
        let span = tracing::info_span!("work", run_id = %work.run_id, key = %work.key, op = work.op.name());
        self.perform_work_in_span(lane, id, work)
            .instrument(span)
            .await
    }

    async fn perform_work_in_span(self, lane: Arc<WorkLane>, id: u64, work: Work) {
        if let Some(not_before) = work.not_before {
            self.wait_until(not_before).await;
        }
        self.stop_if_frozen().await;
        self.pause_if(Some(&work.key), false).await;
        let result = match self.begin_once(id, &work.op).await {
            Err(failure) => Err(failure),
            Ok(()) => {
                let progress = Progress {
                    run_id: work.run_id.clone(),
                    sender: Some(lane.events.clone()),
                };
                match &work.op {
                    Op::Wait { until } => {
                        self.wait_until(*until).await;
                        Ok(crate::workflow::op::Outcome::Elapsed)
                    }
                    _ => {
                        let perform =
                            std::panic::AssertUnwindSafe(lane.performer.perform(&work, progress));
                        match futures::FutureExt::catch_unwind(perform).await {
                            Ok(result) => result,
                            Err(_) => {
                                let incident = crate::error::IncidentRef::new();
                                tracing::error!(%incident, key = %work.key, "a work effect panicked");
                                Err(Failure::Refused(format!(
                                    "lockstep hit a bug while doing this (incident `{incident}` in its log)"
                                )))
                            }
                        }
                    }
                }
            }
        };
        self.pause_if(Some(&work.key), true).await;
        self.stop_if_frozen().await;
        let done = Event::Done(DoneEvent {
            run_id: work.run_id.clone(),
            effect_id: id,
            key: work.key.clone(),
            result,
        });
        // A closed queue means shutdown: the effect is performed again at the next
        // start (checked first), so nothing is lost.
        let _ = lane.events.send(done).await;
    }

    /// For a once-effect: refuse if an earlier process began it, else note the start.
    async fn begin_once(&self, id: u64, op: &Op) -> Result<(), Failure> {
        if !op.is_once() {
            return Ok(());
        }
        match self.store.was_started(id) {
            Ok(true) => return Err(Failure::Interrupted),
            Ok(false) => {}
            Err(err) => {
                return Err(Failure::Refused(format!(
                    "lockstep cannot read its store: {err}"
                )))
            }
        }
        self.store
            .mark_started(id, self.clock.now())
            .await
            .map_err(|err| {
                Failure::Refused(format!(
                    "lockstep cannot record that it is starting this, so it did not start it: {err}"
                ))
            })
    }

    /// Waits until the clock reaches `until`. The clock may be pinned or moved by a
    /// test, so it is read again at least every 200 ms.
    async fn wait_until(&self, until: chrono::DateTime<chrono::Utc>) {
        loop {
            let left = until - self.clock.now();
            let Ok(left) = left.to_std() else { return };
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left.min(Duration::from_millis(200))).await;
        }
    }

    /// Lets the consumer say an outcome could not be recorded: perform it again later.
    pub fn retry_later(&self, effect_id: u64) {
        if let Some(lane) = &self.lane {
            lane.in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&effect_id);
            let wake = self.wake_work.clone();
            tokio::spawn(async move {
                tokio::time::sleep(FIRST_BACKOFF).await;
                wake.notify_one();
            });
        }
    }

    async fn pause_if(&self, key: Option<&str>, after: bool) {
        if let (Some(observe), Some(key)) = (&self.observe, key) {
            observe(key, after);
        }
        if let (Some((point, on_pause)), Some(key)) = (&self.pause, key) {
            let reached = point.after == after
                && step_of(key) == point.step
                && self
                    .pause_count
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    + 1
                    == point.nth;
            if reached {
                self.frozen.store(true, std::sync::atomic::Ordering::SeqCst);
                on_pause(key);
                std::future::pending::<()>().await;
            }
        }
    }

    /// After a pause point: nothing more happens in this process.
    async fn stop_if_frozen(&self) {
        if self.frozen.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }

    async fn perform_slack(&self, id: u64, effect: &Effect) -> Result<Done, SlackApiError> {
        let result = match effect {
            Effect::Respond(reply) => self.respond(reply).await.map(|()| None),
            Effect::Post(post) => self.post(id, post).await.map(Some),
            Effect::Update(update) => self.update(update).await.map(|()| None),
            Effect::OpenModal(modal) => return Ok(self.open_modal(modal).await),
            Effect::Home(home) => self
                .slack
                .publish_home(&home.user, &home.view, None)
                .await
                .map(|_| None),
            Effect::Work(_) => return Ok(Done::GaveUp),
        };
        match result {
            Ok(posted) => Ok(Done::Performed(posted)),
            Err(err) if err.is_transient() => Err(err),
            Err(err) => {
                tracing::error!(effect = %effect.describe(), error = %err, "Slack refused an effect; dropping it");
                if let Effect::Post(Post {
                    channel,
                    on_refusal: Some(requester),
                    ..
                }) = effect
                {
                    self.explain_refusal(channel, requester, &err).await;
                }
                Ok(Done::GaveUp)
            }
        }
    }

    /// Tells the person privately why the channel did not get the message.
    async fn explain_refusal(&self, channel: &str, requester: &Requester, err: &SlackApiError) {
        let hint = match err {
            SlackApiError::Refused { code, .. }
                if code == "not_in_channel" || code == "channel_not_found" =>
            {
                " Invite me with `/invite @lockstep` and try again."
            }
            SlackApiError::Refused { code, .. } if code == "is_archived" => {
                " The channel is archived."
            }
            _ => "",
        };
        let reply = requester.reply(Message::text(format!(
            "I could not post in <#{channel}>: {err}.{hint}"
        )));
        if let Err(second) = self.respond(&reply).await {
            tracing::error!(error = %second, "could not tell the person about a refused post either");
        }
    }

    /// Opens a modal once: a trigger cannot be used twice, and an expired one will
    /// not come back, so any refusal is told to the presser, never retried.
    async fn open_modal(&self, modal: &Modal) -> Done {
        let Err(err) = self.slack.open_modal(&modal.trigger_id, &modal.view).await else {
            return Done::Performed(None);
        };
        tracing::warn!(error = %err, "Slack did not open a modal");
        let why = match &err {
            SlackApiError::Trigger { .. } => "Slack no longer accepts that press for opening a window (a press may open one only within 3 seconds, and this one reached me too late)".to_string(),
            other => format!("Slack answered: {other}"),
        };
        if let Some(requester) = &modal.tell {
            let reply = requester.reply(Message::text(format!(
                ":warning: The editor could not open: {why}. Nothing was changed; press the button again."
            )));
            if let Err(second) = self.respond(&reply).await {
                tracing::error!(error = %second, "could not tell the presser the modal did not open");
            }
        }
        Done::GaveUp
    }

    async fn respond(&self, reply: &Reply) -> Result<(), SlackApiError> {
        // A modal's submission carries no response URL: answer with an ephemeral post.
        if reply.response_url.is_empty() {
            return self
                .slack
                .post_ephemeral(&reply.channel, &reply.user, &reply.message)
                .await;
        }
        match self
            .slack
            .respond(&reply.response_url, &reply.message, reply.replace_original)
            .await
        {
            // Response URLs expire after 30 minutes or five uses; the person still
            // deserves the answer, so fall back to an ephemeral post.
            Err(SlackApiError::ResponseUrlGone { .. }) => {
                self.slack
                    .post_ephemeral(&reply.channel, &reply.user, &reply.message)
                    .await
            }
            other => other,
        }
    }

    /// Posts once under the post's key: a key that already has a message (a re-run
    /// step) edits it; a post that may have reached Slack before (see `doubtful`) is
    /// looked for by its key first, and edited if found.
    async fn post(&self, id: u64, post: &Post) -> Result<(String, PostedMessage), SlackApiError> {
        let thread_ts = post
            .thread_of
            .as_deref()
            .and_then(|parent| self.posted(parent))
            .map(|parent| parent.ts);
        let existing = match self.posted(&post.key) {
            Some(existing) => Some(existing),
            None if self.is_doubtful(id) => self
                .slack
                .find_posted_by_key(
                    &post.channel,
                    thread_ts.as_deref(),
                    &post.key,
                    Some(&lookback_ts(self.clock.now())),
                )
                .await?
                .map(|found| PostedMessage {
                    channel: found.channel,
                    ts: found.ts,
                }),
            None => None,
        };
        if let Some(existing) = existing {
            self.slack
                .update_message(&existing.channel, &existing.ts, &post.message)
                .await?;
            return Ok((post.key.clone(), existing));
        }
        let Posted { channel, ts } = self
            .slack
            .post_message_with_key(
                &post.channel,
                thread_ts.as_deref(),
                &post.message,
                &post.key,
                post.broadcast,
            )
            .await?;
        Ok((post.key.clone(), PostedMessage { channel, ts }))
    }

    fn is_doubtful(&self, id: u64) -> bool {
        self.doubtful
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&id)
    }

    async fn update(&self, update: &Update) -> Result<(), SlackApiError> {
        match self.posted(&update.key) {
            Some(existing) => {
                self.slack
                    .update_message(&existing.channel, &existing.ts, &update.message)
                    .await
            }
            None => {
                tracing::warn!(key = %update.key, "update for a message that was never posted; skipping");
                Ok(())
            }
        }
    }

    fn posted(&self, key: &str) -> Option<PostedMessage> {
        self.store.posted(key).unwrap_or_else(|err| {
            tracing::error!(key, error = %err, "cannot read a posted message record");
            None
        })
    }
}

/// How far back a doubtful top-level post is looked for: a day of the channel.
fn lookback_ts(now: chrono::DateTime<chrono::Utc>) -> String {
    let since = now - chrono::Duration::days(1);
    format!("{}.000000", since.timestamp().max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_points_name_a_step_and_its_occurrence() {
        assert_eq!(
            PausePoint::parse("after:apply#3"),
            Some(PausePoint {
                after: true,
                step: "apply".into(),
                nth: 3
            })
        );
        assert_eq!(PausePoint::parse("before:merge").unwrap().nth, 1);
        assert_eq!(PausePoint::parse("during:x"), None);
        assert_eq!(PausePoint::parse("before:"), None);
        assert_eq!(PausePoint::parse("after:apply#0"), None);
        assert_eq!(step_of("run-abc/apply/13"), "apply");
        assert_eq!(step_of("run-abc/message"), "message");
    }
}
