//! Crash safety of the promotion: every effect boundary of a whole run (before and
//! after each effect) is a place the bot may die. A first run records them; then,
//! for each, a fresh world runs the promotion with the bot stopped right there (its
//! executor frozen as a crash would leave it, the app dropped, the same store
//! reopened by a new bot) and driven on to the end. Whatever the boundary, the run
//! ends with exactly one branch, one PR, at most one merge, at most one restore and
//! no channel message posted twice.

use crate::harness::{Harness, ADMIN, CHANNEL, DEV, WAIT};
use lockstep::app::StartOptions;
use lockstep::local::world::REPO;
use lockstep::workflow::executor::{step_of, PausePoint};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What the people in the walkthrough have done so far (kept across the restart).
#[derive(Default)]
struct People {
    promoted: bool,
    approved: BTreeSet<u64>,
    merge_pressed: bool,
    ticked: BTreeSet<String>,
}

/// How a drive ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Succeeded,
    RolledBack,
    /// The restore was interrupted by the crash: escalated, never run again.
    Escalated,
    Paused,
}

/// Acts as the people would on what the world shows now: promote once, approve the
/// open PR as alice, press Merge & deploy as the developer, tick every smoke item.
async fn act(h: &Harness, people: &mut People) {
    if !people.promoted {
        people.promoted = true;
        h.command("promote").await;
    }
    let repo = h.world.github.repo(REPO);
    for pull in repo.pulls() {
        if pull.state == "open"
            && pull.head_ref.starts_with("promote/")
            && people.approved.insert(pull.number)
        {
            repo.approve(pull.number, "alice").expect("alice approves");
        }
    }
    for message in h.world.slack.channel_messages(CHANNEL) {
        for action in actions(&message.blocks) {
            if action == "promote_merge" && !people.merge_pressed {
                people.merge_pressed = true;
                press(h, DEV, &message.ts, &action).await;
            }
            if action.starts_with("promote_smoke_ok_") && people.ticked.insert(action.clone()) {
                press(h, ADMIN, &message.ts, &action).await;
            }
        }
    }
}

/// Presses a button seen a moment ago; if the message changed since and the button
/// is gone, the world moved on and there is nothing to press.
async fn press(h: &Harness, user: &str, ts: &str, action: &str) {
    if let Err(err) = h
        .world
        .slack
        .click_button(user, CHANNEL, ts, action, None)
        .await
    {
        assert!(err.to_string().contains("has no button"), "{err}");
    }
}

fn actions(blocks: &[serde_json::Value]) -> Vec<String> {
    blocks
        .iter()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_string))
        .collect()
}

fn ended(h: &Harness) -> Option<Ended> {
    let messages = h.world.slack.channel_messages(CHANNEL);
    let said = |needle: &str| {
        messages.iter().any(|m| {
            m.text.contains(needle) || m.blocks.iter().any(|b| b.to_string().contains(needle))
        })
    };
    if said("Promotion succeeded") {
        Some(Ended::Succeeded)
    } else if said("Promotion rolled back") {
        Some(Ended::RolledBack)
    } else if said("Restoring production from backup FAILED") && said("Opened revert PR") {
        Some(Ended::Escalated)
    } else {
        None
    }
}

/// Drives the walkthrough until it ends or (when given a pause signal) the bot
/// pauses.
async fn drive(
    h: &mut Harness,
    people: &mut People,
    mut paused: Option<&mut watch::Receiver<bool>>,
    label: &str,
) -> Ended {
    loop {
        if paused.as_ref().is_some_and(|p| *p.borrow()) {
            return Ended::Paused;
        }
        // Outputs counted before looking: anything said while we look wakes us.
        let mut cursor = h.world.slack.outputs().len();
        act(h, people).await;
        if let Some(end) = ended(h) {
            return end;
        }
        let pause = async {
            match paused.as_mut() {
                Some(paused) => {
                    let _ = paused.changed().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            output = h.world.slack.next_output(&mut cursor, WAIT) => {
                output.unwrap_or_else(|err| panic!("{label}: the walkthrough stalled: {err}"));
            }
            _ = pause => {}
        }
    }
}

/// Waits for the root message's last edit (the run's end), then marks everything
/// read: the recording run follows the world, not the transcript.
async fn settle(h: &mut Harness, end: &Ended) {
    let word = match end {
        Ended::Succeeded => "succeeded",
        Ended::Escalated => "failed",
        _ => "rolled back",
    };
    h.wait_for("the root message's last edit", |o| {
        matches!(o, lockstep_sim::slack::BotOutput::Updated { text, .. }
            if text.contains("*Promotion*") && text.contains(word))
    })
    .await;
    h.read_all();
}

/// Runs the promotion once without stopping; returns its effects as (step, nth):
/// every step once, and a repeated step (a poll, a thread reply, a write) also its
/// second time, in order of appearance.
async fn boundaries(failing_migrate: bool) -> Vec<(String, u32)> {
    let seen = Arc::new(Mutex::new(Vec::<(String, u32)>::new()));
    let counts = Arc::new(Mutex::new(BTreeMap::<String, u32>::new()));
    let record = seen.clone();
    let mut h = Harness::start_promotable(|_| {}).await;
    h.stop_bot().await;
    h.start_bot_with(StartOptions {
        observe: Some(Arc::new(move |key: &str, after: bool| {
            // Count each effect once (at its start); root edits share the root's
            // key, whose post is the boundary.
            if after || !key.starts_with("run-") {
                return;
            }
            let step = step_of(key).to_string();
            let mut counts = counts.lock().unwrap();
            let n = counts.entry(step.clone()).or_default();
            *n += 1;
            // A poll repeats as often as time makes it: only its first is a fixed
            // boundary.
            let polls = ["message", "reviews", "deploy"];
            if *n == 1 || (*n == 2 && !polls.contains(&step.as_str())) {
                record.lock().unwrap().push((step, *n));
            }
        })),
        ..StartOptions::default()
    })
    .await;
    if failing_migrate {
        fail_next_migrate(&h).await;
    }
    let mut people = People::default();
    let end = drive(&mut h, &mut people, None, "the recording run").await;
    assert_eq!(
        end,
        if failing_migrate {
            Ended::RolledBack
        } else {
            Ended::Succeeded
        }
    );
    settle(&mut h, &end).await;
    h.finish().await;
    let keys = seen.lock().unwrap().clone();
    keys
}

async fn fail_next_migrate(h: &Harness) {
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/_sim/sites/prod/fail-next-migrate",
            h.world.frappe.url()
        ))
        .json(&serde_json::json!({"message": "Unknown column 'age' in 'field list'"}))
        .send()
        .await
        .expect("the sim takes it");
    assert!(answer.status().is_success());
}

/// One crash: the promotion stopped at `point`, restarted on the same store, driven
/// to its end; then the invariants.
async fn crash_at(point: PausePoint, failing_migrate: bool) {
    let label = format!(
        "{}:{}#{}",
        if point.after { "after" } else { "before" },
        point.step,
        point.nth
    );
    let started = std::time::Instant::now();
    let mut h = Harness::start_promotable(|_| {}).await;
    h.stop_bot().await;
    let (pause_tx, mut paused) = watch::channel(false);
    let pause_tx = Arc::new(pause_tx);
    let on_pause = pause_tx.clone();
    h.start_bot_with(StartOptions {
        pause: Some((
            point,
            Arc::new(move |_key: &str| {
                on_pause.send_replace(true);
            }),
        )),
        ..StartOptions::default()
    })
    .await;
    if failing_migrate {
        fail_next_migrate(&h).await;
    }
    let mut people = People::default();
    let first = drive(&mut h, &mut people, Some(&mut paused), &label).await;
    if first != Ended::Paused {
        // The pause was right after the run's last message, which is already shown.
        tokio::time::timeout(WAIT, paused.wait_for(|p| *p))
            .await
            .unwrap_or_else(|_| panic!("{label}: the run passed its pause point ({first:?})"))
            .expect("the pause signal");
    }
    h.stop_bot().await;
    h.start_bot().await;
    // A press made while the bot went down is answered "not recorded": as people
    // would, press again whatever is still offered.
    people.merge_pressed = false;
    people.ticked.clear();
    let end = drive(&mut h, &mut people, None, &label).await;
    let expected: &[Ended] = if failing_migrate {
        // A restore cut short by the crash is never run blindly again.
        &[Ended::RolledBack, Ended::Escalated]
    } else {
        &[Ended::Succeeded]
    };
    assert!(expected.contains(&end), "{label}: ended {end:?}");
    check_invariants(&h, &label, failing_migrate);
    // Presses made again after the restart may still be answered privately.
    h.stop().await;
    tracing::debug!("crash at {label}: {} ms", started.elapsed().as_millis());
}

fn check_invariants(h: &Harness, label: &str, failing_migrate: bool) {
    let repo = h.world.github.repo(REPO);
    let branches: Vec<String> = repo
        .refs()
        .into_keys()
        .filter(|r| r.starts_with("refs/heads/promote/"))
        .collect();
    assert_eq!(branches.len(), 1, "{label}: one branch: {branches:?}");
    let promotions: Vec<_> = repo
        .pulls()
        .into_iter()
        .filter(|p| p.head_ref.starts_with("promote/"))
        .collect();
    assert_eq!(promotions.len(), 1, "{label}: one PR");
    let merges = h
        .world
        .github
        .workflow_runs()
        .into_iter()
        .filter(|run| run.event == "push")
        .count();
    assert_eq!(merges, 1, "{label}: one merge to main (one deploy)");
    let restores = h.world.frappe.restores("prod").len();
    if failing_migrate {
        // One, or none when the crash cut it short: never two.
        assert!(restores <= 1, "{label}: {restores} restores");
    } else {
        assert_eq!(restores, 0, "{label}: no restore");
    }
    if failing_migrate {
        let reverts = repo.pulls().len() - promotions.len();
        assert_eq!(reverts, 1, "{label}: one revert PR");
    }
    // Every message the bot posted carries its key: none twice.
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for message in h.world.slack.channel_messages(CHANNEL) {
        if message.bot_id.is_none() {
            continue;
        }
        let key = message
            .metadata
            .as_ref()
            .and_then(|m| m["event_payload"]["key"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("unkeyed: {}", message.text));
        *by_key.entry(key).or_default() += 1;
    }
    let twice: Vec<_> = by_key.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{label}: messages posted twice: {twice:?}"
    );
}

/// Every boundary of a successful promotion, split in parts so the parts run side
/// by side.
async fn every_boundary_of_a_success(part: usize, parts: usize) {
    let keys = boundaries(false).await;
    assert!(keys.len() > 20, "a promotion has many effects: {keys:?}");
    for (_, (step, nth)) in keys.iter().enumerate().filter(|(n, _)| n % parts == part) {
        for after in [false, true] {
            crash_at(
                PausePoint {
                    after,
                    step: step.clone(),
                    nth: *nth,
                },
                false,
            )
            .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_boundary_of_a_promotion_part_1() {
    every_boundary_of_a_success(0, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_boundary_of_a_promotion_part_2() {
    every_boundary_of_a_success(1, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_boundary_of_a_promotion_part_3() {
    every_boundary_of_a_success(2, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_boundary_of_a_promotion_part_4() {
    every_boundary_of_a_success(3, 4).await;
}

/// The boundaries a rolled-back promotion adds (restore, revert and their posts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_boundary_of_a_rollback() {
    let success: BTreeSet<(String, u32)> = boundaries(false).await.into_iter().collect();
    let keys = boundaries(true).await;
    let from = keys
        .iter()
        .position(|(step, _)| step == "rollback")
        .expect("a rollback");
    for (step, nth) in keys[from..].iter().filter(|k| !success.contains(*k)) {
        for after in [false, true] {
            crash_at(
                PausePoint {
                    after,
                    step: step.clone(),
                    nth: *nth,
                },
                true,
            )
            .await;
        }
    }
}

// ---- a real `kill -9` of the `lockstep run` process ------------------------------

/// A `lockstep run` process against the harness's world, with its own store.
struct BotProcess {
    child: tokio::process::Child,
    /// Set when the process says it reached its pause point.
    paused: watch::Receiver<bool>,
}

impl BotProcess {
    /// Starts `lockstep run`; with `pause_at`, it stops at that boundary and says so
    /// on stderr. Waits until it holds a Socket Mode connection.
    async fn start(h: &Harness, config: &std::path::Path, pause_at: Option<&str>) -> BotProcess {
        use tokio::io::AsyncBufReadExt;
        let opened = h.world.slack.connections_opened();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lockstep"));
        command
            .args(["run", "--config", config.to_str().unwrap()])
            .envs(lockstep::local::world::world_env(&h.world))
            .env("LOCKSTEP_NOW", crate::harness::WEDNESDAY)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(point) = pause_at {
            command.env("LOCKSTEP_PAUSE_AT", point);
        }
        let mut child = command.spawn().expect("lockstep run starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (said, paused) = watch::channel(false);
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("lockstep: paused at") {
                    said.send_replace(true);
                }
            }
        });
        h.world
            .slack
            .wait_for_connections_opened(opened + 1, WAIT)
            .await
            .expect("the process connects");
        h.world
            .slack
            .wait_for_open_connections(1, WAIT)
            .await
            .expect("a connection is open");
        BotProcess { child, paused }
    }

    /// Waits until the process says it paused.
    async fn wait_paused(&mut self) {
        tokio::time::timeout(WAIT, self.paused.wait_for(|p| *p))
            .await
            .expect("the process reaches its pause point")
            .expect("the process is running");
    }

    /// `kill -9`, and Slack's side of the dead socket closed.
    async fn kill(mut self, h: &Harness) {
        self.child.start_kill().expect("SIGKILL");
        let status = self.child.wait().await.expect("the process ends");
        assert!(!status.success(), "killed, not exited");
        // Slack closes a dead client's socket; the sim does so on a refresh.
        h.world
            .slack
            .disconnect_all(lockstep_sim::slack::DisconnectReason::RefreshRequested);
        h.world
            .slack
            .wait_for_open_connections(0, WAIT)
            .await
            .expect("the killed process's socket is gone");
    }
}

/// A world whose in-process bot is stopped, and a config file for a process.
async fn world_for_a_process() -> (Harness, tempfile::TempDir, std::path::PathBuf) {
    let mut h = Harness::start_promotable(|_| {}).await;
    h.stop_bot().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lockstep.toml");
    let text = lockstep::local::world::config_file(
        &h.world,
        crate::harness::PROMOTION_CONFIG,
        &dir.path().join("store"),
        dir.path(),
    );
    std::fs::write(&config, text).unwrap();
    (h, dir, config)
}

/// Hand edits on staging that git never saw: `push` makes four writes to undo them
/// (git wins), `pull` commits them.
fn stage_four_changes(h: &Harness) {
    let frappe = &h.world.frappe;
    let mut beneficiary = frappe.get_doc("staging", "DocType", "Beneficiary").unwrap();
    for field in beneficiary["fields"].as_array_mut().unwrap() {
        if field["fieldname"] == "age" {
            field["non_negative"] = json!(0);
        }
    }
    frappe.set_doc("staging", beneficiary).unwrap();
    for role in ["Auditor", "Reviewer", "Treasurer"] {
        frappe
            .set_doc(
                "staging",
                json!({"doctype": "Role", "name": role, "role_name": role, "desk_access": 1}),
            )
            .unwrap();
    }
}

/// The text of the last edit of a message, once it holds `needle`.
async fn edit_holding(h: &mut Harness, needle: &str) -> String {
    match h
        .wait_for(needle, |o| {
            matches!(o, lockstep_sim::slack::BotOutput::Updated { text, .. } if text.contains(needle))
        })
        .await
    {
        lockstep_sim::slack::BotOutput::Updated { text, .. } => text,
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_killed_after_each_write_reports_and_audits_every_write_once() {
    for n in 1..=4 {
        let (mut h, _dir, config) = world_for_a_process().await;
        stage_four_changes(&h);
        let mut bot = BotProcess::start(&h, &config, Some(&format!("after:apply#{n}"))).await;
        h.command("push").await;
        bot.wait_paused().await;
        bot.kill(&h).await;
        let bot = BotProcess::start(&h, &config, None).await;
        let done = edit_holding(&mut h, "Push: applied").await;
        assert!(
            done.contains("Push: applied 4 changes"),
            "killed after write {n}: {done}"
        );
        h.command("audit 50").await;
        let (_, audit) = h.wait_for_post("*Audit log*").await;
        let writes: Vec<&str> = audit
            .lines()
            .filter(|l| l.contains("(from staging@"))
            .collect();
        let distinct: BTreeSet<&str> = writes.iter().copied().collect();
        assert_eq!(writes.len(), 4, "killed after write {n}: {audit}");
        assert_eq!(distinct.len(), 4, "killed after write {n}: {writes:?}");
        bot.kill(&h).await;
        h.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_killed_after_its_commit_reports_it_and_commits_once() {
    let (mut h, _dir, config) = world_for_a_process().await;
    stage_four_changes(&h);
    let before = h.world.github.repo(REPO).branch_sha("staging").unwrap();
    let mut bot = BotProcess::start(&h, &config, Some("after:commit")).await;
    h.command("pull").await;
    bot.wait_paused().await;
    bot.kill(&h).await;
    let landed = h.world.github.repo(REPO).branch_sha("staging").unwrap();
    assert_ne!(landed, before, "the commit landed before the kill");
    let bot = BotProcess::start(&h, &config, None).await;
    let done = edit_holding(&mut h, "Pull: committed").await;
    assert!(done.contains("Pull: committed 4 files"), "{done}");
    assert_eq!(
        h.world.github.repo(REPO).branch_sha("staging").unwrap(),
        landed,
        "the same commit, not a second one"
    );
    h.command("audit 10").await;
    let (_, audit) = h.wait_for_post("*Audit log*").await;
    assert_eq!(audit.matches("*pull* — committed").count(), 1, "{audit}");
    bot.kill(&h).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_killed_at_its_writes_ends_once() {
    for point in ["after:snapshot", "after:pr", "after:merge", "before:probes"] {
        let (mut h, _dir, config) = world_for_a_process().await;
        let mut bot = BotProcess::start(&h, &config, Some(point)).await;
        let mut people = People::default();
        let mut paused = bot.paused.clone();
        let first = drive(&mut h, &mut people, Some(&mut paused), point).await;
        assert_eq!(first, Ended::Paused, "{point}");
        bot.wait_paused().await;
        bot.kill(&h).await;
        let bot = BotProcess::start(&h, &config, None).await;
        people.merge_pressed = false;
        people.ticked.clear();
        let end = drive(&mut h, &mut people, None, point).await;
        assert_eq!(end, Ended::Succeeded, "{point}");
        check_invariants(&h, point, false);
        bot.kill(&h).await;
        h.stop().await;
    }
}
