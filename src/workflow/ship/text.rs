//! What a release says: its root message (the draft with its buttons while it waits
//! for a decision, then where it stands), the editor modal, the release PR's body
//! and the tag's message. Pure text; user text is escaped where it goes.

use super::{actions, ShipRun, ShipState};
use crate::blueprint::render::plural;
use crate::slack::render::escape;
use crate::workflow::effect::{Block, ButtonStyle, Message};
use crate::workflow::run::offer;
use serde_json::{json, Value};

/// Slack's multiline input holds at most 3,000 characters.
pub const EDITOR_LIMIT: usize = 3_000;

/// The root message, kept current with the run's state.
pub fn root(run: &ShipRun, release_channel: &str) -> Message {
    let tag = escape(&run.tag());
    let icon = match run.state {
        ShipState::Shipped => ":white_check_mark:",
        ShipState::Failed => ":x:",
        ShipState::Refused => ":no_entry:",
        ShipState::Cancelled => ":heavy_multiplication_x:",
        _ => ":package:",
    };
    let headline = format!(
        "{icon} *Ship {tag}* `{}`: {}",
        run.header.id,
        run.state.describe()
    );
    let mut lines = vec![headline.clone()];
    if let Some(pr) = &run.facts.pr {
        lines.push(format!("Release PR <{}|#{}>", pr.url, pr.number));
    }
    if let Some(commit) = &run.facts.commit {
        lines.push(format!("CHANGELOG.md at `{}`", short(commit)));
    }
    if let Some(url) = &run.facts.release_url {
        lines.push(format!(
            "<{url}|GitHub release {tag}> · notes in <#{release_channel}>"
        ));
    }
    if let Some(outcome) = &run.facts.outcome {
        lines.push(outcome.clone());
    }
    let mut blocks = vec![Block::Section(lines.join("\n"))];
    if run.state == ShipState::AwaitingDecision {
        blocks.extend(draft_blocks(run));
    }
    if run.state == ShipState::AwaitingReview {
        blocks.push(Block::Buttons(vec![offer(
            &run.header,
            actions::CANCEL,
            "Cancel release",
            None,
        )]));
    }
    Message {
        text: headline,
        blocks,
    }
}

/// The draft, what Ship will do, and [Edit] [Ship] [Cancel].
fn draft_blocks(run: &ShipRun) -> Vec<Block> {
    let Some(draft) = &run.facts.draft else {
        return Vec::new();
    };
    let source = match (draft.from_pr, &draft.previous_tag) {
        (Some(pr), _) => format!("from the summary of PR #{pr}"),
        (None, Some(previous)) => format!(
            "from {} changed since `{}`",
            plural(draft.changes, "blueprint"),
            escape(previous)
        ),
        (None, None) => format!(
            "from {} changed since the first commit",
            plural(draft.changes, "blueprint")
        ),
    };
    let edited = run
        .facts
        .edited_by
        .as_ref()
        .map(|user| format!(" Edited by <@{user}>."))
        .unwrap_or_default();
    let mut buttons = Vec::new();
    let editable = draft.body.chars().count() <= EDITOR_LIMIT;
    if editable {
        buttons.push(offer(&run.header, actions::EDIT, "Edit", None));
    }
    buttons.push(offer(
        &run.header,
        actions::SHIP,
        "Ship",
        Some(ButtonStyle::Primary),
    ));
    buttons.push(offer(&run.header, actions::CANCEL, "Cancel", None));
    let mut blocks = vec![
        Block::Section(format!(
            "Draft CHANGELOG.md entry for *{}*, {source}.{edited}",
            escape(&run.tag())
        )),
        Block::Code(draft.body.clone()),
        Block::Context(format!(
            "Ship: {}; then tag `{}` on that commit, make the GitHub release and post the notes. Only <@{}> or an approver may press.{}",
            landing(run),
            escape(&run.tag()),
            run.header.requester.user,
            if editable {
                String::new()
            } else {
                format!(" The draft is longer than Slack's {EDITOR_LIMIT}-character editor, so edit it on the release PR instead.")
            }
        )),
        Block::Buttons(buttons),
    ];
    if let Some(warning) = version_warning(run) {
        blocks.insert(1, Block::Context(warning));
    }
    blocks
}

/// How the entry lands, in words.
fn landing(run: &ShipRun) -> String {
    match &run.facts.on_call {
        _ if run.facts.direct => "one commit of CHANGELOG.md on the production branch".into(),
        Some(member) => format!(
            "a PR `{}` adding the entry to CHANGELOG.md, reviewed by @{} (on call) and merged by lockstep once approved",
            escape(&run.release_branch()),
            escape(&member.github)
        ),
        None => format!(
            "a PR `{}` adding the entry to CHANGELOG.md, merged by lockstep once approved on GitHub",
            escape(&run.release_branch())
        ),
    }
}

/// A pre-release version is worth a second look before it becomes the latest.
fn version_warning(run: &ShipRun) -> Option<String> {
    (!run.request.version.pre.is_empty()).then(|| {
        format!(
            ":warning: `{}` is a pre-release version.",
            escape(&run.tag())
        )
    })
}

/// The editor: the draft's body in a multiline input. The view carries the run and
/// the version it was opened at, nothing more; who may save is decided by the run.
pub fn editor(run: &ShipRun, body: &str) -> Value {
    json!({
        "type": "modal",
        "callback_id": actions::EDITOR,
        "private_metadata": crate::workflow::run::ButtonValue {
            run_id: run.header.id.clone(),
            version: run.header.version,
        }.encode(),
        "title": {"type": "plain_text", "text": "Edit release notes"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "context",
                "elements": [{
                    "type": "mrkdwn",
                    "text": format!(
                        "The entry for *{}* in CHANGELOG.md, in Markdown; its heading is added when it ships. Saving changes the draft in the channel; nothing is written until someone presses Ship.",
                        escape(&run.tag())
                    )
                }]
            },
            {
                "type": "input",
                "block_id": actions::NOTES_BLOCK,
                "label": {"type": "plain_text", "text": "Release notes"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": actions::NOTES_INPUT,
                    "multiline": true,
                    "initial_value": body,
                    "max_length": EDITOR_LIMIT,
                }
            }
        ]
    })
}

/// The release PR's title and body.
pub fn pr_title(run: &ShipRun) -> String {
    format!("Release {}", run.tag())
}

pub fn pr_body(run: &ShipRun, entry: &str) -> String {
    format!(
        "## Summary\n\nAdds the CHANGELOG.md entry of {tag}. When this PR is approved, lockstep merges it, tags `{tag}` on the merge commit and makes the GitHub release with these notes.\n\n## Entry\n\n{entry}\n\n---\nlockstep run {} for Slack user {}.\n",
        run.header.id,
        run.header.requester.user,
        tag = run.tag(),
    )
}

/// The annotated tag's message.
pub fn tag_message(run: &ShipRun) -> String {
    format!(
        "Release {}\n\nTagged by lockstep run {} for Slack user {}.",
        run.tag(),
        run.header.id,
        run.header.requester.user
    )
}

pub fn short(sha: &str) -> &str {
    &sha[..sha.len().min(7)]
}
