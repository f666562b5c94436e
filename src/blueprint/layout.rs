//! Repo layout: which file under `fixtures/app/` holds which blueprint, and turning a
//! set into files and back. Paths are `<folder>/<slug>.json` with an ASCII slug of the
//! record name; no name can leave its folder or share a file with another. Pure: the
//! bytes come from and go to the caller (`files` for disk, the GitHub adapter for git).

use std::collections::{BTreeMap, BTreeSet};

use sha1::{Digest as _, Sha1};

use super::canonical::{canonicalize_with_digest, Blueprint, BlueprintError, BlueprintSet, Digest};
use super::kinds::Kind;

/// Where blueprint files live in the config repo; layout paths are relative to it.
pub const REPO_ROOT: &str = "fixtures/app";

/// Longest slug kept from a name, in bytes; longer names are cut and, when the cut
/// makes two names meet, told apart by the collision suffix.
const MAX_SLUG: usize = 80;

/// Names Windows refuses as file stems; a config repo may well be cloned there.
const WINDOWS_RESERVED: [&str; 22] = [
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

/// A readable file stem for a record name: ASCII letters lowercased, digits and `-`
/// kept, every other run of characters (spaces, `_`, `/`, `.`, NUL, non-ASCII) one `_`,
/// trimmed of `_`, at most 80 bytes, never empty. The result only holds `[a-z0-9_-]`,
/// so it can be neither a path nor `.`/`..`.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(MAX_SLUG));
    for c in name.chars() {
        if out.len() >= MAX_SLUG {
            break;
        }
        match c {
            'a'..='z' | '0'..='9' | '-' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            _ if out.ends_with('_') => {}
            _ => out.push('_'),
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        return "_".to_owned();
    }
    if WINDOWS_RESERVED.contains(&trimmed) {
        return format!("_{trimmed}");
    }
    trimmed.to_owned()
}

/// The path a blueprint gets when no other name in its folder shares its slug.
pub fn plain_path(kind: Kind, name: &str) -> String {
    format!("{}/{}.json", kind.folder(), slug(name))
}

/// The stem of a name whose slug is shared: slug, `.`, the first 8 hex digits of the
/// SHA-1 of the name (all 40 when even those meet). Slugs never hold `.`, so a
/// suffixed stem never equals a plain one.
fn suffixed_stem(name: &str, digits: usize) -> String {
    let digest = hex::encode(Sha1::digest(name.as_bytes()));
    format!("{}.{}", slug(name), &digest[..digits])
}

/// The path of every blueprint of a set. Deterministic for a given set: names that
/// share a slug within a folder all take the hash suffix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    paths: BTreeMap<Kind, BTreeMap<String, String>>,
}

impl Layout {
    pub fn of(set: &BlueprintSet) -> Layout {
        Layout::of_names(set.iter().map(|b| (b.kind, b.name.as_str())))
    }

    /// The layout of a set with these blueprints: paths depend on names alone, so a
    /// caller holding a tree as an index (no bodies) lays it out the same.
    pub fn of_names<'a>(ids: impl IntoIterator<Item = (Kind, &'a str)>) -> Layout {
        let mut by_kind: BTreeMap<Kind, Vec<&str>> = BTreeMap::new();
        for (kind, name) in ids {
            by_kind.entry(kind).or_default().push(name);
        }
        let mut layout = Layout::default();
        for (kind, names) in by_kind {
            layout.paths.insert(kind, paths_in_folder(kind, &names));
        }
        layout
    }

    pub fn path(&self, kind: Kind, name: &str) -> Option<&str> {
        self.paths.get(&kind)?.get(name).map(String::as_str)
    }

    /// Every `(kind, name, path)`, in `(kind, name)` order.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, &str, &str)> {
        self.paths.iter().flat_map(|(kind, names)| {
            names
                .iter()
                .map(move |(name, path)| (*kind, name.as_str(), path.as_str()))
        })
    }
}

fn paths_in_folder(kind: Kind, names: &[&str]) -> BTreeMap<String, String> {
    let mut by_slug: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for name in names {
        by_slug.entry(slug(name)).or_default().push(name);
    }
    let mut paths = BTreeMap::new();
    for (stem, group) in by_slug {
        if let [only] = group.as_slice() {
            paths.insert((*only).to_owned(), format!("{}/{stem}.json", kind.folder()));
            continue;
        }
        for (name, stem) in disambiguate(&group) {
            paths.insert(name.to_owned(), format!("{}/{stem}.json", kind.folder()));
        }
    }
    paths
}

fn disambiguate<'a>(group: &[&'a str]) -> Vec<(&'a str, String)> {
    let short: Vec<String> = group.iter().map(|n| suffixed_stem(n, 8)).collect();
    let mut seen = BTreeMap::new();
    for stem in &short {
        *seen.entry(stem.as_str()).or_insert(0) += 1;
    }
    group
        .iter()
        .zip(&short)
        .map(|(name, stem)| {
            let stem = if seen[stem.as_str()] > 1 {
                suffixed_stem(name, 40)
            } else {
                stem.clone()
            };
            (*name, stem)
        })
        .collect()
}

/// Every blueprint as `path -> canonical bytes`, paths relative to [`REPO_ROOT`].
pub fn write_tree(set: &BlueprintSet) -> BTreeMap<String, Vec<u8>> {
    let layout = Layout::of(set);
    set.iter()
        .map(|bp| {
            let path = layout
                .path(bp.kind, &bp.name)
                .expect("the layout of a set covers each of its blueprints");
            (path.to_owned(), bp.to_canonical_bytes())
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{path}: not valid JSON ({source}); fix or delete the file")]
    InvalidJson {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    NotABlueprint {
        path: String,
        source: BlueprintError,
    },
    #[error("{path}: holds a {found} but sits in {folder}/; move it to {expected}/")]
    WrongFolder {
        path: String,
        found: Kind,
        folder: String,
        expected: &'static str,
    },
    #[error("{path}: {kind} {name:?} is also in {other}; keep one of the two files")]
    Duplicate {
        path: String,
        other: String,
        kind: Kind,
        name: String,
    },
    #[error("{path}: blueprint files sit directly in their folder (<folder>/<name>.json)")]
    Nested { path: String },
}

/// Builds a set from files one at a time, so a large tree never sits in memory twice.
#[derive(Debug, Default)]
pub struct TreeReader {
    set: BlueprintSet,
    origin: BTreeMap<Kind, BTreeMap<String, String>>,
}

impl TreeReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a path (relative to [`REPO_ROOT`]) is one the reader looks at: a
    /// `*.json` under a tracked folder. `_site/`, unknown folders and other files are
    /// ignored.
    pub fn wants(path: &str) -> bool {
        folder_of(path).is_some() && path.ends_with(".json")
    }

    /// Reads one file; ignored paths (see [`TreeReader::wants`]) are skipped.
    pub fn add(&mut self, path: &str, bytes: &[u8]) -> Result<(), LayoutError> {
        match parse_file(path, bytes)? {
            Some((blueprint, digest)) => self.place(path, blueprint, digest),
            None => Ok(()),
        }
    }

    fn place(&mut self, path: &str, bp: Blueprint, digest: Digest) -> Result<(), LayoutError> {
        let origins = self.origin.entry(bp.kind).or_default();
        if let Some(other) = origins.get(&bp.name) {
            return Err(LayoutError::Duplicate {
                path: path.into(),
                other: other.clone(),
                kind: bp.kind,
                name: bp.name,
            });
        }
        origins.insert(bp.name.clone(), path.to_owned());
        self.set.insert_with_digest(bp, digest);
        Ok(())
    }

    pub fn finish(self) -> BlueprintSet {
        self.set
    }
}

/// Parses one file of the tree (path relative to [`REPO_ROOT`]) into its canonical
/// blueprint and digest, checking it sits in its kind's folder. `None` for paths the
/// reader ignores (see [`TreeReader::wants`]).
pub fn parse_file(path: &str, bytes: &[u8]) -> Result<Option<(Blueprint, Digest)>, LayoutError> {
    let Some((folder, rest)) = folder_of(path) else {
        return Ok(None);
    };
    if !rest.ends_with(".json") {
        return Ok(None);
    }
    if rest.contains('/') {
        return Err(LayoutError::Nested { path: path.into() });
    }
    let value = serde_json::from_slice(bytes).map_err(|source| LayoutError::InvalidJson {
        path: path.into(),
        source,
    })?;
    let (bp, digest) =
        canonicalize_with_digest(value).map_err(|source| LayoutError::NotABlueprint {
            path: path.into(),
            source,
        })?;
    if bp.kind != folder {
        return Err(LayoutError::WrongFolder {
            path: path.into(),
            found: bp.kind,
            folder: folder.folder().into(),
            expected: bp.kind.folder(),
        });
    }
    Ok(Some((bp, digest)))
}

pub(crate) fn folder_of(path: &str) -> Option<(Kind, &str)> {
    let (folder, rest) = path.split_once('/')?;
    Some((Kind::from_folder(folder)?, rest))
}

/// Reads a tree of files (`path -> bytes`, paths relative to [`REPO_ROOT`]) back into
/// a set. Files outside the tracked folders are ignored.
pub fn read_tree<I, P, B>(files: I) -> Result<BlueprintSet, LayoutError>
where
    I: IntoIterator<Item = (P, B)>,
    P: AsRef<str>,
    B: AsRef<[u8]>,
{
    let mut reader = TreeReader::new();
    for (path, bytes) in files {
        reader.add(path.as_ref(), bytes.as_ref())?;
    }
    Ok(reader.finish())
}

/// The tracked folders, for callers that list or clean a tree.
pub fn folders() -> BTreeSet<&'static str> {
    Kind::ALL.iter().map(|k| k.folder()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonical::canonicalize;
    use proptest::prelude::*;
    use serde_json::json;

    fn role(name: &str) -> Blueprint {
        canonicalize(&json!({"doctype": "Role", "name": name, "role_name": name})).unwrap()
    }

    #[test]
    fn slugs_are_readable() {
        assert_eq!(slug("Beneficiary Approval"), "beneficiary_approval");
        assert_eq!(slug("Grant-field_officer"), "grant-field_officer");
        assert_eq!(slug("../../etc/passwd"), "etc_passwd");
        assert_eq!(slug("..."), "_");
        assert_eq!(slug("a\0b"), "a_b");
        assert_eq!(slug("Ünïcode"), "n_code");
        assert_eq!(slug("CON"), "_con");
        assert_eq!(slug(&"x".repeat(2000)).len(), MAX_SLUG);
    }

    #[test]
    fn colliding_names_all_take_a_hash_suffix() {
        let set: BlueprintSet = ["A B", "a_b", "Other"].into_iter().map(role).collect();
        let layout = Layout::of(&set);
        assert_eq!(layout.path(Kind::Role, "Other"), Some("roles/other.json"));
        let ab = layout.path(Kind::Role, "A B").unwrap();
        let ab2 = layout.path(Kind::Role, "a_b").unwrap();
        assert!(
            ab.starts_with("roles/a_b.") && ab.ends_with(".json"),
            "{ab}"
        );
        assert_ne!(ab, ab2);
        assert_eq!(ab.len(), "roles/a_b.12345678.json".len());
    }

    #[test]
    fn reader_ignores_site_folder_and_unknown_files() {
        let files = vec![
            ("_site/users.json", b"[]".to_vec()),
            ("README.md", b"hi".to_vec()),
            ("roles/notes.txt", b"x".to_vec()),
            ("roles/a.json", role("A").to_canonical_bytes()),
        ];
        let set = read_tree(files).unwrap();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn reader_names_the_bad_file() {
        let err = read_tree([("roles/a.json", b"{".to_vec())]).unwrap_err();
        assert!(
            err.to_string().starts_with("roles/a.json: not valid JSON"),
            "{err}"
        );
        let err = read_tree([("doctypes/a.json", role("A").to_canonical_bytes())]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "doctypes/a.json: holds a Role but sits in doctypes/; move it to roles/"
        );
        let err = read_tree([
            ("roles/a.json", role("A").to_canonical_bytes()),
            ("roles/b.json", role("A").to_canonical_bytes()),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("is also in roles/a.json"), "{err}");
    }

    fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~]{1,40}",
            "\\PC{1,20}",
            Just("..".to_string()),
            Just("../x".to_string()),
            Just("a\0b".to_string()),
            Just("Ａ".to_string()),
            Just("A".to_string()),
            "[a-z]{1000,2000}",
            "[./ ]{1,5}",
        ]
    }

    proptest! {
        #[test]
        fn any_name_stays_inside_its_folder(name in arb_name()) {
            let path = plain_path(Kind::CustomField, &name);
            let stem = path.strip_prefix("custom_fields/").unwrap().strip_suffix(".json").unwrap();
            prop_assert!(!stem.is_empty());
            prop_assert!(stem.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'));
        }

        #[test]
        fn distinct_names_get_distinct_paths_and_round_trip(names in prop::collection::btree_set(arb_name(), 1..12)) {
            let set: BlueprintSet = names.iter().map(|n| role(n)).collect();
            let tree = write_tree(&set);
            prop_assert_eq!(tree.len(), set.len());
            for path in tree.keys() {
                prop_assert!(path.starts_with("roles/") && !path[6..].contains('/'));
                prop_assert!(!path.contains(".."));
            }
            let back = read_tree(&tree).unwrap();
            prop_assert_eq!(back, set);
        }
    }
}
