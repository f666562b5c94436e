//! `lockstep demo --script-only` as a newcomer runs it: the binary plays the whole
//! walkthrough, from `help` to the release notes in #releases, against its own local world and exits 0 only when every step did
//! what the walkthrough says. Its first line says when the demo is; on a frozen
//! Friday (`LOCKSTEP_NOW`) the promote goes the emergency way, with a second approver.

use std::process::{Command, Output};

fn demo(now: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lockstep"));
    command.args(["demo", "--script-only"]);
    command.env_remove("LOCKSTEP_NOW");
    if let Some(now) = now {
        command.env("LOCKSTEP_NOW", now);
    }
    command.output().expect("the demo runs")
}

fn stdout(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "the demo failed:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

#[test]
fn script_only_plays_the_walkthrough_on_a_wednesday() {
    let text = stdout(&demo(None));
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains("Wednesday 25 November 2026, 14:30 Asia/Kolkata")
            && first.contains("outside every freeze window"),
        "{first}"
    );
    for step in [
        "/frappe-stack review",
        "DocType \"Quick Test\"",
        "Push: applied 1 change",
        "/frappe-stack promote\n",
        "✓ freeze guard   Wednesday 14:30, fine",
        "alice (on call) approves PR #1 on GitHub",
        "Merged #1",
        "✓ migrate — success",
        "✓ list of Beneficiary",
        "Promotion succeeded",
        "No drift between site `prod`",
        "/frappe-stack ship v0.1.0",
        "Edited by <@U0PM>",
        "alice (on call) approves the release PR #2 on GitHub",
        "[in #releases]\n  Release v0.1.0",
        "Age must not be negative any more.",
        "Shipped as *v0.1.0*",
    ] {
        assert!(text.contains(step), "{step:?} missing from:\n{text}");
    }
    assert!(text.trim_end().ends_with("every step did what it says."));
}

#[test]
fn on_a_frozen_friday_the_promote_is_an_emergency_with_a_second_approver() {
    let text = stdout(&demo(Some("2026-11-27T15:00:00+05:30")));
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("Friday 27 November 2026, 15:00")
                && l.contains("inside a freeze window")),
        "{text}"
    );
    for step in [
        "✗ freeze guard",
        "Emergency promotion during a freeze",
        "<@U0ADMIN> approved the emergency promotion",
        "⚠ freeze guard",
        "Promotion succeeded",
        "Shipped as *v0.1.0*",
    ] {
        assert!(text.contains(step), "{step:?} missing from:\n{text}");
    }
}

#[test]
fn a_bad_now_is_named() {
    let output = demo(Some("friday"));
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("LOCKSTEP_NOW") && err.contains("RFC 3339"),
        "{err}"
    );
}
