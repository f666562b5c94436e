//! Soak: many commands through the store's commit path, as the consumer and the
//! executor drive it, with the clock moving 3 s per command; prints the store's
//! size, its audit log's size and the process's RSS every tenth of the run. After
//! warm-up (retention's hour and its prune cadence) the store and RSS stay flat;
//! only the audit log, the archive kept whole on purpose, grows.
//!
//! `cargo bench --bench store_soak` (100,000 commands), or
//! `cargo bench --bench store_soak -- --commands 20000 --dir /some/disk/folder`;
//! `--cache-mb N` sets sled's page cache as `[store] cache_mb` does (default 16).
//! Each command is what a `diff` costs the store: the command's commit (dedup key,
//! run, post + read effects), the post's completion (its message remembered), the
//! read's outcome (run removed, edit effect, one audit entry), the edit's completion.

use chrono::{DateTime, Duration, Utc};
use lockstep::command::{Command, SiteSel};
use lockstep::ids::RunId;
use lockstep::store::{AuditEntry, Batch, PostedMessage, Store};
use lockstep::workflow::effect::{Effect, Message, Post, Requester, Update, Work};
use lockstep::workflow::op::Op;
use lockstep::workflow::read::ReadRun;
use lockstep::workflow::run::{Run, RunHeader};
use std::path::Path;
use std::time::Instant;

fn main() {
    let mut commands = 100_000u64;
    let mut dir: Option<std::path::PathBuf> = None;
    let mut cache_bytes = lockstep::store::DEFAULT_CACHE_BYTES;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--commands" => commands = args.next().and_then(|n| n.parse().ok()).unwrap_or(commands),
            "--dir" => dir = args.next().map(Into::into),
            "--cache-mb" => {
                if let Some(mb) = args.next().and_then(|n| n.parse::<u64>().ok()) {
                    cache_bytes = mb * 1024 * 1024;
                }
            }
            _ => {} // cargo bench passes --bench
        }
    }
    let scratch = match &dir {
        Some(dir) => tempfile::tempdir_in(dir).expect("a folder for the store"),
        None => tempfile::tempdir().expect("a temp folder"),
    };
    let path = scratch.path().join("store");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(soak(&path, commands, cache_bytes));
}

async fn soak(path: &Path, commands: u64, cache_bytes: u64) {
    let store = Store::open_tuned(path, Default::default(), cache_bytes).expect("the store opens");
    let start: DateTime<Utc> = "2026-11-25T09:00:00Z".parse().unwrap();
    let requester = Requester {
        response_url: "https://hooks.slack.com/commands/T0001/1/abcdefabcdef".into(),
        channel: "C0DEPLOY".into(),
        user: "U0PM".into(),
    };
    println!(
        "{:>9} {:>9} {:>12} {:>8} {:>7} {:>7} {:>7} {:>12} {:>9} {:>10}",
        "commands",
        "elapsed",
        "sled bytes",
        "du KB",
        "seen",
        "posted",
        "audit",
        "log bytes",
        "RSS KB",
        "cmd/s"
    );
    let clock = Instant::now();
    let mut last = Instant::now();
    let every = (commands / 10).max(1);
    for n in 0..commands {
        let now = start + Duration::seconds(3 * n as i64);
        command(&store, &requester, n, now).await;
        if (n + 1) % every == 0 {
            let size = store.size().expect("the size");
            let rate = every as f64 / last.elapsed().as_secs_f64();
            last = Instant::now();
            println!(
                "{:>9} {:>8.0}s {:>12} {:>8} {:>7} {:>7} {:>7} {:>12} {:>9} {:>10.0}",
                n + 1,
                clock.elapsed().as_secs_f64(),
                size.bytes_on_disk,
                du(path) / 1024,
                size.seen,
                size.posted,
                size.audit,
                size.audit_log_bytes,
                rss_kb(),
                rate
            );
        }
    }
    let size = store.size().expect("the size");
    println!(
        "done: {commands} commands in {:.0} s; outbox {} and runs {} at the end",
        clock.elapsed().as_secs_f64(),
        size.outbox,
        size.runs
    );
}

/// One `diff` through the store: four writes, as the bot makes them.
async fn command(store: &Store, requester: &Requester, n: u64, now: DateTime<Utc>) {
    let trigger = format!("{n:010}.{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let run_id = RunId(format!("run-{:010x}", n));
    let header = RunHeader::new(
        run_id.clone(),
        Command::Diff {
            site: SiteSel::Staging,
        },
        requester.clone(),
        now,
    );
    let root = header.root_key();
    let announce = Message::text(
        ":hourglass_flowing_sand: Diff: reading site `staging` and branch `staging`…",
    );
    let run = Run::Read(ReadRun::new(
        header,
        Op::Diff {
            site: SiteSel::Staging,
        },
        announce.clone(),
    ));
    let arrival = Batch {
        dedup_key: Some(format!("trigger:{trigger}")),
        runs: vec![(run_id.clone(), Some(run))],
        effects: vec![
            Effect::Post(Post {
                key: root.clone(),
                channel: requester.channel.clone(),
                thread_of: None,
                message: announce,
                broadcast: false,
                on_refusal: Some(requester.clone()),
            }),
            Effect::Work(Work {
                key: format!("{run_id}/read/1"),
                run_id: run_id.clone(),
                stack: String::new(),
                op: Op::Diff {
                    site: SiteSel::Staging,
                },
                not_before: None,
            }),
        ],
        ..Batch::default()
    };
    store
        .commit(arrival, now)
        .await
        .expect("the command commits");
    let pending = store.pending_effects().expect("the outbox");
    let post = pending
        .iter()
        .find(|p| matches!(p.effect, Effect::Post(_)))
        .expect("the post");
    let work = pending
        .iter()
        .find(|p| matches!(p.effect, Effect::Work(_)))
        .expect("the read");
    let posted = PostedMessage {
        channel: requester.channel.clone(),
        ts: format!("{}.{:06}", 1_796_000_000 + n, n % 1_000_000),
    };
    store
        .complete_effect(post.id, Some((&root, posted)))
        .await
        .expect("the post completes");
    let outcome = Batch {
        runs: vec![(run_id.clone(), None)],
        completes: Some(work.id),
        effects: vec![Effect::Update(Update {
            key: root,
            message: Message::text(
                ":white_check_mark: No drift between site `staging` and `staging@3f2a9c1`.",
            ),
        })],
        audit: vec![AuditEntry {
            at: now,
            actor: requester.user.clone(),
            action: "diff".into(),
            detail: "staging vs staging@3f2a9c1: no drift".into(),
            run_id: Some(run_id),
        }],
        ..Batch::default()
    };
    store
        .commit(outcome, now)
        .await
        .expect("the outcome commits");
    let update = store
        .pending_effects()
        .expect("the outbox")
        .into_iter()
        .find(|p| matches!(p.effect, Effect::Update(_)))
        .expect("the edit");
    store
        .complete_effect(update.id, None)
        .await
        .expect("the edit completes");
}

/// Bytes of the files under `path` (what the folder takes, as `du` counts it).
fn du(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => total += du(&entry.path()),
                Ok(meta) => {
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::MetadataExt;
                        total += meta.blocks() * 512;
                    }
                    #[cfg(not(unix))]
                    {
                        total += meta.len();
                    }
                }
                Err(_) => {}
            }
        }
    }
    total
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}
