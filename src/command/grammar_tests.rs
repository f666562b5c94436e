//! Tests of the parser: every subcommand's happy path, every error class (asserting
//! on the text people read), spec/parser agreement, and properties.

use super::*;
use crate::command::lexer::Mention;
use crate::command::spec::GLOBAL_FLAGS;
use proptest::prelude::*;

const CMD: &str = "/frappe-stack";

fn ok(text: &str) -> Command {
    parse(text, CMD).unwrap_or_else(|err| panic!("{text:?} should parse: {err}"))
}

fn err(text: &str) -> UsageError {
    match parse(text, CMD) {
        Ok(command) => panic!("{text:?} should fail, parsed as {command:?}"),
        Err(err) => err,
    }
}

fn message(text: &str) -> String {
    err(text).message
}

fn family(s: &str) -> FamilySlug {
    FamilySlug::parse(s).unwrap()
}

fn git_ref(s: &str) -> GitRef {
    GitRef::parse(s).unwrap()
}

// ---- happy paths -------------------------------------------------------------

#[test]
fn empty_text_is_help() {
    assert_eq!(ok(""), Command::Help { topic: None });
    assert_eq!(ok("   \n "), Command::Help { topic: None });
}

#[test]
fn help_with_and_without_topic() {
    assert_eq!(ok("help"), Command::Help { topic: None });
    assert_eq!(
        ok("help promote"),
        Command::Help {
            topic: Some(Subcommand::Promote)
        }
    );
    assert_eq!(
        ok("Help Ship"),
        Command::Help {
            topic: Some(Subcommand::Ship)
        }
    );
    assert_eq!(ok("--help"), Command::Help { topic: None });
}

#[test]
fn help_flag_on_any_subcommand_shows_its_help() {
    for sub in Subcommand::ALL {
        assert_eq!(
            ok(&format!("{sub} --help")),
            Command::Help { topic: Some(sub) }
        );
    }
    // Even when the rest of the line is wrong, --help wins: that is why people add it.
    assert_eq!(
        ok("promote --bogus --help"),
        Command::Help {
            topic: Some(Subcommand::Promote)
        }
    );
}

#[test]
fn status() {
    assert_eq!(ok("status"), Command::Status);
    assert_eq!(ok("STATUS"), Command::Status);
}

#[test]
fn diff_defaults_to_staging() {
    assert_eq!(
        ok("diff"),
        Command::Diff {
            site: SiteSel::Staging
        }
    );
    assert_eq!(
        ok("diff --site=prod"),
        Command::Diff {
            site: SiteSel::Prod
        }
    );
    assert_eq!(
        ok("diff --site production"),
        Command::Diff {
            site: SiteSel::Prod
        }
    );
    assert_eq!(
        ok("diff --site=Staging"),
        Command::Diff {
            site: SiteSel::Staging
        }
    );
}

#[test]
fn pull_is_staging_only() {
    assert_eq!(ok("pull"), Command::Pull);
    assert_eq!(ok("pull --site=staging"), Command::Pull);
}

#[test]
fn push() {
    assert_eq!(ok("push"), Command::Push { dry_run: false });
    assert_eq!(ok("push --dry-run"), Command::Push { dry_run: true });
}

#[test]
fn review() {
    assert_eq!(
        ok("review"),
        Command::Review {
            since: None,
            blueprint: None
        }
    );
    assert_eq!(
        ok(r#"review --since=v0.3.0 --blueprint="Beneficiary Approval""#),
        Command::Review {
            since: Some(git_ref("v0.3.0")),
            blueprint: Some("Beneficiary Approval".into())
        }
    );
    assert_eq!(
        ok("review --blueprint “Grant &amp; Loan”  --since 3f2a9c1"),
        Command::Review {
            since: Some(git_ref("3f2a9c1")),
            blueprint: Some("Grant & Loan".into())
        }
    );
    // Slack turns a dotted name into a link; the label is what was typed.
    assert_eq!(
        ok("review --blueprint=<http://grant.io|grant.io>"),
        Command::Review {
            since: None,
            blueprint: Some("grant.io".into())
        }
    );
}

#[test]
fn promote_plain_and_with_every_flag() {
    assert_eq!(
        ok("promote"),
        Command::Promote {
            emergency: None,
            only: vec![],
            feature: None,
            dry_run: false
        }
    );
    let command = ok(
        r#"promote --emergency --reason="payroll fix, asked by <@U1|ann>" --only=Beneficiary,grant --feature=intake --dry-run"#,
    );
    let Command::Promote {
        emergency,
        only,
        feature,
        dry_run,
    } = command
    else {
        panic!("not promote");
    };
    let reason = emergency.unwrap();
    assert_eq!(reason.plain(), "payroll fix, asked by @ann");
    assert_eq!(reason.to_slack(), "payroll fix, asked by <@U1|ann>");
    assert_eq!(
        reason.segments()[1],
        Segment::Mention(Mention::User {
            id: "U1".into(),
            label: Some("ann".into())
        })
    );
    assert_eq!(only, vec![family("beneficiary"), family("grant")]);
    assert_eq!(feature, Some(FeatureSlug::parse("intake").unwrap()));
    assert!(dry_run);
}

#[test]
fn promote_reason_spellings() {
    for text in [
        r#"promote --emergency --reason="db patch""#,
        r#"promote --emergency --reason "db patch""#,
        "promote --emergency --reason='db patch'",
        "promote --emergency --reason=“db patch”",
        "promote --reason “db patch” --emergency",
        "promote —emergency —reason=“db patch”",
    ] {
        let Command::Promote {
            emergency: Some(reason),
            ..
        } = ok(text)
        else {
            panic!("{text}: no emergency");
        };
        assert_eq!(reason.plain(), "db patch", "{text}");
    }
}

#[test]
fn promote_only_list_is_trimmed_and_deduplicated() {
    let Command::Promote { only, .. } = ok(r#"promote --only="a, b,a""#) else {
        panic!()
    };
    assert_eq!(only, vec![family("a"), family("b")]);
}

#[test]
fn ship() {
    assert_eq!(
        ok("ship v0.1.0"),
        Command::Ship {
            version: semver::Version::new(0, 1, 0),
            notes_from: None,
            dry_run: false
        }
    );
    assert_eq!(
        ok("ship 0.2.0 --dry-run"),
        Command::Ship {
            version: semver::Version::new(0, 2, 0),
            notes_from: None,
            dry_run: true
        }
    );
    for text in [
        "ship 1.4.0 --notes-from=42",
        "ship 1.4.0 --notes-from #42",
        "ship --notes-from=#42 1.4.0",
    ] {
        assert_eq!(
            ok(text),
            Command::Ship {
                version: semver::Version::new(1, 4, 0),
                notes_from: PrNumber::new(42),
                dry_run: false
            },
            "{text}"
        );
    }
}

#[test]
fn rollback() {
    assert_eq!(
        ok("rollback 3f2a9c1"),
        Command::Rollback {
            git_ref: git_ref("3f2a9c1"),
            dry_run: false
        }
    );
    assert_eq!(
        ok("rollback --dry-run release/2024-06"),
        Command::Rollback {
            git_ref: git_ref("release/2024-06"),
            dry_run: true
        }
    );
}

#[test]
fn unlock() {
    let reason = |text: &str| EmergencyReason::from_text(text).unwrap();
    assert_eq!(
        ok("unlock prod --reason=\"restore checked\""),
        Command::Unlock {
            env: EnvName::Production,
            reason: reason("restore checked"),
        }
    );
    assert_eq!(
        ok("unlock production --reason=done"),
        Command::Unlock {
            env: EnvName::Production,
            reason: reason("done"),
        }
    );
    assert_eq!(
        ok("unlock staging --reason=x"),
        Command::Unlock {
            env: EnvName::Staging,
            reason: reason("x"),
        }
    );
    assert!(err("unlock prod").message.contains("unlock needs --reason"));
}

#[test]
fn forcing_flags_are_refused_by_name() {
    for flag in ["--force", "--admin", "--bypass-protection", "--skip-checks"] {
        let text = err(&format!("promote {flag}")).message;
        assert!(text.contains(&format!("`{flag}` is refused")), "{text}");
        assert!(text.contains("bypass branch protection"), "{text}");
    }
    assert!(err("push --force").message.contains("is refused"));
}

#[test]
fn audit() {
    assert_eq!(ok("audit"), Command::Audit { n: None });
    assert_eq!(ok("audit 1"), Command::Audit { n: Some(1) });
    assert_eq!(ok("audit 200"), Command::Audit { n: Some(200) });
}

#[test]
fn stats_takes_a_number_of_days_written_either_way() {
    assert_eq!(ok("stats"), Command::Stats { days: None });
    assert_eq!(ok("stats --days=90"), Command::Stats { days: Some(90) });
    assert_eq!(ok("stats --days 7"), Command::Stats { days: Some(7) });
    assert_eq!(ok("stats --days=365"), Command::Stats { days: Some(365) });
    for bad in [
        "stats --days=0",
        "stats --days=366",
        "stats --days=-3",
        "stats --days=two",
    ] {
        assert!(
            message(bad).contains("is not a number of days from 1 to 365"),
            "{bad}: {}",
            message(bad)
        );
    }
    assert!(message("stats --days").contains("--days needs a value"));
    assert!(message("stats 30").contains("Unexpected argument"));
}

#[test]
fn subcommand_and_read_only() {
    let cases = [
        ("help", true),
        ("status", true),
        ("diff --site=prod", true),
        ("review", true),
        ("audit 5", true),
        ("stats --days=7", true),
        ("promote --dry-run", true),
        ("push --dry-run", true),
        ("rollback main --dry-run", true),
        ("promote", false),
        ("push", false),
        ("rollback main", false),
        ("pull", false),
        ("ship 1.0.0", false),
        ("unlock prod --reason=x", false),
    ];
    for (text, read_only) in cases {
        let command = ok(text);
        assert_eq!(command.is_read_only(), read_only, "{text}");
        assert_eq!(command.subcommand().name(), text.split(' ').next().unwrap());
    }
}

// ---- errors ------------------------------------------------------------------

#[test]
fn unknown_subcommand_suggests_the_closest() {
    let e = err("pormote --dry-run");
    assert_eq!(
        e.message,
        "Unknown subcommand `pormote`. Did you mean `promote`?"
    );
    assert_eq!(
        e.usage,
        "/frappe-stack <subcommand> [options]   (list them: /frappe-stack help)"
    );
    assert_eq!(
        message("deploy"),
        "Unknown subcommand `deploy`. `/frappe-stack help` lists them all."
    );
}

#[test]
fn flag_before_subcommand() {
    assert_eq!(
        message("--dry-run"),
        "Start with a subcommand: `--dry-run` goes after push, promote, ship or rollback."
    );
    assert_eq!(
        message("--bogus"),
        "Start with a subcommand, not the flag `--bogus`."
    );
}

#[test]
fn unknown_flag_suggests_the_closest() {
    let e = err("promote --dryrun");
    assert_eq!(
        e.message,
        "Unknown flag `--dryrun` for promote. Did you mean `--dry-run`?"
    );
    assert_eq!(
        e.usage,
        "/frappe-stack promote [--emergency --reason=\"…\"] [--only=<family>,…] [--feature=<slug>] [--dry-run]"
    );
    assert_eq!(
        message("push -dry-run"),
        "Unknown flag `-dry-run` for push. Did you mean `--dry-run`?"
    );
    assert_eq!(
        message("status --dry-run"),
        "Unknown flag `--dry-run` for status. Only push, promote, ship and rollback take --dry-run."
    );
    assert_eq!(
        message("status --verbose"),
        "Unknown flag `--verbose` for status. status takes no flags."
    );
    assert_eq!(
        message("promote --force"),
        "`--force` is refused: lockstep has no way to force a merge, bypass branch protection, force-push or skip the checklist. Production changes only through a reviewed, protected merge."
    );
    assert_eq!(
        message("diff --emergency"),
        "Unknown flag `--emergency` for diff. Only promote takes --emergency."
    );
}

#[test]
fn switches_take_no_value() {
    assert_eq!(
        message("promote --dry-run=yes"),
        "--dry-run takes no value (found `--dry-run=yes`); write just --dry-run."
    );
}

#[test]
fn repeated_flag() {
    assert_eq!(
        message("promote --only=a --only=b"),
        "--only is given more than once; give it once."
    );
    assert_eq!(
        message("push --dry-run --DRY-RUN"),
        "--dry-run is given more than once; give it once."
    );
}

#[test]
fn flag_missing_its_value() {
    assert_eq!(
        message("review --since"),
        "--since needs a value, e.g. --since=<ref>."
    );
    assert_eq!(
        message("review --since --blueprint=x"),
        "--since needs a value, e.g. --since=<ref>."
    );
    assert_eq!(message("review --since="), "--since is empty.");
    assert_eq!(message(r#"review --blueprint """#), "--blueprint is empty.");
}

#[test]
fn missing_required_argument() {
    let e = err("ship");
    assert_eq!(
        e.message,
        "Missing <version>: semantic version, e.g. 1.4.0 (a leading v is fine)."
    );
    assert_eq!(
        e.usage,
        "/frappe-stack ship <version> [--notes-from=<pr>] [--dry-run]"
    );
    assert_eq!(
        message("rollback --dry-run"),
        "Missing <git-ref>: branch, tag or commit (7 to 40 hex digits)."
    );
    assert_eq!(message("unlock"), "Missing <env>: staging or prod.");
}

#[test]
fn extra_positional_arguments() {
    assert_eq!(
        message("status now"),
        "Unexpected argument `now`: status takes no arguments."
    );
    assert_eq!(
        message("ship 1.0.0 2.0.0"),
        "Unexpected argument `2.0.0`: ship takes only <version>."
    );
    assert_eq!(
        message("help promote ship"),
        "Unexpected argument `ship`: help takes only <subcommand>."
    );
    assert_eq!(
        message("promote --only a b"),
        "Unexpected argument `b`: list families with commas and no spaces, e.g. --only=a,b."
    );
    assert_eq!(
        message(r#"promote --emergency "db patch""#),
        "Unexpected argument `db patch`: give the reason as --reason=\"…\"."
    );
}

#[test]
fn invalid_values_name_the_flag_and_the_rule() {
    assert_eq!(
        message("review --since=a..b"),
        "Invalid --since: `a..b` is not a valid git ref: it contains ...",
    );
    assert_eq!(
        message("rollback HEAD~1"),
        "Invalid <git-ref>: `HEAD~1` is not a valid git ref: it contains one of ~ ^ : ? * [ \\."
    );
    assert_eq!(
        message("diff --site=qa"),
        "Invalid --site: `qa` is not an environment; use staging or prod."
    );
    assert_eq!(
        message("unlock dev"),
        "Invalid <env>: `dev` is not an environment; use staging or prod."
    );
    assert_eq!(
        message("ship 1.4"),
        "Invalid <version>: `1.4` is not a semantic version; write MAJOR.MINOR.PATCH, e.g. 1.4.0."
    );
    assert_eq!(
        message("ship 1.4.0 --notes-from=pr42"),
        "Invalid --notes-from: `pr42` is not a pull request number; write it like 42 or #42."
    );
    assert_eq!(
        message("promote --only=a,,b"),
        "Invalid --only: `a,,b` has an empty family name; separate families with single commas."
    );
    assert_eq!(
        message("promote --feature=New_Intake"),
        "Invalid --feature: `New_Intake` is not a feature name: use 1 to 40 lowercase letters, digits and dashes, e.g. beneficiary-approval."
    );
    assert_eq!(
        message("audit 0"),
        "Invalid <n>: `0` is not a number from 1 to 200."
    );
    assert_eq!(
        message("audit 201"),
        "Invalid <n>: `201` is not a number from 1 to 200."
    );
    assert_eq!(
        message("audit -5"),
        "Invalid <n>: `-5` is not a number from 1 to 200."
    );
    assert_eq!(
        message("audit -n"),
        "Unknown flag `-n` for audit. audit takes no flags."
    );
    assert_eq!(
        message("audit ten"),
        "Invalid <n>: `ten` is not a number from 1 to 200."
    );
    assert_eq!(
        message(&format!("review --blueprint={}", "x".repeat(141))),
        format!("Invalid --blueprint: `{}…` is longer than 140 characters, the longest name Frappe allows.", "x".repeat(40))
    );
}

#[test]
fn mentions_where_plain_text_is_expected() {
    assert_eq!(
        message("unlock <@U123|ann>"),
        "<env> expects plain text, but got a user mention (`@ann`)."
    );
    assert_eq!(
        message("promote --feature=<#C1|general>"),
        "--feature expects plain text, but got a channel mention (`#general`)."
    );
}

#[test]
fn push_to_production_is_refused_with_the_reason() {
    let e = err("push --site=prod");
    assert_eq!(
        e.message,
        "push writes only to the staging site: the bot never writes to production, which \
         changes only through bench migrate of the production branch (promote)."
    );
    assert_eq!(e.usage, "/frappe-stack push [--site=staging] [--dry-run]");
    assert_eq!(
        parse("push --site=staging --dry-run", "/frappe-stack"),
        Ok(Command::Push { dry_run: true })
    );
}

#[test]
fn pull_from_production_is_refused_with_the_reason() {
    let e = err("pull --site=prod");
    assert_eq!(
        e.message,
        "pull captures only the staging site: production changes only through bench migrate \
         of the production branch (promote). To see drift on production, use diff --site=prod."
    );
    assert_eq!(e.usage, "/frappe-stack pull [--site=staging]");
}

#[test]
fn emergency_and_reason_go_together() {
    assert_eq!(
        message("promote --emergency"),
        "--emergency needs --reason=\"…\" saying why this cannot wait."
    );
    assert_eq!(
        message(r#"promote --reason="db patch""#),
        "--reason is only for emergencies: add --emergency, or drop --reason."
    );
    assert_eq!(
        message(r#"promote --emergency --reason="  ""#),
        "Invalid --reason: the reason is empty; say why this emergency cannot wait."
    );
    assert_eq!(
        message(&format!(
            "promote --emergency --reason=\"{}\"",
            "y".repeat(501)
        )),
        "Invalid --reason: the reason is 501 characters long; keep it under 500."
    );
}

#[test]
fn unclosed_quote_names_where() {
    let e = err(r#"promote --emergency --reason="db patch"#);
    assert_eq!(
        e.message,
        "Unclosed quote: the \" at character 30 (before `db patch`) is never closed. Close it, or write \\\" for a literal quote."
    );
    assert!(e.usage.starts_with("/frappe-stack promote "));
    assert!(err("'").usage.starts_with("/frappe-stack <subcommand>"));
}

#[test]
fn control_characters_are_refused() {
    assert_eq!(
        message("status\u{1b}[2J"),
        "The command contains an invisible control character (U+001B) at character 7. Remove it and try again."
    );
}

#[test]
fn too_long_input_is_refused() {
    let long = format!("promote --emergency --reason=\"{}\"", "z".repeat(4000));
    assert_eq!(
        message(&long),
        "The command is 4031 characters long; Slack allows at most 4000. Shorten it (a long --reason can be summarised)."
    );
    // Exactly at the limit is fine as far as length goes.
    let at_limit = format!("audit{}", " ".repeat(MAX_COMMAND_CHARS - 5));
    assert_eq!(ok(&at_limit), Command::Audit { n: None });
}

#[test]
fn help_for_an_unknown_topic() {
    let e = err("help nonsense");
    assert_eq!(
        e.message,
        "No help for `nonsense`. `/frappe-stack help` lists them all."
    );
    assert_eq!(e.usage, "/frappe-stack help [<subcommand>]");
    assert_eq!(
        message("help promot"),
        "No help for `promot`. Did you mean `promote`?"
    );
}

#[test]
fn command_name_appears_in_usage() {
    let e = parse("ship", "/stack").unwrap_err();
    assert_eq!(
        e.usage,
        "/stack ship <version> [--notes-from=<pr>] [--dry-run]"
    );
}

#[test]
fn error_snapshots() {
    let cases = [
        "pormote",
        "promote --dryrun",
        "promote --emergency",
        "pull --site=prod",
        "ship",
        "rollback main --dry-run=yes",
        "promote --reason=\"db patch",
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|text| format!("> {text}\n{}\n", err(text)))
        .collect();
    insta::assert_snapshot!("error_messages", rendered.join("\n"));
}

#[test]
fn commands_are_stored_typed_and_checked_again_when_read() {
    let command = ok("promote --emergency --reason=“db patch” --only=a");
    let json = serde_json::to_value(&command).unwrap();
    assert_eq!(json["subcommand"], "promote");
    assert_eq!(json["only"], serde_json::json!(["a"]));
    assert_eq!(serde_json::from_value::<Command>(json).unwrap(), command);
    // A stored value that no longer parses is refused, never trusted.
    let bad = serde_json::json!({"subcommand": "promote", "emergency": [{"text": " "}],
        "only": ["Not A Slug"], "feature": null, "dry_run": false});
    let err = serde_json::from_value::<Command>(bad).unwrap_err();
    assert!(
        err.to_string().contains("not a family name") || err.to_string().contains("empty"),
        "{err}"
    );
}

// ---- spec and parser agree ---------------------------------------------------

/// For each flag: a value the parser must accept (None for switches) and one it
/// must refuse. The test below checks these keys are exactly the spec's flags.
fn flag_samples() -> Vec<(
    Subcommand,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
)> {
    use Subcommand::*;
    vec![
        (Diff, "--site", Some("prod"), Some("qa")),
        (Pull, "--site", Some("staging"), Some("prod")),
        (Push, "--site", Some("staging"), Some("prod")),
        (Push, "--dry-run", None, None),
        (Review, "--since", Some("v1.0.0"), Some("a..b")),
        (Review, "--blueprint", Some("Beneficiary"), Some("<@U1>")),
        (Promote, "--emergency", None, None),
        (Promote, "--reason", Some("\"db patch\""), Some("\" \"")),
        (Promote, "--only", Some("a,b"), Some("a,,b")),
        (Promote, "--feature", Some("intake"), Some("Not_A_Slug")),
        (Promote, "--dry-run", None, None),
        (Ship, "--notes-from", Some("#42"), Some("0")),
        (Ship, "--dry-run", None, None),
        (Stats, "--days", Some("90"), Some("0")),
        (Rollback, "--dry-run", None, None),
        (
            Unlock,
            "--reason",
            Some("\"checked by hand\""),
            Some("\" \""),
        ),
    ]
}

/// A minimal valid command line for `sub` (its required arguments).
fn minimal(sub: Subcommand) -> String {
    let required: Vec<&str> = sub
        .spec()
        .args
        .iter()
        .filter(|a| a.required)
        .map(|a| match a.name {
            "<version>" => "1.0.0",
            "<git-ref>" => "main",
            "<env>" => "prod",
            other => panic!("no sample for {other}"),
        })
        .collect();
    std::iter::once(sub.name())
        .chain(required)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Flags that only make sense together are given their partner.
fn companion(sub: Subcommand, flag: &str) -> &'static str {
    match (sub, flag) {
        (Subcommand::Promote, "--emergency") => " --reason=x",
        (Subcommand::Promote, "--reason") => " --emergency",
        _ => "",
    }
}

#[test]
fn samples_cover_exactly_the_spec_flags() {
    let mut from_samples: Vec<(Subcommand, &str)> = flag_samples()
        .iter()
        .map(|(sub, flag, _, _)| (*sub, *flag))
        .collect();
    let mut from_spec: Vec<(Subcommand, &str)> = Subcommand::ALL
        .into_iter()
        .flat_map(|sub| sub.spec().flags.iter().map(move |f| (sub, f.name)))
        .collect();
    from_samples.sort();
    from_spec.sort();
    assert_eq!(from_samples, from_spec);
}

#[test]
fn every_spec_flag_is_accepted_and_read() {
    for (sub, flag, good, bad) in flag_samples() {
        assert_eq!(
            sub.flag(flag).unwrap().takes_value(),
            good.is_some(),
            "{sub} {flag}"
        );
        let base = minimal(sub);
        let with = |value: Option<&str>| match value {
            Some(v) => format!("{base} {flag}={v}{}", companion(sub, flag)),
            None => format!("{base} {flag}{}", companion(sub, flag)),
        };
        let accepted = ok(&with(good));
        assert_eq!(accepted.subcommand(), sub);
        // The value is read, not ignored: a bad one is refused, naming the flag
        // (or, for pull and push, explaining why only staging).
        if let Some(bad) = bad {
            let e = err(&with(Some(bad)));
            assert!(
                e.message.contains(flag)
                    || e.message.starts_with("pull captures")
                    || e.message.starts_with("push writes only"),
                "{sub} {flag}: {e}"
            );
        } else {
            // A switch changes the command it is added to.
            assert_ne!(accepted, ok(&base), "{sub} {flag}");
        }
    }
}

#[test]
fn every_flag_the_parser_accepts_is_in_the_spec() {
    let mut candidates: Vec<&str> = Subcommand::ALL
        .into_iter()
        .flat_map(|sub| sub.spec().flags.iter().map(|f| f.name))
        .collect();
    candidates.extend([
        "--force",
        "--yes",
        "--all",
        "--site",
        "--n",
        "--version",
        "--ref",
        "--env",
    ]);
    for sub in Subcommand::ALL {
        for name in &candidates {
            let known = sub.flag(name).is_some();
            for text in [
                format!("{} {name}", minimal(sub)),
                format!("{} {name}=x", minimal(sub)),
            ] {
                let unknown_error = matches!(
                    parse(&text, CMD),
                    Err(e) if e.message.starts_with("Unknown flag") || e.message.contains("is refused")
                );
                assert_eq!(unknown_error, !known, "{text}");
            }
        }
    }
    assert!(GLOBAL_FLAGS
        .iter()
        .all(|f| Subcommand::ALL.iter().all(|s| s.flag(f.name).is_some())));
}

#[test]
fn every_example_in_the_spec_parses_to_its_subcommand() {
    for sub in Subcommand::ALL {
        for example in sub.spec().examples {
            assert_eq!(ok(example).subcommand(), sub, "{example}");
        }
    }
}

// ---- properties --------------------------------------------------------------

fn tricky_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("promote".to_string()),
        Just("--dry-run".to_string()),
        Just("--reason=".to_string()),
        Just("--emergency".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("“".to_string()),
        Just("’".to_string()),
        Just("\\".to_string()),
        Just("<@".to_string()),
        Just("<@U1|x>".to_string()),
        Just("<!subteam^S1>".to_string()),
        Just("&amp;".to_string()),
        Just("&lt".to_string()),
        Just(">".to_string()),
        Just("—".to_string()),
        Just("=".to_string()),
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("\t".to_string()),
        Just("`".to_string()),
        Just("\u{200B}".to_string()),
        Just("\u{0}".to_string()),
        Just("ship".to_string()),
        Just("v1.2.3".to_string()),
        any::<String>(),
    ];
    prop::collection::vec(pieces, 0..30).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn never_panics_and_errors_say_something(text in tricky_text()) {
        match parse(&text, CMD) {
            Ok(command) => { let _ = command.to_text(); }
            Err(e) => {
                prop_assert!(!e.message.trim().is_empty());
                prop_assert!(!e.message.contains('\n'), "{}", e.message);
                prop_assert!(e.usage.starts_with(CMD));
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        if let Err(e) = parse(&text, CMD) {
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn very_long_input_never_panics(piece in "[-a-z\"'<@ =]{1,8}", times in 100usize..500) {
        let text = piece.repeat(times);
        if let Err(e) = parse(&text, CMD) {
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn commands_round_trip_through_text(command in any_command()) {
        let text = command.to_text();
        let parsed = parse(&text, CMD);
        prop_assert_eq!(parsed.as_ref(), Ok(&command), "text: {}", text);
    }

    #[test]
    fn commands_round_trip_through_serde(command in any_command()) {
        let json = serde_json::to_string(&command).unwrap();
        prop_assert_eq!(serde_json::from_str::<Command>(&json).unwrap(), command);
    }
}

fn slug_text() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?"
}

fn git_ref_strategy() -> impl Strategy<Value = GitRef> {
    prop_oneof![
        "[0-9a-f]{7,40}",
        "[a-zA-Z0-9_][a-zA-Z0-9_.\"'<>&#é-]{0,30}(/[a-zA-Z0-9_][a-zA-Z0-9_-]{0,10}){0,2}",
    ]
    .prop_filter_map("valid ref", |s| GitRef::parse(&s).ok())
}

/// Printable text, with quotes, entities and unicode, but nothing the lexer drops.
fn free_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 .,;:!?'\"“”‘’\\\\&<>|=@#/—é日本-]{1,40}"
        .prop_map(|s| s.trim().to_string())
        .prop_filter("not empty", |s| !s.is_empty())
}

fn segment_strategy() -> impl Strategy<Value = Segment> {
    prop_oneof![
        3 => free_text().prop_map(Segment::Text),
        1 => ("U[A-Z0-9]{2,8}", proptest::option::of("[a-z .|<>&]{1,10}"))
            .prop_map(|(id, label)| Segment::Mention(Mention::User { id, label })),
        1 => ("C[A-Z0-9]{2,8}", proptest::option::of("[a-z-]{1,10}"))
            .prop_map(|(id, label)| Segment::Mention(Mention::Channel { id, label })),
        1 => ("S[A-Z0-9]{2,8}", proptest::option::of("@[a-z]{1,10}"))
            .prop_map(|(id, label)| Segment::Mention(Mention::UserGroup { id, label })),
        1 => ("https://[a-z]{1,8}\\.io/[a-z&?=]{0,8}", proptest::option::of("[a-z. ]{1,10}"))
            .prop_map(|(url, label)| Segment::Link(crate::command::Link { url, label })),
    ]
}

fn reason_strategy() -> impl Strategy<Value = EmergencyReason> {
    prop::collection::vec(segment_strategy(), 1..5).prop_filter_map("valid reason", |segments| {
        EmergencyReason::from_segments(segments).ok()
    })
}

fn any_command() -> impl Strategy<Value = Command> {
    let subcommand = proptest::sample::select(Subcommand::ALL.to_vec());
    prop_oneof![
        proptest::option::of(subcommand).prop_map(|topic| Command::Help { topic }),
        Just(Command::Status),
        prop_oneof![Just(SiteSel::Staging), Just(SiteSel::Prod)]
            .prop_map(|site| Command::Diff { site }),
        Just(Command::Pull),
        any::<bool>().prop_map(|dry_run| Command::Push { dry_run }),
        (
            proptest::option::of(git_ref_strategy()),
            proptest::option::of(free_text())
        )
            .prop_map(|(since, blueprint)| Command::Review { since, blueprint }),
        (
            proptest::option::of(reason_strategy()),
            prop::collection::vec(slug_text(), 0..4),
            proptest::option::of(slug_text()),
            any::<bool>()
        )
            .prop_map(|(emergency, only, feature, dry_run)| {
                let mut families: Vec<FamilySlug> = Vec::new();
                for slug in only {
                    let slug = FamilySlug::parse(&slug).unwrap();
                    if !families.contains(&slug) {
                        families.push(slug);
                    }
                }
                Command::Promote {
                    emergency,
                    only: families,
                    feature: feature.map(|f| FeatureSlug::parse(&f).unwrap()),
                    dry_run,
                }
            }),
        (
            0u64..1000,
            0u64..1000,
            0u64..1000,
            proptest::option::of(1u64..100_000),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(major, minor, patch, pr, pre, dry_run)| {
                let mut version = semver::Version::new(major, minor, patch);
                if pre {
                    version.pre = semver::Prerelease::new("rc.1").unwrap();
                }
                Command::Ship {
                    version,
                    notes_from: pr.and_then(PrNumber::new),
                    dry_run,
                }
            }),
        (git_ref_strategy(), any::<bool>())
            .prop_map(|(git_ref, dry_run)| Command::Rollback { git_ref, dry_run }),
        (
            prop_oneof![Just(EnvName::Staging), Just(EnvName::Production)],
            "[a-z]{1,12}"
        )
            .prop_map(|(env, reason)| Command::Unlock {
                env,
                reason: EmergencyReason::from_text(&reason).unwrap()
            }),
        proptest::option::of(1u32..=MAX_STATS_DAYS).prop_map(|days| Command::Stats { days }),
        proptest::option::of(1u32..=200).prop_map(|n| Command::Audit { n }),
    ]
}
