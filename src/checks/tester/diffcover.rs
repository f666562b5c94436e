//! Coverage of changed lines, by diff-cover's method: the lines a unified diff adds,
//! intersected with the lines the Cobertura report measured; the share of those that
//! were hit. Lines the report does not measure (blank lines, comments, files outside
//! the report) do not count either way. File names are matched when equal or when one
//! ends with the other at a `/` (diff paths are relative to the repository, report
//! paths to a `<source>` root).

use std::collections::{BTreeMap, BTreeSet};

use super::cobertura::Coverage;

/// Lines added per file (new-file line numbers), from `git diff` output.
pub fn added_lines(diff: &str) -> BTreeMap<String, BTreeSet<u32>> {
    let mut out: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
    let mut file: Option<String> = None;
    let (mut old_left, mut new_left, mut line) = (0u32, 0u32, 0u32);
    for text in diff.lines() {
        if old_left > 0 || new_left > 0 {
            match text.as_bytes().first() {
                Some(b'+') => {
                    if let Some(f) = &file {
                        out.entry(f.clone()).or_default().insert(line);
                    }
                    line += 1;
                    new_left = new_left.saturating_sub(1);
                }
                Some(b'-') => old_left = old_left.saturating_sub(1),
                Some(b'\\') => {}
                _ => {
                    // Context (a space, or an empty line where a tool trimmed it).
                    line += 1;
                    old_left = old_left.saturating_sub(1);
                    new_left = new_left.saturating_sub(1);
                }
            }
            continue;
        }
        if let Some(path) = text.strip_prefix("+++ ") {
            file = new_file_path(path);
        } else if let Some((old, new, start)) = hunk_header(text) {
            old_left = old;
            new_left = new;
            line = start;
        }
    }
    out
}

fn new_file_path(header: &str) -> Option<String> {
    let path = header.split('\t').next().unwrap_or(header).trim();
    let path = path.trim_matches('"');
    if path == "/dev/null" {
        return None;
    }
    Some(path.strip_prefix("b/").unwrap_or(path).to_owned())
}

/// `@@ -12,5 +14,7 @@ fn x` → (old count, new count, new start).
fn hunk_header(text: &str) -> Option<(u32, u32, u32)> {
    let rest = text.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let count = |range: &str| -> Option<(u32, u32)> {
        match range.split_once(',') {
            Some((start, count)) => Some((start.parse().ok()?, count.parse().ok()?)),
            None => Some((range.parse().ok()?, 1)),
        }
    };
    let (_, old_count) = count(old)?;
    let (new_start, new_count) = count(new)?;
    Some((old_count, new_count, new_start))
}

/// Changed-line coverage.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangedLineCoverage {
    /// Added lines the report measured.
    pub measured: usize,
    /// Of those, the ones hit.
    pub covered: usize,
    /// Measured added lines not hit, per file.
    pub missing: BTreeMap<String, Vec<u32>>,
}

impl ChangedLineCoverage {
    /// `None` when no changed line was measured.
    pub fn percent(&self) -> Option<f64> {
        (self.measured > 0).then(|| 100.0 * self.covered as f64 / self.measured as f64)
    }
}

fn same_file(diff_path: &str, report_path: &str) -> bool {
    let ends = |long: &str, short: &str| {
        long.len() > short.len()
            && long.ends_with(short)
            && long.as_bytes()[long.len() - short.len() - 1] == b'/'
    };
    diff_path == report_path || ends(diff_path, report_path) || ends(report_path, diff_path)
}

/// The coverage of the lines `diff` adds, as measured by `coverage`.
pub fn changed_line_coverage(coverage: &Coverage, diff: &str) -> ChangedLineCoverage {
    let mut out = ChangedLineCoverage::default();
    for (path, lines) in added_lines(diff) {
        let Some((_, hits)) = coverage
            .files
            .iter()
            .find(|(file, _)| same_file(&path, file))
        else {
            continue;
        };
        for line in lines {
            let Some(count) = hits.get(&line) else {
                continue;
            };
            out.measured += 1;
            if *count > 0 {
                out.covered += 1;
            } else {
                out.missing.entry(path.clone()).or_default().push(line);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DIFF: &str = "\
diff --git a/grants/api.py b/grants/api.py
index 3f2a9c1..8b1d2e4 100644
--- a/grants/api.py
+++ b/grants/api.py
@@ -1,3 +1,5 @@
 import frappe
+
+LIMIT = 1000
 
 def total(grant):
@@ -10,2 +12,3 @@ def total(grant):
     rows = frappe.get_all(\"Grant Line\")
-    return sum(rows)
+    amount = sum(r.amount for r in rows)
+    return amount
diff --git a/grants/new.py b/grants/new.py
new file mode 100644
--- /dev/null
+++ b/grants/new.py
@@ -0,0 +1,2 @@
+++counter = 0
+def f(): return 1
diff --git a/old.py b/old.py
deleted file mode 100644
--- a/old.py
+++ /dev/null
@@ -1 +0,0 @@
-x = 1
";

    #[test]
    fn added_lines_follow_hunk_counts() {
        let added = added_lines(DIFF);
        assert_eq!(added["grants/api.py"], [2, 3, 13, 14].into());
        // A line starting with +++ inside a hunk is an added line, not a header.
        assert_eq!(added["grants/new.py"], [1, 2].into());
        assert!(!added.contains_key("old.py"));
    }

    #[test]
    fn changed_lines_intersect_measured_lines() {
        let mut coverage = Coverage::default();
        coverage.files.insert(
            "apps/grants/grants/api.py".into(),
            [(1, 1), (3, 1), (12, 1), (13, 1), (14, 0)].into(),
        );
        let result = changed_line_coverage(&coverage, DIFF);
        // Line 2 is blank (not measured); 3 and 13 hit; 14 missed; new.py not in report.
        assert_eq!(result.measured, 3);
        assert_eq!(result.covered, 2);
        assert_eq!(result.missing["grants/api.py"], vec![14]);
        assert!((result.percent().unwrap() - 66.666).abs() < 0.01);
        let none = changed_line_coverage(&Coverage::default(), DIFF);
        assert_eq!(none.percent(), None);
    }

    #[test]
    fn file_matching_is_on_path_boundaries() {
        assert!(same_file("grants/api.py", "apps/grants/grants/api.py"));
        assert!(same_file("apps/x/api.py", "api.py"));
        assert!(!same_file("grants/myapi.py", "api.py"));
        assert!(same_file("a.py", "a.py"));
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_panic(text in "(\\PC{0,30}\n|@@ -[0-9]{1,3},[0-9]{1,2} \\+[0-9]{1,3},[0-9]{1,2} @@\n|\\+\\+\\+ b/x\n|[+ -]x\n){0,20}") {
            let _ = added_lines(&text);
        }
    }
}
