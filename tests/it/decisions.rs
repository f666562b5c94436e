//! Buttons are offers, decided once: on a rollback plan, the first accepted press
//! decides; a second press (a double Apply, an Apply just after someone's Cancel) is
//! told who decided and changes nothing; a payload someone edited (an old format
//! with a proposer and a commit, another run, another version) is refused and
//! nothing is written.

use crate::harness::{button, Harness, ADMIN, PM};
use lockstep::local::world::REPO;
use serde_json::json;

/// Relaxes Beneficiary's `age` on staging and pulls it, then asks for a rollback to
/// the staging branch as it was: a plan of changes, posted with its buttons.
/// Returns the plan message's ts and its blocks as posted.
async fn planned_rollback(h: &mut Harness) -> (String, Vec<serde_json::Value>) {
    let before = h
        .world
        .github
        .repo(REPO)
        .branch_sha("staging")
        .expect("a staging branch");
    let frappe = &h.world.frappe;
    let mut beneficiary = frappe.get_doc("staging", "DocType", "Beneficiary").unwrap();
    for field in beneficiary["fields"].as_array_mut().unwrap() {
        if field["fieldname"] == "age" {
            field["non_negative"] = json!(0);
        }
    }
    frappe.set_doc("staging", beneficiary).unwrap();
    h.command("pull").await;
    h.expect_job_result().await;
    h.command(&format!("rollback {before}")).await;
    let (ts, first) = h.expect_post().await;
    assert!(first.contains("Rollback: planning"), "{first}");
    let plan = h
        .wait_for("the plan", |o| {
            matches!(o, lockstep_sim::slack::BotOutput::Updated { ts: t, text, .. } if *t == ts && text.contains("Rollback:"))
        })
        .await;
    let lockstep_sim::slack::BotOutput::Updated { blocks, .. } = plan else {
        unreachable!()
    };
    (ts, blocks)
}

fn age_is_relaxed(h: &Harness) -> bool {
    let doc = h
        .world
        .frappe
        .get_doc("staging", "DocType", "Beneficiary")
        .unwrap();
    doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["fieldname"] == "age" && f.get("non_negative") == Some(&json!(0)))
}

/// The rollback's writes as the audit lists them (`rollback to <sha>: <change>`).
fn audited_rollback_writes(audit: &str) -> Vec<String> {
    audit
        .lines()
        .filter_map(|line| line.split_once("rollback to ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once(": ").map(|(_, change)| change.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_then_apply_is_one_decision_the_first() {
    let mut h = Harness::start().await;
    let (ts, blocks) = planned_rollback(&mut h).await;
    let apply = button(&blocks, "rollback_apply");
    // Two people, one right after the other: the requester cancels, an admin applies
    // from the same (now stale) message.
    h.press(PM, &ts, "rollback_cancel").await;
    h.press_as_shown(ADMIN, &ts, apply).await;
    let cancelled = h.expect_edits_of(&ts).await;
    assert!(cancelled.contains("cancelled by <@U0PM>"), "{cancelled}");
    let told = h.expect_ephemeral_to(ADMIN).await;
    assert!(
        told.contains("already decided by <@U0PM> (Cancel)"),
        "{told}"
    );
    assert!(age_is_relaxed(&h), "nothing was applied");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applies_apply_once() {
    let mut h = Harness::start().await;
    let (ts, blocks) = planned_rollback(&mut h).await;
    let apply = button(&blocks, "rollback_apply");
    h.press(PM, &ts, "rollback_apply").await;
    h.press_as_shown(PM, &ts, apply).await;
    let told = h.wait_for_ephemeral(PM).await;
    assert!(
        told.contains("already decided by <@U0PM> (Apply)"),
        "{told}"
    );
    let applied = h.expect_edits_of(&ts).await;
    assert!(
        applied.contains("Rolled the staging site back"),
        "{applied}"
    );
    assert!(!age_is_relaxed(&h));
    h.command("audit 50").await;
    let (_, audit) = h.expect_post().await;
    let writes = audited_rollback_writes(&audit);
    assert_eq!(writes.len(), 2, "{audit}");
    assert!(
        writes[0].starts_with("delete  DocType \"Quick Test\""),
        "{writes:?}"
    );
    assert!(
        writes[1].starts_with("update  DocType \"Beneficiary\""),
        "{writes:?}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_payload_is_refused_and_nothing_is_written() {
    let mut h = Harness::start().await;
    let (ts, blocks) = planned_rollback(&mut h).await;
    let apply = button(&blocks, "rollback_apply");
    let value = apply["value"].as_str().unwrap().to_string();
    let (run, version) = value.split_once(':').unwrap();
    let before = h.world.frappe.get_doc("staging", "DocType", "Beneficiary");
    let forged = [
        // The old format, with a proposer and a commit of the presser's choosing.
        format!("{run}:{version}:U0DEV:0123456789abcdef0123456789abcdef01234567"),
        // Another run, and this run at a version it never offered.
        format!("run-0000000000:{version}"),
        format!("{run}:99"),
    ];
    for value in forged {
        let mut edited = apply.clone();
        edited["value"] = json!(value);
        h.press_as_shown("U0DEV", &ts, edited).await;
        let told = h.expect_ephemeral_to("U0DEV").await;
        assert!(
            told.contains("nothing was done") || told.contains("did nothing"),
            "{value}: {told}"
        );
    }
    assert_eq!(
        h.world.frappe.get_doc("staging", "DocType", "Beneficiary"),
        before,
        "nothing was written"
    );
    // The real offer still stands for the requester.
    h.press(PM, &ts, "rollback_apply").await;
    let applied = h.expect_edits_of(&ts).await;
    assert!(
        applied.contains("Rolled the staging site back"),
        "{applied}"
    );
    h.finish().await;
}
