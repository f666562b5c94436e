//! The bot's GitHub client against the GitHub sim: reading blueprints at a ref
//! (cache, truncated trees), committing in a constant number of calls, retries
//! (5xx reads retried, 5xx writes never repeated blindly, rate limits waited out),
//! and the pull-request path through review, protection, merge, deploy run and
//! revert.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lockstep::github::{
    BranchWrite, FileChanges, GithubAuth, GithubClient, GithubConfig, GithubError, MergeMethod,
    NewPull, RetryPolicy, ReviewDecision,
};
use lockstep::secret::Secret;
use lockstep_sim::github::{Call, DeployHook, GithubSim, GithubSimConfig, StepOutcome};

const OWNER: &str = "acme";
const NAME: &str = "frappe-config";
const REPO: &str = "acme/frappe-config";

fn fast_retry() -> RetryPolicy {
    RetryPolicy::local()
}

async fn sim_with(config: GithubSimConfig) -> (GithubSim, GithubClient) {
    lockstep::tls::install_crypto_provider();
    let sim = GithubSim::start(GithubSimConfig {
        repos: vec![REPO.into()],
        ..config
    })
    .await
    .unwrap();
    sim.repo(REPO)
        .seed_from_sites_dir(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/demo/sites"
        )))
        .unwrap();
    let client = GithubClient::with_retry(
        GithubConfig::new(&sim.url(), OWNER, NAME),
        GithubAuth::Token(Secret::new(sim.token())),
        fast_retry(),
    )
    .unwrap();
    sim.clear_calls();
    (sim, client)
}

fn count(calls: &[Call], method: &str, suffix: &str) -> usize {
    calls
        .iter()
        .filter(|c| c.method == method && c.path.contains(suffix))
        .count()
}

/// The blueprint files of a demo site folder, as the client reports them.
fn site_files(site: &str) -> BTreeMap<String, Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/demo/sites")
        .join(site);
    let mut out = BTreeMap::new();
    for folder in std::fs::read_dir(&root).unwrap() {
        let folder = folder.unwrap();
        let name = folder.file_name().to_string_lossy().to_string();
        if name.starts_with('_') {
            continue;
        }
        for file in std::fs::read_dir(folder.path()).unwrap() {
            let file = file.unwrap();
            out.insert(
                format!("{name}/{}", file.file_name().to_string_lossy()),
                std::fs::read(file.path()).unwrap(),
            );
        }
    }
    out
}

#[tokio::test]
async fn reads_every_blueprint_at_a_ref_and_caches_blobs_by_sha() {
    let (sim, client) = sim_with(GithubSimConfig::default()).await;
    let main = client.read_files("main").await.unwrap();
    assert_eq!(main.files, site_files("prod"));
    assert_eq!(
        Some(main.base.commit.clone()),
        sim.repo(REPO).branch_sha("main")
    );
    let first = sim.calls().len();
    assert_eq!(
        first,
        2 + main.files.len(),
        "ref + tree + one call per blob"
    );

    // Same ref again: every blob comes from the cache.
    sim.clear_calls();
    client.read_files("main").await.unwrap();
    assert_eq!(sim.calls().len(), 2);

    // Staging shares most blobs with main: only the differing ones are fetched.
    sim.clear_calls();
    let staging = client.read_files("staging").await.unwrap();
    assert_eq!(staging.files, site_files("staging"));
    let new_blobs = staging
        .files
        .iter()
        .filter(|(p, b)| main.files.get(*p) != Some(*b))
        .count();
    assert_eq!(count(&sim.calls(), "GET", "/git/blobs/"), new_blobs);

    // And by sha, and as blueprints.
    let (_, set) = client.read_blueprints(&main.base.commit).await.unwrap();
    assert!(set.iter().count() > 0);
}

#[tokio::test]
async fn a_ref_indexes_to_the_digests_of_its_blueprints_and_reads_them_back() {
    let (sim, client) = sim_with(GithubSimConfig::default()).await;
    let index = client.index_blueprints("staging").await.unwrap();
    assert_eq!(
        Some(index.base.commit.clone()),
        sim.repo(REPO).branch_sha("staging")
    );
    // A fresh client, so the whole read does not come from the index's blobs.
    let (_sim, fresh) = sim_with(GithubSimConfig::default()).await;
    let (_, set) = fresh.read_blueprints("staging").await.unwrap();
    assert_eq!(index.index.len(), set.len());
    for entry in index.index.entries() {
        assert_eq!(
            set.digest(entry.kind, &entry.name),
            Some(entry.digest),
            "{entry:?}"
        );
    }
    let ids = index
        .index
        .entries()
        .iter()
        .map(|e| (e.kind, e.name.clone()));
    assert_eq!(index.read(&client, ids).await.unwrap(), set);
}

#[tokio::test]
async fn indexing_a_ref_again_fetches_only_the_blobs_it_has_not_seen() {
    let (sim, client) = sim_with(GithubSimConfig::default()).await;
    let main = client.index_blueprints("main").await.unwrap();
    sim.clear_calls();
    let again = client.index_blueprints("main").await.unwrap();
    assert_eq!(again.index, main.index);
    assert_eq!(sim.calls().len(), 2, "ref + tree, every blob known");
    sim.clear_calls();
    let staging = client.index_blueprints("staging").await.unwrap();
    let (_sim, fresh) = sim_with(GithubSimConfig::default()).await;
    assert_eq!(
        staging.index,
        fresh.index_blueprints("staging").await.unwrap().index
    );
    let new_blobs = staging
        .index
        .entries()
        .iter()
        .filter(|e| main.index.get(e.kind, &e.name).map(|m| m.digest) != Some(e.digest))
        .count();
    assert!(count(&sim.calls(), "GET", "/git/blobs/") <= new_blobs);
}

#[tokio::test]
async fn a_truncated_tree_is_listed_folder_by_folder() {
    let (_sim, client) = sim_with(GithubSimConfig {
        tree_entry_limit: 6,
        ..Default::default()
    })
    .await;
    let main = client.read_files("main").await.unwrap();
    assert_eq!(main.files, site_files("prod"));
}

#[tokio::test]
async fn a_5xx_on_a_read_is_retried() {
    let (sim, client) = sim_with(GithubSimConfig::default()).await;
    let trees = format!("/repos/{REPO}/git/trees");
    sim.fail_next("GET", &trees, 502);
    sim.fail_next("GET", &trees, 503);
    let main = client.read_files("main").await.unwrap();
    assert_eq!(main.files, site_files("prod"));
    assert_eq!(
        count(&sim.calls(), "GET", "/git/trees/"),
        3,
        "two failures, then the answer"
    );
}

#[tokio::test]
async fn a_5xx_on_a_write_is_not_repeated() {
    let (sim, client) = sim_with(GithubSimConfig::default()).await;
    let base = client.base_of("main").await.unwrap();
    let changes = FileChanges {
        upsert: BTreeMap::from([("fixtures/app/roles/x.json".to_string(), b"{}".to_vec())]),
        delete: Default::default(),
    };

    sim.fail_next("POST", &format!("/repos/{REPO}/git/commits"), 500);
    sim.clear_calls();
    let err = client
        .commit_files("promote/a", &base, &changes, "m", BranchWrite::Create)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::Status { status: 500, .. }),
        "{err}"
    );
    assert_eq!(
        count(&sim.calls(), "POST", "/git/commits"),
        1,
        "the POST went out once"
    );
    assert_eq!(sim.repo(REPO).branch_sha("promote/a"), None);

    // A 502 on the ref write: the client looks at the branch instead of re-POSTing.
    sim.fail_next("POST", &format!("/repos/{REPO}/git/refs"), 502);
    sim.clear_calls();
    let err = client
        .commit_files("promote/b", &base, &changes, "m", BranchWrite::Create)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::Status { status: 502, .. }),
        "{err}"
    );
    let calls = sim.calls();
    assert_eq!(count(&calls, "POST", "/git/refs"), 1);
    assert_eq!(
        count(&calls, "GET", "/git/ref/heads/promote/b"),
        1,
        "outcome checked by a read"
    );
    assert!(!err.to_string().contains(sim.token()));
}

#[tokio::test]
async fn a_rate_limited_write_waits_and_goes_through() {
    let (sim, client) = sim_with(GithubSimConfig::default()).await;
    let base = client.base_of("main").await.unwrap();
    let changes = FileChanges {
        upsert: BTreeMap::from([("fixtures/app/roles/x.json".to_string(), b"{}".to_vec())]),
        delete: Default::default(),
    };
    sim.rate_limit_next("POST", &format!("/repos/{REPO}/git/trees"), 0);
    sim.clear_calls();
    client
        .commit_files("promote/rl", &base, &changes, "m", BranchWrite::Create)
        .await
        .unwrap();
    assert_eq!(
        count(&sim.calls(), "POST", "/git/trees"),
        2,
        "GitHub did not act on the limited one"
    );
}

#[tokio::test]
async fn commits_many_files_in_three_writes_and_fast_forwards() {
    let (sim, client) = sim_with(GithubSimConfig::default()).await;
    let base = client.base_of("main").await.unwrap();
    let main_files = sim.repo(REPO).files_at("main");
    let doomed = main_files
        .keys()
        .find(|p| p.starts_with("fixtures/app/roles/"))
        .unwrap()
        .clone();
    let mut upsert = BTreeMap::new();
    for i in 0..200 {
        upsert.insert(
            format!("fixtures/app/roles/r{i:03}.json"),
            format!("{{\"doctype\": \"Role\", \"name\": \"R{i}\"}}\n").into_bytes(),
        );
    }
    let changes = FileChanges {
        upsert: upsert.clone(),
        delete: [doomed.clone()].into(),
    };
    sim.clear_calls();
    let first = client
        .commit_files(
            "promote/many",
            &base,
            &changes,
            "Promote 200 roles",
            BranchWrite::Create,
        )
        .await
        .unwrap();
    assert_eq!(sim.calls().len(), 3, "tree, commit, ref: {:?}", sim.calls());
    let files = sim.repo(REPO).files_at("promote/many");
    assert!(!files.contains_key(&doomed));
    for (p, b) in &upsert {
        assert_eq!(files.get(p), Some(b));
    }
    assert_eq!(files.len(), main_files.len() - 1 + 200);

    // A second commit on the same branch fast-forwards it; a stale parent cannot.
    let more = FileChanges {
        upsert: BTreeMap::from([("fixtures/app/roles/r000.json".to_string(), b"{}".to_vec())]),
        delete: Default::default(),
    };
    let second = client
        .commit_files(
            "promote/many",
            &first,
            &more,
            "again",
            BranchWrite::CreateOrFastForward,
        )
        .await
        .unwrap();
    assert_eq!(
        sim.repo(REPO).branch_sha("promote/many"),
        Some(second.commit.clone())
    );
    let err = client
        .commit_files(
            "promote/many",
            &base,
            &more,
            "stale",
            BranchWrite::FastForward,
        )
        .await
        .unwrap_err();
    assert!(err.is_validation("Update is not a fast forward"), "{err}");

    // Writing main directly is refused: it is protected.
    let err = client
        .commit_files("main", &base, &more, "bypass", BranchWrite::FastForward)
        .await
        .unwrap_err();
    assert!(err.is_validation("Protected branch update failed"), "{err}");
}

/// (step, sha, number of blueprint files) for each step the hook ran.
type StepLog = Arc<Mutex<Vec<(String, String, usize)>>>;

fn recording_hook() -> (DeployHook, StepLog) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let hook: DeployHook = Arc::new(move |step: lockstep_sim::github::DeployStep| {
        log.lock()
            .unwrap()
            .push((step.step.clone(), step.sha.clone(), step.blueprints.len()));
        Box::pin(async move {
            StepOutcome {
                success: true,
                log: format!("{} done", step.step),
            }
        })
    });
    (hook, seen)
}

#[tokio::test]
async fn a_pull_request_goes_through_review_protection_merge_and_deploy() {
    let (hook, deployed) = recording_hook();
    let (sim, client) = sim_with(GithubSimConfig {
        deploy: Some(hook),
        mergeable_unknown_reads: 1,
        ..Default::default()
    })
    .await;
    let staging = client.read_files("staging").await.unwrap();
    let main = client.read_files("main").await.unwrap();
    let changes = FileChanges::between(&main.files, &staging.files);
    assert!(!changes.is_empty());
    let head = client
        .commit_files(
            "promote/1",
            &main.base,
            &changes,
            "Promote staging",
            BranchWrite::Create,
        )
        .await
        .unwrap();

    let pr = client
        .create_pull(&NewPull {
            title: "Promote staging",
            head: "promote/1",
            base: "main",
            body: "From staging",
            draft: false,
        })
        .await
        .unwrap();
    assert_eq!(pr.head.sha, head.commit);
    client
        .add_labels(pr.number, &["lockstep", "promotion"])
        .await
        .unwrap();
    client
        .request_reviewers(pr.number, &["alice", "bob"])
        .await
        .unwrap();
    let err = client
        .request_reviewers(pr.number, &["mallory"])
        .await
        .unwrap_err();
    assert!(err.is_validation("not a collaborator"), "{err}");
    let summary = sim.repo(REPO).pull_summary(pr.number).unwrap();
    assert_eq!(summary.labels, ["lockstep", "promotion"]);
    assert_eq!(summary.requested_reviewers, ["alice", "bob"]);
    let again = client
        .create_pull(&NewPull {
            title: "dup",
            head: "promote/1",
            base: "main",
            body: "",
            draft: false,
        })
        .await
        .unwrap_err();
    assert!(
        again.is_validation("A pull request already exists"),
        "{again}"
    );
    assert_eq!(
        client
            .find_open_pull("promote/1", "main")
            .await
            .unwrap()
            .map(|p| p.number),
        Some(pr.number)
    );

    // mergeable is null on the first read, computed on the next.
    sim.clear_calls();
    let fresh = client
        .wait_for_mergeable(pr.number, 5, Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(
        count(&sim.calls(), "GET", &format!("/pulls/{}", pr.number)),
        2
    );
    assert_eq!(
        (fresh.mergeable, fresh.mergeable_state.as_deref()),
        (Some(true), Some("blocked"))
    );

    // No review yet: GitHub refuses with its protection text.
    let protection = client.branch_protection("main").await.unwrap().unwrap();
    assert_eq!(protection.required_approving_review_count, 1);
    // A 502 on the GraphQL query is retried (it only reads).
    sim.fail_next("POST", "/graphql", 502);
    sim.clear_calls();
    assert_eq!(
        client.review_decision(pr.number).await.unwrap(),
        Some(ReviewDecision::ReviewRequired)
    );
    assert_eq!(count(&sim.calls(), "POST", "/graphql"), 2);
    let err = client
        .merge_pull(pr.number, &head.commit, MergeMethod::Merge, None)
        .await
        .unwrap_err();
    match &err {
        GithubError::MergeRefused { message, .. } => assert!(
            message.contains("At least 1 approving review is required"),
            "{message}"
        ),
        other => panic!("expected MergeRefused, got {other}"),
    }

    // Changes requested by bob block alice's approval until bob approves.
    sim.repo(REPO)
        .request_changes(pr.number, "bob", &["Please keep the old label"])
        .unwrap();
    sim.repo(REPO).approve(pr.number, "alice").unwrap();
    let s = client
        .review_summary(
            &client.get_pull(pr.number).await.unwrap(),
            Some(&protection),
        )
        .await
        .unwrap();
    assert_eq!(s.decision, ReviewDecision::ChangesRequested);
    assert_eq!(
        (s.approved_by.clone(), s.changes_requested_by.clone()),
        (vec!["alice".to_string()], vec!["bob".to_string()])
    );
    assert!(matches!(
        client
            .merge_pull(pr.number, &head.commit, MergeMethod::Merge, None)
            .await,
        Err(GithubError::MergeRefused { .. })
    ));
    sim.repo(REPO).approve(pr.number, "bob").unwrap();
    assert_eq!(
        client.review_decision(pr.number).await.unwrap(),
        Some(ReviewDecision::Approved)
    );

    // A human pushes to the branch: the approvals go stale, and merging the
    // reviewed sha is refused as a moved head (409).
    let pushed = sim
        .repo(REPO)
        .push_commit(
            "promote/1",
            BTreeMap::from([(
                "fixtures/app/roles/extra.json".to_string(),
                Some(b"{}".to_vec()),
            )]),
            "tweak",
        )
        .unwrap();
    let pull = client.get_pull(pr.number).await.unwrap();
    assert_eq!(pull.head.sha, pushed);
    let s = client
        .review_summary(&pull, Some(&protection))
        .await
        .unwrap();
    assert_eq!(s.decision, ReviewDecision::ReviewRequired);
    // GitHub dismisses approvals of older commits on push (dismiss_stale_reviews).
    assert!(
        s.approved_by.is_empty() && s.stale_approvals.is_empty(),
        "{s:?}"
    );
    let states: Vec<String> = client
        .list_reviews(pr.number)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(states, ["CHANGES_REQUESTED", "DISMISSED", "DISMISSED"]);
    sim.repo(REPO).approve(pr.number, "alice").unwrap();
    let err = client
        .merge_pull(pr.number, &head.commit, MergeMethod::Merge, None)
        .await
        .unwrap_err();
    assert!(matches!(err, GithubError::HeadModified { .. }), "{err}");

    let merged = client
        .merge_pull(pr.number, &pushed, MergeMethod::Merge, None)
        .await
        .unwrap();
    assert!(merged.merged);
    assert_eq!(sim.repo(REPO).branch_sha("main"), Some(merged.sha.clone()));
    let pull = client.get_pull(pr.number).await.unwrap();
    assert_eq!((pull.state.as_str(), pull.merged), ("closed", Some(true)));

    // The push to main started a deploy run: backup, migrate, restart.
    let run = sim.wait_for_completed_run(&merged.sha).await;
    assert_eq!(run.conclusion.as_deref(), Some("success"));
    let runs = client.workflow_runs_for(&merged.sha).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status.as_deref(), Some("completed"));
    let jobs = client.run_jobs(runs[0].id).await.unwrap();
    let steps: Vec<(&str, Option<&str>)> = jobs[0]
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.conclusion.as_deref()))
        .collect();
    assert_eq!(
        steps,
        [
            ("backup", Some("success")),
            ("migrate", Some("success")),
            ("restart", Some("success"))
        ]
    );
    let checks = client.check_runs(&merged.sha).await.unwrap();
    assert_eq!(
        (checks[0].status.as_str(), checks[0].conclusion.as_deref()),
        ("completed", Some("success"))
    );
    let seen = deployed.lock().unwrap().clone();
    let expected_files = sim
        .repo(REPO)
        .files_at("main")
        .keys()
        .filter(|p| p.starts_with("fixtures/app/"))
        .count();
    assert_eq!(
        seen,
        ["backup", "migrate", "restart"]
            .map(|s| (s.to_string(), merged.sha.clone(), expected_files))
            .to_vec()
    );

    // Compare, tag, release.
    let cmp = client.compare(&main.base.commit, "main").await.unwrap();
    assert_eq!(cmp.status, "ahead");
    assert_eq!(cmp.ahead_by, 3, "promotion, tweak, merge");
    let tag = client
        .create_annotated_tag("v2026.11.26", "Promotion 1", &merged.sha)
        .await
        .unwrap();
    assert_eq!(
        client.resolve_commit("v2026.11.26").await.unwrap(),
        merged.sha
    );
    assert_eq!(
        sim.repo(REPO).refs().get("refs/tags/v2026.11.26"),
        Some(&tag.sha)
    );
    let release = client
        .create_release("v2026.11.26", "Promotion 1", "notes")
        .await
        .unwrap();
    assert_eq!(release.tag_name, "v2026.11.26");
    let err = client
        .create_release("v2026.11.26", "again", "")
        .await
        .unwrap_err();
    assert!(
        err.is_validation("Release tag_name already_exists"),
        "{err}"
    );

    // Revert through GraphQL: a new PR whose branch restores main's old files.
    let revert = client.revert_pull(&pull).await.unwrap();
    let summary = sim.repo(REPO).pull_summary(revert.number).unwrap();
    assert_eq!(summary.title, "Revert \"Promote staging\"");
    let reverted = sim.repo(REPO).files_at(&summary.head_ref);
    assert_eq!(reverted, sim.repo(REPO).files_at(&main.base.commit));

    // And through git data, the fallback.
    let fallback = client.revert_with_git_data(&pull).await.unwrap();
    let summary = sim.repo(REPO).pull_summary(fallback.number).unwrap();
    assert_eq!(summary.head_ref, format!("revert-{}", pr.number));
    assert_eq!(
        sim.repo(REPO).files_at(&summary.head_ref),
        sim.repo(REPO).files_at(&main.base.commit)
    );
}

#[tokio::test]
async fn errors_are_typed_and_never_show_the_token() {
    let (sim, client) = sim_with(GithubSimConfig::default()).await;
    assert!(matches!(
        client.get_pull(99).await,
        Err(GithubError::NotFound { .. })
    ));
    assert_eq!(client.branch_head("nope").await.unwrap(), None);
    assert_eq!(client.branch_protection("staging").await.unwrap(), None);
    let wrong = GithubClient::with_retry(
        GithubConfig::new(&sim.url(), OWNER, NAME),
        GithubAuth::Token(Secret::new("ghp_wrongtoken")),
        fast_retry(),
    )
    .unwrap();
    let err = wrong.branch_head("main").await.unwrap_err();
    assert!(matches!(err, GithubError::Unauthorized { .. }), "{err}");
    assert!(!err.to_string().contains("ghp_wrongtoken"));
    assert!(!format!("{wrong:?}").contains("ghp_wrongtoken"));
    // A 403 that is not a rate limit names the missing permission.
    sim.fail_next_with(
        "GET",
        &format!("/repos/{REPO}/branches/main/protection"),
        403,
        "Resource not accessible by integration",
    );
    let err = client.branch_protection("main").await.unwrap_err();
    assert!(matches!(err, GithubError::Forbidden { .. }), "{err}");
    assert!(err.to_string().contains("administration: read"), "{err}");
    // A primary rate limit longer than the client will wait is returned as such.
    sim.rate_limit_next("GET", &format!("/repos/{REPO}/pulls/1"), 3600);
    assert!(matches!(
        client.get_pull(1).await,
        Err(GithubError::RateLimited { .. })
    ));
}

#[tokio::test]
async fn a_conflicting_pull_request_is_dirty_and_refused() {
    let (sim, client) = sim_with(GithubSimConfig::default()).await;
    let base = client.base_of("main").await.unwrap();
    let path = "fixtures/app/roles/shared.json".to_string();
    let mut numbers = Vec::new();
    for (branch, text) in [("promote/a", "A\n"), ("promote/b", "B\n")] {
        let changes = FileChanges {
            upsert: BTreeMap::from([(path.clone(), text.as_bytes().to_vec())]),
            delete: Default::default(),
        };
        client
            .commit_files(branch, &base, &changes, branch, BranchWrite::Create)
            .await
            .unwrap();
        let pr = client
            .create_pull(&NewPull {
                title: branch,
                head: branch,
                base: "main",
                body: "",
                draft: false,
            })
            .await
            .unwrap();
        sim.repo(REPO).approve(pr.number, "alice").unwrap();
        numbers.push(pr);
    }
    let first = &numbers[0];
    let clean = client.get_pull(first.number).await.unwrap();
    assert_eq!(clean.mergeable_state.as_deref(), Some("clean"));
    client
        .merge_pull(first.number, &first.head.sha, MergeMethod::Squash, None)
        .await
        .unwrap();
    let second = client.get_pull(numbers[1].number).await.unwrap();
    assert_eq!(
        (second.mergeable, second.mergeable_state.as_deref()),
        (Some(false), Some("dirty"))
    );
    let err = client
        .merge_pull(second.number, &second.head.sha, MergeMethod::Merge, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GithubError::MergeRefused { message, .. } if message == "Pull Request is not mergeable"),
        "{err}"
    );
    assert_eq!(
        sim.repo(REPO)
            .files_at("main")
            .get(&path)
            .map(Vec::as_slice),
        Some(&b"A\n"[..])
    );
}

#[tokio::test]
async fn with_last_push_approval_the_pusher_cannot_approve_their_own_push() {
    let protection = lockstep_sim::github::Protection {
        require_last_push_approval: true,
        dismiss_stale_reviews: false,
        ..Default::default()
    };
    let (sim, client) = sim_with(GithubSimConfig {
        protection: Some(protection),
        ..Default::default()
    })
    .await;
    // alice pushes a change herself and opens it for review.
    let pushed = sim
        .repo(REPO)
        .push_commit(
            "fix/label",
            BTreeMap::from([(
                "fixtures/app/roles/extra.json".to_string(),
                Some(b"{}".to_vec()),
            )]),
            "a change of alice's",
        )
        .unwrap();
    let pr = client
        .create_pull(&NewPull {
            title: "Fix label",
            head: "fix/label",
            base: "main",
            body: "",
            draft: false,
        })
        .await
        .unwrap();

    sim.repo(REPO).approve(pr.number, "alice").unwrap();
    assert_eq!(
        client.review_decision(pr.number).await.unwrap(),
        Some(ReviewDecision::ReviewRequired),
        "the last pusher's own approval does not count"
    );
    let err = client
        .merge_pull(pr.number, &pushed, MergeMethod::Merge, None)
        .await
        .unwrap_err();
    assert!(matches!(err, GithubError::MergeRefused { .. }), "{err}");

    sim.repo(REPO).approve(pr.number, "bob").unwrap();
    assert_eq!(
        client.review_decision(pr.number).await.unwrap(),
        Some(ReviewDecision::Approved)
    );
    let merged = client
        .merge_pull(pr.number, &pushed, MergeMethod::Merge, None)
        .await
        .unwrap();
    assert!(merged.merged);
}
