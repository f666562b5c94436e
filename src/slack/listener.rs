//! The Socket Mode listener: turns Slack envelopes into [`Event`]s on a queue.
//!
//! slack-morphism sends the acknowledgement only after a callback returns, and reads
//! a connection's envelopes one after another, so the callbacks here do four cheap
//! things and nothing else: validate, deduplicate (by `trigger_id`, which a redelivered
//! envelope repeats), enqueue, ack. All real work happens in the consumer task.
//! Reconnection on every `disconnect` reason is slack-morphism's job. The listener
//! runs on a runtime of its own (one thread, `lockstep-slack`), so an ack never waits
//! in a queue behind the bot's own work on the main runtime's workers (a 50,000-file
//! diff keeps them busy for seconds).

use crate::metrics::server::Liveness;
use crate::slack::api::{Client, Connector, SlackApi};
use crate::store::Store;
use crate::workflow::event::{ActionEvent, CommandEvent, Event, HomeEvent, ViewEvent};
use slack_morphism::prelude::*;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// The queue between the callbacks and the consumer, plus what the callbacks need
/// to deduplicate. Stored in slack-morphism's user state (callbacks are fn pointers).
pub struct Inbox {
    sender: mpsc::Sender<Event>,
    /// `None` once closed: slack-morphism may keep the listener's state alive after
    /// shutdown, and the store must be free to reopen.
    store: Mutex<Option<Store>>,
    command_name: String,
    /// Keys enqueued but not yet committed by the consumer: a redelivery that
    /// arrives before the commit is caught here, one after it by the store.
    in_flight: Mutex<HashSet<String>>,
    /// What the bot's `/readyz` knows of Slack: a hello, an envelope.
    liveness: Arc<Liveness>,
}

const SHUTTING_DOWN: &str =
    "lockstep is shutting down; nothing was done. Please try again in a minute.";

/// The answer, in the acknowledgement itself, while the store cannot be written:
/// nothing could be recorded, so nothing is queued.
pub const CANNOT_RECORD: &str = ":warning: lockstep cannot record work right now (it cannot write to its store), so it did nothing with this. Nothing was changed. Please try again in a few minutes; the operators are told in the bot's log.";

/// What the callback decided, for the acknowledgement it sends.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission {
    Queued,
    Duplicate,
    /// Not ours (another slash command); the text explains.
    Rejected(String),
    /// The queue is full; the text asks the person to retry.
    Busy(String),
}

impl Admission {
    /// How the acknowledgement is counted in the metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Admission::Queued => "queued",
            Admission::Duplicate => "duplicate",
            Admission::Rejected(_) => "rejected",
            Admission::Busy(_) => "busy",
        }
    }
}

impl Inbox {
    pub fn new(sender: mpsc::Sender<Event>, store: Store, command_name: &str) -> Self {
        Self {
            sender,
            store: Mutex::new(Some(store)),
            command_name: command_name.to_string(),
            in_flight: Mutex::new(HashSet::new()),
            liveness: Arc::default(),
        }
    }

    /// Reports hellos and envelopes to `liveness` (the bot's Slack client's).
    pub fn with_liveness(mut self, liveness: Arc<Liveness>) -> Self {
        self.liveness = liveness;
        self
    }

    /// Validate, deduplicate, enqueue. Never blocks: the caller is about to ack.
    pub fn admit(&self, event: Event) -> Admission {
        if let Event::Command(command) = &event {
            if command.command != self.command_name {
                return Admission::Rejected(format!(
                    "This app answers `{}`, not `{}`.",
                    self.command_name, command.command
                ));
            }
        }
        let Some(key) = event.dedup_key() else {
            // Only Slack events come through here, and they all have a key.
            return Admission::Rejected("not a Slack event".into());
        };
        let seen = match &*self
            .store
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
        {
            Some(store) if !store.is_writable() => return Admission::Busy(CANNOT_RECORD.into()),
            Some(store) => store.is_seen(&key).unwrap_or(false),
            None => return Admission::Busy(SHUTTING_DOWN.into()),
        };
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if seen || in_flight.contains(&key) {
            return Admission::Duplicate;
        }
        match self.sender.try_send(event) {
            Ok(()) => {
                in_flight.insert(key);
                Admission::Queued
            }
            Err(mpsc::error::TrySendError::Full(_)) => Admission::Busy(
                "lockstep is busy with a burst of requests; nothing was done. Please try again in a minute.".into(),
            ),
            Err(mpsc::error::TrySendError::Closed(_)) => Admission::Busy(SHUTTING_DOWN.into()),
        }
    }

    /// Stops admitting events and lets go of the store.
    pub fn close(&self) {
        self.store
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
    }

    /// Called by the consumer once the event's key is durable in the store.
    pub fn settled(&self, key: &str) {
        self.in_flight
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .remove(key);
    }
}

async fn inbox_of(state: &SlackClientEventsUserState) -> Option<Arc<Inbox>> {
    state.read().await.get_user_state::<Arc<Inbox>>().cloned()
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let arrived = std::time::Instant::now();
    let Some(inbox) = inbox_of(&state).await else {
        return Ok(ephemeral_ack(
            "lockstep is starting up; please try again in a moment.",
        ));
    };
    inbox.liveness.slack_answered();
    let event = command_event(event);
    let subcommand = subcommand_label(&event.text);
    let admission = inbox.admit(Event::Command(event));
    let outcome = admission.label();
    let response = match admission {
        // An empty payload acks without showing anything; the reply follows.
        Admission::Queued | Admission::Duplicate => {
            SlackCommandEventResponse::new(SlackMessageContent::new())
        }
        Admission::Rejected(text) | Admission::Busy(text) => ephemeral_ack(&text),
    };
    crate::metrics::global().command_acked(subcommand, outcome, arrived.elapsed());
    Ok(response)
}

/// The subcommand a command's text starts with, for the metrics: a known name or
/// `help` (empty text) or `unknown` (never the typed word, which is free text).
fn subcommand_label(text: &str) -> &'static str {
    match text.split_whitespace().next() {
        None => "help",
        Some(word) => crate::command::Subcommand::from_name(word)
            .map(crate::command::Subcommand::name)
            .unwrap_or("unknown"),
    }
}

/// A slash command as the consumer reads it.
fn command_event(event: SlackCommandEvent) -> CommandEvent {
    CommandEvent {
        trigger_id: event.trigger_id.to_string(),
        user: event.user_id.to_string(),
        channel: event.channel_id.to_string(),
        command: event.command.to_string(),
        text: event.text.unwrap_or_default(),
        response_url: event.response_url.value().to_string(),
    }
}

fn ephemeral_ack(text: &str) -> SlackCommandEventResponse {
    SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text.to_string()))
        .with_response_type(SlackMessageResponseType::Ephemeral)
}

async fn on_interaction(
    event: SlackInteractionEvent,
    client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let arrived = std::time::Instant::now();
    let Some(inbox) = inbox_of(&state).await else {
        return Ok(SlackInteractionResponse::Empty);
    };
    inbox.liveness.slack_answered();
    let actions = match event {
        SlackInteractionEvent::BlockActions(actions) => actions,
        SlackInteractionEvent::ViewSubmission(submission) => {
            let response = on_view_submission(&inbox, &submission);
            crate::metrics::global().envelope_acked("view_submission", arrived.elapsed());
            return Ok(response);
        }
        _ => return Ok(SlackInteractionResponse::Empty),
    };
    for action in block_actions(&actions) {
        let response_url = action.response_url.clone();
        match inbox.admit(Event::Action(action)) {
            Admission::Queued | Admission::Duplicate => {}
            Admission::Rejected(text) | Admission::Busy(text) => {
                // The ack of a press carries no message: say it through the
                // response URL, off the ack's path, so the person presses again.
                tracing::info!(%text, "button press not queued");
                if let Some(url) = response_url {
                    tokio::spawn(tell_presser(client.clone(), url, text));
                }
            }
        }
    }
    crate::metrics::global().envelope_acked("interaction", arrived.elapsed());
    Ok(SlackInteractionResponse::Empty)
}

/// A modal's Submit: queued, and the ack closes the modal. When it cannot be queued
/// the ack keeps the modal open with the reason under the input, so the text typed
/// is not lost.
fn on_view_submission(
    inbox: &Inbox,
    submission: &SlackInteractionViewSubmissionEvent,
) -> SlackInteractionResponse {
    let Some(view) = view_event(submission) else {
        return SlackInteractionResponse::Empty;
    };
    let first_input = view.values.keys().next().cloned();
    match inbox.admit(Event::View(view)) {
        Admission::Queued | Admission::Duplicate => SlackInteractionResponse::Empty,
        Admission::Rejected(text) | Admission::Busy(text) => match first_input {
            Some(block_id) => SlackInteractionResponse::ViewSubmission(
                SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(
                    [(block_id, text)].into_iter().collect(),
                )),
            ),
            None => SlackInteractionResponse::Empty,
        },
    }
}

/// A `view_submission` as the consumer reads it; `None` for a view that is not a
/// modal (only modals are submitted).
fn view_event(submission: &SlackInteractionViewSubmissionEvent) -> Option<ViewEvent> {
    let SlackView::Modal(modal) = &submission.view.view else {
        return None;
    };
    let params = &submission.view.state_params;
    let values = params
        .state
        .as_ref()
        .map(|state| {
            state
                .values
                .iter()
                .map(|(block, actions)| {
                    let typed = actions
                        .iter()
                        .map(|(action, value)| {
                            (action.to_string(), value.value.clone().unwrap_or_default())
                        })
                        .collect();
                    (block.to_string(), typed)
                })
                .collect()
        })
        .unwrap_or_default();
    let dedup_key = match &submission.trigger_id {
        Some(trigger) => format!("trigger:{trigger}"),
        None => format!("view:{}:{}", params.id, params.hash),
    };
    Some(ViewEvent {
        dedup_key,
        user: submission.user.id.to_string(),
        view_id: params.id.to_string(),
        callback_id: modal
            .callback_id
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_default(),
        private_metadata: modal.private_metadata.clone().unwrap_or_default(),
        values,
    })
}

/// A private note to someone whose press was not taken.
async fn tell_presser(client: Arc<Client>, response_url: String, text: String) {
    let Ok(url) = url::Url::parse(&response_url) else {
        return;
    };
    let request = SlackApiPostWebhookMessageRequest::new(SlackMessageContent::new().with_text(
        format!("{text} Your press was not recorded; press the button again."),
    ))
    .with_replace_original(false);
    if let Err(err) = client
        .respond_to_event(&SlackResponseUrl::new(url), &request)
        .await
    {
        tracing::warn!(error = %err, "could not tell the presser their press was not taken");
    }
}

/// The button presses in a block_actions payload, with the message they belong to.
fn block_actions(event: &SlackInteractionBlockActionsEvent) -> Vec<ActionEvent> {
    let SlackInteractionActionContainer::Message(container) = &event.container else {
        return Vec::new();
    };
    let Some(user) = &event.user else {
        return Vec::new();
    };
    let channel = container
        .channel_id
        .as_ref()
        .map(|id| id.to_string())
        .or_else(|| event.channel.as_ref().map(|c| c.id.to_string()))
        .unwrap_or_default();
    event
        .actions
        .iter()
        .flatten()
        .map(|action| ActionEvent {
            // One trigger per press; several actions in one payload stay distinct.
            trigger_id: format!("{}:{}", event.trigger_id, action.action_id),
            user: user.id.to_string(),
            channel: channel.clone(),
            message_ts: container.message_ts.to_string(),
            action_id: action.action_id.to_string(),
            value: action.value.clone().unwrap_or_default(),
            response_url: event
                .response_url
                .as_ref()
                .map(|url| url.value().to_string()),
            slack_trigger_id: event.trigger_id.to_string(),
        })
        .collect()
}

/// An Events API event: only `app_home_opened` on the Home tab is ours (the
/// consumer publishes that person's Home); the rest is acknowledged and ignored.
async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let arrived = std::time::Instant::now();
    let SlackEventCallbackBody::AppHomeOpened(opened) = &event.event else {
        return Ok(());
    };
    if opened.tab.as_deref().is_some_and(|tab| tab != "home") {
        return Ok(());
    }
    let Some(inbox) = inbox_of(&state).await else {
        return Ok(());
    };
    inbox.liveness.slack_answered();
    let home = HomeEvent {
        event_id: event.event_id.to_string(),
        user: opened.user.to_string(),
    };
    if let Admission::Busy(why) = inbox.admit(Event::HomeOpened(home)) {
        tracing::warn!(why, "cannot take an app_home_opened event now");
    }
    crate::metrics::global().envelope_acked("event", arrived.elapsed());
    Ok(())
}

/// A new Socket Mode connection: its acks must not wait on Nagle's algorithm.
/// (Generic over the event: slack-morphism 2.31 does not export the hello type's
/// name.)
async fn on_hello<HelloEvent: Send>(
    _event: HelloEvent,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) {
    if let Some(inbox) = inbox_of(&state).await {
        inbox.liveness.hello();
    }
    let changed = super::nagle::disable_nagle_on_tcp_sockets();
    tracing::debug!(changed, "Socket Mode connection open; TCP_NODELAY set");
}

/// Where Slack is, for the listener's own error lines.
struct SlackEndpoint(String);

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    state: SlackClientEventsUserState,
) -> HttpStatusCode {
    let endpoint = state
        .try_read()
        .ok()
        .and_then(|state| state.get_user_state::<SlackEndpoint>().map(|e| e.0.clone()))
        .unwrap_or_default();
    tracing::warn!(error = %err, slack_api_url = %endpoint, "Slack listener error (if it repeats, check slack.api_url and the network)");
    // 200 makes slack-morphism send a bare ack, so Slack does not redeliver an
    // envelope we could not parse in a loop.
    HttpStatusCode::OK
}

/// A running Socket Mode listener.
pub struct Listener {
    inner: Arc<SlackClientSocketModeListener<Connector>>,
    /// The listener's own runtime; `None` once let go of.
    runtime: Option<tokio::runtime::Runtime>,
}

/// The runtime the listener's connections live on: one worker, nothing else on it.
fn own_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .thread_name("lockstep-slack")
        .on_thread_start(crate::priority::for_listener)
        .enable_all()
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start the Slack listener's runtime: {err}"))
}

impl Listener {
    /// Connects to Slack with the app token and starts delivering events to `inbox`.
    /// Until Slack at `api_url` answers, tries again with backoff, saying on the
    /// first failure what to check and logging each attempt; a refusal (a bad
    /// token) fails at once.
    pub async fn start(
        slack: &SlackApi,
        api_url: &url::Url,
        inbox: Arc<Inbox>,
        connections: u32,
    ) -> anyhow::Result<Self> {
        wait_for_slack(slack, api_url, Backoff::default()).await?;
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(slack.client())
                .with_error_handler(on_error)
                .with_user_state(inbox)
                .with_user_state(SlackEndpoint(api_url.to_string())),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_hello_events(on_hello)
            .with_command_events(on_command)
            .with_interaction_events(on_interaction)
            .with_push_events(on_push);
        let inner = Arc::new(SlackClientSocketModeListener::new(
            &SlackClientSocketModeConfig::new().with_max_connections_count(connections),
            environment,
            callbacks,
        ));
        let runtime = own_runtime()?;
        // Connected from inside the listener's runtime: slack-morphism spawns each
        // connection's reader where it is started.
        let (listener, token) = (inner.clone(), slack.app_token().clone());
        runtime
            .spawn(async move {
                listener.listen_for(&token).await.map_err(|err| {
                    anyhow::anyhow!(
                        "cannot open a Socket Mode connection to Slack: {}",
                        first_line(&err.to_string())
                    )
                })?;
                listener.start().await;
                Ok::<_, anyhow::Error>(())
            })
            .await
            .map_err(|err| anyhow::anyhow!("the Slack listener's start failed: {err}"))??;
        Ok(Self {
            inner,
            runtime: Some(runtime),
        })
    }

    pub async fn shutdown(&self) {
        let listener = self.inner.clone();
        match &self.runtime {
            Some(runtime) => {
                let _ = runtime
                    .spawn(async move { listener.shutdown().await })
                    .await;
            }
            None => listener.shutdown().await,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which an async caller may not do; its
        // connections are closed by `shutdown` already, or die with the process.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// How long to wait between attempts to reach Slack at start.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: std::time::Duration,
    pub most: std::time::Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: std::time::Duration::from_secs(1),
            most: std::time::Duration::from_secs(60),
        }
    }
}

/// Returns once Slack's Web API answers `auth.test`. An unreachable Slack is
/// tried again with backoff (the first failure says what to check, as `lockstep
/// check` would; every attempt is logged); a refusal is returned with its hint.
pub async fn wait_for_slack(
    slack: &SlackApi,
    api_url: &url::Url,
    backoff: Backoff,
) -> anyhow::Result<()> {
    let mut wait = backoff.first;
    let mut attempt = 1u32;
    loop {
        match slack.auth_test().await {
            Ok(_) => {
                if attempt > 1 {
                    tracing::info!(attempt, slack_api_url = %api_url, "Slack answers now; connecting");
                }
                return Ok(());
            }
            Err(err) if err.is_transient() => {
                if attempt == 1 {
                    tracing::error!(
                        slack_api_url = %api_url,
                        error = %err,
                        retry_in_secs = wait.as_secs_f32(),
                        "cannot reach Slack at {api_url}: check slack.api_url and the network (`lockstep check --config <file>` tests them); trying again with backoff"
                    );
                } else {
                    tracing::warn!(
                        attempt,
                        slack_api_url = %api_url,
                        error = %err,
                        retry_in_secs = wait.as_secs_f32(),
                        "still cannot reach Slack at {api_url}; trying again"
                    );
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(backoff.most);
                attempt += 1;
            }
            Err(err) => anyhow::bail!(
                "Slack at {api_url} refused lockstep: {err} ({}); nothing was started",
                err.hint()
            ),
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(trigger: &str, name: &str) -> Event {
        Event::Command(CommandEvent {
            trigger_id: trigger.into(),
            user: "U0PM".into(),
            channel: "C0DEPLOY".into(),
            command: name.into(),
            text: "help".into(),
            response_url: "http://127.0.0.1:1/response/1".into(),
        })
    }

    #[tokio::test]
    async fn admission_dedups_in_flight_and_stored_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (sender, mut receiver) = mpsc::channel(4);
        let inbox = Inbox::new(sender, store.clone(), "/frappe-stack");

        assert_eq!(
            inbox.admit(command("t1", "/frappe-stack")),
            Admission::Queued
        );
        assert_eq!(
            inbox.admit(command("t1", "/frappe-stack")),
            Admission::Duplicate
        );
        assert!(receiver.recv().await.is_some());

        // Once committed, the store remembers it even after the in-flight set forgets.
        let batch = crate::store::Batch {
            dedup_key: Some("trigger:t1".into()),
            ..Default::default()
        };
        store.commit(batch, chrono::Utc::now()).await.unwrap();
        inbox.settled("trigger:t1");
        assert_eq!(
            inbox.admit(command("t1", "/frappe-stack")),
            Admission::Duplicate
        );
    }

    #[tokio::test]
    async fn other_commands_and_a_full_queue_are_answered_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (sender, _receiver) = mpsc::channel(1);
        let inbox = Inbox::new(sender, store, "/frappe-stack");
        assert!(
            matches!(inbox.admit(command("t1", "/other")), Admission::Rejected(text) if text.contains("/frappe-stack"))
        );
        assert_eq!(
            inbox.admit(command("t2", "/frappe-stack")),
            Admission::Queued
        );
        assert!(matches!(
            inbox.admit(command("t3", "/frappe-stack")),
            Admission::Busy(_)
        ));
    }

    /// A Socket Mode frame shaped like Slack's, with any field missing, of the
    /// wrong type, or holding any text.
    fn envelope() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::{json, Value};
        let text = || {
            prop_oneof![
                "\\PC{0,16}".prop_map(Value::from),
                Just(Value::Null),
                any::<i64>().prop_map(Value::from),
                Just(json!({"x": [1]})),
                Just(Value::from("http://127.0.0.1:1/response/1")),
                Just(Value::from("run-0a1b2c3d4e:7")),
                Just(Value::from("promote_merge")),
            ]
        };
        let maybe = |value: BoxedStrategy<Value>| {
            prop_oneof![3 => value.prop_map(Some), 1 => Just(None)].boxed()
        };
        let action = (
            maybe(text().boxed()),
            maybe(text().boxed()),
            maybe(text().boxed()),
        )
            .prop_map(|(action_id, value, kind)| {
                let mut a = serde_json::Map::new();
                a.insert("type".into(), kind.unwrap_or(json!("button")));
                if let Some(v) = action_id {
                    a.insert("action_id".into(), v);
                }
                if let Some(v) = value {
                    a.insert("value".into(), v);
                }
                a.insert("block_id".into(), json!("b"));
                a.insert("action_ts".into(), json!("1.0"));
                Value::Object(a)
            });
        let fields = (
            maybe(text().boxed()),
            maybe(text().boxed()),
            maybe(text().boxed()),
            maybe(text().boxed()),
            maybe(text().boxed()),
            proptest::collection::vec(action, 0..3),
            any::<bool>(),
        );
        (
            prop_oneof![
                Just("slash_commands"),
                Just("interactive"),
                Just("hello"),
                Just("nonsense")
            ],
            fields,
        )
            .prop_map(
                |(
                    kind,
                    (user, channel, trigger, response_url, text_field, actions, as_message),
                )| {
                    let mut payload = serde_json::Map::new();
                    let put = |payload: &mut serde_json::Map<String, Value>,
                               key: &str,
                               value: Option<Value>| {
                        if let Some(value) = value {
                            payload.insert(key.into(), value);
                        }
                    };
                    payload.insert("team_id".into(), json!("T0001"));
                    payload.insert("api_app_id".into(), json!("A0001"));
                    put(&mut payload, "user_id", user.clone());
                    put(&mut payload, "channel_id", channel.clone());
                    put(&mut payload, "trigger_id", trigger);
                    put(&mut payload, "response_url", response_url);
                    put(&mut payload, "text", text_field);
                    payload.insert("command".into(), json!("/frappe-stack"));
                    if kind == "interactive" {
                        payload.insert("type".into(), json!("block_actions"));
                        payload.insert("team".into(), json!({"id": "T0001"}));
                        put(&mut payload, "user", user.map(|id| json!({"id": id})));
                        payload.insert(
                        "container".into(),
                        if as_message {
                            json!({"type": "message", "message_ts": "1.0", "channel_id": channel})
                        } else {
                            json!({"type": "view", "view_id": "V1"})
                        },
                    );
                        payload.insert("actions".into(), Value::Array(actions));
                    }
                    json!({
                        "type": kind,
                        "envelope_id": "e1",
                        "accepts_response_payload": as_message,
                        "payload": payload,
                    })
                },
            )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// The envelope decoder (slack-morphism's model) and our reading of what it
        /// decoded never panic, whatever Slack (or someone posing as it) sends; a
        /// button press read from it is ours or nothing.
        #[test]
        fn envelopes_never_panic(frame in envelope(), noise in "\\PC{0,40}") {
            // slack-morphism reads the frame's `type`, then its payload with these
            // models (the envelope types themselves are not exported).
            let _ = serde_json::from_str::<SlackCommandEvent>(&noise);
            let _ = serde_json::from_str::<SlackInteractionEvent>(&noise);
            let payload = frame["payload"].clone();
            match frame["type"].as_str() {
                Some("slash_commands") => {
                    if let Ok(command) = serde_json::from_value::<SlackCommandEvent>(payload) {
                        let _ = Event::Command(command_event(command)).dedup_key();
                    }
                }
                Some("interactive") => {
                    if let Ok(SlackInteractionEvent::BlockActions(actions)) =
                        serde_json::from_value::<SlackInteractionEvent>(payload)
                    {
                        for action in block_actions(&actions) {
                            let _ = crate::commands::press_of(
                                &action,
                                crate::workflow::run::Roles::default(),
                                chrono::Utc::now(),
                            );
                            let _ = Event::Action(action).dedup_key();
                        }
                    }
                }
                _ => {}
            }
        }
    }
}
