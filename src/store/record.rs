//! The store's record of itself, kept outside sled in `<store>/lockstep.record`:
//! which store this is, how many commits it made, and how far the audit log beside
//! it reached. sled keeps the same generation inside its data, in the same
//! transaction as each commit; at start the two are compared, so a `db` file that
//! was deleted, truncated or damaged (sled then opens with less, or nothing, and
//! says no word) is named instead of silently losing runs and audit entries.
//!
//! The record is written after each commit is durable in sled, so it is never
//! ahead of sled's data; after a crash it may be behind, which is fine. It has two
//! slots written in turn, each with a checksum: a write torn by a crash leaves the
//! other, older slot readable. No fsync is needed for the same reason.

use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "lockstep.record";
const SLOT: usize = 256;
const MAGIC: &str = "LSREC1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Random, made when the store was created; sled keeps it too.
    pub store_id: String,
    /// Commits made so far.
    pub generation: u64,
    /// Lines in the audit log after the last commit, and the hash of the last one.
    pub audit_lines: u64,
    pub audit_head: String,
}

pub fn path_in(store: &Path) -> PathBuf {
    store.join(FILE_NAME)
}

impl Record {
    fn encode(&self) -> Vec<u8> {
        let body = format!(
            "{MAGIC} {} {} {} {}",
            self.store_id, self.generation, self.audit_lines, self.audit_head
        );
        let check = &hex::encode(Sha256::digest(body.as_bytes()))[..16];
        let mut bytes = format!("{body} {check}\n").into_bytes();
        bytes.resize(SLOT, b' ');
        bytes
    }

    fn decode(slot: &[u8]) -> Option<Record> {
        let text = std::str::from_utf8(slot).ok()?;
        let text = text.split('\n').next()?;
        let (body, check) = text.rsplit_once(' ')?;
        if hex::encode(Sha256::digest(body.as_bytes()))[..16] != *check {
            return None;
        }
        let mut parts = body.split(' ');
        if parts.next()? != MAGIC {
            return None;
        }
        let record = Record {
            store_id: parts.next()?.to_string(),
            generation: parts.next()?.parse().ok()?,
            audit_lines: parts.next()?.parse().ok()?,
            audit_head: parts.next()?.to_string(),
        };
        parts.next().is_none().then_some(record)
    }
}

/// What reading the record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Missing,
    /// The file is there but neither slot can be read.
    Unreadable,
    Found(Record),
}

pub fn read(store: &Path) -> std::io::Result<Reading> {
    let mut bytes = Vec::new();
    match File::open(path_in(store)) {
        Ok(mut file) => {
            file.read_to_end(&mut bytes)?;
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Reading::Missing),
        Err(err) => return Err(err),
    }
    let best = bytes
        .chunks(SLOT)
        .filter_map(Record::decode)
        .max_by_key(|record| (record.generation, record.audit_lines));
    Ok(best.map(Reading::Found).unwrap_or(Reading::Unreadable))
}

/// The record file, open for the commits that follow.
pub struct RecordFile {
    file: File,
}

impl RecordFile {
    pub fn open(store: &Path) -> std::io::Result<RecordFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path_in(store))?;
        Ok(RecordFile { file })
    }

    /// Writes the slot this generation owns; the other keeps the previous record.
    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        let offset = (record.generation % 2) * SLOT as u64;
        write_at(&self.file, &record.encode(), offset)
    }

    /// Writes both slots and syncs: for a new store, and after a repair.
    pub fn reset(&mut self, record: &Record) -> std::io::Result<()> {
        let bytes = record.encode();
        write_at(&self.file, &bytes, 0)?;
        write_at(&self.file, &bytes, SLOT as u64)?;
        self.file.sync_all()
    }
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(bytes, offset)
}

#[cfg(not(unix))]
fn write_at(mut file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(generation: u64) -> Record {
        Record {
            store_id: "0123abcd".into(),
            generation,
            audit_lines: generation * 2,
            audit_head: "ab".repeat(32),
        }
    }

    #[test]
    fn the_newest_slot_wins_and_a_torn_one_falls_back_to_the_other() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), Reading::Missing);
        let mut file = RecordFile::open(dir.path()).unwrap();
        file.reset(&record(0)).unwrap();
        file.write(&record(1)).unwrap();
        file.write(&record(2)).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Reading::Found(record(2)));

        // Tear the newest slot (generation 2 lives in slot 0).
        let path = path_in(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Reading::Found(record(1)));

        std::fs::write(&path, b"garbage").unwrap();
        assert_eq!(read(dir.path()).unwrap(), Reading::Unreadable);
    }
}
