//! The git side of a large drift read from files handed over one at a time (a branch
//! through the GitHub API): per blueprint its kind, name, [`Digest`] and file, and
//! nothing of its body, so 50,000 files cost a few megabytes instead of their JSON
//! trees. Every file is checked as [`TreeReader`] checks it, with the same error for
//! the same tree, so a tree that reads as a set indexes, and one that does not fails
//! alike. Digesting ([`digest_file`]) is separate from indexing so callers can run it
//! where CPU work belongs; the bodies of blueprints that differ are read again by the
//! caller, who knows where the bytes came from. Pure.
//!
//! [`TreeReader`]: super::layout::TreeReader

use std::collections::{BTreeMap, HashMap};

use super::canonical::{digest_canonical_json, BlueprintId, Digest};
use super::diff::DriftBuilder;
use super::kinds::Kind;
use super::layout::{folder_of, parse_file, Layout, LayoutError};

/// One file's blueprint: its kind, name and digest, or `None` for a path the tree
/// reader ignores (see [`TreeReader::wants`]). The file's own errors are the ones
/// [`parse_file`] names.
///
/// [`TreeReader::wants`]: super::layout::TreeReader::wants
pub fn digest_file(
    path: &str,
    bytes: &[u8],
) -> Result<Option<(Kind, String, Digest)>, LayoutError> {
    let Some((folder, rest)) = folder_of(path) else {
        return Ok(None);
    };
    if rest.ends_with(".json") && !rest.contains('/') {
        // Files the bot wrote are canonical: digest them without building their tree.
        if let Some((kind, name, digest)) = digest_canonical_json(bytes) {
            if kind == folder {
                return Ok(Some((kind, name, digest)));
            }
        }
    }
    Ok(parse_file(path, bytes)?.map(|(bp, digest)| (bp.kind, bp.name, digest)))
}

/// Whether a file at `path` holding a `kind` is one [`digest_file`] accepts as it
/// is: directly in that kind's folder, named `*.json`. A digest remembered for the
/// same bytes under another path holds for this one then.
pub fn sits_in_its_folder(path: &str, kind: Kind) -> bool {
    matches!(folder_of(path), Some((folder, rest))
        if folder == kind && rest.ends_with(".json") && !rest.contains('/'))
}

/// One indexed blueprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub kind: Kind,
    pub name: String,
    pub digest: Digest,
    /// Its file, relative to the tree's root (`fixtures/app/`).
    pub path: String,
}

/// A tree's blueprints as digests, in `(kind, name)` order once finished.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeIndex {
    entries: Vec<IndexEntry>,
    /// While adding: where each `(kind, name)` came from, to refuse a second file.
    origin: HashMap<(Kind, String), usize>,
}

impl TreeIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds what [`digest_file`] answered for `path`. Files must come in path order
    /// for a blueprint in two files to be reported as [`TreeReader`] reports it (the
    /// later file, naming the earlier).
    ///
    /// [`TreeReader`]: super::layout::TreeReader
    pub fn add(
        &mut self,
        path: &str,
        digested: Option<(Kind, String, Digest)>,
    ) -> Result<(), LayoutError> {
        let Some((kind, name, digest)) = digested else {
            return Ok(());
        };
        let key = (kind, name);
        if let Some(&at) = self.origin.get(&key) {
            return Err(LayoutError::Duplicate {
                path: path.to_owned(),
                other: self.entries[at].path.clone(),
                kind,
                name: key.1,
            });
        }
        self.origin.insert(key.clone(), self.entries.len());
        self.entries.push(IndexEntry {
            kind,
            name: key.1,
            digest,
            path: path.to_owned(),
        });
        Ok(())
    }

    /// Done adding: sorts the entries and lets go of the lookup used while adding.
    pub fn finish(mut self) -> Self {
        self.origin = HashMap::new();
        self.entries
            .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        self
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry, in `(kind, name)` order (once finished).
    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    /// One blueprint's entry (once finished).
    pub fn get(&self, kind: Kind, name: &str) -> Option<&IndexEntry> {
        self.entries
            .binary_search_by(|e| (e.kind, e.name.as_str()).cmp(&(kind, name)))
            .ok()
            .map(|at| &self.entries[at])
    }

    /// A drift builder with this tree as git; finish it with the bodies of
    /// [`DriftBuilder::deferred`], read again from their files.
    pub fn drift_builder(&self) -> DriftBuilder<'_> {
        DriftBuilder::over_digests(
            self.entries
                .iter()
                .map(|e| (e.kind, e.name.as_str(), e.digest)),
        )
    }

    /// The blueprints that differ between two trees, as ids in `(kind, name)` order:
    /// only in `self`, only in `other`, and in both with other digests.
    pub fn differing(&self, other: &TreeIndex) -> Vec<(Kind, String)> {
        let mut ids: Vec<(Kind, String)> = self
            .entries
            .iter()
            .filter(|e| other.get(e.kind, &e.name).map(|o| o.digest) != Some(e.digest))
            .chain(
                other
                    .entries
                    .iter()
                    .filter(|o| self.get(o.kind, &o.name).is_none()),
            )
            .map(|e| (e.kind, e.name.clone()))
            .collect();
        ids.sort();
        ids
    }
}

/// The files that turn the tree of one set into the tree of another, both given as
/// `(kind, name, digest)` (no bodies): each path to write with the blueprint it
/// then holds, and the paths to delete, relative to the tree's root. The same files
/// as comparing `write_tree` of the two sets, since a canonical file's bytes are
/// its kind, name and body: a path is written unless it holds the same blueprint
/// with the same digest already (names beside a new one can move a file too).
pub fn relayout(
    before: &[(Kind, String, Digest)],
    after: &[(Kind, String, Digest)],
) -> (Vec<(String, BlueprintId)>, Vec<String>) {
    let laid_out = |set: &[(Kind, String, Digest)]| -> BTreeMap<String, (Kind, String, Digest)> {
        let layout = Layout::of_names(set.iter().map(|(kind, name, _)| (*kind, name.as_str())));
        set.iter()
            .filter_map(|entry| {
                let path = layout.path(entry.0, &entry.1)?;
                Some((path.to_owned(), entry.clone()))
            })
            .collect()
    };
    let (before, after) = (laid_out(before), laid_out(after));
    let writes = after
        .iter()
        .filter(|(path, entry)| before.get(*path) != Some(entry))
        .map(|(path, (kind, name, _))| (path.clone(), (*kind, name.clone())))
        .collect();
    let deletes = before
        .keys()
        .filter(|path| !after.contains_key(*path))
        .cloned()
        .collect();
    (writes, deletes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonical::canonicalize;
    use crate::blueprint::layout::{read_tree, write_tree};
    use crate::blueprint::{diff, BlueprintSet};
    use serde_json::json;
    use std::collections::BTreeMap;

    fn index(files: &BTreeMap<String, Vec<u8>>) -> Result<TreeIndex, LayoutError> {
        let mut index = TreeIndex::new();
        for (path, bytes) in files {
            index.add(path, digest_file(path, bytes)?)?;
        }
        Ok(index.finish())
    }

    fn set(docs: &[serde_json::Value]) -> BlueprintSet {
        docs.iter().map(|d| canonicalize(d).unwrap()).collect()
    }

    #[test]
    fn a_tree_indexes_to_the_digests_it_reads_as() {
        let mut files = write_tree(&set(&[
            json!({"doctype": "Role", "name": "A", "role_name": "A"}),
            json!({"doctype": "DocType", "name": "Grant", "fields": [{"fieldname": "x", "fieldtype": "Data"}]}),
        ]));
        // Hand-written, not canonical: read the slow way, to the same digest.
        files.insert(
            "roles/b.json".into(),
            br#"{"name": "B", "doctype": "Role", "modified": "x"}"#.to_vec(),
        );
        files.insert("_site/users.json".into(), b"[]".to_vec());
        files.insert("README.md".into(), b"hi".to_vec());
        let read = read_tree(&files).unwrap();
        let index = index(&files).unwrap();
        let digests: Vec<_> = index
            .entries()
            .iter()
            .map(|e| (e.kind, e.name.clone(), e.digest))
            .collect();
        let expected: Vec<_> = read
            .iter_digests()
            .map(|(bp, d)| (bp.kind, bp.name.clone(), d))
            .collect();
        assert_eq!(digests, expected);
        assert_eq!(index.get(Kind::Role, "B").unwrap().path, "roles/b.json");
    }

    #[test]
    fn a_bad_tree_fails_as_the_reader_fails() {
        let role = |name: &str| {
            canonicalize(&json!({"doctype": "Role", "name": name}))
                .unwrap()
                .to_canonical_bytes()
        };
        let trees: Vec<Vec<(&str, Vec<u8>)>> = vec![
            vec![("roles/a.json", b"{".to_vec())],
            vec![("doctypes/a.json", role("A"))],
            vec![("roles/a.json", role("A")), ("roles/b.json", role("A"))],
            vec![("roles/x/a.json", role("A"))],
            vec![(
                "roles/a.json",
                br#"{"doctype": "User", "name": "u"}"#.to_vec(),
            )],
        ];
        for tree in trees {
            let files: BTreeMap<String, Vec<u8>> =
                tree.into_iter().map(|(p, b)| (p.to_string(), b)).collect();
            let expected = read_tree(&files).unwrap_err().to_string();
            assert_eq!(index(&files).unwrap_err().to_string(), expected);
        }
    }

    #[test]
    fn relaying_a_tree_writes_what_comparing_the_written_trees_does() {
        let role =
            |name: &str, desk: i64| json!({"doctype": "Role", "name": name, "desk_access": desk});
        // "A B" arrives beside "a_b": both take a hash suffix, so "a_b" moves.
        let before = set(&[
            role("a_b", 0),
            role("Same", 0),
            role("Changed", 0),
            role("Gone", 0),
        ]);
        let after = set(&[
            role("a_b", 0),
            role("A B", 0),
            role("Same", 0),
            role("Changed", 1),
        ]);
        let digests = |set: &BlueprintSet| -> Vec<(Kind, String, Digest)> {
            set.iter_digests()
                .map(|(bp, d)| (bp.kind, bp.name.clone(), d))
                .collect()
        };
        let (writes, deletes) = relayout(&digests(&before), &digests(&after));
        let (old, new) = (write_tree(&before), write_tree(&after));
        let expected_writes: Vec<&String> = new
            .iter()
            .filter(|(p, b)| old.get(*p) != Some(*b))
            .map(|(p, _)| p)
            .collect();
        let expected_deletes: Vec<&String> = old.keys().filter(|p| !new.contains_key(*p)).collect();
        assert_eq!(
            writes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            expected_writes
        );
        assert_eq!(deletes.iter().collect::<Vec<_>>(), expected_deletes);
        assert!(
            deletes.contains(&"roles/a_b.json".to_string()),
            "{deletes:?}"
        );
        for (path, (kind, name)) in &writes {
            assert_eq!(
                new[path],
                after.get(*kind, name).unwrap().to_canonical_bytes()
            );
        }
    }

    #[test]
    fn a_digest_holds_under_another_path_only_in_its_folder() {
        assert!(sits_in_its_folder("roles/a.json", Kind::Role));
        assert!(!sits_in_its_folder("doctypes/a.json", Kind::Role));
        assert!(!sits_in_its_folder("roles/x/a.json", Kind::Role));
        assert!(!sits_in_its_folder("roles/a.txt", Kind::Role));
        assert!(!sits_in_its_folder("a.json", Kind::Role));
    }

    #[test]
    fn two_trees_differ_where_their_sets_do() {
        let staging = set(&[
            json!({"doctype": "Role", "name": "Same"}),
            json!({"doctype": "Role", "name": "Changed", "desk_access": 1}),
            json!({"doctype": "Role", "name": "New"}),
        ]);
        let main = set(&[
            json!({"doctype": "Role", "name": "Same"}),
            json!({"doctype": "Role", "name": "Changed"}),
            json!({"doctype": "Role", "name": "Gone"}),
        ]);
        let ours = index(&write_tree(&staging)).unwrap();
        let theirs = index(&write_tree(&main)).unwrap();
        let drift = diff(&staging, &main);
        assert_eq!(ours.differing(&theirs), drift.ids());
    }
}
