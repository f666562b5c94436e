//! Rules over a blueprint's JSON (not its code): guest API scripts, DocTypes without
//! permission rows, magic numbers in field defaults, ambiguous workflow transitions,
//! fields that carry code, secrets or files, and naming and labelling style.

use serde_json::Value;

use crate::blueprint::kinds::table_rows;
use crate::blueprint::{Kind, Severity};

use super::locate::Step;
use super::Out;

/// Field types that hold code, secrets or files: worth a second look.
const SENSITIVE_FIELDTYPES: [&str; 3] = ["Code", "Password", "Attach"];

/// Layout-only field types (and HTML blocks): no label of their own needed.
const LAYOUT_FIELDTYPES: [&str; 5] = ["Section Break", "Column Break", "Tab Break", "Fold", "HTML"];

pub(super) fn check(out: &mut Out<'_>) {
    match out.bp.kind {
        Kind::ServerScript => guest_api(out),
        Kind::DocType => {
            permissions(out);
            doctype_name(out);
            let count = table_rows(&out.bp.body, "fields").count();
            for i in 0..count {
                field(out, &[Step::Key("fields"), Step::Index(i)]);
            }
        }
        Kind::CustomField => field(out, &[]),
        Kind::PropertySetter => property_setter_default(out),
        Kind::Workflow => ambiguous_transitions(out),
        _ => {}
    }
}

fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => matches!(s.trim(), "1" | "true" | "True" | "Yes"),
        _ => false,
    }
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

fn guest_api(out: &mut Out<'_>) {
    let body = &out.bp.body;
    if text(body, "script_type") == Some("API") && truthy(body.get("allow_guest")) {
        let method = text(body, "api_method").unwrap_or("?").to_owned();
        out.push_at(
            &[Step::Key("allow_guest")],
            "allow-guest-api",
            Severity::Critical,
            format!("API method {method} allows guests: anyone on the internet can call it"),
            None,
        );
    }
}

fn permissions(out: &mut Out<'_>) {
    let body = &out.bp.body;
    if truthy(body.get("istable")) || table_rows(body, "permissions").next().is_some() {
        return;
    }
    out.push_at(
        &[Step::Key("permissions")],
        "doctype-without-permissions",
        Severity::High,
        "DocType has no permission rows: only Administrator can use it, or a later fix grants too much".to_owned(),
        None,
    );
}

/// A field row (DocType `fields[i]`) or a Custom Field (the body itself).
fn field(out: &mut Out<'_>, at: &[Step<'static>]) {
    let row = super::value_at(&out.bp.body, at)
        .cloned()
        .unwrap_or(Value::Null);
    let fieldname = text(&row, "fieldname").unwrap_or("?").to_owned();
    let fieldtype = text(&row, "fieldtype").unwrap_or("").to_owned();
    let with = |key: &'static str| [at, &[Step::Key(key)]].concat();
    if let Some(number) = magic_number(row.get("default")) {
        if fieldtype != "Check" {
            out.push_at(
                &with("default"),
                "magic-number-default",
                Severity::Medium,
                // A Custom Field's file is the field; a DocType's rows need naming.
                if at.is_empty() {
                    format!("magic number {number} in default")
                } else {
                    format!("magic number {number} in default of {fieldname}")
                },
                None,
            );
        }
    }
    if SENSITIVE_FIELDTYPES.contains(&fieldtype.as_str()) {
        out.push_at(
            &with("fieldtype"),
            "sensitive-fieldtype",
            Severity::Medium,
            format!("{fieldtype} field {fieldname}: check who can read and write it"),
            None,
        );
    }
    if fieldtype == "Password" && row.get("default").is_some_and(|d| d.as_str() != Some("")) {
        out.push_at(
            &with("default"),
            "hardcoded-secret",
            Severity::Critical,
            format!("Password field {fieldname} has a default value (not shown): every new record starts with a known secret"),
            None,
        );
    }
    naming(out, &row, at, &fieldname, &fieldtype);
}

fn naming(out: &mut Out<'_>, row: &Value, at: &[Step<'static>], fieldname: &str, fieldtype: &str) {
    let with = |key: &'static str| [at, &[Step::Key(key)]].concat();
    let snake = fieldname
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase())
        && fieldname
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if fieldname != "?" && !snake {
        out.push_at(
            &with("fieldname"),
            "fieldname-style",
            Severity::Low,
            format!("fieldname {fieldname:?} is not snake_case (a-z, 0-9, _)"),
            None,
        );
    }
    if LAYOUT_FIELDTYPES.contains(&fieldtype) {
        return;
    }
    match text(row, "label") {
        None | Some("") => out.push_at(
            &with("fieldname"),
            "label-missing",
            Severity::Low,
            format!("field {fieldname} has no label"),
            None,
        ),
        Some(label) => {
            let untidy = label != label.trim() || label.contains("  ");
            let lower = label.chars().next().is_some_and(char::is_lowercase);
            if untidy || lower {
                out.push_at(
                    &with("label"),
                    "label-style",
                    Severity::Low,
                    format!(
                        "label {label:?} of {fieldname}: start with a capital, no stray spaces"
                    ),
                    None,
                );
            }
        }
    }
}

fn doctype_name(out: &mut Out<'_>) {
    let name = out.bp.name.clone();
    let title_case = name.split(' ').all(|word| {
        word.chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
    });
    if !title_case || name.contains('_') {
        out.push_at(
            &[Step::Key("name")],
            "doctype-name-style",
            Severity::Low,
            format!("DocType name {name:?}: use Title Case words separated by single spaces"),
            None,
        );
    }
}

/// A default that is a number other than 0, 1 or -1 (which mean off/on/none).
fn magic_number(default: Option<&Value>) -> Option<String> {
    let (shown, value) = match default? {
        Value::Number(n) => (n.to_string(), n.as_f64()?),
        Value::String(s) => (s.trim().to_owned(), s.trim().parse::<f64>().ok()?),
        _ => return None,
    };
    (value.is_finite() && value.abs() > 1.0).then_some(shown)
}

fn property_setter_default(out: &mut Out<'_>) {
    let body = &out.bp.body;
    if text(body, "property") != Some("default") {
        return;
    }
    if let Some(number) = magic_number(body.get("value")) {
        let field = text(body, "field_name").unwrap_or("?").to_owned();
        out.push_at(
            &[Step::Key("value")],
            "magic-number-default",
            Severity::Medium,
            format!("magic number {number} in default of {field}"),
            None,
        );
    }
}

/// Two transitions from one state with one action and no condition to tell them
/// apart: Frappe takes whichever comes first, so the other never runs.
fn ambiguous_transitions(out: &mut Out<'_>) {
    let rows: Vec<Value> = table_rows(&out.bp.body, "transitions").cloned().collect();
    let key = |r: &Value| {
        (
            text(r, "state").map(str::to_owned),
            text(r, "action").map(str::to_owned),
        )
    };
    for (i, row) in rows.iter().enumerate() {
        let has_condition = text(row, "condition").is_some_and(|c| !c.trim().is_empty());
        let shared = rows
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && key(other) == key(row));
        if shared && !has_condition {
            let (state, action) = key(row);
            out.push_at(
                &[Step::Key("transitions"), Step::Index(i)],
                "transition-ambiguous",
                Severity::Medium,
                format!(
                    "transition {} --{}--> shares its state and action with another and has no condition",
                    state.unwrap_or_default(),
                    action.unwrap_or_default()
                ),
                None,
            );
        }
    }
}
