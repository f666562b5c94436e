//! The Frappe client against the Frappe-compatible sim: export fidelity, paging
//! over a scrambled default order, writes with Frappe's semantics, every error
//! class, retries and fault injection.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lockstep::blueprint::{canonicalize, files, BlueprintSet};
use lockstep::frappe::{
    ApiCredentials, FetchOptions, FrappeError, ListQuery, RetryPolicy, SiteConfig, SiteName,
    StagingSite,
};
use lockstep_sim::frappe::{Fault, FrappeSim};
use serde_json::{json, Value};

fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn example_set() -> BlueprintSet {
    [
        json!({"doctype": "Role", "name": "Field Officer", "role_name": "Field Officer", "is_custom": 1, "desk_access": 1}),
        json!({"doctype": "Role", "name": "Grant Manager", "role_name": "Grant Manager", "is_custom": 1, "desk_access": 1}),
        json!({"doctype": "Workflow State", "name": "Draft", "workflow_state_name": "Draft", "style": ""}),
        json!({"doctype": "Workflow State", "name": "Approved", "workflow_state_name": "Approved", "style": "Success"}),
        json!({"doctype": "Workflow Action Master", "name": "Approve", "workflow_action_name": "Approve"}),
        json!({"doctype": "DocType", "name": "Beneficiary", "module": "Custom", "custom": 1, "autoname": "hash",
            "fields": [
                {"fieldname": "full_name", "label": "Full Name", "fieldtype": "Data", "reqd": 1},
                {"fieldname": "age", "label": "Age", "fieldtype": "Int", "non_negative": 1},
                {"fieldname": "officer", "label": "Officer", "fieldtype": "Link", "options": "User"}
            ],
            "permissions": [{"role": "Field Officer", "permlevel": 0, "read": 1, "write": 1, "create": 1},
                            {"role": "Grant Manager", "permlevel": 0, "read": 1}]}),
        json!({"doctype": "Custom Field", "name": "Beneficiary-village", "dt": "Beneficiary", "fieldname": "village",
            "label": "Village", "fieldtype": "Data", "insert_after": "age", "module": "Custom"}),
        json!({"doctype": "Property Setter", "name": "Beneficiary-age-reqd", "doc_type": "Beneficiary", "field_name": "age",
            "doctype_or_field": "DocField", "property": "reqd", "property_type": "Check", "value": "1"}),
        json!({"doctype": "Workflow", "name": "Beneficiary Approval", "workflow_name": "Beneficiary Approval",
            "document_type": "Beneficiary", "is_active": 1, "workflow_state_field": "workflow_state",
            "states": [{"state": "Draft", "doc_status": "0", "allow_edit": "Field Officer"},
                       {"state": "Approved", "doc_status": "0", "allow_edit": "Grant Manager"}],
            "transitions": [{"state": "Draft", "action": "Approve", "next_state": "Approved", "allowed": "Grant Manager", "allow_self_approval": 1}]}),
        json!({"doctype": "Number Card", "name": "Open Beneficiaries", "label": "Open Beneficiaries", "document_type": "Beneficiary",
            "function": "Count", "is_standard": 0, "filters_json": "[]"}),
        json!({"doctype": "Report", "name": "Beneficiaries by Village", "report_name": "Beneficiaries by Village",
            "ref_doctype": "Beneficiary", "report_type": "Report Builder", "is_standard": "No",
            "roles": [{"role": "Grant Manager"}]}),
    ]
    .iter()
    .map(|v| canonicalize(v).unwrap())
    .collect()
}

fn users() -> Value {
    json!([
        {"doctype": "User", "name": "asha@example.com", "email": "asha@example.com", "first_name": "Asha", "enabled": 1,
         "user_type": "System User", "roles": [{"role": "Grant Manager"}, {"role": "Field Officer"}]},
        {"doctype": "User", "name": "ravi@example.com", "email": "ravi@example.com", "first_name": "Ravi", "enabled": 1,
         "user_type": "System User", "roles": [{"role": "Field Officer"}]},
        {"doctype": "User", "name": "old@example.com", "email": "old@example.com", "first_name": "Old", "enabled": 0,
         "user_type": "System User", "roles": [{"role": "Grant Manager"}]}
    ])
}

/// Writes `<root>/<site>/…` seed folders and returns root.
fn seed_dir(root: &Path, site: &str, set: &BlueprintSet) -> PathBuf {
    let dir = root.join(site);
    std::fs::create_dir_all(dir.join("_site")).unwrap();
    files::write_dir(set, &dir).unwrap();
    std::fs::write(
        dir.join("_site/users.json"),
        serde_json::to_vec_pretty(&users()).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("_site/site.json"),
        br#"{"time_zone": "Asia/Kolkata"}"#,
    )
    .unwrap();
    root.to_path_buf()
}

fn config(sim: &FrappeSim, site: &str) -> SiteConfig {
    let mut config = SiteConfig::new(
        SiteName::new(site).unwrap(),
        sim.url().parse().unwrap(),
        ApiCredentials::new(FrappeSim::api_key(site), FrappeSim::api_secret(site)),
    );
    config.site_header = Some(site.to_string());
    config.retry = RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    };
    config.timeout = Duration::from_secs(10);
    config
}

async fn staging() -> (tempfile::TempDir, FrappeSim, StagingSite) {
    install_tls();
    let tmp = tempfile::tempdir().unwrap();
    let root = seed_dir(&tmp.path().join("sites"), "staging", &example_set());
    let sim = FrappeSim::start(&root).await.unwrap();
    let site = StagingSite::new(config(&sim, "staging")).unwrap();
    (tmp, sim, site)
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with('_') {
            continue;
        }
        if path.is_dir() {
            for (k, v) in tree(&path) {
                out.insert(format!("{name}/{k}"), v);
            }
        } else {
            out.insert(name, std::fs::read(&path).unwrap());
        }
    }
    out
}

#[tokio::test]
async fn export_of_a_seeded_site_equals_its_seed_files_byte_for_byte() {
    let (tmp, _sim, site) = staging().await;
    let set = site
        .fetch_blueprints(&FetchOptions::default())
        .await
        .unwrap();
    let out = tmp.path().join("export");
    files::write_dir(&set, &out).unwrap();
    let seeded = tree(&tmp.path().join("sites/staging"));
    let exported = tree(&out);
    assert_eq!(
        seeded.keys().collect::<Vec<_>>(),
        exported.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &seeded {
        assert_eq!(
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&exported[path]),
            "{path} differs"
        );
    }
}

#[tokio::test]
async fn export_without_bulk_lists_gives_the_same_set() {
    let (_tmp, _sim, site) = staging().await;
    let bulk = site
        .fetch_blueprints(&FetchOptions::default())
        .await
        .unwrap();
    let per_doc = site
        .fetch_blueprints(&FetchOptions {
            bulk_list_flat_kinds: false,
            ..FetchOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(bulk, per_doc);
}

#[tokio::test]
async fn paging_over_a_scrambled_default_order_loses_and_duplicates_nothing() {
    let (_tmp, sim, site) = staging().await;
    for i in 0..137 {
        sim.set_doc(
            "staging",
            json!({"doctype": "Custom Field", "name": format!("Beneficiary-extra_{i:03}"),
            "dt": "Beneficiary", "fieldname": format!("extra_{i:03}"), "fieldtype": "Data"}),
        )
        .unwrap();
    }
    let query = ListQuery::new("name asc")
        .filters(json!([["dt", "=", "Beneficiary"]]))
        .page_length(20);
    let rows = site.list_all("Custom Field", &query).await.unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(names.len(), 138);
    assert_eq!(unique.len(), 138);
    assert_eq!(names, unique, "ordered by name");

    // The control: the same paging without order_by, straight over HTTP, does not
    // see every row exactly once, because the sim scrambles unordered results.
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for start in (0..140).step_by(20) {
        let body: Value = http
            .get(format!("{}/api/resource/Custom Field", sim.url()))
            .header("X-Frappe-Site-Name", "staging")
            .header("Authorization", "token staging-key:staging-secret")
            .query(&[
                ("filters", r#"[["dt","=","Beneficiary"]]"#),
                ("limit_start", &start.to_string()),
                ("limit_page_length", "20"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_string()),
        );
    }
    let mut seen_unique = seen.clone();
    seen_unique.sort();
    seen_unique.dedup();
    assert_ne!(
        seen_unique.len(),
        138,
        "unordered paging should have lost rows"
    );
}

#[tokio::test]
async fn lists_follow_frappe_semantics() {
    let (_tmp, sim, site) = staging().await;
    // Child-table filter: one row per matching child row, here Users holding a role.
    let query = ListQuery::new("name asc")
        .fields(["name", "enabled"])
        .filters(json!([["Has Role", "role", "=", "Grant Manager"]]));
    let rows = site.list("User", &query).await.unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["asha@example.com", "old@example.com"]);
    let enabled = json!([
        ["Has Role", "role", "=", "Grant Manager"],
        ["enabled", "=", 1]
    ]);
    assert_eq!(site.get_count("User", &enabled).await.unwrap(), 1);
    // `roles.role` in fields joins the child table.
    let query = ListQuery::new("name asc")
        .fields(["name", "roles.role"])
        .filters(json!([["name", "=", "asha@example.com"]]));
    assert_eq!(site.list("User", &query).await.unwrap().len(), 2);
    // A child doctype is listed through its parent (`parent=`), else Frappe refuses.
    let http = reqwest::Client::new();
    let child_list = |parent: Option<&'static str>| {
        let mut q = vec![
            ("fields", r#"["parent"]"#),
            ("filters", r#"[["role","=","Grant Manager"]]"#),
            ("order_by", "parent asc"),
        ];
        if let Some(p) = parent {
            q.push(("parent", p));
        }
        http.get(format!("{}/api/resource/Has Role", sim.url()))
            .header("X-Frappe-Site-Name", "staging")
            .header("Authorization", "token staging-key:staging-secret")
            .query(&q)
            .send()
    };
    let body: Value = child_list(Some("User"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"],
        json!([{"parent": "asha@example.com"}, {"parent": "old@example.com"}])
    );
    assert_eq!(child_list(None).await.unwrap().status(), 417);
    // Operators.
    let like = ListQuery::new("name asc").filters(json!([["name", "like", "%village"]]));
    assert_eq!(site.list("Custom Field", &like).await.unwrap().len(), 1);
    let not_in = ListQuery::new("name asc").filters(json!([["name", "not in", ["Draft"]]]));
    assert_eq!(site.list("Workflow State", &not_in).await.unwrap().len(), 1);
    let is_set = ListQuery::new("name asc").filters(json!([["style", "is", "set"]]));
    assert_eq!(site.list("Workflow State", &is_set).await.unwrap().len(), 1);
    // Default page length is 20 and limit_page_length=0 means all.
    for i in 0..30 {
        sim.set_doc(
            "staging",
            json!({"doctype": "Workflow State", "name": format!("S{i}")}),
        )
        .unwrap();
    }
    let count_rows = |q: Vec<(&'static str, &'static str)>| {
        let http = http.clone();
        let url = format!("{}/api/v1/resource/Workflow State", sim.url());
        async move {
            let body: Value = http
                .get(url)
                .header("X-Frappe-Site-Name", "staging")
                .header("Authorization", "token staging-key:staging-secret")
                .query(&q)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["data"].as_array().unwrap().len()
        }
    };
    assert_eq!(count_rows(vec![]).await, 20);
    assert_eq!(
        count_rows(vec![("limit_page_length", "0"), ("limit_start", "5")]).await,
        32
    );
    assert_eq!(count_rows(vec![("limit", "7")]).await, 7);
    // An unknown column is Frappe's 500.
    let bad = ListQuery::new("name asc").filters(json!([["no_such_column", "=", 1]]));
    let err = site.list("Role", &bad).await.unwrap_err();
    assert!(matches!(err, FrappeError::Server(_)), "{err}");
    assert!(
        err.to_string().contains("Unknown column 'no_such_column'"),
        "{err}"
    );
}

#[tokio::test]
async fn one_document_reads_leave_nulls_out_and_carry_child_tables() {
    let (_tmp, sim, site) = staging().await;
    sim.set_doc(
        "staging",
        json!({"doctype": "Role", "name": "Nullish", "role_name": "Nullish", "home_page": null}),
    )
    .unwrap();
    let doc = site.get_doc("Role", "Nullish").await.unwrap();
    assert!(doc.get("home_page").is_none());
    let wf = site
        .get_doc("Workflow", "Beneficiary Approval")
        .await
        .unwrap();
    let states = wf["states"].as_array().unwrap();
    assert_eq!(states[0]["parent"], "Beneficiary Approval");
    assert_eq!(states[0]["parenttype"], "Workflow");
    assert_eq!(states[1]["idx"], 2);
    assert!(
        wf["modified"].as_str().unwrap().len() == 26,
        "Frappe datetime with microseconds"
    );
}

#[tokio::test]
async fn writes_use_put_for_existing_records_and_replace_child_tables() {
    let (_tmp, sim, site) = staging().await;
    // A Number Card POSTed again would become "Open Beneficiaries-1": upsert PUTs.
    let card = json!({"doctype": "Number Card", "name": "Open Beneficiaries", "label": "Open Beneficiaries",
        "document_type": "Beneficiary", "function": "Count", "is_standard": 0, "color": "#ff0000"});
    site.upsert(&card).await.unwrap();
    assert_eq!(sim.count("staging", "Number Card"), 1);
    assert_eq!(
        sim.get_doc("staging", "Number Card", "Open Beneficiaries")
            .unwrap()["color"],
        "#ff0000"
    );
    // A raw POST does duplicate it, which is why the client never does that.
    site.insert("Number Card", &card).await.unwrap();
    assert!(sim
        .get_doc("staging", "Number Card", "Open Beneficiaries-1")
        .is_some());

    // PUT replaces the whole table; stale names and `modified` are stripped first.
    let mut wf = site
        .get_doc("Workflow", "Beneficiary Approval")
        .await
        .unwrap();
    wf["modified"] = json!("2001-01-01 00:00:00.000000");
    wf["states"] = json!([{"name": "from-another-site", "state": "Draft", "doc_status": "0", "allow_edit": "Field Officer"}]);
    wf["transitions"] = json!([]);
    let saved = site
        .update("Workflow", "Beneficiary Approval", &wf)
        .await
        .unwrap();
    assert_eq!(
        saved["states"].as_array().unwrap().len(),
        1,
        "the row survived because its foreign name was stripped"
    );
    assert_eq!(saved["transitions"].as_array().unwrap().len(), 0);

    // Insert then delete.
    site.insert(
        "Role",
        &json!({"doctype": "Role", "role_name": "Auditor", "is_custom": 1}),
    )
    .await
    .unwrap();
    assert!(sim.get_doc("staging", "Role", "Auditor").is_some());
    site.delete("Role", "Auditor").await.unwrap();
    assert!(sim.get_doc("staging", "Role", "Auditor").is_none());
}

fn assert_names(err: &FrappeError, parts: &[&str]) {
    let shown = err.to_string();
    for part in parts {
        assert!(shown.contains(part), "{shown:?} lacks {part:?}");
    }
}

#[tokio::test]
async fn every_error_class_yields_a_clear_message() {
    let (_tmp, sim, site) = staging().await;

    let mut bad = config(&sim, "staging");
    bad.credentials = ApiCredentials::new("staging-key", "wrong");
    let bad = StagingSite::new(bad).unwrap();
    let err = bad.ping().await.unwrap_err();
    assert!(matches!(err, FrappeError::Unauthorized(_)), "{err}");
    assert_names(
        &err,
        &["site staging", "401", "AuthenticationError", "API key"],
    );
    assert!(
        !err.to_string().contains("wrong") && !format!("{err:?}").contains("wrong"),
        "secret leaked"
    );

    sim.add_api_user("staging", "ravi@example.com", "ravi-key", "ravi-secret")
        .unwrap();
    let mut limited = config(&sim, "staging");
    limited.credentials = ApiCredentials::new("ravi-key", "ravi-secret");
    let limited = StagingSite::new(limited).unwrap();
    assert_eq!(limited.get_logged_user().await.unwrap(), "ravi@example.com");
    let err = limited
        .insert("Role", &json!({"doctype": "Role", "role_name": "X"}))
        .await
        .unwrap_err();
    assert!(matches!(err, FrappeError::Forbidden(_)), "{err}");
    assert_names(
        &err,
        &[
            "site staging",
            "POST Role",
            "403",
            "PermissionError",
            "Insufficient Permission for Role",
        ],
    );
    let err = limited.fetch_latest_backups().await.unwrap_err();
    assert!(matches!(err, FrappeError::Forbidden(_)), "{err}");

    let err = site
        .get_doc("Custom Field", "Beneficiary-nope")
        .await
        .unwrap_err();
    assert!(matches!(err, FrappeError::NotFound(_)), "{err}");
    assert_names(
        &err,
        &[
            "GET Custom Field \"Beneficiary-nope\"",
            "404",
            "DoesNotExistError",
            "Custom Field Beneficiary-nope not found",
        ],
    );

    let err = site
        .insert(
            "Role",
            &json!({"doctype": "Role", "role_name": "Field Officer"}),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FrappeError::Duplicate(_)), "{err}");
    assert_names(
        &err,
        &[
            "POST Role \"Field Officer\"",
            "409",
            "DuplicateEntryError",
            "Role Field Officer already exists",
        ],
    );

    let wf = json!({"doctype": "Workflow", "workflow_name": "Orphan", "document_type": "Grant Application", "states": []});
    let err = site.insert("Workflow", &wf).await.unwrap_err();
    assert!(matches!(err, FrappeError::Validation(_)), "{err}");
    assert_names(
        &err,
        &[
            "417",
            "LinkValidationError",
            "Could not find Document Type: Grant Application",
        ],
    );

    let wf = json!({"doctype": "Workflow", "workflow_name": "Numeric", "document_type": "Beneficiary",
        "states": [{"state": "Draft", "doc_status": 0, "allow_edit": "Field Officer"}]});
    let err = site.insert("Workflow", &wf).await.unwrap_err();
    assert_names(&err, &["417", "ValidationError", "Doc Status cannot be 0"]);

    let err = site
        .insert(
            "DocType",
            &json!({"doctype": "DocType", "name": "Standard Thing", "custom": 0}),
        )
        .await
        .unwrap_err();
    assert_names(&err, &["Not in Developer Mode"]);

    sim.inject_times(Fault::RateLimited, 3);
    let err = site.ping().await.unwrap_err();
    assert!(matches!(err, FrappeError::RateLimited(_)), "{err}");
    assert_eq!(err.context().retry_after_secs, Some(1));
    assert_names(&err, &["429", "RateLimitExceededError", "rate limit"]);

    sim.inject_times(Fault::ServerError(502), 3);
    let err = site.get_doc("Role", "Field Officer").await.unwrap_err();
    assert!(matches!(err, FrappeError::Server(_)), "{err}");
    assert_names(&err, &["GET Role \"Field Officer\"", "502", "Bad Gateway"]);

    sim.inject_times(Fault::DropConnection, 3);
    let err = site.get_doc("Role", "Field Officer").await.unwrap_err();
    assert!(matches!(err, FrappeError::Transport(_)), "{err}");
    assert_names(&err, &["site staging", "GET Role"]);

    let mut slow = config(&sim, "staging");
    slow.timeout = Duration::from_millis(200);
    slow.retry.max_attempts = 1;
    let slow = StagingSite::new(slow).unwrap();
    sim.inject(Fault::Latency(Duration::from_secs(3)));
    let err = slow.ping().await.unwrap_err();
    assert!(matches!(err, FrappeError::Timeout(_)), "{err}");
    assert_names(&err, &["timed out"]);

    let unknown = config(&sim, "nowhere");
    let unknown = StagingSite::new(unknown).unwrap();
    let err = unknown.ping().await.unwrap_err();
    assert!(
        matches!(err, FrappeError::Unauthorized(_) | FrappeError::NotFound(_)),
        "{err}"
    );
    assert_names(&err, &["site nowhere", "404", "nowhere does not exist"]);
}

#[tokio::test]
async fn reads_retry_transient_failures_and_writes_do_not() {
    let (_tmp, sim, site) = staging().await;
    let before = sim.requests_made();
    sim.inject(Fault::ServerError(503));
    sim.inject(Fault::DropConnection);
    let doc = site.get_doc("Role", "Field Officer").await.unwrap();
    assert_eq!(doc["role_name"], "Field Officer");
    assert_eq!(
        sim.requests_made() - before,
        3,
        "two failures, then success"
    );

    let before = sim.requests_made();
    sim.inject(Fault::ServerError(500));
    let err = site
        .insert("Role", &json!({"doctype": "Role", "role_name": "Once"}))
        .await
        .unwrap_err();
    assert!(matches!(err, FrappeError::Server(_)), "{err}");
    assert_eq!(sim.requests_made() - before, 1, "a POST is never repeated");

    // A 404 is not transient: one request only.
    let before = sim.requests_made();
    let _ = site.get_doc("Role", "Nope").await.unwrap_err();
    assert_eq!(sim.requests_made() - before, 1);
}

#[tokio::test]
async fn methods_answer_like_frappe() {
    let (_tmp, sim, site) = staging().await;
    assert_eq!(site.ping().await.unwrap(), "pong");
    assert_eq!(site.get_logged_user().await.unwrap(), "Administrator");
    assert_eq!(site.get_time_zone().await.unwrap(), "Asia/Kolkata");
    assert_eq!(site.fetch_latest_backups().await.unwrap().database, None);
    let http = reqwest::Client::new();
    let backup: Value = http
        .post(format!("{}/_sim/sites/staging/backup", sim.url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let latest = site.fetch_latest_backups().await.unwrap();
    assert_eq!(
        latest.database.as_deref(),
        backup["files"][1]["path"].as_str()
    );
    assert!(latest
        .database
        .unwrap()
        .ends_with("-staging-database.sql.gz"));

    // Guest: resource routes are 403, ping is fine.
    let guest = |path: &str| {
        http.get(format!("{}{path}", sim.url()))
            .header("X-Frappe-Site-Name", "staging")
            .send()
    };
    assert_eq!(guest("/api/method/ping").await.unwrap().status(), 200);
    assert_eq!(guest("/api/resource/Role").await.unwrap().status(), 403);
    assert_eq!(
        guest("/api/method/frappe.client.get_time_zone")
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_site_that_ignores_limit_start_is_an_error_not_an_endless_loop() {
    install_tls();
    let app = axum::Router::new()
        .fallback(|| async { axum::Json(json!({"data": [{"name": "a"}, {"name": "b"}]})) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = SiteConfig::new(
        SiteName::new("odd").unwrap(),
        url.parse().unwrap(),
        ApiCredentials::new("k", "s"),
    );
    let site = StagingSite::new(config).unwrap();
    let err = site
        .list_all("Role", &ListQuery::new("name asc").page_length(2))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ignores limit_start"), "{err}");
}
