//! Reading a site folder: canonical blueprint files in kind folders, plus
//! `_site/users.json`, `_site/site.json`, and `_site/only_on_site/` (blueprint files
//! the site has but git does not: hand edits, for drift). The sim reads these JSON files itself
//! (it never imports the bot's blueprint module), and turns canonical bodies back
//! into raw Frappe documents (see `store::SiteData::put_raw`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

/// Kind folders in the order `bench migrate` must apply them so Links resolve:
/// roles and states before the workflows that name them, DocTypes before what
/// hangs off them, charts and cards before dashboards.
pub const FOLDERS_IN_APPLY_ORDER: [&str; 15] = [
    "roles",
    "workflow_states",
    "workflow_actions",
    "doctypes",
    "custom_fields",
    "property_setters",
    "workflows",
    "dashboard_charts",
    "number_cards",
    "dashboards",
    "reports",
    "server_scripts",
    "client_scripts",
    "notifications",
    "print_formats",
];

/// `_site/<this>/` holds blueprint files present on the site but not in git.
pub const ONLY_ON_SITE: &str = "only_on_site";

/// Everything needed to create one simulated site.
#[derive(Debug, Clone)]
pub struct SiteSeed {
    pub name: String,
    /// Canonical (or raw) documents, each with `doctype` and `name`.
    pub documents: Vec<Value>,
    /// User documents (`_site/users.json`).
    pub users: Vec<Value>,
    pub time_zone: String,
    pub developer_mode: bool,
}

impl SiteSeed {
    pub fn empty(name: &str) -> SiteSeed {
        SiteSeed {
            name: name.to_string(),
            documents: Vec::new(),
            users: Vec::new(),
            time_zone: "UTC".into(),
            developer_mode: false,
        }
    }

    /// Reads `<dir>` (one site folder). The site is named after the folder.
    pub fn from_dir(dir: &Path) -> anyhow::Result<SiteSeed> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("site folder {} has no usable name", dir.display()))?;
        let mut seed = SiteSeed::empty(name);
        seed.documents = read_blueprint_folder(dir)?;
        let site_dir = dir.join("_site");
        // Records made on the site by hand and never captured into git: the same
        // folder layout, kept apart so a config repo seeded from `<dir>` lacks them.
        let only_on_site = site_dir.join(ONLY_ON_SITE);
        if only_on_site.is_dir() {
            seed.documents.extend(read_blueprint_folder(&only_on_site)?);
        }
        let users = site_dir.join("users.json");
        if users.exists() {
            let value = read_json(&users)?;
            let Value::Array(list) = value else {
                bail!(
                    "{} must hold a JSON array of User documents",
                    users.display()
                )
            };
            seed.users = list;
        }
        let site_json = site_dir.join("site.json");
        if site_json.exists() {
            let value = read_json(&site_json)?;
            if let Some(tz) = value.get("time_zone").and_then(Value::as_str) {
                seed.time_zone = tz.to_string();
            }
            seed.developer_mode = value
                .get("developer_mode")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 1
                || value
                    .get("developer_mode")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
        }
        Ok(seed)
    }
}

/// Every site folder under `<dir>` (folders whose name starts with `.` or `_` are skipped).
pub fn read_sites_dir(dir: &Path) -> anyhow::Result<Vec<SiteSeed>> {
    let mut seeds = Vec::new();
    for path in sorted_entries(dir)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() && !name.starts_with('.') && !name.starts_with('_') {
            seeds.push(SiteSeed::from_dir(&path)?);
        }
    }
    if seeds.is_empty() {
        bail!(
            "no site folders under {}: expected <dir>/<site>/ folders of canonical files",
            dir.display()
        );
    }
    Ok(seeds)
}

/// The blueprint files of a folder, in apply order. Accepts a config-repo checkout
/// too (`<dir>/fixtures/app/`). Unknown folders and `_site/` are ignored.
pub fn read_blueprint_folder(dir: &Path) -> anyhow::Result<Vec<Value>> {
    let nested = dir.join("fixtures").join("app");
    let root = if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    };
    if !root.is_dir() {
        bail!("{} is not a folder of blueprint files", root.display());
    }
    let mut documents = Vec::new();
    for folder in FOLDERS_IN_APPLY_ORDER {
        let path = root.join(folder);
        if !path.is_dir() {
            continue;
        }
        for file in sorted_entries(&path)? {
            if file.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let doc = read_json(&file)?;
            let has_identity = doc.get("doctype").and_then(Value::as_str).is_some()
                && doc.get("name").and_then(Value::as_str).is_some();
            if !has_identity {
                bail!(
                    "{} has no \"doctype\" and \"name\" at the top level",
                    file.display()
                );
            }
            documents.push(doc);
        }
    }
    Ok(documents)
}

fn sorted_entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("while reading folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    Ok(entries)
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("while reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}
