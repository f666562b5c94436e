//! The registry of tracked doctypes (PRODUCT.md §2): for each kind its Frappe doctype,
//! its folder under `fixtures/app/`, the list filters that choose the tracked records,
//! how a record's name is formed, the natural key of each child table, and the
//! references a record carries to other blueprints. Pure data: no I/O, no JSON
//! rewriting (that is `canonical`), no graph work (that is `families`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One tracked doctype. The order of the variants is the order blueprints are listed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "DocType")]
    DocType,
    #[serde(rename = "Custom Field")]
    CustomField,
    #[serde(rename = "Property Setter")]
    PropertySetter,
    #[serde(rename = "Workflow")]
    Workflow,
    #[serde(rename = "Workflow State")]
    WorkflowState,
    #[serde(rename = "Workflow Action Master")]
    WorkflowActionMaster,
    #[serde(rename = "Role")]
    Role,
    #[serde(rename = "Dashboard")]
    Dashboard,
    #[serde(rename = "Dashboard Chart")]
    DashboardChart,
    #[serde(rename = "Number Card")]
    NumberCard,
    #[serde(rename = "Report")]
    Report,
    #[serde(rename = "Server Script")]
    ServerScript,
    #[serde(rename = "Client Script")]
    ClientScript,
    #[serde(rename = "Notification")]
    Notification,
    #[serde(rename = "Print Format")]
    PrintFormat,
}

/// How Frappe forms a record's `name` for a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// The name is copied from this field (`autoname: "field:workflow_name"`).
    Field(&'static str),
    /// The name is typed by the user (`autoname: "Prompt"`).
    Prompt,
    /// Custom Field: `<dt>-<fieldname>`.
    CustomFieldName,
    /// Property Setter: `<doc_type>-<field_name or "main">-<property>`.
    PropertySetterName,
    /// Number Card: the `label`, with `-1`, `-2`… appended by Frappe when taken.
    LabelWithSuffix,
}

/// A child table of a kind and the fields that identify one of its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildTable {
    /// The parent's field holding the rows, e.g. `fields`.
    pub field: &'static str,
    /// The child doctype, e.g. `DocField`.
    pub doctype: &'static str,
    /// The natural key: the row fields that together identify a row.
    pub key: &'static [&'static str],
    /// A row field worth showing next to the key when a row is rendered (`age = Int`).
    pub headline: Option<&'static str>,
}

/// Where a blueprint points at another blueprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefSite {
    /// A top-level field holding a name.
    Field(&'static str),
    /// A field of every row of a child table.
    RowField {
        table: &'static str,
        field: &'static str,
    },
    /// DocField `options` of rows whose `fieldtype` is Link, Table or Table MultiSelect.
    LinkOptions { table: &'static str },
}

/// One reference rule: the field(s) at `site` name a blueprint of kind `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefRule {
    pub site: RefSite,
    pub target: Kind,
}

const fn row(
    field: &'static str,
    doctype: &'static str,
    key: &'static [&'static str],
    headline: Option<&'static str>,
) -> ChildTable {
    ChildTable {
        field,
        doctype,
        key,
        headline,
    }
}

const fn top(field: &'static str, target: Kind) -> RefRule {
    RefRule {
        site: RefSite::Field(field),
        target,
    }
}

const fn rows(table: &'static str, field: &'static str, target: Kind) -> RefRule {
    RefRule {
        site: RefSite::RowField { table, field },
        target,
    }
}

const DOCTYPE_TABLES: &[ChildTable] = &[
    row("fields", "DocField", &["fieldname"], Some("fieldtype")),
    row("permissions", "DocPerm", &["role", "permlevel"], None),
    row("actions", "DocType Action", &["label"], Some("action")),
    row(
        "links",
        "DocType Link",
        &["link_doctype", "link_fieldname"],
        None,
    ),
    row("states", "DocType State", &["title"], Some("color")),
];
const WORKFLOW_TABLES: &[ChildTable] = &[
    row(
        "states",
        "Workflow Document State",
        &["state"],
        Some("doc_status"),
    ),
    row(
        "transitions",
        "Workflow Transition",
        &["state", "action"],
        Some("next_state"),
    ),
];
const DASHBOARD_TABLES: &[ChildTable] = &[
    row("charts", "Dashboard Chart Link", &["chart"], Some("width")),
    row("cards", "Number Card Link", &["card"], None),
];
const HAS_ROLE: ChildTable = row("roles", "Has Role", &["role"], None);
const CHART_TABLES: &[ChildTable] = &[
    HAS_ROLE,
    row(
        "y_axis",
        "Dashboard Chart Field",
        &["y_field"],
        Some("color"),
    ),
];
const REPORT_TABLES: &[ChildTable] = &[
    HAS_ROLE,
    row(
        "columns",
        "Report Column",
        &["fieldname"],
        Some("fieldtype"),
    ),
    row(
        "filters",
        "Report Filter",
        &["fieldname"],
        Some("fieldtype"),
    ),
];
const NOTIFICATION_TABLES: &[ChildTable] = &[row(
    "recipients",
    "Notification Recipient",
    &["receiver_by_document_field", "receiver_by_role"],
    None,
)];

const DOCTYPE_REFS: &[RefRule] = &[
    RefRule {
        site: RefSite::LinkOptions { table: "fields" },
        target: Kind::DocType,
    },
    rows("permissions", "role", Kind::Role),
];
const CUSTOM_FIELD_REFS: &[RefRule] = &[top("dt", Kind::DocType)];
const PROPERTY_SETTER_REFS: &[RefRule] = &[top("doc_type", Kind::DocType)];
const WORKFLOW_REFS: &[RefRule] = &[
    top("document_type", Kind::DocType),
    rows("states", "state", Kind::WorkflowState),
    rows("states", "allow_edit", Kind::Role),
    rows("transitions", "action", Kind::WorkflowActionMaster),
    rows("transitions", "allowed", Kind::Role),
];
const DASHBOARD_REFS: &[RefRule] = &[
    rows("charts", "chart", Kind::DashboardChart),
    rows("cards", "card", Kind::NumberCard),
];
const CHART_REFS: &[RefRule] = &[
    top("document_type", Kind::DocType),
    rows("roles", "role", Kind::Role),
];
const CARD_REFS: &[RefRule] = &[top("document_type", Kind::DocType)];
const REPORT_REFS: &[RefRule] = &[
    top("ref_doctype", Kind::DocType),
    rows("roles", "role", Kind::Role),
];
const SERVER_SCRIPT_REFS: &[RefRule] = &[top("reference_doctype", Kind::DocType)];
const CLIENT_SCRIPT_REFS: &[RefRule] = &[top("dt", Kind::DocType)];
const NOTIFICATION_REFS: &[RefRule] = &[
    top("document_type", Kind::DocType),
    rows("recipients", "receiver_by_role", Kind::Role),
];
const PRINT_FORMAT_REFS: &[RefRule] = &[top("doc_type", Kind::DocType)];

/// Roles Frappe itself creates; every other role is the team's and tracked. (Role's
/// `is_custom` flag is not set by the desk, so it cannot tell them apart.)
pub const FRAPPE_STANDARD_ROLES: [&str; 16] = [
    "Administrator",
    "Guest",
    "All",
    "Desk User",
    "System Manager",
    "Website Manager",
    "Script Manager",
    "Report Manager",
    "Workspace Manager",
    "Dashboard Manager",
    "Blogger",
    "Newsletter Manager",
    "Knowledge Base Contributor",
    "Knowledge Base Editor",
    "Inbox User",
    "Prepared Report User",
];

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::DocType,
        Kind::CustomField,
        Kind::PropertySetter,
        Kind::Workflow,
        Kind::WorkflowState,
        Kind::WorkflowActionMaster,
        Kind::Role,
        Kind::Dashboard,
        Kind::DashboardChart,
        Kind::NumberCard,
        Kind::Report,
        Kind::ServerScript,
        Kind::ClientScript,
        Kind::Notification,
        Kind::PrintFormat,
    ];

    /// The Frappe doctype, as used in `/api/resource/<doctype>`.
    pub fn doctype(self) -> &'static str {
        match self {
            Kind::DocType => "DocType",
            Kind::CustomField => "Custom Field",
            Kind::PropertySetter => "Property Setter",
            Kind::Workflow => "Workflow",
            Kind::WorkflowState => "Workflow State",
            Kind::WorkflowActionMaster => "Workflow Action Master",
            Kind::Role => "Role",
            Kind::Dashboard => "Dashboard",
            Kind::DashboardChart => "Dashboard Chart",
            Kind::NumberCard => "Number Card",
            Kind::Report => "Report",
            Kind::ServerScript => "Server Script",
            Kind::ClientScript => "Client Script",
            Kind::Notification => "Notification",
            Kind::PrintFormat => "Print Format",
        }
    }

    /// The folder under `fixtures/app/` holding this kind's files.
    pub fn folder(self) -> &'static str {
        match self {
            Kind::DocType => "doctypes",
            Kind::CustomField => "custom_fields",
            Kind::PropertySetter => "property_setters",
            Kind::Workflow => "workflows",
            Kind::WorkflowState => "workflow_states",
            Kind::WorkflowActionMaster => "workflow_actions",
            Kind::Role => "roles",
            Kind::Dashboard => "dashboards",
            Kind::DashboardChart => "dashboard_charts",
            Kind::NumberCard => "number_cards",
            Kind::Report => "reports",
            Kind::ServerScript => "server_scripts",
            Kind::ClientScript => "client_scripts",
            Kind::Notification => "notifications",
            Kind::PrintFormat => "print_formats",
        }
    }

    pub fn from_doctype(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.doctype() == s)
    }

    pub fn from_folder(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.folder() == s)
    }

    /// Frappe list filters (`/api/resource/<doctype>?filters=`) choosing the tracked
    /// records of this kind; `[]` for all. Config may narrow DocTypes by module.
    pub fn tracked_filters(self) -> Value {
        match self {
            Kind::DocType => json!([["custom", "=", 1]]),
            Kind::Role => json!([["name", "not in", FRAPPE_STANDARD_ROLES]]),
            Kind::Dashboard | Kind::DashboardChart | Kind::NumberCard => {
                json!([["is_standard", "=", 0]])
            }
            Kind::Report => json!([["is_standard", "=", "No"]]),
            Kind::Notification => json!([["is_standard", "=", 0]]),
            Kind::PrintFormat => json!([["standard", "=", "No"]]),
            Kind::CustomField
            | Kind::PropertySetter
            | Kind::Workflow
            | Kind::WorkflowState
            | Kind::WorkflowActionMaster
            | Kind::ServerScript
            | Kind::ClientScript => json!([]),
        }
    }

    /// How Frappe forms the `name` of a record of this kind.
    pub fn name_rule(self) -> NameRule {
        match self {
            Kind::DocType
            | Kind::ServerScript
            | Kind::ClientScript
            | Kind::Notification
            | Kind::PrintFormat => NameRule::Prompt,
            Kind::CustomField => NameRule::CustomFieldName,
            Kind::PropertySetter => NameRule::PropertySetterName,
            Kind::Workflow => NameRule::Field("workflow_name"),
            Kind::WorkflowState => NameRule::Field("workflow_state_name"),
            Kind::WorkflowActionMaster => NameRule::Field("workflow_action_name"),
            Kind::Role => NameRule::Field("role_name"),
            Kind::Dashboard => NameRule::Field("dashboard_name"),
            Kind::DashboardChart => NameRule::Field("chart_name"),
            Kind::NumberCard => NameRule::LabelWithSuffix,
            Kind::Report => NameRule::Field("report_name"),
        }
    }

    /// The name Frappe would give a record with this body, when the body decides it.
    /// `None` for prompted names (the caller supplies the name) or missing fields.
    pub fn expected_name(self, body: &Value) -> Option<String> {
        let text = |field: &str| {
            body.get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        match self.name_rule() {
            NameRule::Prompt => None,
            NameRule::Field(field) => text(field).map(str::to_owned),
            NameRule::LabelWithSuffix => text("label").map(str::to_owned),
            NameRule::CustomFieldName => Some(format!("{}-{}", text("dt")?, text("fieldname")?)),
            NameRule::PropertySetterName => Some(format!(
                "{}-{}-{}",
                text("doc_type")?,
                text("field_name").or(text("row_name")).unwrap_or("main"),
                text("property")?
            )),
        }
    }

    /// The child tables of this kind, with their natural keys.
    pub fn child_tables(self) -> &'static [ChildTable] {
        match self {
            Kind::DocType => DOCTYPE_TABLES,
            Kind::Workflow => WORKFLOW_TABLES,
            Kind::Dashboard => DASHBOARD_TABLES,
            Kind::DashboardChart => CHART_TABLES,
            Kind::Report => REPORT_TABLES,
            Kind::Notification => NOTIFICATION_TABLES,
            Kind::CustomField
            | Kind::PropertySetter
            | Kind::WorkflowState
            | Kind::WorkflowActionMaster
            | Kind::Role
            | Kind::NumberCard
            | Kind::ServerScript
            | Kind::ClientScript
            | Kind::PrintFormat => &[],
        }
    }

    pub fn child_table(self, field: &str) -> Option<&'static ChildTable> {
        self.child_tables().iter().find(|t| t.field == field)
    }

    /// The references a record of this kind may carry to other blueprints.
    pub fn reference_rules(self) -> &'static [RefRule] {
        match self {
            Kind::DocType => DOCTYPE_REFS,
            Kind::CustomField => CUSTOM_FIELD_REFS,
            Kind::PropertySetter => PROPERTY_SETTER_REFS,
            Kind::Workflow => WORKFLOW_REFS,
            Kind::Dashboard => DASHBOARD_REFS,
            Kind::DashboardChart => CHART_REFS,
            Kind::NumberCard => CARD_REFS,
            Kind::Report => REPORT_REFS,
            Kind::ServerScript => SERVER_SCRIPT_REFS,
            Kind::ClientScript => CLIENT_SCRIPT_REFS,
            Kind::Notification => NOTIFICATION_REFS,
            Kind::PrintFormat => PRINT_FORMAT_REFS,
            Kind::WorkflowState | Kind::WorkflowActionMaster | Kind::Role => &[],
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.doctype())
    }
}

/// A reference found in a blueprint: it names blueprint `(target, name)` through `via`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    pub target: Kind,
    pub name: String,
    /// The field that carries it, e.g. `dt` or `transitions.allowed`.
    pub via: String,
    /// The referring blueprint belongs with the target (a Custom Field with its DocType,
    /// a Dashboard with its Charts, a DocType with its child-table DocTypes) rather than
    /// merely using it (a Link field, a role, a workflow state). Families follow these.
    pub owned: bool,
}

const LINKING_FIELDTYPES: [&str; 3] = ["Link", "Table", "Table MultiSelect"];

/// Every reference `body` (a canonical or raw record of `kind`) carries, sorted,
/// without duplicates. Empty values are not references.
pub fn references(kind: Kind, body: &Value) -> Vec<Reference> {
    let mut found = Vec::new();
    for rule in kind.reference_rules() {
        collect_rule(rule, body, &mut found);
    }
    found.sort();
    found.dedup();
    found
}

fn collect_rule(rule: &RefRule, body: &Value, found: &mut Vec<Reference>) {
    let mut push = |name: &str, via: String, owned: bool| {
        if !name.is_empty() {
            found.push(Reference {
                target: rule.target,
                name: name.to_owned(),
                via,
                owned,
            });
        }
    };
    match rule.site {
        RefSite::Field(field) => {
            if let Some(name) = body.get(field).and_then(Value::as_str) {
                push(name, field.to_owned(), rule.target == Kind::DocType);
            }
        }
        RefSite::RowField { table, field } => {
            let owned = matches!(rule.target, Kind::DashboardChart | Kind::NumberCard);
            for row in table_rows(body, table) {
                if let Some(name) = row.get(field).and_then(Value::as_str) {
                    push(name, format!("{table}.{field}"), owned);
                }
            }
        }
        RefSite::LinkOptions { table } => {
            for row in table_rows(body, table) {
                let fieldtype = row.get("fieldtype").and_then(Value::as_str).unwrap_or("");
                if !LINKING_FIELDTYPES.contains(&fieldtype) {
                    continue;
                }
                if let Some(name) = row.get("options").and_then(Value::as_str) {
                    push(name.trim(), format!("{table}.options"), fieldtype != "Link");
                }
            }
        }
    }
}

/// The rows of a child table, or nothing when the field is absent or not a list.
pub fn table_rows<'a>(body: &'a Value, table: &str) -> impl Iterator<Item = &'a Value> {
    body.get(table)
        .and_then(Value::as_array)
        .map(|rows| rows.as_slice())
        .unwrap_or(&[])
        .iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctype_and_folder_round_trip_for_every_kind() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_doctype(kind.doctype()), Some(kind));
            assert_eq!(Kind::from_folder(kind.folder()), Some(kind));
        }
        assert_eq!(Kind::from_doctype("User"), None);
    }

    #[test]
    fn serde_uses_the_frappe_doctype() {
        assert_eq!(
            serde_json::to_value(Kind::CustomField).unwrap(),
            json!("Custom Field")
        );
        let back: Kind = serde_json::from_value(json!("Workflow Action Master")).unwrap();
        assert_eq!(back, Kind::WorkflowActionMaster);
    }

    #[test]
    fn expected_names_follow_frappe() {
        let cf = json!({"dt": "Grant", "fieldname": "field_officer"});
        assert_eq!(
            Kind::CustomField.expected_name(&cf).as_deref(),
            Some("Grant-field_officer")
        );
        let ps =
            json!({"doc_type": "Grant", "property": "title_field", "doctype_or_field": "DocType"});
        assert_eq!(
            Kind::PropertySetter.expected_name(&ps).as_deref(),
            Some("Grant-main-title_field")
        );
        let wf = json!({"workflow_name": "Beneficiary Approval"});
        assert_eq!(
            Kind::Workflow.expected_name(&wf).as_deref(),
            Some("Beneficiary Approval")
        );
        assert_eq!(Kind::DocType.expected_name(&wf), None);
    }

    #[test]
    fn references_of_a_workflow_and_a_doctype() {
        let wf = json!({
            "document_type": "Beneficiary",
            "states": [{"state": "Draft", "allow_edit": "Field Officer"}],
            "transitions": [{"state": "Draft", "action": "Submit", "next_state": "Submitted", "allowed": "Field Officer"}]
        });
        let refs = references(Kind::Workflow, &wf);
        let names: Vec<_> = refs.iter().map(|r| (r.target, r.name.as_str())).collect();
        assert_eq!(
            names,
            vec![
                (Kind::DocType, "Beneficiary"),
                (Kind::WorkflowState, "Draft"),
                (Kind::WorkflowActionMaster, "Submit"),
                (Kind::Role, "Field Officer"),
                (Kind::Role, "Field Officer"),
            ]
        );
        assert_eq!(refs[3].via, "states.allow_edit");
        assert_eq!(refs[4].via, "transitions.allowed");
        let dt = json!({"fields": [
            {"fieldname": "officer", "fieldtype": "Link", "options": "User"},
            {"fieldname": "gender", "fieldtype": "Select", "options": "M\nF"},
            {"fieldname": "items", "fieldtype": "Table", "options": "Grant Item"}
        ]});
        let refs = references(Kind::DocType, &dt);
        let names: Vec<_> = refs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, vec!["Grant Item", "User"]);
    }
}
