//! How long the slash-command parser takes. Slack gives a command 3 s to be
//! acknowledged and parsing happens before the ack, so it must stay negligible even
//! for the longest input Slack can send (4,000 characters).

use criterion::{criterion_group, criterion_main, Criterion};
use lockstep::command::{help, parse, Subcommand};
use std::hint::black_box;

const CMD: &str = "/frappe-stack";

fn parse_benches(c: &mut Criterion) {
    let typical = "promote --emergency --reason=“payroll fix, asked by <@U0PM|priya>” \
                   --only=beneficiary,grant --feature=intake --dry-run";
    let longest = format!(
        "promote --emergency --reason=\"{}\" --dry-run",
        "<@U12345|ann> fix &amp; \\\"db\\\" ".repeat(120)
    );
    assert!(longest.chars().count() <= 4000);
    let typo = format!("x{}", "a".repeat(3990));

    c.bench_function("parse typical promote", |b| {
        b.iter(|| parse(black_box(typical), CMD))
    });
    c.bench_function("parse 4000-char reason with mentions", |b| {
        b.iter(|| parse(black_box(&longest), CMD))
    });
    c.bench_function("parse 4000-char unknown subcommand", |b| {
        b.iter(|| parse(black_box(&typo), CMD))
    });
    c.bench_function("parse typo with suggestion", |b| {
        b.iter(|| parse(black_box("pormote --dryrun"), CMD))
    });
    c.bench_function("render help promote", |b| {
        b.iter(|| help(black_box(Some(Subcommand::Promote)), CMD))
    });
}

criterion_group!(benches, parse_benches);
criterion_main!(benches);
