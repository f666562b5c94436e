//! Several stacks in one bot: `hr` bound to #deploy (the example sites and repo) and
//! `ops` bound to #C0OPS (a second Frappe server with its own sites, a second repo,
//! its own access lists). Commands typed in one channel read, write, lock and
//! authorise against that channel's stack only, and the Home tab shows each board.

use crate::harness::{visible_text, PROMOTION_CONFIG, WAIT, WEDNESDAY};
use lockstep::app::{self, RunningBot};
use lockstep::clock::Clock;
use lockstep::config::{Config, FileConfig, Secrets};
use lockstep::local::world::{example_sites, world_env, world_toml, LocalWorld, REPO};
use lockstep_sim::frappe::FrappeSim;
use lockstep_sim::slack::{BotOutput, SimChannel, SimConfig, SimUser};
use serde_json::json;

/// The harness's #deploy channel.
const HR: &str = "C0DEPLOY";
const OPS: &str = "C0OPS";
const OPS_REPO: &str = "acme/ops-config";
/// Promotes on hr (the top-level access lists), nowhere on ops.
const PM: &str = "U0PM";
/// The ops stack's own promoter and admin.
const OPS_PM: &str = "U0OPSPM";
const OPS_ADMIN: &str = "U0OPSADMIN";

struct TwoStacks {
    world: LocalWorld,
    ops_frappe: FrappeSim,
    bot: Option<RunningBot>,
    cursor: usize,
    _dir: tempfile::TempDir,
}

/// The file: the promotion settings at the top level (hr uses its access lists),
/// then the two stacks. hr's runner and tester come from the local world.
fn config(
    world: &LocalWorld,
    ops_frappe: &FrappeSim,
    dir: &std::path::Path,
    extra: &str,
) -> Config {
    let (owner, _) = REPO.split_once('/').unwrap();
    let github = |repo: &str| {
        format!(
            "api_url = \"{}\"\nowner = \"{owner}\"\nrepo = \"{repo}\"\nwrite_interval_ms = 0\n",
            world.github.url()
        )
    };
    let site = |stack: &str, name: &str, role: &str, url: &str| {
        format!(
            "[stacks.{stack}.sites.{stack}_{name}]\nurl = \"{url}\"\nrole = \"{role}\"\nfrappe_site_name = \"{name}\"\n"
        )
    };
    let text = format!(
        "{PROMOTION_CONFIG}\n{extra}\n[slack]\napi_url = \"{slack}\"\nsocket_connections = 1\n[store]\npath = \"{store}\"\n\
         [stacks.hr]\nchannels = [\"{HR}\"]\n{hr_staging}{hr_prod}[stacks.hr.github]\n{hr_repo}\
         [stacks.ops]\nchannels = [\"{OPS}\"]\n[stacks.ops.access]\npromoters = [\"{OPS_PM}\"]\nadmins = [\"{OPS_ADMIN}\"]\n\
         {ops_staging}{ops_prod}[stacks.ops.github]\n{ops_repo}",
        slack = world.slack.api_url(),
        store = dir.join("store").display(),
        hr_staging = site("hr", "staging", "staging", &world.frappe.url()),
        hr_prod = site("hr", "prod", "production", &world.frappe.url()),
        hr_repo = github(REPO.split_once('/').unwrap().1),
        ops_staging = site("ops", "staging", "staging", &ops_frappe.url()),
        ops_prod = site("ops", "prod", "production", &ops_frappe.url()),
        ops_repo = github(OPS_REPO.split_once('/').unwrap().1),
    );
    let mut file = FileConfig::parse(&text, "stacks.toml").expect("the two-stack file parses");
    let world_file = FileConfig::parse(&world_toml(world, dir), "world").expect("parses");
    file.checks.tester = world_file.checks.tester;
    file.stacks.get_mut("hr").unwrap().runner = world_file.runner;
    let mut env = world_env(world);
    for stack in ["hr", "ops"] {
        for site in ["staging", "prod"] {
            let var = |part: &str| format!("FRAPPE_{}_{}_API_{part}", stack, site).to_uppercase();
            env.insert(var("KEY"), FrappeSim::api_key(site));
            env.insert(var("SECRET"), FrappeSim::api_secret(site));
        }
    }
    let secrets = Secrets::from_env(&file, &env).expect("every site's secrets are set");
    Config {
        file,
        secrets,
        base_dir: dir.to_path_buf(),
    }
}

impl TwoStacks {
    async fn start() -> Self {
        Self::start_with(Clock::parse_fixed(WEDNESDAY).unwrap(), "").await
    }

    /// Starts with `clock` and `extra` top-level tables (after the promotion ones).
    async fn start_with(clock: Clock, extra: &str) -> Self {
        lockstep::tls::install_crypto_provider();
        let bench = std::path::PathBuf::from(env!("CARGO_BIN_EXE_lockstep"));
        let everyone = ["U0PM", "U0DEV", "U0ADMIN", OPS_PM, OPS_ADMIN, "U0BOT"];
        let slack = SimConfig::default()
            .with_user(SimUser::new(OPS_PM, "opspm", "Omar Ops PM"))
            .with_user(SimUser::new(OPS_ADMIN, "opsadmin", "Olga Ops Admin"))
            .with_channel(SimChannel::new(OPS, "ops").with_members(&everyone))
            .with_channel(SimChannel::new("C0ELSE", "random").with_members(&everyone))
            .with_channel_member(HR, OPS_PM)
            .with_channel_member(HR, OPS_ADMIN);
        let world = LocalWorld::start(slack, &example_sites(), Some(bench))
            .await
            .expect("the local servers start");
        let ops_frappe = FrappeSim::start(&example_sites())
            .await
            .expect("the second Frappe server starts");
        world
            .github
            .repo(OPS_REPO)
            .seed_from_sites_dir(&example_sites())
            .expect("the ops repo is seeded");
        // hr can promote (its staging's hand-made DocType is resolved, as in the
        // walkthrough); ops keeps it.
        world
            .frappe
            .delete_doc("staging", "DocType", "Quick Test")
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = config(&world, &ops_frappe, dir.path(), extra);
        let bot = app::start(config, clock).await.expect("the bot starts");
        world
            .slack
            .wait_for_open_connections(1, WAIT)
            .await
            .expect("a connection is open");
        TwoStacks {
            world,
            ops_frappe,
            bot: Some(bot),
            cursor: 0,
            _dir: dir,
        }
    }

    /// `user` types `/frappe-stack <text>` in `channel`; waits for the ack.
    async fn type_in(&self, channel: &str, user: &str, text: &str) {
        let sent = self
            .world
            .slack
            .send_slash_command(user, channel, "/frappe-stack", text)
            .await
            .unwrap();
        self.world
            .slack
            .wait_for_ack(&sent.envelope_id, WAIT)
            .await
            .expect("the bot acks");
    }

    /// Reads what the bot says until something in `channel` holds `needle` (a
    /// message, an edit or an ephemeral reply); returns its visible text.
    async fn heard_in(&mut self, channel: &str, needle: &str) -> String {
        loop {
            let output = self
                .world
                .slack
                .next_output(&mut self.cursor, WAIT)
                .await
                .unwrap_or_else(|err| panic!("waiting for {needle:?} in {channel}: {err}"));
            if let Some((said_in, text)) = said(&output) {
                if said_in == channel && text.contains(needle) {
                    return text;
                }
            }
        }
    }
}

/// Where an output was said and its visible text.
fn said(output: &BotOutput) -> Option<(String, String)> {
    match output {
        BotOutput::Posted {
            channel,
            text,
            blocks,
            ..
        }
        | BotOutput::Updated {
            channel,
            text,
            blocks,
            ..
        }
        | BotOutput::Ephemeral {
            channel,
            text,
            blocks,
            ..
        }
        | BotOutput::ResponseInChannel {
            channel,
            text,
            blocks,
            ..
        } => Some((channel.clone(), visible_text(text, blocks))),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stacks_in_two_channels_never_cross() {
    let mut t = TwoStacks::start().await;
    // A change only the ops staging site has.
    let mut role = t
        .ops_frappe
        .get_doc("staging", "Role", "Field Officer")
        .expect("the seed has the role");
    role["desk_access"] = json!(0);
    t.ops_frappe.set_doc("staging", role).unwrap();

    // Reads: each channel's diff reads its own stack's site and branch.
    t.type_in(OPS, PM, "diff").await;
    let ops_diff = t.heard_in(OPS, "between site `ops_staging`").await;
    assert!(ops_diff.contains("Field Officer"), "{ops_diff}");
    t.type_in(HR, PM, "diff").await;
    let hr_diff = t.heard_in(HR, "between site `hr_staging`").await;
    assert!(!hr_diff.contains("Field Officer"), "{hr_diff}");

    // Writes: a pull in #C0OPS commits to the ops repo only.
    let hr_heads = t.world.github.repo(REPO).refs();
    let ops_staging = t.world.github.repo(OPS_REPO).branch_sha("staging");
    t.type_in(OPS, PM, "pull").await;
    let pulled = t.heard_in(OPS, "Pull: committed").await;
    assert!(
        pulled.contains("fixtures/app/roles/field_officer.json"),
        "{pulled}"
    );
    assert_ne!(
        t.world.github.repo(OPS_REPO).branch_sha("staging"),
        ops_staging
    );
    assert_eq!(
        t.world.github.repo(REPO).refs(),
        hr_heads,
        "hr's repo untouched"
    );

    // Locks: a promotion in #C0HR holds hr's production, not ops's.
    t.type_in(HR, PM, "promote").await;
    t.heard_in(HR, "is open").await;
    t.type_in(HR, PM, "status").await;
    let hr_status = t.heard_in(HR, "*lockstep status*").await;
    assert!(hr_status.contains("Runs in flight: 1"), "{hr_status}");
    assert!(hr_status.contains("`prod` held by run"), "{hr_status}");
    t.type_in(OPS, PM, "status").await;
    let ops_status = t.heard_in(OPS, "*lockstep status*").await;
    assert!(ops_status.contains("Runs in flight: none."), "{ops_status}");
    assert!(
        ops_status.contains("Environment locks: none."),
        "{ops_status}"
    );
    assert!(
        ops_status.contains("Last promote: none yet."),
        "{ops_status}"
    );
    t.type_in(OPS, OPS_ADMIN, "unlock prod --reason=\"checking\"")
        .await;
    let unlock = t.heard_in(OPS, "is not locked").await;
    assert!(unlock.contains("`prod` is not locked"), "{unlock}");
    assert_eq!(
        t.world.github.repo(OPS_REPO).pulls().len(),
        0,
        "the promotion opened no PR in the ops repo"
    );
    assert_eq!(t.world.github.repo(REPO).pulls().len(), 1);

    // Access: hr's promoter is not ops's; ops's own promoter is not hr's.
    t.type_in(OPS, PM, "promote").await;
    let refused = t.heard_in(OPS, "may not promote").await;
    assert!(refused.contains("Nothing was changed"), "{refused}");
    t.type_in(HR, OPS_PM, "promote").await;
    t.heard_in(HR, "may not promote").await;

    // A channel bound to no stack is told which channels are.
    t.type_in("C0ELSE", PM, "status").await;
    let unbound = t.heard_in("C0ELSE", "not bound to any stack").await;
    assert!(unbound.contains("`hr` in <#C0DEPLOY>"), "{unbound}");
    assert!(unbound.contains("`ops` in <#C0OPS>"), "{unbound}");
    t.type_in("C0ELSE", PM, "help").await;
    t.heard_in("C0ELSE", "promote").await;

    // The Home tab: one board per stack, the promotion on hr's only.
    t.world.slack.open_home(PM).await.unwrap();
    let home = t
        .world
        .slack
        .wait_for_home_view(PM, None, WAIT)
        .await
        .expect("the bot publishes the Home tab");
    let blocks = home.view["blocks"].as_array().cloned().unwrap_or_default();
    let board = visible_text("", &blocks);
    let (hr_board, ops_board) = board
        .split_once("*Stack `ops`*")
        .expect("the ops board follows hr's");
    assert!(hr_board.contains("*Stack `hr`*"), "{board}");
    assert!(hr_board.contains("Runs in flight*\n"), "{board}");
    assert!(ops_board.contains("*Runs in flight*: none."), "{board}");
    assert!(ops_board.contains("*Environment locks*: none."), "{board}");

    if let Some(bot) = t.bot.take() {
        bot.shutdown().await;
    }
}

/// Each stack has its own watcher, posting to its own first channel and
/// remembering its own last drift: ops's staging site keeps the seed's hand-made
/// DocType, hr's does not, so only #C0OPS hears of drift, and only once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stack_watches_its_own_sites_and_posts_in_its_own_channel() {
    // Tuesday 08:00 in Kolkata: the first check is at 09:00.
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-24T08:00:00+05:30")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Clock::manual(start);
    let mut t = TwoStacks::start_with(clock.clone(), "[watch]\nschedule = \"0 9 * * 1-5\"\n").await;
    let bot = t.bot.take().expect("started");
    let checks_done = |n: u64| {
        let mut checks = bot.watch_checks();
        async move {
            tokio::time::timeout(WAIT, checks.wait_for(|done| *done >= n))
                .await
                .unwrap_or_else(|_| panic!("the watchers did not finish {n} checks"))
                .expect("the bot is running");
        }
    };
    clock.advance(chrono::Duration::hours(1));
    checks_done(2).await;
    let posted = t.heard_in(OPS, "*Drift watch*").await;
    assert!(posted.contains("1 difference on `ops_staging`"), "{posted}");
    assert!(posted.contains("Quick Test"), "{posted}");
    // The same drift the next day: nothing new for either stack.
    clock.advance(chrono::Duration::days(1));
    checks_done(4).await;
    assert!(bot.store().pending_effects().unwrap().is_empty());
    let watch_posts: Vec<String> = t
        .world
        .slack
        .outputs()
        .iter()
        .filter_map(said)
        .filter(|(_, text)| text.contains("*Drift watch*"))
        .map(|(channel, _)| channel)
        .collect();
    assert_eq!(watch_posts, [OPS], "one post, in the ops channel");
    bot.shutdown().await;
}
