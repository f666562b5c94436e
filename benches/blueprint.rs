//! Blueprint benchmark (issue 3): 50,000 blueprints — 2,000 DocTypes of 30 fields,
//! 20,000 Custom Fields, 28,000 Property Setters — canonicalised from raw Frappe JSON
//! documents and diffed against a git copy with 1% changed, 0.2% added, 0.2% removed.
//!
//! The site side streams, as `lockstep diff --raw` does: documents are generated in
//! chunks of 100 outside the timed region, then each is canonicalised and compared
//! with git (`DriftBuilder`) inside it. Only canonicalising, digesting, comparing,
//! explaining and dropping are timed.
//!
//! `cargo bench --bench blueprint` runs criterion. For peak memory, run the bench
//! binary once under `/usr/bin/time -v` with `LOCKSTEP_BENCH_ONCE=1`: it does one pass
//! and prints the timed part. With `LOCKSTEP_BENCH_CLI_DIR=<dir>` it writes the data set
//! as files on the first run and times `diff_raw_against_canonical` (the library side of
//! `lockstep diff --raw`) on them on the next.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use lockstep::blueprint::diff::DriftBuilder;
use lockstep::blueprint::files::diff_raw_against_canonical;
use lockstep::blueprint::files::write_dir;
use lockstep::blueprint::{
    canonicalize_owned, canonicalize_with_digest, diff, BlueprintSet, CompactSet, Drift,
};
use lockstep_sim::synth::{git_docs, raw_doc_iter, raw_docs, write_raw_dir, SynthSpec};
use serde_json::Value;

const CHUNK: usize = 100;

/// The git side as a whole set: the canonical site with the perturbation applied.
fn git_set(spec: SynthSpec) -> BlueprintSet {
    git_docs(spec)
        .0
        .into_iter()
        .map(|doc| canonicalize_owned(doc).expect("synthetic documents are blueprints"))
        .collect()
}

/// The git side, built once and held lean, as the CLI holds it.
fn git_side(spec: SynthSpec) -> CompactSet {
    let mut git = CompactSet::new();
    for doc in git_docs(spec).0 {
        git.insert(&canonicalize_owned(doc).expect("synthetic documents are blueprints"));
    }
    git
}

/// One full pass; returns the time spent canonicalising and diffing, and the drift.
fn stream_pass(spec: SynthSpec, git: &CompactSet, compare: bool) -> (Duration, Drift) {
    let mut docs = raw_doc_iter(spec);
    let start = Instant::now();
    let mut builder = DriftBuilder::over_compact(git);
    let mut timed = start.elapsed();
    loop {
        let chunk: Vec<Value> = docs.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            break;
        }
        let mut kept = Vec::with_capacity(chunk.len());
        let start = Instant::now();
        for doc in chunk {
            let (blueprint, digest) =
                canonicalize_with_digest(doc).expect("synthetic documents are blueprints");
            if compare {
                assert!(builder.add_with_digest(black_box(&blueprint), digest));
            }
            kept.push(blueprint);
        }
        timed += start.elapsed();
        // Dropping the canonical blueprints is not part of canonicalising and diffing
        // (a caller holding a whole site set drops it later too).
        drop(kept);
    }
    let start = Instant::now();
    let drift = builder.finish();
    timed += start.elapsed();
    (timed, drift)
}

fn benches(c: &mut Criterion) {
    let spec = SynthSpec::BENCH;
    let git = git_side(spec);
    let mut group = c.benchmark_group("blueprint_50k");
    group.sample_size(10);
    group.bench_function("canonicalize_and_diff", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| stream_pass(spec, &git, true).0).sum())
    });
    group.bench_function("canonicalize_only", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| stream_pass(spec, &git, false).0).sum())
    });
    // Two whole sets in memory, as the bot holds a site and a branch (not part of the
    // memory budget: two `Value` trees of 50,000 blueprints take about 900 MB).
    drop(git);
    let full_git = git_set(spec);
    let site: BlueprintSet = raw_doc_iter(spec)
        .map(|doc| canonicalize_owned(doc).expect("synthetic documents are blueprints"))
        .collect();
    group.bench_function("diff_two_sets", |b| {
        b.iter(|| diff(black_box(&site), black_box(&full_git)))
    });
    group.finish();
}

fn run_once() {
    let spec = SynthSpec::BENCH;
    let git = git_side(spec);
    let (canonicalize_only, _) = stream_pass(spec, &git, false);
    let (timed, drift) = stream_pass(spec, &git, true);
    println!(
        "{} blueprints canonicalised and diffed in {:.3} s (canonicalising alone {:.3} s): \
         {} changed, {} only on site, {} only in git",
        spec.total(),
        timed.as_secs_f64(),
        canonicalize_only.as_secs_f64(),
        drift.changed.len(),
        drift.only_on_site.len(),
        drift.only_in_git.len()
    );
}

/// Writes the data set as files under `dir` (raw/ and canonical/) unless already there,
/// then times `diff_raw_against_canonical` on them, as `lockstep diff --raw` runs it.
fn run_cli(dir: &Path) -> anyhow::Result<()> {
    let spec = SynthSpec::BENCH;
    let (raw, canonical) = (dir.join("raw"), dir.join("canonical"));
    if !raw.is_dir() {
        write_raw_dir(&raw_docs(&spec), &raw)?;
        write_dir(&git_set(spec), &canonical)?;
        println!("wrote {} and {}", raw.display(), canonical.display());
        return Ok(());
    }
    let start = Instant::now();
    let (report, differs) = diff_raw_against_canonical(&raw, &canonical)?;
    let elapsed = start.elapsed();
    let summary = report.lines().last().unwrap_or("");
    println!(
        "diff --raw took {:.3} s, differs={differs}: {summary}",
        elapsed.as_secs_f64()
    );
    Ok(())
}

fn main() {
    if std::env::var_os("LOCKSTEP_BENCH_ONCE").is_some() {
        run_once();
        return;
    }
    if let Some(dir) = std::env::var_os("LOCKSTEP_BENCH_CLI_DIR") {
        run_cli(Path::new(&dir)).expect("the CLI run works");
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
