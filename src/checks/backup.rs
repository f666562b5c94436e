//! The backup box: is the newest production backup young enough, or must one be taken
//! now through the runner? The backup's id (`20260503_130000-s1_local`, the file-name
//! prefix bench gives every file of one backup) is what the PR body and a rollback
//! name. Pure: reading `fetch_latest_backups` or running `bench backup` is the
//! caller's; this module turns their answers into an age and a decision.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::{BoxId, BoxOutcome};
use crate::runner::BackupSummary;

/// One backup of production: its id and when it was taken.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupInfo {
    pub id: String,
    pub taken_at: DateTime<Utc>,
    /// The database file, as bench or the site named it (what `restore` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_path: Option<String>,
}

/// What to do about the backup box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackupDecision {
    /// The newest backup is young enough: keep its id.
    Fresh(BackupInfo),
    /// Take one now; `why` says why the newest one will not do.
    TakeNew { why: String },
}

/// Decides from the newest backup (if any) whether it is young enough.
pub fn backup_decision(
    latest: Option<&BackupInfo>,
    now: DateTime<Utc>,
    max_age_hours: u32,
) -> BackupDecision {
    let Some(latest) = latest else {
        return BackupDecision::TakeNew {
            why: "no backup of production in the last 30 days".to_owned(),
        };
    };
    let age = now - latest.taken_at;
    if age > Duration::hours(i64::from(max_age_hours)) {
        return BackupDecision::TakeNew {
            why: format!(
                "newest backup {} is {} old (max {max_age_hours}h)",
                latest.id,
                human_age(age)
            ),
        };
    }
    BackupDecision::Fresh(latest.clone())
}

/// The box before anything is taken: a fresh backup passes; a stale one passes with a
/// note that one will be taken before the branch is made (the promotion takes it,
/// after the checklist; a dry run never does), or fails when nothing could take it.
pub fn backup_plan_box(
    decision: &BackupDecision,
    can_take: bool,
    now: DateTime<Utc>,
) -> BoxOutcome {
    match decision {
        BackupDecision::Fresh(_) => backup_box(decision, None, now),
        BackupDecision::TakeNew { why } if can_take => BoxOutcome::warn(
            BoxId::Backup,
            format!("{why}; a backup will be taken before the branch is made"),
        ),
        BackupDecision::TakeNew { why } => BoxOutcome::fail(
            BoxId::Backup,
            format!("{why}; no [runner] is configured to take one"),
        ),
    }
}

/// The box after the decision: a fresh backup passes; otherwise the result of taking a
/// new one (its info, or the runner's error).
pub fn backup_box(
    decision: &BackupDecision,
    taken: Option<Result<&BackupInfo, &str>>,
    now: DateTime<Utc>,
) -> BoxOutcome {
    match (decision, taken) {
        (BackupDecision::Fresh(info), _) => BoxOutcome::pass(
            BoxId::Backup,
            format!("{} ({} old)", info.id, human_age(now - info.taken_at)),
        ),
        (BackupDecision::TakeNew { .. }, Some(Ok(info))) => {
            BoxOutcome::pass(BoxId::Backup, format!("{} (taken now)", info.id))
        }
        (BackupDecision::TakeNew { why }, Some(Err(error))) => BoxOutcome::fail(
            BoxId::Backup,
            format!("{why}; taking a new one failed: {error}"),
        ),
        (BackupDecision::TakeNew { why }, None) => {
            BoxOutcome::fail(BoxId::Backup, format!("{why}; no new backup was taken"))
        }
    }
}

/// `3h 20m`, `2d 4h`, `12m`.
pub fn human_age(age: Duration) -> String {
    let minutes = age.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins}m"),
        (0, _) => format!("{hours}h {mins}m"),
        _ => format!("{days}d {hours}h"),
    }
}

/// Reads a backup file path as `fetch_latest_backups` returns it
/// (`./s1.local/private/backups/20260503_130000-s1_local-database.sql.gz`): the id is
/// the file name up to `-database`, the time its `YYYYMMDD_HHMMSS` prefix read in the
/// site's time zone (reference/frappe.md §5). In a fall-back hour the earlier instant
/// is taken, so the backup counts as older, never younger, than it is.
pub fn backup_from_path(path: &str, site_zone: Tz) -> Result<BackupInfo, String> {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let id = file
        .find("-database")
        .map(|at| &file[..at])
        .ok_or_else(|| {
            format!("{file:?} is not a bench database backup (no \"-database\" in its name)")
        })?;
    let stamp = id.get(..15).unwrap_or(id);
    let local = NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S")
        .map_err(|_| format!("{file:?} does not start with a YYYYMMDD_HHMMSS time"))?;
    Ok(BackupInfo {
        id: id.to_owned(),
        taken_at: local_to_utc(local, site_zone),
        database_path: Some(path.to_owned()),
    })
}

/// A backup just taken through the runner (`bench backup`'s summary; its time is in
/// the site's time zone).
pub fn backup_from_summary(summary: &BackupSummary, site_zone: Tz) -> BackupInfo {
    BackupInfo {
        id: summary.backup_id.clone(),
        taken_at: local_to_utc(summary.taken_at, site_zone),
        database_path: Some(summary.database_file.clone()),
    }
}

/// A site-local wall time as UTC; a time skipped by a spring-forward is read as the
/// instant one hour later on the clock (what the clock showed just after).
pub fn local_to_utc(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    match zone.from_local_datetime(&local).earliest() {
        Some(at) => at.with_timezone(&Utc),
        None => zone
            .from_local_datetime(&(local + Duration::hours(1)))
            .earliest()
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::BoxStatus;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn info(id: &str, at: &str) -> BackupInfo {
        BackupInfo {
            id: id.into(),
            taken_at: utc(at),
            database_path: None,
        }
    }

    #[test]
    fn a_young_backup_is_kept() {
        let b = info("20261126_010000-prod", "2026-11-26T01:00:00Z");
        let now = utc("2026-11-26T04:20:00Z");
        let decision = backup_decision(Some(&b), now, 24);
        assert_eq!(decision, BackupDecision::Fresh(b.clone()));
        let out = backup_box(&decision, None, now);
        assert_eq!(out.status, BoxStatus::Pass);
        assert_eq!(out.detail, "20261126_010000-prod (3h 20m old)");
    }

    #[test]
    fn exactly_max_age_is_still_fresh_one_minute_more_is_not() {
        let b = info("x", "2026-11-25T04:00:00Z");
        assert!(matches!(
            backup_decision(Some(&b), utc("2026-11-26T04:00:00Z"), 24),
            BackupDecision::Fresh(_)
        ));
        let d = backup_decision(Some(&b), utc("2026-11-26T04:01:00Z"), 24);
        assert_eq!(
            d,
            BackupDecision::TakeNew {
                why: "newest backup x is 1d 0h old (max 24h)".into()
            }
        );
    }

    #[test]
    fn no_backup_or_a_failed_new_one_fails_the_box_with_the_reason() {
        let now = utc("2026-11-26T04:00:00Z");
        let d = backup_decision(None, now, 24);
        let out = backup_box(&d, Some(Err("Backup failed for Site prod. disk full")), now);
        assert_eq!(out.status, BoxStatus::Fail);
        assert_eq!(
            out.detail,
            "no backup of production in the last 30 days; taking a new one failed: Backup failed for Site prod. disk full"
        );
        let new = info("20261126_040000-prod", "2026-11-26T04:00:00Z");
        let out = backup_box(&d, Some(Ok(&new)), now);
        assert_eq!(out.status, BoxStatus::Pass);
        assert_eq!(out.detail, "20261126_040000-prod (taken now)");
        assert_eq!(backup_box(&d, None, now).status, BoxStatus::Fail);
    }

    #[test]
    fn paths_from_fetch_latest_backups_are_read_in_the_site_zone() {
        let b = backup_from_path(
            "./s1.local/private/backups/20260503_130000-s1_local-database.sql.gz",
            chrono_tz::Europe::London,
        )
        .unwrap();
        assert_eq!(b.id, "20260503_130000-s1_local");
        assert_eq!(b.taken_at, utc("2026-05-03T12:00:00Z")); // BST
        let enc = backup_from_path(
            "/home/frappe/bench/sites/s1.local/private/backups/20260103_130000-s1_local-database-enc.sql.gz",
            chrono_tz::Asia::Kolkata,
        )
        .unwrap();
        assert_eq!(enc.taken_at, utc("2026-01-03T07:30:00Z"));
        assert!(backup_from_path("site_config_backup.json", Tz::UTC)
            .unwrap_err()
            .contains("not a bench database backup"));
        assert!(backup_from_path("garbage-database.sql.gz", Tz::UTC)
            .unwrap_err()
            .contains("YYYYMMDD_HHMMSS"));
    }

    #[test]
    fn a_summary_from_the_runner_becomes_backup_info() {
        let output = "Backup Summary for prod.local at 2026-11-26 09:30:00.123456\n\
Config  : ./prod.local/private/backups/20261126_093000-prod_local-site_config_backup.json 94.0B\n\
Database: ./prod.local/private/backups/20261126_093000-prod_local-database.sql.gz         1.2MiB\n\
Backup for Site prod.local has been successfully completed\n";
        let summary = crate::runner::parse_backup(output).unwrap();
        let info = backup_from_summary(&summary, chrono_tz::Asia::Kolkata);
        assert_eq!(info.id, "20261126_093000-prod_local");
        assert_eq!(info.taken_at, utc("2026-11-26T04:00:00.123456Z"));
    }

    #[test]
    fn a_time_in_the_skipped_hour_does_not_panic() {
        // London skips 01:00-02:00 on 2026-03-29.
        let b = backup_from_path(
            "20260329_013000-s-database.sql.gz",
            chrono_tz::Europe::London,
        )
        .unwrap();
        assert_eq!(b.taken_at, utc("2026-03-29T01:30:00Z"));
    }
}
