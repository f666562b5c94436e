//! Synthetic data for the blueprint benchmark and the timed `diff --raw` CLI: raw
//! Frappe v15 documents (volatile fields, child row names, `idx`, rows out of order)
//! for N DocTypes, Custom Fields and Property Setters, and a "git" copy with a fixed
//! share changed, added and removed. Deterministic, no randomness source. Not part of
//! the bot: only benches and tests use it.

use std::path::Path;

use anyhow::Context;
use serde_json::{json, Map, Value};

/// How much to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthSpec {
    pub doctypes: usize,
    pub fields_per_doctype: usize,
    pub custom_fields: usize,
    pub property_setters: usize,
}

impl SynthSpec {
    /// The benchmark: 50,000 blueprints.
    pub const BENCH: SynthSpec = SynthSpec {
        doctypes: 2_000,
        fields_per_doctype: 30,
        custom_fields: 20_000,
        property_setters: 28_000,
    };

    /// A small set with the same shape, for tests.
    pub const SMALL: SynthSpec = SynthSpec {
        doctypes: 20,
        fields_per_doctype: 6,
        custom_fields: 200,
        property_setters: 280,
    };

    pub fn total(&self) -> usize {
        self.doctypes + self.custom_fields + self.property_setters
    }
}

/// A tiny deterministic generator (xorshift64*) for the volatile values: timestamps,
/// child names, hashes. With `volatile` off no volatile field is written at all, which
/// gives the canonical shape directly.
struct Noise {
    state: u64,
    volatile: bool,
}

impl Noise {
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A Frappe-style random child name (10 lowercase alphanumerics).
    fn child_name(&mut self) -> String {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut n = self.next();
        (0..10)
            .map(|_| {
                let c = ALPHABET[(n % 36) as usize] as char;
                n /= 36;
                c
            })
            .collect()
    }

    fn timestamp(&mut self) -> String {
        let n = self.next();
        format!(
            "2024-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
            n % 12 + 1,
            (n >> 8) % 28 + 1,
            (n >> 16) % 24,
            (n >> 24) % 60,
            (n >> 32) % 60,
            (n >> 40) % 1_000_000
        )
    }
}

const FIELDTYPES: [&str; 8] = [
    "Data",
    "Int",
    "Link",
    "Select",
    "Date",
    "Check",
    "Currency",
    "Small Text",
];
const CHECKS: [&str; 30] = [
    "allow_bulk_edit",
    "allow_in_quick_entry",
    "allow_on_submit",
    "bold",
    "collapsible",
    "fetch_if_empty",
    "hidden",
    "hide_border",
    "hide_days",
    "hide_seconds",
    "ignore_user_permissions",
    "ignore_xss_filter",
    "in_filter",
    "in_global_search",
    "in_list_view",
    "in_preview",
    "in_standard_filter",
    "is_virtual",
    "make_attachment_public",
    "no_copy",
    "non_negative",
    "print_hide",
    "print_hide_if_no_value",
    "read_only",
    "remember_last_selected_value",
    "report_hide",
    "reqd",
    "search_index",
    "show_dashboard",
    "unique",
];

fn doctype_name(i: usize) -> String {
    format!("Synth Doctype {i:04}")
}

fn fieldname(j: usize) -> String {
    format!("field_{j:02}")
}

/// Frappe's default fields on a parent document.
fn parent_meta(doc: &mut Map<String, Value>, doctype: &str, name: &str, noise: &mut Noise) {
    doc.insert("doctype".into(), json!(doctype));
    doc.insert("name".into(), json!(name));
    if !noise.volatile {
        return;
    }
    doc.insert("owner".into(), json!("Administrator"));
    doc.insert("creation".into(), json!(noise.timestamp()));
    doc.insert("modified".into(), json!(noise.timestamp()));
    doc.insert("modified_by".into(), json!("admin@example.com"));
    doc.insert("docstatus".into(), json!(0));
    doc.insert("idx".into(), json!(0));
}

/// Frappe's default and child-table fields on a child row.
fn child_meta(
    row: &mut Map<String, Value>,
    parent: &str,
    table: &str,
    doctype: &str,
    idx: usize,
    noise: &mut Noise,
) {
    if !noise.volatile {
        return;
    }
    row.insert("name".into(), json!(noise.child_name()));
    row.insert("owner".into(), json!("Administrator"));
    row.insert("creation".into(), json!(noise.timestamp()));
    row.insert("modified".into(), json!(noise.timestamp()));
    row.insert("modified_by".into(), json!("admin@example.com"));
    row.insert("docstatus".into(), json!(0));
    row.insert("idx".into(), json!(idx));
    row.insert("parent".into(), json!(parent));
    row.insert("parentfield".into(), json!(table));
    row.insert("parenttype".into(), json!("DocType"));
    row.insert("doctype".into(), json!(doctype));
}

fn field_props(row: &mut Map<String, Value>, fieldname: &str, seed: usize) {
    let fieldtype = FIELDTYPES[seed % FIELDTYPES.len()];
    for (k, check) in CHECKS.iter().enumerate() {
        row.insert((*check).into(), json!(i64::from((seed + k) % 11 == 0)));
    }
    row.insert("fieldname".into(), json!(fieldname));
    row.insert("label".into(), json!(fieldname.replace('_', " ")));
    row.insert("fieldtype".into(), json!(fieldtype));
    row.insert("permlevel".into(), json!(0));
    row.insert("columns".into(), json!(0));
    row.insert("length".into(), json!(0));
    row.insert("precision".into(), json!(""));
    match fieldtype {
        "Link" => row.insert("options".into(), json!("User")),
        "Select" => row.insert("options".into(), json!("Open\nClosed")),
        _ => None,
    };
}

fn raw_doctype(i: usize, spec: &SynthSpec, noise: &mut Noise) -> Value {
    let name = doctype_name(i);
    let mut doc = Map::new();
    parent_meta(&mut doc, "DocType", &name, noise);
    for (k, v) in [
        ("module", json!("Synth")),
        ("custom", json!(1)),
        ("istable", json!(0)),
        ("issingle", json!(0)),
        ("is_submittable", json!(0)),
        ("autoname", json!("hash")),
        ("naming_rule", json!("Random")),
        ("engine", json!("InnoDB")),
        ("sort_field", json!("modified")),
        ("sort_order", json!("DESC")),
        ("track_changes", json!(1)),
        ("editable_grid", json!(1)),
        ("allow_rename", json!(1)),
        (
            "migration_hash",
            json!(noise.volatile.then(|| format!("{:032x}", noise.next()))),
        ),
        ("_user_tags", Value::Null),
        ("description", Value::Null),
        ("actions", json!([])),
        ("links", json!([])),
        ("states", json!([])),
    ] {
        doc.insert(k.into(), v);
    }
    let mut fields: Vec<Value> = (0..spec.fields_per_doctype)
        .map(|j| {
            let mut row = Map::new();
            child_meta(&mut row, &name, "fields", "DocField", j + 1, noise);
            field_props(&mut row, &fieldname(j), i + j);
            Value::Object(row)
        })
        .collect();
    // Frappe returns rows in idx order, exports from elsewhere may not: mix it up.
    if noise.volatile && i % 7 == 3 {
        fields.reverse();
    }
    doc.insert("fields".into(), Value::Array(fields));
    let permissions = ["System Manager", "Manager", "Field Officer"]
        .iter()
        .enumerate()
        .map(|(j, role)| {
            let mut row = Map::new();
            child_meta(&mut row, &name, "permissions", "DocPerm", j + 1, noise);
            for (k, v) in [
                ("role", json!(role)),
                ("permlevel", json!(0)),
                ("read", json!(1)),
                ("write", json!(i64::from(j < 2))),
                ("create", json!(i64::from(j < 2))),
                ("delete", json!(i64::from(j == 0))),
                ("submit", json!(0)),
                ("cancel", json!(0)),
                ("amend", json!(0)),
                ("report", json!(1)),
                ("export", json!(1)),
                ("import", json!(0)),
                ("share", json!(1)),
                ("print", json!(1)),
                ("email", json!(1)),
                ("if_owner", json!(0)),
                ("select", json!(0)),
            ] {
                row.insert(k.into(), v);
            }
            Value::Object(row)
        })
        .collect();
    doc.insert("permissions".into(), Value::Array(permissions));
    Value::Object(doc)
}

fn raw_custom_field(i: usize, spec: &SynthSpec, noise: &mut Noise) -> Value {
    let dt = doctype_name(i % spec.doctypes.max(1));
    let field = format!("custom_{:05}", i);
    let mut doc = Map::new();
    parent_meta(&mut doc, "Custom Field", &format!("{dt}-{field}"), noise);
    field_props(&mut doc, &field, i);
    doc.insert("dt".into(), json!(dt));
    doc.insert(
        "insert_after".into(),
        json!(fieldname(i % spec.fields_per_doctype.max(1))),
    );
    doc.insert("module".into(), json!("Synth"));
    doc.insert("is_system_generated".into(), json!(0));
    doc.insert("_comments".into(), Value::Null);
    Value::Object(doc)
}

const PROPERTIES: [(&str, &str, &str); 5] = [
    ("reqd", "Check", "1"),
    ("hidden", "Check", "1"),
    ("label", "Data", "Renamed"),
    ("in_list_view", "Check", "0"),
    ("bold", "Check", "1"),
];

fn raw_property_setter(i: usize, spec: &SynthSpec, noise: &mut Noise) -> Value {
    let doctypes = spec.doctypes.max(1);
    let dt = doctype_name(i % doctypes);
    let field = fieldname(i / doctypes);
    let (property, property_type, value) = PROPERTIES[(i / doctypes) % PROPERTIES.len()];
    let mut doc = Map::new();
    parent_meta(
        &mut doc,
        "Property Setter",
        &format!("{dt}-{field}-{property}"),
        noise,
    );
    for (k, v) in [
        ("doctype_or_field", json!("DocField")),
        ("doc_type", json!(dt)),
        ("field_name", json!(field)),
        ("property", json!(property)),
        ("property_type", json!(property_type)),
        ("value", json!(value)),
        ("module", json!("Synth")),
        ("is_system_generated", json!(0)),
        ("row_name", Value::Null),
        ("default_value", Value::Null),
    ] {
        doc.insert(k.into(), v);
    }
    Value::Object(doc)
}

/// Raw Frappe documents for `spec`, as `GET /api/resource/<DT>/<name>` returns them.
pub fn raw_docs(spec: &SynthSpec) -> Vec<Value> {
    raw_doc_iter(*spec).collect()
}

/// The same documents as [`raw_docs`], generated one at a time so a caller can hold a
/// few instead of all.
pub fn raw_doc_iter(spec: SynthSpec) -> impl Iterator<Item = Value> {
    doc_iter(spec, true)
}

/// The same documents already in canonical shape (no volatile fields, rows in order),
/// as they would be read back from git: the generator behind [`git_set`].
pub fn canonical_doc_iter(spec: SynthSpec) -> impl Iterator<Item = Value> {
    doc_iter(spec, false)
}

fn doc_iter(spec: SynthSpec, volatile: bool) -> impl Iterator<Item = Value> {
    let mut noise = Noise {
        state: 0x9E37_79B9_7F4A_7C15,
        volatile,
    };
    (0..spec.total()).map(move |i| {
        if i < spec.doctypes {
            raw_doctype(i, &spec, &mut noise)
        } else if i < spec.doctypes + spec.custom_fields {
            raw_custom_field(i - spec.doctypes, &spec, &mut noise)
        } else {
            raw_property_setter(i - spec.doctypes - spec.custom_fields, &spec, &mut noise)
        }
    })
}

/// How the git copy departs from the site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perturbation {
    pub changed: usize,
    pub added: usize,
    pub removed: usize,
}

/// Applies the benchmark's departure from the site to its documents (in any order):
/// 1% changed, 0.2% dropped (removed from git), and 0.2% new Custom Fields (added in
/// git), handing each git document to `keep`.
pub fn perturb(site: impl IntoIterator<Item = Value>, mut keep: impl FnMut(Value)) -> Perturbation {
    let mut done = Perturbation {
        changed: 0,
        added: 0,
        removed: 0,
    };
    let mut seen = 0;
    for (i, mut doc) in site.into_iter().enumerate() {
        seen += 1;
        if i % 500 == 250 {
            done.removed += 1;
            continue;
        }
        if i % 100 == 7 {
            change(&mut doc);
            done.changed += 1;
        }
        keep(doc);
    }
    for i in 0..seen / 500 {
        keep(
            json!({"doctype": "Custom Field", "name": format!("Only In Git-extra_{i}"), "dt": "Only In Git",
            "fieldname": format!("extra_{i}"), "fieldtype": "Data", "label": "Extra"}),
        );
        done.added += 1;
    }
    done
}

/// The git side for `spec`: its documents in canonical shape (as read back from the
/// config repo), with [`perturb`]'s departures from the site.
pub fn git_docs(spec: SynthSpec) -> (Vec<Value>, Perturbation) {
    let mut git = Vec::with_capacity(spec.total());
    let done = perturb(canonical_doc_iter(spec), |doc| git.push(doc));
    (git, done)
}

/// One visible change: the second DocField's `reqd` of a DocType, else a field value.
fn change(body: &mut Value) {
    if let Some(row) = body.get_mut("fields").and_then(|f| f.get_mut(1)) {
        let flipped = i64::from(row.get("reqd").and_then(Value::as_i64) != Some(1));
        row["reqd"] = json!(flipped);
    } else if body.get("label").is_some() {
        body["label"] = json!("Changed in git");
    } else {
        body["value"] = json!("changed-in-git");
    }
}

/// Writes raw documents as files under `dir`: one file per document, 1,000 per
/// subfolder, so `lockstep diff --raw` can be timed on them.
pub fn write_raw_dir(docs: &[Value], dir: &Path) -> anyhow::Result<()> {
    for (i, doc) in docs.iter().enumerate() {
        let sub = dir.join(format!("batch_{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&sub)
                .with_context(|| format!("while creating {}", sub.display()))?;
        }
        let path = sub.join(format!("doc_{i:06}.json"));
        let bytes = serde_json::to_vec(doc).context("while encoding a synthetic document")?;
        std::fs::write(&path, bytes)
            .with_context(|| format!("while writing {}", path.display()))?;
    }
    Ok(())
}

/// The doctypes the generator produces, for callers that check coverage.
pub const DOCTYPES: [&str; 3] = ["DocType", "Custom Field", "Property Setter"];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn names(docs: &[Value]) -> BTreeSet<String> {
        docs.iter()
            .map(|doc| format!("{}/{}", doc["doctype"], doc["name"]))
            .collect()
    }

    #[test]
    fn small_set_has_the_promised_shape_and_drift() {
        let spec = SynthSpec::SMALL;
        let docs = raw_docs(&spec);
        assert_eq!(docs.len(), spec.total());
        assert!(docs[0]["fields"][0].get("parent").is_some());
        assert_eq!(names(&docs).len(), spec.total(), "names are unique");
        let canonical: Vec<Value> = canonical_doc_iter(spec).collect();
        assert_eq!(
            names(&canonical),
            names(&docs),
            "both generators name the same documents"
        );
        assert!(
            canonical[0]["fields"][0].get("parent").is_none(),
            "no volatile fields"
        );
        let (git, done) = git_docs(spec);
        assert_eq!(
            done,
            Perturbation {
                changed: 5,
                added: 1,
                removed: 1
            }
        );
        assert_eq!(git.len(), spec.total() - done.removed + done.added);
    }
}
