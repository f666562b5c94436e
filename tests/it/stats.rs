//! `stats` after a real history: three promotions of the seed world driven through
//! Slack, GitHub, CI and the bench stand-in (two succeed, the third's migrate fails
//! and it is rolled back), on a clock the test moves only while nothing is in
//! flight. The clock runs (the promotion's polls need time to pass) and the test
//! skips it forward by hours; what runs on its own adds seconds, which the figures,
//! shown in minutes, do not show unless a step took a whole minute.

use crate::harness::{Harness, WAIT};
use crate::promote::{approve_and_merge, open_pr, promote_to_success};
use lockstep::app::StartOptions;
use lockstep::clock::Clock;
use lockstep::workflow::executor::PausePoint;
use lockstep_sim::slack::BotOutput;
use std::sync::Arc;

/// A Wednesday, 14:30 in Asia/Kolkata (outside the freeze): six days, 8 h 59 min
/// after the seed's staging commit (2026-01-01 00:01 UTC), the first change the
/// first promotion carries.
const START: &str = "2026-01-07T09:00:00Z";

/// Someone edits the Beneficiary DocType on the staging site (a field's description).
fn edit_staging(h: &Harness, description: &str) {
    let frappe = &h.world.frappe;
    let mut beneficiary = frappe.get_doc("staging", "DocType", "Beneficiary").unwrap();
    for field in beneficiary["fields"].as_array_mut().unwrap() {
        if field["fieldname"] == "age" {
            field["description"] = serde_json::json!(description);
        }
    }
    frappe.set_doc("staging", beneficiary).unwrap();
}

/// `pull`: the edit becomes a commit on `staging`, stamped with the bot's clock.
async fn pull(h: &mut Harness) {
    h.command("pull").await;
    let text = h.expect_job_result().await;
    assert!(text.contains("beneficiary"), "{text}");
}

async fn fail_next_migrate(h: &Harness) {
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/_sim/sites/prod/fail-next-migrate",
            h.world.frappe.url()
        ))
        .json(&serde_json::json!({"message": "Unknown column 'age' in 'field list'"}))
        .send()
        .await
        .expect("the sim takes it");
    assert!(answer.status().is_success());
}

/// Restarts the bot so that it stops (as a crash would) just before it restores
/// production; resolves the returned receiver once it has.
async fn pause_before_restore(h: &mut Harness) -> tokio::sync::watch::Receiver<bool> {
    let (paused, receiver) = tokio::sync::watch::channel(false);
    h.stop_bot().await;
    h.start_bot_with(StartOptions {
        pause: Some((
            PausePoint::parse("before:restore").expect("a pause point"),
            Arc::new(move |_key: &str| {
                paused.send_replace(true);
            }),
        )),
        ..StartOptions::default()
    })
    .await;
    receiver
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_after_two_promotions_and_a_rollback_gives_the_four_figures() {
    let start = chrono::DateTime::parse_from_rfc3339(START)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Clock::running_from(start);
    let mut h = Harness::start_promotable_at(clock.clone(), |_| {}).await;

    // 1: the seed, deployed at START; its change was first committed on the seed's
    // staging commit. Lead time 6 d 8 h 59 min.
    promote_to_success(&mut h).await;

    // 2: an edit pulled at START + 1 h, promoted and deployed at START + 4 h.
    clock.advance(chrono::Duration::hours(1));
    edit_staging(&h, "Age in whole years");
    pull(&mut h).await;
    clock.advance(chrono::Duration::hours(3));
    promote_to_success(&mut h).await;

    // 3: another edit, an hour later (a promotion branch is named by the minute);
    // its migrate fails; the restore finishes 25 min after the rollback started.
    clock.advance(chrono::Duration::hours(1));
    edit_staging(&h, "Age in years, at intake");
    pull(&mut h).await;
    let mut paused = pause_before_restore(&mut h).await;
    let (_, pr) = open_pr(&mut h).await;
    fail_next_migrate(&h).await;
    approve_and_merge(&mut h, pr).await;
    tokio::time::timeout(WAIT, paused.wait_for(|p| *p))
        .await
        .expect("the bot reaches the restore")
        .expect("the pause signal");
    h.stop_bot().await;
    clock.advance(chrono::Duration::minutes(25));
    h.start_bot().await;
    h.wait_for_post("Promotion rolled back").await;
    h.wait_for(
        "the root saying rolled back",
        |o| matches!(o, BotOutput::Updated { text, .. } if text.contains("`: rolled back")),
    )
    .await;

    h.command("stats --days=30").await;
    let (_, text) = h.expect_post().await;
    assert!(text.contains("last 30 days"), "{text}");
    assert!(
        text.contains("*Deployment frequency*: 2 deployments (0.5 a week)"),
        "{text}"
    );
    // The median of 6 d 8 h 59 min and 3 h.
    assert!(
        text.contains("*Lead time for changes*: median 3 d 5 h over 2 deployments"),
        "{text}"
    );
    assert!(
        text.contains("*Change failure rate*: 33% (1 of 3)"),
        "{text}"
    );
    assert!(
        text.contains("*Time to restore*: median 25 min over 1 rollback"),
        "{text}"
    );
    h.finish().await;
}
