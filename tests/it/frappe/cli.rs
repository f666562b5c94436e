//! `lockstep export` / `lockstep diff --site` end to end against the sim, with the
//! credentials taken from FRAPPE_<SITE>_API_KEY / _API_SECRET. One test in this
//! binary: it sets process environment variables.

use std::path::PathBuf;

use clap::Parser;
use lockstep::frappe::cli::{run_diff, run_export, DiffArgs, ExportArgs};
use lockstep_sim::frappe::FrappeSim;
use serde_json::json;

#[derive(Parser)]
struct Export {
    #[command(flatten)]
    args: ExportArgs,
}

#[derive(Parser)]
struct Diff {
    #[command(flatten)]
    args: DiffArgs,
}

#[tokio::test]
async fn export_then_diff_through_the_cli_functions() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sites = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/demo/sites");
    let sim = FrappeSim::start(&sites).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().display().to_string();
    let url = sim.url();
    let site_args = [
        "--site",
        "staging",
        "--url",
        url.as_str(),
        "--frappe-site-name",
        "staging",
    ];

    // Without credentials in the environment the command says which variable to set.
    std::env::remove_var("FRAPPE_STAGING_API_KEY");
    let argv: Vec<&str> = ["export"]
        .iter()
        .chain(&site_args)
        .chain(&["--out", out_arg.as_str()])
        .copied()
        .collect();
    let err = run_export(Export::try_parse_from(&argv).unwrap().args)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("FRAPPE_STAGING_API_KEY"), "{err}");

    std::env::set_var("FRAPPE_STAGING_API_KEY", FrappeSim::api_key("staging"));
    std::env::set_var(
        "FRAPPE_STAGING_API_SECRET",
        FrappeSim::api_secret("staging"),
    );
    let written = run_export(Export::try_parse_from(&argv).unwrap().args)
        .await
        .unwrap();
    assert_eq!(written, 25);
    assert!(out
        .path()
        .join("workflows/beneficiary_approval.json")
        .exists());

    let argv: Vec<&str> = ["diff"]
        .iter()
        .chain(&site_args)
        .chain(&["--against", out_arg.as_str()])
        .copied()
        .collect();
    assert!(
        !run_diff(Diff::try_parse_from(&argv).unwrap().args)
            .await
            .unwrap(),
        "no drift right after export"
    );
    sim.set_doc("staging", json!({"doctype": "Workflow State", "name": "Escalated", "workflow_state_name": "Escalated"})).unwrap();
    assert!(
        run_diff(Diff::try_parse_from(&argv).unwrap().args)
            .await
            .unwrap(),
        "drift after a site edit"
    );

    std::env::set_var("FRAPPE_STAGING_API_SECRET", "wrong");
    let err = run_diff(Diff::try_parse_from(&argv).unwrap().args)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}
