//! Slack's Web API as the bot uses it: post (optionally under an idempotency key kept
//! in message metadata, and found again by reading history), update, ephemeral replies,
//! response URLs, modals, the App Home tab, and the look-ups `check` and access control
//! need.
//!
//! Every call honours a 429's `Retry-After` (up to `slack.rate_limit_retries` times)
//! and nothing else is retried here: the executor decides what to do with a failure.
//! Knows nothing of runs or the store.
//!
//! Scopes (bot token) beyond `chat:write`: `channels:history` and `groups:history`
//! for [`SlackApi::find_posted_by_key`] (conversations.history / conversations.replies
//! in public and private channels). `views.open` and `views.publish` need no scope, but
//! the Home tab must be enabled (`features.app_home.home_tab_enabled`) and the app
//! subscribed to the `app_home_opened` bot event to hear a person open it.

use crate::config::Config;
use crate::metrics::server::Liveness;
use crate::secret::Secret;
use crate::slack::render::message_content;
use crate::workflow::effect::Message;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub type Connector = SlackClientHyperConnector<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
>;
pub type Client = SlackClient<Connector>;

/// Longest wait we accept from a `Retry-After` before giving up on a call.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The `event_type` of the metadata [`SlackApi::post_message_with_key`] attaches.
pub const POST_KEY_EVENT_TYPE: &str = "lockstep_post";

/// Messages read per history page while looking for a keyed post.
const HISTORY_PAGE: u16 = 200;

/// Why a trigger id could not open a modal. Trigger ids come with a slash command or a
/// click, work once, and only for 3 seconds: the person has to act again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerProblem {
    /// `expired_trigger_id`: more than 3 s passed since Slack issued it.
    Expired,
    /// `exchanged_trigger_id`: it already opened a view.
    Exchanged,
    /// `invalid_trigger_id` (or an id that is not one at all).
    Invalid,
}

impl std::fmt::Display for TriggerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TriggerProblem::Expired => "expired",
            TriggerProblem::Exchanged => "already used",
            TriggerProblem::Invalid => "not valid",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SlackApiError {
    /// Slack answered `ok: false`; the code is Slack's (`channel_not_found`, …), and
    /// `messages` its explanation when it gave one (`invalid_arguments`,
    /// `invalid_blocks`: "[ERROR] … [json-pointer:…]").
    #[error("Slack refused {method}: {code}{}", explained(messages))]
    Refused {
        method: &'static str,
        code: String,
        messages: Vec<String>,
    },
    /// `views.open` could not use the trigger id.
    #[error("Slack could not open the modal: the trigger id is {problem}")]
    Trigger { problem: TriggerProblem },
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

fn explained(messages: &[String]) -> String {
    if messages.is_empty() {
        String::new()
    } else {
        format!(" ({})", messages.join("; "))
    }
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
            SlackApiError::Trigger { .. } => {
                "trigger ids work once and for 3 seconds: run the command or click again"
            }
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

/// A view Slack accepted: its id, and the hash a later update must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedView {
    pub id: String,
    pub hash: String,
}

/// One page of conversations.history / conversations.replies, read leniently: only
/// what finding a keyed post needs. (slack-morphism's models type `event_payload` as
/// string-to-string, so one message with a number in another app's metadata would make
/// the whole page unreadable.)
#[derive(Debug, Deserialize)]
struct HistoryPage {
    #[serde(default)]
    messages: Vec<HistoryMessage>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    response_metadata: Option<CursorMetadata>,
}

#[derive(Debug, Deserialize)]
struct HistoryMessage {
    ts: String,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct CursorMetadata {
    #[serde(default)]
    next_cursor: Option<String>,
}

impl HistoryMessage {
    fn has_key(&self, key: &str) -> bool {
        let Some(metadata) = &self.metadata else {
            return false;
        };
        self.bot_id.is_some()
            && metadata["event_type"] == POST_KEY_EVENT_TYPE
            && metadata["event_payload"]["key"] == key
    }
}

/// `views.open` / `views.publish` bodies: the view goes as the JSON the bot built, so
/// nothing is lost in a round trip through slack-morphism's `SlackView` model.
#[derive(Debug, Serialize)]
struct ViewsOpenBody<'a> {
    trigger_id: &'a str,
    view: &'a Value,
}

#[derive(Debug, Serialize)]
struct ViewsPublishBody<'a> {
    user_id: &'a str,
    view: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct ViewReply {
    view: ViewIds,
}

#[derive(Debug, Deserialize)]
struct ViewIds {
    id: String,
    #[serde(default)]
    hash: String,
}

#[derive(Clone)]
pub struct SlackApi {
    client: Arc<Client>,
    bot_token: SlackApiToken,
    app_token: SlackApiToken,
    rate_limit_retries: u32,
    /// When Slack last answered this client (for `/readyz`).
    liveness: Arc<Liveness>,
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
            liveness: Arc::default(),
        }
    }

    /// What this client (and the listener given the same `Arc`) knows of Slack's
    /// answers, for `/readyz`.
    pub fn liveness(&self) -> Arc<Liveness> {
        self.liveness.clone()
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
            let answer = attempt().await;
            crate::metrics::global().request("slack", method, answer.is_ok());
            match answer {
                Ok(value) => {
                    self.liveness.slack_answered();
                    return Ok(value);
                }
                Err(SlackClientError::RateLimitError(limit))
                    if tries <= self.rate_limit_retries =>
                {
                    let wait = limit
                        .retry_after
                        .unwrap_or(Duration::from_secs(1))
                        .min(MAX_RETRY_AFTER);
                    crate::metrics::global().rate_limit_wait("slack", wait);
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

    /// Posts `message` carrying `key` in its metadata
    /// (`{event_type: "lockstep_post", event_payload: {key}}`), so that after a crash
    /// between Slack's answer and the bot recording the ts, [`Self::find_posted_by_key`]
    /// finds the message instead of posting it twice.
    pub async fn post_message_with_key(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        message: &Message,
        key: &str,
        broadcast: bool,
    ) -> Result<Posted, SlackApiError> {
        let payload = HashMap::from([("key".to_string(), key.to_string())]);
        let content = message_content(message).with_metadata(
            SlackMessageMetadata::new(POST_KEY_EVENT_TYPE.to_string()).with_event_payload(payload),
        );
        let mut request = SlackApiChatPostMessageRequest::new(channel.into(), content);
        if let Some(thread_ts) = thread_ts {
            request = request.with_thread_ts(thread_ts.into());
            if broadcast {
                request = request.with_reply_broadcast(true);
            }
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

    /// The message a bot posted under `key` with [`Self::post_message_with_key`]: in
    /// the thread `thread_ts` (conversations.replies) or at the top of `channel`
    /// (conversations.history), no older than `oldest_ts` (inclusive; pass when the
    /// work began, so the search reads only what it must). Pages through everything in
    /// range; `None` when no such message exists.
    pub async fn find_posted_by_key(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        key: &str,
        oldest_ts: Option<&str>,
    ) -> Result<Option<Posted>, SlackApiError> {
        let method = match thread_ts {
            Some(_) => "conversations.replies",
            None => "conversations.history",
        };
        let session = self.client.open_session(&self.bot_token);
        let mut cursor: Option<String> = None;
        loop {
            // slack-morphism's replies request has no include_all_metadata, so both
            // methods go through its raw GET with Slack's argument names.
            let params: Vec<(&str, Option<String>)> = vec![
                ("channel", Some(channel.to_string())),
                ("ts", thread_ts.map(str::to_string)),
                ("include_all_metadata", Some("true".to_string())),
                ("inclusive", oldest_ts.map(|_| "true".to_string())),
                ("oldest", oldest_ts.map(str::to_string)),
                ("limit", Some(HISTORY_PAGE.to_string())),
                ("cursor", cursor.clone()),
            ];
            let page: HistoryPage = self
                .call(method, || {
                    session.http_session_api.http_get(
                        method,
                        &params,
                        Some(&SLACK_TIER3_METHOD_CONFIG),
                    )
                })
                .await?;
            if let Some(found) = page.messages.iter().find(|m| m.has_key(key)) {
                return Ok(Some(Posted {
                    channel: channel.to_string(),
                    ts: found.ts.clone(),
                }));
            }
            cursor = page
                .response_metadata
                .and_then(|m| m.next_cursor)
                .filter(|c| !c.is_empty());
            if !page.has_more || cursor.is_none() {
                return Ok(None);
            }
        }
    }

    /// Opens a modal for the person whose command or click carried `trigger_id`.
    /// `view` is the modal as Slack's JSON (`type: "modal"`, `title`, `blocks`, …).
    /// A trigger that is expired, already used or unknown is
    /// [`SlackApiError::Trigger`]; a view Slack rejects is `Refused` with its reasons.
    pub async fn open_modal(
        &self,
        trigger_id: &str,
        view: &Value,
    ) -> Result<OpenedView, SlackApiError> {
        let body = ViewsOpenBody { trigger_id, view };
        let session = self.client.open_session(&self.bot_token);
        let reply: ViewReply = self
            .call("views.open", || {
                session.http_session_api.http_post(
                    "views.open",
                    &body,
                    Some(&SLACK_TIER4_METHOD_CONFIG),
                )
            })
            .await
            .map_err(|err| match err {
                SlackApiError::Refused { code, messages, .. } => match code.as_str() {
                    "expired_trigger_id" => SlackApiError::Trigger {
                        problem: TriggerProblem::Expired,
                    },
                    "exchanged_trigger_id" => SlackApiError::Trigger {
                        problem: TriggerProblem::Exchanged,
                    },
                    "invalid_trigger_id" => SlackApiError::Trigger {
                        problem: TriggerProblem::Invalid,
                    },
                    _ if messages.iter().any(|m| m == "invalid `trigger_id`") => {
                        SlackApiError::Trigger {
                            problem: TriggerProblem::Invalid,
                        }
                    }
                    _ => SlackApiError::Refused {
                        method: "views.open",
                        code,
                        messages,
                    },
                },
                other => other,
            })?;
        Ok(OpenedView {
            id: reply.view.id,
            hash: reply.view.hash,
        })
    }

    /// Publishes `user`'s App Home tab (`view`: Slack's JSON with `type: "home"`).
    /// With `hash` (from the last publish), Slack refuses with `hash_conflict` if the
    /// tab changed since, so two writers cannot silently overwrite each other.
    pub async fn publish_home(
        &self,
        user: &str,
        view: &Value,
        hash: Option<&str>,
    ) -> Result<OpenedView, SlackApiError> {
        let body = ViewsPublishBody {
            user_id: user,
            view,
            hash,
        };
        let session = self.client.open_session(&self.bot_token);
        let reply: ViewReply = self
            .call("views.publish", || {
                session.http_session_api.http_post(
                    "views.publish",
                    &body,
                    Some(&SLACK_TIER4_METHOD_CONFIG),
                )
            })
            .await?;
        Ok(OpenedView {
            id: reply.view.id,
            hash: reply.view.hash,
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

/// Slack's `response_metadata.messages`, when the error body has them.
fn response_messages(body: Option<&str>) -> Vec<String> {
    body.and_then(|b| serde_json::from_str::<Value>(b).ok())
        .and_then(|v| {
            v["response_metadata"]["messages"].as_array().map(|m| {
                m.iter()
                    .filter_map(|m| m.as_str().map(str::to_string))
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn classify(method: &'static str, err: SlackClientError, tries: u32) -> SlackApiError {
    match err {
        SlackClientError::ApiError(api) => SlackApiError::Refused {
            method,
            messages: response_messages(api.http_response_body.as_deref()),
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
