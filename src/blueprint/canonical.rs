//! Canonical form of a blueprint (PRODUCT.md §2, reference/frappe.md §3): what is kept
//! of a Frappe document so that exporting the same site twice gives the same bytes,
//! and the `Blueprint` / `BlueprintSet` types built from it. Pure: this module never
//! reads files (that is `files`) and never decides paths (that is `layout`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::kinds::Kind;

/// Frappe `default_fields` other than `doctype` and `name` (the identity we keep).
const PARENT_VOLATILE: [&str; 6] = [
    "owner",
    "creation",
    "modified",
    "modified_by",
    "idx",
    "docstatus",
];
/// Frappe `default_fields` + `child_table_fields`: none of them belong in a child row.
const CHILD_VOLATILE: [&str; 11] = [
    "doctype",
    "name",
    "owner",
    "creation",
    "modified",
    "modified_by",
    "idx",
    "docstatus",
    "parent",
    "parentfield",
    "parenttype",
];
/// Stripped at every depth: Frappe `optional_fields` and sync bookkeeping. Keys
/// starting with `__` (`__onload`, `__unsaved`, `__islocal`, `__last_sync_on`) are
/// Frappe's in-memory flags and go too.
const ANY_DEPTH_VOLATILE: [&str; 7] = [
    "_user_tags",
    "_comments",
    "_assign",
    "_liked_by",
    "_seen",
    "migration_hash",
    "last_synced_on",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlueprintError {
    #[error("a blueprint must be a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("the document has no \"doctype\" string; pass the \"data\" object of GET /api/resource/<doctype>/<name>")]
    MissingDoctype,
    #[error("doctype {0:?} is not tracked (tracked: DocType, Custom Field, Property Setter, Workflow, …)")]
    UntrackedDoctype(String),
    #[error("the {0} document has no \"name\" string (or it is empty)")]
    MissingName(String),
}

/// One configuration record: `(kind, name)` and its canonical body, which holds
/// `doctype` and `name` at the top level. Build it with [`canonicalize`] so the body is
/// canonical; the fields are public for reading and pattern matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blueprint {
    pub kind: Kind,
    pub name: String,
    pub body: Value,
}

/// The key of a blueprint in a set: kind first, then name.
pub type BlueprintId = (Kind, String);

impl Blueprint {
    pub fn id(&self) -> BlueprintId {
        (self.kind, self.name.clone())
    }

    /// The file contents the bot writes to git: sorted keys, two-space indent,
    /// UTF-8 as is, trailing newline.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        canonical_bytes(&self.body)
    }
}

/// Serialises a canonical value the one way files are written.
pub fn canonical_bytes(value: &Value) -> Vec<u8> {
    // serde_json's Map is a BTreeMap in this crate (no `preserve_order`), so keys come
    // out sorted; a test below fails if a dependency ever switches that feature on.
    let mut out = Vec::with_capacity(256);
    serde_json::to_writer_pretty(&mut out, value).expect("writing JSON to a Vec cannot fail");
    out.push(b'\n');
    out
}

/// Canonicalises a raw Frappe document (the `data` object of
/// `GET /api/resource/<DT>/<name>`). A canonical body maps to itself.
pub fn canonicalize(raw: &Value) -> Result<Blueprint, BlueprintError> {
    canonicalize_owned(raw.clone())
}

/// As [`canonicalize`], consuming the document so nothing is copied.
pub fn canonicalize_owned(raw: Value) -> Result<Blueprint, BlueprintError> {
    let Value::Object(mut top) = raw else {
        return Err(BlueprintError::NotAnObject(json_type(&raw)));
    };
    let kind = match top.get("doctype") {
        Some(Value::String(doctype)) => Kind::from_doctype(doctype)
            .ok_or_else(|| BlueprintError::UntrackedDoctype(doctype.clone()))?,
        _ => return Err(BlueprintError::MissingDoctype),
    };
    let name = match top.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        _ => return Err(BlueprintError::MissingName(kind.doctype().to_owned())),
    };
    for key in PARENT_VOLATILE {
        top.remove(key);
    }
    normalize_object(&mut top);
    Ok(Blueprint {
        kind,
        name,
        body: Value::Object(top),
    })
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Strips what goes at every depth and normalises the values left.
fn normalize_object(map: &mut Map<String, Value>) {
    map.retain(|key, value| {
        if value.is_null() || key.starts_with("__") || ANY_DEPTH_VOLATILE.contains(&key.as_str()) {
            return false;
        }
        normalize_value(value);
        true
    });
}

fn normalize_value(value: &mut Value) {
    match value {
        Value::Array(items) => normalize_array(items),
        Value::Object(map) => normalize_object(map),
        Value::Number(n) => {
            if let Some(int) = integral_float(n) {
                *value = Value::from(int);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

/// `1.0` and `1` are the same value to Frappe (Float fields come back as `1.0` from
/// MariaDB, as `1` from a JSON file); keep one spelling so they compare equal.
fn integral_float(n: &serde_json::Number) -> Option<i64> {
    let float = n.as_f64().filter(|_| n.is_f64())?;
    let in_range = float.fract() == 0.0 && float.abs() < 9.0e15;
    in_range.then_some(float as i64)
}

/// An array of objects is a child table: rows are ordered by `idx` (stable, rows
/// without one keep their place after those with one) and lose every default field.
/// Any other array is kept in order with its items normalised.
fn normalize_array(items: &mut [Value]) {
    let is_table = !items.is_empty() && items.iter().all(Value::is_object);
    if !is_table {
        items.iter_mut().for_each(normalize_value);
        return;
    }
    if items.iter().any(|row| row.get("idx").is_some()) {
        items.sort_by_key(row_idx);
    }
    for row in items.iter_mut() {
        if let Value::Object(map) = row {
            for key in CHILD_VOLATILE {
                map.remove(key);
            }
            normalize_object(map);
        }
    }
}

fn row_idx(row: &Value) -> (bool, i64) {
    match row
        .get("idx")
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    {
        Some(idx) => (false, idx),
        None => (true, 0),
    }
}

/// Blueprints ordered by `(kind, name)`; at most one per key. Nested by kind so a
/// lookup by `(Kind, &str)` needs no allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlueprintSet {
    by_kind: BTreeMap<Kind, BTreeMap<String, Blueprint>>,
    len: usize,
}

type KindMap = BTreeMap<String, Blueprint>;

impl BlueprintSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a blueprint, returning the one it replaces.
    pub fn insert(&mut self, blueprint: Blueprint) -> Option<Blueprint> {
        let names = self.by_kind.entry(blueprint.kind).or_default();
        let replaced = names.insert(blueprint.name.clone(), blueprint);
        if replaced.is_none() {
            self.len += 1;
        }
        replaced
    }

    pub fn get(&self, kind: Kind, name: &str) -> Option<&Blueprint> {
        self.by_kind.get(&kind)?.get(name)
    }

    pub fn remove(&mut self, kind: Kind, name: &str) -> Option<Blueprint> {
        let names = self.by_kind.get_mut(&kind)?;
        let removed = names.remove(name)?;
        if names.is_empty() {
            self.by_kind.remove(&kind);
        }
        self.len -= 1;
        Some(removed)
    }

    pub fn contains(&self, kind: Kind, name: &str) -> bool {
        self.get(kind, name).is_some()
    }

    /// Blueprints in `(kind, name)` order.
    pub fn iter(&self) -> impl Iterator<Item = &Blueprint> + Clone {
        self.by_kind.values().flat_map(KindMap::values)
    }

    /// Blueprints of one kind, in name order.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Blueprint> {
        self.by_kind
            .get(&kind)
            .into_iter()
            .flat_map(KindMap::values)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl FromIterator<Blueprint> for BlueprintSet {
    fn from_iter<I: IntoIterator<Item = Blueprint>>(iter: I) -> Self {
        let mut set = BlueprintSet::new();
        set.extend(iter);
        set
    }
}

impl Extend<Blueprint> for BlueprintSet {
    fn extend<I: IntoIterator<Item = Blueprint>>(&mut self, iter: I) {
        for blueprint in iter {
            self.insert(blueprint);
        }
    }
}

impl IntoIterator for BlueprintSet {
    type Item = Blueprint;
    type IntoIter = Box<dyn Iterator<Item = Blueprint>>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.by_kind.into_values().flat_map(KindMap::into_values))
    }
}

impl<'a> IntoIterator for &'a BlueprintSet {
    type Item = &'a Blueprint;
    type IntoIter = Box<dyn Iterator<Item = &'a Blueprint> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn raw_doctype() -> Value {
        json!({
            "name": "Beneficiary", "owner": "Administrator", "creation": "2024-05-03 13:00:00.123456",
            "modified": "2024-05-04 09:00:00.5", "modified_by": "a@example.com", "docstatus": 0,
            "idx": 0, "doctype": "DocType", "module": "Programs", "custom": 1, "migration_hash": "abc",
            "_user_tags": null, "_liked_by": "[]", "__onload": {"x": 1}, "description": null,
            "fields": [
                {"name": "r2", "owner": "Administrator", "creation": "x", "modified": "y",
                 "modified_by": "z", "docstatus": 0, "idx": 2, "parent": "Beneficiary",
                 "parentfield": "fields", "parenttype": "DocType", "doctype": "DocField",
                 "fieldname": "age", "fieldtype": "Int", "non_negative": 1, "precision": null},
                {"name": "r1", "idx": 1, "parent": "Beneficiary", "parentfield": "fields",
                 "parenttype": "DocType", "doctype": "DocField", "fieldname": "full_name",
                 "fieldtype": "Data", "reqd": 1, "__unsaved": 1}
            ]
        })
    }

    #[test]
    fn strips_volatile_fields_and_orders_rows() {
        let bp = canonicalize(&raw_doctype()).unwrap();
        assert_eq!(bp.kind, Kind::DocType);
        assert_eq!(bp.name, "Beneficiary");
        assert_eq!(
            bp.body,
            json!({
                "custom": 1, "doctype": "DocType", "module": "Programs", "name": "Beneficiary",
                "fields": [
                    {"fieldname": "full_name", "fieldtype": "Data", "reqd": 1},
                    {"fieldname": "age", "fieldtype": "Int", "non_negative": 1}
                ]
            })
        );
    }

    #[test]
    fn canonical_bytes_are_sorted_pretty_and_end_with_newline() {
        let bp = canonicalize(
            &json!({"name": "Zoë", "doctype": "Role", "role_name": "Zoë", "desk_access": 1}),
        )
        .unwrap();
        let text = String::from_utf8(bp.to_canonical_bytes()).unwrap();
        assert_eq!(
            text,
            "{\n  \"desk_access\": 1,\n  \"doctype\": \"Role\",\n  \"name\": \"Zoë\",\n  \"role_name\": \"Zoë\"\n}\n"
        );
    }

    #[test]
    fn integral_floats_and_integers_are_one_value() {
        let a = canonicalize(&json!({"name": "C", "doctype": "Number Card", "x": 1.0, "y": 2.5}))
            .unwrap();
        let b = canonicalize(&json!({"name": "C", "doctype": "Number Card", "x": 1, "y": 2.5}))
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            canonicalize(&json!([])),
            Err(BlueprintError::NotAnObject("an array"))
        );
        assert_eq!(
            canonicalize(&json!({"name": "x"})),
            Err(BlueprintError::MissingDoctype)
        );
        assert_eq!(
            canonicalize(&json!({"name": "x", "doctype": "User"})),
            Err(BlueprintError::UntrackedDoctype("User".into()))
        );
        assert_eq!(
            canonicalize(&json!({"name": "", "doctype": "Role"})),
            Err(BlueprintError::MissingName("Role".into()))
        );
    }

    #[test]
    fn set_is_ordered_by_kind_then_name() {
        let set: BlueprintSet = [
            json!({"doctype": "Role", "name": "b"}),
            json!({"doctype": "DocType", "name": "z"}),
            json!({"doctype": "Role", "name": "a"}),
        ]
        .iter()
        .map(|v| canonicalize(v).unwrap())
        .collect();
        let ids: Vec<_> = set.iter().map(|b| (b.kind, b.name.as_str())).collect();
        assert_eq!(
            ids,
            vec![(Kind::DocType, "z"), (Kind::Role, "a"), (Kind::Role, "b")]
        );
        assert_eq!(set.of_kind(Kind::Role).count(), 2);
        assert!(set.contains(Kind::Role, "a"));
    }

    /// Arbitrary JSON shaped like Frappe documents: nested objects, child tables with
    /// idx and volatile keys, nulls, floats.
    pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1.0e6f64..1.0e6).prop_map(Value::from),
            Just(Value::from(3.0)),
            "[a-zé _]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            let key = prop_oneof![
                Just("idx".to_string()),
                Just("name".to_string()),
                Just("modified".to_string()),
                Just("_seen".to_string()),
                Just("__onload".to_string()),
                "[a-z]{1,6}",
            ];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key, inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn canonicalisation_is_idempotent(extra in prop::collection::btree_map("[a-z_]{1,8}", arb_json(), 0..6)) {
            let mut doc: Map<String, Value> = extra.into_iter().collect();
            doc.insert("doctype".into(), json!("Workflow"));
            doc.insert("name".into(), json!("W"));
            let once = canonicalize(&Value::Object(doc)).unwrap();
            let twice = canonicalize(&once.body).unwrap();
            prop_assert_eq!(&once, &twice);
            prop_assert_eq!(once.to_canonical_bytes(), twice.to_canonical_bytes());
            let reparsed: Value = serde_json::from_slice(&once.to_canonical_bytes()).unwrap();
            prop_assert_eq!(canonicalize(&reparsed).unwrap(), once);
        }
    }
}
