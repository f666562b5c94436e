//! What a promotion says: its root message in the channel (kept current with its
//! state), the pull request's title and body (PRODUCT.md §4.4), and the smoke
//! test's manual checklist. Pure text; user text is escaped where it goes.

use super::{actions, PromotionRun, PromotionState};
use crate::blueprint::render::plural;
use crate::slack::render::escape;
use crate::workflow::effect::{Block, ButtonStyle, Message};
use crate::workflow::op::SetEntry;
use crate::workflow::run::offer;
use chrono::{DateTime, Utc};

/// The root message: what the promotion is, where it stands, its links, and
/// [Cancel] while it can still be cancelled.
pub fn root(run: &PromotionRun) -> Message {
    let id = &run.header.id;
    let icon = match run.state {
        PromotionState::Succeeded => ":white_check_mark:",
        PromotionState::RolledBack | PromotionState::Failed => ":rotating_light:",
        PromotionState::Refused => ":no_entry:",
        PromotionState::Cancelled => ":heavy_multiplication_x:",
        _ => ":rocket:",
    };
    let emergency = if run.request.emergency.is_some() {
        " (emergency)"
    } else {
        ""
    };
    let headline = format!(
        "{icon} *Promotion* `{id}`{emergency}: {}",
        run.state.describe()
    );
    let mut lines = vec![headline.clone()];
    if let Some((_, shown)) = &run.request.emergency {
        lines.push(format!("Reason: {shown}"));
    }
    if let Some(checklist) = &run.facts.checklist {
        lines.push(format!(
            "{} in {}",
            plural(checklist.set.len(), "blueprint"),
            plural(checklist.families.len(), "family")
        ));
    }
    if let Some(branch) = &run.facts.branch {
        lines.push(format!("Branch `{}`", escape(branch)));
    }
    if let Some(pr) = &run.facts.pr {
        lines.push(format!("Pull request <{}|#{}>", pr.url, pr.number));
    }
    if let Some(backup) = &run.facts.backup {
        lines.push(format!("Backup `{}`", escape(&backup.id)));
    }
    if let Some(outcome) = &run.facts.outcome {
        lines.push(outcome.clone());
    }
    let mut blocks = vec![Block::Section(lines.join("\n"))];
    if run.state.is_before_merge() {
        blocks.push(Block::Buttons(vec![offer(
            &run.header,
            actions::CANCEL,
            "Cancel promotion",
            None,
        )]));
    }
    blocks.push(Block::Context(
        "Each step is posted in this thread.".to_string(),
    ));
    Message {
        text: headline,
        blocks,
    }
}

/// `Promote sprint 23: beneficiary (5 blueprints)`.
pub fn pr_title(run: &PromotionRun, sprint: u32) -> String {
    let count = run
        .facts
        .checklist
        .as_ref()
        .map(|c| c.set.len())
        .unwrap_or(0);
    let emergency = if run.request.emergency.is_some() {
        "[emergency] "
    } else {
        ""
    };
    format!(
        "{emergency}Promote sprint {sprint}: {} ({})",
        run.feature(),
        plural(count, "blueprint")
    )
}

/// The PR body of PRODUCT.md §4.4: summary; blueprints table; audit excerpt since
/// the last promotion; reviewer and tester results; rollback with the backup id and
/// the exact restore command; reviewer.
pub fn pr_body(run: &PromotionRun, restore_command: &str, staging: &str, main: &str) -> String {
    let checklist = run.facts.checklist.as_ref();
    let set: &[SetEntry] = checklist.map(|c| c.set.as_slice()).unwrap_or(&[]);
    let families = checklist.map(|c| c.families.clone()).unwrap_or_default();
    let mut body = String::new();
    body.push_str("## Summary\n\n");
    body.push_str(&format!(
        "Promotes {} in {} ({}) from `{staging}` to `{main}`, requested in Slack by user `{}` (lockstep run `{}`).\n",
        plural(set.len(), "blueprint"),
        plural(families.len(), "family"),
        families.join(", "),
        run.header.requester.user,
        run.header.id
    ));
    if let Some((plain, _)) = &run.request.emergency {
        body.push_str(&format!(
            "\n**Emergency promotion** during a freeze window. Reason:\n\n> {}\n",
            markdown_text(plain)
        ));
    }
    body.push_str("\n## Blueprints\n\n| name | type | change |\n|---|---|---|\n");
    for entry in set {
        body.push_str(&format!(
            "| {} | {} | {} |\n",
            markdown_cell(&entry.name),
            markdown_cell(&entry.doctype),
            entry.change
        ));
    }
    body.push_str("\n## Audit since the last promotion\n\n");
    match checklist.map(|c| c.audit_excerpt.as_slice()) {
        Some(lines) if !lines.is_empty() => {
            for line in lines {
                body.push_str(&format!("- {}\n", markdown_text(line)));
            }
        }
        _ => body.push_str("Nothing recorded since the last promotion.\n"),
    }
    body.push_str("\n## Checks\n\n");
    if let Some(checklist) = checklist {
        body.push_str(&format!(
            "- reviewer: {}\n- tester: {}\n",
            markdown_text(&checklist.reviewer),
            markdown_text(&checklist.tester)
        ));
    }
    body.push_str("\n## Rollback\n\n");
    match &run.facts.backup {
        Some(backup) => body.push_str(&format!(
            "Production backup `{}` (taken {}). If the deploy fails, lockstep restores it and opens a revert PR of this one. By hand:\n\n```\n{restore_command}\n```\n",
            backup.id,
            backup.taken_at.format("%Y-%m-%d %H:%M UTC")
        )),
        None => body.push_str("No backup is recorded for this run.\n"),
    }
    body.push_str("\n## Reviewer\n\n");
    match &run.facts.on_call {
        Some(member) => body.push_str(&format!(
            "@{} is on call and was asked to review. Merging happens from Slack ([Merge & deploy]) once GitHub's review approves it.\n",
            member.github
        )),
        None => body.push_str(
            "No one is on call ([rotation] lists no members): any reviewer with write access may approve.\n",
        ),
    }
    body
}

/// Text for a Markdown paragraph: no HTML, no mentions, no images.
fn markdown_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('@', "@\u{200b}")
        .replace('\n', " ")
}

/// Text for a Markdown table cell: also no `|`.
fn markdown_cell(text: &str) -> String {
    markdown_text(text).replace('|', "\\|")
}

/// The manual smoke checklist for the promotion's blueprint types.
pub fn smoke_items(set: &[SetEntry]) -> Vec<String> {
    let mut items = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for entry in set.iter().filter(|e| e.change != "removed") {
        let item = match entry.doctype.as_str() {
            "DocType" => format!("Open a {} form, fill it in and save it", entry.name),
            "Workflow" => format!(
                "Move a document through the {} workflow with the right role",
                entry.name
            ),
            "Custom Field" | "Property Setter" => continue,
            "Dashboard" | "Dashboard Chart" | "Number Card" => {
                format!(
                    "Open the {} {} and check its figures",
                    entry.name, entry.doctype
                )
            }
            "Report" => format!("Run the {} report", entry.name),
            "Print Format" => format!("Print a document with the {} print format", entry.name),
            "Notification" => format!("Trigger the {} notification once", entry.name),
            "Server Script" | "Client Script" => {
                format!("Exercise the {} script's event once", entry.name)
            }
            other => format!("Check {other} {}", entry.name),
        };
        if seen.insert(item.clone()) {
            items.push(item);
        }
    }
    if set
        .iter()
        .any(|e| e.doctype == "Custom Field" || e.doctype == "Property Setter")
    {
        items.push("Check the changed fields show and save as expected".to_string());
    }
    if items.is_empty() {
        items.push("Open the changed screens and check they work".to_string());
    }
    items
}

/// The smoke message: probe results, and a [Works] / [Broken] pair per manual item.
pub fn smoke_message(run: &PromotionRun) -> Message {
    let smoke = &run.facts.smoke;
    let mut lines = vec!["*Smoke test on production*".to_string()];
    if smoke.probes.is_empty() {
        lines.push("Automatic probes: running…".to_string());
    } else {
        for probe in &smoke.probes {
            let mark = if probe.ok { "✓" } else { "✗" };
            lines.push(format!(
                "{mark} {} — {}",
                escape(&probe.what),
                escape(&probe.detail)
            ));
        }
    }
    lines.push("\n*By hand* (anyone in the channel may tick):".to_string());
    let mut blocks = vec![Block::Section(lines.join("\n"))];
    let mut header = run.header.clone();
    header.version = smoke.offered_at;
    for (n, item) in smoke.items.iter().enumerate() {
        match &item.verdict {
            Some((true, who)) => blocks.push(Block::Section(format!(
                "✓ {} — works, ticked by <@{who}>",
                escape(&item.label)
            ))),
            Some((false, who)) => blocks.push(Block::Section(format!(
                "✗ {} — marked broken by <@{who}>",
                escape(&item.label)
            ))),
            None => {
                blocks.push(Block::Section(format!("☐ {}", escape(&item.label))));
                blocks.push(Block::Buttons(vec![
                    offer(
                        &header,
                        &format!("{}{n}", actions::SMOKE_OK),
                        "Works",
                        Some(ButtonStyle::Primary),
                    ),
                    offer(
                        &header,
                        &format!("{}{n}", actions::SMOKE_BAD),
                        "Broken",
                        Some(ButtonStyle::Danger),
                    ),
                ]));
            }
        }
    }
    Message {
        text: "Smoke test on production".to_string(),
        blocks,
    }
}

/// `2026-11-25 14:30 UTC`.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
