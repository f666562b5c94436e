//! Drift between two blueprint sets — a site and a git ref: what is only on the site,
//! only in git, and what differs, explained field by field with child rows matched by
//! their natural keys. Pure and linear: both sets are walked once in `(kind, name)`
//! order and bodies are compared as values; explanations are built for changed
//! blueprints only. Rendering lives in `render`.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::canonical::{Blueprint, BlueprintId, BlueprintSet};
use super::kinds::{ChildTable, Kind};

/// What differs between a site and git. Every list is sorted by `(kind, name)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub only_on_site: Vec<BlueprintId>,
    pub only_in_git: Vec<BlueprintId>,
    pub changed: Vec<Change>,
}

/// A blueprint on both sides whose bodies differ, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub kind: Kind,
    pub name: String,
    pub details: Vec<Detail>,
}

/// One difference inside a blueprint. `None` means absent on that side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Detail {
    /// A top-level field differs.
    Field {
        field: String,
        site: Option<Value>,
        git: Option<Value>,
    },
    /// A child row, matched by its natural key, differs or exists on one side only.
    Row {
        table: String,
        /// The natural key as shown to people, e.g. `age` or `Draft / Submit`.
        key: String,
        site: Option<Value>,
        git: Option<Value>,
        /// The row fields whose values differ (all fields of a one-sided row).
        fields: Vec<String>,
    },
    /// The rows present on both sides are in a different order.
    Reordered {
        table: String,
        site: Vec<String>,
        git: Vec<String>,
    },
}

impl Drift {
    /// The number of differing blueprints.
    pub fn len(&self) -> usize {
        self.only_on_site.len() + self.only_in_git.len() + self.changed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every blueprint that differs in any way, sorted.
    pub fn ids(&self) -> Vec<BlueprintId> {
        let mut ids: Vec<BlueprintId> = self
            .only_on_site
            .iter()
            .chain(&self.only_in_git)
            .cloned()
            .chain(self.changed.iter().map(|c| (c.kind, c.name.clone())))
            .collect();
        ids.sort();
        ids
    }
}

/// Compares a site's blueprints with git's.
pub fn diff(site: &BlueprintSet, git: &BlueprintSet) -> Drift {
    let mut drift = Drift::default();
    let mut site_iter = site.iter().peekable();
    let mut git_iter = git.iter().peekable();
    loop {
        let order = match (site_iter.peek(), git_iter.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(s), Some(g)) => (s.kind, s.name.as_str()).cmp(&(g.kind, g.name.as_str())),
        };
        match order {
            Ordering::Less => drift.only_on_site.push(next_id(&mut site_iter)),
            Ordering::Greater => drift.only_in_git.push(next_id(&mut git_iter)),
            Ordering::Equal => {
                let (s, g) = (
                    site_iter.next().expect("peeked"),
                    git_iter.next().expect("peeked"),
                );
                if s.body != g.body {
                    drift.changed.push(Change {
                        kind: s.kind,
                        name: s.name.clone(),
                        details: explain(s.kind, &s.body, &g.body),
                    });
                }
            }
        }
    }
    drift
}

fn next_id<'a>(iter: &mut impl Iterator<Item = &'a Blueprint>) -> BlueprintId {
    iter.next().expect("peeked").id()
}

/// Field-level explanation of how two bodies of one kind differ.
pub fn explain(kind: Kind, site: &Value, git: &Value) -> Vec<Detail> {
    let empty = Map::new();
    let site = site.as_object().unwrap_or(&empty);
    let git = git.as_object().unwrap_or(&empty);
    let mut details = Vec::new();
    for (field, s, g) in union(site, git) {
        let before = details.len();
        if let (Some(s_rows), Some(g_rows)) = (rows_or_empty(s), rows_or_empty(g)) {
            if is_table(kind, field, s_rows, g_rows) {
                explain_rows(kind.child_table(field), field, s_rows, g_rows, &mut details);
            }
        }
        // Not a table, or a table that differs only as absent vs `[]`.
        if details.len() == before {
            details.push(Detail::Field {
                field: field.to_owned(),
                site: s.cloned(),
                git: g.cloned(),
            });
        }
    }
    details
}

/// A child table's rows; an absent table has none.
fn rows_or_empty(value: Option<&Value>) -> Option<&[Value]> {
    match value {
        Some(Value::Array(rows)) => Some(rows),
        None => Some(&[]),
        Some(_) => None,
    }
}

/// Keys of both maps in order, with each side's value, for keys whose values differ.
fn union<'a>(
    site: &'a Map<String, Value>,
    git: &'a Map<String, Value>,
) -> impl Iterator<Item = (&'a str, Option<&'a Value>, Option<&'a Value>)> {
    let mut keys: Vec<&str> = site.keys().chain(git.keys()).map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter().filter_map(|k| {
        let (s, g) = (site.get(k), git.get(k));
        (s != g).then_some((k, s, g))
    })
}

fn is_table(kind: Kind, field: &str, site: &[Value], git: &[Value]) -> bool {
    kind.child_table(field).is_some() || site.iter().chain(git).all(Value::is_object)
}

fn explain_rows(
    table: Option<&ChildTable>,
    field: &str,
    site: &[Value],
    git: &[Value],
    out: &mut Vec<Detail>,
) {
    let site_keys = row_keys(table, site);
    let git_keys = row_keys(table, git);
    let git_at: HashMap<&str, usize> = git_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let site_at: HashMap<&str, usize> = site_keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    for (key, row) in site_keys.iter().zip(site) {
        let other = git_at.get(key.as_str()).map(|&i| &git[i]);
        if other != Some(row) {
            out.push(row_detail(field, key, Some(row), other));
        }
    }
    for (key, row) in git_keys.iter().zip(git) {
        if !site_at.contains_key(key.as_str()) {
            out.push(row_detail(field, key, None, Some(row)));
        }
    }
    let common_site: Vec<String> = site_keys
        .iter()
        .filter(|k| git_at.contains_key(k.as_str()))
        .cloned()
        .collect();
    let common_git: Vec<String> = git_keys
        .iter()
        .filter(|k| site_at.contains_key(k.as_str()))
        .cloned()
        .collect();
    if common_site != common_git {
        out.push(Detail::Reordered {
            table: field.to_owned(),
            site: common_site,
            git: common_git,
        });
    }
}

fn row_detail(table: &str, key: &str, site: Option<&Value>, git: Option<&Value>) -> Detail {
    let empty = Map::new();
    let s = site.and_then(Value::as_object).unwrap_or(&empty);
    let g = git.and_then(Value::as_object).unwrap_or(&empty);
    let fields = union(s, g).map(|(f, _, _)| f.to_owned()).collect();
    Detail::Row {
        table: table.to_owned(),
        key: key.to_owned(),
        site: site.cloned(),
        git: git.cloned(),
        fields,
    }
}

/// The natural key of each row, made unique: a repeated key gets ` #2`, ` #3`… in
/// order of appearance. Tables without a known key are keyed by position.
fn row_keys(table: Option<&ChildTable>, rows: &[Value]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let key = match table {
                Some(t) => natural_key(t, row),
                None => format!("#{}", i + 1),
            };
            let count = seen.entry(key.clone()).or_insert(0);
            *count += 1;
            if *count > 1 {
                format!("{key} #{count}")
            } else {
                key
            }
        })
        .collect()
}

/// The natural key of a row as people read it: key values joined by ` / `.
pub fn natural_key(table: &ChildTable, row: &Value) -> String {
    table
        .key
        .iter()
        .map(|field| match row.get(*field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonical::canonicalize;
    use proptest::prelude::*;
    use serde_json::json;

    fn set(docs: &[Value]) -> BlueprintSet {
        docs.iter().map(|d| canonicalize(d).unwrap()).collect()
    }

    fn beneficiary(age: Value) -> Value {
        json!({"doctype": "DocType", "name": "Beneficiary", "module": "Programs", "fields": [
            {"fieldname": "full_name", "fieldtype": "Data", "reqd": 1},
            age
        ]})
    }

    #[test]
    fn sorts_sides_and_explains_rows_by_key() {
        let site = set(&[
            beneficiary(json!({"fieldname": "age", "fieldtype": "Int"})),
            json!({"doctype": "DocType", "name": "Quick Test"}),
        ]);
        let git = set(&[beneficiary(
            json!({"fieldname": "age", "fieldtype": "Int", "non_negative": 1}),
        )]);
        let drift = diff(&site, &git);
        assert_eq!(
            drift.only_on_site,
            vec![(Kind::DocType, "Quick Test".to_string())]
        );
        assert!(drift.only_in_git.is_empty());
        assert_eq!(drift.changed.len(), 1);
        assert_eq!(
            drift.changed[0].details,
            vec![Detail::Row {
                table: "fields".into(),
                key: "age".into(),
                site: Some(json!({"fieldname": "age", "fieldtype": "Int"})),
                git: Some(json!({"fieldname": "age", "fieldtype": "Int", "non_negative": 1})),
                fields: vec!["non_negative".into()],
            }]
        );
        assert_eq!(drift.len(), 2);
    }

    #[test]
    fn reorder_and_one_sided_rows() {
        let a = json!({"doctype": "Workflow", "name": "W", "transitions": [
            {"state": "Draft", "action": "Submit", "next_state": "Submitted", "allowed": "Field Officer"},
            {"state": "Submitted", "action": "Approve", "next_state": "Approved", "allowed": "Manager"}
        ]});
        let b = json!({"doctype": "Workflow", "name": "W", "is_active": 1, "transitions": [
            {"state": "Submitted", "action": "Approve", "next_state": "Approved", "allowed": "Manager"},
            {"state": "Draft", "action": "Submit", "next_state": "Submitted", "allowed": "Field Officer"},
            {"state": "Submitted", "action": "Reject", "next_state": "Rejected", "allowed": "Manager"}
        ]});
        let drift = diff(&set(&[a]), &set(&[b]));
        let details = &drift.changed[0].details;
        assert_eq!(details.len(), 3, "{details:#?}");
        assert!(
            matches!(&details[0], Detail::Field { field, site: None, git: Some(_) } if field == "is_active")
        );
        assert!(
            matches!(&details[1], Detail::Row { key, site: None, .. } if key == "Submitted / Reject")
        );
        assert!(matches!(&details[2], Detail::Reordered { table, .. } if table == "transitions"));
    }

    #[test]
    fn duplicate_keys_stay_distinct() {
        let rows = vec![
            json!({"role": "A", "permlevel": 0}),
            json!({"role": "A", "permlevel": 0}),
        ];
        let table = Kind::DocType.child_table("permissions");
        assert_eq!(row_keys(table, &rows), vec!["A / 0", "A / 0 #2"]);
    }

    fn arb_set() -> impl Strategy<Value = BlueprintSet> {
        let doc = (0usize..3, "[a-c]{1,2}", 0i64..3).prop_map(|(k, name, v)| {
            let doctype = ["DocType", "Role", "Workflow"][k];
            json!({"doctype": doctype, "name": name, "fields": [{"fieldname": "f", "v": v}], "x": v})
        });
        prop::collection::vec(doc, 0..12).prop_map(|docs| set(&docs))
    }

    proptest! {
        #[test]
        fn diff_with_itself_is_empty(a in arb_set()) {
            prop_assert!(diff(&a, &a).is_empty());
        }

        #[test]
        fn swapping_sides_swaps_the_one_sided_lists(a in arb_set(), b in arb_set()) {
            let ab = diff(&a, &b);
            let ba = diff(&b, &a);
            prop_assert_eq!(&ab.only_on_site, &ba.only_in_git);
            prop_assert_eq!(&ab.only_in_git, &ba.only_on_site);
            let names = |d: &Drift| d.changed.iter().map(|c| (c.kind, c.name.clone())).collect::<Vec<_>>();
            prop_assert_eq!(names(&ab), names(&ba));
            for c in &ab.changed {
                prop_assert!(!c.details.is_empty());
            }
        }
    }
}
