//! Every request the bot's client sends and every answer the GitHub sim gives, over a
//! whole promotion (read, commit, PR, labels, reviewers, reviews, refused and
//! successful merges, runs, jobs, checks, compare, tag, release, protection, revert,
//! typical 404/409/422s), of the runner's workflow dispatches (dispatch, run, jobs,
//! job-log redirect, cancel) and of ship's and review's reads and writes (tag refs and
//! objects, tag and release lists, the latest release, contents read and written with
//! their 404/409/422s, a PR's files, conversation and review comments, closing it),
//! validate against GitHub's own OpenAPI description — the
//! committed subset in tests/data/github-openapi/ (cut by
//! scripts/cut-github-openapi.py from @octokit/openapi 23.0.2). OAS 3.0 `nullable`
//! becomes `anyOf [.., null]`, and GitHub's overlapping `oneOf`s are read as `anyOf`.
//! An error status the description leaves out (a dispatch's 404 and 422) must still
//! carry GitHub's `basic-error` body.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use lockstep::github::{
    BranchWrite, FileChanges, GithubAuth, GithubClient, GithubConfig, MergeMethod, NewPull,
    RetryPolicy,
};
use lockstep::secret::Secret;
use lockstep_sim::github::{Exchange, GithubSim, GithubSimConfig};
use serde_json::{json, Map, Value};

const REPO: &str = "acme/frappe-config";

/// Path parameters GitHub lets hold `/`.
const MULTI_SEGMENT: [&str; 7] = [
    "ref",
    "path",
    "basehead",
    "branch",
    "tree_sha",
    "commit_sha",
    "tag",
];

fn convert(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                match k.as_str() {
                    "nullable" => {}
                    "oneOf" => {
                        out.insert("anyOf".into(), convert(v));
                    }
                    _ => {
                        out.insert(k.clone(), convert(v));
                    }
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                json!({"anyOf": [Value::Object(out), {"type": "null"}]})
            } else {
                Value::Object(out)
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(convert).collect()),
        other => other.clone(),
    }
}

struct Spec {
    doc: Value,
    components: Value,
    validators: HashMap<String, jsonschema::Validator>,
}

impl Spec {
    fn load() -> Spec {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/github-openapi/api.github.com.subset.json");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let components = convert(&doc["components"]);
        Spec {
            doc,
            components,
            validators: HashMap::new(),
        }
    }

    /// The path template an actual path matches, with multi-segment parameters; of
    /// several (`commits/{ref}` and `commits/{ref}/check-runs`), the one with the
    /// most literal segments.
    fn template(&self, path: &str) -> Option<String> {
        let actual: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let literals = |t: &str| t.split('/').filter(|s| !s.starts_with('{')).count();
        self.doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|t| {
                let pattern: Vec<&str> = t.trim_start_matches('/').split('/').collect();
                segments_match(&pattern, &actual)
            })
            .max_by_key(|t| literals(t))
            .cloned()
    }

    fn resolve<'a>(&'a self, node: &'a Value) -> &'a Value {
        match node["$ref"].as_str() {
            Some(r) => {
                let pointer = r.trim_start_matches('#');
                self.resolve(self.doc.pointer(pointer).unwrap_or(&Value::Null))
            }
            None => node,
        }
    }

    fn check(&mut self, key: String, schema: &Value, instance: &Value) -> Result<(), String> {
        if !self.validators.contains_key(&key) {
            let root = json!({"allOf": [convert(schema)], "components": self.components});
            let v = jsonschema::validator_for(&root)
                .map_err(|e| format!("{key}: schema does not compile: {e}"))?;
            self.validators.insert(key.clone(), v);
        }
        let errors: Vec<String> = self.validators[&key]
            .iter_errors(instance)
            .take(5)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{key}: {}", errors.join("\n    ")))
        }
    }

    fn validate(&mut self, x: &Exchange) -> Result<String, String> {
        let template = self
            .template(&x.path)
            .ok_or_else(|| format!("{} {}: no such path in the subset", x.method, x.path))?;
        let method = x.method.to_lowercase();
        let op = self.doc["paths"][&template][&method].clone();
        if op.is_null() {
            return Err(format!(
                "{} {template}: no such operation in the subset",
                x.method
            ));
        }
        let op_name = format!("{} {template}", x.method);
        if !x.request.is_null() {
            let schema = self.resolve(&op["requestBody"]).clone();
            let schema = schema["content"]["application/json"]["schema"].clone();
            if schema.is_null() {
                return Err(format!(
                    "{op_name}: sends a body the operation does not take"
                ));
            }
            self.check(format!("{op_name} request"), &schema, &x.request)?;
        }
        let status = x.status.to_string();
        let documented = op["responses"]
            .get(&status)
            .or_else(|| op["responses"].get("default"))
            .cloned();
        let Some(response) = documented else {
            // GitHub answers errors the description leaves out (a dispatch's 404
            // and 422) with its usual error body.
            if x.status >= 400 {
                let basic = json!({"$ref": "#/components/schemas/basic-error"});
                self.check(format!("{op_name} -> {status}"), &basic, &x.response)?;
                return Ok(format!("{op_name} -> {status}"));
            }
            return Err(format!("{op_name}: status {status} is not documented"));
        };
        let response = self.resolve(&response).clone();
        let schema = response["content"]["application/json"]["schema"].clone();
        if schema.is_null() {
            return Ok(format!("{op_name} -> {status}"));
        }
        self.check(format!("{op_name} -> {status}"), &schema, &x.response)?;
        Ok(format!("{op_name} -> {status}"))
    }
}

fn segments_match(pattern: &[&str], actual: &[&str]) -> bool {
    match (pattern.first(), actual.first()) {
        (None, None) => true,
        (None, _) | (_, None) => false,
        (Some(p), Some(a)) if p.starts_with('{') => {
            let name = p.trim_matches(|c| c == '{' || c == '}');
            if MULTI_SEGMENT.contains(&name) {
                (1..=actual.len()).any(|n| segments_match(&pattern[1..], &actual[n..]))
            } else {
                !a.is_empty() && segments_match(&pattern[1..], &actual[1..])
            }
        }
        (Some(p), Some(a)) => p == a && segments_match(&pattern[1..], &actual[1..]),
    }
}

#[test]
fn the_matcher_takes_slashes_in_refs() {
    let spec = Spec::load();
    assert_eq!(
        spec.template("/repos/a/b/git/ref/heads/promote/1")
            .as_deref(),
        Some("/repos/{owner}/{repo}/git/ref/{ref}")
    );
    assert_eq!(
        spec.template("/repos/a/b/commits/heads/x/check-runs")
            .as_deref(),
        Some("/repos/{owner}/{repo}/commits/{ref}/check-runs")
    );
    assert_eq!(
        spec.template("/repos/a/b/pulls/3/merge").as_deref(),
        Some("/repos/{owner}/{repo}/pulls/{pull_number}/merge")
    );
}

#[tokio::test]
async fn every_request_and_answer_of_a_promotion_validates_against_githubs_openapi() {
    lockstep::tls::install_crypto_provider();
    let sim = GithubSim::start(GithubSimConfig {
        repos: vec![REPO.into()],
        mergeable_unknown_reads: 1,
        ..Default::default()
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
        GithubConfig::new(&sim.url(), "acme", "frappe-config"),
        GithubAuth::Token(Secret::new(sim.token())),
        RetryPolicy::local(),
    )
    .unwrap();

    let main = client.read_files("main").await.unwrap();
    let staging = client.read_files("staging").await.unwrap();
    let mut changes = FileChanges::between(&main.files, &staging.files);
    changes
        .delete
        .insert("fixtures/app/roles/not-there.json".into());
    changes
        .upsert
        .insert("fixtures/app/binary.bin".into(), vec![0xff, 0x00, 0xfe]);
    let head = client
        .commit_files(
            "promote/1",
            &main.base,
            &changes,
            "Promote",
            BranchWrite::CreateOrFastForward,
        )
        .await
        .unwrap();
    let more = FileChanges {
        upsert: BTreeMap::from([("fixtures/app/roles/x.json".to_string(), b"{}".to_vec())]),
        delete: Default::default(),
    };
    let head2 = client
        .commit_files(
            "promote/1",
            &head,
            &more,
            "More",
            BranchWrite::CreateOrFastForward,
        )
        .await
        .unwrap();
    let _ = client
        .commit_files(
            "promote/1",
            &main.base,
            &more,
            "stale",
            BranchWrite::FastForward,
        )
        .await
        .unwrap_err();
    let pr = client
        .create_pull(&NewPull {
            title: "Promote",
            head: "promote/1",
            base: "main",
            body: "b",
            draft: false,
        })
        .await
        .unwrap();
    let _ = client
        .create_pull(&NewPull {
            title: "Promote",
            head: "promote/1",
            base: "main",
            body: "b",
            draft: false,
        })
        .await
        .unwrap_err();
    client.find_open_pull("promote/1", "main").await.unwrap();
    client.add_labels(pr.number, &["lockstep"]).await.unwrap();
    client
        .request_reviewers(pr.number, &["alice"])
        .await
        .unwrap();
    let _ = client
        .request_reviewers(pr.number, &["mallory"])
        .await
        .unwrap_err();
    client
        .wait_for_mergeable(pr.number, 3, std::time::Duration::from_millis(1))
        .await
        .unwrap();
    let protection = client.branch_protection("main").await.unwrap();
    let _ = client.branch_protection("staging").await.unwrap();
    let _ = client
        .merge_pull(pr.number, &head2.commit, MergeMethod::Merge, None)
        .await
        .unwrap_err();
    sim.repo(REPO)
        .request_changes(pr.number, "bob", &["no"])
        .unwrap();
    sim.repo(REPO).approve(pr.number, "bob").unwrap();
    sim.repo(REPO).comment(pr.number, "carol", "nice").unwrap();
    client
        .review_summary(
            &client.get_pull(pr.number).await.unwrap(),
            protection.as_ref(),
        )
        .await
        .unwrap();
    let _ = client
        .merge_pull(pr.number, &head.commit, MergeMethod::Merge, None)
        .await
        .unwrap_err();
    let merged = client
        .merge_pull(
            pr.number,
            &head2.commit,
            MergeMethod::Merge,
            Some("Promote (#1)"),
        )
        .await
        .unwrap();
    sim.wait_for_completed_run(&merged.sha).await;
    let runs = client.workflow_runs_for(&merged.sha).await.unwrap();
    client.run_jobs(runs[0].id).await.unwrap();
    client.check_runs(&merged.sha).await.unwrap();
    client.compare(&main.base.commit, "main").await.unwrap();
    client
        .create_annotated_tag("v1", "one", &merged.sha)
        .await
        .unwrap();
    client.resolve_commit("v1").await.unwrap();
    client.create_release("v1", "One", "notes").await.unwrap();
    let _ = client
        .create_release("v1", "One", "notes")
        .await
        .unwrap_err();
    let pull = client.get_pull(pr.number).await.unwrap();
    client.revert_with_git_data(&pull).await.unwrap();
    let _ = client.get_pull(999).await.unwrap_err();
    client.delete_branch("promote/1").await.unwrap();
    client.delete_branch("promote/1").await.unwrap();

    let covered = validate_all(&sim.exchanges());
    assert!(
        covered.len() >= 30,
        "only {} operation/status pairs exercised: {covered:#?}",
        covered.len()
    );
}

/// Validates every exchange (GraphQL aside); returns the operation/status pairs seen.
fn validate_all(exchanges: &[Exchange]) -> std::collections::BTreeSet<String> {
    let mut spec = Spec::load();
    let mut failures = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for x in exchanges.iter().filter(|x| x.path != "/graphql") {
        match spec.validate(x) {
            Ok(op) => {
                covered.insert(op);
            }
            Err(e) => failures.push(e),
        }
    }
    failures.dedup();
    assert!(
        failures.is_empty(),
        "{} exchange(s) do not match GitHub's description:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    covered
}

#[tokio::test]
async fn the_app_token_exchange_validates_too() {
    lockstep::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("app.pem");
    let der = dir.path().join("app.der");
    for args in [
        vec![
            "genrsa",
            "-traditional",
            "-out",
            pem.to_str().unwrap(),
            "2048",
        ],
        vec![
            "rsa",
            "-in",
            pem.to_str().unwrap(),
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ],
    ] {
        let out = std::process::Command::new("openssl")
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}");
    }
    let app = lockstep_sim::github::SimApp {
        app_id: 1,
        installation_id: 2,
        public_key_der: std::fs::read(&der).unwrap(),
        token_ttl: std::time::Duration::from_secs(3600),
    };
    let sim = GithubSim::start(GithubSimConfig {
        repos: vec![REPO.into()],
        app: Some(app),
        ..Default::default()
    })
    .await
    .unwrap();
    sim.repo(REPO)
        .seed_from_sites_dir(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/demo/sites"
        )))
        .unwrap();
    let auth = GithubAuth::App {
        app_id: 1,
        private_key: Secret::new(std::fs::read_to_string(&pem).unwrap()),
        installation_id: 2,
    };
    let client = GithubClient::with_retry(
        GithubConfig::new(&sim.url(), "acme", "frappe-config"),
        auth,
        RetryPolicy::local(),
    )
    .unwrap();
    client.read_files("main").await.unwrap();
    let covered = validate_all(&sim.exchanges());
    assert!(
        covered.contains("POST /app/installations/{installation_id}/access_tokens -> 201"),
        "{covered:#?}"
    );
}

#[tokio::test]
async fn the_runners_workflow_dispatches_validate_too() {
    use lockstep::runner::{Runner, WorkflowDispatch};
    use lockstep_sim::frappe::FrappeSim;
    use lockstep_sim::github::bench_workflow_hook;
    use std::sync::Arc;
    use std::time::Duration;

    lockstep::tls::install_crypto_provider();
    let sites = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo/sites"));
    let frappe = FrappeSim::start(sites).await.unwrap();
    let sim = GithubSim::start(GithubSimConfig {
        repos: vec![REPO.into()],
        bench: Some(bench_workflow_hook(frappe.url(), None)),
        ..Default::default()
    })
    .await
    .unwrap();
    sim.repo(REPO).seed_from_sites_dir(sites).unwrap();
    let client = Arc::new(
        GithubClient::with_retry(
            GithubConfig::new(&sim.url(), "acme", "frappe-config"),
            GithubAuth::Token(Secret::new(sim.token())),
            RetryPolicy::local(),
        )
        .unwrap(),
    );
    let runner = |workflow: &str| {
        Runner::from_workflow(
            WorkflowDispatch {
                github: client.clone(),
                workflow: workflow.into(),
                git_ref: "main".into(),
                poll_interval: Duration::from_millis(5),
            },
            Duration::from_secs(60),
        )
    };
    let site = lockstep::frappe::SiteName::new("prod").unwrap();
    runner("bench.yml").backup(&site).await.unwrap();
    runner("deploy.yml").backup(&site).await.unwrap_err();
    runner("nope.yml").backup(&site).await.unwrap_err();
    let run = sim.workflow_runs()[0].id;
    client.cancel_workflow_run(run).await.unwrap();
    client.workflow("bench.yml").await.unwrap();
    client.workflow("nope.yml").await.unwrap_err();
    client.repository().await.unwrap();

    let covered = validate_all(&sim.exchanges());
    for expected in [
        "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches -> 200",
        "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches -> 422",
        "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches -> 404",
        "GET /repos/{owner}/{repo}/actions/runs/{run_id} -> 200",
        "GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs -> 302",
        "POST /repos/{owner}/{repo}/actions/runs/{run_id}/cancel -> 409",
        "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id} -> 200",
        "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id} -> 404",
        "GET /repos/{owner}/{repo} -> 200",
    ] {
        assert!(covered.contains(expected), "{expected} not in {covered:#?}");
    }
}

#[tokio::test]
async fn tags_releases_contents_and_the_conversation_validate_too() {
    lockstep::tls::install_crypto_provider();
    let sim = GithubSim::start(GithubSimConfig {
        repos: vec![REPO.into()],
        ..Default::default()
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
        GithubConfig::new(&sim.url(), "acme", "frappe-config"),
        GithubAuth::Token(Secret::new(sim.token())),
        RetryPolicy::local(),
    )
    .unwrap();
    let main = client.branch_head("main").await.unwrap().unwrap();

    // Tags and releases, before and after they exist.
    client.tag_ref("v1.0.0").await.unwrap();
    client.release_for_tag("v1.0.0").await.unwrap();
    client.latest_release().await.unwrap();
    let tag = client
        .create_annotated_tag("v1.0.0", "Release\n", &main)
        .await
        .unwrap();
    client.tag_ref("v1.0.0").await.unwrap();
    client.get_tag_object(&tag.sha).await.unwrap();
    client.get_tag_object(&main).await.unwrap();
    client
        .create_release("v1.0.0", "1.0.0", "notes")
        .await
        .unwrap();
    client.release_for_tag("v1.0.0").await.unwrap();
    client.latest_release().await.unwrap();
    client.list_releases().await.unwrap();
    client.list_tags().await.unwrap();
    // The first commit, found by listing the history (the release's first entry).
    let root = client.root_commit("main").await.unwrap();
    assert_eq!(root.len(), 40);

    // Contents: a file, a folder, the missing, and every refused write.
    let read = client
        .get_file("fixtures/app/roles/field_officer.json", "main")
        .await
        .unwrap();
    assert!(read.is_some(), "the seeded role is there");
    client.get_file("nope.md", "main").await.unwrap();
    client.get_file("nope.md", "no-such-ref").await.unwrap_err();
    client.get_file("fixtures/app", "main").await.unwrap_err();
    let created = client
        .put_file("CHANGELOG.md", "staging", b"# Changelog\n", "Start", None)
        .await
        .unwrap();
    client
        .put_file(
            "CHANGELOG.md",
            "staging",
            b"# Changelog\n\n",
            "More",
            Some(&created.blob_sha),
        )
        .await
        .unwrap();
    client
        .put_file(
            "CHANGELOG.md",
            "staging",
            b"x",
            "Stale",
            Some(&created.blob_sha),
        )
        .await
        .unwrap_err();
    client
        .put_file("CHANGELOG.md", "staging", b"x", "Blind", None)
        .await
        .unwrap_err();
    client
        .put_file("CHANGELOG.md", "main", b"x", "Direct", None)
        .await
        .unwrap_err();
    client
        .put_file("CHANGELOG.md", "gone", b"x", "Nowhere", None)
        .await
        .unwrap_err();

    // A pull request's files, conversation, review comments, and closing it.
    let staging = client.read_files("staging").await.unwrap();
    let base = client.read_files("main").await.unwrap();
    let changes = FileChanges::between(&base.files, &staging.files);
    client
        .commit_files(
            "promote/2",
            &base.base,
            &changes,
            "Promote",
            BranchWrite::Create,
        )
        .await
        .unwrap();
    let pr = client
        .create_pull(&NewPull {
            title: "Promote",
            head: "promote/2",
            base: "main",
            body: "b",
            draft: false,
        })
        .await
        .unwrap();
    let files = client.pull_files(pr.number).await.unwrap();
    client
        .comment_on_issue(pr.number, "Checklist: 8/8")
        .await
        .unwrap();
    client.comment_on_issue(999, "nobody").await.unwrap_err();
    client.issue_comments(pr.number).await.unwrap();
    sim.repo(REPO)
        .request_changes_on_lines(
            pr.number,
            "bob",
            "Please",
            &[(&files[0].filename, 1, "Here")],
        )
        .unwrap();
    client.list_reviews(pr.number).await.unwrap();
    client.review_comments(pr.number).await.unwrap();
    client.close_pull(pr.number).await.unwrap();

    // The folder listing, a PATCH GitHub refuses and a reopening, sent by hand.
    let http = reqwest::Client::new();
    let api = format!("{}/repos/{REPO}", sim.url());
    for request in [
        http.get(format!("{api}/contents/fixtures/app?ref=main")),
        http.get(format!("{api}/contents/")),
        http.patch(format!("{api}/pulls/{}", pr.number))
            .json(&json!({"base": "no-such-branch"})),
        http.patch(format!("{api}/pulls/{}", pr.number))
            .json(&json!({"state": "open", "title": "Promote again"})),
    ] {
        request.bearer_auth(sim.token()).send().await.unwrap();
    }

    let covered = validate_all(&sim.exchanges());
    for expected in [
        "GET /repos/{owner}/{repo}/git/ref/{ref} -> 404",
        "GET /repos/{owner}/{repo}/git/tags/{tag_sha} -> 200",
        "GET /repos/{owner}/{repo}/git/tags/{tag_sha} -> 404",
        "GET /repos/{owner}/{repo}/releases/tags/{tag} -> 404",
        "GET /repos/{owner}/{repo}/releases/tags/{tag} -> 200",
        "GET /repos/{owner}/{repo}/releases/latest -> 404",
        "GET /repos/{owner}/{repo}/releases/latest -> 200",
        "GET /repos/{owner}/{repo}/releases -> 200",
        "GET /repos/{owner}/{repo}/tags -> 200",
        "GET /repos/{owner}/{repo}/commits -> 200",
        "GET /repos/{owner}/{repo}/contents/{path} -> 200",
        "GET /repos/{owner}/{repo}/contents/{path} -> 404",
        "PUT /repos/{owner}/{repo}/contents/{path} -> 201",
        "PUT /repos/{owner}/{repo}/contents/{path} -> 200",
        "PUT /repos/{owner}/{repo}/contents/{path} -> 409",
        "PUT /repos/{owner}/{repo}/contents/{path} -> 422",
        "PUT /repos/{owner}/{repo}/contents/{path} -> 404",
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/files -> 200",
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments -> 201",
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments -> 404",
        "GET /repos/{owner}/{repo}/issues/{issue_number}/comments -> 200",
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments -> 200",
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews -> 200",
        "PATCH /repos/{owner}/{repo}/pulls/{pull_number} -> 200",
        "PATCH /repos/{owner}/{repo}/pulls/{pull_number} -> 422",
    ] {
        assert!(covered.contains(expected), "{expected} not in {covered:#?}");
    }
}
