//! The promote walkthrough end to end over the pure boxes: a Beneficiary promotion
//! (DocType, Custom Field, Workflow, API Server Script), the data each box needs, all
//! eight run through the concurrent checklist, and the review report of the same set.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use serde_json::{json, Value};

use super::reviewer::select;
use super::tester::{evaluate, Reports};
use super::*;
use crate::blueprint::{canonicalize, BlueprintSet, Drift, ValidationPolicy};

fn set(docs: &[Value]) -> BlueprintSet {
    docs.iter().map(|d| canonicalize(d).unwrap()).collect()
}

fn promotion() -> BlueprintSet {
    set(&[
        json!({"doctype": "DocType", "name": "Beneficiary", "custom": 1, "module": "Grants",
            "fields": [
                {"fieldname": "full_name", "fieldtype": "Data", "label": "Full Name", "reqd": 1},
                {"fieldname": "age", "fieldtype": "Int", "label": "Age", "non_negative": 1}],
            "permissions": [{"role": "Manager", "permlevel": 0, "read": 1, "write": 1},
                            {"role": "Field Officer", "permlevel": 0, "read": 1}]}),
        json!({"doctype": "Custom Field", "name": "Beneficiary-grant_limit", "dt": "Beneficiary",
            "fieldname": "grant_limit", "fieldtype": "Currency", "label": "Grant Limit",
            "insert_after": "age", "default": "1000"}),
        json!({"doctype": "Workflow", "name": "Beneficiary Approval", "document_type": "Beneficiary",
            "is_active": 1, "workflow_state_field": "workflow_state",
            "states": [
                {"state": "Draft", "doc_status": "0", "allow_edit": "Field Officer"},
                {"state": "Approved", "doc_status": "1", "allow_edit": "Manager"}],
            "transitions": [
                {"state": "Draft", "action": "Approve", "next_state": "Approved", "allowed": "Manager"}]}),
        json!({"doctype": "Server Script", "name": "Beneficiary Count", "script_type": "API",
            "api_method": "beneficiary_count", "allow_guest": 0,
            "script": "# never ignore_permissions=True here\nfrappe.has_permission('Beneficiary', throw=True)\nfrappe.response['message'] = frappe.db.count('Beneficiary')\n"}),
    ])
}

fn users() -> Vec<ProdUser> {
    let mut users: Vec<ProdUser> = (0..3)
        .map(|i| ProdUser {
            name: format!("manager{i}@example.org"),
            enabled: true,
            roles: vec!["Manager".into()],
        })
        .collect();
    users.extend((0..27).map(|i| ProdUser {
        name: format!("officer{i}@example.org"),
        enabled: true,
        roles: vec!["Field Officer".into()],
    }));
    users
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/checks/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// Every box computed from the same data a promote would gather.
fn outcomes(now: DateTime<Utc>, emergency: Option<&str>) -> Vec<BoxOutcome> {
    let promo = promotion();
    let findings = review(&promo, None);
    let junit = data("junit_run_tests_pass.xml");
    let cobertura = data("coverage_py.xml");
    let tested = evaluate(Reports {
        junit_path: "junit.xml",
        junit: &junit,
        cobertura: Some(("sites/coverage.xml", &cobertura)),
        diff: None,
    });
    let latest = BackupInfo {
        id: "20261125_110000-prod_example_org".into(),
        taken_at: now - chrono::Duration::minutes(210),
        database_path: None,
    };
    let decision = backup_decision(Some(&latest), now, 24);
    let freeze_cfg = FreezeConfig {
        timezone: chrono_tz::Europe::London,
        ..FreezeConfig::default()
    };
    vec![
        diff_box(&Drift::default(), &Drift::default()),
        blueprints_box(&promo, &promo, &ValidationPolicy::default()),
        reviewer_box(&findings),
        tester_box(&tested, 70),
        backup_box(&decision, None, now),
        role_coverage(&promo, &users()),
        freeze(now, &freeze_cfg, emergency),
        bundle(&promo, 5),
    ]
}

async fn run(outcomes: Vec<BoxOutcome>) -> (ChecklistVerdict, usize) {
    let jobs: Vec<BoxJob> = outcomes
        .into_iter()
        .map(|o| (o.box_id, futures::future::ready(Ok(o)).boxed()))
        .collect();
    let mut updates = 0;
    let verdict = run_checklist(jobs, Duration::from_secs(5), |_| updates += 1).await;
    (verdict, updates)
}

#[tokio::test]
async fn a_wednesday_promotion_passes_every_box() {
    // Wednesday 14:30 in London (GMT in November).
    let (verdict, updates) = run(outcomes(at("2026-11-25T14:30:00Z"), None)).await;
    assert_eq!(updates, 9);
    assert!(verdict.passes(), "{}", verdict.render());
    insta::assert_snapshot!(verdict.render());
}

#[tokio::test]
async fn a_friday_afternoon_is_refused_unless_an_emergency() {
    let friday = at("2026-11-27T15:00:00Z");
    let (verdict, _) = run(outcomes(friday, None)).await;
    assert!(!verdict.passes());
    assert_eq!(verdict.summary(), "✗ refused: freeze guard failed");
    let (verdict, _) = run(outcomes(friday, Some("payments down, INC-42"))).await;
    assert!(verdict.passes());
    assert!(verdict.emergency_used());
    assert_eq!(verdict.summary(), "✓ all 8 boxes pass (1 with a warning)");
}

#[test]
fn the_review_of_the_same_set() {
    let promo = promotion();
    let selection = select(&promo, None, None).unwrap();
    let findings = reviewer::review_selection(&promo, &selection);
    let junit = data("junit_run_tests_pass.xml");
    let cobertura = data("coverage_py.xml");
    let diff = String::from_utf8(data("grants.diff")).unwrap();
    let tested = evaluate(Reports {
        junit_path: "junit.xml",
        junit: &junit,
        cobertura: Some(("sites/coverage.xml", &cobertura)),
        diff: Some(&diff),
    });
    let report = ReviewReport {
        changed: selection.len(),
        since: "main",
        findings: &findings,
        external_errors: &[],
        tester: Some(&tested),
        coverage_min: 60,
    };
    insta::assert_snapshot!(report.render());
}
