//! The test harness: the local world (Slack, Frappe and GitHub sims with the example
//! sites), a fresh store, and the real bot connected over Socket Mode. Tests type commands as people and read what the bot said,
//! in order, waiting on events (never sleeping). A test that leaves bot messages
//! unread fails in [`Harness::finish`]: every reply must be accounted for.

use lockstep::app::{self, RunningBot};
use lockstep::clock::Clock;
use lockstep::config::{Config, FileConfig};
use lockstep::local::world::{bot_config, example_sites, LocalWorld};
use lockstep_sim::slack::{BotOutput, DisconnectReason, SentEnvelope, SimConfig};
use std::time::Duration;

/// How long any single wait may take before the test fails (generous for a loaded
/// 2-core CI machine; a passing test never waits this long).
pub const WAIT: Duration = Duration::from_secs(20);
pub const CHANNEL: &str = "C0DEPLOY";
pub const PM: &str = "U0PM";
pub const DEV: &str = "U0DEV";
pub const ADMIN: &str = "U0ADMIN";

/// The access lists, rotation and quick polls a promotion test runs with: the PM
/// promotes, the developer and the admin approve, alice (the developer's GitHub
/// login) is on call.
pub const PROMOTION_CONFIG: &str = r#"
[access]
promoters = ["U0PM"]
approvers = ["U0DEV", "U0ADMIN"]
admins = ["U0ADMIN"]
[freeze]
timezone = "Asia/Kolkata"
[rotation]
members = [{ slack = "U0DEV", github = "alice" }]
[promote]
poll_interval_ms = 30
poll_max_interval_ms = 300
"#;

/// The harness's default "now": a Wednesday, 14:30 in Asia/Kolkata, outside every
/// freeze window, so no test depends on the day CI happens to run.
pub const WEDNESDAY: &str = "2026-11-25T14:30:00+05:30";

pub struct Harness {
    clock: Clock,
    /// Slack, the example Frappe sites and the config repo, all on loopback.
    pub world: LocalWorld,
    bot: Option<RunningBot>,
    store_dir: tempfile::TempDir,
    file: FileConfig,
    cursor: usize,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::default(), |_| {}).await
    }

    /// The world as a promotion needs it: [`PROMOTION_CONFIG`], and the example
    /// staging site's hand-made DocType removed (the walkthrough resolves it first).
    pub async fn start_promotable(adjust: impl FnOnce(&mut FileConfig)) -> Self {
        let clock = Clock::parse_fixed(WEDNESDAY).expect("a valid time");
        Self::start_promotable_at(clock, adjust).await
    }

    /// [`Harness::start_promotable`] with the given clock.
    pub async fn start_promotable_at(clock: Clock, adjust: impl FnOnce(&mut FileConfig)) -> Self {
        let h = Self::start_with_clock(clock, SimConfig::default(), |file| {
            let extra = FileConfig::parse(PROMOTION_CONFIG, "promotion.toml").expect("parses");
            file.access = extra.access;
            file.freeze = extra.freeze;
            file.rotation = extra.rotation;
            file.promote = extra.promote;
            adjust(file);
        })
        .await;
        h.world
            .frappe
            .delete_doc("staging", "DocType", "Quick Test")
            .expect("the seed has Quick Test");
        h
    }

    /// Starts with a customised Slack sim and config file.
    pub async fn start_with(sim: SimConfig, adjust: impl FnOnce(&mut FileConfig)) -> Self {
        Self::start_at(WEDNESDAY, sim, adjust).await
    }

    /// Starts with the bot's clock set at `now` (RFC 3339), running from there.
    pub async fn start_at(now: &str, sim: SimConfig, adjust: impl FnOnce(&mut FileConfig)) -> Self {
        let clock = Clock::parse_fixed(now).expect("a valid time");
        Self::start_with_clock(clock, sim, adjust).await
    }

    /// Starts with the given clock (a manual one, for a test that moves time).
    pub async fn start_with_clock(
        clock: Clock,
        sim: SimConfig,
        adjust: impl FnOnce(&mut FileConfig),
    ) -> Self {
        lockstep::tls::install_crypto_provider();
        let bench = std::path::PathBuf::from(env!("CARGO_BIN_EXE_lockstep"));
        let world = LocalWorld::start(sim, &example_sites(), Some(bench))
            .await
            .expect("the local servers start");
        let mut file = FileConfig::parse("", "test.toml").expect("empty config parses");
        // One connection: slack-morphism opens a second one 5 s after start even if
        // the listener was shut down meanwhile, which would haunt a restarted bot.
        file.slack.socket_connections = 1;
        adjust(&mut file);
        let mut harness = Self {
            clock,
            world,
            bot: None,
            store_dir: tempfile::tempdir().expect("temp dir"),
            file,
            cursor: 0,
        };
        harness.start_bot().await;
        harness
    }

    fn config(&self) -> Config {
        bot_config(
            &self.world,
            self.file.clone(),
            self.store_path(),
            self.store_dir.path(),
        )
        .expect("the local config builds")
    }

    /// Starts the bot and waits until it holds a Socket Mode connection.
    pub async fn start_bot(&mut self) {
        self.start_bot_with(app::StartOptions::default()).await
    }

    /// Starts the bot with pause points or an observer of its effects.
    pub async fn start_bot_with(&mut self, options: app::StartOptions) {
        let opened = self.world.slack.connections_opened();
        let bot = app::start_with(self.config(), self.clock.clone(), options)
            .await
            .expect("the bot starts");
        self.world
            .slack
            .wait_for_connections_opened(opened + 1, WAIT)
            .await
            .expect("the bot opens a Socket Mode connection");
        self.world
            .slack
            .wait_for_open_connections(1, WAIT)
            .await
            .expect("a connection is open");
        self.bot = Some(bot);
    }

    /// Stops the bot; afterwards no Socket Mode connection of it is left open.
    pub async fn stop_bot(&mut self) {
        if let Some(bot) = self.bot.take() {
            bot.shutdown().await;
            // slack-morphism 2.31 can leave a socket open after shutdown: when its
            // writer task sees the "destroyed" flag before the Exit command it stops
            // without closing, and the reader half waits for Slack's next frame.
            // Real Slack closes such sockets on its next refresh; do that now, so the
            // next start's commands cannot land on the stopped bot's socket.
            self.world
                .slack
                .disconnect_all(DisconnectReason::RefreshRequested);
            self.world
                .slack
                .wait_for_open_connections(0, WAIT)
                .await
                .expect("the stopped bot's connections close");
        }
    }

    /// `user` types `/frappe-stack <text>` in the deploy channel; waits for the ack.
    pub async fn command_as(&self, user: &str, text: &str) -> SentEnvelope {
        let sent = self
            .world
            .slack
            .send_slash_command(user, CHANNEL, "/frappe-stack", text)
            .await
            .expect("the sim delivers the command");
        let ack = self
            .world
            .slack
            .wait_for_ack(&sent.envelope_id, WAIT)
            .await
            .expect("the bot acks the command");
        assert_eq!(
            ack.payload.as_ref().and_then(|p| p.get("text")),
            None,
            "a command we accept is acked with an empty payload: the reply follows"
        );
        sent
    }

    pub async fn command(&self, text: &str) -> SentEnvelope {
        self.command_as(PM, text).await
    }

    /// Marks everything the bot said so far as read (a test that follows the world,
    /// not the transcript).
    pub fn read_all(&mut self) {
        self.cursor = self.world.slack.outputs().len();
    }

    /// The next thing the bot said, anywhere.
    pub async fn next_output(&mut self) -> BotOutput {
        self.world
            .slack
            .next_output(&mut self.cursor, WAIT)
            .await
            .expect("the bot says something")
    }

    /// The next output must be an ephemeral reply to `user`; returns its visible text.
    pub async fn expect_ephemeral_to(&mut self, user: &str) -> String {
        match self.next_output().await {
            BotOutput::Ephemeral {
                user: to,
                blocks,
                text,
                ..
            } => {
                assert_eq!(to, user, "the reply goes to the person who asked");
                visible_text(&text, &blocks)
            }
            other => panic!("expected an ephemeral reply to {user}, got {other:?}"),
        }
    }

    /// A job's message: posted at once, then edited until its final text. Returns
    /// the final text (progress edits, which start with an hourglass, are skipped).
    pub async fn expect_job_result(&mut self) -> String {
        let (ts, first) = self.expect_post().await;
        assert!(
            first.contains(":hourglass"),
            "a job announces itself first: {first}"
        );
        self.expect_edits_of(&ts).await
    }

    /// Reads edits of message `ts` until one that is not a progress note; returns it.
    pub async fn expect_edits_of(&mut self, ts: &str) -> String {
        loop {
            match self.next_output().await {
                BotOutput::Updated {
                    ts: edited,
                    text,
                    blocks,
                    ..
                } if edited == ts => {
                    let text = visible_text(&text, &blocks);
                    if !text.contains(":hourglass") {
                        return text;
                    }
                }
                other => panic!("expected an edit of message {ts}, got {other:?}"),
            }
        }
    }

    /// The next output must be a new message in the channel; returns (ts, text).
    pub async fn expect_post(&mut self) -> (String, String) {
        match self.next_output().await {
            BotOutput::Posted {
                channel,
                ts,
                text,
                blocks,
                ..
            } => {
                assert_eq!(channel, CHANNEL);
                (ts, visible_text(&text, &blocks))
            }
            other => panic!("expected a channel message, got {other:?}"),
        }
    }

    /// Reads outputs until one matches `wanted`; the ones before it are read too
    /// (a promotion edits its root and checklist messages as it goes).
    pub async fn wait_for(
        &mut self,
        what: &str,
        mut wanted: impl FnMut(&BotOutput) -> bool,
    ) -> BotOutput {
        loop {
            let output = self
                .world
                .slack
                .next_output(&mut self.cursor, WAIT)
                .await
                .unwrap_or_else(|err| panic!("waiting for {what}: {err}"));
            if wanted(&output) {
                return output;
            }
        }
    }

    /// Reads outputs until a channel message or thread reply whose visible text holds
    /// `needle`; returns its ts, text and blocks.
    pub async fn wait_for_post_blocks(
        &mut self,
        needle: &str,
    ) -> (String, String, Vec<serde_json::Value>) {
        match self
            .wait_for(needle, |output| match output {
                BotOutput::Posted { text, blocks, .. } => {
                    visible_text(text, blocks).contains(needle)
                }
                _ => false,
            })
            .await
        {
            BotOutput::Posted {
                ts, text, blocks, ..
            } => {
                let shown = visible_text(&text, &blocks);
                (ts, shown, blocks)
            }
            _ => unreachable!("matched a post"),
        }
    }

    /// Reads outputs until a channel message or thread reply whose visible text holds
    /// `needle`; returns its ts and text.
    pub async fn wait_for_post(&mut self, needle: &str) -> (String, String) {
        match self
            .wait_for(needle, |output| match output {
                BotOutput::Posted { text, blocks, .. } => {
                    visible_text(text, blocks).contains(needle)
                }
                _ => false,
            })
            .await
        {
            BotOutput::Posted {
                ts, text, blocks, ..
            } => (ts, visible_text(&text, &blocks)),
            _ => unreachable!("matched a post"),
        }
    }

    /// Reads outputs until an ephemeral reply to `user`; returns its text.
    pub async fn wait_for_ephemeral(&mut self, user: &str) -> String {
        match self
            .wait_for(
                "an ephemeral reply",
                |output| matches!(output, BotOutput::Ephemeral { user: to, .. } if to == user),
            )
            .await
        {
            BotOutput::Ephemeral { text, blocks, .. } => visible_text(&text, &blocks),
            _ => unreachable!("matched an ephemeral"),
        }
    }

    /// `user` presses the button `action_id` on message `ts`.
    pub async fn press(&self, user: &str, ts: &str, action_id: &str) {
        self.world
            .slack
            .click_button(user, CHANNEL, ts, action_id, None)
            .await
            .unwrap_or_else(|err| panic!("{user} presses {action_id}: {err}"));
    }

    /// `user` presses `button` (an element of a message as it was posted) on message
    /// `ts`, although the message may have changed since.
    pub async fn press_as_shown(&self, user: &str, ts: &str, button: serde_json::Value) {
        self.world
            .slack
            .click_stale_button(user, CHANNEL, ts, button)
            .await
            .unwrap_or_else(|err| panic!("{user} presses a stale button: {err}"));
    }

    pub fn store_path(&self) -> std::path::PathBuf {
        self.store_dir.path().join("store")
    }

    /// The running bot (its metrics address, its store).
    pub fn bot(&self) -> &RunningBot {
        self.bot.as_ref().expect("the bot is running")
    }

    /// Stops everything without reading the rest of the transcript, for a test that
    /// checks the world instead (the crash tests count every message by its key).
    pub async fn stop(mut self) {
        self.stop_bot().await;
    }

    /// Stops everything; fails if the bot said anything the test did not read.
    pub async fn finish(mut self) {
        self.stop_bot().await;
        let unread: Vec<BotOutput> = self
            .world
            .slack
            .outputs()
            .into_iter()
            .skip(self.cursor)
            .collect();
        assert!(
            unread.is_empty(),
            "the test left bot messages unread: {unread:#?}"
        );
    }
}

/// The button element `action_id` in a message's blocks, as posted.
pub fn button(blocks: &[serde_json::Value], action_id: &str) -> serde_json::Value {
    blocks
        .iter()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["action_id"] == action_id)
        .unwrap_or_else(|| panic!("no button {action_id} in {blocks:?}"))
}

/// What a person sees: the blocks' text (or the fallback text when there are none).
pub fn visible_text(text: &str, blocks: &[serde_json::Value]) -> String {
    if blocks.is_empty() {
        return text.to_string();
    }
    let mut parts = Vec::new();
    for block in blocks {
        collect_text(block, &mut parts);
    }
    parts.join("\n")
}

fn collect_text(value: &serde_json::Value, parts: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(text)) = map.get("text") {
                parts.push(text.clone());
            }
            for (key, child) in map {
                if key != "text" || !child.is_string() {
                    collect_text(child, parts);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| collect_text(item, parts)),
        _ => {}
    }
}
