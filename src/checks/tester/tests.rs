//! Tester tests on realistic reports (tests/data/checks): what `bench run-tests
//! --junit-xml-output` (unittest-xml-reporting) and coverage.py write, pytest's JUnit,
//! and broken files, which must fail the box with a reason, never panic.

use super::*;
use crate::checks::BoxStatus;
use proptest::prelude::*;

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/checks/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_passing_bench_run() {
    let totals = parse_junit(&data("junit_run_tests_pass.xml")).unwrap();
    assert_eq!(
        (
            totals.total,
            totals.passed,
            totals.failed,
            totals.errors,
            totals.skipped
        ),
        (5, 5, 0, 0, 0)
    );
    assert!(totals.broken.is_empty());
}

#[test]
fn failures_errors_and_skips_are_told_apart() {
    let totals = parse_junit(&data("junit_run_tests_failures.xml")).unwrap();
    assert_eq!(
        (
            totals.total,
            totals.passed,
            totals.failed,
            totals.errors,
            totals.skipped
        ),
        (4, 1, 1, 1, 1)
    );
    assert_eq!(
        totals.broken,
        vec![
            "grants.grants.doctype.grant.test_grant.TestGrant.test_amount_must_be_positive",
            "grants.grants.doctype.grant.test_grant.TestGrant.test_approval_sets_approver",
        ]
    );
}

#[test]
fn pytest_junit_with_escapes() {
    let totals = parse_junit(&data("junit_pytest.xml")).unwrap();
    assert_eq!((totals.total, totals.passed, totals.failed), (2, 1, 1));
    assert_eq!(totals.broken, vec!["tests.test_api.test_limit"]);
}

#[test]
fn suite_counts_stand_in_when_there_are_no_testcases() {
    let totals = parse_junit(&data("junit_counts_only.xml")).unwrap();
    assert_eq!((totals.total, totals.passed, totals.skipped), (14, 12, 2));
}

#[test]
fn malformed_junit_is_a_clear_error() {
    let truncated = parse_junit(&data("junit_truncated.xml")).unwrap_err();
    assert!(
        matches!(truncated, ParseError::Truncated(_) | ParseError::Xml { .. }),
        "{truncated}"
    );
    let mismatched = parse_junit(&data("junit_mismatched.xml")).unwrap_err();
    assert!(matches!(mismatched, ParseError::Xml { .. }), "{mismatched}");
    assert!(
        mismatched.to_string().starts_with("malformed XML at byte"),
        "{mismatched}"
    );
    assert_eq!(
        parse_junit(&data("empty.xml")).unwrap_err(),
        ParseError::Empty
    );
    assert_eq!(
        parse_junit(&data("coverage_py.xml")).unwrap_err(),
        ParseError::WrongRoot {
            expected: "<testsuites> or <testsuite>",
            found: "coverage".into()
        }
    );
    assert_eq!(
        parse_junit(b"\xff\xfe<").unwrap_err(),
        ParseError::NotUtf8(0)
    );
    let bad = parse_junit(b"<testsuite tests=\"many\"></testsuite>").unwrap_err();
    assert_eq!(
        bad.to_string(),
        "<testsuite tests=\"many\"> is not a number"
    );
    assert!(parse_junit(b"Testing is disabled for the site!").is_err());
}

#[test]
fn coverage_py_cobertura() {
    let coverage = parse_cobertura(&data("coverage_py.xml")).unwrap();
    assert_eq!(
        coverage.sources,
        vec!["/home/frappe/frappe-bench/apps/grants"]
    );
    assert_eq!(coverage.line_rate, Some(0.75));
    assert_eq!(coverage.files.len(), 2);
    // Method-level lines are not counted twice.
    assert_eq!(coverage.files["grants/grants/api.py"].len(), 4);
    assert_eq!(coverage.overall_percent(), Some(75.0));
    let empty_class = parse_cobertura(b"<coverage><packages><package><classes><class filename=\"e.py\"/><class filename=\"a.py\"><lines><line number=\"1\" hits=\"0\"/></lines></class><class filename=\"a.py\"><lines><line number=\"1\" hits=\"2\"/><line number=\"2\" hits=\"0\"/></lines></class></classes></package></packages></coverage>").unwrap();
    assert_eq!(empty_class.files["e.py"].len(), 0);
    // One file split over two classes is merged, a line hit in either counts as hit.
    assert_eq!(empty_class.files["a.py"], [(1, 2), (2, 0)].into());
}

#[test]
fn malformed_cobertura_is_a_clear_error() {
    assert_eq!(
        parse_cobertura(&data("coverage_wrong_root.xml")).unwrap_err(),
        ParseError::WrongRoot {
            expected: "<coverage>",
            found: "report".into()
        }
    );
    let e = parse_cobertura(b"<coverage><packages><package><classes><class name=\"x\"></class></classes></package></packages></coverage>")
        .unwrap_err();
    assert_eq!(e.to_string(), "<class> has no filename=\"…\"");
    let e = parse_cobertura(b"<coverage><packages><package><classes><class filename=\"a.py\"><lines><line number=\"x\" hits=\"1\"/></lines></class></classes></package></packages></coverage>")
        .unwrap_err();
    assert_eq!(e.to_string(), "<line number=\"x\"> is not a number");
    assert!(matches!(
        parse_cobertura(b"<coverage><packages>").unwrap_err(),
        ParseError::Truncated(_)
    ));
}

#[test]
fn changed_lines_from_a_real_diff() {
    let coverage = parse_cobertura(&data("coverage_py.xml")).unwrap();
    let diff = String::from_utf8(data("grants.diff")).unwrap();
    let changed = changed_line_coverage(&coverage, &diff);
    assert_eq!((changed.measured, changed.covered), (3, 2));
    assert_eq!(
        changed.missing["grants/grants/doctype/grant/grant.py"],
        vec![7]
    );
}

fn reports<'a>(junit: &'a [u8], cobertura: Option<&'a [u8]>, diff: Option<&'a str>) -> Reports<'a> {
    Reports {
        junit_path: "junit.xml",
        junit,
        cobertura: cobertura.map(|c| ("sites/coverage.xml", c)),
        diff,
    }
}

#[test]
fn the_box() {
    let pass = data("junit_run_tests_pass.xml");
    let fail = data("junit_run_tests_failures.xml");
    let cov = data("coverage_py.xml");
    let diff = String::from_utf8(data("grants.diff")).unwrap();

    let overall = evaluate(reports(&pass, Some(&cov), None));
    let out = tester_box(&overall, 70);
    assert_eq!(
        (out.status, out.detail.as_str()),
        (BoxStatus::Pass, "5/5 tests pass, 75% coverage overall")
    );
    let out = tester_box(&overall, 80);
    assert_eq!(out.status, BoxStatus::Fail);
    assert_eq!(
        out.detail,
        "5/5 tests pass, 75% coverage overall; coverage 75% is below 80%"
    );

    let changed = evaluate(reports(&pass, Some(&cov), Some(&diff)));
    assert_eq!(
        tester_box(&changed, 60).detail,
        "5/5 tests pass, 66% coverage on changed lines"
    );

    let failing = evaluate(reports(&fail, Some(&cov), None));
    let out = tester_box(&failing, 0);
    assert_eq!(out.status, BoxStatus::Fail);
    assert!(
        out.detail.starts_with(
            "1/4 tests pass (1 failed, 1 error, 1 skipped), 75% coverage overall; failing: grants"
        ),
        "{}",
        out.detail
    );

    // A minimum nothing measures is not met (issue 9): it fails, saying how to fix it.
    let unmeasured = evaluate(reports(&pass, None, None));
    let out = tester_box(&unmeasured, 80);
    assert_eq!(out.status, BoxStatus::Fail);
    assert_eq!(
        out.detail,
        "5/5 tests pass, coverage not measured, but no coverage report was read and checks.coverage_min is 80%: set checks.tester.cobertura_path (or coverage_min = 0)"
    );
    let out = tester_box(&unmeasured, 0);
    assert_eq!(out.status, BoxStatus::Warn);
    assert_eq!(
        out.detail,
        "5/5 tests pass, coverage not measured (set checks.tester.cobertura_path)"
    );

    let none_ran = evaluate(reports(b"<testsuites/>", Some(&cov), None));
    assert!(tester_box(&none_ran, 0).detail.contains("no tests ran"));

    let broken = evaluate(reports(&data("junit_truncated.xml"), Some(&cov), None));
    let out = tester_box(&broken, 80);
    assert_eq!(out.status, BoxStatus::Fail);
    assert!(
        out.detail.starts_with("JUnit report junit.xml: "),
        "{}",
        out.detail
    );
    let broken = evaluate(reports(&pass, Some(b"<coverage>"), None));
    assert_eq!(
        tester_box(&broken, 80).detail,
        "Cobertura report sites/coverage.xml: the file ends before <coverage> is closed (truncated?)"
    );
}

proptest! {
    #[test]
    fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_junit(&bytes);
        let _ = parse_cobertura(&bytes);
    }

    #[test]
    fn xmlish_text_never_panics(text in "(<testsuites>|<testsuite tests=\"[0-9a]{1,3}\">|<testcase name=\"a\">|<failure/>|</testcase>|</testsuite>|<coverage>|<class filename=\"a\">|<lines>|<line number=\"[0-9]{1,12}\" hits=\"[0-9-]{1,3}\"/>|</lines>|<!--|]]>|&amp;|&bogus;|x){0,25}") {
        let _ = parse_junit(text.as_bytes());
        let _ = parse_cobertura(text.as_bytes());
    }
}
