//! The example sites in `config/demo/sites/{staging,prod}`: canonical, valid, chosen by
//! the tracked filters, and holding the walkthrough's world; plus snapshots of the
//! drift, families and validation findings rendered on them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lockstep::blueprint::families::{families, split_proposal};
use lockstep::blueprint::files::read_dir;
use lockstep::blueprint::layout::write_tree;
use lockstep::blueprint::render::RenderOptions;
use lockstep::blueprint::validate::{validate, ValidationPolicy};
use lockstep::blueprint::{canonicalize, diff, BlueprintSet, Kind};
use serde_json::{json, Value};

fn site_dir(site: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/demo/sites")
        .join(site)
}

/// Everything the site holds: its blueprint folders (what git has too) plus
/// `_site/only_on_site/` (hand edits git never saw, such as staging's Quick Test).
fn site(site: &str) -> BlueprintSet {
    let mut set = read_dir(&site_dir(site)).unwrap();
    let only_on_site = site_dir(site).join("_site/only_on_site");
    if only_on_site.is_dir() {
        for blueprint in read_dir(&only_on_site).unwrap().iter() {
            set.insert(blueprint.clone());
        }
    }
    set
}

fn files_on_disk(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for kind in Kind::ALL {
        let Ok(entries) = std::fs::read_dir(dir.join(kind.folder())) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let rel = format!(
                "{}/{}",
                kind.folder(),
                path.file_name().unwrap().to_str().unwrap()
            );
            files.insert(rel, std::fs::read(&path).unwrap());
        }
    }
    files
}

#[test]
fn seed_files_are_byte_identical_to_what_the_bot_writes() {
    for name in ["staging", "prod"] {
        let dir = site_dir(name);
        let mut on_disk = files_on_disk(&dir);
        on_disk.extend(files_on_disk(&dir.join("_site/only_on_site")));
        let written = write_tree(&site(name));
        assert_eq!(
            on_disk.keys().collect::<Vec<_>>(),
            written.keys().collect::<Vec<_>>(),
            "{name}: file names"
        );
        for (path, bytes) in &written {
            assert!(on_disk[path] == *bytes, "{name}/{path} is not canonical");
        }
    }
}

#[test]
fn seeds_pass_validation() {
    for name in ["staging", "prod"] {
        let findings = validate(&site(name), &ValidationPolicy::default());
        assert!(findings.is_empty(), "{name}: {findings:#?}");
    }
}

/// Evaluates the `=` and `not in` filters `Kind::tracked_filters` uses.
fn matches_filters(body: &Value, filters: &Value) -> bool {
    filters.as_array().unwrap().iter().all(|f| {
        let (field, op, want) = (f[0].as_str().unwrap(), f[1].as_str().unwrap(), &f[2]);
        let have = body.get(field).cloned().unwrap_or(Value::Null);
        match op {
            "=" => have == *want,
            "not in" => !want.as_array().unwrap().contains(&have),
            other => panic!("unexpected operator {other}"),
        }
    })
}

#[test]
fn every_seed_blueprint_is_tracked_and_named_as_frappe_names_it() {
    for name in ["staging", "prod"] {
        for bp in site(name).iter() {
            assert!(
                matches_filters(&bp.body, &bp.kind.tracked_filters()),
                "{name}: {} {:?} is not chosen by its tracked filters",
                bp.kind,
                bp.name
            );
            if let Some(expected) = bp.kind.expected_name(&bp.body) {
                assert_eq!(expected, bp.name, "{name}: {} name", bp.kind);
            }
        }
    }
}

fn users(site: &str) -> Vec<Value> {
    let bytes = std::fs::read(site_dir(site).join("_site/users.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn enabled_per_role(users: &[Value]) -> BTreeMap<String, (usize, usize)> {
    let mut counts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for user in users {
        assert_eq!(user["doctype"], "User");
        assert_eq!(user["name"], user["email"]);
        assert_eq!(user["user_type"], "System User");
        for role in user["roles"].as_array().unwrap() {
            let entry = counts
                .entry(role["role"].as_str().unwrap().to_owned())
                .or_default();
            if user["enabled"] == 1 {
                entry.0 += 1;
            } else {
                assert_eq!(user["enabled"], 0);
                entry.1 += 1;
            }
        }
    }
    counts
}

#[test]
fn site_folders_hold_users_and_time_zone() {
    let prod = enabled_per_role(&users("prod"));
    assert_eq!(prod["Manager"].0, 3);
    assert_eq!(prod["Field Officer"].0, 27);
    assert_eq!(prod["Program Officer"].0, 8);
    assert!(prod.values().map(|(_, disabled)| disabled).sum::<usize>() >= 3);
    let staging = users("staging");
    assert!((3..=8).contains(&staging.len()));
    for name in ["staging", "prod"] {
        let bytes = std::fs::read(site_dir(name).join("_site/site.json")).unwrap();
        let site_json: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(site_json["time_zone"], "Asia/Kolkata");
    }
}

#[test]
fn the_walkthrough_world() {
    let staging = site("staging");
    let prod = site("prod");
    for (kind, name) in [
        (Kind::DocType, "Beneficiary"),
        (Kind::DocType, "Experiment Assignment"),
        (Kind::DocType, "Quick Test"),
        (Kind::Workflow, "Beneficiary Approval"),
        (Kind::CustomField, "Grant-field_officer"),
        (Kind::Dashboard, "Beneficiary Operations"),
        (Kind::ServerScript, "Experiment Assignment Defaults"),
    ] {
        assert!(staging.contains(kind, name), "staging lacks {kind} {name}");
        assert!(!prod.contains(kind, name), "prod has {kind} {name}");
    }
    for (kind, name) in [
        (Kind::DocType, "Grant"),
        (Kind::Role, "Field Officer"),
        (Kind::Role, "Program Officer"),
        (Kind::Role, "Manager"),
    ] {
        assert!(
            staging.contains(kind, name) && prod.contains(kind, name),
            "{kind} {name}"
        );
    }
    let fields: Vec<&str> = staging.get(Kind::DocType, "Beneficiary").unwrap().body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fieldname"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "full_name",
            "village",
            "age",
            "aadhaar_number",
            "field_officer"
        ]
    );
}

#[test]
fn drift_between_the_example_sites() {
    let drift = diff(&site("staging"), &site("prod"));
    let text = drift.render(&RenderOptions::new(
        "http://staging.localhost",
        "main@0000000",
    ));
    insta::assert_snapshot!("staging_vs_prod", text);
}

#[test]
fn drift_after_a_hand_edit_on_staging() {
    let git = site("staging");
    let mut edited = git.clone();
    let mut beneficiary = edited
        .get(Kind::DocType, "Beneficiary")
        .unwrap()
        .body
        .clone();
    beneficiary["fields"][2]["non_negative"] = json!(0);
    beneficiary["fields"].as_array_mut().unwrap().swap(0, 1);
    edited.insert(canonicalize(&beneficiary).unwrap());
    edited.remove(Kind::DocType, "Quick Test");
    let text = diff(&edited, &git).render(&RenderOptions::new(
        "http://staging.localhost",
        "staging@3f2a9c1",
    ));
    insta::assert_snapshot!("hand_edit_on_staging", text);
}

#[test]
fn families_of_what_staging_would_promote() {
    let staging = site("staging");
    let prod = site("prod");
    let drift = diff(&staging, &prod);
    let set: BlueprintSet = drift
        .ids()
        .into_iter()
        .filter_map(|(kind, name)| staging.get(kind, &name).cloned())
        .collect();
    let found = families(&set);
    let listing: Vec<String> = found
        .iter()
        .map(|f| {
            let members: Vec<String> = f
                .members
                .iter()
                .map(|(k, n)| format!("{k} {n:?}"))
                .collect();
            format!("{} [{}]: {}", f.name, f.slug, members.join(", "))
        })
        .collect();
    insta::assert_snapshot!("families", listing.join("\n"));
    insta::assert_snapshot!("split_proposal", split_proposal(&found).join("\n"));
}

#[test]
fn validation_findings_on_a_broken_copy_of_the_example() {
    let staging = site("staging");
    let mut broken = BlueprintSet::new();
    let mut workflow = staging
        .get(Kind::Workflow, "Beneficiary Approval")
        .unwrap()
        .body
        .clone();
    // Drop the "Reviewed" state and the role on the first transition.
    workflow["states"].as_array_mut().unwrap().remove(2);
    workflow["transitions"][0]["allowed"] = json!("");
    broken.insert(canonicalize(&workflow).unwrap());
    let mut beneficiary = staging
        .get(Kind::DocType, "Beneficiary")
        .unwrap()
        .body
        .clone();
    beneficiary["fields"][3]["fieldtype"] = json!("Password");
    beneficiary["permissions"][1]["role"] = json!("System Manager");
    broken.insert(canonicalize(&beneficiary).unwrap());
    let mut note = staging
        .get(Kind::DocType, "Quick Test")
        .unwrap()
        .body
        .clone();
    note["name"] = json!("ToDo");
    broken.insert(canonicalize(&note).unwrap());
    let findings: Vec<String> = validate(&broken, &ValidationPolicy::default())
        .iter()
        .map(ToString::to_string)
        .collect();
    insta::assert_snapshot!("broken_example_findings", findings.join("\n"));
}
