//! Release notes as people read them in Slack: a headline with the version and the
//! date, one section per family, the promotion PRs as links, and who approved. Made
//! from the entry's Markdown as it will land in CHANGELOG.md (after any edit in the
//! modal), so the channel reads exactly what was released: lines in the entry's
//! shape (`### Added`, `- family`, `  - DocType "X" ([#1](…))`) are grouped by
//! family; anything else someone wrote is kept, in order, under "Notes".

use crate::slack::render::escape;
use crate::workflow::effect::{Block, Message};

/// What the notes say besides the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotesContext {
    /// `v0.1.0`.
    pub tag: String,
    /// `2026-12-06`.
    pub date: String,
    pub release_url: Option<String>,
    /// Changes since the previous release, on GitHub.
    pub compare_url: Option<String>,
    pub previous_tag: Option<String>,
    /// `#1 approved by @bob`, one per PR that brought the release's changes.
    pub approvals: Vec<String>,
    /// The Slack user who shipped it.
    pub shipped_by: String,
}

/// Families beyond this many are listed in one section (Slack allows 50 blocks).
const MAX_FAMILY_SECTIONS: usize = 40;

/// The release notes message for the release channel.
pub fn message(entry: &str, ctx: &NotesContext) -> Message {
    let parsed = parse(entry);
    let mut blocks = vec![Block::Header(format!("Release {} — {}", ctx.tag, ctx.date))];
    let (shown, folded) = parsed
        .families
        .split_at(parsed.families.len().min(MAX_FAMILY_SECTIONS));
    for (family, lines) in shown {
        blocks.push(Block::Section(family_section(family, lines)));
    }
    if !folded.is_empty() {
        let text = folded
            .iter()
            .map(|(family, lines)| family_section(family, lines))
            .collect::<Vec<_>>()
            .join("\n\n");
        blocks.push(Block::Section(text));
    }
    if !parsed.notes.is_empty() {
        let text = parsed
            .notes
            .iter()
            .map(|line| mrkdwn(line))
            .collect::<Vec<_>>()
            .join("\n");
        blocks.push(Block::Section(format!("*Notes*\n{text}")));
    }
    if parsed.families.is_empty() && parsed.notes.is_empty() {
        blocks.push(Block::Section(
            "No blueprint changed in this release.".into(),
        ));
    }
    blocks.push(Block::Context(footer(ctx)));
    Message {
        text: format!(
            "Release {} — {} ({})",
            ctx.tag,
            ctx.date,
            crate::blueprint::render::plural(parsed.families.len(), "family")
        ),
        blocks,
    }
}

/// The one line for the promotion's thread.
pub fn thread_summary(ctx: &NotesContext, channel: &str) -> String {
    let release = ctx
        .release_url
        .as_ref()
        .map(|url| format!(" <{url}|GitHub release>"))
        .unwrap_or_default();
    format!(
        ":package: Shipped as *{}* by <@{}> on {}: notes in <#{channel}>.{release}",
        escape(&ctx.tag),
        ctx.shipped_by,
        ctx.date
    )
}

fn family_section(family: &str, lines: &[String]) -> String {
    let items: Vec<String> = lines.iter().map(|l| format!("• {}", mrkdwn(l))).collect();
    format!("*{}*\n{}", mrkdwn(family), items.join("\n"))
}

fn footer(ctx: &NotesContext) -> String {
    let mut parts = Vec::new();
    if !ctx.approvals.is_empty() {
        parts.push(format!("Approved: {}", escape(&ctx.approvals.join("; "))));
    }
    parts.push(format!("shipped by <@{}>", ctx.shipped_by));
    if let Some(url) = &ctx.release_url {
        parts.push(format!("<{url}|GitHub release>"));
    }
    if let (Some(url), Some(previous)) = (&ctx.compare_url, &ctx.previous_tag) {
        parts.push(format!("<{url}|changes since {}>", escape(previous)));
    }
    parts.join(" · ")
}

/// The entry read back: per family (in order of first appearance) its lines, each
/// prefixed with the kind it was listed under; everything else as notes.
#[derive(Debug, Default, PartialEq, Eq)]
struct Parsed {
    families: Vec<(String, Vec<String>)>,
    notes: Vec<String>,
}

fn parse(entry: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut kind: Option<String> = None;
    // A top-level item not yet known to be a family (it is one if items follow).
    let mut pending: Option<String> = None;
    let mut family: Option<usize> = None;
    let flush = |pending: &mut Option<String>, kind: &Option<String>, notes: &mut Vec<String>| {
        if let Some(text) = pending.take() {
            notes.push(with_kind(kind, &text));
        }
    };
    for line in entry.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim().is_empty() || trimmed.starts_with("## ") {
            continue;
        }
        if let Some(heading) = trimmed.strip_prefix("### ") {
            flush(&mut pending, &kind, &mut parsed.notes);
            kind = Some(heading.trim().to_string());
            family = None;
            continue;
        }
        let indented = trimmed.starts_with([' ', '\t']);
        let item = trimmed.trim_start().strip_prefix("- ");
        match (indented, item) {
            (false, Some(text)) => {
                flush(&mut pending, &kind, &mut parsed.notes);
                family = None;
                pending = Some(text.trim().to_string());
            }
            (true, Some(text)) => {
                let index = match (pending.take(), family) {
                    (Some(name), _) => {
                        let at = parsed.families.iter().position(|(f, _)| *f == name);
                        at.unwrap_or_else(|| {
                            parsed.families.push((name, Vec::new()));
                            parsed.families.len() - 1
                        })
                    }
                    (None, Some(index)) => index,
                    // An indented item under no family: kept as written.
                    (None, None) => {
                        parsed.notes.push(trimmed.trim().to_string());
                        continue;
                    }
                };
                family = Some(index);
                parsed.families[index].1.push(with_kind(&kind, text.trim()));
            }
            _ => {
                flush(&mut pending, &kind, &mut parsed.notes);
                family = None;
                parsed.notes.push(trimmed.trim().to_string());
            }
        }
    }
    flush(&mut pending, &kind, &mut parsed.notes);
    parsed
}

/// `Added: …` under a change heading; a `### Notes` heading adds nothing, since the
/// lines already go under the notes' own title.
fn with_kind(kind: &Option<String>, text: &str) -> String {
    match kind {
        Some(kind) if !kind.eq_ignore_ascii_case("notes") => format!("{kind}: {text}"),
        _ => text.to_string(),
    }
}

/// One line of the entry's Markdown as Slack mrkdwn: escaped, so nothing in it can
/// become a mention; `[text](https://…)` links and `**bold**` converted.
fn mrkdwn(line: &str) -> String {
    let escaped = escape(line).replace("**", "*");
    let mut out = String::new();
    let mut rest = escaped.as_str();
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let link = after.find("](").and_then(|close| {
            let text = &after[..close];
            let target = &after[close + 2..];
            let end = target.find(')')?;
            let url = &target[..end];
            let safe = (url.starts_with("https://") || url.starts_with("http://"))
                && !url.contains(|c: char| c.is_whitespace() || c == '|');
            safe.then(|| (text, url, close + 2 + end + 1))
        });
        match link {
            Some((text, url, consumed)) => {
                out.push_str(&rest[..open]);
                out.push_str(&format!("<{url}|{text}>"));
                rest = &after[consumed..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> NotesContext {
        NotesContext {
            tag: "v0.1.0".into(),
            date: "2026-12-06".into(),
            release_url: Some("https://github.com/acme/frappe-config/releases/tag/v0.1.0".into()),
            compare_url: None,
            previous_tag: None,
            approvals: vec!["#1 approved by @bob".into()],
            shipped_by: "U0PM".into(),
        }
    }

    const ENTRY: &str = "## [0.1.0] - 2026-12-06\n\n### Added\n\n- beneficiary\n  - DocType \"Beneficiary\" ([#1](https://github.com/acme/frappe-config/pull/1))\n  - Workflow \"Beneficiary Approval\" ([#1](https://github.com/acme/frappe-config/pull/1))\n\n### Changed\n\n- grant\n  - DocType \"Grant\" ([#3](https://github.com/acme/frappe-config/pull/3))\n- beneficiary\n  - Custom Field \"Beneficiary-age\"\n- Age must not be negative any more.\n\nReviewed with the programme team.\n";

    #[test]
    fn the_notes_have_a_headline_a_section_per_family_and_who_approved() {
        let message = message(ENTRY, &ctx());
        insta::assert_yaml_snapshot!("release_notes_blocks", message);
    }

    #[test]
    fn the_entry_is_read_back_by_family_with_free_text_kept() {
        let parsed = parse(ENTRY);
        let names: Vec<&str> = parsed.families.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(names, ["beneficiary", "grant"]);
        assert_eq!(parsed.families[0].1.len(), 3);
        assert_eq!(
            parsed.families[0].1[2],
            "Changed: Custom Field \"Beneficiary-age\""
        );
        assert_eq!(
            parsed.notes,
            [
                "Changed: Age must not be negative any more.",
                "Reviewed with the programme team."
            ]
        );
    }

    #[test]
    fn lines_under_a_notes_heading_are_not_labelled_twice() {
        let parsed = parse("### Added\n\n- grant\n  - DocType \"Grant\"\n\n### Notes\n\n- Age must not be negative.\n");
        assert_eq!(parsed.notes, ["Age must not be negative."]);
    }

    #[test]
    fn links_become_slack_links_and_nothing_becomes_a_mention() {
        assert_eq!(
            mrkdwn("see [#4](https://github.com/a/b/pull/4) and **this**"),
            "see <https://github.com/a/b/pull/4|#4> and *this*"
        );
        assert_eq!(
            mrkdwn("<!channel> [x](javascript:alert(1)) [y](https://a b)"),
            "&lt;!channel&gt; [x](javascript:alert(1)) [y](https://a b)"
        );
        assert_eq!(mrkdwn("[unclosed"), "[unclosed");
    }

    #[test]
    fn an_entry_without_blueprints_says_so() {
        let message = message("## [0.2.0] - 2026-12-06\n", &ctx());
        assert!(message.blocks.contains(&Block::Section(
            "No blueprint changed in this release.".into()
        )));
    }

    proptest::proptest! {
        #[test]
        fn any_entry_renders_without_panicking_or_raw_angle_brackets(entry in "\\PC{0,300}") {
            let message = message(&entry, &ctx());
            for block in &message.blocks {
                if let Block::Section(text) = block {
                    let without_links: String = text
                        .split('<')
                        .skip(1)
                        .filter(|part| !part.starts_with("http"))
                        .collect();
                    proptest::prop_assert!(without_links.is_empty(), "{text}");
                }
            }
        }
    }
}
