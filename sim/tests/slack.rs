//! The Slack sim proven against the real crate: slack-morphism's own `SlackClient`
//! (plain-HTTP hyper connector) and `SlackClientSocketModeListener` play the bot, so
//! anything that passes here is what slack-morphism understands. A raw WebSocket client
//! checks the frames slack-morphism would hide (hello shape, connection cap).
//! Every wait is event-driven with a timeout; nothing sleeps.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hyper_util::client::legacy::connect::HttpConnector;
use lockstep_sim::slack::{
    BotOutput, DisconnectReason, EphemeralVia, SimChannel, SimConfig, SlackSim,
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
