//! `CHANGELOG.md` in Keep a Changelog form (keepachangelog.com 1.1.0): a version's
//! entry (`## [0.1.0] - 2026-11-25`, then `### Added` / `### Changed` / `### Removed`,
//! each grouped by family, each line naming the blueprint and linking the promotion
//! PR that brought it), and the file it goes into: the `[Unreleased]` section stays
//! on top (anything written there by hand moves into the release), the new entry
//! follows it, and the link references at the bottom are kept and updated.

use chrono::NaiveDate;
use semver::Version;
use std::collections::BTreeMap;

/// What a release did to one blueprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub family: String,
    pub doctype: String,
    pub name: String,
    /// The promotion PR that brought it to production: number and link.
    pub pr: Option<(u64, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

impl ChangeKind {
    fn heading(self) -> &'static str {
        match self {
            ChangeKind::Added => "Added",
            ChangeKind::Changed => "Changed",
            ChangeKind::Removed => "Removed",
        }
    }
}

const PREAMBLE: &str = "# Changelog\n\nAll notable changes to this configuration will be documented in this file.\n\nThe format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),\nand this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).\n";

/// A version's entry from what changed.
pub fn entry(version: &Version, date: NaiveDate, changes: &[Change]) -> String {
    entry_with_body(version, date, &body(changes))
}

/// The entry under the heading: `### Added` / `### Changed` / `### Removed`, each
/// listing families and, under each, the blueprints with their promotion PR.
pub fn body(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "No blueprint changed since the previous release.\n".to_string();
    }
    let mut by_kind: BTreeMap<ChangeKind, BTreeMap<&str, Vec<&Change>>> = BTreeMap::new();
    for change in changes {
        by_kind
            .entry(change.kind)
            .or_default()
            .entry(change.family.as_str())
            .or_default()
            .push(change);
    }
    let mut out = String::new();
    for (kind, families) in by_kind {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("### {}\n\n", kind.heading()));
        for (family, mut members) in families {
            out.push_str(&format!("- {}\n", markdown(family)));
            members.sort_by(|a, b| (&a.doctype, &a.name).cmp(&(&b.doctype, &b.name)));
            for change in members {
                let pr = change
                    .pr
                    .as_ref()
                    .map(|(number, url)| format!(" ([#{number}]({url}))"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "  - {} \"{}\"{pr}\n",
                    markdown(&change.doctype),
                    markdown(&change.name)
                ));
            }
        }
    }
    out
}

/// The entry: the version's heading, then `body` as someone may have edited it.
pub fn entry_with_body(version: &Version, date: NaiveDate, body: &str) -> String {
    format!("{}\n{}\n", heading(version, date), normalise_body(body))
}

/// An edited body made safe for the file: a version heading pasted at the top is
/// dropped (the release's own heading is added), and `#`/`##` headings become
/// `###`, so an edit cannot start a new version section or break the file's shape.
pub fn normalise_body(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for (n, line) in text.trim().lines().enumerate() {
        let line = line.trim_end();
        if n == 0 && line.starts_with("## [") {
            continue;
        }
        let demoted = match line.strip_prefix("## ").or_else(|| line.strip_prefix("# ")) {
            Some(rest) => format!("### {rest}"),
            None => line.to_string(),
        };
        lines.push(demoted);
    }
    lines.join("\n").trim().to_string()
}

/// `## [0.1.0] - 2026-11-25`.
pub fn heading(version: &Version, date: NaiveDate) -> String {
    format!("## [{version}] - {}\n", date.format("%Y-%m-%d"))
}

/// Whether `file` already holds `entry` (a commit made before a restart).
pub fn holds(file: &str, entry: &str) -> bool {
    let wanted = entry.trim();
    !wanted.is_empty() && file.replace("\r\n", "\n").contains(wanted)
}

/// The text under a PR body's `## Summary` heading (up to the next heading).
pub fn summary_of(body: &str) -> Option<String> {
    let mut lines = body.lines().skip_while(|line| line.trim() != "## Summary");
    lines.next()?;
    let summary: Vec<&str> = lines.take_while(|line| !line.starts_with("## ")).collect();
    let text = summary.join("\n").trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Text for a Markdown list: no HTML, no mentions.
fn markdown(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('@', "@\u{200b}")
}

/// `CHANGELOG.md` with `entry` for `version` added: the preamble, `[Unreleased]`
/// (emptied: what was written there moves into the release), the new entry, the
/// entries before, and the link references, `[unreleased]` moved to compare from
/// the new tag. `repo_url` is the repository's web address.
pub fn insert(
    existing: Option<&str>,
    entry: &str,
    version: &Version,
    previous_tag: Option<&str>,
    repo_url: &str,
) -> String {
    let existing = existing.unwrap_or("");
    let (body, links) = split_links(existing);
    let (preamble, unreleased, older) = split_sections(body);
    let preamble = if preamble.trim().is_empty() {
        PREAMBLE.to_string()
    } else {
        preamble
    };
    let tag = format!("v{version}");
    let mut out = preamble.trim_end().to_string();
    out.push_str("\n\n## [Unreleased]\n\n");
    out.push_str(entry.trim_end());
    out.push('\n');
    if !unreleased.trim().is_empty() {
        out.push_str("\n### Notes\n\n");
        out.push_str(unreleased.trim());
        out.push('\n');
    }
    if !older.trim().is_empty() {
        out.push('\n');
        out.push_str(older.trim());
        out.push('\n');
    }
    let repo_url = repo_url.trim_end_matches('/');
    let mut links: Vec<(String, String)> = links
        .into_iter()
        .filter(|(label, _)| {
            !label.eq_ignore_ascii_case("unreleased") && label != &version.to_string()
        })
        .collect();
    let this = match previous_tag {
        Some(previous) => format!("{repo_url}/compare/{previous}...{tag}"),
        None => format!("{repo_url}/releases/tag/{tag}"),
    };
    links.insert(0, (version.to_string(), this));
    links.insert(
        0,
        (
            "unreleased".to_string(),
            format!("{repo_url}/compare/{tag}...HEAD"),
        ),
    );
    out.push('\n');
    for (label, url) in links {
        out.push_str(&format!("[{label}]: {url}\n"));
    }
    out
}

/// The link reference definitions at the end (`[label]: url`), and what is before.
fn split_links(text: &str) -> (&str, Vec<(String, String)>) {
    let lines: Vec<&str> = text.lines().collect();
    let is_link = |line: &str| {
        let line = line.trim();
        line.starts_with('[') && line.contains("]: ")
    };
    let mut start = lines.len();
    while start > 0 && (is_link(lines[start - 1]) || lines[start - 1].trim().is_empty()) {
        start -= 1;
    }
    let links = lines[start..]
        .iter()
        .filter(|line| is_link(line))
        .filter_map(|line| {
            let (label, url) = line.trim().split_once("]: ")?;
            Some((label.trim_start_matches('[').to_string(), url.to_string()))
        })
        .collect();
    let cut: usize = lines[..start].iter().map(|l| l.len() + 1).sum();
    (&text[..cut.min(text.len())], links)
}

/// The preamble (before the first `## `), the `[Unreleased]` section's text (without
/// its heading), and every section after it.
fn split_sections(text: &str) -> (String, String, String) {
    let mut preamble = String::new();
    let mut unreleased = String::new();
    let mut older = String::new();
    #[derive(PartialEq)]
    enum Part {
        Preamble,
        Unreleased,
        Older,
    }
    let mut part = Part::Preamble;
    for line in text.lines() {
        if line.starts_with("## ") {
            part = if line.to_ascii_lowercase().starts_with("## [unreleased]") {
                Part::Unreleased
            } else {
                Part::Older
            };
            if part == Part::Unreleased {
                continue;
            }
        }
        let target = match part {
            Part::Preamble => &mut preamble,
            Part::Unreleased => &mut unreleased,
            Part::Older => &mut older,
        };
        target.push_str(line);
        target.push('\n');
    }
    (preamble, unreleased, older)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn change(kind: ChangeKind, family: &str, doctype: &str, name: &str, pr: u64) -> Change {
        Change {
            kind,
            family: family.into(),
            doctype: doctype.into(),
            name: name.into(),
            pr: Some((
                pr,
                format!("https://github.com/acme/frappe-config/pull/{pr}"),
            )),
        }
    }

    fn changes() -> Vec<Change> {
        vec![
            change(
                ChangeKind::Added,
                "beneficiary",
                "DocType",
                "Beneficiary",
                1,
            ),
            change(
                ChangeKind::Added,
                "beneficiary",
                "Workflow",
                "Beneficiary Approval",
                1,
            ),
            change(ChangeKind::Added, "grant", "Number Card", "Open Grants", 3),
            change(ChangeKind::Changed, "grant", "DocType", "Grant", 3),
            change(
                ChangeKind::Removed,
                "grant",
                "Custom Field",
                "Grant-legacy_code",
                3,
            ),
        ]
    }

    #[test]
    fn the_entry_groups_by_kind_and_family_and_links_each_pr() {
        let entry = entry(&Version::new(0, 1, 0), date(), &changes());
        insta::assert_snapshot!("changelog_entry", entry);
    }

    #[test]
    fn the_first_release_makes_the_file_and_the_second_keeps_unreleased_and_links() {
        let url = "https://github.com/acme/frappe-config";
        let first = insert(
            None,
            &entry(&Version::new(0, 1, 0), date(), &changes()),
            &Version::new(0, 1, 0),
            None,
            url,
        );
        let with_notes = first.replace(
            "## [Unreleased]\n",
            "## [Unreleased]\n\n- Translations reviewed by hand.\n",
        );
        let second = insert(
            Some(&with_notes),
            &entry(
                &Version::new(0, 2, 0),
                NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
                &[change(
                    ChangeKind::Changed,
                    "beneficiary",
                    "DocType",
                    "Beneficiary",
                    7,
                )],
            ),
            &Version::new(0, 2, 0),
            Some("v0.1.0"),
            url,
        );
        insta::assert_snapshot!("changelog_file_after_two_releases", second);
        assert_eq!(second.matches("## [Unreleased]").count(), 1);
        assert!(second
            .contains("[unreleased]: https://github.com/acme/frappe-config/compare/v0.2.0...HEAD"));
        assert!(second
            .contains("[0.2.0]: https://github.com/acme/frappe-config/compare/v0.1.0...v0.2.0"));
        assert!(
            second.contains("[0.1.0]: https://github.com/acme/frappe-config/releases/tag/v0.1.0")
        );
    }

    #[test]
    fn a_pr_summary_becomes_the_entry() {
        let body = "## Summary\n\nPromotes 5 blueprints.\nEmergency fix.\n\n## Blueprints\n| a |";
        assert_eq!(
            summary_of(body).as_deref(),
            Some("Promotes 5 blueprints.\nEmergency fix.")
        );
        assert_eq!(summary_of("no summary"), None);
        let entry = entry_with_body(&Version::new(1, 0, 0), date(), "Promotes 5 blueprints.");
        assert_eq!(entry, "## [1.0.0] - 2026-11-25\n\nPromotes 5 blueprints.\n");
    }

    #[test]
    fn an_edit_cannot_start_a_version_section() {
        let edited = "## [0.1.0] - 2026-11-25\n\n## Highlights\n# Big\n- line\n";
        assert_eq!(normalise_body(edited), "### Highlights\n### Big\n- line");
        let entry = entry_with_body(&Version::new(0, 1, 0), date(), edited);
        assert_eq!(entry.matches("## [").count(), 1, "{entry}");
        assert!(holds(&format!("# Changelog\r\n\n{entry}"), &entry));
        assert!(!holds("# Changelog\n", &entry));
    }

    #[test]
    fn names_cannot_become_markup() {
        let mut hostile = changes();
        hostile[0].name = "<script>@channel</script>".into();
        let entry = entry(&Version::new(0, 1, 0), date(), &hostile);
        assert!(!entry.contains("<script>"), "{entry}");
        assert!(!entry.contains("@channel"), "{entry}");
    }
}
