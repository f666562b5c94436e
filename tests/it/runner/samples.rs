//! The runner against recorded bench output (tests/data/bench): each sample is
//! replayed through a real `sh -c` command template with its exit code, and must
//! parse into the right outcome or a failure naming the cause.

use std::path::PathBuf;
use std::time::Duration;

use lockstep::frappe::SiteName;
use lockstep::runner::{Runner, RunnerError};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bench")
        .join(name)
}

/// A runner whose "bench" prints the sample and exits with the code in its name.
fn replaying(name: &str) -> Runner {
    let code: i32 = name
        .split(".exit")
        .nth(1)
        .and_then(|r| r.split('.').next())
        .and_then(|c| c.parse().ok())
        .unwrap();
    let path = sample(name);
    assert!(path.exists(), "{name} missing");
    // `:` swallows the substituted site and args; what the template does is replay.
    let template = format!(": {{site}} {{args}}; cat '{}'; exit {code}", path.display());
    Runner::from_template(template, Duration::from_secs(30)).unwrap()
}

fn site(name: &str) -> SiteName {
    SiteName::new(name).unwrap()
}

#[tokio::test]
async fn backups_parse_from_real_samples() {
    let summary = replaying("backup-success.exit0.txt")
        .backup(&site("erp.example.com"))
        .await
        .unwrap();
    assert_eq!(summary.site, "erp.example.com");
    assert_eq!(summary.backup_id, "20260503_130000-erp_example_com");
    assert_eq!(summary.taken_at.to_string(), "2026-05-03 13:00:00.123456");
    assert_eq!(
        summary.database_file,
        "./erp.example.com/private/backups/20260503_130000-erp_example_com-database.sql.gz"
    );
    assert_eq!(summary.files.len(), 2);

    let summary = replaying("backup-with-files-absolute.exit0.txt")
        .backup(&site("staging.example.com"))
        .await
        .unwrap();
    assert!(summary.with_files);
    assert_eq!(
        summary
            .files
            .iter()
            .map(|f| f.kind.as_str())
            .collect::<Vec<_>>(),
        ["Config", "Database", "Public", "Private"]
    );
    assert_eq!(summary.files[3].size, "220.0KiB");
    assert_eq!(summary.backup_id, "20260504_091542-staging_example_com");
}

#[tokio::test]
async fn backup_failures_carry_exit_code_reason_and_tail() {
    let err = replaying("backup-failure.exit1.txt")
        .backup(&site("erp.example.com"))
        .await
        .unwrap_err();
    let RunnerError::Failed {
        exit_code,
        reason,
        tail,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*exit_code, Some(1));
    assert_eq!(
        reason,
        "Backup failed for Site erp.example.com. Database or site_config.json may be corrupted"
    );
    assert!(tail.contains("Backup failed"));

    let err = replaying("backup-failure-traceback.exit1.txt")
        .backup(&site("erp.example.com"))
        .await
        .unwrap_err();
    let RunnerError::Failed { reason, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        reason.starts_with("frappe.exceptions.CommandFailedError: Command failed: mariadb-dump"),
        "{reason}"
    );
    assert!(
        err.to_string()
            .contains("bench backup on site erp.example.com failed (exit code 1)"),
        "{err}"
    );
}

#[tokio::test]
async fn restores_parse_from_real_samples() {
    let outcome = replaying("restore-success.exit0.txt")
        .restore(&site("erp.example.com"), "/b/x-database.sql.gz")
        .await
        .unwrap();
    assert_eq!(
        (outcome.site.as_str(), outcome.with_files),
        ("erp.example.com", false)
    );
    let outcome = replaying("restore-with-files.exit0.txt")
        .restore(&site("staging.example.com"), "x")
        .await
        .unwrap();
    assert!(outcome.with_files);

    let err = replaying("restore-failure-access-denied.exit1.txt")
        .restore(&site("erp.example.com"), "x")
        .await
        .unwrap_err();
    let RunnerError::Failed { reason, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        reason.starts_with("pymysql.err.OperationalError: (1045"),
        "{reason}"
    );
    let err = replaying("restore-failure-downgrade-prompt.exit1.txt")
        .restore(&site("erp.example.com"), "x")
        .await
        .unwrap_err();
    let RunnerError::Failed { reason, .. } = &err else {
        panic!("{err}")
    };
    assert!(reason.ends_with("Aborted!"), "{reason}");
}

#[tokio::test]
async fn migrates_parse_from_real_samples() {
    let outcome = replaying("migrate-success.exit0.txt")
        .migrate(&site("erp.example.com"))
        .await
        .unwrap();
    assert_eq!(outcome.site, "erp.example.com");
    let patches: Vec<(&str, Option<f64>)> = outcome
        .patches
        .iter()
        .map(|p| (p.patch.as_str(), p.seconds))
        .collect();
    assert_eq!(
        patches,
        [
            (
                "lockstep_app.patches.v1_0.set_default_field_officer",
                Some(0.214)
            ),
            ("lockstep_app.patches.v1_1.backfill_village", Some(1.872))
        ]
    );
    let outcome = replaying("migrate-nothing-to-patch.exit0.txt")
        .migrate(&site("staging.example.com"))
        .await
        .unwrap();
    assert!(outcome.patches.is_empty());

    let err = replaying("migrate-failure-patch.exit1.txt")
        .migrate(&site("erp.example.com"))
        .await
        .unwrap_err();
    let RunnerError::Failed {
        reason, exit_code, ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(*exit_code, Some(1));
    assert_eq!(
        reason,
        "pymysql.err.OperationalError: (1054, \"Unknown column 'village' in 'field list'\")"
    );
    let err = replaying("migrate-failure-redis.exit1.txt")
        .migrate(&site("erp.example.com"))
        .await
        .unwrap_err();
    let RunnerError::Failed { reason, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(reason, "Service redis_cache is not running.");
}

#[tokio::test]
async fn success_exit_with_foreign_output_is_not_trusted() {
    let runner = Runner::from_template(
        ": {site} {args}; echo all good".into(),
        Duration::from_secs(10),
    )
    .unwrap();
    let err = runner.backup(&site("s")).await.unwrap_err();
    assert!(matches!(err, RunnerError::UnexpectedOutput { .. }), "{err}");
    let err = runner.migrate(&site("s")).await.unwrap_err();
    assert!(err.to_string().contains("Migrating"), "{err}");
}

#[tokio::test]
async fn the_template_receives_quoted_site_and_args_and_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("args");
    let template = format!(
        "printf '%s|' {{site}} {{args}} > '{}'; echo 'Site s1 has been restored'",
        log.display()
    );
    let runner = Runner::from_template(template, Duration::from_secs(10)).unwrap();
    runner
        .restore(&site("s1"), "/tmp/it's here.sql.gz")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "s1|restore|/tmp/it's here.sql.gz|--force|"
    );

    let slow = Runner::from_template(
        ": {site} {args}; echo Migrating s1; sleep 30".into(),
        Duration::from_millis(300),
    )
    .unwrap();
    let err = slow.migrate(&site("s1")).await.unwrap_err();
    let RunnerError::TimedOut { tail, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(tail, "Migrating s1");
}
