//! Plain-text rendering of a [`Drift`] in the shape of PRODUCT.md §3
//! (`age = Int (no constraint)` vs `age = Int (non_negative=1)`), kept short for huge
//! differences: the first N entries, then "… and M more". Text only: Slack Block Kit
//! wrapping belongs to `slack::render`.

use std::fmt::Write;

use serde_json::Value;

use super::diff::{Change, Detail, Drift};
use super::kinds::Kind;

/// Labels and limits for [`Drift::render`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Shown as `site=<site>`, e.g. the site URL.
    pub site: String,
    /// Shown as `config-repo=<git>`, e.g. `staging@3f2a9c1`.
    pub git: String,
    /// Blueprints listed per section before "… and M more".
    pub max_blueprints: usize,
    /// Differences listed per changed blueprint before "… and M more".
    pub max_details: usize,
}

impl RenderOptions {
    pub fn new(site: impl Into<String>, git: impl Into<String>) -> Self {
        RenderOptions {
            site: site.into(),
            git: git.into(),
            max_blueprints: 20,
            max_details: 5,
        }
    }
}

/// Longest value shown inline before it is cut with "…".
const MAX_VALUE_CHARS: usize = 60;
/// Row keys shown for a reordered table before it is cut with "…".
const MAX_ORDER_KEYS: usize = 8;

impl Drift {
    pub fn render(&self, options: &RenderOptions) -> String {
        let mut out = format!(
            "Diff: site={}  vs  config-repo={}\n",
            options.site, options.git
        );
        render_ids(
            &mut out,
            "only_on_site",
            &self.only_on_site,
            options.max_blueprints,
        );
        render_ids(
            &mut out,
            "only_in_git",
            &self.only_in_git,
            options.max_blueprints,
        );
        let _ = writeln!(out, "  {:<17}{}", "changed:", self.changed.len());
        for change in self.changed.iter().take(options.max_blueprints) {
            render_change(&mut out, change, options.max_details);
        }
        more(&mut out, "    ", self.changed.len(), options.max_blueprints);
        match self.len() {
            0 => out.push_str("Summary: clean. Ready to promote.\n"),
            1 => out.push_str("Summary: 1 difference. Resolve before promote.\n"),
            n => {
                let _ = writeln!(out, "Summary: {n} differences. Resolve before promote.");
            }
        }
        out
    }
}

/// `1 blueprint` / `2 blueprints`: every count shown to people reads right.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else if let Some(stem) = noun.strip_suffix('y').filter(|stem| {
        // family → families, but day → days
        !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    }) {
        format!("{count} {stem}ies")
    } else {
        format!("{count} {noun}s")
    }
}

/// `DocType "Quick Test"`.
pub fn blueprint_label(kind: Kind, name: &str) -> String {
    format!("{kind} {name:?}")
}

fn render_ids(out: &mut String, title: &str, ids: &[(Kind, String)], max: usize) {
    let _ = writeln!(out, "  {:<17}{}", format!("{title}:"), ids.len());
    for (kind, name) in ids.iter().take(max) {
        let _ = writeln!(out, "    - {}", blueprint_label(*kind, name));
    }
    more(out, "    ", ids.len(), max);
}

fn more(out: &mut String, indent: &str, total: usize, shown: usize) {
    if total > shown {
        let _ = writeln!(out, "{indent}… and {} more", total - shown);
    }
}

fn render_change(out: &mut String, change: &Change, max_details: usize) {
    let count = change.details.len();
    let what = if count == 1 {
        "field differs"
    } else {
        "fields differ"
    };
    let _ = writeln!(
        out,
        "    - {}  ({count} {what})",
        blueprint_label(change.kind, &change.name)
    );
    for detail in change.details.iter().take(max_details) {
        let (site, git) = detail_lines(change.kind, detail);
        let _ = writeln!(out, "        site:  {site}");
        let _ = writeln!(out, "        git:   {git}");
    }
    more(out, "        ", count, max_details);
}

/// The `site:` and `git:` lines of one difference.
pub fn detail_lines(kind: Kind, detail: &Detail) -> (String, String) {
    match detail {
        Detail::Field { field, site, git } => (
            field_line(field, site.as_ref()),
            field_line(field, git.as_ref()),
        ),
        Detail::Row {
            table,
            key,
            site,
            git,
            fields,
        } => {
            let spec = kind.child_table(table);
            let headline = spec.and_then(|t| t.headline);
            let key_fields = spec.map(|t| t.key).unwrap_or(&[]);
            let line = |row: Option<&Value>| match row {
                Some(row) => row_line(table, key, row, headline, key_fields, fields),
                None => format!("{} (no row)", row_label(table, key)),
            };
            (line(site.as_ref()), line(git.as_ref()))
        }
        Detail::Reordered { table, site, git } => (order_line(table, site), order_line(table, git)),
    }
}

fn field_line(field: &str, value: Option<&Value>) -> String {
    match value {
        Some(value) => format!("{field} = {}", short_value(value)),
        None => format!("{field} (not set)"),
    }
}

/// DocType fields are known by their fieldname alone; other rows name their table.
fn row_label(table: &str, key: &str) -> String {
    if table == "fields" {
        key.to_owned()
    } else {
        format!("{table}: {key}")
    }
}

/// Differing fields shown per row line before "…".
const MAX_ROW_FIELDS: usize = 4;

/// `age = Int (non_negative=1)`: the key, the table's headline field, then the other
/// differing fields this side sets. Unset, `0` and `""` are all "no constraint".
fn row_line(
    table: &str,
    key: &str,
    row: &Value,
    headline: Option<&str>,
    key_fields: &[&str],
    fields: &[String],
) -> String {
    let mut line = row_label(table, key);
    if let Some(head) = headline.and_then(|h| row.get(h)) {
        let _ = write!(line, " = {}", short_value(head));
    }
    let shown: Vec<&str> = fields
        .iter()
        .map(String::as_str)
        .filter(|f| Some(*f) != headline && !key_fields.contains(f))
        .collect();
    if shown.is_empty() {
        return line;
    }
    let mut set: Vec<String> = shown
        .iter()
        .filter_map(|f| {
            row.get(*f)
                .filter(|v| is_set(v))
                .map(|v| format!("{f}={}", short_value(v)))
        })
        .collect();
    if set.len() > MAX_ROW_FIELDS {
        set.truncate(MAX_ROW_FIELDS);
        set.push("…".to_owned());
    }
    if set.is_empty() {
        line.push_str(" (no constraint)");
    } else {
        let _ = write!(line, " ({})", set.join(", "));
    }
    line
}

fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn order_line(table: &str, keys: &[String]) -> String {
    let mut shown: Vec<&str> = keys
        .iter()
        .take(MAX_ORDER_KEYS)
        .map(String::as_str)
        .collect();
    if keys.len() > MAX_ORDER_KEYS {
        shown.push("…");
    }
    format!("{table} order: {}", shown.join(", "))
}

/// A value on one line: strings bare, multi-line text as its first line and a line
/// count, anything long cut at 60 characters.
pub fn short_value(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let lines = s.lines().count();
            let first = s.lines().next().unwrap_or("");
            let cut = cut(first);
            if lines > 1 {
                format!("{cut} … ({lines} lines)")
            } else {
                cut
            }
        }
        other => cut(&other.to_string()),
    }
}

fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::canonical::{canonicalize, BlueprintSet};
    use crate::blueprint::diff::diff;
    use serde_json::json;

    fn set(docs: &[Value]) -> BlueprintSet {
        docs.iter().map(|d| canonicalize(d).unwrap()).collect()
    }

    #[test]
    fn renders_the_product_example() {
        let fields =
            |age: Value| json!({"doctype": "DocType", "name": "Beneficiary", "fields": [age]});
        let site = set(&[
            fields(json!({"fieldname": "age", "fieldtype": "Int", "non_negative": 0})),
            json!({"doctype": "DocType", "name": "Quick Test"}),
        ]);
        let git = set(&[fields(
            json!({"fieldname": "age", "fieldtype": "Int", "non_negative": 1}),
        )]);
        let text = diff(&site, &git).render(&RenderOptions::new(
            "https://staging.example.com",
            "staging@3f2a9c1",
        ));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn huge_differences_are_cut() {
        let site = set(&(0..30)
            .map(|i| json!({"doctype": "Role", "name": format!("R{i:02}")}))
            .collect::<Vec<_>>());
        let many: Vec<Value> = (0..9)
            .map(|i| json!({"fieldname": format!("f{i}"), "fieldtype": "Data"}))
            .collect();
        let git = set(&[
            json!({"doctype": "DocType", "name": "Big", "fields": many, "description": "x".repeat(100)}),
        ]);
        let site_big = set(&[
            json!({"doctype": "DocType", "name": "Big", "description": "line one\nline two"}),
        ]);
        let mut options = RenderOptions::new("s", "g");
        options.max_blueprints = 3;
        options.max_details = 2;
        let mut both = site;
        both.extend(site_big);
        insta::assert_snapshot!(diff(&both, &git).render(&options));
    }

    #[test]
    fn short_values() {
        assert_eq!(short_value(&json!("a\nb\nc")), "a … (3 lines)");
        assert_eq!(short_value(&json!(1)), "1");
        assert_eq!(short_value(&json!("y".repeat(70))).chars().count(), 60);
    }
}
