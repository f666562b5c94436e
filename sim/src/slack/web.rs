//! A web page showing the sim's channels as a person in Slack would see them: the
//! bot's messages with their threads and edits, Block Kit rendered (sections,
//! fields, context, buttons), the ephemeral replies only the chosen person sees, a
//! box to type a slash command as that person, buttons that click, the modal the bot
//! opened for that person (its text inputs editable, Submit and Cancel) and their Home
//! tab. The page (`/`, with `page.js`) polls one JSON view
//! (`/_sim/view/{channel}?user=…`); typing, clicking, submitting and opening Home go
//! through the same `/_sim/…` routes as other tools. Nothing here is Slack behaviour;
//! it only shows the sim's state.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State as AxumState};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::state::Shared;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(page))
        .route("/_sim/page.js", get(script))
        .route("/_sim/view/{channel}", get(view))
}

fn with_type(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn page() -> Response {
    with_type(PAGE, "text/html; charset=utf-8")
}

async fn script() -> Response {
    with_type(SCRIPT, "text/javascript; charset=utf-8")
}

/// Everything the page shows for `channel` as `user` sees it: the workspace's people
/// and channels, the channel's messages (replies carry `thread_ts`), the ephemeral
/// messages shown to that person there, the modal open for them (if any) and their
/// Home tab.
async fn view(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(channel): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let config = &shared.config;
    let user = query.get("user").cloned().unwrap_or_default();
    let state = shared.lock();
    let messages: Vec<Value> = state
        .channel_messages(&channel)
        .iter()
        .map(|m| {
            json!({"ts": m.ts, "thread_ts": m.thread_ts, "user": m.user, "bot": m.bot_id.is_some(),
                   "text": m.text, "blocks": m.blocks, "edited": m.edited_ts.is_some()})
        })
        .collect();
    let ephemerals: Vec<Value> = state
        .ephemerals
        .values()
        .filter(|e| e.channel == channel && e.user == user)
        .map(|e| json!({"ts": e.ts, "thread_ts": e.thread_ts, "text": e.text, "blocks": e.blocks}))
        .collect();
    // The modal on top of the person's stack, with the errors the bot's ack showed.
    let modal = state
        .open_modals(&user)
        .pop()
        .map(|v| json!({"id": v.id, "view": v.view, "errors": v.errors}));
    let home = state
        .home(&user)
        .map(|v| json!({"id": v.id, "view": v.view}));
    Json(json!({
        "channel": channel,
        "user": user,
        "modal": modal,
        "home": home,
        "users": config.users.iter().map(|u| json!({"id": u.id, "name": u.name})).collect::<Vec<_>>(),
        "channels": config.channels.iter().map(|c| json!({"id": c.id, "name": c.name})).collect::<Vec<_>>(),
        "bot_user": config.bot_user_id,
        "messages": messages,
        "ephemerals": ephemerals,
    }))
    .into_response()
}
