//! The walkthrough played whole against the demo world (PRODUCT.md §4): help →
//! review → diff (the staging site's hand edit) → push → diff clean → promote (the
//! checklist) → branch and PR → the on-call reviewer approves on GitHub → an approver
//! presses Merge & deploy → the deploy's steps → the smoke probes and their buttons →
//! success, production without drift → `ship v0.1.0`: the draft edited in Slack's
//! modal, [Ship], the release PR approved by the on-call reviewer, the tag, the
//! GitHub release and the notes in #releases. On a frozen day the promote goes through
//! `--emergency` and a second approver. People act as people do (typing the slash
//! command, pressing buttons in Slack, reviewing on GitHub); every step then checks
//! what the bot actually posted and what the sims now hold, and the first step that
//! did not do what the walkthrough says ends the tour with an error naming it.

use super::transcript::{buttons, indent, shown, ts_of, visible_text, Transcript};
use lockstep_sim::slack::{BotOutput, SlackSim};
use lockstep_sim::world::{LocalWorld, PRODUCTION_SITE, REPO};

pub const CHANNEL: &str = "C0DEPLOY";
pub const COMMAND: &str = "/frappe-stack";
/// The people of the demo workspace: the PM promotes; the developer (GitHub
/// `alice`, on call) and the admin approve.
pub const PM: &str = "U0PM";
pub const DEV: &str = "U0DEV";
pub const ADMIN: &str = "U0ADMIN";
/// Where the release notes go (`slack.release_channel`).
pub const RELEASES: &str = "C0RELEASES";
/// The walkthrough's release and the line the PM adds to its notes.
const VERSION: &str = "v0.1.0";
const NOTE: &str = "- Age must not be negative any more.";

/// The checklist's boxes, as the checklist message names them.
const BOXES: [&str; 8] = [
    "diff",
    "blueprints",
    "reviewer",
    "tester",
    "backup",
    "role coverage",
    "freeze guard",
    "bundle",
];

/// Plays the whole walkthrough; `frozen` is whether the demo's clock is inside a
/// freeze (the promote then goes the emergency way).
pub async fn play(world: &LocalWorld, frozen: bool) -> anyhow::Result<()> {
    let mut t = Transcript::new(&world.slack);
    prepare(world, &mut t).await?;
    let (root, pr) = if frozen {
        promote_in_a_freeze(world, &mut t).await?
    } else {
        promote(world, &mut t, "promote").await?
    };
    approve_on_github(world, &mut t, pr).await?;
    deploy(world, &mut t, pr).await?;
    smoke(world, &mut t, &root).await?;
    after(world, &mut t).await?;
    ship(world, &mut t).await?;
    println!("The walkthrough is done: every step did what it says.");
    Ok(())
}

/// `user` types `/frappe-stack <text>` in #deploy.
pub async fn type_command(slack: &SlackSim, user: &str, text: &str) -> anyhow::Result<()> {
    println!("> {} types: {COMMAND} {text}", handle(slack, user));
    slack
        .send_slash_command(user, CHANNEL, COMMAND, text)
        .await
        .map(|_| ())
}

fn handle(slack: &SlackSim, user: &str) -> String {
    slack
        .config()
        .user(user)
        .map(|u| format!("@{}", u.name))
        .unwrap_or_else(|| user.to_string())
}

/// Fails the tour with `step` and what was seen unless `ok`.
fn check(ok: bool, step: &str, seen: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        ok,
        "the walkthrough's step {step:?} did not happen; the bot said:\n{seen}"
    );
    Ok(())
}

async fn command_reply(
    t: &mut Transcript<'_>,
    world: &LocalWorld,
    text: &str,
) -> anyhow::Result<String> {
    type_command(&world.slack, PM, text).await?;
    t.reply().await
}

/// help, review, the drift, push (git wins), and the diff clean again.
async fn prepare(world: &LocalWorld, t: &mut Transcript<'_>) -> anyhow::Result<()> {
    let help = command_reply(t, world, "help").await?;
    check(
        help.contains("promote") && help.contains("ship"),
        "help lists the subcommands",
        &help,
    )?;
    let review = command_reply(t, world, "review").await?;
    check(
        review.contains("Recommendation: ✓ ready to promote"),
        "review recommends the promotion",
        &review,
    )?;
    let drift = command_reply(t, world, "diff").await?;
    check(
        drift.contains("DocType \"Quick Test\"") && drift.contains("Resolve before promote"),
        "diff shows the staging site's hand edit",
        &drift,
    )?;
    let push = command_reply(t, world, "push").await?;
    check(
        push.contains("Push: applied 1 change"),
        "push applies the staging branch (git wins)",
        &push,
    )?;
    check(
        world
            .frappe
            .get_doc("staging", "DocType", "Quick Test")
            .is_none(),
        "push removes Quick Test from the staging site",
        &push,
    )?;
    let clean = command_reply(t, world, "diff").await?;
    check(clean.contains("No drift"), "diff is clean", &clean)
}

/// Starts `promote` (with `text`'s flags) and follows it to its open PR, checking
/// the checklist passed and the PR is on GitHub as the message says. Returns the
/// promotion's root ts and the PR number.
async fn promote(
    world: &LocalWorld,
    t: &mut Transcript<'_>,
    text: &str,
) -> anyhow::Result<(String, u64)> {
    type_command(&world.slack, PM, text).await?;
    let (root, started) = t.wait_for_text("*Promotion*").await?;
    check(
        started.contains("running the checklist"),
        "promote runs the checklist",
        &started,
    )?;
    follow_to_pr(world, t, &root).await
}

async fn follow_to_pr(
    world: &LocalWorld,
    t: &mut Transcript<'_>,
    root: &str,
) -> anyhow::Result<(String, u64)> {
    let (_, opened) = t.wait_for_text("is open").await?;
    let list = checklist_passed(world, root)?;
    println!(
        "  [the checklist in the thread, as it stands]\n{}\n",
        indent(&list)
    );
    let pr = pr_number(&opened)
        .ok_or_else(|| anyhow::anyhow!("the PR message links no PR:\n{opened}"))?;
    let pull = world
        .github
        .repo(REPO)
        .pull_summary(pr)
        .ok_or_else(|| anyhow::anyhow!("PR #{pr} is not on GitHub"))?;
    check(
        pull.head_ref.starts_with("promote/sprint-")
            && pull.base_ref == "main"
            && pull.labels.iter().any(|l| l == "promotion"),
        "a promote/ branch and a labelled PR against main",
        &format!(
            "{opened}\n(head {}, base {}, labels {:?})",
            pull.head_ref, pull.base_ref, pull.labels
        ),
    )?;
    check(
        pull.requested_reviewers
            .iter()
            .any(|r| opened.contains(&format!("@{r}"))),
        "review requested from the on-call member, named in Slack",
        &opened,
    )?;
    Ok((root.to_string(), pr))
}

/// The checklist message in the promotion's thread, as it stands: every box ✓ or
/// (backup taken now, emergency freeze) ⚠, none ✗. Returns its text.
fn checklist_passed(world: &LocalWorld, root: &str) -> anyhow::Result<String> {
    let thread = world.slack.thread(CHANNEL, root);
    let list = thread
        .iter()
        .map(|m| visible_text(&m.text, &m.blocks))
        .find(|text| text.contains("freeze guard"))
        .ok_or_else(|| anyhow::anyhow!("no checklist in the promotion's thread"))?;
    for name in BOXES {
        let passed = [format!("✓ {name}"), format!("⚠ {name}")]
            .iter()
            .any(|mark| list.contains(mark.as_str()));
        check(passed, &format!("the checklist's {name} box passes"), &list)?;
    }
    check(!list.contains('✗'), "no box fails", &list)?;
    Ok(list)
}

/// A frozen day: the dry run shows the freeze; the emergency promote asks a second
/// approver, who approves in Slack.
async fn promote_in_a_freeze(
    world: &LocalWorld,
    t: &mut Transcript<'_>,
) -> anyhow::Result<(String, u64)> {
    let dry = command_reply(t, world, "promote --dry-run").await?;
    check(
        dry.contains("✗ freeze guard"),
        "the freeze guard refuses a plain promote",
        &dry,
    )?;
    type_command(
        &world.slack,
        PM,
        "promote --emergency --reason=\"the walkthrough on a frozen day\"",
    )
    .await?;
    let (root, _) = t.wait_for_text("*Promotion*").await?;
    let ask = t
        .wait_for("the emergency approval request", |o| {
            shown(o).contains("Emergency promotion during a freeze")
        })
        .await?;
    println!("> @admin presses [Approve emergency] (a second approver)\n");
    world
        .slack
        .click_button(ADMIN, CHANNEL, &ts_of(&ask), "promote_emergency", None)
        .await?;
    follow_to_pr(world, t, &root).await
}

/// The on-call reviewer approves the PR on GitHub; the bot offers Merge & deploy.
async fn approve_on_github(
    world: &LocalWorld,
    t: &mut Transcript<'_>,
    pr: u64,
) -> anyhow::Result<()> {
    let repo = world.github.repo(REPO);
    let reviewer = repo
        .pull_summary(pr)
        .and_then(|p| p.requested_reviewers.first().cloned())
        .ok_or_else(|| anyhow::anyhow!("PR #{pr} requests no reviewer"))?;
    println!("> {reviewer} (on call) approves PR #{pr} on GitHub\n");
    repo.approve(pr, &reviewer)?;
    let offer = t
        .wait_for("Merge & deploy offered", |o| {
            shown(o).contains("is approved on GitHub")
                && buttons(o).iter().any(|b| b == "promote_merge")
        })
        .await?;
    println!("> @pm presses [Merge & deploy] (the one who started it may not)\n");
    world
        .slack
        .click_button(PM, CHANNEL, &ts_of(&offer), "promote_merge", None)
        .await?;
    let refused = t
        .wait_for(
            "the requester told no",
            |o| matches!(o, BotOutput::Ephemeral { user, .. } if user == PM),
        )
        .await?;
    check(
        shown(&refused).contains("You started this promotion"),
        "the requester may not merge their own promotion",
        &shown(&refused),
    )?;
    println!("> @dev presses [Merge & deploy] (an approver)\n");
    world
        .slack
        .click_button(DEV, CHANNEL, &ts_of(&offer), "promote_merge", None)
        .await?;
    Ok(())
}

/// The merge, then CI's backup → migrate → restart on production.
async fn deploy(world: &LocalWorld, t: &mut Transcript<'_>, pr: u64) -> anyhow::Result<()> {
    let (_, merged) = t.wait_for_text("Merged #").await?;
    check(
        merged.contains(&format!("#{pr}")),
        "the PR is merged",
        &merged,
    )?;
    for step in ["✓ backup", "✓ migrate", "✓ restart"] {
        t.wait_for_text(step).await?;
    }
    let pull = world.github.repo(REPO).pull_summary(pr);
    check(
        pull.is_some_and(|p| p.merged),
        "GitHub has the PR merged",
        &merged,
    )?;
    check(
        world
            .frappe
            .get_doc(PRODUCTION_SITE, "DocType", "Beneficiary")
            .is_some(),
        "production has the Beneficiary DocType after migrate",
        &merged,
    )
}

/// The smoke probes pass and an approver ticks every manual check.
async fn smoke(world: &LocalWorld, t: &mut Transcript<'_>, root: &str) -> anyhow::Result<()> {
    let probes = t
        .wait_for("the smoke probes", |o| {
            matches!(o, BotOutput::Updated { .. })
                && shown(o).contains("Smoke test")
                && shown(o).contains("✓ list of")
        })
        .await?;
    let ticks: Vec<String> = buttons(&probes)
        .into_iter()
        .filter(|b| b.starts_with("promote_smoke_ok_"))
        .collect();
    check(
        !ticks.is_empty(),
        "the manual smoke checks are buttons",
        &shown(&probes),
    )?;
    println!(
        "> @admin presses [Works] on each of the {} checks by hand\n",
        ticks.len()
    );
    for tick in &ticks {
        world
            .slack
            .click_button(ADMIN, CHANNEL, &ts_of(&probes), tick, None)
            .await?;
    }
    let (_, done) = t.wait_for_text("Promotion succeeded").await?;
    check(
        done.contains("is on production"),
        "the promotion succeeds",
        &done,
    )?;
    t.wait_for_edit(root, "succeeded").await.map(|_| ())
}

/// Production equals main, and status tells the story.
async fn after(world: &LocalWorld, t: &mut Transcript<'_>) -> anyhow::Result<()> {
    let prod = command_reply(t, world, "diff --site=prod").await?;
    check(
        prod.contains("No drift between site `prod`"),
        "production has no drift from main",
        &prod,
    )?;
    let status = command_reply(t, world, "status").await?;
    check(
        status.contains("Runs in flight: none.") && status.contains("succeeded"),
        "status shows the promotion succeeded",
        &status,
    )?;
    Ok(())
}

/// `ship v0.1.0`: the PM edits the draft in the modal, the developer presses Ship,
/// the on-call reviewer approves the release PR; the tag, the release and the notes
/// in #releases follow, each checked on GitHub and in Slack.
async fn ship(world: &LocalWorld, t: &mut Transcript<'_>) -> anyhow::Result<()> {
    type_command(&world.slack, PM, &format!("ship {VERSION}")).await?;
    let draft = t
        .wait_for("the release draft", |o| {
            matches!(o, BotOutput::Updated { .. }) && shown(o).contains("draft ready")
        })
        .await?;
    let root = ts_of(&draft);
    check(
        shown(&draft).contains("Draft CHANGELOG.md entry for *v0.1.0*")
            && shown(&draft).contains("Beneficiary"),
        "ship drafts the changelog entry from the promotion",
        &shown(&draft),
    )?;
    edit_notes(world, t, &root).await?;
    println!("> @dev presses [Ship]\n");
    world
        .slack
        .click_button(DEV, CHANNEL, &root, "ship_ship", None)
        .await?;
    let (_, opened) = t.wait_for_text("Release PR <").await?;
    let pr = pr_number(&opened).ok_or_else(|| anyhow::anyhow!("no release PR link:\n{opened}"))?;
    approve_on_github_only(world, pr)?;
    let notes = t
        .wait_for("the release notes in #releases", |o| {
            matches!(o, BotOutput::Posted { channel, thread_ts: None, .. } if channel == RELEASES)
        })
        .await?;
    let notes = shown(&notes);
    check(
        notes.contains("Release v0.1.0") && notes.contains("Age must not be negative"),
        "the notes, as edited, in #releases",
        &notes,
    )?;
    t.wait_for_text("Shipped as *v0.1.0*").await?;
    released_on_github(world)
}

/// The PM opens [Edit], adds a line to the draft in the modal and saves it.
async fn edit_notes(world: &LocalWorld, t: &mut Transcript<'_>, root: &str) -> anyhow::Result<()> {
    println!("> @pm presses [Edit] and adds a line to the notes in the modal\n");
    world
        .slack
        .click_button(PM, CHANNEL, root, "ship_edit", None)
        .await?;
    let view = world
        .slack
        .wait_for_open_view(PM, super::transcript::REPLY_WAIT)
        .await?;
    let draft = view.view["blocks"]
        .as_array()
        .and_then(|blocks| {
            blocks
                .iter()
                .find_map(|b| b["element"]["initial_value"].as_str())
        })
        .ok_or_else(|| anyhow::anyhow!("the editor holds no draft: {}", view.view))?;
    let block = view.view["blocks"]
        .as_array()
        .and_then(|blocks| blocks.iter().find(|b| b["type"] == "input"))
        .ok_or_else(|| anyhow::anyhow!("the editor has no input"))?;
    let (block_id, action_id) = (
        block["block_id"].as_str().unwrap_or_default().to_string(),
        block["element"]["action_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    );
    let edited = format!("{draft}\n\n### Notes\n\n{NOTE}");
    let values = std::collections::BTreeMap::from([(
        block_id,
        std::collections::BTreeMap::from([(action_id, edited)]),
    )]);
    world.slack.submit_view(PM, &view.id, &values).await?;
    t.wait_for_edit(root, "Edited by <@U0PM>").await.map(|_| ())
}

/// The on-call reviewer approves `pr` on GitHub (nothing to wait for in Slack yet).
fn approve_on_github_only(world: &LocalWorld, pr: u64) -> anyhow::Result<()> {
    let repo = world.github.repo(REPO);
    let reviewer = repo
        .pull_summary(pr)
        .and_then(|p| p.requested_reviewers.first().cloned())
        .ok_or_else(|| anyhow::anyhow!("PR #{pr} requests no reviewer"))?;
    println!("> {reviewer} (on call) approves the release PR #{pr} on GitHub\n");
    repo.approve(pr, &reviewer)
}

/// GitHub holds the annotated tag on main, the release, and CHANGELOG.md's entry.
fn released_on_github(world: &LocalWorld) -> anyhow::Result<()> {
    let repo = world.github.repo(REPO);
    let main = repo.branch_sha("main").unwrap_or_default();
    let tags = repo.tags();
    let tagged = tags
        .iter()
        .any(|tag| tag.name == VERSION && tag.commit == main && tag.message.is_some());
    check(
        tagged,
        "an annotated tag v0.1.0 on main",
        &format!("{tags:?}"),
    )?;
    let released = repo.releases().iter().any(|r| {
        r.tag_name == VERSION
            && r.body
                .as_deref()
                .is_some_and(|b| b.contains("Age must not be negative"))
    });
    check(released, "the GitHub release with the notes", "")?;
    let changelog = repo
        .files_at("main")
        .get("CHANGELOG.md")
        .map(|b| String::from_utf8_lossy(b).to_string())
        .unwrap_or_default();
    check(
        changelog.contains("## [0.1.0]"),
        "CHANGELOG.md on main has the entry",
        &changelog,
    )
}

/// The PR number in a message that links it (`…/pull/3|#3>`).
fn pr_number(text: &str) -> Option<u64> {
    let at = text.find("/pull/")? + "/pull/".len();
    text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pr_number_is_read_from_its_link() {
        assert_eq!(
            pr_number("PR <http://x/acme/c/pull/12|#12> is open"),
            Some(12)
        );
        assert_eq!(pr_number("no link"), None);
    }
}
