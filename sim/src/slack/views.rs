//! Views: modals and the App Home tab. The Web API side — `views.open` (exchanging a
//! single-use trigger id that expires `SimConfig::trigger_ttl` after it was issued:
//! `invalid_trigger_id`, `exchanged_trigger_id`, `expired_trigger_id`) and
//! `views.publish` (a `home` view per user, `hash_conflict` on a stale hash), both
//! validating the view as Slack does (`invalid_arguments` with
//! `response_metadata.messages`) — and the person's side: submitting a modal (a
//! `view_submission` over Socket Mode, the ack's `response_action` applied), cancelling
//! it (`view_closed` when the view asked for it) and opening the Home tab
//! (`app_home_opened` as an `events_api` envelope). Views live in `State`; envelopes
//! are built by `payloads` and delivered by `socket`.
//!
//! Choices where Slack's documentation is silent: a trigger id that does not even look
//! like one is `invalid_arguments` ("invalid `trigger_id`", the answer Slack's docs
//! show), a well-formed one the sim never issued is `invalid_trigger_id`; a trigger is
//! spent only by a successful `views.open`; a new `views.open` replaces the modals the
//! person had open; an empty ack closes the submitted view only (`clear` closes all).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::blocks::{self, MAX_VIEW_BLOCKS};
use super::config::{SimConfig, SimUser};
use super::payloads::{self, EventIds};
use super::socket::{self, SentEvent};
use super::state::{now_micros, wait_until, Ack, Shared, SimView, State, ViewsOpenCall};
use super::web_api::{ApiError, Params};

type ApiResult = Result<Value, ApiError>;

const MAX_TITLE_CHARS: usize = 24;
const MAX_CALLBACK_ID_CHARS: usize = 255;
const MAX_EXTERNAL_ID_CHARS: usize = 255;
const MAX_PRIVATE_METADATA_CHARS: usize = 3000;
/// Slack keeps at most three views in a modal's stack.
const MAX_STACK: usize = 3;

fn invalid_arguments(messages: Vec<String>) -> ApiError {
    ApiError {
        code: "invalid_arguments",
        messages,
    }
}

fn message(what: &str, pointer: &str) -> String {
    format!("[ERROR] {what} [json-pointer:{pointer}]")
}

// ---- views.open ------------------------------------------------------------------

/// `views.open`: exchanges a trigger id for a modal shown to the trigger's user.
pub(crate) fn views_open(shared: &Shared, params: &Params) -> ApiResult {
    let trigger_id = params.str("trigger_id");
    let mut state = shared.lock();
    let user = trigger_id
        .as_ref()
        .and_then(|t| state.triggers.get(t))
        .map(|t| t.user.clone());
    let result = open_modal(shared, &mut state, params, trigger_id.as_deref());
    state.views_open_calls.push(ViewsOpenCall {
        trigger_id: trigger_id.unwrap_or_default(),
        user,
        outcome: match &result {
            Ok(view) => Ok(view["id"].as_str().unwrap_or_default().to_string()),
            Err(error) => Err(error.code.to_string()),
        },
    });
    drop(state);
    shared.views_changed();
    result.map(|view| json!({ "view": view }))
}

fn open_modal(
    shared: &Shared,
    state: &mut State,
    params: &Params,
    trigger_id: Option<&str>,
) -> Result<Value, ApiError> {
    let user = usable_trigger(state, trigger_id, shared.config.trigger_ttl)?;
    let object = view_argument(params)?;
    let errors = validate_view(&object, "modal");
    if !errors.is_empty() {
        return Err(invalid_arguments(errors));
    }
    check_external_id(state, &object, None)?;
    if let Some(trigger) = trigger_id.and_then(|t| state.triggers.get_mut(t)) {
        trigger.exchanged = true;
    }
    for open in state
        .views
        .iter_mut()
        .filter(|v| v.user == user && v.kind == "modal")
    {
        open.open = false;
    }
    let id = payloads::new_view_id();
    let view = build_view(&shared.config, &object, "modal", &id, &id, None);
    state.views.push(SimView {
        id,
        user,
        kind: "modal".into(),
        view: view.clone(),
        open: true,
        errors: BTreeMap::new(),
    });
    Ok(view)
}

/// The user a trigger id belongs to, if it can still be exchanged.
fn usable_trigger(
    state: &State,
    trigger_id: Option<&str>,
    ttl: Duration,
) -> Result<String, ApiError> {
    let Some(trigger_id) = trigger_id else {
        return Err(invalid_arguments(vec![message(
            "missing required field: trigger_id",
            "/trigger_id",
        )]));
    };
    if !looks_like_trigger(trigger_id) {
        return Err(invalid_arguments(vec!["invalid `trigger_id`".into()]));
    }
    let record = state
        .triggers
        .get(trigger_id)
        .ok_or(ApiError::code("invalid_trigger_id"))?;
    if record.exchanged {
        return Err(ApiError::code("exchanged_trigger_id"));
    }
    if record.expired || record.issued_at.elapsed() > ttl {
        return Err(ApiError::code("expired_trigger_id"));
    }
    Ok(record.user.clone())
}

/// Slack trigger ids are three dot-separated parts, the first two numeric.
fn looks_like_trigger(id: &str) -> bool {
    let parts: Vec<&str> = id.split('.').collect();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    parts.len() == 3
        && numeric(parts[0])
        && numeric(parts[1])
        && !parts[2].is_empty()
        && parts[2].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The `view` argument: a JSON object, or a string holding one (form bodies).
fn view_argument(params: &Params) -> Result<Map<String, Value>, ApiError> {
    match params.object("view") {
        Ok(Some(object)) => Ok(object),
        Ok(None) => Err(invalid_arguments(vec![message(
            "missing required field: view",
            "/view",
        )])),
        Err(()) => Err(invalid_arguments(vec![message(
            "failed to match all allowed schemas",
            "/view",
        )])),
    }
}

/// Slack's checks on a view payload that matter to an app: its type, a plain-text
/// title of at most 24 characters (modals), plain-text `submit`/`close`, a `submit`
/// whenever there is an input block, at most 100 valid blocks, `callback_id` and
/// `external_id` of at most 255 characters, `private_metadata` of at most 3000.
pub(crate) fn validate_view(view: &Map<String, Value>, kind: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if view.get("type").and_then(Value::as_str) != Some(kind) {
        errors.push(message("failed to match all allowed schemas", "/view"));
        return errors;
    }
    if kind == "modal" {
        match view.get("title") {
            Some(title) => plain_text(&mut errors, title, MAX_TITLE_CHARS, "/view/title"),
            None => errors.push(message("missing required field: title", "/view")),
        }
        for key in ["submit", "close"] {
            if let Some(button) = view.get(key).filter(|v| !v.is_null()) {
                plain_text(
                    &mut errors,
                    button,
                    MAX_TITLE_CHARS,
                    &format!("/view/{key}"),
                );
            }
        }
    }
    match view.get("blocks").and_then(Value::as_array) {
        Some(blocks) => {
            blocks::validate_into(&mut errors, blocks, MAX_VIEW_BLOCKS, "/view/blocks");
            let has_submit = view.get("submit").is_some_and(|s| !s.is_null());
            for (i, block) in blocks.iter().enumerate() {
                if block.get("type").and_then(Value::as_str) == Some("input") && !has_submit {
                    errors.push(message(
                        "must define `submit` to use `input` block",
                        &format!("/view/blocks/{i}/input"),
                    ));
                }
            }
        }
        None => errors.push(message("missing required field: blocks", "/view")),
    }
    for (key, max) in [
        ("callback_id", MAX_CALLBACK_ID_CHARS),
        ("external_id", MAX_EXTERNAL_ID_CHARS),
        ("private_metadata", MAX_PRIVATE_METADATA_CHARS),
    ] {
        match view.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.chars().count() > max => errors.push(message(
                &format!("must be less than {} characters", max + 1),
                &format!("/view/{key}"),
            )),
            Some(Value::String(_)) => {}
            Some(_) => errors.push(message("must provide a string", &format!("/view/{key}"))),
        }
    }
    errors
}

fn plain_text(errors: &mut Vec<String>, text: &Value, max: usize, at: &str) {
    if text.get("type").and_then(Value::as_str) != Some("plain_text") {
        errors.push(message("must be a plain_text text object", at));
        return;
    }
    match text.get("text").and_then(Value::as_str) {
        None => errors.push(message("missing required field: text", at)),
        Some("") => errors.push(message(
            "must be more than 0 characters",
            &format!("{at}/text"),
        )),
        Some(s) if s.chars().count() > max => errors.push(message(
            &format!("must be less than {} characters", max + 1),
            &format!("{at}/text"),
        )),
        Some(_) => {}
    }
}

/// `duplicate_external_id` when another view already uses the view's `external_id`.
fn check_external_id(
    state: &State,
    view: &Map<String, Value>,
    except: Option<&str>,
) -> Result<(), ApiError> {
    let Some(external) = view
        .get("external_id")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
    else {
        return Ok(());
    };
    let taken = state.views.iter().any(|v| {
        Some(v.id.as_str()) != except
            && (v.open || v.kind == "home")
            && v.view["external_id"].as_str() == Some(external)
    });
    if taken {
        Err(ApiError::code("duplicate_external_id"))
    } else {
        Ok(())
    }
}

/// The view as Slack stores and returns it: the app's fields (blocks normalised as on
/// a message), defaults for the optional ones, an empty state, a fresh hash and the
/// ids that tie it to the app.
fn build_view(
    config: &SimConfig,
    object: &Map<String, Value>,
    kind: &str,
    id: &str,
    root_view_id: &str,
    previous_view_id: Option<&str>,
) -> Value {
    let text_or_empty = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
    let mut blocks = object
        .get("blocks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    blocks::normalise(&mut blocks);
    let mut view = json!({
        "id": id,
        "team_id": config.team_id,
        "type": kind,
        "blocks": blocks,
        "private_metadata": text_or_empty("private_metadata"),
        "callback_id": text_or_empty("callback_id"),
        "external_id": text_or_empty("external_id"),
        "state": { "values": {} },
        "hash": payloads::new_view_hash(now_micros() / 1_000_000),
        "clear_on_close": object.get("clear_on_close").and_then(Value::as_bool).unwrap_or(false),
        "notify_on_close": object.get("notify_on_close").and_then(Value::as_bool).unwrap_or(false),
        "close": null,
        "submit": null,
        "root_view_id": root_view_id,
        "previous_view_id": previous_view_id,
        "app_id": config.app_id,
        "app_installed_team_id": config.team_id,
        "bot_id": config.bot_id,
    });
    for key in ["title", "submit", "close"] {
        if let Some(text) = object.get(key).filter(|v| !v.is_null()) {
            let mut text = text.clone();
            blocks::default_plain_text_emoji(&mut text);
            view[key] = text;
        }
    }
    view
}

// ---- views.publish -----------------------------------------------------------------

/// `views.publish`: sets `user_id`'s Home tab. A `hash` that is not the current view's
/// is `hash_conflict`.
pub(crate) fn views_publish(shared: &Shared, params: &Params) -> ApiResult {
    let config = &shared.config;
    let user_id = params.str("user_id").ok_or_else(|| {
        invalid_arguments(vec![message("missing required field: user_id", "/user_id")])
    })?;
    if config.user(&user_id).is_none() {
        return Err(invalid_arguments(vec!["invalid `user_id`".into()]));
    }
    let object = view_argument(params)?;
    let errors = validate_view(&object, "home");
    if !errors.is_empty() {
        return Err(invalid_arguments(errors));
    }
    let mut state = shared.lock();
    let current = state.home(&user_id).cloned();
    if let Some(hash) = params.str("hash") {
        if current.as_ref().map(SimView::hash) != Some(hash.as_str()) {
            return Err(ApiError::code("hash_conflict"));
        }
    }
    check_external_id(&state, &object, current.as_ref().map(|v| v.id.as_str()))?;
    let id = current
        .as_ref()
        .map(|v| v.id.clone())
        .unwrap_or_else(payloads::new_view_id);
    let view = build_view(config, &object, "home", &id, &id, None);
    match state.view_mut(&id) {
        Some(home) => home.view = view.clone(),
        None => state.views.push(SimView {
            id,
            user: user_id,
            kind: "home".into(),
            view: view.clone(),
            open: true,
            errors: BTreeMap::new(),
        }),
    }
    drop(state);
    shared.views_changed();
    Ok(json!({ "view": view }))
}

// ---- the person's side -------------------------------------------------------------

/// What became of a submitted modal, once the bot acknowledged the submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind")]
pub enum ViewOutcome {
    /// An ack without a `response_action`: the view closed.
    Closed,
    /// `response_action: errors`: the view stays open showing these, by block_id.
    Errors { errors: BTreeMap<String, String> },
    /// `response_action: update`: the view stays open with new content.
    Updated,
    /// `response_action: push`: a new view on top of the stack.
    Pushed { view_id: String },
    /// `response_action: clear`: every view of the stack closed.
    Cleared,
    /// An ack Slack could not apply (it shows the person an error; the view stays).
    Refused { reason: String },
}

/// A submitted modal: the envelope, the bot's ack and what it did to the view.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ViewSubmission {
    pub envelope_id: String,
    pub trigger_id: String,
    pub connection_id: u64,
    pub ack: Ack,
    pub outcome: ViewOutcome,
}

/// `user_id` types `values` (block_id → action_id → text) into their open modal
/// `view_id` and presses Submit. As in Slack's client, an input left empty that is not
/// optional keeps the modal from submitting; inputs not named keep their initial value.
pub(crate) async fn submit_view(
    shared: &Arc<Shared>,
    user_id: &str,
    view_id: &str,
    values: &BTreeMap<String, BTreeMap<String, String>>,
) -> anyhow::Result<ViewSubmission> {
    let config = &shared.config;
    let user = known_user(config, user_id)?;
    let view = {
        let state = shared.lock();
        let open = state
            .view(view_id)
            .filter(|v| v.user == user_id && v.kind == "modal" && v.open)
            .with_context(|| format!("{user_id} has no open modal {view_id}"))?;
        submitted_view(open, values)?
    };
    let envelope_id = payloads::new_envelope_id();
    let trigger_id = socket::issue_trigger(shared, user_id);
    let envelope =
        payloads::view_submission_envelope(config, user, &view, &envelope_id, &trigger_id);
    let connection_id = socket::deliver(shared, &envelope_id, &envelope, &envelope).await?;
    let ack = wait_until(
        shared.acks_tx.subscribe(),
        config.ack_wait,
        || format!("the bot to ack the view_submission of {view_id}"),
        || {
            let state = shared.lock();
            state
                .envelopes
                .get(&envelope_id)
                .and_then(|r| r.acks.first().cloned())
        },
    )
    .await?;
    let outcome = apply_ack(shared, user_id, view_id, &view, ack.payload.as_ref());
    shared.views_changed();
    Ok(ViewSubmission {
        envelope_id,
        trigger_id,
        connection_id,
        ack,
        outcome,
    })
}

fn known_user<'c>(config: &'c SimConfig, user_id: &str) -> anyhow::Result<&'c SimUser> {
    config
        .user(user_id)
        .with_context(|| format!("unknown user {user_id}: add it with SimConfig::with_user"))
}

/// The view with `state.values` as Slack fills them on submit: every plain-text input,
/// its typed (or initial) value, `null` when empty.
fn submitted_view(
    view: &SimView,
    typed: &BTreeMap<String, BTreeMap<String, String>>,
) -> anyhow::Result<Value> {
    let inputs = blocks::text_inputs(view.blocks());
    for (block_id, actions) in typed {
        for action_id in actions.keys() {
            anyhow::ensure!(
                inputs
                    .iter()
                    .any(|i| &i.block_id == block_id && &i.action_id == action_id),
                "view {} has no text input {block_id}/{action_id}",
                view.id
            );
        }
    }
    let mut values = Map::new();
    for input in &inputs {
        let value = typed
            .get(&input.block_id)
            .and_then(|a| a.get(&input.action_id))
            .cloned()
            .or_else(|| input.initial_value.clone())
            .filter(|v| !v.is_empty());
        anyhow::ensure!(
            value.is_some() || input.optional,
            "{:?} is required: Slack's client does not submit a modal with an empty required input",
            input.label
        );
        values
            .entry(input.block_id.clone())
            .or_insert_with(|| json!({}))[&input.action_id] =
            json!({ "type": "plain_text_input", "value": value });
    }
    let mut view = view.view.clone();
    view["state"] = json!({ "values": values });
    Ok(view)
}

/// Applies the bot's ack payload to the submitted view.
fn apply_ack(
    shared: &Shared,
    user_id: &str,
    view_id: &str,
    submitted: &Value,
    payload: Option<&Value>,
) -> ViewOutcome {
    let config = &shared.config;
    let mut state = shared.lock();
    let action = payload
        .and_then(|p| p.get("response_action"))
        .and_then(Value::as_str);
    let refused = |reason: String| ViewOutcome::Refused { reason };
    match action {
        None => {
            if let Some(view) = state.view_mut(view_id) {
                view.open = false;
                view.errors.clear();
            }
            ViewOutcome::Closed
        }
        Some("errors") => {
            let Some(errors) = payload.and_then(|p| p["errors"].as_object()) else {
                return refused("response_action errors without an errors object".into());
            };
            let inputs: Vec<String> = submitted["blocks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|b| b["type"] == "input")
                .filter_map(|b| b["block_id"].as_str().map(str::to_string))
                .collect();
            let mut shown = BTreeMap::new();
            for (block_id, text) in errors {
                if !inputs.contains(block_id) {
                    return refused(format!(
                        "errors names {block_id:?}, which is not an input block of the view"
                    ));
                }
                shown.insert(
                    block_id.clone(),
                    text.as_str().unwrap_or_default().to_string(),
                );
            }
            if let Some(view) = state.view_mut(view_id) {
                view.errors = shown.clone();
            }
            ViewOutcome::Errors { errors: shown }
        }
        Some("update") => {
            let Some(object) = payload.and_then(|p| p["view"].as_object()) else {
                return refused("response_action update without a view".into());
            };
            let errors = validate_view(object, "modal");
            if !errors.is_empty() {
                return refused(errors.join("; "));
            }
            let Some(current) = state.view(view_id).cloned() else {
                return refused(format!("view {view_id} is gone"));
            };
            let root = current.view["root_view_id"].as_str().unwrap_or(view_id);
            let previous = current.view["previous_view_id"].as_str();
            let view = build_view(config, object, "modal", view_id, root, previous);
            if let Some(stored) = state.view_mut(view_id) {
                stored.view = view;
                stored.errors.clear();
            }
            ViewOutcome::Updated
        }
        Some("push") => {
            let Some(object) = payload.and_then(|p| p["view"].as_object()) else {
                return refused("response_action push without a view".into());
            };
            let errors = validate_view(object, "modal");
            if !errors.is_empty() {
                return refused(errors.join("; "));
            }
            if state.open_modals(user_id).len() >= MAX_STACK {
                return refused("push_limit_reached".into());
            }
            let root = submitted["root_view_id"]
                .as_str()
                .unwrap_or(view_id)
                .to_string();
            let id = payloads::new_view_id();
            let view = build_view(config, object, "modal", &id, &root, Some(view_id));
            state.views.push(SimView {
                id: id.clone(),
                user: user_id.to_string(),
                kind: "modal".into(),
                view,
                open: true,
                errors: BTreeMap::new(),
            });
            ViewOutcome::Pushed { view_id: id }
        }
        Some("clear") => {
            for view in state
                .views
                .iter_mut()
                .filter(|v| v.user == user_id && v.kind == "modal")
            {
                view.open = false;
            }
            ViewOutcome::Cleared
        }
        Some(other) => refused(format!("unknown response_action {other:?}")),
    }
}

/// `user_id` presses Cancel (or ×) on their open modal `view_id`: it closes, and the
/// bot hears `view_closed` if the view was opened with `notify_on_close: true`.
/// Returns that envelope's id when one was sent.
pub(crate) async fn close_view(
    shared: &Arc<Shared>,
    user_id: &str,
    view_id: &str,
) -> anyhow::Result<Option<String>> {
    let config = &shared.config;
    let user = known_user(config, user_id)?;
    let view = {
        let mut state = shared.lock();
        let open = state
            .view_mut(view_id)
            .filter(|v| v.user == user_id && v.kind == "modal" && v.open)
            .with_context(|| format!("{user_id} has no open modal {view_id}"))?;
        open.open = false;
        open.view.clone()
    };
    shared.views_changed();
    if view["notify_on_close"] != json!(true) {
        return Ok(None);
    }
    let envelope_id = payloads::new_envelope_id();
    let envelope = payloads::view_closed_envelope(config, user, &view, &envelope_id);
    socket::deliver(shared, &envelope_id, &envelope, &envelope).await?;
    Ok(Some(envelope_id))
}

/// `user_id` opens the app's Home tab: Slack sends `app_home_opened` (with the
/// published Home view, if any).
pub(crate) async fn open_home(shared: &Arc<Shared>, user_id: &str) -> anyhow::Result<SentEvent> {
    let config = &shared.config;
    let user = known_user(config, user_id)?;
    let (view, event_ts) = {
        let mut state = shared.lock();
        let view = state.home(user_id).map(|v| v.view.clone());
        (view, state.clock.next())
    };
    let ids = EventIds {
        envelope_id: payloads::new_envelope_id(),
        event_id: payloads::new_event_id(),
        event_time: event_ts
            .split('.')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default(),
        event_ts,
    };
    let envelope = payloads::app_home_opened_envelope(config, user, view.as_ref(), &ids);
    let connection_id = socket::deliver(shared, &ids.envelope_id, &envelope, &envelope).await?;
    Ok(SentEvent {
        envelope_id: ids.envelope_id,
        event_id: ids.event_id,
        connection_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modal(extra: Value) -> Map<String, Value> {
        let mut view = json!({
            "type": "modal",
            "title": {"type": "plain_text", "text": "Request changes"},
            "submit": {"type": "plain_text", "text": "Send"},
            "blocks": [{"type": "input", "block_id": "why", "label": {"type": "plain_text", "text": "Why?"},
                        "element": {"type": "plain_text_input", "action_id": "text"}}],
        });
        if let (Some(view), Value::Object(extra)) = (view.as_object_mut(), extra) {
            view.extend(extra);
        }
        view.as_object().cloned().unwrap()
    }

    #[test]
    fn a_good_modal_passes() {
        assert_eq!(
            validate_view(&modal(json!({})), "modal"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn view_limits_answer_with_slacks_messages() {
        let long_title = modal(json!({"title": {"type": "plain_text", "text": "x".repeat(25)}}));
        assert_eq!(
            validate_view(&long_title, "modal"),
            ["[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"]
        );
        let no_submit = modal(json!({"submit": null}));
        assert_eq!(
            validate_view(&no_submit, "modal"),
            ["[ERROR] must define `submit` to use `input` block [json-pointer:/view/blocks/0/input]"]
        );
        let metadata =
            modal(json!({"private_metadata": "m".repeat(3001), "callback_id": "c".repeat(256)}));
        assert_eq!(
            validate_view(&metadata, "modal"),
            [
                "[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]",
                "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
            ]
        );
        let blocks: Vec<Value> = (0..101).map(|_| json!({"type": "divider"})).collect();
        let too_many = modal(json!({ "blocks": blocks }));
        assert_eq!(
            validate_view(&too_many, "modal"),
            ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]
        );
        assert_eq!(
            validate_view(&modal(json!({})), "home"),
            ["[ERROR] failed to match all allowed schemas [json-pointer:/view]"]
        );
        let untitled = modal(json!({"title": null}));
        assert!(!validate_view(&untitled, "modal").is_empty());
    }

    #[test]
    fn trigger_ids_are_recognised_by_shape() {
        assert!(looks_like_trigger(
            "13345224609.738474920.8088930838d88f008e0ff3a5d3d0f4a3"
        ));
        assert!(looks_like_trigger("12345.98765.abcd2358fdea"));
        for bad in ["", "abc", "1.2", "a.b.c", "1.2.", "1.2.x-y"] {
            assert!(!looks_like_trigger(bad), "{bad}");
        }
    }
}
