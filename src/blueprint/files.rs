//! The one I/O corner of `blueprint`: `std::fs` helpers to read and write a folder of
//! canonical files (seed sites, a checked-out `fixtures/app/`), and the library side of
//! `lockstep diff --raw <dir> --against <dir>`. Blocking std::fs only, no tokio; it
//! must not grow into a sync engine (that is the bot's workflow). Large folders are
//! read on every core (`std::thread::scope`), yet results are handed on in path order,
//! so what is read, and which file an error names, is the same as one file at a time.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

use super::canonical::{
    canonicalize_with_digest, digest_canonical_json, Blueprint, BlueprintError, BlueprintSet,
    Digest,
};
use super::compact::{compact_bytes, CompactSet};
use super::diff::DriftBuilder;
use super::kinds::Kind;
use super::layout::{parse_file, write_tree, TreeReader};
use super::render::RenderOptions;

/// Reads a folder laid out like `fixtures/app/` (tracked folders of `*.json`; `_site/`
/// and anything unknown ignored) into a set.
pub fn read_dir(dir: &Path) -> anyhow::Result<BlueprintSet> {
    let mut reader = TreeReader::new();
    for_each_tree_file(dir, |rel, bytes| Ok(reader.add(rel, bytes)?))?;
    Ok(reader.finish())
}

/// As [`read_dir`], into the lean [`CompactSet`]: each file's body is parsed, checked,
/// digested and turned into compact bytes on one of the cores, and dropped before the
/// set takes it.
pub fn read_dir_compact(dir: &Path) -> anyhow::Result<CompactSet> {
    let files = tree_files(dir)?;
    let mut set = CompactSet::new();
    in_order_on_all_cores(
        files.len(),
        |i| {
            let (rel, path) = &files[i];
            let bytes =
                fs::read(path).with_context(|| format!("while reading {}", path.display()))?;
            let parsed = parse_file(rel, &bytes)
                .with_context(|| format!("while reading {}", dir.display()))?;
            Ok(parsed.map(|(bp, digest)| {
                let compact = compact_bytes(&bp.body);
                (bp.kind, bp.name, digest, compact)
            }))
        },
        |i, parsed: Option<(Kind, String, Digest, Box<[u8]>)>| {
            let Some((kind, name, digest, compact)) = parsed else {
                return Ok(());
            };
            if !set.insert_compact(kind, name.clone(), digest, compact) {
                bail!(
                    "{}: {kind} {name:?} is in another file too; keep one of the two",
                    files[i].0
                );
            }
            Ok(())
        },
    )?;
    Ok(set)
}

/// The git side of a large drift, held as little as it can be: per blueprint its
/// kind, name, [`Digest`] and file. Canonical files are digested as they are read,
/// without building their JSON ([`digest_canonical_json`]); bodies are read again
/// only for blueprints that turn out to differ ([`FolderIndex::body`]).
#[derive(Debug, Clone)]
pub struct FolderIndex {
    root: PathBuf,
    /// (kind, name, digest, path relative to `root`), in `(kind, name)` order.
    entries: Vec<(Kind, String, Digest, String)>,
}

impl FolderIndex {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A drift builder over this folder; finish it with
    /// `finish_with(|kind, name| index.body(kind, name))`.
    pub fn drift_builder(&self) -> DriftBuilder<'_> {
        DriftBuilder::over_digests(
            self.entries
                .iter()
                .map(|(kind, name, digest, _)| (*kind, name.as_str(), *digest)),
        )
    }

    /// The canonical body of a blueprint of the folder, read again from its file.
    pub fn body(&self, kind: Kind, name: &str) -> anyhow::Result<Value> {
        let at = self
            .entries
            .binary_search_by(|(k, n, _, _)| (*k, n.as_str()).cmp(&(kind, name)))
            .map_err(|_| anyhow::anyhow!("{kind} {name:?} is not in {}", self.root.display()))?;
        let rel = &self.entries[at].3;
        let path = self.root.join(rel);
        let bytes = fs::read(&path).with_context(|| format!("while reading {}", path.display()))?;
        match parse_file(rel, &bytes)? {
            Some((bp, _)) if bp.kind == kind && bp.name == name => Ok(bp.body),
            _ => bail!("{} changed while it was being compared", path.display()),
        }
    }
}

/// Indexes a folder laid out like `fixtures/app/` on every core (see [`FolderIndex`]).
/// Reports what [`read_dir`] reports for a bad file or a blueprint in two files.
pub fn index_dir(dir: &Path) -> anyhow::Result<FolderIndex> {
    let files = tree_files(dir)?;
    let mut entries = Vec::with_capacity(files.len());
    in_order_on_all_cores(
        files.len(),
        |i| {
            let (rel, path) = &files[i];
            let bytes =
                fs::read(path).with_context(|| format!("while reading {}", path.display()))?;
            let folder = rel.split_once('/').and_then(|(f, _)| Kind::from_folder(f));
            if let Some((kind, name, digest)) = digest_canonical_json(&bytes) {
                if Some(kind) == folder {
                    return Ok(Some((kind, name, digest)));
                }
            }
            // Not canonical as written: canonicalise it, or name what is wrong.
            let parsed = parse_file(rel, &bytes)
                .with_context(|| format!("while reading {}", dir.display()))?;
            Ok(parsed.map(|(bp, digest)| (bp.kind, bp.name, digest)))
        },
        |i, parsed: Option<(Kind, String, Digest)>| {
            if let Some((kind, name, digest)) = parsed {
                entries.push((kind, name, digest, files[i].0.clone()));
            }
            Ok(())
        },
    )?;
    entries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    if let Some(pair) = entries
        .windows(2)
        .find(|pair| (pair[0].0, &pair[0].1) == (pair[1].0, &pair[1].1))
    {
        let (first, second) = if pair[0].3 < pair[1].3 {
            (&pair[0], &pair[1])
        } else {
            (&pair[1], &pair[0])
        };
        bail!(
            "{}: {} {:?} is in another file too ({}); keep one of the two",
            second.3,
            second.0,
            second.1,
            first.3
        );
    }
    Ok(FolderIndex {
        root: dir.to_path_buf(),
        entries,
    })
}

/// The `*.json` files directly in a tracked folder of `dir`, as (path relative to
/// `dir`, full path), in path order.
fn tree_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    if !dir.is_dir() {
        bail!(
            "{} is not a directory of blueprint folders (doctypes/, roles/, …)",
            dir.display()
        );
    }
    let mut files = Vec::new();
    for kind in Kind::ALL {
        let folder = dir.join(kind.folder());
        if !folder.is_dir() {
            continue;
        }
        for (entry, _, is_file) in typed_entries(&folder)? {
            let Some(file_name) = entry.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let rel = format!("{}/{file_name}", kind.folder());
            if TreeReader::wants(&rel) && is_file {
                files.push((rel, entry));
            }
        }
    }
    Ok(files)
}

/// Indices a worker takes at a time: handing results over one by one would cost a
/// thread wake-up (a context switch) per file.
const CHUNK: usize = 64;

/// Runs `load(i)` for every `i` in `0..count` on every core, and hands each result to
/// `visit(i, result)` on the calling thread in index order. A failed `load` or `visit`
/// stops the work; the error returned is the one of the smallest index, as a
/// sequential loop would report. Few results wait at a time: the workers take chunks
/// of indices in order and the calling thread visits as soon as the next chunk is in.
pub(crate) fn in_order_on_all_cores<T: Send>(
    count: usize,
    load: impl Fn(usize) -> anyhow::Result<T> + Sync,
    mut visit: impl FnMut(usize, T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;

    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(count.div_ceil(CHUNK).max(1));
    if threads <= 1 {
        for i in 0..count {
            let item = load(i)?;
            visit(i, item)?;
        }
        return Ok(());
    }
    type Chunk<T> = Vec<anyhow::Result<T>>;
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<(usize, Chunk<T>)>(threads * 4);
        for _ in 0..threads {
            let sender = sender.clone();
            let (next, stop, load) = (&next, &stop, &load);
            scope.spawn(move || loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let first = next.fetch_add(CHUNK, Ordering::Relaxed);
                if first >= count {
                    break;
                }
                let mut results = Vec::with_capacity(CHUNK);
                for i in first..(first + CHUNK).min(count) {
                    let result = load(i);
                    let failed = result.is_err();
                    results.push(result);
                    if failed {
                        // Chunks below this one are already handed out and will
                        // still arrive, so the smallest failing index is reported.
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                }
                if sender.send((first, results)).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        let mut waiting: BTreeMap<usize, Chunk<T>> = BTreeMap::new();
        let mut expected = 0;
        let outcome = (|| {
            for (first, results) in receiver.iter() {
                waiting.insert(first, results);
                while let Some(results) = waiting.remove(&expected) {
                    for (offset, result) in results.into_iter().enumerate() {
                        visit(expected + offset, result?)?;
                    }
                    expected += CHUNK;
                }
            }
            Ok(())
        })();
        // Workers blocked on a full channel see it closed and end.
        stop.store(true, Ordering::Relaxed);
        drop(receiver);
        outcome
    })
}

/// Calls `visit(path relative to dir, bytes)` for every `*.json` file directly in a
/// tracked folder of `dir`, in path order.
fn for_each_tree_file(
    dir: &Path,
    mut visit: impl FnMut(&str, &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for (rel, path) in tree_files(dir)? {
        let bytes = fs::read(&path).with_context(|| format!("while reading {}", path.display()))?;
        visit(&rel, &bytes).with_context(|| format!("while reading {}", dir.display()))?;
    }
    Ok(())
}

fn sorted_entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    Ok(typed_entries(dir)?.into_iter().map(|e| e.0).collect())
}

/// The entries of one folder with whether each is a directory and whether a regular
/// file (symlinks followed), sorted by name. Names only are compared (one folder), and
/// the type comes from the listing where the file system gives it, so a large folder
/// costs no `stat` per file.
fn typed_entries(dir: &Path) -> anyhow::Result<Vec<(PathBuf, bool, bool)>> {
    let listing = fs::read_dir(dir).with_context(|| format!("while listing {}", dir.display()))?;
    let mut entries = Vec::new();
    for entry in listing {
        let entry = entry.with_context(|| format!("while listing {}", dir.display()))?;
        let path = entry.path();
        let (is_dir, is_file) = match entry.file_type() {
            Ok(kind) if !kind.is_symlink() => (kind.is_dir(), kind.is_file()),
            _ => (path.is_dir(), path.is_file()),
        };
        entries.push((entry.file_name(), path, is_dir, is_file));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries
        .into_iter()
        .map(|(_, path, is_dir, is_file)| (path, is_dir, is_file))
        .collect())
}

/// Makes the tracked folders under `dir` hold exactly `set`: writes every file whose
/// bytes differ and deletes `*.json` files in tracked folders that are not in the set.
/// `_site/` and unknown folders are left alone.
pub fn write_dir(set: &BlueprintSet, dir: &Path) -> anyhow::Result<()> {
    let tree = write_tree(set);
    for kind in Kind::ALL {
        let folder = dir.join(kind.folder());
        if !folder.is_dir() {
            continue;
        }
        for entry in sorted_entries(&folder)? {
            let rel = entry
                .file_name()
                .and_then(|n| n.to_str())
                .map(|n| format!("{}/{n}", kind.folder()));
            let stale = rel.is_some_and(|rel| TreeReader::wants(&rel) && !tree.contains_key(&rel));
            if stale && entry.is_file() {
                fs::remove_file(&entry)
                    .with_context(|| format!("while removing {}", entry.display()))?;
            }
        }
    }
    for (rel, bytes) in &tree {
        let path = dir.join(rel);
        if fs::read(&path).is_ok_and(|old| old == *bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("while creating {}", parent.display()))?;
        }
        fs::write(&path, bytes).with_context(|| format!("while writing {}", path.display()))?;
    }
    Ok(())
}

/// Reads a tree of raw Frappe JSON: every `*.json` file under `dir` (recursively, in
/// path order) holds what the REST API returns: the body of
/// `GET /api/resource/<DT>/<name>` (`{"data": {…}}`), that document alone, or a list
/// of documents (bare, or as `{"data": […]}`). Documents of untracked doctypes are
/// counted and skipped.
pub fn read_raw_dir(dir: &Path) -> anyhow::Result<(BlueprintSet, usize)> {
    let mut set = BlueprintSet::new();
    let skipped = for_each_raw_doc(dir, |bp, digest| {
        Ok(set.insert_with_digest(bp, digest).is_none())
    })?;
    Ok((set, skipped))
}

/// What one raw file held: its canonical blueprints and how many documents of
/// untracked doctypes it had.
type RawFile = (Vec<(Blueprint, Digest)>, usize);

/// Streams the raw documents under `dir` through `visit(blueprint, digest)`, which
/// answers false for a blueprint it has already seen. Files are read, parsed and
/// canonicalised on every core; `visit` sees them in path order. Returns how many
/// documents of untracked doctypes were skipped.
fn for_each_raw_doc(
    dir: &Path,
    mut visit: impl FnMut(Blueprint, Digest) -> anyhow::Result<bool>,
) -> anyhow::Result<usize> {
    if !dir.is_dir() {
        bail!("{} is not a directory of Frappe JSON files", dir.display());
    }
    let mut files = Vec::new();
    collect_json_files(dir, &mut files)?;
    let mut skipped = 0;
    in_order_on_all_cores(
        files.len(),
        |i| read_raw_file(&files[i]),
        |i, (blueprints, untracked): RawFile| {
            skipped += untracked;
            for (bp, digest) in blueprints {
                let (kind, name) = (bp.kind, bp.name.clone());
                if !visit(bp, digest)? {
                    bail!(
                        "{}: {kind} {name:?} appears twice in {}",
                        files[i].display(),
                        dir.display()
                    );
                }
            }
            Ok(())
        },
    )?;
    Ok(skipped)
}

/// One raw file, canonicalised.
fn read_raw_file(file: &Path) -> anyhow::Result<RawFile> {
    let bytes = fs::read(file).with_context(|| format!("while reading {}", file.display()))?;
    let value: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not valid JSON", file.display()))?;
    drop(bytes);
    let docs = match unwrap_rest_body(value) {
        Value::Array(docs) => docs,
        doc => vec![doc],
    };
    let mut blueprints = Vec::with_capacity(docs.len());
    let mut untracked = 0;
    for doc in docs {
        match canonicalize_with_digest(doc) {
            Ok(pair) => blueprints.push(pair),
            Err(BlueprintError::UntrackedDoctype(_)) => untracked += 1,
            Err(err) => {
                return Err(anyhow::Error::new(err).context(format!("in {}", file.display())))
            }
        }
    }
    Ok((blueprints, untracked))
}

/// The REST envelope `{"data": …}` (Frappe v1's answer to a document or list read)
/// gives way to what it holds. A document is never mistaken for one: every Frappe
/// document has a `doctype`, and the envelope has no other key.
fn unwrap_rest_body(value: Value) -> Value {
    match value {
        Value::Object(mut map)
            if map.len() == 1
                && matches!(map.get("data"), Some(Value::Object(_) | Value::Array(_))) =>
        {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for (path, is_dir, _) in typed_entries(dir)? {
        if is_dir {
            collect_json_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// `lockstep diff --raw <raw_dir> --against <canonical_dir>`: canonicalises the raw
/// Frappe documents, reads the canonical files, and renders the drift as PRODUCT.md §3
/// does. Returns the report and whether the two differ (the CLI exits 1 then).
///
/// Built for large trees: the canonical side is held as a [`FolderIndex`] (digests
/// only) and the raw side streams through a [`DriftBuilder`], one document at a time;
/// both are read on every core.
pub fn diff_raw_against_canonical(
    raw_dir: &Path,
    canonical_dir: &Path,
) -> anyhow::Result<(String, bool)> {
    let git = index_dir(canonical_dir)?;
    let mut builder = git.drift_builder();
    let skipped = for_each_raw_doc(raw_dir, |bp, digest| {
        Ok(builder.add_with_digest(&bp, digest))
    })?;
    let drift = builder.finish_with(|kind, name| git.body(kind, name))?;
    let options = RenderOptions::new(
        raw_dir.display().to_string(),
        canonical_dir.display().to_string(),
    );
    let mut report = drift.render(&options);
    if skipped > 0 {
        report.push_str(&format!(
            "({skipped} documents of untracked doctypes ignored)\n"
        ));
    }
    Ok((report, !drift.is_empty()))
}

/// Every known folder under `dir` that exists, for callers that want to mention them.
pub fn present_folders(dir: &Path) -> BTreeSet<&'static str> {
    Kind::ALL
        .iter()
        .map(|k| k.folder())
        .filter(|f| dir.join(f).is_dir())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonical::canonicalize;
    use serde_json::json;

    fn sample_set() -> BlueprintSet {
        [
            json!({"doctype": "Role", "name": "Field Officer", "role_name": "Field Officer"}),
            json!({"doctype": "Custom Field", "name": "Grant-field_officer", "dt": "Grant", "fieldname": "field_officer", "fieldtype": "Link", "options": "User"}),
        ]
        .iter()
        .map(|v| canonicalize(v).unwrap())
        .collect()
    }

    #[test]
    fn write_then_read_gives_the_same_set_and_removes_stale_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("roles")).unwrap();
        fs::write(dir.path().join("roles/old.json"), b"{}").unwrap();
        fs::create_dir_all(dir.path().join("_site")).unwrap();
        fs::write(dir.path().join("_site/users.json"), b"[]").unwrap();
        let set = sample_set();
        write_dir(&set, dir.path()).unwrap();
        assert!(!dir.path().join("roles/old.json").exists());
        assert!(dir.path().join("_site/users.json").exists());
        assert!(dir
            .path()
            .join("custom_fields/grant-field_officer.json")
            .exists());
        assert_eq!(read_dir(dir.path()).unwrap(), set);
        assert_eq!(
            read_dir_compact(dir.path()).unwrap(),
            CompactSet::from(&set)
        );
        assert_eq!(
            present_folders(dir.path()).into_iter().collect::<Vec<_>>(),
            vec!["custom_fields", "roles"]
        );
    }

    #[test]
    fn raw_dir_against_canonical_dir() {
        let raw = tempfile::tempdir().unwrap();
        let canonical = tempfile::tempdir().unwrap();
        write_dir(&sample_set(), canonical.path()).unwrap();
        let docs = json!([
            {"doctype": "Role", "name": "Field Officer", "role_name": "Field Officer", "modified": "2024-01-01", "idx": 0},
            {"doctype": "User", "name": "a@example.com"}
        ]);
        fs::create_dir_all(raw.path().join("nested")).unwrap();
        fs::write(raw.path().join("nested/docs.json"), docs.to_string()).unwrap();
        let (report, differs) = diff_raw_against_canonical(raw.path(), canonical.path()).unwrap();
        assert!(differs);
        assert!(report.contains("only_in_git:     1"), "{report}");
        assert!(
            report.contains("1 documents of untracked doctypes ignored"),
            "{report}"
        );

        let cf = json!({"doctype": "Custom Field", "name": "Grant-field_officer", "dt": "Grant", "fieldname": "field_officer", "fieldtype": "Link", "options": "User", "owner": "x"});
        fs::write(raw.path().join("cf.json"), cf.to_string()).unwrap();
        let (_, differs) = diff_raw_against_canonical(raw.path(), canonical.path()).unwrap();
        assert!(!differs);
    }

    #[test]
    fn rest_bodies_are_read_as_their_documents() {
        let raw = tempfile::tempdir().unwrap();
        let canonical = tempfile::tempdir().unwrap();
        write_dir(&sample_set(), canonical.path()).unwrap();
        // GET one document: {"data": {...}}; a list answer: {"data": [...]}.
        let role = json!({"data": {"doctype": "Role", "name": "Field Officer", "role_name": "Field Officer", "modified": "x"}});
        let fields = json!({"data": [{"doctype": "Custom Field", "name": "Grant-field_officer", "dt": "Grant",
            "fieldname": "field_officer", "fieldtype": "Link", "options": "User", "description": null}]});
        fs::write(raw.path().join("role.json"), role.to_string()).unwrap();
        fs::write(raw.path().join("fields.json"), fields.to_string()).unwrap();
        let (set, skipped) = read_raw_dir(raw.path()).unwrap();
        assert_eq!((set, skipped), (sample_set(), 0));
        let (report, differs) = diff_raw_against_canonical(raw.path(), canonical.path()).unwrap();
        assert!(!differs, "{report}");
        // A document that happens to have a `data` field stays a document.
        let doc = json!({"doctype": "Role", "name": "Data Keeper", "data": {"x": 1}});
        assert_eq!(unwrap_rest_body(doc.clone()), doc);
    }

    #[test]
    fn many_files_are_read_in_path_order_on_every_core() {
        let raw = tempfile::tempdir().unwrap();
        for i in 0..300 {
            let doc = json!({"data": {"doctype": "Role", "name": format!("Role {i:03}"), "role_name": "x"}});
            fs::write(raw.path().join(format!("{i:03}.json")), doc.to_string()).unwrap();
        }
        fs::write(
            raw.path().join("150-again.json"),
            json!({"doctype": "Role", "name": "Role 150"}).to_string(),
        )
        .unwrap();
        fs::write(raw.path().join("200-broken.json"), b"{").unwrap();
        // The duplicate (150.json, read after 150-again.json) is reported, not the
        // broken file after it, whichever thread read what first.
        let err = read_raw_dir(raw.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("/150.json: Role \"Role 150\" appears twice"),
            "{err:#}"
        );
        fs::remove_file(raw.path().join("150-again.json")).unwrap();
        let err = read_raw_dir(raw.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("200-broken.json: not valid JSON"),
            "{err:#}"
        );
        fs::remove_file(raw.path().join("200-broken.json")).unwrap();
        let (set, _) = read_raw_dir(raw.path()).unwrap();
        assert_eq!(set.len(), 300);
    }

    #[test]
    fn missing_dirs_are_named() {
        let err = read_dir(Path::new("/nonexistent/lockstep")).unwrap_err();
        assert!(err
            .to_string()
            .contains("/nonexistent/lockstep is not a directory"));
    }
}
