//! The test harness: a Slack sim, a fresh store, and the real bot connected to the
//! sim over Socket Mode. Tests type commands as people and read what the bot said,
//! in order, waiting on events (never sleeping). A test that leaves bot messages
//! unread fails in [`Harness::finish`]: every reply must be accounted for.

use lockstep::app::{self, RunningBot};
use lockstep::clock::Clock;
use lockstep::config::{Config, FileConfig, Secrets};
use lockstep::secret::Secret;
use lockstep::sim::slack::{BotOutput, SentEnvelope, SimConfig, SlackSim};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long any single wait may take before the test fails (generous for a loaded
/// 2-core CI machine; a passing test never waits this long).
pub const WAIT: Duration = Duration::from_secs(20);
pub const CHANNEL: &str = "C0DEPLOY";
pub const PM: &str = "U0PM";

pub struct Harness {
    pub slack: SlackSim,
    bot: Option<RunningBot>,
    store_dir: tempfile::TempDir,
    file: FileConfig,
    cursor: usize,
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::default(), |_| {}).await
    }

    /// Starts with a customised sim and config file.
    pub async fn start_with(sim: SimConfig, adjust: impl FnOnce(&mut FileConfig)) -> Self {
        lockstep::tls::install_crypto_provider();
        let slack = SlackSim::start(sim).await.expect("the Slack sim starts");
        let mut file = FileConfig::parse("", "test.toml").expect("empty config parses");
        file.slack.api_url = slack.api_url().parse().expect("sim URL parses");
        adjust(&mut file);
        let mut harness = Self {
            slack,
            bot: None,
            store_dir: tempfile::tempdir().expect("temp dir"),
            file,
            cursor: 0,
        };
        harness.start_bot().await;
        harness
    }

    fn config(&self) -> Config {
        let mut file = self.file.clone();
        file.store.path = self.store_dir.path().join("store");
        Config {
            file,
            secrets: Secrets {
                slack_app_token: Secret::new(self.slack.app_token()),
                slack_bot_token: Secret::new(self.slack.bot_token()),
                sites: BTreeMap::new(),
            },
            base_dir: self.store_dir.path().to_path_buf(),
        }
    }

    /// Starts the bot and waits until it holds a Socket Mode connection.
    pub async fn start_bot(&mut self) {
        let opened = self.slack.connections_opened();
        let bot = app::start(self.config(), Clock::System)
            .await
            .expect("the bot starts");
        self.slack
            .wait_for_connections_opened(opened + 1, WAIT)
            .await
            .expect("the bot opens a Socket Mode connection");
        self.slack
            .wait_for_open_connections(1, WAIT)
            .await
            .expect("a connection is open");
        self.bot = Some(bot);
    }

    pub async fn stop_bot(&mut self) {
        if let Some(bot) = self.bot.take() {
            bot.shutdown().await;
        }
    }

    /// `user` types `/frappe-stack <text>` in the deploy channel; waits for the ack.
    pub async fn command_as(&self, user: &str, text: &str) -> SentEnvelope {
        let sent = self
            .slack
            .send_slash_command(user, CHANNEL, "/frappe-stack", text)
            .await
            .expect("the sim delivers the command");
        let ack = self
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

    /// The next thing the bot said, anywhere.
    pub async fn next_output(&mut self) -> BotOutput {
        self.slack
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

    pub fn store_path(&self) -> std::path::PathBuf {
        self.store_dir.path().join("store")
    }

    /// Stops everything; fails if the bot said anything the test did not read.
    pub async fn finish(mut self) {
        self.stop_bot().await;
        let unread: Vec<BotOutput> = self.slack.outputs().into_iter().skip(self.cursor).collect();
        assert!(
            unread.is_empty(),
            "the test left bot messages unread: {unread:#?}"
        );
    }
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
