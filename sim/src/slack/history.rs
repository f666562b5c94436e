//! Reading a conversation back, as the Web API serves it: `conversations.history`
//! (top-level messages and broadcast replies, newest first) and
//! `conversations.replies` (a thread's parent, then its replies, oldest first), both
//! with `oldest`/`latest`/`inclusive` bounds, cursor paging (`has_more`,
//! `response_metadata.next_cursor`) and message metadata only for readers that pass
//! `include_all_metadata`. Parents carry Slack's thread summary (`reply_count`,
//! `reply_users`, `latest_reply`). It reads `State` and writes nothing.
//!
//! Choices where Slack's documentation is silent, so a reader knows what is ours: a
//! cursor is `base64("next_ts:<ts digits>")` (the shape of Slack's own example
//! cursors) naming the first message of the next page; `limit` is clamped to the
//! documented maximum (999 for history, 1000 for replies) and a missing or zero
//! `limit` takes the documented default (100 and 1000); a `ts` naming a reply asks for
//! the thread it belongs to.

use base64::Engine as _;
use serde_json::{json, Value};

use super::config::SimConfig;
use super::state::{parse_ts, Shared, SimMessage, State};
use super::web_api::{ApiError, Params};

type ApiResult = Result<Value, ApiError>;

type TsKey = (u64, u32);

const HISTORY_DEFAULT_LIMIT: usize = 100;
const HISTORY_MAX_LIMIT: usize = 999;
const REPLIES_DEFAULT_LIMIT: usize = 1000;
const REPLIES_MAX_LIMIT: usize = 1000;

/// `conversations.history`.
pub(crate) fn conversations_history(shared: &Shared, params: &Params) -> ApiResult {
    let channel = readable_channel(shared, params)?;
    let query = Query::parse(params, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT)?;
    let state = shared.lock();
    let mut listed: Vec<&SimMessage> = state
        .messages
        .iter()
        .filter(|((c, _), m)| *c == channel && (m.thread_ts.is_none() || m.reply_broadcast))
        .map(|(_, m)| m)
        .filter(|m| query.in_bounds(m))
        .collect();
    listed.reverse();
    let (page, next) = query.page(listed, Order::NewestFirst);
    let messages: Vec<Value> = page
        .iter()
        .map(|m| message_json(&state, &shared.config, m, query.include_metadata))
        .collect();
    let mut body = json!({
        "messages": messages,
        "has_more": next.is_some(),
        "pin_count": 0,
    });
    if let Some(next) = next {
        body["response_metadata"] = json!({ "next_cursor": next });
    }
    Ok(body)
}

/// `conversations.replies`.
pub(crate) fn conversations_replies(shared: &Shared, params: &Params) -> ApiResult {
    let channel = readable_channel(shared, params)?;
    let ts = params.str("ts").ok_or(ApiError::code("thread_not_found"))?;
    let query = Query::parse(params, REPLIES_DEFAULT_LIMIT, REPLIES_MAX_LIMIT)?;
    let state = shared.lock();
    let asked = state
        .message(&channel, &ts)
        .ok_or(ApiError::code("thread_not_found"))?;
    let root = asked.thread_ts.clone().unwrap_or_else(|| asked.ts.clone());
    let thread: Vec<&SimMessage> = state
        .messages
        .iter()
        .filter(|((c, _), m)| {
            *c == channel && (m.ts == root || m.thread_ts.as_deref() == Some(root.as_str()))
        })
        .map(|(_, m)| m)
        .filter(|m| query.in_bounds(m))
        .collect();
    let (page, next) = query.page(thread, Order::OldestFirst);
    let messages: Vec<Value> = page
        .iter()
        .map(|m| message_json(&state, &shared.config, m, query.include_metadata))
        .collect();
    let mut body = json!({ "messages": messages, "has_more": next.is_some() });
    if let Some(next) = next {
        body["response_metadata"] = json!({ "next_cursor": next });
    }
    Ok(body)
}

/// The channel the bot may read: it must exist and the bot must be in it. A public
/// channel the bot is not in answers `not_in_channel`; a private one it is not in is
/// invisible to it (`channel_not_found`).
fn readable_channel(shared: &Shared, params: &Params) -> Result<String, ApiError> {
    let config = &shared.config;
    let id = params
        .str("channel")
        .ok_or(ApiError::code("channel_not_found"))?;
    let channel = config
        .channels
        .iter()
        .find(|c| c.id == id)
        .ok_or(ApiError::code("channel_not_found"))?;
    if config.is_member(&channel.id, &config.bot_user_id) {
        Ok(channel.id.clone())
    } else if channel.is_private {
        Err(ApiError::code("channel_not_found"))
    } else {
        Err(ApiError::code("not_in_channel"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    NewestFirst,
    OldestFirst,
}

/// The paging and bounds arguments shared by both methods.
#[derive(Debug)]
struct Query {
    cursor: Option<TsKey>,
    limit: usize,
    oldest: Option<TsKey>,
    latest: Option<TsKey>,
    inclusive: bool,
    include_metadata: bool,
}

impl Query {
    fn parse(params: &Params, default_limit: usize, max_limit: usize) -> Result<Self, ApiError> {
        let cursor = match params.str("cursor") {
            Some(cursor) => Some(decode_cursor(&cursor).ok_or(ApiError::code("invalid_cursor"))?),
            None => None,
        };
        let limit = params
            .str("limit")
            .and_then(|l| l.trim().parse::<usize>().ok())
            .filter(|l| *l > 0)
            .unwrap_or(default_limit)
            .min(max_limit);
        let bound = |key: &str, error: &'static str| match params.str(key) {
            Some(value) => parse_bound(&value).map(Some).ok_or(ApiError::code(error)),
            None => Ok(None),
        };
        Ok(Query {
            cursor,
            limit,
            oldest: bound("oldest", "invalid_ts_oldest")?,
            latest: bound("latest", "invalid_ts_latest")?,
            inclusive: params.flag("inclusive"),
            include_metadata: params.flag("include_all_metadata"),
        })
    }

    fn in_bounds(&self, message: &SimMessage) -> bool {
        let Some(key) = parse_ts(&message.ts) else {
            return false;
        };
        let after_oldest = self
            .oldest
            .is_none_or(|o| key > o || (self.inclusive && key == o));
        let before_latest = self
            .latest
            .is_none_or(|l| key < l || (self.inclusive && key == l));
        after_oldest && before_latest
    }

    /// One page of `items` (already in `order`) from the cursor on, and the cursor of
    /// the next page if there is one.
    fn page<'m>(
        &self,
        items: Vec<&'m SimMessage>,
        order: Order,
    ) -> (Vec<&'m SimMessage>, Option<String>) {
        let start = match self.cursor {
            None => 0,
            Some(cursor) => items
                .iter()
                .position(|m| {
                    parse_ts(&m.ts).is_some_and(|key| match order {
                        Order::NewestFirst => key <= cursor,
                        Order::OldestFirst => key >= cursor,
                    })
                })
                .unwrap_or(items.len()),
        };
        let rest = &items[start..];
        let page: Vec<&SimMessage> = rest.iter().take(self.limit).copied().collect();
        let next = rest.get(self.limit).map(|m| encode_cursor(&m.ts));
        (page, next)
    }
}

fn encode_cursor(ts: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("next_ts:{}", ts.replace('.', "")))
}

fn decode_cursor(cursor: &str) -> Option<TsKey> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let digits = text.strip_prefix("next_ts:")?;
    if digits.len() <= 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (secs, micros) = digits.split_at(digits.len() - 6);
    Some((secs.parse().ok()?, micros.parse().ok()?))
}

/// An `oldest`/`latest` bound: whole seconds (`"0"`, `"1732590000"`) or a ts with up to
/// six decimals.
fn parse_bound(value: &str) -> Option<TsKey> {
    let (secs, frac) = value.trim().split_once('.').unwrap_or((value.trim(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || frac.len() > 6 || !digits(secs) || !digits(frac) {
        return None;
    }
    let micros = format!("{frac:0<6}");
    Some((secs.parse().ok()?, micros.parse().ok()?))
}

/// A message as the reading methods return it: the stored message, the thread summary
/// on a parent (`reply_count`, `reply_users`, `latest_reply`), `parent_user_id` on a
/// reply, `subtype: thread_broadcast` on a broadcast reply, and the metadata when asked.
fn message_json(state: &State, config: &SimConfig, m: &SimMessage, with_metadata: bool) -> Value {
    let mut out = m.to_slack_json(config);
    match &m.thread_ts {
        Some(root) => {
            if let Some(parent) = state.message(&m.channel, root) {
                out["parent_user_id"] = json!(parent.user);
            }
            if m.reply_broadcast {
                out["subtype"] = json!("thread_broadcast");
            }
        }
        None => {
            let replies: Vec<&SimMessage> = state
                .messages
                .iter()
                .filter(|((c, _), r)| *c == m.channel && r.thread_ts.as_deref() == Some(&m.ts))
                .map(|(_, r)| r)
                .collect();
            if let Some(latest) = replies.last() {
                let mut users: Vec<&str> = Vec::new();
                for reply in &replies {
                    if !users.contains(&reply.user.as_str()) {
                        users.push(&reply.user);
                    }
                }
                out["thread_ts"] = json!(m.ts);
                out["reply_count"] = json!(replies.len());
                out["reply_users_count"] = json!(users.len());
                out["reply_users"] = json!(users);
                out["latest_reply"] = json!(latest.ts);
            }
        }
    }
    if with_metadata {
        if let Some(metadata) = &m.metadata {
            out["metadata"] = metadata.clone();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cursors_have_slacks_shape_and_round_trip() {
        // Slack's own example cursor decodes to "next_ts:1512085861000543".
        assert_eq!(
            decode_cursor("bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"),
            Some((1_512_085_861, 543))
        );
        assert_eq!(
            encode_cursor("1512085861.000543"),
            "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"
        );
        for bad in ["", "!!!", "bmV4dF90czo=", "aGVsbG8="] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn bounds_take_seconds_or_ts() {
        assert_eq!(parse_bound("0"), Some((0, 0)));
        assert_eq!(parse_bound("1732590000.5"), Some((1_732_590_000, 500_000)));
        assert_eq!(parse_bound("1732590000.000100"), Some((1_732_590_000, 100)));
        for bad in ["", "x", "1.1234567", "-1", "1.a"] {
            assert_eq!(parse_bound(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn any_ts_cursor_round_trips(secs in 0u64..10_000_000_000, micros in 0u32..1_000_000) {
            let ts = format!("{secs}.{micros:06}");
            prop_assert_eq!(decode_cursor(&encode_cursor(&ts)), Some((secs, micros)));
        }
    }
}
