//! The bot over Socket Mode against the Slack sim: the round trip, deduplication,
//! reconnection, rate limits, usage errors and replay after a restart.

use crate::harness::{Harness, PM, WAIT};
use lockstep_sim::slack::DisconnectReason;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_round_trip() {
    let mut h = Harness::start().await;
    h.command("help").await;
    let text = h.expect_ephemeral_to(PM).await;
    for subcommand in [
        "status", "diff", "pull", "push", "review", "promote", "ship", "rollback", "unlock",
        "audit",
    ] {
        assert!(
            text.contains(subcommand),
            "help lists `{subcommand}`:\n{text}"
        );
    }
    h.command("help promote").await;
    let text = h.expect_ephemeral_to(PM).await;
    assert!(text.contains("--emergency"), "{text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_envelope_is_answered_once() {
    let mut h = Harness::start().await;
    let sent = h.command("help").await;
    h.expect_ephemeral_to(PM).await;

    h.world
        .slack
        .redeliver(&sent.envelope_id, 1)
        .await
        .expect("redelivery");
    h.world
        .slack
        .wait_for_acks(&sent.envelope_id, 2, WAIT)
        .await
        .expect("the redelivery is acked too, so Slack stops retrying");
    // finish() stops the bot (draining its queue and outbox) and fails on any
    // second reply.
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_refresh_requested_and_warning() {
    let mut h = Harness::start().await;
    for reason in [
        DisconnectReason::RefreshRequested,
        DisconnectReason::Warning,
    ] {
        let opened = h.world.slack.connections_opened();
        h.world.slack.disconnect_all(reason);
        h.world
            .slack
            .wait_for_connections_opened(opened + 1, WAIT)
            .await
            .unwrap_or_else(|err| panic!("no reconnection after {reason:?}: {err}"));
        h.world
            .slack
            .wait_for_open_connections(1, WAIT)
            .await
            .expect("a live connection");
        h.command("help").await;
        h.expect_ephemeral_to(PM).await;
    }
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_post_is_retried_after_retry_after() {
    let mut h = Harness::start().await;
    h.world.slack.rate_limit("chat.postMessage", 1, 1);
    h.command("status").await;
    let (_, text) = h.expect_post().await;
    assert!(text.contains("Runs in flight: none."), "{text}");
    assert!(text.contains(&format!("Requested by <@{PM}>")), "{text}");
    assert_eq!(
        h.world.slack.api_calls("chat.postMessage"),
        2,
        "one 429, then one retry after Retry-After"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_commands_get_an_ephemeral_usage_error() {
    let mut h = Harness::start().await;
    h.command("promote --emergncy").await;
    let text = h.expect_ephemeral_to(PM).await;
    assert!(text.contains("--emergncy"), "names the bad flag: {text}");
    assert!(text.contains("Usage:"), "shows the usage: {text}");

    h.command("deploy").await;
    let text = h.expect_ephemeral_to(PM).await;
    assert!(text.contains("deploy"), "{text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_by_right_are_answered_and_audited() {
    let mut h = Harness::start().await;
    h.command("audit").await;
    let (_, text) = h.expect_post().await;
    assert!(text.contains("audit log is empty"), "{text}");

    // Nobody is in access.promoters here: ship and promote are refused, by right,
    // and audited.
    h.command("ship v0.1.0").await;
    let text = h.expect_ephemeral_to(PM).await;
    assert!(
        text.contains("<@U0PM> may not ship: only the people and groups in access.promoters may"),
        "{text}"
    );
    h.command("promote").await;
    let text = h.expect_ephemeral_to(PM).await;
    assert!(
        text.contains(
            "<@U0PM> may not promote: only the people and groups in access.promoters may"
        ),
        "{text}"
    );
    assert!(text.contains("Nothing was changed"), "{text}");

    h.command("audit 5").await;
    let (_, text) = h.expect_post().await;
    assert!(text.contains("the last 2 of 2 entries"), "{text}");
    assert!(text.contains(&format!("<@{PM}> *ship*")), "{text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undelivered_reply_survives_a_restart_and_is_sent_once() {
    let mut h =
        Harness::start_with(Default::default(), |file| file.slack.rate_limit_retries = 0).await;
    // Slack keeps refusing the post: the effect stays in the outbox.
    h.world.slack.rate_limit("chat.postMessage", 1_000, 1);
    h.command("status").await;
    // Stopping right after the ack: the bot must still record the acked command
    // (Slack will not redeliver it) and keep its reply for the next start.
    h.stop_bot().await;
    let pending = lockstep::store::Store::open(&h.store_path())
        .expect("the store reopens")
        .pending_effects()
        .expect("readable");
    assert_eq!(pending.len(), 1, "the unsent reply is kept");

    h.world.slack.rate_limit("chat.postMessage", 0, 0);
    h.start_bot().await;
    let (_, text) = h.expect_post().await;
    assert!(text.contains("Runs in flight: none."), "{text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_reply_is_retried_with_backoff_until_it_goes_through() {
    let mut h =
        Harness::start_with(Default::default(), |file| file.slack.rate_limit_retries = 0).await;
    // Two refusals beyond what the call itself retries: the executor backs off twice.
    h.world.slack.rate_limit("chat.postMessage", 2, 0);
    h.command("status").await;
    let (_, text) = h.expect_post().await;
    assert!(text.contains("Runs in flight: none."), "{text}");
    assert_eq!(h.world.slack.api_calls("chat.postMessage"), 3);
    h.finish().await;
}
