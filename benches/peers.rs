//! Peers benchmark (issue 12): lockstep against the programs a team would otherwise
//! write, side by side in one run, on the same local servers. It owns the driving and
//! the measuring; the peers themselves are Python programs in `benches/peers/`, and
//! `scripts/bench-peers` makes their venv and calls this binary.
//!
//! What it does, in one process that hosts the Slack-, Frappe- and GitHub-compatible
//! servers (so the servers' CPU time is this process's, and nothing else of it runs
//! while a client is measured):
//!
//! 1. Acks. For each bot (lockstep's release binary; Bolt for Python sync and async;
//!    a bare WebSocket bot that acks on read), a fresh Slack server, the bot started
//!    as a child process, its idle RSS once connected, then `--bursts` bursts of
//!    `--count` slash commands injected at once. Latency is the server's: envelope
//!    written to ack read. Late = later than Slack's 3 s, or never. RSS again after
//!    the bursts. For lockstep, once more while it is busy: a `diff` and a
//!    `promote --dry-run` (the checklist) over a 50,000-blueprint site and branches
//!    are started first, and the burst is fired while they run.
//! 2. Drift over REST: `lockstep diff --site` and the Python peer (requests, 8
//!    threads, json and orjson) against the same Frappe server and the same folder;
//!    wall time and peak RSS of the client (`/usr/bin/time`), requests the server
//!    served, and the server's CPU time during the run. The buckets must agree.
//! 3. `lockstep diff --raw` and the peer over the same 50,000 raw files.
//!
//! Before 2 and 3 every file they read is read once, untimed, so every client is
//! timed on a warm page cache (the first client timed used to pay for the disk).
//!
//! `--data <dir>` holds the generated files (made on first use, reused after).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures::future::join_all;
use lockstep::blueprint::files::write_dir;
use lockstep::blueprint::{canonicalize_owned, BlueprintSet};
use lockstep_sim::frappe::{FrappeSim, SiteSeed};
use lockstep_sim::github::{GithubSim, GithubSimConfig};
use lockstep_sim::slack::{BotOutput, SimConfig, SlackSim};
use lockstep_sim::synth::{canonical_doc_iter, git_docs, raw_doc_iter, SynthSpec};
use serde_json::{json, Value};

const CHANNEL: &str = "C0DEPLOY";
const USERS: [&str; 3] = ["U0PM", "U0DEV", "U0ADMIN"];
const REPO: &str = "acme/frappe-config";
/// Slack's deadline for an ack.
const LATE: Duration = Duration::from_secs(3);

struct Args {
    lockstep: PathBuf,
    python: PathBuf,
    peers: PathBuf,
    data: PathBuf,
    bursts: usize,
    count: usize,
    drift_runs: usize,
    only: Option<String>,
    /// The bots to run (labels' first words: bare, lockstep, async, sync); all by default.
    bots: Option<String>,
    /// The commands lockstep is busy with during its busy burst.
    busy: Vec<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut map = BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        // `cargo bench` passes `--bench`.
        if arg == "--bench" {
            continue;
        }
        let Some(key) = arg.strip_prefix("--") else {
            bail!("unexpected argument {arg:?}");
        };
        let value = args
            .next()
            .with_context(|| format!("--{key} needs a value"))?;
        map.insert(key.to_string(), value);
    }
    let path = |key: &str| -> anyhow::Result<PathBuf> {
        map.get(key)
            .map(PathBuf::from)
            .with_context(|| format!("--{key} <path> is required"))
    };
    let number = |key: &str, default: usize| -> anyhow::Result<usize> {
        map.get(key)
            .map(|v| v.parse().with_context(|| format!("--{key} takes a number")))
            .unwrap_or(Ok(default))
    };
    Ok(Args {
        lockstep: path("lockstep")?,
        python: path("python")?,
        peers: path("peers")?,
        data: path("data")?,
        bursts: number("bursts", 3)?,
        count: number("count", 200)?,
        drift_runs: number("drift-runs", 3)?,
        only: map.get("only").cloned(),
        bots: map.get("bots").cloned(),
        busy: map
            .get("busy")
            .map_or("diff,promote --dry-run", String::as_str)
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
    })
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    lockstep::tls::install_crypto_provider();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

// ---- measuring ------------------------------------------------------------------

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// CPU seconds (user + system) this process has used: the servers' time, since
/// nothing else here works while a client is measured.
fn own_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[derive(Clone, Debug, Default)]
struct Latencies(Vec<Duration>);

impl Latencies {
    fn at(&self, q: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---- data -----------------------------------------------------------------------

/// Writes, unless there: `git/` (the canonical branch: the site with 1% changed,
/// 0.2% added, 0.2% removed), `raw/` (the site's documents as REST bodies
/// `{"data": …}`, 1,000 per folder) and `repo/{prod,staging}` pointing at `git/`.
fn prepare(data: &Path, spec: SynthSpec) -> anyhow::Result<()> {
    let git = data.join("git");
    if !git.join("doctypes").is_dir() {
        eprintln!("writing {} …", git.display());
        let set: BlueprintSet = git_docs(spec)
            .0
            .into_iter()
            .map(|doc| canonicalize_owned(doc).expect("synthetic documents are blueprints"))
            .collect();
        std::fs::create_dir_all(&git)?;
        write_dir(&set, &git)?;
    }
    let raw = data.join("raw");
    if !raw.is_dir() {
        eprintln!("writing {} …", raw.display());
        for (i, doc) in raw_doc_iter(spec).enumerate() {
            let folder = raw.join(format!("batch_{:03}", i / 1000));
            if i % 1000 == 0 {
                std::fs::create_dir_all(&folder)?;
            }
            let body = serde_json::to_vec(&json!({ "data": doc }))?;
            std::fs::write(folder.join(format!("doc_{i:06}.json")), body)?;
        }
    }
    let repo = data.join("repo");
    if !repo.is_dir() {
        std::fs::create_dir_all(&repo)?;
        for branch in ["prod", "staging"] {
            std::os::unix::fs::symlink("../git", repo.join(branch))?;
        }
    }
    Ok(())
}

/// The Frappe sites `staging` and `prod`, both the synthetic site. Seeded from its
/// canonical documents: the server adds what Frappe stores beside them (default
/// fields, child row names and links, `idx` by position).
async fn start_frappe(spec: SynthSpec) -> anyhow::Result<FrappeSim> {
    let seeds = ["staging", "prod"]
        .map(|name| {
            let mut seed = SiteSeed::empty(name);
            seed.documents = canonical_doc_iter(spec).collect();
            seed
        })
        .to_vec();
    FrappeSim::start_with(seeds, "127.0.0.1:0".parse()?).await
}

async fn start_github(data: &Path) -> anyhow::Result<GithubSim> {
    let github = GithubSim::start(GithubSimConfig::default()).await?;
    github.repo(REPO).seed_from_sites_dir(&data.join("repo"))?;
    Ok(github)
}

// ---- the bots -------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Bot {
    Lockstep,
    BoltSync,
    BoltAsync,
    Bare,
}

impl Bot {
    fn label(self) -> &'static str {
        match self {
            Bot::Lockstep => "lockstep",
            Bot::BoltSync => "Bolt for Python, sync (App + SocketModeHandler)",
            Bot::BoltAsync => "Bolt for Python, async (AsyncApp + AsyncSocketModeHandler)",
            Bot::Bare => "bare WebSocket bot (acks on read)",
        }
    }

    fn connections(self) -> usize {
        match self {
            Bot::Lockstep => 2,
            _ => 1,
        }
    }

    fn is_lockstep(self) -> bool {
        self == Bot::Lockstep
    }
}

struct World<'a> {
    args: &'a Args,
    frappe: &'a FrappeSim,
    github: &'a GithubSim,
    logs: PathBuf,
}

impl World<'_> {
    fn spawn(&self, bot: Bot, slack: &SlackSim, store: &Path) -> anyhow::Result<Child> {
        let log = std::fs::File::create(self.logs.join(format!("{bot:?}.log")))?;
        let mut command = match bot {
            Bot::Lockstep => {
                let config = store.join("lockstep.toml");
                std::fs::write(&config, self.lockstep_config(slack, store))?;
                let mut c = Command::new(&self.args.lockstep);
                c.arg("run").arg("--config").arg(&config);
                c.env("GITHUB_TOKEN", self.github.token());
                for site in ["staging", "prod"] {
                    let upper = site.to_uppercase();
                    c.env(format!("FRAPPE_{upper}_API_KEY"), FrappeSim::api_key(site));
                    c.env(
                        format!("FRAPPE_{upper}_API_SECRET"),
                        FrappeSim::api_secret(site),
                    );
                }
                c
            }
            Bot::BoltSync | Bot::BoltAsync => {
                let mut c = Command::new(&self.args.python);
                c.arg(self.args.peers.join("bolt_app.py"));
                c.arg(if bot == Bot::BoltSync {
                    "sync"
                } else {
                    "async"
                });
                c
            }
            Bot::Bare => {
                let mut c = Command::new(&self.args.python);
                c.arg(self.args.peers.join("bare_bot.py"));
                c
            }
        };
        command
            .env("SLACK_APP_TOKEN", slack.app_token())
            .env("SLACK_BOT_TOKEN", slack.bot_token())
            .env("SLACK_API_URL", slack.api_url())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        Ok(command.spawn()?)
    }

    fn lockstep_config(&self, slack: &SlackSim, store: &Path) -> String {
        let frappe = self.frappe.url();
        let (owner, repo) = REPO.split_once('/').expect("owner/name");
        format!(
            r#"[slack]
api_url = "{api}"
socket_connections = 2

[store]
path = "{store}"

[access]
promoters = ["U0PM", "U0DEV", "U0ADMIN"]

[sites.staging]
url = "{frappe}"
role = "staging"
frappe_site_name = "staging"

[sites.prod]
url = "{frappe}"
role = "production"
frappe_site_name = "prod"

[github]
api_url = "{github}"
owner = "{owner}"
repo = "{repo}"
write_interval_ms = 0
"#,
            api = slack.api_url(),
            store = store.join("store").display(),
            github = self.github.url(),
        )
    }
}

#[derive(Debug, Default)]
struct AckResult {
    bursts: Vec<Latencies>,
    late: usize,
    idle_rss_kib: u64,
    after_rss_kib: u64,
    busy: Option<BusyResult>,
}

/// CPU seconds of each thread of `pid`, by thread id, with its name.
fn thread_cpu(pid: u32) -> BTreeMap<u32, (String, f64)> {
    let ticks = clock_ticks();
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let name = head.split_once(" (").map_or("?", |(_, n)| n).to_string();
        let fields: Vec<f64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        let cpu = (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / ticks;
        out.insert(tid, (name, cpu));
    }
    out
}

#[derive(Debug)]
struct BusyResult {
    latencies: Latencies,
    late: usize,
    peak_rss_kib: u64,
    jobs_done_after: Option<Duration>,
    frappe_requests: u64,
    /// CPU seconds per thread while the jobs ran, busiest first (thread name).
    threads: Vec<(String, f64)>,
}

/// One burst: `count` commands at once; their latencies and how many were late.
async fn burst(slack: &SlackSim, count: usize, text: &str) -> anyhow::Result<(Latencies, usize)> {
    let sends = (0..count).map(|n| {
        let user = USERS[n % USERS.len()];
        slack.send_slash_command(user, CHANNEL, "/frappe-stack", text)
    });
    let sent: Vec<_> = join_all(sends)
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let acks = join_all(
        sent.iter()
            .map(|e| slack.wait_for_ack(&e.envelope_id, LATE + Duration::from_secs(7))),
    )
    .await;
    let mut latencies = Vec::new();
    let mut late = 0;
    for ack in acks {
        match ack {
            Ok(ack) => {
                if ack.latency > LATE {
                    late += 1;
                }
                latencies.push(ack.latency);
            }
            Err(_) => late += 1,
        }
    }
    Ok((Latencies(latencies), late))
}

/// Waits until `n` more outputs than `from` have arrived (the replies), or `limit`.
async fn wait_outputs(slack: &SlackSim, from: usize, n: usize, limit: Duration) -> usize {
    let started = Instant::now();
    let mut cursor = from;
    while cursor < from + n && started.elapsed() < limit {
        if slack
            .next_output(&mut cursor, limit.saturating_sub(started.elapsed()))
            .await
            .is_err()
        {
            break;
        }
    }
    cursor - from
}

fn is_job_end(output: &BotOutput) -> bool {
    let text = match output {
        BotOutput::Posted { text, .. } | BotOutput::Updated { text, .. } => text,
        _ => return false,
    };
    text.contains("between site `staging`")
        || text.contains("Promote (dry run): every box passes")
        || text.contains("Promote (dry run): the promotion would be refused")
}

async fn ack_run(world: &World<'_>, bot: Bot) -> anyhow::Result<AckResult> {
    // The Slack server gets a runtime of its own, so that the Frappe and GitHub
    // servers answering a busy bot do not queue ahead of it reading acks.
    let slack_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("slack-sim")
        .enable_all()
        .build()?;
    let slack = slack_runtime
        .spawn(SlackSim::start(SimConfig::default()))
        .await??;
    let store = tempfile::tempdir()?;
    let mut child = world.spawn(bot, &slack, store.path())?;
    let pid = child.id();
    let outcome = async {
        slack
            .wait_for_open_connections(bot.connections(), Duration::from_secs(60))
            .await
            .with_context(|| format!("{} did not connect; see its log", bot.label()))?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut result = AckResult {
            idle_rss_kib: status_kib(pid, "VmRSS:").unwrap_or(0),
            ..AckResult::default()
        };
        for _ in 0..world.args.bursts {
            let before = slack.outputs().len();
            let (latencies, late) = burst(&slack, world.args.count, "help").await?;
            result.bursts.push(latencies);
            result.late += late;
            wait_outputs(&slack, before, world.args.count, Duration::from_secs(120)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        result.after_rss_kib = status_kib(pid, "VmRSS:").unwrap_or(0);
        if bot.is_lockstep() {
            result.busy = Some(busy_run(world, &slack, pid).await?);
        }
        anyhow::Ok(result)
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    slack.shutdown().await;
    slack_runtime.shutdown_background();
    outcome
}

/// Starts a drift and a checklist over the 50,000-blueprint sites and branches, fires
/// a burst while they run, and follows them to their end.
async fn busy_run(world: &World<'_>, slack: &SlackSim, pid: u32) -> anyhow::Result<BusyResult> {
    let before = slack.outputs().len();
    let requests_before = world.frappe.requests_made();
    let threads_before = thread_cpu(pid);
    let started = Instant::now();
    for text in &world.args.busy {
        slack
            .send_slash_command("U0PM", CHANNEL, "/frappe-stack", text)
            .await?;
    }
    // Fire once both jobs are reading (the sites answer their requests).
    while world.frappe.requests_made() < requests_before + 200
        && started.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (latencies, late) = burst(slack, world.args.count, "help").await?;
    let mut jobs_done_after = None;
    while started.elapsed() < Duration::from_secs(300) {
        let ended = slack.outputs()[before..]
            .iter()
            .filter(|o| is_job_end(o))
            .count();
        if ended >= world.args.busy.len() {
            jobs_done_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut threads: Vec<(String, f64)> = thread_cpu(pid)
        .into_iter()
        .map(|(tid, (name, cpu))| {
            let earlier = threads_before.get(&tid).map_or(0.0, |(_, c)| *c);
            (format!("{name}#{tid}"), cpu - earlier)
        })
        .filter(|(_, cpu)| *cpu > 0.05)
        .collect();
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(BusyResult {
        latencies,
        late,
        peak_rss_kib: status_kib(pid, "VmHWM:").unwrap_or(0),
        jobs_done_after,
        frappe_requests: world.frappe.requests_made() - requests_before,
        threads,
    })
}

// ---- drift ----------------------------------------------------------------------

#[derive(Debug, Clone)]
struct ClientRun {
    wall: f64,
    peak_rss_kib: u64,
    cpu: f64,
    /// only_on_site, only_in_git, changed.
    buckets: (u64, u64, u64),
    requests_served: u64,
    server_cpu: f64,
}

/// Runs `command` under `/usr/bin/time`, measuring the servers' CPU meanwhile.
fn timed(
    command: Command,
    log: &Path,
    frappe: Option<&FrappeSim>,
) -> anyhow::Result<(ClientRun, String)> {
    let time_file = log.with_extension("time");
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped
        .arg("-f")
        .arg("%e %M %U %S")
        .arg("-o")
        .arg(&time_file)
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    let requests_before = frappe.map_or(0, FrappeSim::requests_made);
    let cpu_before = own_cpu_secs();
    let output = wrapped
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .output()
        .with_context(|| format!("while running {:?}", command.get_program()))?;
    let server_cpu = own_cpu_secs() - cpu_before;
    let requests_served = frappe.map_or(0, FrappeSim::requests_made) - requests_before;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let times = std::fs::read_to_string(&time_file)?;
    let last = times.lines().last().unwrap_or_default();
    let fields: Vec<f64> = last
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() != 4 {
        bail!(
            "{:?} failed ({}); see {}",
            command.get_program(),
            output.status,
            log.display()
        );
    }
    let buckets = buckets(&stdout).with_context(|| {
        format!(
            "{:?} printed no buckets ({}); see {}",
            command.get_program(),
            output.status,
            log.display()
        )
    })?;
    Ok((
        ClientRun {
            wall: fields[0],
            peak_rss_kib: fields[1] as u64,
            cpu: fields[2] + fields[3],
            buckets,
            requests_served,
            server_cpu,
        },
        stdout,
    ))
}

/// The three bucket sizes from lockstep's report or the peer's JSON line.
fn buckets(stdout: &str) -> Option<(u64, u64, u64)> {
    if let Some(line) = stdout.lines().rev().find(|l| l.starts_with('{')) {
        let v: Value = serde_json::from_str(line).ok()?;
        return Some((
            v["only_on_site"].as_u64()?,
            v["only_in_git"].as_u64()?,
            v["changed"].as_u64()?,
        ));
    }
    let count = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.trim().parse::<u64>().ok())
    };
    Some((
        count("only_on_site:")?,
        count("only_in_git:")?,
        count("changed:")?,
    ))
}

fn peer_requests(stdout: &str) -> Option<u64> {
    let line = stdout.lines().rev().find(|l| l.starts_with('{'))?;
    serde_json::from_str::<Value>(line).ok()?["requests"].as_u64()
}

struct DriftResults {
    rest: Vec<(String, Vec<ClientRun>, Option<u64>)>,
    raw: Vec<(String, Vec<ClientRun>)>,
    /// Bytes read to warm the page cache before the timed runs.
    warmed: u64,
}

/// Reads every file under `dirs` once and drops the bytes, so that every client's
/// timed runs find the files in the page cache: without it the first client timed
/// (lockstep) paid for the disk and the ones after it did not. Answers bytes read.
fn warm_page_cache(dirs: &[&Path]) -> anyhow::Result<u64> {
    let mut read = 0;
    let mut pending: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                read += std::fs::read(&path)?.len() as u64;
            }
        }
    }
    Ok(read)
}

fn drift_runs(world: &World<'_>) -> anyhow::Result<DriftResults> {
    let args = world.args;
    let git = args.data.join("git");
    let url = world.frappe.url();
    let raw_dir = args.data.join("raw");
    let warmed = warm_page_cache(&[&git, &raw_dir])?;
    eprintln!("  warmed the page cache: {} MB", warmed / 1_000_000);
    let mut rest = Vec::new();
    let lockstep_rest = || {
        let mut c = Command::new(&args.lockstep);
        c.args(["diff", "--site", "staging", "--url", &url])
            .args(["--frappe-site-name", "staging", "--against"])
            .arg(&git)
            .env("FRAPPE_STAGING_API_KEY", FrappeSim::api_key("staging"))
            .env(
                "FRAPPE_STAGING_API_SECRET",
                FrappeSim::api_secret("staging"),
            )
            .env("RUST_LOG", "info");
        c
    };
    let peer_rest = |orjson: bool| {
        let mut c = Command::new(&args.python);
        c.arg(args.peers.join("drift_peer.py"))
            .args(["rest", "--url", &url, "--site-name", "staging"])
            .args(["--api-key", &FrappeSim::api_key("staging")])
            .args(["--api-secret", &FrappeSim::api_secret("staging")])
            .arg("--against")
            .arg(&git);
        if orjson {
            c.arg("--orjson");
        }
        c
    };
    let mut runs = Vec::new();
    for n in 0..args.drift_runs {
        let log = world.logs.join(format!("drift-lockstep-{n}.log"));
        let (run, _) = timed(lockstep_rest(), &log, Some(world.frappe))?;
        eprintln!("  lockstep diff --site: {:.2} s", run.wall);
        runs.push(run);
    }
    rest.push(("lockstep diff --site".to_string(), runs, None));
    for (label, orjson) in [
        ("Python requests x8 threads, json", false),
        ("Python requests x8 threads, orjson", true),
    ] {
        let log = world.logs.join(format!("drift-peer-{orjson}.log"));
        let (run, stdout) = timed(peer_rest(orjson), &log, Some(world.frappe))?;
        eprintln!("  {label}: {:.2} s", run.wall);
        rest.push((label.to_string(), vec![run], peer_requests(&stdout)));
    }

    let mut raw = Vec::new();
    let mut runs = Vec::new();
    for n in 0..args.drift_runs {
        let mut c = Command::new(&args.lockstep);
        c.arg("diff")
            .arg("--raw")
            .arg(&raw_dir)
            .arg("--against")
            .arg(&git);
        let log = world.logs.join(format!("raw-lockstep-{n}.log"));
        let (run, _) = timed(c, &log, None)?;
        eprintln!("  lockstep diff --raw: {:.2} s", run.wall);
        runs.push(run);
    }
    raw.push(("lockstep diff --raw".to_string(), runs));
    for (label, orjson) in [("Python, json", false), ("Python, orjson", true)] {
        let mut c = Command::new(&args.python);
        c.arg(args.peers.join("drift_peer.py"))
            .arg("raw")
            .arg("--raw")
            .arg(&raw_dir)
            .arg("--against")
            .arg(&git);
        if orjson {
            c.arg("--orjson");
        }
        let log = world.logs.join(format!("raw-peer-{orjson}.log"));
        let (run, _) = timed(c, &log, None)?;
        eprintln!("  {label}: {:.2} s", run.wall);
        raw.push((label.to_string(), vec![run]));
    }
    Ok(DriftResults { rest, raw, warmed })
}

// ---- report ---------------------------------------------------------------------

fn range(values: impl IntoIterator<Item = f64>, digits: usize) -> String {
    let values: Vec<f64> = values.into_iter().collect();
    let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if values.is_empty() {
        "—".into()
    } else if (hi - lo).abs() < 10f64.powi(-(digits as i32)) {
        format!("{lo:.digits$}")
    } else {
        format!("{lo:.digits$}–{hi:.digits$}")
    }
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|k| k.parse::<u64>().ok())
        .map_or("?".into(), |k| {
            format!("{:.0} GiB", k as f64 / 1024.0 / 1024.0)
        });
    format!("{cores} cores ({model}), {total} RAM, Linux")
}

fn print_acks(args: &Args, acks: &[(Bot, AckResult)]) {
    println!(
        "\n### Acks: {} bursts of {} slash commands, each injected at once (server side: envelope written -> ack read)\n",
        args.bursts, args.count
    );
    println!("| bot | p50 ms | p90 ms | p99 ms (per burst) | max ms | late (>3 s or none) | idle RSS MB | RSS after {} commands MB |", args.bursts * args.count);
    println!("|---|---|---|---|---|---|---|---|");
    for (bot, r) in acks {
        let all = Latencies(r.bursts.iter().flat_map(|b| b.0.clone()).collect());
        println!(
            "| {} | {:.1} | {:.1} | {} | {:.1} | {} | {:.1} | {:.1} |",
            bot.label(),
            ms(all.at(0.5)),
            ms(all.at(0.9)),
            range(r.bursts.iter().map(|b| ms(b.at(0.99))), 1),
            ms(all.at(1.0)),
            r.late,
            mib(r.idle_rss_kib),
            mib(r.after_rss_kib),
        );
        if let Some(busy) = &r.busy {
            println!(
                "| {bot}, busy ({jobs} over 50,000 blueprints running) | {:.1} | {:.1} | {:.1} | {:.1} | {} | — | peak {:.1} |",
                ms(busy.latencies.at(0.5)),
                ms(busy.latencies.at(0.9)),
                ms(busy.latencies.at(0.99)),
                ms(busy.latencies.at(1.0)),
                busy.late,
                mib(busy.peak_rss_kib),
                bot = bot.label(),
                jobs = args
                    .busy
                    .iter()
                    .map(|c| format!("a `{c}`"))
                    .collect::<Vec<_>>()
                    .join(" and "),
            );
        }
    }
    let bare = acks.iter().find(|(b, _)| *b == Bot::Bare).map(|(_, r)| r);
    let lock = acks
        .iter()
        .find(|(b, _)| *b == Bot::Lockstep)
        .map(|(_, r)| r);
    if let (Some(bare), Some(lock)) = (bare, lock) {
        let bare_p99: Vec<f64> = bare.bursts.iter().map(|b| ms(b.at(0.99))).collect();
        let bare_worst = bare_p99.iter().cloned().fold(0.0, f64::max);
        let bare_best = bare_p99.iter().cloned().fold(f64::INFINITY, f64::min);
        let lock_p99: Vec<f64> = lock.bursts.iter().map(|b| ms(b.at(0.99))).collect();
        let ratios: Vec<f64> = lock_p99
            .iter()
            .zip(&bare_p99)
            .map(|(l, b)| l / b.max(0.001))
            .collect();
        println!(
            "\nlockstep p99 / bare p99, burst by burst: {} (goal <= 1.25 in every run)",
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(busy) = &lock.busy {
            println!(
                "busy: p99 {:.1} ms = {:.2}x the bare bot's best p99 ({bare_best:.1} ms), {:.2}x its worst ({bare_worst:.1} ms); {} late; both jobs ended after {}; {} Frappe requests served meanwhile",
                ms(busy.latencies.at(0.99)),
                ms(busy.latencies.at(0.99)) / bare_best.max(0.001),
                ms(busy.latencies.at(0.99)) / bare_worst.max(0.001),
                busy.late,
                busy.jobs_done_after.map_or("(not within 300 s)".to_string(), |d| format!("{:.1} s", d.as_secs_f64())),
                busy.frappe_requests,
            );
            let threads: Vec<String> = busy
                .threads
                .iter()
                .take(8)
                .map(|(name, cpu)| format!("{name} {cpu:.1} s"))
                .collect();
            println!(
                "busy: CPU by thread of lockstep meanwhile: {}",
                threads.join(", ")
            );
        }
    }
}

fn print_drift(results: &DriftResults) {
    println!("\n### Drift of a 50,000-blueprint site over REST (2,000 DocTypes with fields, 20,000 Custom Fields, 28,000 Property Setters; 1% changed, 0.2% only on site, 0.2% only in git)\n");
    println!("| client | wall s | client CPU s | peak RSS MB | requests served | server CPU s (share of the 2 cores) | buckets (site-only, git-only, changed) |");
    println!("|---|---|---|---|---|---|---|");
    for (label, runs, _) in &results.rest {
        println!(
            "| {label} | {} | {} | {} | {} | {} ({}) | {:?} |",
            range(runs.iter().map(|r| r.wall), 2),
            range(runs.iter().map(|r| r.cpu), 2),
            range(runs.iter().map(|r| mib(r.peak_rss_kib)), 0),
            range(runs.iter().map(|r| r.requests_served as f64), 0),
            range(runs.iter().map(|r| r.server_cpu), 2),
            range(
                runs.iter().map(|r| 100.0 * r.server_cpu / (r.wall * 2.0)),
                0
            ) + "%",
            runs[0].buckets,
        );
    }
    if let (Some((_, lock, _)), Some((_, peer, _))) = (results.rest.first(), results.rest.get(1)) {
        let slowest = lock.iter().map(|r| r.wall).fold(0.0, f64::max);
        println!(
            "\nlockstep is {:.1}x the json peer at its slowest run (goal >= 20x), peak {:.0} MB (goal <= 250 MB)",
            peer[0].wall / slowest,
            lock.iter().map(|r| mib(r.peak_rss_kib)).fold(0.0, f64::max)
        );
    }
    let agree = results
        .rest
        .iter()
        .flat_map(|(_, runs, _)| runs.iter().map(|r| r.buckets))
        .collect::<std::collections::BTreeSet<_>>()
        .len()
        == 1;
    println!("buckets agree between every client: {agree}");

    println!("\n### `diff --raw` over the same 50,000 documents as files (REST bodies `{{\"data\": …}}`), whole process\n");
    println!(
        "Every client timed on a warm page cache: the files ({} MB) were read once before the first timed run.\n",
        results.warmed / 1_000_000
    );
    println!("| client | wall s | CPU s | peak RSS MB | buckets |");
    println!("|---|---|---|---|---|");
    for (label, runs) in &results.raw {
        println!(
            "| {label} | {} | {} | {} | {:?} |",
            range(runs.iter().map(|r| r.wall), 2),
            range(runs.iter().map(|r| r.cpu), 2),
            range(runs.iter().map(|r| mib(r.peak_rss_kib)), 0),
            runs[0].buckets,
        );
    }
    if let (Some((_, lock)), Some((_, orjson))) = (results.raw.first(), results.raw.get(2)) {
        let slowest = lock.iter().map(|r| r.wall).fold(0.0, f64::max);
        println!(
            "\nlockstep diff --raw is {:.2}x the orjson peer at its slowest run (goal >= 2x)",
            orjson[0].wall / slowest
        );
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let spec = SynthSpec::BENCH;
    std::fs::create_dir_all(&args.data)?;
    let data = args.data.clone();
    tokio::task::spawn_blocking(move || prepare(&data, spec)).await??;
    let logs = args.data.join("logs");
    std::fs::create_dir_all(&logs)?;
    eprintln!(
        "starting the Frappe and GitHub servers (two 50,000-blueprint sites, two branches) …"
    );
    let frappe = start_frappe(spec).await?;
    let github = start_github(&args.data).await?;
    let world = World {
        args: &args,
        frappe: &frappe,
        github: &github,
        logs,
    };
    let wants = |part: &str| args.only.as_deref().is_none_or(|only| only == part);
    let mut acks = Vec::new();
    if wants("ack") {
        let bots = [Bot::Bare, Bot::Lockstep, Bot::BoltAsync, Bot::BoltSync];
        let chosen = |bot: Bot| {
            let first = match bot {
                Bot::Bare => "bare",
                Bot::Lockstep => "lockstep",
                Bot::BoltAsync => "async",
                Bot::BoltSync => "sync",
            };
            args.bots
                .as_deref()
                .is_none_or(|list| list.split(',').any(|b| b.trim() == first))
        };
        for bot in bots.into_iter().filter(|b| chosen(*b)) {
            eprintln!("acks: {} …", bot.label());
            let result = ack_run(&world, bot).await?;
            acks.push((bot, result));
        }
    }
    let drift = if wants("drift") {
        eprintln!("drift …");
        Some(tokio::task::block_in_place(|| drift_runs(&world))?)
    } else {
        None
    };
    println!("## lockstep and its peers, one run\n");
    println!(
        "Machine: {}. Date: {}.",
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    if !acks.is_empty() {
        print_acks(&args, &acks);
    }
    if let Some(drift) = &drift {
        print_drift(drift);
    }
    Ok(())
}
