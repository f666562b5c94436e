//! The freeze guard box: is "now", read on the wall clock of `freeze.timezone`, inside
//! a weekly window, a dated one-off window or a holiday? Windows are wall-clock times,
//! so a DST change moves them with the local clock (Friday 14:00 in London is 13:00 UTC
//! in summer and 14:00 UTC in winter); in the repeated hour of a fall-back both
//! instants that read 01:30 count as 01:30. `--emergency --reason=…` turns a freeze
//! into a warning carrying the reason and touches no other box. Pure: the clock is
//! the caller's.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::config::{FreezeConfig, WeekTime};
use super::{BoxId, BoxOutcome};

/// Why now is frozen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FreezeReason {
    Weekly(String),
    OneOff(String),
    Holiday(chrono::NaiveDate),
}

impl FreezeReason {
    fn describe(&self) -> String {
        match self {
            FreezeReason::Weekly(window) | FreezeReason::OneOff(window) => {
                format!("inside freeze {window}")
            }
            FreezeReason::Holiday(day) => format!("holiday {day}"),
        }
    }
}

/// The first freeze that holds at the local wall-clock time `local`, if any. Holidays
/// first, then one-off windows, then weekly ones: the most specific reason is named.
pub fn freeze_reason(local: NaiveDateTime, cfg: &FreezeConfig) -> Option<FreezeReason> {
    if let Some(day) = cfg.holidays.iter().find(|d| **d == local.date()) {
        return Some(FreezeReason::Holiday(*day));
    }
    if let Some(window) = cfg.one_off.iter().find(|w| w.from <= local && local < w.to) {
        return Some(FreezeReason::OneOff(window.to_string()));
    }
    // Windows are whole minutes, so the minute now is in one exactly when every second
    // of it is.
    let minute = WeekTime {
        day: local.weekday(),
        time: local.time(),
    }
    .minute_of_week();
    cfg.windows
        .iter()
        .find(|w| in_weekly(minute, w.from.minute_of_week(), w.to.minute_of_week()))
        .map(|w| FreezeReason::Weekly(w.to_string()))
}

/// `from` included, `to` excluded; a window whose start is later in the week than its
/// end wraps past Sunday midnight.
fn in_weekly(minute: u32, from: u32, to: u32) -> bool {
    if from < to {
        from <= minute && minute < to
    } else {
        minute >= from || minute < to
    }
}

/// The freeze guard box. `emergency` is the `--reason` of an `--emergency` run.
pub fn freeze(now: DateTime<Utc>, cfg: &FreezeConfig, emergency: Option<&str>) -> BoxOutcome {
    let local = now.with_timezone(&cfg.timezone);
    let when = local.format("%A %H:%M").to_string();
    let Some(reason) = freeze_reason(local.naive_local(), cfg) else {
        return BoxOutcome::pass(BoxId::FreezeGuard, format!("{when}, fine"));
    };
    let frozen = format!(
        "{when} — {} ({})",
        reason.describe(),
        zone_name(cfg.timezone)
    );
    match emergency.map(str::trim) {
        Some(reason) if !reason.is_empty() => {
            BoxOutcome::warn(BoxId::FreezeGuard, format!("{frozen}; emergency: {reason}"))
        }
        Some(_) => BoxOutcome::fail(
            BoxId::FreezeGuard,
            format!("{frozen}; --emergency needs --reason=\"…\""),
        ),
        None => BoxOutcome::fail(BoxId::FreezeGuard, frozen),
    }
}

fn zone_name(tz: Tz) -> &'static str {
    tz.name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::config::{DatedWindow, WeeklyWindow};
    use crate::checks::BoxStatus;
    use chrono::{NaiveDate, TimeZone};

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn cfg(tz: Tz) -> FreezeConfig {
        FreezeConfig {
            timezone: tz,
            ..FreezeConfig::default()
        }
    }

    fn weekly(from: &str, to: &str) -> WeeklyWindow {
        WeeklyWindow {
            from: from.parse().unwrap(),
            to: to.parse().unwrap(),
        }
    }

    #[test]
    fn a_wednesday_afternoon_is_fine() {
        // 2026-11-25 is a Wednesday.
        let out = freeze(utc("2026-11-25T14:30:00Z"), &cfg(Tz::UTC), None);
        assert_eq!(out.status, BoxStatus::Pass);
        assert_eq!(out.detail, "Wednesday 14:30, fine");
    }

    #[test]
    fn the_default_window_wraps_the_weekend() {
        let c = cfg(Tz::UTC);
        let cases = [
            ("2026-11-27T13:59:00Z", BoxStatus::Pass), // Fri 13:59
            ("2026-11-27T14:00:00Z", BoxStatus::Fail), // Fri 14:00, start included
            ("2026-11-28T12:00:00Z", BoxStatus::Fail), // Saturday
            ("2026-11-29T23:59:59Z", BoxStatus::Fail), // Sunday, last second
            ("2026-11-30T00:00:00Z", BoxStatus::Pass), // Mon 00:00, end excluded
            ("2026-11-23T09:00:00Z", BoxStatus::Pass), // Monday morning
        ];
        for (at, want) in cases {
            assert_eq!(freeze(utc(at), &c, None).status, want, "{at}");
        }
    }

    #[test]
    fn the_answer_is_read_in_the_configured_zone() {
        // Friday 09:30 UTC is Friday 15:00 in Kolkata (UTC+05:30, no DST).
        let out = freeze(
            utc("2026-11-27T09:30:00Z"),
            &cfg(chrono_tz::Asia::Kolkata),
            None,
        );
        assert_eq!(out.status, BoxStatus::Fail);
        assert_eq!(
            out.detail,
            "Friday 15:00 — inside freeze Fri 14:00 → Mon 00:00 (Asia/Kolkata)"
        );
        // Sunday 20:00 UTC is already Monday 01:30 in Kolkata: outside.
        let out = freeze(
            utc("2026-11-29T20:00:00Z"),
            &cfg(chrono_tz::Asia::Kolkata),
            None,
        );
        assert_eq!(out.detail, "Monday 01:30, fine");
        // …and Monday 01:00 in Kolkata is still Sunday in New York: frozen there.
        let out = freeze(
            utc("2026-11-29T20:00:00Z"),
            &cfg(chrono_tz::America::New_York),
            None,
        );
        assert_eq!(out.status, BoxStatus::Fail);
        assert!(
            out.detail.starts_with("Sunday 15:00 — inside freeze"),
            "{}",
            out.detail
        );
    }

    #[test]
    fn london_windows_follow_the_local_clock_across_dst() {
        let c = cfg(chrono_tz::Europe::London);
        // Winter (GMT = UTC): Friday 13:30 UTC is 13:30 local, before the window.
        assert_eq!(
            freeze(utc("2026-03-27T13:30:00Z"), &c, None).status,
            BoxStatus::Pass
        );
        // Summer (BST = UTC+1): the same UTC time on a Friday is 14:30 local, inside.
        let out = freeze(utc("2026-04-03T13:30:00Z"), &c, None);
        assert_eq!(out.status, BoxStatus::Fail);
        assert!(out.detail.starts_with("Friday 14:30"), "{}", out.detail);
        // Autumn: the window ends Monday 00:00 local, which is Sunday 23:00 UTC in BST…
        assert_eq!(
            freeze(utc("2026-09-27T23:00:00Z"), &c, None).status,
            BoxStatus::Pass
        );
        // …and Monday 00:00 UTC once the clocks went back (25 Oct 2026).
        assert_eq!(
            freeze(utc("2026-11-01T23:30:00Z"), &c, None).status,
            BoxStatus::Fail
        );
        assert_eq!(
            freeze(utc("2026-11-02T00:00:00Z"), &c, None).status,
            BoxStatus::Pass
        );
    }

    #[test]
    fn a_window_inside_the_skipped_or_repeated_hour_is_wall_clock() {
        // New York springs forward on Sunday 2026-03-08 at 02:00 → 03:00, and falls
        // back on Sunday 2026-11-01 at 02:00 → 01:00.
        let mut c = cfg(chrono_tz::America::New_York);
        c.windows = vec![weekly("Sun 01:30", "Sun 03:30")];
        // 06:59 UTC = 01:59 EST: inside.
        assert_eq!(
            freeze(utc("2026-03-08T06:59:00Z"), &c, None).status,
            BoxStatus::Fail
        );
        // 07:00 UTC = 03:00 EDT (02:00-03:00 never happens): still inside.
        assert_eq!(
            freeze(utc("2026-03-08T07:00:00Z"), &c, None).status,
            BoxStatus::Fail
        );
        // 07:30 UTC = 03:30 EDT: the end, excluded.
        assert_eq!(
            freeze(utc("2026-03-08T07:30:00Z"), &c, None).status,
            BoxStatus::Pass
        );
        // Fall back: 01:45 local happens twice, at 05:45 UTC (EDT) and 06:45 UTC (EST).
        let ny = chrono_tz::America::New_York;
        for at in ["2026-11-01T05:45:00Z", "2026-11-01T06:45:00Z"] {
            let t = utc(at);
            assert_eq!(t.with_timezone(&ny).format("%H:%M").to_string(), "01:45");
            assert_eq!(freeze(t, &c, None).status, BoxStatus::Fail, "{at}");
        }
        // 08:30 UTC = 03:30 EST: outside.
        assert_eq!(
            freeze(utc("2026-11-01T08:30:00Z"), &c, None).status,
            BoxStatus::Pass
        );
    }

    #[test]
    fn holidays_are_whole_local_days() {
        let mut c = cfg(chrono_tz::Europe::London);
        c.holidays = vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()];
        // Christmas Day 2026 is a Friday; 10:00 is before the weekly window.
        let out = freeze(utc("2026-12-25T10:00:00Z"), &c, None);
        assert_eq!(out.status, BoxStatus::Fail);
        assert_eq!(
            out.detail,
            "Friday 10:00 — holiday 2026-12-25 (Europe/London)"
        );
        assert_eq!(
            freeze(utc("2026-12-24T23:59:00Z"), &c, None).status,
            BoxStatus::Pass
        );
        // In Auckland (UTC+13 in December) 11:00 UTC on the 24th is already the 25th.
        let mut nz = c.clone();
        nz.timezone = chrono_tz::Pacific::Auckland;
        let out = freeze(utc("2026-12-24T11:00:00Z"), &nz, None);
        assert_eq!(
            out.detail,
            "Friday 00:00 — holiday 2026-12-25 (Pacific/Auckland)"
        );
    }

    #[test]
    fn one_off_windows_name_their_reason() {
        let mut c = cfg(Tz::UTC);
        c.one_off = vec![DatedWindow {
            from: NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 12, 2)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            reason: Some("board demo".into()),
        }];
        let out = freeze(utc("2026-12-01T12:00:00Z"), &c, None);
        assert_eq!(
            out.detail,
            "Tuesday 12:00 — inside freeze 2026-12-01 09:00 → 2026-12-02 00:00 (board demo) (UTC)"
        );
        assert_eq!(
            freeze(utc("2026-12-02T00:00:00Z"), &c, None).status,
            BoxStatus::Pass
        );
        assert_eq!(
            freeze(utc("2026-12-01T08:59:00Z"), &c, None).status,
            BoxStatus::Pass
        );
    }

    #[test]
    fn emergency_passes_the_freeze_as_a_warning_with_its_reason() {
        let c = cfg(Tz::UTC);
        let saturday = utc("2026-11-28T10:00:00Z");
        let out = freeze(saturday, &c, Some("payments outage INC-42"));
        assert_eq!(out.status, BoxStatus::Warn);
        assert_eq!(
            out.detail,
            "Saturday 10:00 — inside freeze Fri 14:00 → Mon 00:00 (UTC); emergency: payments outage INC-42"
        );
        let out = freeze(saturday, &c, Some("  "));
        assert_eq!(out.status, BoxStatus::Fail);
        assert!(
            out.detail.ends_with("--emergency needs --reason=\"…\""),
            "{}",
            out.detail
        );
        // Outside a window an emergency changes nothing.
        let out = freeze(utc("2026-11-25T10:00:00Z"), &c, Some("why not"));
        assert_eq!(out.status, BoxStatus::Pass);
    }

    #[test]
    fn no_windows_means_never_frozen() {
        let mut c = cfg(Tz::UTC);
        c.windows.clear();
        for day in 23..30 {
            let at = Utc.with_ymd_and_hms(2026, 11, day, 15, 0, 0).unwrap();
            assert_eq!(freeze(at, &c, None).status, BoxStatus::Pass);
        }
    }

    #[test]
    fn a_midweek_window_that_does_not_wrap() {
        let mut c = cfg(Tz::UTC);
        c.windows = vec![weekly("Wed 23:00", "Thu 01:00")];
        assert_eq!(
            freeze(utc("2026-11-25T22:59:00Z"), &c, None).status,
            BoxStatus::Pass
        );
        assert_eq!(
            freeze(utc("2026-11-25T23:30:00Z"), &c, None).status,
            BoxStatus::Fail
        );
        assert_eq!(
            freeze(utc("2026-11-26T00:59:00Z"), &c, None).status,
            BoxStatus::Fail
        );
        assert_eq!(
            freeze(utc("2026-11-26T01:00:00Z"), &c, None).status,
            BoxStatus::Pass
        );
        // Saturday: the default window is gone, so fine.
        assert_eq!(
            freeze(utc("2026-11-28T12:00:00Z"), &c, None).status,
            BoxStatus::Pass
        );
    }
}
