//! The runner's workflow-dispatch transport against the GitHub sim, whose
//! `bench.yml` runs the bench stand-in on the Frappe sim: each bench operation is one
//! dispatched run, its outcome read from the job log exactly as from a local
//! command; refusals, a run that outlives the timeout (cancelled) and a log that
//! cannot be read each give their own clear error.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lockstep::frappe::SiteName;
use lockstep::github::{GithubAuth, GithubClient, GithubConfig, RetryPolicy};
use lockstep::runner::{Runner, RunnerError, WorkflowDispatch};
use lockstep::secret::Secret;
use lockstep_sim::frappe::FrappeSim;
use lockstep_sim::github::{
    bench_workflow_hook, BenchHook, BenchRequest, GithubSim, GithubSimConfig, StepOutcome,
};

const REPO: &str = "acme/frappe-config";

fn sites() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo/sites"))
}

struct World {
    frappe: FrappeSim,
    github: GithubSim,
    client: Arc<GithubClient>,
}

async fn world_with(bench: impl FnOnce(&FrappeSim) -> BenchHook) -> World {
    lockstep::tls::install_crypto_provider();
    let frappe = FrappeSim::start(sites()).await.unwrap();
    let config = GithubSimConfig {
        repos: vec![REPO.into()],
        bench: Some(bench(&frappe)),
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
    World {
        frappe,
        github,
        client: Arc::new(client),
    }
}

async fn world() -> World {
    world_with(|frappe| bench_workflow_hook(frappe.url(), None)).await
}

impl World {
    fn runner(&self, workflow: &str, git_ref: &str, timeout: Duration) -> Runner {
        Runner::from_workflow(
            WorkflowDispatch {
                github: self.client.clone(),
                workflow: workflow.into(),
                git_ref: git_ref.into(),
                poll_interval: Duration::from_millis(5),
            },
            timeout,
        )
    }

    fn bench(&self) -> Runner {
        self.runner("bench.yml", "main", Duration::from_secs(60))
    }
}

fn prod() -> SiteName {
    SiteName::new("prod").unwrap()
}

#[tokio::test]
async fn backup_restore_and_restart_run_as_dispatched_workflows() {
    let w = world().await;
    let runner = w.bench();
    let backup = runner.backup(&prod()).await.unwrap();
    assert_eq!(backup.site, "prod");
    assert_eq!(w.frappe.backups("prod"), vec![backup.database_file.clone()]);

    let restored = runner
        .restore(&prod(), &backup.database_file)
        .await
        .unwrap();
    assert_eq!(restored.site, "prod");
    runner.restart(&prod()).await.unwrap();

    let runs = w.github.workflow_runs();
    let dispatched: Vec<(&str, &str, Option<&str>)> = runs
        .iter()
        .map(|r| (r.event.as_str(), r.workflow.file, r.conclusion.as_deref()))
        .collect();
    assert_eq!(
        dispatched,
        vec![("workflow_dispatch", "bench.yml", Some("success")); 3]
    );
    let args: Vec<&str> = runs
        .iter()
        .map(|r| r.jobs[0].steps[0].script.lines().last().unwrap())
        .collect();
    assert_eq!(
        args,
        vec![
            "  BENCH_ARGS: --site prod backup".to_string(),
            format!(
                "  BENCH_ARGS: --site prod restore {} --force",
                backup.database_file
            ),
            "  BENCH_ARGS: restart".to_string(),
        ]
    );
}

#[tokio::test]
async fn a_failing_migrate_gives_benchs_reason_and_exit_code() {
    let w = world().await;
    reqwest::Client::new()
        .post(format!(
            "{}/_sim/sites/prod/fail-next-migrate",
            w.frappe.url()
        ))
        .json(&serde_json::json!({"message": "Field age is mandatory"}))
        .send()
        .await
        .unwrap();
    let error = w.bench().migrate(&prod()).await.unwrap_err();
    match &error {
        RunnerError::Failed {
            exit_code, reason, ..
        } => {
            assert_eq!(*exit_code, Some(1));
            assert_eq!(
                reason,
                "frappe.exceptions.ValidationError: Field age is mandatory"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(error.to_string().contains("Migrating prod"), "{error}");
}

#[tokio::test]
async fn a_migrate_applies_the_blueprints_at_the_dispatched_ref() {
    let w = world().await;
    assert!(w
        .frappe
        .get_doc("prod", "DocType", "Experiment Assignment")
        .is_none());
    w.runner("bench.yml", "staging", Duration::from_secs(60))
        .migrate(&prod())
        .await
        .unwrap();
    assert!(
        w.frappe
            .get_doc("prod", "DocType", "Experiment Assignment")
            .is_some(),
        "the staging branch's blueprints were migrated"
    );
}

#[tokio::test]
async fn refused_dispatches_say_what_github_said_and_nothing_runs() {
    let w = world().await;
    let timeout = Duration::from_secs(60);
    let cases = [
        ("nope.yml", "main", "GitHub has no workflow nope.yml (404)"),
        (
            "deploy.yml",
            "main",
            "Workflow does not have 'workflow_dispatch' trigger",
        ),
        (
            "bench.yml",
            "no-such-branch",
            "No ref found for: no-such-branch",
        ),
    ];
    for (workflow, git_ref, expected) in cases {
        let error = w
            .runner(workflow, git_ref, timeout)
            .backup(&prod())
            .await
            .unwrap_err();
        assert!(
            matches!(error, RunnerError::Spawn { .. }),
            "{workflow}: {error:?}"
        );
        assert!(error.to_string().contains(expected), "{workflow}: {error}");
    }
    assert!(w.github.workflow_runs().is_empty());
}

#[tokio::test]
async fn a_run_past_the_timeout_is_cancelled() {
    let hangs: BenchHook = Arc::new(|_: BenchRequest| {
        Box::pin(std::future::pending::<StepOutcome>())
            as futures::future::BoxFuture<'static, StepOutcome>
    });
    let w = world_with(|_| hangs).await;
    let error = w
        .runner("bench.yml", "main", Duration::from_millis(200))
        .backup(&prod())
        .await
        .unwrap_err();
    assert!(matches!(error, RunnerError::TimedOut { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("was still running; lockstep asked GitHub to cancel it"),
        "{error}"
    );
    let id = w.github.workflow_runs()[0].id;
    let run = w.github.wait_for_run(id).await;
    assert_eq!(run.conclusion.as_deref(), Some("cancelled"));
}

#[tokio::test]
async fn an_unreadable_log_is_lost_track_of_never_retried() {
    let w = world().await;
    for _ in 0..4 {
        w.github
            .fail_next("GET", "/repos/acme/frappe-config/actions/jobs/", 502);
    }
    let error = w.bench().backup(&prod()).await.unwrap_err();
    assert!(matches!(error, RunnerError::Lost { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("Check that run on GitHub"), "{text}");
    assert!(text.contains("/acme/frappe-config/actions/runs/"), "{text}");
    assert_eq!(w.github.workflow_runs().len(), 1, "dispatched once");
}
