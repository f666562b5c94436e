//! The outside world as the commands see it, resolved once at start-up from the
//! configuration: the staging site (read and write) with the branch it tracks, the
//! production site (read only, by type) with its branch, the config repository, the
//! bench runner and Slack. Resolving reads only the configuration, never the
//! network, so the bot starts and answers while a site or GitHub is down; what is
//! not configured is kept as the one sentence that says what to add, and a command
//! that needs it answers with that sentence. `lockstep check` prints the same
//! sentences at once, so nothing is first found missing at use.

use crate::config::{Config, RunnerSection, SiteRole, SiteSection};
use crate::error::UserError;
use crate::frappe::{
    ApiCredentials, ProductionSite, SiteConfig, SiteName, SiteReader, StagingSite,
};
use crate::github::{GithubClient, RetryPolicy};
use crate::runner::{Runner, WorkflowDispatch};
use crate::slack::api::SlackApi;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

/// Something a command needs, or what to add to the configuration to have it.
pub type Resolved<T> = Result<T, UserError>;

/// Every adapter, built once. Each command takes the parts it uses.
pub struct Adapters {
    pub slack: SlackApi,
    pub staging: Resolved<Side<StagingSite>>,
    pub production: Resolved<Side<ProductionSite>>,
    pub repo: Resolved<ConfigRepo>,
    pub runner: Resolved<Runner>,
}

/// The config repository and the names of its two branches.
#[derive(Clone)]
pub struct ConfigRepo {
    pub github: Arc<GithubClient>,
    /// Production truth (`main`).
    pub production_branch: String,
    /// The captured state of the staging site (`staging`).
    pub staging_branch: String,
}

/// A site with the branch that holds its blueprints.
pub struct Side<S> {
    pub site: S,
    /// The configured name (`staging`, `prod`): what people read in messages.
    pub name: SiteName,
    /// The name bench knows the site by (`frappe_site_name` when set, e.g.
    /// `prod.local`): what `bench --site` is given.
    pub bench_site: SiteName,
    pub branch: String,
    pub repo: ConfigRepo,
}

impl<S: std::ops::Deref<Target = SiteReader>> Side<S> {
    pub fn reader(&self) -> &SiteReader {
        &self.site
    }

    pub fn url(&self) -> String {
        self.site.config().base_url.to_string()
    }
}

impl Adapters {
    /// Builds every adapter the configuration describes. Fails only on what can never
    /// work (a runner template that does not parse, an HTTP client that cannot be
    /// built); a missing section is kept as the sentence that names it.
    pub fn resolve(config: &Config, slack: SlackApi) -> anyhow::Result<Self> {
        let repo = config_repo(config)?;
        let runner = match &config.file.runner {
            Some(section) => Ok(runner(section, repo.as_ref().ok())?),
            None => Err(missing_runner()),
        };
        let staging = match site_section(config, SiteRole::Staging) {
            Ok((name, section)) => {
                let site = StagingSite::new(site_config(config, name, section)?)
                    .with_context(|| format!("while setting up site `{name}`"))?;
                side(site, name, section, &repo, SiteRole::Staging)
            }
            Err(missing) => Err(missing),
        };
        let production = match site_section(config, SiteRole::Production) {
            Ok((name, section)) => {
                let site = ProductionSite::new(site_config(config, name, section)?)
                    .with_context(|| format!("while setting up site `{name}`"))?;
                side(site, name, section, &repo, SiteRole::Production)
            }
            Err(missing) => Err(missing),
        };
        Ok(Adapters {
            slack,
            staging,
            production,
            repo,
            runner,
        })
    }

    pub fn staging(&self) -> Result<&Side<StagingSite>, UserError> {
        self.staging.as_ref().map_err(Clone::clone)
    }

    pub fn production(&self) -> Result<&Side<ProductionSite>, UserError> {
        self.production.as_ref().map_err(Clone::clone)
    }

    pub fn repo(&self) -> Result<&ConfigRepo, UserError> {
        self.repo.as_ref().map_err(Clone::clone)
    }

    pub fn runner(&self) -> Result<&Runner, UserError> {
        self.runner.as_ref().map_err(Clone::clone)
    }

    /// The site `which` (staging or production) as a reader with its branch.
    pub fn tracked(&self, which: crate::command::SiteSel) -> Result<Tracked<'_>, UserError> {
        Ok(match which {
            crate::command::SiteSel::Staging => Tracked::of(self.staging()?),
            crate::command::SiteSel::Prod => Tracked::of(self.production()?),
        })
    }

    /// What is not configured, one sentence each (for `lockstep check` and start-up).
    pub fn gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        if let Err(err) = &self.staging {
            gaps.push(err.0.clone());
        }
        if let Err(err) = &self.production {
            gaps.push(err.0.clone());
        }
        if let Err(err) = &self.repo {
            gaps.push(err.0.clone());
        }
        if let Err(err) = &self.runner {
            gaps.push(err.0.clone());
        }
        gaps.sort();
        gaps.dedup();
        gaps
    }
}

/// A site as a reader, with the branch it tracks: what diff, pull and the checklist
/// compare.
#[derive(Clone, Copy)]
pub struct Tracked<'a> {
    pub site: &'a SiteReader,
    pub name: &'a SiteName,
    pub branch: &'a str,
    pub repo: &'a ConfigRepo,
}

impl<'a> Tracked<'a> {
    pub fn of<S: std::ops::Deref<Target = SiteReader>>(side: &'a Side<S>) -> Self {
        Tracked {
            site: side.reader(),
            name: &side.name,
            branch: &side.branch,
            repo: &side.repo,
        }
    }

    pub fn site_name(&self) -> &str {
        self.name.as_str()
    }

    pub fn site_url(&self) -> String {
        self.site.config().base_url.to_string()
    }
}

fn missing_site(role: SiteRole) -> UserError {
    UserError::new(format!(
        "No {role} site is configured: add a [sites.<name>] table with role = \"{role}\" (see config/lockstep.example.toml).",
        role = role.as_str()
    ))
}

fn missing_repo() -> UserError {
    UserError::new(
        "No config repository is configured: add a [github] section with owner and repo (see config/lockstep.example.toml).",
    )
}

fn missing_runner() -> UserError {
    UserError::new(
        "No bench runner is configured: add a [runner] section (a command template, or a workflow_dispatch workflow) so I can reach bench (see config/lockstep.example.toml).",
    )
}

fn site_section(config: &Config, role: SiteRole) -> Result<(&str, &SiteSection), UserError> {
    config
        .file
        .sites
        .iter()
        .find(|(_, section)| section.role == role)
        .map(|(name, section)| (name.as_str(), section))
        .ok_or_else(|| missing_site(role))
}

fn side<S>(
    site: S,
    name: &str,
    section: &SiteSection,
    repo: &Resolved<ConfigRepo>,
    role: SiteRole,
) -> Resolved<Side<S>> {
    let repo = repo.clone()?;
    let branch = match role {
        SiteRole::Staging => repo.staging_branch.clone(),
        SiteRole::Production => repo.production_branch.clone(),
    };
    // Both names were checked when the config loaded.
    let name = SiteName::new(name).map_err(UserError::new)?;
    let bench_site = match &section.frappe_site_name {
        Some(bench) => SiteName::new(bench).map_err(UserError::new)?,
        None => name.clone(),
    };
    Ok(Side {
        site,
        name,
        bench_site,
        branch,
        repo,
    })
}

fn config_repo(config: &Config) -> anyhow::Result<Resolved<ConfigRepo>> {
    let (Some(github), Some(auth)) = (&config.file.github, &config.secrets.github) else {
        return Ok(Err(missing_repo()));
    };
    let client = GithubClient::with_retry(
        github.clone(),
        auth.clone(),
        RetryPolicy {
            min_write_interval: Duration::from_millis(github.write_interval_ms),
            ..RetryPolicy::default()
        },
    )
    .context("while setting up the GitHub client")?;
    Ok(Ok(ConfigRepo {
        github: Arc::new(client),
        production_branch: github.production_branch.clone(),
        staging_branch: github.staging_branch.clone(),
    }))
}

/// The configured runner: a shell template, or a workflow dispatched in the config
/// repo (the config check guarantees [github] is there for it).
fn runner(section: &RunnerSection, repo: Option<&ConfigRepo>) -> anyhow::Result<Runner> {
    let timeout = Duration::from_secs(section.timeout_secs);
    if let Some(template) = &section.template {
        return Runner::from_template(template.clone(), timeout)
            .map_err(|err| anyhow::anyhow!("[runner] template: {err}"));
    }
    let (Some(workflow), Some(repo)) = (&section.workflow, repo) else {
        anyhow::bail!("[runner] workflow needs the [github] section and its credentials");
    };
    let git_ref = section
        .workflow_ref
        .clone()
        .unwrap_or_else(|| repo.production_branch.clone());
    Ok(Runner::from_workflow(
        WorkflowDispatch {
            github: repo.github.clone(),
            workflow: workflow.clone(),
            git_ref,
            poll_interval: Duration::from_secs(section.poll_interval_secs),
        },
        timeout,
    ))
}

fn site_config(config: &Config, name: &str, section: &SiteSection) -> anyhow::Result<SiteConfig> {
    let site = SiteName::new(name).map_err(anyhow::Error::msg)?;
    let credentials = config
        .secrets
        .sites
        .get(name)
        .with_context(|| format!("no credentials for site `{name}`"))?;
    let mut site_config = SiteConfig::new(
        site,
        section.url.clone(),
        ApiCredentials::new(
            credentials.api_key.expose(),
            credentials.api_secret.expose(),
        ),
    );
    site_config.timeout = Duration::from_secs(section.timeout_secs);
    site_config.concurrency = section.concurrency;
    site_config.site_header = section.frappe_site_name.clone();
    Ok(site_config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FileConfig, Secrets};

    fn config(text: &str) -> Config {
        let file = FileConfig::parse(text, "t.toml").unwrap();
        let env: std::collections::BTreeMap<String, String> = [
            ("SLACK_APP_TOKEN", "xapp-1"),
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("FRAPPE_PROD_API_KEY", "k"),
            ("FRAPPE_PROD_API_SECRET", "s"),
            ("GITHUB_TOKEN", "ghs_x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let secrets = Secrets::from_env(&file, &env).unwrap();
        Config {
            file,
            secrets,
            base_dir: ".".into(),
        }
    }

    fn slack(config: &Config) -> SlackApi {
        SlackApi::new(config)
    }

    #[tokio::test]
    async fn bench_is_given_the_frappe_site_name_and_gaps_are_named_once() {
        crate::tls::install_crypto_provider();
        let config = config(
            "[sites.prod]\nurl = \"http://127.0.0.1:1\"\nrole = \"production\"\nfrappe_site_name = \"prod.local\"\n[github]\nowner = \"acme\"\nrepo = \"cfg\"\n",
        );
        let adapters = Adapters::resolve(&config, slack(&config)).unwrap();
        let production = adapters.production().unwrap();
        assert_eq!(production.name.as_str(), "prod");
        assert_eq!(production.bench_site.as_str(), "prod.local");
        assert_eq!(production.branch, "main");
        let gaps = adapters.gaps();
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        assert!(
            gaps[0].starts_with("No bench runner is configured"),
            "{gaps:?}"
        );
        assert!(
            gaps[1].starts_with("No staging site is configured"),
            "{gaps:?}"
        );
        assert!(adapters.staging().is_err());
    }
}
