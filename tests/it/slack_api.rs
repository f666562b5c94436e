//! The bot's Slack Web API client against the Slack sim, built directly (no bot, no
//! Socket Mode): keyed posts found again through history and threads, modals opened
//! with trigger ids (and each trigger problem told apart), the Home tab published with
//! its hash guarding against lost updates.

use std::sync::Arc;

use lockstep::secret::Secret;
use lockstep::slack::api::{connector, SlackApi, SlackApiError, TriggerProblem};
use lockstep::workflow::effect::Message;
use lockstep_sim::slack::{SimConfig, SlackSim};
use serde_json::json;
use slack_morphism::prelude::SlackClient;

async fn sim_and_api() -> (SlackSim, SlackApi) {
    lockstep::tls::install_crypto_provider();
    let sim = SlackSim::start(SimConfig::default())
        .await
        .expect("sim starts");
    let url = url::Url::parse(&sim.api_url()).unwrap();
    let client = Arc::new(SlackClient::new(connector(&url)));
    let api = SlackApi::with_client(
        client,
        &Secret::new(sim.bot_token()),
        &Secret::new(sim.app_token()),
        1,
    );
    (sim, api)
}

#[tokio::test]
async fn a_keyed_post_is_found_again_at_the_top_and_in_a_thread() {
    let (sim, api) = sim_and_api().await;
    let root = api
        .post_message_with_key(
            "C0DEPLOY",
            None,
            &Message::text("Promoting"),
            "run-1/root",
            false,
        )
        .await
        .unwrap();
    let reply = api
        .post_message_with_key(
            "C0DEPLOY",
            Some(&root.ts),
            &Message::text("Checklist"),
            "run-1/checklist",
            false,
        )
        .await
        .unwrap();
    // Someone else's message in the thread, and an unkeyed bot post.
    sim.post_user_message("U0PM", "C0DEPLOY", "run-1/checklist", Some(&root.ts))
        .unwrap();
    api.post_message("C0DEPLOY", None, &Message::text("unkeyed"))
        .await
        .unwrap();

    let found = api
        .find_posted_by_key("C0DEPLOY", None, "run-1/root", None)
        .await
        .unwrap();
    assert_eq!(found, Some(root.clone()));
    let in_thread = api
        .find_posted_by_key(
            "C0DEPLOY",
            Some(&root.ts),
            "run-1/checklist",
            Some(&root.ts),
        )
        .await
        .unwrap();
    assert_eq!(in_thread, Some(reply.clone()));
    // Thread replies are not in the channel's history; unknown keys are not anywhere.
    assert_eq!(
        api.find_posted_by_key("C0DEPLOY", None, "run-1/checklist", None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        api.find_posted_by_key("C0DEPLOY", Some(&root.ts), "run-2/checklist", None)
            .await
            .unwrap(),
        None
    );
    // `oldest` bounds the search: the root is older than its reply.
    assert_eq!(
        api.find_posted_by_key("C0DEPLOY", None, "run-1/root", Some(&reply.ts))
            .await
            .unwrap(),
        None
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_search_pages_through_a_busy_channel() {
    let (sim, api) = sim_and_api().await;
    let keyed = api
        .post_message_with_key(
            "C0DEPLOY",
            None,
            &Message::text("early"),
            "run-9/root",
            false,
        )
        .await
        .unwrap();
    for n in 0..250 {
        sim.post_user_message("U0DEV", "C0DEPLOY", &format!("chatter {n}"), None)
            .unwrap();
    }
    let found = api
        .find_posted_by_key("C0DEPLOY", None, "run-9/root", Some(&keyed.ts))
        .await
        .unwrap();
    assert_eq!(found, Some(keyed));
    assert_eq!(
        sim.api_calls("conversations.history"),
        2,
        "250 newer messages: the keyed post is on the second page of 200"
    );
    let missing = api
        .find_posted_by_key("C0NOPE", None, "run-9/root", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, SlackApiError::Refused { code, .. } if code == "channel_not_found"),
        "{missing}"
    );
    sim.shutdown().await;
}

fn modal() -> serde_json::Value {
    json!({
        "type": "modal",
        "callback_id": "request_changes",
        "private_metadata": "run-1",
        "title": {"type": "plain_text", "text": "Request changes"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": [{"type": "input", "block_id": "why", "label": {"type": "plain_text", "text": "Why?"},
                    "element": {"type": "plain_text_input", "action_id": "text"}}]
    })
}

#[tokio::test]
async fn a_modal_opens_once_per_trigger_and_trigger_problems_are_told_apart() {
    let (sim, api) = sim_and_api().await;
    let trigger = sim.issue_trigger_id("U0PM");
    let opened = api.open_modal(&trigger, &modal()).await.unwrap();
    let shown = sim.open_views("U0PM");
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].id, opened.id);
    assert_eq!(shown[0].hash(), opened.hash);
    assert_eq!(shown[0].private_metadata(), "run-1");

    let problem = |err: SlackApiError| match err {
        SlackApiError::Trigger { problem } => problem,
        other => panic!("expected a trigger problem, got {other}"),
    };
    let used = api.open_modal(&trigger, &modal()).await.unwrap_err();
    assert_eq!(problem(used), TriggerProblem::Exchanged);
    let late = sim.issue_trigger_id("U0PM");
    sim.expire_trigger(&late).unwrap();
    let err = api.open_modal(&late, &modal()).await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(problem(err), TriggerProblem::Expired);
    let made_up = api
        .open_modal("11111111111.222222222.abcdef", &modal())
        .await
        .unwrap_err();
    assert_eq!(problem(made_up), TriggerProblem::Invalid);
    let garbage = api.open_modal("garbage", &modal()).await.unwrap_err();
    assert_eq!(problem(garbage), TriggerProblem::Invalid);

    // A view Slack rejects keeps Slack's reasons.
    let mut long = modal();
    long["title"]["text"] = json!("A title longer than twenty-four");
    let refused = api
        .open_modal(&sim.issue_trigger_id("U0PM"), &long)
        .await
        .unwrap_err();
    match &refused {
        SlackApiError::Refused { code, messages, .. } => {
            assert_eq!(code, "invalid_arguments");
            assert_eq!(
                messages,
                &["[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"]
            );
        }
        other => panic!("expected invalid_arguments, got {other}"),
    }
    assert!(refused
        .to_string()
        .contains("json-pointer:/view/title/text"));
    sim.shutdown().await;
}

#[tokio::test]
async fn the_home_tab_is_published_and_a_stale_hash_is_refused() {
    let (sim, api) = sim_and_api().await;
    let home = |text: &str| json!({"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]});
    let first = api
        .publish_home("U0DEV", &home("No runs in flight."), None)
        .await
        .unwrap();
    let second = api
        .publish_home("U0DEV", &home("run-1: checking"), Some(&first.hash))
        .await
        .unwrap();
    assert_eq!(second.id, first.id);
    assert_ne!(second.hash, first.hash);
    let stale = api
        .publish_home("U0DEV", &home("lost update"), Some(&first.hash))
        .await
        .unwrap_err();
    assert!(
        matches!(&stale, SlackApiError::Refused { code, .. } if code == "hash_conflict"),
        "{stale}"
    );
    let shown = sim.home_view("U0DEV").unwrap();
    assert_eq!(shown.blocks()[0]["text"]["text"], "run-1: checking");
    sim.shutdown().await;
}
