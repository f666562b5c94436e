//! A lean, read-only form of a blueprint set for the git side of a large diff: per
//! blueprint its digest and its canonical body as compact JSON bytes, parsed back only
//! to explain a change. About a fifth of the memory of `BlueprintSet` (whose bodies are
//! `serde_json::Value` trees), which is what keeps `lockstep diff --raw` on 50,000
//! blueprints under its memory budget. Pure data; `files` fills it from disk.

use std::collections::BTreeMap;

use serde_json::Value;

use super::canonical::{digest, Blueprint, BlueprintSet, Digest};
use super::kinds::Kind;

/// Blueprints as `(kind, name) -> (digest, compact canonical JSON)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactSet {
    by_kind: BTreeMap<Kind, Names>,
    len: usize,
}

/// One kind's blueprints: name -> (digest, compact canonical JSON).
type Names = BTreeMap<String, (Digest, Box<[u8]>)>;

impl CompactSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a blueprint; returns false when one of that kind and name was there (it is
    /// replaced).
    pub fn insert(&mut self, blueprint: &Blueprint) -> bool {
        self.insert_with_digest(blueprint, digest(&blueprint.body))
    }

    /// As [`CompactSet::insert`] with the digest `canonicalize_with_digest` returned.
    pub fn insert_with_digest(&mut self, blueprint: &Blueprint, digest: Digest) -> bool {
        debug_assert_eq!(digest, super::canonical::digest(&blueprint.body));
        let bytes = compact_bytes(&blueprint.body);
        self.insert_compact(blueprint.kind, blueprint.name.clone(), digest, bytes)
    }

    /// As [`CompactSet::insert_with_digest`] with the body already made compact by
    /// [`compact_bytes`] (on another thread, say), and its digest.
    pub fn insert_compact(
        &mut self,
        kind: Kind,
        name: String,
        digest: Digest,
        bytes: Box<[u8]>,
    ) -> bool {
        let names = self.by_kind.entry(kind).or_default();
        let fresh = names.insert(name, (digest, bytes)).is_none();
        if fresh {
            self.len += 1;
        }
        fresh
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, kind: Kind, name: &str) -> bool {
        self.by_kind
            .get(&kind)
            .is_some_and(|names| names.contains_key(name))
    }

    /// `(kind, name, digest, compact bytes)` in `(kind, name)` order.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, &str, Digest, &[u8])> {
        self.by_kind.iter().flat_map(|(kind, names)| {
            names
                .iter()
                .map(move |(name, (digest, bytes))| (*kind, name.as_str(), *digest, &bytes[..]))
        })
    }

    /// The body of a blueprint, parsed back.
    pub fn body(&self, kind: Kind, name: &str) -> Option<Value> {
        let (_, bytes) = self.by_kind.get(&kind)?.get(name)?;
        Some(parse_body(bytes))
    }
}

/// A canonical body as the compact JSON bytes a [`CompactSet`] keeps.
pub fn compact_bytes(body: &Value) -> Box<[u8]> {
    serde_json::to_vec(body)
        .expect("a JSON value always serialises")
        .into_boxed_slice()
}

/// Compact bytes were written by `serde_json` from a value, so they parse; should they
/// not, `null` makes every field show as a difference rather than hiding one.
pub(crate) fn parse_body(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

impl From<&BlueprintSet> for CompactSet {
    fn from(set: &BlueprintSet) -> Self {
        let mut compact = CompactSet::new();
        for blueprint in set.iter() {
            compact.insert(blueprint);
        }
        compact
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonical::canonicalize;
    use serde_json::json;

    #[test]
    fn keeps_digests_and_bodies() {
        let bp =
            canonicalize(&json!({"doctype": "Role", "name": "Manager", "desk_access": 1})).unwrap();
        let set: BlueprintSet = [bp.clone()].into_iter().collect();
        let compact = CompactSet::from(&set);
        assert_eq!(compact.len(), 1);
        assert!(compact.contains(Kind::Role, "Manager"));
        assert_eq!(compact.body(Kind::Role, "Manager"), Some(bp.body.clone()));
        let (kind, name, d, _) = compact.iter().next().unwrap();
        assert_eq!((kind, name, d), (Kind::Role, "Manager", digest(&bp.body)));
        let mut again = compact.clone();
        assert!(!again.insert(&bp));
        assert_eq!(again.len(), 1);
    }
}
