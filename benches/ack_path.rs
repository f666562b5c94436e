//! The ack path, piece by piece (issue 12): how long `Inbox::admit` (what the Socket
//! Mode callback does before slack-morphism may send the ack) takes, alone and while
//! the consumer commits and flushes to sled as the bot does, and how long a task on
//! the runtime waits to be polled while jobs canonicalise on the same workers. It owns
//! no fix; it produces the evidence for one.
//!
//! Run: `cargo bench --bench ack_path` (optionally `-- <admissions>`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lockstep::blueprint::canonicalize_owned;
use lockstep::slack::listener::Inbox;
use lockstep::store::{Batch, Store};
use lockstep::workflow::event::{CommandEvent, Event};
use lockstep_sim::synth::{raw_doc_iter, SynthSpec};
use tokio::sync::mpsc;

fn command(n: usize) -> Event {
    Event::Command(CommandEvent {
        trigger_id: format!("trigger-{n}"),
        user: "U0PM".into(),
        channel: "C0DEPLOY".into(),
        command: "/frappe-stack".into(),
        text: "help".into(),
        response_url: "http://127.0.0.1:1/response/1".into(),
    })
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| {
        let rank = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1].as_secs_f64() * 1e6
    };
    println!(
        "{label:<58} n={:>5}  p50 {:>8.1} µs  p99 {:>8.1} µs  max {:>9.1} µs",
        samples.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

/// `admit` for `count` commands while a consumer drains the queue and commits each
/// event's key with a flush, as `app::Consumer` does (`flushing` false: it only
/// drains, so the store is read but never written meanwhile).
async fn admissions(count: usize, flushing: bool) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A store that has seen a day of commands.
    for n in 0..5_000 {
        let batch = Batch {
            dedup_key: Some(format!("trigger:old-{n}")),
            ..Batch::default()
        };
        store.commit(batch, chrono::Utc::now()).await.unwrap();
    }
    let (sender, mut receiver) = mpsc::channel(4_096);
    let inbox = Arc::new(Inbox::new(sender, store.clone(), "/frappe-stack"));
    let consumer = {
        let (store, inbox) = (store.clone(), inbox.clone());
        tokio::spawn(async move {
            while let Some(event) = receiver.recv().await {
                let key = event.dedup_key();
                if flushing {
                    let batch = Batch {
                        dedup_key: key.clone(),
                        ..Batch::default()
                    };
                    store.commit(batch, chrono::Utc::now()).await.unwrap();
                }
                if let Some(key) = key {
                    inbox.settled(&key);
                }
            }
        })
    };
    let mut samples = Vec::with_capacity(count);
    for n in 0..count {
        let started = Instant::now();
        inbox.admit(command(n));
        samples.push(started.elapsed());
        // A burst's envelopes arrive back to back; let the consumer run between.
        if n % 8 == 0 {
            tokio::task::yield_now().await;
        }
    }
    inbox.close();
    drop(inbox);
    let _ = tokio::time::timeout(Duration::from_secs(30), consumer).await;
    samples
}

/// How late a 1 ms timer task is polled while `jobs` tasks canonicalise the 50,000
/// synthetic documents on the runtime's own workers (as a job that canonicalises
/// inline does), compared with the same work on the blocking pool.
async fn poll_delays(jobs: usize, on_blocking_pool: bool) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..jobs {
        let stop = stop.clone();
        let work = move || {
            let mut n = 0usize;
            for doc in raw_doc_iter(SynthSpec::BENCH) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                n += canonicalize_owned(doc).map_or(0, |b| b.name.len());
            }
            n
        };
        workers.push(if on_blocking_pool {
            tokio::task::spawn_blocking(work)
        } else {
            tokio::spawn(async move { work() })
        });
    }
    let mut samples = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let asked = Instant::now();
        tokio::time::sleep(Duration::from_millis(1)).await;
        samples.push(asked.elapsed().saturating_sub(Duration::from_millis(1)));
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
    samples
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(2_000);
    // As the bot's runtime on this machine: two workers.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("Inbox::admit (the work inside the Socket Mode callback, before the ack):");
        report(
            "  store read, no writes meanwhile",
            admissions(count, false).await,
        );
        report(
            "  store read while the consumer commits + flushes",
            admissions(count, true).await,
        );
        println!("Delay before a 1 ms timer's task is polled (the listener's lot when jobs run):");
        report("  idle runtime", poll_delays(0, false).await);
        report(
            "  2 jobs canonicalising on the runtime's workers",
            poll_delays(2, false).await,
        );
        report(
            "  2 jobs canonicalising on the blocking pool",
            poll_delays(2, true).await,
        );
    });
}
