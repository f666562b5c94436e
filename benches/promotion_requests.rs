//! GitHub requests for one whole promotion: the seed walked end to end (checklist →
//! branch → PR → approval → merge → CI deploy → smoke → succeeded) by the real bot
//! against the local world, counted by the GitHub sim; then the same with 1,000
//! more blueprints (Custom Fields on Beneficiary) on staging. Writes must stay at
//! or under 15 whatever the size; reads are listed by kind (polls depend on how long
//! the reviewer and CI take, so they are shown apart).
//!
//! Run: `cargo bench --bench promotion_requests` (prints a table).

use lockstep::app;
use lockstep::blueprint::layout::{write_tree, REPO_ROOT};
use lockstep::blueprint::{canonicalize, BlueprintSet};
use lockstep::clock::Clock;
use lockstep::config::FileConfig;
use lockstep::local::world::{bot_config, example_sites, LocalWorld, REPO};
use lockstep_sim::slack::SimConfig;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const CONFIG: &str = r#"
[access]
promoters = ["U0PM"]
approvers = ["U0DEV"]
[freeze]
timezone = "Asia/Kolkata"
[rotation]
members = [{ slack = "U0DEV", github = "alice" }]
[promote]
poll_interval_ms = 50
poll_max_interval_ms = 400
max_families = 5
"#;
const WAIT: Duration = Duration::from_secs(60);

fn main() {
    lockstep::tls::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    println!("| promotion | blueprints | GitHub writes | reads (no polls) | polls | total |");
    println!("|---|---|---|---|---|---|");
    for extra in [0, 1_000] {
        let counts = rt.block_on(promote(extra));
        println!(
            "| seed{} | {} | {} | {} | {} | {} |",
            if extra > 0 {
                format!(" + {extra} Custom Fields")
            } else {
                String::new()
            },
            counts.blueprints,
            counts.writes,
            counts.reads,
            counts.polls,
            counts.writes + counts.reads + counts.polls
        );
        for (kind, n) in &counts.by_kind {
            println!("|   {kind} | | | {n} | | |");
        }
    }
}

struct Counts {
    blueprints: usize,
    writes: usize,
    reads: usize,
    polls: usize,
    by_kind: BTreeMap<String, usize>,
}

/// `extra` more Custom Fields on Beneficiary, on the staging site and its branch.
fn add_custom_fields(world: &LocalWorld, extra: usize) {
    let mut set = BlueprintSet::new();
    for n in 0..extra {
        let doc = json!({"doctype": "Custom Field", "name": format!("Beneficiary-bench_{n:04}"),
            "dt": "Beneficiary", "fieldname": format!("bench_{n:04}"), "fieldtype": "Data",
            "label": format!("Bench {n}"), "insert_after": "age", "module": "Grants"});
        let blueprint = canonicalize(&doc).expect("a Custom Field");
        world
            .frappe
            .set_doc("staging", blueprint.body.clone())
            .expect("staging takes it");
        set.insert(blueprint);
    }
    let files = write_tree(&set)
        .into_iter()
        .map(|(path, bytes)| (format!("{REPO_ROOT}/{path}"), Some(bytes)))
        .collect();
    world
        .github
        .repo(REPO)
        .push_commit("staging", files, "More fields\n")
        .expect("push to staging");
}

async fn promote(extra: usize) -> Counts {
    let bench = std::path::PathBuf::from(env!("CARGO_BIN_EXE_lockstep"));
    let world = LocalWorld::start(SimConfig::default(), &example_sites(), Some(bench))
        .await
        .expect("the local servers start");
    world
        .frappe
        .delete_doc("staging", "DocType", "Quick Test")
        .expect("the seed has Quick Test");
    if extra > 0 {
        add_custom_fields(&world, extra);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut file = FileConfig::parse(CONFIG, "bench.toml").unwrap();
    file.slack.socket_connections = 1;
    let config = bot_config(&world, file, dir.path().join("store"), dir.path()).unwrap();
    let clock = Clock::parse_fixed("2026-11-25T14:30:00+05:30").unwrap();
    let bot = app::start(config, clock).await.expect("the bot starts");
    world
        .slack
        .wait_for_open_connections(1, WAIT)
        .await
        .expect("connected");
    world.github.clear_calls();
    world
        .slack
        .send_slash_command("U0PM", "C0DEPLOY", "/frappe-stack", "promote")
        .await
        .unwrap();
    drive(&world).await;
    let calls = world.github.calls();
    bot.shutdown().await;
    let mut counts = Counts {
        blueprints: 0,
        writes: 0,
        reads: 0,
        polls: 0,
        by_kind: BTreeMap::new(),
    };
    for call in calls {
        let kind = kind_of(&call.path);
        if call.method != "GET"
            && !(call.method == "POST" && call.path == "/graphql" && kind == "graphql query")
        {
            counts.writes += 1;
            *counts
                .by_kind
                .entry(format!("write {} {kind}", call.method))
                .or_default() += 1;
        } else if kind == "reviews"
            || kind == "pull"
            || kind == "graphql query"
            || kind == "actions runs"
            || kind == "actions jobs"
        {
            counts.polls += 1;
        } else {
            counts.reads += 1;
            *counts.by_kind.entry(format!("read {kind}")).or_default() += 1;
        }
    }
    counts.blueprints = world
        .github
        .repo(REPO)
        .pulls()
        .first()
        .and_then(|pr| {
            pr.title
                .split('(')
                .nth(1)
                .map(|t| t.trim_end_matches(')').to_string())
        })
        .and_then(|t| t.split(' ').next().and_then(|n| n.parse().ok()))
        .unwrap_or(0);
    counts
}

/// What a GitHub path is about, for the table.
fn kind_of(path: &str) -> String {
    let rest = path
        .split_once("/frappe-config/")
        .map(|(_, r)| r)
        .unwrap_or(path);
    let rest = rest.split('?').next().unwrap_or(rest);
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["git", "blobs", ..] => "git blobs".into(),
        ["git", "trees", ..] => "git trees".into(),
        ["git", "commits", ..] => "git commits".into(),
        ["git", "ref", ..] | ["git", "refs", ..] => "git refs".into(),
        ["pulls", _, "reviews"] => "reviews".into(),
        ["pulls", _, "merge"] => "merge".into(),
        ["pulls", _] => "pull".into(),
        ["pulls"] => "pulls".into(),
        ["issues", _, "labels"] => "labels".into(),
        ["pulls", _, "requested_reviewers"] => "review request".into(),
        ["actions", "runs", _, "jobs"] => "actions jobs".into(),
        ["actions", "runs"] => "actions runs".into(),
        _ if path == "/graphql" => "graphql query".into(),
        _ => rest.to_string(),
    }
}

/// Acts as the people of the walkthrough until the promotion succeeds.
async fn drive(world: &LocalWorld) {
    let mut cursor = 0;
    let mut approved = false;
    let mut merged = false;
    let mut ticked = std::collections::BTreeSet::new();
    loop {
        let messages = world.slack.channel_messages("C0DEPLOY");
        if messages
            .iter()
            .any(|m| m.text.contains("Promotion succeeded"))
        {
            return;
        }
        if let Some(failed) = messages
            .iter()
            .find(|m| m.text.starts_with(":no_entry:") || m.text.starts_with(":x:"))
        {
            panic!("the promotion did not go through: {}", failed.text);
        }
        let repo = world.github.repo(REPO);
        if let Some(pr) = repo.pulls().into_iter().find(|p| p.state == "open") {
            if !approved {
                approved = true;
                repo.approve(pr.number, "alice").unwrap();
            }
        }
        for message in &messages {
            for element in message
                .blocks
                .iter()
                .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
            {
                let Some(action) = element["action_id"].as_str() else {
                    continue;
                };
                if action == "promote_merge" && !merged {
                    merged = true;
                    let _ = world
                        .slack
                        .click_button("U0DEV", "C0DEPLOY", &message.ts, action, None)
                        .await;
                }
                if action.starts_with("promote_smoke_ok_") && ticked.insert(action.to_string()) {
                    let _ = world
                        .slack
                        .click_button("U0ADMIN", "C0DEPLOY", &message.ts, action, None)
                        .await;
                }
            }
        }
        world
            .slack
            .next_output(&mut cursor, WAIT)
            .await
            .expect("the promotion moves");
    }
}
