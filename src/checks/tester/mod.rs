//! The tester box: a configured command (run by the caller through the runner) leaves a
//! JUnit XML report and optionally a Cobertura XML report; this module reads them,
//! measures coverage on changed lines when a diff is given (else over the whole report)
//! and decides the box against `checks.coverage_min`. A report that cannot be read
//! fails the box with what is wrong with it — never a panic.

pub mod cobertura;
pub mod diffcover;
pub mod junit;

use std::fmt;

use quick_xml::events::BytesStart;
use quick_xml::Reader;

pub use cobertura::{parse_cobertura, Coverage};
pub use diffcover::{added_lines, changed_line_coverage, ChangedLineCoverage};
pub use junit::{parse_junit, TestTotals};

use super::{BoxId, BoxOutcome};

/// Why a report could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not UTF-8 text (bad byte at offset {0})")]
    NotUtf8(usize),
    #[error("malformed XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("no XML element in the file (the command printed text instead of writing a report?)")]
    NoElement,
    #[error("the file ends before <{0}> is closed (truncated?)")]
    Truncated(String),
    #[error("the root element is <{found}>, expected {expected}")]
    WrongRoot {
        expected: &'static str,
        found: String,
    },
    #[error("<{element}> has no {attribute}=\"…\"")]
    Missing {
        element: &'static str,
        attribute: &'static str,
    },
    #[error("<{element} {attribute}=\"{value}\"> is not a number")]
    BadNumber {
        element: &'static str,
        attribute: String,
        value: String,
    },
}

pub(crate) fn xml_error(reader: &Reader<&[u8]>, error: quick_xml::Error) -> ParseError {
    ParseError::Xml {
        position: reader.error_position(),
        message: error.to_string(),
    }
}

/// An attribute's unescaped value.
pub(crate) fn attr(e: &BytesStart<'_>, key: &str) -> Result<Option<String>, ParseError> {
    let bad = |message: String| ParseError::Xml {
        position: 0,
        message,
    };
    match e.try_get_attribute(key) {
        Ok(None) => Ok(None),
        Ok(Some(a)) => a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map(|v| Some(v.into_owned()))
            .map_err(|err| bad(format!("attribute {key}: {err}"))),
        Err(err) => Err(bad(format!(
            "attributes of <{}>: {err}",
            String::from_utf8_lossy(e.name().as_ref())
        ))),
    }
}

/// What coverage figure the box judges.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CoverageFigure {
    /// Changed-line coverage (a diff command is configured).
    ChangedLines(ChangedLineCoverage),
    /// Whole-report coverage (no diff command); `None` when the report measured nothing.
    Overall(Option<f64>),
    /// No Cobertura report is configured.
    NotMeasured,
}

/// The tester's result, ready for the box and the review report.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TesterResult {
    pub totals: TestTotals,
    pub coverage: CoverageFigure,
}

/// Which report could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TesterError {
    #[error("JUnit report {path}: {error}")]
    JUnit { path: String, error: ParseError },
    #[error("Cobertura report {path}: {error}")]
    Cobertura { path: String, error: ParseError },
}

/// The reports of one test run, as read back from the bench host.
#[derive(Clone, Copy, Debug)]
pub struct Reports<'a> {
    pub junit_path: &'a str,
    pub junit: &'a [u8],
    /// `(path, bytes)` of the Cobertura report, when configured.
    pub cobertura: Option<(&'a str, &'a [u8])>,
    /// The diff command's output, when configured.
    pub diff: Option<&'a str>,
}

/// Reads the reports and measures coverage.
pub fn evaluate(reports: Reports<'_>) -> Result<TesterResult, TesterError> {
    let totals = parse_junit(reports.junit).map_err(|error| TesterError::JUnit {
        path: reports.junit_path.to_owned(),
        error,
    })?;
    let coverage = match reports.cobertura {
        None => CoverageFigure::NotMeasured,
        Some((path, bytes)) => {
            let report = parse_cobertura(bytes).map_err(|error| TesterError::Cobertura {
                path: path.to_owned(),
                error,
            })?;
            match reports.diff {
                Some(diff) => CoverageFigure::ChangedLines(changed_line_coverage(&report, diff)),
                None => CoverageFigure::Overall(report.overall_percent()),
            }
        }
    };
    Ok(TesterResult { totals, coverage })
}

/// Whole percent, rounded down so a shown figure never passes a threshold it misses.
fn percent(p: f64) -> String {
    format!("{}%", p.floor() as i64)
}

impl TesterResult {
    /// `14/14 tests pass`, `12/14 tests pass (1 failed, 1 error)`.
    pub fn tests_line(&self) -> String {
        let t = &self.totals;
        let mut line = format!("{}/{} tests pass", t.passed, t.total);
        let mut notes = Vec::new();
        if t.failed > 0 {
            notes.push(format!("{} failed", t.failed));
        }
        if t.errors > 0 {
            notes.push(format!(
                "{} {}",
                t.errors,
                if t.errors == 1 { "error" } else { "errors" }
            ));
        }
        if t.skipped > 0 {
            notes.push(format!("{} skipped", t.skipped));
        }
        if !notes.is_empty() {
            line.push_str(&format!(" ({})", notes.join(", ")));
        }
        line
    }

    /// `87% coverage on changed lines`, `74% coverage overall`.
    pub fn coverage_line(&self) -> String {
        match &self.coverage {
            CoverageFigure::ChangedLines(c) => match c.percent() {
                Some(p) => format!("{} coverage on changed lines", percent(p)),
                None => "no changed lines measured".to_owned(),
            },
            CoverageFigure::Overall(Some(p)) => format!("{} coverage overall", percent(*p)),
            CoverageFigure::Overall(None) => "the coverage report measured no lines".to_owned(),
            CoverageFigure::NotMeasured => "coverage not measured".to_owned(),
        }
    }

    /// The coverage percent judged against the minimum, if there is one.
    pub fn judged_percent(&self) -> Option<f64> {
        match &self.coverage {
            CoverageFigure::ChangedLines(c) => c.percent(),
            CoverageFigure::Overall(p) => *p,
            CoverageFigure::NotMeasured => None,
        }
    }

    /// What keeps this run from passing, if anything.
    pub fn problems(&self, coverage_min: u8) -> Vec<String> {
        let t = &self.totals;
        let mut problems = Vec::new();
        if t.total == 0 {
            problems.push(
                "no tests ran (is allow_tests set on the site, and does the app have tests?)"
                    .to_owned(),
            );
        }
        if t.failed + t.errors > 0 {
            let shown: Vec<&str> = t.broken.iter().take(3).map(String::as_str).collect();
            let more = t.broken.len().saturating_sub(shown.len());
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            problems.push(format!("failing: {}{tail}", shown.join(", ")));
        }
        if let Some(p) = self.judged_percent() {
            if p < f64::from(coverage_min) {
                problems.push(format!("coverage {} is below {coverage_min}%", percent(p)));
            }
        }
        problems
    }
}

impl fmt::Display for TesterResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}", self.tests_line(), self.coverage_line())
    }
}

/// The tester box from the evaluated reports (or why they could not be read).
pub fn tester_box(result: &Result<TesterResult, TesterError>, coverage_min: u8) -> BoxOutcome {
    let result = match result {
        Ok(result) => result,
        Err(error) => return BoxOutcome::fail(BoxId::Tester, error.to_string()),
    };
    let problems = result.problems(coverage_min);
    if !problems.is_empty() {
        return BoxOutcome::fail(
            BoxId::Tester,
            format!("{}; {}", result, problems.join("; ")),
        );
    }
    if result.coverage == CoverageFigure::NotMeasured {
        // A minimum that nothing measures is not met: say how to measure it.
        if coverage_min > 0 {
            return BoxOutcome::fail(
                BoxId::Tester,
                format!(
                    "{result}, but no coverage report was read and checks.coverage_min is {coverage_min}%: set checks.tester.cobertura_path (or coverage_min = 0)"
                ),
            );
        }
        return BoxOutcome::warn(
            BoxId::Tester,
            format!("{result} (set checks.tester.cobertura_path)"),
        );
    }
    BoxOutcome::pass(BoxId::Tester, result.to_string())
}

#[cfg(test)]
mod tests;
