//! The optional external reviewer: a configured command (semgrep, or anything that
//! prints semgrep's `--json` shape) whose results become findings. Only the mapping
//! lives here; running the command is the caller's. semgrep's shape:
//! `{"results":[{"check_id","path","start":{"line","col"},"extra":{"message","severity"}}],"errors":[…]}`
//! with severity `ERROR`/`WARNING`/`INFO` (newer releases also print
//! `CRITICAL`/`HIGH`/`MEDIUM`/`LOW`).

use serde::Deserialize;

use crate::blueprint::layout::Layout;
use crate::blueprint::{BlueprintSet, Severity};

use super::{relative_path, CodeFile, Location, ReviewFinding};

#[derive(Deserialize)]
struct Output {
    results: Vec<Result_>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Result_ {
    check_id: String,
    path: String,
    start: Position,
    extra: Extra,
}

#[derive(Deserialize)]
struct Position {
    line: usize,
}

#[derive(Deserialize)]
struct Extra {
    #[serde(default)]
    message: String,
    #[serde(default)]
    severity: String,
}

/// What the external reviewer said: its findings and the errors it reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalReview {
    pub findings: Vec<ReviewFinding>,
    /// One line per error the tool reported about itself (a rule that did not parse,
    /// a file it could not read): shown, never silently dropped.
    pub errors: Vec<String>,
}

fn severity(text: &str) -> Severity {
    match text.to_ascii_uppercase().as_str() {
        "CRITICAL" => Severity::Critical,
        "ERROR" | "HIGH" => Severity::High,
        "WARNING" | "MEDIUM" => Severity::Medium,
        _ => Severity::Low,
    }
}

/// Maps semgrep JSON to findings. A result in one of `code_files` (the embedded code
/// written out by [`super::code_files`]) is placed on its blueprint's field with the
/// tool's line as the line within the code; a result in a blueprint file is matched to
/// its blueprint; other paths are kept as the tool printed them.
pub fn parse_semgrep(
    json: &[u8],
    set: &BlueprintSet,
    code_files: &[CodeFile],
) -> Result<ExternalReview, String> {
    let output: Output = serde_json::from_slice(json).map_err(|e| {
        format!("the external reviewer's output is not semgrep JSON ({e}); run it with --json")
    })?;
    let layout = Layout::of(set);
    let findings = output
        .results
        .into_iter()
        .map(|r| {
            let path = relative_path(&r.path).to_owned();
            let message = r
                .extra
                .message
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let rule = format!("semgrep:{}", r.check_id);
            let severity = severity(&r.extra.severity);
            let code = code_files
                .iter()
                .find(|f| path == f.path || path.ends_with(&format!("/{}", f.path)));
            if let Some(file) = code {
                return ReviewFinding {
                    rule,
                    severity,
                    message,
                    location: Location {
                        code_line: Some(r.start.line),
                        ..file.location.clone()
                    },
                    blueprint: Some(file.blueprint.clone()),
                };
            }
            let blueprint = layout
                .iter()
                .find(|(_, _, p)| *p == path)
                .map(|(kind, name, _)| (kind, name.to_owned()));
            ReviewFinding {
                rule,
                severity,
                message,
                location: Location {
                    path,
                    line: r.start.line,
                    field: String::new(),
                    code_line: None,
                },
                blueprint,
            }
        })
        .collect();
    let errors = output
        .errors
        .iter()
        .map(|e| {
            e.get("message")
                .and_then(|m| m.as_str())
                .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|| e.to_string())
        })
        .collect();
    Ok(ExternalReview { findings, errors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::{canonicalize, Kind};
    use serde_json::json;

    #[test]
    fn semgrep_results_become_findings_on_their_blueprints() {
        let set: BlueprintSet = [json!({"doctype": "Server Script", "name": "Grant API",
            "script_type": "API", "script": "x = 1"})]
        .iter()
        .map(|d| canonicalize(d).unwrap())
        .collect();
        let out = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/checks/semgrep.json"
        ))
        .unwrap();
        let review = parse_semgrep(&out, &set, &[]).unwrap();
        assert_eq!(review.findings.len(), 3);
        let first = &review.findings[0];
        assert_eq!(
            first.rule,
            "semgrep:frappe-semgrep-rules.rules.security.frappe-codeinjection-eval"
        );
        assert_eq!(first.severity, Severity::High);
        assert_eq!(first.location.path, "server_scripts/grant_api.json");
        assert_eq!(
            first.blueprint,
            Some((Kind::ServerScript, "Grant API".into()))
        );
        assert_eq!(review.findings[1].severity, Severity::Medium);
        assert_eq!(review.findings[1].blueprint, None);
        assert_eq!(
            review.errors,
            vec!["Invalid rule schema: missing 'pattern'".to_owned()]
        );
    }

    #[test]
    fn results_in_written_out_code_land_on_the_field() {
        let set: BlueprintSet = [json!({"doctype": "Server Script", "name": "Grant API",
            "script_type": "API", "script": "x = 1\ny = eval(frappe.form_dict.q)\n"})]
        .iter()
        .map(|d| canonicalize(d).unwrap())
        .collect();
        let selection = super::super::select(&set, None, None).unwrap();
        let files = super::super::code_files(&set, &selection);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, "server_scripts/grant_api.json.script.py");
        let out = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/checks/semgrep.json"
        ))
        .unwrap();
        let review = parse_semgrep(&out, &set, &files).unwrap();
        let eval = review
            .findings
            .iter()
            .find(|f| f.location.code_line.is_some())
            .unwrap();
        assert_eq!(eval.location.path, "server_scripts/grant_api.json");
        assert_eq!(eval.location.field, "script");
        assert_eq!(eval.location.line, files[0].location.line);
        assert_eq!(eval.location.code_line, Some(2));
        assert_eq!(
            eval.rule,
            "semgrep:frappe-semgrep-rules.rules.security.frappe-codeinjection-eval"
        );
    }

    #[test]
    fn not_semgrep_json_is_a_clear_error() {
        let err = parse_semgrep(
            b"Traceback (most recent call last):",
            &BlueprintSet::new(),
            &[],
        )
        .unwrap_err();
        assert!(err.contains("not semgrep JSON"), "{err}");
        let err = parse_semgrep(b"{\"results\": 3}", &BlueprintSet::new(), &[]).unwrap_err();
        assert!(err.contains("run it with --json"), "{err}");
    }
}
