//! The adapters the bot's jobs use, built once from the configuration: the staging
//! site (read and write), the production site (read only, by type), and whatever
//! else later features need. Building them checks nothing over the network;
//! `lockstep check` and the jobs do that.

use crate::config::{Config, SiteRole, SiteSection};
use crate::frappe::{
    ApiCredentials, ProductionSite, SiteConfig, SiteName, SiteReader, StagingSite,
};
use anyhow::Context;
use std::time::Duration;

pub struct Services {
    pub staging: Option<StagingSite>,
    pub production: Option<ProductionSite>,
}

impl Services {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let mut services = Services {
            staging: None,
            production: None,
        };
        for (name, section) in &config.file.sites {
            let site_config = site_config(config, name, section)?;
            match section.role {
                SiteRole::Staging => {
                    services.staging = Some(
                        StagingSite::new(site_config)
                            .with_context(|| format!("while setting up site `{name}`"))?,
                    )
                }
                SiteRole::Production => {
                    services.production = Some(
                        ProductionSite::new(site_config)
                            .with_context(|| format!("while setting up site `{name}`"))?,
                    )
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
