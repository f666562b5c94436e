//! The checklist's configuration sections (`[checks]`, `[freeze]`, `[promote]`), with
//! the defaults of PRODUCT.md §4. Parsing only: the lead hangs these structs on the
//! config file; this module reads no file and no environment. Times in `[freeze]` are
//! wall-clock times in `freeze.timezone`, written as people write them
//! (`"Fri 14:00"`, `"2026-12-24 00:00"`, `"2026-12-25"`).

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

/// `[checks]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksConfig {
    /// Percent of changed lines (or of all lines without a diff command) that tests
    /// must cover.
    #[serde(default = "default_coverage_min")]
    pub coverage_min: u8,
    #[serde(default = "default_backup_max_age_hours")]
    pub backup_max_age_hours: u32,
    /// How long one box may take before it fails with "did not finish within Ns".
    #[serde(default = "default_box_timeout_secs")]
    pub box_timeout_secs: u64,
    #[serde(default)]
    pub tester: Option<TesterConfig>,
    #[serde(default)]
    pub external_reviewer: Option<ExternalReviewerConfig>,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        ChecksConfig {
            coverage_min: default_coverage_min(),
            backup_max_age_hours: default_backup_max_age_hours(),
            box_timeout_secs: default_box_timeout_secs(),
            tester: None,
            external_reviewer: None,
        }
    }
}

fn default_coverage_min() -> u8 {
    80
}

fn default_backup_max_age_hours() -> u32 {
    24
}

fn default_box_timeout_secs() -> u64 {
    // A backup of a real production site or a test run takes minutes, not seconds.
    600
}

/// `[checks.tester]`: a command run through the runner that leaves a JUnit XML file
/// and, optionally, a Cobertura XML file behind.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TesterConfig {
    /// The test run, as bench arguments for the runner (whose template supplies
    /// `bench --site {site}`), e.g. `run-tests --app grants --coverage
    /// --junit-xml-output junit.xml`. `bench run-tests` exits 0 on failures unless `CI`
    /// is set, so the box judges the JUnit report, never the exit code.
    pub command: String,
    /// Where the command leaves its JUnit XML.
    pub junit_path: String,
    /// Where it leaves its Cobertura XML (`sites/coverage.xml` for `bench run-tests
    /// --coverage`); without it coverage is not measured and the box warns.
    #[serde(default)]
    pub cobertura_path: Option<String>,
    /// A command printing a unified diff of the code under test (e.g. `git -C
    /// apps/grants diff main...HEAD`): coverage is then measured on the lines it adds
    /// only, diff-cover's way.
    #[serde(default)]
    pub diff_command: Option<String>,
}

/// `[checks.external_reviewer]`: a command printing semgrep-style JSON.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalReviewerConfig {
    /// e.g. `semgrep --config p/python --json {dir}`
    pub command: String,
}

/// `[promote]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteConfig {
    #[serde(default = "default_max_families")]
    pub max_families: usize,
    /// How long an `--emergency` promotion waits for its second approver.
    #[serde(default = "default_emergency_ttl_minutes")]
    pub emergency_ttl_minutes: u32,
    /// First wait between reads of the PR's reviews and of the deploy; it doubles
    /// while nothing changes, up to `poll_max_interval_ms`.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    #[serde(default = "default_poll_max_interval_ms")]
    pub poll_max_interval_ms: u64,
    /// The production lock's time to live, renewed while the run moves.
    #[serde(default = "default_lock_ttl_hours")]
    pub lock_ttl_hours: u32,
    /// How the PR is merged: "merge", "squash" or "rebase" (protection may restrict).
    #[serde(default = "default_merge_method")]
    pub merge_method: String,
}

impl Default for PromoteConfig {
    fn default() -> Self {
        PromoteConfig {
            max_families: default_max_families(),
            emergency_ttl_minutes: default_emergency_ttl_minutes(),
            poll_interval_ms: default_poll_interval_ms(),
            poll_max_interval_ms: default_poll_max_interval_ms(),
            lock_ttl_hours: default_lock_ttl_hours(),
            merge_method: default_merge_method(),
        }
    }
}

fn default_max_families() -> usize {
    5
}

fn default_emergency_ttl_minutes() -> u32 {
    30
}

fn default_poll_interval_ms() -> u64 {
    10_000
}

fn default_poll_max_interval_ms() -> u64 {
    120_000
}

fn default_lock_ttl_hours() -> u32 {
    24
}

fn default_merge_method() -> String {
    "merge".to_string()
}

/// `[freeze]`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeConfig {
    /// An IANA zone name (`Europe/London`); every time below is wall-clock time there.
    #[serde(default = "default_timezone", deserialize_with = "deserialize_tz")]
    pub timezone: Tz,
    /// Weekly windows; a window may wrap past Sunday (`Fri 14:00` → `Mon 00:00`).
    #[serde(default = "default_windows")]
    pub windows: Vec<WeeklyWindow>,
    /// Dated one-off windows (a launch, a year-end close).
    #[serde(default)]
    pub one_off: Vec<DatedWindow>,
    /// Whole local days with no promotion.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

impl Default for FreezeConfig {
    fn default() -> Self {
        FreezeConfig {
            timezone: default_timezone(),
            windows: default_windows(),
            one_off: Vec::new(),
            holidays: Vec::new(),
        }
    }
}

fn default_timezone() -> Tz {
    Tz::UTC
}

fn default_windows() -> Vec<WeeklyWindow> {
    vec![WeeklyWindow {
        from: WeekTime {
            day: Weekday::Fri,
            time: NaiveTime::from_hms_opt(14, 0, 0).expect("14:00 is a time"),
        },
        to: WeekTime {
            day: Weekday::Mon,
            time: NaiveTime::MIN,
        },
    }]
}

fn deserialize_tz<'de, D: Deserializer<'de>>(de: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(de)?;
    Tz::from_str(&name).map_err(|_| {
        serde::de::Error::custom(format!(
            "unknown time zone {name:?}: use an IANA name such as \"Europe/London\" or \"UTC\""
        ))
    })
}

/// A point in the week, local time: `Fri 14:00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeekTime {
    pub day: Weekday,
    pub time: NaiveTime,
}

impl WeekTime {
    /// Minutes since Monday 00:00.
    pub fn minute_of_week(self) -> u32 {
        use chrono::Timelike;
        self.day.num_days_from_monday() * 24 * 60 + self.time.hour() * 60 + self.time.minute()
    }
}

impl fmt::Display for WeekTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.day, self.time.format("%H:%M"))
    }
}

impl FromStr for WeekTime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!("{s:?} is not a week time: write a day and a 24-hour time, e.g. \"Fri 14:00\"")
        };
        let (day, time) = s.trim().split_once(char::is_whitespace).ok_or_else(usage)?;
        let day = Weekday::from_str(day.trim()).map_err(|_| usage())?;
        let time = NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| usage())?;
        Ok(WeekTime { day, time })
    }
}

impl<'de> Deserialize<'de> for WeekTime {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let text = String::deserialize(de)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A weekly window `from` → `to` (end excluded). `from` after `to` wraps the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeeklyWindow {
    pub from: WeekTime,
    pub to: WeekTime,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeekly {
    from: WeekTime,
    to: WeekTime,
}

impl<'de> Deserialize<'de> for WeeklyWindow {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let raw = RawWeekly::deserialize(de)?;
        if raw.from == raw.to {
            return Err(serde::de::Error::custom(format!(
                "freeze window from {} to {} is empty: give two different times",
                raw.from, raw.to
            )));
        }
        Ok(WeeklyWindow {
            from: raw.from,
            to: raw.to,
        })
    }
}

impl fmt::Display for WeeklyWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.from, self.to)
    }
}

/// A dated window, local time, end excluded: `2026-12-24 00:00` → `2026-12-27 00:00`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatedWindow {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDated {
    from: String,
    to: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Reads `2026-12-24 00:00`, `2026-12-24T00:00`, with or without seconds, or a bare
/// date (its midnight).
pub fn parse_local_datetime(text: &str) -> Result<NaiveDateTime, String> {
    let text = text.trim();
    for format in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(at);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_time(NaiveTime::MIN))
        .map_err(|_| {
            format!("{text:?} is not a local date and time: write \"2026-12-24 14:00\" or \"2026-12-24\"")
        })
}

impl<'de> Deserialize<'de> for DatedWindow {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let raw = RawDated::deserialize(de)?;
        let from = parse_local_datetime(&raw.from).map_err(serde::de::Error::custom)?;
        let to = parse_local_datetime(&raw.to).map_err(serde::de::Error::custom)?;
        if from >= to {
            return Err(serde::de::Error::custom(format!(
                "freeze window {:?} → {:?} ends before it starts",
                raw.from, raw.to
            )));
        }
        Ok(DatedWindow {
            from,
            to,
            reason: raw.reason,
        })
    }
}

impl fmt::Display for DatedWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} → {}",
            self.from.format("%Y-%m-%d %H:%M"),
            self.to.format("%Y-%m-%d %H:%M")
        )?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        checks: ChecksConfig,
        #[serde(default)]
        freeze: FreezeConfig,
        #[serde(default)]
        promote: PromoteConfig,
    }

    #[test]
    fn empty_sections_take_the_documented_defaults() {
        let file: File = toml::from_str("").unwrap();
        assert_eq!(file.checks.coverage_min, 80);
        assert_eq!(file.checks.backup_max_age_hours, 24);
        assert_eq!(file.promote.max_families, 5);
        assert_eq!(file.freeze.timezone, Tz::UTC);
        assert_eq!(file.freeze.windows.len(), 1);
        assert_eq!(file.freeze.windows[0].to_string(), "Fri 14:00 → Mon 00:00");
        let file: File = toml::from_str("[checks]\n[freeze]\n[promote]\n").unwrap();
        assert_eq!(file.checks, ChecksConfig::default());
        assert_eq!(file.freeze, FreezeConfig::default());
    }

    #[test]
    fn a_full_file_parses() {
        let text = r#"
[checks]
coverage_min = 90
backup_max_age_hours = 6
box_timeout_secs = 120
[checks.tester]
command = "run-tests --app grants --coverage --junit-xml-output junit.xml"
junit_path = "junit.xml"
cobertura_path = "sites/coverage.xml"
diff_command = "git diff main...HEAD"
[checks.external_reviewer]
command = "semgrep --json --config p/python ."
[freeze]
timezone = "Asia/Kolkata"
windows = [{ from = "Fri 14:00", to = "Mon 00:00" }, { from = "Wed 23:00", to = "Thu 01:00" }]
one_off = [{ from = "2026-12-24 00:00", to = "2026-12-27", reason = "Christmas" }]
holidays = ["2026-01-26"]
[promote]
max_families = 3
"#;
        let file: File = toml::from_str(text).unwrap();
        assert_eq!(file.checks.coverage_min, 90);
        assert_eq!(
            file.checks.tester.unwrap().diff_command.as_deref(),
            Some("git diff main...HEAD")
        );
        assert_eq!(file.freeze.timezone, chrono_tz::Asia::Kolkata);
        assert_eq!(file.freeze.windows[1].to_string(), "Wed 23:00 → Thu 01:00");
        assert_eq!(
            file.freeze.one_off[0].to_string(),
            "2026-12-24 00:00 → 2026-12-27 00:00 (Christmas)"
        );
        assert_eq!(file.freeze.holidays[0].to_string(), "2026-01-26");
        assert_eq!(file.promote.max_families, 3);
    }

    #[test]
    fn bad_values_are_named() {
        let err = toml::from_str::<File>("[freeze]\ntimezone = \"Mars/Olympus\"\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown time zone \"Mars/Olympus\""),
            "{err}"
        );
        let err = toml::from_str::<File>(
            "[freeze]\nwindows = [{ from = \"Friday 2pm\", to = \"Mon 00:00\" }]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("e.g. \"Fri 14:00\""), "{err}");
        let err = toml::from_str::<File>(
            "[freeze]\nwindows = [{ from = \"Fri 14:00\", to = \"Fri 14:00\" }]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
        let err = toml::from_str::<File>(
            "[freeze]\none_off = [{ from = \"2026-12-27\", to = \"2026-12-24\" }]\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("ends before it starts"), "{err}");
        let err = toml::from_str::<File>("[checks]\ncoverage = 3\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
