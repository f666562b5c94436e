//! diff, pull and push through Slack, with the real bot, the example sites on the
//! Frappe sim and the config repo on the GitHub sim.

use crate::harness::{Harness, PM};
use lockstep::local::world::REPO;
use serde_json::json;

/// A hand edit on the staging site: the `age` field loses its constraint, the
/// walkthrough's `age = Int (no constraint)` vs `age = Int (non_negative=1)`.
fn relax_age(h: &Harness) {
    let frappe = &h.world.frappe;
    let mut beneficiary = frappe
        .get_doc("staging", "DocType", "Beneficiary")
        .expect("the seed has Beneficiary");
    let fields = beneficiary["fields"].as_array_mut().expect("fields");
    let age = fields
        .iter_mut()
        .find(|field| field["fieldname"] == "age")
        .expect("an age field");
    age["non_negative"] = json!(0);
    frappe
        .set_doc("staging", beneficiary)
        .expect("edit applies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_reports_drift_and_a_clean_production() {
    let mut h = Harness::start().await;
    h.command("diff --site=prod").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("No drift between site `prod` and `main@"),
        "{text}"
    );

    relax_age(&h);
    h.command("diff").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("between site `staging` and `staging@"),
        "{text}"
    );
    assert!(text.contains("DocType \"Beneficiary\""), "{text}");
    assert!(
        text.contains("DocType \"Quick Test\""),
        "the seed's hand-made DocType: {text}"
    );
    assert!(
        text.contains("age = Int (no constraint)"),
        "the site's side: {text}"
    );
    assert!(
        text.contains("age = Int (non_negative=1)"),
        "git's side: {text}"
    );
    assert!(text.contains("Resolve before promote."), "{text}");

    h.command("audit 2").await;
    let (_, audit) = h.expect_post().await;
    assert!(audit.contains("*diff* — prod vs main@"), "{audit}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_captures_the_site_once_and_then_diff_is_clean() {
    let mut h = Harness::start().await;
    relax_age(&h);
    let before = h.world.github.repo(REPO).branch_sha("staging");

    h.command("pull").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("Pull: committed 2 files to `staging`"),
        "{text}"
    );
    assert!(
        text.contains("M fixtures/app/doctypes/beneficiary.json")
            && text.contains("M fixtures/app/doctypes/quick_test.json"),
        "{text}"
    );
    let after = h.world.github.repo(REPO).branch_sha("staging");
    assert_ne!(before, after, "the branch moved");

    h.command("pull").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("already matches site `staging`; no commit made"),
        "{text}"
    );
    assert_eq!(
        h.world.github.repo(REPO).branch_sha("staging"),
        after,
        "one commit, not two"
    );

    h.command("diff").await;
    let text = h.expect_job_result().await;
    assert!(text.contains("No drift"), "{text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_plans_applies_and_refuses_production() {
    let mut h = Harness::start().await;
    h.command("push --site=prod").await;
    let text = h.expect_ephemeral_to(PM).await;
    assert!(
        text.contains("push writes only to the staging site"),
        "{text}"
    );

    relax_age(&h);
    h.command("push --dry-run").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("Push (dry run): 2 changes would be made"),
        "{text}"
    );
    assert!(text.contains("update  DocType \"Beneficiary\""), "{text}");
    assert!(
        text.contains("delete  DocType \"Quick Test\""),
        "git wins: {text}"
    );
    let age = |h: &Harness| {
        let doc = h
            .world
            .frappe
            .get_doc("staging", "DocType", "Beneficiary")
            .unwrap();
        doc["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fieldname"] == "age")
            .and_then(|f| f.get("non_negative").cloned())
    };
    assert_eq!(age(&h), Some(json!(0)), "a dry run changes nothing");

    h.command("push").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("Push: applied 2 changes to site `staging`; it now matches"),
        "{text}"
    );
    assert_eq!(age(&h), Some(json!(1)), "git won");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_retried_and_writes_are_not_repeated() {
    let mut h = Harness::start().await;
    let github = &h.world.github;
    github.fail_next("GET", &format!("/repos/{REPO}/git/trees"), 502);
    h.command("diff").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("No drift") || text.contains("between site"),
        "the read recovered: {text}"
    );

    relax_age(&h);
    let github = &h.world.github;
    github.clear_calls();
    github.fail_next("POST", &format!("/repos/{REPO}/git/commits"), 500);
    h.command("pull").await;
    let text = h.expect_job_result().await;
    assert!(text.contains(":x:"), "the failed write is reported: {text}");
    let commit_posts = h
        .world
        .github
        .calls()
        .into_iter()
        .filter(|call| call.method == "POST" && call.path.ends_with("/git/commits"))
        .count();
    assert_eq!(commit_posts, 1, "a failed POST is not blindly repeated");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_plans_asks_and_applies_once() {
    let mut h = Harness::start().await;
    let before = h
        .world
        .github
        .repo(REPO)
        .branch_sha("staging")
        .expect("a staging branch");
    relax_age(&h);
    h.command("pull").await;
    h.expect_job_result().await;

    h.command(&format!("rollback {before}")).await;
    let (plan_ts, first) = h.expect_post().await;
    assert!(first.contains("Rollback: planning"), "{first}");
    let text = match h.next_output().await {
        lockstep_sim::slack::BotOutput::Updated {
            ts, text, blocks, ..
        } if ts == plan_ts => crate::harness::visible_text(&text, &blocks),
        other => panic!("expected the plan, got {other:?}"),
    };
    assert!(text.contains("update  DocType \"Beneficiary\""), "{text}");
    assert!(
        text.contains("Nothing changes until <@U0PM> or an admin presses Apply"),
        "{text}"
    );

    // Someone else may not decide: they are told privately, and the plan and its
    // buttons stay as they were in the channel.
    h.world
        .slack
        .click_button(
            "U0DEV",
            crate::harness::CHANNEL,
            &plan_ts,
            "rollback_apply",
            None,
        )
        .await
        .expect("click");
    let refused = h.expect_ephemeral_to("U0DEV").await;
    assert!(
        refused.contains("Only <@U0PM> or an admin may decide this rollback"),
        "{refused}"
    );

    h.world
        .slack
        .click_button(
            PM,
            crate::harness::CHANNEL,
            &plan_ts,
            "rollback_apply",
            None,
        )
        .await
        .expect("click");
    let applied = h.expect_edits_of(&plan_ts).await;
    assert!(
        applied.contains("Rolled the staging site back"),
        "{applied}"
    );
    assert!(applied.contains("2 changes applied"), "{applied}");

    // An abbreviated commit id names the same commit.
    h.command(&format!("rollback {} --dry-run", &before[..7]))
        .await;
    let text = h.expect_job_result().await;
    assert!(text.contains("nothing to do"), "{text}");

    h.command("rollback no-such-tag --dry-run").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("No branch, tag or commit of the config repository is called `no-such-tag`"),
        "{text}"
    );

    h.command("audit 20").await;
    let (_, audit) = h.expect_post().await;
    assert!(
        audit.contains("rollback to"),
        "every applied change is audited: {audit}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_a_job_in_flight() {
    let mut h = Harness::start().await;
    // The site holds the diff's first request: it is still running when status is
    // asked, and finishes once the gate opens.
    let gate = lockstep_sim::frappe::Gate::new();
    h.world
        .frappe
        .inject(lockstep_sim::frappe::Fault::Hold(gate.clone()));
    h.command("diff --site=prod").await;
    let (diff_ts, first) = h.expect_post().await;
    assert!(first.contains(":hourglass"), "{first}");

    h.command("status").await;
    let (_, status) = h.expect_post().await;
    assert!(status.contains("Runs in flight: 1"), "{status}");
    assert!(
        status.contains("`/frappe-stack diff --site=prod` for <@U0PM>"),
        "{status}"
    );

    gate.release();
    let done = h.expect_edits_of(&diff_ts).await;
    assert!(done.contains("No drift"), "{done}");
    h.finish().await;
}
