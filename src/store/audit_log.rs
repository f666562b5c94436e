//! The audit log's second home: a hash-chained JSON Lines file beside the store
//! folder (`<store>.audit.jsonl`). Every audit entry the store commits is appended
//! here too, and made durable before the commit returns, so the audit survives a
//! lost or damaged store, and editing, removing or inserting a line shows: each
//! line carries the SHA-256 of the line before it (`prev`), the first one a run of
//! zeros. `lockstep audit verify` walks the chain ([`verify`]).
//!
//! This module knows files and hashes, not sled: the store decides what to append
//! and when.

use super::AuditEntry;
use crate::ids::RunId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What the first line names as its predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the file. Field order is the order written; the hash is taken over
/// the bytes as written, so readers never re-serialise a line to check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLine {
    /// The line's number in the file, from 1.
    pub n: u64,
    /// The store the entry was committed in (a store started empty gets a new id).
    pub store: String,
    /// The entry's key in that store's audit tree.
    pub id: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// SHA-256 (hex) of the previous line, without its newline.
    pub prev: String,
}

impl AuditLine {
    pub fn entry(&self) -> AuditEntry {
        AuditEntry {
            at: self.at,
            actor: self.actor.clone(),
            action: self.action.clone(),
            detail: self.detail.clone(),
            run_id: self.run_id.clone(),
        }
    }
}

/// The file that goes with the store at `store` (a sibling, so it outlives the folder).
pub fn log_path(store: &Path) -> PathBuf {
    let name = store
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "lockstep".to_string());
    store.with_file_name(format!("{name}.audit.jsonl"))
}

pub fn hash_line(line: &[u8]) -> String {
    hex::encode(Sha256::digest(line))
}

/// Where a chain breaks, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: line {line} {problem}")]
pub struct Broken {
    pub path: PathBuf,
    pub line: u64,
    pub problem: String,
}

/// What a walk of the whole file found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scan {
    pub lines: u64,
    /// Hash of the last line ([`GENESIS`] for an empty file).
    pub head: String,
    /// Per store id, the highest audit id appended for it.
    pub last_id: HashMap<String, u64>,
    /// Bytes of complete lines (an incomplete last line is not counted).
    pub complete_len: u64,
    /// Whether the file ends in a line without its newline (a write cut short).
    pub incomplete_tail: bool,
}

impl Scan {
    /// The hash of line `n` (1-based) is not kept for every line; this is for the end.
    pub fn empty() -> Scan {
        Scan {
            head: GENESIS.to_string(),
            ..Scan::default()
        }
    }
}

/// Walks `bytes` line by line, checking each line's number and `prev`. `hash_at`
/// is filled with the hash of line `want_hash_of` when the file has it.
fn scan_bytes(
    path: &Path,
    bytes: &[u8],
    want_hash_of: Option<u64>,
) -> Result<(Scan, Option<String>), Broken> {
    let mut scan = Scan::empty();
    let mut wanted = None;
    let mut offset = 0usize;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            scan.incomplete_tail = true;
            break;
        };
        let line = &rest[..end];
        let number = scan.lines + 1;
        let broken = |problem: String| Broken {
            path: path.to_path_buf(),
            line: number,
            problem,
        };
        let parsed: AuditLine = serde_json::from_slice(line)
            .map_err(|err| broken(format!("is not an audit line ({err})")))?;
        if parsed.prev != scan.head {
            return Err(broken(if number == 1 {
                "should start the chain but names a previous line: lines before it were removed"
                    .to_string()
            } else {
                format!(
                    "breaks the chain: it names the previous line's hash as {}…, but line {} hashes to {}…; line {} was changed, or lines between them were removed or inserted",
                    short(&parsed.prev),
                    number - 1,
                    short(&scan.head),
                    number - 1
                )
            }));
        }
        if parsed.n != number {
            return Err(broken(format!(
                "says it is line {}: lines were removed or inserted before it",
                parsed.n
            )));
        }
        scan.head = hash_line(line);
        scan.lines = number;
        if want_hash_of == Some(number) {
            wanted = Some(scan.head.clone());
        }
        let last = scan.last_id.entry(parsed.store.clone()).or_insert(0);
        *last = (*last).max(parsed.id);
        offset += end + 1;
        scan.complete_len = offset as u64;
    }
    Ok((scan, wanted))
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn read_all(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut bytes)?;
            Ok(bytes)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(bytes),
        Err(err) => Err(err),
    }
}

/// Why the log cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{0}")]
    Broken(#[from] Broken),
    #[error("the audit log {path} cannot be read or written: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The open file, appended to by the store's commits.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    lines: u64,
    head: String,
}

impl AuditLog {
    /// Opens (or creates) the log and checks its whole chain. A last line cut short
    /// by a crash (no newline) is removed: it was never durable, so its commit put
    /// the entry in the store, from which the caller appends it again.
    pub fn open(path: &Path) -> Result<(AuditLog, Scan), LogError> {
        let io = |source| LogError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes = read_all(path).map_err(io)?;
        let (scan, _) = scan_bytes(path, &bytes, None)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        if scan.incomplete_tail {
            tracing::warn!(
                path = %path.display(),
                line = scan.lines + 1,
                "the audit log ends in a line cut short by a crash; removing it (the store still has the entry)"
            );
            file.set_len(scan.complete_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok((
            AuditLog {
                path: path.to_path_buf(),
                file,
                lines: scan.lines,
                head: scan.head.clone(),
            },
            scan,
        ))
    }

    /// Writes go to `file` from now on (a test makes it read-only).
    #[cfg(test)]
    pub(crate) fn replace_file_for_test(&mut self, file: File) {
        self.file = file;
    }

    pub fn lines(&self) -> u64 {
        self.lines
    }

    pub fn head(&self) -> &str {
        &self.head
    }

    /// Appends the entries (committed in store `store` under `ids`) and syncs them
    /// to disk. On error nothing is counted; the caller must reopen the log (which
    /// removes a partly written line) before appending again.
    pub fn append(&mut self, store: &str, entries: &[(u64, AuditEntry)]) -> Result<(), LogError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut buffer = Vec::new();
        let mut lines = self.lines;
        let mut head = self.head.clone();
        for (id, entry) in entries {
            lines += 1;
            let line = AuditLine {
                n: lines,
                store: store.to_string(),
                id: *id,
                at: entry.at,
                actor: entry.actor.clone(),
                action: entry.action.clone(),
                detail: entry.detail.clone(),
                run_id: entry.run_id.clone(),
                prev: head,
            };
            let bytes = serde_json::to_vec(&line).expect("audit lines always encode as JSON");
            head = hash_line(&bytes);
            buffer.extend_from_slice(&bytes);
            buffer.push(b'\n');
        }
        let io = |source| LogError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&buffer).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.lines = lines;
        self.head = head;
        Ok(())
    }
}

/// The newest `n` lines of the log, oldest first (for `audit N` beyond the store's tail).
pub fn tail(path: &Path, n: usize) -> std::io::Result<Vec<AuditLine>> {
    let bytes = read_all(path)?;
    let mut lines: Vec<AuditLine> = bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .rev()
        .take(n)
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect();
    lines.reverse();
    Ok(lines)
}

/// What `lockstep audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The chain holds from the first line to the last; the record (when there is
    /// one) agrees.
    Intact { lines: u64, note: Option<String> },
    /// Where it breaks, and how.
    Broken(String),
}

/// What the store's record says the log held at its last commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub lines: u64,
    pub head: String,
}

/// Checks the chain of the file at `path` and, when given, that it still reaches
/// the line the store recorded last (the chain alone cannot show lines cut from
/// the end).
pub fn verify(path: &Path, expected: Option<&Expected>) -> Result<Verdict, std::io::Error> {
    let bytes = match File::open(path) {
        Ok(mut file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            bytes
        }
        Err(err) => return Err(err),
    };
    let want = expected.map(|e| e.lines).filter(|&n| n > 0);
    let (scan, hash_at) = match scan_bytes(path, &bytes, want) {
        Ok(found) => found,
        Err(broken) => return Ok(Verdict::Broken(broken.to_string())),
    };
    if scan.incomplete_tail {
        return Ok(Verdict::Broken(format!(
            "{}: line {} is incomplete (a write was cut short; lockstep removes it at its next start and writes the entry again from the store)",
            path.display(),
            scan.lines + 1
        )));
    }
    let note = match expected {
        None => Some("no store record to compare the end with".to_string()),
        Some(expected) if expected.lines > scan.lines => {
            return Ok(Verdict::Broken(format!(
                "{}: the log ends at line {}, but the store recorded {} lines: the last {} were removed",
                path.display(),
                scan.lines,
                expected.lines,
                expected.lines - scan.lines
            )))
        }
        Some(expected) if expected.lines > 0 && hash_at.as_deref() != Some(expected.head.as_str()) => {
            return Ok(Verdict::Broken(format!(
                "{}: line {} is not the line the store recorded there: the log was rewritten from that line on",
                path.display(),
                expected.lines
            )))
        }
        Some(_) => None,
    };
    Ok(Verdict::Intact {
        lines: scan.lines,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail: &str) -> AuditEntry {
        AuditEntry {
            at: "2026-11-25T09:00:00Z".parse().unwrap(),
            actor: "U0PM".into(),
            action: "diff".into(),
            detail: detail.into(),
            run_id: None,
        }
    }

    fn written(n: usize) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.audit.jsonl");
        let (mut log, _) = AuditLog::open(&path).unwrap();
        for i in 0..n {
            log.append("store-a", &[(i as u64 + 1, entry(&format!("e{i}")))])
                .unwrap();
        }
        (dir, path)
    }

    fn lines_of(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn an_untouched_log_verifies_and_reopens_where_it_ended() {
        let (_dir, path) = written(4);
        assert_eq!(
            verify(&path, None).unwrap(),
            Verdict::Intact {
                lines: 4,
                note: Some("no store record to compare the end with".into())
            }
        );
        let (log, scan) = AuditLog::open(&path).unwrap();
        assert_eq!(log.lines(), 4);
        assert_eq!(scan.last_id["store-a"], 4);
        let first: AuditLine = serde_json::from_str(&lines_of(&path)[0]).unwrap();
        assert_eq!(first.prev, GENESIS);
    }

    #[test]
    fn an_edited_line_is_named_by_the_line_after_it() {
        let (_dir, path) = written(4);
        let mut lines = lines_of(&path);
        lines[1] = lines[1].replace("\"detail\":\"e1\"", "\"detail\":\"e9\"");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let Verdict::Broken(text) = verify(&path, None).unwrap() else {
            panic!("tampering shows")
        };
        assert!(text.contains("line 3 breaks the chain"), "{text}");
        assert!(text.contains("line 2 was changed"), "{text}");
        assert!(
            AuditLog::open(&path).is_err(),
            "a broken log is not appended to"
        );
    }

    #[test]
    fn removed_lines_show_in_the_middle_at_the_start_and_at_the_end() {
        let (_dir, path) = written(4);
        let lines = lines_of(&path);
        std::fs::write(&path, format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3])).unwrap();
        let Verdict::Broken(text) = verify(&path, None).unwrap() else {
            panic!()
        };
        assert!(text.contains("line 2 breaks the chain"), "{text}");

        std::fs::write(&path, format!("{}\n{}\n", lines[2], lines[3])).unwrap();
        let Verdict::Broken(text) = verify(&path, None).unwrap() else {
            panic!()
        };
        assert!(text.contains("line 1 should start the chain"), "{text}");

        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[1])).unwrap();
        let expected = Expected {
            lines: 4,
            head: hash_line(lines[3].as_bytes()),
        };
        let Verdict::Broken(text) = verify(&path, Some(&expected)).unwrap() else {
            panic!()
        };
        assert!(text.contains("the last 2 were removed"), "{text}");
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_removed_on_open() {
        let (_dir, path) = written(2);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"n\":3,\"store\":\"sto");
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            matches!(verify(&path, None).unwrap(), Verdict::Broken(text) if text.contains("line 3 is incomplete"))
        );
        let (mut log, _) = AuditLog::open(&path).unwrap();
        assert_eq!(log.lines(), 2);
        log.append("store-a", &[(3, entry("again"))]).unwrap();
        assert!(matches!(
            verify(&path, None).unwrap(),
            Verdict::Intact { lines: 3, .. }
        ));
    }
}
