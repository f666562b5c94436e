//! The App Home tab: opening it after a promotion makes the bot publish a board
//! that shows the promotion, the (released) lock, nothing in flight, the figures
//! and the weekly chart.

use crate::harness::{visible_text, Harness, PM, WAIT};
use crate::promote::promote_to_success;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_tab_after_a_promotion_shows_it_and_the_figures() {
    let mut h = Harness::start_promotable(|_| {}).await;
    assert!(h.world.slack.home_view(PM).is_none());
    let pr = promote_to_success(&mut h).await;
    h.read_all();

    h.world
        .slack
        .open_home(PM)
        .await
        .expect("the sim delivers the event");
    let home = h
        .world
        .slack
        .wait_for_home_view(PM, None, WAIT)
        .await
        .expect("the bot publishes the Home tab");
    assert_eq!(home.view["type"], "home");
    let blocks = home.view["blocks"].as_array().cloned().unwrap_or_default();
    let text = visible_text("", &blocks);
    for part in [
        "*Runs in flight*: none.",
        "*Environment locks*: none.",
        "*Last promotions*",
        "succeeded",
        &format!("|#{pr}>"),
        "*Deployment frequency*: 1 deployment",
        "*Change failure rate*: 0% (0 of 1)",
        "*Deployments a week*",
    ] {
        assert!(text.contains(part), "{part} missing from:\n{text}");
    }
    // The chart's last bar is this week's one deployment.
    assert!(text.contains("█ 1\n```") || text.ends_with("█ 1"), "{text}");
    h.finish().await;
}
