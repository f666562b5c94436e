//! How the client authenticates: a token (`GITHUB_TOKEN`) or a GitHub App
//! (`GITHUB_APP_ID`, `GITHUB_APP_PRIVATE_KEY` = path of the PEM key,
//! `GITHUB_APP_INSTALLATION_ID`). An App signs a short-lived RS256 JWT and trades it
//! for an installation token, which is refreshed five minutes before it expires.
//! Keys and tokens sit in [`Secret`] and never reach a log or error message.

use std::path::PathBuf;

use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub enum GithubAuth {
    Token(Secret),
    App {
        app_id: u64,
        /// The private key (PEM text).
        private_key: Secret,
        installation_id: u64,
    },
}

impl GithubAuth {
    /// Reads the environment through `env` (tests pass a map). A token wins over App
    /// settings; App settings must be complete.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<GithubAuth> {
        let value = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(token) = value("GITHUB_TOKEN") {
            return Ok(GithubAuth::Token(Secret::new(token.trim())));
        }
        let (app, key, inst) = (
            value("GITHUB_APP_ID"),
            value("GITHUB_APP_PRIVATE_KEY"),
            value("GITHUB_APP_INSTALLATION_ID"),
        );
        match (app, key, inst) {
            (None, None, None) => anyhow::bail!(
                "no GitHub credentials: set GITHUB_TOKEN, or GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY (path of the .pem) and GITHUB_APP_INSTALLATION_ID"
            ),
            (Some(app), Some(key), Some(inst)) => {
                let app_id = app.trim().parse().map_err(|_| anyhow::anyhow!("GITHUB_APP_ID must be a number, found {app:?}"))?;
                let installation_id = inst.trim().parse().map_err(|_| anyhow::anyhow!("GITHUB_APP_INSTALLATION_ID must be a number, found {inst:?}"))?;
                let path = PathBuf::from(key.trim());
                let pem = std::fs::read_to_string(&path).map_err(|e| {
                    anyhow::anyhow!("could not read the GitHub App key GITHUB_APP_PRIVATE_KEY={} ({e})", path.display())
                })?;
                Ok(GithubAuth::App { app_id, private_key: Secret::new(pem), installation_id })
            }
            (app, key, inst) => {
                let missing: Vec<&str> = [("GITHUB_APP_ID", app.is_none()), ("GITHUB_APP_PRIVATE_KEY", key.is_none()), ("GITHUB_APP_INSTALLATION_ID", inst.is_none())]
                    .into_iter()
                    .filter(|(_, m)| *m)
                    .map(|(k, _)| k)
                    .collect();
                anyhow::bail!("GitHub App settings are incomplete: set {}", missing.join(" and "))
            }
        }
    }
}

/// A cached installation token.
#[derive(Debug, Clone)]
pub struct InstallationToken {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
}

impl InstallationToken {
    /// Fresh enough to use: more than five minutes left.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        self.expires_at - now > chrono::Duration::minutes(5)
    }
}

/// An RS256 JWT for the App (`iss` = app id), valid from a minute ago (clock skew)
/// for nine minutes, as GitHub asks.
pub fn app_jwt(app_id: u64, pem: &Secret, now: DateTime<Utc>) -> Result<String, String> {
    let der = pem_to_der(pem.expose())?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .or_else(|_| ring::signature::RsaKeyPair::from_der(&der))
        .map_err(|e| format!("the App private key is not an RSA key ring can read ({e})"))?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let iat = now.timestamp() - 60;
    let claims = b64.encode(format!(
        r#"{{"iat":{iat},"exp":{},"iss":"{app_id}"}}"#,
        iat + 600
    ));
    let signing_input = format!("{header}.{claims}");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "could not sign the App JWT".to_string())?;
    Ok(format!("{signing_input}.{}", b64.encode(signature)))
}

fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    if body.is_empty() {
        return Err("the App private key file holds no PEM block".into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "the App private key is not valid PEM (base64)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn token_wins_and_never_prints() {
        let auth = GithubAuth::from_env(&env(&[
            ("GITHUB_TOKEN", "ghp_secret"),
            ("GITHUB_APP_ID", "1"),
        ]))
        .unwrap();
        assert!(matches!(auth, GithubAuth::Token(_)));
        assert!(!format!("{auth:?}").contains("ghp_secret"));
    }

    #[test]
    fn incomplete_app_settings_name_what_is_missing() {
        let e = GithubAuth::from_env(&env(&[("GITHUB_APP_ID", "12")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID"),
            "{e}"
        );
        let e = GithubAuth::from_env(&env(&[])).unwrap_err().to_string();
        assert!(e.contains("GITHUB_TOKEN"), "{e}");
    }

    #[test]
    fn a_token_is_fresh_until_five_minutes_before_expiry() {
        let now = Utc::now();
        let t = |mins| InstallationToken {
            token: Secret::new("x"),
            expires_at: now + chrono::Duration::minutes(mins),
        };
        assert!(t(6).is_fresh(now));
        assert!(!t(4).is_fresh(now));
    }
}
