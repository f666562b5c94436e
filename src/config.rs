//! Configuration: the TOML file (`config/lockstep.example.toml` documents every key)
//! plus secrets, which come only from the environment.
//!
//! Parsing is strict: an unknown key is an error naming the key and its line, and every
//! value is checked once here so the rest of the bot can trust it. Secrets live in
//! [`Secret`] and are never part of the file, so a config dump cannot leak them.

use crate::blueprint::ValidationPolicy;
use crate::checks::{ChecksConfig, FreezeConfig, PromoteConfig};
use crate::command::SiteSel;
use crate::error::UserError;
use crate::github::{GithubAuth, GithubConfig};
use crate::ids::Principal;
use crate::secret::Secret;
use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use url::Url;

pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
pub const DEFAULT_COMMAND: &str = "/frappe-stack";

/// The whole configuration: what the file says, plus the secrets from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: FileConfig,
    pub secrets: Secrets,
    /// Relative paths in the file are taken from here (the file's folder).
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub slack: SlackSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub access: AccessSection,
    /// Frappe sites by name (`staging`, `prod`); secrets come from
    /// `FRAPPE_<NAME>_API_KEY` / `FRAPPE_<NAME>_API_SECRET`.
    #[serde(default)]
    pub sites: BTreeMap<String, SiteSection>,
    /// The config repository; its token comes from `GITHUB_TOKEN` (or a GitHub App).
    #[serde(default)]
    pub github: Option<GithubConfig>,
    /// How `bench` is run on the bench host (backups, tests, restore, migrate).
    #[serde(default)]
    pub runner: Option<RunnerSection>,
    /// Thresholds and commands of the pre-promote checklist.
    #[serde(default)]
    pub checks: ChecksConfig,
    /// When promotions are frozen.
    #[serde(default)]
    pub freeze: FreezeConfig,
    #[serde(default)]
    pub promote: PromoteConfig,
    #[serde(default)]
    pub validation: ValidationSection,
    /// Sprint numbering, for promotion branch names.
    #[serde(default)]
    pub sprint: SprintSection,
    /// Who is on call to review promotions.
    #[serde(default)]
    pub rotation: RotationSection,
    /// How a merged promotion reaches production.
    #[serde(default)]
    pub deploy: DeploySection,
    /// Limits on the work a command does.
    #[serde(default)]
    pub commands: CommandsSection,
    /// How `ship` lands the CHANGELOG.md entry.
    #[serde(default)]
    pub ship: ShipSection,
    /// `/metrics`, `/healthz` and `/readyz` for Prometheus and the supervisor.
    #[serde(default)]
    pub metrics: Option<MetricsSection>,
    /// The drift watcher: `diff` on both sites on a schedule.
    #[serde(default)]
    pub watch: Option<WatchSection>,
    /// Several Frappe stacks, each bound to its channels. Empty: one stack, made of
    /// the top-level `[sites]`, `[github]` and `[runner]`, answering in every channel.
    #[serde(default)]
    pub stacks: BTreeMap<String, StackSection>,
}

/// `[stacks.<name>]`: one Frappe stack (its two sites, its config repository and
/// bench runner) and who works on it. A command typed in one of its `channels`
/// acts on it and on nothing else. `access`, `rotation` and `release_channel`
/// default to the top-level ones, for a team that runs several stacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSection {
    /// Channel ids (`C…`) where commands act on this stack; the first is where the
    /// drift watcher posts.
    pub channels: Vec<String>,
    #[serde(default)]
    pub sites: BTreeMap<String, SiteSection>,
    #[serde(default)]
    pub github: Option<GithubConfig>,
    #[serde(default)]
    pub runner: Option<RunnerSection>,
    #[serde(default)]
    pub access: Option<AccessSection>,
    #[serde(default)]
    pub rotation: Option<RotationSection>,
    #[serde(default)]
    pub release_channel: Option<String>,
}

/// One stack as the rest of the bot sees it: its name (empty for a single-stack
/// file), its channels (empty: every channel) and a [`Config`] whose sites, repo,
/// runner, access and rotation are that stack's.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub name: String,
    pub channels: Vec<String>,
    pub config: Config,
}

/// `[ship]`: how the release's CHANGELOG.md entry reaches the production branch.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipSection {
    #[serde(default)]
    pub changelog: ChangelogMode,
}

/// "pr" (the default): a `release/vX` branch and a PR that needs the same approval
/// as any other, merged by lockstep once approved. "direct": one commit straight on
/// the production branch, for repositories whose protection allows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangelogMode {
    #[default]
    Pr,
    Direct,
}

/// `[metrics]`: where the metrics, health and readiness endpoints listen.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// `host:port`, e.g. `127.0.0.1:9187` (port 0 picks a free one).
    pub listen: std::net::SocketAddr,
}

/// `[watch]`: when the drift watcher runs `diff` on both sites. The schedule is a
/// five-field cron expression (minute hour day-of-month month day-of-week) read in
/// `freeze.timezone`; the watcher posts to `channel` only when the drift changed
/// since its last post.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchSection {
    pub schedule: String,
    /// The channel id it posts to (e.g. C0DEPLOY). With several stacks, leave it
    /// out: each stack's drift goes to that stack's first channel.
    #[serde(default)]
    pub channel: String,
}

impl WatchSection {
    /// The schedule, parsed (checked at load, so this does not fail afterwards).
    pub fn cron(&self) -> Result<croner::Cron, String> {
        use std::str::FromStr;
        let fields = self.schedule.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "watch.schedule = {:?} has {fields} fields; write five: minute hour day-of-month month day-of-week, e.g. \"0 9 * * 1-5\"",
                self.schedule
            ));
        }
        croner::Cron::from_str(&self.schedule).map_err(|err| {
            format!(
                "watch.schedule = {:?} is not a cron expression ({err}); e.g. \"0 9 * * 1-5\" is 09:00 on weekdays",
                self.schedule
            )
        })
    }
}

/// `[commands]`: how long a read (diff, review, the checklist, a plan) may take as
/// a whole, whatever each request's own timeout; past it the run ends saying which
/// side is too slow, and nothing is changed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandsSection {
    #[serde(default = "default_deadline_secs")]
    pub deadline_secs: u64,
    /// How often a long read edits its message to say it is still working.
    #[serde(default = "default_progress_secs")]
    pub progress_secs: u64,
}

impl Default for CommandsSection {
    fn default() -> Self {
        CommandsSection {
            deadline_secs: default_deadline_secs(),
            progress_secs: default_progress_secs(),
        }
    }
}

fn default_deadline_secs() -> u64 {
    300
}

fn default_progress_secs() -> u64 {
    30
}

impl CommandsSection {
    pub fn deadline(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.deadline_secs)
    }

    pub fn progress_every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.progress_secs)
    }
}

/// `[sprint]`: sprint `n` starts on `start + (n - 1) × length_days`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SprintSection {
    #[serde(default = "default_sprint_start")]
    pub start: chrono::NaiveDate,
    #[serde(default = "default_sprint_length_days")]
    pub length_days: u32,
}

impl Default for SprintSection {
    fn default() -> Self {
        SprintSection {
            start: default_sprint_start(),
            length_days: default_sprint_length_days(),
        }
    }
}

fn default_sprint_start() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 5).expect("a date")
}

fn default_sprint_length_days() -> u32 {
    14
}

impl SprintSection {
    /// The sprint `day` falls in (1 for the first; days before `start` count as 1).
    pub fn number(&self, day: chrono::NaiveDate) -> u32 {
        let days = (day - self.start).num_days().max(0) as u64;
        (days / u64::from(self.length_days.max(1))) as u32 + 1
    }
}

/// `[rotation]`: members take turns of `period_days` from `start`, in order. The
/// on-call member follows from the date alone, so every replica agrees.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationSection {
    #[serde(default)]
    pub members: Vec<RotationMember>,
    #[serde(default = "default_rotation_period_days")]
    pub period_days: u32,
    #[serde(default = "default_sprint_start")]
    pub start: chrono::NaiveDate,
}

fn default_rotation_period_days() -> u32 {
    7
}

impl Default for RotationSection {
    fn default() -> Self {
        RotationSection {
            members: Vec::new(),
            period_days: default_rotation_period_days(),
            start: default_sprint_start(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RotationMember {
    /// Their Slack user id (mentioned in the thread).
    pub slack: crate::ids::SlackUserId,
    /// Their GitHub login (asked to review the PR).
    pub github: String,
}

impl RotationSection {
    /// Who is on call on `day`, if anyone is listed.
    pub fn on_call(&self, day: chrono::NaiveDate) -> Option<&RotationMember> {
        if self.members.is_empty() {
            return None;
        }
        let days = (day - self.start).num_days();
        let turn = days.div_euclid(i64::from(self.period_days.max(1)));
        let index = turn.rem_euclid(self.members.len() as i64) as usize;
        self.members.get(index)
    }
}

/// `[deploy]`: who runs backup → migrate → restart after a merge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySection {
    /// "ci": the operator's CI runs them on the merge commit, and lockstep watches
    /// that workflow run. "bot": lockstep runs them itself through [runner].
    #[serde(default)]
    pub mode: DeployMode,
    /// How long the whole deploy may take before it counts as failed.
    #[serde(default = "default_deploy_timeout_minutes")]
    pub timeout_minutes: u32,
}

impl Default for DeploySection {
    fn default() -> Self {
        DeploySection {
            mode: DeployMode::Ci,
            timeout_minutes: default_deploy_timeout_minutes(),
        }
    }
}

fn default_deploy_timeout_minutes() -> u32 {
    60
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployMode {
    #[default]
    Ci,
    Bot,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerSection {
    /// A shell command with `{site}` and `{args}`, e.g. `bench --site {site} {args}`
    /// or `ssh frappe@bench "cd frappe-bench && bench --site {site} {args}"`.
    pub template: Option<String>,
    /// Instead of a template: a `workflow_dispatch` workflow of the config repo
    /// (its file name, e.g. `bench.yml`) that runs `bench <args>`.
    pub workflow: Option<String>,
    /// The branch or tag the workflow runs on (default: the production branch).
    pub workflow_ref: Option<String>,
    /// How often a dispatched run's status is read.
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: u64,
    #[serde(default = "default_runner_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_runner_timeout_secs() -> u64 {
    1_800
}

fn default_poll_interval_secs() -> u64 {
    10
}

impl RunnerSection {
    fn check(&self, github: Option<&GithubConfig>) -> Result<(), String> {
        match (&self.template, &self.workflow) {
            (Some(_), Some(_)) => Err("[runner] has both template and workflow; keep the one that reaches your bench host".into()),
            (None, None) => Err("[runner] needs template = \"bench --site {site} {args}\" (a shell command) or workflow = \"bench.yml\" (a workflow_dispatch workflow)".into()),
            (None, Some(_)) if github.is_none() => Err("[runner] workflow needs the [github] section: the workflow is dispatched in the config repo".into()),
            _ if self.poll_interval_secs == 0 => Err("runner.poll_interval_secs must be at least 1".into()),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSection {
    /// Field types that need an explicit allow (Code, Password, Attach, Long Text).
    #[serde(default)]
    pub allowed_fieldtypes: Vec<String>,
}

impl ValidationSection {
    pub fn policy(&self) -> ValidationPolicy {
        ValidationPolicy {
            allowed_fieldtypes: self.allowed_fieldtypes.iter().cloned().collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackSection {
    /// Base URL of Slack's Web API; point it at a local server for tests and demos.
    #[serde(default = "default_slack_api_url")]
    pub api_url: Url,
    /// The slash command the app registers (must match manifest.json).
    #[serde(default = "default_command")]
    pub command: String,
    /// Where `ship` posts release notes (a channel id, e.g. C0RELEASES).
    #[serde(default)]
    pub release_channel: Option<String>,
    /// How many times a rate-limited (429) Web API call is retried after `Retry-After`.
    #[serde(default = "default_rate_limit_retries")]
    pub rate_limit_retries: u32,
    /// Socket Mode connections kept open (1-10). Two keep commands flowing while one
    /// of them is being refreshed.
    #[serde(default = "default_socket_connections")]
    pub socket_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// The sled database folder; relative paths are taken from the config file's folder.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// sled's page cache, in MiB (sled's own default is 1 GiB). The bot's records
    /// are small; the cache only bounds how far memory grows with the store.
    #[serde(default = "default_store_cache_mb")]
    pub cache_mb: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// Who may run `promote` (user ids `U…` or user-group ids `S…`).
    #[serde(default)]
    pub promoters: Vec<Principal>,
    /// Who may press [Merge & deploy] / [Hold] (never the promotion's own author).
    #[serde(default)]
    pub approvers: Vec<Principal>,
    /// Who may `unlock` an environment.
    #[serde(default)]
    pub admins: Vec<Principal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteRole {
    Staging,
    Production,
}

impl SiteRole {
    pub fn as_str(self) -> &'static str {
        match self {
            SiteRole::Staging => "staging",
            SiteRole::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSection {
    pub url: Url,
    pub role: SiteRole,
    /// Concurrent requests when reading every blueprint of the site.
    #[serde(default = "default_site_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_site_timeout_secs")]
    pub timeout_secs: u64,
    /// Sent as `X-Frappe-Site-Name`, for a bench that serves several sites on one
    /// address (and for the local sim).
    #[serde(default)]
    pub frappe_site_name: Option<String>,
}

/// Secrets read from the environment, never from the file.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub slack_app_token: Secret,
    pub slack_bot_token: Secret,
    pub sites: BTreeMap<String, SiteCredentials>,
    /// Present when the file has a `[github]` section.
    pub github: Option<GithubAuth>,
}

#[derive(Debug, Clone)]
pub struct SiteCredentials {
    pub api_key: Secret,
    pub api_secret: Secret,
}

fn default_slack_api_url() -> Url {
    Url::parse(DEFAULT_SLACK_API_URL).expect("constant URL parses")
}
fn default_command() -> String {
    DEFAULT_COMMAND.to_string()
}
fn default_rate_limit_retries() -> u32 {
    3
}
fn default_socket_connections() -> u32 {
    2
}
fn default_store_path() -> PathBuf {
    PathBuf::from("lockstep.db")
}
fn default_store_cache_mb() -> u64 {
    crate::store::DEFAULT_CACHE_BYTES / (1024 * 1024)
}
fn default_site_concurrency() -> usize {
    8
}
fn default_site_timeout_secs() -> u64 {
    30
}

impl Default for SlackSection {
    fn default() -> Self {
        Self {
            api_url: default_slack_api_url(),
            command: default_command(),
            release_channel: None,
            rate_limit_retries: default_rate_limit_retries(),
            socket_connections: default_socket_connections(),
        }
    }
}

impl Default for StoreSection {
    fn default() -> Self {
        Self {
            path: default_store_path(),
            cache_mb: default_store_cache_mb(),
        }
    }
}

/// Where environment variables come from: the process, or a map in tests.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|value| !value.is_empty())
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl FileConfig {
    /// Parses and checks the TOML text. `origin` names the file in messages.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        // URLs first: a value such as `api.github.com:443` is a valid URL (of scheme
        // `api.github.com`) to the parser, and would fail only at the first request.
        check_url_keys(text).map_err(|problem| anyhow::anyhow!("{origin}: {problem}"))?;
        let file: FileConfig = toml::from_str(text)
            .map_err(|err| anyhow::anyhow!("{origin}: {}", err.to_string().trim_end()))?;
        file.check()
            .map_err(|problem| anyhow::anyhow!("{origin}: {problem}"))?;
        Ok(file)
    }

    fn check(&self) -> Result<(), String> {
        self.check_stacks()?;
        for (name, stack) in self.stack_files() {
            stack
                .check_one_stack()
                .map_err(|problem| match name.as_str() {
                    "" => problem,
                    name => format!("[stacks.{name}]: {problem}"),
                })?;
        }
        Ok(())
    }

    /// What only a file with `[stacks.*]` can get wrong: stacks beside top-level
    /// sites, a stack without channels, a channel or site name used twice.
    fn check_stacks(&self) -> Result<(), String> {
        if self.stacks.is_empty() {
            return Ok(());
        }
        let top_level: Vec<&str> = [
            (!self.sites.is_empty()).then_some("[sites.*]"),
            self.github.is_some().then_some("[github]"),
            self.runner.is_some().then_some("[runner]"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !top_level.is_empty() {
            return Err(format!(
                "{} at the top level and [stacks.*] tables too: with several stacks, each stack's sites, repository and runner go in its own table ([stacks.<name>.sites.<site>], [stacks.<name>.github], [stacks.<name>.runner])",
                top_level.join(", ")
            ));
        }
        let mut channels: BTreeMap<&str, &str> = BTreeMap::new();
        let mut sites: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, stack) in &self.stacks {
            check_stack_name(name)?;
            if stack.channels.iter().all(|c| c.trim().is_empty()) {
                return Err(format!("[stacks.{name}] has no channels; list the channel ids where its commands are typed, e.g. channels = [\"C0DEPLOY\"]"));
            }
            for channel in &stack.channels {
                if let Some(other) = channels.insert(channel, name) {
                    return Err(format!("channel {channel:?} is in both [stacks.{other}] and [stacks.{name}]; a channel acts on one stack"));
                }
            }
            for site in stack.sites.keys() {
                if let Some(other) = sites.insert(site, name) {
                    return Err(format!("site name {site:?} is in both [stacks.{other}] and [stacks.{name}]; site names must differ across stacks (each has its own FRAPPE_<SITE>_API_KEY)"));
                }
            }
        }
        if let Some(watch) = &self.watch {
            if !watch.channel.trim().is_empty() && !channels.contains_key(watch.channel.as_str()) {
                return Err(format!("watch.channel {:?} is not a channel of any stack; with several stacks the watcher posts each stack's drift to that stack's first channel, so leave watch.channel out", watch.channel));
            }
        }
        Ok(())
    }

    /// The file as each stack sees it: a single-stack file is one stack named "";
    /// otherwise one per `[stacks.<name>]`, with that stack's sites, repository,
    /// runner, and (when it sets them) access, rotation and release channel.
    pub fn stack_files(&self) -> Vec<(String, FileConfig)> {
        if self.stacks.is_empty() {
            return vec![(String::new(), self.clone())];
        }
        self.stacks
            .iter()
            .map(|(name, stack)| {
                let mut file = self.clone();
                file.stacks = BTreeMap::new();
                file.sites = stack.sites.clone();
                file.github = stack.github.clone();
                file.runner = stack.runner.clone();
                if let Some(access) = &stack.access {
                    file.access = access.clone();
                }
                if let Some(rotation) = &stack.rotation {
                    file.rotation = rotation.clone();
                }
                if stack.release_channel.is_some() {
                    file.slack.release_channel = stack.release_channel.clone();
                }
                if let Some(watch) = &mut file.watch {
                    watch.channel = stack.channels[0].clone();
                }
                (name.clone(), file)
            })
            .collect()
    }

    /// Every site of every stack.
    pub fn all_sites(&self) -> impl Iterator<Item = &String> {
        self.sites
            .keys()
            .chain(self.stacks.values().flat_map(|stack| stack.sites.keys()))
    }

    fn check_one_stack(&self) -> Result<(), String> {
        check_command_name(&self.slack.command)?;
        if let Some(watch) = &self.watch {
            watch.cron()?;
            if watch.channel.trim().is_empty() {
                return Err("watch.channel is empty; give the channel id the watcher posts to, e.g. \"C0DEPLOY\"".into());
            }
        }
        if !(1..=10).contains(&self.slack.socket_connections) {
            return Err(format!(
                "slack.socket_connections must be between 1 and 10 (Slack allows 10 per app), got {}",
                self.slack.socket_connections
            ));
        }
        // Defaults and values set in code are checked too (the file's own values
        // were checked with their line by `check_url_keys`).
        check_http_url(self.slack.api_url.as_str()).map_err(|problem| {
            format!(
                "slack.api_url = {:?} {problem}",
                redact(self.slack.api_url.as_str())
            )
        })?;
        if let Some(github) = &self.github {
            check_http_url(&github.api_url).map_err(|problem| {
                format!("github.api_url = {:?} {problem}", redact(&github.api_url))
            })?;
        }
        for (name, site) in &self.sites {
            check_http_url(site.url.as_str()).map_err(|problem| {
                format!(
                    "sites.{name}.url = {:?} {problem}",
                    redact(site.url.as_str())
                )
            })?;
        }
        if self.commands.deadline_secs == 0 || self.commands.progress_secs == 0 {
            return Err(
                "commands.deadline_secs and commands.progress_secs must be at least 1".into(),
            );
        }
        if let Some(runner) = &self.runner {
            runner.check(self.github.as_ref())?;
        }
        if self.sprint.length_days == 0 {
            return Err("sprint.length_days must be at least 1".into());
        }
        if self.rotation.period_days == 0 {
            return Err("rotation.period_days must be at least 1".into());
        }
        if self.deploy.mode == DeployMode::Bot && self.runner.is_none() {
            return Err("deploy.mode = \"bot\" runs backup, migrate and restart through [runner]; add a [runner] section, or use deploy.mode = \"ci\"".into());
        }
        if !["merge", "squash", "rebase"].contains(&self.promote.merge_method.as_str()) {
            return Err(format!(
                "promote.merge_method must be \"merge\", \"squash\" or \"rebase\", got {:?}",
                self.promote.merge_method
            ));
        }
        if self.promote.poll_interval_ms == 0
            || self.promote.poll_max_interval_ms < self.promote.poll_interval_ms
        {
            return Err("promote.poll_interval_ms must be at least 1 and at most promote.poll_max_interval_ms".into());
        }
        for role in [SiteRole::Staging, SiteRole::Production] {
            let named: Vec<&String> = self
                .sites
                .iter()
                .filter(|(_, site)| site.role == role)
                .map(|(name, _)| name)
                .collect();
            if named.len() > 1 {
                return Err(format!(
                    "only one site may have role = \"{}\", but {} do",
                    role.as_str(),
                    named
                        .iter()
                        .map(|name| format!("[sites.{name}]"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ));
            }
        }
        for (name, site) in &self.sites {
            check_site_name(name)?;
            if site.concurrency == 0 || site.concurrency > 64 {
                return Err(format!(
                    "sites.{name}.concurrency must be between 1 and 64, got {}",
                    site.concurrency
                ));
            }
            if site.timeout_secs == 0 {
                return Err(format!("sites.{name}.timeout_secs must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Where the file's URL keys are, for messages that name their line.
#[derive(Default, Deserialize)]
struct UrlKeys {
    #[serde(default)]
    slack: ApiUrlKey,
    #[serde(default)]
    github: ApiUrlKey,
    #[serde(default)]
    sites: BTreeMap<String, SiteUrlKey>,
    #[serde(default)]
    stacks: BTreeMap<String, StackUrlKeys>,
}

#[derive(Default, Deserialize)]
struct StackUrlKeys {
    #[serde(default)]
    github: ApiUrlKey,
    #[serde(default)]
    sites: BTreeMap<String, SiteUrlKey>,
}

#[derive(Default, Deserialize)]
struct ApiUrlKey {
    api_url: Option<toml::Spanned<toml::Value>>,
}

#[derive(Default, Deserialize)]
struct SiteUrlKey {
    url: Option<toml::Spanned<toml::Value>>,
}

/// Checks every URL key of the file, naming the key and its line. A file that is
/// not TOML (or not shaped like ours) is left to the full parse to report.
fn check_url_keys(text: &str) -> Result<(), String> {
    let Ok(keys) = toml::from_str::<UrlKeys>(text) else {
        return Ok(());
    };
    let mut found: Vec<(String, &toml::Spanned<toml::Value>)> = Vec::new();
    if let Some(value) = &keys.slack.api_url {
        found.push(("slack.api_url".into(), value));
    }
    if let Some(value) = &keys.github.api_url {
        found.push(("github.api_url".into(), value));
    }
    for (name, site) in &keys.sites {
        if let Some(value) = &site.url {
            found.push((format!("sites.{name}.url"), value));
        }
    }
    for (stack_name, stack) in &keys.stacks {
        if let Some(value) = &stack.github.api_url {
            found.push((format!("stacks.{stack_name}.github.api_url"), value));
        }
        for (name, site) in &stack.sites {
            if let Some(value) = &site.url {
                found.push((format!("stacks.{stack_name}.sites.{name}.url"), value));
            }
        }
    }
    for (key, value) in found {
        let line = text[..value.span().start.min(text.len())]
            .matches('\n')
            .count()
            + 1;
        let Some(url) = value.get_ref().as_str() else {
            return Err(format!(
                "line {line}: {key} must be a URL in quotes, like \"https://example.com\""
            ));
        };
        check_http_url(url).map_err(|problem| {
            format!(
                "line {line}: {key} = {:?} {problem}",
                shorten(&redact(url), 100)
            )
        })?;
    }
    Ok(())
}

/// A URL as it may be shown: any `user:password@` replaced by `***@`.
fn redact(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => text.to_string(),
    }
}

fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// An http(s) URL with a host and no credentials in it, or what is wrong with it.
pub fn check_http_url(text: &str) -> Result<Url, String> {
    let example = |rest: &str| format!("\"https://{}\"", rest.trim_start_matches('/'));
    let url = match Url::parse(text) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(format!(
                "is not a full URL: it has no scheme; write it as {}",
                example(text)
            ))
        }
        Err(err) => return Err(format!("is not a valid URL ({err})")),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(if text.contains("://") {
            format!(
                "must be an http:// or https:// URL, not {}://",
                url.scheme()
            )
        } else {
            format!(
                "has no scheme (it reads as a URL of scheme `{}`); write it as {}",
                url.scheme(),
                example(text)
            )
        });
    }
    match url.host_str() {
        Some(host) if !host.is_empty() => {}
        _ => return Err("has no host name".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "carries a user name or password; secrets come from the environment, never the file"
                .into(),
        );
    }
    Ok(url)
}

/// Slack's own rule for a slash command: a leading `/`, 2–32 characters, lowercase,
/// no spaces.
fn check_command_name(command: &str) -> Result<(), String> {
    let body = command.strip_prefix('/').unwrap_or("");
    let valid = command.starts_with('/')
        && (2..=32).contains(&command.len())
        && body.chars().all(is_slug_char);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "slack.command must look like \"/frappe-stack\" (a leading '/', 2-32 lowercase letters, digits, '-' or '_'), got {command:?}"
        ))
    }
}

/// Lowercase letters, digits, '-' and '_': what slash commands and stack names are
/// made of.
fn is_slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

/// Stack names are read in messages and store keys, so keep them simple.
fn check_stack_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty() && name.len() <= 32 && name.chars().all(is_slug_char);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "[stacks.{name}]: a stack name must be lowercase letters, digits, '-' or '_' (people read it in messages)"
        ))
    }
}

/// Site names become part of environment variable names, so keep them simple.
fn check_site_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "[sites.{name}]: a site name must be lowercase letters, digits or '_' (it becomes FRAPPE_<NAME>_API_KEY)"
        ))
    }
}

/// The environment variable holding a site's API key or secret.
pub fn site_env_var(site: &str, part: &str) -> String {
    format!("FRAPPE_{}_API_{part}", site.to_ascii_uppercase())
}

impl Secrets {
    /// Reads every secret the file calls for; each missing or malformed one is named.
    pub fn from_env(file: &FileConfig, env: &dyn Env) -> anyhow::Result<Self> {
        let mut problems = Vec::new();
        let slack_app_token = token(env, "SLACK_APP_TOKEN", "xapp-", &mut problems);
        let slack_bot_token = token(env, "SLACK_BOT_TOKEN", "xoxb-", &mut problems);
        let mut sites = BTreeMap::new();
        for name in file.all_sites() {
            let key_var = site_env_var(name, "KEY");
            let secret_var = site_env_var(name, "SECRET");
            match (env.var(&key_var), env.var(&secret_var)) {
                (Some(key), Some(secret)) => {
                    sites.insert(
                        name.clone(),
                        SiteCredentials {
                            api_key: Secret::new(key),
                            api_secret: Secret::new(secret),
                        },
                    );
                }
                (key, _) => {
                    let missing = if key.is_none() { key_var } else { secret_var };
                    problems.push(format!("{missing} is not set (site `{name}`)"));
                }
            }
        }
        let wants_github =
            file.github.is_some() || file.stacks.values().any(|stack| stack.github.is_some());
        let github = if wants_github {
            match GithubAuth::from_env(&|name: &str| env.var(name)) {
                Ok(auth) => Some(auth),
                Err(err) => {
                    problems.push(format!("{err} (for [github])"));
                    None
                }
            }
        } else {
            None
        };
        if !problems.is_empty() {
            anyhow::bail!(
                "missing or malformed secrets in the environment:\n  - {}",
                problems.join("\n  - ")
            );
        }
        Ok(Self {
            slack_app_token,
            slack_bot_token,
            sites,
            github,
        })
    }
}

fn token(env: &dyn Env, name: &str, prefix: &str, problems: &mut Vec<String>) -> Secret {
    match env.var(name) {
        Some(value) if value.starts_with(prefix) => Secret::new(value),
        Some(_) => {
            problems.push(format!(
                "{name} does not start with `{prefix}` (is it the other Slack token?)"
            ));
            Secret::new("")
        }
        None => {
            problems.push(format!("{name} is not set (a `{prefix}…` token)"));
            Secret::new("")
        }
    }
}

impl Config {
    /// Loads the file at `path` and the secrets from `env`.
    pub fn load(path: &Path, env: &dyn Env) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config file {}", path.display()))?;
        let file = FileConfig::parse(&text, &path.display().to_string())?;
        let secrets = Secrets::from_env(&file, env)?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Self {
            file,
            secrets,
            base_dir,
        })
    }

    /// The store folder, resolved against the config file's folder.
    pub fn store_path(&self) -> PathBuf {
        if self.file.store.path.is_absolute() {
            self.file.store.path.clone()
        } else {
            self.base_dir.join(&self.file.store.path)
        }
    }

    pub fn command_name(&self) -> &str {
        &self.file.slack.command
    }

    /// Each stack with the configuration it acts on (one, named "", for a
    /// single-stack file).
    pub fn stacks(&self) -> Vec<StackConfig> {
        self.file
            .stack_files()
            .into_iter()
            .map(|(name, file)| StackConfig {
                channels: self
                    .file
                    .stacks
                    .get(&name)
                    .map(|stack| stack.channels.clone())
                    .unwrap_or_default(),
                name,
                config: Config {
                    file,
                    secrets: self.secrets.clone(),
                    base_dir: self.base_dir.clone(),
                },
            })
            .collect()
    }

    /// The site `which` and the branch it tracks, or what is missing to know them.
    pub fn tracking(&self, which: SiteSel) -> Result<Tracking, UserError> {
        let role = match which {
            SiteSel::Staging => SiteRole::Staging,
            SiteSel::Prod => SiteRole::Production,
        };
        let site = self
            .file
            .sites
            .iter()
            .find(|(_, section)| section.role == role)
            .map(|(name, _)| name.clone())
            .ok_or_else(|| {
                UserError::new(format!(
                    "No {} site is configured: add a [sites.<name>] table with role = \"{}\" (see config/lockstep.example.toml).",
                    role.as_str(),
                    role.as_str()
                ))
            })?;
        let github = self.file.github.as_ref().ok_or_else(|| {
            UserError::new("No config repository is configured: add a [github] section with owner and repo (see config/lockstep.example.toml).")
        })?;
        let branch = match which {
            SiteSel::Staging => github.staging_branch.clone(),
            SiteSel::Prod => github.production_branch.clone(),
        };
        Ok(Tracking { site, branch })
    }
}

/// A site and the git branch that holds its blueprints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub site: String,
    pub branch: String,
}

/// A configuration from TOML text with placeholder secrets, for unit tests of code
/// that reads the configuration but never reaches the outside world.
#[cfg(test)]
impl Config {
    pub fn for_tests(toml: &str) -> Config {
        Config {
            file: FileConfig::parse(toml, "test.toml").expect("the test's TOML parses"),
            secrets: Secrets {
                slack_app_token: crate::secret::Secret::new("xapp-"),
                slack_bot_token: crate::secret::Secret::new("xoxb-"),
                sites: Default::default(),
                github: None,
            },
            base_dir: ".".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_example_config_parses() {
        let text = include_str!("../config/lockstep.example.toml");
        let file = FileConfig::parse(text, "lockstep.example.toml").unwrap();
        assert_eq!(file.slack.command, "/frappe-stack");
        assert!(file.sites.contains_key("staging"));
    }

    #[test]
    fn a_watch_schedule_must_be_five_cron_fields() {
        let parse = |schedule: &str| {
            let text = format!("[watch]\nschedule = \"{schedule}\"\nchannel = \"C0DEPLOY\"\n");
            FileConfig::parse(&text, "w.toml").map_err(|err| err.to_string())
        };
        assert!(parse("0 9 * * 1-5").is_ok());
        let err = parse("0 0 9 * * 1-5").unwrap_err();
        assert!(err.contains("has 6 fields"), "{err}");
        let err = parse("0 25 * * *").unwrap_err();
        assert!(err.contains("is not a cron expression"), "{err}");
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let text = "[slack]\ncommand = \"/frappe-stack\"\ncomand = \"/x\"\n";
        let err = FileConfig::parse(text, "bad.toml").unwrap_err().to_string();
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("comand"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = FileConfig::parse("[slack]\ncommand = \"frappe\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("slack.command"), "{err}");

        let err = FileConfig::parse("[access]\npromoters = [\"priya\"]\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"priya\""), "{err}");
    }

    const TWO_STACKS: &str = r#"
[access]
promoters = ["U0PM"]
[stacks.hr]
channels = ["C0HR"]
[stacks.hr.sites.hr_staging]
url = "https://hr-staging.example.com"
role = "staging"
[stacks.hr.github]
owner = "acme"
repo = "hr-config"
[stacks.ops]
channels = ["C0OPS"]
release_channel = "C0OPSREL"
[stacks.ops.access]
promoters = ["U0OPS"]
[stacks.ops.sites.ops_staging]
url = "https://ops-staging.example.com"
role = "staging"
"#;

    #[test]
    fn each_stack_sees_its_own_sites_repo_and_access() {
        let file = FileConfig::parse(TWO_STACKS, "s.toml").unwrap();
        let stacks = file.stack_files();
        let names: Vec<&str> = stacks.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["hr", "ops"]);
        let (_, hr) = &stacks[0];
        let (_, ops) = &stacks[1];
        assert_eq!(hr.sites.keys().collect::<Vec<_>>(), ["hr_staging"]);
        assert_eq!(ops.sites.keys().collect::<Vec<_>>(), ["ops_staging"]);
        assert_eq!(hr.github.as_ref().unwrap().repo, "hr-config");
        assert!(ops.github.is_none());
        // Access is the stack's own when it sets it, the top level's otherwise.
        assert_eq!(hr.access.promoters, [Principal::parse("U0PM").unwrap()]);
        assert_eq!(ops.access.promoters, [Principal::parse("U0OPS").unwrap()]);
        assert_eq!(ops.slack.release_channel.as_deref(), Some("C0OPSREL"));
        assert!(hr.stacks.is_empty() && ops.stacks.is_empty());
        // Every stack's sites need their secrets.
        let err = Secrets::from_env(
            &file,
            &env(&[
                ("SLACK_APP_TOKEN", "xapp-1"),
                ("SLACK_BOT_TOKEN", "xoxb-1"),
                ("GITHUB_TOKEN", "ghp_x"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("FRAPPE_HR_STAGING_API_KEY") && err.contains("FRAPPE_OPS_STAGING_API_KEY"),
            "{err}"
        );
    }

    #[test]
    fn the_example_configs_stack_parses_when_uncommented() {
        let text = include_str!("../config/lockstep.example.toml");
        let start = text
            .find("# [stacks.hr]\n")
            .expect("the example has a stack");
        let stack: String = text[start..]
            .lines()
            .take_while(|line| *line != "#")
            .map(|line| format!("{}\n", line.trim_start_matches("# ")))
            .collect();
        let file = FileConfig::parse(&stack, "example stack").unwrap();
        let hr = &file.stacks["hr"];
        assert_eq!(hr.channels, ["C0HRDEPLOY"]);
        assert_eq!(hr.sites.len(), 2);
        assert!(hr.runner.is_some() && hr.access.is_some());
    }

    #[test]
    fn a_single_stack_file_is_one_stack_named_nothing() {
        let file = FileConfig::parse(
            "[sites.staging]\nurl = \"https://s.example.com\"\nrole = \"staging\"\n",
            "s.toml",
        )
        .unwrap();
        let stacks = file.stack_files();
        assert_eq!(stacks.len(), 1);
        assert_eq!(stacks[0].0, "");
        assert!(stacks[0].1.sites.contains_key("staging"));
    }

    #[test]
    fn stacks_that_would_cross_are_refused_naming_why() {
        let refused = |text: &str| FileConfig::parse(text, "s.toml").unwrap_err().to_string();
        let err = refused(&format!(
            "{TWO_STACKS}[sites.staging]\nurl = \"https://x.example.com\"\nrole = \"staging\"\n"
        ));
        assert!(
            err.contains("[sites.*] at the top level and [stacks.*] tables too"),
            "{err}"
        );
        let err = refused(&TWO_STACKS.replace("channels = [\"C0OPS\"]", "channels = [\"C0HR\"]"));
        assert!(
            err.contains("channel \"C0HR\" is in both [stacks.hr] and [stacks.ops]"),
            "{err}"
        );
        let err = refused(&TWO_STACKS.replace("ops_staging", "hr_staging"));
        assert!(err.contains("site name \"hr_staging\" is in both"), "{err}");
        let err = refused(&TWO_STACKS.replace("channels = [\"C0OPS\"]", "channels = []"));
        assert!(err.contains("[stacks.ops] has no channels"), "{err}");
        let err = refused(
            &TWO_STACKS
                .replace("[stacks.ops]\n", "[stacks.Ops]\n")
                .replace("stacks.ops.", "stacks.Ops."),
        );
        assert!(err.contains("a stack name must be lowercase"), "{err}");
        // A stack's own problems are named with the stack.
        let err = refused(&format!("{TWO_STACKS}[stacks.ops.sites.ops_other]\nurl = \"https://o.example.com\"\nrole = \"staging\"\n"));
        assert!(
            err.contains("[stacks.ops]: only one site may have role = \"staging\""),
            "{err}"
        );
        // A stack's URL keys are checked with their line, like the top level's.
        let err = refused(
            &TWO_STACKS.replace("https://ops-staging.example.com", "ops-staging.example.com"),
        );
        assert!(err.contains("stacks.ops.sites.ops_staging.url"), "{err}");
        assert!(err.contains("line 18"), "{err}");
    }

    #[test]
    fn the_runner_takes_a_template_or_a_workflow() {
        let github = "[github]\nowner = \"acme\"\nrepo = \"frappe-config\"\n";
        let refused = |text: &str| FileConfig::parse(text, "c.toml").unwrap_err().to_string();
        let err = refused("[runner]\ntimeout_secs = 60\n");
        assert!(err.contains("needs template"), "{err}");
        let err = refused(&format!(
            "{github}[runner]\ntemplate = \"bench {{args}}\"\nworkflow = \"bench.yml\"\n"
        ));
        assert!(err.contains("both template and workflow"), "{err}");
        let err = refused("[runner]\nworkflow = \"bench.yml\"\n");
        assert!(err.contains("needs the [github] section"), "{err}");

        let file = FileConfig::parse(
            &format!("{github}[runner]\nworkflow = \"bench.yml\"\n"),
            "c.toml",
        )
        .unwrap();
        let runner = file.runner.unwrap();
        assert_eq!(runner.workflow.as_deref(), Some("bench.yml"));
        assert_eq!(
            (runner.poll_interval_secs, runner.timeout_secs),
            (10, 1_800)
        );
    }

    #[test]
    fn two_production_sites_are_refused() {
        let text = "[sites.a]\nurl = \"http://a\"\nrole = \"production\"\n[sites.b]\nurl = \"http://b\"\nrole = \"production\"\n";
        let err = FileConfig::parse(text, "c.toml").unwrap_err().to_string();
        assert!(err.contains("[sites.a] and [sites.b]"), "{err}");
    }

    #[test]
    fn secrets_are_checked_and_named_without_their_values() {
        let file = FileConfig::parse(
            "[sites.staging]\nurl = \"http://127.0.0.1:1\"\nrole = \"staging\"\n",
            "c.toml",
        )
        .unwrap();
        let err = Secrets::from_env(
            &file,
            &env(&[
                ("SLACK_APP_TOKEN", "xoxb-swapped-secret"),
                ("SLACK_BOT_TOKEN", "xoxb-fine"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("SLACK_APP_TOKEN does not start with `xapp-`"),
            "{err}"
        );
        assert!(err.contains("FRAPPE_STAGING_API_KEY is not set"), "{err}");
        assert!(!err.contains("swapped-secret"), "{err}");
    }

    #[test]
    fn secrets_load_and_stay_hidden() {
        let file = FileConfig::parse("", "c.toml").unwrap();
        let secrets = Secrets::from_env(
            &file,
            &env(&[
                ("SLACK_APP_TOKEN", "xapp-1-secret"),
                ("SLACK_BOT_TOKEN", "xoxb-secret"),
            ]),
        )
        .unwrap();
        assert!(!format!("{secrets:?}").contains("secret\""));
        assert_eq!(secrets.slack_bot_token.expose(), "xoxb-secret");
    }

    #[test]
    fn store_cache_defaults_to_16_mib_and_can_be_set() {
        let default = FileConfig::parse("[store]\npath = \"db\"\n", "c.toml").unwrap();
        assert_eq!(default.store.cache_mb, 16);
        let set = FileConfig::parse("[store]\ncache_mb = 64\n", "c.toml").unwrap();
        assert_eq!(set.store.cache_mb, 64);
    }

    #[test]
    fn store_path_is_relative_to_the_config_file() {
        let config = Config {
            file: FileConfig::parse("[store]\npath = \"data/db\"\n", "c.toml").unwrap(),
            secrets: Secrets {
                slack_app_token: Secret::new("xapp-"),
                slack_bot_token: Secret::new("xoxb-"),
                sites: BTreeMap::new(),
                github: None,
            },
            base_dir: PathBuf::from("/etc/lockstep"),
        };
        assert_eq!(config.store_path(), PathBuf::from("/etc/lockstep/data/db"));
    }

    /// A TOML basic string holding `text` exactly (JSON's escapes are TOML's).
    fn toml_string(text: &str) -> String {
        serde_json::to_string(text).unwrap()
    }

    /// Every URL key, with a value that is bad in each way a person gets one wrong:
    /// refused when the file loads, naming the key and its line, never a panic.
    #[test]
    fn every_url_key_refuses_bad_values_with_its_line() {
        let bad = [
            "api.github.com:443",
            "localhost:8000",
            "api.github.com",
            "",
            " ",
            "http://",
            "https://",
            "ftp://example.com",
            "file:///etc/passwd",
            "mailto:ops@example.com",
            "unix:/run/slack.sock",
            "//example.com",
            "http://[::1",
            "https://exa mple.com",
            "https://user:secret@example.com",
            "http://127.0.0.1:99999",
            "\u{0}",
            "https://\u{202e}moc.elpmaxe",
        ];
        type FileWith = fn(&str) -> String;
        let keys: [(&str, FileWith); 3] = [
            ("slack.api_url", |v| {
                format!(
                    "[slack]\ncommand = \"/frappe-stack\"\napi_url = {}\n",
                    toml_string(v)
                )
            }),
            ("github.api_url", |v| {
                format!(
                    "[github]\nowner = \"acme\"\nrepo = \"cfg\"\napi_url = {}\n",
                    toml_string(v)
                )
            }),
            ("sites.staging.url", |v| {
                format!(
                    "[sites.staging]\nrole = \"staging\"\nurl = {}\n",
                    toml_string(v)
                )
            }),
        ];
        for (key, file) in keys {
            for value in bad {
                let text = file(value);
                let result = std::panic::catch_unwind(|| FileConfig::parse(&text, "c.toml"));
                let err = result
                    .unwrap_or_else(|_| panic!("{key} = {value:?} panicked"))
                    .err()
                    .unwrap_or_else(|| panic!("{key} = {value:?} was accepted"))
                    .to_string();
                assert!(err.contains(key), "{key} = {value:?}: {err}");
                assert!(
                    err.contains("line 3") || err.contains("line 4"),
                    "{key} = {value:?}: {err}"
                );
                assert!(!err.contains("secret@"), "no credentials echoed: {err}");
            }
            let err = FileConfig::parse(&file("api.github.com:443"), "c.toml")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("write it as \"https://api.github.com:443\""),
                "{err}"
            );
        }
        let err = FileConfig::parse("[sites.s]\nrole = \"staging\"\nurl = 5\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sites.s.url must be a URL in quotes"), "{err}");
    }

    #[tokio::test]
    async fn good_urls_pass_and_odd_ones_build_clients_without_panicking() {
        for value in [
            "https://api.github.com",
            "http://127.0.0.1:1",
            "https://[::1]:8443/api/v3/",
            "http://localhost:8000",
            "https://xn--bcher-kva.example/x%20y",
        ] {
            let text = format!(
                "[github]\nowner = \"acme\"\nrepo = \"cfg\"\napi_url = {value:?}\n[sites.staging]\nrole = \"staging\"\nurl = {value:?}\n"
            );
            let file =
                FileConfig::parse(&text, "c.toml").unwrap_or_else(|err| panic!("{value}: {err}"));
            let config = Config {
                secrets: Secrets::from_env(
                    &file,
                    &env(&[
                        ("SLACK_APP_TOKEN", "xapp-1"),
                        ("SLACK_BOT_TOKEN", "xoxb-1"),
                        ("GITHUB_TOKEN", "ghp_x"),
                        ("FRAPPE_STAGING_API_KEY", "k"),
                        ("FRAPPE_STAGING_API_SECRET", "s"),
                    ]),
                )
                .unwrap(),
                file,
                base_dir: PathBuf::from("."),
            };
            crate::tls::install_crypto_provider();
            let slack = crate::slack::api::SlackApi::new(&config);
            let resolved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                crate::adapters::Adapters::resolve(&config, slack).map(|_| ())
            }));
            assert!(resolved.is_ok(), "{value}: building the clients panicked");
        }
    }

    #[test]
    fn commands_deadline_defaults_and_refuses_zero() {
        let file = FileConfig::parse("", "c.toml").unwrap();
        assert_eq!(file.commands.deadline_secs, 300);
        let err = FileConfig::parse("[commands]\ndeadline_secs = 0\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("commands.deadline_secs"), "{err}");
    }
}
