//! `ship` through Slack against the local world: after the seed's promotion, the
//! draft is offered, edited in the modal, shipped through a release PR the on-call
//! reviewer approves, tagged on the commit holding the CHANGELOG.md entry, released
//! on GitHub and announced in #releases; and the refusals around it, and a crash
//! between the tag and the release.

use crate::harness::{button, visible_text, Harness, CHANNEL, DEV, PM, WAIT};
use crate::promote::promote_to_success;
use lockstep::app::StartOptions;
use lockstep::local::world::REPO;
use lockstep::workflow::executor::PausePoint;
use lockstep_sim::slack::BotOutput;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

const RELEASES: &str = "C0RELEASES";

/// The release's root message once its draft is offered: (ts, visible text, blocks).
async fn draft_offered(h: &mut Harness) -> (String, String, Vec<serde_json::Value>) {
    let offered = h
        .wait_for(
            "the draft with its buttons",
            |o| matches!(o, BotOutput::Updated { text, .. } if text.contains("draft ready")),
        )
        .await;
    let BotOutput::Updated {
        ts, text, blocks, ..
    } = offered
    else {
        unreachable!()
    };
    let shown = visible_text(&text, &blocks);
    (ts, shown, blocks)
}

/// The release PR's number from the thread line announcing it.
async fn release_pr(h: &mut Harness) -> u64 {
    let (_, text) = h.wait_for_post("Release PR <").await;
    let at = text.find("/pull/").expect("a PR link") + "/pull/".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a PR number")
}

/// The release notes as posted in #releases: their visible text.
async fn notes_in_releases(h: &mut Harness) -> String {
    match h
        .wait_for("the notes in #releases", |o| {
            matches!(o, BotOutput::Posted { channel, thread_ts: None, .. } if channel == RELEASES)
        })
        .await
    {
        BotOutput::Posted { text, blocks, .. } => visible_text(&text, &blocks),
        _ => unreachable!(),
    }
}

/// Creates a lightweight tag on the production branch through GitHub's REST API, as
/// someone on the team might have by hand.
async fn tag_by_hand(h: &Harness, tag: &str) {
    let repo = h.world.github.repo(REPO);
    let sha = repo.branch_sha("main").expect("main exists");
    let answer = reqwest::Client::new()
        .post(format!("{}/repos/{REPO}/git/refs", h.world.github.url()))
        .bearer_auth(h.world.github.token())
        .header("User-Agent", "lockstep-tests")
        .json(&serde_json::json!({ "ref": format!("refs/tags/{tag}"), "sha": sha }))
        .send()
        .await
        .expect("GitHub answers");
    assert_eq!(answer.status(), 201, "{:?}", answer.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_is_shipped_with_edited_notes_through_a_reviewed_release_pr() {
    let mut h = Harness::start_promotable(|file| {
        file.slack.release_channel = Some(RELEASES.into());
    })
    .await;
    let promotion_pr = promote_to_success(&mut h).await;

    h.command("ship v0.1.0").await;
    let (root, text, blocks) = draft_offered(&mut h).await;
    assert!(
        text.contains("Draft CHANGELOG.md entry for *v0.1.0*"),
        "{text}"
    );
    assert!(text.contains("since the first commit"), "{text}");
    assert!(text.contains("\"Beneficiary\""), "{text}");
    assert!(
        text.contains(&format!("/pull/{promotion_pr}")),
        "each change links its PR: {text}"
    );
    assert!(text.contains("reviewed by @alice (on call)"), "{text}");
    let version_offered = button(&blocks, "ship_ship");

    // Edit: the modal opens with the draft; the PM adds a line and saves.
    h.press(PM, &root, "ship_edit").await;
    let view = h
        .world
        .slack
        .wait_for_open_view(PM, WAIT)
        .await
        .expect("the editor opens");
    let draft = view.view["blocks"][1]["element"]["initial_value"]
        .as_str()
        .expect("the draft in the input")
        .to_string();
    assert!(draft.contains("Beneficiary"), "{draft}");
    let edited = format!("{draft}\n\n### Notes\n\n- Age must not be negative any more.");
    let values = BTreeMap::from([(
        "notes".to_string(),
        BTreeMap::from([("text".to_string(), edited)]),
    )]);
    h.world
        .slack
        .submit_view(PM, &view.id, &values)
        .await
        .expect("the modal submits");
    let (_, text, _) = draft_offered(&mut h).await;
    assert!(text.contains("Edited by <@U0PM>"), "{text}");
    assert!(text.contains("Age must not be negative"), "{text}");

    // The Ship button from before the edit is stale: it does nothing.
    h.press_as_shown(DEV, &root, version_offered).await;
    let refused = h.wait_for_ephemeral(DEV).await;
    assert!(refused.contains("earlier draft"), "{refused}");

    h.press(DEV, &root, "ship_ship").await;
    let pr = release_pr(&mut h).await;
    let repo = h.world.github.repo(REPO);
    let summary = repo.pull_summary(pr).expect("the release PR exists");
    assert_eq!(summary.head_ref, "release/v0.1.0");
    assert_eq!(summary.base_ref, "main");
    assert_eq!(summary.requested_reviewers, ["alice"]);
    assert!(summary.labels.contains(&"release".to_string()));
    assert!(
        repo.tags().is_empty(),
        "nothing is tagged before the review"
    );

    repo.approve(pr, "alice").expect("alice approves");
    let notes = notes_in_releases(&mut h).await;
    assert!(notes.contains("Release v0.1.0"), "{notes}");
    assert!(
        notes.contains("Age must not be negative any more."),
        "{notes}"
    );
    assert!(notes.contains("shipped by <@U0DEV>"), "{notes}");
    let (_, line) = h.wait_for_post("Shipped as *v0.1.0*").await;
    assert!(line.contains("notes in <#C0RELEASES>"), "{line}");
    let promotion_thread = h
        .world
        .slack
        .channel_messages(CHANNEL)
        .into_iter()
        .find(|m| m.text.contains("Shipped as *v0.1.0*"))
        .expect("the line is in #deploy");
    assert!(
        promotion_thread.thread_ts.is_some(),
        "in the promotion's thread"
    );

    // One annotated tag on the merge commit that holds the entry; one release.
    let main = repo.branch_sha("main").unwrap();
    let changelog = String::from_utf8(repo.files_at("main")["CHANGELOG.md"].clone()).unwrap();
    assert!(changelog.contains("## [0.1.0] - 2026-11-25"), "{changelog}");
    assert!(
        changelog.contains("Age must not be negative"),
        "{changelog}"
    );
    let tags = repo.tags();
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(tags[0].name, "v0.1.0");
    assert_eq!(tags[0].commit, main);
    assert!(tags[0].message.is_some(), "an annotated tag");
    let releases = repo.releases();
    assert_eq!(releases.len(), 1);
    assert!(releases[0].latest);
    let body = releases[0].body.clone().unwrap_or_default();
    assert!(body.contains("Age must not be negative"), "{body}");
    assert!(repo.pull_summary(pr).unwrap().merged);

    h.command("status").await;
    let (_, status) = h.wait_for_post("lockstep status").await;
    assert!(status.contains("Last release: `v0.1.0`"), "{status}");
    assert!(status.contains("Environment locks: none."), "{status}");
    h.world
        .slack
        .open_home(DEV)
        .await
        .expect("the Home tab opens");
    let home = h
        .world
        .slack
        .wait_for_home_view(DEV, None, WAIT)
        .await
        .expect("the bot publishes the Home tab");
    let board = home.view.to_string();
    assert!(board.contains("*Last releases*"), "{board}");
    assert!(board.contains("`v0.1.0`"), "{board}");

    // The same promotion is never released twice, under its tag or another.
    for again in ["ship v0.1.0", "ship v0.1.1"] {
        h.command(again).await;
        let refused = h.wait_for_ephemeral(PM).await;
        assert!(refused.contains("already shipped as v0.1.0"), "{refused}");
    }
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_already_tagged_or_not_greater_are_refused_and_nothing_is_written() {
    let mut h = Harness::start_promotable(|_| {}).await;
    h.command("ship 1.0").await;
    let usage = h.expect_ephemeral_to(PM).await;
    assert!(usage.contains("semantic version"), "{usage}");
    h.command("ship v0.1.0").await;
    let refused = h.wait_for_ephemeral(PM).await;
    assert!(refused.contains("Nothing has been promoted"), "{refused}");

    promote_to_success(&mut h).await;
    tag_by_hand(&h, "v0.1.0").await;
    let calls_before = h.world.github.calls().len();
    h.command("ship v0.1.0 --dry-run").await;
    let (_, text) = h.wait_for_post("(dry run)").await;
    let text = if text.contains(":hourglass") {
        h.wait_for("the dry run's answer", |o| {
            matches!(o, BotOutput::Updated { text, .. } if text.contains("would be refused") || text.contains("can be shipped"))
        })
        .await;
        h.world
            .slack
            .channel_messages(CHANNEL)
            .last()
            .map(|m| m.text.clone())
            .unwrap_or_default()
    } else {
        text
    };
    assert!(text.contains("would be refused"), "{text}");
    assert!(text.contains("already a tag"), "{text}");
    let writes = h.world.github.calls()[calls_before..]
        .iter()
        .filter(|call| call.method != "GET")
        .count();
    assert_eq!(writes, 0, "a dry run writes nothing");

    h.command("ship v0.0.9").await;
    let ended = h
        .wait_for(
            "the refusal",
            |o| matches!(o, BotOutput::Updated { text, .. } if text.contains("refused")),
        )
        .await;
    let BotOutput::Updated { text, blocks, .. } = ended else {
        unreachable!()
    };
    let text = visible_text(&text, &blocks);
    assert!(
        text.contains("greater than the newest release, `v0.1.0`"),
        "{text}"
    );
    assert!(text.contains("Nothing was changed"), "{text}");
    let repo = h.world.github.repo(REPO);
    assert!(repo.releases().is_empty());
    assert!(!repo
        .refs()
        .keys()
        .any(|r| r.starts_with("refs/heads/release/")));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_tag_and_the_release_ends_with_one_of_each() {
    let mut h = Harness::start_promotable(|file| {
        file.slack.release_channel = Some(RELEASES.into());
        file.ship.changelog = lockstep::config::ChangelogMode::Direct;
    })
    .await;
    promote_to_success(&mut h).await;
    // "direct" needs a production branch that takes the bot's commit.
    h.world
        .github
        .repo(REPO)
        .set_protection("main", None)
        .unwrap();
    h.stop_bot().await;
    let (paused_tx, mut paused) = watch::channel(false);
    let paused_tx = Arc::new(paused_tx);
    h.start_bot_with(StartOptions {
        pause: Some((
            PausePoint::parse("after:tag").unwrap(),
            Arc::new(move |_key: &str| {
                paused_tx.send_replace(true);
            }),
        )),
        ..StartOptions::default()
    })
    .await;
    h.command("ship v0.1.0").await;
    let (root, _, _) = draft_offered(&mut h).await;
    h.press(PM, &root, "ship_ship").await;
    tokio::time::timeout(WAIT, paused.wait_for(|p| *p))
        .await
        .expect("the bot reaches the point after the tag")
        .unwrap();
    let repo = h.world.github.repo(REPO);
    assert_eq!(repo.tags().len(), 1, "the tag was made before the crash");
    assert!(repo.releases().is_empty());

    h.stop_bot().await;
    h.start_bot().await;
    let notes = notes_in_releases(&mut h).await;
    assert!(notes.contains("Release v0.1.0"), "{notes}");
    // The run's last two effects follow the notes, in order: the line in the
    // promotion's thread, then the root message's final edit. Both are read before
    // `finish` (which fails on anything unread) — they used to race it.
    h.wait_for_post("Shipped as *v0.1.0*").await;
    h.wait_for(
        "the root message saying shipped",
        |o| matches!(o, BotOutput::Updated { text, .. } if text.contains(": shipped")),
    )
    .await;
    assert_eq!(repo.tags().len(), 1, "one tag");
    assert_eq!(repo.releases().len(), 1, "one release");
    let changelogs = repo
        .files_at("main")
        .get("CHANGELOG.md")
        .map(|f| String::from_utf8_lossy(f).matches("## [0.1.0]").count());
    assert_eq!(changelogs, Some(1), "one entry");
    let posts = h
        .world
        .slack
        .channel_messages(RELEASES)
        .into_iter()
        .filter(|m| m.text.contains("v0.1.0"))
        .count();
    assert_eq!(posts, 1, "the notes are posted once");
    h.finish().await;
}
