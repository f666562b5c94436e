//! The local world: Slack-, Frappe- and GitHub-compatible servers on loopback, the
//! example staging and production sites (the Beneficiary walkthrough) and a config
//! repository whose `main` and `staging` hold their blueprints. `lockstep demo` and
//! the bot's integration tests run the real bot in it. How the bot is pointed at
//! these servers is the bot's business (its `local` module); this file only starts
//! them.

use crate::frappe::FrappeSim;
use crate::github::{bench_deploy_hook, bench_workflow_hook, GithubSim, GithubSimConfig};
use crate::slack::{SimConfig, SlackSim};
use std::path::{Path, PathBuf};

/// The config repository of the example world.
pub const REPO: &str = "acme/frappe-config";

/// The example production site (its CI deploys there).
pub const PRODUCTION_SITE: &str = "prod";

/// The config repository's production branch (protected; a push to it deploys).
pub const PRODUCTION_BRANCH: &str = "main";

/// The people who may review on the example GitHub (the bot's login aside).
pub const REVIEWERS: [&str; 3] = ["alice", "bob", "carol"];

/// The example sites, shipped with the source: one folder per site of canonical
/// blueprint files (`config/demo/sites/{staging,prod}`).
pub fn example_sites() -> PathBuf {
    repository_root().join("config/demo/sites")
}

/// The reports of the test suite the example bench stands in for (`junit.xml`,
/// `coverage.xml`, `changes.diff`), which `bench run-tests` "leaves behind".
pub fn example_test_reports() -> PathBuf {
    repository_root().join("config/demo/tester")
}

/// The workspace root: this crate lives in its `sim/` folder.
fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the sim crate sits inside the workspace")
        .to_path_buf()
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
        // A push to `main` starts the operator's CI deploy (backup → migrate →
        // restart of `prod` through the bench stand-in); `bench.yml` is there for a
        // workflow-dispatch runner, with the example suite's test reports.
        let mut collaborators: Vec<String> = REVIEWERS.map(String::from).to_vec();
        collaborators.push(GithubSimConfig::default().bot_login);
        let github = GithubSim::start(GithubSimConfig {
            production_branch: PRODUCTION_BRANCH.to_string(),
            collaborators,
            deploy: Some(bench_deploy_hook(frappe.url(), PRODUCTION_SITE.to_string())),
            bench: Some(bench_workflow_hook(
                frappe.url(),
                Some(example_test_reports()),
            )),
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
}
