//! The Slack sim's memory: messages, the ordered transcript of what the bot said,
//! Socket Mode envelopes and their acks, open connections, response URLs, injected rate
//! limits and call counts; plus the `ts` clock. One `Mutex<State>` guarded by short,
//! synchronous critical sections (never held across an `.await`), and `watch` channels
//! that wake waiters when something they may wait for changes. It speaks no HTTP.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::config::SimConfig;

/// Hands out Slack message timestamps ("1732590000.000100": seconds, dot, six digits),
/// strictly increasing across the whole sim, so also unique and increasing per channel.
#[derive(Debug, Default)]
pub(crate) struct TsClock {
    last_micros: u64,
}

impl TsClock {
    /// The next ts at or after `now_micros` (microseconds since the epoch).
    pub(crate) fn next_at(&mut self, now_micros: u64) -> String {
        let micros = now_micros.max(self.last_micros.saturating_add(1));
        self.last_micros = micros;
        format_ts(micros)
    }

    pub(crate) fn next(&mut self) -> String {
        self.next_at(now_micros())
    }
}

pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or_default()
}

pub(crate) fn format_ts(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// Parses "seconds.micros" into a sortable key; `None` for anything Slack would not issue.
pub(crate) fn parse_ts(ts: &str) -> Option<(u64, u32)> {
    let (secs, frac) = ts.split_once('.')?;
    if frac.len() != 6 || secs.is_empty() {
        return None;
    }
    if !secs.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((secs.parse().ok()?, frac.parse().ok()?))
}

/// A message as the channel shows it now (after edits).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimMessage {
    pub channel: String,
    pub ts: String,
    /// The thread root's ts for replies; `None` for top-level messages.
    pub thread_ts: Option<String>,
    pub user: String,
    /// Set when the bot posted it.
    pub bot_id: Option<String>,
    pub text: String,
    pub blocks: Vec<Value>,
    /// ts of the last edit, if any.
    pub edited_ts: Option<String>,
    pub reply_broadcast: bool,
    /// Message metadata (`{event_type, event_payload}`) the app attached; Slack
    /// returns it only to readers that ask with `include_all_metadata`.
    pub metadata: Option<Value>,
}

impl SimMessage {
    /// The message object Slack returns in API responses and interaction payloads.
    pub(crate) fn to_slack_json(&self, config: &SimConfig) -> Value {
        let mut message = json!({
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": config.team_id,
        });
        if let Some(bot_id) = &self.bot_id {
            message["bot_id"] = json!(bot_id);
            message["app_id"] = json!(config.app_id);
        }
        if !self.blocks.is_empty() {
            message["blocks"] = json!(self.blocks);
        }
        if let Some(thread_ts) = &self.thread_ts {
            message["thread_ts"] = json!(thread_ts);
        }
        if let Some(edited_ts) = &self.edited_ts {
            message["edited"] = json!({ "user": self.user, "ts": edited_ts });
        }
        message
    }
}

/// An ephemeral message: seen by one user only, not in history, but it has a ts and its
/// buttons can be clicked (the block_actions container then says `is_ephemeral: true`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EphemeralMessage {
    pub channel: String,
    pub user: String,
    pub ts: String,
    pub thread_ts: Option<String>,
    pub text: String,
    pub blocks: Vec<Value>,
}

/// How an ephemeral bot output reached the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EphemeralVia {
    ResponseUrl,
    PostEphemeral,
    /// The `payload` of a slash command's Socket Mode ack.
    AckPayload,
}

/// One thing the bot made visible, in the order the sim received it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind")]
pub enum BotOutput {
    /// `chat.postMessage`.
    Posted {
        channel: String,
        ts: String,
        thread_ts: Option<String>,
        text: String,
        blocks: Vec<Value>,
        reply_broadcast: bool,
    },
    /// `chat.update` of a message the bot posted.
    Updated {
        channel: String,
        ts: String,
        text: String,
        blocks: Vec<Value>,
    },
    /// `chat.postEphemeral`, a response URL, or a slash-command ack payload, with
    /// `response_type` ephemeral (the default): only `user` sees it.
    Ephemeral {
        channel: String,
        user: String,
        ts: String,
        text: String,
        blocks: Vec<Value>,
        via: EphemeralVia,
        thread_ts: Option<String>,
    },
    /// A response URL (or slash-command ack payload) with `response_type: in_channel`:
    /// a new message everyone sees.
    ResponseInChannel {
        channel: String,
        ts: String,
        thread_ts: Option<String>,
        text: String,
        blocks: Vec<Value>,
    },
    /// A response URL with `replace_original: true`. `user` is set when the replaced
    /// message was ephemeral (only that user sees the change).
    ResponseReplaced {
        channel: String,
        ts: String,
        user: Option<String>,
        text: String,
        blocks: Vec<Value>,
    },
    /// A response URL with `delete_original: true`.
    ResponseDeleted {
        channel: String,
        ts: String,
        user: Option<String>,
    },
}

impl BotOutput {
    pub fn channel(&self) -> &str {
        match self {
            BotOutput::Posted { channel, .. }
            | BotOutput::Updated { channel, .. }
            | BotOutput::Ephemeral { channel, .. }
            | BotOutput::ResponseInChannel { channel, .. }
            | BotOutput::ResponseReplaced { channel, .. }
            | BotOutput::ResponseDeleted { channel, .. } => channel,
        }
    }

    /// The text of the output ("" for deletions and blocks-only messages).
    pub fn text(&self) -> &str {
        match self {
            BotOutput::Posted { text, .. }
            | BotOutput::Updated { text, .. }
            | BotOutput::Ephemeral { text, .. }
            | BotOutput::ResponseInChannel { text, .. }
            | BotOutput::ResponseReplaced { text, .. } => text,
            BotOutput::ResponseDeleted { .. } => "",
        }
    }

    pub fn blocks(&self) -> &[Value] {
        match self {
            BotOutput::Posted { blocks, .. }
            | BotOutput::Updated { blocks, .. }
            | BotOutput::Ephemeral { blocks, .. }
            | BotOutput::ResponseInChannel { blocks, .. }
            | BotOutput::ResponseReplaced { blocks, .. } => blocks,
            BotOutput::ResponseDeleted { .. } => &[],
        }
    }
}

/// A bot's acknowledgement of one envelope delivery.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ack {
    pub envelope_id: String,
    /// Which Socket Mode connection (sim-assigned number, from 1) carried the ack.
    pub connection_id: u64,
    /// The ack's `payload`, if it carried one.
    pub payload: Option<Value>,
    /// From the sim writing the envelope to receiving the ack.
    pub latency: Duration,
}

#[derive(Debug)]
pub(crate) struct Delivery {
    pub connection_id: u64,
    pub sent_at: Instant,
}

#[derive(Debug)]
pub(crate) struct EnvelopeRecord {
    /// The full envelope as first sent (without retry fields).
    pub envelope: Value,
    pub deliveries: Vec<Delivery>,
    pub acks: Vec<Ack>,
}

/// What a connection task is told to do by the rest of the sim.
#[derive(Debug)]
pub(crate) enum ConnCommand {
    Send(String),
    /// Send `{type:"disconnect"}` then close after `grace`.
    Disconnect {
        reason: String,
        grace: Duration,
    },
    Close,
}

#[derive(Debug)]
pub(crate) struct ConnectionHandle {
    pub tx: mpsc::UnboundedSender<ConnCommand>,
    /// Told to disconnect: no new envelopes go to it.
    pub draining: bool,
}

/// Where a response URL's replace/delete lands.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ResponseOrigin {
    /// From a slash command: "original" = the last message sent through this URL.
    SlashCommand,
    /// From a click on a message (channel message, or ephemeral for `user`).
    Message { ts: String, ephemeral: bool },
}

#[derive(Debug)]
pub(crate) struct ResponseUrlRecord {
    pub channel: String,
    pub user: String,
    pub created_at: Instant,
    pub uses: u32,
    pub origin: ResponseOrigin,
    /// ts (and whether ephemeral) of the last message this URL produced.
    pub last_sent: Option<(String, bool)>,
    pub expired: bool,
}

#[derive(Debug)]
pub(crate) struct RateLimit {
    pub remaining: u32,
    pub retry_after_secs: u64,
}

/// A trigger id handed to the bot with a slash command, a click or a view submission:
/// good for one `views.open` within `SimConfig::trigger_ttl` (Slack: 3 s).
#[derive(Debug)]
pub(crate) struct TriggerRecord {
    pub user: String,
    pub issued_at: Instant,
    pub exchanged: bool,
    /// Forced by a test (`SlackSim::expire_trigger`), as if its time had passed.
    pub expired: bool,
}

/// A modal or a Home tab as the sim keeps it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimView {
    /// Slack's view id (`V…`).
    pub id: String,
    /// Who sees it.
    pub user: String,
    /// `modal` or `home`.
    pub kind: String,
    /// The view as Slack returns it from views.open / views.publish (`id`, `team_id`,
    /// `type`, `blocks`, `private_metadata`, `callback_id`, `state`, `hash`, …).
    pub view: Value,
    /// A modal is open until submitted (and closed by the ack), cancelled or cleared;
    /// a Home view stays.
    pub open: bool,
    /// The errors of the last `response_action: errors` ack, by block_id.
    pub errors: BTreeMap<String, String>,
}

impl SimView {
    pub fn callback_id(&self) -> &str {
        self.view["callback_id"].as_str().unwrap_or_default()
    }

    pub fn private_metadata(&self) -> &str {
        self.view["private_metadata"].as_str().unwrap_or_default()
    }

    pub fn hash(&self) -> &str {
        self.view["hash"].as_str().unwrap_or_default()
    }

    pub fn blocks(&self) -> &[Value] {
        self.view["blocks"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// One `views.open` call as the sim answered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ViewsOpenCall {
    pub trigger_id: String,
    /// Whose trigger it was, when the sim issued it.
    pub user: Option<String>,
    /// The opened view's id, or Slack's error code.
    pub outcome: Result<String, String>,
}

/// Everything mutable. Only touched through `Shared::lock`.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub clock: TsClock,
    pub messages: BTreeMap<(String, (u64, u32)), SimMessage>,
    pub ephemerals: BTreeMap<(String, (u64, u32)), EphemeralMessage>,
    pub outputs: Vec<BotOutput>,
    pub envelopes: HashMap<String, EnvelopeRecord>,
    pub envelope_order: Vec<String>,
    pub connections: BTreeMap<u64, ConnectionHandle>,
    pub next_connection_id: u64,
    pub connections_opened: usize,
    pub round_robin: usize,
    pub tickets: HashSet<String>,
    pub response_urls: HashMap<String, ResponseUrlRecord>,
    pub rate_limits: HashMap<String, RateLimit>,
    pub api_calls: HashMap<String, usize>,
    pub pings_received: usize,
    pub stray_acks: usize,
    pub triggers: HashMap<String, TriggerRecord>,
    /// Modals and Home views, in the order they were created.
    pub views: Vec<SimView>,
    pub views_open_calls: Vec<ViewsOpenCall>,
}

impl State {
    pub fn message(&self, channel: &str, ts: &str) -> Option<&SimMessage> {
        self.messages.get(&(channel.to_string(), parse_ts(ts)?))
    }

    pub fn message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut SimMessage> {
        self.messages.get_mut(&(channel.to_string(), parse_ts(ts)?))
    }

    pub fn insert_message(&mut self, message: SimMessage) {
        if let Some(key) = parse_ts(&message.ts) {
            self.messages
                .insert((message.channel.clone(), key), message);
        }
    }

    pub fn remove_message(&mut self, channel: &str, ts: &str) -> Option<SimMessage> {
        self.messages.remove(&(channel.to_string(), parse_ts(ts)?))
    }

    pub fn ephemeral(&self, channel: &str, ts: &str) -> Option<&EphemeralMessage> {
        self.ephemerals.get(&(channel.to_string(), parse_ts(ts)?))
    }

    pub fn ephemeral_mut(&mut self, channel: &str, ts: &str) -> Option<&mut EphemeralMessage> {
        self.ephemerals
            .get_mut(&(channel.to_string(), parse_ts(ts)?))
    }

    pub fn insert_ephemeral(&mut self, message: EphemeralMessage) {
        if let Some(key) = parse_ts(&message.ts) {
            self.ephemerals
                .insert((message.channel.clone(), key), message);
        }
    }

    pub fn remove_ephemeral(&mut self, channel: &str, ts: &str) -> Option<EphemeralMessage> {
        self.ephemerals
            .remove(&(channel.to_string(), parse_ts(ts)?))
    }

    /// The root and its replies, oldest first.
    pub fn thread(&self, channel: &str, root_ts: &str) -> Vec<SimMessage> {
        self.messages
            .iter()
            .filter(|((c, _), m)| {
                c == channel && (m.ts == root_ts || m.thread_ts.as_deref() == Some(root_ts))
            })
            .map(|(_, m)| m.clone())
            .collect()
    }

    pub fn channel_messages(&self, channel: &str) -> Vec<SimMessage> {
        self.messages
            .iter()
            .filter(|((c, _), _)| c == channel)
            .map(|(_, m)| m.clone())
            .collect()
    }

    pub fn open_connection_count(&self) -> usize {
        self.connections.len()
    }

    pub fn view(&self, id: &str) -> Option<&SimView> {
        self.views.iter().find(|v| v.id == id)
    }

    pub fn view_mut(&mut self, id: &str) -> Option<&mut SimView> {
        self.views.iter_mut().find(|v| v.id == id)
    }

    /// The modals open for `user`, oldest (the root of the stack) first.
    pub fn open_modals(&self, user: &str) -> Vec<SimView> {
        self.views
            .iter()
            .filter(|v| v.user == user && v.kind == "modal" && v.open)
            .cloned()
            .collect()
    }

    pub fn home(&self, user: &str) -> Option<&SimView> {
        self.views
            .iter()
            .find(|v| v.user == user && v.kind == "home")
    }
}

/// The state plus its wake-up signals, shared by the HTTP handlers, connection tasks and
/// the test-facing API.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: SimConfig,
    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub base_url: String,
    state: Mutex<State>,
    /// Number of outputs recorded.
    pub outputs_tx: watch::Sender<usize>,
    /// Bumped on every ack.
    pub acks_tx: watch::Sender<u64>,
    /// (connections opened ever, connections open now)
    pub connections_tx: watch::Sender<(usize, usize)>,
    /// Bumped whenever a view opens, changes or closes, or a Home tab is published.
    pub views_tx: watch::Sender<u64>,
}

impl Shared {
    pub fn new(config: SimConfig, base_url: String) -> Arc<Self> {
        Arc::new(Self {
            config,
            base_url,
            state: Mutex::new(State::default()),
            outputs_tx: watch::Sender::new(0),
            acks_tx: watch::Sender::new(0),
            connections_tx: watch::Sender::new((0, 0)),
            views_tx: watch::Sender::new(0),
        })
    }

    /// Locks the state. A panic elsewhere while holding the lock must not wedge the sim,
    /// so a poisoned lock is recovered (the state stays structurally valid: every
    /// mutation is a single insert/remove/push).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn record_output(&self, state: &mut State, output: BotOutput) {
        state.outputs.push(output);
        let count = state.outputs.len();
        self.outputs_tx.send_replace(count);
    }

    pub fn views_changed(&self) {
        self.views_tx.send_modify(|n| *n += 1);
    }

    pub fn publish_connections(&self, state: &State) {
        self.connections_tx
            .send_replace((state.connections_opened, state.connections.len()));
    }
}

/// Waits until `check` returns `Some`, re-checking whenever `rx` changes; fails after
/// `timeout` with a message naming `what` was awaited.
pub(crate) async fn wait_until<W, T>(
    mut rx: watch::Receiver<W>,
    timeout: Duration,
    what: impl FnOnce() -> String,
    mut check: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        rx.borrow_and_update();
        if let Some(found) = check() {
            return Ok(found);
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => anyhow::bail!("the Slack sim stopped while waiting for {}", what()),
            Err(_) => anyhow::bail!("timed out after {timeout:?} waiting for {}", what()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ts_has_slack_shape() {
        let mut clock = TsClock::default();
        assert_eq!(clock.next_at(1_732_590_000_000_100), "1732590000.000100");
        assert_eq!(parse_ts("1732590000.000100"), Some((1_732_590_000, 100)));
    }

    #[test]
    fn ts_never_repeats_even_when_the_clock_stands_still_or_goes_back() {
        let mut clock = TsClock::default();
        let a = clock.next_at(5_000_000);
        let b = clock.next_at(5_000_000);
        let c = clock.next_at(4_000_000);
        assert_eq!(
            [a.as_str(), b.as_str(), c.as_str()],
            ["5.000000", "5.000001", "5.000002"]
        );
    }

    #[test]
    fn parse_ts_rejects_what_slack_would_not_issue() {
        for bad in [
            "",
            "1",
            "1.1",
            "a.000001",
            "1.00000a",
            ".000001",
            "1.0000001",
        ] {
            assert_eq!(parse_ts(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn ts_strictly_increase_and_round_trip(nows in proptest::collection::vec(0u64..4_000_000_000_000_000, 1..50)) {
            let mut clock = TsClock::default();
            let mut previous: Option<(u64, u32)> = None;
            for now in nows {
                let ts = clock.next_at(now);
                let key = parse_ts(&ts).expect("sim ts parses");
                prop_assert_eq!(format_ts(key.0 * 1_000_000 + key.1 as u64), ts);
                if let Some(p) = previous {
                    prop_assert!(key > p);
                }
                previous = Some(key);
            }
        }
    }

    #[test]
    fn thread_lists_root_then_replies() {
        let mut state = State::default();
        let msg = |ts: &str, thread: Option<&str>| SimMessage {
            channel: "C1".into(),
            ts: ts.into(),
            thread_ts: thread.map(str::to_string),
            user: "U0BOT".into(),
            bot_id: Some("B1".into()),
            text: ts.into(),
            blocks: vec![],
            edited_ts: None,
            reply_broadcast: false,
            metadata: None,
        };
        state.insert_message(msg("1.000002", Some("1.000001")));
        state.insert_message(msg("1.000001", None));
        state.insert_message(msg("1.000003", None));
        let thread: Vec<_> = state
            .thread("C1", "1.000001")
            .into_iter()
            .map(|m| m.ts)
            .collect();
        assert_eq!(thread, ["1.000001", "1.000002"]);
    }
}
