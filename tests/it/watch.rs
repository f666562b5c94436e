//! The drift watcher against the local world, on a clock the test moves: it posts
//! when the drift appears, stays quiet while the drift stays the same, and posts
//! again when the drift changes (here: resolved). Each step waits for the
//! watcher's own count of finished checks, never for a guessed time.

use crate::harness::{Harness, CHANNEL, WAIT};
use lockstep::clock::Clock;
use lockstep::config::FileConfig;
use lockstep_sim::slack::SimConfig;

/// Tuesday 08:00 in Kolkata: the first check is at 09:00 the same day.
const TUESDAY_EIGHT: &str = "2026-11-24T08:00:00+05:30";

async fn wait_for_checks(h: &Harness, n: u64) {
    let mut checks = h.bot().watch_checks();
    tokio::time::timeout(WAIT, checks.wait_for(|done| *done >= n))
        .await
        .unwrap_or_else(|_| panic!("the watcher did not finish check {n}"))
        .expect("the bot is running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_posts_once_for_a_change_and_not_again_for_the_same_drift() {
    let start = chrono::DateTime::parse_from_rfc3339(TUESDAY_EIGHT)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = Clock::manual(start);
    let mut h = Harness::start_with_clock(clock.clone(), SimConfig::default(), |file| {
        let text = format!(
            "[freeze]\ntimezone = \"Asia/Kolkata\"\n[watch]\nschedule = \"0 9 * * 1-5\"\nchannel = \"{CHANNEL}\"\n"
        );
        let extra = FileConfig::parse(&text, "watch.toml").expect("parses");
        file.freeze = extra.freeze;
        file.watch = extra.watch;
    })
    .await;
    h.command("status").await;
    let (_, status) = h.expect_post().await;
    assert!(
        status.contains("Drift watch: next `diff` of both sites Tue 2026-11-24 09:00 IST"),
        "{status}"
    );

    // 09:00: the example staging site has a DocType its branch lacks.
    clock.advance(chrono::Duration::hours(1));
    wait_for_checks(&h, 1).await;
    let (_, posted) = h.expect_post().await;
    assert!(posted.contains("*Drift watch*"), "{posted}");
    assert!(posted.contains("1 difference on `staging`"), "{posted}");
    assert!(posted.contains("none on `prod`"), "{posted}");
    assert!(posted.contains("Quick Test"), "{posted}");

    // Wednesday 09:00: the same drift; nothing is recorded to post.
    clock.advance(chrono::Duration::days(1));
    wait_for_checks(&h, 2).await;
    assert!(
        h.bot().store().pending_effects().unwrap().is_empty(),
        "nothing queued for the same drift"
    );

    // The DocType goes; Thursday 09:00: the drift changed, and the post says so.
    h.world
        .frappe
        .delete_doc("staging", "DocType", "Quick Test")
        .expect("the seed has Quick Test");
    clock.advance(chrono::Duration::days(1));
    wait_for_checks(&h, 3).await;
    let (_, posted) = h.expect_post().await;
    assert!(posted.contains("no drift any more"), "{posted}");
    // finish() fails if anything else was posted.
    h.finish().await;
}
