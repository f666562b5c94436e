//! JUnit XML as `bench run-tests --junit-xml-output` writes it (unittest-xml-reporting:
//! `<testsuites><testsuite tests= failures= errors= skipped=><testcase><failure>…`),
//! and as pytest and most other runners write it. Totals come from the `<testcase>`
//! elements; a report that has none but carries counts on `<testsuite>` is read from
//! those counts.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{attr, xml_error, ParseError};

/// The totals of a test run.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestTotals {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
    /// `classname.name` of the failed and errored tests, in report order.
    pub broken: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Error,
    Skipped,
}

struct Case {
    name: String,
    outcome: Outcome,
}

/// Counts from `<testsuite>` attributes, for reports without `<testcase>` elements.
#[derive(Default)]
struct SuiteCounts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

/// Reads a JUnit XML report.
pub fn parse_junit(bytes: &[u8]) -> Result<TestTotals, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| ParseError::NotUtf8(e.valid_up_to()))?;
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let mut reader = Reader::from_str(text);
    let mut totals = TestTotals::default();
    let mut suites = SuiteCounts::default();
    let mut stack: Vec<String> = Vec::new();
    let mut seen_root = false;
    let mut case: Option<Case> = None;
    loop {
        let event = reader.read_event().map_err(|e| xml_error(&reader, e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                seen_root = true;
                let name = local_name(e);
                if stack.is_empty() && name != "testsuites" && name != "testsuite" {
                    return Err(ParseError::WrongRoot {
                        expected: "<testsuites> or <testsuite>",
                        found: name,
                    });
                }
                let empty = matches!(event, Event::Empty(_));
                on_open(e, &name, &mut case, &mut suites)?;
                if name == "testcase" && empty {
                    finish(case.take(), &mut totals);
                }
                if !empty {
                    stack.push(name);
                }
            }
            Event::End(_) => {
                let closed = stack.pop();
                if closed.as_deref() == Some("testcase") {
                    finish(case.take(), &mut totals);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(ParseError::Truncated(open.clone()));
    }
    if !seen_root {
        return Err(ParseError::NoElement);
    }
    if totals.total == 0 && suites.tests > 0 {
        totals.total = suites.tests;
        totals.failed = suites.failures;
        totals.errors = suites.errors;
        totals.skipped = suites.skipped;
        totals.passed = suites
            .tests
            .saturating_sub(suites.failures + suites.errors + suites.skipped);
    }
    Ok(totals)
}

fn local_name(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
}

fn on_open(
    e: &BytesStart<'_>,
    name: &str,
    case: &mut Option<Case>,
    suites: &mut SuiteCounts,
) -> Result<(), ParseError> {
    match name {
        "testsuite" => {
            let count = |key: &str| -> Result<usize, ParseError> {
                match attr(e, key)? {
                    None => Ok(0),
                    Some(v) => v.trim().parse().map_err(|_| ParseError::BadNumber {
                        element: "testsuite",
                        attribute: key.to_owned(),
                        value: v,
                    }),
                }
            };
            suites.tests += count("tests")?;
            suites.failures += count("failures")?;
            suites.errors += count("errors")?;
            suites.skipped += count("skipped")?.max(count("skip")?);
        }
        "testcase" => {
            let test = attr(e, "name")?.unwrap_or_default();
            let class = attr(e, "classname")?.unwrap_or_default();
            let name = if class.is_empty() {
                test
            } else {
                format!("{class}.{test}")
            };
            *case = Some(Case {
                name,
                outcome: Outcome::Passed,
            });
        }
        "failure" | "error" | "skipped" => {
            if let Some(case) = case.as_mut().filter(|c| c.outcome == Outcome::Passed) {
                case.outcome = match name {
                    "failure" => Outcome::Failed,
                    "error" => Outcome::Error,
                    _ => Outcome::Skipped,
                };
            }
        }
        _ => {}
    }
    Ok(())
}

fn finish(case: Option<Case>, totals: &mut TestTotals) {
    let Some(case) = case else { return };
    totals.total += 1;
    match case.outcome {
        Outcome::Passed => totals.passed += 1,
        Outcome::Skipped => totals.skipped += 1,
        Outcome::Failed => {
            totals.failed += 1;
            totals.broken.push(case.name);
        }
        Outcome::Error => {
            totals.errors += 1;
            totals.broken.push(case.name);
        }
    }
}
