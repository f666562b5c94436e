//! The promotion through Slack against the local world: the seed walked end to end
//! (checklist → branch → PR → the on-call reviewer approves on GitHub → an approver
//! presses Merge & deploy → CI migrates production → smoke probes and ticks →
//! succeeded), and the refusals and failure paths around it.

use crate::harness::{button, visible_text, Harness, ADMIN, DEV, PM};
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
pub async fn open_pr(h: &mut Harness) -> (String, u64) {
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

/// Waits for the Merge & deploy offer (and the root message saying so); returns the
/// ts of the message with the buttons.
async fn merge_offer(h: &mut Harness) -> String {
    let (ts, text) = h.wait_for_post("is approved on GitHub").await;
    assert!(text.contains("is approved on GitHub by @alice"), "{text}");
    h.wait_for("the root message", |o| {
        matches!(o, BotOutput::Updated { text, .. } if text.contains("waiting for Merge & deploy"))
    })
    .await;
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

/// Approves `pr` as alice and presses Merge & deploy as the developer.
pub async fn approve_and_merge(h: &mut Harness, pr: u64) {
    h.world.github.repo(REPO).approve(pr, "alice").unwrap();
    let offer = merge_offer(h).await;
    h.press(DEV, &offer, "promote_merge").await;
    h.wait_for_post("Merged #").await;
}

/// Walks a promotion already past its merge through CI and the smoke test to
/// success (every manual item ticked by the admin).
async fn smoke_to_success(h: &mut Harness) {
    let smoke = h
        .wait_for("the smoke probes", |o| {
            matches!(o, BotOutput::Updated { text, blocks, .. }
                if text.contains("Smoke test") && visible_text(text, blocks).contains("✓ list of"))
        })
        .await;
    let BotOutput::Updated { ts, blocks, .. } = smoke else {
        unreachable!()
    };
    for tick in action_ids(&blocks)
        .into_iter()
        .filter(|id| id.starts_with("promote_smoke_ok_"))
    {
        h.press(ADMIN, &ts, &tick).await;
    }
    h.wait_for_post("Promotion succeeded").await;
}

/// Promotes what is on staging end to end (the other tests check each step's
/// words; this one only follows them); returns the PR number.
pub async fn promote_to_success(h: &mut Harness) -> u64 {
    let (root, pr) = open_pr(h).await;
    approve_and_merge(h, pr).await;
    smoke_to_success(h).await;
    h.wait_for("the root message saying so", |o| {
        matches!(o, BotOutput::Updated { ts, text, .. } if *ts == root && text.contains("succeeded"))
    })
    .await;
    pr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_migrate_restores_production_opens_a_revert_and_keeps_it_locked() {
    let mut h = Harness::start_promotable(|_| {}).await;
    let (root, pr) = open_pr(&mut h).await;
    let doctypes_before = h.world.frappe.count("prod", "DocType");
    let failed = reqwest::Client::new()
        .post(format!(
            "{}/_sim/sites/prod/fail-next-migrate",
            h.world.frappe.url()
        ))
        .json(&serde_json::json!({"message": "Unknown column 'age' in 'field list'"}))
        .send()
        .await
        .unwrap();
    assert!(failed.status().is_success());
    approve_and_merge(&mut h, pr).await;
    let (_, alarm) = h.wait_for_post("Rolling back").await;
    assert!(alarm.contains("migrate"), "{alarm}");
    assert!(alarm.contains("Unknown column"), "{alarm}");
    assert!(alarm.contains("<@U0DEV> (on call)"), "{alarm}");
    h.wait_for_post("Production restored from backup").await;
    let (_, revert) = h.wait_for_post("Opened revert PR").await;
    let revert_pr = pr_number(&revert);
    assert_ne!(revert_pr, pr);
    let (_, done) = h.wait_for_post("Promotion rolled back").await;
    assert!(done.contains("stays locked"), "{done}");
    h.wait_for("the root saying rolled back", |o| {
        matches!(o, BotOutput::Updated { ts, text, .. } if *ts == root && text.contains("rolled back"))
    })
    .await;
    assert_eq!(
        h.world.frappe.count("prod", "DocType"),
        doctypes_before,
        "production is back on the backup"
    );
    assert!(h
        .world
        .frappe
        .get_doc("prod", "DocType", "Beneficiary")
        .is_none());
    let summary = h.world.github.repo(REPO).pull_summary(revert_pr).unwrap();
    assert_eq!(summary.state, "open");

    // Production stays locked: another promote is refused, a non-admin cannot unlock.
    h.command("status").await;
    let (_, status) = h.expect_post().await;
    assert!(status.contains("`prod` held by run `run-"), "{status}");
    assert!(status.contains("rolled back"), "{status}");
    h.command("promote").await;
    let refused = h.expect_ephemeral_to(PM).await;
    assert!(refused.contains("Production is locked"), "{refused}");
    assert!(refused.contains("unlock prod"), "{refused}");
    h.command_as(PM, "unlock prod --reason=\"checked it\"")
        .await;
    let refused = h.expect_ephemeral_to(PM).await;
    assert!(refused.contains("Only admins"), "{refused}");
    h.command_as(ADMIN, "unlock prod --reason=\"restore checked by hand\"")
        .await;
    let (_, unlocked) = h.expect_post().await;
    assert!(unlocked.contains("released the `prod` lock"), "{unlocked}");
    assert!(unlocked.contains("restore checked by hand"), "{unlocked}");
    // A rolled-back promotion is not a release.
    h.command("ship v0.1.0").await;
    let refused = h.expect_ephemeral_to(PM).await;
    assert!(refused.contains("ended rolled back"), "{refused}");
    assert!(refused.contains("Nothing was changed"), "{refused}");
    h.command("audit 40").await;
    let (_, audit) = h.expect_post().await;
    assert!(audit.contains("rolling back"), "{audit}");
    assert!(audit.contains("*unlock* — released prod"), "{audit}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_requested_are_quoted_then_a_new_push_voids_an_approval() {
    let mut h = Harness::start_promotable(|_| {}).await;
    let (_, pr) = open_pr(&mut h).await;
    let repo = h.world.github.repo(REPO);
    repo.request_changes(pr, "alice", &["Please make age non-negative"])
        .unwrap();
    let (_, quoted) = h.wait_for_post("requested changes").await;
    assert!(quoted.contains("Please make age non-negative"), "{quoted}");
    assert!(quoted.contains("run `promote` again"), "{quoted}");

    repo.approve(pr, "alice").unwrap();
    let (offer, _, blocks) = h.wait_for_post_blocks("is approved on GitHub").await;
    let merge_button = button(&blocks, "promote_merge");
    h.wait_for("the root message", |o| {
        matches!(o, BotOutput::Updated { text, .. } if text.contains("waiting for Merge & deploy"))
    })
    .await;
    // A new push to the PR's branch: the approval is for the old head.
    let branch = repo.pull_summary(pr).unwrap().head_ref;
    repo.push_commit(
        &branch,
        [(
            "fixtures/app/notes.txt".to_string(),
            Some(b"late change\n".to_vec()),
        )]
        .into_iter()
        .collect(),
        "A late change\n",
    )
    .unwrap();
    h.wait_for_post("voids the approval").await;
    // The developer's client still shows the old buttons and they press Merge.
    h.press_as_shown(DEV, &offer, merge_button).await;
    let refused = h.wait_for_ephemeral(DEV).await;
    assert!(refused.contains("did nothing"), "{refused}");
    assert!(!repo.pull_summary(pr).unwrap().merged, "nothing merged");
    // Approved again, on the new head: a fresh offer.
    repo.approve(pr, "alice").unwrap();
    merge_offer(&mut h).await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_without_a_second_approver_expires() {
    // Friday 15:00 in Kolkata: the freeze; a clock the test moves.
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-27T15:00:00+05:30")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = lockstep::clock::Clock::manual(start);
    let mut h = Harness::start_promotable_at(clock.clone(), |file| {
        file.promote.emergency_ttl_minutes = 15;
    })
    .await;
    h.command("promote --emergency --reason=\"payments are down\"")
        .await;
    let (_, ask) = h.wait_for_post("Emergency promotion during a freeze").await;
    assert!(ask.contains("payments are down"), "{ask}");
    assert!(ask.contains("within 15 minutes"), "{ask}");
    clock.advance(chrono::Duration::minutes(16));
    let (_, expired) = h.wait_for_post("emergency promotion expired").await;
    assert!(expired.contains("Nothing was changed"), "{expired}");
    h.command("status").await;
    let (_, status) = h.wait_for_post("lockstep status").await;
    assert!(status.contains("Environment locks: none."), "{status}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forcing_is_refused_by_name_and_cancel_closes_the_pr() {
    let mut h = Harness::start_promotable(|_| {}).await;
    h.command("promote --force").await;
    let refused = h.expect_ephemeral_to(PM).await;
    assert!(refused.contains("`--force` is refused"), "{refused}");
    let (root, pr) = open_pr(&mut h).await;
    // Only the requester (or an admin) may cancel; the developer may not.
    h.press(DEV, &root, "promote_cancel").await;
    let refused = h.wait_for_ephemeral(DEV).await;
    assert!(refused.contains("Only <@U0PM>"), "{refused}");
    h.press(PM, &root, "promote_cancel").await;
    let (_, cancelled) = h.wait_for_post("is closed").await;
    assert!(cancelled.contains("the lock is released"), "{cancelled}");
    assert_eq!(
        h.world.github.repo(REPO).pull_summary(pr).unwrap().state,
        "closed"
    );
    h.wait_for("the root saying cancelled", |o| {
        matches!(o, BotOutput::Updated { ts, text, .. } if *ts == root && text.contains("cancelled"))
    })
    .await;
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ci_the_bot_deploys_through_the_runner() {
    let mut h = Harness::start_promotable(|file| {
        file.deploy.mode = lockstep::config::DeployMode::Bot;
    })
    .await;
    let (root, pr) = open_pr(&mut h).await;
    approve_and_merge(&mut h, pr).await;
    h.wait_for_post("Deploying through the bench runner").await;
    let (_, backup) = h.wait_for_post("✓ backup").await;
    assert!(backup.contains("-prod"), "the backup's id: {backup}");
    let (_, migrate) = h.wait_for_post("✓ migrate").await;
    assert!(migrate.contains("migrated"), "{migrate}");
    h.wait_for_post("✓ restart").await;
    smoke_to_success(&mut h).await;
    h.wait_for("the root message saying so", |o| {
        matches!(o, BotOutput::Updated { ts, text, .. } if *ts == root && text.contains("succeeded"))
    })
    .await;
    h.command("diff --site=prod").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("No drift between site `prod` and `main@"),
        "{text}"
    );
    h.finish().await;
}
