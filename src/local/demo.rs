//! `lockstep demo`: the whole bot on loopback with no credentials. Starts the
//! Slack-, Frappe- and GitHub-compatible servers (the example staging and production
//! sites, and a config repo whose `main` and `staging` hold their blueprints), runs
//! the real bot against them, plays a short scripted tour, then lets you type
//! commands at a prompt and prints what the bot says in the channel. What you see is
//! exactly what Slack would receive.

use super::world::{bot_config, example_sites, LocalWorld};
use crate::app;
use crate::clock::Clock;
use crate::config::FileConfig;
use lockstep_sim::slack::{BotOutput, SimConfig, SlackSim};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

const CHANNEL: &str = "C0DEPLOY";
const USER: &str = "U0PM";
const COMMAND: &str = "/frappe-stack";
use lockstep_sim::world::REPO;
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
        bot_config(&world, file, store_path, temp.path())?,
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
