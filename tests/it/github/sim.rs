//! The GitHub sim on its own terms: tokens (401 without one), GitHub App
//! installation tokens (JWT checked, token refreshed before expiry by the client),
//! and the `/_sim/` control routes the demo uses to act as a human reviewer.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lockstep::github::{
    GithubAuth, GithubClient, GithubConfig, NewPull, RetryPolicy, ReviewDecision,
};
use lockstep::secret::Secret;
use lockstep_sim::github::{GithubSim, GithubSimConfig, SimApp};
use serde_json::{json, Value};

const REPO: &str = "acme/frappe-config";

fn sites() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo/sites"))
}

/// A fresh RSA key pair from the openssl CLI: (PEM private key, PKCS#1 public DER).
fn app_key(dir: &Path) -> (String, Vec<u8>) {
    let pem = dir.join("app.pem");
    let der = dir.join("app.der");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("the openssl CLI runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genrsa",
        "-traditional",
        "-out",
        pem.to_str().unwrap(),
        "2048",
    ]);
    run(&[
        "rsa",
        "-in",
        pem.to_str().unwrap(),
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    (
        std::fs::read_to_string(pem).unwrap(),
        std::fs::read(der).unwrap(),
    )
}

async fn app_sim(public_key_der: Vec<u8>, ttl: Duration) -> GithubSim {
    lockstep::tls::install_crypto_provider();
    let app = SimApp {
        app_id: 4242,
        installation_id: 77,
        public_key_der,
        token_ttl: ttl,
    };
    let sim = GithubSim::start(GithubSimConfig {
        repos: vec![REPO.into()],
        app: Some(app),
        ..Default::default()
    })
    .await
    .unwrap();
    sim.repo(REPO).seed_from_sites_dir(sites()).unwrap();
    sim
}

fn exchanges_of_tokens(sim: &GithubSim) -> usize {
    sim.calls()
        .iter()
        .filter(|c| c.path == "/app/installations/77/access_tokens")
        .count()
}

#[tokio::test]
async fn a_github_app_trades_its_jwt_for_an_installation_token_and_renews_it_before_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, der) = app_key(dir.path());
    let auth = || GithubAuth::App {
        app_id: 4242,
        private_key: Secret::new(pem.clone()),
        installation_id: 77,
    };

    // A token valid for an hour serves every request.
    let sim = app_sim(der.clone(), Duration::from_secs(3600)).await;
    let client = GithubClient::with_retry(
        GithubConfig::new(&sim.url(), "acme", "frappe-config"),
        auth(),
        RetryPolicy::local(),
    )
    .unwrap();
    for _ in 0..3 {
        assert!(client.branch_head("main").await.unwrap().is_some());
    }
    assert_eq!(exchanges_of_tokens(&sim), 1);
    let issued = sim
        .exchanges()
        .into_iter()
        .find(|x| x.path.ends_with("/access_tokens"))
        .unwrap();
    assert_eq!(issued.status, 201);
    assert!(issued.response["expires_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert!(!format!("{client:?}").contains("PRIVATE KEY"));

    // One with less than five minutes left is renewed before use.
    let sim = app_sim(der.clone(), Duration::from_secs(240)).await;
    let client = GithubClient::with_retry(
        GithubConfig::new(&sim.url(), "acme", "frappe-config"),
        auth(),
        RetryPolicy::local(),
    )
    .unwrap();
    for _ in 0..3 {
        client.branch_head("main").await.unwrap();
    }
    assert_eq!(exchanges_of_tokens(&sim), 3);

    // A key the App does not have is refused.
    let other = tempfile::tempdir().unwrap();
    let (wrong_pem, _) = app_key(other.path());
    let client = GithubClient::with_retry(
        GithubConfig::new(&sim.url(), "acme", "frappe-config"),
        GithubAuth::App {
            app_id: 4242,
            private_key: Secret::new(wrong_pem),
            installation_id: 77,
        },
        RetryPolicy::local(),
    )
    .unwrap();
    let err = client.branch_head("main").await.unwrap_err().to_string();
    assert!(
        err.contains("GitHub App authentication failed") && err.contains("401"),
        "{err}"
    );
}

#[tokio::test]
async fn requests_without_the_token_get_githubs_401() {
    lockstep::tls::install_crypto_provider();
    let sim = GithubSim::start(GithubSimConfig {
        repos: vec![REPO.into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let reply = reqwest::get(format!("{}/repos/{REPO}", sim.url()))
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 401);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["message"], "Bad credentials");
}

#[tokio::test]
async fn the_demo_acts_as_a_reviewer_through_control_routes() {
    lockstep::tls::install_crypto_provider();
    let sim = GithubSim::start(GithubSimConfig {
        repos: vec![REPO.into()],
        ..Default::default()
    })
    .await
    .unwrap();
    sim.repo(REPO).seed_from_sites_dir(sites()).unwrap();
    let client = GithubClient::with_retry(
        GithubConfig::new(&sim.url(), "acme", "frappe-config"),
        GithubAuth::Token(Secret::new(sim.token())),
        RetryPolicy::local(),
    )
    .unwrap();
    let pr = client
        .create_pull(&NewPull {
            title: "Promote",
            head: "staging",
            base: "main",
            body: "",
            draft: false,
        })
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let control = |tail: String, body: Value| {
        let http = http.clone();
        let url = format!("{}/_sim/repos/{REPO}/{tail}", sim.url());
        async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };

    let r = control(
        format!("pulls/{}/request-changes", pr.number),
        json!({"reviewer": "bob", "comments": ["Rename the field"]}),
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        client.review_decision(pr.number).await.unwrap(),
        Some(ReviewDecision::ChangesRequested)
    );
    let r = control("push".into(), json!({"branch": "staging", "message": "Rename", "files": {"fixtures/app/roles/new.json": "{}\n"}})).await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        client.get_pull(pr.number).await.unwrap().head.sha,
        r["sha"].as_str().unwrap()
    );
    control(
        format!("pulls/{}/approve", pr.number),
        json!({"reviewer": "bob"}),
    )
    .await;
    assert_eq!(
        client.review_decision(pr.number).await.unwrap(),
        Some(ReviewDecision::Approved)
    );

    // An approval from someone without write access does not count.
    let r = control(
        format!("pulls/{}/request-changes", pr.number),
        json!({"reviewer": "bob", "comments": ["Again"]}),
    )
    .await;
    assert_eq!(r["ok"], true);
    control(
        format!("pulls/{}/approve", pr.number),
        json!({"reviewer": "bob"}),
    )
    .await;
    sim.repo(REPO)
        .push_commit(
            "staging",
            [(
                "fixtures/app/roles/n2.json".to_string(),
                Some(b"{}".to_vec()),
            )]
            .into(),
            "again",
        )
        .unwrap();
    control(
        format!("pulls/{}/approve", pr.number),
        json!({"reviewer": "outsider"}),
    )
    .await;
    assert_eq!(
        client.review_decision(pr.number).await.unwrap(),
        Some(ReviewDecision::ReviewRequired)
    );

    // Pushing to protected main is refused, as GitHub refuses it.
    let r = control(
        "push".into(),
        json!({"branch": "main", "message": "bypass", "files": {"x": "y"}}),
    )
    .await;
    assert_eq!(r["ok"], false);
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("through a pull request"),
        "{r}"
    );
    // Self-approval by the bot is refused.
    let r = control(
        format!("pulls/{}/approve", pr.number),
        json!({"reviewer": sim.bot_login()}),
    )
    .await;
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("Can not approve your own pull request"),
        "{r}"
    );
}
