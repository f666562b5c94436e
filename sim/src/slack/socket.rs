//! Socket Mode: the `/link/` WebSocket (single-use tickets from
//! `apps.connections.open`, `hello` on connect, the 10-connection cap), delivery of
//! envelopes to one open connection, ack tracking with latency, redelivery with
//! `retry_attempt`, and `disconnect` injection. Pings are answered by tungstenite
//! (axum passes them up only so the sim can count them). Builds envelopes through
//! `payloads`; must not answer Web API calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use super::payloads::{self, ClickedMessage, DeliveryIds};
use super::state::{
    wait_until, Ack, ConnCommand, ConnectionHandle, Delivery, EnvelopeRecord, ResponseOrigin,
    ResponseUrlRecord, Shared, TriggerRecord,
};
use super::{blocks, response_url};

/// Why Slack closes a Socket Mode connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectReason {
    /// Sent ~10 s before a refresh: after `SimConfig::warning_grace` the sim sends
    /// `refresh_requested` and closes (if the client has not left already).
    Warning,
    /// Routine refresh (every few hours on real Slack); closes at once.
    RefreshRequested,
    /// Socket Mode was turned off for the app; closes at once.
    LinkDisabled,
    /// More than the allowed connections; closes at once.
    TooManyWebsockets,
}

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::Warning => "warning",
            DisconnectReason::RefreshRequested => "refresh_requested",
            DisconnectReason::LinkDisabled => "link_disabled",
            DisconnectReason::TooManyWebsockets => "too_many_websockets",
        }
    }
}

/// What the sim handed the bot for one Events API event (e.g. `app_home_opened`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SentEvent {
    pub envelope_id: String,
    /// The `event_id` a bot deduplicates on (`Ev…`).
    pub event_id: String,
    /// Which connection received it.
    pub connection_id: u64,
}

/// What the sim handed the bot for one command or click.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SentEnvelope {
    pub envelope_id: String,
    pub trigger_id: String,
    pub response_url: String,
    /// Which connection received it.
    pub connection_id: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LinkQuery {
    ticket: Option<String>,
}

/// `GET /link/?ticket=…&app_id=…`: upgrades to a WebSocket if the ticket is fresh.
pub(crate) async fn link(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(query): Query<LinkQuery>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let ticket_valid = query
        .ticket
        .is_some_and(|ticket| shared.lock().tickets.remove(&ticket));
    if !ticket_valid {
        // A ticket is good for one connection; a new one needs apps.connections.open.
        return (StatusCode::UNAUTHORIZED, "invalid_ticket").into_response();
    }
    upgrade.on_upgrade(move |socket| run_connection(shared, socket))
}

/// Registers the connection, then relays sim commands out and acks in until either side
/// closes.
async fn run_connection(shared: Arc<Shared>, socket: WebSocket) {
    let (tx, mut commands) = mpsc::unbounded_channel();
    let (connection_id, over_limit, open_now) = register(&shared, tx);
    let (mut sink, mut frames) = socket.split();
    if over_limit {
        let frame = payloads::disconnect(DisconnectReason::TooManyWebsockets.as_str());
        let _ = sink.send(Message::Text(frame.to_string().into())).await;
        let _ = sink.send(Message::Close(None)).await;
        return;
    }
    let hello = payloads::hello(open_now, &shared.config.app_id);
    let mut open = sink
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_ok();
    let mut close_at: Option<tokio::time::Instant> = None;
    while open {
        tokio::select! {
            command = commands.recv() => match command {
                Some(ConnCommand::Send(text)) => {
                    open = sink.send(Message::Text(text.into())).await.is_ok();
                }
                Some(ConnCommand::Disconnect { reason, grace }) => {
                    let frame = payloads::disconnect(&reason);
                    open = sink.send(Message::Text(frame.to_string().into())).await.is_ok();
                    if grace.is_zero() {
                        open = false;
                    } else {
                        close_at = Some(tokio::time::Instant::now() + grace);
                    }
                }
                Some(ConnCommand::Close) | None => open = false,
            },
            _ = sleep_until(close_at), if close_at.is_some() => {
                // The refresh a warning announced.
                let frame = payloads::disconnect(DisconnectReason::RefreshRequested.as_str());
                let _ = sink.send(Message::Text(frame.to_string().into())).await;
                open = false;
            }
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => record_ack(&shared, connection_id, text.as_str()),
                Some(Ok(Message::Ping(_))) => shared.lock().pings_received += 1,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => open = false,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = sink.send(Message::Close(None)).await;
    let _ = sink.close().await;
    let mut state = shared.lock();
    state.connections.remove(&connection_id);
    shared.publish_connections(&state);
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Returns (connection id, whether it exceeds the cap, open connections counting it).
fn register(shared: &Shared, tx: mpsc::UnboundedSender<ConnCommand>) -> (u64, bool, usize) {
    let mut state = shared.lock();
    state.next_connection_id += 1;
    state.connections_opened += 1;
    let id = state.next_connection_id;
    let over_limit = state.connections.len() >= shared.config.max_connections;
    if !over_limit {
        state.connections.insert(
            id,
            ConnectionHandle {
                tx,
                draining: false,
            },
        );
    }
    shared.publish_connections(&state);
    let open_now = state.connections.len();
    (id, over_limit, open_now)
}

/// Any frame with an `envelope_id` from the bot is an ack of that envelope.
fn record_ack(shared: &Shared, connection_id: u64, text: &str) {
    let received_at = Instant::now();
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let envelope_id = parsed
        .as_ref()
        .and_then(|v| v.get("envelope_id"))
        .and_then(Value::as_str);
    let mut state = shared.lock();
    let Some(record) = envelope_id.and_then(|id| state.envelopes.get_mut(id)) else {
        state.stray_acks += 1;
        return;
    };
    let sent_at = record
        .deliveries
        .iter()
        .rev()
        .map(|d| d.sent_at)
        .find(|sent| *sent <= received_at)
        .unwrap_or(received_at);
    let payload = parsed.as_ref().and_then(|v| v.get("payload")).cloned();
    record.acks.push(Ack {
        envelope_id: envelope_id.unwrap_or_default().to_string(),
        connection_id,
        payload: payload.clone(),
        latency: received_at.duration_since(sent_at),
    });
    // Slack shows a slash command's ack payload to the user; interactive envelopes
    // here say accepts_response_payload: false, so theirs is dropped.
    let command_response_url = (record.envelope["type"] == "slash_commands")
        .then(|| {
            record.envelope["payload"]["response_url"]
                .as_str()
                .map(str::to_string)
        })
        .flatten();
    // An ack whose payload carries no message (`{}`) is the plain "received": Slack
    // shows nothing for it.
    let payload = payload.filter(|p| {
        ["text", "blocks", "attachments"]
            .iter()
            .any(|k| p.get(k).is_some())
    });
    if let (Some(url), Some(payload)) = (command_response_url, payload) {
        if let Err(refused) = response_url::show_ack_payload(shared, &mut state, &url, &payload) {
            tracing::warn!(
                error = refused.1,
                "Slack sim: ack payload not shown to the user"
            );
        }
    }
    drop(state);
    shared.acks_tx.send_modify(|n| *n += 1);
}

/// Sends `frame` (envelope `envelope_id`, first sent as `original`) to one open,
/// non-draining connection, waiting up to `dispatch_wait` for one to exist.
pub(crate) async fn deliver(
    shared: &Arc<Shared>,
    envelope_id: &str,
    original: &Value,
    frame: &Value,
) -> anyhow::Result<u64> {
    let text = frame.to_string();
    wait_until(
        shared.connections_tx.subscribe(),
        shared.config.dispatch_wait,
        || format!("an open Socket Mode connection to deliver envelope {envelope_id} (is the bot's listener running?)"),
        || try_send(shared, envelope_id, original, &text),
    )
    .await
}

fn try_send(shared: &Shared, envelope_id: &str, original: &Value, text: &str) -> Option<u64> {
    let mut state = shared.lock();
    let live: Vec<u64> = state
        .connections
        .iter()
        .filter(|(_, c)| !c.draining)
        .map(|(id, _)| *id)
        .collect();
    if live.is_empty() {
        return None;
    }
    if !state.envelopes.contains_key(envelope_id) {
        state.envelopes.insert(
            envelope_id.to_string(),
            EnvelopeRecord {
                envelope: original.clone(),
                deliveries: Vec::new(),
                acks: Vec::new(),
            },
        );
        state.envelope_order.push(envelope_id.to_string());
    }
    // Round-robin: Slack sends each envelope to any one of the app's connections.
    for offset in 0..live.len() {
        let id = live[state.round_robin.wrapping_add(offset) % live.len()];
        let sent = state
            .connections
            .get(&id)
            .is_some_and(|c| c.tx.send(ConnCommand::Send(text.to_string())).is_ok());
        if sent {
            state.round_robin = state.round_robin.wrapping_add(offset + 1);
            if let Some(record) = state.envelopes.get_mut(envelope_id) {
                record.deliveries.push(Delivery {
                    connection_id: id,
                    sent_at: Instant::now(),
                });
            }
            return Some(id);
        }
    }
    None
}

fn response_url_for(shared: &Shared, channel: &str, user: &str, origin: ResponseOrigin) -> String {
    let id = payloads::new_opaque_id();
    shared.lock().response_urls.insert(
        id.clone(),
        ResponseUrlRecord {
            channel: channel.to_string(),
            user: user.to_string(),
            created_at: Instant::now(),
            uses: 0,
            origin,
            last_sent: None,
            expired: false,
        },
    );
    format!("{}/response/{id}", shared.base_url)
}

fn new_ids(shared: &Shared, channel: &str, user: &str, origin: ResponseOrigin) -> DeliveryIds {
    DeliveryIds {
        envelope_id: payloads::new_envelope_id(),
        trigger_id: issue_trigger(shared, user),
        response_url: response_url_for(shared, channel, user, origin),
    }
}

/// A fresh trigger id for `user`, registered so `views.open` can exchange it once.
pub(crate) fn issue_trigger(shared: &Shared, user: &str) -> String {
    let trigger_id = payloads::new_trigger_id();
    shared.lock().triggers.insert(
        trigger_id.clone(),
        TriggerRecord {
            user: user.to_string(),
            issued_at: Instant::now(),
            exchanged: false,
            expired: false,
        },
    );
    trigger_id
}

/// A user types `command text` in `channel_id`.
pub(crate) async fn send_slash_command(
    shared: &Arc<Shared>,
    user_id: &str,
    channel_id: &str,
    command: &str,
    text: &str,
) -> anyhow::Result<SentEnvelope> {
    let config = &shared.config;
    let user = config
        .user(user_id)
        .with_context(|| format!("unknown user {user_id}: add it with SimConfig::with_user"))?;
    let channel = config.channel(channel_id).with_context(|| {
        format!("unknown channel {channel_id}: add it with SimConfig::with_channel")
    })?;
    anyhow::ensure!(
        config.is_member(&channel.id, user_id),
        "{user_id} is not a member of {channel_id}, so Slack would not let them run {command} there"
    );
    anyhow::ensure!(
        command.starts_with('/'),
        "slash commands start with '/', got {command:?}"
    );
    let ids = new_ids(shared, &channel.id, user_id, ResponseOrigin::SlashCommand);
    let envelope = payloads::slash_command_envelope(config, user, channel, command, text, &ids);
    let connection_id = deliver(shared, &ids.envelope_id, &envelope, &envelope).await?;
    Ok(SentEnvelope {
        envelope_id: ids.envelope_id,
        trigger_id: ids.trigger_id,
        response_url: ids.response_url,
        connection_id,
    })
}

/// A user clicks a button as their client still shows it, although the message has
/// been edited since (Slack delivers such presses: an edit reaches clients late).
/// `shown` is the button element as it was (`action_id`, `value`, `text`).
pub(crate) async fn click_stale_button(
    shared: &Arc<Shared>,
    user_id: &str,
    channel_id: &str,
    message_ts: &str,
    shown: Value,
) -> anyhow::Result<SentEnvelope> {
    let config = &shared.config;
    let user = config
        .user(user_id)
        .with_context(|| format!("unknown user {user_id}: add it with SimConfig::with_user"))?;
    let channel = config
        .channel(channel_id)
        .with_context(|| format!("unknown channel {channel_id}"))?;
    let (message, _) = clicked_message(shared, &channel.id, user_id, message_ts)?;
    let button = blocks::ClickedButton {
        block_id: "stale".to_string(),
        element: shown,
    };
    let origin = ResponseOrigin::Message {
        ts: message.ts.clone(),
        ephemeral: message.is_ephemeral,
    };
    let ids = new_ids(shared, &channel.id, user_id, origin);
    let action_ts = shared.lock().clock.next();
    let envelope = payloads::block_actions_envelope(
        config, user, channel, &message, &button, &action_ts, &ids,
    );
    let connection_id = deliver(shared, &ids.envelope_id, &envelope, &envelope).await?;
    Ok(SentEnvelope {
        envelope_id: ids.envelope_id,
        trigger_id: ids.trigger_id,
        response_url: ids.response_url,
        connection_id,
    })
}

/// A user clicks the button `action_id` (and `value`, if given) on the message
/// `message_ts` in `channel_id`: a channel message, or an ephemeral one shown to them.
pub(crate) async fn click_button(
    shared: &Arc<Shared>,
    user_id: &str,
    channel_id: &str,
    message_ts: &str,
    action_id: &str,
    value: Option<&str>,
) -> anyhow::Result<SentEnvelope> {
    let config = &shared.config;
    let user = config
        .user(user_id)
        .with_context(|| format!("unknown user {user_id}: add it with SimConfig::with_user"))?;
    let channel = config
        .channel(channel_id)
        .with_context(|| format!("unknown channel {channel_id}"))?;
    let (message, blocks) = clicked_message(shared, &channel.id, user_id, message_ts)?;
    let button = blocks::find_button(&blocks, action_id, value).with_context(|| {
        format!(
            "message {message_ts} in {channel_id} has no button with action_id {action_id:?}{}",
            value
                .map(|v| format!(" and value {v:?}"))
                .unwrap_or_default()
        )
    })?;
    let origin = ResponseOrigin::Message {
        ts: message.ts.clone(),
        ephemeral: message.is_ephemeral,
    };
    let ids = new_ids(shared, &channel.id, user_id, origin);
    let action_ts = shared.lock().clock.next();
    let envelope = payloads::block_actions_envelope(
        config, user, channel, &message, &button, &action_ts, &ids,
    );
    let connection_id = deliver(shared, &ids.envelope_id, &envelope, &envelope).await?;
    Ok(SentEnvelope {
        envelope_id: ids.envelope_id,
        trigger_id: ids.trigger_id,
        response_url: ids.response_url,
        connection_id,
    })
}

fn clicked_message(
    shared: &Shared,
    channel: &str,
    user_id: &str,
    ts: &str,
) -> anyhow::Result<(ClickedMessage, Vec<Value>)> {
    let state = shared.lock();
    if let Some(message) = state.message(channel, ts) {
        let clicked = ClickedMessage {
            ts: message.ts.clone(),
            is_ephemeral: false,
            message_json: Some(message.to_slack_json(&shared.config)),
        };
        return Ok((clicked, message.blocks.clone()));
    }
    match state.ephemeral(channel, ts) {
        Some(ephemeral) if ephemeral.user == user_id => {
            let clicked = ClickedMessage {
                ts: ephemeral.ts.clone(),
                is_ephemeral: true,
                message_json: None,
            };
            Ok((clicked, ephemeral.blocks.clone()))
        }
        Some(ephemeral) => anyhow::bail!(
            "message {ts} in {channel} is ephemeral for {}, so {user_id} cannot see or click it",
            ephemeral.user
        ),
        None => anyhow::bail!("no message {ts} in {channel} (deleted, or never posted)"),
    }
}

/// Sends an envelope again with `retry_attempt`/`retry_reason: "timeout"`.
pub(crate) async fn redeliver(
    shared: &Arc<Shared>,
    envelope_id: &str,
    retry_attempt: u32,
) -> anyhow::Result<u64> {
    let original = shared
        .lock()
        .envelopes
        .get(envelope_id)
        .map(|r| r.envelope.clone())
        .with_context(|| {
            format!("no envelope {envelope_id} was ever sent, so it cannot be redelivered")
        })?;
    let frame = payloads::with_retry(&original, retry_attempt);
    deliver(shared, envelope_id, &original, &frame).await
}

/// Tells every open connection to disconnect for `reason`.
pub(crate) fn disconnect_all(shared: &Shared, reason: DisconnectReason, warning_grace: Duration) {
    let ids: Vec<u64> = shared.lock().connections.keys().copied().collect();
    for id in ids {
        // A connection that closed meanwhile needs no disconnect.
        let _ = disconnect_one(shared, id, reason, warning_grace);
    }
}

/// Tells connection `connection_id` to disconnect for `reason`; the socket closes
/// after `warning_grace` for `Warning` (Slack warns ahead of the refresh), at once
/// otherwise.
pub(crate) fn disconnect_one(
    shared: &Shared,
    connection_id: u64,
    reason: DisconnectReason,
    warning_grace: Duration,
) -> anyhow::Result<()> {
    let grace = if reason == DisconnectReason::Warning {
        warning_grace
    } else {
        Duration::ZERO
    };
    let mut state = shared.lock();
    let connection = state
        .connections
        .get_mut(&connection_id)
        .with_context(|| format!("Socket Mode connection {connection_id} is not open"))?;
    connection.draining = true;
    let _ = connection.tx.send(ConnCommand::Disconnect {
        reason: reason.as_str().to_string(),
        grace,
    });
    Ok(())
}

/// Closes every connection without a disconnect frame (sim shutdown).
pub(crate) fn close_all(shared: &Shared) {
    let state = shared.lock();
    for connection in state.connections.values() {
        let _ = connection.tx.send(ConnCommand::Close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_have_slack_names() {
        let names: Vec<_> = [
            DisconnectReason::Warning,
            DisconnectReason::RefreshRequested,
            DisconnectReason::LinkDisabled,
            DisconnectReason::TooManyWebsockets,
        ]
        .iter()
        .map(|r| r.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "warning",
                "refresh_requested",
                "link_disabled",
                "too_many_websockets"
            ]
        );
    }
}
