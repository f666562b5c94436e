//! The GitHub client's tags, releases, single files and pull-request conversation
//! against the GitHub sim: each read tells "not there" (None) from a failure, so a
//! caller can check before it writes; single-file writes present the sha they read
//! and are refused when it is stale or the branch is protected; what a reviewer asked
//! for (review body and line comments) reads back with paths and lines.

use std::path::Path;

use lockstep::github::contents::git_blob_sha;
use lockstep::github::{
    BranchWrite, FileChanges, GithubAuth, GithubClient, GithubConfig, GithubError, NewPull,
    RetryPolicy,
};
use lockstep::secret::Secret;
use lockstep_sim::github::{GithubSim, GithubSimConfig};

const REPO: &str = "acme/frappe-config";

async fn sim_and_client() -> (GithubSim, GithubClient) {
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
    (sim, client)
}

#[tokio::test]
async fn tags_and_releases_answer_whether_they_exist_before_ship_writes_them() {
    let (sim, client) = sim_and_client().await;
    let main = client.branch_head("main").await.unwrap().unwrap();
    assert_eq!(client.tag_ref("v1.0.0").await.unwrap(), None);
    assert_eq!(client.release_for_tag("v1.0.0").await.unwrap(), None);
    assert_eq!(client.latest_release().await.unwrap(), None);

    let tag = client
        .create_annotated_tag("v1.0.0", "Release 1.0.0\n", &main)
        .await
        .unwrap();
    let at = client.tag_ref("v1.0.0").await.unwrap().unwrap();
    assert_eq!(
        (at.kind.as_str(), at.sha.as_str()),
        ("tag", tag.sha.as_str())
    );
    let object = client.get_tag_object(&at.sha).await.unwrap().unwrap();
    assert_eq!(object.tag, "v1.0.0");
    assert_eq!(object.message, "Release 1.0.0\n");
    assert_eq!(object.object.unwrap().sha, main);
    assert_eq!(object.tagger.unwrap().name, "lockstep-bot");
    assert_eq!(
        client.get_tag_object(&main).await.unwrap(),
        None,
        "a commit is no tag object"
    );

    let release = client
        .create_release("v1.0.0", "1.0.0", "First")
        .await
        .unwrap();
    assert_eq!(
        client.release_for_tag("v1.0.0").await.unwrap(),
        Some(release.clone())
    );
    assert_eq!(
        client.latest_release().await.unwrap().unwrap().id,
        release.id
    );
    let again = client
        .create_release("v1.0.0", "1.0.0", "First")
        .await
        .unwrap_err();
    assert!(again.is_validation("already_exists"), "{again}");

    // A second release becomes the latest; tags list with their commits.
    client
        .create_annotated_tag("v1.1.0", "Release 1.1.0\n", &main)
        .await
        .unwrap();
    let second = client
        .create_release("v1.1.0", "1.1.0", "Second")
        .await
        .unwrap();
    assert_eq!(
        client.latest_release().await.unwrap().unwrap().id,
        second.id
    );
    let names: Vec<String> = client
        .list_tags()
        .await
        .unwrap()
        .into_iter()
        .map(|t| {
            assert_eq!(t.commit.sha, main);
            t.name
        })
        .collect();
    assert_eq!(names, ["v1.1.0", "v1.0.0"]);
    let listed: Vec<String> = client
        .list_releases()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.tag_name)
        .collect();
    assert_eq!(listed.len(), 2);
    let seen = sim.repo(REPO).releases();
    assert_eq!(seen.iter().filter(|r| r.latest).count(), 1);
    assert!(seen.iter().any(|r| r.latest && r.tag_name == "v1.1.0"));
    let tags = sim.repo(REPO).tags();
    assert_eq!(tags[0].message.as_deref(), Some("Release 1.0.0\n"));
}

#[tokio::test]
async fn many_tags_come_back_over_several_pages() {
    let (sim, client) = sim_and_client().await;
    let main = client.branch_head("main").await.unwrap().unwrap();
    for n in 0..130 {
        client
            .create_ref(&format!("refs/tags/t{n:03}"), &main)
            .await
            .unwrap();
    }
    sim.clear_calls();
    let tags = client.list_tags().await.unwrap();
    assert_eq!(tags.len(), 130);
    assert_eq!(tags[0].name, "t129", "highest name first");
    assert_eq!(sim.calls().len(), 2, "two pages of 100");
}

#[tokio::test]
async fn a_file_is_read_and_written_with_the_sha_it_was_read_at() {
    let (sim, client) = sim_and_client().await;
    assert_eq!(
        client.get_file("CHANGELOG.md", "staging").await.unwrap(),
        None
    );
    let missing_ref = client.get_file("CHANGELOG.md", "nope").await.unwrap_err();
    assert!(
        matches!(&missing_ref, GithubError::NotFound { message, .. } if message == "No commit found for the ref nope"),
        "{missing_ref:?}"
    );

    let created = client
        .put_file(
            "CHANGELOG.md",
            "staging",
            b"# Changelog\n",
            "Start the changelog",
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.blob_sha, git_blob_sha(b"# Changelog\n"));
    assert_eq!(
        sim.repo(REPO).branch_sha("staging").as_deref(),
        Some(created.commit_sha.as_str())
    );
    let read = client
        .get_file("CHANGELOG.md", "staging")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.bytes, b"# Changelog\n");
    assert_eq!(read.sha, created.blob_sha);

    let updated = client
        .put_file(
            "CHANGELOG.md",
            "staging",
            b"# Changelog\n\n## 1.0.0\n",
            "1.0.0",
            Some(&read.sha),
        )
        .await
        .unwrap();
    assert_eq!(
        sim.repo(REPO).files_at("staging")["CHANGELOG.md"],
        b"# Changelog\n\n## 1.0.0\n"
    );
    // The old sha is stale now; no sha at all for an existing file is refused too.
    let stale = client
        .put_file("CHANGELOG.md", "staging", b"lost", "x", Some(&read.sha))
        .await
        .unwrap_err();
    assert!(matches!(stale, GithubError::StaleFile { .. }), "{stale}");
    let blind = client
        .put_file("CHANGELOG.md", "staging", b"lost", "x", None)
        .await
        .unwrap_err();
    assert!(blind.is_validation("\"sha\" wasn't supplied"), "{blind}");
    assert_eq!(
        sim.repo(REPO).branch_sha("staging").as_deref(),
        Some(updated.commit_sha.as_str()),
        "refused writes leave the branch alone"
    );

    // main is protected: a direct write is refused, as a push would be.
    let protected = client
        .put_file("CHANGELOG.md", "main", b"x", "x", None)
        .await
        .unwrap_err();
    match &protected {
        GithubError::BranchProtected {
            branch, message, ..
        } => {
            assert_eq!(branch, "main");
            assert!(
                message.starts_with("Could not update file: At least 1 approving review"),
                "{message}"
            );
        }
        other => panic!("expected BranchProtected, got {other}"),
    }
    let nowhere = client
        .put_file("CHANGELOG.md", "no-such-branch", b"x", "x", None)
        .await
        .unwrap_err();
    assert!(
        matches!(&nowhere, GithubError::NotFound { message, .. } if message == "Branch no-such-branch not found"),
        "{nowhere:?}"
    );
    let folder = client.get_file("fixtures/app", "main").await.unwrap_err();
    assert!(matches!(folder, GithubError::Decode { .. }), "{folder}");
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_found_written_and_not_repeated() {
    let (sim, client) = sim_and_client().await;
    let path = format!("/repos/{REPO}/contents/NOTES.md");
    // GitHub wrote the file, the answer was lost: the client reads instead of writing.
    sim.lose_next_answer("PUT", &path, 502);
    let written = client
        .put_file("NOTES.md", "staging", b"notes\n", "notes", None)
        .await
        .unwrap();
    assert_eq!(written.blob_sha, git_blob_sha(b"notes\n"));
    assert_eq!(
        sim.repo(REPO).branch_sha("staging").as_deref(),
        Some(written.commit_sha.as_str())
    );
    // A failure before the write stays a failure, and nothing is retried blindly.
    sim.fail_next("PUT", &path, 502);
    let err = client
        .put_file(
            "NOTES.md",
            "staging",
            b"other\n",
            "other",
            Some(&written.blob_sha),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::Status { status: 502, .. }),
        "{err}"
    );
    assert_eq!(
        sim.calls().iter().filter(|c| c.method == "PUT").count(),
        2,
        "one PUT per call"
    );
    assert_eq!(sim.repo(REPO).files_at("staging")["NOTES.md"], b"notes\n");
}

async fn open_promotion(sim: &GithubSim, client: &GithubClient) -> u64 {
    let main = client.read_files("main").await.unwrap();
    let staging = client.read_files("staging").await.unwrap();
    let changes = FileChanges::between(&main.files, &staging.files);
    client
        .commit_files(
            "promote/1",
            &main.base,
            &changes,
            "Promote",
            BranchWrite::Create,
        )
        .await
        .unwrap();
    let pr = client
        .create_pull(&NewPull {
            title: "Promote",
            head: "promote/1",
            base: "main",
            body: "Blueprints: …",
            draft: false,
        })
        .await
        .unwrap();
    assert_eq!(
        sim.repo(REPO).pull_body(pr.number).as_deref(),
        Some("Blueprints: …")
    );
    pr.number
}

#[tokio::test]
async fn a_pull_requests_files_conversation_and_review_comments_read_back() {
    let (sim, client) = sim_and_client().await;
    let number = open_promotion(&sim, &client).await;
    let files = client.pull_files(number).await.unwrap();
    let expected: Vec<(String, String)> = sim.repo(REPO).pull_files(number);
    assert!(!expected.is_empty());
    assert_eq!(
        files
            .iter()
            .map(|f| (f.filename.clone(), f.status.clone()))
            .collect::<Vec<_>>(),
        expected
    );

    // The conversation: look before posting, post once.
    let marker = "<!-- lockstep:run-1:checklist -->";
    assert!(client.issue_comments(number).await.unwrap().is_empty());
    let posted = client
        .comment_on_issue(number, &format!("{marker}\nChecklist: 8/8"))
        .await
        .unwrap();
    sim.repo(REPO)
        .comment_on_conversation(number, "alice", "Looks fine")
        .unwrap();
    let comments = client.issue_comments(number).await.unwrap();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0], posted);
    assert!(comments[0].body.as_deref().unwrap().starts_with(marker));
    assert_eq!(comments[1].user.as_ref().unwrap().login, "alice");
    assert_eq!(sim.repo(REPO).issue_comments(number).len(), 2);

    // What bob asked for: the review's body and his line comments.
    let (path, _) = &expected[0];
    sim.repo(REPO)
        .request_changes_on_lines(
            number,
            "bob",
            "Two things before this ships.",
            &[(path, 1, "Rename this"), (path, 2, "And this")],
        )
        .unwrap();
    let bad = sim.repo(REPO).request_changes_on_lines(
        number,
        "bob",
        "x",
        &[("not/in/the/diff.json", 1, "?")],
    );
    assert!(bad.is_err(), "a comment must land on a changed file");
    let reviews = client.list_reviews(number).await.unwrap();
    let asked = reviews.last().unwrap();
    assert_eq!(asked.state, "CHANGES_REQUESTED");
    assert_eq!(asked.body.as_deref(), Some("Two things before this ships."));
    let lines = client.review_comments(number).await.unwrap();
    assert_eq!(
        lines
            .iter()
            .map(|c| (
                c.path.as_str(),
                c.line,
                c.body.as_str(),
                c.pull_request_review_id
            ))
            .collect::<Vec<_>>(),
        [
            (path.as_str(), Some(1), "Rename this", Some(asked.id)),
            (path.as_str(), Some(2), "And this", Some(asked.id))
        ]
    );

    // Closing: once, and again without harm.
    let closed = client.close_pull(number).await.unwrap();
    assert_eq!(closed.state, "closed");
    assert_eq!(closed.merged, Some(false));
    client.close_pull(number).await.unwrap();
    let summary = sim.repo(REPO).pull_summary(number).unwrap();
    assert_eq!((summary.state.as_str(), summary.merged), ("closed", false));
    assert_eq!(sim.repo(REPO).pulls().len(), 1);
    assert_eq!(
        client
            .find_open_pull("promote/1", "main")
            .await
            .unwrap()
            .map(|p| p.number),
        None
    );
    // The files of a closed PR stay what they were.
    assert_eq!(client.pull_files(number).await.unwrap().len(), files.len());
}
