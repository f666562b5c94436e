//! `lockstep demo`: the whole bot on loopback with no credentials. Starts the
//! Slack-, Frappe- and GitHub-compatible servers (the example staging and production
//! sites, and a config repo whose `main` and `staging` hold their blueprints), runs
//! the real bot against them on the demo's clock, and serves one web page of that
//! world: the channel, with the config repository and both sites beside it. Then it
//! either plays the walkthrough in the terminal (`--script-only`, exit status = did
//! every step do what it says; [`super::tour`]) or leaves the world to the person,
//! in the page or at a prompt (`--tour` plays the walkthrough first). What the
//! page and the terminal show is exactly what Slack and GitHub would hold.

use super::tour::{self, CHANNEL, COMMAND, PM};
use super::transcript::Transcript;
use super::world::{bot_config, example_sites, LocalWorld};
use crate::app::{self, RunningBot};
use crate::checks::freeze::freeze_reason;
use crate::clock::Clock;
use crate::config::FileConfig;
use chrono::DateTime;
use lockstep_sim::page::WorldPage;
use lockstep_sim::slack::SimConfig;
use lockstep_sim::world::REPO;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;

/// The walkthrough's moment: a Wednesday, 14:30 in the example's time zone, outside
/// every freeze window.
pub const WALKTHROUGH_NOW: &str = "2026-11-25T14:30:00+05:30";

/// The demo's settings beyond the local servers: who may promote and approve (the
/// PM promotes; the developer, GitHub `alice`, is on call; the developer and the
/// admin approve), the walkthrough's time zone, quick polls and the release channel.
const DEMO_CONFIG: &str = r#"
[access]
promoters = ["U0PM"]
approvers = ["U0DEV", "U0ADMIN"]
admins = ["U0ADMIN"]
[freeze]
timezone = "Asia/Kolkata"
[rotation]
members = [{ slack = "U0DEV", github = "alice" }]
[promote]
poll_interval_ms = 200
poll_max_interval_ms = 1000
[slack]
release_channel = "C0RELEASES"
"#;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Play the whole walkthrough in the terminal and exit: 0 only if every step did
    /// what the walkthrough says.
    #[arg(long)]
    pub script_only: bool,
    /// Play the walkthrough first, then leave the world open (page and prompt).
    #[arg(long, conflicts_with = "script_only")]
    pub tour: bool,
    /// The demo's clock (RFC 3339), running from there; e.g. a Friday 15:00 shows
    /// the freeze and the emergency path.
    #[arg(long, env = "LOCKSTEP_NOW", default_value = WALKTHROUGH_NOW)]
    pub now: String,
    /// The web page's port on 127.0.0.1 (0: any free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Where the demo keeps its store (default: a temporary folder).
    #[arg(long)]
    pub store: Option<PathBuf>,
}

impl DemoArgs {
    /// The plain demo (page and prompt) at `now` (RFC 3339).
    pub fn open_at(now: &str) -> Self {
        DemoArgs {
            script_only: false,
            tour: false,
            now: now.to_string(),
            port: 0,
            store: None,
        }
    }
}

/// The demo's world with the bot connected to it and its page served.
pub struct Demo {
    pub world: Arc<LocalWorld>,
    pub page: WorldPage,
    bot: RunningBot,
    /// The demo's "now" as it started, on the freeze time zone's wall clock, and
    /// whether it is in a freeze.
    pub now: DateTime<chrono_tz::Tz>,
    pub frozen: bool,
    _temp: tempfile::TempDir,
}

impl Demo {
    /// Starts the servers, the bot (on a clock set at `args.now`) and the page; this
    /// binary plays the bench host.
    pub async fn start(args: &DemoArgs) -> anyhow::Result<Demo> {
        Self::start_with_bench(args, std::env::current_exe().ok()).await
    }

    /// [`Demo::start`] with the `lockstep` binary that plays the bench host (a test's
    /// own executable is not one).
    pub async fn start_with_bench(
        args: &DemoArgs,
        bench_binary: Option<PathBuf>,
    ) -> anyhow::Result<Demo> {
        let now = DateTime::parse_from_rfc3339(args.now.trim()).map_err(|err| {
            anyhow::anyhow!(
                "--now / LOCKSTEP_NOW {:?} is not an RFC 3339 time ({err}); e.g. {WALKTHROUGH_NOW}",
                args.now
            )
        })?;
        let file = FileConfig::parse(DEMO_CONFIG, "embedded demo config")?;
        let now = now.with_timezone(&file.freeze.timezone);
        let frozen = freeze_reason(now.naive_local(), &file.freeze).is_some();
        let world = Arc::new(
            LocalWorld::start(SimConfig::default(), &example_sites(), bench_binary).await?,
        );
        let temp = tempfile::tempdir()?;
        let store = args
            .store
            .clone()
            .unwrap_or_else(|| temp.path().join("store"));
        let config = bot_config(&world, file, store, temp.path())?;
        let bot = app::start(config, Clock::parse_fixed(&args.now)?).await?;
        world
            .slack
            .wait_for_open_connections(1, super::transcript::REPLY_WAIT)
            .await?;
        let freeze = if frozen {
            ", inside a freeze window"
        } else {
            ""
        };
        let note = format!("It is {}{freeze}.", wall_clock(&now));
        let page = WorldPage::start(world.clone(), args.port, &note).await?;
        Ok(Demo {
            world,
            page,
            bot,
            now,
            frozen,
            _temp: temp,
        })
    }

    /// The first line: when the demo is, and what that means for a promotion.
    pub fn clock_line(&self) -> String {
        let when = format!(
            "{} {}",
            self.now.format("%A %-d %B %Y, %H:%M"),
            self.now.timezone().name()
        );
        if !self.frozen {
            format!("lockstep demo — it is {when}: the walkthrough's moment, outside every freeze window (--now <RFC 3339> or LOCKSTEP_NOW picks another).")
        } else {
            format!("lockstep demo — it is {when}: inside a freeze window, so a promote needs --emergency --reason=\"…\" and a second approver.")
        }
    }

    pub async fn shutdown(self) {
        self.bot.shutdown().await;
    }
}

/// "Wednesday 25 November 2026, 14:30 Asia/Kolkata".
fn wall_clock(now: &DateTime<chrono_tz::Tz>) -> String {
    format!(
        "{} {}",
        now.format("%A %-d %B %Y, %H:%M"),
        now.timezone().name()
    )
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let demo = Demo::start(&args).await?;
    println!("{}", demo.clock_line());
    print_world(&demo);
    let played = if args.script_only || args.tour {
        tour::play(&demo.world, demo.frozen).await
    } else {
        Ok(())
    };
    if played.is_ok() && !args.script_only {
        prompt_loop(&demo).await?;
    }
    demo.shutdown().await;
    played
}

fn print_world(demo: &Demo) {
    let world = &demo.world;
    println!("  Page    {}  (open it: #deploy as Slack shows it, the config repo and both sites beside it; you are @pm, the box at the bottom types {COMMAND})", demo.page.url());
    println!(
        "  Slack   {}  Frappe {}  GitHub {} (repo {REPO}: main = production, staging = staging)",
        world.slack.base_url(),
        world.frappe.url(),
        world.github.url()
    );
    println!("  People  @pm promotes; @dev (GitHub alice, on call) and @admin approve.\n");
}

async fn prompt_loop(demo: &Demo) -> anyhow::Result<()> {
    println!("The walkthrough, in the page: type help, review, diff, push, diff, promote; open the promotion's thread; approve the PR as alice in the repo panel; be @dev and press [Merge & deploy]; tick the checks by hand; then ship v0.1.0 and read #releases.");
    println!("Type a command here too (without {COMMAND}), or an empty line to quit.");
    let mut transcript = Transcript::new(&demo.world.slack);
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        print!("{COMMAND} ");
        std::io::stdout().flush()?;
        let Some(line) = lines.next_line().await? else {
            return Ok(());
        };
        let text = line.trim();
        if text.is_empty() {
            return Ok(());
        }
        demo.world
            .slack
            .send_slash_command(PM, CHANNEL, COMMAND, text)
            .await?;
        if let Err(err) = transcript.reply().await {
            println!("  {err:#}");
        }
    }
}
