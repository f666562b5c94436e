//! Pointing the bot at the local world ([`LocalWorld`] from `lockstep-sim`): the
//! configuration `lockstep run` would read from a file and the environment. One
//! description ([`world_toml`] and [`world_env`]) serves both ways of running the
//! bot there: built directly into a [`Config`] for the demo and the in-process
//! tests ([`bot_config`]), or written as a file for a `lockstep run` process
//! ([`config_file`], for the tests that `kill -9` it).

use crate::config::{Config, FileConfig, Secrets};
use lockstep_sim::frappe::FrappeSim;
pub use lockstep_sim::world::{example_sites, example_test_reports, LocalWorld, REPO};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The sections that point at the world's servers: the two sites, the config
/// repository, the runner (the bench stand-in, when the world has a binary for it)
/// and the example tester, whose reports land in `base_dir`.
pub fn world_toml(world: &LocalWorld, base_dir: &Path) -> String {
    let mut text = String::new();
    for (name, role) in [("staging", "staging"), ("prod", "production")] {
        text.push_str(&format!(
            "[sites.{name}]\nurl = \"{}\"\nrole = \"{role}\"\nfrappe_site_name = \"{name}\"\n",
            world.frappe.url()
        ));
    }
    let (owner, repo) = REPO.split_once('/').expect("REPO is owner/name");
    // A server on this machine has no secondary rate limit to respect.
    text.push_str(&format!(
        "[github]\napi_url = \"{}\"\nowner = \"{owner}\"\nrepo = \"{repo}\"\nwrite_interval_ms = 0\n",
        world.github.url()
    ));
    // The bench host's app is a checkout of the config repository: its migrate
    // applies `main` as it is on GitHub.
    if let Some(binary) = &world.bench_binary {
        text.push_str(&format!(
            "[runner]\ntemplate = \"'{}' sim bench --sim-url {} --test-reports '{}' --git-api {} --repo {REPO} --git-ref main --site {{site}} {{args}}\"\n",
            binary.display(),
            world.frappe.url(),
            example_test_reports().display(),
            world.github.url()
        ));
    }
    let file = |name: &str| base_dir.join(name).display().to_string();
    text.push_str(&format!(
        "[checks.tester]\ncommand = \"run-tests --app grants --coverage --junit-xml-output {} --coverage-output {}\"\njunit_path = \"{}\"\ncobertura_path = \"{}\"\ndiff_command = \"cat '{}'\"\n",
        file("junit.xml"),
        file("coverage.xml"),
        file("junit.xml"),
        file("coverage.xml"),
        example_test_reports().join("changes.diff").display()
    ));
    text
}

/// The secrets for the world's servers, as the environment would hold them.
pub fn world_env(world: &LocalWorld) -> BTreeMap<String, String> {
    let mut env = BTreeMap::from([
        (
            "SLACK_APP_TOKEN".to_string(),
            world.slack.app_token().to_string(),
        ),
        (
            "SLACK_BOT_TOKEN".to_string(),
            world.slack.bot_token().to_string(),
        ),
        ("GITHUB_TOKEN".to_string(), world.github.token().to_string()),
    ]);
    for site in ["staging", "prod"] {
        let prefix = site.to_ascii_uppercase();
        env.insert(format!("FRAPPE_{prefix}_API_KEY"), FrappeSim::api_key(site));
        env.insert(
            format!("FRAPPE_{prefix}_API_SECRET"),
            FrappeSim::api_secret(site),
        );
    }
    env
}

/// The configuration that points the bot at `world`'s servers. `file` supplies what
/// the caller wants beyond them (access lists, freeze windows…); sites, GitHub, the
/// runner and the tester are filled in where `file` leaves them empty.
pub fn bot_config(
    world: &LocalWorld,
    mut file: FileConfig,
    store_path: PathBuf,
    base_dir: &Path,
) -> anyhow::Result<Config> {
    let world_file = FileConfig::parse(&world_toml(world, base_dir), "local world")?;
    file.slack.api_url = world.slack.api_url().parse()?;
    file.store.path = store_path;
    file.sites.extend(world_file.sites);
    if file.runner.is_none() {
        file.runner = world_file.runner;
    }
    if file.checks.tester.is_none() {
        file.checks.tester = world_file.checks.tester;
    }
    file.github = world_file.github;
    let secrets = Secrets::from_env(&file, &world_env(world))?;
    Ok(Config {
        file,
        secrets,
        base_dir: base_dir.to_path_buf(),
    })
}

/// A whole config file for `lockstep run` in `world`: `extra` (top-level tables the
/// caller wants, e.g. `[access]`), then Slack and the store, then the world's
/// sections. Its secrets are [`world_env`].
pub fn config_file(world: &LocalWorld, extra: &str, store_path: &Path, base_dir: &Path) -> String {
    format!(
        "{extra}\n[slack]\napi_url = \"{}\"\nsocket_connections = 1\n[store]\npath = \"{}\"\n{}",
        world.slack.api_url(),
        store_path.display(),
        world_toml(world, base_dir)
    )
}
