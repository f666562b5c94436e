//! `lockstep export` of the example sites (config/demo/sites) through the
//! Frappe-compatible sim gives back the seed files byte for byte, and `diff`
//! against the seeds finds nothing; a hand edit on the site shows up as drift.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lockstep::blueprint::{diff, files, Kind};
use lockstep::frappe::{
    ApiCredentials, FetchOptions, SiteConfig, SiteName, SiteReader, StagingSite,
};
use lockstep_sim::frappe::FrappeSim;
use serde_json::json;

fn sites_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/demo/sites")
}

fn reader(sim: &FrappeSim, site: &str) -> SiteReader {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = SiteConfig::new(
        SiteName::new(site).unwrap(),
        sim.url().parse().unwrap(),
        ApiCredentials::new(FrappeSim::api_key(site), FrappeSim::api_secret(site)),
    );
    config.site_header = Some(site.into());
    SiteReader::new(config).unwrap()
}

fn options() -> FetchOptions {
    FetchOptions::default()
}

fn tree(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name == "_site" {
            // Site-only records are part of the site, at their usual paths.
            let only_on_site = path.join("only_on_site");
            if only_on_site.is_dir() {
                tree(&only_on_site, prefix, out);
            }
            continue;
        }
        if name.starts_with('_') {
            continue;
        }
        if path.is_dir() {
            tree(&path, &format!("{prefix}{name}/"), out);
        } else {
            out.insert(format!("{prefix}{name}"), std::fs::read(&path).unwrap());
        }
    }
}

#[tokio::test]
async fn export_of_each_example_site_equals_its_seed_files_byte_for_byte() {
    let sim = FrappeSim::start(&sites_dir()).await.unwrap();
    for site in ["staging", "prod"] {
        let set = reader(&sim, site)
            .fetch_blueprints(&options())
            .await
            .unwrap();
        let out = tempfile::tempdir().unwrap();
        files::write_dir(&set, out.path()).unwrap();
        let (mut seeded, mut exported) = (BTreeMap::new(), BTreeMap::new());
        tree(&sites_dir().join(site), "", &mut seeded);
        tree(out.path(), "", &mut exported);
        assert_eq!(
            seeded.keys().collect::<Vec<_>>(),
            exported.keys().collect::<Vec<_>>(),
            "site {site}: file lists differ"
        );
        for (path, bytes) in &seeded {
            assert!(
                bytes == &exported[path],
                "site {site}: {path} differs:\n{}",
                String::from_utf8_lossy(&exported[path])
            );
        }
    }
}

#[tokio::test]
async fn diff_against_the_seeds_is_empty_until_someone_edits_the_site() {
    let sim = FrappeSim::start(&sites_dir()).await.unwrap();
    let staging = reader(&sim, "staging");
    let git = files::read_dir(&sites_dir().join("staging")).unwrap();
    let site = staging.fetch_blueprints(&options()).await.unwrap();
    // The seed's one hand edit: Quick Test, made on the site and never captured.
    let drift = diff(&site, &git);
    assert_eq!(
        drift.only_on_site,
        [(Kind::DocType, "Quick Test".to_string())]
    );
    assert_eq!(drift.len(), 1);
    StagingSite::new(staging.config().clone())
        .unwrap()
        .delete("DocType", "Quick Test")
        .await
        .unwrap();
    let site = staging.fetch_blueprints(&options()).await.unwrap();
    assert!(diff(&site, &git).is_empty());

    let mut grant = sim.get_doc("staging", "DocType", "Grant").unwrap();
    grant["fields"][0]["label"] = json!("Edited on the site");
    sim.set_doc("staging", grant).unwrap();
    sim.set_doc("staging", json!({"doctype": "Workflow State", "name": "Escalated", "workflow_state_name": "Escalated"})).unwrap();
    let site = staging.fetch_blueprints(&options()).await.unwrap();
    let drift = diff(&site, &git);
    assert_eq!(drift.len(), 2, "{drift:?}");
}
