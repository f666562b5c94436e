//! `blueprint::files::diff_raw_against_canonical`, the library side of
//! `lockstep diff --raw <dir> --against <dir>`, on the synthetic data set written to disk.

use lockstep::blueprint::files::{diff_raw_against_canonical, read_dir, read_raw_dir, write_dir};
use lockstep::blueprint::{canonicalize_owned, BlueprintSet};
use lockstep_sim::synth::{git_docs, raw_docs, write_raw_dir, SynthSpec};

#[test]
fn raw_tree_against_canonical_tree() {
    let raw = tempfile::tempdir().unwrap();
    let canonical = tempfile::tempdir().unwrap();
    let spec = SynthSpec::SMALL;
    write_raw_dir(&raw_docs(&spec), raw.path()).unwrap();
    let (git, done) = git_docs(spec);
    let git: BlueprintSet = git
        .into_iter()
        .map(|doc| canonicalize_owned(doc).unwrap())
        .collect();
    write_dir(&git, canonical.path()).unwrap();

    let (report, differs) = diff_raw_against_canonical(raw.path(), canonical.path()).unwrap();
    assert!(differs);
    assert!(
        report.contains(&format!("only_on_site:    {}", done.removed)),
        "{report}"
    );
    assert!(
        report.contains(&format!("only_in_git:     {}", done.added)),
        "{report}"
    );
    assert!(
        report.contains(&format!("changed:         {}", done.changed)),
        "{report}"
    );
    let total = done.removed + done.added + done.changed;
    assert!(
        report.ends_with(&format!(
            "Summary: {total} differences. Resolve before promote.\n"
        )),
        "{report}"
    );

    // The raw tree canonicalised and written out is identical to itself read back.
    let (site, skipped) = read_raw_dir(raw.path()).unwrap();
    assert_eq!(skipped, 0);
    let same = tempfile::tempdir().unwrap();
    lockstep::blueprint::files::write_dir(&site, same.path()).unwrap();
    assert_eq!(read_dir(same.path()).unwrap(), site);
    let (report, differs) = diff_raw_against_canonical(raw.path(), same.path()).unwrap();
    assert!(!differs, "{report}");
    assert!(
        report.ends_with("Summary: clean. Ready to promote.\n"),
        "{report}"
    );
}

#[test]
fn bad_input_is_named() {
    let raw = tempfile::tempdir().unwrap();
    let canonical = tempfile::tempdir().unwrap();
    std::fs::write(raw.path().join("broken.json"), b"{\"doctype\": ").unwrap();
    let err = diff_raw_against_canonical(raw.path(), canonical.path()).unwrap_err();
    assert!(
        format!("{err:#}").contains("broken.json: not valid JSON"),
        "{err:#}"
    );

    std::fs::remove_file(raw.path().join("broken.json")).unwrap();
    std::fs::create_dir_all(canonical.path().join("roles")).unwrap();
    std::fs::write(
        canonical.path().join("roles/x.json"),
        br#"{"doctype": "DocType", "name": "X"}"#,
    )
    .unwrap();
    let err = diff_raw_against_canonical(raw.path(), canonical.path()).unwrap_err();
    assert!(
        format!("{err:#}").contains("roles/x.json: holds a DocType but sits in roles/"),
        "{err:#}"
    );
}
