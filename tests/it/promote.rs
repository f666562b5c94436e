//! The promotion through Slack against the local world: the seed walked end to end
//! (checklist → branch → PR → the on-call reviewer approves on GitHub → an approver
//! presses Merge & deploy → CI migrates production → smoke probes and ticks →
//! succeeded), and the refusals and failure paths around it.

use crate::harness::{visible_text, Harness, ADMIN, DEV, PM};
use lockstep::local::world::REPO;
use lockstep_sim::slack::BotOutput;

/// The PR number in a thread message that links it (`…/pull/3|#3>`).
fn pr_number(text: &str) -> u64 {
    let at = text.find("/pull/").expect("a PR link") + "/pull/".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a PR number")
}

/// Action ids of the buttons in a message's blocks.
fn action_ids(blocks: &[serde_json::Value]) -> Vec<String> {
    blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_string))
        .collect()
}

/// Starts a promotion and follows it to its open PR; returns (root ts, PR number).
async fn open_pr(h: &mut Harness) -> (String, u64) {
    h.command("promote").await;
    let (root, text) = h.wait_for_post("*Promotion*").await;
    assert!(text.contains("running the checklist"), "{text}");
    let (_, text) = h.wait_for_post("is open").await;
    assert!(
        text.contains("Review requested from @alice (<@U0DEV>, on call)"),
        "{text}"
    );
    (root, pr_number(&text))
}

/// Waits for the Merge & deploy offer; returns the ts of the message with the buttons.
async fn merge_offer(h: &mut Harness) -> String {
    let (ts, text) = h.wait_for_post("Merge & deploy").await;
    assert!(text.contains("is approved on GitHub by @alice"), "{text}");
    ts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_is_promoted_end_to_end() {
    let mut h = Harness::start_promotable(|_| {}).await;
    let (root, pr) = open_pr(&mut h).await;
    let repo = h.world.github.repo(REPO);
    let summary = repo.pull_summary(pr).expect("the PR exists");
    assert!(
        summary.head_ref.starts_with("promote/sprint-"),
        "{}",
        summary.head_ref
    );
    assert!(
        summary.head_ref.ends_with("-20261125-1430"),
        "{}",
        summary.head_ref
    );
    assert_eq!(summary.base_ref, "main");
    assert!(summary.labels.contains(&"promotion".to_string()));
    assert_eq!(summary.requested_reviewers, ["alice"]);
    let body = summary.body.clone().unwrap_or_default();
    for part in [
        "## Summary",
        "## Blueprints",
        "| Beneficiary | DocType |",
        "## Rollback",
        "bench --site prod restore",
        "## Reviewer",
    ] {
        assert!(body.contains(part), "{part}:\n{body}");
    }

    repo.approve(pr, "alice").expect("alice approves");
    let offer = merge_offer(&mut h).await;
    // The requester may not merge their own promotion; nobody is told in the channel.
    h.press(PM, &offer, "promote_merge").await;
    let refused = h.wait_for_ephemeral(PM).await;
    assert!(refused.contains("You started this promotion"), "{refused}");
    h.press(DEV, &offer, "promote_merge").await;
    let (_, merged) = h.wait_for_post("Merged #").await;
    assert!(merged.contains(&format!("#{pr}")), "{merged}");
    for step in ["✓ backup", "✓ migrate", "✓ restart"] {
        h.wait_for_post(step).await;
    }
    let smoke = h
        .wait_for("the smoke probes", |o| {
            matches!(o, BotOutput::Updated { text, blocks, .. }
                if text.contains("Smoke test") && visible_text(text, blocks).contains("✓ list of"))
        })
        .await;
    let BotOutput::Updated { ts, blocks, .. } = smoke else {
        unreachable!()
    };
    let ticks: Vec<String> = action_ids(&blocks)
        .into_iter()
        .filter(|id| id.starts_with("promote_smoke_ok_"))
        .collect();
    assert!(!ticks.is_empty());
    for tick in &ticks {
        h.press(ADMIN, &ts, tick).await;
    }
    let (_, done) = h.wait_for_post("Promotion succeeded").await;
    assert!(done.contains(&format!("#{pr} is on production")), "{done}");
    h.wait_for("the root message saying so", |o| {
        matches!(o, BotOutput::Updated { ts, text, .. } if *ts == root && text.contains("succeeded"))
    })
    .await;

    let summary = repo.pull_summary(pr).unwrap();
    assert!(summary.merged);
    let branches: Vec<String> = repo
        .refs()
        .into_keys()
        .filter(|r| r.starts_with("refs/heads/promote/"))
        .collect();
    assert_eq!(branches.len(), 1, "one branch: {branches:?}");

    // Production now equals main, and status tells the story.
    h.command("diff --site=prod").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("No drift between site `prod` and `main@"),
        "{text}"
    );
    h.command("status").await;
    let (_, status) = h.expect_post().await;
    assert!(status.contains("Runs in flight: none."), "{status}");
    assert!(status.contains("Environment locks: none."), "{status}");
    assert!(status.contains("Last promote: `run-"), "{status}");
    assert!(status.contains("succeeded"), "{status}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_approvers_merge_and_a_second_promote_is_refused_naming_the_holder() {
    // Approvers as a Slack user group (the developer is its one member).
    let mut h = Harness::start_promotable(|file| {
        file.access.approvers = vec![lockstep::ids::Principal::parse("S0APPROVERS").unwrap()];
    })
    .await;
    let (_, pr) = open_pr(&mut h).await;
    // A second promote, for other families, while this one runs.
    h.command_as(PM, "promote --only=grant").await;
    let refused = h.wait_for_ephemeral(PM).await;
    assert!(
        refused.contains("Production is locked by run `run-"),
        "{refused}"
    );
    assert!(refused.contains("<@U0PM>"), "{refused}");

    h.world.github.repo(REPO).approve(pr, "alice").unwrap();
    let offer = merge_offer(&mut h).await;
    h.press(ADMIN, &offer, "promote_merge").await;
    let refused = h.wait_for_ephemeral(ADMIN).await;
    assert!(refused.contains("Only approvers"), "{refused}");
    // Hold, then Resume: the offer comes back.
    h.press(DEV, &offer, "promote_hold").await;
    let (held, _) = h.wait_for_post("on hold").await;
    h.press(PM, &held, "promote_resume").await;
    let refused = h.wait_for_ephemeral(PM).await;
    assert!(refused.contains("You started this promotion"), "{refused}");
    h.press(DEV, &held, "promote_resume").await;
    merge_offer(&mut h).await;
    h.finish().await;
}
