//! Reading what `bench` prints (reference/frappe.md §4): the backup "Backup
//! Summary", the restore and migrate outcomes, and the reason a run failed (the
//! last traceback line, or bench's own one-line complaints). Pure text in,
//! typed values out; the same parsers read the bench stand-in's output.

use chrono::NaiveDateTime;

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupFile {
    /// `Config`, `Database`, `Public` or `Private`, as bench labels them.
    pub kind: String,
    pub path: String,
    /// As bench prints it: `94.0B`, `1.2MiB`.
    pub size: String,
}

/// What `bench --site <s> backup` reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupSummary {
    pub site: String,
    /// The common file-name prefix, e.g. `20260503_130000-s1_local`: what a
    /// rollback restores, and where the backup's age is read from.
    pub backup_id: String,
    /// "at …" of the summary, in the site's time zone.
    pub taken_at: NaiveDateTime,
    pub database_file: String,
    pub files: Vec<BackupFile>,
    pub with_files: bool,
}

/// What `bench --site <s> restore <file>` reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestoreOutcome {
    pub site: String,
    pub with_files: bool,
}

/// One patch run by `bench migrate`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PatchRun {
    pub patch: String,
    /// "Success: Done in Ns"; None when the patch did not finish.
    pub seconds: Option<f64>,
}

/// What `bench --site <s> migrate` reported.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MigrateOutcome {
    pub site: String,
    pub patches: Vec<PatchRun>,
}

/// Reads a successful backup's output.
pub fn parse_backup(output: &str) -> Result<BackupSummary, String> {
    let lines: Vec<&str> = output.lines().map(str::trim_end).collect();
    let header = lines
        .iter()
        .position(|l| l.trim_start().starts_with("Backup Summary for "))
        .ok_or("no \"Backup Summary for <site> at <time>\" line")?;
    let rest = lines[header]
        .trim_start()
        .trim_start_matches("Backup Summary for ");
    let (site, at) = rest
        .rsplit_once(" at ")
        .ok_or("the summary line has no \" at <time>\"")?;
    let taken_at = parse_datetime(at.trim())
        .ok_or_else(|| format!("cannot read the backup time {:?}", at.trim()))?;
    let mut files = Vec::new();
    for line in &lines[header + 1..] {
        let Some((label, rest)) = line.split_once(':') else {
            break;
        };
        let kind = label.trim();
        if !matches!(kind, "Config" | "Database" | "Public" | "Private") {
            break;
        }
        let rest = rest.trim();
        let (path, size) = rest
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| format!("the {kind} line has no size: {line:?}"))?;
        files.push(BackupFile {
            kind: kind.to_string(),
            path: path.trim().to_string(),
            size: size.to_string(),
        });
    }
    let database_file = files
        .iter()
        .find(|f| f.kind == "Database")
        .map(|f| f.path.clone())
        .ok_or("the summary has no Database line")?;
    let completed = lines
        .iter()
        .find(|l| {
            l.contains(&format!(
                "Backup for Site {site} has been successfully completed"
            ))
        })
        .ok_or_else(|| {
            format!("no \"Backup for Site {site} has been successfully completed\" line")
        })?;
    let file_name = database_file.rsplit('/').next().unwrap_or(&database_file);
    let backup_id = file_name
        .split_once("-database")
        .map(|(id, _)| id.to_string())
        .ok_or_else(|| format!("the database file {file_name:?} is not named <id>-database…"))?;
    Ok(BackupSummary {
        site: site.trim().to_string(),
        backup_id,
        taken_at,
        database_file,
        with_files: completed.trim_end().ends_with("with files"),
        files,
    })
}

/// Reads a successful restore's output.
pub fn parse_restore(output: &str) -> Result<RestoreOutcome, String> {
    output
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("Site ")?;
            let (site, tail) = rest.split_once(" has been restored")?;
            Some(RestoreOutcome {
                site: site.to_string(),
                with_files: tail.contains("with files"),
            })
        })
        .ok_or_else(|| "no \"Site <site> has been restored\" line".to_string())
}

/// Reads a successful migrate's output.
pub fn parse_migrate(output: &str) -> Result<MigrateOutcome, String> {
    if let Some(reason) = traceback_reason(output) {
        return Err(format!("migrate printed a traceback: {reason}"));
    }
    let site = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Migrating ").map(str::to_string))
        .ok_or("no \"Migrating <site>\" line")?;
    Ok(MigrateOutcome {
        site,
        patches: patches(output),
    })
}

/// "Executing <patch> in <site> (<db>)" lines, each with its "Success: Done in Ns".
pub fn patches(output: &str) -> Vec<PatchRun> {
    let mut runs: Vec<PatchRun> = Vec::new();
    for line in output.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Executing ") {
            let patch = rest.split(" in ").next().unwrap_or(rest).trim().to_string();
            runs.push(PatchRun {
                patch,
                seconds: None,
            });
        } else if let Some(rest) = line.strip_prefix("Success: Done in ") {
            if let Some(last) = runs.last_mut().filter(|r| r.seconds.is_none()) {
                last.seconds = rest.trim_end_matches('s').trim().parse().ok();
            }
        }
    }
    runs
}

/// Why a bench run failed, in one line: the exception line ending a traceback, or
/// one of bench's own complaints, or else the last line printed.
pub fn failure_reason(output: &str) -> String {
    if let Some(reason) = traceback_reason(output) {
        return reason;
    }
    const KNOWN: [&str; 7] = [
        "Backup failed for Site",
        "is not running.",
        "Invalid path",
        "does not exist",
        "No such command",
        "Testing is disabled for the site!",
        "Aborted!",
    ];
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .find(|l| KNOWN.iter().any(|k| l.contains(k)))
        .or(lines.last())
        .map(|l| l.to_string())
        .unwrap_or_else(|| "no output".to_string())
}

/// The exception line after the last "Traceback (most recent call last):".
fn traceback_reason(output: &str) -> Option<String> {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("Traceback (most recent call last):"))?;
    lines[start + 1..]
        .iter()
        .find(|l| !l.starts_with(' ') && !l.trim().is_empty() && is_exception_line(l))
        .map(|l| l.trim().to_string())
        .or_else(|| Some("Traceback without an exception line".to_string()))
}

fn is_exception_line(line: &str) -> bool {
    let head = line.split(':').next().unwrap_or_default();
    !head.is_empty()
        && !head.contains(' ')
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
}

fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BACKUP: &str = "Backup Summary for s1.local at 2026-05-03 13:00:00.123456
Config  : ./s1.local/private/backups/20260503_130000-s1_local-site_config_backup.json 94.0B
Database: ./s1.local/private/backups/20260503_130000-s1_local-database.sql.gz         1.2MiB
Backup for Site s1.local has been successfully completed
";

    #[test]
    fn reads_the_reference_backup_summary() {
        let s = parse_backup(BACKUP).unwrap();
        assert_eq!(s.site, "s1.local");
        assert_eq!(s.backup_id, "20260503_130000-s1_local");
        assert_eq!(s.taken_at.to_string(), "2026-05-03 13:00:00.123456");
        assert_eq!(
            s.database_file,
            "./s1.local/private/backups/20260503_130000-s1_local-database.sql.gz"
        );
        assert_eq!(s.files[1].size, "1.2MiB");
        assert!(!s.with_files);
    }

    #[test]
    fn a_summary_without_the_completion_line_is_not_a_success() {
        let cut = BACKUP.lines().take(3).collect::<Vec<_>>().join("\n");
        assert!(parse_backup(&cut)
            .unwrap_err()
            .contains("successfully completed"));
    }

    #[test]
    fn failure_reason_prefers_the_exception_line() {
        let out = "Migrating s\nTraceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n    main()\nfrappe.exceptions.ValidationError: Field age is mandatory\n";
        assert_eq!(
            failure_reason(out),
            "frappe.exceptions.ValidationError: Field age is mandatory"
        );
        assert_eq!(
            failure_reason("Migrating s\nService redis_cache is not running.\n"),
            "Service redis_cache is not running."
        );
        assert_eq!(failure_reason(""), "no output");
    }

    proptest! {
        #[test]
        fn parsers_never_panic(text in "\\PC{0,400}") {
            let _ = parse_backup(&text);
            let _ = parse_restore(&text);
            let _ = parse_migrate(&text);
            let _ = failure_reason(&text);
        }

        #[test]
        fn backup_ids_round_trip(stamp in "[0-9]{8}_[0-9]{6}", site in "[a-z][a-z0-9_]{0,12}") {
            let out = format!("Backup Summary for {site} at 2026-01-02 03:04:05.000001\nDatabase: ./{site}/private/backups/{stamp}-{site}-database.sql.gz 1.0KiB\nBackup for Site {site} has been successfully completed\n");
            prop_assert_eq!(parse_backup(&out).unwrap().backup_id, format!("{stamp}-{site}"));
        }
    }
}
