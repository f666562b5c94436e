//! The world page of `lockstep demo`: served beside the Slack sim's channel page, its
//! `/_world/state` reads the config repository and both sites as they are (a PR's
//! files, reviews and merge state; tags and releases; each site's blueprints and
//! backups), a review from its "review as" controls lands on GitHub as that person,
//! and its script renders other people's text escaped (checked under node).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use lockstep_sim::page::WorldPage;
use lockstep_sim::slack::SimConfig;
use lockstep_sim::world::{example_sites, LocalWorld, REPO};
use serde_json::{json, Value};

async fn world() -> (Arc<LocalWorld>, WorldPage) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let world = Arc::new(
        LocalWorld::start(SimConfig::default(), &example_sites(), None)
            .await
            .expect("the world starts"),
    );
    let page = WorldPage::start(world.clone(), 0, "It is a test.")
        .await
        .expect("the page starts");
    (world, page)
}

async fn state(page: &WorldPage) -> Value {
    reqwest::get(format!("{}/_world/state", page.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Opens a PR, over GitHub's REST API, from a new branch that adds one file.
async fn open_pull(world: &LocalWorld) -> u64 {
    world
        .github
        .repo(REPO)
        .push_commit(
            "promote/x",
            [(
                "fixtures/app/doctypes/quick_<b>.json".to_string(),
                Some(b"{}\n".to_vec()),
            )]
            .into_iter()
            .collect(),
            "A change\n",
        )
        .unwrap();
    let pull: Value = reqwest::Client::new()
        .post(format!("{}/repos/{REPO}/pulls", world.github.url()))
        .bearer_auth(world.github.token())
        .header("user-agent", "test")
        .json(
            &json!({"title": "Promote <script>", "head": "promote/x", "base": "main",
                      "body": "## Summary\n<img src=x>"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    pull["number"].as_u64().expect("a PR number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_shows_the_repo_and_sites_and_a_review_lands_on_github() {
    let (world, page) = world().await;
    let html = reqwest::get(page.url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("/_sim/page.js") && html.contains("/_world/world.js"));
    assert!(html.contains("It is a test."), "the note under the title");
    // The channel's routes pass through to the Slack sim.
    let view: Value = reqwest::get(format!("{}/_sim/view/C0DEPLOY?user=U0PM", page.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["bot_user"], "U0BOT");

    let before = state(&page).await;
    let branches: Vec<&str> = before["repo"]["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(
        branches.contains(&"main") && branches.contains(&"staging"),
        "{branches:?}"
    );
    let staging = before["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "staging")
        .expect("a staging panel");
    let doctypes = staging["blueprints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["doctype"] == "DocType")
        .expect("the staging site's DocTypes");
    assert!(
        doctypes["names"]
            .as_array()
            .unwrap()
            .contains(&json!("Quick Test")),
        "{doctypes}"
    );
    assert!(
        staging["errors"].as_array().unwrap().is_empty(),
        "{staging}"
    );

    let pr = open_pull(&world).await;
    let opened = state(&page).await;
    let pull = &opened["repo"]["pulls"][0];
    assert_eq!(pull["number"], pr);
    assert_eq!(pull["merge_state"]["kind"], "review");
    assert_eq!(
        pull["files"][0]["path"],
        "fixtures/app/doctypes/quick_<b>.json"
    );

    let answer: Value = reqwest::Client::new()
        .post(format!("{}/_world/review", page.url()))
        .json(&json!({"pr": pr, "user": "alice", "verdict": "request_changes", "body": "age >= 0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    let refused = reqwest::Client::new()
        .post(format!("{}/_world/review", page.url()))
        .json(&json!({"pr": pr, "user": "mallory", "verdict": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let reviewed = state(&page).await;
    let pull = &reviewed["repo"]["pulls"][0];
    assert_eq!(pull["merge_state"]["text"], "Changes requested by alice");
    assert_eq!(
        world.github.repo(REPO).reviews(pr)[0].state,
        "CHANGES_REQUESTED",
        "the review is GitHub's own"
    );
}

#[test]
fn the_world_script_renders_other_peoples_text_escaped() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/page/world.js");
    let checks = r####"
const assert = require("assert");
const world = require(process.argv[1]);
const repo = { name: "acme/cfg", reviewers: ["alice", "bob"],
  branches: [{ name: "main", sha: "abc1234", production: true }],
  pulls: [{ number: 3, title: "Promote <script>", state: "open", merged: false, head: "promote/x",
    base: "main", labels: ["promotion"], requested_reviewers: ["alice"],
    body: "## Summary\n| name | type |\n|---|---|\n| <b>x</b> | DocType |\n\n`a<b>` **bold**",
    merge_commit: null, merge_state: { kind: "review", text: "Review required" },
    files: [{ path: "fixtures/<img>.json", status: "added" }],
    reviews: [{ user: "alice", state: "CHANGES_REQUESTED", commit: "abc1234", body: "<i>no</i>", comments: [] }],
    actions: [] }],
  runs: [], tags: [{ name: "v0.1.0", commit: "abc1234" }],
  releases: [{ tag: "v0.1.0", name: "v0.1.0", body: "### Added\n- <x>", latest: true, draft: false }] };
const html = world.renderRepo(repo);
assert.ok(html.includes("Promote &lt;script&gt;"), html);
assert.ok(html.includes("<code>fixtures/&lt;img&gt;.json</code>"), html);
assert.ok(html.includes("<td>&lt;b&gt;x&lt;/b&gt;</td>"), html);
assert.ok(html.includes("<code>a&lt;b&gt;</code> <b>bold</b>"), html);
assert.ok(html.includes("&lt;i&gt;no&lt;/i&gt;") && html.includes("changes requested"), html);
assert.ok(html.includes("<li>&lt;x&gt;</li>") && html.includes("Latest"), html);
assert.ok(!/<script|<img|<x>|<i>no/.test(html), html);
const form = world.renderReviewForm(repo);
assert.ok(form.includes('<option value="alice">alice</option>') && form.includes('<option value="3">#3</option>'), form);
assert.ok(form.includes('data-verdict="approve"') && form.includes('data-verdict="request_changes"'), form);
repo.pulls[0].state = "closed";
assert.strictEqual(world.renderReviewForm(repo), "", "no form without an open PR");
const sites = world.renderSites([{ name: "prod", production: true, errors: ["<e>"],
  blueprints: [{ doctype: "DocType", names: ["<Quick>"] }], backups: ["b<1>.sql.gz"], restores: [],
  last_migrate: { run: 1, sha: "abc1234", status: "completed", conclusion: "success", at: "t", log: "<ok>" } }]);
assert.ok(sites.includes("&lt;Quick&gt;") && sites.includes("b&lt;1&gt;.sql.gz") && sites.includes("&lt;ok&gt;"), sites);
assert.ok(sites.includes("\u2713 Deploy #1") || sites.includes("\u2713</span> Deploy #1"), sites);
assert.ok(!/<Quick>|<e>|<ok>/.test(sites), sites);
"####;
    let output = Command::new("node")
        .args(["-e", checks])
        .arg(&script)
        .output()
        .expect("node runs (a machine that builds lockstep has node)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
