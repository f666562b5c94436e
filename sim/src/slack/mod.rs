//! A Slack-compatible server for tests and `lockstep demo`: the Web API under `/api/`
//! (messages with metadata, history and threads, modals and the Home tab), Socket Mode
//! at `/link/`, response URLs at `/response/<id>`, a control surface under `/_sim/`,
//! and at `/` a web page showing the channels, modals and Home tab to a person. The bot
//! points slack-morphism at `api_url()` and cannot tell it from Slack. This file is the test-facing API (`SlackSim`); the wire formats live in the
//! submodules. It never imports the bot's modules.
//!
//! Everything a test waits for (acks, outputs, connections) is signalled through
//! `watch` channels: no sleeping, no polling.

mod blocks;
mod cli;
mod config;
mod history;
mod payloads;
mod response_url;
mod socket;
mod state;
mod views;
mod web;
mod web_api;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::{any, get, post};
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use cli::{serve, SimSlackArgs};
pub use config::{SimChannel, SimConfig, SimUser, SimUserGroup};
pub use socket::{DisconnectReason, SentEnvelope, SentEvent};
pub use state::{
    Ack, BotOutput, EphemeralMessage, EphemeralVia, SimMessage, SimView, ViewsOpenCall,
};
pub use views::{ViewOutcome, ViewSubmission};

use state::{wait_until, RateLimit, Shared};

/// A running Slack sim. Dropping it stops the server; `shutdown` does so gracefully.
pub struct SlackSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SlackSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSim")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SlackSim {
    /// Binds 127.0.0.1 on `config.port` (0 = any free port) and starts serving.
    pub async fn start(config: SimConfig) -> anyhow::Result<SlackSim> {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), config).await
    }

    /// As `start`, on another local address (the standalone `--bind`).
    pub async fn start_on(bind: IpAddr, config: SimConfig) -> anyhow::Result<SlackSim> {
        let listener = tokio::net::TcpListener::bind((bind, config.port))
            .await
            .with_context(|| {
                format!(
                    "while binding the Slack sim to {bind}:{} (port in use?)",
                    config.port
                )
            })?;
        let addr = listener
            .local_addr()
            .context("while reading the Slack sim's address")?;
        // URLs handed to the bot must be dialable even when bound to 0.0.0.0.
        let url_host = if bind.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            bind
        };
        let base_url = format!("http://{}", SocketAddr::new(url_host, addr.port()));
        let shared = Shared::new(config, base_url);
        let router = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            // Like production edge servers, write small frames at once (no Nagle):
            // otherwise back-to-back envelopes wait on the peer's delayed ACK (~40 ms).
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(%error, "Slack sim server stopped with an error");
            }
        });
        Ok(SlackSim {
            shared,
            addr,
            stop: Some(stop),
            server: Some(server),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// "http://127.0.0.1:PORT/api/": give it to slack-morphism's `with_slack_api_url`.
    /// (slack-morphism then requests `/api//method`; the sim accepts both spellings.)
    pub fn api_url(&self) -> String {
        format!("{}/api/", self.shared.base_url)
    }

    pub fn app_token(&self) -> &str {
        &self.shared.config.app_token
    }

    pub fn bot_token(&self) -> &str {
        &self.shared.config.bot_token
    }

    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// `user_id` runs `command text` in `channel_id`; waits (up to
    /// `SimConfig::dispatch_wait`) for a Socket Mode connection to deliver it to.
    pub async fn send_slash_command(
        &self,
        user_id: &str,
        channel_id: &str,
        command: &str,
        text: &str,
    ) -> anyhow::Result<SentEnvelope> {
        socket::send_slash_command(&self.shared, user_id, channel_id, command, text).await
    }

    /// `user_id` clicks the button `action_id` on message `message_ts`; `value` picks
    /// among buttons sharing an action_id. Errors if the message has no such button.
    pub async fn click_button(
        &self,
        user_id: &str,
        channel_id: &str,
        message_ts: &str,
        action_id: &str,
        value: Option<&str>,
    ) -> anyhow::Result<SentEnvelope> {
        socket::click_button(
            &self.shared,
            user_id,
            channel_id,
            message_ts,
            action_id,
            value,
        )
        .await
    }

    /// Clicks a button as the user's client still shows it after the message was
    /// edited (a late edit, or a payload someone tampered with): `shown` is the
    /// button element (`type`, `action_id`, `value`, `text`) as it was.
    pub async fn click_stale_button(
        &self,
        user_id: &str,
        channel_id: &str,
        message_ts: &str,
        shown: Value,
    ) -> anyhow::Result<SentEnvelope> {
        socket::click_stale_button(&self.shared, user_id, channel_id, message_ts, shown).await
    }

    /// Sends envelope `envelope_id` again with `retry_attempt` and
    /// `retry_reason: "timeout"`; returns the connection it went to.
    pub async fn redeliver(&self, envelope_id: &str, retry_attempt: u32) -> anyhow::Result<u64> {
        socket::redeliver(&self.shared, envelope_id, retry_attempt).await
    }

    /// The first ack of `envelope_id`, waiting up to `timeout` for it.
    pub async fn wait_for_ack(&self, envelope_id: &str, timeout: Duration) -> anyhow::Result<Ack> {
        wait_until(
            self.shared.acks_tx.subscribe(),
            timeout,
            || format!("the bot to ack envelope {envelope_id}"),
            || self.ack(envelope_id),
        )
        .await
    }

    /// The first `n` acks of `envelope_id` (e.g. 2 after a redelivery), waiting for them.
    pub async fn wait_for_acks(
        &self,
        envelope_id: &str,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Ack>> {
        wait_until(
            self.shared.acks_tx.subscribe(),
            timeout,
            || {
                format!(
                    "{n} acks of envelope {envelope_id} (so far {})",
                    self.acks(envelope_id).len()
                )
            },
            || {
                let acks = self.acks(envelope_id);
                (acks.len() >= n).then_some(acks)
            },
        )
        .await
    }

    /// The first ack of `envelope_id`, if any yet.
    pub fn ack(&self, envelope_id: &str) -> Option<Ack> {
        self.acks(envelope_id).into_iter().next()
    }

    /// Every ack of `envelope_id` (more than one after a redelivery).
    pub fn acks(&self, envelope_id: &str) -> Vec<Ack> {
        let state = self.shared.lock();
        state
            .envelopes
            .get(envelope_id)
            .map(|r| r.acks.clone())
            .unwrap_or_default()
    }

    /// Latency of every ack received, in envelope order.
    pub fn ack_latencies(&self) -> Vec<Duration> {
        let state = self.shared.lock();
        state
            .envelope_order
            .iter()
            .filter_map(|id| state.envelopes.get(id))
            .flat_map(|r| r.acks.iter().map(|a| a.latency))
            .collect()
    }

    /// Envelope ids sent but never acknowledged, oldest first.
    pub fn unacked_envelopes(&self) -> Vec<String> {
        let state = self.shared.lock();
        state
            .envelope_order
            .iter()
            .filter(|id| state.envelopes.get(*id).is_some_and(|r| r.acks.is_empty()))
            .cloned()
            .collect()
    }

    /// The connections `envelope_id` was delivered to, one per delivery, in order.
    pub fn delivered_to(&self, envelope_id: &str) -> Vec<u64> {
        let state = self.shared.lock();
        state
            .envelopes
            .get(envelope_id)
            .map(|r| r.deliveries.iter().map(|d| d.connection_id).collect())
            .unwrap_or_default()
    }

    /// The envelope as first sent.
    pub fn envelope(&self, envelope_id: &str) -> Option<Value> {
        self.shared
            .lock()
            .envelopes
            .get(envelope_id)
            .map(|r| r.envelope.clone())
    }

    /// Everything the bot made visible so far, in order.
    pub fn outputs(&self) -> Vec<BotOutput> {
        self.shared.lock().outputs.clone()
    }

    /// The output at `*cursor`, waiting up to `timeout` for it; advances the cursor.
    pub async fn next_output(
        &self,
        cursor: &mut usize,
        timeout: Duration,
    ) -> anyhow::Result<BotOutput> {
        let index = *cursor;
        let output = wait_until(
            self.shared.outputs_tx.subscribe(),
            timeout,
            || {
                format!(
                    "bot output #{} (the bot has made {index} so far)",
                    index + 1
                )
            },
            || self.shared.lock().outputs.get(index).cloned(),
        )
        .await?;
        *cursor += 1;
        Ok(output)
    }

    /// A person posts `text` in a channel (a thread reply when `thread_ts` is given); returns
    /// its ts. Not a bot output. Lets tests build threads under human messages and check
    /// that the bot cannot edit them (`cant_update_message`).
    pub fn post_user_message(
        &self,
        user_id: &str,
        channel_id: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> anyhow::Result<String> {
        let config = &self.shared.config;
        let channel = config
            .channel(channel_id)
            .with_context(|| format!("unknown channel {channel_id}"))?;
        anyhow::ensure!(
            config.is_member(&channel.id, user_id),
            "{user_id} is not a member of {channel_id}, so cannot post there"
        );
        let mut state = self.shared.lock();
        let thread_ts = match thread_ts {
            Some(ts) => Some(
                web_api::thread_root(&state, &channel.id, ts)
                    .map_err(|_| anyhow::anyhow!("no message {ts} in {channel_id} to reply to"))?,
            ),
            None => None,
        };
        let ts = state.clock.next();
        state.insert_message(SimMessage {
            channel: channel.id.clone(),
            ts: ts.clone(),
            thread_ts,
            user: user_id.to_string(),
            bot_id: None,
            text: text.to_string(),
            blocks: Vec::new(),
            edited_ts: None,
            reply_broadcast: false,
            metadata: None,
        });
        Ok(ts)
    }

    /// A channel message as it is now (after edits); `None` if absent or deleted.
    pub fn message(&self, channel: &str, ts: &str) -> Option<SimMessage> {
        self.shared.lock().message(channel, ts).cloned()
    }

    /// An ephemeral message as its user sees it now.
    pub fn ephemeral(&self, channel: &str, ts: &str) -> Option<EphemeralMessage> {
        self.shared.lock().ephemeral(channel, ts).cloned()
    }

    /// The thread rooted at `ts`: the root, then its replies, oldest first.
    pub fn thread(&self, channel: &str, ts: &str) -> Vec<SimMessage> {
        self.shared.lock().thread(channel, ts)
    }

    /// Every message in a channel (threads included), oldest first.
    pub fn channel_messages(&self, channel: &str) -> Vec<SimMessage> {
        self.shared.lock().channel_messages(channel)
    }

    /// Sends `disconnect` with `reason` to every open connection, then closes them: at
    /// once, or for `Warning` after `SimConfig::warning_grace` and a `refresh_requested`.
    pub fn disconnect_all(&self, reason: DisconnectReason) {
        socket::disconnect_all(&self.shared, reason, self.shared.config.warning_grace);
    }

    /// Sends `disconnect` with `reason` to one connection (ids as in `Ack` and
    /// `SentEnvelope`); errors if it is not open.
    pub fn disconnect_connection(
        &self,
        connection_id: u64,
        reason: DisconnectReason,
    ) -> anyhow::Result<()> {
        socket::disconnect_one(
            &self.shared,
            connection_id,
            reason,
            self.shared.config.warning_grace,
        )
    }

    /// Ids of the connections open now, oldest first.
    pub fn open_connection_ids(&self) -> Vec<u64> {
        self.shared.lock().connections.keys().copied().collect()
    }

    /// Socket Mode connections opened since start (including refused ones).
    pub fn connections_opened(&self) -> usize {
        self.shared.lock().connections_opened
    }

    /// Waits until at least `n` connections have been opened since start.
    pub async fn wait_for_connections_opened(
        &self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        wait_until(
            self.shared.connections_tx.subscribe(),
            timeout,
            || {
                format!(
                    "{n} Socket Mode connections to have been opened (so far {})",
                    self.connections_opened()
                )
            },
            || (self.connections_opened() >= n).then_some(()),
        )
        .await
    }

    /// Connections open right now.
    pub fn open_connection_count(&self) -> usize {
        self.shared.lock().open_connection_count()
    }

    /// Waits until exactly `n` connections are open.
    pub async fn wait_for_open_connections(
        &self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        wait_until(
            self.shared.connections_tx.subscribe(),
            timeout,
            || {
                format!(
                    "{n} open Socket Mode connections (now {})",
                    self.open_connection_count()
                )
            },
            || (self.open_connection_count() == n).then_some(()),
        )
        .await
    }

    /// WebSocket pings received from the bot (tungstenite answers each with a pong).
    pub fn pings_received(&self) -> usize {
        self.shared.lock().pings_received
    }

    /// The next `count` calls of `method` answer 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit(&self, method: &str, count: u32, retry_after_secs: u64) {
        self.shared.lock().rate_limits.insert(
            method.to_string(),
            RateLimit {
                remaining: count,
                retry_after_secs,
            },
        );
    }

    /// Calls of `method` received (including refused ones).
    pub fn api_calls(&self, method: &str) -> usize {
        self.shared
            .lock()
            .api_calls
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    // ---- views: modals and the Home tab ----------------------------------------------

    /// Every `views.open` call so far, with its trigger, whose it was and the outcome.
    pub fn views_open_calls(&self) -> Vec<ViewsOpenCall> {
        self.shared.lock().views_open_calls.clone()
    }

    /// The modals open for `user`, the root of the stack first (the one shown is last).
    pub fn open_views(&self, user: &str) -> Vec<SimView> {
        self.shared.lock().open_modals(user)
    }

    /// A view (modal or Home) by id, open or not.
    pub fn view(&self, view_id: &str) -> Option<SimView> {
        self.shared.lock().view(view_id).cloned()
    }

    /// The Home tab the bot published for `user`, if any.
    pub fn home_view(&self, user: &str) -> Option<SimView> {
        self.shared.lock().home(user).cloned()
    }

    /// Waits until `user` has a modal open and returns the one shown (top of the stack).
    pub async fn wait_for_open_view(
        &self,
        user: &str,
        timeout: Duration,
    ) -> anyhow::Result<SimView> {
        wait_until(
            self.shared.views_tx.subscribe(),
            timeout,
            || format!("a modal to open for {user}"),
            || self.open_views(user).pop(),
        )
        .await
    }

    /// Waits until `user`'s Home tab was published with a hash other than `after`
    /// (None: any published Home) and returns it.
    pub async fn wait_for_home_view(
        &self,
        user: &str,
        after: Option<&str>,
        timeout: Duration,
    ) -> anyhow::Result<SimView> {
        wait_until(
            self.shared.views_tx.subscribe(),
            timeout,
            || format!("the bot to publish {user}'s Home tab"),
            || self.home_view(user).filter(|v| Some(v.hash()) != after),
        )
        .await
    }

    /// `user` fills in their open modal `view_id` (`values`: block_id → action_id →
    /// text) and presses Submit: a `view_submission` goes to the bot over Socket Mode;
    /// returns its ack and what the ack did (closed, errors shown, updated, pushed,
    /// cleared). Refuses as Slack's client would (no such open modal, an empty required
    /// input, an input the view does not have).
    pub async fn submit_view(
        &self,
        user: &str,
        view_id: &str,
        values: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
    ) -> anyhow::Result<ViewSubmission> {
        views::submit_view(&self.shared, user, view_id, values).await
    }

    /// `user` cancels their open modal `view_id`; returns the `view_closed` envelope id
    /// when the view asked to be told (`notify_on_close`).
    pub async fn close_view(&self, user: &str, view_id: &str) -> anyhow::Result<Option<String>> {
        views::close_view(&self.shared, user, view_id).await
    }

    /// `user` opens the app's Home tab: delivers `app_home_opened` to the bot.
    pub async fn open_home(&self, user: &str) -> anyhow::Result<SentEvent> {
        views::open_home(&self.shared, user).await
    }

    /// A trigger id for `user` as a slash command or click would carry it, without
    /// delivering anything: for testing a client's `views.open` on its own.
    pub fn issue_trigger_id(&self, user: &str) -> String {
        socket::issue_trigger(&self.shared, user)
    }

    /// Makes a trigger id answer `expired_trigger_id`, as if its 3 seconds had passed.
    pub fn expire_trigger(&self, trigger_id: &str) -> anyhow::Result<()> {
        let mut state = self.shared.lock();
        let trigger = state
            .triggers
            .get_mut(trigger_id)
            .with_context(|| format!("{trigger_id} is not a trigger id this sim handed out"))?;
        trigger.expired = true;
        Ok(())
    }

    /// Makes a response URL answer as if its 30 minutes had passed.
    pub fn expire_response_url(&self, url: &str) -> anyhow::Result<()> {
        response_url::expire(&self.shared, url)
    }

    /// Closes every connection and stops the server.
    pub async fn shutdown(mut self) {
        self.stop_server().await;
    }

    async fn stop_server(&mut self) {
        socket::close_all(&self.shared);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            // Upgraded sockets are closed above; don't hang on a peer that never answers.
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                tracing::warn!("Slack sim did not stop within 5 s");
            }
        }
    }
}

impl Drop for SlackSim {
    fn drop(&mut self) {
        socket::close_all(&self.shared);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/{*method}", any(web_api::handle))
        .route("/link", get(socket::link))
        .route("/link/", get(socket::link))
        .route("/response/{id}", post(response_url::respond))
        .merge(cli::control_routes())
        .merge(web::routes())
        .with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_can_be_shared_across_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SlackSim>();
        assert_send_sync::<BotOutput>();
    }
}
