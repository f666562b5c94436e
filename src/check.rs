//! `lockstep check`: validate the configuration, then reach every endpoint it names
//! (Slack's `auth.test` and `apps.connections.open`, each Frappe site's login, the
//! config repository and both its branches, and a workflow runner's workflow), one
//! line each, naming what fails and what to do; where `[metrics]` would listen and
//! when `[watch]` runs next. What is not configured is noted with the sentence a
//! command would answer. With several stacks, each stack is checked in turn under a
//! line naming it and its channels.

use crate::adapters::Adapters;
use crate::clock::Clock;
use crate::config;
use crate::runner::Transport;
use crate::slack;

/// Prints one line per thing checked, failures named with what to do; true when
/// nothing failed.
pub async fn run(path: &std::path::Path) -> anyhow::Result<bool> {
    let config = match config::Config::load(path, &config::ProcessEnv) {
        Ok(config) => {
            println!("ok    config   {}", path.display());
            config
        }
        Err(err) => {
            println!("FAIL  config   {err:#}");
            return Ok(false);
        }
    };
    let clock = Clock::from_env()?;
    let mut failed = !check_store(&config.store_path()).await;
    failed |= !check_metrics(&config).await;
    let api = slack::api::SlackApi::new(&config);
    let api_url = &config.file.slack.api_url;
    match api.auth_test().await {
        Ok(who) => println!("ok    slack    auth.test at {api_url}: {who}"),
        Err(err) => {
            failed = true;
            println!(
                "FAIL  slack    auth.test at {api_url} with SLACK_BOT_TOKEN: {err} ({})",
                err.hint()
            );
        }
    }
    match api.check_socket_mode().await {
        Ok(()) => println!("ok    socket   apps.connections.open: Socket Mode is enabled"),
        Err(err) => {
            failed = true;
            println!(
                "FAIL  socket   apps.connections.open with SLACK_APP_TOKEN: {err} ({}; the app needs Socket Mode on and connections:write)",
                err.hint()
            );
        }
    }
    for stack in config.stacks() {
        failed |= !check_stack(&stack, &api, &clock).await;
    }
    Ok(!failed)
}

/// One stack: its channels (when the file has several), what is not configured, its
/// sites, repository, runner and watcher; true when nothing failed.
async fn check_stack(
    stack: &config::StackConfig,
    api: &slack::api::SlackApi,
    clock: &Clock,
) -> bool {
    if !stack.name.is_empty() {
        let channels: Vec<&str> = stack.channels.iter().map(String::as_str).collect();
        println!(
            "ok    stack    {}: commands typed in {} act on it",
            stack.name,
            channels.join(", ")
        );
    }
    check_watch(&stack.config, clock);
    match Adapters::resolve(&stack.config, api.clone()) {
        Ok(adapters) => {
            for gap in adapters.gaps() {
                println!("note  config   {gap}");
            }
            let sites = check_sites(&adapters).await;
            let github = check_github(&adapters).await;
            let runner = check_runner(&adapters).await;
            sites && github && runner
        }
        Err(err) => {
            println!("FAIL  setup    {err:#}");
            false
        }
    }
}

/// Opens the store as `run` would (a store that does not exist yet is tried in a
/// temporary folder where it would be created, then removed), naming what is wrong
/// with advice that fits: not writable, under a file, in use, or damaged. True when
/// `run` could use it.
pub async fn check_store(path: &std::path::Path) -> bool {
    let shown = path.display().to_string();
    let path = path.to_path_buf();
    let verdict = tokio::task::spawn_blocking(move || store_verdict(&path))
        .await
        .unwrap_or_else(|err| Err(format!("the check itself failed: {err}")));
    match verdict {
        Ok(line) => {
            println!("{line}");
            true
        }
        Err(problem) => {
            println!("FAIL  store    {shown}: {problem}");
            false
        }
    }
}

fn store_verdict(path: &std::path::Path) -> Result<String, String> {
    use crate::store::{Store, StoreError};
    let shown = path.display();
    if path.exists() {
        return match Store::open(path) {
            Ok(store) => {
                let size = store
                    .size()
                    .map(|size| format!("{} bytes, {} runs", size.bytes_on_disk, size.runs))
                    .unwrap_or_default();
                Ok(format!(
                    "ok    store    {shown}: opens and checks out (generation {}, {size})",
                    store.generation()
                ))
            }
            Err(StoreError::InUse { .. }) => Ok(format!(
                "note  store    {shown}: in use by a running lockstep (fine if that is this bot; a second `run` would be refused)"
            )),
            Err(err) => Err(err.to_string()),
        };
    }
    // Where `run` would create it: try a sibling of the same parent, then remove it.
    let parent = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut ancestor = parent;
    while !ancestor.exists() {
        match ancestor.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(up) => ancestor = up,
            None => break,
        }
    }
    if ancestor.is_file() {
        return Err(format!(
            "{} is a file, not a folder, so the store cannot be created under it; point [store].path at a folder path",
            ancestor.display()
        ));
    }
    let trial = tempfile::Builder::new()
        .prefix(".lockstep-check-")
        .tempdir_in(ancestor)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::PermissionDenied => format!(
                "{} cannot be written by this user ({err}); give the user lockstep runs as write access to it, or point [store].path elsewhere",
                ancestor.display()
            ),
            std::io::ErrorKind::ReadOnlyFilesystem => format!(
                "{} is on a read-only filesystem; point [store].path at a writable disk",
                ancestor.display()
            ),
            _ => format!(
                "a store cannot be created in {} ({err}); point [store].path at a folder lockstep can create and write",
                ancestor.display()
            ),
        })?;
    let store_in_trial = trial.path().join("store");
    let opened = Store::open(&store_in_trial).map(drop);
    let _ = std::fs::remove_file(crate::store::audit_log::log_path(&store_in_trial));
    drop(trial);
    match opened {
        Ok(()) => Ok(format!(
            "ok    store    {shown}: does not exist yet; lockstep can create it there"
        )),
        Err(err) => Err(err.to_string()),
    }
}

/// That `[metrics] listen` can be listened on (a port in use is noted: it may be
/// this bot's own listener); true unless it cannot be.
async fn check_metrics(config: &config::Config) -> bool {
    let Some(section) = &config.file.metrics else {
        return true;
    };
    let addr = section.listen;
    match tokio::net::TcpListener::bind(addr).await {
        Ok(_) => {
            println!(
                "ok    metrics  {addr}: free; /metrics, /healthz and /readyz will listen there"
            );
            true
        }
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
            println!("note  metrics  {addr}: in use (fine if that is this bot's listener; a second `run` would fail to start)");
            true
        }
        Err(err) => {
            println!("FAIL  metrics  {addr}: cannot listen there ({err}); choose another [metrics] listen address");
            false
        }
    }
}

/// When the drift watcher runs next, in the freeze time zone.
fn check_watch(config: &config::Config, clock: &Clock) {
    let Some(section) = &config.file.watch else {
        return;
    };
    let zone = config.file.freeze.timezone;
    let next = section
        .cron()
        .ok()
        .and_then(|cron| crate::watch::next_run(&cron, zone, clock.now()));
    match next {
        Some(at) => println!(
            "ok    watch    `{}` in {zone}: next run {}, posting in {} when the drift changed",
            section.schedule,
            at.with_timezone(&zone).format("%a %Y-%m-%d %H:%M %Z"),
            section.channel
        ),
        None => println!("note  watch    `{}` never fires again", section.schedule),
    }
}

/// Reaches every configured Frappe site and logs in; true when all answered.
async fn check_sites(adapters: &Adapters) -> bool {
    let mut all_ok = true;
    let staging = adapters.staging().ok().map(|s| ("staging", s.reader()));
    let production = adapters
        .production()
        .ok()
        .map(|s| ("production", s.reader()));
    for (role, site) in staging.into_iter().chain(production) {
        let url = &site.config().base_url;
        let label = format!("{} ({role}, {url})", site.site().as_str());
        match site.get_logged_user().await {
            Ok(user) => println!("ok    site     {label}: logged in as {user}"),
            Err(err) => {
                all_ok = false;
                println!("FAIL  site     {label}: {err}");
            }
        }
    }
    all_ok
}

/// Reaches the config repository and its two branches; true when all are there.
async fn check_github(adapters: &Adapters) -> bool {
    let Ok(repo) = adapters.repo() else {
        return true;
    };
    let github = &repo.github;
    let config = github.config();
    let label = format!("{}/{} at {}", config.owner, config.repo, config.api_url);
    if let Err(err) = github.repository().await {
        println!("FAIL  github   {label}: {err}");
        return false;
    }
    let mut heads = Vec::new();
    for branch in [&config.production_branch, &config.staging_branch] {
        match github.branch_head(branch).await {
            Ok(Some(sha)) => heads.push(format!("{branch} at {}", &sha[..sha.len().min(7)])),
            Ok(None) => {
                println!("FAIL  github   {label}: there is no branch `{branch}`; create it (the staging branch can start as a copy of {})", config.production_branch);
                return false;
            }
            Err(err) => {
                println!("FAIL  github   {label}: {err}");
                return false;
            }
        }
    }
    println!("ok    github   {label}: {}", heads.join(", "));
    true
}

/// For a workflow runner, that the workflow exists and is enabled. A command
/// template is not run: it acts on a real bench.
async fn check_runner(adapters: &Adapters) -> bool {
    let Ok(runner) = adapters.runner() else {
        return true;
    };
    let target = match runner.transport() {
        Transport::Command(template) => {
            println!(
                "ok    runner   command template (not run by check): {}",
                template.as_str()
            );
            return true;
        }
        Transport::WorkflowDispatch(target) => target,
    };
    match target.github.workflow(&target.workflow).await {
        Ok(workflow) if workflow.state == "active" => {
            println!(
                "ok    runner   workflow {} (\"{}\", {}) dispatched on {}",
                target.workflow, workflow.name, workflow.path, target.git_ref
            );
            true
        }
        Ok(workflow) => {
            println!(
                "FAIL  runner   workflow {} is {}: enable it in the repository's Actions tab",
                target.workflow, workflow.state
            );
            false
        }
        Err(err @ crate::github::GithubError::NotFound { .. }) => {
            println!("FAIL  runner   workflow {}: {err}. Add config/bench-workflow.yml to the repository as .github/workflows/{}", target.workflow, target.workflow);
            false
        }
        Err(err) => {
            println!("FAIL  runner   workflow {}: {err}", target.workflow);
            false
        }
    }
}
