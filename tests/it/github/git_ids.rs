//! The GitHub sim's object ids are git's: the same files, trees, commits (same
//! author, committer, times and message) and annotated tags get the same ids from
//! the `git` CLI in a scratch repository. Commits are made through the sim's HTTP
//! API, one of them by the bot's client.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use lockstep::github::{
    BaseCommit, BranchWrite, FileChanges, GithubAuth, GithubClient, GithubConfig, RetryPolicy,
};
use lockstep::secret::Secret;
use lockstep_sim::github::{GithubSim, GithubSimConfig};
use serde_json::{json, Value};

const REPO: &str = "acme/ids";

fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(env.iter().copied())
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn write(dir: &Path, files: &BTreeMap<&str, &str>) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

async fn post(sim: &GithubSim, path: &str, body: Value) -> Value {
    let http = reqwest::Client::new();
    let reply = http
        .post(format!("{}/repos/{REPO}/{path}", sim.url()))
        .bearer_auth(sim.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 201, "POST {path}");
    reply.json().await.unwrap()
}

fn epoch(iso: &str) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(iso).unwrap();
    format!("{} {}", t.timestamp(), t.format("%z"))
}

#[tokio::test]
async fn blobs_trees_commits_and_tags_hash_as_git_hashes_them() {
    lockstep::tls::install_crypto_provider();
    let sim = GithubSim::start(GithubSimConfig {
        repos: vec![REPO.into()],
        protection: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let messages = tempfile::tempdir().unwrap();
    let msg = |name: &str, text: &str| {
        let path = messages.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    git(dir, &["init", "-q", "-b", "main"], &[]);

    // Names chosen so git's "subtree sorts as name/" rule matters: a.b < a/ < a0.
    let files: BTreeMap<&str, &str> = BTreeMap::from([
        ("README.md", "# config\n"),
        ("a.b", "dot\n"),
        ("a/inner.json", "{\"x\": 1}\n"),
        ("a0", "zero\n"),
        (
            "fixtures/app/roles/field_officer.json",
            "{\n  \"doctype\": \"Role\",\n  \"name\": \"Field Officer\"\n}\n",
        ),
        (
            "fixtures/app/doctypes/grant.json",
            "{\"doctype\": \"DocType\", \"name\": \"Grant\", \"é\": \"ü\"}\n",
        ),
        ("empty", ""),
    ]);
    let entries: Vec<Value> = files
        .iter()
        .map(|(p, t)| json!({"path": p, "mode": "100644", "type": "blob", "content": t}))
        .collect();
    let tree = post(&sim, "git/trees", json!({"tree": entries})).await;

    write(dir, &files);
    git(dir, &["add", "-A"], &[]);
    let git_tree = git(dir, &["write-tree"], &[]);
    assert_eq!(tree["sha"].as_str().unwrap(), git_tree, "root tree id");
    let listed: Value = reqwest::Client::new()
        .get(format!(
            "{}/repos/{REPO}/git/trees/{git_tree}?recursive=1",
            sim.url()
        ))
        .bearer_auth(sim.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = listed["tree"].as_array().unwrap();
    assert_eq!(items.len(), 12, "7 files and 5 folders");
    for item in items {
        let path = item["path"].as_str().unwrap();
        let expected = git(dir, &["rev-parse", &format!("{git_tree}:{path}")], &[]);
        assert_eq!(
            item["sha"].as_str().unwrap(),
            expected,
            "{} {path}",
            item["type"]
        );
        if item["type"] == "blob" {
            assert_eq!(expected, git(dir, &["hash-object", path], &[]));
        }
    }

    let (author_date, committer_date) = ("2026-01-02T03:04:05+01:00", "2026-01-03T10:00:00-05:30");
    let message = "Seed the config repo\n\nWith a body line.\n";
    let commit = post(
        &sim,
        "git/commits",
        json!({"message": message, "tree": tree["sha"], "parents": [],
               "author": {"name": "Ada Lovelace", "email": "ada@example.com", "date": author_date},
               "committer": {"name": "Grace Hopper", "email": "grace@example.com", "date": committer_date}}),
    )
    .await;
    let first_msg = msg("first", message);
    let (ad, cd) = (epoch(author_date), epoch(committer_date));
    let ident = [
        ("GIT_AUTHOR_NAME", "Ada Lovelace"),
        ("GIT_AUTHOR_EMAIL", "ada@example.com"),
        ("GIT_AUTHOR_DATE", ad.as_str()),
        ("GIT_COMMITTER_NAME", "Grace Hopper"),
        ("GIT_COMMITTER_EMAIL", "grace@example.com"),
        ("GIT_COMMITTER_DATE", cd.as_str()),
    ];
    let git_commit = git(
        dir,
        &[
            "commit-tree",
            tree["sha"].as_str().unwrap(),
            "-F",
            &first_msg,
        ],
        &ident,
    );
    assert_eq!(
        commit["sha"].as_str().unwrap(),
        git_commit,
        "root commit id"
    );

    // A second commit by the bot's client: change, add and delete on base_tree.
    let root = commit["sha"].as_str().unwrap().to_string();
    let client = GithubClient::with_retry(
        GithubConfig::new(&sim.url(), "acme", "ids"),
        GithubAuth::Token(Secret::new(sim.token())),
        RetryPolicy::local(),
    )
    .unwrap();
    let changes = FileChanges {
        upsert: BTreeMap::from([
            (
                "fixtures/app/roles/field_officer.json".to_string(),
                b"{\"doctype\": \"Role\", \"name\": \"Field Officer\", \"desk_access\": 1}\n"
                    .to_vec(),
            ),
            (
                "fixtures/app/workflows/new.json".to_string(),
                b"{}\n".to_vec(),
            ),
        ]),
        delete: ["a/inner.json".to_string(), "empty".to_string()].into(),
    };
    let base = BaseCommit {
        commit: root.clone(),
        tree: tree["sha"].as_str().unwrap().into(),
    };
    let made = client
        .commit_files(
            "promote/ids",
            &base,
            &changes,
            "Promote roles\n",
            BranchWrite::Create,
        )
        .await
        .unwrap();

    write(
        dir,
        &BTreeMap::from([
            (
                "fixtures/app/roles/field_officer.json",
                "{\"doctype\": \"Role\", \"name\": \"Field Officer\", \"desk_access\": 1}\n",
            ),
            ("fixtures/app/workflows/new.json", "{}\n"),
        ]),
    );
    std::fs::remove_file(dir.join("a/inner.json")).unwrap();
    std::fs::remove_file(dir.join("empty")).unwrap();
    git(dir, &["add", "-A"], &[]);
    assert_eq!(
        made.tree,
        git(dir, &["write-tree"], &[]),
        "tree after changes and deletions"
    );

    let http = reqwest::Client::new();
    let stored: Value = http
        .get(format!(
            "{}/repos/{REPO}/git/commits/{}",
            sim.url(),
            made.commit
        ))
        .bearer_auth(sim.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let date = epoch(stored["author"]["date"].as_str().unwrap());
    let name = stored["author"]["name"].as_str().unwrap().to_string();
    let email = stored["author"]["email"].as_str().unwrap().to_string();
    let second_msg = msg("second", "Promote roles\n");
    let bot = [
        ("GIT_AUTHOR_NAME", name.as_str()),
        ("GIT_AUTHOR_EMAIL", email.as_str()),
        ("GIT_AUTHOR_DATE", date.as_str()),
        ("GIT_COMMITTER_NAME", name.as_str()),
        ("GIT_COMMITTER_EMAIL", email.as_str()),
        ("GIT_COMMITTER_DATE", date.as_str()),
    ];
    let second = git(
        dir,
        &[
            "commit-tree",
            &made.tree,
            "-p",
            &git_commit,
            "-F",
            &second_msg,
        ],
        &bot,
    );
    assert_eq!(made.commit, second, "commit with a parent");

    // An annotated tag, as `git tag -a` writes it (the tagger is the committer ident).
    let tag = post(
        &sim,
        "git/tags",
        json!({"tag": "v1.0.0", "message": "Release 1.0.0\n", "object": second, "type": "commit",
               "tagger": {"name": "Grace Hopper", "email": "grace@example.com", "date": committer_date}}),
    )
    .await;
    let tag_msg = msg("tag", "Release 1.0.0\n");
    git(
        dir,
        &["tag", "-a", "v1.0.0", "-F", &tag_msg, &second],
        &ident,
    );
    assert_eq!(
        tag["sha"].as_str().unwrap(),
        git(dir, &["rev-parse", "refs/tags/v1.0.0"], &[]),
        "annotated tag id"
    );
}
