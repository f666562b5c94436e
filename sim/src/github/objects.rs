//! The sim's git object store: blob, tree, commit and tag objects serialised and
//! hashed exactly as git does (`sha1("<type> <len>\0" + body)`), so an id here equals
//! what `git hash-object` gives for the same content. Pure data, no HTTP; it knows
//! nothing of pull requests or refs.

use std::collections::{BTreeMap, HashMap};

use sha1::{Digest, Sha1};

/// Mode of a regular file, as GitHub's API spells it.
pub const FILE_MODE: &str = "100644";
/// Mode of a subtree, as GitHub's API spells it (git's own tree bytes say `40000`).
pub const TREE_MODE: &str = "040000";

/// Who made a commit or tag, and when (seconds since the epoch, `+HHMM` offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub email: String,
    pub time: i64,
    pub offset: String,
}

impl Signature {
    fn line(&self) -> String {
        format!(
            "{} <{}> {} {}",
            self.name, self.email, self.time, self.offset
        )
    }

    /// `2026-11-26T04:00:00Z` style, as GitHub reports dates.
    pub fn iso_date(&self) -> String {
        chrono::DateTime::from_timestamp(self.time, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }
}

/// One entry of a tree object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub mode: String,
    pub name: String,
    pub sha: String,
}

impl TreeEntry {
    pub fn is_tree(&self) -> bool {
        self.mode == TREE_MODE || self.mode == "40000"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
    pub author: Signature,
    pub committer: Signature,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub object: String,
    pub object_type: String,
    pub tag: String,
    pub tagger: Signature,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Blob(Vec<u8>),
    Tree(Vec<TreeEntry>),
    Commit(Commit),
    Tag(Tag),
}

impl Object {
    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Blob(_) => "blob",
            Object::Tree(_) => "tree",
            Object::Commit(_) => "commit",
            Object::Tag(_) => "tag",
        }
    }

    /// The object's body as git stores it (before the `<type> <len>\0` header).
    pub fn body(&self) -> Vec<u8> {
        match self {
            Object::Blob(bytes) => bytes.clone(),
            Object::Tree(entries) => tree_body(entries),
            Object::Commit(c) => commit_body(c).into_bytes(),
            Object::Tag(t) => tag_body(t).into_bytes(),
        }
    }

    /// The git object id: SHA-1 of header and body, lowercase hex.
    pub fn id(&self) -> String {
        let body = self.body();
        let mut hasher = Sha1::new();
        hasher.update(format!("{} {}\0", self.type_name(), body.len()).as_bytes());
        hasher.update(&body);
        hex::encode(hasher.finalize())
    }
}

/// Git sorts tree entries by name, comparing a subtree's name as if it ended in `/`.
fn git_order(a: &TreeEntry, b: &TreeEntry) -> std::cmp::Ordering {
    let key = |e: &TreeEntry| {
        let mut k = e.name.as_bytes().to_vec();
        if e.is_tree() {
            k.push(b'/');
        }
        k
    };
    key(a).cmp(&key(b))
}

pub fn sort_entries(entries: &mut [TreeEntry]) {
    entries.sort_by(git_order);
}

fn tree_body(entries: &[TreeEntry]) -> Vec<u8> {
    let mut sorted = entries.to_vec();
    sort_entries(&mut sorted);
    let mut out = Vec::new();
    for e in &sorted {
        // git writes a tree's mode without the leading zero.
        let mode = if e.is_tree() {
            "40000"
        } else {
            e.mode.as_str()
        };
        out.extend_from_slice(format!("{mode} {}\0", e.name).as_bytes());
        out.extend_from_slice(&hex::decode(&e.sha).unwrap_or_else(|_| vec![0; 20]));
    }
    out
}

fn commit_body(c: &Commit) -> String {
    let mut out = format!("tree {}\n", c.tree);
    for p in &c.parents {
        out.push_str(&format!("parent {p}\n"));
    }
    out.push_str(&format!("author {}\n", c.author.line()));
    out.push_str(&format!("committer {}\n", c.committer.line()));
    out.push('\n');
    out.push_str(&c.message);
    out
}

fn tag_body(t: &Tag) -> String {
    format!(
        "object {}\ntype {}\ntag {}\ntagger {}\n\n{}",
        t.object,
        t.object_type,
        t.tag,
        t.tagger.line(),
        t.message
    )
}

/// A file in a flattened tree: its mode and blob id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub mode: String,
    pub sha: String,
}

/// All objects of one repository, by id.
#[derive(Debug, Default, Clone)]
pub struct ObjectStore {
    objects: HashMap<String, Object>,
}

impl ObjectStore {
    pub fn put(&mut self, object: Object) -> String {
        let id = object.id();
        self.objects.entry(id.clone()).or_insert(object);
        id
    }

    pub fn get(&self, id: &str) -> Option<&Object> {
        self.objects.get(id)
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// The commits whose id starts with `prefix` (lower-case hex).
    pub fn commits_with_prefix(&self, prefix: &str) -> Vec<&str> {
        self.objects
            .iter()
            .filter(|(id, o)| id.starts_with(prefix) && matches!(o, Object::Commit(_)))
            .map(|(id, _)| id.as_str())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    pub fn blob(&self, id: &str) -> Option<&[u8]> {
        match self.get(id)? {
            Object::Blob(b) => Some(b),
            _ => None,
        }
    }

    pub fn tree(&self, id: &str) -> Option<&[TreeEntry]> {
        match self.get(id)? {
            Object::Tree(t) => Some(t),
            _ => None,
        }
    }

    pub fn commit(&self, id: &str) -> Option<&Commit> {
        match self.get(id)? {
            Object::Commit(c) => Some(c),
            _ => None,
        }
    }

    /// Follows tags down to a commit id.
    pub fn peel_to_commit(&self, id: &str) -> Option<String> {
        match self.get(id)? {
            Object::Commit(_) => Some(id.to_string()),
            Object::Tag(t) => self.peel_to_commit(&t.object),
            _ => None,
        }
    }

    /// Every file under a tree, by full path (`a/b/c.json`).
    pub fn flatten(&self, tree: &str) -> BTreeMap<String, FileEntry> {
        let mut out = BTreeMap::new();
        self.flatten_into(tree, "", &mut out);
        out
    }

    fn flatten_into(&self, tree: &str, prefix: &str, out: &mut BTreeMap<String, FileEntry>) {
        for e in self.tree(tree).unwrap_or_default() {
            let path = format!("{prefix}{}", e.name);
            if e.is_tree() {
                self.flatten_into(&e.sha, &format!("{path}/"), out);
            } else {
                let file = FileEntry {
                    mode: e.mode.clone(),
                    sha: e.sha.clone(),
                };
                out.insert(path, file);
            }
        }
    }

    /// Writes nested tree objects for a flat `path -> file` map; returns the root id.
    pub fn write_flat(&mut self, files: &BTreeMap<String, FileEntry>) -> String {
        let mut root = Dir::default();
        for (path, file) in files {
            root.insert(path, file.clone());
        }
        self.write_dir(&root)
    }

    fn write_dir(&mut self, dir: &Dir) -> String {
        let mut entries = Vec::new();
        for (name, file) in &dir.files {
            entries.push(TreeEntry {
                mode: file.mode.clone(),
                name: name.clone(),
                sha: file.sha.clone(),
            });
        }
        for (name, sub) in &dir.dirs {
            let sha = self.write_dir(sub);
            entries.push(TreeEntry {
                mode: TREE_MODE.into(),
                name: name.clone(),
                sha,
            });
        }
        sort_entries(&mut entries);
        self.put(Object::Tree(entries))
    }

    /// Every entry under a tree in git's pre-order, with full paths (for
    /// `?recursive=1`).
    pub fn walk(&self, tree: &str) -> Vec<(String, TreeEntry)> {
        let mut out = Vec::new();
        self.walk_into(tree, "", &mut out);
        out
    }

    fn walk_into(&self, tree: &str, prefix: &str, out: &mut Vec<(String, TreeEntry)>) {
        let mut entries = self.tree(tree).unwrap_or_default().to_vec();
        sort_entries(&mut entries);
        for e in entries {
            let path = format!("{prefix}{}", e.name);
            out.push((path.clone(), e.clone()));
            if e.is_tree() {
                self.walk_into(&e.sha, &format!("{path}/"), out);
            }
        }
    }

    /// Whether `ancestor` is reachable from `tip` through parents (or is it).
    pub fn is_ancestor(&self, ancestor: &str, tip: &str) -> bool {
        self.ancestors(tip).contains(&ancestor.to_string())
    }

    /// `tip` and every commit reachable from it, nearest first (breadth-first).
    pub fn ancestors(&self, tip: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let mut queue = std::collections::VecDeque::from([tip.to_string()]);
        while let Some(id) = queue.pop_front() {
            if seen.contains(&id) {
                continue;
            }
            if let Some(c) = self.commit(&id) {
                queue.extend(c.parents.iter().cloned());
            }
            seen.push(id);
        }
        seen
    }
}

#[derive(Default)]
struct Dir {
    files: BTreeMap<String, FileEntry>,
    dirs: BTreeMap<String, Dir>,
}

impl Dir {
    fn insert(&mut self, path: &str, file: FileEntry) {
        match path.split_once('/') {
            Some((head, rest)) => self.dirs.entry(head.into()).or_default().insert(rest, file),
            None => {
                self.files.insert(path.into(), file);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_blob_and_tree_have_gits_well_known_ids() {
        assert_eq!(
            Object::Blob(Vec::new()).id(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        assert_eq!(
            Object::Tree(Vec::new()).id(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
        assert_eq!(
            Object::Blob(b"hello\n".to_vec()).id(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn subtrees_sort_as_if_they_ended_in_a_slash() {
        let mut entries = vec![
            TreeEntry {
                mode: TREE_MODE.into(),
                name: "a".into(),
                sha: "0".repeat(40),
            },
            TreeEntry {
                mode: FILE_MODE.into(),
                name: "a.b".into(),
                sha: "0".repeat(40),
            },
            TreeEntry {
                mode: FILE_MODE.into(),
                name: "a0".into(),
                sha: "0".repeat(40),
            },
        ];
        sort_entries(&mut entries);
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.b", "a", "a0"]);
    }

    #[test]
    fn flatten_and_write_flat_round_trip() {
        let mut store = ObjectStore::default();
        let blob = store.put(Object::Blob(b"x".to_vec()));
        let mut files = BTreeMap::new();
        for p in [
            "fixtures/app/roles/a.json",
            "fixtures/app/doctypes/b.json",
            "README",
        ] {
            files.insert(
                p.to_string(),
                FileEntry {
                    mode: FILE_MODE.into(),
                    sha: blob.clone(),
                },
            );
        }
        let root = store.write_flat(&files);
        assert_eq!(store.flatten(&root), files);
        let walked: Vec<_> = store.walk(&root).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            walked,
            [
                "README",
                "fixtures",
                "fixtures/app",
                "fixtures/app/doctypes",
                "fixtures/app/doctypes/b.json",
                "fixtures/app/roles",
                "fixtures/app/roles/a.json"
            ]
        );
    }

    proptest::proptest! {
        /// Any set of relative paths survives writing nested trees and flattening
        /// them back, and the root id depends only on the content.
        #[test]
        fn any_path_set_round_trips(paths in proptest::collection::btree_set("[a-c]{1,2}(/[a-c.]{1,3}){0,3}", 1..20)) {
            let mut store = ObjectStore::default();
            let mut files = BTreeMap::new();
            for p in &paths {
                // A path that is a prefix folder of another cannot also be a file.
                if paths.iter().any(|q| q.starts_with(&format!("{p}/"))) {
                    continue;
                }
                let sha = store.put(Object::Blob(p.as_bytes().to_vec()));
                files.insert(p.clone(), FileEntry { mode: FILE_MODE.into(), sha });
            }
            let root = store.write_flat(&files);
            proptest::prop_assert_eq!(store.flatten(&root), files.clone());
            let mut again = ObjectStore::default();
            for p in files.keys() {
                again.put(Object::Blob(p.as_bytes().to_vec()));
            }
            proptest::prop_assert_eq!(again.write_flat(&files), root);
        }
    }
}
