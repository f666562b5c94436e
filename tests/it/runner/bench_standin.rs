//! The bench stand-in against the Frappe-compatible sim: it snapshots, migrates
//! (fixtures deleted and re-inserted, `modified` set), restores and restarts, and
//! what it prints parses exactly as real bench output does.

use std::path::Path;

use clap::Parser;
use lockstep::runner::{failure_reason, parse_backup, parse_migrate, parse_restore};
use lockstep_sim::bench::{bench, BenchArgs};
use lockstep_sim::frappe::{FrappeSim, SiteSeed};
use serde_json::json;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

async fn run(sim: &FrappeSim, argv: &[&str]) -> (i32, String, String) {
    let url = sim.url();
    let mut full = vec!["bench", "--sim-url", url.as_str()];
    full.extend_from_slice(argv);
    let cli = Cli::try_parse_from(full).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = bench(cli.args, &mut out, &mut err).await;
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn write(dir: &Path, rel: &str, value: serde_json::Value) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
}

async fn prod() -> FrappeSim {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut seed = SiteSeed::empty("prod");
    seed.documents.push(
        json!({"doctype": "DocType", "name": "Beneficiary", "custom": 1, "module": "Custom",
        "fields": [{"fieldname": "full_name", "fieldtype": "Data"}]}),
    );
    seed.documents.push(json!({"doctype": "Report", "name": "Old", "report_name": "Old", "ref_doctype": "Beneficiary",
        "is_standard": "No", "report_type": "Report Builder", "disabled": 1}));
    FrappeSim::start_with(vec![seed], "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn backup_migrate_restore_round_trip() {
    let sim = prod().await;
    let (code, out, err) = run(&sim, &["--site", "prod", "backup"]).await;
    assert_eq!((code, err.as_str()), (0, ""));
    let summary = parse_backup(&out).unwrap();
    assert_eq!(summary.site, "prod");
    assert!(summary
        .database_file
        .ends_with(&format!("{}-database.sql.gz", summary.backup_id)));
    assert_eq!(sim.backups("prod"), vec![summary.database_file.clone()]);

    let folder = tempfile::tempdir().unwrap();
    write(
        folder.path(),
        "roles/field_officer.json",
        json!({"doctype": "Role", "name": "Field Officer", "role_name": "Field Officer", "is_custom": 1}),
    );
    write(
        folder.path(),
        "custom_fields/beneficiary-village.json",
        json!({"doctype": "Custom Field", "name": "Beneficiary-village",
        "dt": "Beneficiary", "fieldname": "village", "fieldtype": "Data", "modified": "2026-05-01 10:00:00.000000"}),
    );
    write(
        folder.path(),
        "reports/old.json",
        json!({"doctype": "Report", "name": "Old", "report_name": "Old", "ref_doctype": "Beneficiary",
        "is_standard": "No", "report_type": "Report Builder", "disabled": 0, "add_total_row": 1}),
    );
    let folder_arg = folder.path().display().to_string();
    let (code, out, err) = run(
        &sim,
        &["--site", "prod", "--blueprints", &folder_arg, "migrate"],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(parse_migrate(&out).unwrap().site, "prod");
    let field = sim
        .get_doc("prod", "Custom Field", "Beneficiary-village")
        .unwrap();
    assert_eq!(
        field["modified"], "2026-05-01 10:00:00.000000",
        "modified comes from the file"
    );
    let report = sim.get_doc("prod", "Report", "Old").unwrap();
    assert_eq!(
        (report["add_total_row"].clone(), report["disabled"].clone()),
        (json!(1), json!(1)),
        "re-imported, but Report.disabled keeps its DB value"
    );

    let (code, out, _) = run(
        &sim,
        &[
            "--site",
            "prod",
            "restore",
            &summary.database_file,
            "--force",
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(parse_restore(&out).unwrap().site, "prod");
    assert!(
        sim.get_doc("prod", "Custom Field", "Beneficiary-village")
            .is_none(),
        "restored to before the migrate"
    );
    assert!(sim.get_doc("prod", "Role", "Field Officer").is_none());

    let (code, out, _) = run(&sim, &["restart"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("frappe-bench-web:frappe-bench-frappe-web: started"));
}

#[tokio::test]
async fn failures_print_like_bench_and_exit_1() {
    let sim = prod().await;
    let folder = tempfile::tempdir().unwrap();
    let folder_arg = folder.path().display().to_string();

    reqwest::Client::new()
        .post(format!("{}/_sim/sites/prod/fail-next-migrate", sim.url()))
        .json(&json!({"message": "Field age is mandatory"}))
        .send()
        .await
        .unwrap();
    let (code, out, err) = run(
        &sim,
        &["--site", "prod", "--blueprints", &folder_arg, "migrate"],
    )
    .await;
    assert_eq!(code, 1);
    assert!(out.starts_with("Migrating prod\nExecuting "), "{out}");
    assert_eq!(
        failure_reason(&format!("{out}{err}")),
        "frappe.exceptions.ValidationError: Field age is mandatory"
    );

    // A blueprint whose Link target is missing fails in sync_fixtures.
    write(
        folder.path(),
        "workflows/w.json",
        json!({"doctype": "Workflow", "name": "W", "workflow_name": "W", "document_type": "Nope", "states": []}),
    );
    let (code, out, err) = run(
        &sim,
        &["--site", "prod", "--blueprints", &folder_arg, "migrate"],
    )
    .await;
    assert_eq!(code, 1);
    assert_eq!(
        failure_reason(&format!("{out}{err}")),
        "frappe.exceptions.LinkValidationError: Could not find Document Type: Nope"
    );

    let (code, out, _) = run(
        &sim,
        &[
            "--site",
            "prod",
            "restore",
            "./prod/private/backups/nope-database.sql.gz",
        ],
    )
    .await;
    assert_eq!(
        (code, out.trim()),
        (
            1,
            "Invalid path ./prod/private/backups/nope-database.sql.gz"
        )
    );

    let (code, _, err) = run(&sim, &["--site", "nosuch", "backup"]).await;
    assert_eq!((code, err.trim()), (1, "Site nosuch does not exist"));

    let (code, _, err) = run(&sim, &["--site", "prod", "migrate"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("--blueprints"), "{err}");
}
