//! Slack's Web API as the bot uses it: post, update, ephemeral replies, response
//! URLs, and the look-ups `check` and access control need.
//!
//! Every call honours a 429's `Retry-After` (up to `slack.rate_limit_retries` times)
//! and nothing else is retried here: the executor decides what to do with a failure.
//! Knows nothing of runs or the store.

use crate::config::Config;
use crate::secret::Secret;
use crate::slack::render::message_content;
use crate::workflow::effect::Message;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub type Connector = SlackClientHyperConnector<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
>;
pub type Client = SlackClient<Connector>;

/// Longest wait we accept from a `Retry-After` before giving up on a call.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SlackApiError {
    /// Slack answered `ok: false`; the code is Slack's (`channel_not_found`, …).
    #[error("Slack refused {method}: {code}")]
    Refused { method: &'static str, code: String },
    #[error("Slack kept rate-limiting {method} after {attempts} attempts")]
    RateLimited { method: &'static str, attempts: u32 },
    /// The response URL has expired or been used up; fall back to the Web API.
    #[error("the response URL is no longer usable ({status})")]
    ResponseUrlGone { status: u16 },
    #[error("cannot reach Slack for {method}: {detail}")]
    Transport {
        method: &'static str,
        detail: String,
    },
}

impl SlackApiError {
    /// What to look at when this happens during `lockstep check`.
    pub fn hint(&self) -> &'static str {
        match self {
            SlackApiError::Refused { code, .. }
                if code == "invalid_auth" || code == "not_authed" =>
            {
                "check the token"
            }
            SlackApiError::Refused { code, .. } if code == "not_allowed_token_type" => {
                "the app token (xapp-) and bot token (xoxb-) may be swapped"
            }
            SlackApiError::Transport { .. } => "check slack.api_url and the network",
            _ => "see Slack's error code above",
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SlackApiError::RateLimited { .. } | SlackApiError::Transport { .. }
        )
    }
}

/// A posted message's coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

#[derive(Clone)]
pub struct SlackApi {
    client: Arc<Client>,
    bot_token: SlackApiToken,
    app_token: SlackApiToken,
    rate_limit_retries: u32,
}

/// Builds the HTTP connector used for both the Web API and the Socket Mode listener.
/// https for Slack itself, plain http allowed so tests and the demo can use loopback.
pub fn connector(api_url: &url::Url) -> Connector {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    // slack-morphism joins `{base}/{method}`, so the base must not end in '/'.
    SlackClientHyperConnector::with_connector(https)
        .with_slack_api_url(api_url.as_str().trim_end_matches('/'))
}

impl SlackApi {
    pub fn new(config: &Config) -> Self {
        let client = Arc::new(SlackClient::new(connector(&config.file.slack.api_url)));
        Self::with_client(
            client,
            &config.secrets.slack_bot_token,
            &config.secrets.slack_app_token,
            config.file.slack.rate_limit_retries,
        )
    }

    pub fn with_client(
        client: Arc<Client>,
        bot_token: &Secret,
        app_token: &Secret,
        rate_limit_retries: u32,
    ) -> Self {
        Self {
            client,
            bot_token: SlackApiToken::new(bot_token.expose().into()),
            app_token: SlackApiToken::new(app_token.expose().into()),
            rate_limit_retries,
        }
    }

    pub fn client(&self) -> Arc<Client> {
        self.client.clone()
    }

    pub fn app_token(&self) -> &SlackApiToken {
        &self.app_token
    }

    /// Runs one Web API call, waiting out 429s as Slack asks.
    async fn call<T, F, Fut>(
        &self,
        method: &'static str,
        mut attempt: F,
    ) -> Result<T, SlackApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ClientResult<T>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(SlackClientError::RateLimitError(limit))
                    if tries <= self.rate_limit_retries =>
                {
                    let wait = limit
                        .retry_after
                        .unwrap_or(Duration::from_secs(1))
                        .min(MAX_RETRY_AFTER);
                    tracing::warn!(
                        method,
                        wait_secs = wait.as_secs_f32(),
                        "rate limited by Slack; waiting as asked"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(err) => return Err(classify(method, err, tries)),
            }
        }
    }

    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        message: &Message,
    ) -> Result<Posted, SlackApiError> {
        let mut request =
            SlackApiChatPostMessageRequest::new(channel.into(), message_content(message));
        if let Some(thread_ts) = thread_ts {
            request = request.with_thread_ts(thread_ts.into());
        }
        let session = self.client.open_session(&self.bot_token);
        let response = self
            .call("chat.postMessage", || session.chat_post_message(&request))
            .await?;
        Ok(Posted {
            channel: response.channel.to_string(),
            ts: response.ts.to_string(),
        })
    }

    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        message: &Message,
    ) -> Result<(), SlackApiError> {
        let request =
            SlackApiChatUpdateRequest::new(channel.into(), message_content(message), ts.into());
        let session = self.client.open_session(&self.bot_token);
        self.call("chat.update", || session.chat_update(&request))
            .await?;
        Ok(())
    }

    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        message: &Message,
    ) -> Result<(), SlackApiError> {
        let request = SlackApiChatPostEphemeralRequest::new(
            channel.into(),
            user.into(),
            message_content(message),
        );
        let session = self.client.open_session(&self.bot_token);
        self.call("chat.postEphemeral", || {
            session.chat_post_ephemeral(&request)
        })
        .await?;
        Ok(())
    }

    /// Replies through a command's or a button's `response_url` (ephemeral by default).
    pub async fn respond(
        &self,
        response_url: &str,
        message: &Message,
        replace_original: bool,
    ) -> Result<(), SlackApiError> {
        let url = url::Url::parse(response_url).map_err(|err| SlackApiError::Transport {
            method: "response_url",
            detail: format!("malformed response URL: {err}"),
        })?;
        let url = SlackResponseUrl::new(url);
        // Said explicitly either way: for a button press Slack replaces the clicked
        // message unless told `replace_original: false`.
        let request = SlackApiPostWebhookMessageRequest::new(message_content(message))
            .with_replace_original(replace_original);
        self.call("response_url", || {
            self.client.respond_to_event(&url, &request)
        })
        .await?;
        Ok(())
    }

    /// `auth.test` with the bot token: who the bot is, in which workspace.
    pub async fn auth_test(&self) -> Result<String, SlackApiError> {
        let session = self.client.open_session(&self.bot_token);
        let response = self.call("auth.test", || session.auth_test()).await?;
        Ok(format!(
            "bot user {} in team {}",
            response.user_id,
            if response.team.is_empty() {
                response.team_id.to_string()
            } else {
                response.team
            }
        ))
    }

    /// `apps.connections.open` with the app token: proves Socket Mode is usable.
    /// The returned URL is a single-use ticket, so it is not kept.
    pub async fn check_socket_mode(&self) -> Result<(), SlackApiError> {
        let session = self.client.open_session(&self.app_token);
        let request = SlackApiAppsConnectionOpenRequest::new();
        self.call("apps.connections.open", || {
            session.apps_connections_open(&request)
        })
        .await?;
        Ok(())
    }

    /// Members of a user group, for access lists that name groups.
    pub async fn usergroup_members(&self, group: &str) -> Result<Vec<String>, SlackApiError> {
        let request = SlackApiUserGroupsUsersListRequest::new(group.into());
        let session = self.client.open_session(&self.bot_token);
        let response = self
            .call("usergroups.users.list", || {
                session.usergroups_users_list(&request)
            })
            .await?;
        Ok(response
            .users
            .into_iter()
            .map(|user| user.to_string())
            .collect())
    }
}

/// The innermost cause ("Connection refused (os error 111)"), which is what a person
/// can act on; slack-morphism's own wrapping repeats Debug output of hyper types.
/// Its messages carry response bodies, never our token.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn classify(method: &'static str, err: SlackClientError, tries: u32) -> SlackApiError {
    match err {
        SlackClientError::ApiError(api) => SlackApiError::Refused {
            method,
            code: api.code,
        },
        SlackClientError::RateLimitError(_) => SlackApiError::RateLimited {
            method,
            attempts: tries,
        },
        SlackClientError::HttpError(http)
            if method == "response_url" && matches!(http.status_code.as_u16(), 404 | 410) =>
        {
            SlackApiError::ResponseUrlGone {
                status: http.status_code.as_u16(),
            }
        }
        SlackClientError::HttpError(http) => SlackApiError::Transport {
            method,
            detail: format!("HTTP {}", http.status_code),
        },
        // slack-morphism keeps the cause in a field but does not expose it as a source.
        SlackClientError::HttpProtocolError(protocol) => SlackApiError::Transport {
            method,
            detail: protocol
                .cause
                .as_deref()
                .map(|cause| root_cause(cause))
                .unwrap_or_else(|| "connection failed".to_string()),
        },
        other => SlackApiError::Transport {
            method,
            detail: root_cause(&other),
        },
    }
}
