//! A GitHub-compatible server for tests and `lockstep demo`: the REST routes the bot
//! uses under `/repos/{owner}/{repo}/` (git data, annotated tags, compare, contents,
//! pulls and their files, reviews with line comments, conversation comments, labels,
//! branch protection, Actions runs and jobs, check runs, tags and releases) and
//! `/graphql` (`reviewDecision`, `revertPullRequest`), over a real git object store
//! whose ids equal git's. This file is the test-facing API (`GithubSim`, `SimRepo`):
//! acting as a human reviewer, reading back tags, releases, pull requests and their
//! comments, fault injection, the call log. Pushes to the production branch
//! start a workflow run whose steps call a pluggable deploy hook. It never imports
//! the bot's modules.

mod api;
mod cli;
mod content;
mod conversation;
mod graphql;
pub mod objects;
mod repo;
mod runs;

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, Context as _};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use cli::{serve, SimGithubArgs};
pub use objects::Signature;
pub use repo::{IssueComment, Job, LineComment, Protection, Review, Step, WorkflowRun};
pub use runs::{
    bench_deploy_hook, bench_workflow_hook, BenchHook, BenchRequest, DeployHook, DeployStep,
    StepOutcome,
};

use api::{Ctx, Reply};
use repo::{ApiError, Repo};

/// How the sim starts.
#[derive(Clone)]
pub struct GithubSimConfig {
    /// 0 = any free port.
    pub port: u16,
    /// The token the bot must send (`Authorization: Bearer …` or `token …`).
    pub token: String,
    /// Who the token belongs to: the author of the bot's commits and pull requests.
    pub bot_login: String,
    /// Repositories to create empty, as `owner/name`.
    pub repos: Vec<String>,
    /// Users with write access (reviewers may only be requested from these).
    pub collaborators: Vec<String>,
    /// Pushes to this branch start a workflow run; it gets `protection`.
    pub production_branch: String,
    pub protection: Option<Protection>,
    /// How many reads of a new pull request report `mergeable: null` first.
    pub mergeable_unknown_reads: u32,
    /// Recursive tree listings longer than this come back `truncated` (GitHub: 100k).
    pub tree_entry_limit: usize,
    /// Runs each workflow step (backup, migrate, restart); None marks steps skipped.
    pub deploy: Option<DeployHook>,
    /// Runs `bench <args>` for the dispatchable `bench.yml`; None: no such workflow.
    pub bench: Option<BenchHook>,
    /// A GitHub App whose installation tokens the sim issues and accepts.
    pub app: Option<SimApp>,
}

/// A GitHub App as the sim knows it: JWTs signed with the matching private key are
/// traded for installation tokens at `POST /app/installations/{id}/access_tokens`.
#[derive(Debug, Clone)]
pub struct SimApp {
    pub app_id: u64,
    pub installation_id: u64,
    /// The App's public key, PKCS#1 `RSAPublicKey` DER
    /// (`openssl rsa -RSAPublicKey_out -outform DER`).
    pub public_key_der: Vec<u8>,
    /// How long an installation token lives (GitHub: one hour).
    pub token_ttl: std::time::Duration,
}

impl std::fmt::Debug for GithubSimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubSimConfig")
            .field("port", &self.port)
            .field("repos", &self.repos)
            .field("production_branch", &self.production_branch)
            .finish_non_exhaustive()
    }
}

impl Default for GithubSimConfig {
    fn default() -> Self {
        GithubSimConfig {
            port: 0,
            token: "ghs_lockstepsimtoken".into(),
            bot_login: "lockstep-bot".into(),
            repos: vec!["acme/frappe-config".into()],
            collaborators: ["alice", "bob", "carol", "lockstep-bot"]
                .map(String::from)
                .to_vec(),
            production_branch: "main".into(),
            protection: Some(Protection::default()),
            mergeable_unknown_reads: 0,
            tree_entry_limit: 100_000,
            deploy: None,
            bench: None,
            app: None,
        }
    }
}

/// What follows a branch moving: stale approvals dismissed, and on the production
/// branch a workflow run.
fn after_push(shared: &Arc<Shared>, repo: &str, branch: &str, sha: &str) {
    if let Some(r) = shared.repos().get_mut(repo) {
        r.dismiss_stale_approvals(branch, sha);
    }
    runs::on_push(shared, repo, branch, sha);
}

/// One request the sim served and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The JSON body (Null when none).
    pub request: Value,
    pub status: u16,
    pub response: Value,
}

/// One request the sim received (`/_sim/` control routes are not logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub path: String,
}

#[derive(Debug, Clone)]
struct Fault {
    method: String,
    path_prefix: String,
    status: u16,
    retry_after: Option<u64>,
    message: Option<String>,
    /// Serve the request, then answer with the fault: the write happened but its
    /// answer was lost (a proxy's 502 after GitHub acted).
    after_serving: bool,
}

pub(crate) struct Shared {
    config: GithubSimConfig,
    base_url: String,
    repos: Mutex<BTreeMap<String, Repo>>,
    calls: Mutex<Vec<Call>>,
    exchanges: Mutex<Vec<Exchange>>,
    /// Installation tokens issued, with their expiry (epoch seconds).
    installation_tokens: Mutex<BTreeMap<String, i64>>,
    faults: Mutex<VecDeque<Fault>>,
    /// Bumped whenever a workflow run changes, so tests can wait on it.
    runs_changed: watch::Sender<u64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn repos(&self) -> MutexGuard<'_, BTreeMap<String, Repo>> {
        lock(&self.repos)
    }

    fn now(&self) -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn ctx<'a>(&'a self, login: &'a str) -> Ctx<'a> {
        Ctx {
            base_url: &self.base_url,
            login,
            now: self.now(),
            tree_entry_limit: self.config.tree_entry_limit,
            mergeable_unknown_reads: self.config.mergeable_unknown_reads,
            has_bench_workflow: self.config.bench.is_some(),
            log_signing_key: &self.config.token,
        }
    }

    fn take_fault(&self, method: &str, path: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let index = faults.iter().position(|f| {
            f.method.eq_ignore_ascii_case(method) && path.starts_with(&f.path_prefix)
        })?;
        faults.remove(index)
    }
}

/// A running GitHub sim. Dropping it stops the server.
pub struct GithubSim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for GithubSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubSim")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for GithubSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

impl GithubSim {
    /// Binds 127.0.0.1 on `config.port` and starts serving.
    pub async fn start(config: GithubSimConfig) -> anyhow::Result<GithubSim> {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), config).await
    }

    pub async fn start_on(bind: IpAddr, config: GithubSimConfig) -> anyhow::Result<GithubSim> {
        let listener = tokio::net::TcpListener::bind((bind, config.port))
            .await
            .with_context(|| {
                format!(
                    "while binding the GitHub sim to {bind}:{} (port in use?)",
                    config.port
                )
            })?;
        let addr = listener
            .local_addr()
            .context("while reading the GitHub sim's address")?;
        let host = if bind.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            bind
        };
        let base_url = format!("http://{}", SocketAddr::new(host, addr.port()));
        let mut repos = BTreeMap::new();
        for (i, full) in config.repos.iter().enumerate() {
            let repo = new_repo(&config, full, i as u64 + 1)?;
            repos.insert(full.clone(), repo);
        }
        let (runs_changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            config,
            base_url,
            repos: Mutex::new(repos),
            calls: Mutex::new(Vec::new()),
            exchanges: Mutex::new(Vec::new()),
            installation_tokens: Mutex::new(BTreeMap::new()),
            faults: Mutex::new(VecDeque::new()),
            runs_changed,
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            // Small JSON replies go out at once, as from GitHub's edge (no Nagle delay).
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(%error, "GitHub sim server stopped with an error");
            }
        });
        Ok(GithubSim {
            shared,
            addr,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// The API root, e.g. `http://127.0.0.1:PORT` (GraphQL at `{url}/graphql`).
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    pub fn bot_login(&self) -> &str {
        &self.shared.config.bot_login
    }

    /// A handle on one repository (`owner/name`), which need not exist yet.
    pub fn repo(&self, full_name: &str) -> SimRepo {
        SimRepo {
            shared: self.shared.clone(),
            name: full_name.to_string(),
        }
    }

    /// Queues a fault: the next `method` request whose path starts with
    /// `path_prefix` (e.g. `/repos/acme/cfg/git/trees`) gets `status` and GitHub's
    /// error body instead of being served.
    pub fn fail_next(&self, method: &str, path_prefix: &str, status: u16) {
        lock(&self.shared.faults).push_back(Fault {
            method: method.into(),
            path_prefix: path_prefix.into(),
            status,
            retry_after: None,
            message: None,
            after_serving: false,
        });
    }

    /// Like [`Self::fail_next`], but the request is served first and only its answer
    /// is replaced by `status`: the change happened, the client cannot know it.
    pub fn lose_next_answer(&self, method: &str, path_prefix: &str, status: u16) {
        lock(&self.shared.faults).push_back(Fault {
            method: method.into(),
            path_prefix: path_prefix.into(),
            status,
            retry_after: None,
            message: None,
            after_serving: true,
        });
    }

    /// As [`Self::fail_next`] with GitHub's message, e.g. a 403 "Resource not
    /// accessible by integration".
    pub fn fail_next_with(&self, method: &str, path_prefix: &str, status: u16, message: &str) {
        lock(&self.shared.faults).push_back(Fault {
            method: method.into(),
            path_prefix: path_prefix.into(),
            status,
            retry_after: None,
            message: Some(message.into()),
            after_serving: false,
        });
    }

    /// Queues a secondary-rate-limit answer (429 with `retry-after`).
    pub fn rate_limit_next(&self, method: &str, path_prefix: &str, retry_after_secs: u64) {
        lock(&self.shared.faults).push_back(Fault {
            method: method.into(),
            path_prefix: path_prefix.into(),
            status: 429,
            retry_after: Some(retry_after_secs),
            message: None,
            after_serving: false,
        });
    }

    /// Every API request so far, in order (faulted ones included).
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.shared.calls).clone()
    }

    /// Every request served (not faulted) with its answer, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.shared.exchanges).clone()
    }

    pub fn clear_calls(&self) {
        lock(&self.shared.calls).clear();
    }

    /// Every workflow run of every repository, oldest first.
    pub fn workflow_runs(&self) -> Vec<WorkflowRun> {
        self.shared
            .repos()
            .values()
            .flat_map(|r| r.runs.clone())
            .collect()
    }

    /// Waits until the workflow run `id` has completed and returns it.
    pub async fn wait_for_run(&self, id: u64) -> WorkflowRun {
        self.wait_for_completed(|r| r.id == id).await
    }

    /// Waits until a workflow run for `sha` has completed and returns it.
    pub async fn wait_for_completed_run(&self, sha: &str) -> WorkflowRun {
        self.wait_for_completed(|r| r.head_sha == sha).await
    }

    async fn wait_for_completed(&self, wanted: impl Fn(&WorkflowRun) -> bool) -> WorkflowRun {
        let mut rx = self.shared.runs_changed.subscribe();
        loop {
            let done = self
                .workflow_runs()
                .into_iter()
                .find(|r| wanted(r) && r.status == "completed");
            if let Some(run) = done {
                return run;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

fn new_repo(config: &GithubSimConfig, full: &str, id: u64) -> anyhow::Result<Repo> {
    let Some((owner, name)) = full.split_once('/') else {
        bail!("repository {full:?} must be written owner/name");
    };
    let mut repo = Repo::new(id, owner, name);
    repo.default_branch = config.production_branch.clone();
    repo.collaborators = config.collaborators.iter().cloned().collect();
    if let Some(p) = &config.protection {
        repo.protection
            .insert(config.production_branch.clone(), p.clone());
    }
    Ok(repo)
}

/// A test's handle on one repository: seed it and act as a human on GitHub.
pub struct SimRepo {
    shared: Arc<Shared>,
    name: String,
}

/// The fixed time of seeded commits, so seeded ids are the same on every run.
const SEED_TIME: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn human(login: &str, time: i64) -> Signature {
    Signature {
        name: login.into(),
        email: format!("{login}@example.com"),
        time,
        offset: "+0000".into(),
    }
}

impl SimRepo {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Repo, &Ctx) -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, Vec<(String, String)>)> {
        let shared = &self.shared;
        let login = shared.config.bot_login.clone();
        let ctx = shared.ctx(&login);
        let mut repos = shared.repos();
        if !repos.contains_key(&self.name) {
            let id = repos.len() as u64 + 1;
            repos.insert(self.name.clone(), new_repo(&shared.config, &self.name, id)?);
        }
        let repo = repos.get_mut(&self.name).context("repository vanished")?;
        let before: BTreeMap<String, String> = repo.refs.clone();
        let out = f(repo, &ctx)?;
        let pushed = repo
            .refs
            .iter()
            .filter(|(n, s)| before.get(*n) != Some(*s))
            .filter_map(|(n, s)| Some((n.strip_prefix("refs/heads/")?.to_string(), s.clone())))
            .collect();
        Ok((out, pushed))
    }

    fn with_runs<T>(
        &self,
        f: impl FnOnce(&mut Repo, &Ctx) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let (out, pushed) = self.with(f)?;
        for (branch, sha) in pushed {
            after_push(&self.shared, &self.name, &branch, &sha);
        }
        Ok(out)
    }

    /// Makes `main` (the production branch) hold the blueprints of `<dir>/prod` and
    /// `staging` those of `<dir>/staging`, under `fixtures/app/` (`_`-folders such as
    /// `_site/` are site data, not blueprints, and are left out). Seeding writes
    /// history directly and starts no workflow run.
    pub fn seed_from_sites_dir(&self, dir: &Path) -> anyhow::Result<()> {
        let prod = read_site_files(&dir.join("prod"))?;
        let staging = read_site_files(&dir.join("staging"))?;
        let production = self.shared.config.production_branch.clone();
        self.with(|repo, _| {
            let main = repo.commit_files(
                None,
                &prod,
                true,
                "Production blueprints\n",
                human("lockstep-seed", SEED_TIME),
            );
            let stage = repo.commit_files(
                Some(&main),
                &staging,
                true,
                "Staging blueprints\n",
                human("lockstep-seed", SEED_TIME + 60),
            );
            repo.refs.insert(format!("refs/heads/{production}"), main);
            repo.refs.insert("refs/heads/staging".into(), stage);
            Ok(())
        })?;
        Ok(())
    }

    /// A human pushes a commit of `files` (None deletes) on `branch`, creating the
    /// branch from the default branch if needed. Protected branches refuse, as
    /// GitHub refuses a push that skips the pull request. Returns the commit id.
    pub fn push_commit(
        &self,
        branch: &str,
        files: BTreeMap<String, Option<Vec<u8>>>,
        message: &str,
    ) -> anyhow::Result<String> {
        let now = self.shared.now();
        self.with_runs(|repo, _| {
            if repo.protection.contains_key(branch) {
                bail!("{branch} is protected: changes must be made through a pull request");
            }
            let parent = repo
                .branch_sha(branch)
                .or_else(|| repo.branch_sha(&repo.default_branch.clone()));
            let sha = repo.commit_files(
                parent.as_deref(),
                &files,
                false,
                message,
                human("alice", now),
            );
            repo.push_branch(branch, &sha, "alice");
            Ok(sha)
        })
    }

    /// Writes the branch's whole tree (no parent needed), bypassing protection: for
    /// setting up history in tests, never reachable over HTTP.
    pub fn set_branch_files(
        &self,
        branch: &str,
        files: BTreeMap<String, Vec<u8>>,
        message: &str,
    ) -> anyhow::Result<String> {
        let now = self.shared.now();
        self.with(|repo, _| {
            let parent = repo.branch_sha(branch);
            let files = files.into_iter().map(|(p, b)| (p, Some(b))).collect();
            let sha = repo.commit_files(
                parent.as_deref(),
                &files,
                true,
                message,
                human("lockstep-seed", now),
            );
            repo.refs
                .insert(format!("refs/heads/{branch}"), sha.clone());
            Ok(sha)
        })
        .map(|(sha, _)| sha)
    }

    pub fn approve(&self, pr: u64, reviewer: &str) -> anyhow::Result<()> {
        self.review(pr, reviewer, "APPROVED", "", Vec::new())
    }

    /// `reviewer` requests changes; the review's body is `comments`, one paragraph
    /// each (GitHub requires a body for a change request).
    pub fn request_changes(
        &self,
        pr: u64,
        reviewer: &str,
        comments: &[&str],
    ) -> anyhow::Result<()> {
        let body = if comments.is_empty() {
            "Please change this.".to_string()
        } else {
            comments.join("\n\n")
        };
        self.review(pr, reviewer, "CHANGES_REQUESTED", &body, Vec::new())
    }

    /// `reviewer` requests changes with a body and comments on lines of the diff,
    /// each `(path, line, text)`; the paths must be files the pull request changes.
    pub fn request_changes_on_lines(
        &self,
        pr: u64,
        reviewer: &str,
        body: &str,
        lines: &[(&str, u32, &str)],
    ) -> anyhow::Result<()> {
        let lines = lines
            .iter()
            .map(|(path, line, text)| (path.to_string(), *line, text.to_string()))
            .collect();
        self.review(pr, reviewer, "CHANGES_REQUESTED", body, lines)
    }

    pub fn comment(&self, pr: u64, reviewer: &str, body: &str) -> anyhow::Result<()> {
        self.review(pr, reviewer, "COMMENTED", body, Vec::new())
    }

    /// `user` writes in the pull request's conversation (an issue comment).
    pub fn comment_on_conversation(&self, pr: u64, user: &str, body: &str) -> anyhow::Result<()> {
        self.with(|repo, ctx| {
            conversation::add_issue_comment(ctx, repo, pr, user, body)
                .map_err(|e| anyhow::anyhow!("{}", e.message))
        })?;
        Ok(())
    }

    /// Dismisses `reviewer`'s latest review, as a maintainer would.
    pub fn dismiss(&self, pr: u64, reviewer: &str) -> anyhow::Result<()> {
        self.with(|repo, _| {
            repo.dismiss_review(pr, reviewer)
                .map_err(|_| anyhow::anyhow!("{reviewer} has no review to dismiss on #{pr}"))
        })?;
        Ok(())
    }

    fn review(
        &self,
        pr: u64,
        reviewer: &str,
        state: &str,
        body: &str,
        comments: Vec<api::NewLineComment>,
    ) -> anyhow::Result<()> {
        self.with(|repo, ctx| {
            api::add_review(ctx, repo, pr, reviewer, state, body, comments)
                .map_err(|e| anyhow::anyhow!("{}: {}", e.message, e.errors.unwrap_or_default()))?;
            Ok(())
        })?;
        Ok(())
    }

    /// Sets or removes branch protection.
    pub fn set_protection(
        &self,
        branch: &str,
        protection: Option<Protection>,
    ) -> anyhow::Result<()> {
        self.with(|repo, _| {
            match protection {
                Some(p) => repo.protection.insert(branch.to_string(), p),
                None => repo.protection.remove(branch),
            };
            Ok(())
        })?;
        Ok(())
    }

    pub fn branch_sha(&self, branch: &str) -> Option<String> {
        self.shared.repos().get(&self.name)?.branch_sha(branch)
    }

    /// Every file at a commit-ish (branch, tag or sha), by path.
    pub fn files_at(&self, spec: &str) -> BTreeMap<String, Vec<u8>> {
        let repos = self.shared.repos();
        let Some(repo) = repos.get(&self.name) else {
            return BTreeMap::new();
        };
        let Some(commit) = repo.resolve_commit(spec) else {
            return BTreeMap::new();
        };
        repo.files_at(&commit)
            .into_iter()
            .filter_map(|(p, e)| Some((p, repo.objects.blob(&e.sha)?.to_vec())))
            .collect()
    }

    /// `(state, merged, labels, requested reviewers)` of a pull request.
    pub fn pull_summary(&self, pr: u64) -> Option<PullSummary> {
        let repos = self.shared.repos();
        let p = repos.get(&self.name)?.pull(pr).ok()?;
        Some(PullSummary::of(p))
    }

    /// Every pull request, by number.
    pub fn pulls(&self) -> Vec<PullSummary> {
        let repos = self.shared.repos();
        repos
            .get(&self.name)
            .map(|r| r.pulls.iter().map(PullSummary::of).collect())
            .unwrap_or_default()
    }

    /// The description of a pull request as it stands.
    pub fn pull_body(&self, pr: u64) -> Option<String> {
        let repos = self.shared.repos();
        repos.get(&self.name)?.pull(pr).ok()?.body.clone()
    }

    /// The files a pull request changes, with `added`/`removed`/`modified`, by path.
    pub fn pull_files(&self, pr: u64) -> Vec<(String, String)> {
        let repos = self.shared.repos();
        let Some(repo) = repos.get(&self.name) else {
            return Vec::new();
        };
        let Ok(pull) = repo.pull(pr) else {
            return Vec::new();
        };
        conversation::pull_changes(repo, pull)
            .into_iter()
            .map(|c| (c.path, c.status.to_string()))
            .collect()
    }

    /// The comments of a pull request's conversation, oldest first.
    pub fn issue_comments(&self, pr: u64) -> Vec<IssueComment> {
        let repos = self.shared.repos();
        repos
            .get(&self.name)
            .and_then(|r| r.pull(pr).ok())
            .map(|p| p.comments.clone())
            .unwrap_or_default()
    }

    /// The reviews of a pull request (with their bodies and line comments), oldest first.
    pub fn reviews(&self, pr: u64) -> Vec<Review> {
        let repos = self.shared.repos();
        repos
            .get(&self.name)
            .and_then(|r| r.pull(pr).ok())
            .map(|p| p.reviews.clone())
            .unwrap_or_default()
    }

    /// Every tag, by name: where its ref points, the commit behind it, and for an
    /// annotated tag its message.
    pub fn tags(&self) -> Vec<SimTag> {
        let repos = self.shared.repos();
        let Some(repo) = repos.get(&self.name) else {
            return Vec::new();
        };
        repo.refs
            .iter()
            .filter_map(|(name, sha)| {
                let tag = name.strip_prefix("refs/tags/")?;
                let message = match repo.objects.get(sha) {
                    Some(objects::Object::Tag(t)) => Some(t.message.clone()),
                    _ => None,
                };
                Some(SimTag {
                    name: tag.to_string(),
                    target: sha.clone(),
                    commit: repo.objects.peel_to_commit(sha).unwrap_or_default(),
                    message,
                })
            })
            .collect()
    }

    /// Every release, in creation order, and whether `GET releases/latest` names it.
    pub fn releases(&self) -> Vec<SimRelease> {
        let repos = self.shared.repos();
        let Some(repo) = repos.get(&self.name) else {
            return Vec::new();
        };
        let latest = repo.latest_release().map(|r| r.id);
        repo.releases
            .iter()
            .map(|r| SimRelease {
                id: r.id,
                tag_name: r.tag_name.clone(),
                name: r.name.clone(),
                body: r.body.clone(),
                draft: r.draft,
                prerelease: r.prerelease,
                latest: Some(r.id) == latest,
            })
            .collect()
    }

    /// The tag or branch names that point somewhere (`refs/...`).
    pub fn refs(&self) -> BTreeMap<String, String> {
        self.shared
            .repos()
            .get(&self.name)
            .map(|r| r.refs.clone())
            .unwrap_or_default()
    }

    /// An object's raw type and body, for comparing with `git cat-file`.
    pub fn raw_object(&self, id: &str) -> Option<(String, Vec<u8>)> {
        let repos = self.shared.repos();
        let o = repos.get(&self.name)?.objects.get(id)?;
        Some((o.type_name().to_string(), o.body()))
    }
}

/// A tag as a test reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTag {
    pub name: String,
    /// What `refs/tags/<name>` points at: a tag object (annotated) or a commit.
    pub target: String,
    /// The commit behind it.
    pub commit: String,
    /// An annotated tag's message.
    pub message: Option<String>,
}

/// A release as a test reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRelease {
    pub id: u64,
    pub tag_name: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    /// Whether `GET releases/latest` answers with it.
    pub latest: bool,
}

/// What a test reads back about a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSummary {
    pub number: u64,
    pub body: Option<String>,
    pub state: String,
    pub merged: bool,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub head_ref: String,
    pub base_ref: String,
    pub title: String,
    pub merge_commit_sha: Option<String>,
}

impl PullSummary {
    fn of(p: &repo::Pull) -> PullSummary {
        PullSummary {
            number: p.number,
            body: p.body.clone(),
            state: p.state.clone(),
            merged: p.merged,
            labels: p.labels.clone(),
            requested_reviewers: p.requested_reviewers.clone(),
            head_ref: p.head_ref.clone(),
            base_ref: p.base_ref.clone(),
            title: p.title.clone(),
            merge_commit_sha: p.merge_commit_sha.clone(),
        }
    }
}

/// `fixtures/app/<folder>/<file>` -> bytes for every file of a site folder, skipping
/// `_`-prefixed folders (site data) and hidden files.
fn read_site_files(dir: &Path) -> anyhow::Result<BTreeMap<String, Option<Vec<u8>>>> {
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("while reading site folder {}", dir.display()))?;
    for folder in entries {
        let folder = folder?;
        let fname = folder.file_name().to_string_lossy().to_string();
        if fname.starts_with('_') || fname.starts_with('.') || !folder.file_type()?.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(folder.path())? {
            let file = file?;
            let name = file.file_name().to_string_lossy().to_string();
            if !file.file_type()?.is_file() || name.starts_with('.') {
                continue;
            }
            let bytes = std::fs::read(file.path())
                .with_context(|| format!("while reading {}", file.path().display()))?;
            out.insert(format!("fixtures/app/{fname}/{name}"), Some(bytes));
        }
    }
    Ok(out)
}

// ---- HTTP -----------------------------------------------------------------------

fn error_response(e: &ApiError) -> Response {
    let mut body =
        json!({"message": e.message, "documentation_url": e.docs, "status": e.status.to_string()});
    if let Some(errors) = &e.errors {
        body["errors"] = errors.clone();
    }
    json_response(e.status, &body)
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert("location", value);
    }
    response
}

/// A job log behind the signed address `GET …/actions/jobs/{id}/logs` pointed to
/// (`/_actions/logs/{owner}/{repo}/{job}`): no GitHub token, a valid signature, at
/// most a minute old; plain text.
fn signed_job_log(shared: &Shared, rest: &str, query: &BTreeMap<String, String>) -> Response {
    let refused = |why: &str| (StatusCode::FORBIDDEN, why.to_string()).into_response();
    let Some((full, job)) = rest.rsplit_once('/') else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(job_id) = job.parse::<u64>() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let expires = query.get("urlExpires").map(String::as_str).unwrap_or("");
    let signature = query.get("urlSignature").map(String::as_str).unwrap_or("");
    if api::log_signature(&shared.config.token, full, job_id, expires) != signature {
        return refused("Server failed to authenticate the request.");
    }
    let expired = chrono::DateTime::parse_from_rfc3339(expires)
        .map_or(true, |at| at.timestamp() < shared.now());
    if expired {
        return refused("The signed URL has expired.");
    }
    let repos = shared.repos();
    let job = repos
        .get(full)
        .into_iter()
        .flat_map(|r| r.runs.iter().flat_map(|run| &run.jobs))
        .find(|j| j.id == job_id);
    match job {
        Some(job) => {
            let mut response = runs::job_log(job).into_response();
            response.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn with_rate_headers(mut response: Response, calls: usize) -> Response {
    let reset = (chrono::Utc::now().timestamp() + 3600).to_string();
    let remaining = 5000usize.saturating_sub(calls).to_string();
    let h = response.headers_mut();
    for (k, v) in [
        ("x-ratelimit-limit", "5000".to_string()),
        ("x-ratelimit-remaining", remaining),
        ("x-ratelimit-used", calls.to_string()),
        ("x-ratelimit-reset", reset),
        ("x-ratelimit-resource", "core".to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    response
}

fn bearer(headers: &HeaderMap) -> &str {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("token "))
        .unwrap_or("")
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let token = bearer(headers);
    if token == shared.config.token {
        return true;
    }
    let now = shared.now();
    lock(&shared.installation_tokens)
        .get(token)
        .is_some_and(|expires| *expires > now)
}

/// `POST /app/installations/{id}/access_tokens`: checks the App JWT (RS256
/// signature, `iss`, `exp`) and issues an installation token.
fn installation_token(shared: &Shared, installation: &str, jwt: &str) -> Response {
    let docs =
        "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app";
    let Some(app) = &shared.config.app else {
        return error_response(&ApiError::not_found());
    };
    let bad = |m: &str| error_response(&ApiError::new(401, m, docs));
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return bad("A JSON web token could not be decoded");
    };
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (Ok(sig), Ok(claims)) = (b64.decode(signature), b64.decode(claims)) else {
        return bad("A JSON web token could not be decoded");
    };
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &app.public_key_der,
    );
    if key
        .verify(format!("{header}.{}", parts[1]).as_bytes(), &sig)
        .is_err()
    {
        return bad("A JSON web token could not be decoded");
    }
    let claims: Value = serde_json::from_slice(&claims).unwrap_or(Value::Null);
    let iss = match &claims["iss"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let now = shared.now();
    if iss != app.app_id.to_string() {
        return bad("Integration not found");
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= now) {
        return bad("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires");
    }
    if installation != app.installation_id.to_string() {
        return error_response(&ApiError::not_found());
    }
    let mut tokens = lock(&shared.installation_tokens);
    let token = format!("ghs_siminstallation{:04}", tokens.len() + 1);
    let expires = now + app.token_ttl.as_secs() as i64;
    tokens.insert(token.clone(), expires);
    json_response(
        201,
        &json!({"token": token, "expires_at": api::iso(expires),
                "permissions": {"contents": "write", "pull_requests": "write", "issues": "write", "actions": "read", "checks": "read"},
                "repository_selection": "selected"}),
    )
}

fn parse_query(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = percent_encoding::percent_decode_str(uri.path())
        .decode_utf8_lossy()
        .to_string();
    if let Some(rest) = path.strip_prefix("/_actions/logs/") {
        return signed_job_log(&shared, rest, &parse_query(&uri));
    }
    if let Some(rest) = path.strip_prefix("/_sim/") {
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        return control(&shared, method.as_str(), rest, &body);
    }
    let calls = {
        let mut calls = lock(&shared.calls);
        calls.push(Call {
            method: method.to_string(),
            path: path.clone(),
        });
        calls.len()
    };
    let fault = shared.take_fault(method.as_str(), &path);
    let lost_answer = fault.as_ref().filter(|f| f.after_serving).cloned();
    if let Some(fault) = fault.filter(|f| !f.after_serving) {
        let mut response = error_response(&ApiError::new(
            fault.status,
            fault
                .message
                .clone()
                .unwrap_or_else(|| fault_message(fault.status).into()),
            "https://docs.github.com/rest",
        ));
        if let Some(secs) = fault.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        return with_rate_headers(response, calls);
    }
    if method == Method::POST {
        let app_route = path
            .strip_prefix("/app/installations/")
            .and_then(|r| r.strip_suffix("/access_tokens"));
        if let Some(installation) = app_route {
            let response = installation_token(&shared, installation, bearer(&headers));
            let response = record(&shared, &method, &uri, &path, Value::Null, response).await;
            return with_rate_headers(response, calls);
        }
    }
    if !authorized(&shared, &headers) {
        return error_response(&ApiError::new(
            401,
            "Bad credentials",
            "https://docs.github.com/rest",
        ));
    }
    let body: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => {
                return error_response(&ApiError::new(
                    400,
                    "Problems parsing JSON",
                    "https://docs.github.com/rest",
                ))
            }
        }
    };
    let response = route(&shared, method.as_str(), &path, &parse_query(&uri), &body);
    let response = record(&shared, &method, &uri, &path, body, response).await;
    if let Some(fault) = lost_answer {
        let lost = error_response(&ApiError::new(
            fault.status,
            fault
                .message
                .clone()
                .unwrap_or_else(|| fault_message(fault.status).into()),
            "https://docs.github.com/rest",
        ));
        return with_rate_headers(lost, calls);
    }
    with_rate_headers(response, calls)
}

/// Keeps the request and the answer (served ones only, not faults) so tests can
/// check both against GitHub's OpenAPI description.
async fn record(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    path: &str,
    request: Value,
    response: Response,
) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    lock(&shared.exchanges).push(Exchange {
        method: method.to_string(),
        path: path.to_string(),
        query: uri.query().unwrap_or("").to_string(),
        request,
        status: parts.status.as_u16(),
        response: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    });
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn fault_message(status: u16) -> &'static str {
    match status {
        429 | 403 => "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        502 => "Server Error",
        503 => "Service Unavailable",
        _ => "Server Error",
    }
}

fn route(
    shared: &Arc<Shared>,
    method: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    body: &Value,
) -> Response {
    if path == "/graphql" && method == "POST" {
        return graphql::handle(shared, body);
    }
    if path == "/user" && method == "GET" {
        return json_response(
            200,
            &repo::user_json(&shared.config.bot_login, &shared.base_url),
        );
    }
    let Some(rest) = path.strip_prefix("/repos/") else {
        return error_response(&ApiError::not_found());
    };
    let mut parts = rest.splitn(3, '/');
    let (Some(owner), Some(name)) = (parts.next(), parts.next()) else {
        return error_response(&ApiError::not_found());
    };
    let full = format!("{owner}/{name}");
    let tail = parts.next().unwrap_or("");
    let login = shared.config.bot_login.clone();
    let ctx = shared.ctx(&login);
    let reply: Result<Reply, ApiError> = {
        let mut repos = shared.repos();
        match repos.get_mut(&full) {
            Some(repo) => api::dispatch(&ctx, repo, method, tail, query, body),
            None => Err(ApiError::not_found()),
        }
    };
    match reply {
        Ok(reply) => {
            for (branch, sha) in &reply.pushed {
                after_push(shared, &full, branch, sha);
            }
            if let Some((run_id, args)) = reply.dispatched {
                runs::start_dispatched(shared, &full, run_id, args);
            }
            if reply.runs_changed {
                shared.runs_changed.send_modify(|n| *n += 1);
            }
            match reply.location {
                Some(location) => redirect(&location),
                None => json_response(reply.status, &reply.body),
            }
        }
        Err(e) => error_response(&e),
    }
}

/// Control routes for the demo and tests (never GitHub routes, no token, not
/// logged): `POST /_sim/repos/{o}/{r}/pulls/{n}/approve {"reviewer"}`,
/// `…/request-changes {"reviewer","comments":[..]}` (or `{"reviewer","body",
/// "line_comments":[{"path","line","body"}]}`), `…/comment {"reviewer","body"}`,
/// `…/dismiss {"reviewer"}`,
/// `POST /_sim/repos/{o}/{r}/push {"branch","message","files":{path: text|null}}`,
/// `GET /_sim/runs`.
fn control(shared: &Arc<Shared>, method: &str, rest: &str, body: &Value) -> Response {
    let fail = |status: u16, message: String| {
        json_response(status, &json!({"ok": false, "error": message}))
    };
    if method == "GET" && rest == "runs" {
        let runs: Vec<Value> = shared
            .repos()
            .values()
            .flat_map(|r| r.runs.clone())
            .map(|r| json!({"id": r.id, "head_sha": r.head_sha, "status": r.status, "conclusion": r.conclusion,
                "steps": r.jobs.iter().flat_map(|j| j.steps.iter().map(|s| json!({"name": s.name, "status": s.status, "conclusion": s.conclusion, "log": s.log}))).collect::<Vec<_>>()}))
            .collect();
        return json_response(200, &json!({"ok": true, "runs": runs}));
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let (full, action) = match segs.as_slice() {
        ["repos", owner, name, tail @ ..] => (format!("{owner}/{name}"), tail.to_vec()),
        _ => return fail(404, format!("no control route {rest}")),
    };
    if method != "POST" {
        return fail(405, "control routes take POST".into());
    }
    let repo = SimRepo {
        shared: shared.clone(),
        name: full,
    };
    let text = |key: &str| body[key].as_str().unwrap_or("").to_string();
    let result = match action.as_slice() {
        ["pulls", n, verb] => {
            let Ok(n) = n.parse::<u64>() else {
                return fail(404, format!("{n} is not a pull request number"));
            };
            let reviewer = text("reviewer");
            if reviewer.is_empty() {
                return fail(400, "give {\"reviewer\": \"<login>\"}".into());
            }
            match *verb {
                "approve" => repo.approve(n, &reviewer).map(|_| json!({})),
                "request-changes" => {
                    let comments: Vec<String> = body["comments"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|c| c.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default();
                    let lines: Vec<(String, u32, String)> = body["line_comments"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|c| {
                                    Some((
                                        c["path"].as_str()?.to_string(),
                                        u32::try_from(c["line"].as_u64()?).ok()?,
                                        c["body"].as_str()?.to_string(),
                                    ))
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    if lines.is_empty() {
                        let refs: Vec<&str> = comments.iter().map(String::as_str).collect();
                        repo.request_changes(n, &reviewer, &refs).map(|_| json!({}))
                    } else {
                        let on: Vec<(&str, u32, &str)> = lines
                            .iter()
                            .map(|(p, l, b)| (p.as_str(), *l, b.as_str()))
                            .collect();
                        repo.request_changes_on_lines(n, &reviewer, &text("body"), &on)
                            .map(|_| json!({}))
                    }
                }
                "comment" => repo.comment(n, &reviewer, &text("body")).map(|_| json!({})),
                "dismiss" => repo.dismiss(n, &reviewer).map(|_| json!({})),
                other => return fail(404, format!("no review action {other}")),
            }
        }
        ["push"] => {
            let files: BTreeMap<String, Option<Vec<u8>>> = body["files"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(p, v)| (p.clone(), v.as_str().map(|t| t.as_bytes().to_vec())))
                        .collect()
                })
                .unwrap_or_default();
            repo.push_commit(&text("branch"), files, &text("message"))
                .map(|sha| json!({"sha": sha}))
        }
        _ => return fail(404, format!("no control route {rest}")),
    };
    match result {
        Ok(mut value) => {
            value["ok"] = json!(true);
            json_response(200, &value)
        }
        Err(e) => fail(422, e.to_string()),
    }
}
