//! A merge into `main` on the GitHub sim deploys to the Frappe sim: the workflow
//! run's steps (backup, migrate, restart) run the bench stand-in against the
//! production site, so the site ends up with the merged blueprints. A failing
//! migrate fails the run and skips restart.

use std::path::Path;

use lockstep::github::{GithubAuth, GithubClient, GithubConfig, MergeMethod, NewPull, RetryPolicy};
use lockstep::secret::Secret;
use lockstep_sim::frappe::FrappeSim;
use lockstep_sim::github::{bench_deploy_hook, GithubSim, GithubSimConfig};

const REPO: &str = "acme/frappe-config";

fn sites() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo/sites"))
}

async fn setup() -> (FrappeSim, GithubSim, GithubClient) {
    lockstep::tls::install_crypto_provider();
    let frappe = FrappeSim::start(sites()).await.unwrap();
    let config = GithubSimConfig {
        repos: vec![REPO.into()],
        deploy: Some(bench_deploy_hook(frappe.url(), "prod".into())),
        ..Default::default()
    };
    let github = GithubSim::start(config).await.unwrap();
    github.repo(REPO).seed_from_sites_dir(sites()).unwrap();
    let client = GithubClient::with_retry(
        GithubConfig::new(&github.url(), "acme", "frappe-config"),
        GithubAuth::Token(Secret::new(github.token())),
        RetryPolicy::local(),
    )
    .unwrap();
    (frappe, github, client)
}

async fn merge_staging(github: &GithubSim, client: &GithubClient) -> String {
    let pr = client
        .create_pull(&NewPull {
            title: "Promote staging",
            head: "staging",
            base: "main",
            body: "",
            draft: false,
        })
        .await
        .unwrap();
    github.repo(REPO).approve(pr.number, "alice").unwrap();
    client
        .merge_pull(pr.number, &pr.head.sha, MergeMethod::Merge, None)
        .await
        .unwrap()
        .sha
}

#[tokio::test]
async fn merging_into_main_migrates_the_production_site() {
    let (frappe, github, client) = setup().await;
    assert!(
        frappe
            .get_doc("prod", "DocType", "Experiment Assignment")
            .is_none(),
        "only staging has it before"
    );
    let backups_before = frappe.backups("prod").len();

    let sha = merge_staging(&github, &client).await;
    let run = github.wait_for_completed_run(&sha).await;
    let steps: Vec<_> = run.jobs[0]
        .steps
        .iter()
        .map(|s| (s.name.clone(), s.conclusion.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        run.conclusion.as_deref(),
        Some("success"),
        "{:#?}",
        run.jobs[0].steps
    );
    assert_eq!(
        steps,
        [
            ("backup", "success"),
            ("migrate", "success"),
            ("restart", "success")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert!(
        run.jobs[0].steps[1].log.contains("Migrating prod"),
        "{}",
        run.jobs[0].steps[1].log
    );
    assert!(
        frappe
            .get_doc("prod", "DocType", "Experiment Assignment")
            .is_some(),
        "the merged blueprint reached production"
    );
    assert_eq!(frappe.backups("prod").len(), backups_before + 1);
}

#[tokio::test]
async fn a_failing_migrate_fails_the_run_and_skips_restart() {
    let (frappe, github, client) = setup().await;
    let http = reqwest::Client::new();
    let armed = http
        .post(format!(
            "{}/_sim/sites/prod/fail-next-migrate",
            frappe.url()
        ))
        .json(&serde_json::json!({"message": "Simulated patch failure"}))
        .send()
        .await
        .unwrap();
    assert!(armed.status().is_success());

    let sha = merge_staging(&github, &client).await;
    let run = github.wait_for_completed_run(&sha).await;
    assert_eq!(run.conclusion.as_deref(), Some("failure"));
    let conclusions: Vec<_> = run.jobs[0]
        .steps
        .iter()
        .map(|s| s.conclusion.clone().unwrap_or_default())
        .collect();
    assert_eq!(conclusions, ["success", "failure", "skipped"]);
    assert!(
        run.jobs[0].steps[1].log.contains("Simulated patch failure"),
        "{}",
        run.jobs[0].steps[1].log
    );
    let runs = client.workflow_runs_for(&sha).await.unwrap();
    assert_eq!(runs[0].conclusion.as_deref(), Some("failure"));
}
