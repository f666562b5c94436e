//! The one I/O corner of `blueprint`: `std::fs` helpers to read and write a folder of
//! canonical files (seed sites, a checked-out `fixtures/app/`), and the library side of
//! `lockstep diff --raw <dir> --against <dir>`. Blocking std::fs only, no tokio; it
//! must not grow into a sync engine (that is the bot's workflow).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

use super::canonical::{canonicalize_with_digest, Blueprint, BlueprintError, BlueprintSet, Digest};
use super::compact::CompactSet;
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
/// digested and dropped before the next is read.
pub fn read_dir_compact(dir: &Path) -> anyhow::Result<CompactSet> {
    let mut set = CompactSet::new();
    for_each_tree_file(dir, |rel, bytes| {
        if let Some((bp, digest)) = parse_file(rel, bytes)? {
            if !set.insert_with_digest(&bp, digest) {
                bail!(
                    "{rel}: {} {:?} is in another file too; keep one of the two",
                    bp.kind,
                    bp.name
                );
            }
        }
        Ok(())
    })?;
    Ok(set)
}

/// Calls `visit(path relative to dir, bytes)` for every `*.json` file directly in a
/// tracked folder of `dir`, in path order.
fn for_each_tree_file(
    dir: &Path,
    mut visit: impl FnMut(&str, &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!(
            "{} is not a directory of blueprint folders (doctypes/, roles/, …)",
            dir.display()
        );
    }
    for kind in Kind::ALL {
        let folder = dir.join(kind.folder());
        if !folder.is_dir() {
            continue;
        }
        for entry in sorted_entries(&folder)? {
            let Some(file_name) = entry.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let rel = format!("{}/{file_name}", kind.folder());
            if !TreeReader::wants(&rel) || !entry.is_file() {
                continue;
            }
            let bytes =
                fs::read(&entry).with_context(|| format!("while reading {}", entry.display()))?;
            visit(&rel, &bytes).with_context(|| format!("while reading {}", dir.display()))?;
        }
    }
    Ok(())
}

fn sorted_entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let listing = fs::read_dir(dir).with_context(|| format!("while listing {}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in listing {
        paths.push(
            entry
                .with_context(|| format!("while listing {}", dir.display()))?
                .path(),
        );
    }
    paths.sort();
    Ok(paths)
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
/// path order) is one document or an array of documents, as `GET /api/resource/<DT>/<name>`
/// returns in `data`. Documents of untracked doctypes are counted and skipped.
pub fn read_raw_dir(dir: &Path) -> anyhow::Result<(BlueprintSet, usize)> {
    let mut set = BlueprintSet::new();
    let skipped = for_each_raw_doc(dir, |bp, digest| {
        Ok(set.insert_with_digest(bp, digest).is_none())
    })?;
    Ok((set, skipped))
}

/// Streams the raw documents under `dir` through `visit(blueprint, digest)`, which
/// answers false for a blueprint it has already seen. Returns how many documents of
/// untracked doctypes were skipped.
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
    for file in files {
        let bytes = fs::read(&file).with_context(|| format!("while reading {}", file.display()))?;
        let value: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: not valid JSON", file.display()))?;
        drop(bytes);
        let docs = match value {
            Value::Array(docs) => docs,
            doc => vec![doc],
        };
        for doc in docs {
            match canonicalize_with_digest(doc) {
                Ok((bp, digest)) => {
                    let (kind, name) = (bp.kind, bp.name.clone());
                    if !visit(bp, digest)? {
                        bail!(
                            "{}: {kind} {name:?} appears twice in {}",
                            file.display(),
                            dir.display()
                        );
                    }
                }
                Err(BlueprintError::UntrackedDoctype(_)) => skipped += 1,
                Err(err) => {
                    return Err(anyhow::Error::new(err).context(format!("in {}", file.display())))
                }
            }
        }
    }
    Ok(skipped)
}

fn collect_json_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for path in sorted_entries(dir)? {
        if path.is_dir() {
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
/// Built for large trees: the canonical side is held as a [`CompactSet`] and the raw
/// side streams through a [`DriftBuilder`], one document at a time.
pub fn diff_raw_against_canonical(
    raw_dir: &Path,
    canonical_dir: &Path,
) -> anyhow::Result<(String, bool)> {
    let git = read_dir_compact(canonical_dir)?;
    let mut builder = DriftBuilder::over_compact(&git);
    let skipped = for_each_raw_doc(raw_dir, |bp, digest| {
        Ok(builder.add_with_digest(&bp, digest))
    })?;
    let drift = builder.finish();
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
    fn missing_dirs_are_named() {
        let err = read_dir(Path::new("/nonexistent/lockstep")).unwrap_err();
        assert!(err
            .to_string()
            .contains("/nonexistent/lockstep is not a directory"));
    }
}
