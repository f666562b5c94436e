//! The JSON Slack sends over Socket Mode, built as pure functions: `hello`,
//! `disconnect`, the `slash_commands`, `interactive` (block_actions, view_submission,
//! view_closed) and `events_api` (app_home_opened) envelopes with every field Slack
//! includes, plus id generators. No state, no I/O: callers pass ids in, so tests can
//! pin them.

use serde_json::{json, Value};

use super::blocks::ClickedButton;
use super::config::{SimChannel, SimConfig, SimUser};

/// The host name the sim reports in `debug_info`, in Slack's `applink-…` style.
pub const DEBUG_HOST: &str = "applink-sim-1";

/// A v4 UUID, the shape of Slack's envelope ids.
pub fn new_envelope_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Slack trigger ids look like "13345224609.738474920.8088930838d88f008e0ff3a5d3d0f4a3".
pub fn new_trigger_id() -> String {
    let a: u64 = rand::random_range(10_000_000_000..100_000_000_000);
    let b: u64 = rand::random_range(100_000_000..1_000_000_000);
    let c: [u8; 16] = rand::random();
    format!("{a}.{b}.{}", hex::encode(c))
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn upper_alnum(len: usize) -> String {
    (0..len)
        .map(|_| ID_ALPHABET[rand::random_range(0..ID_ALPHABET.len())] as char)
        .collect()
}

/// A view id, "V" and ten upper-case letters or digits, like Slack's "V0MHU10V25Q".
pub fn new_view_id() -> String {
    format!("V{}", upper_alnum(10))
}

/// A view hash in Slack's "<seconds>.<digits>" shape ("156772938.1827394").
pub fn new_view_hash(now_secs: u64) -> String {
    let n: u64 = rand::random_range(1_000_000..100_000_000);
    format!("{now_secs}.{n}")
}

/// An Events API event id ("Ev" and ten upper-case letters or digits).
pub fn new_event_id() -> String {
    format!("Ev{}", upper_alnum(10))
}

/// The id of the direct-message channel between the app and `user_id`
/// (a `D…` id derived from the user's, stable for the sim's lifetime).
pub fn app_dm_channel(user_id: &str) -> String {
    format!("D{}", user_id.trim_start_matches(['U', 'W']))
}

/// An opaque id for a response URL path segment or a websocket ticket.
pub fn new_opaque_id() -> String {
    let bytes: [u8; 12] = rand::random();
    hex::encode(bytes)
}

/// The `hello` frame sent when a connection opens.
pub fn hello(num_connections: usize, app_id: &str) -> Value {
    json!({
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {
            "host": DEBUG_HOST,
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
        "connection_info": { "app_id": app_id },
    })
}

/// The `disconnect` frame (reasons: warning, refresh_requested, link_disabled,
/// too_many_websockets).
pub fn disconnect(reason: &str) -> Value {
    json!({
        "type": "disconnect",
        "reason": reason,
        "debug_info": { "host": DEBUG_HOST },
    })
}

/// Ids fixed by the caller for one delivery.
#[derive(Clone, Debug)]
pub struct DeliveryIds {
    pub envelope_id: String,
    pub trigger_id: String,
    pub response_url: String,
}

/// The deprecated verification token Slack still puts in payloads.
pub const VERIFICATION_TOKEN: &str = "simverificationtoken";

/// A `slash_commands` envelope. Socket Mode carries the form fields of the HTTP
/// slash-command request as a JSON object of strings, hence `"false"`.
pub fn slash_command_envelope(
    config: &SimConfig,
    user: &SimUser,
    channel: &SimChannel,
    command: &str,
    text: &str,
    ids: &DeliveryIds,
) -> Value {
    json!({
        "envelope_id": ids.envelope_id,
        "payload": {
            "token": VERIFICATION_TOKEN,
            "team_id": config.team_id,
            "team_domain": config.team_domain,
            "channel_id": channel.id,
            "channel_name": channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": config.app_id,
            "is_enterprise_install": "false",
            "response_url": ids.response_url,
            "trigger_id": ids.trigger_id,
        },
        "type": "slash_commands",
        "accepts_response_payload": true,
    })
}

/// The message a button was clicked on.
#[derive(Clone, Debug)]
pub struct ClickedMessage {
    pub ts: String,
    pub is_ephemeral: bool,
    /// Slack includes the message for channel messages, not for ephemeral ones.
    pub message_json: Option<Value>,
}

/// An `interactive` envelope carrying a `block_actions` payload for one button click.
pub fn block_actions_envelope(
    config: &SimConfig,
    user: &SimUser,
    channel: &SimChannel,
    message: &ClickedMessage,
    button: &ClickedButton,
    action_ts: &str,
    ids: &DeliveryIds,
) -> Value {
    let mut action = json!({
        "action_id": button.element["action_id"],
        "block_id": button.block_id,
        "text": button.element.get("text").cloned().unwrap_or_else(|| json!({
            "type": "plain_text", "text": "", "emoji": true
        })),
        "type": "button",
        "action_ts": action_ts,
    });
    if let Some(value) = button.element.get("value") {
        action["value"] = value.clone();
    }
    if let Some(style) = button.element.get("style") {
        action["style"] = style.clone();
    }
    let mut payload = json!({
        "type": "block_actions",
        "user": {
            "id": user.id,
            "username": user.name,
            "name": user.name,
            "team_id": config.team_id,
        },
        "api_app_id": config.app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message.ts,
            "channel_id": channel.id,
            "is_ephemeral": message.is_ephemeral,
        },
        "trigger_id": ids.trigger_id,
        "team": { "id": config.team_id, "domain": config.team_domain },
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": { "id": channel.id, "name": channel.name },
        "state": { "values": {} },
        "response_url": ids.response_url,
        "actions": [action],
    });
    if let Some(message_json) = &message.message_json {
        payload["message"] = message_json.clone();
    }
    json!({
        "envelope_id": ids.envelope_id,
        "payload": payload,
        "type": "interactive",
        "accepts_response_payload": false,
    })
}

fn user_json(config: &SimConfig, user: &SimUser) -> Value {
    json!({
        "id": user.id,
        "username": user.name,
        "name": user.name,
        "team_id": config.team_id,
    })
}

/// An `interactive` envelope carrying a `view_submission`: `view` is the view as
/// stored, with `state.values` filled in from what the person typed. Slack lets the
/// ack carry a `response_action`, hence `accepts_response_payload: true`.
pub fn view_submission_envelope(
    config: &SimConfig,
    user: &SimUser,
    view: &Value,
    envelope_id: &str,
    trigger_id: &str,
) -> Value {
    json!({
        "envelope_id": envelope_id,
        "payload": {
            "type": "view_submission",
            "team": { "id": config.team_id, "domain": config.team_domain },
            "user": user_json(config, user),
            "api_app_id": config.app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": trigger_id,
            "view": view,
            "response_urls": [],
            "is_enterprise_install": false,
            "enterprise": null,
        },
        "type": "interactive",
        "accepts_response_payload": true,
    })
}

/// An `interactive` envelope carrying a `view_closed` (sent only for views opened with
/// `notify_on_close: true`).
pub fn view_closed_envelope(
    config: &SimConfig,
    user: &SimUser,
    view: &Value,
    envelope_id: &str,
) -> Value {
    json!({
        "envelope_id": envelope_id,
        "payload": {
            "type": "view_closed",
            "team": { "id": config.team_id, "domain": config.team_domain },
            "user": user_json(config, user),
            "api_app_id": config.app_id,
            "token": VERIFICATION_TOKEN,
            "view": view,
            "is_cleared": false,
            "is_enterprise_install": false,
            "enterprise": null,
        },
        "type": "interactive",
        "accepts_response_payload": false,
    })
}

/// Ids fixed by the caller for one Events API delivery.
#[derive(Clone, Debug)]
pub struct EventIds {
    pub envelope_id: String,
    pub event_id: String,
    /// The event's `event_ts` (a message-style ts).
    pub event_ts: String,
    /// `event_time`, whole seconds.
    pub event_time: u64,
}

/// An `events_api` envelope with Slack's `event_callback` wrapper around an
/// `app_home_opened` event. `view` is the user's published Home view, which Slack
/// includes when there is one.
pub fn app_home_opened_envelope(
    config: &SimConfig,
    user: &SimUser,
    view: Option<&Value>,
    ids: &EventIds,
) -> Value {
    let mut event = json!({
        "type": "app_home_opened",
        "user": user.id,
        "channel": app_dm_channel(&user.id),
        "tab": "home",
        "event_ts": ids.event_ts,
    });
    if let Some(view) = view {
        event["view"] = view.clone();
    }
    json!({
        "envelope_id": ids.envelope_id,
        "payload": {
            "token": VERIFICATION_TOKEN,
            "team_id": config.team_id,
            "api_app_id": config.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": ids.event_id,
            "event_time": ids.event_time,
            "authorizations": [{
                "enterprise_id": null,
                "team_id": config.team_id,
                "user_id": config.bot_user_id,
                "is_bot": true,
                "is_enterprise_install": false,
            }],
            "is_ext_shared_channel": false,
            "event_context": format!("4-{}", hex::encode(ids.event_id.as_bytes())),
        },
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": 0,
        "retry_reason": "",
    })
}

/// Adds `retry_attempt`/`retry_reason` to a copy of an envelope, as Slack does when it
/// redelivers one that was not acknowledged in time.
pub fn with_retry(envelope: &Value, retry_attempt: u32) -> Value {
    let mut retried = envelope.clone();
    retried["retry_attempt"] = json!(retry_attempt);
    retried["retry_reason"] = json!("timeout");
    retried
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::blocks::find_button;

    fn ids() -> DeliveryIds {
        DeliveryIds {
            envelope_id: "00000000-0000-4000-8000-000000000001".into(),
            trigger_id: "11111111111.222222222.0123456789abcdef0123456789abcdef".into(),
            response_url: "http://127.0.0.1:3001/response/RESPONSEID".into(),
        }
    }

    fn deploy(config: &SimConfig) -> SimChannel {
        config.channel("C0DEPLOY").unwrap().clone()
    }

    fn approval_blocks() -> Vec<Value> {
        vec![
            json!({"type": "section", "block_id": "summary",
                   "text": {"type": "mrkdwn", "text": "Promote *Beneficiary*?"}}),
            json!({"type": "actions", "block_id": "decide", "elements": [
                {"type": "button", "action_id": "approve", "value": "run-1",
                 "style": "primary", "text": {"type": "plain_text", "text": "Approve", "emoji": true}},
                {"type": "button", "action_id": "reject", "value": "run-1",
                 "text": {"type": "plain_text", "text": "Reject", "emoji": true}}
            ]}),
        ]
    }

    #[test]
    fn slash_command_envelope_snapshot() {
        let config = SimConfig::default();
        let envelope = slash_command_envelope(
            &config,
            config.user("U0PM").unwrap(),
            &deploy(&config),
            "/lockstep",
            "promote beneficiary",
            &ids(),
        );
        insta::assert_yaml_snapshot!(envelope);
    }

    #[test]
    fn block_actions_envelope_snapshot() {
        let config = SimConfig::default();
        let blocks = approval_blocks();
        let button = find_button(&blocks, "approve", None).unwrap();
        let message = ClickedMessage {
            ts: "1732590000.000100".into(),
            is_ephemeral: false,
            message_json: Some(json!({
                "type": "message", "user": "U0BOT", "bot_id": "B0SIM", "ts": "1732590000.000100",
                "text": "Promote Beneficiary?", "blocks": blocks,
            })),
        };
        let envelope = block_actions_envelope(
            &config,
            config.user("U0DEV").unwrap(),
            &deploy(&config),
            &message,
            &button,
            "1732590005.000200",
            &ids(),
        );
        insta::assert_yaml_snapshot!(envelope);
    }

    /// slack-morphism keeps its envelope types private, so the payloads are checked
    /// against its public event models here; tests/sim_slack.rs runs its real listener.
    #[test]
    fn payloads_parse_as_slack_morphism_models() {
        use slack_morphism::prelude::{SlackCommandEvent, SlackInteractionEvent};
        let config = SimConfig::default();
        let slash = slash_command_envelope(
            &config,
            config.user("U0PM").unwrap(),
            &deploy(&config),
            "/lockstep",
            "help",
            &ids(),
        );
        let command: SlackCommandEvent = serde_json::from_value(slash["payload"].clone()).unwrap();
        assert_eq!(command.text.as_deref(), Some("help"));

        let blocks = approval_blocks();
        let button = find_button(&blocks, "reject", None).unwrap();
        let message = ClickedMessage {
            ts: "1732590000.000100".into(),
            is_ephemeral: true,
            message_json: None,
        };
        let click = block_actions_envelope(
            &config,
            config.user("U0DEV").unwrap(),
            &deploy(&config),
            &message,
            &button,
            "1732590005.000200",
            &ids(),
        );
        let parsed: SlackInteractionEvent =
            serde_json::from_value(click["payload"].clone()).unwrap();
        assert!(matches!(parsed, SlackInteractionEvent::BlockActions(_)));
    }

    #[test]
    fn ids_have_slack_shapes() {
        let envelope_id = new_envelope_id();
        assert_eq!(envelope_id.len(), 36);
        assert_eq!(&envelope_id[14..15], "4");
        let trigger = new_trigger_id();
        assert_eq!(trigger.split('.').count(), 3);
    }

    #[test]
    fn retry_adds_attempt_and_reason() {
        let retried = with_retry(&json!({"envelope_id": "e"}), 2);
        assert_eq!(retried["retry_attempt"], 2);
        assert_eq!(retried["retry_reason"], "timeout");
    }
}
