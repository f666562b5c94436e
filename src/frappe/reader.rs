//! `SiteReader`: the read-only core shared by both site types. It holds the HTTP
//! client and knows Frappe's v1 read routes, paging and retry rules, and counts the
//! requests it sends. Writes are in `sites.rs`, on the staging type only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Map, Value};
use url::Url;

use super::error::ErrorContext;
use super::{ApiCredentials, FrappeError, SiteName};

/// How to reach one site.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub site: SiteName,
    /// e.g. `https://staging.example.com`; paths are appended to it.
    pub base_url: Url,
    pub credentials: ApiCredentials,
    /// Per-request timeout.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Requests in flight at once when fetching every blueprint (default 8).
    pub concurrency: usize,
    /// When set, sent as `X-Frappe-Site-Name` (it wins over `Host` in Frappe), so one
    /// address can serve several sites (a bench without DNS, or the sim).
    pub site_header: Option<String>,
}

impl SiteConfig {
    pub fn new(site: SiteName, base_url: Url, credentials: ApiCredentials) -> SiteConfig {
        SiteConfig {
            site,
            base_url,
            credentials,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            concurrency: 8,
            site_header: None,
        }
    }
}

/// Retries for reads only: on 429, 5xx, timeouts and connection errors.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// One list request. `order_by` is mandatory: Frappe v15 adds no ORDER BY without
/// it, and paging over an unordered result loses and duplicates rows.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub fields: Vec<String>,
    /// Frappe filters: a JSON list of `[field, op, value]` / `[doctype, field, op, value]`.
    pub filters: Value,
    pub order_by: String,
    pub limit_start: usize,
    /// Rows per page; never 0 here (0 means "everything" to Frappe: use `list_all`).
    pub page_length: usize,
}

impl ListQuery {
    pub fn new(order_by: impl Into<String>) -> ListQuery {
        ListQuery {
            fields: vec!["name".to_string()],
            filters: Value::Array(Vec::new()),
            order_by: order_by.into(),
            limit_start: 0,
            page_length: 500,
        }
    }

    pub fn fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    pub fn filters(mut self, filters: Value) -> Self {
        self.filters = filters;
        self
    }

    pub fn page_length(mut self, n: usize) -> Self {
        self.page_length = n.max(1);
        self
    }

    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("fields", Value::from(self.fields.clone()).to_string()),
            ("filters", self.filters.to_string()),
            ("order_by", self.order_by.clone()),
            ("limit_start", self.limit_start.to_string()),
            ("limit_page_length", self.page_length.max(1).to_string()),
        ]
    }
}

/// `frappe.utils.backups.fetch_latest_backups`: newest backup paths of the last 30 days.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct LatestBackups {
    pub database: Option<String>,
    pub public: Option<String>,
    pub private: Option<String>,
    pub config: Option<String>,
}

/// Read access to one Frappe site.
#[derive(Debug, Clone)]
pub struct SiteReader {
    config: SiteConfig,
    http: reqwest::Client,
    /// Requests sent so far, retries included (shared by clones).
    requests: Arc<AtomicU64>,
}

/// What a request is about, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Target<'a> {
    pub operation: &'a str,
    pub doctype: Option<&'a str>,
    pub record: Option<&'a str>,
}

impl SiteReader {
    /// Builds the HTTP client. Needs a rustls crypto provider installed first
    /// (`lockstep::tls`).
    pub fn new(config: SiteConfig) -> Result<SiteReader, FrappeError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                FrappeError::Transport(Box::new(ErrorContext {
                    site: config.site.to_string(),
                    operation: "build HTTP client".into(),
                    doctype: None,
                    record: None,
                    status: None,
                    exc_type: None,
                    message: e.to_string(),
                    retry_after_secs: None,
                }))
            })?;
        Ok(SiteReader {
            config,
            http,
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// HTTP requests this reader (and its clones) has sent, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn site(&self) -> &SiteName {
        &self.config.site
    }

    pub fn config(&self) -> &SiteConfig {
        &self.config
    }

    /// One page of `GET /api/v1/resource/<doctype>`.
    pub async fn list(
        &self,
        doctype: &str,
        query: &ListQuery,
    ) -> Result<Vec<Map<String, Value>>, FrappeError> {
        let target = Target {
            operation: "GET list",
            doctype: Some(doctype),
            record: None,
        };
        let path = vec!["api", "v1", "resource", doctype];
        let params = query.params();
        let data = self.read_json(&target, &path, &params).await?;
        let rows = take_field(&target, self, data, "data")?;
        match rows {
            Value::Array(items) => Ok(items
                .into_iter()
                .filter_map(|v| match v {
                    Value::Object(m) => Some(m),
                    _ => None,
                })
                .collect()),
            other => Err(self.decode_error(
                &target,
                format!("expected a list under \"data\", got {other}"),
            )),
        }
    }

    /// Every row matching `query`, page by page from `query.limit_start`.
    pub async fn list_all(
        &self,
        doctype: &str,
        query: &ListQuery,
    ) -> Result<Vec<Map<String, Value>>, FrappeError> {
        let mut rows: Vec<Map<String, Value>> = Vec::new();
        let mut page = query.clone();
        loop {
            let batch = self.list(doctype, &page).await?;
            let got = batch.len();
            // A server that ignores limit_start would hand back the same page forever.
            let repeated = page.limit_start > query.limit_start
                && !batch.is_empty()
                && batch.first()
                    == rows.get(page.limit_start - query.limit_start - page.page_length);
            if repeated {
                let target = Target {
                    operation: "GET list",
                    doctype: Some(doctype),
                    record: None,
                };
                return Err(self.decode_error(
                    &target,
                    "the site returned the same page twice: it ignores limit_start".into(),
                ));
            }
            rows.extend(batch);
            // Fewer rows than asked is the last page; more means the limit was ignored.
            if got != page.page_length {
                return Ok(rows);
            }
            page.limit_start += got;
        }
    }

    /// Names of every record matching `filters`, ordered by name, deduplicated (a
    /// child-table filter yields one row per matching child row).
    pub async fn list_names(
        &self,
        doctype: &str,
        filters: &Value,
        page_length: usize,
    ) -> Result<Vec<String>, FrappeError> {
        let query = ListQuery::new("name asc")
            .filters(filters.clone())
            .page_length(page_length);
        let rows = self.list_all(doctype, &query).await?;
        let mut names: Vec<String> = rows
            .into_iter()
            .filter_map(|r| r.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        names.dedup();
        Ok(names)
    }

    /// `GET /api/v1/resource/<doctype>/<name>`: the document with its child tables.
    pub async fn get_doc(&self, doctype: &str, name: &str) -> Result<Value, FrappeError> {
        let target = Target {
            operation: "GET",
            doctype: Some(doctype),
            record: Some(name),
        };
        let data = self
            .read_json(&target, &["api", "v1", "resource", doctype, name], &[])
            .await?;
        take_field(&target, self, data, "data")
    }

    /// `frappe.client.get_count` (note: it checks no permission in v15, and its NULL
    /// rules differ from lists).
    pub async fn get_count(&self, doctype: &str, filters: &Value) -> Result<u64, FrappeError> {
        let target = Target {
            operation: "method frappe.client.get_count",
            doctype: Some(doctype),
            record: None,
        };
        let params = [
            ("doctype", doctype.to_string()),
            ("filters", filters.to_string()),
        ];
        let message = self
            .call_method(&target, "frappe.client.get_count", &params)
            .await?;
        message
            .as_u64()
            .ok_or_else(|| self.decode_error(&target, format!("expected a count, got {message}")))
    }

    /// A Number Card's figure as the desk computes it
    /// (`frappe.desk.doctype.number_card.number_card.get_result`, given the card
    /// document and its own filters).
    pub async fn number_card_result(&self, card: &Value) -> Result<Value, FrappeError> {
        let target = Target {
            operation: "method frappe.desk.doctype.number_card.number_card.get_result",
            doctype: Some("Number Card"),
            record: card["name"].as_str(),
        };
        let filters = card["filters_json"]
            .as_str()
            .filter(|text| !text.trim().is_empty())
            .unwrap_or("[]")
            .to_string();
        let params = [("doc", card.to_string()), ("filters", filters)];
        self.call_method(
            &target,
            "frappe.desk.doctype.number_card.number_card.get_result",
            &params,
        )
        .await
    }

    /// `ping`: `"pong"` when the site answers.
    pub async fn ping(&self) -> Result<String, FrappeError> {
        let target = Target {
            operation: "method ping",
            doctype: None,
            record: None,
        };
        let message = self.call_method(&target, "ping", &[]).await?;
        Ok(message.as_str().unwrap_or_default().to_string())
    }

    /// The user the API key belongs to (proves the credentials).
    pub async fn get_logged_user(&self) -> Result<String, FrappeError> {
        let target = Target {
            operation: "method frappe.auth.get_logged_user",
            doctype: None,
            record: None,
        };
        let message = self
            .call_method(&target, "frappe.auth.get_logged_user", &[])
            .await?;
        message
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.decode_error(&target, format!("expected a user id, got {message}")))
    }

    /// Newest backups of the last 30 days (needs System Manager).
    pub async fn fetch_latest_backups(&self) -> Result<LatestBackups, FrappeError> {
        let target = Target {
            operation: "method frappe.utils.backups.fetch_latest_backups",
            doctype: None,
            record: None,
        };
        let message = self
            .call_method(&target, "frappe.utils.backups.fetch_latest_backups", &[])
            .await?;
        serde_json::from_value(message).map_err(|e| self.decode_error(&target, e.to_string()))
    }

    /// The site's time zone (`frappe.client.get_time_zone` answers `{"time_zone": …}`).
    pub async fn get_time_zone(&self) -> Result<String, FrappeError> {
        let target = Target {
            operation: "method frappe.client.get_time_zone",
            doctype: None,
            record: None,
        };
        let message = self
            .call_method(&target, "frappe.client.get_time_zone", &[])
            .await?;
        message
            .get("time_zone")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                self.decode_error(
                    &target,
                    format!("expected {{\"time_zone\": …}}, got {message}"),
                )
            })
    }

    async fn call_method(
        &self,
        target: &Target<'_>,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<Value, FrappeError> {
        let body = self
            .read_json(target, &["api", "v1", "method", method], params)
            .await?;
        take_field(target, self, body, "message")
    }

    /// A GET with retries on transient failures.
    async fn read_json(
        &self,
        target: &Target<'_>,
        path: &[&str],
        params: &[(&str, String)],
    ) -> Result<Value, FrappeError> {
        let bytes = self.read_bytes(target, path, params).await?;
        self.parse_json(target, StatusCode::OK, &bytes)
    }

    /// A GET with retries on transient failures, answering the success body as it
    /// came, so a caller may decode it off the async runtime (large list pages).
    pub(crate) async fn read_bytes(
        &self,
        target: &Target<'_>,
        path: &[&str],
        params: &[(&str, String)],
    ) -> Result<Bytes, FrappeError> {
        let policy = self.config.retry;
        let mut attempt = 1;
        loop {
            let request = self.request(Method::GET, path).query(params);
            match self.send_raw(target, request).await {
                Ok((_, body)) => return Ok(body),
                Err(err) if err.is_transient() && attempt < policy.max_attempts.max(1) => {
                    tracing::debug!(site = %self.config.site, attempt, error = %err, "retrying a Frappe read");
                    // Honour a 429's Retry-After, but never wait longer than max_backoff.
                    let asked = Duration::from_secs(err.context().retry_after_secs.unwrap_or(0));
                    let wait = policy.backoff(attempt).max(asked.min(policy.max_backoff));
                    if err.context().retry_after_secs.is_some() {
                        crate::metrics::global().rate_limit_wait("frappe", wait);
                    }
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    pub(crate) fn request(&self, method: Method, path: &[&str]) -> RequestBuilder {
        let mut url = self.config.base_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            // Each segment is percent-encoded by `url` (names may hold spaces or '/').
            segments.pop_if_empty().extend(path);
        }
        let mut auth =
            reqwest::header::HeaderValue::from_str(&self.config.credentials.authorization())
                .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("token invalid"));
        auth.set_sensitive(true);
        let mut builder = self
            .http
            .request(method, url)
            .header(reqwest::header::AUTHORIZATION, auth)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(site) = &self.config.site_header {
            builder = builder.header("X-Frappe-Site-Name", site);
        }
        builder
    }

    /// Sends once; decodes a success body as JSON, or an error answer as `FrappeError`.
    pub(crate) async fn send(
        &self,
        target: &Target<'_>,
        request: RequestBuilder,
    ) -> Result<(StatusCode, Value), FrappeError> {
        let (status, bytes) = self.send_raw(target, request).await?;
        Ok((status, self.parse_json(target, status, &bytes)?))
    }

    /// Sends once; answers a success body as bytes, an error answer as `FrappeError`.
    async fn send_raw(
        &self,
        target: &Target<'_>,
        request: RequestBuilder,
    ) -> Result<(StatusCode, Bytes), FrappeError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let class = crate::metrics::frappe_class(self.config.site.as_str(), target.operation);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                crate::metrics::global().request("frappe", &class, false);
                return Err(self.transport_error(target, e));
            }
        };
        let status = response.status();
        crate::metrics::global().request("frappe", &class, status.is_success());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(target, e))?;
        if !status.is_success() {
            let mut ctx = self.context(target);
            ctx.retry_after_secs = retry_after;
            let text = String::from_utf8_lossy(&body);
            return Err(FrappeError::from_response(ctx, status.as_u16(), &text));
        }
        Ok((status, body))
    }

    pub(crate) fn parse_json(
        &self,
        target: &Target<'_>,
        status: StatusCode,
        body: &[u8],
    ) -> Result<Value, FrappeError> {
        serde_json::from_slice(body).map_err(|e| {
            self.decode_error(
                target,
                format!("HTTP {status} with a body that is not JSON ({e})"),
            )
        })
    }

    pub(crate) fn context(&self, target: &Target<'_>) -> ErrorContext {
        ErrorContext {
            site: self.config.site.to_string(),
            operation: target.operation.to_string(),
            doctype: target.doctype.map(str::to_string),
            record: target.record.map(str::to_string),
            status: None,
            exc_type: None,
            message: String::new(),
            retry_after_secs: None,
        }
    }

    fn transport_error(&self, target: &Target<'_>, err: reqwest::Error) -> FrappeError {
        let mut ctx = self.context(target);
        // reqwest's Display carries the URL (never the Authorization header).
        ctx.message = error_chain(&err);
        if err.is_timeout() {
            FrappeError::Timeout(Box::new(ctx))
        } else {
            FrappeError::Transport(Box::new(ctx))
        }
    }

    pub(crate) fn decode_error(&self, target: &Target<'_>, message: String) -> FrappeError {
        let mut ctx = self.context(target);
        ctx.message = message;
        FrappeError::Decode(Box::new(ctx))
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

fn take_field(
    target: &Target<'_>,
    reader: &SiteReader,
    body: Value,
    key: &str,
) -> Result<Value, FrappeError> {
    match body {
        Value::Object(mut map) => map
            .remove(key)
            .ok_or_else(|| reader.decode_error(target, format!("the answer has no \"{key}\" key"))),
        other => Err(reader.decode_error(target, format!("expected a JSON object, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        assert_eq!(p.backoff(1), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(200));
        assert_eq!(p.backoff(3), Duration::from_millis(350));
    }

    #[test]
    fn list_params_always_carry_order_by_and_a_page_length() {
        let q = ListQuery::new("modified desc").page_length(0);
        let params = q.params();
        assert!(params.contains(&("order_by", "modified desc".to_string())));
        assert!(params.contains(&("limit_page_length", "1".to_string())));
        assert!(params.contains(&("fields", "[\"name\"]".to_string())));
    }
}
