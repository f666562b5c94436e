//! `lockstep check`: validate the configuration, then reach every endpoint it names
//! (Slack's `auth.test` and `apps.connections.open`, each Frappe site's login, the
//! config repository and both its branches, and a workflow runner's workflow), one
//! line each, naming what fails and what to do. What is not configured is noted
//! with the sentence a command would answer.

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
    Clock::from_env()?;
    let api = slack::api::SlackApi::new(&config);
    let api_url = &config.file.slack.api_url;
    let mut failed = false;
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
    match Adapters::resolve(&config, api.clone()) {
        Ok(adapters) => {
            for gap in adapters.gaps() {
                println!("note  config   {gap}");
            }
            failed |= !check_sites(&adapters).await;
            failed |= !check_github(&adapters).await;
            failed |= !check_runner(&adapters).await;
        }
        Err(err) => {
            failed = true;
            println!("FAIL  setup    {err:#}");
        }
    }
    Ok(!failed)
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
