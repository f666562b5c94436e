//! The store survives a crash: a child process commits a batch and aborts on the
//! spot (no destructors, no further flush); the parent reopens the same path and
//! finds every part of the batch. A second process cannot open a store in use.

use chrono::Utc;
use lockstep::command::Command as SlashCommand;
use lockstep::ids::RunId;
use lockstep::store::{AuditEntry, Batch, EnvLock, Store};
use lockstep::workflow::effect::{Effect, Message, Requester};
use lockstep::workflow::read::ReadRun;
use lockstep::workflow::run::{Run, RunHeader};
use std::process::{Command, Stdio};

const CHILD_DIR: &str = "LOCKSTEP_TEST_CRASH_DIR";
const HOLD_DIR: &str = "LOCKSTEP_TEST_HOLD_DIR";

fn batch() -> Batch {
    let requester = Requester {
        response_url: "http://127.0.0.1:1/response/1".into(),
        channel: "C0DEPLOY".into(),
        user: "U0PM".into(),
    };
    Batch {
        dedup_key: Some("trigger:crash-1".into()),
        runs: vec![(
            RunId("run-1".into()),
            Some(Run::Read(ReadRun::new(
                RunHeader::new(
                    RunId("run-1".into()),
                    SlashCommand::Status,
                    requester.clone(),
                    Utc::now(),
                ),
                lockstep::workflow::op::Op::PlanPush,
                Message::text("reading"),
            ))),
        )],
        effects: vec![Effect::Respond(
            requester.reply(Message::text("still here")),
        )],
        audit: vec![AuditEntry {
            at: Utc::now(),
            actor: "U0PM".into(),
            action: "promote".into(),
            detail: "started".into(),
            run_id: Some(RunId("run-1".into())),
        }],
        lock_changes: vec![(
            "prod".into(),
            Some(EnvLock {
                run_id: RunId("run-1".into()),
                holder: "U0PM".into(),
                since: Utc::now(),
                reason: "promotion run-1".into(),
                expires_at: None,
            }),
        )],
        ..Batch::default()
    }
}

/// Runs one test of this binary in a child process with `var` set to `dir`.
fn spawn_child(test: &str, var: &str, dir: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test binary path"))
        .args([test, "--exact", "--nocapture"])
        .env(var, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child test process")
}

/// In the child: commit, then die without any clean-up.
#[tokio::test]
async fn child_commits_then_aborts() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return; // Only meaningful as the child of the test below.
    };
    let store = Store::open(std::path::Path::new(&dir)).expect("child opens the store");
    store
        .commit(batch(), Utc::now())
        .await
        .expect("child commits");
    std::process::abort();
}

#[test]
fn a_committed_batch_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let status = spawn_child(
        "store_crash::child_commits_then_aborts",
        CHILD_DIR,
        dir.path(),
    )
    .wait()
    .expect("child runs");
    assert!(
        !status.success(),
        "the child must have crashed, not exited cleanly"
    );

    let store = Store::open(dir.path()).expect("the store reopens after a crash");
    assert!(store.is_seen("trigger:crash-1").unwrap());
    assert_eq!(store.runs().unwrap().len(), 1);
    assert_eq!(store.pending_effects().unwrap().len(), 1);
    assert_eq!(store.audit_tail(10).unwrap()[0].detail, "started");
    assert_eq!(store.locks().unwrap()[0].0, "prod");
}

/// In the child: hold the store open until the parent closes our stdin.
#[test]
fn child_holds_the_store() {
    let Some(dir) = std::env::var_os(HOLD_DIR) else {
        return;
    };
    let _store = Store::open(std::path::Path::new(&dir)).expect("child opens the store");
    println!("holding");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn a_store_in_use_by_another_process_is_named_as_such() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("store_crash::child_holds_the_store", HOLD_DIR, dir.path());
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    // Wait (on the child's own word, not a timer) until it holds the store.
    assert!(lines.any(|line| line.map(|l| l.contains("holding")).unwrap_or(false)));

    let err = Store::open(dir.path())
        .err()
        .expect("a second process is refused");
    let text = err.to_string();
    drop(child.stdin.take());
    let _ = child.wait();
    assert!(
        text.contains("in use by another lockstep process"),
        "{text}"
    );
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
}
