//! A harness for the hardening and fault tests that must reach past what a person
//! sees: the running bot itself (its readiness, its store's fault injection) and the
//! whole configuration (GitHub behind a misbehaving proxy, a slow-command deadline).
//! Like `harness`, it drives the real bot over Socket Mode against the sims, reads
//! what the bot said in order, waits on events (never sleeps), and fails a test
//! that leaves bot messages unread.

use crate::harness::{visible_text, CHANNEL, PM, WAIT, WEDNESDAY};
use lockstep::app::{self, RunningBot};
use lockstep::clock::Clock;
use lockstep::config::{Config, FileConfig};
use lockstep::local::world::{bot_config, example_sites, LocalWorld};
use lockstep_sim::slack::{
    Ack, BotOutput, DisconnectReason, EphemeralVia, SentEnvelope, SimConfig,
};

pub struct Rig {
    pub world: LocalWorld,
    bot: Option<RunningBot>,
    clock: Clock,
    store_dir: tempfile::TempDir,
    pub config: Config,
    cursor: usize,
}

impl Rig {
    /// The example world and a bot whose configuration `adjust` may change last
    /// (after the world's URLs and secrets are filled in).
    pub async fn start(adjust: impl FnOnce(&mut Config)) -> Rig {
        lockstep::tls::install_crypto_provider();
        let bench = std::path::PathBuf::from(env!("CARGO_BIN_EXE_lockstep"));
        let world = LocalWorld::start(SimConfig::default(), &example_sites(), Some(bench))
            .await
            .expect("the local servers start");
        let store_dir = tempfile::tempdir().expect("temp dir");
        let mut file = FileConfig::parse("", "rig.toml").expect("empty config parses");
        file.slack.socket_connections = 1;
        let mut config = bot_config(
            &world,
            file,
            store_dir.path().join("store"),
            store_dir.path(),
        )
        .expect("the local config builds");
        adjust(&mut config);
        let mut rig = Rig {
            world,
            bot: None,
            clock: Clock::parse_fixed(WEDNESDAY).expect("a valid time"),
            store_dir,
            config,
            cursor: 0,
        };
        rig.start_bot().await;
        rig
    }

    pub fn store_path(&self) -> std::path::PathBuf {
        self.store_dir.path().join("store")
    }

    pub fn bot(&self) -> &RunningBot {
        self.bot.as_ref().expect("the bot is running")
    }

    pub async fn start_bot(&mut self) {
        let opened = self.world.slack.connections_opened();
        let bot = app::start(self.config.clone(), self.clock.clone())
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

    /// Stops the bot once its outbox is empty (an effect performed but not yet
    /// marked done would be performed again at the next start).
    pub async fn stop_bot(&mut self) {
        if let Some(bot) = &self.bot {
            let store = bot.store().clone();
            tokio::time::timeout(WAIT, async {
                while !store
                    .pending_effects()
                    .map(|p| p.is_empty())
                    .unwrap_or(true)
                {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            })
            .await
            .expect("the outbox empties");
        }
        if let Some(bot) = self.bot.take() {
            bot.shutdown().await;
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

    /// `/frappe-stack <text>` from the PM; returns the envelope and its ack.
    pub async fn send(&self, text: &str) -> (SentEnvelope, Ack) {
        let sent = self
            .world
            .slack
            .send_slash_command(PM, CHANNEL, "/frappe-stack", text)
            .await
            .expect("the sim delivers the command");
        let ack = self
            .world
            .slack
            .wait_for_ack(&sent.envelope_id, WAIT)
            .await
            .expect("the bot acks the command");
        (sent, ack)
    }

    /// A command the bot takes (acked with an empty payload; the reply follows).
    pub async fn command(&self, text: &str) -> SentEnvelope {
        let (sent, ack) = self.send(text).await;
        assert_eq!(
            ack.payload.as_ref().and_then(|p| p.get("text")),
            None,
            "a command we accept is acked with an empty payload"
        );
        sent
    }

    pub async fn next_output(&mut self) -> BotOutput {
        self.world
            .slack
            .next_output(&mut self.cursor, WAIT)
            .await
            .expect("the bot says something")
    }

    /// The next output must be private to the PM; returns how it came and its text.
    pub async fn expect_ephemeral(&mut self) -> (EphemeralVia, String) {
        match self.next_output().await {
            BotOutput::Ephemeral {
                user,
                text,
                blocks,
                via,
                ..
            } => {
                assert_eq!(user, PM);
                (via, visible_text(&text, &blocks))
            }
            other => panic!("expected an ephemeral reply, got {other:?}"),
        }
    }

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
            other => panic!(
                "expected a channel message, got {other:?}\nall so far: {:#?}",
                self.world
                    .slack
                    .outputs()
                    .iter()
                    .map(|o| serde_json::to_string(o)
                        .unwrap()
                        .chars()
                        .take(200)
                        .collect::<String>())
                    .collect::<Vec<_>>()
            ),
        }
    }

    /// Edits of `ts` until one that is not a progress note; returns it and the
    /// progress notes seen on the way.
    pub async fn expect_edits_of(&mut self, ts: &str) -> (String, Vec<String>) {
        let mut notes = Vec::new();
        loop {
            match self.next_output().await {
                BotOutput::Updated {
                    ts: edited,
                    text,
                    blocks,
                    ..
                } if edited == ts => {
                    let text = visible_text(&text, &blocks);
                    if text.contains(":hourglass") {
                        notes.push(text);
                    } else {
                        return (text, notes);
                    }
                }
                other => panic!("expected an edit of message {ts}, got {other:?}"),
            }
        }
    }

    /// A run's message: posted at once, then edited to its result.
    pub async fn expect_job_result(&mut self) -> String {
        let (ts, first) = self.expect_post().await;
        assert!(
            first.contains(":hourglass"),
            "a job announces itself: {first}"
        );
        self.expect_edits_of(&ts).await.0
    }

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
