//! Durable state in sled: runs, the outbox of effects still to perform, the keys of
//! events already handled (`seen`), environment locks, the audit log, the Slack
//! messages already posted (so a re-run effect edits instead of posting twice), and
//! the once-effects that were started (`started`: a restart that finds one reports
//! it interrupted instead of running it blindly again).
//!
//! The one rule: a state change, the effects it causes, its audit entries and the
//! dedup key of the event that caused it are written in ONE sled transaction and
//! flushed to disk before any effect runs ([`Store::commit`]). A crash at any moment
//! therefore leaves either nothing or everything, and the outbox replays what was not
//! yet done. This module knows how to keep data, not what the workflow means.

mod codec;

use crate::ids::RunId;
use crate::workflow::effect::Effect;
use crate::workflow::run::{Run, StoredRun, RUN_FORMAT};
use chrono::{DateTime, Utc};
use codec::{decode, encode, Corrupt};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;
use std::path::{Path, PathBuf};

/// Bumped when the on-disk layout changes incompatibly.
const SCHEMA_VERSION: u64 = 1;

/// The trees, by name. Their names are part of the on-disk format.
const TREES: [&str; 7] = [
    "runs", "outbox", "seen", "locks", "audit", "posted", "started",
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store at {path} is in use by another lockstep process; stop it first, or point [store].path elsewhere")]
    InUse { path: PathBuf },
    #[error("the store at {path} cannot be opened: {detail}. Nothing was changed. Restore the folder from a backup, or move it aside to start empty (runs in flight would be forgotten)")]
    Unreadable { path: PathBuf, detail: String },
    #[error("the store at {path} is damaged: {corrupt}. Nothing was changed. Restore the folder from a backup, or move it aside to start empty (runs in flight would be forgotten)")]
    Corrupt { path: PathBuf, corrupt: Corrupt },
    #[error("the store at {path} was written by a newer lockstep (schema {found}, this build knows {SCHEMA_VERSION}); run the newer version")]
    TooNew { path: PathBuf, found: u64 },
    #[error("the store at {path} holds run {run} in format {found}, written by a newer lockstep (this build knows format {RUN_FORMAT}); run the newer version, or it would be lost")]
    RunTooNew {
        path: PathBuf,
        run: String,
        found: u32,
    },
    #[error("store I/O failed: {0}")]
    Io(#[from] sled::Error),
    #[error("store data is damaged: {0}")]
    Data(#[from] Corrupt),
}

/// One line of the audit log: who did what, when, in which run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// A Slack user id, or `lockstep` for the bot's own decisions.
    pub actor: String,
    pub action: String,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
}

/// Who holds an environment, since when and why. A lock lives until its run ends
/// (or an admin releases it); `expires_at` is renewed while the run moves, so a lock
/// whose holder vanished without a trace stops blocking others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvLock {
    pub run_id: RunId,
    pub holder: String,
    pub since: DateTime<Utc>,
    #[serde(default)]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A stored effect waiting to be performed, with its position in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingEffect {
    pub id: u64,
    pub effect: Effect,
}

/// A Slack message the bot posted, remembered by the effect key that posted it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostedMessage {
    pub channel: String,
    pub ts: String,
}

/// Everything that must become durable together. Build it, then [`Store::commit`].
#[derive(Debug, Default)]
pub struct Batch {
    /// The event that caused this change; a batch whose key was seen is dropped whole.
    pub dedup_key: Option<String>,
    /// Runs written (`Some`) or removed (`None`).
    pub runs: Vec<(RunId, Option<Run>)>,
    pub effects: Vec<Effect>,
    pub audit: Vec<AuditEntry>,
    pub lock_changes: Vec<(String, Option<EnvLock>)>,
    /// The outbox entry whose outcome this batch records: removed with it.
    pub completes: Option<u64>,
    /// Outbox entries to drop (a run's queued work after it failed or was cancelled).
    pub drops: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// The dedup key was already recorded: nothing was written.
    AlreadySeen,
}

#[derive(Clone)]
pub struct Store {
    path: PathBuf,
    db: sled::Db,
    runs: sled::Tree,
    outbox: sled::Tree,
    seen: sled::Tree,
    locks: sled::Tree,
    audit: sled::Tree,
    posted: sled::Tree,
    started: sled::Tree,
}

impl Store {
    /// Opens (or creates) the store and checks that every record in it can be read,
    /// so damage is found at start-up with a clear message, not mid-promotion.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .open()
            .map_err(|err| classify_open_error(path, err))?;
        let tree = |name: &str| {
            db.open_tree(name)
                .map_err(|err| classify_open_error(path, err))
        };
        let store = Store {
            path: path.to_path_buf(),
            runs: tree(TREES[0])?,
            outbox: tree(TREES[1])?,
            seen: tree(TREES[2])?,
            locks: tree(TREES[3])?,
            audit: tree(TREES[4])?,
            posted: tree(TREES[5])?,
            started: tree(TREES[6])?,
            db,
        };
        store.check_schema()?;
        store.verify_all_records()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        match self.db.get("schema_version")? {
            None => {
                self.db
                    .insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                self.db.flush()?;
                Ok(())
            }
            Some(bytes) => {
                let found = <[u8; 8]>::try_from(bytes.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt {
                        path: self.path.clone(),
                        corrupt: Corrupt::new("meta", "schema_version", "not an 8-byte number"),
                    })?;
                if found > SCHEMA_VERSION {
                    Err(StoreError::TooNew {
                        path: self.path.clone(),
                        found,
                    })
                } else {
                    Ok(())
                }
            }
        }
    }

    fn verify_all_records(&self) -> Result<(), StoreError> {
        let corrupt = |corrupt| StoreError::Corrupt {
            path: self.path.clone(),
            corrupt,
        };
        self.verify_runs()?;
        verify_tree::<Effect>(&self.outbox, "outbox").map_err(corrupt)?;
        verify_tree::<DateTime<Utc>>(&self.seen, "seen").map_err(corrupt)?;
        verify_tree::<EnvLock>(&self.locks, "locks").map_err(corrupt)?;
        verify_tree::<AuditEntry>(&self.audit, "audit").map_err(corrupt)?;
        verify_tree::<PostedMessage>(&self.posted, "posted").map_err(corrupt)?;
        verify_tree::<DateTime<Utc>>(&self.started, "started").map_err(corrupt)?;
        Ok(())
    }

    /// Every run must be of a format this build knows, and readable in it.
    fn verify_runs(&self) -> Result<(), StoreError> {
        for item in self.runs.iter() {
            let (key, value) = item?;
            let id = String::from_utf8_lossy(&key).into_owned();
            let format = serde_json::from_slice::<RunFormat>(&value)
                .map(|f| f.format)
                .unwrap_or(0);
            if format > RUN_FORMAT {
                return Err(StoreError::RunTooNew {
                    path: self.path.clone(),
                    run: id,
                    found: format,
                });
            }
            decode::<StoredRun>("runs", &key, &value).map_err(|corrupt| StoreError::Corrupt {
                path: self.path.clone(),
                corrupt,
            })?;
        }
        Ok(())
    }

    /// Writes the batch atomically, then flushes it to disk. Returns only once the
    /// data is durable; only then may its effects run.
    pub async fn commit(
        &self,
        batch: Batch,
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome, StoreError> {
        let outcome = self.commit_in_memory(&batch, now)?;
        if outcome == CommitOutcome::Committed {
            self.db.flush_async().await?;
        }
        Ok(outcome)
    }

    fn commit_in_memory(
        &self,
        batch: &Batch,
        now: DateTime<Utc>,
    ) -> Result<CommitOutcome, StoreError> {
        // Ids are taken before the transaction: sled may re-run the closure on conflict,
        // and ids must not change between attempts. Gaps in the sequence are harmless.
        let effect_ids = (0..batch.effects.len())
            .map(|_| self.db.generate_id())
            .collect::<Result<Vec<_>, _>>()?;
        let audit_ids = (0..batch.audit.len())
            .map(|_| self.db.generate_id())
            .collect::<Result<Vec<_>, _>>()?;
        let seen_at = encode(&now);

        let runs_encoded: Vec<(&RunId, Option<Vec<u8>>)> = batch
            .runs
            .iter()
            .map(|(id, run)| {
                (
                    id,
                    run.as_ref().map(|run| encode(&StoredRun::new(run.clone()))),
                )
            })
            .collect();
        let result = (
            &self.seen,
            &self.runs,
            &self.outbox,
            &self.audit,
            &self.locks,
            &self.started,
        )
            .transaction(|(seen, runs, outbox, audit, locks, started)| {
                if let Some(key) = &batch.dedup_key {
                    if seen.get(key.as_bytes())?.is_some() {
                        return Ok(CommitOutcome::AlreadySeen);
                    }
                    seen.insert(key.as_bytes(), seen_at.clone())?;
                }
                for (run_id, state) in &runs_encoded {
                    match state {
                        Some(state) => runs.insert(run_id.0.as_bytes(), state.clone())?,
                        None => runs.remove(run_id.0.as_bytes())?,
                    };
                }
                for id in batch.completes.iter().chain(&batch.drops) {
                    outbox.remove(&id.to_be_bytes())?;
                    started.remove(&id.to_be_bytes())?;
                }
                for (id, effect) in effect_ids.iter().zip(&batch.effects) {
                    outbox.insert(&id.to_be_bytes(), encode(effect))?;
                }
                for (id, entry) in audit_ids.iter().zip(&batch.audit) {
                    audit.insert(&id.to_be_bytes(), encode(entry))?;
                }
                for (env, lock) in &batch.lock_changes {
                    match lock {
                        Some(lock) => locks.insert(env.as_bytes(), encode(lock))?,
                        None => locks.remove(env.as_bytes())?,
                    };
                }
                Ok::<_, ConflictableTransactionError<()>>(CommitOutcome::Committed)
            });
        match result {
            Ok(outcome) => Ok(outcome),
            Err(TransactionError::Storage(err)) => Err(StoreError::Io(err)),
            Err(TransactionError::Abort(())) => unreachable!("the transaction never aborts"),
        }
    }

    /// Whether an event with this key was already handled.
    pub fn is_seen(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.seen.contains_key(key.as_bytes())?)
    }

    /// Effects written but not yet performed, oldest first.
    pub fn pending_effects(&self) -> Result<Vec<PendingEffect>, StoreError> {
        self.outbox
            .iter()
            .map(|item| {
                let (key, value) = item?;
                Ok(PendingEffect {
                    id: u64_key(&key, "outbox")?,
                    effect: decode("outbox", &key, &value)?,
                })
            })
            .collect()
    }

    /// Notes, durably, that a once-effect is about to start (see [`Store::was_started`]).
    pub async fn mark_started(&self, id: u64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.started.insert(id.to_be_bytes(), encode(&at))?;
        self.db.flush_async().await?;
        Ok(())
    }

    /// Whether a once-effect was started by an earlier process (its end is unknown).
    pub fn was_started(&self, id: u64) -> Result<bool, StoreError> {
        Ok(self.started.contains_key(id.to_be_bytes())?)
    }

    /// Marks an effect done, remembering the message it posted (if any) under its key,
    /// in one transaction so a crash cannot leave the post done but unrecorded twice.
    pub async fn complete_effect(
        &self,
        id: u64,
        posted: Option<(&str, PostedMessage)>,
    ) -> Result<(), StoreError> {
        let posted = posted.map(|(key, message)| (key.to_string(), encode(&message)));
        let result = (&self.outbox, &self.posted, &self.started).transaction(
            |(outbox, posted_tree, started)| {
                outbox.remove(&id.to_be_bytes())?;
                started.remove(&id.to_be_bytes())?;
                if let Some((key, message)) = &posted {
                    posted_tree.insert(key.as_bytes(), message.clone())?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            },
        );
        match result {
            Ok(()) => {}
            Err(TransactionError::Storage(err)) => return Err(StoreError::Io(err)),
            Err(TransactionError::Abort(())) => unreachable!("the transaction never aborts"),
        }
        self.db.flush_async().await?;
        Ok(())
    }

    /// The message an earlier effect posted under this key, if any.
    pub fn posted(&self, key: &str) -> Result<Option<PostedMessage>, StoreError> {
        self.posted
            .get(key.as_bytes())?
            .map(|value| decode("posted", key.as_bytes(), &value).map_err(StoreError::from))
            .transpose()
    }

    /// The newest `n` audit entries, oldest first.
    pub fn audit_tail(&self, n: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut entries = self
            .audit
            .iter()
            .rev()
            .take(n)
            .map(|item| {
                let (key, value) = item?;
                Ok(decode("audit", &key, &value)?)
            })
            .collect::<Result<Vec<AuditEntry>, StoreError>>()?;
        entries.reverse();
        Ok(entries)
    }

    pub fn audit_len(&self) -> usize {
        self.audit.len()
    }

    /// One run, if the store has it.
    pub fn run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.runs
            .get(id.0.as_bytes())?
            .map(|value| {
                decode::<StoredRun>("runs", id.0.as_bytes(), &value)
                    .map(|stored| stored.run)
                    .map_err(StoreError::from)
            })
            .transpose()
    }

    /// Every run in the store: those in flight, and the finished ones kept as history.
    pub fn runs(&self) -> Result<Vec<Run>, StoreError> {
        self.runs
            .iter()
            .map(|item| {
                let (key, value) = item?;
                Ok(decode::<StoredRun>("runs", &key, &value)?.run)
            })
            .collect()
    }

    /// Environment locks currently held, by environment name.
    pub fn locks(&self) -> Result<Vec<(String, EnvLock)>, StoreError> {
        self.locks
            .iter()
            .map(|item| {
                let (key, value) = item?;
                let env = String::from_utf8_lossy(&key).into_owned();
                Ok((env, decode("locks", &key, &value)?))
            })
            .collect()
    }
}

/// Just the format of a stored run, read before the run itself.
#[derive(Deserialize)]
struct RunFormat {
    format: u32,
}

fn u64_key(key: &[u8], tree: &'static str) -> Result<u64, Corrupt> {
    <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| {
            Corrupt::new(
                tree,
                &String::from_utf8_lossy(key),
                "key is not an 8-byte sequence number",
            )
        })
}

fn verify_tree<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
) -> Result<(), Corrupt> {
    for item in tree.iter() {
        let (key, value) = item.map_err(|err| Corrupt::new(name, "?", &err.to_string()))?;
        decode::<T>(name, &key, &value)?;
    }
    Ok(())
}

fn classify_open_error(path: &Path, err: sled::Error) -> StoreError {
    let text = err.to_string();
    let in_use = matches!(&err, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock)
        || text.contains("could not acquire lock");
    if in_use {
        StoreError::InUse {
            path: path.to_path_buf(),
        }
    } else {
        StoreError::Unreadable {
            path: path.to_path_buf(),
            detail: text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::effect::{Message, Reply};

    fn reply_effect(text: &str) -> Effect {
        Effect::Respond(Reply {
            response_url: "http://127.0.0.1:1/response/1".into(),
            channel: "C0DEPLOY".into(),
            user: "U0PM".into(),
            message: Message::text(text),
            replace_original: false,
        })
    }

    fn audit(action: &str) -> AuditEntry {
        AuditEntry {
            at: Utc::now(),
            actor: "U0PM".into(),
            action: action.into(),
            detail: String::new(),
            run_id: None,
        }
    }

    #[tokio::test]
    async fn a_batch_is_written_whole_and_a_seen_key_drops_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let batch = || Batch {
            dedup_key: Some("trigger:1".into()),
            effects: vec![reply_effect("hello")],
            audit: vec![audit("help")],
            ..Batch::default()
        };
        assert_eq!(
            store.commit(batch(), Utc::now()).await.unwrap(),
            CommitOutcome::Committed
        );
        assert_eq!(
            store.commit(batch(), Utc::now()).await.unwrap(),
            CommitOutcome::AlreadySeen
        );
        assert_eq!(store.pending_effects().unwrap().len(), 1);
        assert_eq!(store.audit_tail(10).unwrap().len(), 1);
        assert!(store.is_seen("trigger:1").unwrap());
    }

    #[tokio::test]
    async fn completing_an_effect_removes_it_and_remembers_the_post() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let batch = Batch {
            effects: vec![reply_effect("a"), reply_effect("b")],
            ..Batch::default()
        };
        store.commit(batch, Utc::now()).await.unwrap();
        let pending = store.pending_effects().unwrap();
        assert_eq!(pending[0].effect, reply_effect("a"), "oldest first");
        let posted = PostedMessage {
            channel: "C0DEPLOY".into(),
            ts: "1.000100".into(),
        };
        store
            .complete_effect(pending[0].id, Some(("run/1/post", posted.clone())))
            .await
            .unwrap();
        assert_eq!(store.pending_effects().unwrap().len(), 1);
        assert_eq!(store.posted("run/1/post").unwrap(), Some(posted));
    }

    #[tokio::test]
    async fn audit_tail_returns_the_newest_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for n in 0..5 {
            let batch = Batch {
                audit: vec![audit(&format!("a{n}"))],
                ..Batch::default()
            };
            store.commit(batch, Utc::now()).await.unwrap();
        }
        let actions: Vec<_> = store
            .audit_tail(3)
            .unwrap()
            .into_iter()
            .map(|entry| entry.action)
            .collect();
        assert_eq!(actions, ["a2", "a3", "a4"]);
    }

    #[test]
    fn a_second_process_is_told_the_store_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        // sled's file lock is per process, so a second open in the same process
        // shares the instance; the lock error is exercised through a child process
        // in tests/it. Here: the message names the path and the remedy.
        let err = StoreError::InUse {
            path: dir.path().to_path_buf(),
        };
        assert!(err
            .to_string()
            .contains("in use by another lockstep process"));
    }

    #[tokio::test]
    async fn a_damaged_record_stops_start_up_with_its_tree_and_key() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .audit
                .insert(7u64.to_be_bytes(), b"{not json".to_vec())
                .unwrap();
            store.db.flush().unwrap();
        }
        let err = Store::open(dir.path()).err().expect("damage is reported");
        let text = err.to_string();
        assert!(text.contains("damaged"), "{text}");
        assert!(text.contains("audit"), "{text}");
        assert!(text.contains("move it aside"), "{text}");
    }
}
