//! `lockstep demo`: the whole bot on loopback with no credentials. Starts the
//! Slack-, Frappe- and GitHub-compatible servers (the example staging and production
//! sites, and a config repo whose `main` and `staging` hold their blueprints), runs
//! the real bot against them, plays a short scripted tour, then lets you type
//! commands at a prompt and prints what the bot says in the channel. What you see is
//! exactly what Slack would receive. [`LocalWorld`] is also what the integration
//! tests run the bot in.

use crate::app;
use crate::checks::TesterConfig;
use crate::clock::Clock;
use crate::config::{Config, FileConfig, Secrets, SiteCredentials};
use crate::github::{GithubAuth, GithubConfig};
use crate::secret::Secret;
use crate::sim::frappe::FrappeSim;
use crate::sim::github::{bench_workflow_hook, GithubSim, GithubSimConfig};
use crate::sim::slack::{BotOutput, SimConfig, SlackSim};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

const CHANNEL: &str = "C0DEPLOY";
const USER: &str = "U0PM";
const COMMAND: &str = "/frappe-stack";
pub const REPO: &str = "acme/frappe-config";
const TOUR: [&str; 9] = [
    "help",
    "diff",
    "push --dry-run",
    "push",
    "diff",
    "review",
    "promote --dry-run",
    "status",
    "audit 5",
];
/// What the demo sets beyond the local servers: the walkthrough's time zone.
const DEMO_CONFIG: &str = "[freeze]\ntimezone = \"Asia/Kolkata\"\n";
/// Long enough for a loaded machine; a reply normally takes milliseconds.
const REPLY_WAIT: Duration = Duration::from_secs(30);

/// The example sites, shipped with the source.
pub fn example_sites() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/sites")
}

/// Everything the bot talks to, on loopback.
pub struct LocalWorld {
    pub slack: SlackSim,
    pub frappe: FrappeSim,
    pub github: GithubSim,
    /// A `lockstep` binary whose `sim bench` plays the bench host; without one the
    /// bot has no `[runner]` (and cannot take a backup).
    pub bench_binary: Option<PathBuf>,
}

impl LocalWorld {
    /// Starts the three servers; sites and repo from `sites` (see [`example_sites`]).
    pub async fn start(
        slack: SimConfig,
        sites: &Path,
        bench_binary: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let slack = SlackSim::start(slack).await?;
        let frappe = FrappeSim::start(sites).await?;
        // `bench.yml` for a workflow-dispatch runner: the bench stand-in on these
        // sites, with the demo suite's test reports.
        let github = GithubSim::start(GithubSimConfig {
            bench: Some(bench_workflow_hook(frappe.url(), Some(demo_test_reports()))),
            ..GithubSimConfig::default()
        })
        .await?;
        github.repo(REPO).seed_from_sites_dir(sites)?;
        Ok(Self {
            slack,
            frappe,
            github,
            bench_binary,
        })
    }

    /// The configuration that points the bot at these servers: what `lockstep run`
    /// would read from a file and the environment, built directly.
    pub fn config(
        &self,
        mut file: FileConfig,
        store_path: PathBuf,
        base_dir: &Path,
    ) -> anyhow::Result<Config> {
        file.slack.api_url = self.slack.api_url().parse()?;
        file.store.path = store_path;
        let mut secrets = Secrets {
            slack_app_token: Secret::new(self.slack.app_token()),
            slack_bot_token: Secret::new(self.slack.bot_token()),
            sites: BTreeMap::new(),
            github: Some(GithubAuth::Token(Secret::new(self.github.token()))),
        };
        for (name, role) in [("staging", "staging"), ("prod", "production")] {
            let table = format!(
                "[sites.{name}]\nurl = \"{}\"\nrole = \"{role}\"\nfrappe_site_name = \"{name}\"\n",
                self.frappe.url()
            );
            file.sites
                .extend(FileConfig::parse(&table, "local world")?.sites);
            secrets.sites.insert(
                name.to_string(),
                SiteCredentials {
                    api_key: Secret::new(FrappeSim::api_key(name)),
                    api_secret: Secret::new(FrappeSim::api_secret(name)),
                },
            );
        }
        if let (Some(binary), None) = (&self.bench_binary, &file.runner) {
            let runner = format!(
                "[runner]\ntemplate = \"'{}' sim bench --sim-url {} --test-reports '{}' --site {{site}} {{args}}\"\n",
                binary.display(),
                self.frappe.url(),
                demo_test_reports().display()
            );
            file.runner = FileConfig::parse(&runner, "local world")?.runner;
        }
        if file.checks.tester.is_none() {
            file.checks.tester = Some(demo_tester(base_dir));
        }
        let (owner, repo) = REPO.split_once('/').expect("REPO is owner/name");
        let mut github = GithubConfig::new(&self.github.url(), owner, repo);
        // A server on this machine has no secondary rate limit to respect.
        github.write_interval_ms = 0;
        file.github = Some(github);
        Ok(Config {
            file,
            secrets,
            base_dir: base_dir.to_path_buf(),
        })
    }
}

/// The reports of the test suite the demo's bench stands in for.
fn demo_test_reports() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/tester")
}

/// The demo's tester: `bench run-tests --coverage` through the runner; the bench
/// stand-in leaves the reports of the suite it stands in for (`config/demo/tester/`)
/// in `dir`, where the tester box reads them.
fn demo_tester(dir: &Path) -> TesterConfig {
    let file = |name: &str| dir.join(name).display().to_string();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo/tester");
    TesterConfig {
        command: format!(
            "run-tests --app grants --coverage --junit-xml-output {} --coverage-output {}",
            file("junit.xml"),
            file("coverage.xml")
        ),
        junit_path: file("junit.xml"),
        cobertura_path: Some(file("coverage.xml")),
        diff_command: Some(format!("cat '{}'", shipped.join("changes.diff").display())),
    }
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Play the scripted tour and exit instead of opening a prompt.
    #[arg(long)]
    pub script_only: bool,
    /// Where the demo keeps its store (default: a temporary folder).
    #[arg(long)]
    pub store: Option<PathBuf>,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let world = LocalWorld::start(
        SimConfig::default(),
        &example_sites(),
        std::env::current_exe().ok(),
    )
    .await?;
    let temp = tempfile::tempdir()?;
    let store_path = args.store.unwrap_or_else(|| temp.path().join("store"));
    let file = FileConfig::parse(DEMO_CONFIG, "embedded demo config")?;
    let bot = app::start(
        world.config(file, store_path, temp.path())?,
        Clock::from_env()?,
    )
    .await?;
    world.slack.wait_for_open_connections(1, REPLY_WAIT).await?;

    println!(
        "lockstep demo: the real bot, over Socket Mode, with everything it talks to on loopback:"
    );
    println!(
        "  Slack   {}  (you are <@{USER}> in #deploy; open it in a browser to watch the channel, type commands and press buttons)",
        world.slack.base_url()
    );
    println!(
        "  Frappe  {}  (sites `staging` and `prod`, the Beneficiary example)",
        world.frappe.url()
    );
    println!(
        "  GitHub  {}  (repo {REPO}: main = production, staging = staging)\n",
        world.github.url()
    );
    let mut cursor = 0;
    for text in TOUR {
        type_command(&world.slack, &mut cursor, text).await?;
    }
    if !args.script_only {
        prompt_loop(&world.slack, &mut cursor).await?;
    }
    bot.shutdown().await;
    Ok(())
}

async fn type_command(slack: &SlackSim, cursor: &mut usize, text: &str) -> anyhow::Result<()> {
    println!("> {COMMAND} {text}");
    slack
        .send_slash_command(USER, CHANNEL, COMMAND, text)
        .await?;
    let reply = final_reply(slack, cursor).await?;
    println!("{}\n", indent(&reply));
    Ok(())
}

/// The reply to a command: an ephemeral answer, a message, or — for a job — the last
/// edit of its message (progress notes skipped).
async fn final_reply(slack: &SlackSim, cursor: &mut usize) -> anyhow::Result<String> {
    let first = slack.next_output(cursor, REPLY_WAIT).await?;
    let (job_ts, mut shown) = match &first {
        BotOutput::Posted { ts, .. } => (Some(ts.clone()), terminal_text(&first)),
        _ => (None, terminal_text(&first)),
    };
    if let Some(ts) = job_ts {
        while shown.contains(":hourglass") {
            let next = slack.next_output(cursor, REPLY_WAIT).await?;
            if matches!(&next, BotOutput::Updated { ts: edited, .. } if *edited == ts) {
                shown = terminal_text(&next);
            }
        }
    }
    Ok(shown)
}

async fn prompt_loop(slack: &SlackSim, cursor: &mut usize) -> anyhow::Result<()> {
    println!("Type a command (without {COMMAND}), or an empty line to quit.");
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
        slack
            .send_slash_command(USER, CHANNEL, COMMAND, text)
            .await?;
        println!("{}\n", indent(&final_reply(slack, cursor).await?));
    }
}

/// How an output reads in a terminal: who sees it, then its text.
fn terminal_text(output: &BotOutput) -> String {
    let (label, text, blocks) = match output {
        BotOutput::Posted { text, blocks, .. } => ("in #deploy", text, blocks),
        BotOutput::Updated { text, blocks, .. } => ("in #deploy", text, blocks),
        BotOutput::Ephemeral { text, blocks, .. } => ("only you can see this", text, blocks),
        BotOutput::ResponseInChannel { text, blocks, .. } => ("in #deploy", text, blocks),
        BotOutput::ResponseReplaced { text, blocks, .. } => ("replaced", text, blocks),
        BotOutput::ResponseDeleted { .. } => return "[a message was deleted]".to_string(),
    };
    format!("[{label}]\n{}", blocks_text(text, blocks))
}

fn blocks_text(text: &str, blocks: &[serde_json::Value]) -> String {
    if blocks.is_empty() {
        return text.to_string();
    }
    blocks
        .iter()
        .filter_map(|block| {
            block["text"]["text"]
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    block["elements"][0]["text"]
                        .as_str()
                        .map(|t| format!("({t})"))
                })
                .or_else(|| {
                    let buttons: Vec<String> = block["elements"]
                        .as_array()?
                        .iter()
                        .filter_map(|e| e["text"]["text"].as_str().map(|t| format!("[{t}]")))
                        .collect();
                    (!buttons.is_empty()).then(|| buttons.join(" "))
                })
        })
        .map(|text| {
            text.replace("```\n", "")
                .replace("\n```", "")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
