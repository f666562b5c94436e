//! Drift between two blueprint sets — a site and a git ref: what is only on the site,
//! only in git, and what differs, explained field by field with child rows matched by
//! their natural keys. Pure and linear: both sets are walked once in `(kind, name)`
//! order and bodies are compared as values; explanations are built for changed
//! blueprints only. Rendering lives in `render`.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::canonical::{digest, Blueprint, BlueprintId, BlueprintSet, Digest};
use super::compact::{parse_body, CompactSet};
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

/// Compares a site's blueprints with git's. Bodies are compared by digest; only
/// changed ones are walked, to explain them.
pub fn diff(site: &BlueprintSet, git: &BlueprintSet) -> Drift {
    let mut drift = Drift::default();
    let mut site_iter = site.iter_digests().peekable();
    let mut git_iter = git.iter_digests().peekable();
    loop {
        let order = match (site_iter.peek(), git_iter.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((s, _)), Some((g, _))) => {
                (s.kind, s.name.as_str()).cmp(&(g.kind, g.name.as_str()))
            }
        };
        match order {
            Ordering::Less => drift.only_on_site.push(next_id(&mut site_iter)),
            Ordering::Greater => drift.only_in_git.push(next_id(&mut git_iter)),
            Ordering::Equal => {
                let (s, s_digest) = site_iter.next().expect("peeked");
                let (g, g_digest) = git_iter.next().expect("peeked");
                if s_digest != g_digest {
                    drift.changed.push(change(s, g));
                }
            }
        }
    }
    drift
}

fn next_id<'a>(iter: &mut impl Iterator<Item = (&'a Blueprint, Digest)>) -> BlueprintId {
    iter.next().expect("peeked").0.id()
}

fn change(site: &Blueprint, git: &Blueprint) -> Change {
    Change {
        kind: site.kind,
        name: site.name.clone(),
        details: explain(site.kind, &site.body, &git.body),
    }
}

/// Builds a [`Drift`] from site blueprints that arrive one at a time, in any order,
/// against a git side held in memory (a [`BlueprintSet`] or a lean [`CompactSet`]);
/// the site side is never held whole, which keeps `lockstep diff --raw` on 50,000
/// documents small. Git is indexed by a hash map once, so each arrival costs one probe
/// instead of a walk down two cold B-trees.
pub struct DriftBuilder<'g> {
    /// Git's blueprints, in `(kind, name)` order.
    git: Vec<GitEntry<'g>>,
    index: HashMap<(Kind, &'g str), usize, BuildFastHasher>,
    seen_in_git: Vec<bool>,
    /// Only-on-site blueprints so far, to refuse a second arrival of one.
    only_on_site: HashSet<BlueprintId>,
    drift: Drift,
    /// Changed blueprints whose git body is not held ([`DriftBuilder::over_digests`]),
    /// with the site body, explained by [`DriftBuilder::finish_with`].
    deferred: Vec<(Kind, String, Value)>,
}

struct GitEntry<'g> {
    kind: Kind,
    name: &'g str,
    digest: Digest,
    body: GitBody<'g>,
}

enum GitBody<'g> {
    Value(&'g Value),
    Compact(&'g [u8]),
    /// Not held: asked for at the end, for changed blueprints only.
    Deferred,
}

impl<'g> DriftBuilder<'g> {
    pub fn new(git: &'g BlueprintSet) -> Self {
        Self::from_entries(
            git.iter_digests()
                .map(|(bp, digest)| GitEntry {
                    kind: bp.kind,
                    name: bp.name.as_str(),
                    digest,
                    body: GitBody::Value(&bp.body),
                })
                .collect(),
        )
    }

    pub fn over_compact(git: &'g CompactSet) -> Self {
        Self::from_entries(
            git.iter()
                .map(|(kind, name, digest, bytes)| GitEntry {
                    kind,
                    name,
                    digest,
                    body: GitBody::Compact(bytes),
                })
                .collect(),
        )
    }

    /// Over git's digests alone, for a git side too large to hold even compact (a
    /// folder of 50,000 files): the bodies of changed blueprints are asked for at the
    /// end, through [`DriftBuilder::finish_with`].
    pub fn over_digests(git: impl IntoIterator<Item = (Kind, &'g str, Digest)>) -> Self {
        let mut entries: Vec<GitEntry<'g>> = git
            .into_iter()
            .map(|(kind, name, digest)| GitEntry {
                kind,
                name,
                digest,
                body: GitBody::Deferred,
            })
            .collect();
        entries.sort_by(|a, b| (a.kind, a.name).cmp(&(b.kind, b.name)));
        Self::from_entries(entries)
    }

    fn from_entries(git: Vec<GitEntry<'g>>) -> Self {
        let mut index = HashMap::with_capacity_and_hasher(git.len(), BuildFastHasher);
        for (i, entry) in git.iter().enumerate() {
            index.insert((entry.kind, entry.name), i);
        }
        DriftBuilder {
            seen_in_git: vec![false; git.len()],
            git,
            index,
            only_on_site: HashSet::new(),
            drift: Drift::default(),
            deferred: Vec::new(),
        }
    }

    /// Adds one site blueprint. Returns false, and changes nothing, when a blueprint
    /// with the same kind and name was already added.
    pub fn add(&mut self, site: &Blueprint) -> bool {
        self.add_with_digest(site, digest(&site.body))
    }

    /// As [`DriftBuilder::add`], with the digest [`canonicalize_with_digest`] returned
    /// for this blueprint, which saves walking the body again.
    ///
    /// [`canonicalize_with_digest`]: super::canonical::canonicalize_with_digest
    pub fn add_with_digest(&mut self, site: &Blueprint, site_digest: Digest) -> bool {
        debug_assert_eq!(site_digest, digest(&site.body), "digest of another body");
        let Some(&at) = self.index.get(&(site.kind, site.name.as_str())) else {
            if !self.only_on_site.insert(site.id()) {
                return false;
            }
            self.drift.only_on_site.push(site.id());
            return true;
        };
        if std::mem::replace(&mut self.seen_in_git[at], true) {
            return false;
        }
        let git = &self.git[at];
        if site_digest != git.digest {
            let details = match git.body {
                GitBody::Value(body) => explain(site.kind, &site.body, body),
                GitBody::Compact(bytes) => explain(site.kind, &site.body, &parse_body(bytes)),
                GitBody::Deferred => {
                    self.deferred
                        .push((site.kind, site.name.clone(), site.body.clone()));
                    return true;
                }
            };
            self.drift.changed.push(Change {
                kind: site.kind,
                name: site.name.clone(),
                details,
            });
        }
        true
    }

    /// The blueprints whose git body [`DriftBuilder::finish_with`] will ask for, so
    /// a caller whose bodies are far away (GitHub) can fetch them all first.
    pub fn deferred(&self) -> impl Iterator<Item = (Kind, &str)> {
        self.deferred
            .iter()
            .map(|(kind, name, _)| (*kind, name.as_str()))
    }

    /// The drift. A builder made [`DriftBuilder::over_digests`] needs
    /// [`DriftBuilder::finish_with`]; here its changed blueprints are explained
    /// against an empty git body.
    pub fn finish(self) -> Drift {
        self.finish_with(|_, _| Ok::<_, std::convert::Infallible>(Value::Null))
            .unwrap_or_else(|never| match never {})
    }

    /// The drift, asking `git_body(kind, name)` for the git body of each changed
    /// blueprint whose body was not held; its first error stops it.
    pub fn finish_with<E>(
        mut self,
        mut git_body: impl FnMut(Kind, &str) -> Result<Value, E>,
    ) -> Result<Drift, E> {
        for (kind, name, site) in std::mem::take(&mut self.deferred) {
            let git = git_body(kind, &name)?;
            let details = explain(kind, &site, &git);
            self.drift.changed.push(Change {
                kind,
                name,
                details,
            });
        }
        Ok(self.finish_held())
    }

    fn finish_held(self) -> Drift {
        let mut drift = self.drift;
        drift.only_in_git = self
            .git
            .iter()
            .zip(&self.seen_in_git)
            .filter(|(_, seen)| !**seen)
            .map(|(entry, _)| (entry.kind, entry.name.to_owned()))
            .collect();
        drift.only_on_site.sort();
        drift
            .changed
            .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        drift
    }
}

/// A quick non-cryptographic hasher for the in-memory index (keys are our own names,
/// nothing an attacker picks to flood a table).
#[derive(Clone, Copy, Default)]
struct BuildFastHasher;

impl std::hash::BuildHasher for BuildFastHasher {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0x243F_6A88_85A3_08D3)
    }
}

struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.write_u64(u64::from_le_bytes(chunk.try_into().expect("chunks of 8")));
        }
        let mut last = [0u8; 8];
        last[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.write_u64(u64::from_le_bytes(last) ^ bytes.len() as u64);
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0 ^ word)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }

    fn write_u8(&mut self, byte: u8) {
        self.write_u64(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        let x = self.0 ^ (self.0 >> 32);
        x.wrapping_mul(0xFF51_AFD7_ED55_8CCD) ^ (x >> 29)
    }
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
        fn streaming_builder_agrees_with_diff(a in arb_set(), b in arb_set()) {
            let mut builder = DriftBuilder::new(&b);
            for bp in a.iter().rev() {
                prop_assert!(builder.add(bp));
            }
            if let Some(first) = a.iter().next() {
                prop_assert!(!builder.add(first));
            }
            prop_assert_eq!(builder.finish(), diff(&a, &b));
            let compact = CompactSet::from(&b);
            let mut lean = DriftBuilder::over_compact(&compact);
            for bp in a.iter() {
                prop_assert!(lean.add(bp));
            }
            prop_assert_eq!(lean.finish(), diff(&a, &b));
            // Git as digests only, as the bot holds a branch: bodies asked for at the
            // end, for the changed blueprints alone.
            let mut digests = DriftBuilder::over_digests(
                b.iter_digests().map(|(bp, d)| (bp.kind, bp.name.as_str(), d)),
            );
            for bp in a.iter().rev() {
                prop_assert!(digests.add(bp));
            }
            let asked: Vec<BlueprintId> =
                digests.deferred().map(|(k, n)| (k, n.to_owned())).collect();
            let streamed = digests
                .finish_with(|kind, name| {
                    b.get(kind, name).map(|bp| bp.body.clone()).ok_or("not in git")
                })
                .unwrap();
            let expected = diff(&a, &b);
            let mut changed: Vec<BlueprintId> =
                expected.changed.iter().map(|c| (c.kind, c.name.clone())).collect();
            let mut asked = asked;
            asked.sort();
            changed.sort();
            prop_assert_eq!(asked, changed);
            prop_assert_eq!(streamed, expected);
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
