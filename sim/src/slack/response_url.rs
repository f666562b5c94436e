//! Response URLs (`POST /response/<id>`), handed out in every slash-command and
//! block_actions payload. Body: `{text, blocks, response_type, replace_original,
//! delete_original, thread_ts}` as JSON (or a form field `payload` holding it).
//!
//! Answers as Slack's hooks endpoint does: `200 ok` (text body) on success; plain-text
//! errors otherwise. Choices, with the evidence behind them:
//! - expired (older than `response_url_ttl`, Slack: 30 min) → 404 `Expired url`: the
//!   body Slack sends, as Sentry's Slack integration matches it verbatim ("Yes the error
//!   string has a space in it").
//! - used more than `response_url_max_uses` times (Slack: 5) → 404 `used_url`: the limit
//!   is documented, the exact body is not; this is our choice.
//! - unknown id → 404 `no_service`, Slack's answer for an unknown hook URL.
//! - neither text nor blocks → 400 `no_text`; unparseable body → 400 `invalid_payload`.
//!
//! For a click, "original" is the clicked message and `replace_original` defaults to
//! true: Slack replaces the clicked message unless told `replace_original: false`
//! (howdyai/botkit#446: an "ephemeral" reply to a click replaced the public message
//! until they sent false). For a slash command, "original" is the last message sent
//! through the same URL and the default is false.
//! Records each use as a `BotOutput`; also shows slash-command ack payloads (which
//! Slack displays like a response). Must not touch Socket Mode or the Web API.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::blocks;
use super::state::{
    BotOutput, EphemeralMessage, EphemeralVia, ResponseOrigin, Shared, SimMessage, State,
};

/// A refused response-URL post: HTTP status and the plain-text body Slack sends.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HookError(pub StatusCode, pub &'static str);

/// What the bot asked for.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct HookRequest {
    pub text: String,
    pub blocks: Vec<Value>,
    pub in_channel: bool,
    pub replace_original: Option<bool>,
    pub delete_original: bool,
    pub thread_ts: Option<String>,
}

impl HookRequest {
    pub(crate) fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, HookError> {
        let invalid = HookError(StatusCode::BAD_REQUEST, "invalid_payload");
        let is_form =
            content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let json: Value = if is_form {
            let payload = url::form_urlencoded::parse(body)
                .find(|(k, _)| k == "payload")
                .map(|(_, v)| v.into_owned())
                .ok_or(invalid)?;
            serde_json::from_str(&payload)
                .map_err(|_| HookError(StatusCode::BAD_REQUEST, "invalid_payload"))?
        } else {
            serde_json::from_slice(body)
                .map_err(|_| HookError(StatusCode::BAD_REQUEST, "invalid_payload"))?
        };
        Self::from_value(&json)
    }

    /// The message fields of a response-URL body or a slash-command ack payload.
    pub(crate) fn from_value(json: &Value) -> Result<Self, HookError> {
        let Value::Object(fields) = json else {
            return Err(HookError(StatusCode::BAD_REQUEST, "invalid_payload"));
        };
        let flag = |key: &str| match fields.get(key) {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => Some(s == "true"),
            _ => None,
        };
        let mut blocks = match fields.get("blocks") {
            Some(Value::Array(blocks)) => blocks.clone(),
            Some(Value::String(s)) => serde_json::from_str::<Vec<Value>>(s)
                .map_err(|_| HookError(StatusCode::BAD_REQUEST, "invalid_blocks"))?,
            _ => Vec::new(),
        };
        if blocks::validate(&blocks).is_err() {
            return Err(HookError(StatusCode::BAD_REQUEST, "invalid_blocks"));
        }
        blocks::normalise(&mut blocks);
        Ok(HookRequest {
            text: fields
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            blocks,
            in_channel: fields.get("response_type").and_then(Value::as_str) == Some("in_channel"),
            replace_original: flag("replace_original"),
            delete_original: flag("delete_original").unwrap_or(false),
            thread_ts: fields
                .get("thread_ts")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    fn is_empty(&self) -> bool {
        self.text.trim().is_empty() && self.blocks.is_empty()
    }
}

/// `POST /response/{id}`.
pub(crate) async fn respond(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let outcome =
        HookRequest::parse(content_type, &body).and_then(|request| apply(&shared, &id, request));
    let (status, text) = match outcome {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(HookError(status, text)) => (status, text),
    };
    let mut response = (status, text).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// Marks a response URL as expired, as if its 30 minutes had passed.
pub(crate) fn expire(shared: &Shared, url: &str) -> anyhow::Result<()> {
    let id = url.rsplit('/').next().unwrap_or_default();
    let mut state = shared.lock();
    let record = state
        .response_urls
        .get_mut(id)
        .ok_or_else(|| anyhow::anyhow!("{url} is not a response URL this sim handed out"))?;
    record.expired = true;
    Ok(())
}

fn apply(shared: &Shared, id: &str, request: HookRequest) -> Result<(), HookError> {
    let mut state = shared.lock();
    let record = state
        .response_urls
        .get(id)
        .ok_or(HookError(StatusCode::NOT_FOUND, "no_service"))?;
    if record.expired || record.created_at.elapsed() > shared.config.response_url_ttl {
        return Err(HookError(StatusCode::NOT_FOUND, "Expired url"));
    }
    if record.uses >= shared.config.response_url_max_uses {
        return Err(HookError(StatusCode::NOT_FOUND, "used_url"));
    }
    let target = Target {
        channel: record.channel.clone(),
        user: record.user.clone(),
        original: match &record.origin {
            ResponseOrigin::Message { ts, ephemeral } => Some((ts.clone(), *ephemeral)),
            ResponseOrigin::SlashCommand => record.last_sent.clone(),
        },
        replace_by_default: matches!(record.origin, ResponseOrigin::Message { .. }),
    };
    let sent = target.apply(shared, &mut state, request, EphemeralVia::ResponseUrl)?;
    if let Some(record) = state.response_urls.get_mut(id) {
        record.uses += 1;
        if sent.is_some() {
            record.last_sent = sent;
        }
    }
    Ok(())
}

/// Shows a slash command's ack payload (`{text, blocks, response_type}`) to the user as
/// Slack does: ephemeral by default, in the channel for `in_channel`. It becomes the
/// "original" of the command's response URL, and does not count as one of its uses.
pub(crate) fn show_ack_payload(
    shared: &Shared,
    state: &mut State,
    response_url: &str,
    payload: &Value,
) -> Result<(), HookError> {
    let id = response_url.rsplit('/').next().unwrap_or_default();
    let record = state
        .response_urls
        .get(id)
        .ok_or(HookError(StatusCode::NOT_FOUND, "no_service"))?;
    let target = Target {
        channel: record.channel.clone(),
        user: record.user.clone(),
        original: None,
        replace_by_default: false,
    };
    let mut request = HookRequest::from_value(payload)?;
    // An ack cannot replace or delete anything: nothing was sent before it.
    request.replace_original = None;
    request.delete_original = false;
    let sent = target.apply(shared, state, request, EphemeralVia::AckPayload)?;
    if let Some(record) = state.response_urls.get_mut(id) {
        record.last_sent = sent;
    }
    Ok(())
}

/// Where one response lands.
struct Target {
    channel: String,
    user: String,
    /// (ts, is_ephemeral) of the "original" message, if there is one.
    original: Option<(String, bool)>,
    replace_by_default: bool,
}

impl Target {
    /// Applies the request; returns the (ts, ephemeral) of a newly sent message.
    fn apply(
        &self,
        shared: &Shared,
        state: &mut State,
        request: HookRequest,
        via: EphemeralVia,
    ) -> Result<Option<(String, bool)>, HookError> {
        if request.delete_original {
            self.delete(shared, state)?;
            return Ok(None);
        }
        if request.is_empty() {
            return Err(HookError(StatusCode::BAD_REQUEST, "no_text"));
        }
        let replace = request.replace_original.unwrap_or(self.replace_by_default);
        if let (true, Some((ts, ephemeral))) = (replace, self.original.clone()) {
            self.replace(shared, state, &ts, ephemeral, request)?;
            return Ok(None);
        }
        if request.in_channel {
            Ok(Some((self.post_in_channel(shared, state, request), false)))
        } else {
            Ok(Some((
                self.post_ephemeral(shared, state, request, via),
                true,
            )))
        }
    }

    fn delete(&self, shared: &Shared, state: &mut State) -> Result<(), HookError> {
        let (ts, ephemeral) = self
            .original
            .clone()
            .ok_or(HookError(StatusCode::NOT_FOUND, "message_not_found"))?;
        let removed = if ephemeral {
            state.remove_ephemeral(&self.channel, &ts).is_some()
        } else {
            state.remove_message(&self.channel, &ts).is_some()
        };
        if !removed {
            return Err(HookError(StatusCode::NOT_FOUND, "message_not_found"));
        }
        let user = ephemeral.then(|| self.user.clone());
        shared.record_output(
            state,
            BotOutput::ResponseDeleted {
                channel: self.channel.clone(),
                ts,
                user,
            },
        );
        Ok(())
    }

    fn replace(
        &self,
        shared: &Shared,
        state: &mut State,
        ts: &str,
        ephemeral: bool,
        request: HookRequest,
    ) -> Result<(), HookError> {
        let edited_ts = state.clock.next();
        if ephemeral {
            let message = state
                .ephemeral_mut(&self.channel, ts)
                .ok_or(HookError(StatusCode::NOT_FOUND, "message_not_found"))?;
            message.text = request.text.clone();
            message.blocks = request.blocks.clone();
        } else {
            let message = state
                .message_mut(&self.channel, ts)
                .ok_or(HookError(StatusCode::NOT_FOUND, "message_not_found"))?;
            message.text = request.text.clone();
            message.blocks = request.blocks.clone();
            message.edited_ts = Some(edited_ts);
        }
        shared.record_output(
            state,
            BotOutput::ResponseReplaced {
                channel: self.channel.clone(),
                ts: ts.to_string(),
                user: ephemeral.then(|| self.user.clone()),
                text: request.text,
                blocks: request.blocks,
            },
        );
        Ok(())
    }

    fn thread_root(&self, state: &State, thread_ts: Option<&str>) -> Option<String> {
        let message = state.message(&self.channel, thread_ts?)?;
        Some(
            message
                .thread_ts
                .clone()
                .unwrap_or_else(|| message.ts.clone()),
        )
    }

    fn post_in_channel(&self, shared: &Shared, state: &mut State, request: HookRequest) -> String {
        let ts = state.clock.next();
        let thread_ts = self.thread_root(state, request.thread_ts.as_deref());
        state.insert_message(SimMessage {
            channel: self.channel.clone(),
            ts: ts.clone(),
            thread_ts: thread_ts.clone(),
            user: shared.config.bot_user_id.clone(),
            bot_id: Some(shared.config.bot_id.clone()),
            text: request.text.clone(),
            blocks: request.blocks.clone(),
            edited_ts: None,
            reply_broadcast: false,
            metadata: None,
        });
        shared.record_output(
            state,
            BotOutput::ResponseInChannel {
                channel: self.channel.clone(),
                ts: ts.clone(),
                thread_ts,
                text: request.text,
                blocks: request.blocks,
            },
        );
        ts
    }

    fn post_ephemeral(
        &self,
        shared: &Shared,
        state: &mut State,
        request: HookRequest,
        via: EphemeralVia,
    ) -> String {
        let ts = state.clock.next();
        state.insert_ephemeral(EphemeralMessage {
            channel: self.channel.clone(),
            user: self.user.clone(),
            ts: ts.clone(),
            thread_ts: request.thread_ts.clone(),
            text: request.text.clone(),
            blocks: request.blocks.clone(),
        });
        shared.record_output(
            state,
            BotOutput::Ephemeral {
                channel: self.channel.clone(),
                user: self.user.clone(),
                ts: ts.clone(),
                text: request.text,
                blocks: request.blocks,
                via,
                thread_ts: request.thread_ts,
            },
        );
        ts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_form_payloads() {
        let json = HookRequest::parse(
            Some("application/json"),
            br#"{"text":"hi","response_type":"in_channel","replace_original":false,"thread_ts":"1.000001"}"#,
        )
        .unwrap();
        assert!(json.in_channel);
        assert_eq!(json.replace_original, Some(false));
        assert_eq!(json.thread_ts.as_deref(), Some("1.000001"));

        let form = HookRequest::parse(
            Some("application/x-www-form-urlencoded"),
            b"payload=%7B%22text%22%3A%22hi%22%2C%22delete_original%22%3A%22true%22%7D",
        )
        .unwrap();
        assert!(form.delete_original);
        assert!(!form.in_channel);
    }

    #[test]
    fn refuses_garbage() {
        assert_eq!(
            HookRequest::parse(Some("application/json"), b"nope").unwrap_err(),
            HookError(StatusCode::BAD_REQUEST, "invalid_payload")
        );
        assert_eq!(
            HookRequest::parse(Some("application/json"), b"[]").unwrap_err(),
            HookError(StatusCode::BAD_REQUEST, "invalid_payload")
        );
    }
}
