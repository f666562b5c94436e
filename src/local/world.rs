//! Pointing the bot at the local world ([`LocalWorld`] from `lockstep-sim`): the
//! configuration `lockstep run` would read from a file and the environment, built
//! directly for the demo and the integration tests.

use crate::checks::TesterConfig;
use crate::config::{Config, FileConfig, Secrets, SiteCredentials};
use crate::github::{GithubAuth, GithubConfig};
use crate::secret::Secret;
use lockstep_sim::frappe::FrappeSim;
pub use lockstep_sim::world::{example_sites, example_test_reports, LocalWorld, REPO};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The configuration that points the bot at `world`'s servers. `file` supplies what
/// the caller wants beyond them (access lists, freeze windows…); sites, GitHub, the
/// runner (the bench stand-in, when the world has a binary for it) and the tester are
/// filled in where `file` leaves them empty.
pub fn bot_config(
    world: &LocalWorld,
    mut file: FileConfig,
    store_path: PathBuf,
    base_dir: &Path,
) -> anyhow::Result<Config> {
    file.slack.api_url = world.slack.api_url().parse()?;
    file.store.path = store_path;
    let mut secrets = Secrets {
        slack_app_token: Secret::new(world.slack.app_token()),
        slack_bot_token: Secret::new(world.slack.bot_token()),
        sites: BTreeMap::new(),
        github: Some(GithubAuth::Token(Secret::new(world.github.token()))),
    };
    for (name, role) in [("staging", "staging"), ("prod", "production")] {
        let table = format!(
            "[sites.{name}]\nurl = \"{}\"\nrole = \"{role}\"\nfrappe_site_name = \"{name}\"\n",
            world.frappe.url()
        );
        file.sites
            .extend(FileConfig::parse(&table, "local world")?.sites);
        secrets.sites.insert(
            name.to_string(),
            SiteCredentials {
                api_key: Secret::new(FrappeSim::api_key(name)),
                api_secret: Secret::new(FrappeSim::api_secret(name)),
            },
        );
    }
    if let (Some(binary), None) = (&world.bench_binary, &file.runner) {
        let runner = format!(
            "[runner]\ntemplate = \"'{}' sim bench --sim-url {} --test-reports '{}' --site {{site}} {{args}}\"\n",
            binary.display(),
            world.frappe.url(),
            example_test_reports().display()
        );
        file.runner = FileConfig::parse(&runner, "local world")?.runner;
    }
    if file.checks.tester.is_none() {
        file.checks.tester = Some(example_tester(base_dir));
    }
    let (owner, repo) = REPO.split_once('/').expect("REPO is owner/name");
    let mut github = GithubConfig::new(&world.github.url(), owner, repo);
    // A server on this machine has no secondary rate limit to respect.
    github.write_interval_ms = 0;
    file.github = Some(github);
    Ok(Config {
        file,
        secrets,
        base_dir: base_dir.to_path_buf(),
    })
}

/// The example world's tester: `bench run-tests --coverage` through the runner; the
/// bench stand-in leaves the reports of the suite it stands in for in `dir`, where
/// the tester box reads them.
fn example_tester(dir: &Path) -> TesterConfig {
    let file = |name: &str| dir.join(name).display().to_string();
    TesterConfig {
        command: format!(
            "run-tests --app grants --coverage --junit-xml-output {} --coverage-output {}",
            file("junit.xml"),
            file("coverage.xml")
        ),
        junit_path: file("junit.xml"),
        cobertura_path: Some(file("coverage.xml")),
        diff_command: Some(format!(
            "cat '{}'",
            example_test_reports().join("changes.diff").display()
        )),
    }
}
