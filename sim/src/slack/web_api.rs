//! The Slack Web API under `/api/<method>`: argument parsing (query string, JSON or
//! form body), token checks, injected 429s, and the methods the bot uses
//! (`apps.connections.open`, `auth.test`, `chat.postMessage`, `chat.update`,
//! `chat.postEphemeral`, `users.info`, `usergroups.users.list`; reading history is
//! `history`'s, views are `views`'). Answers exactly as
//! Slack does: HTTP 200 with `{"ok":false,"error":…}` for API errors, 429 with
//! `Retry-After` for rate limits, always `application/json; charset=utf-8`.
//! It owns no state of its own; it reads and writes `State` through `Shared`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::state::{
    BotOutput, EphemeralMessage, EphemeralVia, RateLimit, Shared, SimMessage, State,
};
use super::{blocks, history, payloads, views};

/// A Slack API error, returned as `{"ok":false,"error":code}` plus, when Slack explains
/// itself (invalid_blocks), `response_metadata.messages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub code: &'static str,
    pub messages: Vec<String>,
}

impl ApiError {
    pub(crate) fn code(code: &'static str) -> Self {
        Self {
            code,
            messages: Vec::new(),
        }
    }
}

type ApiResult = Result<Value, ApiError>;

/// Which kind of token a method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenKind {
    Bot,
    App,
}

/// The arguments of one call, merged from the query string and the body.
#[derive(Debug, Default)]
pub(crate) struct Params {
    args: Map<String, Value>,
    /// `token` given as an argument (query or form) rather than a header.
    arg_token: Option<String>,
}

impl Params {
    /// Parses query + body. JSON bodies must be objects; form bodies are
    /// `application/x-www-form-urlencoded`; an empty body adds nothing.
    pub(crate) fn parse(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let mut params = Params::default();
        if let Some(query) = query {
            params.add_form(query.as_bytes());
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(params);
        }
        let mime = content_type
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "application/json" => match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(object)) => params.args.extend(object),
                _ => return Err(ApiError::code("invalid_json")),
            },
            "application/x-www-form-urlencoded" | "" => params.add_form(body),
            _ => return Err(ApiError::code("invalid_post_type")),
        }
        Ok(params)
    }

    fn add_form(&mut self, bytes: &[u8]) {
        for (key, value) in url::form_urlencoded::parse(bytes) {
            if key == "token" {
                self.arg_token = Some(value.to_string());
            } else {
                self.args
                    .insert(key.into_owned(), Value::String(value.into_owned()));
            }
        }
    }

    /// A non-empty string argument (numbers are accepted and stringified, as Slack does
    /// for `ts` values sent as JSON numbers).
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.args.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A JSON object argument: an object in a JSON body, or a string holding one (form
    /// bodies, and clients that encode it as Slack's docs say). `Ok(None)` when absent;
    /// `Err(())` when present but not an object.
    pub(crate) fn object(&self, key: &str) -> Result<Option<Map<String, Value>>, ()> {
        let parsed = match self.args.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.is_empty() => return Ok(None),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|_| ())?,
            Some(other) => other.clone(),
        };
        match parsed {
            Value::Object(object) => Ok(Some(object)),
            _ => Err(()),
        }
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        match self.args.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            Some(Value::Number(n)) => n.as_u64() == Some(1),
            _ => false,
        }
    }

    /// `blocks` as a JSON array, or a string holding one (form bodies); absent = `None`.
    pub(crate) fn blocks(&self) -> Result<Option<Vec<Value>>, ApiError> {
        let parsed = match self.args.get("blocks") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) if s.is_empty() => return Ok(None),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .map_err(|_| ApiError::code("invalid_blocks_format"))?,
            Some(other) => other.clone(),
        };
        match parsed {
            Value::Array(blocks)
                if blocks
                    .iter()
                    .all(|b| b.get("type").is_some_and(Value::is_string)) =>
            {
                Ok(Some(blocks))
            }
            Value::Array(_) => Err(ApiError::code("invalid_blocks")),
            _ => Err(ApiError::code("invalid_blocks_format")),
        }
    }
}

/// `ANY /api/{*method}`.
pub(crate) async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    // slack-morphism joins base and method with '/', so a base ending in '/' gives "//".
    let method = method.trim_start_matches('/').to_string();
    shared
        .lock()
        .api_calls
        .entry(method.clone())
        .and_modify(|n| *n += 1)
        .or_insert(1);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let params = match Params::parse(query.as_deref(), content_type, &body) {
        Ok(params) => params,
        Err(error) => return error_response(error),
    };
    let header_token = bearer_token(&headers);
    let Some(kind) = token_kind_for(&method) else {
        return json_response(
            StatusCode::OK,
            json!({"ok": false, "error": "unknown_method", "req_method": method}),
            None,
        );
    };
    if let Err(error) = authenticate(
        &shared,
        kind,
        header_token.as_deref(),
        params.arg_token.as_deref(),
    ) {
        return error_response(error);
    }
    if let Some(retry_after) = take_rate_limit(&shared, &method) {
        return json_response(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"ok": false, "error": "ratelimited"}),
            Some(retry_after),
        );
    }
    let result = call(&shared, &method, &params);
    match result {
        Ok(Value::Object(mut fields)) => {
            let mut body = Map::new();
            body.insert("ok".into(), Value::Bool(true));
            body.append(&mut fields);
            json_response(StatusCode::OK, Value::Object(body), None)
        }
        Ok(_) => json_response(StatusCode::OK, json!({"ok": true}), None),
        Err(error) => error_response(error),
    }
}

fn call(shared: &Shared, method: &str, params: &Params) -> ApiResult {
    match method {
        "apps.connections.open" => connections_open(shared),
        "auth.test" => Ok(auth_test(shared)),
        "chat.postMessage" => post_message(shared, params),
        "chat.update" => update_message(shared, params),
        "chat.postEphemeral" => post_ephemeral(shared, params),
        "users.info" => users_info(shared, params),
        "usergroups.users.list" => usergroup_users(shared, params),
        "conversations.history" => history::conversations_history(shared, params),
        "conversations.replies" => history::conversations_replies(shared, params),
        "views.open" => views::views_open(shared, params),
        "views.publish" => views::views_publish(shared, params),
        _ => Err(ApiError::code("unknown_method")),
    }
}

fn token_kind_for(method: &str) -> Option<TokenKind> {
    match method {
        "apps.connections.open" => Some(TokenKind::App),
        "auth.test"
        | "chat.postMessage"
        | "chat.update"
        | "chat.postEphemeral"
        | "users.info"
        | "usergroups.users.list"
        | "conversations.history"
        | "conversations.replies"
        | "views.open"
        | "views.publish" => Some(TokenKind::Bot),
        _ => None,
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim().to_string()).filter(|t| !t.is_empty())
}

/// Slack: the app-level token of `apps.connections.open` must come in the header
/// (as an argument it is refused); bot methods take the header or a `token` argument.
fn authenticate(
    shared: &Shared,
    needed: TokenKind,
    header_token: Option<&str>,
    arg_token: Option<&str>,
) -> Result<(), ApiError> {
    let presented = match needed {
        TokenKind::App => header_token,
        TokenKind::Bot => header_token.or(arg_token),
    };
    let presented = presented.ok_or(ApiError::code("not_authed"))?;
    let kind = if presented == shared.config.bot_token {
        TokenKind::Bot
    } else if presented == shared.config.app_token {
        TokenKind::App
    } else {
        return Err(ApiError::code("invalid_auth"));
    };
    if kind == needed {
        Ok(())
    } else {
        Err(ApiError::code("not_allowed_token_type"))
    }
}

/// Consumes one injected 429 for `method`, returning its `Retry-After` seconds.
fn take_rate_limit(shared: &Shared, method: &str) -> Option<u64> {
    let mut state = shared.lock();
    let limit: &mut RateLimit = state.rate_limits.get_mut(method)?;
    if limit.remaining == 0 {
        return None;
    }
    limit.remaining -= 1;
    Some(limit.retry_after_secs)
}

fn json_response(status: StatusCode, body: Value, retry_after: Option<u64>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(seconds) = retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn error_response(error: ApiError) -> Response {
    let mut body = json!({"ok": false, "error": error.code});
    if !error.messages.is_empty() {
        body["response_metadata"] = json!({"messages": error.messages});
    }
    json_response(StatusCode::OK, body, None)
}

fn connections_open(shared: &Shared) -> ApiResult {
    let ticket = payloads::new_opaque_id();
    shared.lock().tickets.insert(ticket.clone());
    let ws_base = shared.base_url.replacen("http://", "ws://", 1);
    Ok(json!({
        "url": format!("{ws_base}/link/?ticket={ticket}&app_id={}", shared.config.app_id),
    }))
}

fn auth_test(shared: &Shared) -> Value {
    let config = &shared.config;
    json!({
        "url": format!("https://{}.slack.com/", config.team_domain),
        "team": config.team_name,
        "user": config.bot_name,
        "team_id": config.team_id,
        "user_id": config.bot_user_id,
        "bot_id": config.bot_id,
        "is_enterprise_install": false,
    })
}

/// Text and blocks of a message; Slack refuses a message with neither.
pub(crate) fn message_content(params: &Params) -> Result<(String, Vec<Value>), ApiError> {
    let text = params.str("text").unwrap_or_default();
    let mut blocks = params.blocks()?.unwrap_or_default();
    if text.trim().is_empty() && blocks.is_empty() {
        return Err(ApiError::code("no_text"));
    }
    check_limits(&text, &blocks)?;
    blocks::normalise(&mut blocks);
    Ok((text, blocks))
}

/// The `metadata` argument of chat.postMessage / chat.update: `{event_type,
/// event_payload}`. Not JSON (or not an object) is `invalid_metadata_format`; an
/// object without a string `event_type` and an object `event_payload` is
/// `invalid_metadata_schema` (the two codes Slack documents for these cases).
pub(crate) fn message_metadata(params: &Params) -> Result<Option<Value>, ApiError> {
    let object = params
        .object("metadata")
        .map_err(|()| ApiError::code("invalid_metadata_format"))?;
    let Some(object) = object else {
        return Ok(None);
    };
    let event_type_ok = object
        .get("event_type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let payload_ok = object.get("event_payload").is_some_and(Value::is_object);
    if !event_type_ok || !payload_ok {
        return Err(ApiError::code("invalid_metadata_schema"));
    }
    Ok(Some(json!({
        "event_type": object["event_type"],
        "event_payload": object["event_payload"],
    })))
}

/// Slack's size limits: text over 40,000 characters, or blocks breaking Block Kit's rules.
pub(crate) fn check_limits(text: &str, blocks: &[Value]) -> Result<(), ApiError> {
    if text.chars().count() > blocks::MAX_TEXT_CHARS {
        return Err(ApiError::code("msg_too_long"));
    }
    blocks::validate(blocks).map_err(|messages| ApiError {
        code: "invalid_blocks",
        messages,
    })
}

/// The root ts of the thread `thread_ts` names: a message in the channel, or the root
/// of the thread a reply belongs to.
pub(crate) fn thread_root(
    state: &State,
    channel: &str,
    thread_ts: &str,
) -> Result<String, ApiError> {
    let message = state
        .message(channel, thread_ts)
        .ok_or(ApiError::code("thread_not_found"))?;
    Ok(message
        .thread_ts
        .clone()
        .unwrap_or_else(|| message.ts.clone()))
}

fn channel_id(shared: &Shared, params: &Params) -> Result<String, ApiError> {
    let channel = params
        .str("channel")
        .ok_or(ApiError::code("channel_not_found"))?;
    shared
        .config
        .channel(&channel)
        .map(|c| c.id.clone())
        .ok_or(ApiError::code("channel_not_found"))
}

fn post_message(shared: &Shared, params: &Params) -> ApiResult {
    let channel = channel_id(shared, params)?;
    if !shared
        .config
        .is_member(&channel, &shared.config.bot_user_id)
    {
        return Err(ApiError::code("not_in_channel"));
    }
    let (text, blocks) = message_content(params)?;
    let metadata = message_metadata(params)?;
    let mut state = shared.lock();
    let thread_ts = match params.str("thread_ts") {
        Some(ts) => Some(thread_root(&state, &channel, &ts)?),
        None => None,
    };
    let reply_broadcast = thread_ts.is_some() && params.flag("reply_broadcast");
    let ts = state.clock.next();
    let message = SimMessage {
        channel: channel.clone(),
        ts: ts.clone(),
        thread_ts: thread_ts.clone(),
        user: shared.config.bot_user_id.clone(),
        bot_id: Some(shared.config.bot_id.clone()),
        text: text.clone(),
        blocks: blocks.clone(),
        edited_ts: None,
        reply_broadcast,
        metadata,
    };
    let message_json = message.to_slack_json(&shared.config);
    state.insert_message(message);
    shared.record_output(
        &mut state,
        BotOutput::Posted {
            channel: channel.clone(),
            ts: ts.clone(),
            thread_ts,
            text,
            blocks,
            reply_broadcast,
        },
    );
    Ok(json!({"channel": channel, "ts": ts, "message": message_json}))
}

fn update_message(shared: &Shared, params: &Params) -> ApiResult {
    let channel = channel_id(shared, params)?;
    let ts = params
        .str("ts")
        .ok_or(ApiError::code("message_not_found"))?;
    let text = params.str("text");
    let mut blocks = params.blocks()?;
    if text.is_none() && blocks.is_none() {
        return Err(ApiError::code("no_text"));
    }
    check_limits(
        text.as_deref().unwrap_or_default(),
        blocks.as_deref().unwrap_or_default(),
    )?;
    if let Some(blocks) = blocks.as_mut() {
        blocks::normalise(blocks);
    }
    let metadata = message_metadata(params)?;
    let mut state = shared.lock();
    let edited_ts = state.clock.next();
    let message = state
        .message_mut(&channel, &ts)
        .ok_or(ApiError::code("message_not_found"))?;
    if message.bot_id.as_deref() != Some(shared.config.bot_id.as_str()) {
        return Err(ApiError::code("cant_update_message"));
    }
    // Slack keeps the fields a chat.update leaves out.
    if let Some(text) = text {
        message.text = text;
    }
    if let Some(blocks) = blocks {
        message.blocks = blocks;
    }
    if metadata.is_some() {
        message.metadata = metadata;
    }
    message.edited_ts = Some(edited_ts);
    let updated = message.clone();
    let mut message_json = updated.to_slack_json(&shared.config);
    if let Some(fields) = message_json.as_object_mut() {
        fields.remove("ts");
    }
    shared.record_output(
        &mut state,
        BotOutput::Updated {
            channel: channel.clone(),
            ts: ts.clone(),
            text: updated.text.clone(),
            blocks: updated.blocks.clone(),
        },
    );
    Ok(json!({"channel": channel, "ts": ts, "text": updated.text, "message": message_json}))
}

fn post_ephemeral(shared: &Shared, params: &Params) -> ApiResult {
    let channel = channel_id(shared, params)?;
    let user = params
        .str("user")
        .ok_or(ApiError::code("user_not_in_channel"))?;
    if shared.config.user(&user).is_none() || !shared.config.is_member(&channel, &user) {
        return Err(ApiError::code("user_not_in_channel"));
    }
    let (text, blocks) = message_content(params)?;
    let thread_ts = params.str("thread_ts");
    let mut state = shared.lock();
    let ts = state.clock.next();
    state.insert_ephemeral(EphemeralMessage {
        channel: channel.clone(),
        user: user.clone(),
        ts: ts.clone(),
        thread_ts: thread_ts.clone(),
        text: text.clone(),
        blocks: blocks.clone(),
    });
    shared.record_output(
        &mut state,
        BotOutput::Ephemeral {
            channel,
            user,
            ts: ts.clone(),
            text,
            blocks,
            via: EphemeralVia::PostEphemeral,
            thread_ts,
        },
    );
    Ok(json!({"message_ts": ts}))
}

fn users_info(shared: &Shared, params: &Params) -> ApiResult {
    let id = params.str("user").ok_or(ApiError::code("user_not_found"))?;
    let user = shared
        .config
        .user(&id)
        .ok_or(ApiError::code("user_not_found"))?;
    Ok(json!({
        "user": {
            "id": user.id,
            "team_id": shared.config.team_id,
            "name": user.name,
            "real_name": user.real_name,
            "deleted": user.deleted,
            "is_admin": user.is_admin,
            "is_owner": false,
            "is_bot": user.is_bot,
            "is_app_user": false,
            "tz": user.tz,
            "profile": {
                "display_name": user.display_name,
                "real_name": user.real_name,
                "email": user.email,
                "team": shared.config.team_id,
            },
        }
    }))
}

fn usergroup_users(shared: &Shared, params: &Params) -> ApiResult {
    let id = params
        .str("usergroup")
        .ok_or(ApiError::code("no_such_subteam"))?;
    let group = shared
        .config
        .usergroup(&id)
        .ok_or(ApiError::code("no_such_subteam"))?;
    Ok(json!({"users": group.users}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn params_merge_query_json_and_form() {
        let p = Params::parse(
            Some("user=U0PM&token=xoxb-q"),
            Some("application/json; charset=utf-8"),
            br#"{"channel":"C0DEPLOY","ts":1.5,"reply_broadcast":true}"#,
        )
        .unwrap();
        assert_eq!(p.str("user").as_deref(), Some("U0PM"));
        assert_eq!(p.arg_token.as_deref(), Some("xoxb-q"));
        assert_eq!(p.str("ts").as_deref(), Some("1.5"));
        assert!(p.flag("reply_broadcast"));

        let form = Params::parse(
            None,
            Some("application/x-www-form-urlencoded"),
            b"channel=C0DEPLOY&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D",
        )
        .unwrap();
        assert_eq!(form.blocks().unwrap().unwrap().len(), 1);
    }

    #[test]
    fn bad_bodies_get_slack_errors() {
        assert_eq!(
            Params::parse(None, Some("application/json"), b"[1]").unwrap_err(),
            ApiError::code("invalid_json")
        );
        assert_eq!(
            Params::parse(None, Some("text/xml"), b"<x/>").unwrap_err(),
            ApiError::code("invalid_post_type")
        );
        let p = Params::parse(
            None,
            Some("application/json"),
            br#"{"blocks":[{"no":"type"}]}"#,
        )
        .unwrap();
        assert_eq!(p.blocks().unwrap_err(), ApiError::code("invalid_blocks"));
        let p = Params::parse(None, Some("application/json"), br#"{"blocks":"nope"}"#).unwrap();
        assert_eq!(
            p.blocks().unwrap_err(),
            ApiError::code("invalid_blocks_format")
        );
        let p = Params::parse(None, Some("application/json"), br#"{"text":"  "}"#).unwrap();
        assert_eq!(message_content(&p).unwrap_err(), ApiError::code("no_text"));
    }

    proptest! {
        #[test]
        fn params_parse_never_panics(query in ".{0,64}", ctype in "(application/json|application/x-www-form-urlencoded|text/plain|)", body in proptest::collection::vec(any::<u8>(), 0..128)) {
            if let Ok(p) = Params::parse(Some(&query), Some(&ctype), &body) {
                let _ = p.blocks();
                let _ = p.str("channel");
            }
        }
    }
}
