//! The Slack sim proven against the real crate: slack-morphism's own `SlackClient`
//! (plain-HTTP hyper connector) and `SlackClientSocketModeListener` play the bot, so
//! anything that passes here is what slack-morphism understands. A raw WebSocket client
//! checks the frames slack-morphism would hide (hello shape, connection cap).
//! Every wait is event-driven with a timeout; nothing sleeps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hyper_util::client::legacy::connect::HttpConnector;
use lockstep_sim::slack::{
    BotOutput, DisconnectReason, EphemeralVia, SimChannel, SimConfig, SlackSim, ViewOutcome,
};
use serde_json::{json, Value};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Connector = SlackClientHyperConnector<HttpConnector>;
type Client = SlackClient<Connector>;

const WAIT: Duration = Duration::from_secs(10);

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn sim() -> SlackSim {
    install_crypto();
    SlackSim::start(SimConfig::default())
        .await
        .expect("sim starts")
}

fn client(sim: &SlackSim) -> Arc<Client> {
    let connector = SlackClientHyperConnector::with_connector(HttpConnector::new())
        .with_slack_api_url(&sim.api_url());
    Arc::new(SlackClient::new(connector))
}

fn token(value: &str) -> SlackApiToken {
    SlackApiToken::new(value.to_string().into())
}

fn api_error_code(result: ClientResult<impl std::fmt::Debug>) -> String {
    match result {
        Err(SlackClientError::ApiError(error)) => error.code,
        other => panic!("expected a Slack API error, got {other:?}"),
    }
}

fn text_content(text: &str) -> SlackMessageContent {
    SlackMessageContent::new().with_text(text.to_string())
}

// ---- Web API -------------------------------------------------------------------

#[tokio::test]
async fn auth_test_answers_for_the_bot_and_refuses_bad_tokens() {
    let sim = sim().await;
    let client = client(&sim);

    let me = client
        .open_session(&token(sim.bot_token()))
        .auth_test()
        .await
        .unwrap();
    assert_eq!(me.user_id.to_string(), "U0BOT");
    assert_eq!(me.team_id.to_string(), "T0SIM");
    assert_eq!(me.bot_id.map(|b| b.to_string()).as_deref(), Some("B0SIM"));

    let wrong = client.open_session(&token("xoxb-wrong")).auth_test().await;
    assert_eq!(api_error_code(wrong), "invalid_auth");
    let app_token_on_bot_method = client
        .open_session(&token(sim.app_token()))
        .auth_test()
        .await;
    assert_eq!(
        api_error_code(app_token_on_bot_method),
        "not_allowed_token_type"
    );
    let bot_token_on_connections_open = client
        .open_session(&token(sim.bot_token()))
        .apps_connections_open(&SlackApiAppsConnectionOpenRequest::new())
        .await;
    assert_eq!(
        api_error_code(bot_token_on_connections_open),
        "not_allowed_token_type"
    );
    assert_eq!(sim.api_calls("auth.test"), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn post_then_update_is_what_the_channel_shows() {
    let sim = sim().await;
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);

    let posted = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "C0DEPLOY".into(),
            text_content("Promoting Beneficiary"),
        ))
        .await
        .unwrap();
    let ts = posted.ts.to_string();
    assert_eq!(posted.channel.to_string(), "C0DEPLOY");

    let reply = session
        .chat_post_message(
            &SlackApiChatPostMessageRequest::new("C0DEPLOY".into(), text_content("step 1 done"))
                .with_thread_ts(posted.ts.clone()),
        )
        .await
        .unwrap();
    assert!(reply.ts.to_string() > ts, "ts values increase");

    session
        .chat_update(&SlackApiChatUpdateRequest::new(
            "C0DEPLOY".into(),
            text_content("Promoted Beneficiary"),
            posted.ts.clone(),
        ))
        .await
        .unwrap();

    let now = sim.message("C0DEPLOY", &ts).expect("message stored");
    assert_eq!(now.text, "Promoted Beneficiary");
    assert!(now.edited_ts.is_some());
    let thread: Vec<_> = sim
        .thread("C0DEPLOY", &ts)
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(thread, ["Promoted Beneficiary", "step 1 done"]);
    let outputs = sim.outputs();
    assert!(
        matches!(&outputs[0], BotOutput::Posted { text, thread_ts: None, .. } if text == "Promoting Beneficiary")
    );
    assert!(matches!(&outputs[1], BotOutput::Posted { thread_ts: Some(t), .. } if *t == ts));
    assert!(
        matches!(&outputs[2], BotOutput::Updated { text, .. } if text == "Promoted Beneficiary")
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn web_api_errors_are_slacks() {
    let sim = sim().await;
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);

    let unknown_channel = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "C0NOPE".into(),
            text_content("x"),
        ))
        .await;
    assert_eq!(api_error_code(unknown_channel), "channel_not_found");
    let empty = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "C0DEPLOY".into(),
            SlackMessageContent::new(),
        ))
        .await;
    assert_eq!(api_error_code(empty), "no_text");
    let bad_thread = session
        .chat_post_message(
            &SlackApiChatPostMessageRequest::new("C0DEPLOY".into(), text_content("x"))
                .with_thread_ts("1.000001".into()),
        )
        .await;
    assert_eq!(api_error_code(bad_thread), "thread_not_found");
    let missing = session
        .chat_update(&SlackApiChatUpdateRequest::new(
            "C0DEPLOY".into(),
            text_content("x"),
            "1.000001".into(),
        ))
        .await;
    assert_eq!(api_error_code(missing), "message_not_found");
    let outsider = session
        .chat_post_ephemeral(&SlackApiChatPostEphemeralRequest::new(
            "C0DEPLOY".into(),
            "U0GHOST".into(),
            text_content("x"),
        ))
        .await;
    assert_eq!(api_error_code(outsider), "user_not_in_channel");
    let oversized: Vec<SlackBlock> = serde_json::from_value(json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "x".repeat(3001)}}
    ]))
    .unwrap();
    let too_big = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "C0DEPLOY".into(),
            SlackMessageContent::new().with_blocks(oversized),
        ))
        .await;
    match too_big {
        Err(SlackClientError::ApiError(error)) => {
            assert_eq!(error.code, "invalid_blocks");
            let body = error.http_response_body.unwrap_or_default();
            assert!(
                body.contains("[json-pointer:/blocks/0/text/text]"),
                "{body}"
            );
        }
        other => panic!("expected invalid_blocks, got {other:?}"),
    }
    let nobody = session
        .users_info(&SlackApiUsersInfoRequest::new("U0GHOST".into()))
        .await;
    assert_eq!(api_error_code(nobody), "user_not_found");
    let no_group = session
        .usergroups_users_list(&SlackApiUserGroupsUsersListRequest::new("S0NOPE".into()))
        .await;
    assert_eq!(api_error_code(no_group), "no_such_subteam");
    assert!(sim.outputs().is_empty(), "refused calls leave no output");
    sim.shutdown().await;
}

#[tokio::test]
async fn bot_needs_membership_and_cannot_edit_people() {
    install_crypto();
    let config = SimConfig::default()
        .with_channel(SimChannel::new("C0QUIET", "quiet").with_members(&["U0PM"]));
    let sim = SlackSim::start(config).await.unwrap();
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);

    let outside = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "C0QUIET".into(),
            text_content("x"),
        ))
        .await;
    assert_eq!(api_error_code(outside), "not_in_channel");

    let human = sim
        .post_user_message("U0PM", "C0DEPLOY", "please promote", None)
        .unwrap();
    let edit = session
        .chat_update(&SlackApiChatUpdateRequest::new(
            "C0DEPLOY".into(),
            text_content("hijacked"),
            human.clone().into(),
        ))
        .await;
    assert_eq!(api_error_code(edit), "cant_update_message");
    let reply = session
        .chat_post_message(
            &SlackApiChatPostMessageRequest::new("C0DEPLOY".into(), text_content("on it"))
                .with_thread_ts(human.clone().into()),
        )
        .await
        .unwrap();
    let thread: Vec<_> = sim
        .thread("C0DEPLOY", &human)
        .into_iter()
        .map(|m| m.ts)
        .collect();
    assert_eq!(thread, [human, reply.ts.to_string()]);
    sim.shutdown().await;
}

#[tokio::test]
async fn directory_lookups_and_ephemerals() {
    let sim = sim().await;
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);

    let pm = session
        .users_info(&SlackApiUsersInfoRequest::new("U0PM".into()))
        .await
        .unwrap()
        .user;
    assert_eq!(pm.real_name.as_deref(), Some("Priya PM"));
    assert_eq!(
        pm.profile
            .and_then(|p| p.email)
            .map(|e| e.to_string())
            .as_deref(),
        Some("pm@example.com")
    );
    let admin = session
        .users_info(&SlackApiUsersInfoRequest::new("U0ADMIN".into()))
        .await
        .unwrap()
        .user;
    assert_eq!(admin.flags.is_admin, Some(true));
    let approvers = session
        .usergroups_users_list(&SlackApiUserGroupsUsersListRequest::new(
            "S0APPROVERS".into(),
        ))
        .await
        .unwrap();
    assert_eq!(approvers.users, vec![SlackUserId::from("U0DEV")]);

    session
        .chat_post_ephemeral(&SlackApiChatPostEphemeralRequest::new(
            "C0DEPLOY".into(),
            "U0PM".into(),
            text_content("only you can see this"),
        ))
        .await
        .unwrap();
    assert!(matches!(
        &sim.outputs()[0],
        BotOutput::Ephemeral { user, via: EphemeralVia::PostEphemeral, text, .. }
            if user == "U0PM" && text == "only you can see this"
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_429_is_a_rate_limit_error_with_retry_after() {
    let sim = sim().await;
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);
    sim.rate_limit("chat.postMessage", 1, 7);

    let request = SlackApiChatPostMessageRequest::new("C0DEPLOY".into(), text_content("hello"));
    match session.chat_post_message(&request).await {
        Err(SlackClientError::RateLimitError(error)) => {
            assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
            assert_eq!(error.code.as_deref(), Some("ratelimited"));
        }
        other => panic!("expected a rate limit error, got {other:?}"),
    }
    session
        .chat_post_message(&request)
        .await
        .expect("only one call was limited");
    assert_eq!(sim.api_calls("chat.postMessage"), 2);
    assert_eq!(sim.outputs().len(), 1);
    sim.shutdown().await;
}

// ---- Socket Mode with slack-morphism's listener ---------------------------------

/// Acks with a payload, then answers through the response URL off the callback.
async fn on_command(
    event: SlackCommandEvent,
    client: Arc<Client>,
    _state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let reply = format!(
        "{} ran {} {} in {}",
        event.user_id,
        event.command,
        event.text.clone().unwrap_or_default(),
        event.channel_id
    );
    tokio::spawn(async move {
        let request = SlackApiPostWebhookMessageRequest::new(text_content(&reply));
        if let Err(error) = client.respond_to_event(&event.response_url, &request).await {
            eprintln!("response_url post failed: {error}");
        }
    });
    Ok(
        SlackCommandEventResponse::new(text_content("Working on it"))
            .with_response_type(SlackMessageResponseType::Ephemeral),
    )
}

/// Replaces the clicked message, naming who clicked what.
async fn on_interaction(
    event: SlackInteractionEvent,
    client: Arc<Client>,
    _state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let SlackInteractionEvent::BlockActions(click) = event {
        let action = click.actions.unwrap_or_default().into_iter().next();
        let (action_id, value) = action
            .map(|a| (a.action_id.to_string(), a.value.unwrap_or_default()))
            .unwrap_or_default();
        let who = click.user.map(|u| u.id.to_string()).unwrap_or_default();
        if let Some(url) = click.response_url {
            tokio::spawn(async move {
                let request = SlackApiPostWebhookMessageRequest::new(text_content(&format!(
                    "{action_id} ({value}) by {who}"
                )))
                .with_replace_original(true);
                if let Err(error) = client.respond_to_event(&url, &request).await {
                    eprintln!("response_url post failed: {error}");
                }
            });
        }
    }
    Ok(())
}

fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<Client>,
    _state: SlackClientEventsUserState,
) -> HttpStatusCode {
    eprintln!("listener error: {error}");
    HttpStatusCode::OK
}

async fn start_listener(
    sim: &SlackSim,
    connections: u32,
) -> SlackClientSocketModeListener<Connector> {
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client(sim)).with_error_handler(on_error),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction);
    let config = SlackClientSocketModeConfig::new().with_max_connections_count(connections);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    listener
        .listen_for(&token(sim.app_token()))
        .await
        .expect("listener registers");
    listener.start().await;
    listener
}

#[tokio::test]
async fn listener_receives_a_command_and_its_ack_is_recorded() {
    let sim = sim().await;
    let listener = start_listener(&sim, 1).await;

    let sent = sim
        .send_slash_command("U0PM", "C0DEPLOY", "/lockstep", "status")
        .await
        .unwrap();
    let ack = sim.wait_for_ack(&sent.envelope_id, WAIT).await.unwrap();
    assert_eq!(ack.connection_id, sent.connection_id);
    assert_eq!(
        ack.payload,
        Some(json!({"text": "Working on it", "response_type": "ephemeral"}))
    );
    assert_eq!(sim.ack_latencies(), vec![ack.latency]);
    assert!(sim.unacked_envelopes().is_empty());

    // The ack payload and the response-URL reply race, as on Slack.
    let mut cursor = 0;
    let shown = command_outputs(&sim, &mut cursor).await;
    assert_eq!(
        shown,
        [
            (EphemeralVia::AckPayload, "Working on it".to_string()),
            (
                EphemeralVia::ResponseUrl,
                "U0PM ran /lockstep status in C0DEPLOY".to_string()
            ),
        ]
    );
    assert!(sim.outputs().iter().all(|o| matches!(
        o,
        BotOutput::Ephemeral { channel, user, .. } if channel == "C0DEPLOY" && user == "U0PM"
    )));
    assert_eq!(sim.connections_opened(), 1);
    listener.shutdown().await;
    sim.shutdown().await;
}

/// The two ephemerals `on_command` produces (ack payload, response-URL reply), sorted
/// by how they were delivered, since their order is a race.
async fn command_outputs(sim: &SlackSim, cursor: &mut usize) -> Vec<(EphemeralVia, String)> {
    let mut shown = Vec::new();
    for _ in 0..2 {
        match sim.next_output(cursor, WAIT).await.unwrap() {
            BotOutput::Ephemeral { via, text, .. } => shown.push((via, text)),
            other => panic!("expected an ephemeral, got {other:?}"),
        }
    }
    shown.sort_by_key(|(via, _)| format!("{via:?}"));
    shown
}

#[tokio::test]
async fn refresh_requested_disconnect_makes_slack_morphism_reconnect() {
    let sim = sim().await;
    let listener = start_listener(&sim, 1).await;
    sim.wait_for_open_connections(1, WAIT).await.unwrap();

    sim.disconnect_all(DisconnectReason::RefreshRequested);
    sim.wait_for_connections_opened(2, WAIT).await.unwrap();
    sim.wait_for_open_connections(1, WAIT).await.unwrap();

    // The new connection carries traffic.
    let sent = sim
        .send_slash_command("U0DEV", "C0DEPLOY", "/lockstep", "help")
        .await
        .unwrap();
    let ack = sim.wait_for_ack(&sent.envelope_id, WAIT).await.unwrap();
    assert_eq!(ack.connection_id, 2);
    assert_eq!(
        sim.api_calls("apps.connections.open"),
        2,
        "each reconnect opens a new ticket"
    );
    listener.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn button_click_reaches_the_listener_and_replaces_the_message() {
    let sim = sim().await;
    let listener = start_listener(&sim, 1).await;
    let client = client(&sim);
    let blocks: Vec<SlackBlock> = serde_json::from_value(json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": "Promote *Beneficiary*?"}},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "approve", "value": "run-1", "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "reject", "value": "run-1",
             "text": {"type": "plain_text", "text": "Reject"}}
        ]}
    ]))
    .unwrap();
    let posted = client
        .open_session(&token(sim.bot_token()))
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "C0DEPLOY".into(),
            SlackMessageContent::new()
                .with_text("Promote Beneficiary?".into())
                .with_blocks(blocks),
        ))
        .await
        .unwrap();
    let ts = posted.ts.to_string();

    let missing = sim
        .click_button("U0DEV", "C0DEPLOY", &ts, "merge", None)
        .await;
    assert!(missing
        .unwrap_err()
        .to_string()
        .contains("no button with action_id \"merge\""));

    let mut cursor = sim.outputs().len();
    let sent = sim
        .click_button("U0DEV", "C0DEPLOY", &ts, "approve", Some("run-1"))
        .await
        .unwrap();
    let ack = sim.wait_for_ack(&sent.envelope_id, WAIT).await.unwrap();
    assert_eq!(ack.payload, None, "block_actions acks carry no payload");
    match sim.next_output(&mut cursor, WAIT).await.unwrap() {
        BotOutput::ResponseReplaced {
            ts: replaced,
            user: None,
            text,
            ..
        } => {
            assert_eq!(replaced, ts);
            assert_eq!(text, "approve (run-1) by U0DEV");
        }
        other => panic!("expected the message to be replaced, got {other:?}"),
    }
    let now = sim.message("C0DEPLOY", &ts).unwrap();
    assert_eq!(now.text, "approve (run-1) by U0DEV");
    assert!(
        now.blocks.is_empty(),
        "replace_original swaps the whole message"
    );
    listener.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn redelivered_envelope_keeps_its_id_and_is_acked_again() {
    let sim = sim().await;
    let listener = start_listener(&sim, 1).await;
    let sent = sim
        .send_slash_command("U0PM", "C0DEPLOY", "/lockstep", "status")
        .await
        .unwrap();
    sim.wait_for_ack(&sent.envelope_id, WAIT).await.unwrap();

    sim.redeliver(&sent.envelope_id, 1).await.unwrap();
    // slack-morphism ignores retry_attempt, so its handler runs and acks again: a bot
    // must deduplicate on its own (envelope id / trigger id).
    let acks = sim.wait_for_acks(&sent.envelope_id, 2, WAIT).await.unwrap();
    assert_eq!(acks.len(), 2);
    assert_eq!(sim.delivered_to(&sent.envelope_id).len(), 2);
    listener.shutdown().await;
    sim.shutdown().await;
}

// ---- Response URLs ----------------------------------------------------------------

#[tokio::test]
async fn response_urls_allow_five_uses_then_refuse_and_expire() {
    let sim = sim().await;
    let listener = start_listener(&sim, 1).await;
    let sent = sim
        .send_slash_command("U0PM", "C0DEPLOY", "/lockstep", "status")
        .await
        .unwrap();
    let mut cursor = 0;
    command_outputs(&sim, &mut cursor).await; // the handler's reply is use 1
    listener.shutdown().await;

    let http = reqwest::Client::new();
    for n in 2..=5 {
        let response = http
            .post(&sent.response_url)
            .json(&json!({"text": format!("update {n}"), "response_type": "in_channel"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    let sixth = http
        .post(&sent.response_url)
        .json(&json!({"text": "too many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sixth.status(), 404);
    assert_eq!(sixth.text().await.unwrap(), "used_url");
    let in_channel = sim
        .outputs()
        .iter()
        .filter(|o| matches!(o, BotOutput::ResponseInChannel { .. }))
        .count();
    assert_eq!(in_channel, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_response_url_is_refused() {
    install_crypto();
    let sim = SlackSim::start(SimConfig::default().with_dispatch_wait(Duration::from_secs(5)))
        .await
        .unwrap();
    let listener = start_listener(&sim, 1).await;
    let sent = sim
        .send_slash_command("U0PM", "C0DEPLOY", "/lockstep", "status")
        .await
        .unwrap();
    sim.wait_for_ack(&sent.envelope_id, WAIT).await.unwrap();
    sim.expire_response_url(&sent.response_url).unwrap();
    let response = reqwest::Client::new()
        .post(&sent.response_url)
        .json(&json!({"text": "late"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.text().await.unwrap(), "Expired url");
    listener.shutdown().await;
    sim.shutdown().await;
}

// ---- Raw WebSocket: frames and the connection cap ---------------------------------

type RawSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(sim: &SlackSim) -> RawSocket {
    let url = connections_open(sim).await;
    let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    socket
}

async fn connections_open(sim: &SlackSim) -> String {
    let opened: Value = reqwest::Client::new()
        .post(format!("{}apps.connections.open", sim.api_url()))
        .bearer_auth(sim.app_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(opened["ok"], true);
    let url = opened["url"].as_str().unwrap();
    assert!(
        url.starts_with("ws://127.0.0.1:")
            && url.contains("/link/?ticket=")
            && url.ends_with("&app_id=A0SIM")
    );
    url.to_string()
}

async fn next_json<S>(socket: &mut S) -> Value
where
    S: futures::Stream<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(WsMessage::Text(text))) => return serde_json::from_str(text.as_str()).unwrap(),
            Some(Ok(WsMessage::Pong(_))) | Some(Ok(WsMessage::Ping(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn raw_socket_sees_hello_pongs_and_the_connection_cap() {
    install_crypto();
    let sim = SlackSim::start(SimConfig::default().with_max_connections(1))
        .await
        .unwrap();
    let mut first = open_socket(&sim).await;
    let hello = next_json(&mut first).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(hello["connection_info"]["app_id"], "A0SIM");
    assert!(hello["debug_info"]["host"].is_string());

    first
        .send(WsMessage::Ping(b"beat".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(WAIT, first.next()).await.unwrap();
    assert!(matches!(pong, Some(Ok(WsMessage::Pong(body))) if body.as_ref() == b"beat"));

    let mut second = open_socket(&sim).await;
    let refused = next_json(&mut second).await;
    assert_eq!(refused["type"], "disconnect");
    assert_eq!(refused["reason"], "too_many_websockets");
    assert_eq!(sim.connections_opened(), 2);
    assert_eq!(sim.open_connection_count(), 1);

    // The app token must be in the header; tickets are single use.
    let no_header = reqwest::Client::new()
        .post(format!("{}apps.connections.open", sim.api_url()))
        .form(&[("token", sim.app_token())])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(no_header, json!({"ok": false, "error": "not_authed"}));
    drop(first);
    sim.wait_for_open_connections(0, WAIT).await.unwrap();
    let url = connections_open(&sim).await;
    let (_third, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let reused = tokio_tungstenite::connect_async(url.as_str()).await;
    assert!(reused.is_err(), "a ticket opens one connection only");
    sim.shutdown().await;
}

#[tokio::test]
async fn raw_socket_ack_and_warning_disconnect() {
    install_crypto();
    let sim = SlackSim::start(SimConfig::default().with_warning_grace(Duration::from_millis(50)))
        .await
        .unwrap();
    let mut socket = open_socket(&sim).await;
    next_json(&mut socket).await; // hello

    let sent = sim
        .send_slash_command("U0ADMIN", "C0DEPLOY", "/lockstep", "audit")
        .await
        .unwrap();
    let envelope = next_json(&mut socket).await;
    assert_eq!(envelope["envelope_id"], sent.envelope_id.as_str());
    assert_eq!(
        envelope["payload"]["response_url"],
        sent.response_url.as_str()
    );
    assert_eq!(envelope["payload"]["user_name"], "admin");
    socket
        .send(WsMessage::Text(
            json!({"envelope_id": sent.envelope_id}).to_string().into(),
        ))
        .await
        .unwrap();
    let ack = sim.wait_for_ack(&sent.envelope_id, WAIT).await.unwrap();
    assert_eq!(ack.payload, None);

    sim.redeliver(&sent.envelope_id, 2).await.unwrap();
    let again = next_json(&mut socket).await;
    assert_eq!(again["envelope_id"], sent.envelope_id.as_str());
    assert_eq!(again["retry_attempt"], 2);
    assert_eq!(again["retry_reason"], "timeout");
    let in_channel = json!({"envelope_id": sent.envelope_id,
        "payload": {"text": "Auditing", "response_type": "in_channel"}});
    socket
        .send(WsMessage::Text(in_channel.to_string().into()))
        .await
        .unwrap();
    let acks = sim.wait_for_acks(&sent.envelope_id, 2, WAIT).await.unwrap();
    assert_eq!(acks[1].payload.as_ref().unwrap()["text"], "Auditing");
    match &sim.outputs()[..] {
        [BotOutput::ResponseInChannel {
            channel,
            text,
            thread_ts: None,
            ..
        }] => {
            assert_eq!((channel.as_str(), text.as_str()), ("C0DEPLOY", "Auditing"));
        }
        other => panic!("expected the ack payload shown in channel, got {other:?}"),
    }

    sim.disconnect_all(DisconnectReason::Warning);
    let warning = next_json(&mut socket).await;
    assert_eq!(
        warning,
        json!({"type": "disconnect", "reason": "warning", "debug_info": {"host": "applink-sim-1"}})
    );
    let refresh = next_json(&mut socket).await;
    assert_eq!(refresh["reason"], "refresh_requested");
    let closed = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
    assert!(matches!(closed, Some(Ok(WsMessage::Close(_))) | None));
    sim.wait_for_open_connections(0, WAIT).await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn two_listener_connections_share_the_envelopes() {
    let sim = sim().await;
    // slack-morphism's default: 2 connections, the second after its 5 s backoff.
    let listener = start_listener(&sim, 2).await;
    sim.wait_for_open_connections(2, Duration::from_secs(20))
        .await
        .unwrap();

    let first = sim
        .send_slash_command("U0PM", "C0DEPLOY", "/lockstep", "one")
        .await
        .unwrap();
    let second = sim
        .send_slash_command("U0PM", "C0DEPLOY", "/lockstep", "two")
        .await
        .unwrap();
    assert_ne!(
        first.connection_id, second.connection_id,
        "envelopes go to either connection"
    );
    for sent in [&first, &second] {
        let ack = sim.wait_for_ack(&sent.envelope_id, WAIT).await.unwrap();
        assert_eq!(ack.connection_id, sent.connection_id);
    }

    // One connection told link_disabled: slack-morphism replaces just that one.
    let ids = sim.open_connection_ids();
    sim.disconnect_connection(ids[0], DisconnectReason::LinkDisabled)
        .unwrap();
    sim.wait_for_connections_opened(3, WAIT).await.unwrap();
    sim.wait_for_open_connections(2, WAIT).await.unwrap();
    assert!(!sim.open_connection_ids().contains(&ids[0]));
    assert!(sim
        .disconnect_connection(ids[0], DisconnectReason::Warning)
        .is_err());
    listener.shutdown().await;
    sim.shutdown().await;
}

// ---- Control surface (/_sim/) ---------------------------------------------------------

#[tokio::test]
async fn control_surface_drives_commands_clicks_and_reads_outputs() {
    let sim = sim().await;
    let listener = start_listener(&sim, 1).await;
    let http = reqwest::Client::new();
    let base = sim.base_url();

    let sent: Value = http
        .post(format!("{base}/_sim/command"))
        .json(&json!({"user": "U0DEV", "channel": "C0DEPLOY", "command": "/lockstep", "text": "status"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let envelope_id = sent["envelope_id"]
        .as_str()
        .expect("envelope id in the answer");
    sim.wait_for_ack(envelope_id, WAIT).await.unwrap();
    let mut cursor = 0;
    command_outputs(&sim, &mut cursor).await;

    let outputs: Value = http
        .get(format!("{base}/_sim/outputs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let replies: Vec<_> = outputs
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "Ephemeral" && o["via"] == "ResponseUrl")
        .collect();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["text"], "U0DEV ran /lockstep status in C0DEPLOY");

    let refused = http
        .post(format!("{base}/_sim/click"))
        .json(&json!({"user": "U0DEV", "channel": "C0DEPLOY", "message_ts": "1.000001", "action_id": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let why: Value = refused.json().await.unwrap();
    assert!(why["error"]
        .as_str()
        .unwrap()
        .contains("no message 1.000001 in C0DEPLOY"));
    listener.shutdown().await;
    sim.shutdown().await;
}

// ---- Message metadata, history and threads -------------------------------------------

fn keyed(text: &str, key: &str) -> SlackMessageContent {
    let payload = std::collections::HashMap::from([("key".to_string(), key.to_string())]);
    text_content(text).with_metadata(
        SlackMessageMetadata::new("lockstep_post".into()).with_event_payload(payload),
    )
}

async fn raw_api(sim: &SlackSim, method: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}{method}", sim.api_url()))
        .bearer_auth(sim.bot_token())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn history_request(channel: &str) -> SlackApiConversationsHistoryRequest {
    SlackApiConversationsHistoryRequest::new().with_channel(channel.into())
}

#[tokio::test]
async fn metadata_rides_on_posts_and_comes_back_only_to_readers_that_ask() {
    let sim = sim().await;
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);

    let posted = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "C0DEPLOY".into(),
            keyed("Promoting", "run-1/post/1"),
        ))
        .await
        .unwrap();
    let stored = sim.message("C0DEPLOY", posted.ts.as_ref()).unwrap();
    assert_eq!(
        stored.metadata,
        Some(json!({"event_type": "lockstep_post", "event_payload": {"key": "run-1/post/1"}}))
    );

    let plain = session
        .conversations_history(&history_request("C0DEPLOY"))
        .await
        .unwrap();
    assert_eq!(plain.messages.len(), 1);
    assert_eq!(plain.messages[0].content.metadata, None);
    let with = session
        .conversations_history(&history_request("C0DEPLOY").with_include_all_metadata(true))
        .await
        .unwrap();
    let metadata = with.messages[0].content.metadata.clone().unwrap();
    assert_eq!(metadata.event_type, "lockstep_post");
    assert_eq!(
        metadata.event_payload.unwrap()["key"],
        "run-1/post/1".to_string()
    );

    // chat.update replaces the metadata it is given and keeps it otherwise.
    session
        .chat_update(&SlackApiChatUpdateRequest::new(
            "C0DEPLOY".into(),
            keyed("Promoted", "run-1/post/2"),
            posted.ts.clone(),
        ))
        .await
        .unwrap();
    session
        .chat_update(&SlackApiChatUpdateRequest::new(
            "C0DEPLOY".into(),
            text_content("Promoted!"),
            posted.ts.clone(),
        ))
        .await
        .unwrap();
    let now = sim.message("C0DEPLOY", posted.ts.as_ref()).unwrap();
    assert_eq!(
        now.metadata.unwrap()["event_payload"]["key"],
        "run-1/post/2"
    );

    // Slack's two metadata errors.
    let not_json = raw_api(
        &sim,
        "chat.postMessage",
        json!({"channel": "C0DEPLOY", "text": "x", "metadata": "{not json"}),
    )
    .await;
    assert_eq!(not_json["error"], "invalid_metadata_format");
    let no_type = raw_api(
        &sim,
        "chat.postMessage",
        json!({"channel": "C0DEPLOY", "text": "x", "metadata": {"event_payload": {}}}),
    )
    .await;
    assert_eq!(no_type["error"], "invalid_metadata_schema");
    // A form body carries metadata as a JSON string.
    let form: Value = reqwest::Client::new()
        .post(format!("{}chat.postMessage", sim.api_url()))
        .bearer_auth(sim.bot_token())
        .form(&[
            ("channel", "C0DEPLOY"),
            ("text", "from a form"),
            (
                "metadata",
                r#"{"event_type":"lockstep_post","event_payload":{"key":"k"}}"#,
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(form["ok"], true, "{form}");
    let form_ts = form["ts"].as_str().unwrap();
    assert!(sim.message("C0DEPLOY", form_ts).unwrap().metadata.is_some());
    sim.shutdown().await;
}

#[tokio::test]
async fn history_is_newest_first_in_pages_with_thread_summaries_and_bounds() {
    let sim = sim().await;
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);
    let mut top = Vec::new();
    for n in 1..=5 {
        let posted = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                "C0DEPLOY".into(),
                text_content(&format!("m{n}")),
            ))
            .await
            .unwrap();
        top.push(posted.ts.to_string());
    }
    sim.post_user_message("U0PM", "C0DEPLOY", "reply", Some(&top[1]))
        .unwrap();
    let broadcast = raw_api(
        &sim,
        "chat.postMessage",
        json!({"channel": "C0DEPLOY", "text": "also here", "thread_ts": top[1], "reply_broadcast": true}),
    )
    .await;

    let mut seen = Vec::new();
    let mut cursor: Option<SlackCursorId> = None;
    let mut pages = 0;
    loop {
        let page = session
            .conversations_history(
                &history_request("C0DEPLOY")
                    .with_limit(2)
                    .opt_cursor(cursor.clone()),
            )
            .await
            .unwrap();
        pages += 1;
        seen.extend(
            page.messages
                .iter()
                .map(|m| m.content.text.clone().unwrap()),
        );
        let next = page
            .response_metadata
            .and_then(|r| r.next_cursor)
            .filter(|c| !c.0.is_empty());
        assert_eq!(page.has_more, Some(next.is_some()));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["also here", "m5", "m4", "m3", "m2", "m1"]);

    let all = raw_api(
        &sim,
        "conversations.history",
        json!({"channel": "C0DEPLOY"}),
    )
    .await;
    let parent = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["ts"] == top[1].as_str())
        .unwrap();
    assert_eq!(parent["reply_count"], 2);
    assert_eq!(parent["reply_users"], json!(["U0PM", "U0BOT"]));
    assert_eq!(parent["latest_reply"], broadcast["ts"]);
    assert_eq!(parent["thread_ts"], top[1].as_str());
    assert_eq!(all["messages"][0]["subtype"], "thread_broadcast");

    // oldest/latest are exclusive unless `inclusive`.
    let bounded = raw_api(
        &sim,
        "conversations.history",
        json!({"channel": "C0DEPLOY", "oldest": top[1], "latest": top[3]}),
    )
    .await;
    let texts: Vec<&str> = bounded["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m3"]);
    let inclusive = raw_api(
        &sim,
        "conversations.history",
        json!({"channel": "C0DEPLOY", "oldest": top[1], "latest": top[3], "inclusive": true}),
    )
    .await;
    assert_eq!(inclusive["messages"].as_array().unwrap().len(), 3);

    for (args, code) in [
        (
            json!({"channel": "C0DEPLOY", "cursor": "nonsense"}),
            "invalid_cursor",
        ),
        (
            json!({"channel": "C0DEPLOY", "oldest": "yesterday"}),
            "invalid_ts_oldest",
        ),
        (
            json!({"channel": "C0DEPLOY", "latest": "1.2.3"}),
            "invalid_ts_latest",
        ),
        (json!({"channel": "deploy"}), "channel_not_found"),
        (json!({}), "channel_not_found"),
    ] {
        let refused = raw_api(&sim, "conversations.history", args.clone()).await;
        assert_eq!(refused["error"], code, "{args}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn replies_list_the_parent_then_its_replies_and_page_forward() {
    let sim = sim().await;
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);
    let root = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new(
            "C0DEPLOY".into(),
            text_content("Promote Beneficiary"),
        ))
        .await
        .unwrap()
        .ts;
    let mut replies = Vec::new();
    for n in 1..=3 {
        let reply = session
            .chat_post_message(
                &SlackApiChatPostMessageRequest::new(
                    "C0DEPLOY".into(),
                    keyed(&format!("step {n}"), &format!("run-1/step/{n}")),
                )
                .with_thread_ts(root.clone()),
            )
            .await
            .unwrap();
        replies.push(reply.ts.to_string());
    }

    let thread = session
        .conversations_replies(&SlackApiConversationsRepliesRequest::new(
            "C0DEPLOY".into(),
            root.clone(),
        ))
        .await
        .unwrap();
    let texts: Vec<String> = thread
        .messages
        .iter()
        .map(|m| m.content.text.clone().unwrap())
        .collect();
    assert_eq!(texts, ["Promote Beneficiary", "step 1", "step 2", "step 3"]);
    assert!(thread.messages.iter().all(|m| m.content.metadata.is_none()));

    // slack-morphism's replies request has no include_all_metadata; ask over HTTP.
    let first = raw_api(
        &sim,
        "conversations.replies",
        json!({"channel": "C0DEPLOY", "ts": root.to_string(), "limit": 2, "include_all_metadata": true}),
    )
    .await;
    assert_eq!(first["has_more"], true);
    assert_eq!(
        first["messages"][1]["metadata"]["event_payload"]["key"],
        "run-1/step/1"
    );
    assert_eq!(first["messages"][1]["parent_user_id"], "U0BOT");
    let cursor = first["response_metadata"]["next_cursor"].as_str().unwrap();
    let second = raw_api(
        &sim,
        "conversations.replies",
        json!({"channel": "C0DEPLOY", "ts": root.to_string(), "limit": 2, "cursor": cursor}),
    )
    .await;
    assert_eq!(second["has_more"], false);
    let rest: Vec<&str> = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["step 2", "step 3"]);

    // A reply's ts names its thread; oldest bounds it.
    let since = raw_api(
        &sim,
        "conversations.replies",
        json!({"channel": "C0DEPLOY", "ts": replies[2], "oldest": replies[0]}),
    )
    .await;
    assert_eq!(since["messages"].as_array().unwrap().len(), 2);
    let missing = raw_api(
        &sim,
        "conversations.replies",
        json!({"channel": "C0DEPLOY", "ts": "1.000001"}),
    )
    .await;
    assert_eq!(missing["error"], "thread_not_found");
    sim.shutdown().await;
}

#[tokio::test]
async fn reading_a_channel_needs_the_bot_in_it() {
    install_crypto();
    let config = SimConfig::default()
        .with_channel(SimChannel::new("C0PUBLIC", "public").with_members(&["U0PM"]))
        .with_channel(
            SimChannel::new("C0SECRET", "secret")
                .with_members(&["U0PM"])
                .private(),
        );
    let sim = SlackSim::start(config).await.unwrap();
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);
    let public = session
        .conversations_history(&history_request("C0PUBLIC"))
        .await;
    assert_eq!(api_error_code(public), "not_in_channel");
    let private = session
        .conversations_history(&history_request("C0SECRET"))
        .await;
    assert_eq!(api_error_code(private), "channel_not_found");
    let replies = raw_api(
        &sim,
        "conversations.replies",
        json!({"channel": "C0PUBLIC", "ts": "1.000001"}),
    )
    .await;
    assert_eq!(replies["error"], "not_in_channel");
    let app_token = reqwest::Client::new()
        .post(format!("{}conversations.history", sim.api_url()))
        .bearer_auth(sim.app_token())
        .form(&[("channel", "C0DEPLOY")])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(app_token["error"], "not_allowed_token_type");
    sim.shutdown().await;
}

// ---- Modals and the Home tab ---------------------------------------------------------

fn request_changes_modal(metadata: &str) -> SlackView {
    serde_json::from_value(json!({
        "type": "modal",
        "callback_id": "request_changes",
        "private_metadata": metadata,
        "notify_on_close": true,
        "title": {"type": "plain_text", "text": "Request changes"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Promotion *run-1*"}},
            {"type": "input", "block_id": "why", "label": {"type": "plain_text", "text": "What should change?"},
             "element": {"type": "plain_text_input", "action_id": "text", "multiline": true}},
            {"type": "input", "block_id": "note", "optional": true,
             "label": {"type": "plain_text", "text": "Note"},
             "element": {"type": "plain_text_input", "action_id": "text", "initial_value": "none"}}
        ]
    }))
    .unwrap()
}

fn typed(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut values: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (block, action, text) in pairs {
        values
            .entry(block.to_string())
            .or_default()
            .insert(action.to_string(), text.to_string());
    }
    values
}

/// A trigger id as the bot gets it: from a slash command delivered to a listener.
async fn command_trigger(sim: &SlackSim) -> String {
    let sent = sim
        .send_slash_command("U0PM", "C0DEPLOY", "/lockstep", "review")
        .await
        .unwrap();
    sim.wait_for_ack(&sent.envelope_id, WAIT).await.unwrap();
    sent.trigger_id
}

#[tokio::test]
async fn views_open_exchanges_a_trigger_once_while_it_is_fresh() {
    let sim = sim().await;
    let listener = start_listener(&sim, 1).await;
    let client = client(&sim);
    let bot = token(sim.bot_token());
    let session = client.open_session(&bot);

    let trigger = command_trigger(&sim).await;
    let opened = session
        .views_open(&SlackApiViewsOpenRequest::new(
            trigger.clone().into(),
            request_changes_modal("run-1"),
        ))
        .await
        .unwrap();
    let id = opened.view.state_params.id.to_string();
    assert!(id.starts_with('V') && id.len() == 11, "{id}");
    assert_eq!(opened.view.state_params.team_id.to_string(), "T0SIM");
    let SlackView::Modal(modal) = &opened.view.view else {
        panic!("expected a modal back");
    };
    assert_eq!(modal.private_metadata.as_deref(), Some("run-1"));
    assert_eq!(
        modal.callback_id.as_ref().map(|c| c.to_string()).as_deref(),
        Some("request_changes")
    );
    let open = sim.open_views("U0PM");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, id);
    assert_eq!(open[0].view["state"], json!({"values": {}}));

    let again = session
        .views_open(&SlackApiViewsOpenRequest::new(
            trigger.clone().into(),
            request_changes_modal("run-1"),
        ))
        .await;
    assert_eq!(api_error_code(again), "exchanged_trigger_id");

    let stale = command_trigger(&sim).await;
    sim.expire_trigger(&stale).unwrap();
    let expired = session
        .views_open(&SlackApiViewsOpenRequest::new(
            stale.clone().into(),
            request_changes_modal("run-1"),
        ))
        .await;
    assert_eq!(api_error_code(expired), "expired_trigger_id");

    let unknown = session
        .views_open(&SlackApiViewsOpenRequest::new(
            "11111111111.222222222.0123456789abcdef".into(),
            request_changes_modal("run-1"),
        ))
        .await;
    assert_eq!(api_error_code(unknown), "invalid_trigger_id");
    let garbage = raw_api(
        &sim,
        "views.open",
        json!({"trigger_id": "not-a-trigger", "view": {"type": "modal"}}),
    )
    .await;
    assert_eq!(
        garbage,
        json!({"ok": false, "error": "invalid_arguments",
               "response_metadata": {"messages": ["invalid `trigger_id`"]}})
    );

    let calls: Vec<_> = sim
        .views_open_calls()
        .into_iter()
        .map(|c| (c.user, c.outcome))
        .collect();
    assert_eq!(
        calls,
        [
            (Some("U0PM".to_string()), Ok(id.clone())),
            (
                Some("U0PM".to_string()),
                Err("exchanged_trigger_id".to_string())
            ),
            (
                Some("U0PM".to_string()),
                Err("expired_trigger_id".to_string())
            ),
            (None, Err("invalid_trigger_id".to_string())),
            (None, Err("invalid_arguments".to_string())),
        ]
    );
    listener.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn views_are_validated_as_slack_does_and_a_refusal_spends_no_trigger() {
    let sim = sim().await;
    let listener = start_listener(&sim, 1).await;
    let trigger = command_trigger(&sim).await;
    let open = |view: Value| {
        raw_api(
            &sim,
            "views.open",
            json!({"trigger_id": trigger, "view": view}),
        )
    };

    let refused = open(json!({
        "type": "modal",
        "title": {"type": "plain_text", "text": "A title that is far too long"},
        "private_metadata": "x".repeat(3001),
        "blocks": [{"type": "input", "label": {"type": "plain_text", "text": "Why"},
                    "element": {"type": "plain_text_input", "action_id": "a"}}],
    }))
    .await;
    assert_eq!(refused["error"], "invalid_arguments");
    assert_eq!(
        refused["response_metadata"]["messages"],
        json!([
            "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]",
            "[ERROR] must define `submit` to use `input` block [json-pointer:/view/blocks/0/input]",
            "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
        ])
    );
    let home_type = open(json!({"type": "home", "blocks": []})).await;
    assert_eq!(home_type["error"], "invalid_arguments");
    // The trigger survived the refusals; as a form field the view is a JSON string.
    let form: Value = reqwest::Client::new()
        .post(format!("{}views.open", sim.api_url()))
        .bearer_auth(sim.bot_token())
        .form(&[
            ("trigger_id", trigger.as_str()),
            (
                "view",
                r#"{"type":"modal","title":{"type":"plain_text","text":"Ok"},"blocks":[{"type":"divider"}]}"#,
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(form["ok"], true, "{form}");
    assert_eq!(form["view"]["title"]["emoji"], true);
    assert!(form["view"]["blocks"][0]["block_id"].is_string());
    listener.shutdown().await;
    sim.shutdown().await;
}

/// The bot side of the modal tests: a view_submission with an empty "why" is answered
/// with errors, "more" pushes a second view, anything else closes the modal and posts
/// what arrived; app_home_opened republishes the Home tab naming who opened it.
async fn on_view_interaction(
    event: SlackInteractionEvent,
    client: Arc<Client>,
    _state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let SlackInteractionEvent::ViewSubmission(submission) = event else {
        return Ok(SlackInteractionResponse::Empty);
    };
    let values = submission
        .view
        .state_params
        .state
        .map(|s| s.values)
        .unwrap_or_default();
    let text = |block: &str| {
        values
            .get(&SlackBlockId::from(block))
            .and_then(|a| a.get(&SlackActionId::from("text")))
            .and_then(|v| v.value.clone())
            .unwrap_or_default()
    };
    let (why, note) = (text("why"), text("note"));
    if why == "-" {
        let errors = std::collections::HashMap::from([(
            "why".to_string(),
            "Say what should change".to_string(),
        )]);
        return Ok(
            SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(errors))
                .into(),
        );
    }
    if why == "more" {
        let next: SlackView = serde_json::from_value(json!({
            "type": "modal", "title": {"type": "plain_text", "text": "More"},
            "blocks": [{"type": "section", "text": {"type": "plain_text", "text": "Thanks"}}]
        }))
        .unwrap();
        return Ok(
            SlackViewSubmissionResponse::Push(SlackViewSubmissionPushResponse::new(next)).into(),
        );
    }
    let SlackView::Modal(modal) = submission.view.view else {
        return Ok(SlackInteractionResponse::Empty);
    };
    let summary = format!(
        "{} submitted {} ({}): {why} / {note}",
        submission.user.id,
        modal.callback_id.map(|c| c.to_string()).unwrap_or_default(),
        modal.private_metadata.unwrap_or_default(),
    );
    tokio::spawn(async move {
        let token = SlackApiToken::new("xoxb-sim-bot-token".to_string().into());
        let request =
            SlackApiChatPostMessageRequest::new("C0DEPLOY".into(), text_content(&summary));
        if let Err(error) = client
            .open_session(&token)
            .chat_post_message(&request)
            .await
        {
            eprintln!("post failed: {error}");
        }
    });
    Ok(SlackInteractionResponse::Empty)
}

async fn on_push(
    event: SlackPushEventCallback,
    client: Arc<Client>,
    _state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let SlackEventCallbackBody::AppHomeOpened(opened) = event.event {
        let text = format!(
            "Hello {} ({}, {}), event {}",
            opened.user,
            opened.channel,
            if opened.view.is_some() {
                "seen before"
            } else {
                "first visit"
            },
            event.event_id
        );
        tokio::spawn(async move {
            let token = SlackApiToken::new("xoxb-sim-bot-token".to_string().into());
            let view: SlackView = serde_json::from_value(json!({
                "type": "home",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
            }))
            .unwrap();
            let request = SlackApiViewsPublishRequest::new(opened.user, view);
            if let Err(error) = client.open_session(&token).views_publish(&request).await {
                eprintln!("publish failed: {error}");
            }
        });
    }
    Ok(())
}

async fn start_views_listener(sim: &SlackSim) -> SlackClientSocketModeListener<Connector> {
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client(sim)).with_error_handler(on_error),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_view_interaction)
        .with_push_events(on_push);
    let config = SlackClientSocketModeConfig::new().with_max_connections_count(1);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    listener
        .listen_for(&token(sim.app_token()))
        .await
        .expect("listener registers");
    listener.start().await;
    listener
}

async fn open_modal(sim: &SlackSim, metadata: &str) -> String {
    let trigger = command_trigger(sim).await;
    let client = client(sim);
    client
        .open_session(&token(sim.bot_token()))
        .views_open(&SlackApiViewsOpenRequest::new(
            trigger.into(),
            request_changes_modal(metadata),
        ))
        .await
        .unwrap()
        .view
        .state_params
        .id
        .to_string()
}

#[tokio::test]
async fn a_submitted_modal_reaches_the_bot_and_its_ack_decides_what_happens() {
    let sim = sim().await;
    let listener = start_views_listener(&sim).await;
    let view_id = open_modal(&sim, "run-7").await;

    // The Slack client refuses an empty required input, and inputs the view lacks.
    let empty = sim.submit_view("U0PM", &view_id, &typed(&[])).await;
    assert!(empty.unwrap_err().to_string().contains("is required"));
    let stranger = sim
        .submit_view("U0PM", &view_id, &typed(&[("nope", "text", "x")]))
        .await;
    assert!(stranger
        .unwrap_err()
        .to_string()
        .contains("no text input nope/text"));
    let not_theirs = sim
        .submit_view("U0DEV", &view_id, &typed(&[("why", "text", "x")]))
        .await;
    assert!(not_theirs
        .unwrap_err()
        .to_string()
        .contains("has no open modal"));

    // errors: the modal stays open, showing them.
    let rejected = sim
        .submit_view("U0PM", &view_id, &typed(&[("why", "text", "-")]))
        .await
        .unwrap();
    assert_eq!(
        rejected.ack.payload,
        Some(json!({"response_action": "errors", "errors": {"why": "Say what should change"}}))
    );
    assert_eq!(
        rejected.outcome,
        ViewOutcome::Errors {
            errors: BTreeMap::from([("why".to_string(), "Say what should change".to_string())])
        }
    );
    let still = sim.open_views("U0PM");
    assert_eq!(still.len(), 1);
    assert_eq!(still[0].errors["why"], "Say what should change");
    let envelope = sim.envelope(&rejected.envelope_id).unwrap();
    assert_eq!(envelope["accepts_response_payload"], true);
    assert_eq!(envelope["payload"]["type"], "view_submission");
    assert_eq!(envelope["payload"]["response_urls"], json!([]));
    assert_eq!(
        envelope["payload"]["view"]["state"]["values"],
        json!({"why": {"text": {"type": "plain_text_input", "value": "-"}},
               "note": {"text": {"type": "plain_text_input", "value": "none"}}})
    );

    // An empty ack closes it; the bot saw the callback id, metadata and values.
    let mut cursor = sim.outputs().len();
    let accepted = sim
        .submit_view(
            "U0PM",
            &view_id,
            &typed(&[("why", "text", "Rename the field"), ("note", "text", "")]),
        )
        .await
        .unwrap();
    assert_eq!(accepted.ack.payload, None);
    assert_eq!(accepted.outcome, ViewOutcome::Closed);
    assert!(sim.open_views("U0PM").is_empty());
    let posted = sim.next_output(&mut cursor, WAIT).await.unwrap();
    assert_eq!(
        posted.text(),
        "U0PM submitted request_changes (run-7): Rename the field / "
    );

    // push: a second view on the stack.
    let second = open_modal(&sim, "run-8").await;
    let pushed = sim
        .submit_view("U0PM", &second, &typed(&[("why", "text", "more")]))
        .await
        .unwrap();
    let ViewOutcome::Pushed { view_id: top } = pushed.outcome else {
        panic!("expected a push, got {:?}", pushed.outcome);
    };
    let stack = sim.open_views("U0PM");
    assert_eq!(
        stack.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        [second.as_str(), top.as_str()]
    );
    assert_eq!(stack[1].view["previous_view_id"], second.as_str());
    assert_eq!(stack[1].view["root_view_id"], second.as_str());
    listener.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn cancelling_a_modal_tells_the_bot_only_when_it_asked() {
    let sim = sim().await;
    let listener = start_views_listener(&sim).await;
    let view_id = open_modal(&sim, "run-9").await;
    let envelope_id = sim
        .close_view("U0PM", &view_id)
        .await
        .unwrap()
        .expect("notify_on_close asks for view_closed");
    sim.wait_for_ack(&envelope_id, WAIT).await.unwrap();
    let envelope = sim.envelope(&envelope_id).unwrap();
    assert_eq!(envelope["payload"]["type"], "view_closed");
    assert_eq!(envelope["payload"]["view"]["id"], view_id.as_str());
    assert!(sim.open_views("U0PM").is_empty());
    assert!(sim.close_view("U0PM", &view_id).await.is_err());
    listener.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn the_home_tab_is_published_per_user_and_opening_it_is_an_event() {
    let sim = sim().await;
    let listener = start_views_listener(&sim).await;
    let client = client(&sim);
    let session_token = token(sim.bot_token());
    let session = client.open_session(&session_token);

    let first = sim.open_home("U0DEV").await.unwrap();
    assert!(first.event_id.starts_with("Ev"));
    let home = sim.wait_for_home_view("U0DEV", None, WAIT).await.unwrap();
    let text = home.view["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Hello U0DEV (D0DEV, first visit), event Ev"),
        "{text}"
    );
    let envelope = sim.envelope(&first.envelope_id).unwrap();
    assert_eq!(envelope["type"], "events_api");
    assert_eq!(envelope["payload"]["type"], "event_callback");
    assert_eq!(envelope["payload"]["event"]["tab"], "home");
    assert!(sim.home_view("U0PM").is_none(), "Home views are per person");

    // Opening again carries the published view; the bot republishes.
    sim.open_home("U0DEV").await.unwrap();
    let again = sim
        .wait_for_home_view("U0DEV", Some(home.hash()), WAIT)
        .await
        .unwrap();
    assert!(again.view["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap()
        .contains("seen before"));
    assert_eq!(again.id, home.id, "a user's Home view keeps its id");

    // A stale hash is a conflict; the current one is accepted.
    let view: SlackView =
        serde_json::from_value(json!({"type": "home", "blocks": [{"type": "divider"}]})).unwrap();
    let stale = session
        .views_publish(
            &SlackApiViewsPublishRequest::new("U0DEV".into(), view.clone())
                .with_hash(home.hash().to_string()),
        )
        .await;
    assert_eq!(api_error_code(stale), "hash_conflict");
    session
        .views_publish(
            &SlackApiViewsPublishRequest::new("U0DEV".into(), view.clone())
                .with_hash(again.hash().to_string()),
        )
        .await
        .unwrap();
    let nobody = raw_api(
        &sim,
        "views.publish",
        json!({"user_id": "U0GHOST", "view": {"type": "home", "blocks": []}}),
    )
    .await;
    assert_eq!(nobody["error"], "invalid_arguments");
    let modal_as_home = raw_api(
        &sim,
        "views.publish",
        json!({"user_id": "U0DEV", "view": {"type": "modal", "title": {"type": "plain_text", "text": "x"}, "blocks": []}}),
    )
    .await;
    assert_eq!(modal_as_home["error"], "invalid_arguments");
    listener.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_trigger_expires_on_its_own_after_its_time() {
    install_crypto();
    let sim = SlackSim::start(SimConfig::default().with_trigger_ttl(Duration::ZERO))
        .await
        .unwrap();
    let trigger = sim.issue_trigger_id("U0PM");
    let late = raw_api(
        &sim,
        "views.open",
        json!({"trigger_id": trigger, "view": {"type": "modal",
               "title": {"type": "plain_text", "text": "Late"}, "blocks": []}}),
    )
    .await;
    assert_eq!(late["error"], "expired_trigger_id");
    sim.shutdown().await;
}
