//! The REST drift (`SiteReader::for_each_blueprint` streamed into a `DriftBuilder`
//! over the folder's `CompactSet`, as `lockstep diff --site` runs it) against the
//! folder diff (the site canonicalised whole, `diff` against `files::read_dir`): the
//! same buckets and the same explanations, on a generated site with changed,
//! site-only and git-only blueprints and child tables (DocType fields and
//! permissions, Workflow states and transitions, Report roles), read in small pages
//! so that paging and concurrency are exercised, and with a kind whose `get_count`
//! falls short of its list (NULL `is_standard`).

use lockstep::blueprint::files::{read_dir, read_dir_compact, write_dir};
use lockstep::blueprint::{canonicalize_owned, diff, BlueprintSet, DriftBuilder, Kind};
use lockstep::frappe::{ApiCredentials, FetchOptions, SiteConfig, SiteName, SiteReader};
use lockstep_sim::frappe::{FrappeSim, SiteSeed};
use lockstep_sim::synth::{git_docs, raw_docs, SynthSpec};
use serde_json::{json, Value};

fn reader(sim: &FrappeSim) -> SiteReader {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = SiteConfig::new(
        SiteName::new("site").unwrap(),
        sim.url().parse().unwrap(),
        ApiCredentials::new(FrappeSim::api_key("site"), FrappeSim::api_secret("site")),
    );
    config.site_header = Some("site".into());
    config.concurrency = 4;
    SiteReader::new(config).unwrap()
}

/// Kinds with child tables beyond DocType, in raw Frappe shape (row names, idx).
fn workflow(name: &str, approver: &str) -> Value {
    json!({"doctype": "Workflow", "name": name, "workflow_name": name, "owner": "Administrator",
        "modified": "2024-05-03 13:00:00.123456", "document_type": "Synth Doctype 0001", "is_active": 1,
        "workflow_state_field": "workflow_state", "_user_tags": null,
        "states": [
            {"name": "r2", "idx": 2, "parent": name, "parentfield": "states", "parenttype": "Workflow",
             "doctype": "Workflow Document State", "state": "Approved", "doc_status": "1", "allow_edit": approver},
            {"name": "r1", "idx": 1, "parent": name, "parentfield": "states", "parenttype": "Workflow",
             "doctype": "Workflow Document State", "state": "Draft", "doc_status": "0", "allow_edit": "Manager"}],
        "transitions": [{"name": "t1", "idx": 1, "state": "Draft", "action": "Approve", "next_state": "Approved",
             "allowed": approver, "allow_self_approval": 1, "condition": null}]})
}

fn report(name: &str, roles: &[&str]) -> Value {
    let roles: Vec<Value> = roles.iter().map(|r| json!({"role": r})).collect();
    json!({"doctype": "Report", "name": name, "report_name": name, "ref_doctype": "Synth Doctype 0002",
        "report_type": "Report Builder", "is_standard": "No", "roles": roles})
}

fn card(name: &str, standard: Option<i64>) -> Value {
    let mut doc = json!({"doctype": "Number Card", "name": name, "label": name,
        "document_type": "Synth Doctype 0003", "function": "Count", "filters_json": "[]"});
    if let Some(flag) = standard {
        doc["is_standard"] = json!(flag);
    }
    doc
}

#[tokio::test]
async fn rest_drift_buckets_equal_the_folder_diff() {
    let spec = SynthSpec::SMALL;
    // The site: the synthetic documents plus kinds with other child tables.
    let mut site_docs = raw_docs(&spec);
    site_docs.extend([
        workflow("Synth Approval", "Manager"),
        workflow("Site Only Approval", "Manager"),
        report("Synth Report", &["Manager", "Field Officer"]),
        card("Card 1", Some(0)),
        card("Card 2", Some(0)),
        card("Card 3", Some(0)),
        // Listed (NULL reads as 0 in a list) but not counted by get_count.
        card("Card 4", None),
    ]);
    // Git: the synthetic perturbation, a changed workflow and report, a git-only one.
    let (mut git_raw, done) = git_docs(spec);
    git_raw.extend([
        workflow("Synth Approval", "Field Officer"),
        workflow("Git Only Approval", "Manager"),
        report("Synth Report", &["Manager"]),
        card("Card 1", Some(0)),
        card("Card 2", Some(0)),
        card("Card 3", Some(0)),
        card("Card 4", None),
    ]);
    let git_set: BlueprintSet = git_raw
        .into_iter()
        .map(|d| canonicalize_owned(d).unwrap())
        .collect();
    let git_dir = tempfile::tempdir().unwrap();
    write_dir(&git_set, git_dir.path()).unwrap();

    // The folder diff: the site canonicalised whole, against the folder read back.
    let site_set: BlueprintSet = site_docs
        .into_iter()
        .map(|d| canonicalize_owned(d).unwrap())
        .collect();
    let expected = diff(&site_set, &read_dir(git_dir.path()).unwrap());
    assert_eq!(expected.only_on_site.len(), done.removed + 1);
    assert_eq!(expected.only_in_git.len(), done.added + 1);
    assert_eq!(expected.changed.len(), done.changed + 2);
    assert!(expected
        .changed
        .iter()
        .any(|c| c.kind == Kind::Workflow && c.name == "Synth Approval"));

    // Seeded in canonical row order: a site stores a table's rows by position and
    // numbers `idx` from it, as Frappe does; the sim adds the volatile fields back.
    let mut seed = SiteSeed::empty("site");
    seed.documents = site_set.iter().map(|b| b.body.clone()).collect();
    let sim = FrappeSim::start_with(vec![seed], "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let reader = reader(&sim);
    let git = read_dir_compact(git_dir.path()).unwrap();
    for page_length in [3, 7, 2_000] {
        let options = FetchOptions {
            page_length,
            ..FetchOptions::default()
        };
        let mut builder = DriftBuilder::over_compact(&git);
        let before = sim.requests_made();
        let stats = reader
            .for_each_blueprint(&options, |blueprint, digest| {
                assert!(
                    builder.add_with_digest(&blueprint, digest),
                    "{blueprint:?} twice"
                );
            })
            .await
            .unwrap();
        assert_eq!(builder.finish(), expected, "page length {page_length}");
        assert_eq!(stats.blueprints, site_set.len());
        assert_eq!(stats.requests, sim.requests_made() - before);
        // The same read, collected, is the site set itself.
        let fetched = reader.fetch_blueprints(&options).await.unwrap();
        assert_eq!(fetched, site_set, "page length {page_length}");
    }

    // Flat kinds come from their lists: far fewer requests than one per document.
    let options = FetchOptions::default();
    let stats = reader
        .for_each_blueprint(&options, |_, _| {})
        .await
        .unwrap();
    let with_children = spec.doctypes + 3;
    assert!(
        (stats.requests as usize) < with_children + 2 * Kind::ALL.len() + 4,
        "{} requests for {} blueprints",
        stats.requests,
        stats.blueprints
    );
}

#[tokio::test]
async fn a_count_short_of_the_list_still_reads_every_row() {
    let mut seed = SiteSeed::empty("site");
    seed.documents = vec![
        card("Card 1", Some(0)),
        card("Card 2", Some(0)),
        card("Card 3", Some(0)),
        card("Card 4", None),
        card("Standard", Some(1)),
    ];
    let sim = FrappeSim::start_with(vec![seed], "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let options = FetchOptions {
        kinds: vec![Kind::NumberCard],
        page_length: 3,
        ..FetchOptions::default()
    };
    let set = reader(&sim).fetch_blueprints(&options).await.unwrap();
    let names: Vec<&str> = set.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["Card 1", "Card 2", "Card 3", "Card 4"]);
}
