//! Validation of blueprints before promotion (PRODUCT.md §2): workflow shape (initial
//! state, a reachable terminal state, every state reachable, roles on states and
//! transitions, transitions naming existing states), unique child-table keys, DocType
//! names that are not Frappe core names, and field types on the allow-list. Typed
//! findings only; what blocks a promotion is the checklist's decision, and reading the
//! allow-list from config is the lead's.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::canonical::{Blueprint, BlueprintId, BlueprintSet};
use super::diff::natural_key;
use super::kinds::{table_rows, Kind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
        }
    }
}

/// One problem found in one blueprint.
///
/// Serialises for the store and PR bodies; not deserialisable because `rule` is a
/// `&'static str` (a stored finding is read back as JSON, not as a `Finding`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    pub blueprint: BlueprintId,
    /// Stable rule id, e.g. `workflow-no-initial-state`.
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, name) = &self.blueprint;
        write!(
            f,
            "{:<8}  {kind} {name:?}  {}  [{}]",
            self.severity.label(),
            self.message,
            self.rule
        )
    }
}

/// Field types that need an explicit allow (they carry code, secrets, files or
/// unbounded text).
pub const RESTRICTED_FIELDTYPES: [&str; 4] = ["Code", "Password", "Attach", "Long Text"];

/// Every field type of Frappe v15 (`frappe/core/doctype/docfield/docfield.json`).
pub const FRAPPE_FIELDTYPES: &[&str] = &[
    "Autocomplete",
    "Attach",
    "Attach Image",
    "Barcode",
    "Button",
    "Check",
    "Code",
    "Color",
    "Column Break",
    "Currency",
    "Data",
    "Date",
    "Datetime",
    "Duration",
    "Dynamic Link",
    "Float",
    "Fold",
    "Geolocation",
    "Heading",
    "HTML",
    "HTML Editor",
    "Icon",
    "Image",
    "Int",
    "JSON",
    "Link",
    "Long Text",
    "Markdown Editor",
    "Password",
    "Percent",
    "Phone",
    "Read Only",
    "Rating",
    "Section Break",
    "Select",
    "Signature",
    "Small Text",
    "Tab Break",
    "Table",
    "Table MultiSelect",
    "Text",
    "Text Editor",
    "Time",
];

/// What validation may accept beyond its defaults. Built by the lead from config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationPolicy {
    /// Restricted field types (of [`RESTRICTED_FIELDTYPES`]) explicitly allowed.
    pub allowed_fieldtypes: BTreeSet<String>,
}

impl ValidationPolicy {
    fn fieldtype_problem(&self, fieldtype: &str) -> Option<(&'static str, String)> {
        if RESTRICTED_FIELDTYPES.contains(&fieldtype)
            && !self.allowed_fieldtypes.contains(fieldtype)
        {
            return Some((
                "fieldtype-not-allowed",
                "needs an explicit allow in config (validation.allowed_fieldtypes)".to_owned(),
            ));
        }
        if !FRAPPE_FIELDTYPES.contains(&fieldtype) {
            return Some(("fieldtype-unknown", "is not a Frappe field type".to_owned()));
        }
        None
    }
}

/// Validates every blueprint of a set; findings sorted by blueprint, then rule.
pub fn validate(set: &BlueprintSet, policy: &ValidationPolicy) -> Vec<Finding> {
    let mut findings: Vec<Finding> = set.iter().flat_map(|bp| validate_one(bp, policy)).collect();
    findings.sort();
    findings
}

/// Validates one blueprint on its own.
pub fn validate_one(bp: &Blueprint, policy: &ValidationPolicy) -> Vec<Finding> {
    let mut out = Findings {
        bp,
        found: Vec::new(),
    };
    duplicate_child_keys(&mut out);
    match bp.kind {
        Kind::DocType => {
            reserved_name(&mut out);
            for row in table_rows(&bp.body, "fields") {
                let label = row.get("fieldname").and_then(Value::as_str).unwrap_or("?");
                fieldtype(&mut out, policy, label, row.get("fieldtype"));
            }
        }
        Kind::CustomField => {
            let label = bp
                .body
                .get("fieldname")
                .and_then(Value::as_str)
                .unwrap_or("?");
            fieldtype(&mut out, policy, label, bp.body.get("fieldtype"));
        }
        Kind::PropertySetter if text(&bp.body, "property") == "fieldtype" => {
            let label = bp
                .body
                .get("field_name")
                .and_then(Value::as_str)
                .unwrap_or("?");
            fieldtype(&mut out, policy, label, bp.body.get("value"));
        }
        Kind::Workflow => workflow(&mut out),
        _ => {}
    }
    out.found
}

struct Findings<'a> {
    bp: &'a Blueprint,
    found: Vec<Finding>,
}

impl Findings<'_> {
    fn push(&mut self, rule: &'static str, severity: Severity, message: String) {
        self.found.push(Finding {
            blueprint: self.bp.id(),
            rule,
            severity,
            message,
        });
    }
}

fn duplicate_child_keys(out: &mut Findings<'_>) {
    for table in out.bp.kind.child_tables() {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for row in table_rows(&out.bp.body, table.field) {
            let key = natural_key(table, row);
            // Rows without any key value (a recipient given only by cc) have no identity
            // to clash on.
            if key.split(" / ").any(|part| !part.is_empty()) {
                *counts.entry(key).or_default() += 1;
            }
        }
        for (key, count) in counts.into_iter().filter(|(_, c)| *c > 1) {
            let fields = table.key.join(", ");
            let message = format!(
                "{} has {count} rows keyed {key:?} ({fields}); keys must be unique",
                table.field
            );
            out.push("duplicate-child-key", Severity::High, message);
        }
    }
}

fn reserved_name(out: &mut Findings<'_>) {
    let name = out.bp.name.trim();
    // MariaDB compares names case-insensitively, so `user` clashes with `User`.
    if let Some(core) = FRAPPE_CORE_DOCTYPES
        .iter()
        .find(|core| core.eq_ignore_ascii_case(name))
    {
        let message = format!("{core:?} is a Frappe core DocType; pick another name");
        out.push("doctype-reserved-name", Severity::Critical, message);
    }
}

fn fieldtype(
    out: &mut Findings<'_>,
    policy: &ValidationPolicy,
    field: &str,
    value: Option<&Value>,
) {
    let Some(fieldtype) = value.and_then(Value::as_str) else {
        out.push(
            "fieldtype-unknown",
            Severity::High,
            format!("field {field:?} has no fieldtype"),
        );
        return;
    };
    if let Some((rule, why)) = policy.fieldtype_problem(fieldtype) {
        out.push(
            rule,
            Severity::High,
            format!("field {field:?} is {fieldtype:?}, which {why}"),
        );
    }
}

fn text<'a>(row: &'a Value, field: &str) -> &'a str {
    row.get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("")
}

/// `doc_status` comes back as a string ("0"/"1"/"2"); a number or nothing is tolerated.
fn doc_status(row: &Value) -> String {
    match row.get("doc_status") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_owned(),
    }
}

fn workflow(out: &mut Findings<'_>) {
    let body = &out.bp.body;
    let states: Vec<&Value> = table_rows(body, "states").collect();
    let transitions: Vec<&Value> = table_rows(body, "transitions").collect();
    let names: BTreeSet<&str> = states
        .iter()
        .map(|s| text(s, "state"))
        .filter(|s| !s.is_empty())
        .collect();

    for (i, state) in states.iter().enumerate() {
        let name = text(state, "state");
        if name.is_empty() {
            out.push(
                "workflow-state-without-name",
                Severity::High,
                format!("state row {} has no state", i + 1),
            );
        } else if text(state, "allow_edit").is_empty() {
            let message = format!("state {name:?} names no role (allow_edit)");
            out.push("workflow-state-without-role", Severity::High, message);
        }
    }
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in &transitions {
        let (from, action, to) = (text(t, "state"), text(t, "action"), text(t, "next_state"));
        let label = format!("{from:?} --{action}--> {to:?}");
        if text(t, "allowed").is_empty() {
            out.push(
                "workflow-transition-without-role",
                Severity::High,
                format!("transition {label} names no role (allowed)"),
            );
        }
        let unknown: Vec<&str> = [from, to]
            .into_iter()
            .filter(|s| !names.contains(s))
            .collect();
        if unknown.is_empty() {
            edges.entry(from).or_default().push(to);
        } else {
            let list = unknown
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            let message = format!("transition {label} names {list}, not a state of this workflow");
            out.push("workflow-transition-unknown-state", Severity::High, message);
        }
    }
    // Frappe starts a document in the first state whose doc_status is 0 (draft).
    let initial = states
        .iter()
        .map(|s| (text(s, "state"), doc_status(s)))
        .find(|(n, d)| !n.is_empty() && d == "0");
    let Some((initial, _)) = initial else {
        let message = if names.is_empty() {
            "has no states, so documents have no initial state".to_owned()
        } else {
            "has no draft state (doc_status 0) to start documents in".to_owned()
        };
        out.push("workflow-no-initial-state", Severity::High, message);
        return;
    };
    let reachable = reachable_from(initial, &edges);
    let terminal_reached = names
        .iter()
        .any(|s| reachable.contains(s) && !edges.contains_key(s));
    if !terminal_reached {
        let message = format!(
            "no terminal state (one without outgoing transitions) is reachable from {initial:?}"
        );
        out.push("workflow-terminal-unreachable", Severity::High, message);
    }
    for state in names.iter().filter(|s| !reachable.contains(*s)) {
        let message =
            format!("state {state:?} cannot be reached from the initial state {initial:?}");
        out.push("workflow-unreachable-state", Severity::High, message);
    }
}

fn reachable_from<'a>(
    start: &'a str,
    edges: &BTreeMap<&'a str, Vec<&'a str>>,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::from([start]);
    let mut queue = VecDeque::from([start]);
    while let Some(state) = queue.pop_front() {
        for next in edges.get(state).into_iter().flatten() {
            if seen.insert(next) {
                queue.push_back(next);
            }
        }
    }
    seen
}

/// DocType names Frappe v15 itself defines (frappe/core, desk, email, automation,
/// website, workflow, contacts, integrations, printing, geo, social, custom). A custom
/// DocType of the same name would fight the core one for its table.
pub const FRAPPE_CORE_DOCTYPES: &[&str] = &[
    "Access Log",
    "Activity Log",
    "Address",
    "Address Template",
    "Assignment Rule",
    "Auto Email Report",
    "Auto Repeat",
    "Blog Category",
    "Blog Post",
    "Blogger",
    "Calendar View",
    "Comment",
    "Communication",
    "Company History",
    "Contact",
    "Contact Us Settings",
    "Country",
    "Currency",
    "Custom DocPerm",
    "Custom Field",
    "Custom Role",
    "Customize Form",
    "Dashboard",
    "Dashboard Chart",
    "Dashboard Chart Source",
    "Data Export",
    "Data Import",
    "Data Import Log",
    "Deleted Document",
    "Desktop Icon",
    "DocField",
    "DocPerm",
    "DocShare",
    "DocType",
    "DocType Action",
    "DocType Layout",
    "DocType Link",
    "DocType State",
    "Document Follow",
    "Document Naming Rule",
    "Domain",
    "Domain Settings",
    "Dropbox Settings",
    "Dynamic Link",
    "Email Account",
    "Email Domain",
    "Email Group",
    "Email Queue",
    "Email Template",
    "Email Unsubscribe",
    "Energy Point Log",
    "Error Log",
    "Event",
    "Event Participants",
    "File",
    "Form Tour",
    "Gender",
    "Global Search Settings",
    "Google Settings",
    "Has Domain",
    "Has Role",
    "Help Article",
    "Help Category",
    "Installed Application",
    "Installed Applications",
    "Integration Request",
    "Kanban Board",
    "Language",
    "LDAP Settings",
    "Letter Head",
    "List Filter",
    "List View Settings",
    "Module Def",
    "Module Onboarding",
    "Module Profile",
    "Navbar Settings",
    "Newsletter",
    "Note",
    "Notification",
    "Notification Log",
    "Notification Settings",
    "Number Card",
    "OAuth Client",
    "Onboarding Step",
    "Package",
    "Page",
    "Patch Log",
    "Payment Gateway",
    "Personal Data Deletion Request",
    "Portal Settings",
    "Prepared Report",
    "Print Format",
    "Print Heading",
    "Print Settings",
    "Print Style",
    "Property Setter",
    "Report",
    "Role",
    "Role Profile",
    "Route History",
    "Salutation",
    "Scheduled Job Log",
    "Scheduled Job Type",
    "Server Script",
    "Client Script",
    "Session Default Settings",
    "SMS Settings",
    "Social Login Key",
    "System Console",
    "System Settings",
    "Tag",
    "Tag Link",
    "ToDo",
    "Translation",
    "Unhandled Email",
    "User",
    "User Email",
    "User Group",
    "User Permission",
    "User Type",
    "Version",
    "View Log",
    "Web Form",
    "Web Page",
    "Web Template",
    "Webhook",
    "Website Settings",
    "Website Theme",
    "Workflow",
    "Workflow Action",
    "Workflow Action Master",
    "Workflow Document State",
    "Workflow State",
    "Workflow Transition",
    "Workspace",
    "Workspace Link",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonical::canonicalize;
    use serde_json::json;

    fn check(doc: Value) -> Vec<String> {
        let bp = canonicalize(&doc).unwrap();
        validate_one(&bp, &ValidationPolicy::default())
            .into_iter()
            .map(|f| format!("{} {}", f.rule, f.message))
            .collect()
    }

    fn state(name: &str, status: &str, role: &str) -> Value {
        json!({"state": name, "doc_status": status, "allow_edit": role})
    }

    fn step(from: &str, action: &str, to: &str, role: &str) -> Value {
        json!({"state": from, "action": action, "next_state": to, "allowed": role})
    }

    #[test]
    fn a_sound_workflow_has_no_findings() {
        let wf = json!({"doctype": "Workflow", "name": "W", "states": [
            state("Draft", "0", "A"), state("Done", "1", "B")
        ], "transitions": [step("Draft", "Submit", "Done", "A")]});
        assert_eq!(check(wf), Vec::<String>::new());
    }

    #[test]
    fn broken_workflows_are_explained() {
        let wf = json!({"doctype": "Workflow", "name": "W", "states": [
            state("Draft", "0", "A"), state("Loop", "0", ""), state("Orphan", "1", "B"), state("Draft", "0", "A")
        ], "transitions": [
            step("Draft", "Go", "Loop", ""), step("Loop", "Back", "Draft", "A"), step("Loop", "Jump", "Nowhere", "A")
        ]});
        insta::assert_snapshot!(check(wf).join("\n"), @r#"
        duplicate-child-key states has 2 rows keyed "Draft" (state); keys must be unique
        workflow-state-without-role state "Loop" names no role (allow_edit)
        workflow-transition-without-role transition "Draft" --Go--> "Loop" names no role (allowed)
        workflow-transition-unknown-state transition "Loop" --Jump--> "Nowhere" names "Nowhere", not a state of this workflow
        workflow-terminal-unreachable no terminal state (one without outgoing transitions) is reachable from "Draft"
        workflow-unreachable-state state "Orphan" cannot be reached from the initial state "Draft"
        "#);
        let empty = json!({"doctype": "Workflow", "name": "E"});
        assert_eq!(
            check(empty),
            vec!["workflow-no-initial-state has no states, so documents have no initial state"]
        );
    }

    #[test]
    fn doctype_names_and_fieldtypes() {
        let dt = json!({"doctype": "DocType", "name": "user", "fields": [
            {"fieldname": "notes", "fieldtype": "Long Text"},
            {"fieldname": "age", "fieldtype": "Int"},
            {"fieldname": "age", "fieldtype": "Integer"}
        ]});
        insta::assert_snapshot!(check(dt).join("\n"), @r#"
        duplicate-child-key fields has 2 rows keyed "age" (fieldname); keys must be unique
        doctype-reserved-name "User" is a Frappe core DocType; pick another name
        fieldtype-not-allowed field "notes" is "Long Text", which needs an explicit allow in config (validation.allowed_fieldtypes)
        fieldtype-unknown field "age" is "Integer", which is not a Frappe field type
        "#);
        let cf = canonicalize(&json!({"doctype": "Custom Field", "name": "G-x", "fieldname": "x", "fieldtype": "Code"})).unwrap();
        let allow = ValidationPolicy {
            allowed_fieldtypes: ["Code".to_string()].into(),
        };
        assert!(validate_one(&cf, &allow).is_empty());
        assert_eq!(validate_one(&cf, &ValidationPolicy::default()).len(), 1);
        let ps = json!({"doctype": "Property Setter", "name": "G-x-fieldtype", "field_name": "x", "property": "fieldtype", "value": "Password"});
        assert_eq!(check(ps).len(), 1);
    }

    #[test]
    fn findings_display_for_reviewers() {
        let bp = canonicalize(&json!({"doctype": "DocType", "name": "File"})).unwrap();
        let text = validate_one(&bp, &ValidationPolicy::default())[0].to_string();
        assert_eq!(text, "CRITICAL  DocType \"File\"  \"File\" is a Frappe core DocType; pick another name  [doctype-reserved-name]");
    }
}
