//! One HTTP exchange with GitHub through octocrab's raw interface (its own retry
//! layer is off: it would repeat POSTs on a 5xx). Our policy instead: reads are
//! retried on 5xx and transport errors with exponential backoff; any request is
//! retried after a rate limit (GitHub did not act on it), waiting for `retry-after`
//! or `x-ratelimit-reset`; a write that failed any other way is never repeated
//! blindly — the caller decides, usually by reading state first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Method, StatusCode};
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;
use serde_json::Value;

use super::auth::{app_jwt, GithubAuth, InstallationToken};
use super::error::GithubError;
use crate::secret::Secret;

/// How hard to retry. Tests shrink the delays; nothing here sleeps unless GitHub
/// asked for it or failed.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A rate limit that lasts longer than this is returned as `RateLimited`.
    pub max_rate_limit_wait: Duration,
    /// Writes go out one at a time, at least this far apart (GitHub asks for a
    /// second between content-creating requests to stay clear of secondary limits).
    pub min_write_interval: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_rate_limit_wait: Duration::from_secs(120),
            min_write_interval: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// For a server on this machine (the sims): the same retries with millisecond
    /// backoff, short rate-limit waits and no write pacing.
    pub fn local() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
            max_rate_limit_wait: Duration::from_secs(2),
            min_write_interval: Duration::ZERO,
        }
    }
}

/// What a request is, for retries and for error messages.
#[derive(Debug, Clone)]
pub struct Op {
    pub what: String,
    /// The fine-grained permission it needs (named in a 403).
    pub permission: &'static str,
}

impl Op {
    pub fn new(what: impl Into<String>, permission: &'static str) -> Op {
        Op {
            what: what.into(),
            permission,
        }
    }
}

pub struct Transport {
    crab: Octocrab,
    auth: GithubAuth,
    installation: tokio::sync::Mutex<Option<InstallationToken>>,
    retry: RetryPolicy,
    calls: AtomicU64,
    /// When the last write went out; held while writing, so writes are serial.
    last_write: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Transport {
    pub fn new(
        api_url: &str,
        auth: GithubAuth,
        retry: RetryPolicy,
    ) -> Result<Transport, GithubError> {
        crate::tls::install_crypto_provider();
        let crab = Octocrab::builder()
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(|e| GithubError::Transport {
                what: "the GitHub API URL".into(),
                reason: format!("{api_url:?} is not a usable URL ({e})"),
            })?
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| GithubError::Transport {
                what: "building the GitHub client".into(),
                reason: e.to_string(),
            })?;
        Ok(Transport {
            crab,
            auth,
            installation: tokio::sync::Mutex::new(None),
            retry,
            calls: AtomicU64::new(0),
            last_write: tokio::sync::Mutex::new(None),
        })
    }

    /// HTTP requests sent so far (retries and token exchanges included).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub async fn get(&self, path: &str, op: &Op) -> Result<Value, GithubError> {
        self.send(Method::GET, path, None, op).await
    }

    pub async fn post(&self, path: &str, body: &Value, op: &Op) -> Result<Value, GithubError> {
        self.send(Method::POST, path, Some(body), op).await
    }

    /// A POST that only reads (a GraphQL query): retried and unpaced like a GET.
    pub async fn post_query(
        &self,
        path: &str,
        body: &Value,
        op: &Op,
    ) -> Result<Value, GithubError> {
        self.send_as(Method::POST, path, Some(body), op, true).await
    }

    /// Sends one request under the retry policy; the JSON answer on 2xx.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        op: &Op,
    ) -> Result<Value, GithubError> {
        let read = method == Method::GET || method == Method::HEAD;
        self.send_as(method, path, body, op, read).await
    }

    async fn send_as(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        op: &Op,
        read: bool,
    ) -> Result<Value, GithubError> {
        let body = self.body_of(method, path, body, op, read).await?;
        parse_json(&body, op)
    }

    /// A GET's 2xx answer as bytes, for a caller that decodes it off the runtime's
    /// workers (the blobs of a 50,000-file tree).
    pub async fn get_bytes(&self, path: &str, op: &Op) -> Result<Bytes, GithubError> {
        self.body_of(Method::GET, path, None, op, true).await
    }

    async fn body_of(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        op: &Op,
        read: bool,
    ) -> Result<Bytes, GithubError> {
        let raw = self.answered(method, path, body, op, read).await?;
        if raw.status.is_redirection() {
            return Err(GithubError::Status {
                what: op.what.clone(),
                status: raw.status.as_u16(),
                message: "an unexpected redirect".into(),
            });
        }
        Ok(raw.body)
    }

    /// A GET that GitHub answers with `302 Found` (job logs, archives): the
    /// `Location` it points to. The address is signed and short-lived; fetch it
    /// without GitHub credentials.
    pub async fn redirect_location(&self, path: &str, op: &Op) -> Result<String, GithubError> {
        let raw = self.answered(Method::GET, path, None, op, true).await?;
        let location = header(&raw.headers, "location").filter(|_| raw.status.is_redirection());
        location
            .map(String::from)
            .ok_or_else(|| GithubError::Decode {
                what: op.what.clone(),
                reason: format!("expected a redirect to the download, got {}", raw.status),
            })
    }

    /// Sends one request under the retry policy until GitHub answers with a 2xx or
    /// 3xx (returned as is) or an error that is not retried.
    async fn answered(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        op: &Op,
        read: bool,
    ) -> Result<Raw, GithubError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let raw = match self.exchange(&method, path, body, op, read).await {
                Ok(raw) => raw,
                Err(error @ GithubError::Transport { .. }) if read && !last => {
                    tracing::debug!(%error, attempt, "GitHub read failed; retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            if raw.status.is_success() || raw.status.is_redirection() {
                return Ok(raw);
            }
            if let Some(wait) = rate_limit_wait(&raw) {
                if wait <= self.retry.max_rate_limit_wait && !last {
                    tracing::info!(what = %op.what, wait_s = wait.as_secs(), "GitHub rate limit; waiting");
                    crate::metrics::global().rate_limit_wait("github", wait);
                    tokio::time::sleep(wait).await;
                    continue;
                }
                let reset = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                return Err(GithubError::RateLimited {
                    what: op.what.clone(),
                    reset,
                });
            }
            if raw.status.is_server_error() && read && !last {
                tracing::debug!(status = raw.status.as_u16(), attempt, what = %op.what, "GitHub 5xx on a read; retrying");
                tokio::time::sleep(self.backoff(attempt)).await;
                continue;
            }
            return Err(classify(&raw, op));
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        (self.retry.base_delay * factor).min(self.retry.max_delay)
    }

    async fn exchange(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        op: &Op,
        read: bool,
    ) -> Result<Raw, GithubError> {
        let token = self.bearer().await?;
        if read {
            return self.raw(method, path, body, &token, op).await;
        }
        let mut last = self.last_write.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + self.retry.min_write_interval).await;
        }
        *last = Some(tokio::time::Instant::now());
        self.raw(method, path, body, &token, op).await
    }

    async fn raw(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        token: &Secret,
        op: &Op,
    ) -> Result<Raw, GithubError> {
        let transport = |reason: String| GithubError::Transport {
            what: op.what.clone(),
            reason,
        };
        let builder = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            );
        let request = self
            .crab
            .build_request(builder, body)
            .map_err(|e| transport(e.to_string()))?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let class = crate::metrics::github_class(method, path);
        let response = match self.crab.execute(request).await {
            Ok(response) => response,
            Err(e) => {
                crate::metrics::global().request("github", &class, false);
                return Err(transport(e.to_string()));
            }
        };
        let answered = response.status().is_success() || response.status().is_redirection();
        crate::metrics::global().request("github", &class, answered);
        let (parts, body) = response.into_parts();
        let text = self
            .crab
            .body_to_string(http::Response::new(body))
            .await
            .map_err(|e| transport(e.to_string()))?;
        let body = Bytes::from(text);
        Ok(Raw {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// The token for the next request; for an App, a cached installation token that
    /// is renewed five minutes before it expires.
    async fn bearer(&self) -> Result<Secret, GithubError> {
        let (app_id, key, installation_id) = match &self.auth {
            GithubAuth::Token(token) => return Ok(token.clone()),
            GithubAuth::App {
                app_id,
                private_key,
                installation_id,
            } => (*app_id, private_key, *installation_id),
        };
        let mut cached = self.installation.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| t.is_fresh(Utc::now())) {
            return Ok(t.token.clone());
        }
        let jwt = Secret::new(app_jwt(app_id, key, Utc::now()).map_err(GithubError::AppAuth)?);
        let op = Op::new("an installation token", "App installation");
        let path = format!("/app/installations/{installation_id}/access_tokens");
        let raw = self.raw(&Method::POST, &path, None, &jwt, &op).await?;
        if !raw.status.is_success() {
            return Err(GithubError::AppAuth(classify(&raw, &op).to_string()));
        }
        let reply: Value = parse_json(&raw.body, &op)?;
        let token = reply["token"]
            .as_str()
            .ok_or_else(|| GithubError::AppAuth("the token exchange returned no token".into()))?;
        let expires_at = reply["expires_at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|d| d.with_timezone(&Utc))
            .ok_or_else(|| {
                GithubError::AppAuth("the token exchange returned no expires_at".into())
            })?;
        let fresh = InstallationToken {
            token: Secret::new(token),
            expires_at,
        };
        let secret = fresh.token.clone();
        *cached = Some(fresh);
        Ok(secret)
    }
}

fn parse_json(body: &Bytes, op: &Op) -> Result<Value, GithubError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| GithubError::Decode {
        what: op.what.clone(),
        reason: e.to_string(),
    })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// How long GitHub asks us to wait, when this answer is a (primary or secondary)
/// rate limit.
fn rate_limit_wait(raw: &Raw) -> Option<Duration> {
    let status = raw.status.as_u16();
    if status != 429 && status != 403 {
        return None;
    }
    let retry_after =
        header(&raw.headers, "retry-after").and_then(|v| v.trim().parse::<u64>().ok());
    let exhausted = header(&raw.headers, "x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    let message = serde_json::from_slice::<Value>(&raw.body)
        .ok()
        .and_then(|b| b["message"].as_str().map(str::to_lowercase))
        .unwrap_or_default();
    let secondary = message.contains("rate limit");
    if status == 403 && !exhausted && !secondary && retry_after.is_none() {
        return None; // a permission problem, not a limit
    }
    if let Some(secs) = retry_after {
        return Some(Duration::from_secs(secs));
    }
    if exhausted {
        if let Some(reset) =
            header(&raw.headers, "x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok())
        {
            let secs = (reset - Utc::now().timestamp()).max(0) as u64 + 1;
            return Some(Duration::from_secs(secs));
        }
    }
    // Secondary limit without a hint: GitHub asks for at least a minute.
    Some(Duration::from_secs(60))
}

fn classify(raw: &Raw, op: &Op) -> GithubError {
    let body: Value = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
    let message = body["message"].as_str().unwrap_or("").to_string();
    let what = op.what.clone();
    match raw.status.as_u16() {
        401 => GithubError::Unauthorized { message },
        403 => GithubError::Forbidden {
            what,
            message,
            permission: op.permission.to_string(),
        },
        404 => GithubError::NotFound { what, message },
        422 => {
            let errors =
                body["errors"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|e| match e {
                                Value::String(s) => s.clone(),
                                other => other["message"]
                                    .as_str()
                                    .map(String::from)
                                    .unwrap_or_else(|| {
                                        format!(
                                            "{} {} {}",
                                            other["resource"].as_str().unwrap_or(""),
                                            other["field"].as_str().unwrap_or(""),
                                            other["code"].as_str().unwrap_or("")
                                        )
                                        .trim()
                                        .to_string()
                                    }),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            GithubError::Validation {
                what,
                message,
                errors,
            }
        }
        status => GithubError::Status {
            what,
            status,
            message: if message.is_empty() {
                String::from_utf8_lossy(&raw.body)
                    .chars()
                    .take(200)
                    .collect()
            } else {
                message
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, headers: &[(&str, String)], message: &str) -> Raw {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Raw {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: Bytes::from(serde_json::json!({ "message": message }).to_string()),
        }
    }

    #[test]
    fn retry_after_is_honoured_on_429_and_403() {
        let r = raw(429, &[("retry-after", "7".into())], "slow down");
        assert_eq!(rate_limit_wait(&r), Some(Duration::from_secs(7)));
        let r = raw(
            403,
            &[("retry-after", "3".into())],
            "You have exceeded a secondary rate limit",
        );
        assert_eq!(rate_limit_wait(&r), Some(Duration::from_secs(3)));
    }

    #[test]
    fn an_exhausted_primary_limit_waits_until_reset() {
        let reset = (Utc::now().timestamp() + 30).to_string();
        let r = raw(
            403,
            &[
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset),
            ],
            "API rate limit exceeded",
        );
        let wait = rate_limit_wait(&r).unwrap();
        assert!(
            wait >= Duration::from_secs(29) && wait <= Duration::from_secs(32),
            "{wait:?}"
        );
    }

    #[test]
    fn a_secondary_limit_without_a_hint_waits_a_minute() {
        let r = raw(
            403,
            &[("x-ratelimit-remaining", "4000".into())],
            "You have exceeded a secondary rate limit.",
        );
        assert_eq!(rate_limit_wait(&r), Some(Duration::from_secs(60)));
    }

    #[test]
    fn a_permission_403_is_not_a_rate_limit_and_names_the_permission() {
        let r = raw(
            403,
            &[("x-ratelimit-remaining", "4000".into())],
            "Resource not accessible by integration",
        );
        assert_eq!(rate_limit_wait(&r), None);
        let e = classify(&r, &Op::new("merging #3", "contents: write"));
        assert_eq!(
            e.to_string(),
            "GitHub refused merging #3 (403 Resource not accessible by integration); the token needs the contents: write permission on the repository"
        );
    }

    #[test]
    fn validation_errors_keep_githubs_words() {
        let mut r = raw(422, &[], "Validation Failed");
        r.body = Bytes::from(
            r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for acme:x."},{"resource":"Release","code":"already_exists","field":"tag_name"}]}"#,
        );
        let e = classify(
            &r,
            &Op::new("opening a pull request", "pull requests: write"),
        );
        assert!(e.is_validation("A pull request already exists"));
        assert!(
            e.to_string().contains("Release tag_name already_exists"),
            "{e}"
        );
    }
}
