//! API key + secret for one site. Never printed: `Debug` shows `***`.

use std::fmt;

use super::SiteName;

/// Frappe API credentials (`Authorization: token key:secret`).
#[derive(Clone)]
pub struct ApiCredentials {
    key: String,
    secret: String,
}

impl ApiCredentials {
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> ApiCredentials {
        ApiCredentials {
            key: key.into(),
            secret: secret.into(),
        }
    }

    /// Reads `FRAPPE_<SITE>_API_KEY` and `FRAPPE_<SITE>_API_SECRET`.
    pub fn from_env(site: &SiteName) -> Result<ApiCredentials, String> {
        let prefix = site.env_prefix();
        let read = |suffix: &str| {
            let var = format!("FRAPPE_{prefix}_{suffix}");
            match std::env::var(&var) {
                Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
                _ => Err(format!(
                    "environment variable {var} is not set: set it to the site's API {}",
                    suffix.to_lowercase().replace("api_", "")
                )),
            }
        };
        Ok(ApiCredentials::new(read("API_KEY")?, read("API_SECRET")?))
    }

    /// The value of the `Authorization` header. Callers put it straight into a
    /// header marked sensitive; it is never logged.
    pub(crate) fn authorization(&self) -> String {
        format!("token {}:{}", self.key, self.secret)
    }
}

impl fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiCredentials { key: ***, secret: *** }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let creds = ApiCredentials::new("k-123", "s-456");
        let shown = format!("{creds:?}");
        assert!(
            !shown.contains("k-123") && !shown.contains("s-456"),
            "{shown}"
        );
        assert_eq!(creds.authorization(), "token k-123:s-456");
    }
}
