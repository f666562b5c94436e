//! The reviewer: a built-in rule engine over a promotion set's JSON and the code
//! embedded in it (Server/Client Script `script`, Report `query`/`report_script`,
//! Notification `condition`, transition `condition`, field `default`/`depends_on`),
//! the blueprint module's workflow validation, and optionally an external reviewer's
//! semgrep-style JSON ([`external`]). Every finding has a rule id, a severity, a
//! message and a [`Location`]: the file (relative to `fixtures/app/`) and the line of
//! the JSON key in the canonical file; for findings inside code, also the line within
//! the code, because a code field is a single JSON line. Pure: no process is run here.

pub mod code;
pub mod external;
pub mod lexer;
pub mod locate;
pub mod shape;

use std::collections::BTreeSet;
use std::fmt;

use serde_json::Value;

use crate::blueprint::layout::{Layout, REPO_ROOT};
use crate::blueprint::validate::validate_one;
use crate::blueprint::{Blueprint, BlueprintId, BlueprintSet, Kind, Severity, ValidationPolicy};

use super::{BoxId, BoxOutcome};
use lexer::Lang;
use locate::{line_of, Step};

/// Where a finding is: `server_scripts/grant_api.json:12 (script line 4)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Location {
    /// The blueprint's file, relative to `fixtures/app/`.
    pub path: String,
    /// 1-based line in the canonical file: the line of the key the finding is about.
    pub line: usize,
    /// The field, as a path: `script`, `transitions[2].condition`.
    pub field: String,
    /// For findings inside embedded code: the 1-based line within that code.
    pub code_line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path, self.line)?;
        if let Some(code_line) = self.code_line {
            write!(f, " ({} line {code_line})", self.field)?;
        }
        Ok(())
    }
}

/// One reviewer finding.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReviewFinding {
    /// Stable id: `ignore-permissions`, `workflow-no-initial-state`, `semgrep:<id>`.
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub location: Location,
    /// The blueprint, when the finding is about one (an external tool's may not be).
    pub blueprint: Option<BlueprintId>,
}

impl ReviewFinding {
    /// The report line: `MEDIUM  custom_fields/x.json:9  magic number 1000 in default  [magic-number-default]`.
    pub fn line(&self) -> String {
        format!(
            "{}  {}  {}  [{}]",
            self.severity.label(),
            self.location,
            self.message,
            self.rule
        )
    }

    fn sort_key(&self) -> (Severity, &Location, &str) {
        (self.severity, &self.location, &self.rule)
    }
}

/// Sorts findings most severe first, then by file and line.
pub fn sort_findings(findings: &mut [ReviewFinding]) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// The blueprints a review looks at, with their files. Paths come from the layout of
/// the whole set (names that share a slug get suffixed paths only in company), so
/// select from the full branch, not from a subset of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub blueprints: Vec<(BlueprintId, String)>,
}

impl Selection {
    pub fn len(&self) -> usize {
        self.blueprints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blueprints.is_empty()
    }
}

/// Chooses what `review [--since=<ref>] [--blueprint=<name>]` reviews: the blueprints
/// in `changed_paths` (paths of changed files, with or without the `fixtures/app/`
/// prefix; `None` for all), narrowed to those named `blueprint` when given. Naming a
/// blueprint that is not among them is an error that lists what is.
pub fn select(
    set: &BlueprintSet,
    changed_paths: Option<&[String]>,
    blueprint: Option<&str>,
) -> Result<Selection, String> {
    let layout = Layout::of(set);
    let wanted: Option<BTreeSet<&str>> =
        changed_paths.map(|paths| paths.iter().map(|p| relative_path(p)).collect());
    let changed: Vec<(BlueprintId, String)> = layout
        .iter()
        .filter(|(_, _, path)| wanted.as_ref().is_none_or(|w| w.contains(path)))
        .map(|(kind, name, path)| ((kind, name.to_owned()), path.to_owned()))
        .collect();
    let Some(name) = blueprint else {
        return Ok(Selection {
            blueprints: changed,
        });
    };
    let exact: Vec<_> = changed
        .iter()
        .filter(|((_, n), _)| n == name)
        .cloned()
        .collect();
    let chosen = if exact.is_empty() {
        changed
            .iter()
            .filter(|((_, n), _)| n.eq_ignore_ascii_case(name))
            .cloned()
            .collect()
    } else {
        exact
    };
    if chosen.is_empty() {
        let names: Vec<String> = changed
            .iter()
            .take(10)
            .map(|((_, n), _)| format!("{n:?}"))
            .collect();
        let more = changed.len().saturating_sub(names.len());
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        return Err(if changed.is_empty() {
            format!("no blueprint named {name:?}: nothing changed")
        } else {
            format!(
                "no changed blueprint named {name:?}; changed: {}{tail}",
                names.join(", ")
            )
        });
    }
    Ok(Selection { blueprints: chosen })
}

/// Reviews the selected blueprints of `set`; findings sorted most severe first.
pub fn review_selection(set: &BlueprintSet, selection: &Selection) -> Vec<ReviewFinding> {
    let mut findings: Vec<ReviewFinding> = selection
        .blueprints
        .iter()
        .filter_map(|((kind, name), path)| Some(review_blueprint(set.get(*kind, name)?, path)))
        .flatten()
        .collect();
    sort_findings(&mut findings);
    findings
}

/// Reviews `set`. With `changed_paths` (paths of changed files, with or without the
/// `fixtures/app/` prefix) only the blueprints in those files are reviewed.
pub fn review(set: &BlueprintSet, changed_paths: Option<&[String]>) -> Vec<ReviewFinding> {
    match select(set, changed_paths, None) {
        Ok(selection) => review_selection(set, &selection),
        Err(_) => Vec::new(), // without a name to look for, selecting cannot fail
    }
}

/// One piece of embedded code written out as a file for an external reviewer, and
/// where it lives in its blueprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeFile {
    /// `server_scripts/grant_api.json.script.py`: the blueprint's path, the field, and
    /// the extension of the code's language.
    pub path: String,
    pub code: String,
    pub blueprint: BlueprintId,
    /// The field's line in the canonical file (`code_line` left empty).
    pub location: Location,
}

/// The embedded code of the selected blueprints, one file per field, for an external
/// reviewer (semgrep reads `.py`/`.js`/`.sql` files, not code inside JSON).
pub fn code_files(set: &BlueprintSet, selection: &Selection) -> Vec<CodeFile> {
    let mut files = Vec::new();
    for ((kind, name), path) in &selection.blueprints {
        let Some(bp) = set.get(*kind, name) else {
            continue;
        };
        for site in code_sites(bp) {
            let Some(Value::String(text)) = value_at(&bp.body, &site.steps) else {
                continue;
            };
            let field = field_label(&site.steps);
            let ext = match site.lang {
                Lang::Python => "py",
                Lang::JavaScript => "js",
                Lang::Sql => "sql",
            };
            let stem: String = field
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            files.push(CodeFile {
                path: format!("{path}.{}.{ext}", stem.trim_matches('-')),
                code: text.strip_prefix("eval:").unwrap_or(text).to_owned(),
                blueprint: bp.id(),
                location: Location {
                    path: path.clone(),
                    line: line_of(&bp.body, &site.steps).unwrap_or(1),
                    field,
                    code_line: None,
                },
            });
        }
    }
    files
}

/// A repo path relative to `fixtures/app/`.
pub fn relative_path(path: &str) -> &str {
    let path = path.trim_start_matches("./");
    path.strip_prefix(REPO_ROOT)
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or(path)
}

/// Every finding for one blueprint living at `path`.
pub fn review_blueprint(bp: &Blueprint, path: &str) -> Vec<ReviewFinding> {
    let mut out = Out {
        bp,
        path,
        found: Vec::new(),
    };
    for site in code_sites(bp) {
        let Some(Value::String(text)) = value_at(&bp.body, &site.steps) else {
            continue;
        };
        let code = text.strip_prefix("eval:").unwrap_or(text);
        for hit in code::scan(code, site.lang, site.api_script) {
            out.push_at(
                &site.steps,
                hit.rule,
                hit.severity,
                hit.message,
                Some(hit.line),
            );
        }
    }
    shape::check(&mut out);
    workflow_validation(&mut out);
    out.found
}

/// Collects findings for one blueprint, locating each.
pub struct Out<'a> {
    pub bp: &'a Blueprint,
    pub path: &'a str,
    pub found: Vec<ReviewFinding>,
}

impl Out<'_> {
    /// Adds a finding about the value at `steps` (or the nearest existing parent).
    pub fn push_at(
        &mut self,
        steps: &[Step<'_>],
        rule: &str,
        severity: Severity,
        message: String,
        code_line: Option<usize>,
    ) {
        let line = (0..=steps.len())
            .rev()
            .find_map(|n| line_of(&self.bp.body, &steps[..n]))
            .unwrap_or(1);
        self.found.push(ReviewFinding {
            rule: rule.to_owned(),
            severity,
            message,
            location: Location {
                path: self.path.to_owned(),
                line,
                field: field_label(steps),
                code_line,
            },
            blueprint: Some(self.bp.id()),
        });
    }
}

/// `transitions[2].condition`.
pub fn field_label(steps: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

pub fn value_at<'v>(root: &'v Value, steps: &[Step<'_>]) -> Option<&'v Value> {
    steps.iter().try_fold(root, |v, step| match step {
        Step::Key(k) => v.get(*k),
        Step::Index(i) => v.get(*i),
    })
}

/// A field holding code, and its language.
struct CodeSite {
    steps: Vec<Step<'static>>,
    lang: Lang,
    api_script: bool,
}

const DEPENDS_ON: [&str; 3] = ["depends_on", "mandatory_depends_on", "read_only_depends_on"];

fn code_sites(bp: &Blueprint) -> Vec<CodeSite> {
    let top = |key: &'static str, lang: Lang, api_script: bool| CodeSite {
        steps: vec![Step::Key(key)],
        lang,
        api_script,
    };
    let rows = |table: &'static str, keys: &[&'static str], lang: Lang| -> Vec<CodeSite> {
        let count = bp
            .body
            .get(table)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        (0..count)
            .flat_map(|i| {
                keys.iter().map(move |k| CodeSite {
                    steps: vec![Step::Key(table), Step::Index(i), Step::Key(k)],
                    lang,
                    api_script: false,
                })
            })
            .collect()
    };
    match bp.kind {
        Kind::ServerScript => {
            let api = bp.body.get("script_type").and_then(Value::as_str) == Some("API");
            vec![top("script", Lang::Python, api)]
        }
        Kind::ClientScript => vec![top("script", Lang::JavaScript, false)],
        Kind::Report => vec![
            top("query", Lang::Sql, false),
            top("report_script", Lang::Python, false),
            top("javascript", Lang::JavaScript, false),
        ],
        Kind::Notification => vec![top("condition", Lang::Python, false)],
        Kind::Workflow => rows("transitions", &["condition"], Lang::Python),
        Kind::CustomField => DEPENDS_ON
            .iter()
            .map(|k| top(k, Lang::JavaScript, false))
            .collect(),
        Kind::DocType => rows("fields", &DEPENDS_ON, Lang::JavaScript),
        _ => Vec::new(),
    }
}

/// The blueprint module's workflow findings, at their own severity.
fn workflow_validation(out: &mut Out<'_>) {
    if out.bp.kind != Kind::Workflow {
        return;
    }
    for finding in validate_one(out.bp, &ValidationPolicy::default()) {
        if !finding.rule.starts_with("workflow-") {
            continue;
        }
        let key = if finding.rule.contains("transition") {
            "transitions"
        } else {
            "states"
        };
        out.push_at(
            &[Step::Key(key)],
            finding.rule,
            finding.severity,
            finding.message,
            None,
        );
    }
}

/// Counts per severity: `[critical, high, medium, low]`.
pub fn counts(findings: &[ReviewFinding]) -> [usize; 4] {
    let mut counts = [0; 4];
    for f in findings {
        counts[f.severity as usize] += 1;
    }
    counts
}

/// `0 CRITICAL, 0 HIGH, 1 MEDIUM, 3 LOW`.
pub fn summary(findings: &[ReviewFinding]) -> String {
    let [c, h, m, l] = counts(findings);
    format!("{c} CRITICAL, {h} HIGH, {m} MEDIUM, {l} LOW")
}

/// Whether any finding blocks a promotion (CRITICAL or HIGH).
pub fn blocks(findings: &[ReviewFinding]) -> bool {
    findings
        .iter()
        .any(|f| matches!(f.severity, Severity::Critical | Severity::High))
}

/// The reviewer box: fails on any CRITICAL or HIGH finding, naming the first.
pub fn reviewer_box(findings: &[ReviewFinding]) -> BoxOutcome {
    let summary = summary(findings);
    if !blocks(findings) {
        return BoxOutcome::pass(BoxId::Reviewer, summary);
    }
    let mut sorted = findings.to_vec();
    sort_findings(&mut sorted);
    let blocking: Vec<String> = sorted
        .iter()
        .filter(|f| matches!(f.severity, Severity::Critical | Severity::High))
        .map(ReviewFinding::line)
        .collect();
    BoxOutcome::fail(
        BoxId::Reviewer,
        format!("{summary}; first: {}", blocking[0]),
    )
    .with_more(crate::checks::cap_lines(blocking))
}

#[cfg(test)]
mod tests;
