//! The promotion's transitions as a table: (state, input) → (state, effects), with
//! every refusal. Written against the pure `step`; no I/O.

use super::*;
use crate::checks::{BoxId, BoxOutcome};
use crate::command::Command;
use crate::config::Config;
use crate::ids::RunId;
use crate::workflow::effect::{Block, Effect, Requester};
use crate::workflow::op::{
    ChangeRequest, ChecklistResult, DeployState, DeployStepState, Failure, Op, OpResult, Outcome,
    Probe, PullRef, ReviewState, ReviewVerdict, SetEntry, SnapshotResult,
};
use crate::workflow::run::{Input, Press, Roles, StepContext, Transition};
use chrono::{DateTime, TimeZone, Utc};

const PM: &str = "U0PM";
const DEV: &str = "U0DEV";
const ADMIN: &str = "U0ADMIN";
const HEAD: &str = "1111111111111111111111111111111111111111";
const NEW_HEAD: &str = "2222222222222222222222222222222222222222";

fn config() -> Config {
    let text = r#"
[access]
promoters = ["U0PM"]
approvers = ["U0DEV", "U0PM"]
admins = ["U0ADMIN"]
[freeze]
timezone = "Asia/Kolkata"
[sprint]
start = "2026-11-02"
length_days = 14
[rotation]
members = [{ slack = "U0DEV", github = "alice" }, { slack = "U0ADMIN", github = "bob" }]
period_days = 7
start = "2026-11-02"
[github]
owner = "acme"
repo = "frappe-config"
[sites.prod]
url = "http://127.0.0.1:1"
role = "production"
frappe_site_name = "prod.local"
"#;
    Config::for_tests(text)
}

/// Wednesday 2026-11-25 14:30 in Asia/Kolkata.
fn wednesday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}

struct Table {
    config: Config,
    run: PromotionRun,
    now: DateTime<Utc>,
}

fn requester() -> Requester {
    Requester {
        response_url: "http://slack/response/1".into(),
        channel: "C0DEPLOY".into(),
        user: PM.into(),
    }
}

impl Table {
    fn new(emergency: bool) -> Self {
        let command = Command::Promote {
            emergency: None,
            only: Vec::new(),
            feature: None,
            dry_run: false,
        };
        let header = RunHeader::new(
            RunId("run-0a1b2c3d4e".into()),
            command,
            requester(),
            wednesday(),
        );
        let request = PromotionRequest {
            only: Vec::new(),
            feature: None,
            emergency: emergency.then(|| ("db patch".to_string(), "db patch".to_string())),
        };
        Table {
            config: config(),
            run: PromotionRun::new(header, request),
            now: wednesday(),
        }
    }

    fn step(&mut self, input: Input) -> Transition {
        let ctx = StepContext {
            now: self.now,
            config: &self.config,
        };
        self.run.step(&input, &ctx)
    }

    fn state(&self) -> PromotionState {
        self.run.state
    }

    /// The outcome of the work the run waits for.
    fn done(&mut self, result: OpResult) -> Transition {
        let key = self
            .run
            .facts
            .waiting
            .clone()
            .expect("the run waits for work");
        self.step(Input::Done { key, result })
    }

    fn press(&mut self, user: &str, action: &str, roles: Roles) -> Transition {
        let version = self.run.header.version;
        self.press_at(user, action, roles, version)
    }

    fn press_at(&mut self, user: &str, action: &str, roles: Roles, version: u64) -> Transition {
        self.step(Input::Press(Press {
            user: user.into(),
            action: action.into(),
            version,
            roles,
            reply_to: Some(Requester {
                response_url: "http://slack/response/2".into(),
                channel: "C0DEPLOY".into(),
                user: user.into(),
            }),
            trigger_id: None,
            at: self.now,
        }))
    }

    /// Drives a fresh run to `AwaitingApproval` with a fresh backup.
    fn approved() -> Self {
        let mut table = Table::new(false);
        table.step(Input::Start);
        table.done(checklist(true, true, false));
        table.done(Ok(Outcome::Snapshot(snapshot())));
        table.done(Ok(Outcome::Pull(pull(HEAD))));
        table.done(Ok(Outcome::Done));
        table.done(Ok(Outcome::Done));
        table.done(reviews(
            HEAD,
            ReviewVerdict::Approved(vec!["alice".into()]),
            vec![],
        ));
        assert_eq!(table.state(), PromotionState::AwaitingApproval);
        table
    }
}

fn approver() -> Roles {
    Roles {
        promoter: true,
        approver: true,
        admin: false,
    }
}

fn nobody() -> Roles {
    Roles::default()
}

fn backup() -> BackupInfo {
    BackupInfo {
        id: "20261125_140000-prod_local".into(),
        taken_at: wednesday(),
        database_path: Some(
            "./prod.local/private/backups/20261125_140000-prod_local-database.sql.gz".into(),
        ),
    }
}

fn checklist(passes: bool, fresh_backup: bool, freeze_warn: bool) -> OpResult {
    let mut boxes = vec![BoxOutcome::pass(BoxId::Diff, "clean")];
    if !passes {
        boxes.push(BoxOutcome::fail(BoxId::Reviewer, "1 HIGH"));
    }
    if freeze_warn {
        boxes.push(BoxOutcome::warn(
            BoxId::FreezeGuard,
            "Friday 15:00, emergency: db patch",
        ));
    }
    Ok(Outcome::Checklist(Box::new(ChecklistResult {
        rendered: "✓ diff".into(),
        boxes,
        passes,
        backup: fresh_backup.then(backup),
        set: vec![
            SetEntry {
                doctype: "DocType".into(),
                name: "Beneficiary".into(),
                change: "changed".into(),
                path: "fixtures/app/doctypes/beneficiary.json".into(),
                family: "beneficiary".into(),
            },
            SetEntry {
                doctype: "Custom Field".into(),
                name: "Old-field".into(),
                change: "removed".into(),
                path: "fixtures/app/custom_fields/old-field.json".into(),
                family: "beneficiary".into(),
            },
        ],
        families: vec!["beneficiary".into()],
        reviewer: "0 CRITICAL, 0 HIGH".into(),
        tester: "5/5 tests pass".into(),
        surface: Default::default(),
        audit_excerpt: vec![
            "2026-11-25 08:00 UTC U0PM push: update DocType \"Beneficiary\"".into(),
        ],
        moved_from: Vec::new(),
    })))
}

fn snapshot() -> SnapshotResult {
    SnapshotResult {
        branch: "promote/sprint-2-beneficiary-20261125-1430".into(),
        sha: HEAD.into(),
        base: "0000000".into(),
        files: 2,
        staging_head: Some("5555555".into()),
        first_change_at: None,
    }
}

fn pull(head: &str) -> PullRef {
    PullRef {
        number: 7,
        url: "https://github.com/acme/frappe-config/pull/7".into(),
        node_id: "PR_7".into(),
        head_sha: head.into(),
    }
}

fn reviews(head: &str, decision: ReviewVerdict, change_requests: Vec<ChangeRequest>) -> OpResult {
    Ok(Outcome::Reviews(ReviewState {
        head_sha: head.into(),
        state: "open".into(),
        merged: false,
        merge_sha: None,
        decision,
        change_requests,
    }))
}

fn works(t: &Transition) -> Vec<&Op> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Work(work) => Some(&work.op),
            _ => None,
        })
        .collect()
}

fn told(t: &Transition) -> Vec<String> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Respond(reply) => Some(format!("{}: {}", reply.user, reply.message.text)),
            _ => None,
        })
        .collect()
}

fn posted(t: &Transition) -> Vec<String> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Post(post) => Some(post.message.text.clone()),
            _ => None,
        })
        .collect()
}

fn broadcast(t: &Transition) -> bool {
    t.effects
        .iter()
        .any(|e| matches!(e, Effect::Post(post) if post.broadcast))
}

fn lock(t: &Transition) -> Option<Option<&crate::store::EnvLock>> {
    t.locks.last().map(|(_, lock)| lock.as_ref())
}

fn buttons(t: &Transition) -> Vec<String> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Post(post) => Some(&post.message),
            Effect::Update(update) => Some(&update.message),
            _ => None,
        })
        .flat_map(|m| m.blocks.iter())
        .filter_map(|b| match b {
            Block::Buttons(buttons) => Some(buttons.iter().map(|b| b.action_id.clone())),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn start_takes_the_lock_posts_and_runs_the_checklist() {
    let mut table = Table::new(false);
    let t = table.step(Input::Start);
    assert_eq!(table.state(), PromotionState::Checking);
    assert!(matches!(works(&t)[..], [Op::Checklist(request)] if !request.dry_run));
    assert_eq!(
        posted(&t).len(),
        2,
        "the root message and the checklist reply"
    );
    let held = lock(&t).flatten().expect("the lock is taken");
    assert_eq!(held.holder, PM);
    assert!(
        held.expires_at.is_some(),
        "a lock that renews while the run moves"
    );
    assert!(buttons(&t).contains(&actions::CANCEL.to_string()));
}

#[test]
fn a_failed_box_refuses_releases_the_lock_and_says_so_in_the_channel() {
    let mut table = Table::new(false);
    table.step(Input::Start);
    let t = table.done(checklist(false, true, false));
    assert_eq!(table.state(), PromotionState::Refused);
    assert_eq!(lock(&t), Some(None), "released");
    assert!(broadcast(&t));
    assert!(
        posted(&t).iter().any(|p| p.contains("reviewer (1 HIGH)")),
        "{:?}",
        posted(&t)
    );
    assert!(works(&t).is_empty());
}

#[test]
fn a_fresh_backup_goes_straight_to_the_snapshot_branch() {
    let mut table = Table::new(false);
    table.step(Input::Start);
    let t = table.done(checklist(true, true, false));
    assert_eq!(table.state(), PromotionState::Snapshotting);
    let [Op::Snapshot(request)] = works(&t)[..] else {
        panic!("{:?}", works(&t))
    };
    // Sprint 2 (from 2026-11-02, 14 days); 14:30 in Asia/Kolkata.
    assert_eq!(request.branch, "promote/sprint-2-beneficiary-20261125-1430");
    assert_eq!(request.upsert, ["fixtures/app/doctypes/beneficiary.json"]);
    assert_eq!(
        request.delete,
        ["fixtures/app/custom_fields/old-field.json"]
    );
    assert!(!request.existing);
    assert_eq!(
        table.run.facts.on_call.as_ref().unwrap().github,
        "bob",
        "week 4 of the rotation"
    );
}

#[test]
fn a_stale_backup_is_taken_before_the_branch_and_a_failed_one_ends_the_run() {
    let mut table = Table::new(false);
    table.step(Input::Start);
    let t = table.done(checklist(true, false, false));
    assert_eq!(table.state(), PromotionState::BackingUp);
    assert!(matches!(works(&t)[..], [Op::TakeBackup { .. }]));
    let t = table.done(Ok(Outcome::Backup(backup())));
    assert_eq!(table.state(), PromotionState::Snapshotting);
    assert!(matches!(works(&t)[..], [Op::Snapshot(_)]));

    let mut table = Table::new(false);
    table.step(Input::Start);
    table.done(checklist(true, false, false));
    let t = table.done(Err(Failure::Refused(
        "On the bench host: bench backup failed: disk full.".into(),
    )));
    assert_eq!(table.state(), PromotionState::Failed);
    assert_eq!(lock(&t), Some(None), "nothing was merged: the lock goes");
    assert!(posted(&t).iter().any(|p| p.contains("disk full")));
}

#[test]
fn an_emergency_needs_a_second_approver_within_the_ttl() {
    let mut table = Table::new(true);
    table.step(Input::Start);
    let t = table.done(checklist(true, true, true));
    assert_eq!(table.state(), PromotionState::AwaitingEmergencyApproval);
    assert!(buttons(&t).contains(&actions::APPROVE_EMERGENCY.to_string()));
    assert!(matches!(works(&t)[..], [Op::Wait { .. }]));
    // The requester cannot be the second person, nor can someone without the right.
    let t = table.press(PM, actions::APPROVE_EMERGENCY, approver());
    assert!(told(&t)[0].contains("second person"), "{:?}", told(&t));
    let t = table.press("U0OTHER", actions::APPROVE_EMERGENCY, nobody());
    assert!(!told(&t).is_empty());
    assert_eq!(table.state(), PromotionState::AwaitingEmergencyApproval);
    // An approver's press goes on to the snapshot.
    let t = table.press(DEV, actions::APPROVE_EMERGENCY, approver());
    assert_eq!(table.state(), PromotionState::Snapshotting);
    assert!(t.drop_pending_reads, "the timer is dropped");
    assert_eq!(table.run.facts.emergency_approver.as_deref(), Some(DEV));
}

#[test]
fn an_emergency_without_a_second_approver_expires() {
    let mut table = Table::new(true);
    table.step(Input::Start);
    table.done(checklist(true, true, true));
    // A timer that fires early (a restart) waits again.
    let t = table.done(Ok(Outcome::Elapsed));
    assert_eq!(table.state(), PromotionState::AwaitingEmergencyApproval);
    assert!(matches!(works(&t)[..], [Op::Wait { .. }]));
    table.now += chrono::Duration::minutes(31);
    let t = table.done(Ok(Outcome::Elapsed));
    assert_eq!(table.state(), PromotionState::Refused);
    assert_eq!(lock(&t), Some(None));
    assert!(posted(&t).iter().any(|p| p.contains("expired")));
    // The button is no longer an offer.
    let t = table.press_at(DEV, actions::APPROVE_EMERGENCY, approver(), 2);
    assert!(told(&t)[0].contains("did nothing"), "{:?}", told(&t));
}

#[test]
fn the_pr_gets_the_body_labels_and_the_on_call_review() {
    let mut table = Table::new(false);
    table.step(Input::Start);
    table.done(checklist(true, true, false));
    let t = table.done(Ok(Outcome::Snapshot(snapshot())));
    assert_eq!(table.state(), PromotionState::OpeningPr);
    let [Op::OpenPull(draft)] = works(&t)[..] else {
        panic!()
    };
    for part in [
        "## Summary",
        "## Blueprints",
        "| Beneficiary | DocType | changed |",
        "| Old-field | Custom Field | removed |",
        "## Audit since the last promotion",
        "push: update DocType",
        "- reviewer: 0 CRITICAL, 0 HIGH",
        "- tester: 5/5 tests pass",
        "## Rollback",
        "bench --site prod.local restore ./prod.local/private/backups/20261125_140000-prod_local-database.sql.gz",
        "## Reviewer",
        "@bob is on call",
    ] {
        assert!(draft.body.contains(part), "{part}:\n{}", draft.body);
    }
    assert_eq!(draft.title, "Promote sprint 2: beneficiary (2 blueprints)");
    let t = table.done(Ok(Outcome::Pull(pull(HEAD))));
    assert!(matches!(works(&t)[..], [Op::LabelPull { labels, .. }] if labels == &["promotion"]));
    let t = table.done(Ok(Outcome::Done));
    assert!(matches!(works(&t)[..], [Op::RequestReview { login, .. }] if login == "bob"));
    let t = table.done(Ok(Outcome::Done));
    assert_eq!(table.state(), PromotionState::AwaitingReview);
    assert!(
        posted(&t).iter().any(|p| p.contains("<@U0ADMIN>")),
        "on call mentioned"
    );
    assert!(t.effects.iter().any(|e| matches!(e, Effect::Work(w) if matches!(w.op, Op::ReadReviews { .. }) && w.not_before.is_some())));
}

#[test]
fn changes_requested_are_quoted_once_then_an_approval_offers_the_buttons() {
    let mut table = Table::new(false);
    table.step(Input::Start);
    table.done(checklist(true, true, false));
    table.done(Ok(Outcome::Snapshot(snapshot())));
    table.done(Ok(Outcome::Pull(pull(HEAD))));
    table.done(Ok(Outcome::Done));
    table.done(Ok(Outcome::Done));
    let request = ChangeRequest {
        id: 41,
        reviewer: "bob".into(),
        body: "age must be >= 18".into(),
        comments: vec![],
    };
    let t = table.done(reviews(
        HEAD,
        ReviewVerdict::ChangesRequested,
        vec![request.clone()],
    ));
    assert!(posted(&t).iter().any(|p| p.contains("requested changes")));
    let t = table.done(reviews(
        HEAD,
        ReviewVerdict::ChangesRequested,
        vec![request.clone()],
    ));
    assert!(posted(&t).is_empty(), "quoted once");
    assert_eq!(table.state(), PromotionState::AwaitingReview);
    let t = table.done(reviews(
        HEAD,
        ReviewVerdict::Approved(vec!["bob".into()]),
        vec![request],
    ));
    assert_eq!(table.state(), PromotionState::AwaitingApproval);
    let offered = buttons(&t);
    assert!(
        offered.contains(&actions::MERGE.to_string())
            && offered.contains(&actions::HOLD.to_string()),
        "{offered:?}"
    );
    let approval = table.run.facts.approval.clone().unwrap();
    assert_eq!(approval.head_sha, HEAD);
    assert_eq!(approval.backup_id, backup().id);
}

#[test]
fn merge_is_for_an_approver_other_than_the_requester() {
    let mut table = Table::approved();
    let t = table.press(PM, actions::MERGE, approver());
    assert!(
        told(&t)[0].contains("You started this promotion"),
        "{:?}",
        told(&t)
    );
    assert_eq!(table.state(), PromotionState::AwaitingApproval);
    let t = table.press("U0OTHER", actions::MERGE, nobody());
    assert!(told(&t)[0].contains("Only approvers"), "{:?}", told(&t));
    assert_eq!(table.state(), PromotionState::AwaitingApproval);
    let version = table.run.header.version;
    let t = table.press(DEV, actions::MERGE, approver());
    assert_eq!(table.state(), PromotionState::Merging);
    assert!(matches!(works(&t)[..], [Op::Merge { head_sha, number: 7, .. }] if head_sha == HEAD));
    // A second press (a double click, or Hold just after) is already decided.
    let t = table.press_at(DEV, actions::HOLD, approver(), version);
    assert!(
        told(&t)[0].contains("already decided by <@U0DEV> (Merge & deploy)"),
        "{:?}",
        told(&t)
    );
    assert!(works(&t).is_empty());
}

#[test]
fn a_new_push_voids_the_approval_and_its_buttons() {
    let mut table = Table::approved();
    let offered = table.run.header.version;
    let t = table.done(reviews(NEW_HEAD, ReviewVerdict::Pending, vec![]));
    assert_eq!(table.state(), PromotionState::AwaitingReview);
    assert!(posted(&t).iter().any(|p| p.contains("voids the approval")));
    assert!(table.run.facts.approval.is_none());
    let t = table.press_at(DEV, actions::MERGE, approver(), offered);
    assert!(told(&t)[0].contains("did nothing"), "{:?}", told(&t));
    assert!(works(&t).is_empty(), "nothing merges");
    // The approval of the new head offers the buttons again, bound to it.
    table.done(reviews(
        NEW_HEAD,
        ReviewVerdict::Approved(vec!["alice".into()]),
        vec![],
    ));
    assert_eq!(
        table.run.facts.approval.as_ref().unwrap().head_sha,
        NEW_HEAD
    );
}

#[test]
fn protection_and_a_moved_head_refuse_the_merge_and_it_waits_again() {
    for status in [405, 409] {
        let mut table = Table::approved();
        table.press(DEV, actions::MERGE, approver());
        let t = table.done(Err(Failure::MergeRefused {
            status,
            text: "At least 1 approving review is required".into(),
        }));
        assert_eq!(table.state(), PromotionState::AwaitingReview, "{status}");
        assert!(broadcast(&t));
        assert!(posted(&t)
            .iter()
            .any(|p| p.contains(&format!("refused ({status})"))));
        assert!(matches!(works(&t)[..], [Op::ReadReviews { .. }]));
    }
}

#[test]
fn hold_parks_until_an_approver_resumes() {
    let mut table = Table::approved();
    let t = table.press(DEV, actions::HOLD, approver());
    assert_eq!(table.state(), PromotionState::Held);
    assert!(buttons(&t).contains(&actions::RESUME.to_string()));
    let t = table.press(PM, actions::RESUME, approver());
    assert!(
        !told(&t).is_empty(),
        "the requester may not resume their own"
    );
    table.press(
        ADMIN,
        actions::RESUME,
        Roles {
            approver: true,
            ..Roles::default()
        },
    );
    assert_eq!(table.state(), PromotionState::AwaitingReview);
}

#[test]
fn cancel_before_the_merge_closes_the_pr_and_releases_the_lock() {
    let mut table = Table::approved();
    let t = table.press(DEV, actions::CANCEL, approver());
    assert!(told(&t)[0].contains("Only <@U0PM>"), "{:?}", told(&t));
    let t = table.press(PM, actions::CANCEL, nobody());
    assert_eq!(table.state(), PromotionState::Cancelling);
    assert!(matches!(works(&t)[..], [Op::ClosePull { number: 7 }]));
    let t = table.done(Ok(Outcome::Done));
    assert_eq!(table.state(), PromotionState::Cancelled);
    assert_eq!(lock(&t), Some(None));
    // Apply after Cancel: already decided.
    let t = table.press_at(DEV, actions::MERGE, approver(), 2);
    assert!(works(&t).is_empty());
}

fn merged() -> Table {
    let mut table = Table::approved();
    table.press(DEV, actions::MERGE, approver());
    let t = table.done(Ok(Outcome::Merged {
        sha: "mmmmmmm".into(),
    }));
    assert_eq!(table.state(), PromotionState::Deploying);
    assert!(matches!(works(&t)[..], [Op::ReadDeploy { merge_sha }] if merge_sha == "mmmmmmm"));
    table
}

fn deploy(steps: &[(&str, Option<&str>)], conclusion: Option<&str>) -> OpResult {
    Ok(Outcome::Deploy(DeployState {
        run_id: Some(9),
        url: Some("https://github.com/acme/frappe-config/actions/runs/9".into()),
        steps: steps
            .iter()
            .map(|(name, conclusion)| DeployStepState {
                name: (*name).into(),
                status: if conclusion.is_some() {
                    "completed"
                } else {
                    "in_progress"
                }
                .into(),
                conclusion: conclusion.map(str::to_string),
            })
            .collect(),
        conclusion: conclusion.map(str::to_string),
        failure: (conclusion == Some("failure"))
            .then(|| "OperationalError: Unknown column 'age'".into()),
    }))
}

#[test]
fn the_deploy_is_watched_step_by_step_then_the_smoke_test_ends_it() {
    let mut table = merged();
    let t = table.done(deploy(
        &[("backup", Some("success")), ("migrate", None)],
        None,
    ));
    assert_eq!(posted(&t), ["✓ backup — success"]);
    assert!(matches!(works(&t)[..], [Op::ReadDeploy { .. }]));
    let t = table.done(deploy(
        &[
            ("backup", Some("success")),
            ("migrate", Some("success")),
            ("restart", Some("success")),
        ],
        Some("success"),
    ));
    assert_eq!(table.state(), PromotionState::Smoke);
    assert!(matches!(works(&t)[..], [Op::Smoke { .. }]));
    let items = table.run.facts.smoke.items.len();
    assert!(items >= 1);
    table.done(Ok(Outcome::Smoke(vec![Probe {
        what: "list of Beneficiary".into(),
        ok: true,
        detail: "loads".into(),
    }])));
    for n in 0..items {
        let t = table.press(DEV, &format!("{}{n}", actions::SMOKE_OK), nobody());
        if n + 1 < items {
            assert_eq!(table.state(), PromotionState::Smoke);
        } else {
            assert_eq!(table.state(), PromotionState::Succeeded);
            assert_eq!(lock(&t), Some(None), "released on success");
        }
    }
}

#[test]
fn a_failed_migrate_restores_opens_a_revert_and_keeps_production_locked() {
    let mut table = merged();
    let t = table.done(deploy(
        &[("backup", Some("success")), ("migrate", Some("failure"))],
        Some("failure"),
    ));
    assert_eq!(table.state(), PromotionState::RollingBack);
    assert!(broadcast(&t));
    assert!(posted(&t)
        .iter()
        .any(|p| p.contains("Unknown column") && p.contains("<@U0ADMIN>")));
    assert!(matches!(works(&t)[..], [Op::Restore { backup: b }] if b.id == backup().id));
    let t = table.done(Ok(Outcome::Restored {
        detail: "site prod.local restored".into(),
    }));
    assert!(
        matches!(works(&t)[..], [Op::RevertPull { number: 7, body, .. }] if body.starts_with("Reverts #7."))
    );
    let t = table.done(Ok(Outcome::Reverted(PullRef {
        number: 8,
        url: "https://github.com/acme/frappe-config/pull/8".into(),
        node_id: "PR_8".into(),
        head_sha: NEW_HEAD.into(),
    })));
    assert_eq!(table.state(), PromotionState::RolledBack);
    let held = lock(&t).flatten().expect("production stays locked");
    assert!(held.expires_at.is_none(), "until an admin unlocks");
    assert!(held.reason.contains("rolled back"), "{}", held.reason);
}

#[test]
fn a_failed_restore_is_escalated_never_retried_and_the_run_fails() {
    let mut table = merged();
    table.done(deploy(&[("migrate", Some("failure"))], Some("failure")));
    let t = table.done(Err(Failure::Interrupted));
    assert!(broadcast(&t));
    assert!(posted(&t)
        .iter()
        .any(|p| p.contains("FAILED") && p.contains("will not retry")));
    assert!(
        matches!(works(&t)[..], [Op::RevertPull { .. }]),
        "the revert still opens"
    );
    let t = table.done(Ok(Outcome::Reverted(pull(NEW_HEAD))));
    assert_eq!(table.state(), PromotionState::Failed);
    assert!(lock(&t).flatten().is_some(), "production stays locked");
}

#[test]
fn a_broken_smoke_item_offers_the_rollback_to_people_with_the_right() {
    let mut table = merged();
    table.done(deploy(&[("migrate", Some("success"))], Some("success")));
    table.done(Ok(Outcome::Smoke(vec![])));
    let t = table.press(DEV, &format!("{}0", actions::SMOKE_BAD), nobody());
    assert!(buttons(&t).contains(&actions::ROLL_BACK.to_string()));
    assert_eq!(table.state(), PromotionState::Smoke);
    let t = table.press("U0OTHER", actions::ROLL_BACK, nobody());
    assert!(!told(&t).is_empty());
    let t = table.press(DEV, actions::ROLL_BACK, approver());
    assert_eq!(table.state(), PromotionState::RollingBack);
    assert!(matches!(works(&t)[..], [Op::Restore { .. }]));
}

#[test]
fn a_rerun_for_the_same_feature_checks_again_and_updates_the_branch_and_pr() {
    let mut table = Table::approved();
    let t = table.step(Input::Again {
        user: PM.into(),
        command: table.run.header.command.clone(),
        reply_to: requester(),
    });
    assert_eq!(table.state(), PromotionState::Checking);
    assert!(t.drop_pending_reads);
    assert!(table.run.facts.approval.is_none());
    let t = table.done(checklist(true, true, false));
    let [Op::Snapshot(request)] = works(&t)[..] else {
        panic!()
    };
    assert!(request.existing, "the same branch");
    let t = table.done(Ok(Outcome::Snapshot(snapshot())));
    assert!(matches!(works(&t)[..], [Op::OpenPull(draft)] if draft.existing == Some(7)));
}

#[test]
fn a_rerun_while_deploying_is_refused_naming_the_run() {
    let mut table = merged();
    let t = table.step(Input::Again {
        user: PM.into(),
        command: table.run.header.command.clone(),
        reply_to: requester(),
    });
    assert!(told(&t)[0].contains("run-0a1b2c3d4e"), "{:?}", told(&t));
    assert_eq!(table.state(), PromotionState::Deploying);
}

#[test]
fn outcomes_of_superseded_work_are_ignored() {
    let mut table = Table::approved();
    let t = table.step(Input::Done {
        key: "run-0a1b2c3d4e/reviews/2".into(),
        result: reviews(NEW_HEAD, ReviewVerdict::Pending, vec![]),
    });
    assert_eq!(t, Transition::default());
    assert_eq!(table.state(), PromotionState::AwaitingApproval);
}

#[test]
fn every_state_renders_a_root_message_and_terminal_ones_offer_nothing() {
    let mut table = Table::new(false);
    for state in [
        PromotionState::Checking,
        PromotionState::AwaitingReview,
        PromotionState::Succeeded,
        PromotionState::RolledBack,
        PromotionState::Cancelled,
    ] {
        table.run.state = state;
        let message = text::root(&table.run);
        assert!(message.text.contains(state.describe()), "{state:?}");
        let offers_cancel = message
            .blocks
            .iter()
            .any(|b| matches!(b, Block::Buttons(_)));
        assert_eq!(offers_cancel, state.is_before_merge(), "{state:?}");
    }
}
