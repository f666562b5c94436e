//! The `review` report (PRODUCT.md §3): how many blueprints changed since what, the
//! reviewer's counts and its CRITICAL/HIGH/MEDIUM findings (LOW ones are counted, not
//! listed, as in the walkthrough), the tester's line, and a one-line recommendation.
//! Pure text; posting it is the caller's.

use crate::blueprint::Severity;

use super::plural;
use super::reviewer::{blocks, sort_findings, summary, ReviewFinding};
use super::tester::{TesterError, TesterResult};

/// Everything the review report shows.
#[derive(Clone, Debug)]
pub struct ReviewReport<'a> {
    /// Blueprints reviewed.
    pub changed: usize,
    /// The ref they changed since (`main` by default).
    pub since: &'a str,
    pub findings: &'a [ReviewFinding],
    /// Errors the external reviewer reported about itself.
    pub external_errors: &'a [String],
    /// `None` when no tester is configured.
    pub tester: Option<&'a Result<TesterResult, TesterError>>,
    pub coverage_min: u8,
}

/// How many findings of one severity are listed before "… and N more".
const LISTED: usize = 20;

impl ReviewReport<'_> {
    pub fn render(&self) -> String {
        let mut out = format!(
            "Review: {} since {}\n",
            plural(self.changed, "changed blueprint"),
            self.since
        );
        out.push_str(&format!("reviewer: {}\n", summary(self.findings)));
        let mut sorted = self.findings.to_vec();
        sort_findings(&mut sorted);
        let listed: Vec<&ReviewFinding> = sorted
            .iter()
            .filter(|f| f.severity != Severity::Low)
            .collect();
        for f in listed.iter().take(LISTED) {
            out.push_str(&format!("  {}\n", f.line()));
        }
        if listed.len() > LISTED {
            out.push_str(&format!("  … and {} more\n", listed.len() - LISTED));
        }
        for error in self.external_errors {
            out.push_str(&format!("  external reviewer error: {error}\n"));
        }
        out.push_str(&format!("tester:   {}\n", self.tester_line()));
        out.push_str(&format!("Recommendation: {}\n", self.recommendation()));
        out
    }

    fn tester_line(&self) -> String {
        match self.tester {
            None => "not configured (checks.tester)".to_owned(),
            Some(Ok(result)) => result.to_string(),
            Some(Err(error)) => format!("could not read the reports: {error}"),
        }
    }

    /// `✓ ready to promote.`, or what stands in the way.
    pub fn recommendation(&self) -> String {
        let mut blockers = Vec::new();
        if blocks(self.findings) {
            let [c, h, _, _] = super::reviewer::counts(self.findings);
            let parts: Vec<String> = [(c, "CRITICAL"), (h, "HIGH")]
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, label)| format!("{n} {label}"))
                .collect();
            let noun = if c + h == 1 { "finding" } else { "findings" };
            blockers.push(format!("fix {} {noun}", parts.join(" and ")));
        }
        match self.tester {
            Some(Ok(result)) => blockers.extend(result.problems(self.coverage_min)),
            Some(Err(_)) => blockers.push("make the test reports readable".to_owned()),
            None => {}
        }
        if !blockers.is_empty() {
            return format!("✗ not ready: {}.", blockers.join("; "));
        }
        let mut notes = Vec::new();
        if self.tester.is_none() {
            notes.push("no tests were run");
        }
        if !self.external_errors.is_empty() {
            notes.push("the external reviewer reported errors");
        }
        if notes.is_empty() {
            "✓ ready to promote.".to_owned()
        } else {
            format!("⚠ ready to promote, but {}.", notes.join(" and "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::reviewer::Location;
    use crate::checks::tester::{ChangedLineCoverage, CoverageFigure, TestTotals};

    fn finding(
        severity: Severity,
        path: &str,
        line: usize,
        message: &str,
        rule: &str,
    ) -> ReviewFinding {
        ReviewFinding {
            rule: rule.into(),
            severity,
            message: message.into(),
            location: Location {
                path: path.into(),
                line,
                field: "default".into(),
                code_line: None,
            },
            blueprint: None,
        }
    }

    fn walkthrough_findings() -> Vec<ReviewFinding> {
        let mut f = vec![finding(
            Severity::Medium,
            "custom_fields/grant-field_officer.json",
            5,
            "magic number 1000 in default",
            "magic-number-default",
        )];
        for i in 0..3 {
            f.push(finding(
                Severity::Low,
                "doctypes/grant.json",
                10 + i,
                "label style",
                "label-style",
            ));
        }
        f
    }

    fn passing_tests() -> Result<TesterResult, TesterError> {
        Ok(TesterResult {
            totals: TestTotals {
                total: 14,
                passed: 14,
                ..TestTotals::default()
            },
            coverage: CoverageFigure::ChangedLines(ChangedLineCoverage {
                measured: 100,
                covered: 87,
                ..ChangedLineCoverage::default()
            }),
        })
    }

    #[test]
    fn the_walkthrough_report() {
        let findings = walkthrough_findings();
        let tests = passing_tests();
        let report = ReviewReport {
            changed: 5,
            since: "main",
            findings: &findings,
            external_errors: &[],
            tester: Some(&tests),
            coverage_min: 80,
        };
        insta::assert_snapshot!(report.render());
    }

    #[test]
    fn blocking_findings_and_failing_tests() {
        let mut findings = walkthrough_findings();
        findings.push(ReviewFinding {
            location: Location {
                path: "server_scripts/grant_api.json".into(),
                line: 9,
                field: "script".into(),
                code_line: Some(4),
            },
            ..finding(
                Severity::Critical,
                "",
                0,
                "ignore_permissions set to True: the call skips every permission check",
                "ignore-permissions",
            )
        });
        let mut tests = passing_tests().unwrap();
        tests.totals.passed = 13;
        tests.totals.failed = 1;
        tests.totals.broken = vec!["grants.tests.TestGrant.test_limit".into()];
        let tests = Ok(tests);
        let errors = vec!["Invalid rule schema: missing 'pattern'".to_owned()];
        let report = ReviewReport {
            changed: 1,
            since: "v1.4.0",
            findings: &findings,
            external_errors: &errors,
            tester: Some(&tests),
            coverage_min: 90,
        };
        insta::assert_snapshot!(report.render());
    }

    #[test]
    fn no_tester_is_a_warning_not_a_pass() {
        let report = ReviewReport {
            changed: 2,
            since: "main",
            findings: &[],
            external_errors: &[],
            tester: None,
            coverage_min: 80,
        };
        assert_eq!(
            report.recommendation(),
            "⚠ ready to promote, but no tests were run."
        );
    }
}
