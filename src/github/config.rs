//! The `[github]` section of the config file: where the API is and which repository
//! and branches hold the blueprints. Secrets (token, App key) never live here; they
//! come from the environment through [`super::auth::GithubAuth::from_env`].

use serde::Deserialize;

pub const DEFAULT_API_URL: &str = "https://api.github.com";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    /// REST root; point it at the GitHub sim for tests and the demo.
    #[serde(default = "default_api_url")]
    pub api_url: String,
    pub owner: String,
    pub repo: String,
    /// The branch production deploys from.
    #[serde(default = "default_production_branch")]
    pub production_branch: String,
    /// The branch holding staging's blueprints.
    #[serde(default = "default_staging_branch")]
    pub staging_branch: String,
    /// Milliseconds between writes. GitHub asks for a second between
    /// content-creating requests; lower it only for a server on this machine.
    #[serde(default = "default_write_interval_ms")]
    pub write_interval_ms: u64,
}

fn default_write_interval_ms() -> u64 {
    1_000
}

fn default_api_url() -> String {
    DEFAULT_API_URL.into()
}

fn default_production_branch() -> String {
    "main".into()
}

fn default_staging_branch() -> String {
    "staging".into()
}

impl GithubConfig {
    pub fn new(api_url: &str, owner: &str, repo: &str) -> GithubConfig {
        GithubConfig {
            api_url: api_url.trim_end_matches('/').to_string(),
            owner: owner.into(),
            repo: repo.into(),
            production_branch: default_production_branch(),
            staging_branch: default_staging_branch(),
            write_interval_ms: default_write_interval_ms(),
        }
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_and_unknown_keys_are_refused() {
        let c: GithubConfig = toml::from_str("owner = \"acme\"\nrepo = \"cfg\"").unwrap();
        assert_eq!(c.api_url, "https://api.github.com");
        assert_eq!(
            (c.production_branch.as_str(), c.staging_branch.as_str()),
            ("main", "staging")
        );
        let e = toml::from_str::<GithubConfig>("owner = \"a\"\nrepo = \"b\"\nbranch = \"x\"")
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `branch`"), "{e}");
    }
}
