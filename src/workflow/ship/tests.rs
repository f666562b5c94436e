//! The release's transitions as a table: (state, input) → (state, effects), with
//! every refusal. Written against the pure `step`; no I/O.

use super::*;
use crate::command::Command;
use crate::config::Config;
use crate::ids::RunId;
use crate::workflow::effect::{Effect, Requester};
use crate::workflow::op::{Failure, Op, OpResult, Outcome, ReviewState, ReviewVerdict};
use crate::workflow::run::{Input, Press, Roles, StepContext, Submission, Transition};
use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;

const PM: &str = "U0PM";
const DEV: &str = "U0DEV";
const STRANGER: &str = "U0NOBODY";
const MERGE_SHA: &str = "3333333333333333333333333333333333333333";

fn config(changelog: &str) -> Config {
    let text = format!(
        r#"
[access]
promoters = ["U0PM"]
approvers = ["U0DEV", "U0PM"]
admins = ["U0ADMIN"]
[freeze]
timezone = "Asia/Kolkata"
[rotation]
members = [{{ slack = "U0DEV", github = "alice" }}]
period_days = 7
start = "2026-11-02"
[github]
owner = "acme"
repo = "frappe-config"
[slack]
release_channel = "C0RELEASES"
[ship]
changelog = "{changelog}"
[sites.prod]
url = "http://127.0.0.1:1"
role = "production"
frappe_site_name = "prod.local"
"#
    );
    Config::for_tests(&text)
}

fn wednesday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}

fn requester() -> Requester {
    Requester {
        response_url: "http://slack/response/1".into(),
        channel: "C0DEPLOY".into(),
        user: PM.into(),
    }
}

fn approver() -> Roles {
    Roles {
        promoter: false,
        approver: true,
        admin: false,
    }
}

struct Table {
    config: Config,
    run: ShipRun,
}

impl Table {
    fn new(changelog: &str) -> Self {
        let version = semver::Version::new(0, 1, 0);
        let command = Command::Ship {
            version: version.clone(),
            notes_from: None,
            dry_run: false,
        };
        let header = RunHeader::new(
            RunId("run-5h1p5h1p00".into()),
            command,
            requester(),
            wednesday(),
        );
        let request = ShipRequest {
            version,
            notes_from: None,
            date: wednesday().date_naive(),
            promotion: ShippedPromotion {
                run_id: RunId("run-pr0m0t10n0".into()),
                channel: "C0DEPLOY".into(),
            },
            promoted: vec![PromotedBlueprint {
                doctype: "DocType".into(),
                name: "Beneficiary".into(),
                number: 1,
                url: "https://github.com/acme/frappe-config/pull/1".into(),
            }],
            approvals: vec!["#1 approved by @alice".into()],
        };
        Table {
            config: config(changelog),
            run: ShipRun::new(header, request),
        }
    }

    fn step(&mut self, input: Input) -> Transition {
        let ctx = StepContext {
            now: wednesday(),
            config: &self.config,
        };
        self.run.step(&input, &ctx)
    }

    fn state(&self) -> ShipState {
        self.run.state
    }

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
            trigger_id: Some("trigger-1".into()),
            at: wednesday(),
        }))
    }

    fn submit(&mut self, user: &str, text: &str, version: u64) -> Transition {
        let mut values = BTreeMap::new();
        values.insert(
            actions::NOTES_BLOCK.to_string(),
            BTreeMap::from([(actions::NOTES_INPUT.to_string(), text.to_string())]),
        );
        self.step(Input::Submit(Submission {
            user: user.into(),
            callback_id: actions::EDITOR.into(),
            version,
            values,
            roles: approver(),
            at: wednesday(),
        }))
    }

    /// A fresh run drafted and waiting for a decision.
    fn drafted(changelog: &str) -> Self {
        let mut table = Table::new(changelog);
        table.step(Input::Start);
        table.done(Ok(Outcome::ReleaseDraft(Box::new(draft()))));
        assert_eq!(table.state(), ShipState::AwaitingDecision);
        table
    }

    /// Drafted and shipped in "direct" mode, now tagging.
    fn tagging() -> Self {
        let mut table = Table::drafted("direct");
        table.press(PM, actions::SHIP, Roles::default());
        table.done(Ok(Outcome::ChangelogCommitted {
            sha: MERGE_SHA.into(),
            on_main: true,
        }));
        assert_eq!(table.state(), ShipState::Tagging);
        table
    }
}

fn draft() -> ReleaseDraft {
    ReleaseDraft {
        body: "### DocType\n- Beneficiary ([#1](https://github.com/acme/frappe-config/pull/1))"
            .into(),
        changes: 1,
        previous_tag: None,
        base: MERGE_SHA.into(),
        repo_url: "https://github.com/acme/frappe-config".into(),
        from_pr: None,
    }
}

fn ops(t: &Transition) -> Vec<&Op> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Work(work) => Some(&work.op),
            _ => None,
        })
        .collect()
}

fn private_texts(t: &Transition) -> Vec<String> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Respond(reply) => Some(reply.message.text.clone()),
            _ => None,
        })
        .collect()
}

/// The lock change the transition asks for: `Some(true)` held, `Some(false)` released.
fn lock_held(t: &Transition) -> Option<bool> {
    t.locks.last().map(|(_, change)| change.is_some())
}

#[test]
fn start_posts_the_root_drafts_and_takes_the_production_lock() {
    let mut table = Table::new("pr");
    let t = table.step(Input::Start);
    assert!(matches!(ops(&t)[..], [Op::DraftRelease(_)]));
    assert!(t
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Post(p) if p.channel == "C0DEPLOY" && p.thread_of.is_none())));
    assert_eq!(lock_held(&t), Some(true));
    assert_eq!(table.state(), ShipState::Drafting);
}

#[test]
fn a_refused_draft_ends_the_run_and_frees_the_lock() {
    let mut table = Table::new("pr");
    table.step(Input::Start);
    let t = table.done(Err(Failure::Refused("tag v0.1.0 already exists.".into())));
    assert_eq!(table.state(), ShipState::Refused);
    assert_eq!(lock_held(&t), Some(false));
    assert!(table
        .run
        .facts
        .outcome
        .as_deref()
        .unwrap()
        .contains("already exists"));
}

#[test]
fn a_stranger_cannot_press_and_nothing_moves() {
    let mut table = Table::drafted("pr");
    let version = table.run.header.version;
    let t = table.press(STRANGER, actions::SHIP, Roles::default());
    assert_eq!(table.state(), ShipState::AwaitingDecision);
    assert_eq!(table.run.header.version, version);
    assert!(ops(&t).is_empty());
    assert!(private_texts(&t)[0].contains("Only <@U0PM>"));
}

#[test]
fn a_button_from_an_earlier_draft_does_nothing() {
    let mut table = Table::drafted("pr");
    let old = table.run.header.version - 1;
    let t = table.press_at(PM, actions::SHIP, Roles::default(), old);
    assert_eq!(table.state(), ShipState::AwaitingDecision);
    assert!(ops(&t).is_empty());
    assert!(private_texts(&t)[0].contains("earlier draft"));
}

#[test]
fn edit_opens_the_editor_with_the_draft() {
    let mut table = Table::drafted("pr");
    let t = table.press(DEV, actions::EDIT, approver());
    let modal = t
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::OpenModal(modal) => Some(modal),
            _ => None,
        })
        .expect("a modal");
    assert_eq!(modal.trigger_id, "trigger-1");
    assert!(modal.view.to_string().contains("Beneficiary"));
    assert_eq!(table.state(), ShipState::AwaitingDecision);
}

#[test]
fn a_saved_edit_replaces_the_body_and_invalidates_older_buttons() {
    let mut table = Table::drafted("pr");
    let opened_at = table.run.header.version;
    table.submit(
        DEV,
        "### DocType\n- Beneficiary, now with a phone field\n",
        opened_at,
    );
    assert_eq!(
        table.run.facts.draft.as_ref().unwrap().body,
        "### DocType\n- Beneficiary, now with a phone field"
    );
    assert_eq!(table.run.facts.edited_by.as_deref(), Some(DEV));
    let t = table.press_at(PM, actions::SHIP, Roles::default(), opened_at);
    assert!(
        ops(&t).is_empty(),
        "a Ship button from before the edit must not ship"
    );
}

#[test]
fn an_edit_after_the_draft_moved_on_is_not_saved_and_the_text_is_given_back() {
    let mut table = Table::drafted("pr");
    let opened_at = table.run.header.version;
    table.press(PM, actions::SHIP, Roles::default());
    let t = table.submit(DEV, "my careful notes", opened_at);
    let text = private_texts(&t).join("\n");
    assert!(text.contains("was not saved"), "{text}");
    assert!(text.contains("pressed Ship"), "{text}");
    let Effect::Respond(reply) = &t.effects[0] else {
        panic!("a private reply")
    };
    assert!(format!("{:?}", reply.message).contains("my careful notes"));
}

#[test]
fn empty_notes_are_refused() {
    let mut table = Table::drafted("pr");
    let version = table.run.header.version;
    let t = table.submit(PM, "  \n \n", version);
    assert!(private_texts(&t)[0].contains("cannot be empty"));
    assert_eq!(table.run.facts.draft.as_ref().unwrap().body, draft().body);
}

#[test]
fn the_pr_path_commits_opens_a_pr_waits_for_approval_merges_tags_and_releases() {
    let mut table = Table::drafted("pr");
    let t = table.press(PM, actions::SHIP, Roles::default());
    let [Op::CommitChangelog(commit)] = &ops(&t)[..] else {
        panic!("a changelog commit: {:?}", ops(&t))
    };
    assert_eq!(commit.branch, "release/v0.1.0");
    assert!(
        commit.entry.starts_with("## [0.1.0] - 2026-11-25"),
        "{}",
        commit.entry
    );
    assert!(commit.entry.contains("Beneficiary"));

    table.done(Ok(Outcome::ChangelogCommitted {
        sha: "4444444444444444444444444444444444444444".into(),
        on_main: false,
    }));
    assert_eq!(table.state(), ShipState::OpeningPr);
    table.done(Ok(Outcome::Pull(crate::workflow::op::PullRef {
        number: 7,
        url: "https://github.com/acme/frappe-config/pull/7".into(),
        node_id: "PR_7".into(),
        head_sha: "4444444444444444444444444444444444444444".into(),
    })));
    let t = table.done(Ok(Outcome::Done)); // labelled
    assert!(matches!(ops(&t)[..], [Op::RequestReview { number: 7, login }] if login == "alice"));
    table.done(Ok(Outcome::Done)); // review requested
    assert_eq!(table.state(), ShipState::AwaitingReview);

    let t = table.done(Ok(Outcome::Reviews(ReviewState {
        head_sha: "4444444444444444444444444444444444444444".into(),
        state: "open".into(),
        merged: false,
        merge_sha: None,
        decision: ReviewVerdict::Approved(vec!["alice".into()]),
        change_requests: vec![],
    })));
    assert!(matches!(ops(&t)[..], [Op::Merge { number: 7, .. }]));
    let t = table.done(Ok(Outcome::Merged {
        sha: MERGE_SHA.into(),
    }));
    assert!(
        matches!(&ops(&t)[..], [Op::Tag { tag, sha, .. }] if tag == "v0.1.0" && sha == MERGE_SHA)
    );
    let t = table.done(Ok(Outcome::Tagged {
        object: "5555555555555555555555555555555555555555".into(),
        already: false,
    }));
    assert!(
        matches!(&ops(&t)[..], [Op::Release { tag, body, .. }] if tag == "v0.1.0" && body.contains("Beneficiary"))
    );
    let t = table.done(Ok(Outcome::Released {
        url: "https://github.com/acme/frappe-config/releases/tag/v0.1.0".into(),
        already: false,
    }));
    assert_eq!(table.state(), ShipState::Shipped);
    assert_eq!(lock_held(&t), Some(false));
    let posts: Vec<_> = t
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Post(post) => Some(post),
            _ => None,
        })
        .collect();
    assert!(posts
        .iter()
        .any(|p| p.channel == "C0RELEASES" && p.thread_of.is_none()));
    assert!(posts
        .iter()
        .any(|p| p.thread_of.as_deref() == Some("run-pr0m0t10n0/message")));
    let (tag, url, _) = table.run.shipped().unwrap();
    assert_eq!(tag, "v0.1.0");
    assert!(url.unwrap().ends_with("/releases/tag/v0.1.0"));
}

#[test]
fn direct_mode_commits_on_the_production_branch_and_tags_that_commit() {
    let mut table = Table::drafted("direct");
    let t = table.press(PM, actions::SHIP, Roles::default());
    let [Op::CommitChangelog(commit)] = &ops(&t)[..] else {
        panic!("a changelog commit")
    };
    assert_eq!(commit.branch, "main");
    let t = table.done(Ok(Outcome::ChangelogCommitted {
        sha: MERGE_SHA.into(),
        on_main: true,
    }));
    assert!(matches!(&ops(&t)[..], [Op::Tag { sha, .. }] if sha == MERGE_SHA));
}

#[test]
fn a_pressed_decision_is_taken_once() {
    let mut table = Table::drafted("direct");
    let version = table.run.header.version;
    table.press(PM, actions::SHIP, Roles::default());
    let t = table.press_at(DEV, actions::SHIP, approver(), version);
    assert!(ops(&t).is_empty());
    assert!(private_texts(&t)[0].contains("already decided by <@U0PM> (Ship)"));
}

#[test]
fn a_failing_tag_is_retried_later_then_given_up_with_what_exists() {
    let mut table = Table::tagging();
    for attempt in 1..super::step::MAX_ATTEMPTS {
        let t = table.done(Err(Failure::Refused("GitHub answered 502".into())));
        let Effect::Work(work) = t
            .effects
            .iter()
            .find(|e| matches!(e, Effect::Work(_)))
            .unwrap()
        else {
            unreachable!()
        };
        assert!(
            work.not_before.unwrap() > wednesday(),
            "attempt {attempt} waits"
        );
        assert_eq!(table.state(), ShipState::Tagging);
    }
    table.done(Err(Failure::Refused("GitHub answered 502".into())));
    assert_eq!(table.state(), ShipState::Failed);
    let outcome = table.run.facts.outcome.clone().unwrap();
    assert!(
        outcome.contains("CHANGELOG.md is on the production branch"),
        "{outcome}"
    );
    assert!(outcome.contains("No release was made"), "{outcome}");
}

#[test]
fn a_tag_already_on_another_commit_is_never_forced() {
    let mut table = Table::tagging();
    table.done(Err(Failure::Refused(
        "There is already a tag v0.1.0 on another commit.".into(),
    )));
    assert_eq!(table.state(), ShipState::Failed);
    assert!(table
        .run
        .facts
        .outcome
        .clone()
        .unwrap()
        .contains("Nothing was forced"));
}

#[test]
fn cancel_before_anything_was_written_changes_nothing() {
    let mut table = Table::drafted("pr");
    let t = table.press(DEV, actions::CANCEL, approver());
    assert_eq!(table.state(), ShipState::Cancelled);
    assert!(ops(&t).is_empty());
    assert_eq!(lock_held(&t), Some(false));
}

#[test]
fn cancel_release_while_in_review_closes_the_pr() {
    let mut table = Table::drafted("pr");
    table.press(PM, actions::SHIP, Roles::default());
    table.done(Ok(Outcome::ChangelogCommitted {
        sha: "4444444444444444444444444444444444444444".into(),
        on_main: false,
    }));
    table.done(Ok(Outcome::Pull(crate::workflow::op::PullRef {
        number: 7,
        url: "https://github.com/acme/frappe-config/pull/7".into(),
        node_id: "PR_7".into(),
        head_sha: "4444444444444444444444444444444444444444".into(),
    })));
    table.done(Ok(Outcome::Done));
    table.done(Ok(Outcome::Done));
    assert_eq!(table.state(), ShipState::AwaitingReview);
    let t = table.press(PM, actions::CANCEL, Roles::default());
    assert!(matches!(ops(&t)[..], [Op::ClosePull { number: 7 }]));
    table.done(Ok(Outcome::Done));
    assert_eq!(table.state(), ShipState::Cancelled);
    assert!(table
        .run
        .facts
        .outcome
        .clone()
        .unwrap()
        .contains("nothing was tagged"));
}

#[test]
fn an_outcome_for_other_work_is_ignored() {
    let mut table = Table::drafted("pr");
    let t = table.step(Input::Done {
        key: "run-5h1p5h1p00/draft/99".into(),
        result: Ok(Outcome::Done),
    });
    assert!(t.effects.is_empty());
    assert_eq!(table.state(), ShipState::AwaitingDecision);
}

#[test]
fn state_names_are_the_stored_names() {
    for state in [
        ShipState::Drafting,
        ShipState::AwaitingDecision,
        ShipState::OpeningPr,
        ShipState::Shipped,
    ] {
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            serde_json::Value::String(state.name().into())
        );
    }
}
