//! `lockstep demo`: the whole bot on loopback with no credentials. Starts the
//! Slack-compatible server, runs the real bot against it over Socket Mode, plays a
//! short scripted tour, then lets you type commands at a prompt and prints what the
//! bot says in the channel. What you see is exactly what Slack would receive.

use crate::app;
use crate::clock::Clock;
use crate::config::{Config, FileConfig, Secrets};
use crate::secret::Secret;
use crate::sim::slack::{BotOutput, SimConfig, SlackSim};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

const CHANNEL: &str = "C0DEPLOY";
const USER: &str = "U0PM";
const COMMAND: &str = "/frappe-stack";
const TOUR: [&str; 4] = ["help", "status", "promote --dry-run", "audit 5"];
/// Long enough for a loaded machine; a reply normally takes milliseconds.
const REPLY_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Play the scripted tour and exit instead of opening a prompt.
    #[arg(long)]
    pub script_only: bool,
    /// Where the demo keeps its store (default: a temporary folder).
    #[arg(long)]
    pub store: Option<std::path::PathBuf>,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let slack = SlackSim::start(SimConfig::default()).await?;
    let temp = tempfile::tempdir()?;
    let store_path = args.store.unwrap_or_else(|| temp.path().join("store"));
    let bot = app::start(
        local_config(&slack, store_path, temp.path())?,
        Clock::from_env()?,
    )
    .await?;
    slack.wait_for_open_connections(1, REPLY_WAIT).await?;

    println!(
        "lockstep demo: the real bot, connected over Socket Mode to a local Slack at {}",
        slack.base_url()
    );
    println!("You are <@{USER}> in #deploy.\n");
    let mut cursor = 0;
    for text in TOUR {
        type_command(&slack, &mut cursor, text).await?;
    }
    if !args.script_only {
        prompt_loop(&slack, &mut cursor).await?;
    }
    bot.shutdown().await;
    Ok(())
}

/// The embedded local default: the sim's URL and tokens, nothing from the environment.
fn local_config(
    slack: &SlackSim,
    store_path: std::path::PathBuf,
    base_dir: &std::path::Path,
) -> anyhow::Result<Config> {
    let mut file = FileConfig::parse("", "embedded demo config")?;
    file.slack.api_url = slack.api_url().parse()?;
    file.store.path = store_path;
    Ok(Config {
        file,
        secrets: Secrets {
            slack_app_token: Secret::new(slack.app_token()),
            slack_bot_token: Secret::new(slack.bot_token()),
            sites: BTreeMap::new(),
            github: None,
        },
        base_dir: base_dir.to_path_buf(),
    })
}

async fn type_command(slack: &SlackSim, cursor: &mut usize, text: &str) -> anyhow::Result<()> {
    println!("> {COMMAND} {text}");
    slack
        .send_slash_command(USER, CHANNEL, COMMAND, text)
        .await?;
    let output = slack.next_output(cursor, REPLY_WAIT).await?;
    println!("{}\n", indent(&terminal_text(&output)));
    Ok(())
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
        let output = slack.next_output(cursor, REPLY_WAIT).await?;
        println!("{}\n", indent(&terminal_text(&output)));
    }
}

/// How an output reads in a terminal: who sees it, then its text.
fn terminal_text(output: &BotOutput) -> String {
    let (label, text, blocks) = match output {
        BotOutput::Posted { text, blocks, .. } => ("in #deploy", text, blocks),
        BotOutput::Updated { text, blocks, .. } => ("edited in #deploy", text, blocks),
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
