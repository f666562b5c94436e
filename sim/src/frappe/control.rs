//! Private control routes for the bench stand-in and tests, under `/_sim/`:
//! `POST /_sim/sites/<site>/backup {"with_files"}`, `/restore {"file"}`,
//! `/migrate {"folder"}`, `/fail-next-migrate {"message"}`, `/restart`, and
//! `GET /_sim/sites`. They speak plain JSON, not Frappe's envelope: they are not
//! Frappe routes, and the real bench never calls them.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::http::Shared;
use super::seed::read_blueprint_folder;
use super::store::{crate_now, Backup, SiteData};

fn unknown_site(site: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"ok": false, "error": format!("Site {site} does not exist")})),
    )
        .into_response()
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"ok": false, "error": message})),
    )
        .into_response()
}

pub async fn list_sites(State(shared): State<Arc<Shared>>) -> Response {
    let sites: Vec<Value> = shared
        .sites()
        .values()
        .map(|s| json!({"site": s.name, "time_zone": s.time_zone, "backups": s.backups.len()}))
        .collect();
    Json(json!({"ok": true, "sites": sites})).into_response()
}

pub async fn backup(
    State(shared): State<Arc<Shared>>,
    UrlPath(site): UrlPath<String>,
    body: Option<Json<Value>>,
) -> Response {
    let with_files = body
        .and_then(|Json(b)| b.get("with_files").and_then(Value::as_bool))
        .unwrap_or(false);
    let mut sites = shared.sites();
    let Some(data) = sites.get_mut(&site) else {
        return unknown_site(&site);
    };
    let backup = take_backup(data, with_files);
    let files: Vec<Value> = backup
        .files
        .iter()
        .map(|(kind, path, size)| json!({"kind": kind, "path": path, "size": size}))
        .collect();
    Json(json!({"ok": true, "site": site, "backup_id": backup.id, "taken_at": backup.taken_at, "with_files": with_files, "files": files}))
        .into_response()
}

/// Snapshots every document. Backups older than 24 hours are deleted first, as
/// `bench backup` does.
pub fn take_backup(site: &mut SiteData, with_files: bool) -> Backup {
    let now = crate_now();
    site.backups
        .retain(|b| now - b.taken_at_utc < chrono::Duration::hours(24));
    let local = site.now_local();
    let slug = site.name.replace('.', "_");
    let id = format!("{}-{slug}", local.format("%Y%m%d_%H%M%S"));
    let dir = format!("./{}/private/backups", site.name);
    let database_size = serde_json::to_vec(site.all_docs())
        .map(|v| v.len() as u64)
        .unwrap_or(0);
    let config_size = json!({"db_name": format!("_{slug}"), "db_type": "mariadb"})
        .to_string()
        .len() as u64;
    let mut files = vec![
        (
            "config".to_string(),
            format!("{dir}/{id}-site_config_backup.json"),
            config_size,
        ),
        (
            "database".to_string(),
            format!("{dir}/{id}-database.sql.gz"),
            database_size,
        ),
    ];
    if with_files {
        files.push(("public".into(), format!("{dir}/{id}-files.tar"), 10240));
        files.push((
            "private".into(),
            format!("{dir}/{id}-private-files.tar"),
            10240,
        ));
    }
    let backup = Backup {
        id: id.clone(),
        taken_at: local.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        taken_at_utc: now,
        files,
        docs: site.all_docs().clone(),
    };
    site.backups.retain(|b| b.id != id);
    site.backups.push(backup.clone());
    backup
}

pub async fn restore(
    State(shared): State<Arc<Shared>>,
    UrlPath(site): UrlPath<String>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(file) =
        body.and_then(|Json(b)| b.get("file").and_then(Value::as_str).map(str::to_string))
    else {
        return bad_request("restore needs {\"file\": \"<path of a database backup>\"}".into());
    };
    let mut sites = shared.sites();
    let Some(data) = sites.get_mut(&site) else {
        return unknown_site(&site);
    };
    let wanted = base_name(&file);
    let found = data
        .backups
        .iter()
        .find(|b| {
            b.files
                .iter()
                .any(|(kind, path, _)| kind == "database" && base_name(path) == wanted)
        })
        .cloned();
    match found {
        Some(backup) => {
            data.restored.push(backup.id.clone());
            data.replace_all_docs(backup.docs);
            Json(json!({"ok": true, "site": site, "backup_id": backup.id})).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"ok": false, "error": format!("Invalid path {file}")})),
        )
            .into_response(),
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

pub async fn fail_next_migrate(
    State(shared): State<Arc<Shared>>,
    UrlPath(site): UrlPath<String>,
    body: Option<Json<Value>>,
) -> Response {
    let message = body
        .and_then(|Json(b)| b.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "simulated migrate failure".into());
    let mut sites = shared.sites();
    let Some(data) = sites.get_mut(&site) else {
        return unknown_site(&site);
    };
    data.fail_next_migrate = Some(message);
    Json(json!({"ok": true})).into_response()
}

/// Applies a folder of canonical files as `bench migrate` applies fixtures: each
/// record deleted and inserted again, in dependency order. A failure stops there;
/// what was applied before it stays (migrate commits as it goes).
pub async fn migrate(
    State(shared): State<Arc<Shared>>,
    UrlPath(site): UrlPath<String>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(folder) =
        body.and_then(|Json(b)| b.get("folder").and_then(Value::as_str).map(str::to_string))
    else {
        return bad_request(
            "migrate needs {\"folder\": \"<folder of canonical blueprint files>\"}".into(),
        );
    };
    // Read the files before taking the lock: file I/O must not block other requests.
    let documents = read_blueprint_folder(Path::new(&folder));
    let mut sites = shared.sites();
    let Some(data) = sites.get_mut(&site) else {
        return unknown_site(&site);
    };
    if let Some(message) = data.fail_next_migrate.take() {
        return Json(json!({"ok": false, "phase": "patches", "exc_type": "ValidationError", "message": message, "applied": 0})).into_response();
    }
    let documents = match documents {
        Ok(docs) => docs,
        Err(e) => return bad_request(format!("{e:#}")),
    };
    let mut applied = Vec::new();
    for doc in documents {
        let Value::Object(map) = doc else { continue };
        match data.import_fixture(map) {
            Ok((doctype, name)) => applied.push(json!([doctype, name])),
            Err(err) => {
                return Json(json!({"ok": false, "phase": "sync_fixtures", "exc_type": err.exc_type, "message": err.message, "applied": applied.len()}))
                    .into_response()
            }
        }
    }
    Json(json!({"ok": true, "applied": applied.len(), "records": applied})).into_response()
}

pub async fn restart(
    State(shared): State<Arc<Shared>>,
    UrlPath(site): UrlPath<String>,
) -> Response {
    if !shared.sites().contains_key(&site) {
        return unknown_site(&site);
    }
    Json(json!({"ok": true})).into_response()
}
