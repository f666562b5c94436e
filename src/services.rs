//! The adapters the bot's jobs use, built once from the configuration: the staging
//! site (read and write), the production site (read only, by type) and the config
//! repository on GitHub, plus [`Tracked`], a site paired with the branch it tracks.
//! Building them checks nothing over the network; `lockstep check` and the jobs do.

use crate::blueprint::BlueprintSet;
use crate::clock::Clock;
use crate::command::SiteSel;
use crate::config::{Config, RunnerSection, SiteRole, SiteSection};
use crate::error::UserError;
use crate::frappe::{
    ApiCredentials, FetchOptions, ProductionSite, SiteConfig, SiteName, SiteReader, StagingSite,
};
use crate::github::{BranchWrite, FileChanges, GithubClient, RetryPolicy, Snapshot};
use crate::ids::Principal;
use crate::runner::{Runner, WorkflowDispatch};
use crate::slack::api::SlackApi;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

pub struct Services {
    pub staging: Option<StagingSite>,
    pub production: Option<ProductionSite>,
    pub github: Option<Arc<GithubClient>>,
    /// For what jobs must ask Slack (user-group membership).
    pub slack: SlackApi,
    /// Who may release locks and decide others' rollbacks.
    pub admins: Vec<Principal>,
    /// `bench` on the bench host, when `[runner]` is configured.
    pub runner: Option<Runner>,
    /// The whole configuration, for the checklist's thresholds and windows.
    pub config: Arc<Config>,
    pub clock: Clock,
}

impl Services {
    pub fn from_config(config: &Config, clock: Clock, slack: SlackApi) -> anyhow::Result<Self> {
        let github = match (&config.file.github, &config.secrets.github) {
            (Some(github), Some(auth)) => Some(Arc::new(
                GithubClient::with_retry(
                    github.clone(),
                    auth.clone(),
                    RetryPolicy {
                        min_write_interval: Duration::from_millis(github.write_interval_ms),
                        ..RetryPolicy::default()
                    },
                )
                .context("while setting up the GitHub client")?,
            )),
            _ => None,
        };
        let runner = match &config.file.runner {
            Some(section) => Some(runner(section, github.as_ref())?),
            None => None,
        };
        let mut services = Services {
            staging: None,
            production: None,
            github,
            slack,
            admins: config.file.access.admins.clone(),
            runner,
            config: Arc::new(config.clone()),
            clock,
        };
        for (name, section) in &config.file.sites {
            let site_config = site_config(config, name, section)?;
            let context = || format!("while setting up site `{name}`");
            match section.role {
                SiteRole::Staging => {
                    services.staging = Some(StagingSite::new(site_config).with_context(context)?)
                }
                SiteRole::Production => {
                    services.production =
                        Some(ProductionSite::new(site_config).with_context(context)?)
                }
            }
        }
        Ok(services)
    }

    /// Every configured site as a reader, with its role.
    pub fn site_readers(&self) -> Vec<(SiteRole, &SiteReader)> {
        let staging = self
            .staging
            .iter()
            .map(|site| (SiteRole::Staging, site.reader()));
        let production = self
            .production
            .iter()
            .map(|site| (SiteRole::Production, site.reader()));
        staging.chain(production).collect()
    }

    /// The site `which` with the branch it tracks, for the diff and sync jobs.
    pub fn tracked(&self, which: SiteSel) -> Result<Tracked<'_>, UserError> {
        let (site, role) = match which {
            SiteSel::Staging => (self.staging.as_ref().map(|s| s.reader()), SiteRole::Staging),
            SiteSel::Prod => (
                self.production.as_ref().map(|s| s.reader()),
                SiteRole::Production,
            ),
        };
        let site = site
            .ok_or_else(|| UserError::new(format!("No {} site is configured.", role.as_str())))?;
        let github = self.github()?;
        let branch = match which {
            SiteSel::Staging => github.config().staging_branch.clone(),
            SiteSel::Prod => github.config().production_branch.clone(),
        };
        Ok(Tracked {
            site,
            github,
            branch,
        })
    }

    pub fn github(&self) -> Result<&GithubClient, UserError> {
        self.github.as_deref().ok_or_else(|| {
            UserError::new("No config repository is configured: add a [github] section.")
        })
    }

    /// The one site the bot may write to.
    pub fn staging_site(&self) -> Result<&StagingSite, UserError> {
        self.staging
            .as_ref()
            .ok_or_else(|| UserError::new("No staging site is configured."))
    }
}

/// The configured runner: a shell template, or a workflow dispatched in the
/// config repo (the config check guarantees [github] is there for it).
fn runner(section: &RunnerSection, github: Option<&Arc<GithubClient>>) -> anyhow::Result<Runner> {
    let timeout = Duration::from_secs(section.timeout_secs);
    if let Some(template) = &section.template {
        return Runner::from_template(template.clone(), timeout)
            .map_err(|err| anyhow::anyhow!("[runner] template: {err}"));
    }
    let (Some(workflow), Some(github)) = (&section.workflow, github) else {
        anyhow::bail!("[runner] workflow needs the [github] section and its credentials");
    };
    let git_ref = section
        .workflow_ref
        .clone()
        .unwrap_or_else(|| github.config().production_branch.clone());
    Ok(Runner::from_workflow(
        WorkflowDispatch {
            github: github.clone(),
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

/// A site and the branch that holds its blueprints.
pub struct Tracked<'a> {
    pub site: &'a SiteReader,
    pub github: &'a GithubClient,
    pub branch: String,
}

/// A branch's blueprints at one commit.
pub struct BranchSnapshot {
    pub name: String,
    pub snapshot: Snapshot,
    pub blueprints: BlueprintSet,
}

impl BranchSnapshot {
    /// `staging@3f2a9c1`.
    pub fn label(&self) -> String {
        let commit = &self.snapshot.base.commit;
        format!("{}@{}", self.name, &commit[..commit.len().min(7)])
    }
}

impl Tracked<'_> {
    pub fn site_name(&self) -> &str {
        self.site.site().as_str()
    }

    pub fn site_url(&self) -> String {
        self.site.config().base_url.to_string()
    }

    pub async fn read_site(&self) -> anyhow::Result<BlueprintSet> {
        self.site
            .fetch_blueprints(&FetchOptions::default())
            .await
            .with_context(|| format!("while reading site `{}`", self.site_name()))
    }

    pub async fn read_branch(&self) -> anyhow::Result<BranchSnapshot> {
        let (snapshot, blueprints) = self
            .github
            .read_blueprints(&self.branch)
            .await
            .with_context(|| format!("while reading branch `{}`", self.branch))?;
        Ok(BranchSnapshot {
            name: self.branch.clone(),
            snapshot,
            blueprints,
        })
    }

    /// Commits `changes` on top of the snapshot's commit; refuses, rather than
    /// overwrite, if the branch moved since it was read (fast-forward only).
    pub async fn commit(
        &self,
        on: &BranchSnapshot,
        changes: &FileChanges,
        message: &str,
    ) -> anyhow::Result<String> {
        let commit = self
            .github
            .commit_files(
                &on.name,
                &on.snapshot.base,
                changes,
                message,
                BranchWrite::FastForward,
            )
            .await
            .with_context(|| format!("while committing to branch `{}`", on.name))?;
        Ok(commit.commit)
    }
}
