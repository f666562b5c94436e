//! Commit benchmark: 1,000 changed blueprint files (~1.5 KB of canonical JSON each)
//! committed on a new branch with `GithubClient::commit_files`, against the GitHub
//! sim on loopback. Prints GitHub calls made (read the base + tree, commit, ref:
//! target ≤ 5 whatever the file count, counted by the sim) and wall time per run.
//!
//! Run: `cargo bench --bench github_commit`. Scale with LOCKSTEP_BENCH_FILES and
//! LOCKSTEP_BENCH_RUNS.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lockstep::github::{
    BranchWrite, FileChanges, GithubAuth, GithubClient, GithubConfig, RetryPolicy,
};
use lockstep::secret::Secret;
use lockstep_sim::github::{GithubSim, GithubSimConfig};
use serde_json::json;

const REPO: &str = "acme/frappe-config";

fn scale(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn blueprint(i: usize, run: usize) -> Vec<u8> {
    let fields: Vec<_> = (0..12)
        .map(|f| json!({"fieldname": format!("field_{f:02}"), "fieldtype": "Data", "label": format!("Field {f:02} rev {run}")}))
        .collect();
    let mut text = serde_json::to_string_pretty(
        &json!({"doctype": "Custom Field", "name": format!("Bench-{i:04}"), "fields": fields}),
    )
    .unwrap();
    text.push('\n');
    text.into_bytes()
}

fn main() {
    lockstep::tls::install_crypto_provider();
    let files = scale("LOCKSTEP_BENCH_FILES", 1000);
    let runs = scale("LOCKSTEP_BENCH_RUNS", 10);
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    rt.block_on(async {
        let sim = GithubSim::start(GithubSimConfig {
            repos: vec![REPO.into()],
            ..Default::default()
        })
        .await
        .expect("the GitHub sim starts");
        let seed: BTreeMap<String, Vec<u8>> = (0..files)
            .map(|i| {
                (
                    format!("fixtures/app/custom_fields/bench-{i:04}.json"),
                    blueprint(i, 0),
                )
            })
            .collect();
        sim.repo(REPO)
            .set_branch_files("main", seed, "seed")
            .expect("seeding main");
        let client = GithubClient::with_retry(
            GithubConfig::new(&sim.url(), "acme", "frappe-config"),
            GithubAuth::Token(Secret::new(sim.token())),
            RetryPolicy::local(),
        )
        .expect("a client");
        let mut times = Vec::new();
        let mut calls = Vec::new();
        for run in 1..=runs {
            let upsert = (0..files)
                .map(|i| {
                    (
                        format!("fixtures/app/custom_fields/bench-{i:04}.json"),
                        blueprint(i, run),
                    )
                })
                .collect();
            let changes = FileChanges {
                upsert,
                delete: Default::default(),
            };
            sim.clear_calls();
            let start = Instant::now();
            let base = client.base_of("main").await.expect("main's tip");
            client
                .commit_files(
                    &format!("promote/bench-{run}"),
                    &base,
                    &changes,
                    "Promote",
                    BranchWrite::Create,
                )
                .await
                .expect("the commit");
            times.push(start.elapsed());
            calls.push(sim.calls().len());
        }
        times.sort();
        let median = times[times.len() / 2];
        let bytes: usize = (0..files).map(|i| blueprint(i, 1).len()).sum();
        println!(
            "github_commit: {files} changed files ({} KB) per commit, {runs} runs",
            bytes / 1024
        );
        println!(
            "  GitHub calls per commit (incl. reading the base): {:?} (target <= 5)",
            calls
        );
        println!(
            "  wall time: median {}, min {}, max {}",
            ms(median),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
        assert!(
            calls.iter().all(|c| *c <= 5),
            "more than 5 calls for one commit: {calls:?}"
        );
    });
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
