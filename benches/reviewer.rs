//! How long the reviewer and the tester's parsers take on a large promotion: 200
//! Server Scripts of ~300 lines, 100 DocTypes of 60 fields with `depends_on`, 50
//! workflows, and a JUnit report of 5,000 tests plus a Cobertura report of 500 files
//! × 400 lines. The checklist runs these inside a box with a timeout, so they must
//! stay far below a second.
//!
//! Run: `cargo bench --bench reviewer`.

use criterion::{criterion_group, criterion_main, Criterion};
use lockstep::blueprint::{canonicalize, BlueprintSet};
use lockstep::checks::reviewer::lexer::{tokenize, Lang};
use lockstep::checks::reviewer::review;
use lockstep::checks::tester::{changed_line_coverage, parse_cobertura, parse_junit};
use serde_json::{json, Value};
use std::fmt::Write;
use std::hint::black_box;

fn script(i: usize) -> String {
    let mut code = String::new();
    for line in 0..60 {
        let _ = writeln!(
            code,
            "# step {line} of script {i}: never use ignore_permissions=True here\n\
             rows = frappe.db.sql(\"\"\"select name, amount from `tabGrant` where owner = %s and idx > %s\"\"\", (frappe.session.user, {line}), as_dict=True)\n\
             total = sum(r.amount for r in rows) if rows else 0\n\
             frappe.msgprint(f\"{{len(rows)}} grants, total {{total}}\")\n\
             doc = frappe.get_doc({{\"doctype\": \"Grant Log\", \"total\": total}})"
        );
    }
    code
}

fn promotion() -> BlueprintSet {
    let mut docs: Vec<Value> = Vec::new();
    for i in 0..200 {
        docs.push(
            json!({"doctype": "Server Script", "name": format!("Grant Script {i:03}"),
            "script_type": if i % 4 == 0 { "API" } else { "DocType Event" },
            "api_method": format!("grant_{i}"), "reference_doctype": "Grant", "script": script(i)}),
        );
    }
    for i in 0..100 {
        let fields: Vec<Value> = (0..60)
            .map(|f| json!({"fieldname": format!("field_{f:02}"), "label": format!("Field {f:02}"),
                "fieldtype": if f % 10 == 0 { "Int" } else { "Data" }, "default": if f % 10 == 0 { "1000" } else { "" },
                "depends_on": format!("eval:doc.field_{:02} && doc.status == 'Open'", (f + 1) % 60)}))
            .collect();
        docs.push(
            json!({"doctype": "DocType", "name": format!("Bench Type {i:03}"), "custom": 1,
            "fields": fields, "permissions": [{"role": "Manager", "permlevel": 0, "read": 1}]}),
        );
    }
    for i in 0..50 {
        docs.push(json!({"doctype": "Workflow", "name": format!("Flow {i:02}"), "document_type": format!("Bench Type {i:03}"),
            "states": [{"state": "Draft", "doc_status": "0", "allow_edit": "Field Officer"},
                       {"state": "Approved", "doc_status": "1", "allow_edit": "Manager"}],
            "transitions": [{"state": "Draft", "action": "Approve", "next_state": "Approved", "allowed": "Manager",
                             "condition": "doc.amount < 5000 and frappe.session.user != doc.owner"}]}));
    }
    docs.iter()
        .map(|d| canonicalize(d).expect("bench blueprints are valid"))
        .collect()
}

fn junit(tests: usize) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for suite in 0..tests / 50 {
        let _ = writeln!(xml, "<testsuite name=\"grants.tests.T{suite}\" tests=\"50\" failures=\"1\" errors=\"0\" skipped=\"0\">");
        for case in 0..50 {
            let _ = write!(
                xml,
                "<testcase classname=\"grants.tests.T{suite}\" name=\"test_{case}\" time=\"0.01\""
            );
            if case == 7 {
                xml.push_str("><failure type=\"AssertionError\" message=\"x\"><![CDATA[Traceback (most recent call last):\n  AssertionError]]></failure></testcase>\n");
            } else {
                xml.push_str("/>\n");
            }
        }
        xml.push_str("</testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn cobertura(files: usize, lines: usize) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" ?>\n<coverage line-rate=\"0.9\"><sources><source>/bench/apps/grants</source></sources><packages><package name=\"grants\"><classes>\n");
    for f in 0..files {
        let _ = writeln!(
            xml,
            "<class name=\"m{f}.py\" filename=\"grants/m{f}.py\"><methods/><lines>"
        );
        for l in 1..=lines {
            let _ = writeln!(
                xml,
                "<line number=\"{l}\" hits=\"{}\"/>",
                usize::from(l % 9 != 0)
            );
        }
        xml.push_str("</lines></class>\n");
    }
    xml.push_str("</classes></package></packages></coverage>\n");
    xml
}

fn diff(files: usize) -> String {
    let mut text = String::new();
    for f in 0..files {
        let _ = write!(text, "diff --git a/grants/m{f}.py b/grants/m{f}.py\n--- a/grants/m{f}.py\n+++ b/grants/m{f}.py\n@@ -10,2 +10,12 @@\n ctx\n");
        for l in 0..10 {
            let _ = writeln!(text, "+added {l}");
        }
        text.push_str(" ctx\n");
    }
    text
}

fn benches(c: &mut Criterion) {
    let set = promotion();
    let code = script(0).repeat(5);
    let junit = junit(5_000);
    let cobertura = cobertura(500, 400);
    let diff = diff(500);
    let coverage = parse_cobertura(cobertura.as_bytes()).expect("bench report parses");

    c.bench_function("tokenize 1,500 lines of Python", |b| {
        b.iter(|| tokenize(black_box(&code), Lang::Python).len())
    });
    c.bench_function("review 350 blueprints", |b| {
        b.iter(|| review(black_box(&set), None).len())
    });
    c.bench_function("parse JUnit with 5,000 tests", |b| {
        b.iter(|| {
            parse_junit(black_box(junit.as_bytes()))
                .expect("parses")
                .total
        })
    });
    c.bench_function("parse Cobertura 500 files x 400 lines", |b| {
        b.iter(|| {
            parse_cobertura(black_box(cobertura.as_bytes()))
                .expect("parses")
                .files
                .len()
        })
    });
    c.bench_function("changed-line coverage, 500 files", |b| {
        b.iter(|| changed_line_coverage(black_box(&coverage), black_box(&diff)).measured)
    });
}

criterion_group!(reviewer, benches);
criterion_main!(reviewer);
