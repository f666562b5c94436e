//! Reviewer tests over whole blueprints: each rule with a positive and a negative case,
//! locations in the canonical file, the changed-path filter, and the box.

use super::*;
use crate::blueprint::canonicalize;
use crate::checks::BoxStatus;
use serde_json::{json, Value};

fn set(docs: &[Value]) -> BlueprintSet {
    docs.iter().map(|d| canonicalize(d).unwrap()).collect()
}

fn rules_of(docs: &[Value]) -> Vec<String> {
    review(&set(docs), None)
        .into_iter()
        .map(|f| f.rule)
        .collect()
}

fn server_script(script_type: &str, script: &str) -> Value {
    json!({"doctype": "Server Script", "name": "Grant API", "script_type": script_type,
        "api_method": "grant_totals", "allow_guest": 0, "script": script})
}

/// The canonical file's line holding `needle`, found by search, to check locations.
fn line_containing(doc: &Value, needle: &str) -> usize {
    let bytes = canonicalize(doc).unwrap().to_canonical_bytes();
    let text = String::from_utf8(bytes).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn code_findings_point_at_the_key_and_the_line_within_the_code() {
    let doc = server_script(
        "API",
        "# ignore_permissions=True is forbidden here\nif frappe.has_permission('Grant'):\n    doc = frappe.get_doc('Grant', frappe.form_dict.name)\n    doc.save(ignore_permissions=True)\n",
    );
    let findings = review(&set(std::slice::from_ref(&doc)), None);
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!(f.rule, "ignore-permissions");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.location.path, "server_scripts/grant_api.json");
    assert_eq!(f.location.line, line_containing(&doc, "\"script\":"));
    assert_eq!(f.location.code_line, Some(4));
    assert_eq!(
        f.location.to_string(),
        format!(
            "server_scripts/grant_api.json:{} (script line 4)",
            f.location.line
        )
    );
    assert_eq!(f.blueprint, Some((Kind::ServerScript, "Grant API".into())));
}

#[test]
fn ignore_permissions_only_in_comments_and_strings_is_clean() {
    let doc = server_script(
        "DocType Event",
        "# doc.insert(ignore_permissions=True)\nfrappe.msgprint(\"never pass ignore_permissions=True\")\nnote = '''\nignore_permissions=True\n'''\n",
    );
    assert_eq!(rules_of(&[doc]), Vec::<String>::new());
}

#[test]
fn guest_api_scripts() {
    let mut open = server_script("API", "if frappe.has_permission('Grant'): pass");
    open["allow_guest"] = json!(1);
    assert_eq!(rules_of(&[open.clone()]), vec!["allow-guest-api"]);
    let f = &review(&set(std::slice::from_ref(&open)), None)[0];
    assert_eq!(f.location.line, line_containing(&open, "\"allow_guest\""));
    assert!(f.message.contains("grant_totals"));
    // allow_guest on a non-API script means nothing.
    let mut event = server_script("DocType Event", "pass");
    event["allow_guest"] = json!(1);
    assert_eq!(rules_of(&[event]), Vec::<String>::new());
}

#[test]
fn api_scripts_without_a_permission_check() {
    let unchecked = server_script(
        "API",
        "frappe.response['message'] = frappe.get_all('Grant')",
    );
    assert_eq!(rules_of(&[unchecked]), vec!["api-without-permission-check"]);
    let checked = server_script(
        "API",
        "frappe.only_for('Grant Manager')\nfrappe.response['message'] = 1",
    );
    assert_eq!(rules_of(&[checked]), Vec::<String>::new());
}

#[test]
fn sql_in_reports_notifications_and_transitions() {
    let report = json!({"doctype": "Report", "name": "Purge", "report_type": "Query Report",
        "ref_doctype": "Grant", "is_standard": "No", "query": "-- cleanup\nDELETE FROM `tabGrant Log`"});
    let findings = review(&set(&[report]), None);
    assert_eq!(findings[0].rule, "destructive-sql");
    assert_eq!(findings[0].location.code_line, Some(2));
    let notification = json!({"doctype": "Notification", "name": "Big grant", "document_type": "Grant",
        "condition": "frappe.db.sql(f\"select count(*) from tabGrant where owner='{doc.owner}'\")[0][0] > 3"});
    assert_eq!(rules_of(&[notification]), vec!["sql-string-building"]);
    let safe = json!({"doctype": "Notification", "name": "Big grant", "document_type": "Grant",
        "condition": "doc.amount > 100000 and doc.status == 'Open'"});
    assert_eq!(rules_of(&[safe]), Vec::<String>::new());
}

fn workflow(transitions: Value) -> Value {
    json!({"doctype": "Workflow", "name": "Grant Approval", "document_type": "Grant",
        "workflow_state_field": "workflow_state", "is_active": 1,
        "states": [
            {"state": "Draft", "doc_status": "0", "allow_edit": "Field Officer"},
            {"state": "Approved", "doc_status": "1", "allow_edit": "Manager"},
            {"state": "Rejected", "doc_status": "0", "allow_edit": "Manager"}],
        "transitions": transitions})
}

#[test]
fn transition_conditions_are_python() {
    let wf = workflow(json!([
        {"state": "Draft", "action": "Approve", "next_state": "Approved", "allowed": "Manager",
         "condition": "doc.amount < 5000 and frappe.db.sql('select 1 from x where y=%s' % doc.y)"},
        {"state": "Draft", "action": "Reject", "next_state": "Rejected", "allowed": "Manager"}]));
    let findings = review(&set(std::slice::from_ref(&wf)), None);
    let f = findings
        .iter()
        .find(|f| f.rule == "sql-string-building")
        .unwrap();
    assert_eq!(f.location.field, "transitions[0].condition");
    assert_eq!(f.location.line, line_containing(&wf, "\"condition\""));
}

#[test]
fn ambiguous_transitions_need_a_condition() {
    let ambiguous = workflow(json!([
        {"state": "Draft", "action": "Approve", "next_state": "Approved", "allowed": "Manager"},
        {"state": "Draft", "action": "Approve", "next_state": "Rejected", "allowed": "Manager"}]));
    let rules = rules_of(&[ambiguous]);
    assert_eq!(
        rules
            .iter()
            .filter(|r| *r == "transition-ambiguous")
            .count(),
        2,
        "{rules:?}"
    );
    let told_apart = workflow(json!([
        {"state": "Draft", "action": "Approve", "next_state": "Approved", "allowed": "Manager", "condition": "doc.amount < 5000"},
        {"state": "Draft", "action": "Approve", "next_state": "Rejected", "allowed": "Manager", "condition": "doc.amount >= 5000"},
        {"state": "Draft", "action": "Reject", "next_state": "Rejected", "allowed": "Manager"}]));
    assert!(!rules_of(&[told_apart]).contains(&"transition-ambiguous".to_owned()));
}

#[test]
fn workflow_validation_findings_are_included() {
    let broken = workflow(json!([
        {"state": "Draft", "action": "Approve", "next_state": "Nowhere", "allowed": "Manager"}]));
    let findings = review(&set(&[broken]), None);
    assert!(
        findings
            .iter()
            .any(|f| f.rule == "workflow-transition-unknown-state" && f.severity == Severity::High),
        "{findings:?}"
    );
    let fine = workflow(json!([
        {"state": "Draft", "action": "Approve", "next_state": "Approved", "allowed": "Manager"},
        {"state": "Draft", "action": "Reject", "next_state": "Rejected", "allowed": "Manager"}]));
    assert_eq!(rules_of(&[fine]), Vec::<String>::new());
}

fn grant_doctype(fields: Value, permissions: Value) -> Value {
    json!({"doctype": "DocType", "name": "Grant", "custom": 1, "module": "Grants",
        "fields": fields, "permissions": permissions})
}

#[test]
fn doctypes_need_permission_rows_unless_they_are_child_tables() {
    let fields = json!([{"fieldname": "amount", "fieldtype": "Currency", "label": "Amount"}]);
    assert_eq!(
        rules_of(&[grant_doctype(fields.clone(), json!([]))]),
        vec!["doctype-without-permissions"]
    );
    let ok = grant_doctype(
        fields.clone(),
        json!([{"role": "Manager", "permlevel": 0, "read": 1}]),
    );
    assert_eq!(rules_of(&[ok]), Vec::<String>::new());
    let mut child = grant_doctype(fields, json!([]));
    child["istable"] = json!(1);
    assert_eq!(rules_of(&[child]), Vec::<String>::new());
}

#[test]
fn field_rules_on_doctype_rows_and_custom_fields() {
    let perms = json!([{"role": "Manager", "permlevel": 0}]);
    let doc = grant_doctype(
        json!([
            {"fieldname": "limit", "fieldtype": "Int", "label": "Limit", "default": "1000"},
            {"fieldname": "is_active", "fieldtype": "Check", "label": "Active", "default": "1"},
            {"fieldname": "count", "fieldtype": "Int", "label": "Count", "default": "5", "depends_on": "eval:doc.is_active"},
            {"fieldname": "api_secret", "fieldtype": "Password", "label": "API Secret"},
            {"fieldname": "Bad Name", "fieldtype": "Data", "label": "bad label"},
            {"fieldname": "nolabel", "fieldtype": "Data"},
            {"fieldname": "sb1", "fieldtype": "Section Break"}
        ]),
        perms,
    );
    let findings = review(&set(std::slice::from_ref(&doc)), None);
    let got: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.rule.as_str(), f.location.field.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("magic-number-default", "fields[0].default"),
            ("magic-number-default", "fields[2].default"),
            ("sensitive-fieldtype", "fields[3].fieldtype"),
            ("fieldname-style", "fields[4].fieldname"),
            ("label-style", "fields[4].label"),
            ("label-missing", "fields[5].fieldname"),
        ]
    );
    assert_eq!(findings[0].message, "magic number 1000 in default of limit");

    let custom = json!({"doctype": "Custom Field", "name": "Grant-field_officer", "dt": "Grant",
        "fieldname": "field_officer", "fieldtype": "Password", "label": "Field Officer", "default": "Hunter2!x"});
    let rules = rules_of(&[custom]);
    assert_eq!(rules, vec!["hardcoded-secret", "sensitive-fieldtype"]);
}

#[test]
fn property_setter_defaults_and_doctype_names() {
    let ps = json!({"doctype": "Property Setter", "name": "Grant-amount-default", "doc_type": "Grant",
        "field_name": "amount", "doctype_or_field": "DocField", "property": "default", "value": "25000",
        "property_type": "Text"});
    assert_eq!(rules_of(&[ps]), vec!["magic-number-default"]);
    let label = json!({"doctype": "Property Setter", "name": "Grant-amount-label", "doc_type": "Grant",
        "field_name": "amount", "doctype_or_field": "DocField", "property": "label", "value": "25000",
        "property_type": "Data"});
    assert_eq!(rules_of(&[label]), Vec::<String>::new());
    let mut snake = grant_doctype(json!([]), json!([{"role": "Manager", "permlevel": 0}]));
    snake["name"] = json!("grant_log");
    assert_eq!(rules_of(&[snake]), vec!["doctype-name-style"]);
}

#[test]
fn client_scripts_are_javascript() {
    let cs = json!({"doctype": "Client Script", "name": "Grant-Form", "dt": "Grant", "view": "Form",
        "script": "// token = 'abc'\nfrappe.ui.form.on('Grant', { refresh(frm) { const api_token = 'Zx81_kk2LmQ9aa'; } });"});
    let findings = review(&set(&[cs]), None);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, "hardcoded-secret");
    assert_eq!(findings[0].location.code_line, Some(2));
    assert!(!findings[0].message.contains("Zx81"));
}

#[test]
fn changed_paths_narrow_the_review() {
    let docs = [
        server_script("API", "frappe.response['x'] = 1"),
        grant_doctype(json!([]), json!([])),
    ];
    let all = review(&set(&docs), None);
    assert_eq!(all.len(), 2);
    let only = review(
        &set(&docs),
        Some(&["fixtures/app/doctypes/grant.json".to_owned()]),
    );
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].rule, "doctype-without-permissions");
    let none = review(&set(&docs), Some(&[]));
    assert!(none.is_empty());
}

#[test]
fn the_box_fails_on_critical_or_high_only() {
    let clean = review(
        &set(&[server_script(
            "API",
            "frappe.has_permission('Grant', throw=True)",
        )]),
        None,
    );
    let out = reviewer_box(&clean);
    assert_eq!(
        (out.status, out.detail.as_str()),
        (BoxStatus::Pass, "0 CRITICAL, 0 HIGH, 0 MEDIUM, 0 LOW")
    );
    let medium = review(
        &set(&[
            json!({"doctype": "Custom Field", "name": "Grant-cap", "dt": "Grant", "fieldname": "cap",
            "fieldtype": "Int", "label": "Cap", "default": "1000"}),
        ]),
        None,
    );
    assert_eq!(reviewer_box(&medium).status, BoxStatus::Pass);
    let bad = review(
        &set(&[server_script("API", "doc.insert(ignore_permissions=True)")]),
        None,
    );
    let out = reviewer_box(&bad);
    assert_eq!(out.status, BoxStatus::Fail);
    assert!(
        out.detail.starts_with(
            "1 CRITICAL, 1 HIGH, 0 MEDIUM, 0 LOW; first: CRITICAL server_scripts/grant_api.json:"
        ),
        "{}",
        out.detail
    );
    assert_eq!(out.more.len(), 2);
}

#[test]
fn select_by_changed_paths_and_blueprint_name() {
    let docs = [
        server_script("API", "frappe.response['x'] = 1"),
        grant_doctype(json!([]), json!([])),
    ];
    let set = set(&docs);
    let all = select(&set, None, None).unwrap();
    assert_eq!(all.len(), 2);
    let one = select(&set, None, Some("grant")).unwrap();
    assert_eq!(
        one.blueprints,
        vec![(
            (Kind::DocType, "Grant".into()),
            "doctypes/grant.json".into()
        )]
    );
    let err = select(
        &set,
        Some(&["doctypes/grant.json".to_owned()]),
        Some("Grant API"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        "no changed blueprint named \"Grant API\"; changed: \"Grant\""
    );
    let err = select(&set, Some(&[]), Some("Grant")).unwrap_err();
    assert_eq!(err, "no blueprint named \"Grant\": nothing changed");
    let findings = review_selection(&set, &one);
    assert_eq!(findings.len(), 1);
}

mod properties {
    use super::super::code::scan;
    use super::super::lexer::Lang;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the code says, once every line is a comment only a credential
        /// written in it can be a finding.
        #[test]
        fn commented_out_code_raises_no_code_findings(
            lines in prop::collection::vec("(doc.insert\\(ignore_permissions=True\\)|frappe.db.sql\\(f'\\{x\\}'\\)|DELETE FROM tabX|api_key = 'Abc123!xyz'|[ -~]{0,40})", 0..8),
        ) {
            let python: String = lines.iter().map(|l| format!("# {l}\n")).collect();
            let js: String = lines.iter().map(|l| format!("// {l}\n")).collect();
            let sql: String = lines.iter().map(|l| format!("-- {l}\n")).collect();
            for (code, lang) in [(python, Lang::Python), (js, Lang::JavaScript), (sql, Lang::Sql)] {
                for hit in scan(&code, lang, false) {
                    prop_assert_eq!(hit.rule, "hardcoded-secret", "{:?}", code);
                }
            }
        }
    }
}
