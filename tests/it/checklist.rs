//! `promote --dry-run` and `review` through Slack: the whole checklist against the
//! example world, and refusals that each name their box.

use crate::harness::{Harness, PM};

/// The example staging site has one hand edit git never saw (DocType Quick Test);
/// the walkthrough resolves it before promoting, and so do these tests.
fn resolve_drift(h: &Harness) {
    h.world
        .frappe
        .delete_doc("staging", "DocType", "Quick Test")
        .expect("the seed has Quick Test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresolved_drift_fails_the_diff_box() {
    let mut h = Harness::start().await;
    let text = refused(&mut h).await;
    assert!(text.contains("✗ diff"), "{text}");
    assert!(text.contains("Quick Test"), "names what drifted: {text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_dry_run_passes_every_box() {
    let mut h = Harness::start_with(Default::default(), |file| {
        file.freeze.timezone = chrono_tz::Asia::Kolkata;
    })
    .await;
    resolve_drift(&h);
    let backups_before = h.world.frappe.backups("prod").len();
    h.command("promote --dry-run").await;
    let text = h.expect_job_result().await;
    assert!(text.contains("every box passes"), "{text}");
    for name in [
        "diff",
        "blueprints",
        "reviewer",
        "tester",
        "role coverage",
        "freeze guard",
        "bundle",
    ] {
        assert!(text.contains(&format!("✓ {name}")), "box {name}: {text}");
    }
    // The seed's production has no backup: a dry run says one will be taken and
    // takes none (it used to run `bench backup` on production).
    assert!(
        text.contains("⚠ backup") && text.contains("a backup will be taken"),
        "{text}"
    );
    assert_eq!(h.world.frappe.backups("prod").len(), backups_before);
    assert!(text.contains("Wednesday 14:30, fine"), "{text}");
    h.finish().await;
}

/// A blueprint on both the staging branch and the staging site (so the diff box
/// stays clean and the blueprint is part of the promotion).
fn stage(h: &Harness, doc: serde_json::Value) {
    use lockstep::blueprint::{canonicalize, layout, BlueprintSet};
    let blueprint = canonicalize(&doc).expect("a valid blueprint");
    let mut set = BlueprintSet::new();
    set.insert(blueprint.clone());
    let files = layout::write_tree(&set)
        .into_iter()
        .map(|(path, bytes)| (format!("{}/{path}", layout::REPO_ROOT), Some(bytes)))
        .collect();
    h.world
        .github
        .repo(lockstep::local::world::REPO)
        .push_commit("staging", files, "A hand-made change\n")
        .expect("push to staging");
    h.world
        .frappe
        .set_doc("staging", blueprint.body)
        .expect("the staging site takes it");
}

/// Runs `promote --dry-run`; returns the verdict text, asserting it was refused.
async fn refused(h: &mut Harness) -> String {
    h.command("promote --dry-run").await;
    let text = h.expect_job_result().await;
    assert!(text.contains("would be refused"), "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_that_ignores_permissions_fails_the_reviewer() {
    let mut h = Harness::start().await;
    resolve_drift(&h);
    stage(
        &h,
        serde_json::json!({
            "doctype": "Server Script", "name": "Grant Approve All", "script_type": "DocType Event",
            "reference_doctype": "Grant", "doctype_event": "Before Save", "disabled": 0,
            "script": "# ignore_permissions in a comment is fine\ndoc.save(ignore_permissions=True)\n"
        }),
    );
    let text = refused(&mut h).await;
    assert!(text.contains("✗ reviewer"), "{text}");
    assert!(text.contains("CRITICAL"), "{text}");
    assert!(
        text.contains("✗ refused: reviewer failed"),
        "only the reviewer: {text}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_users_on_production_fails_role_coverage() {
    let mut h = Harness::start().await;
    resolve_drift(&h);
    stage(
        &h,
        serde_json::json!({"doctype": "Role", "name": "Auditor", "role_name": "Auditor", "desk_access": 1}),
    );
    stage(
        &h,
        serde_json::json!({
            "doctype": "Workflow", "name": "Grant Audit", "workflow_name": "Grant Audit",
            "document_type": "Grant", "is_active": 1, "workflow_state_field": "workflow_state",
            "states": [
                {"state": "Draft", "doc_status": "0", "allow_edit": "Auditor"},
                {"state": "Approved", "doc_status": "1", "allow_edit": "Manager"}
            ],
            "transitions": [
                {"state": "Draft", "action": "Approve", "next_state": "Approved", "allowed": "Auditor", "allow_self_approval": 1}
            ]
        }),
    );
    let text = refused(&mut h).await;
    assert!(text.contains("✗ role coverage"), "{text}");
    assert!(text.contains("Auditor"), "names the role: {text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friday_afternoon_is_frozen_unless_an_emergency() {
    let mut h = Harness::start_at("2026-11-27T15:00:00+05:30", Default::default(), |file| {
        file.freeze.timezone = chrono_tz::Asia::Kolkata;
    })
    .await;
    resolve_drift(&h);
    let text = refused(&mut h).await;
    assert!(text.contains("✗ freeze guard"), "{text}");
    assert!(text.contains("Friday 15:00"), "{text}");

    h.command("promote --dry-run --emergency --reason=\"payroll is blocked\"")
        .await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("⚠ freeze guard"),
        "an emergency passes the freeze with a warning: {text}"
    );
    assert!(
        text.contains("payroll is blocked"),
        "the reason is shown: {text}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_unrelated_families_are_refused_with_a_split() {
    let mut h = Harness::start().await;
    resolve_drift(&h);
    for n in 1..=3 {
        stage(
            &h,
            serde_json::json!({
                "doctype": "DocType", "name": format!("Survey {n}"), "module": "Custom", "custom": 1,
                "fields": [{"fieldname": "title", "fieldtype": "Data", "label": "Title"}],
                "permissions": [{"role": "Manager", "permlevel": 0, "read": 1, "write": 1}]
            }),
        );
    }
    let text = refused(&mut h).await;
    assert!(text.contains("✗ bundle"), "{text}");
    assert!(
        text.contains("promote --only=survey-1"),
        "a split line per family: {text}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_edit_on_production_fails_the_diff() {
    let mut h = Harness::start().await;
    resolve_drift(&h);
    let frappe = &h.world.frappe;
    let mut role = frappe
        .get_doc("prod", "Role", "Field Officer")
        .expect("prod has the role");
    role["desk_access"] = serde_json::json!(0);
    frappe.set_doc("prod", role).expect("hand edit");
    let text = refused(&mut h).await;
    assert!(text.contains("✗ diff"), "{text}");
    assert!(text.contains("Field Officer"), "names what drifted: {text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_tests_fail_the_tester() {
    // A bench host whose test run leaves a report with one failure and one error.
    let reports = tempfile::tempdir().unwrap();
    let junit = reports.path().join("junit.xml");
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/checks/junit_run_tests_failures.xml"
    );
    let runner = format!(
        "[runner]\ntemplate = \"cp '{sample}' '{}' && : {{site}} {{args}}\"\n",
        junit.display()
    );
    let mut h = Harness::start_with(Default::default(), |file| {
        file.runner = lockstep::config::FileConfig::parse(&runner, "test.toml")
            .unwrap()
            .runner;
        file.checks.tester = Some(lockstep::checks::TesterConfig {
            command: "run-tests --app grants --junit-xml-output junit.xml".into(),
            junit_path: junit.display().to_string(),
            cobertura_path: None,
            diff_command: None,
        });
    })
    .await;
    resolve_drift(&h);
    let text = refused(&mut h).await;
    assert!(text.contains("✗ tester"), "{text}");
    assert!(text.contains("1 failed"), "{text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_takes_no_backup_and_names_the_missing_right() {
    // Two weeks after the last backup, asked by someone who is not a promoter,
    // with a bench host that would fail anything it is asked to run.
    let mut h = Harness::start_at("2026-12-09T14:30:00+05:30", Default::default(), |file| {
        file.runner = lockstep::config::FileConfig::parse(
            "[runner]\ntemplate = \"echo 'Backup failed for Site {site}. disk full' {args} >&2; exit 1\"\n",
            "test.toml",
        )
        .unwrap()
        .runner;
    })
    .await;
    resolve_drift(&h);
    let taken = reqwest::Client::new()
        .post(format!("{}/_sim/sites/prod/backup", h.world.frappe.url()))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("the sim takes a backup");
    assert!(taken.status().is_success());
    let backups_before = h.world.frappe.backups("prod").len();
    h.command("promote --dry-run").await;
    let text = h.expect_job_result().await;
    assert!(text.contains("⚠ backup"), "{text}");
    assert!(
        text.contains("old (max 24h); a backup will be taken before the branch is made"),
        "says why the newest will not do, and takes none: {text}"
    );
    assert_eq!(
        h.world.frappe.backups("prod").len(),
        backups_before,
        "a dry run has no side effect"
    );
    assert!(
        text.contains(
            "<@U0PM> is not in access.promoters, so a real promote by them would be refused"
        ),
        "{text}"
    );
    assert!(text.contains("Nothing was changed"), "{text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_that_dispatches_a_workflow_runs_the_tests() {
    // bench runs as GitHub Actions `bench.yml`.
    let mut h = Harness::start_at("2026-12-09T14:30:00+05:30", Default::default(), |file| {
        file.runner = lockstep::config::FileConfig::parse(
            "[github]\nowner = \"acme\"\nrepo = \"frappe-config\"\n[runner]\nworkflow = \"bench.yml\"\npoll_interval_secs = 1\n",
            "test.toml",
        )
        .unwrap()
        .runner;
    })
    .await;
    resolve_drift(&h);
    let backups_before = h.world.frappe.backups("prod").len();
    h.command("promote --dry-run").await;
    let text = h.expect_job_result().await;
    assert!(text.contains("⚠ backup"), "{text}");
    assert!(text.contains("✓ tester"), "{text}");
    assert_eq!(h.world.frappe.backups("prod").len(), backups_before);
    let runs = h.world.github.workflow_runs();
    let dispatched: Vec<_> = runs
        .iter()
        .filter(|r| r.event == "workflow_dispatch")
        .map(|r| {
            r.jobs[0].steps[0]
                .script
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .collect();
    assert!(
        !dispatched.iter().any(|a| a.contains("backup")),
        "a dry run dispatches no backup: {dispatched:?}"
    );
    assert!(
        dispatched
            .iter()
            .any(|a| a.starts_with("BENCH_ARGS: --site staging run-tests")),
        "{dispatched:?}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_reviewers_findings_count() {
    let semgrep = r#"{"results":[{"check_id":"python.lang.security.audit.eval","path":"server_scripts/experiment_assignment_defaults.json.script.py","start":{"line":1,"col":1},"extra":{"message":"eval() on user input","severity":"ERROR"}}],"errors":[{"message":"rule x failed to parse"}]}"#;
    let mut h = Harness::start_with(Default::default(), |file| {
        file.checks.external_reviewer = Some(lockstep::checks::ExternalReviewerConfig {
            command: format!("test -d {{dir}}/server_scripts && printf '%s' '{semgrep}'"),
        });
    })
    .await;
    resolve_drift(&h);
    h.command("review").await;
    let text = h.expect_job_result().await;
    assert!(text.contains("eval() on user input"), "{text}");
    assert!(text.contains("HIGH"), "{text}");
    assert!(
        text.contains("rule x failed to parse"),
        "the tool's own errors are shown: {text}"
    );
    assert!(!text.contains("ready to promote"), "{text}");
    let text = refused(&mut h).await;
    assert!(text.contains("✗ reviewer"), "{text}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_reports_findings_and_a_recommendation() {
    let mut h = Harness::start().await;
    resolve_drift(&h);
    h.command("review").await;
    let text = h.expect_job_result().await;
    assert!(
        text.contains("Review: 15 changed blueprints since main"),
        "{text}"
    );
    assert!(
        text.contains("tester:   5/5 tests pass, 100% coverage on changed lines"),
        "{text}"
    );
    assert!(
        text.contains("Recommendation: ✓ ready to promote."),
        "{text}"
    );
    let _ = PM;
    h.finish().await;
}
